/*
 * The RFC 5424 parser and the STRUCTURED-DATA iterator.
 *
 * Every vector of vectors_rfc5424.h is its own cmocka test, named after the vector, so a failure
 * names the input and the other vectors still run. Beyond the table: all 64 NILVALUE
 * combinations, VERSION values other than 1 (which sl_parse never hands to this parser), every
 * prefix of every vector parsed from an allocation that ends exactly at the input (so that a
 * sanitizer build catches any read past the end), and the SD iterator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/msg.h"
#include "parsers/parse.h"
#include "parsers/sd.h"
#include "vector_check.h"
#include "vectors_rfc5424.h"

static void run_vector(void **state)
{
    const struct sl_vector *v = *state;
    sl_vector_check(v);

    /* A malformed message keeps every raw byte in msg, NUL bytes included, which the string
     * comparison of sl_vector_check cannot see. */
    if (v->proto == SL_PROTO_NONE) {
        sl_parse_ctx_t ctx = sl_vector_ctx();
        sl_msg_t *m = sl_parse(v->raw, v->raw_len, &ctx);
        size_t n;
        const char *msg;
        assert_non_null(m);
        msg = sl_msg_span(m, SL_F_MSG, &n);
        assert_int_equal(n, v->raw_len);
        assert_memory_equal(msg, v->raw, n);
        sl_msg_unref(m);
    }
}

/* The vector table has enough entries to cover what the task asked for. */
static void test_vector_count(void **state)
{
    (void)state;
    assert_true(SL_VECTORS_RFC5424_COUNT >= 70);
}

static const struct sl_vector *find_vector(const char *name)
{
    for (size_t i = 0; i < SL_VECTORS_RFC5424_COUNT; i++) {
        if (strcmp(sl_vectors_rfc5424[i].name, name) == 0)
            return &sl_vectors_rfc5424[i];
    }
    fail_msg("no vector named '%s'", name);
    return NULL;
}

static void assert_field(const sl_msg_t *m, sl_field_id_t id, const char *want)
{
    char scratch[SL_FIELD_SCRATCH];
    const char *got;
    size_t n = sl_msg_field(m, id, scratch, &got);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_msg("%s is \"%.*s\", expected \"%s\"", sl_field_name(id), (int)n, got, want);
}

static void test_msg_with_nul_bytes(void **state)
{
    (void)state;
    const struct sl_vector *v = find_vector("msg with NUL bytes");
    sl_parse_ctx_t ctx = sl_vector_ctx();
    sl_msg_t *m = sl_parse(v->raw, v->raw_len, &ctx);
    size_t n;
    const char *msg;
    assert_non_null(m);
    assert_int_equal(m->proto, SL_PROTO_RFC5424);
    msg = sl_msg_span(m, SL_F_MSG, &n);
    /* Like rsyslog, the parser drops one NUL that ends the raw text; inner NULs stay. */
    assert_int_equal(n, 3);
    assert_memory_equal(msg, "a\0b", 3);
    sl_msg_unref(m);
}

/* Each of the six NILVALUE-able fields present or "-", in all 64 combinations. */
static void test_nil_combinations(void **state)
{
    (void)state;
    static const char *const in[6] = {
        "2003-10-11T22:14:15.5+01:00", "h.example", "app", "42", "ID7", "[x@1 k=\"v\"]",
    };
    static const char *const out[6] = {
        "2003-10-11T22:14:15.5+01:00", "h.example", "app", "42", "ID7", "[x@1 k=\"v\"]",
    };
    static const sl_field_id_t ids[6] = {
        SL_F_TIMESTAMP, SL_F_HOSTNAME, SL_F_APP_NAME, SL_F_PROCID, SL_F_MSGID, SL_F_STRUCTURED_DATA,
    };
    for (unsigned mask = 0; mask < 64; mask++) {
        char raw[256] = "<14>1";
        size_t len = 5;
        for (int i = 0; i < 6; i++) {
            const char *f = (mask >> i) & 1 ? "-" : in[i];
            raw[len++] = ' ';
            memcpy(raw + len, f, strlen(f));
            len += strlen(f);
        }
        memcpy(raw + len, " the msg", 8);
        len += 8;

        sl_parse_ctx_t ctx = sl_vector_ctx();
        sl_msg_t *m = sl_parse(raw, len, &ctx);
        assert_non_null(m);
        if (m->proto != SL_PROTO_RFC5424 || m->flags != 0)
            fail_msg("'%.*s': proto %d flags 0x%x", (int)len, raw, m->proto, m->flags);
        for (int i = 0; i < 6; i++) {
            const char *want = out[i];
            if ((mask >> i) & 1)
                want = i == 0 ? SL_V5_RECEIVED : "";
            assert_field(m, ids[i], want);
        }
        assert_field(m, SL_F_MSG, "the msg");
        assert_int_equal(m->pri, 14);
        sl_msg_unref(m);
    }
}

