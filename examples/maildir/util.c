/* maildir: names, file helpers and the small file formats (see
 * maildir.h for what they are on disk). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maildir_int.h"

char *md_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* What a failed system call means to a client. */
imapsrv_status md_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return IMAPSRV_E_NONEXISTENT;
    case ENOMEM: return IMAPSRV_E_NOMEM;
    case ENOSPC:
    case EDQUOT: return IMAPSRV_E_OVERQUOTA;
    case ENAMETOOLONG: return IMAPSRV_E_LIMIT;
    default: return IMAPSRV_E_UNAVAILABLE;
    }
}

/* Room for `need` elements in a doubling array; NULL (arr untouched) on
 * failure. */
void *md_reserve(void *arr, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;
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

/* ------------------------------------------------------------------ */
/* Mailbox names                                                       */

/* The store's spelling of a client's name, as memstore's: "INBOX" in any
 * case (also as the first component) becomes "INBOX", one trailing '/' is
 * dropped; empty names and components, "." and ".." components, control
 * characters and LIST wildcards are refused with `bad`. */
imapsrv_status md_canon(const char *name, imapsrv_status bad, char **out)
{
    size_t len = name ? strlen(name) : 0;
    char *s;

    if (len > 0 && name[len - 1] == '/')
        len--;
    if (len == 0 || name[0] == '/' || name[len - 1] == '/')
        return bad;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool start = i == 0 || name[i - 1] == '/';

        if (c < 0x20 || c == 0x7f || c == '*' || c == '%' ||
            (c == '/' && name[i + 1] == '/'))
            return bad;
        /* "." and ".." components: harmless once escaped, but no client
         * means them, and refusing them keeps traversal out entirely. */
        if (start && c == '.' &&
            (i + 1 == len || name[i + 1] == '/' ||
             (name[i + 1] == '.' && (i + 2 == len || name[i + 2] == '/'))))
            return bad;
    }
    if (!(s = strndup(name, len)))
        return IMAPSRV_E_NOMEM;
    if (strncasecmp(s, "INBOX", 5) == 0 && (s[5] == '\0' || s[5] == '/'))
        memcpy(s, "INBOX", 5);
    *out = s;
    return IMAPSRV_OK;
}

static bool must_escape(unsigned char c)
{
    return c == '.' || c == '%' || c < 0x20 || c == 0x7f;
}

