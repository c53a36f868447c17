/*
 * Queue stress: more threads than cores on three queues, as the engine uses them. Six producers
 * (four in block mode like stream inputs, two in drop mode like datagram inputs) fan every
 * message out to all three queues, taking the references with one sl_msg_ref_n; queue 0 has one
 * worker, queues 1 and 2 have two. Each message carries its producer id and sequence number.
 *
 * What is checked:
 * - queue 0 (one worker) sees each producer's sequence in order: consecutive for block-mode
 *   producers, increasing for drop-mode ones (refused messages leave gaps);
 * - on every queue each (producer, sequence) arrives at most once, and at the end the arrivals
 *   plus the messages refused to that producer make up everything it sent;
 * - a monitor thread takes snapshots of every queue all the time and checks the accounting
 *   identity, the bounds, and that no counter goes backwards;
 * - the final counters agree with what producers and workers counted themselves;
 * - every message is freed exactly once: AddressSanitizer and LeakSanitizer catch the rest, and
 *   ThreadSanitizer the races (run it in the sanitizer builds).
 * The second test closes the queues while the producers are still pushing, and purges one of
 * them, so the shutdown paths race with pushes and pops too.
 *
 * Threads never call cmocka's asserts (they are not thread-safe): they count errors and keep the
 * first message, which the main thread reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/queue.h"

#define NQ          3
#define NP          6
#define NP_BLOCK    4 /* producers 0..3 block, 4..5 drop */
#define MAX_WORKERS 2
#define CAPACITY    64
#define MSGS        40000 /* per producer in the first test; the bound of sequences in both */
#define MAX_BATCH   32

static const int workers_per_queue[NQ] = {1, 2, 2};

static sl_queue_t *queues[NQ];
static _Atomic uint8_t seen[NQ][NP][MSGS];
static atomic_uint errors;
static pthread_mutex_t first_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];
static atomic_int stop_monitor;
static atomic_ullong snapshots;

/* What each thread counted itself, compared with the queues' counters at the end. */
static atomic_ullong handed[NQ]; /* messages pushed, queued or refused */
static atomic_ullong refused_full[NQ][NP];
static atomic_ullong arrived[NQ][NP];
static atomic_ullong delivered[NQ], failed[NQ], given_up[NQ];
static uint32_t sent[NP]; /* written by producer p, read after it is joined */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    if (atomic_fetch_add(&errors, 1) != 0)
        return;
    pthread_mutex_lock(&first_error_lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_error, sizeof(first_error), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&first_error_lock);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void reset(void)
{
    memset(seen, 0, sizeof(seen));
    atomic_store(&errors, 0);
    first_error[0] = '\0';
    atomic_store(&stop_monitor, 0);
    atomic_store(&snapshots, 0);
    for (int q = 0; q < NQ; q++) {
        atomic_store(&handed[q], 0);
        atomic_store(&delivered[q], 0);
        atomic_store(&failed[q], 0);
        atomic_store(&given_up[q], 0);
        for (int p = 0; p < NP; p++) {
            atomic_store(&refused_full[q][p], 0);
            atomic_store(&arrived[q][p], 0);
        }
    }
    memset(sent, 0, sizeof(sent));
}

