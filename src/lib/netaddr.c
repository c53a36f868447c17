/*
 * Address strings, name resolution at config time, and listening sockets (see netaddr.h).
 *
 * Parsing checks everything it can without the network (brackets, port syntax and range, IPv6
 * literals), so that `sluiced --check` reports a bad address with its reason. Resolution tries the
 * string as a numeric address first, so that literals never touch the resolver, then as a name
 * with AI_ADDRCONFIG (no IPv6 results on a host without IPv6), retried without it because glibc
 * ignores loopback addresses there and a host with only "lo" would otherwise not find localhost.
 *
 * Concurrency: none; no shared state.
 */
/* For EAI_NODATA and EAI_ADDRFAMILY, which glibc declares only for GNU code. */

#include "lib/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -EINVAL;
}

/* Parses a decimal port: digits only, 0..65535. */
static int parse_port(const char *p, uint16_t *port, const char **why)
{
    if (!*p)
        return fail(why, "missing port");
    unsigned long v = 0;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return fail(why, "invalid port (digits expected)");
        if (v <= 65535)
            v = v * 10 + (unsigned long)(*q - '0');
    }
    if (v > 65535)
        return fail(why, "port out of range (0-65535)");
    *port = (uint16_t)v;
    return 0;
}

/* An IPv6 literal, optionally with a "%scope" suffix (interface name or number). */
static bool is_ipv6_literal(const char *h, size_t n)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;
    const char *pct = memchr(h, '%', n);
    size_t alen = pct ? (size_t)(pct - h) : n;
    if (alen == 0 || alen >= sizeof(tmp))
        return false;
    if (pct) {
        if (pct + 1 == h + n)
            return false;
        for (const char *q = pct + 1; q < h + n; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == '_'))
                return false;
    }
    memcpy(tmp, h, alen);
    tmp[alen] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* A host name or IPv4 literal: letters, digits, '.', '-', '_'. */
static bool is_host_name(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int sl_netaddr_parse(const char *s, int default_port, sl_hostport_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return fail(why, "empty address");

    const char *host = s, *host_end, *port = NULL;
    bool v6 = false;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return fail(why, "missing ']'");
        host = s + 1;
        host_end = rb;
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1])
            return fail(why, "expected ':' and a port after ']'");
        if (host == host_end)
            return fail(why, "empty address in '[]'");
        v6 = true;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            /* Two colons or more: an IPv6 address without brackets, hence without a port. */
            host_end = s + strlen(s);
            if (!is_ipv6_literal(s, (size_t)(host_end - s)))
                return fail(why, "an IPv6 address with a port is written [address]:port");
            v6 = true;
        } else if (colon) {
            host_end = colon;
            port = colon + 1;
        } else {
            host_end = s + strlen(s);
        }
    }

    size_t hl = (size_t)(host_end - host);
    if (v6) {
        if (!is_ipv6_literal(host, hl))
            return fail(why, "invalid IPv6 address");
    } else if (hl == 0 || (hl == 1 && host[0] == '*')) {
        out->any = true;
        hl = 0;
    } else if (!is_host_name(host, hl)) {
        return fail(why, "invalid character in host name");
    }
    if (hl > SL_NETADDR_HOST_MAX)
        return fail(why, "host name too long");
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';

    if (port)
        return parse_port(port, &out->port, why);
    if (default_port < 0)
        return fail(why, "missing port");
    if (default_port > 65535)
        return fail(why, "port out of range (0-65535)");
    out->port = (uint16_t)default_port;
    return 0;
}

static int resolve_error(int rc, const char **why)
{
    switch (rc) {
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        *why = "no such host";
        return -ENOENT;
    case EAI_AGAIN:
        *why = "temporary failure in name resolution";
        return -EAGAIN;
    case EAI_MEMORY:
        *why = "out of memory";
        return -ENOMEM;
    case EAI_SYSTEM: {
        int e = errno ? errno : EIO;
        *why = "name resolution failed";
        return -e;
    }
    default:
        *why = gai_strerror(rc);
        return -EINVAL;
    }
}

