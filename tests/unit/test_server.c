/* The server end to end, in process, over loopback sockets: lifecycle, run
 * modes, port policy, limits, authentication (synchronous and from another
 * thread), literals, reload. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "imapsrv.h"
#include "memstore/memstore.h"

/* ---- test host ---- */

struct host {
    imapsrv *srv;
    memstore *ms;
    imapsrv_auth_hooks auth;
    imapsrv_store_hooks store;
    imapsrv_store_hooks real; /* memstore's, behind an async store */
    int async;                /* answer the password hook from another thread */
    pthread_t th;
    bool th_started;
    char log[8192];
    size_t log_len;
    pthread_mutex_t log_lock;
};

static void host_log(void *ud, imapsrv_log_level lvl, const char *event,
                     const char *line)
{
    struct host *h = ud;
    pthread_mutex_lock(&h->log_lock);
    int n = snprintf(h->log + h->log_len, sizeof(h->log) - h->log_len,
                     "%s: %s\n", event, line);
    if (n > 0 && h->log_len + (size_t)n < sizeof(h->log))
        h->log_len += (size_t)n;
    pthread_mutex_unlock(&h->log_lock);
}

/* A host that only collects the log: for servers that never run. */
static void host_logging(struct host *h, imapsrv_options *o)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->log_lock, NULL);
    imapsrv_options_init(o);
    o->log = host_log;
    o->log_userdata = h;
}

static bool host_logged(struct host *h, const char *needle)
{
    pthread_mutex_lock(&h->log_lock);
    bool found = strstr(h->log, needle) != NULL;
    pthread_mutex_unlock(&h->log_lock);
    return found;
}

struct later {
    imapsrv_op *op;
    imapsrv_status st;
};

static void *answer_later(void *arg)
{
    struct later *l = arg;
    usleep(50000);
    imapsrv_auth_done(l->op, l->st, NULL);
    free(l);
    return NULL;
}

static imapsrv_status check_password(void *ud, imapsrv_op *op,
                                     const imapsrv_auth_request *req)
{
    struct host *h = ud;
    bool ok = strcmp(req->authcid, "alice") == 0 && req->password_len == 6 &&
              memcmp(req->password, "secret", 6) == 0;
    imapsrv_status st = ok ? IMAPSRV_OK : IMAPSRV_E_AUTHFAILED;
    if (!h->async)
        return st;
    struct later *l = malloc(sizeof(*l));
    l->op = op;
    l->st = st;
    pthread_t th;
    pthread_create(&th, NULL, answer_later, l);
    pthread_detach(th);
    return IMAPSRV_PENDING;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

static imapsrv_config *base_config(int port)
{
    imapsrv_config *cfg;
    ck_assert_int_eq(imapsrv_config_new(&cfg), IMAPSRV_OK);
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.port", p), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.address", "127.0.0.1"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "limits.auth_fail_delay", "300ms"),
                     IMAPSRV_OK);
    return cfg;
}

/* ---- a store that answers later ---- */

/* memstore behind hooks that answer from another thread (a store whose
 * disk reads go to a worker), plus a fake full-text index that claims
 * "zzznative" is in UID 2 only. */
struct deferred {
    struct host *h;
    imapsrv_op *op;
    int kind; /* 0 read, 1 messages, 2 set_flags, 3 search_body */
    void *mailbox;
    uint32_t uid;
    uint64_t off;
    void *buf;
    size_t len, *got;
    uint32_t uids[64];
    size_t count;
    imapsrv_flag_op how;
    unsigned flags;
};

static void *deferred_run(void *arg)
{
    struct deferred *d = arg;
    const imapsrv_store_hooks *r = &d->h->real;
    imapsrv_status st = IMAPSRV_OK;
    usleep(2000);
    switch (d->kind) {
    case 0:
        st = r->read(r->userdata, d->op, d->mailbox, d->uid, d->off, d->buf,
                     d->len, d->got);
        break;
    case 1: st = r->messages(r->userdata, d->op, d->mailbox, d->uid); break;
    case 2:
        st = r->set_flags(r->userdata, d->op, d->mailbox, d->uids, d->count,
                          d->how, d->flags, NULL, 0);
        break;
    case 3: st = imapsrv_emit_uid(d->op, 2); break;
    }
    imapsrv_op_done(d->op, st);
    free(d);
    return NULL;
}

