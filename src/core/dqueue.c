/*
 * The disk-assisted queue (see dqueue.h for the contract, docs/dqueue.md for the file format).
 *
 * The logical queue is: the ring (oldest), then the disk region, the records from the read
 * position (rd_seg, rd_off) to the end of the last segment. A push puts a message in the ring
 * only while the disk region is empty, so everything in the ring is older than everything on
 * disk and a pop that takes the ring first, then the disk, keeps the order. With sync: batch
 * (write-through) every message is appended to the files first and the ring holds messages
 * whose records lie just before rd: a cache, so pops need not decode what they just wrote.
 *
 * Acknowledgement: each pop makes a batch (pop order), and sl_dqueue_done assigns the counts
 * it reports to the calling thread's batches, then to the oldest. A batch read from disk (or
 * cached) ends at a file position; when the oldest disk batches are all reported delivered or
 * failed, the head segment's start offset (in its header) moves to the end of the last of them,
 * and segments wholly before it are deleted. A batch with a discarded message is kept: the
 * start never moves past it, so the next start replays it. Memory-only batches hold a reference
 * on their messages until reported, so that ones given up at shutdown can still be written.
 *
 * Why a start offset in each segment's header rather than one checkpoint file: the memory left
 * at shutdown goes to a new segment numbered before all others (so it is replayed first, in
 * order), while the old head segment keeps its own partly consumed start. Each segment carrying
 * its own start needs no table and no ordering between deleting a file and updating another.
 * The header is rewritten in place (one 32-byte pwrite per acknowledged batch) with a CRC; a
 * torn header only makes the segment replay from its first record (duplicates, not loss).
 *
 * Records: 16-byte header (magic, payload length, CRC32C of those 8 bytes, CRC32C of the
 * payload), then the payload: the sl_msg_t's fixed fields (proto, pri, flags, sender pid/uid,
 * both timestamps, every span) and its whole buffer (raw bytes, fromhost, input). Reading
 * rebuilds an identical message with sl_msg_new and the stored fields: nothing is re-parsed, so
 * a replayed message is the message that was queued, whatever parser options made it. A record
 * whose header checks is skipped by its length when its payload does not; garbage is skipped up
 * to the next record whose header checks; a partial record at the end of a file is a torn tail.
 *
 * Concurrency: `lock` guards everything in struct sl_dqueue below it except the sync fields: the
 * ring, the segment list and each segment's fields, the batches, the read cache, the counters,
 * `closed`/`persisting` and the waiter counts; file writes and reads happen with it held, so
 * the files and the counters move together and every snapshot keeps the accounting identity.
 * fdatasync is the exception: it can take milliseconds, so it runs outside `lock` on dup()ed
 * descriptors (closing the original cannot pull them away) under `sync_lock`, which serialises
 * syncs and guards `synced` and the sync thread's fields. Lock order: sync_lock, then lock.
 * With sync: batch a push syncs up to its own last byte after unlocking: one fdatasync covers
 * every push that wrote before it (group commit). `syncs` and `sync_errors` are atomics (plain
 * statistics, relaxed). Message references are released outside `lock` except on shutdown
 * paths, as in queue.c.
 */
#include "core/dqueue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crc32c.h"
#include "lib/fsutil.h"
#include "lib/sl_assert.h"

/* ---- File format ------------------------------------------------------------------------ */

#define SEG_MAGIC     "SLUICEQ1"
#define SEG_HDR       32u /* magic[8], seq u64, start u64, crc u32 (of bytes 0..24), zero u32 */
#define REC_MAGIC     0x015251d1u /* bytes d1 51 52 01: "\xd1QR\1" */
#define REC_HDR       16u /* magic u32, len u32, crc u32 (of bytes 0..8), crc u32 (payload) */
#define PAYLOAD_VER   1u
#define PAYLOAD_FIXED 56u /* before the spans; see put_payload */
#define PAYLOAD_SPANS ((uint32_t)SL_F_NSPANS * 8u)
#define MAX_PAYLOAD   (257u << 20)        /* the largest max_message_size (256 MiB) and the rest */
#define SEQ_FIRST     (UINT64_C(1) << 32) /* new queues start here; shutdown segments go below */
#define READ_CHUNK    (256u << 10)
#define LOG_LINES_MAX 100 /* lines about corrupt records per open, then one summary */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_ts(unsigned char *p, const sl_timestamp_t *ts)
{
    put16(p, (uint16_t)ts->year);
    p[2] = ts->month;
    p[3] = ts->day;
    p[4] = ts->hour;
    p[5] = ts->minute;
    p[6] = ts->second;
    p[7] = ts->frac_digits;
    put32(p + 8, ts->usec);
    put16(p + 12, (uint16_t)ts->tz_min);
    p[14] = ts->flags;
    p[15] = 0;
}

/* Reads a timestamp; false when a valid one has fields out of range (nothing we write). */
static bool get_ts(const unsigned char *p, sl_timestamp_t *ts)
{
    ts->year = (int16_t)get16(p);
    ts->month = p[2];
    ts->day = p[3];
    ts->hour = p[4];
    ts->minute = p[5];
    ts->second = p[6];
    ts->frac_digits = p[7];
    ts->usec = get32(p + 8);
    ts->tz_min = (int16_t)get16(p + 12);
    ts->flags = p[14];
    if (!(ts->flags & SL_TS_VALID))
        return true;
    return ts->year >= 0 && ts->year <= 9999 && ts->month >= 1 && ts->month <= 12 && ts->day >= 1 &&
           ts->day <= 31 && ts->hour <= 23 && ts->minute <= 59 && ts->second <= 60 &&
           ts->frac_digits <= 6 && ts->usec < 1000000 && ts->tz_min >= -1439 && ts->tz_min <= 1439;
}

static size_t payload_size(const sl_msg_t *m)
{
    return PAYLOAD_FIXED + PAYLOAD_SPANS + (size_t)m->buf_len;
}

static size_t record_size(const sl_msg_t *m)
{
    return REC_HDR + payload_size(m);
}

/*
 * Payload layout (little-endian): version u8, nspans u8, proto u8, pri u8, flags u16, zero u16,
 * sender_pid i32, sender_uid i32, ts[16], received[16], raw_len u32, buf_len u32 (offset 56
 * ends here), nspans x (off u32, len u32), buf[buf_len].
 */
static void put_record(unsigned char *p, const sl_msg_t *m)
{
    unsigned char *pl = p + REC_HDR;
    uint32_t len = (uint32_t)payload_size(m);
    pl[0] = PAYLOAD_VER;
    pl[1] = SL_F_NSPANS;
    pl[2] = m->proto;
    pl[3] = m->pri;
    put16(pl + 4, m->flags);
    put16(pl + 6, 0);
    put32(pl + 8, (uint32_t)m->sender_pid);
    put32(pl + 12, (uint32_t)m->sender_uid);
    put_ts(pl + 16, &m->ts);
    put_ts(pl + 32, &m->received);
    put32(pl + 48, m->raw_len);
    put32(pl + 52, m->buf_len);
    for (int i = 0; i < SL_F_NSPANS; i++) {
        put32(pl + PAYLOAD_FIXED + 8 * i, m->f[i].off);
        put32(pl + PAYLOAD_FIXED + 8 * i + 4, m->f[i].len);
    }
    memcpy(pl + PAYLOAD_FIXED + PAYLOAD_SPANS, m->buf, m->buf_len);
    put32(p, REC_MAGIC);
    put32(p + 4, len);
    put32(p + 8, sl_crc32c(0, p, 8));
    put32(p + 12, sl_crc32c(0, pl, len));
}

/*
 * Checks a payload whose CRC matched and, when out is not NULL, rebuilds the message. The
 * buffer must be laid out as sl_msg_new lays it out (raw, NUL, fromhost, NUL, input, NUL) and
 * every span must lie inside it, so the rebuilt message is byte for byte the one written and no
 * reader of it can go out of bounds. Returns 0, -EINVAL or -ENOMEM.
 */
