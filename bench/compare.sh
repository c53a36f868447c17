#!/bin/bash
# Side by side: sluice and rsyslog (and syslog-ng) on the same machine, same input, same output
# format (the traditional file format), alternating round by round; medians and ratios.
#
#   bench/compare.sh [-n MESSAGES] [-r ROUNDS] [-c CASES] [DAEMON...]
#   CASES: any of tcp fanout udp (default all); DAEMON: sluice rsyslog syslogng (default sluice
#   rsyslog)
#
#   tcp     TCP -> one file, 256-byte RFC 3164 lines over 4 connections (shared/bench's settings)
#   fanout  TCP -> four files, each action with its own selector (all match): 1 -> 4 fan-out
#   udp     UDP -> file at a fixed offered rate (loggen --rate); reports how many were lost
#
# The TCP cases reuse the input files of shared/bench/tcp-to-file.sh (generated on first use).
# A run ends when the output holds every line (tcp, fanout) or when the input has been quiet
# for a second after the sender finished (udp). Build sluice first (Release):
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
shared=${SLUICE_SHARED:-$top/../shared}
. "$shared/bench/anchors-env.sh"
N=1000000; ROUNDS=3; CASES="tcp fanout udp"; SIZE=256; CONNS=4; UDP_RATE=${UDP_RATE:-100000}
UDP_SECONDS=${UDP_SECONDS:-5}
while getopts n:r:c: o; do case $o in n) N=$OPTARG;; r) ROUNDS=$OPTARG;; c) CASES=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND - 1)); DAEMONS=${*:-sluice rsyslog}
install_anchors
command -v socat >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y socat >/dev/null
SLUICED=${SLUICED:-$top/build/sluiced}
[ -x "$SLUICED" ] || { echo "build sluice first: $SLUICED missing" >&2; exit 2; }

PER=$((N / CONNS)); DATA=/tmp/sluice-bench-$PER-$SIZE-$CONNS
if [ ! -f $DATA.ok ]; then
  mkdir -p $DATA
  for c in $(seq 0 $((CONNS - 1))); do
    awk -v n=$PER -v c=$c -v size=$SIZE 'BEGIN{pad=""; while (length(pad) < size) pad = pad "PADD";
      for (i = 0; i < n; i++) { l = sprintf("<38>Nov 22 04:56:13 localhost prg%05d[1234]: seq: %010d, thread: %04d, runid: 1795323373, stamp: 2026-11-22T04:56:13 ", c, i, c);
        print l substr(pad, 1, size - 1 - length(l)) }}' > $DATA/$c
  done
  touch $DATA.ok
fi

SELECTORS=("*.*" "auth.*" "*.info" "auth,authpriv.*")

start_daemon() {  # $1 daemon, $2 case, $3 workdir, $4 port; sets DP
  local d=$1 k=$2 w=$3 port=$4 i
  case $d in
  rsyslog)
    {
      echo "global(workDirectory=\"$w\")"
      echo "main_queue(queue.type=\"FixedArray\" queue.size=\"100000\" queue.dequeueBatchSize=\"1024\")"
      if [ $k = udp ]; then
        echo 'module(load="imudp" threads="2")'
        echo "input(type=\"imudp\" port=\"$port\" address=\"127.0.0.1\" rcvbufSize=\"8m\")"
      else
        echo 'module(load="imptcp" threads="2")'
        echo "input(type=\"imptcp\" port=\"$port\" address=\"127.0.0.1\")"
      fi
      if [ $k = fanout ]; then
        for i in 0 1 2 3; do
          echo "${SELECTORS[$i]} action(type=\"omfile\" file=\"$w/out$i.log\" template=\"RSYSLOG_TraditionalFileFormat\" asyncWriting=\"on\" ioBufferSize=\"256k\" flushOnTXEnd=\"off\")"
        done
      else
        echo "action(type=\"omfile\" file=\"$w/out0.log\" template=\"RSYSLOG_TraditionalFileFormat\" asyncWriting=\"on\" ioBufferSize=\"256k\" flushOnTXEnd=\"off\")"
      fi
    } > $w/r.conf
    rsyslogd -n -f $w/r.conf -i $w/pid >$w/d.log 2>&1 & DP=$! ;;
  syslogng)
    local src dst=""
    if [ $k = udp ]; then src="network(ip(127.0.0.1) port($port) transport(udp) so-rcvbuf(8388608))"
    else src="network(ip(127.0.0.1) port($port) transport(tcp) max-connections(64) log-iw-size(100000))"; fi
    {
      echo "@version: 3.38"
      echo "options { flush-lines(1000); log-fifo-size(100000); threaded(yes); stats-freq(0); };"
      echo "source s { $src; };"
      local n=1; [ $k = fanout ] && n=4
      for i in $(seq 0 $((n - 1))); do
        echo "destination d$i { file(\"$w/out$i.log\" template(\"\${DATE} \${HOST} \${MSGHDR}\${MSG}\\n\")); };"
        echo "log { source(s); destination(d$i); };"
      done
    } > $w/s.conf
    syslogng -F -f $w/s.conf -R $w/persist -p $w/pid -c $w/ctl >$w/d.log 2>&1 & DP=$! ;;
  sluice)
    {
      echo "work_dir: $w"
      echo "inputs:"
      if [ $k = udp ]; then echo "  - {name: in, type: udp, listen: \"127.0.0.1:$port\", receive_buffer: 8MiB}"
      else echo "  - {name: in, type: tcp, listen: \"127.0.0.1:$port\"}"; fi
      echo "actions:"
      if [ $k = fanout ]; then
        for i in 0 1 2 3; do echo "  - {name: out$i, type: file, path: \"$w/out$i.log\", select: \"${SELECTORS[$i]}\"}"; done
      else
        echo "  - {name: out0, type: file, path: \"$w/out0.log\"}"
      fi
    } > $w/sluice.yaml
    $SLUICED -f $w/sluice.yaml -n >$w/d.log 2>&1 & DP=$! ;;
  *) echo "unknown daemon $d" >&2; exit 2 ;;
  esac
}

