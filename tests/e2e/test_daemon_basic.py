"""sluiced basics: --check and --version, TCP/UDP/unix inputs to a file, routing with select,
where and stop, and the accounting identity."""
import json
import pathlib
import shutil
import socket
import subprocess

import pytest

from daemon import BUILD, Sluiced, count_lines, tcp_send, udp_send, unix_connect, wait_for


def run(*args, **kw):
    return subprocess.run([str(BUILD / "sluiced"), *args], capture_output=True, text=True, **kw)


def test_version_lists_modules():
    r = run("--version")
    assert r.returncode == 0
    assert "sluiced" in r.stdout and "outputs: file forward" in r.stdout
    assert "pcre2=" in r.stdout


def test_check_reports_file_line_column(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("inputs:\n  - {name: t, type: tcp, listen: '127.0.0.1:0'}\n"
                    "actions:\n  - name: a\n    type: file\n    pth: /tmp/x\n")
    r = run("--check", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:6:5:" in r.stderr and "did you mean 'path'" in r.stderr
    conf.write_text("actions:\n  - {name: a, type: file, path: /tmp/x, select: 'mail.inf'}\n")
    r = run("--check", "-f", str(conf))
    assert r.returncode == 1 and f"{conf}:2:" in r.stderr and "inf" in r.stderr


def test_check_accepts_default_config():
    r = run("--check")
    assert r.returncode == 0, r.stderr


CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port"}
  - {name: local, type: unix, path: "{dir}/log.sock"}
actions:
  - {name: all, type: file, path: "{dir}/all.log"}
  - {name: auth, type: file, path: "{dir}/auth.log", select: "auth,authpriv.*"}
  - {name: errors, type: file, path: "{dir}/err.json", template: json,
     where: 'severity <= 3 and app_name != "noisy"'}
  - {name: drop-debug, type: discard, select: "*.=debug", stop: true}
  - {name: after-stop, type: file, path: "{dir}/after.log"}
"""


def test_tcp_udp_unix_to_files_with_rules(tmp_path):
    with Sluiced(tmp_path, CONFIG) as d:
        tcp = d.port("tcp")
        udp = d.port("udp")
        lines = [b"<38>Nov 22 04:56:13 host1 sshd[42]: accepted %d" % i for i in range(100)]
        lines += [b"<11>Nov 22 04:56:13 host1 app: error %d" % i for i in range(10)]
        lines += [b"<11>Nov 22 04:56:13 host1 noisy: error %d" % i for i in range(5)]
        lines += [b"<15>Nov 22 04:56:13 host1 dbg: debug %d" % i for i in range(7)]
        tcp_send(tcp, lines[:60])
        tcp_send(tcp, lines[60:], octet=True)
        udp_send(udp, [b"<14>Nov 22 04:56:13 host2 udpapp: over udp %d" % i for i in range(20)])
        wait_for(lambda: d.input("udp")["received"] == 20, what="20 UDP datagrams")
        if shutil.which("logger"):
            subprocess.run(["logger", "-u", str(d.dir / "log.sock"), "-t", "viaunix", "-p",
                            "user.info", "local hello"], check=True)
            n_unix = 1
        else:
            n_unix = 0
        total = len(lines) + 20 + n_unix
        d.wait_delivered("all", total)
        d.wait_delivered("after-stop", total - 7)
        assert count_lines(d.dir / "all.log") == total
        assert count_lines(d.dir / "auth.log") == 100  # facility 4 (auth)
        assert count_lines(d.dir / "err.json") == 10  # severity 3, not the noisy app
        assert count_lines(d.dir / "after.log") == total - 7  # debug stopped before it
        text = (d.dir / "all.log").read_text()
        assert "Nov 22 04:56:13 host1 sshd[42]: accepted 0\n" in text
        if n_unix:
            assert "viaunix" in text
        st = d.stats()
        for a in st["actions"]:
            assert a["enqueued"] == a["delivered"] + a["failed"] + a["discarded"] + a["queued"]
        assert d.input("tcp")["received"] == len(lines)
        assert d.input("tcp")["malformed"] == 0
    assert d.proc.returncode == 0


def test_sluicectl_stats_and_reload(tmp_path):
    import json
    conf = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: all, type: file, path: "{dir}/all.log"}
"""
    with Sluiced(tmp_path, conf) as d:
        tcp_send(d.port("tcp"), [b"<13>Nov 22 04:56:13 h app: one"])
        d.wait_delivered("all", 1)
        ctl = [str(BUILD / "sluicectl"), "stats", "-s", str(d.ctl)]
        r = subprocess.run(ctl, capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["actions"][0]["delivered"] == 1 and st["inputs"][0]["received"] == 1
        r = subprocess.run([str(BUILD / "sluicectl"), "reload", "-s", str(d.ctl)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0 and "scheduled" in r.stdout
        wait_for(lambda: "configuration reloaded" in d.log_text(), what="reload logged")
        # The reloaded daemon still works (new port file after rebinding).
        tcp_send(d.port("tcp"), [b"<13>Nov 22 04:56:14 h app: two"])
        wait_for(lambda: count_lines(d.dir / "all.log") == 2, what="line after reload")
    r = subprocess.run([str(BUILD / "sluicectl"), "stats", "-s", str(tmp_path / "nope.sock")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "cannot reach sluiced" in r.stderr


def test_reload_under_load_loses_nothing(tmp_path):
    """SIGHUP reloads while one TCP connection streams: the input is handed over with its
    connection and partial frame, the old actions drain, and every line arrives once."""
    import signal
    import socket
    import threading
    conf = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
"""
    n = 200000
    with Sluiced(tmp_path, conf) as d:
        port = d.port("tcp")
        def send():
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                for i in range(0, n, 500):
                    s.sendall(b"".join(b"<13>Nov 22 04:56:13 h app: seq %08d\n" % j
                                       for j in range(i, min(n, i + 500))))
        t = threading.Thread(target=send)
        t.start()
        reloads = 0
        while t.is_alive() and reloads < 5:
            before = d.log_text().count("configuration reloaded")
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.log_text().count("configuration reloaded") > before,
                     what="reload")
            reloads += 1
        t.join(60)
        wait_for(lambda: count_lines(d.dir / "all.log") >= n, timeout=60, what="all lines")
        d.wait_delivered("all", 0)
    seqs = [l.split()[-1] for l in (d.dir / "all.log").read_text().splitlines()]
    assert len(seqs) == n and sorted(seqs) == ["%08d" % i for i in range(n)]
    assert reloads >= 1


@pytest.mark.parametrize("threads", [1, 4])
def test_thousands_of_connections(tmp_path, threads):
    """3000 TCP connections open at once, each sends one line (half of them octet-counted);
    every line arrives and the open-connection count follows (also spread over 4 threads)."""
    import resource
    import socket
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 3000
    if hard != resource.RLIM_INFINITY and hard < want + 100:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want + 100), hard))
    conf = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port", threads: THREADS}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
""".replace("THREADS", str(threads))
    socks = []
    try:
        with Sluiced(tmp_path, conf) as d:
            port = d.port("tcp")
            for i in range(want):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
            wait_for(lambda: d.input("tcp")["open_connections"] == want, timeout=60,
                     what=f"{want} open connections")
            for i, s in enumerate(socks):
                line = b"<13>Nov 22 04:56:13 h app: conn %05d" % i
                s.sendall(b"%d %s" % (len(line), line) if i % 2 else line + b"\n")
            for s in socks:
                s.close()
            socks = []
            d.wait_delivered("all", want, timeout=60)
            wait_for(lambda: d.input("tcp")["open_connections"] == 0, what="all closed")
            st = d.input("tcp")
            assert st["connections"] == want and st["received"] == want
        got = sorted((d.dir / "all.log").read_text().split("\n")[:-1])
        assert got == ["conn %05d" % i for i in range(want)]
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("threads", [1, 4])
def test_out_of_descriptors_refuses_and_recovers(tmp_path, threads):
    """With RLIMIT_NOFILE at 64, connections beyond it are refused and counted (not left
    pending to spin the input thread), and service resumes when descriptors free up; with 4
    threads the limit holds for the input as a whole."""
    import shutil
    import socket
    if not shutil.which("prlimit"):
        pytest.skip("prlimit (util-linux) missing")
    conf = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port", threads: THREADS}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
""".replace("THREADS", str(threads))
    d = Sluiced(tmp_path, conf)
    d.binary = "prlimit"
    import subprocess
    d.logf = open(d.log, "ab")
    d.proc = subprocess.Popen(["prlimit", "--nofile=64:64", str(BUILD / "sluiced"), "-f",
                               str(d.config_path), "-n"], stdout=d.logf,
                              stderr=subprocess.STDOUT)
    socks = []
    try:
        wait_for(d.ctl.exists, what="start")
        port = d.port("tcp")
        for i in range(100):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        wait_for(lambda: d.input("tcp")["open_connections"] +
                 d.input("tcp")["connections_refused"] == 100, what="all 100 answered")
        assert d.input("tcp")["connections_refused"] > 0
        for s in socks:
            s.close()
        socks = []
        wait_for(lambda: d.input("tcp")["open_connections"] == 0, what="closed")
        tcp_send(port, [b"<13>Nov 22 04:56:13 h app: after"])
        d.wait_delivered("all", 1)
    finally:
        for s in socks:
            s.close()
        d.stop()


def test_ipv6_tcp_and_udp(tmp_path):
    import socket
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this host")
    conf = """
inputs:
  - {name: tcp6, type: tcp, listen: "[::1]:0", port_file: "{dir}/tcp6.port"}
  - {name: udp6, type: udp, listen: "[::1]:0", port_file: "{dir}/udp6.port"}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${fromhost} ${msg}\\n"}
"""
    with Sluiced(tmp_path, conf) as d:
        with socket.create_connection(("::1", d.port("tcp6")), timeout=10) as s:
            s.sendall(b"<13>Nov 22 04:56:13 h app: over tcp6\n")
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.sendto(b"<13>Nov 22 04:56:13 h app: over udp6", ("::1", d.port("udp6")))
        d.wait_delivered("all", 2)
    text = (d.dir / "all.log").read_text()
    assert "::1 over tcp6\n" in text and "::1 over udp6\n" in text


def test_unix_socket_paths_longer_than_sun_path(tmp_path):
    """A deep directory (a CI checkout, a long work_dir) makes socket paths longer than the 107
    bytes sun_path holds: the control socket, the unix and unix-stream inputs and sluicectl still
    work; a file name that alone cannot fit is refused by name, not bound somewhere else."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    conf = """
inputs:
  - {name: dgram, type: unix, path: "{dir}/log.sock"}
  - {name: stream, type: unix-stream, path: "{dir}/stream.sock"}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
"""
    with Sluiced(deep, conf) as d:
        assert len(str(d.ctl)) > 107
        with unix_connect(d.dir / "log.sock", socket.SOCK_DGRAM) as s:
            for i in range(50):
                s.send(b"<13>Nov 22 04:56:13 app: dgram %d" % i)
        with unix_connect(d.dir / "stream.sock") as s:
            s.sendall(b"".join(b"<13>Nov 22 04:56:13 app: stream %d\n" % i for i in range(50)))
        d.wait_delivered("all", 100)
        r = subprocess.run([str(BUILD / "sluicectl"), "stats", "-s", str(d.ctl)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        st = {i["name"]: i["received"] for i in json.loads(r.stdout)["inputs"]}
        assert st == {"dgram": 50, "stream": 50}
    lines = (d.dir / "all.log").read_text().splitlines()
    assert sorted(lines) == sorted([f"dgram {i}" for i in range(50)] +
                                   [f"stream {i}" for i in range(50)])
    assert not list(tmp_path.glob("log.sock*")) and not list(pathlib.Path(".").glob("log.sock*"))

    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs:\n  - {name: u, type: unix, path: \"%s/%s\"}\n"
                   "actions:\n  - {name: a, type: discard}\n" % (tmp_path, "n" * 120))
    r = run("-n", "-f", str(bad), timeout=20)
    assert r.returncode != 0 and "file name too long" in r.stderr + r.stdout
