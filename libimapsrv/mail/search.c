/* SEARCH evaluation: see search.h.
 *
 * A program is a flat array of nodes in pre-order; each node records the
 * index one past its subtree (`end`), so the children of an AND are walked
 * by jumping from one `end` to the next, and evaluation needs no pointers
 * and no allocation for keys answered from the view.  Nested ANDs are
 * flattened and the children of AND and OR are ordered cheap first (view,
 * then header, then body), which changes no result under three-valued logic
 * but lets a FALSE flag spare the header scan. */
#include "mail/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/rfc2047.h"
#include "mail/seqset.h"

enum op {
    OP_TRUE,
    OP_FALSE,
    OP_FLAGS,   /* (flags & mask) == want */
    OP_KW,      /* (keywords & mask) != 0 is cmp */
    OP_LARGER,  /* size > num */
    OP_SMALLER, /* size < num */
    OP_MODSEQ,  /* modseq >= num */
    OP_SET,     /* index in set */
    OP_IDATE,   /* internal date vs day, cmp */
    OP_SDATE,   /* Date: header vs day, cmp */
    OP_HEADER,  /* needle in a field, or anywhere in the header */
    OP_BODY,    /* body needle found */
    OP_NOT,
    OP_OR,
    OP_AND,
};

enum { CMP_BEFORE, CMP_ON, CMP_SINCE };

struct node {
    uint8_t op, cmp;
    uint32_t end; /* one past the last node of this subtree */
    union {
        struct {
            unsigned mask, want;
        } flags;
        uint64_t num;
        int64_t day;
        const struct seqset_result *set;
        struct {
            const char *field; /* NULL: the whole header (TEXT) */
            const char *needle;
            size_t len;
        } hdr;
        uint32_t body;
    } u;
};

struct needle {
    const char *s;
    size_t len;
    bool native;          /* answered by the store's index: */
    const uint32_t *uids; /* ascending */
    size_t n_uids;
};

struct search_prog {
    struct node *nodes;
    uint32_t count;
    unsigned uses;
    struct needle *body; /* BODY/TEXT needles, folded */
    uint32_t n_body;
    size_t body_max; /* longest body needle */
};

/* ---- case folding ---------------------------------------------------- */

/* Simple case folding of a code point below U+0800 (all our mappings stay
 * there, so a folded string is never longer than its source). */
static unsigned fold_cp(unsigned c)
{
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 0x20;
    if (c == 0xB5)
        return 0x3BC; /* micro sign folds to mu */
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if (c == 0x17F)
            return 's';
        if (c == 0x131 || c == 0x138 || c == 0x149)
            return c;
        /* capitals are odd in these two runs, even elsewhere */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;
        return c | 1;
    }
    if (c >= 0x386 && c <= 0x3AB) {
        if (c >= 0x391 && c != 0x3A2)
            return c + 0x20;
        if (c == 0x386)
            return 0x3AC;
        if (c >= 0x388 && c <= 0x38A)
            return c + 0x25;
        if (c == 0x38C)
            return 0x3CC;
        if (c == 0x38E || c == 0x38F)
            return c + 0x3F;
        return c;
    }
    if (c == 0x3C2)
        return 0x3C3; /* final sigma */
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) ||
        (c >= 0x4D0 && c <= 0x4FF))
        return c | 1;
    if (c == 0x4C0)
        return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE)
        return (c & 1) ? c + 1 : c;
    return c;
}

static bool is_lead2(unsigned char b)
{
    return b >= 0xC2 && b <= 0xDF;
}

/* Safe in place (out == in): each character is read before it is written
 * and never grows. */
size_t search_fold(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0;

    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            out[o++] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
            i++;
            continue;
        }
        if (!is_lead2(b) || i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) {
            out[o++] = (char)b; /* longer sequences and invalid bytes */
            i++;
            continue;
        }
        unsigned c = fold_cp(((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu));
        i += 2;
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

/* ---- dates ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The calendar day of the internal date in its own zone. */
static int64_t internal_day(const struct view_msg *m)
{
    return floor_div(m->internaldate + (int64_t)m->tz_offset_min * 60, 86400);
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Skip whitespace, line breaks (the value may still be folded) and
 * nested comments. */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
            i++;
        } else if (s[i] == '(') {
            int depth = 0;
            do {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                else if (s[i] == '(')
                    depth++;
                else if (s[i] == ')')
                    depth--;
                i++;
            } while (i < n && depth > 0);
        } else {
            break;
        }
    }
    return i;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Index (0-based) of a 3-letter name at the start of a word of at least
 * three letters, or -1. */
static int name_index(const char *w, size_t len, const char *names)
{
    if (len < 3)
        return -1;
    for (int k = 0; names[k * 3] != '\0'; k++)
        if (strncasecmp(w, names + k * 3, 3) == 0)
            return k;
    return -1;
}

