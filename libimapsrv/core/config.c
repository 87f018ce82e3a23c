/* Configuration: the flat key namespace of POLICY.md kept as typed fields,
 * the typed-struct API over the very same code, and the whole-config rules.
 *
 * Every key is one row of cfg_keys[] (type, field, range, default); every
 * value type has one parser, one formatter and one description of what it
 * accepts.  The typed API turns struct fields into the strings their keys
 * take and feeds them through those parsers, so a key and its struct field
 * can never disagree about what is valid or how an error reads. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* inet_pton */
#endif

#include "core/config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CFG_LINE_MAX 200  /* greeting, redirect_message: one IMAP line */
#define CFG_PATH_MAX 4095 /* PATH_MAX - 1 */
#define CFG_TEXT_MAX 1023 /* tls.priority, tls.key_password */
#define CFG_ADDR_MAX 1023 /* a listener's whole address list */
#define CFG_ENTRY_MAX 255 /* one access list entry */
#define CFG_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define CFG_SHOW_MAX 60   /* bytes of a bad value echoed in a message */
#define CFG_MSG_MAX 1024  /* one problem message */

/* Greets without naming the software or its version. */
#define CFG_GREETING "IMAP4rev1 server ready"

#define CFG_SEC 1000ull
#define CFG_MINUTE (60 * CFG_SEC)
#define CFG_HOUR (60 * CFG_MINUTE)
#define CFG_KIB 1024ull
#define CFG_MIB (1024 * CFG_KIB)
#define CFG_GIB (1024 * CFG_MIB)

/* Enum fields are copied as int between the policy struct and ours. */
_Static_assert(sizeof(imapsrv_port_status) == sizeof(int), "enum size");
_Static_assert(sizeof(imapsrv_tls_mode) == sizeof(int), "enum size");

enum cfg_scope {
    CFG_LISTENER, /* field of struct cfg_listener */
    CFG_LIMITS,   /* field of imapsrv_limits */
    CFG_GLOBAL,   /* field of struct imapsrv_config */
};

enum cfg_type {
    CFG_BOOL,     /* bool */
    CFG_PORT,     /* int */
    CFG_COUNT,    /* unsigned */
    CFG_DURATION, /* unsigned, milliseconds */
    CFG_SIZE,     /* size_t, bytes */
    CFG_STATUS,   /* imapsrv_port_status */
    CFG_TLSMODE,  /* imapsrv_tls_mode */
    CFG_CERTUSER, /* enum cfg_cert_user */
    CFG_LINE,     /* char *: one protocol line */
    CFG_ADDRESS,  /* char *: normalised address list, NULL = all */
    CFG_PATH,     /* char *: file name, NULL = unset */
    CFG_TEXT,     /* char *: free text, NULL = unset */
    CFG_LIST,     /* char **: NULL-terminated, NULL = empty */
};

#define CFG_SECRET 1u /* never echo the value */

struct cfg_key {
    const char *name; /* listener keys: the part after the prefix */
    enum cfg_type type;
    enum cfg_scope scope;
    size_t off;        /* of the field in its scope's struct */
    size_t poff;       /* listener keys: in imapsrv_listener_policy */
    uint64_t min, max; /* numbers: range; text: max bytes (in max) */
    const char *def;   /* default, as imapsrv_config_set() takes it */
    unsigned flags;
};

#define CFG_L(f)                                                               \
    CFG_LISTENER, offsetof(struct cfg_listener, f),                            \
        offsetof(imapsrv_listener_policy, f)
#define CFG_LIM(f) CFG_LIMITS, offsetof(imapsrv_limits, f), 0
#define CFG_G(f) CFG_GLOBAL, offsetof(struct imapsrv_config, f), 0

static const struct cfg_key cfg_keys[] = {
    {"port", CFG_PORT, CFG_L(port), 1, 65535, "143", 0},
    {"status", CFG_STATUS, CFG_L(status), 0, 0, "enabled", 0},
    {"tls", CFG_TLSMODE, CFG_L(tls), 0, 0, "starttls", 0},
    {"address", CFG_ADDRESS, CFG_L(address), 0, CFG_ADDR_MAX, "", 0},
    {"greeting", CFG_LINE, CFG_L(greeting), 0, CFG_LINE_MAX, CFG_GREETING, 0},
    {"redirect_message", CFG_LINE, CFG_L(redirect_message), 0, CFG_LINE_MAX, "",
     0},
    {"auth.password", CFG_BOOL, CFG_L(auth_password), 0, 0, "yes", 0},
    {"auth.client_cert", CFG_BOOL, CFG_L(auth_client_cert), 0, 0, "no", 0},
    {"auth.require_tls", CFG_BOOL, CFG_L(require_tls), 0, 0, "no", 0},
    {"enforce_access", CFG_BOOL, CFG_L(enforce_access), 0, 0, "no", 0},

    {"limits.max_sessions", CFG_COUNT, CFG_LIM(max_sessions), 0, 1000000, "0",
     0},
    {"limits.max_sessions_per_ip", CFG_COUNT, CFG_LIM(max_sessions_per_ip), 0,
     1000000, "0", 0},
    {"limits.session_timeout", CFG_DURATION, CFG_LIM(session_timeout_ms),
     CFG_MINUTE, 24 * CFG_HOUR, "30m", 0},
    {"limits.login_timeout", CFG_DURATION, CFG_LIM(login_timeout_ms), CFG_SEC,
     CFG_HOUR, "60s", 0},
    {"limits.auth_fail_delay", CFG_DURATION, CFG_LIM(auth_fail_delay_ms), 0,
     60 * CFG_SEC, "2s", 0},
    {"limits.max_line", CFG_SIZE, CFG_LIM(max_line), CFG_KIB, 16 * CFG_MIB,
     "64k", 0},
    {"limits.max_literal", CFG_SIZE, CFG_LIM(max_literal), CFG_KIB, CFG_GIB,
     "64k", 0},
    {"limits.max_append", CFG_SIZE, CFG_LIM(max_append), CFG_KIB, 4 * CFG_GIB,
     "64m", 0},
    {"limits.max_bad_commands", CFG_COUNT, CFG_LIM(max_bad_commands), 1, 1000,
     "3", 0},
    {"limits.max_nesting", CFG_COUNT, CFG_LIM(max_nesting), 2, 1000, "100",
     0},

    {"tls.cert", CFG_PATH, CFG_G(tls_cert), 0, CFG_PATH_MAX, "", 0},
    {"tls.key", CFG_PATH, CFG_G(tls_key), 0, CFG_PATH_MAX, "", 0},
    {"tls.key_password", CFG_TEXT, CFG_G(tls_key_password), 0, CFG_TEXT_MAX, "",
     CFG_SECRET},
    {"tls.ca", CFG_PATH, CFG_G(tls_ca), 0, CFG_PATH_MAX, "", 0},
    {"tls.crl", CFG_PATH, CFG_G(tls_crl), 0, CFG_PATH_MAX, "", 0},
    {"tls.priority", CFG_TEXT, CFG_G(tls_priority), 0, CFG_TEXT_MAX, "", 0},
    {"tls.client_cert_user", CFG_CERTUSER, CFG_G(tls_cert_user), 0, 0,
     "email_or_cn", 0},
    {"access.allow", CFG_LIST, CFG_G(access_allow), 0, CFG_ENTRY_MAX, "", 0},
    {"access.deny", CFG_LIST, CFG_G(access_deny), 0, CFG_ENTRY_MAX, "", 0},
    {"sites.enabled", CFG_BOOL, CFG_G(sites_enabled), 0, 0, "no", 0},
};

#undef CFG_L
#undef CFG_LIM
#undef CFG_G

#define CFG_NKEYS (sizeof cfg_keys / sizeof cfg_keys[0])

/* Where the built-in listeners differ from the "imap" defaults above. */
static const struct {
    const char *listener, *key, *value;
} cfg_builtin_defaults[] = {
    {"imaps", "port", "993"},
    {"imaps", "status", "disabled"},
    {"imaps", "tls", "implicit"},
    {"imaps", "auth.password", "no"},
};

/* ------------------------------------------------------------------------ */
/* Small string helpers (locale-independent on purpose)                     */

