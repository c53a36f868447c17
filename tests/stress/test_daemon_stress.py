"""Stress tests of the real pipeline: a built sluiced, eight TCP senders, six actions.

Two TCP inputs take four connections each, tcp_a with `threads: 2` (so three input threads route
at once, tcp_a's first thread handing connections to its second, both sharing its counters);
every message goes to six actions with small queues, so flow control engages all the time:
  plain        file, custom template, memory queue of 64, 2 workers;
  filtered     file, json, a `where` that passes everything (a regex when PCRE2 is built);
  traditional  file, traditional template, select "*.*", memory queue of 256, 2 workers;
  rfc5424      file, rfc5424 template, memory queue of 64, batch 8, 2 workers, 4 KiB buffer;
  direct       file, direct queue: the three input threads deliver it in turn under its lock;
  disk         file, disk-assisted queue with 64 messages of memory, so it spills to segment
               files and reads them back, 2 workers.
Senders mix RFC 3164 and RFC 5424, LF and octet-counted framing, and write in chunks of random
size so frames straddle reads. With the daemon's fourteen threads and the senders' eight, there
are far more threads than cores.

Checks: every (connection, sequence) pair appears exactly once in every output file (and in
order in the direct action's, the one output that keeps order), the stats are exact (received ==
sent per input, enqueued == delivered per action, nothing failed, dropped or discarded), the
daemon exits 0 on SIGTERM, and its log holds no sanitizer report. Two more tests send SIGTERM
and SIGHUP (a reload that hands the connections over) in the middle of the load.

Environment:
  SL_STRESS_MESSAGES    messages per connection (default 10000);
  SL_STRESS_PRELOAD     a malloc to run the daemon with (LD_PRELOAD), checked in its maps;
  SL_STRESS_LOCK_MEMORY 1: lock_memory: true (mlockall); where the daemon cannot get the
                        privilege, the test checks that it fails with the clear error instead.
tests/stress/alloc_matrix.sh runs these over allocators and lock_memory; docs/concurrency.md
says how the CI lanes run them.
"""
import collections
import itertools
import os
import pathlib
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from daemon import Sluiced, build_has, build_sanitizers, wait_for  # noqa: E402

CONNS = 8
MESSAGES = int(os.environ.get("SL_STRESS_MESSAGES", "10000"))
PRELOAD = os.environ.get("SL_STRESS_PRELOAD", "")
LOCK_MEMORY = os.environ.get("SL_STRESS_LOCK_MEMORY", "") == "1"
# Generous: a deadline only bounds a hang; every wait returns as soon as its condition holds.
WAIT = 600.0

ACTIONS = ["plain", "filtered", "traditional", "rfc5424", "direct", "disk"]
SANITIZER_MARKS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "ThreadSanitizer:", "AddressSanitizer:"]


def config(lock_memory=False):
    regex = ' and msg =~ "^c[0-9]+ s[0-9]+ [a-z]*END$"' if build_has("pcre2") else ""
    return f"""
shutdown_timeout: 120s
work_dir: "{{dir}}/work"
lock_memory: {"true" if lock_memory else "false"}
inputs:
  - {{name: tcp_a, type: tcp, listen: "127.0.0.1:0", port_file: "{{dir}}/tcp_a.port", threads: 2}}
  - {{name: tcp_b, type: tcp, listen: "127.0.0.1:0", port_file: "{{dir}}/tcp_b.port"}}
actions:
  - name: plain
    type: file
    path: "{{dir}}/plain.log"
    template: "${{hostname}} ${{msg}}\\n"
    queue: {{size: 64, batch: 16, workers: 2}}
  - name: filtered
    type: file
    path: "{{dir}}/filtered.log"
    template: json
    where: 'app_name == "stress" and msg contains "END"{regex}'
    queue: {{size: 128, batch: 32, workers: 2}}
  - name: traditional
    type: file
    path: "{{dir}}/traditional.log"
    template: traditional
    select: "*.*"
    queue: {{size: 256, batch: 64, workers: 2}}
  - name: rfc5424
    type: file
    path: "{{dir}}/rfc5424.log"
    template: rfc5424
    buffer_size: 4KiB
    queue: {{size: 64, batch: 8, workers: 2}}
  - name: direct
    type: file
    path: "{{dir}}/direct.log"
    template: "${{msg}}\\n"
    queue: {{type: direct}}
  - name: disk
    type: file
    path: "{{dir}}/disk.log"
    template: "${{msg}}\\n"
    queue: {{type: disk, memory_messages: 64, max_disk: 1MiB, batch: 16, workers: 2}}
"""