static size_t take_digits(const char *s, size_t n, size_t i, int *v_r,
                          size_t *ndig_r)
{
    size_t start = i;
    int v = 0;

    while (i < n && is_digit(s[i]) && i - start < 5)
        v = v * 10 + (s[i++] - '0');
    *v_r = v;
    *ndig_r = i - start;
    return i;
}

/* Only the date matters to SENT*: the time and zone after it are not
 * checked, so a date with a broken time still counts as written. */
bool search_parse_date(const char *s, size_t n, struct imap_date *d_r)
{
    static const char days[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    size_t i = skip_cfws(s, n, 0), w, nd;
    int day, month, year;

    if (i < n && is_alpha(s[i])) { /* day-of-week [","] */
        for (w = i; w < n && is_alpha(s[w]); w++)
            ;
        if (name_index(s + i, w - i, days) < 0)
            return false;
        i = skip_cfws(s, n, w);
        if (i < n && s[i] == ',')
            i = skip_cfws(s, n, i + 1);
    }
    i = take_digits(s, n, i, &day, &nd);
    if (nd < 1 || nd > 2)
        return false;
    i = skip_cfws(s, n, i);
    if (i < n && s[i] == '-') /* "14-Mar-2023" from some mailers */
        i++;
    for (w = i; w < n && is_alpha(s[w]); w++)
        ;
    month = name_index(s + i, w - i, months) + 1;
    if (month == 0)
        return false;
    i = skip_cfws(s, n, w);
    if (i < n && s[i] == '-')
        i++;
    i = take_digits(s, n, i, &year, &nd);
    if (nd < 2 || nd > 4 || (i < n && is_alpha(s[i])))
        return false;
    if (nd == 2) /* RFC 5322 4.3 obsolete years */
        year += year < 50 ? 2000 : 1900;
    else if (nd == 3)
        year += 1900;
    if (day < 1 || day > month_days(year, month))
        return false;
    d_r->year = year;
    d_r->month = month;
    d_r->day = day;
    return true;
}

/* ---- header access --------------------------------------------------- */

/* The next field of a header block from *pos: name and raw value spans
 * (the value still folded).  False at the blank line or the end. */
static bool next_field(const char *h, size_t len, size_t *pos,
                       const char **name_r, size_t *nlen_r, const char **val_r,
                       size_t *vlen_r)
{
    while (*pos < len) {
        size_t ls = *pos, end = ls, colon, k;

        if (h[ls] == '\n' ||
            (h[ls] == '\r' && ls + 1 < len && h[ls + 1] == '\n'))
            return false;
        while (end < len &&
               !(h[end] == '\n' &&
                 (end + 1 >= len || (h[end + 1] != ' ' && h[end + 1] != '\t'))))
            end++;
        *pos = end < len ? end + 1 : len;
        for (colon = ls; colon < end && h[colon] != ':'; colon++)
            ;
        if (colon == end)
            continue; /* not a field */
        for (k = colon; k > ls && (h[k - 1] == ' ' || h[k - 1] == '\t'); k--)
            ;
        *name_r = h + ls;
        *nlen_r = k - ls;
        *val_r = h + colon + 1;
        *vlen_r = end - colon - 1;
        return true;
    }
    return false;
}

/* s[0..n) unfolded (CRs dropped, a LF kept only where a field ends, so a
 * match never joins two fields), RFC 2047 decoded and case-folded into
 * scratch; NULL when out of memory. */
static char *prepare_text(const char *s, size_t n, struct arena *scratch,
                          size_t *len_r)
{
    char *u = arena_alloc(scratch, n + 1), *d;
    size_t o = 0;

    if (u == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' || (s[i] == '\n' && i + 1 < n &&
                             (s[i + 1] == ' ' || s[i + 1] == '\t')))
            continue;
        u[o++] = s[i];
    }
    u[o] = '\0';
    d = u;
    if (memmem(u, o, "=?", 2) != NULL) {
        d = rfc2047_decode(u, o, scratch, &o);
        if (d == NULL)
            return NULL;
    }
    *len_r = search_fold(d, o, d); /* in place */
    return d;
}

/* ---- compiling ------------------------------------------------------- */

struct cc {
    struct search_prog *p;
    const struct view *v;
    const uint32_t *saved;
    size_t n_saved;
    struct arena *a;
    const char **err_r;
};

