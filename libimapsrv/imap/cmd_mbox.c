/* The mailbox set: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * NAMESPACE and STATUS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mailbox.h"
#include "imap/status.h"

static bool need_hook(struct session *s, const void *hook)
{
    if (s->env->have_store && hook)
        return true;
    session_tagged(s, s->tag, "NO", "UNAVAILABLE",
                   "No mail storage is configured");
    return false;
}

/* The name argument as UTF-8, or a tagged NO written (NULL). */
static char *name_arg(struct session *s, const struct imap_str *n)
{
    const char *why;
    char *name = mbox_name_in(s, n, &why);
    if (!name)
        session_tagged(s, s->tag, "NO", "CANNOT", why);
    return name;
}

static void simple_done(struct session *s, struct imapsrv_op *op)
{
    const char *what = op->ctx;
    char text[64];
    if (op->status == IMAPSRV_OK) {
        snprintf(text, sizeof(text), "%s completed", what);
        session_reply_later(s, "OK", NULL, text, true);
    } else {
        snprintf(text, sizeof(text), "%s failed", what);
        session_fail(s, op->status, text);
    }
}

static struct imapsrv_op *simple_op(struct session *s, const char *what,
                                    char *name)
{
    struct imapsrv_op *op = op_new(s, simple_done);
    if (!op) {
        free(name);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return NULL;
    }
    op->ctx = (void *)what;
    op->name = name;
    return op;
}

enum cmd_result cmd_create(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *h = &s->env->store;
    if (!need_hook(s, h->create))
        return CMD_DONE;
    if (cmd->u.create.use_unknown) {
        session_tagged(s, s->tag, "NO", "USEATTR",
                       "Unsupported special-use attribute");
        return CMD_DONE;
    }
    char *name = name_arg(s, &cmd->u.create.mailbox);
    if (!name)
        return CMD_DONE;
    size_t n = strlen(name);
    if (n && name[n - 1] == DELIM) /* "a/b/": the client wants inferiors */
        name[--n] = '\0';
    if (n == 0 || strcmp(name, "INBOX") == 0) {
        free(name);
        session_tagged(s, s->tag, "NO", n ? "ALREADYEXISTS" : "CANNOT",
                       n ? "INBOX always exists" : "Invalid mailbox name");
        return CMD_DONE;
    }
    struct imapsrv_op *op = simple_op(s, "CREATE", name);
    if (!op)
        return CMD_DONE;
    op_started(op, h->create(h->userdata, op, s->store_user, op->name,
                             cmd->u.create.use));
    return CMD_ASYNC;
}

enum cmd_result cmd_delete(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *h = &s->env->store;
    if (!need_hook(s, h->delete_mailbox))
        return CMD_DONE;
    char *name = name_arg(s, &cmd->u.mailbox);
    if (!name)
        return CMD_DONE;
    if (strcmp(name, "INBOX") == 0) {
        free(name);
        session_tagged(s, s->tag, "NO", "CANNOT", "INBOX cannot be deleted");
        return CMD_DONE;
    }
    struct imapsrv_op *op = simple_op(s, "DELETE", name);
    if (!op)
        return CMD_DONE;
    op_started(op, h->delete_mailbox(h->userdata, op, s->store_user, op->name));
    return CMD_ASYNC;
}

static void renamed(struct session *s, struct imapsrv_op *op)
{
    if (op->status == IMAPSRV_OK && strcmp(op->name, "INBOX") == 0)
        /* INBOX's messages moved out: sessions on INBOX see them go. */
        mailbox_publish(
            s, "INBOX",
            hub_change_new(HUB_RESYNC, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0),
            true);
    else if (op->status == IMAPSRV_OK)
        /* Open handles follow the mailbox; so do their sessions. */
        hub_rename(s->env->hub, s->user, op->name, op->name2);
    simple_done(s, op);
}

enum cmd_result cmd_rename(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *h = &s->env->store;
    if (!need_hook(s, h->rename))
        return CMD_DONE;
    char *from = name_arg(s, &cmd->u.rename.from);
    if (!from)
        return CMD_DONE;
    char *to = name_arg(s, &cmd->u.rename.to);
    if (!to) {
        free(from);
        return CMD_DONE;
    }
    if (strcmp(to, "INBOX") == 0) {
        free(from);
        free(to);
        session_tagged(s, s->tag, "NO", "ALREADYEXISTS", "INBOX exists");
        return CMD_DONE;
    }
    struct imapsrv_op *op = simple_op(s, "RENAME", from);
    if (!op) {
        free(to);
        return CMD_DONE;
    }
    op->complete = renamed;
    op->name2 = to;
    op_started(op, h->rename(h->userdata, op, s->store_user, from, to));
    return CMD_ASYNC;
}

enum cmd_result cmd_subscribe(struct session *s, struct imap_command *cmd)
{
    const imapsrv_store_hooks *h = &s->env->store;
    if (!need_hook(s, h->subscribe))
        return CMD_DONE;
    char *name = name_arg(s, &cmd->u.mailbox);
    if (!name)
        return CMD_DONE;
    bool sub = cmd->type == CMD_SUBSCRIBE;
    struct imapsrv_op *op =
        simple_op(s, sub ? "SUBSCRIBE" : "UNSUBSCRIBE", name);
    if (!op)
        return CMD_DONE;
    op_started(op, h->subscribe(h->userdata, op, s->store_user, name, sub));
    return CMD_ASYNC;
}

enum cmd_result cmd_namespace(struct session *s, struct imap_command *cmd)
{
    /* One personal namespace, no prefix; no other users', no shared. */
    session_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
    return session_reply(s, "OK", NULL, "NAMESPACE completed", true);
}

/* ---- STATUS ---- */

static void status_got(struct session *s, const char *name, unsigned items,
                       imapsrv_status st, const imapsrv_mailbox_status *ms,
                       void *ctx)
{
    if (st != IMAPSRV_OK) {
        session_fail(s, st,
                     st == IMAPSRV_E_NONEXISTENT ? "No such mailbox"
                                                 : "STATUS failed");
        return;
    }
    status_write(s, name, items, ms);
    session_reply_later(s, "OK", NULL, "STATUS completed", true);
}

enum cmd_result cmd_status(struct session *s, struct imap_command *cmd)
{
    if (!need_hook(s, s->env->store.status || s->env->store.open ? (void *)1
                                                                 : NULL))
        return CMD_DONE;
    char *name = name_arg(s, &cmd->u.status.mailbox);
    if (!name)
        return CMD_DONE;
    status_start(s, name, cmd->u.status.items, status_got, NULL);
    return CMD_ASYNC;
}
