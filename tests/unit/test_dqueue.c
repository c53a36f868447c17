/*
 * Disk-assisted queue (core/dqueue.h) and CRC-32C (lib/crc32c.h).
 *
 * Each test works in its own fresh directory under /tmp and removes it. Messages come from
 * sl_parse (RFC 3164 and RFC 5424 lines, with fromhost, input, reception time, flags) and carry
 * their sequence number in sender_pid and in the text, so a test can check order, and compare a
 * message read back from disk field by field with the one that was pushed.
 *
 * What is covered: the CRC against known vectors (hardware and table versions agree); the
 * record round trip memory -> disk -> memory keeping order and every field, for each sync
 * policy; persistence across close and reopen (memory written at shutdown, replayed first, and
 * batches given up by a stopping worker); a torn tail cut off; a corrupt record (payload CRC)
 * and a damaged header skipped and counted; max_disk flow control (block) and refusal (drop);
 * the segment reader fed random bytes and mutated segments; a child process killed in the
 * middle of pushing with sync: batch (everything it saw accepted is replayed, the duplicates are
 * the one batch its worker had not reported); sluicectl's inspection; the directory names; the
 * directory lock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dqueue.h"
#include "lib/crc32c.h"
#include "parsers/parse.h"

#define WAIT_LIMIT_MS 10000

static char dir[64];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/sl_dqueue_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

/* A message with sequence number seq: RFC 5424 for odd numbers, RFC 3164 for even ones, with
 * text of varying length (pad bytes) so records differ in size. */
static sl_msg_t *msg_pad(int seq, size_t pad)
{
    char raw[70000];
    int n;
    if (seq % 2)
        n = snprintf(raw, sizeof(raw),
                     "<165>1 2026-11-22T04:56:13.1234+01:00 host%d.example app %d ID47 "
                     "[ex@32473 iut=\"3\"] seq=%08d ",
                     seq % 7, seq, seq);
    else
        n = snprintf(raw, sizeof(raw), "<38>Nov  2 04:56:13 host%d prg[%d]: seq=%08d ", seq % 5,
                     seq, seq);
    for (size_t i = 0; i < pad && (size_t)n + 1 < sizeof(raw); i++)
        raw[n++] = "abcdefgh"[(seq + (int)i) % 8];
    sl_parse_ctx_t ctx = {.fromhost = seq % 3 ? "192.0.2.7" : "localhost", .input = "tcp"};
    sl_ts_from_epoch_local(&ctx.received, 1795323373 + seq, (uint32_t)seq % 1000000);
    sl_msg_t *m = sl_parse(raw, (size_t)n, &ctx);
    assert_non_null(m);
    m->sender_pid = seq;
    m->sender_uid = seq % 11 ? 1000 : -1;
    if (seq % 13 == 0)
        m->flags |= SL_MSG_TRUNCATED;
    return m;
}

static sl_msg_t *msg(int seq)
{
    return msg_pad(seq, (size_t)(seq % 37));
}

/* Every field of a message read back equals the original's. */
static void assert_same(const sl_msg_t *a, const sl_msg_t *b)
{
    assert_int_equal(a->proto, b->proto);
    assert_int_equal(a->pri, b->pri);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->raw_len, b->raw_len);
    assert_int_equal(a->buf_len, b->buf_len);
    assert_int_equal(a->sender_pid, b->sender_pid);
    assert_int_equal(a->sender_uid, b->sender_uid);
    assert_memory_equal(&a->ts, &b->ts, sizeof(a->ts));
    assert_memory_equal(&a->received, &b->received, sizeof(a->received));
    assert_memory_equal(a->f, b->f, sizeof(a->f));
    assert_memory_equal(a->buf, b->buf, a->buf_len);
    for (int id = 0; id < SL_F_COUNT; id++) {
        char sa[SL_FIELD_SCRATCH], sb[SL_FIELD_SCRATCH];
        const char *pa, *pb;
        size_t la = sl_msg_field(a, (sl_field_id_t)id, sa, &pa);
        size_t lb = sl_msg_field(b, (sl_field_id_t)id, sb, &pb);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, la);
    }
}

static sl_dqueue_stats_t stats_ok(sl_dqueue_t *q)
{
    sl_dqueue_stats_t st;
    sl_dqueue_stats(q, &st);
    uint64_t sum = 0;
    for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++)
        sum += st.q.discarded_by[r];
    assert_int_equal(st.q.discarded, sum);
    assert_int_equal(st.q.queued, st.q.in_ring + st.q.in_flight);
    assert_int_equal(st.q.in_ring, st.in_memory + st.on_disk + st.kept);
    assert_int_equal(st.q.enqueued, st.q.delivered + st.q.failed + st.q.discarded + st.q.queued);
    assert_true(st.in_memory <= st.q.capacity);
    assert_true(st.disk_bytes <= st.max_disk);
    return st;
}

