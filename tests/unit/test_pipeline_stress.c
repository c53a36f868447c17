/*
 * Pipeline stress: routing and actions together, as the daemon runs them, without sockets.
 *
 * Six producer threads play input threads: each owns a router (sl_router_init) and routes
 * batches of new messages with sl_router_route, four in block mode (stream inputs: flow control)
 * and two in drop mode (datagram inputs). Six actions take them, with more threads than cores:
 *   plain   memory queue of 64, 2 workers, no filter;
 *   where   memory queue of 128, 2 workers, a `where` that passes everything (a regex when PCRE2
 *           is built), so every worker-side message also went through the filter path;
 *   flaky   memory queue of 64, 2 workers, an output that asks for a retry once for some messages
 *           and fails others: suspensions, backoff and the failed counter;
 *   select  memory queue of 256, 2 workers, select "*.*";
 *   direct  direct queue: the producers deliver it themselves, one at a time under its lock;
 *   some    memory queue of 64, 2 workers, `severity <= 3` and stop: about half the messages.
 * A message therefore gets 5 or 6 owners, taken with one sl_msg_ref_n, and the last of up to
 * seven threads frees it. The output is a counting sl_output_ops_t: for each message it checks
 * the content and the reference count and marks (producer, sequence) in a per-action table with
 * an atomic exchange, so a duplicate is seen at once.
 *
 * What is checked:
 * - every message arrives at every action whose filters match it exactly once (block-mode
 *   producers), at most once (drop-mode producers), and nowhere else;
 * - per action the final counters are exact: enqueued is what was routed to it, delivered and
 *   failed are what the output accepted and refused, queue-full discards are exactly what the
 *   drop-mode producers lost, suspensions are exactly the retries the output asked for;
 * - a monitor thread takes snapshots of every action all the time (while also asking the actions
 *   to reopen, as SIGHUP does) and checks enqueued == delivered + failed + discarded + queued and
 *   that no counter goes backwards;
 * - every message is freed exactly once: AddressSanitizer and LeakSanitizer, and in debug builds
 *   the poisoned reference count, catch the rest; ThreadSanitizer the data races.
 * The second test stops the actions while the producers are still routing, so the shutdown
 * paths (close, drain, a worker giving up in its backoff) race with routing too.
 *
 * SL_STRESS_MESSAGES sets the messages per producer (default 20000). Threads never call cmocka's
 * asserts (they are not thread-safe): they count errors and keep the first message, which the
 * main thread reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sl_config.h"
#include "core/action.h"
#include "core/engine.h"
#include "rules/selector.h"
#include "rules/where.h"

#define NP           6
#define NP_BLOCK     4 /* producers 0..3 block, 4..5 drop */
#define MAX_BATCH    64
#define DEFAULT_MSGS 20000
#define MAX_MSGS     10000000

enum { A_PLAIN, A_WHERE, A_FLAKY, A_SELECT, A_DIRECT, A_SOME, NA };

static const char *const action_names[NA] = {"plain", "where", "flaky", "select", "direct", "some"};

/* What the flaky output does: a retry, once, for seq % RETRY_MOD == RETRY_REM, and a failure for
 * seq % FAIL_MOD == FAIL_REM (after its retry when both hold). */
#define RETRY_MOD 89
#define RETRY_REM 3
#define FAIL_MOD  97
#define FAIL_REM  5

/* seen[] values: what became of a message at an action. */
#define SEEN_DELIVERED 1
#define SEEN_FAILED    2

static uint32_t nmsgs; /* per producer */
static sl_action_t *actions[NA];
static sl_engine_t engine;
static _Atomic uint8_t *seen;    /* [NA][NP][nmsgs] */
static _Atomic uint8_t *retried; /* [NP][nmsgs], flaky action only */
static atomic_ullong retries_asked;
static atomic_uint errors;
static pthread_mutex_t first_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];
static atomic_int stop_monitor, stop_producers;
static atomic_ullong snapshots, reopens_asked;
static atomic_uint next_seed;

/* Written by producer p only, read after it is joined. */
static uint64_t sent[NP];
static uint64_t routed_to[NP][NA]; /* messages whose filters match action a */
static uint64_t refused[NP];       /* what sl_router_route reported refused */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    if (atomic_fetch_add(&errors, 1) != 0)
        return;
    pthread_mutex_lock(&first_error_lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_error, sizeof(first_error), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&first_error_lock);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static _Atomic uint8_t *seen_at(unsigned a, unsigned p, uint32_t seq)
{
    return &seen[((size_t)a * NP + p) * nmsgs + seq];
}

