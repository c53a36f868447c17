/*
 * The stream server.
 *
 * Each server thread waits in epoll on its connections, an eventfd that asks it to stop and (the
 * first thread) the listening socket. For a readable connection it reads once (up to 64 KiB, so
 * that one busy sender cannot starve the others), frames the bytes, parses every frame into the
 * thread's batch and routes the batch. Routing blocks while an action's queue is full, which stops
 * this thread from reading: the senders' TCP windows fill and they wait — flow control without
 * losing anything.
 *
 * Several threads (`threads`): the first one also accepts. It hands each new connection to the
 * thread with the fewest connections (itself included), and the connection stays with that
 * thread for its whole life (so its messages keep their order). Why not a listening socket per
 * thread (SO_REUSEPORT, as the udp input): the kernel picks the socket by a hash of the peer's
 * address and port, so two senders land on one thread half of the time, and unix-stream
 * sockets have no such groups. Why not one socket in every epoll set (EPOLLEXCLUSIVE): the
 * kernel wakes the first idle thread in its wait queue, which tends to be the same one. Accepting
 * on one thread costs nothing that matters: connections are few and long-lived.
 *
 * The handover: the accepting thread builds the connection, then, holding the target's lock,
 * links it into the target's inbox and adds it to the target's epoll set (in that order, so
 * that the target, which takes its inbox under the lock before handling events whenever
 * has_inbox is set, never sees an event for a connection it does not hold). A thread that stops
 * or pauses closes its inbox under the lock and takes what is there; the accepting thread keeps
 * a connection whose target is closed.
 *
 * Concurrency: a worker's connections, framers, batch and epoll set belong to its thread while
 * it runs; the inbox and open flag to whoever holds its lock; load and has_inbox are atomics.
 * The listening socket and the spare descriptor belong to workers[0] while it runs (it closes
 * the socket when stopping; pthread_join orders that before sl_stream_free looks at listen_fd).
 * Shared by the threads: conf, fd_budget (written before they start), nconns (an atomic:
 * connections open over every thread, so that max_connections and the descriptor reserve hold
 * for the input as a whole) and the input's counters (atomics, input.h). Besides the handover,
 * stop_fd (a write) and pausing (an atomic, set before the writes) are the only things other
 * threads touch; between
 * a pause and the next start no server thread runs, and pthread_join/pthread_create order the
 * handover: each thread goes on with the connections and partial frames it had.
 */
#include "inputs/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/netaddr.h"

#define READ_SIZE (64 * 1024)
/* Descriptors kept free of connections (see sl_stream_start). */
#define FD_RESERVE 128

/* How long a stopping server waits for its peers to close their side (see linger). */
#define STOP_LINGER_MS 500

typedef struct conn {
    struct conn *prev, *next; /* the server's list of open connections */
    int fd;
    sl_framer_t framer;
    bool network;  /* a TCP peer (not a local socket) */
    bool received; /* the first bytes have come */
    char fromhost[SL_NETADDR_STRLEN];
} conn_t;

typedef struct frame_ctx {
    sl_input_batch_t *batch;
    conn_t *c;
} frame_ctx_t;

int sl_stream_init(sl_stream_server_t *s, sl_input_t *in, const sl_stream_conf_t *conf,
                   int listen_fd, unsigned nthreads)
{
    memset(s, 0, sizeof(*s));
    s->conf = *conf;
    s->in = in;
    s->listen_fd = listen_fd;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    atomic_init(&s->pausing, false);
    atomic_init(&s->nconns, 0);
    for (unsigned i = 0; i < SL_STREAM_MAX_THREADS; i++) {
        sl_stream_worker_t *w = &s->workers[i];
        w->srv = s;
        w->epoll_fd = w->stop_fd = -1;
        atomic_init(&w->load, 0);
        atomic_init(&w->has_inbox, false);
        pthread_mutex_init(&w->lock, NULL);
    }
    if (nthreads < 1 || nthreads > SL_STREAM_MAX_THREADS) {
        sl_stream_free(s);
        return -EINVAL;
    }
    s->nworkers = nthreads;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    for (unsigned i = 0; i < nthreads; i++) {
        sl_stream_worker_t *w = &s->workers[i];
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->epoll_fd < 0 || w->stop_fd < 0)
            goto fail;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (i == 0 && epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
            goto fail;
        ev.data.ptr = w; /* marks the stop event */
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->stop_fd, &ev) < 0)
            goto fail;
    }
    return 0;
