/*
 * The `select` compiler: every facility and severity name, every syntax form, the override order,
 * error columns, and an exhaustive comparison over all 192 PRIs against a reference written the
 * other way round (it decides each PRI by walking the items, where the compiler builds per-facility
 * masks), for a fixed list of selectors and for generated ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "rules/selector.h"

/* ---- Reference implementation ---- */

/* Its own copy of the names, so a wrong entry in the compiler's table shows up as a mismatch. */
static const struct {
    const char *name;
    int code; /* -1: mark, selects nothing */
} ref_facilities[] = {
    {"kern", 0},     {"user", 1},      {"mail", 2},          {"daemon", 3},  {"auth", 4},
    {"security", 4}, {"syslog", 5},    {"lpr", 6},           {"news", 7},    {"uucp", 8},
    {"cron", 9},     {"authpriv", 10}, {"ftp", 11},          {"ntp", 12},    {"audit", 13},
    {"console", 14}, {"clock", 15},    {"bsd_security", 13}, {"alert", 14},  {"cron_sol", 15},
    {"local0", 16},  {"local1", 17},   {"local2", 18},       {"local3", 19}, {"local4", 20},
    {"local5", 21},  {"local6", 22},   {"local7", 23},       {"mark", -1},   {"solaris-cron", 15},
};

static const struct {
    const char *name;
    int code;
} ref_severities[] = {
    {"emerg", 0},   {"panic", 0}, {"alert", 1},  {"crit", 2}, {"err", 3},   {"error", 3},
    {"warning", 4}, {"warn", 4},  {"notice", 5}, {"info", 6}, {"debug", 7},
};

#define N_REF_FAC (sizeof(ref_facilities) / sizeof(ref_facilities[0]))
#define N_REF_SEV (sizeof(ref_severities) / sizeof(ref_severities[0]))

static int ref_facility(const char *s)
{
    if (s[0] >= '0' && s[0] <= '9')
        return atoi(s);
    for (size_t i = 0; i < N_REF_FAC; i++) {
        if (strcasecmp(s, ref_facilities[i].name) == 0)
            return ref_facilities[i].code;
    }
    fail_msg("reference: unknown facility %s", s);
    return -2;
}

static int ref_severity(const char *s)
{
    if (s[0] >= '0' && s[0] <= '9')
        return atoi(s);
    for (size_t i = 0; i < N_REF_SEV; i++) {
        if (strcasecmp(s, ref_severities[i].name) == 0)
            return ref_severities[i].code;
    }
    fail_msg("reference: unknown severity %s", s);
    return -2;
}

/*
 * Whether selector sel (no blanks, ';'-separated items) takes PRI pri: start with "no", and let
 * each item that names the facility decide anew for the severities it covers.
 */
static bool ref_match(const char *sel, unsigned pri)
{
    char buf[512];
    int fac = (int)(pri / 8), sev = (int)(pri % 8);
    bool in = false;
    char *s1, *s2;
    snprintf(buf, sizeof(buf), "%s", sel);
    for (char *item = strtok_r(buf, ";", &s1); item; item = strtok_r(NULL, ";", &s1)) {
        char *dot = strchr(item, '.');
        assert_non_null(dot);
        *dot = '\0';
        const char *spec = dot + 1;
        bool named = false;
        for (char *f = strtok_r(item, ",", &s2); f; f = strtok_r(NULL, ",", &s2)) {
            if (strcmp(f, "*") == 0 || ref_facility(f) == fac)
                named = true;
        }
        if (!named)
            continue;
        bool neg = false, exact = false;
        if (*spec == '!') {
            neg = true;
            spec++;
        }
        if (*spec == '=') {
            exact = true;
            spec++;
        }
        if (strcasecmp(spec, "none") == 0) {
            in = neg;
        } else if (strcmp(spec, "*") == 0) {
            in = !neg;
        } else {
            int v = ref_severity(spec);
            bool covered = exact ? sev == v : sev <= v;
            if (covered)
                in = !neg;
        }
    }
    return in;
}

