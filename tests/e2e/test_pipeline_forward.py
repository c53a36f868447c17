"""Forwarding: sluiced A forwards what it receives to sluiced B (TCP with octet counting, TCP
with LF framing, UDP; template rfc5424) and to a private Debian rsyslogd; every message must
arrive with the same content. A writes its own JSON copy of each message, B writes JSON per
input, so the fields can be compared one by one; rsyslog writes RSYSLOG_TraditionalFileFormat,
which must be byte for byte what A's traditional template writes for the same message."""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

import rsyslog_ref
from daemon import RateLimit, Sluiced, assert_accounting, tcp_send, wait_for

# The fields a forward must carry unchanged (received and fromhost are the hop's own).
FIELDS = ("pri", "facility", "severity", "timestamp", "hostname", "app_name", "procid", "msgid",
          "structured_data", "msg")

SEQ = re.compile(r"seq (\d{6})")


def corpus(n):
    """n messages, each with a unique "seq NNNNNN", in the shapes forwarding must keep:
    RFC 5424 with structured data and fractions of seconds, with zones, non-ASCII text,
    quotes and brackets; RFC 3164 with a tag and pid, and without."""
    out = []
    for i in range(n):
        k = i % 5
        if k == 0:
            l = (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                 b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
                 b'[meta sequenceId="%d"] seq %06d An application event log entry' % (i, i))
        elif k == 1:
            l = b"<34>Oct 11 22:14:15 mymachine su[%d]: seq %06d 'su root' failed on /dev/pts/8" % (
                100 + i, i)
        elif k == 2:
            l = ("<13>1 2024-02-29T23:59:59.999999+05:30 host-%d app-%d 12345 MSG%d - "
                 "seq %06d h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c" % (i % 7, i % 3, i, i)).encode()
        elif k == 3:
            l = b'<78>Feb  5 01:02:03 cronhost CRON[77]: seq %06d (root) CMD ("run-parts" [x]\\y)' % i
        else:
            l = b"<190>1 2021-01-01T00:00:00-08:00 - - - - - seq %06d all nil" % i
        out.append(l)
    return out


def by_seq(path):
    recs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            s = int(SEQ.search(r["msg"]).group(1))
            assert s not in recs, f"seq {s} twice in {path}"
            recs[s] = r
    return recs


B_CONFIG = """
inputs:
  - {name: oc, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/oc.port", framing: octet-counted}
  - {name: lf, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/lf.port", framing: lf}
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port", receive_buffer: 4MiB}
actions:
  - {name: oc, type: file, path: "{dir}/oc.json", template: json, where: 'input == "oc"'}
  - {name: lf, type: file, path: "{dir}/lf.json", template: json, where: 'input == "lf"'}
  - {name: udp, type: file, path: "{dir}/udp.json", template: json, where: 'input == "udp"'}
"""

A_CONFIG = """
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - {name: local, type: file, path: "{dir}/a.json", template: json}
  - {name: fwd_oc, type: forward, target: "127.0.0.1:%(oc)d", protocol: tcp, framing: octet-counted}
  - {name: fwd_lf, type: forward, target: "127.0.0.1:%(lf)d", protocol: tcp, framing: lf,
     template: rfc5424}
  - {name: fwd_udp, type: forward, target: "127.0.0.1:%(udp)d", protocol: udp}
"""