static bool is_name_error(int rc)
{
    return rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY;
}

int sl_netaddr_resolve(const sl_hostport_t *hp, int socktype, unsigned flags, sl_sockaddr_t *out,
                       size_t max, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (max == 0 || (socktype != SOCK_STREAM && socktype != SOCK_DGRAM))
        return fail(why, "invalid request");
    if (hp->any) {
        if (!(flags & SL_RESOLVE_PASSIVE))
            return fail(why, "a host is needed here, not any address");
        memset(out, 0, sizeof(*out));
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_addr = in6addr_any;
        out->u.in6.sin6_port = htons(hp->port);
        out->len = sizeof(struct sockaddr_in6);
        return 1;
    }

    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)hp->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    if (flags & SL_RESOLVE_PASSIVE)
        hints.ai_flags |= AI_PASSIVE;
    int rc = getaddrinfo(hp->host, service, &hints, &res);
    if (rc != 0 && is_name_error(rc)) {
        hints.ai_flags = (hints.ai_flags & ~AI_NUMERICHOST) | AI_ADDRCONFIG;
        rc = getaddrinfo(hp->host, service, &hints, &res);
        if (rc != 0 && is_name_error(rc)) {
            hints.ai_flags &= ~AI_ADDRCONFIG;
            rc = getaddrinfo(hp->host, service, &hints, &res);
        }
    }
    if (rc != 0)
        return resolve_error(rc, why);

    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(out[0].u))
            continue;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = out[i].len == ai->ai_addrlen && !memcmp(&out[i].u, ai->ai_addr, ai->ai_addrlen);
        if (dup)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n].u, ai->ai_addr, ai->ai_addrlen);
        out[n].len = ai->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        *why = "no IPv4 or IPv6 address for host";
        return -ENOENT;
    }
    return (int)n;
}

uint16_t sl_netaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

/* Writes the address; *bracket tells whether it is IPv6 text (needs [] before a port). */
static int format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen,
                       bool *bracket)
{
    char tmp[INET6_ADDRSTRLEN];
    const char *text = NULL;
    *bracket = false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        text = inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, tmp, sizeof(tmp));
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            text = inet_ntop(AF_INET, &a6->s6_addr[12], tmp, sizeof(tmp));
        } else {
            text = inet_ntop(AF_INET6, a6, tmp, sizeof(tmp));
            *bracket = true;
        }
    } else if (sa->sa_family == AF_UNIX) {
        text = "localhost";
    }
    size_t n = text ? strlen(text) : 0;
    if (!text || n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return -EINVAL;
    }
    memcpy(out, text, n + 1);
    return (int)n;
}

int sl_netaddr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    bool bracket;
    return format_addr(sa, len, out, outlen, &bracket);
}

int sl_netaddr_format_port(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char addr[INET6_ADDRSTRLEN];
    bool bracket;
    if (format_addr(sa, len, addr, sizeof(addr), &bracket) < 0) {
        if (outlen)
            out[0] = '\0';
        return -EINVAL;
    }
    int n;
    if (sa->sa_family == AF_UNIX)
        n = snprintf(out, outlen, "%s", addr);
    else
        n = snprintf(out, outlen, bracket ? "[%s]:%u" : "%s:%u", addr,
                     (unsigned)sl_netaddr_port(sa));
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return -EINVAL;
    }
    return n;
}

static bool is_any6(const sl_sockaddr_t *a)
{
    return a->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
}

static int setopt_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value));
}

