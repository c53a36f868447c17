/*
 * The generic configuration layer: error lists, the node tree, the YAML loader and the key
 * tables (see cfg.h for the model).
 *
 * The loader uses libyaml's event API rather than its document API: events carry the start mark
 * of every scalar, mapping and sequence, which is all the positions we need, and building our own
 * small tree directly avoids a second pass over yaml_document_t and lets us refuse anchors,
 * aliases and duplicate keys at the event where they occur, with that event's position. The file
 * is read whole into memory first (configs are small; the limit is SL_CFG_MAX_FILE_SIZE) so that
 * the format detection of cfg_legacy.c and libyaml's reader-error offsets work on the same bytes.
 *
 * Values are typed only when a key table reads them (sl_cfg_apply); the parsers for each type
 * are here too, with overflow checks, and are the ones the help's defaults go through.
 *
 * No shared state (see cfg.h): everything here works on objects the caller owns.
 */
#include "core/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "lib/sl_assert.h"
#include "lib/strbuf.h"

/* ---- Errors ---------------------------------------------------------------------------- */

void sl_cfg_errs_add(sl_cfg_errs_t *errs, const sl_cfg_pos_t *pos, const char *fmt, ...)
{
    if (!errs)
        return;
    size_t max = errs->max ? errs->max : SL_CFG_ERRS_MAX;
    if (errs->n >= max)
        goto drop;
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        sl_cfg_err_t *v = realloc(errs->v, cap * sizeof(*v));
        if (!v)
            goto drop;
        errs->v = v;
        errs->cap = cap;
    }
    sl_cfg_err_t *e = &errs->v[errs->n];
    memset(e, 0, sizeof(*e));
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    e->msg = need < 0 ? NULL : malloc((size_t)need + 1);
    if (e->msg)
        vsnprintf(e->msg, (size_t)need + 1, fmt, ap2);
    va_end(ap2);
    if (!e->msg)
        goto drop;
    if (pos && pos->file) {
        e->file = strdup(pos->file);
        if (!e->file) {
            free(e->msg);
            goto drop;
        }
    }
    if (pos) {
        e->line = pos->line;
        e->col = pos->col;
    }
    errs->n++;
    return;
drop:
    errs->dropped++;
}

size_t sl_cfg_errs_count(const sl_cfg_errs_t *errs)
{
    return errs ? errs->n + errs->dropped : 0;
}

int sl_cfg_err_format(const sl_cfg_err_t *e, char *buf, size_t size)
{
    const char *msg = e->msg ? e->msg : "";
    if (!e->file)
        return snprintf(buf, size, "%s", msg);
    if (!e->line)
        return snprintf(buf, size, "%s: %s", e->file, msg);
    if (!e->col)
        return snprintf(buf, size, "%s:%u: %s", e->file, e->line, msg);
    return snprintf(buf, size, "%s:%u:%u: %s", e->file, e->line, e->col, msg);
}

void sl_cfg_errs_print(const sl_cfg_errs_t *errs, FILE *fp, const char *kind)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++) {
        const sl_cfg_err_t *e = &errs->v[i];
        char where[64];
        if (!e->file)
            fprintf(fp, "%s%s%s\n", kind ? kind : "", kind ? ": " : "", e->msg);
        else {
            if (!e->line)
                where[0] = '\0';
            else if (!e->col)
                snprintf(where, sizeof(where), ":%u", e->line);
            else
                snprintf(where, sizeof(where), ":%u:%u", e->line, e->col);
            fprintf(fp, "%s%s: %s%s%s\n", e->file, where, kind ? kind : "", kind ? ": " : "",
                    e->msg);
        }
    }
    if (errs->dropped)
        fprintf(fp, "... and %zu more\n", errs->dropped);
}

void sl_cfg_errs_free(sl_cfg_errs_t *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++) {
        free(errs->v[i].file);
        free(errs->v[i].msg);
    }
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = errs->dropped = 0;
}

/* ---- Nodes and documents --------------------------------------------------------------- */

sl_cfg_doc_t *sl_cfg_doc_new(void)
{
    return calloc(1, sizeof(sl_cfg_doc_t));
}

const char *sl_cfg_doc_intern(sl_cfg_doc_t *doc, const char *file)
{
    for (size_t i = 0; i < doc->nfiles; i++)
        if (strcmp(doc->files[i], file) == 0)
            return doc->files[i];
    char **v = realloc(doc->files, (doc->nfiles + 1) * sizeof(*v));
    if (!v)
        return NULL;
    doc->files = v;
    char *copy = strdup(file);
    if (!copy)
        return NULL;
    doc->files[doc->nfiles++] = copy;
    return copy;
}

void sl_cfg_doc_free(sl_cfg_doc_t *doc)
{
    if (!doc)
        return;
    sl_cfg_node_free(doc->root);
    for (size_t i = 0; i < doc->nfiles; i++)
        free(doc->files[i]);
    free(doc->files);
    free(doc);
}

static sl_cfg_node_t *node_new(sl_cfg_node_type_t type, const sl_cfg_pos_t *pos)
{
    sl_cfg_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = type;
    if (pos)
        n->pos = *pos;
    return n;
}

sl_cfg_node_t *sl_cfg_node_new_scalar(const char *s, size_t len, const sl_cfg_pos_t *pos)
{
    sl_cfg_node_t *n = node_new(SL_CFG_SCALAR, pos);
    if (!n)
        return NULL;
    n->str = malloc(len + 1);
    if (!n->str) {
        free(n);
        return NULL;
    }
    if (len)
        memcpy(n->str, s, len);
    n->str[len] = '\0';
    n->len = len;
    return n;
}

sl_cfg_node_t *sl_cfg_node_new_map(const sl_cfg_pos_t *pos)
{
    return node_new(SL_CFG_MAP, pos);
}

