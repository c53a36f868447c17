/*
 * A strict JSON (RFC 8259) and UTF-8 (RFC 3629, Unicode table 3-7) checker for tests and fuzz
 * harnesses, written independently of src/lib/json.c so that it can judge it.
 *
 * Header-only and free of cmocka, so a libFuzzer harness can include it too:
 *   sl_json_check(s, n, &at, &why)    0 when s[0..n) is exactly one JSON value with optional
 *                                     whitespace around it, else -1 with the byte offset and a
 *                                     reason. Strings must be valid UTF-8, have no raw control
 *                                     characters, and \u escapes must not leave a surrogate
 *                                     unpaired (so the decoded text is valid UTF-8 as well).
 *   sl_utf8_check(s, n)               offset of the first ill-formed byte, or n.
 *   sl_json_member(obj, n, key, ...)  the raw text of a top-level member's value.
 *   sl_json_unescape(str, n, ...)     decodes a JSON string literal (with its quotes) to bytes.
 * Plain functions over the caller's buffers; no shared state.
 */
#ifndef SL_TEST_JSON_CHECK_H
#define SL_TEST_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SL_JC_MAX_DEPTH 64

typedef struct sl_jc {
    const unsigned char *s;
    size_t n, i;
    const char *why;
} sl_jc_t;

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 (table 3-7 of the Unicode
 * standard, spelt out byte by byte). */
static inline size_t sl_jc_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c <= 0x7f)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && s[1] >= 0x80 && s[1] <= 0xbf ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xbf ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xbf && s[3] >= 0x80 &&
                       s[3] <= 0xbf
                   ? 4
                   : 0;
    }
    return 0;
}

static inline size_t sl_utf8_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t k = sl_jc_utf8_len(s + i, n - i);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

static inline void sl_jc_ws(sl_jc_t *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static inline int sl_jc_fail(sl_jc_t *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return -1;
}

static inline int sl_jc_hex4(sl_jc_t *j, unsigned *v)
{
    *v = 0;
    if (j->n - j->i < 4)
        return sl_jc_fail(j, "short \\u escape");
    for (int k = 0; k < 4; k++) {
        unsigned char c = j->s[j->i++];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return sl_jc_fail(j, "bad hex digit in \\u escape");
        *v = *v * 16 + d;
    }
    return 0;
}

static inline int sl_jc_string(sl_jc_t *j)
{
    if (j->i >= j->n || j->s[j->i] != '"')
        return sl_jc_fail(j, "expected '\"'");
    j->i++;
    for (;;) {
        if (j->i >= j->n)
            return sl_jc_fail(j, "unterminated string");
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20)
            return sl_jc_fail(j, "raw control character in string");
        if (c == '\\') {
            j->i++;
            if (j->i >= j->n)
                return sl_jc_fail(j, "unterminated escape");
            c = j->s[j->i++];
            if (c == 'u') {
                unsigned v, w;
                if (sl_jc_hex4(j, &v) < 0)
                    return -1;
                if (v >= 0xdc00 && v <= 0xdfff)
                    return sl_jc_fail(j, "unpaired low surrogate escape");
                if (v >= 0xd800 && v <= 0xdbff) {
                    if (j->n - j->i < 6 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
                        return sl_jc_fail(j, "unpaired high surrogate escape");
                    j->i += 2;
                    if (sl_jc_hex4(j, &w) < 0)
                        return -1;
                    if (w < 0xdc00 || w > 0xdfff)
                        return sl_jc_fail(j, "high surrogate not followed by a low one");
                }
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return sl_jc_fail(j, "unknown escape");
            }
            continue;
        }
        size_t k = sl_jc_utf8_len(j->s + j->i, j->n - j->i);
        if (!k)
            return sl_jc_fail(j, "ill-formed UTF-8 in string");
        j->i += k;
    }
}

static inline int sl_jc_digits(sl_jc_t *j)
{
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    return j->i > start ? 0 : sl_jc_fail(j, "expected a digit");
}

static inline int sl_jc_number(sl_jc_t *j)
{
    if (j->i < j->n && j->s[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->s[j->i] == '0')
        j->i++;
    else if (sl_jc_digits(j) < 0)
        return -1;
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (sl_jc_digits(j) < 0)
            return -1;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (sl_jc_digits(j) < 0)
            return -1;
    }
    return 0;
}

static inline int sl_jc_word(sl_jc_t *j, const char *w)
{
    size_t len = strlen(w);
    if (j->n - j->i < len || memcmp(j->s + j->i, w, len) != 0)
        return sl_jc_fail(j, "unexpected character");
    j->i += len;
    return 0;
}

static inline int sl_jc_value(sl_jc_t *j, int depth)
{
    if (depth > SL_JC_MAX_DEPTH)
        return sl_jc_fail(j, "nested too deeply");
    sl_jc_ws(j);
    if (j->i >= j->n)
        return sl_jc_fail(j, "expected a value");
    unsigned char c = j->s[j->i];
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        j->i++;
        sl_jc_ws(j);
        if (j->i < j->n && j->s[j->i] == close) {
            j->i++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                sl_jc_ws(j);
                if (sl_jc_string(j) < 0)
                    return -1;
                sl_jc_ws(j);
                if (j->i >= j->n || j->s[j->i] != ':')
                    return sl_jc_fail(j, "expected ':'");
                j->i++;
            }
            if (sl_jc_value(j, depth + 1) < 0)
                return -1;
            sl_jc_ws(j);
            if (j->i < j->n && j->s[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->s[j->i] == close) {
                j->i++;
                return 0;
            }
            return sl_jc_fail(j, "expected ',' or a closing bracket");
        }
    }
    if (c == '"')
        return sl_jc_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return sl_jc_number(j);
    if (c == 't')
        return sl_jc_word(j, "true");
    if (c == 'f')
        return sl_jc_word(j, "false");
    if (c == 'n')
        return sl_jc_word(j, "null");
    return sl_jc_fail(j, "unexpected character");
}

