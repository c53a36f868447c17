/*
 * Legacy syslog.conf reader (see cfg_legacy.h for what it produces and why).
 *
 * A syslog.conf mixes three syntaxes, so the reader works on statements found in the raw text
 * rather than on lines alone:
 *   - legacy lines: `selector action`, `& action` (the previous filter again) and `$Directive
 *     args`, one logical line each (a trailing backslash joins the next line, as in sysklogd);
 *   - RainerScript objects: `name(param="value" ...)`, possibly over several lines, possibly
 *     followed by a `{ ... }` block (ruleset, list templates);
 *   - RainerScript control flow: `if ... then ...`, `set ...;`, property filters
 *     (`:msg, contains, "x" action`), which we cannot translate and skip whole, so that their
 *     actions are not mistaken for unconditional ones.
 * Quotes, comments and bracket nesting are tracked while skipping, and nothing reads past the
 * text's length. Every node gets the file offset of the text it came from, turned into line and
 * column (characters, as libyaml counts them) through a table of line starts.
 *
 * Some state spans statements, as it does in rsyslog: the local socket of imuxsock is decided
 * by directives that may come after `$ModLoad imuxsock` ($OmitLocalLogging,
 * $SystemLogSocketName), $UDPServerAddress applies to later $UDPServerRun lines, and the default
 * templates to later actions. So inputs and actions are collected in `struct lg` and the root map
 * is put together at the end.
 */
#include "core/cfg_legacy.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/sl_assert.h"
#include "lib/strbuf.h"

#define NONE ((size_t)-1)

/* State of one load, shared by the files it includes. */
struct lg {
    sl_cfg_doc_t *doc;
    sl_cfg_errs_t *errs;
    sl_cfg_errs_t *warns;
    bool bad;
    bool nomem;
    sl_cfg_node_t *inputs;
    sl_cfg_node_t *actions;
    sl_cfg_node_t *work_dir;
    sl_cfg_pos_t work_dir_key_pos;
    /* imuxsock: the system socket is added at the end, where the module was loaded. */
    bool ux_loaded;
    bool ux_use;
    sl_cfg_pos_t ux_pos;
    size_t ux_index;
    char *ux_path;
    sl_cfg_pos_t ux_path_pos;
    unsigned n_ux, n_udp, n_tcp, n_ptcp;
    char *udp_addr; /* $UDPServerAddress; NULL: all addresses */
    const char *file_tmpl;
    const char *fwd_tmpl;
    /* The last filter, for `&` lines. */
    enum { F_NONE, F_SEL, F_SKIP } last;
    char *last_sel;
    sl_cfg_pos_t last_pos;
};

/* One file being read. */
struct src {
    struct lg *lg;
    const char *file; /* interned in the document */
    const char *text;
    size_t len;
    size_t *lines; /* offset of each line's first byte */
    size_t nlines;
    int depth;
};

/* A logical line: text with continuations joined and comments cut, and each byte's offset. */
struct lline {
    char *s;
    size_t *off;
    size_t len;
    size_t cap;
    size_t end; /* file offset just after the last byte taken */
};

static void parse_text(struct src *s);

/* ---- Positions and reports ------------------------------------------------------------- */

static char at(const struct src *s, size_t off)
{
    return off < s->len ? s->text[off] : '\0';
}

static sl_cfg_pos_t pos_at(const struct src *s, size_t off)
{
    if (off > s->len)
        off = s->len;
    size_t lo = 0, hi = s->nlines;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    unsigned col = 1;
    for (size_t i = s->lines[lo]; i < off; i++)
        if (((unsigned char)s->text[i] & 0xc0) != 0x80)
            col++;
    return (sl_cfg_pos_t){.file = s->file, .line = (unsigned)lo + 1, .col = col};
}

static void report(struct src *s, sl_cfg_errs_t *list, size_t off, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    sl_cfg_pos_t pos = pos_at(s, off);
    sl_cfg_errs_add(list, &pos, "%s", msg);
}

static void __attribute__((format(printf, 3, 4)))
err(struct src *s, size_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(s, s->lg->errs, off, fmt, ap);
    va_end(ap);
    s->lg->bad = true;
}

static void __attribute__((format(printf, 3, 4)))
warn(struct src *s, size_t off, const char *fmt, ...)
{
    if (!s->lg->warns)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(s, s->lg->warns, off, fmt, ap);
    va_end(ap);
}

static void nomem(struct lg *lg)
{
    if (!lg->nomem)
        sl_cfg_errs_add(lg->errs, NULL, "out of memory");
    lg->nomem = lg->bad = true;
}

/* ---- Scanning raw text ----------------------------------------------------------------- */

static size_t skip_blanks(const struct src *s, size_t off)
{
    while (off < s->len && (s->text[off] == ' ' || s->text[off] == '\t'))
        off++;
    return off;
}

/* Offset just after the end of the physical line containing `off`. */
static size_t next_line(const struct src *s, size_t off)
{
    const char *nl = off < s->len ? memchr(s->text + off, '\n', s->len - off) : NULL;
    return nl ? (size_t)(nl - s->text) + 1 : s->len;
}

/* Skips whitespace, newlines, `#` comments and C comments (RainerScript allows both). */
static size_t skip_space(const struct src *s, size_t off)
{
    while (off < s->len) {
        char c = s->text[off];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            off++;
        } else if (c == '#') {
            off = next_line(s, off);
        } else if (c == '/' && at(s, off + 1) == '*') {
            size_t e = off + 2;
            while (e + 1 < s->len && !(s->text[e] == '*' && s->text[e + 1] == '/'))
                e++;
            off = e + 1 < s->len ? e + 2 : s->len;
        } else {
            break;
        }
    }
    return off;
}

/* Offset after the quoted string starting at `off` (a quote), or NONE if it never ends. */
static size_t skip_quoted(const struct src *s, size_t off)
{
    char q = s->text[off];
    for (size_t i = off + 1; i < s->len; i++) {
        if (s->text[i] == '\\')
            i++;
        else if (s->text[i] == q)
            return i + 1;
    }
    return NONE;
}

/*
 * `off` is at an opening bracket; returns the offset after the bracket that closes it (any of
 * (), [], {} nest), skipping quoted strings and comments, or NONE if the text ends first.
 */
static size_t scan_balanced(const struct src *s, size_t off)
{
    int depth = 0;
    size_t i = off;
    while (i < s->len) {
        char c = s->text[i];
        if (c == '"' || c == '\'') {
            i = skip_quoted(s, i);
            if (i == NONE)
                return NONE;
            continue;
        }
        if (c == '#' || (c == '/' && at(s, i + 1) == '*')) {
            i = skip_space(s, i);
            continue;
        }
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if (c == ')' || c == ']' || c == '}') {
            if (--depth == 0)
                return i + 1;
        }
        i++;
    }
    return NONE;
}

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static size_t ident_len(const struct src *s, size_t off)
{
    if (!is_ident_start(at(s, off)))
        return 0;
    size_t n = 1;
    while (is_ident(at(s, off + n)))
        n++;
    return n;
}

static bool word_is(const struct src *s, size_t off, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s->text + off, w, n) == 0;
}

/* ---- Logical lines --------------------------------------------------------------------- */

static void lline_free(struct lline *ll)
{
    free(ll->s);
    free(ll->off);
    memset(ll, 0, sizeof(*ll));
}

static int lline_put(struct lline *ll, char c, size_t off)
{
    if (ll->len + 1 >= ll->cap) {
        size_t cap = ll->cap ? ll->cap * 2 : 128;
        char *ns = realloc(ll->s, cap);
        if (!ns)
            return -ENOMEM;
        ll->s = ns;
        size_t *no = realloc(ll->off, cap * sizeof(size_t));
        if (!no)
            return -ENOMEM;
        ll->off = no;
        ll->cap = cap;
    }
    ll->s[ll->len] = c;
    ll->off[ll->len] = off;
    ll->len++;
    ll->s[ll->len] = '\0';
    return 0;
}

/*
 * Reads the logical line starting at `off`: a trailing backslash joins the next line (blank and
 * comment lines in between are skipped, and the next line's leading blanks dropped, as sysklogd
 * does). A `#` at the start or after a blank, outside double quotes, starts a comment. Trailing
 * blanks are trimmed. Returns the offset where the next statement may start, or NONE for lack of
 * memory.
 */
