/* imapsrvd: the example IMAP daemon over libimapsrv.
 *
 *     imapsrvd [-c FILE] [-o KEY=VALUE]... [-t] [-h]
 *
 * Settings come from a "key = value" file (conffile.c) and -o overrides;
 * each key is the daemon's own (users, store, threads, log.level, pidfile)
 * or else the library's (imapsrv_config_set).  Without -c the daemon runs
 * an embedded demo setup: 127.0.0.1:1143, user demo/demo, demo mailboxes.
 *
 * Signals are taken synchronously: they are blocked before the library
 * starts its threads (which inherit the mask), and the main thread waits in
 * sigwaitinfo.  SIGHUP reloads (config + users file, all or nothing);
 * SIGTERM and SIGINT shut down gracefully.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"
#include "imapsrv.h"
#include "memstore/memstore.h"
#include "users.h"

#define DEMO_USER "demo"
#define DEMO_DIR "imapsrvd-demo"
#define SHUTDOWN_GRACE_MS 2000

struct cmdline {
    const char *conf; /* NULL: the embedded default */
    char **overrides; /* -o arguments, in order */
    size_t noverrides;
    bool test;
};

/* Everything one load of the configuration produces. */
struct settings {
    imapsrv_config *cfg;
    users *users;
    bool builtin_users; /* no users file: the demo account */
    char *users_path;
    char *store;
    unsigned threads;
    imapsrv_log_level log_level;
    char *pidfile;
};

/* The log hook's state: lines above `level` are dropped. */
struct logger {
    atomic_int level;
};

/* The user table the password hook reads.  A reload swaps in a new one;
 * a login in progress keeps a reference to the one it started with, so
 * slow crypt(3) hashes never run under the lock. */
struct users_ref {
    users *users;
    unsigned refs;
};

struct auth {
    pthread_mutex_t lock;
    struct users_ref *cur;
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */

static const char *level_name(imapsrv_log_level level)
{
    static const char *const names[] = {"ERROR", "WARNING", "NOTICE", "INFO",
                                        "DEBUG"};

    return (unsigned)level < 5 ? names[level] : "LOG";
}

static bool parse_level(const char *s, imapsrv_log_level *level_r)
{
    static const char *const names[] = {"error", "warning", "notice", "info",
                                        "debug"};

    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *level_r = (imapsrv_log_level)i;
            return true;
        }
    }
    return false;
}

/* "LEVEL event: line", written with one fputs so that lines from several
 * threads do not interleave. */
static void log_hook(void *ud, imapsrv_log_level level, const char *event,
                     const char *line)
{
    struct logger *lg = ud;
    char buf[1024], *p = buf;
    int n;

    if ((int)level > atomic_load(&lg->level))
        return;
    n = snprintf(buf, sizeof buf, "%s %s: %s\n", level_name(level), event,
                 line);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf && (p = malloc((size_t)n + 1)) != NULL)
        snprintf(p, (size_t)n + 1, "%s %s: %s\n", level_name(level), event,
                 line);
    else if ((size_t)n >= sizeof buf)
        strcpy((p = buf) + sizeof buf - 5, "...\n"); /* cut, but a line */
    fputs(p, stderr);
    if (p != buf)
        free(p);
}