static int decode(const unsigned char *pl, uint32_t len, sl_msg_t **out)
{
    if (len < PAYLOAD_FIXED + PAYLOAD_SPANS || pl[0] != PAYLOAD_VER || pl[1] != SL_F_NSPANS ||
        pl[2] > SL_PROTO_RFC5424 || pl[3] > 191)
        return -EINVAL;
    uint32_t raw_len = get32(pl + 48), buf_len = get32(pl + 52);
    if (buf_len != len - PAYLOAD_FIXED - PAYLOAD_SPANS || raw_len > buf_len - 3 || buf_len < 3)
        return -EINVAL;
    const char *buf = (const char *)pl + PAYLOAD_FIXED + PAYLOAD_SPANS;
    sl_span_t f[SL_F_NSPANS];
    for (int i = 0; i < SL_F_NSPANS; i++) {
        f[i].off = get32(pl + PAYLOAD_FIXED + 8 * i);
        f[i].len = get32(pl + PAYLOAD_FIXED + 8 * i + 4);
        if (f[i].off > buf_len || f[i].len > buf_len - f[i].off)
            return -EINVAL;
    }
    sl_span_t fh = f[SL_F_FROMHOST], in = f[SL_F_INPUT];
    if (buf[raw_len] != '\0' || fh.off != raw_len + 1 || fh.off + fh.len >= buf_len ||
        buf[fh.off + fh.len] != '\0' || in.off != fh.off + fh.len + 1 ||
        (uint64_t)in.off + in.len + 1 != buf_len || buf[in.off + in.len] != '\0' ||
        memchr(buf + fh.off, '\0', fh.len) || memchr(buf + in.off, '\0', in.len))
        return -EINVAL;
    /* sl_msg_field builds the RFC 5424 tag in a fixed scratch within the parser's limits. */
    if (pl[2] == SL_PROTO_RFC5424 && (f[SL_F_APP_NAME].len > 48 || f[SL_F_PROCID].len > 128))
        return -EINVAL;
    sl_timestamp_t ts, received;
    if (!get_ts(pl + 16, &ts) || !get_ts(pl + 32, &received))
        return -EINVAL;
    if (!out)
        return 0;
    sl_msg_t *m = sl_msg_new(buf, raw_len, buf + fh.off, buf + in.off);
    if (!m)
        return -ENOMEM;
    sl_assert(m->buf_len == buf_len);
    m->proto = pl[2];
    m->pri = pl[3];
    m->flags = get16(pl + 4);
    m->sender_pid = (int32_t)get32(pl + 8);
    m->sender_uid = (int32_t)get32(pl + 12);
    m->ts = ts;
    m->received = received;
    memcpy(m->f, f, sizeof(f));
    *out = m;
    return 0;
}

static void put_seg_header(unsigned char h[SEG_HDR], uint64_t seq, uint64_t start)
{
    memcpy(h, SEG_MAGIC, 8);
    put64(h + 8, seq);
    put64(h + 16, start);
    put32(h + 24, sl_crc32c(0, h, 24));
    put32(h + 28, 0);
}

/* "%016x.seg" names; returns the sequence number or 0 for any other name. */
static uint64_t seg_name_seq(const char *name)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    return strcmp(name + 16, ".seg") == 0 ? v : 0;
}

static void seg_name(char out[24], uint64_t seq)
{
    snprintf(out, 24, "%016" PRIx64 ".seg", seq);
}

/* ---- Reading files ------------------------------------------------------------------------- */

/* A read cache over one file: the window buf[0..len) holds the file's bytes from off. */
typedef struct rfile {
    int fd;
    unsigned char *buf;
    size_t cap;
    uint64_t off;
    size_t len;
} rfile_t;

static void rfile_reset(rfile_t *f, int fd)
{
    f->fd = fd;
    f->off = 0;
    f->len = 0;
}

/*
 * The file's bytes [off, off + n), which the caller knows lie before limit (the size it
 * trusts); reads a window of at least READ_CHUNK. Returns NULL with *err set (-EIO for a file
 * shorter than expected, -ENOMEM, or the read's error).
 */
static const unsigned char *rfile_get(rfile_t *f, uint64_t off, size_t n, uint64_t limit, int *err)
{
    sl_assert(off <= limit && n <= limit - off);
    if (off >= f->off && off - f->off <= f->len && n <= f->len - (off - f->off))
        return f->buf + (off - f->off);
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > limit - off)
        want = (size_t)(limit - off);
    if (want > f->cap) {
        unsigned char *b = realloc(f->buf, want);
        if (!b) {
            *err = -ENOMEM;
            return NULL;
        }
        f->buf = b;
        f->cap = want;
    }
    f->off = off;
    f->len = 0;
    while (f->len < want) {
        ssize_t r = pread(f->fd, f->buf + f->len, want - f->len, (off_t)(off + f->len));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *err = r < 0 ? -errno : -EIO;
            if (f->len < n)
                return NULL;
            break;
        }
        f->len += (size_t)r;
    }
    return f->buf;
}

/* A valid record header at off whose record ends at or before limit: its payload length. */
static bool header_at(rfile_t *f, uint64_t off, uint64_t limit, uint32_t *len, int *err)
{
    if (limit - off < REC_HDR)
        return false;
    const unsigned char *h = rfile_get(f, off, REC_HDR, limit, err);
    if (!h)
        return false;
    if (get32(h) != REC_MAGIC || get32(h + 8) != sl_crc32c(0, h, 8))
        return false;
    *len = get32(h + 4);
    return *len <= MAX_PAYLOAD && *len <= limit - off - REC_HDR;
}

typedef enum rec_status {
    REC_OK,   /* a valid record: payload, its length, and next */
    REC_BAD,  /* [off, next) is not a valid record; a valid header starts at next */
    REC_TORN, /* nothing valid from off to limit */
    REC_IOERR,
} rec_status_t;

/*
 * Examines the bytes at off (< limit) of f. REC_OK sets *payload (valid until the next call),
 * *plen and *next. A header that checks but whose payload does not (CRC or content) is REC_BAD,
 * skipped by its length; bytes that are no header are REC_BAD up to the next offset where a
 * complete record with a valid header starts, or REC_TORN when there is none.
 */
static rec_status_t next_record(rfile_t *f, uint64_t off, uint64_t limit,
                                const unsigned char **payload, uint32_t *plen, uint64_t *next,
                                int *err)
{
    uint32_t len;
    *err = 0;
    if (header_at(f, off, limit, &len, err)) {
        const unsigned char *r = rfile_get(f, off, REC_HDR + (size_t)len, limit, err);
        if (!r)
            return REC_IOERR;
        *next = off + REC_HDR + len;
        if (get32(r + 12) != sl_crc32c(0, r + REC_HDR, len) || decode(r + REC_HDR, len, NULL) < 0)
            return REC_BAD;
        *payload = r + REC_HDR;
        *plen = len;
        return REC_OK;
    }
    if (*err)
        return REC_IOERR;
    if (limit - off >= REC_HDR) {
        /* A header could not be read here: with the right magic and CRC it would be torn, so a
         * valid one further on is looked for, and a partial record with a valid header at the
         * very end is torn too (the resync below only accepts complete records). */
        const unsigned char *h = rfile_get(f, off, REC_HDR, limit, err);
        if (!h)
            return REC_IOERR;
        if (get32(h) == REC_MAGIC && get32(h + 8) == sl_crc32c(0, h, 8) &&
            get32(h + 4) <= MAX_PAYLOAD)
            return REC_TORN;
    }
    static const unsigned char magic[4] = {0xd1, 0x51, 0x52, 0x01};
    uint64_t pos = off + 1;
    while (limit - pos >= REC_HDR) {
        size_t n = limit - pos > READ_CHUNK ? READ_CHUNK : (size_t)(limit - pos);
        const unsigned char *w = rfile_get(f, pos, n, limit, err);
        if (!w)
            return REC_IOERR;
        const unsigned char *hit = memmem(w, n, magic, 4);
        if (!hit) {
            pos += n > 3 ? n - 3 : 1;
            continue;
        }
        uint64_t cand = pos + (uint64_t)(hit - w);
        if (header_at(f, cand, limit, &len, err)) {
            *next = cand;
            return REC_BAD;
        }
        if (*err)
            return REC_IOERR;
        pos = cand + 1;
    }
    return REC_TORN;
}

/* What a walk over one segment found. */
typedef struct scan {
    uint64_t records, bytes; /* valid records and their bytes */
    uint64_t corrupt;
    uint64_t end; /* the end of the last valid record or skipped region: where a torn tail starts */
    int err;      /* a read error stopped the walk at end */
} scan_t;

typedef void (*scan_fn)(void *arg, uint64_t off, const unsigned char *payload, uint32_t len);
typedef void (*bad_fn)(void *arg, uint64_t off, uint64_t next);

