/*
 * The configuration layer: YAML loading with positions, the refusals (duplicates, anchors,
 * several documents, syntax errors), every key type through sl_cfg_apply() with good and bad
 * values, unknown-key suggestions, required keys, the help output and the error list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cfg.h"

/* ---- Helpers ---------------------------------------------------------------------------- */

static sl_cfg_doc_t *load_ok(const char *text)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = NULL;
    int rc = sl_cfg_load_yaml_string(text, strlen(text), "test.yaml", &doc, &errs);
    if (rc != 0)
        sl_cfg_errs_print(&errs, stderr, "error");
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    assert_int_equal(sl_cfg_errs_count(&errs), 0);
    sl_cfg_errs_free(&errs);
    return doc;
}

/* Loads text that must fail; returns the errors (caller frees). */
static sl_cfg_errs_t load_bad(const char *text)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = (sl_cfg_doc_t *)1;
    int rc = sl_cfg_load_yaml_string(text, strlen(text), "test.yaml", &doc, &errs);
    assert_int_equal(rc, -EINVAL);
    assert_null(doc);
    assert_true(sl_cfg_errs_count(&errs) > 0);
    return errs;
}

/* Error i formatted as "file:line:col: message", in a static buffer. */
static const char *fmt_err(const sl_cfg_errs_t *errs, size_t i)
{
    static char buf[1024];
    assert_true(i < errs->n);
    sl_cfg_err_format(&errs->v[i], buf, sizeof(buf));
    return buf;
}

/* Asserts that some kept error is exactly `want`. */
static void assert_has_error(const sl_cfg_errs_t *errs, const char *want)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(fmt_err(errs, i), want) == 0)
            return;
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  have: %s\n", fmt_err(errs, i));
    fail_msg("missing error: %s", want);
}

static void assert_pos(sl_cfg_pos_t pos, unsigned line, unsigned col)
{
    assert_string_equal(pos.file, "test.yaml");
    assert_int_equal(pos.line, line);
    assert_int_equal(pos.col, col);
}

/* ---- Loading ---------------------------------------------------------------------------- */

static const char design_yaml[] = "# sluice\n"
                                  "work_dir: ./var/lib/sluice   # state\n"
                                  "inputs:\n"
                                  "  - {name: tcp, type: tcp, listen: \"127.0.0.1:5514\"}\n"
                                  "  - name: local\n"
                                  "    type: unix\n"
                                  "actions:\n"
                                  "  - name: relay\n"
                                  "    queue: {type: disk, max_disk: 1GiB}\n"
                                  "    list:\n"
                                  "      - a\n"
                                  "      -   'b'\n";

static void test_load_positions(void **state)
{
    (void)state;
    sl_cfg_doc_t *doc = load_ok(design_yaml);
    const sl_cfg_node_t *root = doc->root;
    assert_int_equal(root->type, SL_CFG_MAP);
    assert_int_equal(root->n, 3);
    /* Key order is kept. */
    assert_string_equal(root->pairs[0].key, "work_dir");
    assert_string_equal(root->pairs[1].key, "inputs");
    assert_string_equal(root->pairs[2].key, "actions");
    assert_pos(root->pairs[0].key_pos, 2, 1);
    const sl_cfg_node_t *wd = sl_cfg_map_get(root, "work_dir");
    assert_int_equal(wd->type, SL_CFG_SCALAR);
    assert_string_equal(wd->str, "./var/lib/sluice");
    assert_pos(wd->pos, 2, 11);

    const sl_cfg_node_t *inputs = sl_cfg_map_get(root, "inputs");
    assert_int_equal(inputs->type, SL_CFG_LIST);
    assert_int_equal(inputs->n, 2);
    /* A flow map item starts at its brace, a block map item at its first key. */
    assert_pos(inputs->items[0]->pos, 4, 5);
    assert_pos(inputs->items[1]->pos, 5, 5);
    const sl_cfg_pair_t *listen = sl_cfg_map_find(inputs->items[0], "listen");
    assert_non_null(listen);
    assert_pos(listen->key_pos, 4, 28);
    assert_pos(listen->value->pos, 4, 36);
    assert_string_equal(listen->value->str, "127.0.0.1:5514");
    assert_true(listen->value->quoted);
    const sl_cfg_pair_t *type = sl_cfg_map_find(inputs->items[1], "type");
    assert_pos(type->key_pos, 6, 5);
    assert_pos(type->value->pos, 6, 11);
    assert_false(type->value->quoted);

    const sl_cfg_node_t *a0 = sl_cfg_map_get(root, "actions")->items[0];
    const sl_cfg_pair_t *queue = sl_cfg_map_find(a0, "queue");
    assert_pos(queue->value->pos, 9, 12);
    const sl_cfg_pair_t *md = sl_cfg_map_find(queue->value, "max_disk");
    assert_pos(md->key_pos, 9, 25);
    assert_pos(md->value->pos, 9, 35);
    const sl_cfg_node_t *list = sl_cfg_map_get(a0, "list");
    assert_int_equal(list->n, 2);
    assert_pos(list->items[0]->pos, 11, 9);
    assert_pos(list->items[1]->pos, 12, 11);
    assert_string_equal(list->items[1]->str, "b");
    sl_cfg_doc_free(doc);
}