lines() { local t=0 f; for f in "$@"; do t=$((t + $( { grep -c PADD "$f" 2>/dev/null || true; } ))); done; echo $t; }
udp_lines() { local t=0 f; for f in "$@"; do t=$((t + $(wc -l < "$f" 2>/dev/null || echo 0))); done; echo $t; }

run_one() {  # prints "rate" (tcp, fanout) or "lost-of-sent" (udp) for one daemon, one round
  local d=$1 k=$2 w port t0 t1 l exp outs pids="" n i last
  w=$(mktemp -d /tmp/sluice-cmp.XXXX); port=$((20000 + RANDOM % 20000))
  start_daemon $d $k $w $port
  if [ $k = udp ]; then
    sleep 1  # imudp/udp sockets give no connect-able sign of readiness
    local total=$((UDP_RATE * UDP_SECONDS))
    loggen --inet --dgram --rate $UDP_RATE --interval $UDP_SECONDS --size $SIZE --active-connections 1 127.0.0.1 $port >$w/loggen.log 2>&1
    sent=$(grep -oE 'count=[0-9]+' $w/loggen.log | tail -1 | cut -d= -f2); sent=${sent:-$total}
    last=-1; for i in $(seq 200); do l=$(udp_lines $w/out0.log); [ "$l" = "$last" ] && break; last=$l; sleep 0.5; done
    kill $DP 2>/dev/null; wait $DP 2>/dev/null
    echo "$((sent - l))/$sent"
    rm -rf $w; return
  fi
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  n=1; [ $k = fanout ] && n=4
  outs=""; for i in $(seq 0 $((n - 1))); do outs="$outs $w/out$i.log"; done
  exp=$((PER * CONNS * n))
  t0=$(date +%s.%N)
  for c in $(seq 0 $((CONNS - 1))); do socat -u OPEN:$DATA/$c TCP:127.0.0.1:$port & pids="$pids $!"; done
  wait $pids
  for i in $(seq 2400); do l=$(lines $outs); [ "$l" -ge "$exp" ] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  kill $DP 2>/dev/null; wait $DP 2>/dev/null
  [ "$l" -ge "$exp" ] || { echo "$d $k: only $l of $exp lines arrived; log: $w/d.log" >&2; echo 0; return; }
  echo "$((PER * CONNS)) / ($t1 - $t0)" | bc
  rm -rf $w
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores, $(uname -r); messages=$N size=$SIZE connections=$CONNS rounds=$ROUNDS"
for k in $CASES; do
  declare -A R=()
  for r in $(seq $ROUNDS); do for d in $DAEMONS; do R[$d]="${R[$d]:-} $(run_one $d $k)"; done; done
  if [ $k = udp ]; then
    echo "udp -> file at $UDP_RATE msg/s offered for ${UDP_SECONDS}s (lost/sent per round)"
    for d in $DAEMONS; do printf '  %-9s rounds:%s\n' $d "${R[$d]}"; done
  else
    echo "$k (input messages per second, median of rounds)"
    base=""
    for d in $DAEMONS; do
      m=$(echo ${R[$d]} | median); [ -z "$base" ] && base=$m
      printf '  %-9s %10s   rounds:%s\n' $d "$m" "${R[$d]}"
    done
    for d in $DAEMONS; do
      [ $d = sluice ] && continue
      m=$(echo ${R[$d]} | median); s=$(echo ${R[sluice]:-0} | median)
      [ "$m" != 0 ] && printf '  sluice/%s = %.2f\n' $d "$(echo "$s / $m" | bc -l)"
    done
  fi
  unset R
done
