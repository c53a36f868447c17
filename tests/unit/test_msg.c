/* The message object: allocation, spans, field access, reference counting. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/msg.h"

static void test_new_copies_raw_and_meta(void **state)
{
    (void)state;
    const char raw[] = "<13>hello";
    sl_msg_t *m = sl_msg_new(raw, sizeof(raw) - 1, "10.0.0.1", "tcp");
    assert_non_null(m);
    assert_int_equal(sl_msg_refcount(m), 1);
    assert_int_equal(m->raw_len, 9);
    assert_memory_equal(m->buf, raw, 9);
    assert_int_equal(m->buf[9], '\0');
    assert_int_equal(m->pri, SL_PRI_DEFAULT);
    assert_int_equal(m->proto, SL_PROTO_NONE);
    size_t n;
    const char *p = sl_msg_span(m, SL_F_FROMHOST, &n);
    assert_int_equal(n, 8);
    assert_memory_equal(p, "10.0.0.1", 8);
    p = sl_msg_span(m, SL_F_INPUT, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "tcp", 3);
    sl_msg_span(m, SL_F_HOSTNAME, &n);
    assert_int_equal(n, 0);
    sl_msg_unref(m);
}

static void test_new_without_meta_and_empty_raw(void **state)
{
    (void)state;
    sl_msg_t *m = sl_msg_new("", 0, NULL, NULL);
    assert_non_null(m);
    size_t n;
    sl_msg_span(m, SL_F_FROMHOST, &n);
    assert_int_equal(n, 0);
    sl_msg_span(m, SL_F_INPUT, &n);
    assert_int_equal(n, 0);
    sl_msg_unref(m);
}

static void test_computed_fields(void **state)
{
    (void)state;
    sl_msg_t *m = sl_msg_new("x", 1, NULL, NULL);
    char scratch[SL_FIELD_SCRATCH];
    const char *out;
    m->pri = 165; /* local4.notice */
    assert_int_equal(sl_msg_field(m, SL_F_PRI, scratch, &out), 3);
    assert_string_equal(out, "165");
    assert_int_equal(sl_msg_field(m, SL_F_FACILITY, scratch, &out), 2);
    assert_string_equal(out, "20");
    assert_int_equal(sl_msg_field(m, SL_F_SEVERITY, scratch, &out), 1);
    assert_string_equal(out, "5");
    m->pri = 0;
    sl_msg_field(m, SL_F_PRI, scratch, &out);
    assert_string_equal(out, "0");
    m->ts = (sl_timestamp_t){.year = 2003, .month = 10, .day = 11, .hour = 22, .minute = 14,
                             .second = 15, .usec = 3000, .frac_digits = 3, .tz_min = -420,
                             .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
    sl_msg_field(m, SL_F_TIMESTAMP, scratch, &out);
    assert_string_equal(out, "2003-10-11T22:14:15.003-07:00");
    /* Never set: empty. */
    assert_int_equal(sl_msg_field(m, SL_F_RECEIVED, scratch, &out), 0);
    sl_msg_unref(m);
}

static void test_rfc5424_tag_is_synthesised(void **state)
{
    (void)state;
    const char raw[] = "sshd 42";
    sl_msg_t *m = sl_msg_new(raw, 7, NULL, NULL);
    char scratch[SL_FIELD_SCRATCH];
    const char *out;
    m->proto = SL_PROTO_RFC5424;
    sl_msg_set(m, SL_F_APP_NAME, m->buf, 4);
    sl_msg_set(m, SL_F_PROCID, m->buf + 5, 2);
    sl_msg_field(m, SL_F_TAG, scratch, &out);
    assert_string_equal(out, "sshd[42]");
    sl_msg_set(m, SL_F_PROCID, m->buf, 0);
    sl_msg_field(m, SL_F_TAG, scratch, &out);
    assert_string_equal(out, "sshd");
    sl_msg_set(m, SL_F_APP_NAME, m->buf, 0);
    sl_msg_set(m, SL_F_PROCID, m->buf + 5, 2);
    sl_msg_field(m, SL_F_TAG, scratch, &out);
    assert_string_equal(out, "-[42]");
    sl_msg_unref(m);
}

static void test_field_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < SL_F_COUNT; i++) {
        const char *name = sl_field_name((sl_field_id_t)i);
        assert_int_equal(sl_field_by_name(name, strlen(name)), i);
    }
    assert_int_equal(sl_field_by_name("hostnme", 7), -1);
    assert_int_equal(sl_field_by_name("host", 4), -1);
    assert_int_equal(sl_field_by_name("", 0), -1);
}

static void test_mark_malformed(void **state)
{
    (void)state;
    sl_msg_t *m = sl_msg_new("garbage here", 12, "1.2.3.4", "in");
    m->received.flags = SL_TS_VALID;
    m->received.year = 2026;
    m->received.month = 1;
    m->received.day = 2;
    sl_msg_set(m, SL_F_APP_NAME, m->buf, 7);
    m->flags = SL_MSG_TRUNCATED | SL_MSG_MSG_SP;
    sl_msg_mark_malformed(m);
    size_t n;
    const char *p = sl_msg_span(m, SL_F_MSG, &n);
    assert_int_equal(n, 12);
    assert_memory_equal(p, "garbage here", 12);
    sl_msg_span(m, SL_F_APP_NAME, &n);
    assert_int_equal(n, 0);
    p = sl_msg_span(m, SL_F_HOSTNAME, &n);
    assert_int_equal(n, 7);
    assert_memory_equal(p, "1.2.3.4", 7);
    assert_int_equal(m->ts.year, 2026);
    assert_int_equal(m->flags, SL_MSG_TRUNCATED | SL_MSG_MALFORMED);
    sl_msg_unref(m);
}

