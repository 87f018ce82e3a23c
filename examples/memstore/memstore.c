/* memstore: an in-memory store behind imapsrv_store_hooks (see memstore.h).
 *
 * One mutex guards the whole store: every hook is short and never blocks on
 * anything else, so finer locking would only add ways to get it wrong.
 * Users are never freed before the store, so the user pointer handed to the
 * library stays valid; mailboxes are reference-counted so that handles
 * survive a DELETE or RENAME by another session. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "memstore.h"

#define SYSTEM_FLAGS                                                           \
    (IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_ANSWERED | IMAPSRV_FLAG_FLAGGED |        \
     IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_DRAFT)
#define SPECIAL_USE                                                            \
    (IMAPSRV_MBOX_ALL | IMAPSRV_MBOX_ARCHIVE | IMAPSRV_MBOX_DRAFTS |           \
     IMAPSRV_MBOX_FLAGGED | IMAPSRV_MBOX_JUNK | IMAPSRV_MBOX_SENT |            \
     IMAPSRV_MBOX_TRASH)

struct msg {
    uint32_t uid;
    unsigned flags; /* SYSTEM_FLAGS only: \Recent is the session's */
    char **kw;
    size_t nkw;
    int64_t date;
    int tz;
    uint64_t modseq;
    char *data;
    size_t len;
    char *cache; /* the library's parsed form (cache_put) */
    size_t cache_len;
};

struct box {
    char *name;
    unsigned attrs; /* IMAPSRV_MBOX_NOSELECT and special uses */
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint64_t modseq;  /* highest in the mailbox */
    struct msg *msgs; /* ascending UIDs */
    size_t count, cap;
    unsigned refs; /* the user's list, open handles, pending appends */
    bool gone;     /* out of the list: handles answer NONEXISTENT */
};

struct user {
    char *name;
    struct box **boxes; /* INBOX first, then by name */
    size_t nbox;
    char **subs;
    size_t nsubs;
};

struct memstore {
    pthread_mutex_t lock;
    struct user **users;
    size_t nusers;
    uint32_t last_uidvalidity;
};

struct handle {
    struct user *user;
    struct box *box;
    bool readonly;
};

struct append {
    struct box *box;
    unsigned flags;
    char **kw;
    size_t nkw;
    int64_t date;
    int tz;
    size_t size; /* announced; exactly this many bytes must arrive */
    char *buf;
    size_t len, cap;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* Room for `need` elements in a doubling array; NULL (arr untouched) on
 * failure. */
static void *reserve(void *arr, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 8;
    void *p;

    if (need <= *cap)
        return arr;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / size)
        return NULL;
    p = realloc(arr, n * size);
    if (p)
        *cap = n;
    return p;
}

static void kw_free(char **kw, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(kw[i]);
    free(kw);
}

/* Keywords compare case-insensitively, like every IMAP flag. */
static bool kw_has(char *const *kw, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(kw[i], k) == 0)
            return true;
    return false;
}

/* Add `k` unless present; *added_r tells whether the set changed. */
static imapsrv_status kw_add(char ***kw, size_t *n, const char *k,
                             bool *added_r)
{
    char **p;
    char *dup;

    *added_r = false;
    if (kw_has(*kw, *n, k))
        return IMAPSRV_OK;
    dup = strdup(k);
    p = dup ? realloc(*kw, (*n + 1) * sizeof *p) : NULL;
    if (!p) {
        free(dup);
        return IMAPSRV_E_NOMEM;
    }
    p[(*n)++] = dup;
    *kw = p;
    *added_r = true;
    return IMAPSRV_OK;
}

static bool kw_remove(char **kw, size_t *n, const char *k)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp(kw[i], k) == 0) {
            free(kw[i]);
            kw[i] = kw[--*n];
            return true;
        }
    }
    return false;
}

/* A deduplicated copy of a keyword list; empty or NULL names are refused
 * (the library validates atoms, this keeps the store safe on its own). */
static imapsrv_status kw_copy(char ***out, size_t *nout, const char *const *kw,
                              size_t n)
{
    char **set = NULL;
    size_t count = 0;
    bool added;

    for (size_t i = 0; i < n; i++) {
        imapsrv_status st = IMAPSRV_E_INVALID;

        if (kw[i] && *kw[i])
            st = kw_add(&set, &count, kw[i], &added);
        if (st != IMAPSRV_OK) {
            kw_free(set, count);
            return st;
        }
    }
    *out = set;
    *nout = count;
    return IMAPSRV_OK;
}

static bool kw_same(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!kw_has(b, nb, a[i]))
            return false;
    return true;
}

static void msg_free(struct msg *m)
{
    kw_free(m->kw, m->nkw);
    free(m->data);
    free(m->cache);
}

static imapsrv_status msg_clone(struct msg *dst, const struct msg *src)
{
    *dst = *src;
    dst->kw = NULL;
    dst->cache = NULL; /* a copy parses again: caches are cheap to lose */
    dst->cache_len = 0;
    dst->data = malloc(src->len ? src->len : 1);
    if (!dst->data)
        return IMAPSRV_E_NOMEM;
    memcpy(dst->data, src->data, src->len);
    if (kw_copy(&dst->kw, &dst->nkw, (const char *const *)src->kw, src->nkw) !=
        IMAPSRV_OK) {
        free(dst->data);
        return IMAPSRV_E_NOMEM;
    }
    return IMAPSRV_OK;
}

