/*
 * The disk-assisted queue: an action queue with the memory queue's contract (queue.h) that
 * keeps what does not fit in memory, and what is left at shutdown, in checksummed segment files,
 * and replays them when it is opened again.
 *
 * Layout: messages wait in a bounded ring in memory first (memory_messages). When the ring is
 * full, later messages are appended to segment files in the queue's directory (one per action,
 * work_dir/queues/<action>/), and keep going there until the workers have read the disk back
 * (pop takes the ring first, then the files, so the order is kept). With `sync: batch` every
 * message is written (and fdatasync'ed) before push returns and the ring is only a cache of the
 * newest records: a kill -9 loses nothing push accepted. With `interval` or `none` only the
 * overflow reaches the disk while the queue runs, the rest at shutdown (sl_dqueue_purge), so a
 * crash loses at most what was in memory; see docs/dqueue.md for the trade-off.
 *
 * At-least-once: a record leaves the disk (its segment's start offset moves past it, whole
 * segments are deleted once consumed) only when sl_dqueue_done reported it delivered or failed.
 * After a kill -9 a restart may replay what was popped and not yet reported: at most one batch
 * per worker.
 *
 * Same contract as the memory queue, with these differences (all in docs/dqueue.md):
 * - sl_dqueue_done reports on the calling thread's oldest unreported batch first (the disk needs
 *   to know which records are done; a worker reports the batch it popped), then the oldest.
 *   A batch reported with any message discarded (a stopping worker giving up) is kept whole for
 *   the next start: those messages stay counted as queued, not discarded.
 * - sl_dqueue_purge does not discard: it closes the queue, writes what is in memory to disk and
 *   makes later pops return 0, for a shutdown whose drain deadline passed. Destroy does the same
 *   for whatever is left.
 * - Accounting holds in every snapshot as in queue.h; queued also counts the messages kept on
 *   disk for the next start, and the records found when the queue was opened count as enqueued.
 *
 * Concurrency: all calls are thread-safe; see dqueue.c for the locks.
 */
#ifndef SL_DQUEUE_H
#define SL_DQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/msg.h"
#include "core/queue.h"

typedef struct sl_dqueue sl_dqueue_t;

typedef enum sl_dqueue_sync {
    SL_DQUEUE_SYNC_INTERVAL, /* memory first; fdatasync what was written every sync_interval_ms */
    SL_DQUEUE_SYNC_BATCH,    /* every message written and fdatasync'ed before push returns */
    SL_DQUEUE_SYNC_NONE,     /* memory first; the kernel writes back when it likes */
} sl_dqueue_sync_t;

typedef struct sl_dqueue_conf {
    const char *dir;        /* the queue's own directory, created when missing */
    size_t memory_messages; /* messages held in memory; 0: every message goes through disk */
    uint64_t max_disk;      /* bytes of segment files at most; 0: 1 GiB */
    uint64_t segment_size;  /* a segment is closed at this size; 0: max_disk / 8, 64 KiB..16 MiB */
    sl_dqueue_sync_t sync;  /* see above */
    int sync_interval_ms;   /* SL_DQUEUE_SYNC_INTERVAL; <= 0: 1000 */
} sl_dqueue_conf_t;

/* Counters beyond the memory queue's; every field is taken in one snapshot. */
typedef struct sl_dqueue_stats {
    /* The common view: in_ring is everything waiting (memory + disk + kept), capacity is
     * memory_messages, high_watermark the most messages memory held. */
    sl_queue_stats_t q;
    uint64_t in_memory;       /* waiting in the ring */
    uint64_t on_disk;         /* waiting in segment files, to be read in this run */
    uint64_t kept;            /* reported discarded, or written at shutdown: for the next start */
    uint64_t replayed;        /* valid records found when the queue was opened */
    uint64_t spilled;         /* messages written to disk because memory was full or busy */
    uint64_t persisted;       /* memory messages written to disk at shutdown */
    uint64_t disk_bytes;      /* bytes in the live segment files */
    uint64_t max_disk;        /* the bound on disk_bytes */
    uint64_t segments;        /* live segment files */
    uint64_t corrupt_records; /* bad records (CRC, length or content) skipped */
    uint64_t lost_records;    /* records written in this run and unreadable later (in failed) */
    uint64_t torn_bytes;      /* partial records cut off the end of a segment at open */
    uint64_t io_errors;       /* failed writes, reads, syncs and file creations */
    uint64_t syncs;           /* fdatasync rounds */
} sl_dqueue_stats_t;

