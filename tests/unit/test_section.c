/* Unit tests for mail/section: locating BODY[...] sections in parsed
 * messages, HEADER.FIELDS filtering, partial clamps and item names.
 * Sections are asked for with real FETCH commands run through the parser,
 * and every expected byte string is written out by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"
#include "mail/section.h"
#include "proto/parser.h"
#include "proto/writer.h"

static struct arena arena;

static void setup(void)
{
    arena_init(&arena, 4096, 0);
}

static void teardown(void)
{
    arena_free(&arena);
}

/* The one attribute of "a FETCH 1 (<item>)". */
static const struct fetch_att *parse_att(const char *item)
{
    char buf[512];
    struct imap_command cmd;
    const char *err;
    int n = snprintf(buf, sizeof(buf), "a FETCH 1 (%s)\r\n", item);

    ck_assert_int_lt(n, (int)sizeof(buf));
    ck_assert_msg(parser_parse(buf, (size_t)n, NULL, &arena, &cmd, &err) ==
                      PARSE_OK,
                  "%s: %s", item, err ? err : "?");
    ck_assert_uint_eq(cmd.u.fetch.att_count, 1);
    return &cmd.u.fetch.atts[0];
}

static const struct mime_part *parse_msg(const char *msg)
{
    struct mime_part *root;

    ck_assert_int_eq(mime_parse(msg, strlen(msg), NULL, &arena, &root),
                     IMAPSRV_OK);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* The bytes a server sends for `item` of msg (NUL-terminated, in the
 * arena), or NULL for NIL; *loc_r (may be NULL) gets the location. */
static const char *fetch_loc(const char *msg, const char *item,
                             struct section_loc *loc_r)
{
    const struct mime_part *root = parse_msg(msg);
    const struct fetch_att *fa = parse_att(item);
    size_t size = strlen(msg), n;
    struct section_loc loc;
    char *out;

    section_locate(root, &fa->section, &loc);
    if (loc_r != NULL)
        *loc_r = loc;
    if (loc.kind == SECTION_NIL)
        return NULL;
    ck_assert_msg(
        loc.start <= loc.end && loc.end <= size, "%s: range %llu..%llu of %zu",
        item, (unsigned long long)loc.start, (unsigned long long)loc.end, size);
    ck_assert_ptr_nonnull(loc.part);
    n = (size_t)(loc.end - loc.start);
    out = arena_alloc(&arena, n + 5);
    ck_assert_ptr_nonnull(out);
    if (loc.kind == SECTION_FILTER) {
        ck_assert(fa->section.spec == SEC_HEADER_FIELDS ||
                  fa->section.spec == SEC_HEADER_FIELDS_NOT);
        n = section_filter_header(
            msg + loc.start, n, fa->section.fields, fa->section.field_count,
            fa->section.spec == SEC_HEADER_FIELDS_NOT, out);
        ck_assert_uint_le(n, (size_t)(loc.end - loc.start) + 4);
    } else {
        memcpy(out, msg + loc.start, n);
    }
    if (fa->partial) {
        uint64_t s, l;
        section_partial(n, fa->offset, fa->count, &s, &l);
        ck_assert_uint_le(s + l, n);
        memmove(out, out + s, (size_t)l);
        n = (size_t)l;
    }
    out[n] = '\0';
    return out;
}

static const char *fetch(const char *msg, const char *item)
{
    return fetch_loc(msg, item, NULL);
}

/* want NULL: the answer is NIL */
static void expect(const char *msg, const char *item, const char *want)
{
    const char *got = fetch(msg, item);

    if (want == NULL)
        ck_assert_msg(got == NULL, "%s: NIL expected, got \"%s\"", item, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, want) == 0,
                      "%s: expected \"%s\", got \"%s\"", item, want,
                      got ? got : "NIL");
}

/* ---- messages ----------------------------------------------------- */

static const char m_plain[] = "From: Alice <a@example.org>\r\n"
                              "To: Bob <b@example.org>\r\n"
                              "Subject: hello\r\n"
                              "\r\n"
                              "Line one\r\n"
                              "Line two\r\n";