sl_cfg_node_t *sl_cfg_node_new_list(const sl_cfg_pos_t *pos)
{
    return node_new(SL_CFG_LIST, pos);
}

static int grow(sl_cfg_node_t *n, size_t elem)
{
    if (n->n < n->cap)
        return 0;
    size_t cap = n->cap ? n->cap * 2 : 4;
    void *old = n->type == SL_CFG_MAP ? (void *)n->pairs : (void *)n->items;
    void *v = realloc(old, cap * elem);
    if (!v)
        return -ENOMEM;
    if (n->type == SL_CFG_MAP)
        n->pairs = v;
    else
        n->items = v;
    n->cap = cap;
    return 0;
}

int sl_cfg_map_add(sl_cfg_node_t *map, const char *key, const sl_cfg_pos_t *key_pos,
                   sl_cfg_node_t *value)
{
    sl_assert(map && map->type == SL_CFG_MAP);
    if (sl_cfg_map_find(map, key))
        return -EEXIST;
    if (grow(map, sizeof(sl_cfg_pair_t)) < 0)
        return -ENOMEM;
    char *k = strdup(key);
    if (!k)
        return -ENOMEM;
    sl_cfg_pair_t *p = &map->pairs[map->n++];
    p->key = k;
    p->key_pos = key_pos ? *key_pos : (sl_cfg_pos_t){0};
    p->value = value;
    return 0;
}

int sl_cfg_list_add(sl_cfg_node_t *list, sl_cfg_node_t *item)
{
    sl_assert(list && list->type == SL_CFG_LIST);
    if (grow(list, sizeof(sl_cfg_node_t *)) < 0)
        return -ENOMEM;
    list->items[list->n++] = item;
    return 0;
}

void sl_cfg_node_free(sl_cfg_node_t *node)
{
    if (!node)
        return;
    if (node->type == SL_CFG_MAP) {
        for (size_t i = 0; i < node->n; i++) {
            free(node->pairs[i].key);
            sl_cfg_node_free(node->pairs[i].value);
        }
    } else if (node->type == SL_CFG_LIST) {
        for (size_t i = 0; i < node->n; i++)
            sl_cfg_node_free(node->items[i]);
    }
    free(node->pairs);
    free(node->items);
    free(node->str);
    free(node);
}

const sl_cfg_pair_t *sl_cfg_map_find(const sl_cfg_node_t *map, const char *key)
{
    if (!map || map->type != SL_CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key, key) == 0)
            return &map->pairs[i];
    return NULL;
}

const sl_cfg_node_t *sl_cfg_map_get(const sl_cfg_node_t *map, const char *key)
{
    const sl_cfg_pair_t *p = sl_cfg_map_find(map, key);
    return p ? p->value : NULL;
}

