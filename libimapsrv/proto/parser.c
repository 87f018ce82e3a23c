/* IMAP command parser (RFC 9051 grammar, RFC 3501 leftovers, extensions
 * listed in command.h).  One pass over the framed bytes with a cursor; every
 * read is bounds-checked because the input may be anything (fuzzed
 * standalone).  Recursion only in SEARCH, bounded by max_depth. */
#include "proto/parser.h"

#include <string.h>

#include "imapsrv.h" /* mailbox attribute bits for CREATE (USE ...) */

#define DEFAULT_MAX_DEPTH 16
#define DEFAULT_MAX_ITEMS 10000
#define ECHO_MAX 40 /* bytes of client data echoed in an error */
#define MAX_NUM64 UINT64_C(9223372036854775807) /* number64: 2^63 - 1 */

struct p {
    const char *p, *end;
    struct arena *a;
    unsigned max_depth, max_items, depth;
    const char *err;
    bool nomem;
    bool head; /* APPEND head: the input ends at the message's announcement */
    bool more; /* head: it ended at an earlier literal's announcement */
};

/* A growing array in the arena; abandoned copies are reclaimed with it. */
struct vec {
    void *v;
    size_t n, cap;
};

/* ---- characters ---- */

static bool atom_char(int c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

static bool astring_char(int c)
{
    return atom_char(c) || c == ']';
}

static bool tag_char(int c)
{
    return astring_char(c) && c != '+';
}

static bool list_char(int c)
{
    return astring_char(c) || c == '%' || c == '*';
}

static bool digit(int c)
{
    return c >= '0' && c <= '9';
}

static int upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 32 : c;
}

/* Case-insensitive (ASCII) comparison of s[0..n) with upper-case word. */
static bool ieq(const char *s, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!word[i] || upper((unsigned char)s[i]) != word[i])
            return false;
    return word[i] == '\0';
}

/* ---- cursor ---- */

static int peek(const struct p *p)
{
    return p->p < p->end ? (unsigned char)*p->p : -1;
}

static int peek_at(const struct p *p, size_t i)
{
    return (size_t)(p->end - p->p) > i ? (unsigned char)p->p[i] : -1;
}

static bool at_eol(const struct p *p)
{
    size_t n = (size_t)(p->end - p->p);
    return (n == 2 && p->p[0] == '\r' && p->p[1] == '\n') ||
           (n == 1 && p->p[0] == '\n');
}

/* The characters that may end a token. */
static bool at_term(const struct p *p)
{
    int c = peek(p);
    return c == ' ' || c == ')' || c == '\r' || c == '\n' || c == -1;
}

static bool at_blank(const struct p *p)
{
    int c = peek(p);
    return c == ' ' || c == '\r' || c == '\n' || c == -1;
}

static size_t run(const struct p *p, bool (*cls)(int))
{
    const char *q = p->p;
    while (q < p->end && cls((unsigned char)*q))
        q++;
    return (size_t)(q - p->p);
}

static bool fail(struct p *p, const char *msg)
{
    if (!p->err)
        p->err = msg;
    return false;
}

static bool oom(struct p *p)
{
    p->nomem = true;
    return fail(p, "Out of memory");
}

/* "<what> <token>", the token cut to ECHO_MAX printable ASCII bytes. */
static bool fail_tok(struct p *p, const char *what, const char *tok, size_t n)
{
    if (p->err)
        return false;
    size_t wl = strlen(what);
    if (n > ECHO_MAX)
        n = ECHO_MAX;
    char *s = arena_alloc(p->a, wl + 1 + n + 1);
    if (!s)
        return fail(p, what);
    memcpy(s, what, wl);
    s[wl] = ' ';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        s[wl + 1 + i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    s[wl + 1 + n] = '\0';
    p->err = s;
    return false;
}

/* "<prefix><noun>" for "Missing <noun>" style errors. */
static bool fail2(struct p *p, const char *prefix, const char *noun)
{
    if (p->err)
        return false;
    size_t a = strlen(prefix), b = strlen(noun);
    char *s = arena_alloc(p->a, a + b + 1);
    if (!s)
        return fail(p, prefix);
    memcpy(s, prefix, a);
    memcpy(s + a, noun, b + 1);
    p->err = s;
    return false;
}

/* "Missing <what>" at the end of the arguments, else "Invalid <what>". */
static bool bad_arg(struct p *p, const char *what)
{
    return fail2(p, at_blank(p) ? "Missing " : "Invalid ", what);
}

/* Exactly one SP before the argument named `what`. */
static bool sp(struct p *p, const char *what)
{
    if (peek(p) == ' ') {
        p->p++;
        return true;
    }
    if (at_blank(p))
        return fail2(p, "Missing ", what);
    return fail_tok(p, "Unexpected characters before", what, strlen(what));
}

static bool expect(struct p *p, int c, const char *msg)
{
    if (peek(p) != c)
        return fail(p, msg);
    p->p++;
    return true;
}

/* The end of the command: CRLF (or LF) and nothing after it. */
static bool finish(struct p *p)
{
    if (at_eol(p))
        return true;
    if (peek(p) == ' ' && (peek_at(p, 1) == '\r' || peek_at(p, 1) == '\n'))
        return fail(p, "Trailing space at end of command");
    return fail(p, "Unexpected characters after command");
}

/* Read an atom-like word of class cls; false (with no error) if empty. */
static bool word(struct p *p, bool (*cls)(int), const char **s_r, size_t *n_r)
{
    *s_r = p->p;
    *n_r = run(p, cls);
    p->p += *n_r;
    return *n_r > 0;
}

/* Accept the keyword kw (case-insensitive) if it is the next token. */
static bool keyword(struct p *p, const char *kw)
{
    size_t n = strlen(kw);
    if ((size_t)(p->end - p->p) < n || !ieq(p->p, n, kw))
        return false;
    const char *save = p->p;
    p->p += n;
    if (at_term(p))
        return true;
    p->p = save;
    return false;
}

static void *vec_push(struct p *p, struct vec *v, size_t size)
{
    if (v->n >= p->max_items) {
        fail(p, "Too many items in list");
        return NULL;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        if (cap > p->max_items)
            cap = p->max_items;
        if (cap > SIZE_MAX / size) {
            oom(p);
            return NULL;
        }
        void *nv = arena_alloc(p->a, cap * size);
        if (!nv) {
            oom(p);
            return NULL;
        }
        if (v->n)
            memcpy(nv, v->v, v->n * size);
        v->v = nv;
        v->cap = cap;
    }
    void *slot = (char *)v->v + v->n++ * size;
    memset(slot, 0, size);
    return slot;
}

static bool dup_str(struct p *p, const char *s, size_t n, struct imap_str *out)
{
    out->s = arena_strndup(p->a, s, n);
    out->len = n;
    return out->s ? true : oom(p);
}

static bool dup_upper(struct p *p, const char *s, size_t n,
                      struct imap_str *out)
{
    if (!dup_str(p, s, n, out))
        return false;
    for (size_t i = 0; i < n; i++)
        ((char *)out->s)[i] = (char)upper((unsigned char)out->s[i]);
    return true;
}

/* ---- numbers ---- */

/* 1*DIGIT no greater than max; nz: no leading zero and not 0. */
static bool number(struct p *p, uint64_t max, bool nz, uint64_t *v,
                   const char *what)
{
    size_t n = run(p, digit);
    if (!n || (nz && p->p[0] == '0'))
        return bad_arg(p, what);
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p->p[i] - '0');
        if (x > (max - d) / 10)
            return fail2(p, "Number too large: ", what);
        x = x * 10 + d;
    }
    p->p += n;
    *v = x;
    return true;
}