/* Upper bound of nodes and body needles of a key subtree. */
static void count_key(const struct search_key *k, size_t *nodes, size_t *body)
{
    switch (k->type) {
    case SK_TEXT:
        *nodes += 3;
        ++*body;
        return;
    case SK_BODY: ++*body; break;
    case SK_NOT: count_key(k->u.sub[0], nodes, body); break;
    case SK_OR:
        count_key(k->u.sub[0], nodes, body);
        count_key(k->u.sub[1], nodes, body);
        break;
    case SK_AND:
        for (size_t i = 0; i < k->u.list.count; i++)
            count_key(&k->u.list.keys[i], nodes, body);
        break;
    default: break;
    }
    ++*nodes;
}

/* What a subtree costs to evaluate: 0 view only, 1 header, 2 body. */
static int cost(const struct search_key *k)
{
    int c = 0, d;

    switch (k->type) {
    case SK_BODY:
    case SK_TEXT: return 2;
    case SK_BCC:
    case SK_CC:
    case SK_FROM:
    case SK_SUBJECT:
    case SK_TO:
    case SK_HEADER:
    case SK_SENTBEFORE:
    case SK_SENTON:
    case SK_SENTSINCE: return 1;
    case SK_NOT: return cost(k->u.sub[0]);
    case SK_OR:
        c = cost(k->u.sub[0]);
        d = cost(k->u.sub[1]);
        return c > d ? c : d;
    case SK_AND:
        for (size_t i = 0; i < k->u.list.count && c < 2; i++)
            if ((d = cost(&k->u.list.keys[i])) > c)
                c = d;
        return c;
    default: return 0;
    }
}

static struct node *add(struct cc *c, enum op op)
{
    struct node *nd = &c->p->nodes[c->p->count++];

    memset(nd, 0, sizeof(*nd));
    nd->op = (uint8_t)op;
    nd->end = c->p->count;
    return nd;
}

static imapsrv_status oom(struct cc *c)
{
    *c->err_r = "Out of memory";
    return IMAPSRV_E_NOMEM;
}

static const char *fold_needle(struct cc *c, const struct imap_str *s,
                               size_t *len_r)
{
    char *f = arena_alloc(c->a, 2 * s->len + 1);

    if (f == NULL)
        return NULL;
    *len_r = search_fold(s->s, s->len, f);
    f[*len_r] = '\0';
    return f;
}

