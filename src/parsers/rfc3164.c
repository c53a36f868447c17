/*
 * RFC 3164 ("BSD syslog") as real senders write it, read the way rsyslog's default legacy parser
 * (pmrfc3164) reads it.
 *
 * sluice replaces rsyslog in place, so for every message rsyslog makes sense of we must produce the
 * same timestamp, hostname, tag, program name, procid and msg; a differential test holds us to
 * that. The steps are therefore rsyslog's, in rsyslog's order:
 *   1. behind an invalid PRI nothing is parsed: the whole raw text is msg;
 *   2. a "headerless" message (blanks, then '{' or '[', i.e. JSON or a bracketed prefix) is all
 *      msg;
 *   3. a timestamp: RFC 3339, else "Mmm dd hh:mm:ss" with the variants devices send (year before
 *      the month or before the time, fraction, a trailing ':'), else the same after one stray
 *      leading space (HP ProCurve); none found means the reception time;
 *   4. a hostname: a word of letters, digits, '.', '_' and '-' that ends in a letter or digit and
 *      is followed by a space (or ends the message). Anything else (a ':' or '[' in the word, as in
 *      "sshd[42]:") means the sender left the hostname out, and the sender's address stands in;
 *   5. the tag: everything up to ':' or space, with the ':' (rsyslog's TAG);
 *   6. the rest is msg.
 * The heuristics, their reasons and the few deliberate differences are in docs/rfc3164.md.
 *
 * Speed: this runs once per message at millions of messages per second, so it is one forward pass
 * over the header, no allocation, and ASCII character tests written out here (the <ctype.h> ones
 * depend on the locale). The input may hold NUL bytes: its end is m->buf + m->raw_len, every read
 * is checked against it, and nothing looks for a terminating NUL.
 *
 * No shared state: a message is parsed by the one thread that builds it.
 */
#include <errno.h>
#include <stdint.h>

#include "lib/sl_assert.h"
#include "lib/sl_time.h"
#include "parsers/parse.h"
#include "parsers/scan.h"

/* rsyslog's limits (CONF_HOSTNAME_MAXSIZE and CONF_TAG_MAXSIZE less their terminators): a longer
 * word is not a hostname, and a longer tag is cut there with the rest going to msg. */
#define HOSTNAME_MAX 511
#define TAG_MAX      510

/* Numbers in timestamps saturate here; no field accepts a value this large. */
#define NUM_SATURATED 100000

static inline int is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}

static inline int is_alpha(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26u;
}

static inline int is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

/* A byte that may be part of the program name: printable ASCII other than the characters that end
 * it in rsyslog (':', '[' and, by default, '/' as in "postfix/smtpd"). */
static inline int is_prog_char(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != ':' && c != '[' && c != '/';
}

/*
 * Reads a run of digits at *pp, at least one, and moves *pp past it. Returns its value, or -1
 * when there is no digit. Like rsyslog, a run of any length is read ("004" is 4); long runs
 * saturate at NUM_SATURATED, which no caller accepts.
 */
static int read_num(const char **pp, const char *end)
{
    const char *p = *pp;
    int v = 0;
    if (p == end || !is_digit((unsigned char)*p))
        return -1;
    while (p < end && is_digit((unsigned char)*p)) {
        if (v < NUM_SATURATED)
            v = v * 10 + (*p - '0');
        p++;
    }
    *pp = p;
    return v < NUM_SATURATED ? v : NUM_SATURATED;
}

/* Reads the digits of a fraction (p is just past the '.'): the first six give the microseconds,
 * the rest are consumed and dropped. Returns the position after them. */
static const char *read_frac(const char *p, const char *end, sl_timestamp_t *ts)
{
    uint32_t usec = 0;
    unsigned n = 0;
    while (p < end && is_digit((unsigned char)*p)) {
        if (n < 6) {
            usec = usec * 10 + (uint32_t)(*p - '0');
            n++;
        }
        p++;
    }
    ts->frac_digits = (uint8_t)n;
    for (; n < 6; n++)
        usec *= 10;
    ts->usec = usec;
    return p;
}