static void log_msg(struct logger *lg, imapsrv_log_level level,
                    const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void log_msg(struct logger *lg, imapsrv_log_level level,
                    const char *event, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_hook(lg, level, event, msg);
}

/* ------------------------------------------------------------------ */
/* Loading the configuration                                           */

/* One load: where its problems go and how many errors it found.  At start
 * (and with -t) problems are printed as "error: ..." / "warning: ..."; on a
 * reload they go through the log. */
struct loader {
    struct settings *s;
    struct logger *log; /* NULL: print to stderr */
    size_t errors;
};

static void problem(struct loader *ld, imapsrv_log_level level, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

static void problem(struct loader *ld, imapsrv_log_level level, const char *fmt,
                    ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level == IMAPSRV_LOG_ERROR)
        ld->errors++;
    if (ld->log)
        log_hook(ld->log, level, "daemon.reload", msg);
    else
        fprintf(stderr, "%s: %s\n",
                level == IMAPSRV_LOG_ERROR ? "error" : "warning", msg);
}

static void set_string(struct loader *ld, char **field, const char *value)
{
    char *copy = *value ? strdup(value) : NULL;

    if (*value && !copy)
        problem(ld, IMAPSRV_LOG_ERROR, "out of memory");
    free(*field);
    *field = copy;
}

/* The daemon's own keys; false if `key` is not one of them. */
static bool daemon_key(struct loader *ld, const char *where, const char *key,
                       const char *value)
{
    struct settings *s = ld->s;
    char *end;
    unsigned long n;

    if (strcmp(key, "users") == 0) {
        if (!*value)
            problem(ld, IMAPSRV_LOG_ERROR, "%s: users: empty path", where);
        set_string(ld, &s->users_path, value);
    } else if (strcmp(key, "store") == 0) {
        if (strncmp(value, "maildir:", 8) == 0)
            problem(ld, IMAPSRV_LOG_ERROR,
                    "%s: store: maildir is not supported yet ('%s')", where,
                    value);
        else if (strcmp(value, "memory") != 0)
            problem(ld, IMAPSRV_LOG_ERROR,
                    "%s: store: unknown store '%s' (memory, maildir:PATH)",
                    where, value);
        set_string(ld, &s->store, value);
    } else if (strcmp(key, "threads") == 0) {
        errno = 0;
        n = strtoul(value, &end, 10);
        if (errno || end == value || *end || *value == '-' || n < 1 || n > 64)
            problem(ld, IMAPSRV_LOG_ERROR,
                    "%s: threads: '%s' is not a number from 1 to 64", where,
                    value);
        else
            s->threads = (unsigned)n;
    } else if (strcmp(key, "log.level") == 0) {
        if (!parse_level(value, &s->log_level))
            problem(ld, IMAPSRV_LOG_ERROR,
                    "%s: log.level: '%s' is not one of error, warning, "
                    "notice, info, debug",
                    where, value);
    } else if (strcmp(key, "pidfile") == 0) {
        set_string(ld, &s->pidfile, value);
    } else {
        return false;
    }
    return true;
}

static void apply(struct loader *ld, const char *where, const char *key,
                  const char *value)
{
    imapsrv_status st;
    const char *err;

    if (daemon_key(ld, where, key, value))
        return;
    st = imapsrv_config_set(ld->s->cfg, key, value);
    if (st == IMAPSRV_E_NOKEY) {
        problem(ld, IMAPSRV_LOG_ERROR, "%s: unknown key '%s'", where, key);
    } else if (st != IMAPSRV_OK) {
        err = imapsrv_config_last_error(ld->s->cfg);
        problem(ld, IMAPSRV_LOG_ERROR, "%s: %s", where,
                err && *err ? err : imapsrv_strerror(st));
    }
}

static void on_entry(void *ctx, const char *file, unsigned line,
                     const char *key, const char *value)
{
    char where[512];

    snprintf(where, sizeof where, "%s:%u", file, line);
    apply(ctx, where, key, value);
}

/* Syntax problems of the config and users files. */
static void on_error(void *ctx, const char *file, unsigned line,
                     const char *msg)
{
    if (line > 0)
        problem(ctx, IMAPSRV_LOG_ERROR, "%s:%u: %s", file, line, msg);
    else
        problem(ctx, IMAPSRV_LOG_ERROR, "%s: %s", file, msg);
}

static void settings_free(struct settings *s)
{
    imapsrv_config_destroy(&s->cfg);
    users_free(&s->users);
    free(s->users_path);
    free(s->store);
    free(s->pidfile);
    memset(s, 0, sizeof *s);
}

static void load_users(struct loader *ld, bool embedded)
{
    static const char builtin[] = DEMO_USER ":{PLAIN}" DEMO_USER "\n";
    struct settings *s = ld->s;

    if (!(s->users = users_new())) {
        problem(ld, IMAPSRV_LOG_ERROR, "out of memory");
    } else if (s->users_path) {
        users_load_file(s->users, s->users_path, on_error, ld);
    } else {
        users_parse(s->users, "built-in users", builtin, sizeof builtin - 1,
                    on_error, ld);
        s->builtin_users = true;
        if (!embedded)
            problem(ld, IMAPSRV_LOG_WARNING,
                    "users: not set; only the built-in account '" DEMO_USER
                    "' can log in");
    }
}

/* Build settings from the embedded default or the file, then the -o
 * overrides, then the users file; report every problem found. */
/* The embedded default's TLS certificate: made once, self-signed, under
 * the working directory. */
static void demo_certificate(struct loader *ld)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "::1", NULL};
    const char *cert = DEMO_DIR "/cert.pem", *key = DEMO_DIR "/key.pem";
    char err[256], cur[64];

    /* Only while the demo files are the ones in use (-o may name others). */
    if (imapsrv_config_get(ld->s->cfg, "tls.cert", cur, sizeof cur) !=
            IMAPSRV_OK ||
        strcmp(cur, cert) != 0)
        return;
    if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
        return;
    if (mkdir(DEMO_DIR, 0700) != 0 && errno != EEXIST) {
        problem(ld, IMAPSRV_LOG_ERROR, "%s: %s", DEMO_DIR, strerror(errno));
        return;
    }
    if (imapsrv_tls_self_signed(cert, key, names, err, sizeof err) !=
        IMAPSRV_OK)
        problem(ld, IMAPSRV_LOG_ERROR, "demo certificate: %s", err);
    else
        fprintf(stderr, "made a self-signed certificate for the demo: %s\n",
                cert);
}