static int cfg_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool cfg_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (cfg_lower((unsigned char)*a) != cfg_lower((unsigned char)*b))
            return false;
    return *a == *b;
}

static char *cfg_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *cfg_strdup(const char *s)
{
    return cfg_strndup(s, strlen(s));
}

static bool cfg_put(char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (n >= len)
        return false;
    memcpy(buf, s, n + 1);
    return true;
}

static bool cfg_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* A value shown in a message: printable ASCII only, so that a hostile value
 * cannot forge log lines or terminal escapes, and short. */
static void cfg_show(char *out, size_t outlen, const char *v)
{
    size_t i, n = 0;
    for (i = 0; v[i] && i < CFG_SHOW_MAX && n + 1 < outlen; i++) {
        unsigned char c = (unsigned char)v[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    if (v[i] && n + 4 <= outlen)
        memcpy(out + n, "...", 4);
}

static bool cfg_is_builtin(const char *name)
{
    return strcmp(name, "imap") == 0 || strcmp(name, "imaps") == 0;
}

/* The canonical key of a listener field: "imap.port", "listener.x.port". */
static void cfg_lkey(char *buf, size_t len, const char *lname,
                     const char *suffix)
{
    int n;
    if (cfg_is_builtin(lname))
        n = snprintf(buf, len, "%s.%s", lname, suffix);
    else
        n = snprintf(buf, len, "listener.%s.%s", lname, suffix);
    if (n < 0)
        buf[0] = '\0';
}

static bool cfg_name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= CFG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Next item of a list separated by spaces, tabs or commas. */
static bool cfg_token(const char **sp, const char **tok_r, size_t *len_r)
{
    const char *s = *sp;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0') {
        *sp = s;
        return false;
    }
    *tok_r = s;
    while (*s && *s != ' ' && *s != '\t' && *s != ',')
        s++;
    *len_r = (size_t)(s - *tok_r);
    *sp = s;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Numbers, durations and sizes                                             */

/* Decimal digits only: strtoul would let " 5", "+5" and "-5" through. */
static bool cfg_digits(const char **sp, uint64_t *v_r)
{
    const char *s = *sp;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *sp = s;
    *v_r = v;
    return true;
}

static bool cfg_uint(const char *s, uint64_t *v_r)
{
    return cfg_digits(&s, v_r) && *s == '\0';
}

struct cfg_unit {
    const char *name;
    uint64_t mul;
};

/* Largest first: the formatter takes the first unit that divides. */
static const struct cfg_unit cfg_time_units[] = {
    {"h", CFG_HOUR}, {"m", CFG_MINUTE}, {"s", CFG_SEC}, {"ms", 1}, {NULL, 0},
};
static const struct cfg_unit cfg_size_units[] = {
    {"g", CFG_GIB}, {"m", CFG_MIB}, {"k", CFG_KIB}, {"", 1}, {NULL, 0},
};

static bool cfg_scaled(const char *s, const struct cfg_unit *units,
                       uint64_t bare, uint64_t *v_r)
{
    uint64_t n, mul = 0;
    if (!s || !cfg_digits(&s, &n))
        return false;
    if (*s == '\0')
        mul = bare;
    for (const struct cfg_unit *u = units; !mul && u->name; u++)
        if (u->name[0] && cfg_ieq(s, u->name))
            mul = u->mul;
    if (mul == 0 || n > UINT64_MAX / mul)
        return false;
    *v_r = n * mul;
    return true;
}

static bool cfg_format_scaled(uint64_t v, const struct cfg_unit *units,
                              const char *zero, char *buf, size_t len)
{
    const struct cfg_unit *u = units;
    int n;
    if (v == 0)
        return cfg_put(buf, len, zero);
    while (u[1].name && v % u->mul != 0)
        u++;
    n = snprintf(buf, len, "%" PRIu64 "%s", v / u->mul, u->name);
    return n >= 0 && (size_t)n < len;
}

bool cfg_parse_duration_ms(const char *s, unsigned *ms_r)
{
    uint64_t v;
    if (!ms_r || !cfg_scaled(s, cfg_time_units, CFG_SEC, &v) || v > UINT_MAX)
        return false;
    *ms_r = (unsigned)v;
    return true;
}

bool cfg_parse_size(const char *s, size_t *bytes_r)
{
    uint64_t v;
    if (!bytes_r || !cfg_scaled(s, cfg_size_units, 1, &v))
        return false;
#if SIZE_MAX < UINT64_MAX
    if (v > SIZE_MAX)
        return false;
#endif
    *bytes_r = (size_t)v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Value types: parse (writes the field only on success), format, expect    */

typedef imapsrv_status cfg_parse_fn(const struct cfg_key *k, const char *v,
                                    void *field, char *why, size_t whylen);
typedef bool cfg_format_fn(const struct cfg_key *k, const void *field,
                           char *buf, size_t len);
typedef void cfg_expect_fn(const struct cfg_key *k, char *buf, size_t len);

struct cfg_type_ops {
    cfg_parse_fn *parse;
    cfg_format_fn *format;
    cfg_expect_fn *expect;
};

static const char *const cfg_true_words[] = {"yes", "true", "on", "1", NULL};
static const char *const cfg_false_words[] = {"no", "false", "off", "0", NULL};
/* Indexed by the enum values. */
static const char *const cfg_status_words[] = {"enabled", "disabled",
                                               "redirect", NULL};
static const char *const cfg_tls_words[] = {"starttls", "implicit", "none",
                                            NULL};
static const char *const cfg_certuser_words[] = {"email_or_cn", "email", "cn",
                                                 NULL};

static int cfg_word(const char *v, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (cfg_ieq(v, words[i]))
            return i;
    return -1;
}

static imapsrv_status cfg_parse_bool(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    bool b;
    if (cfg_word(v, cfg_true_words) >= 0)
        b = true;
    else if (cfg_word(v, cfg_false_words) >= 0)
        b = false;
    else
        return IMAPSRV_E_INVALID;
    memcpy(field, &b, sizeof b);
    return IMAPSRV_OK;
}

static bool cfg_format_bool(const struct cfg_key *k, const void *field,
                            char *buf, size_t len)
{
    bool b;
    memcpy(&b, field, sizeof b);
    return cfg_put(buf, len, b ? "yes" : "no");
}

static void cfg_expect_bool(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "yes or no; also true/false, on/off, 1/0");
}

static imapsrv_status cfg_parse_port(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    uint64_t n;
    int port;
    if (!cfg_uint(v, &n) || n < k->min || n > k->max)
        return IMAPSRV_E_INVALID;
    port = (int)n;
    memcpy(field, &port, sizeof port);
    return IMAPSRV_OK;
}

static bool cfg_format_port(const struct cfg_key *k, const void *field,
                            char *buf, size_t len)
{
    int port, n;
    memcpy(&port, field, sizeof port);
    n = snprintf(buf, len, "%d", port);
    return n >= 0 && (size_t)n < len;
}

static void cfg_expect_port(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "a port number %" PRIu64 "-%" PRIu64, k->min, k->max);
}

static imapsrv_status cfg_parse_count(const struct cfg_key *k, const char *v,
                                      void *field, char *why, size_t whylen)
{
    uint64_t n;
    unsigned u;
    if (!cfg_uint(v, &n) || n < k->min || n > k->max)
        return IMAPSRV_E_INVALID;
    u = (unsigned)n;
    memcpy(field, &u, sizeof u);
    return IMAPSRV_OK;
}

static bool cfg_format_count(const struct cfg_key *k, const void *field,
                             char *buf, size_t len)
{
    unsigned u;
    int n;
    memcpy(&u, field, sizeof u);
    n = snprintf(buf, len, "%u", u);
    return n >= 0 && (size_t)n < len;
}

static void cfg_expect_count(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "a number %" PRIu64 "-%" PRIu64, k->min, k->max);
}

static imapsrv_status cfg_parse_duration(const struct cfg_key *k, const char *v,
                                         void *field, char *why, size_t whylen)
{
    uint64_t ms;
    unsigned u;
    if (!cfg_scaled(v, cfg_time_units, CFG_SEC, &ms) || ms < k->min ||
        ms > k->max || ms > UINT_MAX)
        return IMAPSRV_E_INVALID;
    u = (unsigned)ms;
    memcpy(field, &u, sizeof u);
    return IMAPSRV_OK;
}