bool sl_cfg_node_is_null(const sl_cfg_node_t *node)
{
    if (!node || node->type != SL_CFG_SCALAR || node->quoted)
        return false;
    const char *s = node->str;
    return node->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *sl_cfg_node_kind(const sl_cfg_node_t *node)
{
    if (!node || sl_cfg_node_is_null(node))
        return "nothing";
    switch (node->type) {
    case SL_CFG_MAP:
        return "a map";
    case SL_CFG_LIST:
        return "a list";
    default:
        return "a string";
    }
}

bool sl_cfg_node_equal(const sl_cfg_node_t *a, const sl_cfg_node_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type || a->n != b->n)
        return false;
    switch (a->type) {
    case SL_CFG_SCALAR:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case SL_CFG_LIST:
        for (size_t i = 0; i < a->n; i++)
            if (!sl_cfg_node_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case SL_CFG_MAP:
        for (size_t i = 0; i < a->n; i++) {
            const sl_cfg_node_t *bv = sl_cfg_map_get(b, a->pairs[i].key);
            if (!bv || !sl_cfg_node_equal(a->pairs[i].value, bv))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- Reading files --------------------------------------------------------------------- */

int sl_cfg_read_file(const char *path, char **text, size_t *len, sl_cfg_errs_t *errs)
{
    sl_cfg_pos_t pos = {.file = path};
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        sl_cfg_errs_add(errs, &pos, "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        sl_cfg_errs_add(errs, &pos, "cannot read: %s", strerror(e));
        close(fd);
        return -e;
    }
    sl_strbuf_t b = SL_STRBUF_INIT;
    int rc = 0;
    for (;;) {
        if (sl_strbuf_reserve(&b, 65536) < 0) {
            rc = -ENOMEM;
            sl_cfg_errs_add(errs, &pos, "out of memory");
            goto fail;
        }
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            sl_cfg_errs_add(errs, &pos, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
        if (b.len > SL_CFG_MAX_FILE_SIZE) {
            rc = -EFBIG;
            sl_cfg_errs_add(errs, &pos, "file larger than %u MiB", SL_CFG_MAX_FILE_SIZE >> 20);
            goto fail;
        }
    }
    if (sl_strbuf_putc(&b, '\0') < 0) {
        rc = -ENOMEM;
        sl_cfg_errs_add(errs, &pos, "out of memory");
        goto fail;
    }
    close(fd);
    *text = b.data;
    *len = b.len - 1;
    return 0;
fail:
    close(fd);
    sl_strbuf_free(&b);
    return rc;
}

/* ---- YAML loader ----------------------------------------------------------------------- */

struct yload {
    yaml_parser_t parser;
    sl_cfg_doc_t *doc;
    const char *file; /* interned */
    const char *text;
    size_t len;
    sl_cfg_errs_t *errs;
    bool bad;   /* a problem was reported; the load fails at the end */
    bool fatal; /* stop: a syntax error, nesting too deep, or no memory */
    bool nomem;
};

static sl_cfg_pos_t mark_pos(const struct yload *y, yaml_mark_t m)
{
    return (sl_cfg_pos_t){
        .file = y->file, .line = (unsigned)m.line + 1, .col = (unsigned)m.column + 1};
}

/* Line and column (in bytes) of a byte offset, for reader errors that carry only an offset. */
static sl_cfg_pos_t offset_pos(const struct yload *y, size_t off)
{
    sl_cfg_pos_t p = {.file = y->file, .line = 1, .col = 1};
    for (size_t i = 0; i < off && i < y->len; i++) {
        if (y->text[i] == '\n') {
            p.line++;
            p.col = 1;
        } else {
            p.col++;
        }
    }
    return p;
}

static void report_parser_error(struct yload *y)
{
    const yaml_parser_t *p = &y->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    sl_cfg_pos_t pos;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        y->nomem = true;
        sl_cfg_errs_add(y->errs, &(sl_cfg_pos_t){.file = y->file}, "out of memory");
        return;
    case YAML_READER_ERROR:
        pos = offset_pos(y, p->problem_offset);
        if (p->problem_value != -1)
            sl_cfg_errs_add(y->errs, &pos, "%s (byte 0x%02x)", problem, p->problem_value & 0xff);
        else
            sl_cfg_errs_add(y->errs, &pos, "%s", problem);
        return;
    default:
        pos = mark_pos(y, p->problem_mark);
        if (p->context)
            sl_cfg_errs_add(y->errs, &pos, "%s (%s at line %zu, column %zu)", problem, p->context,
                            p->context_mark.line + 1, p->context_mark.column + 1);
        else
            sl_cfg_errs_add(y->errs, &pos, "%s", problem);
        return;
    }
}

/* Next event; false (after reporting) on a syntax error. */
static bool next_event(struct yload *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->parser, ev))
        return true;
    report_parser_error(y);
    y->bad = y->fatal = true;
    return false;
}

static void problem(struct yload *y, yaml_mark_t m, const char *msg)
{
    sl_cfg_pos_t pos = mark_pos(y, m);
    sl_cfg_errs_add(y->errs, &pos, "%s", msg);
    y->bad = true;
}

static void out_of_memory(struct yload *y)
{
    if (!y->nomem)
        sl_cfg_errs_add(y->errs, &(sl_cfg_pos_t){.file = y->file}, "out of memory");
    y->nomem = y->fatal = y->bad = true;
}

/* Refuses anchors and tags outside YAML's standard set (!!str, !!int, ...). */
static void check_props(struct yload *y, yaml_mark_t m, const yaml_char_t *anchor,
                        const yaml_char_t *tag)
{
    if (anchor)
        problem(y, m, "anchors (&name) and aliases (*name) are not supported; write the value out");
    if (tag && strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0 &&
        strcmp((const char *)tag, "!") != 0) {
        sl_cfg_pos_t pos = mark_pos(y, m);
        sl_cfg_errs_add(y->errs, &pos, "tag '%s' is not supported", (const char *)tag);
        y->bad = true;
    }
}

static sl_cfg_node_t *build(struct yload *y, yaml_event_t *ev, int depth);

/* Builds the map whose MAPPING_START is `start`, consuming events up to its MAPPING_END. */
static sl_cfg_node_t *build_map(struct yload *y, yaml_event_t *start, int depth)
{
    sl_cfg_pos_t pos = mark_pos(y, start->start_mark);
    sl_cfg_node_t *map = sl_cfg_node_new_map(&pos);
    if (!map) {
        out_of_memory(y);
        return NULL;
    }
    for (;;) {
        yaml_event_t kev;
        if (!next_event(y, &kev))
            break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return map;
        }
        sl_cfg_pos_t kpos = mark_pos(y, kev.start_mark);
        bool key_ok = false;
        char *key = NULL;
        if (kev.type == YAML_SCALAR_EVENT) {
            check_props(y, kev.start_mark, kev.data.scalar.anchor, kev.data.scalar.tag);
            size_t klen = kev.data.scalar.length;
            const char *kstr = (const char *)kev.data.scalar.value;
            if (klen == 0 && kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
                problem(y, kev.start_mark, "expected a key name");
            else if (memchr(kstr, '\0', klen))
                problem(y, kev.start_mark, "expected a key without NUL bytes");
            else if (!(key = strndup(kstr, klen)))
                out_of_memory(y);
            else
                key_ok = true;
        } else if (kev.type == YAML_ALIAS_EVENT) {
            problem(y, kev.start_mark,
                    "anchors (&name) and aliases (*name) are not supported; write the value out");
        } else {
            problem(y, kev.start_mark, "expected a plain key, not a map or list");
            /* Build and drop the complex key so that the events stay in step. */
            sl_cfg_node_free(build(y, &kev, depth + 1));
        }
        yaml_event_delete(&kev);
        if (y->fatal) {
            free(key);
            break;
        }
        yaml_event_t vev;
        if (!next_event(y, &vev)) {
            free(key);
            break;
        }
        sl_cfg_node_t *value = build(y, &vev, depth + 1);
        yaml_event_delete(&vev);
        if (y->fatal) {
            free(key);
            sl_cfg_node_free(value);
            break;
        }
        if (key_ok && value) {
            const sl_cfg_pair_t *first = sl_cfg_map_find(map, key);
            if (first) {
                sl_cfg_errs_add(y->errs, &kpos, "duplicate key '%s' (first given at line %u)", key,
                                first->key_pos.line);
                y->bad = true;
                sl_cfg_node_free(value);
            } else if (sl_cfg_map_add(map, key, &kpos, value) < 0) {
                sl_cfg_node_free(value);
                out_of_memory(y);
                free(key);
                break;
            }
        } else {
            sl_cfg_node_free(value);
        }
        free(key);
    }
    sl_cfg_node_free(map);
    return NULL;
}

static sl_cfg_node_t *build_list(struct yload *y, yaml_event_t *start, int depth)
{
    sl_cfg_pos_t pos = mark_pos(y, start->start_mark);
    sl_cfg_node_t *list = sl_cfg_node_new_list(&pos);
    if (!list) {
        out_of_memory(y);
        return NULL;
    }
    for (;;) {
        yaml_event_t iev;
        if (!next_event(y, &iev))
            break;
        if (iev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&iev);
            return list;
        }
        sl_cfg_node_t *item = build(y, &iev, depth + 1);
        yaml_event_delete(&iev);
        if (y->fatal) {
            sl_cfg_node_free(item);
            break;
        }
        if (item && sl_cfg_list_add(list, item) < 0) {
            sl_cfg_node_free(item);
            out_of_memory(y);
            break;
        }
    }
    sl_cfg_node_free(list);
    return NULL;
}

/*
 * Builds the node that starts with `ev`. Returns NULL after a problem (the events of the node
 * have still been consumed unless y->fatal is set).
 */
static sl_cfg_node_t *build(struct yload *y, yaml_event_t *ev, int depth)
{
    if (depth > SL_CFG_MAX_DEPTH) {
        sl_cfg_pos_t pos = mark_pos(y, ev->start_mark);
        sl_cfg_errs_add(y->errs, &pos, "nesting deeper than %d levels", SL_CFG_MAX_DEPTH);
        y->bad = y->fatal = true;
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        check_props(y, ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag);
        sl_cfg_pos_t pos = mark_pos(y, ev->start_mark);
        sl_cfg_node_t *n = sl_cfg_node_new_scalar((const char *)ev->data.scalar.value,
                                                  ev->data.scalar.length, &pos);
        if (!n) {
            out_of_memory(y);
            return NULL;
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return n;
    }
    case YAML_MAPPING_START_EVENT:
        check_props(y, ev->start_mark, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
        return build_map(y, ev, depth);
    case YAML_SEQUENCE_START_EVENT:
        check_props(y, ev->start_mark, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
        return build_list(y, ev, depth);
    case YAML_ALIAS_EVENT:
        problem(y, ev->start_mark,
                "anchors (&name) and aliases (*name) are not supported; write the value out");
        return NULL;
    default:
        problem(y, ev->start_mark, "unexpected YAML event");
        y->fatal = true;
        return NULL;
    }
}

static int load_yaml(struct yload *y)
{
    yaml_event_t ev;
    if (!next_event(y, &ev)) /* STREAM_START */
        return -EINVAL;
    yaml_event_delete(&ev);
    int docs = 0;
    while (!y->fatal) {
        if (!next_event(y, &ev))
            break;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            problem(y, ev.start_mark, "unexpected YAML event");
            yaml_event_delete(&ev);
            break;
        }
        if (++docs > 1) {
            problem(y, ev.start_mark,
                    "expected one YAML document, found a second one (remove this '---')");
            yaml_event_delete(&ev);
            break;
        }
        yaml_event_delete(&ev);
        if (!next_event(y, &ev))
            break;
        y->doc->root = build(y, &ev, 0);
        yaml_event_delete(&ev);
        if (sl_cfg_node_is_null(y->doc->root)) {
            /* A document with nothing in it ("---" alone) is an empty config. */
            sl_cfg_node_free(y->doc->root);
            y->doc->root = NULL;
        }
        if (y->fatal)
            break;
        if (!next_event(y, &ev)) /* DOCUMENT_END */
            break;
        yaml_event_delete(&ev);
    }
    if (y->nomem)
        return -ENOMEM;
    return y->bad ? -EINVAL : 0;
}

int sl_cfg_load_yaml_string(const char *text, size_t len, const char *name, sl_cfg_doc_t **out,
                            sl_cfg_errs_t *errs)
{
    *out = NULL;
    struct yload y = {.text = text, .len = len, .errs = errs};
    y.doc = sl_cfg_doc_new();
    if (!y.doc || !(y.file = sl_cfg_doc_intern(y.doc, name ? name : "<string>"))) {
        sl_cfg_doc_free(y.doc);
        sl_cfg_errs_add(errs, NULL, "out of memory");
        return -ENOMEM;
    }
    if (!yaml_parser_initialize(&y.parser)) {
        sl_cfg_doc_free(y.doc);
        sl_cfg_errs_add(errs, NULL, "out of memory");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    int rc = load_yaml(&y);
    yaml_parser_delete(&y.parser);
    if (rc < 0) {
        sl_cfg_doc_free(y.doc);
        return rc;
    }
    *out = y.doc;
    return 0;
}

int sl_cfg_load_yaml_file(const char *path, sl_cfg_doc_t **out, sl_cfg_errs_t *errs)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = sl_cfg_read_file(path, &text, &len, errs);
    if (rc < 0)
        return rc;
    rc = sl_cfg_load_yaml_string(text, len, path, out, errs);
    free(text);
    return rc;
}

/* ---- Value parsers --------------------------------------------------------------------- */

int sl_cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int sl_cfg_parse_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -ERANGE;
    }
    if (*s)
        return -EINVAL;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)v;
    }
    return 0;
}