static bool nz32(struct p *p, uint32_t *v, const char *what)
{
    uint64_t x;
    if (!number(p, UINT32_MAX, true, &x, what))
        return false;
    *v = (uint32_t)x;
    return true;
}

/* mod-sequence-value (1..2^63-1) or, with zero_ok, mod-sequence-valzer */
static bool modseq(struct p *p, bool zero_ok, uint64_t *v)
{
    if (!number(p, MAX_NUM64, false, v, "mod-sequence"))
        return false;
    if (!zero_ok && *v == 0)
        return fail(p, "Invalid mod-sequence 0");
    return true;
}

/* ---- strings ---- */

static bool quoted(struct p *p, struct imap_str *out)
{
    const char *q = p->p + 1;
    size_t n = 0;
    for (;; q++, n++) {
        if (q >= p->end || *q == '\r' || *q == '\n')
            return fail(p, "Unterminated quoted string");
        if (*q == '"')
            break;
        if (*q == '\0')
            return fail(p, "NUL in quoted string");
        if (*q == '\\' && (++q >= p->end || (*q != '"' && *q != '\\')))
            return fail(p, "Invalid escape in quoted string");
    }
    char *s = arena_alloc(p->a, n + 1);
    if (!s)
        return oom(p);
    size_t i = 0;
    for (const char *r = p->p + 1; r < q; r++)
        s[i++] = *r == '\\' ? *++r : *r;
    s[i] = '\0';
    out->s = s;
    out->len = n;
    p->p = q + 1;
    return true;
}

/* The announcement {n} {n+} {n-} and, where allowed, ~{n}, line end
 * included. */
static bool literal_head(struct p *p, bool allow8, uint64_t *n_r, bool *bin_r)
{
    bool bin = peek(p) == '~';
    if (bin && !allow8)
        return fail(p, "literal8 not allowed here");
    p->p += bin;
    if (!expect(p, '{', "Invalid literal"))
        return false;
    if (!number(p, MAX_NUM64, false, n_r, "literal size"))
        return false;
    if (peek(p) == '+' || peek(p) == '-')
        p->p++;
    if (!expect(p, '}', "Invalid literal"))
        return false;
    if (peek(p) == '\r')
        p->p++;
    if (!expect(p, '\n', "Literal announcement not at end of line"))
        return false;
    *bin_r = bin;
    return true;
}

/* A literal; copy=false points into the command buffer (APPEND's
 * message). */
static bool literal(struct p *p, struct imap_str *out, bool allow8, bool *bin_r,
                    bool copy)
{
    uint64_t n;
    bool bin;
    if (!literal_head(p, allow8, &n, &bin))
        return false;
    if (p->head && p->p == p->end) {
        /* an APPEND head ending here: this literal's bytes are yet to come */
        p->more = true;
        return false;
    }
    if (n > (uint64_t)(p->end - p->p))
        return fail(p, "Literal extends past end of command");
    if (!bin && memchr(p->p, '\0', (size_t)n))
        return fail(p, "NUL in literal (use literal8)");
    if (copy) {
        if (!dup_str(p, p->p, (size_t)n, out))
            return false;
    } else {
        out->s = p->p;
        out->len = (size_t)n;
    }
    if (bin_r)
        *bin_r = bin;
    p->p += n;
    return true;
}

static bool at_literal(const struct p *p)
{
    return peek(p) == '{' || (peek(p) == '~' && peek_at(p, 1) == '{');
}

/* string = quoted / literal */
static bool string(struct p *p, struct imap_str *out, const char *what)
{
    if (peek(p) == '"')
        return quoted(p, out);
    if (at_literal(p))
        return literal(p, out, false, NULL, true);
    return bad_arg(p, what);
}

/* astring; cls chooses the atom characters (ASTRING-CHAR or list-char) */
static bool astring_cls(struct p *p, struct imap_str *out, const char *what,
                        bool (*cls)(int))
{
    if (peek(p) == '"' || at_literal(p))
        return string(p, out, what);
    const char *s;
    size_t n;
    if (!word(p, cls, &s, &n))
        return bad_arg(p, what);
    return dup_str(p, s, n, out);
}

static bool astring(struct p *p, struct imap_str *out, const char *what)
{
    return astring_cls(p, out, what, astring_char);
}

static bool nstring(struct p *p, struct imap_str *out, const char *what)
{
    if (keyword(p, "NIL")) {
        out->s = NULL;
        out->len = 0;
        return true;
    }
    return string(p, out, what);
}

/* mailbox = "INBOX" / astring; INBOX in any case becomes "INBOX" */
static bool mailbox(struct p *p, struct imap_str *out)
{
    if (!astring(p, out, "mailbox name"))
        return false;
    if (ieq(out->s, out->len, "INBOX"))
        out->s = "INBOX";
    return true;
}

/* ---- sequence sets ---- */

static bool seq_number(struct p *p, uint32_t *v, bool star)
{
    if (peek(p) == '*') {
        if (!star)
            return fail(p, "'*' not allowed in this set");
        p->p++;
        *v = 0;
        return true;
    }
    if (!digit(peek(p)))
        return fail(p, "Invalid sequence set");
    uint64_t x;
    if (!number(p, UINT32_MAX, true, &x, "sequence set"))
        return false;
    *v = (uint32_t)x;
    return true;
}

/* sequence-set, or "$" (SEARCHRES) when saved_ok */
static bool seqset(struct p *p, struct imap_seqset *set, bool star,
                   bool saved_ok)
{
    memset(set, 0, sizeof(*set));
    if (peek(p) == '$' && saved_ok) {
        p->p++;
        set->saved = true;
        return at_term(p) ? true : fail(p, "Invalid sequence set");
    }
    if (at_blank(p))
        return fail(p, "Missing sequence set");
    struct vec v = {0};
    do {
        struct imap_range *r = vec_push(p, &v, sizeof(*r));
        if (!r || !seq_number(p, &r->lo, star))
            return false;
        r->hi = r->lo;
        if (peek(p) == ':') {
            p->p++;
            if (!seq_number(p, &r->hi, star))
                return false;
        }
    } while (peek(p) == ',' && ++p->p);
    if (!at_term(p))
        return fail(p, "Invalid sequence set");
    set->ranges = v.v;
    set->count = v.n;
    return true;
}

/* ---- dates ---- */

static const char months[12][4] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

