/* Check suite for the configuration module (libimapsrv/core/config.c):
 * every key, its default, its valid forms and boundaries, malformed values
 * and their messages, the get/set round trip, the typed API against the
 * keys, clone independence and every whole-config rule.
 *
 * The expected key list and defaults are written out here on purpose
 * rather than taken from the module's table, so that a key added, dropped
 * or changed there shows up as a failure here. */
#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "imapsrv.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define GREETING "IMAP4rev1 server ready"
#define REDIRECT_TEXT                                                          \
    "IMAP server configured for TLS connections only. Please reconnect "       \
    "using the TLS port "

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static imapsrv_config *new_cfg(void)
{
    imapsrv_config *c = NULL;
    ck_assert_int_eq(imapsrv_config_new(&c), IMAPSRV_OK);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The value of a key; asserts that the key exists. */
static const char *get(const imapsrv_config *c, const char *key)
{
    static char buf[8192];
    imapsrv_status st = imapsrv_config_get(c, key, buf, sizeof buf);
    ck_assert_msg(st == IMAPSRV_OK, "get %s: status %d", key, (int)st);
    return buf;
}

/* get() copied out, for comparing two values. */
static void get_into(const imapsrv_config *c, const char *key, char *out,
                     size_t len)
{
    const char *v = get(c, key);
    size_t n = strlen(v);
    ck_assert_uint_lt(n, len);
    memcpy(out, v, n + 1);
}

static void set_ok(imapsrv_config *c, const char *key, const char *value)
{
    imapsrv_status st = imapsrv_config_set(c, key, value);
    ck_assert_msg(st == IMAPSRV_OK, "set %s=%s: status %d: %s", key, value,
                  (int)st, imapsrv_config_last_error(c));
    ck_assert_str_eq(imapsrv_config_last_error(c), "");
}

static void set_tls_files(imapsrv_config *c, bool cert, bool key, bool ca)
{
    set_ok(c, "tls.cert", cert ? "/etc/imapsrv/cert.pem" : "");
    set_ok(c, "tls.key", key ? "/etc/imapsrv/key.pem" : "");
    set_ok(c, "tls.ca", ca ? "/etc/imapsrv/ca.pem" : "");
}

/* The spec's rendering of a bad value inside a message. */
static void show(const char *v, char *out)
{
    size_t i, n = 0;
    for (i = 0; v[i] && i < 60; i++)
        out[n++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
    out[n] = '\0';
    if (v[i])
        strcat(out, "...");
}

static size_t count_level(const imapsrv_config *c, imapsrv_log_level want)
{
    size_t n = 0;
    for (size_t i = 0; i < imapsrv_config_problem_count(c); i++) {
        imapsrv_log_level lv = (imapsrv_log_level)-1;
        ck_assert_ptr_nonnull(imapsrv_config_problem(c, i, &lv));
        if (lv == want)
            n++;
    }
    return n;
}

/* The first problem of that level holding every given substring. */
static const char *find_problem(const imapsrv_config *c, imapsrv_log_level want,
                                const char *a, const char *b, const char *d)
{
    for (size_t i = 0; i < imapsrv_config_problem_count(c); i++) {
        imapsrv_log_level lv;
        const char *m = imapsrv_config_problem(c, i, &lv);
        if (lv == want && (!a || strstr(m, a)) && (!b || strstr(m, b)) &&
            (!d || strstr(m, d)))
            return m;
    }
    return NULL;
}

static void dump_problems(const imapsrv_config *c)
{
    for (size_t i = 0; i < imapsrv_config_problem_count(c); i++) {
        imapsrv_log_level lv;
        const char *m = imapsrv_config_problem(c, i, &lv);
        fprintf(stderr, "  problem %zu (%s): %s\n", i,
                lv == IMAPSRV_LOG_ERROR ? "error" : "warning", m);
    }
}

static void expect_check(imapsrv_config *c, imapsrv_status want, size_t errors,
                         size_t warnings)
{
    imapsrv_status st = imapsrv_config_check(c);
    if (st != want || count_level(c, IMAPSRV_LOG_ERROR) != errors ||
        count_level(c, IMAPSRV_LOG_WARNING) != warnings)
        dump_problems(c);
    ck_assert_int_eq(st, want);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), errors);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_WARNING), warnings);
    ck_assert_uint_eq(imapsrv_config_problem_count(c), errors + warnings);
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------ */
/* The key set and its defaults                                             */

static const char *const listener_keys[] = {
    "port",           "status",           "tls",
    "address",        "greeting",         "redirect_message",
    "auth.password",  "auth.client_cert", "auth.require_tls",
    "enforce_access",
};

static const char *const global_keys[] = {
    "limits.max_sessions",
    "limits.max_sessions_per_ip",
    "limits.session_timeout",
    "limits.login_timeout",
    "limits.auth_fail_delay",
    "limits.max_line",
    "limits.max_literal",
    "limits.max_append",
    "limits.max_bad_commands",
    "limits.max_nesting",
    "tls.cert",
    "tls.key",
    "tls.key_password",
    "tls.ca",
    "tls.crl",
    "tls.priority",
    "tls.client_cert_user",
    "access.allow",
    "access.deny",
    "sites.enabled",
};

static const struct {
    const char *key, *value;
} defaults[] = {
    {"imap.port", "143"},
    {"imap.status", "enabled"},
    {"imap.tls", "starttls"},
    {"imap.address", ""},
    {"imap.greeting", GREETING},
    {"imap.redirect_message", ""},
    {"imap.auth.password", "yes"},
    {"imap.auth.client_cert", "no"},
    {"imap.auth.require_tls", "no"},
    {"imap.enforce_access", "no"},
    {"imaps.port", "993"},
    {"imaps.status", "disabled"},
    {"imaps.tls", "implicit"},
    {"imaps.address", ""},
    {"imaps.greeting", GREETING},
    {"imaps.redirect_message", ""},
    {"imaps.auth.password", "no"},
    {"imaps.auth.client_cert", "no"},
    {"imaps.auth.require_tls", "no"},
    {"imaps.enforce_access", "no"},
    {"limits.max_sessions", "0"},
    {"limits.max_sessions_per_ip", "0"},
    {"limits.session_timeout", "30m"},
    {"limits.login_timeout", "1m"},
    {"limits.auth_fail_delay", "2s"},
    {"limits.max_line", "64k"},
    {"limits.max_literal", "64k"},
    {"limits.max_append", "64m"},
    {"limits.max_bad_commands", "3"},
    {"limits.max_nesting", "100"},
    {"tls.cert", ""},
    {"tls.key", ""},
    {"tls.key_password", ""},
    {"tls.ca", ""},
    {"tls.crl", ""},
    {"tls.priority", ""},
    {"tls.client_cert_user", "email_or_cn"},
    {"access.allow", ""},
    {"access.deny", ""},
    {"sites.enabled", "no"},
};

START_TEST(test_key_table_matches)
{
    size_t nl = 0, ng = 0;
    bool per;
    const char *name;
    for (size_t i = 0; (name = cfg_key_name(i, &per)); i++) {
        const char *const *list = per ? listener_keys : global_keys;
        size_t n = per ? NELEM(listener_keys) : NELEM(global_keys), j;
        for (j = 0; j < n && strcmp(list[j], name) != 0; j++)
            ;
        ck_assert_msg(j < n, "key %s (per listener %d) not expected", name,
                      per);
        per ? nl++ : ng++;
    }
    ck_assert_uint_eq(nl, NELEM(listener_keys));
    ck_assert_uint_eq(ng, NELEM(global_keys));
    ck_assert_ptr_null(cfg_key_name(nl + ng, &per));
    ck_assert_ptr_nonnull(cfg_key_name(0, NULL));
}
END_TEST

START_TEST(test_defaults)
{
    imapsrv_config *c = new_cfg();
    for (size_t i = 0; i < NELEM(defaults); i++)
        ck_assert_msg(strcmp(get(c, defaults[i].key), defaults[i].value) == 0,
                      "%s: got '%s', want '%s'", defaults[i].key,
                      get(c, defaults[i].key), defaults[i].value);
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
    ck_assert_str_eq(imapsrv_config_listener_name(c, 0), "imap");
    ck_assert_str_eq(imapsrv_config_listener_name(c, 1), "imaps");
    ck_assert_ptr_null(imapsrv_config_listener_name(c, 2));
    ck_assert_str_eq(imapsrv_config_last_error(c), "");
    /* The defaults keep every rule, without even a warning. */
    expect_check(c, IMAPSRV_OK, 0, 0);
    imapsrv_config_destroy(&c);
    ck_assert_ptr_null(c);
}
END_TEST

/* Every key is covered by the defaults table (imap, imaps, globals). */
START_TEST(test_defaults_cover_every_key)
{
    char key[64];
    const char *prefixes[] = {"imap.", "imaps."};
    for (size_t p = 0; p < NELEM(prefixes); p++)
        for (size_t i = 0; i < NELEM(listener_keys); i++) {
            size_t j;
            snprintf(key, sizeof key, "%s%s", prefixes[p], listener_keys[i]);
            for (j = 0; j < NELEM(defaults); j++)
                if (strcmp(defaults[j].key, key) == 0)
                    break;
            ck_assert_msg(j < NELEM(defaults), "no default for %s", key);
        }
    for (size_t i = 0; i < NELEM(global_keys); i++) {
        size_t j;
        for (j = 0; j < NELEM(defaults); j++)
            if (strcmp(defaults[j].key, global_keys[i]) == 0)
                break;
        ck_assert_msg(j < NELEM(defaults), "no default for %s", global_keys[i]);
    }
}
END_TEST

/* A new listener takes the "imap" defaults, status enabled. */
START_TEST(test_new_listener_defaults)
{
    imapsrv_config *c = new_cfg();
    char key[64];
    set_ok(c, "listener.extra.enforce_access", "no");
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 3);
    ck_assert_str_eq(imapsrv_config_listener_name(c, 2), "extra");
    for (size_t i = 0; i < NELEM(listener_keys); i++) {
        char want[256];
        snprintf(key, sizeof key, "imap.%s", listener_keys[i]);
        get_into(c, key, want, sizeof want);
        snprintf(key, sizeof key, "listener.extra.%s", listener_keys[i]);
        ck_assert_str_eq(get(c, key), want);
    }
    ck_assert_str_eq(get(c, "listener.extra.status"), "enabled");
    /* An imaps-style listener under another name still gets imap defaults */
    set_ok(c, "listener.secure.tls", "implicit");
    ck_assert_str_eq(get(c, "listener.secure.port"), "143");
    ck_assert_str_eq(get(c, "listener.secure.auth.password"), "yes");
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Valid values: "@x" is a listener key, tried as imap.x, imaps.x and      */
/* listener.t.x (which the first set creates).                             */

