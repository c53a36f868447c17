/*
 * Parse and format microbenchmark: messages per second on one core.
 *
 *   bench_parse [-n MESSAGES] [-t TEMPLATE] [-c rfc3164|rfc5424]
 *   bench_parse -w [-t TEMPLATE]
 *
 * Cases: 256-byte RFC 3164 and RFC 5424 (with structured data) lines of exactly the shape
 * bench/suite.sh sends in its TCP cases, so that instruction counts here stand for the
 * daemon's input thread. For each it reports parse only, and parse plus format with the
 * template (default traditional), best of three runs. Lines are pre-built and varied (sequence
 * numbers) so nothing is cached between messages. -c runs one case only (for callgrind).
 *
 * -w is the action worker's side alone: 200,000 parsed RFC 3164 messages (100 MiB, beyond the
 * caches, as a full queue of the suite's TCP -> file case holds them), formatted in order in
 * batches of 1,024 the way the file output does, with and without sl_msg_prefetch_batch
 * (alternating, best of five each), first in address order, then shuffled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/msg.h"
#include "core/template.h"
#include "lib/strbuf.h"
#include "parsers/parse.h"

#define VARIANTS 1024

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_lines(int rfc5424, size_t *lens)
{
    char *lines = malloc((size_t)VARIANTS * 512);
    for (int i = 0; i < VARIANTS; i++) {
        char *l = lines + (size_t)i * 512;
        int n;
        if (rfc5424)
            n = snprintf(l, 512,
                         "<38>1 2026-11-22T04:56:13.123456+01:00 localhost prg%05d 1234 ID47 "
                         "[exampleSDID@32473 iut=\"3\" eventSource=\"App\" "
                         "eventID=\"1011\"][meta seq=\"%d\"] seq: %010d, thread: 0001, ",
                         i % 4, i, i);
        else
            n = snprintf(l, 512,
                         "<38>Nov 22 04:56:13 localhost prg%05d[1234]: seq: %010d, thread: "
                         "0001, runid: 1795323373, stamp: 2026-11-22T04:56:13 ",
                         i % 4, i);
        for (; n < 255; n++)
            l[n] = "PADD"[n % 4];
        l[n] = '\0';
        lens[i] = (size_t)n;
    }
    return lines;
}

static double run(const char *lines, const size_t *lens, long n, const sl_template_t *t)
{
    sl_parse_ctx_t ctx = {.fromhost = "127.0.0.1", .input = "bench"};
    sl_strbuf_t out = SL_STRBUF_INIT;
    sl_ts_from_epoch_local(&ctx.received, time(NULL), 0);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        int v = (int)(i % VARIANTS);
        sl_msg_t *m = sl_parse(lines + (size_t)v * 512, lens[v], &ctx);
        if (t) {
            sl_template_format(t, m, &out);
            if (out.len > 60000)
                sl_strbuf_reset(&out);
        }
        sl_msg_unref(m);
    }
    double dt = now() - t0;
    sl_strbuf_free(&out);
    return (double)n / dt;
}

#define WORKER_MSGS  200000
#define WORKER_BATCH 1024

static double run_worker(sl_msg_t **msgs, const sl_template_t *t, int prefetch)
{
    sl_strbuf_t out = SL_STRBUF_INIT;
    double t0 = now();
    for (size_t b = 0; b < WORKER_MSGS; b += WORKER_BATCH) {
        size_t n = WORKER_MSGS - b < WORKER_BATCH ? WORKER_MSGS - b : WORKER_BATCH;
        sl_msg_t **batch = msgs + b;
        for (size_t i = 0; i < n; i++) {
            if (prefetch)
                sl_msg_prefetch_batch(batch, i, n);
            sl_template_format(t, batch[i], &out);
            if (out.len > 256 * 1024)
                sl_strbuf_reset(&out);
        }
    }
    double dt = now() - t0;
    sl_strbuf_free(&out);
    return WORKER_MSGS / dt;
}

static int worker_case(const sl_template_t *t, const char *tname)
{
    size_t lens[VARIANTS];
    char *lines = make_lines(0, lens);
    sl_parse_ctx_t ctx = {.fromhost = "127.0.0.1", .input = "bench"};
    sl_ts_from_epoch_local(&ctx.received, time(NULL), 0);
    sl_msg_t **msgs = malloc(WORKER_MSGS * sizeof(*msgs));
    /* Each message with a 256-byte gap after it, so that they lie about as far apart as the
     * daemon's (header, text, fromhost, input and the allocator's own bytes). */
    void **gaps = malloc(WORKER_MSGS * sizeof(*gaps));
    for (size_t i = 0; i < WORKER_MSGS; i++) {
        msgs[i] = sl_parse(lines + (i % VARIANTS) * 512, lens[i % VARIANTS], &ctx);
        gaps[i] = malloc(256);
    }
    /* First in address order (the allocator's sequence, which the hardware prefetcher follows
     * by itself), then shuffled: in the daemon the blocks come back through the message pool,
     * not in address order. */
    for (int order = 0; order < 2; order++) {
        if (order == 1) {
            srand(1);
            for (size_t i = WORKER_MSGS - 1; i > 0; i--) {
                size_t j = (size_t)rand() % (i + 1);
                sl_msg_t *x = msgs[i];
                msgs[i] = msgs[j];
                msgs[j] = x;
            }
        }
        double best[2] = {0, 0};
        for (int r = 0; r < 5; r++) {
            for (int p = 0; p < 2; p++) {
                double v = run_worker(msgs, t, p);
                if (v > best[p])
                    best[p] = v;
            }
        }
        printf("worker %s, %d messages, %-13s %10.0f msg/s without prefetch, %10.0f with "
               "(%.2fx)\n",
               tname, WORKER_MSGS, order ? "shuffled:" : "address order:", best[0], best[1],
               best[1] / best[0]);
    }
    for (size_t i = 0; i < WORKER_MSGS; i++) {
        sl_msg_unref(msgs[i]);
        free(gaps[i]);
    }
    free(gaps);
    free(msgs);
    free(lines);
    return 0;
}

