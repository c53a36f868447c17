#!/bin/bash
# The benchmark suite: sluice, rsyslog and syslog-ng (and a raw socat copy as the physical
# reference) on the same machine, the same input and the same output format (rsyslog's
# traditional file format), alternating round by round. One command does everything: installs
# what is missing (rsyslog, syslog-ng via shared/bench/anchors-env.sh, socat, perf, matplotlib),
# builds sluice (Release, in build-bench/) and the two helpers, generates the input, runs every
# case, writes the results file and regenerates docs/performance.md's table and plot.
#
#   bench/suite.sh [-n MESSAGES] [-r ROUNDS] [-c "CASES"] [-d "DAEMONS"] [-o RESULTS] [-x]
#     -n  messages per timed run (default 1000000; the profile runs send a fifth)
#     -r  rounds (default 3); medians are taken over rounds
#     -c  any of: tcp4 tcp1 rfc5424 fanout relay udp idle profile queues (default all)
#     -d  any of: sluice raw rsyslog syslogng (default all, in this order within a round, so that
#         sluice and the raw copy run back to back; raw takes part where it makes sense)
#     -o  results file (default bench/results/results.tsv)
#     -x  do not regenerate the report (docs/performance.md, docs/performance.png)
#   SLUICED=path uses that sluiced instead of building one; BENCH_DIR=dir puts the daemons'
#   work directories and output files there (default /dev/shm, a tmpfs; /tmp when missing).
#
# Cases (input: 256-byte lines, each "seq: N, thread: T" so every message can be checked):
#   tcp4     TCP -> file, RFC 3164, 4 connections
#   tcp1     TCP -> file, RFC 3164, 1 connection
#   rfc5424  TCP -> file, RFC 5424 with structured data, 4 connections; each sluice run right
#            after a tcp4 run of sluice (the RFC 3164 reference of the 0.9x target)
#   fanout   TCP -> four files with four different selectors (all match): 1 -> 4
#   relay    TCP -> TCP: the daemon forwards RFC 3164 lines to a sink (socat to a file, the
#            same sink for all)
#   udp      UDP -> file at fixed offered rates: first a ladder (one round per rate and daemon),
#            then ROUNDS at the rate from which on rsyslog lost more than 0.1% at every rate
#   idle     RSS of a started, idle daemon (tcp4 configuration)
#   queues   sluice alone, tcp4 with the file action behind a memory queue and behind a disk
#            queue with each sync policy (none, interval, batch); work_dir and output on
#            QUEUE_DIR (default /var/tmp, a disk: syncing a tmpfs would measure nothing)
#   profile  per case and daemon, one shorter run under `perf stat -e syscalls:sys_enter_*`
#            and the counting allocator (bench/malloc_count.c): syscalls per 1,000 messages and
#            allocations per message
# Every timed run stops its clock when the outputs hold every line (bench/benchtool.c counts
# them as they arrive, at next to no cost) and then checks every message: each (thread, seq)
# exactly once per output, each line whole. A run that misses anything is recorded as failed.
# Peak RSS (VmHWM) and CPU seconds of the daemon come from /proc/PID at the end of each run.
#
# Results: one line per measurement, tab-separated: case daemon round key value (see
# bench/report.py, which makes the table and the plot from them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
shared=${SLUICE_SHARED:-/work/shared}
. "$shared/bench/anchors-env.sh"

N=1000000; ROUNDS=3; CASES="tcp4 tcp1 rfc5424 fanout relay udp idle profile queues"
DAEMONS="sluice raw rsyslog syslogng"; RESULTS=$top/bench/results/results.tsv; REPORT=1
UDP_RATES=${UDP_RATES:-"50000 75000 100000 125000 150000 200000 300000"}; UDP_SECONDS=${UDP_SECONDS:-4}
# Work directories and output files: tmpfs by default, so that the disk of a shared machine
# (other jobs' writeback, journal commits) does not stall one daemon's writes and not another's.
BENCH_DIR=${BENCH_DIR:-/dev/shm}
[ -d "$BENCH_DIR" ] && [ -w "$BENCH_DIR" ] || BENCH_DIR=/tmp
while getopts n:r:c:d:o:x o; do case $o in
  n) N=$OPTARG;; r) ROUNDS=$OPTARG;; c) CASES=$OPTARG;; d) DAEMONS=$OPTARG;; o) RESULTS=$OPTARG;;
  x) REPORT=0;; *) sed -n '2,40p' "$0"; exit 2;; esac; done