static const struct {
    const char *key, *in, *out;
} valid[] = {
    {"@port", "1", "1"},
    {"@port", "2", "2"},
    {"@port", "143", "143"},
    {"@port", "993", "993"},
    {"@port", "8080", "8080"},
    {"@port", "65534", "65534"},
    {"@port", "65535", "65535"},
    {"@port", "0143", "143"},
    {"@status", "enabled", "enabled"},
    {"@status", "disabled", "disabled"},
    {"@status", "redirect", "redirect"},
    {"@status", "ENABLED", "enabled"},
    {"@status", "Disabled", "disabled"},
    {"@status", "REDIRECT", "redirect"},
    {"@tls", "starttls", "starttls"},
    {"@tls", "implicit", "implicit"},
    {"@tls", "none", "none"},
    {"@tls", "STARTTLS", "starttls"},
    {"@tls", "Implicit", "implicit"},
    {"@tls", "NONE", "none"},
    {"@address", "", ""},
    {"@address", "*", ""},
    {"@address", "127.0.0.1", "127.0.0.1"},
    {"@address", "::1", "::1"},
    {"@address", "0.0.0.0", "0.0.0.0"},
    {"@address", "::", "::"},
    {"@address", "fe80::1", "fe80::1"},
    {"@address", "::ffff:192.0.2.1", "::ffff:192.0.2.1"},
    {"@address", "127.0.0.1 ::1", "127.0.0.1 ::1"},
    {"@address", "127.0.0.1,::1", "127.0.0.1 ::1"},
    {"@address", "127.0.0.1, ::1", "127.0.0.1 ::1"},
    {"@address", " 127.0.0.1 ", "127.0.0.1"},
    {"@address", "10.0.0.1\t10.0.0.2", "10.0.0.1 10.0.0.2"},
    {"@address", "2001:db8::1,192.0.2.1,,10.1.1.1",
     "2001:db8::1 192.0.2.1 10.1.1.1"},
    {"@address", "255.255.255.255", "255.255.255.255"},
    {"@address", "iface:eth0", "iface:eth0"},
    {"@address", "iface:eth0.100", "iface:eth0.100"},
    {"@address", "iface:br-lan", "iface:br-lan"},
    {"@address", "iface:eth0:1", "iface:eth0:1"},
    {"@address", "iface:abcdefghijklmno", "iface:abcdefghijklmno"},
    {"@address", " iface:lo ", "iface:lo"},
    {"@greeting", "Hello", "Hello"},
    {"@greeting", "", GREETING},
    {"@greeting", "tab\there", "tab\there"},
    {"@greeting",
     "Gr\xc3\xbc\xc3\x9f"
     "e",
     "Gr\xc3\xbc\xc3\x9f"
     "e"},
    {"@greeting", " spaced ", " spaced "},
    {"@greeting", "100% ready %s%n", "100% ready %s%n"},
    {"@redirect_message", "Use port 993", "Use port 993"},
    {"@redirect_message", "", ""},
    {"@redirect_message", "%s%s%n", "%s%s%n"},
    {"limits.max_sessions", "0", "0"},
    {"limits.max_sessions", "1", "1"},
    {"limits.max_sessions", "00", "0"},
    {"limits.max_sessions", "999999", "999999"},
    {"limits.max_sessions", "1000000", "1000000"},
    {"limits.max_sessions_per_ip", "0", "0"},
    {"limits.max_sessions_per_ip", "1", "1"},
    {"limits.max_sessions_per_ip", "999999", "999999"},
    {"limits.max_sessions_per_ip", "1000000", "1000000"},
    {"limits.session_timeout", "60", "1m"},
    {"limits.session_timeout", "60s", "1m"},
    {"limits.session_timeout", "1m", "1m"},
    {"limits.session_timeout", "60000ms", "1m"},
    {"limits.session_timeout", "61s", "61s"},
    {"limits.session_timeout", "60001ms", "60001ms"},
    {"limits.session_timeout", "30m", "30m"},
    {"limits.session_timeout", "1800", "30m"},
    {"limits.session_timeout", "90m", "90m"},
    {"limits.session_timeout", "120m", "2h"},
    {"limits.session_timeout", "23h", "23h"},
    {"limits.session_timeout", "86399s", "86399s"},
    {"limits.session_timeout", "24h", "24h"},
    {"limits.session_timeout", "1440m", "24h"},
    {"limits.session_timeout", "86400", "24h"},
    {"limits.session_timeout", "86400000ms", "24h"},
    {"limits.session_timeout", "1H", "1h"},
    {"limits.session_timeout", "90S", "90s"},
    {"limits.session_timeout", "2M", "2m"},
    {"limits.session_timeout", "60500MS", "60500ms"},
    {"limits.login_timeout", "1", "1s"},
    {"limits.login_timeout", "1s", "1s"},
    {"limits.login_timeout", "1000ms", "1s"},
    {"limits.login_timeout", "1001ms", "1001ms"},
    {"limits.login_timeout", "60", "1m"},
    {"limits.login_timeout", "59m", "59m"},
    {"limits.login_timeout", "3599999ms", "3599999ms"},
    {"limits.login_timeout", "3600", "1h"},
    {"limits.login_timeout", "3600s", "1h"},
    {"limits.login_timeout", "60m", "1h"},
    {"limits.login_timeout", "1h", "1h"},
    {"limits.auth_fail_delay", "0", "0s"},
    {"limits.auth_fail_delay", "0s", "0s"},
    {"limits.auth_fail_delay", "0ms", "0s"},
    {"limits.auth_fail_delay", "0h", "0s"},
    {"limits.auth_fail_delay", "1ms", "1ms"},
    {"limits.auth_fail_delay", "1500ms", "1500ms"},
    {"limits.auth_fail_delay", "2s", "2s"},
    {"limits.auth_fail_delay", "59999ms", "59999ms"},
    {"limits.auth_fail_delay", "60", "1m"},
    {"limits.auth_fail_delay", "60000ms", "1m"},
    {"limits.auth_fail_delay", "1m", "1m"},
    {"limits.max_line", "1k", "1k"},
    {"limits.max_line", "1024", "1k"},
    {"limits.max_line", "1K", "1k"},
    {"limits.max_line", "1025", "1025"},
    {"limits.max_line", "1536", "1536"},
    {"limits.max_line", "2048", "2k"},
    {"limits.max_line", "64k", "64k"},
    {"limits.max_line", "65536", "64k"},
    {"limits.max_line", "16777215", "16777215"},
    {"limits.max_line", "16m", "16m"},
    {"limits.max_line", "16M", "16m"},
    {"limits.max_line", "16384k", "16m"},
    {"limits.max_line", "16777216", "16m"},
    {"limits.max_literal", "1k", "1k"},
    {"limits.max_literal", "1023m", "1023m"},
    {"limits.max_literal", "1073741823", "1073741823"},
    {"limits.max_literal", "1g", "1g"},
    {"limits.max_literal", "1G", "1g"},
    {"limits.max_literal", "1073741824", "1g"},
    {"limits.max_literal", "1048576k", "1g"},
    {"limits.max_literal", "1024m", "1g"},
    {"limits.max_append", "1k", "1k"},
    {"limits.max_append", "1024", "1k"},
    {"limits.max_append", "64m", "64m"},
    {"limits.max_append", "3g", "3g"},
    {"limits.max_append", "4294967295", "4294967295"},
    {"limits.max_append", "4g", "4g"},
    {"limits.max_append", "4096m", "4g"},
    {"limits.max_append", "4294967296", "4g"},
    {"limits.max_bad_commands", "1", "1"},
    {"limits.max_bad_commands", "2", "2"},
    {"limits.max_bad_commands", "3", "3"},
    {"limits.max_bad_commands", "999", "999"},
    {"limits.max_bad_commands", "1000", "1000"},
    {"limits.max_nesting", "2", "2"},
    {"limits.max_nesting", "1000", "1000"},
    {"tls.cert", "/etc/ssl/server.pem", "/etc/ssl/server.pem"},
    {"tls.cert", "relative.pem", "relative.pem"},
    {"tls.cert", "with space.pem", "with space.pem"},
    {"tls.cert", "/p\xc3\xa4th.pem", "/p\xc3\xa4th.pem"},
    {"tls.cert", "", ""},
    {"tls.key", "/etc/ssl/key.pem", "/etc/ssl/key.pem"},
    {"tls.key", "", ""},
    {"tls.key_password", "secret", "secret"},
    {"tls.key_password", "p@ss w0rd, with; punctuation",
     "p@ss w0rd, with; punctuation"},
    {"tls.key_password", "", ""},
    {"tls.ca", "/etc/ssl/ca.pem", "/etc/ssl/ca.pem"},
    {"tls.ca", "", ""},
    {"tls.crl", "/etc/ssl/crl.pem", "/etc/ssl/crl.pem"},
    {"tls.crl", "", ""},
    {"tls.priority", "NORMAL", "NORMAL"},
    {"tls.priority", "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3",
     "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3"},
    {"tls.priority", "", ""},
    {"tls.client_cert_user", "email", "email"},
    {"tls.client_cert_user", "CN", "cn"},
    {"tls.client_cert_user", "Email_Or_CN", "email_or_cn"},
    {"access.allow", "alice", "alice"},
    {"access.allow", "alice bob", "alice bob"},
    {"access.allow", "alice,bob", "alice bob"},
    {"access.allow", "alice, bob", "alice bob"},
    {"access.allow", " alice ", "alice"},
    {"access.allow", "*@example.com", "*@example.com"},
    {"access.allow", "@staff", "@staff"},
    {"access.allow", "*", "*"},
    {"access.allow", "alice@example.com @admins *@example.org",
     "alice@example.com @admins *@example.org"},
    {"access.allow", "\xc3\xbcser", "\xc3\xbcser"},
    {"access.allow", "", ""},
    {"access.allow", "   ", ""},
    {"access.allow", ",,", ""},
    {"access.deny", "mallory", "mallory"},
    {"access.deny", "*@spam.example, @guests", "*@spam.example @guests"},
    {"access.deny", "", ""},
};

/* Loop tests run once per global key and three times per listener key;
 * these map a loop index onto (row, variant). */
static size_t variants(const char *key)
{
    return key[0] == '@' ? 3 : 1;
}

static size_t count_runs(const char *(*key_at)(size_t), size_t nrows)
{
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++)
        n += variants(key_at(r));
    return n;
}

static void locate(const char *(*key_at)(size_t), size_t nrows, int i,
                   size_t *row_r, int *variant_r)
{
    size_t left = (size_t)i;
    for (size_t r = 0; r < nrows; r++) {
        if (left < variants(key_at(r))) {
            *row_r = r;
            *variant_r = (int)left;
            return;
        }
        left -= variants(key_at(r));
    }
    ck_abort_msg("loop index %d out of range", i);
}

static const char *valid_key(size_t r)
{
    return valid[r].key;
}

static void expand_key(const char *key, int variant, char *out, size_t len)
{
    static const char *const prefix[] = {"imap.", "imaps.", "listener.t."};
    if (key[0] == '@')
        snprintf(out, len, "%s%s", prefix[variant], key + 1);
    else
        snprintf(out, len, "%s", key);
}

START_TEST(test_valid_values)
{
    size_t row;
    int variant;
    char key[96];
    imapsrv_config *c = new_cfg();
    locate(valid_key, NELEM(valid), _i, &row, &variant);
    expand_key(valid[row].key, variant, key, sizeof key);
    set_ok(c, key, valid[row].in);
    ck_assert_msg(strcmp(get(c, key), valid[row].out) == 0,
                  "%s=%s: got '%s', want '%s'", key, valid[row].in, get(c, key),
                  valid[row].out);
    /* What get() says, set() takes back unchanged. */
    set_ok(c, key, valid[row].out);
    ck_assert_str_eq(get(c, key), valid[row].out);
    if (variant == 2)
        ck_assert_uint_eq(imapsrv_config_listener_count(c), 3);
    imapsrv_config_destroy(&c);
}
END_TEST

/* Booleans, the same way for every boolean key. */
static const char *const bool_keys[] = {
    "@auth.password",  "@auth.client_cert", "@auth.require_tls",
    "@enforce_access", "sites.enabled",
};
static const struct {
    const char *in, *out;
} bool_words[] = {
    {"yes", "yes"}, {"no", "no"},  {"true", "yes"}, {"false", "no"},
    {"on", "yes"},  {"off", "no"}, {"1", "yes"},    {"0", "no"},
    {"YES", "yes"}, {"No", "no"},  {"TRUE", "yes"}, {"False", "no"},
    {"ON", "yes"},  {"oFF", "no"},
};

static const char *bool_key(size_t r)
{
    return bool_keys[r / NELEM(bool_words)];
}

