/* ENVELOPE and BODYSTRUCTURE builders.  Addresses are tokenised the
 * RFC 5322 way (atoms, quoted strings, comments, domain literals,
 * specials) and read tolerantly: anything unparsable still yields a
 * well-formed ENVELOPE. */
#include "mail/envelope.h"

#include <string.h>

struct tok {
    char kind;     /* 'a' atom, 'q' quoted, 'd' literal, or special */
    bool ws;       /* whitespace or comment before it */
    const char *s; /* raw text (quoted: with the quotes) */
    size_t n;
};

static bool is_special(int c)
{
    return strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* Tokens of s into t; with t NULL only counts them. */
static size_t tokenize(const char *s, struct tok *t)
{
    size_t n = 0;
    bool ws = false;

    while (*s != '\0') {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ws = true;
            s++;
            continue;
        }
        if (c == '(') { /* comment, nested: skipped */
            s = mime_skip_comment(s);
            ws = true;
            continue;
        }
        const char *b = s;
        char kind;
        if (c == '"' || c == '[') {
            char close = c == '"' ? '"' : ']';
            s++;
            while (*s != '\0' && *s != close)
                s += (*s == '\\' && s[1] != '\0') ? 2 : 1;
            if (*s != '\0')
                s++;
            kind = c == '"' ? 'q' : 'd';
        } else if (c < 0x80 && is_special(c)) {
            s++;
            kind = (char)c;
        } else {
            while (*s != '\0' && *s != ' ' && *s != '\t' &&
                   ((unsigned char)*s >= 0x80 || !is_special(*s)))
                s++;
            kind = 'a';
        }
        if (t != NULL) {
            t[n].kind = kind;
            t[n].ws = ws;
            t[n].s = b;
            t[n].n = (size_t)(s - b);
        }
        n++;
        ws = false;
    }
    return n;
}

/* Join tokens [i, j).  phrase: words unquoted, spaced as in the source;
 * else raw text without spaces (local parts, domains). */
static const char *join(const struct tok *t, size_t i, size_t j, bool phrase,
                        struct arena *a, bool *oom)
{
    size_t len = 0, o = 0;

    for (size_t k = i; k < j; k++)
        len += t[k].n + 1;
    char *out = arena_alloc(a, len + 1);
    if (out == NULL) {
        *oom = true;
        return NULL;
    }
    for (size_t k = i; k < j; k++) {
        if (phrase && t[k].ws && o > 0)
            out[o++] = ' ';
        if (phrase && t[k].kind == 'q') {
            const char *s = t[k].s + 1, *e = t[k].s + t[k].n;
            if (e > s && e[-1] == '"')
                e--;
            for (; s < e; s++) {
                if (*s == '\\' && s + 1 < e)
                    s++;
                out[o++] = *s;
            }
        } else {
            memcpy(out + o, t[k].s, t[k].n);
            o += t[k].n;
        }
    }
    out[o] = '\0';
    return out;
}

static bool stop_at(const struct tok *t, const char *set)
{
    return t->kind != 'a' && t->kind != 'q' && t->kind != 'd' &&
           strchr(set, t->kind) != NULL;
}

size_t env_parse_addresses(const char *value, struct arena *a,
                           struct env_addr **list_r)
{
    size_t n = value != NULL ? tokenize(value, NULL) : 0, i = 0, cnt = 0;
    /* each token yields at most one entry, plus a closing group end */
    struct tok *t = arena_alloc(a, (n + 1) * sizeof(*t));
    struct env_addr *out = arena_zalloc(a, (n + 2) * sizeof(*out));
    bool group = false, oom = false;

