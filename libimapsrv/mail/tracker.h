/* Change tracker: what other sessions and the store did to the selected
 * mailbox, queued until the session may tell its client.  tracker_flush()
 * applies the queue to the view in order and writes the untagged responses
 * (EXISTS, EXPUNGE, FETCH FLAGS).  While expunges are not allowed (during
 * FETCH, STORE, SEARCH: RFC 9051 7.5.1) they stay queued and the message is
 * only marked VIEW_F_GONE, keeping its sequence number, so every number the
 * client has seen stays right. */
#ifndef IMAPSRV_MAIL_TRACKER_H
#define IMAPSRV_MAIL_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imapsrv.h"
#include "mail/view.h"
#include "proto/writer.h"

enum tracker_ev_type {
    TRACKER_NEW,     /* msg: a new message (UID above the view's last) */
    TRACKER_EXPUNGE, /* msg.uid */
    TRACKER_FLAGS,   /* msg.uid, msg.flags, msg.keywords, msg.modseq */
};

struct tracker_ev {
    enum tracker_ev_type type;
    struct view_msg msg;
};

struct tracker {
    struct tracker_ev *evs;
    size_t count, cap;
};

/* FETCH responses for flag changes carry UID (after a UID command, or
 * always under UIDONLY/QRESYNC) and MODSEQ (CONDSTORE enabled). */
enum {
    TRACKER_FETCH_UID = 1,
    TRACKER_FETCH_MODSEQ = 2,
    /* QRESYNC enabled: expunges as "* VANISHED uid-set" (RFC 7162 3.2.10),
     * consecutive ones coalesced into one line */
    TRACKER_VANISHED = 4,
};

void tracker_init(struct tracker *t);
void tracker_free(struct tracker *t);

/* Queue a change.  Keywords are bits of the session view's table (intern
 * them with view_keyword_mask() first).  IMAPSRV_E_NOMEM only. */
imapsrv_status tracker_new(struct tracker *t, const struct view_msg *m);
imapsrv_status tracker_expunge(struct tracker *t, uint32_t uid);
imapsrv_status tracker_flags(struct tracker *t, uint32_t uid, unsigned flags,
                             uint64_t keywords, uint64_t modseq);

static inline bool tracker_pending(const struct tracker *t)
{
    return t->count > 0;
}

/* Apply the queue to v and write the untagged lines to w.  Consecutive new
 * messages give one "* N EXISTS"; each expunge "* N EXPUNGE" with N the
 * sequence number at that moment (or VANISHED, see above); each flag change
 * of a message the client can see "* N FETCH (FLAGS (...))".  Numbers in
 * later lines count the earlier removals, exactly as the client applies
 * them.  Changes to UIDs not in the view (expunged already, or never
 * announced) are dropped.  With allow_expunge false (during FETCH, STORE,
 * SEARCH) expunges stay queued and their messages are marked VIEW_F_GONE;
 * their flag changes are no longer told.  fetch_opts: TRACKER_* above. */
void tracker_flush(struct tracker *t, struct view *v, bool allow_expunge,
                   unsigned fetch_opts, struct wbuf *w);

/* "(\Seen \Deleted kw1 ...)": a message's flags as FETCH FLAGS shows them. */
void tracker_write_flags(struct wbuf *w, const struct view *v,
                         const struct view_msg *m);

#endif