static size_t read_lline(struct src *s, size_t off, struct lline *ll)
{
    memset(ll, 0, sizeof(*ll));
    size_t p = off, next = off;
    for (;;) {
        size_t eol = next_line(s, p);
        next = eol;
        size_t e = eol;
        if (e > p && s->text[e - 1] == '\n')
            e--;
        while (e > p && (s->text[e - 1] == ' ' || s->text[e - 1] == '\t' || s->text[e - 1] == '\r'))
            e--;
        bool cont = e > p && s->text[e - 1] == '\\';
        if (cont)
            e--;
        for (size_t i = p; i < e; i++)
            if (lline_put(ll, s->text[i], i) < 0)
                return NONE;
        ll->end = e;
        if (!cont)
            break;
        p = next;
        while (p < s->len) {
            size_t q = skip_blanks(s, p);
            char c = at(s, q);
            if (c == '\r' && at(s, q + 1) == '\n')
                c = '\n';
            if (c == '\n' || c == '#') {
                p = next_line(s, q);
                continue;
            }
            p = q;
            break;
        }
        if (p >= s->len)
            break;
    }
    /* Cut a trailing comment, then trailing blanks. */
    bool inq = false;
    for (size_t i = 0; i < ll->len; i++) {
        char c = ll->s[i];
        if (c == '\\' && inq && i + 1 < ll->len)
            i++;
        else if (c == '"')
            inq = !inq;
        else if (c == '#' && !inq && (i == 0 || ll->s[i - 1] == ' ' || ll->s[i - 1] == '\t')) {
            ll->len = i;
            break;
        }
    }
    while (ll->len && (ll->s[ll->len - 1] == ' ' || ll->s[ll->len - 1] == '\t'))
        ll->len--;
    if (!ll->s) {
        /* An empty line still gets a buffer, so callers may always read ll->s. */
        if (lline_put(ll, '\0', off) < 0)
            return NONE;
        ll->len = 0;
    }
    ll->s[ll->len] = '\0';
    return next;
}

/* File offset of byte i of a logical line (the end of the line for i == len). */
static size_t ll_off(const struct lline *ll, size_t i)
{
    if (i < ll->len)
        return ll->off[i];
    return ll->len ? ll->off[ll->len - 1] + 1 : ll->end;
}

static size_t ll_skip_blanks(const struct lline *ll, size_t i)
{
    while (i < ll->len && (ll->s[i] == ' ' || ll->s[i] == '\t'))
        i++;
    return i;
}

/* ---- Building nodes -------------------------------------------------------------------- */

static sl_cfg_node_t *scalar(struct src *s, const char *v, size_t n, size_t off)
{
    sl_cfg_pos_t pos = pos_at(s, off);
    sl_cfg_node_t *node = sl_cfg_node_new_scalar(v, n, &pos);
    if (!node)
        nomem(s->lg);
    return node;
}

static sl_cfg_node_t *new_map(struct src *s, size_t off)
{
    sl_cfg_pos_t pos = pos_at(s, off);
    sl_cfg_node_t *m = sl_cfg_node_new_map(&pos);
    if (!m)
        nomem(s->lg);
    return m;
}

/* Adds key: value (value of n bytes at file offset val_off; key at key_off). */
static void put(struct src *s, sl_cfg_node_t *map, const char *key, size_t key_off, const char *v,
                size_t n, size_t val_off)
{
    if (!map)
        return;
    sl_cfg_node_t *node = scalar(s, v, n, val_off);
    if (!node)
        return;
    sl_cfg_pos_t kpos = pos_at(s, key_off);
    int rc = sl_cfg_map_add(map, key, &kpos, node);
    if (rc < 0) {
        sl_cfg_node_free(node);
        if (rc == -ENOMEM)
            nomem(s->lg);
    }
}

static void puts_(struct src *s, sl_cfg_node_t *map, const char *key, size_t key_off, const char *v,
                  size_t val_off)
{
    put(s, map, key, key_off, v, strlen(v), val_off);
}

static void put_pos(struct lg *lg, sl_cfg_node_t *map, const char *key, const char *v,
                    const sl_cfg_pos_t *pos)
{
    sl_cfg_node_t *node = sl_cfg_node_new_scalar(v, strlen(v), pos);
    if (!node || sl_cfg_map_add(map, key, pos, node) < 0) {
        sl_cfg_node_free(node);
        nomem(lg);
    }
}

static void add_to(struct lg *lg, sl_cfg_node_t *list, sl_cfg_node_t *item)
{
    if (!item)
        return;
    if (lg->nomem || sl_cfg_list_add(list, item) < 0) {
        sl_cfg_node_free(item);
        nomem(lg);
    }
}

/* ---- Shared mappings ------------------------------------------------------------------- */

