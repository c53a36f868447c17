/*
 * The template engine: a spec is compiled once into a short list of operations (literal spans,
 * field references, and a few operations that reproduce rsyslog's property rules), and
 * formatting a message walks that list, appending to a strbuf.
 *
 * Why this shape: formatting runs once per message per action, on the hot path of every
 * worker. The list is a flat array with the literal bytes stored behind it, so formatting
 * follows no pointers but the message's, calls no printf, and allocates nothing except when
 * the output buffer must grow. Every operation that escapes reserves its worst case first and
 * then writes through a plain pointer.
 *
 * Compatibility with rsyslog ("traditional" and "rfc3164"): rsyslog rewrites the raw message on
 * reception before parsing it (runtime/parser.c, SanitizeMsg): it drops one NUL at the very end,
 * then one LF at the very end, then replaces every byte below 0x20 (tab included, DEL not) with
 * '#' and three octal digits. sluice keeps the bytes as received, so these templates apply the
 * same rules at output: control characters in hostname, tag and msg become "#ooo", and a msg
 * that ends the raw text loses one trailing NUL and then one trailing LF. The custom and
 * rfc5424 templates use the same escaping, so no record ever spans two lines. rsyslog's view of
 * some fields also differs from sluice's, and these templates print rsyslog's: its msg starts
 * with the space that the parser took off (SL_MSG_MSG_SP) and with the BOM of an RFC 5424
 * message; an absent hostname is the sender's address (or "-" for RFC 5424, which rsyslog
 * keeps literally); and the tag of an RFC 5424 message is "APP-NAME[PROCID]" without a colon,
 * or APP-NAME alone when PROCID is "-", as sl_msg_field builds it.
 *
 * Concurrency: a template is written only while sl_template_compile builds it and is read-only
 * afterwards; sl_template_format keeps its state on the stack. Any number of threads may format
 * with one template at once.
 */
#include "core/template.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/sl_assert.h"

enum op_kind {
    OP_LIT,         /* lits[off .. off + len) as it is */
    OP_FIELD,       /* a field's value, control characters escaped */
    OP_PATH_FIELD,  /* a field's value made safe as one path component */
    OP_PRI,         /* "<PRI>" */
    OP_TS_LEGACY,   /* the reported time as "Mmm dd hh:mm:ss" */
    OP_RS_HOSTNAME, /* rsyslog's %HOSTNAME% */
    OP_RS_TAG,      /* rsyslog's %syslogtag%, at most len bytes when len > 0 */
    OP_RS_MSG,      /* rsyslog's %msg:::sp-if-no-1st-sp%%msg:::drop-last-lf% */
    OP_RFC5424,     /* a whole RFC 5424 record */
    OP_JSON,        /* a whole JSON record */
};

typedef struct tpl_op {
    uint8_t kind;
    uint8_t field; /* OP_FIELD: sl_field_id_t */
    uint32_t off;
    uint32_t len;
} tpl_op_t;

struct sl_template {
    size_t nops;
    const char *lits; /* a static string for built-ins, else the bytes behind ops[] */
    tpl_op_t ops[];
};

/* ---- Built-in templates ---------------------------------------------------------------- */

/* Literal text of the built-ins: {OP_LIT, 0, 0, 1} is " ", {OP_LIT, 0, 1, 1} is "\n". */
static const char builtin_lits[] = " \n";

/* "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n" */
static const tpl_op_t ops_traditional[] = {
    {OP_TS_LEGACY, 0, 0, 0}, {OP_LIT, 0, 0, 1},    {OP_RS_HOSTNAME, 0, 0, 0}, {OP_LIT, 0, 0, 1},
    {OP_RS_TAG, 0, 0, 0},    {OP_RS_MSG, 0, 0, 0}, {OP_LIT, 0, 1, 1},
};

/* "<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%" and a LF. */
static const tpl_op_t ops_rfc3164[] = {
    {OP_PRI, 0, 0, 0}, {OP_TS_LEGACY, 0, 0, 0}, {OP_LIT, 0, 0, 1},    {OP_RS_HOSTNAME, 0, 0, 0},
    {OP_LIT, 0, 0, 1}, {OP_RS_TAG, 0, 0, 32},   {OP_RS_MSG, 0, 0, 0}, {OP_LIT, 0, 1, 1},
};

