/*
 * Loadable modules: the code that needs a large library lives in a shared object the daemon
 * loads only when the configuration uses it, so that a daemon without TLS or a RELP input does
 * not carry OpenSSL or librelp (with GnuTLS, p11-kit, nettle...) in its memory.
 *
 *   sluice_tls.so   OpenSSL: lib/tls.c, the tls input (inputs/tls.c), the forward output's TLS
 *                   client sessions (outputs/forward.c calls them through this table)
 *   sluice_relp.so  librelp: the relp input (inputs/relp.c); the relp output is sluice's own
 *                   client and stays in the core
 *
 * Each module exports one table, sl_tls_module or sl_relp_module (src/modules/), with the
 * version and size of the build it comes from; a table from another build is refused. A module
 * calls the core's functions (routing, messages, framing, addresses) directly: sluiced exports
 * its symbols (-rdynamic) and links every core object (docs/internals.md, "Modules").
 *
 * Where a module is looked for, in order: the directory of the running executable (a build
 * tree: build/sluiced next to build/sluice_tls.so), then $SLUICE_MODULE_DIR if set, else
 * SL_MODULE_DIR (the install's libdir/sluice). A module is loaded once, never unloaded
 * (OpenSSL keeps thread-local state and exit handlers that must outlive any session), and its
 * table is then returned at once.
 *
 * Concurrency: any thread may ask; a mutex serialises the loading and publishes the table. The
 * daemon asks on the main thread while it loads a configuration (so --check reports a missing
 * module), and the outputs keep the table they got, so no worker ever loads anything. A failed
 * load is not remembered: a reload after the module was installed tries again.
 */
#ifndef SL_MODULE_H
#define SL_MODULE_H

#include <stddef.h>

#include "core/engine.h"
#include "inputs/input.h"
#include "inputs/relp.h"
#include "inputs/tls.h"
#include "lib/tls.h"

/* The file names, as installed and as built. */
#define SL_MODULE_TLS_FILE  "sluice_tls.so"
#define SL_MODULE_RELP_FILE "sluice_relp.so"

/* What sluice_tls.so provides; see lib/tls.h and inputs/tls.h for each call. */
typedef struct sl_tls_module {
    const char *version; /* SL_VERSION of the module's build */
    size_t size;         /* sizeof(sl_tls_module_t) in the module's build */
    int (*input_create)(const char *name, const sl_tls_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen);
    int (*client_ctx)(const sl_tls_conf_t *conf, struct ssl_ctx_st **out, char *err, size_t errlen);
    void (*ctx_free)(struct ssl_ctx_st *ctx);
    int (*client_open)(struct ssl_ctx_st *ctx, int fd, const char *name, int timeout_ms,
                       struct ssl_st **out, const char **what, char *why, size_t len);
    int (*write)(struct ssl_st *ssl, const char *p, size_t len);
    int (*peer_closed)(struct ssl_st *ssl, int fd);
    void (*close)(struct ssl_st *ssl, int fd);
} sl_tls_module_t;

/* What sluice_relp.so provides; see inputs/relp.h. */
typedef struct sl_relp_module {
    const char *version;
    size_t size;
    int (*input_create)(const char *name, const sl_relp_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen);
} sl_relp_module_t;

/*
 * The module's table, loading the module the first time. NULL when it cannot be had, with a
 * sentence in err naming the module, every path tried and why each failed (dlerror), or saying
 * that this build lacks the library.
 */
const sl_tls_module_t *sl_module_tls(char *err, size_t errlen);
const sl_relp_module_t *sl_module_relp(char *err, size_t errlen);

/*
 * Where file would be loaded from (the first readable candidate), for --version: 0 with the path
 * in buf, or -ENOENT with the directories looked in, separated by ", ", in buf. Loads nothing.
 */
int sl_module_locate(const char *file, char *buf, size_t len);

#endif