static void check_against_reference(const char *sel)
{
    sl_selector_t s;
    sl_rule_err_t err;
    int rc = sl_selector_compile(sel, &s, &err);
    if (rc != 0)
        fail_msg("'%s' did not compile: column %u: %s", sel, err.column, err.msg);
    for (unsigned pri = 0; pri < SL_NPRI; pri++) {
        bool want = ref_match(sel, pri);
        if (sl_selector_match(&s, pri) != want)
            fail_msg("'%s' pri %u (facility %u severity %u): got %d, want %d", sel, pri, pri / 8,
                     pri % 8, !want, want);
    }
}

/* ---- Helpers ---- */

static unsigned count_set(const sl_selector_t *s)
{
    unsigned n = 0;
    for (unsigned pri = 0; pri < SL_NPRI; pri++)
        n += sl_selector_match(s, pri);
    return n;
}

static sl_selector_t compile_ok(const char *text)
{
    sl_selector_t s;
    sl_rule_err_t err;
    int rc = sl_selector_compile(text, &s, &err);
    if (rc != 0)
        fail_msg("'%s' did not compile: column %u: %s", text, err.column, err.msg);
    return s;
}

/* Expected set from a list of "facility severity-mask" pairs. */
static void expect_masks(const char *text, const uint8_t masks[SL_NFACILITIES])
{
    sl_selector_t s = compile_ok(text);
    for (unsigned pri = 0; pri < SL_NPRI; pri++) {
        bool want = (masks[pri / 8] >> (pri % 8)) & 1;
        if (sl_selector_match(&s, pri) != want)
            fail_msg("'%s' pri %u: got %d, want %d", text, pri, !want, want);
    }
}

static void expect_error(const char *text, unsigned column, const char *msg_part)
{
    sl_selector_t s;
    memset(&s, 0xa5, sizeof(s));
    sl_rule_err_t err;
    memset(&err, 0, sizeof(err));
    int rc = sl_selector_compile(text, &s, &err);
    if (rc != -EINVAL)
        fail_msg("'%s' compiled (rc %d), expected an error", text, rc);
    if (err.column != column || !strstr(err.msg, msg_part))
        fail_msg("'%s': got column %u: %s; want column %u: ...%s...", text, err.column, err.msg,
                 column, msg_part);
    /* The output is untouched on failure. */
    for (size_t i = 0; i < sizeof(s.bits) / sizeof(s.bits[0]); i++)
        assert_true(s.bits[i] == 0xa5a5a5a5a5a5a5a5ull);
    /* A NULL error report is allowed. */
    assert_int_equal(sl_selector_compile(text, &s, NULL), -EINVAL);
}

/* ---- Tests ---- */

static void test_every_facility_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_REF_FAC; i++) {
        char text[64];
        uint8_t masks[SL_NFACILITIES] = {0};
        if (ref_facilities[i].code >= 0)
            masks[ref_facilities[i].code] = 0xff;
        snprintf(text, sizeof(text), "%s.debug", ref_facilities[i].name);
        expect_masks(text, masks);
        /* Names are case-insensitive. */
        for (char *p = text; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        expect_masks(text, masks);
        if (ref_facilities[i].code >= 0) {
            assert_int_equal(sl_selector_facility_by_name(ref_facilities[i].name,
                                                          strlen(ref_facilities[i].name)),
                             ref_facilities[i].code);
        }
    }
    /* Facility numbers 0..23. */
    for (unsigned f = 0; f < SL_NFACILITIES; f++) {
        char text[32];
        uint8_t masks[SL_NFACILITIES] = {0};
        masks[f] = 0xff;
        snprintf(text, sizeof(text), "%u.*", f);
        expect_masks(text, masks);
        /* The canonical name round-trips. */
        const char *name = sl_selector_facility_name(f);
        assert_int_equal(sl_selector_facility_by_name(name, strlen(name)), (int)f);
    }
    /* Canonical names of the less common facilities, as rsyslog's syslogfacility-text. */
    assert_string_equal(sl_selector_facility_name(4), "auth");
    assert_string_equal(sl_selector_facility_name(12), "ntp");
    assert_string_equal(sl_selector_facility_name(13), "audit");
    assert_string_equal(sl_selector_facility_name(14), "alert");
    assert_string_equal(sl_selector_facility_name(15), "clock");
    assert_string_equal(sl_selector_facility_name(24), "?");
    assert_int_equal(sl_selector_facility_by_name("mark", 4), -1);
    assert_int_equal(sl_selector_facility_by_name("*", 1), -1);
    /* Only len bytes are looked at. */
    assert_int_equal(sl_selector_facility_by_name("mailx", 4), 2);
}

