/* users: the daemon's passwd-like user table (see users.h). */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "users.h"

#define MAX_FILE (16 * 1024 * 1024)
#define NAME_MAX_LEN 255

enum scheme { SCHEME_PLAIN, SCHEME_CRYPT };

struct entry {
    char *name;
    enum scheme scheme;
    char *secret; /* the password, or the crypt(3) hash */
    size_t secret_len;
    unsigned line;
};

struct users {
    struct entry *v; /* sorted by name once parsed */
    size_t n;
};

bool users_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *x = a, *y = b;
    size_t n = alen > blen ? alen : blen;
    volatile unsigned char diff = alen != blen;

    /* Past the end of the shorter one, compare against 0: the loop runs
     * over the longer length either way, and never stops early. */
    for (size_t i = 0; i < n; i++) {
        unsigned char cx = i < alen ? x[i] : 0;
        unsigned char cy = i < blen ? y[i] : 0;

        diff |= cx ^ cy;
    }
    return diff == 0;
}

users *users_new(void)
{
    return calloc(1, sizeof(users));
}

static void entry_free(struct entry *e)
{
    free(e->name);
    if (e->secret) {
        explicit_bzero(e->secret, e->secret_len);
        free(e->secret);
    }
}

void users_free(users **u)
{
    if (!u || !*u)
        return;
    for (size_t i = 0; i < (*u)->n; i++)
        entry_free(&(*u)->v[i]);
    free((*u)->v);
    free(*u);
    *u = NULL;
}

size_t users_count(const users *u)
{
    return u->n;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Can crypt_r use this hash?  A full hash reproduces its own length; a
 * malformed one, an unsupported method or a bare setting does not. */
static bool crypt_hash_ok(const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out = cd ? crypt_r("", hash, cd) : NULL;
    bool ok = out && out[0] != '*' && strlen(out) == strlen(hash);

    free(cd);
    return ok;
}

static bool name_ok(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] <= 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

/* Parse one non-comment line into `e`; NULL or an error message. */
static const char *parse_line(const char *line, struct entry *e)
{
    const char *colon = strchr(line, ':'), *spec;

    if (!colon)
        return "expected 'name:{PLAIN}password' or 'name:{CRYPT}hash'";
    if (!name_ok(line, (size_t)(colon - line)))
        return "invalid user name (1-255 characters, no spaces or "
               "control characters)";
    spec = colon + 1;
    if (strncasecmp(spec, "{PLAIN}", 7) == 0)
        e->scheme = SCHEME_PLAIN;
    else if (strncasecmp(spec, "{CRYPT}", 7) == 0)
        e->scheme = SCHEME_CRYPT;
    else
        return "unknown password scheme (expected {PLAIN} or {CRYPT})";
    if (spec[7] == '\0')
        return "empty password";
    if (e->scheme == SCHEME_CRYPT && !crypt_hash_ok(spec + 7))
        return "malformed or unsupported {CRYPT} hash";
    e->name = strndup(line, (size_t)(colon - line));
    e->secret = strdup(spec + 7);
    if (!e->name || !e->secret) {
        entry_free(e);
        return "out of memory";
    }
    e->secret_len = strlen(e->secret);
    return NULL;
}

static void report(users_error_fn err, void *ctx, const char *file,
                   unsigned line, const char *what, const char *name)
{
    char msg[NAME_MAX_LEN + 128];

    if (name)
        snprintf(msg, sizeof msg, "%s for user '%s'", what, name);
    else
        snprintf(msg, sizeof msg, "%s", what);
    err(ctx, file, line, msg);
}

/* After the lines are in: sort, and drop later duplicates. */
static size_t finish(users *u, const char *file, users_error_fn err, void *ctx)
{
    size_t out = 0, errors = 0;

    if (u->n > 1) /* u->v may be NULL when empty */
        qsort(u->v, u->n, sizeof *u->v, entry_cmp);
    for (size_t i = 0; i < u->n; i++) {
        if (out > 0 && strcmp(u->v[out - 1].name, u->v[i].name) == 0) {
            report(err, ctx, file, u->v[i].line, "duplicate entry",
                   u->v[i].name);
            entry_free(&u->v[i]);
            errors++;
        } else {
            u->v[out++] = u->v[i];
        }
    }
    u->n = out;
    return errors;
}

size_t users_parse(users *u, const char *file, const char *text, size_t len,
                   users_error_fn err, void *ctx)
{
    size_t errors = 0, pos = 0;
    unsigned lineno = 0;
    char *line = malloc(len + 1);

    if (!line) {
        err(ctx, file, 0, "out of memory");
        return 1;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = (nl ? (size_t)(nl - text) : len) - pos;
        const char *p = line, *problem;
        struct entry e = {0};
        struct entry *v;

        lineno++;
        memcpy(line, text + pos, n);
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strlen(line) != n)
            problem = "NUL byte in line";
        else
            problem = parse_line(p, &e);
        if (!problem) {
            v = realloc(u->v, (u->n + 1) * sizeof *v);
            if (v) {
                e.line = lineno;
                u->v = v;
                u->v[u->n++] = e;
            } else {
                entry_free(&e);
                problem = "out of memory";
            }
        }
        if (problem) {
            /* Name the user when the name itself is fine: it helps, and
             * it is the only part of a line that is not a secret. */
            size_t nlen = strcspn(p, ":");
            char *name = p[nlen] && name_ok(p, nlen) ? strndup(p, nlen) : NULL;

            report(err, ctx, file, lineno, problem, name);
            free(name);
            errors++;
        }
    }
    explicit_bzero(line, len + 1); /* it held passwords */
    free(line);
    return errors + finish(u, file, err, ctx);
}

