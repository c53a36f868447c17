/*
 * Message allocation, reference counting and field access. The concurrency contract is in
 * msg.h's opening comment: refs is the only shared mutable field, and only atomics touch it.
 *
 * Block recycling. Input threads allocate every message and action workers free them. With
 * plain malloc/free every such free goes to another thread's arena and takes its lock: perf
 * (futex syscalls with call stacks, TCP -> file) showed two thirds of the daemon's futex calls
 * were that lock, contended between sl_msg_new and free, and malloc + free cost ~320
 * instructions a message. So a freed block is kept for the next message instead:
 *
 *   - tc (thread-local, touched only by its thread): `freed`, blocks this thread released, a
 *     chain of at most FLUSH_AT; `spare`, blocks this thread took from the pool to build
 *     messages in.
 *   - pool.head (shared, atomics only): a stack of chains. Any thread pushes its whole `freed`
 *     chain with one compare-exchange (release); a thread whose `spare` is empty takes the
 *     whole stack with one exchange (acquire). Nobody removes a single block, so the ABA
 *     problem of lock-free stacks cannot arise. Release/acquire orders the freeing thread's
 *     last use of a block (and, through the reference count's acq_rel, every owner's reads)
 *     before the next owner's writes.
 *   - pool.count (shared, atomic, relaxed): about how many blocks the stack holds; a soft cap
 *     (POOL_MAX): over it, freed blocks go back to malloc. It is reset when the stack is taken,
 *     so a push racing a take can leave it off by one chain until the next take, no more.
 *
 * Blocks are sized in steps of 64 bytes; one too small for the next message is given back to
 * malloc. Blocks over BLOCK_MAX are never pooled. A thread's caches go back when it exits
 * (a thread-specific key's destructor). Under AddressSanitizer a pooled block is poisoned,
 * so a stale reader or a late unref is still reported.
 */
#include "core/msg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"
#include "lib/sl_assert.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK_STEP 64
#define BLOCK_MAX  4096 /* bytes of buf[]; bigger messages are malloc'ed and freed as before */
#define FLUSH_AT   64   /* freed blocks a thread keeps before it pushes them to the pool */
#define POOL_MAX   8192 /* blocks in the pool (soft) */

static struct {
    _Atomic(sl_msg_t *) head;
    _Atomic size_t count;
} pool;

typedef struct thread_cache {
    sl_msg_t *freed, *freed_tail;
    size_t nfreed;
    sl_msg_t *spare;
    int registered;
} thread_cache_t;

static _Thread_local thread_cache_t tc;
static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;

/*
 * The link of a pooled block lives in buf[] (cap >= BLOCK_STEP), at the first pointer-aligned
 * offset: LeakSanitizer follows only aligned pointers, and a chain it cannot follow would be
 * reported as leaked.
 */
#define LINK_OFF ((offsetof(sl_msg_t, buf) + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *))

_Static_assert(LINK_OFF + sizeof(void *) <= offsetof(sl_msg_t, buf) + BLOCK_STEP,
               "a pooled block has room for its link");

static sl_msg_t *next_of(sl_msg_t *m)
{
    sl_msg_t *n;
    memcpy(&n, (char *)m + LINK_OFF, sizeof(n));
    return n;
}

static void set_next(sl_msg_t *m, sl_msg_t *n)
{
    memcpy((char *)m + LINK_OFF, &n, sizeof(n));
}

/* Poisons a cached block but its link; unpoisons all of it. */
static void block_poison(sl_msg_t *m)
{
    size_t end = offsetof(sl_msg_t, buf) + m->cap;
    POISON((char *)m + LINK_OFF + sizeof(sl_msg_t *), end - LINK_OFF - sizeof(sl_msg_t *));
    POISON(m, LINK_OFF);
}

static void block_unpoison(sl_msg_t *m)
{
    UNPOISON(m, offsetof(sl_msg_t, buf));
    UNPOISON(m->buf, m->cap);
}

static void free_chain(sl_msg_t *m)
{
    while (m) {
        sl_msg_t *n = next_of(m);
        block_unpoison(m);
        free(m);
        m = n;
    }
}

/* Hands the thread's freed chain to the pool (or back to malloc when the pool is full). */
static void flush_freed(thread_cache_t *c)
{
    if (!c->freed)
        return;
    if (atomic_load_explicit(&pool.count, memory_order_relaxed) >= POOL_MAX) {
        free_chain(c->freed);
    } else {
        sl_msg_t *old = atomic_load_explicit(&pool.head, memory_order_relaxed);
        do {
            set_next(c->freed_tail, old);
        } while (!atomic_compare_exchange_weak_explicit(&pool.head, &old, c->freed,
                                                        memory_order_release,
                                                        memory_order_relaxed));
        atomic_fetch_add_explicit(&pool.count, c->nfreed, memory_order_relaxed);
    }
    c->freed = c->freed_tail = NULL;
    c->nfreed = 0;
}