static bool cfg_format_duration(const struct cfg_key *k, const void *field,
                                char *buf, size_t len)
{
    unsigned u;
    memcpy(&u, field, sizeof u);
    return cfg_format_scaled(u, cfg_time_units, "0s", buf, len);
}

static void cfg_expect_duration(const struct cfg_key *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    cfg_format_scaled(k->min, cfg_time_units, "0s", lo, sizeof lo);
    cfg_format_scaled(k->max, cfg_time_units, "0s", hi, sizeof hi);
    snprintf(buf, len, "a duration %s-%s; units ms, s, m, h, bare = seconds",
             lo, hi);
}

static imapsrv_status cfg_parse_sizev(const struct cfg_key *k, const char *v,
                                      void *field, char *why, size_t whylen)
{
    size_t n;
    if (!cfg_parse_size(v, &n) || n < k->min || n > k->max)
        return IMAPSRV_E_INVALID;
    memcpy(field, &n, sizeof n);
    return IMAPSRV_OK;
}

static bool cfg_format_sizev(const struct cfg_key *k, const void *field,
                             char *buf, size_t len)
{
    size_t n;
    memcpy(&n, field, sizeof n);
    return cfg_format_scaled(n, cfg_size_units, "0", buf, len);
}

static void cfg_expect_sizev(const struct cfg_key *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    cfg_format_scaled(k->min, cfg_size_units, "0", lo, sizeof lo);
    cfg_format_scaled(k->max, cfg_size_units, "0", hi, sizeof hi);
    snprintf(buf, len, "a size %s-%s; units k, m, g, bare = bytes", lo, hi);
}

static const char *const *cfg_enum_words(const struct cfg_key *k)
{
    return k->type == CFG_STATUS    ? cfg_status_words
           : k->type == CFG_TLSMODE ? cfg_tls_words
                                    : cfg_certuser_words;
}

static imapsrv_status cfg_parse_enum(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    int i = cfg_word(v, cfg_enum_words(k));
    if (i < 0)
        return IMAPSRV_E_INVALID;
    memcpy(field, &i, sizeof i);
    return IMAPSRV_OK;
}

static bool cfg_format_enum(const struct cfg_key *k, const void *field,
                            char *buf, size_t len)
{
    const char *const *words = cfg_enum_words(k);
    int i;
    memcpy(&i, field, sizeof i);
    return i >= 0 && i < 3 && cfg_put(buf, len, words[i]);
}

static void cfg_expect_enum(const struct cfg_key *k, char *buf, size_t len)
{
    const char *const *w = cfg_enum_words(k);
    snprintf(buf, len, "%s, %s or %s", w[0], w[1], w[2]);
}

/* Replace a string field; NULL unsets it. */
static imapsrv_status cfg_store_str(void *field, const char *s, size_t n)
{
    char *copy = NULL, *old;
    if (s && !(copy = cfg_strndup(s, n)))
        return IMAPSRV_E_NOMEM;
    memcpy(&old, field, sizeof old);
    free(old);
    memcpy(field, &copy, sizeof copy);
    return IMAPSRV_OK;
}

static bool cfg_format_str(const struct cfg_key *k, const void *field,
                           char *buf, size_t len)
{
    const char *s;
    memcpy(&s, field, sizeof s);
    return cfg_put(buf, len, s ? s : "");
}

/* One protocol line: CR or LF would end the response early and let a
 * configured text inject protocol, so control characters are refused
 * (TAB is harmless in resp-text).  Empty restores the default. */
static imapsrv_status cfg_parse_line(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    size_t n = strlen(v);
    if (n > k->max)
        return IMAPSRV_E_INVALID;
    for (size_t i = 0; i < n; i++)
        if (cfg_is_ctl((unsigned char)v[i]) && v[i] != '\t')
            return IMAPSRV_E_INVALID;
    if (n == 0)
        return cfg_store_str(field, k->def[0] ? k->def : NULL, strlen(k->def));
    return cfg_store_str(field, v, n);
}

static void cfg_expect_line(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len,
             "one line of at most %" PRIu64
             " bytes without CR, LF or other control characters",
             k->max);
}

/* Paths and free text; empty unsets.  A secret may hold any byte. */
static imapsrv_status cfg_parse_text(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    size_t n = strlen(v);
    if (n > k->max)
        return IMAPSRV_E_INVALID;
    if (!(k->flags & CFG_SECRET))
        for (size_t i = 0; i < n; i++)
            if (cfg_is_ctl((unsigned char)v[i]))
                return IMAPSRV_E_INVALID;
    return cfg_store_str(field, n ? v : NULL, n);
}

static void cfg_expect_text(const struct cfg_key *k, char *buf, size_t len)
{
    if (k->flags & CFG_SECRET)
        snprintf(buf, len, "at most %" PRIu64 " bytes", k->max);
    else
        snprintf(buf, len,
                 "%s of at most %" PRIu64 " bytes without control characters",
                 k->type == CFG_PATH ? "a file name" : "a string", k->max);
}

struct cfg_addr {
    int family;
    unsigned char bytes[16];
};

static bool cfg_addr_parse(const char *tok, size_t n, struct cfg_addr *a)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, tok, n);
    tmp[n] = '\0';
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, tmp, a->bytes) == 1)
        a->family = AF_INET;
    else if (inet_pton(AF_INET6, tmp, a->bytes) == 1)
        a->family = AF_INET6;
    return a->family != 0;
}

static bool cfg_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* An unspecified address (0.0.0.0, ::) takes every address of its family. */
static bool cfg_addr_any(const struct cfg_addr *a)
{
    static const unsigned char zero[16];
    return memcmp(a->bytes, zero, 16) == 0;
}

static bool cfg_is_iface(const char *tok, size_t n)
{
    return n >= 6 && memcmp(tok, "iface:", 6) == 0;
}

static bool cfg_ifname_ok(const char *s, size_t n)
{
    if (n == 0 || n > CFG_IFNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("._-:@", c)))
            return false;
    }
    return true;
}

/* Stored normalised ("a b c"), so that get() and the port-overlap rule
 * see one form whatever separators were used. */
static imapsrv_status cfg_parse_address(const struct cfg_key *k, const char *v,
                                        void *field, char *why, size_t whylen)
{
    char out[CFG_ADDR_MAX + 1], shown[CFG_SHOW_MAX + 4];
    const char *s = v, *tok;
    size_t n, used = 0, count = 0;

    if (strcmp(v, "") == 0 || strcmp(v, "*") == 0)
        return cfg_store_str(field, NULL, 0);
    if (strlen(v) > k->max)
        return IMAPSRV_E_INVALID;
    while (cfg_token(&s, &tok, &n)) {
        struct cfg_addr a, b;
        const char *p = v, *prev;
        size_t pn;
        if (cfg_is_iface(tok, n)) {
            if (!cfg_ifname_ok(tok + 6, n - 6))
                return IMAPSRV_E_INVALID;
            if (count > 0 || cfg_token(&s, &prev, &pn)) {
                snprintf(why, whylen, "iface:NAME must stand alone");
                return IMAPSRV_E_INVALID;
            }
        } else if (!cfg_addr_parse(tok, n, &a)) {
            char bad[CFG_SHOW_MAX + 1];
            memcpy(bad, tok, n < CFG_SHOW_MAX ? n : CFG_SHOW_MAX);
            bad[n < CFG_SHOW_MAX ? n : CFG_SHOW_MAX] = '\0';
            cfg_show(shown, sizeof shown, bad);
            snprintf(why, whylen,
                     "'%s' is not an IPv4 or IPv6 address; expected "
                     "addresses separated by spaces or commas, iface:NAME "
                     "or * for all",
                     shown);
            return IMAPSRV_E_INVALID;
        } else {
            /* Binding one address twice would fail at start: say so now. */
            while (cfg_token(&p, &prev, &pn) && prev < tok)
                if (cfg_addr_parse(prev, pn, &b) && cfg_addr_eq(&a, &b)) {
                    char dup[INET6_ADDRSTRLEN + 1];
                    memcpy(dup, tok, n);
                    dup[n] = '\0';
                    snprintf(why, whylen, "address %s is listed twice", dup);
                    return IMAPSRV_E_INVALID;
                }
        }
        if (used)
            out[used++] = ' ';
        memcpy(out + used, tok, n);
        used += n;
        count++;
    }
    if (count == 0)
        return IMAPSRV_E_INVALID;
    out[used] = '\0';
    return cfg_store_str(field, out, used);
}

