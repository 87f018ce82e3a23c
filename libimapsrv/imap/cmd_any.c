/* Commands valid in any state, and STARTTLS / ENABLE. */
#include <stdio.h>
#include <string.h>

#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/mailbox.h"

static const struct cmd_def commands[CMD_COUNT_] = {
    [CMD_CAPABILITY] = {"CAPABILITY", IN_ANY, cmd_capability},
    [CMD_NOOP] = {"NOOP", IN_ANY, cmd_check},
    [CMD_LOGOUT] = {"LOGOUT", IN_ANY, cmd_logout},
    [CMD_ID] = {"ID", IN_ANY, cmd_id},
    [CMD_STARTTLS] = {"STARTTLS", IN_NOTAUTH, cmd_starttls},
    [CMD_AUTHENTICATE] = {"AUTHENTICATE", IN_NOTAUTH, cmd_authenticate},
    [CMD_LOGIN] = {"LOGIN", IN_NOTAUTH, cmd_login},
    [CMD_ENABLE] = {"ENABLE", IN_LOGGED_IN, cmd_enable},
    [CMD_LIST] = {"LIST", IN_LOGGED_IN, cmd_list},
    [CMD_LSUB] = {"LSUB", IN_LOGGED_IN, cmd_list},
    [CMD_SELECT] = {"SELECT", IN_LOGGED_IN, cmd_select},
    [CMD_EXAMINE] = {"EXAMINE", IN_LOGGED_IN, cmd_select},
    [CMD_CREATE] = {"CREATE", IN_LOGGED_IN, cmd_create},
    [CMD_DELETE] = {"DELETE", IN_LOGGED_IN, cmd_delete},
    [CMD_RENAME] = {"RENAME", IN_LOGGED_IN, cmd_rename},
    [CMD_SUBSCRIBE] = {"SUBSCRIBE", IN_LOGGED_IN, cmd_subscribe},
    [CMD_UNSUBSCRIBE] = {"UNSUBSCRIBE", IN_LOGGED_IN, cmd_subscribe},
    [CMD_NAMESPACE] = {"NAMESPACE", IN_LOGGED_IN, cmd_namespace},
    [CMD_STATUS] = {"STATUS", IN_LOGGED_IN, cmd_status},
    [CMD_APPEND] = {"APPEND", IN_LOGGED_IN, cmd_append},
    [CMD_IDLE] = {"IDLE", IN_LOGGED_IN, cmd_idle},
    [CMD_CHECK] = {"CHECK", IN_SELECTED, cmd_check},
    [CMD_CLOSE] = {"CLOSE", IN_SELECTED, cmd_close},
    [CMD_UNSELECT] = {"UNSELECT", IN_SELECTED, cmd_close},
    [CMD_EXPUNGE] = {"EXPUNGE", IN_SELECTED, cmd_expunge},
    [CMD_SEARCH] = {"SEARCH", IN_SELECTED, cmd_search},
    [CMD_FETCH] = {"FETCH", IN_SELECTED, cmd_fetch},
    [CMD_STORE] = {"STORE", IN_SELECTED, cmd_store},
    [CMD_COPY] = {"COPY", IN_SELECTED, cmd_copy},
    [CMD_MOVE] = {"MOVE", IN_SELECTED, cmd_copy},
};

const struct cmd_def *command_def(enum imap_cmd_type type)
{
    if (type <= CMD_UNKNOWN || type >= CMD_COUNT_ || !commands[type].name)
        return NULL;
    return &commands[type];
}

enum cmd_result cmd_capability(struct session *s, struct imap_command *cmd)
{
    wbuf_puts(&s->conn->out, "* CAPABILITY ");
    capability_write(s, &s->conn->out);
    wbuf_puts(&s->conn->out, "\r\n");
    session_tagged(s, cmd->tag.s, "OK", NULL, "CAPABILITY completed");
    return CMD_DONE;
}

enum cmd_result cmd_logout(struct session *s, struct imap_command *cmd)
{
    session_untagged(s, "BYE Logging out");
    session_tagged(s, cmd->tag.s, "OK", NULL, "LOGOUT completed");
    s->state = SESS_LOGOUT;
    session_close(s);
    return CMD_DONE;
}

enum cmd_result cmd_id(struct session *s, struct imap_command *cmd)
{
    /* Log what the client says about itself (bounded, sanitised by the
     * logger); answer with our name only: no version leak. */
    if (log_enabled(&s->env->log, IMAPSRV_LOG_INFO) && !cmd->u.id.nil) {
        char buf[512];
        size_t off = 0;
        for (size_t i = 0; i < cmd->u.id.count && off < sizeof(buf); i++) {
            const struct id_pair *p = &cmd->u.id.pairs[i];
            int n = snprintf(buf + off, sizeof(buf) - off, "%s%.*s=%.*s",
                             i ? " " : "", 30, p->key.s, 64,
                             p->value.s ? p->value.s : "NIL");
            if (n < 0)
                break;
            off += (size_t)n;
        }
        if (off >= sizeof(buf))
            off = sizeof(buf) - 1;
        buf[off] = '\0';
        log_line(&s->env->log, IMAPSRV_LOG_INFO, "session.id",
                 "session %llu client id: %s", (unsigned long long)s->id, buf);
    }
    session_untagged(s, "ID (\"name\" \"libimapsrv\")");
    session_tagged(s, cmd->tag.s, "OK", NULL, "ID completed");
    return CMD_DONE;
}

enum cmd_result cmd_enable(struct session *s, struct imap_command *cmd)
{
    /* RFC 5161: names we do not know (or do not offer) are ignored; the
     * ENABLED response lists only what this command newly enabled. */
    struct wbuf *w = &s->conn->out;
    wbuf_puts(w, "* ENABLED");
    for (size_t i = 0; i < cmd->u.enable.count; i++) {
        const char *name = cmd->u.enable.names[i].s;
        if (strcmp(name, "IMAP4REV2") == 0 && !s->rev2) {
            /* RFC 9051: UTF-8 mailbox names and quoted strings, ESEARCH
             * answers, no RECENT. */
            s->rev2 = s->utf8 = true;
            wbuf_puts(w, " IMAP4rev2");
        }
    }
    wbuf_puts(w, "\r\n");
    session_tagged(s, cmd->tag.s, "OK", NULL, "ENABLE completed");
    return CMD_DONE;
}

enum cmd_result cmd_starttls(struct session *s, struct imap_command *cmd)
{
    if (s->tls) {
        session_tagged(s, cmd->tag.s, "BAD", NULL, "TLS is already active");
        return CMD_DONE;
    }
    if (!s->pol->tls || s->lst->tls != IMAPSRV_TLS_STARTTLS) {
        session_tagged(s, cmd->tag.s, "NO", "CANNOT",
                       "STARTTLS is not available on this port");
        return CMD_DONE;
    }
    session_tagged(s, cmd->tag.s, "OK", NULL, "Begin TLS negotiation now");
    s->tls = true;
    s->switching = true;
    framer_discard(&s->fr);
    conn_start_tls(s->conn, s->pol->tls, false, true);
    return CMD_DONE;
}
