"""TLS (RFC 5425) and RELP, between two sluiceds and with a private rsyslogd in each direction.

Every test makes a throwaway CA and certificates with the `openssl` command in its tmp dir,
sends numbered messages (seq=NNNNNN) and checks that every number arrived: exactly once over
TLS, at least once over RELP (a resend after a broken session may repeat a message, never
lose one). Refusals (no client certificate, wrong server name, a name not allowed, the wrong
protocol on a port) are checked by what each side logs and counts, and by nothing arriving.

rsyslog runs privately: its own config in the tmp dir, port 0 with listenPortFileName where the
module has it (imptcp, imtcp), else a free port found by binding port 0 and releasing it
(imrelp). The tests that need rsyslog's TLS driver (lmnsd_ossl) or its RELP modules skip when
those are not installed; the ones for a module this build lacks check that its configuration
is refused with the reason.

OpenSSL and librelp are in loadable modules (sluice_tls.so, sluice_relp.so): the last tests
check that a daemon maps them only when its configuration uses them, that it then idles small,
and that a module which cannot be loaded is named with every path tried and dlopen's reason.
"""
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

import rsyslog_ref
from daemon import BUILD, Sluiced, tcp_send, wait_for

N = 2000


def version():
    r = subprocess.run([str(BUILD / "sluiced"), "--version"], capture_output=True, text=True)
    return r.stdout


HAVE_TLS = "openssl=yes" in version()
HAVE_RELP = "relp=yes" in version()
needs_tls = pytest.mark.skipif(not HAVE_TLS, reason="built without OpenSSL")
needs_relp = pytest.mark.skipif(not HAVE_RELP, reason="built without librelp")

RSYSLOG_MODDIR = pathlib.Path("/usr/lib/x86_64-linux-gnu/rsyslog")


def rsyslog_has(module):
    exe = rsyslog_ref.rsyslogd_path()
    if not exe:
        return False
    dirs = [RSYSLOG_MODDIR, pathlib.Path("/usr/lib/rsyslog")]
    return any((d / f"{module}.so").exists() for d in dirs)


# ---- Certificates ---------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_cert(pki, name, cn, san, serial):
    """name.key and name.pem for cn (subjectAltName san), signed by the CA in pki."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=pki)
    (pki / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem",
            "-extfile", f"{name}.ext", cwd=pki)


@pytest.fixture
def pki(tmp_path):
    """ca.pem; server (localhost, 127.0.0.1); client (client1.example); rogue (self-signed)."""
    d = tmp_path / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=sluice test CA",
            cwd=d)
    make_cert(d, "server", "localhost", "DNS:localhost,IP:127.0.0.1", 1001)
    make_cert(d, "client", "client1", "DNS:client1.example", 1002)
    return d


# ---- Messages -------------------------------------------------------------------------------

def numbered(n, start=0, tag="app"):
    return [b"<13>1 2026-01-01T00:00:00Z host %s - - - seq=%06d" % (tag.encode(), i)
            for i in range(start, start + n)]


def seqs(path):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [int(m) for m in re.findall(r"seq=(\d{6})", text)]


def wait_all(path, n, timeout=60.0, exact=True):
    """Waits until every number below n is in path; returns the numbers seen (in order)."""
    def done():
        return set(seqs(path)) >= set(range(n))
    wait_for(done, timeout, what=f"seq 0..{n - 1} in {path} (have {len(set(seqs(path)))})")
    got = seqs(path)
    if exact:
        assert sorted(got) == list(range(n)), "a message arrived twice"
    return got


def log_has(d, text, timeout=20.0):
    try:
        wait_for(lambda: text in d.log_text(), timeout, what=f"log line '{text}'")
    except AssertionError as e:
        raise AssertionError(f"{e}; the log:\n{d.log_text()}") from None


def unread_bytes(port):
    """Bytes received and not yet read on the established TCP connections to local port."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
                total += int(f[4].split(":")[1], 16)
    return total


def all_threads_stopped(proc):
    """Whether every thread of proc is stopped (state T). SIGSTOP is not instant: each thread
    stops when it next leaves the kernel, so one in the middle of a recv, or waiting for a CPU,
    still finishes its read after kill() has returned."""
    try:
        for task in pathlib.Path(f"/proc/{proc.pid}/task").iterdir():
            if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                return False
    except FileNotFoundError:  # a thread ended while we looked
        return False
    return True


