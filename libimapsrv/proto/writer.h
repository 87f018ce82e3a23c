/* Response writer: one growable output buffer per connection plus the
 * functions that choose the IMAP wire form of a string (atom, quoted,
 * literal).  Pure: no I/O; the connection layer sends wbuf_pending() and
 * reports progress with wbuf_consume(). */
#ifndef IMAPSRV_PROTO_WRITER_H
#define IMAPSRV_PROTO_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strings of this many bytes or more always go as literals: some clients
 * cap their line length and long quoted strings buy nothing. */
#define WBUF_QUOTED_MAX 1000

struct wbuf {
    char *data;      /* NULL while empty: idle connections hold no memory */
    size_t len, cap; /* bytes written into data / allocated */
    size_t off;      /* bytes already sent, consumed from the front */
    bool oom;        /* sticky: after a failed allocation every put is a
                        no-op and the caller closes the session */
};

void wbuf_init(struct wbuf *w);
/* Release the memory and return to the wbuf_init() state (oom cleared). */
void wbuf_free(struct wbuf *w);

void wbuf_put(struct wbuf *w, const void *p, size_t n);
void wbuf_puts(struct wbuf *w, const char *s);
void wbuf_putc(struct wbuf *w, char c);
void wbuf_u32(struct wbuf *w, uint32_t v);
void wbuf_u64(struct wbuf *w, uint64_t v);
void wbuf_printf(struct wbuf *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Unsent bytes; NULL with *len_r == 0 when there are none. */
const char *wbuf_pending(const struct wbuf *w, size_t *len_r);
/* n (<= pending) bytes were sent.  Frees the buffer once everything is
 * sent; moves the rest to the front only when the move is cheaper than the
 * space it wins. */
void wbuf_consume(struct wbuf *w, size_t n);

enum {
    /* 8-bit UTF-8 may go in a quoted string (IMAP4rev2 / UTF8=ACCEPT) */
    WSTR_UTF8 = 1,
};

/* astring: atom when every byte is an ASTRING-CHAR (and it is not "NIL" in
 * any case), else quoted when quotable, else literal; empty gives "". */
void wbuf_astring(struct wbuf *w, const char *s, size_t n, unsigned flags);
/* string: quoted when quotable, else literal; never an atom. */
void wbuf_string(struct wbuf *w, const char *s, size_t n, unsigned flags);
/* nstring: NIL when s == NULL, else as wbuf_string(). */
void wbuf_nstring(struct wbuf *w, const char *s, size_t n, unsigned flags);
/* "{n}\r\n" and the bytes.  A literal cannot carry NUL (CHAR8); binary
 * content needs literal8, which is the caller's business. */
void wbuf_literal(struct wbuf *w, const char *s, size_t n);
/* resp-text from untrusted or free text (BAD/NO reasons, greetings):
 * printable ASCII is copied, CR/LF/NUL/other controls become spaces, 8-bit
 * bytes become '?', and a leading '[' becomes a space so the text cannot
 * forge a response code such as [ALERT]. */
void wbuf_text(struct wbuf *w, const char *s, size_t n);

/* The form wbuf_astring()/wbuf_string() pick; exposed for callers that
 * size output ahead and for the tests. */
enum wbuf_form { WBUF_ATOM, WBUF_QUOTED, WBUF_LITERAL };
enum wbuf_form wbuf_string_form(const char *s, size_t n, unsigned flags,
                                bool atom_ok);

#endif
