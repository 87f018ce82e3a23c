/* RFC 2047 decoder.  Whitespace between two adjacent encoded words is
 * dropped (RFC 2047 6.2); everything else is copied as it is. */
#include "mail/rfc2047.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "proto/base64.h"

enum cs { CS_UTF8, CS_LATIN1, CS_CP1252 };

/* 0x80..0x9F of Windows-1252; the five undefined bytes stay C1 */
static const uint16_t cp1252[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static bool charset_of(const char *s, size_t n, enum cs *cs_r)
{
    const char *star = memchr(s, '*', n); /* RFC 2231 language suffix */

    if (star != NULL)
        n = (size_t)(star - s);
#define IS(name) (n == sizeof(name) - 1 && strncasecmp(s, name, n) == 0)
    if (IS("utf-8") || IS("us-ascii") || IS("utf8") || IS("ascii"))
        *cs_r = CS_UTF8;
    else if (IS("iso-8859-1") || IS("latin1") || IS("iso_8859-1"))
        *cs_r = CS_LATIN1;
    else if (IS("windows-1252") || IS("cp1252"))
        *cs_r = CS_CP1252;
    else
        return false;
#undef IS
    return true;
}

static size_t put_cp(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode the text of one encoded word into out (capacity 3 * n);
 * returns the length, or (size_t)-1 when the encoding is broken. */
static size_t decode_word(enum cs cs, char enc, const char *t, size_t n,
                          char *out)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        int byte;
        if (enc == 'B') {
            if (t[i] == '=')
                break; /* padding: done (lenient) */
            int v = base64_value((unsigned char)t[i]);
            if (v < 0)
                return (size_t)-1;
            acc = (acc << 6) | (unsigned)v;
            bits += 6;
            if (bits < 8)
                continue;
            bits -= 8;
            byte = (int)((acc >> bits) & 0xFF);
        } else if (t[i] == '_') {
            byte = ' ';
        } else if (t[i] == '=') {
            int h, l;
            if (i + 2 >= n || (h = hexval(t[i + 1])) < 0 ||
                (l = hexval(t[i + 2])) < 0)
                return (size_t)-1;
            byte = h * 16 + l;
            i += 2;
        } else {
            byte = (unsigned char)t[i];
        }
        if (byte < 0x80 || cs == CS_UTF8)
            out[o++] = (char)byte;
        else if (cs == CS_CP1252 && byte < 0xA0)
            o += put_cp(out + o, cp1252[byte - 0x80]);
        else
            o += put_cp(out + o, (unsigned)byte);
    }
    return o;
}

/* Parse "=?cs?E?text?=" at s[i]; fills the pieces, returns its length or
 * 0 when there is no well-formed encoded word here. */
static size_t scan_word(const char *s, size_t n, size_t i, size_t *cs_end,
                        char *enc, size_t *text, size_t *text_end)
{
    size_t j = i + 2, k;

    if (i + 1 >= n || s[i] != '=' || s[i + 1] != '?')
        return 0;
    while (j < n && s[j] != '?' && s[j] != ' ' && s[j] != '\t')
        j++;
    if (j + 3 >= n || j == i + 2 || s[j] != '?' || s[j + 2] != '?')
        return 0;
    *cs_end = j;
    *enc = (char)(s[j + 1] & ~0x20);
    if (*enc != 'B' && *enc != 'Q')
        return 0;
    k = j + 3;
    *text = k;
    while (k < n && s[k] != '?' && s[k] != ' ' && s[k] != '\t')
        k++;
    if (k + 1 >= n || s[k] != '?' || s[k + 1] != '=')
        return 0;
    *text_end = k;
    return k + 2 - i;
}

char *rfc2047_decode(const char *s, size_t n, struct arena *a, size_t *len_r)
{
    char *out = arena_alloc(a, 3 * n + 1);
    size_t o = 0, i = 0, ws_start = 0;
    bool after_word = false;

    if (out == NULL)
        return NULL;
    while (i < n) {
        size_t cs_end, text, text_end, wl, d;
        char enc;
        enum cs cs;

        wl = scan_word(s, n, i, &cs_end, &enc, &text, &text_end);
        if (wl > 0 && charset_of(s + i + 2, cs_end - i - 2, &cs) &&
            (d = decode_word(cs, enc, s + text, text_end - text, out + o)) !=
                (size_t)-1) {
            /* whitespace between two encoded words is dropped */
            size_t dst = after_word ? ws_start : o;
            memmove(out + dst, out + o, d);
            o = dst + d;
            i += wl;
            after_word = true;
            ws_start = o;
            continue;
        }
        if (after_word && s[i] != ' ' && s[i] != '\t')
            after_word = false;
        out[o++] = s[i++];
    }
    out[o] = '\0';
    if (len_r != NULL)
        *len_r = o;
    return out;
}