/* The month of the three letters at p, in any case, or 0. The caller checked p[0..2] exist. */
static int read_month(const char *p)
{
#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    static const uint32_t names[12] = {
        M3('j', 'a', 'n'), M3('f', 'e', 'b'), M3('m', 'a', 'r'), M3('a', 'p', 'r'),
        M3('m', 'a', 'y'), M3('j', 'u', 'n'), M3('j', 'u', 'l'), M3('a', 'u', 'g'),
        M3('s', 'e', 'p'), M3('o', 'c', 't'), M3('n', 'o', 'v'), M3('d', 'e', 'c'),
    };
    /* OR-ing 0x20 lowers ASCII capitals and maps no other byte onto a lowercase letter. */
    uint32_t key =
        M3((unsigned char)p[0] | 0x20, (unsigned char)p[1] | 0x20, (unsigned char)p[2] | 0x20);
#undef M3
    for (int i = 0; i < 12; i++) {
        if (names[i] == key)
            return i + 1;
    }
    return 0;
}

/*
 * The year of a timestamp sent without one: the reception year, except across new year, where a
 * December stamp received in January is last year's and a January stamp received in December
 * (a sender whose clock runs ahead) is next year's.
 */
static int infer_year(int month, const sl_timestamp_t *rcv)
{
    int year = rcv->year;
    if (month == 12 && rcv->month == 1 && year > 1)
        return year - 1;
    if (month == 1 && rcv->month == 12 && year < 9999)
        return year + 1;
    return year;
}

/* Hour, minute and second as "hh:mm:ss" (p at the hour's first digit, the hour already read by
 * the caller is passed in). Returns the position after the seconds, or NULL. */
static const char *read_clock(const char *p, const char *end, int hour, sl_timestamp_t *ts)
{
    int minute, second;
    if (hour < 0 || hour > 23 || p == end || *p != ':')
        return NULL;
    p++;
    minute = read_num(&p, end);
    if (minute < 0 || minute > 59 || p == end || *p != ':')
        return NULL;
    p++;
    second = read_num(&p, end);
    if (second < 0 || second > 60)
        return NULL;
    ts->hour = (uint8_t)hour;
    ts->minute = (uint8_t)minute;
    ts->second = (uint8_t)second;
    ts->usec = 0;
    ts->frac_digits = 0;
    if (p < end && *p == '.')
        p = read_frac(p + 1, end, ts);
    return p;
}

/*
 * An RFC 3339 timestamp "2026-11-22T04:56:13[.frac](Z|+hh:mm|-hh:mm)" followed by a space or the
 * end. rsyslog requires the zone; we also take the timestamp without one (then it is in the
 * receiver's zone), which syslog senders configured for "ISO" dates write. Returns the position
 * after the timestamp and its space, or NULL (then *out is untouched).
 */
static const char *parse_rfc3339(const char *p, const char *end, const sl_parse_ctx_t *ctx,
                                 sl_timestamp_t *out)
{
    sl_timestamp_t ts = {0};
    int year, month, day, hour;
    year = read_num(&p, end);
    if (year < 0 || year >= 2100 || p == end || *p != '-')
        return NULL;
    p++;
    month = read_num(&p, end);
    if (month < 1 || month > 12 || p == end || *p != '-')
        return NULL;
    p++;
    day = read_num(&p, end);
    if (day < 1 || day > sl_ts_days_in_month(year, month) || p == end || *p != 'T')
        return NULL;
    p++;
    hour = read_num(&p, end);
    p = read_clock(p, end, hour, &ts);
    if (!p)
        return NULL;
    ts.flags = SL_TS_VALID | SL_TS_HAS_YEAR | SL_TS_HAS_TZ;
    if (p < end && *p == 'Z') {
        ts.tz_min = 0;
        ts.flags |= SL_TS_ZULU;
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int neg = *p == '-';
        int oh, om;
        p++;
        oh = read_num(&p, end);
        if (oh < 0 || oh > 23 || p == end || *p != ':')
            return NULL;
        p++;
        om = read_num(&p, end);
        if (om < 0 || om > 59)
            return NULL;
        ts.tz_min = (int16_t)(neg ? -(oh * 60 + om) : oh * 60 + om);
    } else {
        ts.tz_min = ctx->received.tz_min;
        ts.flags = SL_TS_VALID | SL_TS_HAS_YEAR;
    }
    if (p < end) {
        if (*p != ' ')
            return NULL;
        p++;
    }
    ts.year = (int16_t)year;
    ts.month = (uint8_t)month;
    ts.day = (uint8_t)day;
    *out = ts;
    return p;
}

