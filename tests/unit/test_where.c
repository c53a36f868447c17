/*
 * The `where` compiler and evaluator: every operator, numeric and text comparison, names for
 * facility and severity, literals and escapes, precedence, short-circuit, regular expressions with
 * and without PCRE2 (the expectations follow SL_HAVE_PCRE2), and error columns. Messages are built
 * by hand, without the parsers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sl_config.h"
#include "core/msg.h"
#include "rules/where.h"

/* ---- Messages ---- */

typedef struct fields {
    unsigned pri;
    const char *hostname, *app_name, *procid, *msgid, *sd, *msg, *tag, *fromhost, *input;
} fields_t;

/* A message whose raw bytes are the span fields one after another, each span pointing at its
 * part. */
static sl_msg_t *mk(const fields_t *f)
{
    const char *parts[SL_F_NSPANS] = {
        [SL_F_HOSTNAME] = f->hostname, [SL_F_APP_NAME] = f->app_name,  [SL_F_PROCID] = f->procid,
        [SL_F_MSGID] = f->msgid,       [SL_F_STRUCTURED_DATA] = f->sd, [SL_F_MSG] = f->msg,
        [SL_F_TAG] = f->tag,
    };
    char raw[4096];
    size_t off[SL_F_NSPANS], len[SL_F_NSPANS], n = 0;
    for (int i = 0; i < SL_F_NSPANS; i++) {
        off[i] = n;
        len[i] = parts[i] ? strlen(parts[i]) : 0;
        assert_true(n + len[i] < sizeof(raw));
        if (len[i])
            memcpy(raw + n, parts[i], len[i]);
        n += len[i];
    }
    sl_msg_t *m = sl_msg_new(raw, n, f->fromhost, f->input);
    assert_non_null(m);
    for (int i = 0; i < SL_F_NSPANS; i++) {
        if (i != SL_F_FROMHOST && i != SL_F_INPUT)
            sl_msg_set(m, (sl_field_id_t)i, m->buf + off[i], len[i]);
    }
    m->pri = (uint8_t)f->pri;
    return m;
}

static sl_where_t *compile_ok(const char *text)
{
    sl_where_t *w = NULL;
    sl_rule_err_t err;
    int rc = sl_where_compile(text, &w, &err);
    if (rc != 0)
        fail_msg("'%s' did not compile (%d): column %u: %s", text, rc, err.column, err.msg);
    assert_non_null(w);
    return w;
}

/* Compiles text and checks its answer for m. */
static void expect(const char *text, const sl_msg_t *m, bool want)
{
    sl_where_t *w = compile_ok(text);
    bool got = sl_where_match(w, m);
    sl_where_free(w);
    if (got != want)
        fail_msg("'%s': got %s, want %s", text, got ? "true" : "false", want ? "true" : "false");
}

static void expect_error_rc(const char *text, int want_rc, unsigned column, const char *msg_part)
{
    sl_where_t *w = (sl_where_t *)(uintptr_t)0x1;
    sl_rule_err_t err;
    memset(&err, 0, sizeof(err));
    int rc = sl_where_compile(text, &w, &err);
    if (rc != want_rc)
        fail_msg("'%s': rc %d, want %d (column %u: %s)", text, rc, want_rc, err.column, err.msg);
    if (err.column != column || !strstr(err.msg, msg_part))
        fail_msg("'%s': got column %u: %s; want column %u: ...%s...", text, err.column, err.msg,
                 column, msg_part);
    /* *out is untouched on failure, and a NULL report is allowed. */
    assert_true(w == (sl_where_t *)(uintptr_t)0x1);
    assert_int_equal(sl_where_compile(text, &w, NULL), want_rc);
}

static void expect_error(const char *text, unsigned column, const char *msg_part)
{
    expect_error_rc(text, -EINVAL, column, msg_part);
}

static sl_msg_t *sample(void)
{
    return mk(&(fields_t){.pri = 38, /* auth.info */
                          .hostname = "web01",
                          .app_name = "sshd",
                          .procid = "1234",
                          .msgid = "-",
                          .msg = "Accepted publickey for alice from 10.0.0.7 port 50022",
                          .tag = "sshd[1234]:",
                          .fromhost = "10.0.0.1",
                          .input = "udp"});
}

/* ---- Tests ---- */

