/*
 * The `where` compiler and evaluator.
 *
 * Grammar (keywords are case-insensitive, field names are not):
 *
 *     expr       := and_expr ('or' and_expr)*
 *     and_expr   := not_expr ('and' not_expr)*
 *     not_expr   := 'not' not_expr | '(' expr ')' | comparison
 *     comparison := operand OP operand
 *     operand    := field | "string" | 'string' | integer
 *     OP         := == != < <= > >= contains startswith endswith =~ !~
 *
 * Types. pri, facility and severity are numbers, every other field is text, literals are what
 * they look like. Two numbers compare as numbers. A number and a text compare as numbers when the
 * text is an integer ("1234", "-5"); a text that is not an integer equals no number and is neither
 * less nor greater than one (so == and < are false and != is true). Two texts compare bytewise.
 * facility and severity may be compared with names: a string literal on the other side of an
 * ordering or equality operator is turned into the code at compile time ("auth" is 4, "warning" is
 * 4), and an unknown name is a compile error, so `severity <= "warning"` means warning or more
 * severe, exactly like `severity <= 4`. contains, startswith, endswith and the regex operators
 * work on text; a number there is its decimal text. The right side of =~ and !~ must be a string
 * literal: the pattern is compiled once, here. Patterns are PCRE2 syntax matched on bytes (no
 * UTF mode), unanchored; (?i) makes one case-insensitive.
 *
 * String literals take \" \' \\ \n \t \r; any other backslash pair is kept as it is, so patterns
 * such as "\d+\.\d+" need no doubling.
 *
 * Form. The text compiles to a tree in two arrays: nodes, and the child lists of and/or nodes
 * (n-ary, so a long chain of `and` does not make the tree deep). Nesting of parentheses and `not`
 * is limited (WHERE_MAX_DEPTH), which bounds the recursion of both the parser and the evaluator.
 * Evaluation short-circuits left to right.
 *
 * Concurrency. After sl_where_compile returns, the tree, the literals, the compiled patterns and
 * the PCRE2 match context are only read, by any number of threads at once: PCRE2 allows a compiled
 * pattern (JIT code included) and a match context to be shared. What PCRE2 does not allow is to
 * share match data, which pcre2_match writes. Each thread therefore keeps one match data block of
 * its own in thread-specific storage (a pthread key created once; its destructor frees the block
 * when the thread exits). Only a match/no-match answer is needed, so a block with one ovector pair
 * serves every pattern, and since PCRE2 10.41 it also keeps the heap frames of the interpreter
 * between calls: after a thread's first regex match, matching allocates nothing. Fields are read
 * into a scratch buffer on the evaluating thread's stack. The only write to a compiled expression
 * is the regex error counter, an _Atomic incremented with relaxed order (a statistic, ordering
 * nothing).
 */
#include "rules/where.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_config.h"
#include "lib/sl_assert.h"
#include "rules/selector.h"

#if SL_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

/* Deepest nesting of parentheses and `not`. */
#define WHERE_MAX_DEPTH 64
/* Longest piece of the source quoted in an error message. */
#define QUOTE_MAX 40
/* Regex limits: a pattern that backtracks catastrophically on some message costs at most this
 * much, and counts as no match (sl_where_regex_errors). JIT honours the match limit. */
#define REGEX_MATCH_LIMIT    1000000
#define REGEX_HEAP_LIMIT_KIB 4096

enum cmp_op {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_CONTAINS,
    OP_STARTSWITH,
    OP_ENDSWITH,
    OP_MATCH,
    OP_NMATCH,
};

static const char *const op_names[] = {
    [OP_EQ] = "==",
    [OP_NE] = "!=",
    [OP_LT] = "<",
    [OP_LE] = "<=",
    [OP_GT] = ">",
    [OP_GE] = ">=",
    [OP_CONTAINS] = "contains",
    [OP_STARTSWITH] = "startswith",
    [OP_ENDSWITH] = "endswith",
    [OP_MATCH] = "=~",
    [OP_NMATCH] = "!~",
};

#define OP_LIST "==, !=, <, <=, >, >=, contains, startswith, endswith, =~ or !~"

