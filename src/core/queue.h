/*
 * The per-action memory queue: a bounded ring of message references between the input threads
 * that produce messages and the action's worker threads that deliver them.
 *
 * Ownership of references: a producer takes one reference per queue before it pushes (a fan-out
 * to N actions adds N references with one sl_msg_ref_n), and sl_queue_push always consumes every
 * reference it is handed, whether the message was queued or refused. A refused message is
 * released by the queue, never by the caller, so no path can leak or release twice. A worker that
 * pops messages owns their references: it delivers them, releases them, and reports the outcome
 * with sl_queue_done.
 *
 * Accounting, per queue, holds in every snapshot sl_queue_stats returns:
 *     enqueued == delivered + failed + discarded + queued
 * where enqueued counts every message handed to sl_queue_push (queued or refused), discarded is
 * the sum over the reasons, and queued is the messages in the ring plus those popped by a worker
 * that has not yet reported them with sl_queue_done.
 *
 * Concurrency: all calls are thread-safe; see queue.c for the locking.
 */
#ifndef SL_QUEUE_H
#define SL_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/msg.h"

typedef struct sl_queue sl_queue_t;

/* What a producer does when the queue is full. */
typedef enum sl_queue_mode {
    SL_QUEUE_BLOCK, /* stream inputs: wait for room (flow control), lose nothing */
    SL_QUEUE_DROP,  /* datagram inputs: queue what fits, refuse the rest */
} sl_queue_mode_t;

/* Why messages were discarded. */
typedef enum sl_queue_discard {
    SL_QUEUE_DISCARD_FULL,     /* refused by a push in drop mode: no room */
    SL_QUEUE_DISCARD_SHUTDOWN, /* refused after close, purged, or given up by a stopping worker */
    SL_QUEUE_DISCARD_COUNT
} sl_queue_discard_t;

/* A consistent snapshot of one queue's counters (all taken under the queue's lock). */
typedef struct sl_queue_stats {
    uint64_t enqueued;  /* messages handed to sl_queue_push, queued or refused */
    uint64_t delivered; /* reported delivered by sl_queue_done */
    uint64_t failed;    /* reported failed by sl_queue_done */
    uint64_t discarded; /* sum of discarded_by[] */
    uint64_t discarded_by[SL_QUEUE_DISCARD_COUNT];
    uint64_t queued;              /* in_ring + in_flight */
    uint64_t in_ring;             /* waiting in the ring */
    uint64_t in_flight;           /* popped, outcome not yet reported */
    uint64_t flow_control_pauses; /* block-mode pushes that had to wait for room */
    uint64_t high_watermark;      /* the most messages the ring has held at once */
    uint64_t capacity;            /* the ring's size, fixed at creation */
    unsigned producers_waiting;   /* threads blocked in sl_queue_push right now */
    unsigned consumers_waiting;   /* threads blocked in sl_queue_pop right now */
    unsigned drainers_waiting;    /* threads blocked in sl_queue_drain right now */
    int closed;                   /* 1 once sl_queue_close was called */
} sl_queue_stats_t;

/* Creates an empty queue holding at most capacity messages. Returns 0, -EINVAL for a capacity of
 * 0 or one too large to allocate, -ENOMEM, or the error of initialising the lock. */
int sl_queue_new(sl_queue_t **out, size_t capacity);

/*
 * Releases every message still in the ring (counted as discarded: shutdown) and frees the queue.
 * No thread may be using the queue, and every popped batch must have been reported with
 * sl_queue_done. NULL is ignored.
 */
void sl_queue_destroy(sl_queue_t *q);

/*
 * Hands msgs[0..n) to the queue, in order, consuming the caller's reference on each of them
 * whatever the outcome: the queue either queues a message or releases it itself, so the caller
 * must not touch the references afterwards (it may reuse the array).
 * - SL_QUEUE_BLOCK: queues what fits and waits for room for the rest, as often as needed (n may
 *   exceed the capacity). A call that had to wait counts one flow-control pause. Returns 0.
 * - SL_QUEUE_DROP: queues what fits and refuses the rest at once (released here, counted as
 *   discarded: queue full). Returns how many were refused, 0 when all were queued.
 * Once the queue is closed, before or during the call, the messages not yet queued are released
 * and counted as discarded: shutdown, and the call returns -ESHUTDOWN; those queued before the
 * close stay queued.
 */
int sl_queue_push(sl_queue_t *q, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode);

/*
 * Takes up to max messages, oldest first, into out[], waiting until at least one is there, the
 * timeout (milliseconds; a negative one waits without limit, 0 does not wait) has passed, or the
 * queue is closed and empty. The caller owns the references it gets and must report every message
 * with sl_queue_done after delivering (or keep the batch while the action is suspended, then
 * report). Returns the number taken (> 0), 0 when the queue is closed and empty (the worker should
 * stop), -ETIMEDOUT, or -EINVAL when max is 0.
 */
int sl_queue_pop(sl_queue_t *q, sl_msg_t **out, size_t max, int timeout_ms);

/*
 * Reports the outcome of popped messages whose references the worker has released: delivered,
 * failed (the output gave up on them), and discarded (given up without an outcome, which a worker
 * does only when it is told to stop, so they count as discarded: shutdown). Returns 0, or -EINVAL
 * when the total exceeds the messages in flight (nothing is counted then).
 */
int sl_queue_done(sl_queue_t *q, size_t delivered, size_t failed, size_t discarded);

/* Refuses every later push and wakes all waiting producers (they return -ESHUTDOWN) and
 * consumers (they take what is left, then get 0). Idempotent. */
void sl_queue_close(sl_queue_t *q);

/*
 * Waits until queued is 0 (the ring is empty and every popped batch was reported) or until the
 * deadline, an absolute CLOCK_MONOTONIC time (NULL waits without limit); one deadline can thus
 * bound the drain of several queues. Returns 0, -ETIMEDOUT, or -EINVAL for a malformed deadline.
 */
int sl_queue_drain(sl_queue_t *q, const struct timespec *deadline);

/* Releases every message in the ring, counted as discarded: shutdown, and returns how many. For
 * a shutdown whose drain deadline passed: after close and purge, workers' pops return 0. */
size_t sl_queue_purge(sl_queue_t *q);

/* Fills *st with a snapshot of the counters, taken under the lock. */
void sl_queue_stats(sl_queue_t *q, sl_queue_stats_t *st);

#endif
