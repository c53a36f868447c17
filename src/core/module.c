/*
 * Finding and loading the modules; see module.h.
 *
 * Loading happens under one mutex rather than pthread_once: pthread_once would also remember a
 * failure, and a daemon told to reload after the missing module was installed should find it.
 * The daemon asks on its main thread while loading a configuration, so the mutex is never
 * contended there; it makes the cache safe for any other caller.
 *
 * Every candidate is tried with dlopen(RTLD_NOW | RTLD_LOCAL): RTLD_NOW so that a module built
 * against another core (a symbol missing) fails here, with dlerror naming the symbol, rather
 * than at its first use in a worker; RTLD_LOCAL so that nothing the module brings (OpenSSL's
 * symbols, librelp's) can bind to later modules by accident.
 */
#include "core/module.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_config.h"

#define NCANDIDATES 2

typedef struct module_slot {
    const char *file;   /* "sluice_tls.so" */
    const char *symbol; /* the table's name */
    size_t size;        /* the table's size in this build */
    const void *table;  /* once loaded */
} module_slot_t;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static module_slot_t tls_slot = {SL_MODULE_TLS_FILE, "sl_tls_module", sizeof(sl_tls_module_t),
                                 NULL};
static module_slot_t relp_slot = {SL_MODULE_RELP_FILE, "sl_relp_module", sizeof(sl_relp_module_t),
                                  NULL};

/* The directories to look in, in order (see module.h); returns how many. */
static size_t candidate_dirs(char dirs[NCANDIDATES][PATH_MAX])
{
    size_t n = 0;
    ssize_t l = readlink("/proc/self/exe", dirs[n], PATH_MAX - 1);
    if (l > 0) {
        dirs[n][l] = '\0';
        char *slash = strrchr(dirs[n], '/');
        if (slash) {
            *slash = '\0';
            n++;
        }
    }
    /* secure_getenv: a set-user-ID sluiced would not take its modules from the caller. */
    const char *env = secure_getenv("SLUICE_MODULE_DIR");
    snprintf(dirs[n], PATH_MAX, "%s", env && env[0] ? env : SL_MODULE_DIR);
    /* The same directory twice (sluiced installed into the module directory) is tried once. */
    if (n == 0 || strcmp(dirs[0], dirs[n]) != 0)
        n++;
    return n;
}

/* dir/file into path; false when it does not fit. */
static bool join(char *path, size_t len, const char *dir, const char *file)
{
    int n = snprintf(path, len, "%s/%s", dir, file);
    return n >= 0 && (size_t)n < len;
}

/* Appends to buf (which holds a string) what fits of the formatted text. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt,
                                                         ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Tries path; the table, or NULL with why appended to err. */
static const void *try_load(const module_slot_t *m, const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        size_t pl = strlen(path);
        /* dlerror usually starts with the path already. */
        if (why && strncmp(why, path, pl) == 0 && strncmp(why + pl, ": ", 2) == 0)
            why += pl + 2;
        append(err, errlen, "%s: %s", path, why ? why : "cannot load");
        return NULL;
    }
    const struct {
        const char *version;
        size_t size;
    } *head = dlsym(h, m->symbol);
    if (!head) {
        const char *why = dlerror();
        append(err, errlen, "%s: %s", path, why ? why : "no module table");
    } else if (strcmp(head->version, SL_VERSION) != 0 || head->size != m->size) {
        append(err, errlen, "%s: built for sluice %s, this is sluice %s (or another build of it)",
               path, head->version, SL_VERSION);
        head = NULL;
    }
    /* A module that did not fit is left loaded as well: it may have started its libraries'
     * threads or exit handlers, which must not lose their code. */
    return head;
}

static const void *module_get(module_slot_t *m, char *err, size_t errlen)
{
    pthread_mutex_lock(&load_lock);
    const void *table = m->table;
    if (!table) {
        char dirs[NCANDIDATES][PATH_MAX];
        size_t n = candidate_dirs(dirs);
        snprintf(err, errlen, "cannot load module %s, tried ", m->file);
        for (size_t i = 0; i < n && !table; i++) {
            char path[PATH_MAX];
            if (i > 0)
                append(err, errlen, "; ");
            if (!join(path, sizeof(path), dirs[i], m->file))
                append(err, errlen, "%s: %s", dirs[i], strerror(ENAMETOOLONG));
            else
                table = try_load(m, path, err, errlen);
        }
        if (!table)
            append(err, errlen, " (set SLUICE_MODULE_DIR to the directory that holds it)");
        m->table = table;
    }
    pthread_mutex_unlock(&load_lock);
    return table;
}

const sl_tls_module_t *sl_module_tls(char *err, size_t errlen)
{
    if (!SL_HAVE_OPENSSL) {
        snprintf(err, errlen, "TLS needs OpenSSL, which this build lacks");
        return NULL;
    }
    return module_get(&tls_slot, err, errlen);
}

const sl_relp_module_t *sl_module_relp(char *err, size_t errlen)
{
    if (!SL_HAVE_RELP) {
        snprintf(err, errlen, "RELP input needs librelp, which this build lacks");
        return NULL;
    }
    return module_get(&relp_slot, err, errlen);
}

int sl_module_locate(const char *file, char *buf, size_t len)
{
    char dirs[NCANDIDATES][PATH_MAX];
    size_t n = candidate_dirs(dirs);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (join(path, sizeof(path), dirs[i], file) && access(path, R_OK) == 0) {
            snprintf(buf, len, "%s", path);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        append(buf, len, "%s%s", i ? ", " : "", dirs[i]);
    return -ENOENT;
}
