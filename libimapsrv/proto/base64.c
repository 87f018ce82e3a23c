/* base64: see base64.h. */
#include "proto/base64.h"

#include <stdint.h>

const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t base64_encoded_len(size_t n)
{
    if (n / 3 >= SIZE_MAX / 4)
        return SIZE_MAX;
    return (n + 2) / 3 * 4;
}

size_t base64_encode(const void *in, size_t n, char *out, size_t cap)
{
    const unsigned char *p = in;
    size_t len = base64_encoded_len(n), o = 0;

    if (len >= cap) /* no room for the NUL (SIZE_MAX never fits) */
        return 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[o++] = base64_alphabet[v >> 18];
        out[o++] = base64_alphabet[(v >> 12) & 63];
        out[o++] = left > 1 ? base64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? base64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

bool base64_decode(const char *in, size_t n, void *out, size_t cap,
                   size_t *len_r)
{
    unsigned char *o = out;
    size_t pad = 0;

    if (n % 4 != 0)
        return false;
    if (n > 0 && in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    size_t len = n / 4 * 3 - pad;
    if (len > cap)
        return false;

    for (size_t i = 0; i < n; i += 4) {
        size_t tail = i + 4 == n ? pad : 0;
        int a = base64_value((unsigned char)in[i]);
        int b = base64_value((unsigned char)in[i + 1]);
        int c = tail == 2 ? 0 : base64_value((unsigned char)in[i + 2]);
        int d = tail >= 1 ? 0 : base64_value((unsigned char)in[i + 3]);
        /* A misplaced "=" or any stray byte shows up as -1 here. */
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return false;
        /* The bits past the last encoded byte must be zero, otherwise
         * several texts would decode to the same bytes. */
        if ((tail == 2 && (b & 0x0f) != 0) || (tail == 1 && (c & 0x03) != 0))
            return false;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
                     (uint32_t)d;
        *o++ = (unsigned char)(v >> 16);
        if (tail < 2)
            *o++ = (unsigned char)(v >> 8);
        if (tail < 1)
            *o++ = (unsigned char)v;
    }
    if (len_r != NULL)
        *len_r = len;
    return true;
}