/*
 * Reads "<digits>[.<digits>]" at *sp, times `unit`, exactly: a fraction must come out as a
 * whole number of base units ("1.5KiB" is 1536 bytes; "0.5B" is refused).
 */
static int scaled_number(const char **sp, uint64_t unit, uint64_t *out, bool *had_digits)
{
    const char *s = *sp;
    uint64_t ip = 0, frac = 0, scale = 1;
    *had_digits = false;
    for (; isdigit((unsigned char)*s); s++) {
        *had_digits = true;
        if (__builtin_mul_overflow(ip, 10, &ip) ||
            __builtin_add_overflow(ip, (uint64_t)(*s - '0'), &ip))
            return -ERANGE;
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        for (; isdigit((unsigned char)*s); s++) {
            *had_digits = true;
            if (scale >= 1000000000000ull)
                return -EINVAL; /* more fraction digits than any unit can use */
            frac = frac * 10 + (uint64_t)(*s - '0');
            scale *= 10;
        }
    }
    if (!*had_digits)
        return -EINVAL;
    uint64_t v, f;
    if (__builtin_mul_overflow(ip, unit, &v) || __builtin_mul_overflow(frac, unit, &f))
        return -ERANGE;
    if (f % scale)
        return -EINVAL;
    if (__builtin_add_overflow(v, f / scale, &v))
        return -ERANGE;
    *out = v;
    *sp = s;
    return 0;
}