static void load_settings(struct loader *ld, const struct cmdline *cl)
{
    conffile_handler h = {on_entry, on_error, ld};
    struct settings *s = ld->s;
    imapsrv_log_level level;

    memset(s, 0, sizeof *s);
    s->threads = 2;
    s->log_level = IMAPSRV_LOG_INFO;
    s->store = strdup("memory");
    if (!s->store || imapsrv_config_new(&s->cfg) != IMAPSRV_OK) {
        problem(ld, IMAPSRV_LOG_ERROR, "out of memory");
        return;
    }
    if (cl->conf) {
        conffile_parse_file(cl->conf, &h);
    } else {
        static const char *const builtin[][2] = {
            {"imap.port", "1143"},
            {"imap.address", "127.0.0.1"},
            {"imaps.port", "1993"},
            {"imaps.address", "127.0.0.1"},
            {"imaps.status", "enabled"},
            {"imaps.auth.password", "yes"},
            {"tls.cert", DEMO_DIR "/cert.pem"},
            {"tls.key", DEMO_DIR "/key.pem"},
        };
        for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
            apply(ld, "built-in default", builtin[i][0], builtin[i][1]);
    }
    for (size_t i = 0; i < cl->noverrides; i++) {
        char where[32], *copy = strdup(cl->overrides[i]), *key, *value;
        const char *err =
            copy ? conffile_split(copy, &key, &value) : "out of memory";

        snprintf(where, sizeof where, "-o #%zu", i + 1);
        if (err)
            problem(ld, IMAPSRV_LOG_ERROR, "%s: %s", where, err);
        else
            apply(ld, where, key, value);
        free(copy);
    }
    if (!cl->conf)
        demo_certificate(ld);
    load_users(ld, cl->conf == NULL);
    imapsrv_config_check(s->cfg);
    for (size_t i = 0; i < imapsrv_config_problem_count(s->cfg); i++) {
        const char *msg = imapsrv_config_problem(s->cfg, i, &level);

        problem(ld, level == IMAPSRV_LOG_ERROR ? level : IMAPSRV_LOG_WARNING,
                "%s", msg);
    }
}

/* ------------------------------------------------------------------ */
/* Authentication                                                      */

static struct users_ref *users_acquire(struct auth *a)
{
    struct users_ref *r;

