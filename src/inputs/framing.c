/*
 * The stream framer (see framing.h for the contract and the decisions).
 *
 * It is a small state machine that is fed whole buffers. Each state handles as many bytes as it
 * can at once: a line is found with memchr, an octet-counted body is taken by length, and a frame
 * that lies wholly in the fed buffer is passed on without a copy. Bytes are copied into f->buf
 * only for the frame that is cut by the end of the buffer. f->buf holds at most max_size + 1 bytes
 * of a line (the extra byte is a CR that may yet turn out to end it) or the up to 11 digits of an
 * octet count, so a peer that never finishes a frame cannot make it grow beyond that.
 *
 * Concurrency: none; a framer is owned by its connection's thread.
 */
#include "inputs/framing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sl_assert.h"

enum {
    ST_START,      /* at the start of a frame, nothing buffered */
    ST_COUNT,      /* reading an octet count; its digits are in buf */
    ST_OCTET,      /* in an octet-counted body; buf holds what came of it */
    ST_OCTET_SKIP, /* skipping the rest of a cut octet-counted frame (remain bytes) */
    ST_LINE,       /* in a line; buf holds what came of it (pending says how it began) */
    ST_LINE_SKIP,  /* skipping the rest of a cut line up to its delimiter */
};

/* Longest octet count kept while it is read: one digit more than SL_FRAMER_MAX_COUNT has. */
#define COUNT_DIGITS_MAX 11

int sl_framer_init(sl_framer_t *f, sl_framing_t mode, size_t max_size, unsigned opts)
{
    if ((unsigned)mode > SL_FRAMING_LF || (opts & ~(SL_FRAMER_KEEP_CR | SL_FRAMER_NUL_DELIM)) ||
        max_size < 1 || max_size > SL_FRAMER_MAX_COUNT)
        return -EINVAL;
    memset(f, 0, sizeof(*f));
    f->mode = (uint8_t)mode;
    f->opts = (uint8_t)opts;
    f->state = ST_START;
    f->max_size = max_size;
    f->max_count = SL_FRAMER_MAX_COUNT;
    return 0;
}

void sl_framer_free(sl_framer_t *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
    f->state = ST_START;
}

int sl_framer_idle(const sl_framer_t *f)
{
    return f->state == ST_START;
}

/* Makes room for `need` bytes in all. need never exceeds the bound in the file comment. */
static int buf_reserve(sl_framer_t *f, size_t need)
{
    if (need <= f->cap)
        return 0;
    size_t limit = f->max_size + 1 > COUNT_DIGITS_MAX ? f->max_size + 1 : COUNT_DIGITS_MAX;
    sl_assert(need <= limit);
    size_t cap = f->cap ? f->cap * 2 : 256;
    if (cap < need)
        cap = need;
    if (cap > limit)
        cap = limit;
    char *p = realloc(f->buf, cap);
    if (!p)
        return -ENOMEM;
    f->buf = p;
    f->cap = cap;
    return 0;
}

static int buf_append(sl_framer_t *f, const char *p, size_t n)
{
    if (buf_reserve(f, f->len + n) < 0)
        return -ENOMEM;
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return 0;
}

/*
 * Finding line delimiters. With only LF this is one memchr. With NUL as well, the next LF and the
 * next NUL are remembered for the whole buffer, so that many short NUL-ended lines do not rescan
 * the rest of the buffer for an LF each time.
 */
typedef struct scan {
    const char *end;
    const char *lf;  /* next LF at or after the last position asked, or end; NULL: not known */
    const char *nul; /* the same for NUL */
    int nul_delim;
} scan_t;

static const char *find_delim(scan_t *s, const char *p)
{
    if (!s->lf || s->lf < p) {
        s->lf = memchr(p, '\n', (size_t)(s->end - p));
        if (!s->lf)
            s->lf = s->end;
    }
    if (!s->nul_delim)
        return s->lf;
    if (!s->nul || s->nul < p) {
        s->nul = memchr(p, '\0', (size_t)(s->end - p));
        if (!s->nul)
            s->nul = s->end;
    }
    return s->nul < s->lf ? s->nul : s->lf;
}

