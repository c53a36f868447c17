/*
 * The file output: formatted records appended to files, the path itself possibly a template
 * (one file per host, per program, ...). See file.c for the buffering and reopen rules.
 */
#ifndef SL_OUTPUT_FILE_H
#define SL_OUTPUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/template.h"
#include "outputs/output.h"

typedef struct sl_file_conf {
    const char *path;          /* a path, or a template string with ${field} for dynamic files */
    const sl_template_t *tmpl; /* the record format (not owned) */
    mode_t file_mode;          /* for files we create (default 0640) */
    mode_t dir_mode;           /* for directories we create (default 0755) */
    uid_t uid;                 /* owner given to created files, (uid_t)-1 to leave it */
    gid_t gid;                 /* group given to created files, (gid_t)-1 to leave it */
    size_t buffer_size; /* per open file; a full buffer is written at once (default 64 KiB) */
    unsigned max_open;  /* open files kept for dynamic paths, least recently used closed */
    bool fsync;         /* fdatasync after every flush */
    bool create_dirs;   /* make missing parent directories (default true) */
} sl_file_conf_t;

/* Defaults for every field but path and tmpl. */
void sl_file_conf_defaults(sl_file_conf_t *c);

/* Creates an instance for one worker. Files are opened on first write. 0 or -errno with err. */
int sl_file_create(const sl_file_conf_t *conf, void **inst, char *err, size_t errlen);

extern const sl_output_ops_t sl_file_ops;

#endif
