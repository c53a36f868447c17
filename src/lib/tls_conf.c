/*
 * The TLS settings of an input or a forward action (sl_tls_conf_t, see tls.h): copied, freed and
 * described without OpenSSL. These live in the core, which reads the configuration; everything
 * that needs OpenSSL (tls.c) is in the sluice_tls module, loaded only when a configuration uses
 * TLS (core/module.h).
 */
#include "lib/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_config.h"

bool sl_tls_available(void)
{
    return SL_HAVE_OPENSSL;
}

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