def freeze_with_unread_frames(rx, port, out, timeout=60.0):
    """Freezes the receiver rx (SIGSTOP) at a moment when frames it has not read wait in its
    socket, so that the sender is cut off in the middle of a batch.

    A single freeze cannot promise that: the sender has at most one batch in flight (a batch
    returns when all of it is answered) and librelp reads 32 KiB at once, so near the end of a
    batch the receiver can have read everything the sender will send until its answers come.
    Frozen then, it leaves nothing unread and the sender waits with nothing more to send (seen
    under ASan: the receiver had read the 187 frames left of a batch resent on a new session,
    answered 180 and was frozen writing the rest). In that case the receiver is let go until it
    has written more, and frozen again."""
    deadline = time.monotonic() + timeout
    while True:
        rx.proc.send_signal(signal.SIGSTOP)
        # Bytes seen unread before every thread has stopped may still be read (seen under
        # ASan: 268 bytes unread, then read and answered, and the batch was complete).
        wait_for(lambda: all_threads_stopped(rx.proc), what="the receiver stopped")
        # A sender with more to send writes it within milliseconds of the last answer.
        try:
            wait_for(lambda: unread_bytes(port) > 0, timeout=1.0, what="frames not read")
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no freeze in {timeout}s left frames unread") from None
        have = len(set(seqs(out)))
        rx.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: len(set(seqs(out))) > have, what="the receiver writing again")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- sluiced configurations -----------------------------------------------------------------

def tls_receiver(pki, tls_extra=""):
    return f"""
inputs:
  - name: tlsin
    type: tls
    listen: "127.0.0.1:0"
    port_file: "{{dir}}/tlsin.port"
    tls: {{cert_file: "{pki}/server.pem", key_file: "{pki}/server.key", ca_file: "{pki}/ca.pem"
          {tls_extra}}}
actions:
  - {{name: out, type: file, path: "{{dir}}/out.log", template: "${{msg}}\\n"}}
"""


def forwarder(protocol, port, extra="", tls=""):
    """A sluiced taking numbered lines on tcp and forwarding them with protocol to port."""
    tls_key = f"\n    tls: {{{tls}}}" if tls else ""
    return f"""
shutdown_timeout: 1s
inputs:
  - {{name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{{dir}}/in.port"}}
actions:
  - name: fwd
    type: forward
    target: "127.0.0.1:{port}"
    protocol: {protocol}
    connect_timeout: 2s{tls_key}
    queue: {{retry_min: 50ms, retry_max: 500ms}}
    {extra}
"""


# ---- TLS between two sluiceds ---------------------------------------------------------------

@needs_tls
def test_tls_sluice_to_sluice(tmp_path, pki):
    with Sluiced(tmp_path / "rx", tls_receiver(pki)) as rx:
        port = rx.port("tlsin")
        with Sluiced(tmp_path / "tx", forwarder("tls", port, tls=f'ca_file: "{pki}/ca.pem"')) as tx:
            tcp_send(tx.port("in"), numbered(N))
            wait_all(rx.dir / "out.log", N)
            tx.wait_delivered("fwd", N)
            a = tx.action("fwd")
            assert a["enqueued"] == a["delivered"] == N and a["failed"] == 0
        i = rx.input("tlsin")
        assert i["received"] == N and i["handshake_failed"] == 0 and i["wrong_protocol"] == 0


@needs_tls
def test_tls_mutual_auth_with_allowed_peer(tmp_path, pki):
    rx_conf = tls_receiver(pki, ", client_auth: require, allowed_peers: [other.example, client1.example]")
    with Sluiced(tmp_path / "rx", rx_conf) as rx:
        tls = (f'ca_file: "{pki}/ca.pem", cert_file: "{pki}/client.pem", '
               f'key_file: "{pki}/client.key", server_name: localhost')
        with Sluiced(tmp_path / "tx", forwarder("tls", rx.port("tlsin"), tls=tls)) as tx:
            tcp_send(tx.port("in"), numbered(N))
            wait_all(rx.dir / "out.log", N)
            tx.wait_delivered("fwd", N)
        assert rx.input("tlsin")["handshake_failed"] == 0