static void test_ref_unref_counts(void **state)
{
    (void)state;
    sl_msg_t *m = sl_msg_new("a", 1, NULL, NULL);
    assert_ptr_equal(sl_msg_ref(m), m);
    assert_int_equal(sl_msg_refcount(m), 2);
    sl_msg_ref_n(m, 5);
    assert_int_equal(sl_msg_refcount(m), 7);
    for (int i = 0; i < 6; i++)
        sl_msg_unref(m);
    assert_int_equal(sl_msg_refcount(m), 1);
    sl_msg_unref(m);
}

/* A release below zero must abort, not corrupt memory: run it in a child and expect SIGABRT.
 * The count is forced to zero on a live message so the check is seen without a use after free. */
static void test_underflow_aborts(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sl_msg_t *m = sl_msg_new("a", 1, NULL, NULL);
        atomic_store(&m->refs, 0);
        close(2);
        sl_msg_unref(m);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- Block recycling (msg.c) ------------------------------------------------------------- */

static sl_msg_t *numbered(size_t len, unsigned tag)
{
    char raw[8192];
    memset(raw, 'a' + tag % 26, len);
    return sl_msg_new(raw, len, "10.0.0.1", "in");
}

static void assert_fresh(const sl_msg_t *m, size_t len, unsigned tag)
{
    assert_int_equal(m->raw_len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(m->buf[i], 'a' + tag % 26);
    assert_int_equal(m->buf[len], '\0');
    assert_int_equal(sl_msg_refcount(m), 1);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->pri, SL_PRI_DEFAULT);
    assert_int_equal(m->proto, SL_PROTO_NONE);
    size_t n;
    assert_memory_equal(sl_msg_span(m, SL_F_FROMHOST, &n), "10.0.0.1", 8);
    assert_int_equal(n, 8);
    assert_int_equal(m->f[SL_F_MSG].len, 0);
    assert_true(m->cap >= m->buf_len);
}

/* A freed block builds the next message of a size that fits, with nothing of the old one left. */
static void test_pool_reuses_blocks(void **state)
{
    (void)state;
    sl_msg_pool_trim();
    sl_msg_t *a = numbered(200, 1);
    a->flags = SL_MSG_MALFORMED;
    a->pri = 3;
    sl_msg_set(a, SL_F_MSG, a->buf, 10);
    sl_msg_unref(a);
    sl_msg_pool_flush();
    assert_int_equal(sl_msg_pool_size(), 1);
    sl_msg_t *b = numbered(190, 2);
    assert_ptr_equal(b, a); /* same thread: the block came back through the pool */
    assert_fresh(b, 190, 2);
    /* Too big for the pooled block: a new one, the small one goes back to malloc. */
    sl_msg_unref(b);
    sl_msg_pool_flush();
    sl_msg_t *c = numbered(1000, 3);
    assert_fresh(c, 1000, 3);
    assert_int_equal(sl_msg_pool_size(), 0);
    sl_msg_unref(c);
    sl_msg_pool_trim();
    assert_int_equal(sl_msg_pool_size(), 0);
}

/* Messages over the block limit are never pooled. */
static void test_pool_skips_big_messages(void **state)
{
    (void)state;
    sl_msg_pool_trim();
    sl_msg_t *m = numbered(5000, 4);
    assert_fresh(m, 5000, 4);
    sl_msg_unref(m);
    sl_msg_pool_flush();
    assert_int_equal(sl_msg_pool_size(), 0);
}

static void *free_some(void *arg)
{
    sl_msg_t **ms = arg;
    for (int i = 0; i < 10; i++)
        sl_msg_unref(ms[i]);
    return NULL; /* fewer than a flush's worth: the thread's exit hands them over */
}

/* Blocks freed on another thread reach the pool when that thread exits, and are reused here. */
static void test_pool_thread_exit_hands_blocks_over(void **state)
{
    (void)state;
    sl_msg_pool_trim();
    sl_msg_t *ms[10];
    for (int i = 0; i < 10; i++)
        ms[i] = numbered(100, (unsigned)i);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_some, ms), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sl_msg_pool_size(), 10);
    sl_msg_t *again[10];
    for (int i = 0; i < 10; i++) {
        sl_msg_t *m = numbered(110, 7); /* 110 + 12 bytes: the same 128-byte block */
        int found = 0;
        for (int j = 0; j < 10; j++)
            found |= m == ms[j];
        assert_true(found);
        assert_fresh(m, 110, 7);
        again[i] = m;
    }
    for (int i = 0; i < 10; i++)
        sl_msg_unref(again[i]);
    sl_msg_pool_trim();
    assert_int_equal(sl_msg_pool_size(), 0);
}

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer a pooled block is poisoned: a read after the last unref is reported
 * although the memory was not given back to malloc. */
static void test_pool_stale_read_reported(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sl_msg_t *m = numbered(50, 1);
        sl_msg_unref(m);
        close(2);
        _exit(m->raw_len == UINT32_MAX ? 2 : 0); /* the read ASan must stop */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_copies_raw_and_meta),
        cmocka_unit_test(test_new_without_meta_and_empty_raw),
        cmocka_unit_test(test_computed_fields),
        cmocka_unit_test(test_rfc5424_tag_is_synthesised),
        cmocka_unit_test(test_field_names_round_trip),
        cmocka_unit_test(test_mark_malformed),
        cmocka_unit_test(test_ref_unref_counts),
        cmocka_unit_test(test_underflow_aborts),
        cmocka_unit_test(test_pool_reuses_blocks),
        cmocka_unit_test(test_pool_skips_big_messages),
        cmocka_unit_test(test_pool_thread_exit_hands_blocks_over),
#if defined(__SANITIZE_ADDRESS__)
        cmocka_unit_test(test_pool_stale_read_reported),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