START_TEST(t_plain)
{
    const char *m = m_plain;
    const char *hdr = "From: Alice <a@example.org>\r\n"
                      "To: Bob <b@example.org>\r\n"
                      "Subject: hello\r\n"
                      "\r\n";

    expect(m, "BODY[]", m_plain);
    expect(m, "BODY.PEEK[HEADER]", hdr);
    expect(m, "BODY[TEXT]", "Line one\r\nLine two\r\n");
    /* part 1 of a non-multipart message is its body */
    expect(m, "BODY[1]", "Line one\r\nLine two\r\n");
    expect(m, "BODY[1.MIME]", hdr);
    expect(m, "BODY[1.1]", NULL);
    expect(m, "BODY[2]", NULL);
    expect(m, "BODY[1.HEADER]", NULL);
    expect(m, "BODY[1.TEXT]", NULL);
    expect(m, "BODY[HEADER.FIELDS (subject FROM)]",
           "From: Alice <a@example.org>\r\nSubject: hello\r\n\r\n");
    expect(m, "BODY[HEADER.FIELDS.NOT (To)]",
           "From: Alice <a@example.org>\r\nSubject: hello\r\n\r\n");
    expect(m, "BODY[HEADER.FIELDS (Cc)]", "\r\n");
    expect(m, "BODY[TEXT]<5.3>", "one");
    expect(m, "BODY[TEXT]<5.100>", "one\r\nLine two\r\n");
    expect(m, "BODY[TEXT]<20.5>", "");
    expect(m, "BODY[TEXT]<100.5>", "");
    expect(m, "BODY[]<0.4>", "From");
    expect(m, "BINARY[1]", "Line one\r\nLine two\r\n");
}
END_TEST

static const char m_mixed[] =
    "From: a@example.org\r\n"
    "Subject: three\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "first\r\n"
    "--XX\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>second</p>\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--XX--\r\n";

START_TEST(t_mixed)
{
    const char *m = m_mixed;
    struct section_loc loc;

    expect(m, "BODY[1]", "first");
    expect(m, "BODY[2]", "<p>second</p>");
    expect(m, "BODY[3]", "AAEC");
    expect(m, "BODY[4]", NULL);
    expect(m, "BODY[1.1]", NULL);
    expect(m, "BODY[2.TEXT]", NULL);
    expect(m, "BODY[2.HEADER.FIELDS (Content-Type)]", NULL);
    expect(m, "BODY[1.MIME]", "Content-Type: text/plain\r\n\r\n");
    expect(m, "BODY[3.MIME]",
           "Content-Type: application/octet-stream\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n");
    expect(m, "BODY[HEADER]",
           "From: a@example.org\r\n"
           "Subject: three\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
           "\r\n");
    expect(m, "BODY[TEXT]",
           "--XX\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "first\r\n"
           "--XX\r\n"
           "Content-Type: text/html\r\n"
           "\r\n"
           "<p>second</p>\r\n"
           "--XX\r\n"
           "Content-Type: application/octet-stream\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "AAEC\r\n"
           "--XX--\r\n");
    expect(m, "BODY[2]<3.6>", "second");
    expect(m, "BODY[3.MIME]<14.11>", "application");

    ck_assert_str_eq(fetch_loc(m, "BINARY.PEEK[3]", &loc), "AAEC");
    ck_assert_str_eq(loc.part->encoding, "BASE64");
    ck_assert_str_eq(loc.part->subtype, "OCTET-STREAM");
    ck_assert_str_eq(fetch_loc(m, "BODY[2]", &loc), "<p>second</p>");
    ck_assert_str_eq(loc.part->subtype, "HTML");
}
END_TEST

static const char m_alt[] =
    "Subject: alt\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain text\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "PNG\r\n"
    "--outer--\r\n";

START_TEST(t_alternative)
{
    const char *m = m_alt;

    expect(m, "BODY[1]",
           "--inner\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "plain text\r\n"
           "--inner\r\n"
           "Content-Type: text/html\r\n"
           "\r\n"
           "<b>html</b>\r\n"
           "--inner--");
    expect(m, "BODY[1.MIME]",
           "Content-Type: multipart/alternative; boundary=inner\r\n\r\n");
    expect(m, "BODY[1.1]", "plain text");
    expect(m, "BODY[1.2]", "<b>html</b>");
    expect(m, "BODY[1.2.MIME]", "Content-Type: text/html\r\n\r\n");
    expect(m, "BODY[1.3]", NULL);
    expect(m, "BODY[1.1.1]", NULL);
    expect(m, "BODY[2]", "PNG");
    expect(m, "BODY[2.MIME]", "Content-Type: image/png\r\n\r\n");
    expect(m, "BODY[3]", NULL);
    expect(m, "BODY[1.HEADER]", NULL);
}
END_TEST

