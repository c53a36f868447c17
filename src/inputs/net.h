/*
 * The socket inputs: tcp, udp, unix (datagram, like /dev/log) and unix-stream. Each is an
 * sl_input_t whose impl is a net_input holding its configuration and its server.
 */
#ifndef SL_INPUT_NET_H
#define SL_INPUT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inputs/framing.h"
#include "inputs/input.h"

typedef struct sl_net_input_conf {
    const char *type;      /* "tcp", "udp", "unix", "unix-stream" */
    const char *listen;    /* tcp, udp: "127.0.0.1:5514", "[::1]:514", "*:514" */
    const char *path;      /* unix, unix-stream: socket path */
    const char *port_file; /* tcp, udp: write the bound port here (for port 0) */
    sl_framing_t framing;  /* stream inputs */
    size_t max_message_size;
    unsigned max_connections; /* stream inputs, 0: no limit */
    unsigned threads;   /* tcp, unix-stream, udp: server threads (udp: SO_REUSEPORT sockets) */
    int rcvbuf;         /* udp: SO_RCVBUF bytes, 0: the system's */
    mode_t socket_mode; /* unix: permissions of the socket file */
} sl_net_input_conf_t;

/* Whether type names one of these inputs. */
bool sl_net_input_type(const char *type);

/* Creates an input (not bound). The strings in conf are copied. */
int sl_net_input_create(const char *name, const sl_net_input_conf_t *conf, sl_engine_t *engine,
                        sl_input_t **out, char *err, size_t errlen);

#endif
