/* maildir: one mailbox directory - its UID list, its files, the
 * operations on messages.
 *
 * Locking: a box's mutex guards its memory; the flock on
 * imapsrv-uidlist.lock (taken through a fresh open, so two boxes of one
 * process exclude each other as two processes do) guards the UID list and
 * every rename in cur/ and new/.  Both are held between box_enter and
 * box_leave.  Every section that writes the UID list reads it first under
 * the same hold: the list in memory is only a cache of the last sync.
 * Lock order: a user's mailbox-set lock, then one box's.  COPY and MOVE
 * never hold two boxes: they stage hard links in the target's tmp/ under
 * the source's lock, then commit them under the target's.  RENAME INBOX
 * holds INBOX and the new mailbox, whose lock it took before the mailbox
 * became visible (nobody else can hold it and wait for INBOX). */
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

#define STALE_TMP (36 * 3600) /* the Maildir convention */

void box_msgs_free(struct msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].base);
        free(m[i].name);
    }
    free(m);
}

imapsrv_status box_open(struct mduser *u, const char *cn, bool readonly,
                        struct box **b_r)
{
    struct box *b;
    int dirfd;
    imapsrv_status st = user_mailbox_dir(u, cn, &dirfd);

    if (st != IMAPSRV_OK)
        return st;
    if (!(b = calloc(1, sizeof *b)) || !(b->name = strdup(cn))) {
        free(b);
        close(dirfd);
        return IMAPSRV_E_NOMEM;
    }
    pthread_mutex_init(&b->lock, NULL);
    b->user = u;
    user_ref(u);
    b->dirfd = dirfd;
    b->readonly = readonly;
    b->lockfd = b->rd_fd = -1;
    b->wd[0] = b->wd[1] = -1;
    *b_r = b;
    return IMAPSRV_OK;
}

void box_close(struct box *b)
{
    if (!b)
        return;
    if (b->rd_fd >= 0)
        close(b->rd_fd);
    close(b->dirfd);
    box_msgs_free(b->msgs, b->count);
    kw_clear(b->kw);
    pthread_mutex_destroy(&b->lock);
    user_unref(b->user);
    free(b->name);
    free(b);
}