def refused(tx, rx, n, tx_log, rx_log):
    """Checks that the sender is refused (tx_log), the receiver says why (rx_log), and that the
    messages stay queued at the sender: none delivered, none lost."""
    tcp_send(tx.port("in"), numbered(n))
    log_has(tx, tx_log)
    log_has(rx, rx_log)
    wait_for(lambda: rx.input("tlsin")["handshake_failed"] >= 1, what="handshake_failed counted")
    wait_for(lambda: tx.action("fwd")["suspended"], what="forward action suspended")
    a = tx.action("fwd")
    assert a["delivered"] == 0 and a["failed"] == 0 and a["queued"] == n
    assert rx.input("tlsin")["received"] == 0
    assert seqs(rx.dir / "out.log") == []


@needs_tls
def test_tls_mutual_auth_refused_without_client_cert(tmp_path, pki):
    with Sluiced(tmp_path / "rx", tls_receiver(pki, ", client_auth: require")) as rx:
        tls = f'ca_file: "{pki}/ca.pem"'
        with Sluiced(tmp_path / "tx", forwarder("tls", rx.port("tlsin"), tls=tls)) as tx:
            refused(tx, rx, 10, "the server refused the TLS session",
                    "peer did not return a certificate")
            assert "certificate required" in tx.log_text()


@needs_tls
def test_tls_peer_name_not_allowed(tmp_path, pki):
    with Sluiced(tmp_path / "rx", tls_receiver(
            pki, ", client_auth: require, allowed_peers: [other.example]")) as rx:
        tls = (f'ca_file: "{pki}/ca.pem", cert_file: "{pki}/client.pem", '
               f'key_file: "{pki}/client.key"')
        with Sluiced(tmp_path / "tx", forwarder("tls", rx.port("tlsin"), tls=tls)) as tx:
            refused(tx, rx, 10, "the server refused the TLS session",
                    "(/CN=client1) carries none of the allowed peer names")


@needs_tls
def test_tls_hostname_mismatch_refused(tmp_path, pki):
    with Sluiced(tmp_path / "rx", tls_receiver(pki)) as rx:
        tls = f'ca_file: "{pki}/ca.pem", server_name: logs.example.org'
        with Sluiced(tmp_path / "tx", forwarder("tls", rx.port("tlsin"), tls=tls)) as tx:
            refused(tx, rx, 10, "certificate verify failed: hostname mismatch",
                    "TLS handshake with 127.0.0.1 failed")


@needs_tls
def test_tls_untrusted_server_refused(tmp_path, pki):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=other",
            cwd=pki)
    with Sluiced(tmp_path / "rx", tls_receiver(pki)) as rx:
        tls = f'ca_file: "{pki}/other-ca.pem"'
        with Sluiced(tmp_path / "tx", forwarder("tls", rx.port("tlsin"), tls=tls)) as tx:
            refused(tx, rx, 10, "TLS handshake failed: certificate verify failed",
                    "failed: tlsv1 alert unknown ca")


@needs_tls
def test_plain_client_on_tls_port(tmp_path, pki):
    with Sluiced(tmp_path, tls_receiver(pki)) as d:
        tcp_send(d.port("tlsin"), [b"<13>Nov 22 04:56:13 host app: plain text to a TLS port"])
        log_has(d, "input tlsin: a plain TCP client (not TLS) connected to a TLS port from 127.0.0.1")
        wait_for(lambda: d.input("tlsin")["wrong_protocol"] == 1, what="wrong_protocol counted")
        i = d.input("tlsin")
        assert i["received"] == 0 and i["open_connections"] == 0


def test_tls_client_on_plain_port(tmp_path):
    conf = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log"}
