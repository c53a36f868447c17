/*
 * Address strings, resolution, formatting as fromhost, and the listening socket helpers (bound
 * on port 0, checked by connecting to the port they report). IPv6 cases are skipped on a host
 * without IPv6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/netaddr.h"

typedef struct parse_case {
    const char *in;
    int default_port;
    int rc;
    const char *host; /* expected host, or the expected reason when rc < 0 */
    int port;
    bool any;
} parse_case_t;

static const parse_case_t parse_cases[] = {
    {"127.0.0.1:5514", -1, 0, "127.0.0.1", 5514, false},
    {"[::1]:5514", -1, 0, "::1", 5514, false},
    {"[::ffff:10.0.0.1]:1", -1, 0, "::ffff:10.0.0.1", 1, false},
    {"[fe80::1%eth0]:514", -1, 0, "fe80::1%eth0", 514, false},
    {"*:514", -1, 0, "", 514, true},
    {":514", -1, 0, "", 514, true},
    {"*", 514, 0, "", 514, true},
    {"localhost:514", -1, 0, "localhost", 514, false},
    {"logs.example.org", 6514, 0, "logs.example.org", 6514, false},
    {"[::1]", 514, 0, "::1", 514, false},
    {"::1", 514, 0, "::1", 514, false},
    {"127.0.0.1:0", -1, 0, "127.0.0.1", 0, false},
    {"host:65535", -1, 0, "host", 65535, false},
    {"", 514, -EINVAL, "empty address", 0, false},
    {"host", -1, -EINVAL, "missing port", 0, false},
    {"host:", 514, -EINVAL, "missing port", 0, false},
    {"host:65536", -1, -EINVAL, "port out of range", 0, false},
    {"host:99999999999999999999", -1, -EINVAL, "port out of range", 0, false},
    {"host:-1", -1, -EINVAL, "invalid port", 0, false},
    {"host:51x", -1, -EINVAL, "invalid port", 0, false},
    {"host: 514", -1, -EINVAL, "invalid port", 0, false},
    {"[::1:514", -1, -EINVAL, "missing ']'", 0, false},
    {"[::1]514", -1, -EINVAL, "expected ':'", 0, false},
    {"[]:514", -1, -EINVAL, "empty address", 0, false},
    {"[127.0.0.1]:514", -1, -EINVAL, "invalid IPv6", 0, false},
    {"[::1%]:514", -1, -EINVAL, "invalid IPv6", 0, false},
    {"::1:514:x", -1, -EINVAL, "[address]:port", 0, false},
    {"bad host:514", -1, -EINVAL, "invalid character", 0, false},
    {"*", 70000, -EINVAL, "port out of range", 0, false},
};

static void test_parse_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case_t *c = &parse_cases[i];
        sl_hostport_t hp;
        const char *why = NULL;
        int rc = sl_netaddr_parse(c->in, c->default_port, &hp, &why);
        if (rc != c->rc)
            fail_msg("\"%s\": rc %d, expected %d (%s)", c->in, rc, c->rc, why ? why : "");
        if (rc < 0) {
            assert_non_null(why);
            if (!strstr(why, c->host))
                fail_msg("\"%s\": reason \"%s\", expected \"%s\"", c->in, why, c->host);
            continue;
        }
        assert_string_equal(hp.host, c->host);
        assert_int_equal(hp.port, c->port);
        assert_int_equal(hp.any, c->any);
    }
}

static void test_parse_long_host(void **state)
{
    (void)state;
    char s[SL_NETADDR_HOST_MAX + 10];
    memset(s, 'a', SL_NETADDR_HOST_MAX + 1);
    strcpy(s + SL_NETADDR_HOST_MAX + 1, ":1");
    sl_hostport_t hp;
    const char *why = NULL;
    assert_int_equal(sl_netaddr_parse(s, -1, &hp, &why), -EINVAL);
    assert_string_equal(why, "host name too long");
    s[SL_NETADDR_HOST_MAX] = ':';
    s[SL_NETADDR_HOST_MAX + 1] = '1';
    s[SL_NETADDR_HOST_MAX + 2] = '\0';
    assert_int_equal(sl_netaddr_parse(s, -1, &hp, &why), 0);
    assert_int_equal(strlen(hp.host), SL_NETADDR_HOST_MAX);
}

static bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void resolve_str(const char *s, unsigned flags, sl_sockaddr_t *out, int expect_n)
{
    sl_hostport_t hp;
    const char *why = NULL;
    assert_int_equal(sl_netaddr_parse(s, -1, &hp, &why), 0);
    int n = sl_netaddr_resolve(&hp, SOCK_STREAM, flags, out, 8, &why);
    if (n != expect_n)
        fail_msg("\"%s\": %d addresses, expected %d (%s)", s, n, expect_n, n < 0 ? why : "");
}

static void test_resolve(void **state)
{
    (void)state;
    sl_sockaddr_t a[8];
    char text[SL_NETADDR_STRLEN];

    resolve_str("127.0.0.1:5514", 0, a, 1);
    assert_int_equal(a[0].u.sa.sa_family, AF_INET);
    assert_int_equal(a[0].len, sizeof(struct sockaddr_in));
    assert_int_equal(sl_netaddr_format_port(&a[0].u.sa, a[0].len, text, sizeof(text)), 14);
    assert_string_equal(text, "127.0.0.1:5514");

    resolve_str("[::1]:514", 0, a, 1);
    assert_int_equal(a[0].u.sa.sa_family, AF_INET6);
    sl_netaddr_format_port(&a[0].u.sa, a[0].len, text, sizeof(text));
    assert_string_equal(text, "[::1]:514");

    /* "Any" is one dual-stack IPv6 address when listening, and refused for a target. */
    resolve_str("*:514", SL_RESOLVE_PASSIVE, a, 1);
    assert_int_equal(a[0].u.sa.sa_family, AF_INET6);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&a[0].u.in6.sin6_addr));
    assert_int_equal(sl_netaddr_port(&a[0].u.sa), 514);
    sl_hostport_t hp;
    const char *why = NULL;
    assert_int_equal(sl_netaddr_parse(":514", -1, &hp, &why), 0);
    assert_int_equal(sl_netaddr_resolve(&hp, SOCK_STREAM, 0, a, 8, &why), -EINVAL);
    assert_non_null(why);
    assert_int_equal(sl_netaddr_resolve(&hp, SOCK_RAW, SL_RESOLVE_PASSIVE, a, 8, &why), -EINVAL);

    /* localhost resolves to loopback addresses only, each once. */
    assert_int_equal(sl_netaddr_parse("localhost:514", -1, &hp, &why), 0);
    int n = sl_netaddr_resolve(&hp, SOCK_DGRAM, 0, a, 8, &why);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        if (a[i].u.sa.sa_family == AF_INET)
            assert_int_equal(ntohl(a[i].u.in.sin_addr.s_addr) >> 24, 127);
        else
            assert_true(IN6_IS_ADDR_LOOPBACK(&a[i].u.in6.sin6_addr));
        assert_int_equal(sl_netaddr_port(&a[i].u.sa), 514);
        for (int j = 0; j < i; j++)
            assert_false(a[i].len == a[j].len && !memcmp(&a[i].u, &a[j].u, a[i].len));
    }
}

