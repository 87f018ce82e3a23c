/* The server object: lifecycle, run modes, listeners and reload.  Composes
 * the layers: net/ accepts, imap/ speaks, core/ holds policy and loops. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "imap/hub.h"
#include "imap/session.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/tls.h"

#define LISTEN_BACKLOG 511
#define MAX_THREADS 256

struct server_loop {
    struct loop lp;
    struct imapsrv *srv;
    pthread_t thread;
    bool thread_started;
    struct session *sessions; /* owned by this loop; loop thread only */
    bool draining;            /* shutdown: exit when sessions is empty */
    struct loop_timer grace;
    struct loop_task shutdown_task;
};

struct bound { /* a bound listener and the policy name it serves */
    struct listener *l;
    char name[CFG_NAME_MAX];
};

struct ip_count { /* sessions and failed logins per remote address */
    struct ip_count *next;
    unsigned count;
    unsigned fails;     /* failed logins since the last success */
    uint64_t last_fail; /* monotonic ms */
    char addr[64];
};

#define FAIL_MEMORY_MS (15 * 60 * 1000) /* failures older than this expire */
#define FAIL_DELAY_CAP_MS 60000

#define IP_BUCKETS 256

struct imapsrv {
    imapsrv_options opts;
    struct imap_env env;
    struct imap_counters counters;
    struct server_loop *loops;
    size_t loop_count;

    pthread_mutex_t lock; /* policy, bound listeners, per-address counts */
    pthread_mutex_t reload_lock; /* one reload at a time */
    pthread_mutex_t drive_lock;  /* external mode: one driver at a time */
    struct policy *pol;
    struct bound *bound;
    size_t bound_count;
    struct ip_count *ips[IP_BUCKETS];
    atomic_uint active; /* sessions, for max_sessions */
    atomic_uint_fast64_t next_id;
    bool started;
    atomic_bool stopping;
    char bye_text[256];
    unsigned grace_ms;
};

struct retire_task {
    struct loop_task task;
    struct listener *l;
};

/* ---- per-address accounting ---- */

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IP_BUCKETS;
}

static bool ip_expired(const struct ip_count *e, uint64_t now)
{
    return e->count == 0 &&
           (e->fails == 0 || now - e->last_fail > FAIL_MEMORY_MS);
}

/* The entry for addr, created if asked; drops expired neighbours on the
 * way so that the table stays bounded by recent activity. */
static struct ip_count *ip_find(struct imapsrv *srv, const char *addr,
                                bool create)
{
    uint64_t now = loop_clock_ms();
    struct ip_count **pp = &srv->ips[ip_hash(addr)], *found = NULL;
    while (*pp) {
        struct ip_count *e = *pp;
        if (strcmp(e->addr, addr) == 0) {
            found = e;
        } else if (ip_expired(e, now)) {
            *pp = e->next;
            free(e);
            continue;
        }
        pp = &e->next;
    }
    if (!found && create && (found = calloc(1, sizeof(*found)))) {
        snprintf(found->addr, sizeof(found->addr), "%s", addr);
        found->next = srv->ips[ip_hash(addr)];
        srv->ips[ip_hash(addr)] = found;
    }
    return found;
}

/* Count a new session from addr; false (nothing counted) over the limit. */
static bool ip_acquire(struct imapsrv *srv, const char *addr, unsigned limit)
{
    struct ip_count *e = ip_find(srv, addr, true);
    if (!e || (limit && e->count >= limit))
        return false;
    e->count++;
    return true;
}

static void ip_release(struct imapsrv *srv, const char *addr)
{
    struct ip_count *e = ip_find(srv, addr, false);
    if (e && e->count)
        e->count--; /* freed by a later ip_find once it has expired */
}

/* A login from the session's address succeeded or failed; for a failure,
 * the delay before answering: it doubles with each failure from that
 * address (capped) and a success resets it. */