static void cfg_expect_address(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len,
             "IPv4/IPv6 addresses separated by spaces or commas, "
             "iface:NAME, or * for all");
}

static void cfg_list_free(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

static imapsrv_status cfg_list_dup(char **src, char ***dst_r)
{
    size_t n = 0;
    char **dst;
    *dst_r = NULL;
    if (!src)
        return IMAPSRV_OK;
    while (src[n])
        n++;
    if (!(dst = calloc(n + 1, sizeof *dst)))
        return IMAPSRV_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(dst[i] = cfg_strdup(src[i]))) {
            cfg_list_free(dst);
            return IMAPSRV_E_NOMEM;
        }
    *dst_r = dst;
    return IMAPSRV_OK;
}

static imapsrv_status cfg_parse_list(const struct cfg_key *k, const char *v,
                                     void *field, char *why, size_t whylen)
{
    const char *s = v, *tok;
    size_t n, count = 0, i = 0;
    char **list = NULL, **old;

    while (cfg_token(&s, &tok, &n)) {
        if (n > k->max)
            return IMAPSRV_E_INVALID;
        for (size_t j = 0; j < n; j++)
            if (cfg_is_ctl((unsigned char)tok[j]))
                return IMAPSRV_E_INVALID;
        if (n == 1 && tok[0] == '@') {
            snprintf(why, whylen, "'@' needs a group name, as in @staff");
            return IMAPSRV_E_INVALID;
        }
        count++;
    }
    if (count) {
        if (!(list = calloc(count + 1, sizeof *list)))
            return IMAPSRV_E_NOMEM;
        for (s = v; cfg_token(&s, &tok, &n); i++)
            if (!(list[i] = cfg_strndup(tok, n))) {
                cfg_list_free(list);
                return IMAPSRV_E_NOMEM;
            }
    }
    memcpy(&old, field, sizeof old);
    cfg_list_free(old);
    memcpy(field, &list, sizeof list);
    return IMAPSRV_OK;
}

static bool cfg_format_list(const struct cfg_key *k, const void *field,
                            char *buf, size_t len)
{
    char **list;
    size_t used = 0;
    memcpy(&list, field, sizeof list);
    buf[0] = '\0';
    for (char **p = list; p && *p; p++) {
        size_t n = strlen(*p);
        if (used + (used > 0) + n >= len)
            return false;
        if (used)
            buf[used++] = ' ';
        memcpy(buf + used, *p, n + 1);
        used += n;
    }
    return true;
}

static void cfg_expect_list(const struct cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len,
             "user names, * patterns and @groups of at most %" PRIu64
             " bytes each, separated by spaces or commas",
             k->max);
}

static const struct cfg_type_ops cfg_types[] = {
    [CFG_BOOL] = {cfg_parse_bool, cfg_format_bool, cfg_expect_bool},
    [CFG_PORT] = {cfg_parse_port, cfg_format_port, cfg_expect_port},
    [CFG_COUNT] = {cfg_parse_count, cfg_format_count, cfg_expect_count},
    [CFG_DURATION] = {cfg_parse_duration, cfg_format_duration,
                      cfg_expect_duration},
    [CFG_SIZE] = {cfg_parse_sizev, cfg_format_sizev, cfg_expect_sizev},
    [CFG_STATUS] = {cfg_parse_enum, cfg_format_enum, cfg_expect_enum},
    [CFG_TLSMODE] = {cfg_parse_enum, cfg_format_enum, cfg_expect_enum},
    [CFG_CERTUSER] = {cfg_parse_enum, cfg_format_enum, cfg_expect_enum},
    [CFG_LINE] = {cfg_parse_line, cfg_format_str, cfg_expect_line},
    [CFG_ADDRESS] = {cfg_parse_address, cfg_format_str, cfg_expect_address},
    [CFG_PATH] = {cfg_parse_text, cfg_format_str, cfg_expect_text},
    [CFG_TEXT] = {cfg_parse_text, cfg_format_str, cfg_expect_text},
    [CFG_LIST] = {cfg_parse_list, cfg_format_list, cfg_expect_list},
};

