#!/bin/sh
# The whole test suite, as CI runs it (README's test command):
#   1. release build: unit, concurrency, stress, model (spin), end-to-end (incl. the rsyslog
#      differential test) tests and the SL_HAVE_* switch check;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build with stress points (SL_STRESS=ON):
#      the same tests;
#   3. ThreadSanitizer build with stress points: the concurrency, stress and model tests;
#   4. matrix: the daemon stress run in the release build under glibc malloc, jemalloc and
#      mimalloc, each with and without lock_memory (tests/stress/alloc_matrix.sh);
#   5. clang libFuzzer build: each fuzzer for SL_FUZZ_SECONDS (default 60) from the unit vectors;
#   6. every optional module off (SL_WITH_*=OFF): the unit and end-to-end tests, so each
#      "#if SL_HAVE_X" path compiles and works both ways (the release lane has them all on).
# A sanitizer report fails its test (halt_on_error / abort_on_error, and the tests check the
# daemon's exit status and log). docs/concurrency.md describes the stress lanes.
# Build trees go under build-test/. Set SL_TEST_LANES to a subset ("release asan tsan matrix
# fuzz nomods").
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
lanes=${SL_TEST_LANES:-release asan tsan matrix fuzz nomods}
jobs=$(nproc)
root=build-test
failed=""

lane() { # name, ctest args, cmake args...
    name=$1 ctest_args=$2
    shift 2
    echo "=== lane $name ==="
    if ! cmake -S . -B "$root/$name" "$@" >"$root/$name.configure.log" 2>&1; then
        cat "$root/$name.configure.log"
        failed="$failed $name"
        return
    fi
    if ! cmake --build "$root/$name" -j"$jobs" >"$root/$name.build.log" 2>&1; then
        tail -50 "$root/$name.build.log"
        failed="$failed $name"
        return
    fi
    # shellcheck disable=SC2086
    (cd "$root/$name" && ctest --output-on-failure -j"$jobs" $ctest_args) || failed="$failed $name"
}

# The allocator matrix runs in the release build (configured and built here too, so that the
# lane also runs alone; after the release lane that is a no-op).
matrix_lane() {
    echo "=== lane matrix ==="
    if ! cmake -S . -B "$root/release" -DCMAKE_BUILD_TYPE=Release >"$root/matrix.configure.log" 2>&1 ||
        ! cmake --build "$root/release" -j"$jobs" >"$root/matrix.build.log" 2>&1; then
        tail -50 "$root/matrix.configure.log" "$root/matrix.build.log"
        failed="$failed matrix"
        return
    fi
    tests/stress/alloc_matrix.sh "$root/release" || failed="$failed matrix"
}

mkdir -p "$root"
export TZ=${TZ:-UTC}
for l in $lanes; do
    case $l in
    release) lane release "" -DCMAKE_BUILD_TYPE=Release ;;
    asan)
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
            lane asan "" -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=address,undefined -DSL_STRESS=ON ;;
    tsan) TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
            lane tsan "-L concurrency|stress|model" -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=thread \
            -DSL_STRESS=ON ;;
    matrix) matrix_lane ;;
    nomods) lane nomods "-LE model" -DCMAKE_BUILD_TYPE=Release -DSL_WITH_PCRE2=OFF \
            -DSL_WITH_OPENSSL=OFF -DSL_WITH_RELP=OFF ;;
    fuzz) CC=clang lane fuzz "-L fuzz" -DCMAKE_BUILD_TYPE=Debug -DSL_FUZZ=ON \
            -DSL_BUILD_TESTS=OFF -DSL_FUZZ_SECONDS="${SL_FUZZ_SECONDS:-60}" ;;
    *) echo "unknown lane $l" >&2; exit 2 ;;
    esac
done
if [ -n "$failed" ]; then
    # A full disk has failed lanes before: say how much was left.
    df -h . /tmp 2>/dev/null || true
    echo "FAILED lanes:$failed"
    exit 1
fi
echo "all lanes passed: $lanes"