/* The messages whose UIDs are in the saved result, as view spans. */
static struct seqset_result *saved_set(struct cc *c)
{
    struct seqset_result *r = arena_zalloc(c->a, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->spans = arena_alloc(c->a, (c->n_saved + 1) * sizeof(*r->spans));
    if (r->spans == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_saved; i++) {
        uint32_t seq = view_uid_to_seq(c->v, c->saved[i]);
        struct seqset_span *last = r->count ? &r->spans[r->count - 1] : NULL;
        if (seq == 0 || (last != NULL && seq - 1 <= last->last))
            continue; /* expunged since it was saved, or a repeat */
        if (last != NULL && seq - 1 == last->last + 1)
            last->last = seq - 1;
        else
            r->spans[r->count++] = (struct seqset_span){seq - 1, seq - 1};
        r->total++;
    }
    r->cap = r->count;
    return r;
}

/* A copy in the arena: the program has no destructor to free a malloc'd
 * one. */
static struct seqset_result *copy_set(struct cc *c,
                                      const struct seqset_result *src)
{
    struct seqset_result *r = arena_alloc(c->a, sizeof(*r));

    if (r == NULL)
        return NULL;
    *r = *src;
    r->cap = r->count;
    r->spans = arena_alloc(c->a, (src->count + 1) * sizeof(*r->spans));
    if (r->spans == NULL)
        return NULL;
    if (src->count > 0)
        memcpy(r->spans, src->spans, src->count * sizeof(*r->spans));
    return r;
}

static imapsrv_status compile_set(struct cc *c, const struct imap_seqset *set,
                                  bool uid)
{
    struct seqset_result tmp, *r;
    imapsrv_status st;

    if (set->saved) {
        r = saved_set(c);
        if (r == NULL)
            return oom(c);
        add(c, OP_SET)->u.set = r;
        return IMAPSRV_OK;
    }
    seqset_result_init(&tmp);
    st = seqset_eval(set, c->v, uid, &tmp);
    r = st == IMAPSRV_OK ? copy_set(c, &tmp) : NULL;
    if (st == IMAPSRV_E_INVALID) {
        char *m = arena_alloc(c->a, 64);
        if (m != NULL)
            snprintf(m, 64, "Sequence number %u beyond EXISTS (%u)", tmp.bad,
                     view_exists(c->v));
        *c->err_r = m != NULL ? m : "Invalid sequence number";
    }
    seqset_result_free(&tmp);
    if (st != IMAPSRV_OK && st != IMAPSRV_E_NOMEM)
        return st;
    if (r == NULL)
        return oom(c);
    add(c, OP_SET)->u.set = r;
    return IMAPSRV_OK;
}

static imapsrv_status add_header(struct cc *c, const char *field,
                                 const struct imap_str *value)
{
    size_t len;
    const char *f = fold_needle(c, value, &len);
    struct node *nd;

    if (f == NULL)
        return oom(c);
    nd = add(c, OP_HEADER);
    nd->u.hdr.field = field;
    nd->u.hdr.needle = f;
    nd->u.hdr.len = len;
    c->p->uses |= SEARCH_USES_HEADER;
    return IMAPSRV_OK;
}

static imapsrv_status add_body(struct cc *c, const struct imap_str *s)
{
    struct needle *n = &c->p->body[c->p->n_body];

    n->s = fold_needle(c, s, &n->len);
    n->native = false;
    n->uids = NULL;
    n->n_uids = 0;
    if (n->s == NULL)
        return oom(c);
    if (n->len > c->p->body_max)
        c->p->body_max = n->len;
    add(c, OP_BODY)->u.body = c->p->n_body++;
    c->p->uses |= SEARCH_USES_BODY;
    return IMAPSRV_OK;
}

static void add_date(struct cc *c, enum op op, int cmp,
                     const struct imap_date *d)
{
    struct node *nd = add(c, op);

    nd->cmp = (uint8_t)cmp;
    nd->u.day = days_from_civil(d->year, d->month, d->day);
    if (op == OP_SDATE)
        c->p->uses |= SEARCH_USES_HEADER;
}

static imapsrv_status emit(struct cc *c, const struct search_key *k);

/* The children of an AND, nested ANDs flattened, those of cost `pass`. */
static imapsrv_status emit_and(struct cc *c, const struct search_key *k,
                               int pass)
{
    for (size_t i = 0; i < k->u.list.count; i++) {
        const struct search_key *ch = &k->u.list.keys[i];
        imapsrv_status st = IMAPSRV_OK;

        if (ch->type == SK_AND)
            st = emit_and(c, ch, pass);
        else if (cost(ch) == pass)
            st = emit(c, ch);
        if (st != IMAPSRV_OK)
            return st;
    }
    return IMAPSRV_OK;
}

static imapsrv_status emit_children(struct cc *c, const struct search_key *k)
{
    uint32_t at = c->p->count - 1;
    imapsrv_status st = IMAPSRV_OK;

    if (k->type == SK_OR) {
        bool swap = cost(k->u.sub[1]) < cost(k->u.sub[0]);
        st = emit(c, k->u.sub[swap]);
        if (st == IMAPSRV_OK)
            st = emit(c, k->u.sub[!swap]);
    } else if (k->type == SK_NOT) {
        st = emit(c, k->u.sub[0]);
    } else {
        for (int pass = 0; pass < 3 && st == IMAPSRV_OK; pass++)
            st = emit_and(c, k, pass);
    }
    c->p->nodes[at].end = c->p->count;
    return st;
}

static imapsrv_status emit_keyword(struct cc *c, const struct imap_str *kw,
                                   bool set)
{
    int bit = view_keyword_find(c->v, kw->s, kw->len);

    if (bit < 0) { /* no message of the view has it */
        add(c, set ? OP_FALSE : OP_TRUE);
    } else {
        struct node *nd = add(c, OP_KW);
        nd->u.num = 1ull << bit;
        nd->cmp = set;
    }
    return IMAPSRV_OK;
}

/* System flag keys as (flags & mask) == want; false for other keys. */
static bool flag_key(enum search_key_type t, unsigned *mask, unsigned *want)
{
    static const struct {
        uint8_t type;
        uint8_t mask, want;
    } tab[] = {
        {SK_ANSWERED, IMAPSRV_FLAG_ANSWERED, IMAPSRV_FLAG_ANSWERED},
        {SK_DELETED, IMAPSRV_FLAG_DELETED, IMAPSRV_FLAG_DELETED},
        {SK_DRAFT, IMAPSRV_FLAG_DRAFT, IMAPSRV_FLAG_DRAFT},
        {SK_FLAGGED, IMAPSRV_FLAG_FLAGGED, IMAPSRV_FLAG_FLAGGED},
        {SK_SEEN, IMAPSRV_FLAG_SEEN, IMAPSRV_FLAG_SEEN},
        {SK_RECENT, IMAPSRV_FLAG_RECENT, IMAPSRV_FLAG_RECENT},
        {SK_NEW, IMAPSRV_FLAG_RECENT | IMAPSRV_FLAG_SEEN, IMAPSRV_FLAG_RECENT},
        {SK_OLD, IMAPSRV_FLAG_RECENT, 0},
        {SK_UNANSWERED, IMAPSRV_FLAG_ANSWERED, 0},
        {SK_UNDELETED, IMAPSRV_FLAG_DELETED, 0},
        {SK_UNDRAFT, IMAPSRV_FLAG_DRAFT, 0},
        {SK_UNFLAGGED, IMAPSRV_FLAG_FLAGGED, 0},
        {SK_UNSEEN, IMAPSRV_FLAG_SEEN, 0},
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (tab[i].type == t) {
            *mask = tab[i].mask;
            *want = tab[i].want;
            return true;
        }
    }
    return false;
}

static const char *key_field(enum search_key_type t)
{
    switch (t) {
    case SK_BCC: return "Bcc";
    case SK_CC: return "Cc";
    case SK_FROM: return "From";
    case SK_SUBJECT: return "Subject";
    default: return "To";
    }
}

static imapsrv_status emit(struct cc *c, const struct search_key *k)
{
    unsigned mask, want;

    if (flag_key(k->type, &mask, &want)) {
        struct node *nd = add(c, OP_FLAGS);
        nd->u.flags.mask = mask;
        nd->u.flags.want = want;
        return IMAPSRV_OK;
    }
    switch (k->type) {
    case SK_ALL: add(c, OP_TRUE); break;
    case SK_KEYWORD:
    case SK_UNKEYWORD: return emit_keyword(c, &k->u.str, k->type == SK_KEYWORD);
    case SK_BCC:
    case SK_CC:
    case SK_FROM:
    case SK_SUBJECT:
    case SK_TO: return add_header(c, key_field(k->type), &k->u.str);
    case SK_HEADER: {
        char *f =
            arena_strndup(c->a, k->u.header.field.s, k->u.header.field.len);
        if (f == NULL)
            return oom(c);
        return add_header(c, f, &k->u.header.value);
    }
    case SK_BODY:
        if (k->u.str.len == 0) /* the empty string is in every text */
            add(c, OP_TRUE);
        else
            return add_body(c, &k->u.str);
        break;
    case SK_TEXT: {
        if (k->u.str.len == 0) {
            add(c, OP_TRUE);
            break;
        }
        /* OR (header) (body), the header first: it is cheaper */
        uint32_t at = c->p->count;
        imapsrv_status st;
        add(c, OP_OR);
        st = add_header(c, NULL, &k->u.str);
        if (st == IMAPSRV_OK)
            st = add_body(c, &k->u.str);
        c->p->nodes[at].end = c->p->count;
        return st;
    }
    case SK_BEFORE: add_date(c, OP_IDATE, CMP_BEFORE, &k->u.date); break;
    case SK_ON: add_date(c, OP_IDATE, CMP_ON, &k->u.date); break;
    case SK_SINCE: add_date(c, OP_IDATE, CMP_SINCE, &k->u.date); break;
    case SK_SENTBEFORE: add_date(c, OP_SDATE, CMP_BEFORE, &k->u.date); break;
    case SK_SENTON: add_date(c, OP_SDATE, CMP_ON, &k->u.date); break;
    case SK_SENTSINCE: add_date(c, OP_SDATE, CMP_SINCE, &k->u.date); break;
    case SK_LARGER: add(c, OP_LARGER)->u.num = k->u.number; break;
    case SK_SMALLER: add(c, OP_SMALLER)->u.num = k->u.number; break;
    case SK_MODSEQ:
        /* one modseq per message: RFC 7162 3.1.5 says to ignore the entry */
        add(c, OP_MODSEQ)->u.num = k->u.modseq.value;
        break;
    case SK_UID: return compile_set(c, &k->u.seqset, true);
    case SK_SEQSET: return compile_set(c, &k->u.seqset, false);
    case SK_NOT:
    case SK_OR:
    case SK_AND:
        add(c, k->type == SK_NOT ? OP_NOT : k->type == SK_OR ? OP_OR : OP_AND);
        return emit_children(c, k);
    default: *c->err_r = "Unknown search key"; return IMAPSRV_E_INVALID;
    }
    return IMAPSRV_OK;
}

imapsrv_status search_compile(const struct search_key *root,
                              const char *charset, const struct view *v,
                              const uint32_t *saved_uids, size_t n_saved,
                              struct arena *a, struct search_prog **prog_r,
                              const char **err_r)
{
    const char *dummy;
    struct cc c = {.v = v, .saved = saved_uids, .n_saved = n_saved, .a = a};
    size_t nodes = 0, body = 0;
    imapsrv_status st;

    c.err_r = err_r != NULL ? err_r : &dummy;
    *prog_r = NULL;
    if (charset != NULL && strcasecmp(charset, "UTF-8") != 0 &&
        strcasecmp(charset, "US-ASCII") != 0) {
        *c.err_r = "Unsupported charset";
        return IMAPSRV_E_UNSUPPORTED;
    }
    if (saved_uids == NULL)
        c.n_saved = 0;
    count_key(root, &nodes, &body);
    c.p = arena_zalloc(a, sizeof(*c.p));
    if (c.p == NULL)
        return oom(&c);
    c.p->nodes = arena_alloc(a, nodes * sizeof(*c.p->nodes));
    c.p->body = arena_alloc(a, (body + 1) * sizeof(*c.p->body));
    if (c.p->nodes == NULL || c.p->body == NULL)
        return oom(&c);
    st = emit(&c, root);
    if (st != IMAPSRV_OK)
        return st;
    *prog_r = c.p;
    return IMAPSRV_OK;
}

unsigned search_uses(const struct search_prog *p)
{
    return p->uses;
}

size_t search_body_count(const struct search_prog *p)
{
    return p->n_body;
}

const char *search_body_needle(const struct search_prog *p, size_t k)
{
    return p->body[k].s;
}

static int cmp_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

imapsrv_status search_set_body_result(struct search_prog *p, size_t k,
                                      const uint32_t *uids, size_t n,
                                      struct arena *a)
{
    uint32_t *copy = arena_alloc(a, (n ? n : 1) * sizeof(*copy));
    if (copy == NULL)
        return IMAPSRV_E_NOMEM;
    if (n)
        memcpy(copy, uids, n * sizeof(*copy));
    qsort(copy, n, sizeof(*copy), cmp_uid);
    p->body[k].uids = copy;
    p->body[k].n_uids = n;
    p->body[k].native = true;
    bool all = true;
    for (uint32_t i = 0; i < p->n_body; i++)
        all &= p->body[i].native;
    if (all)
        p->uses &= ~SEARCH_USES_BODY;
    return IMAPSRV_OK;
}

/* ---- body text ------------------------------------------------------- */

enum cs { CS_UTF8, CS_LATIN1, CS_CP1252 };

#define SLICE 2048 /* raw bytes decoded at a time */
#define DEC_MAX (SLICE + MIME_DEC_SLACK)

struct search_text {
    const struct search_prog *p;
    bool *found;
    uint32_t left;                /* needles not found yet */
    const struct mime_part *part; /* leaf text part being read, or next */
    uint64_t off;                 /* message bytes fed */
    bool in_part;                 /* part's decoder is set up */
    struct mime_decoder dec;
    enum cs cs;
    bool has_carry; /* a lead byte held back from the last slice */
    char *decbuf;   /* 1 byte of room for the carry, then DEC_MAX */
    char *conv;     /* 3 * DEC_MAX: 8-bit charsets as UTF-8 */
    char *win;      /* tail of the previous window, then new text */
    size_t tail;
};

/* 0x80..0x9F of Windows-1252 (rfc2047.c keeps its table private); the five
 * undefined bytes stay C1 controls */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static enum cs charset_kind(const char *name)
{
    static const char *const latin1[] = {"ISO-8859-1", "ISO_8859-1", "LATIN1",
                                         NULL};
    static const char *const cp1252[] = {"WINDOWS-1252", "CP1252", NULL};

    if (name == NULL)
        return CS_UTF8;
    for (int i = 0; latin1[i] != NULL; i++)
        if (strcasecmp(name, latin1[i]) == 0)
            return CS_LATIN1;
    for (int i = 0; cp1252[i] != NULL; i++)
        if (strcasecmp(name, cp1252[i]) == 0)
            return CS_CP1252;
    return CS_UTF8; /* UTF-8, US-ASCII, and unknown ones taken as they are */
}

static size_t to_utf8(enum cs cs, const unsigned char *s, size_t n, char *o)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (cs == CS_CP1252 && c >= 0x80 && c < 0xA0)
            c = cp1252_c1[c - 0x80];
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xC0 | c >> 6);
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            o[k++] = (char)(0xE0 | c >> 12);
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return k;
}

