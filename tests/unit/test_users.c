/* Unit tests of the example daemon's users file and password checks. */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imapsrvd/users.h"

/* "secret", hashed by `openssl passwd -6 -salt Zq3xW9pL secret`. */
#define SHA512_SECRET                                                          \
    "$6$Zq3xW9pL$/YDNiodLrxX5Xc9997km9kStHvP.nnht4ol0Latw.TQXHkIp9aekViX8kQj"  \
    "PVDsBIf/eZYjxVWk7wNbdOiaxh."

struct errs {
    char out[4096];
    size_t n;
};

static void on_error(void *ctx, const char *file, unsigned line,
                     const char *msg)
{
    struct errs *e = ctx;

    snprintf(e->out + strlen(e->out), sizeof e->out - strlen(e->out),
             "%s:%u: %s\n", file, line, msg);
    e->n++;
}

static users *U;
static struct errs E;

static size_t load(const char *text)
{
    users_free(&U);
    U = users_new();
    ck_assert_ptr_nonnull(U);
    memset(&E, 0, sizeof E);
    return users_parse(U, "users", text, strlen(text), on_error, &E);
}

static bool ok(const char *name, const char *pw)
{
    return users_verify(U, name, pw, strlen(pw));
}

static void teardown(void)
{
    users_free(&U);
    ck_assert_ptr_null(U);
}

/* A fresh hash of `pw` with the method of `prefix` ("$y$", "$2b$"...). */
static char *hash_of(const char *prefix, const char *pw)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    const char *h;

    memset(&cd, 0, sizeof cd);
    ck_assert_ptr_nonnull(
        crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof setting));
    h = crypt_r(pw, setting, &cd);
    ck_assert_ptr_nonnull(h);
    ck_assert(h[0] != '*');
    return strdup(h);
}

START_TEST(test_ct_equal)
{
    ck_assert(users_ct_equal("abc", 3, "abc", 3));
    ck_assert(users_ct_equal("", 0, "", 0));
    ck_assert(!users_ct_equal("abc", 3, "abd", 3));
    ck_assert(!users_ct_equal("abc", 3, "xbc", 3));
    ck_assert(!users_ct_equal("abc", 3, "abcd", 4)); /* a prefix */
    ck_assert(!users_ct_equal("abcd", 4, "abc", 3));
    ck_assert(!users_ct_equal("", 0, "a", 1));
    /* A shorter one padded with NULs is still different. */
    ck_assert(!users_ct_equal("ab\0", 3, "ab", 2));
}
END_TEST

START_TEST(test_plain)
{
    ck_assert_uint_eq(load("# users\n\n  # indented comment\n"
                           "alice:{PLAIN}wonderland\r\n"
                           "bob:{plain}spaces and # and : too \n"
                           "carol@example.com:{PLAIN}x\n"),
                      0);
    ck_assert_uint_eq(users_count(U), 3);
    ck_assert(ok("alice", "wonderland"));
    ck_assert(!ok("alice", "wonderlan"));
    ck_assert(!ok("alice", "wonderland "));
    ck_assert(!ok("alice", "Wonderland"));
    ck_assert(!ok("alice", ""));
    ck_assert(!ok("Alice", "wonderland")); /* names are case-sensitive */
    ck_assert(ok("bob", "spaces and # and : too "));
    ck_assert(ok("carol@example.com", "x"));
    ck_assert(!ok("dave", "x"));
    ck_assert(!users_verify(U, NULL, "x", 1));
    ck_assert(!users_verify(U, "alice", NULL, 0));
    /* The length given counts, not a NUL. */
    ck_assert(!users_verify(U, "alice", "wonderland\0x", 12));
    ck_assert(users_verify(U, "alice", "wonderlandXYZ", 10));
}
END_TEST

START_TEST(test_crypt_sha512)
{
    ck_assert_uint_eq(load("root:{CRYPT}" SHA512_SECRET "\n"), 0);
    ck_assert(ok("root", "secret"));
    ck_assert(!ok("root", "Secret"));
    ck_assert(!ok("root", "secret "));
    ck_assert(!ok("root", ""));
    ck_assert(!ok("root", SHA512_SECRET)); /* the hash is not a password */
    ck_assert(!users_verify(U, "root", "secret\0tail", 11));
}
END_TEST

START_TEST(test_crypt_yescrypt_and_bcrypt)
{
    char *y = hash_of("$y$", "pa55 word"), *b = hash_of("$2b$", "bcrypt!");
    char text[512];

    snprintf(text, sizeof text, "y:{CRYPT}%s\nb:{crypt}%s\n", y, b);
    ck_assert_uint_eq(load(text), 0);
    ck_assert(ok("y", "pa55 word"));
    ck_assert(!ok("y", "pa55word"));
    ck_assert(ok("b", "bcrypt!"));
    ck_assert(!ok("b", "bcrypt"));
    free(y);
    free(b);
}
END_TEST

