#!/bin/sh
# The allocator and memory-locking matrix: the daemon stress tests (test_daemon_stress.py: a full
# run, SIGTERM under load, reload under load) under glibc's malloc, jemalloc and mimalloc
# (LD_PRELOAD), each without and with `lock_memory: true` (mlockall of everything, now and
# future).
#
# Why: a change of allocator changes the heap's layout and timing, and mlockall changes when
# pages are faulted in; either can expose a race or a use-after-free that the usual allocator
# hides (DESIGN.md: the ntpd crash after a malloc rewrite). Each cell takes several seconds
# (SL_STRESS_MESSAGES per connection, default 10000); logs go to BUILD_DIR/alloc-matrix/ (the
# outputs of a passing cell are deleted: about 350 MB each).
#
# Locking needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK. The script raises the limit when
# it may; where neither is possible the cell checks instead that sluiced refuses to start with
# the clear error (test_lock_memory_refused, which runs in every cell and drops the privilege
# itself, so the refusal is checked everywhere, under every allocator).
#
#   usage: tests/stress/alloc_matrix.sh BUILD_DIR     (a release build: the sanitizers' runtimes
#                                                     replace malloc and make mlockall a no-op)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: alloc_matrix.sh BUILD_DIR}" && pwd)
export SLUICE_BUILD="$build" SLUICE_SRC="$src"

if grep -qE '^SL_SANITIZE:[A-Z]+=.+' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "alloc_matrix: $build is a sanitizer build; use a release build" >&2
    exit 2
fi

# Where the dynamic linker finds a library ("" when it does not).
find_lib() {
    /sbin/ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }'
}

# No locked-memory limit for the daemons started below, when we are allowed that (the test
# tries again itself, and knows what to expect when neither works).
prlimit --pid $$ --memlock=unlimited:unlimited 2>/dev/null || true

log_dir="$build/alloc-matrix"
mkdir -p "$log_dir"
failed=""
for alloc in glibc jemalloc mimalloc; do
    case $alloc in
    glibc) lib="" ;;
    jemalloc) lib=$(find_lib libjemalloc.so.2) ;;
    mimalloc) lib=$(find_lib libmimalloc.so.2) ;;
    esac
    if [ "$alloc" != glibc ] && [ -z "$lib" ]; then
        echo "alloc_matrix: $alloc is not installed (scripts/deps.sh test installs it)" >&2
        failed="$failed $alloc"
        continue
    fi
    for lock in 0 1; do
        cell="$alloc lock_memory=$lock"
        log="$log_dir/$alloc-lock$lock.log"
        t0=$(date +%s)
        if SL_STRESS_PRELOAD="$lib" SL_STRESS_LOCK_MEMORY="$lock" \
            timeout 300 /usr/bin/python3 -m pytest -q -s -rs -p no:cacheprovider \
            --basetemp="$log_dir/tmp-$alloc-$lock" \
            "$src/tests/stress/test_daemon_stress.py" >"$log" 2>&1; then
            if grep -q "SKIPPED.*no privilege to lock memory" "$log"; then
                result="ok (cannot lock here: refused with the clear error)"
            else
                result="ok"
            fi
            # Each cell writes about 350 MB of output; keep only the logs of passing cells.
            rm -rf "$log_dir/tmp-$alloc-$lock"
        else
            result="FAILED (see $log)"
            failed="$failed [$cell]"
            # CI shows only what is printed: the end of the failing cell's log, and the space
            # left (the outputs of a failed cell are kept for a look).
            echo "--- $cell: the end of $log"
            tail -60 "$log"
            df -h "$log_dir" || true
        fi
        detail=$(grep -oE '[0-9]+ messages x .*pauses|VmLck [0-9]+ kB, VmRSS [0-9]+ kB' "$log" |
            tr '\n' ' ' || true)
        printf '%-9s lock_memory=%s  %3ss  %s  %s\n' "$alloc" "$lock" \
            "$(($(date +%s) - t0))" "$result" "$detail"
    done
done
if [ -n "$failed" ]; then
    printf 'alloc matrix FAILED:%s\n' "$failed"
    exit 1
fi
echo "alloc matrix: all cells passed"
