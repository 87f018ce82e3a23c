/* TLS module: real handshakes over socketpairs.  The server side is the
 * module under test, non-blocking and driven by poll() in the test
 * thread; the client is plain GnuTLS, blocking, in a second thread.  All
 * certificates, keys and the CRL are made at start-up with the GnuTLS API
 * into a temporary directory (no external tools needed). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/tls.h"

#define GREETING "* OK hello\r\n"
#define COMMAND "a LOGOUT\r\n"
#define BYE "* BYE\r\n"
#define BULK_LEN (1u << 20)
#define POLL_MS 20000

/* ---- test material ---- */

enum { CL_OK, CL_EXPIRED, CL_REVOKED, CL_OTHER, CL_N };

struct material {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
    gnutls_datum_t der;
    char crt_path[PATH_MAX], key_path[PATH_MAX];
    /* for the client side */
    gnutls_pcert_st pcert;
    gnutls_privkey_t pkey;
};

static struct {
    char dir[64];
    struct material ca, ca2, rsa, ec, sni_a, wild;
    struct material client[CL_N];
    char crl[PATH_MAX], p8[PATH_MAX], bad[PATH_MAX], missing[PATH_MAX];
} P;

static void die(const char *what, int ret)
{
    fprintf(stderr, "test_tls setup: %s: %s\n", what, gnutls_strerror(ret));
    exit(EXIT_FAILURE);
}

#define CHK(expr)                                                              \
    do {                                                                       \
        int chk_ret_ = (expr);                                                 \
        if (chk_ret_ < 0)                                                      \
            die(#expr, chk_ret_);                                              \
    } while (0)

static void write_file(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(d->data, 1, d->size, f) != d->size || fclose(f) != 0) {
        perror(path);
        exit(EXIT_FAILURE);
    }
}

struct spec {
    const char *name; /* file stem */
    const char *cn, *dns, *email, *purpose;
    gnutls_pk_algorithm_t pk;
    bool ca;
    long act, exp; /* seconds from now */
    unsigned serial;
    struct material *issuer; /* NULL: self-signed */
};

static void make(struct material *m, const struct spec *s)
{
    time_t now = time(NULL);
    unsigned char serial[2] = {(unsigned char)(s->serial >> 8),
                               (unsigned char)s->serial};
    unsigned char id[64];
    size_t idlen = sizeof id;
    gnutls_datum_t pem;
    unsigned bits = s->pk == GNUTLS_PK_RSA
                        ? 2048
                        : GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);

    CHK(gnutls_x509_privkey_init(&m->key));
    CHK(gnutls_x509_privkey_generate(m->key, s->pk, bits, 0));
    CHK(gnutls_x509_crt_init(&m->crt));
    CHK(gnutls_x509_crt_set_version(m->crt, 3));
    CHK(gnutls_x509_crt_set_serial(m->crt, serial, sizeof serial));
    CHK(gnutls_x509_crt_set_activation_time(m->crt, now + s->act));
    CHK(gnutls_x509_crt_set_expiration_time(m->crt, now + s->exp));
    CHK(gnutls_x509_crt_set_dn_by_oid(m->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                      s->cn, (unsigned)strlen(s->cn)));
    CHK(gnutls_x509_crt_set_key(m->crt, m->key));
    CHK(gnutls_x509_crt_set_basic_constraints(m->crt, s->ca, -1));
    CHK(gnutls_x509_crt_set_key_usage(
        m->crt,
        s->ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
              : GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT));
    if (s->purpose)
        CHK(gnutls_x509_crt_set_key_purpose_oid(m->crt, s->purpose, 0));
    if (s->dns)
        CHK(gnutls_x509_crt_set_subject_alt_name(
            m->crt, GNUTLS_SAN_DNSNAME, s->dns, (unsigned)strlen(s->dns),
            GNUTLS_FSAN_APPEND));
    if (s->email)
        CHK(gnutls_x509_crt_set_subject_alt_name(
            m->crt, GNUTLS_SAN_RFC822NAME, s->email, (unsigned)strlen(s->email),
            GNUTLS_FSAN_APPEND));
    CHK(gnutls_x509_crt_get_key_id(m->crt, 0, id, &idlen));
    CHK(gnutls_x509_crt_set_subject_key_id(m->crt, id, idlen));
    CHK(gnutls_x509_crt_sign2(m->crt, s->issuer ? s->issuer->crt : m->crt,
                              s->issuer ? s->issuer->key : m->key,
                              GNUTLS_DIG_SHA256, 0));

    snprintf(m->crt_path, sizeof m->crt_path, "%s/%s.crt", P.dir, s->name);
    snprintf(m->key_path, sizeof m->key_path, "%s/%s.key", P.dir, s->name);
    CHK(gnutls_x509_crt_export2(m->crt, GNUTLS_X509_FMT_PEM, &pem));
    write_file(m->crt_path, &pem);
    gnutls_free(pem.data);
    CHK(gnutls_x509_privkey_export2_pkcs8(m->key, GNUTLS_X509_FMT_PEM, NULL,
                                          GNUTLS_PKCS_PLAIN, &pem));
    write_file(m->key_path, &pem);
    gnutls_free(pem.data);
    CHK(gnutls_x509_crt_export2(m->crt, GNUTLS_X509_FMT_DER, &m->der));

    CHK(gnutls_pcert_import_x509(&m->pcert, m->crt, 0));
    CHK(gnutls_privkey_init(&m->pkey));
    CHK(gnutls_privkey_import_x509(m->pkey, m->key,
                                   GNUTLS_PRIVKEY_IMPORT_COPY));
}

static void unmake(struct material *m)
{
    unlink(m->crt_path);
    unlink(m->key_path);
    gnutls_pcert_deinit(&m->pcert);
    gnutls_privkey_deinit(m->pkey);
    gnutls_free(m->der.data);
    gnutls_x509_crt_deinit(m->crt);
    gnutls_x509_privkey_deinit(m->key);
}

