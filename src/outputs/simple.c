/*
 * stdout and discard outputs. stdout formats a batch into one buffer and writes it whole, so
 * records from several workers never interleave inside a line (a pipe write of up to PIPE_BUF
 * is atomic; larger ones are whole records anyway, written by one thread at a time per
 * instance). Concurrency: an instance belongs to one worker thread (output.h).
 */
#include "outputs/simple.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/strbuf.h"

typedef struct stdout_out {
    const sl_template_t *tmpl;
    sl_strbuf_t buf;
} stdout_out_t;

int sl_stdout_create(const sl_template_t *tmpl, void **inst, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    stdout_out_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->tmpl = tmpl;
    *inst = o;
    return 0;
}

static sl_out_status_t stdout_flush(void *inst)
{
    stdout_out_t *o = inst;
    size_t off = 0;
    while (off < o->buf.len) {
        ssize_t w = write(1, o->buf.data + off, o->buf.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            memmove(o->buf.data, o->buf.data + off, o->buf.len - off);
            o->buf.len -= off;
            return SL_OUT_RETRY;
        }
        off += (size_t)w;
    }
    o->buf.len = 0;
    return SL_OUT_OK;
}

static sl_out_status_t stdout_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    stdout_out_t *o = inst;
    *done = 0;
    if (o->buf.len && stdout_flush(o) != SL_OUT_OK)
        return SL_OUT_RETRY;
    for (size_t i = 0; i < n; i++) {
        sl_msg_prefetch_batch(msgs, i, n);
        if (sl_template_format(o->tmpl, msgs[i], &o->buf) < 0)
            return SL_OUT_RETRY;
        *done = i + 1;
    }
    /* Accepted records stay buffered if the write fails; the next call writes them first. */
    stdout_flush(o);
    return SL_OUT_OK;
}

static void stdout_reopen(void *inst)
{
    (void)inst;
}

static void stdout_destroy(void *inst)
{
    stdout_out_t *o = inst;
    if (!o)
        return;
    stdout_flush(o);
    sl_strbuf_free(&o->buf);
    free(o);
}

const sl_output_ops_t sl_stdout_ops = {
    .type = "stdout",
    .deliver = stdout_deliver,
    .flush = stdout_flush,
    .reopen = stdout_reopen,
    .destroy = stdout_destroy,
};

int sl_discard_create(void **inst, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *inst = NULL;
    return 0;
}

static sl_out_status_t discard_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    (void)inst;
    (void)msgs;
    *done = n;
    return SL_OUT_OK;
}

static sl_out_status_t discard_flush(void *inst)
{
    (void)inst;
    return SL_OUT_OK;
}

static void discard_noop(void *inst)
{
    (void)inst;
}

const sl_output_ops_t sl_discard_ops = {
    .type = "discard",
    .deliver = discard_deliver,
    .flush = discard_flush,
    .reopen = discard_noop,
    .destroy = discard_noop,
};
