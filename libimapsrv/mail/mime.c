/* Streaming MIME parser.  Work is done per line: a line end may close
 * parts (a boundary of an open multipart) or end a header block.  Offsets
 * are exact whatever the line ends (CRLF or bare LF).
 *
 * Line rule: `lines` is the number of LF bytes in the body plus one when
 * the body is not empty and does not end in LF.  Per RFC 2046 the line
 * break before a boundary belongs to the boundary, not to the part. */
#include "mail/mime.h"

#include "proto/base64.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mime_limits_init(struct mime_limits *l)
{
    l->max_depth = 20;
    l->max_parts = 1000;
    l->max_header = 64 * 1024;
}

static bool is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* ---- header fields --------------------------------------------------- */

const char *mime_header_fetch(const char *hdr, size_t len, const char *name,
                              struct arena *arena, bool *oom_r)
{
    size_t nlen = strlen(name), pos = 0;

    while (pos < len) {
        size_t ls = pos, colon, end, i, o;
        char *v;

        if (hdr[pos] == '\n' ||
            (hdr[pos] == '\r' && pos + 1 < len && hdr[pos + 1] == '\n'))
            break; /* blank line: end of the header */
        /* field end: a LF not followed by WSP */
        end = pos;
        while (end < len) {
            if (hdr[end] == '\n' && (end + 1 >= len || !is_wsp(hdr[end + 1])))
                break;
            end++;
        }
        pos = end < len ? end + 1 : len;
        colon = ls;
        while (colon < end && hdr[colon] != ':')
            colon++;
        if (colon == end)
            continue; /* not a field: tolerated, skipped */
        i = colon;
        while (i > ls && is_wsp(hdr[i - 1]))
            i--;
        if (i - ls != nlen || strncasecmp(hdr + ls, name, nlen) != 0)
            continue;
        v = arena_alloc(arena, end - colon);
        if (v == NULL) {
            *oom_r = true;
            return NULL;
        }
        o = 0;
        for (i = colon + 1; i < end; i++)
            if (hdr[i] != '\r' && hdr[i] != '\n')
                v[o++] = hdr[i];
        while (o > 0 && is_wsp(v[o - 1]))
            o--;
        v[o] = '\0';
        i = 0;
        while (is_wsp(v[i]))
            i++;
        return v + i;
    }
    return NULL;
}

const char *mime_header_get(const char *hdr, size_t len, const char *name,
                            struct arena *arena)
{
    bool oom = false;

    return mime_header_fetch(hdr, len, name, arena, &oom);
}

/* allocation context of the field parsers: remembers a failure */
struct pctx {
    struct arena *arena;
    bool oom;
};

/* ---- RFC 2045 value syntax ------------------------------------------- */

const char *mime_skip_comment(const char *s)
{
    int depth = 0;
    do {
        if (*s == '\\' && s[1] != '\0')
            s++;
        else if (*s == '(')
            depth++;
        else if (*s == ')')
            depth--;
        s++;
    } while (*s != '\0' && depth > 0);
    return s;
}

static const char *skip_cfws(const char *s)
{
    for (;;) {
        while (is_wsp(*s))
            s++;
        if (*s != '(')
            return s;
        s = mime_skip_comment(s);
    }
}