"""
    with Sluiced(tmp_path, conf) as d:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", d.port("tcp")), timeout=10) as s:
            with pytest.raises((ssl.SSLError, OSError)):
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    t.sendall(b"<13>hello\n")
        log_has(d, "input tcp: a TLS client connected to a plain TCP port from 127.0.0.1")
        wait_for(lambda: d.input("tcp")["wrong_protocol"] == 1, what="wrong_protocol counted")
        assert d.input("tcp")["received"] == 0
        # The port still serves plain senders.
        tcp_send(d.port("tcp"), [b"<13>Nov 22 04:56:13 host app: plain"])
        d.wait_delivered("out", 1)


def peer_serial(port, ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return int(t.getpeercert()["serialNumber"], 16)


@needs_tls
def test_tls_certificates_reloaded_on_sighup(tmp_path, pki):
    with Sluiced(tmp_path, tls_receiver(pki)) as d:
        port = d.port("tlsin")
        assert peer_serial(port, pki / "ca.pem") == 1001
        # A connection open across the reload goes on with its session.
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"%d %s" % (len(numbered(1)[0]), numbered(1)[0]))
        make_cert(pki, "server", "localhost", "DNS:localhost,IP:127.0.0.1", 2002)
        d.signal(signal.SIGHUP)
        wait_for(lambda: peer_serial(port, pki / "ca.pem") == 2002, what="the renewed certificate")
        line = numbered(1, start=1)[0]
        t.sendall(b"%d %s" % (len(line), line))
        t.close()
        wait_all(d.dir / "out.log", 2)
        # A broken certificate at reload keeps the working one.
        (pki / "server.pem").write_text("not a certificate\n")
        d.signal(signal.SIGHUP)
        log_has(d, "reload refused")
        assert peer_serial(port, pki / "ca.pem") == 2002


# ---- rsyslog in each direction --------------------------------------------------------------

class Rsyslogd:
    """A private rsyslogd: conf is rsyslog config text in which {dir} is its directory."""

    def __init__(self, tmp_path, conf):
        self.dir = pathlib.Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "rsyslog.conf"
        self.conf.write_text(conf.replace("{dir}", str(self.dir)))
        self.log = self.dir / "rsyslogd.out"
        self.proc = None

    def __enter__(self):
        self.out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [rsyslog_ref.rsyslogd_path(), "-n", "-f", str(self.conf), "-i",
             str(self.dir / "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT, cwd=self.dir,
            env=dict(os.environ, **rsyslog_ref.ENV_TZ))
        return self

    def port(self, name="port"):
        path = self.dir / name
        wait_for(lambda: self.alive() and path.exists() and path.read_text().strip().isdigit(),
                 what=f"rsyslog port file {path}:\n{self.log_text()}")
        return int(path.read_text())

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"rsyslogd exited ({self.proc.returncode}):\n{self.log_text()}")
        return True

    def wait_listening(self, port):
        def up():
            self.alive()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, what=f"rsyslog listening on {port}:\n{self.log_text()}")

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


RS_GLOBAL = 'global(workDirectory="{dir}" net.enableDNS="off"{tls})\n'
RS_TLS_FILES = (' defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"'
                ' defaultNetstreamDriverKeyFile="{key}"')
RS_OUT = """template(name="msgonly" type="string" string="%msg%\\n")
ruleset(name="out") { action(type="omfile" file="{dir}/out.log" template="msgonly") }
"""
RS_PLAIN_IN = """module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/in.port"
      ruleset="fwd")
"""

needs_rsyslog_tls = pytest.mark.skipif(not rsyslog_has("lmnsd_ossl"),
                                       reason="rsyslog's OpenSSL driver (rsyslog-openssl) missing")
needs_rsyslog_relp = pytest.mark.skipif(not (rsyslog_has("imrelp") and rsyslog_has("omrelp")),
                                        reason="rsyslog's RELP modules (rsyslog-relp) missing")


@needs_tls
@needs_rsyslog_tls
def test_rsyslog_omfwd_tls_to_sluice(tmp_path, pki):
    with Sluiced(tmp_path / "sluice", tls_receiver(pki)) as rx:
        port = rx.port("tlsin")
        conf = (RS_GLOBAL.format(dir="{dir}", tls=f' defaultNetstreamDriverCAFile="{pki}/ca.pem"')
                + RS_PLAIN_IN + f"""
ruleset(name="fwd") {{
    action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" tcp_framing="octet-counted"
           streamDriver="ossl" streamDriverMode="1" streamDriverAuthMode="x509/name"
           streamDriverPermittedPeers="localhost" template="RSYSLOG_SyslogProtocol23Format")
}}
""")
        with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
            tcp_send(rs.port("in.port"), numbered(N))
            wait_all(rx.dir / "out.log", N)
        i = rx.input("tlsin")
        assert i["received"] == N and i["handshake_failed"] == 0


@needs_tls
@needs_rsyslog_tls
def test_rsyslog_omfwd_tls_client_cert_to_sluice(tmp_path, pki):
    """Mutual authentication with rsyslog as the client: sluice requires its certificate and
    allows its name."""
    with Sluiced(tmp_path / "sluice", tls_receiver(
            pki, ", client_auth: require, allowed_peers: [client1.example]")) as rx:
        port = rx.port("tlsin")
        files = RS_TLS_FILES.format(ca=pki / "ca.pem", cert=pki / "client.pem",
                                    key=pki / "client.key")
        conf = RS_GLOBAL.format(dir="{dir}", tls=files) + RS_PLAIN_IN + f"""