static void test_load_scalars_untyped(void **state)
{
    (void)state;
    sl_cfg_doc_t *doc = load_ok("a: 514\nb: \"514\"\nc: yes\nd:\ne: ~\nf: ''\ng: \"x\\0y\"\n");
    const sl_cfg_node_t *r = doc->root;
    assert_string_equal(sl_cfg_map_get(r, "a")->str, "514");
    assert_string_equal(sl_cfg_map_get(r, "b")->str, "514");
    assert_string_equal(sl_cfg_map_get(r, "c")->str, "yes");
    assert_true(sl_cfg_node_is_null(sl_cfg_map_get(r, "d")));
    assert_true(sl_cfg_node_is_null(sl_cfg_map_get(r, "e")));
    assert_false(sl_cfg_node_is_null(sl_cfg_map_get(r, "f")));
    const sl_cfg_node_t *g = sl_cfg_map_get(r, "g");
    assert_int_equal(g->len, 3);
    assert_memory_equal(g->str, "x\0y", 3);
    assert_null(sl_cfg_map_get(r, "missing"));
    assert_null(sl_cfg_map_get(NULL, "a"));
    sl_cfg_doc_free(doc);
}

static void test_load_empty(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n", "---\n", "---\n...\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        sl_cfg_doc_t *doc = load_ok(texts[i]);
        assert_null(doc->root);
        sl_cfg_doc_free(doc);
    }
}

static void test_load_duplicate_key(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = load_bad("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n");
    assert_int_equal(sl_cfg_errs_count(&errs), 2);
    assert_has_error(&errs, "test.yaml:4:3: duplicate key 'c' (first given at line 3)");
    assert_has_error(&errs, "test.yaml:5:1: duplicate key 'a' (first given at line 1)");
    sl_cfg_errs_free(&errs);
}

static void test_load_syntax_error(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = load_bad("a: 1\nb: [1, 2\nc: 3\n");
    assert_int_equal(errs.n, 1);
    /* libyaml's problem and context, at libyaml's position. */
    assert_string_equal(fmt_err(&errs, 0), "test.yaml:3:2: did not find expected ',' or ']' "
                                           "(while parsing a flow sequence at line 2, column 4)");
    sl_cfg_errs_free(&errs);

    errs = load_bad("a: 1\n  b: 2\n");
    assert_string_equal(fmt_err(&errs, 0),
                        "test.yaml:2:4: mapping values are not allowed in this context");
    sl_cfg_errs_free(&errs);

    errs = load_bad("a: 1\nb: \xff\n");
    assert_string_equal(fmt_err(&errs, 0),
                        "test.yaml:2:4: invalid leading UTF-8 octet (byte 0xff)");
    sl_cfg_errs_free(&errs);
}

