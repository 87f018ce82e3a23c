/* Unit tests for mail/search: every key against small views, three-valued
 * logic with and without header and text, dates across zones, the Date:
 * parser, header and body matching (encodings, charsets, MIME structure,
 * case folding), and chunking: every message is fed whole, one byte at a
 * time and in random pieces, and all three must agree.  Key trees come from
 * the real parser ("a SEARCH ...\r\n"). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"
#include "mail/search.h"
#include "proto/parser.h"

static struct arena A; /* command arena: parse, program, MIME trees */
static struct arena S; /* scratch, reset after every evaluation */
static struct view V;
static const uint32_t *saved;
static size_t n_saved;

static void setup(void)
{
    arena_init(&A, 4096, 0);
    arena_init(&S, 4096, 0);
    view_init(&V, 1, 1);
    saved = NULL;
    n_saved = 0;
}

static void teardown(void)
{
    arena_free(&A);
    arena_free(&S);
    view_free(&V);
}

static void add_msg(uint32_t uid, unsigned flags, uint64_t size,
                    uint64_t modseq, int64_t idate, int tz, uint64_t kw)
{
    struct view_msg m = {.uid = uid,
                         .flags = (uint16_t)flags,
                         .size = size,
                         .modseq = modseq,
                         .internaldate = idate,
                         .tz_offset_min = (int16_t)tz,
                         .keywords = kw};

    ck_assert_int_eq(view_append(&V, &m), IMAPSRV_OK);
}

/* Compile "a SEARCH <crit>" against V; *err_r gets the error text. */
static imapsrv_status compile(const char *crit, struct search_prog **p_r,
                              const char **err_r)
{
    char buf[8192];
    struct imap_command cmd;
    const char *perr = NULL;
    int n = snprintf(buf, sizeof(buf), "a SEARCH %s\r\n", crit);

    ck_assert_int_lt(n, (int)sizeof(buf));
    ck_assert_msg(parser_parse(buf, (size_t)n, NULL, &A, &cmd, &perr) ==
                      PARSE_OK,
                  "parse %s: %s", crit, perr ? perr : "");
    *err_r = NULL;
    return search_compile(&cmd.u.search.root, cmd.u.search.charset.s, &V, saved,
                          n_saved, &A, p_r, err_r);
}

static struct search_prog *P(const char *crit)
{
    struct search_prog *p = NULL;
    const char *err;
    imapsrv_status st = compile(crit, &p, &err);

    ck_assert_msg(st == IMAPSRV_OK, "compile %s: %d %s", crit, st,
                  err ? err : "");
    ck_assert_ptr_nonnull(p);
    return p;
}

static char tv(enum search_truth t)
{
    return "FTU"[t];
}

/* Every message of V evaluated without header and text: "TFU..." */
static const char *flags_of_prog(const struct search_prog *p)
{
    static char out[64];
    uint32_t i;

    for (i = 0; i < V.count && i + 1 < sizeof(out); i++) {
        struct search_msg m = {.v = &V, .idx = i};
        out[i] = tv(search_eval(p, &m, &S));
    }
    out[i] = '\0';
    return out;
}

static const char *flags_of(const char *crit)
{
    return flags_of_prog(P(crit));
}

#define FL(crit, exp) ck_assert_str_eq(flags_of(crit), exp)

/* ---- messages -------------------------------------------------------- */

static unsigned rnd_state = 12345;

