/*
 * The action runtime: worker threads between a queue and an output.
 *
 * Concurrency:
 * - The queue (queue.c, or dqueue.c for a disk queue, both behind sl_queue_ops_t) is shared by
 *   routing threads and workers and guards itself; it also keeps the action's accounting, so
 *   enqueued = delivered + failed + discarded + queued holds in every snapshot.
 * - Each worker owns its output instance inst[i]; nothing else touches it until the worker has
 *   been joined, except the output's cancel operation (made for that, see output.h), which
 *   sl_action_stop calls when the shutdown deadline has passed (and sl_action_abort_direct,
 *   from the runtime's stop watchdog, on a direct action's inst[0]).
 * - reopen_gen, stopping, suspensions and suspended_workers are atomics: written by the
 *   housekeeping thread (reopen, stop) or workers (suspension counts), read by anyone. Relaxed
 *   order suffices for reopen_gen and the counters (they carry no other data); stopping is
 *   also set under wake_lock so a worker sleeping in its backoff wait cannot miss the wake-up.
 * - Direct actions: the routing threads deliver themselves, one at a time under direct_lock,
 *   which also guards inst[0]. direct_stats has its own stats_lock, held only while counters
 *   are updated or read, never during a delivery: a delivery can block on a peer for as long
 *   as the peer likes, and the housekeeping thread reading the stats must not block with it.
 *   Lock order: direct_lock, then stats_lock.
 */
#include "core/action.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/sl_assert.h"
#include "lib/stress.h"

