"""Daemon behaviour: sd_notify readiness, privilege drop, the periodic stats line, pidfile,
legacy syslog.conf, and lock_memory's clear error."""
import os
import pwd
import socket

import pytest

from daemon import BUILD, Sluiced, count_lines, tcp_send, udp_send, wait_for

TCP_ONLY = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: all, type: file, path: "{dir}/all.log"}
"""


def test_sd_notify_ready_and_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    with Sluiced(tmp_path / "d", TCP_ONLY, env={"NOTIFY_SOCKET": path}) as d:
        msg = s.recv(4096)
        assert b"READY=1" in msg
        d.stop()
        msg = s.recv(4096)
        assert b"STOPPING=1" in msg
    s.close()


def test_sd_notify_abstract_socket(tmp_path):
    """NOTIFY_SOCKET starting with '@' names a socket in the abstract namespace."""
    name = f"sluice-test-{os.getpid()}-{id(tmp_path)}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.settimeout(20)
    with Sluiced(tmp_path / "d", TCP_ONLY, env={"NOTIFY_SOCKET": "@" + name}):
        assert b"READY=1" in s.recv(4096)
    s.close()


def test_pidfile_and_stats_line(tmp_path):
    conf = "pidfile: {dir}/sluiced.pid\nstats_interval: 1s\n" + TCP_ONLY
    with Sluiced(tmp_path, conf) as d:
        pid = int((d.dir / "sluiced.pid").read_text())
        assert pid == d.proc.pid
        tcp_send(d.port("tcp"), [b"<13>Nov 22 04:56:13 h app: x"])
        wait_for(lambda: "stats: input tcp received=1" in d.log_text(), what="stats line")
        assert "action all enqueued=1 delivered=1" in d.log_text()
    assert not (d.dir / "sluiced.pid").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_privilege_drop_after_binding(tmp_path):
    import shutil
    import tempfile
    nobody = pwd.getpwnam("nobody")
    out = tempfile.mkdtemp(prefix="sluice-nobody-", dir="/tmp")  # reachable by nobody
    os.chmod(out, 0o777)
    try:
        conf = "user: nobody\n" + TCP_ONLY.replace("{dir}/all.log", out + "/all.log")
        with Sluiced(tmp_path, conf) as d:
            port = d.port("tcp")
            def uids():
                with open(f"/proc/{d.proc.pid}/status") as f:
                    return next(l for l in f if l.startswith("Uid:")).split()[1:]
            # The control socket (which start() waits for) is made before the drop.
            wait_for(lambda: all(int(u) == nobody.pw_uid for u in uids()), what="uid nobody")
            tcp_send(port, [b"<13>Nov 22 04:56:13 h app: as nobody"])
            d.wait_delivered("all", 1)
            assert os.stat(out + "/all.log").st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_lock_memory_fails_clearly_without_limit(tmp_path):
    """Without CAP_IPC_LOCK and with a tiny RLIMIT_MEMLOCK, mlockall fails: sluiced must say why
    and exit, not run half-locked."""
    import shutil
    import subprocess
    version = subprocess.run([str(BUILD / "sluiced"), "--version"], capture_output=True,
                             text=True).stdout
    if "address" in version or "thread" in version:
        pytest.skip("the sanitizers' runtimes turn mlockall into a no-op")
    conf = tmp_path / "s.yaml"
    conf.write_text("lock_memory: true\n" + TCP_ONLY.replace("{dir}", str(tmp_path)))
    cmd = ["prlimit", "--memlock=4096:4096"]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to drop CAP_IPC_LOCK as root")
        # Root may lock past the limit; take the capability away for this run.
        cmd += ["setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]
    r = subprocess.run(cmd + [str(BUILD / "sluiced"), "-n", "-f", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "lock_memory:" in r.stderr and "RLIMIT_MEMLOCK" in r.stderr


LEGACY = """# a classic syslog.conf
$ModLoad imudp
$UDPServerRun {udpport}
*.info;mail.none;authpriv.none;cron.none   {dir}/messages
authpriv.*                                  {dir}/secure
mail.*                                      -{dir}/maillog
$ActionQueueType LinkedList
"""


def test_legacy_syslog_conf(tmp_path):
    """A classic syslog.conf: selectors and file actions work, an unsupported directive is
    reported with its line and ignored."""
    import subprocess
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # the legacy format has no port file: take a free port
    s.close()
    conf = tmp_path / "syslog.conf"
    conf.write_text(LEGACY.replace("{udpport}", str(port)).replace("{dir}", str(tmp_path)))
    r = subprocess.run([str(BUILD / "sluiced"), "--check", "-f", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"{conf}:7:" in r.stderr and "ActionQueueType" in r.stderr
    log = open(tmp_path / "sluiced.log", "wb")
    p = subprocess.Popen([str(BUILD / "sluiced"), "-n", "-f", str(conf)], stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: b"started" in (tmp_path / "sluiced.log").read_bytes(), what="start")
        udp_send(port, [b"<14>Nov 22 04:56:13 h app: user info",      # messages
                        b"<86>Nov 22 04:56:13 h sshd: authpriv info",  # secure
                        b"<22>Nov 22 04:56:13 h postfix: mail info",   # maillog
                        b"<15>Nov 22 04:56:13 h app: user debug"])     # nowhere
        wait_for(lambda: count_lines(tmp_path / "messages") == 1 and
                 count_lines(tmp_path / "secure") == 1 and
                 count_lines(tmp_path / "maillog") == 1, what="legacy routing")
    finally:
        p.terminate()
        assert p.wait(30) == 0
        log.close()
    assert "user info" in (tmp_path / "messages").read_text()
    assert "authpriv info" in (tmp_path / "secure").read_text()
