/* One IMAP session: the state machine on top of a connection.  Lives on its
 * connection's loop thread for its whole life; hooks that answer later come
 * back through a task posted to that loop. */
#ifndef IMAPSRV_IMAP_SESSION_H
#define IMAPSRV_IMAP_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "imapsrv.h"
#include "net/conn.h"
#include "net/tls.h"
#include "proto/command.h"
#include "proto/framer.h"
#include "proto/sasl.h"

/* One configuration generation.  Sessions keep the one they started with
 * across reloads; it is freed when the last of them ends. */
struct policy {
    atomic_int refs;
    imapsrv_config *cfg;
    struct tls_ctx *tls; /* NULL: no certificate configured */
};

/* Takes ownership of cfg and of the reference to tls (may be NULL). */
struct policy *policy_new(imapsrv_config *cfg, struct tls_ctx *tls);
void policy_ref(struct policy *p);
void policy_unref(struct policy *p);

struct imap_counters {
    atomic_uint_fast64_t connections_total;
    atomic_uint_fast64_t connections_open;
    atomic_uint_fast64_t logins_ok;
    atomic_uint_fast64_t logins_failed;
    atomic_uint_fast64_t refused_by_policy;
};

struct session;

/* What a session needs of the server around it; lives as long as the
 * server. */
struct imap_env {
    imapsrv_auth_hooks auth;
    imapsrv_store_hooks store;
    bool have_auth, have_store;
    struct log log;
    struct imap_counters *counters;
    /* Called once when a session begins (before anything is sent) and
     * once when it ends: the server's bookkeeping. */
    void (*session_started)(void *server, struct session *s);
    void (*session_ended)(void *server, struct session *s);
    /* A login succeeded or failed; returns the delay (ms) before a
     * failure is answered. */
    unsigned (*auth_result)(void *server, struct session *s, bool ok);
    void *server;
    struct hub *hub; /* cross-session mailbox changes */
};

enum session_state {
    SESS_NOTAUTH,
    SESS_AUTH,
    SESS_SELECTED,
    SESS_LOGOUT,
};

enum session_input {
    INPUT_COMMAND,
    INPUT_SASL, /* the next line answers an AUTHENTICATE challenge */
    INPUT_IDLE, /* the next line ends IDLE */
};

struct session {
    const struct imap_env *env;
    struct policy *pol;
    const struct cfg_listener *lst; /* inside pol->cfg */
    const imapsrv_limits *lim;      /* inside pol->cfg */
    struct conn *conn;
    struct loop *loop;
    uint64_t id;                           /* for log lines */
    struct session *loop_prev, *loop_next; /* the server's per-loop list */

    enum session_state state;
    enum session_input input;
    struct framer fr;
    struct arena arena;
    struct loop_timer timer; /* login timeout, autologout, close guard */
    struct loop_timer delay; /* failed-authentication delay */

    int refs;       /* conn + pending operations; loop thread only */
    bool gone;      /* connection closed */
    bool busy;      /* a command is waiting for a hook or a delay */
    bool closing;   /* BYE sent, output draining */
    bool tls;       /* encrypted, or the handshake is under way */
    bool switching; /* STARTTLS accepted: the rest of the input is dropped */
    bool greeted;
    unsigned bad_commands;
    enum tls_cert_status cert_status;
    struct tls_cert_info *cert; /* when a certificate was asked for */

    char tag[64];          /* tag of the command in progress (busy) */
    const char *fail_code; /* response code of a delayed failure */
    struct sasl *sasl;
    char *user;
    void *store_user;

    /* Mailbox engine (imap/mailbox.h). */
    struct selected *sel;  /* SESS_SELECTED only */
    struct append *append; /* APPEND whose message is streaming */
    struct job *job;       /* a command working in steps (FETCH, SEARCH,
                              APPEND, ...); freed with the session */
    bool idling;           /* IDLE: between "+ idling" and DONE */
    bool rev2;             /* ENABLE IMAP4rev2 */
    bool utf8;             /* ENABLE UTF8=ACCEPT (implied by rev2) */
    bool syncing;          /* untagged updates are being gathered */
    char reply_status[4];  /* a reply waiting for the updates before it */
    char *reply_code, *reply_text;
};

/* Start a session on an accepted connection: greeting (or the policy's BYE)
 * written, timers armed.  False when out of memory (conn aborted, no
 * callback run).  The session may already be gone when this returns. */
bool session_start(const struct imap_env *env, struct policy *pol,
                   const struct cfg_listener *lst, struct conn *c, uint64_t id);
/* Server shutdown: "* BYE text" and close. */
void session_bye(struct session *s, const char *text);

/* ---- for the command handlers ---- */
enum cmd_result {
    CMD_DONE,  /* the tagged answer is written */
    CMD_ASYNC, /* a hook or timer will finish it; input stays paused */
};

void session_tagged(struct session *s, const char *tag, const char *status,
                    const char *code, const char *text);
void session_untagged(struct session *s, const char *text);
/* Finish an ASYNC command: write its tagged answer and read on. */
void session_finish(struct session *s, const char *status, const char *code,
                    const char *text);
void session_close(struct session *s);
void session_ref(struct session *s);
void session_unref(struct session *s);
/* Whether password mechanisms are allowed on this connection now. */
bool session_password_allowed(const struct session *s);
const char *status_code(imapsrv_status st);

#endif