/* Index of the first message with a UID >= uid (binary search). */
static size_t msg_lower(const struct box *b, uint32_t uid)
{
    size_t lo = 0, hi = b->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (b->msgs[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct msg *msg_find(struct box *b, uint32_t uid)
{
    size_t i = msg_lower(b, uid);

    return i < b->count && b->msgs[i].uid == uid ? &b->msgs[i] : NULL;
}

/* ------------------------------------------------------------------ */
/* Mailboxes and users (callers hold the lock)                         */

/* Strictly increasing and seeded by the clock: a mailbox recreated under
 * an old name, even after a restart, never repeats a UIDVALIDITY. */
static uint32_t next_uidvalidity(memstore *ms)
{
    uint32_t now = (uint32_t)time(NULL);

    if (now > ms->last_uidvalidity)
        ms->last_uidvalidity = now;
    else if (++ms->last_uidvalidity == 0)
        ms->last_uidvalidity = 1;
    return ms->last_uidvalidity;
}

static struct box *box_new(memstore *ms, const char *name, unsigned attrs)
{
    struct box *b = calloc(1, sizeof *b);

    if (!b || !(b->name = strdup(name))) {
        free(b);
        return NULL;
    }
    b->attrs = attrs;
    b->uidvalidity = next_uidvalidity(ms);
    b->uidnext = 1;
    b->modseq = 1;
    b->refs = 1;
    return b;
}

static void box_unref(struct box *b)
{
    if (--b->refs > 0)
        return;
    for (size_t i = 0; i < b->count; i++)
        msg_free(&b->msgs[i]);
    free(b->msgs);
    free(b->name);
    free(b);
}

static int box_cmp(const void *a, const void *b)
{
    const struct box *x = *(struct box *const *)a;
    const struct box *y = *(struct box *const *)b;
    bool xi = strcmp(x->name, "INBOX") == 0;
    bool yi = strcmp(y->name, "INBOX") == 0;

    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x->name, y->name);
}

static size_t box_index(const struct user *u, const char *name)
{
    size_t i = 0;

    while (i < u->nbox && strcmp(u->boxes[i]->name, name) != 0)
        i++;
    return i;
}

static struct box *box_find(const struct user *u, const char *name)
{
    size_t i = box_index(u, name);

    return i < u->nbox ? u->boxes[i] : NULL;
}

/* Is `name` `parent` itself or below it? */
static bool in_subtree(const char *name, const char *parent)
{
    size_t len = strlen(parent);

    return strncmp(name, parent, len) == 0 &&
           (name[len] == '\0' || name[len] == '/');
}

static bool has_children(const struct user *u, const char *name)
{
    for (size_t i = 0; i < u->nbox; i++)
        if (in_subtree(u->boxes[i]->name, name) &&
            strcmp(u->boxes[i]->name, name) != 0)
            return true;
    return false;
}

static imapsrv_status box_insert(struct user *u, struct box *b)
{
    struct box **p = realloc(u->boxes, (u->nbox + 1) * sizeof *p);

    if (!p)
        return IMAPSRV_E_NOMEM;
    p[u->nbox++] = b;
    u->boxes = p;
    qsort(u->boxes, u->nbox, sizeof *u->boxes, box_cmp);
    return IMAPSRV_OK;
}

static imapsrv_status box_add(memstore *ms, struct user *u, const char *name,
                              unsigned attrs)
{
    struct box *b = box_new(ms, name, attrs);

    if (!b)
        return IMAPSRV_E_NOMEM;
    if (box_insert(u, b) != IMAPSRV_OK) {
        box_unref(b);
        return IMAPSRV_E_NOMEM;
    }
    return IMAPSRV_OK;
}

/* RFC 9051 CREATE/RENAME: superior names that are missing are created.
 * `name` is cut in place at each '/' and restored. */
static imapsrv_status create_parents(memstore *ms, struct user *u, char *name)
{
    for (char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
        imapsrv_status st = IMAPSRV_OK;

        *p = '\0';
        if (!box_find(u, name))
            st = box_add(ms, u, name, 0);
        *p = '/';
        if (st != IMAPSRV_OK)
            return st;
    }
    return IMAPSRV_OK;
}

static struct user *user_find(const memstore *ms, const char *name)
{
    for (size_t i = 0; i < ms->nusers; i++)
        if (strcmp(ms->users[i]->name, name) == 0)
            return ms->users[i];
    return NULL;
}

static struct user *user_add(memstore *ms, const char *name)
{
    struct user *u = calloc(1, sizeof *u);
    struct user **p = realloc(ms->users, (ms->nusers + 1) * sizeof *p);

    if (p)
        ms->users = p;
    if (!u || !p || !(u->name = strdup(name)) ||
        box_add(ms, u, "INBOX", 0) != IMAPSRV_OK) {
        if (u)
            free(u->name);
        free(u);
        return NULL;
    }
    ms->users[ms->nusers++] = u;
    return u;
}

static void user_free(struct user *u)
{
    for (size_t i = 0; i < u->nbox; i++) {
        u->boxes[i]->gone = true;
        box_unref(u->boxes[i]);
    }
    free(u->boxes);
    kw_free(u->subs, u->nsubs); /* same shape: an array of strings */
    free(u->name);
    free(u);
}

/* The store's spelling of a client's name: "INBOX" in any case, also as
 * the first component, becomes "INBOX"; one trailing '/' (a client's hint
 * that it means to create children) is dropped.  Empty names and
 * components, control characters and LIST wildcards are refused with
 * `bad`, which the caller picks to suit the command. */
static imapsrv_status canon(const char *name, imapsrv_status bad, char **out)
{
    size_t len = name ? strlen(name) : 0;
    char *s;

    if (len > 0 && name[len - 1] == '/')
        len--;
    if (len == 0 || name[0] == '/' || name[len - 1] == '/')
        return bad;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c == 0x7f || c == '*' || c == '%' ||
            (c == '/' && name[i + 1] == '/'))
            return bad;
    }
    if (!(s = strndup(name, len)))
        return IMAPSRV_E_NOMEM;
    if (strncasecmp(s, "INBOX", 5) == 0 && (s[5] == '\0' || s[5] == '/'))
        memcpy(s, "INBOX", 5);
    *out = s;
    return IMAPSRV_OK;
}

