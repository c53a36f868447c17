/*
 * Unit tests of the memory queue: order, batching and wrap-around, the two full-queue modes,
 * close waking blocked producers and consumers, timeouts, drain, purge and destroy, and the
 * accounting identity after every step. Tests hold an extra reference on the messages they push,
 * so the reference count shows whether the queue released a message (exactly once) or kept it.
 *
 * Where a test needs another thread to be blocked inside the queue, it waits for the queue's own
 * waiter counts with a deadline instead of sleeping; cmocka's asserts run on the main thread only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/queue.h"

#define WAIT_LIMIT_MS 10000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the queue's stats until pred holds or the deadline passes; returns whether it held. */
static int wait_for(sl_queue_t *q, int (*pred)(const sl_queue_stats_t *, unsigned), unsigned arg)
{
    int64_t end = now_ms() + WAIT_LIMIT_MS;
    sl_queue_stats_t st;
    for (;;) {
        sl_queue_stats(q, &st);
        if (pred(&st, arg))
            return 1;
        if (now_ms() > end)
            return 0;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

static int producers_waiting(const sl_queue_stats_t *st, unsigned n)
{
    return st->producers_waiting == n;
}

static int consumers_waiting(const sl_queue_stats_t *st, unsigned n)
{
    return st->consumers_waiting == n;
}

static int drainers_waiting(const sl_queue_stats_t *st, unsigned n)
{
    return st->drainers_waiting == n;
}

static sl_queue_stats_t stats_ok(sl_queue_t *q)
{
    sl_queue_stats_t st;
    sl_queue_stats(q, &st);
    uint64_t sum = 0;
    for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++)
        sum += st.discarded_by[r];
    assert_int_equal(st.discarded, sum);
    assert_int_equal(st.queued, st.in_ring + st.in_flight);
    assert_int_equal(st.enqueued, st.delivered + st.failed + st.discarded + st.queued);
    assert_true(st.in_ring <= st.capacity);
    assert_true(st.high_watermark <= st.capacity);
    assert_true(st.in_ring <= st.high_watermark);
    return st;
}

/* A message numbered seq, with one reference for the test and one to hand to the queue. */
static sl_msg_t *msg(int seq)
{
    char raw[32];
    int n = snprintf(raw, sizeof(raw), "<13>message %d", seq);
    sl_msg_t *m = sl_msg_new(raw, (size_t)n, "127.0.0.1", "test");
    assert_non_null(m);
    m->sender_pid = seq;
    sl_msg_ref(m);
    return m;
}

static void make(sl_msg_t **m, int n, int first_seq)
{
    for (int i = 0; i < n; i++)
        m[i] = msg(first_seq + i);
}

/* Drops the test's references, after checking that only the test holds one. */
static void release(sl_msg_t **m, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(sl_msg_refcount(m[i]), 1);
        sl_msg_unref(m[i]);
    }
}

/* Pops exactly n messages (waiting at most WAIT_LIMIT_MS), checks they are seq first..first+n-1,
 * releases the queue's references and reports them delivered. */
static void pop_expect(sl_queue_t *q, int n, int first, size_t max)
{
    sl_msg_t *out[64];
    assert_true(max <= 64);
    int got = 0;
    while (got < n) {
        int k = sl_queue_pop(q, out, max, WAIT_LIMIT_MS);
        assert_true(k > 0);
        assert_true(got + k <= n);
        for (int i = 0; i < k; i++) {
            assert_int_equal(out[i]->sender_pid, first + got + i);
            sl_msg_unref(out[i]);
        }
        assert_int_equal(sl_queue_done(q, (size_t)k, 0, 0), 0);
        got += k;
    }
}

static void test_new_rejects_bad_capacity(void **state)
{
    (void)state;
    sl_queue_t *q = (sl_queue_t *)&q;
    assert_int_equal(sl_queue_new(&q, 0), -EINVAL);
    assert_null(q);
    assert_int_equal(sl_queue_new(&q, SIZE_MAX), -EINVAL);
    assert_null(q);
    assert_int_equal(sl_queue_new(&q, 3), 0);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.capacity, 3);
    assert_int_equal(st.enqueued, 0);
    assert_int_equal(st.closed, 0);
    sl_queue_destroy(q);
    sl_queue_destroy(NULL);
}