static sl_dqueue_t *open_q(size_t mem, uint64_t max_disk, uint64_t seg, sl_dqueue_sync_t sync)
{
    sl_dqueue_conf_t c = {.dir = dir,
                          .memory_messages = mem,
                          .max_disk = max_disk,
                          .segment_size = seg,
                          .sync = sync,
                          .sync_interval_ms = 10};
    sl_dqueue_t *q;
    assert_int_equal(sl_dqueue_open(&q, &c), 0);
    stats_ok(q);
    return q;
}

/* Pushes seq first..first+n-1 in batches of b, keeping a copy of each in copies[] if given. */
static void push_seq(sl_dqueue_t *q, int first, int n, int b, sl_msg_t **copies)
{
    sl_msg_t *v[256];
    assert_true(b <= 256);
    for (int i = 0; i < n; i += b) {
        int k = n - i < b ? n - i : b;
        for (int j = 0; j < k; j++) {
            v[j] = msg(first + i + j);
            if (copies)
                copies[i + j] = sl_msg_ref(v[j]);
        }
        assert_int_equal(sl_dqueue_push(q, v, (size_t)k, SL_QUEUE_BLOCK), 0);
    }
}

/* Pops exactly n messages, checks their sequence (and fields against copies[] if given),
 * reports them delivered in batches of at most max. */
static void pop_expect(sl_dqueue_t *q, int first, int n, size_t max, sl_msg_t **copies)
{
    sl_msg_t *out[256];
    assert_true(max <= 256);
    int got = 0;
    while (got < n) {
        size_t want = (size_t)(n - got) < max ? (size_t)(n - got) : max;
        int k = sl_dqueue_pop(q, out, want, WAIT_LIMIT_MS);
        assert_true(k > 0);
        assert_true(got + k <= n);
        for (int i = 0; i < k; i++) {
            assert_int_equal(out[i]->sender_pid, first + got + i);
            if (copies)
                assert_same(out[i], copies[got + i]);
            sl_msg_unref(out[i]);
        }
        assert_int_equal(sl_dqueue_done(q, (size_t)k, 0, 0), 0);
        got += k;
        stats_ok(q);
    }
}

static void release_all(sl_msg_t **v, int n)
{
    for (int i = 0; i < n; i++)
        sl_msg_unref(v[i]);
}

static int count_segments(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0;
    }
    closedir(d);
    return n;
}

/* The path of the n-th segment (0: oldest), by name order. */
static void segment_path(int n, char *out, size_t len)
{
    struct dirent **list;
    int k = scandir(dir, &list, NULL, alphasort);
    assert_true(k >= 0);
    int seen = 0;
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        size_t l = strlen(list[i]->d_name);
        if (l > 4 && strcmp(list[i]->d_name + l - 4, ".seg") == 0 && seen++ == n)
            snprintf(out, len, "%s/%s", dir, list[i]->d_name);
        free(list[i]);
    }
    free(list);
    assert_true(out[0] != '\0');
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

/* ---- CRC ---------------------------------------------------------------------------------- */

static void test_crc32c_vectors(void **state)
{
    (void)state;
    assert_int_equal(sl_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(sl_crc32c_sw(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(sl_crc32c(0, "", 0), 0);
    unsigned char zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof(ones));
    /* RFC 3720 B.4 test vectors. */
    assert_int_equal(sl_crc32c(0, zeros, 32), 0x8a9136aau);
    assert_int_equal(sl_crc32c(0, ones, 32), 0x62a8ab43u);
    unsigned char buf[1024];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        s = s * 1103515245u + 12345u;
        buf[i] = (unsigned char)(s >> 16);
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off <= sizeof(buf); n += 1 + n / 3) {
            uint32_t a = sl_crc32c(0, buf + off, n), b = sl_crc32c_sw(0, buf + off, n);
            assert_int_equal(a, b);
            /* Extending in two pieces gives the CRC of the whole. */
            assert_int_equal(
                sl_crc32c(sl_crc32c(0, buf + off, n / 2), buf + off + n / 2, n - n / 2), a);
        }
    }
}

/* ---- Round trips ------------------------------------------------------------------------- */

static void test_memory_only(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(100, 0, 0, SL_DQUEUE_SYNC_INTERVAL);
    push_seq(q, 0, 50, 10, NULL);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.in_memory, 50);
    assert_int_equal(st.on_disk, 0);
    assert_int_equal(st.spilled, 0);
    assert_int_equal(count_segments(), 0);
    pop_expect(q, 0, 50, 16, NULL);
    st = stats_ok(q);
    assert_int_equal(st.q.delivered, 50);
    assert_int_equal(st.q.queued, 0);
    sl_dqueue_destroy(q);
    assert_int_equal(count_segments(), 0);
}

