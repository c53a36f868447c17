"""Fault (c): the output's disk fills up.

A file action writes into a small tmpfs of its own that a filler file has nearly filled; the
daemon's other files (configuration, log, control socket, work_dir with the disk queue) lie
outside it. Numbered messages stream into the tcp input until the output's writes fail with
ENOSPC. Then the daemon must still run, say so in its log, show the trouble in the action's
counters (suspended, suspensions, queued rising) and keep everything queued; once the filler
is deleted it must write on by itself: every message exactly once, no line split or merged.

Two variants: the default memory queue, and a disk-assisted queue (memory_messages: 1000) that
spills what is blocked into work_dir while the output cannot write.

The mount needs root (CAP_SYS_ADMIN); without it the test skips and says why.
"""
import errno
import os
import pathlib
import subprocess
import time

import pytest

from faultlib import PAD, Sluiced, count, line, report, scaled, wait_for
from daemon import Sender, StatsMonitor, assert_accounting

MIB = 1 << 20
# What the file action writes per message: "${msg}\n".
RECORD = len(line(0, PAD).split(b": ", 1)[1]) + 1
ENOSPC_TEXT = os.strerror(errno.ENOSPC)  # "No space left on device"

CONFIG = """
work_dir: "{dir}/work"
shutdown_timeout: 5s
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - name: out
    type: file
    path: "%(out)s"
    template: "${msg}\\n"
    queue: {size: %(size)d, retry_min: 20ms, retry_max: 500ms%(queue)s}
"""


