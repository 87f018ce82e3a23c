/* Line/literal framer: see framer.h.  Every decision depends only on the
 * byte stream, never on how it was cut into pieces, so feeding one byte at a
 * time gives the same events as feeding everything at once. */
#include "proto/framer.h"

#include <stdlib.h>
#include <string.h>

enum {
    ST_LINE,     /* reading a line of a command (or a raw line) */
    ST_LITWAIT,  /* FR_LITERAL given; waiting for accept / reject */
    ST_LIT,      /* reading literal bytes */
    ST_STREAM,   /* passing literal bytes through to the caller */
    ST_DONE,     /* FR_COMMAND / FR_RAW_LINE given; waiting for next() */
    ST_OVERSIZE, /* accepted a literal that does not fit: report it */
    ST_SKIPLIT,  /* dropping the bytes of a literal of a dropped command */
    ST_SKIP,     /* dropping the rest of a line of a dropped command */
};

#define DEFAULT_MAX_LINE 8192
#define DEFAULT_MAX_COMMAND 65536
#define MIN_BUF 256

/* ASTRING-CHAR (RFC 9051): ATOM-CHAR or ']' */
static bool astring_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\", c);
}

void framer_init(struct framer *f, const struct framer_limits *lim)
{
    memset(f, 0, sizeof(*f));
    if (lim)
        f->lim = *lim;
    if (!f->lim.max_line)
        f->lim.max_line = DEFAULT_MAX_LINE;
    if (!f->lim.max_command)
        f->lim.max_command = DEFAULT_MAX_COMMAND;
    f->state = ST_LINE;
}

