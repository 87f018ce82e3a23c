/* The parts of a configuration that only the typed API reaches: TLS
 * credentials handed over in memory, and certificates chosen by SNI. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"

static imapsrv_status blob_set(struct cfg_blob *b, const char *data, size_t len)
{
    char *copy = NULL;
    if (data) {
        if (!(copy = malloc(len + 1)))
            return IMAPSRV_E_NOMEM;
        memcpy(copy, data, len);
        copy[len] = '\0';
    }
    if (b->data)
        explicit_bzero(b->data, b->len); /* may be a private key */
    free(b->data);
    b->data = copy;
    b->len = data ? len : 0;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_config_set_tls_pem(imapsrv_config *cfg,
                                          const char *cert_pem, size_t cert_len,
                                          const char *key_pem, size_t key_len)
{
    if (!cfg || !cert_pem != !key_pem)
        return IMAPSRV_E_INVALID;
    struct cfg_blob c = {0}, k = {0};
    if (blob_set(&c, cert_pem, cert_len) != IMAPSRV_OK ||
        blob_set(&k, key_pem, key_len) != IMAPSRV_OK) {
        blob_set(&c, NULL, 0);
        return IMAPSRV_E_NOMEM;
    }
    blob_set(&cfg->tls_cert_pem, NULL, 0);
    blob_set(&cfg->tls_key_pem, NULL, 0);
    cfg->tls_cert_pem = c;
    cfg->tls_key_pem = k;
    return IMAPSRV_OK;
}

/* A host name, or "*." and a host name: letters, digits, '-' and '.'. */
static bool sni_name_ok(const char *h)
{
    if (strncmp(h, "*.", 2) == 0)
        h += 2;
    size_t n = strlen(h);
    if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.')
        return false;
    for (; *h; h++)
        if (!(*h == '-' || *h == '.' || (*h >= '0' && *h <= '9') ||
              ((*h | 0x20) >= 'a' && (*h | 0x20) <= 'z')))
            return false;
    return true;
}

static void sni_free(struct cfg_sni *e)
{
    free(e->host);
    free(e->cert);
    free(e->key);
}

static imapsrv_status sni_fill(struct cfg_sni *e, const char *host,
                               const char *cert, const char *key)
{
    e->host = strdup(host);
    e->cert = strdup(cert);
    e->key = strdup(key);
    if (e->host && e->cert && e->key)
        return IMAPSRV_OK;
    sni_free(e);
    return IMAPSRV_E_NOMEM;
}

imapsrv_status imapsrv_config_add_sni(imapsrv_config *cfg, const char *host,
                                      const char *cert_file,
                                      const char *key_file)
{
    if (!cfg || !host || !cert_file || !key_file || !*cert_file || !*key_file ||
        !sni_name_ok(host))
        return IMAPSRV_E_INVALID;
    for (size_t i = 0; i < cfg->sni_count; i++)
        if (strcasecmp(cfg->sni[i].host, host) == 0) { /* replace */
            struct cfg_sni e;
            if (sni_fill(&e, host, cert_file, key_file) != IMAPSRV_OK)
                return IMAPSRV_E_NOMEM;
            sni_free(&cfg->sni[i]);
            cfg->sni[i] = e;
            return IMAPSRV_OK;
        }
    struct cfg_sni *n = realloc(cfg->sni, (cfg->sni_count + 1) * sizeof(*n));
    if (!n)
        return IMAPSRV_E_NOMEM;
    cfg->sni = n;
    if (sni_fill(&n[cfg->sni_count], host, cert_file, key_file) != IMAPSRV_OK)
        return IMAPSRV_E_NOMEM;
    cfg->sni_count++;
    return IMAPSRV_OK;
}

imapsrv_status cfg_tls_copy(imapsrv_config *dst, const imapsrv_config *src)
{
    imapsrv_status st = IMAPSRV_OK;
    if (src->tls_cert_pem.data)
        st = imapsrv_config_set_tls_pem(
            dst, src->tls_cert_pem.data, src->tls_cert_pem.len,
            src->tls_key_pem.data, src->tls_key_pem.len);
    for (size_t i = 0; st == IMAPSRV_OK && i < src->sni_count; i++)
        st = imapsrv_config_add_sni(dst, src->sni[i].host, src->sni[i].cert,
                                    src->sni[i].key);
    return st;
}

void cfg_tls_free(imapsrv_config *cfg)
{
    blob_set(&cfg->tls_cert_pem, NULL, 0);
    blob_set(&cfg->tls_key_pem, NULL, 0);
    for (size_t i = 0; i < cfg->sni_count; i++)
        sni_free(&cfg->sni[i]);
    free(cfg->sni);
    cfg->sni = NULL;
    cfg->sni_count = 0;
}
