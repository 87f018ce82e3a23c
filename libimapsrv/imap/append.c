/* APPEND, streamed (RFC 9051 6.3.12, LITERAL+/-, APPENDLIMIT, UIDPLUS).
 * At the message literal's announcement the head of the command is parsed
 * and append_begin asked before any byte is sent ("+" only then), the
 * bytes go to append_data as they arrive, and the empty line after the
 * literal commits.  A refused non-synchronizing literal is read and
 * dropped, then answered: the stream stays in step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/mailbox.h"
#include "proto/framer.h"
#include "proto/parser.h"

struct append {
    void *handle;  /* the store's append object once begun */
    char *mailbox; /* UTF-8 */
    bool sync;     /* the client waits for "+" */
    bool begun, failed;
    uint64_t size;
    size_t head_len;       /* the command's bytes before the message */
    imapsrv_status status; /* why it failed */
    const char *bad;       /* a syntax error to answer with BAD */
};

static void append_free(struct session *s)
{
    struct append *a = s->append;
    s->append = NULL;
    if (a) {
        free(a->mailbox);
        free(a);
    }
}

/* Drop the command at its literal with a tagged answer (the tag is read
 * before the framer forgets it). */
static void refuse(struct session *s, const char *status, const char *code,
                   const char *text)
{
    char tag[64];
    snprintf(tag, sizeof(tag), "%s", framer_tag(&s->fr));
    framer_reject(&s->fr);
    session_tagged(s, tag, status, code, text);
    append_free(s);
}

/* A hook answered later: continue the stream. */
static void resume_input(struct session *s)
{
    s->busy = false;
    if (s->gone)
        return;
    session_ref(s);
    conn_resume(s->conn);
    if (!s->gone)
        conn_flush(s->conn);
    session_unref(s);
}

static void begin_ready(struct session *s)
{
    struct append *a = s->append;
    if (a->failed && a->sync) {
        /* Refused before the client sent anything: nothing to read. */
        bool trycreate = a->status == IMAPSRV_E_NONEXISTENT;
        refuse(s, "NO", trycreate ? "TRYCREATE" : status_code(a->status),
               trycreate ? "The target mailbox does not exist"
                         : "Message not appended");
        return;
    }
    if (a->sync)
        wbuf_puts(&s->conn->out, "+ Ready for literal data\r\n");
    framer_stream_literal(&s->fr);
}

static void begun(struct session *s, struct imapsrv_op *op)
{
    struct append *a = s->append;
    if (op->status == IMAPSRV_OK) {
        a->begun = true;
        a->handle = op->out;
    } else {
        a->failed = true;
        a->status = op->status;
    }
    begin_ready(s);
    resume_input(s);
}

bool append_literal(struct session *s)
{
    const struct framer_literal_info *li = framer_literal(&s->fr);
    size_t len;
    const char *head = framer_command_so_far(&s->fr, &len);
    struct imap_command cmd;
    const char *err = "Syntax error";
    arena_reset(&s->arena);
    enum parse_result r =
        parser_parse_append_head(head, len, NULL, &s->arena, &cmd, &err);
    if (r == PARSE_MORE || r == PARSE_NOMEM)
        return false; /* an earlier argument: the usual literal rules */
    struct append *a = calloc(1, sizeof(*a));
    if (!a)
        return false;
    s->append = a;
    a->sync = li->sync;
    a->size = li->size;
    a->head_len = len;
    const imapsrv_store_hooks *h = &s->env->store;
    const char *why = "Syntax error";
    if (r != PARSE_OK) {
        a->failed = true;
        a->bad = arena_strndup(&s->arena, err, strlen(err));
    } else if (!s->env->have_store || !h->append_begin) {
        a->failed = true;
        a->status = IMAPSRV_E_UNAVAILABLE;
    } else if (li->size > s->lim->max_append) {
        a->failed = true;
        a->status = IMAPSRV_E_LIMIT;
    } else if (!(a->mailbox = mbox_name_in(s, &cmd.u.append.mailbox, &why))) {
        a->failed = true;
        a->status = IMAPSRV_E_CANNOT;
    }
    if (a->failed) {
        if (a->bad && a->sync) { /* a syntax error: BAD, nothing to read */
            refuse(s, "BAD", NULL, a->bad);
            return true;
        }
        if (a->status == IMAPSRV_E_LIMIT && a->sync) {
            refuse(s, "NO", "TOOBIG", "Message too large");
            return true;
        }
        begin_ready(s);
        return true;
    }
    struct imapsrv_op *op = op_new(s, begun);
    if (!op) {
        a->failed = true;
        a->status = IMAPSRV_E_NOMEM;
        begin_ready(s);
        return true;
    }
    const struct cmd_append *ca = &cmd.u.append;
    const char **kws =
        arena_alloc(&s->arena, (ca->flags.keyword_count + 1) * sizeof(char *));
    for (size_t i = 0; kws && i < ca->flags.keyword_count; i++)
        kws[i] = ca->flags.keywords[i].s;
    int64_t date = ca->has_date ? ca->date.utc : (int64_t)time(NULL);
    s->busy = true;
    op_started(op, h->append_begin(h->userdata, op, s->store_user, a->mailbox,
                                   ca->flags.sys & ~IMAPSRV_FLAG_RECENT, kws,
                                   kws ? ca->flags.keyword_count : 0, date,
                                   ca->has_date ? ca->date.tz_min : 0, li->size,
                                   &op->out));
    if (s->busy)
        conn_pause(s->conn); /* until the hook answers */
    return true;
}

