"""The reference side of the differential test: what Debian's rsyslogd makes of syslog lines.

sluice promises to read messages the way rsyslog does (DESIGN.md: "replace rsyslog ... without
surprises"). Rather than write down what we believe rsyslog does, we ask it: this module starts
the real /usr/sbin/rsyslogd in the foreground with a private configuration in a temporary
directory, sends it the lines over one TCP connection (LF framing), and reads back two files it
wrote for every message:

  * a JSON object per message (a list template with option.jsonf, so rsyslog itself escapes the
    values) holding the properties in PROPERTIES, and
  * the line RSYSLOG_TraditionalFileFormat writes, as bytes.

Everything that could make rsyslog's answer depend on the machine is pinned down:
  * fromhost: DNS resolution is off, so fromhost is the sender's address, FROMHOST; sluicectl
    is run with --fromhost FROMHOST.
  * time zone: rsyslogd runs with TZ=TZ; sluicectl must be run with the same (ENV_TZ).
  * framing: octet-counted framing is off, so a line that begins with digits is still a line.
  * internal messages of rsyslogd: the input is bound to its own ruleset, so only the lines we
    send reach the files.
  * order: the main queue has one worker, and the records are checked against the lines sent
    (rawmsg) so that a reordering could not go unnoticed.
rsyslog's parsing options are left at Debian's defaults (escaping of control characters on
receive included), because that is the rsyslog sluice replaces.

Used by test_rsyslog_compat.py; also a command-line tool for looking at rsyslog's view of a line:

    /usr/bin/python3 tests/e2e/rsyslog_ref.py [--traditional] [FILE...]   (default: stdin)
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FROMHOST = "127.0.0.1"
TZ = "UTC"
ENV_TZ = {"TZ": TZ}

# (key in the returned record, rsyslog property, extra property() parameters). The first
# thirteen are the ones the comparison uses; protocol-version, timegenerated and rawmsg are
# there to check the corpus itself (which parser rsyslog chose, whether it found a timestamp
# in the line, and that records come back in the order sent).
PROPERTIES = [
    ("pri", "pri", ""),
    ("syslogfacility", "syslogfacility", ""),
    ("syslogseverity", "syslogseverity", ""),
    ("timereported", "timereported", 'dateFormat="rfc3339"'),
    ("hostname", "hostname", ""),
    ("app-name", "app-name", ""),
    ("procid", "procid", ""),
    ("msgid", "msgid", ""),
    ("structured-data", "structured-data", ""),
    ("msg", "msg", ""),
    ("syslogtag", "syslogtag", ""),
    ("programname", "programname", ""),
    ("fromhost", "fromhost", ""),
    ("protocol-version", "protocol-version", ""),
    ("timegenerated", "timegenerated", 'dateFormat="rfc3339"'),
    ("rawmsg", "rawmsg", ""),
]

_CONF = """\
global(workDirectory="{dir}" net.enableDNS="off")
main_queue(queue.workerThreads="1")
module(load="imptcp")
template(name="sl_json" type="list" option.jsonf="on") {{
{props}
}}
ruleset(name="sl_compat") {{
    action(type="omfile" file="{dir}/json.log" template="sl_json")
    action(type="omfile" file="{dir}/traditional.log" template="RSYSLOG_TraditionalFileFormat")
}}
input(type="imptcp" address="{fromhost}" port="0" listenPortFileName="{dir}/port"
      supportOctetCountedFraming="off" ruleset="sl_compat")
