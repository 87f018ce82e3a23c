/* maildir: bringing a mailbox's list up to date with its directory -
 * the scan of new/ and cur/, the intake of files that have no UID yet
 * (CRLF, exact size in the name), new/ -> cur/, the UID list rewrite.
 * Runs with the box entered (see mbox.c for the locking). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir_int.h"

/* ------------------------------------------------------------------ */
/* Scanning                                                            */

struct sfile {
    char *base;
    char *name;
    bool in_new;
    bool used;
};

static void sfiles_free(struct sfile *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].base);
        free(f[i].name);
    }
    free(f);
}

static int sfile_cmp(const void *a, const void *b)
{
    const struct sfile *x = a, *y = b;
    int c = strcmp(x->base, y->base);

    return c ? c : (int)x->in_new - (int)y->in_new; /* cur/ first */
}

/* Every message file of new/ and cur/, sorted by base, one per base (a
 * file found in both, as a move from new/ to cur/ races the scan, counts
 * once, from cur/). */
static imapsrv_status scan(struct box *b, struct sfile **out, size_t *n_r)
{
    static const char *const subs[] = {"new", "cur"};
    struct sfile *f = NULL;
    size_t n = 0, cap = 0, w = 0;

    for (int s = 0; s < 2; s++) {
        int fd = openat(b->dirfd, subs[s], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0 && errno == ENOENT && s == 0)
            continue; /* no new/: nothing delivered */
        if (fd < 0 || !(d = fdopendir(fd))) {
            imapsrv_status st = md_errno(errno);

            if (fd >= 0)
                close(fd);
            sfiles_free(f, n);
            return st;
        }
        while ((de = readdir(d))) {
            const char *info;
            struct sfile *p;

            if (de->d_name[0] == '.' || strchr(de->d_name, '\n'))
                continue;
            if (!(p = md_reserve(f, &cap, n + 1, sizeof *p))) {
                closedir(d);
                sfiles_free(f, n);
                return IMAPSRV_E_NOMEM;
            }
            f = p;
            memset(&f[n], 0, sizeof f[n]);
            f[n].in_new = s == 0;
            md_split_name(de->d_name, &f[n].base, &info);
            f[n].name = strdup(de->d_name);
            n++;
            if (!f[n - 1].base || !f[n - 1].name) {
                closedir(d);
                sfiles_free(f, n);
                return IMAPSRV_E_NOMEM;
            }
        }
        closedir(d);
    }
    if (n > 0)
        qsort(f, n, sizeof *f, sfile_cmp);
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(f[w - 1].base, f[i].base) == 0) {
            free(f[i].base);
            free(f[i].name);
            continue;
        }
        f[w++] = f[i];
    }
    *out = f;
    *n_r = w;
    return IMAPSRV_OK;
}

static int sfile_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct sfile *)elem)->base);
}

static struct sfile *sfile_find(struct sfile *f, size_t n, const char *base)
{
    return n ? bsearch(base, f, n, sizeof *f, sfile_key_cmp) : NULL;
}

/* Rewrite a file's bytes from `in` into `out` with every bare LF made
 * CRLF. */
static int copy_crlf(int in, int out)
{
    char ib[65536], ob[2 * 65536];
    char prev = '\0';
    off_t off = 0;

    for (;;) {
        ssize_t n = pread(in, ib, sizeof ib, off), o = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        for (ssize_t i = 0; i < n; i++) {
            if (ib[i] == '\n' && prev != '\r')
                ob[o++] = '\r';
            ob[o++] = prev = ib[i];
        }
        for (ssize_t done = 0; done < o;) {
            ssize_t k = write(out, ob + done, (size_t)(o - done));

            if (k < 0 && errno != EINTR)
                return -1;
            if (k > 0)
                done += k;
        }
        off += n;
    }
}

/* Take in a file that has no UID yet (an MDA's delivery, a crash between
 * writing a message and listing it): make it CRLF and name it with its
 * exact size.  The new name derives from the old one, so a crash after
 * the CRLF copy is in place but before the old file is gone is finished
 * by the next intake (the copy is found there and the old file removed).
 * 1: ready, 0: vanished meanwhile, -1: error (errno). */