static const tpl_op_t ops_rfc5424[] = {{OP_RFC5424, 0, 0, 0}};
static const tpl_op_t ops_json[] = {{OP_JSON, 0, 0, 0}};

static const struct builtin {
    const char *name;
    const tpl_op_t *ops;
    size_t nops;
} builtins[] = {
    {"traditional", ops_traditional, sizeof(ops_traditional) / sizeof(ops_traditional[0])},
    {"RSYSLOG_TraditionalFileFormat", ops_traditional,
     sizeof(ops_traditional) / sizeof(ops_traditional[0])},
    {"rfc3164", ops_rfc3164, sizeof(ops_rfc3164) / sizeof(ops_rfc3164[0])},
    {"rfc5424", ops_rfc5424, 1},
    {"json", ops_json, 1},
};

/* ---- Output helpers -------------------------------------------------------------------- */

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Input bytes escaped per reservation, so reserving the worst case stays small. */
#define CHUNK 4096

static const char utf8_bom[3] = {(char)0xef, (char)0xbb, (char)0xbf};
static const char utf8_fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* Room for n more bytes at the end of b, or NULL when out of memory. */
static inline char *room(sl_strbuf_t *b, size_t n)
{
    if (b->cap - b->len < n && sl_strbuf_reserve(b, n) < 0)
        return NULL;
    return b->data + b->len;
}

static inline int put(sl_strbuf_t *b, const void *p, size_t n)
{
    return sl_strbuf_append(b, p, n) < 0 ? -ENOMEM : 0;
}

static inline int putc1(sl_strbuf_t *b, char c)
{
    return sl_strbuf_putc(b, c) < 0 ? -ENOMEM : 0;
}