static imapsrv_status defer(struct deferred *d)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, deferred_run, d), 0);
    pthread_detach(t);
    return IMAPSRV_PENDING;
}

/* A hook table has one userdata, memstore's here: the wrapped hooks find
 * their host through this (one async host at a time). */
static struct host *async_host;

static struct deferred *deferred_new(void *ud, imapsrv_op *op, int kind,
                                     void *mailbox)
{
    struct deferred *d = calloc(1, sizeof(*d));
    ck_assert_ptr_nonnull(d);
    *d = (struct deferred){
        .h = async_host, .op = op, .kind = kind, .mailbox = mailbox};
    return d;
}

static imapsrv_status async_read(void *ud, imapsrv_op *op, void *mailbox,
                                 uint32_t uid, uint64_t off, void *buf,
                                 size_t len, size_t *got_r)
{
    struct deferred *d = deferred_new(ud, op, 0, mailbox);
    d->uid = uid;
    d->off = off;
    d->buf = buf;
    d->len = len;
    d->got = got_r;
    return defer(d);
}

static imapsrv_status async_messages(void *ud, imapsrv_op *op, void *mailbox,
                                     uint32_t min_uid)
{
    struct deferred *d = deferred_new(ud, op, 1, mailbox);
    d->uid = min_uid;
    return defer(d);
}

static imapsrv_status async_set_flags(void *ud, imapsrv_op *op, void *mailbox,
                                      const uint32_t *uids, size_t count,
                                      imapsrv_flag_op how, unsigned flags,
                                      const char *const *kws, size_t nkw)
{
    struct deferred *d = deferred_new(ud, op, 2, mailbox);
    ck_assert_uint_le(count, 64);
    memcpy(d->uids, uids, count * sizeof(*uids));
    d->count = count;
    d->how = how;
    d->flags = flags;
    return defer(d);
}

static imapsrv_status fake_index(void *ud, imapsrv_op *op, void *mailbox,
                                 const char *needle)
{
    if (strcmp(needle, "zzznative") != 0)
        return IMAPSRV_E_UNSUPPORTED;
    return defer(deferred_new(ud, op, 3, mailbox));
}

static void host_start_with(struct host *h, imapsrv_config *cfg,
                            imapsrv_run_mode mode, bool async_store);

static void host_start(struct host *h, imapsrv_config *cfg,
                       imapsrv_run_mode mode)
{
    host_start_with(h, cfg, mode, false);
}

static void host_start_with(struct host *h, imapsrv_config *cfg,
                            imapsrv_run_mode mode, bool async_store)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->log_lock, NULL);
    h->ms = memstore_new();
    ck_assert_ptr_nonnull(h->ms);
    memstore_hooks(h->ms, &h->store);
    if (async_store) {
        h->real = h->store;
        h->store.read = async_read;
        h->store.messages = async_messages;
        h->store.set_flags = async_set_flags;
        h->store.search_body = fake_index;
        async_host = h;
    }
    h->auth = (imapsrv_auth_hooks){
        .size = sizeof(h->auth), .userdata = h, .password = check_password};
    imapsrv_options o;
    imapsrv_options_init(&o);
    o.run_mode = mode;
    o.threads = 2;
    o.auth = &h->auth;
    o.store = &h->store;
    o.log = host_log;
    o.log_userdata = h;
    o.log_level = IMAPSRV_LOG_DEBUG;
    ck_assert_int_eq(imapsrv_create(cfg, &o, &h->srv), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_start(h->srv), IMAPSRV_OK);
}

static void *drive(void *arg)
{
    struct host *h = arg;
    /* The host's own poll() loop around the one watch fd. */
    while (h->th_started) {
        struct pollfd pfd = {.fd = imapsrv_get_fd(h->srv), .events = POLLIN};
        int t = imapsrv_next_timeout_ms(h->srv);
        poll(&pfd, 1, t < 0 || t > 20 ? 20 : t);
        imapsrv_process(h->srv);
    }
    return NULL;
}

static void host_stop(struct host *h)
{
    if (h->th_started) {
        h->th_started = false;
        pthread_join(h->th, NULL);
    }
    ck_assert_int_eq(imapsrv_shutdown(h->srv, 500, "Test over"), IMAPSRV_OK);
    imapsrv_destroy(&h->srv);
    ck_assert_ptr_null(h->srv);
    memstore_free(&h->ms);
    pthread_mutex_destroy(&h->log_lock);
}