START_TEST(test_bool_values)
{
    size_t row, k, w;
    int variant;
    const char *want;
    char key[96];
    imapsrv_config *c = new_cfg();
    locate(bool_key, NELEM(bool_keys) * NELEM(bool_words), _i, &row, &variant);
    k = row / NELEM(bool_words);
    w = row % NELEM(bool_words);
    want = bool_words[w].out;
    expand_key(bool_keys[k], variant, key, sizeof key);
    /* Start from the opposite value so that the set must change it. */
    set_ok(c, key, strcmp(want, "yes") == 0 ? "no" : "yes");
    set_ok(c, key, bool_words[w].in);
    ck_assert_str_eq(get(c, key), want);
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Refused values                                                           */

static const struct {
    const char *key, *in;
} invalid[] = {
    {"@port", "0"},
    {"@port", "-1"},
    {"@port", "-0"},
    {"@port", "65536"},
    {"@port", "70000"},
    {"@port", "abc"},
    {"@port", "143x"},
    {"@port", "x143"},
    {"@port", ""},
    {"@port", " 143"},
    {"@port", "143 "},
    {"@port", "14 3"},
    {"@port", "+143"},
    {"@port", "1e3"},
    {"@port", "0x8f"},
    {"@port", "1.0"},
    {"@port", "1k"},
    {"@port", "143\n"},
    {"@port", "99999999999999999999"},
    {"@port", "18446744073709551616"},
    {"@port", "4294967439"}, /* 2^32 + 143: must not wrap to 143 */
    {"@status", ""},
    {"@status", "enable"},
    {"@status", "yes"},
    {"@status", "on"},
    {"@status", "1"},
    {"@status", " enabled"},
    {"@status", "enabled "},
    {"@status", "redirected"},
    {"@status", "dis abled"},
    {"@tls", ""},
    {"@tls", "ssl"},
    {"@tls", "tls"},
    {"@tls", "yes"},
    {"@tls", "starttls "},
    {"@tls", "implicit,none"},
    {"@address", "localhost"},
    {"@address", "1.2.3"},
    {"@address", "256.1.1.1"},
    {"@address", "1.2.3.4.5"},
    {"@address", "::1::"},
    {"@address", "[::1]"},
    {"@address", "127.0.0.1:143"},
    {"@address", "1.2.3.4/24"},
    {"@address", "fe80::1%eth0"},
    {"@address", "127.0.0.1 127.0.0.1"},
    {"@address", "::1 0:0:0:0:0:0:0:1"},
    {"@address", "127.0.0.1 *"},
    {"@address", "* 127.0.0.1"},
    {"@address", "**"},
    {"@address", "iface:"},
    {"@address", "iface:eth0 127.0.0.1"},
    {"@address", "127.0.0.1 iface:eth0"},
    {"@address", "iface:eth0,iface:eth1"},
    {"@address", "iface:abcdefghijklmnop"},
    {"@address", "iface:eth/0"},
    {"@address", "IFACE:eth0"},
    {"@address", " "},
    {"@address", ","},
    {"@address", "127.0.0.1\n"},
    {"@greeting", "a\r\nb"},
    {"@greeting", "a\n"},
    {"@greeting", "a\rb"},
    {"@greeting", "\x1b[31mred"},
    {"@greeting", "bell\a"},
    {"@greeting", "del\x7f"},
    {"@redirect_message", "go\r\n* OK forged"},
    {"@redirect_message", "a\n"},
    {"@redirect_message", "\x01"},
    {"@auth.password", ""},
    {"@auth.password", "y"},
    {"@auth.password", "n"},
    {"@auth.password", "2"},
    {"@auth.password", "-1"},
    {"@auth.password", " yes"},
    {"@auth.password", "yes "},
    {"@auth.password", "enabled"},
    {"@auth.password", "10"},
    {"@auth.password", "01"},
    {"@auth.password", "yess"},
    {"@auth.client_cert", "maybe"},
    {"@auth.client_cert", ""},
    {"@auth.require_tls", "t"},
    {"@auth.require_tls", ""},
    {"@enforce_access", "nope"},
    {"@enforce_access", ""},
    {"sites.enabled", ""},
    {"sites.enabled", "enabled"},
    {"limits.max_sessions", "-1"},
    {"limits.max_sessions", "1000001"},
    {"limits.max_sessions", ""},
    {"limits.max_sessions", " 1"},
    {"limits.max_sessions", "1 "},
    {"limits.max_sessions", "1k"},
    {"limits.max_sessions", "+1"},
    {"limits.max_sessions", "abc"},
    {"limits.max_sessions", "1.0"},
    {"limits.max_sessions", "0x10"},
    {"limits.max_sessions", "4294967296"},
    {"limits.max_sessions", "99999999999999999999"},
    {"limits.max_sessions_per_ip", "-1"},
    {"limits.max_sessions_per_ip", "1000001"},
    {"limits.max_sessions_per_ip", ""},
    {"limits.max_sessions_per_ip", "5s"},
    {"limits.max_bad_commands", "0"},
    {"limits.max_bad_commands", "1001"},
    {"limits.max_nesting", "1"},
    {"limits.max_nesting", "1001"},
    {"limits.max_bad_commands", "-3"},
    {"limits.max_bad_commands", ""},
    {"limits.max_bad_commands", "3s"},
    {"limits.max_bad_commands", "4294967299"},
    {"limits.session_timeout", "59"},
    {"limits.session_timeout", "59s"},
    {"limits.session_timeout", "59999ms"},
    {"limits.session_timeout", "0"},
    {"limits.session_timeout", "86401"},
    {"limits.session_timeout", "86401s"},
    {"limits.session_timeout", "86400001ms"},
    {"limits.session_timeout", "1441m"},
    {"limits.session_timeout", "25h"},
    {"limits.session_timeout", "24h1"},
    {"limits.session_timeout", "1d"},
    {"limits.session_timeout", ""},
    {"limits.session_timeout", "-1m"},
    {"limits.session_timeout", "+1m"},
    {"limits.session_timeout", "1.5m"},
    {"limits.session_timeout", "m"},
    {"limits.session_timeout", "1 m"},
    {"limits.session_timeout", " 1m"},
    {"limits.session_timeout", "1m "},
    {"limits.session_timeout", "1mm"},
    {"limits.session_timeout", "1ms5"},
    {"limits.session_timeout", "1sec"},
    {"limits.session_timeout", "1min"},
    {"limits.session_timeout", "1h30m"},
    {"limits.session_timeout", "99999999999999999999"},
    {"limits.session_timeout", "9999999999999h"},
    {"limits.session_timeout", "5124095576030432h"},
    {"limits.session_timeout", "4294968s"},
    {"limits.login_timeout", "0"},
    {"limits.login_timeout", "0s"},
    {"limits.login_timeout", "999ms"},
    {"limits.login_timeout", "3601"},
    {"limits.login_timeout", "3600001ms"},
    {"limits.login_timeout", "61m"},
    {"limits.login_timeout", "2h"},
    {"limits.login_timeout", "-1"},
    {"limits.auth_fail_delay", "61"},
    {"limits.auth_fail_delay", "60001ms"},
    {"limits.auth_fail_delay", "2m"},
    {"limits.auth_fail_delay", "1h"},
    {"limits.auth_fail_delay", "-1"},
    {"limits.auth_fail_delay", "1.5s"},
    {"limits.auth_fail_delay", "s"},
    {"limits.auth_fail_delay", ""},
    {"limits.max_line", "1023"},
    {"limits.max_line", "0"},
    {"limits.max_line", "0k"},
    {"limits.max_line", "16777217"},
    {"limits.max_line", "16385k"},
    {"limits.max_line", "17m"},
    {"limits.max_line", "1g"},
    {"limits.max_line", "1kb"},
    {"limits.max_line", "1KiB"},
    {"limits.max_line", "1 k"},
    {"limits.max_line", "-1k"},
    {"limits.max_line", "+1k"},
    {"limits.max_line", "1t"},
    {"limits.max_line", "1.5k"},
    {"limits.max_line", "0x400"},
    {"limits.max_line", "k"},
    {"limits.max_line", ""},
    {"limits.max_line", "99999999999999999999"},
    {"limits.max_line", "99999999999g"},
    {"limits.max_line", "17179869184g"},
    {"limits.max_literal", "1023"},
    {"limits.max_literal", "1073741825"},
    {"limits.max_literal", "1025m"},
    {"limits.max_literal", "2g"},
    {"limits.max_literal", "1ms"},
    {"limits.max_append", "1023"},
    {"limits.max_append", "4294967297"},
    {"limits.max_append", "4097m"},
    {"limits.max_append", "5g"},
    {"limits.max_append", "1t"},
    {"limits.max_append", "18446744073709551615"},
    {"tls.cert", "a\nb"},
    {"tls.cert", "tab\tpath"},
    {"tls.cert", "\x7f"},
    {"tls.key", "key\r"},
    {"tls.ca", "\x1b"},
    {"tls.crl", "crl\n"},
    {"tls.priority", "NORMAL\n"},
    {"tls.client_cert_user", "subject"},
    {"tls.client_cert_user", ""},
    {"tls.client_cert_user", "email cn"},
    {"access.allow", "@"},
    {"access.allow", "alice @"},
    {"access.allow", "a\nb"},
    {"access.deny", "x\x01y"},
    {"access.deny", "@ @staff"},
};

static const char *invalid_key(size_t r)
{
    return invalid[r].key;
}

START_TEST(test_invalid_values)
{
    size_t row;
    int variant;
    char key[96], before[512], want[256], shown[128];
    imapsrv_config *c = new_cfg();
    imapsrv_status st;
    const char *err;
    locate(invalid_key, NELEM(invalid), _i, &row, &variant);
    expand_key(invalid[row].key, variant, key, sizeof key);
    if (variant < 2)
        get_into(c, key, before, sizeof before);
    st = imapsrv_config_set(c, key, invalid[row].in);
    ck_assert_msg(st == IMAPSRV_E_INVALID, "%s='%s' accepted (status %d)", key,
                  invalid[row].in, (int)st);
    err = imapsrv_config_last_error(c);
    show(invalid[row].in, shown);
    snprintf(want, sizeof want, "%s: invalid value '%s' (", key, shown);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "message '%s' does not start with '%s'", err, want);
    ck_assert_msg(err[strlen(err) - 1] == ')', "message '%s'", err);
    ck_assert_msg(strlen(err) > strlen(want) + 5, "message '%s'", err);
    if (variant < 2) {
        ck_assert_str_eq(get(c, key), before); /* unchanged */
    } else {
        /* A refused first value creates no listener. */
        char buf[64];
        ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
        ck_assert_int_eq(imapsrv_config_get(c, key, buf, sizeof buf),
                         IMAPSRV_E_NOKEY);
    }
    imapsrv_config_destroy(&c);
}
END_TEST

/* The messages the brief spells out, word for word. */
START_TEST(test_error_messages_exact)
{
    static const struct {
        const char *key, *in, *msg;
    } rows[] = {
        {"imap.port", "0",
         "imap.port: invalid value '0' (expected a port number 1-65535)"},
        {"imap.port", "70000",
         "imap.port: invalid value '70000' (expected a port number 1-65535)"},
        {"imaps.port", "abc",
         "imaps.port: invalid value 'abc' (expected a port number 1-65535)"},
        {"listener.extra.port", "-1",
         "listener.extra.port: invalid value '-1' (expected a port number "
         "1-65535)"},
        {"listener.imap.port", "0",
         "imap.port: invalid value '0' (expected a port number 1-65535)"},
        {"imap.status", "on",
         "imap.status: invalid value 'on' (expected enabled, disabled or "
         "redirect)"},
        {"imap.tls", "ssl",
         "imap.tls: invalid value 'ssl' (expected starttls, implicit or "
         "none)"},
        {"imap.auth.password", "2",
         "imap.auth.password: invalid value '2' (expected yes or no; also "
         "true/false, on/off, 1/0)"},
        {"limits.session_timeout", "59s",
         "limits.session_timeout: invalid value '59s' (expected a duration "
         "1m-24h; units ms, s, m, h, bare = seconds)"},
        {"limits.login_timeout", "0",
         "limits.login_timeout: invalid value '0' (expected a duration "
         "1s-1h; units ms, s, m, h, bare = seconds)"},
        {"limits.auth_fail_delay", "61",
         "limits.auth_fail_delay: invalid value '61' (expected a duration "
         "0s-1m; units ms, s, m, h, bare = seconds)"},
        {"limits.max_line", "1023",
         "limits.max_line: invalid value '1023' (expected a size 1k-16m; "
         "units k, m, g, bare = bytes)"},
        {"limits.max_literal", "2g",
         "limits.max_literal: invalid value '2g' (expected a size 1k-1g; "
         "units k, m, g, bare = bytes)"},
        {"limits.max_append", "5g",
         "limits.max_append: invalid value '5g' (expected a size 1k-4g; "
         "units k, m, g, bare = bytes)"},
        {"limits.max_sessions", "1000001",
         "limits.max_sessions: invalid value '1000001' (expected a number "
         "0-1000000)"},
        {"limits.max_bad_commands", "0",
         "limits.max_bad_commands: invalid value '0' (expected a number "
         "1-1000)"},
        {"imap.address", "127.0.0.1 127.0.0.1",
         "imap.address: invalid value '127.0.0.1 127.0.0.1' (address "
         "127.0.0.1 is listed twice)"},
        {"imap.address", "::1 localhost",
         "imap.address: invalid value '::1 localhost' ('localhost' is not an "
         "IPv4 or IPv6 address; expected addresses separated by spaces or "
         "commas, iface:NAME or * for all)"},
        {"imap.address", "iface:eth0 ::1",
         "imap.address: invalid value 'iface:eth0 ::1' (iface:NAME must "
         "stand alone)"},
        {"imap.greeting", "a\r\nb",
         "imap.greeting: invalid value 'a??b' (expected one line of at most "
         "200 bytes without CR, LF or other control characters)"},
        {"access.allow", "alice @",
         "access.allow: invalid value 'alice @' ('@' needs a group name, as "
         "in @staff)"},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        imapsrv_config *c = new_cfg();
        ck_assert_int_eq(imapsrv_config_set(c, rows[i].key, rows[i].in),
                         IMAPSRV_E_INVALID);
        ck_assert_str_eq(imapsrv_config_last_error(c), rows[i].msg);
        imapsrv_config_destroy(&c);
    }
}
END_TEST

START_TEST(test_error_value_sanitised)
{
    imapsrv_config *c = new_cfg();
    char *longv = repeat('x', 100), want[256];
    ck_assert_int_eq(imapsrv_config_set(c, "imap.port", "1\x01\xff\x1b"),
                     IMAPSRV_E_INVALID);
    ck_assert_str_eq(imapsrv_config_last_error(c),
                     "imap.port: invalid value '1\?\?\?' (expected a port "
                     "number 1-65535)");
    /* Long values are cut at 60 bytes. */
    ck_assert_int_eq(imapsrv_config_set(c, "imap.port", longv),
                     IMAPSRV_E_INVALID);
    snprintf(want, sizeof want, "imap.port: invalid value '%.60s...' (", longv);
    ck_assert_msg(strncmp(imapsrv_config_last_error(c), want, strlen(want)) ==
                      0,
                  "%s", imapsrv_config_last_error(c));
    ck_assert_ptr_null(strstr(imapsrv_config_last_error(c), longv + 39));
    /* Exactly 60 bytes are shown whole. */
    longv[60] = '\0';
    ck_assert_int_eq(imapsrv_config_set(c, "imap.port", longv),
                     IMAPSRV_E_INVALID);
    snprintf(want, sizeof want, "imap.port: invalid value '%s' (", longv);
    ck_assert_msg(strncmp(imapsrv_config_last_error(c), want, strlen(want)) ==
                      0,
                  "%s", imapsrv_config_last_error(c));
    free(longv);
    imapsrv_config_destroy(&c);
}
END_TEST

/* The key password is refused without being echoed. */
START_TEST(test_secret_not_echoed)
{
    imapsrv_config *c = new_cfg();
    char *pw = repeat('s', 1024);
    memcpy(pw, "TOPSECRET", 9);
    ck_assert_int_eq(imapsrv_config_set(c, "tls.key_password", pw),
                     IMAPSRV_E_INVALID);
    ck_assert_ptr_null(strstr(imapsrv_config_last_error(c), "TOPSECRET"));
    ck_assert_ptr_nonnull(strstr(imapsrv_config_last_error(c),
                                 "tls.key_password: invalid value"));
    ck_assert_ptr_nonnull(
        strstr(imapsrv_config_last_error(c), "at most 1023 bytes"));
    ck_assert_str_eq(get(c, "tls.key_password"), "");
    pw[1023] = '\0';
    set_ok(c, "tls.key_password", pw);
    ck_assert_str_eq(get(c, "tls.key_password"), pw);
    /* Any byte but NUL is part of a password. */
    set_ok(c, "tls.key_password", "tab\tnew\nline");
    ck_assert_str_eq(get(c, "tls.key_password"), "tab\tnew\nline");
    free(pw);
    imapsrv_config_destroy(&c);
}
END_TEST