/* The built-in template that matches one of rsyslog's, or NULL. */
static const char *map_template(const char *name)
{
    static const char *const map[][2] = {
        {"RSYSLOG_TraditionalFileFormat", "traditional"},
        {"RSYSLOG_TraditionalForwardFormat", "rfc3164"},
        {"RSYSLOG_SyslogProtocol23Format", "rfc5424"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(name, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* Maps a template name given to an action; warns (and returns NULL) if there is no match. */
static const char *action_template(struct src *s, const char *name, size_t off)
{
    const char *t = map_template(name);
    if (!t)
        warn(s, off,
             "template '%.80s' is not supported (only RSYSLOG_TraditionalFileFormat, "
             "RSYSLOG_TraditionalForwardFormat and RSYSLOG_SyslogProtocol23Format map to "
             "built-in templates); the action uses its default template",
             name);
    return t;
}

/* A port number 1..65535 made only of digits. */
static bool valid_port(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* "host:port", with brackets for an IPv6 address. NULL for lack of memory. */
static char *host_port(const char *host, size_t hlen, const char *port, size_t plen)
{
    bool v6 = memchr(host, ':', hlen) != NULL;
    size_t n = hlen + plen + 4;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", (int)hlen, host, (int)plen, port);
    return out;
}

/* A unique default name for an input: "imudp", then "imudp-2", ... */
static void default_name(char *buf, size_t size, const char *base, unsigned *count)
{
    ++*count;
    if (*count == 1)
        snprintf(buf, size, "%s", base);
    else
        snprintf(buf, size, "%s-%u", base, *count);
}

/*
 * Adds a listening input (udp or tcp). `module` is the rsyslog module (imudp, imtcp, imptcp),
 * used for the default name; `addr` NULL or "*" means all IPv4 addresses.
 */
static void add_listener(struct src *s, const char *module, const char *name, size_t name_off,
                         const char *addr, size_t addr_off, const char *port, size_t port_off,
                         size_t stmt_off)
{
    struct lg *lg = s->lg;
    size_t plen = strlen(port);
    if (!valid_port(port, plen)) {
        err(s, port_off, "expected a port number from 1 to 65535, got '%.40s'", port);
        return;
    }
    char defname[32];
    if (!name) {
        unsigned *count = strcmp(module, "imudp") == 0   ? &lg->n_udp
                          : strcmp(module, "imtcp") == 0 ? &lg->n_tcp
                                                         : &lg->n_ptcp;
        default_name(defname, sizeof(defname), module, count);
        name = defname;
        name_off = stmt_off;
    }
    if (!addr || strcmp(addr, "*") == 0) {
        addr = "0.0.0.0";
        addr_off = port_off;
    }
    char *listen = host_port(addr, strlen(addr), port, plen);
    sl_cfg_node_t *m = new_map(s, stmt_off);
    if (!listen || !m) {
        free(listen);
        sl_cfg_node_free(m);
        nomem(lg);
        return;
    }
    puts_(s, m, "name", stmt_off, name, name_off);
    puts_(s, m, "type", stmt_off, strcmp(module, "imudp") == 0 ? "udp" : "tcp", stmt_off);
    puts_(s, m, "listen", stmt_off, listen, addr_off < port_off ? addr_off : port_off);
    free(listen);
    add_to(lg, lg->inputs, m);
}

/* Adds an extra unix socket input ($AddUnixListenSocket, input(type="imuxsock")). */
static void add_unix(struct src *s, const char *name, size_t name_off, const char *path,
                     size_t path_off, size_t stmt_off)
{
    struct lg *lg = s->lg;
    char defname[32];
    if (!name) {
        /* The system socket is "imuxsock"; extra sockets count from 2. */
        if (lg->n_ux == 0)
            lg->n_ux = 1;
        default_name(defname, sizeof(defname), "imuxsock", &lg->n_ux);
        name = defname;
        name_off = stmt_off;
    }
    if (!*path) {
        err(s, path_off, "expected a socket path");
        return;
    }
    sl_cfg_node_t *m = new_map(s, stmt_off);
    puts_(s, m, "name", stmt_off, name, name_off);
    puts_(s, m, "type", stmt_off, "unix", stmt_off);
    puts_(s, m, "path", stmt_off, path, path_off);
    add_to(lg, lg->inputs, m);
}

static void load_imuxsock(struct src *s, size_t stmt_off)
{
    struct lg *lg = s->lg;
    if (lg->ux_loaded)
        return;
    lg->ux_loaded = true;
    lg->ux_pos = pos_at(s, stmt_off);
    lg->ux_index = lg->inputs->n;
}

static void set_string(struct lg *lg, char **slot, const char *v)
{
    char *copy = strdup(v);
    if (!copy) {
        nomem(lg);
        return;
    }
    free(*slot);
    *slot = copy;
}

static void set_work_dir(struct src *s, const char *dir, size_t stmt_off, size_t val_off)
{
    struct lg *lg = s->lg;
    sl_cfg_node_t *n = scalar(s, dir, strlen(dir), val_off);
    if (!n)
        return;
    sl_cfg_node_free(lg->work_dir);
    lg->work_dir = n;
    lg->work_dir_key_pos = pos_at(s, stmt_off);
}

/* "imuxsock" from "imuxsock", "imuxsock.so", "/usr/lib/rsyslog/imuxsock.so", "builtin:..." */
static void module_base(const char *load, char *out, size_t size)
{
    const char *b = strrchr(load, '/');
    b = b ? b + 1 : load;
    if (strncasecmp(b, "builtin:", 8) == 0)
        b += 8;
    size_t n = strlen(b);
    if (n > 3 && strcasecmp(b + n - 3, ".so") == 0)
        n -= 3;
    snprintf(out, size, "%.*s", (int)n, b);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* Handles loading a module; false if it is not one we support. */
static bool load_module(struct src *s, const char *mod, size_t stmt_off)
{
    if (strcmp(mod, "imuxsock") == 0) {
        load_imuxsock(s, stmt_off);
        return true;
    }
    static const char *const known[] = {"imudp", "imtcp", "imptcp", "omfile", "omfwd", "omrelp"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(mod, known[i]) == 0)
            return true;
    return false;
}

/* ---- Includes -------------------------------------------------------------------------- */

static void parse_file(struct lg *lg, const char *path, int depth);

static void include(struct src *s, const char *pattern, bool optional, size_t off)
{
    struct lg *lg = s->lg;
    if (s->depth + 1 > SL_CFG_LEGACY_MAX_INCLUDE) {
        err(s, off, "includes nested deeper than %d levels (does a file include itself?)",
            SL_CFG_LEGACY_MAX_INCLUDE);
        return;
    }
    /* A relative pattern is taken from the including file's directory. */
    sl_strbuf_t path = SL_STRBUF_INIT;
    const char *slash = strrchr(s->file, '/');
    int bad = 0;
    if (pattern[0] != '/' && slash)
        bad |= sl_strbuf_append(&path, s->file, (size_t)(slash - s->file) + 1);
    bad |= sl_strbuf_puts(&path, pattern);
    bad |= sl_strbuf_putc(&path, '\0');
    /* A directory, with or without its trailing slash, means every file in it. */
    struct stat st;
    if (!bad && stat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) {
        path.len--;
        if (path.data[path.len - 1] != '/')
            bad |= sl_strbuf_putc(&path, '/');
        bad |= sl_strbuf_append(&path, "*", 2);
    }
    if (bad) {
        sl_strbuf_free(&path);
        nomem(lg);
        return;
    }
    glob_t g = {0};
    int rc = glob(path.data, 0, NULL, &g);
    bool wild = strpbrk(pattern, "*?[") != NULL;
    if (rc == GLOB_NOMATCH) {
        if (!wild && !optional)
            err(s, off, "cannot include '%.200s': no such file", path.data);
    } else if (rc == GLOB_NOSPACE) {
        nomem(lg);
    } else if (rc != 0) {
        err(s, off, "cannot include '%.200s': cannot read the directory", path.data);
    } else {
        for (size_t i = 0; i < g.gl_pathc && !lg->nomem; i++) {
            if (stat(g.gl_pathv[i], &st) == 0 && !S_ISREG(st.st_mode))
                continue;
            parse_file(lg, g.gl_pathv[i], s->depth + 1);
        }
    }
    globfree(&g);
    sl_strbuf_free(&path);
}

/* ---- RainerScript parameters ----------------------------------------------------------- */

struct param {
    char *name;
    size_t name_off;
    char **vals;
    size_t *val_offs;
    size_t nvals;
    bool used;
};

struct params {
    struct param *v;
    size_t n;
};

static void params_free(struct params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].name);
        for (size_t j = 0; j < ps->v[i].nvals; j++)
            free(ps->v[i].vals[j]);
        free(ps->v[i].vals);
        free(ps->v[i].val_offs);
    }
    free(ps->v);
    memset(ps, 0, sizeof(*ps));
}

/* Reads one value at `off` (quoted string with escapes, or a bare word) up to `end`. */
static char *param_value(struct src *s, size_t off, size_t end, size_t *next)
{
    sl_strbuf_t b = SL_STRBUF_INIT;
    char q = at(s, off);
    size_t i = off;
    if (q == '"' || q == '\'') {
        for (i = off + 1; i < end && s->text[i] != q; i++) {
            char c = s->text[i];
            if (c == '\\' && i + 1 < end) {
                c = s->text[++i];
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
            }
            sl_strbuf_putc(&b, c);
        }
        if (i >= end) {
            sl_strbuf_free(&b);
            *next = NONE;
            return NULL;
        }
        i++;
    } else {
        while (i < end && !isspace((unsigned char)s->text[i]) && s->text[i] != ')' &&
               s->text[i] != ',' && s->text[i] != ']' && s->text[i] != '#') {
            sl_strbuf_putc(&b, s->text[i]);
            i++;
        }
    }
    if (sl_strbuf_putc(&b, '\0') < 0) {
        sl_strbuf_free(&b);
        nomem(s->lg);
        *next = NONE;
        return NULL;
    }
    *next = i;
    return b.data;
}

static int param_add_value(struct param *p, char *v, size_t off)
{
    char **vals = realloc(p->vals, (p->nvals + 1) * sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    p->vals = vals;
    size_t *offs = realloc(p->val_offs, (p->nvals + 1) * sizeof(*offs));
    if (!offs)
        return -ENOMEM;
    p->val_offs = offs;
    p->vals[p->nvals] = v;
    p->val_offs[p->nvals] = off;
    p->nvals++;
    return 0;
}

/*
 * Parses `name="value" name=["a", "b"] ...` between offsets a and b (inside the parentheses).
 * -EINVAL after reporting a syntax error, or -ENOMEM.
 */
static int parse_params(struct src *s, size_t a, size_t b, struct params *ps)
{
    memset(ps, 0, sizeof(*ps));
    size_t p = a;
    for (;;) {
        p = skip_space(s, p);
        if (p >= b)
            return 0;
        size_t n = 0;
        while (p + n < b && (isalnum((unsigned char)s->text[p + n]) || s->text[p + n] == '_' ||
                             s->text[p + n] == '.' || s->text[p + n] == '-'))
            n++;
        if (n == 0) {
            err(s, p, "expected a parameter name");
            return -EINVAL;
        }
        struct param *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
        if (!v)
            goto oom;
        ps->v = v;
        struct param *pr = &ps->v[ps->n++];
        memset(pr, 0, sizeof(*pr));
        pr->name = strndup(s->text + p, n);
        pr->name_off = p;
        if (!pr->name)
            goto oom;
        p = skip_space(s, p + n);
        if (p >= b || s->text[p] != '=') {
            err(s, p, "expected '=' after '%s'", pr->name);
            return -EINVAL;
        }
        p = skip_space(s, p + 1);
        bool array = p < b && s->text[p] == '[';
        if (array)
            p = skip_space(s, p + 1);
        for (;;) {
            if (p >= b) {
                err(s, p, "expected a value for '%s'", pr->name);
                return -EINVAL;
            }
            size_t voff = p, next;
            char *val = param_value(s, p, b, &next);
            if (!val) {
                if (s->lg->nomem)
                    return -ENOMEM;
                err(s, voff, "unterminated string");
                return -EINVAL;
            }
            if (param_add_value(pr, val, voff) < 0) {
                free(val);
                goto oom;
            }
            p = skip_space(s, next);
            if (!array)
                break;
            if (p < b && s->text[p] == ',') {
                p = skip_space(s, p + 1);
                continue;
            }
            if (p < b && s->text[p] == ']') {
                p++;
                break;
            }
            err(s, p, "expected ',' or ']' in the list of values of '%s'", pr->name);
            return -EINVAL;
        }
    }
oom:
    nomem(s->lg);
    return -ENOMEM;
}

/* The parameter `name` (any case), marked used, or NULL. */
static struct param *param_get(struct params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (strcasecmp(ps->v[i].name, name) == 0) {
            ps->v[i].used = true;
            return &ps->v[i];
        }
    }
    return NULL;
}

/* Warns about every parameter nobody asked for. */
static void params_warn_unused(struct src *s, struct params *ps, const char *what)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!ps->v[i].used)
            warn(s, ps->v[i].name_off, "parameter '%s' of %s is not supported; ignored",
                 ps->v[i].name, what);
}

/* ---- Actions --------------------------------------------------------------------------- */

/* The selector of the action being built: its text and position; text NULL for none. */
struct sel {
    const char *text;
    sl_cfg_pos_t pos;
    size_t stmt; /* offset of the whole statement: the action map's position */
};

static sl_cfg_node_t *action_begin(struct src *s, const struct sel *sel, const char *type,
                                   size_t type_off)
{
    sl_cfg_node_t *m = new_map(s, sel->stmt);
    puts_(s, m, "type", type_off, type, type_off);
    return m;
}

static void action_select(struct src *s, sl_cfg_node_t *m, const struct sel *sel)
{
    if (m && sel->text)
        put_pos(s->lg, m, "select", sel->text, &sel->pos);
}

static void action_end(struct src *s, sl_cfg_node_t *m)
{
    add_to(s->lg, s->lg->actions, m);
}

static void file_action(struct src *s, const struct sel *sel, size_t stmt_off, const char *path,
                        size_t path_off, bool sync, size_t sync_off, const char *tmpl,
                        size_t tmpl_off)
{
    if (path[0] != '/') {
        err(s, path_off, "expected an absolute file path, got '%.80s'", path);
        return;
    }
    const char *t = tmpl ? action_template(s, tmpl, tmpl_off) : s->lg->file_tmpl;
    sl_cfg_node_t *m = action_begin(s, sel, "file", stmt_off);
    puts_(s, m, "path", path_off, path, path_off);
    action_select(s, m, sel);
    if (sync)
        puts_(s, m, "fsync", sync_off, "true", sync_off);
    if (t)
        puts_(s, m, "template", tmpl ? tmpl_off : stmt_off, t, tmpl ? tmpl_off : stmt_off);
    action_end(s, m);
}

static void forward_action(struct src *s, const struct sel *sel, size_t stmt_off,
                           const char *target, size_t target_off, const char *proto,
                           const char *tmpl, size_t tmpl_off)
{
    const char *t = tmpl ? action_template(s, tmpl, tmpl_off) : NULL;
    if (!t)
        t = s->lg->fwd_tmpl ? s->lg->fwd_tmpl : "rfc3164";
    sl_cfg_node_t *m = action_begin(s, sel, "forward", stmt_off);
    puts_(s, m, "target", target_off, target, target_off);
    puts_(s, m, "protocol", stmt_off, proto, stmt_off);
    action_select(s, m, sel);
    puts_(s, m, "template", tmpl ? tmpl_off : stmt_off, t, tmpl ? tmpl_off : stmt_off);
    action_end(s, m);
}

static void discard_action(struct src *s, const struct sel *sel, size_t stmt_off)
{
    sl_cfg_node_t *m = action_begin(s, sel, "discard", stmt_off);
    action_select(s, m, sel);
    puts_(s, m, "stop", stmt_off, "true", stmt_off);
    action_end(s, m);
}

/*
 * `host[:port][;template]` or `[v6addr][:port][;template]` in the logical line from byte i:
 * forwards with `proto`. `what` names the form for messages ("@host").
 */
static void forward_legacy(struct src *s, const struct sel *sel, size_t stmt_off,
                           const struct lline *ll, size_t i, const char *proto, const char *what)
{
    const char *t = ll->s;
    size_t n = ll->len;
    if (i < n && t[i] == '(') {
        const char *close = memchr(t + i, ')', n - i);
        if (!close) {
            err(s, ll_off(ll, i), "expected ')' after the forwarding options");
            return;
        }
        size_t j = (size_t)(close - t) + 1;
        warn(s, ll_off(ll, i), "forwarding options '%.*s' are not supported; ignored", (int)(j - i),
             t + i);
        i = j;
    }
    size_t host = i, hlen;
    if (i < n && t[i] == '[') {
        const char *close = memchr(t + i, ']', n - i);
        if (!close) {
            err(s, ll_off(ll, i), "expected ']' after the IPv6 address");
            return;
        }
        host = i + 1;
        hlen = (size_t)(close - t) - host;
        i = (size_t)(close - t) + 1;
    } else {
        while (i < n && t[i] != ':' && t[i] != ';' && t[i] != ' ' && t[i] != '\t')
            i++;
        hlen = i - host;
    }
    if (hlen == 0) {
        err(s, ll_off(ll, host), "expected a host name or address after '%s'", what);
        return;
    }
    const char *port = "514";
    size_t plen = 3, port_at = host;
    if (i < n && t[i] == ':') {
        port_at = ++i;
        while (i < n && t[i] != ';' && t[i] != ' ' && t[i] != '\t')
            i++;
        port = t + port_at;
        plen = i - port_at;
        if (!valid_port(port, plen)) {
            err(s, ll_off(ll, port_at), "expected a port number from 1 to 65535, got '%.*s'",
                (int)(plen > 40 ? 40 : plen), port);
            return;
        }
    }
    char *tmpl = NULL;
    size_t tmpl_at = 0;
    if (i < n && t[i] == ';') {
        tmpl_at = ll_skip_blanks(ll, i + 1);
        tmpl = strndup(t + tmpl_at, n - tmpl_at);
        i = n;
        if (!tmpl) {
            nomem(s->lg);
            return;
        }
    }
    if (ll_skip_blanks(ll, i) < n) {
        err(s, ll_off(ll, i), "expected %s[:port][;template], got more after it", what);
        free(tmpl);
        return;
    }
    char *target = host_port(t + host, hlen, port, plen);
    if (!target) {
        free(tmpl);
        nomem(s->lg);
        return;
    }
    forward_action(s, sel, stmt_off, target, ll_off(ll, host), proto, tmpl, ll_off(ll, tmpl_at));
    free(target);
    free(tmpl);
}

/* Is the action text from byte i a list of user names (omusrmsg: root,admin)? */
static bool is_user_list(const struct lline *ll, size_t i)
{
    if (i >= ll->len)
        return false;
    for (size_t j = i; j < ll->len; j++) {
        char c = ll->s[j];
        if (!isalnum((unsigned char)c) && c != '_' && c != '-' && c != '.' && c != ',')
            return false;
    }
    return true;
}

/* The legacy action in the logical line from byte i to its end. */
static void legacy_action(struct src *s, const struct sel *sel, const struct lline *ll, size_t i)
{
    const char *t = ll->s + i;
    size_t n = ll->len - i, off = ll_off(ll, i);
    if ((n == 1 && t[0] == '~') || (n == 4 && strncmp(t, "stop", 4) == 0)) {
        discard_action(s, sel, off);
        return;
    }
    if (t[0] == '/' || (t[0] == '-' && n > 1 && t[1] == '/')) {
        bool sync = t[0] == '/';
        size_t p = sync ? i : i + 1;
        const char *semi = memchr(ll->s + p, ';', ll->len - p);
        size_t pend = semi ? (size_t)(semi - ll->s) : ll->len;
        while (pend > p && (ll->s[pend - 1] == ' ' || ll->s[pend - 1] == '\t'))
            pend--;
        char *path = strndup(ll->s + p, pend - p);
        char *tmpl = NULL;
        size_t tmpl_at = 0;
        if (semi) {
            tmpl_at = ll_skip_blanks(ll, (size_t)(semi - ll->s) + 1);
            tmpl = strndup(ll->s + tmpl_at, ll->len - tmpl_at);
        }
        if (!path || (semi && !tmpl))
            nomem(s->lg);
        else if (memchr(path, ' ', strlen(path)) || memchr(path, '\t', strlen(path)))
            err(s, ll_off(ll, p), "expected one file path, got '%.80s'", path);
        else
            /* rsyslog ignores the '-' unless $ActionFileEnableSync is on (it is off by
             * default): a plain /path is not synced either. */
            file_action(s, sel, off, path, ll_off(ll, p), false, off, tmpl, ll_off(ll, tmpl_at));
        free(path);
        free(tmpl);
        return;
    }
    if (t[0] == '@') {
        bool tcp = n > 1 && t[1] == '@';
        forward_legacy(s, sel, off, ll, i + (tcp ? 2 : 1), tcp ? "tcp" : "udp",
                       tcp ? "@@host" : "@host");
        return;
    }
    if (t[0] == '?' || (t[0] == '-' && n > 1 && t[1] == '?')) {
        warn(s, off,
             "dynamic file names ('%.80s') are not supported (in YAML, write the path with "
             "${field}); ignored",
             t);
        return;
    }
    if (t[0] == '|') {
        warn(s, off, "named pipes ('%.80s') are not supported; ignored", t);
        return;
    }
    if (t[0] == '^') {
        warn(s, off, "running programs ('%.80s') is not supported; ignored", t);
        return;
    }
    if (t[0] == '*' && (n == 1 || t[1] == ';')) {
        warn(s, off, "messages to logged-in users ('*', omusrmsg) are not supported; ignored");
        return;
    }
    if (t[0] == ':') {
        const char *colon = n > 1 ? memchr(t + 1, ':', n - 1) : NULL;
        if (!colon) {
            err(s, off, "expected ':module:' before the module's parameters");
            return;
        }
        size_t mlen = (size_t)(colon - t) - 1;
        if (mlen == 6 && strncasecmp(t + 1, "omrelp", 6) == 0) {
            forward_legacy(s, sel, off, ll, i + 8, "relp", ":omrelp:host");
        } else if (mlen == 8 && strncasecmp(t + 1, "omusrmsg", 8) == 0) {
            warn(s, off,
                 "messages to logged-in users ('%.80s', omusrmsg) are not supported; ignored", t);
        } else {
            warn(s, off, "output module '%.*s' is not supported; ignored", (int)mlen, t + 1);
        }
        return;
    }
    if (is_user_list(ll, i)) {
        warn(s, off, "messages to logged-in users ('%.80s', omusrmsg) are not supported; ignored",
             t);
        return;
    }
    err(s, off, "expected an action (/path, -/path, @host, @@host, ~ or stop), got '%.80s'", t);
}

/* action(type="omfile" ...) or action(type="omfwd" ...). */
static void rs_action(struct src *s, const struct sel *sel, size_t stmt_off, struct params *ps)
{
    struct param *type = param_get(ps, "type");
    if (!type || type->nvals != 1) {
        err(s, stmt_off, "action() needs type=\"...\"");
        return;
    }
    const char *ty = type->vals[0];
    char what[96];
    snprintf(what, sizeof(what), "action(type=\"%.40s\")", ty);
    if (strcasecmp(ty, "omfile") == 0) {
        struct param *file = param_get(ps, "file");
        struct param *dyna = param_get(ps, "dynaFile");
        struct param *sync = param_get(ps, "sync");
        struct param *tmpl = param_get(ps, "template");
        if (dyna) {
            warn(s, dyna->name_off,
                 "dynaFile is not supported (in YAML, write the path with ${field}); the "
                 "action is ignored");
            return;
        }
        if (!file || file->nvals != 1) {
            err(s, stmt_off, "action(type=\"omfile\") needs file=\"...\"");
            return;
        }
        bool on = false;
        if (sync && (sync->nvals != 1 || sl_cfg_parse_bool(sync->vals[0], &on) < 0)) {
            err(s, sync->val_offs[0], "expected on or off");
            return;
        }
        params_warn_unused(s, ps, what);
        file_action(s, sel, stmt_off, file->vals[0], file->val_offs[0], on,
                    sync ? sync->val_offs[0] : stmt_off, tmpl ? tmpl->vals[0] : NULL,
                    tmpl ? tmpl->val_offs[0] : 0);
        return;
    }
    if (strcasecmp(ty, "omfwd") == 0 || strcasecmp(ty, "omrelp") == 0) {
        bool relp = strcasecmp(ty, "omrelp") == 0;
        struct param *target = param_get(ps, "target");
        struct param *port = param_get(ps, "port");
        struct param *proto = relp ? NULL : param_get(ps, "protocol");
        struct param *tmpl = param_get(ps, "template");
        if (!target || target->nvals != 1 || !target->vals[0][0]) {
            err(s, stmt_off, "%s needs target=\"...\"", what);
            return;
        }
        const char *p = port && port->nvals == 1 ? port->vals[0] : "514";
        if (!valid_port(p, strlen(p))) {
            err(s, port->val_offs[0], "expected a port number from 1 to 65535, got '%.40s'", p);
            return;
        }
        const char *pr = relp ? "relp" : "udp";
        if (proto) {
            if (proto->nvals == 1 && strcasecmp(proto->vals[0], "udp") == 0)
                pr = "udp";
            else if (proto->nvals == 1 && strcasecmp(proto->vals[0], "tcp") == 0)
                pr = "tcp";
            else {
                err(s, proto->val_offs[0], "expected protocol \"udp\" or \"tcp\"");
                return;
            }
        }
        params_warn_unused(s, ps, what);
        const char *h = target->vals[0];
        if (h[0] == '[' && h[strlen(h) - 1] == ']')
            h++;
        size_t hlen = strlen(h) - (h != target->vals[0] ? 1 : 0);
        char *tgt = host_port(h, hlen, p, strlen(p));
        if (!tgt) {
            nomem(s->lg);
            return;
        }
        forward_action(s, sel, stmt_off, tgt, target->val_offs[0], pr, tmpl ? tmpl->vals[0] : NULL,
                       tmpl ? tmpl->val_offs[0] : 0);
        free(tgt);
        return;
    }
    warn(s, stmt_off, "%s is not supported; ignored", what);
}

/* ---- Statements ------------------------------------------------------------------------ */

static bool valid_selector(const char *t, size_t n)
{
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '.')
            dot = true;
        else if (!isalnum((unsigned char)c) && !strchr("*,;!=", c))
            return false;
    }
    return dot;
}

