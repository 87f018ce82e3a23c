/* RFC 2047 encoded-word decoding to UTF-8 (for SEARCH).  B and Q
 * encodings; charsets UTF-8, US-ASCII, ISO-8859-1 and Windows-1252.
 * Encoded words with another charset or a broken encoding are kept as
 * they are, so nothing is lost. */
#ifndef IMAPSRV_MAIL_RFC2047_H
#define IMAPSRV_MAIL_RFC2047_H

#include <stddef.h>

#include "core/arena.h"

/* Decode s[0..n) (an unfolded header value); the result is NUL-terminated
 * in arena, *len_r (may be NULL) gets its length.  NULL on out of memory. */
char *rfc2047_decode(const char *s, size_t n, struct arena *a, size_t *len_r);

#endif
