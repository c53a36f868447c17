/*
 * The template engine (src/core/template.c). Messages are built by hand (raw bytes plus field
 * spans, timestamps, pri, flags, proto), so these tests do not depend on the parsers. Each
 * built-in is checked byte for byte, including rsyslog's subtleties: day padding,
 * sp-if-no-1st-sp, the space the parser took off (SL_MSG_MSG_SP), the trailing LF and NUL
 * dropped on reception, "#ooo" escaping, the RFC 5424 tag form, dashes and the BOM. RFC 5424
 * and JSON output for random field bytes is checked against the RFC 5424 grammar (a checker in
 * this file) and the strict JSON checker (json_check.h). Custom templates are checked with every
 * escape and every compile error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/msg.h"
#include "core/template.h"
#include "json_check.h"
#include "lib/strbuf.h"

/* ---- Building messages ---------------------------------------------------------------- */

/* One piece of the raw text; id < 0 for bytes that belong to no field. */
struct piece {
    int id;
    const char *s;
    size_t n;
};

#define P(id, lit)                                                                                 \
    {                                                                                              \
        (id), (lit), sizeof(lit) - 1                                                               \
    }
#define GAP(lit)                                                                                   \
    {                                                                                              \
        -1, (lit), sizeof(lit) - 1                                                                 \
    }

static sl_msg_t *build(const struct piece *p, size_t np, const char *fromhost, const char *input)
{
    char raw[8192];
    size_t n = 0, off[32];
    assert_true(np <= 32);
    for (size_t i = 0; i < np; i++) {
        assert_true(n + p[i].n <= sizeof(raw));
        off[i] = n;
        memcpy(raw + n, p[i].s, p[i].n);
        n += p[i].n;
    }
    sl_msg_t *m = sl_msg_new(raw, n, fromhost, input);
    assert_non_null(m);
    for (size_t i = 0; i < np; i++) {
        if (p[i].id >= 0)
            sl_msg_set(m, (sl_field_id_t)p[i].id, m->buf + off[i], p[i].n);
    }
    return m;
}

#define BUILD(fromhost, ...)                                                                       \
    build((const struct piece[]){__VA_ARGS__},                                                     \
          sizeof((const struct piece[]){__VA_ARGS__}) / sizeof(struct piece), fromhost, "tcp")

static sl_timestamp_t ts(int year, int month, int day, int h, int mi, int s, uint32_t usec,
                         int digits, int tz)
{
    sl_timestamp_t t = {.year = (int16_t)year,
                        .month = (uint8_t)month,
                        .day = (uint8_t)day,
                        .hour = (uint8_t)h,
                        .minute = (uint8_t)mi,
                        .second = (uint8_t)s,
                        .frac_digits = (uint8_t)digits,
                        .usec = usec,
                        .tz_min = (int16_t)tz,
                        .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
    return t;
}

/* A typical RFC 3164 message: "<13>Nov  2 04:56:13 myhost sshd[42]: <msg>". */
static sl_msg_t *msg3164(const char *msg, size_t n, uint16_t flags)
{
    char raw[4096];
    static const char head[] = "<13>Nov  2 04:56:13 myhost sshd[42]:";
    size_t hl = sizeof(head) - 1, sp = (flags & SL_MSG_MSG_SP) ? 1 : 0;
    assert_true(hl + sp + n <= sizeof(raw));
    memcpy(raw, head, hl);
    if (sp)
        raw[hl] = ' ';
    memcpy(raw + hl + sp, msg, n);
    sl_msg_t *m = sl_msg_new(raw, hl + sp + n, "10.0.0.1", "udp");
    assert_non_null(m);
    sl_msg_set(m, SL_F_HOSTNAME, m->buf + 20, 6);
    sl_msg_set(m, SL_F_TAG, m->buf + 27, 9);
    sl_msg_set(m, SL_F_APP_NAME, m->buf + 27, 4);
    sl_msg_set(m, SL_F_PROCID, m->buf + 32, 2);
    sl_msg_set(m, SL_F_MSG, m->buf + hl + sp, n);
    m->proto = SL_PROTO_RFC3164;
    m->pri = 13;
    m->flags = flags;
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 60);
    m->received = ts(2026, 11, 2, 4, 56, 14, 250000, 6, 60);
    return m;
}

/* ---- Formatting helpers --------------------------------------------------------------- */

static sl_template_t *compile_ok(const char *spec)
{
    char err[256];
    sl_template_t *t = NULL;
    int rc = sl_template_compile(spec, &t, err, sizeof(err));
    if (rc != 0)
        fail_msg("compiling '%s': %d %s", spec, rc, err);
    assert_non_null(t);
    return t;
}

/* Formats m with spec and compares with want[0..wn). Frees nothing. */
static void expect_fmt_n(const char *spec, const sl_msg_t *m, const char *want, size_t wn)
{
    sl_template_t *t = compile_ok(spec);
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_template_format(t, m, &b), 0);
    if (b.len != wn || memcmp(b.data, want, wn) != 0) {
        char got[4096], exp[4096];
        size_t g = 0, e = 0;
        /* Show both with C escapes so invisible differences are visible. */
        for (size_t i = 0; i < b.len && g + 5 < sizeof(got); i++) {
            unsigned char c = (unsigned char)b.data[i];
            g += (size_t)(c >= 0x20 && c < 0x7f ? snprintf(got + g, 5, "%c", c)
                                                : snprintf(got + g, 5, "\\x%02x", c));
        }
        for (size_t i = 0; i < wn && e + 5 < sizeof(exp); i++) {
            unsigned char c = (unsigned char)want[i];
            e += (size_t)(c >= 0x20 && c < 0x7f ? snprintf(exp + e, 5, "%c", c)
                                                : snprintf(exp + e, 5, "\\x%02x", c));
        }
        fail_msg("template '%s':\n   got  \"%s\"\n   want \"%s\"", spec, got, exp);
    }
    sl_strbuf_free(&b);
    sl_template_free(t);
}

#define EXPECT_FMT(spec, m, want) expect_fmt_n(spec, m, want, sizeof(want) - 1)

static size_t format_into(const char *spec, const sl_msg_t *m, sl_strbuf_t *b)
{
    sl_template_t *t = compile_ok(spec);
    sl_strbuf_reset(b);
    assert_int_equal(sl_template_format(t, m, b), 0);
    sl_template_free(t);
    return b->len;
}