imapsrv_status box_enter(struct box *b)
{
    struct stat st;
    int fd;

    pthread_mutex_lock(&b->lock);
    if (b->gone)
        goto gone;
    fd = openat(b->dirfd, UIDLIST_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        imapsrv_status s = md_errno(errno);

        if (s == IMAPSRV_E_NONEXISTENT)
            goto gone; /* the directory was removed */
        pthread_mutex_unlock(&b->lock);
        return s;
    }
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    /* DELETE writes its tombstone under this lock before the directory
     * goes: checked under it, an operation either finishes before the
     * delete or sees it (and adds nothing to a mailbox being removed). */
    if (faccessat(b->dirfd, TOMBSTONE_FILE, F_OK, 0) == 0 ||
        fstatat(b->dirfd, "cur", &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
        close(fd);
        goto gone;
    }
    b->lockfd = fd;
    return IMAPSRV_OK;
gone:
    b->gone = true;
    pthread_mutex_unlock(&b->lock);
    return IMAPSRV_E_NONEXISTENT;
}

/* Let other processes in while this box's memory stays held. */
static void box_unlock_file(struct box *b)
{
    if (b->lockfd >= 0)
        close(b->lockfd);
    b->lockfd = -1;
}

void box_leave(struct box *b)
{
    box_unlock_file(b);
    pthread_mutex_unlock(&b->lock);
}

/* The UID list and the keyword table, under the lock.  A list that went
 * away or changed its UIDVALIDITY since this box first read it is another
 * mailbox now: the box is gone. */
imapsrv_status box_load_list(struct box *b, struct uidlist *ul,
                             bool header_only)
{
    if (ul_read(b->dirfd, ul, header_only) < 0) {
        if (errno != ENOENT && errno != EBADMSG)
            return md_errno(errno);
        if (b->uidvalidity != 0) {
            b->gone = true;
            return IMAPSRV_E_NONEXISTENT;
        }
        /* A folder made by other software, or a damaged list: start one;
         * the new UIDVALIDITY tells clients to forget what they had. */
        ul->uidvalidity = md_next_uidvalidity(b->user);
        ul->uidnext = 1;
        if (ul_write(b->dirfd, ul) < 0)
            return md_errno(errno);
    } else if (b->uidvalidity != 0 && ul->uidvalidity != b->uidvalidity) {
        ul_clear(ul);
        b->gone = true;
        return IMAPSRV_E_NONEXISTENT;
    }
    b->uidvalidity = ul->uidvalidity;
    b->uidnext = ul->uidnext;
    if (kw_read(b->dirfd, b->kw) < 0) {
        ul_clear(ul);
        return md_errno(errno);
    }
    return IMAPSRV_OK;
}

char *box_msg_path(const struct msg *m)
{
    return md_printf("%s/%s", m->in_new ? "new" : "cur", m->name);
}

void box_status(const struct box *b, imapsrv_mailbox_status *st)
{
    memset(st, 0, sizeof *st);
    st->uidvalidity = b->uidvalidity;
    st->uidnext = b->uidnext;
    st->messages = (uint32_t)b->count;
    st->recent = b->recent;
    for (size_t i = 0; i < b->count; i++) {
        if (!(b->msgs[i].flags & IMAPSRV_FLAG_SEEN))
            st->unseen++;
        if (b->msgs[i].flags & IMAPSRV_FLAG_DELETED)
            st->deleted++;
        st->size += b->msgs[i].size;
    }
}

size_t box_lower(const struct box *b, uint32_t uid)
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

struct msg *box_find(struct box *b, uint32_t uid)
{
    size_t i = box_lower(b, uid);

    return i < b->count && b->msgs[i].uid == uid ? &b->msgs[i] : NULL;
}

/* Remove files in tmp/ that a crashed writer left (36 hours, as the
 * Maildir convention says: a slow delivery may still be writing).  By
 * the ctime, which every write, rename and utime renews: an APPEND in
 * progress has already set its file's mtime to the (old) internal date. */
void box_clean_tmp(struct box *b)
{
    int fd = openat(b->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

        if (de->d_name[0] != '.' &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_ctime < now - STALE_TMP)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* ------------------------------------------------------------------ */
/* Keywords                                                            */

/* Letters for keyword names (entered); new names get free letters when
 * `create`, and are otherwise left out. */
static imapsrv_status keyword_bits(struct box *b, const char *const *kw,
                                   size_t n, bool create, uint32_t *bits_r)
{
    bool dirty = false;
    uint32_t bits = 0;

    for (size_t i = 0; i < n; i++) {
        int k = kw_index(b->kw, kw[i]);

        if (k < 0 && create) {
            for (k = 0; k < NKW && b->kw[k]; k++)
                ;
            if (k == NKW) {
                kw_read(b->dirfd, b->kw); /* forget unsaved ones */
                return IMAPSRV_E_LIMIT;
            }
            if (!(b->kw[k] = strdup(kw[i]))) {
                kw_read(b->dirfd, b->kw);
                return IMAPSRV_E_NOMEM;
            }
            dirty = true;
        }
        if (k >= 0)
            bits |= 1u << k;
    }
    if (dirty && kw_write(b->dirfd, b->kw) < 0) {
        imapsrv_status st = md_errno(errno);

        kw_read(b->dirfd, b->kw);
        return st;
    }
    *bits_r = bits;
    return IMAPSRV_OK;
}

imapsrv_status box_keyword_bits(struct box *b, const char *const *kw, size_t n,
                                uint32_t *bits_r)
{
    return keyword_bits(b, kw, n, true, bits_r);
}

/* ------------------------------------------------------------------ */
/* Adding messages                                                     */

/* Commit messages whose files wait in this mailbox's tmp/ as
 * tmp/<base>: into cur/ with their flags, cur/ fsynced, then the UID list
 * (written atomically).  On failure nothing was added and the files are
 * back in tmp/ for the caller to remove. */
imapsrv_status box_add(struct box *b, struct newmsg *m, size_t n)
{
    struct uidlist ul;
    size_t done = 0;
    imapsrv_status st = box_enter(b);
    char **names;

    if (st != IMAPSRV_OK)
        return st;
    if (!(names = calloc(n + 1, sizeof *names))) {
        box_leave(b);
        return IMAPSRV_E_NOMEM;
    }
    if ((st = box_load_list(b, &ul, false)) != IMAPSRV_OK) {
        box_leave(b);
        free(names);
        return st;
    }
    if (n > UINT32_MAX - ul.uidnext)
        st = IMAPSRV_E_LIMIT;
    for (; done < n && st == IMAPSRV_OK; done++) {
        uint32_t bits = 0;
        char *info = NULL, *from = NULL;

        st = keyword_bits(b, (const char *const *)m[done].kw, m[done].nkw, true,
                          &bits);
        if (st == IMAPSRV_OK &&
            (!(info = md_info_build("", m[done].flags, bits)) ||
             !(from = md_printf("tmp/%s", m[done].base)) ||
             !(names[done] = md_printf("cur/%s:2,%s", m[done].base, info))))
            st = IMAPSRV_E_NOMEM;
        if (st == IMAPSRV_OK &&
            md_move_noreplace(b->dirfd, from, b->dirfd, names[done]) < 0)
            st = md_errno(errno);
        free(info);
        free(from);
        if (st != IMAPSRV_OK)
            break;
    }
    if (st == IMAPSRV_OK && md_fsync_dir(b->dirfd, "cur") < 0)
        st = md_errno(errno);
    for (size_t i = 0; i < n && st == IMAPSRV_OK; i++) {
        m[i].uid = ul.uidnext;
        st = ul_add(&ul, ul.uidnext++, m[i].base);
    }
    if (st == IMAPSRV_OK && ul_write(b->dirfd, &ul) < 0)
        st = md_errno(errno);
    if (st == IMAPSRV_OK) {
        b->uidnext = ul.uidnext;
    } else {
        /* Back to tmp/, where the caller's cleanup finds them. */
        for (size_t i = 0; i < done; i++) {
            char *to = md_printf("tmp/%s", m[i].base);

            if (to && names[i])
                renameat(b->dirfd, names[i], b->dirfd, to);
            free(to);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    ul_clear(&ul);
    box_leave(b);
    return st;
}

/* ------------------------------------------------------------------ */
/* Operations on messages                                              */

imapsrv_status mbox_set_flags(struct box *b, const uint32_t *uids, size_t count,
                              imapsrv_flag_op how, unsigned flags,
                              const char *const *kw, size_t nkw)
{
    struct uidlist ul;
    uint32_t bits = 0;
    int resyncs = 0; /* bounded: a file renamed again and again */
    imapsrv_status st = box_enter(b);

    if (st != IMAPSRV_OK)
        return st;
    /* The header only: is it still the same mailbox, and the keywords. */
    if ((st = box_load_list(b, &ul, true)) != IMAPSRV_OK) {
        box_leave(b);
        return st;
    }
    ul_clear(&ul);
    st = keyword_bits(b, kw, nkw, how != IMAPSRV_FLAGS_REMOVE, &bits);
    flags &= SYSTEM_FLAGS;
    for (size_t i = 0; i < count && st == IMAPSRV_OK; i++) {
        struct msg *m = box_find(b, uids[i]);
        unsigned nf;
        uint32_t nbits;
        char *info = NULL, *from = NULL, *to = NULL, *name = NULL;
        int rc;

        if (!m && resyncs++ < 3) {
            /* Not seen yet by this box (an earlier sync's): look. */
            if ((st = box_sync(b, false, false)) != IMAPSRV_OK)
                break;
            m = box_find(b, uids[i]);
        }
        if (!m)
            continue; /* expunged: STORE on it is a no-op */
    again:
        switch (how) {
        case IMAPSRV_FLAGS_SET:
            nf = flags;
            nbits = bits;
            break;
        case IMAPSRV_FLAGS_ADD:
            nf = m->flags | flags;
            nbits = m->kwbits | bits;
            break;
        default:
            nf = m->flags & ~flags;
            nbits = m->kwbits & ~bits;
            break;
        }
        if (nf == m->flags && nbits == m->kwbits && !m->in_new)
            continue;
        info = strchr(m->name, ':');
        info = md_info_build(
            info && strncmp(info, ":2,", 3) == 0 ? info + 3 : "", nf, nbits);
        name = info ? md_printf("%s:2,%s", m->base, info) : NULL;
        from = box_msg_path(m);
        to = name ? md_printf("cur/%s", name) : NULL;
        if (!from || !to) {
            st = IMAPSRV_E_NOMEM;
        } else if ((rc = renameat(b->dirfd, from, b->dirfd, to)) == 0) {
            free(m->name);
            m->name = name;
            name = NULL;
            m->flags = nf;
            m->kwbits = nbits;
            m->in_new = false;
        } else if (errno == ENOENT && resyncs++ < 3) {
            /* Renamed or expunged by someone else: look again; a
             * message still there is changed under its new name. */
            st = box_sync(b, false, false);
            m = st == IMAPSRV_OK ? box_find(b, uids[i]) : NULL;
            free(info);
            free(name);
            free(from);
            free(to);
            info = name = from = to = NULL;
            if (m)
                goto again;
            continue;
        } else if (errno != ENOENT) {
            st = md_errno(errno);
        }
        free(info);
        free(name);
        free(from);
        free(to);
    }
    box_leave(b);
    return st;
}

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Unlink the files of the (sorted) UIDs (entered, after a sync); a file
 * renamed meanwhile by someone else is looked up again once. */
static imapsrv_status unlink_uids(struct box *b, const uint32_t *sorted,
                                  size_t n)
{
    imapsrv_status st = IMAPSRV_OK;

    for (int pass = 0; pass < 2 && st == IMAPSRV_OK; pass++) {
        bool retry = false;

        for (size_t i = 0; i < b->count && st == IMAPSRV_OK; i++) {
            char *path;

            if (!bsearch(&b->msgs[i].uid, sorted, n, sizeof *sorted, uid_cmp))
                continue;
            if (!(path = box_msg_path(&b->msgs[i])))
                st = IMAPSRV_E_NOMEM;
            else if (unlinkat(b->dirfd, path, 0) < 0)
                st = errno == ENOENT ? (retry = true, IMAPSRV_OK)
                                     : md_errno(errno);
            free(path);
        }
        if (st == IMAPSRV_OK && md_fsync_dir(b->dirfd, "cur") < 0)
            st = md_errno(errno);
        /* The sync drops the entries whose files are gone and writes
         * the list. */
        if (st == IMAPSRV_OK)
            st = box_sync(b, false, false);
        if (!retry)
            break;
    }
    return st;
}

imapsrv_status mbox_expunge(struct box *b, const uint32_t *uids, size_t n)
{
    uint32_t *sorted = malloc(n ? n * sizeof *sorted : 1);
    imapsrv_status st;

    if (!sorted)
        return IMAPSRV_E_NOMEM;
    if (n > 0)
        memcpy(sorted, uids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, uid_cmp);
    if ((st = box_enter(b)) == IMAPSRV_OK) {
        st = box_sync(b, false, false);
        if (st == IMAPSRV_OK && n > 0)
            st = unlink_uids(b, sorted, n);
        box_leave(b);
    }
    free(sorted);
    return st;
}

/* An open file for a message: the cached one, or a fresh one (a message
 * this box has not seen yet, or whose file was renamed, is looked up
 * again on disk). */
static imapsrv_status open_msg(struct box *b, uint32_t uid, struct msg **m_r)
{
    struct stat st;

    /* A deleted mailbox answers so even while its files are still open
     * here (memstore's semantics). */
    if (b->gone || faccessat(b->dirfd, TOMBSTONE_FILE, F_OK, 0) == 0 ||
        fstat(b->dirfd, &st) < 0 || st.st_nlink == 0) {
        b->gone = true;
        return IMAPSRV_E_NONEXISTENT;
    }
    if (b->rd_fd >= 0 && b->rd_uid == uid && (*m_r = box_find(b, uid)))
        return IMAPSRV_OK;
    if (b->rd_fd >= 0)
        close(b->rd_fd);
    b->rd_fd = -1;
    for (int tries = 0; tries < 2; tries++) {
        struct msg *m = box_find(b, uid);
        imapsrv_status s;

        if (m) {
            char *path = box_msg_path(m);

            if (!path)
                return IMAPSRV_E_NOMEM;
            b->rd_fd = openat(b->dirfd, path, O_RDONLY | O_CLOEXEC);
            free(path);
            if (b->rd_fd >= 0) {
                b->rd_uid = uid;
                *m_r = m;
                return IMAPSRV_OK;
            }
            if (errno != ENOENT)
                return md_errno(errno);
        }
        if (tries > 0)
            break;
        pthread_mutex_unlock(&b->lock);
        if ((s = box_enter(b)) != IMAPSRV_OK) {
            pthread_mutex_lock(&b->lock);
            return s;
        }
        s = box_sync(b, false, false);
        box_unlock_file(b); /* the mutex stays, as the caller had it */
        if (s != IMAPSRV_OK)
            return s;
    }
    return IMAPSRV_E_EXPUNGED;
}

imapsrv_status mbox_read(struct box *b, uint32_t uid, uint64_t off, void *buf,
                         size_t len, size_t *got_r)
{
    struct msg *m;
    imapsrv_status st;
    size_t got = 0;

    *got_r = 0;
    pthread_mutex_lock(&b->lock);
    if ((st = open_msg(b, uid, &m)) == IMAPSRV_OK && off < m->size) {
        while (got < len) {
            ssize_t n = pread(b->rd_fd, (char *)buf + got, len - got,
                              (off_t)(off + got));

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                st = md_errno(errno);
                break;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        *got_r = got;
    }
    pthread_mutex_unlock(&b->lock);
    return st;
}

/* Copy a file's bytes (for file systems without hard links). */
static int copy_file(int fromdir, const char *from, int todir, const char *to)
{
    int in = openat(fromdir, from, O_RDONLY | O_CLOEXEC), out = -1, e;
    char buf[65536];
    struct stat st;

    if (in < 0)
        return -1;
    out = openat(todir, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0 || fstat(in, &st) < 0)
        goto fail;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf), done = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        while (done < n) {
            ssize_t k = write(out, buf + done, (size_t)(n - done));

            if (k < 0 && errno != EINTR)
                goto fail;
            if (k > 0)
                done += k;
        }
    }
    if (futimens(out, (struct timespec[]){st.st_atim, st.st_mtim}) < 0 ||
        fsync(out) < 0)
        goto fail;
    close(in);
    return close(out);
fail:
    e = errno;
    close(in);
    if (out >= 0) {
        close(out);
        unlinkat(todir, to, 0);
    }
    errno = e;
    return -1;
}

static void newmsgs_free(struct newmsg *nm, size_t n, int dirfd, bool unlink)
{
    for (size_t i = 0; i < n; i++) {
        if (unlink && nm[i].base) {
            char *path = md_printf("tmp/%s", nm[i].base);

            if (path)
                unlinkat(dirfd, path, 0);
            free(path);
        }
        free(nm[i].base);
        for (size_t k = 0; k < nm[i].nkw; k++)
            free(nm[i].kw[k]);
        free(nm[i].kw);
    }
    free(nm);
}

/* Stage one source message in dst's tmp/ (src entered). */
static imapsrv_status stage(struct box *src, struct msg *m, struct box *dst,
                            struct newmsg *nm)
{
    char *from = box_msg_path(m), *to;
    imapsrv_status st = IMAPSRV_OK;

    nm->flags = m->flags;
    nm->base = md_unique_base(src->user->md, m->size);
    to = nm->base ? md_printf("tmp/%s", nm->base) : NULL;
    nm->kw = calloc(NKW, sizeof *nm->kw);
    if (!from || !to || !nm->kw) {
        st = IMAPSRV_E_NOMEM;
        goto out;
    }
    for (int k = 0; k < NKW; k++)
        if ((m->kwbits >> k) & 1 && src->kw[k] &&
            !(nm->kw[nm->nkw++] = strdup(src->kw[k]))) {
            st = IMAPSRV_E_NOMEM;
            goto out;
        }
    if (linkat(src->dirfd, from, dst->dirfd, to, 0) < 0) {
        if (errno == ENOENT)
            st = IMAPSRV_E_EXPUNGED; /* the caller looks again */
        else if ((errno == EXDEV || errno == EPERM || errno == EMLINK ||
                  errno == ENOTSUP) &&
                 copy_file(src->dirfd, from, dst->dirfd, to) == 0)
            st = IMAPSRV_OK;
        else
            st = md_errno(errno);
    }
out:
    if (st != IMAPSRV_OK) {
        free(nm->base); /* nothing staged under it */
        nm->base = NULL;
        for (size_t k = 0; nm->kw && k < nm->nkw; k++)
            free(nm->kw[k]);
        free(nm->kw);
        nm->kw = NULL;
        nm->nkw = 0;
    }
    free(from);
    free(to);
    return st;
}

/* COPY and MOVE (memstore's checks, in its order).  Phase 1, under the
 * source's lock: every UID must exist (else EXPUNGEISSUED), and is hard-
 * linked into the target's tmp/.  Phase 2, under the target's: box_add.
 * Phase 3 (MOVE), under the source's again: the originals go.  A crash
 * leaves at worst a duplicate (MOVE) or stray tmp/ links, never a loss. */
imapsrv_status mbox_copy(struct box *src, const uint32_t *uids, size_t count,
                         const char *dest, imapsrv_copy_result *res, bool move)
{
    struct box *dst;
    struct newmsg *nm = NULL;
    imapsrv_status st = box_open(src->user, dest, false, &dst);
    size_t staged = 0;

    if (st != IMAPSRV_OK)
        return st;
    if ((st = box_enter(src)) != IMAPSRV_OK) {
        box_close(dst);
        return st;
    }
    if (move && src->readonly)
        st = IMAPSRV_E_NOPERM;
    else if (!res || res->count < count || (count > 0 && !res->uids))
        st = IMAPSRV_E_INVALID;
    else if (!(nm = calloc(count + 1, sizeof *nm)))
        st = IMAPSRV_E_NOMEM;
    for (int pass = 0; pass < 2 && st == IMAPSRV_OK; pass++) {
        bool missing = false;

        if (pass == 1 && (st = box_sync(src, false, false)) != IMAPSRV_OK)
            break;
        for (size_t i = 0; i < count && !missing; i++)
            missing = !box_find(src, uids[i]);
        if (!missing)
            break;
        if (pass == 1)
            st = IMAPSRV_E_EXPUNGED;
    }
    for (int pass = 0; st == IMAPSRV_OK && staged < count;) {
        st = stage(src, box_find(src, uids[staged]), dst, &nm[staged]);
        if (st == IMAPSRV_OK) {
            staged++;
        } else if (st == IMAPSRV_E_EXPUNGED && pass++ == 0) {
            /* A source file renamed meanwhile: look again, once. */
            if ((st = box_sync(src, false, false)) == IMAPSRV_OK &&
                !box_find(src, uids[staged]))
                st = IMAPSRV_E_EXPUNGED;
        }
    }
    box_leave(src);

    if (st == IMAPSRV_OK && count == 0) {
        /* Nothing to add, but the answer names the target's
         * UIDVALIDITY. */
        struct uidlist ul;

        if ((st = box_enter(dst)) == IMAPSRV_OK) {
            if ((st = box_load_list(dst, &ul, true)) == IMAPSRV_OK)
                ul_clear(&ul);
            box_leave(dst);
        }
    } else if (st == IMAPSRV_OK) {
        st = box_add(dst, nm, count);
    }
    if (st == IMAPSRV_OK) {
        res->uidvalidity = dst->uidvalidity;
        for (size_t i = 0; i < count; i++)
            res->uids[i] = nm[i].uid;
        res->count = count;
    }
    newmsgs_free(nm, nm ? count : 0, dst->dirfd, st != IMAPSRV_OK);
    box_close(dst);

    if (st == IMAPSRV_OK && move && count > 0) {
        uint32_t *sorted = malloc(count * sizeof *sorted);

        if (!sorted)
            return IMAPSRV_E_NOMEM;
        memcpy(sorted, uids, count * sizeof *sorted);
        qsort(sorted, count, sizeof *sorted, uid_cmp);
        if ((st = box_enter(src)) == IMAPSRV_OK) {
            st = box_sync(src, false, false);
            if (st == IMAPSRV_OK)
                st = unlink_uids(src, sorted, count);
            box_leave(src);
        }
        free(sorted);
    }
    return st;
}

/* RENAME INBOX: move every message file (entered, synced) into the
 * directory `todirfd`, whose UID list already names them; then INBOX's
 * list drops them.  Each file is in exactly one of the two at any time. */
imapsrv_status mbox_move_all(struct box *from, int todirfd)
{
    for (size_t i = 0; i < from->count; i++) {
        char *path = box_msg_path(&from->msgs[i]);

        if (!path)
            return IMAPSRV_E_NOMEM;
        if (md_move_noreplace(from->dirfd, path, todirfd, path) < 0 &&
            errno != ENOENT) {
            imapsrv_status st = md_errno(errno);

            free(path);
            return st;
        }
        free(path);
    }
    if (md_fsync_dir(todirfd, "cur") < 0 || md_fsync_dir(todirfd, "new") < 0)
        return md_errno(errno);
    return box_sync(from, false, false);
}
