"""Running a real sluiced in a test: a private directory, port 0 with port files, a control
socket for stats, and waits on conditions with deadlines (never fixed sleeps)."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

SRC = pathlib.Path(os.environ.get("SLUICE_SRC", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("SLUICE_BUILD", SRC / "build"))


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


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


class Sluiced:
    """One daemon. `config` is YAML text in which {dir} is replaced by the daemon's directory;
    every tcp/udp input should listen on port 0 with port_file: {dir}/NAME.port."""

    def __init__(self, tmp_path, config, binary=None, env=None):
        self.dir = pathlib.Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "sluice.yaml"
        self.ctl = self.dir / "ctl.sock"
        text = config.replace("{dir}", str(self.dir))
        if "control_socket" not in text:
            text = f"control_socket: {self.ctl}\n" + text
        self.config_path.write_text(text)
        self.binary = binary or str(BUILD / "sluiced")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log = self.dir / "sluiced.log"

    def start(self):
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
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(self.ctl))
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