static size_t rnd(size_t n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

/* Feed raw to t: mode 0 whole, 1 byte by byte, 2 random pieces. */
static void feed(struct search_text *t, const char *raw, size_t len, int mode)
{
    size_t off = 0;

    while (off < len) {
        size_t n = mode == 0 ? len - off : mode == 1 ? 1 : 1 + rnd(37);
        if (n > len - off)
            n = len - off;
        search_text_feed(t, raw + off, n);
        off += n;
    }
}

/* Evaluate p on raw as message idx of V with header and/or text known. */
static char eval_raw(const struct search_prog *p, uint32_t idx, const char *raw,
                     bool header, bool text, int mode)
{
    size_t len = strlen(raw);
    struct mime_part *root;
    struct search_text *t = NULL;
    struct search_msg m = {.v = &V, .idx = idx};
    char r;

    ck_assert_int_eq(mime_parse(raw, len, NULL, &A, &root), IMAPSRV_OK);
    if (header) {
        m.header = raw;
        m.header_len = (size_t)root->body_start;
    }
    if (text) {
        t = search_text_new(p, &A);
        ck_assert_ptr_nonnull(t);
        search_text_begin(t, root);
        feed(t, raw, len, mode);
        search_text_end(t);
        m.text = t;
    }
    r = tv(search_eval(p, &m, &S));
    arena_reset(&S);
    return r;
}

/* crit on raw as message idx, everything known, three feeding modes. */
static char run_at(const char *crit, const char *raw, uint32_t idx)
{
    const struct search_prog *p = P(crit);
    char r = eval_raw(p, idx, raw, true, true, 0);

    for (int mode = 1; mode <= 3; mode++)
        ck_assert_msg(eval_raw(p, idx, raw, true, true, mode) == r,
                      "%s: mode %d differs", crit, mode);
    return r;
}

static char run(const char *crit, const char *raw)
{
    if (V.count == 0)
        add_msg(1, 0, strlen(raw), 1, 0, 0, 0);
    return run_at(crit, raw, 0);
}

#define T(crit, raw) ck_assert_int_eq(run(crit, raw), 'T')
#define F(crit, raw) ck_assert_int_eq(run(crit, raw), 'F')

/* ---- flags, keywords, numbers, sets ---------------------------------- */

/* A store's index answers the body needles: no text is needed then. */
START_TEST(t_native_body)
{
    for (uint32_t uid = 1; uid <= 4; uid++)
        add_msg(uid, 0, 100, 0, 0, 0, 0);
    struct search_prog *p = P("OR BODY \"Caf\xc3\x89\" NOT BODY tea");
    ck_assert_uint_eq(search_body_count(p), 2);
    ck_assert_str_eq(search_body_needle(p, 0), "caf\xc3\xa9");
    ck_assert_str_eq(search_body_needle(p, 1), "tea");
    ck_assert_uint_eq(search_uses(p) & SEARCH_USES_BODY, SEARCH_USES_BODY);
    static const uint32_t cafe[] = {3, 1}; /* any order */
    ck_assert_int_eq(search_set_body_result(p, 0, cafe, 2, &A), IMAPSRV_OK);
    /* One needle answered: the other still needs the text. */
    ck_assert_str_eq(flags_of_prog(p), "TUTU");
    static const uint32_t tea[] = {1, 2, 3};
    ck_assert_int_eq(search_set_body_result(p, 1, tea, 3, &A), IMAPSRV_OK);
    ck_assert_uint_eq(search_uses(p) & SEARCH_USES_BODY, 0);
    ck_assert_str_eq(flags_of_prog(p), "TFTT");
    /* TEXT: the index answers the body half, the header is still read. */
    p = P("TEXT tea");
    ck_assert_uint_eq(search_body_count(p), 1);
    ck_assert_int_eq(search_set_body_result(p, 0, tea, 0, &A), IMAPSRV_OK);
    ck_assert_uint_eq(search_uses(p), SEARCH_USES_HEADER);
}
END_TEST

START_TEST(t_flags)
{
    add_msg(1, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT, 100, 5, 0, 0, 0);
    add_msg(2, IMAPSRV_FLAG_RECENT, 200, 10, 0, 0, 0);
    add_msg(3, IMAPSRV_FLAG_ANSWERED | IMAPSRV_FLAG_FLAGGED, 300, 15, 0, 0, 0);
    add_msg(4, IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_DRAFT | IMAPSRV_FLAG_SEEN,
            400, 20, 0, 0, 0);
    FL("ALL", "TTTT");
    FL("SEEN", "TFFT");
    FL("UNSEEN", "FTTF");
    FL("RECENT", "TTFF");
    FL("NEW", "FTFF");
    FL("OLD", "FFTT");
    FL("ANSWERED", "FFTF");
    FL("UNANSWERED", "TTFT");
    FL("FLAGGED", "FFTF");
    FL("UNFLAGGED", "TTFT");
    FL("DELETED", "FFFT");
    FL("UNDELETED", "TTTF");
    FL("DRAFT", "FFFT");
    FL("UNDRAFT", "TTTF");
    /* sizes compare strictly */
    FL("LARGER 200", "FFTT");
    FL("SMALLER 200", "TFFF");
    FL("LARGER 0", "TTTT");
    FL("SMALLER 100", "FFFF");
    /* MODSEQ n: modseq >= n; an entry name is ignored (one modseq only) */
    FL("MODSEQ 10", "FTTT");
    FL("MODSEQ \"/flags/\\\\Seen\" all 15", "FFTT");
    ck_assert_uint_eq(search_uses(P("SEEN LARGER 5 MODSEQ 3")), 0);
}
END_TEST

START_TEST(t_logic)
{
    add_msg(1, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT, 0, 1, 0, 0, 0);
    add_msg(2, IMAPSRV_FLAG_RECENT, 0, 1, 0, 0, 0);
    add_msg(3, IMAPSRV_FLAG_FLAGGED, 0, 1, 0, 0, 0);
    add_msg(4, IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_SEEN, 0, 1, 0, 0, 0);
    FL("OR SEEN FLAGGED", "TFTT");
    FL("NOT OR SEEN FLAGGED", "FTFF");
    FL("SEEN RECENT", "TFFF");
    FL("(SEEN RECENT)", "TFFF");
    FL("OR (SEEN RECENT) (DELETED SEEN)", "TFFT");
    FL("NOT NOT SEEN", "TFFT");
    FL("SEEN NOT DELETED", "TFFF");
    FL("((SEEN) (((UNDELETED))))", "TFFF");
    FL("OR OR FLAGGED DELETED NOT RECENT", "FFTT");
    FL("NOT (SEEN UNSEEN)", "TTTT");
    FL("1:4 (2:4 (3:4 4))", "FFFT");
}
END_TEST

START_TEST(t_unknown)
{
    add_msg(1, IMAPSRV_FLAG_SEEN, 0, 1, 0, 0, 0);
    add_msg(2, 0, 0, 1, 0, 0, 0);
    /* without text, body keys are UNKNOWN: the logic keeps what it can */
    FL("OR SEEN BODY x", "TU");
    FL("OR BODY x SEEN", "TU");
    FL("SEEN BODY x", "UF");
    FL("NOT BODY x", "UU");
    FL("NOT (UNSEEN BODY x)", "TU");
    FL("NOT OR UNSEEN BODY x", "UF");
    FL("OR BODY x BODY y", "UU");
    FL("TEXT x", "UU");
    FL("SEEN FROM alice", "UF");
    FL("OR SEEN SENTON 1-Jan-2020", "TU");
    FL("OR SEEN HEADER X-A b", "TU");
    /* the empty string is in every body: no text needed */
    FL("BODY \"\"", "TT");
    FL("TEXT \"\"", "TT");
    ck_assert_uint_eq(search_uses(P("BODY \"\"")), 0);
    ck_assert_uint_eq(search_uses(P("OR SEEN BODY x")), SEARCH_USES_BODY);
    ck_assert_uint_eq(search_uses(P("FROM x")), SEARCH_USES_HEADER);
    ck_assert_uint_eq(search_uses(P("SENTSINCE 1-Jan-2020")),
                      SEARCH_USES_HEADER);
    ck_assert_uint_eq(search_uses(P("TEXT x")),
                      SEARCH_USES_HEADER | SEARCH_USES_BODY);
}
END_TEST

static const char hdr_msg[] = "From: \"Alice\" <alice@example.org>\r\n"
                              "To: bob@example.com\r\n"
                              "Subject: Lunch\r\n"
                              "\r\n"
                              "Meet at noon in the kitchen.\r\n";

START_TEST(t_unknown_partial)
{
    const struct search_prog *p;

    add_msg(1, IMAPSRV_FLAG_SEEN, 0, 1, 0, 0, 0);
    add_msg(2, 0, 0, 1, 0, 0, 0);
    /* header known, text not: header keys decide, body keys stay open */
    p = P("OR FROM alice BODY kitchen");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, false, 0), 'T');
    p = P("OR FROM zed BODY kitchen");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, false, 0), 'U');
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, true, 0), 'T');
    p = P("FROM zed BODY kitchen");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, false, 0), 'F');
    /* text known, header not */
    p = P("BODY kitchen SUBJECT lunch");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, false, true, 0), 'U');
    p = P("BODY garden SUBJECT lunch");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, false, true, 0), 'F');
    /* TEXT: found in the header decides without the body */
    p = P("TEXT lunch");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, false, 0), 'T');
    p = P("TEXT noon");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, true, false, 0), 'U');
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, false, true, 0), 'T');
    p = P("TEXT nowhere");
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, false, true, 0), 'U');
    ck_assert_int_eq(eval_raw(p, 1, hdr_msg, true, true, 0), 'F');
    p = P("UNSEEN TEXT nowhere"); /* FALSE AND UNKNOWN */
    ck_assert_int_eq(eval_raw(p, 0, hdr_msg, false, false, 0), 'F');
}
END_TEST

