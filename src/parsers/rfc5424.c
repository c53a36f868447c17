/*
 * The RFC 5424 parser.
 *
 *   SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
 *   HEADER     = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 *
 * It runs once per message at millions of messages a second, so it is one forward pass over the
 * bytes with no allocation and no library calls on the input: every field becomes a span into
 * the message buffer, and nothing is copied. It is strict where the grammar is unambiguous (one
 * SP between fields, the length limits of section 6, printable US-ASCII in header fields, a
 * well-formed STRUCTURED-DATA) and returns -EINVAL otherwise, so that the dispatcher keeps the
 * message whole as malformed instead of guessing. Where senders commonly stretch the RFC and the
 * meaning stays clear it is lenient, and docs/rfc5424.md lists those cases: lowercase 't' and
 * 'z' in the timestamp, fractions longer than 6 digits (truncated to microseconds), a leap second
 * at any minute, an unescaped ']' inside an SD value.
 *
 * The end of the input is m->buf + m->raw_len. The byte there is a NUL, but the input may hold
 * NUL bytes of its own, so every read is bounded by that end pointer, never by a NUL. The
 * message is written only once the whole text has been accepted.
 *
 * Concurrency: none; the message is still private to the thread that builds it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/sl_assert.h"
#include "parsers/parse.h"
#include "parsers/scan.h"
#include "parsers/sd.h"

/* Two decimal digits at p as a number, or -1 when either byte is not a digit. */
static int num2(const char *p)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0';
    unsigned b = (unsigned)(unsigned char)p[1] - '0';
    return a < 10 && b < 10 ? (int)(a * 10 + b) : -1;
}

/* Reads the zone of an RFC 3339 timestamp at p ("Z" or "+hh:mm" / "-hh:mm"), completes ts (its
 * date and time already set) with it and the flags, and returns the byte after it, or NULL (ts
 * is then partly written; the callers drop it). */
static const char *read_zone(const char *p, const char *end, sl_timestamp_t *ts)
{
    unsigned zulu = 0;
    int tz = 0;
    if (p >= end)
        return NULL;
    if (*p == 'Z' || *p == 'z') {
        zulu = SL_TS_ZULU;
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (end - p < 6)
            return NULL;
        oh = num2(p + 1);
        om = num2(p + 4);
        if (oh < 0 || oh > 23 || p[3] != ':' || om < 0 || om > 59)
            return NULL;
        tz = oh * 60 + om;
        if (*p == '-')
            tz = -tz;
        p += 6;
    } else {
        return NULL;
    }
    ts->tz_min = (int16_t)tz;
    ts->flags = (uint8_t)(SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR | zulu);
    return p;
}

/* The first 16 bytes of the usual timestamp, "YYYY-MM-DDThh:mm", as a byte range per lane: a lane
 * is in shape when its byte minus lo[lane] is at most span[lane] (a digit, or the one separator).
 */
static const sl_scan_v16_t ts_lo = {'0', '0', '0', '0', '-', '0', '0', '-',
                                    '0', '0', 'T', '0', '0', ':', '0', '0'};
static const sl_scan_v16_t ts_span = {9, 9, 9, 9, 0, 9, 9, 0, 9, 9, 0, 9, 9, 0, 9, 9};

/*
 * The shape nearly every sender writes, "YYYY-MM-DDThh:mm:ss" with or without a fraction of up to
 * 11 digits and with "Z" or an offset, read at fixed offsets: the first 16 bytes are checked as
 * one vector and the fraction's digits are counted with another, where parse_timestamp below
 * walks them a byte at a time (about 290 instructions a message, 100 of them the fraction).
 * The caller has checked that 32 bytes are there. For text of this shape with valid values
 * parse_timestamp reaches exactly this result; anything else, a lowercase 't', a longer
 * fraction or an invalid value included, returns NULL and is left to it.
 */
