/* Unit tests for proto/writer: buffer mechanics and the choice of string
 * form, always against the exact bytes that go on the wire. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/writer.h"

/* Compare the pending bytes with a string literal (NULs allowed). */
#define EXPECT(w, lit) expect_bytes((w), (lit), sizeof(lit) - 1)

static void expect_bytes(const struct wbuf *w, const char *exp, size_t n)
{
    size_t len;
    const char *p = wbuf_pending(w, &len);

    ck_assert_uint_eq(len, n);
    if (n > 0)
        ck_assert_mem_eq(p, exp, n);
    else
        ck_assert_ptr_null(p);
}

typedef void put_fn(struct wbuf *, const char *, size_t, unsigned);

/* Write s with fn into a fresh buffer and compare. */
#define FORM(fn, s, flags, lit)                                                \
    form_check((fn), (s), sizeof(s) - 1, (flags), (lit), sizeof(lit) - 1)

static void form_check(put_fn *fn, const char *s, size_t n, unsigned flags,
                       const char *exp, size_t exp_len)
{
    struct wbuf w;

    wbuf_init(&w);
    fn(&w, s, n, flags);
    ck_assert(!w.oom);
    expect_bytes(&w, exp, exp_len);
    wbuf_free(&w);
}

/* ---- buffer mechanics ---- */

START_TEST(test_init_empty)
{
    struct wbuf w;
    size_t len = 99;

    wbuf_init(&w);
    ck_assert_ptr_null(w.data);
    ck_assert_uint_eq(w.cap, 0);
    ck_assert(!w.oom);
    ck_assert_ptr_null(wbuf_pending(&w, &len));
    ck_assert_uint_eq(len, 0);
    wbuf_consume(&w, 0);
    wbuf_consume(&w, 5); /* more than pending on an empty buffer */
    ck_assert_ptr_null(w.data);
    wbuf_free(&w);
    wbuf_free(&w); /* twice is harmless */
}
END_TEST

START_TEST(test_put_basic)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_puts(&w, "* OK");
    wbuf_putc(&w, ' ');
    wbuf_put(&w, "ready\r\nxx", 7);
    wbuf_put(&w, NULL, 0);
    wbuf_puts(&w, "");
    EXPECT(&w, "* OK ready\r\n");
    wbuf_putc(&w, '\0');
    EXPECT(&w, "* OK ready\r\n\0");
    wbuf_free(&w);
    ck_assert_ptr_null(w.data);
    EXPECT(&w, "");
}
END_TEST

START_TEST(test_numbers)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_u32(&w, 0);
    wbuf_putc(&w, ' ');
    wbuf_u32(&w, 1);
    wbuf_putc(&w, ' ');
    wbuf_u32(&w, 10);
    wbuf_putc(&w, ' ');
    wbuf_u32(&w, UINT32_MAX);
    wbuf_putc(&w, ' ');
    wbuf_u64(&w, 0);
    wbuf_putc(&w, ' ');
    wbuf_u64(&w, (uint64_t)UINT32_MAX + 1);
    wbuf_putc(&w, ' ');
    wbuf_u64(&w, 10000000000000000000ull);
    wbuf_putc(&w, ' ');
    wbuf_u64(&w, UINT64_MAX);
    EXPECT(&w, "0 1 10 4294967295 0 4294967296 10000000000000000000 "
               "18446744073709551615");
    wbuf_free(&w);
}
END_TEST

