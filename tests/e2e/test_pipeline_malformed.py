"""A malformed-input storm against one running sluiced: oversize frames, octet counts that lie
or are not numbers, frames cut by the end of the connection, connections that send half a
frame and stay open, NUL bytes, invalid UTF-8, a broken RFC 5424 header, random bytes over
TCP and UDP, empty and oversize datagrams. After each step the daemon must still deliver a
normal message, and the counters must explain every message: each step's change of received,
truncated, incomplete and malformed is what that input should produce, and everything received
is delivered by the catch-all action, one valid JSON line each. Then the connection limit."""
import json
import random
import socket

import pytest

from daemon import Sluiced, assert_accounting, tcp_send, udp_send, wait_for

MAX = 1024  # max_message_size

CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port", max_message_size: 1KiB}
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port", max_message_size: 1KiB,
     receive_buffer: 4MiB}
actions:
  - {name: all, type: file, path: "{dir}/all.json", template: json}
"""

HDR = b"<13>Nov 22 04:56:13 h app: "
KEYS = ("received", "truncated", "incomplete", "malformed")


def send_raw(port, data, close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    if close:
        s.close()
    return s


class Storm:
    def __init__(self, d):
        self.d = d
        self.tcp = d.port("tcp")
        self.udp = d.port("udp")
        self.canary = 0
        self.snap = self.inputs()

    def inputs(self):
        return {i["name"]: i for i in self.d.stats()["inputs"]}

    def step(self, what, expect, input="tcp", exact=True):
        """Waits until input's counters have moved by expect (a dict over KEYS; those not
        named must not move when exact), then checks that a normal message still goes
        through and that every message received so far was delivered."""
        want = {k: self.snap[input][k] + expect.get(k, 0) for k in KEYS}

        def moved():
            cur = self.inputs()[input]
            return all(cur[k] >= want[k] for k in KEYS if k in expect)
        wait_for(moved, what=f"{what}: counters {expect}")
        self.alive(what)
        cur = self.inputs()[input]
        if exact:
            got = {k: cur[k] - self.snap[input][k] for k in KEYS}
            if input == "tcp":
                got["received"] -= 1  # the canary
            assert got == {k: expect.get(k, 0) for k in KEYS}, f"{what}: {got} != {expect}"
        self.snap = self.inputs()

    def alive(self, what):
        """A normal message after the step is delivered: the daemon is up and not stuck."""
        self.canary += 1
        assert self.d.proc.poll() is None, f"sluiced died after {what}:\n{self.d.log_text()[-3000:]}"
        before = self.inputs()["tcp"]["received"]
        tcp_send(self.tcp, [HDR + b"canary %d" % self.canary])
        wait_for(lambda: self.inputs()["tcp"]["received"] > before, what=f"canary after {what}")

        def settled():
            # One snapshot: everything received so far delivered, nothing queued.
            st = self.d.stats()
            assert_accounting(st)
            a = st["actions"][0]
            return a["queued"] == 0 and a["delivered"] == sum(i["received"] for i in st["inputs"])
        wait_for(settled, what=f"delivery after {what}")


def test_malformed_storm(tmp_path):
    rnd = random.Random(1234)
    with Sluiced(tmp_path, CONFIG) as d:
        st = Storm(d)
        port = st.tcp

        # Oversize frames are cut at max_message_size and counted; the next frame is intact.
        send_raw(port, HDR + b"LONGLINE" + b"L" * 5000 + b"\n" + HDR + b"after long line\n")
        st.step("oversize line", {"received": 2, "truncated": 1})
        big = HDR + b"O" * 5000
        send_raw(port, b"%d %s" % (len(big), big) + b"%d %s" % (len(HDR) + 5, HDR + b"after"))
        st.step("oversize octet frame", {"received": 2, "truncated": 1})

        # Octet counts that lie: larger than what comes before the close (kept, counted
        # incomplete and truncated), or the header alone (nothing to keep: incomplete only).
        send_raw(port, b"200 " + HDR + b"short")
        st.step("count larger than the data", {"received": 1, "incomplete": 1, "truncated": 1})
        send_raw(port, b"200 ")
        st.step("count header only", {"incomplete": 1})
        # Counts that are not counts are read as lines.
        send_raw(port, b"12x hello\n99999999999 too big a count\n0 leading zero\n123")
        st.step("non-numeric counts", {"received": 4})

        # NUL bytes, invalid UTF-8, a broken RFC 5424 header.
        send_raw(port, HDR + b"a\x00b\x00c\n" + HDR + b"\xff\xfe\xc3\x28 bad utf-8\n"
                 + b"<13>1 2003-13-45T99:99:99Z h a - - - impossible date\n")
        st.step("NUL, invalid UTF-8, broken RFC 5424", {"received": 3, "malformed": 1})

        # Connections that send half a frame and stay open: they hold no one up, and when they
        # close, each half frame is kept and counted.
        slow = [send_raw(port, b"300 " + HDR + b"half %d" % i, close=False) for i in range(100)]
        wait_for(lambda: st.inputs()["tcp"]["open_connections"] >= 100, what="100 open")
        st.alive("100 half-open connections")
        assert st.inputs()["tcp"]["incomplete"] == st.snap["tcp"]["incomplete"]
        st.snap = st.inputs()
        for s in slow:
            s.close()
        st.step("closing the half-open connections",
                {"received": 100, "incomplete": 100, "truncated": 100})

        # Random bytes: what they frame into cannot be predicted, but all of it is received and
        # delivered (checked by each step), and the daemon stays up.
        for i in range(20):
            send_raw(port, bytes(rnd.getrandbits(8) for _ in range(20000)))
        st.step("random bytes over TCP", {}, exact=False)

        # UDP: random, empty and oversize datagrams; every one is a message.
        dgrams = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 1500))) for _ in range(300)]
        dgrams += [b""] * 5 + [HDR + b"U" * 3000] * 10
        udp_send(st.udp, dgrams)
        over = sum(len(x) > MAX for x in dgrams)

        def udp_accounted():
            u = st.inputs()["udp"]
            return u["received"] + u["dropped"]["kernel"] >= len(dgrams)
        wait_for(udp_accounted, what="datagrams accounted")
        u = st.inputs()["udp"]
        assert u["received"] + u["dropped"]["kernel"] == len(dgrams), u
        if u["dropped"]["kernel"] == 0:
            assert u["truncated"] == over, u
        st.step("UDP storm", {}, input="udp", exact=False)

        final = d.stats()
        assert_accounting(final)
    assert d.proc.returncode == 0
    d.check_log_clean()
    received = sum(i["received"] for i in final["inputs"])
    lines = (d.dir / "all.json").read_bytes().split(b"\n")
    assert lines[-1] == b""
    recs = [json.loads(l) for l in lines[:-1]]  # every line one valid JSON object
    assert len(recs) == received == final["actions"][0]["delivered"]
    msgs = [r["msg"] for r in recs]
    assert "a\x00b\x00c" in msgs
    assert any(m.startswith("\ufffd") and m.endswith("bad utf-8") for m in msgs)
    cut = [m for m in msgs if m.startswith("LONGLINE")]
    assert len(cut) == 1 and len(HDR) + len(cut[0]) == MAX
    assert sum(m.startswith("half ") for m in msgs) == 100
    assert sum(m.startswith("canary ") for m in msgs) == st.canary


LIMIT = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port", max_connections: 5,
     threads: %d}
actions:
  - {name: all, type: file, path: "{dir}/all.log"}
"""