START_TEST(t_keywords)
{
    int junk = view_keyword_intern(&V, "$Junk", 5);
    int work = view_keyword_intern(&V, "Work", 4);

    ck_assert_int_ge(junk, 0);
    ck_assert_int_ge(work, 0);
    add_msg(1, 0, 0, 1, 0, 0, 1ull << junk);
    add_msg(2, 0, 0, 1, 0, 0, 1ull << work);
    add_msg(3, 0, 0, 1, 0, 0, 0);
    add_msg(4, 0, 0, 1, 0, 0, (1ull << junk) | (1ull << work));
    FL("KEYWORD $Junk", "TFFT");
    FL("KEYWORD $JUNK", "TFFT");
    FL("KEYWORD work", "FTFT");
    FL("UNKEYWORD Work", "TFTF");
    FL("KEYWORD $Junk KEYWORD Work", "FFFT");
    /* a keyword the view has never seen */
    FL("KEYWORD Absent", "FFFF");
    FL("UNKEYWORD Absent", "TTTT");
    FL("NOT KEYWORD Absent", "TTTT");
    ck_assert_uint_eq(V.keyword_count, 2); /* compile added nothing */
}
END_TEST

START_TEST(t_sets)
{
    const char *err;
    struct search_prog *p;
    static const uint32_t sv[] = {20, 40, 45, 60};

    for (uint32_t u = 10; u <= 50; u += 10)
        add_msg(u, 0, 0, 1, 0, 0, 0);
    FL("2:4", "FTTTF");
    FL("4:2", "FTTTF");
    FL("*", "FFFFT");
    FL("1,3,5", "TFTFT");
    FL("NOT 2:3", "TFFTT");
    FL("UID 20:35", "FTTFF");
    FL("UID 60:*", "FFFFT"); /* 60:* is 50:60 */
    FL("UID 1:9,51:99", "FFFFF");
    FL("UID 10,50", "TFFFT");
    /* beyond EXISTS */
    ck_assert_int_eq(compile("1:6", &p, &err), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "6"));
    ck_assert_int_eq(compile("OR 1 NOT 7", &p, &err), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "7"));
    /* UID sets never fail */
    ck_assert_int_eq(compile("UID 1:1000", &p, &err), IMAPSRV_OK);
    /* "$": no saved result is the empty set */
    FL("$", "FFFFF");
    FL("UID $", "FFFFF");
    FL("NOT $", "TTTTT");
    saved = sv;
    n_saved = 4; /* 45 and 60 are not in the view */
    FL("$", "FTFTF");
    FL("UID $", "FTFTF");
    FL("OR 1 $", "TTFTF");
    FL("$ 1:3", "FTFFF");
    static const uint32_t rep[] = {20, 20, 30};
    saved = rep;
    n_saved = 3;
    FL("$", "FTTFF");
    saved = NULL;
}
END_TEST