/* Walks the records of f from off to size. */
static void scan_records(rfile_t *f, uint64_t off, uint64_t size, scan_t *s, scan_fn on_rec,
                         bad_fn on_bad, void *arg)
{
    memset(s, 0, sizeof(*s));
    while (off < size) {
        const unsigned char *pl;
        uint32_t len;
        uint64_t next;
        int err;
        rec_status_t st = next_record(f, off, size, &pl, &len, &next, &err);
        if (st == REC_TORN)
            break;
        if (st == REC_IOERR) {
            s->err = err;
            break;
        }
        if (st == REC_OK) {
            s->records++;
            s->bytes += next - off;
            if (on_rec)
                on_rec(arg, off, pl, len);
        } else {
            s->corrupt++;
            if (on_bad)
                on_bad(arg, off, next);
        }
        off = next;
    }
    s->end = off;
}

/* ---- The queue ------------------------------------------------------------------------------ */

typedef struct seg {
    struct seg *next;
    uint64_t seq;
    int fd;           /* -1 while closed: open only while head, tail or being read */
    uint64_t size;    /* bytes of header and records */
    uint64_t start;   /* first record not acknowledged, as in the header */
    uint64_t waiting; /* records of the disk region in this segment */
    bool writable;    /* the segment this run appends to */
    bool old;         /* found at open: the scan counted its corrupt records */
} seg_t;

typedef struct ent {
    sl_msg_t *m;
    seg_t *seg; /* write-through: the record's segment and end; NULL: in memory only */
    uint64_t end;
} ent_t;

typedef struct batch {
    struct batch *next;
    pthread_t owner;
    size_t left;  /* messages not yet reported */
    bool kept;    /* some were reported discarded: keep the whole batch for the next start */
    size_t ndisc; /* how many were reported discarded (counted as kept) */
    seg_t *seg;   /* disk-backed: acknowledging moves the start to (seg, end) */
    uint64_t end;
    size_t n;
    sl_msg_t *mem[]; /* memory-only: the queue's own references */
} batch_t;

struct sl_dqueue {
    sl_dqueue_conf_t conf;
    char *dir;
    int dirfd;
    int lockfd;
    bool wt; /* write-through (sync: batch) */

    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pthread_cond_t idle;

    ent_t *ring;
    size_t cap;
    size_t head;
    size_t count;

    seg_t *segs;   /* oldest first */
    seg_t *tail;   /* the last segment */
    seg_t *rd_seg; /* the disk region's first record, NULL when it is empty */
    uint64_t rd_off;
    uint64_t waiting_disk;
    uint64_t disk_bytes;
    uint64_t next_seq;
    uint64_t front_seq; /* the lowest segment number written by a shutdown in this run */
    uint64_t appended;  /* bytes written in this run: what a sync must cover */
    int *psync;         /* dup()ed descriptors of closed segments not yet synced */
    size_t npsync, cappsync;
    rfile_t rf; /* the read cache, over rf_seg */
    seg_t *rf_seg;

    batch_t *batches; /* in pop order */
    uint64_t in_flight;
    uint64_t kept;

    uint64_t enqueued, delivered, failed;
    uint64_t discarded_by[SL_QUEUE_DISCARD_COUNT];
    uint64_t flow_control_pauses, high_watermark;
    uint64_t replayed, spilled, persisted, corrupt, lost, torn, io_errors;
    unsigned log_lines;
    int closed;
    int persisting;
    unsigned producers_waiting, consumers_waiting, drainers_waiting;

    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    uint64_t synced; /* appended bytes known durable */
    bool sync_stop;
    bool sync_thread_running;
    pthread_t sync_thread;
    atomic_uint_least64_t syncs;
};

