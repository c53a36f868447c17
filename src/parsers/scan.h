/*
 * Byte-class scans for the parsers: where, from p on and before limit, the first byte outside a
 * class lies (a token's end), sixteen bytes a step.
 *
 * Why: the parsers spend most of their time walking tokens one byte at a time (hostname, tag,
 * the RFC 5424 header fields, SD-NAMEs and PARAM-VALUEs), five to seven instructions a byte.
 * Here sixteen bytes are loaded as one GCC/Clang generic vector (SSE2 on x86-64, NEON on ARM,
 * no intrinsics), every lane is tested against the class at once, and the first lane that is
 * not in it is found with a count of trailing zeros. That last step reads lane order from
 * memory order, so it is only used on little-endian machines; elsewhere, and for the last
 * fewer than sixteen bytes before limit, the plain byte loop runs. Nothing at or past limit is
 * read: a vector is loaded only when sixteen bytes remain before it.
 *
 * Every function returns the first byte in [p, limit) that is not in its class, or limit.
 */
#ifndef SL_SCAN_H
#define SL_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) &&                                 \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SL_SCAN_VECTOR 1
#else
#define SL_SCAN_VECTOR 0
#endif

typedef unsigned char sl_scan_v16_t __attribute__((vector_size(16)));

/* Index (0..15) of the first lane of m that is not zero, or 16 when all are zero. */
static inline unsigned sl_scan_first(sl_scan_v16_t m)
{
    uint64_t lo, hi;
    memcpy(&lo, &m, 8);
    memcpy(&hi, (const char *)&m + 8, 8);
    if (lo)
        return (unsigned)__builtin_ctzll(lo) / 8;
    if (hi)
        return 8 + (unsigned)__builtin_ctzll(hi) / 8;
    return 16;
}

/* The sixteen bytes at p (the caller checked that they are there). */
static inline sl_scan_v16_t sl_scan_load(const char *p)
{
    sl_scan_v16_t x;
    memcpy(&x, p, 16);
    return x;
}

/* The vector loop shared by the scans below: BAD(x) gives the lanes outside the class. */
#define SL_SCAN_LOOP(p, limit, BAD)                                                                \
    do {                                                                                           \
        while (SL_SCAN_VECTOR && (limit) - (p) >= 16) {                                            \
            sl_scan_v16_t x_ = sl_scan_load(p);                                                    \
            unsigned i_ = sl_scan_first((sl_scan_v16_t)(BAD(x_)));                                 \
            if (i_ < 16)                                                                           \
                return (p) + i_;                                                                   \
            (p) += 16;                                                                             \
        }                                                                                          \
    } while (0)

/* Bytes from lo to hi. */
static inline const char *sl_scan_range(const char *p, const char *limit, unsigned char lo,
                                        unsigned char hi)
{
    const unsigned char span = (unsigned char)(hi - lo);
#define SL_BAD_RANGE(x) ((sl_scan_v16_t)((x)-lo) > span)
    SL_SCAN_LOOP(p, limit, SL_BAD_RANGE);
#undef SL_BAD_RANGE
    while (p < limit && (unsigned char)((unsigned char)*p - lo) <= span)
        p++;
    return p;
}

/* Bytes other than a and b. */
static inline const char *sl_scan_until2(const char *p, const char *limit, char a, char b)
{
    const unsigned char ua = (unsigned char)a, ub = (unsigned char)b;
#define SL_BAD_TWO(x) (((x) == ua) | ((x) == ub))
    SL_SCAN_LOOP(p, limit, SL_BAD_TWO);
#undef SL_BAD_TWO
    while (p < limit && *p != a && *p != b)
        p++;
    return p;
}

/* RFC 5424 SD-NAME bytes: printable US-ASCII (33..126) except '"', '=' and ']'. */
static inline int sl_scan_is_sd_name(unsigned char c)
{
    return (unsigned)(c - 33) < 94u && c != '"' && c != '=' && c != ']';
}

static inline const char *sl_scan_sd_name(const char *p, const char *limit)
{
#define SL_BAD_NAME(x)                                                                             \
    (((sl_scan_v16_t)((x) - (unsigned char)33) > (unsigned char)93) |                              \
     ((x) == (unsigned char)'"') | ((x) == (unsigned char)'=') | ((x) == (unsigned char)']'))
    SL_SCAN_LOOP(p, limit, SL_BAD_NAME);
#undef SL_BAD_NAME
    while (p < limit && sl_scan_is_sd_name((unsigned char)*p))
        p++;
    return p;
}

/* Hostname bytes as rsyslog's RFC 3164 parser takes them: letters, digits, '.', '_', '-'. */
static inline int sl_scan_is_host(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26u || (unsigned)(c - '0') < 10u || c == '.' ||
           c == '_' || c == '-';
}

static inline const char *sl_scan_host(const char *p, const char *limit)
{
#define SL_BAD_HOST(x)                                                                             \
    (~(((sl_scan_v16_t)(((x) | (unsigned char)0x20) - (unsigned char)'a') < (unsigned char)26) |   \
       ((sl_scan_v16_t)((x) - (unsigned char)'0') < (unsigned char)10) |                           \
       ((x) == (unsigned char)'.') | ((x) == (unsigned char)'_') | ((x) == (unsigned char)'-')))
    SL_SCAN_LOOP(p, limit, SL_BAD_HOST);
#undef SL_BAD_HOST
    while (p < limit && sl_scan_is_host((unsigned char)*p))
        p++;
    return p;
}

#undef SL_SCAN_LOOP

#endif
