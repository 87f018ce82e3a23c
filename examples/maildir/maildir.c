/* maildir: the store object, users and the hooks (see maildir.h).
 * Files: mailboxes.c (the mailbox set), mbox.c (one mailbox: locking,
 * operations on messages), sync.c (a mailbox against its directory),
 * util.c (names, file formats), watch.c (inotify, the parse cache). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maildir_int.h"

#define CACHE_LIMIT (32u << 20)

/* ------------------------------------------------------------------ */
/* Users                                                               */

static bool valid_user(const char *u)
{
    if (!u || !*u || u[0] == '.')
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* The template with "%u" replaced by the user and "%%" by '%'. */
static char *user_root(const char *tmpl, const char *user)
{
    size_t ul = strlen(user), len = 1;
    char *out, *p;

    for (const char *s = tmpl; *s; s++)
        len += s[0] == '%' && s[1] == 'u' ? ul : 1;
    if (!(out = malloc(len)))
        return NULL;
    p = out;
    for (const char *s = tmpl; *s; s++) {
        if (s[0] == '%' && s[1] == 'u') {
            memcpy(p, user, ul);
            p += ul;
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            *p++ = '%';
            s++;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return out;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;

        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            *p = c;
            return -1;
        }
        *p = c;
        if (!c)
            return 0;
    }
}

void user_ref(struct mduser *u)
{
    pthread_mutex_lock(&u->md->lock);
    u->refs++;
    pthread_mutex_unlock(&u->md->lock);
}

static void user_free(struct mduser *u)
{
    close(u->rootfd);
    pthread_mutex_destroy(&u->lock);
    free(u->name);
    free(u->root);
    free(u);
}

void user_unref(struct mduser *u)
{
    maildir *md = u->md;
    bool last;

    pthread_mutex_lock(&md->lock);
    last = --u->refs == 0;
    if (last) {
        struct mduser **pp = &md->users;

        while (*pp != u)
            pp = &(*pp)->next;
        *pp = u->next;
    }
    pthread_mutex_unlock(&md->lock);
    if (last)
        user_free(u);
}

static imapsrv_status user_enter(struct mduser *u)
{
    pthread_mutex_lock(&u->lock);
    u->lockfd =
        openat(u->rootfd, USER_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (u->lockfd < 0) {
        imapsrv_status st = md_errno(errno);

        pthread_mutex_unlock(&u->lock);
        return st == IMAPSRV_E_NONEXISTENT ? IMAPSRV_E_UNAVAILABLE : st;
    }
    while (flock(u->lockfd, LOCK_EX) < 0 && errno == EINTR)
        ;
    return IMAPSRV_OK;
}

static void user_leave(struct mduser *u)
{
    close(u->lockfd);
    u->lockfd = -1;
    pthread_mutex_unlock(&u->lock);
}

/* A selectable mailbox's directory (cur/ present, not being deleted). */
imapsrv_status user_mailbox_dir(struct mduser *u, const char *cn, int *dirfd_r)
{
    struct stat st;
    char *dir;
    imapsrv_status s = md_encode(cn, &dir);
    int fd;

    if (s != IMAPSRV_OK)
        return s == IMAPSRV_E_LIMIT ? IMAPSRV_E_NONEXISTENT : s;
    fd = openat(u->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return md_errno(errno);
    if (fstatat(fd, "cur", &st, 0) < 0 || !S_ISDIR(st.st_mode) ||
        faccessat(fd, TOMBSTONE_FILE, F_OK, 0) == 0) {
        close(fd);
        return IMAPSRV_E_NONEXISTENT; /* a \Noselect placeholder */
    }
    *dirfd_r = fd;
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------ */
/* The hooks                                                           */

static imapsrv_status hook_user_open(void *ud, imapsrv_op *op, const char *user,
                                     void **user_r)
{
    maildir *md = ud;
    struct mduser *u;
    imapsrv_status st = IMAPSRV_OK;
    char *root;

    if (!valid_user(user))
        return IMAPSRV_E_AUTHZFAILED;
    pthread_mutex_lock(&md->lock);
    for (u = md->users; u && strcmp(u->name, user) != 0; u = u->next)
        ;
    if (u) {
        u->refs++;
        pthread_mutex_unlock(&md->lock);
        *user_r = u;
        return IMAPSRV_OK;
    }
    if (!(root = user_root(md->root, user)) || !(u = calloc(1, sizeof *u)) ||
        !(u->name = strdup(user))) {
        pthread_mutex_unlock(&md->lock);
        free(root);
        free(u);
        return IMAPSRV_E_NOMEM;
    }
    u->md = md;
    u->root = root;
    u->refs = 1;
    u->lockfd = u->rootfd = -1;
    pthread_mutex_init(&u->lock, NULL);
    if (mkdir_p(root) < 0 ||
        (u->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (mkdirat(u->rootfd, "tmp", 0700) < 0 && errno != EEXIST) ||
        (mkdirat(u->rootfd, "new", 0700) < 0 && errno != EEXIST) ||
        (mkdirat(u->rootfd, "cur", 0700) < 0 && errno != EEXIST)) {
        st = errno == ENOMEM ? IMAPSRV_E_NOMEM : IMAPSRV_E_UNAVAILABLE;
        if (u->rootfd >= 0)
            close(u->rootfd);
        pthread_mutex_unlock(&md->lock);
        pthread_mutex_destroy(&u->lock);
        free(u->name);
        free(u->root);
        free(u);
        return st;
    }
    u->next = md->users;
    md->users = u;
    pthread_mutex_unlock(&md->lock);
    if (user_enter(u) == IMAPSRV_OK) {
        set_cleanup(u);
        user_leave(u);
    }
    *user_r = u;
    return IMAPSRV_OK;
}

static void hook_user_close(void *ud, void *user)
{
    user_unref(user);
}

static imapsrv_status hook_list(void *ud, imapsrv_op *op, void *user,
                                const char *pattern)
{
    return set_list(user, op);
}

static imapsrv_status hook_create(void *ud, imapsrv_op *op, void *user,
                                  const char *name, unsigned special_use)
{
    char *cn;
    imapsrv_status st = md_canon(name, IMAPSRV_E_CANNOT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    if ((st = user_enter(user)) == IMAPSRV_OK) {
        st = set_create(user, cn, special_use);
        user_leave(user);
    }
    free(cn);
    return st;
}

static imapsrv_status hook_delete(void *ud, imapsrv_op *op, void *user,
                                  const char *name)
{
    char *cn;
    imapsrv_status st = md_canon(name, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    if ((st = user_enter(user)) == IMAPSRV_OK) {
        st = set_delete(user, cn);
        user_leave(user);
    }
    free(cn);
    return st;
}

static imapsrv_status hook_rename(void *ud, imapsrv_op *op, void *user,
                                  const char *from, const char *to)
{
    char *cf = NULL, *ct = NULL;
    imapsrv_status st = md_canon(from, IMAPSRV_E_NONEXISTENT, &cf);

    if (st == IMAPSRV_OK)
        st = md_canon(to, IMAPSRV_E_CANNOT, &ct);
    if (st == IMAPSRV_OK && (st = user_enter(user)) == IMAPSRV_OK) {
        st = set_rename(user, cf, ct);
        user_leave(user);
    }
    free(cf);
    free(ct);
    return st;
}

static imapsrv_status hook_subscribe(void *ud, imapsrv_op *op, void *user,
                                     const char *name, int subscribed)
{
    char *cn;
    imapsrv_status st = md_canon(name, IMAPSRV_E_CANNOT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    if ((st = user_enter(user)) == IMAPSRV_OK) {
        st = set_subscribe(user, cn, subscribed != 0);
        user_leave(user);
    }
    free(cn);
    return st;
}

/* Open, sync and fill the status of a mailbox (entered and left). */
static imapsrv_status open_synced(struct mduser *u, const char *name,
                                  bool readonly, struct box **b_r,
                                  imapsrv_mailbox_status *st_r)
{
    struct box *b;
    char *cn;
    imapsrv_status st = md_canon(name, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    st = box_open(u, cn, readonly, &b);
    free(cn);
    if (st != IMAPSRV_OK)
        return st;
    if ((st = box_enter(b)) == IMAPSRV_OK) {
        if ((st = box_sync(b, false, false)) == IMAPSRV_OK)
            box_status(b, st_r);
        box_leave(b);
    }
    if (st != IMAPSRV_OK) {
        box_close(b);
        return st;
    }
    *b_r = b;
    return IMAPSRV_OK;
}

static imapsrv_status hook_status(void *ud, imapsrv_op *op, void *user,
                                  const char *name,
                                  imapsrv_mailbox_status *st_r)
{
    struct box *b;
    imapsrv_status st = open_synced(user, name, true, &b, st_r);

    if (st == IMAPSRV_OK)
        box_close(b);
    return st;
}

static imapsrv_status hook_open(void *ud, imapsrv_op *op, void *user,
                                const char *name, int readonly,
                                void **mailbox_r, imapsrv_mailbox_status *st_r)
{
    maildir *md = ud;
    struct box *b;
    imapsrv_status st = open_synced(user, name, readonly != 0, &b, st_r);

    if (st != IMAPSRV_OK)
        return st;
    if (!readonly)
        box_clean_tmp(b);
    if (md->watch)
        watch_add(md->watch, b);
    *mailbox_r = b;
    return IMAPSRV_OK;
}

static void hook_close(void *ud, void *mailbox)
{
    maildir *md = ud;

    if (md->watch)
        watch_remove(md->watch, mailbox);
    box_close(mailbox);
}

static imapsrv_status hook_messages(void *ud, imapsrv_op *op, void *mailbox,
                                    uint32_t min_uid)
{
    struct box *b = mailbox;
    imapsrv_status st = box_enter(b);

    if (st != IMAPSRV_OK)
        return st;
    st = box_sync(b, !b->readonly, true);
    /* Other processes may go on; this box's list stays ours while the
     * library copies it. */
    box_leave(b);
    pthread_mutex_lock(&b->lock);
    for (size_t i = box_lower(b, min_uid); i < b->count && st == IMAPSRV_OK;
         i++) {
        const struct msg *m = &b->msgs[i];
        const char *kw[NKW];
        imapsrv_message_info mi = {
            .uid = m->uid,
            .flags = m->flags,
            .keywords = kw,
            .internaldate = m->mtime < 0 ? 0 : m->mtime,
            .size = m->size,
        };

        for (int k = 0; k < NKW; k++)
            if ((m->kwbits >> k) & 1 && b->kw[k])
                kw[mi.keyword_count++] = b->kw[k];
        st = imapsrv_emit_message(op, &mi);
    }
    pthread_mutex_unlock(&b->lock);
    return st;
}

static imapsrv_status hook_read(void *ud, imapsrv_op *op, void *mailbox,
                                uint32_t uid, uint64_t offset, void *buf,
                                size_t len, size_t *got_r)
{
    return mbox_read(mailbox, uid, offset, buf, len, got_r);
}

static void hook_cache_put(void *ud, void *mailbox, uint32_t uid,
                           const void *blob, size_t len)
{
    maildir *md = ud;
    struct box *b = mailbox;
    struct msg *m;

    pthread_mutex_lock(&b->lock);
    if ((m = box_find(b, uid)))
        cache_put(md->cache, b->user->root, m->base, blob, len);
    pthread_mutex_unlock(&b->lock);
}

static size_t hook_cache_get(void *ud, void *mailbox, uint32_t uid, void *buf,
                             size_t cap)
{
    maildir *md = ud;
    struct box *b = mailbox;
    struct msg *m;
    size_t len = 0;

    pthread_mutex_lock(&b->lock);
    if ((m = box_find(b, uid)))
        len = cache_get(md->cache, b->user->root, m->base, buf, cap);
    pthread_mutex_unlock(&b->lock);
    return len;
}

static imapsrv_status hook_set_flags(void *ud, imapsrv_op *op, void *mailbox,
                                     const uint32_t *uids, size_t count,
                                     imapsrv_flag_op how, unsigned flags,
                                     const char *const *keywords,
                                     size_t keyword_count)
{
    struct box *b = mailbox;

    if (b->readonly)
        return IMAPSRV_E_NOPERM;
    if (how != IMAPSRV_FLAGS_SET && how != IMAPSRV_FLAGS_ADD &&
        how != IMAPSRV_FLAGS_REMOVE)
        return IMAPSRV_E_INVALID;
    for (size_t i = 0; i < keyword_count; i++)
        if (!kw_valid(keywords[i]))
            return IMAPSRV_E_INVALID;
    return mbox_set_flags(b, uids, count, how, flags, keywords, keyword_count);
}

static imapsrv_status copy_or_move(struct box *b, const uint32_t *uids,
                                   size_t count, const char *dest,
                                   imapsrv_copy_result *res_r, bool move)
{
    char *cn;
    imapsrv_status st = md_canon(dest, IMAPSRV_E_NONEXISTENT, &cn);

    if (st != IMAPSRV_OK)
        return st;
    st = mbox_copy(b, uids, count, cn, res_r, move);
    free(cn);
    return st;
}

static imapsrv_status hook_copy(void *ud, imapsrv_op *op, void *mailbox,
                                const uint32_t *uids, size_t count,
                                const char *dest, imapsrv_copy_result *res_r)
{
    return copy_or_move(mailbox, uids, count, dest, res_r, false);
}

static imapsrv_status hook_move(void *ud, imapsrv_op *op, void *mailbox,
                                const uint32_t *uids, size_t count,
                                const char *dest, imapsrv_copy_result *res_r)
{
    return copy_or_move(mailbox, uids, count, dest, res_r, true);
}

static imapsrv_status hook_expunge(void *ud, imapsrv_op *op, void *mailbox,
                                   const uint32_t *uids, size_t count)
{
    struct box *b = mailbox;

    if (b->readonly)
        return IMAPSRV_E_NOPERM;
    return mbox_expunge(b, uids, count);
}

/* ------------------------------------------------------------------ */
/* APPEND                                                              */

struct append {
    struct box *box;
    struct newmsg nm;
    int64_t date;
    uint64_t size, len; /* announced, received */
    char *path;         /* tmp/<base> in the mailbox */
    int fd;
};

static void append_free(struct append *a)
{
    if (a->fd >= 0)
        close(a->fd);
    if (a->path) /* not committed: the half-written file goes */
        unlinkat(a->box->dirfd, a->path, 0);
    box_close(a->box);
    free(a->path);
    free(a->nm.base);
    for (size_t i = 0; i < a->nm.nkw; i++)
        free(a->nm.kw[i]);
    free(a->nm.kw);
    free(a);
}

/* A deduplicated (case-insensitively) copy of the keywords. */
static imapsrv_status kw_copy(struct newmsg *nm, const char *const *kw,
                              size_t n)
{
    if (n > 0 && !(nm->kw = calloc(n, sizeof *nm->kw)))
        return IMAPSRV_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;

        if (!kw_valid(kw[i]))
            return IMAPSRV_E_INVALID;
        for (size_t k = 0; k < nm->nkw && !dup; k++)
            dup = strcasecmp(nm->kw[k], kw[i]) == 0;
        if (!dup && !(nm->kw[nm->nkw++] = strdup(kw[i])))
            return IMAPSRV_E_NOMEM;
    }
    return IMAPSRV_OK;
}

static imapsrv_status hook_append_begin(void *ud, imapsrv_op *op, void *user,
                                        const char *mailbox, unsigned flags,
                                        const char *const *keywords,
                                        size_t keyword_count,
                                        int64_t internaldate, int tz_offset_min,
                                        uint64_t size, void **append_r)
{
    maildir *md = ud;
    struct append *a;
    char *cn = NULL;
    imapsrv_status st;

    if (size > INT64_MAX)
        return IMAPSRV_E_LIMIT;
    if (!(a = calloc(1, sizeof *a)))
        return IMAPSRV_E_NOMEM;
    a->fd = -1;
    a->nm.flags = flags & SYSTEM_FLAGS;
    a->date = internaldate;
    a->size = size;
    st = kw_copy(&a->nm, keywords, keyword_count);
    if (st == IMAPSRV_OK)
        st = md_canon(mailbox, IMAPSRV_E_NONEXISTENT, &cn);
    if (st == IMAPSRV_OK)
        st = box_open(user, cn, false, &a->box);
    free(cn);
    if (st != IMAPSRV_OK) {
        for (size_t i = 0; i < a->nm.nkw; i++)
            free(a->nm.kw[i]);
        free(a->nm.kw);
        free(a);
        return st;
    }
    if (!(a->nm.base = md_unique_base(md, size)) ||
        !(a->path = md_printf("tmp/%s", a->nm.base))) {
        append_free(a);
        return IMAPSRV_E_NOMEM;
    }
    a->fd = openat(a->box->dirfd, a->path,
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        st = md_errno(errno);
        free(a->path);
        a->path = NULL;
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
    const char *p = data;

    if (len > a->size - a->len)
        return IMAPSRV_E_INVALID; /* more than announced */
    a->len += len;
    while (len > 0) {
        ssize_t n = write(a->fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return md_errno(errno);
        p += n;
        len -= (size_t)n;
    }
    return IMAPSRV_OK;
}

static imapsrv_status hook_append_end(void *ud, imapsrv_op *op, void *append,
                                      int commit, uint32_t *uidvalidity_r,
                                      uint32_t *uid_r)
{
    struct append *a = append;
    imapsrv_status st = IMAPSRV_OK;

    if (!commit) {
        append_free(a);
        return IMAPSRV_OK;
    }
    if (a->len != a->size) {
        append_free(a);
        return IMAPSRV_E_INVALID; /* fewer bytes than announced */
    }
    /* The internal date is the mtime; then the bytes and it on disk
     * before the file is listed anywhere. */
    if (futimens(a->fd, (struct timespec[]){{.tv_nsec = UTIME_OMIT},
                                            {.tv_sec = (time_t)a->date}}) < 0 ||
        fsync(a->fd) < 0 || close(a->fd) < 0)
        st = md_errno(errno);
    a->fd = -1;
    if (st == IMAPSRV_OK && (st = box_add(a->box, &a->nm, 1)) == IMAPSRV_OK) {
        *uidvalidity_r = a->box->uidvalidity;
        *uid_r = a->nm.uid;
        free(a->path); /* committed: nothing to remove */
        a->path = NULL;
    }
    append_free(a);
    return st;
}

/* ------------------------------------------------------------------ */
/* The store                                                           */

void maildir_hooks(maildir *md, imapsrv_store_hooks *hooks_r)
{
    memset(hooks_r, 0, sizeof *hooks_r);
    hooks_r->size = sizeof *hooks_r;
    hooks_r->userdata = md;
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

imapsrv_status maildir_new(const char *root, maildir **md_r, char *err,
                           size_t errlen)
{
    maildir *md;

    if (err && errlen)
        *err = '\0';
    if (!root || !*root || !md_r) {
        if (err && errlen)
            snprintf(err, errlen, "maildir: no root directory given");
        return IMAPSRV_E_INVALID;
    }
    if (!(md = calloc(1, sizeof *md)) || !(md->root = strdup(root)) ||
        !(md->cache = cache_new(CACHE_LIMIT))) {
        if (md)
            free(md->root);
        free(md);
        if (err && errlen)
            snprintf(err, errlen, "maildir: out of memory");
        return IMAPSRV_E_NOMEM;
    }
    pthread_mutex_init(&md->lock, NULL);
    /* The host part of unique names: no '/', ':' or ',' (which separate
     * the parts of a Maildir name). */
    if (gethostname(md->host, sizeof md->host - 1) < 0 || !md->host[0])
        strcpy(md->host, "localhost");
    for (char *p = md->host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            *p = '_';
    md->watch = watch_new(); /* NULL: no inotify, nothing reported */
    *md_r = md;
    return IMAPSRV_OK;
}

void maildir_free(maildir **mdp)
{
    maildir *md;

    if (!mdp || !*mdp)
        return;
    md = *mdp;
    watch_free(md->watch);
    while (md->users) {
        struct mduser *u = md->users;

        md->users = u->next;
        user_free(u); /* sessions still open: the host's mistake */
    }
    cache_free(md->cache);
    pthread_mutex_destroy(&md->lock);
    free(md->root);
    free(md);
    *mdp = NULL;
}

void maildir_set_server(maildir *md, imapsrv *srv)
{
    if (md && md->watch)
        watch_set_server(md->watch, srv);
}
