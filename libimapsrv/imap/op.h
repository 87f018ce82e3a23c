/* imapsrv_op: one call into a host hook that may answer later from any
 * thread.  The session keeps a reference until the op completes; the
 * completion always runs on the session's loop thread. */
#ifndef IMAPSRV_IMAP_OP_H
#define IMAPSRV_IMAP_OP_H

#include "core/loop.h"
#include "imap/session.h"
#include "mail/view.h"

struct imapsrv_op;
typedef void (*op_complete_fn)(struct session *s, struct imapsrv_op *op);

struct op_mailboxes { /* what a list hook emitted */
    imapsrv_mailbox_info *items;
    size_t count, cap;
};

struct imapsrv_op {
    struct loop_task task;
    struct session *s;
    imapsrv_status status;
    op_complete_fn complete;
    char *user; /* canonical user name from an auth hook */
    imapsrv_auth_request req;
    imapsrv_cert_request cert_req;
    char *secret; /* holds req's strings; wiped before free */
    size_t secret_len;
    struct op_mailboxes mailboxes;
    char **patterns; /* LIST: UTF-8 patterns, reference prepended */
    size_t pattern_count;
    bool lsub;
    void *out;      /* hook output (store handle) */
    uint32_t *uids; /* search_body: what it emitted */
    size_t n_uids, cap_uids;
    struct view *list;           /* messages hook: what it emitted */
    size_t got;                  /* read hook */
    imapsrv_mailbox_status mst;  /* open / status hooks */
    imapsrv_copy_result copy;    /* copy / move hooks */
    uint32_t uidvalidity, uid;   /* append_end */
    uint32_t min_uid;            /* messages: asked from this UID */
    void *ctx;                   /* the command's own state */
    void (*ctx_free)(void *ctx); /* owned: freed with the op unless the
                                    completion took it (set it NULL) */
    char *name, *name2;          /* mailbox names (freed with the op) */
};

struct imapsrv_op *op_new(struct session *s, op_complete_fn complete);
/* Hand a hook's immediate answer (or PENDING) to the op. */
void op_started(struct imapsrv_op *op, imapsrv_status st);
void op_free(struct imapsrv_op *op);
/* Drop an op that was never handed to a hook. */
void op_cancel(struct imapsrv_op *op);

#endif