static void test_every_severity_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_REF_SEV; i++) {
        char text[64];
        uint8_t masks[SL_NFACILITIES];
        int code = ref_severities[i].code;
        /* A severity means itself and everything more severe (numerically lower). */
        memset(masks, (1 << (code + 1)) - 1, sizeof(masks));
        snprintf(text, sizeof(text), "*.%s", ref_severities[i].name);
        expect_masks(text, masks);
        snprintf(text, sizeof(text), "*.%s", ref_severities[i].name);
        for (char *p = text; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        expect_masks(text, masks);
        assert_int_equal(
            sl_selector_severity_by_name(ref_severities[i].name, strlen(ref_severities[i].name)),
            code);
    }
    for (unsigned v = 0; v < SL_NSEVERITIES; v++) {
        char text[32];
        uint8_t masks[SL_NFACILITIES];
        memset(masks, (1 << (v + 1)) - 1, sizeof(masks));
        snprintf(text, sizeof(text), "*.%u", v);
        expect_masks(text, masks);
        const char *name = sl_selector_severity_name(v);
        assert_int_equal(sl_selector_severity_by_name(name, strlen(name)), (int)v);
    }
    assert_string_equal(sl_selector_severity_name(0), "emerg");
    assert_string_equal(sl_selector_severity_name(3), "err");
    assert_string_equal(sl_selector_severity_name(4), "warning");
    assert_string_equal(sl_selector_severity_name(8), "?");
    assert_int_equal(sl_selector_severity_by_name("none", 4), -1);
}

static void test_forms(void **state)
{
    (void)state;
    uint8_t m[SL_NFACILITIES];

    /* *.* is everything; none is nothing. */
    memset(m, 0xff, sizeof(m));
    expect_masks("*.*", m);
    memset(m, 0, sizeof(m));
    expect_masks("*.none", m);
    expect_masks("mail.none", m);

    /* A facility list. */
    memset(m, 0, sizeof(m));
    m[2] = m[7] = 0x7f;
    expect_masks("mail,news.info", m);

    /* Later items override earlier ones. */
    memset(m, 0xff, sizeof(m));
    m[4] = m[10] = 0;
    expect_masks("*.*;auth,authpriv.none", m);
    memset(m, 0, sizeof(m));
    expect_masks("auth,authpriv.none;*.none", m);
    memset(m, 0x7f, sizeof(m));
    m[2] = m[4] = m[10] = 0;
    expect_masks("*.info;mail.none;authpriv.none;auth.none", m);

    /* = exactly one severity. */
    memset(m, 0x80, sizeof(m));
    m[2] = 0;
    expect_masks("*.=debug;mail.none", m);
    memset(m, 0, sizeof(m));
    m[2] = 0x40;
    expect_masks("mail.=info", m);

    /* != removes one severity; alone it has nothing to remove. */
    memset(m, 0, sizeof(m));
    expect_masks("mail.!=info", m);
    m[2] = 0xbf;
    expect_masks("mail.*;mail.!=info", m);

    /* ! removes a severity and everything more severe: mail.info;mail.!err is warning, notice
     * and info. */
    memset(m, 0, sizeof(m));
    m[2] = 0x70;
    expect_masks("mail.info;mail.!err", m);
    m[2] = 0xf0;
    expect_masks("mail.*;mail.!err", m);

    /* !* clears, !none sets (rsyslog's reading). */
    memset(m, 0, sizeof(m));
    expect_masks("*.*;*.!*", m);
    memset(m, 0xff, sizeof(m));
    expect_masks("*.!none", m);

    /* .* after a list; '*' inside a list. */
    memset(m, 0, sizeof(m));
    m[9] = m[3] = 0xff;
    expect_masks("cron,daemon.*", m);
    memset(m, 0x1f, sizeof(m));
    expect_masks("mail,*.warning", m);

    /* Numbers for both parts. */
    memset(m, 0, sizeof(m));
    m[16] = 0x1f;
    expect_masks("16.4", m);
    m[16] = 0x10;
    expect_masks("16.=4", m);

    /* Blanks between tokens, line breaks from YAML, a trailing ';', empty items. */
    memset(m, 0x7f, sizeof(m));
    m[2] = 0;
    expect_masks("  *.info ;\n\tmail.none ;", m);
    expect_masks("*.info;;mail.none", m);
    expect_masks("* . info ; mail . none", m);

    /* A ',' after a severity separates items, as in rsyslog. */
    memset(m, 0, sizeof(m));
    m[2] = 0x7f;
    m[7] = 0x07;
    expect_masks("mail.info,news.crit", m);

    /* mark is accepted and selects nothing. */
    memset(m, 0, sizeof(m));
    expect_masks("mark.*", m);
    m[2] = 0xff;
    expect_masks("mark,mail.*", m);

    /* The same facility twice in one list is the same as once. */
    memset(m, 0, sizeof(m));
    m[4] = 0x3f;
    expect_masks("auth,security.notice", m);
}

