/*
 * The stream server shared by the TCP and unix-stream inputs: one thread, one epoll set, a
 * listening socket and its connections, each with its own framer (framing.h).
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

typedef struct sl_stream_server {
    sl_stream_conf_t conf;
    sl_input_t *in;
    int listen_fd;
    int epoll_fd;
    int stop_fd;  /* eventfd written by sl_stream_stop */
    int spare_fd; /* held in reserve to refuse connections when out of descriptors */
    pthread_t thread;
    bool running;
    atomic_bool pausing; /* the stopping thread keeps its connections (sl_stream_pause) */
    size_t nconns;
    size_t fd_budget; /* most connections the descriptor limit allows (sl_stream_start) */
    struct conn *conns; /* open connections, owned by the server thread */
} sl_stream_server_t;

/* Takes ownership of listen_fd (listening, any blocking mode). */
int sl_stream_init(sl_stream_server_t *s, sl_input_t *in, const sl_stream_conf_t *conf,
                   int listen_fd);
int sl_stream_start(sl_stream_server_t *s);
/* Stops accepting and reading; partial lines are passed on, everything parsed is routed. */
void sl_stream_stop(sl_stream_server_t *s);
/* Stops the thread but keeps the listening socket and every connection with its partial frame;
 * sl_stream_start goes on from there (a reload swaps the engine meanwhile). */
void sl_stream_pause(sl_stream_server_t *s);
void sl_stream_free(sl_stream_server_t *s);

#endif