struct unit {
    const char *name;
    uint64_t mult;
};

/* Length of the unit word at s (letters), and its multiplier from `units`; 0 if none. */
static size_t unit_at(const char *s, const struct unit *units, uint64_t *mult, bool *known)
{
    size_t n = 0;
    while (isalpha((unsigned char)s[n]))
        n++;
    *known = false;
    for (const struct unit *u = units; n && u->name; u++) {
        if (strlen(u->name) == n && strncasecmp(s, u->name, n) == 0) {
            *mult = u->mult;
            *known = true;
            break;
        }
    }
    return n;
}

int sl_cfg_parse_size(const char *s, uint64_t *out)
{
    static const struct unit units[] = {
        {"b", 1},
        {"kb", 1000ull},
        {"mb", 1000000ull},
        {"gb", 1000000000ull},
        {"tb", 1000000000000ull},
        {"kib", 1ull << 10},
        {"mib", 1ull << 20},
        {"gib", 1ull << 30},
        {"tib", 1ull << 40},
        {NULL, 0},
    };
    /* Find the unit first, then scale the number by it exactly. */
    const char *p = s;
    while (isdigit((unsigned char)*p) || *p == '.')
        p++;
    const char *num_end = p;
    while (*p == ' ')
        p++;
    uint64_t mult = 1;
    bool known = false;
    size_t ulen = unit_at(p, units, &mult, &known);
    if (ulen && !known)
        return -EINVAL;
    if (p[ulen] != '\0' || (!ulen && num_end != p))
        return -EINVAL;
    char num[64];
    size_t nlen = (size_t)(num_end - s);
    if (nlen == 0 || nlen >= sizeof(num))
        return -EINVAL;
    memcpy(num, s, nlen);
    num[nlen] = '\0';
    const char *np = num;
    bool digits;
    int rc = scaled_number(&np, mult, out, &digits);
    if (rc < 0)
        return rc;
    return *np ? -EINVAL : 0;
}

int sl_cfg_parse_duration(const char *s, int64_t *ms)
{
    static const struct unit units[] = {
        {"ms", 1},         {"s", 1000ull},     {"m", 60000ull},
        {"h", 3600000ull}, {"d", 86400000ull}, {NULL, 0},
    };
    uint64_t total = 0;
    const char *p = s;
    int parts = 0;
    if (!*p)
        return -EINVAL;
    while (*p) {
        const char *num = p;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        const char *num_end = p;
        while (*p == ' ')
            p++;
        uint64_t mult = 0;
        bool known = false;
        size_t ulen = unit_at(p, units, &mult, &known);
        if (ulen && !known)
            return -EINVAL;
        if (!ulen) {
            /* Only a number alone may go without a unit: it counts seconds. */
            if (parts || *p)
                return -EINVAL;
            mult = 1000;
        }
        char buf[64];
        size_t nlen = (size_t)(num_end - num);
        if (nlen == 0 || nlen >= sizeof(buf))
            return -EINVAL;
        memcpy(buf, num, nlen);
        buf[nlen] = '\0';
        const char *bp = buf;
        bool digits;
        uint64_t v;
        int rc = scaled_number(&bp, mult, &v, &digits);
        if (rc < 0)
            return rc;
        if (*bp)
            return -EINVAL;
        if (__builtin_add_overflow(total, v, &total) || total > (uint64_t)INT64_MAX)
            return -ERANGE;
        p += ulen;
        while (*p == ' ')
            p++;
        parts++;
    }
    *ms = (int64_t)total;
    return 0;
}

int sl_cfg_parse_mode(const char *s, unsigned *out)
{
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        s += 2;
    unsigned v = 0;
    size_t n = 0;
    for (; *s >= '0' && *s <= '7'; s++, n++) {
        v = v * 8 + (unsigned)(*s - '0');
        if (v > 07777)
            return -ERANGE;
    }
    if (*s || n == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ---- Suggestions ----------------------------------------------------------------------- */

/* Optimal string alignment distance (edits, with adjacent swaps), case-insensitive. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* Close enough to suggest: about one edit in three characters. */
static bool close_enough(const char *word, const char *name, size_t dist)
{
    size_t lw = strlen(word), ln = strlen(name);
    size_t longest = lw > ln ? lw : ln;
    return dist != (size_t)-1 && dist * 3 <= longest + 1;
}

const char *sl_cfg_suggest(const char *word, const char *const *names)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; names && names[i]; i++) {
        size_t d = edit_distance(word, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best && close_enough(word, best, best_d) ? best : NULL;
}

static const char *suggest_key(const char *word, const sl_cfg_key_t *keys)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        size_t d = edit_distance(word, k->name);
        if (d < best_d) {
            best_d = d;
            best = k->name;
        }
    }
    return best && close_enough(word, best, best_d) ? best : NULL;
}

/* ---- Key tables ------------------------------------------------------------------------ */

static void *field(void *obj, const sl_cfg_key_t *k)
{
    return (char *)obj + k->offset;
}