/* ---- traditional ---------------------------------------------------------------------- */

static void test_traditional_basic(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("hello world", 11, SL_MSG_MSG_SP);
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: hello world\n");
    EXPECT_FMT("RSYSLOG_TraditionalFileFormat", m,
               "Nov  2 04:56:13 myhost sshd[42]: hello world\n");
    /* Two-digit days are not padded; the time is the sender's, not converted. */
    m->ts = ts(2026, 11, 12, 23, 5, 9, 123456, 6, -300);
    EXPECT_FMT("traditional", m, "Nov 12 23:05:09 myhost sshd[42]: hello world\n");
    m->ts = ts(2026, 1, 1, 0, 0, 0, 0, 0, 0);
    EXPECT_FMT("traditional", m, "Jan  1 00:00:00 myhost sshd[42]: hello world\n");
    sl_msg_unref(m);
}

/* sp-if-no-1st-sp: one space unless rsyslog's msg begins with a space (an empty one too). */
static void test_traditional_space_rules(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("hello", 5, 0); /* "sshd[42]:hello" */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: hello\n");
    sl_msg_unref(m);
    m = msg3164(" hello", 6, 0); /* the parser left the space in msg */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: hello\n");
    sl_msg_unref(m);
    m = msg3164(" hello", 6, SL_MSG_MSG_SP); /* two spaces were sent: both kept */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]:  hello\n");
    sl_msg_unref(m);
    m = msg3164("", 0, 0); /* empty msg: the space all the same, as rsyslog writes it */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: \n");
    sl_msg_unref(m);
    m = msg3164("", 0, SL_MSG_MSG_SP); /* only the space: rsyslog's msg is " " */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: \n");
    sl_msg_unref(m);
    m = msg3164("\thello", 6, 0); /* a tab is escaped, so it is not a space */
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 myhost sshd[42]: #011hello\n");
    sl_msg_unref(m);
}

/* What rsyslog does on reception: drop one NUL at the very end, then one LF. */
static void test_traditional_trailing_lf_nul(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        size_t n;
        const char *want;
    } cases[] = {
        {"hello\n", 6, "hello"},       {"hello\n\n", 7, "hello#012"},
        {"hello\0", 6, "hello"},       {"hello\n\0", 7, "hello"},
        {"hello\0\n", 7, "hello#000"}, {"hello\0\0", 7, "hello#000"},
        {"a\nb", 3, "a#012b"},         {"\n", 1, ""},
        {"hello\r\n", 7, "hello#015"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_msg_t *m = msg3164(cases[i].msg, cases[i].n, SL_MSG_MSG_SP);
        char want[128];
        int wn =
            snprintf(want, sizeof(want), "Nov  2 04:56:13 myhost sshd[42]: %s\n", cases[i].want);
        expect_fmt_n("traditional", m, want, (size_t)wn);
        sl_msg_unref(m);
    }
    /* Only at the end of the raw text: a msg followed by other bytes keeps its LF. */
    sl_msg_t *m = BUILD("h", GAP("<13>"), P(SL_F_HOSTNAME, "h"), GAP(" "), P(SL_F_TAG, "t:"),
                        GAP(" "), P(SL_F_MSG, "x\n"), GAP("trailer"));
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
    m->flags = SL_MSG_MSG_SP;
    m->proto = SL_PROTO_RFC3164;
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 h t: x#012\n");
    sl_msg_unref(m);
}

/* Every byte below 0x20 becomes "#ooo"; DEL and bytes above 0x7f pass. */
static void test_traditional_control_escaping(void **state)
{
    (void)state;
    char msg[256], want[2048];
    size_t n = 0, w = 0;
    for (unsigned c = 0; c < 256; c++) {
        if (c == '\n' || c == 0)
            continue; /* the trailing rules would apply at the end; tested above */
        msg[n++] = (char)c;
        if (c < 0x20)
            w += (size_t)snprintf(want + w, 8, "#%03o", c);
        else
            want[w++] = (char)c;
    }
    msg[n++] = '\n';
    msg[n++] = 'x';
    memcpy(want + w, "#012x", 5);
    w += 5;
    sl_msg_t *m = msg3164(msg, n, SL_MSG_MSG_SP);
    char full[2200];
    int hl = snprintf(full, sizeof(full), "Nov  2 04:56:13 myhost sshd[42]: ");
    /* msg begins with 0x01, escaped to "#001": not a space. */
    memcpy(full + hl, want, w);
    full[hl + (int)w] = '\n';
    expect_fmt_n("traditional", m, full, (size_t)hl + w + 1);
    sl_msg_unref(m);

    /* Hostname and tag are escaped too. */
    m = BUILD("h", GAP("<13>"), P(SL_F_HOSTNAME, "ho\tst"), GAP(" "), P(SL_F_TAG, "t\x1b[1m:"),
              GAP(" "), P(SL_F_MSG, "m\x7f"));
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
    m->flags = SL_MSG_MSG_SP;
    m->proto = SL_PROTO_RFC3164;
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 ho#011st t#033[1m: m\x7f\n");
    sl_msg_unref(m);
}

/* Escapes `in` the reference way (a byte at a time): the expected output of the escaper. */
static size_t escape_ref(const char *in, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20)
            w += (size_t)sprintf(out + w, "#%03o", c);
        else
            out[w++] = (char)c;
    }
    return w;
}

/*
 * The escaper checks and copies 16 and 32 bytes a step with overlapping loads and stores at the
 * end of a run: every length up to 100 with a control character at every position (and none),
 * on both of its paths (plain, and UTF-8 after an RFC 5424 BOM), against a byte-at-a-time
 * reference.
 */