static void thread_exit(void *p)
{
    thread_cache_t *c = p;
    flush_freed(c);
    free_chain(c->spare);
    c->spare = NULL;
    c->registered = 0;
}

static void make_key(void)
{
    if (pthread_key_create(&tc_key, thread_exit) != 0)
        abort();
}

/* The first use of a thread's cache arranges for it to be emptied when the thread exits. */
static void cache_register(thread_cache_t *c)
{
    pthread_once(&tc_once, make_key);
    pthread_setspecific(tc_key, c);
    c->registered = 1;
}

/* A pooled block with room for need bytes of buf[], or NULL. */
static sl_msg_t *block_get(size_t need)
{
    thread_cache_t *c = &tc;
    if (need > BLOCK_MAX)
        return NULL;
    if (!c->spare) {
        if (!atomic_load_explicit(&pool.head, memory_order_relaxed))
            return NULL;
        c->spare = atomic_exchange_explicit(&pool.head, NULL, memory_order_acquire);
        atomic_store_explicit(&pool.count, 0, memory_order_relaxed);
        if (!c->spare)
            return NULL;
        if (!c->registered)
            cache_register(c);
    }
    sl_msg_t *m = c->spare;
    c->spare = next_of(m);
    /* The next block was last written by another thread (the worker that freed it), long ago:
     * start fetching it now, so the next message is not built on a cache miss (perf: the
     * header stores of sl_msg_new and the parser's first reads were its top samples). This
     * also fetches its link, the next step of this chain walk. */
    if (c->spare)
        sl_msg_prefetch(c->spare);
    block_unpoison(m);
    if (m->cap < need) {
        free(m);
        return NULL;
    }
    return m;
}

static void block_put(sl_msg_t *m)
{
    thread_cache_t *c = &tc;
    if (m->cap > BLOCK_MAX) {
        free(m);
        return;
    }
    if (!c->registered)
        cache_register(c);
    set_next(m, c->freed);
    block_poison(m);
    if (!c->freed)
        c->freed_tail = m;
    c->freed = m;
    if (++c->nfreed >= FLUSH_AT)
        flush_freed(c);
}

void sl_msg_pool_flush(void)
{
    flush_freed(&tc);
}

void sl_msg_pool_trim(void)
{
    thread_cache_t *c = &tc;
    flush_freed(c);
    free_chain(c->spare);
    c->spare = NULL;
    if (atomic_load_explicit(&pool.head, memory_order_relaxed)) {
        sl_msg_t *all = atomic_exchange_explicit(&pool.head, NULL, memory_order_acquire);
        atomic_store_explicit(&pool.count, 0, memory_order_relaxed);
        free_chain(all);
    }
}

size_t sl_msg_pool_size(void)
{
    return atomic_load_explicit(&pool.count, memory_order_relaxed);
}

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
    sl_msg_t *m = block_get(buf_len);
    if (!m) {
        size_t cap = (buf_len + BLOCK_STEP - 1) / BLOCK_STEP * BLOCK_STEP;
        if (cap > UINT32_MAX)
            cap = buf_len;
        m = malloc(sizeof(*m) + cap);
        if (!m)
            return NULL;
        m->cap = (uint32_t)cap;
    }
    /* Field by field rather than one memset of the whole 132-byte header: GCC makes a memset
     * of 128 bytes or more a `rep stosq`, whose start-up cost took a quarter of this
     * function's samples (perf annotate, TCP -> file); these are a few vector stores. The
     * assertion makes a new header field fail the build until it is set here too. */
    _Static_assert(offsetof(sl_msg_t, buf) == 132, "sl_msg_new sets every header field");
    atomic_init(&m->refs, 1);
    m->proto = SL_PROTO_NONE;
    m->pri = SL_PRI_DEFAULT;
    m->flags = 0;
    m->raw_len = (uint32_t)len;
    m->buf_len = (uint32_t)buf_len;
    m->sender_pid = -1;
    m->sender_uid = -1;
    m->ts = (sl_timestamp_t){0};
    m->received = (sl_timestamp_t){0};
    memset(m->f, 0, sizeof(m->f));
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
    block_put(m);
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
