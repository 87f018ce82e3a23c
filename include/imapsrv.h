/* libimapsrv: an embeddable IMAP server library.
 *
 * The host links the library, hands it a configuration (ports, limits, who may
 * log in) and tables of hooks (authentication, mailbox storage, logging); the
 * library speaks IMAP on the wire.  Every byte of protocol, TLS, state and
 * notification is the library's; every byte of mail and every password
 * decision is the host's.
 *
 * Conventions: functions return imapsrv_status (0 = ok); output parameters end
 * in _r; destroy functions take a pointer to the handle and set it to NULL;
 * every hook table starts with a size field (set it to sizeof the table) so
 * that the ABI can grow; no variadic functions; no global state.
 */
#ifndef IMAPSRV_H
#define IMAPSRV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is its
 * whole exported interface. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define IMAPSRV_VERSION "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */

typedef enum imapsrv_status {
    IMAPSRV_OK = 0,
    IMAPSRV_PENDING = 1, /* a hook will finish later through a *_done() call */

    IMAPSRV_E_NOMEM = -1,
    IMAPSRV_E_INVALID = -2,     /* bad argument or value */
    IMAPSRV_E_NOKEY = -3,       /* unknown configuration key */
    IMAPSRV_E_CONFIG = -4,      /* configuration refused: see its problems */
    IMAPSRV_E_BIND = -5,        /* a listener could not be bound */
    IMAPSRV_E_SYSTEM = -6,      /* an operating system call failed */
    IMAPSRV_E_TLS = -7,         /* TLS setup failed */
    IMAPSRV_E_STATE = -8,       /* not allowed in the object's current state */
    IMAPSRV_E_UNSUPPORTED = -9, /* not available in this build or mode */

    /* Results a hook returns; each maps to an RFC 5530 response code. */
    IMAPSRV_E_AUTHFAILED = -100,  /* [AUTHENTICATIONFAILED] */
    IMAPSRV_E_AUTHZFAILED = -101, /* [AUTHORIZATIONFAILED] */
    IMAPSRV_E_EXPIRED = -102,     /* [EXPIRED] */
    IMAPSRV_E_UNAVAILABLE = -103, /* [UNAVAILABLE] */
    IMAPSRV_E_NONEXISTENT =
        -104, /* [NONEXISTENT] (or [TRYCREATE] where fitting) */
    IMAPSRV_E_ALREADYEXISTS = -105, /* [ALREADYEXISTS] */
    IMAPSRV_E_CANNOT = -106,        /* [CANNOT] */
    IMAPSRV_E_INUSE = -107,         /* [INUSE] */
    IMAPSRV_E_OVERQUOTA = -108,     /* [OVERQUOTA] */
    IMAPSRV_E_LIMIT = -109,         /* [LIMIT] */
    IMAPSRV_E_NOPERM = -110,        /* [NOPERM] */
    IMAPSRV_E_EXPUNGED = -111,      /* [EXPUNGEISSUED] */
    IMAPSRV_E_CONTACTADMIN = -112,  /* [CONTACTADMIN] */
    IMAPSRV_E_SERVERBUG = -113,     /* [SERVERBUG] */
} imapsrv_status;

/* A short, static, human-readable description of a status. */
const char *imapsrv_strerror(imapsrv_status status);

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */

typedef enum imapsrv_log_level {
    IMAPSRV_LOG_ERROR = 0,
    IMAPSRV_LOG_WARNING = 1,
    IMAPSRV_LOG_NOTICE = 2,
    IMAPSRV_LOG_INFO = 3,
    IMAPSRV_LOG_DEBUG = 4,
} imapsrv_log_level;

/* One preformatted line, already redacted (no password or key ever reaches
 * it).  `event` is a stable dotted name ("listener.start", "auth.fail").
 * Called from whichever thread produced the line. */
