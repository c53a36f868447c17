/*
 * TLS contexts (lib/tls.h): setup errors name the file and the problem (missing file, not PEM,
 * a key that does not belong to the certificate, settings that need others), and handshakes
 * between the contexts enforce what the settings promise: the server's name, mutual
 * authentication, allowed peer names. Certificates are made here, in memory, by a throwaway CA
 * and written to a temporary directory; handshakes run over a BIO pair, so no socket or clock
 * is involved. In a build without OpenSSL the contexts must be refused with the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sl_config.h"
#include "lib/tls.h"

#if SL_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static char dir[] = "/tmp/sl_test_tls_XXXXXX";
static char path_buf[16][512];
static int npaths;

static const char *path(const char *name)
{
    char *p = path_buf[npaths++ % 16];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static EVP_PKEY *ca_key;
static X509 *ca_cert;

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for cn (with subjectAltName san when not NULL), signed by the CA, or the CA
 * itself when issuer_key is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, EVP_PKEY *issuer_key,
                       X509 *issuer, long serial)
{
    X509 *c = X509_new();
    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    if (!issuer) {
        add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(c, issuer, NID_basic_constraints, "CA:FALSE");
    }
    if (san)
        add_ext(c, issuer ? issuer : c, NID_subject_alt_name, san);
    assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return c;
}

static void write_cert(const char *file, X509 *c)
{
    FILE *f = fopen(path(file), "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, c), 1);
    fclose(f);
}

static void write_key(const char *file, EVP_PKEY *k)
{
    FILE *f = fopen(path(file), "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void write_text(const char *file, const char *text)
{
    FILE *f = fopen(path(file), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ca.pem; server.pem/key (localhost, 127.0.0.1); client.pem/key (client1.example);
 * other.key (belongs to nothing); rogue.pem/key (a self-signed "localhost"). */
static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    ca_key = EVP_EC_gen("P-256");
    ca_cert = make_cert(ca_key, "sluice test CA", NULL, NULL, NULL, 1);
    write_cert("ca.pem", ca_cert);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = make_cert(k, "localhost", "DNS:localhost,IP:127.0.0.1", ca_key, ca_cert, 2);
    write_cert("server.pem", c);
    write_key("server.key", k);
    X509_free(c);
    EVP_PKEY_free(k);
    k = EVP_EC_gen("P-256");
    c = make_cert(k, "client1", "DNS:client1.example", ca_key, ca_cert, 3);
    write_cert("client.pem", c);
    write_key("client.key", k);
    X509_free(c);
    EVP_PKEY_free(k);
    k = EVP_EC_gen("P-256");
    write_key("other.key", k);
    c = make_cert(k, "localhost", "DNS:localhost", NULL, NULL, 4);
    write_cert("rogue.pem", c);
    write_key("rogue.key", k);
    X509_free(c);
    EVP_PKEY_free(k);
    write_text("garbage.pem", "this is not PEM\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {"ca.pem",    "server.pem", "server.key", "client.pem", "client.key",
                           "other.key", "rogue.pem",  "rogue.key",  "garbage.pem"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(path(files[i]));
    rmdir(dir);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return 0;
}

static sl_tls_conf_t server_conf(void)
{
    sl_tls_conf_t c = {0};
    c.cert_file = (char *)path("server.pem");
    c.key_file = (char *)path("server.key");
    c.ca_file = (char *)path("ca.pem");
    return c;
}

/* Builds a server context from c, expecting failure with rc and every word of want in err. */
static void expect_server_error(const sl_tls_conf_t *c, int rc, const char *want1,
                                const char *want2)
{
    struct ssl_ctx_st *ctx = (void *)1;
    char err[512] = "";
    assert_int_equal(sl_tls_server_ctx(c, &ctx, err, sizeof(err)), rc);
    assert_null(ctx);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
}

static void test_server_ok(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf();
    struct ssl_ctx_st *ctx = NULL;
    char err[512] = "";
    assert_int_equal(sl_tls_server_ctx(&c, &ctx, err, sizeof(err)), 0);
    assert_non_null(ctx);
    sl_tls_ctx_free(ctx);
    assert_true(sl_tls_available());
}

static void test_missing_files(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf();
    c.cert_file = (char *)path("nonexistent.pem");
    expect_server_error(&c, -ENOENT, "cert_file", "nonexistent.pem: No such file or directory");
    c = server_conf();
    c.key_file = (char *)path("nonexistent.key");
    expect_server_error(&c, -ENOENT, "key_file", "nonexistent.key: No such file or directory");
    c = server_conf();
    c.ca_file = (char *)path("nonexistent-ca.pem");
    expect_server_error(&c, -ENOENT, "ca_file", "nonexistent-ca.pem: No such file or directory");
}

