/*
 * The stream server shared by the TCP and unix-stream inputs: one or more threads (`threads`),
 * each with its own epoll set and connections, each connection with its own framer (framing.h);
 * the first thread also accepts, and hands each new connection to the least loaded thread. See
 * stream.c for who owns what.
 */
#ifndef SL_INPUT_STREAM_H
#define SL_INPUT_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "inputs/framing.h"
#include "inputs/input.h"

typedef struct sl_stream_conf {
    sl_framing_t framing;
    size_t max_message_size;
    unsigned max_connections;
    bool peer_is_local;     /* unix stream: every sender is this machine */
    const char *local_name; /* this machine's name, the fromhost of local senders */
} sl_stream_conf_t;

#define SL_STREAM_MAX_THREADS 16

/* One server thread and what it owns. */
typedef struct sl_stream_worker {
    struct sl_stream_server *srv;
    int epoll_fd;
    int stop_fd; /* eventfd written by sl_stream_stop */
    pthread_t thread;
    struct conn *conns;   /* open connections, owned by this thread */
    atomic_size_t load;   /* len(conns) + len(inbox): read by the accepting thread */
    pthread_mutex_t lock; /* guards inbox and open */
    struct conn *inbox;   /* connections handed over by the accepting thread, not yet taken */
    bool open;            /* the thread runs and takes connections into its inbox */
    atomic_bool has_inbox;
} sl_stream_worker_t;

typedef struct sl_stream_server {
    sl_stream_conf_t conf;
    sl_input_t *in;
    int listen_fd; /* owned by workers[0], the accepting thread, while it runs */
    int spare_fd;  /* held in reserve to refuse connections when out of descriptors */
    sl_stream_worker_t workers[SL_STREAM_MAX_THREADS];
    unsigned nworkers;
    unsigned nrunning;    /* threads started (sl_stream_start), joined by stop and pause */
    atomic_bool pausing;  /* the stopping threads keep their connections (sl_stream_pause) */
    atomic_size_t nconns; /* open connections over every thread: max_connections, fd_budget */
    size_t fd_budget;     /* most connections the descriptor limit allows (sl_stream_start) */
} sl_stream_server_t;

/* Takes ownership of listen_fd (listening, any blocking mode; closed here on failure); runs
 * nthreads server threads (1..SL_STREAM_MAX_THREADS). */
int sl_stream_init(sl_stream_server_t *s, sl_input_t *in, const sl_stream_conf_t *conf,
                   int listen_fd, unsigned nthreads);
int sl_stream_start(sl_stream_server_t *s);
/* Stops accepting and reading; partial lines are passed on, everything parsed is routed. */
void sl_stream_stop(sl_stream_server_t *s);
/* Stops the threads but keeps the listening socket and every connection with its partial frame,
 * each with its thread; sl_stream_start goes on from there (a reload swaps the engine
 * meanwhile). */
void sl_stream_pause(sl_stream_server_t *s);
void sl_stream_free(sl_stream_server_t *s);

#endif