static bool cfg_is_string(enum cfg_type t)
{
    return t == CFG_LINE || t == CFG_ADDRESS || t == CFG_PATH || t == CFG_TEXT;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

const char *cfg_key_name(size_t i, bool *per_listener_r)
{
    if (i >= CFG_NKEYS)
        return NULL;
    if (per_listener_r)
        *per_listener_r = cfg_keys[i].scope == CFG_LISTENER;
    return cfg_keys[i].name;
}

static const struct cfg_key *cfg_key_lookup(bool listener, const char *name)
{
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if ((cfg_keys[i].scope == CFG_LISTENER) == listener &&
            strcmp(cfg_keys[i].name, name) == 0)
            return &cfg_keys[i];
    return NULL;
}

/* Split a key into its row and, for a listener key, the listener name.
 * IMAPSRV_E_INVALID: a listener key with a malformed listener name. */
static imapsrv_status cfg_resolve(const char *key, char lname[CFG_NAME_MAX],
                                  const struct cfg_key **k_r)
{
    const char *rest = NULL;
    lname[0] = '\0';
    if (strncmp(key, "listener.", 9) == 0) {
        const char *name = key + 9, *dot = strchr(name, '.');
        if (!dot || !(*k_r = cfg_key_lookup(true, dot + 1)))
            return IMAPSRV_E_NOKEY;
        if (!cfg_name_ok(name, (size_t)(dot - name)))
            return IMAPSRV_E_INVALID;
        memcpy(lname, name, (size_t)(dot - name));
        lname[dot - name] = '\0';
        return IMAPSRV_OK;
    }
    if (strncmp(key, "imap.", 5) == 0)
        rest = key + 5;
    else if (strncmp(key, "imaps.", 6) == 0)
        rest = key + 6;
    if (rest) {
        if (!(*k_r = cfg_key_lookup(true, rest)))
            return IMAPSRV_E_NOKEY;
        memcpy(lname, key, (size_t)(rest - 1 - key));
        lname[rest - 1 - key] = '\0';
        return IMAPSRV_OK;
    }
    *k_r = cfg_key_lookup(false, key);
    return *k_r ? IMAPSRV_OK : IMAPSRV_E_NOKEY;
}

static const char *cfg_default(const char *lname, const struct cfg_key *k)
{
    size_t n = sizeof cfg_builtin_defaults / sizeof cfg_builtin_defaults[0];
    for (size_t i = 0; lname && i < n; i++)
        if (strcmp(cfg_builtin_defaults[i].listener, lname) == 0 &&
            strcmp(cfg_builtin_defaults[i].key, k->name) == 0)
            return cfg_builtin_defaults[i].value;
    return k->def;
}

static void cfg_set_error(imapsrv_config *cfg, const char *msg)
{
    snprintf(cfg->error, sizeof cfg->error, "%s", msg);
}

/* Parse a value into the field of `base` (a listener, a limits struct or
 * the config itself) and word the error.  The one place every setter,
 * string or typed, goes through. */
static imapsrv_status cfg_apply(imapsrv_config *cfg, void *base,
                                const char *lname, const struct cfg_key *k,
                                const char *value)
{
    char why[256] = "", key[96], shown[CFG_SHOW_MAX + 4];
    imapsrv_status st;

    st = cfg_types[k->type].parse(k, value, (char *)base + k->off, why,
                                  sizeof why);
    if (st == IMAPSRV_OK)
        return st;
    if (st == IMAPSRV_E_NOMEM) {
        cfg_set_error(cfg, "out of memory");
        return st;
    }
    if (k->scope == CFG_LISTENER)
        cfg_lkey(key, sizeof key, lname, k->name);
    else
        snprintf(key, sizeof key, "%s", k->name);
    if (!why[0]) {
        char exp[sizeof why - 16];
        cfg_types[k->type].expect(k, exp, sizeof exp);
        snprintf(why, sizeof why, "expected %s", exp);
    }
    if (k->flags & CFG_SECRET)
        snprintf(cfg->error, sizeof cfg->error,
                 "%s: invalid value (not shown) (%s)", key, why);
    else {
        cfg_show(shown, sizeof shown, value);
        snprintf(cfg->error, sizeof cfg->error, "%s: invalid value '%s' (%s)",
                 key, shown, why);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                */

static void cfg_listener_free(struct cfg_listener *l)
{
    free(l->address);
    free(l->greeting);
    free(l->redirect_message);
    l->address = l->greeting = l->redirect_message = NULL;
}

/* A listener with the defaults of its name ("imap" ones unless built in). */
static imapsrv_status cfg_listener_init(struct cfg_listener *l,
                                        const char *name)
{
    char why[8];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        imapsrv_status st;
        if (k->scope != CFG_LISTENER)
            continue;
        st = cfg_types[k->type].parse(k, cfg_default(name, k),
                                      (char *)l + k->off, why, sizeof why);
        if (st != IMAPSRV_OK) {
            cfg_listener_free(l);
            return st;
        }
    }
    return IMAPSRV_OK;
}

static imapsrv_status cfg_listener_copy(struct cfg_listener *dst,
                                        const struct cfg_listener *src)
{
    *dst = *src;
    dst->address = dst->greeting = dst->redirect_message = NULL;
    if ((src->address && !(dst->address = cfg_strdup(src->address))) ||
        (src->greeting && !(dst->greeting = cfg_strdup(src->greeting))) ||
        (src->redirect_message &&
         !(dst->redirect_message = cfg_strdup(src->redirect_message)))) {
        cfg_listener_free(dst);
        return IMAPSRV_E_NOMEM;
    }
    return IMAPSRV_OK;
}

/* Takes ownership of *l, also on failure. */
static imapsrv_status cfg_listener_append(imapsrv_config *cfg,
                                          struct cfg_listener *l)
{
    struct cfg_listener *v;
    v = realloc(cfg->listeners, (cfg->listener_count + 1) * sizeof *v);
    if (!v) {
        cfg_listener_free(l);
        return IMAPSRV_E_NOMEM;
    }
    cfg->listeners = v;
    v[cfg->listener_count++] = *l;
    return IMAPSRV_OK;
}

static imapsrv_status cfg_listener_add_default(imapsrv_config *cfg,
                                               const char *name)
{
    struct cfg_listener l;
    imapsrv_status st = cfg_listener_init(&l, name);
    return st == IMAPSRV_OK ? cfg_listener_append(cfg, &l) : st;
}

struct cfg_listener *cfg_listener_find(const imapsrv_config *cfg,
                                       const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->listener_count; i++)
        if (strcmp(cfg->listeners[i].name, name) == 0)
            return &cfg->listeners[i];
    return NULL;
}

bool cfg_have_cert(const imapsrv_config *cfg)
{
    return (cfg->tls_cert && cfg->tls_key) ||
           (cfg->tls_cert_pem.data && cfg->tls_key_pem.data);
}

const char *cfg_redirect_message(const imapsrv_config *cfg,
                                 const struct cfg_listener *l, char *buf,
                                 size_t buflen)
{
    int port = 993;
    if (!buf || buflen == 0)
        return buf;
    if (l && l->redirect_message) {
        snprintf(buf, buflen, "%s", l->redirect_message);
        return buf;
    }
    /* The port clients should use: an enabled TLS listener's, else the
     * configured TLS port even while it is off (the check warns then). */
    const struct cfg_listener *imaps =
        cfg ? cfg_listener_find(cfg, "imaps") : NULL;
    if (imaps)
        port = imaps->port;
    for (size_t i = 0; cfg && i < cfg->listener_count; i++)
        if (cfg->listeners[i].status == IMAPSRV_PORT_ENABLED &&
            cfg->listeners[i].tls == IMAPSRV_TLS_IMPLICIT) {
            port = cfg->listeners[i].port;
            break;
        }
    snprintf(buf, buflen,
             "IMAP server configured for TLS connections only. Please "
             "reconnect using the TLS port %d",
             port);
    return buf;
}

/* Passwords wait for TLS when require_tls is on. */
static bool cfg_password_usable(const imapsrv_config *cfg,
                                const struct cfg_listener *l)
{
    return l->auth_password &&
           (!l->require_tls || l->tls == IMAPSRV_TLS_IMPLICIT ||
            (l->tls == IMAPSRV_TLS_STARTTLS && cfg_have_cert(cfg)));
}

static bool cfg_cert_usable(const imapsrv_config *cfg,
                            const struct cfg_listener *l)
{
    return l->auth_client_cert && l->tls == IMAPSRV_TLS_IMPLICIT &&
           cfg_have_cert(cfg) && cfg->tls_ca;
}

bool cfg_listener_can_login(const imapsrv_config *cfg,
                            const struct cfg_listener *l)
{
    if (!cfg || !l)
        return false;
    /* An implicit-TLS port without a certificate finishes no handshake. */
    if (l->tls == IMAPSRV_TLS_IMPLICIT && !cfg_have_cert(cfg))
        return false;
    return cfg_password_usable(cfg, l) || cfg_cert_usable(cfg, l);
}

/* ------------------------------------------------------------------------ */
/* Object lifecycle                                                         */

static void cfg_problems_clear(imapsrv_config *cfg)
{
    for (size_t i = 0; i < cfg->problem_count; i++)
        free(cfg->problems[i].msg);
    free(cfg->problems);
    cfg->problems = NULL;
    cfg->problem_count = 0;
}

void imapsrv_config_destroy(imapsrv_config **cfgp)
{
    imapsrv_config *cfg;
    if (!cfgp || !(cfg = *cfgp))
        return;
    for (size_t i = 0; i < cfg->listener_count; i++)
        cfg_listener_free(&cfg->listeners[i]);
    free(cfg->listeners);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    if (cfg->tls_key_password) {
        /* volatile so that the wipe is not optimised away before free */
        volatile char *p = cfg->tls_key_password;
        while (*p)
            *p++ = '\0';
    }
    free(cfg->tls_key_password);
    free(cfg->tls_ca);
    free(cfg->tls_crl);
    free(cfg->tls_priority);
    cfg_list_free(cfg->access_allow);
    cfg_list_free(cfg->access_deny);
    cfg_tls_free(cfg);
    cfg_problems_clear(cfg);
    free(cfg);
    *cfgp = NULL;
}

imapsrv_status imapsrv_config_new(imapsrv_config **cfg_r)
{
    imapsrv_config *cfg;
    imapsrv_status st = IMAPSRV_OK;
    char why[8];

    if (!cfg_r)
        return IMAPSRV_E_INVALID;
    *cfg_r = NULL;
    if (!(cfg = calloc(1, sizeof *cfg)))
        return IMAPSRV_E_NOMEM;
    imapsrv_limits_init(&cfg->limits);
    for (size_t i = 0; st == IMAPSRV_OK && i < CFG_NKEYS; i++)
        if (cfg_keys[i].scope == CFG_GLOBAL)
            st = cfg_types[cfg_keys[i].type].parse(
                &cfg_keys[i], cfg_keys[i].def, (char *)cfg + cfg_keys[i].off,
                why, sizeof why);
    if (st == IMAPSRV_OK)
        st = cfg_listener_add_default(cfg, "imap");
    if (st == IMAPSRV_OK)
        st = cfg_listener_add_default(cfg, "imaps");
    if (st != IMAPSRV_OK) {
        imapsrv_config_destroy(&cfg);
        return st;
    }
    *cfg_r = cfg;
    return IMAPSRV_OK;
}

static imapsrv_status cfg_str_dup(const char *src, char **dst)
{
    *dst = NULL;
    if (src && !(*dst = cfg_strdup(src)))
        return IMAPSRV_E_NOMEM;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_config_clone(const imapsrv_config *cfg,
                                    imapsrv_config **copy_r)
{
    imapsrv_config *c;
    imapsrv_status st = IMAPSRV_OK;

    if (!copy_r)
        return IMAPSRV_E_INVALID;
    *copy_r = NULL;
    if (!cfg)
        return IMAPSRV_E_INVALID;
    if (!(c = calloc(1, sizeof *c)))
        return IMAPSRV_E_NOMEM;
    c->limits = cfg->limits;
    c->sites_enabled = cfg->sites_enabled;
    c->tls_cert_user = cfg->tls_cert_user;
    if (cfg->listener_count &&
        !(c->listeners = calloc(cfg->listener_count, sizeof *c->listeners)))
        st = IMAPSRV_E_NOMEM;
    for (size_t i = 0; st == IMAPSRV_OK && i < cfg->listener_count; i++) {
        st = cfg_listener_copy(&c->listeners[i], &cfg->listeners[i]);
        if (st == IMAPSRV_OK)
            c->listener_count++;
    }
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_cert, &c->tls_cert);
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_key, &c->tls_key);
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_key_password, &c->tls_key_password);
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_ca, &c->tls_ca);
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_crl, &c->tls_crl);
    if (st == IMAPSRV_OK)
        st = cfg_str_dup(cfg->tls_priority, &c->tls_priority);
    if (st == IMAPSRV_OK)
        st = cfg_list_dup(cfg->access_allow, &c->access_allow);
    if (st == IMAPSRV_OK)
        st = cfg_list_dup(cfg->access_deny, &c->access_deny);
    if (st == IMAPSRV_OK)
        st = cfg_tls_copy(c, cfg);
    if (st != IMAPSRV_OK) {
        imapsrv_config_destroy(&c);
        return st;
    }
    *copy_r = c;
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------------ */
/* Keys as strings                                                          */

