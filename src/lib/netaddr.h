/*
 * Network addresses as the configuration writes them, and the sockets made from them.
 *
 * An address string is "host:port", "[v6]:port", "*:port" or ":port" (any address, IPv4 and
 * IPv6), or a host alone when the caller has a default port. Parsing (sl_netaddr_parse) is pure
 * text work so that the config checker can point at the error; resolving (sl_netaddr_resolve)
 * calls getaddrinfo once, at config time, never on the hot path. Errors come with a short reason
 * ("port out of range", "missing ']'") for the config error message.
 *
 * The socket helpers make non-blocking, close-on-exec listening sockets with the options every
 * input wants, and report the port actually bound, so tests and the daemon can listen on port 0.
 * "Any address" is one IPv6 socket with IPV6_V6ONLY off, which takes IPv4 too (as
 * IPv4-mapped addresses, shown as plain IPv4 by sl_netaddr_format); on a host without IPv6 it
 * falls back to 0.0.0.0.
 *
 * Concurrency: none; no shared state.
 */
#ifndef SL_NETADDR_H
#define SL_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Longest host name kept (RFC 1035 names are at most 253 characters). */
#define SL_NETADDR_HOST_MAX 255
/* Room for any text sl_netaddr_format or sl_netaddr_format_port writes, with the NUL. */
#define SL_NETADDR_STRLEN 64

/* An address string taken apart. */
typedef struct sl_hostport {
    char host[SL_NETADDR_HOST_MAX + 1]; /* without brackets; empty when any */
    uint16_t port;
    bool any; /* "*" or empty host: every local address */
} sl_hostport_t;

/* A socket address with its length. */
typedef struct sl_sockaddr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } u;
    socklen_t len;
} sl_sockaddr_t;

/*
 * Takes s apart. default_port is used when s has no port; pass -1 when a port is required.
 * Returns 0, or -EINVAL with *why set to a static reason.
 */
int sl_netaddr_parse(const char *s, int default_port, sl_hostport_t *out, const char **why);

/* Options for sl_netaddr_resolve. */
enum sl_resolve_flag {
    SL_RESOLVE_PASSIVE = 1u << 0, /* for listening: "any" is allowed */
};

/*
 * Resolves hp into at most max addresses (duplicates removed), for socktype SOCK_STREAM or
 * SOCK_DGRAM. Literal addresses are not looked up. "Any" gives [::] when listening (see the file
 * comment) and is an error otherwise. Returns the number of addresses (>= 1), or a negative errno
 * with *why set: -EINVAL (bad request), -ENOENT (no such host), -EAGAIN (temporary failure).
 */
int sl_netaddr_resolve(const sl_hostport_t *hp, int socktype, unsigned flags, sl_sockaddr_t *out,
                       size_t max, const char **why);

/*
 * Writes the address part of sa as the fromhost field shows it: "127.0.0.1", "::1", an
 * IPv4-mapped IPv6 address as IPv4, "localhost" for a unix socket. Returns the length, or -EINVAL
 * (unknown family or too short) with out set to "".
 */
int sl_netaddr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

/* The same with the port, for log messages: "127.0.0.1:514", "[::1]:514". */
int sl_netaddr_format_port(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

/* The port of an AF_INET or AF_INET6 address, in host order; 0 for other families. */
uint16_t sl_netaddr_port(const struct sockaddr *sa);

/*
 * A listening TCP socket on a: SO_REUSEADDR, IPV6_V6ONLY off for the IPv6 any address and on for
 * other IPv6 addresses, non-blocking, close-on-exec. *bound_port (may be NULL) gets the port
 * really bound. Returns the fd or a negative errno.
 */
int sl_netaddr_listen_tcp(const sl_sockaddr_t *a, int backlog, uint16_t *bound_port);

/* Options for sl_netaddr_bind_udp. */
enum sl_udp_flag {
    SL_UDP_REUSEPORT = 1u << 0, /* SO_REUSEPORT: several sockets (threads) on one port */
};

/*
 * A bound UDP socket on a, like sl_netaddr_listen_tcp but without SO_REUSEADDR (on UDP it would
 * let a second process share the port unnoticed). rcvbuf > 0 asks for that receive buffer
 * (SO_RCVBUFFORCE when allowed, else SO_RCVBUF, which the kernel caps at rmem_max). Returns the fd
 * or a negative errno.
 */
int sl_netaddr_bind_udp(const sl_sockaddr_t *a, unsigned flags, int rcvbuf, uint16_t *bound_port);

/*
 * The address of a unix socket at path, for bind() or connect(). sun_path holds 107 bytes; a
 * longer path (a deep work directory, a CI checkout) is reached through its directory instead:
 * the directory is opened (O_PATH) and the address becomes /proc/self/fd/N/name, which the
 * kernel resolves to the same file. Only the last component then has to fit.
 */
typedef struct sl_unix_addr {
    struct sockaddr_un sa;
    socklen_t len;
    int dirfd; /* the directory's descriptor when the path did not fit, else -1 */
} sl_unix_addr_t;

/* Fills a for path. Returns 0, or -ENAMETOOLONG (the file name alone does not fit) or the errno
 * of opening the directory. Call sl_unix_addr_done afterwards in both cases. */
int sl_unix_addr_init(sl_unix_addr_t *a, const char *path);

/* Closes the directory descriptor, if any. The socket bound or connected stays usable. */
void sl_unix_addr_done(sl_unix_addr_t *a);

/* bind() or connect() the AF_UNIX socket fd to path, of any length (sl_unix_addr_t). Return 0
 * or a negative errno: -ENAMETOOLONG when the file name alone does not fit. */
int sl_unix_bind(int fd, const char *path);
int sl_unix_connect(int fd, const char *path);

#endif
