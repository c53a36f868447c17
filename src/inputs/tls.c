/*
 * The tls input: an epoll server like the stream server (stream.c), with a non-blocking OpenSSL
 * session on every connection.
 *
 * Why a server of its own rather than a layer inside stream.c: a TLS connection goes through
 * states a plain one has not (first bytes, handshake, peer check), OpenSSL may hold decrypted
 * bytes that epoll cannot see, and a read may need the socket to be writable. Keeping that here
 * leaves the plain server simple and fast.
 *
 * A connection's life:
 *  1. First bytes (peeked, not read). A TLS client begins with a handshake record, 0x16; any
 *     other byte is a plain client on a TLS port: it is logged, counted (wrong_protocol) and
 *     closed, rather than answered with a TLS alert the sender cannot read.
 *  2. Handshake, non-blocking: epoll waits for whichever direction OpenSSL wants. A handshake
 *     that fails (no or bad client certificate with client_auth require, unknown CA, a client
 *     that refuses our certificate) is logged with OpenSSL's reason and counted
 *     (handshake_failed); so is one that has not finished after HANDSHAKE_TIMEOUT_S, so that
 *     silent connections cannot hold the input's connection slots. With allowed_peers the
 *     client's certificate must carry one of the names (checked in the handshake, lib/tls.c).
 *  3. Data: up to READ_SIZE bytes per turn (fairness between senders, as in stream.c), framed
 *     and parsed into the thread's batch. OpenSSL may have read more than it returned; such a
 *     connection is kept on a ready list and served again without waiting for epoll.
 * Routing blocks while an action's queue is full, which stops this thread from reading: TCP
 * flow control then holds the senders back, and nothing is lost.
 *
 * Certificates: the context is built when the input is created (so --check sees bad files) and
 * rebuilt when a reload resumes the input after a pause. Open connections keep the context
 * they were accepted with (OpenSSL counts references); new ones get the new one. A context that
 * cannot be rebuilt (a half-written certificate) leaves the previous one in place, with a log
 * line. This rather than making the files' modification times part of the input's identity:
 * a rebuilt input would drop every connection and close the port for a moment, where a resumed
 * one keeps both.
 *
 * Concurrency: connections, framers, the batch and the ready list belong to the server thread.
 * ctx is replaced by the housekeeping thread only while no server thread runs (between pause
 * and start; pthread_join and pthread_create order the handover). The counters are the input's
 * atomics (input.h). stop_fd (a write) and pausing (an atomic) are what other threads touch.
 */
#include "inputs/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"

#if SL_HAVE_OPENSSL

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "lib/netaddr.h"

#define READ_SIZE           (64 * 1024)
#define HANDSHAKE_TIMEOUT_S 30
#define LOG_BURST           5

enum tconn_state { TC_FIRST_BYTES, TC_HANDSHAKE, TC_OPEN };

typedef struct tconn {
    struct tconn *prev, *next; /* every open connection */
    struct tconn *ready_next;  /* on the ready list: OpenSSL may hold unread bytes */
    bool ready;
    enum tconn_state state;
    int fd;
    uint32_t events; /* what epoll waits for now */
    SSL *ssl;
    time_t accepted; /* CLOCK_MONOTONIC seconds, for the handshake deadline */
    sl_framer_t framer;
    char fromhost[SL_NETADDR_STRLEN];
} tconn_t;

typedef struct tls_input {
    char *listen, *port_file;
    sl_framing_t framing;
    size_t max_message_size;
    unsigned max_connections;
    sl_tls_conf_t tls;
    SSL_CTX *ctx;
    bool ready_to_run; /* bound: sockets exist */
    bool started_once; /* a later start is a resume: rebuild the context */
    bool running;
    int listen_fd, epoll_fd, stop_fd, spare_fd;
    pthread_t thread;
    atomic_bool pausing;
    /* Server thread only. */
    sl_input_t *in;
    tconn_t *conns, *ready;
    size_t nconns;
    size_t handshaking;
    time_t log_window; /* log_limited's minute */
    unsigned log_count, log_suppressed;
} tls_input_t;