struct search_text *search_text_new(const struct search_prog *p,
                                    struct arena *a)
{
    struct search_text *t = arena_zalloc(a, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->p = p;
    t->found = arena_zalloc(a, p->n_body + 1);
    if (t->found == NULL)
        return NULL;
    if (p->n_body == 0)
        return t; /* nothing to look for: feeding is a no-op */
    t->decbuf = arena_alloc(a, 1 + DEC_MAX);
    t->conv = arena_alloc(a, 3 * DEC_MAX);
    t->win = arena_alloc(a, p->body_max + 3 * DEC_MAX);
    if (t->decbuf == NULL || t->conv == NULL || t->win == NULL)
        return NULL;
    return t;
}

/* Pre-order successor of part, or NULL. */
static const struct mime_part *next_part(const struct mime_part *part)
{
    if (part->children != NULL)
        return part->children;
    while (part != NULL && part->next == NULL)
        part = part->parent;
    return part != NULL ? part->next : NULL;
}

/* From part on, the first leaf text part. */
static const struct mime_part *text_leaf(const struct mime_part *part)
{
    while (part != NULL &&
           (part->children != NULL || strcmp(part->type, "TEXT") != 0))
        part = next_part(part);
    return part;
}

void search_text_begin(struct search_text *t, const struct mime_part *root)
{
    memset(t->found, 0, t->p->n_body);
    t->left = t->p->n_body;
    t->off = 0;
    t->in_part = false;
    t->part = t->left > 0 ? text_leaf(root) : NULL;
}

/* Match the window: the tail kept from before plus wlen - tail new bytes. */
static void match(struct search_text *t, size_t wlen)
{
    const struct search_prog *p = t->p;
    size_t keep = p->body_max - 1;

    for (uint32_t k = 0; k < p->n_body; k++) {
        if (!t->found[k] &&
            memmem(t->win, wlen, p->body[k].s, p->body[k].len) != NULL) {
            t->found[k] = true;
            t->left--;
        }
    }
    if (keep > wlen)
        keep = wlen;
    memmove(t->win, t->win + wlen - keep, keep);
    t->tail = keep;
}

/* Decoded bytes (at decbuf + 1) to UTF-8, folded, matched.  A 2-byte
 * sequence cut at the slice end is held back so it folds whole. */
static void push_decoded(struct search_text *t, size_t n, bool last)
{
    char *src = t->decbuf + 1;
    size_t len = n;

    if (t->cs != CS_UTF8) {
        len = to_utf8(t->cs, (const unsigned char *)src, n, t->conv);
        src = t->conv;
    } else {
        if (t->has_carry) {
            src--;
            len++;
            t->has_carry = false;
        }
        if (!last && len > 0 && is_lead2((unsigned char)src[len - 1])) {
            t->decbuf[0] = src[len - 1];
            t->has_carry = true;
            len--;
        }
    }
    if (len == 0)
        return;
    match(t, t->tail + search_fold(src, len, t->win + t->tail));
}

static void start_part(struct search_text *t)
{
    mime_decoder_init(&t->dec, t->part->encoding);
    t->cs = charset_kind(mime_param_get(t->part->params, "CHARSET"));
    t->has_carry = false;
    t->tail = 0; /* a match never spans two parts */
    t->in_part = true;
}

static void end_part(struct search_text *t)
{
    if (t->in_part)
        push_decoded(t, mime_decode_finish(&t->dec, t->decbuf + 1), true);
    t->in_part = false;
    t->part = t->left > 0 ? text_leaf(next_part(t->part)) : NULL;
}

void search_text_feed(struct search_text *t, const void *data, size_t len)
{
    const char *d = data;

    while (len > 0 && t->part != NULL && t->left > 0) {
        const struct mime_part *part = t->part;
        uint64_t n;

        if (t->off < part->body_start) {
            n = part->body_start - t->off;
        } else if (t->off >= part->body_end) {
            end_part(t);
            continue;
        } else {
            if (!t->in_part)
                start_part(t);
            n = part->body_end - t->off;
            if (n > SLICE)
                n = SLICE;
            if (n > len)
                n = len;
            push_decoded(t, mime_decode(&t->dec, d, n, t->decbuf + 1), false);
            if (t->off + n == part->body_end) {
                t->off += n;
                d += n;
                len -= n;
                end_part(t);
                continue;
            }
        }
        if (n > len)
            n = len;
        t->off += n;
        d += n;
        len -= n;
    }
    t->off += len;
}

void search_text_end(struct search_text *t)
{
    /* a part the data ended in (a truncated message) is flushed */
    if (t->part != NULL && t->in_part)
        end_part(t);
    t->part = NULL;
}

/* ---- evaluation ------------------------------------------------------ */

struct ectx {
    const struct search_prog *p;
    const struct search_msg *m;
    const struct view_msg *vm;
    struct arena *scratch;
    const char *htext; /* the whole header prepared, for TEXT */
    size_t htext_len;
};

static enum search_truth truth(bool b)
{
    return b ? SEARCH_TRUE : SEARCH_FALSE;
}

static enum search_truth cmp_day(int64_t day, const struct node *nd)
{
    switch (nd->cmp) {
    case CMP_BEFORE: return truth(day < nd->u.day);
    case CMP_ON: return truth(day == nd->u.day);
    default: return truth(day >= nd->u.day);
    }
}

static enum search_truth sent_date(struct ectx *e, const struct node *nd)
{
    const struct search_msg *m = e->m;
    const char *name, *val;
    size_t nlen, vlen, pos = 0;
    struct imap_date d;

