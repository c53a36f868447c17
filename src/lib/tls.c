/*
 * OpenSSL contexts and error descriptions; see tls.h. Without OpenSSL (SL_HAVE_OPENSSL 0) only
 * the configuration helpers are real and the rest refuses with a sentence saying why.
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
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

int sl_tls_conf_copy(sl_tls_conf_t *dst, const sl_tls_conf_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->client_auth = src->client_auth;
    if (dup_str(&dst->cert_file, src->cert_file) < 0 ||
        dup_str(&dst->key_file, src->key_file) < 0 || dup_str(&dst->ca_file, src->ca_file) < 0 ||
        dup_str(&dst->server_name, src->server_name) < 0)
        goto nomem;
    if (src->nallowed_peers) {
        dst->allowed_peers = calloc(src->nallowed_peers, sizeof(char *));
        if (!dst->allowed_peers)
            goto nomem;
        dst->nallowed_peers = src->nallowed_peers;
        for (size_t i = 0; i < src->nallowed_peers; i++) {
            if (dup_str(&dst->allowed_peers[i], src->allowed_peers[i]) < 0)
                goto nomem;
        }
    }
    return 0;
nomem:
    sl_tls_conf_free(dst);
    return -ENOMEM;
}

void sl_tls_conf_free(sl_tls_conf_t *c)
{
    free(c->cert_file);
    free(c->key_file);
    free(c->ca_file);
    free(c->server_name);
    for (size_t i = 0; i < c->nallowed_peers; i++)
        free(c->allowed_peers[i]);
    free(c->allowed_peers);
    memset(c, 0, sizeof(*c));
}

char *sl_tls_conf_describe(const sl_tls_conf_t *c)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    fprintf(f, "cert=%s|key=%s|ca=%s|auth=%d|sni=%s|peers=", c->cert_file ? c->cert_file : "",
            c->key_file ? c->key_file : "", c->ca_file ? c->ca_file : "", (int)c->client_auth,
            c->server_name ? c->server_name : "");
    for (size_t i = 0; i < c->nallowed_peers; i++)
        fprintf(f, "%s,", c->allowed_peers[i]);
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

#if SL_HAVE_OPENSSL

bool sl_tls_available(void)
{
    return true;
}

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

bool sl_tls_available(void)
{
    return false;
}

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

void sl_tls_describe_error(struct ssl_st *ssl, int rc, char *buf, size_t len)
{
    (void)ssl;
    (void)rc;
    snprintf(buf, len, NO_TLS);
}

#endif
