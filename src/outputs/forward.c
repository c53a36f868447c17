/*
 * The forward output.
 *
 * TCP: a batch is formatted into one buffer (octet-counted "LEN SP RECORD" frames, or records
 * ending in LF) and sent with as few send() calls as the socket allows. The end offset of every
 * record is remembered, so when the connection breaks mid-batch exactly the records the kernel
 * took count as delivered and the rest is offered again after reconnecting (SL_OUT_RETRY: the
 * action suspends with backoff and its queue holds everything meanwhile). Before each batch the
 * connection is checked for a close from the peer (a readable socket with EOF), because a send
 * to a peer that has gone away succeeds once before it fails.
 * UDP: one datagram per record on a connected socket; a refused datagram is not retried (UDP
 * promises nothing), a record too large for a datagram fails alone.
 * TLS (RFC 5425): TCP with a TLS session on the connection, so framing and the accounting of
 * partial sends are TCP's (SSL_MODE_ENABLE_PARTIAL_WRITE makes SSL_write report what went out,
 * record by record). The server's certificate and name are verified (lib/tls.h). With TLS 1.3
 * a server refuses a client certificate only after the client's handshake has finished, so a
 * connection is used only once the server's verdict is in (sl_tls_client_confirm); otherwise the
 * first batch after every reconnect would go into a connection being closed and be lost. TLS
 * lives here rather than in an output of its own because everything but the transport is TCP's.
 * SIGHUP (reopen) also rebuilds the context, so renewed client certificates are read. The
 * OpenSSL side of all this (contexts, handshake, verdict, writes) is in the sluice_tls module
 * (lib/tls.c), reached through the table an instance keeps (core/module.h): the module is
 * loaded when a tls forward is configured, and a daemon without one never maps OpenSSL.
 *
 * Concurrency: an instance belongs to one worker thread (see output.h), except for cancel(),
 * which the stopping thread calls while the worker may be blocked in send() or connect(): it
 * shuts the socket down, which wakes the worker with an error. fd_lock guards fd against that
 * (the worker holds it to publish or close a socket, never while it waits on one, so cancel
 * never shuts down a number already closed and reused); cancelled is an atomic that the worker
 * reads before every delivery and connection attempt.
 */
#include "outputs/forward.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/module.h"
#include "lib/strbuf.h"

typedef struct fwd_out {
    sl_forward_conf_t conf;
    char *host;
    char *port;
    int fd;                  /* written by the worker under fd_lock */
    pthread_mutex_t fd_lock; /* see Concurrency above */
    atomic_bool cancelled;
    sl_strbuf_t buf;
    sl_strbuf_t rec;
    size_t *ends; /* end offset of each record in buf */
    size_t ends_cap;
    const sl_tls_module_t *tls; /* TLS: the module's calls */
    struct ssl_ctx_st *ctx;
    struct ssl_st *ssl;
    char last_error[SL_TLS_ERRLEN]; /* last TLS failure logged, to log a lasting one once */
} fwd_out_t;