static inline int sl_json_check(const char *s, size_t n, size_t *at, const char **why)
{
    sl_jc_t j = {(const unsigned char *)s, n, 0, NULL};
    int rc = sl_jc_value(&j, 0);
    if (rc == 0) {
        sl_jc_ws(&j);
        if (j.i != n)
            rc = sl_jc_fail(&j, "text after the value");
    }
    if (at)
        *at = j.i;
    if (why)
        *why = rc == 0 ? NULL : j.why;
    return rc;
}

/*
 * Finds the member `key` of the object obj[0..n) (which must pass sl_json_check) and sets
 * *val, *vlen to the raw text of its value. Only top-level members are searched; keys are
 * compared as written (no escapes in key). 0, or -1 when absent.
 */
static inline int sl_json_member(const char *obj, size_t n, const char *key, const char **val,
                                 size_t *vlen)
{
    sl_jc_t j = {(const unsigned char *)obj, n, 0, NULL};
    size_t klen = strlen(key);
    sl_jc_ws(&j);
    if (j.i >= n || obj[j.i] != '{')
        return -1;
    j.i++;
    for (;;) {
        sl_jc_ws(&j);
        size_t ks = j.i;
        if (sl_jc_string(&j) < 0)
            return -1;
        size_t ke = j.i;
        sl_jc_ws(&j);
        if (j.i >= n || obj[j.i] != ':')
            return -1;
        j.i++;
        sl_jc_ws(&j);
        size_t vs = j.i;
        if (sl_jc_value(&j, 1) < 0)
            return -1;
        if (ke - ks == klen + 2 && memcmp(obj + ks + 1, key, klen) == 0) {
            *val = obj + vs;
            *vlen = j.i - vs;
            return 0;
        }
        sl_jc_ws(&j);
        if (j.i >= n || obj[j.i] != ',')
            return -1;
        j.i++;
    }
}

static inline size_t sl_jc_put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Decodes the JSON string literal str[0..n) (quotes included, already checked) into out, which
 * must hold n bytes. Sets *outlen. 0, or -1 when str is not a string literal.
 */
static inline int sl_json_unescape(const char *str, size_t n, char *out, size_t *outlen)
{
    sl_jc_t j = {(const unsigned char *)str, n, 0, NULL};
    if (sl_jc_string(&j) < 0 || j.i != n)
        return -1;
    size_t o = 0;
    for (size_t i = 1; i + 1 < n;) {
        if (str[i] != '\\') {
            out[o++] = str[i++];
            continue;
        }
        char c = str[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            sl_jc_t h = {(const unsigned char *)str, n, i, NULL};
            unsigned v, w;
            sl_jc_hex4(&h, &v);
            if (v >= 0xd800 && v <= 0xdbff) {
                h.i += 2;
                sl_jc_hex4(&h, &w);
                v = 0x10000 + ((v - 0xd800) << 10) + (w - 0xdc00);
            }
            i = h.i;
            o += sl_jc_put_utf8(out + o, v);
            break;
        }
        default:
            out[o++] = c;
            break;
        }
    }
    *outlen = o;
    return 0;
}

#endif
