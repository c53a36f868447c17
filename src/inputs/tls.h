/*
 * The tls input: syslog over TLS (RFC 5425), octet-counted framing (LF framing is accepted too,
 * as rsyslog does, with `framing: auto`). See tls.c for how it is built and docs/tls-relp.md
 * for the settings.
 */
#ifndef SL_INPUT_TLS_H
#define SL_INPUT_TLS_H

#include <stddef.h>

#include "inputs/framing.h"
#include "inputs/input.h"
#include "lib/tls.h"

typedef struct sl_tls_input_conf {
    const char *listen;    /* "127.0.0.1:6514", "[::1]:6514", "*:6514" (default port 6514) */
    const char *port_file; /* write the bound port here (for port 0) */
    sl_framing_t framing;
    size_t max_message_size;
    unsigned max_connections; /* 0: no limit */
    const sl_tls_conf_t *tls; /* cert_file, key_file, ca_file, client_auth, allowed_peers */
} sl_tls_input_conf_t;

/*
 * Creates a tls input (not bound). The certificate files are read here, so that errors show in
 * --check; they are read again when a reload resumes the input, so a SIGHUP picks up renewed
 * certificates while open connections go on. Strings in conf are copied. Part of the sluice_tls
 * module: the core calls it through sl_module_tls()->input_create (core/module.h). In a build
 * without OpenSSL (unit tests only) this fails with -ENOTSUP and says so in err.
 */
int sl_tls_input_create(const char *name, const sl_tls_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen);

#endif
