/* STORE, EXPUNGE, COPY and MOVE (and their UID forms). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mailbox.h"
#include "mail/seqset.h"

/* A set answer shared by the commands: BAD for a number beyond EXISTS. */
static enum cmd_result set_error(struct session *s, imapsrv_status st)
{
    if (st == IMAPSRV_E_NOMEM)
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
    else
        session_tagged(s, s->tag, "BAD", NULL,
                       "Message sequence number out of range");
    return CMD_DONE;
}

static enum cmd_result read_only(struct session *s)
{
    session_tagged(s, s->tag, "NO", "CANNOT", "Mailbox is read-only");
    return CMD_DONE;
}

/* ---- STORE ---- */

static void change_free(void *c)
{
    hub_change_unref(c);
}

static void store_done(struct session *s, struct imapsrv_op *op)
{
    struct hub_change *c = op->ctx;
    bool silent = op->lsub, uid = op->min_uid != 0;
    op->ctx = NULL; /* ours now */
    if (op->status != IMAPSRV_OK) {
        hub_change_unref(c);
        session_fail(s, op->status, "Flags not stored");
        return;
    }
    selected_apply_own(s, c, silent, uid);
    mailbox_publish(s, s->sel->name, c, false);
    session_reply_later(s, "OK", NULL, "STORE completed", uid);
}

enum cmd_result cmd_store(struct session *s, struct imap_command *cmd)
{
    const struct cmd_store *cs = &cmd->u.store;
    struct selected *sel = s->sel;
    if (sel->readonly || !s->env->store.set_flags)
        return read_only(s);
    if (cs->has_unchangedsince) {
        session_tagged(s, s->tag, "BAD", NULL, "CONDSTORE is not enabled");
        return CMD_DONE;
    }
    uint32_t *uids;
    size_t n;
    imapsrv_status st = selected_uids(s, &cs->set, cmd->uid, &uids, &n);
    if (st != IMAPSRV_OK)
        return set_error(s, st);
    if (n == 0)
        return session_reply(s, "OK", NULL, "STORE completed", cmd->uid);
    /* Every keyword must fit the view's table before the store changes
     * anything: a refused STORE leaves nothing half done. */
    const char **kws =
        arena_alloc(&s->arena, (cs->flags.keyword_count + 1) * sizeof(char *));
    for (size_t i = 0; kws && i < cs->flags.keyword_count; i++) {
        kws[i] = cs->flags.keywords[i].s;
        if (view_keyword_intern(&sel->view, kws[i], cs->flags.keywords[i].len) <
            0) {
            free(uids);
            session_tagged(s, s->tag, "NO", "LIMIT",
                           "Too many keywords in this mailbox");
            return CMD_DONE;
        }
    }
    unsigned flags = cs->flags.sys & ~IMAPSRV_FLAG_RECENT;
    struct hub_change *c =
        kws ? hub_change_new(HUB_FLAGS, uids, n, (imapsrv_flag_op)cs->op, flags,
                             kws, cs->flags.keyword_count)
            : NULL;
    struct imapsrv_op *op = c ? op_new(s, store_done) : NULL;
    free(uids);
    if (!op) {
        hub_change_unref(c);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    op->ctx = c;
    op->ctx_free = change_free;
    op->lsub = cs->silent;
    op->min_uid = cmd->uid;
    op_started(op, s->env->store.set_flags(
                       s->env->store.userdata, op, sel->handle, c->uids,
                       c->count, c->how, c->flags,
                       (const char *const *)c->keywords, c->keyword_count));
    return CMD_ASYNC;
}

/* ---- EXPUNGE ---- */

/* The session's own expunge of uids[]: "* N EXPUNGE" each, the others
 * told through the hub. */
static void expunged(struct session *s, const uint32_t *uids, size_t n)
{
    struct selected *sel = s->sel;
    uint32_t *seqs = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!seqs) {
        sel->need_resync = true; /* the next sync puts it right */
        return;
    }
    size_t k = view_expunge_uids(&sel->view, uids, n, seqs);
    for (size_t i = 0; i < k; i++)
        wbuf_printf(&s->conn->out, "* %u EXPUNGE\r\n", (unsigned)seqs[i]);
    free(seqs);
    for (size_t i = 0; i < n; i++)
        if (uids[i] == sel->cache_uid)
            sel->cache_uid = 0;
    mailbox_publish(
        s, sel->name,
        hub_change_new(HUB_EXPUNGE, uids, n, IMAPSRV_FLAGS_SET, 0, NULL, 0),
        false);
}

