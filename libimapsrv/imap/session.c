#include "imap/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/mailbox.h"
#include "imap/op.h"
#include "proto/parser.h"
#include "proto/writer.h"

#define CLOSE_GUARD_MS 5000 /* a client that will not read its BYE */

/* ---- configuration generations ---- */

struct policy *policy_new(imapsrv_config *cfg, struct tls_ctx *tls)
{
    struct policy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    atomic_init(&p->refs, 1);
    p->cfg = cfg;
    p->tls = tls;
    return p;
}

void policy_ref(struct policy *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void policy_unref(struct policy *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        imapsrv_config_destroy(&p->cfg);
        if (p->tls)
            tls_ctx_unref(p->tls);
        free(p);
    }
}

/* ---- responses ---- */

const char *status_code(imapsrv_status st)
{
    switch (st) {
    case IMAPSRV_E_AUTHFAILED: return "AUTHENTICATIONFAILED";
    case IMAPSRV_E_AUTHZFAILED: return "AUTHORIZATIONFAILED";
    case IMAPSRV_E_EXPIRED: return "EXPIRED";
    case IMAPSRV_E_UNAVAILABLE: return "UNAVAILABLE";
    case IMAPSRV_E_NONEXISTENT: return "NONEXISTENT";
    case IMAPSRV_E_ALREADYEXISTS: return "ALREADYEXISTS";
    case IMAPSRV_E_CANNOT: return "CANNOT";
    case IMAPSRV_E_INUSE: return "INUSE";
    case IMAPSRV_E_OVERQUOTA: return "OVERQUOTA";
    case IMAPSRV_E_LIMIT: return "LIMIT";
    case IMAPSRV_E_NOPERM: return "NOPERM";
    case IMAPSRV_E_EXPUNGED: return "EXPUNGEISSUED";
    case IMAPSRV_E_CONTACTADMIN: return "CONTACTADMIN";
    case IMAPSRV_E_NOMEM:
    case IMAPSRV_E_SYSTEM: return "UNAVAILABLE";
    default: return "SERVERBUG";
    }
}

void session_tagged(struct session *s, const char *tag, const char *status,
                    const char *code, const char *text)
{
    struct wbuf *w = &s->conn->out;
    wbuf_puts(w, tag && *tag ? tag : "*");
    wbuf_putc(w, ' ');
    wbuf_puts(w, status);
    wbuf_putc(w, ' ');
    if (code) {
        wbuf_putc(w, '[');
        wbuf_puts(w, code);
        wbuf_puts(w, "] ");
    }
    wbuf_text(w, text, strlen(text));
    wbuf_puts(w, "\r\n");
}

void session_untagged(struct session *s, const char *text)
{
    wbuf_puts(&s->conn->out, "* ");
    wbuf_puts(&s->conn->out, text);
    wbuf_puts(&s->conn->out, "\r\n");
}

/* ---- lifetime ---- */

void session_ref(struct session *s)
{
    s->refs++;
}

void session_unref(struct session *s)
{
    if (--s->refs > 0)
        return;
    append_abort(s);
    selected_close(s);
    if (s->store_user && s->env->store.user_close)
        s->env->store.user_close(s->env->store.userdata, s->store_user);
    framer_free(&s->fr);
    arena_free(&s->arena);
    if (s->sasl) {
        sasl_wipe(s->sasl);
        free(s->sasl);
    }
    if (s->job)
        s->job->free(s->job);
    free(s->reply_code);
    free(s->reply_text);
    free(s->user);
    free(s->cert);
    policy_unref(s->pol);
    free(s);
}

static void session_conn_closed(void *owner)
{
    struct session *s = owner;
    s->gone = true;
    loop_timer_cancel(s->loop, &s->timer);
    loop_timer_cancel(s->loop, &s->delay);
    /* No more updates; the store's handles close with the last op (a hook
     * answering later may still be using them). */
    if (s->sel) {
        hub_unwatch(s->sel->watch);
        s->sel->watch = NULL;
    }
    atomic_fetch_sub(&s->env->counters->connections_open, 1);
    if (s->env->session_ended)
        s->env->session_ended(s->env->server, s);
    log_line(&s->env->log, IMAPSRV_LOG_INFO, "session.end",
             "session %llu from %s closed%s%s", (unsigned long long)s->id,
             s->conn->peer, s->user ? " user=" : "", s->user ? s->user : "");
    session_unref(s);
}