/*
 * If the action starting at byte i of the line is a RainerScript call (`action(...)`, maybe
 * over several lines), returns the file offset of its '(' , else NONE.
 */
static size_t rs_call_at(struct src *s, const struct lline *ll, size_t i)
{
    if (i >= ll->len || !is_ident_start(ll->s[i]))
        return NONE;
    size_t j = i;
    while (j < ll->len && is_ident(ll->s[j]))
        j++;
    j = ll_skip_blanks(ll, j);
    if (j >= ll->len || ll->s[j] != '(')
        return NONE;
    return ll_off(ll, j);
}

/*
 * An action written as `name(...)` after a filter, from the file offset of its '('. Returns the
 * offset after it. `sel` NULL: the filter is not supported and the action is only skipped.
 */
static size_t rs_call_action(struct src *s, const struct sel *sel, size_t name_off, size_t paren)
{
    size_t end = scan_balanced(s, paren);
    if (end == NONE) {
        err(s, paren, "expected ')' to close this '('");
        return s->len;
    }
    if (!sel)
        return end;
    size_t n = ident_len(s, name_off);
    if (!word_is(s, name_off, n, "action")) {
        warn(s, name_off, "'%.*s()' as an action is not supported; ignored", (int)n,
             s->text + name_off);
        return end;
    }
    struct params ps;
    if (parse_params(s, paren + 1, end - 1, &ps) == 0)
        rs_action(s, sel, name_off, &ps);
    params_free(&ps);
    return end;
}