static imapsrv_status do_create(memstore *ms, struct user *u, char *name,
                                unsigned special_use)
{
    struct box *b = box_find(u, name);
    imapsrv_status st;

    special_use &= SPECIAL_USE;
    if (b) {
        if (!(b->attrs & IMAPSRV_MBOX_NOSELECT))
            return IMAPSRV_E_ALREADYEXISTS;
        /* A \Noselect placeholder becomes a real, empty mailbox. */
        b->attrs = special_use;
        b->uidvalidity = next_uidvalidity(ms);
        return IMAPSRV_OK;
    }
    st = create_parents(ms, u, name);
    return st != IMAPSRV_OK ? st : box_add(ms, u, name, special_use);
}

static imapsrv_status do_delete(memstore *ms, struct user *u, const char *name)
{
    size_t i = box_index(u, name);
    struct box *b;

    if (strcmp(name, "INBOX") == 0)
        return IMAPSRV_E_CANNOT;
    if (i == u->nbox)
        return IMAPSRV_E_NONEXISTENT;
    b = u->boxes[i];
    if (has_children(u, name)) {
        /* RFC 9051 6.3.4: the name stays as \Noselect for its children;
         * a fresh object, so old handles see their mailbox gone. */
        struct box *ph;

        if (b->attrs & IMAPSRV_MBOX_NOSELECT)
            return IMAPSRV_E_CANNOT;
        if (!(ph = box_new(ms, name, IMAPSRV_MBOX_NOSELECT)))
            return IMAPSRV_E_NOMEM;
        u->boxes[i] = ph;
    } else {
        memmove(&u->boxes[i], &u->boxes[i + 1],
                (u->nbox - i - 1) * sizeof *u->boxes);
        u->nbox--;
    }
    b->gone = true;
    box_unref(b);
    return IMAPSRV_OK;
}

/* RFC 9051 6.3.5: renaming INBOX moves its messages to a new mailbox and
 * leaves INBOX empty; its children are not moved. */
static imapsrv_status rename_inbox(memstore *ms, struct user *u,
                                   struct box *inbox, char *to)
{
    struct box *nb;
    imapsrv_status st = create_parents(ms, u, to);

    if (st != IMAPSRV_OK)
        return st;
    if (!(nb = box_new(ms, to, 0)))
        return IMAPSRV_E_NOMEM;
    if (box_insert(u, nb) != IMAPSRV_OK) {
        box_unref(nb);
        return IMAPSRV_E_NOMEM;
    }
    nb->msgs = inbox->msgs;
    nb->count = inbox->count;
    nb->cap = inbox->cap;
    nb->uidnext = inbox->uidnext;
    nb->modseq = inbox->modseq;
    inbox->msgs = NULL;
    inbox->count = inbox->cap = 0;
    inbox->modseq++;
    return IMAPSRV_OK;
}

static imapsrv_status do_rename(memstore *ms, struct user *u, const char *from,
                                char *to)
{
    struct box *src = box_find(u, from);
    size_t flen = strlen(from), n = 0;
    struct {
        struct box *box;
        char *name;
    } * mv;
    imapsrv_status st = IMAPSRV_OK;

    if (!src)
        return IMAPSRV_E_NONEXISTENT;
    if (box_find(u, to))
        return IMAPSRV_E_ALREADYEXISTS;
    if (strcmp(from, "INBOX") == 0) /* "INBOX/old" is fine: no subtree */
        return rename_inbox(ms, u, src, to);
    if (in_subtree(to, from))
        return IMAPSRV_E_CANNOT; /* into itself */

    /* Compute every new name first so that a failure changes nothing;
     * boxes, not indexes, since creating parents reorders the array. */
    if (!(mv = calloc(u->nbox, sizeof *mv)))
        return IMAPSRV_E_NOMEM;
    for (size_t i = 0; i < u->nbox && st == IMAPSRV_OK; i++) {
        const char *old = u->boxes[i]->name;

        if (!in_subtree(old, from))
            continue;
        mv[n].box = u->boxes[i];
        if (!(mv[n].name = malloc(strlen(to) + strlen(old + flen) + 1))) {
            st = IMAPSRV_E_NOMEM;
            break;
        }
        strcpy(mv[n].name, to);
        strcat(mv[n].name, old + flen);
        if (box_find(u, mv[n++].name))
            st = IMAPSRV_E_ALREADYEXISTS;
    }
    if (st == IMAPSRV_OK)
        st = create_parents(ms, u, to);
    for (size_t i = 0; i < n; i++) {
        if (st == IMAPSRV_OK) {
            free(mv[i].box->name);
            mv[i].box->name = mv[i].name;
        } else {
            free(mv[i].name);
        }
    }
    free(mv);
    if (st == IMAPSRV_OK)
        qsort(u->boxes, u->nbox, sizeof *u->boxes, box_cmp);
    return st;
}

static bool is_subscribed(const struct user *u, const char *name)
{
    for (size_t i = 0; i < u->nsubs; i++)
        if (strcmp(u->subs[i], name) == 0)
            return true;
    return false;
}

/* Subscriptions are names, independent of existence (RFC 9051 6.3.7). */
static imapsrv_status do_subscribe(struct user *u, const char *name, bool on)
{
    char **p;
    char *dup;

    for (size_t i = 0; i < u->nsubs; i++) {
        if (strcmp(u->subs[i], name) == 0) {
            if (!on) {
                free(u->subs[i]);
                u->subs[i] = u->subs[--u->nsubs];
            }
            return IMAPSRV_OK;
        }
    }
    if (!on)
        return IMAPSRV_OK;
    dup = strdup(name);
    p = dup ? realloc(u->subs, (u->nsubs + 1) * sizeof *p) : NULL;
    if (!p) {
        free(dup);
        return IMAPSRV_E_NOMEM;
    }
    p[u->nsubs++] = dup;
    u->subs = p;
    return IMAPSRV_OK;
}
static void box_status(const struct box *b, imapsrv_mailbox_status *st)
{
    memset(st, 0, sizeof *st);
    st->uidvalidity = b->uidvalidity;
    st->uidnext = b->uidnext;
    st->messages = (uint32_t)b->count;
    st->highestmodseq = b->modseq;
    for (size_t i = 0; i < b->count; i++) {
        if (!(b->msgs[i].flags & IMAPSRV_FLAG_SEEN))
            st->unseen++;
        if (b->msgs[i].flags & IMAPSRV_FLAG_DELETED)
            st->deleted++;
        st->size += b->msgs[i].len;
    }
}