static void test_escape_every_length_and_position(void **state)
{
    (void)state;
    sl_template_t *plain = compile_ok("${msg}\n"), *r5424 = compile_ok("rfc5424");
    sl_strbuf_t b = SL_STRBUF_INIT;
    char msg[128], want[1024];
    for (size_t len = 0; len <= 100; len++) {
        for (size_t pos = 0; pos <= len; pos++) { /* pos == len: no control character */
            for (int utf8 = 0; utf8 <= 1; utf8++) {
                for (size_t i = 0; i < len; i++)
                    msg[i] = (char)(utf8 ? 'a' + i % 26 : 0x20 + (i * 7) % 0xe0);
                /* A valid two-byte character away from pos (copied as it is on both paths). */
                size_t q = len / 3;
                if (utf8 && q + 1 < len && (pos < q || pos > q + 1)) {
                    msg[q] = (char)0xc3;
                    msg[q + 1] = (char)0xa9;
                }
                if (pos < len)
                    msg[pos] = (char)(pos % 2 ? 0x1b : 0x01);
                struct piece pc[2] = {GAP("x "), {SL_F_MSG, msg, len}};
                sl_msg_t *m = build(pc, 2, "h", "tcp");
                m->proto = SL_PROTO_RFC5424;
                m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
                if (utf8)
                    m->flags = SL_MSG_BOM;
                size_t w = escape_ref(msg, len, want);
                want[w++] = '\n';
                sl_strbuf_reset(&b);
                assert_int_equal(sl_template_format(utf8 ? r5424 : plain, m, &b), 0);
                /* rfc5424 ends " " BOM msg "\n"; the custom template is the msg alone. */
                if (b.len < w || memcmp(b.data + b.len - w, want, w) != 0 || (!utf8 && b.len != w))
                    fail_msg("len %zu, control at %zu, utf8 %d: got \"%.*s\"", len, pos, utf8,
                             (int)b.len, b.data);
                if (utf8)
                    assert_memory_equal(b.data + b.len - w - 3, "\xef\xbb\xbf", 3);
                sl_msg_unref(m);
            }
        }
    }
    sl_strbuf_free(&b);
    sl_template_free(plain);
    sl_template_free(r5424);
}

static void test_traditional_rfc5424_fields(void **state)
{
    (void)state;
    /* <34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed */
    sl_msg_t *m =
        BUILD("192.0.2.1", GAP("<34>1 2003-10-11T22:14:15.003Z "),
              P(SL_F_HOSTNAME, "mymachine.example.com"), GAP(" "), P(SL_F_APP_NAME, "su"),
              GAP(" - "), P(SL_F_MSGID, "ID47"), GAP(" - "), P(SL_F_MSG, "'su root' failed"));
    m->proto = SL_PROTO_RFC5424;
    m->pri = 34;
    m->ts = ts(2003, 10, 11, 22, 14, 15, 3000, 3, 0);
    /* rsyslog's tag for RFC 5424: APP-NAME alone when PROCID is "-", and no colon. */
    EXPECT_FMT("traditional", m, "Oct 11 22:14:15 mymachine.example.com su 'su root' failed\n");
    EXPECT_FMT("rfc3164", m, "<34>Oct 11 22:14:15 mymachine.example.com su 'su root' failed\n");
    /* The sluice tag field keeps its own form. */
    EXPECT_FMT("${tag}|${app_name}|${procid}", m, "su|su|");
    sl_msg_unref(m);

    m = BUILD("192.0.2.1", GAP("<165>1 2003-08-24T05:14:15.000003-07:00 "),
              P(SL_F_HOSTNAME, "192.0.2.1"), GAP(" "), P(SL_F_APP_NAME, "myproc"), GAP(" "),
              P(SL_F_PROCID, "8710"), GAP(" - - "), P(SL_F_MSG, "%% It's time"));
    m->proto = SL_PROTO_RFC5424;
    m->pri = 165;
    m->ts = ts(2003, 8, 24, 5, 14, 15, 3, 6, -420);
    EXPECT_FMT("traditional", m, "Aug 24 05:14:15 192.0.2.1 myproc[8710] %% It's time\n");
    sl_msg_unref(m);

    /* Everything "-": rsyslog keeps "-" for hostname and APP-NAME. */
    m = BUILD("192.0.2.1", GAP("<13>1 2003-08-24T05:14:15Z - - - - - "), P(SL_F_MSG, "x"));
    m->proto = SL_PROTO_RFC5424;
    m->ts = ts(2003, 8, 24, 5, 14, 15, 0, 0, 0);
    EXPECT_FMT("traditional", m, "Aug 24 05:14:15 - - x\n");
    sl_msg_unref(m);

    m = BUILD("192.0.2.1", GAP("<13>1 2003-08-24T05:14:15Z h - "), P(SL_F_PROCID, "77"),
              GAP(" - - "), P(SL_F_MSG, "x"));
    m->proto = SL_PROTO_RFC5424;
    m->ts = ts(2003, 8, 24, 5, 14, 15, 0, 0, 0);
    EXPECT_FMT("traditional", m, "Aug 24 05:14:15 - -[77] x\n");
    sl_msg_unref(m);

    /* The BOM is part of rsyslog's msg, so sp-if-no-1st-sp adds a space before it. */
    m = BUILD("192.0.2.1", GAP("<13>1 2003-08-24T05:14:15Z "), P(SL_F_HOSTNAME, "h"), GAP(" "),
              P(SL_F_APP_NAME, "a"), GAP(" - - - \xef\xbb\xbf"), P(SL_F_MSG, "caf\xc3\xa9"));
    m->proto = SL_PROTO_RFC5424;
    m->flags = SL_MSG_BOM;
    m->ts = ts(2003, 8, 24, 5, 14, 15, 0, 0, 0);
    EXPECT_FMT("traditional", m,
               "Aug 24 05:14:15 h a \xef\xbb\xbf"
               "caf\xc3\xa9\n");
    sl_msg_unref(m);
}

static void test_traditional_fallbacks(void **state)
{
    (void)state;
    /* No hostname in an RFC 3164 message: rsyslog prints the sender's address. */
    sl_msg_t *m = BUILD("10.1.2.3", GAP("<13>Nov  2 04:56:13 "), P(SL_F_TAG, "cron:"), GAP(" "),
                        P(SL_F_MSG, "job"));
    m->proto = SL_PROTO_RFC3164;
    m->flags = SL_MSG_MSG_SP;
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 10.1.2.3 cron: job\n");
    /* No usable reported time: the reception time. */
    m->ts.flags = 0;
    m->received = ts(2026, 12, 31, 23, 59, 59, 0, 0, 0);
    EXPECT_FMT("traditional", m, "Dec 31 23:59:59 10.1.2.3 cron: job\n");
    sl_msg_unref(m);
}

