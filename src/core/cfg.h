/*
 * The generic configuration layer: a small tree of YAML nodes, error lists with positions, and
 * per-module key tables that fill a module's configuration struct.
 *
 * Loading and checking are split on purpose. The loader (libyaml's event API) only builds a
 * tree of maps, lists and scalars, each node carrying the file, line and column it came from;
 * every scalar is kept as text. Types come later, from the module that owns a map: it declares a
 * table of keys (name, type, default, offset into its struct, one line of help) and calls
 * sl_cfg_apply(). The same table checks the config, fills the struct and prints the help, so a
 * key cannot be documented in one place and parsed differently in another (STYLE.md, "config
 * keys as data"). Because scalars stay untyped until a table reads them, `port: 514` and
 * `port: "514"` mean the same, and `name: yes` is the string "yes", not a boolean.
 *
 * The legacy syslog.conf reader (cfg_legacy.h) builds the same tree, so the daemon handles one
 * model whatever the input format.
 *
 * Errors are collected, not returned one at a time: a loader or sl_cfg_apply() appends each
 * problem to an sl_cfg_errs_t (up to a limit) and carries on where it can, so `sluiced --check`
 * prints every problem of a config in one run. Every message reads "FILE:LINE:COL: what was
 * expected".
 *
 * No shared state: a document, its nodes and an error list belong to the thread that made them
 * (the daemon's main thread while it loads and checks the config). A loaded document is not
 * changed afterwards, so modules may keep pointers into it (SL_CFG_NODE keys) for as long as the
 * document lives.
 */
#ifndef SL_CFG_H
#define SL_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a node or a problem is: file name and 1-based line and column (0 when unknown). */
typedef struct sl_cfg_pos {
    const char *file;
    unsigned line;
    unsigned col;
} sl_cfg_pos_t;

/* ---- Errors ---------------------------------------------------------------------------- */

/* One problem. Owns copies of its strings, so it outlives the document it describes. */
typedef struct sl_cfg_err {
    char *file; /* NULL when the problem has no file (a missing section, say) */
    unsigned line;
    unsigned col;
    char *msg;
} sl_cfg_err_t;

#define SL_CFG_ERRS_MAX 50 /* default limit on how many problems a list keeps */

/*
 * A list of problems. Zero-initialise it (SL_CFG_ERRS_INIT); `max` 0 means SL_CFG_ERRS_MAX.
 * Problems beyond the limit, or that could not be stored for lack of memory, are only counted
 * in `dropped`, so sl_cfg_errs_count() is always the true number.
 */
typedef struct sl_cfg_errs {
    sl_cfg_err_t *v;
    size_t n;
    size_t cap;
    size_t dropped;
    size_t max;
} sl_cfg_errs_t;

