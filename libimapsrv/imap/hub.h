/* Mailbox hub: which sessions have which mailbox selected, so that a change
 * one session makes (or the host reports with imapsrv_notify_mailbox())
 * reaches every other session watching that mailbox, on whatever loop
 * thread it lives.  A change is published once and shared by reference;
 * each watch queues it and posts one task to its loop, which hands the
 * queue to the session.  Thread-safe. */
#ifndef IMAPSRV_IMAP_HUB_H
#define IMAPSRV_IMAP_HUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "imapsrv.h"

enum hub_kind {
    HUB_NEW,     /* messages were added: read the list from UIDNEXT on */
    HUB_FLAGS,   /* a STORE: apply how/flags/keywords to uids */
    HUB_EXPUNGE, /* uids are gone */
    HUB_RESYNC,  /* anything may have changed: read the whole list */
    HUB_RENAMED, /* the watched mailbox has a new name (hub_watch_name) */
};

struct hub_change {
    atomic_int refs;
    enum hub_kind kind;
    uint32_t *uids; /* ascending */
    size_t count;
    imapsrv_flag_op how;
    unsigned flags;
    char **keywords;
    size_t keyword_count;
};

/* Build a change (everything copied); NULL when out of memory. */
struct hub_change *hub_change_new(enum hub_kind kind, const uint32_t *uids,
                                  size_t count, imapsrv_flag_op how,
                                  unsigned flags, const char *const *keywords,
                                  size_t keyword_count);
void hub_change_unref(struct hub_change *c);

struct hub;
struct hub_watch;

/* Called on the watch's loop thread when changes are queued. */
typedef void (*hub_notify_fn)(void *owner);

struct hub *hub_new(void);
void hub_free(struct hub **h);

/* Watch user's mailbox from loop lp.  NULL when out of memory. */
struct hub_watch *hub_watch(struct hub *h, const char *user,
                            const char *mailbox, struct loop *lp,
                            hub_notify_fn fn, void *owner);
/* Stop watching (the watch's loop thread); queued changes are dropped. */
void hub_unwatch(struct hub_watch *w);

/* Queue c for every watch of user's mailbox except `except` (may be NULL);
 * user NULL: of every user.  Takes no reference from the caller. */
void hub_publish(struct hub *h, const char *user, const char *mailbox,
                 struct hub_change *c, const struct hub_watch *except);

/* Publish as the mailbox `from` watches now (its name may have changed by
 * a RENAME elsewhere), to every other watch of it. */
void hub_publish_as(struct hub *h, const struct hub_watch *from,
                    struct hub_change *c);
/* RENAME: watches of user's `from` and of its children follow to `to`
 * (a handle follows the mailbox); each gets a HUB_RENAMED change. */
void hub_rename(struct hub *h, const char *user, const char *from,
                const char *to);
/* The watched mailbox's current name, malloc'd (NULL: out of memory). */
char *hub_watch_name(struct hub_watch *w);

/* Take the queued changes, oldest first (loop thread).  Returns the count
 * stored in out (at most max); call until 0.  The caller unrefs each. */
size_t hub_take(struct hub_watch *w, struct hub_change **out, size_t max);

/* \Recent (RFC 3501 2.3.2): a message is recent for the one session that
 * sees it first.  The hub remembers, per user's mailbox, the UID from
 * which messages are still unclaimed (for the server's lifetime; a mailbox
 * first seen by SELECT has nothing recent, a mailbox first seen by an
 * APPEND or COPY into it has recent messages from the first added).
 *
 * Claim: the UID from which messages are recent for the caller; with
 * `take`, messages below `upto` are the caller's from now on. */
uint32_t hub_recent_claim(struct hub *h, const char *user, const char *mailbox,
                          uint32_t upto, bool take);
/* Messages from first_uid on were added through the library. */
void hub_recent_added(struct hub *h, const char *user, const char *mailbox,
                      uint32_t first_uid);
/* The unclaimed floor, 0 when the mailbox was never seen. */
uint32_t hub_recent_floor(struct hub *h, const char *user, const char *mailbox);

#endif