static int split_target(const char *target, char **host, char **port)
{
    const char *colon;
    if (target[0] == '[') {
        const char *close = strchr(target, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        *host = strndup(target + 1, (size_t)(close - target - 1));
        colon = close + 1;
    } else {
        colon = strrchr(target, ':');
        if (!colon)
            return -EINVAL;
        *host = strndup(target, (size_t)(colon - target));
    }
    *port = strdup(colon + 1);
    if (!*host || !*port || !**host || !**port)
        return -EINVAL;
    return 0;
}

int sl_forward_create(const sl_forward_conf_t *conf, void **inst, char *err, size_t errlen)
{
    fwd_out_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->conf = *conf;
    f->fd = -1;
    pthread_mutex_init(&f->fd_lock, NULL);
    atomic_init(&f->cancelled, false);
    if (f->conf.connect_timeout_ms <= 0)
        f->conf.connect_timeout_ms = 5000;
    if (split_target(conf->target, &f->host, &f->port) < 0) {
        snprintf(err, errlen, "target '%s': expected host:port", conf->target);
        free(f->host);
        free(f->port);
        pthread_mutex_destroy(&f->fd_lock);
        free(f);
        return -EINVAL;
    }
    if (f->conf.protocol == SL_FWD_TLS) {
        static const sl_tls_conf_t defaults;
        f->tls = sl_module_tls(err, errlen);
        int rc = f->tls
                     ? f->tls->client_ctx(conf->tls ? conf->tls : &defaults, &f->ctx, err, errlen)
                     : -ENOTSUP;
        if (rc < 0) {
            free(f->host);
            free(f->port);
            pthread_mutex_destroy(&f->fd_lock);
            free(f);
            return rc;
        }
    }
    *inst = f;
    return 0;
}

static void fwd_close(fwd_out_t *f)
{
    pthread_mutex_lock(&f->fd_lock);
    if (f->ssl) {
        f->tls->close(f->ssl, f->fd);
        f->ssl = NULL;
    }
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    pthread_mutex_unlock(&f->fd_lock);
}

/* Makes fd the instance's socket, so that cancel() can reach it; false when cancelled. */
static bool fwd_publish(fwd_out_t *f, int fd)
{
    pthread_mutex_lock(&f->fd_lock);
    bool ok = !atomic_load(&f->cancelled);
    if (ok)
        f->fd = fd;
    pthread_mutex_unlock(&f->fd_lock);
    return ok;
}

/*
 * True when the socket is connected to itself. Linux picks the local port of a connection
 * from the ephemeral range; when the target is a local port in that range where nothing
 * listens, it can pick that very port, and the SYN meets itself (TCP simultaneous open): the
 * connection "succeeds", everything sent comes back to the sender, and every message would
 * count as delivered while the target is down. The same holds for a connected UDP socket.
 */
static bool self_connected(int fd)
{
    struct sockaddr_storage local, peer;
    socklen_t ll = sizeof(local), pl = sizeof(peer);
    if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
        return false;
    return ll == pl && memcmp(&local, &peer, ll) == 0;
}

/* Logs a TLS failure unless it is the one logged last (a lasting failure is logged once; the
 * action's suspension shows in the stats meanwhile). */
static void tls_log(fwd_out_t *f, const char *what, const char *why)
{
    if (strcmp(f->last_error, why) == 0)
        return;
    snprintf(f->last_error, sizeof(f->last_error), "%s", why);
    fprintf(stderr, "sluiced: forward to %s: %s: %s\n", f->conf.target, what, why);
}

/* The TLS session on the connected socket, within the connect timeout. 0 or -errno. */
static int tls_open(fwd_out_t *f)
{
    const char *name = f->conf.tls && f->conf.tls->server_name ? f->conf.tls->server_name : f->host;
    const char *what;
    char why[SL_TLS_ERRLEN];
    int rc = f->tls->client_open(f->ctx, f->fd, name, f->conf.connect_timeout_ms, &f->ssl, &what,
                                 why, sizeof(why));
    if (rc < 0) {
        tls_log(f, what, why);
        return rc;
    }
    if (f->last_error[0])
        fprintf(stderr, "sluiced: forward to %s: TLS session established\n", f->conf.target);
    f->last_error[0] = '\0';
    return 0;
}

/* Connects with a timeout. 0 or -errno. */
static int fwd_connect(fwd_out_t *f)
{
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_socktype = f->conf.protocol == SL_FWD_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(f->host, f->port, &hints, &res);
    if (rc != 0)
        return -EHOSTUNREACH;
    rc = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (!fwd_publish(f, fd)) {
            close(fd);
            rc = -ECANCELED;
            break;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            rc = -errno;
            fwd_close(f);
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t elen = sizeof(err);
        if (poll(&p, 1, f->conf.connect_timeout_ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0 ||
            atomic_load(&f->cancelled)) {
            rc = err ? -err : atomic_load(&f->cancelled) ? -ECANCELED : -ETIMEDOUT;
            fwd_close(f);
            continue;
        }
        if (self_connected(fd)) {
            rc = -ECONNREFUSED;
            fwd_close(f);
            continue;
        }
        /* Back to blocking: the worker thread has nothing else to do while sending. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        /* No Nagle: a batch is formatted whole and sent at once, so holding its tail back
         * saves nothing, and what send() took must reach the peer now. With Nagle a short
         * batch waited in this socket for the peer's (delayed) ACK, up to 40 ms, after
         * deliver() had counted it delivered; a peer that closed meanwhile never saw it and
         * the connection was reset: messages lost without a counter. */
        if (f->conf.protocol == SL_FWD_TCP) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    if (rc == 0 && f->conf.protocol == SL_FWD_TLS && (rc = tls_open(f)) < 0)
        fwd_close(f);
    return rc;
}

/* Sends what the connection takes: a byte count, or -1 when it is broken. */
static ssize_t fwd_send(fwd_out_t *f, const char *p, size_t len)
{
    if (f->ssl)
        return f->tls->write(f->ssl, p, len);
    for (;;) {
        ssize_t w = send(f->fd, p, len, MSG_NOSIGNAL);
        if (w >= 0 || errno != EINTR)
            return w;
    }
}

/* True when the peer has closed or reset the TCP connection (or ended the TLS session). */
static int peer_gone(fwd_out_t *f)
{
    if (f->ssl)
        return f->tls->peer_closed(f->ssl, f->fd);
    char c;
    ssize_t r = recv(f->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0)
        return 1;
    return r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* The record without its final LF, which framing adds back where it is wanted. */
static int format_record(fwd_out_t *f, const sl_msg_t *m)
{
    sl_strbuf_reset(&f->rec);
    if (sl_template_format(f->conf.tmpl, m, &f->rec) < 0)
        return -ENOMEM;
    if (f->rec.len && f->rec.data[f->rec.len - 1] == '\n')
        f->rec.len--;
    return 0;
}

static sl_out_status_t deliver_udp(fwd_out_t *f, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    for (size_t i = 0; i < n; i++) {
        sl_msg_prefetch_batch(msgs, i, n);
        if (format_record(f, msgs[i]) < 0) {
            *done = i;
            return SL_OUT_RETRY;
        }
        if (send(f->fd, f->rec.data, f->rec.len, MSG_NOSIGNAL) < 0 && errno == EMSGSIZE) {
            *done = i;
            return SL_OUT_FAIL;
        }
        /* Other errors (a refused port answering an earlier datagram) are UDP's loss. */
    }
    *done = n;
    return SL_OUT_OK;
}

static sl_out_status_t deliver_tcp(fwd_out_t *f, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    if (n > f->ends_cap) {
        size_t *e = realloc(f->ends, n * sizeof(*e));
        if (!e) {
            *done = 0;
            return SL_OUT_RETRY;
        }
        f->ends = e;
        f->ends_cap = n;
    }
    sl_strbuf_reset(&f->buf);
    for (size_t i = 0; i < n; i++) {
        sl_msg_prefetch_batch(msgs, i, n);
        if (format_record(f, msgs[i]) < 0) {
            *done = 0;
            return SL_OUT_RETRY;
        }
        if (f->conf.framing == SL_FWD_OCTET_COUNTED) {
            char len[24];
            int l = snprintf(len, sizeof(len), "%zu ", f->rec.len);
            if (sl_strbuf_append(&f->buf, len, (size_t)l) < 0) {
                *done = 0;
                return SL_OUT_RETRY;
            }
        }
        if (sl_strbuf_append(&f->buf, f->rec.data, f->rec.len) < 0 ||
            (f->conf.framing == SL_FWD_LF && sl_strbuf_putc(&f->buf, '\n') < 0)) {
            *done = 0;
            return SL_OUT_RETRY;
        }
        f->ends[i] = f->buf.len;
    }
    size_t off = 0;
    while (off < f->buf.len) {
        ssize_t w = fwd_send(f, f->buf.data + off, f->buf.len - off);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    size_t k = 0;
    while (k < n && f->ends[k] <= off)
        k++;
    *done = k;
    if (k < n) {
        fwd_close(f);
        return SL_OUT_RETRY;
    }
    return SL_OUT_OK;
}

static sl_out_status_t fwd_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    fwd_out_t *f = inst;
    *done = 0;
    if (atomic_load(&f->cancelled))
        return SL_OUT_RETRY;
    if (f->fd >= 0 && f->conf.protocol != SL_FWD_UDP && peer_gone(f))
        fwd_close(f);
    if (f->fd < 0 && fwd_connect(f) < 0)
        return SL_OUT_RETRY;
    if (f->conf.protocol == SL_FWD_UDP)
        return deliver_udp(f, msgs, n, done);
    return deliver_tcp(f, msgs, n, done);
}

static sl_out_status_t fwd_flush(void *inst)
{
    (void)inst;
    return SL_OUT_OK;
}

static void fwd_reopen(void *inst)
{
    fwd_out_t *f = inst;
    fwd_close(f);
    if (f->conf.protocol == SL_FWD_TLS) {
        /* Renewed certificates are read; a set that cannot be read leaves the old one. */
        static const sl_tls_conf_t defaults;
        struct ssl_ctx_st *ctx;
        char err[512];
        if (f->tls->client_ctx(f->conf.tls ? f->conf.tls : &defaults, &ctx, err, sizeof(err)) ==
            0) {
            f->tls->ctx_free(f->ctx);
            f->ctx = ctx;
        } else {
            fprintf(stderr,
                    "sluiced: forward to %s: certificates not reloaded, the previous ones "
                    "stay: %s\n",
                    f->conf.target, err);
        }
    }
}

/* A blocked send() or connect() fails at once with the socket shut down (see the top). What
 * send() already took is still sent, so the peer gets every record counted delivered. A UDP
 * send does not wait on the peer, and one shut down would fail in a way deliver_udp counts as
 * UDP's loss: UDP sockets are left alone, the flag stops the next delivery. */
static void fwd_cancel(void *inst)
{
    fwd_out_t *f = inst;
    pthread_mutex_lock(&f->fd_lock);
    atomic_store(&f->cancelled, true);
    if (f->fd >= 0 && f->conf.protocol == SL_FWD_TCP)
        shutdown(f->fd, SHUT_RDWR);
    pthread_mutex_unlock(&f->fd_lock);
}

static void fwd_destroy(void *inst)
{
    fwd_out_t *f = inst;
    if (!f)
        return;
    fwd_close(f);
    if (f->ctx)
        f->tls->ctx_free(f->ctx);
    sl_strbuf_free(&f->buf);
    sl_strbuf_free(&f->rec);
    free(f->ends);
    free(f->host);
    free(f->port);
    pthread_mutex_destroy(&f->fd_lock);
    free(f);
}

const sl_output_ops_t sl_forward_ops = {
    .type = "forward",
    .deliver = fwd_deliver,
    .flush = fwd_flush,
    .reopen = fwd_reopen,
    .cancel = fwd_cancel,
    .destroy = fwd_destroy,
};
