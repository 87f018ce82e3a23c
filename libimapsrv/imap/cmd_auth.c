/* LOGIN and AUTHENTICATE: credentials go to the host's password hook, which
 * may answer at once or later from any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/op.h"

static void login_done(struct session *s)
{
    s->state = SESS_AUTH;
    loop_timer_cancel(s->loop, &s->timer); /* the login timeout is over */
    if (s->env->auth_result)
        s->env->auth_result(s->env->server, s, true);
    atomic_fetch_add(&s->env->counters->logins_ok, 1);
    log_line(&s->env->log, IMAPSRV_LOG_INFO, "auth.ok",
             "session %llu from %s: user %s logged in on %s",
             (unsigned long long)s->id, s->conn->peer, s->user, s->lst->name);
    /* Clients learn the post-login capabilities from the tagged OK. */
    struct wbuf code;
    wbuf_init(&code);
    wbuf_puts(&code, "CAPABILITY ");
    capability_write(s, &code);
    wbuf_putc(&code, '\0');
    session_finish(s, "OK", code.oom ? NULL : code.data, "Logged in");
    wbuf_free(&code);
}

static void user_opened(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK) {
        log_line(&s->env->log, IMAPSRV_LOG_WARNING, "store.open",
                 "session %llu: the store refused user %s: %s",
                 (unsigned long long)s->id, s->user,
                 imapsrv_strerror(op->status));
        free(s->user);
        s->user = NULL;
        session_finish(s, "NO", status_code(op->status),
                       "Mail storage is not available");
        return;
    }
    s->store_user = op->out;
    login_done(s);
}

static void fail_delayed(struct loop *lp, struct loop_timer *t)
{
    struct session *s =
        (struct session *)((char *)t - offsetof(struct session, delay));
    const char *code = s->fail_code;
    session_finish(s, "NO", code,
                   strcmp(code, "AUTHENTICATIONFAILED") == 0
                       ? "Authentication failed"
                       : "Authentication refused");
}

static void auth_checked(struct session *s, struct imapsrv_op *op)
{
    imapsrv_status st = op->status;
    const char *user = op->user ? op->user : op->req.authcid;
    if (st == IMAPSRV_OK && !user[0])
        st = IMAPSRV_E_AUTHFAILED; /* a certificate hook that named no one */
    /* An authorization identity other than the user needs the hook's
     * consent, which it gives by naming that identity as the user. */
    if (st == IMAPSRV_OK && op->req.authzid[0] &&
        strcmp(op->req.authzid, user) != 0)
        st = IMAPSRV_E_AUTHZFAILED;
    if (st != IMAPSRV_OK) {
        atomic_fetch_add(&s->env->counters->logins_failed, 1);
        bool ext = s->cert_status == TLS_CERT_VALID &&
                   strcmp(op->req.mechanism, "EXTERNAL") == 0;
        log_line(&s->env->log, IMAPSRV_LOG_NOTICE, "auth.fail",
                 "session %llu from %s: %s by %.64s failed: %s%s%.200s%s",
                 (unsigned long long)s->id, s->conn->peer, op->req.mechanism,
                 op->req.authcid, imapsrv_strerror(st),
                 ext ? " (certificate " : "", ext ? s->cert->subject_dn : "",
                 ext ? "; the host's mapping names no user it accepts)" : "");
        s->fail_code = st == IMAPSRV_PENDING ? "SERVERBUG" : status_code(st);
        if (st == IMAPSRV_E_AUTHFAILED || st == IMAPSRV_E_AUTHZFAILED) {
            /* Slow down guessing; the connection stays paused.  The timer
             * is cancelled if the connection goes first. */
            unsigned ms = s->lim->auth_fail_delay_ms;
            if (s->env->auth_result)
                ms = s->env->auth_result(s->env->server, s, false);
            s->delay.fn = fail_delayed;
            loop_timer_arm(s->loop, &s->delay, loop_now(s->loop) + ms);
            return;
        }
        session_finish(s, "NO", s->fail_code, "Authentication refused");
        return;
    }
    s->user = strdup(user);
    if (!s->user) {
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    }
    if (!s->env->have_store || !s->env->store.user_open) {
        login_done(s);
        return;
    }
    struct imapsrv_op *uop = op_new(s, user_opened);
    if (!uop) {
        free(s->user);
        s->user = NULL;
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    }
    op_started(uop, s->env->store.user_open(s->env->store.userdata, uop,
                                            s->user, &uop->out));
}

