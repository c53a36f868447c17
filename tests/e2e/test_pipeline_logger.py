"""util-linux logger into sluiced: the unix datagram socket (/dev/log style), UDP, and TCP with
both framings (LF and --octet-count), and RFC 3164 over TCP. Every line logger sends must come
out once, in order, in the file written with the traditional template, with logger's tag and
the pid given with --id; the input and action counters must explain every message."""
import json
import re
import shutil
import socket
import subprocess

import pytest

from daemon import Sluiced, assert_accounting, wait_for

pytestmark = pytest.mark.skipif(not shutil.which("logger"), reason="util-linux logger not installed")

CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port"}
  - {name: local, type: unix, path: "{dir}/log.sock"}
actions:
  - {name: trad, type: file, path: "{dir}/messages", template: traditional}
  - {name: json, type: file, path: "{dir}/messages.json", template: json}
"""

N = 40  # lines per logger run

# A traditional line: "Mmm dd hh:mm:ss host tag msg".
TRAD = re.compile(r"^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d (\S+) (\S+) (.*)$")

# name: (logger transport arguments ({sock}, {tcp}, {udp} filled in), input, tag written after
# the pid). Over the network logger speaks RFC 5424, whose tag rsyslog (and so the traditional
# template) writes as "app[pid]" without a colon; the local socket and --rfc3164 carry a
# classic "app[pid]:" tag.
TRANSPORTS = {
    "unix": (["-u", "{sock}", "--socket-errors=on"], "local", ":"),
    "udp": (["-d", "-n", "127.0.0.1", "-P", "{udp}"], "udp", ""),
    "tcp-lf": (["-T", "-n", "127.0.0.1", "-P", "{tcp}"], "tcp", ""),
    "tcp-octet": (["-T", "--octet-count", "-n", "127.0.0.1", "-P", "{tcp}"], "tcp", ""),
    "tcp-rfc3164": (["-T", "--rfc3164", "-n", "127.0.0.1", "-P", "{tcp}"], "tcp", ":"),
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Sluiced(tmp_path_factory.mktemp("logger"), CONFIG).start()
    yield d
    assert d.stop() == 0
    d.check_log_clean()


def complete_lines(path):
    """The lines of path that are whole so far. The file output creates its file with its first
    write, and the input hands a batch to one action after the other: while the test waits, a
    file may not exist yet, or end in a record still being written."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return text[:text.rfind("\n") + 1].splitlines()


def records(d, tag):
    """(traditional line match, json record) pairs of the messages logged with tag."""
    trad = [m for m in (TRAD.match(l) for l in complete_lines(d.dir / "messages"))
            if m and m.group(2).startswith(tag + "[")]
    js = [r for r in (json.loads(l) for l in complete_lines(d.dir / "messages.json"))
          if r["app_name"] == tag]
    return trad, js


@pytest.mark.parametrize("name", list(TRANSPORTS))
def test_logger(daemon, name):
    d = daemon
    args, input_name, colon = TRANSPORTS[name]
    fill = {"sock": str(d.dir / "log.sock"), "tcp": str(d.port("tcp")), "udp": str(d.port("udp"))}
    args = [a.format(**fill) for a in args]
    tag = "t_" + name.replace("-", "_")
    pid = 4000 + len(name)
    before = d.input(input_name)
    body = "".join(f"{name} line {i:04d} with some text\n" for i in range(N))
    subprocess.run(["logger", *args, "-t", tag, f"--id={pid}", "-p", "local3.notice"],
                   input=body.encode(), check=True, timeout=30)

    def arrived():
        i = d.input(input_name)
        return i["received"] + i["dropped"]["kernel"] - before["received"] - before["dropped"]["kernel"] >= N
    wait_for(arrived, what=f"{N} messages on input {input_name}")
    after = d.input(input_name)
    got = after["received"] - before["received"]
    assert got == N, f"{name}: received {got} of {N} (dropped {after['dropped']})"
    assert after["malformed"] == before["malformed"]
    assert after["truncated"] == before["truncated"]

    # Both files: the input routes a batch to one action after the other, so one file can be
    # complete while the next action has not even been handed the batch yet.
    def written():
        st = d.stats()
        trad, js = records(d, tag)
        return all(a["queued"] == 0 for a in st["actions"]) and len(trad) >= N and len(js) >= N
    wait_for(written, what=f"{N} lines of {tag} written")
    st = d.stats()
    assert_accounting(st)
    for a in st["actions"]:
        assert a["delivered"] == a["enqueued"] and a["failed"] == a["discarded"] == 0

    trad, js = records(d, tag)
    assert len(trad) == N and len(js) == N
    hosts = {socket.gethostname(), socket.gethostname().split(".")[0]}
    for i, (m, r) in enumerate(zip(trad, js)):
        host, t, msg = m.groups()
        assert host in hosts, m.group(0)
        assert t == f"{tag}[{pid}]{colon}", m.group(0)
        assert msg == f"{name} line {i:04d} with some text", m.group(0)  # order kept
        assert r["procid"] == str(pid) and r["facility"] == 19 and r["severity"] == 5, r
        assert r["input"] == input_name, r
        assert r["fromhost"] == ("127.0.0.1" if input_name != "local" else
                                 socket.gethostname().split(".")[0]), r