CONNS=4; SIZE=256; PER=$((N / CONNS)); N=$((PER * CONNS)); NPROF=$(( (N / 5) / CONNS * CONNS ))

# ---- Setup ---------------------------------------------------------------------------------
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1; }
install_anchors
command -v socat >/dev/null || apt_install socat
command -v perf >/dev/null || apt_install linux-perf
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || apt_install python3-matplotlib
TOOLS=$top/build-bench/tools; mkdir -p "$TOOLS"
cc -O2 -Wall -o "$TOOLS/benchtool" "$here/benchtool.c" -lpthread || exit 2
cc -O2 -Wall -shared -fPIC -o "$TOOLS/malloc_count.so" "$here/malloc_count.c" || exit 2
BT=$TOOLS/benchtool
if [ -z "${SLUICED:-}" ]; then
  cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DSL_BUILD_TESTS=OFF >/dev/null &&
    cmake --build "$top/build-bench" -j"$(nproc)" --target sluiced >/dev/null || exit 2
  SLUICED=$top/build-bench/sluiced
fi
[ -x "$SLUICED" ] || { echo "no sluiced at $SLUICED" >&2; exit 2; }
PERF_OK=0; perf stat -e 'syscalls:sys_enter_write' true >/dev/null 2>&1 && PERF_OK=1

# Input: one file per connection and format. Generated once per size, kept under /tmp.
DATA=/tmp/sluice-bench-suite/$PER-$CONNS
gen() {  # $1 format (3164|5424), $2 directory
  mkdir -p "$2"
  for c in $(seq 0 $((CONNS - 1))); do
    awk -v n=$PER -v c=$c -v size=$SIZE -v fmt=$1 'BEGIN{pad=""; while (length(pad) < size) pad = pad "PADD";
      for (i = 0; i < n; i++) {
        if (fmt == 3164) l = sprintf("<38>Nov 22 04:56:13 localhost prg%05d[1234]: seq: %010d, thread: %04d, runid: 1795323373, stamp: 2026-11-22T04:56:13 ", c, i, c);
        else l = sprintf("<38>1 2026-11-22T04:56:13.123456+01:00 localhost prg%05d 1234 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\" eventID=\"1011\"][meta seq=\"%d\"] seq: %010d, thread: %04d, ", c, i, i, c);
        print l substr(pad, length(pad) - (size - 1 - length(l)) + 1) }}' > "$2/$c"
  done
}
[ -f $DATA/ok ] || { gen 3164 $DATA/3164 && gen 5424 $DATA/5424 && touch $DATA/ok; }
files() { local c s=""; for c in $(seq 0 $((CONNS - 1))); do s="$s $DATA/$1/$c"; done; echo $s; }
joined() { files "$1" | sed 's/^ //; s/ /,/g'; }

mkdir -p "$(dirname "$RESULTS")"
{
  printf '# date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '# cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  printf '# nproc\t%s\n' "$(nproc)"
  printf '# kernel\t%s\n' "$(uname -r)"
  printf '# memory\t%s\n' "$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  printf '# load\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '# messages\t%s\n' "$N"
  printf '# rounds\t%s\n' "$ROUNDS"
  printf '# sluice\t%s\n' "$(cd "$top" && git describe --always --dirty 2>/dev/null)"
  printf '# rsyslog\t%s\n' "$(rsyslogd -v 2>/dev/null | head -1)"
  printf '# syslog-ng\t%s\n' "$(syslogng --version 2>/dev/null | head -1)"
  printf '# socat\t%s\n' "$(socat -V 2>/dev/null | grep -m1 'socat version')"
  printf '# bench_dir\t%s (%s)\n' "$BENCH_DIR" "$(df --output=fstype "$BENCH_DIR" | tail -1)"
} > "$RESULTS"
put() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }

# ---- Daemons -------------------------------------------------------------------------------
SELECTORS=("*.*" "auth.*" "*.info" "auth,authpriv.*")
SNG_FILTERS=("" "filter(f1);" "filter(f2);" "filter(f3);")