    pthread_mutex_lock(&a->lock);
    r = a->cur;
    r->refs++;
    pthread_mutex_unlock(&a->lock);
    return r;
}

static void users_release(struct auth *a, struct users_ref *r)
{
    bool last;

    pthread_mutex_lock(&a->lock);
    last = --r->refs == 0;
    pthread_mutex_unlock(&a->lock);
    if (last) {
        users_free(&r->users);
        free(r);
    }
}

/* Install `u` (taken over) as the table for logins from now on. */
static bool users_install(struct auth *a, users *u)
{
    struct users_ref *r = calloc(1, sizeof *r), *old;

    if (!r)
        return false;
    r->users = u;
    r->refs = 1;
    pthread_mutex_lock(&a->lock);
    old = a->cur;
    a->cur = r;
    pthread_mutex_unlock(&a->lock);
    if (old)
        users_release(a, old);
    return true;
}

static imapsrv_status auth_password(void *ud, imapsrv_op *op,
                                    const imapsrv_auth_request *req)
{
    struct auth *a = ud;
    struct users_ref *r = users_acquire(a);
    bool ok =
        users_verify(r->users, req->authcid, req->password, req->password_len);

    users_release(a, r);
    if (!ok)
        return IMAPSRV_E_AUTHFAILED;
    /* No proxy logins here: acting as another user is not granted. */
    if (req->authzid && *req->authzid && strcmp(req->authzid, req->authcid))
        return IMAPSRV_E_AUTHZFAILED;
    return IMAPSRV_OK;
}

/* A verified client certificate logs in as its e-mail address, else its
 * CN, when that names a user of the users file; otherwise it is unmapped. */