"""


class RsyslogError(RuntimeError):
    """rsyslogd could not be started or did not deliver every message in time."""


def rsyslogd_path():
    """The rsyslogd binary: $RSYSLOGD, else the first one on PATH or in the sbin directories."""
    if os.environ.get("RSYSLOGD"):
        return os.environ["RSYSLOGD"]
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return shutil.which("rsyslogd", path=path)


def config_text(workdir):
    """The rsyslog configuration used for a run in workdir."""
    props = "\n".join(
        '    property(outname="%s" name="%s" format="jsonf"%s)' % (key, name, " " + extra if extra else "")
        for key, name, extra in PROPERTIES
    )
    return _CONF.format(dir=workdir, props=props, fromhost=FROMHOST)


def _count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait_for(cond, deadline, what, proc, log):
    """Polls cond() until it is true; fails at the deadline or when rsyslogd has exited."""
    delay = 0.005
    while not cond():
        if proc.poll() is not None:
            raise RsyslogError("rsyslogd exited (%s) while waiting for %s:\n%s" % (proc.returncode, what, _tail(log)))
        if time.monotonic() > deadline:
            raise RsyslogError("timed out waiting for %s:\n%s" % (what, _tail(log)))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return "(no output)"


def _stop(proc, timeout=10.0):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(lines, timeout=60.0, keep_dir=None):
    """Sends lines (bytes, without LF) to a private rsyslogd and returns one record per line.

    Each record is a dict: the keys of PROPERTIES with rsyslog's values (str), and
    "traditional": the RSYSLOG_TraditionalFileFormat line (bytes, with its LF).
    keep_dir: a directory to run in and leave behind (config, output files, rsyslogd's log),
    for debugging; by default a temporary directory that is removed.
    """
    lines = [bytes(l) for l in lines]
    for i, l in enumerate(lines):
        if b"\n" in l:
            raise ValueError("line %d holds an LF; it cannot be sent as one LF-framed message" % (i + 1))
    exe = rsyslogd_path()
    if not exe:
        raise RsyslogError("rsyslogd not found (install Debian's rsyslog or set RSYSLOGD)")
    if keep_dir:
        os.makedirs(keep_dir, exist_ok=True)
        workdir = os.path.abspath(keep_dir)
        for name in ("json.log", "traditional.log", "port"):
            if os.path.exists(os.path.join(workdir, name)):
                os.unlink(os.path.join(workdir, name))
        return _run_in(exe, workdir, lines, timeout)
    with tempfile.TemporaryDirectory(prefix="sluice-rsyslog-") as workdir:
        return _run_in(exe, workdir, lines, timeout)


def _run_in(exe, workdir, lines, timeout):
    conf = os.path.join(workdir, "rsyslog.conf")
    log = os.path.join(workdir, "rsyslogd.out")
    portfile = os.path.join(workdir, "port")
    jsonfile = os.path.join(workdir, "json.log")
    tradfile = os.path.join(workdir, "traditional.log")
    with open(conf, "w") as f:
        f.write(config_text(workdir))
    env = dict(os.environ)
    env.update(ENV_TZ)
    deadline = time.monotonic() + timeout
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "-n", "-f", conf, "-i", os.path.join(workdir, "rsyslogd.pid")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    try:

        def port_written():
            try:
                with open(portfile) as f:
                    return f.read().strip().isdigit()
            except FileNotFoundError:
                return False

        _wait_for(port_written, deadline, "the listen port file", proc, log)
        with open(portfile) as f:
            port = int(f.read().strip())
        with socket.create_connection((FROMHOST, port), timeout=max(1.0, deadline - time.monotonic())) as s:
            s.sendall(b"".join(l + b"\n" for l in lines))
            s.shutdown(socket.SHUT_WR)
        n = len(lines)
        _wait_for(
            lambda: _count_lines(jsonfile) >= n and _count_lines(tradfile) >= n,
            deadline,
            "%d records in both output files (have %d and %d)" % (n, _count_lines(jsonfile), _count_lines(tradfile)),
            proc,
            log,
        )
    finally:
        _stop(proc)
    with open(jsonfile, "rb") as f:
        jlines = f.read().split(b"\n")[:-1]
    with open(tradfile, "rb") as f:
        tlines = [l + b"\n" for l in f.read().split(b"\n")[:-1]]
    if len(jlines) != n or len(tlines) != n:
        raise RsyslogError("rsyslogd wrote %d JSON and %d traditional records for %d lines" % (len(jlines), len(tlines), n))
    records = []
    for i, (j, t) in enumerate(zip(jlines, tlines)):
        try:
            rec = json.loads(j.decode("utf-8", "surrogateescape"))
        except ValueError as e:
            raise RsyslogError("rsyslog record %d is not JSON (%s): %r" % (i + 1, e, j))
        rec["traditional"] = t
        records.append(rec)
    _check_order(lines, records)
    return records


def escape_like_rsyslog(b):
    """Control characters as rsyslog's default parser.escapeControlCharactersOnReceive writes them:
    '#' and three octal digits, for every byte below 0x20, tab included (DEL is left as it is).
    Works on bytes or str."""
    if isinstance(b, str):
        return "".join("#%03o" % ord(c) if ord(c) < 0x20 else c for c in b)
    return b"".join(b"#%03o" % c if c < 0x20 else bytes([c]) for c in b)


def _check_order(lines, records):
    """Each record's rawmsg must be the line sent at its position (after rsyslog's escaping)."""
    for i, (line, rec) in enumerate(zip(lines, records)):
        want = escape_like_rsyslog(line).decode("utf-8", "surrogateescape")
        if rec.get("rawmsg") != want:
            raise RsyslogError("record %d is not the line sent at that position:\n sent   %r\n rawmsg %r" % (i + 1, want, rec.get("rawmsg")))


def main(argv):
    trad = "--traditional" in argv
    files = [a for a in argv if a != "--traditional"]
    data = b""
    if files:
        for name in files:
            with open(name, "rb") as f:
                data += f.read()
                if not data.endswith(b"\n"):
                    data += b"\n"
    else:
        data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    records = run(lines)
    out = sys.stdout.buffer
    for rec in records:
        if trad:
            out.write(rec["traditional"])
        else:
            rec = dict(rec)
            rec["traditional"] = rec["traditional"].decode("utf-8", "surrogateescape")
            out.write(json.dumps(rec, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
