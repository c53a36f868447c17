"""Signals: SIGHUP rotation (logrotate style) while a writer streams, SIGHUP reload of a changed
or a broken configuration, and SIGTERM draining queues within shutdown_timeout."""
import os
import re
import select
import signal
import socket
import time

import pytest

from daemon import (BUILD, ClosedPort, RateLimit, Sender, Sluiced, TcpSink, assert_accounting,
                    count_lines, octet_frames, parse_stats_line, tcp_send, udp_send, wait_for)

PAD = b"p" * 60
LINE = re.compile(rb"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d h app\[(\d+)\]: seq (\d{6}) " + PAD)


def line(i):
    return b"<13>Nov 22 04:56:13 h app[%d]: seq %06d %s" % (i % 1000, i, PAD)


def reloads(d):
    return d.log_text().count("configuration reloaded")


def sighup(d):
    """Sends SIGHUP and waits until the daemon logs that the reload is done."""
    before = reloads(d)
    d.signal(signal.SIGHUP)
    wait_for(lambda: reloads(d) > before or d.proc.poll() is not None, what="reload")
    assert d.proc.poll() is None, d.log_text()[-3000:]


# ---- 5. Rotation ----------------------------------------------------------------------------

ROTATE = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: all, type: file, path: "{dir}/messages", template: traditional}
"""


def test_sighup_rotation_while_streaming(tmp_path):
    """logrotate's way: rename the file, SIGHUP, the daemon writes a new file; twice while one
    TCP connection streams. Old and new files together hold every message exactly once, and
    every line is one whole record."""
    n = 100000
    with Sluiced(tmp_path, ROTATE) as d:
        sender = Sender(d.port("tcp"), n, line, chunk=500, pace=RateLimit(80)).start()
        rotated_mid_stream = 0
        files = [d.dir / "messages"]
        # A reload builds new actions, whose counters start from zero: count lines instead.
        written = lambda: sum(count_lines(f) for f in files)
        for k, at in ((1, 25000), (2, 60000)):
            wait_for(lambda: written() >= at, what=f"{at} written")
            os.rename(d.dir / "messages", d.dir / f"messages.{k}")
            files.append(d.dir / f"messages.{k}")
            rotated_mid_stream += sender.alive()
            sighup(d)
        sender.join()
        wait_for(lambda: written() >= n and d.action("all")["queued"] == 0, timeout=60,
                 what=f"{n} lines written")
        assert_accounting(d.stats())
        assert d.input("tcp")["received"] == n
    assert d.proc.returncode == 0
    d.check_log_clean()
    assert rotated_mid_stream >= 1, "the writer had finished before the rotations"
    seen = {}
    for name in ("messages.1", "messages.2", "messages"):
        data = (d.dir / name).read_bytes()
        assert data.endswith(b"\n")
        lines = data.split(b"\n")[:-1]
        assert lines, f"{name} is empty"
        for l in lines:
            m = LINE.fullmatch(l)
            assert m, f"{name}: not one whole record: {l[:120]!r}"
            s = int(m.group(2))
            assert s not in seen, f"seq {s} in {seen[s]} and {name}"
            seen[s] = name
    assert len(seen) == n


# ---- 9. Reload ------------------------------------------------------------------------------

RELOAD_1 = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: all, type: file, path: "{dir}/all.log", template: "${msg}\\n"}
"""
RELOAD_2 = RELOAD_1 + """\
  - {name: extra, type: file, path: "{dir}/extra.log", template: "${msg}\\n",
     where: 'msg contains "odd"'}
"""
# Broken configurations (the bad action is on the last line, {last}), and what the refusal
# must say.
BROKEN = [
    (RELOAD_2 + "  - {name: bad, type: file, pth: /tmp/x}\n",
     ["{path}:{last}:", "unknown key 'pth'", "did you mean 'path'"]),
    (RELOAD_2 + "  - {name: bad, type: file, path: /tmp/x, where: 'severity <='}\n",
     ["{path}:{last}:", "where"]),
    (RELOAD_2 + "  - {name: bad, type: file, path: [unclosed\n", ["{path}:", "line {last}, column"]),
]


def batch(tag, k):
    return [b"<13>Nov 22 04:56:13 h app: %s %s %d" % (tag, b"odd" if i % 2 else b"even", i)
            for i in range(k)]


