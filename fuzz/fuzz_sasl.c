/* libFuzzer target for the pure decoders an unauthenticated client reaches:
 * base64, the SASL mechanisms and modified UTF-7 (both ways).  Besides
 * memory errors it checks the invariants the callers rely on: strict
 * decoders are canonical (decode then encode gives the input back), encoders
 * round-trip, and SASL never leaves secrets behind a failed exchange.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilibimapsrv \
 *       fuzz/fuzz_sasl.c libimapsrv/proto/{base64,sasl,mutf7}.c -o fuzz_sasl
 *
 * Build with -DFUZZ_STANDALONE (no libFuzzer) to replay files given as
 * arguments. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/mutf7.h"
#include "proto/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* An exact-size heap copy, so that any read past n is caught by ASan. */
static char *dup_exact(const void *p, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);

    CHECK(c != NULL);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void fuzz_base64(const char *in, size_t n)
{
    size_t dcap = n / 4 * 3, len;
    unsigned char *dec = malloc(dcap + 1);
    size_t ecap = base64_encoded_len(n) + 1;
    char *enc = malloc(ecap);

    CHECK(dec != NULL && enc != NULL);
    /* Strict decoding means one spelling per byte string. */
    if (base64_decode(in, n, dec, dcap, &len)) {
        CHECK(len <= dcap);
        CHECK(base64_encode(dec, len, enc, ecap) == n);
        CHECK(memcmp(enc, in, n) == 0);
        if (len > 0)
            CHECK(!base64_decode(in, n, dec, len - 1, NULL));
    }
    /* Any bytes encode and come back. */
    size_t elen = base64_encode(in, n, enc, ecap);
    CHECK(elen == ecap - 1 && enc[elen] == '\0');
    CHECK(base64_encode(in, n, enc, ecap - 1) == 0 || n == 0);
    unsigned char *back = malloc(n + 1);
    CHECK(back != NULL);
    CHECK(base64_decode(enc, elen, back, n, &len) && len == n);
    CHECK(n == 0 || memcmp(back, in, n) == 0);
    free(back);
    free(dec);
    free(enc);
}

static void check_complete(const struct sasl *s)
{
    size_t zl = strnlen(s->authzid, sizeof(s->authzid));
    size_t cl = strnlen(s->authcid, sizeof(s->authcid));
    size_t pl = strnlen(s->password, sizeof(s->password));

    CHECK(zl <= SASL_ID_MAX && cl <= SASL_ID_MAX);
    CHECK(pl == s->password_len && pl <= SASL_PASSWORD_MAX);
    CHECK(utf8_valid(s->authzid, zl) && utf8_valid(s->authcid, cl) &&
          utf8_valid(s->password, pl));
    switch (s->mech) {
    case SASL_PLAIN: CHECK(cl > 0 && pl > 0); break;
    case SASL_LOGIN: CHECK(zl == 0 && cl > 0 && pl > 0); break;
    case SASL_EXTERNAL: CHECK(cl == 0 && pl == 0); break;
    }
}

/* First byte: bits 0-1 mechanism, bit 2 initial response present, bit 3
 * base64-encode each line first (to reach the mechanism parsers with
 * arbitrary decoded bytes).  The rest: responses separated by '\n'. */
static void fuzz_sasl(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    unsigned mode = data[0];
    enum sasl_mech mech = (enum sasl_mech)((mode & 3) % 3);
    bool ir = (mode & 4) != 0, encode = (mode & 8) != 0;
    const uint8_t *p = data + 1, *end = data + size;
    struct sasl s;
    const char *ch;
    enum sasl_status st;

    sasl_begin(&s, mech);
    if (!ir) {
        st = sasl_step(&s, NULL, 0, false, &ch);
        CHECK(st == SASL_CHALLENGE && ch != NULL);
    }
    for (int step = 0; step < 8; step++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl != NULL ? nl : end) - p);
        char *line;
        size_t len;

        if (encode) {
            size_t cap = base64_encoded_len(n) + 1;
            line = malloc(cap);
            CHECK(line != NULL);
            len = base64_encode(p, n, line, cap);
        } else {
            line = dup_exact(p, n);
            len = n;
        }
        st = sasl_step(&s, line, len, true, &ch);
        free(line);
        CHECK((st == SASL_CHALLENGE) == (ch != NULL));
        if (st == SASL_COMPLETE)
            check_complete(&s);
        if (st == SASL_MALFORMED || st == SASL_CANCELLED) {
            CHECK(all_zero(s.password, sizeof(s.password)));
            CHECK(all_zero(s.authcid, sizeof(s.authcid)));
            CHECK(all_zero(s.authzid, sizeof(s.authzid)));
            CHECK(s.password_len == 0);
        }
        if (st != SASL_CHALLENGE) {
            /* finished: further input is refused */
            CHECK(sasl_step(&s, "", 0, true, &ch) == SASL_MALFORMED);
            break;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    sasl_wipe(&s);
    CHECK(all_zero(&s, sizeof(s)));
}

static void fuzz_mutf7(const char *in, size_t n)
{
    size_t ucap = 2 * n + 1, mcap = 8 * n + 8, len, len2;
    char *u = malloc(ucap), *m = malloc(mcap);

    CHECK(u != NULL && m != NULL);
    /* Decode: a name that decodes has exactly one spelling. */
    if (mutf7_to_utf8(in, n, u, ucap, &len)) {
        CHECK(u[len] == '\0' && memchr(u, '\0', len) == NULL);
        CHECK(utf8_valid(u, len));
        CHECK(mutf7_from_utf8(u, len, m, mcap, &len2));
        CHECK(len2 == n && memcmp(m, in, n) == 0);
        /* exact room works, one byte less does not */
        char *tight = malloc(len + 1);
        CHECK(tight != NULL);
        CHECK(mutf7_to_utf8(in, n, tight, len + 1, NULL));
        CHECK(!mutf7_to_utf8(in, n, tight, len, NULL));
        free(tight);
    }
    /* Encode: exactly the valid NUL-free UTF-8 encodes, and comes back. */
    bool ok = mutf7_from_utf8(in, n, m, mcap, &len);
    CHECK(ok == (utf8_valid(in, n) && memchr(in, '\0', n) == NULL));
    if (ok) {
        for (size_t i = 0; i < len; i++)
            CHECK(m[i] >= 0x20 && m[i] <= 0x7e);
        char *back = malloc(n + 1);
        CHECK(back != NULL);
        CHECK(mutf7_to_utf8(m, len, back, n + 1, &len2));
        CHECK(len2 == n && memcmp(back, in, n) == 0);
        free(back);
    }
    free(u);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = dup_exact(data, size);

    fuzz_base64(in, size);
    fuzz_sasl(data, size);
    fuzz_mutf7(in, size);
    free(in);
    return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        static uint8_t buf[1 << 20];
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