/* Formatting appends and leaves what is already in the buffer. */
static void test_format_appends(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("one", 3, SL_MSG_MSG_SP);
    sl_template_t *t = compile_ok("traditional");
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_strbuf_append(&b, "prefix|", 7), 0);
    assert_int_equal(sl_template_format(t, m, &b), 0);
    assert_int_equal(sl_template_format(t, m, &b), 0);
    const char want[] = "prefix|Nov  2 04:56:13 myhost sshd[42]: one\n"
                        "Nov  2 04:56:13 myhost sshd[42]: one\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    sl_strbuf_free(&b);
    sl_template_free(t);
    sl_template_free(NULL);
    sl_msg_unref(m);
}

/* ---- rfc3164 -------------------------------------------------------------------------- */

static void test_rfc3164(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("hello\tworld\n", 12, SL_MSG_MSG_SP);
    EXPECT_FMT("rfc3164", m, "<13>Nov  2 04:56:13 myhost sshd[42]: hello#011world\n");
    m->pri = 0;
    EXPECT_FMT("rfc3164", m, "<0>Nov  2 04:56:13 myhost sshd[42]: hello#011world\n");
    m->pri = 191;
    EXPECT_FMT("rfc3164", m, "<191>Nov  2 04:56:13 myhost sshd[42]: hello#011world\n");
    sl_msg_unref(m);

    /* %syslogtag:1:32%: the (escaped) tag is cut to 32 bytes. */
    m = BUILD("h", GAP("<13>Nov  2 04:56:13 "), P(SL_F_HOSTNAME, "h"), GAP(" "),
              P(SL_F_TAG, "a-very-long-program-name-indeed[123456]:"), GAP(" "), P(SL_F_MSG, "m"));
    m->proto = SL_PROTO_RFC3164;
    m->flags = SL_MSG_MSG_SP;
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
    EXPECT_FMT("rfc3164", m, "<13>Nov  2 04:56:13 h a-very-long-program-name-indeed[ m\n");
    EXPECT_FMT("traditional", m, "Nov  2 04:56:13 h a-very-long-program-name-indeed[123456]: m\n");
    sl_msg_unref(m);
    m = BUILD("h", GAP("<13>Nov  2 04:56:13 "), P(SL_F_HOSTNAME, "h"), GAP(" "),
              P(SL_F_TAG, "0123456789012345678901234567\x01xyz"), GAP(" "), P(SL_F_MSG, "m"));
    m->proto = SL_PROTO_RFC3164;
    m->flags = SL_MSG_MSG_SP;
    m->ts = ts(2026, 11, 2, 4, 56, 13, 0, 0, 0);
    EXPECT_FMT("rfc3164", m, "<13>Nov  2 04:56:13 h 0123456789012345678901234567#001 m\n");
    sl_msg_unref(m);
}

/* ---- rfc5424 -------------------------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A header token: 1..max bytes of PRINTUSASCII, ending at a space. */
static const char *rfc5424_token(const char *p, const char *end, size_t max)
{
    const char *s = p;
    while (p < end && *p != ' ') {
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
            return NULL;
        p++;
    }
    if (p == s || (size_t)(p - s) > max || p >= end)
        return NULL;
    return p + 1;
}

static int sd_name_ok(const char **pp, const char *end)
{
    const char *p = *pp, *s = p;
    while (p < end && (unsigned char)*p >= 33 && (unsigned char)*p <= 126 && *p != '=' &&
           *p != ']' && *p != '"' && *p != ' ')
        p++;
    *pp = p;
    return p > s && p - s <= 32;
}

/* Checks line[0..n) (with its final LF) against the RFC 5424 grammar; NULL or the reason. */
static const char *rfc5424_check(const char *line, size_t n)
{
    const char *p = line, *end = line + n;
    if (n == 0 || line[n - 1] != '\n')
        return "no final LF";
    end--;
    if (memchr(line, '\n', (size_t)(end - line)))
        return "LF inside the record";
    if (*p++ != '<')
        return "no PRI";
    const char *d = p;
    while (p < end && is_digit(*p))
        p++;
    if (p == d || p - d > 3 || (p - d > 1 && *d == '0') || atoi(d) > 191 || *p++ != '>')
        return "bad PRI";
    if (end - p < 2 || p[0] != '1' || p[1] != ' ')
        return "bad VERSION";
    p += 2;
    if (*p == '-') {
        p++;
    } else {
        /* 2003-10-11T22:14:15[.1-6 digits](+|-)hh:mm */
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        for (size_t i = 0; i < sizeof(shape) - 1; i++, p++) {
            if (p >= end || (shape[i] == 'd' ? !is_digit(*p) : *p != shape[i]))
                return "bad TIMESTAMP";
        }
        if (p < end && *p == '.') {
            const char *f = ++p;
            while (p < end && is_digit(*p))
                p++;
            if (p == f || p - f > 6)
                return "bad TIME-SECFRAC";
        }
        if (end - p < 6 || (p[0] != '+' && p[0] != '-') || !is_digit(p[1]) || !is_digit(p[2]) ||
            p[3] != ':' || !is_digit(p[4]) || !is_digit(p[5]))
            return "bad TIME-NUMOFFSET";
        p += 6;
    }
    if (p >= end || *p++ != ' ')
        return "no SP after TIMESTAMP";
    static const size_t max[4] = {255, 48, 128, 32};
    for (int i = 0; i < 4; i++) {
        if (!(p = rfc5424_token(p, end, max[i])))
            return "bad header field";
    }
    if (p < end && *p == '-') {
        p++;
    } else {
        if (p >= end || *p != '[')
            return "bad SD";
        while (p < end && *p == '[') {
            p++;
            if (!sd_name_ok(&p, end))
                return "bad SD-ID";
            while (p < end && *p == ' ') {
                p++;
                if (!sd_name_ok(&p, end))
                    return "bad PARAM-NAME";
                if (end - p < 2 || p[0] != '=' || p[1] != '"')
                    return "bad SD-PARAM";
                p += 2;
                while (p < end && *p != '"') {
                    if (*p == ']')
                        return "unescaped ']' in PARAM-VALUE";
                    if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\' || p[1] == ']'))
                        p++;
                    p++;
                }
                if (p >= end)
                    return "unterminated PARAM-VALUE";
                p++;
            }
            if (p >= end || *p++ != ']')
                return "SD-ELEMENT not closed";
        }
    }
    if (p == end)
        return NULL;
    if (*p++ != ' ')
        return "no SP before MSG";
    if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        if (sl_utf8_check(p + 3, (size_t)(end - p - 3)) != (size_t)(end - p - 3))
            return "MSG after BOM is not UTF-8";
    }
    return NULL;
}