    *list_r = out;
    if (value == NULL)
        return 0;
    if (t == NULL || out == NULL) {
        *list_r = NULL; /* out of memory */
        return 0;
    }
    tokenize(value, t);
    while (i < n) {
        size_t j = i;
        if (t[i].kind == ',') {
            i++;
            continue;
        }
        if (t[i].kind == ';') {
            if (group)
                cnt++; /* all-NIL group end */
            group = false;
            i++;
            continue;
        }
        while (j < n && !stop_at(&t[j], "<:,;@"))
            j++;
        if (j < n && t[j].kind == ':') {
            if (!group) {
                out[cnt++].mailbox = join(t, i, j, true, a, &oom);
                group = true;
                if (oom) {
                    *list_r = NULL;
                    return 0;
                }
            }
            i = j + 1;
            continue;
        }
        struct env_addr *ad = &out[cnt];
        if (j < n && t[j].kind == '<') {
            size_t k = j + 1, m;
            if (j > i)
                ad->name = join(t, i, j, true, a, &oom);
            if (k < n && t[k].kind == '@') { /* obsolete route */
                while (k < n && !stop_at(&t[k], ":>"))
                    k++;
                if (k < n && t[k].kind == ':')
                    k++;
            }
            m = k;
            while (m < n && !stop_at(&t[m], "@>"))
                m++;
            ad->mailbox = join(t, k, m, false, a, &oom);
            if (m < n && t[m].kind == '@') {
                k = ++m;
                while (m < n && !stop_at(&t[m], ">,;"))
                    m++;
                ad->host = join(t, k, m, false, a, &oom);
            } else {
                ad->host = "";
            }
            /* skip what follows up to the next separator */
            while (m < n && !stop_at(&t[m], ",;"))
                m++;
            i = m;
        } else if (j < n && t[j].kind == '@') {
            size_t k = j + 1, m = k;
            while (m < n && !stop_at(&t[m], ",;<"))
                m++;
            ad->mailbox = join(t, i, j, false, a, &oom);
            ad->host = join(t, k, m, false, a, &oom);
            i = m;
            if (i < n && t[i].kind == '<') /* junk: to next ',' */
                while (i < n && !stop_at(&t[i], ",;"))
                    i++;
        } else {
            /* no '@': a bare word; host "" keeps it apart from groups */
            ad->mailbox = join(t, i, j, false, a, &oom);
            ad->host = "";
            i = j;
        }
        if (oom) {
            *list_r = NULL;
            return 0;
        }
        cnt++;
    }
    if (group)
        cnt++;
    return cnt;
}

static void nstr(struct wbuf *w, const char *s, unsigned f)
{
    wbuf_nstring(w, s, s != NULL ? strlen(s) : 0, f);
}

static void write_addrs(struct wbuf *w, const struct env_addr *l, size_t n,
                        unsigned f)
{
    if (n == 0) {
        wbuf_puts(w, "NIL");
        return;
    }
    wbuf_putc(w, '(');
    for (size_t i = 0; i < n; i++) {
        wbuf_putc(w, '(');
        nstr(w, l[i].name, f);
        wbuf_putc(w, ' ');
        nstr(w, l[i].adl, f);
        wbuf_putc(w, ' ');
        nstr(w, l[i].mailbox, f);
        wbuf_putc(w, ' ');
        nstr(w, l[i].host, f);
        wbuf_putc(w, ')');
    }
    wbuf_putc(w, ')');
}

void env_write_envelope(struct wbuf *w, const char *hdr, size_t len,
                        struct arena *a, unsigned f)
{
    static const char *const addr_fields[] = {
        "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
    };
    struct env_addr *from = NULL;
    size_t nfrom = 0;

    wbuf_putc(w, '(');
    nstr(w, mime_header_fetch(hdr, len, "Date", a, &w->oom), f);
    wbuf_putc(w, ' ');
    nstr(w, mime_header_fetch(hdr, len, "Subject", a, &w->oom), f);
    for (size_t i = 0; i < 6; i++) {
        struct env_addr *l;
        const char *v = mime_header_fetch(hdr, len, addr_fields[i], a, &w->oom);
        size_t n = env_parse_addresses(v, a, &l);
        if (v != NULL && n == 0 && l == NULL)
            w->oom = true;
        if (i == 0) {
            from = l;
            nfrom = n;
        } else if ((i == 1 || i == 2) && n == 0) {
            l = from; /* absent or empty: same as From */
            n = nfrom;
        }
        wbuf_putc(w, ' ');
        write_addrs(w, l, n, f);
    }
    wbuf_putc(w, ' ');
    nstr(w, mime_header_fetch(hdr, len, "In-Reply-To", a, &w->oom), f);
    wbuf_putc(w, ' ');
    nstr(w, mime_header_fetch(hdr, len, "Message-ID", a, &w->oom), f);
    wbuf_putc(w, ')');
}

