/* Unit tests for proto/mutf7: modified UTF-7 both ways and UTF-8
 * validation. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mutf7.h"

/* UTF-8 <-> modified UTF-7 pairs; the encodings were cross-checked with an
 * independent UTF-7 encoder ("/" -> ","). */
static const struct {
    const char *utf8, *mutf7;
} pairs[] = {
    {"", ""},
    {"INBOX", "INBOX"},
    /* RFC 3501 5.1.3 example */
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"&", "&-"},
    {"&&", "&-&-"},
    {"a&b", "a&-b"},
    {"-", "-"},
    {"&-", "&--"},
    {"Entw\xc3\xbc"
     "rfe",
     "Entw&APw-rfe"},
    {"\xc3\xa4\xc3\xb6", "&AOQA9g-"},
    {"\xc3\xa4&", "&AOQ-&-"},
    {"&\xc3\xa4", "&-&AOQ-"},
    {"\xc3\xa4&\xc3\xa4", "&AOQ-&-&AOQ-"},
    {"\xc3\xa4 \xc3\xa4", "&AOQ- &AOQ-"},
    {"\t", "&AAk-"},
    {"\x7f", "&AH8-"},
    {"\xc2\x80", "&AIA-"},
    {"\xef\xbf\xbf", "&,,8-"},
    /* supplementary planes: surrogate pairs */
    {"\xf0\x9f\x98\x80", "&2D3eAA-"},
    {"\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "&2D3eANg93gA-"},
    {"\xf4\x8f\xbf\xbf", "&2,,f,w-"},
    {"\xc3\xa9\xf0\x90\x80\x80", "&AOnYANwA-"},
    {"x\xf0\x9f\x98\x80y", "x&2D3eAA-y"},
    {" !\"#$%'()*+,./0123456789:;<=>?@[\\]^_`{|}~",
     " !\"#$%'()*+,./0123456789:;<=>?@[\\]^_`{|}~"},
};

START_TEST(test_pair_decode)
{
    const char *u = pairs[_i].utf8, *m = pairs[_i].mutf7;
    char out[256];
    size_t len = 999;

    ck_assert_msg(mutf7_to_utf8(m, strlen(m), out, sizeof(out), &len),
                  "refused %s", m);
    ck_assert_uint_eq(len, strlen(u));
    ck_assert_str_eq(out, u);
    /* exact room, then one byte short */
    ck_assert(mutf7_to_utf8(m, strlen(m), out, len + 1, NULL));
    ck_assert_str_eq(out, u);
    ck_assert(!mutf7_to_utf8(m, strlen(m), out, len, NULL));
}
END_TEST

START_TEST(test_pair_encode)
{
    const char *u = pairs[_i].utf8, *m = pairs[_i].mutf7;
    char out[256];
    size_t len = 999;

    ck_assert(mutf7_from_utf8(u, strlen(u), out, sizeof(out), &len));
    ck_assert_uint_eq(len, strlen(m));
    ck_assert_str_eq(out, m);
    ck_assert(mutf7_from_utf8(u, strlen(u), out, len + 1, NULL));
    ck_assert_str_eq(out, m);
    ck_assert(!mutf7_from_utf8(u, strlen(u), out, len, NULL));
}
END_TEST

START_TEST(test_zero_cap)
{
    char out[1] = {'X'};

    ck_assert(!mutf7_to_utf8("", 0, out, 0, NULL));
    ck_assert(!mutf7_from_utf8("", 0, out, 0, NULL));
    ck_assert_int_eq(out[0], 'X');
    ck_assert(mutf7_to_utf8("", 0, out, 1, NULL));
    ck_assert_int_eq(out[0], '\0');
    out[0] = 'X';
    ck_assert(mutf7_from_utf8("", 0, out, 1, NULL));
    ck_assert_int_eq(out[0], '\0');
}
END_TEST