static int days_in(int y, int m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

/* n decimal digits at s (exactly), or -1 */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* date-text "d-Mon-yyyy" (fixed: date-day-fixed, " d" or "dd") at s;
 * returns bytes used, 0 if invalid. */
static size_t scan_date(const char *s, size_t len, bool fixed,
                        struct imap_date *d)
{
    size_t i;
    int day;
    if (fixed) {
        if (len < 2)
            return 0;
        day = s[0] == ' ' ? digits(s + 1, 1) : digits(s, 2);
        i = 2;
    } else {
        i = len > 1 && digit((unsigned char)s[1]) ? 2 : 1;
        day = len ? digits(s, i) : -1;
    }
    if (day < 1 || len < i + 9 || s[i] != '-' || s[i + 4] != '-')
        return 0;
    int mon = 0;
    while (mon < 12 && !ieq(s + i + 1, 3, months[mon]))
        mon++;
    int year = digits(s + i + 5, 4);
    if (mon == 12 || year < 0 || day > days_in(year, mon + 1))
        return 0;
    d->year = year;
    d->month = mon + 1;
    d->day = day;
    return i + 9;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* date-time contents: date-day-fixed "-" month "-" year SP time SP zone */
static bool scan_datetime(const char *s, size_t len, struct imap_datetime *dt)
{
    struct imap_date d;
    size_t i = scan_date(s, len, true, &d);
    if (!i || len != i + 15 || s[i] != ' ' || s[i + 3] != ':' ||
        s[i + 6] != ':' || s[i + 9] != ' ' ||
        (s[i + 10] != '+' && s[i + 10] != '-'))
        return false;
    int hh = digits(s + i + 1, 2), mm = digits(s + i + 4, 2);
    int ss = digits(s + i + 7, 2);
    int zh = digits(s + i + 11, 2), zm = digits(s + i + 13, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || zh < 0 ||
        zh > 23 || zm < 0 || zm > 59)
        return false;
    int tz = (zh * 60 + zm) * (s[i + 10] == '-' ? -1 : 1);
    dt->utc = days_from_civil(d.year, d.month, d.day) * 86400 + hh * 3600 +
              mm * 60 + ss - tz * 60;
    dt->tz_min = tz;
    return true;
}

static void unquote(const char **s, size_t *len)
{
    if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') {
        (*s)++;
        *len -= 2;
    }
}

bool parser_datetime(const char *s, size_t len, struct imap_datetime *dt_r)
{
    struct imap_date d;
    unquote(&s, &len);
    if (scan_datetime(s, len, dt_r))
        return true;
    /* a bare date-text (as SEARCH takes it): midnight UTC */
    if (scan_date(s, len, false, &d) != len || !len)
        return false;
    dt_r->utc = days_from_civil(d.year, d.month, d.day) * 86400;
    dt_r->tz_min = 0;
    return true;
}

bool parser_date(const char *s, size_t len, struct imap_date *d_r)
{
    unquote(&s, &len);
    return len && scan_date(s, len, false, d_r) == len;
}

/* date = date-text / DQUOTE date-text DQUOTE */
static bool date(struct p *p, struct imap_date *d)
{
    bool q = peek(p) == '"';
    size_t n = scan_date(p->p + q, (size_t)(p->end - p->p) - q, false, d);
    if (!n)
        return bad_arg(p, "date");
    p->p += q + n;
    if (q && !expect(p, '"', "Invalid date"))
        return false;
    return at_term(p) ? true : fail(p, "Invalid date");
}

/* ---- flags ---- */

static const struct {
    const char *name;
    unsigned bit;
} sysflags[] = {
    {"\\SEEN", FLAG_SEEN},       {"\\ANSWERED", FLAG_ANSWERED},
    {"\\FLAGGED", FLAG_FLAGGED}, {"\\DELETED", FLAG_DELETED},
    {"\\DRAFT", FLAG_DRAFT},
};

static bool flag(struct p *p, struct imap_flags *f, struct vec *kw)
{
    const char *s;
    size_t n;
    bool sys = peek(p) == '\\';
    p->p += sys;
    if (!word(p, atom_char, &s, &n))
        return bad_arg(p, "flag");
    if (!sys) {
        struct imap_str *k = vec_push(p, kw, sizeof(*k));
        return k && dup_str(p, s, n, k);
    }
    for (size_t i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++) {
        if (ieq(s, n, sysflags[i].name + 1)) {
            f->sys |= sysflags[i].bit;
            return true;
        }
    }
    if (ieq(s, n, "RECENT"))
        return fail(p, "\\Recent can't be set");
    return fail_tok(p, "Unknown system flag", s - 1, n + 1);
}

/* flag-list = "(" [flag *(SP flag)] ")" */
static bool flag_list(struct p *p, struct imap_flags *f)
{
    struct vec kw = {0};
    if (!expect(p, '(', "Invalid flag list"))
        return false;
    for (bool first = true; peek(p) != ')'; first = false) {
        if (!first && !sp(p, "flag"))
            return false;
        if (!flag(p, f, &kw))
            return false;
    }
    p->p++;
    f->keywords = kw.v;
    f->keyword_count = kw.n;
    return true;
}

/* ---- the commands ---- */

typedef bool (*parse_fn)(struct p *p, struct imap_command *c);

static bool p_none(struct p *p, struct imap_command *c)
{
    return true;
}

static bool p_login(struct p *p, struct imap_command *c)
{
    return sp(p, "user name") && astring(p, &c->u.login.user, "user name") &&
           sp(p, "password") && astring(p, &c->u.login.password, "password");
}

/* base64 = *(4base64-char) [base64-terminal] */
static bool base64(const char *s, size_t n)
{
    if (n % 4)
        return false;
    size_t pad = 0;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        int c = (unsigned char)s[i];
        if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !digit(c) &&
            c != '+' && c != '/')
            return false;
    }
    return true;
}

static bool p_authenticate(struct p *p, struct imap_command *c)
{
    const char *s;
    size_t n;
    if (!sp(p, "authentication mechanism"))
        return false;
    if (!word(p, atom_char, &s, &n))
        return bad_arg(p, "authentication mechanism");
    if (!dup_upper(p, s, n, &c->u.authenticate.mechanism))
        return false;
    if (peek(p) != ' ')
        return true;
    p->p++;
    s = p->p;
    n = run(p, astring_char);
    p->p += n;
    c->u.authenticate.has_initial = true;
    if (n == 1 && s[0] == '=')
        return dup_str(p, s, 0, &c->u.authenticate.initial);
    if (!n)
        return bad_arg(p, "initial response");
    if (!base64(s, n))
        return fail(p, "Invalid initial response (not base64)");
    return dup_str(p, s, n, &c->u.authenticate.initial);
}

static bool p_enable(struct p *p, struct imap_command *c)
{
    struct vec v = {0};
    do {
        const char *s;
        size_t n;
        if (!sp(p, "capability name"))
            return false;
        if (!word(p, atom_char, &s, &n))
            return bad_arg(p, "capability name");
        struct imap_str *name = vec_push(p, &v, sizeof(*name));
        if (!name || !dup_upper(p, s, n, name))
            return false;
    } while (peek(p) == ' ');
    c->u.enable.names = v.v;
    c->u.enable.count = v.n;
    return true;
}

/* RFC 2971 limits */
#define ID_MAX_PAIRS 30
#define ID_MAX_KEY 30
#define ID_MAX_VALUE 1024

static bool p_id(struct p *p, struct imap_command *c)
{
    struct vec v = {0};
    if (!sp(p, "ID parameter list"))
        return false;
    if (keyword(p, "NIL")) {
        c->u.id.nil = true;
        return true;
    }
    if (!expect(p, '(', "Invalid ID parameter list"))
        return false;
    while (peek(p) != ')') {
        if (v.n && !sp(p, "ID field"))
            return false;
        if (v.n == ID_MAX_PAIRS)
            return fail(p, "Too many ID fields (at most 30)");
        struct id_pair *pair = vec_push(p, &v, sizeof(*pair));
        if (!pair || !string(p, &pair->key, "ID field name") ||
            !sp(p, "ID field value") ||
            !nstring(p, &pair->value, "ID field value"))
            return false;
        if (pair->key.len > ID_MAX_KEY)
            return fail(p, "ID field name too long (at most 30 bytes)");
        if (pair->value.len > ID_MAX_VALUE)
            return fail(p, "ID field value too long (at most 1024 bytes)");
    }
    p->p++;
    c->u.id.pairs = v.v;
    c->u.id.count = v.n;
    return true;
}

static bool p_mailbox(struct p *p, struct imap_command *c)
{
    return sp(p, "mailbox name") && mailbox(p, &c->u.mailbox);
}

