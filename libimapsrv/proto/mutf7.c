/* Modified UTF-7: see mutf7.h. */
#include "proto/mutf7.h"

#include "proto/base64.h"

#include <stdint.h>

/* RFC 2152 base64 with "," in place of "/" and no padding. */
static char mutf7_digit(unsigned v)
{
    return v == 63 ? ',' : base64_alphabet[v];
}

static int mutf7_value(unsigned char c)
{
    if (c == '/')
        return -1;
    return c == ',' ? 63 : base64_value(c);
}

static bool mutf7_is_direct(uint32_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* Decode one code point at s[*pos], advancing *pos; strict RFC 3629. */
static bool utf8_next(const char *s, size_t n, size_t *pos, uint32_t *cp_r)
{
    const unsigned char *p = (const unsigned char *)s + *pos;
    size_t left = n - *pos;
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    size_t len;
    uint32_t cp;

    if (c < 0x80) {
        *cp_r = c;
        *pos += 1;
        return true;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return false; /* continuation byte, C0/C1, F5..FF */
    }
    if (left < len || p[1] < lo || p[1] > hi)
        return false;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return false;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    *cp_r = cp;
    *pos += len;
    return true;
}

bool utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        /* ASCII runs are the common case */
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        if (!utf8_next(s, n, &i, &cp))
            return false;
    }
    return true;
}

/* Append cp as UTF-8, keeping one byte for the final NUL. */
static bool mutf7_put_utf8(char *out, size_t cap, size_t *o, uint32_t cp)
{
    unsigned char b[4];
    size_t len;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 4;
    }
    if (cap - *o <= len)
        return false;
    for (size_t i = 0; i < len; i++)
        out[(*o)++] = (char)b[i];
    return true;
}

static bool mutf7_put(char *out, size_t cap, size_t *o, char c)
{
    if (cap - *o <= 1)
        return false;
    out[(*o)++] = c;
    return true;
}

/* One UTF-16 unit from a shifted run; *hi carries a pending high
 * surrogate between calls. */
static bool mutf7_unit(uint32_t u, uint32_t *hi, char *out, size_t cap,
                       size_t *o)
{
    if (*hi != 0) {
        if (u < 0xdc00 || u > 0xdfff)
            return false; /* high surrogate not followed by a low one */
        uint32_t cp = 0x10000 + ((*hi - 0xd800) << 10) + (u - 0xdc00);
        *hi = 0;
        return mutf7_put_utf8(out, cap, o, cp);
    }
    if (u >= 0xd800 && u <= 0xdbff) {
        *hi = u;
        return true;
    }
    /* lone low surrogate; ASCII that must be direct; NUL */
    if ((u >= 0xdc00 && u <= 0xdfff) || mutf7_is_direct(u) || u == 0)
        return false;
    return mutf7_put_utf8(out, cap, o, u);
}

bool mutf7_to_utf8(const char *in, size_t n, char *out, size_t cap,
                   size_t *len_r)
{
    size_t i = 0, o = 0;
    bool after_run = false; /* the previous token was a shifted run */

    if (cap == 0)
        return false;
    while (i < n) {
        unsigned char c = (unsigned char)in[i++];
        if (!mutf7_is_direct(c))
            return false;
        if (c != '&') {
            if (!mutf7_put(out, cap, &o, (char)c))
                return false;
            after_run = false;
            continue;
        }
        if (i < n && in[i] == '-') {
            if (!mutf7_put(out, cap, &o, '&'))
                return false;
            i++;
            after_run = false;
            continue;
        }
        /* "&A-&B-" must have been written as one run "&AB-". */
        if (after_run)
            return false;

        uint32_t bits = 0, hi = 0;
        unsigned nbits = 0;
        for (; i < n && in[i] != '-'; i++) {
            int v = mutf7_value((unsigned char)in[i]);
            if (v < 0)
                return false;
            bits = bits << 6 | (uint32_t)v;
            nbits += 6;
            if (nbits >= 16) {
                nbits -= 16;
                if (!mutf7_unit(bits >> nbits & 0xffff, &hi, out, cap, &o))
                    return false;
                bits &= (1u << nbits) - 1;
            }
        }
        if (i == n)
            return false; /* unterminated */
        /* A whole spare character, or set padding bits, would give the
         * same name a second spelling. */
        if (nbits >= 6 || bits != 0 || hi != 0)
            return false;
        i++; /* the "-" */
        after_run = true;
    }
    out[o] = '\0';
    if (len_r != NULL)
        *len_r = o;
    return true;
}

static bool mutf7_put_bits(char *out, size_t cap, size_t *o, uint32_t *bits,
                           unsigned *nbits, uint32_t u)
{
    *bits = *bits << 16 | u;
    *nbits += 16;
    while (*nbits >= 6) {
        *nbits -= 6;
        if (!mutf7_put(out, cap, o, mutf7_digit(*bits >> *nbits & 63)))
            return false;
    }
    *bits &= (1u << *nbits) - 1;
    return true;
}

bool mutf7_from_utf8(const char *in, size_t n, char *out, size_t cap,
                     size_t *len_r)
{
    size_t i = 0, o = 0;

    if (cap == 0)
        return false;
    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        if (mutf7_is_direct(c)) {
            if (!mutf7_put(out, cap, &o, (char)c))
                return false;
            if (c == '&' && !mutf7_put(out, cap, &o, '-'))
                return false;
            i++;
            continue;
        }
        /* One run for all consecutive non-direct characters: the decoder
         * refuses adjacent runs. */
        uint32_t bits = 0;
        unsigned nbits = 0;
        if (!mutf7_put(out, cap, &o, '&'))
            return false;
        while (i < n && !mutf7_is_direct((unsigned char)in[i])) {
            uint32_t cp;
            if (!utf8_next(in, n, &i, &cp) || cp == 0)
                return false;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                if (!mutf7_put_bits(out, cap, &o, &bits, &nbits,
                                    0xd800 | cp >> 10) ||
                    !mutf7_put_bits(out, cap, &o, &bits, &nbits,
                                    0xdc00 | (cp & 0x3ff)))
                    return false;
            } else if (!mutf7_put_bits(out, cap, &o, &bits, &nbits, cp)) {
                return false;
            }
        }
        if (nbits > 0 &&
            !mutf7_put(out, cap, &o, mutf7_digit(bits << (6 - nbits) & 63)))
            return false;
        if (!mutf7_put(out, cap, &o, '-'))
            return false;
    }
    out[o] = '\0';
    if (len_r != NULL)
        *len_r = o;
    return true;
}
