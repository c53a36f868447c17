/*
 * The relp input, on librelp's server engine.
 *
 * librelp runs the sockets: relpEngineRun is an epoll loop on the listening socket and the
 * sessions, run here on the input's own thread, and it calls on_syslog for every message. A
 * message is acknowledged ("rsp 200") when on_syslog returns, so on_syslog parses the message
 * and routes it at once (a batch of one): when the acknowledgement goes out, the message is in
 * every matching action's queue. Routing blocks while a queue is full; the engine thread then
 * sends no acknowledgements and reads nothing, the senders' windows fill and they wait — flow
 * control without loss. librelp answers "200 OK" whatever the callback returns, so a message
 * that cannot be parsed for lack of memory is acknowledged and lost: it is counted
 * (dropped.no_memory), as for every other input.
 *
 * Stopping: relpEngineSetStop only sets a flag that the loop reads after epoll_wait returns, so
 * the stopping thread then connects to the listening socket to wake it (the connection is never
 * accepted). The loop clears that flag when it starts, so both are repeated until the engine
 * thread says it has ended (`ended`, under gate_lock). Pausing (a reload that keeps this input): librelp cannot resume a stopped loop
 * with its sessions, so the loop keeps running and on_syslog waits at a gate until the input is
 * started again, now routing into the new configuration's engine. The senders meanwhile wait
 * for their acknowledgements, and lose nothing.
 *
 * Port 0: librelp does not say which port it bound, so bind compares the process's descriptors
 * before and after and asks the new listening socket (librelp binds one socket per address, so
 * port 0 is meaningful with one address, e.g. 127.0.0.1:0).
 *
 * Concurrency: the engine and its sessions belong to the input's thread while it runs, and to
 * the housekeeping thread before start and after stop. The batch is guarded by gate_lock,
 * which on_syslog holds while it routes and pause takes to close the gate (so a pause waits for
 * the message being routed, as stream.c's pause waits for its thread); paused and gen are
 * guarded by it too. librelp's stop flag is a plain int written by relpEngineSetStop and read
 * by the loop inside librelp; the wake-up connection orders the two in practice, as in rsyslog.
 */
#include "inputs/relp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"

#if SL_HAVE_RELP

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <librelp.h>

#include "lib/netaddr.h"

typedef struct relp_input {
    sl_input_t *in;
    char *listen, *port_file;
    char host[SL_NETADDR_HOST_MAX + 1]; /* empty: every address */
    char port[8];
    size_t max_message_size;
    relpEngine_t *engine;
    sl_sockaddr_t bound; /* the listening socket's address, to wake the loop */
    bool have_bound;
    pthread_t thread;
    bool running;
    /* The gate (see the file comment). */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_open;
    pthread_cond_t ended_cond; /* signalled when the engine thread leaves relpEngineRun */
    bool ended;
    bool paused;
    bool batch_ready;
    sl_input_batch_t batch;
} relp_input_t;

static void relp_log(relp_input_t *r, const char *what, const char *errmsg, int code)
{
    fprintf(stderr, "sluiced: input %s: RELP %s: %s (librelp error %d)\n", r->in->name, what,
            errmsg, code);
}

static void on_err(void *usr, char *objinfo, char *errmsg, relpRetVal code)
{
    relp_input_t *r = usr;
    /* A sender closing its session without "close" is how omrelp ends sessions too. */
    if (code == RELP_RET_SESSION_BROKEN && errmsg && strstr(errmsg, "closed"))
        return;
    if (r)
        relp_log(r, objinfo ? objinfo : "error", errmsg ? errmsg : "", code);
}

static void on_generic_err(char *objinfo, char *errmsg, relpRetVal code)
{
    fprintf(stderr, "sluiced: relp: %s: %s (librelp error %d)\n", objinfo ? objinfo : "",
            errmsg ? errmsg : "", code);
}

static void on_auth_err(void *usr, char *authinfo, char *errmsg, relpRetVal code)
{
    relp_input_t *r = usr;
    if (r)
        relp_log(r, authinfo ? authinfo : "authentication", errmsg ? errmsg : "", code);
}

