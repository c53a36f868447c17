/*
 * The sluice_tls module's table: everything of sluice that needs OpenSSL, reached by the core
 * only through this (core/module.h). Built into sluice_tls.so with lib/tls.c and inputs/tls.c,
 * and only when the build has OpenSSL.
 */
#include "core/module.h"
#include "sl_config.h"

/* The one symbol sluiced looks up in this module. */
extern const sl_tls_module_t sl_tls_module;

__attribute__((visibility("default"))) const sl_tls_module_t sl_tls_module = {
    .version = SL_VERSION,
    .size = sizeof(sl_tls_module_t),
    .input_create = sl_tls_input_create,
    .client_ctx = sl_tls_client_ctx,
    .ctx_free = sl_tls_ctx_free,
    .client_open = sl_tls_client_open,
    .write = sl_tls_write,
    .peer_closed = sl_tls_peer_closed,
    .close = sl_tls_close,
};