static char *put_uint(char *p, unsigned v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_octal_escape(char *p, unsigned char c)
{
    p[0] = '#';
    p[1] = (char)('0' + (c >> 6));
    p[2] = (char)('0' + ((c >> 3) & 7));
    p[3] = (char)('0' + (c & 7));
    return p + 4;
}

/* Sixteen bytes as one value: GCC's and Clang's generic vectors, which compile to SSE2 on
 * x86-64 and to NEON on ARM, with no intrinsics and no per-architecture code. */
typedef unsigned char bytes16_t __attribute__((vector_size(16)));

/* Whether any byte of x is below 0x20, or (with `ascii`) above 0x7f. */
static inline int any_special16(bytes16_t x, int ascii)
{
    bytes16_t bad = (bytes16_t)(x < (unsigned char)0x20);
    if (ascii)
        bad |= (bytes16_t)(x > (unsigned char)0x7f);
    uint64_t lo, hi;
    memcpy(&lo, &bad, 8);
    memcpy(&hi, (const char *)&bad + 8, 8);
    return (lo | hi) != 0;
}

/* Whether any byte of x is below 0x20 (exact as a yes/no answer: a borrow can only start at
 * such a byte), or has its high bit set among the bits of `high`. */
static inline int any_special8(uint64_t x, uint64_t high)
{
    return (((x - ONES * 0x20) & ~x & HIGHS) | (x & high)) != 0;
}

/* Copies to d the bytes at the start of s[0..n) that need no rewriting: no control character,
 * and no byte above 0x7f either when `ascii` (the caller then looks at those itself); returns how
 * many. d has room for n bytes. This is the largest single cost of formatting a message (the
 * whole msg passes through it, and the short hostname and tag too), so it checks and copies 32
 * bytes a step while it can, in one pass (a scan and then a memcpy read everything twice, and
 * GCC turned that memcpy into `rep movsq`, slow to start on short runs: a third of this
 * function's samples in perf annotate). What is left is checked with two loads that may overlap,
 * the second ending at n: when both are clean, so is everything up to n, and both are stored
 * (overlapping stores of the same bytes). Otherwise the byte loop copies up to the first byte to
 * rewrite. Nothing outside s[0..n) is read, nothing outside d[0..n) written. */
static inline size_t copy_plain(unsigned char *d, const unsigned char *s, size_t n, int ascii)
{
    uint64_t high = ascii ? HIGHS : 0;
    size_t i = 0;
    while (i + 32 <= n) {
        bytes16_t x, y;
        memcpy(&x, s + i, 16);
        memcpy(&y, s + i + 16, 16);
        if (any_special16(x, ascii) || any_special16(y, ascii))
            goto bytewise;
        memcpy(d + i, &x, 16);
        memcpy(d + i + 16, &y, 16);
        i += 32;
    }
    /* Left: fewer than 32 bytes. */
    if (n - i >= 16) {
        bytes16_t x, y;
        memcpy(&x, s + i, 16);
        memcpy(&y, s + n - 16, 16);
        if (!any_special16(x, ascii) && !any_special16(y, ascii)) {
            memcpy(d + i, &x, 16);
            memcpy(d + n - 16, &y, 16);
            return n;
        }
    } else if (n - i >= 8) {
        uint64_t x, y;
        memcpy(&x, s + i, 8);
        memcpy(&y, s + n - 8, 8);
        if (!any_special8(x, high) && !any_special8(y, high)) {
            memcpy(d + i, &x, 8);
            memcpy(d + n - 8, &y, 8);
            return n;
        }
    }
bytewise:
    while (i < n && s[i] >= 0x20 && !(ascii && s[i] >= 0x80)) {
        d[i] = s[i];
        i++;
    }
    return i;
}

/*
 * Appends s[0..n) with every byte below 0x20 written as '#' and three octal digits, the way
 * rsyslog escapes control characters on reception. With `utf8`, ill-formed UTF-8 is also
 * replaced (U+FFFD per maximal subpart), for places where RFC 5424 requires UTF-8.
 */
static int put_text(sl_strbuf_t *b, const char *str, size_t n, int utf8)
{
    const unsigned char *s = (const unsigned char *)str;
    while (n) {
        size_t chunk = n < CHUNK ? n : CHUNK;
        /* Four bytes out per byte in at most; a UTF-8 sequence may run 3 bytes past the chunk. */
        char *p = room(b, 4 * chunk + 3);
        if (!p)
            return -ENOMEM;
        size_t i = 0;
        while (i < chunk) {
            /* Two calls with constant flags, so each is specialised where it is inlined. */
            unsigned char *d = (unsigned char *)p;
            size_t run =
                utf8 ? copy_plain(d, s + i, chunk - i, 1) : copy_plain(d, s + i, chunk - i, 0);
            p += run;
            i += run;
            if (i >= chunk)
                break;
            if (s[i] < 0x20) {
                p = put_octal_escape(p, s[i]);
                i++;
                continue;
            }
            /* utf8 only: a byte above 0x7f. */
            size_t bad = 1, k = sl_utf8_seq(s + i, n - i, &bad);
            if (k) {
                memcpy(p, s + i, k);
                p += k;
                i += k;
            } else {
                memcpy(p, utf8_fffd, 3);
                p += 3;
                i += bad;
            }
        }
        b->len = (size_t)(p - b->data);
        s += i;
        n -= i;
    }
    return 0;
}

static inline int put_cc(sl_strbuf_t *b, const char *s, size_t n)
{
    return put_text(b, s, n, 0);
}

/* ---- Fields as the text templates see them -------------------------------------------- */

/* msg without the NUL and then the LF that end the raw text, as rsyslog drops on reception. */
static const char *text_msg(const sl_msg_t *m, size_t *len)
{
    size_t n;
    const char *p = sl_msg_span(m, SL_F_MSG, &n);
    if (n && (size_t)m->f[SL_F_MSG].off + n == m->raw_len) {
        if (p[n - 1] == '\0')
            n--;
        if (n && p[n - 1] == '\n')
            n--;
    }
    *len = n;
    return p;
}

/* rsyslog's HOSTNAME: the parsed one, else "-" kept from an RFC 5424 header, else the sender. */
static const char *rs_hostname(const sl_msg_t *m, size_t *len)
{
    const char *p = sl_msg_span(m, SL_F_HOSTNAME, len);
    if (*len)
        return p;
    if (m->proto == SL_PROTO_RFC5424) {
        *len = 1;
        return "-";
    }
    return sl_msg_span(m, SL_F_FROMHOST, len);
}

/* The reported time as RFC 3164 writes it; the reception time when there is none. */
static int put_ts_legacy(sl_strbuf_t *b, const sl_msg_t *m)
{
    char buf[SL_TS_LEGACY_MAX];
    size_t n = sl_ts_format_legacy(&m->ts, buf);
    if (n == 0)
        n = sl_ts_format_legacy(&m->received, buf);
    return put(b, buf, n);
}

static int put_pri(sl_strbuf_t *b, const sl_msg_t *m, int version)
{
    char *p = room(b, 8);
    if (!p)
        return -ENOMEM;
    char *s = p;
    *p++ = '<';
    p = put_uint(p, m->pri);
    *p++ = '>';
    if (version)
        *p++ = '1';
    b->len += (size_t)(p - s);
    return 0;
}

/* The tag (sl_msg_field builds rsyslog's "APP-NAME[PROCID]" for RFC 5424), escaped, cut at limit.
 */
static int put_rs_tag(sl_strbuf_t *b, const sl_msg_t *m, size_t limit)
{
    char scratch[SL_FIELD_SCRATCH];
    size_t start = b->len, n;
    const char *p = sl_msg_span(m, SL_F_TAG, &n);
    /* Only an RFC 5424 message without a tag span has one to build; the span is the tag of
     * every other message, read directly (this runs once per message). */
    if (n == 0 && m->proto == SL_PROTO_RFC5424)
        n = sl_msg_field(m, SL_F_TAG, scratch, &p);
    int rc = put_cc(b, p, n);
    if (rc == 0 && limit && b->len - start > limit)
        b->len = start + limit;
    return rc;
}

/*
 * rsyslog's msg is the space the parser removed (if any), the BOM (if any) and sluice's msg.
 * sp-if-no-1st-sp writes one space unless that begins with a space (also when it is empty);
 * then the msg itself follows.
 */
static int put_rs_msg(sl_strbuf_t *b, const sl_msg_t *m)
{
    size_t n;
    const char *p = text_msg(m, &n);
    int lead_sp = (m->flags & SL_MSG_MSG_SP) != 0;
    int bom = (m->flags & SL_MSG_BOM) != 0;
    int starts_with_sp = lead_sp || (!bom && n && p[0] == ' ');
    char *o = room(b, 5);
    if (!o)
        return -ENOMEM;
    char *s = o;
    /* rsyslog writes the space for an empty msg too ("tag: \n"); the differential test shows it. */
    if (!starts_with_sp)
        *o++ = ' ';
    if (lead_sp)
        *o++ = ' ';
    if (bom) {
        memcpy(o, utf8_bom, 3);
        o += 3;
    }
    b->len += (size_t)(o - s);
    return put_cc(b, p, n);
}

/* ---- RFC 5424 ------------------------------------------------------------------------- */

/* A header field: PRINTUSASCII (33..126), at most max bytes, "-" when empty. Other bytes
 * become '_' so the field stays one token. */
static int put_header_field(sl_strbuf_t *b, const char *s, size_t n, size_t max)
{
    if (n == 0)
        return putc1(b, '-');
    if (n > max)
        n = max;
    char *p = room(b, n);
    if (!p)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        p[i] = c >= 33 && c <= 126 ? (char)c : '_';
    }
    b->len += n;
    return 0;
}

