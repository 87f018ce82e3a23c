/* Unit tests for mail/mime (streaming parser) and mail/envelope
 * (ENVELOPE, BODY, BODYSTRUCTURE).  Every message is parsed whole, one
 * byte at a time and in random small pieces; all must give the same tree
 * and the exact expected strings.  Sizes and line counts are computed
 * from the literal body text (the bytes between the header's blank line
 * and the CRLF that RFC 2046 gives to the next boundary). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/envelope.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xfmt(const char *fmt, ...)
{
    static char bufs[8][16384];
    static int which;
    char *b = bufs[which++ % 8];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

/* body lines: LFs, plus one for a last line without LF */
static size_t L(const char *s)
{
    size_t n = 0, len = strlen(s);

    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len > 0 && s[len - 1] != '\n');
}
#define Z(s) strlen(s)

static void dump_tree(struct wbuf *w, const struct mime_part *p)
{
    wbuf_printf(
        w, "[%llu %llu %llu %llu %llu", (unsigned long long)p->header_start,
        (unsigned long long)p->header_end, (unsigned long long)p->body_start,
        (unsigned long long)p->body_end, (unsigned long long)p->lines);
    for (const struct mime_part *c = p->children; c; c = c->next)
        dump_tree(w, c);
    wbuf_putc(w, ']');
}

/* offsets nest: children inside the parent's body, in order */
static void check_invariants(const struct mime_part *p)
{
    uint64_t prev = p->body_start;

    ck_assert_uint_le(p->header_start, p->header_end);
    ck_assert_uint_eq(p->header_end, p->body_start);
    ck_assert_uint_le(p->body_start, p->body_end);
    ck_assert_uint_le(p->lines, p->body_end - p->body_start);
    for (const struct mime_part *c = p->children; c; c = c->next) {
        ck_assert_ptr_eq(c->parent, p);
        ck_assert_uint_ge(c->header_start, prev);
        ck_assert_uint_le(c->body_end, p->body_end);
        prev = c->body_end;
        check_invariants(c);
    }
}

/* mode 0 whole, 1 byte by byte, 2.. random pieces of 1..17 bytes */
static struct mime_part *parse_mode(const char *msg, size_t len,
                                    const struct mime_limits *lim,
                                    struct arena *a, int mode)
{
    struct mime_parser p;
    struct mime_part *root;

    mime_parser_init(&p, lim, a);
    if (mode == 0) {
        mime_feed(&p, msg, len);
    } else {
        unsigned seed = (unsigned)mode * 2654435761u;
        size_t off = 0;
        while (off < len) {
            size_t n = 1;
            if (mode > 1) {
                seed = seed * 1103515245u + 12345u;
                n = 1 + (seed >> 16) % 17;
            }
            if (n > len - off)
                n = len - off;
            mime_feed(&p, msg + off, n);
            off += n;
        }
    }
    ck_assert_int_eq(mime_finish(&p, &root), 0);
    ck_assert_ptr_nonnull(root);
    return root;
}

static char *wstr(struct wbuf *w)
{
    size_t n;
    wbuf_putc(w, '\0');
    ck_assert(!w->oom);
    return strdup(wbuf_pending(w, &n));
}

static void check_lim(const char *msg, const struct mime_limits *lim,
                      const char *bs, const char *body, const char *env)
{
    size_t len = strlen(msg);
    char *ref_tree = NULL;

    for (int mode = 0; mode < 6; mode++) {
        struct arena a;
        struct wbuf w;
        struct mime_part *root;
        char *s;

        arena_init(&a, 4096, 0);
        root = parse_mode(msg, len, lim, &a, mode);
        ck_assert_uint_eq(root->header_start, 0);
        check_invariants(root);
        wbuf_init(&w);
        dump_tree(&w, root);
        s = wstr(&w);
        if (ref_tree == NULL)
            ref_tree = s;
        else {
            ck_assert_str_eq(s, ref_tree);
            free(s);
        }
        wbuf_free(&w);
        env_write_body(&w, root, true, &a, 0);
        s = wstr(&w);
        ck_assert_str_eq(s, bs);
        free(s);
        wbuf_free(&w);
        if (body != NULL) {
            env_write_body(&w, root, false, &a, 0);
            s = wstr(&w);
            ck_assert_str_eq(s, body);
            free(s);
            wbuf_free(&w);
        }
        if (env != NULL) {
            env_write_envelope(&w, root->header, root->header_len, &a, 0);
            s = wstr(&w);
            ck_assert_str_eq(s, env);
            free(s);
            wbuf_free(&w);
        }
        arena_free(&a);
    }
    free(ref_tree);
}

static void check(const char *msg, const char *bs, const char *env)
{
    check_lim(msg, NULL, bs, NULL, env);
}

#define HDR1                                                                   \
    "From: Alice <alice@example.com>\r\n"                                      \
    "To: bob@example.org\r\n"                                                  \
    "Subject: hi\r\n"                                                          \
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"                                 \
    "Message-ID: <1@x>\r\n"
#define ALICE "((\"Alice\" NIL \"alice\" \"example.com\"))"
#define ENV1                                                                   \
    "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"hi\" " ALICE " " ALICE " " ALICE    \
    " ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<1@x>\")"
#define PLAIN "\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\")"
#define EXT4 " NIL NIL NIL NIL"
#define MPEXT(b) " (\"BOUNDARY\" \"" b "\") NIL NIL NIL"

