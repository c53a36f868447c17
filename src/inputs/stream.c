/*
 * The stream server.
 *
 * One thread per stream input waits in epoll on the listening socket, its connections and an
 * eventfd that asks it to stop. For a readable connection it reads once (up to 64 KiB, so that
 * one busy sender cannot starve the others), frames the bytes, parses every frame into the
 * thread's batch and routes the batch. Routing blocks while an action's queue is full, which
 * stops this thread from reading: the senders' TCP windows fill and they wait — flow control
 * without losing anything.
 *
 * Concurrency: connections, framers and the batch belong to the server thread, and so does the
 * listening socket while it runs (it closes it when stopping; pthread_join orders that before
 * sl_stream_free looks at listen_fd). The counters are the input's atomics (input.h). stop_fd (a
 * write) and pausing (an atomic, set before the write) are the only things other threads touch;
 * between a pause and the next start no server thread runs, and pthread_join/pthread_create order
 * the handover.
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
                   int listen_fd)
{
    memset(s, 0, sizeof(*s));
    s->conf = *conf;
    s->in = in;
    s->listen_fd = listen_fd;
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->epoll_fd < 0 || s->stop_fd < 0)
        return -errno;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        return -errno;
    ev.data.ptr = s; /* marks the stop event */
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->stop_fd, &ev) < 0)
        return -errno;
    return 0;
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

static void conn_close(sl_stream_server_t *s, sl_input_batch_t *b, conn_t *c)
{
    frame_ctx_t fc = {b, c};
    sl_framer_finish(&c->framer, on_frame, &fc);
    sl_framer_free(&c->framer);
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    s->nconns--;
    atomic_fetch_sub_explicit(&s->in->stats.open_connections, 1, memory_order_relaxed);
}

static void accept_all(sl_stream_server_t *s)
{
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
        if ((s->conf.max_connections && s->nconns >= s->conf.max_connections) ||
            s->nconns >= s->fd_budget) {
            atomic_fetch_add_explicit(&s->in->stats.connections_refused, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        conn_t *c = calloc(1, sizeof(*c));
        if (!c || sl_framer_init(&c->framer, s->conf.framing, s->conf.max_message_size, 0) < 0) {
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
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            sl_framer_free(&c->framer);
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
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
static void stop_listening(sl_stream_server_t *s)
{
    if (s->listen_fd < 0)
        return;
    accept_all(s);
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
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
static void linger(sl_stream_server_t *s, sl_input_batch_t *b, char *buf)
{
    uint64_t v;
    struct epoll_event evs[64];
    struct timespec now, end;
    if (!s->conns)
        return;
    /* The stop request has been seen; clear it so that epoll reports connections only. */
    if (read(s->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    for (conn_t *c = s->conns; c; c = c->next)
        shutdown(c->fd, SHUT_WR);
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += STOP_LINGER_MS / 1000;
    end.tv_nsec += (long)(STOP_LINGER_MS % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    while (s->conns) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
        if (left <= 0)
            break;
        int n = epoll_wait(s->epoll_fd, evs, 64, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL || (void *)c == (void *)s)
                continue;
            if (conn_read(b, c, buf) < 0)
                conn_close(s, b, c);
        }
        sl_input_batch_flush(b);
    }
}

static void *server_main(void *p)
{
    sl_stream_server_t *s = p;
    sl_input_batch_t *b = malloc(sizeof(*b));
    char *buf = malloc(READ_SIZE);
    struct epoll_event evs[64];
    bool stop = false;
    if (!b || !buf || sl_input_batch_init(b, s->in, SL_QUEUE_BLOCK) < 0) {
        fprintf(stderr, "sluiced: input %s: out of memory\n", s->in->name);
        free(b);
        free(buf);
        return NULL;
    }
    while (!stop) {
        int n = epoll_wait(s->epoll_fd, evs, 64, sl_input_idle_timeout(b));
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0)
            sl_input_idle(b);
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == NULL) {
                accept_all(s);
            } else if (tag == s) {
                stop = true;
            } else {
                conn_t *c = tag;
                if (conn_read(b, c, buf) < 0)
                    conn_close(s, b, c);
            }
        }
        sl_input_batch_flush(b);
    }
    /* Pausing (a reload): connections stay open with their partial frames; the next thread
     * goes on where this one stopped, and the senders wait meanwhile. Stopping: see
     * stop_listening and linger; then take what each connection still has (a bounded
     * number of reads, so a sender that never pauses cannot hold up shutdown), pass partial
     * lines on, and close. */
    if (!atomic_load(&s->pausing)) {
        stop_listening(s);
        linger(s, b, buf);
    }
    while (!atomic_load(&s->pausing) && s->conns) {
        conn_t *c = s->conns;
        for (int i = 0; i < 16 && conn_read(b, c, buf) > 0; i++)
            ;
        conn_close(s, b, c);
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
    int rc = pthread_create(&s->thread, NULL, server_main, s);
    if (rc != 0)
        return -rc;
    s->running = true;
    return 0;
}

void sl_stream_stop(sl_stream_server_t *s)
{
    if (!s->running)
        return;
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) < 0)
        perror("sluiced: stream stop");
    pthread_join(s->thread, NULL);
    s->running = false;
    /* Empty the eventfd, so that a later start (after a pause) does not stop at once. */
    if (read(s->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        perror("sluiced: stream stop");
}

void sl_stream_pause(sl_stream_server_t *s)
{
    atomic_store(&s->pausing, true);
    sl_stream_stop(s);
    atomic_store(&s->pausing, false);
}

void sl_stream_free(sl_stream_server_t *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    s->listen_fd = s->epoll_fd = s->stop_fd = s->spare_fd = -1;
}
