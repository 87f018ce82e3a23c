/* Selected-mailbox view: the session's picture of the mailbox it has
 * selected.  Messages sit in one array in UID order; a message's sequence
 * number is its index + 1, so seq -> UID is O(1) and UID -> seq is a binary
 * search.  Pure: no I/O, no locking; one view belongs to one session. */
#ifndef IMAPSRV_MAIL_VIEW_H
#define IMAPSRV_MAIL_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imapsrv.h"

/* Keywords are bits of a 64-bit mask indexing the view's keyword table, so
 * a view knows at most this many distinct keywords (PERMANENTFLAGS can stop
 * offering \* once the table is full). */
#define VIEW_MAX_KEYWORDS 64

/* View-private flag bit beside enum imapsrv_flag: expunged by someone else
 * but not yet announced, so the message keeps its sequence number. */
#define VIEW_F_GONE (1u << 15)

/* 40 bytes a message: 100,000 messages are 4 MB. */
struct view_msg {
    uint64_t modseq;
    uint64_t keywords; /* bit i: keyword table entry i */
    uint64_t size;
    int64_t internaldate; /* seconds since the epoch, UTC */
    uint32_t uid;
    uint16_t flags; /* enum imapsrv_flag | VIEW_F_GONE */
    int16_t tz_offset_min;
};

struct view {
    struct view_msg *msgs;
    uint32_t count, cap;
    char *keywords[VIEW_MAX_KEYWORDS];
    unsigned keyword_count;
    uint32_t uidvalidity;
    uint32_t uidnext; /* always > the last UID in the view */
    uint64_t highestmodseq;
    /* kept as the messages change, so STATUS-like counts cost nothing */
    uint32_t n_unseen, n_deleted, n_recent, n_gone;
};

void view_init(struct view *v, uint32_t uidvalidity, uint32_t uidnext);
/* Release everything and return to the empty state. */
void view_free(struct view *v);
/* Room for n messages in total (SELECT knows the count ahead). */
imapsrv_status view_reserve(struct view *v, uint32_t n);

/* Index of a keyword in the table, adding it when new (case-insensitive, as
 * IMAP compares flags).  -1 when the table is full or memory ran out. */
int view_keyword_intern(struct view *v, const char *kw, size_t len);
/* Index or -1 when absent; never adds. */
int view_keyword_find(const struct view *v, const char *kw, size_t len);
/* Mask for a keyword list, interning each; IMAPSRV_E_LIMIT when the table
 * overflows. */
imapsrv_status view_keyword_mask(struct view *v, const char *const *kws,
                                 size_t n, uint64_t *mask_r);

/* Append a message (loading at SELECT, or a new one: EXISTS).  The UID must
 * exceed the last one (IMAPSRV_E_INVALID otherwise); uidnext, highestmodseq
 * and the counts follow. */
imapsrv_status view_append(struct view *v, const struct view_msg *m);
/* The same from the store's enumeration, interning the keywords. */
imapsrv_status view_append_info(struct view *v,
                                const imapsrv_message_info *info);

static inline uint32_t view_exists(const struct view *v)
{
    return v->count;
}

/* Sequence number of a UID, 0 when the UID is not in the view. */
uint32_t view_uid_to_seq(const struct view *v, uint32_t uid);
/* UID of a sequence number, 0 when out of range. */
uint32_t view_seq_to_uid(const struct view *v, uint32_t seq);
/* Index of the first message whose UID is >= uid (count when none). */
uint32_t view_lower_bound(const struct view *v, uint32_t uid);

static inline struct view_msg *view_msg_at(struct view *v, uint32_t idx)
{
    return idx < v->count ? &v->msgs[idx] : NULL;
}

/* Replace the flags and keywords of the message at idx (VIEW_F_GONE is kept
 * as it was); modseq raises HIGHESTMODSEQ when given (non-zero). */
void view_set_flags(struct view *v, uint32_t idx, unsigned flags,
                    uint64_t keywords, uint64_t modseq);
/* Remove the message at idx: every later sequence number drops by one. */
void view_remove(struct view *v, uint32_t idx);
/* Remove by UID; returns the sequence number it had, 0 if absent. */
uint32_t view_expunge_uid(struct view *v, uint32_t uid);
/* Remove the messages at the n ascending indexes idx[] in one pass (one
 * memmove per message costs O(count) each: 1000 expunges in 100k messages
 * would move 2 GB). */
void view_remove_sorted(struct view *v, const uint32_t *idx, size_t n);
/* Expunge a sorted list of UIDs (the session's own EXPUNGE): absent UIDs
 * are skipped; seqs_r[] receives, for the k present ones in ascending
 * order, the numbers to announce in that order ("* N EXPUNGE" each time
 * counts the earlier removals).  Returns k. */
size_t view_expunge_uids(struct view *v, const uint32_t *uids, size_t n,
                         uint32_t *seqs_r);
/* Mark as expunged-but-not-announced (keeps its sequence number). */
void view_mark_gone(struct view *v, uint32_t idx);

/* Counts (the SELECT / STATUS numbers). */
static inline uint32_t view_unseen(const struct view *v)
{
    return v->n_unseen;
}
static inline uint32_t view_deleted(const struct view *v)
{
    return v->n_deleted;
}
static inline uint32_t view_recent(const struct view *v)
{
    return v->n_recent;
}
/* Sequence number of the first message without \Seen, 0 if none. */
uint32_t view_first_unseen(const struct view *v);

#endif
