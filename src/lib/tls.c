/*
 * OpenSSL contexts, client sessions and error descriptions; see tls.h. This file is part of the
 * sluice_tls module (core/module.h), never of the daemon's core: the configuration helpers it
 * shares with the core are in tls_conf.c. Without OpenSSL (SL_HAVE_OPENSSL 0) the module is not
 * built, and what is here, compiled only into the unit tests, refuses with a sentence saying
 * why.
 */
#include "lib/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"

#if SL_HAVE_OPENSSL
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* The oldest error OpenSSL queued (usually the most specific), as "library: reason"; the
 * queue is emptied. */
static void ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    unsigned long last;
    while ((last = ERR_get_error()) != 0)
        ;
    if (e == 0) {
        snprintf(buf, len, "unknown OpenSSL error");
        return;
    }
    const char *reason = ERR_reason_error_string(e);
    const char *lib = ERR_lib_error_string(e);
    if (reason && lib)
        snprintf(buf, len, "%s (%s)", reason, lib);
    else if (reason)
        snprintf(buf, len, "%s", reason);
    else
        ERR_error_string_n(e, buf, len);
}

/* A file that cannot be opened is the most common mistake: say so plainly before OpenSSL
 * reports it as a parse error. */
static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
        return -e;
    }
    fclose(f);
    return 0;
}

static int load_own_cert(SSL_CTX *ctx, const sl_tls_conf_t *c, char *err, size_t errlen)
{
    char why[SL_TLS_ERRLEN];
    int rc;
    if ((rc = check_readable("cert_file", c->cert_file, err, errlen)) < 0 ||
        (rc = check_readable("key_file", c->key_file, err, errlen)) < 0)
        return rc;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "cert_file %s: cannot read a PEM certificate: %s", c->cert_file, why);
        return -EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1) {
        ossl_reason(why, sizeof(why));
        /* OpenSSL checks the key against the certificate while loading it. */
        if (strstr(why, "values mismatch"))
            snprintf(err, errlen, "key_file %s does not match the certificate in cert_file %s",
                     c->key_file, c->cert_file);
        else
            snprintf(err, errlen, "key_file %s: cannot read a PEM private key: %s", c->key_file,
                     why);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "key_file %s does not match the certificate in cert_file %s",
                 c->key_file, c->cert_file);
        return -EINVAL;
    }
    return 0;
}

static int load_ca(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
    char why[SL_TLS_ERRLEN];
    int rc = check_readable("ca_file", ca_file, err, errlen);
    if (rc < 0)
        return rc;
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "ca_file %s: cannot read PEM CA certificates: %s", ca_file, why);
        return -EINVAL;
    }
    return 0;
}

static SSL_CTX *new_ctx(const SSL_METHOD *method, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) {
        char why[SL_TLS_ERRLEN];
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "cannot create a TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation only serves attacks on a one-way log stream. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    return ctx;
}

/* Where the allowed peer names and a refused client's subject are kept: the server context
 * holds a copy of its configuration, a refused connection the subject for the log line. */
static int conf_idx = -1, refused_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void free_refused(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void free_conf(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (ptr)
        sl_tls_conf_free(ptr);
    free(ptr);
}

static void make_indexes(void)
{
    conf_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_conf);
    refused_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_refused);
}