static relpRetVal on_syslog(void *usr, unsigned char *hostname, unsigned char *ip,
                            unsigned char *msg, size_t len)
{
    relp_input_t *r = usr;
    (void)hostname;
    pthread_mutex_lock(&r->gate_lock);
    while (r->paused)
        pthread_cond_wait(&r->gate_open, &r->gate_lock);
    if (!r->batch_ready) {
        /* First message after start: the batch routes into the engine the input has now. */
        if (sl_input_batch_init(&r->batch, r->in, SL_QUEUE_BLOCK) < 0) {
            sl_input_batch_free(&r->batch);
            pthread_mutex_unlock(&r->gate_lock);
            atomic_fetch_add_explicit(&r->in->stats.dropped_no_memory, 1, memory_order_relaxed);
            return RELP_RET_OUT_OF_MEMORY;
        }
        r->batch_ready = true;
    }
    bool truncated = len > r->max_message_size;
    sl_input_batch_clock(&r->batch);
    int rc = sl_input_batch_add(&r->batch, (const char *)msg, truncated ? r->max_message_size : len,
                                ip ? (const char *)ip : "", truncated);
    sl_input_batch_flush(&r->batch);
    pthread_mutex_unlock(&r->gate_lock);
    return rc == 0 ? RELP_RET_OK : RELP_RET_OUT_OF_MEMORY;
}

/* The descriptors open now, as a sorted array (malloc'd); -errno on failure. */
static int open_fds(int **out, size_t *n)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    size_t cap = 64, k = 0;
    int *v = malloc(cap * sizeof(*v));
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        /* The directory's own descriptor is listed too, and is closed right after. */
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == dirfd(d))
            continue;
        if (k == cap) {
            int *nv = realloc(v, (cap *= 2) * sizeof(*v));
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        v[k++] = atoi(e->d_name);
    }
    closedir(d);
    if (!v)
        return -ENOMEM;
    *out = v;
    *n = k;
    return 0;
}

static bool fd_in(const int *v, size_t n, int fd)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == fd)
            return true;
    }
    return false;
}