static const char m_fwd_multi[] =
    "From: outer@example.org\r\n"
    "Subject: fwd\r\n"
    "Content-Type: multipart/mixed; boundary=b1\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "see attached\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@example.org\r\n"
    "To: x@example.org\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/mixed; boundary=b2\r\n"
    "\r\n"
    "--b2\r\n"
    "\r\n"
    "inner one\r\n"
    "--b2\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner two\r\n"
    "--b2--\r\n"
    "--b1--\r\n";

START_TEST(t_rfc822_multipart)
{
    const char *m = m_fwd_multi;
    struct section_loc loc;

    expect(m, "BODY[1]", "see attached");
    expect(m, "BODY[2]",
           "From: inner@example.org\r\n"
           "To: x@example.org\r\n"
           "Subject: inner\r\n"
           "Content-Type: multipart/mixed; boundary=b2\r\n"
           "\r\n"
           "--b2\r\n"
           "\r\n"
           "inner one\r\n"
           "--b2\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "inner two\r\n"
           "--b2--");
    expect(m, "BODY[2.MIME]", "Content-Type: message/rfc822\r\n\r\n");
    expect(m, "BODY[2.HEADER]",
           "From: inner@example.org\r\n"
           "To: x@example.org\r\n"
           "Subject: inner\r\n"
           "Content-Type: multipart/mixed; boundary=b2\r\n"
           "\r\n");
    expect(m, "BODY[2.TEXT]",
           "--b2\r\n"
           "\r\n"
           "inner one\r\n"
           "--b2\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "inner two\r\n"
           "--b2--");
    expect(m, "BODY[2.HEADER.FIELDS (SUBJECT to)]",
           "To: x@example.org\r\nSubject: inner\r\n\r\n");
    expect(m, "BODY[2.HEADER.FIELDS.NOT (From To Content-Type)]",
           "Subject: inner\r\n\r\n");
    expect(m, "BODY[2.1]", "inner one");
    expect(m, "BODY[2.1.MIME]", "\r\n"); /* an empty header */
    expect(m, "BODY[2.2]", "inner two");
    expect(m, "BODY[2.2.MIME]", "Content-Type: text/plain\r\n\r\n");
    expect(m, "BODY[2.3]", NULL);
    expect(m, "BODY[2.1.1]", NULL);
    expect(m, "BODY[2.1.HEADER]", NULL);
    expect(m, "BODY[1.HEADER]", NULL);
    expect(m, "BODY[2.HEADER]<6.5>", "inner");

    /* HEADER/TEXT of part 2 point at the message it holds */
    ck_assert_ptr_nonnull(fetch_loc(m, "BODY[2.HEADER]", &loc));
    ck_assert_str_eq(loc.part->type, "MULTIPART");
    ck_assert_ptr_nonnull(fetch_loc(m, "BODY[2]", &loc));
    ck_assert_str_eq(loc.part->type, "MESSAGE");
}
END_TEST

static const char m_fwd_plain[] = "Subject: outer\r\n"
                                  "Content-Type: multipart/mixed; "
                                  "boundary=\"=_sep\"\r\n"
                                  "\r\n"
                                  "--=_sep\r\n"
                                  "Content-Type: message/rfc822\r\n"
                                  "Content-Description: forwarded\r\n"
                                  "\r\n"
                                  "Subject: plain inner\r\n"
                                  "\r\n"
                                  "inner body\r\n"
                                  "--=_sep--\r\n";

START_TEST(t_rfc822_plain)
{
    const char *m = m_fwd_plain;

    expect(m, "BODY[1]", "Subject: plain inner\r\n\r\ninner body");
    expect(m, "BODY[1.MIME]",
           "Content-Type: message/rfc822\r\n"
           "Content-Description: forwarded\r\n"
           "\r\n");
    expect(m, "BODY[1.HEADER]", "Subject: plain inner\r\n\r\n");
    expect(m, "BODY[1.TEXT]", "inner body");
    /* the held message is not multipart: 1.1 is its body */
    expect(m, "BODY[1.1]", "inner body");
    expect(m, "BODY[1.1.MIME]", "Subject: plain inner\r\n\r\n");
    expect(m, "BODY[1.2]", NULL);
    expect(m, "BODY[1.1.1]", NULL);
    expect(m, "BODY[1.1.TEXT]", NULL);
    expect(m, "BODY[1.HEADER.FIELDS (Subject)]",
           "Subject: plain inner\r\n\r\n");
    expect(m, "BODY[2]", NULL);
}
END_TEST

