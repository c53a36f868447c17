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
 * Concurrency: connections, framers and the batch belong to the server thread. The counters are
 * the input's atomics (input.h). stop_fd (a write) and pausing (an atomic, set before the
 * write) are the only things other threads touch; between a pause and the next start no
 * server thread runs, and pthread_join/pthread_create order the handover.
 */
#include "inputs/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/netaddr.h"

#define READ_SIZE (64 * 1024)

typedef struct conn {
    struct conn *prev, *next; /* the server's list of open connections */
    int fd;
    sl_framer_t framer;
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
        if (fd < 0)
            return; /* EAGAIN, or a connection that died before we took it */
        if (s->conf.max_connections && s->nconns >= s->conf.max_connections) {
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
        if (s->conf.peer_is_local || ss.ss_family == AF_UNIX)
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
    frame_ctx_t fc = {b, c};
    sl_input_batch_clock(b);
    if (sl_framer_feed(&c->framer, buf, (size_t)r, on_frame, &fc) < 0)
        return -1;
    return 1;
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
     * goes on where this one stopped, and the senders wait meanwhile. Stopping: take what
     * each connection has already sent (a bounded number of reads, so a sender that never
     * pauses cannot hold up shutdown), pass partial lines on, and close. */
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
    s->listen_fd = s->epoll_fd = s->stop_fd = -1;
}