static void remember_filter(struct lg *lg, int kind, const char *sel, const sl_cfg_pos_t *pos)
{
    free(lg->last_sel);
    lg->last_sel = NULL;
    lg->last = kind;
    lg->last_pos = *pos;
    if (sel && !(lg->last_sel = strdup(sel))) {
        nomem(lg);
        lg->last = F_NONE;
    }
}

/* `selector action` or `& action`. */
static size_t selector_line(struct src *s, size_t off, bool amp)
{
    struct lg *lg = s->lg;
    struct lline ll;
    size_t next = read_lline(s, off, &ll);
    if (next == NONE) {
        lline_free(&ll);
        nomem(lg);
        return s->len;
    }
    struct sel sel = {.stmt = off};
    char *seltext = NULL;
    size_t i;
    bool skip = false;
    if (amp) {
        i = ll_skip_blanks(&ll, 1);
        if (lg->last == F_NONE) {
            err(s, off, "expected a filter before this '&' line");
            goto done;
        }
        if (lg->last == F_SKIP) {
            warn(s, off, "action belongs to the unsupported filter at line %u; ignored",
                 lg->last_pos.line);
            skip = true;
        } else {
            sel.text = lg->last_sel;
            sel.pos = lg->last_pos;
        }
    } else {
        i = 0;
        while (i < ll.len && ll.s[i] != ' ' && ll.s[i] != '\t')
            i++;
        if (!valid_selector(ll.s, i)) {
            err(s, off, "expected a selector like 'mail.info' followed by an action, got '%.*s'",
                (int)(i > 80 ? 80 : i), ll.s);
            goto done;
        }
        seltext = strndup(ll.s, i);
        if (!seltext) {
            nomem(lg);
            goto done;
        }
        sel.text = seltext;
        sel.pos = pos_at(s, off);
        remember_filter(lg, F_SEL, seltext, &sel.pos);
        i = ll_skip_blanks(&ll, i);
    }
    if (i >= ll.len) {
        err(s, ll_off(&ll, i), "expected an action after the %s", amp ? "'&'" : "selector");
        goto done;
    }
    size_t paren = rs_call_at(s, &ll, i);
    if (paren != NONE) {
        next = rs_call_action(s, skip ? NULL : &sel, ll_off(&ll, i), paren);
        goto done;
    }
    if (!skip)
        legacy_action(s, &sel, &ll, i);
done:
    free(seltext);
    lline_free(&ll);
    return next;
}