static int put_ts_rfc5424(sl_strbuf_t *b, const sl_timestamp_t *in)
{
    sl_timestamp_t ts = *in;
    char buf[SL_TS_RFC3339_MAX];
    if (!(ts.flags & SL_TS_VALID) || ts.month < 1 || ts.month > 12 || ts.day < 1 ||
        ts.day > sl_ts_days_in_month(ts.year, ts.month) || ts.hour > 23 || ts.minute > 59 ||
        ts.second > 60 || ts.usec > 999999 || ts.tz_min < -1439 || ts.tz_min > 1439)
        return putc1(b, '-');
    /* RFC 5424 section 6.2.3: leap seconds MUST NOT be used. */
    if (ts.second == 60)
        ts.second = 59;
    size_t n = sl_ts_format_rfc3339(&ts, buf);
    return n ? put(b, buf, n) : putc1(b, '-');
}

static int sd_name_char(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"';
}

/* Copies an SD-NAME at s[*i..n) (1 to 32 characters); 0 when there is none. */
static int sd_name(sl_strbuf_t *b, const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && *i - start < 33 && sd_name_char((unsigned char)s[*i]))
        (*i)++;
    size_t len = *i - start;
    return len >= 1 && len <= 32 && put(b, s + start, len) == 0;
}