START_TEST(test_printf)
{
    struct wbuf w;
    char big[700];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wbuf_init(&w);
    wbuf_printf(&w, "%s %u EXISTS", "*", 42u);
    EXPECT(&w, "* 42 EXISTS");
    wbuf_printf(&w, "%s", "");
    EXPECT(&w, "* 42 EXISTS");
    wbuf_free(&w);

    /* Longer than the room left: takes the second vsnprintf. */
    wbuf_init(&w);
    wbuf_puts(&w, "a");
    wbuf_printf(&w, "[%s]%d", big, -7);
    ck_assert(!w.oom);
    size_t len;
    const char *p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 1 + 1 + 699 + 1 + 2);
    ck_assert_int_eq(p[0], 'a');
    ck_assert_int_eq(p[1], '[');
    ck_assert_mem_eq(p + 2, big, 699);
    ck_assert_mem_eq(p + 701, "]-7", 3);
    wbuf_free(&w);

    /* Exactly filling the room: one pass, the NUL not counted. */
    wbuf_init(&w);
    wbuf_putc(&w, 'y');
    size_t room = w.cap - w.len;
    big[room - 1] = '\0';
    wbuf_printf(&w, "%s", big);
    ck_assert_uint_eq(w.len, 1 + room - 1);
    ck_assert_uint_eq(w.cap, room + 1);
    wbuf_free(&w);
    big[room - 1] = 'x';

    /* One byte more: no room for the NUL, so it grows and retries. */
    wbuf_init(&w);
    wbuf_putc(&w, 'y');
    big[room] = '\0';
    wbuf_printf(&w, "%s", big);
    ck_assert(!w.oom);
    ck_assert_uint_eq(w.len, 1 + room);
    ck_assert_uint_gt(w.cap, room + 1);
    p = wbuf_pending(&w, &len);
    ck_assert_int_eq(p[0], 'y');
    ck_assert_mem_eq(p + 1, big, room);
    wbuf_free(&w);
}
END_TEST

START_TEST(test_consume_sequence)
{
    struct wbuf w;
    size_t len;

    wbuf_init(&w);
    wbuf_puts(&w, "0123456789");
    wbuf_consume(&w, 3);
    EXPECT(&w, "3456789");
    wbuf_consume(&w, 0);
    EXPECT(&w, "3456789");
    wbuf_puts(&w, "ab");
    EXPECT(&w, "3456789ab");
    wbuf_consume(&w, 8);
    EXPECT(&w, "b");
    ck_assert_ptr_nonnull(w.data);
    wbuf_consume(&w, 1);
    /* fully sent: memory released */
    ck_assert_ptr_null(w.data);
    ck_assert_uint_eq(w.cap, 0);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_uint_eq(w.off, 0);
    ck_assert_ptr_null(wbuf_pending(&w, &len));
    /* and usable again */
    wbuf_puts(&w, "xyz");
    wbuf_consume(&w, 100); /* clamps */
    ck_assert_ptr_null(w.data);
    EXPECT(&w, "");
    wbuf_free(&w);
}
END_TEST

START_TEST(test_growth_many_puts)
{
    struct wbuf w;
    size_t caps = 0, last_cap = 0;

    wbuf_init(&w);
    for (size_t i = 0; i < 100000; i++) {
        wbuf_putc(&w, (char)('a' + i % 26));
        if (w.cap != last_cap) {
            caps++;
            last_cap = w.cap;
        }
    }
    ck_assert(!w.oom);
    ck_assert_uint_ge(w.cap, 100000);
    ck_assert_uint_le(w.cap, 2 * 100000);
    /* geometric: 256 .. 131072 is 10 sizes */
    ck_assert_uint_le(caps, 10);
    size_t len;
    const char *p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 100000);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(p[i], 'a' + i % 26);
    wbuf_free(&w);
}
END_TEST

START_TEST(test_interleaved_send)
{
    /* A writer that sends a bit less than it writes: everything must come
     * out once, in order. */
    struct wbuf w;
    char *sent = malloc(200000);
    size_t nsent = 0, nput = 0;

    ck_assert_ptr_nonnull(sent);
    wbuf_init(&w);
    for (size_t i = 0; i < 20000; i++) {
        for (size_t k = 0; k < 1 + i % 13; k++) {
            wbuf_putc(&w, (char)(nput % 251));
            nput++;
        }
        size_t len;
        const char *p = wbuf_pending(&w, &len);
        size_t take = len > 0 ? (i * 7) % (len + 1) : 0;
        memcpy(sent + nsent, p, take);
        nsent += take;
        wbuf_consume(&w, take);
        ck_assert_uint_le(w.cap, 4096); /* bounded by the backlog */
    }
    size_t len;
    const char *p = wbuf_pending(&w, &len);
    if (len > 0)
        memcpy(sent + nsent, p, len);
    nsent += len;
    wbuf_consume(&w, len);
    ck_assert_uint_eq(nsent, nput);
    for (size_t i = 0; i < nsent; i++)
        ck_assert_int_eq((unsigned char)sent[i], i % 251);
    ck_assert_ptr_null(w.data);
    wbuf_free(&w);
    free(sent);
}
END_TEST