/* Finds the listening TCP socket librelp has just made (not among before). */
static int find_listener(relp_input_t *r, const int *before, size_t nbefore)
{
    int *after;
    size_t nafter;
    int rc = open_fds(&after, &nafter);
    if (rc < 0)
        return rc;
    rc = -ENOENT;
    for (size_t i = 0; i < nafter && rc < 0; i++) {
        int fd = after[i], listening = 0, type = 0;
        socklen_t l = sizeof(listening), tl = sizeof(type);
        if (fd_in(before, nbefore, fd) ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) < 0 || !listening ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
            continue;
        r->bound.len = sizeof(r->bound.u.ss);
        if (getsockname(fd, &r->bound.u.sa, &r->bound.len) == 0 &&
            (r->bound.u.sa.sa_family == AF_INET || r->bound.u.sa.sa_family == AF_INET6)) {
            r->have_bound = true;
            rc = 0;
        }
    }
    free(after);
    return rc;
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

static int relp_bind(sl_input_t *in, char *err, size_t errlen)
{
    relp_input_t *r = in->impl;
    relpSrv_t *srv = NULL;
    relpRetVal rr;
    int *before = NULL;
    size_t nbefore = 0;
    if ((rr = relpEngineConstruct(&r->engine)) != RELP_RET_OK) {
        snprintf(err, errlen, "cannot start librelp (error %d)", rr);
        return -ENOMEM;
    }
    relpEngineSetDbgprint(r->engine, NULL);
    relpEngineSetEnableCmd(r->engine, (unsigned char *)"syslog", eRelpCmdState_Required);
    relpEngineSetSyslogRcv2(r->engine, on_syslog);
    relpEngineSetOnErr(r->engine, on_err);
    relpEngineSetOnGenericErr(r->engine, on_generic_err);
    relpEngineSetOnAuthErr(r->engine, on_auth_err);
    relpEngineSetDnsLookupMode(r->engine, 0); /* fromhost is the address, as for tcp */
    if (relpEngineListnerConstruct(r->engine, &srv) != RELP_RET_OK ||
        relpSrvSetLstnPort(srv, (unsigned char *)r->port) != RELP_RET_OK ||
        (r->host[0] && relpSrvSetLstnAddr(srv, (unsigned char *)r->host) != RELP_RET_OK) ||
        relpSrvSetUsrPtr(srv, r) != RELP_RET_OK ||
        /* One byte more than we keep, so that a longer message is seen and flagged. */
        relpSrvSetMaxDataSize(srv, r->max_message_size + 1) != RELP_RET_OK ||
        relpSrvSetOversizeMode(srv, RELP_OVERSIZE_TRUNCATE) != RELP_RET_OK) {
        snprintf(err, errlen, "cannot set up the RELP listener");
        return -ENOMEM;
    }
    int rc = open_fds(&before, &nbefore);
    if (rc < 0) {
        snprintf(err, errlen, "cannot list open descriptors: %s", strerror(-rc));
        return rc;
    }
    rr = relpEngineListnerConstructFinalize(r->engine, srv);
    if (rr != RELP_RET_OK) {
        free(before);
        snprintf(err, errlen, "listen %s: cannot bind (librelp error %d%s)", r->listen, rr,
                 rr == RELP_RET_COULD_NOT_BIND ? ": address in use or not available" : "");
        return -EADDRINUSE;
    }
    rc = find_listener(r, before, nbefore);
    free(before);
    if (rc < 0 && strcmp(r->port, "0") != 0) {
        /* The address is known anyway; it is needed to wake the loop when stopping. */
        sl_hostport_t hp;
        const char *why;
        if (sl_netaddr_parse(r->listen, 2514, &hp, &why) == 0 &&
            sl_netaddr_resolve(&hp, SOCK_STREAM, SL_RESOLVE_PASSIVE, &r->bound, 1, &why) > 0)
            r->have_bound = true;
    }
    if (rc < 0 && r->port_file) {
        snprintf(err, errlen, "port_file %s: the RELP listening socket was not found",
                 r->port_file);
        return rc;
    }
    if (r->port_file && (rc = write_port_file(r->port_file, sl_netaddr_port(&r->bound.u.sa))) < 0) {
        snprintf(err, errlen, "port_file %s: %s", r->port_file, strerror(-rc));
        return rc;
    }
    return 0;
}

static void *engine_main(void *p)
{
    relp_input_t *r = p;
    relpRetVal rr = relpEngineRun(r->engine);
    if (rr != RELP_RET_OK)
        fprintf(stderr, "sluiced: input %s: the RELP engine stopped (librelp error %d)\n",
                r->in->name, rr);
    pthread_mutex_lock(&r->gate_lock);
    r->ended = true;
    pthread_cond_broadcast(&r->ended_cond);
    pthread_mutex_unlock(&r->gate_lock);
    return NULL;
}

static int relp_start(sl_input_t *in)
{
    relp_input_t *r = in->impl;
    if (!r->engine)
        return -EINVAL;
    pthread_mutex_lock(&r->gate_lock);
    r->paused = false;
    pthread_cond_broadcast(&r->gate_open);
    if (!r->running)
        r->ended = false;
    pthread_mutex_unlock(&r->gate_lock);
    if (r->running)
        return 0; /* resumed after a pause: the loop never stopped */
    int rc = pthread_create(&r->thread, NULL, engine_main, r);
    if (rc != 0)
        return -rc;
    r->running = true;
    return 0;
}

/* Closes the gate: no message is routed until the next start. The batch is released here,
 * while the engine it routes into still exists; the next start routes into the new one. */
static void relp_pause(sl_input_t *in)
{
    relp_input_t *r = in->impl;
    pthread_mutex_lock(&r->gate_lock);
    r->paused = true;
    if (r->batch_ready) {
        sl_input_batch_free(&r->batch);
        r->batch_ready = false;
    }
    pthread_mutex_unlock(&r->gate_lock);
}

/* Connects to the listening socket so that the loop's epoll_wait returns and sees the stop. */
static int connect_to(const sl_sockaddr_t *a)
{
    int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, &a->u.sa, a->len) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static void wake_loop(relp_input_t *r)
{
    sl_sockaddr_t a = r->bound;
    bool any6 = a.u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a.u.in6.sin6_addr);
    if (a.u.sa.sa_family == AF_INET && a.u.in.sin_addr.s_addr == htonl(INADDR_ANY))
        a.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (any6)
        a.u.in6.sin6_addr = in6addr_loopback;
    int rc = connect_to(&a);
    if (rc < 0 && any6) {
        /* "Any" is an IPv4 socket too, and a host may have no IPv6 loopback. */
        sl_sockaddr_t v4 = {.len = sizeof(struct sockaddr_in)};
        v4.u.in.sin_family = AF_INET;
        v4.u.in.sin_port = a.u.in6.sin6_port;
        v4.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect_to(&v4);
    }
    if (rc < 0)
        fprintf(stderr,
                "sluiced: input %s: cannot wake the RELP engine (%s); it stops with the "
                "next connection\n",
                r->in->name, strerror(-rc));
}