static void qlog(sl_dqueue_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qlog(sl_dqueue_t *q, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sluice: disk queue %s: %s\n", q->dir, line);
}

/* Logs a corrupt region, at most LOG_LINES_MAX times per queue (then once more to say so). */
static void log_corrupt(sl_dqueue_t *q, uint64_t seq, uint64_t off, uint64_t next)
{
    if (q->log_lines > LOG_LINES_MAX)
        return;
    if (q->log_lines++ == LOG_LINES_MAX) {
        qlog(q, "more corrupt records; no more lines about them (see the counters)");
        return;
    }
    char name[24];
    seg_name(name, seq);
    qlog(q, "%s: corrupt record at offset %" PRIu64 ", %" PRIu64 " bytes skipped", name, off,
         next - off);
}

static void io_error(sl_dqueue_t *q, const char *what, uint64_t seq, int err)
{
    q->io_errors++;
    if (q->io_errors > LOG_LINES_MAX)
        return;
    char name[24];
    seg_name(name, seq);
    qlog(q, "%s %s: %s", what, name, strerror(err));
}

static int seg_fd(sl_dqueue_t *q, seg_t *s)
{
    if (s->fd < 0) {
        char name[24];
        seg_name(name, s->seq);
        s->fd = openat(q->dirfd, name, O_RDWR | O_CLOEXEC);
        if (s->fd < 0) {
            int e = errno;
            io_error(q, "cannot open", s->seq, e);
            return -e;
        }
    }
    return s->fd;
}

/* Closes a segment's descriptor unless it is still needed soon (head, tail, being read). */
static void seg_idle(sl_dqueue_t *q, seg_t *s)
{
    if (s->fd < 0 || s == q->segs || s == q->tail || s == q->rd_seg)
        return;
    if (q->rf_seg == s)
        q->rf_seg = NULL;
    close(s->fd);
    s->fd = -1;
}

static int write_all_at(int fd, const void *p, size_t n, uint64_t off)
{
    const unsigned char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static void seg_write_start(sl_dqueue_t *q, seg_t *s)
{
    unsigned char h[SEG_HDR];
    put_seg_header(h, s->seq, s->start);
    int fd = seg_fd(q, s);
    int rc = fd < 0 ? fd : write_all_at(fd, h, SEG_HDR, 0);
    if (rc < 0)
        io_error(q, "cannot update the header of", s->seq, -rc);
}

/* Removes a segment whose records were all acknowledged (or that holds none). */
static void seg_delete(sl_dqueue_t *q, seg_t *s)
{
    sl_assert(s != q->rd_seg);
    seg_t **pp = &q->segs;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    if (q->tail == s) {
        q->tail = NULL;
        for (seg_t *t = q->segs; t; t = t->next)
            q->tail = t;
    }
    if (q->rf_seg == s)
        q->rf_seg = NULL;
    char name[24];
    seg_name(name, s->seq);
    if (unlinkat(q->dirfd, name, 0) < 0)
        io_error(q, "cannot delete", s->seq, errno);
    if (s->fd >= 0)
        close(s->fd);
    q->disk_bytes -= s->size;
    free(s);
    if (q->producers_waiting)
        pthread_cond_broadcast(&q->not_full);
}

static bool idle_locked(const sl_dqueue_t *q)
{
    return q->in_flight == 0 && (q->persisting || (q->count == 0 && q->waiting_disk == 0));
}

static void wake_idle(sl_dqueue_t *q)
{
    if (q->drainers_waiting && idle_locked(q))
        pthread_cond_broadcast(&q->idle);
}

/* Creates the next segment and makes it the tail the writes go to. */
static int seg_create(sl_dqueue_t *q)
{
    uint64_t seq = q->next_seq;
    char name[24];
    seg_name(name, seq);
    seg_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int fd = openat(q->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    unsigned char h[SEG_HDR];
    put_seg_header(h, seq, SEG_HDR);
    int rc = fd < 0 ? -errno : write_all_at(fd, h, SEG_HDR, 0);
    if (rc == 0 && q->conf.sync != SL_DQUEUE_SYNC_NONE && fsync(q->dirfd) < 0)
        rc = -errno;
    if (rc < 0) {
        io_error(q, "cannot create", seq, -rc);
        if (fd >= 0) {
            close(fd);
            unlinkat(q->dirfd, name, 0);
        }
        free(s);
        return rc;
    }
    q->next_seq++;
    s->seq = seq;
    s->fd = fd;
    s->size = s->start = SEG_HDR;
    s->writable = true;
    seg_t *old = q->tail;
    if (old)
        old->next = s;
    else
        q->segs = s;
    q->tail = s;
    q->disk_bytes += SEG_HDR;
    q->appended += SEG_HDR;
    if (old && old->writable) {
        old->writable = false;
        if (old->start == old->size && old != q->rd_seg) {
            seg_delete(q, old);
        } else {
            /* Its last bytes may not be durable yet: the next sync covers them too. */
            if (q->conf.sync != SL_DQUEUE_SYNC_NONE && old->fd >= 0) {
                int d = dup(old->fd);
                if (d >= 0 && q->npsync == q->cappsync) {
                    size_t nc = q->cappsync ? 2 * q->cappsync : 4;
                    int *v = realloc(q->psync, nc * sizeof(*v));
                    if (v) {
                        q->psync = v;
                        q->cappsync = nc;
                    }
                }
                if (d >= 0 && q->npsync < q->cappsync) {
                    q->psync[q->npsync++] = d;
                } else {
                    if (d >= 0)
                        close(d);
                    if (fdatasync(old->fd) < 0)
                        io_error(q, "cannot sync", old->seq, errno);
                }
            }
            seg_idle(q, old);
        }
    }
    return 0;
}

/* Messages in the disk region of the reader's segment that cannot be read are lost: count them
 * as failed (they were enqueued), then move the reader to the next segment. */
static void reader_next_seg(sl_dqueue_t *q)
{
    seg_t *s = q->rd_seg;
    if (s->waiting) {
        q->lost += s->waiting;
        q->failed += s->waiting;
        q->waiting_disk -= s->waiting;
        char name[24];
        seg_name(name, s->seq);
        qlog(q, "%s: %" PRIu64 " records could not be read back and count as failed", name,
             s->waiting);
        s->waiting = 0;
    }
    q->rd_seg = s->writable ? NULL : s->next;
    q->rd_off = q->rd_seg ? q->rd_seg->start : 0;
    sl_assert(q->rd_seg || q->waiting_disk == 0);
    seg_idle(q, s);
    wake_idle(q);
}

/*
 * Reads up to max messages from the disk region into out[]. Sets *end_seg and *end_off to the
 * position after what it consumed (records and skipped bytes). Returns how many it read; *err is
 * set when it stopped early for a read error or lack of memory.
 */
static size_t read_disk(sl_dqueue_t *q, sl_msg_t **out, size_t max, seg_t **end_seg,
                        uint64_t *end_off, int *err)
{
    size_t k = 0;
    *err = 0;
    while (k < max && q->rd_seg) {
        seg_t *s = q->rd_seg;
        if (q->rd_off >= s->size) {
            reader_next_seg(q);
            continue;
        }
        int fd = seg_fd(q, s);
        if (fd < 0) {
            *err = fd;
            break;
        }
        if (q->rf_seg != s) {
            rfile_reset(&q->rf, fd);
            q->rf_seg = s;
        }
        const unsigned char *pl;
        uint32_t len;
        uint64_t next;
        int e;
        rec_status_t st = next_record(&q->rf, q->rd_off, s->size, &pl, &len, &next, &e);
        if (st == REC_IOERR) {
            io_error(q, "cannot read", s->seq, -e);
            q->rf_seg = NULL;
            *err = e;
            break;
        }
        if (st == REC_OK) {
            int rc = decode(pl, len, &out[k]);
            if (rc < 0) {
                *err = rc;
                break;
            }
            k++;
            s->waiting--;
            q->waiting_disk--;
        } else if (st == REC_BAD) {
            if (!s->old) {
                q->corrupt++;
                log_corrupt(q, s->seq, q->rd_off, next);
            }
        } else {
            next = s->size;
            if (!s->old) {
                q->corrupt++;
                log_corrupt(q, s->seq, q->rd_off, next);
            }
        }
        q->rd_off = next;
        *end_seg = s;
        *end_off = next;
        if (q->rd_off >= s->size)
            reader_next_seg(q);
    }
    return k;
}

/* ---- Opening: recovery ---------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct bad_ctx {
    sl_dqueue_t *q;
    uint64_t seq;
};

static void on_bad_open(void *arg, uint64_t off, uint64_t next)
{
    struct bad_ctx *c = arg;
    log_corrupt(c->q, c->seq, off, next);
}

/* Checks one segment left by an earlier run and adds it to the list, or deletes it when it has
 * nothing left to replay. */
static int recover_seg(sl_dqueue_t *q, uint64_t seq, rfile_t *rf)
{
    char name[24];
    seg_name(name, seq);
    int fd = openat(q->dirfd, name, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        qlog(q, "%s: cannot open: %s", name, strerror(e));
        return -e;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t start = SEG_HDR;
    unsigned char h[SEG_HDR];
    ssize_t r = size >= SEG_HDR ? pread(fd, h, SEG_HDR, 0) : 0;
    bool header_ok = r == (ssize_t)SEG_HDR && memcmp(h, SEG_MAGIC, 8) == 0 && get64(h + 8) == seq &&
                     get32(h + 24) == sl_crc32c(0, h, 24) && get64(h + 16) >= SEG_HDR &&
                     get64(h + 16) <= size;
    if (header_ok)
        start = get64(h + 16);
    else if (size > 0)
        qlog(q, "%s: damaged header, replaying the whole segment", name);

    rfile_reset(rf, fd);
    scan_t sc = {0};
    struct bad_ctx bc = {q, seq};
    if (start < size)
        scan_records(rf, start, size, &sc, NULL, on_bad_open, &bc);
    else
        sc.end = start;
    q->corrupt += sc.corrupt;
    if (sc.err) {
        qlog(q, "%s: read error at offset %" PRIu64 ": %s; the rest is not replayed", name, sc.end,
             strerror(-sc.err));
        q->io_errors++;
    } else if (sc.end < size) {
        q->torn += size - sc.end;
        qlog(q, "%s: torn tail at offset %" PRIu64 ", %" PRIu64 " bytes cut off", name, sc.end,
             size - sc.end);
        if (ftruncate(fd, (off_t)sc.end) < 0)
            qlog(q, "%s: cannot truncate: %s", name, strerror(errno));
    }
    size = sc.end > SEG_HDR ? sc.end : (size < SEG_HDR ? size : SEG_HDR);
    if (sc.records == 0) {
        close(fd);
        if (unlinkat(q->dirfd, name, 0) < 0)
            qlog(q, "%s: cannot delete: %s", name, strerror(errno));
        return 0;
    }
    if (!header_ok) {
        /* Rewrite the header so that what is acknowledged next is recorded. */
        put_seg_header(h, seq, start);
        if (write_all_at(fd, h, SEG_HDR, 0) < 0)
            qlog(q, "%s: cannot rewrite the header: %s", name, strerror(errno));
    }
    seg_t *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    s->seq = seq;
    s->fd = fd;
    s->size = size;
    s->start = start;
    s->waiting = sc.records;
    s->old = true;
    if (q->tail)
        q->tail->next = s;
    else
        q->segs = s;
    q->tail = s;
    q->disk_bytes += size;
    q->waiting_disk += sc.records;
    q->replayed += sc.records;
    q->enqueued += sc.records;
    return 0;
}

static int recover(sl_dqueue_t *q)
{
    int d = dup(q->dirfd);
    DIR *dir = d >= 0 ? fdopendir(d) : NULL;
    if (!dir) {
        if (d >= 0)
            close(d);
        return -errno;
    }
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        uint64_t seq = seg_name_seq(e->d_name);
        if (seq == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            uint64_t *v = realloc(seqs, nc * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            seqs = v;
            cap = nc;
        }
        seqs[n++] = seq;
    }
    closedir(dir);
    if (rc == 0 && n)
        qsort(seqs, n, sizeof(*seqs), cmp_u64);
    rfile_t rf = {.fd = -1};
    q->next_seq = SEQ_FIRST;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* A segment that cannot be opened is left where it is (and said so); only a lack of
         * memory stops the start. */
        if (recover_seg(q, seqs[i], &rf) == -ENOMEM)
            rc = -ENOMEM;
        if (seqs[i] >= q->next_seq)
            q->next_seq = seqs[i] + 1;
    }
    /* Shutdown segments go below every segment there is, even one that could not be read. */
    q->front_seq = n ? seqs[0] : q->next_seq;
    free(rf.buf);
    free(seqs);
    for (seg_t *s = q->segs; s; s = s->next) {
        if (s != q->segs && s != q->tail) {
            close(s->fd);
            s->fd = -1;
        }
    }
    q->rd_seg = q->segs;
    q->rd_off = q->segs ? q->segs->start : 0;
    if (q->replayed)
        qlog(q, "%" PRIu64 " messages to replay from %" PRIu64 " bytes of segments", q->replayed,
             q->disk_bytes);
    return rc;
}

/* ---- Syncing ----------------------------------------------------------------------------------
 */

/*
 * Makes the appended bytes durable, up to at least target (UINT64_MAX: whatever was appended).
 * Called without q->lock. Returns at once when an earlier round already covered target.
 */
static void sync_to(sl_dqueue_t *q, uint64_t target)
{
    pthread_mutex_lock(&q->sync_lock);
    if (q->synced >= target) {
        pthread_mutex_unlock(&q->sync_lock);
        return;
    }
    pthread_mutex_lock(&q->lock);
    uint64_t goal = q->appended;
    int *fds = q->psync;
    size_t nfds = q->npsync;
    q->psync = NULL;
    q->npsync = q->cappsync = 0;
    int tfd = q->tail && q->tail->writable && q->tail->fd >= 0 ? dup(q->tail->fd) : -1;
    uint64_t tseq = q->tail ? q->tail->seq : 0;
    pthread_mutex_unlock(&q->lock);

    int err = 0;
    if (goal > q->synced) {
        for (size_t i = 0; i < nfds; i++) {
            if (fdatasync(fds[i]) < 0)
                err = errno;
        }
        if (tfd >= 0 && fdatasync(tfd) < 0)
            err = errno;
        atomic_fetch_add_explicit(&q->syncs, 1, memory_order_relaxed);
    }
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    free(fds);
    if (tfd >= 0)
        close(tfd);
    if (err) {
        pthread_mutex_lock(&q->lock);
        io_error(q, "cannot sync", tseq, err);
        pthread_mutex_unlock(&q->lock);
    }
    if (goal > q->synced)
        q->synced = goal;
    pthread_mutex_unlock(&q->sync_lock);
}

static void *sync_main(void *arg)
{
    sl_dqueue_t *q = arg;
    pthread_mutex_lock(&q->sync_lock);
    while (!q->sync_stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += q->conf.sync_interval_ms / 1000;
        t.tv_nsec += (long)(q->conf.sync_interval_ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        while (!q->sync_stop && pthread_cond_timedwait(&q->sync_cond, &q->sync_lock, &t) == 0)
            ;
        if (q->sync_stop)
            break;
        pthread_mutex_unlock(&q->sync_lock);
        sync_to(q, UINT64_MAX);
        pthread_mutex_lock(&q->sync_lock);
    }
    pthread_mutex_unlock(&q->sync_lock);
    return NULL;
}

/* ---- Open and destroy ------------------------------------------------------------------------ */

int sl_dqueue_open(sl_dqueue_t **out, const sl_dqueue_conf_t *conf)
{
    *out = NULL;
    if (!conf || !conf->dir || !conf->dir[0] || conf->memory_messages > SIZE_MAX / sizeof(ent_t) ||
        (conf->sync != SL_DQUEUE_SYNC_INTERVAL && conf->sync != SL_DQUEUE_SYNC_BATCH &&
         conf->sync != SL_DQUEUE_SYNC_NONE))
        return -EINVAL;
    sl_dqueue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->conf = *conf;
    if (q->conf.max_disk == 0)
        q->conf.max_disk = UINT64_C(1) << 30;
    if (q->conf.max_disk < (UINT64_C(1) << 20))
        q->conf.max_disk = UINT64_C(1) << 20;
    if (q->conf.segment_size == 0) {
        uint64_t s = q->conf.max_disk / 8;
        q->conf.segment_size = s < (64u << 10) ? (64u << 10) : s > (16u << 20) ? (16u << 20) : s;
    }
    if (q->conf.segment_size > q->conf.max_disk / 2)
        q->conf.segment_size = q->conf.max_disk / 2;
    if (q->conf.sync_interval_ms <= 0)
        q->conf.sync_interval_ms = 1000;
    q->wt = q->conf.sync == SL_DQUEUE_SYNC_BATCH;
    q->cap = conf->memory_messages;
    q->dirfd = q->lockfd = -1;
    q->rf.fd = -1;
    q->dir = strdup(conf->dir);
    q->conf.dir = q->dir;
    q->ring = malloc((q->cap ? q->cap : 1) * sizeof(*q->ring));
    int rc = -ENOMEM;
    if (!q->dir || !q->ring)
        goto fail_mem;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->sync_lock, NULL);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_cond_init(&q->idle, &ca);
    pthread_cond_init(&q->sync_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&q->syncs, 0);

    rc = sl_mkdir_all(q->dir, 0700);
    if (rc < 0)
        goto fail;
    q->dirfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (q->dirfd < 0) {
        rc = -errno;
        goto fail;
    }
    q->lockfd = openat(q->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (q->lockfd < 0) {
        rc = -errno;
        goto fail;
    }
    if (flock(q->lockfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        goto fail;
    }
    rc = recover(q);
    if (rc < 0)
        goto fail;
    if (q->conf.sync == SL_DQUEUE_SYNC_INTERVAL) {
        rc = -pthread_create(&q->sync_thread, NULL, sync_main, q);
        if (rc < 0)
            goto fail;
        q->sync_thread_running = true;
    }
    *out = q;
    return 0;

fail:
    for (seg_t *s = q->segs, *nx; s; s = nx) {
        nx = s->next;
        if (s->fd >= 0)
            close(s->fd);
        free(s);
    }
    if (q->lockfd >= 0)
        close(q->lockfd);
    if (q->dirfd >= 0)
        close(q->dirfd);
    pthread_cond_destroy(&q->sync_cond);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->sync_lock);
    pthread_mutex_destroy(&q->lock);
fail_mem:
    free(q->ring);
    free(q->dir);
    free(q);
    return rc;
}

/* Serialises msgs[0..n) into one buffer; off[i] is where record i starts, off[n] the end. */
static int serialize(sl_msg_t *const *msgs, size_t n, unsigned char **buf, size_t **off)
{
    size_t *o = malloc((n + 1) * sizeof(*o));
    if (!o)
        return -ENOMEM;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = total;
        total += record_size(msgs[i]);
    }
    o[n] = total;
    unsigned char *b = malloc(total ? total : 1);
    if (!b) {
        free(o);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (payload_size(msgs[i]) <= MAX_PAYLOAD)
            put_record(b + o[i], msgs[i]);
    }
    *buf = b;
    *off = o;
    return 0;
}

/*
 * Writes msgs[0..n) (memory messages at shutdown, oldest first) to a new segment numbered before
 * every other, so the next start replays them first. Called with the lock held (shutdown path).
 * Returns 0 or a negative errno (nothing was kept then).
 */
static int write_front(sl_dqueue_t *q, sl_msg_t *const *msgs, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t low = q->segs && q->segs->seq < q->front_seq ? q->segs->seq : q->front_seq;
    if (low <= 1)
        return -ERANGE;
    uint64_t seq = low - 1;
    unsigned char *buf;
    size_t *off;
    int rc = serialize(msgs, n, &buf, &off);
    if (rc < 0)
        return rc;
    char name[24];
    seg_name(name, seq);
    int fd = openat(q->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    unsigned char h[SEG_HDR];
    put_seg_header(h, seq, SEG_HDR);
    rc = write_all_at(fd, h, SEG_HDR, 0);
    /* A message too big for a record cannot be kept: it has no room in the file format. */
    uint64_t at = SEG_HDR;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (payload_size(msgs[i]) > MAX_PAYLOAD)
            continue;
        rc = write_all_at(fd, buf + off[i], off[i + 1] - off[i], at);
        at += off[i + 1] - off[i];
    }
    if (rc == 0 && q->conf.sync != SL_DQUEUE_SYNC_NONE &&
        (fdatasync(fd) < 0 || fsync(q->dirfd) < 0))
        rc = -errno;
    close(fd);
    if (rc < 0)
        unlinkat(q->dirfd, name, 0);
    else
        q->front_seq = seq;
out:
    free(buf);
    free(off);
    return rc;
}

/*
 * Writes the memory messages of kept batches (oldest first) and of the ring to a shutdown
 * segment, so that none is lost. Called with the lock held; the references the queue held are
 * handed to *release (the caller releases them after unlocking). In write-through mode the ring
 * is on disk already and only its references go. Returns how many messages it wrote.
 */
static size_t persist_locked(sl_dqueue_t *q, sl_msg_t ***release, size_t *nrelease)
{
    size_t nmem = 0, nring = q->count;
    for (batch_t *b = q->batches; b; b = b->next) {
        if (b->kept && b->left == 0 && !b->seg)
            nmem += b->n;
    }
    *release = NULL;
    *nrelease = 0;
    if (nmem + nring == 0)
        return 0;
    sl_msg_t **v = malloc((nmem + nring) * sizeof(*v));
    if (!v) {
        qlog(q, "out of memory at shutdown: %zu messages stay in memory", nmem + nring);
        return 0; /* they stay where they are; destroy tries again */
    }
    size_t k = 0;
    for (batch_t *b = q->batches; b; b = b->next) {
        if (b->kept && b->left == 0 && !b->seg) {
            memcpy(v + k, b->mem, b->n * sizeof(*v));
            k += b->n;
        }
    }
    for (size_t i = 0; i < nring; i++)
        v[k++] = q->ring[(q->head + i) % q->cap].m;
    size_t to_write = q->wt ? nmem : nmem + nring;
    size_t too_big = 0;
    for (size_t i = 0; i < to_write; i++)
        too_big += payload_size(v[i]) > MAX_PAYLOAD;
    int rc = write_front(q, v, to_write);
    if (rc < 0) {
        qlog(q, "cannot write %zu messages at shutdown: %s; they are lost", to_write,
             strerror(-rc));
        q->io_errors++;
    } else {
        q->persisted += to_write - too_big;
    }
    /* The ring's messages are now on disk, for the next start (or lost, and counted so). */
    uint64_t ring_lost = q->wt ? 0 : rc < 0 ? nring : too_big;
    q->kept += nring - ring_lost;
    q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += ring_lost;
    q->count = 0;
    q->head = 0;
    for (batch_t **pp = &q->batches; *pp;) {
        batch_t *b = *pp;
        if (b->kept && b->left == 0 && !b->seg) {
            if (rc < 0) {
                /* The messages it reported discarded were counted as kept; they are lost. */
                q->kept -= b->ndisc;
                q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += b->ndisc;
            }
            *pp = b->next;
            free(b);
        } else {
            pp = &b->next;
        }
    }
    *release = v;
    *nrelease = k;
    return rc < 0 ? 0 : to_write - too_big;
}

size_t sl_dqueue_purge(sl_dqueue_t *q)
{
    sl_msg_t **rel;
    size_t nrel;
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    q->persisting = 1;
    size_t n = persist_locked(q, &rel, &nrel);
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    wake_idle(q);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < nrel; i++)
        sl_msg_unref(rel[i]);
    free(rel);
    return n;
}

void sl_dqueue_destroy(sl_dqueue_t *q)
{
    if (!q)
        return;
    sl_dqueue_purge(q);
    if (q->sync_thread_running) {
        pthread_mutex_lock(&q->sync_lock);
        q->sync_stop = true;
        pthread_cond_broadcast(&q->sync_cond);
        pthread_mutex_unlock(&q->sync_lock);
        pthread_join(q->sync_thread, NULL);
    }
    if (q->conf.sync != SL_DQUEUE_SYNC_NONE)
        sync_to(q, UINT64_MAX);
    pthread_mutex_lock(&q->lock);
    sl_assert(q->in_flight == 0);
    /* Only when persisting could not even allocate: what is left is lost, and counted. */
    for (size_t i = 0; i < q->count; i++)
        sl_msg_unref(q->ring[(q->head + i) % q->cap].m);
    q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += q->count;
    q->count = 0;
    sl_assert(q->producers_waiting == 0 && q->consumers_waiting == 0 && q->drainers_waiting == 0);
    for (batch_t *b = q->batches, *nx; b; b = nx) {
        nx = b->next;
        for (size_t i = 0; i < (b->seg ? 0 : b->n); i++)
            sl_msg_unref(b->mem[i]);
        free(b);
    }
    for (seg_t *s = q->segs, *nx; s; s = nx) {
        nx = s->next;
        /* The segment being written is kept for reuse while running; with nothing left in
         * it, it goes now, so a drained queue leaves no files behind. */
        if (s->start >= s->size) {
            char name[24];
            seg_name(name, s->seq);
            unlinkat(q->dirfd, name, 0);
        }
        if (s->fd >= 0)
            close(s->fd);
        free(s);
    }
    for (size_t i = 0; i < q->npsync; i++)
        close(q->psync[i]);
    pthread_mutex_unlock(&q->lock);
    free(q->psync);
    free(q->rf.buf);
    close(q->lockfd);
    close(q->dirfd);
    pthread_cond_destroy(&q->sync_cond);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->sync_lock);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q->dir);
    free(q);
}

