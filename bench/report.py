#!/usr/bin/python3
"""Makes the tables and the plot of docs/performance.md from bench/suite.sh's results file.

    bench/report.py [RESULTS] [--doc docs/performance.md] [--png docs/performance.png]

The results file has one measurement per line (case, daemon, round, key, value, tab-separated)
and '# key<TAB>value' lines about the machine. Medians are taken over rounds; ratios are
ratios of medians from the same run. The generated part of the document sits between the
markers <!-- results:begin --> and <!-- results:end -->; the rest of it is left as written.
"""
import argparse
import os
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DAEMONS = ["sluice", "rsyslog", "syslogng", "raw"]
LABEL = {"sluice": "sluice", "rsyslog": "rsyslog", "syslogng": "syslog-ng", "raw": "raw copy"}
CASES = [
    ("tcp4", "TCP -> file, 4 connections (RFC 3164, 256 B)"),
    ("tcp1", "TCP -> file, 1 connection"),
    ("rfc5424", "TCP -> file, RFC 5424 + structured data"),
    ("fanout", "TCP -> 4 files, 4 selectors (1 -> 4)"),
    ("relay", "TCP -> TCP relay to a socat sink"),
]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(path):
    meta, data = {}, defaultdict(lambda: defaultdict(list))
    rounds = defaultdict(dict)  # (case, daemon, round) -> {key: value}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                k, _, v = line[2:].partition("\t")
                meta[k] = v
                continue
            parts = line.split("\t")
            if len(parts) != 5:
                continue
            case, daemon, rnd, key, value = parts
            rounds[(case, daemon, rnd)][key] = value
            try:
                data[(case, daemon)][key].append(float(value))
            except ValueError:
                pass
    return meta, data, rounds


def med(data, case, daemon, key):
    v = data.get((case, daemon), {}).get(key)
    return statistics.median(v) if v else None


def round_ratio(rounds, case, a, b):
    """Median over rounds of a's rate / b's rate in the same round (back to back runs), or None
    when no round has both."""
    rs = []
    for (c, d, rnd), kv in rounds.items():
        if c != case or d != a:
            continue
        o = rounds.get((case, b, rnd), {})
        try:
            av, bv = float(kv.get("rate", 0)), float(o.get("rate", 0))
        except ValueError:
            continue
        if av > 0 and bv > 0:
            rs.append(av / bv)
    return statistics.median(rs) if rs else None


def fmt_rate(v):
    return "–" if v is None else f"{v / 1000:,.0f}k"