/* `:property, [!]operation, "value" action`: skipped whole, with its action. */
static size_t property_filter(struct src *s, size_t off)
{
    struct lline ll;
    size_t next = read_lline(s, off, &ll);
    if (next == NONE) {
        lline_free(&ll);
        nomem(s->lg);
        return s->len;
    }
    size_t i = 1, commas = 0, fields_end = ll.len;
    while (i < ll.len && commas < 2) {
        if (ll.s[i] == ',') {
            if (++commas == 2)
                fields_end = i;
        }
        i++;
    }
    i = ll_skip_blanks(&ll, i);
    size_t act = NONE;
    if (commas == 2 && i < ll.len && ll.s[i] == '"') {
        for (i++; i < ll.len && ll.s[i] != '"'; i++)
            if (ll.s[i] == '\\')
                i++;
        if (i < ll.len)
            act = ll_skip_blanks(&ll, i + 1);
    }
    warn(s, off,
         "property filters ('%.*s') are not supported (use where: in the YAML format); the "
         "filter and its action are ignored",
         (int)(fields_end > 60 ? 60 : fields_end), ll.s);
    sl_cfg_pos_t pos = pos_at(s, off);
    remember_filter(s->lg, F_SKIP, NULL, &pos);
    if (act != NONE) {
        size_t paren = rs_call_at(s, &ll, act);
        if (paren != NONE)
            next = rs_call_action(s, NULL, ll_off(&ll, act), paren);
    }
    lline_free(&ll);
    return next;
}

/* The action part after `then`/`else`/`do`: a block, a call, or a legacy action line. */
static size_t skip_body(struct src *s, size_t p);

static size_t skip_if(struct src *s, size_t off, size_t kwlen, const char *then)
{
    size_t p = off + kwlen;
    int depth = 0;
    while (p < s->len) {
        char c = s->text[p];
        if (c == '"' || c == '\'') {
            p = skip_quoted(s, p);
            if (p == NONE)
                break;
            continue;
        }
        if (c == '#' || (c == '/' && at(s, p + 1) == '*')) {
            p = skip_space(s, p);
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        else if (depth == 0 && is_ident_start(c) && !is_ident(s->text[p - 1])) {
            size_t n = ident_len(s, p);
            if (word_is(s, p, n, then))
                return skip_body(s, p + n);
            p += n;
            continue;
        }
        p++;
    }
    err(s, off, "expected '%s' after '%.*s'", then, (int)kwlen, s->text + off);
    return next_line(s, off);
}

static size_t skip_body(struct src *s, size_t p)
{
    p = skip_space(s, p);
    size_t end;
    if (at(s, p) == '{') {
        end = scan_balanced(s, p);
        if (end == NONE) {
            err(s, p, "expected '}' to close this block");
            return s->len;
        }
    } else {
        size_t n = ident_len(s, p);
        size_t q = skip_blanks(s, p + n);
        if (n && at(s, q) == '(') {
            end = scan_balanced(s, q);
            if (end == NONE) {
                err(s, q, "expected ')' to close this '('");
                return s->len;
            }
        } else {
            struct lline ll;
            end = read_lline(s, p, &ll);
            lline_free(&ll);
            if (end == NONE) {
                nomem(s->lg);
                return s->len;
            }
            return end;
        }
    }
    size_t q = skip_space(s, end);
    size_t n = ident_len(s, q);
    if (word_is(s, q, n, "else")) {
        size_t r = skip_space(s, q + n);
        size_t m = ident_len(s, r);
        if (word_is(s, r, m, "if"))
            return skip_if(s, r, m, "then");
        return skip_body(s, q + n);
    }
    return end;
}

/* `$Directive args`. */
static size_t dollar_line(struct src *s, size_t off)
{
    struct lg *lg = s->lg;
    struct lline ll;
    size_t next = read_lline(s, off, &ll);
    if (next == NONE) {
        lline_free(&ll);
        nomem(lg);
        return s->len;
    }
    size_t n = 1;
    while (n < ll.len && ll.s[n] != ' ' && ll.s[n] != '\t')
        n++;
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(n - 1 < 63 ? n - 1 : 63), ll.s + 1);
    size_t a = ll_skip_blanks(&ll, n);
    const char *arg = ll.s ? ll.s + a : "";
    size_t arg_off = ll_off(&ll, a);
    bool needs_arg = true;
    if (strcasecmp(name, "ModLoad") == 0) {
        char mod[64];
        module_base(arg, mod, sizeof(mod));
        if (*arg && !load_module(s, mod, off))
            warn(s, off, "module '%s' is not supported; ignored", mod);
    } else if (strcasecmp(name, "UDPServerRun") == 0) {
        if (*arg)
            add_listener(s, "imudp", NULL, 0, lg->udp_addr, arg_off, arg, arg_off, off);
    } else if (strcasecmp(name, "UDPServerAddress") == 0) {
        if (*arg)
            set_string(lg, &lg->udp_addr, arg);
    } else if (strcasecmp(name, "InputTCPServerRun") == 0) {
        if (*arg)
            add_listener(s, "imtcp", NULL, 0, NULL, 0, arg, arg_off, off);
    } else if (strcasecmp(name, "InputPTCPServerRun") == 0) {
        if (*arg)
            add_listener(s, "imptcp", NULL, 0, NULL, 0, arg, arg_off, off);
    } else if (strcasecmp(name, "OmitLocalLogging") == 0) {
        bool v;
        if (*arg && sl_cfg_parse_bool(arg, &v) < 0)
            err(s, arg_off, "expected on or off, got '%.40s'", arg);
        else if (*arg)
            lg->ux_use = !v;
    } else if (strcasecmp(name, "SystemLogSocketName") == 0) {
        if (*arg) {
            set_string(lg, &lg->ux_path, arg);
            lg->ux_path_pos = pos_at(s, arg_off);
        }
    } else if (strcasecmp(name, "AddUnixListenSocket") == 0) {
        if (*arg)
            add_unix(s, NULL, 0, arg, arg_off, off);
    } else if (strcasecmp(name, "WorkDirectory") == 0) {
        if (*arg)
            set_work_dir(s, arg, off, arg_off);
    } else if (strcasecmp(name, "IncludeConfig") == 0) {
        if (*arg)
            include(s, arg, false, off);
    } else if (strcasecmp(name, "ActionFileDefaultTemplate") == 0 ||
               strcasecmp(name, "ActionForwardDefaultTemplate") == 0) {
        bool file = strcasecmp(name, "ActionFileDefaultTemplate") == 0;
        const char *t = *arg ? map_template(arg) : NULL;
        if (*arg && !t)
            warn(s, arg_off,
                 "template '%.80s' is not supported; actions keep their default template", arg);
        else if (*arg)
            *(file ? &lg->file_tmpl : &lg->fwd_tmpl) = t;
    } else {
        needs_arg = false;
        warn(s, off, "directive '$%s' is not supported; ignored", name);
    }
    if (needs_arg && !*arg)
        err(s, arg_off, "expected a value after '$%s'", name);
    lline_free(&ll);
    return next;
}