/* The directory of a canonical name: "." for INBOX, ".a.b" for "a/b". */
imapsrv_status md_encode(const char *cn, char **dir_r)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 1;
    char *d, *p;

    if (strcmp(cn, "INBOX") == 0) {
        *dir_r = strdup(".");
        return *dir_r ? IMAPSRV_OK : IMAPSRV_E_NOMEM;
    }
    for (const char *s = cn; *s; s++)
        len += must_escape((unsigned char)*s) ? 3 : 1;
    if (len > 255) /* NAME_MAX of every Linux file system */
        return IMAPSRV_E_LIMIT;
    if (!(d = malloc(len + 1)))
        return IMAPSRV_E_NOMEM;
    p = d;
    *p++ = '.';
    for (const char *s = cn; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '/') {
            *p++ = '.';
        } else if (must_escape(c)) {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    *dir_r = d;
    return IMAPSRV_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The canonical name of a folder directory, or NULL when it is not one
 * this store would have made (the store's work directories, names that
 * do not encode back to `dir`, INBOX spelled as a folder). */
char *md_decode(const char *dir)
{
    size_t len = strlen(dir);
    char *name, *p, *cn = NULL, *again = NULL;
    bool ok;

    if (len < 2 || dir[0] != '.' || dir[1] == '.')
        return NULL;
    if (!(name = malloc(len)))
        return NULL;
    p = name;
    for (const char *s = dir + 1; *s; s++) {
        if (*s == '.') {
            *p++ = '/';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *p++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    ok = md_canon(name, IMAPSRV_E_INVALID, &cn) == IMAPSRV_OK &&
         strcmp(cn, "INBOX") != 0 && md_encode(cn, &again) == IMAPSRV_OK &&
         strcmp(again, dir) == 0;
    free(again);
    free(name);
    if (!ok) {
        free(cn);
        return NULL;
    }
    return cn;
}

/* Is `name` `parent` itself or below it? */
bool md_in_subtree(const char *name, const char *parent)
{
    size_t len = strlen(parent);

    return strncmp(name, parent, len) == 0 &&
           (name[len] == '\0' || name[len] == '/');
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

int md_fsync_dir(int dirfd, const char *sub)
{
    int fd, rc, e;

    if (!sub)
        return fsync(dirfd);
    fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Replace `name` in `dirfd` so that a reader or a crash sees the old or
 * the new content, never a mix: a temporary file, fsync, rename over,
 * fsync of the directory.  The caller holds the lock that guards `name`
 * (so one fixed temporary name suffices). */
int md_write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
    char *tmp = md_printf("%s.tmp", name);
    int fd, e;

    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        e = errno;
        close(fd);
        errno = e;
        goto fail_unlink;
    }
    if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0)
        goto fail_unlink;
    free(tmp);
    return fsync(dirfd);
fail_unlink:
    e = errno;
    unlinkat(dirfd, tmp, 0);
    errno = e;
fail:
    e = errno;
    free(tmp);
    errno = e;
    return -1;
}

/* A whole small file, NUL-terminated; NULL with errno set. */
char *md_read_file(int dirfd, const char *name, size_t *len_r)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    size_t len = 0, cap = 0;
    char *buf = NULL, *p;
    int e;

    if (fd < 0)
        return NULL;
    for (;;) {
        ssize_t n;

        if (!(p = md_reserve(buf, &cap, len + 4097, 1))) {
            errno = ENOMEM;
            goto fail;
        }
        buf = p;
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_r)
        *len_r = len;
    return buf;
fail:
    e = errno;
    close(fd);
    free(buf);
    errno = e;
    return NULL;
}

/* Remove a file or a directory tree (no symlinks followed).  A directory
 * that another process fills meanwhile is tried again a few times. */
int md_rm_rf(int dfd, const char *name)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    for (int tries = 0; tries < 5; tries++) {
        int fd =
            openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
            return errno == ENOENT ? 0 : -1;
        if (!(d = fdopendir(fd))) {
            close(fd);
            return -1;
        }
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                md_rm_rf(dirfd(d), de->d_name);
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -1;
    }
    return -1;
}

/* "<time>.<pid>_<counter>.<host>,S=<size>".  The counter is the
 * process's, not the store's: two maildir objects in one process (or one
 * store reopened within a second) must still make different names. */
char *md_unique_base(maildir *md, uint64_t size)
{
    static atomic_ulong counter;
    unsigned long n = atomic_fetch_add(&counter, 1) + 1;

    return md_printf("%lld.%ld_%lu.%s,S=%llu", (long long)time(NULL),
                     (long)getpid(), n, md->host, (unsigned long long)size);
}

/* Move a file where no file of that name may exist yet: renameat2's
 * RENAME_NOREPLACE, or link + unlink on file systems without it. */