static void test_not_pem(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf();
    c.cert_file = (char *)path("garbage.pem");
    expect_server_error(&c, -EINVAL, "garbage.pem: cannot read a PEM certificate", NULL);
    c = server_conf();
    c.key_file = (char *)path("garbage.pem");
    expect_server_error(&c, -EINVAL, "key_file", "garbage.pem: cannot read a PEM private key");
    c = server_conf();
    c.ca_file = (char *)path("garbage.pem");
    expect_server_error(&c, -EINVAL, "ca_file", "garbage.pem: cannot read PEM CA");
}

static void test_key_mismatch(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf();
    c.key_file = (char *)path("other.key");
    expect_server_error(&c, -EINVAL, "other.key does not match the certificate in cert_file",
                        "server.pem");
}

static void test_settings_that_need_others(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf();
    c.key_file = NULL;
    expect_server_error(&c, -EINVAL, "needs tls.cert_file and tls.key_file", NULL);
    c = server_conf();
    c.ca_file = NULL;
    c.client_auth = SL_TLS_CLIENT_AUTH_REQUIRE;
    expect_server_error(&c, -EINVAL, "client_auth require needs tls.ca_file", NULL);
    c = server_conf();
    char *peers[] = {"client1.example"};
    c.allowed_peers = peers;
    c.nallowed_peers = 1;
    expect_server_error(&c, -EINVAL, "allowed_peers needs tls.client_auth: require", NULL);

    sl_tls_conf_t cc = {0};
    cc.cert_file = (char *)path("client.pem");
    struct ssl_ctx_st *ctx = (void *)1;
    char err[512] = "";
    assert_int_equal(sl_tls_client_ctx(&cc, &ctx, err, sizeof(err)), -EINVAL);
    assert_null(ctx);
    assert_non_null(strstr(err, "cert_file and tls.key_file go together"));
    cc.cert_file = NULL;
    cc.ca_file = (char *)path("nonexistent-ca.pem");
    assert_int_equal(sl_tls_client_ctx(&cc, &ctx, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "ca_file"));
}

static void test_conf_copy(void **state)
{
    (void)state;
    sl_tls_conf_t c = server_conf(), d;
    char *peers[] = {"a.example", "b.example"};
    c.allowed_peers = peers;
    c.nallowed_peers = 2;
    c.client_auth = SL_TLS_CLIENT_AUTH_REQUIRE;
    assert_int_equal(sl_tls_conf_copy(&d, &c), 0);
    assert_string_equal(d.cert_file, c.cert_file);
    assert_ptr_not_equal(d.cert_file, c.cert_file);
    assert_int_equal(d.nallowed_peers, 2);
    assert_string_equal(d.allowed_peers[1], "b.example");
    assert_null(d.server_name);
    char *a = sl_tls_conf_describe(&c), *b = sl_tls_conf_describe(&d);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "b.example"));
    d.client_auth = SL_TLS_CLIENT_AUTH_OPTIONAL;
    free(b);
    b = sl_tls_conf_describe(&d);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    sl_tls_conf_free(&d);
    assert_null(d.cert_file);
}

/* ---- Handshakes over a BIO pair ------------------------------------------------------ */

typedef struct hs {
    SSL *cli, *srv;
    bool cert_requested;
    int cli_rc, srv_rc;
    char cli_err[SL_TLS_ERRLEN], srv_err[SL_TLS_ERRLEN];
} hs_t;

/* Runs both ends until each has finished or failed; 0 when both succeeded. */
static int handshake(hs_t *h, struct ssl_ctx_st *sctx, struct ssl_ctx_st *cctx, const char *name)
{
    memset(h, 0, sizeof(*h));
    h->cli = SSL_new(cctx);
    h->srv = SSL_new(sctx);
    BIO *a, *b;
    assert_int_equal(BIO_new_bio_pair(&a, 0, &b, 0), 1);
    SSL_set_bio(h->cli, a, a);
    SSL_set_bio(h->srv, b, b);
    SSL_set_connect_state(h->cli);
    SSL_set_accept_state(h->srv);
    if (name)
        assert_int_equal(sl_tls_expect_name(h->cli, name), 0);
    sl_tls_track_cert_request(h->cli, &h->cert_requested);
    bool cdone = false, sdone = false;
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(h->cli);
            int e = SSL_get_error(h->cli, r);
            if (r == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)) {
                cdone = true;
                h->cli_rc = r;
                if (r != 1)
                    sl_tls_describe_error(h->cli, r, h->cli_err, sizeof(h->cli_err));
            }
        }
        if (!sdone) {
            int r = SSL_do_handshake(h->srv);
            int e = SSL_get_error(h->srv, r);
            if (r == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)) {
                sdone = true;
                h->srv_rc = r;
                if (r != 1)
                    sl_tls_describe_error(h->srv, r, h->srv_err, sizeof(h->srv_err));
            }
        }
        /* TLS 1.3: the server learns of the client's verdict on its certificate, and the
         * client of the server's on its own, only with the next read. */
        if (cdone && sdone && h->cli_rc == 1 && h->srv_rc == 1) {
            char c;
            SSL_write(h->cli, "x", 1);
            int r = SSL_read(h->srv, &c, 1);
            if (r <= 0) {
                h->srv_rc = r;
                sl_tls_describe_error(h->srv, r, h->srv_err, sizeof(h->srv_err));
            }
        }
    }
    return h->cli_rc == 1 && h->srv_rc == 1 ? 0 : -1;
}

