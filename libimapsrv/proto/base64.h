/* base64 (RFC 4648 section 4: standard alphabet, padded), strict decoding
 * as SASL exchanges need it. */
#ifndef IMAPSRV_PROTO_BASE64_H
#define IMAPSRV_PROTO_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the encoding of n bytes, without the NUL; SIZE_MAX when it
 * would not fit in a size_t. */
size_t base64_encoded_len(size_t n);

/* Encode in[0..n) into out and NUL-terminate; returns the length without
 * the NUL.  When cap < base64_encoded_len(n) + 1 nothing is written and 0 is
 * returned (also the result for n == 0, where "" is written if cap > 0). */
size_t base64_encode(const void *in, size_t n, char *out, size_t cap);

/* Strict decode of in[0..n): n a multiple of 4, "=" padding only at the end,
 * no whitespace, only alphabet characters, unused trailing bits zero.  The
 * result (not NUL-terminated) must fit in cap.  *len_r (may be NULL) gets
 * the decoded length.  On false, out may hold partial output. */
bool base64_decode(const char *in, size_t n, void *out, size_t cap,
                   size_t *len_r);

/* The RFC 4648 alphabet, and the value of one of its characters (-1 for
 * anything else, "=" included); modified UTF-7 builds on both. */
extern const char base64_alphabet[];
int base64_value(unsigned char c);

#endif