def message(c, s, pad):
    """One message: RFC 3164 from even connections, RFC 5424 from odd ones; msg is
    "c<conn> s<seq> <letters>END", the part every template shows."""
    pri = (c * 8 + s) % 192
    body = b"c%d s%d %sEND" % (c, s, pad)
    if c % 2 == 0:
        return b"<%d>Jan  2 03:04:05 host%d stress[%d]: %s" % (pri, c, c, body)
    return b'<%d>1 2024-01-02T03:04:05.123456Z host%d stress %d - [x@1 c="%d"] %s' % (
        pri, c, c, c, body)


def frames(c, count, scale=1):
    """The framed messages connection c sends (count of them, or without end when count is
    None): LF framing on connections 0, 1, 4, 5, octet counting on the others (the inputs
    detect it per frame). scale stretches the padding."""
    rng = random.Random(c)
    octet = c % 4 >= 2
    s = 0
    while count is None or s < count:
        pad = b"abcdefghijklmnopqrstuvwxyz"[: rng.randrange(27)] * rng.randrange(1, 4 * scale)
        m = message(c, s, pad)
        yield b"%d %s" % (len(m), m) if octet else m + b"\n"
        s += 1


class Sender(threading.Thread):
    """Sends one connection's messages in chunks of random size, so that frames straddle reads.
    In a test that stops the daemon under load, a connection closed by the daemon ends the
    sender quietly, and hold() makes the sender stop sending (most likely inside a frame) but
    keep the connection open until the daemon closes it."""

    def __init__(self, c, port, count, scale=1, tolerate_reset=False):
        super().__init__(name=f"sender-{c}", daemon=True)
        self.c, self.port = c, port
        self.frames = frames(c, count, scale)
        self.tolerate_reset = tolerate_reset
        self.error = None
        self.held = threading.Event()

    def hold(self):
        self.held.set()

    def run(self):
        rng = random.Random(1000 + self.c)
        buf = b""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
                while not self.held.is_set():
                    if not buf:
                        buf = b"".join(itertools.islice(self.frames, 256))
                        if not buf:
                            break
                    n = rng.choice((1, 7, 100, 1500, 4096, 16384, 65536))
                    s.sendall(buf[:n])
                    buf = buf[n:]
                if not self.held.is_set():
                    s.shutdown(socket.SHUT_WR)
                # Wait for the daemon to close its side: it has read everything by then.
                while s.recv(4096):
                    pass
        except OSError as e:
            if not self.tolerate_reset:
                self.error = e


LINE = re.compile(rb"\bc(\d+) s(\d+) [a-z]*END\b")


def read_output(path):
    """(pairs, partial): the (conn, seq) of each complete line in order, and the lines without
    a complete message (the last frame of a connection cut by a shutdown)."""
    pairs, partial = [], []
    with open(path, "rb") as f:
        for line in f:
            found = LINE.findall(line)
            if len(found) == 1:
                pairs.append((int(found[0][0]), int(found[0][1])))
            else:
                partial.append(line)
    return pairs, partial


def check_sanitizer_clean(d):
    text = d.log_text()
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report in the daemon's log:\n{text[-20000:]}"