static bool is_tspecial(int c)
{
    return c <= ' ' || c == 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* token (8-bit tolerated) or quoted-string, unescaped, in arena */
static char *take_value(const char **sp, bool quoted_ok, struct pctx *c)
{
    struct arena *a = c->arena;

    const char *s = *sp;
    char *out;
    size_t o = 0;

    if (quoted_ok && *s == '"') {
        const char *e = ++s;
        while (*e != '\0' && *e != '"')
            e += (*e == '\\' && e[1] != '\0') ? 2 : 1;
        out = arena_alloc(a, (size_t)(e - s) + 1);
        if (out == NULL) {
            c->oom = true;
            return NULL;
        }
        while (s < e) {
            if (*s == '\\' && s + 1 < e)
                s++;
            out[o++] = *s++;
        }
        out[o] = '\0';
        *sp = *e == '"' ? e + 1 : e;
        return out;
    }
    const char *e = s;
    while (*e != '\0' &&
           (!is_tspecial((unsigned char)*e) || (unsigned char)*e >= 0x80))
        e++;
    *sp = e;
    out = arena_strndup(a, s, (size_t)(e - s));
    c->oom |= out == NULL;
    return out;
}

static void upcase(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s -= 32;
}

/* "NAME*3" or "NAME*3*": length of NAME, the index and whether the
 * segment is extended; false for anything else. */
static bool cont_segment(const char *name, size_t *base_r, unsigned *idx_r,
                         bool *ext_r)
{
    const char *star = strchr(name, '*'), *d;
    unsigned idx = 0;

    if (star == NULL || star == name || star[1] < '0' || star[1] > '9')
        return false;
    for (d = star + 1; *d >= '0' && *d <= '9' && idx < 1000; d++)
        idx = idx * 10 + (unsigned)(*d - '0');
    if (!(*d == '\0' || (d[0] == '*' && d[1] == '\0')))
        return false;
    *base_r = (size_t)(star - name);
    *idx_r = idx;
    *ext_r = *d == '*';
    return true;
}

/* RFC 2231 continuations: NAME*0, NAME*1, ... are joined into one
 * parameter, NAME (or NAME* when the first segment is extended, its value
 * keeping the charset'language' prefix and %-escapes, as servers send
 * it).  Segments are taken in index order from 0 while contiguous. */
static struct mime_param *join_continuations(struct mime_param *head,
                                             struct pctx *c)
{
    struct arena *a = c->arena;

    for (struct mime_param *p = head; p != NULL; p = p->next) {
        size_t base, len = 0;
        unsigned idx, want;
        bool ext, ext0 = false;

        if (!cont_segment(p->name, &base, &idx, &ext) || idx != 0)
            continue;
        ext0 = ext;
        /* total length of the contiguous segments */
        for (want = 0; want < 100; want++) { /* bounded work */
            struct mime_param *q;
            for (q = head; q != NULL; q = q->next) {
                size_t b2;
                unsigned i2;
                bool e2;
                if (cont_segment(q->name, &b2, &i2, &e2) && b2 == base &&
                    i2 == want && strncmp(q->name, p->name, base) == 0)
                    break;
            }
            if (q == NULL)
                break;
            len += strlen(q->value);
        }
        char *v = arena_alloc(a, len + 1);
        char *nm = arena_alloc(a, base + 2);
        if (v == NULL || nm == NULL) {
            c->oom = true;
            return head;
        }
        v[0] = '\0';
        for (unsigned k = 0; k < want; k++) {
            struct mime_param **qq;
            for (qq = &head; *qq != NULL; qq = &(*qq)->next) {
                size_t b2;
                unsigned i2;
                bool e2;
                if (cont_segment((*qq)->name, &b2, &i2, &e2) && b2 == base &&
                    i2 == k && strncmp((*qq)->name, p->name, base) == 0)
                    break;
            }
            strcat(v, (*qq)->value);
            if (*qq != p)
                *qq = (*qq)->next; /* unlink a later segment */
        }
        memcpy(nm, p->name, base);
        nm[base] = ext0 ? '*' : '\0';
        nm[base + 1] = '\0';
        p->name = nm;
        p->value = v;
    }
    return head;
}

/* "; attr=value" list; attribute names upper-cased, values as sent */
static struct mime_param *parse_params(const char *s, struct pctx *c)
{
    struct arena *a = c->arena;

    struct mime_param *head = NULL, **tail = &head;

    for (;;) {
        s = skip_cfws(s);
        while (*s != '\0' && *s != ';')
            s++; /* junk before the next ';' is skipped */
        if (*s == '\0')
            break;
        s = skip_cfws(s + 1);
        char *name = take_value(&s, false, c);
        if (name == NULL)
            return head;
        s = skip_cfws(s);
        if (*name == '\0' || *s != '=')
            continue;
        s = skip_cfws(s + 1);
        char *val = take_value(&s, true, c);
        struct mime_param *p = arena_alloc(a, sizeof(*p));
        if (val == NULL || p == NULL) {
            c->oom = true;
            return head;
        }
        upcase(name);
        p->name = name;
        p->value = val;
        p->next = NULL;
        *tail = p;
        tail = &p->next;
    }
    return join_continuations(head, c);
}

const char *mime_param_get(const struct mime_param *p, const char *name)
{
    for (; p != NULL; p = p->next)
        if (strcasecmp(p->name, name) == 0)
            return p->value;
    return NULL;
}

static void set_default_type(struct mime_part *part, struct pctx *c)
{
    const struct mime_part *par = part->parent;

    if (par != NULL && par->subtype != NULL &&
        strcmp(par->subtype, "DIGEST") == 0) {
        part->type = "MESSAGE";
        part->subtype = "RFC822";
        part->params = NULL;
        return;
    }
    part->type = "TEXT";
    part->subtype = "PLAIN";
    part->params = arena_alloc(c->arena, sizeof(*part->params));
    c->oom |= part->params == NULL;
    if (part->params != NULL) {
        part->params->name = "CHARSET";
        part->params->value = "US-ASCII";
        part->params->next = NULL;
    }
}

/* false when memory ran out */
static bool parse_fields(struct mime_part *part, const char *h, size_t len,
                         struct arena *a)
{
    struct pctx ctx = {a, false}, *c = &ctx;
    const char *v = mime_header_fetch(h, len, "Content-Type", a, &c->oom);
    bool ok = false;

    if (v != NULL) {
        const char *s = skip_cfws(v);
        char *t = take_value(&s, false, c);
        s = skip_cfws(s);
        if (t != NULL && *t != '\0' && *s == '/') {
            s = skip_cfws(s + 1);
            char *st = take_value(&s, false, c);
            if (st != NULL && *st != '\0') {
                upcase(t);
                upcase(st);
                part->type = t;
                part->subtype = st;
                part->params = parse_params(s, c);
                ok = true;
            }
        }
    }
    if (!ok) /* absent or unparsable: RFC 2045 5.2 default */
        set_default_type(part, c);
    part->id = mime_header_fetch(h, len, "Content-ID", a, &c->oom);
    part->description =
        mime_header_fetch(h, len, "Content-Description", a, &c->oom);
    part->md5 = mime_header_fetch(h, len, "Content-MD5", a, &c->oom);
    part->language = mime_header_fetch(h, len, "Content-Language", a, &c->oom);
    part->location = mime_header_fetch(h, len, "Content-Location", a, &c->oom);
    v = mime_header_fetch(h, len, "Content-Transfer-Encoding", a, &c->oom);
    if (v != NULL) {
        const char *s = skip_cfws(v);
        char *e = take_value(&s, false, c);
        if (e != NULL && *e != '\0') {
            upcase(e);
            part->encoding = e;
        }
    }
    v = mime_header_fetch(h, len, "Content-Disposition", a, &c->oom);
    if (v != NULL) {
        const char *s = skip_cfws(v);
        char *d = take_value(&s, false, c);
        if (d != NULL && *d != '\0') {
            upcase(d);
            part->disposition = d;
            part->disp_params = parse_params(s, c);
        }
    }
    return !c->oom;
}

/* ---- the streaming state machine ------------------------------------ */

/* A new part, last child of frame f's part (f NULL: the root). */
static struct mime_part *new_part(struct mime_parser *p, struct mime_frame *f,
                                  uint64_t start)
{
    struct mime_part *part = arena_zalloc(p->arena, sizeof(*part));

    if (part == NULL) {
        p->oom = true;
        return NULL;
    }
    part->header_start = start;
    if (f != NULL) {
        part->parent = f->part;
        if (f->last != NULL)
            f->last->next = part;
        else
            f->part->children = part;
        f->last = part;
        f->part->nchildren++;
    }
    p->nparts++;
    return part;
}

static bool push(struct mime_parser *p, struct mime_part *part)
{
    struct mime_frame *f = &p->stack[p->depth++];

    memset(f, 0, sizeof(*f));
    f->part = part;
    p->in_header = true;
    p->hdr_len = 0;
    p->hdr_dropped = 0;
    return true;
}

/* The header of the top frame is complete at offset `end`. */
static void end_header(struct mime_parser *p, uint64_t end)
{
    struct mime_frame *f = &p->stack[p->depth - 1];
    struct mime_part *part = f->part;

    p->in_header = false;
    part->header_end = part->body_start = end;
    if (!parse_fields(part, p->hdr, p->hdr_len, p->arena)) {
        p->oom = true;
        return;
    }
    if (part->parent == NULL || part->parent->message) {
        char *h = arena_alloc(p->arena, p->hdr_len + 1);
        if (h == NULL) {
            p->oom = true;
            return;
        }
        memcpy(h, p->hdr, p->hdr_len);
        h[p->hdr_len] = '\0';
        part->header = h;
        part->header_len = p->hdr_len;
    }
    if (p->frozen)
        return;
    bool room = p->depth < p->lim.max_depth && p->depth < MIME_MAX_STACK;
    if (strcmp(part->type, "MULTIPART") == 0) {
        const char *b = mime_param_get(part->params, "BOUNDARY");
        if (b != NULL && *b != '\0' && room && strlen(b) + 4 < MIME_LINE_KEEP) {
            f->boundary = b;
            f->blen = strlen(b);
            part->multipart = true;
        }
    } else if (strcmp(part->type, "MESSAGE") == 0 &&
               strcmp(part->subtype, "RFC822") == 0 && room &&
               p->nparts < p->lim.max_parts &&
               (part->encoding == NULL || strcmp(part->encoding, "7BIT") == 0 ||
                strcmp(part->encoding, "8BIT") == 0 ||
                strcmp(part->encoding, "BINARY") == 0)) {
        struct mime_part *m = new_part(p, f, end);
        if (m != NULL) {
            part->message = true;
            push(p, m);
        }
    }
}

/* Pop the top frame; the body ends before the line break that precedes
 * the line starting at line_start (at_line), or at p->off. */
static void pop(struct mime_parser *p, bool at_line)
{
    struct mime_frame *f = &p->stack[p->depth - 1];
    struct mime_part *part = f->part;

    if (p->in_header) {
        uint64_t e = at_line ? p->line_start : p->off;
        end_header(p, e);
        /* end_header may have pushed a message child: close it too */
        if (p->stack[p->depth - 1].part != part) {
            pop(p, at_line);
            f = &p->stack[p->depth - 1];
        }
        p->in_header = false;
    }
    uint64_t end, lfs = f->lf_count;
    bool ends_lf;
    if (at_line) {
        uint64_t eol = p->line_start > 0 ? (p->line_cr ? 2 : 1) : 0;
        end = p->line_start - eol;
        if (end < part->body_start)
            end = part->body_start;
        if (p->line_start > part->body_start && lfs > 0)
            lfs--;
        ends_lf = p->lf_prev != 0 && p->lf_prev == end;
    } else {
        end = p->off;
        ends_lf = p->last == '\n';
    }
    part->body_end = end;
    part->lines = lfs + (end > part->body_start && !ends_lf ? 1 : 0);
    p->depth--;
}

/* The current line is complete at p->off (its LF consumed); has_lf is
 * false only for an unterminated last line at finish. */
static void end_line(struct mime_parser *p, bool has_lf)
{
    size_t n = p->line_len < MIME_LINE_KEEP ? p->line_len : MIME_LINE_KEEP;
    bool whole = p->line_len <= MIME_LINE_KEEP;
    const char *l = p->line;
    bool cr = false;

    if (has_lf && n > 0)
        n--;
    if (n > 0 && l[n - 1] == '\r') {
        n--;
        cr = true;
    }
    /* boundary of an open multipart, innermost first */
    if (!p->frozen && whole && n >= 2 && l[0] == '-' && l[1] == '-') {
        for (unsigned k = p->depth; k-- > 0;) {
            struct mime_frame *f = &p->stack[k];
            if (f->boundary == NULL || f->closed || n < 2 + f->blen ||
                memcmp(l + 2, f->boundary, f->blen) != 0)
                continue;
            size_t i = 2 + f->blen;
            bool close = n >= i + 2 && l[i] == '-' && l[i + 1] == '-';
            if (close)
                i += 2;
            while (i < n && is_wsp(l[i]))
                i++;
            if (i != n)
                continue;
            while (p->depth > k + 1)
                pop(p, true);
            if (close) {
                f->closed = true;
            } else if (p->nparts >= p->lim.max_parts) {
                p->frozen = true;
            } else {
                struct mime_part *c = new_part(p, f, p->off);
                if (c != NULL) {
                    for (unsigned j = 0; j < p->depth; j++)
                        if (p->stack[j].part->body_start <= p->line_start &&
                            has_lf)
                            p->stack[j].lf_count++;
                    push(p, c);
                    goto done;
                }
            }
            break;
        }
    }
    if (p->in_header && n == 0 && has_lf) {
        for (unsigned j = 0; j + 1 < p->depth; j++)
            p->stack[j].lf_count++;
        end_header(p, p->off);
        goto done;
    }
    if (has_lf) {
        unsigned top = p->in_header ? p->depth - 1 : p->depth;
        for (unsigned j = 0; j < top; j++)
            p->stack[j].lf_count++;
    }
done:
    p->lf_prev = p->lf_last;
    p->lf_last = p->off; /* offset just after this LF */
    p->line_cr = cr;
    p->line_start = p->off;
    p->line_len = 0;
}

void mime_parser_init(struct mime_parser *p, const struct mime_limits *lim,
                      struct arena *arena)
{
    memset(p, 0, sizeof(*p));
    if (lim != NULL)
        p->lim = *lim;
    else
        mime_limits_init(&p->lim);
    if (p->lim.max_depth == 0)
        p->lim.max_depth = 1;
    if (p->lim.max_parts == 0)
        p->lim.max_parts = 1;
    p->arena = arena;
    p->root = new_part(p, NULL, 0);
    if (p->root != NULL)
        push(p, p->root);
}

static void hdr_put(struct mime_parser *p, const char *s, size_t n)
{
    if (p->hdr_len + n > p->lim.max_header) {
        size_t keep = p->lim.max_header - p->hdr_len;
        p->hdr_dropped += n - keep;
        n = keep;
    }
    if (n == 0)
        return;
    if (p->hdr_len + n > p->hdr_cap) {
        size_t cap = p->hdr_cap ? p->hdr_cap : 1024;
        while (cap < p->hdr_len + n)
            cap *= 2;
        if (cap > p->lim.max_header)
            cap = p->lim.max_header;
        char *h = realloc(p->hdr, cap);
        if (h == NULL) {
            p->oom = true;
            return;
        }
        p->hdr = h;
        p->hdr_cap = cap;
    }
    memcpy(p->hdr + p->hdr_len, s, n);
    p->hdr_len += n;
}

void mime_feed(struct mime_parser *p, const void *data, size_t len)
{
    const char *d = data;

    if (p->oom || p->root == NULL)
        return;
    while (len > 0) {
        /* take up to the next LF in one go */
        const char *nl = memchr(d, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - d) + 1 : len;

        if (p->in_header)
            hdr_put(p, d, n);
        if (p->line_len < MIME_LINE_KEEP) {
            size_t k = MIME_LINE_KEEP - p->line_len;
            memcpy(p->line + p->line_len, d, n < k ? n : k);
        }
        p->line_len += n;
        p->off += n;
        p->last = (unsigned char)d[n - 1];
        if (nl != NULL)
            end_line(p, true);
        d += n;
        len -= n;
    }
}

imapsrv_status mime_finish(struct mime_parser *p, struct mime_part **root_r)
{
    if (!p->oom && p->root != NULL) {
        if (p->line_len > 0)
            end_line(p, false);
        while (p->depth > 0)
            pop(p, false);
    }
    free(p->hdr);
    p->hdr = NULL;
    *root_r = p->oom ? NULL : p->root;
    return p->oom || p->root == NULL ? IMAPSRV_E_NOMEM : IMAPSRV_OK;
}

void mime_parser_free(struct mime_parser *p)
{
    free(p->hdr);
    p->hdr = NULL;
}

imapsrv_status mime_parse(const void *msg, size_t len,
                          const struct mime_limits *lim, struct arena *arena,
                          struct mime_part **root_r)
{
    struct mime_parser p;

    mime_parser_init(&p, lim, arena);
    mime_feed(&p, msg, len);
    return mime_finish(&p, root_r);
}

/* ---- transfer-encoding decoders -------------------------------------- */

void mime_decoder_init(struct mime_decoder *d, const char *encoding)
{
    memset(d, 0, sizeof(*d));
    if (encoding != NULL && strcasecmp(encoding, "BASE64") == 0)
        d->kind = 1;
    else if (encoding != NULL && strcasecmp(encoding, "QUOTED-PRINTABLE") == 0)
        d->kind = 2;
}

static int qp_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static size_t qp_flush(struct mime_decoder *d, unsigned char *o)
{
    size_t n = d->npend;

    memcpy(o, d->pend, n);
    d->npend = 0;
    return n;
}

size_t mime_decode(struct mime_decoder *d, const void *in, size_t n, void *out)
{
    const unsigned char *s = in;
    unsigned char *o = out;
    size_t k = 0;

    if (d->kind == 0) {
        memcpy(o, s, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (d->kind == 1) {
            int v = base64_value(c);
            if (v < 0)
                continue; /* line breaks, padding, junk */
            d->acc = (d->acc << 6) | (unsigned)v;
            d->bits += 6;
            if (d->bits >= 8) {
                d->bits -= 8;
                o[k++] = (unsigned char)(d->acc >> d->bits);
            }
            continue;
        }
        if (d->npend > 0 && d->pend[0] == '=') {
            d->pend[d->npend++] = (char)c;
            if (d->npend == 2) {
                if (c == '\n')
                    d->npend = 0; /* soft line break */
                else if (c != '\r' && qp_hex(c) < 0)
                    k += qp_flush(d, o + k);
            } else {
                int h = qp_hex(d->pend[1]), l = qp_hex(c);
                if (d->pend[1] == '\r' && c == '\n')
                    d->npend = 0;
                else if (h >= 0 && l >= 0) {
                    o[k++] = (unsigned char)(h * 16 + l);
                    d->npend = 0;
                } else
                    k += qp_flush(d, o + k);
            }
        } else if (c == ' ' || c == '\t' || c == '\r') {
            if (d->npend == MIME_DEC_SLACK)
                k += qp_flush(d, o + k);
            d->pend[d->npend++] = (char)c;
        } else if (c == '\n') {
            /* trailing whitespace goes; the line break stays */
            if (d->npend > 0 && d->pend[d->npend - 1] == '\r')
                o[k++] = '\r';
            d->npend = 0;
            o[k++] = '\n';
        } else {
            k += qp_flush(d, o + k);
            if (c == '=')
                d->pend[d->npend++] = '=';
            else
                o[k++] = c;
        }
    }
    return k;
}

size_t mime_decode_finish(struct mime_decoder *d, void *out)
{
    size_t k = 0;

    if (d->kind == 2 && d->npend > 0 && d->pend[0] == '=')
        k = qp_flush(d, out); /* a cut escape is kept as text */
    d->npend = 0;             /* whitespace at the very end goes */
    d->bits = 0;
    return k;
}
