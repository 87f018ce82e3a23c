#include "imap/hub.h"

#include <stdlib.h>
#include <string.h>

#define HUB_BUCKETS 1024
/* A session that lets this many changes pile up (a long FETCH while
 * another client stores flag after flag) gets one resync instead. */
#define HUB_QUEUE_MAX 4096

struct hub_watch {
    struct hub *hub;
    char *user, *mailbox;
    unsigned bucket;
    struct hub_watch *prev, *next; /* bucket chain, under hub->lock */
    struct loop *loop;
    struct loop_task task;
    atomic_int refs; /* the owner, and a posted task */
    pthread_mutex_t lock;
    bool posted;
    struct hub_change **q;
    size_t qlen, qcap;
    hub_notify_fn fn;
    void *owner; /* NULL once unwatched (loop thread only) */
};

/* Beyond this many mailboxes the oldest-created recent floors go: a
 * forgotten mailbox just has nothing recent at its next SELECT. */
#define HUB_RECENT_MAX 65536

struct recent {
    struct recent *next;  /* bucket chain */
    struct recent *older; /* creation order, for the cap */
    uint32_t floor;       /* first unclaimed UID */
    char key[];           /* user NUL mailbox NUL */
};

struct hub {
    pthread_mutex_t lock;
    struct hub_watch *buckets[HUB_BUCKETS];
    struct recent *recent[HUB_BUCKETS];
    struct recent *newest;
    size_t n_recent;
};

static void deliver(struct hub_watch *w, struct hub_change *c);
static void link_watch(struct hub *h, struct hub_watch *w);
static void unlink_watch(struct hub *h, struct hub_watch *w);

struct hub_change *hub_change_new(enum hub_kind kind, const uint32_t *uids,
                                  size_t count, imapsrv_flag_op how,
                                  unsigned flags, const char *const *keywords,
                                  size_t keyword_count)
{
    struct hub_change *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->kind = kind;
    c->how = how;
    c->flags = flags;
    if (count) {
        c->uids = malloc(count * sizeof(*uids));
        if (!c->uids)
            goto fail;
        memcpy(c->uids, uids, count * sizeof(*uids));
        c->count = count;
    }
    if (keyword_count) {
        c->keywords = calloc(keyword_count, sizeof(char *));
        if (!c->keywords)
            goto fail;
        c->keyword_count = keyword_count;
        for (size_t i = 0; i < keyword_count; i++)
            if (!(c->keywords[i] = strdup(keywords[i])))
                goto fail;
    }
    return c;
fail:
    hub_change_unref(c);
    return NULL;
}

void hub_change_unref(struct hub_change *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (size_t i = 0; i < c->keyword_count; i++)
        free(c->keywords[i]);
    free(c->keywords);
    free(c->uids);
    free(c);
}