fail:;
    int e = errno;
    sl_stream_free(s);
    return -e;
}

static int on_frame(void *p, const char *frame, size_t len, unsigned flags)
{
    frame_ctx_t *fc = p;
    sl_input_t *in = fc->batch->in;
    if (flags & SL_FRAME_INCOMPLETE) {
        /* The stream ended inside an octet-counted frame: what came is kept, and counted. */
        atomic_fetch_add_explicit(&in->stats.incomplete, 1, memory_order_relaxed);
        if (len == 0)
            return 0;
    }
    sl_input_batch_add(fc->batch, frame, len, fc->c->fromhost,
                       (flags & (SL_FRAME_TRUNCATED | SL_FRAME_INCOMPLETE)) != 0);
    return 0;
}

static void conn_close(sl_stream_worker_t *w, sl_input_batch_t *b, conn_t *c)
{
    sl_stream_server_t *s = w->srv;
    frame_ctx_t fc = {b, c};
    sl_framer_finish(&c->framer, on_frame, &fc);
    sl_framer_free(&c->framer);
    epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->in->stats.open_connections, 1, memory_order_relaxed);
}

static void conn_link(conn_t **list, conn_t *c)
{
    c->prev = NULL;
    c->next = *list;
    if (*list)
        (*list)->prev = c;
    *list = c;
}

/* Takes the connections handed over to w (called by w's thread). */
static void take_inbox(sl_stream_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->inbox) {
        conn_t *c = w->inbox;
        w->inbox = c->next;
        conn_link(&w->conns, c);
    }
    atomic_store_explicit(&w->has_inbox, false, memory_order_relaxed);
    pthread_mutex_unlock(&w->lock);
}

/* Takes no more connections, and takes those handed over already (called by w's thread). */
static void close_inbox(sl_stream_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->open = false;
    pthread_mutex_unlock(&w->lock);
    take_inbox(w);
}

/* The worker with the fewest connections; self (the accepting one) on a tie. */
static sl_stream_worker_t *least_loaded(sl_stream_server_t *s, sl_stream_worker_t *self)
{
    sl_stream_worker_t *best = self;
    size_t min = atomic_load_explicit(&self->load, memory_order_relaxed);
    for (unsigned i = 0; i < s->nworkers && min > 0; i++) {
        size_t l = atomic_load_explicit(&s->workers[i].load, memory_order_relaxed);
        if (l < min) {
            min = l;
            best = &s->workers[i];
        }
    }
    return best;
}

/* Gives c (not in any list or epoll set yet) to the least loaded thread that takes it, else
 * keeps it with w. Returns -1 when it could not be added to an epoll set. */
static int conn_assign(sl_stream_worker_t *w, conn_t *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    sl_stream_worker_t *t = least_loaded(w->srv, w);
    if (t != w) {
        pthread_mutex_lock(&t->lock);
        bool handed = false;
        if (t->open) {
            /* Into the inbox first, then the epoll set: see the opening comment. */
            c->next = t->inbox;
            t->inbox = c;
            atomic_store_explicit(&t->has_inbox, true, memory_order_release);
            if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) == 0) {
                atomic_fetch_add_explicit(&t->load, 1, memory_order_relaxed);
                handed = true;
            } else {
                t->inbox = c->next;
            }
        }
        pthread_mutex_unlock(&t->lock);
        if (handed)
            return 0;
    }
    if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return -1;
    conn_link(&w->conns, c);
    atomic_fetch_add_explicit(&w->load, 1, memory_order_relaxed);
    return 0;
}

static void accept_all(sl_stream_worker_t *w)
{
    sl_stream_server_t *s = w->srv;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
            /* Out of descriptors: the pending connection would keep the listening socket
             * readable and this thread spinning. Free the spare, take the connection and
             * refuse it (counted), then hold the spare again. */
            close(s->spare_fd);
            fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                close(fd);
                atomic_fetch_add_explicit(&s->in->stats.connections_refused, 1,
                                          memory_order_relaxed);
            }
            s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            continue;
        }
        if (fd < 0)
            return; /* EAGAIN, or a connection that died before we took it */
        size_t open_now = atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed) + 1;
        if ((s->conf.max_connections && open_now > s->conf.max_connections) ||
            open_now > s->fd_budget) {
            atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->in->stats.connections_refused, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        conn_t *c = calloc(1, sizeof(*c));
        if (!c || sl_framer_init(&c->framer, s->conf.framing, s->conf.max_message_size, 0) < 0) {
            atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->network = !s->conf.peer_is_local && ss.ss_family != AF_UNIX;
        if (!c->network)
            snprintf(c->fromhost, sizeof(c->fromhost), "%s", s->conf.local_name);
        else
            sl_netaddr_format((struct sockaddr *)&ss, sl, c->fromhost, sizeof(c->fromhost));
        if (conn_assign(w, c) < 0) {
            atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
            sl_framer_free(&c->framer);
            close(fd);
            free(c);
            continue;
        }
        atomic_fetch_add_explicit(&s->in->stats.connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->in->stats.open_connections, 1, memory_order_relaxed);
    }
}