static void test_load_refusals(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = load_bad("a: &x 1\nb: *x\n");
    assert_int_equal(errs.n, 2);
    assert_has_error(&errs, "test.yaml:1:4: anchors (&name) and aliases (*name) are not "
                            "supported; write the value out");
    assert_has_error(&errs, "test.yaml:2:4: anchors (&name) and aliases (*name) are not "
                            "supported; write the value out");
    sl_cfg_errs_free(&errs);

    errs = load_bad("a: 1\n---\nb: 2\n");
    assert_string_equal(fmt_err(&errs, 0), "test.yaml:2:1: expected one YAML document, found a "
                                           "second one (remove this '---')");
    sl_cfg_errs_free(&errs);

    errs = load_bad("a: !include other.yaml\n");
    assert_string_equal(fmt_err(&errs, 0), "test.yaml:1:4: tag '!include' is not supported");
    sl_cfg_errs_free(&errs);

    errs = load_bad("? [a, b]\n: 1\n");
    assert_string_equal(fmt_err(&errs, 0),
                        "test.yaml:1:3: expected a plain key, not a map or list");
    sl_cfg_errs_free(&errs);

    /* Standard tags are fine. */
    sl_cfg_doc_t *doc = load_ok("a: !!str 514\n");
    assert_string_equal(sl_cfg_map_get(doc->root, "a")->str, "514");
    sl_cfg_doc_free(doc);
}

