/* Modified UTF-7 mailbox names (RFC 3501 5.1.3) and UTF-8 validation.
 * Pure and strict: every name has exactly one valid encoding, so a name that
 * decodes re-encodes to the same bytes. */
#ifndef IMAPSRV_PROTO_MUTF7_H
#define IMAPSRV_PROTO_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

/* Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above
 * U+10FFFF.  NUL is valid UTF-8 and accepted here. */
bool utf8_valid(const char *s, size_t n);

/* Decode in[0..n) into UTF-8 in out (NUL-terminated, *len_r excludes the
 * NUL; len_r may be NULL).  False on any malformed input or when out is too
 * small; out is then unspecified.  Refused: bytes outside 0x20..0x7e, bad
 * base64 characters, an unterminated "&...", leftover bits that are
 * non-zero or make up a whole base64 character, printable ASCII or U+0000
 * inside a shifted run, two adjacent shifted runs, lone or reversed
 * surrogates. */
bool mutf7_to_utf8(const char *in, size_t n, char *out, size_t cap,
                   size_t *len_r);

/* Encode UTF-8 in[0..n) as modified UTF-7 (NUL-terminated).  False on
 * invalid UTF-8, on U+0000, or when out is too small. */
bool mutf7_from_utf8(const char *in, size_t n, char *out, size_t cap,
                     size_t *len_r);

#endif