# start DAEMON CASE WORKDIR PORT [SINKPORT]; sets DP (the daemon's pid) and OUTS (its outputs).
start() {
  local d=$1 k=$2 w=$3 port=$4 sink=${5:-} i n=1
  [ $k = fanout ] && n=4
  OUTS=""; for i in $(seq 0 $((n - 1))); do OUTS="$OUTS,$w/out$i.log"; done; OUTS=${OUTS#,}
  [ $k = relay ] && OUTS=$w/sink.log
  case $d in
  sluice)
    {
      echo "work_dir: $w"
      echo "inputs:"
      if [ $k = udp ]; then echo "  - {name: in, type: udp, listen: \"127.0.0.1:$port\", threads: 2}"
      else echo "  - {name: in, type: tcp, listen: \"127.0.0.1:$port\", threads: 2}"; fi
      echo "actions:"
      case $k in
      fanout) for i in 0 1 2 3; do echo "  - {name: out$i, type: file, path: \"$w/out$i.log\", select: \"${SELECTORS[$i]}\", template: traditional}"; done ;;
      relay) echo "  - {name: fwd, type: forward, target: \"127.0.0.1:$sink\", protocol: tcp, framing: lf, template: rfc3164}" ;;
      *) echo "  - {name: out0, type: file, path: \"$w/out0.log\", template: traditional${QUEUE:+, queue: $QUEUE}}" ;;
      esac
    } > $w/sluice.yaml
    $PRE $SLUICED -f $w/sluice.yaml -n >$w/d.log 2>&1 & DP=$! ;;
  rsyslog)
    {
      echo "global(workDirectory=\"$w\")"
      echo "main_queue(queue.type=\"FixedArray\" queue.size=\"100000\" queue.dequeueBatchSize=\"1024\")"
      if [ $k = udp ]; then
        echo 'module(load="imudp" threads="2")'
        echo "input(type=\"imudp\" port=\"$port\" address=\"127.0.0.1\")"
      else
        echo 'module(load="imptcp" threads="2")'
        echo "input(type=\"imptcp\" port=\"$port\" address=\"127.0.0.1\")"
      fi
      local a='template="RSYSLOG_TraditionalFileFormat" asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off"'
      case $k in
      fanout) for i in 0 1 2 3; do echo "${SELECTORS[$i]} action(type=\"omfile\" file=\"$w/out$i.log\" $a)"; done ;;
      relay) echo "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"$sink\" protocol=\"tcp\" template=\"RSYSLOG_TraditionalForwardFormat\")" ;;
      *) echo "action(type=\"omfile\" file=\"$w/out0.log\" $a)" ;;
      esac
    } > $w/r.conf
    $PRE rsyslogd -n -f $w/r.conf -i $w/pid >$w/d.log 2>&1 & DP=$! ;;
  syslogng)
    # flow-control: a TCP source waits for a full destination instead of dropping, as rsyslog
    # and sluice do (syslog-ng's default drops once log-fifo-size is full; seen in the relay).
    local src flags="" fc="flags(flow-control);"
    [ $k = udp ] && fc=""
    [ $k = rfc5424 ] && flags=" flags(syslog-protocol)"
    if [ $k = udp ]; then src="network(ip(127.0.0.1) port($port) transport(udp))"
    else src="network(ip(127.0.0.1) port($port) transport(tcp) max-connections(64) log-iw-size(100000)$flags)"; fi
    {
      echo "@version: 3.38"
      echo "options { flush-lines(1000); log-fifo-size(100000); threaded(yes); stats-freq(0); };"
      echo "source s { $src; };"
      echo "filter f1 { facility(auth); }; filter f2 { level(info..emerg); }; filter f3 { facility(auth, authpriv); };"
      case $k in
      fanout) for i in 0 1 2 3; do
          echo "destination d$i { file(\"$w/out$i.log\" template(\"\${DATE} \${HOST} \${MSGHDR}\${MSG}\\n\")); };"
          echo "log { source(s); ${SNG_FILTERS[$i]} destination(d$i); $fc };"
        done ;;
      relay) echo "destination d0 { network(\"127.0.0.1\" port($sink) transport(tcp)); };"
        echo "log { source(s); destination(d0); $fc };" ;;
      *) echo "destination d0 { file(\"$w/out0.log\" template(\"\${DATE} \${HOST} \${MSGHDR}\${MSG}\\n\")); };"
        echo "log { source(s); destination(d0); $fc };" ;;
      esac
    } > $w/s.conf
    $PRE env LD_LIBRARY_PATH=$SNG_LD $SNG/usr/sbin/syslog-ng -F -f $w/s.conf -R $w/persist -p $w/pid -c $w/ctl >$w/d.log 2>&1 & DP=$! ;;
  raw)  # the bytes as they come, no parsing; 64 KiB reads, as sluice's stream input
    if [ $k = relay ]; then setsid socat -b 65536 -u TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:$sink >$w/d.log 2>&1 &
    else setsid socat -b 65536 -u TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr OPEN:$w/out0.log,creat,append >$w/d.log 2>&1 & fi
    DP=$! ;;
  esac
}

