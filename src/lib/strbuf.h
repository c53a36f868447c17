/*
 * A growable byte buffer for building output (formatted messages, batches for writev).
 * Plain value type owned by one thread; no shared state.
 */
#ifndef SL_STRBUF_H
#define SL_STRBUF_H

#include <stddef.h>
#include <string.h>

typedef struct sl_strbuf {
    char *data;
    size_t len;
    size_t cap;
} sl_strbuf_t;

#define SL_STRBUF_INIT {NULL, 0, 0}

/* Makes room for at least `more` further bytes. 0, or -ENOMEM (the buffer is unchanged). */
int sl_strbuf_reserve(sl_strbuf_t *b, size_t more);

void sl_strbuf_free(sl_strbuf_t *b);

static inline void sl_strbuf_reset(sl_strbuf_t *b)
{
    b->len = 0;
}

static inline int sl_strbuf_append(sl_strbuf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && sl_strbuf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int sl_strbuf_putc(sl_strbuf_t *b, char c)
{
    if (b->cap == b->len && sl_strbuf_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

static inline int sl_strbuf_puts(sl_strbuf_t *b, const char *s)
{
    return sl_strbuf_append(b, s, strlen(s));
}

#endif