/* A one-header envelope: only a Subject */
static const char *env_subject_only(const char *subj)
{
    return xfmt("(NIL %s NIL NIL NIL NIL NIL NIL NIL NIL)", subj);
}

START_TEST(t_plain)
{
    const char *b = "Hello\r\nWorld\r\n";
    check(xfmt(HDR1 "\r\n%s", b),
          xfmt("(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")", Z(b), L(b)),
          ENV1);
    ck_assert_uint_eq(L(b), 2);
}
END_TEST

START_TEST(t_plain_body_form)
{
    const char *b = "x\r\n";
    check_lim(xfmt(HDR1 "\r\n%s", b), NULL,
              xfmt("(" PLAIN " NIL NIL \"7BIT\" 3 1" EXT4 ")"),
              "(" PLAIN " NIL NIL \"7BIT\" 3 1)", ENV1);
}
END_TEST

START_TEST(t_empty_body)
{
    check(HDR1 "\r\n", "(" PLAIN " NIL NIL \"7BIT\" 0 0" EXT4 ")", ENV1);
}
END_TEST

START_TEST(t_header_only)
{
    check("Subject: x\r\n", "(" PLAIN " NIL NIL \"7BIT\" 0 0" EXT4 ")",
          env_subject_only("\"x\""));
}
END_TEST

START_TEST(t_no_trailing_newline)
{
    const char *b = "line1\r\nlast";
    check(xfmt("Subject: s\r\n\r\n%s", b),
          xfmt("(" PLAIN " NIL NIL \"7BIT\" %zu 2" EXT4 ")", Z(b)),
          env_subject_only("\"s\""));
}
END_TEST

START_TEST(t_html_charset)
{
    const char *b = "<p>caf=C3=A9</p>\r\n";
    check(xfmt("Content-Type: text/html; charset=\"UTF-8\"\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s",
               b),
          xfmt("(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") NIL NIL "
               "\"QUOTED-PRINTABLE\" %zu 1" EXT4 ")",
               Z(b)),
          NULL);
}
END_TEST

START_TEST(t_ct_comments_case)
{
    check("Content-Type: TEXT/Plain (a comment) ; Charset = iso-8859-1 ;"
          " name=\"a \\\"q\\\" b\"\r\n\r\nx",
          "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-1\" \"NAME\" "
          "\"a \\\"q\\\" b\") NIL NIL \"7BIT\" 1 1" EXT4 ")",
          NULL);
}
END_TEST

START_TEST(t_bad_content_type)
{
    check("Content-Type: garbage\r\n\r\nab\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 4 1" EXT4 ")", NULL);
}
END_TEST

START_TEST(t_id_desc_md5)
{
    check("Content-Type: application/octet-stream\r\n"
          "Content-ID: <id1@h>\r\n"
          "Content-Description: the data\r\n"
          "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n",
          "(\"APPLICATION\" \"OCTET-STREAM\" NIL \"<id1@h>\" \"the data\" "
          "\"BASE64\" 6 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL NIL NIL)",
          NULL);
}
END_TEST

START_TEST(t_lang_loc)
{
    check("Content-Language: en, de\r\n"
          "Content-Location: http://example.com/a\r\n\r\nhi\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 4 1 NIL NIL (\"en\" \"de\") "
          "\"http://example.com/a\")",
          NULL);
    check("Content-Language: fr\r\n\r\nhi\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 4 1 NIL NIL \"fr\" NIL)", NULL);
}
END_TEST

START_TEST(t_alternative)
{
    const char *p1 = "plain text", *p2 = "<b>html</b>\r\n";
    const char *msg =
        xfmt(HDR1 "MIME-Version: 1.0\r\n"
                  "Content-Type: multipart/alternative; boundary=\"XX\"\r\n\r\n"
                  "preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
                  "--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n"
                  "--XX--\r\nepilogue\r\n",
             p1, p2);
    check_lim(msg, NULL,
              xfmt("((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" %zu %zu" EXT4
                   ")(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
                   "\"7BIT\" %zu %zu" EXT4 ") \"ALTERNATIVE\"" MPEXT("XX") ")",
                   Z(p1), L(p1), Z(p2), L(p2)),
              xfmt("((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" %zu %zu)"
                   "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
                   "\"7BIT\" %zu %zu) \"ALTERNATIVE\")",
                   Z(p1), L(p1), Z(p2), L(p2)),
              ENV1);
}
END_TEST

START_TEST(t_mixed_attachment)
{
    const char *p1 = "See attached.\r\n", *p2 = "SGVsbG8gd29ybGQ=\r\nAA==";
    const char *msg = xfmt(
        "Content-Type: multipart/mixed;\r\n boundary=\"=_b1\"\r\n\r\n"
        "--=_b1\r\n\r\n%s\r\n"
        "--=_b1\r\nContent-Type: application/pdf; name=\"a b.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"a b.pdf\"; size=12\r\n"
        "\r\n%s\r\n--=_b1--\r\n",
        p1, p2);
    check(msg,
          xfmt("((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
               "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a b.pdf\") NIL NIL "
               "\"BASE64\" %zu NIL (\"ATTACHMENT\" (\"FILENAME\" \"a b.pdf\""
               " \"SIZE\" \"12\")) NIL NIL) \"MIXED\"" MPEXT("=_b1") ")",
               Z(p1), L(p1), Z(p2)),
          NULL);
}
END_TEST