/* Every way a name can be malformed. */
static const char *const bad_mutf7[] = {
    /* unterminated shift */
    "&",
    "a&",
    "&AAk",
    "&U,BTFw",
    "~peter/&U,BTFw",
    "&2D3eAA",
    /* characters outside the modified base64 alphabet inside a shift */
    "&U/BTFw-",
    "&U=-",
    "&U BT-",
    "&AO&-",
    "&AOQ.-",
    "&AOQ_-",
    /* bytes that are never allowed raw */
    "\xc3\xbc",
    "a\x80",
    "\t",
    "a\r\n",
    "\x7f",
    "\x1f",
    "&AOQ-\xff",
    /* non-zero leftover bits, or a whole spare base64 character */
    "&APx-",
    "&APz-",
    "&AOR-",
    "&APwA-",
    "&AOQA-",
    "&AOQA9gA-",
    /* too short to hold one UTF-16 unit */
    "&A-",
    "&AA-",
    /* printable ASCII must be direct, not shifted */
    "&AGE-",
    "&ACY-",
    "&ACA-",
    "&AH4-",
    "&AC0-",
    "&AOQAYQ-",
    "&AGEA5A-",
    /* two adjacent shifted runs */
    "&AOQ-&AOQ-",
    "&AOQ-&APY-",
    "x&AOQ-&2D3eAA-y",
    /* surrogates: lone high, lone low, reversed, high + non-low */
    "&2D0-",
    "&3gA-",
    "&3gDYPQ-",
    "&2D0A5A-",
    "&2D3YPQ-",
    "&AOTeAA-",
    /* U+0000 */
    "&AAA-",
    "&AOQAAA-",
};

START_TEST(test_decode_malformed)
{
    const char *s = bad_mutf7[_i];
    char out[256];
    size_t len = 4242;

    ck_assert_msg(!mutf7_to_utf8(s, strlen(s), out, sizeof(out), &len),
                  "accepted \"%s\"", s);
    ck_assert_uint_eq(len, 4242);
}
END_TEST

START_TEST(test_decode_embedded_nul)
{
    char out[16];

    ck_assert(!mutf7_to_utf8("a\0b", 3, out, sizeof(out), NULL));
    ck_assert(!mutf7_to_utf8("&AO\0-", 5, out, sizeof(out), NULL));
    /* n, not the NUL, bounds the input */
    ck_assert(mutf7_to_utf8("ab&AOQ-", 2, out, sizeof(out), NULL));
    ck_assert_str_eq(out, "ab");
    ck_assert(!mutf7_to_utf8("&AOQ-", 4, out, sizeof(out), NULL));
}
END_TEST

static const char *const bad_utf8[] = {
    "\x80", /* lone continuation */
    "\xbf",
    "\xc0\xaf",                 /* overlong "/" */
    "\xc1\xbf",                 /* overlong */
    "\xe0\x80\xaf",             /* overlong */
    "\xe0\x9f\xbf",             /* overlong U+07FF */
    "\xf0\x80\x80\xaf",         /* overlong */
    "\xf0\x8f\xbf\xbf",         /* overlong U+FFFF */
    "\xed\xa0\x80",             /* U+D800 */
    "\xed\xbf\xbf",             /* U+DFFF */
    "\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 pair */
    "\xf4\x90\x80\x80",         /* U+110000 */
    "\xf5\x80\x80\x80",
    "\xf8\x88\x80\x80\x80",
    "\xfe",
    "\xff",
    "\xc3", /* truncated */
    "\xe6\x97",
    "\xf0\x9f\x98",
    "a\xc3"
    "b",
    "\xc3\xc3\xbc",
    "\xe6\x97\xe6\x97\xa5",
    "\xc3\xbc\x80",
};

