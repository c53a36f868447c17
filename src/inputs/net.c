/*
 * The socket inputs: binding their sockets and wiring them to the stream server (stream.c) or
 * the datagram receiver (dgram.c). Concurrency: a net_input is touched by the housekeeping
 * thread only (bind, start, stop, destroy); its servers own their threads.
 */
#include "inputs/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "inputs/dgram.h"
#include "inputs/stream.h"
#include "lib/fsutil.h"
#include "lib/netaddr.h"

enum net_kind { NET_TCP, NET_UDP, NET_UNIX, NET_UNIX_STREAM };

typedef struct net_input {
    enum net_kind kind;
    sl_net_input_conf_t conf;
    char *listen, *path, *port_file; /* owned copies of the conf strings */
    bool stream_ready, dgram_ready;
    char local_name[256]; /* this machine's short name, for local senders (as rsyslog) */
    sl_stream_server_t stream;
    sl_dgram_server_t dgram;
} net_input_t;

static const struct {
    const char *name;
    enum net_kind kind;
} kinds[] = {
    {"tcp", NET_TCP}, {"udp", NET_UDP}, {"unix", NET_UNIX}, {"unix-stream", NET_UNIX_STREAM}};

bool sl_net_input_type(const char *type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, type) == 0)
            return true;
    }
    return false;
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

