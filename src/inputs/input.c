/*
 * The input batch: frames in, routed messages out. See input.h for the ownership rules.
 *
 * Memory: the input threads allocate every message (one malloc each) and the action workers
 * free them, oldest first. With glibc's defaults an arena gives its free top back to the
 * system as soon as 128 KiB of it are free, so under a steady stream the worker's frees trim
 * pages that the input thread faults back in (zeroed) a moment later: measured on TCP -> file,
 * ~40 page faults and ~3 mprotect/madvise calls per 1,000 messages, and the faults were about
 * an eighth of the input thread's time. So the trim threshold is raised to 8 MiB (set once,
 * before main, while the process has one thread: mallopt is not synchronised with other
 * threads' allocations), and instead an input thread that has had no traffic for a second
 * calls malloc_trim once, so an idle daemon still returns what a burst used (after giving
 * the recycled message blocks back to malloc, core/msg.c).
 */
#include "inputs/input.h"

#include <errno.h>
#include <malloc.h>
#include <sys/time.h>

#define TRIM_THRESHOLD (8 << 20)
#define IDLE_TRIM_MS   1000

#if defined(M_TRIM_THRESHOLD)
__attribute__((constructor)) static void tune_malloc(void)
{
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
}
#endif

int sl_input_idle_timeout(const sl_input_batch_t *b)
{
    return b->routed ? IDLE_TRIM_MS : -1;
}

void sl_input_idle(sl_input_batch_t *b)
{
    if (!b->routed)
        return;
    b->routed = false;
    sl_msg_pool_trim();
#if defined(M_TRIM_THRESHOLD)
    malloc_trim(0);
#endif
}

int sl_input_batch_init(sl_input_batch_t *b, sl_input_t *in, sl_queue_mode_t mode)
{
    b->in = in;
    b->mode = mode;
    b->n = 0;
    b->malformed = b->truncated = 0;
    b->now_sec = 0;
    b->routed = false;
    b->ctx.fromhost = "";
    b->ctx.input = in->name;
    b->ctx.local = in->local;
    return sl_router_init(&b->router, in->engine, SL_INPUT_BATCH);
}

void sl_input_batch_free(sl_input_batch_t *b)
{
    sl_input_batch_flush(b);
    sl_router_free(&b->router);
}

void sl_input_batch_clock(sl_input_batch_t *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t usec = (uint32_t)(ts.tv_nsec / 1000);
    if (ts.tv_sec != b->now_sec) {
        /* localtime_r takes glibc's zone lock: once a second per thread is plenty. */
        sl_ts_from_epoch_local(&b->ctx.received, ts.tv_sec, usec);
        b->now_sec = ts.tv_sec;
    }
    b->ctx.received.usec = usec;
}

void sl_input_batch_flush(sl_input_batch_t *b)
{
    sl_input_stats_t *st = &b->in->stats;
    if (b->n == 0)
        return;
    /* Counted per batch rather than per message: one atomic add each instead of hundreds. */
    atomic_fetch_add_explicit(&st->received, b->n, memory_order_relaxed);
    if (b->malformed)
        atomic_fetch_add_explicit(&st->malformed, b->malformed, memory_order_relaxed);
    if (b->truncated)
        atomic_fetch_add_explicit(&st->truncated, b->truncated, memory_order_relaxed);
    b->malformed = b->truncated = 0;
    b->routed = true;
    size_t refused = sl_router_route(&b->router, b->msgs, b->n, b->mode);
    if (refused)
        atomic_fetch_add_explicit(&st->dropped_queue_full, refused, memory_order_relaxed);
    b->n = 0;
}

int sl_input_batch_add(sl_input_batch_t *b, const char *frame, size_t len, const char *fromhost,
                       bool truncated)
{
    sl_input_stats_t *st = &b->in->stats;
    b->ctx.fromhost = fromhost;
    sl_msg_t *m = sl_parse(frame, len, &b->ctx);
    if (!m) {
        atomic_fetch_add_explicit(&st->dropped_no_memory, 1, memory_order_relaxed);
        return -ENOMEM;
    }
    if (m->flags & SL_MSG_MALFORMED)
        b->malformed++;
    if (truncated) {
        m->flags |= SL_MSG_TRUNCATED;
        b->truncated++;
    }
    b->msgs[b->n++] = m;
    if (b->n == SL_INPUT_BATCH)
        sl_input_batch_flush(b);
    return 0;
}