/* module(load="...") */
static void rs_module(struct src *s, size_t off, struct params *ps)
{
    struct lg *lg = s->lg;
    struct param *load = param_get(ps, "load");
    if (!load || load->nvals != 1) {
        err(s, off, "module() needs load=\"...\"");
        return;
    }
    char mod[64], what[96];
    module_base(load->vals[0], mod, sizeof(mod));
    snprintf(what, sizeof(what), "module(load=\"%s\")", load->vals[0]);
    if (!load_module(s, mod, off)) {
        warn(s, off, "module '%s' is not supported; ignored", mod);
        return;
    }
    if (strcmp(mod, "imuxsock") == 0) {
        struct param *use = param_get(ps, "SysSock.Use");
        struct param *name = param_get(ps, "SysSock.Name");
        bool v;
        if (use && (use->nvals != 1 || sl_cfg_parse_bool(use->vals[0], &v) < 0))
            err(s, use->val_offs[0], "expected on or off");
        else if (use)
            lg->ux_use = v;
        if (name && name->nvals == 1) {
            set_string(lg, &lg->ux_path, name->vals[0]);
            lg->ux_path_pos = pos_at(s, name->val_offs[0]);
        }
    } else if (strcmp(mod, "omfile") == 0 || strcmp(mod, "omfwd") == 0) {
        struct param *tmpl = param_get(ps, "template");
        if (tmpl && tmpl->nvals == 1) {
            const char *t = map_template(tmpl->vals[0]);
            if (!t)
                warn(s, tmpl->val_offs[0],
                     "template '%.80s' is not supported; actions keep their default template",
                     tmpl->vals[0]);
            else
                *(strcmp(mod, "omfile") == 0 ? &lg->file_tmpl : &lg->fwd_tmpl) = t;
        }
    }
    params_warn_unused(s, ps, what);
}

/* input(type="...") */
static void rs_input(struct src *s, size_t off, struct params *ps)
{
    struct param *type = param_get(ps, "type");
    if (!type || type->nvals != 1) {
        err(s, off, "input() needs type=\"...\"");
        return;
    }
    char mod[64], what[96];
    module_base(type->vals[0], mod, sizeof(mod));
    snprintf(what, sizeof(what), "input(type=\"%s\")", type->vals[0]);
    struct param *name = param_get(ps, "name");
    const char *nm = name && name->nvals == 1 ? name->vals[0] : NULL;
    size_t nm_off = nm ? name->val_offs[0] : 0;
    if (strcmp(mod, "imudp") == 0 || strcmp(mod, "imtcp") == 0 || strcmp(mod, "imptcp") == 0) {
        struct param *port = param_get(ps, "port");
        struct param *addr = param_get(ps, "address");
        if (!port || port->nvals == 0) {
            err(s, off, "%s needs port=\"...\"", what);
            return;
        }
        params_warn_unused(s, ps, what);
        for (size_t i = 0; i < port->nvals; i++) {
            /* One input per port; a given name stays unique: "remote", "remote-2", ... */
            char uniq[128];
            const char *n = nm;
            if (nm && i > 0) {
                snprintf(uniq, sizeof(uniq), "%.100s-%zu", nm, i + 1);
                n = uniq;
            }
            add_listener(s, mod, n, nm_off, addr && addr->nvals == 1 ? addr->vals[0] : NULL,
                         addr ? addr->val_offs[0] : 0, port->vals[i], port->val_offs[i], off);
        }
        return;
    }
    if (strcmp(mod, "imuxsock") == 0) {
        struct param *sock = param_get(ps, "socket");
        if (!sock || sock->nvals != 1) {
            err(s, off, "%s needs socket=\"...\"", what);
            return;
        }
        params_warn_unused(s, ps, what);
        add_unix(s, nm, nm_off, sock->vals[0], sock->val_offs[0], off);
        return;
    }
    warn(s, off, "input type '%s' is not supported; ignored", type->vals[0]);
}

static void rs_global(struct src *s, size_t off, struct params *ps)
{
    struct param *wd = param_get(ps, "workDirectory");
    if (wd && wd->nvals == 1)
        set_work_dir(s, wd->vals[0], wd->name_off, wd->val_offs[0]);
    params_warn_unused(s, ps, "global()");
}

static void rs_include(struct src *s, size_t off, struct params *ps)
{
    struct param *file = param_get(ps, "file");
    struct param *text = param_get(ps, "text");
    struct param *mode = param_get(ps, "mode");
    if (text) {
        warn(s, off, "include(text=...) is not supported; ignored");
        return;
    }
    if (!file || file->nvals != 1) {
        err(s, off, "include() needs file=\"...\"");
        return;
    }
    bool optional = mode && mode->nvals == 1 && strcasecmp(mode->vals[0], "optional") == 0;
    params_warn_unused(s, ps, "include()");
    include(s, file->vals[0], optional, off);
}

/* `name(...)` at the start of a statement, maybe followed by a `{ ... }` block. */
static size_t object_statement(struct src *s, size_t off, size_t n, size_t paren)
{
    size_t end = scan_balanced(s, paren);
    if (end == NONE) {
        err(s, paren, "expected ')' to close this '('");
        return s->len;
    }
    size_t after = end;
    size_t q = skip_space(s, end);
    bool block = at(s, q) == '{';
    if (block) {
        after = scan_balanced(s, q);
        if (after == NONE) {
            err(s, q, "expected '}' to close this block");
            return s->len;
        }
    }
    if (word_is(s, off, n, "module") || word_is(s, off, n, "input") ||
        word_is(s, off, n, "global") || word_is(s, off, n, "include") ||
        word_is(s, off, n, "action")) {
        struct params ps;
        if (parse_params(s, paren + 1, end - 1, &ps) == 0) {
            if (word_is(s, off, n, "module"))
                rs_module(s, off, &ps);
            else if (word_is(s, off, n, "input"))
                rs_input(s, off, &ps);
            else if (word_is(s, off, n, "global"))
                rs_global(s, off, &ps);
            else if (word_is(s, off, n, "include"))
                rs_include(s, off, &ps);
            else
                rs_action(s, &(struct sel){.stmt = off}, off, &ps);
        }
        params_free(&ps);
    } else if (word_is(s, off, n, "ruleset")) {
        warn(s, off, "ruleset() is not supported; the actions in it are ignored");
    } else if (word_is(s, off, n, "template")) {
        warn(s, off,
             "template() is not supported (define templates: in the YAML format); "
             "ignored");
    } else {
        warn(s, off, "'%.*s()' is not supported; ignored", (int)n, s->text + off);
    }
    return after;
}

/* One statement at `off` (not blank, not a comment). Returns where the next one may start. */
static size_t statement(struct src *s, size_t off)
{
    char c = s->text[off];
    if (c == '$')
        return dollar_line(s, off);
    if (c == '&')
        return selector_line(s, off, true);
    if (c == ':')
        return property_filter(s, off);
    if (c == '!' || c == '+' || c == '-') {
        err(s, off,
            "BSD-style program/host blocks ('%c...') are not supported; remove them and filter "
            "with where: in the YAML format",
            c);
        return next_line(s, off);
    }
    size_t n = ident_len(s, off);
    if (n) {
        size_t q = skip_blanks(s, off + n);
        /* `if (...)` is a statement, not an object called "if". */
        if (word_is(s, off, n, "if") || word_is(s, off, n, "foreach")) {
            bool is_if = n == 2;
            sl_cfg_pos_t pos = pos_at(s, off);
            warn(s, off,
                 "'%s' statements are not supported (use where: in the YAML format); the "
                 "statement and its actions are ignored",
                 is_if ? "if" : "foreach");
            remember_filter(s->lg, F_SKIP, NULL, &pos);
            return skip_if(s, off, n, is_if ? "then" : "do");
        }
        if (at(s, q) == '(')
            return object_statement(s, off, n, q);
        if (word_is(s, off, n, "set") || word_is(s, off, n, "unset")) {
            warn(s, off, "'%.*s' statements are not supported; ignored", (int)n, s->text + off);
            size_t p = off;
            while (p < s->len && s->text[p] != ';') {
                if (s->text[p] == '"' || s->text[p] == '\'') {
                    p = skip_quoted(s, p);
                    if (p == NONE)
                        return s->len;
                } else {
                    p++;
                }
            }
            return p < s->len ? p + 1 : s->len;
        }
        if (word_is(s, off, n, "stop") || word_is(s, off, n, "call") ||
            word_is(s, off, n, "continue")) {
            warn(s, off, "'%.*s' outside a filter is not supported; ignored", (int)n,
                 s->text + off);
            return next_line(s, off);
        }
    }
    if (c == '{' || c == '}' || c == '(' || c == ')') {
        err(s, off, "unexpected '%c'", c);
        return next_line(s, off);
    }
    return selector_line(s, off, false);
}