START_TEST(test_utf8_invalid)
{
    const char *s = bad_utf8[_i];
    char out[64];

    ck_assert_msg(!utf8_valid(s, strlen(s)), "valid? %s", s);
    ck_assert(!mutf7_from_utf8(s, strlen(s), out, sizeof(out), NULL));
    /* also when it follows ASCII and a shifted character */
    char buf[64];
    snprintf(buf, sizeof(buf), "ab\xc3\xa4%s", s);
    ck_assert(!utf8_valid(buf, strlen(buf)));
    ck_assert(!mutf7_from_utf8(buf, strlen(buf), out, sizeof(out), NULL));
}
END_TEST

START_TEST(test_utf8_valid_boundaries)
{
    static const char *const good[] = {
        "",
        "\x7f",
        "\xc2\x80",
        "\xdf\xbf", /* U+0080, U+07FF */
        "\xe0\xa0\x80",
        "\xed\x9f\xbf", /* U+0800, U+D7FF */
        "\xee\x80\x80",
        "\xef\xbf\xbf", /* U+E000, U+FFFF */
        "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf", /* U+10000, U+10FFFF */
        "\xf3\xbf\xbf\xbf",
        "plain ASCII",
        "Gr\xc3\xbc\xc3\x9f"
        "e \xe6\x97\xa5 \xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(utf8_valid(good[i], strlen(good[i])), "%zu", i);
    ck_assert(utf8_valid("a\0b", 3)); /* NUL is valid UTF-8 */
    ck_assert(utf8_valid(NULL, 0));
    /* the length bounds the check */
    ck_assert(utf8_valid("ab\xc3\xbc", 2));
    ck_assert(!utf8_valid("ab\xc3\xbc", 3));
}
END_TEST

START_TEST(test_encode_refuses_nul)
{
    char out[32];

    ck_assert(!mutf7_from_utf8("a\0b", 3, out, sizeof(out), NULL));
    ck_assert(!mutf7_from_utf8("\xc3\xa4\0", 3, out, sizeof(out), NULL));
    ck_assert(!mutf7_from_utf8("\0", 1, out, sizeof(out), NULL));
}
END_TEST

/* Append code point cp as UTF-8. */
static size_t put_cp(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | cp >> 18);
    p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Hot loops check with plain ifs: every passing ck_assert costs Check a
 * write to its parent process. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
    } while (0)

static void roundtrip(const char *u, size_t n)
{
    char m[512], back[512];
    size_t mlen, blen;

    REQUIRE(utf8_valid(u, n));
    REQUIRE(mutf7_from_utf8(u, n, m, sizeof(m), &mlen));
    for (size_t i = 0; i < mlen; i++)
        REQUIRE(m[i] >= 0x20 && m[i] <= 0x7e);
    REQUIRE(mutf7_to_utf8(m, mlen, back, sizeof(back), &blen));
    REQUIRE(blen == n && memcmp(back, u, n) == 0);
}

START_TEST(test_roundtrip_every_code_point)
{
    char u[8];

    /* every scalar value in the BMP, every 7th beyond (all planes) */
    for (uint32_t cp = 1; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 7) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        size_t n = put_cp(u, cp);
        roundtrip(u, n);
    }
    roundtrip("\xf4\x8f\xbf\xbf", 4);
}
END_TEST

START_TEST(test_roundtrip_combinations)
{
    /* Every sequence of up to 4 pieces from a set that covers direct
     * ASCII, "&", "-", controls, 2/3/4-byte UTF-8 and the edges between
     * shifted and direct runs. */
    static const char *const piece[] = {
        "a",
        "&",
        "-",
        " ",
        "\t",
        "\x7f",
        "\xc3\xbc",
        "\xe6\x97\xa5",
        "\xef\xbf\xbf",
        "\xee\x80\x80",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "&-",
        "/",
    };
    const size_t np = sizeof(piece) / sizeof(piece[0]);
    char u[64];
    size_t count = 0;

    for (size_t len = 1; len <= 4; len++) {
        size_t total = 1;
        for (size_t k = 0; k < len; k++)
            total *= np;
        for (size_t idx = 0; idx < total; idx++) {
            size_t n = 0, x = idx;
            for (size_t k = 0; k < len; k++) {
                const char *p = piece[x % np];
                x /= np;
                memcpy(u + n, p, strlen(p));
                n += strlen(p);
            }
            roundtrip(u, n);
            count++;
        }
    }
    ck_assert_uint_eq(count, 14 + 14 * 14 + 14 * 14 * 14 + 14 * 14 * 14 * 14);
}
END_TEST