/*
 * Writes STRUCTURED-DATA when s[0..n) is well formed, else "-". Inside a PARAM-VALUE a bare ']'
 * is escaped as RFC 5424 requires, control characters become "#ooo" and ill-formed UTF-8
 * becomes U+FFFD, so what comes out always parses.
 */
static int put_sd(sl_strbuf_t *b, const char *s, size_t n)
{
    size_t start = b->len, i = 0;
    if (n == 0)
        return putc1(b, '-');
    /* Reserve for the worst case once, so put() below can only fail on the escapes. */
    if (!room(b, n * 4 + 8))
        return -ENOMEM;
    while (i < n) {
        if (s[i] != '[' || put(b, "[", 1) < 0)
            goto invalid;
        i++;
        if (!sd_name(b, s, n, &i))
            goto invalid;
        while (i < n && s[i] == ' ') {
            i++;
            if (putc1(b, ' ') < 0 || !sd_name(b, s, n, &i))
                goto invalid;
            if (i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
                goto invalid;
            i += 2;
            if (put(b, "=\"", 2) < 0)
                goto invalid;
            size_t v = i;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < n &&
                    (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == ']'))
                    i += 2;
                else
                    i++;
            }
            if (i >= n)
                goto invalid;
            /* Copy the value, escaping the bare ']' that the scan above let through. */
            size_t j = v;
            while (j < i) {
                size_t k = j;
                while (k < i && s[k] != ']' && s[k] != '\\')
                    k++;
                if (put_text(b, s + j, k - j, 1) < 0)
                    goto nomem;
                if (k == i)
                    break;
                if (s[k] == ']') {
                    if (put(b, "\\]", 2) < 0)
                        goto nomem;
                    j = k + 1;
                } else if (k + 1 < i && (s[k + 1] == '"' || s[k + 1] == '\\' || s[k + 1] == ']')) {
                    if (put(b, s + k, 2) < 0)
                        goto nomem;
                    j = k + 2;
                } else {
                    if (putc1(b, '\\') < 0)
                        goto nomem;
                    j = k + 1;
                }
            }
            i++;
            if (putc1(b, '"') < 0)
                goto nomem;
        }
        if (i >= n || s[i] != ']' || putc1(b, ']') < 0)
            goto invalid;
        i++;
    }
    return 0;
nomem:
    b->len = start;
    return -ENOMEM;
invalid:
    b->len = start;
    return putc1(b, '-');
}

static int put_rfc5424(sl_strbuf_t *b, const sl_msg_t *m)
{
    size_t n;
    const char *p;
    int rc = put_pri(b, m, 1);
    if (rc == 0)
        rc = putc1(b, ' ');
    if (rc == 0)
        rc = put_ts_rfc5424(b, &m->ts);
    if (rc == 0)
        rc = putc1(b, ' ');
    if (rc == 0) {
        p = rs_hostname(m, &n);
        rc = put_header_field(b, p, n, 255);
    }
    static const struct {
        sl_field_id_t id;
        size_t max;
    } hdr[] = {{SL_F_APP_NAME, 48}, {SL_F_PROCID, 128}, {SL_F_MSGID, 32}};
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]) && rc == 0; i++) {
        p = sl_msg_span(m, hdr[i].id, &n);
        rc = putc1(b, ' ');
        if (rc == 0)
            rc = put_header_field(b, p, n, hdr[i].max);
    }
    if (rc == 0)
        rc = putc1(b, ' ');
    if (rc == 0) {
        p = sl_msg_span(m, SL_F_STRUCTURED_DATA, &n);
        rc = put_sd(b, p, n);
    }
    if (rc < 0)
        return rc;
    p = text_msg(m, &n);
    int bom = (m->flags & SL_MSG_BOM) != 0;
    if (n || bom) {
        if (putc1(b, ' ') < 0 || (bom && put(b, utf8_bom, 3) < 0))
            return -ENOMEM;
        /* After a BOM, RFC 5424 requires MSG to be UTF-8. */
        if (put_text(b, p, n, bom) < 0)
            return -ENOMEM;
    }
    return putc1(b, '\n');
}

