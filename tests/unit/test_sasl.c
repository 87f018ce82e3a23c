/* Unit tests for proto/base64 and proto/sasl. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/sasl.h"

/* ---- base64 ---- */

static const struct {
    const char *plain, *enc;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_b64_rfc4648_encode)
{
    const char *plain = rfc4648[_i].plain, *enc = rfc4648[_i].enc;
    char out[16];

    memset(out, 'X', sizeof(out));
    ck_assert_uint_eq(base64_encoded_len(strlen(plain)), strlen(enc));
    ck_assert_uint_eq(base64_encode(plain, strlen(plain), out, sizeof(out)),
                      strlen(enc));
    ck_assert_str_eq(out, enc);
}
END_TEST

START_TEST(test_b64_rfc4648_decode)
{
    const char *plain = rfc4648[_i].plain, *enc = rfc4648[_i].enc;
    char out[16];
    size_t len = 99;

    ck_assert(base64_decode(enc, strlen(enc), out, sizeof(out), &len));
    ck_assert_uint_eq(len, strlen(plain));
    ck_assert_mem_eq(out, plain, len);
    /* exactly enough room */
    ck_assert(base64_decode(enc, strlen(enc), out, strlen(plain), &len));
    /* one byte short */
    if (len > 0)
        ck_assert(!base64_decode(enc, strlen(enc), out, len - 1, &len));
}
END_TEST

START_TEST(test_b64_encoded_len)
{
    ck_assert_uint_eq(base64_encoded_len(0), 0);
    ck_assert_uint_eq(base64_encoded_len(1), 4);
    ck_assert_uint_eq(base64_encoded_len(2), 4);
    ck_assert_uint_eq(base64_encoded_len(3), 4);
    ck_assert_uint_eq(base64_encoded_len(4), 8);
    ck_assert_uint_eq(base64_encoded_len(1000), 1336);
    ck_assert_uint_eq(base64_encoded_len(SIZE_MAX), SIZE_MAX);
    ck_assert_uint_eq(base64_encoded_len(SIZE_MAX / 4 * 3), SIZE_MAX);
    size_t big = SIZE_MAX / 4 * 3 - 3;
    ck_assert_uint_lt(base64_encoded_len(big), SIZE_MAX);
    ck_assert_uint_eq(base64_encoded_len(big) % 4, 0);
}
END_TEST

START_TEST(test_b64_encode_cap)
{
    char out[9];

    memset(out, 'X', sizeof(out));
    /* "foobar" needs 8 + NUL */
    ck_assert_uint_eq(base64_encode("foobar", 6, out, 8), 0);
    ck_assert_int_eq(out[0], 'X'); /* nothing written */
    ck_assert_uint_eq(base64_encode("foobar", 6, out, 0), 0);
    ck_assert_int_eq(out[0], 'X');
    ck_assert_uint_eq(base64_encode("foobar", 6, out, 9), 8);
    ck_assert_str_eq(out, "Zm9vYmFy");
    /* empty input: "" when there is room for the NUL */
    ck_assert_uint_eq(base64_encode("", 0, out, 1), 0);
    ck_assert_int_eq(out[0], '\0');
    out[0] = 'X';
    ck_assert_uint_eq(base64_encode("", 0, out, 0), 0);
    ck_assert_int_eq(out[0], 'X');
    ck_assert_uint_eq(base64_encode(NULL, 0, NULL, 0), 0);
}
END_TEST

START_TEST(test_b64_alphabet_edges)
{
    const unsigned char hi[] = {0xfb, 0xef, 0xff};
    const unsigned char zero[] = {0, 0, 0};
    char out[8];
    unsigned char dec[3];
    size_t len;

    base64_encode(hi, 3, out, sizeof(out));
    ck_assert_str_eq(out, "++//");
    base64_encode(zero, 3, out, sizeof(out));
    ck_assert_str_eq(out, "AAAA");
    base64_encode(zero, 1, out, sizeof(out));
    ck_assert_str_eq(out, "AA==");
    ck_assert(base64_decode("++//", 4, dec, 3, &len));
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(dec, hi, 3);
    ck_assert(base64_decode("AA==", 4, dec, 3, NULL)); /* len_r optional */
    ck_assert_int_eq(dec[0], 0);
}
END_TEST

