/* The configuration object behind imapsrv_config: one flat key namespace
 * (POLICY.md) stored as typed fields, plus the whole-config rules.
 * Validation happens here, once, at create/reload; nothing is checked per
 * connection. */
#ifndef IMAPSRV_CORE_CONFIG_H
#define IMAPSRV_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "imapsrv.h"

#define CFG_NAME_MAX 32

struct cfg_listener {
    char name[CFG_NAME_MAX]; /* [A-Za-z0-9_-]+; "imap", "imaps" built in */
    int port;
    imapsrv_port_status status;
    imapsrv_tls_mode tls;
    char *address;          /* NULL = all addresses; else as configured */
    char *greeting;         /* never NULL */
    char *redirect_message; /* NULL = default text naming the TLS port */
    bool auth_password;
    bool auth_client_cert;
    bool require_tls;
    bool enforce_access;
};

struct cfg_problem {
    imapsrv_log_level level; /* ERROR or WARNING */
    char *msg;
};

struct cfg_blob { /* PEM text given through the API */
    char *data;
    size_t len;
};

struct cfg_sni { /* a certificate for one SNI host name */
    char *host, *cert, *key;
};

enum cfg_cert_user { /* which certificate field names the user */
    CFG_CERT_EMAIL_OR_CN = 0,
    CFG_CERT_EMAIL = 1,
    CFG_CERT_CN = 2,
};

struct imapsrv_config {
    struct cfg_listener *listeners;
    size_t listener_count;
    imapsrv_limits limits;

    char *tls_cert, *tls_key, *tls_key_password, *tls_ca, *tls_crl;
    char *tls_priority; /* NULL = the library's default (TLS 1.2 and 1.3) */
    int tls_cert_user; /* enum cfg_cert_user: the default EXTERNAL user */
    struct cfg_blob tls_cert_pem, tls_key_pem; /* instead of the files */
    struct cfg_sni *sni;
    size_t sni_count;

    char **access_allow, **access_deny; /* NULL-terminated lists, may be NULL */
    bool sites_enabled;

    struct cfg_problem *problems;
    size_t problem_count;
    char error[512]; /* last imapsrv_config_set() error */
};

/* Whether a certificate and key are configured (files or memory). */
bool cfg_have_cert(const imapsrv_config *cfg);
/* config_tls.c: the in-memory credentials and SNI certificates. */
imapsrv_status cfg_tls_copy(imapsrv_config *dst, const imapsrv_config *src);
void cfg_tls_free(imapsrv_config *cfg);

/* Look up a listener by name; NULL if none. */
struct cfg_listener *cfg_listener_find(const imapsrv_config *cfg,
                                       const char *name);

/* The redirect text a listener sends: its own, or the default one naming the
 * first enabled implicit-TLS listener's port (993 if there is none).
 * Writes into buf and returns buf. */
const char *cfg_redirect_message(const imapsrv_config *cfg,
                                 const struct cfg_listener *l, char *buf,
                                 size_t buflen);

/* Whether a listener offers any way to log in with this config (TLS
 * availability included).  Used for the "nobody can log in" answer. */
bool cfg_listener_can_login(const imapsrv_config *cfg,
                            const struct cfg_listener *l);

/* Parse a duration ("30s", "5m", "2h", "500ms", bare = seconds) into
 * milliseconds, or a size ("64k", "64m", "1g", bare = bytes).  False when
 * malformed or out of range. */
bool cfg_parse_duration_ms(const char *s, unsigned *ms_r);
bool cfg_parse_size(const char *s, size_t *bytes_r);

/* The i-th key the library knows, NULL past the end; for documentation,
 * the fuzzer and the tests.  A listener key comes back without its prefix
 * ("port", "auth.password") with *per_listener_r set; a global key whole
 * ("limits.max_line"). */
const char *cfg_key_name(size_t i, bool *per_listener_r);

#endif