def test_sighup_reload_applies_and_refuses(tmp_path):
    with Sluiced(tmp_path, RELOAD_1) as d:
        tcp_send(d.port("tcp"), batch(b"one", 10))
        d.wait_delivered("all", 10)
        assert [a["name"] for a in d.stats()["actions"]] == ["all"]

        # A changed configuration (an action added) is applied.
        d.write_config(RELOAD_2)
        sighup(d)
        assert [a["name"] for a in d.stats()["actions"]] == ["all", "extra"]
        tcp_send(d.port("tcp"), batch(b"two", 10))
        d.wait_delivered("all", 10)
        d.wait_delivered("extra", 5)
        # Broken ones are refused with the place of the error; the running one stays.
        for i, (text, wants) in enumerate(BROKEN):
            d.write_config(text)
            last = len(d.config_path.read_text().splitlines())
            wants = [w.format(path=d.config_path, last=last) for w in wants]
            r = __import__("subprocess").run([str(BUILD / "sluiced"), "--check", "-f",
                                              str(d.config_path)], capture_output=True, text=True)
            assert r.returncode == 1, r.stdout
            before = d.log_text().count("reload refused")
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.log_text().count("reload refused") > before, what="refusal")
            log = d.log_text()
            refusal = log[log.rindex("reload refused"):]
            assert all(w in refusal for w in wants), (wants, refusal[:2000])
            assert d.proc.poll() is None
            assert [a["name"] for a in d.stats()["actions"]] == ["all", "extra"]
            tcp_send(d.port("tcp"), batch(b"three%d" % i, 10))
            # The actions of the reload above count from zero; refusals keep them.
            d.wait_delivered("all", 10 * (2 + i))
            d.wait_delivered("extra", 5 * (2 + i))
        st = d.stats()
        assert_accounting(st)
        assert d.input("tcp")["received"] == 10 * (2 + len(BROKEN))
    assert d.proc.returncode == 0
    d.check_log_clean()
    assert (d.dir / "all.log").read_bytes().count(b"\n") == 10 * (2 + len(BROKEN))
    extra = (d.dir / "extra.log").read_bytes().split(b"\n")[:-1]
    assert len(extra) == 5 * (1 + len(BROKEN)) and all(b" odd " in l for l in extra)


UDP_RELOAD = """
inputs:
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port", receive_buffer: 4KiB}
actions:
  - {name: all, type: file, path: "{dir}/all.log"}
"""


def test_reload_keeps_udp_drop_count(tmp_path):
    """The kernel's drop count belongs to the socket, which a reload hands over: after a
    burst with drops and a reload, received + dropped must still be what was sent."""
    n = 5000
    with Sluiced(tmp_path, UDP_RELOAD) as d:
        port = d.port("udp")
        udp_send(port, [b"<13>Nov 22 04:56:13 h app: burst %06d" % i for i in range(n)])

        def total():
            u = d.input("udp")
            return u["received"] + u["dropped"]["kernel"]
        wait_for(lambda: total() >= n, what="burst accounted")
        first = d.input("udp")
        assert first["dropped"]["kernel"] > 0, "a 4 KiB receive buffer dropped nothing"
        sighup(d)
        for k in range(1, 4):
            udp_send(port, [b"<13>Nov 22 04:56:13 h app: after %d" % k])
            wait_for(lambda: d.input("udp")["received"] >= first["received"] + k,
                     what="datagram after the reload")
        u = d.input("udp")
        assert u["dropped"]["kernel"] == first["dropped"]["kernel"], (first, u)
        assert u["received"] + u["dropped"]["kernel"] == n + 3
    assert d.proc.returncode == 0


# ---- 8. SIGTERM drains ----------------------------------------------------------------------

DRAIN = """
shutdown_timeout: %(timeout)s
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: file, type: file, path: "{dir}/all.log"}
  - name: fwd
    type: forward
    target: "127.0.0.1:%(port)d"
    connect_timeout: 1s
    queue: {batch: 64, retry_min: 20ms, retry_max: 100ms}
"""
SHUTDOWN_TIMEOUT = 1.0
MARGIN = 5.0  # process exit, the final flush, a slow (sanitizer) build


def sigterm_and_account(d, n):
    """SIGTERM: exit status 0 within shutdown_timeout + MARGIN, and a final stats line in which
    every action accounts for all n messages: delivered + discarded == enqueued, none queued."""
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(SHUTDOWN_TIMEOUT + MARGIN)
    took = time.monotonic() - t0
    assert rc == 0, d.log_text()[-3000:]
    d.check_log_clean()
    final = d.final_stats()
    assert final["inputs"]["tcp"]["received"] == n
    for name, a in final["actions"].items():
        assert a["enqueued"] == n, (name, a)
        assert a["queued"] == 0 and a["failed"] == 0, (name, a)
        assert a["delivered"] + a["discarded"] == a["enqueued"], (name, a)
    return final, took