static int intake(struct box *b, struct sfile *f)
{
    const char *sub = f->in_new ? "new" : "cur";
    const char *rest = f->name + strlen(f->base); /* ":2,..." or "" */
    char *path = md_printf("%s/%s", sub, f->name);
    char *nbase = NULL, *nname = NULL, *npath = NULL, *tmp = NULL;
    uint64_t bare = 0;
    char buf[65536], prev = '\0';
    struct stat st;
    int fd, out = -1, rc = -1;
    off_t off = 0;

    if (!path || (fd = openat(b->dirfd, path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = path && errno == ENOENT ? 0 : -1;
        free(path);
        return rc;
    }
    if (fstat(fd, &st) < 0)
        goto out;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' && prev != '\r')
                bare++;
            prev = buf[i];
        }
        off += n;
    }
    if (!(nbase = md_base_resize(f->base, (uint64_t)st.st_size + bare)) ||
        !(nname = md_printf("%s%s", nbase, rest)) ||
        !(npath = md_printf("%s/%s", sub, nname))) {
        errno = ENOMEM;
        goto out;
    }
    if (bare == 0) {
        /* Only the name lacks its size: a rename, atomic. */
        if (strcmp(nname, f->name) != 0 &&
            md_move_noreplace(b->dirfd, path, b->dirfd, npath) == 0) {
            free(f->base);
            free(f->name);
            f->base = nbase;
            f->name = nname;
            nbase = nname = NULL;
        }
        rc = 1;
        goto out;
    }
    free(path);
    path = NULL;
    if (!(tmp = md_unique_base(b->user->md, (uint64_t)st.st_size + bare)) ||
        !(path = md_printf("tmp/%s", tmp))) {
        errno = ENOMEM;
        goto out;
    }
    out = openat(b->dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0 || copy_crlf(fd, out) < 0 ||
        futimens(out, (struct timespec[]){st.st_atim, st.st_mtim}) < 0 ||
        fsync(out) < 0)
        goto out_unlink;
    if (linkat(b->dirfd, path, b->dirfd, npath, 0) < 0 && errno != EEXIST)
        goto out_unlink;
    unlinkat(b->dirfd, path, 0);
    md_fsync_dir(b->dirfd, sub);
    free(path);
    path = md_printf("%s/%s", sub, f->name);
    if (path)
        unlinkat(b->dirfd, path, 0);
    free(f->base);
    free(f->name);
    f->base = nbase;
    f->name = nname;
    nbase = nname = NULL;
    rc = 1;
    goto out;
out_unlink:
    unlinkat(b->dirfd, path, 0);
out:
    if (out >= 0)
        close(out);
    close(fd);
    free(path);
    free(tmp);
    free(nbase);
    free(nname);
    free(npath);
    return rc;
}

/* Leading time of a base, for numbering new files in delivery order. */
static int fresh_cmp(const void *a, const void *b)
{
    const struct sfile *x = *(struct sfile *const *)a;
    const struct sfile *y = *(struct sfile *const *)b;
    unsigned long long tx = strtoull(x->base, NULL, 10);
    unsigned long long ty = strtoull(y->base, NULL, 10);

    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->base, y->base);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct msg *old_msg(struct msg *m, size_t n, uint32_t uid)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && m[lo].uid == uid ? &m[lo] : NULL;
}

/* One pass of box_sync; *stale_r when a file vanished while its date was
 * read (the caller runs it again). */
