/* ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 7.5.2) from a header block
 * and a mime_part tree.  Strings go through the writer, which picks the
 * quoted or literal form; encoded words are passed through undecoded. */
#ifndef IMAPSRV_MAIL_ENVELOPE_H
#define IMAPSRV_MAIL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "mail/mime.h"
#include "proto/writer.h"

/* One parsed address; NULL members are NIL.  A group start has only
 * mailbox (the group name), a group end has all four NULL. */
struct env_addr {
    const char *name, *adl, *mailbox, *host;
};

/* Parse an RFC 5322 address-list value (unfolded).  Tolerant: never
 * fails on syntax; returns the number of entries, *list_r in arena.
 * Out of memory: 0 with *list_r NULL (value NULL: 0, *list_r not NULL).
 * The writers below set w->oom when the arena runs out. */
size_t env_parse_addresses(const char *value, struct arena *a,
                           struct env_addr **list_r);

/* The parenthesised ENVELOPE of a header block.  wflags: WSTR_* */
void env_write_envelope(struct wbuf *w, const char *hdr, size_t len,
                        struct arena *a, unsigned wflags);

/* BODYSTRUCTURE (extended true) or BODY (false) of a part: pass the root
 * for the whole message. */
void env_write_body(struct wbuf *w, const struct mime_part *part, bool extended,
                    struct arena *a, unsigned wflags);

#endif