/*
 * An RFC 3164 timestamp as devices send it:
 *   [yyyy ]Mmm[ ]d[d] [yyyy ]hh:mm:ss[.frac][:]
 * followed by a space or the end. The month is in any case; a one-digit day comes with two spaces
 * or one; a year before the time is Cisco's ("Nov 22 2026 04:56:13:"), before the month Brocade's;
 * the trailing ':' is Cisco's too. Without a year the year is inferred (infer_year) and the zone
 * is the receiver's. Dates that do not exist (Feb 30, hour 25) are not timestamps. Returns the
 * position after the timestamp and its space, or NULL (then *out is untouched).
 */
/* Two digits at p as a number, or -1. */
static inline int two_digits(const char *p)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0', b = (unsigned)(unsigned char)p[1] - '0';
    return a < 10 && b < 10 ? (int)(a * 10 + b) : -1;
}

/*
 * The shape nearly every sender writes, "Mmm dd hh:mm:ss " (or "Mmm  d ..."), read at fixed
 * offsets. For text of this shape with valid values the general path in parse_rfc3164_ts
 * reaches exactly this result a byte at a time (callgrind: about 250 instructions a message);
 * anything else, including a shape with an invalid value, returns NULL and is left to it.
 */
static const char *parse_rfc3164_ts_fixed(const char *p, const char *end, const sl_parse_ctx_t *ctx,
                                          sl_timestamp_t *out)
{
    if (end - p < 16 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':' || p[15] != ' ')
        return NULL;
    int month = read_month(p);
    int day = p[4] != ' ' ? two_digits(p + 4) : is_digit((unsigned char)p[5]) ? p[5] - '0' : -1;
    int hour = two_digits(p + 7), minute = two_digits(p + 10), second = two_digits(p + 13);
    if (!month || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 60)
        return NULL;
    int year = infer_year(month, &ctx->received);
    if (day > sl_ts_days_in_month(year, month))
        return NULL;
    sl_timestamp_t ts = {0};
    ts.flags = SL_TS_VALID;
    ts.year = (int16_t)year;
    ts.month = (uint8_t)month;
    ts.day = (uint8_t)day;
    ts.hour = (uint8_t)hour;
    ts.minute = (uint8_t)minute;
    ts.second = (uint8_t)second;
    ts.tz_min = ctx->received.tz_min;
    *out = ts;
    return p + 16;
}

static const char *parse_rfc3164_ts(const char *p, const char *end, const sl_parse_ctx_t *ctx,
                                    sl_timestamp_t *out)
{
    sl_timestamp_t ts = {0};
    int year = 0, month, day, hour;
    const char *fixed = parse_rfc3164_ts_fixed(p, end, ctx, out);
    if (fixed)
        return fixed;
    if (end - p < 3)
        return NULL;
    if (is_digit((unsigned char)*p)) {
        year = read_num(&p, end);
        if (year < 1970 || year > 2100 || p == end || *p != ' ')
            return NULL;
        p++;
        if (end - p < 3)
            return NULL;
    }
    month = read_month(p);
    if (!month)
        return NULL;
    p += 3;
    if (p == end || *p != ' ')
        return NULL;
    p++;
    if (p < end && *p == ' ')
        p++;
    day = read_num(&p, end);
    if (day < 1 || day > 31 || p == end || *p != ' ')
        return NULL;
    p++;
    hour = read_num(&p, end);
    if (year == 0 && hour > 1970 && hour < 2100) {
        year = hour;
        if (p == end || *p != ' ')
            return NULL;
        p++;
        hour = read_num(&p, end);
    }
    p = read_clock(p, end, hour, &ts);
    if (!p)
        return NULL;
    if (p < end && *p == ':')
        p++;
    if (p < end) {
        if (*p != ' ')
            return NULL;
        p++;
    }
    ts.flags = SL_TS_VALID;
    if (year)
        ts.flags |= SL_TS_HAS_YEAR;
    else
        year = infer_year(month, &ctx->received);
    if (day > sl_ts_days_in_month(year, month))
        return NULL;
    ts.year = (int16_t)year;
    ts.month = (uint8_t)month;
    ts.day = (uint8_t)day;
    ts.tz_min = ctx->received.tz_min;
    *out = ts;
    return p;
}