START_TEST(test_errors)
{
    size_t n = load("nocolonhunter1\n"
                    "bad name:{PLAIN}hunter2\n"
                    ":{PLAIN}hunter3\n"
                    "eve:{SHA}hunter4\n"
                    "frank:{PLAIN}\n"
                    "gina:{CRYPT}$6$saltonly\n"
                    "hank:{CRYPT}hunter5\n"
                    "ok:{PLAIN}fine\n");

    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(
        E.out,
        "users:1: expected 'name:{PLAIN}password' or 'name:{CRYPT}hash'\n"
        "users:2: invalid user name (1-255 characters, no spaces or "
        "control characters)\n"
        "users:3: invalid user name (1-255 characters, no spaces or "
        "control characters)\n"
        "users:4: unknown password scheme (expected {PLAIN} or {CRYPT}) "
        "for user 'eve'\n"
        "users:5: empty password for user 'frank'\n"
        "users:6: malformed or unsupported {CRYPT} hash for user 'gina'\n"
        "users:7: malformed or unsupported {CRYPT} hash for user 'hank'\n");
    ck_assert_ptr_null(strstr(E.out, "hunter"));
    ck_assert_ptr_null(strstr(E.out, "saltonly"));
    ck_assert_uint_eq(users_count(U), 1); /* bad lines are skipped */
    ck_assert(ok("ok", "fine"));
    ck_assert(!ok("frank", ""));
}
END_TEST

START_TEST(test_duplicates_keep_first)
{
    ck_assert_uint_eq(load("a:{PLAIN}one\nb:{PLAIN}x\na:{PLAIN}two\n"
                           "a:{PLAIN}three\n"),
                      2);
    ck_assert_str_eq(E.out, "users:3: duplicate entry for user 'a'\n"
                            "users:4: duplicate entry for user 'a'\n");
    ck_assert_uint_eq(users_count(U), 2);
    ck_assert(ok("a", "one"));
    ck_assert(!ok("a", "two"));
}
END_TEST

START_TEST(test_nul_and_long_name)
{
    static const char text[] = "a:{PLAIN}x\0y\nb:{PLAIN}z\n";
    char longname[400];

    users_free(&U);
    U = users_new();
    memset(&E, 0, sizeof E);
    ck_assert_uint_eq(
        users_parse(U, "users", text, sizeof text - 1, on_error, &E), 1);
    ck_assert_ptr_nonnull(strstr(E.out, "users:1: NUL byte in line"));
    ck_assert(ok("b", "z"));
    memset(longname, 'n', 256);
    strcpy(longname + 256, ":{PLAIN}p\n");
    ck_assert_uint_eq(load(longname), 1);
    ck_assert_uint_eq(users_count(U), 0);
}
END_TEST

START_TEST(test_many_users_lookup)
{
    char *text = malloc(64 * 1000), name[32], pw[32];

    text[0] = '\0';
    for (int i = 999; i >= 0; i--)
        sprintf(text + strlen(text), "user%d:{PLAIN}pw%d\n", i, i);
    ck_assert_uint_eq(load(text), 0);
    ck_assert_uint_eq(users_count(U), 1000);
    for (int i = 0; i < 1000; i += 37) {
        sprintf(name, "user%d", i);
        sprintf(pw, "pw%d", i);
        ck_assert(ok(name, pw));
        sprintf(pw, "pw%d", i + 1);
        ck_assert(!ok(name, pw));
    }
    free(text);
}
END_TEST

START_TEST(test_load_file)
{
    char path[] = "/tmp/test_users_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("demo:{PLAIN}demo\nroot:{CRYPT}" SHA512_SECRET "\nbroken\n", f);
    fclose(f);
    users_free(&U);
    U = users_new();
    memset(&E, 0, sizeof E);
    ck_assert_uint_eq(users_load_file(U, path, on_error, &E), 1);
    ck_assert_ptr_nonnull(strstr(E.out, ":3: expected"));
    ck_assert_ptr_nonnull(strstr(E.out, path));
    unlink(path);
    ck_assert(ok("demo", "demo"));
    ck_assert(ok("root", "secret"));
    memset(&E, 0, sizeof E);
    ck_assert_uint_eq(users_load_file(U, "/nonexistent/users", on_error, &E),
                      1);
    ck_assert_str_eq(E.out, "/nonexistent/users:0: cannot read: "
                            "No such file or directory\n");
}
END_TEST

static Suite *users_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("users");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ct_equal);
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_crypt_sha512);
    tcase_add_test(tc, test_crypt_yescrypt_and_bcrypt);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_duplicates_keep_first);
    tcase_add_test(tc, test_nul_and_long_name);
    tcase_add_test(tc, test_many_users_lookup);
    tcase_add_test(tc, test_load_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(users_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