START_TEST(test_compact_when_worth_it)
{
    struct wbuf w;
    char a[200], b[100];

    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    wbuf_init(&w);
    wbuf_put(&w, a, sizeof(a));
    ck_assert_uint_eq(w.cap, 256);
    char *before = w.data;
    wbuf_consume(&w, 150);
    ck_assert_uint_eq(w.off, 150); /* consume alone moves nothing */
    /* 50 pending + 100 new fit in 256 and 150 consumed >= 50 moved */
    wbuf_put(&w, b, sizeof(b));
    ck_assert_ptr_eq(w.data, before);
    ck_assert_uint_eq(w.cap, 256);
    ck_assert_uint_eq(w.off, 0);
    size_t len;
    const char *p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 150);
    ck_assert_mem_eq(p, a, 50);
    ck_assert_mem_eq(p + 50, b, 100);
    wbuf_free(&w);
}
END_TEST

START_TEST(test_grow_when_move_not_worth_it)
{
    struct wbuf w;
    char a[256];

    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (char)i;
    wbuf_init(&w);
    wbuf_put(&w, a, sizeof(a));
    ck_assert_uint_eq(w.cap, 256);
    wbuf_consume(&w, 10);
    /* 246 pending, only 10 consumed: grow rather than slide */
    wbuf_put(&w, "hello", 5);
    ck_assert_uint_eq(w.cap, 512);
    ck_assert_uint_eq(w.off, 0);
    size_t len;
    const char *p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 251);
    ck_assert_mem_eq(p, a + 10, 246);
    ck_assert_mem_eq(p + 246, "hello", 5);
    wbuf_free(&w);
}
END_TEST

START_TEST(test_oom_sticky)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_puts(&w, "A1 OK");
    wbuf_put(&w, "x", SIZE_MAX); /* cannot be allocated */
    ck_assert(w.oom);
    EXPECT(&w, "A1 OK");
    wbuf_puts(&w, "more");
    wbuf_putc(&w, 'c');
    wbuf_u32(&w, 5);
    wbuf_u64(&w, 5);
    wbuf_printf(&w, "%d", 5);
    wbuf_astring(&w, "x", 1, 0);
    wbuf_string(&w, "x", 1, 0);
    wbuf_nstring(&w, NULL, 0, 0);
    wbuf_literal(&w, "x", 1);
    wbuf_text(&w, "x", 1);
    EXPECT(&w, "A1 OK");
    wbuf_consume(&w, 5);
    ck_assert(w.oom); /* still: the session is closing */
    wbuf_puts(&w, "z");
    EXPECT(&w, "");
    wbuf_free(&w);
    ck_assert(!w.oom);
    wbuf_puts(&w, "z");
    EXPECT(&w, "z");
    wbuf_free(&w);
}
END_TEST

START_TEST(test_oom_with_offset)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_puts(&w, "0123456789");
    wbuf_consume(&w, 4);
    wbuf_put(&w, "x", SIZE_MAX - 3);
    ck_assert(w.oom);
    EXPECT(&w, "456789");
    wbuf_free(&w);
}
END_TEST

/* ---- string forms ---- */

START_TEST(test_astring_atom)
{
    FORM(wbuf_astring, "INBOX", 0, "INBOX");
    FORM(wbuf_astring, "a]b", 0, "a]b"); /* resp-specials is ASTRING-CHAR */
    FORM(wbuf_astring, "]", 0, "]");
    FORM(wbuf_astring, "foo+bar/baz.x~y&z-", 0, "foo+bar/baz.x~y&z-");
    FORM(wbuf_astring, "NILS", 0, "NILS");
    FORM(wbuf_astring, "NI", 0, "NI");
    FORM(wbuf_astring, "xNIL", 0, "xNIL");
    FORM(wbuf_astring, "INBOX", WSTR_UTF8, "INBOX");
}
END_TEST