    if (m->header == NULL)
        return SEARCH_UNKNOWN;
    while (
        next_field(m->header, m->header_len, &pos, &name, &nlen, &val, &vlen)) {
        if (nlen == 4 && strncasecmp(name, "Date", 4) == 0) {
            if (search_parse_date(val, vlen, &d))
                return cmp_day(days_from_civil(d.year, d.month, d.day), nd);
            break;
        }
    }
    /* no usable Date: take the internal date, as Dovecot does, rather
     * than let the message escape every SENT* key */
    return cmp_day(internal_day(e->vm), nd);
}

/* Out of memory in scratch counts as no match: the caller's scratch limit
 * bounds what one message may cost. */
static enum search_truth header_match(struct ectx *e, const struct node *nd)
{
    const struct search_msg *m = e->m;
    const char *name, *val, *t;
    size_t nlen, vlen, tlen, pos = 0, flen;

    if (m->header == NULL)
        return SEARCH_UNKNOWN;
    if (nd->u.hdr.field == NULL) { /* TEXT: the whole header */
        if (e->htext == NULL)
            e->htext = prepare_text(m->header, m->header_len, e->scratch,
                                    &e->htext_len);
        return truth(e->htext != NULL &&
                     memmem(e->htext, e->htext_len, nd->u.hdr.needle,
                            nd->u.hdr.len) != NULL);
    }
    flen = strlen(nd->u.hdr.field);
    while (
        next_field(m->header, m->header_len, &pos, &name, &nlen, &val, &vlen)) {
        if (nlen != flen || strncasecmp(name, nd->u.hdr.field, flen) != 0)
            continue;
        if (nd->u.hdr.len == 0)
            return SEARCH_TRUE;
        t = prepare_text(val, vlen, e->scratch, &tlen);
        if (t != NULL && memmem(t, tlen, nd->u.hdr.needle, nd->u.hdr.len))
            return SEARCH_TRUE;
    }
    return SEARCH_FALSE;
}

static bool native_has(const struct needle *n, uint32_t uid)
{
    size_t lo = 0, hi = n->n_uids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n->n_uids && n->uids[lo] == uid;
}

static enum search_truth ev(struct ectx *e, uint32_t i)
{
    const struct node *nd = &e->p->nodes[i];
    const struct view_msg *vm = e->vm;
    enum search_truth r, s;