/* Length limits of the text keys: max accepted, max + 1 refused. */
START_TEST(test_length_limits)
{
    static const struct {
        const char *key;
        size_t max;
    } rows[] = {
        {"imap.greeting", 200},
        {"imaps.redirect_message", 200},
        {"listener.t.greeting", 200},
        {"tls.cert", 4095},
        {"tls.key", 4095},
        {"tls.ca", 4095},
        {"tls.crl", 4095},
        {"tls.priority", 1023},
        {"access.allow", 255},
        {"access.deny", 255},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        imapsrv_config *c = new_cfg();
        char *v = repeat('a', rows[i].max + 1);
        ck_assert_msg(imapsrv_config_set(c, rows[i].key, v) ==
                          IMAPSRV_E_INVALID,
                      "%s accepted %zu bytes", rows[i].key, rows[i].max + 1);
        ck_assert_ptr_nonnull(
            strstr(imapsrv_config_last_error(c), rows[i].key));
        v[rows[i].max] = '\0';
        set_ok(c, rows[i].key, v);
        ck_assert_str_eq(get(c, rows[i].key), v);
        free(v);
        imapsrv_config_destroy(&c);
    }
}
END_TEST

START_TEST(test_address_list_length)
{
    imapsrv_config *c = new_cfg();
    char v[1100] = "";
    /* 73 x "10.0.0.NN " (10 bytes) plus change: stay within 1023. */
    for (int i = 10; i < 112; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s10.0.%d.1", v[0] ? " " : "", i);
        if (strlen(v) + strlen(one) > 1023)
            break;
        strcat(v, one);
    }
    set_ok(c, "imap.address", v);
    ck_assert_str_eq(get(c, "imap.address"), v);
    strcat(v, " 10.1.1.1");
    ck_assert_int_eq(imapsrv_config_set(c, "imap.address", v),
                     IMAPSRV_E_INVALID);
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

START_TEST(test_unknown_keys)
{
    static const char *const keys[] = {
        "foo.bar",
        "imap.foo",
        "imap.",
        "imap",
        "imaps",
        "listener.x",
        "listener.x.",
        "listener.x.foo",
        "limits.foo",
        "limits",
        "tls",
        "imap.auth",
        "IMAP.port",
        "imap.Port",
        "imap.port.x",
        "",
        "limits.max_line.x",
        "port",
        "imap.limits.max_line",
        "listener.x.limits.max_line",
        "listener.a.b.port",
        "listener.x.tls.cert",
        "site.x.hosts",
        "access.allow.x",
        " imap.port",
        "imap.port ",
    };
    imapsrv_config *c = new_cfg();
    char want[128], buf[64];
    for (size_t i = 0; i < NELEM(keys); i++) {
        ck_assert_msg(imapsrv_config_set(c, keys[i], "1") == IMAPSRV_E_NOKEY,
                      "key '%s' not refused as unknown", keys[i]);
        snprintf(want, sizeof want, "unknown key '%s'", keys[i]);
        ck_assert_str_eq(imapsrv_config_last_error(c), want);
        ck_assert_int_eq(imapsrv_config_get(c, keys[i], buf, sizeof buf),
                         IMAPSRV_E_NOKEY);
    }
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
    ck_assert_int_eq(imapsrv_config_set(c, "foo\n.bar", "1"), IMAPSRV_E_NOKEY);
    ck_assert_str_eq(imapsrv_config_last_error(c), "unknown key 'foo?.bar'");
    ck_assert_int_eq(imapsrv_config_set(c, "foo.bar", "1"), IMAPSRV_E_NOKEY);
    ck_assert_str_eq(imapsrv_config_last_error(c), "unknown key 'foo.bar'");
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_listener_names)
{
    static const char *const bad[] = {
        "listener..port",
        "listener.a b.port",
        "listener.a/b.port",
        "listener.\xc3\xbc.port",
        "listener.abcdefghijklmnopqrstuvwxyz0123456.port", /* 32 */
    };
    imapsrv_config *c = new_cfg();
    char buf[64];
    for (size_t i = 0; i < NELEM(bad); i++) {
        ck_assert_int_eq(imapsrv_config_set(c, bad[i], "1143"),
                         IMAPSRV_E_INVALID);
        ck_assert_ptr_nonnull(
            strstr(imapsrv_config_last_error(c), "invalid listener name"));
        ck_assert_int_eq(imapsrv_config_get(c, bad[i], buf, sizeof buf),
                         IMAPSRV_E_INVALID);
    }
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
    /* 31 characters and the whole alphabet are fine. */
    set_ok(c, "listener.abcdefghijklmnopqrstuvwxyz01234.port", "1");
    set_ok(c, "listener.A-Z_0-9.port", "2");
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 4);
    ck_assert_str_eq(imapsrv_config_listener_name(c, 2),
                     "abcdefghijklmnopqrstuvwxyz01234");
    ck_assert_str_eq(imapsrv_config_listener_name(c, 3), "A-Z_0-9");
    /* Names are case-sensitive. */
    ck_assert_int_eq(
        imapsrv_config_get(c, "listener.a-z_0-9.port", buf, sizeof buf),
        IMAPSRV_E_NOKEY);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_listener_alias)
{
    imapsrv_config *c = new_cfg();
    set_ok(c, "listener.imap.port", "1143");
    ck_assert_str_eq(get(c, "imap.port"), "1143");
    set_ok(c, "imaps.status", "enabled");
    ck_assert_str_eq(get(c, "listener.imaps.status"), "enabled");
    set_ok(c, "listener.imaps.auth.password", "yes");
    ck_assert_str_eq(get(c, "imaps.auth.password"), "yes");
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_listener_management)
{
    imapsrv_config *c = new_cfg();
    char buf[64];
    set_ok(c, "listener.one.port", "1001");
    set_ok(c, "listener.two.port", "1002");
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 4);
    ck_assert_int_eq(imapsrv_config_remove_listener(c, "one"), IMAPSRV_OK);
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 3);
    ck_assert_str_eq(imapsrv_config_listener_name(c, 2), "two");
    ck_assert_str_eq(get(c, "listener.two.port"), "1002");
    ck_assert_int_eq(
        imapsrv_config_get(c, "listener.one.port", buf, sizeof buf),
        IMAPSRV_E_NOKEY);
    ck_assert_int_eq(imapsrv_config_remove_listener(c, "one"),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_remove_listener(c, NULL),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_remove_listener(NULL, "two"),
                     IMAPSRV_E_INVALID);

    /* A built-in listener can go, and comes back with its own defaults. */
    ck_assert_int_eq(imapsrv_config_remove_listener(c, "imaps"), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_get(c, "imaps.port", buf, sizeof buf),
                     IMAPSRV_E_NOKEY);
    set_ok(c, "imaps.greeting", "hi");
    ck_assert_str_eq(get(c, "imaps.port"), "993");
    ck_assert_str_eq(get(c, "imaps.status"), "disabled");
    ck_assert_str_eq(get(c, "imaps.tls"), "implicit");
    ck_assert_str_eq(get(c, "imaps.auth.password"), "no");
    ck_assert_int_eq(imapsrv_config_remove_listener(c, "imap"), IMAPSRV_OK);
    set_ok(c, "listener.imap.tls", "none");
    ck_assert_str_eq(get(c, "imap.port"), "143");
    ck_assert_str_eq(get(c, "imap.auth.password"), "yes");
    ck_assert_str_eq(get(c, "imap.status"), "enabled");
    ck_assert_str_eq(imapsrv_config_listener_name(c, 2), "imap");

    while (imapsrv_config_listener_count(c))
        ck_assert_int_eq(imapsrv_config_remove_listener(
                             c, imapsrv_config_listener_name(c, 0)),
                         IMAPSRV_OK);
    ck_assert_ptr_null(imapsrv_config_listener_name(c, 0));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_null_arguments)
{
    imapsrv_config *c = new_cfg(), *none = NULL;
    char buf[64];
    imapsrv_limits lim;
    imapsrv_listener_policy p;

    ck_assert_int_eq(imapsrv_config_new(NULL), IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_set(NULL, "imap.port", "1"),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_set(c, NULL, "1"), IMAPSRV_E_INVALID);
    ck_assert_str_eq(imapsrv_config_last_error(c), "missing key");
    ck_assert_int_eq(imapsrv_config_set(c, "imap.port", NULL),
                     IMAPSRV_E_INVALID);
    ck_assert_str_eq(imapsrv_config_last_error(c), "imap.port: missing value");
    ck_assert_str_eq(get(c, "imap.port"), "143");
    ck_assert_int_eq(imapsrv_config_set(c, "listener.new.port", NULL),
                     IMAPSRV_E_INVALID);
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 2);
    ck_assert_str_eq(imapsrv_config_last_error(NULL), "");

    ck_assert_int_eq(imapsrv_config_get(NULL, "imap.port", buf, sizeof buf),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, NULL, buf, sizeof buf),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "imap.port", NULL, 10),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "imap.port", buf, 0),
                     IMAPSRV_E_INVALID);

    ck_assert_int_eq(imapsrv_config_check(NULL), IMAPSRV_E_INVALID);
    ck_assert_uint_eq(imapsrv_config_problem_count(NULL), 0);
    ck_assert_ptr_null(imapsrv_config_problem(NULL, 0, NULL));
    ck_assert_ptr_null(imapsrv_config_problem(c, 0, NULL));
    ck_assert_uint_eq(imapsrv_config_listener_count(NULL), 0);
    ck_assert_ptr_null(imapsrv_config_listener_name(NULL, 0));

    ck_assert_int_eq(imapsrv_config_clone(NULL, &none), IMAPSRV_E_INVALID);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(imapsrv_config_clone(c, NULL), IMAPSRV_E_INVALID);

    ck_assert_int_eq(imapsrv_config_set_listener(NULL, NULL),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_set_listener(c, NULL), IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get_listener(c, "imap", NULL),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get_listener(c, NULL, &p),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get_listener(NULL, "imap", &p),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_set_limits(NULL, NULL), IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_set_limits(c, NULL), IMAPSRV_E_INVALID);
    imapsrv_limits_init(NULL);
    imapsrv_listener_policy_init(NULL, "imap");
    imapsrv_config_get_limits(c, NULL);
    imapsrv_config_get_limits(NULL, &lim); /* the defaults */
    ck_assert_uint_eq(lim.session_timeout_ms, 30u * 60 * 1000);

    imapsrv_config_destroy(NULL);
    imapsrv_config_destroy(&none);
    imapsrv_config_destroy(&c);
    ck_assert_ptr_null(c);
    imapsrv_config_destroy(&c); /* twice is harmless */
}
END_TEST