typedef void (*imapsrv_log_fn)(void *userdata, imapsrv_log_level level,
                               const char *event, const char *line);

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/*
 * A configuration is the whole policy of one server: its listeners, limits
 * and access lists.  It is filled either through typed structs (below) or
 * through flat "key = value" strings, e.g.
 *     imapsrv_config_set(cfg, "imaps.auth.client_cert", "yes");
 * A fresh configuration carries the defaults: listener "imap" on port 143,
 * enabled, name & password allowed; listener "imaps" on port 993, disabled.
 */

typedef struct imapsrv_config imapsrv_config;

imapsrv_status imapsrv_config_new(imapsrv_config **cfg_r);
imapsrv_status imapsrv_config_clone(const imapsrv_config *cfg,
                                    imapsrv_config **copy_r);
void imapsrv_config_destroy(imapsrv_config **cfg);

/* Set one key.  On error the configuration is unchanged and the message
 * naming key and value is available from imapsrv_config_last_error() ("" when
 * the last call succeeded); IMAPSRV_E_NOKEY means the key is not one of the
 * library's (a host may handle it itself). */
imapsrv_status imapsrv_config_set(imapsrv_config *cfg, const char *key,
                                  const char *value);
const char *imapsrv_config_last_error(const imapsrv_config *cfg);

/* The current value of a key, formatted as imapsrv_config_set accepts it
 * (secrets such as tls.key_password included: do not log it). */
imapsrv_status imapsrv_config_get(const imapsrv_config *cfg, const char *key,
                                  char *buf, size_t buflen);

/* Check the rules the whole configuration must keep.  Returns IMAPSRV_OK or
 * IMAPSRV_E_CONFIG; either way the problems found (errors and warnings, one
 * message each) can be read afterwards. */
imapsrv_status imapsrv_config_check(imapsrv_config *cfg);
size_t imapsrv_config_problem_count(const imapsrv_config *cfg);
const char *imapsrv_config_problem(const imapsrv_config *cfg, size_t i,
                                   imapsrv_log_level *level_r);

typedef enum imapsrv_port_status {
    IMAPSRV_PORT_ENABLED = 0,
    IMAPSRV_PORT_DISABLED = 1, /* nothing is bound */
    IMAPSRV_PORT_REDIRECT = 2, /* every connection: "* BYE [ALERT] msg" */
} imapsrv_port_status;

typedef enum imapsrv_tls_mode {
    IMAPSRV_TLS_STARTTLS =
        0, /* plaintext; STARTTLS when a certificate exists */
    IMAPSRV_TLS_IMPLICIT = 1, /* handshake first (RFC 8314) */
    IMAPSRV_TLS_NONE = 2,     /* plaintext, STARTTLS never offered */
} imapsrv_tls_mode;

/* One listener ("port" in the administration guide).  Strings are copied by
 * imapsrv_config_set_listener(); from imapsrv_config_get_listener() they stay
 * valid until the configuration is next changed. */
typedef struct imapsrv_listener_policy {
    size_t size; /* sizeof(imapsrv_listener_policy) */
    const char *name;
    int port; /* 1-65535 */
    imapsrv_port_status status;
    imapsrv_tls_mode tls;
    const char *address; /* NULL = all; "127.0.0.1 ::1" or "iface:eth0" */
    const char *greeting;
    const char *redirect_message;
    int auth_password;    /* LOGIN and password SASL mechanisms */
    int auth_client_cert; /* AUTHENTICATE EXTERNAL with a TLS certificate */
    int require_tls;      /* passwords only after STARTTLS */
    int enforce_access;   /* check the server access lists after login */
} imapsrv_listener_policy;

/* Fill the defaults for a listener of that name ("imap" and "imaps" get the
 * guide's defaults; any other name those of "imap", status enabled).
 * imapsrv_config_get_listener fills the whole struct, size included. */
void imapsrv_listener_policy_init(imapsrv_listener_policy *p, const char *name);
imapsrv_status imapsrv_config_set_listener(imapsrv_config *cfg,
                                           const imapsrv_listener_policy *p);