static bool cert_has_name(X509 *cert, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (X509_check_host(cert, names[i], 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
            return true;
    }
    return false;
}

/* Runs for every certificate of the client's chain; the client's own comes last (depth 0). */
static int verify_peer_name(int ok, X509_STORE_CTX *store)
{
    if (!ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const sl_tls_conf_t *c = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), conf_idx) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (!c || !cert || cert_has_name(cert, c->allowed_peers, c->nallowed_peers))
        return ok;
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    SSL_set_ex_data(ssl, refused_idx, strdup(subject));
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

int sl_tls_server_ctx(const sl_tls_conf_t *c, SSL_CTX **out, char *err, size_t errlen)
{
    int rc;
    *out = NULL;
    if (!c->cert_file || !c->key_file) {
        snprintf(err, errlen, "a TLS server needs tls.cert_file and tls.key_file");
        return -EINVAL;
    }
    if (c->client_auth != SL_TLS_CLIENT_AUTH_NONE && !c->ca_file) {
        snprintf(err, errlen, "tls.client_auth %s needs tls.ca_file to verify the clients",
                 c->client_auth == SL_TLS_CLIENT_AUTH_REQUIRE ? "require" : "optional");
        return -EINVAL;
    }
    if (c->nallowed_peers && c->client_auth != SL_TLS_CLIENT_AUTH_REQUIRE) {
        snprintf(err, errlen, "tls.allowed_peers needs tls.client_auth: require");
        return -EINVAL;
    }
    SSL_CTX *ctx = new_ctx(TLS_server_method(), err, errlen);
    if (!ctx)
        return -ENOMEM;
    if ((rc = load_own_cert(ctx, c, err, errlen)) < 0)
        goto fail;
    if (c->ca_file) {
        if ((rc = load_ca(ctx, c->ca_file, err, errlen)) < 0)
            goto fail;
        /* Tells clients which CAs we accept, so they pick the right certificate. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca_file);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
        ERR_clear_error();
    }
    int mode = SSL_VERIFY_NONE;
    if (c->client_auth == SL_TLS_CLIENT_AUTH_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    else if (c->client_auth == SL_TLS_CLIENT_AUTH_REQUIRE)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (c->nallowed_peers) {
        /* The context keeps its own copy of the names: it may outlive c. */
        pthread_once(&idx_once, make_indexes);
        sl_tls_conf_t *copy = calloc(1, sizeof(*copy));
        if (!copy || conf_idx < 0 || refused_idx < 0 || sl_tls_conf_copy(copy, c) < 0 ||
            SSL_CTX_set_ex_data(ctx, conf_idx, copy) != 1) {
            if (copy)
                sl_tls_conf_free(copy);
            free(copy);
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto fail;
        }
        SSL_CTX_set_verify(ctx, mode, verify_peer_name);
    } else {
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    /* Session resumption with client certificates needs a context id. */
    static const unsigned char sid[] = "sluice";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return rc;
}

int sl_tls_client_ctx(const sl_tls_conf_t *c, SSL_CTX **out, char *err, size_t errlen)
{
    int rc;
    *out = NULL;
    if (!c->cert_file != !c->key_file) {
        snprintf(err, errlen,
                 "tls.cert_file and tls.key_file go together (the client "
                 "certificate and its key)");
        return -EINVAL;
    }
    SSL_CTX *ctx = new_ctx(TLS_client_method(), err, errlen);
    if (!ctx)
        return -ENOMEM;
    if (c->cert_file && (rc = load_own_cert(ctx, c, err, errlen)) < 0)
        goto fail;
    if (c->ca_file) {
        if ((rc = load_ca(ctx, c->ca_file, err, errlen)) < 0)
            goto fail;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        char why[SL_TLS_ERRLEN];
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "cannot load the system's CA certificates (%s): set tls.ca_file",
                 why);
        rc = -EINVAL;
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return rc;
}

void sl_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int sl_tls_expect_name(SSL *ssl, const char *name)
{
    unsigned char ip[sizeof(struct in6_addr)];
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 0 : -ENOMEM;
    /* No partial wildcards ("f*.example.com"): RFC 6125 discourages them. */
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1)
        return -ENOMEM;
    return 0;
}

static int note_cert_request(SSL *ssl, void *arg)
{
    (void)ssl;
    *(bool *)arg = true;
    return 1;
}

void sl_tls_track_cert_request(SSL *ssl, bool *requested)
{
    *requested = false;
    SSL_set_cert_cb(ssl, note_cert_request, requested);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Reads without waiting: 1 when the session is over (why set), 0 when nothing more is there. */
static int drain(SSL *ssl, char *why, size_t len)
{
    char c[256];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(ssl, c, sizeof(c));
        if (r > 0)
            continue; /* a syslog receiver has nothing to say: ignored */
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        sl_tls_describe_error(ssl, r, why, len);
        return 1;
    }
}

int sl_tls_client_confirm(SSL *ssl, int fd, bool cert_requested, int timeout_ms, char *why,
                          size_t len)
{
    if (!cert_requested || SSL_version(ssl) < TLS1_3_VERSION)
        return 0;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (;;) {
        long left = timeout_ms - ms_since(&t0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            break; /* nothing sent: taken as accepted */
        if (drain(ssl, why, len)) {
            rc = -EPROTO;
            break;
        }
        /* Something came and the session goes on (session tickets): accepted. A partial
         * record would leave nothing processed, so wait for the rest. */
        if (SSL_get_session(ssl) && SSL_SESSION_is_resumable(SSL_get_session(ssl)))
            break;
    }
    fcntl(fd, F_SETFL, flags);
    return rc;
}

int sl_tls_peer_closed(SSL *ssl, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 1)
        return 0;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    char why[SL_TLS_ERRLEN];
    int over = drain(ssl, why, sizeof(why));
    fcntl(fd, F_SETFL, flags);
    return over;
}

static void set_io_timeout(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int sl_tls_client_open(SSL_CTX *ctx, int fd, const char *name, int timeout_ms, SSL **out,
                       const char **what, char *why, size_t len)
{
    bool requested = false;
    *out = NULL;
    *what = "TLS handshake failed";
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || sl_tls_expect_name(ssl, name) < 0) {
        SSL_free(ssl);
        snprintf(why, len, "out of memory");
        return -ENOMEM;
    }
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
    sl_tls_track_cert_request(ssl, &requested);
    set_io_timeout(fd, timeout_ms);
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        sl_tls_describe_error(ssl, rc, why, len);
        rc = -EPROTO;
    } else if (sl_tls_client_confirm(ssl, fd, requested, timeout_ms, why, len) < 0) {
        *what = "the server refused the TLS session";
        rc = -EPROTO;
    } else {
        rc = 0;
    }
    set_io_timeout(fd, 0);
    /* requested lives on this stack: no callback may write it once the handshake is over
     * (renegotiation is off, so none would come; this makes it certain). */
    SSL_set_cert_cb(ssl, NULL, NULL);
    if (rc < 0) {
        SSL_free(ssl);
        return rc;
    }
    *out = ssl;
    return 0;
}