START_TEST(test_b64_roundtrip_all_bytes)
{
    unsigned char in[256], dec[256];
    char enc[400];
    size_t len;

    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    for (size_t n = 0; n <= 256; n++) {
        size_t elen = base64_encode(in + (256 - n), n, enc, sizeof(enc));
        ck_assert_uint_eq(elen, base64_encoded_len(n));
        ck_assert_uint_eq(strlen(enc), elen);
        ck_assert(base64_decode(enc, elen, dec, sizeof(dec), &len));
        ck_assert_uint_eq(len, n);
        if (n > 0)
            ck_assert_mem_eq(dec, in + (256 - n), n);
    }
}
END_TEST

static const char *const b64_bad[] = {
    "Z",        "Zg",       "Zg=",  "Zm9",   "Zm9vY",    "=",        "==",
    "===",      "====",     "A===", "=AAA",  "Z=g=",     "Zg==Zg==", "Zm8=Zm8=",
    "Zg=A",     "Zh==",     "Zm9=", "Zg=\n", "Zm9v\r\n", "Zm 9",     "Zm9v Zm9",
    " Zm9",     "Zm9\t",    "Zm9-", "Zm9_",  "Zm9.",     "Zm9\x80",  "Zm9\xff",
    "Zm9v====", "Zm9vY===", "AB=C", "Zm8==",
};

START_TEST(test_b64_decode_malformed)
{
    const char *s = b64_bad[_i];
    unsigned char out[64];
    size_t len = 12345;

    ck_assert_msg(!base64_decode(s, strlen(s), out, sizeof(out), &len),
                  "accepted \"%s\"", s);
    ck_assert_uint_eq(len, 12345); /* untouched on failure */
}
END_TEST

START_TEST(test_b64_decode_embedded_nul)
{
    unsigned char out[8];

    ck_assert(!base64_decode("Zm\0v", 4, out, sizeof(out), NULL));
    ck_assert(!base64_decode("Zg=\0", 4, out, sizeof(out), NULL));
    ck_assert(base64_decode("", 0, out, 0, NULL));
    ck_assert(base64_decode(NULL, 0, NULL, 0, NULL));
}
END_TEST

START_TEST(test_b64_trailing_bits)
{
    /* Every final character with one pad: only those whose low 2 bits are
     * zero decode; with two pads, only low 4 bits zero. */
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char out[3];

    for (int v = 0; v < 64; v++) {
        char one[5] = {'Z', 'm', alpha[v], '=', '\0'};
        char two[5] = {'Z', alpha[v], '=', '=', '\0'};
        ck_assert(base64_decode(one, 4, out, sizeof(out), NULL) ==
                  ((v & 3) == 0));
        ck_assert(base64_decode(two, 4, out, sizeof(out), NULL) ==
                  ((v & 15) == 0));
    }
}
END_TEST

/* ---- SASL ---- */

/* base64 of s[0..n) in a rotating static buffer. */
static const char *b64(const void *s, size_t n)
{
    static char bufs[4][4096];
    static int k;
    char *out = bufs[k++ % 4];

    ck_assert_uint_gt(base64_encode(s, n, out, 4096) + (n == 0), 0);
    return out;
}

#define B64(lit) b64((lit), sizeof(lit) - 1)

static enum sasl_status feed(struct sasl *s, const char *resp, const char **ch)
{
    return sasl_step(s, resp, strlen(resp), true, ch);
}

static enum sasl_status no_ir(struct sasl *s, const char **ch)
{
    return sasl_step(s, NULL, 0, false, ch);
}

static void assert_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        ck_assert_msg(b[i] == 0, "byte %zu is 0x%02x", i, b[i]);
}