static void test_fifo_batches_and_accounting(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 8), 0);
    sl_msg_t *m[5], *out[8];
    make(m, 5, 0);
    assert_int_equal(sl_queue_push(q, m, 5, SL_QUEUE_BLOCK), 0);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.enqueued, 5);
    assert_int_equal(st.in_ring, 5);
    assert_int_equal(st.high_watermark, 5);
    assert_int_equal(st.flow_control_pauses, 0);

    assert_int_equal(sl_queue_pop(q, out, 3, 0), 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(out[i], m[i]);
    st = stats_ok(q);
    assert_int_equal(st.in_ring, 2);
    assert_int_equal(st.in_flight, 3);
    assert_int_equal(st.queued, 5);
    for (int i = 0; i < 3; i++)
        sl_msg_unref(out[i]);
    assert_int_equal(sl_queue_done(q, 2, 1, 0), 0);
    st = stats_ok(q);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.queued, 2);

    assert_int_equal(sl_queue_pop(q, out, 8, -1), 2);
    assert_ptr_equal(out[0], m[3]);
    assert_ptr_equal(out[1], m[4]);
    sl_msg_unref(out[0]);
    sl_msg_unref(out[1]);
    assert_int_equal(sl_queue_done(q, 1, 0, 1), 0);
    st = stats_ok(q);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 1);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.high_watermark, 5);
    release(m, 5);
    sl_queue_destroy(q);
}

static void test_ring_wraps_around(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 5), 0);
    int seq = 0, next = 0;
    for (int round = 0; round < 40; round++) {
        int n = 1 + round % 5;
        sl_msg_t *m[5];
        make(m, n, seq);
        assert_int_equal(sl_queue_push(q, m, (size_t)n, SL_QUEUE_DROP), 0);
        for (int i = 0; i < n; i++)
            sl_msg_unref(m[i]); /* the test's own reference; the queue holds the other */
        seq += n;
        pop_expect(q, n, next, (size_t)(1 + round % 3));
        next += n;
        stats_ok(q);
    }
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.enqueued, (uint64_t)seq);
    assert_int_equal(st.delivered, (uint64_t)seq);
    sl_queue_destroy(q);
}

static void test_drop_refuses_what_does_not_fit(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *m[7];
    make(m, 7, 0);
    assert_int_equal(sl_queue_push(q, m, 6, SL_QUEUE_DROP), 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sl_msg_refcount(m[i]), 2);
    for (int i = 4; i < 6; i++)
        assert_int_equal(sl_msg_refcount(m[i]), 1);
    assert_int_equal(sl_queue_push(q, m + 6, 1, SL_QUEUE_DROP), 1);
    assert_int_equal(sl_msg_refcount(m[6]), 1);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.enqueued, 7);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_FULL], 3);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 0);
    assert_int_equal(st.in_ring, 4);
    assert_int_equal(st.flow_control_pauses, 0);
    pop_expect(q, 4, 0, 8);
    release(m, 7);
    sl_queue_destroy(q);
}

struct pusher {
    pthread_t thread;
    sl_queue_t *q;
    sl_msg_t **msgs;
    size_t n;
    int rc;
};

static void *push_thread(void *arg)
{
    struct pusher *p = arg;
    p->rc = sl_queue_push(p->q, p->msgs, p->n, SL_QUEUE_BLOCK);
    return NULL;
}

static void start_pusher(struct pusher *p, sl_queue_t *q, sl_msg_t **msgs, size_t n)
{
    p->q = q;
    p->msgs = msgs;
    p->n = n;
    p->rc = 1;
    assert_int_equal(pthread_create(&p->thread, NULL, push_thread, p), 0);
}

static void test_block_waits_for_room(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *m[7];
    make(m, 7, 0);
    assert_int_equal(sl_queue_push(q, m, 4, SL_QUEUE_BLOCK), 0);
    struct pusher p;
    start_pusher(&p, q, m + 4, 3);
    assert_true(wait_for(q, producers_waiting, 1));
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.flow_control_pauses, 1);
    assert_int_equal(st.enqueued, 4);

    /* Room for two: the producer queues two and waits again for the last one. */
    pop_expect(q, 2, 0, 2);
    pop_expect(q, 2, 2, 2);
    pop_expect(q, 3, 4, 3);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, 0);
    st = stats_ok(q);
    assert_int_equal(st.flow_control_pauses, 1);
    assert_int_equal(st.enqueued, 7);
    assert_int_equal(st.delivered, 7);
    assert_int_equal(st.discarded, 0);
    assert_int_equal(st.high_watermark, 4);
    release(m, 7);
    sl_queue_destroy(q);
}

static void test_block_batch_larger_than_capacity(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 3), 0);
    sl_msg_t *m[50];
    make(m, 50, 100);
    struct pusher p;
    start_pusher(&p, q, m, 50);
    pop_expect(q, 50, 100, 2);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, 0);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.enqueued, 50);
    assert_int_equal(st.delivered, 50);
    assert_int_equal(st.high_watermark, 3);
    assert_int_equal(st.flow_control_pauses, 1);
    release(m, 50);
    sl_queue_destroy(q);
}