ruleset(name="fwd") {{
    action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" tcp_framing="octet-counted"
           streamDriver="ossl" streamDriverMode="1" streamDriverAuthMode="x509/name"
           streamDriverPermittedPeers="localhost" template="RSYSLOG_SyslogProtocol23Format")
}}
"""
        with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
            tcp_send(rs.port("in.port"), numbered(N))
            wait_all(rx.dir / "out.log", N)
        assert rx.input("tlsin")["handshake_failed"] == 0


@needs_tls
@needs_rsyslog_tls
def test_sluice_tls_client_cert_to_rsyslog_imtcp(tmp_path, pki):
    """Mutual authentication with rsyslog as the server (x509/certvalid: a valid client
    certificate is required)."""
    files = RS_TLS_FILES.format(ca=pki / "ca.pem", cert=pki / "server.pem", key=pki / "server.key")
    conf = RS_GLOBAL.format(dir="{dir}", tls=files) + RS_OUT + """
module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1"
       streamDriver.authMode="x509/certvalid")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/tls.port" ruleset="out")
"""
    with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
        port = rs.port("tls.port")
        tls = (f'ca_file: "{pki}/ca.pem", cert_file: "{pki}/client.pem", '
               f'key_file: "{pki}/client.key", server_name: localhost')
        with Sluiced(tmp_path / "sluice", forwarder("tls", port, tls=tls)) as tx:
            tcp_send(tx.port("in"), numbered(N))
            tx.wait_delivered("fwd", N)
            wait_all(rs.dir / "out.log", N)


@needs_tls
@needs_rsyslog_tls
def test_sluice_tls_to_rsyslog_imtcp(tmp_path, pki):
    files = RS_TLS_FILES.format(ca=pki / "ca.pem", cert=pki / "server.pem", key=pki / "server.key")
    conf = RS_GLOBAL.format(dir="{dir}", tls=files) + RS_OUT + """
module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/tls.port" ruleset="out")
"""
    with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
        port = rs.port("tls.port")
        fwd = forwarder("tls", port, tls=f'ca_file: "{pki}/ca.pem", server_name: localhost')
        with Sluiced(tmp_path / "sluice", fwd) as tx:
            tcp_send(tx.port("in"), numbered(N))
            tx.wait_delivered("fwd", N)
            wait_all(rs.dir / "out.log", N)


@needs_rsyslog_relp
def test_sluice_relp_to_rsyslog_imrelp(tmp_path):
    """The relp output is sluice's own client: it runs in a build without librelp too."""
    port = free_port()
    conf = RS_GLOBAL.format(dir="{dir}", tls="") + RS_OUT + f"""
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="{port}" ruleset="out")
"""
    with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
        rs.wait_listening(port)
        with Sluiced(tmp_path / "sluice", forwarder("relp", port)) as tx:
            tcp_send(tx.port("in"), numbered(N))
            tx.wait_delivered("fwd", N)
            wait_all(rs.dir / "out.log", N)
            a = tx.action("fwd")
            assert a["delivered"] == N and a["failed"] == 0 and a["discarded"] == 0


@needs_relp
@needs_rsyslog_relp
def test_rsyslog_omrelp_to_sluice_relp(tmp_path):
    rx_conf = """
inputs:
  - {name: relpin, type: relp, listen: "127.0.0.1:0", port_file: "{dir}/relpin.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log", template: "${msg}\\n"}
"""
    with Sluiced(tmp_path / "sluice", rx_conf) as rx:
        port = rx.port("relpin")
        conf = RS_GLOBAL.format(dir="{dir}", tls="") + RS_PLAIN_IN + f"""
module(load="omrelp")
ruleset(name="fwd") {{
    action(type="omrelp" target="127.0.0.1" port="{port}"
           template="RSYSLOG_SyslogProtocol23Format")
}}
"""
        with Rsyslogd(tmp_path / "rsyslog", conf) as rs:
            tcp_send(rs.port("in.port"), numbered(N))
            wait_all(rx.dir / "out.log", N)
        assert rx.input("relpin")["received"] == N