size_t users_load_file(users *u, const char *path, users_error_fn err,
                       void *ctx)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, msg[256];
    size_t len = 0, errors;

    if (f) {
        text = malloc(MAX_FILE + 1);
        len = text ? fread(text, 1, MAX_FILE + 1, f) : 0;
    }
    if (!f || !text || ferror(f) || len > MAX_FILE) {
        snprintf(msg, sizeof msg, "cannot read: %s",
                 !f || ferror(f) ? strerror(errno)
                 : !text         ? "out of memory"
                                 : "larger than 16 MiB");
        err(ctx, path, 0, msg);
        errors = 1;
    } else {
        errors = users_parse(u, path, text, len, err, ctx);
    }
    if (text) {
        explicit_bzero(text, len);
        free(text);
    }
    if (f)
        fclose(f);
    return errors;
}

static const struct entry *find(const users *u, const char *name)
{
    size_t lo = 0, hi = u->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, u->v[mid].name);

        if (c == 0)
            return &u->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool crypt_verify(const struct entry *e, const char *password,
                         size_t len)
{
    struct crypt_data *cd;
    char *pw;
    const char *out;
    bool ok = false;

    if (memchr(password, '\0', len))
        return false; /* crypt(3) would see a shorter password */
    cd = calloc(1, sizeof *cd);
    pw = strndup(password, len);
    if (cd && pw) {
        out = crypt_r(pw, e->secret, cd);
        ok = out && out[0] != '*' &&
             users_ct_equal(out, strlen(out), e->secret, e->secret_len);
    }
    if (pw) {
        explicit_bzero(pw, len);
        free(pw);
    }
    if (cd) {
        explicit_bzero(cd, sizeof *cd);
        free(cd);
    }
    return ok;
}

bool users_exists(const users *u, const char *name)
{
    return name && find(u, name) != NULL;
}

bool users_verify(const users *u, const char *name, const char *password,
                  size_t len)
{
    const struct entry *e = name && password ? find(u, name) : NULL;

    if (!e)
        return false;
    if (e->scheme == SCHEME_PLAIN)
        return users_ct_equal(e->secret, e->secret_len, password, len);
    return crypt_verify(e, password, len);
}
