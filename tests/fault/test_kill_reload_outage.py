"""Fault tests a, b and d (issue: reliability): a kill -9 in the middle of a stream into a disk
queue with `sync: batch`, the forward target down for 30 s in the middle of a stream, and
reloads (SIGHUP) under load. Each counts, by sequence number, what reached the final file.

The relay A takes the stream on a TCP input and forwards it (TCP, octet-counted) to a sink B, a
second sluiced writing each msg to a file. The figures are reported by faultlib.report.
"""
import os
import signal
import socket
import threading
import time

from faultlib import Sluiced, count, line, report, scaled, sink, wait_for

from daemon import RateLimit, free_port

WAIT = 300.0  # bounds a hang; every wait returns as soon as its condition holds


class Stream(threading.Thread):
    """Sends line(i) for i in seqs over one TCP connection, in chunks, optionally paced to
    `rate` messages a second. A connection that breaks (the daemon killed) ends it quietly:
    .broken says so and .sent how many went out whole."""

    def __init__(self, port, seqs, chunk=500, rate=None):
        super().__init__(daemon=True)
        self.port, self.seqs, self.chunk = port, list(seqs), chunk
        self.pace = RateLimit(rate / chunk) if rate else None
        self.sent = 0
        self.broken = None
        self.error = None

    def run(self):
        deadline = time.monotonic() + WAIT
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                for i in range(0, len(self.seqs), self.chunk):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"stream: deadline passed after {self.sent}")
                    part = self.seqs[i:i + self.chunk]
                    s.sendall(b"".join(line(k) + b"\n" for k in part))
                    self.sent += len(part)
                    if self.pace:
                        self.pace()
        except (ConnectionError, BrokenPipeError) as e:
            self.broken = e
        except Exception as e:  # noqa: BLE001 - raised by finish()
            self.error = e

    def finish(self):
        self.join(WAIT)
        assert not self.is_alive(), "stream did not finish"
        if self.error:
            raise self.error
        return self


def relay(port, queue, extra=""):
    return f"""
shutdown_timeout: 30s
work_dir: "{{dir}}/work"
inputs:
  - {{name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{{dir}}/in.port"}}
actions:
  - name: fwd
    type: forward
    target: "127.0.0.1:{port}"
    protocol: tcp
    framing: octet-counted
    connect_timeout: 1s
    queue: {queue}
{extra}"""


def drained(d, name, total=None):
    """The action has nothing queued (and has delivered `total`, when given)."""
    a = d.action(name)
    return a["queued"] == 0 and (total is None or a["delivered"] == total)


def settled(b, want):
    """The sink received at least `want` messages and wrote everything it received."""
    i, a = b.input("in"), b.action("out")
    return i["received"] >= want and a["delivered"] == i["received"] and a["queued"] == 0


def forget_control_socket(d):
    """A killed daemon leaves its control socket behind; the next start makes a new one."""
    try:
        d.ctl.unlink()
    except FileNotFoundError:
        pass


# ---- a) kill -9 during a stream into a disk queue with sync: batch -----------------------------