/* ---- test client ---- */

struct client {
    int fd;
    char buf[65536];
    size_t len;
};

static int client_connect(struct client *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
}

static void client_send(struct client *c, const char *s)
{
    size_t n = strlen(s);
    ck_assert_int_eq(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read one line (without CRLF) into out; "" on EOF, "<timeout>" on a
 * 3-second silence. */
static const char *client_line(struct client *c, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf) + 1;
            size_t k = n >= 2 && c->buf[n - 2] == '\r' ? n - 2 : n - 1;
            if (k >= cap)
                k = cap - 1;
            memcpy(out, c->buf, k);
            out[k] = '\0';
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            return out;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 3000) <= 0) {
            snprintf(out, cap, "<timeout>");
            return out;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r <= 0) {
            out[0] = '\0';
            return out;
        }
        c->len += (size_t)r;
    }
}

/* Read lines until one starts with `prefix`; return it. */
static const char *client_until(struct client *c, const char *prefix, char *out,
                                size_t cap)
{
    for (int i = 0; i < 200; i++) {
        client_line(c, out, cap);
        if (strncmp(out, prefix, strlen(prefix)) == 0 || !out[0] ||
            strcmp(out, "<timeout>") == 0)
            return out;
    }
    return out;
}

static bool client_closed(struct client *c)
{
    char b[64];
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, 3000) <= 0)
        return false;
    return recv(c->fd, b, sizeof(b), 0) == 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tests ---- */

static void login_flow(struct host *h, int port)
{
    struct client c;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "* OK [CAPABILITY IMAP4rev1 ", 26) == 0,
                  "greeting: %s", line);
    ck_assert_ptr_nonnull(strstr(line, "AUTH=PLAIN"));
    client_send(&c, "a1 CAPABILITY\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "* CAPABILITY IMAP4rev1", 22) == 0, "%s", line);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "a1 OK CAPABILITY completed");

    uint64_t t0 = now_ms();
    client_send(&c, "a2 LOGIN alice wrong\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line,
                     "a2 NO [AUTHENTICATIONFAILED] Authentication failed");
    ck_assert_uint_ge(now_ms() - t0, 290); /* the configured delay */

    /* Pipelined: the NOOP waits for the login's answer. */
    client_send(&c, "a3 LOGIN alice secret\r\na4 NOOP\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "a3 OK [CAPABILITY IMAP4rev1", 27) == 0, "%s",
                  line);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "a4 OK NOOP completed");
    client_send(&c, "a5 LIST \"\" *\r\n");
    client_until(&c, "a5 ", line, sizeof(line));
    ck_assert_str_eq(line, "a5 OK LIST completed");
    client_send(&c, "a6 LOGOUT\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* BYE Logging out");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "a6 OK LOGOUT completed");
    ck_assert(client_closed(&c));
    close(c.fd);
    ck_assert(host_logged(h, "user alice logged in"));
}

/* ---- the mailbox engine over a store that answers later ---- */

static const char msg1[] = "From: a@example.org\r\nSubject: one\r\n\r\n"
                           "first body\r\n";
static const char msg2[] = "From: b@example.org\r\nSubject: two\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Transfer-Encoding: base64\r\n\r\n"
                           "c2Vjb25kIGJvZHk=\r\n"; /* "second body" */

static void login_select(struct client *c, int port)
{
    char line[4096];
    ck_assert_int_eq(client_connect(c, port), 0);
    client_line(c, line, sizeof(line));
    client_send(c, "a LOGIN alice secret\r\nb SELECT INBOX\r\n");
    client_until(c, "b ", line, sizeof(line));
    ck_assert_str_eq(line, "b OK [READ-WRITE] SELECT completed");
}