START_TEST(t_nested)
{
    const char *a = "A\r\n", *b = "B", *c = "C\r\nC2\r\n";
    const char *msg =
        xfmt("Content-Type: multipart/mixed; boundary=out\r\n\r\n"
             "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
             "--in\r\n\r\n%s\r\n--in\r\n\r\n%s\r\n--in--\r\n"
             "--out\r\n\r\n%s\r\n--out--\r\n",
             a, b, c);
    check(msg,
          xfmt("(((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
               "(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4
               ") \"ALTERNATIVE\"" MPEXT(
                   "in") ")(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
                         " \"MIXED\"" MPEXT("out") ")",
               Z(a), L(a), Z(b), L(b), Z(c), L(c)),
          NULL);
}
END_TEST

START_TEST(t_outer_closes_inner)
{
    /* the inner multipart never closes: the outer boundary ends it */
    const char *a = "A\r\n", *c = "C";
    const char *msg =
        xfmt("Content-Type: multipart/mixed; boundary=out\r\n\r\n"
             "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
             "--in\r\n\r\n%s\r\n--out\r\n\r\n%s\r\n--out--",
             a, c);
    check(msg,
          xfmt("(((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ") "
               "\"ALTERNATIVE\"" MPEXT("in") ")(" PLAIN " NIL NIL \"7BIT\" "
                                             "%zu %zu" EXT4
                                             ") \"MIXED\"" MPEXT("out") ")",
               Z(a), L(a), Z(c), L(c)),
          NULL);
}
END_TEST

START_TEST(t_rfc822)
{
    const char *i1 = "inner\r\n", *i2 = "two";
    char inner[1024];
    snprintf(inner, sizeof(inner),
             "From: \"Doe, John\" <john@x.org>\r\nSubject: fwd\r\n"
             "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
             "--q\r\n\r\n%s\r\n--q\r\n\r\n%s\r\n--q--\r\n",
             i1, i2);
    const char *msg =
        xfmt("Content-Type: multipart/mixed; boundary=o\r\n\r\n"
             "--o\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--o--\r\n",
             inner);
    const char *jd = "((\"Doe, John\" NIL \"john\" \"x.org\"))";
    check(msg,
          xfmt("((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" %zu "
               "(NIL \"fwd\" %s %s %s NIL NIL NIL NIL NIL) "
               "((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
               "(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ") \"MIXED\"" MPEXT(
                   "q") ") %zu" EXT4 ") \"MIXED\"" MPEXT("o") ")",
               Z(inner), jd, jd, jd, Z(i1), L(i1), Z(i2), L(i2), L(inner)),
          NULL);
}
END_TEST

START_TEST(t_rfc822_root_base64)
{
    /* an encoded message/rfc822 is opaque: no envelope/body inside */
    check("Content-Type: message/rfc822\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n",
          "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"BASE64\" 18" EXT4 ")", NULL);
}
END_TEST

START_TEST(t_rfc822_nested_twice)
{
    const char *in2 = "Subject: deep\r\n\r\nz\r\n";
    char in1[512];
    snprintf(in1, sizeof(in1),
             "Subject: mid\r\nContent-Type: message/rfc822\r\n\r\n%s", in2);
    check(xfmt("Subject: top\r\nContent-Type: message/rfc822\r\n\r\n%s", in1),
          xfmt("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" %zu %s "
               "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" %zu %s "
               "(" PLAIN " NIL NIL \"7BIT\" 3 1" EXT4 ") %zu" EXT4 ") %zu" EXT4
               ")",
               Z(in1), env_subject_only("\"mid\""), Z(in2),
               env_subject_only("\"deep\""), L(in2), L(in1)),
          env_subject_only("\"top\""));
}
END_TEST

START_TEST(t_signed)
{
    const char *p1 = "Content-Type: text/plain\r\n\r\nsigned text\r\n";
    const char *sig = "-----BEGIN PGP SIGNATURE-----\r\nabc\r\n"
                      "-----END PGP SIGNATURE-----\r\n";
    const char *msg = xfmt(
        "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n"
        "\tprotocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n"
        "--sig\r\n%s\r\n--sig\r\nContent-Type: application/pgp-signature;"
        " name=\"signature.asc\"\r\n\r\n%s\r\n--sig--\r\n",
        p1, sig);
    check(msg,
          xfmt("((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 13 1" EXT4 ")"
               "(\"APPLICATION\" \"PGP-SIGNATURE\" (\"NAME\" "
               "\"signature.asc\") NIL NIL \"7BIT\" %zu" EXT4 ") "
               "\"SIGNED\" (\"MICALG\" \"pgp-sha256\" \"PROTOCOL\" "
               "\"application/pgp-signature\" \"BOUNDARY\" \"sig\") NIL NIL"
               " NIL)",
               Z(sig)),
          NULL);
}
END_TEST

START_TEST(t_digest)
{
    const char *m1 = "Subject: one\r\n\r\nbody1\r\n";
    const char *msg =
        xfmt("Content-Type: multipart/digest; boundary=d\r\n\r\n"
             "--d\r\n\r\n%s\r\n--d\r\nContent-Type: text/plain\r\n\r\nnote\r\n"
             "--d--\r\n",
             m1);
    check(msg,
          xfmt("((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" %zu %s "
               "(" PLAIN " NIL NIL \"7BIT\" 7 1" EXT4 ") %zu" EXT4 ")"
               "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 4 1" EXT4 ") "
               "\"DIGEST\"" MPEXT("d") ")",
               Z(m1), env_subject_only("\"one\""), L(m1)),
          NULL);
}
END_TEST

