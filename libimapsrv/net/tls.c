/* TLS on GnuTLS: see tls.h.
 *
 * Credentials are loaded by reading the files ourselves and handing the
 * bytes to GnuTLS, so that a failure names exactly which file (and the
 * system's reason when it cannot be read) and both sources, files and
 * memory, share one path.  The certificate and the key are parsed each
 * on its own, which tells a bad certificate from a bad key or a wrong
 * password before GnuTLS checks that the two belong together.
 *
 * Sessions never block and never take a lock: the tls_ctx is read-only
 * once built, and all per-connection state lives in the tls_conn. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TLS_DEFAULT_PRIORITY                                                   \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"
#define TLS_FILE_MAX (16u << 20) /* a PEM bundle; guards against /dev/zero */
#define TLS_HOST_MAX 255
#define TLS_RECORD_MAX 16384 /* plaintext bytes in one record */

struct tls_sni {
    char *host; /* as given; "*.example.com" matches one label */
    gnutls_certificate_credentials_t cred;
};

struct tls_ctx {
    atomic_int refs;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    gnutls_datum_t ticket_key;
    /* The client CA and CRL as read, so SNI credentials get the same
     * trust: verification uses the credentials the session ended up on. */
    gnutls_datum_t ca_pem, crl_pem;
    struct tls_sni *sni;
    size_t nsni;
};

struct tls_conn {
    struct tls_ctx *ctx; /* holds a reference */
    gnutls_session_t s;
    bool handshaken;   /* tls_handshake returned TLS_DONE */
    bool send_pending; /* a record of pending_len bytes is half-written */
    bool recv_write;   /* the last tls_recv waits for the socket writable */
    bool eof;          /* tls_recv saw the end: it stays there */
    bool dead;         /* a fatal error happened: every call fails */
    size_t pending_len;
    size_t rec_cap; /* never more than GnuTLS's record size for this peer */
    char sni[TLS_HOST_MAX + 1];
    char err[256];
};

static const gnutls_datum_t tls_alpn_imap = {(unsigned char *)"imap", 4};

