/*
 * The stream server shared by the TCP and unix-stream inputs: one or more threads (a TCP input's
 * `threads`), each with its own listening socket, epoll set and connections, each connection
 * with its own framer (framing.h). See stream.c for who owns what.
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
    int listen_fd; /* this thread's socket (one of an SO_REUSEPORT group when several) */
    int epoll_fd;
    int stop_fd;  /* eventfd written by sl_stream_stop */
    int spare_fd; /* held in reserve to refuse connections when out of descriptors */
    pthread_t thread;
    struct conn *conns; /* open connections, owned by this thread */
} sl_stream_worker_t;

typedef struct sl_stream_server {
    sl_stream_conf_t conf;
    sl_input_t *in;
    sl_stream_worker_t workers[SL_STREAM_MAX_THREADS];
    unsigned nworkers;
    unsigned nrunning;    /* threads started (sl_stream_start), joined by stop and pause */
    atomic_bool pausing;  /* the stopping threads keep their connections (sl_stream_pause) */
    atomic_size_t nconns; /* open connections over every thread: max_connections, fd_budget */
    size_t fd_budget;     /* most connections the descriptor limit allows (sl_stream_start) */
} sl_stream_server_t;

/* Takes ownership of the n listening sockets (1..SL_STREAM_MAX_THREADS, any blocking mode), one
 * per thread; they are closed here on failure. */
int sl_stream_init(sl_stream_server_t *s, sl_input_t *in, const sl_stream_conf_t *conf,
                   const int *listen_fds, unsigned n);
int sl_stream_start(sl_stream_server_t *s);
/* Stops accepting and reading; partial lines are passed on, everything parsed is routed. */
void sl_stream_stop(sl_stream_server_t *s);
/* Stops the threads but keeps the listening sockets and every connection with its partial
 * frame, each with its thread; sl_stream_start goes on from there (a reload swaps the engine
 * meanwhile). */
void sl_stream_pause(sl_stream_server_t *s);
void sl_stream_free(sl_stream_server_t *s);

#endif