class StressDaemon(Sluiced):
    """Sluiced with the optional allocator preload, and an optional command prefix (prlimit,
    setpriv) the daemon runs under."""

    def __init__(self, tmp_path, conf, prefix=()):
        env = {}
        if PRELOAD:
            env["LD_PRELOAD"] = PRELOAD
        # A sanitizer report must fail the run, wherever the options come from.
        env["TSAN_OPTIONS"] = os.environ.get("TSAN_OPTIONS", "halt_on_error=1:exitcode=66")
        super().__init__(tmp_path, conf, env=env)
        self.prefix = list(prefix)

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.prefix + [self.binary, "-f", str(self.config_path), "-n"],
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.ctl.exists() or self.proc.poll() is not None, timeout=WAIT,
                 what="sluiced start")
        if self.proc.poll() is not None:
            raise AssertionError(f"sluiced exited with {self.proc.returncode}:\n{self.log_text()}")
        return self

    def stop(self, timeout=WAIT):
        return super().stop(timeout)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


def can_lock_memory():
    """Whether mlockall can succeed for the daemon: CAP_IPC_LOCK, or no RLIMIT_MEMLOCK limit
    (raised here when the hard limit allows it; the daemon inherits it)."""
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY,
                                                     resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    cap_eff = int(proc_status(os.getpid(), "CapEff") or "0", 16)
    return soft == resource.RLIM_INFINITY or bool(cap_eff & (1 << 14))


def check_environment(d):
    """The allocator asked for is the one the daemon runs with; memory is locked if asked."""
    pid = d.proc.pid
    if PRELOAD:
        maps = pathlib.Path(f"/proc/{pid}/maps").read_text()
        assert os.path.realpath(PRELOAD) in maps or PRELOAD in maps, f"{PRELOAD} not loaded"
    locked_kb = int(proc_status(pid, "VmLck") or "0")
    if LOCK_MEMORY:
        assert locked_kb > 0, "lock_memory: true but nothing is locked"
    else:
        assert locked_kb == 0
    return f"VmLck {locked_kb} kB, VmRSS {proc_status(pid, 'VmRSS')} kB"


def start_daemon(tmp_path):
    """A daemon with the configuration above, the allocator and lock_memory asked for."""
    if LOCK_MEMORY and build_sanitizers():
        pytest.skip("the sanitizers' runtimes make mlockall a no-op: lock_memory needs a plain build")
    if LOCK_MEMORY and not can_lock_memory():
        pytest.skip("no privilege to lock memory here: test_lock_memory_refused covers it")
    d = StressDaemon(tmp_path, config(lock_memory=LOCK_MEMORY)).start()
    try:
        check_environment(d)
    except BaseException:
        d.stop()
        raise
    return d


def start_senders(d, count, scale=1, tolerate_reset=False):
    ports = [d.port("tcp_a"), d.port("tcp_b")]
    senders = [Sender(c, ports[c % 2], count, scale, tolerate_reset) for c in range(CONNS)]
    for s in senders:
        s.start()
    return senders


def join_senders(d, senders):
    """Waits for the senders; a sender's error says what became of the daemon (a crash shows
    as a reset connection, and its log holds the sanitizer report)."""
    for s in senders:
        s.join(WAIT)
        assert not s.is_alive(), f"{s.name} did not finish"
        if s.error is not None:
            status = d.proc.poll()
            state = "running" if status is None else f"exited with {status}"
            raise AssertionError(f"{s.name}: {s.error}; sluiced {state}; its log ends:\n"
                                 f"{d.log_text()[-20000:]}")


def final_stats(d):
    """The counters of the daemon's "final stats:" log line, {name: {counter: value}}."""
    lines = [l for l in d.log_text().splitlines() if "final stats:" in l]
    assert lines, f"no final stats line:\n{d.log_text()[-5000:]}"
    out = {}
    for part in lines[-1].split("stats:", 1)[1].split(";"):
        words = part.split()
        if len(words) >= 2:
            out[words[1]] = {k: int(v) for k, v in (w.split("=") for w in words[2:])}
    return out


def check_exactly_once(d, count, ordered=("direct",)):
    expected = {(c, s) for c in range(CONNS) for s in range(count)}
    for name in ACTIONS:
        pairs, partial = read_output(d.dir / f"{name}.log")
        assert not partial, f"{name}: lines without a whole message: {partial[:3]}"
        dup = [p for p, n in collections.Counter(pairs).items() if n > 1]
        assert not dup, f"{name}: {len(dup)} messages more than once, e.g. {dup[:5]}"
        got = set(pairs)
        assert got == expected, (f"{name}: {len(expected - got)} missing, e.g. "
                                 f"{sorted(expected - got)[:5]}; {len(got - expected)} unexpected")
        if name in ordered:
            last = {}
            for c, s in pairs:
                assert s == last.get(c, -1) + 1, f"{name}: connection {c}: s{s} after " \
                                                 f"s{last.get(c, -1)}"
                last[c] = s


