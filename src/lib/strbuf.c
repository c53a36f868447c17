/* Growable buffer; see strbuf.h. */
#include "lib/strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int sl_strbuf_reserve(sl_strbuf_t *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t need = b->len + more;
    if (need < b->len)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void sl_strbuf_free(sl_strbuf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
