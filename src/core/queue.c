/*
 * The per-action memory queue (see queue.h for the API and the ownership of references).
 *
 * Why one mutex: the contract is that enqueued == delivered + failed + discarded + queued holds
 * in every snapshot, while producers and consumers run. With the ring and every counter behind
 * one lock, each call moves messages and updates the counters in one critical section, so no
 * snapshot can see one without the other. The cost is one lock round trip per batch, not per
 * message: producers push and workers pop arrays, so the lock is amortised over the batch. A
 * lock-free ring would need the counters to be read together with the ring indexes, which is
 * exactly what it cannot offer cheaply.
 *
 * Concurrency: every field below `lock` (the ring, its indexes, the counters, `closed` and the
 * waiter counts) is read and written only with `lock` held. Three condition variables wait on
 * it: `not_empty` (consumers), `not_full` (blocked producers) and `idle` (sl_queue_drain). Wake-
 * ups are broadcasts, and only when someone waits (the waiter counts): a queue has a few
 * workers and a few producers, so a broadcast costs little, and a waiter that finds nothing left
 * waits again; signalling exactly one waiter would save little and depend on which waiter the
 * signal reaches when another times out at the same moment. Timed waits use CLOCK_MONOTONIC, so
 * setting the wall clock does not stretch or cut a timeout.
 *
 * Message references are never released with the lock held on the hot path: a push releases the
 * messages it refused after unlocking (they are still the caller's array entries, which no other
 * thread sees). Only sl_queue_purge, a shutdown path, releases under the lock.
 */
#include "core/queue.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sl_assert.h"
#include "lib/stress.h"

struct sl_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pthread_cond_t idle;

    sl_msg_t **ring;
    size_t capacity;
    size_t head;  /* index of the oldest message */
    size_t count; /* messages in the ring */

    uint64_t enqueued;
    uint64_t delivered;
    uint64_t failed;
    uint64_t discarded_by[SL_QUEUE_DISCARD_COUNT];
    uint64_t in_flight;
    uint64_t flow_control_pauses;
    uint64_t high_watermark;

    int closed;
    unsigned producers_waiting;
    unsigned consumers_waiting;
    unsigned drainers_waiting;
};

int sl_queue_new(sl_queue_t **out, size_t capacity)
{
    *out = NULL;
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(sl_msg_t *))
        return -EINVAL;
    sl_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    int rc = -ENOMEM;
    q->ring = malloc(capacity * sizeof(*q->ring));
    if (!q->ring)
        goto fail_ring;
    q->capacity = capacity;

    pthread_condattr_t ca;
    rc = -pthread_condattr_init(&ca);
    if (rc)
        goto fail_attr;
    rc = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc)
        goto fail_ca;
    rc = -pthread_mutex_init(&q->lock, NULL);
    if (rc)
        goto fail_ca;
    rc = -pthread_cond_init(&q->not_empty, &ca);
    if (rc)
        goto fail_not_empty;
    rc = -pthread_cond_init(&q->not_full, &ca);
    if (rc)
        goto fail_not_full;
    rc = -pthread_cond_init(&q->idle, &ca);
    if (rc)
        goto fail_idle;
    pthread_condattr_destroy(&ca);
    *out = q;
    return 0;

fail_idle:
    pthread_cond_destroy(&q->not_full);
fail_not_full:
    pthread_cond_destroy(&q->not_empty);
fail_not_empty:
    pthread_mutex_destroy(&q->lock);
fail_ca:
    pthread_condattr_destroy(&ca);
fail_attr:
    free(q->ring);
fail_ring:
    free(q);
    return rc;
}

/* Releases every message in the ring. Called with the lock held. */
static size_t purge_locked(sl_queue_t *q)
{
    size_t n = q->count;
    for (size_t i = 0; i < n; i++)
        sl_msg_unref(q->ring[(q->head + i) % q->capacity]);
    q->head = 0;
    q->count = 0;
    q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += n;
    if (n && q->producers_waiting)
        pthread_cond_broadcast(&q->not_full);
    if (q->in_flight == 0 && q->drainers_waiting)
        pthread_cond_broadcast(&q->idle);
    return n;
}