static void round_trip(sl_dqueue_sync_t sync)
{
    enum { N = 3000, MEM = 64 };
    sl_msg_t **copies = calloc(N, sizeof(*copies));
    /* Small segments: the records cross many of them. */
    sl_dqueue_t *q = open_q(MEM, 4 << 20, 64 << 10, sync);
    push_seq(q, 0, N, 100, copies);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.q.enqueued, N);
    if (sync == SL_DQUEUE_SYNC_BATCH) {
        /* Write-through: everything is on disk, the first MEM also cached in memory. */
        assert_int_equal(st.in_memory, MEM);
        assert_int_equal(st.on_disk, N - MEM);
        assert_true(st.syncs > 0);
    } else {
        assert_int_equal(st.in_memory, MEM);
        assert_int_equal(st.on_disk, N - MEM);
        assert_int_equal(st.spilled, N - MEM);
    }
    assert_true(st.segments > 1);
    /* Take some, push more while the disk is not empty (they must queue behind it). */
    pop_expect(q, 0, 1000, 37, copies);
    sl_msg_t **more = calloc(200, sizeof(*more));
    push_seq(q, N, 200, 50, more);
    pop_expect(q, 1000, N - 1000, 128, copies + 1000);
    pop_expect(q, N, 200, 128, more);
    st = stats_ok(q);
    assert_int_equal(st.q.delivered, N + 200);
    assert_int_equal(st.q.queued, 0);
    /* Consumed segments are deleted; at most the one being written stays. */
    assert_true(st.segments <= 1);
    assert_true(count_segments() <= 1);
    /* Now empty again: new messages go to memory first. */
    push_seq(q, N + 200, 10, 10, NULL);
    st = stats_ok(q);
    assert_int_equal(st.in_memory, 10);
    pop_expect(q, N + 200, 10, 64, NULL);
    sl_dqueue_destroy(q);
    /* Drained: no segment is left behind. */
    assert_int_equal(count_segments(), 0);
    release_all(copies, N);
    release_all(more, 200);
    free(copies);
    free(more);
}

static void test_round_trip_sync_interval(void **state)
{
    (void)state;
    round_trip(SL_DQUEUE_SYNC_INTERVAL);
}

static void test_round_trip_sync_batch(void **state)
{
    (void)state;
    round_trip(SL_DQUEUE_SYNC_BATCH);
}

static void test_round_trip_sync_none(void **state)
{
    (void)state;
    round_trip(SL_DQUEUE_SYNC_NONE);
}

/* memory_messages 0: every message goes through the files. */
static void test_no_memory(void **state)
{
    (void)state;
    sl_msg_t *copies[300];
    sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 300, 7, copies);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.on_disk, 300);
    assert_int_equal(st.in_memory, 0);
    pop_expect(q, 0, 300, 64, copies);
    sl_dqueue_destroy(q);
    release_all(copies, 300);
}

/* ---- Persistence -------------------------------------------------------------------------- */

static void persistence(sl_dqueue_sync_t sync)
{
    enum { N = 500, MEM = 100 };
    sl_msg_t **copies = calloc(N, sizeof(*copies));
    sl_dqueue_t *q = open_q(MEM, 0, 64 << 10, sync);
    push_seq(q, 0, N, 50, copies);
    /* Deliver the first 30: they must not come back. */
    pop_expect(q, 0, 30, 30, copies);
    sl_dqueue_close(q);
    size_t wrote = sl_dqueue_purge(q);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(wrote, sync == SL_DQUEUE_SYNC_BATCH ? 0 : MEM - 30);
    assert_int_equal(st.q.queued, N - 30);
    assert_int_equal(st.kept, sync == SL_DQUEUE_SYNC_BATCH ? MEM - 30 : MEM - 30);
    assert_int_equal(st.q.discarded, 0);
    /* After purge pops return 0 at once. */
    sl_msg_t *out[4];
    assert_int_equal(sl_dqueue_pop(q, out, 4, WAIT_LIMIT_MS), 0);
    sl_dqueue_destroy(q);

    q = open_q(MEM, 0, 64 << 10, sync);
    st = stats_ok(q);
    assert_int_equal(st.replayed, N - 30);
    assert_int_equal(st.q.enqueued, N - 30);
    assert_int_equal(st.on_disk, N - 30);
    /* New messages queue behind the replayed ones. */
    sl_msg_t *more[20];
    push_seq(q, N, 20, 20, more);
    pop_expect(q, 30, N - 30, 64, copies + 30);
    pop_expect(q, N, 20, 64, more);
    sl_dqueue_destroy(q);
    q = open_q(MEM, 0, 64 << 10, sync);
    st = stats_ok(q);
    assert_int_equal(st.replayed, 0);
    sl_dqueue_destroy(q);
    release_all(copies, N);
    release_all(more, 20);
    free(copies);
}

static void test_persistence_interval(void **state)
{
    (void)state;
    persistence(SL_DQUEUE_SYNC_INTERVAL);
}

static void test_persistence_batch(void **state)
{
    (void)state;
    persistence(SL_DQUEUE_SYNC_BATCH);
}

/* Destroy without purge writes memory out as well. */
static void test_destroy_persists(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(1000, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 40, 40, NULL);
    sl_dqueue_destroy(q);
    q = open_q(1000, 0, 0, SL_DQUEUE_SYNC_NONE);
    assert_int_equal(stats_ok(q).replayed, 40);
    pop_expect(q, 0, 40, 64, NULL);
    sl_dqueue_destroy(q);
}