static void hs_free(hs_t *h)
{
    SSL_free(h->cli);
    SSL_free(h->srv);
}

static struct ssl_ctx_st *client_ctx(const char *cert, const char *key, const char *ca)
{
    sl_tls_conf_t c = {0};
    c.cert_file = cert ? (char *)path(cert) : NULL;
    c.key_file = key ? (char *)path(key) : NULL;
    c.ca_file = (char *)path(ca);
    struct ssl_ctx_st *ctx;
    char err[512];
    if (sl_tls_client_ctx(&c, &ctx, err, sizeof(err)) < 0)
        fail_msg("client ctx: %s", err);
    return ctx;
}

static struct ssl_ctx_st *srv_ctx(const char *cert, const char *key, sl_tls_client_auth_t auth,
                                  char **peers, size_t npeers)
{
    sl_tls_conf_t c = server_conf();
    c.cert_file = (char *)path(cert);
    c.key_file = (char *)path(key);
    c.client_auth = auth;
    c.allowed_peers = peers;
    c.nallowed_peers = npeers;
    struct ssl_ctx_st *ctx;
    char err[512];
    if (sl_tls_server_ctx(&c, &ctx, err, sizeof(err)) < 0)
        fail_msg("server ctx: %s", err);
    return ctx;
}

static void test_server_name_checked(void **state)
{
    (void)state;
    struct ssl_ctx_st *s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_NONE, NULL, 0);
    struct ssl_ctx_st *c = client_ctx(NULL, NULL, "ca.pem");
    hs_t h;
    assert_int_equal(handshake(&h, s, c, "localhost"), 0);
    hs_free(&h);
    assert_int_equal(handshake(&h, s, c, "127.0.0.1"), 0);
    hs_free(&h);
    assert_int_not_equal(handshake(&h, s, c, "logs.example.org"), 0);
    assert_non_null(strstr(h.cli_err, "certificate verify failed: hostname mismatch"));
    hs_free(&h);
    assert_int_not_equal(handshake(&h, s, c, "127.0.0.2"), 0);
    assert_non_null(strstr(h.cli_err, "IP address mismatch"));
    hs_free(&h);
    sl_tls_ctx_free(s);
    /* A self-signed certificate with the right name is not trusted. */
    s = srv_ctx("rogue.pem", "rogue.key", SL_TLS_CLIENT_AUTH_NONE, NULL, 0);
    assert_int_not_equal(handshake(&h, s, c, "localhost"), 0);
    assert_non_null(strstr(h.cli_err, "certificate verify failed"));
    hs_free(&h);
    sl_tls_ctx_free(s);
    sl_tls_ctx_free(c);
}

static void test_mutual_auth(void **state)
{
    (void)state;
    struct ssl_ctx_st *s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_REQUIRE, NULL, 0);
    struct ssl_ctx_st *anon = client_ctx(NULL, NULL, "ca.pem");
    struct ssl_ctx_st *with = client_ctx("client.pem", "client.key", "ca.pem");
    struct ssl_ctx_st *rogue = client_ctx("rogue.pem", "rogue.key", "ca.pem");
    hs_t h;
    assert_int_not_equal(handshake(&h, s, anon, "localhost"), 0);
    assert_non_null(strstr(h.srv_err, "did not return a certificate"));
    assert_true(h.cert_requested);
    hs_free(&h);
    assert_int_not_equal(handshake(&h, s, rogue, "localhost"), 0);
    assert_non_null(strstr(h.srv_err, "certificate verify failed"));
    hs_free(&h);
    assert_int_equal(handshake(&h, s, with, "localhost"), 0);
    assert_true(h.cert_requested);
    hs_free(&h);
    sl_tls_ctx_free(s);

    /* Allowed peer names: a DNS name of the certificate; the common name counts only when the
     * certificate has no DNS names. */
    char *ok[] = {"other.example", "client1.example"};
    char *no[] = {"client2.example", "client1"};
    s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_REQUIRE, ok, 2);
    assert_int_equal(handshake(&h, s, with, "localhost"), 0);
    hs_free(&h);
    sl_tls_ctx_free(s);
    s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_REQUIRE, no, 2);
    assert_int_not_equal(handshake(&h, s, with, "localhost"), 0);
    if (!strstr(h.srv_err, "(/CN=client1) carries none of the allowed peer names"))
        fail_msg("server error: %s", h.srv_err);
    hs_free(&h);
    sl_tls_ctx_free(s);

    /* Without client_auth no certificate is asked for. */
    s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_NONE, NULL, 0);
    assert_int_equal(handshake(&h, s, with, "localhost"), 0);
    assert_false(h.cert_requested);
    assert_null(SSL_get0_peer_certificate(h.srv));
    hs_free(&h);
    sl_tls_ctx_free(s);
    sl_tls_ctx_free(anon);
    sl_tls_ctx_free(with);
    sl_tls_ctx_free(rogue);
}