void sl_queue_destroy(sl_queue_t *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    purge_locked(q);
    sl_assert(q->in_flight == 0);
    sl_assert(q->producers_waiting == 0 && q->consumers_waiting == 0 && q->drainers_waiting == 0);
    pthread_mutex_unlock(&q->lock);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

/* Appends msgs[0..n) to the ring, which has room for them. Called with the lock held. */
static void put_locked(sl_queue_t *q, sl_msg_t *const *msgs, size_t n)
{
    size_t tail = (q->head + q->count) % q->capacity;
    size_t first = q->capacity - tail < n ? q->capacity - tail : n;
    memcpy(&q->ring[tail], msgs, first * sizeof(*msgs));
    memcpy(&q->ring[0], msgs + first, (n - first) * sizeof(*msgs));
    q->count += n;
    q->enqueued += n;
    if (q->count > q->high_watermark)
        q->high_watermark = q->count;
    if (q->consumers_waiting)
        pthread_cond_broadcast(&q->not_empty);
}

int sl_queue_push(sl_queue_t *q, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode)
{
    sl_assert(mode == SL_QUEUE_BLOCK || mode == SL_QUEUE_DROP);
    sl_assert(n <= INT_MAX);
    size_t queued = 0;
    int rc = 0;
    int paused = 0;

    SL_STRESS_POINT();
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->closed) {
            size_t refused = n - queued;
            q->enqueued += refused;
            q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += refused;
            rc = -ESHUTDOWN;
            break;
        }
        size_t room = q->capacity - q->count;
        size_t k = n - queued < room ? n - queued : room;
        if (k) {
            put_locked(q, msgs + queued, k);
            queued += k;
            SL_STRESS_POINT();
        }
        if (queued == n)
            break;
        /* Anything but an explicit drop waits: blocking by mistake loses nothing. */
        if (mode == SL_QUEUE_DROP) {
            size_t refused = n - queued;
            q->enqueued += refused;
            q->discarded_by[SL_QUEUE_DISCARD_FULL] += refused;
            rc = refused > INT_MAX ? INT_MAX : (int)refused;
            break;
        }
        if (!paused) {
            paused = 1;
            q->flow_control_pauses++;
        }
        q->producers_waiting++;
        pthread_cond_wait(&q->not_full, &q->lock);
        q->producers_waiting--;
    }
    pthread_mutex_unlock(&q->lock);
    SL_STRESS_POINT();

    /* The refused messages were counted above; their references are released here, once. */
    for (size_t i = queued; i < n; i++)
        sl_msg_unref(msgs[i]);
    return rc;
}

/* Absolute CLOCK_MONOTONIC time ms milliseconds from now. */
static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int sl_queue_pop(sl_queue_t *q, sl_msg_t **out, size_t max, int timeout_ms)
{
    if (max == 0)
        return -EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    int timed_out = timeout_ms == 0;

    SL_STRESS_POINT();
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) {
        if (q->closed || timed_out) {
            /* Read under the lock: a close racing the timeout decides what is returned. */
            int rc = q->closed ? 0 : -ETIMEDOUT;
            pthread_mutex_unlock(&q->lock);
            return rc;
        }
        q->consumers_waiting++;
        if (timeout_ms < 0)
            pthread_cond_wait(&q->not_empty, &q->lock);
        else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline) != 0)
            timed_out = 1;
        q->consumers_waiting--;
    }
    size_t k = q->count < max ? q->count : max;
    size_t first = q->capacity - q->head < k ? q->capacity - q->head : k;
    memcpy(out, &q->ring[q->head], first * sizeof(*out));
    memcpy(out + first, &q->ring[0], (k - first) * sizeof(*out));
    q->head = (q->head + k) % q->capacity;
    q->count -= k;
    q->in_flight += k;
    SL_STRESS_POINT();
    if (q->producers_waiting)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    SL_STRESS_POINT();
    return (int)k;
}

int sl_queue_done(sl_queue_t *q, size_t delivered, size_t failed, size_t discarded)
{
    SL_STRESS_POINT();
    pthread_mutex_lock(&q->lock);
    uint64_t left = q->in_flight;
    if (delivered > left || failed > left - delivered || discarded > left - delivered - failed) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    q->in_flight -= delivered + failed + discarded;
    q->delivered += delivered;
    q->failed += failed;
    q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += discarded;
    SL_STRESS_POINT();
    if (q->in_flight == 0 && q->count == 0 && q->drainers_waiting)
        pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->lock);
    SL_STRESS_POINT();
    return 0;
}

void sl_queue_close(sl_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

int sl_queue_drain(sl_queue_t *q, const struct timespec *deadline)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (q->count + q->in_flight > 0) {
        q->drainers_waiting++;
        int w = deadline ? pthread_cond_timedwait(&q->idle, &q->lock, deadline)
                         : pthread_cond_wait(&q->idle, &q->lock);
        q->drainers_waiting--;
        /* A deadline that passed (or a malformed one) ends the wait unless the queue emptied. */
        if (w != 0 && q->count + q->in_flight > 0) {
            rc = w == ETIMEDOUT ? -ETIMEDOUT : -w;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

size_t sl_queue_purge(sl_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = purge_locked(q);
    pthread_mutex_unlock(&q->lock);
    return n;
}

void sl_queue_stats(sl_queue_t *q, sl_queue_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&q->lock);
    st->enqueued = q->enqueued;
    st->delivered = q->delivered;
    st->failed = q->failed;
    for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++) {
        st->discarded_by[r] = q->discarded_by[r];
        st->discarded += q->discarded_by[r];
    }
    st->in_ring = q->count;
    st->in_flight = q->in_flight;
    st->queued = st->in_ring + st->in_flight;
    st->flow_control_pauses = q->flow_control_pauses;
    st->high_watermark = q->high_watermark;
    st->capacity = q->capacity;
    st->producers_waiting = q->producers_waiting;
    st->consumers_waiting = q->consumers_waiting;
    st->drainers_waiting = q->drainers_waiting;
    st->closed = q->closed;
    pthread_mutex_unlock(&q->lock);
}
