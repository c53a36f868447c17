/*
 * Disk queue stress: more threads than cores on one disk-assisted queue with a small memory
 * part and a small disk, so that messages keep moving between memory and the segment files
 * while producers block on a full disk and workers read it back.
 *
 * Six producers (four in block mode, two in drop mode) push batches of random size; each message
 * carries its producer in sender_uid and its sequence number in sender_pid. Workers pop, check
 * and report (one message in 97 as failed). A monitor thread takes snapshots all the time and
 * checks the accounting identity, the bounds (memory, disk) and that no counter goes backwards.
 *
 * What is checked:
 * - each (producer, sequence) arrives at most once; arrivals plus refusals make up everything
 *   each producer sent; with one worker, each producer's messages arrive in order;
 * - the final counters agree with what producers and workers counted themselves;
 * - closing and persisting (purge) while producers push and workers pop loses nothing: what the
 *   first run delivered plus what the second run replays plus what was refused is everything
 *   sent, with no message twice;
 * - every message is freed exactly once and no lock is misused: run it in the ASan+UBSan and
 *   TSan builds too.
 * Each case runs with sync none, interval and batch (fewer messages: each push syncs).
 *
 * Threads never call cmocka's asserts (not thread-safe): they count errors and keep the first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dqueue.h"

#define NP         6
#define NP_BLOCK   4 /* producers 0..3 block, 4..5 drop */
#define MAX_MSGS   20000
#define MAX_BATCH  32
#define MAX_WORKER 3

static char dir[64];
static sl_dqueue_t *q;
static int msgs_per_producer;
static _Atomic uint8_t seen[NP][MAX_MSGS];
static atomic_int last_seen[NP]; /* one worker: the last sequence seen per producer */
static atomic_uint errors;
static pthread_mutex_t first_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];
static atomic_int stop_monitor;
static atomic_int stop_producers;
static atomic_ullong snapshots;
static atomic_ullong arrived, failed_n, refused[NP];
static int sent[NP]; /* written by producer p, read after it is joined */
static int one_worker;
static unsigned long long hold_after; /* workers that pop after this many arrivals wait ... */
static atomic_int release_workers;    /* ... holding their batch, until this is set */

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

static sl_msg_t *make(int p, int seq, uint32_t *s)
{
    char raw[300];
    int n = snprintf(raw, sizeof(raw), "<13>producer %d seq %d ", p, seq);
    int pad = (int)(rnd(s) % 200);
    for (int i = 0; i < pad; i++)
        raw[n++] = (char)('a' + i % 26);
    sl_msg_t *m = sl_msg_new(raw, (size_t)n, "192.0.2.1", "stress");
    if (m) {
        m->sender_pid = seq;
        m->sender_uid = p;
    }
    return m;
}

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    uint32_t s = 0x1234567u + (uint32_t)p * 7919u;
    sl_queue_mode_t mode = p < NP_BLOCK ? SL_QUEUE_BLOCK : SL_QUEUE_DROP;
    int seq = 0;
    while (seq < msgs_per_producer && !atomic_load(&stop_producers)) {
        int k = 1 + (int)(rnd(&s) % MAX_BATCH);
        if (k > msgs_per_producer - seq)
            k = msgs_per_producer - seq;
        sl_msg_t *v[MAX_BATCH];
        for (int i = 0; i < k; i++) {
            v[i] = make(p, seq + i, &s);
            if (!v[i]) {
                report("out of memory");
                return NULL;
            }
        }
        int rc = sl_dqueue_push(q, v, (size_t)k, mode);
        if (rc == -ESHUTDOWN) {
            /* The queue counted them (discarded: shutdown); nothing to tell apart here. */
            seq += k;
            break;
        }
        if (rc < 0 || rc > k || (mode == SL_QUEUE_BLOCK && rc != 0)) {
            report("producer %d: push returned %d for %d", p, rc, k);
            break;
        }
        atomic_fetch_add(&refused[p], (unsigned long long)rc);
        seq += k;
    }
    sent[p] = seq;
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    sl_msg_t *out[MAX_BATCH];
    for (;;) {
        int k = sl_dqueue_pop(q, out, MAX_BATCH, 50);
        if (k == -ETIMEDOUT)
            continue;
        if (k <= 0)
            break;
        if (atomic_load(&arrived) >= hold_after) {
            while (!atomic_load(&release_workers))
                sched_yield();
        }
        size_t nfailed = 0;
        for (int i = 0; i < k; i++) {
            int p = out[i]->sender_uid, seq = out[i]->sender_pid;
            if (p < 0 || p >= NP || seq < 0 || seq >= MAX_MSGS) {
                report("bad message p=%d seq=%d", p, seq);
            } else {
                if (atomic_exchange(&seen[p][seq], 1) != 0)
                    report("producer %d seq %d arrived twice", p, seq);
                if (one_worker) {
                    int last = atomic_exchange(&last_seen[p], seq);
                    if (seq <= last)
                        report("producer %d: seq %d after %d", p, seq, last);
                }
            }
            nfailed += seq % 97 == 0;
            sl_msg_unref(out[i]);
        }
        if (sl_dqueue_done(q, (size_t)k - nfailed, nfailed, 0) != 0)
            report("done refused");
        atomic_fetch_add(&arrived, (unsigned long long)k);
        atomic_fetch_add(&failed_n, nfailed);
    }
    return NULL;
}

