/* SEARCH evaluation (RFC 9051 6.4.4, RFC 3501 6.4.4).  A parsed key tree is
 * compiled once per command into a program; each message is then evaluated
 * with what is known of it so far.  Keys that need the message's header or
 * body text answer SEARCH_UNKNOWN until the caller supplies them, so a
 * search on flags never reads a message and a search on a header never
 * reads a body.  Pure: no I/O. */
#ifndef IMAPSRV_MAIL_SEARCH_H
#define IMAPSRV_MAIL_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "imapsrv.h"
#include "mail/mime.h"
#include "mail/view.h"
#include "proto/command.h"

enum search_truth { SEARCH_FALSE = 0, SEARCH_TRUE = 1, SEARCH_UNKNOWN = 2 };

/* What a program may need beyond the view (search_uses()). */
enum {
    SEARCH_USES_HEADER = 1u << 0, /* header keys, SENT*, FROM.., TEXT */
    SEARCH_USES_BODY = 1u << 1,   /* BODY, TEXT */
};

struct search_prog; /* opaque; lives in the arena given to compile */

/* Compile root (the parser's SK_AND of the top-level keys) against view v.
 * charset: NULL, "UTF-8" or "US-ASCII" (any case); another charset gives
 * IMAPSRV_E_UNSUPPORTED (the caller answers NO [BADCHARSET (UTF-8
 * US-ASCII)]).  Sequence sets are evaluated now against v (a sequence number
 * beyond EXISTS gives IMAPSRV_E_INVALID with *err_r set); UID sets as UIDs.
 * A "$" set (SEARCHRES) takes the saved result: saved_uids[0..n_saved),
 * ascending (NULL/0: the empty set).  Keywords are looked up in v's table
 * (a keyword v has never seen matches no message).  Needles are case-folded
 * once here. */
imapsrv_status search_compile(const struct search_key *root,
                              const char *charset, const struct view *v,
                              const uint32_t *saved_uids, size_t n_saved,
                              struct arena *a, struct search_prog **prog_r,
                              const char **err_r);
unsigned search_uses(const struct search_prog *p);

/* A store's own index (search_body hook): the program's body needles
 * (TEXT's body half included), folded, and their answers as UIDs.  Once
 * every needle is answered, search_uses() no longer has
 * SEARCH_USES_BODY and no message needs its text read. */
size_t search_body_count(const struct search_prog *p);
const char *search_body_needle(const struct search_prog *p, size_t k);
/* uids[0..n) in any order; copied into a.  IMAPSRV_E_NOMEM only. */
imapsrv_status search_set_body_result(struct search_prog *p, size_t k,
                                      const uint32_t *uids, size_t n,
                                      struct arena *a);

/* Body text state of one message: which BODY/TEXT needles were found in the
 * decoded text of its parts.  Created once per command, reset per message. */
struct search_text;
struct search_text *search_text_new(const struct search_prog *p,
                                    struct arena *a);
/* Start a message whose MIME tree is root (from mime_parse of the same
 * bytes).  */
void search_text_begin(struct search_text *t, const struct mime_part *root);
/* Feed the raw message bytes in order, from offset 0, in chunks of any size.
 * Only the bodies of leaf text parts count (text/..., and message/rfc822
 * bodies recurse through their own parts): each is decoded (base64,
 * quoted-printable), converted to UTF-8 (charset parameter UTF-8, US-ASCII,
 * ISO-8859-1, Windows-1252; unknown charsets are taken as they are) and
 * matched case-insensitively; a match never spans two parts. */
void search_text_feed(struct search_text *t, const void *data, size_t len);
/* End of the message. */
void search_text_end(struct search_text *t);

/* One message as known so far. */
struct search_msg {
    const struct view *v;
    uint32_t idx;             /* view index (sequence number - 1) */
    const char *header;       /* raw header block (CRLF lines, up to and
                                 including the blank line); NULL: not loaded */
    size_t header_len;
    const struct search_text *text; /* after search_text_end(); NULL: not
                                       loaded */
};

/* Evaluate: SEARCH_UNKNOWN only when header or text is NULL and a key needs
 * it (three-valued logic, so FALSE AND UNKNOWN is FALSE).  scratch is for
 * temporary decoding (the caller resets it between messages). */
enum search_truth search_eval(const struct search_prog *p,
                              const struct search_msg *msg,
                              struct arena *scratch);

/* Helpers, exposed for the tests and for other modules. */

/* Case-fold UTF-8 for comparison: ASCII and the Latin-1 Supplement, Latin
 * Extended-A, Greek and Cyrillic capitals to small; invalid bytes copied.
 * out has room for 2 * n bytes; returns the length written. */
size_t search_fold(const char *in, size_t n, char *out);
/* Parse an RFC 5322 Date: value (tolerant: optional weekday, 2- or 4-digit
 * year, obsolete zones) into its calendar date as written (zone ignored,
 * as SENTBEFORE/SENTON/SENTSINCE compare).  False when unparsable. */
bool search_parse_date(const char *s, size_t n, struct imap_date *d_r);

#endif