static const char *parse_timestamp_fixed(const char *p, const char *end, sl_timestamp_t *ts)
{
    static const uint32_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    /* Lanes 4 and up of the second vector: where the fraction's digits are when lane 3 is '.'. */
    static const sl_scan_v16_t from4 = {0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    sl_scan_v16_t bad = (sl_scan_v16_t)(sl_scan_load(p) - ts_lo) > ts_span;
    sl_scan_v16_t v = sl_scan_load(p + 16);
    sl_scan_v16_t nondigit = (sl_scan_v16_t)(v - (unsigned char)'0') > (unsigned char)9;
    uint64_t b0, b1;
    const char *q;
    uint32_t usec = 0;
    unsigned digits = 0;

    memcpy(&b0, &bad, 8);
    memcpy(&b1, (const char *)&bad + 8, 8);
    if (!SL_SCAN_VECTOR || (b0 | b1) || p[16] != ':' || nondigit[1] || nondigit[2])
        return NULL;
#define D(i) ((unsigned)(unsigned char)p[i] - '0')
    int year = (int)(D(0) * 1000 + D(1) * 100 + D(2) * 10 + D(3));
    unsigned mon = D(5) * 10 + D(6), day = D(8) * 10 + D(9);
    unsigned hour = D(11) * 10 + D(12), min = D(14) * 10 + D(15), sec = D(17) * 10 + D(18);
    if (mon - 1 > 11 || day - 1 > 30 || hour > 23 || min > 59 || sec > 60)
        return NULL;
    if (day > 28 && day > (unsigned)sl_ts_days_in_month(year, (int)mon))
        return NULL;
    q = p + 19;
    if (*q == '.') {
        /* The first lane from 4 on that is not a digit ends the fraction; 16 means the vector
         * holds no end (12 digits or more), which is left to the general path. */
        unsigned n = sl_scan_first(nondigit & from4) - 4;
        if (n == 0 || n >= 12)
            return NULL;
        uint64_t x;
        digits = n > 6 ? 6 : n;
        /* The first `digits` bytes at p + 20 (in the 32 bytes) as a number, eight digits at a
         * time: shifted up so that zeros lead, then paired, quadrupled and halved in place. */
        memcpy(&x, p + 20, 8);
        x = ((x - 0x3030303030303030u) & (((uint64_t)1 << (8 * digits)) - 1)) << (64 - 8 * digits);
        x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffu;
        x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffu;
        x = (x * 10000 + (x >> 32)) & 0xffffffffu;
        usec = (uint32_t)x * scale[digits];
        q += 1 + n;
    }
#undef D
    ts->year = (int16_t)year;
    ts->month = (uint8_t)mon;
    ts->day = (uint8_t)day;
    ts->hour = (uint8_t)hour;
    ts->minute = (uint8_t)min;
    ts->second = (uint8_t)sec;
    ts->frac_digits = (uint8_t)digits;
    ts->usec = usec;
    return read_zone(q, end, ts);
}

/*
 * Reads an RFC 3339 timestamp (RFC 5424 section 6.2.3) into ts:
 *   FULL-DATE "T" PARTIAL-TIME [ "." 1*DIGIT ] ( "Z" / ("+" / "-") HH ":" MM )
 * with ranges checked, including the length of the month. Returns the byte after it, or NULL.
 */
static const char *parse_timestamp(const char *p, const char *end, sl_timestamp_t *ts)
{
    static const uint32_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    int yh, yl, mon, day, hour, min, sec;
    uint32_t usec = 0;
    unsigned digits = 0;

    const char *q;
    if (end - p >= 32 && (q = parse_timestamp_fixed(p, end, ts)) != NULL)
        return q;
    /* "YYYY-MM-DDThh:mm:ss" is 19 bytes and a zone takes at least one more. */
    if (end - p < 20)
        return NULL;
    yh = num2(p);
    yl = num2(p + 2);
    mon = num2(p + 5);
    day = num2(p + 8);
    hour = num2(p + 11);
    min = num2(p + 14);
    sec = num2(p + 17);
    if (yh < 0 || yl < 0 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
        p[13] != ':' || p[16] != ':')
        return NULL;
    if (mon < 1 || mon > 12 || day < 1 || day > sl_ts_days_in_month(yh * 100 + yl, mon) ||
        hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return NULL;
    p += 19;

    if (*p == '.') {
        /* RFC 5424 allows at most 6 digits; longer fractions (nanoseconds are common) are
         * accepted and truncated to microseconds rather than losing the whole message. */
        p++;
        while (p < end && (unsigned)(unsigned char)*p - '0' < 10) {
            if (digits < 6)
                usec = usec * 10 + (uint32_t)(*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return NULL;
        if (digits > 6)
            digits = 6;
        usec *= scale[digits];
    }

    ts->year = (int16_t)(yh * 100 + yl);
    ts->month = (uint8_t)mon;
    ts->day = (uint8_t)day;
    ts->hour = (uint8_t)hour;
    ts->minute = (uint8_t)min;
    ts->second = (uint8_t)sec;
    ts->frac_digits = (uint8_t)digits;
    ts->usec = usec;
    return read_zone(p, end, ts);
}

/*
 * Reads a header field of 1 to max printable US-ASCII bytes and the SP after it. NILVALUE ("-")
 * gives an empty span. Returns the byte after the SP, or NULL.
 */
static const char *header_field(const char *p, const char *end, size_t max, const char **field,
                                size_t *len)
{
    const char *start = p;
    const char *limit = (size_t)(end - p) > max ? p + max : end;
    p = sl_scan_range(p, limit, 33, 126);
    /* Reaching the limit on a printable byte means the field is too long: p is not at an SP. */
    if (p == start || p >= end || *p != ' ')
        return NULL;
    *field = start;
    *len = (size_t)(p - start);
    if (*len == 1 && *start == '-')
        *len = 0;
    return p + 1;
}

/*
 * One bit for each of the 32 bytes at p (bit i for p[i]) that is not printable US-ASCII (33..126):
 * the places where a header field can end. Two vectors are compared and each lane's top bit is
 * gathered into a byte by a multiplication (the generic form of a vector "move mask").
 */
static inline uint32_t header_stops(const char *p)
{
    const uint64_t top = 0x8080808080808080u, gather = 0x0002040810204081u;
    sl_scan_v16_t a = sl_scan_load(p), b = sl_scan_load(p + 16);
    sl_scan_v16_t ma = (sl_scan_v16_t)(a - (unsigned char)33) > (unsigned char)93;
    sl_scan_v16_t mb = (sl_scan_v16_t)(b - (unsigned char)33) > (unsigned char)93;
    uint64_t w[4];
    memcpy(&w[0], &ma, 16);
    memcpy(&w[2], &mb, 16);
    return (uint32_t)(((w[0] & top) * gather) >> 56) |
           (uint32_t)(((w[1] & top) * gather) >> 56) << 8 |
           (uint32_t)(((w[2] & top) * gather) >> 56) << 16 |
           (uint32_t)(((w[3] & top) * gather) >> 56) << 24;
}

/* The header fields after TIMESTAMP, in order, with their maximum lengths (section 6). */
static const struct {
    sl_field_id_t id;
    uint16_t max;
} header_fields[] = {
    {SL_F_HOSTNAME, 255},
    {SL_F_APP_NAME, 48},
    {SL_F_PROCID, 128},
    {SL_F_MSGID, 32},
};
#define HEADER_FIELDS (sizeof(header_fields) / sizeof(header_fields[0]))

int sl_parse_rfc5424(sl_msg_t *m, const char *p, const sl_parse_ctx_t *ctx)
{
    const char *end = m->buf + m->raw_len;
    const char *field[HEADER_FIELDS];
    size_t field_len[HEADER_FIELDS];
    const char *sd;
    size_t sd_len;
    uint16_t flags = 0;
    sl_timestamp_t ts;

    sl_assert(p >= m->buf && p <= end);
    if (end - p < 2 || p[0] != '1' || p[1] != ' ')
        return -EINVAL;
    p += 2;

    if (p < end && *p == '-') {
        /* No time from the sender: like rsyslog, use the reception time. */
        ts = ctx->received;
        p++;
    } else {
        p = parse_timestamp(p, end, &ts);
        if (!p)
            return -EINVAL;
    }
    if (p >= end || *p != ' ')
        return -EINVAL;
    p++;

    /* Usually all four fields and their SPs lie in the next 32 bytes: each ends at the next byte
     * that is not printable, which must be an SP, as header_field() checks it. Fields that reach
     * past the 32 bytes are read by header_field(). */
    size_t nf = 0;
    if (SL_SCAN_VECTOR && end - p >= 32) {
        const char *base = p;
        for (uint32_t stops = header_stops(p); stops && nf < HEADER_FIELDS; stops &= stops - 1) {
            const char *stop = base + __builtin_ctz(stops);
            size_t len = (size_t)(stop - p);
            if (len == 0 || len > header_fields[nf].max || *stop != ' ')
                return -EINVAL;
            field[nf] = p;
            field_len[nf] = len == 1 && *p == '-' ? 0 : len;
            p = stop + 1;
            nf++;
        }
    }
    for (; nf < HEADER_FIELDS; nf++) {
        p = header_field(p, end, header_fields[nf].max, &field[nf], &field_len[nf]);
        if (!p)
            return -EINVAL;
    }

    sd = p;
    if (p < end && *p == '-') {
        p++;
        sd_len = 0;
    } else {
        p = sl_sd_scan(p, end);
        if (!p)
            return -EINVAL;
        sd_len = (size_t)(p - sd);
    }

    /* After STRUCTURED-DATA: the end (no MSG), or the SP separator and MSG. */
    if (p < end) {
        if (*p != ' ')
            return -EINVAL;
        p++;
        if (end - p >= 3 && p[0] == '\xEF' && p[1] == '\xBB' && p[2] == '\xBF') {
            flags |= SL_MSG_BOM;
            p += 3;
        }
    }

    for (size_t i = 0; i < HEADER_FIELDS; i++)
        sl_msg_set(m, header_fields[i].id, field[i], field_len[i]);
    sl_msg_set(m, SL_F_STRUCTURED_DATA, sd, sd_len);
    sl_msg_set(m, SL_F_MSG, p, (size_t)(end - p));
    m->ts = ts;
    m->flags |= flags;
    m->proto = SL_PROTO_RFC5424;
    return 0;
}
