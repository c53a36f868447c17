/*
 * What every input shares: its counters, and the batch that turns received frames into parsed
 * messages and hands them to the router.
 *
 * An input is bound (sockets created, before privileges are dropped), then started (its threads
 * run), then stopped (threads joined, sockets closed). Each input thread owns an sl_input_batch_t
 * with its own parse context and router; only the counters are shared.
 *
 * Concurrency: the counters in sl_input_stats_t are atomics, added to by the input's threads
 * (relaxed: they are statistics and order nothing else) and read by the stats reader. Everything
 * else in an input belongs to its own threads, or to the housekeeping thread before start and
 * after stop.
 */
#ifndef SL_INPUT_H
#define SL_INPUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/engine.h"
#include "parsers/parse.h"

typedef struct sl_input_stats {
    atomic_uint_least64_t received;            /* messages parsed (malformed included) */
    atomic_uint_least64_t malformed;           /* kept whole in msg */
    atomic_uint_least64_t truncated;           /* cut at max_message_size */
    atomic_uint_least64_t dropped_queue_full;  /* datagrams refused by a full queue */
    atomic_uint_least64_t dropped_kernel;      /* datagrams the kernel dropped (SO_RXQ_OVFL) */
    atomic_uint_least64_t dropped_no_memory;   /* not parsed for lack of memory */
    atomic_uint_least64_t incomplete;          /* stream ended inside an octet-counted frame */
    atomic_uint_least64_t connections;         /* accepted over the lifetime */
    atomic_uint_least64_t connections_refused; /* over the connection limit */
    atomic_uint_least64_t open_connections;    /* right now */
    atomic_uint_least64_t wrong_protocol;      /* TLS client on a plain port, or the reverse */
    atomic_uint_least64_t handshake_failed;    /* TLS handshakes and peer checks that failed */
} sl_input_stats_t;

typedef struct sl_input sl_input_t;

typedef struct sl_input_ops {
    const char *type;
    int (*bind)(sl_input_t *in, char *err, size_t errlen);
    int (*start)(sl_input_t *in);
    void (*stop)(sl_input_t *in);
    /* Stops the threads but keeps sockets and connections: start() resumes (reload). */
    void (*pause)(sl_input_t *in);
    void (*destroy)(sl_input_t *in);
} sl_input_ops_t;

struct sl_input {
    char *name;
    char *identity; /* every setting that shapes the sockets: equal identities can be handed over */
    bool bound;
    bool local; /* a local socket: no hostname in the text, the sender is this machine */
    const sl_input_ops_t *ops;
    void *impl;
    sl_engine_t *engine;
    sl_input_stats_t stats;
};

/* Messages parsed by one input thread, waiting to be routed together. */
#define SL_INPUT_BATCH 256

typedef struct sl_input_batch {
    sl_input_t *in;
    sl_router_t router;
    sl_parse_ctx_t ctx;
    sl_queue_mode_t mode;
    time_t now_sec; /* second the cached received time is for */
    bool routed;    /* messages were routed since the last sl_input_idle */
    size_t n;
    uint32_t malformed, truncated; /* among msgs, added to the stats when routed */
    sl_msg_t *msgs[SL_INPUT_BATCH];
} sl_input_batch_t;

int sl_input_batch_init(sl_input_batch_t *b, sl_input_t *in, sl_queue_mode_t mode);
void sl_input_batch_free(sl_input_batch_t *b);

/* Refreshes the reception time (call once per read; cheap within one second). */
void sl_input_batch_clock(sl_input_batch_t *b);

/*
 * Parses one frame from fromhost and adds it to the batch, routing the batch when full.
 * truncated: the framing cut it. Returns 0 or -ENOMEM (the frame is then counted dropped).
 */
int sl_input_batch_add(sl_input_batch_t *b, const char *frame, size_t len, const char *fromhost,
                       bool truncated);

/* Routes what the batch holds. */
void sl_input_batch_flush(sl_input_batch_t *b);

/*
 * How long (milliseconds) an input thread with nothing to read waits before it calls
 * sl_input_idle: 1000 after traffic, -1 (for ever) once sl_input_idle has run.
 */
int sl_input_idle_timeout(const sl_input_batch_t *b);

/* Called by an input thread that found nothing to read for sl_input_idle_timeout: gives the
 * memory that the last burst of messages left free back to the system (see input.c). */
void sl_input_idle(sl_input_batch_t *b);

#endif