START_TEST(test_roundtrip_long)
{
    /* A long run of non-ASCII: state carried over many units. */
    char u[400];
    size_t n = 0;

    for (uint32_t cp = 0x4e00; n + 4 < 150; cp += 31)
        n += put_cp(u + n, cp);
    for (uint32_t cp = 0x1f300; n + 4 < 300; cp += 5)
        n += put_cp(u + n, cp);
    roundtrip(u, n);
}
END_TEST

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

START_TEST(test_decode_is_canonical)
{
    /* For every shifted run of 1..3 base64 characters (and a sample of
     * longer ones): when it decodes, encoding the result gives back the
     * same bytes, so no name has two spellings. */
    char m[32], u[64], back[32];
    size_t ulen, blen, accepted = 0;

    for (size_t len = 1; len <= 3; len++) {
        size_t total = 1;
        for (size_t k = 0; k < len; k++)
            total *= 64;
        for (size_t idx = 0; idx < total; idx++) {
            size_t x = idx;
            m[0] = '&';
            for (size_t k = 0; k < len; k++) {
                m[1 + k] = b64chars[x % 64];
                x /= 64;
            }
            m[1 + len] = '-';
            if (!mutf7_to_utf8(m, len + 2, u, sizeof(u), &ulen))
                continue;
            accepted++;
            REQUIRE(mutf7_from_utf8(u, ulen, back, sizeof(back), &blen));
            REQUIRE(blen == len + 2 && memcmp(back, m, blen) == 0);
        }
    }
    /* Only 3-character runs can be valid (one unit), with the last
     * character's 2 spare bits zero: 64*64*16 minus surrogates, ASCII
     * printables and U+0000. */
    ck_assert_uint_eq(accepted, 65536 - 2048 - 95 - 1);

    srand(12345);
    for (int round = 0; round < 200000; round++) {
        size_t len = 4 + (size_t)rand() % 12;
        m[0] = '&';
        for (size_t k = 0; k < len; k++)
            m[1 + k] = b64chars[rand() % 64];
        m[1 + len] = '-';
        if (!mutf7_to_utf8(m, len + 2, u, sizeof(u), &ulen))
            continue;
        REQUIRE(mutf7_from_utf8(u, ulen, back, sizeof(back), &blen));
        REQUIRE(blen == len + 2 && memcmp(back, m, blen) == 0);
    }
}
END_TEST

static Suite *mutf7_suite(void)
{
    Suite *s = suite_create("mutf7");
    TCase *tc = tcase_create("vectors");
    int npairs = (int)(sizeof(pairs) / sizeof(pairs[0]));
    int nbad = (int)(sizeof(bad_mutf7) / sizeof(bad_mutf7[0]));
    int nbad8 = (int)(sizeof(bad_utf8) / sizeof(bad_utf8[0]));

    tcase_add_loop_test(tc, test_pair_decode, 0, npairs);
    tcase_add_loop_test(tc, test_pair_encode, 0, npairs);
    tcase_add_test(tc, test_zero_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_decode_malformed, 0, nbad);
    tcase_add_test(tc, test_decode_embedded_nul);
    tcase_add_loop_test(tc, test_utf8_invalid, 0, nbad8);
    tcase_add_test(tc, test_utf8_valid_boundaries);
    tcase_add_test(tc, test_encode_refuses_nul);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_every_code_point);
    tcase_add_test(tc, test_roundtrip_combinations);
    tcase_add_test(tc, test_roundtrip_long);
    tcase_add_test(tc, test_decode_is_canonical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mutf7_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
