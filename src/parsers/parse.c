/*
 * Format detection and the PRI, common to both syslog formats. The format parsers live in
 * rfc5424.c and rfc3164.c.
 *
 * What happens here before any format parser follows rsyslog, whose output sluice must match: the
 * PRI is read as rsyslog reads it, and the trailing NUL and newline that many datagram senders
 * append are not part of the message.
 */
#include "parsers/parse.h"

/* Digits read in a PRI at most; only leading zeros can make a valid one longer than three. */
#define PRI_MAX_DIGITS 32

/*
 * Like rsyslog: '<', one or more digits (leading zeros allowed, "<013>" is 13) with a value of at
 * most 191, '>'. Any other text that starts with '<' is an invalid PRI ("<abc>", "<13", "<"),
 * which rsyslog does not parse further. "<>" is invalid too, where rsyslog reads it as 0
 * (kern.emerg, which would reach every console); see docs/rfc3164.md.
 */
int sl_parse_pri(const char *p, size_t len, int *pri)
{
    size_t i = 1;
    int v = 0;
    if (len == 0 || p[0] != '<')
        return 0;
    while (i < len && i <= PRI_MAX_DIGITS && p[i] >= '0' && p[i] <= '9' && v <= 191) {
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i == 1 || i >= len || p[i] != '>' || v > 191)
        return -1;
    *pri = v;
    return (int)(i + 1);
}

/*
 * Drops one NUL and then one newline from the end of the raw text, as rsyslog does before it
 * parses: datagram senders often append them, and they are not content. The raw text shrinks
 * with them, so every field, and msg of a malformed message, ends before them.
 */
static void trim_trailer(sl_msg_t *m)
{
    if (m->raw_len > 0 && m->buf[m->raw_len - 1] == '\0')
        m->raw_len--;
    if (m->raw_len > 0 && m->buf[m->raw_len - 1] == '\n')
        m->raw_len--;
    m->buf[m->raw_len] = '\0';
}

sl_msg_t *sl_parse(const char *raw, size_t len, const sl_parse_ctx_t *ctx)
{
    sl_msg_t *m = sl_msg_new(raw, len, ctx->fromhost, ctx->input);
    if (!m)
        return NULL;
    m->received = ctx->received;
    trim_trailer(m);
    const char *p = m->buf;
    size_t n = m->raw_len;
    int pri = SL_PRI_DEFAULT;
    int used = sl_parse_pri(p, n, &pri);
    int rc;
    if (used > 0) {
        m->pri = (uint8_t)pri;
        p += used;
        n -= (size_t)used;
    } else {
        m->flags |= used < 0 ? SL_MSG_BAD_PRI : SL_MSG_NO_PRI;
    }
    if (used > 0 && n >= 2 && p[0] == '1' && p[1] == ' ')
        rc = sl_parse_rfc5424(m, p, ctx);
    else
        rc = sl_parse_rfc3164(m, p, ctx);
    if (rc < 0)
        sl_msg_mark_malformed(m);
    return m;
}