/* ---- Push ------------------------------------------------------------------------------------ */

static void ring_put(sl_dqueue_t *q, sl_msg_t *m, seg_t *seg, uint64_t end)
{
    ent_t *e = &q->ring[(q->head + q->count) % q->cap];
    e->m = m;
    e->seg = seg;
    e->end = end;
    q->count++;
    if (q->count > q->high_watermark)
        q->high_watermark = q->count;
}

/* State of one push that goes (partly) through the disk. */
typedef struct push_ctx {
    sl_msg_t *const *msgs;
    size_t n;
    size_t ser; /* msgs[ser..n) are serialised in buf; n while none are */
    unsigned char *buf;
    size_t *off; /* off[i - ser]: where msgs[i]'s record starts in buf */
    bool *unref; /* unref[i - ser]: the queue does not keep msgs[i] (written or refused) */
    bool wrote;
} push_ctx_t;

static size_t rec_len(const push_ctx_t *c, size_t i)
{
    return c->off[i - c->ser + 1] - c->off[i - c->ser];
}

/*
 * Appends a run of msgs[*i..] to the tail segment with one write. Returns 1 when it settled at
 * least one message (*i moved), 0 when the disk has no room, or a negative errno for a failed
 * write or segment creation (nothing settled).
 */
static int append_run(sl_dqueue_t *q, push_ctx_t *c, size_t *i)
{
    size_t first = *i;
    if (payload_size(c->msgs[first]) > MAX_PAYLOAD || rec_len(c, first) > q->conf.max_disk / 2) {
        /* Bigger than the file format or the disk allows: refused, never waited for. */
        qlog(q, "a message of %u bytes is too big for the disk queue; discarded",
             c->msgs[first]->raw_len);
        q->enqueued++;
        q->discarded_by[SL_QUEUE_DISCARD_FULL]++;
        c->unref[first - c->ser] = true;
        *i = first + 1;
        return 1;
    }
    if (!q->tail || !q->tail->writable ||
        (q->tail->size > SEG_HDR && q->tail->size + rec_len(c, first) > q->conf.segment_size)) {
        int rc = seg_create(q);
        if (rc < 0)
            return rc;
    }
    seg_t *t = q->tail;
    size_t j = first, len = 0;
    while (j < c->n) {
        size_t rl = rec_len(c, j);
        if (payload_size(c->msgs[j]) > MAX_PAYLOAD || rl > q->conf.max_disk / 2)
            break;
        if (len > 0 && t->size + len + rl > q->conf.segment_size)
            break;
        if (q->disk_bytes + len + rl > q->conf.max_disk)
            break;
        len += rl;
        j++;
    }
    if (j == first)
        return 0;
    int fd = seg_fd(q, t);
    int rc = fd < 0 ? fd : write_all_at(fd, c->buf + c->off[first - c->ser], len, t->size);
    if (rc < 0) {
        io_error(q, "cannot write to", t->seq, -rc);
        if (fd >= 0 && ftruncate(fd, (off_t)t->size) < 0)
            io_error(q, "cannot truncate", t->seq, errno);
        if (q->rf_seg == t)
            q->rf_seg = NULL;
        return rc;
    }
    uint64_t at = t->size;
    for (size_t k = first; k < j; k++) {
        uint64_t end = at + rec_len(c, k);
        if (q->wt && q->waiting_disk == 0 && q->count < q->cap) {
            ring_put(q, c->msgs[k], t, end);
        } else {
            if (q->waiting_disk == 0) {
                q->rd_seg = t;
                q->rd_off = at;
            }
            t->waiting++;
            q->waiting_disk++;
            q->spilled++;
            c->unref[k - c->ser] = true;
        }
        q->enqueued++;
        at = end;
    }
    t->size = at;
    q->disk_bytes += len;
    q->appended += len;
    c->wrote = true;
    *i = j;
    if (q->consumers_waiting)
        pthread_cond_broadcast(&q->not_empty);
    return 1;
}