enum operand_kind {
    A_NUM,       /* integer literal */
    A_STR,       /* string literal */
    A_FIELD_NUM, /* pri, facility, severity */
    A_FIELD_STR, /* any other field */
};

typedef struct operand {
    uint8_t kind;  /* enum operand_kind */
    uint8_t field; /* sl_field_id_t for fields */
    int64_t num;   /* A_NUM */
    char *str;     /* A_STR: unescaped bytes, owned, NUL-terminated */
    size_t len;    /* A_STR */
    size_t start;  /* byte offset in the source, for errors */
} operand_t;

enum node_kind { N_AND, N_OR, N_NOT, N_CMP };

typedef struct node {
    uint8_t kind;          /* enum node_kind */
    uint8_t op;            /* enum cmp_op, N_CMP */
    uint32_t first, count; /* N_AND, N_OR: kids[first..first+count); N_NOT: the child is first */
    operand_t l, r;        /* N_CMP */
#if SL_HAVE_PCRE2
    pcre2_code *re; /* OP_MATCH, OP_NMATCH */
#endif
} node_t;

struct sl_where {
    node_t *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *kids;
    uint32_t n_kids, cap_kids;
    uint32_t root;
    _Atomic uint64_t regex_errors;
#if SL_HAVE_PCRE2
    pcre2_match_context *mctx;
#endif
};

/* ---- Evaluation ---- */

typedef struct value {
    bool is_num;
    int64_t num;
    const char *s;
    size_t len;
} value_t;

static void get_value(const operand_t *o, const sl_msg_t *m, char scratch[SL_FIELD_SCRATCH],
                      value_t *v)
{
    switch (o->kind) {
    case A_NUM:
        v->is_num = true;
        v->num = o->num;
        break;
    case A_STR:
        v->is_num = false;
        v->s = o->str;
        v->len = o->len;
        break;
    case A_FIELD_NUM:
        v->is_num = true;
        v->num = o->field == SL_F_PRI        ? m->pri
                 : o->field == SL_F_FACILITY ? m->pri >> 3
                                             : m->pri & 7;
        break;
    default:
        v->is_num = false;
        v->len = sl_msg_field(m, (sl_field_id_t)o->field, scratch, &v->s);
        break;
    }
}

/* Strict decimal integer: optional '-', digits, nothing else, no overflow. */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len)
        return false;
    uint64_t v = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* A number's decimal text, for the text operators. */
static void number_text(value_t *v, char buf[24])
{
    int n = snprintf(buf, 24, "%lld", (long long)v->num);
    v->s = buf;
    v->len = (size_t)n;
    v->is_num = false;
}

#define INCOMPARABLE 2

