/*
 * The datagram receiver shared by the UDP and unix-datagram inputs: threads that each own one
 * socket and read it with recvmmsg, one message per datagram.
 */
#ifndef SL_INPUT_DGRAM_H
#define SL_INPUT_DGRAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inputs/input.h"

#define SL_DGRAM_MAX_THREADS 16

typedef struct sl_dgram_conf {
    size_t max_message_size;
    bool local;             /* unix socket: credentials from SCM_CREDENTIALS */
    const char *local_name; /* this machine's name, the fromhost of local senders */
} sl_dgram_conf_t;

typedef struct sl_dgram_server {
    sl_dgram_conf_t conf;
    sl_input_t *in;
    int fds[SL_DGRAM_MAX_THREADS];
    unsigned nfds;
    int stop_fd;
    pthread_t threads[SL_DGRAM_MAX_THREADS];
    unsigned nthreads;
    /* The kernel's drop count of fds[i] already added to dropped_kernel. It lives as long as
     * the socket, not the thread, because a reload hands the socket (and its count) over to
     * a new thread; thread i owns drops_seen[i] while it runs. */
    uint32_t drops_seen[SL_DGRAM_MAX_THREADS];
} sl_dgram_server_t;

/* Takes ownership of fds[0..n) (bound datagram sockets; one thread each). */
int sl_dgram_init(sl_dgram_server_t *s, sl_input_t *in, const sl_dgram_conf_t *conf, const int *fds,
                  unsigned n);
int sl_dgram_start(sl_dgram_server_t *s);
void sl_dgram_stop(sl_dgram_server_t *s);
void sl_dgram_free(sl_dgram_server_t *s);

#endif