START_TEST(test_get_buffer_size)
{
    imapsrv_config *c = new_cfg();
    char buf[32];
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(imapsrv_config_get(c, "imap.port", buf, 3),
                     IMAPSRV_E_INVALID);
    ck_assert_str_eq(buf, ""); /* never a half value */
    ck_assert_int_eq(imapsrv_config_get(c, "imap.port", buf, 4), IMAPSRV_OK);
    ck_assert_str_eq(buf, "143");
    ck_assert_int_eq(imapsrv_config_get(c, "imap.port", buf, 1),
                     IMAPSRV_E_INVALID);
    /* "" fits in one byte */
    ck_assert_int_eq(imapsrv_config_get(c, "tls.cert", buf, 1), IMAPSRV_OK);
    ck_assert_str_eq(buf, "");
    set_ok(c, "access.allow", "alice bob");
    ck_assert_int_eq(imapsrv_config_get(c, "access.allow", buf, 9),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "access.allow", buf, 10),
                     IMAPSRV_OK);
    ck_assert_str_eq(buf, "alice bob");
    ck_assert_int_eq(imapsrv_config_get(c, "access.allow", buf, 6),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "imap.greeting", buf, 10),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "limits.session_timeout", buf, 3),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "limits.session_timeout", buf, 4),
                     IMAPSRV_OK);
    ck_assert_str_eq(buf, "30m");
    ck_assert_int_eq(imapsrv_config_get(c, "imap.auth.password", buf, 3),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(imapsrv_config_get(c, "imap.status", buf, 7),
                     IMAPSRV_E_INVALID);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_last_error_cleared)
{
    imapsrv_config *c = new_cfg();
    ck_assert_int_eq(imapsrv_config_set(c, "imap.port", "0"),
                     IMAPSRV_E_INVALID);
    ck_assert_str_ne(imapsrv_config_last_error(c), "");
    set_ok(c, "imap.port", "144");
    ck_assert_str_eq(imapsrv_config_last_error(c), "");
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_lists_stored)
{
    imapsrv_config *c = new_cfg();
    ck_assert_ptr_null(c->access_allow);
    set_ok(c, "access.allow", "alice, *@example.com @staff");
    ck_assert_ptr_nonnull(c->access_allow);
    ck_assert_str_eq(c->access_allow[0], "alice");
    ck_assert_str_eq(c->access_allow[1], "*@example.com");
    ck_assert_str_eq(c->access_allow[2], "@staff");
    ck_assert_ptr_null(c->access_allow[3]);
    set_ok(c, "access.deny", "bob");
    ck_assert_str_eq(c->access_deny[0], "bob");
    ck_assert_ptr_null(c->access_deny[1]);
    set_ok(c, "access.allow", "");
    ck_assert_ptr_null(c->access_allow);
    /* A refused list leaves the old one. */
    ck_assert_int_eq(imapsrv_config_set(c, "access.deny", "x @"),
                     IMAPSRV_E_INVALID);
    ck_assert_str_eq(c->access_deny[0], "bob");
    /* Strings: unset is NULL, greeting never is. */
    ck_assert_ptr_null(c->tls_cert);
    ck_assert_ptr_null(c->tls_priority);
    ck_assert_ptr_null(c->listeners[0].address);
    ck_assert_ptr_null(c->listeners[0].redirect_message);
    ck_assert_str_eq(c->listeners[0].greeting, GREETING);
    set_ok(c, "imap.greeting", "");
    ck_assert_str_eq(c->listeners[0].greeting, GREETING);
    set_ok(c, "imap.address", "*");
    ck_assert_ptr_null(c->listeners[0].address);
    set_ok(c, "sites.enabled", "yes");
    ck_assert(c->sites_enabled);
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Round trip for every key                                                 */

static void all_keys(const imapsrv_config *c, char keys[][96], size_t *n)
{
    *n = 0;
    for (size_t l = 0; l < imapsrv_config_listener_count(c); l++) {
        const char *name = imapsrv_config_listener_name(c, l);
        for (size_t i = 0; i < NELEM(listener_keys); i++)
            snprintf(keys[(*n)++], 96, "listener.%s.%s", name,
                     listener_keys[i]);
    }
    for (size_t i = 0; i < NELEM(global_keys); i++)
        snprintf(keys[(*n)++], 96, "%s", global_keys[i]);
}

static void round_trip(imapsrv_config *c)
{
    static char keys[256][96];
    size_t n;
    char first[2048];
    all_keys(c, keys, &n);
    ck_assert_uint_ge(n, NELEM(global_keys) + 2 * NELEM(listener_keys));
    for (size_t i = 0; i < n; i++) {
        get_into(c, keys[i], first, sizeof first);
        set_ok(c, keys[i], first);
        ck_assert_msg(strcmp(get(c, keys[i]), first) == 0,
                      "%s: '%s' came back as '%s'", keys[i], first,
                      get(c, keys[i]));
    }
}

static void fill_busy(imapsrv_config *c)
{
    set_ok(c, "imap.port", "1143");
    set_ok(c, "imap.status", "redirect");
    set_ok(c, "imap.tls", "none");
    set_ok(c, "imap.address", "127.0.0.1, ::1");
    set_ok(c, "imap.greeting", "Hi %s there");
    set_ok(c, "imap.redirect_message", "Go to 9993");
    set_ok(c, "imap.auth.password", "no");
    set_ok(c, "imap.auth.client_cert", "on");
    set_ok(c, "imap.auth.require_tls", "TRUE");
    set_ok(c, "imap.enforce_access", "1");
    set_ok(c, "imaps.port", "9993");
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.address", "iface:eth1");
    set_ok(c, "listener.lan.port", "2143");
    set_ok(c, "listener.lan.tls", "implicit");
    set_ok(c, "listener.lan.status", "disabled");
    set_ok(c, "limits.max_sessions", "1000");
    set_ok(c, "limits.max_sessions_per_ip", "10");
    set_ok(c, "limits.session_timeout", "61500ms");
    set_ok(c, "limits.login_timeout", "90");
    set_ok(c, "limits.auth_fail_delay", "0");
    set_ok(c, "limits.max_line", "1025");
    set_ok(c, "limits.max_literal", "1g");
    set_ok(c, "limits.max_append", "4g");
    set_ok(c, "limits.max_bad_commands", "1000");
    set_ok(c, "tls.cert", "/c.pem");
    set_ok(c, "tls.key", "/k.pem");
    set_ok(c, "tls.key_password", "pw with space");
    set_ok(c, "tls.ca", "/ca.pem");
    set_ok(c, "tls.crl", "/crl.pem");
    set_ok(c, "tls.priority", "NORMAL:-VERS-TLS1.0");
    set_ok(c, "access.allow", "alice,*@example.com");
    set_ok(c, "access.deny", "@guests");
    set_ok(c, "sites.enabled", "on");
}

START_TEST(test_round_trip_defaults)
{
    imapsrv_config *c = new_cfg();
    round_trip(c);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_round_trip_busy)
{
    imapsrv_config *c = new_cfg();
    fill_busy(c);
    ck_assert_str_eq(get(c, "imap.address"), "127.0.0.1 ::1");
    ck_assert_str_eq(get(c, "limits.session_timeout"), "61500ms");
    ck_assert_str_eq(get(c, "limits.login_timeout"), "90s");
    ck_assert_str_eq(get(c, "access.allow"), "alice *@example.com");
    round_trip(c);
    imapsrv_config_destroy(&c);
}
END_TEST

/* Copying every key of one config into a new one gives the same config. */
START_TEST(test_round_trip_copy)
{
    imapsrv_config *a = new_cfg(), *b = new_cfg();
    static char keys[256][96];
    size_t n;
    char v[2048];
    fill_busy(a);
    all_keys(a, keys, &n);
    for (size_t i = 0; i < n; i++) {
        get_into(a, keys[i], v, sizeof v);
        set_ok(b, keys[i], v);
    }
    for (size_t i = 0; i < n; i++) {
        get_into(a, keys[i], v, sizeof v);
        ck_assert_str_eq(get(b, keys[i]), v);
    }
    imapsrv_config_destroy(&a);
    imapsrv_config_destroy(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Parsers used by other modules                                            */

START_TEST(test_parse_duration)
{
    static const struct {
        const char *in;
        bool ok;
        unsigned ms;
    } rows[] = {
        {"0", true, 0},
        {"1", true, 1000},
        {"30s", true, 30000},
        {"5m", true, 300000},
        {"2h", true, 7200000},
        {"500ms", true, 500},
        {"500MS", true, 500},
        {"2H", true, 7200000},
        {"4294967295ms", true, 4294967295u},
        {"4294967s", true, 4294967000u},
        {"4294967296ms", false, 0},
        {"4294968s", false, 0},
        {"1193h", true, 1193u * 3600000u},
        {"1194h", false, 0},
        {"", false, 0},
        {"s", false, 0},
        {"-1", false, 0},
        {"+1", false, 0},
        {" 1", false, 0},
        {"1 ", false, 0},
        {"1d", false, 0},
        {"1.5s", false, 0},
        {"1sm", false, 0},
        {"99999999999999999999", false, 0},
        {"18446744073709551615ms", false, 0},
        {"5124095576030432h", false, 0},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        unsigned ms = 12345;
        bool ok = cfg_parse_duration_ms(rows[i].in, &ms);
        ck_assert_msg(ok == rows[i].ok, "'%s': %d", rows[i].in, ok);
        ck_assert_uint_eq(ms, rows[i].ok ? rows[i].ms : 12345);
    }
    ck_assert(!cfg_parse_duration_ms(NULL, &(unsigned){0}));
    ck_assert(!cfg_parse_duration_ms("1s", NULL));
}
END_TEST

START_TEST(test_parse_size)
{
    static const struct {
        const char *in;
        bool ok;
        uint64_t v;
    } rows[] = {
        {"0", true, 0},
        {"1", true, 1},
        {"64k", true, 65536},
        {"64K", true, 65536},
        {"64m", true, 67108864},
        {"1g", true, 1073741824},
        {"4G", true, 4294967296ull},
        {"16777215g", true, 16777215ull << 30},
        {"18446744073709551615", true, UINT64_MAX},
        {"18446744073709551616", false, 0},
        {"17179869184g", false, 0},
        {"18014398509481984k", false, 0},
        {"", false, 0},
        {"k", false, 0},
        {"1kb", false, 0},
        {"1t", false, 0},
        {"1ms", false, 0},
        {"-1", false, 0},
        {"+1", false, 0},
        {"1 k", false, 0},
        {" 1k", false, 0},
        {"1.5k", false, 0},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        size_t v = 777;
        bool ok;
        if (rows[i].v > SIZE_MAX)
            continue; /* a 32-bit size_t cannot hold it */
        ok = cfg_parse_size(rows[i].in, &v);
        ck_assert_msg(ok == rows[i].ok, "'%s': %d", rows[i].in, ok);
        ck_assert_uint_eq(v, rows[i].ok ? rows[i].v : 777);
    }
    ck_assert(!cfg_parse_size(NULL, &(size_t){0}));
    ck_assert(!cfg_parse_size("1k", NULL));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Typed API                                                                */

START_TEST(test_policy_init)
{
    imapsrv_listener_policy p;
    memset(&p, 0xa5, sizeof p);
    imapsrv_listener_policy_init(&p, "imap");
    ck_assert_uint_eq(p.size, sizeof p);
    ck_assert_str_eq(p.name, "imap");
    ck_assert_int_eq(p.port, 143);
    ck_assert_int_eq(p.status, IMAPSRV_PORT_ENABLED);
    ck_assert_int_eq(p.tls, IMAPSRV_TLS_STARTTLS);
    ck_assert_ptr_null(p.address);
    ck_assert_str_eq(p.greeting, GREETING);
    ck_assert_ptr_null(p.redirect_message);
    ck_assert_int_eq(p.auth_password, 1);
    ck_assert_int_eq(p.auth_client_cert, 0);
    ck_assert_int_eq(p.require_tls, 0);
    ck_assert_int_eq(p.enforce_access, 0);

    imapsrv_listener_policy_init(&p, "imaps");
    ck_assert_str_eq(p.name, "imaps");
    ck_assert_int_eq(p.port, 993);
    ck_assert_int_eq(p.status, IMAPSRV_PORT_DISABLED);
    ck_assert_int_eq(p.tls, IMAPSRV_TLS_IMPLICIT);
    ck_assert_int_eq(p.auth_password, 0);
    ck_assert_int_eq(p.auth_client_cert, 0);

    imapsrv_listener_policy_init(&p, "other");
    ck_assert_int_eq(p.port, 143);
    ck_assert_int_eq(p.status, IMAPSRV_PORT_ENABLED);
    ck_assert_int_eq(p.tls, IMAPSRV_TLS_STARTTLS);
    ck_assert_int_eq(p.auth_password, 1);

    imapsrv_listener_policy_init(&p, NULL);
    ck_assert_ptr_null(p.name);
    ck_assert_int_eq(p.port, 143);
}
END_TEST

/* What the config holds for a listener equals policy_init's defaults. */
START_TEST(test_get_listener_defaults)
{
    imapsrv_config *c = new_cfg();
    const char *names[] = {"imap", "imaps"};
    for (size_t i = 0; i < NELEM(names); i++) {
        imapsrv_listener_policy want, got;
        imapsrv_listener_policy_init(&want, names[i]);
        memset(&got, 0x5a, sizeof got);
        ck_assert_int_eq(imapsrv_config_get_listener(c, names[i], &got),
                         IMAPSRV_OK);
        ck_assert_uint_eq(got.size, sizeof got);
        ck_assert_str_eq(got.name, names[i]);
        ck_assert_int_eq(got.port, want.port);
        ck_assert_int_eq(got.status, want.status);
        ck_assert_int_eq(got.tls, want.tls);
        ck_assert_ptr_null(got.address);
        ck_assert_str_eq(got.greeting, want.greeting);
        ck_assert_ptr_null(got.redirect_message);
        ck_assert_int_eq(got.auth_password, want.auth_password);
        ck_assert_int_eq(got.auth_client_cert, want.auth_client_cert);
        ck_assert_int_eq(got.require_tls, want.require_tls);
        ck_assert_int_eq(got.enforce_access, want.enforce_access);
    }
    {
        imapsrv_listener_policy p;
        ck_assert_int_eq(imapsrv_config_get_listener(c, "nope", &p),
                         IMAPSRV_E_INVALID);
    }
    imapsrv_config_destroy(&c);
}
END_TEST

/* The keys a policy amounts to, written independently of the module. */
static void policy_as_keys(imapsrv_config *c, const imapsrv_listener_policy *p)
{
    static const char *const st[] = {"enabled", "disabled", "redirect"};
    static const char *const tl[] = {"starttls", "implicit", "none"};
    char key[96], num[16];
#define K(x) (snprintf(key, sizeof key, "listener.%s.%s", p->name, x), key)
    snprintf(num, sizeof num, "%d", p->port);
    set_ok(c, K("port"), num);
    set_ok(c, K("status"), st[p->status]);
    set_ok(c, K("tls"), tl[p->tls]);
    set_ok(c, K("address"), p->address ? p->address : "");
    set_ok(c, K("greeting"), p->greeting ? p->greeting : "");
    set_ok(c, K("redirect_message"),
           p->redirect_message ? p->redirect_message : "");
    set_ok(c, K("auth.password"), p->auth_password ? "yes" : "no");
    set_ok(c, K("auth.client_cert"), p->auth_client_cert ? "yes" : "no");
    set_ok(c, K("auth.require_tls"), p->require_tls ? "yes" : "no");
    set_ok(c, K("enforce_access"), p->enforce_access ? "yes" : "no");
#undef K
}

static void assert_same_listener_keys(const imapsrv_config *a,
                                      const imapsrv_config *b, const char *name)
{
    char key[96], va[512];
    for (size_t i = 0; i < NELEM(listener_keys); i++) {
        snprintf(key, sizeof key, "listener.%s.%s", name, listener_keys[i]);
        get_into(a, key, va, sizeof va);
        ck_assert_msg(strcmp(get(b, key), va) == 0, "%s: '%s' vs '%s'", key, va,
                      get(b, key));
    }
}

START_TEST(test_typed_listener_equivalence)
{
    imapsrv_listener_policy ps[5];
    imapsrv_listener_policy_init(&ps[0], "imap");
    imapsrv_listener_policy_init(&ps[1], "imaps");
    ps[1].status = IMAPSRV_PORT_ENABLED;
    ps[1].auth_client_cert = 1;
    ps[1].address = "10.0.0.1,::1";
    ps[1].greeting = "TLS here";
    imapsrv_listener_policy_init(&ps[2], "extra");
    ps[2].port = 1143;
    ps[2].status = IMAPSRV_PORT_REDIRECT;
    ps[2].tls = IMAPSRV_TLS_NONE;
    ps[2].redirect_message = "Use 993";
    ps[2].auth_password = 0;
    ps[2].enforce_access = 1;
    ps[2].require_tls = 1;
    ps[2].greeting = NULL;
    imapsrv_listener_policy_init(&ps[3], "lan");
    ps[3].address = "iface:eth0";
    ps[3].port = 65535;
    imapsrv_listener_policy_init(&ps[4], "imap");
    ps[4].port = 1;
    ps[4].tls = IMAPSRV_TLS_IMPLICIT;
    ps[4].status = IMAPSRV_PORT_DISABLED;

    for (size_t i = 0; i < NELEM(ps); i++) {
        imapsrv_config *a = new_cfg(), *b = new_cfg();
        imapsrv_listener_policy got;
        ck_assert_int_eq(imapsrv_config_set_listener(a, &ps[i]), IMAPSRV_OK);
        ck_assert_str_eq(imapsrv_config_last_error(a), "");
        policy_as_keys(b, &ps[i]);
        ck_assert_uint_eq(imapsrv_config_listener_count(a),
                          imapsrv_config_listener_count(b));
        assert_same_listener_keys(a, b, ps[i].name);
        assert_same_listener_keys(a, b, "imap");
        assert_same_listener_keys(a, b, "imaps");

        /* And back: get_listener gives the policy that was set. */
        ck_assert_int_eq(imapsrv_config_get_listener(a, ps[i].name, &got),
                         IMAPSRV_OK);
        ck_assert_str_eq(got.name, ps[i].name);
        ck_assert_int_eq(got.port, ps[i].port);
        ck_assert_int_eq(got.status, ps[i].status);
        ck_assert_int_eq(got.tls, ps[i].tls);
        ck_assert_int_eq(got.auth_password, ps[i].auth_password);
        ck_assert_int_eq(got.auth_client_cert, ps[i].auth_client_cert);
        ck_assert_int_eq(got.require_tls, ps[i].require_tls);
        ck_assert_int_eq(got.enforce_access, ps[i].enforce_access);
        ck_assert_str_eq(got.greeting,
                         ps[i].greeting ? ps[i].greeting : GREETING);
        ck_assert_pstr_eq(got.redirect_message, ps[i].redirect_message);
        if (ps[i].address && strchr(ps[i].address, ','))
            ck_assert_str_eq(got.address, "10.0.0.1 ::1");
        else
            ck_assert_pstr_eq(got.address, ps[i].address);

        /* Setting what get_listener gave changes nothing. */
        ck_assert_int_eq(imapsrv_config_set_listener(b, &got), IMAPSRV_OK);
        assert_same_listener_keys(a, b, ps[i].name);
        imapsrv_config_destroy(&a);
        imapsrv_config_destroy(&b);
    }
}
END_TEST

/* set_listener refuses exactly what the keys refuse, in the same words,
 * and a refused policy changes nothing. */
START_TEST(test_typed_listener_errors)
{
    static const struct {
        const char *field, *value;
    } rows[] = {
        {"port", "0"},
        {"port", "70000"},
        {"port", "-1"},
        {"status", "7"},
        {"status", "-1"},
        {"tls", "3"},
        {"auth.password", "2"},
        {"auth.client_cert", "-1"},
        {"auth.require_tls", "5"},
        {"enforce_access", "100"},
        {"greeting", "a\r\nb"},
        {"redirect_message", "x\ny"},
        {"address", "localhost"},
        {"address", "1.1.1.1 1.1.1.1"},
    };
    for (size_t i = 0; i < NELEM(rows) * 2; i++) {
        const char *name = i % 2 ? "extra" : "imap";
        const char *f = rows[i / 2].field, *v = rows[i / 2].value;
        imapsrv_config *a = new_cfg(), *b = new_cfg();
        imapsrv_listener_policy p, before;
        char key[96], want[512];
        imapsrv_listener_policy_init(&p, name);
        if (strcmp(f, "port") == 0)
            p.port = atoi(v);
        else if (strcmp(f, "status") == 0)
            p.status = (imapsrv_port_status)atoi(v);
        else if (strcmp(f, "tls") == 0)
            p.tls = (imapsrv_tls_mode)atoi(v);
        else if (strcmp(f, "auth.password") == 0)
            p.auth_password = atoi(v);
        else if (strcmp(f, "auth.client_cert") == 0)
            p.auth_client_cert = atoi(v);
        else if (strcmp(f, "auth.require_tls") == 0)
            p.require_tls = atoi(v);
        else if (strcmp(f, "enforce_access") == 0)
            p.enforce_access = atoi(v);
        else if (strcmp(f, "greeting") == 0)
            p.greeting = v;
        else if (strcmp(f, "redirect_message") == 0)
            p.redirect_message = v;
        else
            p.address = v;
        p.port = strcmp(f, "port") == 0 ? p.port : 2000; /* a change */

        snprintf(key, sizeof key, "listener.%s.%s", name, f);
        ck_assert_int_eq(imapsrv_config_set(b, key, v), IMAPSRV_E_INVALID);
        snprintf(want, sizeof want, "%s", imapsrv_config_last_error(b));

        ck_assert_int_eq(imapsrv_config_get_listener(a, "imap", &before),
                         IMAPSRV_OK);
        ck_assert_int_eq(imapsrv_config_set_listener(a, &p), IMAPSRV_E_INVALID);
        ck_assert_str_eq(imapsrv_config_last_error(a), want);
        ck_assert_uint_eq(imapsrv_config_listener_count(a), 2);
        ck_assert_str_eq(get(a, "imap.port"), "143");
        imapsrv_config_destroy(&a);
        imapsrv_config_destroy(&b);
    }
}
END_TEST

START_TEST(test_typed_listener_misc)
{
    imapsrv_config *c = new_cfg();
    imapsrv_listener_policy p;
    char *n32 = repeat('n', 32);

    imapsrv_listener_policy_init(&p, "extra");
    p.size = sizeof p - 1;
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(strstr(imapsrv_config_last_error(c), "size"));
    p.size = 0;
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    p.size = sizeof p + 16; /* a newer caller: what we know is there */
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_OK);
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 3);
    p.size = sizeof p;

    p.name = NULL;
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(
        strstr(imapsrv_config_last_error(c), "invalid listener name"));
    p.name = "";
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    p.name = "a b";
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    ck_assert_str_eq(imapsrv_config_last_error(c),
                     "invalid listener name 'a b' (expected 1-31 letters, "
                     "digits, '_' or '-')");
    p.name = n32;
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_E_INVALID);
    n32[31] = '\0';
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_OK);
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 4);

    /* Replacing an existing listener keeps its place. */
    imapsrv_listener_policy_init(&p, "imaps");
    p.port = 9993;
    p.status = IMAPSRV_PORT_ENABLED;
    ck_assert_int_eq(imapsrv_config_set_listener(c, &p), IMAPSRV_OK);
    ck_assert_str_eq(imapsrv_config_listener_name(c, 1), "imaps");
    ck_assert_str_eq(get(c, "imaps.port"), "9993");
    ck_assert_str_eq(get(c, "imaps.status"), "enabled");
    ck_assert_uint_eq(imapsrv_config_listener_count(c), 4);

    /* Strings from get_listener hold until the next change. */
    set_ok(c, "imap.greeting", "Hello there");
    set_ok(c, "imap.address", "::1");
    ck_assert_int_eq(imapsrv_config_get_listener(c, "imap", &p), IMAPSRV_OK);
    ck_assert_str_eq(p.greeting, "Hello there");
    ck_assert_str_eq(p.address, "::1");
    ck_assert_str_eq(p.name, "imap");
    free(n32);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_limits_init)
{
    imapsrv_limits l, g;
    imapsrv_config *c = new_cfg();
    memset(&l, 0xa5, sizeof l);
    imapsrv_limits_init(&l);
    ck_assert_uint_eq(l.size, sizeof l);
    ck_assert_uint_eq(l.max_sessions, 0);
    ck_assert_uint_eq(l.max_sessions_per_ip, 0);
    ck_assert_uint_eq(l.session_timeout_ms, 30u * 60 * 1000);
    ck_assert_uint_eq(l.login_timeout_ms, 60u * 1000);
    ck_assert_uint_eq(l.auth_fail_delay_ms, 2000);
    ck_assert_uint_eq(l.max_line, 64 * 1024);
    ck_assert_uint_eq(l.max_literal, 64 * 1024);
    ck_assert_uint_eq(l.max_append, 64 * 1024 * 1024);
    ck_assert_uint_eq(l.max_bad_commands, 3);
    memset(&g, 0, sizeof g);
    imapsrv_config_get_limits(c, &g);
    ck_assert_int_eq(memcmp(&l, &g, sizeof l), 0);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_typed_limits_equivalence)
{
    imapsrv_config *c = new_cfg();
    imapsrv_limits l, g;
    imapsrv_limits_init(&l);
    l.max_sessions = 1000000;
    l.max_sessions_per_ip = 7;
    l.session_timeout_ms = 61500;
    l.login_timeout_ms = 3600000;
    l.auth_fail_delay_ms = 0;
    l.max_line = 1025;
    l.max_literal = 1024 * 1024 * 1024;
    l.max_append = (size_t)4 << 30;
    l.max_bad_commands = 1000;
    ck_assert_int_eq(imapsrv_config_set_limits(c, &l), IMAPSRV_OK);
    ck_assert_str_eq(get(c, "limits.max_sessions"), "1000000");
    ck_assert_str_eq(get(c, "limits.max_sessions_per_ip"), "7");
    ck_assert_str_eq(get(c, "limits.session_timeout"), "61500ms");
    ck_assert_str_eq(get(c, "limits.login_timeout"), "1h");
    ck_assert_str_eq(get(c, "limits.auth_fail_delay"), "0s");
    ck_assert_str_eq(get(c, "limits.max_line"), "1025");
    ck_assert_str_eq(get(c, "limits.max_literal"), "1g");
    ck_assert_str_eq(get(c, "limits.max_append"), "4g");
    ck_assert_str_eq(get(c, "limits.max_bad_commands"), "1000");
    imapsrv_config_get_limits(c, &g);
    ck_assert_int_eq(memcmp(&l, &g, sizeof l), 0);

    /* Keys show up in the struct. */
    set_ok(c, "limits.session_timeout", "2h");
    set_ok(c, "limits.max_line", "16m");
    set_ok(c, "limits.max_sessions_per_ip", "0");
    imapsrv_config_get_limits(c, &g);
    ck_assert_uint_eq(g.session_timeout_ms, 7200000);
    ck_assert_uint_eq(g.max_line, 16 * 1024 * 1024);
    ck_assert_uint_eq(g.max_sessions_per_ip, 0);
    ck_assert_uint_eq(g.size, sizeof g);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_typed_limits_errors)
{
    static const struct {
        int field;
        uint64_t value;
        const char *key, *str;
    } rows[] = {
        {0, 1000001, "limits.max_sessions", "1000001"},
        {1, UINT_MAX, "limits.max_sessions_per_ip", "4294967295"},
        {2, 59999, "limits.session_timeout", "59999ms"},
        {2, 86400001, "limits.session_timeout", "86400001ms"},
        {2, 0, "limits.session_timeout", "0s"},
        {3, 999, "limits.login_timeout", "999ms"},
        {3, 3600001, "limits.login_timeout", "3600001ms"},
        {4, 60001, "limits.auth_fail_delay", "60001ms"},
        {5, 1023, "limits.max_line", "1023"},
        {5, 16 * 1024 * 1024 + 1, "limits.max_line", "16777217"},
        {6, 0, "limits.max_literal", "0"},
        {6, 2048ull << 20, "limits.max_literal", "2g"},
        {7, (4ull << 30) + 1, "limits.max_append", "4294967297"},
        {8, 0, "limits.max_bad_commands", "0"},
        {8, 1001, "limits.max_bad_commands", "1001"},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        imapsrv_config *a = new_cfg(), *b = new_cfg();
        imapsrv_limits l, before, after;
        char want[512];
        if (rows[i].value > SIZE_MAX)
            continue;
        imapsrv_limits_init(&l);
        l.max_sessions = 5; /* plus one good change that must not land */
        switch (rows[i].field) {
        case 0: l.max_sessions = (unsigned)rows[i].value; break;
        case 1: l.max_sessions_per_ip = (unsigned)rows[i].value; break;
        case 2: l.session_timeout_ms = (unsigned)rows[i].value; break;
        case 3: l.login_timeout_ms = (unsigned)rows[i].value; break;
        case 4: l.auth_fail_delay_ms = (unsigned)rows[i].value; break;
        case 5: l.max_line = (size_t)rows[i].value; break;
        case 6: l.max_literal = (size_t)rows[i].value; break;
        case 7: l.max_append = (size_t)rows[i].value; break;
        default: l.max_bad_commands = (unsigned)rows[i].value; break;
        }
        ck_assert_int_eq(imapsrv_config_set(b, rows[i].key, rows[i].str),
                         IMAPSRV_E_INVALID);
        snprintf(want, sizeof want, "%s", imapsrv_config_last_error(b));
        imapsrv_config_get_limits(a, &before);
        ck_assert_int_eq(imapsrv_config_set_limits(a, &l), IMAPSRV_E_INVALID);
        ck_assert_str_eq(imapsrv_config_last_error(a), want);
        imapsrv_config_get_limits(a, &after);
        ck_assert_int_eq(memcmp(&before, &after, sizeof before), 0);
        imapsrv_config_destroy(&a);
        imapsrv_config_destroy(&b);
    }
}
END_TEST

