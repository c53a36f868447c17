/*
 * Turning raw bytes into a message.
 *
 * sl_parse() is the one entry point: it copies the bytes into a new message, detects the format
 * per message (RFC 5424 when the PRI is followed by "1 ", RFC 3164 otherwise) and fills the
 * fields. It never fails on content: what cannot be parsed is kept whole in msg with
 * SL_MSG_MALFORMED set, and the caller counts it. Parsers read only inside [raw, raw + len).
 *
 * Concurrency: none. A parse context belongs to the thread that parses with it.
 */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/msg.h"

typedef struct sl_parse_ctx {
    const char *fromhost;    /* sender address or "localhost"; becomes the fromhost field */
    const char *input;       /* input name; becomes the input field */
    sl_timestamp_t received; /* reception time in the receiver's zone (year, zone for RFC 3164) */
    bool local; /* from a local socket (/dev/log): RFC 3164 text has no hostname, as rsyslog's
                 * imuxsock assumes; the hostname is fromhost (this machine's name) */
} sl_parse_ctx_t;

/* Parses raw[0..len) into a new message with one reference. NULL only when out of memory. */
sl_msg_t *sl_parse(const char *raw, size_t len, const sl_parse_ctx_t *ctx);

/*
 * Reads "<PRI>" at the start of p[0..len) as rsyslog does: digits (leading zeros allowed, so
 * "<013>" is 13), value 0..191, then '>'. Returns the bytes consumed and sets *pri, 0 when p
 * does not start with '<', or -1 when it does but no valid PRI follows ("<>", "<192>", "<1a>").
 */
int sl_parse_pri(const char *p, size_t len, int *pri);

/*
 * The format parsers. m holds the raw bytes with received, fromhost and input set; p points just
 * after the PRI (pri already stored in m) or at the start when there was none. They fill the
 * fields and return 0, or return a negative errno when the message is not of their format, in
 * which case the caller marks it malformed.
 */
int sl_parse_rfc5424(sl_msg_t *m, const char *p, const sl_parse_ctx_t *ctx);
int sl_parse_rfc3164(sl_msg_t *m, const char *p, const sl_parse_ctx_t *ctx);

#endif