struct producer {
    pthread_t thread;
    unsigned id;
    uint32_t limit; /* messages to send; the shutdown test stops at the first -ESHUTDOWN */
};

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    unsigned p = pr->id;
    sl_queue_mode_t mode = p < NP_BLOCK ? SL_QUEUE_BLOCK : SL_QUEUE_DROP;
    uint32_t rng = 0x9e3779b9u * (p + 1);
    uint32_t seq = 0;
    int shut = 0;
    sl_msg_t *batch[MAX_BATCH];
    while (seq < pr->limit && !shut) {
        size_t n = 1 + rnd(&rng) % MAX_BATCH;
        if (n > pr->limit - seq)
            n = pr->limit - seq;
        for (size_t i = 0; i < n; i++) {
            char raw[48];
            int len = snprintf(raw, sizeof(raw), "<13>p%u s%u", p, seq + (uint32_t)i);
            sl_msg_t *m = sl_msg_new(raw, (size_t)len, "127.0.0.1", "stress");
            if (!m) {
                report("producer %u: out of memory", p);
                return NULL;
            }
            m->sender_pid = (int32_t)p;
            m->sender_uid = (int32_t)(seq + i);
            /* One reference per queue, taken at once before the first push. */
            sl_msg_ref_n(m, NQ - 1);
            batch[i] = m;
        }
        seq += (uint32_t)n;
        /* Every queue gets the batch, even after one refused it: each push consumes its
         * references, so skipping a queue would leak them. Start at a different queue each time
         * so the producers meet on all of them. */
        unsigned first = rnd(&rng) % NQ;
        for (unsigned k = 0; k < NQ; k++) {
            unsigned q = (first + k) % NQ;
            atomic_fetch_add(&handed[q], n);
            int rc = sl_queue_push(queues[q], batch, n, mode);
            if (rc == -ESHUTDOWN)
                shut = 1;
            else if (rc < 0 || (mode == SL_QUEUE_BLOCK && rc != 0) || (size_t)rc > n)
                report("producer %u: push to queue %u returned %d", p, q, rc);
            else if (rc > 0)
                atomic_fetch_add(&refused_full[q][p], (unsigned)rc);
        }
    }
    sent[p] = seq;
    return NULL;
}

struct worker {
    pthread_t thread;
    unsigned q, w;
};

static void check_message(unsigned q, const sl_msg_t *m, unsigned *p_out, uint32_t *seq_out)
{
    int32_t p = m->sender_pid, seq = m->sender_uid;
    if (p < 0 || p >= NP || seq < 0 || seq >= MSGS) {
        report("queue %u: message with producer %d sequence %d", q, (int)p, (int)seq);
        *p_out = NP;
        return;
    }
    char want[48];
    int len = snprintf(want, sizeof(want), "<13>p%d s%d", (int)p, (int)seq);
    if (m->raw_len != (uint32_t)len || memcmp(m->buf, want, (size_t)len) != 0)
        report("queue %u: message p%d s%d has the wrong content", q, (int)p, (int)seq);
    *p_out = (unsigned)p;
    *seq_out = (uint32_t)seq;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    unsigned q = wk->q;
    uint32_t rng = 0x85ebca6bu * (q * MAX_WORKERS + wk->w + 1);
    int64_t last[NP];
    for (int p = 0; p < NP; p++)
        last[p] = -1;
    sl_msg_t *out[48];
    for (;;) {
        size_t max = 1 + rnd(&rng) % 48;
        /* Mostly wait without limit; sometimes with a short timeout, to race the timed path. */
        int timeout = rnd(&rng) % 4 == 0 ? (int)(rnd(&rng) % 3) : -1;
        int k = sl_queue_pop(queues[q], out, max, timeout);
        if (k == 0)
            break;
        if (k == -ETIMEDOUT && timeout >= 0)
            continue;
        if (k < 0 || (size_t)k > max) {
            report("queue %u: pop returned %d for max %zu", q, k, max);
            break;
        }
        size_t d = 0, f = 0, x = 0;
        for (int i = 0; i < k; i++) {
            unsigned p;
            uint32_t seq = 0;
            check_message(q, out[i], &p, &seq);
            if (p < NP) {
                if (atomic_exchange(&seen[q][p][seq], 1) != 0)
                    report("queue %u: p%u s%u arrived twice", q, p, seq);
                atomic_fetch_add(&arrived[q][p], 1);
                if (workers_per_queue[q] == 1) {
                    int ok = p < NP_BLOCK ? (int64_t)seq == last[p] + 1 : (int64_t)seq > last[p];
                    if (!ok)
                        report("queue %u: p%u s%u after s%lld", q, p, seq, (long long)last[p]);
                    last[p] = seq;
                }
                if (seq % 53 == 0)
                    f++;
                else if (seq % 101 == 7)
                    x++;
                else
                    d++;
            } else {
                f++;
            }
            sl_msg_unref(out[i]);
        }
        /* Report in one call or two, as a worker that settles a batch in parts would. */
        int rc;
        if (rnd(&rng) % 2 && d > 0) {
            rc = sl_queue_done(queues[q], d / 2, 0, 0);
            if (rc == 0)
                rc = sl_queue_done(queues[q], d - d / 2, f, x);
        } else {
            rc = sl_queue_done(queues[q], d, f, x);
        }
        if (rc != 0)
            report("queue %u: done returned %d", q, rc);
        atomic_fetch_add(&delivered[q], d);
        atomic_fetch_add(&failed[q], f);
        atomic_fetch_add(&given_up[q], x);
    }
    return NULL;
}

