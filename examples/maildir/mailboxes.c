/* maildir: a user's mailbox set - LIST, CREATE, DELETE, RENAME,
 * subscriptions, and finishing what crashed processes left.
 *
 * Changes run under the user's lock (set by the callers in maildir.c:
 * the user's mutex and a flock on imapsrv-mailboxes.lock), so that two
 * sessions or two processes never interleave them.  LIST takes no lock:
 * each mailbox appears and goes with one rename(2) or mkdir(2), so it may
 * see a hierarchy's RENAME half done, never a half-made mailbox.  New
 * mailboxes are built complete (tmp/ new/ cur/, UID list) in a work
 * directory and renamed into place: a crash leaves either no mailbox or a
 * whole one; a crash within a hierarchy's RENAME leaves some children
 * under the old name, each whole. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maildir_int.h"

#define WORK_MAX_AGE 3600 /* a CREATE that crashed left it */

/* ------------------------------------------------------------------ */
/* The mailbox set                                                     */

struct entry {
    char *name; /* canonical */
    char *dir;  /* NULL: a missing parent */
    bool selectable;
};

struct mboxes {
    struct entry *e;
    size_t n, cap;
};

static void mboxes_free(struct mboxes *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].name);
        free(l->e[i].dir);
    }
    free(l->e);
    memset(l, 0, sizeof *l);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    bool xi = strcmp(x->name, "INBOX") == 0;
    bool yi = strcmp(y->name, "INBOX") == 0;

    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct entry *mboxes_find(struct mboxes *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, name) == 0)
            return &l->e[i];
    return NULL;
}

static bool has_children(struct mboxes *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (md_in_subtree(l->e[i].name, name) &&
            strcmp(l->e[i].name, name) != 0)
            return true;
    return false;
}

static imapsrv_status mboxes_add(struct mboxes *l, char *name, char *dir,
                                 bool selectable)
{
    struct entry *p = md_reserve(l->e, &l->cap, l->n + 1, sizeof *p);

    if (!p) {
        free(name);
        free(dir);
        return IMAPSRV_E_NOMEM;
    }
    l->e = p;
    l->e[l->n++] = (struct entry){name, dir, selectable};
    return IMAPSRV_OK;
}

static bool is_selectable(int rootfd, const char *dir)
{
    char *cur = md_printf("%s/cur", dir);
    char *tomb = md_printf("%s/%s", dir, TOMBSTONE_FILE);
    struct stat st;
    bool ok = cur && tomb && fstatat(rootfd, cur, &st, 0) == 0 &&
              S_ISDIR(st.st_mode) && faccessat(rootfd, tomb, F_OK, 0) < 0;

    free(cur);
    free(tomb);
    return ok;
}

/* Every mailbox of the user: INBOX, the folder directories, and the
 * missing parents of folders (\Noselect), INBOX first then by name. */