static void tls_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tls_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Key material passes through these buffers: wipe before freeing. */
static void tls_datum_wipe(gnutls_datum_t *d)
{
    if (d->data) {
        gnutls_memset(d->data, 0, d->size);
        free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* The whole file, NUL-terminated (not counted in size).  -1 with errno. */
static int tls_read_file(const char *path, gnutls_datum_t *d)
{
    size_t cap = 4096, len = 0;
    unsigned char *buf = NULL;
    int fd, saved;

    d->data = NULL;
    d->size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        if (!buf || len + 1 >= cap) {
            unsigned char *nb;
            if (buf)
                cap *= 2;
            if (cap > TLS_FILE_MAX) {
                errno = EFBIG;
                goto fail;
            }
            /* Not realloc: the old copy may hold a key. */
            nb = malloc(cap);
            if (!nb)
                goto fail;
            if (buf) {
                memcpy(nb, buf, len);
                gnutls_memset(buf, 0, len);
                free(buf);
            }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    d->data = buf;
    d->size = (unsigned)len;
    return 0;
fail:
    saved = errno;
    if (buf) {
        gnutls_memset(buf, 0, len);
        free(buf);
    }
    close(fd);
    errno = saved;
    return -1;
}

/* PEM from a file or from memory; `key` and `label` name it in errors
 * ("tls.key /x/key.pem"). */
static int tls_get_pem(const char *key, const char *file, const void *mem,
                       size_t memlen, gnutls_datum_t *d, char *label,
                       size_t labellen, char *err, size_t errlen)
{
    if (file && mem) {
        tls_seterr(err, errlen, "%s: both a file and PEM data given", key);
        return -1;
    }
    if (file) {
        snprintf(label, labellen, "%s %s", key, file);
        if (tls_read_file(file, d) < 0) {
            tls_seterr(err, errlen, "%s: %s", label, strerror(errno));
            return -1;
        }
        return 0;
    }
    snprintf(label, labellen, "%s (in memory)", key);
    if (!mem || !memlen || memlen > TLS_FILE_MAX) {
        tls_seterr(err, errlen, "%s: %s", key,
                   mem && memlen ? "too large" : "not set");
        return -1;
    }
    d->data = malloc(memlen + 1);
    if (!d->data) {
        tls_seterr(err, errlen, "%s: %s", label, strerror(ENOMEM));
        return -1;
    }
    memcpy(d->data, mem, memlen);
    d->data[memlen] = '\0';
    d->size = (unsigned)memlen;
    return 0;
}

/* The chain and the key are parsed on their own so that an error points
 * at the right one (GnuTLS's combined loaders only say that something
 * failed), and the parsed objects then go to the credentials: an
 * encrypted key is decrypted once (PBKDF2 is slow on purpose). */
static int tls_parse_cert(const gnutls_datum_t *pem, const char *label,
                          gnutls_x509_crt_t **list_r, unsigned *n_r, char *err,
                          size_t errlen)
{
    int ret =
        gnutls_x509_crt_list_import2(list_r, n_r, pem, GNUTLS_X509_FMT_PEM, 0);
    if (ret >= 0 && *n_r == 0) {
        gnutls_free(*list_r);
        ret = GNUTLS_E_NO_CERTIFICATE_FOUND;
    }
    if (ret < 0) {
        *list_r = NULL;
        *n_r = 0;
        tls_seterr(err, errlen, "%s: %s", label, gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

static int tls_parse_key(const gnutls_datum_t *pem, const char *password,
                         const char *label, gnutls_x509_privkey_t *key_r,
                         char *err, size_t errlen)
{
    int ret = gnutls_x509_privkey_init(key_r);

    if (ret < 0) {
        *key_r = NULL;
    } else {
        ret = gnutls_x509_privkey_import2(*key_r, pem, GNUTLS_X509_FMT_PEM,
                                          password, 0);
        if (ret < 0) {
            gnutls_x509_privkey_deinit(*key_r);
            *key_r = NULL;
        }
    }
    if (ret >= 0)
        return 0;
    if (ret == GNUTLS_E_DECRYPTION_FAILED && !password)
        tls_seterr(err, errlen,
                   "%s: %s (the key is encrypted and "
                   "tls.key_password is not set)",
                   label, gnutls_strerror(ret));
    else if (ret == GNUTLS_E_DECRYPTION_FAILED)
        tls_seterr(err, errlen, "%s: %s (wrong tls.key_password?)", label,
                   gnutls_strerror(ret));
    else
        tls_seterr(err, errlen, "%s: %s", label, gnutls_strerror(ret));
    return -1;
}

/* Clients want the leaf first, then each issuer.  Files are often
 * concatenated the other way round (GnuTLS's own sorting assumes the leaf
 * is first): the leaf is the certificate of the key, then follow issuers.
 * No leaf for the key: left alone, the caller reports the mismatch. */
static void tls_swap(gnutls_x509_crt_t *list, unsigned a, unsigned b)
{
    gnutls_x509_crt_t tmp = list[a];

    list[a] = list[b];
    list[b] = tmp;
}

static void tls_order_chain(gnutls_x509_crt_t *list, unsigned n,
                            gnutls_x509_privkey_t key)
{
    unsigned char kid[64], cid[64];
    size_t klen = sizeof kid, clen;
    unsigned i, j;

    if (gnutls_x509_privkey_get_key_id(key, 0, kid, &klen) < 0)
        return;
    for (i = 0; i < n; i++) {
        clen = sizeof cid;
        if (gnutls_x509_crt_get_key_id(list[i], 0, cid, &clen) == 0 &&
            clen == klen && memcmp(cid, kid, klen) == 0)
            break;
    }
    if (i == n)
        return;
    tls_swap(list, 0, i);
    for (i = 1; i < n; i++) {
        for (j = i; j < n; j++)
            if (gnutls_x509_crt_check_issuer(list[i - 1], list[j]))
                break;
        if (j == n)
            return; /* the rest are not issuers: keep their order */
        tls_swap(list, i, j);
    }
}

/* `prefix` is "tls" for the main certificate, "tls.sni[host]" for the
 * others; errors then read "tls.key /x/key.pem: reason". */
static int tls_load_source(gnutls_certificate_credentials_t cred,
                           const char *prefix, const struct tls_source *src,
                           char *err, size_t errlen)
{
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    gnutls_x509_crt_t *list = NULL;
    gnutls_x509_privkey_t pkey = NULL;
    unsigned n = 0;
    char ckey[300], kkey[300], clabel[PATH_MAX + 320];
    char klabel[PATH_MAX + 320];
    const char *pw = src->key_password;
    int rc = -1, ret;

    snprintf(ckey, sizeof ckey, "%s.cert", prefix);
    snprintf(kkey, sizeof kkey, "%s.key", prefix);
    if (pw && !*pw)
        pw = NULL;
    if (tls_get_pem(ckey, src->cert_file, src->cert_pem, src->cert_pem_len,
                    &cert, clabel, sizeof clabel, err, errlen) < 0 ||
        tls_get_pem(kkey, src->key_file, src->key_pem, src->key_pem_len, &key,
                    klabel, sizeof klabel, err, errlen) < 0 ||
        tls_parse_cert(&cert, clabel, &list, &n, err, errlen) < 0 ||
        tls_parse_key(&key, pw, klabel, &pkey, err, errlen) < 0)
        goto out;
    tls_order_chain(list, n, pkey);
    /* Copies both, and checks that the key is the certificate's. */
    ret = gnutls_certificate_set_x509_key(cred, list, n, pkey);
    if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
        tls_seterr(err, errlen, "%s does not match %s: %s", klabel, clabel,
                   gnutls_strerror(ret));
    else if (ret < 0)
        tls_seterr(err, errlen, "%s, %s: %s", clabel, klabel,
                   gnutls_strerror(ret));
    else
        rc = 0;
out:
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    if (pkey)
        gnutls_x509_privkey_deinit(pkey);
    tls_datum_wipe(&cert);
    tls_datum_wipe(&key);
    return rc;
}

/* The client CA and CRL into one set of credentials. */
static int tls_load_trust(const struct tls_ctx *ctx,
                          gnutls_certificate_credentials_t cred,
                          const char *ca_label, const char *crl_label,
                          char *err, size_t errlen)
{
    int ret;

    if (!ctx->ca_pem.data)
        return 0;
    ret = gnutls_certificate_set_x509_trust_mem(cred, &ctx->ca_pem,
                                                GNUTLS_X509_FMT_PEM);
    if (ret <= 0) {
        tls_seterr(
            err, errlen, "%s: %s", ca_label,
            gnutls_strerror(ret < 0 ? ret : GNUTLS_E_NO_CERTIFICATE_FOUND));
        return -1;
    }
    if (!ctx->crl_pem.data)
        return 0;
    ret = gnutls_certificate_set_x509_crl_mem(cred, &ctx->crl_pem,
                                              GNUTLS_X509_FMT_PEM);
    if (ret <= 0) {
        tls_seterr(err, errlen, "%s: %s", crl_label,
                   ret < 0 ? gnutls_strerror(ret)
                           : "no certificate revocation list found");
        return -1;
    }
    return 0;
}

static void tls_ctx_free(struct tls_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nsni; i++) {
        gnutls_certificate_free_credentials(ctx->sni[i].cred);
        free(ctx->sni[i].host);
    }
    free(ctx->sni);
    if (ctx->cred)
        gnutls_certificate_free_credentials(ctx->cred);
    if (ctx->prio)
        gnutls_priority_deinit(ctx->prio);
    if (ctx->ticket_key.data) {
        gnutls_memset(ctx->ticket_key.data, 0, ctx->ticket_key.size);
        gnutls_free(ctx->ticket_key.data);
    }
    free(ctx->ca_pem.data);
    free(ctx->crl_pem.data);
    free(ctx);
    gnutls_global_deinit();
}

int tls_ctx_new(const struct tls_options *o, struct tls_ctx **ctx_r, char *err,
                size_t errlen)
{
    struct tls_ctx *ctx;
    char ca_label[PATH_MAX + 16], crl_label[PATH_MAX + 16];
    const char *prio, *errpos = NULL;
    int ret;

    *ctx_r = NULL;
    ret = gnutls_global_init();
    if (ret < 0) {
        tls_seterr(err, errlen, "tls: %s", gnutls_strerror(ret));
        return -1;
    }
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        gnutls_global_deinit();
        tls_seterr(err, errlen, "tls: %s", strerror(ENOMEM));
        return -1;
    }
    atomic_init(&ctx->refs, 1);

    prio = o->priority && *o->priority ? o->priority : TLS_DEFAULT_PRIORITY;
    ret = gnutls_priority_init(&ctx->prio, prio, &errpos);
    if (ret < 0) {
        ctx->prio = NULL;
        if (ret == GNUTLS_E_INVALID_REQUEST && errpos)
            tls_seterr(err, errlen,
                       "tls.priority \"%s\": invalid at "
                       "position %d (\"%s\")",
                       prio, (int)(errpos - prio), errpos);
        else
            tls_seterr(err, errlen, "tls.priority \"%s\": %s", prio,
                       gnutls_strerror(ret));
        goto fail;
    }

    ret = gnutls_certificate_allocate_credentials(&ctx->cred);
    if (ret < 0) {
        ctx->cred = NULL;
        tls_seterr(err, errlen, "tls: %s", gnutls_strerror(ret));
        goto fail;
    }
    if (tls_load_source(ctx->cred, "tls", &o->main, err, errlen) < 0)
        goto fail;

    snprintf(ca_label, sizeof ca_label, "tls.ca %s",
             o->ca_file ? o->ca_file : "");
    snprintf(crl_label, sizeof crl_label, "tls.crl %s",
             o->crl_file ? o->crl_file : "");
    if (o->crl_file && *o->crl_file && !(o->ca_file && *o->ca_file)) {
        tls_seterr(err, errlen, "%s: needs tls.ca", crl_label);
        goto fail;
    }
    if (o->ca_file && *o->ca_file &&
        tls_read_file(o->ca_file, &ctx->ca_pem) < 0) {
        tls_seterr(err, errlen, "%s: %s", ca_label, strerror(errno));
        goto fail;
    }
    if (o->crl_file && *o->crl_file &&
        tls_read_file(o->crl_file, &ctx->crl_pem) < 0) {
        tls_seterr(err, errlen, "%s: %s", crl_label, strerror(errno));
        goto fail;
    }
    if (tls_load_trust(ctx, ctx->cred, ca_label, crl_label, err, errlen) < 0)
        goto fail;

    /* One ticket key per ctx: a reload starts a new key, so tickets from
     * the old configuration fall back to a full handshake. */
    ret = gnutls_session_ticket_key_generate(&ctx->ticket_key);
    if (ret < 0) {
        ctx->ticket_key.data = NULL;
        tls_seterr(err, errlen, "tls: session ticket key: %s",
                   gnutls_strerror(ret));
        goto fail;
    }
    *ctx_r = ctx;
    return 0;
fail:
    tls_ctx_free(ctx);
    return -1;
}

int tls_ctx_add_sni(struct tls_ctx *ctx, const char *host,
                    const struct tls_source *src, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred;
    char prefix[TLS_HOST_MAX + 16];
    struct tls_sni *grown;
    size_t hlen = host ? strlen(host) : 0;
    int ret;

    if (hlen == 0 || hlen > TLS_HOST_MAX ||
        strchr(host + (host[0] == '*'), '*') ||
        (host[0] == '*' && (host[1] != '.' || !host[2]))) {
        tls_seterr(err, errlen,
                   "tls.sni \"%s\": not a host name or "
                   "\"*.domain\"",
                   host ? host : "");
        return -1;
    }
    snprintf(prefix, sizeof prefix, "tls.sni[%s]", host);
    ret = gnutls_certificate_allocate_credentials(&cred);
    if (ret < 0) {
        tls_seterr(err, errlen, "%s: %s", prefix, gnutls_strerror(ret));
        return -1;
    }
    /* The CA and CRL already loaded once in tls_ctx_new: only memory can
     * fail here, so their labels need no file name. */
    if (tls_load_source(cred, prefix, src, err, errlen) < 0 ||
        tls_load_trust(ctx, cred, "tls.ca", "tls.crl", err, errlen) < 0)
        goto fail;
    grown = realloc(ctx->sni, (ctx->nsni + 1) * sizeof *grown);
    if (!grown)
        goto oom;
    ctx->sni = grown;
    ctx->sni[ctx->nsni].host = strdup(host);
    if (!ctx->sni[ctx->nsni].host)
        goto oom;
    ctx->sni[ctx->nsni].cred = cred;
    ctx->nsni++;
    return 0;
oom:
    tls_seterr(err, errlen, "%s: %s", prefix, strerror(ENOMEM));
fail:
    gnutls_certificate_free_credentials(cred);
    return -1;
}

void tls_ctx_ref(struct tls_ctx *ctx)
{
    atomic_fetch_add(&ctx->refs, 1);
}

void tls_ctx_unref(struct tls_ctx *ctx)
{
    if (ctx && atomic_fetch_sub(&ctx->refs, 1) == 1)
        tls_ctx_free(ctx);
}

bool tls_ctx_has_ca(const struct tls_ctx *ctx)
{
    return ctx->ca_pem.data != NULL;
}

/* ---- sessions ---- */

static bool tls_host_match(const char *pattern, const char *host)
{
    if (pattern[0] == '*') {
        const char *dot = strchr(host, '.');
        return dot && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, host) == 0;
}

/* Runs once the ClientHello is parsed, before the certificate is chosen:
 * the place to switch credentials by SNI. */
static int tls_post_client_hello(gnutls_session_t s)
{
    struct tls_conn *t = gnutls_session_get_ptr(s);
    struct tls_ctx *ctx = t->ctx;
    char name[TLS_HOST_MAX + 1];
    size_t len = sizeof name;
    unsigned type;
    gnutls_certificate_credentials_t cred = ctx->cred;

    t->sni[0] = '\0';
    if (gnutls_server_name_get(s, name, &len, &type, 0) == 0 &&
        type == GNUTLS_NAME_DNS && len < sizeof name && len > 0 &&
        memchr(name, '\0', len) == NULL) {
        name[len] = '\0';
        memcpy(t->sni, name, len + 1);
        /* Exact names win over wildcards. */
        for (int pass = 0; pass < 2 && cred == ctx->cred; pass++)
            for (size_t i = 0; i < ctx->nsni; i++) {
                bool wild = ctx->sni[i].host[0] == '*';
                if (wild == (pass == 1) &&
                    tls_host_match(ctx->sni[i].host, name)) {
                    cred = ctx->sni[i].cred;
                    break;
                }
            }
    }
    if (cred != ctx->cred &&
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
        return GNUTLS_E_INTERNAL_ERROR;
    return 0;
}

/* The smallest record size the client may have asked for
 * (record_size_limit, RFC 8449, less the TLS 1.3 type byte;
 * max_fragment_length, RFC 6066): see tls_send for why it must be known. */
static int tls_hello_ext(void *ctx, unsigned id, const unsigned char *data,
                         unsigned size)
{
    struct tls_conn *t = ctx;
    size_t cap = TLS_RECORD_MAX;

    if (id == 28 && size == 2)
        cap = (size_t)(data[0] << 8 | data[1]);
    else if (id == 1 && size == 1 && data[0] >= 1 && data[0] <= 4)
        cap = (size_t)256 << data[0];
    if (cap < 2)
        cap = 2; /* an illegal value: GnuTLS fails the handshake */
    if (cap - 1 < t->rec_cap)
        t->rec_cap = cap - 1;
    return 0;
}

static int tls_hello_hook(gnutls_session_t s, unsigned htype, unsigned when,
                          unsigned incoming, const gnutls_datum_t *msg)
{
    if (incoming && msg && msg->size)
        gnutls_ext_raw_parse(gnutls_session_get_ptr(s), tls_hello_ext, msg,
                             GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
    return 0;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, bool request_cert)
{
    struct tls_conn *t = calloc(1, sizeof *t);
    gnutls_session_t s;

    if (!t)
        return NULL;
    /* NO_SIGNAL: a peer that went away must not SIGPIPE the process. */
    if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) <
        0) {
        free(t);
        return NULL;
    }
    t->s = s;
    t->ctx = ctx;
    t->rec_cap = TLS_RECORD_MAX;
    gnutls_session_set_ptr(s, t);
    if (gnutls_priority_set(s, ctx->prio) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0 ||
        gnutls_session_ticket_enable_server(s, &ctx->ticket_key) < 0 ||
        /* MANDATORY refuses only a client whose ALPN list lacks "imap"
         * (RFC 7301 3.2; cross-protocol attacks such as ALPACA); a client
         * sending no ALPN at all is served as usual. */
        gnutls_alpn_set_protocols(s, &tls_alpn_imap, 1,
                                  GNUTLS_ALPN_SERVER_PRECEDENCE |
                                      GNUTLS_ALPN_MANDATORY) < 0) {
        gnutls_deinit(s);
        free(t);
        return NULL;
    }
    gnutls_handshake_set_post_client_hello_function(s, tls_post_client_hello);
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO,
                                       GNUTLS_HOOK_PRE, tls_hello_hook);
    if (request_cert)
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    /* The connection layer owns every timeout (login_timeout_ms includes
     * the handshake); GnuTLS's own 40 s default would cut across it. */
    gnutls_handshake_set_timeout(s, 0);
    gnutls_transport_set_int(s, fd);
    tls_ctx_ref(ctx);
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (!t)
        return;
    gnutls_deinit(t->s);
    tls_ctx_unref(t->ctx);
    free(t);
}

static void tls_fail(struct tls_conn *t, const char *what, int ret)
{
    t->dead = true;
    if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
        snprintf(t->err, sizeof t->err, "%s: %s: %s", what,
                 gnutls_strerror(ret),
                 gnutls_alert_get_name(gnutls_alert_get(t->s)));
    else
        snprintf(t->err, sizeof t->err, "%s: %s", what, gnutls_strerror(ret));
}

enum tls_result tls_handshake(struct tls_conn *t)
{
    int ret;

    if (t->dead)
        return TLS_FAILED;
    /* Once more on an established session would start a renegotiation. */
    if (t->handshaken)
        return TLS_DONE;
    for (;;) {
        ret = gnutls_handshake(t->s);
        if (ret == 0) {
            t->handshaken = true;
            return TLS_DONE;
        }
        if (ret == GNUTLS_E_AGAIN)
            return gnutls_record_get_direction(t->s) ? TLS_WANT_WRITE
                                                     : TLS_WANT_READ;
        /* EINTR and warning alerts: go on at once, the socket may hold
         * more (an edge-triggered caller would not be woken again). */
        if (ret == GNUTLS_E_INTERRUPTED ||
            ret == GNUTLS_E_WARNING_ALERT_RECEIVED)
            continue;
        break;
    }
    tls_fail(t, "handshake", ret);
    /* Tell the client why when the error maps to an alert; best effort
     * on a non-blocking socket, the connection is closed right after. */
    if (ret != GNUTLS_E_FATAL_ALERT_RECEIVED && ret != GNUTLS_E_PUSH_ERROR &&
        ret != GNUTLS_E_PULL_ERROR && ret != GNUTLS_E_PREMATURE_TERMINATION)
        gnutls_alert_send_appropriate(t->s, ret);
    return TLS_FAILED;
}

static int tls_errno(int ret)
{
    switch (ret) {
    case GNUTLS_E_PUSH_ERROR: return EPIPE;
    case GNUTLS_E_PULL_ERROR: return ECONNRESET;
    case GNUTLS_E_MEMORY_ERROR: return ENOMEM;
    default: return EPROTO;
    }
}

ssize_t tls_recv(struct tls_conn *t, void *buf, size_t len)
{
    ssize_t ret;

    if (t->dead) {
        errno = EPROTO;
        return -1;
    }
    if (t->eof)
        return 0;
    t->recv_write = false;
    for (;;) {
        ret = gnutls_record_recv(t->s, buf, len);
        if (ret > 0)
            return ret;
        if (ret == 0) {
            t->eof = true; /* close_notify */
            return 0;
        }
        switch (ret) {
        case GNUTLS_E_AGAIN:
            /* Also after a record that carried no data (a TLS 1.3
             * KeyUpdate, an empty record) with more bytes possibly in the
             * socket: fine for level-triggered polling, see tls.h. */
            t->recv_write = gnutls_record_get_direction(t->s) == 1;
            errno = EAGAIN;
            return -1;
        case GNUTLS_E_INTERRUPTED:
        case GNUTLS_E_WARNING_ALERT_RECEIVED: continue;
        case GNUTLS_E_PREMATURE_TERMINATION:
            /* EOF without close_notify.  Truncation cannot forge an IMAP
             * command (every one ends in CRLF or a counted literal), so
             * this is an ordinary EOF; tls_error() still records it. */
            snprintf(t->err, sizeof t->err, "recv: %s",
                     gnutls_strerror((int)ret));
            t->eof = true;
            return 0;
        case GNUTLS_E_REHANDSHAKE:
            /* A client-initiated TLS 1.2 renegotiation.  Nothing in IMAP
             * needs it, each one costs a full handshake of CPU, and
             * refusing with an alert would interleave with a half-sent
             * record: close instead, as most servers do. */
            t->dead = true;
            snprintf(t->err, sizeof t->err,
                     "recv: client-initiated renegotiation refused");
            errno = EPROTO;
            return -1;
        default:
            tls_fail(t, "recv", (int)ret);
            errno = tls_errno((int)ret);
            return -1;
        }
    }
}

/* GnuTLS encrypts at most one record per gnutls_record_send and, when
 * the socket is full, keeps the rest of that record; the next call must
 * then pass the same data or NULL/0 and returns the record's length.  We
 * pass NULL/0 ourselves, so the caller only offers its pending bytes
 * again (they start with that record).  Looping over records here saves
 * the caller a call per 16 KiB.
 *
 * One case GnuTLS (3.7) gets wrong: a TLS 1.3 KeyUpdate request read
 * while a record is half-written.  The NULL/0 retry then sends the rest
 * of that record and our KeyUpdate, and fails with INVALID_REQUEST
 * without saying how much of ours went out (retrying with the data
 * instead would send the record twice).  So every record is given no
 * more bytes than GnuTLS may put in one (rec_cap), which makes its length
 * exactly what we passed. */
ssize_t tls_send(struct tls_conn *t, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t done = 0, n = 0;
    ssize_t ret;

    if (t->dead) {
        errno = EPIPE;
        return -1;
    }
    while (done < len || t->send_pending) {
        if (t->send_pending) {
            ret = gnutls_record_send(t->s, NULL, 0);
            if (ret == GNUTLS_E_INVALID_REQUEST)
                ret = (ssize_t)t->pending_len; /* the KeyUpdate case */
        } else {
            n = len - done < t->rec_cap ? len - done : t->rec_cap;
            ret = gnutls_record_send(t->s, p + done, n);
        }
        if (ret == GNUTLS_E_INTERRUPTED)
            continue;
        if (ret == GNUTLS_E_AGAIN) {
            if (!t->send_pending) {
                t->send_pending = true;
                t->pending_len = n;
            }
            if (done)
                return (ssize_t)done;
            errno = EAGAIN;
            return -1;
        }
        if (ret < 0) {
            tls_fail(t, "send", (int)ret);
            errno = tls_errno((int)ret);
            return -1;
        }
        t->send_pending = false;
        if ((size_t)ret > len - done) {
            /* The caller offered less than the interrupted record. */
            t->dead = true;
            snprintf(t->err, sizeof t->err,
                     "send: retried with fewer bytes than were pending");
            errno = EINVAL;
            return -1;
        }
        done += (size_t)ret;
    }
    return (ssize_t)done;
}

enum tls_result tls_shutdown(struct tls_conn *t)
{
    int ret;

    if (t->dead)
        return TLS_FAILED;
    /* A half-sent record must go out first: the alert would otherwise
     * only flush it (see tls_send). */
    while (t->send_pending) {
        ret = (int)gnutls_record_send(t->s, NULL, 0);
        if (ret == GNUTLS_E_INVALID_REQUEST)
            ret = 0; /* sent along with a KeyUpdate, see tls_send */
        if (ret == GNUTLS_E_INTERRUPTED)
            continue;
        if (ret == GNUTLS_E_AGAIN)
            return TLS_WANT_WRITE;
        if (ret < 0) {
            tls_fail(t, "shutdown", ret);
            return TLS_FAILED;
        }
        t->send_pending = false;
    }
    do
        ret = gnutls_bye(t->s, GNUTLS_SHUT_WR);
    while (ret == GNUTLS_E_INTERRUPTED);
    if (ret == 0)
        return TLS_DONE;
    if (ret == GNUTLS_E_AGAIN)
        return TLS_WANT_WRITE;
    tls_fail(t, "shutdown", ret);
    return TLS_FAILED;
}

/* Not gnutls_record_get_direction() alone: it tells the direction of the
 * last I/O of any call, so after a completed send it would ask for
 * writability forever (a busy loop under level-triggered epoll). */
bool tls_wants_write(const struct tls_conn *t)
{
    return t->send_pending || t->recv_write;
}

size_t tls_pending(const struct tls_conn *t)
{
    return gnutls_record_check_pending(t->s);
}

const char *tls_error(const struct tls_conn *t)
{
    return t->err;
}

void tls_describe(const struct tls_conn *t, char *buf, size_t len)
{
    gnutls_protocol_t v = gnutls_protocol_get_version(t->s);
    const char *suite = gnutls_ciphersuite_get(t->s);
    const char *name;

    if (!len)
        return;
    switch (v) {
    case GNUTLS_TLS1_3: name = "TLSv1.3"; break;
    case GNUTLS_TLS1_2: name = "TLSv1.2"; break;
    default: name = gnutls_protocol_get_name(v); break;
    }
    snprintf(buf, len, "%s %s", name ? name : "unknown",
             suite ? suite : "unknown");
}

const char *tls_sni(const struct tls_conn *t)
{
    return t->sni;
}

bool tls_resumed(const struct tls_conn *t)
{
    return gnutls_session_is_resumed(t->s) != 0;
}

const char *tls_alpn(const struct tls_conn *t)
{
    gnutls_datum_t p;

    if (gnutls_alpn_get_selected_protocol(t->s, &p) == 0 &&
        p.size == tls_alpn_imap.size &&
        memcmp(p.data, tls_alpn_imap.data, p.size) == 0)
        return "imap";
    return "";
}

/* ---- client certificates ---- */

/* Copy a string GnuTLS returned with its length; one with an embedded NUL
 * or too long for the field is dropped: a truncated name could match a
 * different user. */
static void tls_copy_name(char *dst, size_t cap, const char *src, size_t len)
{
    dst[0] = '\0';
    if (len < cap && memchr(src, '\0', len) == NULL) {
        memcpy(dst, src, len);
        dst[len] = '\0';
    }
}

static void tls_cert_names(gnutls_x509_crt_t crt, struct tls_cert_info *info)
{
    gnutls_datum_t dn;
    char buf[1024];
    size_t size;
    unsigned type;
    int ret;

    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
        tls_copy_name(info->subject_dn, sizeof info->subject_dn,
                      (const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    size = sizeof buf;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      buf, &size) == 0)
        tls_copy_name(info->common_name, sizeof info->common_name, buf, size);
    for (unsigned i = 0;; i++) {
        size = sizeof buf;
        ret = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &size, &type,
                                                    NULL);
        if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue;
        if (ret < 0)
            break;
        if (type == GNUTLS_SAN_RFC822NAME) {
            tls_copy_name(info->email, sizeof info->email, buf, size);
            break;
        }
    }
}

static const char *tls_verify_reason(unsigned status)
{
    static const struct {
        unsigned flag;
        const char *reason;
    } reasons[] = {
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "signer not found / not trusted"},
        {GNUTLS_CERT_REVOKED, "revoked"},
        {GNUTLS_CERT_EXPIRED, "expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "not yet valid"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "signer is not a CA"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature"},
        {GNUTLS_CERT_PURPOSE_MISMATCH, "not for TLS client authentication"},
        {GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED, "revocation list out of date"},
        {GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE,
         "revocation list issued in the future"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "signer constraints"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, "unexpected owner"},
    };

    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (status & reasons[i].flag)
            return reasons[i].reason;
    return "invalid";
}

enum tls_cert_status tls_client_cert(struct tls_conn *t,
                                     struct tls_cert_info *info_r)
{
    const gnutls_datum_t *certs;
    unsigned n = 0, status = 0;
    gnutls_x509_crt_t crt;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
                                     0};
    int ret;

    memset(info_r, 0, sizeof *info_r);
    if (gnutls_certificate_type_get(t->s) != GNUTLS_CRT_X509)
        return TLS_CERT_NONE;
    certs = gnutls_certificate_get_peers(t->s, &n);
    if (!certs || n == 0)
        return TLS_CERT_NONE;

    if (gnutls_x509_crt_init(&crt) == 0) {
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0)
            tls_cert_names(crt, info_r);
        gnutls_x509_crt_deinit(crt);
    }
    if (!tls_ctx_has_ca(t->ctx)) {
        snprintf(info_r->reason, sizeof info_r->reason,
                 "no tls.ca to verify against");
        return TLS_CERT_INVALID;
    }
    ret = gnutls_certificate_verify_peers(t->s, &purpose, 1, &status);
    if (ret < 0) {
        snprintf(info_r->reason, sizeof info_r->reason, "%s",
                 gnutls_strerror(ret));
        return TLS_CERT_INVALID;
    }
    if (status) {
        snprintf(info_r->reason, sizeof info_r->reason, "%s",
                 tls_verify_reason(status));
        return TLS_CERT_INVALID;
    }
    return TLS_CERT_VALID;
}