START_TEST(t_missing_final_boundary)
{
    const char *a = "A\r\n", *b = "B\r\nmore\r\n";
    check(xfmt("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
               "--x\r\n\r\n%s\r\n--x\r\n\r\n%s",
               a, b),
          xfmt("((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
               "(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4
               ") \"MIXED\"" MPEXT("x") ")",
               Z(a), L(a), Z(b), L(b)),
          NULL);
}
END_TEST

START_TEST(t_boundary_trailing_ws)
{
    const char *a = "A", *b = "B";
    check(xfmt("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
               "--x  \t\r\n\r\n%s\r\n--x \r\n\r\n%s\r\n--x-- \r\n",
               a, b),
          xfmt("((" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4 ")"
               "(" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4
               ") \"MIXED\"" MPEXT("x") ")"),
          NULL);
}
END_TEST

START_TEST(t_not_a_boundary)
{
    /* "--xy" and "--x junk" are body text, not boundaries of "x" */
    const char *a = "--xy\r\n--x junk\r\nA";
    check(xfmt("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
               "--x\r\n\r\n%s\r\n--x--\r\n",
               a),
          xfmt("((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4
               ") \"MIXED\"" MPEXT("x") ")",
               Z(a), L(a)),
          NULL);
}
END_TEST

START_TEST(t_wrong_boundary)
{
    check("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
          "--y\r\n\r\nA\r\n--y--\r\n",
          "((" PLAIN " NIL NIL \"7BIT\" 0 0) \"MIXED\"" MPEXT("x") ")", NULL);
}
END_TEST

START_TEST(t_multipart_no_boundary_param)
{
    check("Content-Type: multipart/mixed\r\n\r\nA\r\n",
          "((" PLAIN " NIL NIL \"7BIT\" 0 0) \"MIXED\" NIL NIL NIL NIL)", NULL);
}
END_TEST

START_TEST(t_empty_parts)
{
    /* a part with no header lines, a part whose body is empty, and a
     * part whose header runs straight into the boundary */
    check("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
          "--x\r\n\r\nA\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
          "--x\r\nContent-Type: text/html\r\n--x--\r\n",
          "((" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4 ")"
          "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0" EXT4 ")"
          "(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 0 0" EXT4
          ") \"MIXED\"" MPEXT("x") ")",
          NULL);
}
END_TEST

START_TEST(t_bare_lf)
{
    const char *b = "one\ntwo\n";
    check(xfmt("Subject: lf\nFrom: a@b\n\n%s", b),
          xfmt("(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")", Z(b), L(b)),
          "(NIL \"lf\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
          "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)");
}
END_TEST

START_TEST(t_bare_lf_multipart)
{
    const char *a = "A\n\n", *b = "B";
    check(xfmt("Content-Type: multipart/mixed; boundary=x\n\n"
               "--x\n\n%s\n--x\nContent-Type: text/html\n\n%s\n--x--\n",
               a, b),
          xfmt("((" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4 ")"
               "(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" %zu %zu" EXT4 ") "
               "\"MIXED\"" MPEXT("x") ")",
               Z(a), L(a), Z(b), L(b)),
          NULL);
    ck_assert_uint_eq(L(a), 2);
}
END_TEST

START_TEST(t_offsets)
{
    const char *msg = "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
                      "--x\r\nA: b\r\n\r\nbody\r\n--x--\r\n";
    struct arena a;
    struct mime_part *root, *c;

    arena_init(&a, 1024, 0);
    ck_assert_int_eq(mime_parse(msg, strlen(msg), NULL, &a, &root), 0);
    ck_assert_uint_eq(root->header_end, strstr(msg, "--x") - msg);
    ck_assert_uint_eq(root->body_end, strlen(msg));
    c = root->children;
    ck_assert_uint_eq(c->header_start, strstr(msg, "A: b") - msg);
    ck_assert_uint_eq(c->body_start, strstr(msg, "body") - msg);
    ck_assert_uint_eq(c->body_end, strstr(msg, "body") - msg + 4);
    ck_assert_ptr_null(c->header);
    ck_assert_ptr_null(c->next);
    arena_free(&a);
}
END_TEST

START_TEST(t_folding)
{
    check(
        "Subject: a folded\r\n  subject\r\nFrom: A\r\n <a@b>\r\n"
        "Content-Type: text/plain;\r\n\tcharset=utf-8\r\n\r\nx",
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 1 1" EXT4
        ")",
        "(NIL \"a folded  subject\" ((\"A\" NIL \"a\" \"b\")) "
        "((\"A\" NIL \"a\" \"b\")) ((\"A\" NIL \"a\" \"b\")) "
        "NIL NIL NIL NIL NIL)");
}
END_TEST

START_TEST(t_8bit_header)
{
    check("Subject: caf\xc3\xa9\r\n\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 0 0" EXT4 ")",
          env_subject_only("{5}\r\ncaf\xc3\xa9"));
}
END_TEST