    switch ((enum op)nd->op) {
    case OP_TRUE: return SEARCH_TRUE;
    case OP_FALSE: return SEARCH_FALSE;
    case OP_FLAGS:
        return truth((vm->flags & nd->u.flags.mask) == nd->u.flags.want);
    case OP_KW: return truth(((vm->keywords & nd->u.num) != 0) == nd->cmp);
    case OP_LARGER: return truth(vm->size > nd->u.num);
    case OP_SMALLER: return truth(vm->size < nd->u.num);
    case OP_MODSEQ: return truth(vm->modseq >= nd->u.num);
    case OP_SET: return truth(seqset_result_has(nd->u.set, e->m->idx));
    case OP_IDATE: return cmp_day(internal_day(vm), nd);
    case OP_SDATE: return sent_date(e, nd);
    case OP_HEADER: return header_match(e, nd);
    case OP_BODY:
        if (e->p->body[nd->u.body].native)
            return truth(native_has(&e->p->body[nd->u.body], vm->uid));
        if (e->m->text == NULL)
            return SEARCH_UNKNOWN;
        return truth(e->m->text->found[nd->u.body]);
    case OP_NOT:
        r = ev(e, i + 1);
        return r == SEARCH_UNKNOWN ? r : truth(r == SEARCH_FALSE);
    case OP_OR:
        r = ev(e, i + 1);
        if (r == SEARCH_TRUE)
            return r;
        s = ev(e, e->p->nodes[i + 1].end);
        if (s == SEARCH_TRUE)
            return s;
        return r == SEARCH_UNKNOWN ? r : s;
    case OP_AND:
        r = SEARCH_TRUE;
        for (uint32_t k = i + 1; k < nd->end; k = e->p->nodes[k].end) {
            s = ev(e, k);
            if (s == SEARCH_FALSE)
                return s;
            if (s == SEARCH_UNKNOWN)
                r = s;
        }
        return r;
    }
    return SEARCH_FALSE;
}

enum search_truth search_eval(const struct search_prog *p,
                              const struct search_msg *msg,
                              struct arena *scratch)
{
    struct ectx e = {.p = p, .m = msg, .scratch = scratch};

    if (msg->idx >= msg->v->count)
        return SEARCH_FALSE;
    e.vm = &msg->v->msgs[msg->idx];
    return ev(&e, 0);
}
