/*
 * The RFC 3164 parser: every vector of vectors_rfc3164.h, then what the vectors cannot state
 * (NUL bytes inside fields, the removed space before msg, year inference around new year, the
 * receiver's zone, the PRI reader), and a sweep over every prefix of every vector so that a
 * sanitizer build sees any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/msg.h"
#include "parsers/parse.h"
#include "vector_check.h"
#include "vectors_rfc3164.h"

static void test_vectors(void **state)
{
    (void)state;
    /* The brief asks for at least 90 real and edge-case samples. */
    assert_true(SL_VECTORS_RFC3164_COUNT >= 90);
    for (size_t i = 0; i < SL_VECTORS_RFC3164_COUNT; i++)
        sl_vector_check(&sl_vectors_rfc3164[i]);
}

/* Parses raw[0..len) with the vectors' context but the given reception time. */
static sl_msg_t *parse_at(const char *raw, size_t len, sl_timestamp_t received)
{
    sl_parse_ctx_t ctx = sl_vector_ctx();
    ctx.received = received;
    sl_msg_t *m = sl_parse(raw, len, &ctx);
    assert_non_null(m);
    return m;
}

static sl_timestamp_t utc(int year, int month, int day, int hour, int minute, int second)
{
    return (sl_timestamp_t){.year = (int16_t)year,
                            .month = (uint8_t)month,
                            .day = (uint8_t)day,
                            .hour = (uint8_t)hour,
                            .minute = (uint8_t)minute,
                            .second = (uint8_t)second,
                            .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
}

static void assert_field(const sl_msg_t *m, sl_field_id_t id, const char *want, size_t want_len)
{
    char scratch[SL_FIELD_SCRATCH];
    const char *got;
    size_t n = sl_msg_field(m, id, scratch, &got);
    assert_int_equal(n, want_len);
    assert_memory_equal(got, want, want_len);
}

#define ASSERT_FIELD(m, id, lit) assert_field((m), (id), (lit), sizeof(lit) - 1)

/* The timestamp of raw (a C string) received at the given time, as RFC 3339. */
static void assert_ts(const char *raw, sl_timestamp_t received, const char *want)
{
    sl_msg_t *m = parse_at(raw, strlen(raw), received);
    char buf[SL_TS_RFC3339_MAX];
    sl_ts_format_rfc3339(&m->ts, buf);
    if (strcmp(buf, want) != 0)
        fail_msg("'%s': timestamp %s, expected %s", raw, buf, want);
    sl_msg_unref(m);
}

static void test_year_inference_new_year(void **state)
{
    (void)state;
    /* Sent just before midnight, received just after: last year. */
    assert_ts("<13>Dec 31 23:59:59 host app: x", utc(2027, 1, 1, 0, 0, 5),
              "2026-12-31T23:59:59+00:00");
    /* A sender whose clock runs ahead, received just before midnight: next year. */
    assert_ts("<13>Jan  1 00:00:01 host app: x", utc(2026, 12, 31, 23, 59, 58),
              "2027-01-01T00:00:01+00:00");
    /* Otherwise the reception year, also for stamps a little in the future. */
    assert_ts("<13>Jan 14 12:00:00 host app: x", utc(2027, 1, 15, 0, 0, 0),
              "2027-01-14T12:00:00+00:00");
    assert_ts("<13>Dec 16 12:00:00 host app: x", utc(2026, 12, 15, 0, 0, 0),
              "2026-12-16T12:00:00+00:00");
    assert_ts("<13>Jun 30 12:00:00 host app: x", utc(2026, 11, 22, 10, 0, 0),
              "2026-06-30T12:00:00+00:00");
    /* Only December and January wrap; an older stamp keeps the reception year, as in rsyslog. */
    assert_ts("<13>Nov 30 12:00:00 host app: x", utc(2027, 1, 1, 0, 0, 0),
              "2027-11-30T12:00:00+00:00");
    /* A year the sender wrote is never changed. */
    assert_ts("<13>Dec 31 2025 23:59:59 host app: x", utc(2027, 1, 1, 0, 0, 5),
              "2025-12-31T23:59:59+00:00");
    assert_ts("<13>2025 Jan  1 00:00:01 host app: x", utc(2026, 12, 31, 23, 59, 58),
              "2025-01-01T00:00:01+00:00");
}

static void test_year_inference_feb_29(void **state)
{
    (void)state;
    assert_ts("<13>Feb 29 12:00:00 host app: x", utc(2028, 3, 1, 0, 0, 0),
              "2028-02-29T12:00:00+00:00");
    /* In a year without Feb 29 it is no timestamp: "Feb" becomes the hostname. */
    sl_msg_t *m = parse_at("<13>Feb 29 12:00:00 host app: x", 31, utc(2027, 3, 1, 0, 0, 0));
    assert_memory_equal(&m->ts, &m->received, sizeof(m->ts));
    ASSERT_FIELD(m, SL_F_HOSTNAME, "Feb");
    ASSERT_FIELD(m, SL_F_TAG, "29");
    sl_msg_unref(m);
}

static void test_receiver_zone(void **state)
{
    (void)state;
    sl_timestamp_t rcv = utc(2026, 11, 22, 10, 0, 0);
    rcv.tz_min = 60;
    char buf[SL_TS_RFC3339_MAX];

    /* Without a zone the stamp is in the receiver's zone, which it did not send. */
    sl_msg_t *m = parse_at("<13>Nov 22 04:56:13 host app: x", 31, rcv);
    sl_ts_format_rfc3339(&m->ts, buf);
    assert_string_equal(buf, "2026-11-22T04:56:13+01:00");
    assert_int_equal(m->ts.flags, SL_TS_VALID);
    sl_msg_unref(m);

    m = parse_at("<13>Nov 22 2026 04:56:13 host app: x", 36, rcv);
    assert_int_equal(m->ts.flags, SL_TS_VALID | SL_TS_HAS_YEAR);
    sl_msg_unref(m);

    m = parse_at("<13>2026-11-22T04:56:13 host app: x", 35, rcv);
    sl_ts_format_rfc3339(&m->ts, buf);
    assert_string_equal(buf, "2026-11-22T04:56:13+01:00");
    assert_int_equal(m->ts.flags, SL_TS_VALID | SL_TS_HAS_YEAR);
    sl_msg_unref(m);

    /* A zone that was sent is kept. */
    m = parse_at("<13>2026-11-22T04:56:13.5+05:30 host app: x", 43, rcv);
    sl_ts_format_rfc3339(&m->ts, buf);
    assert_string_equal(buf, "2026-11-22T04:56:13.5+05:30");
    assert_int_equal(m->ts.flags, SL_TS_VALID | SL_TS_HAS_YEAR | SL_TS_HAS_TZ);
    sl_msg_unref(m);

    /* No timestamp: the reception time, exactly. */
    m = parse_at("<13>host app: x", 15, rcv);
    assert_memory_equal(&m->ts, &rcv, sizeof(rcv));
    sl_msg_unref(m);
}

static void test_fraction_digits(void **state)
{
    (void)state;
    sl_timestamp_t rcv = utc(2026, 11, 22, 10, 0, 0);
    sl_msg_t *m = parse_at("<13>Nov 22 04:56:13.1234567 host app: x", 39, rcv);
    assert_int_equal(m->ts.frac_digits, 6);
    assert_int_equal(m->ts.usec, 123456);
    ASSERT_FIELD(m, SL_F_HOSTNAME, "host");
    sl_msg_unref(m);
    m = parse_at("<13>Nov 22 04:56:13.05 host app: x", 34, rcv);
    assert_int_equal(m->ts.frac_digits, 2);
    assert_int_equal(m->ts.usec, 50000);
    sl_msg_unref(m);
}

/* The one space between header and msg is taken off msg and remembered in SL_MSG_MSG_SP. */
static void test_msg_space_flag(void **state)
{
    (void)state;
    sl_timestamp_t rcv = utc(2026, 11, 22, 10, 0, 0);
    sl_msg_t *m = parse_at("<13>Nov 22 04:56:13 host app: x", 31, rcv);
    assert_true(m->flags & SL_MSG_MSG_SP);
    ASSERT_FIELD(m, SL_F_MSG, "x");
    sl_msg_unref(m);

    m = parse_at("<13>Nov 22 04:56:13 host app:x", 30, rcv);
    assert_false(m->flags & SL_MSG_MSG_SP);
    ASSERT_FIELD(m, SL_F_MSG, "x");
    sl_msg_unref(m);

    /* Only one: rsyslog's msg is "  x", ours " x" with the flag. */
    m = parse_at("<13>Nov 22 04:56:13 host app:  x", 32, rcv);
    assert_true(m->flags & SL_MSG_MSG_SP);
    ASSERT_FIELD(m, SL_F_MSG, " x");
    sl_msg_unref(m);

    /* A header that ends the message leaves msg empty, without the flag. */
    m = parse_at("<13>Nov 22 04:56:13 host app:", 29, rcv);
    assert_false(m->flags & SL_MSG_MSG_SP);
    ASSERT_FIELD(m, SL_F_MSG, "");
    sl_msg_unref(m);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    sl_timestamp_t rcv = utc(2026, 11, 22, 10, 0, 0);
    static const char in_msg[] = "<13>Nov 22 04:56:13 host tag: a\0b";
    sl_msg_t *m = parse_at(in_msg, sizeof(in_msg) - 1, rcv);
    ASSERT_FIELD(m, SL_F_MSG, "a\0b");
    ASSERT_FIELD(m, SL_F_TAG, "tag:");
    sl_msg_unref(m);

    /* A NUL in the tag ends the program name, as any unprintable byte does. */
    static const char in_tag[] = "<13>Nov 22 04:56:13 host ta\0g[7]: x";
    m = parse_at(in_tag, sizeof(in_tag) - 1, rcv);
    ASSERT_FIELD(m, SL_F_TAG, "ta\0g[7]:");
    ASSERT_FIELD(m, SL_F_APP_NAME, "ta");
    ASSERT_FIELD(m, SL_F_PROCID, "7");
    ASSERT_FIELD(m, SL_F_MSG, "x");
    sl_msg_unref(m);

    /* The length given is the end, whatever follows it in memory. */
    m = parse_at("<13>Nov 22 04:56:13 host tag: x", 10, rcv);
    ASSERT_FIELD(m, SL_F_HOSTNAME, "Nov");
    ASSERT_FIELD(m, SL_F_TAG, "22");
    ASSERT_FIELD(m, SL_F_MSG, "");
    sl_msg_unref(m);
}

static void test_pri_reader(void **state)
{
    (void)state;
    int pri = -1;
    assert_int_equal(sl_parse_pri("<13>x", 5, &pri), 4);
    assert_int_equal(pri, 13);
    assert_int_equal(sl_parse_pri("<0>", 3, &pri), 3);
    assert_int_equal(pri, 0);
    assert_int_equal(sl_parse_pri("<191>", 5, &pri), 5);
    assert_int_equal(pri, 191);
    /* Leading zeros, as rsyslog reads them. */
    assert_int_equal(sl_parse_pri("<013>", 5, &pri), 5);
    assert_int_equal(pri, 13);
    assert_int_equal(sl_parse_pri("<0013>", 6, &pri), 6);
    assert_int_equal(pri, 13);
    /* No PRI at all. */
    assert_int_equal(sl_parse_pri("", 0, &pri), 0);
    assert_int_equal(sl_parse_pri("x<13>", 5, &pri), 0);
    /* Anything else that starts with '<' is an invalid PRI. */
    assert_int_equal(sl_parse_pri("<192>", 5, &pri), -1);
    assert_int_equal(sl_parse_pri("<1000>", 6, &pri), -1);
    assert_int_equal(sl_parse_pri("<>", 2, &pri), -1);
    assert_int_equal(sl_parse_pri("<", 1, &pri), -1);
    assert_int_equal(sl_parse_pri("<13", 3, &pri), -1);
    assert_int_equal(sl_parse_pri("<abc>", 5, &pri), -1);
    assert_int_equal(sl_parse_pri("<1a>", 4, &pri), -1);
    /* The length bounds the read: the '>' behind it does not count. */
    assert_int_equal(sl_parse_pri("<13>", 3, &pri), -1);
}

/* Every span of a parsed message lies inside the raw text (fromhost and input behind it). */
static void assert_spans_inside(const sl_msg_t *m)
{
    for (int i = 0; i < SL_F_NSPANS; i++) {
        if (i == SL_F_FROMHOST || i == SL_F_INPUT)
            continue;
        uint64_t end = (uint64_t)m->f[i].off + m->f[i].len;
        if (i == SL_F_HOSTNAME && m->f[i].off == m->f[SL_F_FROMHOST].off)
            continue;
        if (end > m->raw_len)
            fail_msg("field %s ends at %llu, past the raw text (%u bytes)",
                     sl_field_name((sl_field_id_t)i), (unsigned long long)end, m->raw_len);
    }
}

static void test_every_prefix(void **state)
{
    (void)state;
    sl_parse_ctx_t ctx = sl_vector_ctx();
    for (size_t i = 0; i < SL_VECTORS_RFC3164_COUNT; i++) {
        const struct sl_vector *v = &sl_vectors_rfc3164[i];
        size_t len = v->raw_len ? v->raw_len : strlen(v->raw);
        for (size_t n = 0; n <= len; n++) {
            /* An exactly sized copy, so that a sanitizer catches a read past the input. */
            char *copy = malloc(n ? n : 1);
            assert_non_null(copy);
            memcpy(copy, v->raw, n);
            sl_msg_t *m = sl_parse(copy, n, &ctx);
            assert_non_null(m);
            assert_true(m->proto == SL_PROTO_RFC3164 || m->proto == SL_PROTO_NONE);
            assert_spans_inside(m);
            sl_msg_unref(m);
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_year_inference_new_year),
        cmocka_unit_test(test_year_inference_feb_29),
        cmocka_unit_test(test_receiver_zone),
        cmocka_unit_test(test_fraction_digits),
        cmocka_unit_test(test_msg_space_flag),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_pri_reader),
        cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