static void setup_material(void)
{
    const long day = 86400, year = 365 * day;
    gnutls_x509_crl_t crl;
    gnutls_datum_t pem;
    time_t now = time(NULL);
    FILE *f;

    snprintf(P.dir, sizeof P.dir, "/tmp/test_tls.XXXXXX");
    if (!mkdtemp(P.dir)) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    make(&P.ca,
         &(struct spec){"ca", "Test CA", NULL, NULL, NULL, GNUTLS_PK_ECDSA,
                        true, -day, 10 * year, 1, NULL});
    make(&P.ca2,
         &(struct spec){"ca2", "Other CA", NULL, NULL, NULL, GNUTLS_PK_ECDSA,
                        true, -day, 10 * year, 1, NULL});
    make(&P.rsa, &(struct spec){"rsa", "rsa.test", "rsa.test", NULL,
                                GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_PK_RSA, false,
                                -day, year, 2, &P.ca});
    make(&P.ec, &(struct spec){"ec", "ec.test", "ec.test", NULL,
                               GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_PK_ECDSA, false,
                               -day, year, 3, &P.ca});
    make(&P.sni_a,
         &(struct spec){"sni_a", "a.example.org", "a.example.org", NULL,
                        GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_PK_ECDSA, false, -day,
                        year, 4, &P.ca});
    make(&P.wild,
         &(struct spec){"wild", "*.wild.example.org", "*.wild.example.org",
                        NULL, GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_PK_ECDSA, false,
                        -day, year, 5, &P.ca});
    make(&P.client[CL_OK],
         &(struct spec){"alice", "Alice", NULL, "alice@example.org",
                        GNUTLS_KP_TLS_WWW_CLIENT, GNUTLS_PK_ECDSA, false, -day,
                        year, 10, &P.ca});
    make(&P.client[CL_EXPIRED],
         &(struct spec){"old", "Old", NULL, "old@example.org",
                        GNUTLS_KP_TLS_WWW_CLIENT, GNUTLS_PK_ECDSA, false,
                        -3 * year, -2 * year, 11, &P.ca});
    make(&P.client[CL_REVOKED],
         &(struct spec){"mallory", "Mallory", NULL, NULL,
                        GNUTLS_KP_TLS_WWW_CLIENT, GNUTLS_PK_ECDSA, false, -day,
                        year, 12, &P.ca});
    make(&P.client[CL_OTHER],
         &(struct spec){"eve", "Eve", NULL, "eve@example.org",
                        GNUTLS_KP_TLS_WWW_CLIENT, GNUTLS_PK_ECDSA, false, -day,
                        year, 13, &P.ca2});

    CHK(gnutls_x509_crl_init(&crl));
    CHK(gnutls_x509_crl_set_version(crl, 2));
    CHK(gnutls_x509_crl_set_this_update(crl, now - 60));
    CHK(gnutls_x509_crl_set_next_update(crl, now + 30 * day));
    CHK(gnutls_x509_crl_set_crt(crl, P.client[CL_REVOKED].crt, now - 60));
    CHK(gnutls_x509_crl_sign2(crl, P.ca.crt, P.ca.key, GNUTLS_DIG_SHA256, 0));
    CHK(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &pem));
    snprintf(P.crl, sizeof P.crl, "%s/crl.pem", P.dir);
    write_file(P.crl, &pem);
    gnutls_free(pem.data);
    gnutls_x509_crl_deinit(crl);

    /* The ECDSA key again as encrypted PKCS#8 (like certtool --to-p8). */
    CHK(gnutls_x509_privkey_export2_pkcs8(P.ec.key, GNUTLS_X509_FMT_PEM,
                                          "s3cret", GNUTLS_PKCS_PBES2_AES_256,
                                          &pem));
    snprintf(P.p8, sizeof P.p8, "%s/ec_p8.key", P.dir);
    write_file(P.p8, &pem);
    gnutls_free(pem.data);

    snprintf(P.bad, sizeof P.bad, "%s/bad.pem", P.dir);
    f = fopen(P.bad, "w");
    if (!f) {
        perror(P.bad);
        exit(EXIT_FAILURE);
    }
    fputs("-----BEGIN CERTIFICATE-----\nnot*base64\n"
          "-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n"
          "not*base64\n-----END PRIVATE KEY-----\n",
          f);
    fclose(f);
    snprintf(P.missing, sizeof P.missing, "%s/missing.pem", P.dir);
}

static void teardown_material(void)
{
    unmake(&P.ca);
    unmake(&P.ca2);
    unmake(&P.rsa);
    unmake(&P.ec);
    unmake(&P.sni_a);
    unmake(&P.wild);
    for (int i = 0; i < CL_N; i++)
        unmake(&P.client[i]);
    unlink(P.crl);
    unlink(P.p8);
    unlink(P.bad);
    /* What a failed test may have left behind. */
    static const char *const extra[] = {"chain.pem", "ss.crt", "ss.key"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", P.dir, extra[i]);
        unlink(path);
    }
    rmdir(P.dir);
}

/* ---- the client side (its own thread; no ck_assert there) ---- */

struct client {
    int fd;
    const char *prio; /* NULL: "NORMAL" */
    const char *sni;
    const char *alpn[2];
    int cert;              /* index into P.client, or -1 */
    bool bulk;             /* read BULK_LEN pattern bytes instead of GREETING */
    bool abrupt;           /* close the socket right after the handshake */
    bool key_update;       /* TLS 1.3 KeyUpdate asking the server for one too */
    bool reneg;            /* TLS 1.2 renegotiation after the greeting */
    bool early;            /* KeyUpdate and command before reading anything */
    gnutls_datum_t resume; /* session data to resume with */
    /* results */
    int hs;
    gnutls_protocol_t version;
    char alpn_got[16];
    gnutls_datum_t peer; /* the server certificate received (DER) */
    unsigned npeers;     /* length of the chain received */
    bool resumed;
    bool data_ok;
    gnutls_datum_t session; /* for the next connection */
};