/* ---- self-signed certificate ---- */

/* Write next to `path` under a temporary name; the caller renames it in
 * place, so a reader never sees half a file. */
static int tls_write_temp(const char *path, const gnutls_datum_t *d,
                          mode_t mode, char *tmp, size_t tmplen, char *err,
                          size_t errlen)
{
    size_t off = 0;
    int fd;

    if ((size_t)snprintf(tmp, tmplen, "%s.tmpXXXXXX", path) >= tmplen) {
        tls_seterr(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
        return -1;
    }
    fd = mkstemp(tmp); /* created 0600: the key is never readable */
    if (fd < 0) {
        tls_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, mode) < 0)
        goto fail;
    while (off < d->size) {
        ssize_t n = write(fd, d->data + off, d->size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        off += (size_t)n;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail:
    tls_seterr(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

static int tls_build_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                          const char *const *dns, const char *const *ips,
                          char *err, size_t errlen)
{
    unsigned char serial[16], id[64], addr[16];
    size_t idlen = sizeof id;
    const char *cn = "localhost";
    time_t now = time(NULL);
    int ret;

    if (dns && dns[0])
        cn = dns[0];
    else if (ips && ips[0])
        cn = ips[0];
    ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    if (ret < 0)
        goto gnutls_err;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40); /* positive */
    if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
        (ret = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (ret = gnutls_x509_crt_set_expiration_time(
             crt, now + 10 * 365 * 86400L)) < 0 ||
        (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
                                             0, cn, (unsigned)strlen(cn))) <
            0 ||
        (ret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (ret = gnutls_x509_crt_set_key_usage(
             crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (ret = gnutls_x509_crt_set_key_purpose_oid(
             crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        goto gnutls_err;
    for (size_t i = 0; dns && dns[i]; i++) {
        ret = gnutls_x509_crt_set_subject_alt_name(
            crt, GNUTLS_SAN_DNSNAME, dns[i], (unsigned)strlen(dns[i]),
            GNUTLS_FSAN_APPEND);
        if (ret < 0)
            goto gnutls_err;
    }
    for (size_t i = 0; ips && ips[i]; i++) {
        unsigned alen = 4;
        if (inet_pton(AF_INET, ips[i], addr) != 1) {
            alen = 16;
            if (inet_pton(AF_INET6, ips[i], addr) != 1) {
                tls_seterr(err, errlen, "\"%s\": not an IP address", ips[i]);
                return -1;
            }
        }
        ret = gnutls_x509_crt_set_subject_alt_name(
            crt, GNUTLS_SAN_IPADDRESS, addr, alen, GNUTLS_FSAN_APPEND);
        if (ret < 0)
            goto gnutls_err;
    }
    if ((ret = gnutls_x509_crt_get_key_id(crt, 0, id, &idlen)) < 0 ||
        (ret = gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) < 0 ||
        (ret = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
        goto gnutls_err;
    return 0;
gnutls_err:
    tls_seterr(err, errlen, "certificate: %s", gnutls_strerror(ret));
    return -1;
}

int tls_make_self_signed(const char *cert_file, const char *key_file,
                         const char *const *dns_names,
                         const char *const *ip_addrs, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t cpem = {NULL, 0}, kpem = {NULL, 0};
    char ctmp[PATH_MAX + 16], ktmp[PATH_MAX + 16];
    bool cwritten = false, kwritten = false;
    int rc = -1, ret;

    if ((ret = gnutls_global_init()) < 0) {
        tls_seterr(err, errlen, "tls: %s", gnutls_strerror(ret));
        return -1;
    }
    if ((ret = gnutls_x509_privkey_init(&key)) < 0 ||
        (ret = gnutls_x509_privkey_generate(
             key, GNUTLS_PK_ECDSA,
             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0) {
        tls_seterr(err, errlen, "key: %s", gnutls_strerror(ret));
        goto out;
    }
    if ((ret = gnutls_x509_crt_init(&crt)) < 0) {
        tls_seterr(err, errlen, "certificate: %s", gnutls_strerror(ret));
        goto out;
    }
    if (tls_build_cert(crt, key, dns_names, ip_addrs, err, errlen) < 0)
        goto out;
    if ((ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) < 0 ||
        (ret = gnutls_x509_privkey_export2_pkcs8(
             key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &kpem)) < 0) {
        tls_seterr(err, errlen, "export: %s", gnutls_strerror(ret));
        goto out;
    }
    /* Both files are complete before either is renamed, so a failure
     * leaves no new key next to an old certificate. */
    if (tls_write_temp(key_file, &kpem, 0600, ktmp, sizeof ktmp, err, errlen) <
        0)
        goto out;
    kwritten = true;
    if (tls_write_temp(cert_file, &cpem, 0644, ctmp, sizeof ctmp, err, errlen) <
        0)
        goto out;
    cwritten = true;
    if (rename(ktmp, key_file) < 0) {
        tls_seterr(err, errlen, "%s: %s", key_file, strerror(errno));
        goto out;
    }
    kwritten = false;
    if (rename(ctmp, cert_file) < 0) {
        tls_seterr(err, errlen, "%s: %s", cert_file, strerror(errno));
        goto out;
    }
    cwritten = false;
    rc = 0;
out:
    if (kwritten)
        unlink(ktmp);
    if (cwritten)
        unlink(ctmp);
    if (kpem.data) {
        gnutls_memset(kpem.data, 0, kpem.size);
        gnutls_free(kpem.data);
    }
    gnutls_free(cpem.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    gnutls_global_deinit();
    return rc;
}