static void test_close_wakes_blocked_producer(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 2), 0);
    sl_msg_t *m[5];
    make(m, 5, 0);
    assert_int_equal(sl_queue_push(q, m, 2, SL_QUEUE_BLOCK), 0);
    struct pusher p;
    start_pusher(&p, q, m + 2, 3);
    assert_true(wait_for(q, producers_waiting, 1));
    sl_queue_close(q);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, -ESHUTDOWN);
    for (int i = 2; i < 5; i++)
        assert_int_equal(sl_msg_refcount(m[i]), 1);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.closed, 1);
    assert_int_equal(st.enqueued, 5);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 3);
    assert_int_equal(st.in_ring, 2);
    /* What was queued before the close is still delivered. */
    pop_expect(q, 2, 0, 4);
    sl_msg_t *out[4];
    assert_int_equal(sl_queue_pop(q, out, 4, -1), 0);
    release(m, 5);
    sl_queue_destroy(q);
}

struct popper {
    pthread_t thread;
    sl_queue_t *q;
    int timeout_ms;
    int rc;
    int64_t elapsed_ms;
    sl_msg_t *out[4];
};

static void *pop_thread(void *arg)
{
    struct popper *p = arg;
    int64_t start = now_ms();
    p->rc = sl_queue_pop(p->q, p->out, 4, p->timeout_ms);
    p->elapsed_ms = now_ms() - start;
    return NULL;
}

static void start_popper(struct popper *p, sl_queue_t *q, int timeout_ms)
{
    p->q = q;
    p->timeout_ms = timeout_ms;
    p->rc = 1234;
    assert_int_equal(pthread_create(&p->thread, NULL, pop_thread, p), 0);
}

static void test_close_wakes_blocked_consumers(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    struct popper p[2];
    start_popper(&p[0], q, -1);
    start_popper(&p[1], q, 60000);
    assert_true(wait_for(q, consumers_waiting, 2));
    sl_queue_close(q);
    for (int i = 0; i < 2; i++) {
        pthread_join(p[i].thread, NULL);
        assert_int_equal(p[i].rc, 0);
    }
    stats_ok(q);
    sl_queue_destroy(q);
}

static void test_push_after_close_is_refused(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *m[4];
    make(m, 4, 0);
    assert_int_equal(sl_queue_push(q, m, 1, SL_QUEUE_BLOCK), 0);
    sl_queue_close(q);
    sl_queue_close(q);
    assert_int_equal(sl_queue_push(q, m + 1, 2, SL_QUEUE_BLOCK), -ESHUTDOWN);
    assert_int_equal(sl_queue_push(q, m + 3, 1, SL_QUEUE_DROP), -ESHUTDOWN);
    for (int i = 1; i < 4; i++)
        assert_int_equal(sl_msg_refcount(m[i]), 1);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.enqueued, 4);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 3);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_FULL], 0);
    /* Consumers drain what is left, then get 0, also without waiting. */
    pop_expect(q, 1, 0, 4);
    sl_msg_t *out[4];
    assert_int_equal(sl_queue_pop(q, out, 4, 0), 0);
    assert_int_equal(sl_queue_pop(q, out, 4, -1), 0);
    release(m, 4);
    sl_queue_destroy(q);
}

static void test_pop_timeout(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *out[4];
    assert_int_equal(sl_queue_pop(q, out, 0, 0), -EINVAL);
    assert_int_equal(sl_queue_pop(q, out, 4, 0), -ETIMEDOUT);
    int64_t start = now_ms();
    assert_int_equal(sl_queue_pop(q, out, 4, 30), -ETIMEDOUT);
    int64_t elapsed = now_ms() - start;
    assert_true(elapsed >= 29);
    assert_true(elapsed < WAIT_LIMIT_MS);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.consumers_waiting, 0);
    sl_queue_destroy(q);
}

static void test_push_wakes_waiting_consumer(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    struct popper p;
    start_popper(&p, q, 60000);
    assert_true(wait_for(q, consumers_waiting, 1));
    sl_msg_t *m[2];
    make(m, 2, 7);
    assert_int_equal(sl_queue_push(q, m, 2, SL_QUEUE_DROP), 0);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, 2);
    assert_true(p.elapsed_ms < 60000);
    assert_ptr_equal(p.out[0], m[0]);
    assert_ptr_equal(p.out[1], m[1]);
    sl_msg_unref(p.out[0]);
    sl_msg_unref(p.out[1]);
    assert_int_equal(sl_queue_done(q, 2, 0, 0), 0);
    stats_ok(q);
    release(m, 2);
    sl_queue_destroy(q);
}

struct drainer {
    pthread_t thread;
    sl_queue_t *q;
    int rc;
};

static void *drain_thread(void *arg)
{
    struct drainer *d = arg;
    d->rc = sl_queue_drain(d->q, NULL);
    return NULL;
}