static unsigned auth_result(void *server, struct session *s, bool ok)
{
    struct imapsrv *srv = server;
    unsigned base = s->lim->auth_fail_delay_ms, delay = base;
    pthread_mutex_lock(&srv->lock);
    struct ip_count *e = ip_find(srv, s->conn->peer, !ok);
    if (e && ok) {
        e->fails = 0;
    } else if (e) {
        uint64_t now = loop_clock_ms();
        if (now - e->last_fail > FAIL_MEMORY_MS)
            e->fails = 0;
        e->fails++;
        e->last_fail = now;
        unsigned cap = base > FAIL_DELAY_CAP_MS ? base : FAIL_DELAY_CAP_MS;
        for (unsigned i = 1; i < e->fails && delay < cap; i++)
            delay = delay * 2 > cap ? cap : delay * 2;
    }
    pthread_mutex_unlock(&srv->lock);
    return delay;
}

/* ---- sessions ---- */

static void session_started(void *server, struct session *s)
{
    struct server_loop *sl = s->loop->owner;
    s->loop_next = sl->sessions;
    if (sl->sessions)
        sl->sessions->loop_prev = s;
    sl->sessions = s;
}

static void session_ended(void *server, struct session *s)
{
    struct imapsrv *srv = server;
    struct server_loop *sl = s->loop->owner;
    if (s->loop_prev)
        s->loop_prev->loop_next = s->loop_next;
    else
        sl->sessions = s->loop_next;
    if (s->loop_next)
        s->loop_next->loop_prev = s->loop_prev;
    pthread_mutex_lock(&srv->lock);
    ip_release(srv, s->conn->peer);
    pthread_mutex_unlock(&srv->lock);
    atomic_fetch_sub(&srv->active, 1);
    if (sl->draining && !sl->sessions)
        sl->lp.stop = true;
}

/* Answer with a BYE and close: for connections that get no session. */
static void refuse(struct imapsrv *srv, struct conn *c, const char *line)
{
    atomic_fetch_add(&srv->counters.refused_by_policy, 1);
    wbuf_puts(&c->out, line);
    conn_close(c);
}

static const struct cfg_listener *
bound_policy(struct imapsrv *srv, struct listener *l, struct policy **pol_r)
{
    const struct cfg_listener *lst = NULL;
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->bound_count; i++)
        if (srv->bound[i].l == l) {
            lst = cfg_listener_find(srv->pol->cfg, srv->bound[i].name);
            break;
        }
    if (lst) {
        *pol_r = srv->pol;
        policy_ref(srv->pol);
    }
    pthread_mutex_unlock(&srv->lock);
    return lst;
}

static void on_accept(void *userdata, struct listener *l, struct loop *lp,
                      int fd)
{
    struct imapsrv *srv = userdata;
    struct policy *pol = NULL;
    const struct cfg_listener *lst = bound_policy(srv, l, &pol);
    struct conn *c = conn_new(lp, fd, NULL, NULL);
    if (!c || !lst || lst->status == IMAPSRV_PORT_DISABLED ||
        atomic_load(&srv->stopping)) {
        if (c)
            conn_abort(c);
        policy_unref(pol);
        return;
    }
    char line[512];
    if (lst->status == IMAPSRV_PORT_REDIRECT) {
        char msg[256];
        cfg_redirect_message(pol->cfg, lst, msg, sizeof(msg));
        snprintf(line, sizeof(line), "* BYE [ALERT] %s\r\n", msg);
        log_line(&srv->env.log, IMAPSRV_LOG_INFO, "listener.redirect",
                 "listener %s: redirected %s", lst->name, c->peer);
        refuse(srv, c, line);
        policy_unref(pol);
        return;
    }
    const imapsrv_limits *lim = &pol->cfg->limits;
    unsigned active = atomic_fetch_add(&srv->active, 1);
    bool ip_ok = false;
    if (!lim->max_sessions || active < lim->max_sessions) {
        pthread_mutex_lock(&srv->lock);
        ip_ok = ip_acquire(srv, c->peer, lim->max_sessions_per_ip);
        pthread_mutex_unlock(&srv->lock);
    }
    if (!ip_ok) {
        atomic_fetch_sub(&srv->active, 1);
        log_line(&srv->env.log, IMAPSRV_LOG_NOTICE, "limits.sessions",
                 "listener %s: refused %s: too many sessions", lst->name,
                 c->peer);
        refuse(srv, c, "* BYE [UNAVAILABLE] Too many sessions\r\n");
        policy_unref(pol);
        return;
    }
    uint64_t id = atomic_fetch_add(&srv->next_id, 1) + 1;
    if (!session_start(&srv->env, pol, lst, c, id)) {
        pthread_mutex_lock(&srv->lock);
        ip_release(srv, c->peer);
        pthread_mutex_unlock(&srv->lock);
        atomic_fetch_sub(&srv->active, 1);
    }
    policy_unref(pol); /* a session holds its own reference */
}