# ---- RELP between two sluiceds: acknowledged means delivered --------------------------------

RELP_RX = """
inputs:
  - {{name: relpin, type: relp, listen: "127.0.0.1:{port}", port_file: "{{dir}}/relpin.port"}}
actions:
  - {{name: out, type: file, path: "{out}", template: "${{msg}}\\n"}}
"""


@needs_relp
def test_relp_sluice_to_sluice(tmp_path):
    with Sluiced(tmp_path / "rx", RELP_RX.format(port=0, out="{dir}/out.log")) as rx:
        with Sluiced(tmp_path / "tx", forwarder("relp", rx.port("relpin"))) as tx:
            tcp_send(tx.port("in"), numbered(N))
            tx.wait_delivered("fwd", N)
            wait_all(rx.dir / "out.log", N)
        assert rx.input("relpin")["received"] == N


@needs_relp
def test_relp_receiver_reloads_midstream(tmp_path):
    """A reload keeps the relp input (same settings): its sessions stay open, the senders wait
    for their acknowledgements during the switch, and every message arrives exactly once."""
    big = 10000
    with Sluiced(tmp_path / "rx", RELP_RX.format(port=0, out="{dir}/out.log")) as rx:
        with Sluiced(tmp_path / "tx", forwarder("relp", rx.port("relpin"))) as tx:
            tcp_send(tx.port("in"), numbered(big))
            wait_for(lambda: len(seqs(rx.dir / "out.log")) > 100, what="messages flowing")
            rx.signal(signal.SIGHUP)
            log_has(rx, "configuration reloaded")
            rx.signal(signal.SIGHUP)
            wait_for(lambda: rx.log_text().count("configuration reloaded") == 2, what="reload 2")
            tx.wait_delivered("fwd", big, timeout=60)
            wait_all(rx.dir / "out.log", big)
            assert "session broken" not in tx.log_text()
        assert rx.input("relpin")["received"] == big


@needs_relp
def test_relp_receiver_restarts_nothing_lost(tmp_path):
    """The receiver goes away twice in the middle of the stream — stopped (it says
    "serverclose") and killed (the connection just breaks) — and comes back on the same port:
    every message arrives (some maybe twice), and at every moment the sender has counted as
    delivered only messages that arrived. Each time the messages wait in the sender's queue
    until the receiver is up, and the receiver is frozen (SIGSTOP) with frames unread before it
    goes, so that the sender is cut off in the middle of a batch. The receiver writes before it
    acknowledges (a direct queue), so a killed receiver loses nothing it acknowledged either.
    Each phase is long enough that the freeze lands with messages still to send (with 10,000 a
    fast receiver could take them all before it was frozen, and no frame was left unread)."""
    big = 40000
    port = free_port()
    out = tmp_path / "out.log"
    rx_conf = RELP_RX.format(port=port, out=out).replace(
        'template: "${msg}\\n"}', 'template: "${msg}\\n", queue: {type: direct}}')
    assert "direct" in rx_conf
    rx = None
    with Sluiced(tmp_path / "tx", forwarder("relp", port)) as tx:
        try:
            for phase, stop in enumerate(("term", "kill")):
                tcp_send(tx.port("in"), numbered(big, start=phase * big))
                wait_for(lambda: tx.input("in")["received"] == (phase + 1) * big,
                         what="the messages queued at the sender")
                have = len(set(seqs(out)))
                rx = Sluiced(tmp_path / f"rx{phase + 1}", rx_conf).start()
                wait_for(lambda: len(set(seqs(out))) > have + 100, what="messages flowing")
                # Frozen, the receiver answers nothing more. With frames it has not read in
                # its socket, the sender is in the middle of a batch, waiting for answers.
                freeze_with_unread_frames(rx, port, out)
                delivered_before = tx.action("fwd")["delivered"]
                if stop == "term":
                    rx.proc.send_signal(signal.SIGTERM)
                    rx.proc.send_signal(signal.SIGCONT)
                    rx.stop()
                else:
                    rx.proc.kill()
                    rx.proc.wait()
                    rx.logf.close()
                rx = None
                arrived = set(seqs(out))
                delivered = tx.action("fwd")["delivered"]
                assert delivered >= delivered_before
                assert delivered <= len(arrived), "counted as delivered but never arrived"
                assert len(arrived) < (phase + 1) * big, "the receiver went away too late"
            rx = Sluiced(tmp_path / "rx3", rx_conf).start()
            tx.wait_delivered("fwd", 2 * big, timeout=120)
            got = wait_all(out, 2 * big, exact=False)
            a = tx.action("fwd")
            assert a["delivered"] == 2 * big and a["failed"] == 0 and a["discarded"] == 0
            assert len(got) >= 2 * big
            # The killed receiver left frames unread: the sender was cut off mid-batch.
            assert ("session broken, unacknowledged messages will be sent again: Connection "
                    "reset by peer") in tx.log_text()
        finally:
            if rx:
                rx.proc.send_signal(signal.SIGCONT)  # a frozen receiver cannot take SIGTERM
                rx.stop()