static void session_timer(struct loop *lp, struct loop_timer *t)
{
    struct session *s =
        (struct session *)((char *)t - offsetof(struct session, timer));
    if (s->closing) {
        conn_abort(s->conn);
        return;
    }
    if (s->state == SESS_NOTAUTH) {
        log_line(&s->env->log, IMAPSRV_LOG_INFO, "session.timeout",
                 "session %llu from %s: login timeout",
                 (unsigned long long)s->id, s->conn->peer);
        session_bye(s, "Login timeout");
    } else {
        session_bye(s, "Autologout; idle for too long");
    }
}

static void session_arm_idle(struct session *s)
{
    unsigned ms = s->state == SESS_NOTAUTH ? s->lim->login_timeout_ms
                                           : s->lim->session_timeout_ms;
    /* The login timeout runs from the connection, not from the last byte:
     * a client trickling bytes must not stay unauthenticated forever. */
    if (s->state == SESS_NOTAUTH && s->timer.slot)
        return;
    loop_timer_arm(s->loop, &s->timer, loop_now(s->loop) + ms);
}

void session_close(struct session *s)
{
    if (s->closing || s->gone)
        return;
    s->closing = true;
    loop_timer_arm(s->loop, &s->timer, loop_now(s->loop) + CLOSE_GUARD_MS);
    conn_close(s->conn);
}

void session_bye(struct session *s, const char *text)
{
    if (s->closing || s->gone)
        return;
    wbuf_puts(&s->conn->out, "* BYE ");
    wbuf_text(&s->conn->out, text, strlen(text));
    wbuf_puts(&s->conn->out, "\r\n");
    session_close(s);
}

bool session_password_allowed(const struct session *s)
{
    return s->lst->auth_password && (s->tls || !s->lst->require_tls);
}

/* ---- command dispatch ---- */

static void count_bad(struct session *s)
{
    /* Before login, garbage usually means another protocol talking to us
     * (cross-protocol attacks): give up after a few lines. */
    if (s->state == SESS_NOTAUTH &&
        ++s->bad_commands >= s->lim->max_bad_commands)
        session_bye(s, "Too many invalid commands");
}

