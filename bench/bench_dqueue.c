/*
 * Disk queue throughput: messages per second through push and pop, for each sync policy,
 * against the memory queue.
 *
 *   bench_dqueue [-n MESSAGES] [-d DIR] [-m MEMORY_MESSAGES]
 *
 * Messages are 256-byte RFC 3164 lines made with sl_msg_new (the same cost in every case).
 * One producer pushes batches of 256 (block mode), one worker pops batches of 1024 and reports
 * them delivered, as an action's worker does. Two shapes:
 *   flow   producer and worker run together; the memory part holds MEMORY_MESSAGES (default
 *          10000), so the disk is used only when the worker falls behind (write-through for
 *          sync: batch). The rate is messages / total time.
 *   disk   memory_messages 0, so every message is written and read back: the producer runs
 *          alone first (push rate: serialise, write, sync), then the worker (pop rate: read,
 *          check, rebuild).
 *   replay the disk shape's files left at a shutdown and opened again: the time the open takes
 *          (every record's CRC is checked), in MB/s of segment files.
 * DIR (default /tmp) is where the queue files go: use the file system the daemon will use, as
 * sync costs depend on it. Best of three runs each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dqueue.h"
#include "core/queue.h"

#define PUSH_BATCH 256
#define POP_BATCH  1024

static char line[257];
static size_t nmsgs = 500000;
static size_t mem_msgs = 10000;
static const char *base = "/tmp";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct run {
    const sl_queue_ops_t *ops;
    void *q;
    size_t n;
} run_t;

static void *produce(void *arg)
{
    run_t *r = arg;
    sl_msg_t *v[PUSH_BATCH];
    for (size_t i = 0; i < r->n; i += PUSH_BATCH) {
        size_t k = r->n - i < PUSH_BATCH ? r->n - i : PUSH_BATCH;
        for (size_t j = 0; j < k; j++) {
            v[j] = sl_msg_new(line, 256, "192.0.2.1", "bench");
            if (!v[j])
                abort();
            v[j]->sender_pid = (int32_t)(i + j);
        }
        if (r->ops->push(r->q, v, k, SL_QUEUE_BLOCK) != 0)
            abort();
    }
    return NULL;
}

static void *consume(void *arg)
{
    run_t *r = arg;
    sl_msg_t **v = malloc(POP_BATCH * sizeof(*v));
    size_t got = 0;
    while (got < r->n) {
        int k = r->ops->pop(r->q, v, POP_BATCH, 1000);
        if (k == -ETIMEDOUT)
            continue;
        if (k <= 0)
            abort();
        for (int i = 0; i < k; i++) {
            if ((size_t)v[i]->sender_pid != got + (size_t)i) {
                fprintf(stderr, "out of order: %d at %zu\n", v[i]->sender_pid, got + (size_t)i);
                abort();
            }
            sl_msg_unref(v[i]);
        }
        r->ops->done(r->q, (size_t)k, 0, 0);
        got += (size_t)k;
    }
    free(v);
    return NULL;
}

static char dir[4096];

static void *open_disk(size_t mem, sl_dqueue_sync_t sync)
{
    snprintf(dir, sizeof(dir), "%s/sl_bench_dqueue_XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        exit(1);
    }
    sl_dqueue_conf_t c = {.dir = dir,
                          .memory_messages = mem,
                          .max_disk = (uint64_t)nmsgs * 400 + (64u << 20),
                          .segment_size = 16u << 20,
                          .sync = sync,
                          .sync_interval_ms = 1000};
    sl_dqueue_t *q;
    int rc = sl_dqueue_open(&q, &c);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", dir, strerror(-rc));
        exit(1);
    }
    return q;
}

static void close_disk(void *q)
{
    sl_dqueue_stats_t st;
    sl_dqueue_stats(q, &st);
    if (st.q.delivered != nmsgs || st.q.queued != 0) {
        fprintf(stderr, "accounting: delivered %llu queued %llu\n",
                (unsigned long long)st.q.delivered, (unsigned long long)st.q.queued);
        exit(1);
    }
    sl_dqueue_destroy(q);
    char p[4200];
    snprintf(p, sizeof(p), "%s/lock", dir);
    unlink(p);
    rmdir(dir);
}

/* Producer and worker together; returns messages per second. */
static double flow(int disk, sl_dqueue_sync_t sync)
{
    run_t r = {.n = nmsgs};
    if (disk) {
        r.ops = &sl_dqueue_ops;
        r.q = open_disk(mem_msgs, sync);
    } else {
        sl_queue_t *mq;
        if (sl_queue_new(&mq, mem_msgs) < 0)
            exit(1);
        r.ops = &sl_queue_memory_ops;
        r.q = mq;
    }
    pthread_t p, c;
    double t0 = now();
    pthread_create(&c, NULL, consume, &r);
    pthread_create(&p, NULL, produce, &r);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    double t = now() - t0;
    if (disk)
        close_disk(r.q);
    else
        r.ops->destroy(r.q);
    return (double)nmsgs / t;
}