/* ---- JSON ----------------------------------------------------------------------------- */

static int put_json(sl_strbuf_t *b, const sl_msg_t *m)
{
#define KEY(id, text)                                                                              \
    {                                                                                              \
        (id), (text), sizeof(text) - 1                                                             \
    }
    static const struct {
        sl_field_id_t id;
        const char *key; /* with the separator before it and the colon */
        size_t len;
    } keys[] = {
        KEY(SL_F_TIMESTAMP, "{\"timestamp\":"),
        KEY(SL_F_HOSTNAME, ",\"hostname\":"),
        KEY(SL_F_APP_NAME, ",\"app_name\":"),
        KEY(SL_F_PROCID, ",\"procid\":"),
        KEY(SL_F_MSGID, ",\"msgid\":"),
        KEY(SL_F_STRUCTURED_DATA, ",\"structured_data\":"),
        KEY(SL_F_MSG, ",\"msg\":"),
        KEY(SL_F_TAG, ",\"tag\":"),
        KEY(SL_F_PRI, ",\"pri\":"),
        KEY(SL_F_FACILITY, ",\"facility\":"),
        KEY(SL_F_SEVERITY, ",\"severity\":"),
        KEY(SL_F_FROMHOST, ",\"fromhost\":"),
        KEY(SL_F_RECEIVED, ",\"received\":"),
        KEY(SL_F_INPUT, ",\"input\":"),
    };
    char scratch[SL_FIELD_SCRATCH];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v;
        size_t n = sl_msg_field(m, keys[i].id, scratch, &v);
        if (put(b, keys[i].key, keys[i].len) < 0)
            return -ENOMEM;
        int number =
            keys[i].id == SL_F_PRI || keys[i].id == SL_F_FACILITY || keys[i].id == SL_F_SEVERITY;
        if ((number ? put(b, v, n) : sl_json_string(b, v, n)) < 0)
            return -ENOMEM;
    }
    return put(b, "}\n", 2);
#undef KEY
}

/* ---- Formatting ----------------------------------------------------------------------- */

static int put_field(sl_strbuf_t *b, const sl_msg_t *m, sl_field_id_t id)
{
    char scratch[SL_FIELD_SCRATCH];
    const char *v;
    size_t n;
    sl_assert((unsigned)id < SL_F_COUNT);
    if (id == SL_F_MSG) {
        v = text_msg(m, &n);
        return put_cc(b, v, n);
    }
    n = sl_msg_field(m, id, scratch, &v);
    /* Computed fields (numbers, times) hold no control characters. */
    return id >= SL_F_NSPANS ? put(b, v, n) : put_cc(b, v, n);
}

/*
 * A field value as one component of a file path: '/' and control characters become '_', and an
 * empty, "." or ".." value becomes "_", so a sender cannot steer a dynamic file name out of its
 * directory.
 */
static int put_path_field(sl_strbuf_t *b, const sl_msg_t *m, sl_field_id_t id)
{
    char scratch[SL_FIELD_SCRATCH];
    const char *p;
    size_t n = sl_msg_field(m, id, scratch, &p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return put(b, "_", 1);
    char *d = room(b, n);
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        d[i] = c == '/' || c < 0x20 || c == 0x7f ? '_' : (char)c;
    }
    b->len += n;
    return 0;
}