static void test_string_operators(void **state)
{
    (void)state;
    sl_msg_t *m = sample();
    expect("hostname == \"web01\"", m, true);
    expect("hostname == \"web0\"", m, false);
    expect("hostname == \"web011\"", m, false);
    expect("hostname != \"web01\"", m, false);
    expect("hostname != \"db01\"", m, true);
    expect("hostname < \"web02\"", m, true);
    expect("hostname < \"web01\"", m, false);
    expect("hostname < \"web\"", m, false); /* a prefix sorts first */
    expect("hostname <= \"web01\"", m, true);
    expect("hostname > \"web\"", m, true);
    expect("hostname > \"web01\"", m, false);
    expect("hostname >= \"web01\"", m, true);
    expect("hostname >= \"x\"", m, false);
    expect("msg contains \"publickey\"", m, true);
    expect("msg contains \"password\"", m, false);
    expect("msg contains \"\"", m, true);
    expect("msg contains \"50022\"", m, true);
    expect("msg startswith \"Accepted\"", m, true);
    expect("msg startswith \"accepted\"", m, false); /* case matters */
    expect("msg endswith \"port 50022\"", m, true);
    expect("msg endswith \"port\"", m, false);
    expect("tag == 'sshd[1234]:'", m, true);
    expect("fromhost == \"10.0.0.1\" and input == \"udp\"", m, true);
    expect("app_name == 'sshd'", m, true);
    /* Absent fields are empty. */
    expect("structured_data == \"\"", m, true);
    expect("structured_data contains \"x\"", m, false);
    expect("\"\" contains structured_data", m, true);
    /* Field against field; literal on the left. */
    expect("hostname == hostname", m, true);
    expect("hostname == app_name", m, false);
    expect("msg contains app_name", m, false);
    expect("tag startswith app_name", m, true);
    expect("\"web01\" == hostname", m, true);
    /* Keywords are case-insensitive, field names are not. */
    expect("msg CONTAINS \"alice\" AND hostname StartsWith \"web\"", m, true);
    /* Bytes beyond ASCII compare as bytes. */
    sl_msg_t *u = mk(&(fields_t){.msg = "gr\xc3\xbc\xc3\x9f"});
    expect("msg == \"gr\xc3\xbc\xc3\x9f\"", u, true);
    expect("msg > \"grz\"", u, true);
    sl_msg_unref(u);
    sl_msg_unref(m);
}

static void test_numeric_fields(void **state)
{
    (void)state;
    for (unsigned pri = 0; pri < 192; pri++) {
        sl_msg_t *m = mk(&(fields_t){.pri = pri, .msg = "x"});
        sl_where_t *w[] = {
            compile_ok("severity <= 4"),           compile_ok("severity <= \"warning\""),
            compile_ok("\"warning\" >= severity"), compile_ok("severity > \"warn\""),
            compile_ok("facility == \"auth\""),    compile_ok("facility == 'security'"),
            compile_ok("facility >= \"local0\""),  compile_ok("pri == 13"),
            compile_ok("pri < 100 and pri >= 10"), compile_ok("severity == \"7\""),
            compile_ok("facility != 4"),           compile_ok("severity == 'ERR'"),
        };
        bool want[] = {
            (pri & 7) <= 4,         (pri & 7) <= 4, (pri & 7) <= 4, (pri & 7) > 4,
            pri >> 3 == 4,          pri >> 3 == 4,  pri >> 3 >= 16, pri == 13,
            pri < 100 && pri >= 10, (pri & 7) == 7, pri >> 3 != 4,  (pri & 7) == 3,
        };
        for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
            if (sl_where_match(w[i], m) != want[i])
                fail_msg("expression %zu at pri %u: got %d", i, pri, !want[i]);
            sl_where_free(w[i]);
        }
        sl_msg_unref(m);
    }
}