static void expunge_done(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK) {
        session_fail(s, op->status, "Messages not expunged");
        return;
    }
    expunged(s, op->copy.uids, op->copy.count);
    session_reply_later(s, "OK", NULL, "EXPUNGE completed", true);
}

enum cmd_result cmd_expunge(struct session *s, struct imap_command *cmd)
{
    struct selected *sel = s->sel;
    if (sel->readonly || !s->env->store.expunge)
        return read_only(s);
    uint32_t *uids = NULL;
    size_t n = 0;
    if (cmd->uid) { /* UID EXPUNGE (UIDPLUS): only these */
        imapsrv_status st =
            selected_uids(s, &cmd->u.expunge_set, true, &uids, &n);
        if (st != IMAPSRV_OK)
            return set_error(s, st);
    } else if (view_deleted(&sel->view)) {
        uids = malloc(view_deleted(&sel->view) * sizeof(uint32_t));
        if (!uids)
            return set_error(s, IMAPSRV_E_NOMEM);
        for (uint32_t i = 0; i < sel->view.count; i++)
            n += (sel->view.msgs[i].flags & VIEW_F_GONE) == 0 &&
                         (sel->view.msgs[i].flags & IMAPSRV_FLAG_DELETED)
                     ? (uids[n] = sel->view.msgs[i].uid, 1)
                     : 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* only \Deleted ones */
        uint32_t seq = view_uid_to_seq(&sel->view, uids[i]);
        if (seq && (sel->view.msgs[seq - 1].flags & IMAPSRV_FLAG_DELETED))
            uids[k++] = uids[i];
    }
    if (k == 0) {
        free(uids);
        return session_reply(s, "OK", NULL, "EXPUNGE completed", true);
    }
    struct imapsrv_op *op = op_new(s, expunge_done);
    if (!op) {
        free(uids);
        return set_error(s, IMAPSRV_E_NOMEM);
    }
    op->copy.uids = uids;
    op->copy.count = k;
    op_started(op, s->env->store.expunge(s->env->store.userdata, op,
                                         sel->handle, uids, k));
    return CMD_ASYNC;
}

/* ---- COPY and MOVE ---- */

/* Source UIDs ride in op->ctx (malloc'd), the new ones in op->copy. */
struct copy_ctx {
    uint32_t *src;
    size_t n;
    bool move, uid;
    int fallback; /* MOVE without a move hook: 1 copied, 2 flagged */
};

static void copy_ctx_destroy(void *p)
{
    struct copy_ctx *c = p;
    free(c->src);
    free(c);
}

static void copy_ctx_free(struct imapsrv_op *op)
{
    copy_ctx_destroy(op->ctx);
    op->ctx = NULL;
}

/* "COPYUID v src dst" (RFC 4315), malloc'd; NULL when the store gave no
 * UIDs (the code is optional). */
static char *copyuid_text(const struct imapsrv_op *op)
{
    const struct copy_ctx *c = op->ctx;
    if (op->copy.count != c->n || !op->copy.uidvalidity)
        return NULL;
    size_t need = seqset_format_buf(NULL, 0, c->src, c->n) +
                  seqset_format_buf(NULL, 0, op->copy.uids, op->copy.count) +
                  32;
    char *t = malloc(need);
    if (!t)
        return NULL;
    size_t o = (size_t)snprintf(t, need, "COPYUID %u ",
                                (unsigned)op->copy.uidvalidity);
    o += seqset_format_buf(t + o, need - o, c->src, c->n);
    t[o++] = ' ';
    seqset_format_buf(t + o, need - o, op->copy.uids, op->copy.count);
    return t;
}

static void copy_step(struct session *s, struct imapsrv_op *op);