imapsrv_status imapsrv_config_get_listener(const imapsrv_config *cfg,
                                           const char *name,
                                           imapsrv_listener_policy *p_r);
imapsrv_status imapsrv_config_remove_listener(imapsrv_config *cfg,
                                              const char *name);
size_t imapsrv_config_listener_count(const imapsrv_config *cfg);
const char *imapsrv_config_listener_name(const imapsrv_config *cfg, size_t i);

/* TLS credentials in memory (PEM: the chain, then the key; the key may be
 * encrypted with tls.key_password) instead of tls.cert / tls.key files.
 * Both NULL removes them.  The bytes are copied. */
imapsrv_status imapsrv_config_set_tls_pem(imapsrv_config *cfg,
                                          const char *cert_pem, size_t cert_len,
                                          const char *key_pem, size_t key_len);
/* A certificate for clients whose SNI names `host` ("mail.example.com", or
 * "*.example.com" for one label); others get the main certificate.  Adding
 * a host again replaces its files. */
imapsrv_status imapsrv_config_add_sni(imapsrv_config *cfg, const char *host,
                                      const char *cert_file,
                                      const char *key_file);

typedef struct imapsrv_limits {
    size_t size;                  /* sizeof(imapsrv_limits) */
    unsigned max_sessions;        /* 0 = no limit */
    unsigned max_sessions_per_ip; /* 0 = no limit */
    unsigned session_timeout_ms;  /* authenticated idle time; >= 60 s */
    unsigned login_timeout_ms;    /* time to log in, TLS handshake included */
    unsigned auth_fail_delay_ms;  /* delay before a failed login's answer */
    size_t max_line;              /* one command line */
    size_t max_literal;           /* one literal of any command but APPEND */
    size_t max_append;            /* one APPEND message */
    unsigned max_bad_commands;    /* unknown commands before login -> BYE */
    unsigned max_nesting; /* parentheses in one command (SEARCH OR chains) */
} imapsrv_limits;

void imapsrv_limits_init(imapsrv_limits *l);
imapsrv_status imapsrv_config_set_limits(imapsrv_config *cfg,
                                         const imapsrv_limits *l);
void imapsrv_config_get_limits(const imapsrv_config *cfg, imapsrv_limits *l_r);

/* ------------------------------------------------------------------------ */
/* Asynchronous operations                                                  */
/*
 * Every hook gets an imapsrv_op.  A hook either answers at once (returns a
 * status other than IMAPSRV_PENDING) or returns IMAPSRV_PENDING and later,
 * from any thread, calls the matching *_done() exactly once.  Until then the
 * hook's input pointers stay valid and its output pointers may be written.
 */
typedef struct imapsrv_op imapsrv_op;

void imapsrv_op_done(imapsrv_op *op, imapsrv_status status);

/* ------------------------------------------------------------------------ */
/* Authentication hooks                                                     */

typedef struct imapsrv_auth_request {
    const char *mechanism; /* "LOGIN" (the command), "PLAIN", "LOGIN" (SASL) */
    const char *authcid;   /* the name the client gave */
    const char *authzid;   /* requested authorization identity or "" */
    const char *password;  /* never logged; wiped by the library afterwards */
    size_t password_len;
    const char *listener;    /* listener name */
    const char *remote_addr; /* numeric address of the client */
    const char *local_addr;
    int tls; /* the connection is encrypted */
} imapsrv_auth_request;

/* A client certificate that verified against tls.ca (chain, dates,
 * revocation), offered for AUTHENTICATE EXTERNAL. */
typedef struct imapsrv_cert_request {
    const char *subject_dn;
    const char *common_name;
    const char *email;   /* first e-mail address in subjectAltName, or "" */
    const char *user;    /* the name tls.client_cert_user picks, or "" */
    const char *authzid; /* identity the client asks for, or "" */
    const char *listener;
    const char *remote_addr;
    const char *local_addr;
} imapsrv_cert_request;