static void *monitor_main(void *arg)
{
    (void)arg;
    sl_queue_stats_t prev[NQ];
    memset(prev, 0, sizeof(prev));
    while (!atomic_load(&stop_monitor)) {
        for (unsigned q = 0; q < NQ; q++) {
            sl_queue_stats_t st;
            sl_queue_stats(queues[q], &st);
            uint64_t sum = 0;
            for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++) {
                sum += st.discarded_by[r];
                if (st.discarded_by[r] < prev[q].discarded_by[r])
                    report("queue %u: discarded[%d] went backwards", q, r);
            }
            if (st.enqueued != st.delivered + st.failed + st.discarded + st.queued)
                report("queue %u: enqueued %llu != delivered %llu + failed %llu + discarded "
                       "%llu + queued %llu",
                       q, (unsigned long long)st.enqueued, (unsigned long long)st.delivered,
                       (unsigned long long)st.failed, (unsigned long long)st.discarded,
                       (unsigned long long)st.queued);
            if (st.discarded != sum || st.queued != st.in_ring + st.in_flight)
                report("queue %u: totals disagree with their parts", q);
            if (st.in_ring > st.capacity || st.high_watermark > st.capacity ||
                st.in_ring > st.high_watermark || st.capacity != CAPACITY)
                report("queue %u: ring %llu, high watermark %llu, capacity %llu", q,
                       (unsigned long long)st.in_ring, (unsigned long long)st.high_watermark,
                       (unsigned long long)st.capacity);
            if (st.enqueued < prev[q].enqueued || st.delivered < prev[q].delivered ||
                st.failed < prev[q].failed ||
                st.flow_control_pauses < prev[q].flow_control_pauses ||
                st.high_watermark < prev[q].high_watermark)
                report("queue %u: a counter went backwards", q);
            prev[q] = st;
            atomic_fetch_add(&snapshots, 1);
        }
    }
    return NULL;
}

struct run {
    struct producer producers[NP];
    struct worker workers[NQ][MAX_WORKERS];
    pthread_t monitor;
};

static void start(struct run *r, uint32_t limit)
{
    reset();
    for (int q = 0; q < NQ; q++)
        assert_int_equal(sl_queue_new(&queues[q], CAPACITY), 0);
    assert_int_equal(pthread_create(&r->monitor, NULL, monitor_main, NULL), 0);
    for (unsigned q = 0; q < NQ; q++)
        for (unsigned w = 0; w < (unsigned)workers_per_queue[q]; w++) {
            r->workers[q][w] = (struct worker){.q = q, .w = w};
            assert_int_equal(
                pthread_create(&r->workers[q][w].thread, NULL, worker_main, &r->workers[q][w]), 0);
        }
    for (unsigned p = 0; p < NP; p++) {
        r->producers[p] = (struct producer){.id = p, .limit = limit};
        assert_int_equal(
            pthread_create(&r->producers[p].thread, NULL, producer_main, &r->producers[p]), 0);
    }
}

/* Joins the workers (the queues must be closed) and the monitor, checks the final counters and
 * the arrivals, and destroys the queues. */
