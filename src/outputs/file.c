/*
 * The file output.
 *
 * Records are formatted into a per-file buffer and written with one write() when the buffer is
 * full and at the end of every batch. A buffer only ever holds whole records and files are
 * opened O_APPEND, so a line is never split between writes, also when several workers of one
 * action append to the same file: Linux serialises appends to a regular file.
 *
 * A message counts as delivered once its record was written (it is in the page cache): deliver()
 * writes before it returns and reports as done the prefix of the batch whose records are in the
 * files. When a write fails (disk full, I/O error) the output answers SL_OUT_RETRY; the bytes of
 * records not written are taken back out of the buffer, so those messages stay in the action's
 * queue (a disk queue keeps them across a restart). A record the failed write cut in two is cut
 * off the file again (ftruncate, when the file still ends with it) and goes back to the queue
 * too; where that cannot be done (a pipe, or another writer appended meanwhile) it counts as
 * delivered and the rest of it stays buffered, written before anything else goes to that file,
 * so the line is completed, not split. The failure is logged once per file
 * ("write failed: No space left on device (N bytes held, retrying)") until it changes, and the
 * recovery once ("writing again"); the action's suspensions count the retries meanwhile.
 *
 * Dynamic paths: the path template is formatted per message (field values made safe for paths:
 * '/' becomes '_', and "." or ".." values become "_"), and open files are kept in a small hash
 * table with least-recently-used eviction at max_open.
 *
 * Concurrency: an instance belongs to one worker thread (see output.h); no shared state.
 */
#include "outputs/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/sl_assert.h"
#include "lib/strbuf.h"

typedef struct file_ent {
    char *path;
    size_t path_len;
    int fd;
    uint32_t hash;
    uint64_t last_use;
    int err; /* the errno of the failure logged last for this file, 0 when writing works */
    sl_strbuf_t buf;
    uint64_t written; /* bytes written to the file so far; buf holds the bytes after them */
    uint64_t wgen;    /* the deliver() call that last wrote it at its end (f->gen) */
    struct file_ent *next; /* hash chain */
} file_ent_t;

typedef struct file_out {
    sl_file_conf_t conf;
    char *path_copy;
    sl_template_t *path_tmpl; /* NULL for a static path */
    file_ent_t **buckets;
    size_t nbuckets;
    size_t nopen; /* entries in the table */
    uint64_t clock;
    file_ent_t *last;  /* most recent entry */
    file_ent_t *fixed; /* a static path's only entry, once looked up */
    sl_strbuf_t pathbuf;
    uint64_t gen; /* deliver() calls so far */
    int owing;    /* some entry still holds the rest of a record cut by a failed write */
    /* Per message of the batch in deliver(): its file and where its record starts and ends
     * (offsets counted like written); e is NULL once the file was written out and closed by
     * eviction (the record is then in the file). nrecs: the records made so far. */
    struct rec {
        file_ent_t *e;
        uint64_t start, end;
    } *recs;
    size_t nrecs, nrecs_cap;
} file_out_t;

void sl_file_conf_defaults(sl_file_conf_t *c)
{
    c->file_mode = 0640;
    c->dir_mode = 0755;
    c->uid = (uid_t)-1;
    c->gid = (gid_t)-1;
    c->buffer_size = 64 * 1024;
    c->max_open = 64;
    c->fsync = false;
    c->create_dirs = true;
}