static void run_command(struct session *s, const char *buf, size_t len)
{
    struct imap_command cmd;
    const char *err = "Syntax error";
    arena_reset(&s->arena);
    struct parser_limits pl = {.max_depth = s->lim->max_nesting};
    enum parse_result r = parser_parse(buf, len, &pl, &s->arena, &cmd, &err);
    switch (r) {
    case PARSE_OK: break;
    case PARSE_NOMEM:
        session_tagged(s, cmd.tag.s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    case PARSE_BAD_TAG:
        session_tagged(s, NULL, "BAD", NULL, err);
        count_bad(s);
        return;
    default:
        session_tagged(s, cmd.tag.s, "BAD", NULL, err);
        count_bad(s);
        return;
    }
    const struct cmd_def *def = command_def(cmd.type);
    if (!def || !def->fn) {
        session_tagged(s, cmd.tag.s, "BAD", NULL,
                       "Command not supported by this server");
        count_bad(s);
        return;
    }
    if (!(def->states & (1u << s->state))) {
        const char *why = s->state == SESS_NOTAUTH ? "Log in first"
                          : def->states == IN_NOTAUTH
                              ? "Already logged in"
                              : "Select a mailbox first";
        session_tagged(s, cmd.tag.s, "NO", NULL, why);
        return;
    }
    snprintf(s->tag, sizeof(s->tag), "%s", cmd.tag.s);
    /* busy before the handler: a hook that answers at once finishes the
     * command (session_finish) before the handler returns. */
    s->busy = true;
    if (def->fn(s, &cmd) == CMD_DONE)
        s->busy = false;
    else if (s->busy)
        conn_pause(s->conn);
}

void session_finish(struct session *s, const char *status, const char *code,
                    const char *text)
{
    s->busy = false;
    if (s->gone)
        return;
    if (status)
        session_tagged(s, s->tag, status, code, text);
    session_arm_idle(s);
    session_ref(s); /* resuming may run commands that end the session */
    if (!s->closing)
        conn_resume(s->conn);
    if (!s->gone)
        conn_flush(s->conn);
    session_unref(s);
}

static bool literal_ok(struct session *s)
{
    const struct framer_literal_info *li = framer_literal(&s->fr);
    if (li->size <= s->lim->max_literal) {
        if (li->sync)
            wbuf_puts(&s->conn->out, "+ Ready for literal data\r\n");
        framer_accept_literal(&s->fr);
        return true;
    }
    if (li->sync) {
        /* Refused before the client sends it: the command is dropped. */
        session_tagged(s, framer_tag(&s->fr), "NO", "TOOBIG",
                       "Literal too large");
        framer_reject(&s->fr);
        return true;
    }
    /* A non-synchronizing literal is already on its way: the stream can no
     * longer be followed. */
    wbuf_puts(&s->conn->out, "* BYE [TOOBIG] Literal too large\r\n");
    session_close(s);
    return false;
}

static size_t session_on_data(void *owner, const char *data, size_t len)
{
    struct session *s = owner;
    size_t done = 0;
    /* A command may end the connection, which drops the connection's
     * reference; ours keeps the session until this loop is done. */
    session_ref(s);
    if (s->state != SESS_NOTAUTH)
        session_arm_idle(s);
    while (done < len && !s->busy && !s->closing && !s->gone && !s->switching) {
        size_t used = 0;
        enum framer_event ev =
            framer_feed(&s->fr, data + done, len - done, &used);
        done += used;
        const char *cbuf;
        size_t clen;
        switch (ev) {
        case FR_NEED_MORE: break;
        case FR_COMMAND:
            cbuf = framer_command(&s->fr, &clen);
            if (s->append)
                append_command(s, cbuf, clen);
            else
                run_command(s, cbuf, clen);
            framer_next(&s->fr);
            break;
        case FR_LITERAL_DATA:
            cbuf = framer_literal_data(&s->fr, &clen);
            append_data(s, cbuf, clen);
            break;
        case FR_RAW_LINE:
            cbuf = framer_command(&s->fr, &clen);
            if (s->input == INPUT_SASL)
                auth_sasl_line(s, cbuf, clen);
            else if (s->input == INPUT_IDLE)
                idle_line(s, cbuf, clen);
            framer_next(&s->fr);
            break;
        case FR_LITERAL:
            if (s->state != SESS_NOTAUTH && !s->append &&
                strcmp(framer_name(&s->fr), "APPEND") == 0 && append_literal(s))
                break;
            literal_ok(s);
            break;
        case FR_LINE_TOO_LONG:
            if (s->input == INPUT_SASL) { /* the AUTHENTICATE ends here */
                auth_sasl_abort(s, "Authentication response too long");
                break;
            }
            if (s->input == INPUT_IDLE) {
                idle_line(s, "", 0); /* not DONE: IDLE ends with BAD */
                break;
            }
            session_tagged(s, framer_tag(&s->fr), "BAD", NULL,
                           "Command line too long");
            count_bad(s);
            break;
        }
        if (ev == FR_NEED_MORE)
            break;
    }
    if (s->switching) {
        /* Bytes pipelined after STARTTLS are never read as commands. */
        s->switching = false;
        done = len;
    }
    session_unref(s);
    return done;
}

static void write_greeting(struct session *s);

static void session_secure(void *owner, bool ok, const char *err)
{
    struct session *s = owner;
    if (!ok) {
        log_line(&s->env->log, IMAPSRV_LOG_INFO, "tls.fail",
                 "session %llu from %s: TLS handshake failed: %s",
                 (unsigned long long)s->id, s->conn->peer, err);
        return;
    }
    char desc[128];
    tls_describe(s->conn->tls, desc, sizeof(desc));
    log_line(&s->env->log, IMAPSRV_LOG_DEBUG, "tls.ok", "session %llu: %s%s",
             (unsigned long long)s->id, desc,
             tls_resumed(s->conn->tls) ? " (resumed)" : "");
    if (s->conn->tls_request_cert) {
        s->cert = calloc(1, sizeof(*s->cert));
        s->cert_status =
            s->cert ? tls_client_cert(s->conn->tls, s->cert) : TLS_CERT_NONE;
        if (s->cert_status == TLS_CERT_INVALID)
            log_line(&s->env->log, IMAPSRV_LOG_NOTICE, "tls.client_cert",
                     "session %llu from %s: client certificate refused: %s "
                     "(%s)",
                     (unsigned long long)s->id, s->conn->peer, s->cert->reason,
                     s->cert->subject_dn);
    }
    /* On an implicit-TLS port the greeting waits for the handshake: its
     * capabilities depend on the certificate (mbsync reads only these). */
    if (s->state == SESS_NOTAUTH && !s->greeted && !s->closing)
        write_greeting(s);
}

static void session_on_drain(void *owner)
{
    struct session *s = owner;
    if (s->job && s->job->drain && !s->gone) {
        s->job->drain = false;
        s->job->step(s);
    }
}

static const struct conn_handler session_handler = {
    .on_data = session_on_data,
    .on_close = session_conn_closed,
    .on_secure = session_secure,
    .on_drain = session_on_drain,
};

/* ---- start ---- */

/* Some way to log in exists on this connection, now or after STARTTLS. */
static bool login_possible(const struct session *s)
{
    if (session_password_allowed(s))
        return true;
    if (s->lst->auth_client_cert && s->tls && s->pol->tls &&
        tls_ctx_has_ca(s->pol->tls))
        return true;
    return s->lst->auth_password && s->pol->tls &&
           s->lst->tls == IMAPSRV_TLS_STARTTLS;
}

static void write_greeting(struct session *s)
{
    s->greeted = true;
    struct wbuf *w = &s->conn->out;
    wbuf_puts(w, "* OK [CAPABILITY ");
    capability_write(s, w);
    wbuf_puts(w, "] ");
    wbuf_text(w, s->lst->greeting, strlen(s->lst->greeting));
    wbuf_puts(w, "\r\n");
}

bool session_start(const struct imap_env *env, struct policy *pol,
                   const struct cfg_listener *lst, struct conn *c, uint64_t id)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        conn_abort(c);
        return false;
    }
    s->env = env;
    s->pol = pol;
    policy_ref(pol);
    s->lst = lst;
    s->lim = &pol->cfg->limits;
    s->conn = c;
    s->loop = c->loop;
    s->id = id;
    s->refs = 1; /* held by the connection until it closes */
    s->timer.fn = session_timer;
    struct framer_limits fl = {
        .max_line = s->lim->max_line,
        /* Literals are checked one by one against their own limits;
         * this only bounds the whole command in memory (APPEND's message
         * streams past it). */
        .max_command = s->lim->max_line + s->lim->max_literal,
    };
    framer_init(&s->fr, &fl);
    arena_init(&s->arena, 2048, 0);
    atomic_fetch_add(&env->counters->connections_total, 1);
    atomic_fetch_add(&env->counters->connections_open, 1);
    conn_set_owner(c, &session_handler, s);
    if (env->session_started)
        env->session_started(env->server, s);
    s->tls = lst->tls == IMAPSRV_TLS_IMPLICIT && pol->tls;
    log_line(&env->log, IMAPSRV_LOG_INFO, "session.start",
             "session %llu from %s on %s (%s:%d)", (unsigned long long)id,
             c->peer, lst->name, c->local, c->local_port);
    bool open = login_possible(s);
    if (!open) {
        /* POLICY.md "nobody can log in": a uniform answer, a precise log.
         * The BYE is this connection's opening line (after the handshake
         * on a TLS port). */
        atomic_fetch_add(&env->counters->refused_by_policy, 1);
        log_line(&env->log, IMAPSRV_LOG_WARNING, "policy.nologin",
                 "listener %s: connection from %s to %s refused: no "
                 "authentication method is enabled on this port",
                 lst->name, c->peer, c->local);
        wbuf_puts(&c->out, "* BYE [UNAVAILABLE] This site is not enabled "
                           "on the server\r\n");
        s->greeted = true;
    }
    if (s->tls) {
        /* Output is queued until the handshake is done; the greeting is
         * written then (its capabilities depend on the certificate). */
        conn_start_tls(c, pol->tls, lst->auth_client_cert, false);
        if (s->gone)
            return true;
    }
    if (!open) {
        session_close(s);
        return true;
    }
    if (!s->tls)
        write_greeting(s);
    session_arm_idle(s);
    conn_flush(c);
    return true;
}

