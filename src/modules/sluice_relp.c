/*
 * The sluice_relp module's table: the relp input, on librelp, reached by the core only through
 * this (core/module.h). Built into sluice_relp.so with inputs/relp.c, and only when the build
 * has librelp. The relp output is sluice's own client and lives in the core.
 */
#include "core/module.h"
#include "sl_config.h"

/* The one symbol sluiced looks up in this module. */
extern const sl_relp_module_t sl_relp_module;

__attribute__((visibility("default"))) const sl_relp_module_t sl_relp_module = {
    .version = SL_VERSION,
    .size = sizeof(sl_relp_module_t),
    .input_create = sl_relp_input_create,
};