static imapsrv_status sync_once(struct box *b, bool movenew, bool dates,
                                bool *stale_r)
{
    struct uidlist ul, nul = {0};
    struct sfile *f = NULL, **match = NULL, **fresh = NULL, **files = NULL;
    struct msg *msgs = NULL;
    size_t nf = 0, nfresh = 0, dropped = 0;
    char **bases = NULL;
    imapsrv_status st = box_load_list(b, &ul, false);

    *stale_r = false;
    if (st != IMAPSRV_OK)
        return st;
    if (!(match = calloc(ul.n + 1, sizeof *match))) {
        ul_clear(&ul);
        return IMAPSRV_E_NOMEM;
    }
    /* A file renamed (a flag change by a program that ignores our lock)
     * while readdir runs may be missed: a listed file is only taken as
     * expunged when it is missing from three scans. */
    for (int attempt = 0;; attempt++) {
        size_t missing = 0;

        sfiles_free(f, nf);
        f = NULL;
        if ((st = scan(b, &f, &nf)) != IMAPSRV_OK) {
            nf = 0;
            goto out;
        }
        for (size_t i = 0; i < ul.n; i++) {
            match[i] = sfile_find(f, nf, ul.e[i].base);
            if (match[i] && match[i]->used)
                match[i] = NULL; /* the same base listed twice */
            if (match[i])
                match[i]->used = true;
            else
                missing++;
        }
        if (missing == 0 || attempt == 2)
            break;
    }

    /* The new list: listed files that exist, then unlisted ones. */
    nul.uidvalidity = ul.uidvalidity;
    nul.uidnext = ul.uidnext;
    if (!(files = calloc(ul.n + nf + 1, sizeof *files)) ||
        !(fresh = calloc(nf + 1, sizeof *fresh)) ||
        !(bases = calloc(ul.n + 1, sizeof *bases))) {
        st = IMAPSRV_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < ul.n && st == IMAPSRV_OK; i++) {
        if (!match[i]) {
            dropped++;
            continue;
        }
        files[nul.n] = match[i];
        st = ul_add(&nul, ul.e[i].uid, ul.e[i].base);
    }
    for (size_t i = 0; i < nf && st == IMAPSRV_OK; i++) {
        int rc;

        if (f[i].used)
            continue;
        /* A file that cannot be taken in now (unreadable, no room for
         * its CRLF copy) waits without a UID; it must not stop the
         * mailbox from being read. */
        rc = intake(b, &f[i]);
        if (rc < 0 && errno == ENOMEM)
            st = IMAPSRV_E_NOMEM;
        else if (rc > 0)
            fresh[nfresh++] = &f[i];
    }
    if (st != IMAPSRV_OK)
        goto out;
    if (nfresh > 0) {
        size_t nb = 0, k = 0;

        /* A CRLF copy finished after a crash may share its base with the
         * old file's intake, or with a listed file: one UID per base. */
        for (size_t i = 0; i < nul.n; i++)
            bases[nb++] = nul.e[i].base;
        qsort(bases, nb, sizeof *bases, str_cmp);
        qsort(fresh, nfresh, sizeof *fresh, fresh_cmp);
        for (size_t i = 0; i < nfresh; i++) {
            if ((i > 0 && strcmp(fresh[i - 1]->base, fresh[i]->base) == 0) ||
                (nb > 0 &&
                 bsearch(&fresh[i]->base, bases, nb, sizeof *bases, str_cmp)))
                continue;
            if (nul.uidnext == UINT32_MAX)
                break; /* UIDs exhausted: RFC 9051 2.3.1.1 */
            files[nul.n] = fresh[i];
            if ((st = ul_add(&nul, nul.uidnext++, fresh[i]->base)) !=
                IMAPSRV_OK)
                goto out;
            k++;
        }
        nfresh = k;
    }
    if ((dropped > 0 || nfresh > 0) && ul_write(b->dirfd, &nul) < 0) {
        st = md_errno(errno);
        goto out;
    }
    b->uidnext = nul.uidnext;

    /* A read-write session's first look: new/ -> cur/ (no longer
     * \Recent for anyone). */
    for (size_t i = 0; movenew && i < nul.n; i++) {
        struct sfile *s = files[i];
        char *from, *to, *name;

        if (!s->in_new)
            continue;
        name = strchr(s->name, ':') ? strdup(s->name)
                                    : md_printf("%s:2,", s->name);
        from = md_printf("new/%s", s->name);
        to = md_printf("cur/%s", name ? name : "");
        if (name && from && to &&
            md_move_noreplace(b->dirfd, from, b->dirfd, to) == 0) {
            free(s->name);
            s->name = name;
            name = NULL;
            s->in_new = false;
        }
        free(name);
        free(from);
        free(to);
    }

    if (!(msgs = calloc(nul.n + 1, sizeof *msgs))) {
        st = IMAPSRV_E_NOMEM;
        goto out;
    }
    b->recent = 0;
    for (size_t i = 0; i < nul.n; i++) {
        struct sfile *s = files[i];
        struct msg *m = &msgs[i], *o = old_msg(b->msgs, b->count, nul.e[i].uid);
        const char *info = strchr(s->name, ':');
        bool sized;

        m->uid = nul.e[i].uid;
        m->base = nul.e[i].base;
        nul.e[i].base = NULL;
        m->name = s->name;
        s->name = NULL;
        m->in_new = s->in_new;
        b->recent += s->in_new;
        m->flags = info && strncmp(info, ":2,", 3) == 0
                       ? md_info_flags(info + 3, &m->kwbits)
                       : 0;
        m->mtime = o && strcmp(o->base, m->base) == 0 ? o->mtime : -1;
        sized = md_base_size(m->base, &m->size);
        if (!sized && o && strcmp(o->base, m->base) == 0) {
            m->size = o->size; /* stat'ed before */
            sized = true;
        }
        if (!sized || (dates && m->mtime < 0)) {
            struct stat sb;
            char *path = box_msg_path(m);

            if (path && fstatat(b->dirfd, path, &sb, 0) == 0) {
                m->mtime = sb.st_mtim.tv_sec;
                if (!sized)
                    m->size = (uint64_t)sb.st_size;
            } else {
                *stale_r = true;
            }
            free(path);
        }
    }
    box_msgs_free(b->msgs, b->count);
    b->msgs = msgs;
    b->count = b->cap = nul.n;
out:
    for (size_t i = 0; i < nul.n; i++)
        free(nul.e[i].base);
    free(nul.e);
    ul_clear(&ul);
    sfiles_free(f, nf);
    free(match);
    free(fresh);
    free(files);
    free(bases);
    return st;
}

/* Bring the box's list up to date with the disk (entered).  movenew:
 * move new/ files to cur/; dates: read every internal date. */
imapsrv_status box_sync(struct box *b, bool movenew, bool dates)
{
    imapsrv_status st = IMAPSRV_OK;
    bool stale = true;

    for (int tries = 0; tries < 3 && stale && st == IMAPSRV_OK; tries++)
        st = sync_once(b, movenew, dates, &stale);
    return st;
}