/* The parser refuses any VERSION but 1 and leaves the message as it was. */
static void test_other_versions(void **state)
{
    (void)state;
    sl_parse_ctx_t ctx = sl_vector_ctx();
    for (size_t i = 0; i < SL_RFC5424_OTHER_VERSIONS_COUNT; i++) {
        const char *after_pri = sl_rfc5424_other_versions[i];
        char raw[128] = "<13>";
        size_t len = strlen(after_pri);
        memcpy(raw + 4, after_pri, len);
        sl_msg_t *m = sl_msg_new(raw, len + 4, ctx.fromhost, ctx.input);
        assert_non_null(m);
        sl_span_t before[SL_F_NSPANS];
        memcpy(before, m->f, sizeof(before));
        if (sl_parse_rfc5424(m, m->buf + 4, &ctx) != -EINVAL)
            fail_msg("version '%s' was accepted", after_pri);
        assert_int_equal(m->proto, SL_PROTO_NONE);
        assert_int_equal(m->flags, 0);
        assert_memory_equal(m->f, before, sizeof(before));
        sl_msg_unref(m);
    }
}

/*
 * Parses raw[0..len) from a message whose allocation ends right after the input (no NUL, no
 * fromhost behind it), so that a read past the end is a heap overflow a sanitizer reports.
 * Returns the parser's result; on success the spans must lie inside the input.
 */
static int parse_exact(const char *raw, size_t len)
{
    sl_parse_ctx_t ctx = sl_vector_ctx();
    sl_msg_t *m = malloc(offsetof(sl_msg_t, buf) + len);
    int pri = 0;
    int used;
    int rc = -EINVAL;
    assert_non_null(m);
    memset(m, 0, offsetof(sl_msg_t, buf));
    memcpy(m->buf, raw, len);
    m->raw_len = (uint32_t)len;
    m->buf_len = (uint32_t)len;
    m->received = ctx.received;
    used = sl_parse_pri(m->buf, len, &pri);
    if (used > 0) {
        m->pri = (uint8_t)pri;
        rc = sl_parse_rfc5424(m, m->buf + used, &ctx);
    }
    if (rc == 0) {
        for (int i = SL_F_HOSTNAME; i <= SL_F_MSG; i++)
            assert_true((size_t)m->f[i].off + m->f[i].len <= len);
        assert_int_equal(m->f[SL_F_MSG].off + m->f[SL_F_MSG].len, len);
        assert_int_equal(m->proto, SL_PROTO_RFC5424);
    }
    free(m);
    return rc;
}

static void test_prefixes_in_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < SL_VECTORS_RFC5424_COUNT; i++) {
        const struct sl_vector *v = &sl_vectors_rfc5424[i];
        for (size_t len = 0; len < v->raw_len; len++)
            parse_exact(v->raw, len);
        int rc = parse_exact(v->raw, v->raw_len);
        if ((rc == 0) != (v->proto == SL_PROTO_RFC5424))
            fail_msg("vector '%s': parser returned %d from an exact-size buffer", v->name, rc);
    }
}

/* The SD of RFC 5424 example 4, element by element. */
static const char rfc_sd[] = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                             "eventID=\"1011\"][examplePriority@32473 class=\"high\"]";

static void assert_span(const char *got, size_t n, const char *want)
{
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_msg("got \"%.*s\", expected \"%s\"", (int)n, got, want);
}

static void expect_param(sl_sd_iter_t *it, const char *name, const char *value)
{
    sl_sd_param_t prm;
    assert_int_equal(sl_sd_next_param(it, &prm), 1);
    assert_span(prm.name, prm.name_len, name);
    assert_span(prm.value, prm.value_len, value);
    assert_int_equal(prm.unescaped_len, prm.value_len);
}

static void test_sd_iter_rfc_example(void **state)
{
    (void)state;
    sl_sd_iter_t it;
    sl_sd_param_t prm;
    const char *id;
    size_t n;
    sl_sd_iter_init(&it, rfc_sd, sizeof(rfc_sd) - 1);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_span(id, n, "exampleSDID@32473");
    expect_param(&it, "iut", "3");
    expect_param(&it, "eventSource", "Application");
    expect_param(&it, "eventID", "1011");
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_span(id, n, "examplePriority@32473");
    expect_param(&it, "class", "high");
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);
    assert_int_equal(sl_sd_next(&it, &id, &n), 0);
    assert_int_equal(sl_sd_next(&it, &id, &n), 0);
}

