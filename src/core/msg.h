/*
 * The message object.
 *
 * One allocation holds the header, the raw bytes as received (NUL-terminated), and the derived
 * strings that are not in the raw bytes (the sender's address and the input's name). Parsed fields
 * are spans (offset, length) into that buffer, so parsing allocates nothing per field.
 *
 * Concurrency: a message is built by one thread (the input that received it). Once it has been
 * enqueued anywhere it is immutable; every thread may read it and nobody writes it. The only
 * shared mutable state is the reference count `refs`, an _Atomic touched only by sl_msg_ref*,
 * sl_msg_unref (this file and msg.c). Increments are relaxed (the caller already holds a
 * reference, so the object cannot go away); a decrement is acquire-release, so the thread that
 * takes the count to zero sees every other owner's reads of the message happen before its free. See docs/concurrency.md.
 *
 * A freed message's block is recycled (msg.c: a process-wide pool, per-thread caches), so "free"
 * above means "given back to the pool": the same ordering argument carries the block from the
 * freeing thread to the one that builds the next message in it.
 */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/sl_time.h"
#include "lib/stress.h"

/* Field ids. The first SL_F_NSPANS are stored as spans; the rest are computed on access. */
typedef enum sl_field_id {
    SL_F_HOSTNAME,
    SL_F_APP_NAME,
    SL_F_PROCID,
    SL_F_MSGID,
    SL_F_STRUCTURED_DATA,
    SL_F_MSG,
    SL_F_TAG,
    SL_F_FROMHOST,
    SL_F_INPUT,
    SL_F_NSPANS,
    SL_F_PRI = SL_F_NSPANS,
    SL_F_FACILITY,
    SL_F_SEVERITY,
    SL_F_TIMESTAMP,
    SL_F_RECEIVED,
    SL_F_COUNT
} sl_field_id_t;

enum sl_proto {
    SL_PROTO_NONE = 0, /* not parsed as syslog: the whole raw text is msg */
    SL_PROTO_RFC3164 = 1,
    SL_PROTO_RFC5424 = 2,
};

enum sl_msg_flag {
    SL_MSG_MALFORMED = 1u << 0, /* could not be parsed; msg holds the whole raw text */
    SL_MSG_NO_PRI = 1u << 1,    /* no PRI: pri set to 13 (user.notice, RFC 3164 4.3.3) */
    SL_MSG_BAD_PRI = 1u << 2,   /* a PRI was there but invalid: pri set to 13 */
    SL_MSG_TRUNCATED = 1u << 3, /* the input cut the raw text at its size limit */
    SL_MSG_MSG_SP = 1u << 4,    /* one space before msg was taken off it (templates restore it) */
    SL_MSG_BOM = 1u << 5,       /* RFC 5424 MSG began with a UTF-8 BOM (not part of msg) */
};

#define SL_PRI_DEFAULT 13 /* user.notice */

typedef struct sl_span {
    uint32_t off;
    uint32_t len;
} sl_span_t;

typedef struct sl_msg {
    _Atomic uint32_t refs;
    uint8_t proto;  /* enum sl_proto */
    uint8_t pri;    /* 0..191 */
    uint16_t flags; /* enum sl_msg_flag */
    uint32_t raw_len;
    uint32_t buf_len; /* bytes of buf[] in use */
    uint32_t cap;     /* bytes of buf[] allocated (>= buf_len; the block is recycled, msg.c) */
    int32_t sender_pid; /* from SCM_CREDENTIALS, -1 when unknown */
    int32_t sender_uid; /* from SCM_CREDENTIALS, -1 when unknown */
    sl_timestamp_t ts;       /* the time the sender reported */
    sl_timestamp_t received; /* the time we received it */
    sl_span_t f[SL_F_NSPANS];
    char buf[]; /* raw bytes, NUL, fromhost, NUL, input, NUL */
} sl_msg_t;

/* Room needed by sl_msg_field for computed fields, with the NUL. */
#define SL_FIELD_SCRATCH 256

/*
 * Allocates a message holding a copy of raw[0..len), with fromhost and input (either may be NULL)
 * stored behind it. The message has one reference (the caller's), proto SL_PROTO_NONE, no flags,
 * pri 13, all spans empty except fromhost and input. Returns NULL when out of memory or when len
 * does not fit in 32 bits.
 */
sl_msg_t *sl_msg_new(const char *raw, size_t len, const char *fromhost, const char *input);

/* Adds one reference. The caller must already hold one. */
static inline sl_msg_t *sl_msg_ref(sl_msg_t *m)
{
    SL_STRESS_POINT();
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    SL_STRESS_POINT();
    return m;
}