static unsigned bucket_of(const char *user, const char *mailbox)
{
    unsigned h = 2166136261u;
    for (const char *s = mailbox; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    for (const char *s = user; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % HUB_BUCKETS;
}

struct hub *hub_new(void)
{
    struct hub *h = calloc(1, sizeof(*h));
    if (h)
        pthread_mutex_init(&h->lock, NULL);
    return h;
}

void hub_free(struct hub **hp)
{
    if (!hp || !*hp)
        return;
    /* Every session ended first, so no watch is left. */
    for (struct recent *r = (*hp)->newest, *o; r; r = o) {
        o = r->older;
        free(r);
    }
    pthread_mutex_destroy(&(*hp)->lock);
    free(*hp);
    *hp = NULL;
}

static void drop_queue(struct hub_watch *w)
{
    for (size_t i = 0; i < w->qlen; i++)
        hub_change_unref(w->q[i]);
    w->qlen = 0;
}

static void watch_unref(struct hub_watch *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    drop_queue(w);
    free(w->q);
    pthread_mutex_destroy(&w->lock);
    free(w->user);
    free(w->mailbox);
    free(w);
}

static void watch_task(struct loop *lp, struct loop_task *t)
{
    struct hub_watch *w =
        (struct hub_watch *)((char *)t - offsetof(struct hub_watch, task));
    pthread_mutex_lock(&w->lock);
    w->posted = false;
    pthread_mutex_unlock(&w->lock);
    if (w->owner)
        w->fn(w->owner);
    watch_unref(w);
}

struct hub_watch *hub_watch(struct hub *h, const char *user,
                            const char *mailbox, struct loop *lp,
                            hub_notify_fn fn, void *owner)
{
    struct hub_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->user = strdup(user);
    w->mailbox = strdup(mailbox);
    if (!w->user || !w->mailbox) {
        free(w->user);
        free(w->mailbox);
        free(w);
        return NULL;
    }
    w->hub = h;
    w->loop = lp;
    w->fn = fn;
    w->owner = owner;
    w->task.fn = watch_task;
    atomic_init(&w->refs, 1);
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_lock(&h->lock);
    link_watch(h, w);
    pthread_mutex_unlock(&h->lock);
    return w;
}

void hub_unwatch(struct hub_watch *w)
{
    if (!w)
        return;
    struct hub *h = w->hub;
    pthread_mutex_lock(&h->lock);
    unlink_watch(h, w);
    pthread_mutex_unlock(&h->lock);
    w->owner = NULL;
    pthread_mutex_lock(&w->lock);
    drop_queue(w);
    pthread_mutex_unlock(&w->lock);
    watch_unref(w);
}

/* Under w->lock.  A queue that grew too long becomes one resync: the
 * session then reads the list again, which covers every change. */
static void enqueue(struct hub_watch *w, struct hub_change *c)
{
    if (w->qlen >= HUB_QUEUE_MAX) {
        struct hub_change *r =
            hub_change_new(HUB_RESYNC, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0);
        if (!r)
            return; /* the old queue stays; this change is lost */
        drop_queue(w);
        w->q[w->qlen++] = r;
        return;
    }
    if (w->qlen == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 8;
        struct hub_change **q = realloc(w->q, cap * sizeof(*q));
        if (!q)
            return;
        w->q = q;
        w->qcap = cap;
    }
    atomic_fetch_add(&c->refs, 1);
    w->q[w->qlen++] = c;
}

void hub_publish(struct hub *h, const char *user, const char *mailbox,
                 struct hub_change *c, const struct hub_watch *except)
{
    if (!h || !c)
        return;
    pthread_mutex_lock(&h->lock);
    unsigned first = 0, last = HUB_BUCKETS - 1;
    if (user)
        first = last = bucket_of(user, mailbox);
    for (unsigned b = first; b <= last; b++) {
        for (struct hub_watch *w = h->buckets[b]; w; w = w->next) {
            if (w == except || strcmp(w->mailbox, mailbox) != 0 ||
                (user && strcmp(w->user, user) != 0))
                continue;
            deliver(w, c);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* Under h->lock: queue c on w and post its task once. */
static void deliver(struct hub_watch *w, struct hub_change *c)
{
    pthread_mutex_lock(&w->lock);
    enqueue(w, c);
    bool post = !w->posted;
    if (post) {
        w->posted = true;
        atomic_fetch_add(&w->refs, 1);
    }
    pthread_mutex_unlock(&w->lock);
    if (post)
        loop_post(w->loop, &w->task);
}

void hub_publish_as(struct hub *h, const struct hub_watch *from,
                    struct hub_change *c)
{
    pthread_mutex_lock(&h->lock);
    for (struct hub_watch *w = h->buckets[from->bucket]; w; w = w->next)
        if (w != from && strcmp(w->mailbox, from->mailbox) == 0 &&
            strcmp(w->user, from->user) == 0)
            deliver(w, c);
    pthread_mutex_unlock(&h->lock);
}

char *hub_watch_name(struct hub_watch *w)
{
    pthread_mutex_lock(&w->hub->lock);
    char *n = strdup(w->mailbox);
    pthread_mutex_unlock(&w->hub->lock);
    return n;
}

static void unlink_watch(struct hub *h, struct hub_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        h->buckets[w->bucket] = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void link_watch(struct hub *h, struct hub_watch *w)
{
    w->bucket = bucket_of(w->user, w->mailbox);
    w->prev = NULL;
    w->next = h->buckets[w->bucket];
    if (w->next)
        w->next->prev = w;
    h->buckets[w->bucket] = w;
}

void hub_rename(struct hub *h, const char *user, const char *from,
                const char *to)
{
    struct hub_change *c =
        hub_change_new(HUB_RENAMED, NULL, 0, IMAPSRV_FLAGS_SET, 0, NULL, 0);
    size_t fl = strlen(from), tl = strlen(to);
    struct hub_watch *moved = NULL;
    pthread_mutex_lock(&h->lock);
    for (unsigned b = 0; b < HUB_BUCKETS; b++) {
        for (struct hub_watch *w = h->buckets[b], *next; w; w = next) {
            next = w->next;
            if (strcmp(w->user, user) != 0 ||
                strncmp(w->mailbox, from, fl) != 0 ||
                (w->mailbox[fl] != '\0' && w->mailbox[fl] != '/'))
                continue;
            size_t rest = strlen(w->mailbox + fl);
            char *name = malloc(tl + rest + 1);
            if (!name)
                continue; /* it keeps the old name: a resync will tell */
            memcpy(name, to, tl);
            memcpy(name + tl, w->mailbox + fl, rest + 1);
            free(w->mailbox);
            w->mailbox = name;
            unlink_watch(h, w);
            w->next = moved; /* relinked below, not seen again here */
            moved = w;
        }
    }
    for (struct hub_watch *w = moved, *next; w; w = next) {
        next = w->next;
        link_watch(h, w);
        if (c)
            deliver(w, c);
    }
    pthread_mutex_unlock(&h->lock);
    hub_change_unref(c);
}

size_t hub_take(struct hub_watch *w, struct hub_change **out, size_t max)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->qlen < max ? w->qlen : max;
    if (n == 0) {
        pthread_mutex_unlock(&w->lock);
        return 0;
    }
    memcpy(out, w->q, n * sizeof(*out));
    memmove(w->q, w->q + n, (w->qlen - n) * sizeof(*w->q));
    w->qlen -= n;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* ---- \Recent ---- */

static bool recent_is(const struct recent *r, const char *user,
                      const char *mailbox)
{
    size_t ul = strlen(user);
    return strcmp(r->key, user) == 0 && strcmp(r->key + ul + 1, mailbox) == 0;
}

/* Under h->lock.  NULL when absent (and create is false) or no memory. */
static struct recent *recent_find(struct hub *h, const char *user,
                                  const char *mailbox, bool create,
                                  uint32_t floor)
{
    unsigned b = bucket_of(user, mailbox);
    for (struct recent *r = h->recent[b]; r; r = r->next)
        if (recent_is(r, user, mailbox))
            return r;
    if (!create)
        return NULL;
    if (h->n_recent >= HUB_RECENT_MAX) { /* drop the oldest */
        struct recent **pp = &h->newest;
        while ((*pp)->older)
            pp = &(*pp)->older;
        struct recent *old = *pp;
        *pp = NULL;
        const char *ou = old->key, *om = old->key + strlen(old->key) + 1;
        struct recent **bp = &h->recent[bucket_of(ou, om)];
        while (*bp != old)
            bp = &(*bp)->next;
        *bp = old->next;
        free(old);
        h->n_recent--;
    }
    size_t ul = strlen(user), ml = strlen(mailbox);
    struct recent *r = malloc(sizeof(*r) + ul + ml + 2);
    if (!r)
        return NULL;
    memcpy(r->key, user, ul + 1);
    memcpy(r->key + ul + 1, mailbox, ml + 1);
    r->floor = floor;
    r->next = h->recent[b];
    h->recent[b] = r;
    r->older = h->newest;
    h->newest = r;
    h->n_recent++;
    return r;
}

uint32_t hub_recent_claim(struct hub *h, const char *user, const char *mailbox,
                          uint32_t upto, bool take)
{
    pthread_mutex_lock(&h->lock);
    struct recent *r = recent_find(h, user, mailbox, true, upto);
    uint32_t from = r ? r->floor : upto;
    if (r && take && upto > r->floor)
        r->floor = upto;
    pthread_mutex_unlock(&h->lock);
    return from;
}

void hub_recent_added(struct hub *h, const char *user, const char *mailbox,
                      uint32_t first_uid)
{
    pthread_mutex_lock(&h->lock);
    recent_find(h, user, mailbox, true, first_uid);
    pthread_mutex_unlock(&h->lock);
}

uint32_t hub_recent_floor(struct hub *h, const char *user, const char *mailbox)
{
    pthread_mutex_lock(&h->lock);
    struct recent *r = recent_find(h, user, mailbox, false, 0);
    uint32_t f = r ? r->floor : 0;
    pthread_mutex_unlock(&h->lock);
    return f;
}
