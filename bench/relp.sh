#!/bin/bash
# One RELP hop, side by side: N messages (256-byte RFC 3164 lines, 4 TCP connections) go into a
# sender that forwards them over RELP to a receiver on the same machine, which writes them to a
# file. The pairs are sluice -> sluice, rsyslog (omrelp) -> rsyslog (imrelp) and sluice ->
# rsyslog, run alternately in each round; the clock stops when the receiver's file holds every
# message, and every line is checked (each message exactly once, whole). Prints msg/s per round,
# the medians and the ratio of the two same-daemon medians. The default is small because
# rsyslog's omrelp sends well under 1,000 messages/s here (about 75 s a round).
#
#   bench/relp.sh [-n MESSAGES] [-r ROUNDS]      (default 50000, 3)
#   SLUICED=path/to/sluiced bench/relp.sh         (default: a Release build in build-bench/)
#   PAIRS="sluice:sluice" bench/relp.sh            (SENDER:RECEIVER pairs to run)
#
# sluice's sender counts a message as delivered when it is acknowledged; omrelp hands it to
# librelp, which keeps up to its window (128) unacknowledged. Both receivers answer once the
# message is in their queue, and both write the traditional file format.
set -u
here=$(cd "$(dirname "$0")" && pwd); top=$(dirname "$here")
N=50000; ROUNDS=3; CONNS=4
PAIRS=${PAIRS:-"sluice:sluice rsyslog:rsyslog sluice:rsyslog"}
while getopts n:r: o; do case $o in n) N=$OPTARG;; r) ROUNDS=$OPTARG;; *) sed -n '2,19p' "$0"; exit 2;; esac; done
PER=$((N / CONNS)); N=$((PER * CONNS))

apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1; }
command -v rsyslogd >/dev/null || apt_install rsyslog
[ -f /usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so ] || apt_install rsyslog-relp
TOOLS=$top/build-bench/tools; mkdir -p "$TOOLS"
cc -O2 -Wall -o "$TOOLS/benchtool" "$here/benchtool.c" -lpthread || exit 2
BT=$TOOLS/benchtool
if [ -z "${SLUICED:-}" ]; then
  cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DSL_BUILD_TESTS=OFF >/dev/null &&
    cmake --build "$top/build-bench" -j"$(nproc)" --target sluiced >/dev/null || exit 2
  SLUICED=$top/build-bench/sluiced
fi
"$SLUICED" --version | grep -q relp || { echo "$SLUICED has no relp input" >&2; exit 2; }

BENCH_DIR=${BENCH_DIR:-/dev/shm}
[ -d "$BENCH_DIR" ] && [ -w "$BENCH_DIR" ] || BENCH_DIR=/tmp
DATA=/tmp/sluice-bench-relp/$PER-$CONNS
if [ ! -f $DATA/ok ]; then
  mkdir -p $DATA
  for c in $(seq 0 $((CONNS - 1))); do
    awk -v n=$PER -v c=$c 'BEGIN{pad=""; while (length(pad) < 256) pad = pad "PADD";
      for (i = 0; i < n; i++) {
        l = sprintf("<38>Nov 22 04:56:13 localhost prg%05d[1234]: seq: %010d, thread: %04d, ", c, i, c);
        print l substr(pad, length(pad) - (255 - length(l)) + 1) }}' > $DATA/$c
  done
  touch $DATA/ok
fi
FILES=$(for c in $(seq 0 $((CONNS - 1))); do printf '%s ' $DATA/$c; done)

# sluice_start NAME CONFIG / rsyslog_start NAME CONFIG: start a daemon of the run in $w with
# that configuration (rsyslog's gets the suite's main queue settings first); sets PID.
sluice_start() {
  printf 'control_socket: %s\n%s\n' "$w/$1.sock" "$2" > $w/$1.yaml
  "$SLUICED" -n -f $w/$1.yaml > $w/$1.log 2>&1 & PID=$!
}
rsyslog_start() {
  mkdir -p $w/$1w
  printf '%s\n' "global(workDirectory=\"$w/$1w\")" \
    'main_queue(queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="1024")' \
    "$2" > $w/$1.conf
  rsyslogd -n -f $w/$1.conf -i $w/$1.pid > $w/$1.log 2>&1 & PID=$!
}