/* "a size like 64KiB, 10MB or 4096" and friends: what a key expects, for messages. */
static void describe_expected(const sl_cfg_key_t *k, sl_strbuf_t *b)
{
    switch (k->type) {
    case SL_CFG_STR:
        sl_strbuf_puts(b, "a string");
        break;
    case SL_CFG_BOOL:
        sl_strbuf_puts(b, "true or false (yes/no, on/off)");
        break;
    case SL_CFG_INT:
        sl_strbuf_puts(b, "an integer");
        break;
    case SL_CFG_SIZE:
        sl_strbuf_puts(b, "a size like 64KiB, 10MB or 4096 (bytes)");
        break;
    case SL_CFG_DURATION:
        sl_strbuf_puts(b, "a duration like 100ms, 5s, 1m or 2h (a plain number is seconds)");
        break;
    case SL_CFG_MODE:
        sl_strbuf_puts(b, "file permissions in octal like 0640");
        break;
    case SL_CFG_ENUM:
        sl_strbuf_puts(b, "one of ");
        for (size_t i = 0; k->choices && k->choices[i]; i++) {
            if (i)
                sl_strbuf_puts(b, k->choices[i + 1] ? ", " : " or ");
            sl_strbuf_puts(b, k->choices[i]);
        }
        break;
    case SL_CFG_NODE:
        sl_strbuf_puts(b, "a value");
        break;
    }
}

/* Formats a size in the largest binary unit that divides it ("64KiB"), or bytes. */
static void format_size(uint64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        uint64_t m = 1ull << (10 * (4 - i));
        if (v && v % m == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(v / m), units[i]);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void format_duration(int64_t ms, char *buf, size_t size)
{
    static const struct unit units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    for (size_t i = 0; i < 5; i++) {
        if (ms && ms % (int64_t)units[i].mult == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ms / (int64_t)units[i].mult), units[i].name);
            return;
        }
    }
    snprintf(buf, size, "%lldms", (long long)ms);
}

static void format_bound(const sl_cfg_key_t *k, int64_t v, char *buf, size_t size)
{
    if (k->type == SL_CFG_SIZE)
        format_size((uint64_t)v, buf, size);
    else if (k->type == SL_CFG_DURATION)
        format_duration(v, buf, size);
    else
        snprintf(buf, size, "%lld", (long long)v);
}

/* "from 1 to 65535", "of at least 4KiB": the bounds of a numeric key, or "" without any. */
static void describe_bounds(const sl_cfg_key_t *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    format_bound(k, k->min, lo, sizeof(lo));
    format_bound(k, k->max, hi, sizeof(hi));
    bool unsigned_type = k->type == SL_CFG_SIZE || k->type == SL_CFG_DURATION;
    if (k->max && unsigned_type && k->min <= 0)
        snprintf(buf, size, "of at most %s", hi);
    else if (k->max)
        snprintf(buf, size, "from %s to %s", lo, hi);
    else if (k->min > 0)
        snprintf(buf, size, "of at least %s", lo);
    else
        buf[0] = '\0';
}

/* Appends `s` for a message: at most 60 bytes, control bytes escaped. */
static void put_quoted_value(sl_strbuf_t *b, const char *s, size_t len)
{
    sl_strbuf_putc(b, '\'');
    for (size_t i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            sl_strbuf_puts(b, esc);
        } else {
            sl_strbuf_putc(b, (char)c);
        }
    }
    if (len > 60)
        sl_strbuf_puts(b, "...");
    sl_strbuf_putc(b, '\'');
}

/*
 * Parses the text `s` (NUL-terminated, `len` bytes) for key `k` and stores it into `obj`.
 * 0, -EINVAL (wrong value: `why` may hold a reason beyond the type), -ERANGE or -ENOMEM.
 */
static int store_value(const sl_cfg_key_t *k, void *obj, const char *s, size_t len,
                       const char **why)
{
    *why = NULL;
    if (k->type != SL_CFG_STR && strlen(s) != len)
        return -EINVAL;
    switch (k->type) {
    case SL_CFG_STR: {
        if (strlen(s) != len) {
            *why = "NUL bytes are not allowed";
            return -EINVAL;
        }
        char *copy = strdup(s);
        if (!copy)
            return -ENOMEM;
        char **p = field(obj, k);
        free(*p);
        *p = copy;
        return 0;
    }
    case SL_CFG_BOOL: {
        bool v;
        if (sl_cfg_parse_bool(s, &v) < 0)
            return -EINVAL;
        *(bool *)field(obj, k) = v;
        return 0;
    }
    case SL_CFG_INT: {
        int64_t v;
        int rc = sl_cfg_parse_int(s, &v);
        if (rc < 0)
            return rc;
        if (v < k->min || (k->max && v > k->max))
            return -ERANGE;
        *(int64_t *)field(obj, k) = v;
        return 0;
    }
    case SL_CFG_SIZE: {
        uint64_t v;
        int rc = sl_cfg_parse_size(s, &v);
        if (rc < 0)
            return rc;
        if ((k->min > 0 && v < (uint64_t)k->min) || (k->max && v > (uint64_t)k->max))
            return -ERANGE;
        *(uint64_t *)field(obj, k) = v;
        return 0;
    }
    case SL_CFG_DURATION: {
        int64_t v;
        int rc = sl_cfg_parse_duration(s, &v);
        if (rc < 0)
            return rc;
        if (v < k->min || (k->max && v > k->max))
            return -ERANGE;
        *(int64_t *)field(obj, k) = v;
        return 0;
    }
    case SL_CFG_MODE: {
        unsigned v;
        if (sl_cfg_parse_mode(s, &v) < 0)
            return -EINVAL;
        *(unsigned *)field(obj, k) = v;
        return 0;
    }
    case SL_CFG_ENUM:
        for (size_t i = 0; k->choices && k->choices[i]; i++) {
            if (strcasecmp(s, k->choices[i]) == 0) {
                *(int *)field(obj, k) = (int)i;
                return 0;
            }
        }
        return -EINVAL;
    case SL_CFG_NODE:
        return -EINVAL;
    }
    return -EINVAL;
}

