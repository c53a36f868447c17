/*
 * Reference-count stress: many threads (four per core, at least eight) share every message of a
 * batch. The producer adds one reference per consumer with a single sl_msg_ref_n, as a fan-out
 * does, then drops its own; each consumer reads the whole message, takes and drops extra
 * references, and releases its own. Consumers walk the batch in different orders, so the last
 * release, and with it the free, lands on a different thread each time.
 *
 * What catches a bug: ThreadSanitizer (a read racing with the free), AddressSanitizer (use after
 * free, double free) and LeakSanitizer (a count that ends above zero), plus the content check
 * below (a message freed early shows the debug poison).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/msg.h"

#define BATCH 512
#define ROUNDS 400

static int n_threads;
static pthread_barrier_t start_round, end_round;
static sl_msg_t *batch[BATCH];
static atomic_uint bad_content;

static void check_content(const sl_msg_t *m, unsigned idx)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "<13>message %u", idx);
    size_t hl;
    const char *h = sl_msg_span(m, SL_F_FROMHOST, &hl);
    if (m->raw_len != (uint32_t)n || memcmp(m->buf, want, (size_t)n) != 0 || hl != 9 ||
        memcmp(h, "127.0.0.1", 9) != 0)
        atomic_fetch_add(&bad_content, 1);
}

static void *consumer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&start_round);
        /* A stride coprime with BATCH visits every message once, each thread in its own order. */
        unsigned stride = 2 * id + 1, pos = id * 37 % BATCH;
        for (unsigned i = 0; i < BATCH; i++, pos = (pos + stride) % BATCH) {
            sl_msg_t *m = batch[pos];
            check_content(m, (unsigned)r * BATCH + pos);
            if ((pos + id) % 3 == 0) {
                sl_msg_ref(m);
                sl_msg_ref_n(m, 2);
                sl_msg_unref(m);
                sl_msg_unref(m);
                sl_msg_unref(m);
            }
            sl_msg_unref(m);
        }
        pthread_barrier_wait(&end_round);
    }
    return NULL;
}

static void test_fan_out_release_race(void **state)
{
    (void)state;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n_threads = (int)(cores > 2 ? cores * 4 : 8);
    pthread_t *t = calloc((size_t)n_threads, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(pthread_barrier_init(&start_round, NULL, (unsigned)n_threads + 1), 0);
    assert_int_equal(pthread_barrier_init(&end_round, NULL, (unsigned)n_threads + 1), 0);
    for (int i = 0; i < n_threads; i++)
        assert_int_equal(pthread_create(&t[i], NULL, consumer, (void *)(uintptr_t)i), 0);
    for (int r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < BATCH; i++) {
            char raw[32];
            int n = snprintf(raw, sizeof(raw), "<13>message %u", (unsigned)r * BATCH + i);
            sl_msg_t *m = sl_msg_new(raw, (size_t)n, "127.0.0.1", "stress");
            assert_non_null(m);
            sl_msg_ref_n(m, (uint32_t)n_threads);
            batch[i] = m;
        }
        pthread_barrier_wait(&start_round);
        /* The producer drops its own reference while the consumers work, so its release races
         * with theirs too. */
        for (unsigned i = 0; i < BATCH; i++)
            sl_msg_unref(batch[i]);
        pthread_barrier_wait(&end_round);
    }
    for (int i = 0; i < n_threads; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_round);
    pthread_barrier_destroy(&end_round);
    free(t);
    assert_int_equal(atomic_load(&bad_content), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_release_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
