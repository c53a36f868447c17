/*
 * Starting, stopping and reporting on a runtime; see runtime.h. Order matters: actions start
 * before inputs (nothing is routed to a queue without workers) and stop after them (every
 * message an input parsed reaches a queue, and queues drain before workers go). An input stuck
 * in a direct delivery past the deadline is freed by a watchdog (below).
 */
#include "core/runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/strbuf.h"

int sl_runtime_bind(sl_runtime_t *rt, FILE *err)
{
    for (size_t i = 0; i < rt->ninputs; i++) {
        sl_input_t *in = rt->inputs[i];
        char msg[256] = "";
        if (in->bound)
            continue; /* handed over by a reload, sockets and all */
        int rc = in->ops->bind(in, msg, sizeof(msg));
        in->bound = rc == 0;
        if (rc < 0) {
            fprintf(err, "input %s: %s\n", in->name, msg[0] ? msg : strerror(-rc));
            return rc;
        }
    }
    return 0;
}

int sl_runtime_start(sl_runtime_t *rt, FILE *err)
{
    for (size_t i = 0; i < rt->engine.nactions; i++) {
        int rc = sl_action_start(rt->engine.actions[i]);
        if (rc < 0) {
            fprintf(err, "action %s: cannot start: %s\n", rt->engine.actions[i]->name,
                    strerror(-rc));
            return rc;
        }
    }
    for (size_t i = 0; i < rt->ninputs; i++) {
        int rc = rt->inputs[i]->ops->start(rt->inputs[i]);
        if (rc < 0) {
            fprintf(err, "input %s: cannot start: %s\n", rt->inputs[i]->name, strerror(-rc));
            return rc;
        }
    }
    rt->started = true;
    return 0;
}

/*
 * Direct actions are delivered by the input threads themselves, so an input stuck in a
 * delivery to a peer that stopped reading cannot be stopped (joined) until that delivery
 * returns: stopping inputs would wait past any deadline. While the inputs stop, a watchdog
 * thread waits for the deadline; if it comes first, it aborts every direct action (no more
 * retries, the blocked delivery cancelled), which lets the inputs return.
 * Shared: `done` under `lock` (the stopping thread sets it, the watchdog reads it).
 */
typedef struct stop_watchdog {
    sl_runtime_t *rt;
    const struct timespec *deadline;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool running;
    pthread_t thread;
} stop_watchdog_t;

static void *watchdog_main(void *p)
{
    stop_watchdog_t *w = p;
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cond, &w->lock, w->deadline);
    bool late = !w->done;
    pthread_mutex_unlock(&w->lock);
    if (late) {
        for (size_t i = 0; i < w->rt->engine.nactions; i++)
            sl_action_abort_direct(w->rt->engine.actions[i]);
    }
    return NULL;
}

static void watchdog_start(stop_watchdog_t *w, sl_runtime_t *rt, const struct timespec *deadline)
{
    w->running = false;
    bool any = false;
    for (size_t i = 0; i < rt->engine.nactions; i++)
        any |= rt->engine.actions[i]->conf.queue_type == SL_QT_DIRECT;
    if (!any || !deadline)
        return;
    w->rt = rt;
    w->deadline = deadline;
    w->done = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the daemon's deadlines are monotonic */
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->lock, NULL);
    w->running = pthread_create(&w->thread, NULL, watchdog_main, w) == 0;
    if (!w->running) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
    }
}

static void watchdog_end(stop_watchdog_t *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    w->running = false;
}

void sl_runtime_stop(sl_runtime_t *rt, const struct timespec *deadline)
{
    stop_watchdog_t w;
    watchdog_start(&w, rt, deadline);
    for (size_t i = 0; i < rt->ninputs; i++)
        rt->inputs[i]->ops->stop(rt->inputs[i]);
    watchdog_end(&w);
    for (size_t i = 0; i < rt->engine.nactions; i++)
        sl_action_stop(rt->engine.actions[i], deadline);
    rt->started = false;
}

static sl_input_t *find_twin(sl_runtime_t *rt, const sl_input_t *in)
{
    for (size_t i = 0; i < rt->ninputs; i++) {
        if (strcmp(rt->inputs[i]->identity, in->identity) == 0)
            return rt->inputs[i];
    }
    return NULL;
}

void sl_runtime_handover(sl_runtime_t *cur, sl_runtime_t *next, const struct timespec *deadline)
{
    stop_watchdog_t w;
    watchdog_start(&w, cur, deadline);
    for (size_t i = 0; i < cur->ninputs; i++) {
        sl_input_t *in = cur->inputs[i];
        if (find_twin(next, in))
            in->ops->pause(in);
        else
            in->ops->stop(in);
    }
    watchdog_end(&w);
    for (size_t i = 0; i < cur->engine.nactions; i++)
        sl_action_stop(cur->engine.actions[i], deadline);
    cur->started = false;
    /* Swap each kept input with its unbound twin: the running one moves to the new runtime
     * (routing into its engine from now on), the twin is freed with the old runtime. */
    for (size_t i = 0; i < next->ninputs; i++) {
        for (size_t j = 0; j < cur->ninputs; j++) {
            sl_input_t *old = cur->inputs[j];
            if (!old->bound || strcmp(old->identity, next->inputs[i]->identity) != 0)
                continue;
            cur->inputs[j] = next->inputs[i];
            next->inputs[i] = old;
            old->engine = &next->engine;
            break;
        }
    }
}