int sl_template_format(const sl_template_t *t, const sl_msg_t *m, sl_strbuf_t *b)
{
    size_t start = b->len;
    int rc = 0;
    for (size_t i = 0; i < t->nops && rc == 0; i++) {
        const tpl_op_t *op = &t->ops[i];
        switch ((enum op_kind)op->kind) {
        case OP_LIT:
            rc = put(b, t->lits + op->off, op->len);
            break;
        case OP_FIELD:
            rc = put_field(b, m, (sl_field_id_t)op->field);
            break;
        case OP_PATH_FIELD:
            rc = put_path_field(b, m, (sl_field_id_t)op->field);
            break;
        case OP_PRI:
            rc = put_pri(b, m, 0);
            break;
        case OP_TS_LEGACY:
            rc = put_ts_legacy(b, m);
            break;
        case OP_RS_HOSTNAME: {
            size_t n;
            const char *p = rs_hostname(m, &n);
            rc = put_cc(b, p, n);
            break;
        }
        case OP_RS_TAG:
            rc = put_rs_tag(b, m, op->len);
            break;
        case OP_RS_MSG:
            rc = put_rs_msg(b, m);
            break;
        case OP_RFC5424:
            rc = put_rfc5424(b, m);
            break;
        case OP_JSON:
            rc = put_json(b, m);
            break;
        }
    }
    if (rc < 0) {
        b->len = start;
        return -ENOMEM;
    }
    return 0;
}

/* ---- Compiling ------------------------------------------------------------------------ */

/* 1-based column of spec[pos], counting UTF-8 characters. */
static size_t column(const char *spec, size_t pos)
{
    size_t col = 1;
    for (size_t i = 0; i < pos; i++)
        col += ((unsigned char)spec[i] & 0xc0) != 0x80;
    return col;
}

/* Edit distance, ignoring case, capped: enough to suggest a field for a typo. */
static size_t distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[64];
    if (an >= 64 || bn >= 64)
        return 99;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