BIG = b"b" * 1000


def fill(d, n):
    """n messages of about 1 KB: more than the kernel's socket buffers hold for a forward."""
    tcp_send(d.port("tcp"), [b"<13>Nov 22 04:56:13 h app: seq %06d %s" % (i, BIG) for i in range(n)])
    d.wait_delivered("file", n)


def test_sigterm_with_suspended_output(tmp_path):
    """The target is down: everything waits in the queue; SIGTERM discards it (counted) once
    shutdown_timeout has passed, and exits 0."""
    n = 5000
    with ClosedPort() as dead:
        d = Sluiced(tmp_path, DRAIN % {"timeout": "1s", "port": dead.port}).start()
        try:
            fill(d, n)
            wait_for(lambda: d.action("fwd")["suspended"] and d.action("fwd")["queued"] == n,
                     what="all queued behind a suspended action")
            assert_accounting(d.stats())
            final, took = sigterm_and_account(d, n)
        finally:
            d.stop()
    assert final["actions"]["fwd"]["discarded"] == n and final["actions"]["fwd"]["delivered"] == 0
    assert final["actions"]["file"]["delivered"] == n
    assert took >= SHUTDOWN_TIMEOUT * 0.9, f"gave up after {took:.2f}s, before shutdown_timeout"


@pytest.mark.parametrize("mode", ["slow", "stuck"])
def test_sigterm_with_slow_output(tmp_path, mode):
    """The target reads slowly (or not at all): SIGTERM must not wait for it beyond
    shutdown_timeout. What the daemon counts delivered must be what the target got."""
    n = 20000
    sink = TcpSink(mode, rate=100000)
    d = Sluiced(tmp_path, DRAIN % {"timeout": "1s", "port": sink.port}).start()
    try:
        fill(d, n)
        wait_for(lambda: d.action("fwd")["queued"] > n // 2 and (mode == "stuck" or sink.received()),
                 what="a backlog behind the slow target")
        assert_accounting(d.stats())
        final, took = sigterm_and_account(d, n)
        sink.release()
        wait_for(lambda: sink.closed == len(sink.data), what="the target read to the end")
    finally:
        d.stop()
        sink.close()
    fwd = final["actions"]["fwd"]
    assert fwd["discarded"] > 0, "the backlog was delivered in full: the target was not slow"
    records = []
    for data in sink.data:
        recs, rest = octet_frames(data)
        records += recs
        # The record being sent when the deadline cancelled the send may come cut (counted
        # discarded, not delivered); nothing else may.
        assert len(rest) < len(BIG) + 100, f"more than one record cut: {len(rest)} bytes"
    assert len(records) == fwd["delivered"], (len(records), fwd)
    assert all(r.endswith(BIG) for r in records)


RELOAD_DOWN = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: file, type: file, path: "{dir}/all.log"}
  - {name: fwd, type: forward, target: "127.0.0.1:%(port)d", connect_timeout: 1s,
     queue: {retry_min: 20ms, retry_max: 100ms}}