static void test_format(void **state)
{
    (void)state;
    char out[SL_NETADDR_STRLEN];
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(514)};
    inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
    assert_int_equal(sl_netaddr_format((struct sockaddr *)&in, sizeof(in), out, sizeof(out)), 9);
    assert_string_equal(out, "192.0.2.7");

    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(6514)};
    inet_pton(AF_INET6, "2001:db8::42", &in6.sin6_addr);
    sl_netaddr_format((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "2001:db8::42");
    sl_netaddr_format_port((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "[2001:db8::42]:6514");

    /* An IPv4 sender on a dual-stack socket is shown as IPv4. */
    inet_pton(AF_INET6, "::ffff:198.51.100.1", &in6.sin6_addr);
    sl_netaddr_format((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "198.51.100.1");
    sl_netaddr_format_port((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "198.51.100.1:6514");

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(sl_netaddr_format((struct sockaddr *)&un, sizeof(un), out, sizeof(out)), 9);
    assert_string_equal(out, "localhost");

    /* Too short a buffer or address, or an unknown family: an error and an empty string. */
    assert_int_equal(sl_netaddr_format((struct sockaddr *)&in, sizeof(in), out, 9), -EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(sl_netaddr_format((struct sockaddr *)&in, 4, out, sizeof(out)), -EINVAL);
    assert_int_equal(sl_netaddr_format_port((struct sockaddr *)&in, sizeof(in), out, 12), -EINVAL);
    assert_string_equal(out, "");
    struct sockaddr other = {.sa_family = AF_UNSPEC};
    assert_int_equal(sl_netaddr_format(&other, sizeof(other), out, sizeof(out)), -EINVAL);
}

/* Waits until fd is readable, for at most 10 seconds. */
static void wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
}

/* Connects to `addr` (family, text) on port, and accepts on lfd; returns the peer's fromhost. */
static void connect_and_accept(int lfd, int family, const char *addr, uint16_t port,
                               char peer[SL_NETADDR_STRLEN])
{
    sl_sockaddr_t to;
    memset(&to, 0, sizeof(to));
    if (family == AF_INET) {
        to.u.in.sin_family = AF_INET;
        to.u.in.sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, addr, &to.u.in.sin_addr), 1);
        to.len = sizeof(to.u.in);
    } else {
        to.u.in6.sin6_family = AF_INET6;
        to.u.in6.sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, addr, &to.u.in6.sin6_addr), 1);
        to.len = sizeof(to.u.in6);
    }
    int cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(cfd >= 0);
    assert_int_equal(connect(cfd, &to.u.sa, to.len), 0);
    wait_readable(lfd);
    sl_sockaddr_t from;
    from.len = sizeof(from.u);
    int afd = accept(lfd, &from.u.sa, &from.len);
    assert_true(afd >= 0);
    assert_true(sl_netaddr_format(&from.u.sa, from.len, peer, SL_NETADDR_STRLEN) > 0);
    close(afd);
    close(cfd);
}

static int listen_str(const char *s, uint16_t *port)
{
    sl_hostport_t hp;
    sl_sockaddr_t a;
    const char *why;
    assert_int_equal(sl_netaddr_parse(s, -1, &hp, &why), 0);
    assert_int_equal(sl_netaddr_resolve(&hp, SOCK_STREAM, SL_RESOLVE_PASSIVE, &a, 1, &why), 1);
    return sl_netaddr_listen_tcp(&a, 16, port);
}

static void test_listen_tcp_ipv4_port0(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = listen_str("127.0.0.1:0", &port);
    assert_true(fd >= 0);
    assert_true(port != 0);
    char peer[SL_NETADDR_STRLEN];
    connect_and_accept(fd, AF_INET, "127.0.0.1", port, peer);
    assert_string_equal(peer, "127.0.0.1");

    /* The port is taken now: a second listener fails with the errno. */
    char again[32];
    snprintf(again, sizeof(again), "127.0.0.1:%u", (unsigned)port);
    assert_int_equal(listen_str(again, NULL), -EADDRINUSE);
    close(fd);
}

static void test_listen_tcp_ipv6_port0(void **state)
{
    (void)state;
    if (!have_ipv6_loopback())
        skip();
    uint16_t port = 0;
    int fd = listen_str("[::1]:0", &port);
    assert_true(fd >= 0);
    assert_true(port != 0);
    char peer[SL_NETADDR_STRLEN];
    connect_and_accept(fd, AF_INET6, "::1", port, peer);
    assert_string_equal(peer, "::1");
    close(fd);
}

static void test_listen_tcp_any_takes_ipv4(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = listen_str("*:0", &port);
    assert_true(fd >= 0);
    assert_true(port != 0);
    char peer[SL_NETADDR_STRLEN];
    /* IPv4 reaches the dual-stack socket and is shown as IPv4, not ::ffff:127.0.0.1. */
    connect_and_accept(fd, AF_INET, "127.0.0.1", port, peer);
    assert_string_equal(peer, "127.0.0.1");
    if (have_ipv6_loopback()) {
        connect_and_accept(fd, AF_INET6, "::1", port, peer);
        assert_string_equal(peer, "::1");
    }
    close(fd);
}