static bool p_rename(struct p *p, struct imap_command *c)
{
    return sp(p, "mailbox name") && mailbox(p, &c->u.rename.from) &&
           sp(p, "new mailbox name") && mailbox(p, &c->u.rename.to);
}

/* QRESYNC (uidvalidity modseq [known-uids] [seq-match-data]) */
static bool qresync(struct p *p, struct cmd_select *s)
{
    if (!sp(p, "QRESYNC parameters") ||
        !expect(p, '(', "Invalid QRESYNC parameters") ||
        !nz32(p, &s->qr_uidvalidity, "UIDVALIDITY") || !sp(p, "mod-sequence") ||
        !modseq(p, false, &s->qr_modseq))
        return false;
    if (peek(p) == ' ' && peek_at(p, 1) != '(') {
        p->p++;
        if (!seqset(p, &s->qr_known_uids, false, false))
            return false;
    }
    if (peek(p) == ' ') {
        p->p++;
        if (!expect(p, '(', "Invalid QRESYNC sequence match data") ||
            !seqset(p, &s->qr_match_seqs, false, false) ||
            !sp(p, "known UID set") ||
            !seqset(p, &s->qr_match_uids, false, false) ||
            !expect(p, ')', "Invalid QRESYNC sequence match data"))
            return false;
    }
    s->qresync = true;
    return expect(p, ')', "Invalid QRESYNC parameters");
}

static bool p_select(struct p *p, struct imap_command *c)
{
    struct cmd_select *s = &c->u.select;
    if (!sp(p, "mailbox name") || !mailbox(p, &s->mailbox))
        return false;
    if (peek(p) != ' ')
        return true;
    p->p++;
    if (!expect(p, '(', "Invalid SELECT parameters"))
        return false;
    do {
        const char *w;
        size_t n;
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "SELECT parameter");
        if (ieq(w, n, "CONDSTORE") && !s->condstore)
            s->condstore = true;
        else if (ieq(w, n, "QRESYNC") && !s->qresync) {
            if (!qresync(p, s))
                return false;
        } else
            return fail_tok(p, "Unknown or repeated SELECT parameter", w, n);
    } while (peek(p) == ' ' && ++p->p);
    return expect(p, ')', "Invalid SELECT parameters");
}

static const struct {
    const char *name;
    unsigned bit;
} use_attrs[] = {
    {"\\ALL", IMAPSRV_MBOX_ALL},       {"\\ARCHIVE", IMAPSRV_MBOX_ARCHIVE},
    {"\\DRAFTS", IMAPSRV_MBOX_DRAFTS}, {"\\FLAGGED", IMAPSRV_MBOX_FLAGGED},
    {"\\JUNK", IMAPSRV_MBOX_JUNK},     {"\\SENT", IMAPSRV_MBOX_SENT},
    {"\\TRASH", IMAPSRV_MBOX_TRASH},
};

/* USE "(" [use-attr *(SP use-attr)] ")" (RFC 6154) */
static bool use_list(struct p *p, struct imap_command *c)
{
    if (!sp(p, "USE attributes") ||
        !expect(p, '(', "Invalid USE attribute list"))
        return false;
    for (bool first = true; peek(p) != ')'; first = false) {
        const char *w;
        size_t n;
        if (!first && !sp(p, "USE attribute"))
            return false;
        if (!expect(p, '\\', "Invalid USE attribute") ||
            !word(p, atom_char, &w, &n))
            return bad_arg(p, "USE attribute");
        size_t i = 0;
        while (i < sizeof(use_attrs) / sizeof(use_attrs[0]) &&
               !ieq(w, n, use_attrs[i].name + 1))
            i++;
        if (i < sizeof(use_attrs) / sizeof(use_attrs[0]))
            c->u.create.use |= use_attrs[i].bit;
        else
            c->u.create.use_unknown = true;
    }
    p->p++;
    return true;
}

static bool p_create(struct p *p, struct imap_command *c)
{
    if (!sp(p, "mailbox name") || !mailbox(p, &c->u.create.mailbox))
        return false;
    if (peek(p) != ' ')
        return true;
    p->p++;
    if (!expect(p, '(', "Invalid CREATE parameters"))
        return false;
    bool use = false;
    do {
        const char *w;
        size_t n;
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "CREATE parameter");
        if (!ieq(w, n, "USE") || use)
            return fail_tok(p, "Unknown or repeated CREATE parameter", w, n);
        use = true;
        if (!use_list(p, c))
            return false;
    } while (peek(p) == ' ' && ++p->p);
    return expect(p, ')', "Invalid CREATE parameters");
}

static const struct {
    const char *name;
    unsigned bit;
} status_items[] = {
    {"MESSAGES", ST_MESSAGES},       {"UIDNEXT", ST_UIDNEXT},
    {"UIDVALIDITY", ST_UIDVALIDITY}, {"UNSEEN", ST_UNSEEN},
    {"DELETED", ST_DELETED},         {"SIZE", ST_SIZE},
    {"RECENT", ST_RECENT},           {"HIGHESTMODSEQ", ST_HIGHESTMODSEQ},
};

/* "(" status-att *(SP status-att) ")" */
static bool status_list(struct p *p, unsigned *items)
{
    if (!expect(p, '(', "Invalid STATUS item list"))
        return false;
    do {
        const char *w;
        size_t n;
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "STATUS item");
        size_t i = 0;
        while (i < sizeof(status_items) / sizeof(status_items[0]) &&
               !ieq(w, n, status_items[i].name))
            i++;
        if (i == sizeof(status_items) / sizeof(status_items[0]))
            return fail_tok(p, "Unknown STATUS item", w, n);
        *items |= status_items[i].bit;
    } while (peek(p) == ' ' && ++p->p);
    return expect(p, ')', "Invalid STATUS item list");
}

static bool p_status(struct p *p, struct imap_command *c)
{
    return sp(p, "mailbox name") && mailbox(p, &c->u.status.mailbox) &&
           sp(p, "STATUS items") && status_list(p, &c->u.status.items);
}

/* An option word of LIST's selection / return lists (may contain '-'). */
static bool opt_word(struct p *p, const char *what, const char **w, size_t *n)
{
    return word(p, atom_char, w, n) ? true : bad_arg(p, what);
}

static const struct {
    const char *name;
    unsigned bit;
} list_sel[] =
    {
        {"SUBSCRIBED", LSEL_SUBSCRIBED},
        {"REMOTE", LSEL_REMOTE},
        {"RECURSIVEMATCH", LSEL_RECURSIVEMATCH},
        {"SPECIAL-USE", LSEL_SPECIAL_USE},
},
  list_ret[] = {
      {"SUBSCRIBED", LRET_SUBSCRIBED},
      {"CHILDREN", LRET_CHILDREN},
      {"SPECIAL-USE", LRET_SPECIAL_USE},
      {"STATUS", LRET_STATUS},
};

static bool list_select(struct p *p, struct cmd_list *l)
{
    p->p++; /* '(' */
    while (peek(p) != ')') {
        const char *w;
        size_t n, i = 0;
        if (l->select_opts && !sp(p, "selection option"))
            return false;
        if (!opt_word(p, "selection option", &w, &n))
            return false;
        while (i < 4 && !ieq(w, n, list_sel[i].name))
            i++;
        if (i == 4)
            return fail_tok(p, "Unknown LIST selection option", w, n);
        l->select_opts |= list_sel[i].bit;
    }
    p->p++;
    /* RECURSIVEMATCH only modifies a base option (RFC 5258) */
    if ((l->select_opts & LSEL_RECURSIVEMATCH) &&
        !(l->select_opts & LSEL_SUBSCRIBED))
        return fail(p, "RECURSIVEMATCH requires SUBSCRIBED");
    l->extended = true;
    return sp(p, "reference name");
}