static void start_octet(sl_framer_t *f, uint64_t count)
{
    f->remain = count;
    f->want = count > f->max_size ? f->max_size : (size_t)count;
    f->trunc = count > f->max_size;
    f->len = 0;
    f->state = ST_OCTET;
}

/* The digits of a count in buf were no count: they begin a line. Cuts it when it is too long. */
static int count_to_line(sl_framer_t *f, sl_frame_cb cb, void *ctx)
{
    f->pending = SL_FRAME_BAD_COUNT;
    f->state = ST_LINE;
    if (f->len <= f->max_size)
        return 0;
    f->state = ST_LINE_SKIP;
    f->len = 0;
    return cb(ctx, f->buf, f->max_size, SL_FRAME_TRUNCATED | SL_FRAME_BAD_COUNT);
}

ssize_t sl_framer_feed(sl_framer_t *f, const char *data, size_t len, sl_frame_cb cb, void *ctx)
{
    if (len == 0)
        return 0;
    const char *p = data, *end = data + len;
    scan_t s = {end, NULL, NULL, (f->opts & SL_FRAMER_NUL_DELIM) != 0};
    int rc = 0;

    while (p < end && rc == 0) {
        switch (f->state) {
        case ST_START: {
            unsigned char c = (unsigned char)*p;
            f->pending = 0;
            f->state = ST_LINE;
            if (f->mode == SL_FRAMING_LF)
                break;
            if (c < '1' || c > '9') {
                if (f->mode == SL_FRAMING_OCTET)
                    f->pending = SL_FRAME_BAD_COUNT;
                break;
            }
            /* An octet count: read it in place when it ends inside this buffer. */
            const char *q = p;
            uint64_t count = 0;
            while (q < end && *q >= '0' && *q <= '9' && count <= f->max_count)
                count = count * 10 + (uint64_t)(*q++ - '0');
            if (count > f->max_count || (q < end && *q != ' ')) {
                f->pending = SL_FRAME_BAD_COUNT; /* a line, from p on */
            } else if (q == end) {
                if (buf_append(f, p, (size_t)(q - p)) < 0)
                    return -ENOMEM;
                f->count = count;
                f->state = ST_COUNT;
                p = q;
            } else {
                start_octet(f, count);
                p = q + 1;
            }
            break;
        }

        case ST_COUNT: {
            char c = *p;
            if (c >= '0' && c <= '9') {
                if (buf_append(f, p, 1) < 0)
                    return -ENOMEM;
                p++;
                f->count = f->count * 10 + (uint64_t)(c - '0');
                if (f->count > f->max_count)
                    rc = count_to_line(f, cb, ctx);
            } else if (c == ' ') {
                p++;
                start_octet(f, f->count);
            } else {
                rc = count_to_line(f, cb, ctx); /* c is part of the line */
            }
            break;
        }

        case ST_OCTET: {
            size_t avail = (size_t)(end - p);
            size_t need = f->want - f->len;
            const char *frame = p;
            if (f->len || avail < need) {
                size_t k = avail < need ? avail : need;
                if (buf_append(f, p, k) < 0)
                    return -ENOMEM;
                p += k;
                f->remain -= k;
                if (f->len < f->want)
                    break;
                frame = f->buf;
                need = 0;
            }
            p += need;
            f->remain -= need;
            f->state = f->remain ? ST_OCTET_SKIP : ST_START;
            f->len = 0;
            rc = cb(ctx, frame, f->want, f->trunc ? SL_FRAME_TRUNCATED : 0u);
            break;
        }

        case ST_OCTET_SKIP: {
            size_t avail = (size_t)(end - p);
            size_t k = f->remain < avail ? (size_t)f->remain : avail;
            p += k;
            f->remain -= k;
            if (f->remain == 0)
                f->state = ST_START;
            break;
        }

        case ST_LINE: {
            const char *d = find_delim(&s, p);
            size_t n = (size_t)(d - p);
            size_t max = f->max_size;
            int strip_cr = !(f->opts & SL_FRAMER_KEEP_CR);
            const char *line = p;
            if (d < end) {
                /* The line is buf[0..len) then p[0..n); pass its first max_size bytes on. */
                size_t cl = f->len + n;
                if (cl && strip_cr && (n ? d[-1] : f->buf[f->len - 1]) == '\r')
                    cl--;
                size_t out = cl < max ? cl : max;
                unsigned flags = f->pending | (cl > max ? SL_FRAME_TRUNCATED : 0u);
                if (f->len) {
                    if (f->len < out && buf_append(f, p, out - f->len) < 0)
                        return -ENOMEM;
                    line = f->buf;
                }
                p = d + 1;
                f->len = 0;
                f->pending = 0;
                f->state = ST_START;
                if (out)
                    rc = cb(ctx, line, out, flags);
                break;
            }
            /* No delimiter in the rest of the buffer: keep it, unless the line is already too
             * long (one byte more than max_size is kept when it is a CR that may end it). */
            size_t total = f->len + n;
            if (total <= max || (total == max + 1 && strip_cr && end[-1] == '\r')) {
                if (buf_append(f, p, n) < 0)
                    return -ENOMEM;
                p = end;
                break;
            }
            if (f->len) {
                size_t k = f->len < max ? max - f->len : 0;
                if (buf_append(f, p, k) < 0)
                    return -ENOMEM;
                p += k;
                line = f->buf;
            } else {
                p += max;
            }
            unsigned flags = f->pending | SL_FRAME_TRUNCATED;
            f->pending = 0;
            f->len = 0;
            f->state = ST_LINE_SKIP;
            rc = cb(ctx, line, max, flags);
            break;
        }

        case ST_LINE_SKIP: {
            const char *d = find_delim(&s, p);
            if (d < end) {
                p = d + 1;
                f->state = ST_START;
            } else {
                p = end;
            }
            break;
        }

        default:
            sl_assert(0);
            return -EINVAL;
        }
    }
    return (ssize_t)(p - data);
}