/* msg is [p, end), less the one space that separates it from the header (SL_MSG_MSG_SP). */
static void set_msg(sl_msg_t *m, const char *p, const char *end)
{
    if (p < end && *p == ' ') {
        p++;
        m->flags |= SL_MSG_MSG_SP;
    }
    sl_msg_set(m, SL_F_MSG, p, (size_t)(end - p));
}

/* Program name and procid from the tag [t, e), as rsyslog derives them: the name runs to the
 * first ':', '[', '/' or unprintable byte; the procid is what lies between the first '[' and the
 * next ']', and there is none without the ']'. */
static void split_tag(sl_msg_t *m, const char *t, const char *e)
{
    const char *q = t;
    while (q < e && is_prog_char((unsigned char)*q))
        q++;
    sl_msg_set(m, SL_F_APP_NAME, t, (size_t)(q - t));
    for (q = t; q < e && *q != '['; q++)
        ;
    if (q == e)
        return;
    const char *pid = ++q;
    while (q < e && *q != ']')
        q++;
    if (q < e)
        sl_msg_set(m, SL_F_PROCID, pid, (size_t)(q - pid));
}

int sl_parse_rfc3164(sl_msg_t *m, const char *p, const sl_parse_ctx_t *ctx)
{
    const char *end = m->buf + m->raw_len;
    const char *q;
    sl_assert(p >= m->buf && p <= end);

    /* The only text that is not syslog at all: nothing. */
    if (m->raw_len == 0)
        return -EINVAL;

    m->proto = SL_PROTO_RFC3164;
    m->ts = ctx->received;
    m->f[SL_F_HOSTNAME] = m->f[SL_F_FROMHOST];

    /* rsyslog parses nothing behind an invalid PRI: the raw text, PRI included, is msg. */
    if (m->flags & SL_MSG_BAD_PRI) {
        set_msg(m, m->buf, end);
        return 0;
    }

    /* Headerless: JSON or a bracketed prefix right after the PRI is all msg. */
    for (q = p; q < end && (*q == ' ' || *q == '\t'); q++)
        ;
    if (q < end && (*q == '{' || *q == '[')) {
        set_msg(m, p, end);
        return 0;
    }

    q = parse_rfc3339(p, end, ctx, &m->ts);
    if (!q)
        q = parse_rfc3164_ts(p, end, ctx, &m->ts);
    if (!q && end - p > 1 && *p == ' ')
        q = parse_rfc3164_ts(p + 1, end, ctx, &m->ts);
    if (q)
        p = q;

    if (p < end && !ctx->local) {
        const char *lim = end - p > HOSTNAME_MAX ? p + HOSTNAME_MAX : end;
        q = sl_scan_host(p, lim);
        if (q == end) {
            sl_msg_set(m, SL_F_HOSTNAME, p, (size_t)(q - p));
            p = q;
        } else if (q > p && *q == ' ' && is_alnum((unsigned char)q[-1])) {
            sl_msg_set(m, SL_F_HOSTNAME, p, (size_t)(q - p));
            p = q + 1;
        }
    }

    {
        const char *t = p;
        const char *lim = end - p > TAG_MAX ? p + TAG_MAX : end;
        p = sl_scan_until2(p, lim, ':', ' ');
        if (p < end && *p == ':')
            p++;
        sl_msg_set(m, SL_F_TAG, t, (size_t)(p - t));
        split_tag(m, t, p);
    }

    set_msg(m, p, end);
    return 0;
}