/* The PRI a message gets: spread over every facility and severity. */
static unsigned pri_of(unsigned p, uint32_t seq)
{
    return (p * 7u + seq) % SL_NPRI;
}

/* Whether action a should take a message of this PRI (the test's own reading of the filters). */
static bool wanted(unsigned a, unsigned pri)
{
    return a != A_SOME || (pri & 7u) <= 3;
}

/* ---- The counting output -------------------------------------------------------------- */

typedef struct out_inst {
    unsigned action;
    uint32_t rng;
    uint64_t reopens; /* touched by the owning worker (direct: under the action's lock) */
} out_inst_t;

static int out_create(const void *arg, void **inst, char *err, size_t errlen)
{
    out_inst_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    o->action = *(const unsigned *)arg;
    o->rng = 0x9e3779b9u * (atomic_fetch_add(&next_seed, 1) + 1);
    *inst = o;
    return 0;
}

/* Checks a delivered message; returns its producer (NP when it is not one of ours). */
static unsigned check_message(unsigned a, const sl_msg_t *m, uint32_t *seq_out)
{
    int32_t p = m->sender_pid, seq = m->sender_uid;
    uint32_t refs = sl_msg_refcount(m);
    if (refs == 0 || refs > NA) {
        report("%s: message with reference count %u", action_names[a], refs);
        return NP;
    }
    if (p < 0 || p >= NP || seq < 0 || (uint32_t)seq >= nmsgs) {
        report("%s: message from producer %d sequence %d", action_names[a], (int)p, (int)seq);
        return NP;
    }
    char want[48];
    int len = snprintf(want, sizeof(want), "p%d s%d", (int)p, (int)seq);
    if (m->raw_len != (uint32_t)len || memcmp(m->buf, want, (size_t)len) != 0 ||
        m->pri != pri_of((unsigned)p, (uint32_t)seq))
        report("%s: message p%d s%d has the wrong content", action_names[a], (int)p, (int)seq);
    if (!wanted(a, m->pri))
        report("%s: p%d s%d should not have reached it", action_names[a], (int)p, (int)seq);
    *seq_out = (uint32_t)seq;
    return (unsigned)p;
}

static void mark(unsigned a, unsigned p, uint32_t seq, uint8_t what)
{
    uint8_t was = atomic_exchange_explicit(seen_at(a, p, seq), what, memory_order_relaxed);
    if (was != 0)
        report("%s: p%u s%u arrived twice", action_names[a], p, seq);
}

static sl_out_status_t out_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    out_inst_t *o = inst;
    unsigned a = o->action;
    for (size_t i = 0; i < n; i++) {
        uint32_t seq = 0;
        unsigned p = check_message(a, msgs[i], &seq);
        if (p == NP)
            continue; /* reported; counted as delivered so the run can finish */
        if (a == A_FLAKY) {
            _Atomic uint8_t *r = &retried[(size_t)p * nmsgs + seq];
            if (seq % RETRY_MOD == RETRY_REM && atomic_exchange(r, 1) == 0) {
                atomic_fetch_add(&retries_asked, 1);
                *done = i;
                return SL_OUT_RETRY;
            }
            if (seq % FAIL_MOD == FAIL_REM) {
                mark(a, p, seq, SEEN_FAILED);
                *done = i;
                return SL_OUT_FAIL;
            }
        }
        mark(a, p, seq, SEEN_DELIVERED);
    }
    *done = n;
    return SL_OUT_OK;
}

static sl_out_status_t out_flush(void *inst)
{
    (void)inst;
    return SL_OUT_OK;
}

static void out_reopen(void *inst)
{
    out_inst_t *o = inst;
    o->reopens++;
}

static void out_destroy(void *inst)
{
    free(inst);
}

static const sl_output_ops_t counting_ops = {
    .type = "counting",
    .deliver = out_deliver,
    .flush = out_flush,
    .reopen = out_reopen,
    .destroy = out_destroy,
};

/* ---- Setup ---------------------------------------------------------------------------- */

static const unsigned action_ids[NA] = {A_PLAIN, A_WHERE, A_FLAKY, A_SELECT, A_DIRECT, A_SOME};