static void expect_5424(const sl_msg_t *m, const char *want, size_t wn)
{
    expect_fmt_n("rfc5424", m, want, wn);
    const char *why = rfc5424_check(want, wn);
    if (why)
        fail_msg("expected text is not RFC 5424 itself: %s", why);
}

#define EXPECT_5424(m, want) expect_5424(m, want, sizeof(want) - 1)

static void test_rfc5424_basic(void **state)
{
    (void)state;
    sl_msg_t *m = BUILD("192.0.2.1", GAP("<165>1 2003-10-11T22:14:15.003Z "),
                        P(SL_F_HOSTNAME, "mymachine.example.com"), GAP(" "),
                        P(SL_F_APP_NAME, "evntslog"), GAP(" - "), P(SL_F_MSGID, "ID47"), GAP(" "),
                        P(SL_F_STRUCTURED_DATA, "[exampleSDID@32473 iut=\"3\" "
                                                "eventSource=\"Application\" eventID=\"1011\"]"),
                        GAP(" \xef\xbb\xbf"), P(SL_F_MSG, "An application event log entry..."));
    m->proto = SL_PROTO_RFC5424;
    m->pri = 165;
    m->flags = SL_MSG_BOM;
    m->ts = ts(2003, 10, 11, 22, 14, 15, 3000, 3, 0);
    EXPECT_5424(m, "<165>1 2003-10-11T22:14:15.003+00:00 mymachine.example.com evntslog - ID47 "
                   "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
                   "\xef\xbb\xbf"
                   "An application event log entry...\n");
    sl_msg_unref(m);

    /* All empty: dashes, and no SP when there is no MSG. */
    m = BUILD("192.0.2.1", GAP("<13>1 - - - - - -"));
    m->proto = SL_PROTO_RFC5424;
    EXPECT_5424(m, "<13>1 - - - - - -\n");
    /* A BOM alone is still a MSG. */
    m->flags = SL_MSG_BOM;
    EXPECT_5424(m, "<13>1 - - - - - - \xef\xbb\xbf\n");
    sl_msg_unref(m);
}

static void test_rfc5424_from_rfc3164(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("hello\x01world\n", 12, SL_MSG_MSG_SP);
    EXPECT_5424(m, "<13>1 2026-11-02T04:56:13+01:00 myhost sshd 42 - - hello#001world\n");
    /* No hostname: the sender's address, as rsyslog forwards it. */
    m->f[SL_F_HOSTNAME].len = 0;
    m->f[SL_F_PROCID].len = 0;
    m->ts = ts(2026, 2, 28, 1, 2, 3, 120000, 2, -330);
    EXPECT_5424(m, "<13>1 2026-02-28T01:02:03.12-05:30 10.0.0.1 sshd - - - hello#001world\n");
    /* Invalid times are NILVALUE; a leap second is not allowed. */
    m->ts = ts(2026, 2, 29, 1, 2, 3, 0, 0, 0);
    EXPECT_5424(m, "<13>1 - 10.0.0.1 sshd - - - hello#001world\n");
    m->ts = ts(2016, 12, 31, 23, 59, 60, 0, 0, 0);
    EXPECT_5424(m, "<13>1 2016-12-31T23:59:59+00:00 10.0.0.1 sshd - - - hello#001world\n");
    m->ts.flags = 0;
    EXPECT_5424(m, "<13>1 - 10.0.0.1 sshd - - - hello#001world\n");
    sl_msg_unref(m);
}

static void test_rfc5424_sanitise_header(void **state)
{
    (void)state;
    char host[300], app[60], procid[200], msgid[40];
    memset(host, 'h', sizeof(host));
    memset(app, 'a', sizeof(app));
    memset(procid, 'p', sizeof(procid));
    memset(msgid, 'm', sizeof(msgid));
    struct piece pieces[] = {
        GAP("<13>1 - "), {SL_F_HOSTNAME, host, sizeof(host)},
        GAP(" "),        {SL_F_APP_NAME, app, sizeof(app)},
        GAP(" "),        {SL_F_PROCID, procid, sizeof(procid)},
        GAP(" "),        {SL_F_MSGID, msgid, sizeof(msgid)},
    };
    sl_msg_t *m = build(pieces, sizeof(pieces) / sizeof(pieces[0]), "x", "tcp");
    m->proto = SL_PROTO_RFC5424;
    sl_strbuf_t b = SL_STRBUF_INIT;
    format_into("rfc5424", m, &b);
    char want[1024];
    size_t w = (size_t)snprintf(want, sizeof(want), "<13>1 - ");
    memset(want + w, 'h', 255);
    w += 255;
    want[w++] = ' ';
    memset(want + w, 'a', 48);
    w += 48;
    want[w++] = ' ';
    memset(want + w, 'p', 128);
    w += 128;
    want[w++] = ' ';
    memset(want + w, 'm', 32);
    w += 32;
    memcpy(want + w, " -\n", 3);
    w += 3;
    assert_int_equal(b.len, w);
    assert_memory_equal(b.data, want, w);
    assert_null(rfc5424_check(b.data, b.len));
    sl_msg_unref(m);

    /* Bytes outside '!'..'~' become '_'. */
    m = BUILD("x", GAP("<13>1 - "), P(SL_F_HOSTNAME, "my host\x01\xc3\xa9"), GAP(" "),
              P(SL_F_APP_NAME, "a\x7f"), GAP(" "), P(SL_F_PROCID, "1\t2"), GAP(" "),
              P(SL_F_MSGID, "\n"));
    m->proto = SL_PROTO_RFC5424;
    EXPECT_5424(m, "<13>1 - my_host___ a_ 1_2 _ -\n");
    sl_msg_unref(m);
    sl_strbuf_free(&b);
}

static void expect_sd(const char *sd, size_t n, const char *want_sd)
{
    struct piece pieces[] = {GAP("<13>1 - h a p m "), {SL_F_STRUCTURED_DATA, sd, n}};
    sl_msg_t *m = build(pieces, 2, "x", "tcp");
    m->proto = SL_PROTO_RFC5424;
    char want[512];
    int wn = snprintf(want, sizeof(want), "<13>1 - - - - - %s\n", want_sd);
    expect_5424(m, want, (size_t)wn);
    sl_msg_unref(m);
}