def fmt_ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?", default=os.path.join(HERE, "results", "results.tsv"))
    ap.add_argument("--doc", default=os.path.join(TOP, "docs", "performance.md"))
    ap.add_argument("--png", default=os.path.join(TOP, "docs", "performance.png"))
    a = ap.parse_args()
    meta, data, rounds = load(a.results)
    present = [d for d in DAEMONS if any(k[1] == d for k in data)]
    out = []
    w = out.append
    n = int(meta.get("messages", "0") or 0)

    w(f"Run {meta.get('date', '?')}: {meta.get('nproc', '?')} cores ({meta.get('cpu', '?')}), "
      f"{meta.get('memory', '?')}, Linux {meta.get('kernel', '?')}, load average at the start "
      f"{meta.get('load', '?')}; {n:,} messages per timed run, {meta.get('rounds', '?')} rounds. "
      f"sluice {meta.get('sluice', '?')}; {meta.get('rsyslog', '?')}; "
      f"{meta.get('syslog-ng', '?')}; {meta.get('socat', '?')}.")
    w("")

    # Throughput.
    w("### Throughput (input messages per second, median of rounds)")
    w("")
    hdr = "| case | " + " | ".join(LABEL[d] for d in present)
    others = [d for d in present if d != "sluice"]
    hdr += " | " + " | ".join(f"sluice / {LABEL[d]}" for d in others) + " |"
    w(hdr)
    w("|---" * (1 + len(present) + len(others)) + "|")
    for case, title in CASES:
        if not any((case, d) in data for d in present):
            continue
        row = [title] + [fmt_rate(med(data, case, d, "rate")) for d in present]
        s = med(data, case, "sluice", "rate")
        row += [fmt_ratio(s, med(data, case, d, "rate")) for d in others]
        w("| " + " | ".join(row) + " |")
    w("")
    w("The same ratios taken round by round (each round runs the daemons back to back, so a "
      "change in the machine's load between rounds cancels out), median over rounds:")
    w("")
    for case, title in CASES:
        cells = []
        for d in others:
            v = round_ratio(rounds, case, "sluice", d)
            if v is not None:
                cells.append(f"sluice / {LABEL[d]} {v:.2f}")
        v = round_ratio(rounds, case, "sluice", "sluice3164")
        if v is not None:
            cells.append(f"sluice / sluice on RFC 3164 (run just before) {v:.2f}")
        if cells:
            w(f"- {case}: " + ", ".join(cells))
    w("")
    busy = [v for (c, d), kv in data.items() if c in dict(CASES) for v in kv.get("machine_busy", [])]
    if busy:
        w(f"The whole machine (both cores, every process, other work included) was "
          f"{100 * statistics.median(busy):.0f}% busy during the median timed run "
          f"(from {100 * min(busy):.0f}% to {100 * max(busy):.0f}%).")
        w("")
    w("Every round of every daemon, in the order they ran (0 = a run that lost or split a "
      "message; the suite checks each one):")
    w("")
    for case, title in CASES:
        cells = []
        for d in present:
            v = data.get((case, d), {}).get("rate")
            if v:
                cells.append(f"{LABEL[d]} " + " / ".join(f"{x / 1000:.0f}k" for x in v))
        if cells:
            w(f"- {case}: " + "; ".join(cells))
    w("")

    # CPU and memory.
    w("### CPU per message and memory")
    w("")
    w("CPU: the daemon's user + system time while the clock ran, divided by the input "
      "messages (microseconds; less load-sensitive than throughput). Peak RSS: VmHWM at the "
      "end of the run. Context switches: all of the daemon's threads, per 1,000 messages.")
    w("")
    mem_daemons = [d for d in present if d != "raw"]
    w("| case | " + " | ".join(f"{LABEL[d]} CPU µs" for d in mem_daemons) + " | " +
      " | ".join(f"{LABEL[d]} peak RSS" for d in mem_daemons) + " | " +
      " | ".join(f"{LABEL[d]} ctxsw/1k" for d in mem_daemons) + " |")
    w("|---" * (1 + 3 * len(mem_daemons)) + "|")
    for case, title in CASES:
        if not any((case, d) in data for d in mem_daemons):
            continue
        cpu = [med(data, case, d, "cpu") for d in mem_daemons]
        hwm = [med(data, case, d, "hwm_kb") for d in mem_daemons]
        cs = [med(data, case, d, "ctxsw") for d in mem_daemons]
        row = [case]
        row += ["–" if c is None else f"{c / n * 1e6:.2f}" for c in cpu]
        row += ["–" if h is None else f"{h / 1024:.1f} MiB" for h in hwm]
        row += ["–" if c is None else f"{c / n * 1000:.1f}" for c in cs]
        w("| " + " | ".join(row) + " |")
    w("")
    idle = {d: med(data, "idle", d, "rss_kb") for d in mem_daemons}
    if any(idle.values()):
        w("Idle RSS (VmRSS two seconds after start, TCP -> file configuration, median): " +
          ", ".join(f"{LABEL[d]} {v / 1024:.1f} MiB" for d, v in idle.items() if v) + ".")
        w("")

    # UDP.
    udp_rate = None
    if any(k[0] in ("udp", "udp_ladder") for k in data):
        w("### UDP -> file: messages lost at a fixed offered rate")
        w("")
        ladder = defaultdict(dict)
        for (case, d, rnd), kv in rounds.items():
            if case == "udp_ladder" and "sent" in kv:
                ladder[int(rnd)][d] = (int(kv["lost"]), int(kv["sent"]), float(kv.get("achieved_rate", 0)))
        if ladder:
            udp_daemons = [d for d in present if any(d in v for v in ladder.values())]
            w("Ladder (one round per rate; a daemon leaves it once it lost more than 10%): "
              "lost, lost / sent, and the rate the sender reached (on two cores the sender "
              "competes with the daemon, so it falls short of the offered rate when the daemon "
              "takes more CPU).")
            w("")
            w("| offered msg/s | " + " | ".join(LABEL[d] for d in udp_daemons) + " |")
            w("|---" * (1 + len(udp_daemons)) + "|")
            for rate in sorted(ladder):
                cells = []
                for d in udp_daemons:
                    if d in ladder[rate]:
                        lost, sent, got = ladder[rate][d]
                        cells.append(f"{100 * lost / max(sent, 1):.2f}% ({lost:,} / {sent:,}; "
                                     f"sent at {got / 1000:.0f}k/s)")
                    else:
                        cells.append("–")
                w(f"| {rate:,} | " + " | ".join(cells) + " |")
            w("")
        if any(k[0] == "udp" for k in data):
            udp_rate = med(data, "udp", "rsyslog", "offered") or med(data, "udp", "sluice", "offered")
            w(f"At {udp_rate:,.0f} msg/s offered (where rsyslog starts losing: the lowest rate "
              f"of the ladder from which on it lost more than 0.1% at every rate), "
              f"{meta.get('rounds', '?')} rounds, median lost / sent and the rounds:")
            w("")
            for d in present:
                if ("udp", d) not in data:
                    continue
                lost = data[("udp", d)].get("lost", [])
                sent = data[("udp", d)].get("sent", [])
                if lost:
                    w(f"- {LABEL[d]}: {statistics.median(lost):,.0f} of "
                      f"{statistics.median(sent):,.0f} "
                      f"({100 * statistics.median(lost) / max(statistics.median(sent), 1):.2f}%); "
                      f"rounds: {', '.join(f'{x:,.0f}' for x in lost)}")
            w("")

    # Profiles.
    prof = [(c, t) for c, t in CASES if any((f"profile_{c}", d) in data for d in present)]
    if prof:
        w("### Syscalls per 1,000 messages and allocations per message")
        w("")
        w("From one shorter run per case and daemon (a fifth of the messages) under "
          "`perf stat -e 'syscalls:sys_enter_*' -p PID` and the counting allocator "
          "`bench/malloc_count.c` (allocations: malloc, calloc, realloc of NULL, aligned "
          "allocators; a run without traffic is subtracted). futex counts are lock and "
          "condition-variable waits and wake-ups that reached the kernel.")
        w("")
        w("| case | daemon | syscalls / 1k msgs | largest | allocations / msg |")
        w("|---|---|---|---|---|")
        for case, title in prof:
            for d in present:
                kv = data.get((f"profile_{case}", d))
                if not kv:
                    continue
                tot = kv.get("sys_total", [None])[0]
                top = sorted(((v[0], k[4:]) for k, v in kv.items()
                              if k.startswith("sys_") and k != "sys_total"), reverse=True)[:5]
                al = kv.get("allocs_per_msg", [None])[0]
                w(f"| {case} | {LABEL[d]} | {'–' if tot is None else f'{tot:.1f}'} | " +
                  ", ".join(f"{name} {v:.1f}" for v, name in top) +
                  f" | {'–' if al is None else f'{al:.2f}'} |")
        w("")

    # Queues.
    qs = [q for q in ("memory", "none", "interval", "batch") if (f"queue_{q}", "sluice") in data]
    if qs:
        mem = med(data, "queue_memory", "sluice", "rate")
        w("### sluice, TCP -> file behind each kind of queue")
        w("")
        w("The tcp4 case with the file action behind a memory queue and behind a disk queue "
          "with each sync policy (`queue: {type: disk, sync: ...}`, 10,000 messages of memory), "
          "work_dir and output on a disk (not a tmpfs: a sync there would cost nothing). "
          "docs/dqueue.md says what each policy keeps across a crash.")
        w("")
        w("| queue | msg/s (median) | rounds | vs memory queue | CPU µs / msg |")
        w("|---|---|---|---|---|")
        names = {"memory": "memory", "none": "disk, sync: none", "interval": "disk, sync: interval",
                 "batch": "disk, sync: batch (write-through)"}
        for q in qs:
            kv = data[(f"queue_{q}", "sluice")]
            r = med(data, f"queue_{q}", "sluice", "rate")
            cpu = med(data, f"queue_{q}", "sluice", "cpu")
            w(f"| {names[q]} | {fmt_rate(r)} | "
              f"{' / '.join(f'{x / 1000:.0f}k' for x in kv.get('rate', []))} | "
              f"{fmt_ratio(r, mem)} | {'–' if cpu is None else f'{cpu / n * 1e6:.2f}'} |")
        w("")

    # Targets.
    w("### Targets (ratios from this run)")
    w("")
    w("| target | measured | holds |")
    w("|---|---|---|")

    def target(name, value, ok, shown):
        w(f"| {name} | {shown if value is not None else '–'} | "
          f"{'–' if value is None else ('yes' if ok else '**no**')} |")

    v = round_ratio(rounds, "tcp4", "sluice", "rsyslog")
    target("TCP -> file >= 2.0x rsyslog", v, v and v >= 2.0, f"{v:.2f}x" if v else "")
    v = round_ratio(rounds, "tcp4", "sluice", "raw")
    target("TCP -> file >= 0.6x the raw copy", v, v and v >= 0.6, f"{v:.2f}x" if v else "")
    v = round_ratio(rounds, "tcp1", "sluice", "rsyslog")
    target("one connection >= 2.0x rsyslog", v, v and v >= 2.0, f"{v:.2f}x" if v else "")
    # RFC 5424 against the RFC 3164 run just before it in the same round (older results files
    # have no such run: then the two cases' medians).
    v = round_ratio(rounds, "rfc5424", "sluice", "sluice3164")
    if v is None:
        s4, s5 = med(data, "tcp4", "sluice", "rate"), med(data, "rfc5424", "sluice", "rate")
        v = s5 / s4 if s5 and s4 else None
    target("RFC 5424 >= 0.9x RFC 3164 (sluice)", v, v and v >= 0.9, f"{v:.2f}x" if v else "")
    v = round_ratio(rounds, "fanout", "sluice", "rsyslog")
    target("fan-out 1 -> 4 >= 2.5x rsyslog", v, v and v >= 2.5, f"{v:.2f}x" if v else "")
    sl, rl = med(data, "udp", "sluice", "lost"), med(data, "udp", "rsyslog", "lost")
    v = None if sl is None or rl is None else sl
    target(f"UDP at {udp_rate or 0:,.0f} msg/s: sluice loses less than rsyslog", v,
           v is not None and sl < rl, f"{sl:,.0f} vs {rl:,.0f} lost" if v is not None else "")
    si = med(data, "idle", "sluice", "rss_kb")
    target("idle RSS <= 4 MiB", si, si is not None and si <= 4096,
           f"{si / 1024:.1f} MiB" if si else "")
    sh, rh = med(data, "tcp4", "sluice", "hwm_kb"), med(data, "tcp4", "rsyslog", "hwm_kb")
    v = sh if sh and rh else None
    target("peak RSS during TCP -> file <= rsyslog's", v, v and sh <= rh,
           f"{sh / 1024:.1f} vs {rh / 1024:.1f} MiB" if v else "")
    w("")
    w("![throughput per case and daemon](performance.png)")

    text = "\n".join(out) + "\n"
    write_doc(a.doc, text)
    plot(a.png, data, present, rounds)
    sys.stdout.write(text)