static bool list_return(struct p *p, struct cmd_list *l)
{
    if (!keyword(p, "RETURN"))
        return fail(p, "Unexpected characters after LIST patterns");
    if (!sp(p, "LIST return options") ||
        !expect(p, '(', "Invalid LIST return options"))
        return false;
    l->extended = true;
    for (bool first = true; peek(p) != ')'; first = false) {
        const char *w;
        size_t n, i = 0;
        if (!first && !sp(p, "return option"))
            return false;
        if (!opt_word(p, "return option", &w, &n))
            return false;
        while (i < 4 && !ieq(w, n, list_ret[i].name))
            i++;
        if (i == 4)
            return fail_tok(p, "Unknown LIST return option", w, n);
        if (list_ret[i].bit == LRET_STATUS &&
            (!sp(p, "STATUS items") || !status_list(p, &l->status_items)))
            return false;
        l->return_opts |= list_ret[i].bit;
    }
    p->p++;
    return true;
}

static bool list_mailbox(struct p *p, struct imap_str *out)
{
    return astring_cls(p, out, "mailbox pattern", list_char);
}

static bool p_list(struct p *p, struct imap_command *c)
{
    struct cmd_list *l = &c->u.list;
    struct vec v = {0};
    if (!sp(p, "reference name"))
        return false;
    if (peek(p) == '(' && !list_select(p, l))
        return false;
    if (!astring(p, &l->reference, "reference name") ||
        !sp(p, "mailbox pattern"))
        return false;
    bool paren = peek(p) == '(';
    if (paren) {
        p->p++;
        l->extended = true;
    }
    do {
        if (v.n && !sp(p, "mailbox pattern"))
            return false;
        struct imap_str *s = vec_push(p, &v, sizeof(*s));
        if (!s || !list_mailbox(p, s))
            return false;
    } while (paren && peek(p) != ')');
    if (paren)
        p->p++;
    l->patterns = v.v;
    l->pattern_count = v.n;
    if (peek(p) == ' ') {
        p->p++;
        return list_return(p, l);
    }
    return true;
}

static bool p_lsub(struct p *p, struct imap_command *c)
{
    struct cmd_list *l = &c->u.list;
    struct imap_str *s = arena_zalloc(p->a, sizeof(*s));
    if (!s)
        return oom(p);
    l->patterns = s;
    l->pattern_count = 1;
    return sp(p, "reference name") &&
           astring(p, &l->reference, "reference name") &&
           sp(p, "mailbox pattern") && list_mailbox(p, s);
}

static bool p_append(struct p *p, struct imap_command *c)
{
    struct cmd_append *a = &c->u.append;
    if (!sp(p, "mailbox name") || !mailbox(p, &a->mailbox) ||
        !sp(p, "message literal"))
        return false;
    if (peek(p) == '(') {
        a->has_flags = true;
        if (!flag_list(p, &a->flags) || !sp(p, "message literal"))
            return false;
    }
    if (peek(p) == '"') {
        const char *q = memchr(p->p + 1, '"', (size_t)(p->end - p->p - 1));
        if (!q || !scan_datetime(p->p + 1, (size_t)(q - p->p - 1), &a->date))
            return fail(p, "Invalid date-time");
        a->has_date = true;
        p->p = q + 1;
        if (!sp(p, "message literal"))
            return false;
    }
    if (!at_literal(p))
        return bad_arg(p, "message literal");
    if (!p->head)
        return literal(p, &a->message, true, &a->binary, false);
    /* only the announcement: the message itself is streamed */
    uint64_t n;
    if (!literal_head(p, true, &n, &a->binary))
        return false;
    if (p->p != p->end)
        return fail(p, "Message literal not at end of APPEND head");
    if ((uint64_t)(size_t)n != n) /* 32-bit size_t */
        return fail(p, "Message literal too large");
    a->message.s = NULL;
    a->message.len = (size_t)n;
    return true;
}

/* ---- SEARCH ---- */

enum sarg {
    SA_NONE,
    SA_STR,
    SA_DATE,
    SA_NUM,
    SA_SEQ,
    SA_KW,
    SA_HDR,
    SA_NOT,
    SA_OR,
    SA_MODSEQ
};

static const struct {
    const char *name;
    unsigned char type, arg;
} skeys[] = {
    {"ALL", SK_ALL, SA_NONE},
    {"ANSWERED", SK_ANSWERED, SA_NONE},
    {"BCC", SK_BCC, SA_STR},
    {"BEFORE", SK_BEFORE, SA_DATE},
    {"BODY", SK_BODY, SA_STR},
    {"CC", SK_CC, SA_STR},
    {"DELETED", SK_DELETED, SA_NONE},
    {"DRAFT", SK_DRAFT, SA_NONE},
    {"FLAGGED", SK_FLAGGED, SA_NONE},
    {"FROM", SK_FROM, SA_STR},
    {"HEADER", SK_HEADER, SA_HDR},
    {"KEYWORD", SK_KEYWORD, SA_KW},
    {"LARGER", SK_LARGER, SA_NUM},
    {"MODSEQ", SK_MODSEQ, SA_MODSEQ},
    {"NEW", SK_NEW, SA_NONE},
    {"NOT", SK_NOT, SA_NOT},
    {"OLD", SK_OLD, SA_NONE},
    {"ON", SK_ON, SA_DATE},
    {"OR", SK_OR, SA_OR},
    {"RECENT", SK_RECENT, SA_NONE},
    {"SEEN", SK_SEEN, SA_NONE},
    {"SENTBEFORE", SK_SENTBEFORE, SA_DATE},
    {"SENTON", SK_SENTON, SA_DATE},
    {"SENTSINCE", SK_SENTSINCE, SA_DATE},
    {"SINCE", SK_SINCE, SA_DATE},
    {"SMALLER", SK_SMALLER, SA_NUM},
    {"SUBJECT", SK_SUBJECT, SA_STR},
    {"TEXT", SK_TEXT, SA_STR},
    {"TO", SK_TO, SA_STR},
    {"UID", SK_UID, SA_SEQ},
    {"UNANSWERED", SK_UNANSWERED, SA_NONE},
    {"UNDELETED", SK_UNDELETED, SA_NONE},
    {"UNDRAFT", SK_UNDRAFT, SA_NONE},
    {"UNFLAGGED", SK_UNFLAGGED, SA_NONE},
    {"UNKEYWORD", SK_UNKEYWORD, SA_KW},
    {"UNSEEN", SK_UNSEEN, SA_NONE},
};

static bool search_key(struct p *p, struct search_key *k);