#define EXPECT_SD(sd, want) expect_sd(sd, sizeof(sd) - 1, want)

static void test_rfc5424_structured_data(void **state)
{
    (void)state;
    EXPECT_SD("[a]", "[a]");
    EXPECT_SD("[a][b c=\"d\"]", "[a][b c=\"d\"]");
    EXPECT_SD("[id@1 k=\"\" k2=\"v w\"]", "[id@1 k=\"\" k2=\"v w\"]");
    EXPECT_SD("[a k=\"q\\\"b\\\\s\\]\"]", "[a k=\"q\\\"b\\\\s\\]\"]");
    /* A backslash before another character is a plain backslash (RFC 5424 6.3.3). */
    EXPECT_SD("[a k=\"c:\\x\"]", "[a k=\"c:\\x\"]");
    /* Repaired: a bare ']', control characters, ill-formed UTF-8. */
    EXPECT_SD("[a k=\"x]y\"]", "[a k=\"x\\]y\"]");
    EXPECT_SD("[a k=\"l1\nl2\"]", "[a k=\"l1#012l2\"]");
    EXPECT_SD("[a k=\"caf\xe9\"]", "[a k=\"caf\xef\xbf\xbd\"]");
    EXPECT_SD("[a k=\"\xc3\xa9\"]", "[a k=\"\xc3\xa9\"]");
    /* Not STRUCTURED-DATA at all: NILVALUE. */
    EXPECT_SD("-", "-");
    EXPECT_SD("[", "-");
    EXPECT_SD("[]", "-");
    EXPECT_SD("[a", "-");
    EXPECT_SD("[a ]", "-");
    EXPECT_SD("[a b]", "-");
    EXPECT_SD("[a b=c]", "-");
    EXPECT_SD("[a b=\"c]", "-");
    EXPECT_SD("[a b=\"c\"", "-");
    EXPECT_SD("[a] [b]", "-");
    EXPECT_SD("[a]x", "-");
    EXPECT_SD("garbage", "-");
    EXPECT_SD("[x=\"1\"]", "-");
    EXPECT_SD("[0123456789012345678901234567890123]", "-");
    EXPECT_SD("[a\x01]", "-");
}

static void test_rfc5424_msg(void **state)
{
    (void)state;
    /* Control characters escaped, one trailing LF dropped, no MSG_SP restored, no UTF-8
     * repair without a BOM (MSG-ANY is any octets). */
    sl_msg_t *m = BUILD("x", GAP("<13>1 - h a p m - "), P(SL_F_MSG, "a\tb\xff\n"));
    m->proto = SL_PROTO_RFC5424;
    m->flags = SL_MSG_MSG_SP;
    EXPECT_5424(m, "<13>1 - - - - - - a#011b\xff\n");
    /* With a BOM MSG must be UTF-8. */
    m->flags = SL_MSG_BOM;
    EXPECT_5424(m, "<13>1 - - - - - - \xef\xbb\xbf"
                   "a#011b\xef\xbf\xbd\n");
    sl_msg_unref(m);
}

/* ---- json ----------------------------------------------------------------------------- */

static void test_json_exact(void **state)
{
    (void)state;
    sl_msg_t *m =
        BUILD("192.0.2.1", GAP("<165>1 2003-10-11T22:14:15.003Z "), P(SL_F_HOSTNAME, "mymachine"),
              GAP(" "), P(SL_F_APP_NAME, "evntslog"), GAP(" "), P(SL_F_PROCID, "42"), GAP(" "),
              P(SL_F_MSGID, "ID47"), GAP(" "), P(SL_F_STRUCTURED_DATA, "[ex@1 k=\"v\"]"), GAP(" "),
              P(SL_F_MSG, "say \"hi\"\\\n\t\x01\x7f\xc3\xa9\xff"));
    m->proto = SL_PROTO_RFC5424;
    m->pri = 165;
    m->flags = SL_MSG_MSG_SP | SL_MSG_BOM;
    m->ts = ts(2003, 10, 11, 22, 14, 15, 3000, 3, 0);
    m->received = ts(2026, 11, 22, 10, 0, 1, 500000, 6, 60);
    EXPECT_FMT("json", m,
               "{\"timestamp\":\"2003-10-11T22:14:15.003+00:00\",\"hostname\":\"mymachine\","
               "\"app_name\":\"evntslog\",\"procid\":\"42\",\"msgid\":\"ID47\","
               "\"structured_data\":\"[ex@1 k=\\\"v\\\"]\","
               "\"msg\":\"say \\\"hi\\\"\\\\\\n\\t\\u0001\x7f\xc3\xa9\xef\xbf\xbd\","
               "\"tag\":\"evntslog[42]\",\"pri\":165,\"facility\":20,\"severity\":5,"
               "\"fromhost\":\"192.0.2.1\",\"received\":\"2026-11-22T10:00:01.500000+01:00\","
               "\"input\":\"tcp\"}\n");
    sl_msg_unref(m);

    /* Nothing parsed: every field "" but the numbers and the meta fields. */
    m = BUILD(NULL, GAP(""));
    m->pri = 0;
    EXPECT_FMT("json", m,
               "{\"timestamp\":\"\",\"hostname\":\"\",\"app_name\":\"\",\"procid\":\"\","
               "\"msgid\":\"\",\"structured_data\":\"\",\"msg\":\"\",\"tag\":\"\",\"pri\":0,"
               "\"facility\":0,\"severity\":0,\"fromhost\":\"\",\"received\":\"\","
               "\"input\":\"tcp\"}\n");
    sl_msg_unref(m);
}

/* The keys of DESIGN.md, in order, and nothing else. */
static void test_json_keys(void **state)
{
    (void)state;
    static const char *keys[] = {"timestamp",       "hostname", "app_name", "procid", "msgid",
                                 "structured_data", "msg",      "tag",      "pri",    "facility",
                                 "severity",        "fromhost", "received", "input"};
    sl_msg_t *m = msg3164("x", 1, 0);
    sl_strbuf_t b = SL_STRBUF_INIT;
    format_into("json", m, &b);
    assert_int_equal(sl_json_check(b.data, b.len, NULL, NULL), 0);
    const char *p = b.data;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char k[40];
        snprintf(k, sizeof(k), "%s\"%s\":", i ? "," : "{", keys[i]);
        const char *at = strstr(p, k);
        if (!at)
            fail_msg("key '%s' missing or out of order", keys[i]);
        p = at + strlen(k);
        const char *v = NULL;
        size_t vn = 0;
        assert_int_equal(sl_json_member(b.data, b.len, keys[i], &v, &vn), 0);
        int number = i >= 8 && i <= 10;
        assert_int_equal(v[0] == '"', !number);
    }
    sl_strbuf_free(&b);
    sl_msg_unref(m);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t random_bytes(char *p, size_t max)
{
    size_t n = (size_t)(rng() % (max + 1));
    int text = (int)(rng() % 2);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng();
        p[i] = text && (r & 7) ? (char)(32 + r % 95) : (char)(r >> 8);
    }
    return n;
}