static void parse_text(struct src *s)
{
    size_t off = 0;
    if (s->len >= 3 && memcmp(s->text, "\xef\xbb\xbf", 3) == 0)
        off = 3;
    while (off < s->len && !s->lg->nomem) {
        off = skip_space(s, off);
        if (off >= s->len)
            break;
        size_t next = statement(s, off);
        /* Every statement consumes at least its first byte, so the loop ends. */
        sl_assert(next == NONE || next > off);
        off = next == NONE || next <= off ? next_line(s, off) : next;
    }
}

/* Reads text as one legacy file (the top one or an include). */
static void parse_source(struct lg *lg, const char *text, size_t len, const char *name, int depth)
{
    struct src s = {.lg = lg, .text = text, .len = len, .depth = depth};
    s.file = sl_cfg_doc_intern(lg->doc, name);
    if (!s.file) {
        nomem(lg);
        return;
    }
    size_t nl = 1;
    for (size_t i = 0; i < len; i++)
        nl += text[i] == '\n';
    s.lines = malloc(nl * sizeof(size_t));
    if (!s.lines) {
        nomem(lg);
        return;
    }
    s.lines[0] = 0;
    s.nlines = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            s.lines[s.nlines++] = i + 1;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        err(&s, (size_t)(nul - text), "expected text, found a NUL byte");
    else
        parse_text(&s);
    free(s.lines);
}

static void parse_file(struct lg *lg, const char *path, int depth)
{
    char *text;
    size_t len;
    if (sl_cfg_read_file(path, &text, &len, lg->errs) < 0) {
        lg->bad = true;
        return;
    }
    parse_source(lg, text, len, path, depth);
    free(text);
}

/* ---- Loading --------------------------------------------------------------------------- */

static int lg_init(struct lg *lg, sl_cfg_errs_t *errs, sl_cfg_errs_t *warns)
{
    memset(lg, 0, sizeof(*lg));
    lg->errs = errs;
    lg->warns = warns;
    lg->ux_use = true;
    lg->doc = sl_cfg_doc_new();
    lg->inputs = sl_cfg_node_new_list(NULL);
    lg->actions = sl_cfg_node_new_list(NULL);
    if (!lg->doc || !lg->inputs || !lg->actions) {
        nomem(lg);
        return -ENOMEM;
    }
    return 0;
}

static void lg_free(struct lg *lg)
{
    sl_cfg_doc_free(lg->doc);
    sl_cfg_node_free(lg->inputs);
    sl_cfg_node_free(lg->actions);
    sl_cfg_node_free(lg->work_dir);
    free(lg->ux_path);
    free(lg->udp_addr);
    free(lg->last_sel);
}

/* Adds the system socket of imuxsock and assembles the root map. */
static void finish(struct lg *lg, const char *top)
{
    if (lg->ux_loaded && lg->ux_use && !lg->nomem) {
        sl_cfg_pos_t *p = &lg->ux_pos;
        sl_cfg_node_t *m = sl_cfg_node_new_map(p);
        if (!m) {
            nomem(lg);
            return;
        }
        put_pos(lg, m, "name", "imuxsock", p);
        put_pos(lg, m, "type", "unix", p);
        put_pos(lg, m, "path", lg->ux_path ? lg->ux_path : "/dev/log",
                lg->ux_path ? &lg->ux_path_pos : p);
        if (lg->nomem || sl_cfg_list_add(lg->inputs, m) < 0) {
            sl_cfg_node_free(m);
            nomem(lg);
            return;
        }
        /* Move it to where the module was loaded. */
        sl_cfg_node_t **items = lg->inputs->items;
        memmove(items + lg->ux_index + 1, items + lg->ux_index,
                (lg->inputs->n - 1 - lg->ux_index) * sizeof(*items));
        items[lg->ux_index] = m;
    }
    if (lg->nomem)
        return;
    sl_cfg_pos_t rpos = {.file = sl_cfg_doc_intern(lg->doc, top), .line = 1, .col = 1};
    sl_cfg_node_t *root = sl_cfg_node_new_map(&rpos);
    if (!root) {
        nomem(lg);
        return;
    }
    lg->doc->root = root;
    if (lg->work_dir) {
        if (sl_cfg_map_add(root, "work_dir", &lg->work_dir_key_pos, lg->work_dir) < 0) {
            nomem(lg);
            return;
        }
        lg->work_dir = NULL;
    }
    struct {
        const char *key;
        sl_cfg_node_t **list;
    } lists[] = {{"inputs", &lg->inputs}, {"actions", &lg->actions}};
    for (size_t i = 0; i < 2; i++) {
        sl_cfg_node_t *l = *lists[i].list;
        if (!l->n)
            continue;
        l->pos = l->items[0]->pos;
        if (sl_cfg_map_add(root, lists[i].key, &l->pos, l) < 0) {
            nomem(lg);
            return;
        }
        *lists[i].list = NULL;
    }
}

static int load_common(struct lg *lg, const char *text, size_t len, const char *name,
                       sl_cfg_doc_t **out)
{
    if (text)
        parse_source(lg, text, len, name, 0);
    else
        parse_file(lg, name, 0);
    if (!lg->bad)
        finish(lg, name);
    int rc = lg->nomem ? -ENOMEM : lg->bad ? -EINVAL : 0;
    if (rc == 0) {
        *out = lg->doc;
        lg->doc = NULL;
    }
    lg_free(lg);
    return rc;
}

int sl_cfg_legacy_load_string(const char *text, size_t len, const char *name, sl_cfg_doc_t **out,
                              sl_cfg_errs_t *errs, sl_cfg_errs_t *warns)
{
    struct lg lg;
    *out = NULL;
    if (lg_init(&lg, errs, warns) < 0) {
        lg_free(&lg);
        return -ENOMEM;
    }
    return load_common(&lg, text, len, name ? name : "<string>", out);
}

int sl_cfg_legacy_load_file(const char *path, sl_cfg_doc_t **out, sl_cfg_errs_t *errs,
                            sl_cfg_errs_t *warns)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = sl_cfg_read_file(path, &text, &len, errs);
    if (rc < 0)
        return rc;
    rc = sl_cfg_legacy_load_string(text, len, path, out, errs, warns);
    free(text);
    return rc;
}

/* ---- Format detection ------------------------------------------------------------------ */

sl_cfg_format_t sl_cfg_detect_format(const char *text, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len) {
        size_t eol = i;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t p = i;
        while (p < eol && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
            p++;
        if (p == eol || text[p] == '#') {
            i = eol + 1;
            continue;
        }
        const char *t = text + p;
        size_t n = eol - p;
        while (n && (t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        if ((n >= 3 && memcmp(t, "---", 3) == 0) || (n >= 5 && memcmp(t, "%YAML", 5) == 0) ||
            (n >= 4 && memcmp(t, "%TAG", 4) == 0) || t[0] == '{' || t[0] == '[')
            return SL_CFG_FORMAT_YAML;
        if (t[0] == '-' && (n == 1 || t[1] == ' ' || t[1] == '\t'))
            return SL_CFG_FORMAT_YAML;
        size_t k = 0;
        if (t[0] == '"' || t[0] == '\'') {
            const char *close = n > 1 ? memchr(t + 1, t[0], n - 1) : NULL;
            if (!close)
                return SL_CFG_FORMAT_LEGACY;
            k = (size_t)(close - t) + 1;
        } else {
            if (!isalpha((unsigned char)t[0]) && t[0] != '_')
                return SL_CFG_FORMAT_LEGACY;
            while (k < n &&
                   (isalnum((unsigned char)t[k]) || t[k] == '_' || t[k] == '-' || t[k] == '.'))
                k++;
        }
        while (k < n && (t[k] == ' ' || t[k] == '\t'))
            k++;
        if (k < n && t[k] == ':' && (k + 1 == n || t[k + 1] == ' ' || t[k + 1] == '\t'))
            return SL_CFG_FORMAT_YAML;
        return SL_CFG_FORMAT_LEGACY;
    }
    return SL_CFG_FORMAT_YAML;
}

int sl_cfg_load(const char *path, sl_cfg_format_t format, sl_cfg_doc_t **out, sl_cfg_errs_t *errs,
                sl_cfg_errs_t *warns)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = sl_cfg_read_file(path, &text, &len, errs);
    if (rc < 0)
        return rc;
    if (format == SL_CFG_FORMAT_AUTO)
        format = sl_cfg_detect_format(text, len);
    if (format == SL_CFG_FORMAT_LEGACY)
        rc = sl_cfg_legacy_load_string(text, len, path, out, errs, warns);
    else
        rc = sl_cfg_load_yaml_string(text, len, path, out, errs);
    free(text);
    return rc;
}