/* A worker that gives up (discarded) keeps its batch for the next start, in order: the batch
 * comes back ahead of the ring's messages, which come back ahead of the disk's. */
static void kept_batches(sl_dqueue_sync_t sync)
{
    sl_dqueue_t *q = open_q(20, 0, 64 << 10, sync);
    push_seq(q, 0, 60, 60, NULL);
    sl_msg_t *out[8];
    assert_int_equal(sl_dqueue_pop(q, out, 8, WAIT_LIMIT_MS), 8);
    for (int i = 0; i < 8; i++)
        sl_msg_unref(out[i]);
    /* Three delivered, five given up. */
    assert_int_equal(sl_dqueue_done(q, 3, 0, 5), 0);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.kept, 5);
    assert_int_equal(st.q.delivered, 3);
    assert_int_equal(st.q.discarded, 0);
    sl_dqueue_close(q);
    sl_dqueue_purge(q);
    st = stats_ok(q);
    assert_int_equal(st.q.queued, 57);
    sl_dqueue_destroy(q);

    q = open_q(20, 0, 64 << 10, sync);
    st = stats_ok(q);
    /* The whole batch comes back (at least once): its 3 delivered ones are duplicates. */
    assert_int_equal(st.replayed, 60);
    pop_expect(q, 0, 60, 64, NULL);
    sl_dqueue_destroy(q);
}

static void test_kept_batch_interval(void **state)
{
    (void)state;
    kept_batches(SL_DQUEUE_SYNC_INTERVAL);
}

static void test_kept_batch_batch(void **state)
{
    (void)state;
    kept_batches(SL_DQUEUE_SYNC_BATCH);
}

/* Each thread's report applies to its own batch: B reporting first acknowledges B's records,
 * not A's, so a restart still replays A's. */
struct popper {
    sl_dqueue_t *q;
    int n;
    int first;
    atomic_int phase; /* 1: popped, 2: may report */
};

static void *pop_hold_report(void *arg)
{
    struct popper *p = arg;
    sl_msg_t *out[64];
    p->n = sl_dqueue_pop(p->q, out, 10, WAIT_LIMIT_MS);
    p->first = p->n > 0 ? out[0]->sender_pid : -1;
    for (int i = 0; i < p->n; i++)
        sl_msg_unref(out[i]);
    atomic_store(&p->phase, 1);
    while (atomic_load(&p->phase) != 2)
        sched_yield();
    if (p->n > 0)
        sl_dqueue_done(p->q, (size_t)p->n, 0, 0);
    return NULL;
}

static void test_done_reports_own_batch(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 30, 30, NULL);
    struct popper a = {.q = q}, b = {.q = q};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, pop_hold_report, &a);
    long long end = now_ms() + WAIT_LIMIT_MS;
    while (atomic_load(&a.phase) != 1 && now_ms() < end)
        sched_yield();
    pthread_create(&tb, NULL, pop_hold_report, &b);
    while (atomic_load(&b.phase) != 1 && now_ms() < end)
        sched_yield();
    assert_int_equal(a.first, 0);
    assert_int_equal(b.first, 10);
    char seg[512];
    segment_path(0, seg, sizeof(seg));
    sl_dqueue_seg_info_t info;
    /* B reports; A is still out. Had B's count gone to A's batch (the oldest), the start would
     * now be past A's records and a crash would lose them. */
    atomic_store(&b.phase, 2);
    pthread_join(tb, NULL);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.q.delivered, 10);
    assert_int_equal(st.q.in_flight, 10);
    assert_int_equal(sl_dqueue_inspect(seg, &info), 0);
    assert_int_equal(info.pending, 30);
    sl_msg_unref(info.first);
    sl_msg_unref(info.last);
    /* A reports: both batches are done, the start moves past record 19. */
    atomic_store(&a.phase, 2);
    pthread_join(ta, NULL);
    assert_int_equal(sl_dqueue_inspect(seg, &info), 0);
    assert_int_equal(info.pending, 10);
    assert_int_equal(info.first->sender_pid, 20);
    sl_msg_unref(info.first);
    sl_msg_unref(info.last);
    sl_dqueue_destroy(q);
    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    assert_int_equal(stats_ok(q).replayed, 10);
    pop_expect(q, 20, 10, 64, NULL);
    sl_dqueue_destroy(q);
}

/* ---- Recovery ------------------------------------------------------------------------------ */