#define SL_CFG_ERRS_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Appends a problem at `pos` (NULL: no position). Never fails: see `dropped`. */
void sl_cfg_errs_add(sl_cfg_errs_t *errs, const sl_cfg_pos_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How many problems were reported, kept or not. */
size_t sl_cfg_errs_count(const sl_cfg_errs_t *errs);

/*
 * Formats one problem as "file:line:col: message" ("file: message" without a line, "message"
 * without a file) into buf, always NUL-terminated. Returns the length the full text needs, like
 * snprintf.
 */
int sl_cfg_err_format(const sl_cfg_err_t *e, char *buf, size_t size);

/*
 * Prints every kept problem, one a line. `kind` (e.g. "warning"), when not NULL, goes after the
 * position as in compilers: "file:3:5: warning: ...". A last line says how many were left out.
 */
void sl_cfg_errs_print(const sl_cfg_errs_t *errs, FILE *fp, const char *kind);

void sl_cfg_errs_free(sl_cfg_errs_t *errs);

/* ---- The node tree --------------------------------------------------------------------- */

typedef enum sl_cfg_node_type {
    SL_CFG_SCALAR = 1,
    SL_CFG_MAP,
    SL_CFG_LIST,
} sl_cfg_node_type_t;

typedef struct sl_cfg_node sl_cfg_node_t;

/* One key of a map, with the position of the key itself (the value has its own). */
typedef struct sl_cfg_pair {
    char *key;
    sl_cfg_pos_t key_pos;
    sl_cfg_node_t *value;
} sl_cfg_pair_t;

struct sl_cfg_node {
    sl_cfg_node_type_t type;
    sl_cfg_pos_t pos;
    /* SL_CFG_SCALAR: the text, NUL-terminated; `len` excludes the terminator and counts any
     * NUL byte inside (a YAML "\0" escape). `quoted` tells 'x' or "x" from plain x. */
    char *str;
    size_t len;
    bool quoted;
    /* SL_CFG_MAP: `n` pairs in the order written. SL_CFG_LIST: `n` items. */
    size_t n;
    size_t cap;
    sl_cfg_pair_t *pairs;
    sl_cfg_node_t **items;
};

/*
 * A loaded configuration: the root node (NULL for an empty document) and the file names the
 * nodes' positions point to (interned here so that a node carries a pointer, not a copy).
 */
typedef struct sl_cfg_doc {
    sl_cfg_node_t *root;
    char **files;
    size_t nfiles;
} sl_cfg_doc_t;

sl_cfg_doc_t *sl_cfg_doc_new(void);
/* A copy of `file` owned by the document (the same pointer for the same name), or NULL. */
const char *sl_cfg_doc_intern(sl_cfg_doc_t *doc, const char *file);
void sl_cfg_doc_free(sl_cfg_doc_t *doc);

/* Node construction, for loaders and tests. A node given to a map or list is owned by it. */
sl_cfg_node_t *sl_cfg_node_new_scalar(const char *s, size_t len, const sl_cfg_pos_t *pos);
sl_cfg_node_t *sl_cfg_node_new_map(const sl_cfg_pos_t *pos);
sl_cfg_node_t *sl_cfg_node_new_list(const sl_cfg_pos_t *pos);
/* 0, -EEXIST (the key is there already; nothing changed) or -ENOMEM. On failure the caller
 * still owns `value`. */
int sl_cfg_map_add(sl_cfg_node_t *map, const char *key, const sl_cfg_pos_t *key_pos,
                   sl_cfg_node_t *value);
/* 0 or -ENOMEM (the caller still owns `item`). */
int sl_cfg_list_add(sl_cfg_node_t *list, sl_cfg_node_t *item);
void sl_cfg_node_free(sl_cfg_node_t *node);

/* The pair for `key` in a map, or NULL (also when `map` is NULL or not a map). */
const sl_cfg_pair_t *sl_cfg_map_find(const sl_cfg_node_t *map, const char *key);
/* The value for `key`, or NULL. */
const sl_cfg_node_t *sl_cfg_map_get(const sl_cfg_node_t *map, const char *key);
/* A plain scalar that YAML reads as null: empty, "~", "null", "Null", "NULL". */
bool sl_cfg_node_is_null(const sl_cfg_node_t *node);
/* "a map", "a list", "a string" or "nothing", for messages. */
const char *sl_cfg_node_kind(const sl_cfg_node_t *node);
/* Same shape and text, ignoring positions and quoting; map keys compared in any order. */
bool sl_cfg_node_equal(const sl_cfg_node_t *a, const sl_cfg_node_t *b);

/* ---- Loading YAML ---------------------------------------------------------------------- */

/*
 * Loads one YAML document. On success *out is a new document (free it with sl_cfg_doc_free)
 * and 0 is returned. Otherwise *out is NULL, every problem found is in `errs`, and the result is
 * -EINVAL (the text is wrong), -ENOENT/-EACCES/... (the file cannot be read) or -ENOMEM.
 * Refused: YAML syntax errors, several documents, duplicate keys, keys that are not plain text,
 * anchors and aliases, tags other than YAML's standard ones (!!str, ...), nesting deeper than
 * SL_CFG_MAX_DEPTH. `name` is the file name used in positions.
 */
#define SL_CFG_MAX_DEPTH     64
#define SL_CFG_MAX_FILE_SIZE (16u << 20)
int sl_cfg_load_yaml_file(const char *path, sl_cfg_doc_t **out, sl_cfg_errs_t *errs);
int sl_cfg_load_yaml_string(const char *text, size_t len, const char *name, sl_cfg_doc_t **out,
                            sl_cfg_errs_t *errs);

/* Reads a whole file (at most SL_CFG_MAX_FILE_SIZE bytes) into a NUL-terminated buffer the
 * caller frees. 0 or a negative errno; a problem is added to `errs` (with `path`). */
int sl_cfg_read_file(const char *path, char **text, size_t *len, sl_cfg_errs_t *errs);

/* ---- Key tables ------------------------------------------------------------------------ */

/*
 * Key types, and the C type of the struct member at `offset`:
 *   SL_CFG_STR       char *       a copy (strdup) the struct owns; sl_cfg_release() frees it.
 *                                  NULL when absent and without default.
 *   SL_CFG_BOOL      bool         true/false, yes/no, on/off (any case).
 *   SL_CFG_INT       int64_t      decimal integer within [min, max].
 *   SL_CFG_SIZE      uint64_t     bytes: "4096", "64KiB", "10MB", "1.5GiB" (KB/MB/GB/TB are
 *                                  powers of 1000, KiB/MiB/GiB/TiB of 1024), within [min, max].
 *   SL_CFG_DURATION  int64_t      milliseconds: "100ms", "5s", "1m", "2h", "1d", "1h30m",
 *                                  "1.5s"; a plain number is seconds. Within [min, max] (in ms).
 *   SL_CFG_ENUM      int          index into `choices` (matched in any case).
 *   SL_CFG_MODE      unsigned     file permission bits in octal: "0640", "640".
 *   SL_CFG_NODE      const sl_cfg_node_t *   the raw node, for nested things the module reads
 *                                  itself (e.g. `queue: {...}`); borrowed from the document.
 *
 * Bounds: `min` always applies (0 unless set, so negative numbers are refused unless a table
 * allows them); `max` 0 means no upper bound.
 */
typedef enum sl_cfg_type {
    SL_CFG_STR = 1,
    SL_CFG_BOOL,
    SL_CFG_INT,
    SL_CFG_SIZE,
    SL_CFG_DURATION,
    SL_CFG_ENUM,
    SL_CFG_MODE,
    SL_CFG_NODE,
} sl_cfg_type_t;

/*
 * One key of a module's table. Tables end with an entry whose name is NULL ({0}).
 * `def` is the default written as a user would write it ("64KiB", "5s", "tcp"), so the help
 * shows it in the same form; NULL means none (zero, false, NULL, index 0 for an enum).
 */
typedef struct sl_cfg_key {
    const char *name;
    sl_cfg_type_t type;
    bool required;
    size_t offset;
    const char *def;
    int64_t min;
    int64_t max;
    const char *const *choices; /* SL_CFG_ENUM: NULL-terminated */
    const char *help;
} sl_cfg_key_t;

/*
 * Fills `obj` from `map`: first every key of the table gets its default, then each key of the
 * map is checked and stored. `map` NULL is an absent section (only defaults; required keys are
 * missing). Problems go to `errs`: an unknown key (with the closest known one, "did you mean
 * 'path'?"), a value of the wrong type ("expected a size like 64KiB, 10MB or 4096"), a missing
 * required key (at the map's position). Every problem of the map is reported, not just the first.
 * Returns 0, -EINVAL (problems were reported) or -ENOMEM. Whatever the result, the struct's
 * strings belong to it afterwards: call sl_cfg_release() when done. `obj` must not hold strings
 * from an earlier apply (they would leak): release first.
 */
int sl_cfg_apply(const sl_cfg_node_t *map, const sl_cfg_key_t *keys, void *obj,
                 sl_cfg_errs_t *errs);

/* Frees the strings sl_cfg_apply() stored in `obj` and sets them to NULL. */
void sl_cfg_release(const sl_cfg_key_t *keys, void *obj);

/* One line per key: name, type (with bounds or choices), default or "required", help. */
void sl_cfg_print_help(const sl_cfg_key_t *keys, FILE *fp);

/*
 * Checks a table itself, for the modules' unit tests: names unique and set, help present,
 * defaults that parse for their type, choices for enums, no default on required or node keys.
 * 0 or -EINVAL with the problems in `errs`.
 */
int sl_cfg_keys_check(const sl_cfg_key_t *keys, sl_cfg_errs_t *errs);

/*
 * The value parsers sl_cfg_apply() uses, for modules with their own syntax (0 or -EINVAL).
 * Text must be NUL-terminated.
 */
int sl_cfg_parse_bool(const char *s, bool *out);
int sl_cfg_parse_int(const char *s, int64_t *out);
int sl_cfg_parse_size(const char *s, uint64_t *out);
int sl_cfg_parse_duration(const char *s, int64_t *ms);
int sl_cfg_parse_mode(const char *s, unsigned *out);

/* The closest of `names` (NULL-terminated) to `word`, if close enough to suggest, else NULL. */
const char *sl_cfg_suggest(const char *word, const char *const *names);

#endif
