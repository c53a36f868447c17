/*
 * The relp output: messages to a RELP receiver (rsyslog's imrelp, sluice's relp input), counted
 * as delivered only once the receiver has acknowledged them. See relp.c for why this side of
 * RELP is not built on librelp, and docs/tls-relp.md for the at-least-once semantics.
 */
#ifndef SL_OUTPUT_RELP_H
#define SL_OUTPUT_RELP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/template.h"
#include "outputs/output.h"

typedef struct sl_relp_output_conf {
    const char *target; /* "host:port", "[v6]:port" */
    const sl_template_t *tmpl;
    int connect_timeout_ms; /* connecting and the "open" handshake */
    int ack_timeout_ms;     /* longest wait without any acknowledgement before giving up */
    unsigned window;        /* messages sent and not yet acknowledged, at most (0: 128) */
} sl_relp_output_conf_t;

/* Creates one instance (one RELP session, opened on the first delivery). Without librelp the
 * relp protocol is refused by the configuration; this output itself needs no library. */
int sl_relp_output_create(const sl_relp_output_conf_t *conf, void **inst, char *err, size_t errlen);

extern const sl_output_ops_t sl_relp_output_ops;

/* One RELP frame ("TXNR SP COMMAND SP DATALEN [SP DATA] LF"), parsed in place. */
typedef struct sl_relp_frame {
    uint32_t txnr;
    const char *cmd; /* not NUL-terminated */
    size_t cmd_len;
    const char *data; /* not NUL-terminated; NULL when data_len is 0 */
    size_t data_len;
} sl_relp_frame_t;

/* Largest DATALEN accepted from a receiver (its answers are short). */
#define SL_RELP_MAX_RSP 65536

/*
 * Parses the frame at the start of buf[0..len). Returns the bytes it takes (> 0), 0 when more
 * bytes are needed, or -EPROTO when buf does not start with a valid frame. Never reads past len.
 */
ssize_t sl_relp_parse_frame(const char *buf, size_t len, sl_relp_frame_t *f);

#endif
