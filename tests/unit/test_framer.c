/* Check suite for the framer.  A script (input bytes + how the "session"
 * answers each event) is run with different chunkings; the transcripts of
 * events and command bytes must be identical and, where given, equal to the
 * expected one. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/framer.h"

/* ---- transcript ---- */

struct out {
    char *s;
    size_t n, cap;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (o->n + (size_t)r + 1 > o->cap) {
        o->cap = (o->n + (size_t)r + 1) * 2;
        o->s = realloc(o->s, o->cap);
    }
    va_start(ap, fmt);
    vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    o->n += (size_t)r;
}

static void put_bytes(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r')
            put(o, "\\r");
        else if (c == '\n')
            put(o, "\\n");
        else if (c >= 0x20 && c < 0x7f && c != '\\')
            put(o, "%c", c);
        else
            put(o, "\\x%02x", c);
    }
}

/* ---- the scripted session ---- */

struct policy {
    uint64_t reject_over;      /* reject literals larger than this (0: never) */
    bool raw_after;            /* AUTHENTICATE/IDLE switch to raw lines until a
                                  raw line "*" or "DONE" */
    bool raw_before_next;      /* call framer_set_raw before framer_next */
    const char *discard_after; /* command name after which input is dropped */
    bool stream;               /* stream literals of stream_from bytes or
                                  more (after the reject check) */
    uint64_t stream_from;
};

enum chunking { WHOLE, BYTES, RANDOM };