def closed_by_peer(s):
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("threads", [1, 2])
def test_connection_limit(tmp_path, threads):
    """max_connections: 5. Five connections are served; three more are refused (closed at
    once, counted); when one of the five closes, a new one is served. With two server threads
    the limit holds for the input, whichever thread holds the connections."""
    with Sluiced(tmp_path, LIMIT % threads) as d:
        port = d.port("tcp")
        held = [send_raw(port, HDR + b"held %d\n" % i, close=False) for i in range(5)]
        d.wait_delivered("all", 5)
        assert d.input("tcp")["open_connections"] == 5
        extra = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        wait_for(lambda: d.input("tcp")["connections_refused"] == 3, what="3 refused")
        assert all(closed_by_peer(s) for s in extra)
        for s in extra:
            s.close()
        held[0].sendall(HDR + b"still served\n")
        d.wait_delivered("all", 6)
        held[0].close()
        wait_for(lambda: d.input("tcp")["open_connections"] == 4, what="one closed")
        tcp_send(port, [HDR + b"a new one"])
        d.wait_delivered("all", 7)
        i = d.input("tcp")
        assert i["connections"] == 6 and i["connections_refused"] == 3, i
        assert i["received"] == 7
        for s in held[1:]:
            s.close()
    assert d.proc.returncode == 0
