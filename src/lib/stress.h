/*
 * Stress points: places where a thread may stop for a moment, so that interleavings which a busy
 * many-core machine produces once in millions of messages happen on every test run.
 *
 * The races this project fears most (see DESIGN.md: rsyslog's reference-count race) hide in the
 * few instructions between an atomic operation and what depends on it, and between taking a
 * message from one structure and handing it to the next. On a small machine the scheduler almost
 * never preempts a thread exactly there. SL_STRESS_POINT() marks such a place; in a build
 * configured with -DSL_STRESS=ON it sometimes (probability 1/16) gives up the processor with
 * sched_yield() or sleeps one to five microseconds, so another thread runs right there. In every
 * other build it compiles to nothing: the switch is tested with #if, and sl_config.h defines
 * SL_STRESS to 0 or 1, so a build that forgets the header fails under -Wundef instead of silently
 * dropping the points.
 *
 * The points are placed at the reference-count operations (msg.h, msg.c), at queue push, pop and
 * done outside and inside the queue's lock (queue.c), between the pushes of one routed batch to
 * different actions (engine.c), and in the action worker between delivery, release and the
 * report to the queue (action.c). docs/concurrency.md lists them and how the stress lanes run.
 *
 * Concurrency: the pseudo-random generator (xorshift32) is thread-local, so the points share
 * nothing and add no synchronisation of their own that could hide a race. Each thread seeds its
 * generator from the clock and its own address space, so runs differ from one another. The first
 * point a thread reaches also sets the thread's timer slack to 1 ns, so that a sleep of a few
 * microseconds is one, not the default 50 us.
 */
#ifndef SL_STRESS_H
#define SL_STRESS_H

#include "sl_config.h"

#if SL_STRESS
#include <sched.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <time.h>

static inline void sl_stress_point(void)
{
    static _Thread_local uint32_t state;
    uint32_t x = state;
    if (x == 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        x = (uint32_t)now.tv_nsec ^ (uint32_t)(uintptr_t)&state ^ 0x9e3779b9u;
        if (x == 0)
            x = 1;
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    state = x;
    if ((x & 15u) != 0)
        return;
    if (x & 16u) {
        sched_yield();
        return;
    }
    struct timespec pause = {0, 1000L + (long)((x >> 8) % 4000u)};
    nanosleep(&pause, NULL);
}

#define SL_STRESS_POINT() sl_stress_point()
#else
#define SL_STRESS_POINT() ((void)0)
#endif

#endif