START_TEST(test_typed_limits_size)
{
    imapsrv_config *c = new_cfg();
    imapsrv_limits l;
    imapsrv_limits_init(&l);
    l.max_sessions = 9;
    l.size = sizeof l - 1;
    ck_assert_int_eq(imapsrv_config_set_limits(c, &l), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(strstr(imapsrv_config_last_error(c), "size"));
    ck_assert_str_eq(get(c, "limits.max_sessions"), "0");
    l.size = 0;
    ck_assert_int_eq(imapsrv_config_set_limits(c, &l), IMAPSRV_E_INVALID);
    l.size = sizeof l;
    ck_assert_int_eq(imapsrv_config_set_limits(c, &l), IMAPSRV_OK);
    ck_assert_str_eq(get(c, "limits.max_sessions"), "9");
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Clone                                                                    */

START_TEST(test_clone_independent)
{
    imapsrv_config *a = new_cfg(), *b = NULL;
    static char keys[256][96];
    size_t n;
    char v[2048];

    fill_busy(a);
    ck_assert_int_eq(imapsrv_config_check(a), IMAPSRV_E_CONFIG);
    ck_assert_uint_gt(imapsrv_config_problem_count(a), 0);
    ck_assert_int_eq(imapsrv_config_clone(a, &b), IMAPSRV_OK);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(imapsrv_config_problem_count(b), 0);
    ck_assert_str_eq(imapsrv_config_last_error(b), "");
    ck_assert_uint_eq(imapsrv_config_listener_count(b),
                      imapsrv_config_listener_count(a));
    all_keys(a, keys, &n);
    for (size_t i = 0; i < n; i++) {
        get_into(a, keys[i], v, sizeof v);
        ck_assert_str_eq(get(b, keys[i]), v);
    }
    /* No shared storage. */
    ck_assert_ptr_ne(a->listeners, b->listeners);
    ck_assert_ptr_ne(a->listeners[0].address, b->listeners[0].address);
    ck_assert_ptr_ne(a->listeners[0].greeting, b->listeners[0].greeting);
    ck_assert_ptr_ne(a->tls_cert, b->tls_cert);
    ck_assert_ptr_ne(a->access_allow, b->access_allow);
    ck_assert_ptr_ne(a->access_allow[0], b->access_allow[0]);

    /* Changing the original leaves the copy alone, and the other way. */
    set_ok(a, "imap.greeting", "changed");
    set_ok(a, "tls.cert", "");
    set_ok(a, "access.allow", "");
    set_ok(a, "listener.new.port", "5");
    set_ok(a, "limits.max_sessions", "1");
    ck_assert_int_eq(imapsrv_config_remove_listener(a, "lan"), IMAPSRV_OK);
    ck_assert_str_eq(get(b, "imap.greeting"), "Hi %s there");
    ck_assert_str_eq(get(b, "tls.cert"), "/c.pem");
    ck_assert_str_eq(get(b, "access.allow"), "alice *@example.com");
    ck_assert_str_eq(get(b, "limits.max_sessions"), "1000");
    ck_assert_str_eq(get(b, "listener.lan.port"), "2143");
    ck_assert_uint_eq(imapsrv_config_listener_count(b), 3);
    set_ok(b, "imaps.port", "4");
    ck_assert_str_eq(get(a, "imaps.port"), "9993");

    /* The copy outlives the original. */
    imapsrv_config_destroy(&a);
    ck_assert_ptr_null(a);
    ck_assert_str_eq(get(b, "tls.key_password"), "pw with space");
    ck_assert_int_eq(imapsrv_config_check(b), IMAPSRV_E_CONFIG);
    imapsrv_config_destroy(&b);
}
END_TEST

START_TEST(test_clone_empty)
{
    imapsrv_config *a = new_cfg(), *b = NULL;
    while (imapsrv_config_listener_count(a))
        imapsrv_config_remove_listener(a, imapsrv_config_listener_name(a, 0));
    ck_assert_int_eq(imapsrv_config_clone(a, &b), IMAPSRV_OK);
    ck_assert_uint_eq(imapsrv_config_listener_count(b), 0);
    set_ok(b, "imap.port", "143");
    ck_assert_uint_eq(imapsrv_config_listener_count(b), 1);
    ck_assert_uint_eq(imapsrv_config_listener_count(a), 0);
    imapsrv_config_destroy(&a);
    imapsrv_config_destroy(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Whole-config rules                                                       */

#define NO_LISTENER_MSG                                                        \
    "no listener is enabled: set imap.status or imaps.status to enabled "      \
    "(a redirect listener does not count)"

START_TEST(test_rule_no_enabled_listener)
{
    imapsrv_config *c = new_cfg();
    imapsrv_log_level lv;

    set_ok(c, "imap.status", "disabled");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    ck_assert_str_eq(imapsrv_config_problem(c, 0, &lv), NO_LISTENER_MSG);
    ck_assert_int_eq(lv, IMAPSRV_LOG_ERROR);
    ck_assert_ptr_nonnull(imapsrv_config_problem(c, 0, NULL));

    /* imap redirect, imaps disabled: still none; plus the redirect warning */
    set_ok(c, "imap.status", "redirect");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 1);
    ck_assert_ptr_nonnull(
        find_problem(c, IMAPSRV_LOG_ERROR, NO_LISTENER_MSG, NULL, NULL));

    /* Any one enabled listener is enough: imaps, */
    set_ok(c, "imap.status", "disabled");
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.auth.password", "yes");
    set_tls_files(c, true, true, false);
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* or one of another name. */
    set_ok(c, "imaps.status", "disabled");
    set_ok(c, "listener.x.port", "1143");
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "listener.x.status", "redirect");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 1);

    /* No listeners at all. */
    while (imapsrv_config_listener_count(c))
        imapsrv_config_remove_listener(c, imapsrv_config_listener_name(c, 0));
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    ck_assert_str_eq(imapsrv_config_problem(c, 0, NULL), NO_LISTENER_MSG);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_check_refills)
{
    imapsrv_config *c = new_cfg();
    set_ok(c, "imap.status", "disabled");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0); /* not appended twice */
    set_ok(c, "imap.status", "enabled");
    expect_check(c, IMAPSRV_OK, 0, 0);
    ck_assert_ptr_null(imapsrv_config_problem(c, 0, NULL));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_port_conflict)
{
    imapsrv_config *c = new_cfg();
    const char *m;

    /* imap and listener.extra both on 1143, all addresses. */
    set_ok(c, "imap.port", "1143");
    set_ok(c, "listener.extra.port", "1143");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "imap", "extra", "1143");
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, "listeners imap and extra both use port 1143 on all "
                        "addresses: change imap.port or listener.extra.port");

    /* A disabled one binds nothing; a redirect one does. */
    set_ok(c, "listener.extra.status", "disabled");
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "listener.extra.status", "redirect");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 1); /* + redirect warning */
    ck_assert_ptr_nonnull(
        find_problem(c, IMAPSRV_LOG_ERROR, "imap", "extra", "1143"));
    set_ok(c, "listener.extra.status", "enabled");

    /* One on 127.0.0.1, one on all addresses. */
    set_ok(c, "imap.address", "127.0.0.1");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "imap", "extra", "port 1143");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "127.0.0.1"));
    ck_assert_ptr_nonnull(strstr(m, "all addresses"));
    /* Different ports: fine. */
    set_ok(c, "listener.extra.port", "1144");
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "listener.extra.port", "1143");

    /* Disjoint specific addresses: fine. */
    set_ok(c, "listener.extra.address", "::1");
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "listener.extra.address", "10.0.0.1 127.0.0.2");
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* A common one among several. */
    set_ok(c, "imap.address", "192.0.2.1, 127.0.0.2");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    ck_assert_str_eq(imapsrv_config_problem(c, 0, NULL),
                     "listeners imap and extra both use port 1143 on "
                     "127.0.0.2: change imap.port or listener.extra.port");
    /* Two spellings of one IPv6 address. */
    set_ok(c, "imap.address", "::1");
    set_ok(c, "listener.extra.address", "0:0:0:0:0:0:0:1");
    expect_check(c, IMAPSRV_E_CONFIG, 1, 0);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_port_conflict_wildcards)
{
    static const struct {
        const char *a, *b;
        bool clash;
    } rows[] = {
        {"0.0.0.0", "127.0.0.1", true},
        {"127.0.0.1", "0.0.0.0", true},
        {"0.0.0.0", "::1", false},
        {"::", "::1", true},
        {"::", "127.0.0.1", false},
        {"::", "0.0.0.0", false},
        {"0.0.0.0", "0.0.0.0", true},
        {"", "::", true},
        {"*", "10.0.0.1", true},
        {"iface:eth0", "iface:eth0", true},
        {"iface:eth0", "iface:eth1", false},
        {"iface:eth0", "", true},
        {"", "iface:eth0", true},
        {"iface:eth0", "127.0.0.1", false},
        {"127.0.0.1", "iface:eth0", false},
        {"10.0.0.1", "10.0.0.2", false},
        {"10.0.0.1 ::1", "::2 10.0.0.1", true},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        imapsrv_config *c = new_cfg();
        set_ok(c, "imap.address", rows[i].a);
        set_ok(c, "listener.b.address", rows[i].b);
        ck_assert_msg(imapsrv_config_check(c) ==
                          (rows[i].clash ? IMAPSRV_E_CONFIG : IMAPSRV_OK),
                      "'%s' vs '%s'", rows[i].a, rows[i].b);
        ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR),
                          rows[i].clash ? 1 : 0);
        if (rows[i].clash)
            ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_ERROR,
                                               "listeners imap and b",
                                               "port 143", "listener.b.port"));
        imapsrv_config_destroy(&c);
    }
}
END_TEST

