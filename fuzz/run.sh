#!/bin/sh
# Runs one fuzzer for a bounded time from the unit-vector seeds (a ctest of label "fuzz").
# Any crash, sanitizer report or leak makes libFuzzer exit non-zero and fails the test; the
# reproducer is left in WORKDIR.
#   usage: run.sh FUZZER SEEDS_TOOL SECONDS WORKDIR
set -eu
fuzzer=$1 seeds=$2 seconds=$3 work=$4
name=$(basename "$fuzzer")
corpus=$work/$name
rm -rf "$corpus"
mkdir -p "$corpus"
"$seeds" "$name" "$corpus"
cd "$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$work/$name-" "$corpus"
