"""Running a real sluiced in a test: a private directory, port 0 with port files, a control
socket for stats, and waits on conditions with deadlines (never fixed sleeps)."""
import functools
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time

SRC = pathlib.Path(os.environ.get("SLUICE_SRC", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("SLUICE_BUILD", SRC / "build"))


@functools.lru_cache(maxsize=None)
def build_version():
    """What `sluiced --version` says of the build under test: its modules and sanitizers."""
    return subprocess.run([str(BUILD / "sluiced"), "--version"], capture_output=True,
                          text=True).stdout


def build_has(module):
    """Whether the build has an optional module ("relp", "openssl", "pcre2")."""
    return f"{module}=yes" in build_version()


def build_sanitizers():
    """The sanitizers the build runs with ("" when none)."""
    m = re.search(r"sanitizers: (\S+)", build_version())
    return m.group(1) if m and m.group(1) != "none" else ""


def wait_for(cond, timeout=20.0, what="condition", interval=0.02):
    """Polls cond() until it returns a true value, or fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def poll_until(cond, timeout=10.0, interval=0.02):
    """Like wait_for, but returns False at the deadline instead of failing, for a test that
    then reports in detail what is missing."""
    try:
        return wait_for(cond, timeout, interval=interval)
    except AssertionError:
        return False


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def unix_connect(path, kind=socket.SOCK_STREAM, timeout=10):
    """A socket connected to the unix socket at path, of any length: like sluiced, a path longer
    than sun_path's 107 bytes is reached through its directory (/proc/self/fd/N/name)."""
    path = str(path)
    s = socket.socket(socket.AF_UNIX, kind)
    s.settimeout(timeout)
    if len(os.fsencode(path)) < 108:
        s.connect(path)
        return s
    head, name = os.path.split(path)
    fd = os.open(head, os.O_PATH | os.O_DIRECTORY)
    try:
        s.connect(f"/proc/self/fd/{fd}/{name}")
    finally:
        os.close(fd)
    return s


class Sluiced:
    """One daemon. `config` is YAML text in which {dir} is replaced by the daemon's directory;
    every tcp/udp input should listen on port 0 with port_file: {dir}/NAME.port."""

    def __init__(self, tmp_path, config, binary=None, env=None):
        self.dir = pathlib.Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "sluice.yaml"
        self.ctl = self.dir / "ctl.sock"
        self.write_config(config)
        self.binary = binary or str(BUILD / "sluiced")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log = self.dir / "sluiced.log"

    def write_config(self, config):
        """(Re)writes the configuration file: {dir} filled in, the control socket added."""
        text = config.replace("{dir}", str(self.dir))
        if "control_socket" not in text:
            text = f"control_socket: {self.ctl}\n" + text
        self.config_path.write_text(text)

    def start(self):
        # Port files of an earlier run would point at ports no longer bound (restart()).
        for stale in self.dir.glob("*.port"):
            stale.unlink()
        if getattr(self, "logf", None):
            self.logf.close()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", str(self.config_path), "-n"],
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.ctl.exists() or self.proc.poll() is not None, what="sluiced start")
        if self.proc.poll() is not None:
            raise AssertionError(f"sluiced exited with {self.proc.returncode}:\n{self.log_text()}")
        return self

    def port(self, name):
        path = self.dir / f"{name}.port"
        wait_for(path.exists, what=f"port file {path}")
        return int(path.read_text())

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stats(self):
        s = unix_connect(self.ctl)
        s.sendall(b"stats\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data)

    def action(self, name):
        return next(a for a in self.stats()["actions"] if a["name"] == name)

    def input(self, name):
        return next(i for i in self.stats()["inputs"] if i["name"] == name)

    def wait_delivered(self, action, n, timeout=30.0):
        """Waits until the action has delivered n messages and holds none queued."""
        def done():
            a = self.action(action)
            return a["delivered"] >= n and a["queued"] == 0
        wait_for(done, timeout, what=f"{n} messages delivered by {action}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluiced did not stop on SIGTERM")
        if getattr(self, "logf", None):
            self.logf.close()
        return self.proc.returncode if self.proc else None

    def restart(self, timeout=30.0):
        """Stops the daemon (SIGTERM, must exit 0) and starts it again on the same config."""
        rc = self.stop(timeout)
        assert rc == 0, f"sluiced exited with {rc}:\n{self.log_text()[-4000:]}"
        return self.start()

    def wait_exit(self, timeout):
        """Waits for the process to end by itself; returns its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sluiced still running after {timeout}s") from None

    def final_stats(self):
        """The "final stats:" line a stopped daemon logged, parsed (parse_stats_line)."""
        lines = [l for l in self.log_text().splitlines() if l.startswith("sluiced: final stats:")]
        assert lines, f"no final stats line in the log:\n{self.log_text()[-4000:]}"
        return parse_stats_line(lines[-1])

    def check_log_clean(self):
        """No sanitizer report and no assertion failure in the daemon's log."""
        text = self.log_text()
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                    "WARNING: ThreadSanitizer", "assertion failed"):
            assert bad not in text, f"{bad!r} in the sluiced log:\n{text[-6000:]}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def tcp_send(port, lines, host="127.0.0.1", octet=False):
    """Sends lines (bytes) over one TCP connection, LF or octet-counted framing."""
    with socket.create_connection((host, port), timeout=10) as s:
        if octet:
            data = b"".join(b"%d %s" % (len(l), l) for l in lines)
        else:
            data = b"".join(l + b"\n" for l in lines)
        s.sendall(data)