/* Waits on not_full, at most ms milliseconds when ms >= 0. Called with the lock held. */
static void wait_room(sl_dqueue_t *q, int ms)
{
    q->producers_waiting++;
    if (ms < 0) {
        pthread_cond_wait(&q->not_full, &q->lock);
    } else {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += (long)ms * 1000000L;
        while (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q->not_full, &q->lock, &t);
    }
    q->producers_waiting--;
}

int sl_dqueue_push(sl_dqueue_t *q, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode)
{
    sl_assert(mode == SL_QUEUE_BLOCK || mode == SL_QUEUE_DROP);
    sl_assert(n <= INT_MAX);
    push_ctx_t c = {.msgs = msgs, .n = n, .ser = n};
    size_t i = 0, refused_from = n;
    int rc = 0;
    bool paused = false;

    if (q->wt && n > 0) {
        /* Everything goes to disk: serialise before taking the lock. */
        c.unref = calloc(n, sizeof(*c.unref));
        if (c.unref && serialize(msgs, n, &c.buf, &c.off) == 0)
            c.ser = 0;
    }
    pthread_mutex_lock(&q->lock);
    while (i < n) {
        if (q->closed) {
            refused_from = i;
            q->enqueued += n - i;
            q->discarded_by[SL_QUEUE_DISCARD_SHUTDOWN] += n - i;
            rc = -ESHUTDOWN;
            break;
        }
        if (!q->wt && q->waiting_disk == 0 && q->count < q->cap) {
            size_t k = n - i < q->cap - q->count ? n - i : q->cap - q->count;
            for (size_t j = 0; j < k; j++)
                ring_put(q, msgs[i + j], NULL, 0);
            q->enqueued += k;
            i += k;
            if (q->consumers_waiting)
                pthread_cond_broadcast(&q->not_empty);
            continue;
        }
        if (c.ser > i) {
            /* The rest goes to disk: serialise it without the lock (once; on failure, wait). */
            pthread_mutex_unlock(&q->lock);
            free(c.unref);
            c.unref = calloc(n - i, sizeof(*c.unref));
            int s = c.unref ? serialize(msgs + i, n - i, &c.buf, &c.off) : -ENOMEM;
            pthread_mutex_lock(&q->lock);
            if (s == 0) {
                c.ser = i;
                continue;
            }
            if (mode == SL_QUEUE_DROP) {
                refused_from = i;
                q->enqueued += n - i;
                q->discarded_by[SL_QUEUE_DISCARD_FULL] += n - i;
                rc = (int)(n - i);
                break;
            }
            wait_room(q, 100);
            continue;
        }
        int r = append_run(q, &c, &i);
        if (r > 0)
            continue;
        /* No room on disk (or a write failed): refuse or wait, as for a full memory queue. */
        if (mode == SL_QUEUE_DROP) {
            refused_from = i;
            q->enqueued += n - i;
            q->discarded_by[SL_QUEUE_DISCARD_FULL] += n - i;
            rc = (int)(n - i);
            break;
        }
        if (!paused) {
            paused = true;
            q->flow_control_pauses++;
        }
        /* Room comes back when workers finish a segment; a failed write is retried later. */
        wait_room(q, r < 0 ? 1000 : -1);
    }
    uint64_t target = q->appended;
    pthread_mutex_unlock(&q->lock);

    if (c.ser < n) {
        for (size_t k = c.ser; k < refused_from; k++) {
            if (c.unref[k - c.ser])
                sl_msg_unref(msgs[k]);
        }
    }
    for (size_t k = refused_from; k < n; k++)
        sl_msg_unref(msgs[k]);
    free(c.buf);
    free(c.off);
    free(c.unref);
    if (c.wrote && q->conf.sync == SL_DQUEUE_SYNC_BATCH)
        sync_to(q, target);
    return rc;
}