/* ---- operations ---- */

static void op_task(struct loop *lp, struct loop_task *t)
{
    struct imapsrv_op *op = (struct imapsrv_op *)t;
    struct session *s = op->s;
    if (!s->gone)
        op->complete(s, op);
    op_free(op);
    session_unref(s);
}

struct imapsrv_op *op_new(struct session *s, op_complete_fn complete)
{
    struct imapsrv_op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->s = s;
    op->complete = complete;
    op->task.fn = op_task;
    session_ref(s);
    return op;
}

void op_started(struct imapsrv_op *op, imapsrv_status st)
{
    if (st == IMAPSRV_PENDING)
        return; /* imapsrv_*_done() posts op_task to the loop */
    op->status = st;
    op_task(op->s->loop, &op->task);
}

void op_free(struct imapsrv_op *op)
{
    if (op->secret) {
        explicit_bzero(op->secret, op->secret_len);
        free(op->secret);
    }
    free(op->user);
    for (size_t i = 0; i < op->mailboxes.count; i++)
        free((char *)op->mailboxes.items[i].name);
    free(op->mailboxes.items);
    for (size_t i = 0; i < op->pattern_count; i++)
        free(op->patterns[i]);
    free(op->patterns);
    if (op->list) {
        view_free(op->list);
        free(op->list);
    }
    free(op->copy.uids);
    free(op->uids);
    free(op->name);
    free(op->name2);
    if (op->ctx && op->ctx_free)
        op->ctx_free(op->ctx);
    free(op);
}