START_TEST(t_encoded_word)
{
    check("Subject: =?UTF-8?B?Y2Fmw6k=?= ok\r\n"
          "From: =?iso-8859-1?q?J=F6rg?= <j@x>\r\n\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 0 0" EXT4 ")",
          "(NIL \"=?UTF-8?B?Y2Fmw6k=?= ok\" "
          "((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x\")) "
          "((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x\")) "
          "((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x\")) "
          "NIL NIL NIL NIL NIL)");
}
END_TEST

START_TEST(t_missing_date_from)
{
    check("To: x@y\r\nMessage-ID: <m@id>\r\nIn-Reply-To: <p@id>\r\n\r\nb",
          "(" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4 ")",
          "(NIL NIL NIL NIL NIL ((NIL NIL \"x\" \"y\")) NIL NIL "
          "\"<p@id>\" \"<m@id>\")");
}
END_TEST

START_TEST(t_sender_replyto)
{
    check("From: a@b\r\nSender: s@b\r\nReply-To:\r\nCc: c@d, e@f\r\n"
          "Bcc: g@h\r\nSubject:\r\n\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 0 0" EXT4 ")",
          "(NIL \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"s\" \"b\")) "
          "((NIL NIL \"a\" \"b\")) NIL ((NIL NIL \"c\" \"d\")"
          "(NIL NIL \"e\" \"f\")) ((NIL NIL \"g\" \"h\")) NIL NIL)");
}
END_TEST

/* address list of a To: header rendered alone */
static void check_addr(const char *value, const char *exp)
{
    struct arena a;
    struct wbuf w;
    char *s;
    const char *hdr = xfmt("To: %s\r\n\r\n", value);

    arena_init(&a, 1024, 0);
    wbuf_init(&w);
    env_write_envelope(&w, hdr, strlen(hdr), &a, 0);
    s = wstr(&w);
    ck_assert_str_eq(s, xfmt("(NIL NIL NIL NIL NIL %s NIL NIL NIL NIL)", exp));
    free(s);
    wbuf_free(&w);
    arena_free(&a);
}

START_TEST(t_groups)
{
    check_addr("undisclosed-recipients:;",
               "((NIL NIL \"undisclosed-recipients\" NIL)"
               "(NIL NIL NIL NIL))");
    check_addr("Team: a@b, \"B\" <c@d>; e@f",
               "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")"
               "(\"B\" NIL \"c\" \"d\")(NIL NIL NIL NIL)"
               "(NIL NIL \"e\" \"f\"))");
    check_addr("My Group: a@b", /* unterminated */
               "((NIL NIL \"My Group\" NIL)(NIL NIL \"a\" \"b\")"
               "(NIL NIL NIL NIL))");
}
END_TEST

START_TEST(t_display_names)
{
    check_addr("\"Doe, John\" <jd@x.org>, \"A \\\"Q\\\" B\" <q@y>",
               "((\"Doe, John\" NIL \"jd\" \"x.org\")"
               "(\"A \\\"Q\\\" B\" NIL \"q\" \"y\"))");
    check_addr("John Q. Public <jqp@a.b.c>",
               "((\"John Q. Public\" NIL \"jqp\" \"a.b.c\"))");
    check_addr("a@b (Comment, here)", "((NIL NIL \"a\" \"b\"))");
    check_addr("<@r1,@r2:x@y>", "((NIL NIL \"x\" \"y\"))");
    check_addr("\"john doe\"@x.org", "((NIL NIL \"\\\"john doe\\\"\" "
                                     "\"x.org\"))");
    check_addr("a@[1.2.3.4]", "((NIL NIL \"a\" \"[1.2.3.4]\"))");
}
END_TEST

START_TEST(t_broken_addresses)
{
    check_addr("nobody", "((NIL NIL \"nobody\" \"\"))");
    check_addr("<>", "((NIL NIL \"\" \"\"))");
    check_addr("a@b,,,c@d", "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))");
    check_addr("Name <a@b", "((\"Name\" NIL \"a\" \"b\"))");
    /* an unterminated quote swallows the rest, kept raw */
    check_addr("\"unterminated <a@b>",
               "((NIL NIL \"\\\"unterminated <a@b>\" \"\"))");
    check_addr(";;;", "NIL");
    check_addr("", "NIL");
}
END_TEST

START_TEST(t_depth_limit)
{
    struct mime_limits lim;
    const char *a = "A\r\n";

    mime_limits_init(&lim);
    lim.max_depth = 2;
    /* depth 1 = root multipart, 2 = its child multipart: that one's
     * children would be depth 3, so it stays opaque */
    check_lim(xfmt("Content-Type: multipart/mixed; boundary=a\r\n\r\n"
                   "--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                   "--b\r\n\r\nx\r\n--b--\r\n--a\r\n\r\n%s\r\n--a--\r\n",
                   a),
              &lim,
              xfmt("(((" PLAIN " NIL NIL \"7BIT\" 0 0) \"MIXED\"" MPEXT(
                       "b") ")(" PLAIN " NIL NIL \"7BIT\" %zu %zu" EXT4
                            ") \"MIXED\"" MPEXT("a") ")",
                   Z(a), L(a)),
              NULL, NULL);
}
END_TEST