static void test_load_deep_nesting(void **state)
{
    (void)state;
    char text[512];
    size_t n = 0;
    for (int i = 0; i < SL_CFG_MAX_DEPTH + 5; i++)
        text[n++] = '[';
    for (int i = 0; i < SL_CFG_MAX_DEPTH + 5; i++)
        text[n++] = ']';
    text[n] = '\0';
    sl_cfg_errs_t errs = load_bad(text);
    assert_non_null(strstr(fmt_err(&errs, 0), "nesting deeper than"));
    sl_cfg_errs_free(&errs);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_cfg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a:\n  - 1\n  - [\n", 15), 15);
    close(fd);
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    assert_int_equal(sl_cfg_load_yaml_file(path, &doc, &errs), -EINVAL);
    assert_null(doc);
    /* Errors name the file. */
    assert_int_equal(strncmp(fmt_err(&errs, 0), path, strlen(path)), 0);
    sl_cfg_errs_free(&errs);
    unlink(path);

    assert_int_equal(sl_cfg_load_yaml_file(path, &doc, &errs), -ENOENT);
    char want[128];
    snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(fmt_err(&errs, 0), want);
    sl_cfg_errs_free(&errs);
}

/* ---- Key tables ------------------------------------------------------------------------- */

struct conf {
    char *path;
    bool sync;
    int64_t port;
    uint64_t max_size;
    int64_t flush;
    int protocol;
    unsigned mode;
    const sl_cfg_node_t *queue;
    char *tmpl;
    int64_t offset;
};

static const char *const protocols[] = {"udp", "tcp", "tls", "relp", NULL};

static const sl_cfg_key_t keys[] = {
    {.name = "path",
     .type = SL_CFG_STR,
     .required = true,
     .offset = offsetof(struct conf, path),
     .help = "file to write"},
    {.name = "sync",
     .type = SL_CFG_BOOL,
     .offset = offsetof(struct conf, sync),
     .def = "no",
     .help = "sync after every line"},
    {.name = "port",
     .type = SL_CFG_INT,
     .offset = offsetof(struct conf, port),
     .def = "514",
     .min = 1,
     .max = 65535,
     .help = "port to send to"},
    {.name = "max_size",
     .type = SL_CFG_SIZE,
     .offset = offsetof(struct conf, max_size),
     .def = "64KiB",
     .min = 4096,
     .help = "largest file"},
    {.name = "flush",
     .type = SL_CFG_DURATION,
     .offset = offsetof(struct conf, flush),
     .def = "1s",
     .max = 3600000,
     .help = "flush interval"},
    {.name = "protocol",
     .type = SL_CFG_ENUM,
     .offset = offsetof(struct conf, protocol),
     .def = "tcp",
     .choices = protocols,
     .help = "transport"},
    {.name = "mode",
     .type = SL_CFG_MODE,
     .offset = offsetof(struct conf, mode),
     .def = "0640",
     .help = "file permissions"},
    {.name = "queue",
     .type = SL_CFG_NODE,
     .offset = offsetof(struct conf, queue),
     .help = "queue settings"},
    {.name = "template",
     .type = SL_CFG_STR,
     .offset = offsetof(struct conf, tmpl),
     .def = "traditional",
     .help = "output format"},
    {.name = "offset",
     .type = SL_CFG_INT,
     .offset = offsetof(struct conf, offset),
     .min = INT64_MIN,
     .help = "signed number"},
    {0},
};

/* Applies the map `text` (YAML) to a fresh struct; returns the result, errors in errs. */
static int apply_text(const char *text, struct conf *c, sl_cfg_errs_t *errs, sl_cfg_doc_t **doc)
{
    *doc = load_ok(text);
    memset(c, 0x5a, sizeof(*c));
    return sl_cfg_apply((*doc)->root, keys, c, errs);
}

static void test_keys_table_is_valid(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    assert_int_equal(sl_cfg_keys_check(keys, &errs), 0);
    assert_int_equal(sl_cfg_errs_count(&errs), 0);

    static const char *const none[] = {NULL};
    static const sl_cfg_key_t bad[] = {
        {.name = "a", .type = SL_CFG_SIZE, .def = "lots", .help = "x"},
        {.name = "a", .type = SL_CFG_BOOL, .help = "x"},
        {.name = "b", .type = SL_CFG_ENUM, .choices = none, .help = "x"},
        {.name = "c", .type = SL_CFG_STR, .required = true, .def = "x", .help = "x"},
        {.name = "d", .type = SL_CFG_STR},
        {0},
    };
    assert_int_equal(sl_cfg_keys_check(bad, &errs), -EINVAL);
    assert_has_error(&errs, "key 'a': default 'lots' is not valid");
    assert_has_error(&errs, "key 'a' appears twice");
    assert_has_error(&errs, "enum key 'b' has no choices");
    assert_has_error(&errs, "key 'c' is required or a node and has a default");
    assert_has_error(&errs, "key 'd' has no help text");
    sl_cfg_errs_free(&errs);
}

static void test_apply_defaults(void **state)
{
    (void)state;
    struct conf c;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    assert_int_equal(apply_text("path: /var/log/x\n", &c, &errs, &doc), 0);
    assert_string_equal(c.path, "/var/log/x");
    assert_false(c.sync);
    assert_int_equal(c.port, 514);
    assert_int_equal(c.max_size, 65536);
    assert_int_equal(c.flush, 1000);
    assert_int_equal(c.protocol, 1);
    assert_int_equal(c.mode, 0640);
    assert_null(c.queue);
    assert_string_equal(c.tmpl, "traditional");
    assert_int_equal(c.offset, 0);
    sl_cfg_release(keys, &c);
    assert_null(c.path);
    assert_null(c.tmpl);
    sl_cfg_doc_free(doc);
}

static void test_apply_good_values(void **state)
{
    (void)state;
    struct conf c;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    int rc = apply_text("path: \"/var/log/a b\"\n"
                        "sync: On\n"
                        "port: \"65535\"\n"
                        "max_size: 1.5GiB\n"
                        "flush: 59m 30.5s\n"
                        "protocol: RELP\n"
                        "mode: 600\n"
                        "queue: {type: disk, max_disk: 1GiB}\n"
                        "template: yes\n"
                        "offset: -9223372036854775808\n",
                        &c, &errs, &doc);
    assert_int_equal(rc, 0);
    assert_string_equal(c.path, "/var/log/a b");
    assert_true(c.sync);
    assert_int_equal(c.port, 65535);
    assert_int_equal(c.max_size, 1610612736ull);
    assert_int_equal(c.flush, 3570500);
    assert_int_equal(c.protocol, 3);
    assert_int_equal(c.mode, 0600);
    /* Strings stay strings whatever they look like. */
    assert_string_equal(c.tmpl, "yes");
    assert_true(c.offset == INT64_MIN);
    /* A node key hands over the raw node; the module applies its own table to it. */
    assert_non_null(c.queue);
    assert_int_equal(c.queue->type, SL_CFG_MAP);
    assert_string_equal(sl_cfg_map_get(c.queue, "max_disk")->str, "1GiB");
    sl_cfg_release(keys, &c);
    sl_cfg_doc_free(doc);
}

static void test_apply_bad_values(void **state)
{
    (void)state;
    struct conf c;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    int rc = apply_text("path: [a, b]\n"
                        "sync: maybe\n"
                        "port: 70000\n"
                        "max_size: 64K\n"
                        "flush: 5 minutes\n"
                        "protocol: tpc\n"
                        "mode: 0980\n"
                        "template:\n"
                        "offset: 12abc\n",
                        &c, &errs, &doc);
    assert_int_equal(rc, -EINVAL);
    /* Every bad value is reported, each at its own position. */
    assert_int_equal(sl_cfg_errs_count(&errs), 9);
    assert_has_error(&errs, "test.yaml:1:7: 'path': expected a string, got a list");
    assert_has_error(&errs,
                     "test.yaml:2:7: 'sync': expected true or false (yes/no, on/off), got 'maybe'");
    assert_has_error(&errs,
                     "test.yaml:3:7: 'port': expected an integer from 1 to 65535, got '70000'");
    assert_has_error(&errs, "test.yaml:4:11: 'max_size': expected a size like 64KiB, 10MB or "
                            "4096 (bytes), got '64K'");
    assert_has_error(&errs, "test.yaml:5:8: 'flush': expected a duration like 100ms, 5s, 1m or "
                            "2h (a plain number is seconds), got '5 minutes'");
    assert_has_error(&errs, "test.yaml:6:11: 'protocol': expected one of udp, tcp, tls or relp, "
                            "got 'tpc' (did you mean 'tcp'?)");
    assert_has_error(&errs, "test.yaml:7:7: 'mode': expected file permissions in octal like "
                            "0640, got '0980'");
    assert_has_error(&errs, "test.yaml:8:10: 'template': expected a string, got nothing");
    assert_has_error(&errs, "test.yaml:9:9: 'offset': expected an integer, got '12abc'");
    sl_cfg_release(keys, &c);
    sl_cfg_errs_free(&errs);
    sl_cfg_doc_free(doc);
}

static void test_apply_ranges(void **state)
{
    (void)state;
    struct conf c;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    int rc = apply_text("path: x\nport: 0\nmax_size: 1KiB\nflush: 2h\noffset: "
                        "99999999999999999999\n",
                        &c, &errs, &doc);
    assert_int_equal(rc, -EINVAL);
    assert_has_error(&errs, "test.yaml:2:7: 'port': expected an integer from 1 to 65535, got '0'");
    assert_has_error(&errs, "test.yaml:3:11: 'max_size': expected a size like 64KiB, 10MB or "
                            "4096 (bytes) of at least 4KiB, got '1KiB'");
    assert_has_error(&errs, "test.yaml:4:8: 'flush': expected a duration like 100ms, 5s, 1m or "
                            "2h (a plain number is seconds) of at most 1h, got '2h'");
    assert_has_error(&errs, "test.yaml:5:9: 'offset': expected an integer, got "
                            "'99999999999999999999' (out of range)");
    sl_cfg_release(keys, &c);
    sl_cfg_errs_free(&errs);
    sl_cfg_doc_free(doc);
}

static void test_apply_unknown_key(void **state)
{
    (void)state;
    struct conf c;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    int rc = apply_text("pth: /x\nPort: 1\nprotocl: udp\nzzzzzz: 1\n", &c, &errs, &doc);
    assert_int_equal(rc, -EINVAL);
    assert_has_error(&errs, "test.yaml:1:1: unknown key 'pth' (did you mean 'path'?)");
    assert_has_error(&errs, "test.yaml:2:1: unknown key 'Port' (did you mean 'port'?)");
    assert_has_error(&errs, "test.yaml:3:1: unknown key 'protocl' (did you mean 'protocol'?)");
    assert_has_error(&errs, "test.yaml:4:1: unknown key 'zzzzzz' (known keys: path, sync, port, "
                            "max_size, flush, protocol, mode, queue, template, offset)");
    /* The required key is missing too: reported at the map's position. */
    assert_has_error(&errs, "test.yaml:1:1: missing required key 'path'");
    assert_int_equal(sl_cfg_errs_count(&errs), 5);
    sl_cfg_release(keys, &c);
    sl_cfg_errs_free(&errs);
    sl_cfg_doc_free(doc);
}

static void test_apply_missing_required_nested(void **state)
{
    (void)state;
    sl_cfg_doc_t *doc = load_ok("actions:\n  - name: x\n    sync: yes\n");
    const sl_cfg_node_t *a = sl_cfg_map_get(doc->root, "actions")->items[0];
    static const sl_cfg_key_t k2[] = {
        {.name = "name", .type = SL_CFG_STR, .offset = 0, .help = "name"},
        {.name = "path",
         .type = SL_CFG_STR,
         .required = true,
         .offset = sizeof(char *),
         .help = "file"},
        {.name = "sync", .type = SL_CFG_BOOL, .offset = 2 * sizeof(char *), .help = "sync"},
        {0},
    };
    struct {
        char *name;
        char *path;
        bool sync;
    } o;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    assert_int_equal(sl_cfg_apply(a, k2, &o, &errs), -EINVAL);
    assert_int_equal(errs.n, 1);
    assert_string_equal(fmt_err(&errs, 0), "test.yaml:2:5: missing required key 'path'");
    assert_string_equal(o.name, "x");
    assert_true(o.sync);
    sl_cfg_release(k2, &o);
    sl_cfg_errs_free(&errs);

    /* Not a map at all. */
    const sl_cfg_node_t *list = sl_cfg_map_get(doc->root, "actions");
    assert_int_equal(sl_cfg_apply(list, k2, &o, &errs), -EINVAL);
    assert_string_equal(fmt_err(&errs, 0), "test.yaml:2:3: expected a map of keys, got a list");
    sl_cfg_release(k2, &o);
    sl_cfg_errs_free(&errs);

    /* An absent section: defaults, and the required key is missing without a position. */
    assert_int_equal(sl_cfg_apply(NULL, k2, &o, &errs), -EINVAL);
    assert_string_equal(fmt_err(&errs, 0), "missing required key 'path'");
    sl_cfg_release(k2, &o);
    sl_cfg_errs_free(&errs);
    sl_cfg_doc_free(doc);
}

static void test_help(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    assert_non_null(fp);
    sl_cfg_print_help(keys, fp);
    fclose(fp);
    const char *want = "  path      string            required     file to write\n"
                       "  sync      bool              no           sync after every line\n"
                       "  port      integer 1..65535  514          port to send to\n"
                       "  max_size  size >= 4KiB      64KiB        largest file\n"
                       "  flush     duration <= 1h    1s           flush interval\n"
                       "  protocol  udp|tcp|tls|relp  tcp          transport\n"
                       "  mode      mode              0640         file permissions\n"
                       "  queue     map/list          -            queue settings\n"
                       "  template  string            traditional  output format\n"
                       "  offset    integer           -            signed number\n";
    assert_string_equal(out, want);
    free(out);
}

/* ---- Value parsers ---------------------------------------------------------------------- */

static void test_parse_size(void **state)
{
    (void)state;
    struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"4096", 4096},
        {"64KiB", 65536},
        {"64 kib", 65536},
        {"10MB", 10000000},
        {"1GiB", 1ull << 30},
        {"2TB", 2000000000000},
        {"1.5KiB", 1536},
        {"1b", 1},
        {"0.5KB", 500},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t v = 12345;
        assert_int_equal(sl_cfg_parse_size(good[i].in, &v), 0);
        assert_true(v == good[i].want);
    }
    const char *bad[] = {"",
                         "K",
                         "64K",
                         "-1",
                         "1.5",
                         "0.0001KB",
                         "1..5KiB",
                         "1.B",
                         "64KiBx",
                         "18446744073709551616",
                         "17179869184GiB",
                         "1 2",
                         " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v;
        if (sl_cfg_parse_size(bad[i], &v) == 0)
            fail_msg("size '%s' accepted", bad[i]);
    }
}