START_TEST(test_rule_port_conflict_many)
{
    imapsrv_config *c = new_cfg();
    /* imaps on 143 too, and a third: every pair is named once. */
    set_ok(c, "imaps.port", "143");
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.auth.password", "yes");
    set_tls_files(c, true, true, false);
    set_ok(c, "listener.third.port", "143");
    expect_check(c, IMAPSRV_E_CONFIG, 3, 0);
    ck_assert_ptr_nonnull(find_problem(
        c, IMAPSRV_LOG_ERROR, "listeners imap and imaps", "imaps.port", NULL));
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_ERROR,
                                       "listeners imap and third",
                                       "listener.third.port", NULL));
    ck_assert_ptr_nonnull(find_problem(
        c, IMAPSRV_LOG_ERROR, "listeners imaps and third", NULL, NULL));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_implicit_needs_cert)
{
    imapsrv_config *c = new_cfg();
    const char *m;

    /* imaps disabled: no certificate needed. */
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.auth.password", "yes");
    /* imaps enabled without cert and key: error naming both; and nobody
     * can log in there either. */
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps", "tls.cert",
                     "tls.key");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "imaps.tls = implicit"));
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "nobody can log in on listener imaps",
                                       NULL, NULL));
    /* Only the key missing: only the key named. */
    set_tls_files(c, true, false, false);
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps", "set tls.key",
                     NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(strstr(m, "tls.cert"));
    /* Only the certificate missing. */
    set_tls_files(c, false, true, false);
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps", "set tls.cert",
                     NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(strstr(m, "tls.key"));
    /* Both set: fine. */
    set_tls_files(c, true, true, false);
    expect_check(c, IMAPSRV_OK, 0, 0);

    /* A redirecting implicit-TLS listener handshakes too. */
    set_tls_files(c, false, false, false);
    set_ok(c, "imaps.status", "redirect");
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_ptr_nonnull(
        find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps", "tls.cert", NULL));
    /* Another listener in implicit mode. */
    set_ok(c, "imaps.status", "disabled");
    set_ok(c, "listener.sec.tls", "implicit");
    set_ok(c, "listener.sec.port", "9993");
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_ERROR, "listener sec",
                                       "listener.sec.tls = implicit",
                                       "tls.cert"));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_require_tls_needs_cert)
{
    imapsrv_config *c = new_cfg();
    set_ok(c, "imap.auth.require_tls", "yes");
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_ERROR, "listener imap",
                                       "imap.auth.require_tls", "STARTTLS"));
    ck_assert_ptr_nonnull(
        find_problem(c, IMAPSRV_LOG_ERROR, "tls.cert", "tls.key", NULL));
    /* Without TLS the password cannot be used: nobody can log in. */
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "nobody can log in on listener imap",
                                       "imap.auth.require_tls", NULL));
    set_tls_files(c, true, true, false);
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* A disabled listener needs nothing. */
    set_tls_files(c, false, false, false);
    set_ok(c, "listener.x.auth.require_tls", "yes");
    set_ok(c, "listener.x.status", "disabled");
    set_ok(c, "imap.auth.require_tls", "no");
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* require_tls with tls = none can never be met. */
    set_ok(c, "imap.auth.require_tls", "yes");
    set_ok(c, "imap.tls", "none");
    set_tls_files(c, true, true, false);
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_ERROR,
                                       "imap.auth.require_tls = yes",
                                       "imap.tls = none", NULL));
    /* require_tls on an implicit port is simply met. */
    set_ok(c, "imap.tls", "implicit");
    expect_check(c, IMAPSRV_OK, 0, 0);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_client_cert)
{
    imapsrv_config *c = new_cfg();
    const char *m;

    set_ok(c, "imap.status", "disabled");
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.auth.client_cert", "yes");
    /* Neither certificate, key nor CA. */
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 2);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps",
                     "tls.cert and "
                     "tls.key",
                     "imaps.auth.client_cert = yes");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(find_problem(
        c, IMAPSRV_LOG_ERROR, "imaps.auth.client_cert", "tls.ca", NULL));
    /* Certificate and key, no CA. */
    set_tls_files(c, true, true, false);
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    m = find_problem(c, IMAPSRV_LOG_ERROR, "listener imaps",
                     "imaps.auth.client_cert = yes needs tls.ca", NULL);
    ck_assert_ptr_nonnull(m);
    /* That listener's only way in is unusable: warned too. */
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "nobody can log in on listener imaps",
                                       NULL, NULL));
    /* All three: fine, and client certificates are a way in. */
    set_tls_files(c, true, true, true);
    expect_check(c, IMAPSRV_OK, 0, 0);

    /* client_cert on a STARTTLS port is an error even with every file. */
    set_ok(c, "imap.status", "enabled");
    set_ok(c, "imap.auth.client_cert", "yes");
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    m = find_problem(c, IMAPSRV_LOG_ERROR,
                     "listener imap:", "imap.auth.client_cert = yes",
                     "implicit");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "imap.tls"));
    set_ok(c, "imap.tls", "none");
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 1);
    /* client_cert without TLS files on a STARTTLS port: cert and CA too. */
    set_ok(c, "imap.tls", "starttls");
    set_ok(c, "imaps.status", "disabled");
    set_tls_files(c, false, false, false);
    ck_assert_int_eq(imapsrv_config_check(c), IMAPSRV_E_CONFIG);
    ck_assert_uint_eq(count_level(c, IMAPSRV_LOG_ERROR), 3);
    /* Disabled listeners are not checked. */
    set_ok(c, "imap.auth.client_cert", "no");
    set_ok(c, "imaps.auth.client_cert", "yes");
    expect_check(c, IMAPSRV_OK, 0, 0);
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_nobody_can_log_in)
{
    imapsrv_config *c = new_cfg();
    const char *m;

    /* The guide's imaps defaults once enabled: both options no. */
    set_ok(c, "imaps.status", "enabled");
    set_tls_files(c, true, true, false);
    expect_check(c, IMAPSRV_OK, 0, 1);
    m = imapsrv_config_problem(c, 0, NULL);
    ck_assert_str_eq(m, "nobody can log in on listener imaps "
                        "(imaps.auth.password = no and "
                        "imaps.auth.client_cert = no)");
    /* Passwords on: fine. */
    set_ok(c, "imaps.auth.password", "yes");
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* Certificates only, with a CA: fine. */
    set_ok(c, "imaps.auth.password", "no");
    set_ok(c, "imaps.auth.client_cert", "yes");
    set_tls_files(c, true, true, true);
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* On the plain port. */
    set_ok(c, "imap.auth.password", "no");
    expect_check(c, IMAPSRV_OK, 0, 1);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "nobody can log in on listener imap ",
                                       "imap.auth.password = no", NULL));
    /* Not for a disabled or redirecting listener. */
    set_ok(c, "imap.status", "disabled");
    expect_check(c, IMAPSRV_OK, 0, 0);
    set_ok(c, "imap.status", "redirect");
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* Listeners of other names too. */
    set_ok(c, "listener.x.port", "1143");
    set_ok(c, "listener.x.auth.password", "off");
    expect_check(c, IMAPSRV_OK, 0, 1);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "nobody can log in on listener x",
                                       "listener.x.auth.password = no", NULL));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_rule_redirect_nowhere)
{
    imapsrv_config *c = new_cfg();
    const char *m;

    set_ok(c, "imap.status", "redirect");
    set_ok(c, "listener.x.port", "1143");
    expect_check(c, IMAPSRV_OK, 0, 1);
    m = imapsrv_config_problem(c, 0, NULL);
    ck_assert_str_eq(m, "listener imap redirects clients to TLS, but no "
                        "implicit-TLS listener is enabled: its message "
                        "sends clients nowhere");
    /* An enabled implicit-TLS listener gives the message somewhere. */
    set_ok(c, "imaps.status", "enabled");
    set_ok(c, "imaps.auth.password", "yes");
    set_tls_files(c, true, true, false);
    expect_check(c, IMAPSRV_OK, 0, 0);
    /* A redirecting implicit listener is not one. */
    set_ok(c, "imaps.status", "redirect");
    expect_check(c, IMAPSRV_OK, 0, 2);
    ck_assert_ptr_nonnull(find_problem(c, IMAPSRV_LOG_WARNING,
                                       "listener imaps redirects", NULL, NULL));
    /* A STARTTLS listener is not one either. */
    set_ok(c, "imaps.status", "disabled");
    set_ok(c, "listener.x.tls", "starttls");
    expect_check(c, IMAPSRV_OK, 0, 1);
    imapsrv_config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Internal helpers other modules use                                       */

START_TEST(test_listener_find)
{
    imapsrv_config *c = new_cfg();
    struct cfg_listener *l = cfg_listener_find(c, "imaps");
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(l->name, "imaps");
    ck_assert_int_eq(l->port, 993);
    ck_assert_int_eq(l->status, IMAPSRV_PORT_DISABLED);
    ck_assert_int_eq(l->tls, IMAPSRV_TLS_IMPLICIT);
    ck_assert(!l->auth_password);
    ck_assert_ptr_null(cfg_listener_find(c, "nope"));
    ck_assert_ptr_null(cfg_listener_find(c, "IMAP"));
    ck_assert_ptr_null(cfg_listener_find(c, NULL));
    ck_assert_ptr_null(cfg_listener_find(NULL, "imap"));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_redirect_message)
{
    imapsrv_config *c = new_cfg();
    char buf[256], small[10];
    struct cfg_listener *l = cfg_listener_find(c, "imap");

    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf),
                     REDIRECT_TEXT "993");
    /* The first enabled implicit-TLS listener's port. */
    set_ok(c, "imaps.port", "9993");
    /* imaps still disabled: its configured port is still the one to name */
    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf),
                     REDIRECT_TEXT "9993");
    set_ok(c, "imaps.status", "enabled");
    l = cfg_listener_find(c, "imap");
    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf),
                     REDIRECT_TEXT "9993");
    set_ok(c, "imaps.status", "redirect");
    set_ok(c, "listener.a.tls", "implicit");
    set_ok(c, "listener.a.port", "2993");
    set_ok(c, "listener.b.tls", "implicit");
    set_ok(c, "listener.b.port", "3993");
    l = cfg_listener_find(c, "imap");
    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf),
                     REDIRECT_TEXT "2993");
    /* The listener's own text wins. */
    set_ok(c, "imap.redirect_message", "Go away");
    l = cfg_listener_find(c, "imap");
    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf), "Go away");
    set_ok(c, "imap.redirect_message", "");
    l = cfg_listener_find(c, "imap");
    ck_assert_str_eq(cfg_redirect_message(c, l, buf, sizeof buf),
                     REDIRECT_TEXT "2993");
    /* Truncated, never overrun. */
    memset(small, 'x', sizeof small);
    ck_assert_ptr_eq(cfg_redirect_message(c, l, small, sizeof small), small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_ptr_null(cfg_redirect_message(c, l, NULL, 0));
    imapsrv_config_destroy(&c);
}
END_TEST