def test_a_kill9_disk_queue_sync_batch(tmp_path):
    """A million messages (a tenth under sanitizers) stream into A, whose forward action has a
    write-through disk queue (`sync: batch`: every message is in the files before push returns).
    The sink comes up only once A has taken a third, so A holds a backlog in its files; A is
    killed with SIGKILL while the stream is still coming in and the action is delivering the
    backlog. A starts again on the same work_dir and replays what it had accepted.

    TCP has no acknowledgement, so what was in flight when A died (the kernel's buffers, A's read
    buffer) was never accepted; the input reads the connection in order and the queue is a FIFO,
    so what A accepted is a prefix of the stream. Checks: after the replay the sink has every
    message up to the last one that arrived (no hole: nothing accepted was lost); the client then
    sends the rest again, as a sender resuming after a crash would; at the end every message is
    there, duplicated at most one batch (the batch in flight when A died)."""
    n, batch = scaled(1_000_000), 1024
    port = free_port()
    queue = ("{type: disk, memory_messages: 10000, max_disk: 2GiB, sync: batch, "
             f"batch: {batch}, workers: 1, retry_min: 20ms, retry_max: 100ms}}")
    a = Sluiced(tmp_path / "a", relay(port, queue))
    b = sink(tmp_path / "b", port)
    streams = []
    try:
        a.start()
        t0 = time.monotonic()
        # Paced to last about 8 s, so that the kill comes while it still runs however fast
        # this machine syncs (a tmpfs /tmp syncs for free).
        streams.append(Stream(a.port("in"), range(n), rate=n / 8))
        streams[0].start()
        wait_for(lambda: a.action("fwd")["enqueued"] >= n // 3, WAIT, "a backlog in A")
        b.start()
        wait_for(lambda: b.input("in")["received"] >= n // 6, WAIT, "the backlog flowing")
        before = a.action("fwd")
        a.proc.kill()
        a.proc.wait()
        a.logf.close()
        streams[0].finish()
        sent_before = streams[0].sent
        still_sending = sent_before < n  # the kill cut the stream

        forget_control_socket(a)
        a.start()
        replayed = a.action("fwd")["enqueued"]
        wait_for(lambda: drained(a, "fwd", replayed), WAIT, "the replay delivered")
        wait_for(lambda: settled(b, b.input("in")["received"]), WAIT, "the sink settled")
        counts = count(b.dir / "out.log")
        last = max(counts)
        hole = [s for s in range(last) if s not in counts]
        assert not hole, (f"{len(hole)} accepted messages lost: {hole[:5]}..; replayed "
                          f"{replayed}; before the kill {before}")
        resent = n - 1 - last

        # The client resumes after what arrived.
        streams.append(Stream(a.port("in"), range(last + 1, n)))
        streams[1].start()
        streams[1].finish()
        wait_for(lambda: drained(a, "fwd", replayed + resent), WAIT, "the rest delivered")
        wait_for(lambda: settled(b, 0) and b.input("in")["received"] >= n, WAIT, "the sink")
        elapsed = time.monotonic() - t0
        st_a, st_b = a.stats(), b.stats()
    finally:
        for s in streams:
            s.join(5)
        a.stop()
        b.stop()
    a.check_log_clean()
    b.check_log_clean()
    fwd = st_a["actions"][0]
    assert (fwd["failed"], fwd["discarded"]) == (0, 0), fwd
    partial = []
    counts = count(b.dir / "out.log", partial=partial)
    missing, dups = report(
        "a kill -9, disk queue sync=batch", n, counts,
        f"batch={batch} at_kill: enqueued={before['enqueued']} queued={before['queued']} "
        f"client_sent={sent_before} stream_running={still_sending}; replayed={replayed} "
        f"resent_by_client={resent} partial_lines={len(partial)} {elapsed:.1f}s")
    # The kill came with a backlog on disk and the stream still running: a real test.
    assert still_sending and replayed >= n // 20, (still_sending, replayed)
    assert not missing, f"{len(missing)} lost: {missing[:5]}"
    assert dups <= batch, f"{dups} duplicates, more than one batch"
    # A frame the kill cut in two reaches the sink as one partial line, at most.
    assert len(partial) <= 1, partial[:2]
    assert st_b["inputs"][0]["malformed"] == 0


# ---- b) the forward target down for 30 s in the middle of the stream ---------------------------

OUTAGE = float(os.environ.get("SL_FAULT_OUTAGE", "30"))


def test_b_target_down_30s(tmp_path):
    """A streams to B at a steady rate for OUTAGE + 10 s; B stops (SIGTERM) 5 s in and comes
    back on the same port OUTAGE seconds later. Meanwhile A's forward action is suspended and
    its disk-assisted queue (`sync: interval`, 10,000 messages of memory) spills to its files.
    At the end B has every message; a message twice only if it was in the batch in flight when
    B went away."""
    n, batch = scaled(200_000), 512
    rate = n / (OUTAGE + 10)
    port = free_port()
    b = sink(tmp_path / "b", port).start()
    memory = min(10000, n // 20)
    queue = (f"{{type: disk, memory_messages: {memory}, max_disk: 1GiB, sync: interval, "
             f"batch: {batch}, retry_min: 50ms, retry_max: 1s}}")
    a = Sluiced(tmp_path / "a", relay(port, queue)).start()
    stream = None
    try:
        stream = Stream(a.port("in"), range(n), chunk=100, rate=rate)
        stream.start()
        wait_for(lambda: b.input("in")["received"] >= rate * 5, WAIT, "B receiving")
        b.signal(signal.SIGTERM)
        assert b.wait_exit(60) == 0
        first = b.final_stats()
        down_at = time.monotonic()
        wait_for(lambda: a.action("fwd")["suspended"], 30, "A's forward suspended")
        # The outage is the fault itself, a schedule: B stays away OUTAGE seconds. Halfway
        # through, the messages wait in A and the files hold the overflow.
        wait_for(lambda: time.monotonic() - down_at >= OUTAGE / 2, OUTAGE, "half the outage",
                 interval=0.2)
        mid = a.action("fwd")
        segs = list((a.dir / "work" / "queues" / "fwd").glob("*.seg"))
        spilled = sum(p.stat().st_size for p in segs)
        wait_for(lambda: time.monotonic() - down_at >= OUTAGE, OUTAGE, "the outage",
                 interval=0.2)
        peak = a.action("fwd")["queued"]
        b.start()
        stream.finish()
        wait_for(lambda: drained(a, "fwd", n), WAIT, "A delivered everything")
        wait_for(lambda: settled(b, 0), WAIT, "B settled")
        st_a = a.stats()
    finally:
        if stream:
            stream.join(5)
        a.stop()
        b.stop()
    a.check_log_clean()
    b.check_log_clean()
    assert mid["suspended"] and mid["queued"] > max(memory, rate * OUTAGE / 4), mid
    assert spilled > 0, "the disk queue wrote nothing while the target was down"
    fwd = st_a["actions"][0]
    assert fwd["enqueued"] == fwd["delivered"] == n, fwd
    assert (fwd["failed"], fwd["discarded"]) == (0, 0) and fwd["suspensions"] > 0, fwd
    partial = []
    counts = count(b.dir / "out.log", partial=partial)
    missing, dups = report(
        f"b target down {OUTAGE:.0f}s", n, counts,
        f"batch={batch} queued_at_end_of_outage={peak} spilled_bytes_midway={spilled} "
        f"suspensions={fwd['suspensions']} partial_lines={len(partial)} "
        f"b_first_run_received={first['inputs']['in']['received']}")
    assert not missing, f"{len(missing)} lost: {missing[:5]}"
    assert dups <= batch, f"{dups} duplicates, more than one batch"
    assert len(partial) <= 1, partial[:2]


# ---- d) reloads (SIGHUP) under load ---------------------------------------------------------

RELOAD_CONF = """
shutdown_timeout: 30s
work_dir: "{dir}/work"
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/in.port"}
actions:
  - {name: mem, type: file, path: "{dir}/mem.log", template: "${msg}\\n",
     queue: {size: %(size)d, batch: 64, workers: 2}}
  - {name: disk, type: file, path: "{dir}/disk.log", template: "${msg}\\n",
     queue: {type: disk, memory_messages: 500, sync: batch, batch: 128, workers: 2}}
  - {name: fwd, type: forward, target: "127.0.0.1:%(port)d", protocol: tcp,
     framing: octet-counted, queue: {type: disk, memory_messages: 2000, batch: 256}}
"""


def test_d_reload_under_load(tmp_path):
    """Two connections stream into A while it is reloaded six times (SIGHUP), the configuration
    changed every other time (a queue size): the inputs are handed over with their connections,
    the actions drained or persisted and started again. Every message reaches each of A's three
    actions (a file behind a memory queue, a file behind a write-through disk queue, a forward
    to the sink behind a disk-assisted queue) exactly once."""
    n, reloads = scaled(300_000), 6
    b = sink(tmp_path / "b").start()
    port = b.port("in")
    a = Sluiced(tmp_path / "a", RELOAD_CONF % {"size": 1000, "port": port}).start()
    streams = []
    try:
        half = n // 2
        streams = [Stream(a.port("in"), range(0, half)), Stream(a.port("in"), range(half, n))]
        for s in streams:
            s.start()
        for k in range(1, reloads + 1):
            mark = k * n // (reloads + 2)
            wait_for(lambda: a.input("in")["received"] >= mark, WAIT, f"{mark} received")
            if k % 2 == 0:
                a.write_config(RELOAD_CONF % {"size": 1000 + 100 * k, "port": port})
            before = a.log_text().count("configuration reloaded")
            a.signal(signal.SIGHUP)
            wait_for(lambda: a.log_text().count("configuration reloaded") > before, WAIT,
                     f"reload {k}")
        for s in streams:
            s.finish()
            assert s.broken is None, s.broken
        wait_for(lambda: a.input("in")["received"] == n, WAIT, "A received everything")
        for name in ("mem", "disk", "fwd"):
            wait_for(lambda: drained(a, name), WAIT, f"{name} drained")
        wait_for(lambda: settled(b, n), WAIT, "the sink settled")
        st_a = a.stats()
    finally:
        for s in streams:
            s.join(5)
        a.stop()
        b.stop()
    a.check_log_clean()
    b.check_log_clean()
    assert a.log_text().count("configuration reloaded") == reloads
    for act in st_a["actions"]:
        assert (act["failed"], act["discarded"]) == (0, 0), act
    results = {}
    for name, path in (("mem", a.dir / "mem.log"), ("disk", a.dir / "disk.log"),
                       ("fwd", b.dir / "out.log")):
        partial = []
        counts = count(path, partial=partial)
        results[name] = report(f"d reload x{reloads} -> {name}", n, counts,
                               f"partial_lines={len(partial)}") + (partial,)
    for name, (missing, dups, partial) in results.items():
        assert not missing, f"{name}: {len(missing)} lost: {missing[:5]}"
        assert dups == 0, f"{name}: {dups} duplicated"
        assert not partial, f"{name}: {partial[:2]}"