static void data_done(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK && s->append) {
        s->append->failed = true;
        s->append->status = op->status;
    }
    resume_input(s);
}

void append_data(struct session *s, const char *data, size_t len)
{
    struct append *a = s->append;
    if (!a || a->failed || !len)
        return; /* dropped: the answer comes after the literal */
    const imapsrv_store_hooks *h = &s->env->store;
    struct imapsrv_op *op = op_new(s, data_done);
    if (!op) {
        a->failed = true;
        a->status = IMAPSRV_E_NOMEM;
        return;
    }
    s->busy = true;
    op_started(op, h->append_data(h->userdata, op, a->handle, data, len));
    if (s->busy)
        conn_pause(s->conn);
}

static void ended(struct session *s, struct imapsrv_op *op)
{
    struct append *a = s->append;
    const char *mailbox = a->mailbox;
    if (op->ctx) { /* aborted: answer the first failure */
        imapsrv_status st = a->status;
        const char *bad = a->bad;
        if (bad)
            session_reply_later(s, "BAD", NULL, bad, true);
        else if (st == IMAPSRV_E_NONEXISTENT)
            session_reply_later(s, "NO", "TRYCREATE",
                                "The target mailbox does not exist", true);
        else if (st == IMAPSRV_E_LIMIT)
            session_reply_later(s, "NO", "TOOBIG", "Message too large", true);
        else
            session_fail(s, st, "Message not appended");
        append_free(s);
        return;
    }
    if (op->status != IMAPSRV_OK) {
        append_free(s);
        session_fail(s, op->status, "Message not appended");
        return;
    }
    if (op->uid)
        hub_recent_added(s->env->hub, s->user, mailbox, op->uid);
    mailbox_publish(
        s, mailbox,
        hub_change_new(HUB_NEW, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0), true);
    append_free(s);
    char code[64];
    snprintf(code, sizeof(code), "APPENDUID %u %u", (unsigned)op->uidvalidity,
             (unsigned)op->uid);
    session_reply_later(s, "OK", op->uid ? code : NULL, "APPEND completed",
                        true);
}

void append_command(struct session *s, const char *buf, size_t len)
{
    struct append *a = s->append;
    /* After the message only the line end may follow: no MULTIAPPEND. */
    bool crlf =
        len == a->head_len + 2 && memcmp(buf + a->head_len, "\r\n", 2) == 0;
    bool lf = len == a->head_len + 1 && buf[a->head_len] == '\n';
    if (!crlf && !lf) {
        if (!a->failed) {
            a->failed = true;
            a->bad = "Only one message per APPEND";
        }
    }
    snprintf(s->tag, sizeof(s->tag), "%s", framer_tag(&s->fr));
    s->busy = true;
    if (!a->begun) { /* nothing to end: answer now */
        struct imapsrv_op fake = {.ctx = (void *)1, .status = a->status};
        ended(s, &fake);
    } else {
        const imapsrv_store_hooks *h = &s->env->store;
        struct imapsrv_op *op = op_new(s, ended);
        if (!op) { /* the store must still hear the end: abort, no op */
            uint32_t v, u;
            h->append_end(h->userdata, NULL, a->handle, 0, &v, &u);
            a->status = IMAPSRV_E_NOMEM;
            struct imapsrv_op fake = {.ctx = (void *)1};
            ended(s, &fake);
        } else {
            op->ctx = a->failed ? (void *)1 : NULL;
            op_started(op, h->append_end(h->userdata, op, a->handle, !a->failed,
                                         &op->uidvalidity, &op->uid));
        }
    }
    if (s->busy)
        conn_pause(s->conn);
}

void append_abort(struct session *s)
{
    struct append *a = s->append;
    if (a && a->begun) {
        const imapsrv_store_hooks *h = &s->env->store;
        uint32_t v, u;
        h->append_end(h->userdata, NULL, a->handle, 0, &v, &u);
    }
    append_free(s);
}

enum cmd_result cmd_append(struct session *s, struct imap_command *cmd)
{
    /* Every message literal streams (append_literal); a complete APPEND
     * reaches here only if it had none. */
    session_tagged(s, s->tag, "BAD", NULL, "APPEND needs a message literal");
    return CMD_DONE;
}