static void test_parse_duration(void **state)
{
    (void)state;
    struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"0", 0},        {"100ms", 100},   {"5s", 5000},       {"1m", 60000},
        {"2h", 7200000}, {"1d", 86400000}, {"1h30m", 5400000}, {"1h 30m 5s", 5405000},
        {"1.5s", 1500},  {"2", 2000},      {"0.25", 250},      {"1.5m", 90000},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t v = -1;
        assert_int_equal(sl_cfg_parse_duration(good[i].in, &v), 0);
        assert_int_equal(v, good[i].want);
    }
    const char *bad[] = {"",
                         "s",
                         "5 minutes",
                         "-1s",
                         "0.5ms",
                         "1h30",
                         "5x",
                         "1.s",
                         "9999999999999999999d",
                         "106751991168d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v;
        if (sl_cfg_parse_duration(bad[i], &v) == 0)
            fail_msg("duration '%s' accepted", bad[i]);
    }
}

static void test_parse_bool_int_mode(void **state)
{
    (void)state;
    bool b;
    const char *yes[] = {"true", "YES", "On"}, *no[] = {"false", "No", "OFF"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sl_cfg_parse_bool(yes[i], &b), 0);
        assert_true(b);
        assert_int_equal(sl_cfg_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    assert_int_equal(sl_cfg_parse_bool("1", &b), -EINVAL);
    assert_int_equal(sl_cfg_parse_bool("", &b), -EINVAL);

    int64_t v;
    assert_int_equal(sl_cfg_parse_int("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(sl_cfg_parse_int("+7", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(sl_cfg_parse_int("9223372036854775808", &v), -ERANGE);
    assert_int_equal(sl_cfg_parse_int("-9223372036854775809", &v), -ERANGE);
    assert_int_equal(sl_cfg_parse_int("", &v), -EINVAL);
    assert_int_equal(sl_cfg_parse_int("-", &v), -EINVAL);
    assert_int_equal(sl_cfg_parse_int("0x10", &v), -EINVAL);

    unsigned m;
    assert_int_equal(sl_cfg_parse_mode("0640", &m), 0);
    assert_int_equal(m, 0640);
    assert_int_equal(sl_cfg_parse_mode("0o755", &m), 0);
    assert_int_equal(m, 0755);
    assert_int_equal(sl_cfg_parse_mode("7777", &m), 0);
    assert_int_equal(m, 07777);
    assert_int_equal(sl_cfg_parse_mode("17777", &m), -ERANGE);
    assert_int_equal(sl_cfg_parse_mode("", &m), -EINVAL);
    assert_int_equal(sl_cfg_parse_mode("8", &m), -EINVAL);
}

static void test_suggest(void **state)
{
    (void)state;
    const char *names[] = {"path", "template", "protocol", "sync", NULL};
    assert_string_equal(sl_cfg_suggest("pth", names), "path");
    assert_string_equal(sl_cfg_suggest("templte", names), "template");
    assert_string_equal(sl_cfg_suggest("PROTOCOL", names), "protocol");
    assert_string_equal(sl_cfg_suggest("snyc", names), "sync");
    assert_null(sl_cfg_suggest("xyz", names));
    assert_null(sl_cfg_suggest("queue", names));
}

/* ---- Errors and nodes ------------------------------------------------------------------- */

static void test_errors_limit_and_format(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    errs.max = 3;
    sl_cfg_pos_t p = {.file = "f.yaml", .line = 7, .col = 3};
    for (int i = 0; i < 5; i++)
        sl_cfg_errs_add(&errs, &p, "problem %d", i);
    assert_int_equal(errs.n, 3);
    assert_int_equal(errs.dropped, 2);
    assert_int_equal(sl_cfg_errs_count(&errs), 5);
    assert_string_equal(fmt_err(&errs, 2), "f.yaml:7:3: problem 2");

    char small[8];
    int need = sl_cfg_err_format(&errs.v[0], small, sizeof(small));
    assert_int_equal(need, (int)strlen("f.yaml:7:3: problem 0"));
    assert_string_equal(small, "f.yaml:");

    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    sl_cfg_errs_print(&errs, fp, "error");
    fclose(fp);
    assert_string_equal(out, "f.yaml:7:3: error: problem 0\n"
                             "f.yaml:7:3: error: problem 1\n"
                             "f.yaml:7:3: error: problem 2\n"
                             "... and 2 more\n");
    free(out);
    sl_cfg_errs_free(&errs);

    sl_cfg_errs_add(&errs, &(sl_cfg_pos_t){.file = "g"}, "whole file");
    sl_cfg_errs_add(&errs, NULL, "nowhere");
    assert_string_equal(fmt_err(&errs, 0), "g: whole file");
    assert_string_equal(fmt_err(&errs, 1), "nowhere");
    sl_cfg_errs_free(&errs);
}

static void test_node_equal_and_build(void **state)
{
    (void)state;
    sl_cfg_doc_t *a = load_ok("x: 1\ny: [a, {b: c}]\n");
    sl_cfg_doc_t *b = load_ok("# same, other order and quoting\ny:\n  - 'a'\n  - b: c\nx: \"1\"\n");
    sl_cfg_doc_t *c = load_ok("x: 1\ny: [a, {b: d}]\n");
    assert_true(sl_cfg_node_equal(a->root, b->root));
    assert_false(sl_cfg_node_equal(a->root, c->root));

    /* Built by hand, as the legacy reader does. */
    sl_cfg_node_t *m = sl_cfg_node_new_map(NULL);
    sl_cfg_node_t *l = sl_cfg_node_new_list(NULL);
    assert_int_equal(sl_cfg_list_add(l, sl_cfg_node_new_scalar("a", 1, NULL)), 0);
    sl_cfg_node_t *inner = sl_cfg_node_new_map(NULL);
    assert_int_equal(sl_cfg_map_add(inner, "b", NULL, sl_cfg_node_new_scalar("c", 1, NULL)), 0);
    assert_int_equal(sl_cfg_list_add(l, inner), 0);
    assert_int_equal(sl_cfg_map_add(m, "x", NULL, sl_cfg_node_new_scalar("1", 1, NULL)), 0);
    assert_int_equal(sl_cfg_map_add(m, "y", NULL, l), 0);
    sl_cfg_node_t *dup = sl_cfg_node_new_scalar("2", 1, NULL);
    assert_int_equal(sl_cfg_map_add(m, "x", NULL, dup), -EEXIST);
    sl_cfg_node_free(dup);
    assert_true(sl_cfg_node_equal(a->root, m));
    sl_cfg_node_free(m);
    sl_cfg_doc_free(a);
    sl_cfg_doc_free(b);
    sl_cfg_doc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_positions),
        cmocka_unit_test(test_load_scalars_untyped),
        cmocka_unit_test(test_load_empty),
        cmocka_unit_test(test_load_duplicate_key),
        cmocka_unit_test(test_load_syntax_error),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_load_deep_nesting),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_keys_table_is_valid),
        cmocka_unit_test(test_apply_defaults),
        cmocka_unit_test(test_apply_good_values),
        cmocka_unit_test(test_apply_bad_values),
        cmocka_unit_test(test_apply_ranges),
        cmocka_unit_test(test_apply_unknown_key),
        cmocka_unit_test(test_apply_missing_required_nested),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_bool_int_mode),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_errors_limit_and_format),
        cmocka_unit_test(test_node_equal_and_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