static imapsrv_status auth_certificate(void *ud, imapsrv_op *op,
                                       const imapsrv_cert_request *req)
{
    struct auth *a = ud;
    const char *name = req->user; /* as tls.client_cert_user picks it */
    struct users_ref *r = users_acquire(a);
    bool known = users_exists(r->users, name);

    users_release(a, r);
    if (!known)
        return IMAPSRV_E_AUTHFAILED;
    imapsrv_auth_set_user(op, name);
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

static bool write_pidfile(const char *path)
{
    char buf[32];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    bool ok = fd >= 0 && write(fd, buf, (size_t)n) == n;

    if (fd >= 0 && close(fd) != 0)
        ok = false;
    return ok;
}

/* Tell a human how to connect, from the listener actually bound. */
static void print_hint(imapsrv *srv, const struct settings *s)
{
    imapsrv_listener_policy p;
    char host[128];
    const char *addr;
    size_t len;
    int port;

    imapsrv_listener_policy_init(&p, "imap");
    if (imapsrv_config_get_listener(s->cfg, "imap", &p) != IMAPSRV_OK ||
        p.status != IMAPSRV_PORT_ENABLED ||
        imapsrv_listener_port(srv, "imap", &port) != IMAPSRV_OK)
        return;
    addr = p.address ? p.address + strspn(p.address, " \t,") : "";
    len = strcspn(addr, " \t,");
    if (strncmp(addr, "iface:", 6) == 0)
        return; /* no address to show */
    if (len == 0 || (len == 7 && !strncmp(addr, "0.0.0.0", 7)))
        snprintf(host, sizeof host, "127.0.0.1");
    else if (len == 2 && !strncmp(addr, "::", 2))
        snprintf(host, sizeof host, "[::1]");
    else if (memchr(addr, ':', len))
        snprintf(host, sizeof host, "[%.*s]", (int)len, addr);
    else
        snprintf(host, sizeof host, "%.*s", (int)len, addr);
    fprintf(stderr, "try: curl imap://%s@%s:%d/\n",
            s->builtin_users ? DEMO_USER ":" DEMO_USER : "USER:PASSWORD", host,
            port);
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* SIGHUP: all or nothing.  `cur` holds the settings in force. */
static void reload(imapsrv *srv, const struct cmdline *cl, struct settings *cur,
                   struct auth *auth, struct logger *lg,
                   imapsrv_log_level built_level)
{
    struct settings next;
    struct loader ld = {&next, lg, 0};
    imapsrv_status st;

    log_msg(lg, IMAPSRV_LOG_NOTICE, "daemon.reload", "reloading %s",
            cl->conf ? cl->conf : "the built-in configuration");
    load_settings(&ld, cl);
    if (ld.errors == 0 && (st = imapsrv_reload(srv, next.cfg)) != IMAPSRV_OK)
        problem(&ld, IMAPSRV_LOG_ERROR, "%s", imapsrv_strerror(st));
    if (ld.errors > 0) {
        log_msg(lg, IMAPSRV_LOG_ERROR, "daemon.reload",
                "reload refused (%zu error%s); the running configuration "
                "stays",
                ld.errors, ld.errors == 1 ? "" : "s");
        settings_free(&next);
        return;
    }
    if (users_install(auth, next.users))
        next.users = NULL; /* the password hook's now */
    else
        log_msg(lg, IMAPSRV_LOG_ERROR, "daemon.reload",
                "out of memory: the old users table stays");
    if (next.threads != cur->threads || !same_string(next.store, cur->store) ||
        !same_string(next.pidfile, cur->pidfile))
        log_msg(lg, IMAPSRV_LOG_WARNING, "daemon.reload",
                "threads, store and pidfile changes take effect at the next "
                "start");
    if (next.log_level > built_level)
        log_msg(lg, IMAPSRV_LOG_WARNING, "daemon.reload",
                "log.level: lines above '%s' need a restart",
                level_name(built_level));
    atomic_store(&lg->level, (int)next.log_level);
    imapsrv_config_destroy(&cur->cfg);
    cur->cfg = next.cfg;
    next.cfg = NULL;
    cur->builtin_users = next.builtin_users;
    cur->log_level = next.log_level;
    settings_free(&next);
    log_msg(lg, IMAPSRV_LOG_NOTICE, "daemon.reload",
            "settings and users reloaded");
}

/* Wait for signals; returns the one that asked to stop. */
static int signal_loop(const sigset_t *set, imapsrv *srv,
                       const struct cmdline *cl, struct settings *s,
                       struct auth *auth, struct logger *lg)
{
    imapsrv_log_level built_level = s->log_level;
    siginfo_t si;
    int sig;

    for (;;) {
        sig = sigwaitinfo(set, &si);
        if (sig < 0 && errno == EINTR)
            continue;
        if (sig != SIGHUP)
            return sig;
        reload(srv, cl, s, auth, lg, built_level);
    }
}

static int serve(const struct cmdline *cl, struct settings *s,
                 struct logger *lg)
{
    struct auth auth = {.cur = NULL};
    imapsrv_auth_hooks ah = {.size = sizeof ah,
                             .userdata = &auth,
                             .password = auth_password,
                             .certificate = auth_certificate};
    imapsrv_store_hooks sh;
    imapsrv_options opts;
    imapsrv *srv = NULL;
    memstore *ms = NULL;
    imapsrv_status st;
    sigset_t set;
    int rc = 1, sig;

    /* Before the library makes threads: they inherit this mask, so the
     * signals reach sigwaitinfo below and never a loop thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_mutex_init(&auth.lock, NULL);
    if (users_install(&auth, s->users))
        s->users = NULL; /* the password hook's now */
    if (!auth.cur || !(ms = memstore_new()) ||
        memstore_load_demo(ms, DEMO_USER) != IMAPSRV_OK) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    memstore_hooks(ms, &sh);
    imapsrv_options_init(&opts);
    opts.run_mode = IMAPSRV_RUN_THREADS;
    opts.threads = s->threads;
    opts.log = log_hook;
    opts.log_userdata = lg;
    opts.log_level = s->log_level;
    opts.auth = &ah;
    opts.store = &sh;

    st = imapsrv_create(s->cfg, &opts, &srv);
    if (st == IMAPSRV_E_CONFIG) {
        for (size_t i = 0; i < imapsrv_config_problem_count(s->cfg); i++) {
            imapsrv_log_level level;
            const char *msg = imapsrv_config_problem(s->cfg, i, &level);

            fprintf(stderr, "%s: %s\n",
                    level == IMAPSRV_LOG_ERROR ? "error" : "warning", msg);
        }
        goto out;
    }
    if (st != IMAPSRV_OK || (st = imapsrv_start(srv)) != IMAPSRV_OK) {
        fprintf(stderr, "error: cannot start the server: %s\n",
                imapsrv_strerror(st));
        goto out;
    }
    if (s->pidfile && !write_pidfile(s->pidfile)) {
        fprintf(stderr, "error: pidfile %s: %s\n", s->pidfile, strerror(errno));
        goto out;
    }
    print_hint(srv, s);
    sig = signal_loop(&set, srv, cl, s, &auth, lg);
    log_msg(lg, IMAPSRV_LOG_NOTICE, "daemon.stop", "%s: shutting down",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    if (srv)
        imapsrv_shutdown(srv, SHUTDOWN_GRACE_MS, "Server shutting down");
    imapsrv_destroy(&srv);
    memstore_free(&ms);
    if (rc == 0 && s->pidfile)
        unlink(s->pidfile);
    if (auth.cur)
        users_release(&auth, auth.cur);
    pthread_mutex_destroy(&auth.lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
    fputs("usage: imapsrvd [-c FILE] [-o KEY=VALUE]... [-t] [-h]\n"
          "  -c FILE       read the configuration from FILE; without it, a\n"
          "                demo: 127.0.0.1:1143, user demo, password demo\n"
          "  -o KEY=VALUE  set KEY after the file (repeatable)\n"
          "  -t            check the configuration, print every problem "
          "and exit\n"
          "  -h            show this help\n"
          "SIGHUP reloads the configuration and users file; SIGTERM or "
          "SIGINT stops.\n",
          f);
}

/* -1: go on; else the exit status. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
    int c;

    memset(cl, 0, sizeof *cl);
    cl->overrides = calloc((size_t)argc, sizeof *cl->overrides);
    if (!cl->overrides)
        return 1;
    while ((c = getopt(argc, argv, "c:o:th")) != -1) {
        switch (c) {
        case 'c': cl->conf = optarg; break;
        case 'o':
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "imapsrvd: -o needs KEY=VALUE\n");
                usage(stderr);
                return 2;
            }
            cl->overrides[cl->noverrides++] = optarg;
            break;
        case 't': cl->test = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "imapsrvd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

static void check_log(void *userdata, imapsrv_log_level level,
                      const char *event, const char *line)
{
    /* The configuration's own problems were printed already. */
    if (level <= IMAPSRV_LOG_WARNING && strcmp(event, "config.check") != 0)
        fprintf(stderr, "%s: %s\n",
                level == IMAPSRV_LOG_ERROR ? "error" : "warning", line);
}

/* What only building the server can tell (TLS material, for one). */
static int check_server(struct settings *s)
{
    imapsrv_options o;
    imapsrv *srv = NULL;

    imapsrv_options_init(&o);
    o.run_mode = IMAPSRV_RUN_EXTERNAL; /* no threads for a check */
    o.log = check_log;
    o.log_level = IMAPSRV_LOG_WARNING;
    imapsrv_status st = imapsrv_create(s->cfg, &o, &srv);
    imapsrv_destroy(&srv);
    return st == IMAPSRV_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct cmdline cl;
    struct settings s;
    struct loader ld = {&s, NULL, 0};
    struct logger lg;
    int rc = parse_cmdline(argc, argv, &cl);

    if (rc >= 0) {
        free(cl.overrides);
        return rc;
    }
    load_settings(&ld, &cl);
    if (cl.test || ld.errors > 0) {
        rc = ld.errors > 0 ? 1 : check_server(&s);
        if (rc == 0)
            puts("configuration OK");
    } else {
        atomic_init(&lg.level, (int)s.log_level);
        rc = serve(&cl, &s, &lg);
    }
    settings_free(&s);
    free(cl.overrides);
    return rc;
}