static void make_action(unsigned a)
{
    static const size_t queue_size[NA] = {64, 128, 64, 256, 0, 64};
    static const size_t batch[NA] = {16, 32, 8, 64, 0, 16};
    sl_action_conf_t conf = {
        .name = action_names[a],
        .ops = &counting_ops,
        .create = out_create,
        .create_arg = &action_ids[a],
        .queue_type = a == A_DIRECT ? SL_QT_DIRECT : SL_QT_MEMORY,
        .queue_size = queue_size[a],
        .batch_size = batch[a],
        .workers = 2,
        .flush_interval_ms = 5,
        .retry_min_ms = 1,
        .retry_max_ms = 2,
    };
    char err[256] = "";
    int rc = sl_action_create(&actions[a], &conf, err, sizeof(err));
    if (rc < 0)
        fail_msg("action %s: %s", action_names[a], err);
    sl_action_t *act = actions[a];
    sl_rule_err_t rerr;
    const char *where = NULL;
    if (a == A_WHERE)
        where = SL_HAVE_PCRE2 ? "hostname == \"h\" and msg =~ \"^p[0-9]+ s[0-9]+$\""
                              : "hostname == \"h\" and msg startswith \"p\"";
    else if (a == A_SOME)
        where = "severity <= 3";
    if (where && sl_where_compile(where, &act->where, &rerr) < 0)
        fail_msg("where %s: %s", where, rerr.msg);
    if (a == A_SELECT) {
        act->has_select = true;
        assert_int_equal(sl_selector_compile("*.*", &act->select, &rerr), 0);
    }
    act->stop = a == A_SOME;
    assert_int_equal(sl_action_start(act), 0);
}

static void setup_run(void)
{
    const char *env = getenv("SL_STRESS_MESSAGES");
    nmsgs = DEFAULT_MSGS;
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        nmsgs = v < 1 ? 1 : v > MAX_MSGS ? MAX_MSGS : (uint32_t)v;
    }
    seen = calloc((size_t)NA * NP * nmsgs, sizeof(*seen));
    retried = calloc((size_t)NP * nmsgs, sizeof(*retried));
    assert_non_null(seen);
    assert_non_null(retried);
    atomic_store(&errors, 0);
    first_error[0] = '\0';
    atomic_store(&stop_monitor, 0);
    atomic_store(&stop_producers, 0);
    atomic_store(&snapshots, 0);
    atomic_store(&reopens_asked, 0);
    atomic_store(&retries_asked, 0);
    memset(sent, 0, sizeof(sent));
    memset(routed_to, 0, sizeof(routed_to));
    memset(refused, 0, sizeof(refused));
    for (unsigned a = 0; a < NA; a++)
        make_action(a);
    engine.actions = actions;
    engine.nactions = NA;
    atomic_init(&engine.unmatched, 0);
}

/* ---- Threads -------------------------------------------------------------------------- */

struct producer {
    pthread_t thread;
    unsigned id;
};

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    unsigned p = pr->id;
    sl_queue_mode_t mode = p < NP_BLOCK ? SL_QUEUE_BLOCK : SL_QUEUE_DROP;
    uint32_t rng = 0x85ebca6bu * (p + 1);
    sl_router_t router;
    if (sl_router_init(&router, &engine, MAX_BATCH) < 0) {
        report("producer %u: out of memory", p);
        return NULL;
    }
    sl_msg_t *batch[MAX_BATCH];
    uint32_t seq = 0;
    while (seq < nmsgs && !atomic_load_explicit(&stop_producers, memory_order_relaxed)) {
        size_t n = 1 + rnd(&rng) % MAX_BATCH;
        if (n > nmsgs - seq)
            n = nmsgs - seq;
        for (size_t i = 0; i < n; i++) {
            uint32_t s = seq + (uint32_t)i;
            char raw[48];
            int len = snprintf(raw, sizeof(raw), "p%u s%u", p, s);
            sl_msg_t *m = sl_msg_new(raw, (size_t)len, "h", "stress");
            if (!m) {
                report("producer %u: out of memory", p);
                sl_router_free(&router);
                return NULL;
            }
            m->pri = (uint8_t)pri_of(p, s);
            m->sender_pid = (int32_t)p;
            m->sender_uid = (int32_t)s;
            sl_msg_set(m, SL_F_MSG, m->buf, m->raw_len);
            m->f[SL_F_HOSTNAME] = m->f[SL_F_FROMHOST];
            for (unsigned a = 0; a < NA; a++)
                routed_to[p][a] += wanted(a, m->pri);
            batch[i] = m;
        }
        seq += (uint32_t)n;
        size_t r = sl_router_route(&router, batch, n, mode);
        if (mode == SL_QUEUE_BLOCK && r != 0)
            report("producer %u: %zu refused in block mode", p, r);
        refused[p] += r;
    }
    sent[p] = seq;
    sl_router_free(&router);
    return NULL;
}