static void assert_no_secrets(const struct sasl *s)
{
    assert_zero(s->authzid, sizeof(s->authzid));
    assert_zero(s->authcid, sizeof(s->authcid));
    assert_zero(s->password, sizeof(s->password));
    ck_assert_uint_eq(s->password_len, 0);
}

START_TEST(test_mech_names)
{
    enum sasl_mech m = SASL_EXTERNAL;

    ck_assert(sasl_mech_from_name("PLAIN", &m));
    ck_assert_int_eq(m, SASL_PLAIN);
    ck_assert(sasl_mech_from_name("login", &m));
    ck_assert_int_eq(m, SASL_LOGIN);
    ck_assert(sasl_mech_from_name("eXtErNaL", &m));
    ck_assert_int_eq(m, SASL_EXTERNAL);
    ck_assert(sasl_mech_from_name("Plain", &m));
    ck_assert_int_eq(m, SASL_PLAIN);
    m = SASL_LOGIN;
    ck_assert(!sasl_mech_from_name("CRAM-MD5", &m));
    ck_assert(!sasl_mech_from_name("", &m));
    ck_assert(!sasl_mech_from_name("PLAI", &m));
    ck_assert(!sasl_mech_from_name("PLAINX", &m));
    ck_assert(!sasl_mech_from_name("PLAIN ", &m));
    ck_assert(!sasl_mech_from_name("EXTERNA", &m));
    ck_assert(!sasl_mech_from_name("pl\xc1in", &m));
    ck_assert_int_eq(m, SASL_LOGIN); /* untouched */
    ck_assert_str_eq(sasl_mech_name(SASL_PLAIN), "PLAIN");
    ck_assert_str_eq(sasl_mech_name(SASL_LOGIN), "LOGIN");
    ck_assert_str_eq(sasl_mech_name(SASL_EXTERNAL), "EXTERNAL");
    ck_assert_ptr_null(sasl_mech_name((enum sasl_mech)42));
}
END_TEST

START_TEST(test_login_challenges_decode)
{
    struct sasl s;
    const char *ch;
    char dec[16];
    size_t len;

    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert(base64_decode(ch, strlen(ch), dec, sizeof(dec), &len));
    ck_assert_mem_eq(dec, "Username:", len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(feed(&s, B64("u"), &ch), SASL_CHALLENGE);
    ck_assert(base64_decode(ch, strlen(ch), dec, sizeof(dec), &len));
    ck_assert_mem_eq(dec, "Password:", len);
    ck_assert_uint_eq(len, 9);
    sasl_wipe(&s);
}
END_TEST

/* PLAIN */

START_TEST(test_plain_initial_response)
{
    struct sasl s;
    const char *ch = "x";

    /* RFC 4616 section 4 examples */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, B64("\0tim\0tanstaaftanstaaf"), &ch),
                     SASL_COMPLETE);
    ck_assert_ptr_null(ch);
    ck_assert_str_eq(s.authzid, "");
    ck_assert_str_eq(s.authcid, "tim");
    ck_assert_str_eq(s.password, "tanstaaftanstaaf");
    ck_assert_uint_eq(s.password_len, 16);
    sasl_wipe(&s);

    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, "VXJzZWwAS3VydAB4aXBqM3BsbXE=", &ch),
                     SASL_COMPLETE);
    ck_assert_str_eq(s.authzid, "Ursel");
    ck_assert_str_eq(s.authcid, "Kurt");
    ck_assert_str_eq(s.password, "xipj3plmq");
    ck_assert_uint_eq(s.password_len, 9);
    sasl_wipe(&s);
}
END_TEST

START_TEST(test_plain_no_initial_response)
{
    struct sasl s;
    const char *ch = NULL;

    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_ptr_nonnull(ch);
    ck_assert_str_eq(ch, "");
    ck_assert_int_eq(feed(&s, B64("admin\0jo\0s3cr\xc3\xa9t"), &ch),
                     SASL_COMPLETE);
    ck_assert_ptr_null(ch);
    ck_assert_str_eq(s.authzid, "admin");
    ck_assert_str_eq(s.authcid, "jo");
    ck_assert_str_eq(s.password, "s3cr\xc3\xa9t");
    ck_assert_uint_eq(s.password_len, 7);
    /* finished: anything more is refused */
    ck_assert_int_eq(feed(&s, B64("\0a\0b"), &ch), SASL_MALFORMED);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_MALFORMED);
    sasl_wipe(&s);
}
END_TEST