class Tmpfs:
    """A tmpfs of `size` bytes mounted on path for the test; unmounted on exit."""

    def __init__(self, path, size):
        self.path = pathlib.Path(path)
        self.size = size
        self.mounted = False

    def __enter__(self):
        self.path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs",
                            str(self.path)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
        self.mounted = True
        return self

    def free(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def __exit__(self, *exc):
        if self.mounted:
            r = subprocess.run(["umount", str(self.path)], capture_output=True, text=True)
            assert r.returncode == 0, f"umount {self.path}: {r.stderr}"


def fill(path, leave):
    """Writes a filler file into the filesystem of path that leaves about `leave` bytes free."""
    st = os.statvfs(path.parent)
    size = st.f_bavail * st.f_frsize - leave
    assert size > 0
    with open(path, "wb") as f:
        block = b"\0" * MIB
        while size > 0:
            size -= f.write(block[:min(size, MIB)])


def check_lines(path, n):
    """Every line of path is exactly one expected record ("seq=NNNNNNN <pad>"): none split,
    merged or damaged. Returns the counts by number."""
    bad = []
    counts = count(path, partial=bad)
    assert not bad, f"{len(bad)} lines without a number, e.g. {bad[:3]}"
    with open(path, "rb") as f:
        for k, l in enumerate(f):
            s = int(l[4:11]) if l.startswith(b"seq=") and l[4:11].isdigit() else -1
            if not (0 <= s < n and l == b"seq=%07d %s\n" % (s, PAD)):
                raise AssertionError(f"line {k + 1} is not one whole record: {l[:300]!r}")
    return counts


@pytest.mark.parametrize("queue", ["memory", "disk"])
def test_disk_full(tmp_path, queue):
    t0 = time.monotonic()
    n = scaled(50000)
    total = n * RECORD
    # The filler leaves 1 MiB, or an eighth of the stream if that is less (a sanitizer build
    # sends fewer messages), so that the disk fills early in the stream; without it the
    # tmpfs has room for every record.
    leave = min(MIB, total // 8 // 4096 * 4096)
    size = max(4 * MIB, (total + 2 * MIB + MIB - 1) // MIB * MIB)
    qconf = ", type: disk, memory_messages: 1000, sync: interval" if queue == "disk" else ""
    with Tmpfs(tmp_path / "disk", size) as fs:
        out = fs.path / "out.log"
        filler = fs.path / "filler"
        fill(filler, leave)
        d = Sluiced(tmp_path / "d", CONFIG % {"out": out, "queue": qconf, "size": 2 * n})
        peak = {"queued": 0, "suspended": False}

        def watch(st):
            assert_accounting(st)
            a = next(x for x in st["actions"] if x["name"] == "out")
            peak["queued"] = max(peak["queued"], a["queued"])
            peak["suspended"] |= a["suspended"]

        try:
            d.start()
            with StatsMonitor(d, watch, interval=0.05) as mon:
                sender = Sender(d.port("in"), n, lambda i: line(i, PAD), timeout=120).start()
                # The disk fills: the writes fail, the action suspends, messages queue up.
                wait_for(lambda: ENOSPC_TEXT in d.log_text(), 60, "ENOSPC in the log")
                wait_for(lambda: d.action("out")["suspended"], 30, "the action suspended")
                sender.join()
                wait_for(lambda: d.input("in")["received"] == n, 60, "all messages received")
                blocked = d.action("out")
                assert blocked["enqueued"] == n
                assert blocked["suspended"] and blocked["suspensions"] > 0, blocked
                # Blocked early: past what fitted, at most the output's buffered backlog
                # (4 x 64 KiB, counted as delivered) went on.
                assert blocked["delivered"] < (leave + 320 * 1024) // RECORD, blocked
                assert blocked["queued"] == n - blocked["delivered"], blocked
                assert blocked["failed"] == 0 and blocked["discarded"] == 0, blocked
                assert fs.free() < RECORD, f"{fs.free()} bytes free: the disk is not full"
                assert out.stat().st_size < total
                if queue == "disk":
                    # The blocked messages spilled into work_dir, not into memory.
                    qdir = d.dir / "work" / "queues" / "out"
                    spilled = sum(p.stat().st_size for p in qdir.iterdir() if p.is_file())
                    assert spilled > (blocked["queued"] - 1000) * RECORD, (spilled, blocked)
                # Still blocked a moment later: nothing delivered, the suspensions go on.
                before = blocked["suspensions"]
                wait_for(lambda: d.action("out")["suspensions"] > before + 2, 30,
                         "further suspensions while the disk is full")
                assert d.action("out")["delivered"] == blocked["delivered"]
                log = d.log_text()
                enospc = [l for l in log.splitlines() if ENOSPC_TEXT in l]
                assert any(str(out) in l for l in enospc), f"the log does not name the file:\n{log}"
                assert len(enospc) <= 3, f"ENOSPC logged again and again:\n{log[-3000:]}"
                # Space comes back: delivery resumes by itself.
                filler.unlink()
                d.wait_delivered("out", n, timeout=120)
                wait_for(lambda: "writing again" in d.log_text(), 30, "the recovery in the log")
                mon.stop()
            final = d.action("out")
            rc = d.stop()
            assert rc == 0, f"sluiced exited with {rc}:\n{d.log_text()[-4000:]}"
            d.check_log_clean()
        finally:
            d.stop()
        counts = check_lines(out, n)
        extra = (f"queue={queue} suspensions={final['suspensions']} peak_queued={peak['queued']} "
                 f"blocked_after={blocked['delivered']} snapshots={mon.snapshots} "
                 f"t={time.monotonic() - t0:.1f}s")
        missing, dups = report(f"c disk full ({queue} queue)", n, counts, extra)
        assert not missing, f"lost {len(missing)}: {missing[:20]}"
        assert dups == 0
        assert final["delivered"] == n and final["failed"] == 0 and final["discarded"] == 0
        assert peak["suspended"] and peak["queued"] >= blocked["queued"]


def test_disk_full_stop_and_restart(tmp_path):
    """The daemon is stopped (SIGTERM) while the disk is still full, with a disk-assisted
    queue: what the output could not write must not count as delivered; the queue keeps it in
    work_dir; started again once there is space, the daemon writes it. Every message arrives,
    no line is cut or merged, and a message twice only if it was in a batch the worker gave up
    at the shutdown deadline."""
    n, batch = scaled(50000), 256
    total = n * RECORD
    leave = min(MIB, total // 8 // 4096 * 4096)
    size = max(4 * MIB, (total + 2 * MIB + MIB - 1) // MIB * MIB)
    qconf = f", type: disk, memory_messages: 1000, sync: interval, batch: {batch}"
    with Tmpfs(tmp_path / "disk", size) as fs:
        out = fs.path / "out.log"
        filler = fs.path / "filler"
        fill(filler, leave)
        conf = CONFIG.replace("shutdown_timeout: 5s", "shutdown_timeout: 1s")
        d = Sluiced(tmp_path / "d", conf % {"out": out, "queue": qconf, "size": 2 * n})
        try:
            d.start()
            sender = Sender(d.port("in"), n, lambda i: line(i, PAD), timeout=120).start()
            wait_for(lambda: d.action("out")["suspended"], 60, "the action suspended")
            sender.join()
            wait_for(lambda: d.input("in")["received"] == n, 60, "all messages received")
            rc = d.stop()
            assert rc == 0, f"sluiced exited with {rc}:\n{d.log_text()[-4000:]}"
            first = d.final_stats()["actions"]["out"]
            # Counted delivered = written: what the file holds, record for record.
            in_file = sum(count(out).values())
            assert first["delivered"] == in_file, (first, in_file)
            assert first["failed"] == 0 and first["discarded"] == 0, first
            filler.unlink()
            d.start()
            wait_for(lambda: sum(count(out).values()) >= n and d.action("out")["queued"] == 0,
                     120, "the rest written after the restart")
            rc = d.stop()
            assert rc == 0, f"sluiced exited with {rc}:\n{d.log_text()[-4000:]}"
            d.check_log_clean()
        finally:
            d.stop()
        partial = []
        counts = count(out, partial=partial)
        missing, dups = report("c disk full, stopped and restarted (disk queue)", n, counts,
                               f"delivered_before_stop={first['delivered']} "
                               f"queued_at_stop={first['queued']} partial_lines={len(partial)}")
        assert not partial, f"lines cut or merged: {partial[:3]}"
        assert not missing, f"lost {len(missing)}: {missing[:20]}"
        assert dups <= batch, f"{dups} duplicates, more than one batch"