# ---- A build without the libraries refuses the configuration and says why -------------------

@pytest.mark.skipif(HAVE_TLS and HAVE_RELP, reason="this build has OpenSSL and librelp")
def test_missing_modules_refused_clearly(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("""
inputs:
  - {name: t, type: tls, listen: "127.0.0.1:0", tls: {cert_file: a.pem, key_file: a.key}}
  - {name: r, type: relp, listen: "127.0.0.1:0"}
actions:
  - {name: f1, type: forward, target: "127.0.0.1:6514", protocol: tls}
  - {name: f2, type: forward, target: "127.0.0.1:2514", protocol: relp}
""")
    r = subprocess.run([str(BUILD / "sluiced"), "--check", "-f", str(conf)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    if not HAVE_TLS:
        assert "input type tls needs OpenSSL, which this build lacks" in r.stderr
        assert "protocol tls needs OpenSSL, which this build lacks" in r.stderr
    if not HAVE_RELP:
        assert "input type relp needs librelp, which this build lacks" in r.stderr
    # The relp output is sluice's own client: it needs no library.
    assert "protocol relp" not in r.stderr


@needs_tls
def test_tls_config_errors_name_the_file(tmp_path, pki):
    conf = tmp_path / "c.yaml"
    conf.write_text(f"""
inputs:
  - {{name: t, type: tls, listen: "127.0.0.1:0",
     tls: {{cert_file: "{pki}/server.pem", key_file: "{pki}/client.key"}}}}
  - {{name: u, type: tcp, listen: "127.0.0.1:0", tls: {{cert_file: x}}}}
actions:
  - {{name: f, type: forward, target: "127.0.0.1:6514", protocol: tls,
     tls: {{ca_file: "{pki}/missing.pem"}}}}
""")
    r = subprocess.run([str(BUILD / "sluiced"), "--check", "-f", str(conf)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert f"client.key does not match the certificate in cert_file {pki}/server.pem" in r.stderr
    assert "tls: only an input of type tls takes it" in r.stderr
    assert f"ca_file {pki}/missing.pem: No such file or directory" in r.stderr


# ---- Loadable modules: OpenSSL and librelp are mapped only when the configuration uses them --

BUILD_TYPE = re.search(r"^build: (.*)$", version(), re.M).group(1)
# The idle memory bound holds for a release build; sanitizers' shadow memory dwarfs it.
RELEASE = BUILD_TYPE == "Release"
IDLE_RSS_MAX_KIB = 4 * 1024
# What the two modules bring; none of it belongs in a daemon that uses neither.
MODULE_LIBS = ("sluice_tls.so", "sluice_relp.so", "libssl.so", "libcrypto.so", "librelp.so",
               "libgnutls.so")

PLAIN = """
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log"}
"""


def mapped_files(pid):
    """The file names (no directory) the process has mapped."""
    names = set()
    for line in pathlib.Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/"):
            names.add(os.path.basename(fields[5]))
    return names


def maps_any(names, prefix):
    return any(n.startswith(prefix) for n in names)


def vm_rss_kib(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


def test_plain_config_maps_no_module_and_idles_small(tmp_path):
    with Sluiced(tmp_path, PLAIN) as d:
        # Once a message has gone through, every thread has run: the daemon is at work, idle.
        tcp_send(d.port("in"), [b"<13>1 2026-01-01T00:00:00Z host app - - - seq=000000"])
        d.wait_delivered("out", 1)
        names = mapped_files(d.proc.pid)
        for lib in MODULE_LIBS:
            assert not maps_any(names, lib), f"{lib} is mapped by a daemon without TLS or RELP"
        rss = vm_rss_kib(d.proc.pid)
        if RELEASE:
            assert rss <= IDLE_RSS_MAX_KIB, f"idle VmRSS {rss} kB > {IDLE_RSS_MAX_KIB} kB"


@needs_tls
def test_tls_config_loads_the_tls_module(tmp_path, pki):
    with Sluiced(tmp_path, tls_receiver(pki)) as d:
        d.port("tlsin")
        names = mapped_files(d.proc.pid)
        assert "sluice_tls.so" in names and maps_any(names, "libssl.so")
        assert not maps_any(names, "sluice_relp.so") and not maps_any(names, "librelp.so")


@needs_relp
def test_relp_config_loads_the_relp_module(tmp_path):
    with Sluiced(tmp_path, RELP_RX.format(port=0, out="{dir}/out.log")) as d:
        d.port("relpin")
        names = mapped_files(d.proc.pid)
        assert "sluice_relp.so" in names and maps_any(names, "librelp.so")
        assert not maps_any(names, "sluice_tls.so")


@pytest.mark.skipif(not (HAVE_TLS or HAVE_RELP), reason="built without any loadable module")
def test_missing_module_refused_with_paths_and_reason(tmp_path):
    """sluiced looks next to itself, then in $SLUICE_MODULE_DIR: a copy of it in a directory of
    its own, with SLUICE_MODULE_DIR empty or holding a broken file, finds no module."""
    bindir, moddir = tmp_path / "bin", tmp_path / "modules"
    bindir.mkdir()
    moddir.mkdir()
    exe = bindir / "sluiced"
    exe.write_bytes((BUILD / "sluiced").read_bytes())
    exe.chmod(0o755)
    (moddir / "sluice_relp.so").write_text("not a shared object\n")
    conf = tmp_path / "c.yaml"
    conf.write_text("""
inputs:
  - {name: t, type: tls, listen: "127.0.0.1:0", tls: {cert_file: a.pem, key_file: a.key}}
  - {name: r, type: relp, listen: "127.0.0.1:0"}
actions:
  - {name: f1, type: forward, target: "127.0.0.1:6514", protocol: tls}
""")
    env = dict(os.environ, SLUICE_MODULE_DIR=str(moddir))
    r = subprocess.run([str(exe), "--check", "-f", str(conf)], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 1
    if HAVE_TLS:
        for where in (f"{conf}:3:5: input t", f"{conf}:6:5: action f1"):
            assert (f"{where}: cannot load module sluice_tls.so, tried "
                    f"{bindir}/sluice_tls.so: cannot open shared object file: No such file or "
                    f"directory; {moddir}/sluice_tls.so: cannot open shared object file") in r.stderr
    if HAVE_RELP:
        assert (f"{conf}:4:5: input r: cannot load module sluice_relp.so, tried "
                f"{bindir}/sluice_relp.so: cannot open shared object file") in r.stderr
        # What dlopen said of the broken file.
        assert re.search(rf"{re.escape(str(moddir))}/sluice_relp.so: [^;]*(ELF|too short)",
                         r.stderr), r.stderr
    v = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env).stdout
    assert "openssl=yes" in v if HAVE_TLS else "openssl=no" in v
    if HAVE_TLS:
        assert f"module sluice_tls.so: not found (looked in {bindir}, {moddir})" in v
    # The broken file is there to be found: --version does not load it.
    if HAVE_RELP:
        assert f"module sluice_relp.so: found {moddir}/sluice_relp.so" in v
    # Pointed at the build's modules, the same copy loads them.
    env["SLUICE_MODULE_DIR"] = str(BUILD)
    r = subprocess.run([str(exe), "--check", "-f", str(conf)], capture_output=True, text=True,
                       env=env)
    assert "cannot load module" not in r.stderr
    if HAVE_TLS:
        assert "cert_file a.pem: No such file or directory" in r.stderr
