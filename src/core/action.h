/*
 * An action: filters (select, where, stop), a template, an output and the queue in front of it.
 *
 * With a memory queue (the default) or a disk queue (core/dqueue.h, opened when the action
 * starts) `workers` threads each own one output instance and loop: pop a batch, deliver it,
 * report the outcome to the queue (which keeps the accounting), release the batch. With a direct
 * queue the output runs in the routing (input) thread, one at a time under the action's mutex, and
 * the same accounting is kept under that mutex.
 */
#ifndef SL_ACTION_H
#define SL_ACTION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/dqueue.h"
#include "core/msg.h"
#include "core/queue.h"
#include "core/template.h"
#include "outputs/output.h"
#include "rules/selector.h"
#include "rules/where.h"

typedef enum sl_queue_type { SL_QT_MEMORY, SL_QT_DIRECT, SL_QT_DISK } sl_queue_type_t;

/* Creates one output instance for a worker; arg is the action's output configuration. */
typedef int (*sl_output_factory_t)(const void *arg, void **inst, char *err, size_t errlen);

typedef struct sl_action_conf {
    const char *name;
    const sl_output_ops_t *ops;
    sl_output_factory_t create;
    const void *create_arg;
    sl_queue_type_t queue_type;
    size_t queue_size;     /* messages (memory queue) */
    size_t batch_size;     /* messages per dequeue */
    unsigned workers;      /* threads (memory queue) */
    int flush_interval_ms; /* longest time delivered bytes may sit in a buffer when idle */
    int retry_min_ms;      /* first backoff after a failed delivery; doubles ... */
    int retry_max_ms;      /* ... up to this */
    sl_dqueue_conf_t disk; /* disk queue (disk.dir is copied) */
} sl_action_conf_t;

typedef struct sl_action_stats {
    sl_queue_stats_t q;
    uint64_t suspensions; /* times the output asked to retry */
    bool suspended;       /* waiting to retry right now */
} sl_action_stats_t;

typedef struct sl_action sl_action_t;

struct sl_action {
    char *name;
    /* Filters, read-only once built, evaluated concurrently by routing threads. */
    bool has_select;
    sl_selector_t select;
    sl_where_t *where;
    bool stop;

    sl_action_conf_t conf;
    void *queue; /* memory or disk queue (qops); NULL for direct, and for disk until started */
    const sl_queue_ops_t *qops;
    char *disk_dir;
    pthread_t *threads;
    void **inst; /* one output instance per worker (one for direct) */
    unsigned nthreads;

    /* Direct mode: direct_lock guards the one instance (held through a delivery, which may
     * block on a peer); stats_lock guards the accounting and is held only to update or read
     * it, so that reading the stats never waits for an output. */
    pthread_mutex_t direct_lock;
    pthread_mutex_t stats_lock;
    sl_queue_stats_t direct_stats;

    atomic_uint reopen_gen; /* bumped by sl_action_reopen; workers compare with their own copy */
    atomic_bool stopping;   /* set by sl_action_stop: give up retrying */
    atomic_uint_least64_t suspensions;
    atomic_uint suspended_workers;
    pthread_mutex_t wake_lock; /* guards nothing but the backoff wait below */
    pthread_cond_t wake;
};

/*
 * Creates an action and its output instances (not yet running). Takes ownership of where.
 * Returns 0, or -errno with a reason in err.
 */
int sl_action_create(sl_action_t **out, const sl_action_conf_t *conf, char *err, size_t errlen);

/* Starts the worker threads. */
int sl_action_start(sl_action_t *a);

/*
 * Hands messages to the action, consuming one reference on each (see sl_queue_push for mode).
 * Returns what sl_queue_push returns; for direct actions delivers before returning.
 */
int sl_action_push(sl_action_t *a, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode);

/* Asks every worker to close and reopen its files or connections (SIGHUP). */
void sl_action_reopen(sl_action_t *a);

/*
 * Stops taking messages, lets the workers deliver what is queued until the deadline, then makes
 * them give up (the rest is counted as discarded: shutdown) and joins them.
 */
void sl_action_stop(sl_action_t *a, const struct timespec *deadline);

/*
 * For a direct action, called once the shutdown deadline has passed while an input may still be
 * inside one of its deliveries: stops retrying (the rest is counted as discarded: shutdown) and
 * cancels a delivery blocked on a peer, so the input thread gets back and can be stopped.
 * Safe from any thread while inputs deliver. No effect on queued actions (sl_action_stop).
 */
void sl_action_abort_direct(sl_action_t *a);

void sl_action_destroy(sl_action_t *a);

void sl_action_stats(sl_action_t *a, sl_action_stats_t *st);

#endif