START_TEST(test_plain_empty)
{
    struct sasl s;
    const char *ch;

    /* "=" is the empty initial response: not a valid PLAIN message */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    ck_assert_ptr_null(ch);
    /* an empty line after the empty challenge */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED);
    /* "=" is only special as the initial response */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    /* a present but zero-length initial response decodes to nothing,
     * which is still no PLAIN message */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED);
}
END_TEST

START_TEST(test_plain_cancel)
{
    struct sasl s;
    const char *ch = "x";

    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(feed(&s, B64("\0a\0b"), &ch), SASL_MALFORMED);

    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    assert_no_secrets(&s);

    /* "**" or "* " are not a cancel, just bad base64 */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "**", &ch), SASL_MALFORMED);
}
END_TEST

static enum sasl_status plain_msg(const char *msg, size_t n)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_PLAIN);
    enum sasl_status st = feed(&s, b64(msg, n), &ch);
    if (st != SASL_COMPLETE)
        assert_no_secrets(&s);
    sasl_wipe(&s);
    return st;
}

#define PLAIN(lit) plain_msg((lit), sizeof(lit) - 1)

START_TEST(test_plain_nuls)
{
    ck_assert_int_eq(PLAIN("\0u\0p"), SASL_COMPLETE);
    ck_assert_int_eq(PLAIN("z\0u\0p"), SASL_COMPLETE);
    ck_assert_int_eq(PLAIN("up"), SASL_MALFORMED);        /* no NUL */
    ck_assert_int_eq(PLAIN("u\0p"), SASL_MALFORMED);      /* one NUL */
    ck_assert_int_eq(PLAIN("\0u\0p\0"), SASL_MALFORMED);  /* trailing NUL */
    ck_assert_int_eq(PLAIN("\0u\0p\0q"), SASL_MALFORMED); /* NUL in pass */
    ck_assert_int_eq(PLAIN("\0\0u\0p"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0\0p"), SASL_MALFORMED); /* empty authcid */
    ck_assert_int_eq(PLAIN("z\0\0p"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0u\0"), SASL_MALFORMED); /* empty pass */
    ck_assert_int_eq(PLAIN("z\0u\0"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0\0"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0\0\0"), SASL_MALFORMED);
}
END_TEST

START_TEST(test_plain_utf8)
{
    ck_assert_int_eq(PLAIN("J\xc3\xb6rg\0\xe6\x97\xa5\0\xf0\x9f\x94\x91"),
                     SASL_COMPLETE);
    ck_assert_int_eq(PLAIN("\xff\0u\0p"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0u\xc3\0p"), SASL_MALFORMED);
    ck_assert_int_eq(PLAIN("\0u\0p\xe9"), SASL_MALFORMED);    /* Latin-1 */
    ck_assert_int_eq(PLAIN("\0u\0\xc0\x80"), SASL_MALFORMED); /* overlong */
    ck_assert_int_eq(PLAIN("\0\xed\xa0\x80\0p"), SASL_MALFORMED);
}
END_TEST

START_TEST(test_plain_lengths)
{
    static char msg[300 + 300 + 1100];
    struct sasl s;
    const char *ch;

    /* Build "z..z NUL u..u NUL p..p" with the given lengths. */
    for (int round = 0; round < 7; round++) {
        static const size_t lens[7][3] = {
            {255, 255, 1023}, /* all at the limit */
            {256, 1, 1},      {0, 256, 1}, {0, 1, 1024},
            {0, 255, 1},      {255, 1, 1}, {0, 1, 1023},
        };
        size_t zl = lens[round][0], cl = lens[round][1], pl = lens[round][2];
        size_t n = 0;
        memset(msg + n, 'z', zl);
        n += zl;
        msg[n++] = '\0';
        memset(msg + n, 'u', cl);
        n += cl;
        msg[n++] = '\0';
        memset(msg + n, 'p', pl);
        n += pl;
        bool ok = zl <= 255 && cl <= 255 && pl <= 1023;

        sasl_begin(&s, SASL_PLAIN);
        enum sasl_status st = feed(&s, b64(msg, n), &ch);
        ck_assert_int_eq(st, ok ? SASL_COMPLETE : SASL_MALFORMED);
        if (ok) {
            ck_assert_uint_eq(strlen(s.authzid), zl);
            ck_assert_uint_eq(strlen(s.authcid), cl);
            ck_assert_uint_eq(strlen(s.password), pl);
            ck_assert_uint_eq(s.password_len, pl);
        } else {
            assert_no_secrets(&s);
        }
        sasl_wipe(&s);
    }
}
END_TEST

START_TEST(test_plain_bad_base64)
{
    static const char *const bad[] = {
        "AHUAcA",     /* unpadded */
        "AHUAcA==\r", /* CR kept by mistake */
        " AHUAcA==",  "AHUA cA=", "AHUAcA=",          "AHUAcB==", /* bits */
        "AHUA-A==",   "=AAA",     "AHUAcA==AHUAcA==",
    };
    struct sasl s;
    const char *ch;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sasl_begin(&s, SASL_PLAIN);
        ck_assert_msg(feed(&s, bad[i], &ch) == SASL_MALFORMED, "%s", bad[i]);
        ck_assert_ptr_null(ch);
        sasl_begin(&s, SASL_PLAIN);
        ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
        ck_assert_msg(feed(&s, bad[i], &ch) == SASL_MALFORMED, "%s", bad[i]);
    }
    /* sanity: the good spelling works */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, "AHUAcA==", &ch), SASL_COMPLETE);
    ck_assert_str_eq(s.authcid, "u");
    ck_assert_str_eq(s.password, "p");
    sasl_wipe(&s);
}
END_TEST

START_TEST(test_plain_oversized_response)
{
    static char big[20000];
    struct sasl s;
    const char *ch;

    memset(big, 'A', sizeof(big));
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(sasl_step(&s, big, sizeof(big), true, &ch),
                     SASL_MALFORMED);
    /* just over the largest message: 1536 bytes decode to 2048 chars */
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(sasl_step(&s, big, 2048, true, &ch), SASL_MALFORMED);
}
END_TEST

START_TEST(test_no_ir_only_first)
{
    struct sasl s;
    const char *ch;

    for (int m = SASL_PLAIN; m <= SASL_EXTERNAL; m++) {
        sasl_begin(&s, (enum sasl_mech)m);
        ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
        ck_assert_int_eq(no_ir(&s, &ch), SASL_MALFORMED);
        ck_assert_ptr_null(ch);
        ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED); /* done */
    }
}
END_TEST

/* LOGIN */

START_TEST(test_login_no_initial_response)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_str_eq(ch, "VXNlcm5hbWU6");
    ck_assert_int_eq(feed(&s, B64("tim"), &ch), SASL_CHALLENGE);
    ck_assert_str_eq(ch, "UGFzc3dvcmQ6");
    ck_assert_int_eq(feed(&s, B64("tanstaaf"), &ch), SASL_COMPLETE);
    ck_assert_ptr_null(ch);
    ck_assert_str_eq(s.authzid, "");
    ck_assert_str_eq(s.authcid, "tim");
    ck_assert_str_eq(s.password, "tanstaaf");
    ck_assert_uint_eq(s.password_len, 8);
    ck_assert_int_eq(feed(&s, B64("x"), &ch), SASL_MALFORMED);
    sasl_wipe(&s);
}
END_TEST

START_TEST(test_login_initial_response)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("J\xc3\xb6rg"), &ch), SASL_CHALLENGE);
    ck_assert_str_eq(ch, "UGFzc3dvcmQ6");
    ck_assert_int_eq(feed(&s, B64("pw"), &ch), SASL_COMPLETE);
    ck_assert_str_eq(s.authcid, "J\xc3\xb6rg");
    ck_assert_str_eq(s.password, "pw");
    sasl_wipe(&s);
}
END_TEST