static unsigned lcg(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/* Handle one event the way a session would; returns false to drop the rest
 * of the current piece of input (after discard).  The pieces of a streamed
 * literal are gathered in pend and written out whole ("D:") once the last
 * one came, so that the transcript does not depend on how they were cut. */
static bool handle(struct framer *f, enum framer_event ev,
                   const struct policy *pol, struct out *t, struct out *pend)
{
    size_t len;
    const char *cmd;
    switch (ev) {
    case FR_NEED_MORE: break;
    case FR_LITERAL_DATA:
        cmd = framer_literal_data(f, &len);
        ck_assert_ptr_nonnull(cmd);
        ck_assert_uint_gt(len, 0);
        put_bytes(pend, cmd, len);
        if (framer_literal_left(f) == 0) {
            put(t, "D:%.*s\n", (int)pend->n, pend->s);
            pend->n = 0;
        }
        break;
    case FR_COMMAND: {
        cmd = framer_command(f, &len);
        put(t, "C:");
        put_bytes(t, cmd, len);
        put(t, " [%s|%s]\n", framer_tag(f), framer_name(f));
        ck_assert(cmd[len] == '\0');
        bool raw = pol->raw_after && (!strcmp(framer_name(f), "AUTHENTICATE") ||
                                      !strcmp(framer_name(f), "IDLE"));
        bool discard =
            pol->discard_after && !strcmp(framer_name(f), pol->discard_after);
        if (raw && pol->raw_before_next)
            framer_set_raw(f);
        framer_next(f);
        if (raw && !pol->raw_before_next)
            framer_set_raw(f);
        if (discard) {
            framer_discard(f);
            put(t, "discard\n");
            return false;
        }
        break;
    }
    case FR_RAW_LINE:
        cmd = framer_command(f, &len);
        put(t, "R:");
        put_bytes(t, cmd, len);
        put(t, "\n");
        ck_assert(cmd[len] == '\0');
        bool more = !(len == 1 && cmd[0] == '*') &&
                    !(len == 4 && !memcmp(cmd, "DONE", 4));
        framer_next(f);
        if (more)
            framer_set_raw(f);
        break;
    case FR_LITERAL: {
        const struct framer_literal_info *l = framer_literal(f);
        bool rej = pol->reject_over && l->size > pol->reject_over;
        bool str = !rej && pol->stream && l->size >= pol->stream_from;
        put(t, "L:%llu%s%s%s [%s|%s] %s\n", (unsigned long long)l->size,
            l->sync    ? ""
            : l->minus ? "-"
                       : "+",
            l->binary ? " bin" : "", l->sync ? " sync" : "", framer_tag(f),
            framer_name(f),
            rej   ? "reject"
            : str ? "stream"
                  : "accept");
        if (pol->stream) {
            /* what a session would parse the head of */
            cmd = framer_command_so_far(f, &len);
            ck_assert(cmd[len] == '\0');
            put(t, "S:");
            put_bytes(t, cmd, len);
            put(t, "\n");
        }
        if (rej)
            framer_reject(f);
        else if (str)
            framer_stream_literal(f);
        else
            framer_accept_literal(f);
        break;
    }
    case FR_LINE_TOO_LONG:
        put(t, "T: [%s|%s]\n", framer_tag(f), framer_name(f));
        break;
    }
    return true;
}

/* Run the script; returns the transcript (caller frees). */
static char *run(const char *in, size_t len, enum chunking how, unsigned seed,
                 const struct framer_limits *lim, const struct policy *pol)
{
    struct framer f;
    struct out t = {0}, pend = {0};
    framer_init(&f, lim);
    put(&pend, "%s", "");
    put(&t, "%s", "");
    size_t pos = 0;
    while (pos <= len) {
        size_t n = len - pos;
        if (how == BYTES && n > 1)
            n = 1;
        else if (how == RANDOM && n > 1)
            n = 1 + lcg(&seed) % (n < 23 ? n : 23);
        const char *d = in + pos;
        size_t left = n, used;
        for (;;) {
            enum framer_event ev = framer_feed(&f, d, left, &used);
            ck_assert_uint_le(used, left);
            if (ev == FR_LITERAL_DATA) {
                /* the piece is the caller's own bytes, just consumed */
                size_t dn;
                const char *dp = framer_literal_data(&f, &dn);
                ck_assert_ptr_eq(dp, d);
                ck_assert_uint_eq(dn, used);
            } else {
                size_t dn;
                ck_assert_ptr_null(framer_literal_data(&f, &dn));
                ck_assert_uint_eq(dn, 0);
            }
            d += used;
            left -= used;
            ck_assert_uint_le(f.cap, f.lim.max_command + 1);
            if (!handle(&f, ev, pol, &t, &pend))
                break;
            if (ev == FR_NEED_MORE) {
                ck_assert_uint_eq(left, 0);
                break;
            }
        }
        if (pos == len)
            break;
        pos += n;
    }
    framer_free(&f);
    ck_assert_ptr_null(f.buf);
    if (pend.n) /* a streamed literal cut short by the end of the input */
        put(&t, "d:%.*s\n", (int)pend.n, pend.s);
    free(pend.s);
    return t.s;
}

static const struct policy plain = {0};

/* Every chunking gives the same transcript; returns it (caller frees). */
static char *run_all(const char *in, size_t len,
                     const struct framer_limits *lim, const struct policy *pol)
{
    char *whole = run(in, len, WHOLE, 0, lim, pol);
    char *bytes = run(in, len, BYTES, 0, lim, pol);
    ck_assert_msg(!strcmp(whole, bytes), "whole:\n%s\nbytes:\n%s", whole,
                  bytes);
    free(bytes);
    for (unsigned seed = 1; seed <= 20; seed++) {
        char *r = run(in, len, RANDOM, seed, lim, pol);
        ck_assert_msg(!strcmp(whole, r), "seed %u whole:\n%s\nrandom:\n%s",
                      seed, whole, r);
        free(r);
    }
    return whole;
}

static void expect(const char *in, size_t len, const struct framer_limits *lim,
                   const struct policy *pol, const char *want)
{
    char *got = run_all(in, len ? len : strlen(in), lim, pol);
    ck_assert_msg(!strcmp(got, want), "input: %s\ngot:\n%s\nwant:\n%s", in, got,
                  want);
    free(got);
}

static const struct framer_limits small = {.max_line = 32, .max_command = 96};

/* ---- tests ---- */

START_TEST(test_simple)
{
    expect("a NOOP\r\n", 0, NULL, &plain, "C:a NOOP\\r\\n [a|NOOP]\n");
    expect("a001 uid FETCH 1 FLAGS\r\n", 0, NULL, &plain,
           "C:a001 uid FETCH 1 FLAGS\\r\\n [a001|UID]\n");
    expect("\r\n", 0, NULL, &plain, "C:\\r\\n [|]\n");
    expect("*x NOOP\r\nNOOP\r\n", 0, NULL, &plain,
           "C:*x NOOP\\r\\n [|]\nC:NOOP\\r\\n [|]\n");
    /* an incomplete line yields nothing */
    expect("a NOOP", 0, NULL, &plain, "");
}
END_TEST

START_TEST(test_bare_lf)
{
    expect("a NOOP\nb LOGIN {3}\nabc x\n", 0, NULL, &plain,
           "C:a NOOP\\n [a|NOOP]\n"
           "L:3 sync [b|LOGIN] accept\n"
           "C:b LOGIN {3}\\nabc x\\n [b|LOGIN]\n");
    /* a lone CR is just a byte of the line */
    expect("a NO\rOP\r\n", 0, NULL, &plain, "C:a NO\\rOP\\r\\n [a|NO]\n");
}
END_TEST

START_TEST(test_literal_kinds)
{
    expect("a LOGIN {3}\r\nabc {5+}\r\nde\r\nf\r\n", 0, NULL, &plain,
           "L:3 sync [a|LOGIN] accept\n"
           "L:5+ [a|LOGIN] accept\n"
           "C:a LOGIN {3}\\r\\nabc {5+}\\r\\nde\\r\\nf\\r\\n [a|LOGIN]\n");
    expect("a APPEND x {2-}\r\nhi\r\n", 0, NULL, &plain,
           "L:2- [a|APPEND] accept\n"
           "C:a APPEND x {2-}\\r\\nhi\\r\\n [a|APPEND]\n");
    expect("a APPEND x ~{3}\r\n\0\r\n\r\n", 22, NULL, &plain,
           "L:3 bin sync [a|APPEND] accept\n"
           "C:a APPEND x ~{3}\\r\\n\\x00\\r\\n\\r\\n [a|APPEND]\n");
    expect("a APPEND x ~{1+}\r\nz\r\n", 0, NULL, &plain,
           "L:1+ bin [a|APPEND] accept\n"
           "C:a APPEND x ~{1+}\\r\\nz\\r\\n [a|APPEND]\n");
    expect("a LOGIN {0}\r\n {0+}\r\n\r\n", 0, NULL, &plain,
           "L:0 sync [a|LOGIN] accept\n"
           "L:0+ [a|LOGIN] accept\n"
           "C:a LOGIN {0}\\r\\n {0+}\\r\\n\\r\\n [a|LOGIN]\n");
    /* leading zeros; 2^63 fits */
    expect("a X {007}\r\nabcdefg\r\n", 0, NULL, &plain,
           "L:7 sync [a|X] accept\n"
           "C:a X {007}\\r\\nabcdefg\\r\\n [a|X]\n");
}
END_TEST

START_TEST(test_not_literals)
{
    /* not announcements: the parser will say BAD */
    expect("a X {18446744073709551616}\r\n", 0, NULL, &plain,
           "C:a X {18446744073709551616}\\r\\n [a|X]\n");
    expect("a X {}\r\nb X {1a}\r\nc X {+}\r\nd X 5}\r\ne X {5} \r\n", 0, NULL,
           &plain,
           "C:a X {}\\r\\n [a|X]\nC:b X {1a}\\r\\n [b|X]\n"
           "C:c X {+}\\r\\n [c|X]\nC:d X 5}\\r\\n [d|X]\n"
           "C:e X {5} \\r\\n [e|X]\n");
    /* the largest size is still reported (and a safe accept: see below) */
    expect("a X {18446744073709551615}\r\n", 0, NULL, &plain,
           "L:18446744073709551615 sync [a|X] accept\nT: [a|X]\n");
}
END_TEST

START_TEST(test_literal_content)
{
    /* CRLF and "{5}" inside a literal are data, not framing */
    expect("a LOGIN {10}\r\nx{5}\r\n\r\n\n {3}\r\nabc\r\n", 0, NULL, &plain,
           "L:10 sync [a|LOGIN] accept\n"
           "L:3 sync [a|LOGIN] accept\n"
           "C:a LOGIN {10}\\r\\nx{5}\\r\\n\\r\\n\\n {3}\\r\\nabc\\r\\n "
           "[a|LOGIN]\n");
    /* literal ending the command: the CRLF after it ends the command */
    expect("a APPEND x {4}\r\n{4}\n\r\nb NOOP\r\n", 0, NULL, &plain,
           "L:4 sync [a|APPEND] accept\n"
           "C:a APPEND x {4}\\r\\n{4}\\n\\r\\n [a|APPEND]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
}
END_TEST

START_TEST(test_pipelined)
{
    expect("a NOOP\r\nb LOGIN {1+}\r\nx y\r\nc LOGOUT\r\nd SELECT INBOX\n", 0,
           NULL, &plain,
           "C:a NOOP\\r\\n [a|NOOP]\n"
           "L:1+ [b|LOGIN] accept\n"
           "C:b LOGIN {1+}\\r\\nx y\\r\\n [b|LOGIN]\n"
           "C:c LOGOUT\\r\\n [c|LOGOUT]\n"
           "C:d SELECT INBOX\\n [d|SELECT]\n");
}
END_TEST

START_TEST(test_reject)
{
    struct policy pol = {.reject_over = 10};
    expect("a APPEND x {100}\r\nb NOOP\r\nc LOGIN {5}\r\nabcde x\r\n", 0, NULL,
           &pol,
           "L:100 sync [a|APPEND] reject\n"
           "C:b NOOP\\r\\n [b|NOOP]\n"
           "L:5 sync [c|LOGIN] accept\n"
           "C:c LOGIN {5}\\r\\nabcde x\\r\\n [c|LOGIN]\n");
    /* second literal of a command refused: the whole command goes */
    expect("a LOGIN {2}\r\nab {20}\r\nb NOOP\r\n", 0, NULL, &pol,
           "L:2 sync [a|LOGIN] accept\n"
           "L:20 sync [a|LOGIN] reject\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
}
END_TEST

START_TEST(test_line_too_long)
{
    /* exactly max_line bytes (CRLF included) pass; one more does not */
    expect("a NOOP 45678901234567890123456\r\n", 0, &small, &plain,
           "C:a NOOP 45678901234567890123456\\r\\n [a|NOOP]\n");
    expect("a NOOP 456789012345678901234567\r\nb NOOP\r\n", 0, &small, &plain,
           "T: [a|NOOP]\nC:b NOOP\\r\\n [b|NOOP]\n");
    /* a very long line is reported once, then skipped */
    char in[400];
    memset(in, 'x', sizeof(in));
    memcpy(in, "t1 SEARCH ", 10);
    memcpy(in + 300, "\r\nb NOOP\r\n", 10);
    expect(in, 310, &small, &plain,
           "T: [t1|SEARCH]\nC:b NOOP\\r\\n [b|NOOP]\n");
    /* a second line (after a literal) too long */
    memcpy(in, "t2 LOGIN {1}\r\nx ", 16);
    memset(in + 16, 'y', 100);
    memcpy(in + 116, "\nc NOOP\n", 8);
    expect(in, 124, &small, &plain,
           "L:1 sync [t2|LOGIN] accept\nT: [t2|LOGIN]\nC:c NOOP\\n [c|NOOP]\n");
    /* bare LF resynchronises too */
    memset(in, 'z', 100);
    memcpy(in + 100, "\na NOOP\r\n", 9);
    expect(in, 109, &small, &plain, "T: [|]\nC:a NOOP\\r\\n [a|NOOP]\n");
}
END_TEST

START_TEST(test_skip_nonsync_literal)
{
    /* the skipped line announces a literal the client sends anyway: its
     * bytes (which look like a command) are skipped too */
    char in[400];
    memset(in, 'x', 100);
    memcpy(in, "a APPEND ", 9);
    strcpy(in + 100, " {8+}\r\nb DELETE\r\nc NOOP\r\n");
    expect(in, 0, &small, &plain, "T: [a|APPEND]\nC:c NOOP\\r\\n [c|NOOP]\n");
    /* ... and so on through every literal of the dropped command */
    strcpy(in + 100, " {3+}\r\nabc {1-}\r\nd\r\ne NOOP\r\n");
    expect(in, 0, &small, &plain, "T: [a|APPEND]\nC:e NOOP\\r\\n [e|NOOP]\n");
    /* a synchronizing one is not sent by the client: not skipped */
    strcpy(in + 100, " {8}\r\nb DELETE\r\n");
    expect(in, 0, &small, &plain,
           "T: [a|APPEND]\nC:b DELETE\\r\\n [b|DELETE]\n");
    /* the announcement straddles the point where the line got too long */
    memset(in, 'x', 40);
    memcpy(in, "a X ", 4);
    strcpy(in + 28, "{00005+}\r\n12345 rest\r\nf NOOP\r\n");
    expect(in, 0, &small, &plain, "T: [a|X]\nC:f NOOP\\r\\n [f|NOOP]\n");
}
END_TEST

START_TEST(test_command_too_long)
{
    /* max_command 96: the line bytes add up */
    char in[300];
    strcpy(in, "a LOGIN {20}\r\n01234567890123456789 {20}\r\n"
               "01234567890123456789 {20}\r\n01234567890123456789 yyyyyyyyyy"
               "\r\nb NOOP\r\n");
    expect(in, 0, &small, &plain,
           "L:20 sync [a|LOGIN] accept\nL:20 sync [a|LOGIN] accept\n"
           "L:20 sync [a|LOGIN] accept\nT: [a|LOGIN]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
    /* an accepted literal that can't fit: reported, skipped, no buffer */
    strcpy(in, "a APPEND x {200}\r\n");
    memset(in + 18, 'm', 200);
    strcpy(in + 218, "\r\nb NOOP\r\n");
    expect(in, 0, &small, &plain,
           "L:200 sync [a|APPEND] accept\nT: [a|APPEND]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
    /* exactly max_command bytes pass */
    strcpy(in, "a LOGIN {23}\r\n");                   /* 14 bytes */
    memset(in + 14, 'p', 23);                         /* 37 */
    strcpy(in + 37, " {25}\r\n");                     /* 44 */
    memset(in + 44, 'q', 25);                         /* 69 */
    strcpy(in + 69, " 345678901234567890123456\r\n"); /* 96 */
    char *t = run_all(in, 96, &small, &plain);
    ck_assert_ptr_nonnull(strstr(t, "C:a LOGIN"));
    free(t);
    strcpy(in + 69, " 3456789012345678901234567\r\n"); /* 97 */
    t = run_all(in, 97, &small, &plain);
    ck_assert_ptr_nonnull(strstr(t, "T: [a|LOGIN]"));
    free(t);
}
END_TEST

START_TEST(test_huge_literal_accept)
{
    /* accepting a 2^64-1 literal must neither overflow nor allocate */
    struct framer f;
    size_t used;
    framer_init(&f, &small);
    const char *in = "a X {18446744073709551615}\r\n";
    ck_assert_int_eq(framer_feed(&f, in, strlen(in), &used), FR_LITERAL);
    ck_assert_uint_eq(framer_literal(&f)->size, UINT64_MAX);
    framer_accept_literal(&f);
    ck_assert_int_eq(framer_feed(&f, "", 0, &used), FR_LINE_TOO_LONG);
    ck_assert_str_eq(framer_tag(&f), "a");
    char junk[1000];
    memset(junk, '\n', sizeof(junk));
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(framer_feed(&f, junk, sizeof(junk), &used),
                         FR_NEED_MORE);
        ck_assert_uint_eq(used, sizeof(junk));
    }
    ck_assert_uint_le(f.cap, small.max_command + 1);
    framer_free(&f);
}
END_TEST

START_TEST(test_unanswered_literal)
{
    struct framer f;
    size_t used;
    framer_init(&f, NULL);
    const char *in = "a LOGIN {1}\r\nx y\r\n";
    ck_assert_int_eq(framer_feed(&f, in, strlen(in), &used), FR_LITERAL);
    ck_assert_uint_eq(used, 13);
    /* not answered: said again, nothing consumed */
    ck_assert_int_eq(framer_feed(&f, in + 13, 5, &used), FR_LITERAL);
    ck_assert_uint_eq(used, 0);
    framer_accept_literal(&f);
    ck_assert_int_eq(framer_feed(&f, in + 13, 5, &used), FR_COMMAND);
    ck_assert_uint_eq(used, 5);
    /* feeding without framer_next() starts the next command anyway */
    ck_assert_int_eq(framer_feed(&f, "b NOOP\r\n", 8, &used), FR_COMMAND);
    size_t len;
    ck_assert_str_eq(framer_command(&f, &len), "b NOOP\r\n");
    framer_free(&f);
}
END_TEST

START_TEST(test_raw)
{
    struct policy pol = {.raw_after = true};
    const char *in = "a AUTHENTICATE PLAIN\r\nAGpvZQ== {5}\r\n=\n*\r\n"
                     "b IDLE\r\nDONE\r\nc NOOP {3}\r\nabc\r\n";
    const char *want = "C:a AUTHENTICATE PLAIN\\r\\n [a|AUTHENTICATE]\n"
                       "R:AGpvZQ== {5}\n"
                       "R:=\n"
                       "R:*\n"
                       "C:b IDLE\\r\\n [b|IDLE]\n"
                       "R:DONE\n"
                       "L:3 sync [c|NOOP] accept\n"
                       "C:c NOOP {3}\\r\\nabc\\r\\n [c|NOOP]\n";
    expect(in, 0, NULL, &pol, want);
    pol.raw_before_next = true;
    expect(in, 0, NULL, &pol, want);
    /* empty raw lines, bare LF */
    expect("a IDLE\n\r\n\nDONE\n", 0, NULL, &pol,
           "C:a IDLE\\n [a|IDLE]\nR:\nR:\nR:DONE\n");
    /* an over-long raw line is reported and skipped, with no literal
     * processing; raw mode ends with it */
    char buf[200];
    strcpy(buf, "a AUTHENTICATE PLAIN\r\n");
    memset(buf + 22, 'Q', 60);
    strcpy(buf + 82, " {3+}\r\nb NOOP\r\n");
    expect(buf, 0, &small, &pol,
           "C:a AUTHENTICATE PLAIN\\r\\n [a|AUTHENTICATE]\nT: [|]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
}
END_TEST

START_TEST(test_set_raw_direct)
{
    /* set_raw on a fresh framer: the first line is raw */
    struct framer f;
    size_t used, len;
    framer_init(&f, NULL);
    framer_set_raw(&f);
    ck_assert_int_eq(framer_feed(&f, "abc {1}\r\nd NOOP\r\n", 17, &used),
                     FR_RAW_LINE);
    ck_assert_uint_eq(used, 9);
    const char *s = framer_command(&f, &len);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(s, "abc {1}");
    ck_assert_str_eq(framer_tag(&f), "");
    framer_next(&f);
    ck_assert_int_eq(framer_feed(&f, "d NOOP\r\n", 8, &used), FR_COMMAND);
    framer_free(&f);
}
END_TEST

START_TEST(test_discard)
{
    /* STARTTLS: what was pipelined after it never becomes a command */
    struct policy pol = {.discard_after = "STARTTLS"};
    struct framer f;
    size_t used, len;
    framer_init(&f, NULL);
    const char *in = "a STARTTLS\r\nb LOGIN x y\r\n";
    ck_assert_int_eq(framer_feed(&f, in, strlen(in), &used), FR_COMMAND);
    ck_assert_str_eq(framer_name(&f), "STARTTLS");
    framer_next(&f);
    framer_discard(&f);
    ck_assert_ptr_null(f.buf);
    ck_assert_int_eq(framer_feed(&f, "c NOOP\r\n", 8, &used), FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "c NOOP\r\n");
    framer_next(&f);
    /* in the middle of a line and at a literal */
    ck_assert_int_eq(framer_feed(&f, "d LOG", 5, &used), FR_NEED_MORE);
    framer_discard(&f);
    ck_assert_int_eq(framer_feed(&f, "e NOOP\r\n", 8, &used), FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "e NOOP\r\n");
    ck_assert_str_eq(framer_tag(&f), "e");
    framer_next(&f);
    ck_assert_int_eq(framer_feed(&f, "f X {5}\r\n", 9, &used), FR_LITERAL);
    framer_discard(&f);
    ck_assert_str_eq(framer_tag(&f), "");
    ck_assert_int_eq(framer_feed(&f, "g NOOP\r\n", 8, &used), FR_COMMAND);
    /* discard also ends raw mode and skipping */
    framer_next(&f);
    framer_set_raw(&f);
    framer_discard(&f);
    ck_assert_int_eq(framer_feed(&f, "h NOOP\r\n", 8, &used), FR_COMMAND);
    framer_free(&f);
    /* through the script runner (same result for every chunking as the
     * rest of each piece is dropped: use one-command pieces) */
    expect("a STARTTLS\r\n", 0, NULL, &pol,
           "C:a STARTTLS\\r\\n [a|STARTTLS]\ndiscard\n");
}
END_TEST

START_TEST(test_tag_and_name)
{
    struct framer f;
    size_t used;
    char in[200];
    framer_init(&f, NULL);
    /* a long tag is truncated to the field */
    memset(in, 'T', 100);
    strcpy(in + 100, " select x\r\n");
    ck_assert_int_eq(framer_feed(&f, in, strlen(in), &used), FR_COMMAND);
    ck_assert_uint_eq(strlen(framer_tag(&f)), sizeof(f.tag) - 1);
    ck_assert_str_eq(framer_name(&f), "SELECT");
    framer_next(&f);
    ck_assert_str_eq(framer_tag(&f), "");
    /* a name too long for the field is not recorded */
    memset(in, 'N', 100);
    memcpy(in, "t ", 2);
    strcpy(in + 100, "\r\n");
    ck_assert_int_eq(framer_feed(&f, in, strlen(in), &used), FR_COMMAND);
    ck_assert_str_eq(framer_tag(&f), "t");
    ck_assert_str_eq(framer_name(&f), "");
    framer_next(&f);
    /* visible as soon as the name is complete */
    ck_assert_int_eq(framer_feed(&f, "x1 Append", 9, &used), FR_NEED_MORE);
    ck_assert_str_eq(framer_tag(&f), "x1");
    ck_assert_str_eq(framer_name(&f), "");
    ck_assert_int_eq(framer_feed(&f, " ", 1, &used), FR_NEED_MORE);
    ck_assert_str_eq(framer_name(&f), "APPEND");
    /* invalid tags are not recorded */
    framer_discard(&f);
    ck_assert_int_eq(framer_feed(&f, "a+b NOOP\r\n", 10, &used), FR_COMMAND);
    ck_assert_str_eq(framer_tag(&f), "");
    framer_free(&f);
}
END_TEST

START_TEST(test_memory)
{
    struct framer_limits lim = {.max_line = 1024, .max_command = 1 << 20};
    struct framer f;
    size_t used, len;
    framer_init(&f, &lim);
    ck_assert_ptr_null(f.buf); /* nothing before the first byte */
    ck_assert_int_eq(framer_feed(&f, "a NOOP\r\n", 8, &used), FR_COMMAND);
    ck_assert_uint_le(f.cap, FRAMER_KEEP_BUF);
    framer_next(&f);
    /* a 200 KB APPEND: the buffer grows, then goes away */
    const char *hdr = "a APPEND x {200000}\r\n";
    ck_assert_int_eq(framer_feed(&f, hdr, strlen(hdr), &used), FR_LITERAL);
    framer_accept_literal(&f);
    char *body = malloc(200002);
    memset(body, 'b', 200000);
    memcpy(body + 200000, "\r\n", 2);
    size_t pos = 0;
    enum framer_event ev = FR_NEED_MORE;
    while (ev == FR_NEED_MORE && pos < 200002) {
        size_t n = 200002 - pos < 4096 ? 200002 - pos : 4096;
        ev = framer_feed(&f, body + pos, n, &used);
        pos += used;
        ck_assert_uint_le(f.cap, 2 * (f.len + 1) + 256); /* geometric */
    }
    ck_assert_int_eq(ev, FR_COMMAND);
    ck_assert_uint_eq(pos, 200002);
    framer_command(&f, &len);
    ck_assert_uint_eq(len, strlen(hdr) + 200002);
    ck_assert_uint_ge(f.cap, len);
    framer_next(&f);
    ck_assert_uint_le(f.cap, FRAMER_KEEP_BUF); /* no big buffer when idle */
    /* an idle connection can drop the buffer entirely */
    ck_assert_int_eq(framer_feed(&f, "b NOOP\r\n", 8, &used), FR_COMMAND);
    ck_assert(!framer_release(&f)); /* command not consumed yet */
    framer_next(&f);
    ck_assert(framer_release(&f));
    ck_assert_ptr_null(f.buf);
    ck_assert_uint_eq(f.cap, 0);
    /* a partial command is kept */
    ck_assert_int_eq(framer_feed(&f, "c NO", 4, &used), FR_NEED_MORE);
    ck_assert(!framer_release(&f));
    ck_assert_int_eq(framer_feed(&f, "OP\r\n", 4, &used), FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "c NOOP\r\n");
    /* an over-long command leaves no big buffer behind either */
    framer_next(&f);
    free(body);
    framer_free(&f);
    struct framer_limits lim2 = {.max_line = 100000, .max_command = 100000};
    framer_init(&f, &lim2);
    body = malloc(150000);
    memset(body, 'x', 150000);
    ck_assert_int_eq(framer_feed(&f, body, 150000, &used), FR_LINE_TOO_LONG);
    ck_assert_uint_eq(used, 100000);
    ck_assert_int_eq(framer_feed(&f, body, 150000, &used), FR_NEED_MORE);
    ck_assert_int_eq(framer_feed(&f, "\na NOOP\r\n", 9, &used), FR_COMMAND);
    ck_assert_uint_le(f.cap, 100001);
    framer_next(&f);
    ck_assert_uint_le(f.cap, FRAMER_KEEP_BUF);
    free(body);
    framer_free(&f);
}
END_TEST

/* Everything at once, under several limits: chunking never matters. */
START_TEST(test_equivalence_mix)
{
    static const char script[] =
        "a1 NOOP\r\n"
        "a2 LOGIN {5}\r\nx{3}\n {7+}\r\nsecret!\r\n"
        "a3 APPEND INBOX (\\Seen) ~{6}\r\n\0\r\n{1}\r\n"
        "a4 AUTHENTICATE PLAIN\r\nAGpv {2}\r\n*\r\n"
        "a5 SEARCH TEXT {300}\r\n"
        "b1 XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX {4+}\r\nAAAA\r\n"
        "b2 LIST \"\" *\n"
        "b3 FETCH 1 BODY[HEADER.FIELDS {4}\r\nDATE)]\r\n"
        "b4 IDLE\r\nDONE\r\n"
        "\r\n"
        "b5 X {18446744073709551616}\r\n"
        "b6 APPEND x {40}\r\n0123456789012345678901234567890123456789\r\n"
        "b7 NOOP\r\n";
    static const struct framer_limits lims[] = {
        {0, 0}, {32, 96}, {16, 1000}, {64, 64}, {40, 200}, {1, 10}, {2, 2}};
    struct policy pols[] = {{.reject_over = 100, .raw_after = true},
                            {.raw_after = true, .raw_before_next = true},
                            {.reject_over = 3}};
    for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++)
        for (size_t j = 0; j < sizeof(pols) / sizeof(pols[0]); j++)
            free(run_all(script, sizeof(script) - 1, &lims[i], &pols[j]));
    /* and the default limits give the expected transcript */
    char *t = run_all(script, sizeof(script) - 1, NULL, &pols[0]);
    ck_assert_ptr_nonnull(strstr(t, "L:300 sync [a5|SEARCH] reject\n"
                                    "L:4+ [b1|] accept\n"));
    ck_assert_ptr_nonnull(strstr(t, "C:b7 NOOP\\r\\n [b7|NOOP]\n"));
    free(t);
}
END_TEST

/* ---- streamed literals ---- */

static const struct policy streamed = {.stream = true};

START_TEST(test_stream_kinds)
{
    /* synchronizing: the data goes out, the announcement stays */
    expect("a APPEND INBOX {5}\r\nhello\r\nb NOOP\r\n", 0, NULL, &streamed,
           "L:5 sync [a|APPEND] stream\n"
           "S:a APPEND INBOX {5}\\r\\n\n"
           "D:hello\n"
           "C:a APPEND INBOX {5}\\r\\n\\r\\n [a|APPEND]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
    /* non-synchronizing, LITERAL- */
    expect("a APPEND INBOX {3+}\r\nabc\r\n", 0, NULL, &streamed,
           "L:3+ [a|APPEND] stream\nS:a APPEND INBOX {3+}\\r\\n\nD:abc\n"
           "C:a APPEND INBOX {3+}\\r\\n\\r\\n [a|APPEND]\n");
    expect("a APPEND INBOX {3-}\nabc\n", 0, NULL, &streamed,
           "L:3- [a|APPEND] stream\nS:a APPEND INBOX {3-}\\n\nD:abc\n"
           "C:a APPEND INBOX {3-}\\n\\n [a|APPEND]\n");
    /* literal8: any byte */
    expect("a APPEND x ~{4}\r\n\0\r\n\xff\r\n", 23, NULL, &streamed,
           "L:4 bin sync [a|APPEND] stream\nS:a APPEND x ~{4}\\r\\n\n"
           "D:\\x00\\r\\n\\xff\n"
           "C:a APPEND x ~{4}\\r\\n\\r\\n [a|APPEND]\n");
    expect("a APPEND x ~{2+}\r\nzz\r\n", 0, NULL, &streamed,
           "L:2+ bin [a|APPEND] stream\nS:a APPEND x ~{2+}\\r\\n\nD:zz\n"
           "C:a APPEND x ~{2+}\\r\\n\\r\\n [a|APPEND]\n");
    /* zero length: no data event at all */
    expect("a APPEND x {0}\r\n\r\nb NOOP\r\n", 0, NULL, &streamed,
           "L:0 sync [a|APPEND] stream\nS:a APPEND x {0}\\r\\n\n"
           "C:a APPEND x {0}\\r\\n\\r\\n [a|APPEND]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
    /* line ends and announcements inside are data, not framing */
    expect("a APPEND x {11}\r\n{3}\r\n\r\nb X\n\r\n", 0, NULL, &streamed,
           "L:11 sync [a|APPEND] stream\nS:a APPEND x {11}\\r\\n\n"
           "D:{3}\\r\\n\\r\\nb X\\n\n"
           "C:a APPEND x {11}\\r\\n\\r\\n [a|APPEND]\n");
    /* the rest of the line after the literal is kept */
    expect("a APPEND x {2}\r\nhi extra\r\n", 0, NULL, &streamed,
           "L:2 sync [a|APPEND] stream\nS:a APPEND x {2}\\r\\n\nD:hi\n"
           "C:a APPEND x {2}\\r\\n extra\\r\\n [a|APPEND]\n");
    /* input ending inside the literal */
    expect("a APPEND x {9}\r\nabcd", 0, NULL, &streamed,
           "L:9 sync [a|APPEND] stream\nS:a APPEND x {9}\\r\\n\nd:abcd\n");
}
END_TEST

START_TEST(test_stream_mixed)
{
    struct policy pol = {.stream = true, .stream_from = 10};
    /* mailbox name accepted as usual, then the message streamed: the head
     * seen at the message's announcement has the mailbox in it */
    expect(
        "a APPEND {5}\r\nINBOX (\\Seen) {10}\r\n0123456789\r\n", 0, NULL, &pol,
        "L:5 sync [a|APPEND] accept\n"
        "S:a APPEND {5}\\r\\n\n"
        "L:10 sync [a|APPEND] stream\n"
        "S:a APPEND {5}\\r\\nINBOX (\\x5cSeen) {10}\\r\\n\n"
        "D:0123456789\n"
        "C:a APPEND {5}\\r\\nINBOX (\\x5cSeen) {10}\\r\\n\\r\\n [a|APPEND]\n");
    /* a second literal on the line after the streamed one: as usual */
    expect("a APPEND x {12}\r\nabcdefghijkl {3}\r\nxyz {11+}\r\n01234567890"
           "\r\nb NOOP\r\n",
           0, NULL, &pol,
           "L:12 sync [a|APPEND] stream\nS:a APPEND x {12}\\r\\n\n"
           "D:abcdefghijkl\n"
           "L:3 sync [a|APPEND] accept\n"
           "S:a APPEND x {12}\\r\\n {3}\\r\\n\n"
           "L:11+ [a|APPEND] stream\n"
           "S:a APPEND x {12}\\r\\n {3}\\r\\nxyz {11+}\\r\\n\n"
           "D:01234567890\n"
           "C:a APPEND x {12}\\r\\n {3}\\r\\nxyz {11+}\\r\\n\\r\\n [a|APPEND]\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
    /* refusing the literal after a streamed one drops the command */
    pol.reject_over = 20;
    expect("a APPEND x {12}\r\nabcdefghijkl {30}\r\nb NOOP\r\n", 0, NULL, &pol,
           "L:12 sync [a|APPEND] stream\nS:a APPEND x {12}\\r\\n\n"
           "D:abcdefghijkl\n"
           "L:30 sync [a|APPEND] reject\n"
           "S:a APPEND x {12}\\r\\n {30}\\r\\n\n"
           "C:b NOOP\\r\\n [b|NOOP]\n");
}
END_TEST

START_TEST(test_stream_limits)
{
    /* max_line 32, max_command 96: a streamed 200-byte literal counts
     * against neither */
    char in[400];
    strcpy(in, "a APPEND x {200}\r\n");
    memset(in + 18, 'm', 200);
    strcpy(in + 218, " 345678901234567890123456789\r\nb NOOP\r\n");
    char want[800];
    strcpy(want, "L:200 sync [a|APPEND] stream\nS:a APPEND x {200}\\r\\n\nD:");
    memset(want + strlen(want), 'm', 200);
    strcpy(want + 54 + 200,
           "\nC:a APPEND x {200}\\r\\n 345678901234567890123456789\\r\\n "
           "[a|APPEND]\nC:b NOOP\\r\\n [b|NOOP]\n");
    expect(in, 0, &small, &streamed, want);
    /* the line after it is still held to max_line: one byte more is too
     * long, and the rest of that line is skipped (with a non-synchronizing
     * literal announced at its end) */
    strcpy(in + 218,
           " 3456789012345678901234567890 {4+}\r\nb NO\r\nc NOOP\r\n");
    strcpy(want + 54 + 200, "\nT: [a|APPEND]\nC:c NOOP\\r\\n [c|NOOP]\n");
    expect(in, 0, &small, &streamed, want);
    /* ... and so is the command, counting only what is buffered: 18 + 7
     * bytes of lines and a final CRLF leave room for a 69-byte literal */
    struct policy pol = {.stream = true, .stream_from = 100};
    strcpy(in, "a APPEND x {200}\r\n");
    memset(in + 18, 'm', 200);
    strcpy(in + 218, " {70}\r\n");
    memset(in + 225, 'q', 70);
    strcpy(in + 295, "\r\nb NOOP\r\n");
    char *t = run_all(in, strlen(in), &small, &pol);
    ck_assert_msg(strstr(t, "L:70 sync [a|APPEND] accept\n"
                            "S:a APPEND x {200}\\r\\n {70}\\r\\n\n"
                            "T: [a|APPEND]\nC:b NOOP"),
                  "%s", t);
    free(t);
    strcpy(in + 218, " {69}\r\n");
    memset(in + 225, 'q', 69);
    strcpy(in + 294, "\r\nb NOOP\r\n");
    t = run_all(in, strlen(in), &small, &pol);
    ck_assert_msg(strstr(t, "C:a APPEND x {200}\\r\\n {69}\\r\\nqqq"), "%s", t);
    ck_assert_msg(strstr(t, "qqq\\r\\n [a|APPEND]\nC:b NOOP"), "%s", t);
    free(t);
}
END_TEST

/* Feed without the script runner: the data points into the input, the
 * caller can stop after any piece. */
START_TEST(test_stream_stop_continue)
{
    struct framer f;
    size_t used, len;
    const char *d;
    framer_init(&f, NULL);
    static const char in[] = "a APPEND x {10}\r\n0123456789\r\nb NOOP\r\n";
    ck_assert_int_eq(framer_feed(&f, in, sizeof(in) - 1, &used), FR_LITERAL);
    ck_assert_uint_eq(used, 17);
    d = framer_command_so_far(&f, &len);
    ck_assert_uint_eq(len, 17);
    ck_assert(!memcmp(d, in, 17));
    ck_assert_uint_eq(framer_literal_left(&f), 0); /* not streaming yet */
    framer_stream_literal(&f);
    ck_assert_uint_eq(framer_literal_left(&f), 10);
    /* everything at once: one piece, in place */
    ck_assert_int_eq(framer_feed(&f, in + 17, sizeof(in) - 1 - 17, &used),
                     FR_LITERAL_DATA);
    ck_assert_uint_eq(used, 10);
    ck_assert_ptr_eq(framer_literal_data(&f, &len), in + 17);
    ck_assert_uint_eq(len, 10);
    ck_assert_uint_eq(framer_literal_left(&f), 0);
    /* the store is busy: nothing fed for a while */
    ck_assert(!framer_release(&f));
    ck_assert_str_eq(framer_tag(&f), "a");
    ck_assert_int_eq(framer_feed(&f, in + 27, sizeof(in) - 1 - 27, &used),
                     FR_COMMAND);
    ck_assert_uint_eq(used, 2);
    ck_assert_ptr_null(framer_literal_data(&f, &len)); /* stale: gone */
    ck_assert_str_eq(framer_command(&f, &len), "a APPEND x {10}\r\n\r\n");
    framer_next(&f);
    ck_assert_int_eq(framer_feed(&f, in + 29, sizeof(in) - 1 - 29, &used),
                     FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "b NOOP\r\n");
    framer_next(&f);

    /* cut inside the literal; stop after each piece */
    ck_assert_int_eq(framer_feed(&f, in, 22, &used), FR_LITERAL);
    framer_stream_literal(&f);
    ck_assert_int_eq(framer_feed(&f, in + 17, 5, &used), FR_LITERAL_DATA);
    ck_assert_uint_eq(used, 5);
    ck_assert_ptr_eq(framer_literal_data(&f, &len), in + 17);
    ck_assert_uint_eq(framer_literal_left(&f), 5);
    ck_assert_int_eq(framer_feed(&f, in + 22, 0, &used), FR_NEED_MORE);
    ck_assert_uint_eq(framer_literal_left(&f), 5);
    ck_assert_int_eq(framer_feed(&f, in + 22, 3, &used), FR_LITERAL_DATA);
    ck_assert_uint_eq(framer_literal_left(&f), 2);
    ck_assert_int_eq(framer_feed(&f, in + 25, 3, &used), FR_LITERAL_DATA);
    ck_assert_uint_eq(used, 2);
    ck_assert_ptr_eq(framer_literal_data(&f, &len), in + 25);
    ck_assert_uint_eq(len, 2);
    ck_assert_uint_eq(framer_literal_left(&f), 0);
    /* the CRLF ending the command arrives in separate feeds */
    ck_assert_int_eq(framer_feed(&f, in + 27, 1, &used), FR_NEED_MORE);
    ck_assert_int_eq(framer_feed(&f, in + 28, 1, &used), FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "a APPEND x {10}\r\n\r\n");
    ck_assert_uint_eq(len, 19);
    framer_next(&f);
    ck_assert_int_eq(framer_feed(&f, "", 0, &used), FR_NEED_MORE);
    ck_assert(framer_release(&f));
    framer_free(&f);
}
END_TEST

START_TEST(test_stream_reject)
{
    /* the session gives up in the middle of the literal: the rest of it
     * and of the command is skipped silently (with a non-synchronizing
     * literal announced at the end of the line) */
    struct framer f;
    size_t used, len;
    framer_init(&f, NULL);
    ck_assert_int_eq(framer_feed(&f, "a APPEND x {10}\r\n012", 20, &used),
                     FR_LITERAL);
    framer_stream_literal(&f);
    ck_assert_int_eq(framer_feed(&f, "012", 3, &used), FR_LITERAL_DATA);
    framer_reject(&f);
    ck_assert_uint_eq(framer_literal_left(&f), 0);
    static const char rest[] = "3456789 {1+}\r\nx\r\nb NOOP\r\n";
    ck_assert_int_eq(framer_feed(&f, rest, sizeof(rest) - 1, &used),
                     FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "b NOOP\r\n");
    framer_next(&f);
    /* ... or just after its last byte */
    ck_assert_int_eq(framer_feed(&f, "c APPEND x {2}\r\n", 16, &used),
                     FR_LITERAL);
    framer_stream_literal(&f);
    ck_assert_int_eq(framer_feed(&f, "ab d NOOP\r\ne NOOP\r\n", 19, &used),
                     FR_LITERAL_DATA);
    ck_assert_uint_eq(used, 2);
    framer_reject(&f);
    ck_assert_int_eq(framer_feed(&f, " d NOOP\r\ne NOOP\r\n", 17, &used),
                     FR_COMMAND);
    ck_assert_str_eq(framer_command(&f, &len), "e NOOP\r\n");
    framer_free(&f);
}
END_TEST

/* 10 MB through a framer limited to 64 KiB: nothing of it is buffered. */
START_TEST(test_stream_big)
{
    struct framer_limits lim = {.max_line = 8192, .max_command = 65536};
    const size_t big = 10u << 20;
    static const char hdr[] = "a APPEND INBOX (\\Seen) {10485760}\r\n";
    size_t hl = sizeof(hdr) - 1, total = hl + big + 2 + 8;
    char *in = malloc(total);
    memcpy(in, hdr, hl);
    for (size_t i = 0; i < big; i++)
        in[hl + i] = (char)('a' + i % 26);
    memcpy(in + hl + big, "\r\nb NOOP\r\n", 10);
    struct framer f;
    framer_init(&f, &lim);
    size_t pos = 0, got = 0, len, used;
    int commands = 0;
    unsigned seed = 7;
    while (pos < total) {
        size_t n = 1 + lcg(&seed) * 4; /* up to 128 KiB, odd cuts */
        if (n > total - pos)
            n = total - pos;
        size_t off = 0;
        for (;;) {
            enum framer_event ev =
                framer_feed(&f, in + pos + off, n - off, &used);
            ck_assert_uint_le(f.cap, 256); /* only the head is buffered */
            if (ev == FR_LITERAL_DATA) {
                const char *p = framer_literal_data(&f, &len);
                ck_assert_ptr_eq(p, in + hl + got); /* in order, in place */
                got += len;
                ck_assert_uint_eq(framer_literal_left(&f), big - got);
            } else if (ev == FR_LITERAL) {
                ck_assert_uint_eq(framer_literal(&f)->size, big);
                framer_stream_literal(&f);
            } else if (ev == FR_COMMAND) {
                const char *c = framer_command(&f, &len);
                if (commands++ == 0) {
                    ck_assert_uint_eq(len, hl + 2);
                    ck_assert(!memcmp(c, hdr, hl));
                    ck_assert(!memcmp(c + hl, "\r\n", 2));
                } else {
                    ck_assert_str_eq(c, "b NOOP\r\n");
                }
                framer_next(&f);
            } else {
                ck_assert_int_eq(ev, FR_NEED_MORE);
            }
            off += used;
            if (ev == FR_NEED_MORE)
                break;
        }
        pos += n;
    }
    ck_assert_uint_eq(got, big);
    ck_assert_int_eq(commands, 2);
    ck_assert(framer_release(&f));
    framer_free(&f);
    free(in);
}
END_TEST

/* A mix of everything, streamed: chunking never matters either. */
START_TEST(test_stream_equivalence)
{
    static const char script[] =
        "a1 APPEND INBOX {5}\r\nhello\r\n"
        "a2 APPEND {5}\r\nINBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" "
        "~{42+}\r\n\0\r\n{3}\r\nabc0123456789012345678901234567890 x\r\n"
        "a3 APPEND x {0+}\r\n\r\n"
        "a4 LOGIN {3}\r\nabc {9}\r\n123456789\r\n"
        "a5 APPEND x {300}\r\n"
        "b1 XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX {4+}\r\nAAAA\r\n"
        "b2 APPEND y {20}\r\n0123456789\r\n01234567 {2}\r\nzz\r\n"
        "b3 IDLE\r\nDONE\r\n"
        "b4 APPEND y {64}\r\n"
        "0123456789012345678901234567890123456789012345678901234567890123"
        "\r\nb5 NOOP\r\n";
    static const struct framer_limits lims[] = {
        {0, 0}, {32, 96}, {16, 1000}, {64, 64}, {40, 200}, {1, 10}, {2, 2}};
    struct policy pols[] = {
        {.stream = true, .raw_after = true},
        {.stream = true, .stream_from = 5, .reject_over = 100},
        {.stream = true, .stream_from = 40, .raw_after = true},
    };
    for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++)
        for (size_t j = 0; j < sizeof(pols) / sizeof(pols[0]); j++)
            free(run_all(script, sizeof(script) - 1, &lims[i], &pols[j]));
    char *t = run_all(script, sizeof(script) - 1, NULL, &pols[2]);
    ck_assert_msg(
        strstr(t, "D:\\x00\\r\\n{3}\\r\\nabc0123456789012345678901234567890\n"
                  "C:a2 APPEND {5}\\r\\nINBOX (\\x5cSeen) "
                  "\"1-Jan-2020 00:00:00 +0000\" ~{42+}\\r\\n x\\r\\n "
                  "[a2|APPEND]\n"),
        "%s", t);
    free(t);
    t = run_all(script, sizeof(script) - 1, &lims[3], &pols[1]);
    ck_assert_msg(strstr(t, "L:300 sync [a5|APPEND] reject\n"), "%s", t);
    ck_assert_msg(strstr(t, "D:0123456789\\r\\n01234567\n"
                            "L:2 sync [b2|APPEND] accept\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "C:b4 APPEND y {64}\\r\\n\\r\\n [b4|"), "%s", t);
    ck_assert_msg(strstr(t, "C:b5 NOOP\\r\\n [b5|NOOP]\n"), "%s", t);
    free(t);
}
END_TEST

static Suite *framer_suite(void)
{
    Suite *s = suite_create("framer");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, test_simple);
    tcase_add_test(tc, test_bare_lf);
    tcase_add_test(tc, test_literal_kinds);
    tcase_add_test(tc, test_not_literals);
    tcase_add_test(tc, test_literal_content);
    tcase_add_test(tc, test_pipelined);
    tcase_add_test(tc, test_reject);
    tcase_add_test(tc, test_unanswered_literal);
    tcase_add_test(tc, test_raw);
    tcase_add_test(tc, test_set_raw_direct);
    tcase_add_test(tc, test_discard);
    tcase_add_test(tc, test_tag_and_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120); /* slow under valgrind */
    tcase_add_test(tc, test_line_too_long);
    tcase_add_test(tc, test_skip_nonsync_literal);
    tcase_add_test(tc, test_command_too_long);
    tcase_add_test(tc, test_huge_literal_accept);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_equivalence_mix);
    suite_add_tcase(s, tc);
    tc = tcase_create("stream");
    tcase_set_timeout(tc, 300); /* 10 MB under valgrind */
    tcase_add_test(tc, test_stream_kinds);
    tcase_add_test(tc, test_stream_mixed);
    tcase_add_test(tc, test_stream_limits);
    tcase_add_test(tc, test_stream_stop_continue);
    tcase_add_test(tc, test_stream_reject);
    tcase_add_test(tc, test_stream_big);
    tcase_add_test(tc, test_stream_equivalence);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(framer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