/*
 * Opens (creating when missing) the queue in conf->dir: takes the directory's lock file (another
 * open queue on the same directory gets -EBUSY), checks every segment left by an earlier run
 * (torn tails cut, corrupt records skipped and counted, one stderr line each) and queues their
 * records, oldest first, ahead of anything pushed later. Returns 0, -EINVAL for a bad conf,
 * -EBUSY, -ENOMEM or the error of a file operation.
 */
int sl_dqueue_open(sl_dqueue_t **out, const sl_dqueue_conf_t *conf);

/*
 * Persists what is still in memory (as sl_dqueue_purge), syncs the files unless sync is none,
 * and frees the queue. No thread may be using it; every popped batch must have been reported.
 * NULL is ignored.
 */
void sl_dqueue_destroy(sl_dqueue_t *q);

/* As sl_queue_push. The records that cannot be written count as discarded (queue full). */
int sl_dqueue_push(sl_dqueue_t *q, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode);

/* As sl_queue_pop; -ETIMEDOUT also after a read error or when out of memory (retry later). */
int sl_dqueue_pop(sl_dqueue_t *q, sl_msg_t **out, size_t max, int timeout_ms);

/* As sl_queue_done; see above for which batch it reports and for discarded messages. */
int sl_dqueue_done(sl_dqueue_t *q, size_t delivered, size_t failed, size_t discarded);

/* As sl_queue_close. */
void sl_dqueue_close(sl_dqueue_t *q);

/* As sl_queue_drain: waits until nothing is left to deliver in this run and nothing is in
 * flight (after sl_dqueue_purge, until nothing is in flight). */
int sl_dqueue_drain(sl_dqueue_t *q, const struct timespec *deadline);

/*
 * Shutdown after the drain deadline: closes the queue, writes the messages waiting in memory to
 * a segment that is replayed first at the next start, and makes every later pop return 0 (what
 * is on disk stays there). Returns how many messages it wrote. Nothing is discarded unless the
 * write fails (then they count as discarded: shutdown, with a line on stderr).
 */
size_t sl_dqueue_purge(sl_dqueue_t *q);

void sl_dqueue_stats(sl_dqueue_t *q, sl_dqueue_stats_t *st);

/*
 * The directory of an action's disk queue: work_dir/queues/NAME, the name with every byte
 * outside [A-Za-z0-9_-] (and a leading '.') written as %XX, so that distinct names get distinct
 * directories and none leaves work_dir. *out is malloc'ed. 0 or -ENOMEM.
 */
int sl_dqueue_dir_for(const char *work_dir, const char *name, char **out);

/* What sl_dqueue_inspect found in one segment file. */
typedef struct sl_dqueue_seg_info {
    uint64_t seq;           /* from the file name (0 when it is not NNNN.seg) */
    int header_ok;          /* the segment header is intact */
    uint64_t size;          /* bytes */
    uint64_t start;         /* the header's start: records before it were delivered */
    uint64_t records;       /* valid records in the file */
    uint64_t pending;       /* of those, the ones at or after start: what a start replays */
    uint64_t pending_bytes; /* their bytes */
    uint64_t corrupt;       /* corrupt records (or garbage runs) that would be skipped */
    uint64_t torn_bytes;    /* a partial record at the end */
    sl_msg_t *first;        /* the first and last pending messages, NULL when none; */
    sl_msg_t *last;         /* the caller releases them with sl_msg_unref */
} sl_dqueue_seg_info_t;

/*
 * Reads one segment file without changing it (a running queue may be writing it). Returns 0,
 * or the error of opening or reading it.
 */
int sl_dqueue_inspect(const char *path, sl_dqueue_seg_info_t *info);

/*
 * The queue operations an action uses, which the memory queue (sl_queue_*) and the disk queue
 * (sl_dqueue_*) both implement, so the action code does not care which it has. Each takes the
 * queue as void *; purge is the shutdown step after a missed drain deadline (discard for the
 * memory queue, persist for the disk queue); stats fills the common view.
 */
typedef struct sl_queue_ops {
    const char *type;
    int (*push)(void *q, sl_msg_t *const *msgs, size_t n, sl_queue_mode_t mode);
    int (*pop)(void *q, sl_msg_t **out, size_t max, int timeout_ms);
    int (*done)(void *q, size_t delivered, size_t failed, size_t discarded);
    void (*close)(void *q);
    int (*drain)(void *q, const struct timespec *deadline);
    size_t (*purge)(void *q);
    void (*stats)(void *q, sl_queue_stats_t *st);
    void (*destroy)(void *q);
} sl_queue_ops_t;

extern const sl_queue_ops_t sl_queue_memory_ops;
extern const sl_queue_ops_t sl_dqueue_ops;

#endif