START_TEST(mailbox_async_store)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start_with(&h, cfg, IMAPSRV_RUN_THREADS, true);
    imapsrv_config_destroy(&cfg);
    ck_assert_int_eq(memstore_add_user(h.ms, "alice"), IMAPSRV_OK);
    ck_assert_int_eq(memstore_add_message(h.ms, "alice", "INBOX", msg1,
                                          strlen(msg1), 0, 1700000000),
                     IMAPSRV_OK);
    ck_assert_int_eq(memstore_add_message(h.ms, "alice", "INBOX", msg2,
                                          strlen(msg2), 0, 1700000000),
                     IMAPSRV_OK);
    struct client c;
    char line[4096];
    login_select(&c, port);
    /* Every read and the \Seen of a non-PEEK fetch wait for a worker. */
    client_send(&c, "c FETCH 1:2 (BODY[TEXT] BINARY.SIZE[1])\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* 1 FETCH (BODY[TEXT] {12}");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "first body");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, " BINARY.SIZE[1] 12 FLAGS (\\Seen))");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* 2 FETCH (BODY[TEXT] {18}");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "c2Vjb25kIGJvZHk=");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, " BINARY.SIZE[1] 11 FLAGS (\\Seen))");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "c OK FETCH completed");
    /* The library decodes base64 for BODY; the index answers its own. */
    client_send(&c, "d SEARCH BODY \"second BODY\"\r\n"
                    "e SEARCH OR BODY zzznative SUBJECT one\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* SEARCH 2");
    client_until(&c, "d ", line, sizeof(line));
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* SEARCH 1 2");
    client_until(&c, "e ", line, sizeof(line));
    ck_assert_str_eq(line, "e OK SEARCH completed");
    client_send(&c, "f STORE 2 FLAGS (\\Flagged)\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* 2 FETCH (FLAGS (\\Flagged))");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "f OK STORE completed");
    close(c.fd);
    host_stop(&h);
    async_host = NULL;
}
END_TEST

/* Mail that arrives behind the library's back reaches an IDLE client once
 * the host says so. */
START_TEST(notify_reaches_idle)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    ck_assert_int_eq(memstore_add_user(h.ms, "alice"), IMAPSRV_OK);
    struct client c;
    char line[4096];
    login_select(&c, port);
    client_send(&c, "c IDLE\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "+ idling");
    ck_assert_int_eq(memstore_add_message(h.ms, "alice", "INBOX", msg1,
                                          strlen(msg1), 0, 1700000000),
                     IMAPSRV_OK);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(imapsrv_notify_mailbox(h.srv, "alice", "INBOX"),
                     IMAPSRV_OK);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* 1 EXISTS");
    ck_assert_uint_lt(now_ms() - t0, 100);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* 1 RECENT");
    /* Another user's mailbox of the same name is not this session's. */
    ck_assert_int_eq(imapsrv_notify_mailbox(h.srv, "bob", "INBOX"), IMAPSRV_OK);
    client_send(&c, "DONE\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "c OK IDLE terminated");
    close(c.fd);
    host_stop(&h);
}
END_TEST

START_TEST(login_threads_sync)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    ck_assert(host_logged(&h, "listening on 127.0.0.1:"));
    login_flow(&h, port);
    imapsrv_stats st;
    imapsrv_get_stats(h.srv, &st);
    ck_assert_uint_eq(st.logins_ok, 1);
    ck_assert_uint_eq(st.logins_failed, 1);
    host_stop(&h);
}
END_TEST

START_TEST(login_async_hook)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    h.async = 1;
    login_flow(&h, port);
    host_stop(&h);
}
END_TEST

START_TEST(login_external_loop)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start(&h, cfg, IMAPSRV_RUN_EXTERNAL);
    imapsrv_config_destroy(&cfg);
    ck_assert_int_ge(imapsrv_get_fd(h.srv), 0);
    h.th_started = true;
    pthread_create(&h.th, NULL, drive, &h);
    h.async = 1;
    login_flow(&h, port);
    host_stop(&h);
}
END_TEST

