/* Unit tests of the example daemon's "key = value" file parser. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imapsrvd/conffile.h"

/* Everything the parser reported, one line each: "L: key=[value]" for an
 * entry, "L! message" for an error. */
struct seen {
    char out[4096];
    size_t entries, errors;
};

static void on_entry(void *ctx, const char *file, unsigned line,
                     const char *key, const char *value)
{
    struct seen *s = ctx;

    ck_assert_str_eq(file, "t.conf");
    snprintf(s->out + strlen(s->out), sizeof s->out - strlen(s->out),
             "%u: %s=[%s]\n", line, key, value);
    s->entries++;
}

static void on_error(void *ctx, const char *file, unsigned line,
                     const char *msg)
{
    struct seen *s = ctx;

    snprintf(s->out + strlen(s->out), sizeof s->out - strlen(s->out),
             "%u! %s\n", line, msg);
    s->errors++;
}

static struct seen S;
static const conffile_handler HANDLER = {on_entry, on_error, &S};

static const char *parse(const char *text)
{
    size_t n;

    memset(&S, 0, sizeof S);
    n = conffile_parse("t.conf", text, strlen(text), &HANDLER);
    ck_assert_uint_eq(n, S.errors);
    return S.out;
}

START_TEST(test_basic)
{
    ck_assert_str_eq(parse("a = 1\nb.c_d-e=two\n\tkey\t=\t x y \t\n"),
                     "1: a=[1]\n2: b.c_d-e=[two]\n3: key=[x y]\n");
}
END_TEST

START_TEST(test_blank_and_comments)
{
    ck_assert_str_eq(parse("\n   \n# comment = no\n  # indented\n"
                           "a = 1 # trailing\nb = 2\t# tab\n\n"),
                     "5: a=[1]\n6: b=[2]\n");
}
END_TEST

START_TEST(test_hash_inside_value)
{
    /* '#' is a comment only after whitespace. */
    ck_assert_str_eq(parse("url = imap://h/#frag\nk=#x\nk2 = #x\n"),
                     "1: url=[imap://h/#frag]\n2: k=[#x]\n3: k2=[]\n");
}
END_TEST

START_TEST(test_empty_value)
{
    ck_assert_str_eq(parse("a =\nb=   \nc = \"\"\n"),
                     "1: a=[]\n2: b=[]\n3: c=[]\n");
}
END_TEST

START_TEST(test_quoted)
{
    ck_assert_str_eq(parse("g = \"  IMAP ready # not a comment  \"\n"
                           "e = \"say \\\"hi\\\" \\\\ \\n\"   # comment\n"
                           "t = \"x\"#c\n"
                           "v = a \"b\" c\n"),
                     "1: g=[  IMAP ready # not a comment  ]\n"
                     "2: e=[say \"hi\" \\ \\n]\n"
                     "3: t=[x]\n"
                     "4: v=[a \"b\" c]\n");
}
END_TEST

START_TEST(test_quote_errors)
{
    ck_assert_str_eq(parse("a = \"open\nb = \"x\" y\nc = 3\n"),
                     "1! unterminated quoted value: 'a = \"open'\n"
                     "2! unexpected text after the closing quote: "
                     "'b = \"x\" y'\n"
                     "3: c=[3]\n");
}
END_TEST

START_TEST(test_syntax_errors_all_reported)
{
    ck_assert_str_eq(parse("no equals here\n= value\nbad key = 1\n"
                           "ok = yes\nkey!x = 2\n"),
                     "1! expected 'key = value': 'no equals here'\n"
                     "2! missing key before '=': '= value'\n"
                     "3! invalid key (letters, digits, '.', '_', '-'): "
                     "'bad key = 1'\n"
                     "4: ok=[yes]\n"
                     "5! invalid key (letters, digits, '.', '_', '-'): "
                     "'key!x = 2'\n");
    ck_assert_uint_eq(S.errors, 4);
    ck_assert_uint_eq(S.entries, 1);
}
END_TEST

START_TEST(test_crlf_bom_last_line)
{
    ck_assert_str_eq(parse("\xef\xbb\xbf"
                           "a = 1\r\nb = \"q\"\r\n\r\nc = 3"),
                     "1: a=[1]\n2: b=[q]\n4: c=[3]\n");
}
END_TEST