static int client_cert_cb(gnutls_session_t s, const gnutls_datum_t *req_ca,
                          int nreqs, const gnutls_pk_algorithm_t *algos,
                          int nalgos, gnutls_pcert_st **pcert, unsigned *npcert,
                          gnutls_privkey_t *pkey)
{
    struct client *c = gnutls_session_get_ptr(s);

    /* Whatever the server's CA list says: an untrusted certificate must
     * reach the server to be judged there. */
    *pcert = &P.client[c->cert].pcert;
    *npcert = 1;
    *pkey = P.client[c->cert].pkey;
    return 0;
}

static unsigned char bulk_byte(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static bool client_read(gnutls_session_t s, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = gnutls_record_recv(s, (char *)buf + got, len - got);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    gnutls_certificate_credentials_t cred;
    gnutls_session_t s;
    gnutls_datum_t protos[2], sel;
    const gnutls_datum_t *peers;
    unsigned npeers = 0, nalpn = 0;
    char buf[64];
    int ret;

    gnutls_certificate_allocate_credentials(&cred);
    if (c->cert >= 0)
        gnutls_certificate_set_retrieve_function2(cred, client_cert_cb);
    gnutls_init(&s, GNUTLS_CLIENT);
    gnutls_session_set_ptr(s, c);
    ret = gnutls_priority_set_direct(s, c->prio ? c->prio : "NORMAL", NULL);
    if (ret < 0)
        goto out;
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    if (c->sni)
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, c->sni, strlen(c->sni));
    for (; nalpn < 2 && c->alpn[nalpn]; nalpn++) {
        protos[nalpn].data = (unsigned char *)c->alpn[nalpn];
        protos[nalpn].size = (unsigned)strlen(c->alpn[nalpn]);
    }
    if (nalpn)
        gnutls_alpn_set_protocols(s, protos, nalpn, 0);
    if (c->resume.data)
        gnutls_session_set_data(s, c->resume.data, c->resume.size);
    gnutls_transport_set_int(s, c->fd);
    do
        ret = gnutls_handshake(s);
    while (ret < 0 && !gnutls_error_is_fatal(ret));
    if (ret < 0)
        goto out;

    c->version = gnutls_protocol_get_version(s);
    if (gnutls_alpn_get_selected_protocol(s, &sel) == 0 &&
        sel.size < sizeof c->alpn_got) {
        memcpy(c->alpn_got, sel.data, sel.size);
        c->alpn_got[sel.size] = '\0';
    }
    c->resumed = gnutls_session_is_resumed(s);
    peers = gnutls_certificate_get_peers(s, &npeers);
    c->npeers = npeers;
    if (peers && npeers) {
        c->peer.data = gnutls_malloc(peers[0].size);
        memcpy(c->peer.data, peers[0].data, peers[0].size);
        c->peer.size = peers[0].size;
    }
    if (c->early && (gnutls_session_key_update(s, GNUTLS_KU_PEER) < 0 ||
                     gnutls_record_send(s, COMMAND, strlen(COMMAND)) !=
                         (ssize_t)strlen(COMMAND)))
        goto out;
    if (c->abrupt) {
        /* EOF without close_notify; then wait for the server to close
         * (closing first with its ticket unread would be a reset). */
        shutdown(c->fd, SHUT_WR);
        while (read(c->fd, buf, sizeof buf) > 0)
            ;
        goto out;
    }

    if (c->bulk) {
        unsigned char *big = malloc(BULK_LEN);
        c->data_ok = big && client_read(s, big, BULK_LEN);
        for (size_t i = 0; c->data_ok && i < BULK_LEN; i++)
            c->data_ok = big[i] == bulk_byte(i);
        free(big);
    } else {
        c->data_ok = client_read(s, buf, strlen(GREETING)) &&
                     memcmp(buf, GREETING, strlen(GREETING)) == 0;
    }
    if (c->key_update && gnutls_session_key_update(s, GNUTLS_KU_PEER) < 0)
        c->data_ok = false;
    if (c->reneg) {
        /* The server refuses by closing: this must fail. */
        do
            ret = gnutls_handshake(s);
        while (ret < 0 && !gnutls_error_is_fatal(ret));
        c->data_ok = c->data_ok && ret < 0;
        ret = 0;
        goto out;
    }
    /* One record, so the server sees it split by a small buffer. */
    if (!c->early && gnutls_record_send(s, COMMAND, strlen(COMMAND)) !=
                         (ssize_t)strlen(COMMAND))
        c->data_ok = false;
    if (!client_read(s, buf, strlen(BYE)) || memcmp(buf, BYE, strlen(BYE)) != 0)
        c->data_ok = false;
    /* A TLS 1.3 ticket came after the handshake, read with the data. */
    gnutls_session_get_data2(s, &c->session);
    gnutls_bye(s, GNUTLS_SHUT_WR);
    /* Wait for the server's close_notify (or its EOF). */
    while (gnutls_record_recv(s, buf, sizeof buf) > 0)
        ;
out:
    c->hs = ret;
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(cred);
    close(c->fd);
    return NULL;
}

static void client_free(struct client *c)
{
    gnutls_free(c->peer.data);
    gnutls_free(c->session.data);
    c->peer.data = c->session.data = NULL;
}

/* ---- the server side, non-blocking, in the test thread ---- */

struct served {
    enum tls_result hs;
    char err[256];
    char desc[128];
    char sni[256];
    char alpn[8];
    bool resumed;
    enum tls_cert_status cert;
    struct tls_cert_info info;
    size_t split_pending; /* tls_pending() after a short read */
    unsigned eagain;      /* tls_send calls that returned EAGAIN */
    bool eof;             /* tls_recv returned 0 at the end */
    int reneg_errno;      /* tls_recv's errno on a renegotiation */
};

static void wait_fd(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    int n;

    do
        n = poll(&p, 1, POLL_MS);
    while (n < 0 && errno == EINTR);
    ck_assert_msg(n == 1, "poll timed out");
}