static void test_bind_udp(void **state)
{
    (void)state;
    sl_hostport_t hp;
    sl_sockaddr_t a;
    const char *why;
    assert_int_equal(sl_netaddr_parse("127.0.0.1:0", -1, &hp, &why), 0);
    assert_int_equal(sl_netaddr_resolve(&hp, SOCK_DGRAM, SL_RESOLVE_PASSIVE, &a, 1, &why), 1);
    uint16_t port = 0;
    int fd = sl_netaddr_bind_udp(&a, SL_UDP_REUSEPORT, 1 << 20, &port);
    assert_true(fd >= 0);
    assert_true(port != 0);
    int rcvbuf = 0;
    socklen_t optlen = sizeof(rcvbuf);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen), 0);
    assert_true(rcvbuf > 0);

    /* SO_REUSEPORT lets a second socket share the port; without it the port is taken. */
    a.u.in.sin_port = htons(port);
    int fd2 = sl_netaddr_bind_udp(&a, SL_UDP_REUSEPORT, 0, NULL);
    assert_true(fd2 >= 0);
    assert_int_equal(sl_netaddr_bind_udp(&a, 0, 0, NULL), -EADDRINUSE);

    /* A datagram sent to the reported port arrives on one of the two. */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(sendto(s, "<13>hi", 6, 0, &a.u.sa, a.len), 6);
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = fd2, .events = POLLIN}};
    assert_true(poll(p, 2, 10000) >= 1);
    char buf[16];
    sl_sockaddr_t from;
    from.len = sizeof(from.u);
    ssize_t n = recvfrom(p[0].revents ? fd : fd2, buf, sizeof(buf), 0, &from.u.sa, &from.len);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "<13>hi", 6);
    char peer[SL_NETADDR_STRLEN];
    sl_netaddr_format(&from.u.sa, from.len, peer, sizeof(peer));
    assert_string_equal(peer, "127.0.0.1");
    close(s);
    close(fd2);
    close(fd);
}

/* A path longer than sun_path binds and connects through its directory; the socket file is at
 * the real path; a file name that alone cannot fit and a missing directory are errors. */
static void test_unix_addr_long_path(void **state)
{
    (void)state;
    char base[] = "/tmp/sl-netaddr-XXXXXX";
    assert_non_null(mkdtemp(base));
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/%0100d", base, 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    assert_true(strlen(path) > 107);

    sl_unix_addr_t a;
    assert_int_equal(sl_unix_addr_init(&a, path), 0);
    assert_true(a.dirfd >= 0);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a.sa, a.len), 0);
    assert_int_equal(listen(lfd, 1), 0);
    sl_unix_addr_done(&a);
    assert_int_equal(a.dirfd, -1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    assert_int_equal(sl_unix_addr_init(&a, path), 0);
    int cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&a.sa, a.len), 0);
    sl_unix_addr_done(&a);
    int afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(write(cfd, "x", 1), 1);
    char c = 0;
    assert_int_equal(read(afd, &c, 1), 1);
    assert_int_equal(c, 'x');
    close(afd);
    close(cfd);
    close(lfd);

    /* A short path is used as it is. */
    assert_int_equal(sl_unix_addr_init(&a, "/run/x.sock"), 0);
    assert_int_equal(a.dirfd, -1);
    assert_string_equal(a.sa.sun_path, "/run/x.sock");
    sl_unix_addr_done(&a);

    char longname[300];
    snprintf(longname, sizeof(longname), "%s/%0120d", base, 0);
    assert_int_equal(sl_unix_addr_init(&a, longname), -ENAMETOOLONG);
    sl_unix_addr_done(&a);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope/s.sock", dir);
    assert_int_equal(sl_unix_addr_init(&a, missing), -ENOENT);
    sl_unix_addr_done(&a);

    unlink(path);
    rmdir(dir);
    rmdir(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_parse_long_host),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_listen_tcp_ipv4_port0),
        cmocka_unit_test(test_listen_tcp_ipv6_port0),
        cmocka_unit_test(test_listen_tcp_any_takes_ipv4),
        cmocka_unit_test(test_bind_udp),
        cmocka_unit_test(test_unix_addr_long_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
