/*
 * The forward output: messages to another syslog server over UDP or TCP (RFC 6587 octet-counting
 * or LF framing). See forward.c.
 */
#ifndef SL_OUTPUT_FORWARD_H
#define SL_OUTPUT_FORWARD_H

#include <stddef.h>

#include "core/template.h"
#include "outputs/output.h"

enum sl_fwd_protocol { SL_FWD_UDP, SL_FWD_TCP };
enum sl_fwd_framing { SL_FWD_OCTET_COUNTED, SL_FWD_LF };

typedef struct sl_forward_conf {
    const char *target; /* "host:port", "[v6]:port" */
    int protocol;       /* enum sl_fwd_protocol */
    int framing;        /* enum sl_fwd_framing (TCP only) */
    const sl_template_t *tmpl;
    int connect_timeout_ms;
} sl_forward_conf_t;

int sl_forward_create(const sl_forward_conf_t *conf, void **inst, char *err, size_t errlen);

extern const sl_output_ops_t sl_forward_ops;

#endif