static void send_all(struct tls_conn *t, int fd, const unsigned char *p,
                     size_t len, struct served *r)
{
    /* Offers of varying size, as a connection whose output buffer
     * fills and drains would make; but never fewer bytes than it still
     * had pending from the last offer (tls.h). */
    static const size_t sizes[] = {1, 100, 5000, 16384, 40000, 300000};
    size_t off = 0, floor = 0, i = 0;

    while (off < len) {
        size_t want = sizes[i++ % 6];
        if (want < floor)
            want = floor;
        if (want > len - off)
            want = len - off;
        ssize_t n = tls_send(t, p + off, want);
        if (n < 0) {
            ck_assert_msg(errno == EAGAIN, "tls_send: %s", tls_error(t));
            r->eagain++;
            floor = want;
            wait_fd(fd, POLLOUT);
            continue;
        }
        ck_assert_int_gt(n, 0);
        ck_assert_uint_le((size_t)n, want);
        floor = want - (size_t)n;
        off += (size_t)n;
    }
}

static ssize_t recv_some(struct tls_conn *t, int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = tls_recv(t, buf, len);
        if (n >= 0)
            return n;
        ck_assert_msg(errno == EAGAIN, "tls_recv: %s", tls_error(t));
        wait_fd(fd, tls_wants_write(t) ? POLLOUT : POLLIN);
    }
}

struct server_opts {
    bool request_cert;
    int sndbuf; /* 0: default */
    bool unref_ctx_early;
};

static void serve(struct tls_ctx *ctx, const struct server_opts *o,
                  struct client *c, struct served *r)
{
    int sv[2];
    pthread_t th;
    struct tls_conn *t;
    char buf[64];
    size_t got = 0;
    enum tls_result res;

    memset(r, 0, sizeof *r);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    if (o->sndbuf)
        ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &o->sndbuf,
                                    sizeof o->sndbuf),
                         0);
    c->fd = sv[1];
    t = tls_conn_new(ctx, sv[0], o->request_cert);
    ck_assert_ptr_nonnull(t);
    if (o->unref_ctx_early)
        tls_ctx_unref(ctx); /* the connection keeps it alive */
    ck_assert_int_eq(pthread_create(&th, NULL, client_main, c), 0);

    while ((res = tls_handshake(t)) == TLS_WANT_READ || res == TLS_WANT_WRITE)
        wait_fd(sv[0], res == TLS_WANT_READ ? POLLIN : POLLOUT);
    r->hs = res;
    snprintf(r->err, sizeof r->err, "%s", tls_error(t));
    if (res != TLS_DONE)
        goto out;

    tls_describe(t, r->desc, sizeof r->desc);
    snprintf(r->sni, sizeof r->sni, "%s", tls_sni(t));
    snprintf(r->alpn, sizeof r->alpn, "%s", tls_alpn(t));
    r->resumed = tls_resumed(t);
    r->cert = tls_client_cert(t, &r->info);
    if (c->abrupt) {
        r->eof = recv_some(t, sv[0], buf, sizeof buf) == 0;
        snprintf(r->err, sizeof r->err, "%s", tls_error(t));
        goto out;
    }

    if (c->bulk) {
        unsigned char *big = malloc(BULK_LEN);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < BULK_LEN; i++)
            big[i] = bulk_byte(i);
        send_all(t, sv[0], big, BULK_LEN, r);
        free(big);
    } else {
        send_all(t, sv[0], (const unsigned char *)GREETING, strlen(GREETING),
                 r);
    }
    if (c->reneg) {
        ssize_t n;
        while ((n = tls_recv(t, buf, sizeof buf)) < 0 && errno == EAGAIN)
            wait_fd(sv[0], tls_wants_write(t) ? POLLOUT : POLLIN);
        r->reneg_errno = n < 0 ? errno : 0;
        snprintf(r->err, sizeof r->err, "%s", tls_error(t));
        goto out;
    }
    /* Read the command 4 bytes at a time: the rest of the record waits
     * inside GnuTLS, invisible to poll(). */
    while (got < strlen(COMMAND)) {
        ssize_t n =
            recv_some(t, sv[0], buf + got, got ? strlen(COMMAND) - got : 4);
        ck_assert_int_gt(n, 0);
        if (!got)
            r->split_pending = tls_pending(t);
        got += (size_t)n;
    }
    ck_assert_mem_eq(buf, COMMAND, strlen(COMMAND));
    send_all(t, sv[0], (const unsigned char *)BYE, strlen(BYE), r);
    /* Nothing left to write: no reason to poll for POLLOUT. */
    ck_assert(!tls_wants_write(t));
    r->eof = recv_some(t, sv[0], buf, sizeof buf) == 0;
    ck_assert(!tls_wants_write(t));
    ck_assert_int_eq(tls_recv(t, buf, sizeof buf), 0); /* sticky */
    while ((res = tls_shutdown(t)) == TLS_WANT_WRITE)
        wait_fd(sv[0], POLLOUT);
    ck_assert_int_eq(res, TLS_DONE);
out:
    tls_conn_free(t);
    close(sv[0]);
    pthread_join(th, NULL);
}

/* ---- helpers ---- */

static struct tls_ctx *ctx_with(const struct material *m, const char *ca,
                                const char *crl)
{
    struct tls_options o = {
        .main = {.cert_file = m->crt_path, .key_file = m->key_path},
        .ca_file = ca,
        .crl_file = crl,
    };
    struct tls_ctx *ctx;
    char err[512];

    ck_assert_msg(tls_ctx_new(&o, &ctx, err, sizeof err) == 0, "%s", err);
    return ctx;
}

static void load_fails(const struct tls_options *o, const char *want1,
                       const char *want2)
{
    struct tls_ctx *ctx = (struct tls_ctx *)1;
    char err[1024] = "";

    ck_assert_int_eq(tls_ctx_new(o, &ctx, err, sizeof err), -1);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err, want1), "\"%s\" lacks \"%s\"", err, want1);
    if (want2)
        ck_assert_msg(strstr(err, want2), "\"%s\" lacks \"%s\"", err, want2);
}