"""


def test_sighup_with_target_down_keeps_running(tmp_path):
    """SIGHUP while a forward target is down: files are reopened, the configuration reload is
    postponed (it would wait for the suspended queue to drain), and the daemon goes on."""
    with ClosedPort() as dead:
        d = Sluiced(tmp_path, RELOAD_DOWN % {"port": dead.port}).start()
        try:
            tcp_send(d.port("tcp"), batch(b"before", 100))
            d.wait_delivered("file", 100)
            wait_for(lambda: d.action("fwd")["suspended"], what="fwd suspended")
            d.signal(signal.SIGHUP)
            wait_for(lambda: "configuration reload postponed: action fwd" in d.log_text(),
                     what="reload postponed")
            tcp_send(d.port("tcp"), batch(b"after", 100))
            wait_for(lambda: count_lines(d.dir / "all.log") == 200, timeout=10,
                     what="messages after the SIGHUP written")
            assert d.action("fwd")["queued"] == 200
        finally:
            d.proc.kill()
            d.proc.wait()
            d.logf.close()


@pytest.mark.xfail(strict=True, reason=(
    "a configuration reload drains every old action first, so with a forward target down "
    "it is postponed (see test_sighup_with_target_down_keeps_running) instead of applied. "
    "Applying it needs a handover of running actions (or their queued messages) to the new "
    "runtime (runtime.c/sluiced.c), as inputs are handed over."))
def test_reload_with_target_down(tmp_path):
    """SIGHUP while a forward target is down: the reload must complete and the other actions
    must go on delivering; what the forward holds must stay queued (or be counted)."""
    with ClosedPort() as dead:
        d = Sluiced(tmp_path, RELOAD_DOWN % {"port": dead.port}).start()
        try:
            tcp_send(d.port("tcp"), batch(b"before", 100))
            d.wait_delivered("file", 100)
            wait_for(lambda: d.action("fwd")["suspended"], what="fwd suspended")
            before = reloads(d)
            d.signal(signal.SIGHUP)
            wait_for(lambda: reloads(d) > before, timeout=5, what="reload with a target down")
            tcp_send(d.port("tcp"), batch(b"after", 100))
            wait_for(lambda: count_lines(d.dir / "all.log") == 200, timeout=5,
                     what="messages after the reload written")
        finally:
            d.proc.kill()
            d.proc.wait()
            d.logf.close()


DIRECT_STUCK = """
shutdown_timeout: 1s
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: fwd, type: forward, target: "127.0.0.1:%(port)d", queue: {type: direct}}
"""


def block_direct_action(d):
    """Streams ~1 KB messages until the input thread is stuck in a direct delivery to a peer
    that does not read (the sender's own socket stops taking more); returns the socket."""
    s = socket.create_connection(("127.0.0.1", d.port("tcp")), timeout=10)
    s.setblocking(False)
    data = b"".join(b"<13>Nov 22 04:56:13 h app: seq %06d %s\n" % (i, BIG) for i in range(30000))
    sent = [0]

    def stuck():
        try:
            while sent[0] < len(data):
                sent[0] += s.send(data[sent[0]:sent[0] + 65536])
        except BlockingIOError:
            pass
        return sent[0] == len(data) or (sent[0] > 2000000 and not select.select([], [s], [], 0.2)[1])
    wait_for(stuck, what="the sender blocked by a stuck direct delivery")
    assert sent[0] < len(data), "everything went through: the peer was not stuck"
    return s, data[sent[0]:]


def test_stats_answer_while_direct_action_blocked(tmp_path):
    """A direct action blocked on a peer that stopped reading holds its delivery lock; reading
    the stats must not wait for it (it did: the control socket, and with it the main thread,
    hung until the peer read)."""
    sink = TcpSink("stuck")
    d = Sluiced(tmp_path, DIRECT_STUCK % {"port": sink.port}).start()
    try:
        s, rest = block_direct_action(d)
        t0 = time.monotonic()
        st = d.stats()
        assert time.monotonic() - t0 < 5
        assert_accounting(st)
        fwd = st["actions"][0]
        assert fwd["queued"] > 0, st
        sink.release()
        s.setblocking(True)
        s.sendall(rest)
        s.close()
        wait_for(lambda: d.input("tcp")["received"] == 30000 and d.action("fwd")["queued"] == 0,
                 timeout=60, what="all through once the peer reads")
        fwd = d.action("fwd")
        assert fwd["delivered"] == 30000, fwd
    finally:
        d.stop()
        sink.close()
    assert d.proc.returncode == 0


def test_sigterm_with_direct_action_and_stuck_peer(tmp_path):
    """A direct action delivers in the input thread; with a peer that stopped reading, that
    thread is blocked in the delivery. SIGTERM must still exit by the shutdown deadline (it
    hung: stopping joins the inputs first), and the counters must account for every message
    the input received: what was not delivered is counted as discarded at shutdown."""
    sink = TcpSink("stuck")
    d = Sluiced(tmp_path, DIRECT_STUCK % {"port": sink.port}).start()
    try:
        s, _ = block_direct_action(d)
        d.signal(signal.SIGTERM)
        assert d.wait_exit(SHUTDOWN_TIMEOUT + MARGIN) == 0
        s.close()
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.logf.close()
        sink.close()
    final = [l for l in d.log_text().splitlines() if "sluiced: final stats:" in l]
    assert final, d.log_text()[-2000:]
    st = parse_stats_line(final[-1])
    received = st["inputs"]["tcp"]["received"]
    fwd = st["actions"]["fwd"]
    assert received > 0 and fwd["enqueued"] == received, st
    assert fwd["queued"] == 0 and fwd["failed"] == 0, st
    assert fwd["delivered"] + fwd["discarded"] == received, st
    assert fwd["discarded"] > 0, st  # the stuck peer took nothing more after the deadline