START_TEST(authenticate_plain)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    struct client c;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    /* SASL-IR: "\0alice\0secret" */
    client_send(&c, "p1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "p1 OK [CAPABILITY", 17) == 0, "%s", line);
    close(c.fd);
    /* Without an initial response: "+ " then the response; and cancel. */
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    client_send(&c, "p2 AUTHENTICATE PLAIN\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "+ ");
    client_send(&c, "*\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "p2 BAD Authentication cancelled");
    client_send(&c, "p3 AUTHENTICATE PLAIN\r\n");
    client_line(&c, line, sizeof(line));
    client_send(&c, "YWxpY2UAYWxpY2UAc2VjcmV0\r\n"); /* alice\0alice\0secret */
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "p3 OK [CAPABILITY", 17) == 0, "%s", line);
    close(c.fd);
    /* A different authorization identity is refused. */
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    client_send(&c, "p4 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line,
                     "p4 NO [AUTHORIZATIONFAILED] Authentication refused");
    /* AUTH=LOGIN, two challenges. */
    client_send(&c, "p5 AUTHENTICATE LOGIN\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "+ VXNlcm5hbWU6");
    client_send(&c, "YWxpY2U=\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "+ UGFzc3dvcmQ6");
    client_send(&c, "c2VjcmV0\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "p5 OK [CAPABILITY", 17) == 0, "%s", line);
    close(c.fd);
    host_stop(&h);
}
END_TEST

START_TEST(syntax_errors_and_limits)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "limits.max_line", "1k"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "limits.max_literal", "1k"),
                     IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    struct client c;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    /* A synchronizing literal over the limit is refused before it is sent;
     * the session carries on. */
    client_send(&c, "l1 LOGIN {5000}\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "l1 NO [TOOBIG] Literal too large");
    client_send(&c, "l2 LOGIN {5}\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "+ Ready for literal data");
    client_send(&c, "alice {6+}\r\nsecret\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "l2 OK", 5) == 0, "%s", line);
    /* A line over max_line: BAD, then the next command works. */
    char big[1600];
    memset(big, 'x', sizeof(big));
    memcpy(big, "l3 NOOP ", 8);
    big[sizeof(big) - 3] = '\r';
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    client_send(&c, big);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "l3 BAD Command line too long");
    client_send(&c, "l4 NOOP\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "l4 OK NOOP completed");
    /* A non-synchronizing literal over the limit ends the session. */
    client_send(&c, "l5 LOGIN {5000+}\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* BYE [TOOBIG] Literal too large");
    ck_assert(client_closed(&c));
    close(c.fd);

    /* Before login, a few garbage lines end the connection. */
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    client_send(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_msg(strncmp(line, "GET BAD", 7) == 0 ||
                      strncmp(line, "* BAD", 5) == 0,
                  "%s", line);
    client_until(&c, "* BYE", line, sizeof(line));
    ck_assert_str_eq(line, "* BYE Too many invalid commands");
    ck_assert(client_closed(&c));
    close(c.fd);
    host_stop(&h);
}
END_TEST

START_TEST(redirect_and_disabled_ports)
{
    struct host h;
    int port = free_port(), rport = free_port();
    imapsrv_config *cfg = base_config(port);
    char p[16];
    snprintf(p, sizeof(p), "%d", rport);
    ck_assert_int_eq(imapsrv_config_set(cfg, "listener.old.port", p),
                     IMAPSRV_OK);
    ck_assert_int_eq(
        imapsrv_config_set(cfg, "listener.old.address", "127.0.0.1"),
        IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "listener.old.status", "redirect"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "listener.old.redirect_message",
                                        "Use port 993 with TLS"),
                     IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    struct client c;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, rport), 0);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* BYE [ALERT] Use port 993 with TLS");
    ck_assert(client_closed(&c));
    close(c.fd);
    /* imaps is disabled by default: nothing listens on 993's stand-in. */
    int dport = free_port();
    ck_assert_int_ne(client_connect(&c, dport), 0);
    close(c.fd);
    imapsrv_stats st;
    imapsrv_get_stats(h.srv, &st);
    ck_assert_uint_eq(st.refused_by_policy, 1);
    host_stop(&h);
}
END_TEST

START_TEST(session_limits)
{
    struct host h;
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "limits.max_sessions", "2"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "limits.login_timeout", "1s"),
                     IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    struct client c[3];
    char line[4096];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(client_connect(&c[i], port), 0);
        client_line(&c[i], line, sizeof(line));
        ck_assert(strncmp(line, "* OK", 4) == 0);
    }
    ck_assert_int_eq(client_connect(&c[2], port), 0);
    client_line(&c[2], line, sizeof(line));
    ck_assert_str_eq(line, "* BYE [UNAVAILABLE] Too many sessions");
    close(c[2].fd);
    /* The login timeout closes the two idle ones. */
    uint64_t t0 = now_ms();
    client_line(&c[0], line, sizeof(line));
    ck_assert_str_eq(line, "* BYE Login timeout");
    ck_assert_uint_ge(now_ms() - t0, 500);
    ck_assert(client_closed(&c[0]));
    client_line(&c[1], line, sizeof(line));
    ck_assert_str_eq(line, "* BYE Login timeout");
    close(c[0].fd);
    close(c[1].fd);
    usleep(100000);
    ck_assert_int_eq(client_connect(&c[0], port), 0);
    client_line(&c[0], line, sizeof(line));
    ck_assert(strncmp(line, "* OK", 4) == 0);
    close(c[0].fd);
    host_stop(&h);
}
END_TEST

/* A self-signed certificate in a fresh temporary directory. */
static void make_cert(char *dir, size_t len, char *cert, char *key)
{
    snprintf(dir, len, "/tmp/imapsrv-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    sprintf(cert, "%s/cert.pem", dir);
    sprintf(key, "%s/key.pem", dir);
    const char *names[] = {"localhost", "127.0.0.1", NULL};
    char err[256];
    ck_assert_msg(imapsrv_tls_self_signed(cert, key, names, err, sizeof(err)) ==
                      IMAPSRV_OK,
                  "%s", err);
}

static void drop_cert(const char *dir, const char *cert, const char *key)
{
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

START_TEST(password_policy)
{
    struct host h;
    char dir[64], cert[96], key[96];
    make_cert(dir, sizeof(dir), cert, key);
    int port = free_port();
    imapsrv_config *cfg = base_config(port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.auth.require_tls", "yes"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "tls.cert", cert), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "tls.key", key), IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    struct client c;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, " STARTTLS"));
    ck_assert_ptr_nonnull(strstr(line, "LOGINDISABLED"));
    ck_assert_ptr_null(strstr(line, "AUTH=PLAIN"));
    client_send(&c, "r1 LOGIN alice secret\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "r1 NO [PRIVACYREQUIRED] Use STARTTLS before "
                           "logging in with a password");
    /* What is pipelined after STARTTLS is never answered in plaintext:
     * the next bytes the server expects are a TLS ClientHello. */
    client_send(&c, "r2 STARTTLS\r\nr3 CAPABILITY\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "r2 OK Begin TLS negotiation now");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "<timeout>");
    close(c.fd);
    host_stop(&h);

    /* A certificate that does not load refuses the configuration, naming
     * the file. */
    cfg = base_config(port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "tls.cert", "/nonexistent.pem"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "tls.key", key), IMAPSRV_OK);
    imapsrv_options o;
    host_logging(&h, &o);
    ck_assert_int_eq(imapsrv_create(cfg, &o, &h.srv), IMAPSRV_E_CONFIG);
    ck_assert_msg(host_logged(&h, "/nonexistent.pem"), "log: %s", h.log);
    imapsrv_config_destroy(&cfg);
    pthread_mutex_destroy(&h.log_lock);
    drop_cert(dir, cert, key);

    /* No way to log in at all: the uniform BYE instead of a greeting. */
    port = free_port();
    cfg = base_config(port);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.auth.password", "no"),
                     IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* BYE [UNAVAILABLE] This site is not enabled on "
                           "the server");
    ck_assert(client_closed(&c));
    close(c.fd);
    ck_assert(host_logged(&h, "no authentication method is enabled"));
    host_stop(&h);
}
END_TEST

START_TEST(reload_moves_port)
{
    struct host h;
    int port = free_port(), port2 = free_port(), kport = free_port();
    imapsrv_config *cfg = base_config(port);
    char kp[16];
    snprintf(kp, sizeof(kp), "%d", kport);
    ck_assert_int_eq(imapsrv_config_set(cfg, "listener.keep.port", kp),
                     IMAPSRV_OK);
    ck_assert_int_eq(
        imapsrv_config_set(cfg, "listener.keep.address", "127.0.0.1"),
        IMAPSRV_OK);
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    struct client c, d;
    char line[4096];
    ck_assert_int_eq(client_connect(&c, port), 0);
    client_line(&c, line, sizeof(line));
    client_send(&c, "m1 LOGIN alice secret\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert(strncmp(line, "m1 OK", 5) == 0);

    char p[16];
    snprintf(p, sizeof(p), "%d", port2);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.port", p), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_reload(h.srv, cfg), IMAPSRV_OK);
    int bound = 0;
    ck_assert_int_eq(imapsrv_listener_port(h.srv, "imap", &bound), IMAPSRV_OK);
    ck_assert_int_eq(bound, port2);
    /* The old session keeps working; the old port is closed; the new one
     * answers. */
    client_send(&c, "m2 NOOP\r\n");
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "m2 OK NOOP completed");
    usleep(50000);
    ck_assert_int_ne(client_connect(&d, port), 0);
    close(d.fd);
    ck_assert_int_eq(client_connect(&d, port2), 0);
    client_line(&d, line, sizeof(line));
    ck_assert(strncmp(line, "* OK", 4) == 0);
    close(d.fd);
    /* The unchanged listener kept its socket and still serves. */
    ck_assert_int_eq(client_connect(&d, kport), 0);
    client_line(&d, line, sizeof(line));
    ck_assert(strncmp(line, "* OK", 4) == 0);
    close(d.fd);

    /* A refused reload leaves everything as it was. */
    ck_assert_int_eq(imapsrv_config_set(cfg, "listener.keep.port", p),
                     IMAPSRV_OK); /* two listeners on one port */
    ck_assert_int_eq(imapsrv_reload(h.srv, cfg), IMAPSRV_E_CONFIG);
    ck_assert_int_eq(client_connect(&d, port2), 0);
    client_line(&d, line, sizeof(line));
    ck_assert(strncmp(line, "* OK", 4) == 0);
    close(d.fd);
    imapsrv_config_destroy(&cfg);

    /* Shutdown says BYE to the open session. */
    ck_assert_int_eq(imapsrv_shutdown(h.srv, 500, "Test over"), IMAPSRV_OK);
    client_line(&c, line, sizeof(line));
    ck_assert_str_eq(line, "* BYE Test over");
    close(c.fd);
    host_stop(&h);
}
END_TEST

START_TEST(bind_conflict_reported)
{
    int port = free_port();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    imapsrv_config *cfg = base_config(port);
    struct host h;
    imapsrv_options o;
    host_logging(&h, &o);
    ck_assert_int_eq(imapsrv_create(cfg, &o, &h.srv), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_start(h.srv), IMAPSRV_E_BIND);
    char want[64];
    snprintf(want, sizeof(want), "port %d: cannot listen on 127.0.0.1:%d", port,
             port);
    ck_assert_msg(host_logged(&h, want), "log: %s", h.log);
    ck_assert(host_logged(&h, "Address already in use"));
    imapsrv_destroy(&h.srv);
    imapsrv_config_destroy(&cfg);
    close(fd);
    pthread_mutex_destroy(&h.log_lock);
}
END_TEST

START_TEST(create_refuses_bad_config)
{
    imapsrv_config *cfg;
    ck_assert_int_eq(imapsrv_config_new(&cfg), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imap.status", "disabled"),
                     IMAPSRV_OK);
    imapsrv *srv = NULL;
    ck_assert_int_eq(imapsrv_create(cfg, NULL, &srv), IMAPSRV_E_CONFIG);
    ck_assert_ptr_null(srv);
    ck_assert_uint_ge(imapsrv_config_problem_count(cfg), 1);
    imapsrv_config_destroy(&cfg);
    ck_assert_ptr_null(cfg);
}
END_TEST

/* A TLS client: handshake with `sni`, read the greeting, report the CN
 * of the certificate the server chose. */
static void tls_greeting(int port, const char *sni, char *cn, size_t cnlen,
                         char *line, size_t linelen)
{
    gnutls_certificate_credentials_t cred;
    gnutls_session_t ses;
    struct client c;
    ck_assert_int_eq(client_connect(&c, port), 0);
    gnutls_certificate_allocate_credentials(&cred);
    gnutls_init(&ses, GNUTLS_CLIENT);
    gnutls_set_default_priority(ses);
    gnutls_credentials_set(ses, GNUTLS_CRD_CERTIFICATE, cred);
    if (sni)
        gnutls_server_name_set(ses, GNUTLS_NAME_DNS, sni, strlen(sni));
    gnutls_transport_set_int(ses, c.fd);
    gnutls_handshake_set_timeout(ses, 3000);
    int rc;
    do
        rc = gnutls_handshake(ses);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    ck_assert_msg(rc == 0, "handshake: %s", gnutls_strerror(rc));
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(ses, &n);
    ck_assert_uint_ge(n, 1);
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    size_t sz = cnlen;
    ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(
                         crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &sz),
                     0);
    gnutls_x509_crt_deinit(crt);
    ssize_t r;
    do /* a TLS 1.3 session ticket arrives first: E_AGAIN, read on */
        r = gnutls_record_recv(ses, line, linelen - 1);
    while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
    ck_assert_int_gt(r, 0);
    line[r] = '\0';
    gnutls_bye(ses, GNUTLS_SHUT_WR);
    gnutls_deinit(ses);
    gnutls_certificate_free_credentials(cred);
    close(c.fd);
}

static char *slurp(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(65536);
    *len_r = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

START_TEST(tls_from_memory_and_sni)
{
    char dir[64], cert[96], key[96], d2[64], c2[96], k2[96];
    char d3[64], c3[96], k3[96];
    make_cert(dir, sizeof(dir), cert, key); /* CN localhost */
    snprintf(d2, sizeof(d2), "/tmp/imapsrv-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d2));
    sprintf(c2, "%s/cert.pem", d2);
    sprintf(k2, "%s/key.pem", d2);
    const char *mail[] = {"mail.example.org", NULL};
    char err[256];
    ck_assert_int_eq(imapsrv_tls_self_signed(c2, k2, mail, err, sizeof(err)),
                     IMAPSRV_OK);
    snprintf(d3, sizeof(d3), "/tmp/imapsrv-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d3));
    sprintf(c3, "%s/cert.pem", d3);
    sprintf(k3, "%s/key.pem", d3);
    const char *wild[] = {"wild.example.net", NULL};
    ck_assert_int_eq(imapsrv_tls_self_signed(c3, k3, wild, err, sizeof(err)),
                     IMAPSRV_OK);

    int port = free_port(), tport = free_port();
    imapsrv_config *cfg = base_config(port);
    char p[16];
    snprintf(p, sizeof(p), "%d", tport);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imaps.port", p), IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imaps.address", "127.0.0.1"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imaps.status", "enabled"),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_set(cfg, "imaps.auth.password", "yes"),
                     IMAPSRV_OK);
    /* The main certificate from memory, no files named. */
    size_t clen, klen;
    char *cpem = slurp(cert, &clen), *kpem = slurp(key, &klen);
    ck_assert_int_eq(imapsrv_config_set_tls_pem(cfg, cpem, clen, kpem, klen),
                     IMAPSRV_OK);
    free(cpem);
    free(kpem);
    ck_assert_int_eq(imapsrv_config_add_sni(cfg, "mail.example.org", c2, k2),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_add_sni(cfg, "*.example.net", c3, k3),
                     IMAPSRV_OK);
    ck_assert_int_eq(imapsrv_config_add_sni(cfg, "bad name", c3, k3),
                     IMAPSRV_E_INVALID);
    struct host h;
    host_start(&h, cfg, IMAPSRV_RUN_THREADS);
    imapsrv_config_destroy(&cfg);

    char cn[128], line[512];
    tls_greeting(tport, NULL, cn, sizeof(cn), line, sizeof(line));
    ck_assert_str_eq(cn, "localhost");
    ck_assert_msg(strncmp(line, "* OK [CAPABILITY IMAP4rev1", 26) == 0, "%s",
                  line);
    ck_assert_ptr_null(strstr(line, "STARTTLS")); /* already TLS */
    tls_greeting(tport, "mail.example.org", cn, sizeof(cn), line, sizeof(line));
    ck_assert_str_eq(cn, "mail.example.org");
    tls_greeting(tport, "imap.example.net", cn, sizeof(cn), line, sizeof(line));
    ck_assert_str_eq(cn, "wild.example.net");
    tls_greeting(tport, "other.example.com", cn, sizeof(cn), line,
                 sizeof(line));
    ck_assert_str_eq(cn, "localhost");
    host_stop(&h);
    drop_cert(dir, cert, key);
    drop_cert(d2, c2, k2);
    drop_cert(d3, c3, k3);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, login_threads_sync);
    tcase_add_test(tc, login_async_hook);
    tcase_add_test(tc, login_external_loop);
    tcase_add_test(tc, authenticate_plain);
    tcase_add_test(tc, syntax_errors_and_limits);
    tcase_add_test(tc, redirect_and_disabled_ports);
    tcase_add_test(tc, session_limits);
    tcase_add_test(tc, password_policy);
    tcase_add_test(tc, reload_moves_port);
    tcase_add_test(tc, bind_conflict_reported);
    tcase_add_test(tc, create_refuses_bad_config);
    tcase_add_test(tc, tls_from_memory_and_sni);
    tcase_add_test(tc, mailbox_async_store);
    tcase_add_test(tc, notify_reaches_idle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(server_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