void op_cancel(struct imapsrv_op *op)
{
    struct session *s = op->s;
    op_free(op);
    session_unref(s);
}

void imapsrv_op_done(imapsrv_op *op, imapsrv_status status)
{
    if (!op)
        return;
    op->status = status;
    loop_post(op->s->loop, &op->task);
}

imapsrv_status imapsrv_emit_mailbox(imapsrv_op *op,
                                    const imapsrv_mailbox_info *mb)
{
    if (!op || !mb || !mb->name)
        return IMAPSRV_E_INVALID;
    struct op_mailboxes *m = &op->mailboxes;
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        imapsrv_mailbox_info *n = realloc(m->items, cap * sizeof(*n));
        if (!n)
            return IMAPSRV_E_NOMEM;
        m->items = n;
        m->cap = cap;
    }
    char *name = strdup(mb->name);
    if (!name)
        return IMAPSRV_E_NOMEM;
    m->items[m->count].name = name;
    m->items[m->count].attrs = mb->attrs;
    m->count++;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_emit_message(imapsrv_op *op,
                                    const imapsrv_message_info *msg)
{
    if (!op || !msg || !msg->uid)
        return IMAPSRV_E_INVALID;
    if (!op->list) {
        /* Filled on the hook's thread; the session reads it only once the
         * op completed, so no lock is needed. */
        if (!(op->list = malloc(sizeof(*op->list))))
            return IMAPSRV_E_NOMEM;
        view_init(op->list, 0, 0);
    }
    if (msg->uid < op->min_uid)
        return IMAPSRV_OK; /* not asked for: ignore */
    return view_append_info(op->list, msg);
}

imapsrv_status imapsrv_emit_uid(imapsrv_op *op, uint32_t uid)
{
    if (!op || !uid)
        return IMAPSRV_E_INVALID;
    if (op->n_uids == op->cap_uids) {
        size_t cap = op->cap_uids ? op->cap_uids * 2 : 64;
        uint32_t *u = realloc(op->uids, cap * sizeof(*u));
        if (!u)
            return IMAPSRV_E_NOMEM;
        op->uids = u;
        op->cap_uids = cap;
    }
    op->uids[op->n_uids++] = uid;
    return IMAPSRV_OK;
}