static void test_torn_tail_truncated(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 20, 20, NULL);
    sl_dqueue_destroy(q);
    char seg[512];
    segment_path(0, seg, sizeof(seg));
    off_t good = file_size(seg);
    /* Append the first 40 bytes of a copy of the segment's first record: a partial record. */
    int fd = open(seg, O_RDWR);
    unsigned char rec[40];
    assert_int_equal(pread(fd, rec, sizeof(rec), 32), (ssize_t)sizeof(rec));
    assert_int_equal(pwrite(fd, rec, sizeof(rec), good), (ssize_t)sizeof(rec));
    close(fd);
    assert_int_equal(file_size(seg), good + 40);

    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.torn_bytes, 40);
    assert_int_equal(st.corrupt_records, 0);
    assert_int_equal(st.replayed, 20);
    assert_int_equal(file_size(seg), good);
    pop_expect(q, 0, 20, 64, NULL);
    sl_dqueue_destroy(q);

    /* Garbage at the end (no record header in it) is a torn tail as well. */
    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 100, 5, 5, NULL);
    sl_dqueue_destroy(q);
    segment_path(0, seg, sizeof(seg));
    good = file_size(seg);
    fd = open(seg, O_RDWR);
    char junk[100];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(pwrite(fd, junk, 7, good), 7);
    close(fd);
    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    st = stats_ok(q);
    assert_int_equal(st.torn_bytes, 7);
    assert_int_equal(st.replayed, 5);
    pop_expect(q, 100, 5, 64, NULL);
    sl_dqueue_destroy(q);
}

/* Offset of the k-th record in a segment written by push_seq with no memory (records follow
 * each other from offset 32). */
static off_t record_offset(const char *seg, int k)
{
    int fd = open(seg, O_RDONLY);
    off_t off = 32;
    for (int i = 0; i < k; i++) {
        unsigned char h[8];
        assert_int_equal(pread(fd, h, 8, off), 8);
        uint32_t len =
            (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        off += 16 + (off_t)len;
    }
    close(fd);
    return off;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_corrupt_crc_skipped(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 20, 20, NULL);
    sl_dqueue_destroy(q);
    char seg[512];
    segment_path(0, seg, sizeof(seg));
    /* A byte of record 5's payload: its CRC no longer matches. */
    flip_byte(seg, record_offset(seg, 5) + 16 + 70);
    /* A byte of record 12's length: its header no longer checks; the reader finds record 13. */
    flip_byte(seg, record_offset(seg, 12) + 5);

    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.corrupt_records, 2);
    assert_int_equal(st.replayed, 18);
    assert_int_equal(st.torn_bytes, 0);
    sl_msg_t *out[64];
    int k = sl_dqueue_pop(q, out, 64, WAIT_LIMIT_MS);
    assert_int_equal(k, 18);
    int want = 0;
    for (int i = 0; i < k; i++, want++) {
        if (want == 5 || want == 12)
            want++;
        assert_int_equal(out[i]->sender_pid, want);
        sl_msg_unref(out[i]);
    }
    assert_int_equal(sl_dqueue_done(q, (size_t)k, 0, 0), 0);
    st = stats_ok(q);
    /* Counted once (at open), not again when read. */
    assert_int_equal(st.corrupt_records, 2);
    assert_int_equal(st.q.queued, 0);
    sl_dqueue_destroy(q);

    /* A damaged segment header: the whole segment is replayed. */
    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 10, 10, NULL);
    sl_dqueue_destroy(q);
    segment_path(0, seg, sizeof(seg));
    flip_byte(seg, 3);
    q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    assert_int_equal(stats_ok(q).replayed, 10);
    pop_expect(q, 0, 10, 64, NULL);
    sl_dqueue_destroy(q);
}

/* ---- max_disk ------------------------------------------------------------------------------ */

struct pusher {
    sl_dqueue_t *q;
    int first, n;
    size_t pad;
    int rc;
};

static void *push_thread(void *arg)
{
    struct pusher *p = arg;
    for (int i = 0; i < p->n; i += 10) {
        sl_msg_t *v[10];
        for (int j = 0; j < 10; j++)
            v[j] = msg_pad(p->first + i + j, p->pad);
        p->rc |= sl_dqueue_push(p->q, v, 10, SL_QUEUE_BLOCK);
    }
    return NULL;
}

static void test_max_disk_blocks(void **state)
{
    (void)state;
    /* 1 MiB of disk in 64 KiB segments; 4 KiB messages: about 250 fit. */
    sl_dqueue_t *q = open_q(10, 1 << 20, 64 << 10, SL_DQUEUE_SYNC_NONE);
    struct pusher p = {.q = q, .first = 0, .n = 600, .pad = 4000};
    pthread_t t;
    pthread_create(&t, NULL, push_thread, &p);
    long long end = now_ms() + WAIT_LIMIT_MS;
    sl_dqueue_stats_t st;
    do {
        st = stats_ok(q);
    } while (st.q.producers_waiting == 0 && now_ms() < end);
    assert_int_equal(st.q.producers_waiting, 1);
    assert_int_equal(st.q.flow_control_pauses, 1);
    assert_true(st.disk_bytes <= 1 << 20);
    assert_true(st.disk_bytes > (1 << 20) - 3 * (64 << 10));
    assert_int_equal(st.q.discarded, 0);
    /* A consumer frees segments; the producer finishes; everything arrives in order. */
    sl_msg_t *out[64];
    int got = 0;
    while (got < 600) {
        int k = sl_dqueue_pop(q, out, 64, WAIT_LIMIT_MS);
        assert_true(k > 0);
        for (int i = 0; i < k; i++) {
            assert_int_equal(out[i]->sender_pid, got + i);
            sl_msg_unref(out[i]);
        }
        sl_dqueue_done(q, (size_t)k, 0, 0);
        got += k;
        st = stats_ok(q);
        assert_true(st.disk_bytes <= 1 << 20);
    }
    pthread_join(t, NULL);
    assert_int_equal(p.rc, 0);
    st = stats_ok(q);
    assert_int_equal(st.q.delivered, 600);
    assert_true(st.q.flow_control_pauses >= 1);
    assert_int_equal(st.q.discarded, 0);
    sl_dqueue_destroy(q);
}