START_TEST(test_astring_every_char)
{
    /* Each printable ASCII byte alone: atom exactly for ASTRING-CHAR. */
    for (int c = 0x21; c < 0x7f; c++) {
        char s[1] = {(char)c};
        struct wbuf w;
        size_t len;

        wbuf_init(&w);
        wbuf_astring(&w, s, 1, 0);
        const char *p = wbuf_pending(&w, &len);
        bool special = strchr("(){%*\"\\", c) != NULL;
        if (!special) {
            ck_assert_uint_eq(len, 1);
            ck_assert_int_eq(p[0], c);
            ck_assert_int_eq(wbuf_string_form(s, 1, 0, true), WBUF_ATOM);
        } else if (c == '"' || c == '\\') {
            ck_assert_uint_eq(len, 4);
            ck_assert_int_eq(p[0], '"');
            ck_assert_int_eq(p[1], '\\');
            ck_assert_int_eq(p[2], c);
            ck_assert_int_eq(p[3], '"');
        } else {
            ck_assert_uint_eq(len, 3);
            ck_assert_int_eq(p[0], '"');
            ck_assert_int_eq(p[1], c);
            ck_assert_int_eq(p[2], '"');
        }
        wbuf_free(&w);
    }
}
END_TEST

START_TEST(test_astring_quoted)
{
    FORM(wbuf_astring, "a b", 0, "\"a b\"");
    FORM(wbuf_astring, "(x)", 0, "\"(x)\"");
    FORM(wbuf_astring, "a{3}", 0, "\"a{3}\"");
    FORM(wbuf_astring, "50%", 0, "\"50%\"");
    FORM(wbuf_astring, "*", 0, "\"*\"");
    FORM(wbuf_astring, "say \"hi\"", 0, "\"say \\\"hi\\\"\"");
    FORM(wbuf_astring, "a\\b", 0, "\"a\\\\b\"");
    FORM(wbuf_astring, "\\\"", 0, "\"\\\\\\\"\"");
    FORM(wbuf_astring, "\"", 0, "\"\\\"\"");
    FORM(wbuf_astring, "x\"", 0, "\"x\\\"\"");
    /* controls other than CR/LF/NUL are TEXT-CHARs */
    FORM(wbuf_astring, "a\tb", 0, "\"a\tb\"");
    FORM(wbuf_astring, "\x01", 0, "\"\x01\"");
    FORM(wbuf_astring, "\x7f", 0, "\"\x7f\"");
}
END_TEST

START_TEST(test_astring_nil_and_empty)
{
    FORM(wbuf_astring, "NIL", 0, "\"NIL\"");
    FORM(wbuf_astring, "nil", 0, "\"nil\"");
    FORM(wbuf_astring, "Nil", 0, "\"Nil\"");
    FORM(wbuf_astring, "nIL", WSTR_UTF8, "\"nIL\"");
    FORM(wbuf_astring, "", 0, "\"\"");
    FORM(wbuf_astring, "", WSTR_UTF8, "\"\"");
    /* an empty string with a non-NULL pointer that is not NUL-terminated */
    FORM(wbuf_astring, "abc", 0, "abc");
    form_check(wbuf_astring, "abc", 0, 0, "\"\"", 2);
    form_check(wbuf_astring, "NILx", 3, 0, "\"NIL\"", 5);
}
END_TEST

START_TEST(test_literal_forms)
{
    FORM(wbuf_astring, "a\rb", 0, "{3}\r\na\rb");
    FORM(wbuf_astring, "a\nb", 0, "{3}\r\na\nb");
    FORM(wbuf_astring, "a\0b", 0, "{3}\r\na\0b");
    FORM(wbuf_astring, "\r\n", WSTR_UTF8, "{2}\r\n\r\n");
    FORM(wbuf_astring, "\"\r", 0, "{2}\r\n\"\r"); /* no escaping */
    FORM(wbuf_string, "x\n", 0, "{2}\r\nx\n");
    FORM(wbuf_nstring, "\0", 0, "{1}\r\n\0");

    struct wbuf w;
    wbuf_init(&w);
    wbuf_literal(&w, "", 0);
    EXPECT(&w, "{0}\r\n");
    wbuf_literal(&w, "hello", 5);
    EXPECT(&w, "{0}\r\n{5}\r\nhello");
    wbuf_free(&w);
}
END_TEST