START_TEST(test_can_login)
{
    static const struct {
        const char *tls;
        bool pw, cc, req, cert, key, ca, want;
    } rows[] = {
        {"starttls", true, false, false, false, false, false, true},
        {"starttls", false, false, false, true, true, true, false},
        {"starttls", true, false, true, false, false, false, false},
        {"starttls", true, false, true, true, false, false, false},
        {"starttls", true, false, true, true, true, false, true},
        {"starttls", false, true, false, true, true, true, false},
        {"none", true, false, false, false, false, false, true},
        {"none", true, false, true, true, true, true, false},
        {"implicit", true, false, false, false, false, false, false},
        {"implicit", true, false, false, true, true, false, true},
        {"implicit", true, false, true, true, true, false, true},
        {"implicit", false, true, false, true, true, true, true},
        {"implicit", false, true, false, true, true, false, false},
        {"implicit", false, true, false, false, true, true, false},
        {"implicit", false, true, false, true, false, true, false},
        {"implicit", false, false, false, true, true, true, false},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        imapsrv_config *c = new_cfg();
        set_ok(c, "imap.tls", rows[i].tls);
        set_ok(c, "imap.auth.password", rows[i].pw ? "yes" : "no");
        set_ok(c, "imap.auth.client_cert", rows[i].cc ? "yes" : "no");
        set_ok(c, "imap.auth.require_tls", rows[i].req ? "yes" : "no");
        set_tls_files(c, rows[i].cert, rows[i].key, rows[i].ca);
        ck_assert_msg(cfg_listener_can_login(c, cfg_listener_find(c, "imap")) ==
                          rows[i].want,
                      "row %zu", i);
        imapsrv_config_destroy(&c);
    }
    ck_assert(!cfg_listener_can_login(NULL, NULL));
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *keys = tcase_create("keys");
    TCase *values = tcase_create("values");
    TCase *typed = tcase_create("typed");
    TCase *rules = tcase_create("rules");
    TCase *helpers = tcase_create("helpers");

    tcase_add_test(keys, test_key_table_matches);
    tcase_add_test(keys, test_defaults);
    tcase_add_test(keys, test_defaults_cover_every_key);
    tcase_add_test(keys, test_new_listener_defaults);
    tcase_add_test(keys, test_unknown_keys);
    tcase_add_test(keys, test_listener_names);
    tcase_add_test(keys, test_listener_alias);
    tcase_add_test(keys, test_listener_management);
    tcase_add_test(keys, test_null_arguments);
    tcase_add_test(keys, test_get_buffer_size);
    tcase_add_test(keys, test_last_error_cleared);
    tcase_add_test(keys, test_lists_stored);
    tcase_add_test(keys, test_round_trip_defaults);
    tcase_add_test(keys, test_round_trip_busy);
    tcase_add_test(keys, test_round_trip_copy);
    tcase_add_test(keys, test_clone_independent);
    tcase_add_test(keys, test_clone_empty);
    suite_add_tcase(s, keys);

    tcase_add_loop_test(values, test_valid_values, 0,
                        (int)count_runs(valid_key, NELEM(valid)));
    tcase_add_loop_test(
        values, test_bool_values, 0,
        (int)count_runs(bool_key, NELEM(bool_keys) * NELEM(bool_words)));
    tcase_add_loop_test(values, test_invalid_values, 0,
                        (int)count_runs(invalid_key, NELEM(invalid)));
    tcase_add_test(values, test_error_messages_exact);
    tcase_add_test(values, test_error_value_sanitised);
    tcase_add_test(values, test_secret_not_echoed);
    tcase_add_test(values, test_length_limits);
    tcase_add_test(values, test_address_list_length);
    tcase_add_test(values, test_parse_duration);
    tcase_add_test(values, test_parse_size);
    suite_add_tcase(s, values);

    tcase_add_test(typed, test_policy_init);
    tcase_add_test(typed, test_get_listener_defaults);
    tcase_add_test(typed, test_typed_listener_equivalence);
    tcase_add_test(typed, test_typed_listener_errors);
    tcase_add_test(typed, test_typed_listener_misc);
    tcase_add_test(typed, test_limits_init);
    tcase_add_test(typed, test_typed_limits_equivalence);
    tcase_add_test(typed, test_typed_limits_errors);
    tcase_add_test(typed, test_typed_limits_size);
    suite_add_tcase(s, typed);

    tcase_add_test(rules, test_rule_no_enabled_listener);
    tcase_add_test(rules, test_rule_check_refills);
    tcase_add_test(rules, test_rule_port_conflict);
    tcase_add_test(rules, test_rule_port_conflict_wildcards);
    tcase_add_test(rules, test_rule_port_conflict_many);
    tcase_add_test(rules, test_rule_implicit_needs_cert);
    tcase_add_test(rules, test_rule_require_tls_needs_cert);
    tcase_add_test(rules, test_rule_client_cert);
    tcase_add_test(rules, test_rule_nobody_can_log_in);
    tcase_add_test(rules, test_rule_redirect_nowhere);
    suite_add_tcase(s, rules);

    tcase_add_test(helpers, test_listener_find);
    tcase_add_test(helpers, test_redirect_message);
    tcase_add_test(helpers, test_can_login);
    suite_add_tcase(s, helpers);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
