/*
 * OpenSSL contexts for syslog over TLS (RFC 5425): the server side of the tls input and the
 * client side of the forward output's tls protocol.
 *
 * A context is built once from files (certificate chain, private key, CA bundle) and every
 * problem is named with the file it came from ("key_file /etc/x.key does not match the
 * certificate in cert_file /etc/x.pem"), because a TLS setup error found only at the first
 * connection is the hardest kind to diagnose. The config checker builds the contexts too, so
 * `sluiced --check` reports them.
 *
 * Choices (see docs/tls-relp.md): TLS 1.2 or newer; a client always verifies the server's
 * certificate (against ca_file, else the system's store) and its name (the target's host, or
 * server_name); a server asks for a client certificate only with client_auth optional or
 * require, and then verifies it against ca_file, and its names against allowed_peers, during
 * the handshake, so that a refused client sees a TLS alert rather than a closed connection.
 *
 * The header compiles without OpenSSL (the types are only declared). The configuration helpers
 * (tls_conf.c) are in the daemon's core; everything else (tls.c) is in the sluice_tls module,
 * which the core reaches only through its table (core/module.h) and loads only for a
 * configuration that uses TLS. Built without OpenSSL, tls.c's functions fail with -ENOTSUP and
 * say so (only the unit tests link them then).
 *
 * Concurrency: a context is read-only once built and may be shared by threads (OpenSSL's
 * SSL_CTX is reference counted and thread-safe for SSL_new); the error queue OpenSSL keeps is
 * per thread. No shared state here.
 */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
struct ssl_st;     /* OpenSSL's SSL */

typedef enum sl_tls_client_auth {
    SL_TLS_CLIENT_AUTH_NONE = 0,     /* no client certificate asked for */
    SL_TLS_CLIENT_AUTH_OPTIONAL = 1, /* asked for, verified when sent */
    SL_TLS_CLIENT_AUTH_REQUIRE = 2,  /* must be sent and valid (mutual authentication) */
} sl_tls_client_auth_t;

typedef struct sl_tls_conf {
    char *cert_file; /* PEM: own certificate, then intermediates */
    char *key_file;  /* PEM private key of cert_file */
    char *ca_file;   /* PEM CA certificates trusted for the peer's certificate */
    /* Server side. */
    sl_tls_client_auth_t client_auth;
    char **allowed_peers; /* names one of which the client certificate must carry; NULL: any */
    size_t nallowed_peers;
    /* Client side: the name the server's certificate must carry (NULL: the target's host). */
    char *server_name;
} sl_tls_conf_t;

/* Longest text a TLS error description needs. */
#define SL_TLS_ERRLEN 256

/* Whether this build has TLS (OpenSSL): the sluice_tls module was built (it may still be missing
 * from the disk: sl_module_tls says so). */
bool sl_tls_available(void);

/* Deep copy (dst owns its strings); 0 or -ENOMEM. */
int sl_tls_conf_copy(sl_tls_conf_t *dst, const sl_tls_conf_t *src);
void sl_tls_conf_free(sl_tls_conf_t *c);

/*
 * Appends every setting of c to a malloc'd string (for an input's identity). NULL on ENOMEM.
 */
char *sl_tls_conf_describe(const sl_tls_conf_t *c);

/*
 * Builds a server context: cert_file and key_file are required, ca_file is required with
 * client_auth optional or require. With allowed_peers the client certificate's names are
 * checked during the handshake (the client is refused with a TLS alert, and
 * sl_tls_describe_error says why). Returns 0, or a negative errno with a sentence in err.
 */
int sl_tls_server_ctx(const sl_tls_conf_t *conf, struct ssl_ctx_st **out, char *err, size_t errlen);

/*
 * Builds a client context: ca_file (else the system's CA store), and cert_file with key_file
 * when the server asks for a client certificate. Returns 0, or a negative errno with err.
 */
int sl_tls_client_ctx(const sl_tls_conf_t *conf, struct ssl_ctx_st **out, char *err, size_t errlen);

void sl_tls_ctx_free(struct ssl_ctx_st *ctx);

/*
 * Client connections: the name the server's certificate must carry (a DNS name, or an IP
 * address matched against the certificate's IP addresses), also sent as SNI when it is a name.
 * 0 or -ENOMEM.
 */
int sl_tls_expect_name(struct ssl_st *ssl, const char *name);

/*
 * Client connections: *requested becomes true when the server asks for a client certificate
 * (set before the handshake; requested must outlive it).
 */
void sl_tls_track_cert_request(struct ssl_st *ssl, bool *requested);

/*
 * After a client handshake: with TLS 1.3 a server judges the client's certificate only after
 * the client has finished its handshake, so a refused client would write its first records
 * into a closing connection. When a certificate was asked for, this waits (up to timeout_ms)
 * for the server's first message after the handshake: session tickets mean accepted, an alert
 * means refused. A server that sends nothing is taken as accepting at the deadline. fd is the
 * connection's socket (blocking or not; left as it was). Returns 0, or -EPROTO with why.
 */
int sl_tls_client_confirm(struct ssl_st *ssl, int fd, bool cert_requested, int timeout_ms,
                          char *why, size_t len);

/*
 * Reads whatever the peer sent without waiting (session tickets, alerts, close_notify); 1 when
 * the session or the connection is over, else 0. fd as above.
 */
int sl_tls_peer_closed(struct ssl_st *ssl, int fd);

/*
 * A client session on fd, a connected socket: the handshake (verifying the server's certificate
 * and that it carries name), then, when the server asked for a client certificate, its verdict
 * (sl_tls_client_confirm), all within timeout_ms. Returns 0 with *out, or a negative errno with
 * *what naming the step that failed ("TLS handshake failed", "the server refused the TLS
 * session") and why the reason. fd is left blocking as it was, without I/O timeouts.
 */
int sl_tls_client_open(struct ssl_ctx_st *ctx, int fd, const char *name, int timeout_ms,
                       struct ssl_st **out, const char **what, char *why, size_t len);

/* Writes what the session takes (partial writes are on): a byte count, or -1 when it is over. */
int sl_tls_write(struct ssl_st *ssl, const char *p, size_t len);

/* Sends close_notify without waiting (fd becomes non-blocking) and frees the session; the
 * caller closes fd. */
void sl_tls_close(struct ssl_st *ssl, int fd);

/*
 * Describes why an SSL call returned rc: the certificate check that failed ("certificate
 * verify failed: Hostname mismatch"), the TLS alert or OpenSSL reason, or the system error.
 * Empties the thread's OpenSSL error queue.
 */
void sl_tls_describe_error(struct ssl_st *ssl, int rc, char *buf, size_t len);

#endif