START_TEST(t_deep_default_limit)
{
    /* 30 nested multiparts, default depth 20: valid output, no crash */
    char msg[8192];
    size_t o = 0;

    for (int i = 0; i < 30; i++)
        o += (size_t)snprintf(msg + o, sizeof(msg) - o,
                              "Content-Type: multipart/mixed; boundary=b%d"
                              "\r\n\r\n--b%d\r\n",
                              i, i);
    o += (size_t)snprintf(msg + o, sizeof(msg) - o, "\r\nleaf\r\n");
    struct arena a;
    struct mime_part *root, *p;
    unsigned d = 0;
    arena_init(&a, 4096, 0);
    ck_assert_int_eq(mime_parse(msg, o, NULL, &a, &root), 0);
    for (p = root; p->children != NULL; p = p->children)
        d++;
    ck_assert_uint_eq(d, 19);
    ck_assert(!p->multipart);
    ck_assert_str_eq(p->type, "MULTIPART");
    ck_assert_uint_eq(p->body_end, o);
    struct wbuf w;
    wbuf_init(&w);
    env_write_body(&w, root, true, &a, 0);
    ck_assert(!w.oom);
    wbuf_free(&w);
    arena_free(&a);
}
END_TEST

START_TEST(t_parts_limit)
{
    struct mime_limits lim;
    const char *rest = "C\r\n--x\r\n\r\nD\r\n--x--\r\n";

    mime_limits_init(&lim);
    lim.max_parts = 3; /* root + 2 children */
    check_lim(xfmt("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
                   "--x\r\n\r\nA\r\n--x\r\n\r\nB\r\n--x\r\n\r\n%s",
                   rest),
              &lim,
              "((" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4 ")(" PLAIN
              " NIL NIL \"7BIT\" 1 1" EXT4 ") \"MIXED\"" MPEXT("x") ")",
              NULL, NULL);
}
END_TEST

START_TEST(t_header_limit)
{
    struct mime_limits lim;
    char msg[4096];
    size_t o;

    mime_limits_init(&lim);
    lim.max_header = 40;
    o = (size_t)snprintf(msg, sizeof(msg), "Subject: short\r\nX-Long: ");
    memset(msg + o, 'x', 300);
    o += 300;
    snprintf(msg + o, sizeof(msg) - o,
             "\r\nContent-Type: text/html\r\n\r\nbody\r\n");
    /* Content-Type fell beyond the kept bytes: default applies, but the
     * body offsets stay exact */
    check_lim(msg, &lim, "(" PLAIN " NIL NIL \"7BIT\" 6 1" EXT4 ")", NULL,
              env_subject_only("\"short\""));
}
END_TEST

START_TEST(t_long_lines)
{
    /* body lines far longer than the kept line prefix */
    static char body[5000], msg[6000];
    memset(body, 'y', sizeof(body) - 3);
    memcpy(body + sizeof(body) - 3, "\r\n", 3);
    snprintf(msg, sizeof(msg),
             "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
             "--x\r\n\r\n%s\r\n--x--\r\n",
             body);
    check(msg,
          xfmt("((" PLAIN " NIL NIL \"7BIT\" %zu 1" EXT4
               ") \"MIXED\"" MPEXT("x") ")",
               Z(body)),
          NULL);
}
END_TEST

START_TEST(t_header_get)
{
    const char *h = "A: 1\r\nb :  two \r\n  more\r\nbroken line\r\n"
                    "C:x\r\n\r\nD: body\r\n";
    struct arena a;

    arena_init(&a, 256, 0);
    ck_assert_str_eq(mime_header_get(h, strlen(h), "a", &a), "1");
    ck_assert_str_eq(mime_header_get(h, strlen(h), "B", &a), "two   more");
    ck_assert_str_eq(mime_header_get(h, strlen(h), "c", &a), "x");
    ck_assert_ptr_null(mime_header_get(h, strlen(h), "D", &a));
    arena_free(&a);
}
END_TEST

START_TEST(t_inline_disposition)
{
    check("Content-Disposition: INLINE\r\n\r\nq\r\n",
          "(" PLAIN " NIL NIL \"7BIT\" 3 1 NIL (\"INLINE\" NIL) NIL NIL)",
          NULL);
}
END_TEST

START_TEST(t_multipart_ext)
{
    check("Content-Type: multipart/related; boundary=r; type=\"text/html\""
          "\r\nContent-Disposition: inline\r\nContent-Language: en\r\n"
          "Content-Location: loc\r\n\r\n--r\r\n\r\nA\r\n--r--\r\n",
          "((" PLAIN " NIL NIL \"7BIT\" 1 1" EXT4 ") \"RELATED\" "
          "(\"BOUNDARY\" \"r\" \"TYPE\" \"text/html\") (\"INLINE\" NIL) "
          "\"en\" \"loc\")",
          NULL);
}
END_TEST

/* Random messages built from boundary-ish lines, headers and line ends:
 * every chunking must give the same tree, and the writers must cope. */