typedef struct imapsrv_auth_hooks {
    size_t size; /* sizeof(imapsrv_auth_hooks) */
    void *userdata;
    /* Check a name and password.  Return IMAPSRV_OK, IMAPSRV_E_AUTHFAILED,
     * IMAPSRV_E_AUTHZFAILED, IMAPSRV_E_EXPIRED, IMAPSRV_E_UNAVAILABLE ... or
     * IMAPSRV_PENDING and later call imapsrv_auth_done(). */
    imapsrv_status (*password)(void *userdata, imapsrv_op *op,
                               const imapsrv_auth_request *req);
    /* Optional: map a verified client certificate to a user, named with
     * imapsrv_auth_set_user() or imapsrv_auth_done() (OK without a name:
     * req->user).  Without the hook the user is req->user: the field that
     * tls.client_cert_user picks (default: e-mail address, else CN). */
    imapsrv_status (*certificate)(void *userdata, imapsrv_op *op,
                                  const imapsrv_cert_request *req);
} imapsrv_auth_hooks;

/* Either way, an authorization identity (authzid) other than the user is
 * refused with [AUTHORIZATIONFAILED] unless the hook names that identity
 * as the user: the library enforces it, hooks need not. */

/* Finish a pending authentication.  `user` is the canonical user name the
 * session runs as (NULL: the name the client gave). */
void imapsrv_auth_done(imapsrv_op *op, imapsrv_status status, const char *user);

/* Give the canonical user name from within a hook that answers at once. */
void imapsrv_auth_set_user(imapsrv_op *op, const char *user);

/* ------------------------------------------------------------------------ */
/* Mailbox storage hooks                                                    */
/*
 * A store keeps mailboxes and message bytes; the library does the rest
 * (sequence numbers, MIME parsing, ENVELOPE, BODYSTRUCTURE, sections, SEARCH,
 * untagged updates).  Mailbox names are UTF-8 with '/' as the hierarchy
 * delimiter; "INBOX" is always spelled so.  Flags are a bit set of the system
 * flags plus keyword strings.
 */

enum imapsrv_flag {
    IMAPSRV_FLAG_SEEN = 1u << 0,
    IMAPSRV_FLAG_ANSWERED = 1u << 1,
    IMAPSRV_FLAG_FLAGGED = 1u << 2,
    IMAPSRV_FLAG_DELETED = 1u << 3,
    IMAPSRV_FLAG_DRAFT = 1u << 4,
    IMAPSRV_FLAG_RECENT = 1u << 5, /* session-local; stores may ignore it */
};

enum imapsrv_mailbox_attr {
    IMAPSRV_MBOX_NOSELECT = 1u << 0,
    IMAPSRV_MBOX_NOINFERIORS = 1u << 1,
    IMAPSRV_MBOX_SUBSCRIBED = 1u << 2,
    IMAPSRV_MBOX_MARKED = 1u << 3,
    IMAPSRV_MBOX_UNMARKED = 1u << 4,
    /* A subscribed name with no mailbox behind it: a list hook emits it
     * (with SUBSCRIBED) so that LSUB and LIST (SUBSCRIBED) show it. */
    IMAPSRV_MBOX_NONEXISTENT = 1u << 5,
    IMAPSRV_MBOX_ALL = 1u << 8, /* RFC 6154 special uses */
    IMAPSRV_MBOX_ARCHIVE = 1u << 9,
    IMAPSRV_MBOX_DRAFTS = 1u << 10,
    IMAPSRV_MBOX_FLAGGED = 1u << 11,
    IMAPSRV_MBOX_JUNK = 1u << 12,
    IMAPSRV_MBOX_SENT = 1u << 13,
    IMAPSRV_MBOX_TRASH = 1u << 14,
};

typedef struct imapsrv_mailbox_info {
    const char *name;
    unsigned attrs; /* enum imapsrv_mailbox_attr */
} imapsrv_mailbox_info;