static void *monitor_main(void *arg)
{
    (void)arg;
    sl_action_stats_t prev[NA];
    memset(prev, 0, sizeof(prev));
    uint32_t rng = 0xc2b2ae35u;
    while (!atomic_load(&stop_monitor)) {
        for (unsigned a = 0; a < NA; a++) {
            sl_action_stats_t st;
            sl_action_stats(actions[a], &st);
            const sl_queue_stats_t *q = &st.q, *pq = &prev[a].q;
            if (q->enqueued != q->delivered + q->failed + q->discarded + q->queued)
                report("%s: enqueued %llu != delivered %llu + failed %llu + discarded %llu + "
                       "queued %llu",
                       action_names[a], (unsigned long long)q->enqueued,
                       (unsigned long long)q->delivered, (unsigned long long)q->failed,
                       (unsigned long long)q->discarded, (unsigned long long)q->queued);
            if (q->enqueued < pq->enqueued || q->delivered < pq->delivered ||
                q->failed < pq->failed || q->discarded < pq->discarded ||
                st.suspensions < prev[a].suspensions)
                report("%s: a counter went backwards", action_names[a]);
            prev[a] = st;
            atomic_fetch_add(&snapshots, 1);
        }
        /* Now and then, what SIGHUP does: every worker reopens its output. */
        if (rnd(&rng) % 64 == 0) {
            for (unsigned a = 0; a < NA; a++)
                sl_action_reopen(actions[a]);
            atomic_fetch_add(&reopens_asked, 1);
        }
        /* Snapshots as often as possible, but not at the expense of the threads under test on
         * a machine with fewer cores than threads. */
        sched_yield();
    }
    return NULL;
}

struct run {
    struct producer producers[NP];
    pthread_t monitor;
};

static void start(struct run *r)
{
    setup_run();
    assert_int_equal(pthread_create(&r->monitor, NULL, monitor_main, NULL), 0);
    for (unsigned p = 0; p < NP; p++) {
        r->producers[p].id = p;
        assert_int_equal(
            pthread_create(&r->producers[p].thread, NULL, producer_main, &r->producers[p]), 0);
    }
}

static void deadline_in(struct timespec *ts, int seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += seconds;
}

static void stop_actions(int seconds)
{
    struct timespec deadline;
    deadline_in(&deadline, seconds);
    for (unsigned a = 0; a < NA; a++)
        sl_action_stop(actions[a], &deadline);
}

/*
 * Checks the outcome of a run whose producers and actions have all stopped, then frees
 * everything. complete: the actions stopped only after every message was routed and drained.
 */