static void test_number_against_text(void **state)
{
    (void)state;
    sl_msg_t *m = mk(&(fields_t){.procid = "1234", .msgid = "-", .hostname = "-5", .msg = "abc5"});
    expect("procid == 1234", m, true);
    expect("procid != 1234", m, false);
    expect("procid > 1000", m, true);
    expect("procid > 1234", m, false);
    expect("procid >= 1234", m, true);
    expect("procid < 999", m, false);    /* numerically, although "1234" < "999" as text */
    expect("procid < \"999\"", m, true); /* two texts compare as text */
    expect("1000 < procid", m, true);
    expect("hostname == -5", m, true); /* negative numbers */
    expect("hostname < 0", m, true);
    /* A text that is not an integer equals no number and is neither less nor greater. */
    expect("msgid == 0", m, false);
    expect("msgid != 0", m, true);
    expect("msgid < 0", m, false);
    expect("msgid <= 0", m, false);
    expect("msgid > 0", m, false);
    expect("msgid >= 0", m, false);
    expect("msg == 5", m, false);
    expect("structured_data == 0", m, false); /* empty */
    expect("structured_data != 0", m, true);
    /* Text operators see a number as its decimal text. */
    expect("msg contains 5", m, true);
    expect("msg endswith 5", m, true);
    expect("procid startswith 12", m, true);
    m->pri = 165;
    expect("pri contains \"6\"", m, true);
    expect("pri startswith \"17\"", m, false);
    expect("facility endswith 0", m, true); /* 20 */
    /* Literals on both sides. */
    expect("1 == 1", m, true);
    expect("1 < 2", m, true);
    expect("-3 < -2", m, true);
    expect("\"10\" == 10", m, true);
    expect("\"a\" < \"b\"", m, true);
    /* The full int64 range is accepted. */
    expect("9223372036854775807 > -9223372036854775808", m, true);
    sl_msg_t *big = mk(&(fields_t){.procid = "99999999999999999999"});
    expect("procid > 0", big, false); /* does not fit: not an integer */
    expect("procid != 0", big, true);
    sl_msg_unref(big);
    sl_msg_unref(m);
}

static void test_computed_text_fields(void **state)
{
    (void)state;
    sl_msg_t *m = mk(&(fields_t){.app_name = "cron", .procid = "77", .msg = "x"});
    m->proto = SL_PROTO_RFC5424;
    m->ts = (sl_timestamp_t){.year = 2024,
                             .month = 2,
                             .day = 29,
                             .hour = 23,
                             .minute = 59,
                             .second = 58,
                             .tz_min = 60,
                             .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
    expect("timestamp == \"2024-02-29T23:59:58+01:00\"", m, true);
    expect("timestamp startswith \"2024-02\"", m, true);
    expect("received == \"\"", m, true);
    /* The RFC 5424 tag is built from app_name and procid. */
    expect("tag == \"cron[77]\"", m, true);
    sl_msg_unref(m);
}

static void test_escapes(void **state)
{
    (void)state;
    sl_msg_t *m = mk(&(fields_t){.msg = "say \"hi\" it's a\\b",
                                 .hostname = "tab\there",
                                 .app_name = "line\nbreak",
                                 .procid = "\\d"});
    expect("msg == \"say \\\"hi\\\" it's a\\\\b\"", m, true);
    expect("msg == 'say \"hi\" it\\'s a\\\\b'", m, true);
    expect("hostname == \"tab\\there\"", m, true);
    expect("app_name == 'line\\nbreak'", m, true);
    expect("app_name contains \"\\r\"", m, false);
    /* Other backslash pairs stay as they are. */
    expect("procid == \"\\d\"", m, true);
    expect("procid == \"\\\\d\"", m, true);
    sl_msg_unref(m);
}

static void test_precedence(void **state)
{
    (void)state;
    /* A is true, B and C are false. */
    sl_msg_t *m = mk(&(fields_t){.hostname = "a", .msg = "x"});
    const char *A = "hostname == \"a\"", *B = "hostname == \"b\"", *C = "msg == \"c\"";
    char text[256];
    /* and binds tighter than or: A or (B and C), not (A or B) and C. */
    snprintf(text, sizeof(text), "%s or %s and %s", A, B, C);
    expect(text, m, true);
    snprintf(text, sizeof(text), "%s and %s or %s", B, C, A);
    expect(text, m, true);
    snprintf(text, sizeof(text), "(%s or %s) and %s", A, B, C);
    expect(text, m, false);
    /* not binds tighter than and: (not A) and B, not not (A and B). */
    snprintf(text, sizeof(text), "not %s and %s", A, B);
    expect(text, m, false);
    snprintf(text, sizeof(text), "not (%s and %s)", A, B);
    expect(text, m, true);
    snprintf(text, sizeof(text), "not %s or %s", B, C);
    expect(text, m, true);
    snprintf(text, sizeof(text), "not (%s or %s)", B, A);
    expect(text, m, false);
    snprintf(text, sizeof(text), "not not %s", A);
    expect(text, m, true);
    snprintf(text, sizeof(text), "not not not %s", A);
    expect(text, m, false);
    snprintf(text, sizeof(text), "((((%s))))", A);
    expect(text, m, true);
    snprintf(text, sizeof(text), "%s and %s and %s", A, A, A);
    expect(text, m, true);
    snprintf(text, sizeof(text), "%s and %s and %s", A, A, B);
    expect(text, m, false);
    snprintf(text, sizeof(text), "%s or %s or %s", B, C, A);
    expect(text, m, true);
    snprintf(text, sizeof(text), "%s or %s or %s", B, C, B);
    expect(text, m, false);
    /* Blanks and line breaks anywhere between tokens, none needed around symbols. */
    expect("(hostname==\"a\")and(msg!=\"y\")", m, true);
    expect("\n  hostname\t==\n'a'  \n", m, true);

    /* Exhaustive: every assignment of three atoms through a few shapes. */
    static const char *const shapes[] = {
        "%s or %s and %s",
        "%s and %s or %s",
        "not %s and %s or %s",
        "%s and not (%s or %s)",
        "not (%s and %s) and not %s",
    };
    for (unsigned bits = 0; bits < 8; bits++) {
        bool v[3] = {bits & 1, bits & 2, bits & 4};
        const char *atom[3];
        for (int i = 0; i < 3; i++)
            atom[i] = v[i] ? A : B;
        bool want[] = {
            v[0] || (v[1] && v[2]),  (v[0] && v[1]) || v[2],   (!v[0] && v[1]) || v[2],
            v[0] && !(v[1] || v[2]), !(v[0] && v[1]) && !v[2],
        };
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
            snprintf(text, sizeof(text), shapes[s], atom[0], atom[1], atom[2]);
            expect(text, m, want[s]);
        }
    }
    sl_msg_unref(m);
}