typedef struct imapsrv_mailbox_status {
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint32_t messages;
    uint32_t unseen;
    uint32_t deleted;
    uint32_t recent;
    uint64_t size; /* sum of message sizes (STATUS SIZE) */
    uint64_t highestmodseq;
} imapsrv_mailbox_status;

typedef struct imapsrv_message_info {
    uint32_t uid;
    unsigned flags; /* enum imapsrv_flag */
    const char *const *keywords;
    size_t keyword_count;
    int64_t internaldate; /* seconds since the epoch, UTC */
    int tz_offset_min;    /* zone the internal date is shown in */
    uint64_t size;        /* exact RFC 5322 size in bytes (CRLF lines) */
    uint64_t modseq;      /* 0 if the store has none */
} imapsrv_message_info;

typedef enum imapsrv_flag_op {
    IMAPSRV_FLAGS_SET = 0,    /* FLAGS */
    IMAPSRV_FLAGS_ADD = 1,    /* +FLAGS */
    IMAPSRV_FLAGS_REMOVE = 2, /* -FLAGS */
} imapsrv_flag_op;

/* Result of a COPY or MOVE: the new UIDs, in the order of the source UIDs. */
typedef struct imapsrv_copy_result {
    uint32_t uidvalidity;
    uint32_t *uids; /* array of `count` entries, provided by the library */
    size_t count;
} imapsrv_copy_result;

/* Sinks a hook calls (synchronously or before its *_done()) to hand over a
 * list.  Each returns IMAPSRV_OK, or IMAPSRV_E_NOMEM. */
imapsrv_status imapsrv_emit_mailbox(imapsrv_op *op,
                                    const imapsrv_mailbox_info *mb);
imapsrv_status imapsrv_emit_message(imapsrv_op *op,
                                    const imapsrv_message_info *msg);
/* search_body's answer: one UID (any order). */
imapsrv_status imapsrv_emit_uid(imapsrv_op *op, uint32_t uid);