static void finish(struct run *r, bool complete)
{
    atomic_store(&stop_monitor, 1);
    pthread_join(r->monitor, NULL);
    if (atomic_load(&errors))
        fail_msg("%u errors, the first: %s", atomic_load(&errors), first_error);
    assert_true(atomic_load(&snapshots) > 0);

    uint64_t retries_expected = 0;
    for (unsigned a = 0; a < NA; a++) {
        sl_action_stats_t st;
        sl_action_stats(actions[a], &st);
        const sl_queue_stats_t *q = &st.q;
        uint64_t got[3] = {0, 0, 0}, routed = 0, lost_by_drop = 0;
        for (unsigned p = 0; p < NP; p++) {
            uint64_t arrived = 0;
            for (uint32_t s = 0; s < sent[p]; s++) {
                uint8_t v = atomic_load(seen_at(a, p, s));
                bool want = wanted(a, pri_of(p, s));
                if (v > SEEN_FAILED || (v && !want))
                    fail_msg("%s: p%u s%u marked %u", action_names[a], p, s, v);
                got[v]++;
                arrived += v != 0;
                if (a == A_FLAKY && v && s % RETRY_MOD == RETRY_REM)
                    retries_expected++;
                /* A block-mode producer's message reaches every action that wants it. */
                if (complete && want && !v && p < NP_BLOCK)
                    fail_msg("%s: p%u s%u never arrived", action_names[a], p, s);
            }
            routed += routed_to[p][a];
            if (p >= NP_BLOCK)
                lost_by_drop += routed_to[p][a] - arrived;
        }
        print_message("%-6s enqueued %llu delivered %llu failed %llu full %llu shutdown %llu "
                      "pauses %llu high %llu suspensions %llu\n",
                      action_names[a], (unsigned long long)q->enqueued,
                      (unsigned long long)q->delivered, (unsigned long long)q->failed,
                      (unsigned long long)q->discarded_by[SL_QUEUE_DISCARD_FULL],
                      (unsigned long long)q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN],
                      (unsigned long long)q->flow_control_pauses,
                      (unsigned long long)q->high_watermark, (unsigned long long)st.suspensions);
        assert_int_equal(q->queued, 0);
        assert_int_equal(q->enqueued, routed);
        assert_int_equal(q->enqueued, q->delivered + q->failed + q->discarded);
        assert_int_equal(q->delivered, got[SEEN_DELIVERED]);
        assert_int_equal(q->failed, got[SEEN_FAILED]);
        if (a != A_FLAKY)
            assert_int_equal(q->failed, 0);
        if (complete) {
            assert_int_equal(q->discarded_by[SL_QUEUE_DISCARD_FULL], lost_by_drop);
            assert_int_equal(q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 0);
        }
        if (a == A_DIRECT)
            assert_int_equal(q->discarded, 0);
        if (a == A_FLAKY)
            assert_int_equal(st.suspensions, atomic_load(&retries_asked));
    }
    /* Only messages that were offered again after their retry count as retried; in a complete
     * run that is every one that was asked for. */
    if (complete)
        assert_int_equal(retries_expected, atomic_load(&retries_asked));
    uint64_t total_refused = 0, total_sent = 0;
    for (unsigned p = 0; p < NP; p++) {
        total_refused += refused[p];
        total_sent += sent[p];
    }
    uint64_t full = 0, shutdown = 0;
    for (unsigned a = 0; a < NA; a++) {
        sl_action_stats_t st;
        sl_action_stats(actions[a], &st);
        full += st.q.discarded_by[SL_QUEUE_DISCARD_FULL];
        shutdown += st.q.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN];
    }
    /* The router reports what full queues refused (drop mode); refusals after a close show as
     * shutdown discards and are not in its count. */
    assert_int_equal(total_refused, full);
    assert_int_equal(atomic_load(&engine.unmatched), 0);
    print_message("%llu messages, %llu snapshots, %llu reopens, %llu retries, %llu shutdown "
                  "discards\n",
                  (unsigned long long)total_sent, (unsigned long long)atomic_load(&snapshots),
                  (unsigned long long)atomic_load(&reopens_asked),
                  (unsigned long long)atomic_load(&retries_asked), (unsigned long long)shutdown);

    for (unsigned a = 0; a < NA; a++) {
        sl_action_destroy(actions[a]);
        actions[a] = NULL;
    }
    free(seen);
    free(retried);
    seen = retried = NULL;
}

/* Route everything, let every action drain, then stop: every message is accounted for. */
static void test_fan_out_full_run(void **state)
{
    (void)state;
    struct run r;
    start(&r);
    for (unsigned p = 0; p < NP; p++)
        pthread_join(r.producers[p].thread, NULL);
    stop_actions(120);
    finish(&r, true);
}

/* Stop the actions while the producers are still routing into them. */
static void test_stop_under_load(void **state)
{
    (void)state;
    struct run r;
    start(&r);
    /* Wait (with a deadline) until every action is well into the run. */
    struct timespec pause = {0, 1000000}, give_up;
    deadline_in(&give_up, 60);
    for (unsigned a = 0; a < NA; a++) {
        for (;;) {
            sl_action_stats_t st;
            sl_action_stats(actions[a], &st);
            if (st.q.delivered >= nmsgs / 2)
                break;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > give_up.tv_sec)
                fail_msg("%s delivered too little within 60 s", action_names[a]);
            nanosleep(&pause, NULL);
        }
    }
    stop_actions(1);
    atomic_store(&stop_producers, 1);
    for (unsigned p = 0; p < NP; p++)
        pthread_join(r.producers[p].thread, NULL);
    finish(&r, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_full_run),
        cmocka_unit_test(test_stop_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