void framer_free(struct framer *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

/* Room for n bytes plus a NUL; grows geometrically, never beyond
 * max_command + 1 (callers never ask for more). */
static bool reserve(struct framer *f, size_t n)
{
    if (n + 1 <= f->cap)
        return true;
    size_t max = f->lim.max_command + 1;
    size_t cap = f->cap ? f->cap : MIN_BUF;
    while (cap < n + 1 && cap < max)
        cap = cap > max / 2 ? max : cap * 2;
    if (cap > max)
        cap = max;
    if (cap < n + 1)
        return false;
    char *b = realloc(f->buf, cap);
    if (!b)
        return false;
    f->buf = b;
    f->cap = cap;
    return true;
}

/* Start a new command (or raw line). */
static void start(struct framer *f)
{
    f->len = 0;
    f->line_start = 0;
    f->lit_left = 0;
    f->id_phase = 0;
    f->scan = 0;
    f->tag[0] = '\0';
    f->name[0] = '\0';
    f->state = ST_LINE;
    f->out_raw = false;
    f->raw_len = 0;
    f->in_raw = f->raw;
    f->raw = false;
    if (f->in_raw)
        f->id_phase = 2;          /* a SASL line has no tag */
    if (f->cap > FRAMER_KEEP_BUF) /* no big buffer between commands */
        framer_free(f);
}

/* Record "tag SP name" from the first line, incrementally. */
static void scan_id(struct framer *f)
{
    while (f->id_phase < 2 && f->scan < f->len) {
        unsigned char c = (unsigned char)f->buf[f->scan];
        if (f->id_phase == 0) {
            if (astring_char(c) && c != '+') {
                f->scan++;
                continue;
            }
            if (c != ' ' || f->scan == 0) {
                f->id_phase = 2;
                break;
            }
            size_t n = f->scan < sizeof(f->tag) ? f->scan : sizeof(f->tag) - 1;
            memcpy(f->tag, f->buf, n);
            f->tag[n] = '\0';
            f->name_at = ++f->scan;
            f->id_phase = 1;
        } else {
            if (astring_char(c) && c != ']') {
                f->scan++;
                continue;
            }
            size_t n = f->scan - f->name_at;
            if (n > 0 && n < sizeof(f->name)) {
                for (size_t i = 0; i < n; i++) {
                    char ch = f->buf[f->name_at + i];
                    f->name[i] = ch >= 'a' && ch <= 'z' ? ch - 32 : ch;
                }
                f->name[n] = '\0';
            }
            f->id_phase = 2;
        }
    }
}

/* Does line s[0..n) (line end included) end in {n}, {n+}, {n-}, ~{n}? */
static bool find_literal(const char *s, size_t n,
                         struct framer_literal_info *lit)
{
    if (n && s[n - 1] == '\n')
        n--;
    if (n && s[n - 1] == '\r')
        n--;
    if (!n || s[--n] != '}')
        return false;
    struct framer_literal_info l = {.sync = true};
    if (n && (s[n - 1] == '+' || s[n - 1] == '-')) {
        l.sync = false;
        l.minus = s[n - 1] == '-';
        n--;
    }
    size_t end = n;
    while (n && s[n - 1] >= '0' && s[n - 1] <= '9')
        n--;
    if (n == end || !n || s[n - 1] != '{')
        return false;
    for (size_t i = n; i < end; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (l.size > (UINT64_MAX - d) / 10)
            return false; /* overflow: not an announcement */
        l.size = l.size * 10 + d;
    }
    l.binary = n >= 2 && s[n - 2] == '~';
    *lit = l;
    return true;
}

/* Drop the command; skip the rest of the current line, keeping its last
 * bytes to recognise a non-synchronizing literal announced at its end. */
static void enter_skip(struct framer *f)
{
    size_t line = f->len - f->line_start;
    size_t n = line < sizeof(f->tail) ? line : sizeof(f->tail);
    memcpy(f->tail, f->buf + f->len - n, n);
    f->tail_len = (unsigned char)n;
    f->len = f->line_start = 0;
    if (f->cap > FRAMER_KEEP_BUF)
        framer_free(f);
    f->skip_raw = f->in_raw;
    f->in_raw = false;
    f->state = ST_SKIP;
}

static enum framer_event line_end(struct framer *f)
{
    f->buf[f->len] = '\0';
    if (f->in_raw) {
        size_t n = f->len - 1;
        if (n && f->buf[n - 1] == '\r')
            n--;
        f->raw_len = n;
        f->out_raw = true;
        f->buf[n] = '\0';
        f->in_raw = false;
        f->state = ST_DONE;
        return FR_RAW_LINE;
    }
    if (find_literal(f->buf + f->line_start, f->len - f->line_start, &f->lit)) {
        f->state = ST_LITWAIT;
        return FR_LITERAL;
    }
    f->state = ST_DONE;
    return FR_COMMAND;
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t step_line(struct framer *f, const char *d, size_t n,
                        enum framer_event *ev)
{
    size_t room = min_sz(f->lim.max_line - (f->len - f->line_start),
                         f->lim.max_command - f->len);
    size_t win = min_sz(n, room);
    const char *lf = memchr(d, '\n', win);
    size_t take = lf ? (size_t)(lf - d) + 1 : win;
    if (!reserve(f, f->len + take)) {
        /* out of memory: as good as too long */
        enter_skip(f);
        *ev = FR_LINE_TOO_LONG;
        return 0;
    }
    memcpy(f->buf + f->len, d, take);
    f->len += take;
    if (f->line_start == 0 && f->id_phase < 2)
        scan_id(f);
    if (lf)
        *ev = line_end(f);
    else if (take == room) {
        enter_skip(f);
        *ev = FR_LINE_TOO_LONG;
    }
    return take;
}

static size_t step_lit(struct framer *f, const char *d, size_t n)
{
    size_t take = f->lit_left < n ? (size_t)f->lit_left : n;
    if (!reserve(f, f->len + take)) {
        /* cannot happen within max_command unless out of memory: drop */
        f->state = ST_OVERSIZE;
        f->len = f->line_start = 0;
        return 0;
    }
    memcpy(f->buf + f->len, d, take);
    f->len += take;
    f->lit_left -= take;
    if (!f->lit_left) {
        f->line_start = f->len;
        f->state = ST_LINE;
    }
    return take;
}

/* A streamed literal: hand out the caller's own bytes, keep nothing. */
static size_t step_stream(struct framer *f, const char *d, size_t n)
{
    size_t take = f->lit_left < n ? (size_t)f->lit_left : n;
    f->data = d;
    f->data_len = take;
    f->lit_left -= take;
    if (!f->lit_left) {
        f->line_start = f->len;
        f->state = ST_LINE;
    }
    return take;
}

static size_t step_skip(struct framer *f, const char *d, size_t n)
{
    if (f->state == ST_SKIPLIT) {
        size_t take = f->lit_left < n ? (size_t)f->lit_left : n;
        f->lit_left -= take;
        if (!f->lit_left) {
            f->state = ST_SKIP;
            f->tail_len = 0;
        }
        return take;
    }
    const char *lf = memchr(d, '\n', n);
    size_t upto = lf ? (size_t)(lf - d) : n;
    /* keep the last sizeof(tail) bytes of the line */
    size_t keep = min_sz(upto, sizeof(f->tail));
    size_t old = min_sz(f->tail_len, sizeof(f->tail) - keep);
    memmove(f->tail, f->tail + f->tail_len - old, old);
    memcpy(f->tail + old, d + upto - keep, keep);
    f->tail_len = (unsigned char)(old + keep);
    if (!lf)
        return n;
    struct framer_literal_info lit;
    if (!f->skip_raw && find_literal(f->tail, f->tail_len, &lit) && !lit.sync &&
        lit.size) {
        /* the client sends this literal without waiting: skip it too */
        f->lit_left = lit.size;
        f->state = ST_SKIPLIT;
    } else {
        f->skip_raw = false;
        start(f);
    }
    return upto + 1;
}

enum framer_event framer_feed(struct framer *f, const char *data, size_t len,
                              size_t *used_r)
{
    size_t used = 0;
    enum framer_event ev = FR_NEED_MORE;

    f->data = NULL; /* the last piece lived in the caller's old input */
    f->data_len = 0;
    if (f->state == ST_DONE)
        framer_next(f);
    while (ev == FR_NEED_MORE) {
        if (f->state == ST_LITWAIT) {
            ev = FR_LITERAL; /* not answered yet: say it again */
            break;
        }
        if (f->state == ST_OVERSIZE) {
            f->state = ST_SKIPLIT;
            ev = FR_LINE_TOO_LONG;
            break;
        }
        if (used == len)
            break;
        switch (f->state) {
        case ST_LINE: used += step_line(f, data + used, len - used, &ev); break;
        case ST_LIT: used += step_lit(f, data + used, len - used); break;
        case ST_STREAM:
            used += step_stream(f, data + used, len - used);
            ev = FR_LITERAL_DATA;
            break;
        default: /* ST_SKIP, ST_SKIPLIT */
            used += step_skip(f, data + used, len - used);
            break;
        }
    }
    *used_r = used;
    return ev;
}

const char *framer_command(const struct framer *f, size_t *len_r)
{
    if (f->state != ST_DONE) {
        *len_r = 0;
        return "";
    }
    *len_r = f->out_raw ? f->raw_len : f->len;
    return f->buf;
}

void framer_next(struct framer *f)
{
    if (f->state == ST_DONE)
        start(f);
}

const struct framer_literal_info *framer_literal(const struct framer *f)
{
    return &f->lit;
}

void framer_accept_literal(struct framer *f)
{
    if (f->state != ST_LITWAIT)
        return;
    f->lit_left = f->lit.size;
    if (f->lit.size > f->lim.max_command - f->len) {
        /* last-resort guard: never buffer it; report and skip it */
        f->len = f->line_start = 0;
        f->state = ST_OVERSIZE;
        if (f->cap > FRAMER_KEEP_BUF)
            framer_free(f);
    } else if (f->lit.size) {
        f->state = ST_LIT;
    } else {
        f->line_start = f->len;
        f->state = ST_LINE;
    }
}

void framer_stream_literal(struct framer *f)
{
    if (f->state != ST_LITWAIT)
        return;
    /* nothing is buffered, so neither max_command nor max_line applies */
    f->lit_left = f->lit.size;
    if (f->lit.size) {
        f->state = ST_STREAM;
    } else {
        f->line_start = f->len;
        f->state = ST_LINE;
    }
}

const char *framer_literal_data(const struct framer *f, size_t *len_r)
{
    *len_r = f->data_len;
    return f->data;
}

uint64_t framer_literal_left(const struct framer *f)
{
    return f->state == ST_STREAM ? f->lit_left : 0;
}

const char *framer_command_so_far(const struct framer *f, size_t *len_r)
{
    if (f->state != ST_LITWAIT && f->state != ST_STREAM && f->state != ST_LIT &&
        f->state != ST_LINE) {
        *len_r = 0;
        return "";
    }
    *len_r = f->len;
    return f->buf ? f->buf : "";
}

void framer_reject(struct framer *f)
{
    if (f->state == ST_STREAM || f->state == ST_LIT) {
        /* the rest of the literal is on its way: skip it, then the rest of
         * the command, as for a dropped over-long command */
        f->len = f->line_start = 0;
        if (f->cap > FRAMER_KEEP_BUF)
            framer_free(f);
        f->state = ST_SKIPLIT;
    } else if (f->state == ST_LINE && f->len) {
        enter_skip(f); /* mid-line: the rest of the line is no command */
    } else {
        start(f);
    }
}

const char *framer_tag(const struct framer *f)
{
    return f->tag;
}

const char *framer_name(const struct framer *f)
{
    return f->name;
}

void framer_set_raw(struct framer *f)
{
    if (f->state == ST_LINE && f->len == 0 && f->id_phase == 0) {
        f->in_raw = true;
        f->id_phase = 2;
    } else {
        f->raw = true;
    }
}

void framer_discard(struct framer *f)
{
    framer_free(f);
    f->raw = f->in_raw = f->skip_raw = false;
    start(f);
}

bool framer_release(struct framer *f)
{
    if (f->len != 0 || f->state != ST_LINE)
        return false;
    framer_free(f);
    return true;
}
