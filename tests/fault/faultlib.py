"""Shared pieces of the fault tests (tests/fault): sequence-numbered messages, a sink daemon,
counting what arrived, and the one result line each test reports.

Every fault test sends messages "seq=NNNNNNN <pad>" with unique numbers, injects one fault, and
then checks at the final destination, by number, that nothing is missing (lost) and how many
arrived more than once (duplicated), against a bound it states. Each test reports one line

    FAULT <id>: sent=N arrived=N lost=N duplicated=N <details>

on stdout and appended to $SL_FAULT_REPORT when that is set (CTest sets it to
BUILD/fault-report.txt), so a run leaves the figures in one place.
"""
import os
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from daemon import Sluiced, build_sanitizers, wait_for  # noqa: E402,F401  (re-exported)


def scaled(n):
    """n, or a tenth of it (at least 10000) in a sanitizer build, which runs several times
    slower; SL_FAULT_SCALE (a float) scales it further."""
    k = float(os.environ.get("SL_FAULT_SCALE", "1"))
    if build_sanitizers():
        n = max(10000, n // 10)
    return max(1000, int(n * k))


def line(i, pad=None):
    """Message i, RFC 3164 framed by the caller; the body is "seq=NNNNNNN <pad>"."""
    return b"<13>Dec  3 04:05:06 faulthost app[42]: seq=%07d %s" % (i, PAD if pad is None else pad)


PAD = b"x" * 180
WHOLE = re.compile(rb"seq=(\d{7}) (x+)\n?$")


def count(path, counts=None, partial=None, pad=PAD):
    """Adds the numbers in path to counts {seq: n}. A line counts when it holds exactly one
    "seq=NNNNNNN " and ends with that message's whole pad, so a line cut short or two merged
    do not count; those are appended to partial. Returns counts."""
    counts = {} if counts is None else counts
    try:
        with open(path, "rb") as f:
            for l in f:
                m = WHOLE.search(l)
                if m and l.count(b"seq=") == 1 and m.group(2) == pad:
                    s = int(m.group(1))
                    counts[s] = counts.get(s, 0) + 1
                elif partial is not None:
                    partial.append(l)
    except FileNotFoundError:
        pass
    return counts


def tally(counts, n):
    """(missing, duplicated): the numbers below n never seen, and how many extra copies."""
    missing = [s for s in range(n) if s not in counts]
    dups = sum(c - 1 for c in counts.values() if c > 1)
    return missing, dups


def report(fault, sent, counts, extra=""):
    """The test's result line; returns (lost, duplicated)."""
    missing, dups = tally(counts, sent)
    arrived = sum(counts.values())
    text = (f"FAULT {fault}: sent={sent} arrived={arrived} lost={len(missing)} "
            f"duplicated={dups} {extra}").rstrip()
    print(text)
    out = os.environ.get("SL_FAULT_REPORT")
    if out:
        with open(out, "a") as f:
            f.write(text + "\n")
    return missing, dups


SINK = """
shutdown_timeout: 30s
inputs:
  - {name: in, type: tcp, listen: "127.0.0.1:%(port)d", port_file: "{dir}/in.port"}
actions:
  - {name: out, type: file, path: "{dir}/out.log", template: "${msg}\\n"}
"""


def sink(path, port=0):
    """A sluiced writing the msg of everything its tcp input "in" receives to out.log."""
    return Sluiced(path, SINK % {"port": port})