static void check_basic(struct tls_ctx *ctx, const char *prio,
                        const char *want_desc)
{
    struct client c = {.prio = prio, .cert = -1};
    struct served r;

    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_msg(r.hs == TLS_DONE, "handshake: %s", r.err);
    ck_assert_int_eq(c.hs, 0);
    ck_assert_msg(strncmp(r.desc, want_desc, strlen(want_desc)) == 0, "desc %s",
                  r.desc);
    ck_assert(c.data_ok);
    ck_assert(r.eof);
    ck_assert_uint_eq(r.split_pending, strlen(COMMAND) - 4);
    ck_assert_str_eq(r.sni, "");
    ck_assert_str_eq(r.alpn, "");
    ck_assert(!r.resumed);
    ck_assert_int_eq(r.cert, TLS_CERT_NONE);
    client_free(&c);
}

/* ---- tests ---- */

START_TEST(rsa_and_ecdsa)
{
    struct tls_ctx *ctx = ctx_with(&P.rsa, NULL, NULL);
    check_basic(ctx, NULL, "TLSv1.3 TLS_");
    check_basic(ctx, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA",
                "TLSv1.2 TLS_ECDHE_RSA_");
    tls_ctx_unref(ctx);
    ctx = ctx_with(&P.ec, NULL, NULL);
    check_basic(ctx, NULL, "TLSv1.3 TLS_");
    check_basic(ctx, "NORMAL:-VERS-ALL:+VERS-TLS1.2",
                "TLSv1.2 TLS_ECDHE_ECDSA_");
    ck_assert(!tls_ctx_has_ca(ctx));
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(versions)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3", .cert = -1};
    struct served r;

    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_int_eq(c.version, GNUTLS_TLS1_3);
    client_free(&c);

    c = (struct client){.prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2", .cert = -1};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_int_eq(c.version, GNUTLS_TLS1_2);
    client_free(&c);

    /* TLS 1.0 and 1.1 are refused. */
    c = (struct client){.prio = "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0",
                        .cert = -1};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_FAILED);
    ck_assert_msg(strncmp(r.err, "handshake: ", 11) == 0, "%s", r.err);
    ck_assert_int_lt(c.hs, 0);
    client_free(&c);
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(alpn)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.alpn = {"h2", "imap"}, .cert = -1};
    struct served r;

    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_str_eq(r.alpn, "imap");
    ck_assert_str_eq(c.alpn_got, "imap");
    client_free(&c);

    /* No ALPN at all is fine. */
    c = (struct client){.cert = -1};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_str_eq(r.alpn, "");
    ck_assert_str_eq(c.alpn_got, "");
    client_free(&c);

    /* Other protocols only: refused (RFC 7301, cross-protocol attacks). */
    c = (struct client){.alpn = {"h2"}, .cert = -1};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_FAILED);
    ck_assert_int_lt(c.hs, 0);
    client_free(&c);
    tls_ctx_unref(ctx);
}
END_TEST