static void test_match_bounds(void **state)
{
    (void)state;
    sl_selector_t s = compile_ok("*.*");
    assert_int_equal(count_set(&s), 192);
    assert_true(sl_selector_match(&s, 0));
    assert_true(sl_selector_match(&s, 191));
    assert_false(sl_selector_match(&s, 192));
    assert_false(sl_selector_match(&s, 255));
    assert_false(sl_selector_match(&s, ~0u));
    s = compile_ok("local7.debug");
    assert_int_equal(count_set(&s), 8);
    assert_true(sl_selector_match(&s, 191));
    assert_false(sl_selector_match(&s, 183));
    /* Word boundaries of the bit set: 63/64 and 127/128. */
    s = compile_ok("7.=7;8.=0;15.=7;16.=0");
    assert_int_equal(count_set(&s), 4);
    assert_true(sl_selector_match(&s, 63));
    assert_true(sl_selector_match(&s, 64));
    assert_true(sl_selector_match(&s, 127));
    assert_true(sl_selector_match(&s, 128));
    sl_selector_t all;
    memset(&all, 0, sizeof(all));
    sl_selector_set_all(&all);
    assert_int_equal(count_set(&all), 192);
}

static const char *const fixed_selectors[] = {
    "*.*",
    "*.info",
    "*.info;mail.none;authpriv.none;cron.none",
    "*.*;auth,authpriv.none",
    "auth,authpriv.*",
    "mail.!=info",
    "mail.*;mail.!=info",
    "*.=debug;mail.none",
    "*.=debug;*.=info;*.=notice;*.=warn;auth,authpriv.none;news,mail.none",
    "*.emerg",
    "kern.*;kern.!crit",
    "kern.*;kern.!=crit;kern.!=debug",
    "*.warning;*.!err",
    "*.!none",
    "*.*;*.!*",
    "mail.info;mail.!err;mail.=emerg",
    "news.crit;news.err;news.notice",
    "local0,local1,local2.err;local1.none",
    "*.info;local7.none;local7.=debug",
    "uucp,news.crit",
    "mark.*;*.alert",
    "security.info;auth.!=notice",
    "ntp,audit,console,clock.*;alert.none",
    "0,23.7;12.=3",
    "MAIL.INFO;Mail.!=Notice",
    "*.=emerg;*.=alert;*.=crit",
    "*.none;mail.debug",
    "*.!=info",
    "cron.*;*.!err",
    /* The examples of docs/rules.md. */
    "*.info;mail.none;authpriv.none",
    "kern.*;kern.!err",
    "local0,local1.*;local1.!=debug",
};

static void test_fixed_list_against_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixed_selectors) / sizeof(fixed_selectors[0]); i++)
        check_against_reference(fixed_selectors[i]);
}

/* A small deterministic generator (xorshift), so a failure reproduces. */
static uint32_t rng_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state % n;
}