/* ---- Pop and done -----------------------------------------------------------------------------
 */

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

static void batch_append(sl_dqueue_t *q, batch_t *b)
{
    batch_t **pp = &q->batches;
    while (*pp)
        pp = &(*pp)->next;
    *pp = b;
}

int sl_dqueue_pop(sl_dqueue_t *q, sl_msg_t **out, size_t max, int timeout_ms)
{
    if (max == 0)
        return -EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    bool timed_out = timeout_ms == 0;
    /* Allocated before the lock: room for a memory-only batch of max references. */
    batch_t *b = malloc(sizeof(*b) + (q->wt ? 0 : max * sizeof(sl_msg_t *)));
    if (!b) {
        struct timespec t;
        deadline_after(&t, 100);
        pthread_mutex_lock(&q->lock);
        pthread_cond_timedwait(&q->not_empty, &q->lock, &t);
        pthread_mutex_unlock(&q->lock);
        return -ETIMEDOUT;
    }
    memset(b, 0, sizeof(*b));
    b->owner = pthread_self();

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->persisting ||
            ((q->count == 0 && q->waiting_disk == 0) && (q->closed || timed_out))) {
            int rc = q->persisting || q->closed ? 0 : -ETIMEDOUT;
            pthread_mutex_unlock(&q->lock);
            free(b);
            return rc;
        }
        if (q->count > 0)
            break;
        if (q->waiting_disk > 0) {
            int err;
            seg_t *end_seg = NULL;
            uint64_t end_off = 0;
            size_t k = read_disk(q, out, max, &end_seg, &end_off, &err);
            if (k > 0) {
                b->left = b->n = k;
                b->seg = end_seg;
                b->end = end_off;
                batch_append(q, b);
                q->in_flight += k;
                pthread_mutex_unlock(&q->lock);
                return (int)k;
            }
            if (err) {
                /* A read error or no memory: let the caller come back (and not spin). */
                struct timespec t;
                deadline_after(&t, timeout_ms >= 0 && timeout_ms < 100 ? timeout_ms : 100);
                pthread_cond_timedwait(&q->not_empty, &q->lock, &t);
                pthread_mutex_unlock(&q->lock);
                free(b);
                return -ETIMEDOUT;
            }
            continue; /* only unreadable records were left: look again */
        }
        q->consumers_waiting++;
        if (timeout_ms < 0)
            pthread_cond_wait(&q->not_empty, &q->lock);
        else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline) != 0)
            timed_out = true;
        q->consumers_waiting--;
    }
    size_t k = q->count < max ? q->count : max;
    for (size_t i = 0; i < k; i++) {
        ent_t *e = &q->ring[(q->head + i) % q->cap];
        out[i] = e->m;
        if (e->seg) {
            b->seg = e->seg;
            b->end = e->end;
        } else {
            b->mem[i] = sl_msg_ref(e->m);
        }
    }
    q->head = (q->head + k) % q->cap;
    q->count -= k;
    b->left = k;
    b->n = b->seg ? 0 : k;
    batch_append(q, b);
    q->in_flight += k;
    if (q->producers_waiting)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return (int)k;
}

/* Moves the acknowledged position to (s, off): segments before s are done and deleted. */
static void ack_to(sl_dqueue_t *q, seg_t *s, uint64_t off)
{
    while (q->segs != s)
        seg_delete(q, q->segs);
    if (off <= s->start)
        return;
    s->start = off;
    if (s->start == s->size && !s->writable && s != q->rd_seg) {
        seg_delete(q, s);
        return;
    }
    seg_write_start(q, s);
}

/*
 * Assigns reported messages to batch b: the report covers positions [*pos, total), the last
 * `disc` of them discarded (a worker gives up the end of its batch). A batch that gets any
 * discarded message is kept whole.
 */
static void assign(batch_t *b, size_t *pos, size_t total, size_t disc)
{
    size_t c = total - *pos < b->left ? total - *pos : b->left;
    size_t lo = *pos > total - disc ? *pos : total - disc, hi = *pos + c;
    if (hi > lo) {
        b->kept = true;
        b->ndisc += hi - lo;
    }
    b->left -= c;
    *pos += c;
}

int sl_dqueue_done(sl_dqueue_t *q, size_t delivered, size_t failed, size_t discarded)
{
    batch_t *done = NULL;
    pthread_mutex_lock(&q->lock);
    uint64_t avail = q->in_flight;
    if (delivered > avail || failed > avail - delivered || discarded > avail - delivered - failed) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    size_t total = delivered + failed + discarded, pos = 0;
    /* The calling thread's batches first (a worker reports what it popped), then the oldest. */
    pthread_t self = pthread_self();
    for (batch_t *b = q->batches; b && pos < total; b = b->next) {
        if (b->left && pthread_equal(b->owner, self))
            assign(b, &pos, total, discarded);
    }
    for (batch_t *b = q->batches; b && pos < total; b = b->next) {
        if (b->left)
            assign(b, &pos, total, discarded);
    }
    sl_assert(pos == total);
    q->in_flight -= total;
    q->delivered += delivered;
    q->failed += failed;
    q->kept += discarded;

    /* Completed memory-only batches release their references; completed disk batches at the
     * front move the acknowledged position. */
    seg_t *ack_seg = NULL;
    uint64_t ack_off = 0;
    bool blocked = false;
    for (batch_t **pp = &q->batches; *pp;) {
        batch_t *b = *pp;
        if (!b->seg) {
            if (b->left == 0 && !b->kept) {
                *pp = b->next;
                b->next = done;
                done = b;
                continue;
            }
        } else if (!blocked) {
            if (b->left == 0 && !b->kept) {
                ack_seg = b->seg;
                ack_off = b->end;
                *pp = b->next;
                free(b);
                continue;
            }
            blocked = true;
        }
        pp = &b->next;
    }
    if (ack_seg)
        ack_to(q, ack_seg, ack_off);
    wake_idle(q);
    pthread_mutex_unlock(&q->lock);
    while (done) {
        batch_t *nx = done->next;
        for (size_t i = 0; i < done->n; i++)
            sl_msg_unref(done->mem[i]);
        free(done);
        done = nx;
    }
    return 0;
}

