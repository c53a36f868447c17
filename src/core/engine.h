/*
 * Routing: from parsed messages to the actions whose filters match.
 *
 * An input thread hands a batch of messages to sl_router_route. For each message the actions'
 * filters are evaluated in configuration order (an action with `stop` that matches ends the
 * evaluation); a message matching k actions gets k - 1 more references with one atomic add and
 * the caller's reference goes to the last of them, so it is shared, never copied. Then each
 * action receives its matched messages as one batch (one queue lock per action per batch).
 *
 * Concurrency: the engine (actions, filters) is read-only while it runs and shared by all input
 * threads; a router holds one input thread's scratch arrays and belongs to that thread.
 */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/action.h"

typedef struct sl_engine {
    sl_action_t **actions;
    size_t nactions;
    atomic_uint_least64_t unmatched; /* messages no action wanted */
} sl_engine_t;

typedef struct sl_router {
    sl_engine_t *engine;
    size_t max;         /* batch capacity */
    sl_msg_t **scratch; /* nactions * max: the messages matched per action */
    size_t *count;      /* per action */
} sl_router_t;

/* Per-thread routing state for batches of up to max messages. 0 or -ENOMEM. */
int sl_router_init(sl_router_t *r, sl_engine_t *e, size_t max);
void sl_router_free(sl_router_t *r);

/*
 * Routes msgs[0..n) (n <= max), consuming the caller's reference on each. mode: block for
 * stream inputs (flow control), drop for datagram inputs. Returns the number of messages
 * refused by full queues (drop mode).
 */
size_t sl_router_route(sl_router_t *r, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode);

/* Whether an action's filters accept a message. */
int sl_action_matches(const sl_action_t *a, const sl_msg_t *m);

#endif