typedef struct frame_ctx {
    sl_input_batch_t *batch;
    tconn_t *c;
} frame_ctx_t;

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int on_frame(void *p, const char *frame, size_t len, unsigned flags)
{
    frame_ctx_t *fc = p;
    sl_input_t *in = fc->batch->in;
    if (flags & SL_FRAME_INCOMPLETE) {
        atomic_fetch_add_explicit(&in->stats.incomplete, 1, memory_order_relaxed);
        if (len == 0)
            return 0;
    }
    sl_input_batch_add(fc->batch, frame, len, fc->c->fromhost,
                       (flags & (SL_FRAME_TRUNCATED | SL_FRAME_INCOMPLETE)) != 0);
    return 0;
}

static void set_events(tls_input_t *t, tconn_t *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void ready_remove(tls_input_t *t, tconn_t *c)
{
    if (!c->ready)
        return;
    for (tconn_t **p = &t->ready; *p; p = &(*p)->ready_next) {
        if (*p == c) {
            *p = c->ready_next;
            break;
        }
    }
    c->ready = false;
    c->ready_next = NULL;
}

static void ready_add(tls_input_t *t, tconn_t *c)
{
    if (c->ready)
        return;
    c->ready = true;
    c->ready_next = t->ready;
    t->ready = c;
}

/* Closes c. With a batch, what the connection had framed partially is passed on first. */
static void conn_close(tls_input_t *t, sl_input_batch_t *b, tconn_t *c)
{
    if (b) {
        frame_ctx_t fc = {b, c};
        sl_framer_finish(&c->framer, on_frame, &fc);
    }
    sl_framer_free(&c->framer);
    if (c->ssl) {
        if (c->state == TC_OPEN)
            SSL_shutdown(c->ssl); /* close_notify, best effort: the socket is non-blocking */
        SSL_free(c->ssl);
    }
    if (c->state != TC_OPEN)
        t->handshaking--;
    ready_remove(t, c);
    epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    t->nconns--;
    atomic_fetch_sub_explicit(&t->in->stats.open_connections, 1, memory_order_relaxed);
}

static void accept_all(tls_input_t *t)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && t->spare_fd >= 0) {
            /* Out of descriptors: take the pending connection with the spare one and refuse
             * it, or the listening socket stays readable and this thread spins (stream.c). */
            close(t->spare_fd);
            fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                close(fd);
                atomic_fetch_add_explicit(&t->in->stats.connections_refused, 1,
                                          memory_order_relaxed);
            }
            t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            continue;
        }
        if (fd < 0)
            return;
        if (t->max_connections && t->nconns >= t->max_connections) {
            atomic_fetch_add_explicit(&t->in->stats.connections_refused, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        tconn_t *c = calloc(1, sizeof(*c));
        if (!c || sl_framer_init(&c->framer, t->framing, t->max_message_size, 0) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = TC_FIRST_BYTES;
        c->accepted = mono_now();
        c->events = EPOLLIN | EPOLLRDHUP;
        sl_netaddr_format((struct sockaddr *)&ss, sl, c->fromhost, sizeof(c->fromhost));
        struct epoll_event ev = {.events = c->events, .data.ptr = c};
        if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            sl_framer_free(&c->framer);
            close(fd);
            free(c);
            continue;
        }
        c->next = t->conns;
        if (t->conns)
            t->conns->prev = c;
        t->conns = c;
        t->nconns++;
        t->handshaking++;
        atomic_fetch_add_explicit(&t->in->stats.connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->in->stats.open_connections, 1, memory_order_relaxed);
    }
}

/* What OpenSSL wants before it can go on: 0 (wait, events set) or -1 (the session is over). */
static int want(tls_input_t *t, tconn_t *c, int rc)
{
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        set_events(t, c, EPOLLIN | EPOLLRDHUP);
        return 0;
    case SSL_ERROR_WANT_WRITE:
        set_events(t, c, EPOLLOUT);
        return 0;
    default:
        return -1;
    }
}