int sl_framer_finish(sl_framer_t *f, sl_frame_cb cb, void *ctx)
{
    int rc = 0;
    size_t n = f->len;
    if (f->state == ST_LINE || f->state == ST_COUNT) {
        /* A line without its delimiter, or digits that no SP followed: the end is the end. */
        unsigned flags = f->state == ST_COUNT ? SL_FRAME_BAD_COUNT : f->pending;
        if (n && f->buf[n - 1] == '\r' && !(f->opts & SL_FRAMER_KEEP_CR))
            n--;
        if (n > f->max_size) {
            n = f->max_size;
            flags |= SL_FRAME_TRUNCATED;
        }
        if (n)
            rc = cb(ctx, f->buf, n, flags);
    } else if (f->state == ST_OCTET) {
        rc = cb(ctx, n ? f->buf : "", n, SL_FRAME_INCOMPLETE);
    }
    /* Otherwise the stream was between frames, or a frame already passed on cut lacked its
     * skipped rest. */
    f->state = ST_START;
    f->pending = 0;
    f->len = 0;
    return rc;
}

int sl_framing_parse(const char *name, sl_framing_t *out)
{
    if (!strcmp(name, "auto"))
        *out = SL_FRAMING_AUTO;
    else if (!strcmp(name, "octet-counted") || !strcmp(name, "octet"))
        *out = SL_FRAMING_OCTET;
    else if (!strcmp(name, "lf"))
        *out = SL_FRAMING_LF;
    else
        return -EINVAL;
    return 0;
}

const char *sl_framing_name(sl_framing_t mode)
{
    switch (mode) {
    case SL_FRAMING_AUTO:
        return "auto";
    case SL_FRAMING_OCTET:
        return "octet-counted";
    case SL_FRAMING_LF:
        return "lf";
    }
    return "?";
}