def test_exactly_once_under_load(tmp_path):
    """Everything sent reaches every output once; the counters say exactly that."""
    d = start_daemon(tmp_path)
    try:
        t0 = time.monotonic()
        senders = start_senders(d, MESSAGES)
        join_senders(d, senders)
        total = CONNS * MESSAGES
        for inp in ("tcp_a", "tcp_b"):
            wait_for(lambda: d.input(inp)["received"] == total // 2, WAIT, f"{inp} received")
            # A sender sees its connection closed a moment before the daemon counts it closed.
            wait_for(lambda: d.input(inp)["open_connections"] == 0, WAIT, f"{inp} closed")
        for name in ACTIONS:
            d.wait_delivered(name, total, WAIT)
        elapsed = time.monotonic() - t0
        st = d.stats()
        assert st["unmatched"] == 0
        for i in st["inputs"]:
            assert i["received"] == total // 2, i
            assert (i["malformed"], i["truncated"], i["incomplete"]) == (0, 0, 0), i
            assert i["dropped"] == {"queue_full": 0, "kernel": 0, "no_memory": 0}, i
            assert i["connections"] == CONNS // 2 and i["open_connections"] == 0, i
        pauses = 0
        for a in st["actions"]:
            assert a["enqueued"] == total and a["delivered"] == total, a
            assert (a["failed"], a["discarded"], a["queued"]) == (0, 0, 0), a
            pauses += a["flow_control_pauses"]
        print(f"{total} messages x {len(ACTIONS)} actions in {elapsed:.1f}s, "
              f"{pauses} flow-control pauses; {check_environment(d)}")
    finally:
        rc = d.stop()
    check_sanitizer_clean(d)
    assert rc == 0, d.log_text()[-5000:]
    fin = final_stats(d)
    for name in ACTIONS:
        assert fin[name]["enqueued"] == fin[name]["delivered"] == CONNS * MESSAGES, fin[name]
    check_exactly_once(d, MESSAGES)


def test_shutdown_under_load(tmp_path):
    """SIGTERM while eight connections are sending: what was received is delivered everywhere
    once, each connection's messages form an unbroken prefix, and the accounting adds up."""
    d = start_daemon(tmp_path)
    # The senders send without end, messages of about 1 KiB (the daemon reads on for a bounded
    # number of bytes when told to stop, and that is cheaper in big messages). Once every action
    # has delivered a quarter of the usual count, the senders stop in the middle of what they
    # send (holding their connections open) and the daemon is told to stop: it takes what the
    # connections hold, up to its bound, and passes the partial frames on.
    senders = []
    try:
        senders = start_senders(d, None, scale=40, tolerate_reset=True)
        quarter = CONNS * MESSAGES // 4
        for name in ACTIONS:
            wait_for(lambda: d.action(name)["delivered"] >= quarter, WAIT, f"{name} busy")
        for s in senders:
            s.hold()
    finally:
        rc = d.stop()
    for s in senders:
        s.join(WAIT)
    check_sanitizer_clean(d)
    assert rc == 0, d.log_text()[-5000:]
    fin = final_stats(d)
    received = fin["tcp_a"]["received"] + fin["tcp_b"]["received"]
    assert quarter <= received
    # A connection cut inside a frame passes the partial frame on (at most one each); it shows
    # as a line without a whole message in every output but the filtered one, whose filter
    # wants a whole message.
    _, cut = read_output(d.dir / "plain.log")
    assert len(cut) <= CONNS, cut[:3]
    print(f"stopped after {received} messages, {len(cut)} connections cut inside a frame")
    reference = None
    for name in ACTIONS:
        a = fin[name]
        want = received - len(cut) if name == "filtered" else received
        # The shutdown timeout is long: everything received is delivered before the exit.
        assert a["enqueued"] == want == a["delivered"], (name, a, want)
        assert (a["failed"], a["discarded"], a["queued"]) == (0, 0, 0), (name, a)
        pairs, partial = read_output(d.dir / f"{name}.log")
        assert len(pairs) + len(partial) == a["delivered"], name
        assert len(partial) == (0 if name == "filtered" else len(cut)), (name, partial[:3])
        dup = [p for p, n in collections.Counter(pairs).items() if n > 1]
        assert not dup, f"{name}: {len(dup)} messages more than once, e.g. {dup[:5]}"
        got = set(pairs)
        for c in range(CONNS):
            seqs = sorted(s for cc, s in got if cc == c)
            assert seqs == list(range(len(seqs))), f"{name}: connection {c} has gaps"
        if reference is None:
            reference = got
        assert got == reference, f"{name} got other messages than {ACTIONS[0]}"


def test_reload_under_load(tmp_path):
    """Two reloads (SIGHUP) while eight connections are sending: the inputs are handed over
    with their connections and partial frames, so every message still arrives exactly once."""
    d = start_daemon(tmp_path)
    try:
        senders = start_senders(d, MESSAGES)
        total = CONNS * MESSAGES
        for k in (1, 2):
            mark = k * total // 3
            wait_for(lambda: d.input("tcp_a")["received"] + d.input("tcp_b")["received"] >= mark,
                     WAIT, f"{mark} received")
            before = d.log_text().count("configuration reloaded")
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.log_text().count("configuration reloaded") > before, WAIT,
                     "reload")
        join_senders(d, senders)
        for inp in ("tcp_a", "tcp_b"):
            wait_for(lambda: d.input(inp)["received"] == total // 2, WAIT, f"{inp} received")
        # The actions are new since the last reload: they have what came after it.
        for name in ACTIONS:
            wait_for(lambda: d.action(name)["queued"] == 0 and
                     d.action(name)["enqueued"] == d.action(name)["delivered"], WAIT,
                     f"{name} drained")
        st = d.stats()
        for i in st["inputs"]:
            assert i["received"] == total // 2, i
            assert (i["malformed"], i["truncated"], i["incomplete"]) == (0, 0, 0), i
        for a in st["actions"]:
            # How much came after the last reload depends on timing: only bounds are certain.
            assert a["enqueued"] <= total, a
            assert (a["failed"], a["discarded"]) == (0, 0), a
        print(f"after the second reload: {st['actions'][0]['enqueued']} of {total} messages")
    finally:
        rc = d.stop()
    check_sanitizer_clean(d)
    assert rc == 0, d.log_text()[-5000:]
    check_exactly_once(d, MESSAGES)


def test_lock_memory_refused(tmp_path):
    """lock_memory without the privilege (CAP_IPC_LOCK dropped where we are root, a 64 KiB
    RLIMIT_MEMLOCK): sluiced refuses to start and says why."""
    if build_sanitizers():
        pytest.skip("the sanitizers' runtimes make mlockall a no-op: lock_memory needs a plain build")
    if not shutil.which("prlimit"):
        pytest.skip("prlimit (util-linux) is not installed")
    prefix = ["prlimit", "--memlock=65536:65536", "--"]
    if os.geteuid() == 0:
        # Root gets CAP_IPC_LOCK back at exec unless it leaves the bounding set (CAP_SETPCAP).
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is not installed")
        if not int(proc_status(os.getpid(), "CapEff") or "0", 16) & (1 << 8):
            pytest.skip("root without CAP_SETPCAP: cannot drop CAP_IPC_LOCK for the daemon")
        prefix += ["setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "--"]
    d = StressDaemon(tmp_path, config(lock_memory=True), prefix=prefix)
    try:
        with pytest.raises(AssertionError, match="exited with 1"):
            d.start()
    finally:
        d.stop()  # also when it started after all: no daemon outlives its test
    text = d.log_text()
    assert "lock_memory:" in text and "CAP_IPC_LOCK" in text, text
    check_sanitizer_clean(d)