def write_doc(path, text):
    if os.path.exists(path):
        doc = open(path).read()
    else:
        doc = f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc or END not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + END + tail)


def plot(path, data, present, rounds):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt-get install python3-matplotlib): no plot", file=sys.stderr)
        return
    cases = [(c, t) for c, t in CASES if any((c, d) in data for d in present)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [2.2, 1]})
    ax = axes[0]
    width = 0.8 / max(len(present), 1)
    colors = {"sluice": "#1f77b4", "rsyslog": "#d62728", "syslogng": "#2ca02c", "raw": "#7f7f7f"}
    for i, d in enumerate(present):
        xs, ys, lo, hi = [], [], [], []
        for j, (c, _) in enumerate(cases):
            v = data.get((c, d), {}).get("rate")
            if not v:
                continue
            m = statistics.median(v)
            xs.append(j + (i - (len(present) - 1) / 2) * width)
            ys.append(m / 1000)
            lo.append((m - min(v)) / 1000)
            hi.append((max(v) - m) / 1000)
        ax.bar(xs, ys, width, label=LABEL[d], color=colors.get(d), yerr=[lo, hi], capsize=2)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([c for c, _ in cases])
    ax.set_ylabel("thousand input messages / s (median, min-max)")
    ax.set_title("Throughput")
    ax.legend()
    ax = axes[1]
    ladder = defaultdict(dict)
    for (case, d, rnd), kv in rounds.items():
        if case == "udp_ladder" and "sent" in kv:
            ladder[d][int(rnd)] = 100 * int(kv["lost"]) / max(int(kv["sent"]), 1)
    for d, pts in ladder.items():
        xs = sorted(pts)
        ax.plot([x / 1000 for x in xs], [pts[x] for x in xs], "o-", label=LABEL[d],
                color=colors.get(d))
    ax.set_xlabel("offered UDP rate (thousand msg/s)")
    ax.set_ylabel("lost (%)")
    ax.set_title("UDP loss")
    if ladder:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