/* Reads once from c: 1 when bytes came, 0 when none are there now, -1 when the connection is
 * finished (end of stream, error, or a stream that cannot be framed). */
static int conn_read(sl_input_batch_t *b, conn_t *c, char *buf)
{
    ssize_t r = read(c->fd, buf, READ_SIZE);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r == 0)
        return -1;
    /* A TLS handshake record (0x16, version 3.x) is never the start of a syslog message:
     * a client configured for TLS has reached a plain port. Said once, clearly, rather than
     * parsed as binary garbage. */
    if (!c->received) {
        c->received = true;
        if (c->network && (unsigned char)buf[0] == 0x16 && (r < 2 || buf[1] == 0x03)) {
            atomic_fetch_add_explicit(&b->in->stats.wrong_protocol, 1, memory_order_relaxed);
            fprintf(stderr,
                    "sluiced: input %s: a TLS client connected to a plain TCP port from %s\n",
                    b->in->name, c->fromhost);
            return -1;
        }
    }
    frame_ctx_t fc = {b, c};
    sl_input_batch_clock(b);
    if (sl_framer_feed(&c->framer, buf, (size_t)r, on_frame, &fc) < 0)
        return -1;
    return 1;
}

/*
 * Stopping, first step: take the connections the kernel has completed but not handed over
 * yet, and close the listening socket, so that from now on a connect is refused. Otherwise a
 * sender that reconnects while the daemon drains its queues (a forwarding sluice notices the
 * closed connection and comes right back) lands in the backlog and writes messages there that
 * nobody reads: the kernel resets those connections when the socket closes at exit, after
 * the sender has counted them sent.
 */
static void stop_listening(sl_stream_worker_t *w)
{
    sl_stream_server_t *s = w->srv;
    if (w != &s->workers[0] || s->listen_fd < 0)
        return;
    accept_all(w);
    epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
    close(s->listen_fd);
    s->listen_fd = -1;
}

/*
 * Stopping, second step: tell every peer that we are closing (a FIN: shutdown SHUT_WR) and
 * go on reading until each closes its side, for at most STOP_LINGER_MS. A plain close races
 * with the sender: bytes that arrive after our last read and before the close are never read,
 * the kernel answers them with a reset, and the sender, which counted them sent when its
 * send() returned, loses them. A sender that checks for the FIN between writes (the forward
 * output does, before every batch) stops writing and closes, so whatever it wrote first is
 * read here; a sender that ignores it costs at most STOP_LINGER_MS.
 */