typedef struct imapsrv_store_hooks {
    size_t size; /* sizeof(imapsrv_store_hooks) */
    void *userdata;

    /* A user's session begins and ends (after authentication, at LOGOUT or
     * disconnect).  *user_r is handed to every later hook of that session. */
    imapsrv_status (*user_open)(void *userdata, imapsrv_op *op,
                                const char *user, void **user_r);
    void (*user_close)(void *userdata, void *user);

    /* Mailbox set (LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS).
     * list: emit every mailbox (the library matches patterns); `pattern` is a
     * hint a large store may use to emit fewer. */
    imapsrv_status (*list)(void *userdata, imapsrv_op *op, void *user,
                           const char *pattern);
    imapsrv_status (*create)(void *userdata, imapsrv_op *op, void *user,
                             const char *name, unsigned special_use);
    imapsrv_status (*delete_mailbox)(void *userdata, imapsrv_op *op, void *user,
                                     const char *name);
    imapsrv_status (*rename)(void *userdata, imapsrv_op *op, void *user,
                             const char *from, const char *to);
    imapsrv_status (*subscribe)(void *userdata, imapsrv_op *op, void *user,
                                const char *name, int subscribed);
    /* Optional: without it the library opens the mailbox to count. */
    imapsrv_status (*status)(void *userdata, imapsrv_op *op, void *user,
                             const char *name, imapsrv_mailbox_status *st_r);

    /* Open a mailbox (SELECT, EXAMINE; also STATUS without a status hook).
     * Fills uidvalidity and uidnext; *mailbox_r is the handle for the message
     * hooks below. */
    imapsrv_status (*open)(void *userdata, imapsrv_op *op, void *user,
                           const char *name, int readonly, void **mailbox_r,
                           imapsrv_mailbox_status *st_r);
    void (*close)(void *userdata, void *mailbox);

    /* Emit every message whose UID is >= min_uid, in UID order. */
    imapsrv_status (*messages)(void *userdata, imapsrv_op *op, void *mailbox,
                               uint32_t min_uid);
    /* Read raw message bytes at an offset (FETCH of any body part, SEARCH of
     * text).  *got_r < len only at the end of the message. */
    imapsrv_status (*read)(void *userdata, imapsrv_op *op, void *mailbox,
                           uint32_t uid, uint64_t offset, void *buf, size_t len,
                           size_t *got_r);
    imapsrv_status (*set_flags)(void *userdata, imapsrv_op *op, void *mailbox,
                                const uint32_t *uids, size_t count,
                                imapsrv_flag_op how, unsigned flags,
                                const char *const *keywords,
                                size_t keyword_count);
    imapsrv_status (*copy)(void *userdata, imapsrv_op *op, void *mailbox,
                           const uint32_t *uids, size_t count, const char *dest,
                           imapsrv_copy_result *res_r);
    /* Optional: without it MOVE is COPY + set \Deleted + expunge. */
    imapsrv_status (*move)(void *userdata, imapsrv_op *op, void *mailbox,
                           const uint32_t *uids, size_t count, const char *dest,
                           imapsrv_copy_result *res_r);
    imapsrv_status (*expunge)(void *userdata, imapsrv_op *op, void *mailbox,
                              const uint32_t *uids, size_t count);

    /* APPEND, streamed: begin gives the size announced by the client, data
     * is called with consecutive chunks, end commits (or aborts when
     * `commit` is 0) and reports the new UID.  After a successful begin,
     * end is always called exactly once, also when data failed. */
    imapsrv_status (*append_begin)(void *userdata, imapsrv_op *op, void *user,
                                   const char *mailbox, unsigned flags,
                                   const char *const *keywords,
                                   size_t keyword_count, int64_t internaldate,
                                   int tz_offset_min, uint64_t size,
                                   void **append_r);
    /* `data` is valid during the call only: a hook that answers later
     * copies what it still needs. */
    imapsrv_status (*append_data)(void *userdata, imapsrv_op *op, void *append,
                                  const void *data, size_t len);
    imapsrv_status (*append_end)(void *userdata, imapsrv_op *op, void *append,
                                 int commit, uint32_t *uidvalidity_r,
                                 uint32_t *uid_r);

    /* Optional and synchronous (called on a loop thread: keep them cheap):
     * a place for the library's parsed form of a message, kept with it, so
     * that FETCH ENVELOPE / BODY / BODYSTRUCTURE in any later session need
     * not read the message again.  cache_put keeps a copy of the blob for
     * uid (replacing any); cache_get copies at most cap bytes of it into
     * buf and returns its whole length, 0 when there is none.  The blob is
     * opaque; a store may drop it at any time. */
    void (*cache_put)(void *userdata, void *mailbox, uint32_t uid,
                      const void *blob, size_t len);
    size_t (*cache_get)(void *userdata, void *mailbox, uint32_t uid, void *buf,
                        size_t cap);

    /* Optional: a store with a full-text index finds body text itself.
     * Emit with imapsrv_emit_uid() every message whose body text (decoded,
     * as SEARCH BODY means it) contains `needle`, which is UTF-8 and
     * lower-cased: match case-insensitively.  IMAPSRV_E_UNSUPPORTED: the
     * library reads the messages itself, as without the hook. */
    imapsrv_status (*search_body)(void *userdata, imapsrv_op *op, void *mailbox,
                                  const char *needle);
} imapsrv_store_hooks;

/* ------------------------------------------------------------------------ */
/* The server                                                               */

typedef struct imapsrv imapsrv;

typedef enum imapsrv_run_mode {
    IMAPSRV_RUN_THREADS = 0,  /* the library runs `threads` event loops */
    IMAPSRV_RUN_EXTERNAL = 1, /* the host drives: get_fd/next_timeout/process
                                 or run_wait */
} imapsrv_run_mode;