/* Random bytes in every field: JSON is valid and decodes to the field's bytes (ill-formed UTF-8
 * replaced); RFC 5424 matches the grammar; the text templates stay on one line. */
static void test_random_fields(void **state)
{
    (void)state;
    static const int span_fields[] = {SL_F_HOSTNAME,        SL_F_APP_NAME, SL_F_PROCID, SL_F_MSGID,
                                      SL_F_STRUCTURED_DATA, SL_F_TAG,      SL_F_MSG};
    static const char *line_templates[] = {"traditional", "rfc3164",
                                           "${hostname} ${tag} ${structured_data} ${msg}\n"};
    sl_strbuf_t b = SL_STRBUF_INIT;
    char buf[7][200];
    for (int iter = 0; iter < 3000; iter++) {
        struct piece pieces[7];
        for (int f = 0; f < 7; f++) {
            /* APP-NAME and PROCID stay within what sl_msg_field's tag synthesis expects. */
            size_t n = random_bytes(buf[f], f == 1 ? 48 : f == 2 ? 128 : 150);
            if (f == 4 && (rng() & 1)) {
                static const char sd[] = "[id@1 a=\"x]\\\"\" b=\"\n\xff\"][z]";
                memcpy(buf[f], sd, sizeof(sd) - 1);
                n = sizeof(sd) - 1;
            }
            pieces[f] = (struct piece){span_fields[f], buf[f], n};
        }
        sl_msg_t *m = build(pieces, 7, (rng() & 1) ? "10.0.0.1" : NULL, "in\x01put");
        m->proto = (uint8_t)(rng() % 3);
        m->pri = (uint8_t)(rng() % 192);
        m->flags = (uint16_t)(rng() & (SL_MSG_MSG_SP | SL_MSG_BOM));
        if (rng() & 1)
            m->f[SL_F_TAG].len = 0;
        m->ts = ts(2026, (int)(rng() % 12) + 1, (int)(rng() % 28) + 1, 1, 2, 3, 0, 0, 0);

        format_into("json", m, &b);
        size_t at;
        const char *why;
        if (sl_json_check(b.data, b.len, &at, &why) != 0)
            fail_msg("iteration %d: invalid JSON at %zu: %s", iter, at, why);
        assert_int_equal(b.data[b.len - 1], '\n');
        assert_null(memchr(b.data, '\n', b.len - 1));
        for (int f = 0; f < 7; f++) {
            if (span_fields[f] == SL_F_TAG)
                continue; /* may be synthesised */
            const char *v = NULL;
            size_t vn = 0, dn = 0;
            char dec[1024];
            assert_int_equal(sl_json_member(b.data, b.len, sl_field_name(span_fields[f]), &v, &vn),
                             0);
            assert_int_equal(sl_json_unescape(v, vn, dec, &dn), 0);
            assert_int_equal(sl_utf8_check(dec, dn), dn);
            if (sl_utf8_check(buf[f], pieces[f].n) == pieces[f].n) {
                assert_int_equal(dn, pieces[f].n);
                assert_memory_equal(dec, buf[f], dn);
            }
        }

        format_into("rfc5424", m, &b);
        why = rfc5424_check(b.data, b.len);
        if (why)
            fail_msg("iteration %d: not RFC 5424: %s: %.*s", iter, why, (int)b.len, b.data);

        for (size_t t = 0; t < sizeof(line_templates) / sizeof(line_templates[0]); t++) {
            format_into(line_templates[t], m, &b);
            assert_true(b.len >= 1);
            assert_int_equal(b.data[b.len - 1], '\n');
            if (memchr(b.data, '\n', b.len - 1) || memchr(b.data, '\r', b.len) ||
                memchr(b.data, '\0', b.len))
                fail_msg("iteration %d: '%s' wrote a control character", iter, line_templates[t]);
        }
        sl_msg_unref(m);
    }
    sl_strbuf_free(&b);
}

/* ---- custom --------------------------------------------------------------------------- */

static void test_custom_basic(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("hello\n", 6, SL_MSG_MSG_SP);
    EXPECT_FMT("${hostname} ${msg}\\n", m, "myhost hello\n");
    EXPECT_FMT("${hostname} ${msg}\n", m, "myhost hello\n"); /* a real LF from YAML */
    EXPECT_FMT("${pri}/${facility}/${severity} ${timestamp} ${received}", m,
               "13/1/5 2026-11-02T04:56:13+01:00 2026-11-02T04:56:14.250000+01:00");
    EXPECT_FMT("[${app_name}][${procid}][${msgid}][${structured_data}][${tag}]", m,
               "[sshd][42][][][sshd[42]:]");
    EXPECT_FMT("${fromhost} ${input}", m, "10.0.0.1 udp");
    EXPECT_FMT("${msg}${msg}", m, "hellohello");
    sl_msg_unref(m);
}

static void test_custom_escapes(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("v", 1, 0);
    EXPECT_FMT("a\\tb\\nc\\rd\\\\e\\$f ${msg}", m, "a\tb\nc\rd\\e$f v");
    /* The literal-dollar rule: '$' is literal unless "${" follows; "\\${" writes "${". */
    EXPECT_FMT("\\${msg} = ${msg}", m, "${msg} = v");
    EXPECT_FMT("$$ $5 $ ${msg} $", m, "$$ $5 $ v $");
    EXPECT_FMT("${msg}$", m, "v$");
    sl_msg_unref(m);
}

static void test_custom_escapes_values(void **state)
{
    (void)state;
    /* Values are escaped like the traditional format; literal text is written as it is. */
    sl_msg_t *m =
        BUILD("h\x01", GAP("<13>"), P(SL_F_HOSTNAME, "a\tb"), GAP(" "), P(SL_F_MSG, "x\ny\r\0z"));
    EXPECT_FMT("${hostname}\t${msg}|${fromhost}\x01", m, "a#011b\tx#012y#015#000z|h#001\x01");
    sl_msg_unref(m);
}