imapsrv_status imapsrv_config_set(imapsrv_config *cfg, const char *key,
                                  const char *value)
{
    char lname[CFG_NAME_MAX], shown[CFG_SHOW_MAX + 4];
    const struct cfg_key *k = NULL;
    struct cfg_listener *l, nl;
    imapsrv_status st;

    if (!cfg)
        return IMAPSRV_E_INVALID;
    cfg->error[0] = '\0';
    if (!key) {
        cfg_set_error(cfg, "missing key");
        return IMAPSRV_E_INVALID;
    }
    cfg_show(shown, sizeof shown, key);
    st = cfg_resolve(key, lname, &k);
    if (st == IMAPSRV_E_NOKEY) {
        snprintf(cfg->error, sizeof cfg->error, "unknown key '%s'", shown);
        return st;
    }
    if (st != IMAPSRV_OK) {
        snprintf(cfg->error, sizeof cfg->error,
                 "%s: invalid listener name (expected 1-%d letters, digits, "
                 "'_' or '-')",
                 shown, CFG_NAME_MAX - 1);
        return st;
    }
    if (!value) {
        snprintf(cfg->error, sizeof cfg->error, "%s: missing value", shown);
        return IMAPSRV_E_INVALID;
    }
    if (k->scope == CFG_LIMITS)
        return cfg_apply(cfg, &cfg->limits, NULL, k, value);
    if (k->scope == CFG_GLOBAL)
        return cfg_apply(cfg, cfg, NULL, k, value);
    if ((l = cfg_listener_find(cfg, lname)))
        return cfg_apply(cfg, l, lname, k, value);

    /* A new listener exists only once its first value was accepted. */
    if ((st = cfg_listener_init(&nl, lname)) != IMAPSRV_OK) {
        cfg_set_error(cfg, "out of memory");
        return st;
    }
    if ((st = cfg_apply(cfg, &nl, lname, k, value)) != IMAPSRV_OK) {
        cfg_listener_free(&nl);
        return st;
    }
    if ((st = cfg_listener_append(cfg, &nl)) != IMAPSRV_OK)
        cfg_set_error(cfg, "out of memory");
    return st;
}

const char *imapsrv_config_last_error(const imapsrv_config *cfg)
{
    return cfg ? cfg->error : "";
}

imapsrv_status imapsrv_config_get(const imapsrv_config *cfg, const char *key,
                                  char *buf, size_t buflen)
{
    char lname[CFG_NAME_MAX];
    const struct cfg_key *k = NULL;
    const void *base;
    imapsrv_status st;

    if (!cfg || !key || !buf || buflen == 0)
        return IMAPSRV_E_INVALID;
    buf[0] = '\0';
    if ((st = cfg_resolve(key, lname, &k)) != IMAPSRV_OK)
        return st;
    if (k->scope == CFG_LIMITS)
        base = &cfg->limits;
    else if (k->scope == CFG_GLOBAL)
        base = cfg;
    else if (!(base = cfg_listener_find(cfg, lname)))
        return IMAPSRV_E_NOKEY;
    if (!cfg_types[k->type].format(k, (const char *)base + k->off, buf,
                                   buflen)) {
        buf[0] = '\0';
        return IMAPSRV_E_INVALID;
    }
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------------ */
/* Typed listeners                                                          */

/* A policy field as the string its key takes, so that the typed API runs
 * through the key parsers: same checks, same messages. */
static const char *cfg_policy_value(const struct cfg_key *k,
                                    const imapsrv_listener_policy *p, char *num,
                                    size_t numlen)
{
    const char *f = (const char *)p + k->poff, *s;
    int v;
    if (cfg_is_string(k->type)) {
        memcpy(&s, f, sizeof s);
        return s ? s : "";
    }
    memcpy(&v, f, sizeof v);
    if ((k->type == CFG_STATUS || k->type == CFG_TLSMODE) && v >= 0 && v < 3)
        return cfg_enum_words(k)[v];
    snprintf(num, numlen, "%d", v); /* bool 2 or port 0 fail like keys */
    return num;
}

/* The other way: a listener field into the policy struct. */
static void cfg_policy_put(const struct cfg_key *k,
                           const struct cfg_listener *l,
                           imapsrv_listener_policy *p)
{
    const char *f = (const char *)l + k->off;
    char *pf = (char *)p + k->poff;
    if (k->type == CFG_BOOL) {
        bool b;
        int v;
        memcpy(&b, f, sizeof b);
        v = b;
        memcpy(pf, &v, sizeof v);
    } else if (cfg_is_string(k->type)) {
        const char *s;
        memcpy(&s, f, sizeof s);
        memcpy(pf, &s, sizeof s);
    } else
        memcpy(pf, f, sizeof(int));
}

void imapsrv_listener_policy_init(imapsrv_listener_policy *p, const char *name)
{
    struct cfg_listener l;
    char why[8];
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    memset(&l, 0, sizeof l);
    p->size = sizeof *p;
    p->name = name;
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        const char *d;
        if (k->scope != CFG_LISTENER)
            continue;
        d = cfg_default(name, k);
        if (cfg_is_string(k->type)) {
            /* Point at the static default rather than allocating. */
            const char *s = d[0] ? d : NULL;
            memcpy((char *)p + k->poff, &s, sizeof s);
        } else if (cfg_types[k->type].parse(k, d, (char *)&l + k->off, why,
                                            sizeof why) == IMAPSRV_OK)
            cfg_policy_put(k, &l, p);
    }
}