static uint32_t hash_path(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

int sl_file_create(const sl_file_conf_t *conf, void **inst, char *err, size_t errlen)
{
    file_out_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->conf = *conf;
    f->path_copy = strdup(conf->path);
    if (!f->path_copy)
        goto nomem;
    f->conf.path = f->path_copy;
    if (strstr(conf->path, "${")) {
        char terr[256];
        if (sl_template_compile_path(conf->path, &f->path_tmpl, terr, sizeof(terr)) < 0) {
            snprintf(err, errlen, "path: %s", terr);
            free(f->path_copy);
            free(f);
            return -EINVAL;
        }
    }
    if (f->conf.max_open == 0)
        f->conf.max_open = 1;
    f->nbuckets = 16;
    while (f->nbuckets < 2 * (size_t)f->conf.max_open)
        f->nbuckets *= 2;
    f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
    if (!f->buckets)
        goto nomem;
    *inst = f;
    return 0;
nomem:
    free(f->path_copy);
    free(f);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

static int ent_open(file_out_t *f, file_ent_t *e)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY;
    int fd = open(e->path, flags | O_EXCL, f->conf.file_mode);
    int created = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(e->path, flags, f->conf.file_mode);
    if (fd < 0 && errno == ENOENT && f->conf.create_dirs) {
        int rc = sl_mkdir_parents(e->path, f->conf.dir_mode);
        if (rc < 0)
            return rc;
        fd = open(e->path, flags | O_EXCL, f->conf.file_mode);
        created = fd >= 0;
        if (fd < 0 && errno == EEXIST)
            fd = open(e->path, flags, f->conf.file_mode);
    }
    if (fd < 0)
        return -errno;
    if (created && (f->conf.uid != (uid_t)-1 || f->conf.gid != (gid_t)-1) &&
        fchown(fd, f->conf.uid, f->conf.gid) < 0) {
        int e2 = errno;
        close(fd);
        return -e2;
    }
    e->fd = fd;
    return 0;
}

/* Logs a failure on a file once, until it changes or the file works again (the action's
 * suspensions show in the stats meanwhile); rc 0 after a failure logs the recovery. */
static void ent_log(file_ent_t *e, const char *what, int rc)
{
    if (rc == 0) {
        if (e->err)
            fprintf(stderr, "sluiced: file %s: writing again\n", e->path);
        e->err = 0;
        return;
    }
    if (-rc == e->err)
        return;
    e->err = -rc;
    if (e->buf.len)
        fprintf(stderr, "sluiced: file %s: %s: %s (%zu bytes held, retrying)\n", e->path, what,
                strerror(-rc), e->buf.len);
    else
        fprintf(stderr, "sluiced: file %s: %s: %s\n", e->path, what, strerror(-rc));
}

/* Writes the buffered bytes. 0, or -errno with the unwritten rest kept at the buffer's front. */
static int ent_write(file_out_t *f, file_ent_t *e)
{
    size_t off = 0;
    int rc = 0;
    if (e->buf.len == 0)
        return 0;
    if (e->fd < 0 && (rc = ent_open(f, e)) < 0) {
        ent_log(e, "cannot open", rc);
        return rc;
    }
    while (off < e->buf.len) {
        ssize_t w = write(e->fd, e->buf.data + off, e->buf.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    e->written += off;
    if (off < e->buf.len)
        memmove(e->buf.data, e->buf.data + off, e->buf.len - off);
    e->buf.len -= off;
    if (rc < 0) {
        ent_log(e, "write failed", rc);
        return rc;
    }
    if (f->conf.fsync && fdatasync(e->fd) < 0) {
        rc = -errno;
        ent_log(e, "fdatasync failed", rc);
        return rc;
    }
    ent_log(e, NULL, 0);
    return 0;
}

static void ent_close(file_ent_t *e)
{
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
}

static void ent_free(file_ent_t *e)
{
    ent_close(e);
    sl_strbuf_free(&e->buf);
    free(e->path);
    free(e);
}

/* Closes the least recently used file with nothing left to write. */
static void evict_one(file_out_t *f)
{
    file_ent_t **victim = NULL;
    for (size_t b = 0; b < f->nbuckets; b++) {
        for (file_ent_t **pp = &f->buckets[b]; *pp; pp = &(*pp)->next) {
            if (*pp == f->last)
                continue;
            if (!victim || (*pp)->last_use < (*victim)->last_use)
                victim = pp;
        }
    }
    if (!victim)
        return;
    file_ent_t *e = *victim;
    if (ent_write(f, e) < 0)
        return; /* keep a file that still owes bytes; try another time */
    /* Its records in the batch being delivered are in the file now. */
    for (size_t i = 0; i < f->nrecs; i++) {
        if (f->recs[i].e == e)
            f->recs[i].e = NULL;
    }
    *victim = e->next;
    ent_free(e);
    f->nopen--;
}

static file_ent_t *lookup(file_out_t *f, const char *path, size_t len)
{
    uint32_t h = hash_path(path, len);
    if (f->last && f->last->hash == h && f->last->path_len == len &&
        memcmp(f->last->path, path, len) == 0)
        return f->last;
    size_t b = h & (f->nbuckets - 1);
    for (file_ent_t *e = f->buckets[b]; e; e = e->next) {
        if (e->hash == h && e->path_len == len && memcmp(e->path, path, len) == 0)
            return f->last = e;
    }
    if (f->nopen >= f->conf.max_open)
        evict_one(f);
    file_ent_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->path = strndup(path, len);
    if (!e->path) {
        free(e);
        return NULL;
    }
    e->path_len = len;
    e->fd = -1;
    e->hash = h;
    e->next = f->buckets[b];
    f->buckets[b] = e;
    f->nopen++;
    return f->last = e;
}

static int is_retryable(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT || rc == -EIO || rc == -EMFILE || rc == -ENFILE ||
           rc == -ENOMEM || rc == -EAGAIN || rc == -EINTR;
}

/* Cuts the last `cut` bytes (the start of a record a failed write cut in two) off the file,
 * when the file still ends where our last write ended. 0, or -1 when it cannot. */
static int ent_untear(file_ent_t *e, size_t cut)
{
    struct stat st;
    if (e->fd < 0)
        return -1;
    off_t pos = lseek(e->fd, 0, SEEK_CUR); /* O_APPEND: the end of our last write */
    if (pos < (off_t)cut || fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != pos ||
        ftruncate(e->fd, pos - (off_t)cut) < 0)
        return -1;
    e->written -= cut;
    return 0;
}

/* Writes what the batch buffered and works out how far it got: of the f->nrecs messages
 * formatted, returns how many count as delivered (a prefix), and takes the bytes of the others
 * back out of the buffers so that they can be offered again. */
static size_t finish_batch(file_out_t *f)
{
    size_t stop = f->nrecs;
    for (size_t i = 0; i < stop; i++) {
        file_ent_t *e = f->recs[i].e;
        if (e && e->wgen != f->gen) { /* once per file: a failing one is not tried per record */
            e->wgen = f->gen;
            (void)ent_write(f, e);
        }
    }
    size_t k = 0;
    while (k < stop && (!f->recs[k].e || f->recs[k].e->written >= f->recs[k].end))
        k++;
    /* A record the failed write cut in two: its start is cut off the file again when nothing
     * was appended after it (the record is then not delivered, and goes back to the queue
     * whole). Otherwise (another writer appended, or the file cannot be truncated: a pipe) it
     * is delivered, and the rest of it stays buffered and is written before anything else goes
     * to that file. */
    if (k < stop && f->recs[k].e->written > f->recs[k].start) {
        file_ent_t *e = f->recs[k].e;
        if (ent_untear(e, (size_t)(e->written - f->recs[k].start)) == 0)
            e->buf.len = 0; /* what it held was the cut record's rest and later ones */
        else
            k++;
    }
    /* Later records come back out, the last first, so each file's buffer ends where its first
     * record not taken starts. A later record already written (another file that wrote while
     * this one failed) stays written, and is written again when offered again. */
    for (size_t i = stop; i-- > k;) {
        file_ent_t *e = f->recs[i].e;
        if (!e)
            continue; /* written and closed: offered again, it is written again */
        uint64_t keep = f->recs[i].start > e->written ? f->recs[i].start : e->written;
        if (keep - e->written < e->buf.len)
            e->buf.len = (size_t)(keep - e->written);
    }
    f->owing = 0;
    for (size_t i = 0; i < stop; i++)
        f->owing |= f->recs[i].e && f->recs[i].e->buf.len > 0;
    f->nrecs = 0;
    return k;
}

static sl_out_status_t file_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    file_out_t *f = inst;
    *done = 0;
    /* The rest of a record cut by a failed write goes out before anything new. */
    if (f->owing) {
        for (size_t b = 0; b < f->nbuckets; b++) {
            for (file_ent_t *e = f->buckets[b]; e; e = e->next) {
                if (ent_write(f, e) < 0)
                    return SL_OUT_RETRY;
            }
        }
        f->owing = 0;
    }
    if (n > f->nrecs_cap) {
        struct rec *r = realloc(f->recs, n * sizeof(*r));
        if (!r)
            return SL_OUT_RETRY;
        f->recs = r;
        f->nrecs_cap = n;
    }
    f->gen++;
    f->nrecs = 0;
    sl_out_status_t st = SL_OUT_OK;
    for (size_t i = 0; i < n; i++) {
        file_ent_t *e;
        sl_msg_prefetch_batch(msgs, i, n);
        if (f->path_tmpl) {
            sl_strbuf_reset(&f->pathbuf);
            if (sl_template_format(f->path_tmpl, msgs[i], &f->pathbuf) < 0)
                break;
            e = lookup(f, f->pathbuf.data, f->pathbuf.len);
        } else {
            /* A static path has one entry for the output's lifetime (eviction never takes the
             * only entry, reopen only closes its fd), so it is looked up once, not hashed and
             * compared per message (that was 4% of the daemon's instructions). */
            if (!f->fixed)
                f->fixed = lookup(f, f->conf.path, strlen(f->conf.path));
            e = f->fixed;
        }
        if (!e)
            break;
        e->last_use = ++f->clock;
        if (e->fd < 0) {
            /* Open before accepting a record: a file that cannot be opened fails its own
             * message (or waits, for a retryable error). */
            int rc = ent_open(f, e);
            if (rc < 0) {
                ent_log(e, "cannot open", rc);
                st = is_retryable(rc) ? SL_OUT_RETRY : SL_OUT_FAIL;
                break;
            }
        }
        size_t had = e->buf.len;
        uint64_t start = e->written + had;
        if (sl_template_format(f->conf.tmpl, msgs[i], &e->buf) < 0) {
            e->buf.len = had; /* nothing of a record that could not be made */
            break;
        }
        f->recs[i] = (struct rec){e, start, e->written + e->buf.len};
        f->nrecs = i + 1;
        if (e->buf.len >= f->conf.buffer_size && ent_write(f, e) < 0) {
            st = SL_OUT_RETRY;
            break;
        }
    }
    size_t made = f->nrecs;
    *done = finish_batch(f);
    if (*done < n && st == SL_OUT_OK)
        st = SL_OUT_RETRY;
    /* Failing a message is for the one that cannot be written, not for those before it. */
    if (st == SL_OUT_FAIL && *done != made)
        st = SL_OUT_RETRY;
    return st;
}

static sl_out_status_t file_flush(void *inst)
{
    file_out_t *f = inst;
    sl_out_status_t st = SL_OUT_OK;
    for (size_t b = 0; b < f->nbuckets; b++) {
        for (file_ent_t *e = f->buckets[b]; e; e = e->next) {
            if (ent_write(f, e) < 0)
                st = SL_OUT_RETRY;
        }
    }
    return st;
}

static void file_reopen(void *inst)
{
    file_out_t *f = inst;
    file_flush(f);
    for (size_t b = 0; b < f->nbuckets; b++) {
        for (file_ent_t *e = f->buckets[b]; e; e = e->next)
            ent_close(e);
    }
}

static void file_destroy(void *inst)
{
    file_out_t *f = inst;
    if (!f)
        return;
    file_flush(f);
    for (size_t b = 0; b < f->nbuckets; b++) {
        file_ent_t *e = f->buckets[b];
        while (e) {
            file_ent_t *next = e->next;
            /* Still failing at the end (the shutdown deadline passed with the disk full):
             * what is left is the rest of one record that a failed write cut in two (the
             * records not started went back to the queue, which a disk queue keeps). */
            if (e->buf.len)
                fprintf(stderr,
                        "sluiced: file %s: the last %zu bytes of a record could not be written, "
                        "the file ends with it cut short: %s\n",
                        e->path, e->buf.len, e->err ? strerror(e->err) : "write failed");
            ent_free(e);
            e = next;
        }
    }
    free(f->buckets);
    free(f->recs);
    sl_template_free(f->path_tmpl);
    sl_strbuf_free(&f->pathbuf);
    free(f->path_copy);
    free(f);
}

const sl_output_ops_t sl_file_ops = {
    .type = "file",
    .deliver = file_deliver,
    .flush = file_flush,
    .reopen = file_reopen,
    .destroy = file_destroy,
};
