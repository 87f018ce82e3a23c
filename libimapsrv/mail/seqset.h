/* Sequence sets against a view: evaluation of a parsed struct imap_seqset
 * as sequence numbers or UIDs into merged spans of view indexes (never one
 * entry per number: 1:4294967295 costs the same as 1), and the reverse,
 * UID lists written as compact sets ("1:3,7,9:12"). */
#ifndef IMAPSRV_MAIL_SEQSET_H
#define IMAPSRV_MAIL_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imapsrv.h"
#include "mail/view.h"
#include "proto/command.h"
#include "proto/writer.h"

struct seqset_span {
    uint32_t first, last; /* view indexes, inclusive, first <= last */
};

/* Sorted, disjoint, non-adjacent spans. */
struct seqset_result {
    struct seqset_span *spans;
    size_t count, cap;
    uint32_t total; /* messages matched */
    uint32_t bad;   /* sequence number beyond EXISTS (0: none) */
};

void seqset_result_init(struct seqset_result *r);
void seqset_result_free(struct seqset_result *r);

/* Evaluate set against v into r (emptied first).  With uid false the
 * numbers are sequence numbers: '*' is EXISTS, and a number > EXISTS (or
 * any number in an empty mailbox) gives IMAPSRV_E_INVALID with r->bad set
 * to it, for the caller's BAD.  With uid true, '*' is the largest UID in
 * use, a range matches the UIDs present in it, UIDs absent are skipped, and
 * an empty mailbox matches nothing.  A "$" set gives IMAPSRV_E_STATE: the
 * caller substitutes the saved result.  IMAPSRV_E_NOMEM as usual. */
imapsrv_status seqset_eval(const struct imap_seqset *set, const struct view *v,
                           bool uid, struct seqset_result *r);

/* Is view index idx in r?  Binary search. */
bool seqset_result_has(const struct seqset_result *r, uint32_t idx);

/* Call fn for every matched index in ascending order; a non-zero return
 * stops the walk and is returned. */
int seqset_result_each(const struct seqset_result *r,
                       int (*fn)(void *ctx, uint32_t idx), void *ctx);

/* Write uids as a sequence set, consecutive runs as "a:b", in the order
 * given (sorted input gives the canonical form; COPYUID pairs keep their
 * order).  Nothing for n == 0. */
void seqset_format_wbuf(struct wbuf *w, const uint32_t *uids, size_t n);
/* The same into buf (always NUL-terminated when size > 0); returns the
 * length the whole string needs, as snprintf does. */
size_t seqset_format_buf(char *buf, size_t size, const uint32_t *uids,
                         size_t n);
/* The UIDs of the messages in r as a set (ESEARCH ALL, UID SEARCH): walks
 * runs, so a matched range of consecutive UIDs costs one entry. */
void seqset_format_result_uids(struct wbuf *w, const struct seqset_result *r,
                               const struct view *v);

#endif