# run SENDER RECEIVER (sluice or rsyslog each): prints benchtool's line for one run
run() {
  local tx=$1 rx=$2 w in rp rxp txp out
  w=$(mktemp -d "$BENCH_DIR/slr.XXXXXX"); in=$($BT port); rp=$($BT port); out=$w/out.log
  if [ $rx = sluice ]; then
    sluice_start rx "inputs:
  - {name: relpin, type: relp, listen: \"127.0.0.1:$rp\"}
actions:
  - {name: out, type: file, path: \"$out\", template: traditional}"
  else
    rsyslog_start rx "module(load=\"imrelp\")
input(type=\"imrelp\" port=\"$rp\" address=\"127.0.0.1\")
action(type=\"omfile\" file=\"$out\" template=\"RSYSLOG_TraditionalFileFormat\" asyncWriting=\"on\" ioBufferSize=\"256k\" flushOnTXEnd=\"off\")"
  fi
  rxp=$PID
  $BT wait -p $rp || { echo "fail=start"; kill $rxp; return; }
  if [ $tx = sluice ]; then
    sluice_start tx "inputs:
  - {name: in, type: tcp, listen: \"127.0.0.1:$in\"}
actions:
  - {name: fwd, type: forward, target: \"127.0.0.1:$rp\", protocol: relp}"
  else
    rsyslog_start tx "module(load=\"imptcp\" threads=\"2\")
input(type=\"imptcp\" port=\"$in\" address=\"127.0.0.1\")
module(load=\"omrelp\")
action(type=\"omrelp\" target=\"127.0.0.1\" port=\"$rp\" template=\"RSYSLOG_ForwardFormat\")"
  fi
  txp=$PID
  $BT wait -p $in || { echo "fail=start"; kill $rxp $txp; return; }
  $BT tcp -p $in -m $N -t $CONNS -o $out -v $FILES
  kill $txp $rxp 2>/dev/null; wait $txp $rxp 2>/dev/null
  rm -rf $w
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A RATES
echo "# RELP hop, $N messages, $ROUNDS rounds, $(nproc) CPUs; sluice $(cd "$top" && git describe --always --dirty 2>/dev/null), $(rsyslogd -v | head -1)"
for r in $(seq 1 $ROUNDS); do
  for p in $PAIRS; do
    line=$(run ${p%:*} ${p#*:})
    secs=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<< "$line")
    bad=$(grep -oE '(missing|dup|bad)=[1-9][0-9]*' <<< "$line" | tr '\n' ' ')
    if [ -z "$secs" ] || [ -n "$bad" ] || ! grep -q 'ok=1' <<< "$line"; then
      echo "round $r ${p/:/ -> }: FAILED ($line)"; continue
    fi
    rate=$(awk -v n=$N -v s=$secs 'BEGIN { printf "%.0f", n / s }')
    RATES[$p]="${RATES[$p]:-} $rate"
    echo "round $r ${p/:/ -> }: $rate msg/s ($line)"
  done
done
for p in $PAIRS; do
  RATES[$p]=$(tr ' ' '\n' <<< "${RATES[$p]:-}" | grep . | median)
  echo "median ${p/:/ -> }: ${RATES[$p]:-none} msg/s"
done
ms=${RATES[sluice:sluice]:-}; mr=${RATES[rsyslog:rsyslog]:-}
[ -n "$ms" ] && [ -n "$mr" ] && awk -v a=$ms -v b=$mr 'BEGIN { printf "sluice -> sluice / rsyslog -> rsyslog: %.1fx\n", a / b }'
