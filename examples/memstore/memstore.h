/* memstore: an in-memory mail store behind imapsrv_store_hooks.
 *
 * The smallest complete store: every hook answers at once (never
 * IMAPSRV_PENDING) and is thread-safe (one mutex per store).  Nothing is
 * persisted.  Data: users -> mailboxes ('/' delimiter, INBOX always there)
 * -> messages (UID, flags, keywords, internal date, raw RFC 5322 bytes),
 * plus each user's subscription list, which is independent of existence.
 *
 * Semantics worth knowing (RFC 9051):
 * - CREATE "a/b/c" creates missing parents; CREATE over a \Noselect name
 *   makes it selectable again.
 * - DELETE of a mailbox with children leaves it as \Noselect (messages
 *   gone); DELETE of a \Noselect mailbox with children, or of INBOX, is
 *   IMAPSRV_E_CANNOT.
 * - RENAME moves children along; RENAME of INBOX moves its messages into
 *   the new mailbox and leaves INBOX empty (its children stay).
 * - UIDVALIDITY comes from a per-store counter seeded by the clock, so a
 *   recreated mailbox never repeats an old value; UIDs are never reused.
 * - Handles from the open hook (and APPENDs in progress) hold a reference:
 *   if another session deletes the mailbox meanwhile they answer
 *   IMAPSRV_E_NONEXISTENT instead of touching freed memory.  A rename keeps
 *   the handle on the same mailbox.
 * - set_flags, expunge and move through a read-only (EXAMINE) handle answer
 *   IMAPSRV_E_NOPERM.
 * - An APPEND object lives from append_begin until append_end, which always
 *   frees it (commit or abort, success or error).
 */
#ifndef MEMSTORE_H
#define MEMSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "imapsrv.h"

typedef struct memstore memstore;

/* NULL when out of memory. */
memstore *memstore_new(void);
/* Free the store and everything in it; no session may still use it. */
void memstore_free(memstore **ms);

/* Fill `hooks_r` (size, userdata and every hook).  Users unknown to the
 * store are created, with an empty INBOX, on their first user_open. */
void memstore_hooks(memstore *ms, imapsrv_store_hooks *hooks_r);

/* Host-side provisioning (the same rules as the hooks). */

/* IMAPSRV_E_ALREADYEXISTS if the user exists. */
imapsrv_status memstore_add_user(memstore *ms, const char *user);
/* special_use: IMAPSRV_MBOX_SENT, ... (other bits are ignored).
 * IMAPSRV_E_NONEXISTENT if the user does not exist. */
imapsrv_status memstore_create_mailbox(memstore *ms, const char *user,
                                       const char *name, unsigned special_use);
/* Append a message (bytes copied; lines must end in CRLF).  flags: enum
 * imapsrv_flag; internaldate: seconds since the epoch, shown in UTC. */
imapsrv_status memstore_add_message(memstore *ms, const char *user,
                                    const char *mailbox, const char *bytes,
                                    size_t len, unsigned flags,
                                    int64_t internaldate);
/* Create the user if needed, subscribe INBOX, create and subscribe Sent,
 * Drafts, Trash, Archive (with their special-use attributes) and put three
 * sample messages into INBOX: plain text, multipart/alternative and one with
 * a base64 attachment.  Call once per user. */
imapsrv_status memstore_load_demo(memstore *ms, const char *user);

#endif