/* An op carrying the request's strings (wiped when it is freed); NULL
 * when out of memory, after answering NO. */
static struct imapsrv_op *auth_op(struct session *s, const char *mech,
                                  const char *authzid, const char *authcid,
                                  const char *pw, size_t pwlen)
{
    struct imapsrv_op *op = op_new(s, auth_checked);
    size_t zl = strlen(authzid), cl = strlen(authcid);
    if (op) {
        op->secret_len = zl + cl + pwlen + 3;
        op->secret = malloc(op->secret_len);
    }
    if (!op || !op->secret) {
        if (op)
            op_cancel(op);
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return NULL;
    }
    char *p = op->secret;
    memcpy(p, authzid, zl + 1);
    op->req.authzid = p;
    p += zl + 1;
    memcpy(p, authcid, cl + 1);
    op->req.authcid = p;
    p += cl + 1;
    memcpy(p, pw, pwlen);
    p[pwlen] = '\0';
    op->req.password = p;
    op->req.password_len = pwlen;
    op->req.mechanism = mech;
    op->req.listener = s->lst->name;
    op->req.remote_addr = s->conn->peer;
    op->req.local_addr = s->conn->local;
    op->req.tls = s->tls;
    return op;
}

/* Start the password check; the session is busy until auth_checked runs. */
static void auth_start(struct session *s, const char *mech, const char *authzid,
                       const char *authcid, const char *pw, size_t pwlen)
{
    if (!s->env->have_auth || !s->env->auth.password) {
        session_finish(s, "NO", "UNAVAILABLE",
                       "No authentication service is configured");
        return;
    }
    struct imapsrv_op *op = auth_op(s, mech, authzid, authcid, pw, pwlen);
    if (op)
        op_started(op,
                   s->env->auth.password(s->env->auth.userdata, op, &op->req));
}

/* AUTHENTICATE EXTERNAL: the verified certificate names the user, through
 * the host's hook or by default its e-mail address, else its CN. */
static void external_start(struct session *s, const char *authzid)
{
    const struct tls_cert_info *ci = s->cert;
    const char *who = "";
    if (s->cert_status == TLS_CERT_VALID)
        switch (s->pol->cfg->tls_cert_user) {
        case CFG_CERT_EMAIL: who = ci->email; break;
        case CFG_CERT_CN: who = ci->common_name; break;
        default: who = ci->email[0] ? ci->email : ci->common_name;
        }
    struct imapsrv_op *op = auth_op(s, "EXTERNAL", authzid, who, "", 0);
    if (!op)
        return;
    bool hook = s->env->have_auth && s->env->auth.certificate;
    if (s->cert_status != TLS_CERT_VALID || (!who[0] && !hook)) {
        /* Never a login without a valid, mapped certificate; the reason
         * goes to the log only. */
        log_line(&s->env->log, IMAPSRV_LOG_NOTICE, "auth.external",
                 "session %llu from %s: EXTERNAL refused: %s",
                 (unsigned long long)s->id, s->conn->peer,
                 s->cert_status == TLS_CERT_NONE ? "no client certificate"
                 : s->cert_status == TLS_CERT_INVALID
                     ? ci->reason
                     : "certificate names no user");
        op_started(op, IMAPSRV_E_AUTHFAILED);
        return;
    }
    if (!hook) {
        op_started(op, IMAPSRV_OK);
        return;
    }
    op->cert_req.subject_dn = ci->subject_dn;
    op->cert_req.common_name = ci->common_name;
    op->cert_req.email = ci->email;
    op->cert_req.user = op->req.authcid;
    op->cert_req.authzid = op->req.authzid;
    op->cert_req.listener = s->lst->name;
    op->cert_req.remote_addr = s->conn->peer;
    op->cert_req.local_addr = s->conn->local;
    /* The hook names the user; an OK naming no one keeps the default
     * mapping. */
    op_started(
        op, s->env->auth.certificate(s->env->auth.userdata, op, &op->cert_req));
}

/* Whether passwords are refused on this connection now (the NO is
 * written). */