START_TEST(test_login_malformed)
{
    struct sasl s;
    const char *ch;

    /* empty user name as "=" and as an empty line */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED);
    /* "=" after a challenge */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    /* empty password */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("u"), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED);
    assert_no_secrets(&s); /* the user name went too */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("u"), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    /* NULs */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("u\0v"), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("u"), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, B64("p\0"), &ch), SASL_MALFORMED);
    assert_no_secrets(&s);
    /* bad UTF-8 */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("\xfe"), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("u"), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, B64("p\xe9"), &ch), SASL_MALFORMED);
    /* bad base64 at each step */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, "dQ", &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "dQ=", &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, "dQ==", &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "cA=!", &ch), SASL_MALFORMED);
    assert_no_secrets(&s);
}
END_TEST

START_TEST(test_login_cancel)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, B64("user"), &ch), SASL_CHALLENGE);
    ck_assert_str_eq(s.authcid, "user");
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    ck_assert_ptr_null(ch);
    assert_no_secrets(&s);
    ck_assert_int_eq(feed(&s, B64("pw"), &ch), SASL_MALFORMED);
}
END_TEST

START_TEST(test_login_lengths)
{
    static char buf[1100];
    struct sasl s;
    const char *ch;

    memset(buf, 'a', sizeof(buf));
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, b64(buf, 255), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, b64(buf, 1023), &ch), SASL_COMPLETE);
    ck_assert_uint_eq(strlen(s.authcid), 255);
    ck_assert_uint_eq(s.password_len, 1023);
    ck_assert_uint_eq(strlen(s.password), 1023);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, b64(buf, 256), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, b64(buf, 1), &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, b64(buf, 1024), &ch), SASL_MALFORMED);
    assert_no_secrets(&s);
    sasl_wipe(&s);
}
END_TEST