stop() {  # $1 daemon
  if [ $1 = raw ]; then kill -- -$DP 2>/dev/null; else kill $DP 2>/dev/null; fi
  wait $DP 2>/dev/null
}

SINK=""; SINKPORT=""; PRE=""; QUEUE=""
start_sink() {  # $1 workdir; the relay's receiving end, the same for every daemon
  SINKPORT=$($BT port)
  setsid socat -b 65536 -u TCP-LISTEN:$SINKPORT,bind=127.0.0.1,fork,reuseaddr OPEN:$1/sink.log,creat,append >/dev/null 2>&1 &
  SINK=$!
  $BT wait -p $SINKPORT
}
stop_sink() { [ -n "$SINK" ] && { kill -- -$SINK 2>/dev/null; wait $SINK 2>/dev/null; SINK=""; }; }

# One TCP run: prints benchtool's line. $1 daemon, $2 case, $3 messages (N or NPROF),
# $4 "prof" to count syscalls and allocations.
tcp_run() {
  local d=$1 k=$2 m=$3 prof=${4:-} w port fmt=3164 conns verify=-v out pp=""
  w=$(mktemp -d "$BENCH_DIR/slb.XXXXXX"); port=$($BT port)
  [ $k = rfc5424 ] && fmt=5424
  [ $k = relay ] && start_sink $w
  PRE=""
  [ -n "$prof" ] && [ $d != raw ] && PRE="env MALLOC_COUNT_OUT=$w/malloc.txt LD_PRELOAD=$TOOLS/malloc_count.so"
  start $d $k $w $port ${SINKPORT:-}
  PRE=""
  $BT wait -p $port || { echo "fail=start"; log "$d did not start: $(tail -3 $w/d.log)"; stop $d; stop_sink; return; }
  [ $d = raw ] && verify=""
  local per=$((m / CONNS)) i c
  # The profile runs send the first per lines of each file: a temporary prefix copy.
  if [ $m -lt $N ]; then
    mkdir -p $w/in; for c in $(seq 0 $((CONNS - 1))); do head -n $per $DATA/$fmt/$c > $w/in/$c; done
    conns=$(for c in $(seq 0 $((CONNS - 1))); do printf '%s ' $w/in/$c; done)
  else
    conns=$(files $fmt)
  fi
  [ $k = tcp1 ] && conns=$(echo $conns | tr ' ' ',')
  if [ -n "$prof" ] && [ $PERF_OK = 1 ]; then
    perf stat -x, -o $w/perf.txt -e 'syscalls:sys_enter_*' -p $DP >/dev/null 2>&1 & pp=$!
    sleep 1
  fi
  out=$($BT tcp -p $port -m $m -t $CONNS -o $OUTS -P $DP $verify $conns)
  # A failed run keeps what says why: is the daemon still there, and the end of its log.
  case "$out" in *ok=0*)
    log "$d $k run failed: pid $DP $(kill -0 $DP 2>/dev/null && echo alive || echo gone) ($(ps -o pid=,stat=,comm= -p $DP 2>/dev/null)); log: $(tail -5 $w/d.log | tr '\n' '|')" ;;
  esac
  [ -n "$pp" ] && { kill -INT $pp; wait $pp; }
  stop $d; stop_sink
  if [ -n "$prof" ]; then
    [ -f $w/perf.txt ] && out="$out $(awk -F, -v m=$m '$1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); t += $1; s = s sprintf(" sys_%s=%.2f", $3, $1 * 1000 / m) } END { printf "sys_total=%.2f%s", t * 1000 / m, s }' $w/perf.txt)"
    [ -f $w/malloc.txt ] && out="$out $(sed 's/^/prof_/' $w/malloc.txt | tr '\n' ' ')"
  fi
  echo "$out"
  rm -rf $w
}