static void test_long_chains_and_depth(void **state)
{
    (void)state;
    sl_msg_t *m = mk(&(fields_t){.msg = "x"});
    /* A long chain of and/or is flat: no deep recursion whatever its length. */
    size_t n = 20000, cap = n * 16 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%smsg == \"x\"", i ? " and " : "");
    expect(text, m, true);
    len += (size_t)snprintf(text + len, cap - len, " and msg == \"y\"");
    expect(text, m, false);
    len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%smsg == \"y\"", i ? " or " : "");
    expect(text, m, false);
    snprintf(text + len, cap - len, " or msg == \"x\"");
    expect(text, m, true);

    /* 64 levels of nesting are allowed, 65 are not. */
    len = 0;
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(text + len, cap - len, i % 2 ? "(" : "not ");
    len += (size_t)snprintf(text + len, cap - len, "msg == \"x\"");
    for (int i = 0; i < 32; i++)
        len += (size_t)snprintf(text + len, cap - len, ")");
    expect(text, m, true); /* 32 nots, an even number */
    len = 0;
    for (int i = 0; i < 65; i++)
        len += (size_t)snprintf(text + len, cap - len, "(");
    snprintf(text + len, cap - len, "msg == \"x\"");
    expect_error(text, 65, "nested too deeply");
    len = 0;
    for (int i = 0; i < 65; i++)
        len += (size_t)snprintf(text + len, cap - len, "not ");
    snprintf(text + len, cap - len, "msg == \"x\"");
    expect_error(text, 257, "nested too deeply");
    free(text);
    sl_msg_unref(m);
}

