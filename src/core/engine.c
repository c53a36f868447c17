/*
 * Routing; the contract and the concurrency rules are in engine.h.
 */
#include "core/engine.h"

#include <errno.h>
#include <stdlib.h>

#include "lib/stress.h"

int sl_router_init(sl_router_t *r, sl_engine_t *e, size_t max)
{
    r->engine = e;
    r->max = max;
    r->scratch = calloc(e->nactions ? e->nactions * max : 1, sizeof(*r->scratch));
    r->count = calloc(e->nactions ? e->nactions : 1, sizeof(*r->count));
    if (!r->scratch || !r->count) {
        sl_router_free(r);
        return -ENOMEM;
    }
    return 0;
}

void sl_router_free(sl_router_t *r)
{
    free(r->scratch);
    free(r->count);
    r->scratch = NULL;
    r->count = NULL;
}

int sl_action_matches(const sl_action_t *a, const sl_msg_t *m)
{
    if (a->has_select && !sl_selector_match(&a->select, m->pri))
        return 0;
    if (a->where && !sl_where_match(a->where, m))
        return 0;
    return 1;
}

size_t sl_router_route(sl_router_t *r, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode)
{
    sl_engine_t *e = r->engine;
    size_t na = e->nactions, refused = 0;
    uint64_t unmatched = 0;
    for (size_t a = 0; a < na; a++)
        r->count[a] = 0;
    for (size_t i = 0; i < n; i++) {
        sl_msg_t *m = msgs[i];
        uint32_t k = 0;
        for (size_t a = 0; a < na; a++) {
            const sl_action_t *act = e->actions[a];
            if (!sl_action_matches(act, m))
                continue;
            r->scratch[a * r->max + r->count[a]++] = m;
            k++;
            if (act->stop)
                break;
        }
        if (k == 0) {
            unmatched++;
            sl_msg_unref(m);
        } else if (k > 1) {
            /* One atomic add for the whole fan-out; the caller's reference is the k-th. */
            sl_msg_ref_n(m, k - 1);
        }
    }
    if (unmatched)
        atomic_fetch_add_explicit(&e->unmatched, unmatched, memory_order_relaxed);
    for (size_t a = 0; a < na; a++) {
        if (r->count[a] == 0)
            continue;
        SL_STRESS_POINT();
        int rc = sl_action_push(e->actions[a], r->scratch + a * r->max, r->count[a], mode);
        if (rc > 0)
            refused += (size_t)rc;
    }
    return refused;
}
