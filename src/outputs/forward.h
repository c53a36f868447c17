/*
 * The forward output: messages to another syslog server over UDP, TCP (RFC 6587 octet-counting
 * or LF framing) or TLS (RFC 5425: TCP's framing inside a TLS session). See forward.c.
 */
#ifndef SL_OUTPUT_FORWARD_H
#define SL_OUTPUT_FORWARD_H

#include <stddef.h>

#include "core/template.h"
#include "lib/tls.h"
#include "outputs/output.h"

enum sl_fwd_protocol { SL_FWD_UDP, SL_FWD_TCP, SL_FWD_TLS };
enum sl_fwd_framing { SL_FWD_OCTET_COUNTED, SL_FWD_LF };

typedef struct sl_forward_conf {
    const char *target; /* "host:port", "[v6]:port" */
    int protocol;       /* enum sl_fwd_protocol */
    int framing;        /* enum sl_fwd_framing (TCP and TLS) */
    const sl_template_t *tmpl;
    int connect_timeout_ms;   /* also the TLS handshake's limit */
    const sl_tls_conf_t *tls; /* TLS: ca_file, cert_file, key_file, server_name */
} sl_forward_conf_t;

/* Creates one instance (one connection). With protocol TLS the sluice_tls module is loaded
 * (core/module.h) and the client context built here, so a missing module and certificate
 * problems show in --check; without OpenSSL that fails with -ENOTSUP. */
int sl_forward_create(const sl_forward_conf_t *conf, void **inst, char *err, size_t errlen);

extern const sl_output_ops_t sl_forward_ops;

#endif