static void test_regex(void **state)
{
    (void)state;
    sl_msg_t *m = sample();
#if SL_HAVE_PCRE2
    expect("msg =~ \"^Accepted \\w+ for \\w+\"", m, true);
    expect("msg =~ \"^accepted\"", m, false);
    expect("msg =~ \"(?i)^accepted\"", m, true);
    expect("msg =~ \"port \\d{5}$\"", m, true);
    expect("msg =~ 'from 10\\.0\\.0\\.\\d+'", m, true);
    expect("msg =~ \"publickey\"", m, true); /* unanchored */
    expect("msg !~ \"password\"", m, true);
    expect("msg !~ \"publickey\"", m, false);
    expect("hostname =~ \"^(web|db)\\d+$\" and not msg =~ \"Failed\"", m, true);
    expect("pri =~ \"^3[0-9]$\"", m, true); /* 38 as text */
    expect("structured_data =~ \"^$\"", m, true);
    expect("msg =~ \"\"", m, true);
    /* Many captures do not need a larger match data. */
    expect("msg =~ \"(A)(c)(c)(e)(p)(t)(e)(d) (p)(u)(b)\"", m, true);
    /* Bytes, not UTF-8 characters: '.' is one byte. */
    sl_msg_t *u = mk(&(fields_t){.msg = "\xc3\xbc"});
    expect("msg =~ \"^..$\"", u, true);
    /* Invalid UTF-8 is just bytes. */
    sl_msg_t *bad = mk(&(fields_t){.msg = "a\xff\xfe"
                                          "b"});
    expect("msg =~ \"a..b\"", bad, true);
    sl_msg_unref(bad);
    sl_msg_unref(u);
    /* A pattern error names PCRE2's message and points into the literal. */
    expect_error("msg =~ \"(abc\"", 13, "bad regular expression: missing closing parenthesis");
    expect_error("msg =~ \"a{2,1}\"", 14, "bad regular expression");
    expect_error("msg == 'x' or msg =~ '[z-a]'", 26, "bad regular expression");
#else
    expect_error_rc("msg =~ \"^Accepted\"", -ENOTSUP, 5,
                    "regular expressions need PCRE2, which this build lacks");
    expect_error_rc("hostname == \"a\" or msg !~ \"x\"", -ENOTSUP, 24,
                    "regular expressions need PCRE2, which this build lacks");
    /* Everything else works without it. */
    expect("msg contains \"publickey\" and severity == \"info\"", m, true);
#endif
    /* The pattern must be a literal, whatever the build. */
    sl_where_t *w = NULL;
    sl_rule_err_t err;
    int rc = sl_where_compile("msg =~ hostname", &w, &err);
    assert_true(rc == -EINVAL || rc == -ENOTSUP);
    assert_null(w);
#if SL_HAVE_PCRE2
    assert_int_equal(err.column, 8);
    assert_non_null(strstr(err.msg, "expected a string literal (the regular expression) after"));
#endif
    sl_msg_unref(m);
}