/* The client learns of a TLS 1.3 refusal only after its handshake: sl_tls_client_confirm waits
 * for the server's verdict over a socket pair, with the server run in a second thread. */
typedef struct srv_thread {
    struct ssl_ctx_st *ctx;
    int fd;
    int rc;
} srv_thread_t;

static void *serve_one(void *p)
{
    srv_thread_t *st = p;
    SSL *ssl = SSL_new(st->ctx);
    SSL_set_fd(ssl, st->fd);
    st->rc = SSL_accept(ssl);
    if (st->rc == 1) {
        char c;
        SSL_read(ssl, &c, 1); /* until the client closes */
    }
    SSL_free(ssl);
    close(st->fd);
    return NULL;
}

static int confirm_against(struct ssl_ctx_st *sctx, struct ssl_ctx_st *cctx, char *why, size_t len,
                           bool *requested)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    srv_thread_t st = {sctx, sv[1], 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_one, &st), 0);
    SSL *ssl = SSL_new(cctx);
    SSL_set_fd(ssl, sv[0]);
    assert_int_equal(sl_tls_expect_name(ssl, "localhost"), 0);
    sl_tls_track_cert_request(ssl, requested);
    int rc = SSL_connect(ssl) == 1 ? 0 : -1;
    if (rc == 0)
        rc = sl_tls_client_confirm(ssl, sv[0], *requested, 10000, why, len);
    else
        sl_tls_describe_error(ssl, -1, why, len);
    if (rc == 0)
        assert_int_equal(sl_tls_peer_closed(ssl, sv[0]), 0);
    SSL_free(ssl);
    close(sv[0]);
    pthread_join(th, NULL);
    return rc;
}

static void test_client_confirm(void **state)
{
    (void)state;
    struct ssl_ctx_st *s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_REQUIRE, NULL, 0);
    struct ssl_ctx_st *anon = client_ctx(NULL, NULL, "ca.pem");
    struct ssl_ctx_st *with = client_ctx("client.pem", "client.key", "ca.pem");
    char why[SL_TLS_ERRLEN] = "";
    bool requested;
    assert_int_equal(confirm_against(s, with, why, sizeof(why), &requested), 0);
    assert_true(requested);
    assert_int_equal(confirm_against(s, anon, why, sizeof(why), &requested), -EPROTO);
    if (!strstr(why, "certificate required"))
        fail_msg("client error: %s", why);
    sl_tls_ctx_free(s);
    s = srv_ctx("server.pem", "server.key", SL_TLS_CLIENT_AUTH_NONE, NULL, 0);
    assert_int_equal(confirm_against(s, anon, why, sizeof(why), &requested), 0);
    assert_false(requested);
    sl_tls_ctx_free(s);
    sl_tls_ctx_free(anon);
    sl_tls_ctx_free(with);
}

int main(void)
{
    /* As in sluiced: a write to a connection the peer closed is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_ok),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_not_pem),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_settings_that_need_others),
        cmocka_unit_test(test_conf_copy),
        cmocka_unit_test(test_server_name_checked),
        cmocka_unit_test(test_mutual_auth),
        cmocka_unit_test(test_client_confirm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* !SL_HAVE_OPENSSL */

static void test_refused_without_openssl(void **state)
{
    (void)state;
    sl_tls_conf_t c = {0};
    c.cert_file = "server.pem";
    c.key_file = "server.key";
    struct ssl_ctx_st *ctx = (void *)1;
    char err[256] = "";
    assert_false(sl_tls_available());
    assert_int_equal(sl_tls_server_ctx(&c, &ctx, err, sizeof(err)), -ENOTSUP);
    assert_null(ctx);
    assert_non_null(strstr(err, "needs OpenSSL, which this build lacks"));
    ctx = (void *)1;
    assert_int_equal(sl_tls_client_ctx(&c, &ctx, err, sizeof(err)), -ENOTSUP);
    assert_null(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_without_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