START_TEST(t_random_chunking)
{
    static const char *const pieces[] = {
        "--a",
        "--a--",
        "--b",
        "--b--",
        "--a  ",
        "--",
        "",
        "Content-Type: multipart/mixed; boundary=a",
        "Content-Type: multipart/digest; boundary=b",
        "Content-Type: message/rfc822",
        "Content-Type: text/plain",
        "Subject: x",
        " folded",
        "From: \"q, r\" <a@b>, g: c@d;",
        "body text",
        "\xff\xfe 8bit",
    };
    static const char *const eols[] = {"\r\n", "\n", "\r\n", ""};
    unsigned seed = 12345;
    char msg[2048];

    for (int iter = 0; iter < 300; iter++) {
        size_t o = 0;
        int nlines = 1 + iter % 40;
        for (int i = 0; i < nlines && o < sizeof(msg) - 128; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *pc = pieces[(seed >> 8) % 16];
            const char *eol = eols[(seed >> 20) % (i + 1 < nlines ? 3 : 4)];
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", pc, eol);
        }
        msg[o] = '\0';
        char *ref = NULL;
        for (int mode = 0; mode < 4; mode++) {
            struct arena a;
            struct wbuf w;
            struct mime_part *root;
            arena_init(&a, 4096, 0);
            root = parse_mode(msg, o, NULL, &a, mode);
            check_invariants(root);
            wbuf_init(&w);
            dump_tree(&w, root);
            env_write_body(&w, root, true, &a, 0);
            env_write_envelope(&w, root->header, root->header_len, &a, 0);
            char *s = wstr(&w);
            if (ref == NULL)
                ref = s;
            else {
                ck_assert_str_eq(s, ref);
                free(s);
            }
            ck_assert_uint_eq(root->body_end, o);
            wbuf_free(&w);
            arena_free(&a);
        }
        free(ref);
    }
}
END_TEST

static void check_2047(const char *in, const char *exp)
{
    struct arena a;
    size_t n;

    arena_init(&a, 256, 0);
    char *s = rfc2047_decode(in, strlen(in), &a, &n);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, exp);
    ck_assert_uint_eq(n, strlen(exp));
    arena_free(&a);
}