static void on_accept_error(void *userdata, struct listener *l, int err)
{
    struct imapsrv *srv = userdata;
    log_line(&srv->env.log, IMAPSRV_LOG_ERROR, "listener.accept",
             "port %d: accept failed: %s", l->port, strerror(err));
}

/* ---- listeners ---- */

static struct loop **loop_array(struct imapsrv *srv)
{
    struct loop **a = calloc(srv->loop_count, sizeof(*a));
    for (size_t i = 0; a && i < srv->loop_count; i++)
        a[i] = &srv->loops[i].lp;
    return a;
}

static const char *status_name(imapsrv_port_status st)
{
    return st == IMAPSRV_PORT_ENABLED    ? "enabled"
           : st == IMAPSRV_PORT_REDIRECT ? "redirect"
                                         : "disabled";
}

/* lst NULL: the listener stops. */
static void log_bound(struct imapsrv *srv, const struct bound *b,
                      const struct cfg_listener *lst)
{
    for (size_t i = 0; i < b->l->fd_count; i++) {
        char where[96];
        listener_describe(b->l, i, where, sizeof(where));
        if (lst)
            log_line(&srv->env.log, IMAPSRV_LOG_NOTICE, "listener.start",
                     "listening on %s %s %s", where, b->name,
                     status_name(lst->status));
        else
            log_line(&srv->env.log, IMAPSRV_LOG_NOTICE, "listener.stop",
                     "stopped listening on %s %s", where, b->name);
    }
}

static void retire_task(struct loop *lp, struct loop_task *t)
{
    struct retire_task *rt = (struct retire_task *)t;
    listener_loop_release(rt->l, lp);
    listener_unref(rt->l);
    free(rt);
}

/* Stop accepting on a listener and let every loop drop it once no event of
 * an earlier turn can name it any more. */
static void retire(struct imapsrv *srv, struct listener *l)
{
    listener_detach(l);
    for (size_t i = 0; i < srv->loop_count; i++) {
        struct retire_task *rt = calloc(1, sizeof(*rt));
        if (!rt)
            continue; /* leaks one listener rather than risk a stale event */
        listener_ref(l);
        rt->l = l;
        rt->task.fn = retire_task;
        loop_post(&srv->loops[i].lp, &rt->task);
    }
    listener_unref(l);
}

/* Build the bound set for cfg, reusing sockets of `old` whose address and
 * port are unchanged.  On a bind failure nothing changes and the reason is
 * logged. */
static imapsrv_status bind_set(struct imapsrv *srv, const imapsrv_config *cfg,
                               struct bound *old, size_t old_count,
                               bool *reused, struct bound **set_r,
                               size_t *count_r)
{
    struct bound *set = calloc(cfg->listener_count + 1, sizeof(*set));
    struct loop **loops = loop_array(srv);
    size_t n = 0;
    imapsrv_status st = set && loops ? IMAPSRV_OK : IMAPSRV_E_NOMEM;
    for (size_t i = 0; st == IMAPSRV_OK && i < cfg->listener_count; i++) {
        const struct cfg_listener *cl = &cfg->listeners[i];
        if (cl->status == IMAPSRV_PORT_DISABLED)
            continue;
        snprintf(set[n].name, sizeof(set[n].name), "%s", cl->name);
        for (size_t j = 0; j < old_count && !set[n].l; j++)
            if (!reused[j] &&
                listener_same_spec(old[j].l->address, old[j].l->port,
                                   cl->address, cl->port)) {
                reused[j] = true;
                set[n].l = old[j].l;
                listener_ref(set[n].l);
            }
        if (!set[n].l) {
            char err[256];
            if (listener_bind(cl->address, cl->port, LISTEN_BACKLOG, &set[n].l,
                              err, sizeof(err)) < 0) {
                log_line(&srv->env.log, IMAPSRV_LOG_ERROR, "listener.bind",
                         "listener %s: %s", cl->name, err);
                st = IMAPSRV_E_BIND;
                break;
            }
            if (listener_attach(set[n].l, loops, srv->loop_count, on_accept,
                                on_accept_error, srv) < 0) {
                n++;
                st = IMAPSRV_E_SYSTEM;
                break;
            }
        }
        n++;
    }
    free(loops);
    if (st != IMAPSRV_OK) {
        for (size_t i = 0; i < n; i++)
            if (set[i].l)
                retire(srv, set[i].l);
        if (reused)
            memset(reused, 0, old_count * sizeof(*reused));
        free(set);
        return st;
    }
    *set_r = set;
    *count_r = n;
    return IMAPSRV_OK;
}