START_TEST(t_set_empty_view)
{
    const char *err;
    struct search_prog *p;

    ck_assert_int_eq(compile("1", &p, &err), IMAPSRV_E_INVALID);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(compile("UID 1:*", &p, &err), IMAPSRV_OK);
}
END_TEST

START_TEST(t_charset)
{
    const char *err;
    struct search_prog *p;

    ck_assert_int_eq(compile("CHARSET ISO-8859-1 ALL", &p, &err),
                     IMAPSRV_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(compile("CHARSET KOI8-R BODY x", &p, &err),
                     IMAPSRV_E_UNSUPPORTED);
    ck_assert_int_eq(compile("CHARSET UTF-8 ALL", &p, &err), IMAPSRV_OK);
    ck_assert_int_eq(compile("CHARSET utf-8 ALL", &p, &err), IMAPSRV_OK);
    ck_assert_int_eq(compile("CHARSET \"us-ascii\" ALL", &p, &err), IMAPSRV_OK);
    ck_assert_int_eq(compile("RETURN (COUNT) CHARSET US-ASCII ALL", &p, &err),
                     IMAPSRV_OK);
}
END_TEST

/* ---- dates ----------------------------------------------------------- */

#define T0 1678836600 /* 2023-03-14 23:30:00 UTC */
#define T1 1678840200 /* 2023-03-15 00:30:00 UTC */

START_TEST(t_internal_dates)
{
    add_msg(1, 0, 0, 1, T0, 60, 0);   /* 15 Mar 00:30 +0100 */
    add_msg(2, 0, 0, 1, T0, -300, 0); /* 14 Mar 18:30 -0500 */
    add_msg(3, 0, 0, 1, T1, -60, 0);  /* 14 Mar 23:30 -0100 */
    add_msg(4, 0, 0, 1, -3600, 0, 0); /* 31 Dec 1969 23:00 */
    add_msg(5, 0, 0, 1, T1, 0, 0);    /* 15 Mar 00:30 UTC */
    add_msg(6, 0, 0, 1, T0, 840, 0);  /* 15 Mar 13:30 +1400 */
    FL("ON 15-Mar-2023", "TFFFTT");
    FL("ON 14-Mar-2023", "FTTFFF");
    FL("BEFORE 15-Mar-2023", "FTTTFF");
    FL("SINCE 15-Mar-2023", "TFFFTT");
    FL("SINCE 14-Mar-2023", "TTTFTT");
    FL("BEFORE 14-Mar-2023", "FFFTFF");
    FL("ON 31-Dec-1969", "FFFTFF");
    FL("BEFORE 1-Jan-1970", "FFFTFF");
    FL("SINCE 16-Mar-2023", "FFFFFF");
    FL("SINCE 14-Mar-2023 BEFORE 15-Mar-2023", "FTTFFF");
}
END_TEST

static bool pd(const char *s, int y, int m, int d)
{
    struct imap_date r = {0, 0, 0};

    return search_parse_date(s, strlen(s), &r) && r.year == y && r.month == m &&
           r.day == d;
}

static bool pd_fails(const char *s)
{
    struct imap_date r;

    return !search_parse_date(s, strlen(s), &r);
}

START_TEST(t_parse_date)
{
    ck_assert(pd("Tue, 14 Mar 2023 10:00:00 +0100", 2023, 3, 14));
    ck_assert(pd("14 Mar 2023 10:00:00 +0100", 2023, 3, 14));
    ck_assert(pd("Tue, 14 Mar 2023 10:00 +0100", 2023, 3, 14));
    ck_assert(pd("Tue,14 Mar 23 10:00:00 GMT", 2023, 3, 14));
    ck_assert(pd("1 jan 99 00:00 EST", 1999, 1, 1));
    ck_assert(pd("Sat, 1 Jan 49 00:00 -0000", 2049, 1, 1));
    ck_assert(pd("Sat, 1 Jan 50 00:00 -0000", 1950, 1, 1));
    ck_assert(pd("Wed, 2 Feb 103 00:00 +0000", 2003, 2, 2));
    ck_assert(pd("(sent) Tue (x) , 14 (y) Mar (z) 2023 10:00 +0000 (CET)", 2023,
                 3, 14));
    ck_assert(pd("  Tuesday, 14 March 2023\r\n 10:00:00 +0100", 2023, 3, 14));
    ck_assert(pd("Thu, 29 Feb 2024 23:59:59 -1200", 2024, 2, 29));
    ck_assert(pd("Mon, 31-Dec-1999 12:00:00 +0000", 1999, 12, 31));
    ck_assert(pd("05 Nov 2021", 2021, 11, 5));
    ck_assert(pd_fails(""));
    ck_assert(pd_fails("yesterday"));
    ck_assert(pd_fails("Tue, 32 Mar 2023 10:00 +0000"));
    ck_assert(pd_fails("Wed, 29 Feb 2023 10:00 +0000"));
    ck_assert(pd_fails("14 Foo 2023"));
    ck_assert(pd_fails("14 Mar"));
    ck_assert(pd_fails("2023-03-14 10:00"));
    ck_assert(pd_fails("Tue, 14 Mar 20230 10:00"));
    ck_assert(pd_fails("Tue, 0 Mar 2023"));
    /* not NUL-terminated: the length bounds the parse */
    struct imap_date d;
    ck_assert(!search_parse_date("14 Mar 2023", 6, &d));
}
END_TEST

static const char sent_msg[] = "Date: Tue, 14 Mar 2023 23:30:00 -0500\r\n"
                               "Subject: late\r\n"
                               "\r\n"
                               "body\r\n";

START_TEST(t_sent_dates)
{
    /* the Date: as written (14 Mar), not its UTC day (15 Mar) */
    add_msg(1, 0, 0, 1, T1 + 86400 * 10, 0, 0);
    T("SENTON 14-Mar-2023", sent_msg);
    F("SENTON 15-Mar-2023", sent_msg);
    F("SENTBEFORE 14-Mar-2023", sent_msg);
    T("SENTBEFORE 15-Mar-2023", sent_msg);
    T("SENTSINCE 14-Mar-2023", sent_msg);
    F("SENTSINCE 15-Mar-2023", sent_msg);
    /* ON looks at the internal date (25 Mar) instead */
    F("ON 14-Mar-2023", sent_msg);
    T("ON 25-Mar-2023", sent_msg);
    /* missing or garbage Date: falls back to the internal date */
    T("SENTON 25-Mar-2023", "Subject: no date\r\n\r\nx\r\n");
    T("SENTON 25-Mar-2023", "Date: soon\r\nSubject: bad\r\n\r\nx\r\n");
    F("SENTON 14-Mar-2023", "Date: soon\r\n\r\nx\r\n");
    T("SENTSINCE 20-Mar-2023", "Date: Tue, 14 Bla 2023\r\n\r\nx\r\n");
    /* a folded Date: still parses */
    T("SENTON 1-Feb-2022",
      "Subject: x\r\nDate: Tue, 1 Feb 2022\r\n 08:00:00 +0000\r\n\r\nx\r\n");
}
END_TEST

/* ---- header keys ----------------------------------------------------- */

static const char addr_msg[] =
    "From: \"Alice\" <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Cc: carol@example.net\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Quarterly =?ISO-8859-1?Q?R=E9sum=E9?=\r\n"
    "X-Tag: one\r\n"
    "X-Tag: two\r\n"
    "X-Empty:\r\n"
    "X-Folded: first part\r\n"
    " second part\r\n"
    "\r\n"
    "To whom it may concern: hello.\r\n";

START_TEST(t_header_keys)
{
    T("FROM alice", addr_msg);
    T("FROM \"ALICE@EXAMPLE\"", addr_msg);
    F("FROM bob", addr_msg);
    T("TO bob", addr_msg);
    F("TO carol", addr_msg);
    T("CC carol", addr_msg);
    T("BCC dave", addr_msg);
    F("BCC bob", addr_msg);
    T("SUBJECT quarterly", addr_msg);
    T("SUBJECT \"résumé\"", addr_msg);
    T("SUBJECT \"RÉSUMÉ\"", addr_msg);
    F("SUBJECT whom", addr_msg); /* body text is not the subject */
    /* every occurrence counts, names are case-insensitive */
    T("HEADER X-Tag one", addr_msg);
    T("HEADER x-tag TWO", addr_msg);
    F("HEADER X-Tag three", addr_msg);
    /* the empty value: any message that has the field */
    T("HEADER X-Empty \"\"", addr_msg);
    T("HEADER X-Tag \"\"", addr_msg);
    F("HEADER X-Missing \"\"", addr_msg);
    F("HEADER X-Empty x", addr_msg);
    /* unfolded */
    T("HEADER X-Folded \"part second\"", addr_msg);
    /* HEADER decodes encoded words too */
    T("HEADER Subject \"résumé\"", addr_msg);
    F("HEADER Subject \"=?ISO\"", addr_msg);
    /* TEXT: header or body */
    T("TEXT quarterly", addr_msg);
    T("TEXT \"RÉSUMÉ\"", addr_msg);
    T("TEXT concern", addr_msg);
    T("TEXT \"x-folded\"", addr_msg);
    F("TEXT nowhere", addr_msg);
    F("TEXT \"org>to\"", addr_msg); /* never across two fields */
    F("BODY quarterly", addr_msg);
}
END_TEST

START_TEST(t_encoded_from)
{
    const char *m1 =
        "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@example.de>\r\n"
        "\r\nhi\r\n";
    const char *m2 = "From: =?ISO-8859-1?Q?Fran=E7ois?= <f@example.fr>\r\n"
                     "To: =?windows-1252?Q?=80uro?= <e@example.fr>\r\n"
                     "\r\nhi\r\n";

    T("FROM \"jürgen müller\"", m1);
    T("FROM \"JÜRGEN\"", m1);
    T("FROM jm@example", m1);
    F("FROM SsO8", m1);
    T("FROM \"françois\"", m2);
    T("FROM \"FRANÇOIS\"", m2);
    F("FROM \"Fran=E7ois\"", m2);
    T("TO \"€uro\"", m2);
}
END_TEST

/* ---- body ------------------------------------------------------------ */

static const char b64_msg[] =
    "Subject: base64\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "R3LDvMOfZSBhdXMgS8O2bG46IGRhcyBHZXNwcsOkY2ggw7xiZXIgw4RSR0VSIHVuZCDOqc68\r"
    "\n"
    "zq3Os86xIM6jzp/Ops6ZzpEsINCB0LvQutCwINCf0KDQmNCS0JXQoi4NCg==\r\n";

START_TEST(t_body_base64)
{
    T("BODY \"grüße\"", b64_msg);
    F("BODY \"GRÜSSE\"", b64_msg); /* ß is not folded to ss */
    T("BODY \"gespräch über\"", b64_msg);
    T("BODY \"ärger\"", b64_msg); /* body has ÄRGER */
    T("BODY \"ÄRGER\"", b64_msg);
    T("BODY \"ωμέγα\"", b64_msg);       /* body has Ωμέγα */
    T("BODY \"ΩΜΈΓΑ\"", b64_msg);       /* tonos capital too */
    T("BODY \"σοφια\"", b64_msg);       /* body has ΣΟΦΙΑ */
    T("BODY \"ёлка привет\"", b64_msg); /* body has Ёлка ПРИВЕТ */
    F("BODY R3LDvMOf", b64_msg);        /* the encoded form is not text */
    F("BODY \"kölner\"", b64_msg);
}
END_TEST

static const char qp_msg[] =
    "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, this line is long and soft=\r\n"
    "broken right there; and a split char: =C3=\r\n"
    "=84rger and =C3=\r\n"
    "=A4rger.=20\r\n"
    "Equals: a=3Db\r\n";

START_TEST(t_body_qp)
{
    T("BODY \"münchen\"", qp_msg);
    T("BODY \"MÜNCHEN\"", qp_msg);
    T("BODY softbroken", qp_msg);
    F("BODY \"soft=\"", qp_msg);
    T("BODY \"char: ärger and ärger\"", qp_msg);
    T("BODY a=b", qp_msg);
    F("BODY 3Db", qp_msg);
}
END_TEST

static const char alt_msg[] =
    "From: x@example.org\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "preamble mentions zebra\r\n"
    "--alt\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain version with giraffe\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>html version with <b>=C4RGER</b> and elephant</p>\r\n"
    "--alt--\r\n"
    "epilogue mentions walrus\r\n";

START_TEST(t_body_alternative)
{
    T("BODY giraffe", alt_msg);
    T("BODY elephant", alt_msg);
    T("BODY \"ärger\"", alt_msg); /* latin-1 converted, then folded */
    T("BODY \"ÄRGER\"", alt_msg);
    T("BODY giraffe BODY elephant", alt_msg);
    F("BODY zebra", alt_msg);  /* preamble */
    F("BODY walrus", alt_msg); /* epilogue */
    F("BODY alt", alt_msg);    /* boundary lines */
    F("BODY \"giraffe <p>\"", alt_msg);
}
END_TEST

static const char mixed_msg[] =
    "Content-Type: multipart/mixed; boundary=b1\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "first part ends with foo\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "bar starts the second part\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=x.bin\r\n"
    "\r\n"
    "secretword in a binary attachment\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=b2\r\n"
    "\r\n"
    "--b2\r\n"
    "Content-Type: text/plain; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "bmVzdGVkIHByaWNlOiA1IIA=\r\n" /* "nested price: 5 \x80" */
    "--b2--\r\n"
    "\r\n"
    "--b1--\r\n";

START_TEST(t_body_mixed)
{
    T("BODY foo", mixed_msg);
    T("BODY bar", mixed_msg);
    F("BODY foobar", mixed_msg); /* never across two parts */
    F("BODY \"foo bar\"", mixed_msg);
    F("BODY secretword", mixed_msg); /* not a text part */
    T("BODY \"nested price: 5 €\"", mixed_msg);
    F("BODY bmVzdGVk", mixed_msg);
    F("BODY inner", mixed_msg); /* the inner header is not body text */
    T("TEXT \"PRICE: 5\"", mixed_msg);
    T("OR BODY secretword BODY nested", mixed_msg);
}
END_TEST

START_TEST(t_body_single_parts)
{
    /* no Content-Type: text/plain us-ascii */
    T("BODY world", "Subject: x\r\n\r\nhello world\r\n");
    /* an 8-bit body with an unknown charset is taken as it is */
    T("BODY \"überall\"", "Content-Type: text/plain; charset=x-unknown\r\n"
                          "\r\nÜBERALL\r\n");
    F("BODY hello", "Content-Type: image/png\r\n\r\nhello\r\n");
    /* an encoded message/rfc822 is not parsed: not text */
    F("BODY secret", "Content-Type: message/rfc822\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n"
                     "U3ViamVjdDogeAoKc2VjcmV0Cg==\r\n");
    /* a header-only message has no body text */
    F("BODY x", "Subject: x\r\n");
    /* QP cut at the very end: kept as text */
    T("BODY \"end=\"", "Content-Transfer-Encoding: quoted-printable\r\n"
                       "\r\nthe end=");
}
END_TEST

START_TEST(t_body_chunks)
{
    /* needles across the 2 KiB slice boundary and across base64 lines */
    char msg[16384], *b = msg;
    int i;

    b += sprintf(b, "Subject: big\r\n\r\n");
    for (i = 0; i < 300; i++)
        b += sprintf(b, "line %04d ", i);
    b += sprintf(b, "ΔΙΑΣΠΑΣΗ\r\n");
    for (; i < 900; i++)
        b += sprintf(b, "line %04d ", i);
    ck_assert_int_lt((int)(b - msg), (int)sizeof(msg));
    T("BODY \"line 0204 line 0205\"", msg); /* spans offset 2048 */
    T("BODY \"line 0409 line 0410\"", msg); /* spans offset 4096 */
    T("BODY \"line 0899\"", msg);
    T("BODY \"line 0299 διασπαση\"", msg);
    F("BODY \"line 0900\"", msg);
    T("BODY \"line 0000\" BODY \"line 0500\"", msg);
}
END_TEST

START_TEST(t_text_direct)
{
    /* drive search_text by hand: a needle split over three feeds */
    const char *raw = "Subject: x\r\n\r\nsome ÄRGER here\r\n";
    size_t split1 = strlen("Subject: x\r\n\r\nsome \xC3"), len = strlen(raw);
    const struct search_prog *p;
    struct mime_part *root;
    struct search_text *t;
    struct search_msg m = {.v = &V, .idx = 0};

    add_msg(1, 0, len, 1, 0, 0, 0);
    p = P("BODY \"ärger here\" BODY some");
    ck_assert_int_eq(mime_parse(raw, len, NULL, &A, &root), IMAPSRV_OK);
    t = search_text_new(p, &A);
    ck_assert_ptr_nonnull(t);
    for (int round = 0; round < 2; round++) { /* reusable per message */
        search_text_begin(t, root);
        search_text_feed(t, raw, split1);
        search_text_feed(t, raw + split1, 3);
        search_text_feed(t, raw + split1 + 3, 0);
        search_text_feed(t, raw + split1 + 3, len - split1 - 3);
        search_text_end(t);
        m.text = t;
        ck_assert_int_eq(search_eval(p, &m, &S), SEARCH_TRUE);
    }
    /* a program without body needles: feeding is harmless */
    p = P("SEEN");
    t = search_text_new(p, &A);
    ck_assert_ptr_nonnull(t);
    search_text_begin(t, root);
    search_text_feed(t, raw, len);
    search_text_end(t);
}
END_TEST

/* ---- folding --------------------------------------------------------- */

static const char *fold(const char *s)
{
    static char out[256];
    size_t n = search_fold(s, strlen(s), out);

    out[n] = '\0';
    return out;
}

START_TEST(t_fold)
{
    ck_assert_str_eq(fold("HeLLo, World 123"), "hello, world 123");
    ck_assert_str_eq(fold("ÄRGER Ärger ärger"), "ärger ärger ärger");
    ck_assert_str_eq(fold("ÀÖØÞ×ß"), "àöøþ×ß");
    ck_assert_str_eq(fold("ŁÓDŹ ŠČŽ ĲĽŸ"), "łódź ščž ĳľÿ");
    ck_assert_str_eq(fold("İSTANBUL ſ"), "istanbul s");
    ck_assert_str_eq(fold("ΟΔΟΣ οδος ΆΈΉΊΌΎΏ Ϊ"), "οδοσ οδοσ άέήίόύώ ϊ");
    ck_assert_str_eq(fold("ПРИВЕТ Ёж ЂЏ Ѣ Ӂ"), "привет ёж ђџ ѣ ӂ");
    ck_assert_str_eq(fold("µ"), "μ");
    ck_assert_str_eq(fold("日本語 €"), "日本語 €");
    /* invalid bytes are copied */
    ck_assert_str_eq(fold("A\xff\xC3Z\x80"), "a\xff\xC3z\x80");
    ck_assert_str_eq(fold("\xC3"), "\xC3");
    /* never longer than the input, and in place is safe */
    char buf[] = "ÄRGER İ";
    size_t n = search_fold(buf, strlen(buf), buf);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "ärger i");
}
END_TEST