/*
 * A refused client usually comes back every few seconds: the first LOG_BURST problems of a
 * minute are logged, the rest only counted, with one line saying how many were left out.
 */
__attribute__((format(printf, 2, 3))) static void log_limited(tls_input_t *t, const char *fmt, ...)
{
    time_t now = mono_now();
    if (now - t->log_window >= 60) {
        if (t->log_suppressed)
            fprintf(stderr,
                    "sluiced: input %s: %u more TLS connection problems in the last minute "
                    "(counted in the stats, not logged)\n",
                    t->in->name, t->log_suppressed);
        t->log_window = now;
        t->log_count = t->log_suppressed = 0;
    }
    if (t->log_count >= LOG_BURST) {
        t->log_suppressed++;
        return;
    }
    t->log_count++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sluiced: input %s: ", t->in->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int handshake_failed(tls_input_t *t, tconn_t *c, const char *why)
{
    atomic_fetch_add_explicit(&t->in->stats.handshake_failed, 1, memory_order_relaxed);
    log_limited(t, "TLS handshake with %s failed: %s", c->fromhost, why);
    return -1;
}

/* Peeks at the first bytes and runs the handshake. 1: open, 0: waiting, -1: close. */
static int conn_start(tls_input_t *t, tconn_t *c)
{
    if (c->state == TC_FIRST_BYTES) {
        unsigned char first;
        ssize_t r = recv(c->fd, &first, 1, MSG_PEEK);
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (r == 0)
            return -1; /* connected and went away: a port check, say */
        if (first != 0x16) {
            atomic_fetch_add_explicit(&t->in->stats.wrong_protocol, 1, memory_order_relaxed);
            log_limited(t, "a plain TCP client (not TLS) connected to a TLS port from %s",
                        c->fromhost);
            return -1;
        }
        c->ssl = SSL_new(t->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
            return handshake_failed(t, c, "out of memory");
        SSL_set_accept_state(c->ssl);
        c->state = TC_HANDSHAKE;
    }
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
        if (want(t, c, rc) == 0)
            return 0;
        char why[SL_TLS_ERRLEN];
        sl_tls_describe_error(c->ssl, rc, why, sizeof(why));
        return handshake_failed(t, c, why);
    }
    c->state = TC_OPEN;
    t->handshaking--;
    set_events(t, c, EPOLLIN | EPOLLRDHUP);
    return 1;
}

/*
 * Serves c once: handshake, or up to READ_SIZE bytes of data. Returns 1 when data came, 0 when
 * nothing more can be done now, -1 when the connection is finished.
 */
static int conn_serve(tls_input_t *t, sl_input_batch_t *b, tconn_t *c, char *buf)
{
    if (c->state != TC_OPEN) {
        int rc = conn_start(t, c);
        if (rc <= 0)
            return rc;
    }
    size_t total = 0;
    frame_ctx_t fc = {b, c};
    while (total < READ_SIZE) {
        int r = SSL_read(c->ssl, buf, READ_SIZE);
        if (r <= 0) {
            ready_remove(t, c);
            if (want(t, c, r) == 0)
                return total > 0;
            return -1; /* close_notify, a reset or a TLS error: the stream is over */
        }
        sl_input_batch_clock(b);
        if (sl_framer_feed(&c->framer, buf, (size_t)r, on_frame, &fc) < 0)
            return -1;
        total += (size_t)r;
    }
    ready_add(t, c); /* OpenSSL may already hold more than epoll can see */
    return 1;
}

/* Closes connections whose handshake has not finished in time. */
static void expire_handshakes(tls_input_t *t, sl_input_batch_t *b)
{
    time_t now = mono_now();
    for (tconn_t *c = t->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != TC_OPEN && now - c->accepted >= HANDSHAKE_TIMEOUT_S) {
            handshake_failed(t, c, "timed out");
            conn_close(t, b, c);
        }
    }
}

