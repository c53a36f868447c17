/*
 * JSON string escaping (src/lib/json.c): every byte value alone and in pairs, a dense set of
 * interesting bytes in all sequences of four, the Unicode standard's own U+FFFD example, chunk
 * boundaries, and thousands of random byte strings. Each output is compared with a reference
 * escaper written here from code point ranges (not byte tables), checked with the strict JSON
 * and UTF-8 checker in json_check.h, and decoded back. The checker itself is tested too, since
 * the fuzzers rely on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_check.h"
#include "lib/json.h"
#include "lib/strbuf.h"

/* ---- Reference ---------------------------------------------------------------------- */

/* Whether some code point in [lo, hi] is a valid scalar value encoded with len bytes. */
static int ref_possible(int len, uint32_t lo, uint32_t hi)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max[5] = {0, 0x7f, 0x7ff, 0xffff, 0x10ffff};
    if (hi < min[len] || lo > max[len])
        return 0;
    if (lo < min[len])
        lo = min[len];
    if (hi > max[len])
        hi = max[len];
    /* All of [lo, hi] inside the surrogates means nothing valid is left. */
    return !(lo >= 0xd800 && hi <= 0xdfff);
}

/*
 * At s[0..n) (n >= 1, s[0] >= 0x80): returns the length of a well-formed sequence, or 0 and
 * sets *bad to the maximal subpart: the longest prefix that some valid code point still
 * completes, at least 1.
 */
static size_t ref_seq(const unsigned char *s, size_t n, size_t *bad)
{
    int len;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        *bad = 1;
        return 0;
    }
    size_t have = 0;
    for (int j = 1; j <= len; j++) {
        if (j > 1) {
            if ((size_t)(j - 1) >= n || (s[j - 1] & 0xc0) != 0x80)
                break;
            cp = cp << 6 | (s[j - 1] & 0x3f);
        }
        int rest = 6 * (len - j);
        uint32_t lo = cp << rest, hi = lo | ((1u << rest) - 1);
        if (!ref_possible(len, lo, hi))
            break;
        have = (size_t)j;
    }
    if (have == (size_t)len)
        return (size_t)len;
    *bad = have ? have : 1;
    return 0;
}

/* The bytes s should decode to: ill-formed UTF-8 replaced. */
static size_t ref_replace(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = 1, k = s[i] < 0x80 ? 1 : ref_seq(s + i, n - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += bad;
        }
    }
    return o;
}

/* The exact escaped text expected for s. */
static size_t ref_escape(const unsigned char *s, size_t n, char *out)
{
    char *tmp = malloc(3 * n + 1);
    size_t m = ref_replace(s, n, tmp), o = 0;
    assert_non_null(tmp);
    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)tmp[i];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        }
        if (e) {
            memcpy(out + o, e, 2);
            o += 2;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    free(tmp);
    return o;
}

/* ---- Checks ------------------------------------------------------------------------- */

/* Escapes s with the library and checks it against the reference, the JSON checker and the
 * round trip. Returns 0 when all agree (prints the first difference otherwise). */