void sl_dqueue_close(sl_dqueue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

int sl_dqueue_drain(sl_dqueue_t *q, const struct timespec *deadline)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (!idle_locked(q)) {
        q->drainers_waiting++;
        int w = deadline ? pthread_cond_timedwait(&q->idle, &q->lock, deadline)
                         : pthread_cond_wait(&q->idle, &q->lock);
        q->drainers_waiting--;
        if (w != 0 && !idle_locked(q)) {
            rc = w == ETIMEDOUT ? -ETIMEDOUT : -w;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void sl_dqueue_stats(sl_dqueue_t *q, sl_dqueue_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&q->lock);
    st->q.enqueued = q->enqueued;
    st->q.delivered = q->delivered;
    st->q.failed = q->failed;
    for (int r = 0; r < SL_QUEUE_DISCARD_COUNT; r++) {
        st->q.discarded_by[r] = q->discarded_by[r];
        st->q.discarded += q->discarded_by[r];
    }
    st->in_memory = q->count;
    st->on_disk = q->waiting_disk;
    st->kept = q->kept;
    st->q.in_ring = q->count + q->waiting_disk + q->kept;
    st->q.in_flight = q->in_flight;
    st->q.queued = st->q.in_ring + st->q.in_flight;
    st->q.flow_control_pauses = q->flow_control_pauses;
    st->q.high_watermark = q->high_watermark;
    st->q.capacity = q->cap;
    st->q.producers_waiting = q->producers_waiting;
    st->q.consumers_waiting = q->consumers_waiting;
    st->q.drainers_waiting = q->drainers_waiting;
    st->q.closed = q->closed;
    st->replayed = q->replayed;
    st->spilled = q->spilled;
    st->persisted = q->persisted;
    st->disk_bytes = q->disk_bytes;
    st->max_disk = q->conf.max_disk;
    for (seg_t *s = q->segs; s; s = s->next)
        st->segments++;
    st->corrupt_records = q->corrupt;
    st->lost_records = q->lost;
    st->torn_bytes = q->torn;
    st->io_errors = q->io_errors;
    pthread_mutex_unlock(&q->lock);
    st->syncs = atomic_load_explicit(&q->syncs, memory_order_relaxed);
}

/* ---- Helpers for the action layer and sluicectl ------------------------------------------- */

int sl_dqueue_dir_for(const char *work_dir, const char *name, char **out)
{
    size_t wl = strlen(work_dir), nl = strlen(name);
    char *p = malloc(wl + sizeof("/queues/") + 3 * nl + 2);
    if (!p)
        return -ENOMEM;
    char *o = p + sprintf(p, "%s/queues/", work_dir);
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)name[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || (c == '.' && i > 0);
        if (plain)
            *o++ = (char)c;
        else
            o += sprintf(o, "%%%02X", c);
    }
    if (nl == 0)
        *o++ = '_';
    *o = '\0';
    *out = p;
    return 0;
}

struct inspect_ctx {
    sl_dqueue_seg_info_t *info;
    uint64_t first_off, last_off;
    bool any;
};

static void on_rec_inspect(void *arg, uint64_t off, const unsigned char *pl, uint32_t len)
{
    struct inspect_ctx *c = arg;
    if (off < c->info->start)
        return;
    c->info->pending++;
    c->info->pending_bytes += REC_HDR + len;
    if (!c->any)
        c->first_off = off;
    c->last_off = off;
    c->any = true;
}

/* Decodes the record at off (known valid). */
static sl_msg_t *decode_at(rfile_t *f, uint64_t off, uint64_t size)
{
    const unsigned char *pl;
    uint32_t len;
    uint64_t next;
    int err;
    sl_msg_t *m = NULL;
    if (next_record(f, off, size, &pl, &len, &next, &err) == REC_OK)
        decode(pl, len, &m);
    return m;
}

int sl_dqueue_inspect(const char *path, sl_dqueue_seg_info_t *info)
{
    memset(info, 0, sizeof(*info));
    const char *base = strrchr(path, '/');
    info->seq = seg_name_seq(base ? base + 1 : path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = -errno;
        if (fd >= 0)
            close(fd);
        return e;
    }
    info->size = (uint64_t)st.st_size;
    unsigned char h[SEG_HDR];
    info->start = SEG_HDR;
    if (info->size >= SEG_HDR && pread(fd, h, SEG_HDR, 0) == (ssize_t)SEG_HDR &&
        memcmp(h, SEG_MAGIC, 8) == 0 && get32(h + 24) == sl_crc32c(0, h, 24) &&
        get64(h + 16) >= SEG_HDR && get64(h + 16) <= info->size &&
        (info->seq == 0 || get64(h + 8) == info->seq)) {
        info->header_ok = 1;
        info->start = get64(h + 16);
        if (info->seq == 0)
            info->seq = get64(h + 8);
    }
    rfile_t rf = {.fd = -1};
    rfile_reset(&rf, fd);
    struct inspect_ctx c = {.info = info};
    scan_t sc = {0};
    if (info->size > SEG_HDR)
        scan_records(&rf, SEG_HDR, info->size, &sc, on_rec_inspect, NULL, &c);
    info->records = sc.records;
    info->corrupt = sc.corrupt;
    info->torn_bytes = info->size > SEG_HDR ? info->size - sc.end : 0;
    int rc = sc.err;
    if (c.any) {
        info->first = decode_at(&rf, c.first_off, info->size);
        info->last = c.last_off != c.first_off ? decode_at(&rf, c.last_off, info->size) : NULL;
        if (!info->last && info->first)
            info->last = sl_msg_ref(info->first);
    }
    free(rf.buf);
    close(fd);
    return rc;
}

/* ---- The queue interface ----------------------------------------------------------------------
 */

static int mq_push(void *q, sl_msg_t *const *m, size_t n, sl_queue_mode_t mode)
{
    return sl_queue_push(q, m, n, mode);
}

static int mq_pop(void *q, sl_msg_t **out, size_t max, int timeout_ms)
{
    return sl_queue_pop(q, out, max, timeout_ms);
}

static int mq_done(void *q, size_t d, size_t f, size_t x)
{
    return sl_queue_done(q, d, f, x);
}

static void mq_close(void *q)
{
    sl_queue_close(q);
}

static int mq_drain(void *q, const struct timespec *deadline)
{
    return sl_queue_drain(q, deadline);
}

static size_t mq_purge(void *q)
{
    return sl_queue_purge(q);
}

static void mq_stats(void *q, sl_queue_stats_t *st)
{
    sl_queue_stats(q, st);
}

static void mq_destroy(void *q)
{
    sl_queue_destroy(q);
}

const sl_queue_ops_t sl_queue_memory_ops = {
    .type = "memory",
    .push = mq_push,
    .pop = mq_pop,
    .done = mq_done,
    .close = mq_close,
    .drain = mq_drain,
    .purge = mq_purge,
    .stats = mq_stats,
    .destroy = mq_destroy,
};

static int dq_push(void *q, sl_msg_t *const *m, size_t n, sl_queue_mode_t mode)
{
    return sl_dqueue_push(q, m, n, mode);
}

static int dq_pop(void *q, sl_msg_t **out, size_t max, int timeout_ms)
{
    return sl_dqueue_pop(q, out, max, timeout_ms);
}

static int dq_done(void *q, size_t d, size_t f, size_t x)
{
    return sl_dqueue_done(q, d, f, x);
}

static void dq_close(void *q)
{
    sl_dqueue_close(q);
}

static int dq_drain(void *q, const struct timespec *deadline)
{
    return sl_dqueue_drain(q, deadline);
}

static size_t dq_purge(void *q)
{
    return sl_dqueue_purge(q);
}

static void dq_stats(void *q, sl_queue_stats_t *st)
{
    sl_dqueue_stats_t ds;
    sl_dqueue_stats(q, &ds);
    *st = ds.q;
}

static void dq_destroy(void *q)
{
    sl_dqueue_destroy(q);
}

const sl_queue_ops_t sl_dqueue_ops = {
    .type = "disk",
    .push = dq_push,
    .pop = dq_pop,
    .done = dq_done,
    .close = dq_close,
    .drain = dq_drain,
    .purge = dq_purge,
    .stats = dq_stats,
    .destroy = dq_destroy,
};