/* the whole message is message/rfc822 */
static const char m_wrapped[] = "Subject: wrapper\r\n"
                                "Content-Type: message/rfc822\r\n"
                                "\r\n"
                                "Subject: wrapped\r\n"
                                "\r\n"
                                "wrapped body\r\n";

START_TEST(t_rfc822_top)
{
    const char *m = m_wrapped;

    expect(m, "BODY[TEXT]", "Subject: wrapped\r\n\r\nwrapped body\r\n");
    expect(m, "BODY[1]", "Subject: wrapped\r\n\r\nwrapped body\r\n");
    expect(m, "BODY[1.HEADER]", "Subject: wrapped\r\n\r\n");
    expect(m, "BODY[1.TEXT]", "wrapped body\r\n");
    expect(m, "BODY[1.1]", "wrapped body\r\n");
    expect(m, "BODY[1.2]", NULL);
    expect(m, "BODY[2]", NULL);
    expect(m, "BODY[HEADER.FIELDS (Subject)]", "Subject: wrapper\r\n\r\n");
}
END_TEST

static const char m_unclosed[] =
    "Content-Type: multipart/mixed; boundary=zz\r\n"
    "\r\n"
    "--zz\r\n"
    "\r\n"
    "part one\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "part two, never closed\r\n";

static const char m_cut_in_header[] =
    "Content-Type: multipart/mixed; boundary=zz\r\n"
    "\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n";

/* a message part whose header is cut by the boundary (no blank line) */
static const char m_cut_inner[] =
    "Content-Type: multipart/mixed; boundary=zz\r\n"
    "\r\n"
    "--zz\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: x\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "--zz--\r\n";

START_TEST(t_cut_headers)
{
    const char *m = m_cut_inner;

    /* the line break before a boundary is the boundary's, not the part's */
    expect(m, "BODY[1]", "Subject: x");
    expect(m, "BODY[1.HEADER]", "Subject: x");
    expect(m, "BODY[1.TEXT]", "");
    expect(m, "BODY[1.1]", "");
    expect(m, "BODY[1.HEADER.FIELDS (Subject)]", "Subject: x\r\n\r\n");
    expect(m, "BODY[1.HEADER.FIELDS.NOT (Subject)]", "\r\n");
    expect(m, "BODY[2]", "");
    expect(m, "BODY[3]", NULL);
}
END_TEST