static void expect_error(const char *spec, int want_rc, const char *const *parts)
{
    char err[512];
    sl_template_t *t = (sl_template_t *)&err; /* must be reset to NULL */
    int rc = sl_template_compile(spec, &t, err, sizeof(err));
    if (rc != want_rc)
        fail_msg("'%s': rc %d, want %d (%s)", spec, rc, want_rc, err);
    assert_null(t);
    for (size_t i = 0; parts[i]; i++) {
        if (!strstr(err, parts[i]))
            fail_msg("'%s': error \"%s\" lacks \"%s\"", spec, err, parts[i]);
    }
    assert_null(strchr(err, '\n'));
}

#define EXPECT_ERROR(spec, ...)                                                                    \
    expect_error(spec, -EINVAL, (const char *const[]){__VA_ARGS__, NULL})

static void test_custom_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("${hostnme}", "unknown field 'hostnme' at column 3", "did you mean 'hostname'?",
                 "known: hostname, app_name, procid, msgid, structured_data, msg, tag, "
                 "fromhost, input, pri, facility, severity, timestamp, received");
    EXPECT_ERROR("x ${HOSTNAME}", "unknown field 'HOSTNAME' at column 5",
                 "did you mean 'hostname'?");
    EXPECT_ERROR("${programname}", "unknown field 'programname'", "did you mean 'app_name'?");
    EXPECT_ERROR("${zzzzzz}", "unknown field 'zzzzzz' at column 3 (known: hostname,");
    EXPECT_ERROR("${ msg}", "unknown field ' msg' at column 3");
    EXPECT_ERROR("${a\nb}", "unknown field 'a?b' at column 3");
    EXPECT_ERROR("abc ${msg", "unterminated '${' at column 5");
    EXPECT_ERROR("${msg} ${", "unterminated '${' at column 8");
    EXPECT_ERROR("x${}", "empty field name '${}' at column 2");
    EXPECT_ERROR("${msg}\\q", "unknown escape '\\q' at column 7", "\\n \\t \\r \\\\ \\$");
    EXPECT_ERROR("${msg}\\{", "unknown escape '\\{' at column 7");
    EXPECT_ERROR("${msg}\\\x01", "unknown escape '\\' + byte 0x01 at column 7");
    EXPECT_ERROR("${msg}\\", "'\\' at the end of the template (column 7)");
    /* Columns count characters, not bytes. */
    EXPECT_ERROR("\xc3\xa9\xc3\xa9${nope}", "unknown field 'nope' at column 5");
    /* A misspelt built-in is not silently a constant line. */
    EXPECT_ERROR("tradtional", "'tradtional' is neither a built-in template");
    EXPECT_ERROR("Traditional", "neither a built-in template");
    EXPECT_ERROR("hello\\n", "nor a custom one with a ${field}");
    EXPECT_ERROR("", "empty template");

    /* A short err buffer is cut, never overrun. */
    char small[8];
    sl_template_t *t;
    assert_int_equal(sl_template_compile("${nope}", &t, small, sizeof(small)), -EINVAL);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(sl_template_compile("${nope}", &t, small, 0), -EINVAL);
}

static void test_builtin_names(void **state)
{
    (void)state;
    static const char *names[] = {"traditional", "rfc3164", "rfc5424", "json",
                                  "RSYSLOG_TraditionalFileFormat"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        sl_template_free(compile_ok(names[i]));
    /* A name with anything around it is a custom template (here: a broken one). */
    EXPECT_ERROR(" json", "neither a built-in");
}

/* ---- threads -------------------------------------------------------------------------- */

struct shared {
    const sl_template_t *t;
    const sl_msg_t *m;
    const char *want;
    size_t wn;
    int bad;
};

static void *format_many(void *arg)
{
    struct shared *s = arg;
    sl_strbuf_t b = SL_STRBUF_INIT;
    for (int i = 0; i < 20000; i++) {
        sl_strbuf_reset(&b);
        if (sl_template_format(s->t, s->m, &b) != 0 || b.len != s->wn ||
            memcmp(b.data, s->want, s->wn) != 0) {
            s->bad = 1;
            break;
        }
    }
    sl_strbuf_free(&b);
    return NULL;
}

/* One compiled template, several threads: run under -DSL_SANITIZE=thread to see races. */
static void test_threads_share_template(void **state)
{
    (void)state;
    sl_msg_t *m = msg3164("shared\tmessage", 14, SL_MSG_MSG_SP);
    sl_template_t *t = compile_ok("${hostname} ${msg} ${timestamp}\n");
    sl_strbuf_t ref = SL_STRBUF_INIT;
    assert_int_equal(sl_template_format(t, m, &ref), 0);
    struct shared s[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct shared){t, m, ref.data, ref.len, 0};
        assert_int_equal(pthread_create(&th[i], NULL, format_many, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(s[i].bad, 0);
    }
    sl_strbuf_free(&ref);
    sl_template_free(t);
    sl_msg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traditional_basic),
        cmocka_unit_test(test_traditional_space_rules),
        cmocka_unit_test(test_traditional_trailing_lf_nul),
        cmocka_unit_test(test_traditional_control_escaping),
        cmocka_unit_test(test_escape_every_length_and_position),
        cmocka_unit_test(test_traditional_rfc5424_fields),
        cmocka_unit_test(test_traditional_fallbacks),
        cmocka_unit_test(test_format_appends),
        cmocka_unit_test(test_rfc3164),
        cmocka_unit_test(test_rfc5424_basic),
        cmocka_unit_test(test_rfc5424_from_rfc3164),
        cmocka_unit_test(test_rfc5424_sanitise_header),
        cmocka_unit_test(test_rfc5424_structured_data),
        cmocka_unit_test(test_rfc5424_msg),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_json_keys),
        cmocka_unit_test(test_random_fields),
        cmocka_unit_test(test_custom_basic),
        cmocka_unit_test(test_custom_escapes),
        cmocka_unit_test(test_custom_escapes_values),
        cmocka_unit_test(test_custom_errors),
        cmocka_unit_test(test_builtin_names),
        cmocka_unit_test(test_threads_share_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