/* Install a new bound set and policy; retire what is no longer used. */
static void swap_bound(struct imapsrv *srv, struct bound *set, size_t n,
                       struct policy *pol, const bool *reused)
{
    pthread_mutex_lock(&srv->lock);
    struct bound *old = srv->bound;
    size_t old_count = srv->bound_count;
    struct policy *old_pol = srv->pol;
    srv->bound = set;
    srv->bound_count = n;
    srv->pol = pol;
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < old_count; i++) {
        if (reused[i]) { /* still in the new set, which holds its own ref */
            listener_unref(old[i].l);
            continue;
        }
        log_bound(srv, &old[i], NULL);
        retire(srv, old[i].l);
    }
    free(old);
    policy_unref(old_pol);
}

/* ---- configuration checks ---- */

static imapsrv_status check_config(struct imapsrv *srv, imapsrv_config *cfg)
{
    imapsrv_status st = imapsrv_config_check(cfg);
    for (size_t i = 0; i < imapsrv_config_problem_count(cfg); i++) {
        imapsrv_log_level lvl;
        const char *msg = imapsrv_config_problem(cfg, i, &lvl);
        log_line(&srv->env.log, lvl, "config.check", "%s", msg);
    }
    return st;
}

/* The TLS credentials of a configuration; NULL with the reason logged. */
static struct tls_ctx *tls_from(struct imapsrv *srv, const imapsrv_config *cfg)
{
    bool pem = cfg->tls_cert_pem.data != NULL; /* the API's, before files */
    struct tls_options to = {
        .main = {.cert_file = pem ? NULL : cfg->tls_cert,
                 .key_file = pem ? NULL : cfg->tls_key,
                 .cert_pem = cfg->tls_cert_pem.data,
                 .cert_pem_len = cfg->tls_cert_pem.len,
                 .key_pem = cfg->tls_key_pem.data,
                 .key_pem_len = cfg->tls_key_pem.len,
                 .key_password = cfg->tls_key_password},
        .ca_file = cfg->tls_ca,
        .crl_file = cfg->tls_crl,
        .priority = cfg->tls_priority,
    };
    struct tls_ctx *tls = NULL;
    char err[512];
    int rc = tls_ctx_new(&to, &tls, err, sizeof(err));
    for (size_t i = 0; rc == 0 && i < cfg->sni_count; i++) {
        struct tls_source src = {.cert_file = cfg->sni[i].cert,
                                 .key_file = cfg->sni[i].key};
        rc = tls_ctx_add_sni(tls, cfg->sni[i].host, &src, err, sizeof(err));
    }
    if (rc == 0)
        return tls;
    log_line(&srv->env.log, IMAPSRV_LOG_ERROR, "tls.config", "%s", err);
    if (tls)
        tls_ctx_unref(tls);
    return NULL;
}

/* A configuration generation: the config copied, its TLS credentials
 * loaded.  NULL (and the reason logged) when a certificate, key, CA or CRL
 * does not load. */
static struct policy *policy_from(struct imapsrv *srv,
                                  const imapsrv_config *cfg,
                                  imapsrv_status *st_r)
{
    struct tls_ctx *tls = NULL;
    *st_r = IMAPSRV_E_NOMEM;
    if (cfg_have_cert(cfg) && !(tls = tls_from(srv, cfg))) {
        *st_r = IMAPSRV_E_CONFIG;
        return NULL;
    }
    imapsrv_config *copy = NULL;
    struct policy *p = NULL;
    if (imapsrv_config_clone(cfg, &copy) == IMAPSRV_OK &&
        (p = policy_new(copy, tls)))
        *st_r = IMAPSRV_OK;
    if (!p) {
        imapsrv_config_destroy(&copy);
        if (tls)
            tls_ctx_unref(tls);
    }
    return p;
}