static void *server_main(void *p)
{
    tls_input_t *t = p;
    sl_input_batch_t *b = malloc(sizeof(*b));
    char *buf = malloc(READ_SIZE);
    struct epoll_event evs[64];
    bool stop = false;
    time_t last_expiry = mono_now();
    if (!b || !buf || sl_input_batch_init(b, t->in, SL_QUEUE_BLOCK) < 0) {
        fprintf(stderr, "sluiced: input %s: out of memory\n", t->in->name);
        free(b);
        free(buf);
        return NULL;
    }
    while (!stop) {
        /* Connections OpenSSL holds bytes for are served without waiting; pending handshakes
         * need a wake-up now and then for their deadline. */
        int timeout = t->ready ? 0 : t->handshaking ? 1000 : -1;
        int n = epoll_wait(t->epoll_fd, evs, 64, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == NULL) {
                accept_all(t);
            } else if (tag == t) {
                stop = true;
            } else {
                tconn_t *c = tag;
                if (conn_serve(t, b, c, buf) < 0)
                    conn_close(t, b, c);
            }
        }
        /* One turn each, as for the connections epoll reported. */
        tconn_t *r = t->ready;
        t->ready = NULL;
        while (r) {
            tconn_t *c = r;
            r = r->ready_next;
            c->ready = false;
            c->ready_next = NULL;
            if (conn_serve(t, b, c, buf) < 0)
                conn_close(t, b, c);
        }
        if (t->handshaking && mono_now() != last_expiry) {
            last_expiry = mono_now();
            expire_handshakes(t, b);
        }
        sl_input_batch_flush(b);
    }
    /* As stream.c: a pause keeps every connection; a stop takes what each open connection has
     * already sent (a bounded number of turns) and closes. */
    while (!atomic_load(&t->pausing) && t->conns) {
        tconn_t *c = t->conns;
        for (int i = 0; i < 16 && c->state == TC_OPEN && conn_serve(t, b, c, buf) > 0; i++)
            ;
        conn_close(t, b, c);
    }
    sl_input_batch_flush(b);
    sl_input_batch_free(b);
    free(b);
    free(buf);
    return NULL;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        return -errno;
    return 0;
}

static int tls_bind(sl_input_t *in, char *err, size_t errlen)
{
    tls_input_t *t = in->impl;
    sl_hostport_t hp;
    sl_sockaddr_t addr;
    const char *why = NULL;
    uint16_t port = 0;
    if (sl_netaddr_parse(t->listen, 6514, &hp, &why) < 0 ||
        sl_netaddr_resolve(&hp, SOCK_STREAM, SL_RESOLVE_PASSIVE, &addr, 1, &why) <= 0) {
        snprintf(err, errlen, "listen '%s': %s", t->listen, why ? why : "invalid");
        return -EINVAL;
    }
    t->listen_fd = sl_netaddr_listen_tcp(&addr, 1024, &port);
    if (t->listen_fd < 0) {
        int rc = t->listen_fd;
        snprintf(err, errlen, "listen %s: %s", t->listen, strerror(-rc));
        return rc;
    }
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (t->epoll_fd < 0 || t->stop_fd < 0)
        return -errno;
    t->ready_to_run = true;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->listen_fd, &ev) < 0)
        return -errno;
    ev.data.ptr = t; /* marks the stop event */
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->stop_fd, &ev) < 0)
        return -errno;
    int rc;
    if (t->port_file && (rc = write_port_file(t->port_file, port)) < 0) {
        snprintf(err, errlen, "port_file %s: %s", t->port_file, strerror(-rc));
        return rc;
    }
    return 0;
}

static int tls_start(sl_input_t *in)
{
    tls_input_t *t = in->impl;
    if (!t->ready_to_run)
        return -EINVAL;
    if (t->started_once) {
        /* A reload resumes this input: read the certificate files again. */
        SSL_CTX *ctx;
        char err[512];
        if (sl_tls_server_ctx(&t->tls, &ctx, err, sizeof(err)) == 0) {
            SSL_CTX_free(t->ctx);
            t->ctx = ctx;
        } else {
            fprintf(stderr,
                    "sluiced: input %s: the certificates could not be reloaded, the "
                    "previous ones stay: %s\n",
                    in->name, err);
        }
    }
    t->started_once = true;
    int rc = pthread_create(&t->thread, NULL, server_main, t);
    if (rc != 0)
        return -rc;
    t->running = true;
    return 0;
}