static void ts_add_ms(struct timespec *ts, long ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int sl_action_create(sl_action_t **out, const sl_action_conf_t *conf, char *err, size_t errlen)
{
    sl_action_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->conf = *conf;
    a->name = strdup(conf->name);
    pthread_mutex_init(&a->direct_lock, NULL);
    pthread_mutex_init(&a->stats_lock, NULL);
    pthread_mutex_init(&a->wake_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (a->conf.batch_size == 0)
        a->conf.batch_size = 1024;
    if (a->conf.queue_size == 0)
        a->conf.queue_size = 100000;
    if (a->conf.flush_interval_ms <= 0)
        a->conf.flush_interval_ms = 1000;
    if (a->conf.retry_min_ms <= 0)
        a->conf.retry_min_ms = 100;
    if (a->conf.retry_max_ms < a->conf.retry_min_ms)
        a->conf.retry_max_ms = 30000;
    a->nthreads = a->conf.queue_type == SL_QT_DIRECT ? 1 : (a->conf.workers ? a->conf.workers : 1);
    a->inst = calloc(a->nthreads, sizeof(*a->inst));
    if (!a->name || !a->inst)
        goto nomem;
    if (a->conf.queue_type == SL_QT_DISK) {
        /* The files are opened by sl_action_start: a reload builds the next configuration
         * while this one still runs on the same directory. */
        a->qops = &sl_dqueue_ops;
        a->disk_dir = a->conf.disk.dir ? strdup(a->conf.disk.dir) : NULL;
        a->conf.disk.dir = a->disk_dir;
        if (!a->disk_dir)
            goto nomem;
    }
    if (a->conf.queue_type == SL_QT_MEMORY) {
        sl_queue_t *mq;
        int rc = sl_queue_new(&mq, a->conf.queue_size);
        a->queue = mq;
        a->qops = &sl_queue_memory_ops;
        if (rc < 0) {
            snprintf(err, errlen, "queue: %s", strerror(-rc));
            sl_action_destroy(a);
            return rc;
        }
    }
    for (unsigned i = 0; i < a->nthreads; i++) {
        int rc = conf->create(conf->create_arg, &a->inst[i], err, errlen);
        if (rc < 0) {
            sl_action_destroy(a);
            return rc;
        }
    }
    *out = a;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    sl_action_destroy(a);
    return -ENOMEM;
}

/* Sleeps for the backoff unless the action is told to stop. Returns true when stopping. */
static bool backoff_wait(sl_action_t *a, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    ts_add_ms(&until, ms);
    pthread_mutex_lock(&a->wake_lock);
    while (!atomic_load(&a->stopping)) {
        if (pthread_cond_timedwait(&a->wake, &a->wake_lock, &until) == ETIMEDOUT)
            break;
    }
    bool stop = atomic_load(&a->stopping);
    pthread_mutex_unlock(&a->wake_lock);
    return stop;
}

/*
 * Delivers msgs[0..n) through inst, retrying with backoff while the output asks for it, until
 * all are delivered or failed, or the action stops. Counts into the three totals.
 */
static void deliver_batch(sl_action_t *a, void *inst, sl_msg_t *const *msgs, size_t n,
                          size_t *delivered, size_t *failed, size_t *discarded)
{
    size_t off = 0;
    int backoff = a->conf.retry_min_ms;
    bool suspended = false;
    while (off < n) {
        size_t done = 0;
        sl_out_status_t st = a->conf.ops->deliver(inst, msgs + off, n - off, &done);
        sl_assert(done <= n - off);
        *delivered += done;
        off += done;
        if (st == SL_OUT_OK) {
            sl_assert(off == n);
            break;
        }
        if (st == SL_OUT_FAIL) {
            (*failed)++;
            off++;
            continue;
        }
        if (done > 0)
            backoff = a->conf.retry_min_ms;
        if (!suspended) {
            suspended = true;
            atomic_fetch_add_explicit(&a->suspended_workers, 1, memory_order_relaxed);
        }
        atomic_fetch_add_explicit(&a->suspensions, 1, memory_order_relaxed);
        if (backoff_wait(a, backoff)) {
            *discarded += n - off;
            break;
        }
        backoff = backoff * 2 > a->conf.retry_max_ms ? a->conf.retry_max_ms : backoff * 2;
    }
    if (suspended)
        atomic_fetch_sub_explicit(&a->suspended_workers, 1, memory_order_relaxed);
}

typedef struct worker_arg {
    sl_action_t *a;
    unsigned idx;
} worker_arg_t;

static void *worker_main(void *p)
{
    worker_arg_t *wa = p;
    sl_action_t *a = wa->a;
    void *inst = a->inst[wa->idx];
    free(wa);
    size_t max = a->conf.batch_size;
    sl_msg_t **batch = malloc(max * sizeof(*batch));
    unsigned seen_gen = atomic_load_explicit(&a->reopen_gen, memory_order_relaxed);
    bool dirty = false;
    if (!batch)
        return NULL;
    for (;;) {
        int n = a->qops->pop(a->queue, batch, max, a->conf.flush_interval_ms);
        unsigned gen = atomic_load_explicit(&a->reopen_gen, memory_order_relaxed);
        if (gen != seen_gen) {
            seen_gen = gen;
            a->conf.ops->reopen(inst);
        }
        if (n == -ETIMEDOUT) {
            if (dirty && a->conf.ops->flush(inst) == SL_OUT_OK)
                dirty = false;
            continue;
        }
        if (n <= 0)
            break;
        size_t delivered = 0, failed = 0, discarded = 0;
        if (atomic_load(&a->stopping))
            discarded = (size_t)n; /* past the shutdown deadline: counted, not delivered */
        else
            deliver_batch(a, inst, batch, (size_t)n, &delivered, &failed, &discarded);
        SL_STRESS_POINT();
        for (int i = 0; i < n; i++)
            sl_msg_unref(batch[i]);
        sl_msg_pool_flush(); /* the freed blocks to the inputs now, not when 64 have gathered */
        SL_STRESS_POINT();
        a->qops->done(a->queue, delivered, failed, discarded);
        dirty = true;
        /* A short batch means the queue ran empty: write out now rather than wait. */
        if ((size_t)n < max && a->conf.ops->flush(inst) == SL_OUT_OK)
            dirty = false;
    }
    /* Closed and empty: write out what is buffered, retrying until told to give up. */
    int backoff = a->conf.retry_min_ms;
    while (a->conf.ops->flush(inst) != SL_OUT_OK && !backoff_wait(a, backoff))
        backoff = backoff * 2 > a->conf.retry_max_ms ? a->conf.retry_max_ms : backoff * 2;
    free(batch);
    return NULL;
}

int sl_action_start(sl_action_t *a)
{
    if (a->conf.queue_type == SL_QT_DIRECT)
        return 0;
    if (a->conf.queue_type == SL_QT_DISK && !a->queue) {
        sl_dqueue_t *dq;
        int rc = sl_dqueue_open(&dq, &a->conf.disk);
        if (rc < 0)
            return rc;
        a->queue = dq;
    }
    a->threads = calloc(a->nthreads, sizeof(*a->threads));
    if (!a->threads)
        return -ENOMEM;
    for (unsigned i = 0; i < a->nthreads; i++) {
        worker_arg_t *wa = malloc(sizeof(*wa));
        if (!wa)
            return -ENOMEM;
        wa->a = a;
        wa->idx = i;
        int rc = pthread_create(&a->threads[i], NULL, worker_main, wa);
        if (rc != 0) {
            free(wa);
            return -rc;
        }
    }
    return 0;
}

int sl_action_push(sl_action_t *a, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode)
{
    if (a->qops) {
        sl_assert(a->queue);
        return a->qops->push(a->queue, msgs, n, mode);
    }
    size_t delivered = 0, failed = 0, discarded = 0;
    pthread_mutex_lock(&a->direct_lock);
    pthread_mutex_lock(&a->stats_lock);
    a->direct_stats.enqueued += n;
    a->direct_stats.queued += n;
    a->direct_stats.in_flight += n;
    pthread_mutex_unlock(&a->stats_lock);
    deliver_batch(a, a->inst[0], msgs, n, &delivered, &failed, &discarded);
    a->conf.ops->flush(a->inst[0]);
    pthread_mutex_lock(&a->stats_lock);
    a->direct_stats.delivered += delivered;
    a->direct_stats.failed += failed;
    a->direct_stats.discarded += discarded;
    a->direct_stats.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += discarded;
    a->direct_stats.queued -= n;
    a->direct_stats.in_flight -= n;
    pthread_mutex_unlock(&a->stats_lock);
    pthread_mutex_unlock(&a->direct_lock);
    SL_STRESS_POINT();
    for (size_t i = 0; i < n; i++)
        sl_msg_unref(msgs[i]);
    return 0;
}

void sl_action_reopen(sl_action_t *a)
{
    if (a->qops) {
        atomic_fetch_add_explicit(&a->reopen_gen, 1, memory_order_relaxed);
        return;
    }
    pthread_mutex_lock(&a->direct_lock);
    a->conf.ops->reopen(a->inst[0]);
    pthread_mutex_unlock(&a->direct_lock);
}

/*
 * The queue drains until the deadline; after it, workers stop retrying and discard (and count)
 * what is left instead of delivering it, and an output blocked in a delivery (a peer that
 * stopped reading) is cancelled, so that stopping takes the deadline and not as long as the
 * slowest peer allows.
 */
void sl_action_stop(sl_action_t *a, const struct timespec *deadline)
{
    bool late = false;
    if (a->queue) {
        a->qops->close(a->queue);
        late = a->qops->drain(a->queue, deadline) < 0;
        /* A disk queue keeps what was not delivered in time for the next start. */
        if (late && a->conf.queue_type == SL_QT_DISK)
            a->qops->purge(a->queue);
    }
    pthread_mutex_lock(&a->wake_lock);
    atomic_store(&a->stopping, true);
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->wake_lock);
    if (late && a->conf.ops->cancel) {
        for (unsigned i = 0; i < a->nthreads; i++)
            a->conf.ops->cancel(a->inst[i]);
    }
    if (a->threads) {
        for (unsigned i = 0; i < a->nthreads; i++)
            pthread_join(a->threads[i], NULL);
        free(a->threads);
        a->threads = NULL;
    }
}

void sl_action_abort_direct(sl_action_t *a)
{
    if (a->qops || !a->inst)
        return;
    pthread_mutex_lock(&a->wake_lock);
    atomic_store(&a->stopping, true);
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->wake_lock);
    if (a->conf.ops->cancel)
        a->conf.ops->cancel(a->inst[0]);
}

void sl_action_destroy(sl_action_t *a)
{
    if (!a)
        return;
    if (a->inst) {
        for (unsigned i = 0; i < a->nthreads; i++) {
            if (a->inst[i])
                a->conf.ops->destroy(a->inst[i]);
        }
    }
    free(a->inst);
    if (a->queue)
        a->qops->destroy(a->queue);
    free(a->disk_dir);
    sl_where_free(a->where);
    pthread_mutex_destroy(&a->direct_lock);
    pthread_mutex_destroy(&a->stats_lock);
    pthread_mutex_destroy(&a->wake_lock);
    pthread_cond_destroy(&a->wake);
    free(a->name);
    free(a);
}

void sl_action_stats(sl_action_t *a, sl_action_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (a->queue) {
        a->qops->stats(a->queue, &st->q);
    } else if (a->conf.queue_type == SL_QT_DIRECT) {
        pthread_mutex_lock(&a->stats_lock);
        st->q = a->direct_stats;
        pthread_mutex_unlock(&a->stats_lock);
    }
    st->suspensions = atomic_load_explicit(&a->suspensions, memory_order_relaxed);
    st->suspended = atomic_load_explicit(&a->suspended_workers, memory_order_relaxed) > 0;
}