def udp_send(port, lines, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for l in lines:
            s.sendto(l, (host, port))


def _ephemeral_range():
    try:
        lo, hi = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(kind=socket.SOCK_STREAM):
    """A port that was free a moment ago, bound and released, for a daemon that must come back
    on the port it had (a restarted forwarding target). It is taken below the ephemeral range:
    a client reconnecting to a port in that range while nothing listens there can be given
    that very port as its own and connect to itself (Linux TCP self-connect), which would
    swallow what it sends and hold the port."""
    import random
    lo = min(_ephemeral_range()[0], 32768)
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(10000, lo)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port found below the ephemeral range")


class ClosedPort:
    """A TCP port where nothing listens, held so: a socket bound to it that never listens.
    Connecting is refused at once, and no other socket (not even a client's own end) can be
    given the port while this is open. Use as a context manager; .port is the number."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_stats_line(line):
    """The periodic or final stats line ("stats: input NAME received=N ...; action NAME
    enqueued=N ...;") as {"inputs": {name: {key: int}}, "actions": {name: {key: int}}}."""
    out = {"inputs": {}, "actions": {}}
    body = line.split("stats:", 1)[1]
    for part in body.split(";"):
        words = part.split()
        if len(words) < 2:
            continue
        kind, name = words[0], words[1]
        out[kind + "s"][name] = {k: int(v) for k, v in (w.split("=", 1) for w in words[2:])}
    return out


def assert_accounting(stats, what="stats"):
    """The contract of every snapshot: per action enqueued = delivered + failed + discarded +
    queued, and the discards by reason add up."""
    for a in stats["actions"]:
        total = a["delivered"] + a["failed"] + a["discarded"] + a["queued"]
        assert a["enqueued"] == total, f"{what}: accounting broken for action {a}"
        assert a["discarded"] == sum(a["discarded_by"].values()), f"{what}: discards {a}"


class StatsMonitor:
    """Polls a daemon's stats on a thread while a test runs and checks every snapshot with
    check(snapshot) (assert_accounting by default). Bounded: it stops after max_snapshots or
    when stop() is called; stop() re-raises the first failure."""

    def __init__(self, daemon, check=assert_accounting, interval=0.02, max_snapshots=20000):
        self.daemon = daemon
        self.check = check
        self.interval = interval
        self.max_snapshots = max_snapshots
        self.snapshots = 0
        self.last = None
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set() and self.snapshots < self.max_snapshots:
            try:
                st = self.daemon.stats()
                self.check(st)
            except Exception as e:  # noqa: BLE001 - handed to the test thread in stop()
                self.error = e
                return
            self.last = st
            self.snapshots += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "stats monitor did not stop"
        if self.error:
            raise self.error
        return self.snapshots

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self._stop.set()


# syslog-ng's loggen, unpacked beside rsyslog (/work/shared/bench/anchors-env.sh).
SNG = pathlib.Path(os.environ.get("SLUICE_SNG", "/opt/sng"))
LOGGEN = SNG / "usr/bin/loggen"
LOGGEN_LD = ":".join(str(SNG / p) for p in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu",
                                            "usr/lib/syslog-ng"))


def run_loggen(port, *args, timeout=120):
    """Runs loggen against 127.0.0.1:port with args; returns the CompletedProcess."""
    env = dict(os.environ, LD_LIBRARY_PATH=LOGGEN_LD, SYSLOGNG_PREFIX=str(SNG / "usr"))
    r = subprocess.run([str(LOGGEN), *args, "127.0.0.1", str(port)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"loggen failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


class Sender:
    """Streams numbered lines over one TCP connection on a thread, in chunks, with a count
    and a deadline: line(i) -> bytes without LF. sent is how many went out whole."""

    def __init__(self, port, n, line, chunk=200, timeout=120.0, pace=None):
        self.port, self.n, self.line, self.chunk = port, n, line, chunk
        self.timeout, self.pace = timeout, pace
        self.sent = 0
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + self.timeout
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout) as s:
                for i in range(0, self.n, self.chunk):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"sender: deadline passed after {self.sent} lines")
                    j = min(self.n, i + self.chunk)
                    s.sendall(b"".join(self.line(k) + b"\n" for k in range(i, j)))
                    self.sent = j
                    if self.pace:
                        self.pace()
        except Exception as e:  # noqa: BLE001 - re-raised by join()
            self.error = e

    def start(self):
        self._thread.start()
        return self

    def alive(self):
        return self._thread.is_alive()

    def join(self, timeout=None):
        self._thread.join(timeout if timeout is not None else self.timeout)
        assert not self._thread.is_alive(), "sender thread did not finish"
        if self.error:
            raise self.error
        return self.sent


class TcpSink:
    """A TCP peer for forward actions, listening on 127.0.0.1 (port 0). mode "read" reads as
    fast as it can; "slow" reads about `rate` bytes a second; "stuck" accepts and never reads
    until release(). Everything read is kept per connection (data); every thread is bounded
    by `timeout` seconds."""

    def __init__(self, mode="read", rate=100000, timeout=120.0):
        self.mode, self.rate, self.timeout = mode, rate, timeout
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.data = []  # bytearray per connection, in accept order
        self.closed = 0  # connections that reached end of stream
        self._released = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self):
        deadline = time.monotonic() + self.timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            buf = bytearray()
            self.data.append(buf)
            t = threading.Thread(target=self._serve, args=(c, buf, deadline), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, c, buf, deadline):
        with c:
            c.settimeout(0.2)
            if self.mode == "stuck":
                while not self._released.wait(0.05):
                    if self._stop.is_set() or time.monotonic() > deadline:
                        return
            chunk = max(1, self.rate // 50) if self.mode == "slow" else 65536
            pace = RateLimitBytes(self.rate) if self.mode == "slow" else None
            while time.monotonic() < deadline:
                try:
                    d = c.recv(chunk)
                except socket.timeout:
                    if self._stop.is_set():
                        return
                    continue
                except OSError:
                    return
                if not d:
                    self.closed += 1
                    return
                buf += d
                if pace and not self._released.is_set():
                    pace(len(d))

    def release(self):
        """Stuck and slow sinks read freely from now on."""
        self._released.set()

    def received(self):
        return sum(len(b) for b in self.data)

    def close(self):
        self._stop.set()
        self._released.set()
        for t in self._threads:
            t.join(5)
        self.lsock.close()


class RateLimit:
    """Keeps a sender at about `rate` chunks a second: called after each chunk, it sleeps only
    as long as the sender is ahead of that schedule (a rate limit, not a wait for a state)."""

    def __init__(self, rate):
        self.period = 1.0 / rate
        self.next = time.monotonic()

    def __call__(self):
        self.next += self.period
        delay = self.next - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class RateLimitBytes:
    """Sleeps as long as a reader is ahead of `rate` bytes a second (a rate limit)."""

    def __init__(self, rate):
        self.rate = rate
        self.start = time.monotonic()
        self.total = 0

    def __call__(self, n):
        self.total += n
        ahead = self.start + self.total / self.rate - time.monotonic()
        if ahead > 0:
            time.sleep(min(ahead, 1.0))


def octet_frames(data):
    """Splits octet-counted bytes into (records, rest): rest is an incomplete last frame."""
    out, i = [], 0
    while i < len(data):
        sp = data.find(b" ", i)
        if sp < 0:
            break
        n = int(data[i:sp])
        if sp + 1 + n > len(data):
            break
        out.append(bytes(data[sp + 1:sp + 1 + n]))
        i = sp + 1 + n
    return out, bytes(data[i:])