/* Sets a key to its default (or zero). -EINVAL means the table's default is wrong. */
static int store_default(const sl_cfg_key_t *k, void *obj)
{
    switch (k->type) {
    case SL_CFG_STR:
        *(char **)field(obj, k) = NULL;
        break;
    case SL_CFG_BOOL:
        *(bool *)field(obj, k) = false;
        break;
    case SL_CFG_INT:
    case SL_CFG_DURATION:
        *(int64_t *)field(obj, k) = 0;
        break;
    case SL_CFG_SIZE:
        *(uint64_t *)field(obj, k) = 0;
        break;
    case SL_CFG_MODE:
        *(unsigned *)field(obj, k) = 0;
        break;
    case SL_CFG_ENUM:
        *(int *)field(obj, k) = 0;
        break;
    case SL_CFG_NODE:
        *(const sl_cfg_node_t **)field(obj, k) = NULL;
        return k->def ? -EINVAL : 0;
    }
    if (!k->def)
        return 0;
    const char *why;
    return store_value(k, obj, k->def, strlen(k->def), &why);
}

static void report_bad_value(const sl_cfg_key_t *k, const sl_cfg_node_t *v, int rc, const char *why,
                             sl_cfg_errs_t *errs)
{
    sl_strbuf_t b = SL_STRBUF_INIT;
    sl_strbuf_puts(&b, "'");
    sl_strbuf_puts(&b, k->name);
    sl_strbuf_puts(&b, "': expected ");
    describe_expected(k, &b);
    if (rc == -ERANGE) {
        char bounds[96];
        describe_bounds(k, bounds, sizeof(bounds));
        if (bounds[0]) {
            sl_strbuf_putc(&b, ' ');
            sl_strbuf_puts(&b, bounds);
        } else if (!why) {
            why = "out of range";
        }
    }
    sl_strbuf_puts(&b, ", got ");
    if (v->type == SL_CFG_SCALAR && !sl_cfg_node_is_null(v))
        put_quoted_value(&b, v->str, v->len);
    else
        sl_strbuf_puts(&b, sl_cfg_node_kind(v));
    if (why) {
        sl_strbuf_puts(&b, " (");
        sl_strbuf_puts(&b, why);
        sl_strbuf_putc(&b, ')');
    }
    if (k->type == SL_CFG_ENUM && v->type == SL_CFG_SCALAR && v->len) {
        const char *s = sl_cfg_suggest(v->str, k->choices);
        if (s) {
            sl_strbuf_puts(&b, " (did you mean '");
            sl_strbuf_puts(&b, s);
            sl_strbuf_puts(&b, "'?)");
        }
    }
    if (sl_strbuf_putc(&b, '\0') < 0)
        sl_cfg_errs_add(errs, &v->pos, "'%s': bad value", k->name);
    else
        sl_cfg_errs_add(errs, &v->pos, "%s", b.data);
    sl_strbuf_free(&b);
}

static void report_unknown_key(const sl_cfg_pair_t *p, const sl_cfg_key_t *keys,
                               sl_cfg_errs_t *errs)
{
    const char *s = suggest_key(p->key, keys);
    if (s) {
        sl_cfg_errs_add(errs, &p->key_pos, "unknown key '%s' (did you mean '%s'?)", p->key, s);
        return;
    }
    sl_strbuf_t b = SL_STRBUF_INIT;
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        if (k != keys)
            sl_strbuf_puts(&b, ", ");
        sl_strbuf_puts(&b, k->name);
    }
    if (sl_strbuf_putc(&b, '\0') < 0 || b.len == 1)
        sl_cfg_errs_add(errs, &p->key_pos, "unknown key '%s'", p->key);
    else
        sl_cfg_errs_add(errs, &p->key_pos, "unknown key '%s' (known keys: %s)", p->key, b.data);
    sl_strbuf_free(&b);
}

static size_t count_keys(const sl_cfg_key_t *keys)
{
    size_t n = 0;
    while (keys[n].name)
        n++;
    return n;
}

int sl_cfg_apply(const sl_cfg_node_t *map, const sl_cfg_key_t *keys, void *obj, sl_cfg_errs_t *errs)
{
    size_t nkeys = count_keys(keys);
    bool bad = false;
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        int rc = store_default(k, obj);
        if (rc == -ENOMEM) {
            sl_cfg_errs_add(errs, NULL, "out of memory");
            return -ENOMEM;
        }
        /* A default that does not parse is a bug in the table (sl_cfg_keys_check finds it). */
        sl_assert(rc == 0);
    }
    if (map && sl_cfg_node_is_null(map))
        map = NULL;
    if (map && map->type != SL_CFG_MAP) {
        sl_cfg_errs_add(errs, &map->pos, "expected a map of keys, got %s", sl_cfg_node_kind(map));
        return -EINVAL;
    }
    bool *seen = calloc(nkeys ? nkeys : 1, sizeof(bool));
    if (!seen) {
        sl_cfg_errs_add(errs, NULL, "out of memory");
        return -ENOMEM;
    }
    int result = 0;
    for (size_t i = 0; map && i < map->n; i++) {
        const sl_cfg_pair_t *p = &map->pairs[i];
        const sl_cfg_key_t *k = NULL;
        for (size_t j = 0; j < nkeys; j++) {
            if (strcmp(keys[j].name, p->key) == 0) {
                k = &keys[j];
                seen[j] = true;
                break;
            }
        }
        if (!k) {
            report_unknown_key(p, keys, errs);
            bad = true;
            continue;
        }
        const sl_cfg_node_t *v = p->value;
        if (k->type == SL_CFG_NODE) {
            *(const sl_cfg_node_t **)field(obj, k) = v;
            continue;
        }
        if (v->type != SL_CFG_SCALAR || sl_cfg_node_is_null(v)) {
            report_bad_value(k, v, -EINVAL, NULL, errs);
            bad = true;
            continue;
        }
        const char *why;
        int rc = store_value(k, obj, v->str, v->len, &why);
        if (rc == -ENOMEM) {
            sl_cfg_errs_add(errs, &v->pos, "out of memory");
            result = -ENOMEM;
            break;
        }
        if (rc < 0) {
            report_bad_value(k, v, rc, why, errs);
            bad = true;
        }
    }
    for (size_t j = 0; result == 0 && j < nkeys; j++) {
        if (keys[j].required && !seen[j]) {
            sl_cfg_errs_add(errs, map ? &map->pos : NULL, "missing required key '%s'",
                            keys[j].name);
            bad = true;
        }
    }
    free(seen);
    if (result < 0)
        return result;
    return bad ? -EINVAL : 0;
}