static void tls_stop(sl_input_t *in)
{
    tls_input_t *t = in->impl;
    if (!t->running)
        return;
    uint64_t one = 1;
    if (write(t->stop_fd, &one, sizeof(one)) < 0)
        perror("sluiced: tls input stop");
    pthread_join(t->thread, NULL);
    t->running = false;
    if (read(t->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        perror("sluiced: tls input stop");
}

static void tls_pause(sl_input_t *in)
{
    tls_input_t *t = in->impl;
    atomic_store(&t->pausing, true);
    tls_stop(in);
    atomic_store(&t->pausing, false);
}

static void tls_destroy(sl_input_t *in)
{
    tls_input_t *t = in->impl;
    if (!t)
        return;
    tls_stop(in);
    while (t->conns)
        conn_close(t, NULL, t->conns);
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->epoll_fd >= 0)
        close(t->epoll_fd);
    if (t->stop_fd >= 0)
        close(t->stop_fd);
    if (t->spare_fd >= 0)
        close(t->spare_fd);
    SSL_CTX_free(t->ctx);
    sl_tls_conf_free(&t->tls);
    free(t->listen);
    free(t->port_file);
    free(t);
}

static const sl_input_ops_t tls_ops = {"tls",    tls_bind,  tls_start,
                                       tls_stop, tls_pause, tls_destroy};

int sl_tls_input_create(const char *name, const sl_tls_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen)
{
    if (!conf->listen) {
        snprintf(err, errlen, "input type tls needs 'listen'");
        return -EINVAL;
    }
    if (!conf->tls) {
        snprintf(err, errlen, "input type tls needs 'tls' (cert_file, key_file)");
        return -EINVAL;
    }
    sl_input_t *in = calloc(1, sizeof(*in));
    tls_input_t *t = calloc(1, sizeof(*t));
    char *desc = NULL;
    int rc = -ENOMEM;
    if (!in || !t) {
        free(in);
        free(t);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    in->impl = t;
    t->listen_fd = t->epoll_fd = t->stop_fd = t->spare_fd = -1;
    t->in = in;
    t->framing = conf->framing;
    t->max_message_size = conf->max_message_size ? conf->max_message_size : 64 * 1024;
    t->max_connections = conf->max_connections;
    t->listen = strdup(conf->listen);
    t->port_file = conf->port_file ? strdup(conf->port_file) : NULL;
    if (!t->listen || (conf->port_file && !t->port_file) || sl_tls_conf_copy(&t->tls, conf->tls))
        goto nomem;
    in->ops = &tls_ops;
    in->engine = engine;
    in->name = strdup(name);
    desc = sl_tls_conf_describe(&t->tls);
    if (!in->name || !desc ||
        asprintf(&in->identity, "%s|tls|%s|%d|%zu|%u|%s", name, conf->listen, (int)conf->framing,
                 t->max_message_size, conf->max_connections, desc) < 0) {
        in->identity = NULL;
        goto nomem;
    }
    free(desc);
    desc = NULL;
    if ((rc = sl_tls_server_ctx(&t->tls, &t->ctx, err, errlen)) < 0)
        goto fail;
    *out = in;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    free(desc);
    tls_destroy(in);
    free(in->name);
    free(in->identity);
    free(in);
    return rc;
}

#else /* !SL_HAVE_OPENSSL */

int sl_tls_input_create(const char *name, const sl_tls_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen)
{
    (void)name;
    (void)conf;
    (void)engine;
    *out = NULL;
    snprintf(err, errlen, "input type tls needs OpenSSL, which this build lacks");
    return -ENOTSUP;
}

#endif
