/*
 * JSON string escaping; see json.h for the rules.
 *
 * The escaper walks the input as runs of bytes that may be copied unchanged (printable ASCII
 * other than '"' and '\\', DEL, and well-formed UTF-8 sequences) separated by single bytes or
 * maximal subparts that need rewriting. ASCII runs are found eight bytes at a time with the
 * classic "has a byte less than n / equal to c" word tricks; a high byte leaves the word loop
 * and is validated as one UTF-8 sequence, after which the run goes on. Output room is reserved
 * per chunk of input for the worst case (six bytes per input byte), so the inner loops write
 * through a plain pointer with no capacity checks.
 */
#include "lib/json.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Input bytes handled per reservation; bounds the over-reservation to 6 * CHUNK bytes. */
#define CHUNK 4096
/* Longest output for one input byte: "\u00XX". */
#define WORST 6

/* Nonzero when some byte of x is below n (n <= 128). Exact as a yes/no answer. */
static inline uint64_t has_less(uint64_t x, uint64_t n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t has_byte(uint64_t x, uint64_t c)
{
    uint64_t y = x ^ (ONES * c);
    return (y - ONES) & ~y & HIGHS;
}

/* Nonzero when some byte of x is not plain printable ASCII for a JSON string. */
static inline uint64_t word_special(uint64_t x)
{
    return (x & HIGHS) | has_less(x, 0x20) | has_byte(x, '"') | has_byte(x, '\\');
}

static inline int byte_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

size_t sl_utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xbf;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* below is overlong */
        else if (c == 0xed)
            hi = 0x9f; /* above is a surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* below is overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above is past U+10FFFF */
    } else {
        *bad = 1; /* 80..C1 (continuation or overlong lead) and F5..FF never start a sequence */
        return 0;
    }
    size_t i = 1;
    if (i < n && s[i] >= lo && s[i] <= hi) {
        i++;
        while (i < need && i < n && (s[i] & 0xc0) == 0x80)
            i++;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

/* Writes the escape for an ASCII byte that is not plain; returns the new end. */
static char *put_ascii_escape(char *p, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '\\';
    switch (c) {
    case '"':
        *p++ = '"';
        break;
    case '\\':
        *p++ = '\\';
        break;
    case '\b':
        *p++ = 'b';
        break;
    case '\f':
        *p++ = 'f';
        break;
    case '\n':
        *p++ = 'n';
        break;
    case '\r':
        *p++ = 'r';
        break;
    case '\t':
        *p++ = 't';
        break;
    default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
        break;
    }
    return p;
}

/*
 * Escapes one chunk into p, which has room for WORST * n bytes. A UTF-8 sequence may straddle
 * the chunk's end; *used tells how much of s was consumed (up to 3 bytes past n when a
 * sequence continues in the following input, which avail allows).
 */
static char *escape_chunk(char *p, const unsigned char *s, size_t n, size_t avail, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        /* A run of bytes to copy as they are. */
        size_t start = i;
        for (;;) {
            while (i + 8 <= n) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                if (word_special(x))
                    break;
                i += 8;
            }
            while (i < n && byte_plain(s[i]))
                i++;
            if (i < n && s[i] >= 0x80) {
                size_t bad, k = sl_utf8_seq(s + i, avail - i, &bad);
                if (k) {
                    i += k;
                    continue;
                }
            }
            break;
        }
        memcpy(p, s + start, i - start);
        p += i - start;
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            p = put_ascii_escape(p, c);
            i++;
        } else {
            size_t bad = 1;
            sl_utf8_seq(s + i, avail - i, &bad);
            *p++ = (char)0xef;
            *p++ = (char)0xbf;
            *p++ = (char)0xbd;
            i += bad;
        }
    }
    *used = i;
    return p;
}

int sl_json_escape(sl_strbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = b->len, done = 0;
    while (done < n) {
        size_t chunk = n - done < CHUNK ? n - done : CHUNK;
        /* The last sequence may run up to 3 bytes past the chunk, each kept as it is. */
        if (sl_strbuf_reserve(b, WORST * chunk + 3) < 0) {
            b->len = start;
            return -ENOMEM;
        }
        size_t used;
        char *p = b->data + b->len;
        char *end = escape_chunk(p, u + done, chunk, n - done, &used);
        b->len += (size_t)(end - p);
        done += used;
    }
    return 0;
}

int sl_json_string(sl_strbuf_t *b, const char *s, size_t n)
{
    size_t start = b->len;
    if (sl_strbuf_putc(b, '"') < 0 || sl_json_escape(b, s, n) < 0 || sl_strbuf_putc(b, '"') < 0) {
        b->len = start;
        return -ENOMEM;
    }
    return 0;
}