static void test_max_disk_drops(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(10, 1 << 20, 64 << 10, SL_DQUEUE_SYNC_NONE);
    int refused = 0, sent = 0;
    for (int i = 0; i < 60; i++) {
        sl_msg_t *v[10];
        for (int j = 0; j < 10; j++)
            v[j] = msg_pad(sent + j, 4000);
        int r = sl_dqueue_push(q, v, 10, SL_QUEUE_DROP);
        assert_true(r >= 0 && r <= 10);
        refused += r;
        sent += 10;
    }
    sl_dqueue_stats_t st = stats_ok(q);
    assert_true(refused > 0);
    assert_int_equal(st.q.discarded_by[SL_QUEUE_DISCARD_FULL], (uint64_t)refused);
    assert_int_equal(st.q.queued, (uint64_t)(sent - refused));
    assert_int_equal(st.q.flow_control_pauses, 0);
    assert_true(st.disk_bytes <= 1 << 20);
    /* What was queued comes out in order (a prefix: once full, the rest was refused). */
    pop_expect(q, 0, sent - refused, 64, NULL);
    sl_dqueue_destroy(q);
}

/* ---- Robustness ------------------------------------------------------------------------------ */

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Opens the queue on whatever is in dir, reads everything, checks the counters; then
 * inspects every segment file. Must neither crash nor hang. */