int main(int argc, char **argv)
{
    long n = 2000000;
    const char *tname = "traditional";
    int opt;
    int only = -1, worker = 0;
    while ((opt = getopt(argc, argv, "n:t:c:w")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 't')
            tname = optarg;
        else if (opt == 'w')
            worker = 1;
        else if (opt == 'c' && (!strcmp(optarg, "rfc3164") || !strcmp(optarg, "rfc5424")))
            only = optarg[3] == '5';
        else {
            fprintf(stderr,
                    "usage: bench_parse [-n MESSAGES] [-t TEMPLATE] [-c rfc3164|rfc5424] | -w\n");
            return 2;
        }
    }
    char err[256];
    sl_template_t *t;
    if (sl_template_compile(tname, &t, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_parse: template %s: %s\n", tname, err);
        return 2;
    }
    if (worker) {
        int rc = worker_case(t, tname);
        sl_template_free(t);
        return rc;
    }
    static const char *names[2] = {"rfc3164-256B", "rfc5424-sd"};
    double best[2][2] = {{0}};
    for (int c = 0; c < 2; c++) {
        size_t lens[VARIANTS];
        if (only >= 0 && c != only)
            continue;
        char *lines = make_lines(c, lens);
        for (int r = 0; r < 3; r++) {
            double p = run(lines, lens, n, NULL), f = run(lines, lens, n, t);
            if (p > best[c][0])
                best[c][0] = p;
            if (f > best[c][1])
                best[c][1] = f;
        }
        free(lines);
        printf("%-14s parse %10.0f msg/s   parse+%s %10.0f msg/s\n", names[c], best[c][0], tname,
               best[c][1]);
    }
    if (only < 0)
        printf("rfc5424/rfc3164 ratio: parse %.2f, parse+format %.2f\n", best[1][0] / best[0][0],
               best[1][1] / best[0][1]);
    sl_template_free(t);
    return 0;
}