typedef struct imapsrv_options {
    size_t size; /* sizeof(imapsrv_options) */
    imapsrv_run_mode run_mode;
    unsigned threads; /* event-loop threads for IMAPSRV_RUN_THREADS; >= 1 */
    imapsrv_log_fn log;
    void *log_userdata;
    imapsrv_log_level log_level; /* lines above this level are not built */
    const imapsrv_auth_hooks *auth;
    const imapsrv_store_hooks *store;
} imapsrv_options;

void imapsrv_options_init(imapsrv_options *o);

/* Validate the configuration (copied; the caller keeps its own), load its
 * TLS credentials and build a server; nothing is bound yet.  On
 * IMAPSRV_E_CONFIG the problems are logged (event "config.check", one a
 * line; "tls.config" for credentials) and also left in `cfg`'s problem
 * list. */
imapsrv_status imapsrv_create(imapsrv_config *cfg, const imapsrv_options *opts,
                              imapsrv **srv_r);
/* Bind every enabled listener and start serving.  A bind failure names the
 * port and the reason in the log and returns IMAPSRV_E_BIND, binding none. */
imapsrv_status imapsrv_start(imapsrv *srv);
/* Apply a new configuration (copied, as by create): validated whole first,
 * certificates loaded; unchanged listeners keep their sockets, changed ones
 * are rebound; open sessions keep the settings they started with.  On
 * failure the old configuration stays in force.  Safe from any thread. */
imapsrv_status imapsrv_reload(imapsrv *srv, imapsrv_config *cfg);
/* Stop accepting, send "* BYE <bye_text>" to every client and close them,
 * waiting at most grace_ms for output to drain.  Safe from any thread.  In
 * IMAPSRV_RUN_EXTERNAL it drives the loop itself meanwhile (blocking up to
 * grace_ms); the host's own process() calls wait for it. */
imapsrv_status imapsrv_shutdown(imapsrv *srv, unsigned grace_ms,
                                const char *bye_text);
void imapsrv_destroy(imapsrv **srv);

/* IMAPSRV_RUN_EXTERNAL: one file descriptor to watch for reading, the time
 * until the next timer (-1: none), and a call that does all ready work
 * without blocking. */
int imapsrv_get_fd(const imapsrv *srv);
int imapsrv_next_timeout_ms(imapsrv *srv);
imapsrv_status imapsrv_process(imapsrv *srv);
/* IMAPSRV_RUN_EXTERNAL on the smallest hosts: wait for and do work for at
 * most `timeout_ms` (-1: until shutdown). */
imapsrv_status imapsrv_run_wait(imapsrv *srv, int timeout_ms);

/* The port a started listener is bound to; IMAPSRV_E_INVALID if no
 * listener of that name is bound. */
imapsrv_status imapsrv_listener_port(const imapsrv *srv, const char *name,
                                     int *port_r);

/* Write a self-signed certificate and its key (ECDSA P-256, PEM; the key
 * file mode 0600) naming the given host names and IP addresses, e.g. for
 * an appliance's first start.  `names` is NULL-terminated; entries that
 * parse as IP addresses go into the certificate as such. */
imapsrv_status imapsrv_tls_self_signed(const char *cert_file,
                                       const char *key_file,
                                       const char *const *names, char *err,
                                       size_t errlen);

/* Mail changed behind the library's back (a delivery into the store, a
 * change by another process): every session of `user` (NULL: of any user)
 * that has `mailbox` selected reads the mailbox's message list again and
 * tells its client what changed, at once when it is in IDLE, otherwise
 * at its next command.  Changes made through the library's own sessions
 * need no call.  Safe from any thread, also from within a hook. */
imapsrv_status imapsrv_notify_mailbox(imapsrv *srv, const char *user,
                                      const char *mailbox);

typedef struct imapsrv_stats {
    size_t size;
    uint64_t connections_total;
    uint64_t connections_open;
    uint64_t logins_ok;
    uint64_t logins_failed;
    uint64_t refused_by_policy; /* redirect, max_sessions, nobody can log in */
} imapsrv_stats;

void imapsrv_get_stats(const imapsrv *srv, imapsrv_stats *st_r);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* IMAPSRV_H */