static void check_resume(const char *prio)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct tls_ctx *other = ctx_with(&P.ec, NULL, NULL);
    struct client c1 = {.prio = prio, .cert = -1};
    struct client c2 = {.prio = prio, .cert = -1};
    struct client c3 = {.prio = prio, .cert = -1};
    struct served r;

    serve(ctx, &(struct server_opts){0}, &c1, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert(!r.resumed);
    ck_assert_ptr_nonnull(c1.session.data);

    c2.resume = c1.session;
    serve(ctx, &(struct server_opts){0}, &c2, &r);
    ck_assert_msg(r.hs == TLS_DONE, "%s", r.err);
    ck_assert(r.resumed);
    ck_assert(c2.resumed);
    ck_assert(c2.data_ok);

    /* A new configuration has a new ticket key: full handshake. */
    c3.resume = c1.session;
    serve(other, &(struct server_opts){0}, &c3, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert(!r.resumed);
    client_free(&c1);
    client_free(&c2);
    client_free(&c3);
    tls_ctx_unref(ctx);
    tls_ctx_unref(other);
}

START_TEST(resume_tls13)
{
    check_resume("NORMAL:-VERS-ALL:+VERS-TLS1.3");
}
END_TEST

START_TEST(resume_tls12)
{
    check_resume("NORMAL:-VERS-ALL:+VERS-TLS1.2");
}
END_TEST

static void check_sni(struct tls_ctx *ctx, const char *name,
                      const struct material *want)
{
    struct client c = {.sni = name, .cert = -1};
    struct served r;

    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_msg(r.hs == TLS_DONE, "%s", r.err);
    ck_assert_str_eq(r.sni, name ? name : "");
    ck_assert_uint_eq(c.peer.size, want->der.size);
    ck_assert_msg(memcmp(c.peer.data, want->der.data, want->der.size) == 0,
                  "SNI %s: wrong certificate", name ? name : "(none)");
    client_free(&c);
}

START_TEST(sni)
{
    struct tls_ctx *ctx = ctx_with(&P.rsa, NULL, NULL);
    struct tls_source a = {.cert_file = P.sni_a.crt_path,
                           .key_file = P.sni_a.key_path};
    struct tls_source w = {.cert_file = P.wild.crt_path,
                           .key_file = P.wild.key_path};
    struct tls_source bad = {.cert_file = P.missing,
                             .key_file = P.wild.key_path};
    char err[512];

    ck_assert_int_eq(tls_ctx_add_sni(ctx, "a.example.org", &a, err, sizeof err),
                     0);
    ck_assert_int_eq(
        tls_ctx_add_sni(ctx, "*.wild.example.org", &w, err, sizeof err), 0);
    ck_assert_int_eq(
        tls_ctx_add_sni(ctx, "x.example.org", &bad, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "tls.sni[x.example.org].cert") &&
                      strstr(err, P.missing),
                  "%s", err);
    ck_assert_int_eq(tls_ctx_add_sni(ctx, "a.*.org", &a, err, sizeof err), -1);
    ck_assert_int_eq(tls_ctx_add_sni(ctx, "", &a, err, sizeof err), -1);

    check_sni(ctx, "a.example.org", &P.sni_a);
    check_sni(ctx, "A.Example.ORG", &P.sni_a);
    check_sni(ctx, "mx.wild.example.org", &P.wild);
    check_sni(ctx, "a.mx.wild.example.org", &P.rsa); /* one label only */
    check_sni(ctx, "wild.example.org", &P.rsa);
    check_sni(ctx, "unknown.test", &P.rsa);
    check_sni(ctx, NULL, &P.rsa);
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(load_errors)
{
    struct tls_options o = {
        .main = {.cert_file = P.missing, .key_file = P.ec.key_path}};

    load_fails(&o, "tls.cert ", P.missing);
    o.main =
        (struct tls_source){.cert_file = P.ec.crt_path, .key_file = P.missing};
    load_fails(&o, "tls.key ", "No such file or directory");
    o.main = (struct tls_source){.cert_file = P.bad, .key_file = P.ec.key_path};
    load_fails(&o, "tls.cert ", P.bad);
    o.main = (struct tls_source){.cert_file = P.ec.crt_path, .key_file = P.bad};
    load_fails(&o, "tls.key ", P.bad);
    /* Certificate and key that do not belong together. */
    o.main = (struct tls_source){.cert_file = P.rsa.crt_path,
                                 .key_file = P.ec.key_path};
    load_fails(&o, "tls.key ", "does not match tls.cert");
    /* Encrypted PKCS#8: wrong password, no password, right password. */
    o.main = (struct tls_source){
        .cert_file = P.ec.crt_path, .key_file = P.p8, .key_password = "nope"};
    load_fails(&o, P.p8, "wrong tls.key_password");
    o.main.key_password = NULL;
    load_fails(&o, "tls.key ", "tls.key_password is not set");
    o.main.key_password = "s3cret";
    struct tls_ctx *ctx;
    char err[512];
    ck_assert_msg(tls_ctx_new(&o, &ctx, err, sizeof err) == 0, "%s", err);
    tls_ctx_unref(ctx);
    o.main = (struct tls_source){.cert_file = P.ec.crt_path,
                                 .key_file = P.ec.key_path};

    /* Priorities. */
    o.priority = "NORMAL:+BOGUS-THING";
    load_fails(&o, "tls.priority", "position 7");
    o.priority = NULL;
    /* CA and CRL. */
    o.ca_file = P.missing;
    load_fails(&o, "tls.ca ", P.missing);
    o.ca_file = P.bad;
    load_fails(&o, "tls.ca ", P.bad);
    o.ca_file = P.ca.crt_path;
    o.crl_file = P.bad;
    load_fails(&o, "tls.crl ", P.bad);
    o.crl_file = P.missing;
    load_fails(&o, "tls.crl ", P.missing);
    o.ca_file = NULL;
    o.crl_file = P.crl;
    load_fails(&o, "tls.crl ", "needs tls.ca");
}
END_TEST

START_TEST(chain_file)
{
    char path[PATH_MAX];
    gnutls_datum_t ca, leaf;
    FILE *f;

    /* Issuer first, then the leaf: sent leaf first all the same. */
    snprintf(path, sizeof path, "%s/chain.pem", P.dir);
    ck_assert_int_eq(gnutls_load_file(P.ca.crt_path, &ca), 0);
    ck_assert_int_eq(gnutls_load_file(P.ec.crt_path, &leaf), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(ca.data, 1, ca.size, f);
    fwrite(leaf.data, 1, leaf.size, f);
    fclose(f);
    gnutls_free(ca.data);
    gnutls_free(leaf.data);

    struct material m = P.ec;
    snprintf(m.crt_path, sizeof m.crt_path, "%s", path);
    struct tls_ctx *ctx = ctx_with(&m, NULL, NULL);
    struct client c = {.cert = -1};
    struct served r;
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_uint_eq(c.npeers, 2);
    ck_assert_uint_eq(c.peer.size, P.ec.der.size);
    ck_assert_mem_eq(c.peer.data, P.ec.der.data, P.ec.der.size);
    client_free(&c);
    tls_ctx_unref(ctx);
    unlink(path);
}
END_TEST

START_TEST(load_from_memory)
{
    gnutls_datum_t cert, key;
    struct tls_options o = {0};
    struct tls_ctx *ctx;
    char err[512];

    ck_assert_int_eq(gnutls_load_file(P.rsa.crt_path, &cert), 0);
    ck_assert_int_eq(gnutls_load_file(P.rsa.key_path, &key), 0);
    o.main = (struct tls_source){.cert_pem = cert.data,
                                 .cert_pem_len = cert.size,
                                 .key_pem = key.data,
                                 .key_pem_len = key.size};
    ck_assert_msg(tls_ctx_new(&o, &ctx, err, sizeof err) == 0, "%s", err);
    check_basic(ctx, NULL, "TLSv1.3 ");
    tls_ctx_unref(ctx);

    o.main.key_pem_len = key.size / 2; /* truncated key */
    load_fails(&o, "tls.key (in memory)", NULL);
    o.main.key_pem_len = key.size;
    o.main.cert_file = P.ec.crt_path; /* both kinds at once */
    load_fails(&o, "tls.cert", "both");
    gnutls_free(cert.data);
    gnutls_free(key.data);
}
END_TEST

static void check_client(struct tls_ctx *ctx, int cert,
                         enum tls_cert_status want, const char *reason)
{
    struct client c = {.cert = cert};
    struct served r;

    serve(ctx, &(struct server_opts){.request_cert = true}, &c, &r);
    ck_assert_msg(r.hs == TLS_DONE, "%s", r.err);
    ck_assert(c.data_ok);
    ck_assert_msg(r.cert == want, "cert %d: status %d (%s)", cert, r.cert,
                  r.info.reason);
    if (reason)
        ck_assert_str_eq(r.info.reason, reason);
    client_free(&c);
}

START_TEST(client_certs)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, P.ca.crt_path, P.crl);
    struct client c = {.cert = CL_OK};
    struct served r;

    ck_assert(tls_ctx_has_ca(ctx));
    check_client(ctx, -1, TLS_CERT_NONE, NULL);

    serve(ctx, &(struct server_opts){.request_cert = true}, &c, &r);
    ck_assert_msg(r.hs == TLS_DONE, "%s", r.err);
    ck_assert_int_eq(r.cert, TLS_CERT_VALID);
    ck_assert_str_eq(r.info.common_name, "Alice");
    ck_assert_str_eq(r.info.email, "alice@example.org");
    ck_assert_str_eq(r.info.subject_dn, "CN=Alice");
    ck_assert_str_eq(r.info.reason, "");
    client_free(&c);

    check_client(ctx, CL_EXPIRED, TLS_CERT_INVALID, "expired");
    check_client(ctx, CL_REVOKED, TLS_CERT_INVALID, "revoked");
    check_client(ctx, CL_OTHER, TLS_CERT_INVALID,
                 "signer not found / not trusted");

    /* Not requested: a client with a certificate sends none. */
    c = (struct client){.cert = CL_OK};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.cert, TLS_CERT_NONE);
    client_free(&c);

    /* A resumed session still knows the certificate of the first. */
    for (int v = 0; v < 2; v++) {
        const char *prio = v ? "NORMAL:-VERS-ALL:+VERS-TLS1.2" : NULL;
        struct client first = {.cert = CL_OK, .prio = prio};
        serve(ctx, &(struct server_opts){.request_cert = true}, &first, &r);
        ck_assert_int_eq(r.cert, TLS_CERT_VALID);
        c = (struct client){
            .cert = CL_OK, .prio = prio, .resume = first.session};
        serve(ctx, &(struct server_opts){.request_cert = true}, &c, &r);
        ck_assert(r.resumed);
        ck_assert_msg(r.cert == TLS_CERT_VALID, "v%d: %d %s", v, r.cert,
                      r.info.reason);
        ck_assert_str_eq(r.info.common_name, "Alice");
        client_free(&c);
        client_free(&first);
    }

    /* TLS 1.2 as well. */
    c = (struct client){.cert = CL_OK, .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2"};
    serve(ctx, &(struct server_opts){.request_cert = true}, &c, &r);
    ck_assert_int_eq(r.cert, TLS_CERT_VALID);
    client_free(&c);
    tls_ctx_unref(ctx);

    /* SNI credentials carry the same client CA. */
    ctx = ctx_with(&P.rsa, P.ca.crt_path, P.crl);
    struct tls_source a = {.cert_file = P.sni_a.crt_path,
                           .key_file = P.sni_a.key_path};
    char err[512];
    ck_assert_int_eq(tls_ctx_add_sni(ctx, "a.example.org", &a, err, sizeof err),
                     0);
    c = (struct client){.cert = CL_OK, .sni = "a.example.org"};
    serve(ctx, &(struct server_opts){.request_cert = true}, &c, &r);
    ck_assert_int_eq(r.cert, TLS_CERT_VALID);
    ck_assert_mem_eq(c.peer.data, P.sni_a.der.data, P.sni_a.der.size);
    client_free(&c);
    check_client(ctx, CL_REVOKED, TLS_CERT_INVALID, "revoked");
    tls_ctx_unref(ctx);

    /* Without a CA nothing can be valid. */
    ctx = ctx_with(&P.ec, NULL, NULL);
    check_client(ctx, CL_OK, TLS_CERT_INVALID, "no tls.ca to verify against");
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(send_small_buffer)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.cert = -1, .bulk = true};
    struct served r;

    serve(ctx, &(struct server_opts){.sndbuf = 4096}, &c, &r);
    ck_assert_msg(r.hs == TLS_DONE, "%s", r.err);
    ck_assert(c.data_ok); /* all bytes, in order */
    ck_assert_uint_gt(r.eagain, 0);
    ck_assert(r.eof);
    client_free(&c);

    c = (struct client){
        .cert = -1, .bulk = true, .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2"};
    serve(ctx, &(struct server_opts){.sndbuf = 4096}, &c, &r);
    ck_assert(c.data_ok);
    ck_assert_uint_gt(r.eagain, 0);
    client_free(&c);
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(eof_and_lifetime)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.cert = -1, .abrupt = true};
    struct served r;

    /* Closed without close_notify: an ordinary EOF, noted for the log.
     * The context was released right after tls_conn_new: the session
     * holds its own reference. */
    serve(ctx, &(struct server_opts){.unref_ctx_early = true}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert(r.eof);
    ck_assert_msg(strstr(r.err, "recv: "), "%s", r.err);
    client_free(&c);
}
END_TEST

START_TEST(key_update_and_renegotiation)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.cert = -1,
                       .key_update = true,
                       .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3"};
    struct served r;

    /* Data flows both ways across a KeyUpdate (the server answers with
     * its own on its next send). */
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert(c.data_ok);
    ck_assert(r.eof);
    client_free(&c);

    /* A TLS 1.2 client asking to renegotiate is cut off. */
    c = (struct client){
        .cert = -1, .reneg = true, .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2"};
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_int_eq(r.reneg_errno, EPROTO);
    ck_assert_msg(strstr(r.err, "renegotiation"), "%s", r.err);
    ck_assert(c.data_ok);
    client_free(&c);
    tls_ctx_unref(ctx);
}
END_TEST

/* The client asks for a KeyUpdate while the server has a record stuck
 * half-written in GnuTLS: GnuTLS answers on the next send. */
START_TEST(key_update_while_send_pending)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct client c = {.cert = -1,
                       .bulk = true,
                       .early = true,
                       .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3"};
    struct served r;
    int sv[2], sndbuf = 4096;
    pthread_t th;
    struct tls_conn *t;
    enum tls_result res;
    unsigned char *big = malloc(BULK_LEN);
    char buf[64];
    size_t off = 0, got = 0;
    ssize_t n;

    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < BULK_LEN; i++)
        big[i] = bulk_byte(i);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c.fd = sv[1];
    t = tls_conn_new(ctx, sv[0], false);
    ck_assert_int_eq(pthread_create(&th, NULL, client_main, &c), 0);
    while ((res = tls_handshake(t)) == TLS_WANT_READ || res == TLS_WANT_WRITE)
        wait_fd(sv[0], res == TLS_WANT_READ ? POLLIN : POLLOUT);
    ck_assert_int_eq(res, TLS_DONE);
    /* Fill the socket until a record is stuck. */
    while ((n = tls_send(t, big + off, BULK_LEN - off)) > 0 &&
           !tls_wants_write(t))
        off += (size_t)n;
    if (n > 0)
        off += (size_t)n;
    ck_assert(tls_wants_write(t));
    /* Now read the KeyUpdate and the command behind it. */
    while (got < strlen(COMMAND)) {
        n = recv_some(t, sv[0], buf + got, sizeof buf - got);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
    }
    /* The rest, offered whole each time (it starts with the stuck
     * record), then more after it. */
    while (off < BULK_LEN) {
        n = tls_send(t, big + off, BULK_LEN - off);
        if (n < 0) {
            ck_assert_msg(errno == EAGAIN, "%s", tls_error(t));
            wait_fd(sv[0], POLLOUT);
            continue;
        }
        off += (size_t)n;
    }
    send_all(t, sv[0], (const unsigned char *)BYE, strlen(BYE), &r);
    ck_assert_msg(recv_some(t, sv[0], buf, sizeof buf) == 0, "%s",
                  tls_error(t));
    tls_conn_free(t);
    close(sv[0]);
    pthread_join(th, NULL);
    ck_assert(c.data_ok);
    free(big);
    client_free(&c);
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(handshake_garbage)
{
    struct tls_ctx *ctx = ctx_with(&P.ec, NULL, NULL);
    struct tls_conn *t;
    int sv[2];
    enum tls_result res;
    const char junk[] = "a1 LOGIN user pass\r\n";

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    t = tls_conn_new(ctx, sv[0], false);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tls_handshake(t), TLS_WANT_READ);
    ck_assert_int_eq(write(sv[1], junk, sizeof junk - 1),
                     (ssize_t)sizeof junk - 1);
    while ((res = tls_handshake(t)) == TLS_WANT_READ)
        wait_fd(sv[0], POLLIN);
    ck_assert_int_eq(res, TLS_FAILED);
    ck_assert_msg(strncmp(tls_error(t), "handshake: ", 11) == 0, "%s",
                  tls_error(t));
    /* Dead from now on. */
    ck_assert_int_eq(tls_handshake(t), TLS_FAILED);
    char b[4];
    ck_assert_int_eq(tls_recv(t, b, sizeof b), -1);
    ck_assert_int_eq(tls_send(t, "x", 1), -1);
    tls_conn_free(t);
    close(sv[0]);
    close(sv[1]);
    tls_ctx_unref(ctx);
}
END_TEST