imapsrv_status imapsrv_config_set_listener(imapsrv_config *cfg,
                                           const imapsrv_listener_policy *p)
{
    char shown[CFG_SHOW_MAX + 4], num[24];
    struct cfg_listener nl, *l;
    imapsrv_status st;

    if (!cfg)
        return IMAPSRV_E_INVALID;
    cfg->error[0] = '\0';
    if (!p) {
        cfg_set_error(cfg, "missing listener policy");
        return IMAPSRV_E_INVALID;
    }
    if (p->size < sizeof *p) {
        snprintf(cfg->error, sizeof cfg->error,
                 "listener policy: size %zu is smaller than %zu (set size "
                 "to sizeof(imapsrv_listener_policy))",
                 p->size, sizeof *p);
        return IMAPSRV_E_INVALID;
    }
    if (!p->name || !cfg_name_ok(p->name, strlen(p->name))) {
        cfg_show(shown, sizeof shown, p->name ? p->name : "");
        snprintf(cfg->error, sizeof cfg->error,
                 "invalid listener name '%s' (expected 1-%d letters, "
                 "digits, '_' or '-')",
                 shown, CFG_NAME_MAX - 1);
        return IMAPSRV_E_INVALID;
    }
    if ((st = cfg_listener_init(&nl, p->name)) != IMAPSRV_OK) {
        cfg_set_error(cfg, "out of memory");
        return st;
    }
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (k->scope != CFG_LISTENER)
            continue;
        st = cfg_apply(cfg, &nl, nl.name, k,
                       cfg_policy_value(k, p, num, sizeof num));
        if (st != IMAPSRV_OK) {
            cfg_listener_free(&nl);
            return st;
        }
    }
    if ((l = cfg_listener_find(cfg, nl.name))) {
        cfg_listener_free(l);
        *l = nl;
        return IMAPSRV_OK;
    }
    if ((st = cfg_listener_append(cfg, &nl)) != IMAPSRV_OK)
        cfg_set_error(cfg, "out of memory");
    return st;
}