# Allocation count of a daemon started and stopped without traffic (the baseline to subtract).
alloc_baseline() {  # $1 daemon $2 case
  local d=$1 k=$2 w port
  w=$(mktemp -d "$BENCH_DIR/slb.XXXXXX"); port=$($BT port)
  [ $k = relay ] && start_sink $w
  PRE="env MALLOC_COUNT_OUT=$w/malloc.txt LD_PRELOAD=$TOOLS/malloc_count.so"
  start $d $k $w $port ${SINKPORT:-}
  PRE=""
  if [ $k = udp ]; then $BT wait -u -p $port; else $BT wait -p $port; fi
  sleep 1; stop $d; stop_sink
  sed -n 's/.*allocs=\([0-9]*\).*/\1/p' $w/malloc.txt | tail -1
  rm -rf $w
}

# Records benchtool's key=value output for case $1, daemon $2, round $3.
record() {
  local k=$1 d=$2 r=$3 kv
  for kv in $4; do put "$k" "$d" "$r" "${kv%%=*}" "${kv#*=}"; done
}

rate_of() {  # messages per second from benchtool's line; 0 unless every message arrived whole
  local line=$1 m=$2 secs
  case "$line" in *"ok=1"*) ;; *) echo 0; return;; esac
  secs=$(echo "$line" | sed -n 's/.*secs=\([0-9.]*\).*/\1/p')
  echo "$m / $secs" | bc
}

has() { case " $DAEMONS " in *" $1 "*) return 0;; esac; return 1; }
daemons_for() {  # the daemons that take part in case $1
  local d out=""
  for d in $DAEMONS; do
    [ $d = raw ] && case $1 in fanout|udp|idle) continue;; esac
    out="$out $d"
  done
  echo $out
}

log() { echo "[$(date +%T)] $*" >&2; }

# ---- UDP -----------------------------------------------------------------------------------
udp_run() {  # $1 daemon $2 rate; prints benchtool's line
  local d=$1 rate=$2 w port secs
  w=$(mktemp -d "$BENCH_DIR/slb.XXXXXX"); port=$($BT port)
  start $d udp $w $port
  $BT wait -u -p $port || { echo "fail=start"; log "$d did not start: $(tail -3 $w/d.log)"; stop $d; return; }
  sleep 0.5  # a bound socket is not yet a reading thread (rsyslog starts imudp's late)
  secs=$(echo "s = $N / $rate; if (s > $UDP_SECONDS) s = $UDP_SECONDS; s" | bc -l)
  $BT udp -p $port -m $N -t $CONNS -r $rate -d $secs -o $OUTS -P $DP $(files 3164)
  stop $d
  rm -rf $w
}

case_udp() {
  local rate d r line lost sent base="" over=""
  log "udp ladder: $UDP_RATES"
  # Every daemon climbs the ladder until it loses more than 10% (past that, more of the same).
  # The base rate is where rsyslog starts losing: the lowest rate from which on it lost more
  # than 0.1% at every rate it ran (a single loss at a low rate, with no loss above it, is a
  # scheduling hiccup, not the rate where it starts losing).
  for rate in $UDP_RATES; do
    for d in $(daemons_for udp); do
      case " $over " in *" $d "*) continue;; esac
      line=$(udp_run $d $rate); record udp_ladder $d $rate "$line"
      lost=$(echo "$line" | sed -n 's/.*lost=\([0-9]*\).*/\1/p'); sent=$(echo "$line" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
      log "  $d @ $rate/s: lost $lost of $sent ($line)"
      [ -n "$sent" ] && [ -n "$lost" ] || continue
      if [ $d = rsyslog ]; then
        if [ $((lost * 1000)) -gt $sent ]; then [ -n "$base" ] || base=$rate; else base=""; fi
      fi
      [ $((lost * 10)) -gt $sent ] && over="$over $d"
    done
  done
  base=${base:-$rate}
  log "udp at $base/s (from where on rsyslog lost > 0.1%), $ROUNDS rounds"
  for r in $(seq $ROUNDS); do
    for d in $(daemons_for udp); do
      line=$(udp_run $d $base); record udp $d $r "$line offered=$base"
      log "  $d round $r: $line"
    done
  done
}