START_TEST(t_missing_final_boundary)
{
    expect(m_unclosed, "BODY[1]", "part one");
    expect(m_unclosed, "BODY[2]", "part two, never closed\r\n");
    expect(m_unclosed, "BODY[2.MIME]", "Content-Type: text/plain\r\n\r\n");
    expect(m_unclosed, "BODY[3]", NULL);
    expect(m_unclosed, "BODY[TEXT]",
           "--zz\r\n"
           "\r\n"
           "part one\r\n"
           "--zz\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "part two, never closed\r\n");
    expect(m_unclosed, "BODY[2]<10.100>", "never closed\r\n");

    /* cut inside the part's header: the header runs to the end */
    expect(m_cut_in_header, "BODY[1]", "");
    expect(m_cut_in_header, "BODY[1.MIME]", "Content-Type: text/plain\r\n");
    expect(m_cut_in_header, "BODY[2]", NULL);
}
END_TEST

static const char m_pre_epi[] =
    "Content-Type: multipart/mixed; boundary=\"pe\"\r\n"
    "\r\n"
    "This is a preamble.\r\n"
    "--pe\r\n"
    "\r\n"
    "only part\r\n"
    "--pe--\r\n"
    "This is the epilogue.\r\n";

START_TEST(t_preamble_epilogue)
{
    const char *m = m_pre_epi;

    expect(m, "BODY[1]", "only part");
    expect(m, "BODY[1.MIME]", "\r\n");
    expect(m, "BODY[2]", NULL);
    expect(m, "BODY[TEXT]",
           "This is a preamble.\r\n"
           "--pe\r\n"
           "\r\n"
           "only part\r\n"
           "--pe--\r\n"
           "This is the epilogue.\r\n");
    expect(m, "BODY[HEADER]",
           "Content-Type: multipart/mixed; boundary=\"pe\"\r\n\r\n");
}
END_TEST

static const char m_folded[] = "Received: from a\r\n"
                               "\tby b;\r\n"
                               "\tTue, 1 Jan 2030 00:00:00 +0000\r\n"
                               "To: one@example.org,\r\n"
                               " two@example.org\r\n"
                               "To-Extra: no\r\n"
                               "Subject: folded\r\n"
                               "  subject\r\n"
                               "X-Empty:\r\n"
                               "\r\n"
                               "body\r\n";

START_TEST(t_continuation)
{
    const char *m = m_folded;

    expect(m, "BODY[HEADER.FIELDS (To)]",
           "To: one@example.org,\r\n two@example.org\r\n\r\n");
    expect(m, "BODY[HEADER.FIELDS (subject RECEIVED)]",
           "Received: from a\r\n"
           "\tby b;\r\n"
           "\tTue, 1 Jan 2030 00:00:00 +0000\r\n"
           "Subject: folded\r\n"
           "  subject\r\n"
           "\r\n");
    expect(m, "BODY[HEADER.FIELDS.NOT (Received to)]",
           "To-Extra: no\r\n"
           "Subject: folded\r\n"
           "  subject\r\n"
           "X-Empty:\r\n"
           "\r\n");
    expect(m, "BODY[HEADER.FIELDS (x-empty)]", "X-Empty:\r\n\r\n");
    expect(m, "BODY[HEADER.FIELDS (X-Missing T Subj)]", "\r\n");
    expect(m, "BODY[HEADER.FIELDS.NOT (X-Missing)]",
           "Received: from a\r\n"
           "\tby b;\r\n"
           "\tTue, 1 Jan 2030 00:00:00 +0000\r\n"
           "To: one@example.org,\r\n"
           " two@example.org\r\n"
           "To-Extra: no\r\n"
           "Subject: folded\r\n"
           "  subject\r\n"
           "X-Empty:\r\n"
           "\r\n");
    expect(m, "BODY[HEADER.FIELDS (To-Extra)]<3.5>", "Extra");
    expect(m, "BODY[TEXT]", "body\r\n");
}
END_TEST

static const char m_nobody[] = "From: a@example.org\r\n"
                               "Subject: no body\r\n"
                               "\r\n";

/* no blank line, no final line end */
static const char m_headonly[] = "From: a@example.org\r\n"
                                 "Subject: none";

START_TEST(t_no_body)
{
    expect(m_nobody, "BODY[TEXT]", "");
    expect(m_nobody, "BODY[1]", "");
    expect(m_nobody, "BODY[HEADER]", m_nobody);
    expect(m_nobody, "BODY[]", m_nobody);
    expect(m_nobody, "BODY[TEXT]<0.10>", "");
    expect(m_nobody, "BODY[HEADER.FIELDS (subject)]",
           "Subject: no body\r\n\r\n");

    expect(m_headonly, "BODY[HEADER]", m_headonly);
    expect(m_headonly, "BODY[TEXT]", "");
    expect(m_headonly, "BODY[1]", "");
    expect(m_headonly, "BODY[1.1]", NULL);
    expect(m_headonly, "BODY[HEADER.FIELDS (Subject)]",
           "Subject: none\r\n\r\n");
    expect(m_headonly, "BODY[HEADER.FIELDS.NOT (Subject)]",
           "From: a@example.org\r\n\r\n");
}
END_TEST

static const char m_lf[] = "From: a@example.org\n"
                           "To: b@example.org\n"
                           "Content-Type: multipart/mixed; boundary=lf\n"
                           "\n"
                           "--lf\n"
                           "Content-Type: text/plain\n"
                           "\n"
                           "lf one\n"
                           "--lf\n"
                           "\n"
                           "lf two\n"
                           "--lf--\n";

START_TEST(t_bare_lf)
{
    const char *m = m_lf;

    expect(m, "BODY[1]", "lf one");
    expect(m, "BODY[2]", "lf two");
    expect(m, "BODY[1.MIME]", "Content-Type: text/plain\n\n");
    expect(m, "BODY[2.MIME]", "\n");
    expect(m, "BODY[3]", NULL);
    expect(m, "BODY[HEADER]",
           "From: a@example.org\n"
           "To: b@example.org\n"
           "Content-Type: multipart/mixed; boundary=lf\n"
           "\n");
    /* lines are copied as they are; the blank line is ours */
    expect(m, "BODY[HEADER.FIELDS (To)]", "To: b@example.org\n\r\n");
    expect(m, "BODY[HEADER.FIELDS.NOT (Content-Type)]",
           "From: a@example.org\nTo: b@example.org\n\r\n");
    expect(m, "BODY[TEXT]",
           "--lf\n"
           "Content-Type: text/plain\n"
           "\n"
           "lf one\n"
           "--lf\n"
           "\n"
           "lf two\n"
           "--lf--\n");
}
END_TEST

/* multipart/digest: parts default to message/rfc822 */
static const char m_digest[] = "Content-Type: multipart/digest; boundary=d\r\n"
                               "\r\n"
                               "--d\r\n"
                               "\r\n"
                               "Subject: d1\r\n"
                               "\r\n"
                               "digest one\r\n"
                               "--d\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "not a message\r\n"
                               "--d--\r\n";

START_TEST(t_digest)
{
    const char *m = m_digest;

    expect(m, "BODY[1]", "Subject: d1\r\n\r\ndigest one");
    expect(m, "BODY[1.MIME]", "\r\n");
    expect(m, "BODY[1.HEADER]", "Subject: d1\r\n\r\n");
    expect(m, "BODY[1.TEXT]", "digest one");
    expect(m, "BODY[1.1]", "digest one");
    expect(m, "BODY[2]", "not a message");
    expect(m, "BODY[2.HEADER]", NULL);
}
END_TEST

/* an encoded message/rfc822 is not parsed into: no HEADER for it; a
 * multipart without a boundary is a leaf */
static const char m_opaque[] = "Content-Type: multipart/mixed; boundary=op\r\n"
                               "\r\n"
                               "--op\r\n"
                               "Content-Type: message/rfc822\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "\r\n"
                               "U3ViamVjdDogeA0KDQp5DQo=\r\n"
                               "--op\r\n"
                               "Content-Type: multipart/related\r\n"
                               "\r\n"
                               "--nothing\r\n"
                               "--op--\r\n";

START_TEST(t_opaque_parts)
{
    const char *m = m_opaque;

    expect(m, "BODY[1]", "U3ViamVjdDogeA0KDQp5DQo=");
    expect(m, "BODY[1.HEADER]", NULL);
    expect(m, "BODY[1.TEXT]", NULL);
    expect(m, "BODY[1.1]", NULL);
    expect(m, "BODY[2]", "--nothing");
    expect(m, "BODY[2.1]", NULL);
    expect(m, "BODY[2.MIME]", "Content-Type: multipart/related\r\n\r\n");
}
END_TEST

/* part number 0 cannot be sent; the tree walk must still refuse it */
START_TEST(t_part_zero)
{
    const struct mime_part *root = parse_msg(m_mixed);
    uint32_t parts[2] = {0, 1};
    struct fetch_section sec = {parts, 1, SEC_ALL, NULL, 0};
    struct section_loc loc;

    section_locate(root, &sec, &loc);
    ck_assert_int_eq(loc.kind, SECTION_NIL);
    parts[0] = 1;
    parts[1] = 0;
    sec.part_count = 2;
    section_locate(parse_msg(m_fwd_plain), &sec, &loc);
    ck_assert_int_eq(loc.kind, SECTION_NIL);
    parts[0] = 4000000000u;
    sec.part_count = 1;
    section_locate(root, &sec, &loc);
    ck_assert_int_eq(loc.kind, SECTION_NIL);
    /* MIME without a part number: nothing to point at */
    sec.part_count = 0;
    sec.spec = SEC_MIME;
    section_locate(root, &sec, &loc);
    ck_assert_int_eq(loc.kind, SECTION_NIL);
    section_locate(NULL, &sec, &loc);
    ck_assert_int_eq(loc.kind, SECTION_NIL);
}
END_TEST

/* ---- header filtering on its own ---------------------------------- */

static const char *filter(const char *hdr, const char *names, bool not )
{
    static char out[1024];
    struct imap_str f[8];
    char buf[256], *save = NULL;
    size_t n = 0, len = strlen(hdr), w;

    ck_assert_uint_lt(len + 4, sizeof(out));
    snprintf(buf, sizeof(buf), "%s", names);
    for (char *t = strtok_r(buf, " ", &save); t != NULL && n < 8;
         t = strtok_r(NULL, " ", &save)) {
        f[n].s = arena_strndup(&arena, t, strlen(t));
        f[n].len = strlen(t);
        n++;
    }
    memset(out, '#', sizeof(out));
    w = section_filter_header(hdr, len, f, n, not, out);
    ck_assert_uint_le(w, len + 4);
    ck_assert_msg(out[w] == '#', "wrote past the count");
    out[w] = '\0';
    return out;
}

START_TEST(t_filter)
{
    /* with or without the header's own blank line: one blank line */
    ck_assert_str_eq(filter("A: 1\r\nB: 2\r\n\r\n", "b", false),
                     "B: 2\r\n\r\n");
    ck_assert_str_eq(filter("A: 1\r\nB: 2\r\n", "b", false), "B: 2\r\n\r\n");
    ck_assert_str_eq(filter("A: 1\r\nB: 2\r\n\r\n", "b", true), "A: 1\r\n\r\n");
    /* nothing after the blank line is a field */
    ck_assert_str_eq(filter("A: 1\r\n\r\nB: 2\r\n", "A B", false),
                     "A: 1\r\n\r\n");
    ck_assert_str_eq(filter("A: 1\n\nB: 2\n", "A B", false), "A: 1\n\r\n");
    /* exact names, any case, in message order */
    ck_assert_str_eq(filter("To-Extra: x\r\nTo: y\r\nTO: z\r\n", "to", false),
                     "To: y\r\nTO: z\r\n\r\n");
    ck_assert_str_eq(
        filter("To-Extra: x\r\nTo: y\r\nCc: z\r\n", "cc TO", false),
        "To: y\r\nCc: z\r\n\r\n");
    ck_assert_str_eq(filter("To-Extra: x\r\nTo: y\r\n", "To-Ex", false),
                     "\r\n");
    /* obsolete space before the colon */
    ck_assert_str_eq(filter("Subject : s\r\nX: 1\r\n", "subject", false),
                     "Subject : s\r\n\r\n");
    /* continuation lines follow their field, kept or dropped */
    ck_assert_str_eq(filter("A: 1\r\n 2\r\n\t3\r\nB: 4\r\n 5\r\n", "A", true),
                     "B: 4\r\n 5\r\n\r\n");
    /* lines that are no field match no name */
    ck_assert_str_eq(filter(" lead\r\nnocolon\r\nA: 1\r\n", "A", false),
                     "A: 1\r\n\r\n");
    ck_assert_str_eq(filter(" lead\r\nnocolon\r\nA: 1\r\n", "A", true),
                     " lead\r\nnocolon\r\n\r\n");
    /* empty header, a lone blank line, a cut last line */
    ck_assert_str_eq(filter("", "A", false), "\r\n");
    ck_assert_str_eq(filter("", "A", true), "\r\n");
    ck_assert_str_eq(filter("\r\n", "A", true), "\r\n");
    ck_assert_str_eq(filter("A: 1", "A", false), "A: 1\r\n\r\n");
    ck_assert_str_eq(filter("A: 1\r", "A", false), "A: 1\r\n\r\n");
    ck_assert_str_eq(filter("B: 1\r\nA: 1\r\n\r", "A", false), "A: 1\r\n\r\n");
    ck_assert_str_eq(filter("A: 1\r\n 2", "B", true), "A: 1\r\n 2\r\n\r\n");
}
END_TEST

/* ---- partial ------------------------------------------------------ */

START_TEST(t_partial)
{
    uint64_t s, l;

    section_partial(100, 0, 10, &s, &l);
    ck_assert_uint_eq(s, 0);
    ck_assert_uint_eq(l, 10);
    section_partial(100, 95, 10, &s, &l);
    ck_assert_uint_eq(s, 95);
    ck_assert_uint_eq(l, 5);
    section_partial(100, 99, 1, &s, &l);
    ck_assert_uint_eq(s, 99);
    ck_assert_uint_eq(l, 1);
    section_partial(100, 100, 10, &s, &l);
    ck_assert_uint_eq(l, 0);
    ck_assert_uint_le(s, 100);
    section_partial(100, 5000, 10, &s, &l);
    ck_assert_uint_eq(l, 0);
    ck_assert_uint_le(s, 100);
    section_partial(100, 10, 0, &s, &l);
    ck_assert_uint_eq(s, 10);
    ck_assert_uint_eq(l, 0);
    section_partial(0, 0, 5, &s, &l);
    ck_assert_uint_eq(s, 0);
    ck_assert_uint_eq(l, 0);
    section_partial(100, 1, UINT64_MAX, &s, &l);
    ck_assert_uint_eq(s, 1);
    ck_assert_uint_eq(l, 99);
    section_partial(UINT64_MAX, UINT64_MAX - 1, UINT64_MAX, &s, &l);
    ck_assert_uint_eq(s, UINT64_MAX - 1);
    ck_assert_uint_eq(l, 1);
}
END_TEST

/* ---- names -------------------------------------------------------- */

static void expect_name(const char *item, const char *want)
{
    const struct fetch_att *fa = parse_att(item);
    struct wbuf w;
    const char *got;
    size_t n;

    wbuf_init(&w);
    section_write_name(&w, fa);
    ck_assert(!w.oom);
    got = wbuf_pending(&w, &n);
    ck_assert_msg(n == strlen(want) && memcmp(got, want, n) == 0,
                  "%s: expected %s, got %.*s", item, want, (int)n,
                  got ? got : "");
    wbuf_free(&w);
}

START_TEST(t_names)
{
    expect_name("BODY[]", "BODY[]");
    expect_name("BODY.PEEK[]", "BODY[]");
    expect_name("body.peek[1.2]", "BODY[1.2]");
    expect_name("BODY[header]", "BODY[HEADER]");
    expect_name("BODY[TEXT]<10.5>", "BODY[TEXT]<10>");
    expect_name("BODY[1.MIME]", "BODY[1.MIME]");
    expect_name("BODY[2.1.text]", "BODY[2.1.TEXT]");
    expect_name("BODY[HEADER.FIELDS (From To)]<0.100>",
                "BODY[HEADER.FIELDS (From To)]<0>");
    expect_name("BODY.PEEK[1.2.HEADER.FIELDS (From To)]<10.20>",
                "BODY[1.2.HEADER.FIELDS (From To)]<10>");
    expect_name("BODY[HEADER.FIELDS.NOT (\"X Y\" Subject)]",
                "BODY[HEADER.FIELDS.NOT (\"X Y\" Subject)]");
    expect_name("BINARY[1]", "BINARY[1]");
    expect_name("BINARY.PEEK[1.2]<0.4>", "BINARY[1.2]<0>");
    expect_name("BINARY[]", "BINARY[]");
    expect_name("BINARY.SIZE[1]", "BINARY.SIZE[1]");
    expect_name("RFC822", "RFC822");
    expect_name("RFC822.HEADER", "RFC822.HEADER");
    expect_name("rfc822.text", "RFC822.TEXT");
    expect_name("RFC822.SIZE", "RFC822.SIZE");
    expect_name("UID", "UID");
}
END_TEST

START_TEST(t_binary_ok)
{
    ck_assert(section_binary_ok(NULL));
    ck_assert(section_binary_ok("7BIT"));
    ck_assert(section_binary_ok("8bit"));
    ck_assert(section_binary_ok("Binary"));
    ck_assert(section_binary_ok("BASE64"));
    ck_assert(section_binary_ok("quoted-printable"));
    ck_assert(!section_binary_ok("X-UUENCODE"));
    ck_assert(!section_binary_ok("BASE6"));
    ck_assert(!section_binary_ok("BASE644"));
    ck_assert(!section_binary_ok(""));
}
END_TEST

static Suite *section_suite(void)
{
    Suite *s = suite_create("section");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, t_plain);
    tcase_add_test(tc, t_mixed);
    tcase_add_test(tc, t_alternative);
    tcase_add_test(tc, t_rfc822_multipart);
    tcase_add_test(tc, t_rfc822_plain);
    tcase_add_test(tc, t_rfc822_top);
    tcase_add_test(tc, t_missing_final_boundary);
    tcase_add_test(tc, t_cut_headers);
    tcase_add_test(tc, t_preamble_epilogue);
    tcase_add_test(tc, t_continuation);
    tcase_add_test(tc, t_no_body);
    tcase_add_test(tc, t_bare_lf);
    tcase_add_test(tc, t_digest);
    tcase_add_test(tc, t_opaque_parts);
    tcase_add_test(tc, t_part_zero);
    tcase_add_test(tc, t_filter);
    tcase_add_test(tc, t_partial);
    tcase_add_test(tc, t_names);
    tcase_add_test(tc, t_binary_ok);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(section_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