void sl_runtime_reopen(sl_runtime_t *rt)
{
    for (size_t i = 0; i < rt->engine.nactions; i++)
        sl_action_reopen(rt->engine.actions[i]);
}

void sl_runtime_free(sl_runtime_t *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->ninputs; i++) {
        sl_input_t *in = rt->inputs[i];
        if (in->ops && in->ops->destroy)
            in->ops->destroy(in);
        free(in->name);
        free(in->identity);
        free(in);
    }
    free(rt->inputs);
    for (size_t i = 0; i < rt->engine.nactions; i++) {
        sl_action_destroy(rt->engine.actions[i]);
        if (rt->output_conf_free && rt->output_conf_free[i])
            rt->output_conf_free[i](rt->output_confs[i]);
    }
    free(rt->engine.actions);
    free(rt->output_confs);
    free(rt->output_conf_free);
    for (size_t i = 0; i < rt->ntemplates; i++)
        sl_template_free(rt->templates[i]);
    free(rt->templates);
    free(rt->work_dir);
    free(rt->pidfile);
    free(rt->control_socket);
    free(rt->user);
    free(rt->group);
    free(rt);
}

#define LOAD(x) ((uint64_t)atomic_load_explicit(&(x), memory_order_relaxed))

/* A name from the configuration as a JSON string: names are free text. */
static void put_json_name(FILE *f, const char *name)
{
    sl_strbuf_t b = SL_STRBUF_INIT;
    if (sl_json_string(&b, name, strlen(name)) == 0)
        fwrite(b.data, 1, b.len, f);
    else
        fputs("\"\"", f);
    sl_strbuf_free(&b);
}

void sl_runtime_stats_json(sl_runtime_t *rt, FILE *f)
{
    fprintf(f, "{\"unmatched\":%" PRIu64 ",\"inputs\":[", LOAD(rt->engine.unmatched));
    for (size_t i = 0; i < rt->ninputs; i++) {
        sl_input_t *in = rt->inputs[i];
        sl_input_stats_t *s = &in->stats;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        put_json_name(f, in->name);
        fprintf(f,
                ",\"type\":\"%s\",\"received\":%" PRIu64 ",\"malformed\":%" PRIu64
                ",\"truncated\":%" PRIu64 ",\"incomplete\":%" PRIu64
                ",\"dropped\":{\"queue_full\":%" PRIu64 ",\"kernel\":%" PRIu64
                ",\"no_memory\":%" PRIu64 "},\"connections\":%" PRIu64
                ",\"connections_refused\":%" PRIu64 ",\"open_connections\":%" PRIu64
                ",\"wrong_protocol\":%" PRIu64 ",\"handshake_failed\":%" PRIu64 "}",
                in->ops->type, LOAD(s->received), LOAD(s->malformed), LOAD(s->truncated),
                LOAD(s->incomplete), LOAD(s->dropped_queue_full), LOAD(s->dropped_kernel),
                LOAD(s->dropped_no_memory), LOAD(s->connections), LOAD(s->connections_refused),
                LOAD(s->open_connections), LOAD(s->wrong_protocol), LOAD(s->handshake_failed));
    }
    fprintf(f, "],\"actions\":[");
    for (size_t i = 0; i < rt->engine.nactions; i++) {
        sl_action_t *a = rt->engine.actions[i];
        sl_action_stats_t st;
        sl_action_stats(a, &st);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        put_json_name(f, a->name);
        fprintf(f,
                ",\"type\":\"%s\",\"enqueued\":%" PRIu64 ",\"delivered\":%" PRIu64
                ",\"failed\":%" PRIu64 ",\"discarded\":%" PRIu64
                ",\"discarded_by\":{\"queue_full\":%" PRIu64 ",\"shutdown\":%" PRIu64
                "},\"queued\":%" PRIu64 ",\"flow_control_pauses\":%" PRIu64
                ",\"high_watermark\":%" PRIu64 ",\"suspensions\":%" PRIu64 ",\"suspended\":%s}",
                a->conf.ops->type, st.q.enqueued, st.q.delivered, st.q.failed, st.q.discarded,
                st.q.discarded_by[SL_QUEUE_DISCARD_FULL],
                st.q.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], st.q.queued, st.q.flow_control_pauses,
                st.q.high_watermark, st.suspensions, st.suspended ? "true" : "false");
    }
    fprintf(f, "]}\n");
}

void sl_runtime_stats_line(sl_runtime_t *rt, FILE *f)
{
    fprintf(f, "stats:");
    for (size_t i = 0; i < rt->ninputs; i++) {
        sl_input_stats_t *s = &rt->inputs[i]->stats;
        fprintf(f, " input %s received=%" PRIu64 " malformed=%" PRIu64 " dropped=%" PRIu64 ";",
                rt->inputs[i]->name, LOAD(s->received), LOAD(s->malformed),
                LOAD(s->dropped_queue_full) + LOAD(s->dropped_kernel) + LOAD(s->dropped_no_memory));
    }
    for (size_t i = 0; i < rt->engine.nactions; i++) {
        sl_action_stats_t st;
        sl_action_stats(rt->engine.actions[i], &st);
        fprintf(f,
                " action %s enqueued=%" PRIu64 " delivered=%" PRIu64 " failed=%" PRIu64
                " discarded=%" PRIu64 " queued=%" PRIu64 ";",
                rt->engine.actions[i]->name, st.q.enqueued, st.q.delivered, st.q.failed,
                st.q.discarded, st.q.queued);
    }
    fprintf(f, "\n");
}
