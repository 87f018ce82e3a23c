/* SELECT, EXAMINE, CLOSE, UNSELECT, CHECK and IDLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/mailbox.h"
#include "proto/framer.h"

static void write_select_info(struct session *s)
{
    struct selected *sel = s->sel;
    struct view *v = &sel->view;
    struct wbuf *w = &s->conn->out;
    wbuf_printf(w, "* %u EXISTS\r\n", (unsigned)view_exists(v));
    if (!s->rev2) {
        wbuf_printf(w, "* %u RECENT\r\n", (unsigned)view_recent(v));
        uint32_t first = view_first_unseen(v);
        if (first)
            wbuf_printf(w, "* OK [UNSEEN %u] First unseen\r\n",
                        (unsigned)first);
    }
    wbuf_printf(w, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
                (unsigned)v->uidvalidity);
    wbuf_printf(w, "* OK [UIDNEXT %u] Predicted next UID\r\n",
                (unsigned)v->uidnext);
    wbuf_puts(w, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for (unsigned k = 0; k < v->keyword_count; k++) {
        wbuf_putc(w, ' ');
        wbuf_puts(w, v->keywords[k]);
    }
    wbuf_puts(w, ")\r\n* OK [PERMANENTFLAGS (");
    if (!sel->readonly) {
        wbuf_puts(w, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
        for (unsigned k = 0; k < v->keyword_count; k++) {
            wbuf_putc(w, ' ');
            wbuf_puts(w, v->keywords[k]);
        }
        if (v->keyword_count < VIEW_MAX_KEYWORDS)
            wbuf_puts(w, " \\*");
    }
    wbuf_puts(w, ")] Flags permitted\r\n");
    if (s->rev2) {
        wbuf_puts(w, "* LIST () \"/\" ");
        mbox_name_out(s, w, sel->name);
        wbuf_puts(w, "\r\n");
    }
}

static void select_listed(struct session *s, struct imapsrv_op *op)
{
    const imapsrv_store_hooks *st = &s->env->store;
    bool readonly = op->ctx != NULL;
    if (op->status != IMAPSRV_OK) {
        st->close(st->userdata, op->out);
        session_finish(s, "NO", status_code(op->status),
                       "Mailbox cannot be read");
        return;
    }
    struct selected *sel = calloc(1, sizeof(*sel));
    if (!sel) {
        st->close(st->userdata, op->out);
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    }
    if (op->list) {
        sel->view = *op->list; /* moved */
        view_init(op->list, 0, 0);
    } else {
        view_init(&sel->view, 0, 0);
    }
    sel->view.uidvalidity = op->mst.uidvalidity;
    if (op->mst.uidnext > sel->view.uidnext)
        sel->view.uidnext = op->mst.uidnext;
    if (!sel->view.uidnext)
        sel->view.uidnext = 1;
    /* \Recent: what no session has seen yet is this one's (EXAMINE
     * looks without taking). */
    uint32_t from = hub_recent_claim(s->env->hub, s->user, op->name,
                                     sel->view.uidnext, !readonly);
    for (uint32_t i = view_lower_bound(&sel->view, from); i < sel->view.count;
         i++)
        view_set_flags(&sel->view, i,
                       sel->view.msgs[i].flags | IMAPSRV_FLAG_RECENT,
                       sel->view.msgs[i].keywords, 0);
    tracker_init(&sel->tracker);
    arena_init(&sel->cache_arena, 4096, 0);
    sel->name = op->name;
    op->name = NULL;
    sel->handle = op->out;
    sel->readonly = readonly;
    sel->watch = hub_watch(s->env->hub, s->user, sel->name, s->loop,
                           selected_changes, s);
    s->sel = sel;
    s->state = SESS_SELECTED;
    write_select_info(s);
    session_finish(s, "OK", readonly ? "READ-ONLY" : "READ-WRITE",
                   readonly ? "EXAMINE completed" : "SELECT completed");
}

static void select_opened(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK) {
        session_finish(s, "NO", status_code(op->status),
                       op->status == IMAPSRV_E_NONEXISTENT
                           ? "No such mailbox"
                           : "Mailbox cannot be opened");
        return;
    }
    struct imapsrv_op *lop = op_new(s, select_listed);
    if (!lop) {
        s->env->store.close(s->env->store.userdata, op->out);
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    }
    lop->name = op->name;
    op->name = NULL;
    lop->out = op->out;
    lop->mst = op->mst;
    lop->ctx = op->ctx;
    lop->min_uid = 1;
    op_started(
        lop, s->env->store.messages(s->env->store.userdata, lop, lop->out, 1));
}

