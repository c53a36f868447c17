"""Accounting under load: several TCP senders into one input, three actions (a where filter; a
direct queue; a small memory queue with two workers, so flow control pushes back), a monitor
checking enqueued = delivered + failed + discarded + queued in every stats snapshot while the
load runs, and exact counts at the end: every message once in every file it belongs to."""
import collections
import re

from daemon import Sender, Sluiced, StatsMonitor, assert_accounting

CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - {name: errors, type: file, path: "{dir}/errors.log", template: "${severity} ${msg}\\n",
     where: 'severity <= 3'}
  - {name: direct, type: file, path: "{dir}/direct.log", template: "${msg}\\n",
     queue: {type: direct}}
  - {name: pooled, type: file, path: "{dir}/pooled.log", template: "${msg}\\n",
     queue: {type: memory, workers: 2, size: 2000, batch: 128}}
"""

SENDERS, PER_SENDER = 4, 25000
COUNTERS = ("enqueued", "delivered", "failed", "discarded")


def line(k):
    """Sender k's message i: severity i % 8, a unique "sender.seq" and some padding."""
    def make(i):
        return b"<%d>Nov 22 04:56:13 h app: m %d.%06d %s" % (8 + i % 8, k, i, b"z" * 40)
    return make


class Monotonic:
    """The snapshot check: the identity, and no counter ever going back."""

    def __init__(self):
        self.last = {}
        self.busy = 0  # snapshots taken with messages in a queue

    def __call__(self, st):
        assert_accounting(st)
        self.busy += any(a["queued"] for a in st["actions"])
        for a in st["actions"]:
            for c in COUNTERS:
                key = (a["name"], c)
                assert a[c] >= self.last.get(key, 0), f"{key} went back: {a}"
                self.last[key] = a[c]
        for i in st["inputs"]:
            assert i["received"] >= self.last.get(("in", i["name"]), 0)
            self.last[("in", i["name"])] = i["received"]


def test_accounting_under_load(tmp_path):
    n = SENDERS * PER_SENDER
    with Sluiced(tmp_path, CONFIG) as d:
        port = d.port("tcp")
        check = Monotonic()
        with StatsMonitor(d, check=check, interval=0.005) as mon:
            senders = [Sender(port, PER_SENDER, line(k), chunk=250).start() for k in range(SENDERS)]
            for s in senders:
                s.join()
            for name in ("errors", "direct", "pooled"):
                d.wait_delivered(name, n // 2 if name == "errors" else n, timeout=90)
            snapshots = mon.stop()
        final = d.stats()
    assert d.proc.returncode == 0
    d.check_log_clean()
    assert snapshots >= 5 and check.busy >= 1, f"{snapshots} snapshots, {check.busy} under load"
    assert_accounting(final)
    assert final["inputs"][0]["received"] == n and final["unmatched"] == 0
    acts = {a["name"]: a for a in final["actions"]}
    for name, want in (("errors", n // 2), ("direct", n), ("pooled", n)):
        a = acts[name]
        assert a["enqueued"] == a["delivered"] == want, a
        assert a["failed"] == a["discarded"] == a["queued"] == 0, a
    assert acts["pooled"]["high_watermark"] <= 2000
    pat = re.compile(rb"m (\d)\.(\d{6}) z{40}")
    for name, want in (("errors", n // 2), ("direct", n), ("pooled", n)):
        counts = collections.Counter()
        for l in (d.dir / f"{name}.log").read_bytes().split(b"\n")[:-1]:
            if name == "errors":
                sev, l = l.split(b" ", 1)
            m = pat.fullmatch(l)
            assert m, f"{name}: not one whole record: {l[:100]!r}"
            k, i = int(m.group(1)), int(m.group(2))
            if name == "errors":
                assert int(sev) == i % 8 <= 3
            counts[(k, i)] += 1
        assert len(counts) == want and max(counts.values()) == 1, name
