/* FETCH body sections (RFC 9051 6.4.5): where in the raw message the bytes
 * of BODY[...] / BINARY[...] are, and the header filtering of
 * HEADER.FIELDS / HEADER.FIELDS.NOT.  Pure: works on a mime_part tree and
 * byte buffers, no I/O. */
#ifndef IMAPSRV_MAIL_SECTION_H
#define IMAPSRV_MAIL_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imapsrv.h"
#include "mail/mime.h"
#include "proto/command.h"
#include "proto/writer.h"

enum section_kind {
    SECTION_NIL,    /* no such part: the answer is NIL */
    SECTION_RANGE,  /* the message bytes [start, end) as they are */
    SECTION_FILTER, /* the header bytes [start, end), filtered by the
                       section's field list (HEADER.FIELDS[.NOT]) */
};

struct section_loc {
    enum section_kind kind;
    uint64_t start, end;
    const struct mime_part *part; /* the part addressed (BINARY decodes
                                     with part->encoding) */
};

/* Locate sec in the message whose tree is root (RFC 9051 6.4.5 rules:
 * part 1 of a non-multipart message is its body; the parts of a
 * message/rfc822 part are those of the message it holds; HEADER, TEXT and
 * HEADER.FIELDS after a part number need a message/rfc822 part; MIME needs
 * a part number).  A part number that does not exist gives SECTION_NIL. */
void section_locate(const struct mime_part *root,
                    const struct fetch_section *sec, struct section_loc *loc_r);

/* HEADER.FIELDS (not false) or HEADER.FIELDS.NOT (not true): copy the
 * fields of the header block hdr[0..len) whose names are (or are not) in
 * fields[0..n) (case-insensitive), each with its continuation lines, in
 * their order, then the blank line that ends a header ("\r\n").  A last
 * line cut without a line end gets "\r\n".  out has room for len + 4
 * bytes; returns the bytes written. */
size_t section_filter_header(const char *hdr, size_t len,
                             const struct imap_str *fields, size_t n, bool not,
                             char *out);

/* Clamp a <partial> to a section of `size` bytes: *start_r is the offset
 * into the section, *len_r the bytes to send (0 when offset >= size). */
void section_partial(uint64_t size, uint64_t offset, uint64_t count,
                     uint64_t *start_r, uint64_t *len_r);

/* The response item name of a fetch attribute: "BODY[1.HEADER.FIELDS
 * (FROM TO)]", with "<origin>" for a partial, "BINARY[2]",
 * "BINARY.SIZE[2]" (the field names as the client sent them, as
 * astrings). */
void section_write_name(struct wbuf *w, const struct fetch_att *att);

/* Whether BINARY can decode a part of this Content-Transfer-Encoding
 * (NULL, 7BIT, 8BIT, BINARY, BASE64, QUOTED-PRINTABLE, any case); other
 * encodings get NO [UNKNOWN-CTE]. */
bool section_binary_ok(const char *encoding);

#endif
