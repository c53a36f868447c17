"""A tcp or unix-stream input with `threads: N`: N server threads, each with its own
connections (the first accepts and hands each connection to the least loaded). Every message
arrives exactly once, the counters are exact, and a reload hands every thread's connections
over. max_connections across threads: test_pipeline_malformed.test_connection_limit."""
import os
import signal
import socket
import threading

import pytest

from daemon import Sluiced, build_has, unix_connect, wait_for

HDR = b"<13>Nov 22 04:56:13 h app: "


def conf(threads, extra=""):
    return f"""
inputs:
  - {{name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{{dir}}/tcp.port", threads: {threads}{extra}}}
actions:
  - {{name: all, type: file, path: "{{dir}}/all.log", template: "${{msg}}\\n"}}
"""


def connect(where):
    if isinstance(where, int):
        return socket.create_connection(("127.0.0.1", where), timeout=60)
    return unix_connect(where, timeout=60)


def send_numbered(where, conn, n, chunk=97, started=None, gate=None):
    """n messages "cC sS" over one connection (a tcp port or a unix socket path), written in
    odd-sized chunks so that frames straddle reads; `gate` (an Event) is waited on after the
    first half."""
    data = b"".join(HDR + b"c%d s%d\n" % (conn, i) for i in range(n))
    with connect(where) as s:
        if started:
            started.release()
        half = len(data) // 2
        for off in range(0, len(data), chunk * 50):
            if gate is not None and off >= half:
                gate.wait(60)
                gate = None
            s.sendall(data[off:off + chunk * 50])


def check_exactly_once(path, conns, n):
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    seen = {}
    lines = [b" ".join(l.split(b" ")[-2:]) for l in lines[:-1]] + [b""]
    for line in lines[:-1]:
        c, s = line.split(b" ")
        key = (int(c[1:]), int(s[1:]))
        assert key not in seen, f"{line!r} twice"
        seen[key] = True
    assert len(seen) == conns * n
    for c in range(conns):
        # One connection is read by one thread: its messages keep their order.
        got = [int(l.split(b" ")[1][1:]) for l in lines[:-1] if l.startswith(b"c%d " % c)]
        assert got == list(range(n)), f"connection {c} out of order"


def task_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_threads_four_eight_connections(tmp_path):
    """threads: 4, eight connections at once: every message exactly once and in order per
    connection, the counters exact, and three more server threads than with threads: 1."""
    conns, n = 8, 5000
    # The daemon answers before every thread has started: count once a message went through
    # (the input's and the action's threads run), and wait for the three more.
    with Sluiced(tmp_path / "one", conf(1)) as one:
        send_numbered(one.port("tcp"), 0, 1)
        wait_for(lambda: one.action("all")["delivered"] == 1, what="one message delivered")
        base = task_count(one.proc.pid)
    with Sluiced(tmp_path / "four", conf(4)) as d:
        wait_for(lambda: task_count(d.proc.pid) == base + 3, what="three more server threads")
        port = d.port("tcp")
        ts = [threading.Thread(target=send_numbered, args=(port, c, n)) for c in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        d.wait_delivered("all", conns * n)
        wait_for(lambda: d.input("tcp")["open_connections"] == 0, what="all closed")
        i = d.input("tcp")
        assert i["received"] == conns * n, i
        assert i["connections"] == conns and i["connections_refused"] == 0, i
        assert (i["malformed"], i["truncated"], i["incomplete"]) == (0, 0, 0), i
        a = d.action("all")
        assert a["enqueued"] == a["delivered"] == conns * n, a
    assert d.proc.returncode == 0
    d.check_log_clean()
    check_exactly_once(d.dir / "all.log", conns, n)


def test_threads_reload_hands_over_every_thread(tmp_path):
    """threads: 2, six connections, each stopped halfway while a reload (SIGHUP) runs: the
    connections and their partial frames stay with their threads and every message arrives
    exactly once (in the old actions' file or the new ones': the same path)."""
    conns, n = 6, 4000
    with Sluiced(tmp_path, conf(2)) as d:
        port = d.port("tcp")
        gate = threading.Event()
        started = threading.Semaphore(0)
        ts = [threading.Thread(target=send_numbered, args=(port, c, n),
                               kwargs={"started": started, "gate": gate}) for c in range(conns)]
        for t in ts:
            t.start()
        for _ in range(conns):
            started.acquire()
        wait_for(lambda: d.input("tcp")["open_connections"] == conns, what="all connected")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in d.log_text(), what="reload")
        gate.set()
        for t in ts:
            t.join()
        wait_for(lambda: d.input("tcp")["received"] == conns * n, what="all received")
        d.wait_delivered("all", 1)
        wait_for(lambda: d.action("all")["queued"] == 0, what="drained")
        i = d.input("tcp")
        assert i["connections"] == conns and i["connections_refused"] == 0, i
        assert (i["malformed"], i["truncated"], i["incomplete"]) == (0, 0, 0), i
    assert d.proc.returncode == 0
    d.check_log_clean()
    check_exactly_once(d.dir / "all.log", conns, n)


def test_threads_changed_by_reload(tmp_path):
    """A reload that changes `threads` replaces the input (a new socket, here a new port 0);
    the new one serves."""
    with Sluiced(tmp_path, conf(2)) as d:
        with socket.create_connection(("127.0.0.1", d.port("tcp")), timeout=10) as s:
            s.sendall(HDR + b"c0 s0\n")
        d.wait_delivered("all", 1)
        (d.dir / "tcp.port").unlink()
        d.write_config(conf(3))
        d.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in d.log_text(), what="reload")
        with socket.create_connection(("127.0.0.1", d.port("tcp")), timeout=10) as s:
            s.sendall(HDR + b"c0 s1\n")
        wait_for(lambda: d.action("all")["delivered"] == 1, what="delivered after reload")
    assert d.proc.returncode == 0
    d.check_log_clean()
    assert (d.dir / "all.log").read_bytes() == b"c0 s0\nc0 s1\n"


def test_threads_unix_stream(tmp_path):
    """threads: 3 on a unix-stream input: six connections, every message exactly once."""
    conns, n = 6, 3000
    text = """
inputs:
  - {name: loc, type: unix-stream, path: "{dir}/s.sock", threads: 3}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
"""
    with Sluiced(tmp_path, text) as d:
        path = d.dir / "s.sock"
        ts = [threading.Thread(target=send_numbered, args=(path, c, n)) for c in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        d.wait_delivered("all", conns * n)
        wait_for(lambda: d.input("loc")["open_connections"] == 0, what="all closed")
        i = d.input("loc")
        assert i["received"] == conns * n and i["connections"] == conns, i
    assert d.proc.returncode == 0
    d.check_log_clean()
    check_exactly_once(d.dir / "all.log", conns, n)


@pytest.mark.parametrize("kind", ["unix", "relp"])
def test_threads_refused_elsewhere(tmp_path, kind):
    """Only tcp, unix-stream and udp inputs take more than one thread; the configuration says
    so rather than ignoring the key."""
    if kind == "relp" and not build_has("relp"):
        pytest.skip("built without librelp: a relp input is refused for that first")
    where = 'path: "{dir}/s.sock"' if kind == "unix" else 'listen: "127.0.0.1:0"'
    text = f"""
inputs:
  - {{name: other, type: {kind}, {where}, threads: 2}}
actions:
  - {{name: all, type: file, path: "{{dir}}/all.log"}}
"""
    d = Sluiced(tmp_path, text)
    with pytest.raises(AssertionError, match="exited with"):
        d.start()
    d.stop()
    assert "threads: only tcp, unix-stream and udp inputs take more than one" in d.log_text()
