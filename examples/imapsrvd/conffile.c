/* conffile: "key = value" configuration files (see conffile.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"

#define MAX_FILE (1024 * 1024) /* a config file, not a data set */
#define SHOWN_MAX 60           /* characters of a bad line quoted back */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static char *skip_space(char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

static void trim_end(char *start, char *end)
{
    while (end > start && is_space(end[-1]))
        end--;
    *end = '\0';
}

/* A quoted value, unescaped in place; `p` is on the opening quote. */
static const char *split_quoted(char *p)
{
    char *w = p, *r = p + 1;

    while (*r && *r != '"') {
        if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
            r++;
        *w++ = *r++;
    }
    if (*r != '"')
        return "unterminated quoted value";
    r = skip_space(r + 1);
    *w = '\0';
    if (*r && *r != '#')
        return "unexpected text after the closing quote";
    return NULL;
}

const char *conffile_split(char *buf, char **key_r, char **value_r)
{
    char *key = skip_space(buf), *eq = strchr(key, '='), *v;

    if (!eq)
        return "expected 'key = value'";
    trim_end(key, eq);
    if (!*key)
        return "missing key before '='";
    for (char *k = key; *k; k++)
        if (!is_key_char(*k))
            return "invalid key (letters, digits, '.', '_', '-')";
    v = skip_space(eq + 1);
    if (*v == '"') {
        const char *err = split_quoted(v);

        if (err)
            return err;
    } else {
        /* '#' begins a comment only after whitespace, so "a#b" is a value
         * (and so is "key=#x"; "key = #x" is an empty value). */
        char *r = v;

        while (*r && !(*r == '#' && is_space(r[-1])))
            r++;
        trim_end(v, r);
    }
    *key_r = key;
    *value_r = v;
    return NULL;
}

/* The text of a bad line as an error may quote it: printable, bounded, and
 * cut after '=' if the line may hold a secret. */
static void shown_text(const char *line, char *out, size_t outlen)
{
    size_t n = 0, max = outlen - 4; /* room for "..." */
    const char *eq = strchr(line, '=');
    bool secret = strcasestr(line, "pass") || strcasestr(line, "secret");
    const char *end = !secret ? line + strlen(line)
                      : eq    ? eq + 1
                              : line + strcspn(line, " \t");

    for (const char *p = line; p < end && n < max; p++)
        out[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    out[n] = '\0';
    if (end != line + strlen(line) || (n == max && line[n]))
        strcat(out, "...");
}

static void report(const conffile_handler *h, const char *file, unsigned line,
                   const char *what, const char *text)
{
    char shown[SHOWN_MAX + 4], msg[sizeof shown + 128];

    shown_text(text, shown, sizeof shown);
    snprintf(msg, sizeof msg, "%s: '%s'", what, shown);
    h->error(h->ctx, file, line, msg);
}

size_t conffile_parse(const char *file, const char *text, size_t len,
                      const conffile_handler *h)
{
    size_t errors = 0, pos = 0;
    unsigned lineno = 0;
    char *line = malloc(len + 1), *work = malloc(len + 1);

    if (!line || !work) {
        free(line);
        free(work);
        h->error(h->ctx, file, 0, "out of memory");
        return 1;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = (nl ? (size_t)(nl - text) : len) - pos;
        char *p, *key, *value;
        const char *err;

        lineno++;
        memcpy(line, text + pos, n);
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        /* Split a copy: messages quote the line as it was written. */
        p = skip_space(strcpy(work, line));
        if (strlen(line) != n) {
            report(h, file, lineno, "NUL byte in line", line);
            errors++;
        } else if (*p == '\0' || *p == '#') {
            continue;
        } else if ((err = conffile_split(p, &key, &value)) != NULL) {
            report(h, file, lineno, err, skip_space(line));
            errors++;
        } else {
            h->entry(h->ctx, file, lineno, key, value);
        }
    }
    free(line);
    free(work);
    return errors;
}

size_t conffile_parse_file(const char *path, const conffile_handler *h)
{
    FILE *f = fopen(path, "rb");
    char *text;
    size_t len, errors;
    char msg[256];

    if (!f) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        h->error(h->ctx, path, 0, msg);
        return 1;
    }
    text = malloc(MAX_FILE + 1);
    len = text ? fread(text, 1, MAX_FILE + 1, f) : 0;
    if (!text || ferror(f) || len > MAX_FILE) {
        snprintf(msg, sizeof msg, "cannot read: %s",
                 !text            ? "out of memory"
                 : len > MAX_FILE ? "larger than 1 MiB"
                                  : strerror(errno));
        h->error(h->ctx, path, 0, msg);
        errors = 1;
    } else {
        errors = conffile_parse(path, text, len, h);
    }
    free(text);
    fclose(f);
    return errors;
}