START_TEST(self_signed)
{
    char crt[PATH_MAX], key[PATH_MAX], bad[PATH_MAX], err[512];
    const char *dns[] = {"mail.test", "localhost", NULL};
    const char *ips[] = {"127.0.0.1", "::1", NULL};
    const char *badips[] = {"300.1.1.1", NULL};
    struct stat st;
    struct material m;
    gnutls_x509_crt_t peer;
    unsigned char lo[4] = {127, 0, 0, 1};
    char cn[64];
    size_t cnlen = sizeof cn;

    snprintf(crt, sizeof crt, "%s/ss.crt", P.dir);
    snprintf(key, sizeof key, "%s/ss.key", P.dir);
    ck_assert_msg(tls_make_self_signed(crt, key, dns, ips, err, sizeof err) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);

    memset(&m, 0, sizeof m);
    snprintf(m.crt_path, sizeof m.crt_path, "%s", crt);
    snprintf(m.key_path, sizeof m.key_path, "%s", key);
    struct tls_ctx *ctx = ctx_with(&m, NULL, NULL);
    struct client c = {.cert = -1};
    struct served r;
    serve(ctx, &(struct server_opts){0}, &c, &r);
    ck_assert_int_eq(r.hs, TLS_DONE);
    ck_assert_int_eq(gnutls_x509_crt_init(&peer), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(peer, &c.peer, GNUTLS_X509_FMT_DER),
                     0);
    ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(
                         peer, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnlen),
                     0);
    ck_assert_str_eq(cn, "mail.test");
    ck_assert(gnutls_x509_crt_check_hostname(peer, "localhost"));
    ck_assert(gnutls_x509_crt_check_ip(peer, lo, 4, 0));
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(peer, NULL),
                     GNUTLS_PK_ECDSA);
    ck_assert_int_eq(gnutls_x509_crt_get_signature_algorithm(peer),
                     GNUTLS_SIGN_ECDSA_SHA256);
    ck_assert(gnutls_x509_crt_get_expiration_time(peer) >
              time(NULL) + 9 * 365 * 86400L);
    unsigned status = 1;
    ck_assert_int_eq(gnutls_x509_crt_verify(peer, &peer, 1, 0, &status), 0);
    ck_assert_uint_eq(status, 0);
    gnutls_x509_crt_deinit(peer);
    client_free(&c);
    tls_ctx_unref(ctx);

    /* Errors name the file and the reason. */
    snprintf(bad, sizeof bad, "%s/no/such/dir/ss.key", P.dir);
    ck_assert_int_eq(tls_make_self_signed(crt, bad, dns, ips, err, sizeof err),
                     -1);
    ck_assert_msg(strstr(err, bad) && strstr(err, "No such file"), "%s", err);
    ck_assert_int_eq(
        tls_make_self_signed(crt, key, dns, badips, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "300.1.1.1"), "%s", err);
    unlink(crt);
    unlink(key);
}
END_TEST

int main(void)
{
    int failed;

    gnutls_global_init();
    setup_material();
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rsa_and_ecdsa);
    tcase_add_test(tc, versions);
    tcase_add_test(tc, alpn);
    tcase_add_test(tc, resume_tls13);
    tcase_add_test(tc, resume_tls12);
    tcase_add_test(tc, sni);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, chain_file);
    tcase_add_test(tc, load_from_memory);
    tcase_add_test(tc, client_certs);
    tcase_add_test(tc, send_small_buffer);
    tcase_add_test(tc, eof_and_lifetime);
    tcase_add_test(tc, key_update_and_renegotiation);
    tcase_add_test(tc, key_update_while_send_pending);
    tcase_add_test(tc, handshake_garbage);
    tcase_add_test(tc, self_signed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown_material();
    gnutls_global_deinit();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
