#include "imap/status.h"

#include <stdlib.h>

#include "imap/mailbox.h"

struct status_req {
    uint32_t recent_from; /* \Recent counted from this UID (hub) */
    unsigned items;
    status_cb cb;
    void *ctx;
};

static void status_end(struct session *s, struct imapsrv_op *op,
                       imapsrv_status st)
{
    struct status_req *r = op->ctx;
    r->cb(s, op->name, r->items, st, &op->mst, r->ctx);
    free(r);
    op->ctx = NULL;
}

static void status_hooked(struct session *s, struct imapsrv_op *op)
{
    status_end(s, op, op->status);
}

/* Without a status hook: the counts come from the message list. */
static void status_listed(struct session *s, struct imapsrv_op *op)
{
    imapsrv_mailbox_status *ms = &op->mst;
    const struct view *v = op->list;
    const struct status_req *r = op->ctx;
    if (op->status == IMAPSRV_OK && v) {
        ms->messages = v->count;
        ms->unseen = view_unseen(v);
        ms->deleted = view_deleted(v);
        ms->recent = view_recent(v);
        if (r->recent_from)
            ms->recent = v->count - view_lower_bound(v, r->recent_from);
        ms->size = 0;
        for (uint32_t i = 0; i < v->count; i++)
            ms->size += v->msgs[i].size;
        if (v->count && ms->uidnext <= v->msgs[v->count - 1].uid)
            ms->uidnext = v->msgs[v->count - 1].uid + 1;
    } else if (op->status == IMAPSRV_OK) {
        ms->messages = ms->unseen = ms->deleted = ms->recent = 0;
        ms->size = 0;
    }
    s->env->store.close(s->env->store.userdata, op->out);
    status_end(s, op, op->status);
}

static void status_opened(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK) {
        status_end(s, op, op->status);
        return;
    }
    struct imapsrv_op *lop = op_new(s, status_listed);
    if (!lop) {
        s->env->store.close(s->env->store.userdata, op->out);
        status_end(s, op, IMAPSRV_E_NOMEM);
        return;
    }
    lop->ctx = op->ctx;
    lop->ctx_free = free;
    lop->name = op->name;
    lop->out = op->out;
    lop->mst = op->mst;
    lop->min_uid = 1;
    op->ctx = NULL;
    op->name = NULL;
    op_started(
        lop, s->env->store.messages(s->env->store.userdata, lop, lop->out, 1));
}

void status_start(struct session *s, char *name, unsigned items, status_cb cb,
                  void *ctx)
{
    const imapsrv_store_hooks *h = &s->env->store;
    struct status_req *r = malloc(sizeof(*r));
    /* RECENT known to the hub needs the list: the status hook lacks it. */
    uint32_t from =
        items & ST_RECENT ? hub_recent_floor(s->env->hub, s->user, name) : 0;
    bool hooked = h->status && !from;
    struct imapsrv_op *op =
        r ? op_new(s, hooked ? status_hooked : status_opened) : NULL;
    if (!op) {
        free(r);
        imapsrv_mailbox_status none = {0};
        cb(s, name, items, IMAPSRV_E_NOMEM, &none, ctx);
        free(name);
        return;
    }
    *r = (struct status_req){from, items, cb, ctx};
    op->ctx = r;
    op->ctx_free = free;
    op->name = name;
    if (hooked)
        op_started(op,
                   h->status(h->userdata, op, s->store_user, name, &op->mst));
    else
        op_started(op, h->open(h->userdata, op, s->store_user, name, 1,
                               &op->out, &op->mst));
}

void status_write(struct session *s, const char *name, unsigned items,
                  const imapsrv_mailbox_status *ms)
{
    struct wbuf *w = &s->conn->out;
    wbuf_puts(w, "* STATUS ");
    mbox_name_out(s, w, name);
    wbuf_puts(w, " (");
    const char *sp = "";
    if (items & ST_MESSAGES)
        wbuf_printf(w, "%sMESSAGES %u", sp, (unsigned)ms->messages), sp = " ";
    if (items & ST_UIDNEXT)
        wbuf_printf(w, "%sUIDNEXT %u", sp, (unsigned)ms->uidnext), sp = " ";
    if (items & ST_UIDVALIDITY)
        wbuf_printf(w, "%sUIDVALIDITY %u", sp, (unsigned)ms->uidvalidity),
            sp = " ";
    if (items & ST_UNSEEN)
        wbuf_printf(w, "%sUNSEEN %u", sp, (unsigned)ms->unseen), sp = " ";
    if (items & ST_DELETED)
        wbuf_printf(w, "%sDELETED %u", sp, (unsigned)ms->deleted), sp = " ";
    if (items & ST_SIZE)
        wbuf_printf(w, "%sSIZE %llu", sp, (unsigned long long)ms->size),
            sp = " ";
    if (items & ST_RECENT)
        wbuf_printf(w, "%sRECENT %u", sp, (unsigned)ms->recent), sp = " ";
    if (items & ST_HIGHESTMODSEQ)
        wbuf_printf(w, "%sHIGHESTMODSEQ %llu", sp,
                    (unsigned long long)ms->highestmodseq);
    wbuf_puts(w, ")\r\n");
}