static void copy_finish(struct session *s, struct imapsrv_op *op)
{
    struct copy_ctx *c = op->ctx;
    uint32_t first = 0;
    for (size_t i = 0; i < op->copy.count; i++)
        if (op->copy.uids[i] && (!first || op->copy.uids[i] < first))
            first = op->copy.uids[i];
    if (first) /* \Recent for whoever sees them first */
        hub_recent_added(s->env->hub, s->user, op->name, first);
    mailbox_publish(
        s, op->name,
        hub_change_new(HUB_NEW, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0), true);
    char *code = copyuid_text(op);
    bool move = c->move, uid = c->uid;
    if (move) {
        /* RFC 6851: COPYUID in an untagged OK before the expunges. */
        wbuf_puts(&s->conn->out, "* OK ");
        if (code)
            wbuf_printf(&s->conn->out, "[%s] ", code);
        wbuf_puts(&s->conn->out, "Moved\r\n");
        expunged(s, c->src, c->n);
    }
    copy_ctx_free(op);
    if (move)
        session_reply_later(s, "OK", NULL, "MOVE completed", true);
    else
        session_reply_later(s, "OK", code, "COPY completed", uid);
    free(code);
}

static void copy_done(struct session *s, struct imapsrv_op *op)
{
    struct copy_ctx *c = op->ctx;
    if (op->status != IMAPSRV_OK) {
        imapsrv_status st = op->status;
        copy_ctx_free(op);
        if (st == IMAPSRV_E_NONEXISTENT)
            session_reply_later(s, "NO", "TRYCREATE",
                                "The target mailbox does not exist", true);
        else
            session_fail(s, st, "Messages not copied");
        return;
    }
    if (c->move && c->fallback && c->fallback < 3) {
        copy_step(s, op);
        return;
    }
    copy_finish(s, op);
}

/* MOVE without a move hook: COPY, then \Deleted, then expunge of exactly
 * those messages (RFC 6851 3.3 allows this when atomicity is not
 * promised). */
static void copy_step(struct session *s, struct imapsrv_op *op)
{
    const imapsrv_store_hooks *h = &s->env->store;
    struct copy_ctx *c = op->ctx;
    struct imapsrv_op *next = op_new(s, copy_done);
    if (!next) {
        copy_ctx_free(op);
        session_fail(s, IMAPSRV_E_NOMEM, "Messages not moved");
        return;
    }
    /* The state moves to the next op. */
    next->ctx = op->ctx;
    next->ctx_free = copy_ctx_destroy;
    next->name = op->name;
    next->copy = op->copy;
    op->ctx = NULL;
    op->name = NULL;
    op->copy.uids = NULL;
    if (c->fallback++ == 1)
        op_started(next, h->set_flags(h->userdata, next, s->sel->handle, c->src,
                                      c->n, IMAPSRV_FLAGS_ADD,
                                      IMAPSRV_FLAG_DELETED, NULL, 0));
    else
        op_started(next,
                   h->expunge(h->userdata, next, s->sel->handle, c->src, c->n));
}

enum cmd_result cmd_copy(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *h = &s->env->store;
    struct selected *sel = s->sel;
    bool move = cmd->type == CMD_MOVE;
    if (!h->copy || (move && !h->move && (!h->set_flags || !h->expunge)))
        return read_only(s);
    if (move && sel->readonly)
        return read_only(s);
    const char *why;
    char *dest = mbox_name_in(s, &cmd->u.copy.mailbox, &why);
    if (!dest) {
        session_tagged(s, s->tag, "NO", "CANNOT", why);
        return CMD_DONE;
    }
    uint32_t *uids;
    size_t n;
    imapsrv_status st = selected_uids(s, &cmd->u.copy.set, cmd->uid, &uids, &n);
    if (st != IMAPSRV_OK) {
        free(dest);
        return set_error(s, st);
    }
    if (n == 0) {
        free(dest);
        return session_reply(s, "OK", NULL,
                             move ? "MOVE completed" : "COPY completed", true);
    }
    struct copy_ctx *c = calloc(1, sizeof(*c));
    struct imapsrv_op *op = c ? op_new(s, copy_done) : NULL;
    if (!op || !(op->copy.uids = calloc(n, sizeof(uint32_t)))) {
        if (op)
            op_cancel(op);
        free(c);
        free(uids);
        free(dest);
        return set_error(s, IMAPSRV_E_NOMEM);
    }
    c->src = uids;
    c->n = n;
    c->move = move;
    c->uid = cmd->uid;
    c->fallback = move && !h->move;
    op->ctx = c;
    op->ctx_free = copy_ctx_destroy;
    op->name = dest;
    op->copy.count = n;
    if (move && h->move)
        st = h->move(h->userdata, op, sel->handle, uids, n, dest, &op->copy);
    else
        st = h->copy(h->userdata, op, sel->handle, uids, n, dest, &op->copy);
    op_started(op, st);
    return CMD_ASYNC;
}