/* EXTERNAL */

START_TEST(test_external)
{
    struct sasl s;
    const char *ch;

    /* SASL-IR "=": no authorization identity requested */
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_COMPLETE);
    ck_assert_ptr_null(ch);
    ck_assert_str_eq(s.authzid, "");
    ck_assert_str_eq(s.authcid, "");
    ck_assert_uint_eq(s.password_len, 0);
    /* without initial response: empty challenge, then an empty line */
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_str_eq(ch, "");
    ck_assert_int_eq(feed(&s, "", &ch), SASL_COMPLETE);
    ck_assert_str_eq(s.authzid, "");
    /* with an identity, both ways */
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, B64("shared@example.org"), &ch), SASL_COMPLETE);
    ck_assert_str_eq(s.authzid, "shared@example.org");
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, B64("b\xc3\xa4r"), &ch), SASL_COMPLETE);
    ck_assert_str_eq(s.authzid, "b\xc3\xa4r");
    ck_assert_int_eq(feed(&s, "", &ch), SASL_MALFORMED); /* done */
}
END_TEST

START_TEST(test_external_malformed)
{
    static char buf[300];
    struct sasl s;
    const char *ch;

    memset(buf, 'i', sizeof(buf));
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, b64(buf, 255), &ch), SASL_COMPLETE);
    ck_assert_uint_eq(strlen(s.authzid), 255);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, b64(buf, 256), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, B64("a\0b"), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, B64("\0"), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, B64("\x80"), &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, "YQ", &ch), SASL_MALFORMED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "=", &ch), SASL_MALFORMED);
    assert_no_secrets(&s);
}
END_TEST

START_TEST(test_external_cancel)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    sasl_begin(&s, SASL_EXTERNAL);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_int_eq(feed(&s, "*", &ch), SASL_CANCELLED);
    ck_assert_ptr_null(ch);
}
END_TEST

/* wipe */