START_TEST(test_eight_bit)
{
    /* "Grüße" in UTF-8 */
    FORM(wbuf_astring,
         "Gr\xc3\xbc\xc3\x9f"
         "e",
         0,
         "{7}\r\nGr\xc3\xbc\xc3\x9f"
         "e");
    FORM(wbuf_astring,
         "Gr\xc3\xbc\xc3\x9f"
         "e",
         WSTR_UTF8,
         "\"Gr\xc3\xbc\xc3\x9f"
         "e\"");
    FORM(wbuf_string, "\xe2\x82\xac", WSTR_UTF8, "\"\xe2\x82\xac\"");
    FORM(wbuf_string, "\xe2\x82\xac", 0, "{3}\r\n\xe2\x82\xac");
    FORM(wbuf_astring, "\xf0\x9f\x98\x80 \"q\"", WSTR_UTF8,
         "\"\xf0\x9f\x98\x80 \\\"q\\\"\"");
    /* invalid UTF-8 stays a literal even with the flag */
    FORM(wbuf_astring, "\xff", WSTR_UTF8, "{1}\r\n\xff");
    FORM(wbuf_astring, "a\xc3", WSTR_UTF8, "{2}\r\na\xc3"); /* truncated */
    FORM(wbuf_astring, "\xc0\xaf", WSTR_UTF8, "{2}\r\n\xc0\xaf"); /* overlong */
    /* surrogate, then above U+10FFFF */
    FORM(wbuf_astring, "\xed\xa0\x80", WSTR_UTF8, "{3}\r\n\xed\xa0\x80");
    FORM(wbuf_astring, "\xf4\x90\x80\x80", WSTR_UTF8,
         "{4}\r\n\xf4\x90\x80\x80");
    FORM(wbuf_string, "\x80", WSTR_UTF8, "{1}\r\n\x80");
    /* 8-bit with CR: literal regardless */
    FORM(wbuf_string, "\xc3\xbc\r", WSTR_UTF8, "{3}\r\n\xc3\xbc\r");
}
END_TEST

START_TEST(test_long_strings)
{
    static char s[WBUF_QUOTED_MAX + 1];
    struct wbuf w;
    size_t len;
    const char *p;

    memset(s, 'a', sizeof(s));
    ck_assert_int_eq(wbuf_string_form(s, WBUF_QUOTED_MAX - 1, 0, true),
                     WBUF_ATOM);
    ck_assert_int_eq(wbuf_string_form(s, WBUF_QUOTED_MAX - 1, 0, false),
                     WBUF_QUOTED);
    ck_assert_int_eq(wbuf_string_form(s, WBUF_QUOTED_MAX, 0, true),
                     WBUF_LITERAL);
    ck_assert_int_eq(wbuf_string_form(s, WBUF_QUOTED_MAX, 0, false),
                     WBUF_LITERAL);

    wbuf_init(&w);
    wbuf_string(&w, s, WBUF_QUOTED_MAX - 1, 0);
    p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, WBUF_QUOTED_MAX + 1);
    ck_assert_int_eq(p[0], '"');
    ck_assert_int_eq(p[len - 1], '"');
    wbuf_free(&w);

    wbuf_init(&w);
    wbuf_astring(&w, s, WBUF_QUOTED_MAX, 0);
    p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 6 + 2 + WBUF_QUOTED_MAX);
    ck_assert_mem_eq(p, "{1000}\r\n", 8);
    ck_assert_mem_eq(p + 8, s, WBUF_QUOTED_MAX);
    wbuf_free(&w);

    /* escapes do not count toward the limit: 999 quotes are 1998 bytes */
    memset(s, '"', sizeof(s));
    wbuf_init(&w);
    wbuf_string(&w, s, WBUF_QUOTED_MAX - 1, 0);
    p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 2 + 2 * (WBUF_QUOTED_MAX - 1));
    for (size_t i = 1; i + 1 < len; i += 2) {
        ck_assert_int_eq(p[i], '\\');
        ck_assert_int_eq(p[i + 1], '"');
    }
    wbuf_free(&w);
}
END_TEST

START_TEST(test_string_never_atom)
{
    FORM(wbuf_string, "INBOX", 0, "\"INBOX\"");
    FORM(wbuf_string, "NIL", 0, "\"NIL\"");
    FORM(wbuf_string, "", 0, "\"\"");
    FORM(wbuf_string, "a\\\"b", 0, "\"a\\\\\\\"b\"");
    ck_assert_int_eq(wbuf_string_form("INBOX", 5, 0, false), WBUF_QUOTED);
    ck_assert_int_eq(wbuf_string_form("INBOX", 5, 0, true), WBUF_ATOM);
    ck_assert_int_eq(wbuf_string_form("", 0, 0, true), WBUF_QUOTED);
    ck_assert_int_eq(wbuf_string_form("a b", 3, 0, true), WBUF_QUOTED);
    ck_assert_int_eq(wbuf_string_form("a\r", 2, 0, true), WBUF_LITERAL);
}
END_TEST

