/* Response writer: see writer.h. */
#include "proto/writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mutf7.h"

/* First allocation: one typical tagged response fits without regrowing. */
#define WBUF_MIN_CAP 256

void wbuf_init(struct wbuf *w)
{
    w->data = NULL;
    w->len = w->cap = w->off = 0;
    w->oom = false;
}

void wbuf_free(struct wbuf *w)
{
    free(w->data);
    wbuf_init(w);
}

/* Make room for n more bytes at data + len.  False (and oom set) when that
 * cannot be done; the buffer content is untouched then. */
static bool wbuf_reserve(struct wbuf *w, size_t n)
{
    if (w->oom)
        return false;
    if (w->cap - w->len >= n)
        return true;

    size_t pending = w->len - w->off;
    if (n > SIZE_MAX / 2 - pending) {
        w->oom = true;
        return false;
    }
    size_t need = pending + n;

    /* Sliding the unsent bytes down is worth it only when the space won is
     * at least the bytes moved; otherwise a nearly full buffer would be
     * moved again for every small put. */
    if (need <= w->cap && w->off >= pending) {
        memmove(w->data, w->data + w->off, pending);
        w->off = 0;
        w->len = pending;
        return true;
    }

    /* Double at least once: when sliding was not worth it, the unsent
     * bytes fill most of the buffer already. */
    size_t ncap = w->cap == 0 ? WBUF_MIN_CAP : w->cap;
    if (w->cap != 0 && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    while (ncap < need)
        ncap *= 2; /* cannot overflow: need <= SIZE_MAX / 2 */

    char *p;
    if (w->off == 0) {
        p = realloc(w->data, ncap);
        if (p == NULL) {
            w->oom = true;
            return false;
        }
    } else {
        /* Copy only the unsent part, once. */
        p = malloc(ncap);
        if (p == NULL) {
            w->oom = true;
            return false;
        }
        memcpy(p, w->data + w->off, pending);
        free(w->data);
        w->off = 0;
        w->len = pending;
    }
    w->data = p;
    w->cap = ncap;
    return true;
}

void wbuf_put(struct wbuf *w, const void *p, size_t n)
{
    if (n == 0 || !wbuf_reserve(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void wbuf_puts(struct wbuf *w, const char *s)
{
    wbuf_put(w, s, strlen(s));
}

void wbuf_putc(struct wbuf *w, char c)
{
    if (!wbuf_reserve(w, 1))
        return;
    w->data[w->len++] = c;
}

void wbuf_u64(struct wbuf *w, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    wbuf_put(w, tmp + i, sizeof(tmp) - i);
}

void wbuf_u32(struct wbuf *w, uint32_t v)
{
    wbuf_u64(w, v);
}

void wbuf_printf(struct wbuf *w, const char *fmt, ...)
{
    va_list ap, ap2;

    if (!wbuf_reserve(w, 64))
        return;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    size_t room = w->cap - w->len;
    int r = vsnprintf(w->data + w->len, room, fmt, ap);
    if (r < 0) {
        /* Encoding error: the response would be incomplete, so treat it
         * like a failed allocation and let the session close. */
        w->oom = true;
    } else if ((size_t)r < room) {
        w->len += (size_t)r;
    } else if (wbuf_reserve(w, (size_t)r + 1)) {
        vsnprintf(w->data + w->len, (size_t)r + 1, fmt, ap2);
        w->len += (size_t)r;
    }
    va_end(ap2);
    va_end(ap);
}

const char *wbuf_pending(const struct wbuf *w, size_t *len_r)
{
    *len_r = w->len - w->off;
    return *len_r == 0 ? NULL : w->data + w->off;
}

void wbuf_consume(struct wbuf *w, size_t n)
{
    size_t pending = w->len - w->off;

    if (n > pending)
        n = pending;
    w->off += n;
    if (w->off == w->len) {
        /* All sent: hold no memory while the connection waits.  The oom
         * flag stays; the session is closing anyway. */
        free(w->data);
        w->data = NULL;
        w->len = w->cap = w->off = 0;
    }
    /* Otherwise leave the bytes where they are: wbuf_reserve() slides
     * them down only when new room is needed and the move pays off. */
}

/* ASTRING-CHAR (RFC 9051): ATOM-CHAR or "]".  ATOM-CHAR is any CHAR except
 * "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static bool wbuf_is_astring_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\': return false;
    default: return true;
    }
}

static bool wbuf_is_nil(const char *s, size_t n)
{
    return n == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' &&
           (s[2] | 0x20) == 'l';
}

enum wbuf_form wbuf_string_form(const char *s, size_t n, unsigned flags,
                                bool atom_ok)
{
    if (n >= WBUF_QUOTED_MAX)
        return WBUF_LITERAL;
    if (n == 0)
        return WBUF_QUOTED;

    bool atom = atom_ok, eight = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || c == '\r' || c == '\n')
            return WBUF_LITERAL;
        if (c >= 0x80)
            eight = true;
        if (atom && !wbuf_is_astring_char(c))
            atom = false;
    }
    if (eight) {
        /* Quoted 8-bit is only legal as UTF-8 after UTF8=ACCEPT. */
        if ((flags & WSTR_UTF8) && utf8_valid(s, n))
            return WBUF_QUOTED;
        return WBUF_LITERAL;
    }
    /* An atom "NIL" would read as the NIL of an nstring. */
    if (atom && !wbuf_is_nil(s, n))
        return WBUF_ATOM;
    return WBUF_QUOTED;
}

static void wbuf_quoted(struct wbuf *w, const char *s, size_t n)
{
    size_t start = 0;

    wbuf_putc(w, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            wbuf_put(w, s + start, i - start);
            wbuf_putc(w, '\\');
            start = i; /* the special itself goes out with the next run */
        }
    }
    wbuf_put(w, s + start, n - start);
    wbuf_putc(w, '"');
}

void wbuf_literal(struct wbuf *w, const char *s, size_t n)
{
    wbuf_putc(w, '{');
    wbuf_u64(w, n);
    wbuf_put(w, "}\r\n", 3);
    wbuf_put(w, s, n);
}

static void wbuf_form_put(struct wbuf *w, const char *s, size_t n,
                          enum wbuf_form form)
{
    switch (form) {
    case WBUF_ATOM: wbuf_put(w, s, n); break;
    case WBUF_QUOTED: wbuf_quoted(w, s, n); break;
    case WBUF_LITERAL: wbuf_literal(w, s, n); break;
    }
}

void wbuf_astring(struct wbuf *w, const char *s, size_t n, unsigned flags)
{
    wbuf_form_put(w, s, n, wbuf_string_form(s, n, flags, true));
}

void wbuf_string(struct wbuf *w, const char *s, size_t n, unsigned flags)
{
    wbuf_form_put(w, s, n, wbuf_string_form(s, n, flags, false));
}

void wbuf_nstring(struct wbuf *w, const char *s, size_t n, unsigned flags)
{
    if (s == NULL)
        wbuf_put(w, "NIL", 3);
    else
        wbuf_string(w, s, n, flags);
}

void wbuf_text(struct wbuf *w, const char *s, size_t n)
{
    if (n == 0 || !wbuf_reserve(w, n))
        return;
    char *out = w->data + w->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        else if (c >= 0x80)
            c = '?';
        out[i] = (char)c;
    }
    if (out[0] == '[')
        out[0] = ' ';
    w->len += n;
}