START_TEST(test_wipe_zeroes_everything)
{
    static char msg[300 + 300 + 1100];
    struct sasl s;
    const char *ch;
    size_t n = 0;

    memset(&s, 0xa5, sizeof(s)); /* padding too */
    memset(msg, 'z', 255);
    n = 255;
    msg[n++] = '\0';
    memset(msg + n, 'u', 255);
    n += 255;
    msg[n++] = '\0';
    memset(msg + n, 'p', 1023);
    n += 1023;
    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, b64(msg, n), &ch), SASL_COMPLETE);
    ck_assert_uint_eq(s.password_len, 1023);
    memset(&s, 0xa5, offsetof(struct sasl, authzid));
    sasl_wipe(&s);
    assert_zero(&s, sizeof(s));

    /* and after a LOGIN exchange stopped half way */
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(feed(&s, B64("someone"), &ch), SASL_CHALLENGE);
    sasl_wipe(&s);
    assert_zero(&s, sizeof(s));
}
END_TEST

START_TEST(test_begin_resets)
{
    struct sasl s;
    const char *ch;

    sasl_begin(&s, SASL_PLAIN);
    ck_assert_int_eq(feed(&s, B64("a\0b\0c"), &ch), SASL_COMPLETE);
    sasl_begin(&s, SASL_LOGIN);
    ck_assert_int_eq(s.mech, SASL_LOGIN);
    ck_assert_int_eq(s.step, 0);
    assert_no_secrets(&s);
    ck_assert_int_eq(no_ir(&s, &ch), SASL_CHALLENGE);
    ck_assert_str_eq(ch, "VXNlcm5hbWU6");
}
END_TEST

static Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("base64");
    int nvec = (int)(sizeof(rfc4648) / sizeof(rfc4648[0]));
    int nbad = (int)(sizeof(b64_bad) / sizeof(b64_bad[0]));

    tcase_add_loop_test(tc, test_b64_rfc4648_encode, 0, nvec);
    tcase_add_loop_test(tc, test_b64_rfc4648_decode, 0, nvec);
    tcase_add_test(tc, test_b64_encoded_len);
    tcase_add_test(tc, test_b64_encode_cap);
    tcase_add_test(tc, test_b64_alphabet_edges);
    tcase_add_test(tc, test_b64_roundtrip_all_bytes);
    tcase_add_loop_test(tc, test_b64_decode_malformed, 0, nbad);
    tcase_add_test(tc, test_b64_decode_embedded_nul);
    tcase_add_test(tc, test_b64_trailing_bits);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *sasl_suite(void)
{
    Suite *s = suite_create("sasl");
    TCase *tc = tcase_create("common");

    tcase_add_test(tc, test_mech_names);
    tcase_add_test(tc, test_login_challenges_decode);
    tcase_add_test(tc, test_no_ir_only_first);
    tcase_add_test(tc, test_wipe_zeroes_everything);
    tcase_add_test(tc, test_begin_resets);
    suite_add_tcase(s, tc);

    tc = tcase_create("plain");
    tcase_add_test(tc, test_plain_initial_response);
    tcase_add_test(tc, test_plain_no_initial_response);
    tcase_add_test(tc, test_plain_empty);
    tcase_add_test(tc, test_plain_cancel);
    tcase_add_test(tc, test_plain_nuls);
    tcase_add_test(tc, test_plain_utf8);
    tcase_add_test(tc, test_plain_lengths);
    tcase_add_test(tc, test_plain_bad_base64);
    tcase_add_test(tc, test_plain_oversized_response);
    suite_add_tcase(s, tc);

    tc = tcase_create("login");
    tcase_add_test(tc, test_login_no_initial_response);
    tcase_add_test(tc, test_login_initial_response);
    tcase_add_test(tc, test_login_malformed);
    tcase_add_test(tc, test_login_cancel);
    tcase_add_test(tc, test_login_lengths);
    suite_add_tcase(s, tc);

    tc = tcase_create("external");
    tcase_add_test(tc, test_external);
    tcase_add_test(tc, test_external_malformed);
    tcase_add_test(tc, test_external_cancel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(base64_suite());

    srunner_add_suite(sr, sasl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
