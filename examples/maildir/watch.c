/* maildir: the inotify watcher that reports outside changes to the
 * server, and the cache of the library's parsed messages. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "maildir_int.h"

/* ------------------------------------------------------------------ */
/* The watcher                                                         */

#define WATCH_MASK                                                             \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define SETTLE_MS 30   /* events that follow within this come together */
#define SETTLE_MAX 250 /* but no report waits longer than this */

/* One (watch, user, mailbox) with the handles that asked for it: the
 * kernel gives one watch per directory, several handles share it. */
struct reg {
    int wd;
    bool dead; /* the kernel dropped the watch (directory removed) */
    unsigned refs;
    char *user, *mbox;
    struct reg *next;
};

struct watcher {
    int ifd, efd;
    pthread_t thread;
    pthread_mutex_t lock; /* regs */
    struct reg *regs;
    pthread_mutex_t srv_lock; /* held while reporting: set_server waits */
    imapsrv *srv;
};

struct pending {
    char **user, **mbox;
    size_t n, cap;
    bool all;
};

static void pending_add(struct pending *p, const char *user, const char *mbox)
{
    char **u, **m;

    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->user[i], user) == 0 && strcmp(p->mbox[i], mbox) == 0)
            return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;

        if (!(u = realloc(p->user, cap * sizeof *u)))
            return;
        p->user = u;
        if (!(m = realloc(p->mbox, cap * sizeof *m)))
            return;
        p->mbox = m;
        p->cap = cap;
    }
    if (!(p->user[p->n] = strdup(user)))
        return;
    if (!(p->mbox[p->n] = strdup(mbox))) {
        free(p->user[p->n]);
        return;
    }
    p->n++;
}

/* Read what events are there; the mailboxes they concern into `p`. */
static void drain(struct watcher *w, struct pending *p)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);

        if (n <= 0)
            return;
        pthread_mutex_lock(&w->lock);
        for (char *q = buf; q < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)q;

            q += sizeof *ev + ev->len;
            for (struct reg *r = w->regs; r; r = r->next) {
                if (ev->mask & IN_Q_OVERFLOW) {
                    pending_add(p, r->user, r->mbox); /* lost events */
                    continue;
                }
                if (r->wd != ev->wd || r->dead)
                    continue;
                if (ev->mask & IN_IGNORED)
                    r->dead = true;
                else
                    pending_add(p, r->user, r->mbox);
            }
        }
        pthread_mutex_unlock(&w->lock);
    }
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void *watch_main(void *arg)
{
    struct watcher *w = arg;

    for (;;) {
        struct pollfd fds[2] = {{w->ifd, POLLIN, 0}, {w->efd, POLLIN, 0}};
        struct pending p = {0};
        long start;

        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        /* An MDA's delivery, a flag change of many messages: many events
         * in a burst, one report each mailbox. */
        start = now_ms();
        do {
            drain(w, &p);
            fds[1].revents = 0;
        } while (now_ms() - start < SETTLE_MAX && poll(fds, 2, SETTLE_MS) > 0 &&
                 !fds[1].revents);
        pthread_mutex_lock(&w->srv_lock);
        for (size_t i = 0; i < p.n; i++) {
            if (w->srv)
                imapsrv_notify_mailbox(w->srv, p.user[i], p.mbox[i]);
            free(p.user[i]);
            free(p.mbox[i]);
        }
        pthread_mutex_unlock(&w->srv_lock);
        free(p.user);
        free(p.mbox);
        if (fds[1].revents)
            break;
    }
    return NULL;
}

struct watcher *watch_new(void)
{
    struct watcher *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->efd = eventfd(0, EFD_CLOEXEC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->srv_lock, NULL);
    if (w->ifd < 0 || w->efd < 0 ||
        pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        if (w->ifd >= 0)
            close(w->ifd);
        if (w->efd >= 0)
            close(w->efd);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->srv_lock);
        free(w);
        return NULL;
    }
    return w;
}

void watch_free(struct watcher *w)
{
    uint64_t one = 1;

    if (!w)
        return;
    if (write(w->efd, &one, sizeof one) != sizeof one)
        perror("maildir: eventfd");
    pthread_join(w->thread, NULL);
    while (w->regs) {
        struct reg *r = w->regs;

        w->regs = r->next;
        free(r->user);
        free(r->mbox);
        free(r);
    }
    close(w->ifd);
    close(w->efd);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->srv_lock);
    free(w);
}

void watch_set_server(struct watcher *w, imapsrv *srv)
{
    pthread_mutex_lock(&w->srv_lock);
    w->srv = srv;
    pthread_mutex_unlock(&w->srv_lock);
}

void watch_add(struct watcher *w, struct box *b)
{
    static const char *const subs[2] = {"new", "cur"};

    for (int i = 0; i < 2; i++) {
        /* Through the descriptor: the watch is on the directory the box
         * has, whatever its name is now. */
        char path[64];
        struct reg *r;
        int wd;

        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", b->dirfd, subs[i]);
        if ((wd = inotify_add_watch(w->ifd, path, WATCH_MASK)) < 0) {
            /* No /proc: by the name the mailbox was opened with. */
            char *dir = NULL, *full = NULL;

            if (md_encode(b->name, &dir) == IMAPSRV_OK &&
                (full = md_printf("%s/%s/%s", b->user->root, dir, subs[i])))
                wd = inotify_add_watch(w->ifd, full, WATCH_MASK);
            free(dir);
            free(full);
            if (wd < 0)
                continue;
        }
        pthread_mutex_lock(&w->lock);
        for (r = w->regs; r; r = r->next)
            if (r->wd == wd && !r->dead &&
                strcmp(r->user, b->user->name) == 0 &&
                strcmp(r->mbox, b->name) == 0)
                break;
        if (!r && (r = calloc(1, sizeof *r))) {
            r->wd = wd;
            r->user = strdup(b->user->name);
            r->mbox = strdup(b->name);
            if (!r->user || !r->mbox) {
                free(r->user);
                free(r->mbox);
                free(r);
                r = NULL;
            } else {
                r->next = w->regs;
                w->regs = r;
            }
        }
        if (r) {
            r->refs++;
            b->wd[i] = wd;
        }
        pthread_mutex_unlock(&w->lock);
    }
}

