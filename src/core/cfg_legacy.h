/*
 * Reading a classic syslog.conf (sysklogd, rsyslog's legacy format and its common RainerScript
 * one-liners) for migration, and choosing between it and YAML.
 *
 * The reader produces the same node tree (cfg.h) that the YAML loader gives for the equivalent
 * YAML, so the daemon has one model: `*.*;auth.none -/var/log/syslog` becomes the action
 * {type: file, path: /var/log/syslog, select: "*.*;auth.none", sync: false}, and every node
 * carries the line and column of the legacy file it came from, so later errors (from the
 * modules' key tables, or the selector compiler) point into that file. What has no equivalent
 * is not guessed at: it is left out and reported as a warning naming file and line, so the daemon
 * can print the list and the user can see what a migration drops. docs/configuration.md has the
 * whole mapping.
 *
 * No shared state: like cfg.c, everything here works on objects the caller owns.
 */
#ifndef SL_CFG_LEGACY_H
#define SL_CFG_LEGACY_H

#include <stddef.h>

#include "core/cfg.h"

typedef enum sl_cfg_format {
    SL_CFG_FORMAT_AUTO = 0,
    SL_CFG_FORMAT_YAML,
    SL_CFG_FORMAT_LEGACY,
} sl_cfg_format_t;

/*
 * YAML when the first line that is neither blank nor a comment looks like YAML (`key:`,
 * `- item`, `---`, `%YAML`, a flow `{`/`[`, a quoted key), else LEGACY. An empty file is YAML
 * (an empty config).
 */
sl_cfg_format_t sl_cfg_detect_format(const char *text, size_t len);

/*
 * Reads a legacy syslog.conf into a document whose root map has `work_dir`, `inputs` and
 * `actions` (each only when something maps to it). Returns 0 with *out set, or -EINVAL /
 * -ENOMEM / a file error with *out NULL and the problems in `errs`. Constructs that are valid
 * in rsyslog but have no equivalent go to `warns` (may be NULL) and do not fail the load.
 * `$IncludeConfig` and include() are followed (globs, sorted; relative paths from the including
 * file's directory), up to SL_CFG_LEGACY_MAX_INCLUDE levels.
 */
#define SL_CFG_LEGACY_MAX_INCLUDE 16
int sl_cfg_legacy_load_file(const char *path, sl_cfg_doc_t **out, sl_cfg_errs_t *errs,
                            sl_cfg_errs_t *warns);
int sl_cfg_legacy_load_string(const char *text, size_t len, const char *name, sl_cfg_doc_t **out,
                              sl_cfg_errs_t *errs, sl_cfg_errs_t *warns);

/*
 * Loads a config file in the given format; SL_CFG_FORMAT_AUTO decides with
 * sl_cfg_detect_format(). Same results as the loaders above (YAML gives no warnings).
 */
int sl_cfg_load(const char *path, sl_cfg_format_t format, sl_cfg_doc_t **out, sl_cfg_errs_t *errs,
                sl_cfg_errs_t *warns);

#endif