static void write_params(struct wbuf *w, const struct mime_param *p, unsigned f)
{
    if (p == NULL) {
        wbuf_puts(w, "NIL");
        return;
    }
    wbuf_putc(w, '(');
    for (bool first = true; p != NULL; p = p->next, first = false) {
        if (!first)
            wbuf_putc(w, ' ');
        nstr(w, p->name, f);
        wbuf_putc(w, ' ');
        nstr(w, p->value, f);
    }
    wbuf_putc(w, ')');
}

/* SP dsp SP lang SP loc */
static void write_ext_tail(struct wbuf *w, const struct mime_part *p,
                           unsigned f)
{
    wbuf_putc(w, ' ');
    if (p->disposition != NULL) {
        wbuf_putc(w, '(');
        nstr(w, p->disposition, f);
        wbuf_putc(w, ' ');
        write_params(w, p->disp_params, f);
        wbuf_putc(w, ')');
    } else {
        wbuf_puts(w, "NIL");
    }
    wbuf_putc(w, ' ');
    /* Content-Language: comma-separated tags; one is a string */
    const char *l = p->language;
    size_t ntags = 0;
    if (l != NULL)
        for (const char *s = l; *s != '\0'; s++)
            ntags += *s == ',';
    if (l == NULL || *l == '\0') {
        wbuf_puts(w, "NIL");
    } else {
        if (ntags > 0)
            wbuf_putc(w, '(');
        bool first = true;
        while (*l != '\0') {
            while (*l == ' ' || *l == '\t' || *l == ',')
                l++;
            const char *e = l;
            while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t')
                e++;
            if (e > l) {
                if (!first)
                    wbuf_putc(w, ' ');
                wbuf_string(w, l, (size_t)(e - l), f);
                first = false;
            }
            l = e;
            while (*l != '\0' && *l != ',')
                l++;
        }
        if (ntags > 0)
            wbuf_putc(w, ')');
    }
    wbuf_putc(w, ' ');
    nstr(w, p->location, f);
}

void env_write_body(struct wbuf *w, const struct mime_part *p, bool ext,
                    struct arena *a, unsigned f)
{
    wbuf_putc(w, '(');
    if (strcmp(p->type, "MULTIPART") == 0) {
        if (p->children == NULL) /* 1*body is required */
            wbuf_puts(w, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\")"
                         " NIL NIL \"7BIT\" 0 0)");
        for (const struct mime_part *c = p->children; c; c = c->next)
            env_write_body(w, c, ext, a, f);
        wbuf_putc(w, ' ');
        nstr(w, p->subtype, f);
        if (ext) {
            wbuf_putc(w, ' ');
            write_params(w, p->params, f);
            write_ext_tail(w, p, f);
        }
        wbuf_putc(w, ')');
        return;
    }
    nstr(w, p->type, f);
    wbuf_putc(w, ' ');
    nstr(w, p->subtype, f);
    wbuf_putc(w, ' ');
    write_params(w, p->params, f);
    wbuf_putc(w, ' ');
    nstr(w, p->id, f);
    wbuf_putc(w, ' ');
    nstr(w, p->description, f);
    wbuf_putc(w, ' ');
    nstr(w, p->encoding != NULL ? p->encoding : "7BIT", f);
    wbuf_putc(w, ' ');
    wbuf_u64(w, p->body_end - p->body_start);
    if (p->message && p->children != NULL) {
        const struct mime_part *m = p->children;
        wbuf_putc(w, ' ');
        env_write_envelope(w, m->header, m->header_len, a, f);
        wbuf_putc(w, ' ');
        env_write_body(w, m, ext, a, f);
        wbuf_putc(w, ' ');
        wbuf_u64(w, p->lines);
    } else if (strcmp(p->type, "TEXT") == 0) {
        wbuf_putc(w, ' ');
        wbuf_u64(w, p->lines);
    }
    if (ext) {
        wbuf_putc(w, ' ');
        nstr(w, p->md5, f);
        write_ext_tail(w, p, f);
    }
    wbuf_putc(w, ')');
}