static void test_sd_iter_skips_unread_params(void **state)
{
    (void)state;
    sl_sd_iter_t it;
    const char *id;
    size_t n;
    sl_sd_iter_init(&it, rfc_sd, sizeof(rfc_sd) - 1);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_span(id, n, "examplePriority@32473");
    assert_int_equal(sl_sd_next(&it, &id, &n), 0);

    sl_sd_iter_init(&it, rfc_sd, sizeof(rfc_sd) - 1);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    expect_param(&it, "iut", "3");
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    expect_param(&it, "class", "high");
}

static void test_sd_iter_empty_and_no_params(void **state)
{
    (void)state;
    sl_sd_iter_t it;
    sl_sd_param_t prm;
    const char *id;
    size_t n;
    sl_sd_iter_init(&it, "", 0);
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);
    assert_int_equal(sl_sd_next(&it, &id, &n), 0);

    sl_sd_iter_init(&it, "[a][b@1]", 8);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_span(id, n, "a");
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_span(id, n, "b@1");
    assert_int_equal(sl_sd_next(&it, &id, &n), 0);
}

static void test_sd_unescape(void **state)
{
    (void)state;
    static const char sd[] = "[id v=\"x\\\"y\\\\z\\]w\\n\\\"\" e=\"\" b=\"\\\\\"]";
    static const char want[] = "x\"y\\z]w\\n\"";
    sl_sd_iter_t it;
    sl_sd_param_t prm;
    const char *id;
    size_t n;
    char out[64];
    sl_sd_iter_init(&it, sd, sizeof(sd) - 1);
    assert_int_equal(sl_sd_next(&it, &id, &n), 1);
    assert_int_equal(sl_sd_next_param(&it, &prm), 1);
    assert_span(prm.value, prm.value_len, "x\\\"y\\\\z\\]w\\n\\\"");
    assert_int_equal(prm.unescaped_len, sizeof(want) - 1);
    n = sl_sd_unescape(prm.value, prm.value_len, out);
    assert_int_equal(n, prm.unescaped_len);
    assert_memory_equal(out, want, n);

    assert_int_equal(sl_sd_next_param(&it, &prm), 1);
    assert_span(prm.name, prm.name_len, "e");
    assert_int_equal(prm.value_len, 0);
    assert_int_equal(prm.unescaped_len, 0);

    assert_int_equal(sl_sd_next_param(&it, &prm), 1);
    assert_int_equal(prm.value_len, 2);
    assert_int_equal(prm.unescaped_len, 1);
    assert_int_equal(sl_sd_unescape(prm.value, prm.value_len, out), 1);
    assert_int_equal(out[0], '\\');
    assert_int_equal(sl_sd_next_param(&it, &prm), 0);

    /* A backslash at the very end of a value that runs to the end of the buffer stays a
     * backslash, and nothing past the value is read. */
    assert_int_equal(sl_sd_unescape("a\\", 2, out), 2);
    assert_memory_equal(out, "a\\", 2);
}

/* Walks sd to its end; returns the last result (0 at a clean end, -EINVAL when garbled). */
static int walk(const char *sd, size_t len)
{
    sl_sd_iter_t it;
    sl_sd_param_t prm;
    const char *id;
    size_t n;
    int rc;
    sl_sd_iter_init(&it, sd, len);
    while ((rc = sl_sd_next(&it, &id, &n)) > 0) {
        while ((rc = sl_sd_next_param(&it, &prm)) > 0)
            ;
        if (rc < 0)
            break;
    }
    return rc;
}

static void test_sd_iter_garbled(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[",
        "[]",
        "[a",
        "[a ",
        "[a b]",
        "[a b=]",
        "[a b=\"c]",
        "[a b=\"c\"",
        "[a b=\"c\" ]",
        "[a  b=\"c\"]",
        "a",
        "[a]x",
        "[a] [b]",
        "[a b='c']",
        "[a =\"c\"]",
        "[a\"]",
        "[a b=\"\\\"]",
        "[" SL_V5_A32 "x]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        const char *end;
        sl_sd_iter_t it;
        const char *id;
        size_t n;
        if (walk(bad[i], len) != -EINVAL)
            fail_msg("'%s' was not reported garbled", bad[i]);
        /* The scanner stops at the first byte that cannot continue STRUCTURED-DATA; for these,
         * that is before the end or nowhere. */
        end = sl_sd_scan(bad[i], bad[i] + len);
        assert_true(end == NULL || end < bad[i] + len);
        /* After an error the iterator stays at the end. */
        sl_sd_iter_init(&it, bad[i], len);
        while (sl_sd_next(&it, &id, &n) > 0)
            ;
        assert_int_equal(sl_sd_next(&it, &id, &n), 0);
    }
}