START_TEST(test_nstring)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_nstring(&w, NULL, 0, 0);
    wbuf_putc(&w, ' ');
    wbuf_nstring(&w, NULL, 7, WSTR_UTF8);
    wbuf_putc(&w, ' ');
    wbuf_nstring(&w, "", 0, 0);
    wbuf_putc(&w, ' ');
    wbuf_nstring(&w, "NIL", 3, 0);
    wbuf_putc(&w, ' ');
    wbuf_nstring(&w, "text/plain", 10, 0);
    EXPECT(&w, "NIL NIL \"\" \"NIL\" \"text/plain\"");
    wbuf_free(&w);
}
END_TEST

/* ---- resp-text ---- */

#define TEXT(s, lit)                                                           \
    do {                                                                       \
        struct wbuf w_;                                                        \
        wbuf_init(&w_);                                                        \
        wbuf_text(&w_, (s), sizeof(s) - 1);                                    \
        EXPECT(&w_, lit);                                                      \
        wbuf_free(&w_);                                                        \
    } while (0)

START_TEST(test_text_sanitise)
{
    TEXT("Logged in", "Logged in");
    TEXT("", "");
    TEXT("a\r\nb", "a  b");
    TEXT("a\0b", "a b");
    TEXT("\t\x01\x1f\x7f", "    ");
    TEXT("x\r\n* OK [ALERT] injected", "x  * OK [ALERT] injected");
    TEXT("caf\xc3\xa9", "caf??");
    TEXT("\xff", "?");
    /* a leading "[" would read as a response code */
    TEXT("[ALERT] pwned", " ALERT] pwned");
    TEXT("[", " ");
    TEXT("a[b]", "a[b]");
    TEXT("\"quoted\" \\ {5}", "\"quoted\" \\ {5}");
    /* every printable byte passes through */
    char all[95];
    for (int i = 0; i < 95; i++)
        all[i] = (char)(0x20 + i);
    struct wbuf w;
    size_t len;
    wbuf_init(&w);
    wbuf_text(&w, all + 1, 94); /* skip the "[" check: starts at '!' */
    const char *p = wbuf_pending(&w, &len);
    ck_assert_uint_eq(len, 94);
    ck_assert_mem_eq(p, all + 1, 94);
    wbuf_free(&w);
}
END_TEST

START_TEST(test_text_after_other_output)
{
    struct wbuf w;

    wbuf_init(&w);
    wbuf_puts(&w, "A1 BAD ");
    wbuf_text(&w, "[x]\r\n", 5);
    wbuf_puts(&w, "\r\n");
    EXPECT(&w, "A1 BAD  x]  \r\n");
    wbuf_free(&w);
}
END_TEST

static Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("buffer");

    tcase_add_test(tc, test_init_empty);
    tcase_add_test(tc, test_put_basic);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_consume_sequence);
    tcase_add_test(tc, test_growth_many_puts);
    tcase_add_test(tc, test_interleaved_send);
    tcase_add_test(tc, test_compact_when_worth_it);
    tcase_add_test(tc, test_grow_when_move_not_worth_it);
    tcase_add_test(tc, test_oom_sticky);
    tcase_add_test(tc, test_oom_with_offset);
    suite_add_tcase(s, tc);

    tc = tcase_create("forms");
    tcase_add_test(tc, test_astring_atom);
    tcase_add_test(tc, test_astring_every_char);
    tcase_add_test(tc, test_astring_quoted);
    tcase_add_test(tc, test_astring_nil_and_empty);
    tcase_add_test(tc, test_literal_forms);
    tcase_add_test(tc, test_eight_bit);
    tcase_add_test(tc, test_long_strings);
    tcase_add_test(tc, test_string_never_atom);
    tcase_add_test(tc, test_nstring);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, test_text_sanitise);
    tcase_add_test(tc, test_text_after_other_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(writer_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