static imapsrv_status read_mailboxes(struct mduser *u, struct mboxes *l)
{
    int fd = openat(u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    imapsrv_status st;
    struct dirent *de;
    size_t real;
    DIR *d;

    memset(l, 0, sizeof *l);
    if (fd < 0 || !(d = fdopendir(fd))) {
        st = md_errno(errno);
        if (fd >= 0)
            close(fd);
        return st;
    }
    st = mboxes_add(l, strdup("INBOX"), strdup("."), true);
    while (st == IMAPSRV_OK && (de = readdir(d))) {
        char *name = md_decode(de->d_name), *dir;

        if (!name)
            continue;
        if (!(dir = strdup(de->d_name))) {
            free(name);
            st = IMAPSRV_E_NOMEM;
            break;
        }
        st = mboxes_add(l, name, dir, is_selectable(u->rootfd, dir));
    }
    closedir(d);
    real = l->n;
    for (size_t i = 1; i < real && st == IMAPSRV_OK; i++) {
        char *name = strdup(l->e[i].name);

        if (!name) {
            st = IMAPSRV_E_NOMEM;
            break;
        }
        for (char *p = strchr(name, '/'); p && st == IMAPSRV_OK;
             p = strchr(p + 1, '/')) {
            *p = '\0';
            if (!mboxes_find(l, name)) {
                char *dup = strdup(name);

                st = dup ? mboxes_add(l, dup, NULL, false) : IMAPSRV_E_NOMEM;
            }
            *p = '/';
        }
        free(name);
    }
    if (st != IMAPSRV_OK) {
        mboxes_free(l);
        return st;
    }
    qsort(l->e, l->n, sizeof *l->e, entry_cmp);
    return IMAPSRV_OK;
}

static int dir_state(struct mduser *u, const char *dir)
{
    struct stat st;

    if (fstatat(u->rootfd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISDIR(st.st_mode))
        return 0;
    return is_selectable(u->rootfd, dir) ? 2 : 1;
}

struct mk_init {
    const struct uidlist *ul; /* entries and UIDNEXT (not UIDVALIDITY) */
    char *const *kw;
};

/* Build a mailbox in a work directory and rename it to `dir` (over an
 * empty placeholder when `replace`).  With lockfd_r/dirfd_r the new
 * mailbox's UID-list lock is taken before it becomes visible and kept,
 * with a descriptor of it, for the caller. */
static imapsrv_status mk_box(struct mduser *u, const char *dir, unsigned use,
                             const struct mk_init *init, bool replace,
                             int *dirfd_r, int *lockfd_r)
{
    char *base = md_unique_base(u->md, 0);
    char *work = base ? md_printf("%s%s", WORK_PREFIX, base) : NULL;
    struct uidlist ul = {0};
    imapsrv_status st = IMAPSRV_OK;
    int wfd = -1, lfd = -1, fd, rc;
    char *text = NULL;

    free(base);
    if (!work)
        return IMAPSRV_E_NOMEM;
    if (mkdirat(u->rootfd, work, 0700) < 0 ||
        (wfd = openat(u->rootfd, work, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
            0 ||
        mkdirat(wfd, "tmp", 0700) < 0 || mkdirat(wfd, "new", 0700) < 0 ||
        mkdirat(wfd, "cur", 0700) < 0)
        goto sys;
    /* Maildir++'s mark of a folder, for delivery agents. */
    if ((fd = openat(wfd, "maildirfolder", O_WRONLY | O_CREAT | O_CLOEXEC,
                     0600)) < 0)
        goto sys;
    close(fd);
    if (init) {
        ul = *init->ul;
        if (init->kw && kw_write(wfd, init->kw) < 0)
            goto sys;
    } else {
        ul.uidnext = 1;
    }
    ul.uidvalidity = md_next_uidvalidity(u);
    rc = ul_write(wfd, &ul);
    if (rc < 0)
        goto sys;
    if (use &&
        (!(text = md_special_use_text(use)) ||
         md_write_atomic(wfd, SPECIAL_USE_FILE, text, strlen(text)) < 0)) {
        st = text ? md_errno(errno) : IMAPSRV_E_NOMEM;
        goto fail;
    }
    if (lockfd_r) {
        lfd = openat(wfd, UIDLIST_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0)
            goto sys;
        while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
            ;
    }
    if (fsync(wfd) < 0)
        goto sys;
    rc = replace ? renameat(u->rootfd, work, u->rootfd, dir)
                 : renameat2(u->rootfd, work, u->rootfd, dir, RENAME_NOREPLACE);
    if (rc < 0 && !replace && (errno == EINVAL || errno == ENOSYS)) {
        /* No RENAME_NOREPLACE here: the user lock keeps our own
         * processes out between the check and the rename. */
        struct stat sb;

        if (fstatat(u->rootfd, dir, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            errno = EEXIST;
        else
            rc = renameat(u->rootfd, work, u->rootfd, dir);
    }
    if (rc < 0) {
        st = errno == EEXIST || errno == ENOTEMPTY ? IMAPSRV_E_ALREADYEXISTS
                                                   : md_errno(errno);
        goto fail;
    }
    fsync(u->rootfd);
    free(work);
    free(text);
    if (dirfd_r)
        *dirfd_r = wfd;
    else
        close(wfd);
    if (lockfd_r)
        *lockfd_r = lfd;
    return IMAPSRV_OK;
sys:
    st = md_errno(errno);
fail:
    if (lfd >= 0)
        close(lfd);
    if (wfd >= 0)
        close(wfd);
    md_rm_rf(u->rootfd, work);
    free(work);
    free(text);
    return st;
}

/* RFC 9051 CREATE/RENAME: superior names that are missing are created
 * (INBOX, the root, always exists). */
static imapsrv_status create_parents(struct mduser *u, const char *name)
{
    char *n = strdup(name);
    imapsrv_status st = n ? IMAPSRV_OK : IMAPSRV_E_NOMEM;

    for (char *p = n ? strchr(n, '/') : NULL; p && st == IMAPSRV_OK;
         p = strchr(p + 1, '/')) {
        char *dir;

        *p = '\0';
        if (strcmp(n, "INBOX") != 0 &&
            (st = md_encode(n, &dir)) == IMAPSRV_OK) {
            if (dir_state(u, dir) == 0)
                st = mk_box(u, dir, 0, NULL, false, NULL, NULL);
            if (st == IMAPSRV_E_ALREADYEXISTS)
                st = IMAPSRV_OK; /* made meanwhile by other software */
            free(dir);
        }
        *p = '/';
    }
    free(n);
    return st;
}

imapsrv_status set_create(struct mduser *u, const char *cn, unsigned use)
{
    imapsrv_status st;
    char *dir;
    int state;

    use &= SPECIAL_USE;
    if (strcmp(cn, "INBOX") == 0)
        return IMAPSRV_E_ALREADYEXISTS;
    if ((st = md_encode(cn, &dir)) != IMAPSRV_OK)
        return st;
    state = dir_state(u, dir);
    if (state == 2)
        st = IMAPSRV_E_ALREADYEXISTS;
    else if (state == 1) /* a \Noselect placeholder becomes a mailbox */
        st = mk_box(u, dir, use, NULL, true, NULL, NULL);
    else if ((st = create_parents(u, cn)) == IMAPSRV_OK)
        st = mk_box(u, dir, use, NULL, false, NULL, NULL);
    free(dir);
    return st;
}

/* Remove a mailbox directory: tombstone under its UID-list lock (so that
 * operations in flight see it, see box_enter), rename out of the set,
 * then remove at leisure. */
static imapsrv_status remove_dir(struct mduser *u, const char *dir,
                                 bool selectable)
{
    char *trash_base = md_unique_base(u->md, 0);
    char *trash =
        trash_base ? md_printf("%s%s", TRASH_PREFIX, trash_base) : NULL;
    char *lock = md_printf("%s/%s", dir, UIDLIST_LOCK);
    char *tomb = md_printf("%s/%s", dir, TOMBSTONE_FILE);
    imapsrv_status st = IMAPSRV_OK;
    int lfd = -1, fd;

    free(trash_base);
    if (!trash || !lock || !tomb) {
        st = IMAPSRV_E_NOMEM;
        goto out;
    }
    if (selectable) {
        lfd = openat(u->rootfd, lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0) {
            st = md_errno(errno);
            goto out;
        }
        while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
            ;
        fd = openat(u->rootfd, tomb, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            st = md_errno(errno);
            goto out;
        }
        fsync(fd);
        close(fd);
    }
    if (renameat(u->rootfd, dir, u->rootfd, trash) < 0) {
        st = md_errno(errno);
        goto out;
    }
    if (lfd >= 0)
        close(lfd);
    lfd = -1;
    fsync(u->rootfd);
    md_rm_rf(u->rootfd, trash); /* a leftover goes at the next login */
out:
    if (lfd >= 0)
        close(lfd);
    free(trash);
    free(lock);
    free(tomb);
    return st;
}

imapsrv_status set_delete(struct mduser *u, const char *cn)
{
    struct mboxes l;
    struct entry *e;
    imapsrv_status st;
    bool kids;

    if (strcmp(cn, "INBOX") == 0)
        return IMAPSRV_E_CANNOT;
    if ((st = read_mailboxes(u, &l)) != IMAPSRV_OK)
        return st;
    e = mboxes_find(&l, cn);
    kids = e && has_children(&l, cn);
    if (!e)
        st = IMAPSRV_E_NONEXISTENT;
    else if (kids && !e->selectable)
        st = IMAPSRV_E_CANNOT; /* RFC 9051 6.3.4 */
    else if (e->dir)
        st = remove_dir(u, e->dir, e->selectable);
    /* RFC 9051 6.3.4: with children the name stays, as \Noselect. */
    if (st == IMAPSRV_OK && kids && mkdirat(u->rootfd, e->dir, 0700) < 0)
        st = md_errno(errno);
    if (st == IMAPSRV_OK)
        fsync(u->rootfd);
    mboxes_free(&l);
    return st;
}

/* RFC 9051 6.3.5: renaming INBOX moves its messages to a new mailbox
 * (same UIDs and UIDNEXT, new UIDVALIDITY) and leaves INBOX empty; its
 * children stay. */
static imapsrv_status rename_inbox(struct mduser *u, const char *to,
                                   const char *todir)
{
    struct uidlist ul = {0};
    struct box *inbox;
    int tofd = -1, tolock = -1;
    imapsrv_status st = create_parents(u, to);

    if (st != IMAPSRV_OK ||
        (st = box_open(u, "INBOX", false, &inbox)) != IMAPSRV_OK)
        return st;
    if ((st = box_enter(inbox)) != IMAPSRV_OK) {
        box_close(inbox);
        return st;
    }
    st = box_sync(inbox, false, false);
    ul.uidnext = inbox->uidnext;
    for (size_t i = 0; i < inbox->count && st == IMAPSRV_OK; i++)
        st = ul_add(&ul, inbox->msgs[i].uid, inbox->msgs[i].base);
    if (st == IMAPSRV_OK) {
        struct mk_init init = {&ul, inbox->kw};

        st = mk_box(u, todir, 0, &init, false, &tofd, &tolock);
    }
    /* The new mailbox lists the messages before they move, and its lock
     * is held until they have: each is in exactly one list with a file. */
    if (st == IMAPSRV_OK)
        st = mbox_move_all(inbox, tofd);
    if (tolock >= 0)
        close(tolock);
    if (tofd >= 0)
        close(tofd);
    box_leave(inbox);
    box_close(inbox);
    ul_clear(&ul);
    return st;
}

imapsrv_status set_rename(struct mduser *u, const char *from, const char *to)
{
    struct mboxes l;
    struct {
        const char *from;
        char *to;
    } *mv = NULL;
    size_t n = 0;
    char *fromdir = NULL, *todir = NULL;
    imapsrv_status st = read_mailboxes(u, &l);

    if (st != IMAPSRV_OK)
        return st;
    if (!mboxes_find(&l, from))
        st = IMAPSRV_E_NONEXISTENT;
    else if (mboxes_find(&l, to))
        st = IMAPSRV_E_ALREADYEXISTS;
    else if ((st = md_encode(to, &todir)) != IMAPSRV_OK)
        ;
    else if (strcmp(from, "INBOX") == 0) /* "INBOX/old" is fine */
        st = rename_inbox(u, to, todir);
    else if (md_in_subtree(to, from))
        st = IMAPSRV_E_CANNOT; /* into itself */
    else if ((st = md_encode(from, &fromdir)) != IMAPSRV_OK)
        ;
    else if (!(mv = calloc(l.n, sizeof *mv)))
        st = IMAPSRV_E_NOMEM;
    if (st != IMAPSRV_OK || strcmp(from, "INBOX") == 0)
        goto out;

    /* Every directory of the subtree, with its new name, checked before
     * anything moves.  Encoded names keep their suffix: ".a.b" under
     * ".a" becomes ".x.b" under ".x". */
    for (size_t i = 0; i < l.n && st == IMAPSRV_OK; i++) {
        const char *d = l.e[i].dir;

        if (!d || !md_in_subtree(l.e[i].name, from))
            continue;
        mv[n].from = d;
        if (!(mv[n].to = md_printf("%s%s", todir, d + strlen(fromdir)))) {
            st = IMAPSRV_E_NOMEM;
            break;
        }
        if (strlen(mv[n].to) > 255)
            st = IMAPSRV_E_LIMIT;
        else if (dir_state(u, mv[n].to) != 0)
            st = IMAPSRV_E_ALREADYEXISTS;
        n++;
    }
    if (st == IMAPSRV_OK)
        st = create_parents(u, to);
    for (size_t i = 0; i < n && st == IMAPSRV_OK; i++)
        if (renameat(u->rootfd, mv[i].from, u->rootfd, mv[i].to) < 0)
            st = md_errno(errno);
    if (st == IMAPSRV_OK)
        fsync(u->rootfd);
out:
    for (size_t i = 0; i < n; i++)
        free(mv[i].to);
    free(mv);
    free(fromdir);
    free(todir);
    mboxes_free(&l);
    return st;
}

/* ------------------------------------------------------------------ */
/* Subscriptions                                                       */

struct subs {
    char **name;
    size_t n;
    char *text;
};

static imapsrv_status subs_read(struct mduser *u, struct subs *s)
{
    size_t len, cap = 0;
    char *save = NULL;

    memset(s, 0, sizeof *s);
    if (!(s->text = md_read_file(u->rootfd, SUBS_FILE, &len)))
        return errno == ENOENT ? IMAPSRV_OK : md_errno(errno);
    for (char *line = strtok_r(s->text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char **p = md_reserve(s->name, &cap, s->n + 1, sizeof *p);

        if (!p) {
            free(s->name);
            free(s->text);
            return IMAPSRV_E_NOMEM;
        }
        s->name = p;
        s->name[s->n++] = line;
    }
    return IMAPSRV_OK;
}

static void subs_free(struct subs *s)
{
    free(s->name);
    free(s->text);
}

static bool subs_has(const struct subs *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return true;
    return false;
}

/* Subscriptions are names, independent of existence (RFC 9051 6.3.7). */
imapsrv_status set_subscribe(struct mduser *u, const char *name, bool on)
{
    struct subs s;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    imapsrv_status st = subs_read(u, &s);

    if (st != IMAPSRV_OK)
        return st;
    if (subs_has(&s, name) == on) {
        subs_free(&s);
        return IMAPSRV_OK;
    }
    if (!(f = open_memstream(&text, &len))) {
        subs_free(&s);
        return IMAPSRV_E_NOMEM;
    }
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.name[i], name) != 0)
            fprintf(f, "%s\n", s.name[i]);
    if (on)
        fprintf(f, "%s\n", name);
    if (fclose(f) != 0)
        st = IMAPSRV_E_NOMEM;
    else if (md_write_atomic(u->rootfd, SUBS_FILE, text, len) < 0)
        st = md_errno(errno);
    free(text);
    subs_free(&s);
    return st;
}

/* ------------------------------------------------------------------ */
/* Login-time cleanup                                                  */

/* A DELETE that crashed after its tombstone: remove the directory, and
 * leave the \Noselect placeholder if the mailbox has children. */
static void finish_delete(struct mduser *u, const char *dir, const char *name)
{
    struct mboxes l;
    bool kids;

    if (read_mailboxes(u, &l) != IMAPSRV_OK)
        return;
    kids = has_children(&l, name);
    mboxes_free(&l);
    if (remove_dir(u, dir, false) == IMAPSRV_OK && kids)
        mkdirat(u->rootfd, dir, 0700);
}

/* Finish what crashed processes left: deleted trees, old work
 * directories of CREATE, tombstoned mailboxes. */
void set_cleanup(struct mduser *u)
{
    int fd = openat(u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    time_t now = time(NULL);
    struct dirent *de;
    DIR *d;

    if (fd < 0)
        return;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((de = readdir(d))) {
        struct stat st;
        char *name;

        if (strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0) {
            md_rm_rf(u->rootfd, de->d_name);
        } else if (strncmp(de->d_name, WORK_PREFIX, strlen(WORK_PREFIX)) == 0 &&
                   fstatat(u->rootfd, de->d_name, &st, 0) == 0 &&
                   st.st_mtime < now - WORK_MAX_AGE) {
            md_rm_rf(u->rootfd, de->d_name);
        } else if ((name = md_decode(de->d_name))) {
            char *tomb = md_printf("%s/%s", de->d_name, TOMBSTONE_FILE);

            if (tomb && faccessat(u->rootfd, tomb, F_OK, 0) == 0)
                finish_delete(u, de->d_name, name);
            free(tomb);
            free(name);
        }
    }
    closedir(d);
}

/* ------------------------------------------------------------------ */
/* LIST                                                                */

/* LIST: every mailbox, then subscribed names without one. */
imapsrv_status set_list(struct mduser *u, imapsrv_op *op)
{
    struct mboxes l;
    struct subs s;
    imapsrv_status st = read_mailboxes(u, &l);

    if (st != IMAPSRV_OK)
        return st;
    if ((st = subs_read(u, &s)) != IMAPSRV_OK) {
        mboxes_free(&l);
        return st;
    }
    for (size_t i = 0; i < l.n && st == IMAPSRV_OK; i++) {
        const struct entry *e = &l.e[i];
        imapsrv_mailbox_info mi = {e->name, 0};

        if (!e->selectable)
            mi.attrs |= IMAPSRV_MBOX_NOSELECT;
        else if (strcmp(e->name, "INBOX") != 0)
            mi.attrs |= md_special_use_read(u->rootfd, e->dir, e->name);
        if (subs_has(&s, e->name))
            mi.attrs |= IMAPSRV_MBOX_SUBSCRIBED;
        st = imapsrv_emit_mailbox(op, &mi);
    }
    /* Subscriptions outlive their mailboxes (RFC 9051 6.3.9). */
    for (size_t i = 0; i < s.n && st == IMAPSRV_OK; i++)
        if (!mboxes_find(&l, s.name[i])) {
            imapsrv_mailbox_info mi = {s.name[i], IMAPSRV_MBOX_SUBSCRIBED |
                                                      IMAPSRV_MBOX_NOSELECT |
                                                      IMAPSRV_MBOX_NONEXISTENT};
            st = imapsrv_emit_mailbox(op, &mi);
        }
    subs_free(&s);
    mboxes_free(&l);
    return st;
}