/* socket + options + bind + getsockname, shared by TCP and UDP. Returns the fd or -errno. */
static int open_bound(const sl_sockaddr_t *a, int type, unsigned udp_flags, int rcvbuf,
                      uint16_t *bound_port)
{
    sl_sockaddr_t v4any;
    int fd = socket(a->u.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && errno == EAFNOSUPPORT && is_any6(a)) {
        /* No IPv6 on this host: any address means every IPv4 address. */
        memset(&v4any, 0, sizeof(v4any));
        v4any.u.in.sin_family = AF_INET;
        v4any.u.in.sin_addr.s_addr = htonl(INADDR_ANY);
        v4any.u.in.sin_port = a->u.in6.sin6_port;
        v4any.len = sizeof(struct sockaddr_in);
        a = &v4any;
        fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return -errno;
    /* SO_REUSEADDR lets a restarted daemon listen while old connections are in TIME_WAIT. On a
     * UDP socket it would let a second daemon share the port silently, so UDP sharing is only
     * by explicit SO_REUSEPORT. */
    if (type == SOCK_STREAM && setopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
        goto fail;
    if (a->u.sa.sa_family == AF_INET6 && setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !is_any6(a)) < 0)
        goto fail;
    if ((udp_flags & SL_UDP_REUSEPORT) && setopt_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
        goto fail;
    if (rcvbuf > 0 && setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) < 0 &&
        setopt_int(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf) < 0)
        goto fail;
    if (bind(fd, &a->u.sa, a->len) < 0)
        goto fail;
    if (bound_port) {
        sl_sockaddr_t got;
        got.len = sizeof(got.u);
        if (getsockname(fd, &got.u.sa, &got.len) < 0)
            goto fail;
        *bound_port = sl_netaddr_port(&got.u.sa);
    }
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int sl_netaddr_listen_tcp(const sl_sockaddr_t *a, int backlog, uint16_t *bound_port)
{
    uint16_t port = 0;
    int fd = open_bound(a, SOCK_STREAM, 0, 0, &port);
    if (fd < 0)
        return fd;
    if (listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (bound_port)
        *bound_port = port;
    return fd;
}

int sl_netaddr_bind_udp(const sl_sockaddr_t *a, unsigned flags, int rcvbuf, uint16_t *bound_port)
{
    return open_bound(a, SOCK_DGRAM, flags, rcvbuf, bound_port);
}

int sl_unix_addr_init(sl_unix_addr_t *a, const char *path)
{
    memset(&a->sa, 0, sizeof(a->sa));
    a->sa.sun_family = AF_UNIX;
    a->dirfd = -1;
    size_t n = strlen(path);
    if (n < sizeof(a->sa.sun_path)) {
        memcpy(a->sa.sun_path, path, n + 1);
        a->len = (socklen_t)sizeof(a->sa);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    if (!slash || slash[1] == '\0')
        return -ENAMETOOLONG;
    char dir[4096];
    size_t dlen = slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int k = snprintf(a->sa.sun_path, sizeof(a->sa.sun_path), "/proc/self/fd/%d/%s", fd, slash + 1);
    if (k < 0 || (size_t)k >= sizeof(a->sa.sun_path)) {
        close(fd);
        return -ENAMETOOLONG;
    }
    a->dirfd = fd;
    a->len = (socklen_t)sizeof(a->sa);
    return 0;
}

void sl_unix_addr_done(sl_unix_addr_t *a)
{
    if (a->dirfd >= 0)
        close(a->dirfd);
    a->dirfd = -1;
}

static int unix_op(int fd, const char *path, int connecting)
{
    sl_unix_addr_t a;
    int rc = sl_unix_addr_init(&a, path);
    if (rc == 0) {
        const struct sockaddr *sa = (const struct sockaddr *)&a.sa;
        if ((connecting ? connect(fd, sa, a.len) : bind(fd, sa, a.len)) < 0)
            rc = -errno;
    }
    sl_unix_addr_done(&a);
    return rc;
}

int sl_unix_bind(int fd, const char *path)
{
    return unix_op(fd, path, 0);
}

int sl_unix_connect(int fd, const char *path)
{
    return unix_op(fd, path, 1);
}
