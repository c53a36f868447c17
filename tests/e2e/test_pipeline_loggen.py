"""syslog-ng's loggen into sluiced with sequence checks: loggen numbers its messages
("seq: NNNNNNNNNN"), so the output file shows whether each arrived exactly once.

TCP (LF framing, and RFC 5424 with octet counting via -P): every sequence number exactly once.
UDP: nothing is promised about delivery, but everything is accounted for: the datagrams
received plus those the kernel dropped (dropped.kernel, from SO_RXQ_OVFL) are exactly the
datagrams sent, and no sequence number arrives twice."""
import collections
import re

import pytest

from daemon import LOGGEN, Sluiced, assert_accounting, run_loggen, wait_for

pytestmark = pytest.mark.skipif(
    not LOGGEN.exists(),
    reason=f"{LOGGEN} not found: run `bash -c '. /work/shared/bench/anchors-env.sh; install_anchors'`")

N = 50000

CONFIG = """
inputs:
  - {name: tcp, type: tcp, listen: "127.0.0.1:0", port_file: "{dir}/tcp.port"}
  - {name: udp, type: udp, listen: "127.0.0.1:0", port_file: "{dir}/udp.port"}
actions:
  - {name: all, type: file, path: "{dir}/messages", template: traditional}
"""

SEQ = re.compile(rb"seq: (\d{10}), thread: ")


def seqs(path):
    counts = collections.Counter()
    bad = 0
    with open(path, "rb") as f:
        for line in f:
            m = SEQ.search(line)
            if m and line.endswith(b"\n"):
                counts[int(m.group(1))] += 1
            else:
                bad += 1
    return counts, bad


@pytest.mark.parametrize("framing", ["lf", "octet-counted"])
def test_loggen_tcp_every_sequence_once(tmp_path, framing):
    with Sluiced(tmp_path, CONFIG) as d:
        args = ["-i", "-S", "-n", str(N), "-r", "1000000", "-Q"]
        if framing == "octet-counted":
            args.append("-P")  # RFC 5424 with "LEN SP" framing
        run_loggen(d.port("tcp"), *args)
        d.wait_delivered("all", N, timeout=60)
        st = d.stats()
        assert_accounting(st)
        tcp = d.input("tcp")
        assert tcp["received"] == N and tcp["malformed"] == 0 and tcp["truncated"] == 0
        assert tcp["incomplete"] == 0
        a = d.action("all")
        assert a["enqueued"] == a["delivered"] == N
    assert d.proc.returncode == 0
    d.check_log_clean()
    counts, bad = seqs(d.dir / "messages")
    assert bad == 0, f"{bad} lines without a loggen sequence number"
    missing = [s for s in range(N) if counts[s] == 0]
    dup = [s for s, c in counts.items() if c > 1]
    assert not missing and not dup and len(counts) == N, (
        f"missing {len(missing)} (first {missing[:5]}), duplicated {len(dup)} (first {dup[:5]})")


def test_loggen_udp_accounted(tmp_path):
    with Sluiced(tmp_path, CONFIG) as d:
        run_loggen(d.port("udp"), "-i", "-D", "-n", str(N), "-r", "1000000", "-Q")

        # Every datagram is either received or counted as dropped by the kernel; the drop
        # count must come in even though no datagram follows the last dropped one.
        def accounted():
            u = d.input("udp")
            return u["received"] + u["dropped"]["kernel"] >= N
        wait_for(accounted, timeout=30, what="UDP datagrams received or counted dropped")
        u = d.input("udp")
        d.wait_delivered("all", u["received"], timeout=60)
        st = d.stats()
        assert_accounting(st)
        u = d.input("udp")
        assert u["received"] + u["dropped"]["kernel"] == N, u
        assert u["dropped"]["queue_full"] == 0 and u["dropped"]["no_memory"] == 0, u
        assert u["malformed"] == 0 and u["truncated"] == 0, u
        a = d.action("all")
        assert a["delivered"] == a["enqueued"] == u["received"], a
    assert d.proc.returncode == 0
    d.check_log_clean()
    counts, bad = seqs(d.dir / "messages")
    assert bad == 0
    assert sum(counts.values()) == u["received"]
    assert all(c == 1 for c in counts.values()), "a datagram was delivered twice"
    assert all(0 <= s < N for s in counts)