imapsrv_status imapsrv_config_get_listener(const imapsrv_config *cfg,
                                           const char *name,
                                           imapsrv_listener_policy *p_r)
{
    const struct cfg_listener *l;
    if (!cfg || !name || !p_r || !(l = cfg_listener_find(cfg, name)))
        return IMAPSRV_E_INVALID;
    memset(p_r, 0, sizeof *p_r);
    p_r->size = sizeof *p_r;
    p_r->name = l->name;
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (cfg_keys[i].scope == CFG_LISTENER)
            cfg_policy_put(&cfg_keys[i], l, p_r);
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_config_remove_listener(imapsrv_config *cfg,
                                              const char *name)
{
    struct cfg_listener *l = cfg_listener_find(cfg, name);
    size_t i;
    if (!l)
        return IMAPSRV_E_INVALID;
    i = (size_t)(l - cfg->listeners);
    cfg_listener_free(l);
    memmove(l, l + 1, (cfg->listener_count - i - 1) * sizeof *l);
    cfg->listener_count--;
    return IMAPSRV_OK;
}

size_t imapsrv_config_listener_count(const imapsrv_config *cfg)
{
    return cfg ? cfg->listener_count : 0;
}

const char *imapsrv_config_listener_name(const imapsrv_config *cfg, size_t i)
{
    return cfg && i < cfg->listener_count ? cfg->listeners[i].name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Typed limits                                                             */

void imapsrv_limits_init(imapsrv_limits *l)
{
    char why[8];
    if (!l)
        return;
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (cfg_keys[i].scope == CFG_LIMITS)
            cfg_types[cfg_keys[i].type].parse(&cfg_keys[i], cfg_keys[i].def,
                                              (char *)l + cfg_keys[i].off, why,
                                              sizeof why);
    l->size = sizeof *l;
}

imapsrv_status imapsrv_config_set_limits(imapsrv_config *cfg,
                                         const imapsrv_limits *l)
{
    imapsrv_limits tmp;
    char v[32];
    if (!cfg)
        return IMAPSRV_E_INVALID;
    cfg->error[0] = '\0';
    if (!l) {
        cfg_set_error(cfg, "missing limits");
        return IMAPSRV_E_INVALID;
    }
    if (l->size < sizeof *l) {
        snprintf(cfg->error, sizeof cfg->error,
                 "limits: size %zu is smaller than %zu (set size to "
                 "sizeof(imapsrv_limits))",
                 l->size, sizeof *l);
        return IMAPSRV_E_INVALID;
    }
    tmp = cfg->limits;
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        imapsrv_status st;
        if (k->scope != CFG_LIMITS)
            continue;
        /* Every number formats in 32 bytes, so this cannot fail. */
        cfg_types[k->type].format(k, (const char *)l + k->off, v, sizeof v);
        if ((st = cfg_apply(cfg, &tmp, NULL, k, v)) != IMAPSRV_OK)
            return st;
    }
    tmp.size = sizeof tmp;
    cfg->limits = tmp;
    return IMAPSRV_OK;
}

void imapsrv_config_get_limits(const imapsrv_config *cfg, imapsrv_limits *l_r)
{
    if (!l_r)
        return;
    if (cfg)
        *l_r = cfg->limits;
    else
        imapsrv_limits_init(l_r);
    l_r->size = sizeof *l_r;
}

/* ------------------------------------------------------------------------ */
/* Whole-config rules                                                       */

struct cfg_check {
    imapsrv_config *cfg;
    imapsrv_status st; /* NOMEM once a message could not be kept */
    bool error;
};

static void cfg_report(struct cfg_check *ck, imapsrv_log_level level,
                       const char *msg)
{
    imapsrv_config *cfg = ck->cfg;
    struct cfg_problem *v;
    char *copy;
    if (level == IMAPSRV_LOG_ERROR)
        ck->error = true;
    v = realloc(cfg->problems, (cfg->problem_count + 1) * sizeof *v);
    if (v)
        cfg->problems = v;
    if (!v || !(copy = cfg_strdup(msg))) {
        ck->st = IMAPSRV_E_NOMEM;
        return;
    }
    v[cfg->problem_count].level = level;
    v[cfg->problem_count].msg = copy;
    cfg->problem_count++;
}

/* The guide: "either the IMAP TCP/IP port or the IMAP SSL port must be
 * enabled"; a redirect port lets no one in, so it does not count. */
static void cfg_rule_enabled(struct cfg_check *ck)
{
    const imapsrv_config *cfg = ck->cfg;
    for (size_t i = 0; i < cfg->listener_count; i++)
        if (cfg->listeners[i].status == IMAPSRV_PORT_ENABLED)
            return;
    cfg_report(ck, IMAPSRV_LOG_ERROR,
               "no listener is enabled: set imap.status or imaps.status to "
               "enabled (a redirect listener does not count)");
}

static bool cfg_addr_overlap(const struct cfg_addr *a, const struct cfg_addr *b)
{
    if (a->family != b->family)
        return false;
    return cfg_addr_eq(a, b) || cfg_addr_any(a) || cfg_addr_any(b);
}

/* Whether two bound listeners on one port would collide; `where` says on
 * what.  An explicit "::" is taken to be IPv6-only (the listener sets
 * IPV6_V6ONLY); an interface against an address cannot be judged here, so
 * the bind reports it. */
static bool cfg_listeners_collide(const struct cfg_listener *a,
                                  const struct cfg_listener *b, char *where,
                                  size_t len)
{
    const char *sa = a->address, *sb, *ta, *tb;
    size_t na, nb;
    struct cfg_addr xa, xb;

    if (!a->address && !b->address) {
        snprintf(where, len, "on all addresses");
        return true;
    }
    if (!a->address || !b->address) {
        const struct cfg_listener *all = a->address ? b : a;
        const struct cfg_listener *some = a->address ? a : b;
        snprintf(where, len, "(%s on all addresses, %s on %.*s)", all->name,
                 some->name, CFG_SHOW_MAX, some->address);
        return true;
    }
    if (cfg_is_iface(a->address, strlen(a->address)) ||
        cfg_is_iface(b->address, strlen(b->address))) {
        snprintf(where, len, "on %.*s", CFG_SHOW_MAX, a->address);
        return strcmp(a->address, b->address) == 0;
    }
    while (cfg_token(&sa, &ta, &na)) {
        if (!cfg_addr_parse(ta, na, &xa))
            continue;
        for (sb = b->address; cfg_token(&sb, &tb, &nb);) {
            if (!cfg_addr_parse(tb, nb, &xb) || !cfg_addr_overlap(&xa, &xb))
                continue;
            if (cfg_addr_eq(&xa, &xb))
                snprintf(where, len, "on %.*s", (int)na, ta);
            else
                snprintf(where, len, "(%s on %.*s, %s on %.*s)", a->name,
                         (int)na, ta, b->name, (int)nb, tb);
            return true;
        }
    }
    return false;
}

static void cfg_rule_ports(struct cfg_check *ck)
{
    const imapsrv_config *cfg = ck->cfg;
    char where[256], ka[96], kb[96], msg[CFG_MSG_MAX];
    for (size_t i = 0; i < cfg->listener_count; i++) {
        const struct cfg_listener *a = &cfg->listeners[i];
        if (a->status == IMAPSRV_PORT_DISABLED)
            continue;
        for (size_t j = i + 1; j < cfg->listener_count; j++) {
            const struct cfg_listener *b = &cfg->listeners[j];
            if (b->status == IMAPSRV_PORT_DISABLED || a->port != b->port ||
                !cfg_listeners_collide(a, b, where, sizeof where))
                continue;
            cfg_lkey(ka, sizeof ka, a->name, "port");
            cfg_lkey(kb, sizeof kb, b->name, "port");
            snprintf(msg, sizeof msg,
                     "listeners %s and %s both use port %d %s: change %s "
                     "or %s",
                     a->name, b->name, a->port, where, ka, kb);
            cfg_report(ck, IMAPSRV_LOG_ERROR, msg);
        }
    }
}

/* Append "; "-separated reasons into a fixed buffer. */
static void cfg_cat(char *buf, size_t len, const char *sep, const char *s)
{
    size_t n = strlen(buf);
    if (n < len)
        snprintf(buf + n, len - n, "%s%s", n ? sep : "", s);
}

static void cfg_rule_tls(struct cfg_check *ck)
{
    const imapsrv_config *cfg = ck->cfg;
    char why[CFG_MSG_MAX / 2], msg[CFG_MSG_MAX], k1[160], k2[160];

    for (size_t i = 0; i < cfg->listener_count; i++) {
        const struct cfg_listener *l = &cfg->listeners[i];
        const char *n = l->name;
        if (l->status == IMAPSRV_PORT_DISABLED)
            continue; /* binds nothing, so needs nothing */

        why[0] = '\0';
        if (l->tls == IMAPSRV_TLS_IMPLICIT) {
            cfg_lkey(k1, sizeof k1, n, "tls = implicit");
            cfg_cat(why, sizeof why, ", ", k1);
        }
        if (l->auth_client_cert) {
            cfg_lkey(k1, sizeof k1, n, "auth.client_cert = yes");
            cfg_cat(why, sizeof why, ", ", k1);
        }
        if (l->require_tls && l->tls == IMAPSRV_TLS_STARTTLS) {
            cfg_lkey(k1, sizeof k1, n, "auth.require_tls = yes");
            cfg_cat(why, sizeof why, ", ", k1);
            cfg_cat(why, sizeof why, "", " and STARTTLS needs one");
        }
        if (why[0] && !cfg_have_cert(cfg)) {
            snprintf(msg, sizeof msg,
                     "listener %s needs a TLS certificate and key (%s): "
                     "set %s",
                     n, why,
                     !cfg->tls_cert && !cfg->tls_key ? "tls.cert and tls.key"
                     : !cfg->tls_cert                ? "tls.cert"
                                                     : "tls.key");
            cfg_report(ck, IMAPSRV_LOG_ERROR, msg);
        }

        if (l->auth_client_cert && l->tls != IMAPSRV_TLS_IMPLICIT) {
            cfg_lkey(k1, sizeof k1, n, "auth.client_cert");
            cfg_lkey(k2, sizeof k2, n, "tls");
            snprintf(msg, sizeof msg,
                     "listener %s: %s = yes needs an implicit-TLS listener "
                     "(a client certificate is asked for in the handshake): "
                     "set %s to implicit or %s to no",
                     n, k1, k2, k1);
            cfg_report(ck, IMAPSRV_LOG_ERROR, msg);
        }
        if (l->auth_client_cert && !cfg->tls_ca) {
            cfg_lkey(k1, sizeof k1, n, "auth.client_cert");
            snprintf(msg, sizeof msg,
                     "listener %s: %s = yes needs tls.ca (the CA that "
                     "verifies client certificates)",
                     n, k1);
            cfg_report(ck, IMAPSRV_LOG_ERROR, msg);
        }
        if (l->require_tls && l->tls == IMAPSRV_TLS_NONE) {
            cfg_lkey(k1, sizeof k1, n, "auth.require_tls");
            cfg_lkey(k2, sizeof k2, n, "tls");
            snprintf(msg, sizeof msg,
                     "listener %s: %s = yes but %s = none, so STARTTLS is "
                     "never offered and passwords can never be used: set %s "
                     "to starttls or %s to no",
                     n, k1, k2, k2, k1);
            cfg_report(ck, IMAPSRV_LOG_ERROR, msg);
        }
    }
}

/* The guide allows a port nobody can log in on; say why it is so. */
static void cfg_rule_login(struct cfg_check *ck)
{
    const imapsrv_config *cfg = ck->cfg;
    char why[CFG_MSG_MAX / 2], msg[CFG_MSG_MAX], k[160];

    for (size_t i = 0; i < cfg->listener_count; i++) {
        const struct cfg_listener *l = &cfg->listeners[i];
        if (l->status != IMAPSRV_PORT_ENABLED || cfg_listener_can_login(cfg, l))
            continue;
        why[0] = '\0';
        if (l->tls == IMAPSRV_TLS_IMPLICIT && !cfg_have_cert(cfg)) {
            cfg_lkey(k, sizeof k, l->name,
                     "tls = implicit without tls.cert and tls.key");
            cfg_cat(why, sizeof why, "", k);
        } else {
            cfg_lkey(k, sizeof k, l->name,
                     l->auth_password ? "auth.require_tls = yes without TLS"
                                      : "auth.password = no");
            cfg_cat(why, sizeof why, "", k);
            cfg_lkey(k, sizeof k, l->name,
                     l->auth_client_cert
                         ? "auth.client_cert = yes without implicit TLS, "
                           "tls.cert, tls.key and tls.ca"
                         : "auth.client_cert = no");
            cfg_cat(why, sizeof why, " and ", k);
        }
        snprintf(msg, sizeof msg, "nobody can log in on listener %s (%s)",
                 l->name, why);
        cfg_report(ck, IMAPSRV_LOG_WARNING, msg);
    }
}

static void cfg_rule_redirect(struct cfg_check *ck)
{
    const imapsrv_config *cfg = ck->cfg;
    char msg[CFG_MSG_MAX];
    for (size_t i = 0; i < cfg->listener_count; i++)
        if (cfg->listeners[i].status == IMAPSRV_PORT_ENABLED &&
            cfg->listeners[i].tls == IMAPSRV_TLS_IMPLICIT)
            return;
    for (size_t i = 0; i < cfg->listener_count; i++) {
        if (cfg->listeners[i].status != IMAPSRV_PORT_REDIRECT)
            continue;
        snprintf(msg, sizeof msg,
                 "listener %s redirects clients to TLS, but no implicit-TLS "
                 "listener is enabled: its message sends clients nowhere",
                 cfg->listeners[i].name);
        cfg_report(ck, IMAPSRV_LOG_WARNING, msg);
    }
}

static void (*const cfg_rules[])(struct cfg_check *) = {
    cfg_rule_enabled, cfg_rule_ports,    cfg_rule_tls,
    cfg_rule_login,   cfg_rule_redirect,
};

imapsrv_status imapsrv_config_check(imapsrv_config *cfg)
{
    struct cfg_check ck = {cfg, IMAPSRV_OK, false};
    if (!cfg)
        return IMAPSRV_E_INVALID;
    cfg_problems_clear(cfg);
    for (size_t i = 0; i < sizeof cfg_rules / sizeof cfg_rules[0]; i++)
        cfg_rules[i](&ck);
    if (ck.st != IMAPSRV_OK)
        return ck.st;
    return ck.error ? IMAPSRV_E_CONFIG : IMAPSRV_OK;
}

size_t imapsrv_config_problem_count(const imapsrv_config *cfg)
{
    return cfg ? cfg->problem_count : 0;
}

const char *imapsrv_config_problem(const imapsrv_config *cfg, size_t i,
                                   imapsrv_log_level *level_r)
{
    if (!cfg || i >= cfg->problem_count)
        return NULL;
    if (level_r)
        *level_r = cfg->problems[i].level;
    return cfg->problems[i].msg;
}