static void relp_stop(sl_input_t *in)
{
    relp_input_t *r = in->impl;
    if (!r->running)
        return;
    /* A paused loop may be waiting at the gate: open it, so it can see the stop. */
    pthread_mutex_lock(&r->gate_lock);
    r->paused = false;
    pthread_cond_broadcast(&r->gate_open);
    pthread_mutex_unlock(&r->gate_lock);
    /* relpEngineRun clears librelp's stop flag when its loop starts, so a stop given before
     * the engine thread got there is lost, and the wake-up connection becomes an idle session:
     * a daemon stopped right after it started waited forever. So the stop and the wake-up are
     * given again every 100 ms until the thread has left the loop. */
    bool ended = false;
    while (!ended) {
        relpEngineSetStop(r->engine);
        if (r->have_bound)
            wake_loop(r);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->gate_lock);
        while (!r->ended &&
               pthread_cond_timedwait(&r->ended_cond, &r->gate_lock, &until) != ETIMEDOUT)
            ;
        ended = r->ended;
        pthread_mutex_unlock(&r->gate_lock);
    }
    pthread_join(r->thread, NULL);
    r->running = false;
    pthread_mutex_lock(&r->gate_lock);
    if (r->batch_ready) {
        sl_input_batch_free(&r->batch);
        r->batch_ready = false;
    }
    pthread_mutex_unlock(&r->gate_lock);
}

static void relp_destroy(sl_input_t *in)
{
    relp_input_t *r = in->impl;
    if (!r)
        return;
    relp_stop(in);
    if (r->engine)
        relpEngineDestruct(&r->engine);
    pthread_mutex_destroy(&r->gate_lock);
    pthread_cond_destroy(&r->gate_open);
    pthread_cond_destroy(&r->ended_cond);
    free(r->listen);
    free(r->port_file);
    free(r);
}

static const sl_input_ops_t relp_ops = {"relp",    relp_bind,  relp_start,
                                        relp_stop, relp_pause, relp_destroy};

int sl_relp_input_create(const char *name, const sl_relp_input_conf_t *conf, sl_engine_t *engine,
                         sl_input_t **out, char *err, size_t errlen)
{
    sl_hostport_t hp;
    const char *why = NULL;
    if (!conf->listen) {
        snprintf(err, errlen, "input type relp needs 'listen'");
        return -EINVAL;
    }
    if (sl_netaddr_parse(conf->listen, 2514, &hp, &why) < 0) {
        snprintf(err, errlen, "listen '%s': %s", conf->listen, why ? why : "invalid");
        return -EINVAL;
    }
    sl_input_t *in = calloc(1, sizeof(*in));
    relp_input_t *r = calloc(1, sizeof(*r));
    if (!in || !r) {
        free(in);
        free(r);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&r->gate_lock, NULL);
    pthread_cond_init(&r->gate_open, NULL);
    pthread_cond_init(&r->ended_cond, NULL);
    in->impl = r;
    in->ops = &relp_ops;
    in->engine = engine;
    r->in = in;
    r->max_message_size = conf->max_message_size ? conf->max_message_size : 64 * 1024;
    if (!hp.any)
        snprintf(r->host, sizeof(r->host), "%s", hp.host);
    snprintf(r->port, sizeof(r->port), "%u", (unsigned)hp.port);
    r->listen = strdup(conf->listen);
    r->port_file = conf->port_file ? strdup(conf->port_file) : NULL;
    in->name = strdup(name);
    if (!r->listen || (conf->port_file && !r->port_file) || !in->name ||
        asprintf(&in->identity, "%s|relp|%s|%zu", name, conf->listen, r->max_message_size) < 0) {
        in->identity = NULL;
        relp_destroy(in);
        free(in->name);
        free(in);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *out = in;
    return 0;
}

#else /* !SL_HAVE_RELP */

int sl_relp_input_create(const char *name, const sl_relp_input_conf_t *conf, sl_engine_t *engine,
                         sl_input_t **out, char *err, size_t errlen)
{
    (void)name;
    (void)conf;
    (void)engine;
    *out = NULL;
    snprintf(err, errlen, "input type relp needs librelp, which this build lacks");
    return -ENOTSUP;
}

#endif