/* keys up to ')' (paren) or the end of the command, as one SK_AND */
static bool search_keys(struct p *p, struct search_key *k, bool paren)
{
    struct vec v = {0};
    k->type = SK_AND;
    for (;;) {
        struct search_key sub;
        memset(&sub, 0, sizeof(sub));
        if (!search_key(p, &sub))
            return false;
        struct search_key *slot = vec_push(p, &v, sizeof(*slot));
        if (!slot)
            return false;
        *slot = sub;
        if (paren && peek(p) == ')')
            break;
        if (paren && at_eol(p))
            return fail(p, "Missing ')'");
        if (!paren && peek(p) != ' ')
            break;
        if (!sp(p, "search key"))
            return false;
    }
    k->u.list.keys = v.v;
    k->u.list.count = v.n;
    return true;
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer */
static bool search_modseq(struct p *p, struct search_key *k)
{
    if (peek(p) == '"') {
        static const char *const types[] = {"PRIV", "SHARED", "ALL"};
        const char *w;
        size_t n, i = 0;
        if (!quoted(p, &k->u.modseq.entry))
            return false;
        if (k->u.modseq.entry.len < 8 ||
            memcmp(k->u.modseq.entry.s, "/flags/", 7) != 0)
            return fail(p, "Invalid MODSEQ entry name");
        if (!sp(p, "MODSEQ entry type") || !word(p, atom_char, &w, &n))
            return bad_arg(p, "MODSEQ entry type");
        while (i < 3 && !ieq(w, n, types[i]))
            i++;
        if (i == 3)
            return fail_tok(p, "Invalid MODSEQ entry type", w, n);
        k->u.modseq.entry_type = (enum search_modseq_entry)(SME_PRIV + i);
        if (!sp(p, "mod-sequence"))
            return false;
    }
    return modseq(p, true, &k->u.modseq.value);
}

static bool search_arg(struct p *p, struct search_key *k, int arg)
{
    const char *w;
    size_t n;
    switch (arg) {
    case SA_STR: return astring(p, &k->u.str, "search string");
    case SA_DATE: return date(p, &k->u.date);
    case SA_NUM: return number(p, MAX_NUM64, false, &k->u.number, "size");
    case SA_SEQ: return seqset(p, &k->u.seqset, true, true);
    case SA_KW:
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "keyword");
        return dup_str(p, w, n, &k->u.str);
    case SA_HDR:
        return astring(p, &k->u.header.field, "header field name") &&
               sp(p, "header value") &&
               astring(p, &k->u.header.value, "header value");
    case SA_MODSEQ: return search_modseq(p, k);
    }
    /* SA_NOT, SA_OR */
    for (int i = 0; i < (arg == SA_OR ? 2 : 1); i++) {
        struct search_key *sub = arena_zalloc(p->a, sizeof(*sub));
        if (!sub)
            return oom(p);
        k->u.sub[i] = sub;
        if ((i && !sp(p, "search key")) || !search_key(p, sub))
            return false;
    }
    return true;
}

static bool deeper(struct p *p)
{
    return ++p->depth <= p->max_depth || fail(p, "Too deeply nested");
}

static bool search_key(struct p *p, struct search_key *k)
{
    int c = peek(p);
    bool ok;
    if (digit(c) || c == '*' || c == '$') {
        k->type = SK_SEQSET;
        return seqset(p, &k->u.seqset, true, true);
    }
    if (c == '(') {
        if (!deeper(p))
            return false;
        p->p++;
        ok = search_keys(p, k, true) && expect(p, ')', "Missing ')'");
        p->depth--;
        return ok;
    }
    const char *w;
    size_t n, i = 0;
    if (!word(p, atom_char, &w, &n))
        return bad_arg(p, "search key");
    while (i < sizeof(skeys) / sizeof(skeys[0]) && !ieq(w, n, skeys[i].name))
        i++;
    if (i == sizeof(skeys) / sizeof(skeys[0]))
        return fail_tok(p, "Unknown search key", w, n);
    k->type = (enum search_key_type)skeys[i].type;
    int arg = skeys[i].arg;
    if (arg == SA_NONE)
        return true;
    if (peek(p) != ' ')
        return fail_tok(p, "Missing argument to", w, n);
    p->p++;
    if (arg != SA_NOT && arg != SA_OR)
        return search_arg(p, k, arg);
    if (!deeper(p))
        return false;
    ok = search_arg(p, k, arg);
    p->depth--;
    return ok;
}

static const struct {
    const char *name;
    unsigned bit;
} sret[] = {
    {"MIN", SRET_MIN},     {"MAX", SRET_MAX},   {"ALL", SRET_ALL},
    {"COUNT", SRET_COUNT}, {"SAVE", SRET_SAVE},
};

/* RETURN "(" [search-return-opt *(SP search-return-opt)] ")" (RFC 4731) */
static bool search_return(struct p *p, struct cmd_search *s)
{
    s->has_return = true;
    if (!sp(p, "RETURN options") ||
        !expect(p, '(', "Invalid SEARCH RETURN options"))
        return false;
    for (bool first = true; peek(p) != ')'; first = false) {
        const char *w;
        size_t n, i = 0;
        if (!first && !sp(p, "RETURN option"))
            return false;
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "RETURN option");
        while (i < sizeof(sret) / sizeof(sret[0]) && !ieq(w, n, sret[i].name))
            i++;
        if (i == sizeof(sret) / sizeof(sret[0]))
            return fail_tok(p, "Unknown SEARCH RETURN option", w, n);
        s->ret |= sret[i].bit;
    }
    p->p++;
    if (!s->ret)
        s->ret = SRET_ALL; /* RETURN () means ALL */
    return sp(p, "search criteria");
}

static bool p_search(struct p *p, struct imap_command *c)
{
    struct cmd_search *s = &c->u.search;
    if (!sp(p, "search criteria"))
        return false;
    if (keyword(p, "RETURN") && !search_return(p, s))
        return false;
    if (keyword(p, "CHARSET")) {
        if (!sp(p, "charset"))
            return false;
        if (peek(p) == '"') {
            if (!quoted(p, &s->charset))
                return false;
        } else {
            const char *w;
            size_t n;
            if (!word(p, atom_char, &w, &n))
                return bad_arg(p, "charset");
            if (!dup_str(p, w, n, &s->charset))
                return false;
        }
        if (!sp(p, "search criteria"))
            return false;
    }
    if (at_blank(p))
        return fail(p, "Missing search criteria");
    return search_keys(p, &s->root, false);
}

/* ---- FETCH ---- */

enum {
    FF_SECTION = 1,
    FF_NEED_SECTION = 2,
    FF_PEEK = 4,
    FF_BINARY = 8,
    FF_NOPARTIAL = 16
};

static const struct {
    const char *name;
    unsigned char type, flags;
} fatts[] = {
    {"ENVELOPE", FA_ENVELOPE, 0},
    {"FLAGS", FA_FLAGS, 0},
    {"INTERNALDATE", FA_INTERNALDATE, 0},
    {"RFC822", FA_RFC822, 0},
    {"RFC822.HEADER", FA_RFC822_HEADER, 0},
    {"RFC822.SIZE", FA_RFC822_SIZE, 0},
    {"RFC822.TEXT", FA_RFC822_TEXT, 0},
    {"BODY", FA_BODY, FF_SECTION},
    {"BODYSTRUCTURE", FA_BODYSTRUCTURE, 0},
    {"UID", FA_UID, 0},
    {"MODSEQ", FA_MODSEQ, 0},
    {"BODY.PEEK", FA_BODY_SECTION, FF_NEED_SECTION | FF_PEEK},
    {"BINARY", FA_BINARY, FF_NEED_SECTION | FF_BINARY},
    {"BINARY.PEEK", FA_BINARY, FF_NEED_SECTION | FF_BINARY | FF_PEEK},
    {"BINARY.SIZE", FA_BINARY_SIZE, FF_NEED_SECTION | FF_BINARY | FF_NOPARTIAL},
};

static bool att_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || digit(c) ||
           c == '.';
}

