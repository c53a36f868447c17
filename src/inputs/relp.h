/*
 * The relp input: RELP (the Reliable Event Logging Protocol of rsyslog's imrelp/omrelp) with
 * librelp. A message is acknowledged to the sender only once it is in every matching action's
 * queue, so a sender that keeps unacknowledged messages (omrelp, sluice's relp output) loses
 * none when this daemon goes away. See relp.c and docs/tls-relp.md.
 */
#ifndef SL_INPUT_RELP_H
#define SL_INPUT_RELP_H

#include <stddef.h>

#include "inputs/input.h"

typedef struct sl_relp_input_conf {
    const char *listen;    /* "127.0.0.1:2514", "*:2514" (default port 2514) */
    const char *port_file; /* write the bound port here (for port 0 with one address) */
    size_t max_message_size;
} sl_relp_input_conf_t;

/* Creates a relp input (not bound). Strings are copied. Part of the sluice_relp module: the core
 * calls it through sl_module_relp()->input_create (core/module.h). Without librelp this fails
 * with -ENOTSUP and says so in err. */
int sl_relp_input_create(const char *name, const sl_relp_input_conf_t *conf, sl_engine_t *engine,
                         sl_input_t **out, char *err, size_t errlen);

#endif