# ---- Idle RSS ------------------------------------------------------------------------------
case_idle() {
  local r d w port
  for r in $(seq $ROUNDS); do
    for d in $(daemons_for idle); do
      w=$(mktemp -d "$BENCH_DIR/slb.XXXXXX"); port=$($BT port)
      start $d tcp4 $w $port; $BT wait -p $port; sleep 2
      put idle $d $r rss_kb "$(awk '/VmRSS/{print $2}' /proc/$DP/status)"
      put idle $d $r threads "$(ls /proc/$DP/task | wc -l)"
      log "idle $d: $(grep VmRSS /proc/$DP/status)"
      stop $d; rm -rf $w
    done
  done
}

# ---- Main ----------------------------------------------------------------------------------
log "machine: $(nproc) cores, $(uname -r); N=$N rounds=$ROUNDS; results: $RESULTS"
for k in $CASES; do
  case $k in
  udp) case_udp ;;
  idle) case_idle ;;
  profile)
    for kk in tcp4 tcp1 rfc5424 fanout relay; do
      for d in $(daemons_for $kk); do
        line=$(tcp_run $d $kk $NPROF prof)
        if [ $d != raw ]; then
          b=$(alloc_baseline $d $kk); a=$(echo "$line" | sed -n 's/.*prof_allocs=\([0-9]*\).*/\1/p')
          [ -n "$a" ] && [ -n "$b" ] && line="$line allocs_per_msg=$(echo "scale=3; ($a - $b) / $NPROF" | bc)"
        fi
        record profile_$kk $d 1 "$line msgs=$NPROF"
        log "profile $kk $d: $(echo "$line" | grep -oE 'sys_total=[0-9.]+|allocs_per_msg=[0-9.]+' | tr '\n' ' ')"
      done
    done ;;
  queues)
    qdir=${QUEUE_DIR:-/var/tmp}; saved=$BENCH_DIR; BENCH_DIR=$qdir
    log "queues: work_dir and outputs in $qdir ($(df --output=fstype "$qdir" | tail -1))"
    for r in $(seq $ROUNDS); do
      for q in memory none interval batch; do
        if [ $q = memory ]; then QUEUE=""; else QUEUE="{type: disk, sync: $q}"; fi
        line=$(tcp_run sluice tcp4 $N)
        rate=$(rate_of "$line" $N)
        record queue_$q sluice $r "$line rate=$rate"
        log "queues $q round $r: $rate msg/s ($line)"
      done
    done
    QUEUE=""; BENCH_DIR=$saved ;;
  tcp4|tcp1|rfc5424|fanout|relay)
    # A warm-up run, not recorded: the first run of a case was the slowest for whichever
    # daemon ran first (up to twice the CPU for the same work; docs/performance.md, Method).
    line=$(tcp_run sluice $k $N)
    log "$k warm-up (not recorded): $(rate_of "$line" $N) msg/s"
    for r in $(seq $ROUNDS); do
      # RFC 5424 is compared with RFC 3164: sluice runs the tcp4 case right before each of its
      # RFC 5424 runs (recorded as daemon sluice3164), so the two see the same machine.
      ref=""; [ $k = rfc5424 ] && [[ " $DAEMONS " == *" sluice "* ]] && ref=sluice3164
      for d in $ref $(daemons_for $k); do
        if [ $d = sluice3164 ]; then line=$(tcp_run sluice tcp4 $N); else line=$(tcp_run $d $k $N); fi
        rate=$(rate_of "$line" $N)
        record $k $d $r "$line rate=$rate"
        log "$k $d round $r: $rate msg/s ($line)"
      done
    done ;;
  *) echo "unknown case $k" >&2 ;;
  esac
done
if [ $REPORT = 1 ]; then /usr/bin/python3 "$here/report.py" "$RESULTS"; fi