/* The sluice field for a name, for "did you mean": a near spelling or an rsyslog property. */
static const char *suggest_field(const char *name, size_t len)
{
    static const struct {
        const char *rsyslog, *sluice;
    } props[] = {
        {"programname", "app_name"},    {"app-name", "app_name"},
        {"syslogtag", "tag"},           {"timereported", "timestamp"},
        {"timegenerated", "received"},  {"fromhost-ip", "fromhost"},
        {"source", "hostname"},         {"structured-data", "structured_data"},
        {"syslogfacility", "facility"}, {"syslogseverity", "severity"},
        {"syslogpriority", "severity"}, {"inputname", "input"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (distance(name, len, props[i].rsyslog, strlen(props[i].rsyslog)) == 0)
            return props[i].sluice;
    }
    const char *best = NULL;
    size_t best_d = len < 6 ? 1 : 2;
    for (int id = 0; id < SL_F_COUNT; id++) {
        const char *f = sl_field_name((sl_field_id_t)id);
        size_t d = distance(name, len, f, strlen(f));
        if (d < best_d || (!best && d == best_d)) {
            best = f;
            best_d = d;
        }
    }
    return best;
}

/* At most 32 bytes of s for an error message, control characters as '?', so the message
 * stays on one line. */
static void show(char out[40], const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && i < 32; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (len > 32) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* Writes the reason for an unknown field name to err. */
static void unknown_field(const char *spec, size_t pos, size_t len, char *err, size_t errlen)
{
    char shown[40], known[256];
    show(shown, spec + pos, len);
    size_t kn = 0;
    known[0] = '\0';
    for (int id = 0; id < SL_F_COUNT; id++) {
        const char *f = sl_field_name((sl_field_id_t)id);
        size_t fl = strlen(f);
        if (kn + fl + 3 >= sizeof(known))
            break;
        if (kn) {
            memcpy(known + kn, ", ", 2);
            kn += 2;
        }
        memcpy(known + kn, f, fl + 1);
        kn += fl;
    }
    const char *hint = suggest_field(spec + pos, len);
    if (hint)
        snprintf(err, errlen, "unknown field '%s' at column %zu (did you mean '%s'? known: %s)",
                 shown, column(spec, pos), hint, known);
    else
        snprintf(err, errlen, "unknown field '%s' at column %zu (known: %s)", shown,
                 column(spec, pos), known);
}

static sl_template_t *alloc_template(size_t nops, size_t nlits)
{
    sl_template_t *t = malloc(sizeof(*t) + nops * sizeof(tpl_op_t) + nlits);
    if (t)
        t->nops = nops;
    return t;
}

static int compile_custom(const char *spec, bool path, sl_template_t **out, char *err,
                          size_t errlen)
{
    size_t n = strlen(spec), nops = 0, nlits = 0, nfields = 0;
    int rc = -EINVAL;
    if (n == 0) {
        snprintf(err, errlen, "empty template");
        return -EINVAL;
    }
    if (n > UINT32_MAX) {
        snprintf(err, errlen, "template too long");
        return -EINVAL;
    }
    /* Every op but the first needs at least one byte of spec, so n + 1 ops is enough. */
    tpl_op_t *ops = malloc((n + 1) * sizeof(*ops));
    char *lits = malloc(n);
    if (!ops || !lits) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n;) {
        char c = spec[i];
        if (c == '$' && i + 1 < n && spec[i + 1] == '{') {
            const char *name = spec + i + 2;
            const char *close = memchr(name, '}', n - i - 2);
            if (!close) {
                snprintf(err, errlen, "unterminated '${' at column %zu: expected '}'",
                         column(spec, i));
                goto done;
            }
            size_t len = (size_t)(close - name);
            if (len == 0) {
                snprintf(err, errlen, "empty field name '${}' at column %zu", column(spec, i));
                goto done;
            }
            int id = sl_field_by_name(name, len);
            if (id < 0) {
                unknown_field(spec, i + 2, len, err, errlen);
                goto done;
            }
            ops[nops++] = (tpl_op_t){path ? OP_PATH_FIELD : OP_FIELD, (uint8_t)id, 0, 0};
            nfields++;
            i = (size_t)(close - spec) + 1;
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= n) {
                snprintf(err, errlen,
                         "'\\' at the end of the template (column %zu): write '\\\\' for a "
                         "backslash",
                         column(spec, i));
                goto done;
            }
            switch (spec[i + 1]) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '\\':
            case '$':
                c = spec[i + 1];
                break;
            default: {
                unsigned char e = (unsigned char)spec[i + 1];
                if (e >= 0x20 && e < 0x7f)
                    snprintf(err, errlen,
                             "unknown escape '\\%c' at column %zu (known: \\n \\t \\r \\\\ \\$)", e,
                             column(spec, i));
                else
                    snprintf(err, errlen,
                             "unknown escape '\\' + byte 0x%02x at column %zu (known: \\n \\t \\r "
                             "\\\\ \\$)",
                             e, column(spec, i));
                goto done;
            }
            }
            i += 2;
        } else {
            i++;
        }
        /* A literal byte: extend the literal op before it, or start one. */
        if (nops && ops[nops - 1].kind == OP_LIT) {
            ops[nops - 1].len++;
        } else {
            ops[nops++] = (tpl_op_t){OP_LIT, 0, (uint32_t)nlits, 1};
        }
        lits[nlits++] = c;
    }
    if (nfields == 0) {
        char shown[40];
        show(shown, spec, n);
        snprintf(err, errlen,
                 "'%s' is neither a built-in template (traditional, rfc3164, rfc5424, json) nor "
                 "a custom one with a ${field}",
                 shown);
        goto done;
    }
    sl_template_t *t = alloc_template(nops, nlits);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto done;
    }
    memcpy(t->ops, ops, nops * sizeof(*ops));
    char *tl = (char *)(t->ops + nops);
    memcpy(tl, lits, nlits);
    t->lits = tl;
    *out = t;
    rc = 0;
done:
    free(ops);
    free(lits);
    return rc;
}

int sl_template_compile(const char *spec, sl_template_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (strcmp(spec, builtins[i].name) != 0)
            continue;
        sl_template_t *t = alloc_template(builtins[i].nops, 0);
        if (!t) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        memcpy(t->ops, builtins[i].ops, builtins[i].nops * sizeof(tpl_op_t));
        t->lits = builtin_lits;
        *out = t;
        return 0;
    }
    return compile_custom(spec, false, out, err, errlen);
}

int sl_template_compile_path(const char *spec, sl_template_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    return compile_custom(spec, true, out, err, errlen);
}

void sl_template_free(sl_template_t *t)
{
    free(t);
}