START_TEST(test_nul_byte)
{
    static const char text[] = "a = 1\nb = x\0y\nc = 3\n";

    memset(&S, 0, sizeof S);
    ck_assert_uint_eq(conffile_parse("t.conf", text, sizeof text - 1, &HANDLER),
                      1);
    ck_assert_str_eq(S.out, "1: a=[1]\n2! NUL byte in line: 'b = x'\n"
                            "3: c=[3]\n");
}
END_TEST

START_TEST(test_error_text_bounded_and_printable)
{
    char text[300];

    memset(text, 'x', sizeof text);
    memcpy(text, "\x01junk", 5);
    text[sizeof text - 2] = '\n';
    text[sizeof text - 1] = '\0';
    parse(text);
    ck_assert_uint_eq(S.errors, 1);
    ck_assert_ptr_null(strchr(S.out, '\x01'));
    ck_assert_ptr_nonnull(strstr(S.out, "'?junk"));
    ck_assert_ptr_nonnull(strstr(S.out, "...'"));
    ck_assert_uint_lt(strlen(S.out), 150);
}
END_TEST

START_TEST(test_secrets_not_quoted)
{
    parse("tls.key_password = \"hunter2\nsecret_thing hunter3\n"
          "x.Password = \"a\" hunter4\n");
    ck_assert_uint_eq(S.errors, 3);
    ck_assert_ptr_null(strstr(S.out, "hunter"));
    ck_assert_ptr_nonnull(strstr(S.out, "'tls.key_password =...'"));
    ck_assert_ptr_nonnull(strstr(S.out, "'secret_thing...'"));
}
END_TEST

START_TEST(test_split)
{
    char a[] = " imap.port = 1143 ", b[] = "greeting=\"hi there\"",
         c[] = "novalue", d[] = "k=";
    char *key, *value;

    ck_assert_ptr_null(conffile_split(a, &key, &value));
    ck_assert_str_eq(key, "imap.port");
    ck_assert_str_eq(value, "1143");
    ck_assert_ptr_null(conffile_split(b, &key, &value));
    ck_assert_str_eq(key, "greeting");
    ck_assert_str_eq(value, "hi there");
    ck_assert_str_eq(conffile_split(c, &key, &value), "expected 'key = value'");
    ck_assert_ptr_null(conffile_split(d, &key, &value));
    ck_assert_str_eq(value, "");
}
END_TEST

static void any_entry(void *ctx, const char *file, unsigned line,
                      const char *key, const char *value)
{
    struct seen *s = ctx;

    snprintf(s->out + strlen(s->out), sizeof s->out - strlen(s->out),
             "%s:%u: %s=[%s]\n", strncmp(file, "/tmp/", 5) ? file : "T", line,
             key, value);
    s->entries++;
}

START_TEST(test_file)
{
    char path[] = "/tmp/test_conffile_XXXXXX";
    int fd = mkstemp(path);
    struct seen s = {0};
    conffile_handler h = {any_entry, on_error, &s};
    FILE *f;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("# daemon\nthreads = 4\nimap.port = 1143\n", f);
    fclose(f);
    ck_assert_uint_eq(conffile_parse_file(path, &h), 0);
    unlink(path);
    ck_assert_str_eq(s.out, "T:2: threads=[4]\nT:3: imap.port=[1143]\n");
}
END_TEST

START_TEST(test_file_errors)
{
    struct seen s = {0};
    conffile_handler h = {any_entry, on_error, &s};

    ck_assert_uint_eq(conffile_parse_file("/nonexistent/x.conf", &h), 1);
    ck_assert_str_eq(s.out, "0! cannot open: No such file or directory\n");
    memset(&s, 0, sizeof s);
    ck_assert_uint_eq(conffile_parse_file("/", &h), 1); /* a directory */
    ck_assert_ptr_nonnull(strstr(s.out, "0! cannot read: "));
}
END_TEST

static Suite *conffile_suite(void)
{
    Suite *s = suite_create("conffile");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_blank_and_comments);
    tcase_add_test(tc, test_hash_inside_value);
    tcase_add_test(tc, test_empty_value);
    tcase_add_test(tc, test_quoted);
    tcase_add_test(tc, test_quote_errors);
    tcase_add_test(tc, test_syntax_errors_all_reported);
    tcase_add_test(tc, test_crlf_bom_last_line);
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_error_text_bounded_and_printable);
    tcase_add_test(tc, test_secrets_not_quoted);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_file);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conffile_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
