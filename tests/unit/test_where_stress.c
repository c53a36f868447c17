/*
 * Concurrent evaluation of one compiled `where` expression, as many action threads do it: more
 * threads than cores (four per core, at least eight) match the same compiled expression (with a
 * regular expression when PCRE2 is built) against the same shared messages, each in its own order,
 * and compare every answer with one worked out here without the evaluator. A second phase starts
 * and ends short-lived threads in waves, so each thread's cached PCRE2 match data is created and
 * freed by the thread-exit destructor many times over.
 *
 * What catches a bug: a wrong answer (shared match data overwritten under another thread's
 * match), ThreadSanitizer (a write to the compiled form or a shared match data block),
 * AddressSanitizer and LeakSanitizer (match data freed too early, or never).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "sl_config.h"
#include "core/msg.h"
#include "rules/where.h"

#define N_MSGS 256
#define ROUNDS 1000
#define WAVES  40

/* Jobs are "job N done", "job N failed" or "job N skip done"; hosts alternate. */
static const char *const outcomes[] = {"done", "failed", "skip done"};

#if SL_HAVE_PCRE2
static const char expr_text[] =
    "msg =~ \"^job (\\d+) (done|failed)$\" and not msg contains \"skip\" "
    "and (hostname startswith \"web\" or severity <= \"err\")";
#else
static const char expr_text[] = "msg startswith \"job \" and (msg endswith \" done\" or msg "
                                "endswith \" failed\") and not msg contains \"skip\" and (hostname "
                                "startswith \"web\" or severity <= \"err\")";
#endif

static sl_where_t *expr;
static sl_msg_t *msgs[N_MSGS];
static bool expected[N_MSGS];
static pthread_barrier_t start_barrier;
static atomic_uint wrong;
static atomic_ulong evaluations;

static void make_messages(void)
{
    for (unsigned i = 0; i < N_MSGS; i++) {
        char text[64];
        const char *outcome = outcomes[i % 3];
        int n = snprintf(text, sizeof(text), "job %u %s", i, outcome);
        const char *host = i % 4 < 2 ? "web7" : "db3";
        size_t hl = strlen(host);
        char raw[96];
        memcpy(raw, host, hl);
        memcpy(raw + hl, text, (size_t)n);
        sl_msg_t *m = sl_msg_new(raw, hl + (size_t)n, "127.0.0.1", "stress");
        assert_non_null(m);
        sl_msg_set(m, SL_F_HOSTNAME, m->buf, hl);
        sl_msg_set(m, SL_F_MSG, m->buf + hl, (size_t)n);
        m->pri = (uint8_t)(8 + i % 8); /* user.*, severities 0..7 */
        msgs[i] = m;
        /* The answer, worked out directly. */
        bool has_skip = i % 3 == 2;
        bool host_ok = i % 4 < 2 || i % 8 <= 3;
        expected[i] = !has_skip && host_ok;
    }
}

static void *evaluator(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    pthread_barrier_wait(&start_barrier);
    unsigned bad = 0;
    unsigned long count = 0;
    for (int r = 0; r < ROUNDS; r++) {
        /* A stride coprime with N_MSGS visits every message once, each thread in its own order. */
        unsigned stride = 2 * id + 1, pos = (id * 37 + (unsigned)r) % N_MSGS;
        for (unsigned i = 0; i < N_MSGS; i++, pos = (pos + stride) % N_MSGS) {
            if (sl_where_match(expr, msgs[pos]) != expected[pos])
                bad++;
            count++;
        }
    }
    atomic_fetch_add(&wrong, bad);
    atomic_fetch_add(&evaluations, count);
    return NULL;
}

static void *short_lived(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned bad = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned pos = (id * 16 + i) % N_MSGS;
        if (sl_where_match(expr, msgs[pos]) != expected[pos])
            bad++;
    }
    atomic_fetch_add(&wrong, bad);
    return NULL;
}

static int n_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (int)(cores > 2 ? cores * 4 : 8);
}

static void test_shared_expression(void **state)
{
    (void)state;
    int n = n_threads();
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(pthread_barrier_init(&start_barrier, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, evaluator, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start_barrier);
    free(t);
    assert_int_equal(atomic_load(&wrong), 0);
    assert_int_equal(atomic_load(&evaluations), (unsigned long)n * ROUNDS * N_MSGS);
    assert_int_equal(sl_where_regex_errors(expr), 0);
}

static void test_threads_come_and_go(void **state)
{
    (void)state;
    int n = n_threads();
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    assert_non_null(t);
    for (int wave = 0; wave < WAVES; wave++) {
        for (int i = 0; i < n; i++)
            assert_int_equal(
                pthread_create(&t[i], NULL, short_lived, (void *)(uintptr_t)(wave * n + i)), 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    free(t);
    assert_int_equal(atomic_load(&wrong), 0);
    assert_int_equal(sl_where_regex_errors(expr), 0);
}

static int setup(void **state)
{
    (void)state;
    sl_rule_err_t err;
    if (sl_where_compile(expr_text, &expr, &err) != 0) {
        fprintf(stderr, "column %u: %s\n", err.column, err.msg);
        return -1;
    }
    make_messages();
    /* The expected answers must not be all the same, or a constant evaluator would pass. */
    unsigned yes = 0;
    for (unsigned i = 0; i < N_MSGS; i++)
        yes += expected[i];
    return yes > 0 && yes < N_MSGS ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N_MSGS; i++)
        sl_msg_unref(msgs[i]);
    sl_where_free(expr);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_expression),
        cmocka_unit_test(test_threads_come_and_go),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