static void linger(sl_stream_worker_t *w, sl_input_batch_t *b, char *buf)
{
    uint64_t v;
    struct epoll_event evs[64];
    struct timespec now, end;
    if (!w->conns)
        return;
    /* The stop request has been seen; clear it so that epoll reports connections only. */
    if (read(w->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    for (conn_t *c = w->conns; c; c = c->next)
        shutdown(c->fd, SHUT_WR);
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += STOP_LINGER_MS / 1000;
    end.tv_nsec += (long)(STOP_LINGER_MS % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    while (w->conns) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
        if (left <= 0)
            break;
        int n = epoll_wait(w->epoll_fd, evs, 64, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL || (void *)c == (void *)w)
                continue;
            if (conn_read(b, c, buf) < 0)
                conn_close(w, b, c);
        }
        sl_input_batch_flush(b);
    }
}

static void *server_main(void *p)
{
    sl_stream_worker_t *w = p;
    sl_stream_server_t *s = w->srv;
    sl_input_batch_t *b = malloc(sizeof(*b));
    char *buf = malloc(READ_SIZE);
    struct epoll_event evs[64];
    bool stop = false;
    if (!b || !buf || sl_input_batch_init(b, s->in, SL_QUEUE_BLOCK) < 0) {
        fprintf(stderr, "sluiced: input %s: out of memory\n", s->in->name);
        close_inbox(w);
        free(b);
        free(buf);
        return NULL;
    }
    while (!stop) {
        int n = epoll_wait(w->epoll_fd, evs, 64, sl_input_idle_timeout(b));
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0)
            sl_input_idle(b);
        if (atomic_load_explicit(&w->has_inbox, memory_order_acquire))
            take_inbox(w);
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == NULL) {
                accept_all(w);
            } else if (tag == w) {
                stop = true;
            } else {
                conn_t *c = tag;
                if (conn_read(b, c, buf) < 0)
                    conn_close(w, b, c);
            }
        }
        sl_input_batch_flush(b);
    }
    /* From here on the accepting thread keeps what it accepts; what it handed over already
     * is this thread's. Pausing (a reload): connections stay open with their partial frames;
     * the next thread goes on where this one stopped, and the senders wait meanwhile.
     * Stopping: see stop_listening and linger; then take what each connection still has (a
     * bounded number of reads, so a sender that never pauses cannot hold up shutdown), pass
     * partial lines on, and close. */
    close_inbox(w);
    if (!atomic_load(&s->pausing)) {
        stop_listening(w);
        linger(w, b, buf);
    }
    while (!atomic_load(&s->pausing) && w->conns) {
        conn_t *c = w->conns;
        for (int i = 0; i < 16 && conn_read(b, c, buf) > 0; i++)
            ;
        conn_close(w, b, c);
    }
    sl_input_batch_flush(b);
    sl_input_batch_free(b);
    free(b);
    free(buf);
    return NULL;
}

int sl_stream_start(sl_stream_server_t *s)
{
    /* Connections may use the descriptors the process has, less a reserve for files, the
     * control socket and the other inputs: running out inside accept is answered (see
     * accept_all) but starves everyone else in the process. */
    struct rlimit nofile;
    s->fd_budget = SIZE_MAX;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        s->fd_budget = nofile.rlim_cur > 2 * FD_RESERVE ? (size_t)nofile.rlim_cur - FD_RESERVE
                                                        : (size_t)nofile.rlim_cur / 2;
    for (unsigned i = 0; i < s->nworkers; i++)
        s->workers[i].open = true; /* no thread runs yet: no lock needed */
    for (unsigned i = 0; i < s->nworkers; i++) {
        int rc = pthread_create(&s->workers[i].thread, NULL, server_main, &s->workers[i]);
        if (rc != 0) {
            /* The threads already started keep running until sl_stream_stop. */
            for (unsigned j = i; j < s->nworkers; j++) {
                pthread_mutex_lock(&s->workers[j].lock);
                s->workers[j].open = false;
                pthread_mutex_unlock(&s->workers[j].lock);
            }
            return -rc;
        }
        s->nrunning = i + 1;
    }
    return 0;
}

/* Asks every running thread to stop and joins them all. */
static void stop_threads(sl_stream_server_t *s)
{
    uint64_t one = 1;
    for (unsigned i = 0; i < s->nrunning; i++) {
        if (write(s->workers[i].stop_fd, &one, sizeof(one)) < 0)
            perror("sluiced: stream stop");
    }
    for (unsigned i = 0; i < s->nrunning; i++) {
        sl_stream_worker_t *w = &s->workers[i];
        pthread_join(w->thread, NULL);
        /* Empty the eventfd, so that a later start (after a pause) does not stop at once. */
        if (read(w->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            perror("sluiced: stream stop");
    }
    s->nrunning = 0;
}

void sl_stream_stop(sl_stream_server_t *s)
{
    stop_threads(s);
}

void sl_stream_pause(sl_stream_server_t *s)
{
    atomic_store(&s->pausing, true);
    stop_threads(s);
    atomic_store(&s->pausing, false);
}

void sl_stream_free(sl_stream_server_t *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    s->listen_fd = s->spare_fd = -1;
    for (unsigned i = 0; i < SL_STREAM_MAX_THREADS; i++) {
        sl_stream_worker_t *w = &s->workers[i];
        if (w->epoll_fd >= 0)
            close(w->epoll_fd);
        if (w->stop_fd >= 0)
            close(w->stop_fd);
        w->epoll_fd = w->stop_fd = -1;
        pthread_mutex_destroy(&w->lock);
    }
    s->nworkers = 0;
}