def test_forward_sluice_to_sluice(tmp_path):
    n = 3000
    lines = corpus(n)
    with Sluiced(tmp_path / "b", B_CONFIG) as b:
        ports = {k: b.port(k) for k in ("oc", "lf", "udp")}
        with Sluiced(tmp_path / "a", A_CONFIG % ports) as a:
            # Paced in small connections so the UDP hop is not flooded (it may still drop; the
            # drops are counted and checked below).
            for i in range(0, n, 250):
                tcp_send(a.port("in"), lines[i:i + 250], octet=(i // 250) % 2 == 1)
                wait_for(lambda: a.action("fwd_udp")["delivered"] >= min(n, i + 250),
                         what="A forwarded the chunk")
            for name in ("local", "fwd_oc", "fwd_lf", "fwd_udp"):
                a.wait_delivered(name, n)
            b.wait_delivered("oc", n)
            b.wait_delivered("lf", n)

            def udp_accounted():
                u = b.input("udp")
                return u["received"] + u["dropped"]["kernel"] >= n
            wait_for(udp_accounted, what="UDP hop received or counted every datagram")
            b.wait_delivered("udp", b.input("udp")["received"])
            st_a, st_b = a.stats(), b.stats()
        assert a.proc.returncode == 0
    assert b.proc.returncode == 0
    a.check_log_clean()
    b.check_log_clean()
    assert_accounting(st_a)
    assert_accounting(st_b)
    ina = st_a["inputs"][0]
    assert ina["received"] == n and ina["malformed"] == 0
    for act in st_a["actions"]:
        assert act["delivered"] == n and act["failed"] == 0, act
    inb = {i["name"]: i for i in st_b["inputs"]}
    assert inb["oc"]["received"] == n and inb["lf"]["received"] == n
    for k in ("oc", "lf"):
        assert inb[k]["malformed"] == inb[k]["truncated"] == inb[k]["incomplete"] == 0, inb[k]
    udp = inb["udp"]
    assert udp["received"] + udp["dropped"]["kernel"] == n, udp

    want = by_seq(tmp_path / "a" / "a.json")
    assert sorted(want) == list(range(n))
    for name in ("oc", "lf", "udp"):
        got = by_seq(tmp_path / "b" / f"{name}.json")
        if name != "udp":
            assert sorted(got) == list(range(n)), f"{name}: {n - len(got)} missing"
        else:
            assert len(got) == udp["received"]
        for s, r in got.items():
            diff = {f: (want[s][f], r[f]) for f in FIELDS if want[s][f] != r[f]}
            assert not diff, f"{name}: seq {s} changed on the way (A, B): {diff}"
            assert r["fromhost"] == "127.0.0.1" and r["input"] == name


# ---- To rsyslog -----------------------------------------------------------------------------

RSYSLOG_CONF = """\
global(workDirectory="{dir}" net.enableDNS="off")
main_queue(queue.workerThreads="1")
module(load="imptcp")
ruleset(name="oc") {{
    action(type="omfile" file="{dir}/oc.log" template="RSYSLOG_TraditionalFileFormat")
}}
ruleset(name="lf") {{
    action(type="omfile" file="{dir}/lf.log" template="RSYSLOG_TraditionalFileFormat")
}}
input(type="imptcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/oc.port"
      supportOctetCountedFraming="on" ruleset="oc")
input(type="imptcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/lf.port"
      supportOctetCountedFraming="off" ruleset="lf")
"""


class Rsyslogd:
    """A private rsyslogd in the foreground (as rsyslog_ref runs it), ports read from files."""

    def __init__(self, d):
        self.dir = pathlib.Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "rsyslog.conf").write_text(RSYSLOG_CONF.format(dir=self.dir))
        env = dict(os.environ, **rsyslog_ref.ENV_TZ)
        self.out = open(self.dir / "rsyslogd.out", "wb")
        self.proc = subprocess.Popen(
            [rsyslog_ref.rsyslogd_path(), "-n", "-f", str(self.dir / "rsyslog.conf"),
             "-i", str(self.dir / "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT, env=env,
            cwd=self.dir)

    def port(self, name):
        path = self.dir / f"{name}.port"

        def ready():
            assert self.proc.poll() is None, (self.dir / "rsyslogd.out").read_text()
            return path.exists() and path.read_text().strip().isdigit()
        wait_for(ready, what=f"rsyslogd port file {name}")
        return int(path.read_text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


A_TO_RSYSLOG = """
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - {name: local5424, type: file, path: "{dir}/5424.log", template: traditional,
     where: 'msg startswith "seq" and app_name != "su" and app_name != "CRON"'}
  - {name: local3164, type: file, path: "{dir}/3164.log", template: traditional,
     where: 'app_name == "su" or app_name == "CRON"'}
  - {name: to_oc, type: forward, target: "127.0.0.1:%(oc)d", framing: octet-counted,
     template: rfc5424, where: 'app_name != "su" and app_name != "CRON"'}
  - {name: to_lf, type: forward, target: "127.0.0.1:%(lf)d", framing: lf, template: rfc3164,
     where: 'app_name == "su" or app_name == "CRON"'}
"""


@pytest.mark.skipif(not rsyslog_ref.rsyslogd_path(), reason="rsyslogd not installed")
def test_forward_to_rsyslog(tmp_path):
    """RFC 5424 messages go to rsyslog as RFC 5424 over octet-counted TCP, RFC 3164 ones as
    RFC 3164 over LF-framed TCP; rsyslog's traditional file must equal A's, line for line."""
    n = 1000
    lines = corpus(n)
    rs = Rsyslogd(tmp_path / "rsyslog")
    try:
        ports = {"oc": rs.port("oc"), "lf": rs.port("lf")}
        with Sluiced(tmp_path / "a", A_TO_RSYSLOG % ports, env=rsyslog_ref.ENV_TZ) as a:
            tcp_send(a.port("in"), lines)
            wait_for(lambda: a.input("in")["received"] == n, what="A received everything")
            st = a.stats()
            for act in st["actions"]:
                a.wait_delivered(act["name"], act["enqueued"])
            st = a.stats()
            assert_accounting(st)
            acts = {x["name"]: x for x in st["actions"]}
            assert acts["to_oc"]["delivered"] + acts["to_lf"]["delivered"] == n
            assert acts["local5424"]["delivered"] == acts["to_oc"]["delivered"]
            assert acts["local3164"]["delivered"] == acts["to_lf"]["delivered"]

            def count(p):
                return p.read_bytes().count(b"\n") if p.exists() else 0
            wait_for(lambda: count(rs.dir / "oc.log") >= acts["to_oc"]["delivered"] and
                     count(rs.dir / "lf.log") >= acts["to_lf"]["delivered"],
                     what="rsyslog wrote every forwarded message")
        assert a.proc.returncode == 0
    finally:
        rs.stop()
    a.check_log_clean()
    for mine, theirs in (("5424.log", "oc.log"), ("3164.log", "lf.log")):
        want = (tmp_path / "a" / mine).read_bytes().splitlines()
        got = (rs.dir / theirs).read_bytes().splitlines()
        assert len(got) == len(want), f"{theirs}: {len(got)} lines, A wrote {len(want)}"
        diffs = [(w, g) for w, g in zip(want, got) if w != g]
        assert not diffs, f"{theirs}: {len(diffs)} lines differ, first (A, rsyslog): {diffs[:3]}"


# ---- Target down and back -------------------------------------------------------------------

DOWN_B = """
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:%(port)d", port_file: "{dir}/in.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log", template: "${msg}\\n"}
"""

# B relays onward to a hop that is down, so its queue holds messages and stopping it takes
# its whole shutdown_timeout: the time a forwarder has to come back and find it still there.
SLOW_STOP = """shutdown_timeout: 1500ms
%s  - {name: onward, type: forward, target: "127.0.0.1:%%(dead)d",
     queue: {retry_min: 20ms, retry_max: 50ms}}
"""

DOWN_A = """
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - name: fwd
    type: forward
    target: "127.0.0.1:%(port)d"
    framing: octet-counted
    connect_timeout: 1s
    queue: {size: 200000, batch: %(batch)d, retry_min: 20ms, retry_max: 200ms}
"""

PAD = b"x" * 40


@pytest.mark.parametrize("stop", ["quick", "slow"])
def test_target_down_and_back(tmp_path, stop):
    """A forwards over TCP to B; B is stopped (SIGTERM) while A is streaming to it and started
    again on the same port (a fixed port chosen by free_port: bound, released, below the
    ephemeral range). Meanwhile A must show the action suspended and hold the messages in its
    queue; at the end B must have every message, and a message twice only if it was in the
    batch in flight when B went away. "slow": B takes 1.5 s to stop (its own next hop is down),
    so A retries while B is still there but no longer reading."""
    from daemon import ClosedPort, Sender, free_port, poll_until
    n, batch = 60000, 256
    port = free_port()
    dead = ClosedPort()
    b_conf = DOWN_B if stop == "quick" else SLOW_STOP % DOWN_B
    b = Sluiced(tmp_path / "b", b_conf % {"port": port, "dead": dead.port}).start()
    a = Sluiced(tmp_path / "a", DOWN_A % {"port": port, "batch": batch}).start()
    try:
        sender = Sender(a.port("in"), n, lambda i: b"<13>Nov 22 04:56:13 h app: seq %06d %s" % (i, PAD),
                        chunk=100, timeout=120, pace=RateLimit(300)).start()
        wait_for(lambda: b.action("out")["delivered"] >= 10000, what="B delivering")
        b.signal(signal.SIGTERM)
        assert b.wait_exit(30) == 0
        first = b.final_stats()
        # A notices: the action suspends, its queue fills.
        wait_for(lambda: a.action("fwd")["suspended"], what="A's forward suspended")
        wait_for(lambda: a.action("fwd")["queued"] >= 5000 or not sender.alive(),
                 what="A queueing while B is down")
        down = a.action("fwd")
        assert down["queued"] > 0 and down["suspended"], down
        assert_accounting(a.stats())
        b.start()
        assert b.port("in") == port
        sender.join()
        a.wait_delivered("fwd", n, timeout=60)
        # Loss shows as a shortfall here; the checks below say which messages.
        poll_until(lambda: b.input("in")["received"] + first["inputs"]["in"]["received"] >= n)
        b.wait_delivered("out", b.input("in")["received"])
        st_a, st_b = a.stats(), b.stats()
    finally:
        a.stop()
        b.stop()
        dead.close()
    a.check_log_clean()
    b.check_log_clean()
    assert_accounting(st_a)
    assert_accounting(st_b)
    fwd = st_a["actions"][0]
    assert fwd["enqueued"] == fwd["delivered"] == n and fwd["failed"] == fwd["discarded"] == 0
    assert fwd["suspensions"] > 0

    seen, partial = {}, 0
    for line in (tmp_path / "b" / "out.log").read_bytes().splitlines():
        m = re.fullmatch(rb"seq (\d{6}) " + PAD, line)
        if not m:
            partial += 1  # a record cut when the connection broke mid-record
            continue
        s = int(m.group(1))
        seen[s] = seen.get(s, 0) + 1
    missing = [s for s in range(n) if s not in seen]
    dups = [s for s, c in seen.items() if c > 1]
    incomplete = first["inputs"]["in"].get("incomplete", 0) + st_b["inputs"][0]["incomplete"]
    assert not missing, (f"{len(missing)} messages lost ({missing[:3]}..{missing[-3:]}); "
                         f"B's first run: {first}; A: {fwd}")
    assert len(dups) <= batch, f"{len(dups)} duplicates, more than one batch"
    assert partial <= 1, f"{partial} partial records"
    print(f"duplicates {len(dups)}, partial records {partial}, incomplete {incomplete}")


# ---- A target port in the ephemeral range, nothing listening ---------------------------------

SELF_PORT = 40000
SELF_A = """
shutdown_timeout: 200ms
inputs:
  - {name: local, type: unix, path: "{dir}/log.sock"}
actions:
  - {name: fwd, type: forward, target: "127.0.0.1:%d", connect_timeout: 1s,
     queue: {retry_min: 10ms, retry_max: 20ms}}
""" % SELF_PORT

NETNS_WRAPPER = """#!/bin/sh
# sluiced in a network namespace of its own whose ephemeral port range is the one port the
# forward action targets: every connection attempt gets that port as its own.
exec unshare -n sh -c 'ip link set lo up &&
  echo "%(port)d %(port)d" > /proc/sys/net/ipv4/ip_local_port_range &&
  exec "$0" "$@"' %(sluiced)s "$@"
"""


def _can_netns():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    r = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && echo '40000 40000' "
                        "> /proc/sys/net/ipv4/ip_local_port_range"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not _can_netns(), reason="needs root, unshare and ip (a private netns)")
def test_forward_never_connects_to_itself(tmp_path):
    """Linux TCP self-connect: connecting to a local port in the ephemeral range where nothing
    listens can be given that port as the local one, and the connection "succeeds" with itself.
    Made certain here with a namespace whose ephemeral range is the target port alone. The
    forward must see that its target is down (suspended, everything queued), not deliver
    every message to itself."""
    import socket as _socket
    from daemon import BUILD
    wrapper = tmp_path / "sluiced-netns"
    wrapper.write_text(NETNS_WRAPPER % {"port": SELF_PORT, "sluiced": BUILD / "sluiced"})
    wrapper.chmod(0o755)
    n = 50
    with Sluiced(tmp_path / "a", SELF_A, binary=str(wrapper)) as a:
        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(b"<13>Nov 22 04:56:13 h app: self %d" % i, str(a.dir / "log.sock"))
        wait_for(lambda: a.input("local")["received"] == n, what="messages in")
        wait_for(lambda: a.action("fwd")["suspensions"] >= 10 or a.action("fwd")["delivered"],
                 what="connection attempts")
        f = a.action("fwd")
        assert f["delivered"] == 0 and f["queued"] == n and f["suspended"], f
        assert_accounting(a.stats())
    assert a.proc.returncode == 0
    final = a.final_stats()["actions"]["fwd"]
    assert final["delivered"] == 0 and final["discarded"] == n, final
