"""Fault (e): a RELP peer that resets connections at random: nothing lost.

    sender S (tcp input "in" -> forward, protocol relp) -> proxy (this test) -> receiver R
    (relp input -> file)

The proxy forwards bytes both ways and, at random moments drawn from a seeded random.Random,
resets both of its connections (SO_LINGER 0, then close: an RST each way). Each reset is one
of three kinds:
  - "up":   right after it passed a chunk of S's frames on to R, so frames R may or may not
            have taken are unanswered;
  - "down": it reads a chunk of R's answers and drops it instead of passing it on, so R has
            taken messages whose acknowledgements S never sees (frames in flight both ways);
  - "time": a random short time after the connection started, whatever is going on (the
            session's "open" included).
The proxy follows the RELP frames each way, to tell how many syslog frames were unanswered at
each reset.

At the end every number must be in R's file (lost == 0). RELP resends what was not
acknowledged, so duplicates are allowed, but only what was unacknowledged at a reset: at most
resets x window (the forward action's window, 128 by default: DEFAULT_WINDOW in
src/outputs/relp.c). S's action must count every message delivered, none failed or discarded.
"""
import random
import re
import select
import socket
import struct
import threading
import time

import pytest

from faultlib import Sluiced, count, line, report, scaled, wait_for
from daemon import Sender, build_has, poll_until

SEED = 20261203
WINDOW = 128  # DEFAULT_WINDOW in src/outputs/relp.c, also set explicitly below
MIN_RESETS = 5

HAVE_RELP = build_has("relp")

SENDER = """
shutdown_timeout: 5s
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - name: fwd
    type: forward
    target: "127.0.0.1:%(port)d"
    protocol: relp
    window: %(window)d
    connect_timeout: 2s
    ack_timeout: 20s
    queue: {retry_min: 20ms, retry_max: 200ms}
"""

RECEIVER = """
shutdown_timeout: 5s
inputs:
  - {name: relpin, type: relp, listen: "127.0.0.1:0", port_file: "{dir}/relpin.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log", template: "${msg}\\n"}
"""

HEADER = re.compile(rb"(\d{1,9}) ([A-Za-z]{1,32}) (\d{1,9})(?=[ \n])")


class Frames:
    """Follows the RELP frames of one direction of a connection; counts whole ones by
    command."""

    def __init__(self):
        self.buf = bytearray()
        self.counts = {}

    def feed(self, data):
        self.buf += data
        pos = 0
        while True:
            m = HEADER.match(self.buf, pos)
            if not m:
                break
            end = m.end() + (1 + int(m.group(3)) if int(m.group(3)) else 0)
            if end >= len(self.buf):
                break
            assert self.buf[end] == 0x0A, f"not RELP: {bytes(self.buf[pos:pos + 80])!r}"
            cmd = m.group(2).decode()
            self.counts[cmd] = self.counts.get(cmd, 0) + 1
            pos = end + 1
        del self.buf[:pos]

    def n(self, cmd):
        return self.counts.get(cmd, 0)