/* Adds n references with one atomic operation (fan-out to n queues). The caller must hold one. */
static inline void sl_msg_ref_n(sl_msg_t *m, uint32_t n)
{
    SL_STRESS_POINT();
    atomic_fetch_add_explicit(&m->refs, n, memory_order_relaxed);
    SL_STRESS_POINT();
}

/*
 * Asks the CPU to start loading a message the caller will read soon: its header and the first
 * bytes of its text. A worker formats messages an input wrote long before (a full queue holds
 * 100,000 of them, far more than the caches), so each one would otherwise stall on memory as
 * the template first touches it (perf annotate: the first loads of put_text and of the
 * timestamp formatter were their top samples). A fixed reach, not raw_len: reading the header
 * to size it would wait for the very load this starts; a prefetch past the block's end is
 * harmless (it never faults).
 */
static inline __attribute__((always_inline)) void sl_msg_prefetch(const sl_msg_t *m)
{
    const char *p = (const char *)m;
    for (size_t off = 0; off < offsetof(sl_msg_t, buf) + 256; off += 64)
        __builtin_prefetch(p + off, 0, 3);
}

/* How many messages ahead a batch loop prefetches: far enough to cover a memory access while
 * the messages between are formatted. bench_parse -w, messages in shuffled order: 2 ahead
 * 3.1x, 4 ahead 3.6x, 8 ahead 4.2x, 16 ahead 3.2x the rate without; in address order 1.05x,
 * 1.14x, 1.16x, 1.03x. 4 is near the best with the least in the cache at a time. */
#define SL_MSG_PREFETCH_AHEAD 4

/*
 * In a loop over msgs[0..n) at i: prefetches the message SL_MSG_PREFETCH_AHEAD ahead.
 * Both are always inlined: GCC's IPA analysis finds a function that only prefetches free of
 * side effects, and a call to one that was not inlined early is deleted as dead code (seen:
 * no prefetch instruction at all in file_deliver, GCC 12 -O2 and -O3).
 */
static inline __attribute__((always_inline)) void sl_msg_prefetch_batch(sl_msg_t *const *msgs,
                                                                        size_t i, size_t n)
{
    if (i + SL_MSG_PREFETCH_AHEAD < n)
        sl_msg_prefetch(msgs[i + SL_MSG_PREFETCH_AHEAD]);
}

/* Drops the caller's reference; frees the message when it was the last. Aborts on underflow. */
void sl_msg_unref(sl_msg_t *m);

/*
 * The block pool (msg.c). Freed blocks wait in the freeing thread's cache and go to the shared
 * pool 64 at a time; sl_msg_pool_flush hands them over now (a worker at the end of a batch).
 * sl_msg_pool_trim gives the calling thread's cache and the shared pool back to malloc (an idle
 * input). sl_msg_pool_size: blocks in the shared pool (approximate; for tests).
 */
void sl_msg_pool_flush(void);
void sl_msg_pool_trim(void);
size_t sl_msg_pool_size(void);

/* Current count, for tests and assertions only (it may change right after). */
static inline uint32_t sl_msg_refcount(const sl_msg_t *m)
{
    return atomic_load_explicit(&((sl_msg_t *)m)->refs, memory_order_relaxed);
}

/* Pointer to a span field's bytes (not NUL-terminated in general) and its length. */
static inline const char *sl_msg_span(const sl_msg_t *m, sl_field_id_t id, size_t *len)
{
    *len = m->f[id].len;
    return m->buf + m->f[id].off;
}

/* Sets a span field to raw[off..off+len) of the message's own buffer. Only while building. */
static inline void sl_msg_set(sl_msg_t *m, sl_field_id_t id, const char *p, size_t len)
{
    m->f[id].off = (uint32_t)(p - m->buf);
    m->f[id].len = (uint32_t)len;
}

/*
 * The text of any field: span fields point into the message, computed ones (pri, facility,
 * severity, timestamp, received, and the tag of an RFC 5424 message, "app_name[procid]" as
 * rsyslog shows it) are
 * written to scratch. Returns the length and sets *out. Absent fields are empty.
 */
size_t sl_msg_field(const sl_msg_t *m, sl_field_id_t id, char scratch[SL_FIELD_SCRATCH],
                    const char **out);

/* Field names as in DESIGN.md ("hostname", "app_name", ...). */
const char *sl_field_name(sl_field_id_t id);

/* Field id for a name, or -1 when there is no such field. */
int sl_field_by_name(const char *name, size_t len);

/* Resets every parsed field and marks the message malformed: msg becomes the whole raw text,
 * hostname the sender's address and timestamp the reception time. pri is left as it is. */
void sl_msg_mark_malformed(sl_msg_t *m);

#endif