static int bind_unix(const char *path, int type, mode_t mode, char *err, size_t errlen)
{
    sl_mkdir_parents(path, 0755);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A socket file left by an earlier run would make bind fail; a non-socket stays. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int rc = sl_unix_bind(fd, path);
    if (rc == 0 && type == SOCK_STREAM && listen(fd, 1024) < 0)
        rc = -errno;
    if (rc < 0) {
        if (rc == -ENAMETOOLONG)
            snprintf(err, errlen, "socket path %s: file name too long", path);
        else
            snprintf(err, errlen, "bind %s: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    chmod(path, mode ? mode : 0666);
    return fd;
}

static int resolve_listen(net_input_t *n, int socktype, sl_sockaddr_t *addr, char *err,
                          size_t errlen)
{
    sl_hostport_t hp;
    const char *why = NULL;
    if (sl_netaddr_parse(n->listen, 514, &hp, &why) < 0) {
        snprintf(err, errlen, "listen '%s': %s", n->listen, why ? why : "invalid");
        return -EINVAL;
    }
    int k = sl_netaddr_resolve(&hp, socktype, SL_RESOLVE_PASSIVE, addr, 1, &why);
    if (k <= 0) {
        snprintf(err, errlen, "listen '%s': %s", n->listen, why ? why : "cannot resolve");
        return -EINVAL;
    }
    return 0;
}

static int net_bind(sl_input_t *in, char *err, size_t errlen)
{
    net_input_t *n = in->impl;
    if (gethostname(n->local_name, sizeof(n->local_name)) < 0 || !n->local_name[0])
        strcpy(n->local_name, "localhost");
    n->local_name[sizeof(n->local_name) - 1] = '\0';
    n->local_name[strcspn(n->local_name, ".")] = '\0';
    sl_stream_conf_t sc = {.local_name = n->local_name,
                           .framing = n->conf.framing,
                           .max_message_size = n->conf.max_message_size,
                           .max_connections = n->conf.max_connections,
                           .peer_is_local = n->kind == NET_UNIX_STREAM};
    unsigned nthreads = n->conf.threads ? n->conf.threads : 1;
    sl_dgram_conf_t dc = {.local_name = n->local_name,
                          .max_message_size = n->conf.max_message_size,
                          .local = n->kind == NET_UNIX};
    sl_sockaddr_t addr;
    uint16_t port = 0;
    int fd, rc;
    switch (n->kind) {
    case NET_TCP:
        if ((rc = resolve_listen(n, SOCK_STREAM, &addr, err, errlen)) < 0)
            return rc;
        fd = sl_netaddr_listen_tcp(&addr, 1024, &port);
        if (fd < 0) {
            snprintf(err, errlen, "listen %s: %s", n->listen, strerror(-fd));
            return fd;
        }
        if ((rc = sl_stream_init(&n->stream, in, &sc, fd, nthreads)) < 0)
            return rc;
        n->stream_ready = true;
        break;
    case NET_UNIX_STREAM:
        fd = bind_unix(n->path, SOCK_STREAM, n->conf.socket_mode, err, errlen);
        if (fd < 0)
            return fd;
        if ((rc = sl_stream_init(&n->stream, in, &sc, fd, nthreads)) < 0)
            return rc;
        n->stream_ready = true;
        break;
    case NET_UDP: {
        int fds[SL_DGRAM_MAX_THREADS];
        unsigned want = n->conf.threads ? n->conf.threads : 1;
        if (want > SL_DGRAM_MAX_THREADS)
            want = SL_DGRAM_MAX_THREADS;
        if ((rc = resolve_listen(n, SOCK_DGRAM, &addr, err, errlen)) < 0)
            return rc;
        for (unsigned i = 0; i < want; i++) {
            /* Every socket after the first binds the port the first one got (port 0). */
            if (i == 1) {
                if (addr.u.sa.sa_family == AF_INET6)
                    addr.u.in6.sin6_port = htons(port);
                else
                    addr.u.in.sin_port = htons(port);
            }
            fds[i] = sl_netaddr_bind_udp(&addr, want > 1 ? SL_UDP_REUSEPORT : 0, n->conf.rcvbuf,
                                         i == 0 ? &port : NULL);
            if (fds[i] < 0) {
                snprintf(err, errlen, "bind %s: %s", n->listen, strerror(-fds[i]));
                for (unsigned j = 0; j < i; j++)
                    close(fds[j]);
                return fds[i];
            }
        }
        if ((rc = sl_dgram_init(&n->dgram, in, &dc, fds, want)) < 0)
            return rc;
        n->dgram_ready = true;
        break;
    }
    case NET_UNIX:
        fd = bind_unix(n->path, SOCK_DGRAM, n->conf.socket_mode, err, errlen);
        if (fd < 0)
            return fd;
        if ((rc = sl_dgram_init(&n->dgram, in, &dc, &fd, 1)) < 0)
            return rc;
        n->dgram_ready = true;
        break;
    }
    if (n->port_file && (rc = write_port_file(n->port_file, port)) < 0) {
        snprintf(err, errlen, "port_file %s: %s", n->port_file, strerror(-rc));
        return rc;
    }
    return 0;
}

static int net_start(sl_input_t *in)
{
    net_input_t *n = in->impl;
    if (n->stream_ready)
        return sl_stream_start(&n->stream);
    if (n->dgram_ready)
        return sl_dgram_start(&n->dgram);
    return -EINVAL;
}

static void net_stop(sl_input_t *in)
{
    net_input_t *n = in->impl;
    if (n->stream_ready)
        sl_stream_stop(&n->stream);
    if (n->dgram_ready)
        sl_dgram_stop(&n->dgram);
}

static void net_pause(sl_input_t *in)
{
    net_input_t *n = in->impl;
    if (n->stream_ready)
        sl_stream_pause(&n->stream);
    if (n->dgram_ready)
        sl_dgram_stop(&n->dgram);
}

static void net_destroy(sl_input_t *in)
{
    net_input_t *n = in->impl;
    if (!n)
        return;
    if (n->stream_ready)
        sl_stream_free(&n->stream);
    if (n->dgram_ready)
        sl_dgram_free(&n->dgram);
    /* Only the input that bound the socket file removes it: an unbound twin (a reload that
     * handed the bound one over) must not take a live socket's name away. */
    if (in->bound && n->path && (n->kind == NET_UNIX || n->kind == NET_UNIX_STREAM))
        unlink(n->path);
    free(n->listen);
    free(n->path);
    free(n->port_file);
    free(n);
}

static const sl_input_ops_t net_ops[] = {
    [NET_TCP] = {"tcp", net_bind, net_start, net_stop, net_pause, net_destroy},
    [NET_UDP] = {"udp", net_bind, net_start, net_stop, net_pause, net_destroy},
    [NET_UNIX] = {"unix", net_bind, net_start, net_stop, net_pause, net_destroy},
    [NET_UNIX_STREAM] = {"unix-stream", net_bind, net_start, net_stop, net_pause, net_destroy},
};

int sl_net_input_create(const char *name, const sl_net_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen)
{
    int kind = -1;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, conf->type) == 0)
            kind = (int)kinds[i].kind;
    }
    if (kind < 0) {
        snprintf(err, errlen, "unknown input type '%s'", conf->type);
        return -EINVAL;
    }
    bool unix_kind = kind == NET_UNIX || kind == NET_UNIX_STREAM;
    if (unix_kind ? !conf->path : !conf->listen) {
        snprintf(err, errlen, "input type %s needs '%s'", conf->type,
                 unix_kind ? "path" : "listen");
        return -EINVAL;
    }
    sl_input_t *in = calloc(1, sizeof(*in));
    net_input_t *n = calloc(1, sizeof(*n));
    if (!in || !n)
        goto nomem;
    n->kind = (enum net_kind)kind;
    n->conf = *conf;
    if (!n->conf.max_message_size)
        n->conf.max_message_size = 64 * 1024;
    n->listen = conf->listen ? strdup(conf->listen) : NULL;
    n->path = conf->path ? strdup(conf->path) : NULL;
    n->port_file = conf->port_file ? strdup(conf->port_file) : NULL;
    n->conf.listen = n->conf.path = n->conf.port_file = NULL;
    n->conf.type = net_ops[kind].type;
    in->name = strdup(name);
    if (asprintf(&in->identity, "%s|%s|%s|%s|%d|%zu|%u|%u|%d|%o", name, conf->type,
                 conf->listen ? conf->listen : "", conf->path ? conf->path : "", (int)conf->framing,
                 n->conf.max_message_size, conf->max_connections, conf->threads, conf->rcvbuf,
                 (unsigned)conf->socket_mode) < 0)
        in->identity = NULL;
    if (!in->name || !in->identity)
        goto nomem;
    in->ops = &net_ops[kind];
    in->local = unix_kind;
    in->impl = n;
    in->engine = engine;
    *out = in;
    return 0;
nomem:
    free(in);
    free(n);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}