static void test_short_circuit(void **state)
{
    (void)state;
#if SL_HAVE_PCRE2
    /* Evaluation has one visible side effect, the regex error counter: a pattern that
     * backtracks catastrophically on this message exceeds the match limit. It is counted when it
     * runs and not when and/or decide without it. */
    sl_msg_t *m = mk(&(fields_t){.hostname = "h", .msg = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxzy"});
    const char *slow = "msg =~ \"^(x+x+)+y\"";
    char text[256];
    sl_where_t *w = compile_ok(slow);
    assert_false(sl_where_match(w, m));
    assert_int_equal(sl_where_regex_errors(w), 1);
    sl_where_free(w);

    snprintf(text, sizeof(text), "hostname == \"h\" or %s", slow);
    w = compile_ok(text);
    assert_true(sl_where_match(w, m));
    assert_int_equal(sl_where_regex_errors(w), 0);
    sl_where_free(w);

    snprintf(text, sizeof(text), "hostname == \"x\" and %s", slow);
    w = compile_ok(text);
    assert_false(sl_where_match(w, m));
    assert_int_equal(sl_where_regex_errors(w), 0);
    sl_where_free(w);

    /* The other way round it does run. */
    snprintf(text, sizeof(text), "%s or hostname == \"h\"", slow);
    w = compile_ok(text);
    assert_true(sl_where_match(w, m));
    assert_int_equal(sl_where_regex_errors(w), 1);
    sl_where_free(w);

    snprintf(text, sizeof(text), "not (hostname == \"h\" or %s) or hostname == \"h\"", slow);
    w = compile_ok(text);
    assert_true(sl_where_match(w, m));
    assert_int_equal(sl_where_regex_errors(w), 0);
    sl_where_free(w);
    sl_msg_unref(m);
#else
    skip();
#endif
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("hostnme == \"x\"", 1, "unknown field 'hostnme' (did you mean 'hostname'?)");
    expect_error("msg == \"a\" and hostnme == \"x\"", 16, "unknown field 'hostnme'");
    expect_error("colour == 1", 1, "unknown field 'colour' (fields: pri, facility");
    expect_error("Msg == \"a\"", 1, "unknown field 'Msg' (did you mean 'msg'?)");
    expect_error("severity == and", 13,
                 "expected a string, a number or a field after '==', found 'and'");
    expect_error("app_name != \"x\" and severity ==", 32,
                 "expected a string, a number or a field after '==', found the end");
    expect_error("msg == \"abc", 8, "unterminated string (no closing \")");
    expect_error("msg == 'abc\\'", 8, "unterminated string (no closing ')");
    expect_error("msg == \"abc\\", 8, "unterminated string");
    expect_error("msg = \"a\"", 5, "'=' is not an operator (use '==' to compare)");
    expect_error("msg ! \"a\"", 5, "'!' is not an operator");
    expect_error("msg \"a\"", 5,
                 "expected an operator (==, !=, <, <=, >, >=, contains, "
                 "startswith, endswith, =~ or !~) after 'msg', found the string "
                 "\"a\"");
    expect_error("msg", 4, "expected an operator");
    expect_error("(msg == \"a\"", 12, "expected ')' to close the '(' at column 1, found the end");
    expect_error("msg == \"a\")", 11, "')' without a matching '('");
    expect_error("", 1, "empty expression");
    expect_error("   ", 4, "empty expression");
    expect_error("()", 2, "expected a field, a string or a number, found ')'");
    expect_error("not", 4, "expected a field, a string or a number, found the end");
    expect_error("msg == \"a\" and", 15, "expected a field, a string or a number, found the end");
    expect_error("msg == \"a\" msg", 12, "expected 'and', 'or' or the end of the expression");
    expect_error("msg == \"a\" && pri == 1", 12, "'&' is not an operator (use 'and')");
    expect_error("msg == \"a\" || pri == 1", 12, "'|' is not an operator (use 'or')");
    expect_error("severity <= \"warnin\"", 13, "unknown severity 'warnin' (expected emerg");
    expect_error("\"warnin\" >= severity", 1, "unknown severity 'warnin'");
    expect_error("facility == \"nope\"", 13, "unknown facility 'nope' (expected kern, user");
    expect_error("pri == \"x\"", 8, "pri is a number");
    expect_error("pri == 99999999999999999999", 8, "number 99999999999999999999 out of range");
    expect_error("pri == 1.5", 8, "bad number '1.5' (expected an integer)");
    expect_error("pri == 12ab", 8, "bad number '12ab'");
    expect_error("msg == \"a\" and pri ? 1", 20, "unexpected character '?'");
    expect_error("msg == \"a\" \x01", 12, "unexpected byte 0x01");
    /* Columns count characters: the two-byte character is one column. */
    expect_error("msg == \"\xc3\xa9\" and hostnme == \"x\"", 16, "unknown field 'hostnme'");
    expect_error("msg == '\xe2\x82\xac\xe2\x82\xac' or ( msg ==", 24, "found the end");

    /* The formatted report. */
    sl_where_t *w = NULL;
    sl_rule_err_t err;
    char buf[400];
    assert_int_equal(sl_where_compile("hostname == 'a' or hostnme == 'b'", &w, &err), -EINVAL);
    assert_string_equal(sl_rule_err_format(&err, buf, sizeof(buf)),
                        "column 20: unknown field 'hostnme' (did you mean 'hostname'?)");
    sl_where_free(NULL);
}

/* The examples of docs/rules.md compile and give the answers the text says. */
static void test_documented_examples(void **state)
{
    (void)state;
    static const char *const examples[] = {
        "severity <= \"warning\" and app_name != \"cron\"",
        "severity <= \"err\"",
        "app_name == \"sshd\" and msg startswith \"Failed password\"",
        "facility == \"local3\" or (facility == \"daemon\" and app_name == \"nginx\")",
        "procid != \"\" and procid < 1000",
        "input == \"relay\" and fromhost startswith \"10.\"",
        "app_name != \"cron\" and not msg contains \"healthcheck\"",
#if SL_HAVE_PCRE2
        "(hostname startswith \"db\" or msg contains \"disk\") and not msg =~ \"^ok\\b\"",
        "hostname =~ \"^(web|db)[0-9]+$\" and not msg contains \"healthcheck\"",
        "msg =~ \"(?i)out of memory|oom-killer\"",
        "tag == \"kernel:\" and msg =~ \"^\\[\\s*\\d+\\.\\d+\\] EXT4-fs error\"",
#endif
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        sl_where_free(compile_ok(examples[i]));
    sl_msg_t *m =
        mk(&(fields_t){.pri = 3, .tag = "kernel:", .msg = "[ 12.345] EXT4-fs error (device sda1)"});
#if SL_HAVE_PCRE2
    expect(examples[10], m, true);
#endif
    expect("severity <= \"err\"", m, true);
    m->pri = 4;
    expect("severity <= \"err\"", m, false);
    sl_msg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_operators),
        cmocka_unit_test(test_numeric_fields),
        cmocka_unit_test(test_number_against_text),
        cmocka_unit_test(test_computed_text_fields),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_long_chains_and_depth),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_documented_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
