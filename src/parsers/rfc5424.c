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
    int tz = 0;
    unsigned zulu = 0;

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

    ts->year = (int16_t)(yh * 100 + yl);
    ts->month = (uint8_t)mon;
    ts->day = (uint8_t)day;
    ts->hour = (uint8_t)hour;
    ts->minute = (uint8_t)min;
    ts->second = (uint8_t)sec;
    ts->frac_digits = (uint8_t)digits;
    ts->usec = usec;
    ts->tz_min = (int16_t)tz;
    ts->flags = (uint8_t)(SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR | zulu);
    return p;
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

    for (size_t i = 0; i < HEADER_FIELDS; i++) {
        p = header_field(p, end, header_fields[i].max, &field[i], &field_len[i]);
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