static void gen_selector(char *buf, size_t size)
{
    size_t len = 0;
    unsigned items = 1 + rnd(5);
    for (unsigned i = 0; i < items; i++) {
        unsigned facs = 1 + rnd(3);
        for (unsigned f = 0; f < facs; f++) {
            const char *sep = f ? "," : (i ? ";" : "");
            unsigned k = rnd(N_REF_FAC + 6);
            if (k < N_REF_FAC)
                len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, ref_facilities[k].name);
            else if (k < N_REF_FAC + 2)
                len += (size_t)snprintf(buf + len, size - len, "%s*", sep);
            else
                len += (size_t)snprintf(buf + len, size - len, "%s%u", sep, rnd(SL_NFACILITIES));
        }
        static const char *const prefixes[] = {"", "", "", "!", "=", "!="};
        const char *pre = prefixes[rnd(6)];
        bool exact = strchr(pre, '=') != NULL;
        unsigned k = rnd(N_REF_SEV + (exact ? 3 : 5));
        if (k < N_REF_SEV)
            len += (size_t)snprintf(buf + len, size - len, ".%s%s", pre, ref_severities[k].name);
        else if (k < N_REF_SEV + 3)
            len += (size_t)snprintf(buf + len, size - len, ".%s%u", pre, rnd(SL_NSEVERITIES));
        else
            len += (size_t)snprintf(buf + len, size - len, ".%s%s", pre,
                                    k == N_REF_SEV + 3 ? "*" : "none");
    }
    assert_true(len < size);
}

static void test_generated_against_reference(void **state)
{
    (void)state;
    char buf[512];
    for (int i = 0; i < 5000; i++) {
        gen_selector(buf, sizeof(buf));
        check_against_reference(buf);
    }
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("mail.inf", 6,
                 "unknown severity 'inf' (expected emerg, alert, crit, err, warning, notice, "
                 "info, debug, none or *)");
    expect_error("mial.info", 1, "unknown facility 'mial' (expected kern, user");
    expect_error("mail", 5, "expected '.' and a severity, found the end");
    expect_error("mail info", 6, "expected '.' and a severity, found 'info'");
    expect_error("", 1, "empty selector");
    expect_error("  ", 3, "empty selector");
    expect_error("*.info;mail", 12, "expected '.'");
    expect_error("*.info;mail.", 13, "expected a severity after '.', found the end");
    expect_error(".info", 1, "expected a facility, found '.'");
    expect_error("mail,.info", 6, "expected a facility, found '.'");
    expect_error(";*.info", 1, "expected a facility, found ';'");
    expect_error("mail.=none", 7, "'=' needs one severity");
    expect_error("mail.=*", 7, "'=' needs one severity");
    expect_error("mail.!=*", 8, "'=' needs one severity");
    expect_error("mail.=!info", 7, "'!' goes before '='");
    expect_error("mail.!", 7, "expected a severity after '!', found the end");
    expect_error("kern.info mail.none", 11,
                 "expected ';' or the end after the severity, found 'mail'");
    expect_error("24.info", 1, "facility 24 out of range (0..23)");
    expect_error("99999.info", 1, "facility 99999 out of range");
    expect_error("mail.8", 6, "severity 8 out of range (0..7)");
    expect_error("mail.info;*.debug;news.warnin", 24, "unknown severity 'warnin'");
    expect_error("*.info;\xc3\xbc.info", 8, "expected a facility, found byte 0xc3");
    expect_error("*.info:", 7, "found ':'");
    expect_error("*.=debug;mail.none;local8.info", 20, "unknown facility 'local8'");

    /* The formatted report. */
    sl_selector_t s;
    sl_rule_err_t err;
    char buf[400];
    assert_int_equal(sl_selector_compile("mail.inf", &s, &err), -EINVAL);
    assert_string_equal(sl_rule_err_format(&err, buf, sizeof(buf)),
                        "column 6: unknown severity 'inf' (expected emerg, alert, crit, err, "
                        "warning, notice, info, debug, none or *)");
    /* A very long name is quoted only in part, and the message stays NUL-terminated. */
    char longname[600];
    memset(longname, 'x', sizeof(longname) - 6);
    memcpy(longname + sizeof(longname) - 6, ".info", 6);
    assert_int_equal(sl_selector_compile(longname, &s, &err), -EINVAL);
    assert_int_equal(err.column, 1);
    assert_true(strlen(err.msg) < sizeof(err.msg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_facility_name),
        cmocka_unit_test(test_every_severity_name),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_match_bounds),
        cmocka_unit_test(test_fixed_list_against_reference),
        cmocka_unit_test(test_generated_against_reference),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