int md_move_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
    if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(fromfd, from, tofd, to, 0) < 0)
        return -1;
    unlinkat(fromfd, from, 0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Message file names                                                  */

/* "base:2,FLAGS" -> base (allocated; NULL when out of memory) and the
 * flag letters (pointing into name; "" when there are none). */
void md_split_name(const char *name, char **base_r, const char **info_r)
{
    const char *colon = strchr(name, ':');

    *info_r = "";
    if (!colon) {
        *base_r = strdup(name);
        return;
    }
    *base_r = strndup(name, (size_t)(colon - name));
    if (strncmp(colon, ":2,", 3) == 0)
        *info_r = colon + 3;
}

/* The ",S=<size>" field of a base name. */
bool md_base_size(const char *base, uint64_t *size_r)
{
    const char *p = strstr(base, ",S=");
    uint64_t v = 0;

    if (!p || !isdigit((unsigned char)p[3]))
        return false;
    for (p += 3; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0' && *p != ',')
        return false;
    *size_r = v;
    return true;
}

/* The base with its S= and W= fields (Dovecot's sizes) replaced by our
 * exact size. */
char *md_base_resize(const char *base, uint64_t size)
{
    size_t len = strlen(base);
    char *out = malloc(len + 32), *p = out;
    const char *s = base, *comma;

    if (!out)
        return NULL;
    comma = strchr(s, ',');
    memcpy(p, s, comma ? (size_t)(comma - s) : len);
    p += comma ? (size_t)(comma - s) : len;
    while (comma) {
        const char *next = strchr(comma + 1, ',');
        size_t n = next ? (size_t)(next - comma) : strlen(comma);

        if (strncmp(comma, ",S=", 3) != 0 && strncmp(comma, ",W=", 3) != 0) {
            memcpy(p, comma, n);
            p += n;
        }
        comma = next;
    }
    sprintf(p, ",S=%llu", (unsigned long long)size);
    return out;
}

static const struct {
    char letter;
    unsigned flag;
} letters[] = {
    {'D', IMAPSRV_FLAG_DRAFT},    {'F', IMAPSRV_FLAG_FLAGGED},
    {'R', IMAPSRV_FLAG_ANSWERED}, {'S', IMAPSRV_FLAG_SEEN},
    {'T', IMAPSRV_FLAG_DELETED},
};

unsigned md_info_flags(const char *info, uint32_t *kwbits_r)
{
    unsigned flags = 0;
    uint32_t kw = 0;

    for (const char *p = info; *p && *p != ','; p++) {
        if (*p >= 'a' && *p <= 'z')
            kw |= 1u << (*p - 'a');
        for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
            if (letters[i].letter == *p)
                flags |= letters[i].flag;
    }
    *kwbits_r = kw;
    return flags;
}

/* The flag letters for (flags, kwbits), keeping the letters of `old`
 * that IMAP does not map (P, and any other upper-case one): in ASCII
 * order, as the Maildir convention wants. */
char *md_info_build(const char *old, unsigned flags, uint32_t kwbits)
{
    bool on[128] = {false};
    char *out = malloc(128), *p = out;

    if (!out)
        return NULL;
    for (const char *s = old; *s && *s != ','; s++)
        if (*s >= 'A' && *s <= 'Z')
            on[(unsigned char)*s] = true;
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
        on[(unsigned char)letters[i].letter] = (flags & letters[i].flag) != 0;
    for (int i = 0; i < NKW; i++)
        on['a' + i] = (kwbits >> i) & 1;
    for (int c = 33; c < 127; c++)
        if (on[c])
            *p++ = (char)c;
    *p = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* The UID list                                                        */

void ul_clear(struct uidlist *ul)
{
    for (size_t i = 0; i < ul->n; i++)
        free(ul->e[i].base);
    free(ul->e);
    memset(ul, 0, sizeof *ul);
}

imapsrv_status ul_add(struct uidlist *ul, uint32_t uid, const char *base)
{
    struct ul_entry *p = md_reserve(ul->e, &ul->cap, ul->n + 1, sizeof *p);
    char *dup = strdup(base);

    if (!p || !dup) {
        free(dup);
        if (p)
            ul->e = p;
        return IMAPSRV_E_NOMEM;
    }
    ul->e = p;
    ul->e[ul->n].uid = uid;
    ul->e[ul->n++].base = dup;
    return IMAPSRV_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct ul_entry *)a)->uid;
    uint32_t y = ((const struct ul_entry *)b)->uid;

    return (x > y) - (x < y);
}

/* 0, or -1 with errno: ENOENT (no list), EBADMSG (no valid header: the
 * caller starts a new list, which a new UIDVALIDITY makes safe). */
int ul_read(int dirfd, struct uidlist *ul, bool header_only)
{
    char *text, *line, *save = NULL, *hsave = NULL;
    bool sorted = true;
    uint32_t last = 0;

    memset(ul, 0, sizeof *ul);
    if (header_only) {
        int fd = openat(dirfd, UIDLIST_FILE, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
            return -1;
        text = malloc(128);
        n = text ? pread(fd, text, 127, 0) : -1;
        close(fd);
        if (n < 0) {
            free(text);
            errno = text ? EIO : ENOMEM;
            return -1;
        }
        text[n] = '\0';
    } else if (!(text = md_read_file(dirfd, UIDLIST_FILE, NULL))) {
        return -1;
    }
    line = strtok_r(text, "\n", &save);
    for (char *tok = line ? strtok_r(line, " ", &hsave) : NULL; tok;
         tok = strtok_r(NULL, " ", &hsave)) {
        unsigned long v = strtoul(tok + 1, NULL, 10);

        if (tok[0] == 'V' && v <= UINT32_MAX)
            ul->uidvalidity = (uint32_t)v;
        else if (tok[0] == 'N' && v <= UINT32_MAX)
            ul->uidnext = (uint32_t)v;
    }
    if (ul->uidvalidity == 0 || ul->uidnext == 0) {
        free(text);
        errno = EBADMSG;
        return -1;
    }
    while (!header_only && (line = strtok_r(NULL, "\n", &save))) {
        char *end;
        unsigned long uid = strtoul(line, &end, 10);

        /* Damaged lines are skipped: their files get new UIDs. */
        if (uid == 0 || uid >= UINT32_MAX || *end != ' ' || !end[1] ||
            strchr(end + 1, '/'))
            continue;
        if (ul_add(ul, (uint32_t)uid, end + 1) != IMAPSRV_OK) {
            free(text);
            ul_clear(ul);
            errno = ENOMEM;
            return -1;
        }
        if (uid <= last)
            sorted = false;
        last = (uint32_t)uid;
        if (uid >= ul->uidnext)
            ul->uidnext = (uint32_t)uid + 1; /* never hand it out again */
    }
    free(text);
    if (!sorted)
        qsort(ul->e, ul->n, sizeof *ul->e, entry_cmp);
    return 0;
}

int ul_write(int dirfd, const struct uidlist *ul)
{
    size_t cap = 64, len;
    char *text, *p;
    int rc;

    for (size_t i = 0; i < ul->n; i++)
        cap += strlen(ul->e[i].base) + 12;
    if (!(text = malloc(cap))) {
        errno = ENOMEM;
        return -1;
    }
    p = text + sprintf(text, "V%u N%u\n", (unsigned)ul->uidvalidity,
                       (unsigned)ul->uidnext);
    for (size_t i = 0; i < ul->n; i++)
        p += sprintf(p, "%u %s\n", (unsigned)ul->e[i].uid, ul->e[i].base);
    len = (size_t)(p - text);
    rc = md_write_atomic(dirfd, UIDLIST_FILE, text, len);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Keywords                                                            */

void kw_clear(char *kw[NKW])
{
    for (int i = 0; i < NKW; i++) {
        free(kw[i]);
        kw[i] = NULL;
    }
}

bool kw_valid(const char *k)
{
    if (!k || !*k)
        return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false; /* would break the keywords file */
    return true;
}

/* Replace `kw` with the mailbox's table; a missing file is an empty one. */
int kw_read(int dirfd, char *kw[NKW])
{
    char *text = md_read_file(dirfd, KEYWORDS_FILE, NULL), *save = NULL;

    kw_clear(kw);
    if (!text)
        return errno == ENOENT ? 0 : -1;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *end;
        unsigned long i = strtoul(line, &end, 10);

        if (end == line || *end != ' ' || i >= NKW || kw[i] ||
            !kw_valid(end + 1))
            continue;
        if (!(kw[i] = strdup(end + 1))) {
            free(text);
            kw_clear(kw);
            errno = ENOMEM;
            return -1;
        }
    }
    free(text);
    return 0;
}

int kw_write(int dirfd, char *const kw[NKW])
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc;

    if (!f)
        return -1;
    for (int i = 0; i < NKW; i++)
        if (kw[i])
            fprintf(f, "%d %s\n", i, kw[i]);
    if (fclose(f) != 0) {
        free(text);
        errno = ENOMEM;
        return -1;
    }
    rc = md_write_atomic(dirfd, KEYWORDS_FILE, text, len);
    free(text);
    return rc;
}

/* Keywords compare case-insensitively, like every IMAP flag. */
int kw_index(char *const kw[NKW], const char *name)
{
    for (int i = 0; i < NKW; i++)
        if (kw[i] && strcasecmp(kw[i], name) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* UIDVALIDITY and special use                                         */

/* max(now, last + 1), remembered in the user's root under a flock: a
 * mailbox recreated under an old name, by this process or another, after
 * a restart or within the same second, never repeats a UIDVALIDITY. */
uint32_t md_next_uidvalidity(struct mduser *u)
{
    uint32_t now = (uint32_t)time(NULL), last = 0, v;
    int fd = openat(u->rootfd, UIDV_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    char buf[32];
    ssize_t n;

    if (fd < 0)
        return now; /* still unique enough within a second */
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = '\0';
        last = (uint32_t)strtoul(buf, NULL, 10);
    }
    v = now > last ? now : last + 1;
    if (v == 0)
        v = 1;
    n = snprintf(buf, sizeof buf, "%u\n", (unsigned)v);
    if (pwrite(fd, buf, (size_t)n, 0) == n && ftruncate(fd, n) == 0)
        fsync(fd);
    close(fd); /* releases the lock */
    return v;
}

static const struct {
    const char *word;
    unsigned use;
} use_words[] = {
    {"\\All", IMAPSRV_MBOX_ALL},       {"\\Archive", IMAPSRV_MBOX_ARCHIVE},
    {"\\Drafts", IMAPSRV_MBOX_DRAFTS}, {"\\Flagged", IMAPSRV_MBOX_FLAGGED},
    {"\\Junk", IMAPSRV_MBOX_JUNK},     {"\\Sent", IMAPSRV_MBOX_SENT},
    {"\\Trash", IMAPSRV_MBOX_TRASH},
};

static const struct {
    const char *name;
    unsigned use;
} well_known[] = {
    {"Sent", IMAPSRV_MBOX_SENT},
    {"Sent Messages", IMAPSRV_MBOX_SENT},
    {"Sent Items", IMAPSRV_MBOX_SENT},
    {"Drafts", IMAPSRV_MBOX_DRAFTS},
    {"Trash", IMAPSRV_MBOX_TRASH},
    {"Deleted Messages", IMAPSRV_MBOX_TRASH},
    {"Deleted Items", IMAPSRV_MBOX_TRASH},
    {"Junk", IMAPSRV_MBOX_JUNK},
    {"Spam", IMAPSRV_MBOX_JUNK},
    {"Archive", IMAPSRV_MBOX_ARCHIVE},
    {"Archives", IMAPSRV_MBOX_ARCHIVE},
};

/* The special use of mailbox `name` in directory `dir`: what CREATE
 * recorded, else what its name says (top-level names only). */
unsigned md_special_use_read(int rootfd, const char *dir, const char *name)
{
    char *path = md_printf("%s/%s", dir, SPECIAL_USE_FILE);
    char *text = path ? md_read_file(rootfd, path, NULL) : NULL;
    unsigned use = 0;

    free(path);
    if (text) {
        char *save = NULL;

        for (char *w = strtok_r(text, " \n", &save); w;
             w = strtok_r(NULL, " \n", &save))
            for (size_t i = 0; i < sizeof use_words / sizeof *use_words; i++)
                if (strcasecmp(w, use_words[i].word) == 0)
                    use |= use_words[i].use;
        free(text);
        return use;
    }
    for (size_t i = 0; i < sizeof well_known / sizeof *well_known; i++)
        if (strcasecmp(name, well_known[i].name) == 0)
            return well_known[i].use;
    return 0;
}

char *md_special_use_text(unsigned use)
{
    char *out = malloc(128), *p = out;

    if (!out)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < sizeof use_words / sizeof *use_words; i++)
        if (use & use_words[i].use)
            p += sprintf(p, "%s%s", p == out ? "" : " ", use_words[i].word);
    strcpy(p, "\n");
    return out;
}