static void *monitor(void *arg)
{
    (void)arg;
    sl_dqueue_stats_t prev = {0};
    while (!atomic_load(&stop_monitor)) {
        sl_dqueue_stats_t st;
        sl_dqueue_stats(q, &st);
        uint64_t sum = 0;
        for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++)
            sum += st.q.discarded_by[r];
        if (st.q.discarded != sum || st.q.queued != st.q.in_ring + st.q.in_flight ||
            st.q.in_ring != st.in_memory + st.on_disk + st.kept ||
            st.q.enqueued != st.q.delivered + st.q.failed + st.q.discarded + st.q.queued)
            report("identity broken: enq %llu del %llu fail %llu disc %llu queued %llu",
                   (unsigned long long)st.q.enqueued, (unsigned long long)st.q.delivered,
                   (unsigned long long)st.q.failed, (unsigned long long)st.q.discarded,
                   (unsigned long long)st.q.queued);
        /* What memory held at a shutdown is written even beyond max_disk (losing it would be
         * worse), so a queue that replayed may start above the bound. */
        if (st.in_memory > st.q.capacity || (st.disk_bytes > st.max_disk && st.replayed == 0))
            report("bounds: memory %llu disk %llu", (unsigned long long)st.in_memory,
                   (unsigned long long)st.disk_bytes);
        if (st.q.enqueued < prev.q.enqueued || st.q.delivered < prev.q.delivered ||
            st.q.failed < prev.q.failed || st.q.discarded < prev.q.discarded ||
            st.spilled < prev.spilled)
            report("a counter went backwards");
        prev = st;
        atomic_fetch_add(&snapshots, 1);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/sl_dqueue_stress_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

static void reset(int msgs, int workers1)
{
    memset(seen, 0, sizeof(seen));
    for (int p = 0; p < NP; p++) {
        atomic_store(&last_seen[p], -1);
        atomic_store(&refused[p], 0);
        sent[p] = 0;
    }
    atomic_store(&errors, 0);
    atomic_store(&stop_monitor, 0);
    atomic_store(&stop_producers, 0);
    atomic_store(&snapshots, 0);
    atomic_store(&arrived, 0);
    atomic_store(&failed_n, 0);
    msgs_per_producer = msgs;
    one_worker = workers1;
    hold_after = ~0ull;
    atomic_store(&release_workers, 0);
}

static void open_q(sl_dqueue_sync_t sync)
{
    sl_dqueue_conf_t c = {.dir = dir,
                          .memory_messages = 64,
                          .max_disk = 1 << 20,
                          .segment_size = 32 << 10,
                          .sync = sync,
                          .sync_interval_ms = 5};
    assert_int_equal(sl_dqueue_open(&q, &c), 0);
}

static void check_errors(void)
{
    if (atomic_load(&errors))
        fail_msg("%u errors, first: %s", atomic_load(&errors), first_error);
}

static void run_all(sl_dqueue_sync_t sync, int msgs, int nworkers)
{
    reset(msgs, nworkers == 1);
    open_q(sync);
    pthread_t pt[NP], wt[MAX_WORKER], mt;
    pthread_create(&mt, NULL, monitor, NULL);
    for (int w = 0; w < nworkers; w++)
        pthread_create(&wt[w], NULL, worker, NULL);
    for (int p = 0; p < NP; p++)
        pthread_create(&pt[p], NULL, producer, (void *)(intptr_t)p);
    for (int p = 0; p < NP; p++)
        pthread_join(pt[p], NULL);
    sl_dqueue_close(q);
    assert_int_equal(sl_dqueue_drain(q, NULL), 0);
    for (int w = 0; w < nworkers; w++)
        pthread_join(wt[w], NULL);
    atomic_store(&stop_monitor, 1);
    pthread_join(mt, NULL);
    check_errors();

    sl_dqueue_stats_t st;
    sl_dqueue_stats(q, &st);
    uint64_t total = 0, total_refused = 0;
    for (int p = 0; p < NP; p++) {
        assert_int_equal(sent[p], msgs);
        uint64_t got = 0;
        for (int i = 0; i < msgs; i++)
            got += atomic_load(&seen[p][i]);
        uint64_t r = atomic_load(&refused[p]);
        if (p < NP_BLOCK)
            assert_int_equal(r, 0);
        assert_int_equal(got + r, (uint64_t)msgs);
        total += (uint64_t)msgs;
        total_refused += r;
    }
    assert_int_equal(st.q.enqueued, total);
    assert_int_equal(st.q.delivered + st.q.failed, atomic_load(&arrived));
    assert_int_equal(st.q.failed, atomic_load(&failed_n));
    assert_int_equal(st.q.discarded_by[SL_QUEUE_DISCARD_FULL], total_refused);
    assert_int_equal(st.q.queued, 0);
    assert_true(st.spilled > 0);
    assert_true(atomic_load(&snapshots) > 0);
    print_message("sync %d, %d worker(s): %llu messages, %llu spilled, %llu refused, %llu flow "
                  "control pauses, %llu syncs, %llu snapshots\n",
                  (int)sync, nworkers, (unsigned long long)total, (unsigned long long)st.spilled,
                  (unsigned long long)total_refused, (unsigned long long)st.q.flow_control_pauses,
                  (unsigned long long)st.syncs, (unsigned long long)atomic_load(&snapshots));
    sl_dqueue_destroy(q);
    q = NULL;
}

static void test_none_three_workers(void **state)
{
    (void)state;
    run_all(SL_DQUEUE_SYNC_NONE, MAX_MSGS, 3);
}

static void test_none_one_worker_in_order(void **state)
{
    (void)state;
    run_all(SL_DQUEUE_SYNC_NONE, MAX_MSGS / 2, 1);
}

static void test_interval_three_workers(void **state)
{
    (void)state;
    run_all(SL_DQUEUE_SYNC_INTERVAL, MAX_MSGS / 2, 3);
}

static void test_batch_three_workers(void **state)
{
    (void)state;
    run_all(SL_DQUEUE_SYNC_BATCH, 2000, 3);
}

/* Close and persist while everything runs; the next run replays exactly what was left. */
static void shutdown_under_load(sl_dqueue_sync_t sync, int msgs)
{
    reset(msgs, 0);
    open_q(sync);
    pthread_t pt[NP], wt[MAX_WORKER], mt;
    pthread_create(&mt, NULL, monitor, NULL);
    for (int p = 0; p < NP; p++)
        pthread_create(&pt[p], NULL, producer, (void *)(intptr_t)p);
    /* Let a backlog build on disk before the workers start, then stop in the middle of it. */
    sl_dqueue_stats_t st;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sched_yield();
        sl_dqueue_stats(q, &st);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (st.on_disk < 1000 && t.tv_sec - t0.tv_sec < 20);
    assert_true(st.on_disk >= 1000);
    /* The workers deliver 300, then each holds the batch it popped next: the queue is closed
     * and persisted with batches in flight, which are reported afterwards. */
    hold_after = 300;
    for (int w = 0; w < MAX_WORKER; w++)
        pthread_create(&wt[w], NULL, worker, NULL);
    do {
        sched_yield();
        sl_dqueue_stats(q, &st);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (st.q.in_flight == 0 && t.tv_sec - t0.tv_sec < 20);
    assert_true(st.q.in_flight > 0);
    sl_dqueue_close(q);
    sl_dqueue_purge(q);
    atomic_store(&release_workers, 1);
    atomic_store(&stop_producers, 1);
    for (int p = 0; p < NP; p++)
        pthread_join(pt[p], NULL);
    for (int w = 0; w < MAX_WORKER; w++)
        pthread_join(wt[w], NULL);
    atomic_store(&stop_monitor, 1);
    pthread_join(mt, NULL);
    check_errors();
    sl_dqueue_stats(q, &st);
    uint64_t left = st.q.queued;
    uint64_t shutdown_refused = st.q.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN];
    assert_int_equal(st.q.in_flight, 0);
    sl_dqueue_destroy(q);

    /* Second run: one worker drains what was kept; nothing may arrive twice. */
    uint64_t first_run = atomic_load(&arrived);
    assert_true(left > 0);
    hold_after = ~0ull;
    atomic_store(&stop_monitor, 0);
    open_q(sync);
    sl_dqueue_stats(q, &st);
    assert_int_equal(st.replayed, left);
    pthread_create(&mt, NULL, monitor, NULL);
    pthread_create(&wt[0], NULL, worker, NULL);
    sl_dqueue_close(q);
    assert_int_equal(sl_dqueue_drain(q, NULL), 0);
    pthread_join(wt[0], NULL);
    atomic_store(&stop_monitor, 1);
    pthread_join(mt, NULL);
    check_errors();
    assert_int_equal(atomic_load(&arrived) - first_run, left);

    /* Every message handed to the queue: delivered in run 1 or 2, refused (full or shutdown). */
    uint64_t handed = 0, got = 0, full = 0;
    for (int p = 0; p < NP; p++) {
        handed += (uint64_t)sent[p];
        full += atomic_load(&refused[p]);
        for (int i = 0; i < msgs; i++)
            got += atomic_load(&seen[p][i]);
    }
    assert_int_equal(got + full + shutdown_refused, handed);
    print_message("sync %d: %llu handed, %llu kept over the restart\n", (int)sync,
                  (unsigned long long)handed, (unsigned long long)left);
    sl_dqueue_destroy(q);
    q = NULL;
}

static void test_shutdown_under_load_none(void **state)
{
    (void)state;
    shutdown_under_load(SL_DQUEUE_SYNC_NONE, MAX_MSGS);
}

static void test_shutdown_under_load_batch(void **state)
{
    (void)state;
    shutdown_under_load(SL_DQUEUE_SYNC_BATCH, 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_none_three_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none_one_worker_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_three_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_three_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_under_load_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_under_load_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