static void test_sd_find(void **state)
{
    (void)state;
    static const char sd[] = "[a x=\"1\"][b y=\"2\" z=\"3\"][b z=\"4\"][c w=\"\\]\"]";
    sl_sd_param_t prm;
    size_t len = sizeof(sd) - 1;
    assert_int_equal(sl_sd_find(sd, len, "b", 1, "z", 1, &prm), 1);
    assert_span(prm.value, prm.value_len, "3");
    assert_int_equal(sl_sd_find(sd, len, "a", 1, "x", 1, &prm), 1);
    assert_span(prm.value, prm.value_len, "1");
    assert_int_equal(sl_sd_find(sd, len, "c", 1, "w", 1, &prm), 1);
    assert_span(prm.value, prm.value_len, "\\]");
    assert_int_equal(prm.unescaped_len, 1);
    assert_int_equal(sl_sd_find(sd, len, "a", 1, "y", 1, &prm), 0);
    assert_int_equal(sl_sd_find(sd, len, "d", 1, "x", 1, &prm), 0);
    assert_int_equal(sl_sd_find(sd, len, "b", 1, "zz", 2, &prm), 0);
    assert_int_equal(sl_sd_find("", 0, "a", 1, "x", 1, &prm), 0);
    assert_int_equal(sl_sd_find("[a x=\"1\"", 8, "a", 1, "y", 1, &prm), -EINVAL);
}

/*
 * Every prefix of a valid SD, from an allocation that ends at the prefix: the scanner and the
 * iterator accept exactly the prefixes that end after an element, and read nothing past the end.
 */
static void test_sd_prefixes_in_bounds(void **state)
{
    (void)state;
    static const char sd[] = "[a x=\"1\\\"\" yy=\"\\\\\"][b][c@2 k=\"v]\"]";
    size_t full = sizeof(sd) - 1;
    for (size_t len = 0; len <= full; len++) {
        char *buf = malloc(len ? len : 1);
        const char *end;
        int boundary = len > 0 && sd[len - 1] == ']' && (len == full || sd[len] == '[');
        assert_non_null(buf);
        memcpy(buf, sd, len);
        end = sl_sd_scan(buf, buf + len);
        if (boundary) {
            assert_ptr_equal(end, buf + len);
            assert_int_equal(walk(buf, len), 0);
        } else {
            assert_null(end);
            assert_int_equal(walk(buf, len), len == 0 ? 0 : -EINVAL);
        }
        free(buf);
    }
}

/* The parser's STRUCTURED_DATA span is what the iterator walks. */
static void test_sd_of_parsed_message(void **state)
{
    (void)state;
    const struct sl_vector *v = find_vector("rfc example 3");
    sl_parse_ctx_t ctx = sl_vector_ctx();
    sl_msg_t *m = sl_parse(v->raw, v->raw_len, &ctx);
    sl_sd_param_t prm;
    const char *sd;
    size_t n;
    assert_non_null(m);
    sd = sl_msg_span(m, SL_F_STRUCTURED_DATA, &n);
    assert_int_equal(sl_sd_find(sd, n, "exampleSDID@32473", 17, "eventID", 7, &prm), 1);
    assert_span(prm.value, prm.value_len, "1011");
    sl_msg_unref(m);
}

int main(void)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_vector_count),
        cmocka_unit_test(test_msg_with_nul_bytes),
        cmocka_unit_test(test_nil_combinations),
        cmocka_unit_test(test_other_versions),
        cmocka_unit_test(test_prefixes_in_bounds),
        cmocka_unit_test(test_sd_iter_rfc_example),
        cmocka_unit_test(test_sd_iter_skips_unread_params),
        cmocka_unit_test(test_sd_iter_empty_and_no_params),
        cmocka_unit_test(test_sd_unescape),
        cmocka_unit_test(test_sd_iter_garbled),
        cmocka_unit_test(test_sd_find),
        cmocka_unit_test(test_sd_prefixes_in_bounds),
        cmocka_unit_test(test_sd_of_parsed_message),
    };
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    size_t total = nfixed + SL_VECTORS_RFC5424_COUNT;
    struct CMUnitTest *tests = calloc(total, sizeof(*tests));
    int failed;
    if (!tests)
        return 1;
    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < SL_VECTORS_RFC5424_COUNT; i++) {
        tests[nfixed + i].name = sl_vectors_rfc5424[i].name;
        tests[nfixed + i].test_func = run_vector;
        tests[nfixed + i].initial_state = (void *)&sl_vectors_rfc5424[i];
    }
    failed = _cmocka_run_group_tests("rfc5424", tests, total, NULL, NULL);
    free(tests);
    return failed;
}
