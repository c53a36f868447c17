"""Dynamic file paths: path "{dir}/hosts/${hostname}.log" with many hosts, hostile host names
that must not leave the directory ("../../etc", "..", ".", "a/b", an absent one), fewer open
files allowed than there are hosts (least recently used ones are closed and reopened, and
nothing is lost or reordered), and file_mode / dir_mode applied to what is created."""
import os
import stat

from daemon import Sluiced, assert_accounting, tcp_send

CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
actions:
  - name: hosts
    type: file
    path: "{dir}/out/hosts/${hostname}.log"
    template: "${hostname}|${msg}\\n"
    max_open_files: 3
    file_mode: "0600"
    dir_mode: "0750"
    queue: {batch: 16}
"""

# (hostname as sent, file it must land in). A value that is empty, "." or ".." becomes "_",
# and "/" in a value becomes "_" (template.c, put_path_field).
HOSTS = [(f"host{i:02d}", f"host{i:02d}.log") for i in range(10)] + [
    ("web-1.example.com", "web-1.example.com.log"),
    ("../../etc", ".._.._etc.log"),
    ("..", "_.log"),
    (".", "_.log"),
    ("a/b", "a_b.log"),
    ("-", "_.log"),  # RFC 5424 nil: no hostname
]
PER_HOST = 200


def message(h, i):
    # RFC 5424 carries any printable host name as it is, "/" and dots included.
    return b"<13>1 2024-01-01T00:00:00Z %s app - - - %s seq %04d" % (h.encode(), h.encode(), i)


def test_dynamic_paths(tmp_path):
    d = Sluiced(tmp_path / "d", CONFIG)
    old = os.umask(0o022)  # the daemon inherits it; file_mode and dir_mode are within it
    try:
        d.start()
    finally:
        os.umask(old)
    try:
        # Round robin over the hosts: with 3 files open at most, almost every message needs a
        # file that was closed.
        lines = [message(h, i) for i in range(PER_HOST) for h, _ in HOSTS]
        for k in range(0, len(lines), 500):
            tcp_send(d.port("tcp"), lines[k:k + 500])
        d.wait_delivered("hosts", len(lines))
        # All files were written, yet no more than max_open_files are open at once.
        fds = []
        for fd in os.listdir(f"/proc/{d.proc.pid}/fd"):
            try:
                fds.append(os.readlink(f"/proc/{d.proc.pid}/fd/{fd}"))
            except OSError:
                pass
        assert len([t for t in fds if "/out/hosts/" in t]) <= 3, fds
        st = d.stats()
        assert_accounting(st)
        a = st["actions"][0]
        assert a["delivered"] == len(lines) and a["failed"] == 0
    finally:
        d.stop()
    assert d.proc.returncode == 0
    d.check_log_clean()

    out = d.dir / "out"
    created = {}
    for root, dirs, files in os.walk(tmp_path):
        for f in files:
            p = os.path.join(root, f)
            created[os.path.relpath(p, tmp_path)] = p
    own = {"d/sluice.yaml", "d/sluiced.log", "d/tcp.port"}
    stray = [p for p in created if p not in own and not p.startswith("d/out/hosts/")]
    assert not stray, f"files outside the hosts directory: {stray}"
    hostfiles = {p[len("d/out/hosts/"):] for p in created if p.startswith("d/out/hosts/")}
    assert hostfiles == {f for _, f in HOSTS}, hostfiles
    assert stat.S_IMODE(os.stat(out / "hosts").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o750

    for fname in sorted(hostfiles):
        path = out / "hosts" / fname
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, fname
        senders = [h for h, f in HOSTS if f == fname]
        got = path.read_bytes().split(b"\n")
        assert got[-1] == b""
        got = got[:-1]
        assert len(got) == PER_HOST * len(senders), fname
        # Per sender: every message once, in the order sent.
        for h in senders:
            mine = [l for l in got if l.split(b"|", 1)[1].startswith(h.encode() + b" seq ")]
            assert [l.split(b"|", 1)[1] for l in mine] == \
                [b"%s seq %04d" % (h.encode(), i) for i in range(PER_HOST)], (fname, h)