/* Give `m` the next UID and append it (it owns its buffers from now on,
 * on success only). */
static imapsrv_status box_push(struct box *b, struct msg *m)
{
    struct msg *p;

    if (b->uidnext == UINT32_MAX)
        return IMAPSRV_E_LIMIT; /* UIDs exhausted: RFC 9051 2.3.1.1 */
    p = reserve(b->msgs, &b->cap, b->count + 1, sizeof *p);
    if (!p)
        return IMAPSRV_E_NOMEM;
    b->msgs = p;
    m->uid = b->uidnext++;
    m->modseq = ++b->modseq;
    m->flags &= SYSTEM_FLAGS;
    b->msgs[b->count++] = *m;
    return IMAPSRV_OK;
}

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* A sorted copy of a UID list, so that expunge can look UIDs up in any
 * order the caller gave them. */
static imapsrv_status sorted_uids(const uint32_t *uids, size_t count,
                                  uint32_t **out)
{
    *out = malloc(count ? count * sizeof **out : 1);
    if (!*out)
        return IMAPSRV_E_NOMEM;
    if (count > 0) /* uids may be NULL then */
        memcpy(*out, uids, count * sizeof **out);
    qsort(*out, count, sizeof **out, uid_cmp);
    return IMAPSRV_OK;
}

/* Remove the messages whose UIDs are in `sorted` (absent ones are fine). */
static void box_expunge(struct box *b, const uint32_t *sorted, size_t count)
{
    size_t out = 0;

    for (size_t i = 0; i < b->count; i++) {
        if (bsearch(&b->msgs[i].uid, sorted, count, sizeof *sorted, uid_cmp))
            msg_free(&b->msgs[i]);
        else
            b->msgs[out++] = b->msgs[i];
    }
    if (out != b->count) {
        b->count = out;
        b->modseq++;
    }
}

static imapsrv_status msg_set_flags(struct box *b, struct msg *m,
                                    imapsrv_flag_op how, unsigned flags,
                                    const char *const *kw, size_t n)
{
    unsigned old = m->flags;
    bool changed = false, hit;
    imapsrv_status st = IMAPSRV_OK;
    char **set;
    size_t count;

    flags &= SYSTEM_FLAGS;
    switch (how) {
    case IMAPSRV_FLAGS_SET:
        if ((st = kw_copy(&set, &count, kw, n)) != IMAPSRV_OK)
            return st;
        changed = !kw_same(set, count, m->kw, m->nkw);
        kw_free(m->kw, m->nkw);
        m->kw = set;
        m->nkw = count;
        m->flags = flags;
        break;
    case IMAPSRV_FLAGS_ADD:
        m->flags |= flags;
        for (size_t i = 0; i < n && st == IMAPSRV_OK; i++) {
            st = kw_add(&m->kw, &m->nkw, kw[i], &hit);
            changed |= hit;
        }
        break;
    case IMAPSRV_FLAGS_REMOVE:
        m->flags &= ~flags;
        for (size_t i = 0; i < n; i++)
            changed |= kw_remove(m->kw, &m->nkw, kw[i]);
        break;
    default: return IMAPSRV_E_INVALID;
    }
    if (changed || m->flags != old)
        m->modseq = ++b->modseq;
    return st;
}

/* COPY and MOVE: all or nothing.  Every source message must still exist
 * (else EXPUNGEISSUED, RFC 9051 6.4.7), and every allocation happens before
 * the destination changes. */