class ResettingProxy:
    """127.0.0.1:port -> 127.0.0.1:target, one thread per connection (a select loop over both
    sockets), resetting both at random moments while `armed` is set. Every thread is bounded
    by the deadline."""

    def __init__(self, target, rng, timeout, gap=(20_000, 300_000)):
        self.target, self.rng, self.gap = target, rng, gap
        self.deadline = time.monotonic() + timeout
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.armed = threading.Event()
        self.armed.set()
        self._stop = threading.Event()
        self.lock = threading.Lock()
        self.resets = []  # (kind, syslog frames unanswered, answers dropped) per reset
        self.connections = 0
        self.bytes_up = 0
        self.error = None
        self._plan()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _plan(self):
        """The next reset: its kind and after how many more bytes from S (or how long)."""
        self.kind = self.rng.choice(("up", "up", "down", "down", "time"))
        self.at = self.bytes_up + self.rng.randint(*self.gap)
        self.after = self.rng.uniform(0.001, 0.2)

    def _accept(self):
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self._threads.append(t)
            t.start()

    @staticmethod
    def _reset(*socks):
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()

    def _serve(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        except OSError:
            self._reset(c)
            return
        with self.lock:
            self.connections += 1
        started = time.monotonic()
        up, down = Frames(), Frames()
        to_u, to_c = bytearray(), bytearray()
        for s in (c, u):
            s.setblocking(False)
        try:
            while not self._stop.is_set() and time.monotonic() < self.deadline:
                r = [s for s, b in ((c, to_u), (u, to_c)) if len(b) < (1 << 20)]
                w = [s for s, b in ((u, to_u), (c, to_c)) if b]
                r, w, _ = select.select(r, w, [], 0.1)
                dropped = None
                for s in r:
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        return self._reset(c, u)  # one side closed: close the other
                    if s is c:
                        to_u += data
                    else:
                        with self.lock:
                            if (self.armed.is_set() and self.kind == "down"
                                    and self.bytes_up >= self.at):
                                dropped = Frames()
                                dropped.feed(bytes(down.buf) + data)
                                continue
                        to_c += data
                for s in w:
                    b = to_u if s is u else to_c
                    try:
                        k = s.send(b)
                    except BlockingIOError:
                        continue
                    (up if s is u else down).feed(bytes(b[:k]))
                    del b[:k]
                    if s is u:
                        with self.lock:
                            self.bytes_up += k
                with self.lock:
                    due = dropped is not None or (self.armed.is_set() and (
                        (self.kind == "up" and self.bytes_up >= self.at and u in w) or
                        (self.kind == "time" and time.monotonic() - started >= self.after)))
                    if due:
                        # The first answer is the one to "open".
                        open_frames = up.n("syslog") - max(0, down.n("rsp") - 1)
                        self.resets.append((self.kind, max(0, open_frames),
                                            dropped.n("rsp") if dropped else 0))
                        self._plan()
                if due:
                    return self._reset(c, u)
        except OSError:
            self._reset(c, u)  # S or R reset it: pass that on
        except Exception as e:  # noqa: BLE001 - reported by close()
            self.error = e
            self._reset(c, u)
        else:
            self._reset(c, u)

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self.lsock.close()
        assert not any(t.is_alive() for t in self._threads), "proxy threads did not stop"
        if self.error:
            raise self.error


@pytest.mark.skipif(not HAVE_RELP, reason="built without librelp (sluiced --version: relp=no)")
def test_relp_resets(tmp_path):
    t0 = time.monotonic()
    n = scaled(200000)
    rng = random.Random(SEED)
    rx = Sluiced(tmp_path / "rx", RECEIVER)
    tx = proxy = None
    try:
        rx.start()
        # Resets every 20-300 KB from S; less in a short stream, to have enough of them.
        hi = min(300_000, n * len(line(0)) // (3 * MIN_RESETS))
        proxy = ResettingProxy(rx.port("relpin"), rng, timeout=600, gap=(min(20_000, hi), hi))
        tx = Sluiced(tmp_path / "tx", SENDER % {"port": proxy.port, "window": WINDOW}).start()
        sender = Sender(tx.port("in"), n, line, timeout=300).start()
        sender.join()
        wait_for(lambda: tx.input("in")["received"] == n, 60, "all messages received by S")
        out = rx.dir / "out.log"
        tx.wait_delivered("fwd", n, timeout=300)
        proxy.armed.clear()
        a = tx.action("fwd")
        assert a["delivered"] == n and a["failed"] == 0 and a["discarded"] == 0, a
        poll_until(lambda: len(count(out)) >= n, 60)
        rc_tx = tx.stop()
        rc_rx = rx.stop()
        assert rc_tx == 0, f"S exited with {rc_tx}:\n{tx.log_text()[-4000:]}"
        assert rc_rx == 0, f"R exited with {rc_rx}:\n{rx.log_text()[-4000:]}"
        tx.check_log_clean()
        rx.check_log_clean()
    finally:
        if tx:
            tx.stop()
        rx.stop()
        if proxy:
            proxy.close()
    partial = []
    counts = count(out, partial=partial)
    resets = proxy.resets
    kinds = {k: sum(1 for r in resets if r[0] == k) for k in ("up", "down", "time")}
    both_ways = sum(1 for r in resets if r[1] > 0 and r[2] > 0)
    unanswered = sum(r[1] for r in resets)
    bound = len(resets) * WINDOW
    extra = (f"resets={len(resets)} (up={kinds['up']} down={kinds['down']} time={kinds['time']}"
             f" both_ways={both_ways}) connections={proxy.connections} "
             f"unanswered_at_resets={unanswered} dup_bound={bound} "
             f"suspensions={a['suspensions']} t={time.monotonic() - t0:.1f}s")
    missing, dups = report("e relp resets", n, counts, extra)
    assert not partial, f"{len(partial)} lines without a number, e.g. {partial[:3]}"
    assert not missing, f"lost {len(missing)}: {missing[:20]}"
    assert dups <= bound, f"{dups} duplicates, more than {len(resets)} resets x window {WINDOW}"
    assert len(resets) >= MIN_RESETS
    assert both_ways >= 1, f"no reset with frames in flight both ways: {resets}"
    assert "session broken, unacknowledged messages will be sent again" in tx.log_text()