imapsrv_status imapsrv_tls_self_signed(const char *cert_file,
                                       const char *key_file,
                                       const char *const *names, char *err,
                                       size_t errlen)
{
    if (!cert_file || !key_file || !names || !names[0])
        return IMAPSRV_E_INVALID;
    /* Split the names into DNS names and IP addresses. */
    size_t n = 0;
    while (names[n])
        n++;
    const char **dns = calloc(n + 1, sizeof(*dns));
    const char **ips = calloc(n + 1, sizeof(*ips));
    size_t nd = 0, ni = 0;
    imapsrv_status st = IMAPSRV_E_NOMEM;
    if (dns && ips) {
        for (size_t i = 0; i < n; i++) {
            unsigned char buf[16];
            if (inet_pton(AF_INET, names[i], buf) == 1 ||
                inet_pton(AF_INET6, names[i], buf) == 1)
                ips[ni++] = names[i];
            else
                dns[nd++] = names[i];
        }
        char local[256];
        if (!err || !errlen) {
            err = local;
            errlen = sizeof(local);
        }
        st =
            tls_make_self_signed(cert_file, key_file, dns, ips, err, errlen) < 0
                ? IMAPSRV_E_TLS
                : IMAPSRV_OK;
    }
    free(dns);
    free(ips);
    return st;
}

/* ---- lifecycle ---- */

void imapsrv_options_init(imapsrv_options *o)
{
    memset(o, 0, sizeof(*o));
    o->size = sizeof(*o);
    o->run_mode = IMAPSRV_RUN_THREADS;
    o->threads = 1;
    o->log_level = IMAPSRV_LOG_INFO;
}

static void grace_expired(struct loop *lp, struct loop_timer *t)
{
    struct server_loop *sl = lp->owner;
    /* Clients that did not take their BYE in time are cut off. */
    for (struct session *s = sl->sessions, *next; s; s = next) {
        next = s->loop_next;
        conn_abort(s->conn);
    }
    sl->lp.stop = true;
}

static void shutdown_task(struct loop *lp, struct loop_task *t)
{
    struct server_loop *sl = lp->owner;
    sl->draining = true;
    loop_timer_arm(lp, &sl->grace, loop_now(lp) + sl->srv->grace_ms);
    for (struct session *s = sl->sessions, *next; s; s = next) {
        next = s->loop_next;
        session_bye(s, sl->srv->bye_text);
    }
    if (!sl->sessions)
        sl->lp.stop = true;
}

static void *loop_thread(void *arg)
{
    struct server_loop *sl = arg;
    while (!sl->lp.stop)
        if (loop_run_once(&sl->lp, -1) < 0 && errno != EINTR)
            break;
    return NULL;
}

static bool copy_hooks(struct imapsrv *srv, const imapsrv_options *o)
{
    if (o->auth) {
        if (o->auth->size <
            offsetof(imapsrv_auth_hooks, password) + sizeof(o->auth->password))
            return false;
        memcpy(&srv->env.auth, o->auth,
               o->auth->size < sizeof(srv->env.auth) ? o->auth->size
                                                     : sizeof(srv->env.auth));
        srv->env.have_auth = true;
    }
    if (o->store) {
        if (o->store->size < offsetof(imapsrv_store_hooks, user_close))
            return false;
        memcpy(&srv->env.store, o->store,
               o->store->size < sizeof(srv->env.store)
                   ? o->store->size
                   : sizeof(srv->env.store));
        srv->env.have_store = true;
    }
    return true;
}