void watch_remove(struct watcher *w, struct box *b)
{
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < 2; i++) {
        struct reg **pp = &w->regs, *r;
        bool dead = false, used = false;

        if (b->wd[i] < 0)
            continue;
        while ((r = *pp)) {
            if (r->wd == b->wd[i] && strcmp(r->user, b->user->name) == 0 &&
                strcmp(r->mbox, b->name) == 0 && --r->refs == 0) {
                dead = r->dead;
                *pp = r->next;
                free(r->user);
                free(r->mbox);
                free(r);
                continue;
            }
            pp = &r->next;
        }
        for (r = w->regs; r; r = r->next)
            used |= r->wd == b->wd[i];
        /* The kernel ends a watch whose directory is removed
         * (IN_IGNORED); only a live one is ours to remove. */
        if (!used && !dead)
            inotify_rm_watch(w->ifd, b->wd[i]);
        b->wd[i] = -1;
    }
    pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------------ */
/* The parsed-message cache                                            */

/* Keyed by the user's root and the message's base name, which Maildir
 * never reuses and which stays through flag renames and mailbox renames:
 * every session of the process shares it.  Least recently used entries
 * go first once the bytes exceed the limit. */
#define BUCKETS 4096

struct centry {
    uint32_t h;
    char *key;
    void *blob;
    size_t len;
    struct centry *hnext, *older, *newer;
};

struct blob_cache {
    pthread_mutex_t lock;
    struct centry *bucket[BUCKETS];
    struct centry *oldest, *newest;
    size_t bytes, limit;
};

struct blob_cache *cache_new(size_t limit)
{
    struct blob_cache *c = calloc(1, sizeof *c);

    if (c) {
        pthread_mutex_init(&c->lock, NULL);
        c->limit = limit;
    }
    return c;
}

static void centry_unlink(struct blob_cache *c, struct centry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    e->older = e->newer = NULL;
}

static void centry_push(struct blob_cache *c, struct centry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
}

static uint32_t hash(const char *root, const char *base)
{
    uint32_t h = 2166136261u;

    for (const char *s = root; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    h = (h ^ '\n') * 16777619u;
    for (const char *s = base; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static bool key_eq(const char *key, const char *root, const char *base)
{
    size_t rl = strlen(root);

    return strncmp(key, root, rl) == 0 && key[rl] == '\n' &&
           strcmp(key + rl + 1, base) == 0;
}

static void centry_remove(struct blob_cache *c, struct centry *e)
{
    struct centry **pp = &c->bucket[e->h];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    centry_unlink(c, e);
    c->bytes -= e->len;
    free(e->key);
    free(e->blob);
    free(e);
}

static struct centry *cache_find(struct blob_cache *c, uint32_t h,
                                 const char *root, const char *base)
{
    for (struct centry *e = c->bucket[h]; e; e = e->hnext)
        if (key_eq(e->key, root, base))
            return e;
    return NULL;
}

void cache_put(struct blob_cache *c, const char *root, const char *base,
               const void *blob, size_t len)
{
    uint32_t h = hash(root, base);
    struct centry *e, *old;

    if (len > c->limit / 16)
        return; /* one huge message would push out everything else */
    if (!(e = calloc(1, sizeof *e)) ||
        !(e->key = md_printf("%s\n%s", root, base)) ||
        !(e->blob = malloc(len ? len : 1))) {
        if (e)
            free(e->key);
        free(e);
        return;
    }
    memcpy(e->blob, blob, len);
    e->len = len;
    e->h = h;
    pthread_mutex_lock(&c->lock);
    if ((old = cache_find(c, h, root, base)))
        centry_remove(c, old);
    e->hnext = c->bucket[h];
    c->bucket[h] = e;
    centry_push(c, e);
    c->bytes += len;
    while (c->bytes > c->limit && c->oldest)
        centry_remove(c, c->oldest);
    pthread_mutex_unlock(&c->lock);
}

size_t cache_get(struct blob_cache *c, const char *root, const char *base,
                 void *buf, size_t cap)
{
    uint32_t h = hash(root, base);
    size_t len = 0;

    struct centry *e;

    pthread_mutex_lock(&c->lock);
    if ((e = cache_find(c, h, root, base))) {
        len = e->len;
        memcpy(buf, e->blob, len < cap ? len : cap);
        centry_unlink(c, e); /* now the most recently used */
        centry_push(c, e);
    }
    pthread_mutex_unlock(&c->lock);
    return len;
}

void cache_free(struct blob_cache *c)
{
    if (!c)
        return;
    while (c->oldest) {
        struct centry *e = c->oldest;

        centry_unlink(c, e);
        free(e->key);
        free(e->blob);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}