static int check_one(const unsigned char *s, size_t n)
{
    sl_strbuf_t b = SL_STRBUF_INIT;
    char *want = malloc(6 * n + 8), *dec = malloc(6 * n + 8), *rep = malloc(3 * n + 1);
    int bad = 0;
    assert_non_null(want);
    assert_non_null(dec);
    assert_non_null(rep);
    assert_int_equal(sl_json_string(&b, (const char *)s, n), 0);
    size_t wn = ref_escape(s, n, want);
    if (b.len != wn + 2 || b.data[0] != '"' || b.data[b.len - 1] != '"' ||
        memcmp(b.data + 1, want, wn) != 0) {
        print_error("escape differs for %zu bytes (got %zu, want %zu)\n", n, b.len, wn + 2);
        bad = 1;
    }
    size_t at;
    const char *why;
    if (!bad && sl_json_check(b.data, b.len, &at, &why) != 0) {
        print_error("invalid JSON at %zu: %s\n", at, why);
        bad = 1;
    }
    size_t dn, rn = ref_replace(s, n, rep);
    if (!bad &&
        (sl_json_unescape(b.data, b.len, dec, &dn) != 0 || dn != rn || memcmp(dec, rep, rn) != 0)) {
        print_error("round trip differs for %zu bytes\n", n);
        bad = 1;
    }
    if (!bad && sl_utf8_check(dec, dn) != dn) {
        print_error("decoded text is not UTF-8\n");
        bad = 1;
    }
    sl_strbuf_free(&b);
    free(want);
    free(dec);
    free(rep);
    return bad;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* ---- Tests -------------------------------------------------------------------------- */

static void test_each_byte_alone(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        unsigned char s[1] = {(unsigned char)c};
        char want[16];
        if (c == '"')
            strcpy(want, "\"\\\"\"");
        else if (c == '\\')
            strcpy(want, "\"\\\\\"");
        else if (c == '\b')
            strcpy(want, "\"\\b\"");
        else if (c == '\f')
            strcpy(want, "\"\\f\"");
        else if (c == '\n')
            strcpy(want, "\"\\n\"");
        else if (c == '\r')
            strcpy(want, "\"\\r\"");
        else if (c == '\t')
            strcpy(want, "\"\\t\"");
        else if (c < 0x20)
            snprintf(want, sizeof(want), "\"\\u00%c%c\"", "0123456789abcdef"[c >> 4],
                     "0123456789abcdef"[c & 15]);
        else if (c < 0x80)
            snprintf(want, sizeof(want), "\"%c\"", c);
        else
            strcpy(want, "\"\xef\xbf\xbd\"");
        sl_strbuf_t b = SL_STRBUF_INIT;
        assert_int_equal(sl_json_string(&b, (const char *)s, 1), 0);
        if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
            fail_msg("byte 0x%02x: got \"%.*s\", want \"%s\"", c, (int)b.len, b.data, want);
        assert_int_equal(sl_json_check(b.data, b.len, NULL, NULL), 0);
        assert_int_equal(check_one(s, 1), 0);
        sl_strbuf_free(&b);
    }
}

static void test_nul_bytes(void **state)
{
    (void)state;
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_json_escape(&b, "a\0b\0", 4), 0);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.data, "a\\u0000b\\u0000", 14);
    sl_strbuf_free(&b);
}

static void test_all_pairs(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned c = 0; c < 256; c++) {
            unsigned char s[2] = {(unsigned char)a, (unsigned char)c};
            if (check_one(s, 2))
                fail_msg("pair %02x %02x", a, c);
        }
    }
}