imapsrv_status imapsrv_create(imapsrv_config *cfg, const imapsrv_options *opts,
                              imapsrv **srv_r)
{
    imapsrv_options o;
    imapsrv_options_init(&o);
    if (!cfg || !srv_r || (opts && opts->size < sizeof(o)))
        return IMAPSRV_E_INVALID;
    if (opts)
        o = *opts;
    if (o.run_mode != IMAPSRV_RUN_EXTERNAL &&
        (o.threads < 1 || o.threads > MAX_THREADS))
        return IMAPSRV_E_INVALID;
    struct imapsrv *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return IMAPSRV_E_NOMEM;
    srv->opts = o;
    srv->env.log = (struct log){o.log, o.log_userdata, o.log_level};
    srv->env.counters = &srv->counters;
    srv->env.session_started = session_started;
    srv->env.session_ended = session_ended;
    srv->env.auth_result = auth_result;
    srv->env.server = srv;
    if (!(srv->env.hub = hub_new())) {
        free(srv);
        return IMAPSRV_E_NOMEM;
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_mutex_init(&srv->reload_lock, NULL);
    pthread_mutex_init(&srv->drive_lock, NULL);
    imapsrv_status st = copy_hooks(srv, &o) ? IMAPSRV_OK : IMAPSRV_E_INVALID;
    if (st == IMAPSRV_OK)
        st = check_config(srv, cfg);
    if (st == IMAPSRV_OK)
        srv->pol = policy_from(srv, cfg, &st);
    srv->loop_count = o.run_mode == IMAPSRV_RUN_EXTERNAL ? 1 : o.threads;
    if (st == IMAPSRV_OK &&
        !(srv->loops = calloc(srv->loop_count, sizeof(*srv->loops))))
        st = IMAPSRV_E_NOMEM;
    for (size_t i = 0; st == IMAPSRV_OK && i < srv->loop_count; i++) {
        struct server_loop *sl = &srv->loops[i];
        if (loop_init(&sl->lp) < 0) {
            srv->loop_count = i;
            st = IMAPSRV_E_SYSTEM;
            break;
        }
        sl->lp.owner = sl;
        sl->srv = srv;
        sl->grace.fn = grace_expired;
        sl->shutdown_task.fn = shutdown_task;
    }
    if (st != IMAPSRV_OK) {
        if (!srv->loops)
            srv->loop_count = 0;
        imapsrv_destroy(&srv);
        return st;
    }
    *srv_r = srv;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_start(imapsrv *srv)
{
    if (!srv)
        return IMAPSRV_E_INVALID;
    pthread_mutex_lock(&srv->reload_lock);
    if (srv->started || atomic_load(&srv->stopping)) {
        pthread_mutex_unlock(&srv->reload_lock);
        return IMAPSRV_E_STATE;
    }
    struct bound *set;
    size_t n;
    imapsrv_status st = bind_set(srv, srv->pol->cfg, NULL, 0, NULL, &set, &n);
    if (st == IMAPSRV_OK) {
        pthread_mutex_lock(&srv->lock);
        srv->bound = set;
        srv->bound_count = n;
        pthread_mutex_unlock(&srv->lock);
        for (size_t i = 0; i < n; i++)
            log_bound(srv, &set[i],
                      cfg_listener_find(srv->pol->cfg, set[i].name));
        srv->started = true;
    }
    for (size_t i = 0; st == IMAPSRV_OK && i < srv->loop_count &&
                       srv->opts.run_mode == IMAPSRV_RUN_THREADS;
         i++) {
        if (pthread_create(&srv->loops[i].thread, NULL, loop_thread,
                           &srv->loops[i]) != 0) {
            st = IMAPSRV_E_SYSTEM;
            break;
        }
        srv->loops[i].thread_started = true;
    }
    pthread_mutex_unlock(&srv->reload_lock);
    return st;
}

imapsrv_status imapsrv_reload(imapsrv *srv, imapsrv_config *cfg)
{
    if (!srv || !cfg)
        return IMAPSRV_E_INVALID;
    imapsrv_status st = check_config(srv, cfg);
    struct policy *pol = st == IMAPSRV_OK ? policy_from(srv, cfg, &st) : NULL;
    if (!pol) {
        log_line(&srv->env.log, IMAPSRV_LOG_ERROR, "config.reload",
                 "reload refused; the running configuration stays");
        return st;
    }
    pthread_mutex_lock(&srv->reload_lock);
    if (atomic_load(&srv->stopping)) {
        pthread_mutex_unlock(&srv->reload_lock);
        policy_unref(pol);
        return IMAPSRV_E_STATE;
    }
    if (!srv->started) {
        pthread_mutex_lock(&srv->lock);
        struct policy *old = srv->pol;
        srv->pol = pol;
        pthread_mutex_unlock(&srv->lock);
        policy_unref(old);
        pthread_mutex_unlock(&srv->reload_lock);
        return IMAPSRV_OK;
    }
    /* The bound set is only changed under reload_lock, so reading it here
     * without srv->lock is safe. */
    bool *reused = calloc(srv->bound_count + 1, sizeof(bool));
    struct bound *set = NULL;
    size_t n = 0;
    st = reused ? bind_set(srv, pol->cfg, srv->bound, srv->bound_count, reused,
                           &set, &n)
                : IMAPSRV_E_NOMEM;
    if (st == IMAPSRV_OK) {
        for (size_t i = 0; i < n; i++) {
            bool kept = false;
            for (size_t j = 0; j < srv->bound_count; j++)
                kept |= reused[j] && srv->bound[j].l == set[i].l;
            if (!kept)
                log_bound(srv, &set[i],
                          cfg_listener_find(pol->cfg, set[i].name));
        }
        swap_bound(srv, set, n, pol, reused);
        log_line(&srv->env.log, IMAPSRV_LOG_NOTICE, "config.reload",
                 "configuration reloaded");
    } else {
        log_line(&srv->env.log, IMAPSRV_LOG_ERROR, "config.reload",
                 "reload failed: %s; the running configuration stays",
                 imapsrv_strerror(st));
        policy_unref(pol);
    }
    free(reused);
    pthread_mutex_unlock(&srv->reload_lock);
    return st;
}

static void drive_until_drained(struct imapsrv *srv)
{
    struct server_loop *sl = &srv->loops[0];
    pthread_mutex_lock(&srv->drive_lock);
    while (!sl->lp.stop)
        loop_run_once(&sl->lp, 50); /* the grace timer bounds this */
    pthread_mutex_unlock(&srv->drive_lock);
}

imapsrv_status imapsrv_shutdown(imapsrv *srv, unsigned grace_ms,
                                const char *bye_text)
{
    if (!srv)
        return IMAPSRV_E_INVALID;
    pthread_mutex_lock(&srv->reload_lock);
    if (atomic_exchange(&srv->stopping, true)) {
        pthread_mutex_unlock(&srv->reload_lock);
        return IMAPSRV_OK;
    }
    snprintf(srv->bye_text, sizeof(srv->bye_text), "%s",
             bye_text ? bye_text : "Server shutting down");
    srv->grace_ms = grace_ms;
    pthread_mutex_lock(&srv->lock);
    struct bound *old = srv->bound;
    size_t old_count = srv->bound_count;
    srv->bound = NULL;
    srv->bound_count = 0;
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < old_count; i++)
        retire(srv, old[i].l);
    free(old);
    for (size_t i = 0; i < srv->loop_count; i++)
        loop_post(&srv->loops[i].lp, &srv->loops[i].shutdown_task);
    pthread_mutex_unlock(&srv->reload_lock);
    log_line(&srv->env.log, IMAPSRV_LOG_NOTICE, "server.shutdown",
             "shutting down");
    if (srv->opts.run_mode == IMAPSRV_RUN_EXTERNAL) {
        if (srv->started)
            drive_until_drained(srv);
        return IMAPSRV_OK;
    }
    for (size_t i = 0; i < srv->loop_count; i++) {
        struct server_loop *sl = &srv->loops[i];
        /* From within a hook on a loop thread, destroy joins later. */
        if (sl->thread_started && !pthread_equal(sl->thread, pthread_self())) {
            pthread_join(sl->thread, NULL);
            sl->thread_started = false;
        }
    }
    return IMAPSRV_OK;
}

void imapsrv_destroy(imapsrv **srvp)
{
    if (!srvp || !*srvp)
        return;
    struct imapsrv *srv = *srvp;
    *srvp = NULL;
    if (srv->started)
        imapsrv_shutdown(srv, 0, NULL);
    for (size_t i = 0; i < srv->loop_count; i++) {
        struct server_loop *sl = &srv->loops[i];
        if (sl->thread_started)
            pthread_join(sl->thread, NULL);
        /* Whatever is left (retired listeners, freed connections) is in
         * the task queue: one last turn runs it. */
        for (struct session *s = sl->sessions, *next; s; s = next) {
            next = s->loop_next;
            conn_abort(s->conn);
        }
        loop_run_once(&sl->lp, 0);
        loop_run_once(&sl->lp, 0);
        loop_free(&sl->lp);
    }
    for (size_t i = 0; i < srv->bound_count; i++)
        listener_unref(srv->bound[i].l);
    free(srv->bound);
    for (size_t i = 0; i < IP_BUCKETS; i++)
        while (srv->ips[i]) {
            struct ip_count *e = srv->ips[i];
            srv->ips[i] = e->next;
            free(e);
        }
    policy_unref(srv->pol);
    hub_free(&srv->env.hub);
    free(srv->loops);
    pthread_mutex_destroy(&srv->lock);
    pthread_mutex_destroy(&srv->reload_lock);
    pthread_mutex_destroy(&srv->drive_lock);
    free(srv);
}

/* ---- the external run mode ---- */

int imapsrv_get_fd(const imapsrv *srv)
{
    if (!srv || srv->opts.run_mode != IMAPSRV_RUN_EXTERNAL)
        return -1;
    return srv->loops[0].lp.epfd;
}

int imapsrv_next_timeout_ms(imapsrv *srv)
{
    if (!srv || srv->opts.run_mode != IMAPSRV_RUN_EXTERNAL)
        return -1;
    return loop_next_timeout(&srv->loops[0].lp);
}

imapsrv_status imapsrv_process(imapsrv *srv)
{
    return imapsrv_run_wait(srv, 0);
}

imapsrv_status imapsrv_run_wait(imapsrv *srv, int timeout_ms)
{
    if (!srv || srv->opts.run_mode != IMAPSRV_RUN_EXTERNAL)
        return IMAPSRV_E_STATE;
    struct server_loop *sl = &srv->loops[0];
    uint64_t deadline = loop_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    imapsrv_status st = IMAPSRV_OK;
    pthread_mutex_lock(&srv->drive_lock);
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            uint64_t now = loop_clock_ms();
            wait = now >= deadline ? 0 : (int)(deadline - now);
        }
        if (loop_run_once(&sl->lp, wait) < 0) {
            st = IMAPSRV_E_SYSTEM;
            break;
        }
        if (sl->lp.stop || wait == 0)
            break;
    }
    pthread_mutex_unlock(&srv->drive_lock);
    return st;
}