/* Everything through the files: push all, then pop all. */
static void through_disk(sl_dqueue_sync_t sync, double *push_rate, double *pop_rate, double *mb)
{
    run_t r = {.n = nmsgs, .ops = &sl_dqueue_ops, .q = open_disk(0, sync)};
    double t0 = now();
    produce(&r);
    double t1 = now();
    sl_dqueue_stats_t st;
    sl_dqueue_stats(r.q, &st);
    *mb = (double)st.disk_bytes / 1e6;
    consume(&r);
    double t2 = now();
    close_disk(r.q);
    *push_rate = (double)nmsgs / (t1 - t0);
    *pop_rate = (double)nmsgs / (t2 - t1);
}

/* Fills a queue through the files, closes it, and times opening it again (the scan). */
static void replay(double *mbps, double *secs)
{
    run_t r = {.n = nmsgs, .ops = &sl_dqueue_ops, .q = open_disk(0, SL_DQUEUE_SYNC_NONE)};
    produce(&r);
    sl_dqueue_destroy(r.q);
    sl_dqueue_conf_t c = {.dir = dir, .max_disk = (uint64_t)nmsgs * 400 + (64u << 20)};
    sl_dqueue_t *q;
    double t0 = now();
    if (sl_dqueue_open(&q, &c) < 0)
        exit(1);
    *secs = now() - t0;
    sl_dqueue_stats_t st;
    sl_dqueue_stats(q, &st);
    if (st.replayed != nmsgs) {
        fprintf(stderr, "replayed %llu\n", (unsigned long long)st.replayed);
        exit(1);
    }
    *mbps = (double)st.disk_bytes / 1e6 / *secs;
    r.q = q;
    consume(&r);
    close_disk(q);
}

static const char *sync_name(sl_dqueue_sync_t s)
{
    return s == SL_DQUEUE_SYNC_BATCH ? "batch" : s == SL_DQUEUE_SYNC_INTERVAL ? "interval" : "none";
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "n:d:m:")) != -1) {
        if (opt == 'n')
            nmsgs = strtoul(optarg, NULL, 10);
        else if (opt == 'd')
            base = optarg;
        else if (opt == 'm')
            mem_msgs = strtoul(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: bench_dqueue [-n MESSAGES] [-d DIR] [-m MEMORY_MESSAGES]\n");
            return 2;
        }
    }
    if (nmsgs == 0 || mem_msgs == 0)
        return 2;
    int n = snprintf(line, sizeof(line),
                     "<38>Nov 22 04:56:13 localhost prg00001[1234]: seq: 0000000001, thread: "
                     "0001, runid: 1795323373, stamp: 2026-11-22T04:56:13 ");
    for (; n < 256; n++)
        line[n] = "PADD"[n % 4];
    line[256] = '\0';

    printf("%zu messages of 256 bytes, push batches of %d, pop batches of %d, files in %s\n", nmsgs,
           PUSH_BATCH, POP_BATCH, base);
    printf("\nflow: producer and worker together, memory part %zu messages\n", mem_msgs);
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double r = flow(0, SL_DQUEUE_SYNC_NONE);
        best = r > best ? r : best;
    }
    printf("  %-22s %12.0f msg/s\n", "memory queue", best);
    static const sl_dqueue_sync_t syncs[] = {SL_DQUEUE_SYNC_NONE, SL_DQUEUE_SYNC_INTERVAL,
                                             SL_DQUEUE_SYNC_BATCH};
    for (int s = 0; s < 3; s++) {
        best = 0;
        for (int i = 0; i < 3; i++) {
            double r = flow(1, syncs[s]);
            best = r > best ? r : best;
        }
        char label[64];
        snprintf(label, sizeof(label), "disk, sync %s", sync_name(syncs[s]));
        printf("  %-22s %12.0f msg/s\n", label, best);
    }
    printf("\ndisk: memory_messages 0, every message written, then read back\n");
    for (int s = 0; s < 3; s++) {
        double bp = 0, bq = 0, mb = 0;
        for (int i = 0; i < 3; i++) {
            double p, q;
            through_disk(syncs[s], &p, &q, &mb);
            bp = p > bp ? p : bp;
            bq = q > bq ? q : bq;
        }
        printf("  sync %-9s push %10.0f msg/s (%6.1f MB/s)   pop %10.0f msg/s\n",
               sync_name(syncs[s]), bp, bp * mb / (double)nmsgs, bq);
    }
    double bm = 0, bs = 0;
    for (int i = 0; i < 3; i++) {
        double m, t;
        replay(&m, &t);
        if (m > bm) {
            bm = m;
            bs = t;
        }
    }
    printf(
        "\nreplay: opening the files of %zu messages takes %.3f s (%.0f MB/s, page cache warm)\n",
        nmsgs, bs, bm);
    return 0;
}