static bool alpha_dot(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.';
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static bool header_list(struct p *p, struct fetch_section *sec)
{
    struct vec v = {0};
    if (!sp(p, "header field list") ||
        !expect(p, '(', "Invalid header field list"))
        return false;
    do {
        struct imap_str *s = vec_push(p, &v, sizeof(*s));
        if (!s || !astring(p, s, "header field name"))
            return false;
    } while (peek(p) == ' ' && ++p->p);
    sec->fields = v.v;
    sec->field_count = v.n;
    return expect(p, ')', "Invalid header field list");
}

/* "[" ... "]" after BODY / BINARY; binary: part numbers only */
static bool section(struct p *p, struct fetch_section *sec, bool binary)
{
    struct vec parts = {0};
    p->p++; /* '[' */
    sec->spec = SEC_ALL;
    while (digit(peek(p))) {
        uint32_t *n = vec_push(p, &parts, sizeof(*n));
        if (!n || !nz32(p, n, "section part number"))
            return false;
        if (peek(p) != '.')
            break;
        p->p++;
        if (!digit(peek(p)) && (binary || !alpha_dot(peek(p))))
            return fail(p, "Invalid section");
    }
    sec->parts = parts.v;
    sec->part_count = parts.n;
    if (peek(p) != ']') {
        static const char *const specs[] = {
            "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"};
        const char *w;
        size_t n;
        int i = 1;
        if (binary || !word(p, alpha_dot, &w, &n))
            return fail(p, "Invalid section");
        while (i < 6 && !ieq(w, n, specs[i]))
            i++;
        if (i == 6 || (i == SEC_MIME && !parts.n))
            return fail_tok(p, "Invalid section", w, n);
        sec->spec = (enum section_spec)i;
        if ((i == SEC_HEADER_FIELDS || i == SEC_HEADER_FIELDS_NOT) &&
            !header_list(p, sec))
            return false;
    }
    return expect(p, ']', "Invalid section");
}

/* partial = "<" number64 "." nz-number64 ">" */
static bool partial(struct p *p, struct fetch_att *fa)
{
    p->p++;
    fa->partial = true;
    return number(p, MAX_NUM64, false, &fa->offset, "partial offset") &&
           expect(p, '.', "Invalid partial") &&
           number(p, MAX_NUM64, true, &fa->count, "partial length") &&
           expect(p, '>', "Invalid partial");
}

static bool fetch_att(struct p *p, struct fetch_att *fa)
{
    const char *w;
    size_t n, i = 0;
    if (!word(p, att_char, &w, &n))
        return bad_arg(p, "FETCH attribute");
    while (i < sizeof(fatts) / sizeof(fatts[0]) && !ieq(w, n, fatts[i].name))
        i++;
    if (i == sizeof(fatts) / sizeof(fatts[0])) {
        size_t more = run(p, astring_char);
        return fail_tok(p, "Unknown FETCH attribute", w, n + more);
    }
    unsigned f = fatts[i].flags;
    fa->type = (enum fetch_att_type)fatts[i].type;
    fa->peek = (f & FF_PEEK) != 0;
    if (peek(p) != '[') {
        if (f & FF_NEED_SECTION)
            return fail_tok(p, "Missing section after", w, n);
        return true;
    }
    if (!(f & (FF_SECTION | FF_NEED_SECTION)))
        return fail_tok(p, "No section allowed after", w, n);
    if (fa->type == FA_BODY)
        fa->type = FA_BODY_SECTION;
    if (!section(p, &fa->section, (f & FF_BINARY) != 0))
        return false;
    if (peek(p) != '<')
        return true;
    if (f & FF_NOPARTIAL)
        return fail(p, "No partial allowed with BINARY.SIZE");
    return partial(p, fa);
}

/* ALL / FAST / FULL: push the atts they stand for; false if not one */
static bool fetch_macro(struct p *p, struct cmd_fetch *f, struct vec *v)
{
    static const struct {
        const char *name;
        unsigned char n, atts[5];
    } macros[] = {
        {"ALL", 4, {FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE}},
        {"FAST", 3, {FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE}},
        {"FULL",
         5,
         {FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY}},
    };
    size_t i = 0;
    while (i < 3 && !keyword(p, macros[i].name))
        i++;
    if (i == 3)
        return false;
    for (size_t j = 0; j < macros[i].n; j++) {
        struct fetch_att *fa = vec_push(p, v, sizeof(*fa));
        if (!fa)
            return true; /* error set */
        fa->type = (enum fetch_att_type)macros[i].atts[j];
    }
    f->macro = true;
    return true;
}

/* SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 7162) */
static bool fetch_modifiers(struct p *p, struct imap_command *c)
{
    struct cmd_fetch *f = &c->u.fetch;
    if (!expect(p, '(', "Invalid FETCH modifiers"))
        return false;
    do {
        const char *w;
        size_t n;
        if (!word(p, atom_char, &w, &n))
            return bad_arg(p, "FETCH modifier");
        if (ieq(w, n, "CHANGEDSINCE") && !f->changedsince) {
            if (!sp(p, "mod-sequence") || !modseq(p, false, &f->changedsince))
                return false;
        } else if (ieq(w, n, "VANISHED") && !f->vanished) {
            f->vanished = true;
        } else {
            return fail_tok(p, "Unknown or repeated FETCH modifier", w, n);
        }
    } while (peek(p) == ' ' && ++p->p);
    if (!expect(p, ')', "Invalid FETCH modifiers"))
        return false;
    if (f->vanished && (!c->uid || !f->changedsince))
        return fail(p, "VANISHED requires UID FETCH with CHANGEDSINCE");
    return true;
}

static bool p_fetch(struct p *p, struct imap_command *c)
{
    struct cmd_fetch *f = &c->u.fetch;
    struct vec v = {0};
    if (!sp(p, "sequence set") || !seqset(p, &f->set, true, true) ||
        !sp(p, "FETCH attributes"))
        return false;
    if (peek(p) == '(') {
        p->p++;
        do {
            if (v.n && !sp(p, "FETCH attribute"))
                return false;
            if (keyword(p, "ALL") || keyword(p, "FAST") || keyword(p, "FULL"))
                return fail(p, "FETCH macros can't be in a list");
            struct fetch_att *fa = vec_push(p, &v, sizeof(*fa));
            if (!fa || !fetch_att(p, fa))
                return false;
        } while (peek(p) != ')');
        p->p++;
    } else if (fetch_macro(p, f, &v)) {
        if (p->err)
            return false;
    } else {
        struct fetch_att *fa = vec_push(p, &v, sizeof(*fa));
        if (!fa || !fetch_att(p, fa))
            return false;
    }
    f->atts = v.v;
    f->att_count = v.n;
    if (peek(p) != ' ')
        return true;
    p->p++;
    return fetch_modifiers(p, c);
}

/* ---- STORE ---- */

static bool p_store(struct p *p, struct imap_command *c)
{
    struct cmd_store *s = &c->u.store;
    struct vec kw = {0};
    const char *w;
    size_t n;
    if (!sp(p, "sequence set") || !seqset(p, &s->set, true, true) ||
        !sp(p, "STORE item"))
        return false;
    if (peek(p) == '(') { /* store-modifiers (RFC 7162) */
        p->p++;
        do {
            if (!word(p, atom_char, &w, &n))
                return bad_arg(p, "STORE modifier");
            if (!ieq(w, n, "UNCHANGEDSINCE") || s->has_unchangedsince)
                return fail_tok(p, "Unknown or repeated STORE modifier", w, n);
            s->has_unchangedsince = true;
            if (!sp(p, "mod-sequence") || !modseq(p, true, &s->unchangedsince))
                return false;
        } while (peek(p) == ' ' && ++p->p);
        if (!expect(p, ')', "Invalid STORE modifiers") || !sp(p, "STORE item"))
            return false;
    }
    if (!word(p, atom_char, &w, &n))
        return bad_arg(p, "STORE item");
    const char *item = w;
    size_t in = n;
    if (*w == '+' || *w == '-') {
        s->op = *w == '+' ? 1 : 2;
        w++;
        n--;
    }
    if (ieq(w, n, "FLAGS.SILENT"))
        s->silent = true;
    else if (!ieq(w, n, "FLAGS"))
        return fail_tok(p, "Unknown STORE item", item, in);
    if (!sp(p, "flags"))
        return false;
    if (peek(p) == '(')
        return flag_list(p, &s->flags);
    do { /* flag *(SP flag) */
        if (!flag(p, &s->flags, &kw))
            return false;
    } while (peek(p) == ' ' && ++p->p);
    s->flags.keywords = kw.v;
    s->flags.keyword_count = kw.n;
    return true;
}

static bool p_copy(struct p *p, struct imap_command *c)
{
    return sp(p, "sequence set") && seqset(p, &c->u.copy.set, true, true) &&
           sp(p, "mailbox name") && mailbox(p, &c->u.copy.mailbox);
}

static bool p_uid_expunge(struct p *p, struct imap_command *c)
{
    return sp(p, "UID set") && seqset(p, &c->u.expunge_set, true, true);
}

/* ---- dispatch ---- */

enum { CF_UID = 1 }; /* allowed after "UID" */

static const struct {
    const char *name;
    unsigned char type, flags;
    parse_fn fn;
} commands[] = {
    {"CAPABILITY", CMD_CAPABILITY, 0, p_none},
    {"NOOP", CMD_NOOP, 0, p_none},
    {"LOGOUT", CMD_LOGOUT, 0, p_none},
    {"ID", CMD_ID, 0, p_id},
    {"STARTTLS", CMD_STARTTLS, 0, p_none},
    {"AUTHENTICATE", CMD_AUTHENTICATE, 0, p_authenticate},
    {"LOGIN", CMD_LOGIN, 0, p_login},
    {"ENABLE", CMD_ENABLE, 0, p_enable},
    {"SELECT", CMD_SELECT, 0, p_select},
    {"EXAMINE", CMD_EXAMINE, 0, p_select},
    {"CREATE", CMD_CREATE, 0, p_create},
    {"DELETE", CMD_DELETE, 0, p_mailbox},
    {"RENAME", CMD_RENAME, 0, p_rename},
    {"SUBSCRIBE", CMD_SUBSCRIBE, 0, p_mailbox},
    {"UNSUBSCRIBE", CMD_UNSUBSCRIBE, 0, p_mailbox},
    {"LIST", CMD_LIST, 0, p_list},
    {"LSUB", CMD_LSUB, 0, p_lsub},
    {"NAMESPACE", CMD_NAMESPACE, 0, p_none},
    {"STATUS", CMD_STATUS, 0, p_status},
    {"APPEND", CMD_APPEND, 0, p_append},
    {"IDLE", CMD_IDLE, 0, p_none},
    {"CHECK", CMD_CHECK, 0, p_none},
    {"CLOSE", CMD_CLOSE, 0, p_none},
    {"UNSELECT", CMD_UNSELECT, 0, p_none},
    {"EXPUNGE", CMD_EXPUNGE, CF_UID, p_none},
    {"SEARCH", CMD_SEARCH, CF_UID, p_search},
    {"FETCH", CMD_FETCH, CF_UID, p_fetch},
    {"STORE", CMD_STORE, CF_UID, p_store},
    {"COPY", CMD_COPY, CF_UID, p_copy},
    {"MOVE", CMD_MOVE, CF_UID, p_copy},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static size_t find_command(const char *s, size_t n)
{
    size_t i = 0;
    while (i < NCOMMANDS && !ieq(s, n, commands[i].name))
        i++;
    return i;
}

/* After the tag and its SP: the name, UID prefix, arguments, CRLF. */
static enum parse_result parse_command(struct p *p, struct imap_command *c)
{
    const char *w;
    size_t n;
    if (!word(p, atom_char, &w, &n)) {
        bad_arg(p, "command name");
        return PARSE_BAD;
    }
    size_t i = find_command(w, n);
    if (i == NCOMMANDS && ieq(w, n, "UID")) {
        c->uid = true;
        if (!sp(p, "UID command"))
            return PARSE_BAD;
        if (!word(p, atom_char, &w, &n)) {
            bad_arg(p, "UID command");
            return PARSE_BAD;
        }
        i = find_command(w, n);
        if (i == NCOMMANDS || !(commands[i].flags & CF_UID)) {
            fail_tok(p, "Unknown UID command", w, n);
            return PARSE_BAD;
        }
    } else if (i == NCOMMANDS) {
        fail_tok(p, "Unknown command", w, n);
        return PARSE_UNKNOWN;
    }
    c->type = (enum imap_cmd_type)commands[i].type;
    parse_fn fn = commands[i].fn;
    if (c->uid && c->type == CMD_EXPUNGE)
        fn = p_uid_expunge;
    if (p->head && c->type != CMD_APPEND) {
        fail(p, "Not an APPEND command");
        return PARSE_BAD;
    }
    /* an APPEND head ends at the message literal: no CRLF to check */
    if (fn(p, c) && (p->head || finish(p)))
        return PARSE_OK;
    if (p->more)
        return PARSE_MORE;
    return p->nomem ? PARSE_NOMEM : PARSE_BAD;
}

static enum parse_result parse(const char *buf, size_t len,
                               const struct parser_limits *lim, struct arena *a,
                               struct imap_command *cmd_r, const char **err_r,
                               bool head)
{
    struct p p = {.p = buf, .end = buf + len, .a = a, .head = head};
    p.max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_MAX_DEPTH;
    p.max_items = lim && lim->max_items ? lim->max_items : DEFAULT_MAX_ITEMS;
    memset(cmd_r, 0, sizeof(*cmd_r));
    *err_r = NULL;

    const char *t;
    size_t n;
    if (!word(&p, tag_char, &t, &n) || peek(&p) != ' ') {
        if (n && (at_eol(&p) || p.p == p.end)) {
            if (!dup_str(&p, t, n, &cmd_r->tag))
                return PARSE_NOMEM;
            *err_r = p.p == p.end ? "Missing CRLF at end of command"
                                  : "Missing command name";
            return PARSE_BAD;
        }
        *err_r = len && (buf[0] == '\r' || buf[0] == '\n') ? "Empty command"
                                                           : "Invalid tag";
        return PARSE_BAD_TAG;
    }
    if (!dup_str(&p, t, n, &cmd_r->tag))
        return PARSE_NOMEM;
    p.p++;
    enum parse_result r;
    if (buf[len - 1] != '\n') {
        fail(&p, "Missing CRLF at end of command");
        /* still say which command it was */
        const char *w;
        size_t wn;
        word(&p, atom_char, &w, &wn);
        size_t i = find_command(w, wn);
        if (i < NCOMMANDS)
            cmd_r->type = (enum imap_cmd_type)commands[i].type;
        r = PARSE_BAD;
    } else {
        r = parse_command(&p, cmd_r);
    }
    if (r != PARSE_OK && r != PARSE_MORE)
        *err_r = p.err ? p.err : "Syntax error";
    return r;
}

enum parse_result parser_parse(const char *buf, size_t len,
                               const struct parser_limits *lim, struct arena *a,
                               struct imap_command *cmd_r, const char **err_r)
{
    return parse(buf, len, lim, a, cmd_r, err_r, false);
}

enum parse_result parser_parse_append_head(const char *buf, size_t len,
                                           const struct parser_limits *lim,
                                           struct arena *a,
                                           struct imap_command *cmd_r,
                                           const char **err_r)
{
    return parse(buf, len, lim, a, cmd_r, err_r, true);
}