/* ---- introspection ---- */

imapsrv_status imapsrv_listener_port(const imapsrv *srv, const char *name,
                                     int *port_r)
{
    if (!srv || !name || !port_r)
        return IMAPSRV_E_INVALID;
    imapsrv_status st = IMAPSRV_E_INVALID;
    pthread_mutex_lock((pthread_mutex_t *)&srv->lock);
    for (size_t i = 0; i < srv->bound_count; i++)
        if (strcmp(srv->bound[i].name, name) == 0) {
            *port_r = srv->bound[i].l->port;
            st = IMAPSRV_OK;
        }
    pthread_mutex_unlock((pthread_mutex_t *)&srv->lock);
    return st;
}

void imapsrv_get_stats(const imapsrv *srv, imapsrv_stats *st_r)
{
    if (!srv || !st_r)
        return;
    st_r->size = sizeof(*st_r);
    st_r->connections_total = atomic_load(&srv->counters.connections_total);
    st_r->connections_open = atomic_load(&srv->counters.connections_open);
    st_r->logins_ok = atomic_load(&srv->counters.logins_ok);
    st_r->logins_failed = atomic_load(&srv->counters.logins_failed);
    st_r->refused_by_policy = atomic_load(&srv->counters.refused_by_policy);
}

imapsrv_status imapsrv_notify_mailbox(imapsrv *srv, const char *user,
                                      const char *mailbox)
{
    if (!srv || !mailbox)
        return IMAPSRV_E_INVALID;
    struct hub_change *c =
        hub_change_new(HUB_RESYNC, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0);
    if (!c)
        return IMAPSRV_E_NOMEM;
    hub_publish(srv->env.hub, user, mailbox, c, NULL);
    hub_change_unref(c);
    return IMAPSRV_OK;
}