START_TEST(t_rfc2047)
{
    check_2047("=?UTF-8?B?Y2Fmw6k=?= ok", "caf\xc3\xa9 ok");
    check_2047("=?ISO-8859-1?Q?J=F6rg_M?=", "J\xc3\xb6rg M");
    /* 0x93 is U+201C in Windows-1252 */
    check_2047("=?windows-1252?q?=80=93?=", "\xe2\x82\xac\xe2\x80\x9c");
    check_2047("=?utf-8?q?a?= \t =?utf-8?q?b?=", "ab");
    check_2047("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c");
    check_2047("x =?us-ascii?q?y?=", "x y");
    check_2047("=?koi8-r?q?x?= =?utf-8?q?y?=", "=?koi8-r?q?x?= y");
    check_2047("=?utf-8?q?=G1?=", "=?utf-8?q?=G1?=");
    check_2047("=?utf-8?q?=4?=", "=?utf-8?q?=4?=");
    check_2047("=?utf-8?b?YWI?=", "ab");
    check_2047("=?utf-8?b?Y*I=?=", "=?utf-8?b?Y*I=?=");
    check_2047("=?utf-8*en?q?hi?=", "hi");
    check_2047("=?utf-8?x?hi?=", "=?utf-8?x?hi?=");
    check_2047("a =? b ?= =?", "a =? b ?= =?");
    check_2047("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
    check_2047("", "");
    check_2047("\xe9t\xe9", "\xe9t\xe9");
}
END_TEST

/* decode whole and byte by byte: same bytes */
static void check_dec(const char *enc, const char *in, const char *exp,
                      size_t exp_len)
{
    size_t n = strlen(in);
    char *out = malloc(n + MIME_DEC_SLACK + 1);
    char *acc = malloc(n + MIME_DEC_SLACK + 1);
    struct mime_decoder d;
    size_t k, a = 0;

    mime_decoder_init(&d, enc);
    k = mime_decode(&d, in, n, out);
    k += mime_decode_finish(&d, out + k);
    ck_assert_uint_eq(k, exp_len);
    ck_assert_mem_eq(out, exp, k);
    free(out);
    /* byte by byte, collecting the output */
    mime_decoder_init(&d, enc);
    a = 0;
    out = malloc(MIME_DEC_SLACK + 1);
    for (size_t i = 0; i < n; i++) {
        size_t m = mime_decode(&d, in + i, 1, out);
        memcpy(acc + a, out, m);
        a += m;
    }
    a += mime_decode_finish(&d, acc + a);
    ck_assert_uint_eq(a, exp_len);
    ck_assert_mem_eq(acc, exp, a);
    free(out);
    free(acc);
}
#define DEC(enc, in, exp) check_dec(enc, in, exp, sizeof(exp) - 1)

START_TEST(t_decoders)
{
    DEC("base64", "SGVs\r\nbG8g\r\nd29y bGQ=\r\n", "Hello world");
    DEC("BASE64", "AP8=", "\x00\xff");
    DEC("base64", "YW=Jj", "abc"); /* stray '=' skipped */
    DEC("quoted-printable", "caf=C3=A9 =\r\nsoft  \r\nx=3d\n",
        "caf\xc3\xa9 soft\r\nx=\n");
    DEC("quoted-printable", "a=\nb \t\nc", "ab\nc");
    DEC("quoted-printable", "bad =Zq and =4", "bad =Zq and =4");
    DEC("quoted-printable", "tail   ", "tail");
    DEC("7bit", "as is =41\r\n", "as is =41\r\n");
    DEC(NULL, "", "");
}
END_TEST

START_TEST(t_rfc2231)
{
    check("Content-Type: application/x-y; name*1=\"b.txt\";\r\n"
          " name*0=\"long a\"; other=1\r\n"
          "Content-Disposition: attachment;\r\n"
          " filename*0*=utf-8''%E2%82%AC; filename*1=\".txt\"; x*1=lone\r\n"
          "\r\nq",
          "(\"APPLICATION\" \"X-Y\" (\"NAME\" \"long ab.txt\" \"OTHER\" \"1\")"
          " NIL NIL \"7BIT\" 1 NIL (\"ATTACHMENT\" (\"FILENAME*\" "
          "\"utf-8''%E2%82%AC.txt\" \"X*1\" \"lone\")) NIL NIL)",
          NULL);
}
END_TEST

/* an arena that runs out at every possible point: an error, never a
 * crash or a half tree */
START_TEST(t_oom)
{
    char msg[4096];
    size_t o = (size_t)snprintf(msg, sizeof(msg),
                                "From: a@b\r\nContent-Type: multipart/mixed;"
                                " boundary=x\r\n\r\n");
    for (int i = 0; i < 20; i++)
        o += (size_t)snprintf(msg + o, sizeof(msg) - o,
                              "--x\r\nContent-Type: message/rfc822\r\n\r\n"
                              "Subject: %d\r\n\r\nb\r\n",
                              i);
    for (size_t lim = 64; lim < 16384; lim += 64) {
        struct arena a;
        struct mime_part *root;
        arena_init(&a, 64, lim);
        imapsrv_status st = mime_parse(msg, o, NULL, &a, &root);
        if (st == IMAPSRV_OK) {
            struct wbuf w;
            ck_assert_ptr_nonnull(root);
            check_invariants(root);
            /* the writers flag a failed allocation in the buffer */
            wbuf_init(&w);
            env_write_body(&w, root, true, &a, 0);
            env_write_envelope(&w, root->header, root->header_len, &a, 0);
            wbuf_free(&w);
        } else {
            ck_assert_int_eq(st, IMAPSRV_E_NOMEM);
            ck_assert_ptr_null(root);
        }
        arena_free(&a);
    }
    /* an envelope that cannot be built is not sent half-right */
    for (size_t lim = 0; lim < 2048; lim += 16) {
        struct arena a;
        struct wbuf w;
        const char *h = "From: \"A\" <a@b>, c@d\r\nSubject: s\r\n\r\n";
        arena_init(&a, 16, lim == 0 ? 1 : lim);
        wbuf_init(&w);
        env_write_envelope(&w, h, strlen(h), &a, 0);
        if (!w.oom) {
            char *e = wstr(&w);
            ck_assert_str_eq(e, "(NIL \"s\" ((\"A\" NIL \"a\" \"b\")"
                                "(NIL NIL \"c\" \"d\")) ((\"A\" NIL \"a\" "
                                "\"b\")(NIL NIL \"c\" \"d\")) ((\"A\" NIL "
                                "\"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL "
                                "NIL NIL NIL)");
            free(e);
        }
        ck_assert(lim > 0 || w.oom);
        wbuf_free(&w);
        arena_free(&a);
    }
}
END_TEST

static Suite *mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, t_plain);
    tcase_add_test(tc, t_plain_body_form);
    tcase_add_test(tc, t_empty_body);
    tcase_add_test(tc, t_header_only);
    tcase_add_test(tc, t_no_trailing_newline);
    tcase_add_test(tc, t_html_charset);
    tcase_add_test(tc, t_ct_comments_case);
    tcase_add_test(tc, t_bad_content_type);
    tcase_add_test(tc, t_id_desc_md5);
    tcase_add_test(tc, t_lang_loc);
    tcase_add_test(tc, t_alternative);
    tcase_add_test(tc, t_mixed_attachment);
    tcase_add_test(tc, t_nested);
    tcase_add_test(tc, t_outer_closes_inner);
    tcase_add_test(tc, t_rfc822);
    tcase_add_test(tc, t_rfc822_root_base64);
    tcase_add_test(tc, t_rfc822_nested_twice);
    tcase_add_test(tc, t_signed);
    tcase_add_test(tc, t_digest);
    tcase_add_test(tc, t_missing_final_boundary);
    tcase_add_test(tc, t_boundary_trailing_ws);
    tcase_add_test(tc, t_not_a_boundary);
    tcase_add_test(tc, t_wrong_boundary);
    tcase_add_test(tc, t_multipart_no_boundary_param);
    tcase_add_test(tc, t_empty_parts);
    tcase_add_test(tc, t_bare_lf);
    tcase_add_test(tc, t_bare_lf_multipart);
    tcase_add_test(tc, t_offsets);
    tcase_add_test(tc, t_folding);
    tcase_add_test(tc, t_8bit_header);
    tcase_add_test(tc, t_encoded_word);
    tcase_add_test(tc, t_missing_date_from);
    tcase_add_test(tc, t_sender_replyto);
    tcase_add_test(tc, t_groups);
    tcase_add_test(tc, t_display_names);
    tcase_add_test(tc, t_broken_addresses);
    tcase_add_test(tc, t_depth_limit);
    tcase_add_test(tc, t_deep_default_limit);
    tcase_add_test(tc, t_parts_limit);
    tcase_add_test(tc, t_header_limit);
    tcase_add_test(tc, t_long_lines);
    tcase_add_test(tc, t_header_get);
    tcase_add_test(tc, t_inline_disposition);
    tcase_add_test(tc, t_multipart_ext);
    tcase_add_test(tc, t_random_chunking);
    tcase_add_test(tc, t_rfc2047);
    tcase_add_test(tc, t_decoders);
    tcase_add_test(tc, t_rfc2231);
    tcase_add_test(tc, t_oom);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mime_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