/* ---- performance shape ----------------------------------------------- */

START_TEST(t_many_messages)
{
    const struct search_prog *p;
    uint32_t hits = 0;

    ck_assert_int_eq(view_reserve(&V, 100000), IMAPSRV_OK);
    for (uint32_t i = 1; i <= 100000; i++)
        add_msg(i, i % 3 == 0 ? IMAPSRV_FLAG_SEEN : IMAPSRV_FLAG_FLAGGED, i, 1,
                0, 0, 0);
    p = P("OR OR SEEN (FLAGGED NOT DELETED UID 1:1000) LARGER 50000");
    for (uint32_t i = 0; i < V.count; i++) {
        struct search_msg m = {.v = &V, .idx = i};
        hits += search_eval(p, &m, &S) == SEARCH_TRUE;
    }
    /* 50000 larger ones + seen among 1..50000 + flagged among 1..1000 */
    ck_assert_uint_eq(hits, 50000 + 16666 + 667);
    ck_assert_uint_eq(S.used, 0); /* no allocation per message */
}
END_TEST

static Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, t_flags);
    tcase_add_test(tc, t_logic);
    tcase_add_test(tc, t_unknown);
    tcase_add_test(tc, t_unknown_partial);
    tcase_add_test(tc, t_keywords);
    tcase_add_test(tc, t_sets);
    tcase_add_test(tc, t_set_empty_view);
    tcase_add_test(tc, t_charset);
    tcase_add_test(tc, t_internal_dates);
    tcase_add_test(tc, t_parse_date);
    tcase_add_test(tc, t_sent_dates);
    tcase_add_test(tc, t_header_keys);
    tcase_add_test(tc, t_encoded_from);
    tcase_add_test(tc, t_body_base64);
    tcase_add_test(tc, t_body_qp);
    tcase_add_test(tc, t_body_alternative);
    tcase_add_test(tc, t_body_mixed);
    tcase_add_test(tc, t_body_single_parts);
    tcase_add_test(tc, t_body_chunks);
    tcase_add_test(tc, t_text_direct);
    tcase_add_test(tc, t_fold);
    tcase_add_test(tc, t_many_messages);
    tcase_add_test(tc, t_native_body);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(search_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