static imapsrv_status do_copy(struct handle *h, const uint32_t *uids,
                              size_t count, const char *dest,
                              imapsrv_copy_result *res, bool move)
{
    struct box *src = h->box, *dst = box_find(h->user, dest);
    struct msg *copies, *p;
    uint32_t *sorted = NULL;
    size_t done = 0;
    imapsrv_status st = IMAPSRV_OK;

    if (src->gone || !dst || (dst->attrs & IMAPSRV_MBOX_NOSELECT))
        return IMAPSRV_E_NONEXISTENT;
    if (move && h->readonly)
        return IMAPSRV_E_NOPERM;
    if (!res || res->count < count || (count > 0 && !res->uids))
        return IMAPSRV_E_INVALID;
    if (count > UINT32_MAX - dst->uidnext)
        return IMAPSRV_E_LIMIT;
    for (size_t i = 0; i < count; i++)
        if (!msg_find(src, uids[i]))
            return IMAPSRV_E_EXPUNGED;
    res->uidvalidity = dst->uidvalidity;
    if (count == 0)
        return IMAPSRV_OK;
    if (!(copies = calloc(count, sizeof *copies)))
        return IMAPSRV_E_NOMEM;
    while (done < count && st == IMAPSRV_OK)
        if ((st = msg_clone(&copies[done], msg_find(src, uids[done]))) ==
            IMAPSRV_OK)
            done++;
    if (st == IMAPSRV_OK && move)
        st = sorted_uids(uids, count, &sorted);
    p = st == IMAPSRV_OK
            ? reserve(dst->msgs, &dst->cap, dst->count + count, sizeof *p)
            : NULL;
    if (!p) {
        while (done > 0)
            msg_free(&copies[--done]);
        free(copies);
        free(sorted);
        return IMAPSRV_E_NOMEM;
    }
    dst->msgs = p;
    for (size_t i = 0; i < count; i++) {
        box_push(dst, &copies[i]); /* cannot fail: room and UIDs checked */
        res->uids[i] = copies[i].uid;
    }
    res->count = count;
    free(copies);
    if (move)
        box_expunge(src, sorted, count);
    free(sorted);
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------ */
/* The hooks                                                           */

static imapsrv_status hook_user_open(void *ud, imapsrv_op *op, const char *user,
                                     void **user_r)
{
    memstore *ms = ud;
    struct user *u;

    pthread_mutex_lock(&ms->lock);
    if (!(u = user_find(ms, user)))
        u = user_add(ms, user); /* an authenticated user always has INBOX */
    pthread_mutex_unlock(&ms->lock);
    if (!u)
        return IMAPSRV_E_NOMEM;
    *user_r = u;
    return IMAPSRV_OK;
}

static void hook_user_close(void *ud, void *user)
{
    /* Users live as long as the store: nothing to release. */
}

static imapsrv_status hook_list(void *ud, imapsrv_op *op, void *user,
                                const char *pattern)
{
    memstore *ms = ud;
    struct user *u = user;
    imapsrv_status st = IMAPSRV_OK;

    pthread_mutex_lock(&ms->lock);
    for (size_t i = 0; i < u->nbox && st == IMAPSRV_OK; i++) {
        imapsrv_mailbox_info mi = {u->boxes[i]->name, u->boxes[i]->attrs};

        if (is_subscribed(u, mi.name))
            mi.attrs |= IMAPSRV_MBOX_SUBSCRIBED;
        st = imapsrv_emit_mailbox(op, &mi);
    }
    /* Subscriptions outlive their mailboxes (RFC 9051 6.3.9). */
    for (size_t i = 0; i < u->nsubs && st == IMAPSRV_OK; i++)
        if (!box_find(u, u->subs[i])) {
            imapsrv_mailbox_info mi = {
                u->subs[i], IMAPSRV_MBOX_SUBSCRIBED | IMAPSRV_MBOX_NOSELECT |
                                IMAPSRV_MBOX_NONEXISTENT};
            st = imapsrv_emit_mailbox(op, &mi);
        }
    pthread_mutex_unlock(&ms->lock);
    return st;
}

static imapsrv_status hook_create(void *ud, imapsrv_op *op, void *user,
                                  const char *name, unsigned special_use)
{
    memstore *ms = ud;
    char *cn;
    imapsrv_status st = canon(name, IMAPSRV_E_CANNOT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    st = do_create(ms, user, cn, special_use);
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return st;
}

static imapsrv_status hook_delete(void *ud, imapsrv_op *op, void *user,
                                  const char *name)
{
    memstore *ms = ud;
    char *cn;
    imapsrv_status st = canon(name, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    st = do_delete(ms, user, cn);
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return st;
}

static imapsrv_status hook_rename(void *ud, imapsrv_op *op, void *user,
                                  const char *from, const char *to)
{
    memstore *ms = ud;
    char *cf = NULL, *ct = NULL;
    imapsrv_status st = canon(from, IMAPSRV_E_NONEXISTENT, &cf);

    if (st == IMAPSRV_OK)
        st = canon(to, IMAPSRV_E_CANNOT, &ct);
    if (st == IMAPSRV_OK) {
        pthread_mutex_lock(&ms->lock);
        st = do_rename(ms, user, cf, ct);
        pthread_mutex_unlock(&ms->lock);
    }
    free(cf);
    free(ct);
    return st;
}

static imapsrv_status hook_subscribe(void *ud, imapsrv_op *op, void *user,
                                     const char *name, int subscribed)
{
    memstore *ms = ud;
    char *cn;
    imapsrv_status st = canon(name, IMAPSRV_E_CANNOT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    st = do_subscribe(user, cn, subscribed != 0);
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return st;
}

/* A selectable mailbox by client name; NULL if none. */
static struct box *selectable(const struct user *u, const char *cn)
{
    struct box *b = box_find(u, cn);

    return b && !(b->attrs & IMAPSRV_MBOX_NOSELECT) ? b : NULL;
}

static imapsrv_status hook_status(void *ud, imapsrv_op *op, void *user,
                                  const char *name,
                                  imapsrv_mailbox_status *st_r)
{
    memstore *ms = ud;
    struct box *b;
    char *cn;
    imapsrv_status st = canon(name, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    if ((b = selectable(user, cn)))
        box_status(b, st_r);
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return b ? IMAPSRV_OK : IMAPSRV_E_NONEXISTENT;
}

static imapsrv_status hook_open(void *ud, imapsrv_op *op, void *user,
                                const char *name, int readonly,
                                void **mailbox_r, imapsrv_mailbox_status *st_r)
{
    memstore *ms = ud;
    struct handle *h = calloc(1, sizeof *h);
    char *cn = NULL;
    imapsrv_status st =
        h ? canon(name, IMAPSRV_E_NONEXISTENT, &cn) : IMAPSRV_E_NOMEM;

    if (st == IMAPSRV_OK) {
        pthread_mutex_lock(&ms->lock);
        if ((h->box = selectable(user, cn))) {
            h->box->refs++;
            h->user = user;
            h->readonly = readonly != 0;
            box_status(h->box, st_r);
        } else {
            st = IMAPSRV_E_NONEXISTENT;
        }
        pthread_mutex_unlock(&ms->lock);
    }
    free(cn);
    if (st != IMAPSRV_OK) {
        free(h);
        return st;
    }
    *mailbox_r = h;
    return IMAPSRV_OK;
}

static void hook_close(void *ud, void *mailbox)
{
    memstore *ms = ud;
    struct handle *h = mailbox;

    pthread_mutex_lock(&ms->lock);
    box_unref(h->box);
    pthread_mutex_unlock(&ms->lock);
    free(h);
}

static imapsrv_status hook_messages(void *ud, imapsrv_op *op, void *mailbox,
                                    uint32_t min_uid)
{
    memstore *ms = ud;
    struct box *b = ((struct handle *)mailbox)->box;
    imapsrv_status st;

    pthread_mutex_lock(&ms->lock);
    st = b->gone ? IMAPSRV_E_NONEXISTENT : IMAPSRV_OK;
    for (size_t i = msg_lower(b, min_uid); i < b->count && st == IMAPSRV_OK;
         i++) {
        const struct msg *m = &b->msgs[i];
        imapsrv_message_info mi = {
            .uid = m->uid,
            .flags = m->flags,
            .keywords = (const char *const *)m->kw,
            .keyword_count = m->nkw,
            .internaldate = m->date,
            .tz_offset_min = m->tz,
            .size = m->len,
            .modseq = m->modseq,
        };

        st = imapsrv_emit_message(op, &mi);
    }
    pthread_mutex_unlock(&ms->lock);
    return st;
}

static imapsrv_status hook_read(void *ud, imapsrv_op *op, void *mailbox,
                                uint32_t uid, uint64_t offset, void *buf,
                                size_t len, size_t *got_r)
{
    memstore *ms = ud;
    struct box *b = ((struct handle *)mailbox)->box;
    const struct msg *m;
    imapsrv_status st = IMAPSRV_OK;

    *got_r = 0;
    pthread_mutex_lock(&ms->lock);
    if (b->gone)
        st = IMAPSRV_E_NONEXISTENT;
    else if (!(m = msg_find(b, uid)))
        st = IMAPSRV_E_EXPUNGED;
    else if (offset < m->len) {
        *got_r = m->len - offset < len ? (size_t)(m->len - offset) : len;
        memcpy(buf, m->data + offset, *got_r);
    }
    pthread_mutex_unlock(&ms->lock);
    return st;
}

static void hook_cache_put(void *ud, void *mailbox, uint32_t uid,
                           const void *blob, size_t len)
{
    memstore *ms = ud;
    struct box *b = ((struct handle *)mailbox)->box;
    char *copy = malloc(len ? len : 1);
    struct msg *m;

    if (!copy)
        return;
    memcpy(copy, blob, len);
    pthread_mutex_lock(&ms->lock);
    if (!b->gone && (m = msg_find(b, uid))) {
        free(m->cache);
        m->cache = copy;
        m->cache_len = len;
        copy = NULL;
    }
    pthread_mutex_unlock(&ms->lock);
    free(copy);
}

static size_t hook_cache_get(void *ud, void *mailbox, uint32_t uid, void *buf,
                             size_t cap)
{
    memstore *ms = ud;
    struct box *b = ((struct handle *)mailbox)->box;
    const struct msg *m;
    size_t len = 0;

    pthread_mutex_lock(&ms->lock);
    if (!b->gone && (m = msg_find(b, uid)) && m->cache) {
        len = m->cache_len;
        memcpy(buf, m->cache, len < cap ? len : cap);
    }
    pthread_mutex_unlock(&ms->lock);
    return len;
}

static imapsrv_status hook_set_flags(void *ud, imapsrv_op *op, void *mailbox,
                                     const uint32_t *uids, size_t count,
                                     imapsrv_flag_op how, unsigned flags,
                                     const char *const *keywords,
                                     size_t keyword_count)
{
    memstore *ms = ud;
    struct handle *h = mailbox;
    imapsrv_status st = IMAPSRV_OK;

    if (h->readonly)
        return IMAPSRV_E_NOPERM;
    for (size_t i = 0; i < keyword_count; i++)
        if (!keywords[i] || !*keywords[i])
            return IMAPSRV_E_INVALID;
    pthread_mutex_lock(&ms->lock);
    if (h->box->gone)
        st = IMAPSRV_E_NONEXISTENT;
    /* UIDs expunged meanwhile are skipped: STORE on them is a no-op. */
    for (size_t i = 0; i < count && st == IMAPSRV_OK; i++) {
        struct msg *m = msg_find(h->box, uids[i]);

        if (m)
            st = msg_set_flags(h->box, m, how, flags, keywords, keyword_count);
    }
    pthread_mutex_unlock(&ms->lock);
    return st;
}

static imapsrv_status copy_or_move(memstore *ms, struct handle *h,
                                   const uint32_t *uids, size_t count,
                                   const char *dest, imapsrv_copy_result *res_r,
                                   bool move)
{
    char *cn;
    imapsrv_status st = canon(dest, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    st = do_copy(h, uids, count, cn, res_r, move);
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return st;
}

static imapsrv_status hook_copy(void *ud, imapsrv_op *op, void *mailbox,
                                const uint32_t *uids, size_t count,
                                const char *dest, imapsrv_copy_result *res_r)
{
    return copy_or_move(ud, mailbox, uids, count, dest, res_r, false);
}

static imapsrv_status hook_move(void *ud, imapsrv_op *op, void *mailbox,
                                const uint32_t *uids, size_t count,
                                const char *dest, imapsrv_copy_result *res_r)
{
    return copy_or_move(ud, mailbox, uids, count, dest, res_r, true);
}

static imapsrv_status hook_expunge(void *ud, imapsrv_op *op, void *mailbox,
                                   const uint32_t *uids, size_t count)
{
    memstore *ms = ud;
    struct handle *h = mailbox;
    uint32_t *sorted;
    imapsrv_status st;

    if (h->readonly)
        return IMAPSRV_E_NOPERM;
    if ((st = sorted_uids(uids, count, &sorted)) != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    if (h->box->gone)
        st = IMAPSRV_E_NONEXISTENT;
    else
        box_expunge(h->box, sorted, count);
    pthread_mutex_unlock(&ms->lock);
    free(sorted);
    return st;
}

static void append_free(struct append *a)
{
    kw_free(a->kw, a->nkw);
    free(a->buf);
    free(a);
}

static imapsrv_status hook_append_begin(void *ud, imapsrv_op *op, void *user,
                                        const char *mailbox, unsigned flags,
                                        const char *const *keywords,
                                        size_t keyword_count,
                                        int64_t internaldate, int tz_offset_min,
                                        uint64_t size, void **append_r)
{
    memstore *ms = ud;
    struct append *a;
    char *cn;
    imapsrv_status st;

    if (size > SIZE_MAX)
        return IMAPSRV_E_LIMIT;
    if (!(a = calloc(1, sizeof *a)))
        return IMAPSRV_E_NOMEM;
    a->flags = flags & SYSTEM_FLAGS;
    a->date = internaldate;
    a->tz = tz_offset_min;
    a->size = (size_t)size;
    st = kw_copy(&a->kw, &a->nkw, keywords, keyword_count);
    if (st == IMAPSRV_OK &&
        (st = canon(mailbox, IMAPSRV_E_NONEXISTENT, &cn)) == IMAPSRV_OK) {
        pthread_mutex_lock(&ms->lock);
        if ((a->box = selectable(user, cn)))
            a->box->refs++; /* keeps it alive if deleted meanwhile */
        else
            st = IMAPSRV_E_NONEXISTENT;
        pthread_mutex_unlock(&ms->lock);
        free(cn);
    }
    if (st != IMAPSRV_OK) {
        append_free(a);
        return st;
    }
    *append_r = a;
    return IMAPSRV_OK;
}

static imapsrv_status hook_append_data(void *ud, imapsrv_op *op, void *append,
                                       const void *data, size_t len)
{
    struct append *a = append;

    if (len > a->size - a->len)
        return IMAPSRV_E_INVALID; /* more than announced */
    if (a->len + len > a->cap) {
        /* Grow by doubling, never past the announced size: a client that
         * announces much and sends little costs only what it sent. */
        size_t cap = a->cap ? a->cap : 4096;
        char *p;

        while (cap < a->len + len)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > a->size)
            cap = a->size;
        if (!(p = realloc(a->buf, cap)))
            return IMAPSRV_E_NOMEM;
        a->buf = p;
        a->cap = cap;
    }
    if (len > 0)
        memcpy(a->buf + a->len, data, len);
    a->len += len;
    return IMAPSRV_OK;
}

static imapsrv_status hook_append_end(void *ud, imapsrv_op *op, void *append,
                                      int commit, uint32_t *uidvalidity_r,
                                      uint32_t *uid_r)
{
    memstore *ms = ud;
    struct append *a = append;
    imapsrv_status st = IMAPSRV_OK;

    pthread_mutex_lock(&ms->lock);
    if (commit && a->len != a->size)
        st = IMAPSRV_E_INVALID; /* fewer bytes than announced */
    else if (commit && a->box->gone)
        st = IMAPSRV_E_NONEXISTENT;
    else if (commit) {
        struct msg m = {
            .flags = a->flags,
            .kw = a->kw,
            .nkw = a->nkw,
            .date = a->date,
            .tz = a->tz,
            .data = a->buf ? a->buf : malloc(1), /* a 0-byte message */
            .len = a->len,
        };

        st = m.data ? box_push(a->box, &m) : IMAPSRV_E_NOMEM;
        if (st == IMAPSRV_OK) {
            a->kw = NULL; /* now the message's */
            a->nkw = 0;
            a->buf = NULL;
            *uidvalidity_r = a->box->uidvalidity;
            *uid_r = m.uid;
        } else if (m.data != a->buf) {
            free(m.data);
        }
    }
    box_unref(a->box);
    pthread_mutex_unlock(&ms->lock);
    append_free(a);
    return st;
}

void memstore_hooks(memstore *ms, imapsrv_store_hooks *hooks_r)
{
    memset(hooks_r, 0, sizeof *hooks_r);
    hooks_r->size = sizeof *hooks_r;
    hooks_r->userdata = ms;
    hooks_r->user_open = hook_user_open;
    hooks_r->user_close = hook_user_close;
    hooks_r->list = hook_list;
    hooks_r->create = hook_create;
    hooks_r->delete_mailbox = hook_delete;
    hooks_r->rename = hook_rename;
    hooks_r->subscribe = hook_subscribe;
    hooks_r->status = hook_status;
    hooks_r->open = hook_open;
    hooks_r->close = hook_close;
    hooks_r->messages = hook_messages;
    hooks_r->read = hook_read;
    hooks_r->set_flags = hook_set_flags;
    hooks_r->copy = hook_copy;
    hooks_r->move = hook_move;
    hooks_r->expunge = hook_expunge;
    hooks_r->append_begin = hook_append_begin;
    hooks_r->append_data = hook_append_data;
    hooks_r->append_end = hook_append_end;
    hooks_r->cache_put = hook_cache_put;
    hooks_r->cache_get = hook_cache_get;
}

/* ------------------------------------------------------------------ */
/* The host's API                                                      */

memstore *memstore_new(void)
{
    memstore *ms = calloc(1, sizeof *ms);

    if (ms && pthread_mutex_init(&ms->lock, NULL) != 0) {
        free(ms);
        return NULL;
    }
    return ms;
}

void memstore_free(memstore **ms)
{
    if (!ms || !*ms)
        return;
    for (size_t i = 0; i < (*ms)->nusers; i++)
        user_free((*ms)->users[i]);
    free((*ms)->users);
    pthread_mutex_destroy(&(*ms)->lock);
    free(*ms);
    *ms = NULL;
}

imapsrv_status memstore_add_user(memstore *ms, const char *user)
{
    imapsrv_status st = IMAPSRV_OK;

    if (!user || !*user)
        return IMAPSRV_E_INVALID;
    pthread_mutex_lock(&ms->lock);
    if (user_find(ms, user))
        st = IMAPSRV_E_ALREADYEXISTS;
    else if (!user_add(ms, user))
        st = IMAPSRV_E_NOMEM;
    pthread_mutex_unlock(&ms->lock);
    return st;
}

imapsrv_status memstore_create_mailbox(memstore *ms, const char *user,
                                       const char *name, unsigned special_use)
{
    struct user *u;
    char *cn;
    imapsrv_status st = canon(name, IMAPSRV_E_INVALID, &cn);

    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    u = user ? user_find(ms, user) : NULL;
    st = u ? do_create(ms, u, cn, special_use) : IMAPSRV_E_NONEXISTENT;
    pthread_mutex_unlock(&ms->lock);
    free(cn);
    return st;
}

imapsrv_status memstore_add_message(memstore *ms, const char *user,
                                    const char *mailbox, const char *bytes,
                                    size_t len, unsigned flags,
                                    int64_t internaldate)
{
    struct msg m = {.flags = flags, .date = internaldate, .len = len};
    struct user *u;
    struct box *b;
    char *cn;
    imapsrv_status st = canon(mailbox, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    if (!(m.data = malloc(len ? len : 1))) {
        free(cn);
        return IMAPSRV_E_NOMEM;
    }
    if (len > 0)
        memcpy(m.data, bytes, len);
    pthread_mutex_lock(&ms->lock);
    u = user ? user_find(ms, user) : NULL;
    b = u ? selectable(u, cn) : NULL;
    st = b ? box_push(b, &m) : IMAPSRV_E_NONEXISTENT;
    pthread_mutex_unlock(&ms->lock);
    if (st != IMAPSRV_OK)
        free(m.data);
    free(cn);
    return st;
}

/* ------------------------------------------------------------------ */
/* Demo data                                                           */

static const char demo_plain[] =
    "Return-Path: <alice@example.org>\r\n"
    "Message-ID: <20240305091512.4711@mail.example.org>\r\n"
    "Date: Tue, 05 Mar 2024 09:15:12 +0100\r\n"
    "From: Alice Martin <alice@example.org>\r\n"
    "To: Demo User <demo@example.com>\r\n"
    "Subject: Welcome to libimapsrv\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hi,\r\n"
    "\r\n"
    "this mailbox lives in memory: everything you store, copy or\r\n"
    "append here is gone when the server stops.  Try flagging this\r\n"
    "message, moving it to Archive, or appending a draft.\r\n"
    "\r\n"
    "Gr\xc3\xbc\xc3\x9f"
    "e,\r\n"
    "Alice\r\n";

static const char demo_alternative[] =
    "Message-ID: <c0ffee.1709751767@lists.example.net>\r\n"
    "Date: Wed, 06 Mar 2024 14:02:47 -0500\r\n"
    "From: \"Bob Chen\" <bob@example.net>\r\n"
    "To: demo@example.com\r\n"
    "Cc: team@example.net\r\n"
    "Subject: Lunch on Friday?\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"=_alt_5f2c\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "\r\n"
    "--=_alt_5f2c\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hi Demo,\r\n"
    "\r\n"
    "shall we try the new noodle place on Friday at 12:30?\r\n"
    "\r\n"
    "Bob\r\n"
    "\r\n"
    "--=_alt_5f2c\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<html><body><p>Hi Demo,</p>\r\n"
    "<p>shall we try the <b>new noodle place</b> on Friday at =\r\n"
    "12:30?</p><p>Bob</p></body></html>\r\n"
    "\r\n"
    "--=_alt_5f2c--\r\n";

static const char demo_attachment[] =
    "Message-ID: <report-2024-03@reports.example.com>\r\n"
    "Date: Thu, 07 Mar 2024 17:30:05 +0000\r\n"
    "From: Carol Diaz <carol@example.com>\r\n"
    "To: Demo User <demo@example.com>\r\n"
    "Subject: Sales report, first week of March\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"mix-7d3a91\"\r\n"
    "\r\n"
    "--mix-7d3a91\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Hello,\r\n"
    "\r\n"
    "the figures for March 1-2 are attached as CSV.\r\n"
    "\r\n"
    "Carol\r\n"
    "--mix-7d3a91\r\n"
    "Content-Type: text/csv; charset=us-ascii; name=\"report.csv\"\r\n"
    "Content-Disposition: attachment; filename=\"report.csv\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "ZGF0ZSxyZWdpb24sb3JkZXJzLHJldmVudWVfZXVy"
    "DQoyMDI0LTAzLTAxLG5vcnRoLDQyLDEyNjAu\r\n"
    "NTANCjIwMjQtMDMtMDEsc291dGgsMzcsMTEwNC4w"
    "MA0KMjAyNC0wMy0wMixub3J0aCw0NSwxMzc3\r\n"
    "LjI1DQoyMDI0LTAzLTAyLHNvdXRoLDI5LDg2MS45MA0K\r\n"
    "--mix-7d3a91--\r\n";

imapsrv_status memstore_load_demo(memstore *ms, const char *user)
{
    static const struct {
        const char *name;
        unsigned use;
    } boxes[] = {
        {"Sent", IMAPSRV_MBOX_SENT},
        {"Drafts", IMAPSRV_MBOX_DRAFTS},
        {"Trash", IMAPSRV_MBOX_TRASH},
        {"Archive", IMAPSRV_MBOX_ARCHIVE},
    };
    static const struct {
        const char *text;
        size_t len;
        unsigned flags;
        int64_t date;
    } msgs[] = {
        {demo_plain, sizeof demo_plain - 1, IMAPSRV_FLAG_SEEN, 1709626512},
        {demo_alternative, sizeof demo_alternative - 1, IMAPSRV_FLAG_FLAGGED,
         1709751767},
        {demo_attachment, sizeof demo_attachment - 1, 0, 1709832605},
    };
    imapsrv_status st = memstore_add_user(ms, user);
    struct user *u;

    if (st == IMAPSRV_E_ALREADYEXISTS)
        st = IMAPSRV_OK;
    for (size_t i = 0; i < 4 && st == IMAPSRV_OK; i++) {
        st = memstore_create_mailbox(ms, user, boxes[i].name, boxes[i].use);
        if (st == IMAPSRV_E_ALREADYEXISTS)
            st = IMAPSRV_OK;
    }
    for (size_t i = 0; i < 3 && st == IMAPSRV_OK; i++)
        st = memstore_add_message(ms, user, "INBOX", msgs[i].text, msgs[i].len,
                                  msgs[i].flags, msgs[i].date);
    if (st != IMAPSRV_OK)
        return st;
    pthread_mutex_lock(&ms->lock);
    u = user_find(ms, user);
    st = do_subscribe(u, "INBOX", true);
    for (size_t i = 0; i < 4 && st == IMAPSRV_OK; i++)
        st = do_subscribe(u, boxes[i].name, true);
    pthread_mutex_unlock(&ms->lock);
    return st;
}
