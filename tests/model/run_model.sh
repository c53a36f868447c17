#!/bin/sh
# Model-checks one Promela model of sluice's concurrency (models/*.pml, see docs/model.md) with
# SPIN and says whether the outcome is the expected one. The search is exhaustive (no bitstate):
# a pass means no reachable state of the model breaks an assertion or is a deadlock, so the
# verifier must not be cut short by the depth, memory or time limit; a cut-short search fails an
# expect-pass run instead of passing it.
#
#   usage: run_model.sh MODEL expect-pass|expect-fail|expect-no-cycle [-DNAME=VALUE ...]
#     expect-pass:     exit 0 when pan reports "errors: 0" after a complete search for
#                      assertion violations and invalid end states (deadlocks);
#     expect-fail:     exit 0 when pan finds a violation (assertion or invalid end state), and
#                      print the counterexample: the model's own event lines, then the last
#                      steps;
#     expect-no-cycle: exit 0 when a complete search for non-progress cycles finds none. The
#                      models have no progress labels, so this says the state graph has no
#                      cycle at all: every run is finite, and together with expect-pass (no
#                      invalid end state) every run ends with every process at its end.
#   The -D options are handed to spin's preprocessor (the model's configuration switches).
#   Exit 77 (a skip for ctest) when spin or a C compiler is missing.
#   Environment: MODEL_MEMLIM (MiB, default 2048), MODEL_DEPTH (default 20000),
#   MODEL_TIMEOUT (seconds, default 300), MODEL_SHORTEN (seconds spent looking for a shorter
#   counterexample, default 10), MODEL_CFLAGS (default -O2), MODEL_KEEP=1 keeps the work
#   directory.
#
# Everything is generated in a fresh temporary directory (pan.c, the binary, the trail), so
# ctest may run several models, or the same model in several configurations, at once.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 MODEL expect-pass|expect-fail|expect-no-cycle [-DNAME=VALUE ...]" >&2
    exit 2
fi
model=$1
expect=$2
shift 2
case $expect in
expect-pass | expect-fail | expect-no-cycle) ;;
*)
    echo "$0: expected expect-pass, expect-fail or expect-no-cycle, got '$expect'" >&2
    exit 2
    ;;
esac
for d in "$@"; do
    case $d in
    -D*) ;;
    *)
        echo "$0: only -DNAME=VALUE options may follow the expectation, got '$d'" >&2
        exit 2
        ;;
    esac
done
if [ ! -f "$model" ]; then
    echo "$0: no model $model" >&2
    exit 2
fi
if ! command -v spin >/dev/null 2>&1; then
    echo "SKIP: spin is not installed (Debian package spin)"
    exit 77
fi
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "SKIP: no C compiler ($cc)"
    exit 77
fi

memlim=${MODEL_MEMLIM:-2048}
depth=${MODEL_DEPTH:-20000}
limit=${MODEL_TIMEOUT:-300}

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-model.XXXXXX")
if [ "${MODEL_KEEP:-0}" = 1 ]; then
    echo "work directory: $work"
else
    trap 'rm -rf "$work"' EXIT
