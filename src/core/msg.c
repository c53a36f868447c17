/*
 * Message allocation, reference counting and field access. The concurrency contract is in
 * msg.h's opening comment: refs is the only shared mutable field, and only atomics touch it.
 */
#include "core/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"
#include "lib/sl_assert.h"

/* A freed message's bytes in debug builds, so a stale reader sees garbage it can recognise and
 * a stale unref sees a count no live message has. */
#define SL_MSG_POISON_BYTE 0xdb
#define SL_MSG_POISON_REFS 0xdbdbdbdbu

sl_msg_t *sl_msg_new(const char *raw, size_t len, const char *fromhost, const char *input)
{
    size_t fh_len = fromhost ? strlen(fromhost) : 0;
    size_t in_len = input ? strlen(input) : 0;
    size_t buf_len = len + 1 + fh_len + 1 + in_len + 1;
    if (buf_len > UINT32_MAX)
        return NULL;
    sl_msg_t *m = malloc(sizeof(*m) + buf_len);
    if (!m)
        return NULL;
    memset(m, 0, sizeof(*m));
    atomic_init(&m->refs, 1);
    m->pri = SL_PRI_DEFAULT;
    m->raw_len = (uint32_t)len;
    m->buf_len = (uint32_t)buf_len;
    m->sender_pid = -1;
    m->sender_uid = -1;
    char *p = m->buf;
    if (len)
        memcpy(p, raw, len);
    p[len] = '\0';
    p += len + 1;
    if (fh_len)
        memcpy(p, fromhost, fh_len);
    p[fh_len] = '\0';
    sl_msg_set(m, SL_F_FROMHOST, p, fh_len);
    p += fh_len + 1;
    if (in_len)
        memcpy(p, input, in_len);
    p[in_len] = '\0';
    sl_msg_set(m, SL_F_INPUT, p, in_len);
    return m;
}

void sl_msg_unref(sl_msg_t *m)
{
    /* acq_rel: the release publishes this owner's reads of the message to whoever frees it; the
     * acquire, taken by the decrement that reaches zero, makes every other owner's reads happen
     * before the free. (A release decrement plus an acquire fence on the last one is equivalent
     * and no cheaper on x86, but ThreadSanitizer does not model fences.) */
    SL_STRESS_POINT();
    uint32_t old = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel);
    SL_STRESS_POINT();
    if (old == 0 || old == SL_MSG_POISON_REFS) {
        fprintf(stderr, "sluice: message %p released with reference count %u\n", (void *)m, old);
        abort();
    }
    if (old != 1)
        return;
#if SL_DEBUG
    memset(m->buf, SL_MSG_POISON_BYTE, m->buf_len);
    atomic_store_explicit(&m->refs, SL_MSG_POISON_REFS, memory_order_relaxed);
#endif
    free(m);
}

static const char *const field_names[SL_F_COUNT] = {
    [SL_F_HOSTNAME] = "hostname",
    [SL_F_APP_NAME] = "app_name",
    [SL_F_PROCID] = "procid",
    [SL_F_MSGID] = "msgid",
    [SL_F_STRUCTURED_DATA] = "structured_data",
    [SL_F_MSG] = "msg",
    [SL_F_TAG] = "tag",
    [SL_F_FROMHOST] = "fromhost",
    [SL_F_INPUT] = "input",
    [SL_F_PRI] = "pri",
    [SL_F_FACILITY] = "facility",
    [SL_F_SEVERITY] = "severity",
    [SL_F_TIMESTAMP] = "timestamp",
    [SL_F_RECEIVED] = "received",
};

const char *sl_field_name(sl_field_id_t id)
{
    return (unsigned)id < SL_F_COUNT ? field_names[id] : "?";
}

int sl_field_by_name(const char *name, size_t len)
{
    for (int i = 0; i < SL_F_COUNT; i++) {
        if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

static size_t put_uint(char *buf, unsigned v)
{
    char tmp[12];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

size_t sl_msg_field(const sl_msg_t *m, sl_field_id_t id, char scratch[SL_FIELD_SCRATCH],
                    const char **out)
{
    size_t len;
    *out = scratch;
    switch (id) {
    case SL_F_PRI:
        return put_uint(scratch, m->pri);
    case SL_F_FACILITY:
        return put_uint(scratch, m->pri >> 3);
    case SL_F_SEVERITY:
        return put_uint(scratch, m->pri & 7);
    case SL_F_TIMESTAMP:
        return sl_ts_format_rfc3339(&m->ts, scratch);
    case SL_F_RECEIVED:
        return sl_ts_format_rfc3339(&m->received, scratch);
    case SL_F_TAG:
        if (m->proto == SL_PROTO_RFC5424 && m->f[SL_F_TAG].len == 0) {
            /* RFC 5424 has no TAG; build the one rsyslog shows, "app_name[procid]" ("-" for
             * an absent APP-NAME, no brackets without PROCID, no colon). The parser limits
             * them to 48 and 128 bytes, so this fits the scratch. */
            size_t an, pn;
            const char *a = sl_msg_span(m, SL_F_APP_NAME, &an);
            const char *p = sl_msg_span(m, SL_F_PROCID, &pn);
            sl_assert(an + pn + 4 <= SL_FIELD_SCRATCH);
            if (an == 0) {
                a = "-";
                an = 1;
            }
            memcpy(scratch, a, an);
            len = an;
            if (pn) {
                scratch[len++] = '[';
                memcpy(scratch + len, p, pn);
                len += pn;
                scratch[len++] = ']';
            }
            scratch[len] = '\0';
            return len;
        }
        /* fall through */
    default:
        if ((unsigned)id >= SL_F_NSPANS) {
            scratch[0] = '\0';
            return 0;
        }
        *out = sl_msg_span(m, id, &len);
        return len;
    }
}

void sl_msg_mark_malformed(sl_msg_t *m)
{
    for (int i = 0; i < SL_F_NSPANS; i++) {
        if (i != SL_F_FROMHOST && i != SL_F_INPUT)
            m->f[i].off = m->f[i].len = 0;
    }
    sl_msg_set(m, SL_F_MSG, m->buf, m->raw_len);
    /* Like rsyslog, a message without a readable header is stamped with its reception time and
     * attributed to the sender's address, so file formats still have a time and a host. */
    m->f[SL_F_HOSTNAME] = m->f[SL_F_FROMHOST];
    m->ts = m->received;
    m->proto = SL_PROTO_NONE;
    m->flags = (uint16_t)((m->flags & SL_MSG_TRUNCATED) | SL_MSG_MALFORMED);
}