static void finish(struct run *r, int complete)
{
    for (int q = 0; q < NQ; q++)
        for (int w = 0; w < workers_per_queue[q]; w++)
            pthread_join(r->workers[q][w].thread, NULL);
    atomic_store(&stop_monitor, 1);
    pthread_join(r->monitor, NULL);
    if (atomic_load(&errors))
        fail_msg("%u errors, the first: %s", atomic_load(&errors), first_error);
    assert_true(atomic_load(&snapshots) > 0);

    for (int q = 0; q < NQ; q++) {
        sl_queue_stats_t st;
        sl_queue_stats(queues[q], &st);
        uint64_t full = 0, got = 0, total_sent = 0;
        for (int p = 0; p < NP; p++) {
            uint64_t n = 0;
            for (uint32_t s = 0; s < MSGS; s++)
                n += atomic_load(&seen[q][p][s]);
            assert_int_equal(n, atomic_load(&arrived[q][p]));
            if (complete)
                assert_int_equal(n + atomic_load(&refused_full[q][p]), sent[p]);
            if (p < NP_BLOCK)
                assert_int_equal(atomic_load(&refused_full[q][p]), 0);
            full += atomic_load(&refused_full[q][p]);
            got += n;
            total_sent += sent[p];
        }
        assert_int_equal(st.queued, 0);
        assert_int_equal(st.enqueued, atomic_load(&handed[q]));
        assert_int_equal(st.enqueued, st.delivered + st.failed + st.discarded);
        assert_int_equal(st.delivered, atomic_load(&delivered[q]));
        assert_int_equal(st.failed, atomic_load(&failed[q]));
        assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_FULL], full);
        assert_int_equal(got, st.delivered + st.failed + atomic_load(&given_up[q]));
        if (complete) {
            assert_int_equal(st.enqueued, total_sent);
            assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], atomic_load(&given_up[q]));
        }
        print_message("queue %d: enqueued %llu delivered %llu failed %llu full %llu shutdown "
                      "%llu pauses %llu high %llu\n",
                      q, (unsigned long long)st.enqueued, (unsigned long long)st.delivered,
                      (unsigned long long)st.failed,
                      (unsigned long long)st.discarded_by[SL_QUEUE_DISCARD_FULL],
                      (unsigned long long)st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN],
                      (unsigned long long)st.flow_control_pauses,
                      (unsigned long long)st.high_watermark);
        sl_queue_destroy(queues[q]);
        queues[q] = NULL;
    }
    print_message("%llu snapshots\n", (unsigned long long)atomic_load(&snapshots));
}

static void test_fan_out_full_run(void **state)
{
    (void)state;
    struct run r;
    start(&r, MSGS);
    for (int p = 0; p < NP; p++)
        pthread_join(r.producers[p].thread, NULL);
    /* Everything sent is queued or was refused: a drain with the workers running empties each
     * queue well before this generous deadline. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 60;
    for (int q = 0; q < NQ; q++)
        assert_int_equal(sl_queue_drain(queues[q], &deadline), 0);
    for (int q = 0; q < NQ; q++)
        sl_queue_close(queues[q]);
    finish(&r, 1);
}

static void test_close_under_load(void **state)
{
    (void)state;
    struct run r;
    start(&r, MSGS);
    /* Close once every queue has seen some traffic, while the producers are still pushing. */
    struct timespec pause = {0, 1000000};
    for (int q = 0; q < NQ; q++) {
        for (int tries = 0; tries < 60000; tries++) {
            sl_queue_stats_t st;
            sl_queue_stats(queues[q], &st);
            if (st.delivered > MSGS / 4)
                break;
            nanosleep(&pause, NULL);
        }
    }
    sl_queue_close(queues[0]);
    sl_queue_close(queues[1]);
    sl_queue_close(queues[2]);
    /* Queue 2 is abandoned: what its workers have not taken yet is purged. */
    sl_queue_purge(queues[2]);
    for (int p = 0; p < NP; p++)
        pthread_join(r.producers[p].thread, NULL);
    finish(&r, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_full_run),
        cmocka_unit_test(test_close_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