static void test_drain_waits_for_done(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    assert_int_equal(sl_queue_drain(q, NULL), 0);
    sl_msg_t *m[3], *out[4];
    make(m, 3, 0);
    assert_int_equal(sl_queue_push(q, m, 3, SL_QUEUE_BLOCK), 0);
    assert_int_equal(sl_queue_pop(q, out, 2, 0), 2);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    assert_int_equal(sl_queue_drain(q, &deadline), -ETIMEDOUT);
    struct timespec bad = {deadline.tv_sec + 1, 2000000000L};
    assert_int_equal(sl_queue_drain(q, &bad), -EINVAL);

    struct drainer d = {.q = q, .rc = 1};
    assert_int_equal(pthread_create(&d.thread, NULL, drain_thread, &d), 0);
    assert_true(wait_for(q, drainers_waiting, 1));
    /* Popped but unreported messages still count: the ring is not enough. */
    sl_msg_t *last;
    assert_int_equal(sl_queue_pop(q, &last, 1, 0), 1);
    sl_msg_unref(out[0]);
    sl_msg_unref(out[1]);
    sl_msg_unref(last);
    assert_int_equal(sl_queue_done(q, 2, 0, 0), 0);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.drainers_waiting, 1);
    assert_int_equal(sl_queue_done(q, 0, 1, 0), 0);
    pthread_join(d.thread, NULL);
    assert_int_equal(d.rc, 0);
    st = stats_ok(q);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failed, 1);
    release(m, 3);
    sl_queue_destroy(q);
}

static void test_done_rejects_more_than_in_flight(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *m[2], *out[4];
    make(m, 2, 0);
    assert_int_equal(sl_queue_push(q, m, 2, SL_QUEUE_BLOCK), 0);
    assert_int_equal(sl_queue_done(q, 1, 0, 0), -EINVAL);
    assert_int_equal(sl_queue_pop(q, out, 1, 0), 1);
    assert_int_equal(sl_queue_done(q, 1, 1, 0), -EINVAL);
    assert_int_equal(sl_queue_done(q, 0, 0, 2), -EINVAL);
    assert_int_equal(sl_queue_done(q, SIZE_MAX, SIZE_MAX, 2), -EINVAL);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.in_flight, 1);
    assert_int_equal(st.delivered + st.failed + st.discarded, 0);
    sl_msg_unref(out[0]);
    assert_int_equal(sl_queue_done(q, 0, 0, 1), 0);
    pop_expect(q, 1, 1, 4);
    release(m, 2);
    sl_queue_destroy(q);
}

static void test_purge_and_destroy_release_the_ring(void **state)
{
    (void)state;
    sl_queue_t *q;
    assert_int_equal(sl_queue_new(&q, 4), 0);
    sl_msg_t *m[7];
    make(m, 7, 0);
    /* A producer blocked on a full queue gets room from a purge. */
    assert_int_equal(sl_queue_push(q, m, 4, SL_QUEUE_BLOCK), 0);
    struct pusher p;
    start_pusher(&p, q, m + 4, 1);
    assert_true(wait_for(q, producers_waiting, 1));
    assert_int_equal(sl_queue_purge(q), 4);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sl_msg_refcount(m[i]), 1);
    sl_queue_stats_t st = stats_ok(q);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 4);
    assert_int_equal(st.in_ring, 1);

    /* After close and purge, a consumer stops at once. */
    sl_queue_close(q);
    assert_int_equal(sl_queue_purge(q), 1);
    sl_msg_t *out[4];
    assert_int_equal(sl_queue_pop(q, out, 4, -1), 0);
    st = stats_ok(q);
    assert_int_equal(st.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 5);
    sl_queue_destroy(q);
    release(m, 5);

    /* Destroy releases what is still in the ring, once. */
    assert_int_equal(sl_queue_new(&q, 4), 0);
    assert_int_equal(sl_queue_push(q, m + 5, 2, SL_QUEUE_BLOCK), 0);
    assert_int_equal(sl_msg_refcount(m[5]), 2);
    sl_queue_destroy(q);
    release(m + 5, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_capacity),
        cmocka_unit_test(test_fifo_batches_and_accounting),
        cmocka_unit_test(test_ring_wraps_around),
        cmocka_unit_test(test_drop_refuses_what_does_not_fit),
        cmocka_unit_test(test_block_waits_for_room),
        cmocka_unit_test(test_block_batch_larger_than_capacity),
        cmocka_unit_test(test_close_wakes_blocked_producer),
        cmocka_unit_test(test_close_wakes_blocked_consumers),
        cmocka_unit_test(test_push_after_close_is_refused),
        cmocka_unit_test(test_pop_timeout),
        cmocka_unit_test(test_push_wakes_waiting_consumer),
        cmocka_unit_test(test_drain_waits_for_done),
        cmocka_unit_test(test_done_rejects_more_than_in_flight),
        cmocka_unit_test(test_purge_and_destroy_release_the_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