/* -1, 0, 1, or INCOMPARABLE for a number against a text that is not an integer. */
static int compare(const value_t *a, const value_t *b)
{
    int64_t x, y;
    if (a->is_num || b->is_num) {
        if (a->is_num)
            x = a->num;
        else if (!parse_int(a->s, a->len, &x))
            return INCOMPARABLE;
        if (b->is_num)
            y = b->num;
        else if (!parse_int(b->s, b->len, &y))
            return INCOMPARABLE;
        return x < y ? -1 : x > y;
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

#if SL_HAVE_PCRE2
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static bool md_key_ok; /* written once under md_once, read after pthread_once */

static void md_destroy(void *md)
{
    pcre2_match_data_free(md);
}

static void md_key_init(void)
{
    md_key_ok = pthread_key_create(&md_key, md_destroy) == 0;
}

/* 1 match, 0 no match, -1 error. */
static int regex_match(const sl_where_t *w, const pcre2_code *re, const char *s, size_t len)
{
    pthread_once(&md_once, md_key_init);
    pcre2_match_data *md = md_key_ok ? pthread_getspecific(md_key) : NULL;
    bool owned = false;
    if (!md) {
        md = pcre2_match_data_create(1, NULL);
        if (!md)
            return -1;
        if (!md_key_ok || pthread_setspecific(md_key, md) != 0)
            owned = true; /* no thread cache: use it once */
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, w->mctx);
    if (owned)
        pcre2_match_data_free(md);
    /* 0 means a match whose captures did not fit the one-pair ovector. */
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
#endif

/* Kept out of eval so that the scratch buffers are not in every recursive frame. */
static __attribute__((noinline)) bool eval_cmp(const sl_where_t *w, const node_t *n,
                                               const sl_msg_t *m)
{
    char scratch_l[SL_FIELD_SCRATCH], scratch_r[SL_FIELD_SCRATCH];
    char num_l[24], num_r[24];
    value_t a, b;
    get_value(&n->l, m, scratch_l, &a);
    get_value(&n->r, m, scratch_r, &b);
    int c;
    switch ((enum cmp_op)n->op) {
    case OP_EQ:
        return compare(&a, &b) == 0;
    case OP_NE:
        return compare(&a, &b) != 0;
    case OP_LT:
        c = compare(&a, &b);
        return c != INCOMPARABLE && c < 0;
    case OP_LE:
        c = compare(&a, &b);
        return c != INCOMPARABLE && c <= 0;
    case OP_GT:
        c = compare(&a, &b);
        return c != INCOMPARABLE && c > 0;
    case OP_GE:
        c = compare(&a, &b);
        return c != INCOMPARABLE && c >= 0;
    default:
        break;
    }
    if (a.is_num)
        number_text(&a, num_l);
    if (b.is_num)
        number_text(&b, num_r);
    switch ((enum cmp_op)n->op) {
    case OP_CONTAINS:
        return b.len == 0 || (a.len >= b.len && memmem(a.s, a.len, b.s, b.len) != NULL);
    case OP_STARTSWITH:
        return a.len >= b.len && (b.len == 0 || memcmp(a.s, b.s, b.len) == 0);
    case OP_ENDSWITH:
        return a.len >= b.len && (b.len == 0 || memcmp(a.s + a.len - b.len, b.s, b.len) == 0);
#if SL_HAVE_PCRE2
    case OP_MATCH:
    case OP_NMATCH: {
        int r = regex_match(w, n->re, a.s, a.len);
        if (r < 0) {
            atomic_fetch_add_explicit(&((sl_where_t *)w)->regex_errors, 1, memory_order_relaxed);
            return false;
        }
        return n->op == OP_MATCH ? r == 1 : r == 0;
    }
#endif
    default:
        sl_assert(!"unknown operator");
        return false;
    }
}

static bool eval(const sl_where_t *w, uint32_t i, const sl_msg_t *m)
{
    const node_t *n = &w->nodes[i];
    switch ((enum node_kind)n->kind) {
    case N_AND:
        for (uint32_t k = 0; k < n->count; k++) {
            if (!eval(w, w->kids[n->first + k], m))
                return false;
        }
        return true;
    case N_OR:
        for (uint32_t k = 0; k < n->count; k++) {
            if (eval(w, w->kids[n->first + k], m))
                return true;
        }
        return false;
    case N_NOT:
        return !eval(w, n->first, m);
    case N_CMP:
    default:
        return eval_cmp(w, n, m);
    }
}

bool sl_where_match(const sl_where_t *w, const sl_msg_t *m)
{
    return eval(w, w->root, m);
}

uint64_t sl_where_regex_errors(const sl_where_t *w)
{
    return atomic_load_explicit(&((sl_where_t *)w)->regex_errors, memory_order_relaxed);
}

static void operand_free(operand_t *o)
{
    free(o->str);
    o->str = NULL;
}

static void node_free(node_t *n)
{
    if (n->kind != N_CMP)
        return;
    operand_free(&n->l);
    operand_free(&n->r);
#if SL_HAVE_PCRE2
    pcre2_code_free(n->re);
    n->re = NULL;
#endif
}

void sl_where_free(sl_where_t *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->n_nodes; i++)
        node_free(&w->nodes[i]);
    free(w->nodes);
    free(w->kids);
#if SL_HAVE_PCRE2
    pcre2_match_context_free(w->mctx);
#endif
    free(w);
}

/* ---- Lexer ---- */

enum tok_kind { T_END, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_IDENT, T_STR, T_NUM, T_OP };

typedef struct token {
    enum tok_kind kind;
    size_t start, len; /* bytes of the source */
    enum cmp_op op;    /* T_OP */
    int64_t num;       /* T_NUM */
    char *str;         /* T_STR: unescaped, owned until taken */
    size_t str_len;
} token_t;

typedef struct parser {
    const char *text;
    size_t pos;
    token_t tok;
    sl_where_t *w;
    sl_rule_err_t *err;
    int depth;
} parser_t;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int quote_len(size_t len)
{
    return (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
}

/* What the current token is, for "found X" in messages. */
static void describe_tok(const parser_t *p, char *buf, size_t size)
{
    const token_t *t = &p->tok;
    switch (t->kind) {
    case T_END:
        snprintf(buf, size, "the end");
        break;
    case T_STR:
        snprintf(buf, size, "the string %.*s%s", quote_len(t->len), p->text + t->start,
                 t->len > QUOTE_MAX ? "..." : "");
        break;
    default:
        snprintf(buf, size, "'%.*s'", quote_len(t->len), p->text + t->start);
        break;
    }
}

/* Reads the string literal opening at text[start]. */
static int lex_string(parser_t *p, size_t start)
{
    const char *t = p->text;
    char q = t[start];
    size_t i = start + 1, n = 0;
    /* First pass: find the end and the unescaped length. */
    for (;;) {
        char c = t[i];
        if (c == '\0') {
            sl_rule_err_set(p->err, t, start, "unterminated string (no closing %c)", q);
            return -EINVAL;
        }
        if (c == q)
            break;
        if (c == '\\') {
            char e = t[i + 1];
            if (e == '\0') {
                sl_rule_err_set(p->err, t, start, "unterminated string (no closing %c)", q);
                return -EINVAL;
            }
            bool known = e == '\\' || e == '"' || e == '\'' || e == 'n' || e == 't' || e == 'r';
            n += known ? 1 : 2;
            i += 2;
            continue;
        }
        n++;
        i++;
    }
    char *s = malloc(n + 1);
    if (!s) {
        sl_rule_err_set(p->err, NULL, 0, "out of memory");
        return -ENOMEM;
    }
    size_t o = 0;
    for (size_t j = start + 1; j < i;) {
        char c = t[j];
        if (c != '\\') {
            s[o++] = c;
            j++;
            continue;
        }
        char e = t[j + 1];
        switch (e) {
        case '\\':
        case '"':
        case '\'':
            s[o++] = e;
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 't':
            s[o++] = '\t';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        default:
            s[o++] = '\\';
            s[o++] = e;
            break;
        }
        j += 2;
    }
    sl_assert(o == n);
    s[n] = '\0';
    p->tok.kind = T_STR;
    p->tok.str = s;
    p->tok.str_len = n;
    p->tok.len = i + 1 - start;
    p->pos = i + 1;
    return 0;
}

#if SL_HAVE_PCRE2
/* The source offset of byte out_off of the unescaped string literal starting at start. */
static size_t literal_source_offset(const char *t, size_t start, size_t out_off)
{
    size_t i = start + 1, o = 0;
    char q = t[start];
    while (t[i] && t[i] != q && o < out_off) {
        if (t[i] == '\\' && t[i + 1]) {
            char e = t[i + 1];
            bool known = e == '\\' || e == '"' || e == '\'' || e == 'n' || e == 't' || e == 'r';
            if (!known && o + 1 == out_off)
                return i + 1; /* inside a kept pair: its second byte */
            o += known ? 1 : 2;
            i += 2;
        } else {
            o++;
            i++;
        }
    }
    return i;
}
#endif

static const struct {
    const char *word;
    enum tok_kind kind;
    enum cmp_op op;
} keywords[] = {
    {"and", T_AND, OP_EQ},
    {"or", T_OR, OP_EQ},
    {"not", T_NOT, OP_EQ},
    {"contains", T_OP, OP_CONTAINS},
    {"startswith", T_OP, OP_STARTSWITH},
    {"endswith", T_OP, OP_ENDSWITH},
};

/* Advances to the next token. */
static int next(parser_t *p)
{
    const char *t = p->text;
    free(p->tok.str);
    memset(&p->tok, 0, sizeof(p->tok));
    while (is_blank(t[p->pos]))
        p->pos++;
    size_t s = p->pos;
    p->tok.start = s;
    p->tok.len = 1;
    char c = t[s], c1 = c ? t[s + 1] : '\0';
    switch (c) {
    case '\0':
        p->tok.kind = T_END;
        p->tok.len = 0;
        return 0;
    case '(':
        p->tok.kind = T_LPAREN;
        p->pos++;
        return 0;
    case ')':
        p->tok.kind = T_RPAREN;
        p->pos++;
        return 0;
    case '"':
    case '\'':
        return lex_string(p, s);
    case '=':
        if (c1 == '=' || c1 == '~') {
            p->tok.kind = T_OP;
            p->tok.op = c1 == '=' ? OP_EQ : OP_MATCH;
            p->tok.len = 2;
            p->pos += 2;
            return 0;
        }
        sl_rule_err_set(p->err, t, s, "'=' is not an operator (use '==' to compare)");
        return -EINVAL;
    case '!':
        if (c1 == '=' || c1 == '~') {
            p->tok.kind = T_OP;
            p->tok.op = c1 == '=' ? OP_NE : OP_NMATCH;
            p->tok.len = 2;
            p->pos += 2;
            return 0;
        }
        sl_rule_err_set(p->err, t, s, "'!' is not an operator (use 'not', '!=' or '!~')");
        return -EINVAL;
    case '<':
    case '>':
        p->tok.kind = T_OP;
        if (c1 == '=') {
            p->tok.op = c == '<' ? OP_LE : OP_GE;
            p->tok.len = 2;
        } else {
            p->tok.op = c == '<' ? OP_LT : OP_GT;
        }
        p->pos += p->tok.len;
        return 0;
    case '&':
    case '|':
        sl_rule_err_set(p->err, t, s, "'%c' is not an operator (use '%s')", c,
                        c == '&' ? "and" : "or");
        return -EINVAL;
    default:
        break;
    }
    if (is_digit(c) || (c == '-' && is_digit(c1))) {
        size_t e = s + 1;
        while (is_ident_char(t[e]) || t[e] == '.')
            e++;
        p->tok.len = e - s;
        if (!parse_int(t + s, e - s, &p->tok.num)) {
            bool digits = true;
            for (size_t i = s + 1; i < e; i++)
                digits = digits && is_digit(t[i]);
            if (digits)
                sl_rule_err_set(p->err, t, s, "number %.*s out of range", quote_len(e - s), t + s);
            else
                sl_rule_err_set(p->err, t, s, "bad number '%.*s' (expected an integer)",
                                quote_len(e - s), t + s);
            return -EINVAL;
        }
        p->tok.kind = T_NUM;
        p->pos = e;
        return 0;
    }
    if (is_ident_start(c)) {
        size_t e = s + 1;
        while (is_ident_char(t[e]))
            e++;
        p->tok.len = e - s;
        p->tok.kind = T_IDENT;
        for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
            if (strlen(keywords[k].word) == e - s &&
                strncasecmp(keywords[k].word, t + s, e - s) == 0) {
                p->tok.kind = keywords[k].kind;
                p->tok.op = keywords[k].op;
                break;
            }
        }
        p->pos = e;
        return 0;
    }
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        sl_rule_err_set(p->err, t, s, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
    else
        sl_rule_err_set(p->err, t, s, "unexpected character '%c'", c);
    return -EINVAL;
}

/* ---- Parser ---- */

static int oom(parser_t *p)
{
    sl_rule_err_set(p->err, NULL, 0, "out of memory");
    return -ENOMEM;
}

/* Appends a node, taking ownership of what it holds (freed here on failure). */
static int add_node(parser_t *p, node_t *n, uint32_t *idx)
{
    sl_where_t *w = p->w;
    if (w->n_nodes == w->cap_nodes) {
        uint32_t cap = w->cap_nodes ? w->cap_nodes * 2 : 8;
        node_t *nn = realloc(w->nodes, cap * sizeof(*nn));
        if (!nn) {
            node_free(n);
            return oom(p);
        }
        w->nodes = nn;
        w->cap_nodes = cap;
    }
    *idx = w->n_nodes;
    w->nodes[w->n_nodes++] = *n;
    return 0;
}

static int add_kids(parser_t *p, const uint32_t *kids, uint32_t count, uint32_t *first)
{
    sl_where_t *w = p->w;
    if (w->n_kids + count > w->cap_kids) {
        uint32_t cap = w->cap_kids ? w->cap_kids : 8;
        while (cap < w->n_kids + count)
            cap *= 2;
        uint32_t *nk = realloc(w->kids, cap * sizeof(*nk));
        if (!nk)
            return oom(p);
        w->kids = nk;
        w->cap_kids = cap;
    }
    *first = w->n_kids;
    memcpy(w->kids + w->n_kids, kids, count * sizeof(*kids));
    w->n_kids += count;
    return 0;
}

/* Edit distance of two short words, for "did you mean". */
static size_t edit_distance(const char *a, size_t al, const char *b, size_t bl)
{
    size_t row[33];
    if (al > 32 || bl > 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= bl; j++)
        row[j] = j;
    for (size_t i = 1; i <= al; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bl; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bl];
}

static void unknown_field(parser_t *p)
{
    const token_t *t = &p->tok;
    const char *name = p->text + t->start;
    const char *best = NULL;
    size_t best_d = 3;
    for (int f = 0; f < SL_F_COUNT; f++) {
        const char *fn = sl_field_name((sl_field_id_t)f);
        size_t d = edit_distance(name, t->len, fn, strlen(fn));
        if (d < best_d) {
            best_d = d;
            best = fn;
        }
    }
    if (best)
        sl_rule_err_set(p->err, p->text, t->start, "unknown field '%.*s' (did you mean '%s'?)",
                        quote_len(t->len), name, best);
    else
        sl_rule_err_set(p->err, p->text, t->start,
                        "unknown field '%.*s' (fields: pri, facility, severity, timestamp, "
                        "hostname, app_name, procid, msgid, structured_data, msg, tag, fromhost, "
                        "received, input)",
                        quote_len(t->len), name);
}

/* Takes the current token as an operand if it is one; *found says whether it was. */
static int parse_operand(parser_t *p, operand_t *o, bool *found)
{
    memset(o, 0, sizeof(*o));
    o->start = p->tok.start;
    *found = true;
    switch (p->tok.kind) {
    case T_NUM:
        o->kind = A_NUM;
        o->num = p->tok.num;
        break;
    case T_STR:
        o->kind = A_STR;
        o->str = p->tok.str;
        o->len = p->tok.str_len;
        p->tok.str = NULL;
        break;
    case T_IDENT: {
        int f = sl_field_by_name(p->text + p->tok.start, p->tok.len);
        if (f < 0) {
            unknown_field(p);
            return -EINVAL;
        }
        o->field = (uint8_t)f;
        o->kind =
            (f == SL_F_PRI || f == SL_F_FACILITY || f == SL_F_SEVERITY) ? A_FIELD_NUM : A_FIELD_STR;
        break;
    }
    default:
        *found = false;
        return 0;
    }
    return next(p);
}

/* A string literal compared with pri, facility or severity becomes the number it names. */
static int resolve_name(parser_t *p, const operand_t *field, operand_t *lit)
{
    int64_t v;
    int code = -1;
    if (parse_int(lit->str, lit->len, &v)) {
        /* Numbers in quotes are numbers. */
    } else if (field->field == SL_F_FACILITY) {
        code = sl_selector_facility_by_name(lit->str, lit->len);
        if (code < 0) {
            sl_rule_err_set(p->err, p->text, lit->start,
                            "unknown facility '%.*s' (expected %s or a number)",
                            quote_len(lit->len), lit->str, sl_selector_facility_list);
            return -EINVAL;
        }
        v = code;
    } else if (field->field == SL_F_SEVERITY) {
        code = sl_selector_severity_by_name(lit->str, lit->len);
        if (code < 0) {
            sl_rule_err_set(p->err, p->text, lit->start,
                            "unknown severity '%.*s' (expected %s or a number)",
                            quote_len(lit->len), lit->str, sl_selector_severity_list);
            return -EINVAL;
        }
        v = code;
    } else {
        sl_rule_err_set(p->err, p->text, lit->start,
                        "pri is a number; expected a number, found "
                        "'%.*s'",
                        quote_len(lit->len), lit->str);
        return -EINVAL;
    }
    free(lit->str);
    lit->str = NULL;
    lit->len = 0;
    lit->kind = A_NUM;
    lit->num = v;
    return 0;
}

#if SL_HAVE_PCRE2
static int compile_regex(parser_t *p, node_t *n)
{
    int code;
    PCRE2_SIZE off;
    n->re = pcre2_compile((PCRE2_SPTR)n->r.str, n->r.len, 0, &code, &off, NULL);
    if (!n->re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        sl_rule_err_set(p->err, p->text, literal_source_offset(p->text, n->r.start, off),
                        "bad regular expression: %s (at offset %zu of the pattern)", (char *)msg,
                        (size_t)off);
        return -EINVAL;
    }
    /* JIT makes matching several times faster; without it (not built in, or no executable
     * memory) the interpreter gives the same answers. */
    (void)pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
    if (!p->w->mctx) {
        p->w->mctx = pcre2_match_context_create(NULL);
        if (!p->w->mctx)
            return oom(p);
        pcre2_set_match_limit(p->w->mctx, REGEX_MATCH_LIMIT);
        pcre2_set_heap_limit(p->w->mctx, REGEX_HEAP_LIMIT_KIB);
    }
    return 0;
}
#endif

static int parse_or(parser_t *p, uint32_t *out);

static int parse_comparison(parser_t *p, uint32_t *out)
{
    char found[96];
    node_t n;
    memset(&n, 0, sizeof(n));
    n.kind = N_CMP;
    bool ok;
    int rc = parse_operand(p, &n.l, &ok);
    if (rc)
        goto fail;
    if (!ok) {
        describe_tok(p, found, sizeof(found));
        if (p->tok.kind == T_END && p->w->n_nodes == 0 && p->depth == 0)
            sl_rule_err_set(p->err, p->text, p->tok.start, "empty expression");
        else
            sl_rule_err_set(p->err, p->text, p->tok.start,
                            "expected a field, a string or a number, found %s", found);
        rc = -EINVAL;
        goto fail;
    }
    if (p->tok.kind != T_OP) {
        describe_tok(p, found, sizeof(found));
        const operand_t *l = &n.l;
        size_t llen = p->tok.start > l->start ? p->tok.start - l->start : 0;
        while (llen > 0 && is_blank(p->text[l->start + llen - 1]))
            llen--;
        sl_rule_err_set(p->err, p->text, p->tok.start,
                        "expected an operator (" OP_LIST ") after '%.*s', found %s",
                        quote_len(llen), p->text + l->start, found);
        rc = -EINVAL;
        goto fail;
    }
    n.op = (uint8_t)p->tok.op;
#if !SL_HAVE_PCRE2
    if (n.op == OP_MATCH || n.op == OP_NMATCH) {
        sl_rule_err_set(p->err, p->text, p->tok.start,
                        "regular expressions need PCRE2, which this build lacks");
        rc = -ENOTSUP;
        goto fail;
    }
#endif
    if ((rc = next(p)) != 0)
        goto fail;
    rc = parse_operand(p, &n.r, &ok);
    if (rc)
        goto fail;
    if (!ok) {
        describe_tok(p, found, sizeof(found));
        sl_rule_err_set(p->err, p->text, p->tok.start,
                        "expected a string, a number or a field after '%s', found %s",
                        op_names[n.op], found);
        rc = -EINVAL;
        goto fail;
    }
    if (n.op <= OP_GE) {
        if (n.l.kind == A_FIELD_NUM && n.r.kind == A_STR)
            rc = resolve_name(p, &n.l, &n.r);
        else if (n.r.kind == A_FIELD_NUM && n.l.kind == A_STR)
            rc = resolve_name(p, &n.r, &n.l);
        if (rc)
            goto fail;
    }
    if (n.op == OP_MATCH || n.op == OP_NMATCH) {
        if (n.r.kind != A_STR) {
            sl_rule_err_set(p->err, p->text, n.r.start,
                            "expected a string literal (the regular expression) after '%s'",
                            op_names[n.op]);
            rc = -EINVAL;
            goto fail;
        }
#if SL_HAVE_PCRE2
        if ((rc = compile_regex(p, &n)) != 0)
            goto fail;
#endif
    }
    return add_node(p, &n, out);
fail:
    node_free(&n);
    return rc;
}

static int parse_not(parser_t *p, uint32_t *out)
{
    int rc;
    if (p->tok.kind == T_NOT || p->tok.kind == T_LPAREN) {
        if (p->depth >= WHERE_MAX_DEPTH) {
            sl_rule_err_set(p->err, p->text, p->tok.start,
                            "expression nested too deeply (more than %d levels of '(' and 'not')",
                            WHERE_MAX_DEPTH);
            return -EINVAL;
        }
        p->depth++;
        bool is_not = p->tok.kind == T_NOT;
        size_t open = p->tok.start;
        if ((rc = next(p)) != 0)
            return rc;
        uint32_t child;
        if (is_not) {
            if ((rc = parse_not(p, &child)) != 0)
                return rc;
            node_t n;
            memset(&n, 0, sizeof(n));
            n.kind = N_NOT;
            n.first = child;
            rc = add_node(p, &n, out);
        } else {
            if ((rc = parse_or(p, &child)) != 0)
                return rc;
            if (p->tok.kind != T_RPAREN) {
                char found[96];
                describe_tok(p, found, sizeof(found));
                sl_rule_err_set(p->err, p->text, p->tok.start,
                                "expected ')' to close the '(' at column %u, found %s",
                                sl_rule_err_column(p->text, open), found);
                return -EINVAL;
            }
            *out = child;
            rc = next(p);
        }
        p->depth--;
        return rc;
    }
    return parse_comparison(p, out);
}

/* and_expr or expr: a list of sub-expressions joined by one keyword, as one n-ary node. */
static int parse_list(parser_t *p, enum tok_kind sep, uint32_t *out)
{
    uint32_t local[8], *kids = local, count = 0, cap = 8;
    int rc;
    for (;;) {
        uint32_t child;
        rc = sep == T_OR ? parse_list(p, T_AND, &child) : parse_not(p, &child);
        if (rc)
            goto done;
        if (count == cap) {
            uint32_t *nk = malloc(2 * cap * sizeof(*nk));
            if (!nk) {
                rc = oom(p);
                goto done;
            }
            memcpy(nk, kids, count * sizeof(*nk));
            if (kids != local)
                free(kids);
            kids = nk;
            cap *= 2;
        }
        kids[count++] = child;
        if (p->tok.kind != sep)
            break;
        if ((rc = next(p)) != 0)
            goto done;
    }
    if (count == 1) {
        *out = kids[0];
    } else {
        node_t n;
        memset(&n, 0, sizeof(n));
        n.kind = sep == T_OR ? N_OR : N_AND;
        n.count = count;
        if ((rc = add_kids(p, kids, count, &n.first)) == 0)
            rc = add_node(p, &n, out);
    }
done:
    if (kids != local)
        free(kids);
    return rc;
}

static int parse_or(parser_t *p, uint32_t *out)
{
    return parse_list(p, T_OR, out);
}

int sl_where_compile(const char *text, sl_where_t **out, sl_rule_err_t *err)
{
    parser_t p;
    memset(&p, 0, sizeof(p));
    p.text = text;
    p.err = err;
    p.w = calloc(1, sizeof(*p.w));
    if (!p.w) {
        sl_rule_err_set(err, NULL, 0, "out of memory");
        return -ENOMEM;
    }
    atomic_init(&p.w->regex_errors, 0);
    int rc = next(&p);
    if (rc == 0)
        rc = parse_or(&p, &p.w->root);
    if (rc == 0 && p.tok.kind != T_END) {
        char found[96];
        describe_tok(&p, found, sizeof(found));
        if (p.tok.kind == T_RPAREN)
            sl_rule_err_set(err, text, p.tok.start, "')' without a matching '('");
        else
            sl_rule_err_set(err, text, p.tok.start,
                            "expected 'and', 'or' or the end of the expression, found %s", found);
        rc = -EINVAL;
    }
    free(p.tok.str);
    if (rc) {
        sl_where_free(p.w);
        return rc;
    }
    *out = p.w;
    return 0;
}