/* Every sequence of four bytes drawn from the bytes where UTF-8 validity changes. */
static void test_boundary_quads(void **state)
{
    (void)state;
    static const unsigned char set[] = {0x00, 0x0a, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90,
                                        0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec,
                                        0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xff};
    const size_t k = sizeof(set);
    for (size_t i = 0; i < k * k * k * k; i++) {
        unsigned char s[4] = {set[i % k], set[i / k % k], set[i / k / k % k], set[i / k / k / k]};
        if (check_one(s, 4))
            fail_msg("quad %02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
    }
}

static void expect_escape(const char *in, size_t n, const char *want)
{
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_json_escape(&b, in, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("got \"%.*s\", want \"%s\"", (int)b.len, b.data, want);
    assert_int_equal(check_one((const unsigned char *)in, n), 0);
    sl_strbuf_free(&b);
}

#define FFFD "\xef\xbf\xbd"
/* Literal input, so its length (NULs included) comes from the literal itself. */
#define EXPECT_ESCAPE(in, want) expect_escape(in, sizeof(in) - 1, want)

/* Unicode 15, section 3.9, "U+FFFD Substitution of Maximal Subparts", and friends. */
static void test_maximal_subparts(void **state)
{
    (void)state;
    /* The standard's example (table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 is
     * a FFFD FFFD FFFD b FFFD c FFFD FFFD d. */
    EXPECT_ESCAPE("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
                  "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
    /* Surrogates: ED is a valid lead but A0..BF cannot follow it. */
    EXPECT_ESCAPE("\xed\xa0\x80", FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xed\xbf\xbf", FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xed\x9f\xbf", "\xed\x9f\xbf"); /* U+D7FF */
    /* Overlong forms. */
    EXPECT_ESCAPE("\xc0\x80", FFFD FFFD);
    EXPECT_ESCAPE("\xc1\xbf", FFFD FFFD);
    EXPECT_ESCAPE("\xe0\x80\x80", FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xe0\x9f\xbf", FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD);
    /* Beyond U+10FFFF. */
    EXPECT_ESCAPE("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD);
    EXPECT_ESCAPE("\xff\xfe", FFFD FFFD);
    /* Truncated: the whole valid prefix is one subpart. */
    EXPECT_ESCAPE("\xe2\x82", FFFD);
    EXPECT_ESCAPE("\xf0\x9f\x98", FFFD);
    EXPECT_ESCAPE("\xf0\x9f\x98x", FFFD "x");
    EXPECT_ESCAPE("\xe2\x82\"", FFFD "\\\"");
    /* Valid boundaries are copied. */
    EXPECT_ESCAPE("\xc2\x80\xdf\xbf", "\xc2\x80\xdf\xbf");
    EXPECT_ESCAPE("\xe0\xa0\x80\xef\xbf\xbf", "\xe0\xa0\x80\xef\xbf\xbf");
    EXPECT_ESCAPE("\xee\x80\x80", "\xee\x80\x80"); /* U+E000 */
    EXPECT_ESCAPE("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    EXPECT_ESCAPE("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
                  "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    /* Latin-1 text, the most common real-world case of invalid UTF-8. */
    EXPECT_ESCAPE("caf\xe9 na\xefve", "caf" FFFD " na" FFFD "ve");
}

static void test_utf8_seq_api(void **state)
{
    (void)state;
    size_t bad = 0;
    assert_int_equal(sl_utf8_seq((const unsigned char *)"\xc3\xa9", 2, &bad), 2);
    assert_int_equal(sl_utf8_seq((const unsigned char *)"\xe2\x82", 2, &bad), 0);
    assert_int_equal(bad, 2);
    assert_int_equal(sl_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 3, &bad), 0);
    assert_int_equal(bad, 3);
    assert_int_equal(sl_utf8_seq((const unsigned char *)"\x80", 1, &bad), 0);
    assert_int_equal(bad, 1);
    assert_int_equal(sl_utf8_seq((const unsigned char *)"A", 1, &bad), 1);
}

/* A special byte at every offset of ASCII strings up to 40 bytes long, so each position in
 * and around the eight-byte words is hit. */
static void test_special_at_each_offset(void **state)
{
    (void)state;
    static const unsigned char specials[] = {'"', '\\', 0x00, 0x0a, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
    unsigned char s[40];
    for (size_t len = 1; len <= sizeof(s); len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t k = 0; k < sizeof(specials); k++) {
                memset(s, 'x', len);
                s[pos] = specials[k];
                if (pos + 1 < len && specials[k] == 0xc3)
                    s[pos + 1] = 0xa9; /* a valid "é" */
                if (check_one(s, len))
                    fail_msg("len %zu pos %zu byte %02x", len, pos, specials[k]);
            }
        }
    }
}

/* Sequences straddling the escaper's 4096-byte chunks, valid and not. */
static void test_chunk_boundaries(void **state)
{
    (void)state;
    static const char *tails[] = {"\xc3\xa9",     "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
                                  "\xf0\x9f\x98", "\xe2\x82",     "\x80\x80\x80",
                                  "\xed\xa0\x80", "\"\\\n",       "\xf4\x90\x80\x80"};
    size_t n = 3 * 4096 + 16;
    unsigned char *s = malloc(n);
    assert_non_null(s);
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        size_t tl = strlen(tails[t]);
        for (size_t at = 4096 - 4; at <= 4096 + 1; at++) {
            memset(s, 'a', n);
            memcpy(s + at, tails[t], tl);
            memcpy(s + at + 4096, tails[t], tl);
            if (check_one(s, n))
                fail_msg("tail %zu at %zu", t, at);
            if (check_one(s, at + tl))
                fail_msg("tail %zu ending the input at %zu", t, at + tl);
        }
    }
    free(s);
}

/* Random strings from several generators: any bytes, mostly text, UTF-8 pieces cut up. */
static void test_random_strings(void **state)
{
    (void)state;
    static const char *pieces[] = {"a",
                                   "Z",
                                   " ",
                                   "\"",
                                   "\\",
                                   "\n",
                                   "\t",
                                   "\x01",
                                   "\x7f",
                                   "\xc3\xa9",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "\xed\xa0\x80",
                                   "\xc0\xaf",
                                   "\xe0\x80",
                                   "\xf4\x90",
                                   "\xff",
                                   "\x80"};
    unsigned char buf[2048];
    for (int iter = 0; iter < 6000; iter++) {
        size_t n = (size_t)(rng() % (iter < 5000 ? 300 : sizeof(buf)));
        int mode = (int)(rng() % 3);
        size_t i = 0;
        while (i < n) {
            if (mode == 0) {
                buf[i++] = (unsigned char)rng();
            } else if (mode == 1) {
                uint64_t r = rng();
                buf[i++] = (r & 15) == 0 ? (unsigned char)(r >> 8) : (unsigned char)(32 + r % 95);
            } else {
                const char *p = pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(p);
                if (i + pl > n)
                    pl = n - i;
                memcpy(buf + i, p, pl);
                i += pl;
            }
        }
        if (check_one(buf, n))
            fail_msg("random string %d (mode %d, %zu bytes)", iter, mode, n);
    }
}

static void test_appends_and_quotes(void **state)
{
    (void)state;
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_strbuf_append(&b, "x=", 2), 0);
    assert_int_equal(sl_json_string(&b, "he said \"hi\"", 12), 0);
    assert_int_equal(sl_json_string(&b, "", 0), 0);
    const char want[] = "x=\"he said \\\"hi\\\"\"\"\"";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    sl_strbuf_free(&b);
}

/* A long ASCII string (the fast path) comes out unchanged. */
static void test_long_ascii(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(' ' + 1 + (char)(i % 90));
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            s[i] = '.';
    }
    sl_strbuf_t b = SL_STRBUF_INIT;
    assert_int_equal(sl_json_escape(&b, s, n), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, s, n);
    sl_strbuf_free(&b);
    free(s);
}

static void check_checker(const char *s, int ok)
{
    size_t at;
    const char *why;
    int rc = sl_json_check(s, strlen(s), &at, &why);
    if ((rc == 0) != ok)
        fail_msg("checker %s '%s' (%s at %zu)", ok ? "rejected" : "accepted", s, why ? why : "-",
                 at);
}

static void test_checker(void **state)
{
    (void)state;
    check_checker("{}", 1);
    check_checker(" {\"a\":[1,-2.5e+3,true,false,null,\"x\"]}\n", 1);
    check_checker("\"\\ud83d\\ude00\"", 1);
    check_checker("\"\xc3\xa9\"", 1);
    check_checker("0", 1);
    check_checker("", 0);
    check_checker("{", 0);
    check_checker("{\"a\":1,}", 0);
    check_checker("[1,]", 0);
    check_checker("01", 0);
    check_checker("1.", 0);
    check_checker("-", 0);
    check_checker("\"a\nb\"", 0);
    check_checker("\"\\x\"", 0);
    check_checker("\"\\u12\"", 0);
    check_checker("\"\\ud83d\"", 0);
    check_checker("\"\\ude00\"", 0);
    check_checker("\"\\ud83dx\"", 0);
    check_checker("\"\xc3\"", 0);
    check_checker("\"\xed\xa0\x80\"", 0);
    check_checker("\"\xc0\x80\"", 0);
    check_checker("{} {}", 0);
    check_checker("tru", 0);
    check_checker("{'a':1}", 0);
    check_checker("\"\\u0000\"", 1);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_not_equal(sl_json_check(deep, 200, NULL, NULL), 0);

    const char obj[] = "{\"a\":\"x\\n\\u00e9\",\"b\":12,\"c\":{\"a\":1}}";
    const char *v;
    size_t vn, dn;
    char dec[32];
    assert_int_equal(sl_json_member(obj, sizeof(obj) - 1, "b", &v, &vn), 0);
    assert_int_equal(vn, 2);
    assert_memory_equal(v, "12", 2);
    assert_int_equal(sl_json_member(obj, sizeof(obj) - 1, "a", &v, &vn), 0);
    assert_int_equal(sl_json_unescape(v, vn, dec, &dn), 0);
    assert_int_equal(dn, 4);
    assert_memory_equal(dec, "x\n\xc3\xa9", 4);
    assert_int_not_equal(sl_json_member(obj, sizeof(obj) - 1, "d", &v, &vn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_byte_alone),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_all_pairs),
        cmocka_unit_test(test_boundary_quads),
        cmocka_unit_test(test_maximal_subparts),
        cmocka_unit_test(test_utf8_seq_api),
        cmocka_unit_test(test_special_at_each_offset),
        cmocka_unit_test(test_chunk_boundaries),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_appends_and_quotes),
        cmocka_unit_test(test_long_ascii),
        cmocka_unit_test(test_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
