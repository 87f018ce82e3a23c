/* Streaming MIME parser (RFC 2045/2046, RFC 5322 framing).  The message is
 * fed in chunks of any size; the parser keeps only header blocks (bounded)
 * and its state, and builds a tree of parts described by byte offsets into
 * the message.  Pure: no I/O.  Feeding byte by byte gives the same tree. */
#ifndef IMAPSRV_MAIL_MIME_H
#define IMAPSRV_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "imapsrv.h"

struct mime_param {
    const char *name, *value; /* NUL-terminated, in the tree's arena */
    struct mime_param *next;
};

struct mime_part {
    uint64_t header_start, header_end; /* header_end == body_start */
    uint64_t body_start, body_end;
    uint64_t lines; /* lines of the body (see mime.c for the rule) */
    /* Parsed MIME fields; NULL when absent.  type/subtype are upper-case,
     * never NULL (defaults applied). */
    const char *type, *subtype;
    struct mime_param *params;
    const char *id, *description, *encoding, *md5;
    const char *disposition; /* upper-case */
    struct mime_param *disp_params;
    const char *language, *location;
    /* Header block of a message (the root and the child of a message/rfc822
     * part), for ENVELOPE; NULL for other parts.  Truncated at the limit. */
    const char *header;
    size_t header_len;
    bool multipart; /* has children (multipart/... with a boundary) */
    bool message;   /* message/rfc822 whose child is the message */
    struct mime_part *parent, *children, *next;
    unsigned nchildren;
};

struct mime_limits {
    unsigned max_depth; /* nesting of multipart + message levels */
    unsigned max_parts;
    size_t max_header; /* bytes kept per header block */
};

void mime_limits_init(struct mime_limits *l); /* 20, 1000, 64 KiB */

#define MIME_LINE_KEEP 256 /* line prefix kept to recognise boundaries */
#define MIME_MAX_STACK 64

struct mime_frame {
    struct mime_part *part;
    const char *boundary; /* multipart only */
    size_t blen;
    struct mime_part *last; /* last child, for O(1) appends */
    uint64_t lf_count;      /* LFs in the body so far */
    bool closed;            /* multipart saw its close delimiter */
};

struct mime_parser {
    struct mime_limits lim;
    struct arena *arena;
    struct mime_part *root;
    struct mime_frame stack[MIME_MAX_STACK];
    unsigned depth; /* frames in use */
    unsigned nparts;
    bool in_header; /* the top frame's header is being read */
    bool frozen;    /* a limit was hit: no more structure */
    bool oom;
    uint64_t off; /* bytes consumed */
    uint64_t line_start;
    uint64_t lf_last, lf_prev; /* offsets of the last two LFs + 1 */
    bool line_cr;              /* previous line ended in CRLF */
    unsigned char last;        /* last byte seen */
    char line[MIME_LINE_KEEP];
    size_t line_len; /* total length of the current line */
    char *hdr;       /* header block being collected (malloc'd) */
    size_t hdr_len, hdr_cap;
    uint64_t hdr_dropped; /* bytes over max_header, counted */
};

/* The tree is allocated from arena, which outlives the parser's result. */
void mime_parser_init(struct mime_parser *p, const struct mime_limits *lim,
                      struct arena *arena);
void mime_feed(struct mime_parser *p, const void *data, size_t len);
/* Complete the tree: IMAPSRV_OK, or IMAPSRV_E_NOMEM when memory ran out
 * (the arena's limit included).  Frees the parser's own buffers (call it,
 * or mime_parser_free(), exactly once). */
imapsrv_status mime_finish(struct mime_parser *p, struct mime_part **root_r);
void mime_parser_free(struct mime_parser *p);

/* Value of parameter `name` (case-insensitive), NULL when absent. */
const char *mime_param_get(const struct mime_param *p, const char *name);
/* s points at '(' of an RFC 5322 comment (nested, with quoted pairs): the
 * byte after its closing ')', or the end of the string. */
const char *mime_skip_comment(const char *s);

/* Convenience: parse a whole message in memory. */
imapsrv_status mime_parse(const void *msg, size_t len,
                          const struct mime_limits *lim, struct arena *arena,
                          struct mime_part **root_r);

/* First field `name` of a header block, unfolded (CR/LF removed) and
 * trimmed, copied into arena; NULL when absent. */
const char *mime_header_get(const char *hdr, size_t len, const char *name,
                            struct arena *arena);
/* The same; *oom_r is set (never cleared) when the copy failed. */
const char *mime_header_fetch(const char *hdr, size_t len, const char *name,
                              struct arena *arena, bool *oom_r);

/* Streaming Content-Transfer-Encoding decoders (base64, quoted-printable;
 * anything else is copied).  Lenient: base64 skips characters outside
 * the alphabet, a broken QP escape is copied as it is.  QP drops
 * whitespace at the end of a line (RFC 2045 6.7 rule 3), so it holds
 * back at most MIME_DEC_SLACK bytes between calls. */
#define MIME_DEC_SLACK 80

struct mime_decoder {
    int kind; /* 0 copy, 1 base64, 2 quoted-printable */
    unsigned acc;
    int bits;
    char pend[MIME_DEC_SLACK];
    size_t npend;
};

/* encoding: a part's `encoding` (NULL = 7bit). */
void mime_decoder_init(struct mime_decoder *d, const char *encoding);
/* Decode in[0..n) into out, which has room for n + MIME_DEC_SLACK bytes;
 * returns the bytes written. */
size_t mime_decode(struct mime_decoder *d, const void *in, size_t n, void *out);
/* End of input: flush what is held back (room: MIME_DEC_SLACK). */
size_t mime_decode_finish(struct mime_decoder *d, void *out);

#endif