enum cmd_result cmd_select(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *st = &s->env->store;
    if (!s->env->have_store || !st->open || !st->messages) {
        session_tagged(s, s->tag, "NO", "UNAVAILABLE",
                       "No mail storage is configured");
        return CMD_DONE;
    }
    const char *why;
    char *name = mbox_name_in(s, &cmd->u.select.mailbox, &why);
    if (!name) {
        session_tagged(s, s->tag, "NO", "CANNOT", why);
        return CMD_DONE;
    }
    if (s->sel) {
        /* RFC 9051 6.3.2: the old mailbox is closed first, even when the
         * new one cannot be opened; [CLOSED] marks where its updates end. */
        selected_close(s);
        session_untagged(s, "OK [CLOSED] Previous mailbox closed");
    }
    struct imapsrv_op *op = op_new(s, select_opened);
    if (!op) {
        free(name);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    op->name = name;
    bool readonly = cmd->type == CMD_EXAMINE;
    op->ctx = readonly ? (void *)1 : NULL;
    op_started(op, st->open(st->userdata, op, s->store_user, name, readonly,
                            &op->out, &op->mst));
    return CMD_ASYNC;
}

static void close_expunged(struct session *s, struct imapsrv_op *op)
{
    if (op->status == IMAPSRV_OK && op->copy.count)
        mailbox_publish(s, s->sel->name,
                        hub_change_new(HUB_EXPUNGE, op->copy.uids,
                                       op->copy.count, IMAPSRV_FLAGS_SET, 0,
                                       NULL, 0),
                        false);
    selected_close(s);
    if (op->status != IMAPSRV_OK)
        session_finish(s, "NO", status_code(op->status),
                       "Mailbox closed; deleted messages were not expunged");
    else
        session_finish(s, "OK", NULL, "CLOSE completed");
}

enum cmd_result cmd_close(struct session *s, struct imap_command *cmd)
{
    struct selected *sel = s->sel;
    if (cmd->type == CMD_UNSELECT || sel->readonly ||
        !view_deleted(&sel->view) || !s->env->store.expunge) {
        selected_close(s);
        session_tagged(s, s->tag, "OK", NULL,
                       cmd->type == CMD_UNSELECT ? "UNSELECT completed"
                                                 : "CLOSE completed");
        return CMD_DONE;
    }
    /* CLOSE expunges silently: no untagged EXPUNGE for this client. */
    struct imapsrv_op *op = op_new(s, close_expunged);
    size_t n = 0;
    if (op)
        op->copy.uids = malloc(view_deleted(&sel->view) * sizeof(uint32_t));
    if (!op || !op->copy.uids) {
        if (op)
            op_cancel(op);
        selected_close(s);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    for (uint32_t i = 0; i < sel->view.count; i++)
        if ((sel->view.msgs[i].flags & IMAPSRV_FLAG_DELETED) &&
            !(sel->view.msgs[i].flags & VIEW_F_GONE))
            op->copy.uids[n++] = sel->view.msgs[i].uid;
    op->copy.count = n;
    op_started(op, s->env->store.expunge(s->env->store.userdata, op,
                                         sel->handle, op->copy.uids, n));
    return CMD_ASYNC;
}

enum cmd_result cmd_check(struct session *s, struct imap_command *cmd)
{
    return session_reply(
        s, "OK", NULL,
        cmd->type == CMD_NOOP ? "NOOP completed" : "CHECK completed", true);
}

/* ---- IDLE (RFC 2177) ---- */

enum cmd_result cmd_idle(struct session *s, struct imap_command *cmd)
{
    wbuf_puts(&s->conn->out, "+ idling\r\n");
    s->idling = true;
    s->input = INPUT_IDLE;
    framer_set_raw(&s->fr);
    /* What is already queued goes out now. */
    selected_changes(s);
    return CMD_DONE; /* the tagged answer follows DONE */
}

void idle_line(struct session *s, const char *line, size_t len)
{
    s->idling = false;
    s->input = INPUT_COMMAND;
    bool done = len == 4 && strncasecmp(line, "DONE", 4) == 0;
    s->busy = true;
    enum cmd_result r =
        done ? session_reply(s, "OK", NULL, "IDLE terminated", true)
             : session_reply(s, "BAD", NULL, "Expected DONE", true);
    if (r == CMD_DONE)
        s->busy = false;
    else
        conn_pause(s->conn);
}