int sl_tls_write(SSL *ssl, const char *p, size_t len)
{
    int w = SSL_write(ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
    return w > 0 ? w : -1;
}

void sl_tls_close(SSL *ssl, int fd)
{
    /* close_notify, without waiting on a peer that may have stopped reading. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL_shutdown(ssl);
    SSL_free(ssl);
}

void sl_tls_describe_error(SSL *ssl, int rc, char *buf, size_t len)
{
    int e = SSL_get_error(ssl, rc);
    int saved = errno;
    long vr = SSL_get_verify_result(ssl);
    switch (e) {
    case SSL_ERROR_ZERO_RETURN:
        snprintf(buf, len, "the peer closed the TLS session");
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() != 0)
            ossl_reason(buf, len);
        else if (rc == 0 || saved == 0)
            snprintf(buf, len, "the peer closed the connection");
        else
            snprintf(buf, len, "%s", strerror(saved));
        break;
    case SSL_ERROR_SSL:
        if (vr == X509_V_ERR_APPLICATION_VERIFICATION && refused_idx >= 0 &&
            SSL_get_ex_data(ssl, refused_idx)) {
            snprintf(buf, len, "the client certificate (%s) carries none of the allowed peer names",
                     (const char *)SSL_get_ex_data(ssl, refused_idx));
            ERR_clear_error();
        } else if (vr != X509_V_OK) {
            snprintf(buf, len, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
            ERR_clear_error();
        } else {
            ossl_reason(buf, len);
        }
        break;
    default:
        snprintf(buf, len, "TLS error %d", e);
        ERR_clear_error();
        break;
    }
}

#else /* !SL_HAVE_OPENSSL */

#define NO_TLS "TLS needs OpenSSL, which this build lacks"

int sl_tls_server_ctx(const sl_tls_conf_t *c, struct ssl_ctx_st **out, char *err, size_t errlen)
{
    (void)c;
    *out = NULL;
    snprintf(err, errlen, NO_TLS);
    return -ENOTSUP;
}

int sl_tls_client_ctx(const sl_tls_conf_t *c, struct ssl_ctx_st **out, char *err, size_t errlen)
{
    (void)c;
    *out = NULL;
    snprintf(err, errlen, NO_TLS);
    return -ENOTSUP;
}

void sl_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    (void)ctx;
}

int sl_tls_expect_name(struct ssl_st *ssl, const char *name)
{
    (void)ssl;
    (void)name;
    return -ENOTSUP;
}

void sl_tls_track_cert_request(struct ssl_st *ssl, bool *requested)
{
    (void)ssl;
    *requested = false;
}

int sl_tls_client_confirm(struct ssl_st *ssl, int fd, bool cert_requested, int timeout_ms,
                          char *why, size_t len)
{
    (void)ssl;
    (void)fd;
    (void)cert_requested;
    (void)timeout_ms;
    snprintf(why, len, NO_TLS);
    return -ENOTSUP;
}

int sl_tls_peer_closed(struct ssl_st *ssl, int fd)
{
    (void)ssl;
    (void)fd;
    return 1;
}

int sl_tls_client_open(struct ssl_ctx_st *ctx, int fd, const char *name, int timeout_ms,
                       struct ssl_st **out, const char **what, char *why, size_t len)
{
    (void)ctx;
    (void)fd;
    (void)name;
    (void)timeout_ms;
    *out = NULL;
    *what = "TLS handshake failed";
    snprintf(why, len, NO_TLS);
    return -ENOTSUP;
}

int sl_tls_write(struct ssl_st *ssl, const char *p, size_t len)
{
    (void)ssl;
    (void)p;
    (void)len;
    return -1;
}

void sl_tls_close(struct ssl_st *ssl, int fd)
{
    (void)ssl;
    (void)fd;
}

void sl_tls_describe_error(struct ssl_st *ssl, int rc, char *buf, size_t len)
{
    (void)ssl;
    (void)rc;
    snprintf(buf, len, NO_TLS);
}

#endif
