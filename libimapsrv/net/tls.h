/* TLS with GnuTLS: server credentials (certificates, keys, client CA,
 * revocation list, priorities, session tickets) and the per-connection
 * record layer over a non-blocking socket.  Knows nothing of IMAP.
 *
 * A tls_ctx is built once per configuration generation (create/reload) and
 * is immutable afterwards, so loop threads share it without locks; every
 * connection keeps a reference to the one it started with, which is how a
 * reload with new certificates leaves open TLS sessions untouched. */
#ifndef IMAPSRV_NET_TLS_H
#define IMAPSRV_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_ctx;
struct tls_conn;

/* Where credentials come from: files (PEM) or memory (PEM), never both. */
struct tls_source {
    const char *cert_file, *key_file; /* chain first, then the key */
    const void *cert_pem, *key_pem;   /* or in memory */
    size_t cert_pem_len, key_pem_len;
    const char *key_password; /* encrypted PKCS#8 key, or NULL */
};

struct tls_options {
    struct tls_source main; /* the default certificate */
    const char *ca_file;    /* client certificates are verified against */
    const char *crl_file;   /* optional revocation list */
    const char *priority;   /* NULL: TLS 1.2 and 1.3 only */
};

/* Load and check everything; on failure *err names the file and GnuTLS's
 * reason (e.g. "tls.key /x/key.pem: The requested data were not
 * available") and returns -1.  Certificate and key that do not match are
 * an error. */
int tls_ctx_new(const struct tls_options *o, struct tls_ctx **ctx_r, char *err,
                size_t errlen);
/* An extra certificate chosen when the client's SNI names `host` (exact,
 * case-insensitive, or "*.example.com" for one label; exact names win).
 * Part of building the ctx: call before any session uses it.  Errors
 * read "tls.sni[host].cert /path: reason".  The ctx's tls.ca and tls.crl
 * apply to these certificates' sessions too. */
int tls_ctx_add_sni(struct tls_ctx *ctx, const char *host,
                    const struct tls_source *src, char *err, size_t errlen);
void tls_ctx_ref(struct tls_ctx *ctx);
void tls_ctx_unref(struct tls_ctx *ctx);
bool tls_ctx_has_ca(const struct tls_ctx *ctx);

enum tls_result {
    TLS_DONE = 0,   /* handshake complete */
    TLS_WANT_READ,  /* call again when the socket is readable */
    TLS_WANT_WRITE, /* call again when the socket is writable */
    TLS_FAILED,     /* fatal; tls_error() says why (for the log) */
};

/* A server-side session on an accepted socket.  request_cert: ask for a
 * client certificate in the handshake (verified later by
 * tls_client_cert()).  NULL when out of memory.  Holds a reference to
 * ctx; never closes fd.  The caller owns every timeout (GnuTLS's own
 * handshake timeout is off). */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, bool request_cert);
void tls_conn_free(struct tls_conn *t);
enum tls_result tls_handshake(struct tls_conn *t);
/* Like recv(2)/send(2) on a non-blocking socket: bytes, 0 at EOF, or -1
 * with errno EAGAIN (check tls_wants_write: a read may need the socket
 * writable during a renegotiation or key update) or another errno on a
 * fatal error.  tls_send retries a previously interrupted record itself;
 * the caller just offers its pending bytes again.
 *
 * tls_recv: 0 for close_notify and also for an EOF without it (IMAP
 * frames every command, so truncation forges nothing; tls_error() then
 * says so for the log); EOF is sticky.  -1/EAGAIN can also follow a
 * record that carried no data (TLS 1.3 KeyUpdate, empty record) while
 * more bytes wait in the socket: right for level-triggered polling, an
 * edge-triggered caller must call again until a read hits the socket.
 * A client-initiated TLS 1.2 renegotiation is refused: -1/EPROTO.  After
 * a short read, tls_pending() tells what GnuTLS still holds.
 *
 * tls_send: may loop over several records and returns the bytes taken.
 * When it returns -1/EAGAIN or a short count, GnuTLS may hold part of the
 * next record: the next call must start with the bytes not yet taken and
 * offer at least as many as were offered then minus the count returned
 * (a connection that re-offers its whole output buffer always does);
 * fewer is a caller bug and fails with EINVAL.  Errors: EPIPE,
 * ECONNRESET, EPROTO (details in tls_error()). */
ssize_t tls_recv(struct tls_conn *t, void *buf, size_t len);
ssize_t tls_send(struct tls_conn *t, const void *buf, size_t len);
/* True while tls_send holds a half-written record, or when the last
 * tls_recv returned EAGAIN waiting to write. */
bool tls_wants_write(const struct tls_conn *t);
/* Decrypted bytes are buffered inside GnuTLS: the socket will not show
 * readable for them. */
size_t tls_pending(const struct tls_conn *t);
const char *tls_error(const struct tls_conn *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", for the log. */
void tls_describe(const struct tls_conn *t, char *buf, size_t len);
/* The SNI host name the client sent, or "". */
const char *tls_sni(const struct tls_conn *t);
bool tls_resumed(const struct tls_conn *t);
/* "imap" when the client offered ALPN "imap", else "" (it sent no ALPN).
 * A client offering only other protocols fails the handshake with a
 * no_application_protocol alert (RFC 7301). */
const char *tls_alpn(const struct tls_conn *t);
/* Send close_notify (after the last response, before close(2)); does not
 * wait for the client's.  TLS_WANT_WRITE: call again when writable.  A
 * record tls_send left half-written goes out first.  Never closes fd. */
enum tls_result tls_shutdown(struct tls_conn *t);

/* The client certificate after the handshake (a resumed session keeps
 * the first one's; it is verified again against the current CA and CRL).
 * A subject, CN or email that would not fit or holds a NUL is left ""
 * rather than truncated: the caller may map it to a user. */
enum tls_cert_status {
    TLS_CERT_NONE,    /* the client sent none */
    TLS_CERT_VALID,   /* chain, dates and revocation verified */
    TLS_CERT_INVALID, /* sent but not valid: reason says why */
};
struct tls_cert_info {
    char subject_dn[512];
    char common_name[256];
    char email[256];  /* first rfc822Name in subjectAltName, else "" */
    char reason[128]; /* why invalid: "expired", "revoked", "unknown CA"... */
};
enum tls_cert_status tls_client_cert(struct tls_conn *t,
                                     struct tls_cert_info *info_r);

/* A self-signed certificate and key (ECDSA P-256, valid 10 years, SAN DNS
 * names and IP addresses given) written as PEM files with mode 0600 for
 * the key.  For the example daemon's first run. */
int tls_make_self_signed(const char *cert_file, const char *key_file,
                         const char *const *dns_names,
                         const char *const *ip_addrs, char *err, size_t errlen);

#endif