static void open_and_drain(void)
{
    sl_dqueue_t *q = open_q(8, 0, 0, SL_DQUEUE_SYNC_NONE);
    sl_dqueue_stats_t st = stats_ok(q);
    uint64_t got = 0;
    sl_msg_t *out[64];
    int k;
    while ((k = sl_dqueue_pop(q, out, 64, 0)) > 0) {
        for (int i = 0; i < k; i++) {
            /* Every field of a replayed message is readable. */
            for (int id = 0; id < SL_F_COUNT; id++) {
                char sc[SL_FIELD_SCRATCH];
                const char *p;
                size_t n = sl_msg_field(out[i], (sl_field_id_t)id, sc, &p);
                assert_true(n < 1u << 20);
                if (n)
                    assert_true(p[0] == p[0]);
            }
            sl_msg_unref(out[i]);
        }
        sl_dqueue_done(q, (size_t)k, 0, 0);
        got += (uint64_t)k;
    }
    st = stats_ok(q);
    assert_int_equal(got + st.lost_records, st.replayed);
    assert_int_equal(st.q.queued, 0);
    sl_dqueue_destroy(q);
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void test_fuzz_segment_reader(void **state)
{
    (void)state;
    uint32_t s = 0x9e3779b9u;
    unsigned char *buf = malloc(1 << 16);
    /* Random files, some starting with a valid-looking segment header. */
    for (int iter = 0; iter < 60; iter++) {
        size_t n = rnd(&s) % (1 << 16);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rnd(&s);
        if (iter % 2 && n >= 8)
            memcpy(buf, "SLUICEQ1", 8);
        write_file("0000000100000000.seg", buf, n);
        open_and_drain();
    }
    /* Valid segments, mutated: flipped bytes, cut, spliced, duplicated ranges. */
    for (int iter = 0; iter < 150; iter++) {
        sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
        push_seq(q, iter * 100, 40, 40, NULL);
        sl_dqueue_destroy(q);
        char seg[512];
        segment_path(0, seg, sizeof(seg));
        int fd = open(seg, O_RDONLY);
        ssize_t n = read(fd, buf, 1 << 16);
        close(fd);
        assert_true(n > 32);
        int how = iter % 5;
        if (how == 0) {
            for (int j = 0; j < 1 + (int)(rnd(&s) % 8); j++)
                buf[rnd(&s) % (uint32_t)n] ^= (unsigned char)(1 + rnd(&s) % 255);
        } else if (how == 1) {
            n = (ssize_t)(rnd(&s) % (uint32_t)n);
        } else if (how == 2) {
            size_t a = rnd(&s) % (uint32_t)n, b = rnd(&s) % (uint32_t)n;
            if (a > b) {
                size_t t = a;
                a = b;
                b = t;
            }
            memmove(buf + a, buf + b, (size_t)n - b);
            n -= (ssize_t)(b - a);
        } else if (how == 3) {
            size_t a = rnd(&s) % (uint32_t)n, l = rnd(&s) % 300;
            if ((size_t)n + l < (1 << 16)) {
                memmove(buf + a + l, buf + a, (size_t)n - a);
                n += (ssize_t)l;
            }
        } else {
            for (int j = 0; j < 64; j++)
                buf[rnd(&s) % (uint32_t)n] = (unsigned char)rnd(&s);
        }
        unlink(seg);
        write_file("0000000100000000.seg", buf, (size_t)n);
        sl_dqueue_seg_info_t info;
        char p[512];
        snprintf(p, sizeof(p), "%s/0000000100000000.seg", dir);
        assert_int_equal(sl_dqueue_inspect(p, &info), 0);
        assert_true(info.pending <= info.records && info.records <= 40 + 40);
        if (info.first)
            sl_msg_unref(info.first);
        if (info.last)
            sl_msg_unref(info.last);
        open_and_drain();
    }
    free(buf);
}

/* ---- kill -9 ----------------------------------------------------------------------------------
 */

#define KILL_MAX 200000
struct shared {
    atomic_int accepted;         /* every seq below it was accepted by a push that returned */
    atomic_int delivered;        /* count of messages the child's consumer reported */
    atomic_int stuck;            /* size of the batch it popped and never reported */
    atomic_uchar seen[KILL_MAX]; /* 1: the child's consumer delivered it */
};

struct child_consumer {
    sl_dqueue_t *q;
    struct shared *sh;
};

/* Delivers until 1000 are delivered, then pops one more batch and never reports it, as a
 * worker stuck on a slow output would; the backlog then builds up on disk. */
static void *child_consume(void *arg)
{
    struct child_consumer *c = arg;
    sl_msg_t *out[64];
    for (;;) {
        int k = sl_dqueue_pop(c->q, out, 64, 1000);
        if (k <= 0)
            continue;
        for (int i = 0; i < k; i++) {
            int seq = out[i]->sender_pid;
            if (seq >= 0 && seq < KILL_MAX)
                atomic_store(&c->sh->seen[seq], 1);
            sl_msg_unref(out[i]);
        }
        if (atomic_load(&c->sh->delivered) >= 1000) {
            atomic_store(&c->sh->stuck, k);
            return NULL;
        }
        sl_dqueue_done(c->q, (size_t)k, 0, 0);
        atomic_fetch_add(&c->sh->delivered, k);
    }
}

static void *child_push(void *arg)
{
    struct child_consumer *c = arg;
    for (int seq = 0; seq + 16 <= KILL_MAX; seq += 16) {
        sl_msg_t *v[16];
        for (int j = 0; j < 16; j++)
            v[j] = msg(seq + j);
        if (sl_dqueue_push(c->q, v, 16, SL_QUEUE_BLOCK) != 0)
            break;
        atomic_store(&c->sh->accepted, seq + 16);
    }
    return NULL;
}

static void test_kill9_sync_batch(void **state)
{
    (void)state;
    struct shared *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child: one producer, one consumer (slower, so a backlog builds on disk); the main
         * thread ends the process abruptly, in the middle of whatever they are doing. */
        sl_dqueue_conf_t conf = {.dir = dir,
                                 .memory_messages = 100,
                                 .max_disk = 64 << 20,
                                 .segment_size = 256 << 10,
                                 .sync = SL_DQUEUE_SYNC_BATCH};
        sl_dqueue_t *q;
        if (sl_dqueue_open(&q, &conf) != 0)
            _exit(2);
        struct child_consumer c = {q, sh};
        pthread_t tp, tc;
        pthread_create(&tp, NULL, child_push, &c);
        pthread_create(&tc, NULL, child_consume, &c);
        long long end = now_ms() + 20000;
        while ((atomic_load(&sh->accepted) < 6000 || atomic_load(&sh->stuck) == 0) &&
               now_ms() < end)
            sched_yield();
        /* kill -9 itself (not _exit, whose exit checks sanitizers would run): the threads die
         * wherever they are, in a write, between a push and its sync, holding a lock. */
        kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    int accepted = atomic_load(&sh->accepted);
    assert_true(accepted >= 6000);
    int stuck = atomic_load(&sh->stuck);
    assert_true(stuck > 0);

    sl_dqueue_t *q = open_q(100, 64 << 20, 256 << 10, SL_DQUEUE_SYNC_BATCH);
    sl_dqueue_stats_t st = stats_ok(q);
    unsigned char *replayed = calloc(KILL_MAX, 1);
    int dups = 0, last = -1;
    sl_msg_t *out[64];
    int k;
    while ((k = sl_dqueue_pop(q, out, 64, 0)) > 0) {
        for (int i = 0; i < k; i++) {
            int seq = out[i]->sender_pid;
            assert_true(seq >= 0 && seq < KILL_MAX);
            /* In order, each once. */
            assert_true(seq > last);
            last = seq;
            replayed[seq] = 1;
            dups += atomic_load(&sh->seen[seq]);
            sl_msg_unref(out[i]);
        }
        sl_dqueue_done(q, (size_t)k, 0, 0);
    }
    /* Every accepted message was delivered by the child or is replayed now. */
    for (int seq = 0; seq < accepted; seq++) {
        if (!replayed[seq] && !atomic_load(&sh->seen[seq]))
            fail_msg("message %d was accepted (below %d) and is lost", seq, accepted);
    }
    /* Duplicates: exactly the batch the child's consumer had popped and not reported. */
    assert_int_equal(dups, stuck);
    assert_true(st.replayed >= (uint64_t)(accepted - atomic_load(&sh->delivered)));
    assert_int_equal(st.corrupt_records, 0);
    print_message("kill -9: %d accepted, %d delivered before, %" PRIu64
                  " replayed, %d duplicates, %" PRIu64 " torn bytes\n",
                  accepted, atomic_load(&sh->delivered), st.replayed, dups, st.torn_bytes);
    sl_dqueue_destroy(q);
    free(replayed);
    munmap(sh, sizeof(*sh));
}

/* ---- Small things ------------------------------------------------------------------------------
 */

static void test_inspect(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(0, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 12, 12, NULL);
    pop_expect(q, 0, 4, 4, NULL);
    sl_dqueue_close(q);
    sl_dqueue_destroy(q);
    char seg[512];
    segment_path(0, seg, sizeof(seg));
    sl_dqueue_seg_info_t info;
    assert_int_equal(sl_dqueue_inspect(seg, &info), 0);
    assert_int_equal(info.header_ok, 1);
    assert_int_equal(info.records, 12);
    assert_int_equal(info.pending, 8);
    assert_int_equal(info.corrupt, 0);
    assert_int_equal(info.torn_bytes, 0);
    assert_int_equal((uint64_t)file_size(seg), info.size);
    assert_non_null(info.first);
    assert_non_null(info.last);
    assert_int_equal(info.first->sender_pid, 4);
    assert_int_equal(info.last->sender_pid, 11);
    assert_non_null(strstr(info.first->buf, "seq=00000004"));
    sl_msg_unref(info.first);
    sl_msg_unref(info.last);
    assert_int_equal(sl_dqueue_inspect("/nonexistent/x.seg", &info), -ENOENT);
}

static void test_dir_for(void **state)
{
    (void)state;
    char *p;
    assert_int_equal(sl_dqueue_dir_for("/var/lib/sluice", "relay-1.x", &p), 0);
    assert_string_equal(p, "/var/lib/sluice/queues/relay-1.x");
    free(p);
    assert_int_equal(sl_dqueue_dir_for("w", "../a/b c%", &p), 0);
    assert_string_equal(p, "w/queues/%2E.%2Fa%2Fb%20c%25");
    free(p);
    assert_int_equal(sl_dqueue_dir_for("w", "", &p), 0);
    assert_string_equal(p, "w/queues/_");
    free(p);
}

static void test_lock_and_bad_conf(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(10, 0, 0, SL_DQUEUE_SYNC_NONE), *q2;
    sl_dqueue_conf_t c = {.dir = dir, .memory_messages = 10};
    assert_int_equal(sl_dqueue_open(&q2, &c), -EBUSY);
    assert_null(q2);
    sl_dqueue_destroy(q);
    assert_int_equal(sl_dqueue_open(&q2, &c), 0);
    sl_dqueue_destroy(q2);
    c.dir = NULL;
    assert_int_equal(sl_dqueue_open(&q2, &c), -EINVAL);
    c.dir = dir;
    c.sync = (sl_dqueue_sync_t)7;
    assert_int_equal(sl_dqueue_open(&q2, &c), -EINVAL);
}

static void test_close_refuses_and_pops_drain(void **state)
{
    (void)state;
    sl_dqueue_t *q = open_q(5, 0, 0, SL_DQUEUE_SYNC_NONE);
    push_seq(q, 0, 12, 12, NULL);
    sl_dqueue_close(q);
    sl_msg_t *v[3] = {msg(100), msg(101), msg(102)};
    assert_int_equal(sl_dqueue_push(q, v, 3, SL_QUEUE_BLOCK), -ESHUTDOWN);
    sl_dqueue_stats_t st = stats_ok(q);
    assert_int_equal(st.q.discarded_by[SL_QUEUE_DISCARD_SHUTDOWN], 3);
    /* Closed: consumers still take everything, memory and disk, then get 0. */
    pop_expect(q, 0, 12, 4, NULL);
    sl_msg_t *out[4];
    assert_int_equal(sl_dqueue_pop(q, out, 4, WAIT_LIMIT_MS), 0);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    assert_int_equal(sl_dqueue_drain(q, &now), 0);
    assert_int_equal(sl_dqueue_done(q, 1, 0, 0), -EINVAL);
    sl_dqueue_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test_setup_teardown(test_memory_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_sync_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_sync_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_sync_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_batch_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_batch_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_reports_own_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_crc_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_disk_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_disk_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_segment_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_sync_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect, setup, teardown),
        cmocka_unit_test(test_dir_for),
        cmocka_unit_test_setup_teardown(test_lock_and_bad_conf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_refuses_and_pops_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