fi
# The model and its siblings (a seeded-bug model includes the model it changes), under their
# own names, so the trail file pan writes lands here and spin -t finds it.
cp "$(dirname "$model")"/*.pml "$work"/
name=$(basename "$model")
cd "$work"

label="$name${*:+ $*} ($expect)"
if ! spin "$@" -a "$name" >spin.out 2>&1; then
    cat spin.out >&2
    echo "FAIL: $label: spin -a could not generate the verifier" >&2
    exit 1
fi
# SAFETY: only assertions and invalid end states (deadlocks) are checked; NP instead: the
# search for non-progress cycles. COLLAPSE compresses the stored states (exact, not a hash
# approximation). The generated C trips -Wstringop-overflow false positives in gcc 12; they
# are not ours to fix, hence -w.
# For expect-fail, REACH lets a second run (-i) look for a shorter counterexample than the
# first one depth-first search finds, which is what a reader wants to see.
case $expect in
expect-pass)
    mode=-DSAFETY
    run_flags=
    ;;
expect-fail)
    mode="-DSAFETY -DREACH"
    run_flags=
    ;;
expect-no-cycle)
    mode=-DNP
    run_flags=-l
    ;;
esac
# shellcheck disable=SC2086 # the flags are lists of words on purpose
if ! "$cc" ${MODEL_CFLAGS:--O2} -w $mode -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c >cc.out 2>&1; then
    cat cc.out >&2
    echo "FAIL: $label: the verifier did not compile" >&2
    exit 1
fi

rc=0
# shellcheck disable=SC2086 # empty or one flag
timeout "$limit" ./pan $run_flags -m"$depth" -n >pan.out 2>&1 || rc=$?
if [ $rc -eq 124 ]; then
    echo "FAIL: $label: the search did not finish in ${limit}s" >&2
    exit 1
fi

errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out | tail -n 1)
stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -n 1)
elapsed=$(sed -n 's/^pan: elapsed time \(.*\)/\1/p' pan.out | tail -n 1)
memory=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' pan.out | tail -n 1)
vector=$(sed -n 's/^State-vector \([0-9]*\) byte, depth reached \([0-9]*\).*/\1 byte state vector, depth \2/p' pan.out | tail -n 1)
echo "$label: ${stored:-?} states stored, ${elapsed:-?}, ${memory:-?} MiB, ${vector:-?}"

incomplete=""
if grep -q "max search depth too small" pan.out; then
    incomplete="the depth limit ($depth) was reached"
elif grep -qi "out of memory\|MEMLIM" pan.out; then
    incomplete="the memory limit (${memlim} MiB) was reached"
elif grep -q "Search not completed" pan.out && [ "${errors:-0}" = 0 ]; then
    incomplete="pan did not complete the search"
fi

if [ -z "$errors" ]; then
    cat pan.out >&2
    echo "FAIL: $label: pan gave no result (exit status $rc)" >&2
    exit 1
fi

if [ "$expect" != expect-fail ]; then
    if [ "$errors" = 0 ] && [ -z "$incomplete" ]; then
        if [ "$expect" = expect-pass ]; then
            echo "PASS: $label: no assertion violation, no invalid end state, search complete"
        else
            echo "PASS: $label: no cycle in the state graph, search complete"
        fi
        exit 0
    fi
    if [ "$errors" != 0 ]; then
        grep '^pan:' pan.out >&2 || true
        if [ -f "$name.trail" ]; then
            echo "--- counterexample (spin -t):" >&2
            spin "$@" -t "$name" 2>&1 | sed -n '/^#processes/q;/^ *$/d;p;/text of failed assertion/q' | tail -n 60 >&2 || true
        fi
        echo "FAIL: $label: $errors error(s) found" >&2
    else
        echo "FAIL: $label: incomplete search: $incomplete" >&2
    fi
    exit 1
fi

# expect-fail
if [ "$errors" = 0 ]; then
    echo "FAIL: $label: the violation this model must show was not found" >&2
    [ -n "$incomplete" ] && echo "  (and the search was incomplete: $incomplete)" >&2
    exit 1
fi
grep '^pan:' pan.out | head -n 2
# Look for a shorter counterexample, for a while: each one pan finds replaces the trail, so
# whatever it has when the time is up is a complete counterexample, and never a longer one.
if [ -f "$name.trail" ]; then
    cp "$name.trail" first.trail
    timeout "${MODEL_SHORTEN:-10}" ./pan -i -m"$depth" -n >shorten.out 2>&1 || true
    if ! spin "$@" -t "$name" >/dev/null 2>&1; then
        cp first.trail "$name.trail"
    fi
    steps=$(spin "$@" -t "$name" 2>&1 | sed -n 's/^spin: trail ends after \([0-9]*\) steps.*/\1/p')
    echo "counterexample: ${steps:-?} steps"

    echo "--- counterexample: the model's events (spin -t)"
    spin "$@" -t "$name" 2>&1 | sed -n '/^#processes/q;/^ *$/d;p;/text of failed assertion/q' | tail -n 60 || true
    echo "--- its last steps (spin -t -p)"
    spin "$@" -t -p "$name" 2>&1 | grep -E '^ *[0-9]+:.*\[' | tail -n 8 || true
fi
echo "PASS (expected failure found): $label"
exit 0