static bool password_refused(struct session *s, const char *tag)
{
    if (session_password_allowed(s))
        return false;
    if (s->lst->auth_password && s->lst->require_tls && !s->tls)
        session_tagged(s, tag, "NO", "PRIVACYREQUIRED",
                       "Use STARTTLS before logging in with a password");
    else
        session_tagged(s, tag, "NO", "CANNOT",
                       "Password logins are disabled on this port");
    return true;
}

enum cmd_result cmd_login(struct session *s, struct imap_command *cmd)
{
    if (password_refused(s, cmd->tag.s))
        return CMD_DONE;
    if (memchr(cmd->u.login.user.s, 0, cmd->u.login.user.len)) {
        session_tagged(s, cmd->tag.s, "BAD", NULL, "NUL in user name");
        return CMD_DONE;
    }
    auth_start(s, "LOGIN", "", cmd->u.login.user.s, cmd->u.login.password.s,
               cmd->u.login.password.len);
    return CMD_ASYNC;
}

static void sasl_reset(struct session *s)
{
    s->input = INPUT_COMMAND;
    if (s->sasl) {
        sasl_wipe(s->sasl);
        free(s->sasl);
        s->sasl = NULL;
    }
}

/* Act on the mechanism's answer to one client step. */
static enum cmd_result sasl_next(struct session *s, enum sasl_status st,
                                 const char *challenge)
{
    switch (st) {
    case SASL_CHALLENGE:
        wbuf_puts(&s->conn->out, "+ ");
        wbuf_puts(&s->conn->out, challenge ? challenge : "");
        wbuf_puts(&s->conn->out, "\r\n");
        s->input = INPUT_SASL;
        framer_set_raw(&s->fr);
        return CMD_DONE;
    case SASL_CANCELLED:
        sasl_reset(s);
        session_tagged(s, s->tag, "BAD", NULL, "Authentication cancelled");
        return CMD_DONE;
    case SASL_MALFORMED:
        sasl_reset(s);
        session_tagged(s, s->tag, "BAD", NULL,
                       "Malformed authentication response");
        return CMD_DONE;
    case SASL_COMPLETE: break;
    }
    struct sasl *sa = s->sasl;
    s->busy = true;
    if (sa->mech == SASL_EXTERNAL)
        external_start(s, sa->authzid);
    else
        auth_start(s, sasl_mech_name(sa->mech), sa->authzid, sa->authcid,
                   sa->password, sa->password_len);
    sasl_reset(s);
    return CMD_ASYNC;
}

enum cmd_result cmd_authenticate(struct session *s, struct imap_command *cmd)
{
    enum sasl_mech mech;
    if (!sasl_mech_from_name(cmd->u.authenticate.mechanism.s, &mech) ||
        (mech == SASL_EXTERNAL && !s->lst->auth_client_cert)) {
        session_tagged(s, cmd->tag.s, "NO", "CANNOT",
                       "Unsupported authentication mechanism");
        return CMD_DONE;
    }
    if (mech != SASL_EXTERNAL && password_refused(s, cmd->tag.s))
        return CMD_DONE;
    s->sasl = calloc(1, sizeof(*s->sasl));
    if (!s->sasl) {
        session_tagged(s, cmd->tag.s, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    sasl_begin(s->sasl, mech);
    const char *challenge = NULL;
    enum sasl_status st = sasl_step(
        s->sasl, cmd->u.authenticate.initial.s, cmd->u.authenticate.initial.len,
        cmd->u.authenticate.has_initial, &challenge);
    return sasl_next(s, st, challenge);
}

void auth_sasl_line(struct session *s, const char *line, size_t len)
{
    s->input = INPUT_COMMAND;
    const char *challenge = NULL;
    enum sasl_status st = sasl_step(s->sasl, line, len, true, &challenge);
    if (sasl_next(s, st, challenge) == CMD_ASYNC && s->busy)
        conn_pause(s->conn);
}

void auth_sasl_abort(struct session *s, const char *why)
{
    sasl_reset(s);
    session_tagged(s, s->tag, "BAD", NULL, why);
}

void imapsrv_auth_done(imapsrv_op *op, imapsrv_status status, const char *user)
{
    if (op && user) {
        free(op->user);
        op->user = strdup(user);
    }
    imapsrv_op_done(op, status);
}

void imapsrv_auth_set_user(imapsrv_op *op, const char *user)
{
    if (!op || !user)
        return;
    free(op->user);
    op->user = strdup(user);
}