void sl_cfg_release(const sl_cfg_key_t *keys, void *obj)
{
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        if (k->type == SL_CFG_STR) {
            char **p = field(obj, k);
            free(*p);
            *p = NULL;
        }
    }
}

static void describe_type(const sl_cfg_key_t *k, char *buf, size_t size)
{
    char bounds[96];
    describe_bounds(k, bounds, sizeof(bounds));
    switch (k->type) {
    case SL_CFG_STR:
        snprintf(buf, size, "string");
        break;
    case SL_CFG_BOOL:
        snprintf(buf, size, "bool");
        break;
    case SL_CFG_INT:
    case SL_CFG_SIZE:
    case SL_CFG_DURATION: {
        const char *t = k->type == SL_CFG_INT    ? "integer"
                        : k->type == SL_CFG_SIZE ? "size"
                                                 : "duration";
        if (k->max && k->type != SL_CFG_INT && k->min <= 0) {
            char hi[32];
            format_bound(k, k->max, hi, sizeof(hi));
            snprintf(buf, size, "%s <= %s", t, hi);
        } else if (k->max) {
            char lo[32], hi[32];
            format_bound(k, k->min, lo, sizeof(lo));
            format_bound(k, k->max, hi, sizeof(hi));
            snprintf(buf, size, "%s %s..%s", t, lo, hi);
        } else if (k->min > 0) {
            char lo[32];
            format_bound(k, k->min, lo, sizeof(lo));
            snprintf(buf, size, "%s >= %s", t, lo);
        } else {
            snprintf(buf, size, "%s", t);
        }
        break;
    }
    case SL_CFG_MODE:
        snprintf(buf, size, "mode");
        break;
    case SL_CFG_ENUM: {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; k->choices && k->choices[i] && used < size; i++) {
            int w = snprintf(buf + used, size - used, "%s%s", i ? "|" : "", k->choices[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        break;
    }
    case SL_CFG_NODE:
        snprintf(buf, size, "map/list");
        break;
    }
}

void sl_cfg_print_help(const sl_cfg_key_t *keys, FILE *fp)
{
    int wname = 4, wtype = 4, wdef = 7;
    char type[160];
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        describe_type(k, type, sizeof(type));
        int n = (int)strlen(k->name), t = (int)strlen(type);
        int d = k->required ? 8 : k->def ? (int)strlen(k->def) : 1;
        if (n > wname)
            wname = n;
        if (t > wtype)
            wtype = t;
        if (d > wdef)
            wdef = d;
    }
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        describe_type(k, type, sizeof(type));
        const char *def = k->required ? "required" : k->def ? k->def : "-";
        fprintf(fp, "  %-*s  %-*s  %-*s  %s\n", wname, k->name, wtype, type, wdef, def,
                k->help ? k->help : "");
    }
}

int sl_cfg_keys_check(const sl_cfg_key_t *keys, sl_cfg_errs_t *errs)
{
    bool bad = false;
    /* Storage big enough for any field type, so defaults can be parsed for real. */
    union {
        char *s;
        bool b;
        int64_t i;
        uint64_t u;
        unsigned m;
        int e;
        const sl_cfg_node_t *n;
    } scratch[1];
    for (const sl_cfg_key_t *k = keys; k->name; k++) {
        for (const sl_cfg_key_t *o = keys; o < k; o++) {
            if (strcmp(o->name, k->name) == 0) {
                sl_cfg_errs_add(errs, NULL, "key '%s' appears twice", k->name);
                bad = true;
            }
        }
        if (k->type < SL_CFG_STR || k->type > SL_CFG_NODE) {
            sl_cfg_errs_add(errs, NULL, "key '%s' has no valid type", k->name);
            bad = true;
            continue;
        }
        if (!k->help || !*k->help) {
            sl_cfg_errs_add(errs, NULL, "key '%s' has no help text", k->name);
            bad = true;
        }
        if (k->type == SL_CFG_ENUM && (!k->choices || !k->choices[0])) {
            sl_cfg_errs_add(errs, NULL, "enum key '%s' has no choices", k->name);
            bad = true;
            continue;
        }
        if (k->def && (k->required || k->type == SL_CFG_NODE)) {
            sl_cfg_errs_add(errs, NULL, "key '%s' is required or a node and has a default",
                            k->name);
            bad = true;
            continue;
        }
        if (k->max && k->max < k->min) {
            sl_cfg_errs_add(errs, NULL, "key '%s' has max below min", k->name);
            bad = true;
        }
        if (k->def) {
            sl_cfg_key_t local = *k;
            local.offset = 0;
            memset(scratch, 0, sizeof(scratch));
            const char *why;
            int rc = store_value(&local, scratch, k->def, strlen(k->def), &why);
            if (rc < 0) {
                sl_cfg_errs_add(errs, NULL, "key '%s': default '%s' is not valid", k->name, k->def);
                bad = true;
            }
            if (k->type == SL_CFG_STR)
                free(scratch[0].s);
        }
    }
    return bad ? -EINVAL : 0;
}
