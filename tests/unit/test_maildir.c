/* Unit tests of the Maildir example store, through its hooks, against a
 * temporary directory.
 *
 * The library is not linked: as in test_memstore, the emit sinks (and
 * imapsrv_notify_mailbox, which the store's watcher calls) are faked
 * below; the `imapsrv_op *` the hooks get is a pointer to the collector.
 * "Another process" is played by plain file operations in the test, or by
 * a second maildir object on the same directory. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "maildir/maildir.h"

#define MAXE 64

struct fake_op {
    size_t nbox;
    char *box[MAXE];
    unsigned attrs[MAXE];
    size_t nmsg;
    imapsrv_message_info msg[MAXE];
    char kw[MAXE][256]; /* the keywords of msg[i], joined by ' ' */
    size_t calls;
    size_t fail_at; /* 1-based emit call that answers NOMEM; 0 = none */
};

imapsrv_status imapsrv_emit_mailbox(imapsrv_op *op,
                                    const imapsrv_mailbox_info *mb)
{
    struct fake_op *f = (struct fake_op *)op;

    if (++f->calls == f->fail_at)
        return IMAPSRV_E_NOMEM;
    ck_assert_uint_lt(f->nbox, MAXE);
    f->box[f->nbox] = strdup(mb->name);
    f->attrs[f->nbox++] = mb->attrs;
    return IMAPSRV_OK;
}

imapsrv_status imapsrv_emit_message(imapsrv_op *op,
                                    const imapsrv_message_info *msg)
{
    struct fake_op *f = (struct fake_op *)op;
    char *kw;

    if (++f->calls == f->fail_at)
        return IMAPSRV_E_NOMEM;
    if (f->nmsg == MAXE)
        return IMAPSRV_OK; /* big lists: only the count matters */
    kw = f->kw[f->nmsg];
    kw[0] = '\0';
    for (size_t i = 0; i < msg->keyword_count; i++) {
        if (i > 0)
            strcat(kw, " ");
        strcat(kw, msg->keywords[i]);
    }
    f->msg[f->nmsg] = *msg;
    f->msg[f->nmsg++].keywords = NULL; /* not valid after the call */
    return IMAPSRV_OK;
}

/* What the watcher reported. */
static pthread_mutex_t nlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ncond = PTHREAD_COND_INITIALIZER;
static char notified[256];

imapsrv_status imapsrv_notify_mailbox(imapsrv *srv, const char *user,
                                      const char *mailbox)
{
    pthread_mutex_lock(&nlock);
    snprintf(notified, sizeof notified, "%s:%s", user, mailbox);
    pthread_cond_broadcast(&ncond);
    pthread_mutex_unlock(&nlock);
    return IMAPSRV_OK;
}

/* ------------------------------------------------------------------ */
/* Fixture and helpers                                                 */

static char tmpdir[64];
static char tmpl[128]; /* the root template */
static maildir *md;
static imapsrv_store_hooks H;
static void *U; /* the session's user "u" */
static struct fake_op F;
#define OP ((imapsrv_op *)&F)

static void fake_reset(void)
{
    for (size_t i = 0; i < F.nbox; i++)
        free(F.box[i]);
    memset(&F, 0, sizeof F);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    char err[256];

    strcpy(tmpdir, "/tmp/test_maildir.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(tmpl, sizeof tmpl, "%s/%%u/Maildir", tmpdir);
    ck_assert_int_eq(maildir_new(tmpl, &md, err, sizeof err), IMAPSRV_OK);
    ck_assert_ptr_nonnull(md);
    maildir_hooks(md, &H);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "u", &U), IMAPSRV_OK);
}

static void teardown(void)
{
    if (U)
        H.user_close(H.userdata, U);
    fake_reset();
    maildir_free(&md);
    ck_assert_ptr_null(md);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path under the user's Maildir (static buffer, one at a time). */
static const char *P(const char *rel)
{
    static char buf[2][512];
    static int k;

    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/u/Maildir/%s", tmpdir, rel);
    return buf[k];
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Entries of a directory (not . and ..). */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Entries of a directory whose names start with '.' (folders). */
static int count_dots(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
            strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The one file of a directory whose name contains `part`. */
static const char *find_file(const char *dir, const char *part)
{
    static char name[512];
    DIR *d = opendir(dir);
    struct dirent *de;

    name[0] = '\0';
    if (!d)
        return name;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strstr(de->d_name, part))
            snprintf(name, sizeof name, "%s", de->d_name);
    closedir(d);
    return name;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "rb");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* As an MDA delivers: write in tmp/, rename into new/.  `mtime` > 0 sets
 * the file's date. */
static void deliver(const char *dir, const char *name, const char *text,
                    time_t mtime)
{
    char tmp[512], final[512];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, name);
    snprintf(final, sizeof final, "%s/new/%s", dir, name);
    f = fopen(tmp, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    if (mtime > 0) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};

        ck_assert_int_eq(utimensat(AT_FDCWD, tmp, ts, 0), 0);
    }
    ck_assert_int_eq(rename(tmp, final), 0);
}

/* The attributes LIST shows for `name`; ~0u if it is not listed. */
static unsigned attrs_of(const char *name)
{
    unsigned attrs = ~0u;

    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_OK);
    for (size_t i = 0; i < F.nbox; i++)
        if (strcmp(F.box[i], name) == 0)
            attrs = F.attrs[i];
    return attrs;
}

/* Every listed name, comma-separated, in the store's order. */
static const char *names(void)
{
    static char buf[1024];

    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < F.nbox; i++) {
        if (i > 0)
            strcat(buf, ",");
        strcat(buf, F.box[i]);
    }
    return buf;
}

static imapsrv_status create(const char *name)
{
    return H.create(H.userdata, OP, U, name, 0);
}

static void *open_box(const char *name, int readonly)
{
    imapsrv_mailbox_status st;
    void *h = NULL;

    ck_assert_int_eq(H.open(H.userdata, OP, U, name, readonly, &h, &st),
                     IMAPSRV_OK);
    return h;
}

static imapsrv_mailbox_status status_of(const char *name)
{
    imapsrv_mailbox_status st;

    ck_assert_int_eq(H.status(H.userdata, OP, U, name, &st), IMAPSRV_OK);
    return st;
}

/* The UIDs of a mailbox, space-separated. */
static const char *uids(void *h)
{
    static char buf[1024];

    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < F.nmsg; i++)
        sprintf(buf + strlen(buf), "%s%u", i ? " " : "", F.msg[i].uid);
    return buf;
}

/* One message's info (its keywords are in F.kw[0]). */
static imapsrv_message_info info(void *h, uint32_t uid)
{
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, uid), IMAPSRV_OK);
    ck_assert_uint_ge(F.nmsg, 1);
    ck_assert_uint_eq(F.msg[0].uid, uid);
    return F.msg[0];
}

static uint32_t append_kw(const char *box, const char *text, unsigned flags,
                          const char *const *kw, size_t nkw)
{
    void *a = NULL;
    uint32_t uidv = 0, uid = 0;
    size_t len = strlen(text);

    ck_assert_int_eq(H.append_begin(H.userdata, OP, U, box, flags, kw, nkw,
                                    1700000000, 60, len, &a),
                     IMAPSRV_OK);
    /* In two chunks, as the library streams it. */
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, text, len / 2),
                     IMAPSRV_OK);
    ck_assert_int_eq(
        H.append_data(H.userdata, OP, a, text + len / 2, len - len / 2),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(uidv, status_of(box).uidvalidity);
    return uid;
}

static uint32_t append(const char *box, const char *text, unsigned flags)
{
    return append_kw(box, text, flags, NULL, 0);
}

static imapsrv_status store(void *h, uint32_t uid, imapsrv_flag_op how,
                            unsigned flags, const char *kw)
{
    const char *list[1] = {kw};

    return H.set_flags(H.userdata, OP, h, &uid, 1, how, flags, list,
                       kw ? 1 : 0);
}

static const char *read_all(void *h, uint32_t uid)
{
    static char buf[4096];
    size_t got = 0;

    ck_assert_int_eq(
        H.read(H.userdata, OP, h, uid, 0, buf, sizeof buf - 1, &got),
        IMAPSRV_OK);
    buf[got] = '\0';
    return buf;
}

/* Close the session, free the store, make a new one on the same
 * directory (a restart). */
static void restart(void)
{
    char err[256];

    H.user_close(H.userdata, U);
    U = NULL;
    maildir_free(&md);
    ck_assert_int_eq(maildir_new(tmpl, &md, err, sizeof err), IMAPSRV_OK);
    maildir_hooks(md, &H);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "u", &U), IMAPSRV_OK);
}

#define MSG1 "Subject: one\r\n\r\nfirst\r\n"
#define MSG2 "Subject: two\r\n\r\nsecond body\r\n"
#define MSG3 "Subject: three\r\n\r\n3\r\n"

/* ------------------------------------------------------------------ */
/* Store, users and hook table                                         */

START_TEST(test_hooks_table)
{
    maildir *m2 = NULL;
    char err[64];

    ck_assert_uint_eq(H.size, sizeof H);
    ck_assert_ptr_eq(H.userdata, md);
    ck_assert(H.user_open && H.user_close && H.list && H.create &&
              H.delete_mailbox && H.rename && H.subscribe && H.status &&
              H.open && H.close && H.messages && H.read && H.set_flags &&
              H.copy && H.move && H.expunge && H.append_begin &&
              H.append_data && H.append_end && H.cache_put && H.cache_get);
    ck_assert_ptr_null(H.search_body);
    ck_assert_int_eq(maildir_new("", &m2, err, sizeof err), IMAPSRV_E_INVALID);
    ck_assert_str_ne(err, "");
    ck_assert_int_eq(maildir_new(NULL, &m2, NULL, 0), IMAPSRV_E_INVALID);
    maildir_free(NULL); /* harmless */
    maildir_free(&m2);
}
END_TEST

START_TEST(test_user_open)
{
    void *again, *other;

    ck_assert_str_eq(names(), "INBOX");
    /* The Maildir was made on the first login. */
    ck_assert(exists(P("tmp")) && exists(P("new")) && exists(P("cur")));
    ck_assert_int_eq(H.user_open(H.userdata, OP, "u", &again), IMAPSRV_OK);
    ck_assert_ptr_eq(again, U);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "v", &other), IMAPSRV_OK);
    ck_assert_ptr_ne(other, U);
    ck_assert_int_eq(create("OnlyU"), IMAPSRV_OK);
    fake_reset();
    ck_assert_int_eq(H.list(H.userdata, OP, other, "*"), IMAPSRV_OK);
    ck_assert_uint_eq(F.nbox, 1); /* users do not share mailboxes */
    ck_assert_str_eq(F.box[0], "INBOX");
    H.user_close(H.userdata, again);
    H.user_close(H.userdata, other);
}
END_TEST

START_TEST(test_user_names)
{
    static const char *const bad[] = {"",    ".",    "..",   ".hidden",
                                      "a/b", "../x", "x\ny", "tab\tx"};
    char path[256];
    void *u;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(H.user_open(H.userdata, OP, bad[i], &u),
                         IMAPSRV_E_AUTHZFAILED);
    ck_assert_int_eq(H.user_open(H.userdata, OP, "a.b@example.org", &u),
                     IMAPSRV_OK);
    snprintf(path, sizeof path, "%s/a.b@example.org/Maildir/cur", tmpdir);
    ck_assert(exists(path));
    H.user_close(H.userdata, u);
    /* Nothing was made outside the temporary directory's users. */
    ck_assert_int_eq(count_files(tmpdir), 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Mailbox set                                                         */

START_TEST(test_create)
{
    ck_assert_int_eq(create("Work"), IMAPSRV_OK);
    ck_assert_int_eq(create("Work"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("INBOX"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("inBox"), IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(create("a/b/c"), IMAPSRV_OK); /* parents created */
    ck_assert_int_eq(create("x/"), IMAPSRV_OK);    /* trailing '/' dropped */
    ck_assert_int_eq(create("inbox/Sub"), IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,INBOX/Sub,Work,a,a/b,a/b/c,x");
    ck_assert_uint_eq(attrs_of("a/b"), 0); /* real, selectable mailboxes */
    status_of("a");
    ck_assert_int_eq(create(""), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("/a"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("a//b"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("x//"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("st*r"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("per%"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("ctl\x01"), IMAPSRV_E_CANNOT);
    ck_assert_int_eq(create("Gr\xc3\xbc\xc3\x9f"
                            "e"),
                     IMAPSRV_OK); /* UTF-8 */
    /* On disk: Maildir++ folders, each a whole Maildir. */
    ck_assert(exists(P(".Work/cur")) && exists(P(".Work/new")) &&
              exists(P(".Work/tmp")) && exists(P(".Work/maildirfolder")));
    ck_assert(exists(P(".a.b.c/cur")) && exists(P(".INBOX.Sub/cur")));
    ck_assert(exists(P(".Gr\xc3\xbc\xc3\x9f"
                       "e/imapsrv-uidlist")));
}
END_TEST

START_TEST(test_create_special_use)
{
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Sent",
                              IMAPSRV_MBOX_SENT | IMAPSRV_MBOX_NOSELECT |
                                  IMAPSRV_MBOX_SUBSCRIBED),
                     IMAPSRV_OK);
    /* Only special-use bits are taken from the caller. */
    ck_assert_uint_eq(attrs_of("Sent"), IMAPSRV_MBOX_SENT);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Both",
                              IMAPSRV_MBOX_TRASH | IMAPSRV_MBOX_JUNK),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Both"), IMAPSRV_MBOX_TRASH | IMAPSRV_MBOX_JUNK);
    ck_assert_str_eq(slurp(P(".Both/imapsrv-special-use")), "\\Junk \\Trash\n");
}
END_TEST

START_TEST(test_well_known_special_use)
{
    static const struct {
        const char *name;
        unsigned use;
    } k[] = {
        {"Sent", IMAPSRV_MBOX_SENT},
        {"Drafts", IMAPSRV_MBOX_DRAFTS},
        {"Trash", IMAPSRV_MBOX_TRASH},
        {"Junk", IMAPSRV_MBOX_JUNK},
        {"Spam", IMAPSRV_MBOX_JUNK},
        {"Archive", IMAPSRV_MBOX_ARCHIVE},
        {"Work/Sent", 0},
        {"Other", 0},
    };

    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        ck_assert_int_eq(create(k[i].name), IMAPSRV_OK);
        ck_assert_uint_eq(attrs_of(k[i].name), k[i].use);
    }
    ck_assert_uint_eq(attrs_of("INBOX"), 0);
    /* What CREATE recorded wins over the name. */
    ck_assert_int_eq(
        H.create(H.userdata, OP, U, "Archives/Old", IMAPSRV_MBOX_ALL),
        IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Archives/Old"), IMAPSRV_MBOX_ALL);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Drafts"), IMAPSRV_OK);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Drafts", IMAPSRV_MBOX_SENT),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Drafts"), IMAPSRV_MBOX_SENT);
}
END_TEST

START_TEST(test_delete)
{
    imapsrv_mailbox_status st;
    void *h;

    ck_assert_int_eq(create("Leaf"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Leaf"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Leaf"), ~0u);
    ck_assert(!exists(P(".Leaf")));
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Leaf"),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "INBOX"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Inbox"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "a//"),
                     IMAPSRV_E_NONEXISTENT);

    /* RFC 9051 6.3.4: with children the name stays, as \Noselect. */
    ck_assert_int_eq(create("foo/bar"), IMAPSRV_OK);
    append("foo", MSG1, 0);
    append("foo/bar", MSG2, 0);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("foo"), IMAPSRV_MBOX_NOSELECT);
    ck_assert_uint_eq(attrs_of("foo/bar"), 0);
    ck_assert(exists(P(".foo")) && !exists(P(".foo/cur")));
    ck_assert_uint_eq(status_of("foo/bar").messages, 1);
    ck_assert_int_eq(H.status(H.userdata, OP, U, "foo", &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "foo", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"),
                     IMAPSRV_E_CANNOT);
    /* Without children left, the \Noselect name can go too. */
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo/bar"),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("foo"), IMAPSRV_MBOX_NOSELECT);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "foo"), IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX");
    /* No folder directory is left. */
    ck_assert_int_eq(count_dots(P("")), 0);
}
END_TEST

START_TEST(test_create_over_noselect)
{
    uint32_t old;

    ck_assert_int_eq(create("p/c"), IMAPSRV_OK);
    old = status_of("p").uidvalidity;
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "p"), IMAPSRV_OK);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "p", IMAPSRV_MBOX_ARCHIVE),
                     IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("p"), IMAPSRV_MBOX_ARCHIVE);
    ck_assert_uint_ne(status_of("p").uidvalidity, old);
    ck_assert_uint_eq(status_of("p").messages, 0);
    ck_assert_int_eq(create("p"), IMAPSRV_E_ALREADYEXISTS);
}
END_TEST

START_TEST(test_uidvalidity_on_recreate)
{
    uint32_t a, b, c;

    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    a = status_of("Box").uidvalidity;
    ck_assert_uint_ne(a, 0);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    b = status_of("Box").uidvalidity;
    ck_assert_uint_gt(b, a); /* same second, still different */
    ck_assert_int_eq(create("Other"), IMAPSRV_OK);
    c = status_of("Other").uidvalidity;
    ck_assert_uint_gt(c, b);
    ck_assert_uint_eq(status_of("Box").uidnext, 1);
    /* Also across a restart. */
    restart();
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_uint_gt(status_of("Box").uidvalidity, c);
}
END_TEST

START_TEST(test_rename)
{
    uint32_t uidv;

    ck_assert_int_eq(create("old/kid/grandkid"), IMAPSRV_OK);
    ck_assert_int_eq(create("older"), IMAPSRV_OK); /* same prefix, no child */
    append("old", MSG1, 0);
    uidv = status_of("old").uidvalidity;
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "old", "new/place"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,new,new/place,new/place/kid,"
                              "new/place/kid/grandkid,older");
    ck_assert_uint_eq(status_of("new/place").uidvalidity, uidv);
    ck_assert_uint_eq(status_of("new/place").messages, 1);
    ck_assert(exists(P(".new.place.kid.grandkid/cur")));
    ck_assert(!exists(P(".old")));

    ck_assert_int_eq(H.rename(H.userdata, OP, U, "gone", "x"),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "new"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "INBOX"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "inbox"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "new", "new/sub"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "a//b"),
                     IMAPSRV_E_CANNOT);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "older", "older"),
                     IMAPSRV_E_ALREADYEXISTS);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "new/place/kid", "kid"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,kid,kid/grandkid,new,new/place,older");
}
END_TEST

START_TEST(test_rename_inbox)
{
    static const char *const kw[] = {"Work"};
    uint32_t next;
    void *inbox, *h;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    append_kw("INBOX", MSG2, 0, kw, 1);
    ck_assert_int_eq(create("INBOX/child"), IMAPSRV_OK);
    next = status_of("INBOX").uidnext;
    inbox = open_box("INBOX", 0);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "INBOX", "Old/Inbox"),
                     IMAPSRV_OK);
    ck_assert_str_eq(names(), "INBOX,INBOX/child,Old,Old/Inbox");
    ck_assert_uint_eq(status_of("INBOX").messages, 0);
    ck_assert_uint_eq(status_of("Old/Inbox").messages, 2);
    ck_assert_uint_eq(status_of("Old/Inbox").unseen, 1);
    ck_assert_uint_eq(status_of("Old/Inbox").uidnext, next);
    ck_assert_str_eq(uids(inbox), ""); /* the open INBOX sees them gone */
    /* Same UIDs, flags and keywords in the new mailbox. */
    h = open_box("Old/Inbox", 1);
    ck_assert_str_eq(uids(h), "1 2");
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_SEEN);
    info(h, 2);
    ck_assert_str_eq(F.kw[0], "Work");
    ck_assert_str_eq(read_all(h, 2), MSG2);
    H.close(H.userdata, h);
    /* UIDs are not reused in INBOX. */
    ck_assert_uint_ge(append("INBOX", MSG3, 0), next);
    H.close(H.userdata, inbox);
    /* Into its own hierarchy is fine for INBOX: nothing below moves. */
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "INBOX", "INBOX/old"),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX/old").messages, 1);
    ck_assert_uint_eq(status_of("INBOX/child").messages, 0);
}
END_TEST

START_TEST(test_rename_keeps_handle)
{
    void *h;

    ck_assert_int_eq(create("A"), IMAPSRV_OK);
    append("A", MSG1, 0);
    h = open_box("A", 0);
    ck_assert_int_eq(H.rename(H.userdata, OP, U, "A", "B"), IMAPSRV_OK);
    ck_assert_str_eq(read_all(h, 1), MSG1);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_FLAGGED, NULL),
                     IMAPSRV_OK);
    H.close(H.userdata, h);
    h = open_box("B", 1);
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_FLAGGED);
    H.close(H.userdata, h);
    /* Also when another process renames it: the handle follows. */
    h = open_box("B", 0);
    ck_assert_int_eq(rename(P(".B"), P(".C")), 0);
    ck_assert_str_eq(uids(h), "1");
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    H.close(H.userdata, h);
    ck_assert_uint_eq(status_of("C").unseen, 0);
}
END_TEST

START_TEST(test_subscribe)
{
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 1), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("INBOX"), 0);
    /* Independent of existence: nonexistent names can be subscribed, and
     * DELETE does not drop a subscription (RFC 9051 6.3.9). */
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Later", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED |
                                             IMAPSRV_MBOX_NOSELECT |
                                             IMAPSRV_MBOX_NONEXISTENT);
    ck_assert_int_eq(create("Later"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), IMAPSRV_MBOX_SUBSCRIBED |
                                           IMAPSRV_MBOX_NOSELECT |
                                           IMAPSRV_MBOX_NONEXISTENT);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 0), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 0), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("Box"), 0);
    ck_assert_uint_eq(attrs_of("Later"), IMAPSRV_MBOX_SUBSCRIBED);
    /* INBOX in any case is INBOX. */
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "inbox", 1), IMAPSRV_OK);
    ck_assert_uint_eq(attrs_of("INBOX"), IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "", 1), IMAPSRV_E_CANNOT);
    ck_assert_str_eq(slurp(P("subscriptions")), "Later\nINBOX\n");
}
END_TEST

START_TEST(test_list_emit_error)
{
    ck_assert_int_eq(create("A"), IMAPSRV_OK);
    ck_assert_int_eq(create("B"), IMAPSRV_OK);
    fake_reset();
    F.fail_at = 2;
    ck_assert_int_eq(H.list(H.userdata, OP, U, "*"), IMAPSRV_E_NOMEM);
    ck_assert_uint_eq(F.nbox, 1); /* stopped at the failure */
}
END_TEST

START_TEST(test_status)
{
    imapsrv_mailbox_status st;
    uint32_t u1, u2, u3;

    u1 = append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    u2 = append("INBOX", MSG2, IMAPSRV_FLAG_DELETED);
    u3 = append("INBOX", MSG3, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DELETED);
    ck_assert_uint_eq(u1, 1);
    ck_assert_uint_eq(u2, 2);
    ck_assert_uint_eq(u3, 3);
    st = status_of("INBOX");
    ck_assert_uint_eq(st.messages, 3);
    ck_assert_uint_eq(st.unseen, 1);
    ck_assert_uint_eq(st.deleted, 2);
    ck_assert_uint_eq(st.size, strlen(MSG1) + strlen(MSG2) + strlen(MSG3));
    ck_assert_uint_eq(st.uidnext, 4);
    ck_assert_uint_eq(st.recent, 0); /* APPEND goes to cur/ */
    ck_assert_uint_eq(st.highestmodseq, 0);
    ck_assert_int_eq(H.status(H.userdata, OP, U, "Nope", &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_uint_eq(status_of("inbox").messages, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Messages                                                            */

START_TEST(test_open)
{
    imapsrv_mailbox_status st;
    void *h = NULL;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "INBOX", 0, &h, &st),
                     IMAPSRV_OK);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(st.uidvalidity, status_of("INBOX").uidvalidity);
    ck_assert_uint_eq(st.uidnext, 2);
    ck_assert_uint_eq(st.messages, 1);
    ck_assert_uint_eq(st.unseen, 1);
    H.close(H.userdata, h);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "Missing", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.open(H.userdata, OP, U, "", 0, &h, &st),
                     IMAPSRV_E_NONEXISTENT);
}
END_TEST

START_TEST(test_messages)
{
    static const char *const kw[] = {"$Label1", "Work"};
    imapsrv_message_info mi;
    void *h;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT);
    append_kw("INBOX", MSG2, IMAPSRV_FLAG_ANSWERED, kw, 2);
    append("INBOX", MSG3, 0);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(uids(h), "1 2 3");
    mi = info(h, 2);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_ANSWERED);
    ck_assert_str_eq(F.kw[0], "$Label1 Work");
    ck_assert_uint_eq(mi.keyword_count, 2);
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_int_eq(mi.tz_offset_min, 0); /* Maildir keeps no zone */
    ck_assert_uint_eq(mi.size, strlen(MSG2));
    ck_assert_uint_eq(mi.modseq, 0);
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_SEEN);
    /* min_uid: only UIDs >= it, in order. */
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 2), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 2);
    ck_assert_uint_eq(F.msg[0].uid, 2);
    ck_assert_uint_eq(F.msg[1].uid, 3);
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 4), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 0);
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 0), IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 3);
    fake_reset();
    F.fail_at = 2;
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_E_NOMEM);
    H.close(H.userdata, h);
    /* Flag letters in the file names, in ASCII order. */
    ck_assert_str_ne(find_file(P("cur"), ":2,Rab"), "");
}
END_TEST

START_TEST(test_read)
{
    char buf[64];
    size_t got = 99;
    void *h;

    append("INBOX", MSG2, 0);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(read_all(h, 1), MSG2);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 9, buf, 4, &got), IMAPSRV_OK);
    ck_assert_uint_eq(got, 4);
    ck_assert(memcmp(buf, "two\r", 4) == 0);
    /* Short at the end only. */
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, strlen(MSG2) - 3, buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 3);
    ck_assert(memcmp(buf, "y\r\n", 3) == 0);
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, strlen(MSG2), buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(
        H.read(H.userdata, OP, h, 1, UINT64_MAX, buf, sizeof buf, &got),
        IMAPSRV_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 7, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_EXPUNGED);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_set_flags)
{
    imapsrv_message_info mi;
    void *h;

    append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD,
                           IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_RECENT, "Work"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(F.kw[0], "Work");
    /* Keywords are case-insensitive: no duplicate. */
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, "WORK"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_str_eq(F.kw[0], "Work");
    ck_assert_int_eq(
        store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_FLAGGED, "$Label2"),
        IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "Work $Label2");
    ck_assert_int_eq(
        store(h, 1, IMAPSRV_FLAGS_REMOVE, IMAPSRV_FLAG_SEEN, "work"),
        IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "$Label2");
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_SET, IMAPSRV_FLAG_DRAFT, "Only"),
                     IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_DRAFT);
    ck_assert_str_eq(F.kw[0], "Only");
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_SET, 0, NULL), IMAPSRV_OK);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, 0);
    ck_assert_uint_eq(mi.keyword_count, 0);
    /* Expunged UIDs are skipped; bad keywords and operations refused. */
    ck_assert_int_eq(store(h, 42, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, 0, ""), IMAPSRV_E_INVALID);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, 0, "two words"),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(store(h, 1, (imapsrv_flag_op)7, 0, NULL),
                     IMAPSRV_E_INVALID);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_set_flags_many)
{
    uint32_t list[] = {3, 1, 99};
    void *h;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, 0);
    append("INBOX", MSG3, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.set_flags(H.userdata, OP, h, list, 3, IMAPSRV_FLAGS_ADD,
                                 IMAPSRV_FLAG_DELETED, NULL, 0),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX").deleted, 2);
    ck_assert_uint_eq(info(h, 2).flags, 0);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_readonly)
{
    imapsrv_copy_result res;
    uint32_t uid = 1, out[1];
    void *h;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    h = open_box("INBOX", 1);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_E_NOPERM);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, &uid, 1), IMAPSRV_E_NOPERM);
    res = (imapsrv_copy_result){0, out, 1};
    ck_assert_int_eq(H.move(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NOPERM);
    /* COPY only reads the source: allowed. */
    ck_assert_int_eq(H.copy(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(info(h, 1).flags, 0);
    ck_assert_uint_eq(status_of("INBOX").messages, 1);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_copy)
{
    static const char *const kw[] = {"$Forwarded"};
    uint32_t src[] = {3, 1}, out[2] = {0, 0};
    imapsrv_copy_result res = {0, out, 2};
    imapsrv_message_info mi;
    void *h, *d;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    append("INBOX", MSG2, 0);
    append_kw("INBOX", MSG3, IMAPSRV_FLAG_FLAGGED, kw, 1);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    append("Dest", MSG2, 0); /* Dest's UIDs continue from 2 */
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    ck_assert_uint_eq(res.count, 2);
    ck_assert_uint_eq(out[0], 2); /* in the order of the source UIDs */
    ck_assert_uint_eq(out[1], 3);
    ck_assert_str_eq(uids(h), "1 2 3"); /* source unchanged */
    d = open_box("Dest", 1);
    mi = info(d, 2);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_eq(F.kw[0], "$Forwarded");
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_str_eq(read_all(d, 2), MSG3);
    ck_assert_uint_eq(info(d, 3).flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(read_all(d, 3), MSG1);
    H.close(H.userdata, d);
    /* Into the same mailbox. */
    res.count = 1;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src + 1, 1, "INBOX", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(out[0], 4);
    ck_assert_str_eq(read_all(h, 4), MSG1);
    H.close(H.userdata, h);
    ck_assert_int_eq(count_files(P("tmp")), 0);
    ck_assert_int_eq(count_files(P(".Dest/tmp")), 0);
}
END_TEST

START_TEST(test_copy_errors)
{
    uint32_t src[] = {1, 5}, out[2];
    imapsrv_copy_result res = {0, out, 2};
    void *h;

    append("INBOX", MSG1, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    ck_assert_int_eq(create("P/C"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "P"), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 1, "Missing", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 1, "P", &res),
                     IMAPSRV_E_NONEXISTENT); /* \Noselect */
    /* An expunged source UID: nothing is copied. */
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_EXPUNGED);
    ck_assert_uint_eq(status_of("Dest").messages, 0);
    ck_assert_int_eq(H.move(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_EXPUNGED);
    ck_assert_uint_eq(status_of("INBOX").messages, 1);
    res.count = 1;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_E_INVALID); /* result array too small */
    res.count = 0;
    ck_assert_int_eq(H.copy(H.userdata, OP, h, src, 0, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    H.close(H.userdata, h);
    ck_assert_int_eq(count_files(P(".Dest/tmp")), 0);
    ck_assert_int_eq(count_files(P(".Dest/cur")), 0);
}
END_TEST

START_TEST(test_move)
{
    uint32_t src[] = {2, 1}, out[2];
    imapsrv_copy_result res = {0, out, 2};
    void *h, *d;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, IMAPSRV_FLAG_SEEN);
    append("INBOX", MSG3, 0);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.move(H.userdata, OP, h, src, 2, "Dest", &res),
                     IMAPSRV_OK);
    ck_assert_uint_eq(res.uidvalidity, status_of("Dest").uidvalidity);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 2);
    ck_assert_str_eq(uids(h), "3");
    d = open_box("Dest", 1);
    ck_assert_str_eq(read_all(d, 1), MSG2);
    ck_assert_uint_eq(info(d, 1).flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(read_all(d, 2), MSG1);
    H.close(H.userdata, d);
    /* Within one mailbox: new UID, old one gone. */
    res.count = 1;
    ck_assert_int_eq(
        H.move(H.userdata, OP, h, (uint32_t[]){3}, 1, "INBOX", &res),
        IMAPSRV_OK);
    ck_assert_uint_eq(out[0], 4);
    ck_assert_str_eq(uids(h), "4");
    H.close(H.userdata, h);
    ck_assert_int_eq(count_files(P("cur")), 1);
    ck_assert_int_eq(count_files(P(".Dest/cur")), 2);
}
END_TEST

START_TEST(test_expunge)
{
    uint32_t list[] = {4, 2, 77};
    void *h;

    for (int i = 0; i < 5; i++)
        append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, list, 3), IMAPSRV_OK);
    ck_assert_str_eq(uids(h), "1 3 5");
    ck_assert_int_eq(count_files(P("cur")), 3);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, NULL, 0), IMAPSRV_OK);
    ck_assert_str_eq(uids(h), "1 3 5");
    /* UIDs are never reused, even for the last one. */
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, (uint32_t[]){5}, 1),
                     IMAPSRV_OK);
    ck_assert_uint_eq(append("INBOX", MSG2, 0), 6);
    ck_assert_str_eq(uids(h), "1 3 6");
    H.close(H.userdata, h);
    restart();
    ck_assert_uint_eq(append("INBOX", MSG2, 0), 7);
}
END_TEST

/* ------------------------------------------------------------------ */
/* APPEND                                                              */

START_TEST(test_append)
{
    static const char *const kw[] = {"$Junk", "$junk", "Blue"};
    imapsrv_message_info mi;
    char path[600];
    struct stat st;
    uint32_t uid;
    void *h;

    uid = append_kw(
        "inbox", MSG2,
        IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DRAFT | IMAPSRV_FLAG_RECENT, kw, 3);
    ck_assert_uint_eq(uid, 1);
    h = open_box("INBOX", 1);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.flags, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DRAFT);
    ck_assert_str_eq(F.kw[0], "$Junk Blue"); /* deduplicated */
    ck_assert_int_eq(mi.internaldate, 1700000000);
    ck_assert_uint_eq(mi.size, strlen(MSG2));
    ck_assert_str_eq(read_all(h, 1), MSG2);
    H.close(H.userdata, h);
    /* The file: in cur/ with its size and flags, mtime = internal date,
     * nothing left in tmp/. */
    ck_assert_int_eq(count_files(P("tmp")), 0);
    ck_assert_int_eq(count_files(P("new")), 0);
    ck_assert_int_eq(count_files(P("cur")), 1);
    ck_assert_str_ne(find_file(P("cur"), ",S=29:2,DSab"), "");
    snprintf(path, sizeof path, "%s%s", P("cur/"), find_file(P("cur"), ",S="));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mtime, 1700000000);
    ck_assert_int_eq(st.st_size, (off_t)strlen(MSG2));
}
END_TEST

START_TEST(test_append_size_enforced)
{
    uint32_t uidv = 0, uid = 0;
    void *a;

    /* More than announced. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 4, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "de", 2),
                     IMAPSRV_E_INVALID);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 0, &uidv, &uid),
                     IMAPSRV_OK);
    /* Fewer than announced. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 10, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_E_INVALID);
    /* Aborted after data. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(count_files(P("tmp")), 1); /* being written */
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 0, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(status_of("INBOX").messages, 0);
    ck_assert_uint_eq(status_of("INBOX").uidnext, 1);
    ck_assert_int_eq(count_files(P("tmp")), 0);
    ck_assert_int_eq(count_files(P("cur")), 0);
}
END_TEST

START_TEST(test_append_errors_and_edges)
{
    static const char *const bad[] = {"ok", ""};
    uint32_t uidv = 0, uid = 0;
    void *a = NULL, *h;

    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "Missing", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, bad, 2, 0, 0, 3, &a),
        IMAPSRV_E_INVALID);
    ck_assert_int_eq(create("P/C"), IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "P"), IMAPSRV_OK);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "P", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_E_NONEXISTENT);
    /* A zero-length message is stored as such. */
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, 0, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    ck_assert_uint_eq(uid, 1);
    h = open_box("INBOX", 1);
    ck_assert_uint_eq(info(h, 1).size, 0);
    ck_assert_str_eq(read_all(h, 1), "");
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_append_large_streamed)
{
    size_t total = 300000, chunk = 7919, sent = 0;
    /* Room for a whole last chunk: read() may be asked for more than is
     * left. */
    char *big = malloc(total), *back = malloc(total + 4096);
    uint32_t uidv, uid;
    size_t got, off = 0;
    void *a, *h;

    for (size_t i = 0; i < total; i++)
        big[i] = (char)('a' + i % 26);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "INBOX", 0, NULL, 0, 0, 0, total, &a),
        IMAPSRV_OK);
    while (sent < total) {
        size_t n = total - sent < chunk ? total - sent : chunk;

        ck_assert_int_eq(H.append_data(H.userdata, OP, a, big + sent, n),
                         IMAPSRV_OK);
        sent += n;
    }
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &uid),
                     IMAPSRV_OK);
    h = open_box("INBOX", 1);
    do {
        ck_assert_int_eq(
            H.read(H.userdata, OP, h, uid, off, back + off, 4096, &got),
            IMAPSRV_OK);
        off += got;
    } while (got == 4096);
    ck_assert_uint_eq(off, total);
    ck_assert(memcmp(big, back, total) == 0);
    H.close(H.userdata, h);
    free(big);
    free(back);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Handles across another session's DELETE                             */

START_TEST(test_deleted_mailbox_handle)
{
    uint32_t uid = 1, out[1], uidv, nuid;
    imapsrv_copy_result res = {0, out, 1};
    char buf[8];
    size_t got;
    void *h, *a;

    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    append("Box", MSG1, 0);
    h = open_box("Box", 0);
    ck_assert_int_eq(
        H.append_begin(H.userdata, OP, U, "Box", 0, NULL, 0, 0, 0, 3, &a),
        IMAPSRV_OK);
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Box"), IMAPSRV_OK);
    ck_assert_int_eq(create("Box"), IMAPSRV_OK); /* a new one, same name */
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.copy(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.move(H.userdata, OP, h, &uid, 1, "Dest", &res),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, &uid, 1),
                     IMAPSRV_E_NONEXISTENT);
    ck_assert_int_eq(H.append_data(H.userdata, OP, a, "abc", 3), IMAPSRV_OK);
    ck_assert_int_eq(H.append_end(H.userdata, OP, a, 1, &uidv, &nuid),
                     IMAPSRV_E_NONEXISTENT);
    H.close(H.userdata, h);
    ck_assert_uint_eq(status_of("Box").messages, 0);
    ck_assert_uint_eq(status_of("Dest").messages, 0);
}
END_TEST

START_TEST(test_handle_after_delete_with_children)
{
    char buf[8];
    size_t got;
    void *h;

    ck_assert_int_eq(create("Top/Sub"), IMAPSRV_OK);
    append("Top", MSG1, 0);
    h = open_box("Top", 0);
    ck_assert_str_eq(read_all(h, 1), MSG1); /* a file open in the handle */
    ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, "Top"), IMAPSRV_OK);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 0, buf, sizeof buf, &got),
                     IMAPSRV_E_NONEXISTENT);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_deleted_by_other_process)
{
    void *h;

    ck_assert_int_eq(create("Box"), IMAPSRV_OK);
    append("Box", MSG1, 0);
    h = open_box("Box", 0);
    ck_assert_str_eq(uids(h), "1");
    /* Its UID list replaced by one of another UIDVALIDITY: another
     * mailbox now, whatever the directory. */
    {
        FILE *f = fopen(P(".Box/imapsrv-uidlist"), "w");

        ck_assert_ptr_nonnull(f);
        fputs("V7 N1\n", f);
        fclose(f);
    }
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, 1), IMAPSRV_E_NONEXISTENT);
    H.close(H.userdata, h);
    ck_assert_uint_eq(status_of("Box").uidvalidity, 7);
    ck_assert_uint_eq(status_of("Box").messages, 1); /* UID 1 again */
}
END_TEST

START_TEST(test_free_with_open_user)
{
    /* maildir_free with users and mailboxes present frees everything;
     * the teardown does it, valgrind checks. */
    ck_assert_int_eq(create("a/b/c"), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "a", 1), IMAPSRV_OK);
    append("a/b", MSG1, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Maildir specifics                                                   */

START_TEST(test_persistence)
{
    static const char *const kw[] = {"$Label1", "Work"};
    imapsrv_mailbox_status before, after;
    void *h;

    append_kw("INBOX", MSG1, IMAPSRV_FLAG_SEEN, kw, 2);
    append("INBOX", MSG2, 0);
    append("INBOX", MSG3, IMAPSRV_FLAG_FLAGGED);
    ck_assert_int_eq(H.create(H.userdata, OP, U, "Box", IMAPSRV_MBOX_ARCHIVE),
                     IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Box", 1), IMAPSRV_OK);
    ck_assert_int_eq(H.subscribe(H.userdata, OP, U, "Ghost", 1), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(
        store(h, 2, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_ANSWERED, "Work"),
        IMAPSRV_OK);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, (uint32_t[]){3}, 1),
                     IMAPSRV_OK);
    H.close(H.userdata, h);
    before = status_of("INBOX");
    restart();
    after = status_of("INBOX");
    ck_assert_uint_eq(after.uidvalidity, before.uidvalidity);
    ck_assert_uint_eq(after.uidnext, 4);
    ck_assert_uint_eq(after.messages, 2);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(uids(h), "1 2");
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_SEEN);
    ck_assert_str_eq(F.kw[0], "$Label1 Work");
    ck_assert_uint_eq(info(h, 2).flags, IMAPSRV_FLAG_ANSWERED);
    ck_assert_str_eq(F.kw[0], "Work");
    ck_assert_int_eq(info(h, 2).internaldate, 1700000000);
    ck_assert_str_eq(read_all(h, 2), MSG2);
    H.close(H.userdata, h);
    ck_assert_uint_eq(attrs_of("Box"),
                      IMAPSRV_MBOX_ARCHIVE | IMAPSRV_MBOX_SUBSCRIBED);
    ck_assert_uint_eq(attrs_of("Ghost"), IMAPSRV_MBOX_SUBSCRIBED |
                                             IMAPSRV_MBOX_NOSELECT |
                                             IMAPSRV_MBOX_NONEXISTENT);
    ck_assert_uint_eq(append("INBOX", MSG1, 0), 4);
}
END_TEST

START_TEST(test_delivery_into_new)
{
    imapsrv_message_info mi;
    void *ro, *rw;

    append("INBOX", MSG1, 0);
    ro = open_box("INBOX", 1);
    ck_assert_str_eq(uids(ro), "1");
    /* An MDA delivers two messages, the later-named one first. */
    deliver(P(""), "1700000200.M1P99.mx", MSG3, 1700000200);
    deliver(P(""), "1700000100.M1P99.mx", MSG2, 1700000100);
    /* A read-only session numbers them, in delivery-time order, and
     * leaves them in new/ (\Recent for the next read-write session). */
    ck_assert_str_eq(uids(ro), "1 2 3");
    ck_assert_str_eq(read_all(ro, 2), MSG2);
    ck_assert_str_eq(read_all(ro, 3), MSG3);
    mi = info(ro, 2);
    ck_assert_int_eq(mi.internaldate, 1700000100);
    ck_assert_uint_eq(mi.size, strlen(MSG2));
    ck_assert_uint_eq(mi.flags, 0);
    ck_assert_int_eq(count_files(P("new")), 2);
    ck_assert_uint_eq(status_of("INBOX").recent, 2);
    /* A read-write session's listing takes them into cur/. */
    rw = open_box("INBOX", 0);
    ck_assert_str_eq(uids(rw), "1 2 3");
    ck_assert_int_eq(count_files(P("new")), 0);
    ck_assert_int_eq(count_files(P("cur")), 3);
    ck_assert_str_ne(find_file(P("cur"), "1700000100.M1P99.mx,S="), "");
    ck_assert_uint_eq(status_of("INBOX").recent, 0);
    /* The read-only session still reads them under their new names. */
    ck_assert_str_eq(read_all(ro, 3), MSG3);
    ck_assert_str_eq(uids(ro), "1 2 3");
    ck_assert_int_eq(store(rw, 3, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    ck_assert_uint_eq(info(ro, 3).flags, IMAPSRV_FLAG_SEEN);
    H.close(H.userdata, ro);
    H.close(H.userdata, rw);
}
END_TEST

START_TEST(test_removed_behind_back)
{
    char path[600];
    void *h;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, 0);
    append("INBOX", MSG3, 0);
    h = open_box("INBOX", 0);
    ck_assert_str_eq(uids(h), "1 2 3");
    snprintf(path, sizeof path, "%s", P("cur/"));
    strcat(path, find_file(P("cur"), ",S=29"));
    ck_assert_int_eq(unlink(path), 0); /* MSG2, by another program */
    ck_assert_str_eq(uids(h), "1 3");
    {
        char buf[8];
        size_t got;

        ck_assert_int_eq(H.read(H.userdata, OP, h, 2, 0, buf, 8, &got),
                         IMAPSRV_E_EXPUNGED);
    }
    ck_assert_ptr_null(strstr(slurp(P("imapsrv-uidlist")), "\n2 "));
    ck_assert_uint_eq(status_of("INBOX").uidnext, 4);
    /* STORE and EXPUNGE of it are no-ops, not errors. */
    ck_assert_int_eq(store(h, 2, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, (uint32_t[]){2}, 1),
                     IMAPSRV_OK);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_flags_changed_behind_back)
{
    char from[600], to[600];
    const char *name;
    void *h;

    append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    ck_assert_uint_eq(info(h, 1).flags, 0);
    /* Another program flags it (renames the file). */
    name = find_file(P("cur"), ":2,");
    snprintf(from, sizeof from, "%s%s", P("cur/"), name);
    snprintf(to, sizeof to, "%s%sF", P("cur/"), name);
    ck_assert_int_eq(rename(from, to), 0);
    /* STORE through the stale list: the rename finds the file gone, the
     * store looks again and changes it under its new name. */
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    ck_assert_uint_eq(info(h, 1).flags,
                      IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_FLAGGED);
    ck_assert_str_ne(find_file(P("cur"), ":2,FS"), "");
    /* Letters IMAP has no flag for stay (P: passed). */
    name = find_file(P("cur"), ":2,FS");
    snprintf(from, sizeof from, "%s%s", P("cur/"), name);
    snprintf(to, sizeof to, "%s%s", P("cur/"), name);
    strcpy(strstr(to, ":2,") + 3, "FPS");
    ck_assert_int_eq(rename(from, to), 0);
    ck_assert_int_eq(
        store(h, 1, IMAPSRV_FLAGS_REMOVE, IMAPSRV_FLAG_FLAGGED, NULL),
        IMAPSRV_OK);
    ck_assert_str_ne(find_file(P("cur"), ":2,PS"), "");
    ck_assert_uint_eq(info(h, 1).flags, IMAPSRV_FLAG_SEEN);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_bare_lf)
{
    static const char lf[] = "Subject: lf\n\nline one\nline two\r\n";
    static const char crlf[] = "Subject: lf\r\n\r\nline one\r\nline two\r\n";
    char buf[64], path[600];
    imapsrv_message_info mi;
    struct stat st;
    size_t got;
    void *h;

    deliver(P(""), "1700000000.M5P1.mx", lf, 1690000000);
    h = open_box("INBOX", 1);
    mi = info(h, 1);
    ck_assert_uint_eq(mi.size, strlen(crlf));
    ck_assert_int_eq(mi.internaldate, 1690000000);
    ck_assert_str_eq(read_all(h, 1), crlf);
    ck_assert_int_eq(H.read(H.userdata, OP, h, 1, 13, buf, 10, &got),
                     IMAPSRV_OK);
    ck_assert_uint_eq(got, 10);
    ck_assert(memcmp(buf, "\r\nline one", 10) == 0);
    ck_assert_uint_eq(status_of("INBOX").size, strlen(crlf));
    H.close(H.userdata, h);
    /* Normalised once, on disk: CRLF, named with the CRLF size, same
     * date; the original and the work file are gone. */
    ck_assert_int_eq(count_files(P("new")), 1);
    ck_assert_int_eq(count_files(P("tmp")), 0);
    snprintf(path, sizeof path, "%s%s", P("new/"),
             find_file(P("new"), "1700000000.M5P1.mx,S=35"));
    ck_assert_str_eq(slurp(path), crlf);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mtime, 1690000000);
    /* A file that already is CRLF only gets its size in its name. */
    deliver(P(""), "1700000001.M6P1.mx", MSG1, 0);
    ck_assert_uint_eq(status_of("INBOX").messages, 2);
    ck_assert_str_ne(find_file(P("new"), "1700000001.M6P1.mx,S=23"), "");
}
END_TEST

START_TEST(test_crash_leftovers)
{
    char path[600];
    FILE *f;
    void *h;

    append("INBOX", MSG1, 0);
    /* A CRLF copy already in place (a crash before the LF original was
     * removed): one message, not two. */
    deliver(P(""), "1700000000.M7P1.mx", "a\nb\n", 0);
    snprintf(path, sizeof path, "%s", P("new/1700000000.M7P1.mx,S=6"));
    f = fopen(path, "w");
    fputs("a\r\nb\r\n", f);
    fclose(f);
    /* A message written into cur/ whose UID list update never happened:
     * it gets a UID; a half-written tmp/ file is ignored. */
    f = fopen(P("cur/1700000300.1_1.other,S=3:2,S"), "w");
    fputs("abc", f);
    fclose(f);
    f = fopen(P("tmp/1700000400.1_2.other,S=99"), "w");
    fputs("partial", f);
    fclose(f);
    h = open_box("INBOX", 1);
    ck_assert_str_eq(uids(h), "1 2 3");
    ck_assert_str_eq(read_all(h, 2), "a\r\nb\r\n");
    ck_assert_uint_eq(info(h, 3).flags, IMAPSRV_FLAG_SEEN);
    H.close(H.userdata, h);
    ck_assert_int_eq(count_files(P("new")), 1);
    /* Leftovers of a crashed DELETE go at the next login.  tmp/ files
     * go when nothing touched them for 36 hours (by their ctime: an
     * APPEND sets the mtime of its tmp/ file to the internal date, which
     * may be old), which a test cannot fake: an old mtime alone keeps
     * the file. */
    ck_assert_int_eq(mkdir(P("..imapsrv-trash.x"), 0700), 0);
    ck_assert_int_eq(mkdir(P("..imapsrv-trash.x/cur"), 0700), 0);
    /* And DELETEs that crashed after their tombstone are finished. */
    ck_assert_int_eq(create("Solo"), IMAPSRV_OK);
    ck_assert_int_eq(create("T/kid"), IMAPSRV_OK);
    append("T/kid", MSG1, 0);
    fclose(fopen(P(".Solo/imapsrv-deleted"), "w"));
    fclose(fopen(P(".T/imapsrv-deleted"), "w"));
    ck_assert_uint_eq(attrs_of("Solo"), IMAPSRV_MBOX_NOSELECT);
    {
        struct timespec old[2] = {{time(NULL) - 40 * 3600, 0},
                                  {time(NULL) - 40 * 3600, 0}};

        ck_assert_int_eq(
            utimensat(AT_FDCWD, P("tmp/1700000400.1_2.other,S=99"), old, 0), 0);
    }
    restart();
    ck_assert(!exists(P("..imapsrv-trash.x")));
    ck_assert_str_eq(names(), "INBOX,T,T/kid");
    ck_assert_uint_eq(attrs_of("T"), IMAPSRV_MBOX_NOSELECT);
    ck_assert(exists(P(".T")) && !exists(P(".T/cur")));
    ck_assert_uint_eq(status_of("T/kid").messages, 1);
    ck_assert_int_eq(count_files(P("tmp")), 1);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(count_files(P("tmp")), 1);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_name_escaping)
{
    ck_assert_int_eq(create("a.b"), IMAPSRV_OK);
    ck_assert_int_eq(create("a/b"), IMAPSRV_OK);
    ck_assert_int_eq(create(".hidden"), IMAPSRV_OK);
    ck_assert_int_eq(create("x..y/.z."), IMAPSRV_OK);
    ck_assert_int_eq(create("Gr\xc3\xbc\xc3\x9f"
                            "e/Caf\xc3\xa9"),
                     IMAPSRV_OK);
    ck_assert(exists(P(".a%2Eb/cur")));
    ck_assert(exists(P(".a.b/cur")));
    ck_assert(exists(P(".%2Ehidden/cur")));
    ck_assert(exists(P(".x%2E%2Ey.%2Ez%2E/cur")));
    ck_assert(exists(P(".Gr\xc3\xbc\xc3\x9f"
                       "e.Caf\xc3\xa9/cur")));
    ck_assert_str_eq(names(), "INBOX,.hidden,Gr\xc3\xbc\xc3\x9f"
                              "e,Gr\xc3\xbc\xc3\x9f"
                              "e/Caf\xc3\xa9,a,a.b,a/b,x..y,x..y/.z.");
    append("a.b", MSG1, 0);
    ck_assert_uint_eq(status_of("a.b").messages, 1);
    ck_assert_uint_eq(status_of("a/b").messages, 0);
    /* Folders made by hand: plain names are listed, ones that do not
     * encode back to themselves are not. */
    ck_assert_int_eq(mkdir(P(".Plain"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".Plain/cur"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".Plain/new"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".50%off"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".lower%2e"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".%41"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".inbox.x"), 0700), 0);
    ck_assert_int_eq(mkdir(P("..dots"), 0700), 0);
    ck_assert_uint_eq(attrs_of("Plain"), 0);
    ck_assert_str_eq(names(), "INBOX,.hidden,Gr\xc3\xbc\xc3\x9f"
                              "e,Gr\xc3\xbc\xc3\x9f"
                              "e/Caf\xc3\xa9,Plain,a,a.b,a/b,x..y,"
                              "x..y/.z.");
    ck_assert_uint_eq(status_of("Plain").uidnext, 1); /* list made then */
    /* A folder whose parent directory is missing: the parent is shown. */
    ck_assert_int_eq(mkdir(P(".p.q"), 0700), 0);
    ck_assert_int_eq(mkdir(P(".p.q/cur"), 0700), 0);
    ck_assert_uint_eq(attrs_of("p"), IMAPSRV_MBOX_NOSELECT);
    ck_assert_uint_eq(attrs_of("p/q"), 0);
}
END_TEST

START_TEST(test_hostile_names)
{
    static const char *const bad[] = {
        "../x",   "a/../../b", "..",      ".",    "a/./b", "a/..", "x\x01y",
        "tab\tx", "nl\nx",     "del\x7f", "a//b", "/abs",  "*",    "%",
    };
    imapsrv_mailbox_status st;
    uint32_t out[1];
    imapsrv_copy_result res = {0, out, 1};
    char longname[300];
    void *h;

    append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *a, *x;

        ck_assert_int_eq(create(bad[i]), IMAPSRV_E_CANNOT);
        ck_assert_int_eq(H.subscribe(H.userdata, OP, U, bad[i], 1),
                         IMAPSRV_E_CANNOT);
        ck_assert_int_eq(H.delete_mailbox(H.userdata, OP, U, bad[i]),
                         IMAPSRV_E_NONEXISTENT);
        ck_assert_int_eq(H.rename(H.userdata, OP, U, "INBOX", bad[i]),
                         IMAPSRV_E_CANNOT);
        ck_assert_int_eq(H.rename(H.userdata, OP, U, bad[i], "x"),
                         IMAPSRV_E_NONEXISTENT);
        ck_assert_int_eq(H.status(H.userdata, OP, U, bad[i], &st),
                         IMAPSRV_E_NONEXISTENT);
        ck_assert_int_eq(H.open(H.userdata, OP, U, bad[i], 0, &x, &st),
                         IMAPSRV_E_NONEXISTENT);
        ck_assert_int_eq(
            H.append_begin(H.userdata, OP, U, bad[i], 0, NULL, 0, 0, 0, 1, &a),
            IMAPSRV_E_NONEXISTENT);
        ck_assert_int_eq(
            H.copy(H.userdata, OP, h, (uint32_t[]){1}, 1, bad[i], &res),
            IMAPSRV_E_NONEXISTENT);
    }
    H.close(H.userdata, h);
    /* Nothing was made anywhere: the user's directory as it was, and
     * nothing beside it. */
    ck_assert_str_eq(names(), "INBOX");
    ck_assert_int_eq(count_files(tmpdir), 1);
    ck_assert_int_eq(count_files(P("..")), 1);
    ck_assert_int_eq(status_of("INBOX").messages, 1);
    /* Too long for one directory name. */
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(create(longname), IMAPSRV_E_LIMIT);
}
END_TEST

START_TEST(test_uidlist_format)
{
    char line[512], base[512];
    unsigned v, n, uid;
    FILE *f;
    void *h;

    for (int i = 0; i < 4; i++)
        append("INBOX", MSG1, 0);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(H.expunge(H.userdata, OP, h, (uint32_t[]){2}, 1),
                     IMAPSRV_OK);
    ck_assert_int_eq(store(h, 3, IMAPSRV_FLAGS_ADD, 0, "Kw"), IMAPSRV_OK);
    H.close(H.userdata, h);
    f = fopen(P("imapsrv-uidlist"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_int_eq(sscanf(line, "V%u N%u", &v, &n), 2);
    ck_assert_uint_eq(v, status_of("INBOX").uidvalidity);
    ck_assert_uint_eq(n, 5);
    for (uint32_t want = 1; fgets(line, sizeof line, f); want++) {
        char path[600];

        if (want == 2)
            want++;
        ck_assert_int_eq(sscanf(line, "%u %511s", &uid, base), 2);
        ck_assert_uint_eq(uid, want);
        /* Each listed base is a file in cur/. */
        snprintf(path, sizeof path, "%s%s", P("cur/"),
                 find_file(P("cur"), base));
        ck_assert(strstr(path, base) != NULL);
        ck_assert(exists(path));
    }
    fclose(f);
    /* Replaced whole, never edited in place: no work files stay. */
    ck_assert(!exists(P("imapsrv-uidlist.tmp")));
    ck_assert(!exists(P("imapsrv-keywords.tmp")));
    ck_assert(!exists(P("subscriptions.tmp")));
    ck_assert_int_eq(count_files(P("tmp")), 0);
    ck_assert_str_eq(slurp(P("imapsrv-keywords")), "0 Kw\n");
}
END_TEST

START_TEST(test_keywords)
{
    static const char *const kw[] = {"$Label1", "Work"};
    const char *k27[27];
    char names27[27][8];
    uint32_t out[1];
    imapsrv_copy_result res = {0, out, 1};
    void *h;

    ck_assert_int_eq(create("Other"), IMAPSRV_OK);
    append_kw("Other", MSG1, 0, (const char *const[]){"Blue"}, 1);
    append_kw("INBOX", MSG1, 0, kw, 2);
    ck_assert_str_eq(slurp(P("imapsrv-keywords")), "0 $Label1\n1 Work\n");
    ck_assert_str_ne(find_file(P("cur"), ":2,ab"), "");
    /* Per mailbox: "Work" is 'b' here, and gets its own letter there. */
    h = open_box("INBOX", 0);
    ck_assert_int_eq(
        H.copy(H.userdata, OP, h, (uint32_t[]){1}, 1, "Other", &res),
        IMAPSRV_OK);
    ck_assert_str_eq(slurp(P(".Other/imapsrv-keywords")),
                     "0 Blue\n1 $Label1\n2 Work\n");
    ck_assert_str_ne(find_file(P(".Other/cur"), ":2,bc"), "");
    /* 26 letters: the 27th keyword is refused, nothing changes. */
    for (int i = 0; i < 27; i++) {
        snprintf(names27[i], sizeof names27[i], "k%d", i);
        k27[i] = names27[i];
    }
    ck_assert_int_eq(H.set_flags(H.userdata, OP, h, (uint32_t[]){1}, 1,
                                 IMAPSRV_FLAGS_ADD, 0, k27, 27),
                     IMAPSRV_E_LIMIT);
    ck_assert_str_eq(slurp(P("imapsrv-keywords")), "0 $Label1\n1 Work\n");
    ck_assert_int_eq(H.set_flags(H.userdata, OP, h, (uint32_t[]){1}, 1,
                                 IMAPSRV_FLAGS_ADD, 0, k27, 24),
                     IMAPSRV_OK);
    info(h, 1);
    ck_assert_uint_eq(F.msg[0].keyword_count, 26);
    H.close(H.userdata, h);
    /* Survives a restart, and letters unknown to the table are ignored. */
    restart();
    h = open_box("Other", 1);
    info(h, 2);
    ck_assert_str_eq(F.kw[0], "$Label1 Work");
    H.close(H.userdata, h);
    ck_assert_int_eq(unlink(P(".Other/imapsrv-keywords")), 0);
    h = open_box("Other", 1);
    ck_assert_uint_eq(info(h, 2).keyword_count, 0);
    H.close(H.userdata, h);
}
END_TEST

START_TEST(test_copy_is_hard_link)
{
    uint32_t out[1];
    imapsrv_copy_result res = {0, out, 1};
    char path[600];
    struct stat st;
    void *h;

    append("INBOX", MSG1, IMAPSRV_FLAG_SEEN);
    ck_assert_int_eq(create("Dest"), IMAPSRV_OK);
    h = open_box("INBOX", 0);
    ck_assert_int_eq(
        H.copy(H.userdata, OP, h, (uint32_t[]){1}, 1, "Dest", &res),
        IMAPSRV_OK);
    H.close(H.userdata, h);
    snprintf(path, sizeof path, "%s%s", P("cur/"), find_file(P("cur"), ":2,"));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_nlink, 2); /* one inode, two names */
    /* A different unique name in the target. */
    snprintf(path, sizeof path, "%s", find_file(P(".Dest/cur"), ":2,S"));
    ck_assert_str_ne(path, "");
    ck_assert_str_ne(path, find_file(P("cur"), ":2,S"));
}
END_TEST

START_TEST(test_cache)
{
    char buf[16];
    void *h, *h2;

    append("INBOX", MSG1, 0);
    append("INBOX", MSG2, 0);
    h = open_box("INBOX", 0);
    uids(h);
    ck_assert_uint_eq(H.cache_get(H.userdata, h, 1, buf, sizeof buf), 0);
    H.cache_put(H.userdata, h, 1, "parsed-one", 10);
    H.cache_put(H.userdata, h, 99, "nobody", 6); /* no such message */
    /* Another session, after a flag change renamed the file: same blob. */
    ck_assert_int_eq(store(h, 1, IMAPSRV_FLAGS_ADD, IMAPSRV_FLAG_SEEN, NULL),
                     IMAPSRV_OK);
    h2 = open_box("INBOX", 1);
    uids(h2);
    ck_assert_uint_eq(H.cache_get(H.userdata, h2, 1, buf, sizeof buf), 10);
    ck_assert(memcmp(buf, "parsed-one", 10) == 0);
    ck_assert_uint_eq(H.cache_get(H.userdata, h2, 1, buf, 4), 10);
    ck_assert_uint_eq(H.cache_get(H.userdata, h2, 2, buf, sizeof buf), 0);
    ck_assert_uint_eq(H.cache_get(H.userdata, h2, 99, buf, sizeof buf), 0);
    H.cache_put(H.userdata, h2, 1, "again", 5); /* replaces */
    ck_assert_uint_eq(H.cache_get(H.userdata, h, 1, buf, sizeof buf), 5);
    H.close(H.userdata, h);
    H.close(H.userdata, h2);
}
END_TEST

START_TEST(test_watch_notify)
{
    struct timespec until;
    int rc = 0;
    void *h;

    maildir_set_server(md, (imapsrv *)&F); /* never dereferenced */
    h = open_box("INBOX", 0);
    pthread_mutex_lock(&nlock);
    notified[0] = '\0';
    pthread_mutex_unlock(&nlock);
    deliver(P(""), "1700000000.M9P1.mx", MSG1, 0);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&nlock);
    while (notified[0] == '\0' && rc == 0)
        rc = pthread_cond_timedwait(&ncond, &nlock, &until);
    ck_assert_str_eq(notified, "u:INBOX");
    pthread_mutex_unlock(&nlock);
    ck_assert_str_eq(uids(h), "1");
    H.close(H.userdata, h);
    /* Reporting off, and no watch once nothing is open. */
    maildir_set_server(md, NULL);
    h = open_box("INBOX", 1);
    H.close(H.userdata, h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Threads and processes                                               */

#define THREADS 4
#define PER_THREAD 25

static imapsrv_store_hooks H2; /* a second store on the same directory */

struct worker_arg {
    const imapsrv_store_hooks *h;
    int n;
    uint32_t uids[PER_THREAD];
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    const imapsrv_store_hooks *hk = w->h;
    struct fake_op f = {0};
    imapsrv_op *op = (imapsrv_op *)&f;
    void *user, *h;
    imapsrv_mailbox_status st;
    char name[32];

    snprintf(name, sizeof name, "T%d", w->n);
    if (hk->user_open(hk->userdata, op, "u", &user) != IMAPSRV_OK ||
        hk->create(hk->userdata, op, user, name, 0) != IMAPSRV_OK ||
        hk->open(hk->userdata, op, user, "INBOX", 0, &h, &st) != IMAPSRV_OK)
        return (void *)1;
    for (int i = 0; i < PER_THREAD; i++) {
        void *a;
        uint32_t uidv, uid, out[1];
        imapsrv_copy_result res = {0, out, 1};

        if (hk->append_begin(hk->userdata, op, user, "INBOX", 0, NULL, 0, 0, 0,
                             3, &a) != IMAPSRV_OK ||
            hk->append_data(hk->userdata, op, a, "abc", 3) != IMAPSRV_OK ||
            hk->append_end(hk->userdata, op, a, 1, &uidv, &uid) != IMAPSRV_OK ||
            hk->copy(hk->userdata, op, h, &uid, 1, name, &res) != IMAPSRV_OK ||
            hk->set_flags(hk->userdata, op, h, &uid, 1, IMAPSRV_FLAGS_ADD,
                          IMAPSRV_FLAG_SEEN, NULL, 0) != IMAPSRV_OK)
            return (void *)2;
        w->uids[i] = uid;
    }
    hk->close(hk->userdata, h);
    hk->user_close(hk->userdata, user);
    return NULL;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Sessions on two stores (as two processes would be) in parallel: the
 * UID-list lock keeps every UID unique and dense. */
START_TEST(test_threads_two_stores)
{
    pthread_t t[THREADS];
    struct worker_arg args[THREADS];
    uint32_t all[THREADS * PER_THREAD];
    imapsrv_mailbox_status st;
    maildir *md2;
    char err[64];
    void *h;

    ck_assert_int_eq(maildir_new(tmpl, &md2, err, sizeof err), IMAPSRV_OK);
    maildir_hooks(md2, &H2);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){i % 2 ? &H2 : &H, i, {0}};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret;

        pthread_join(t[i], &ret);
        ck_assert_ptr_null(ret);
        memcpy(all + i * PER_THREAD, args[i].uids, sizeof args[i].uids);
    }
    maildir_free(&md2);
    qsort(all, THREADS * PER_THREAD, sizeof *all, u32_cmp);
    for (uint32_t i = 0; i < THREADS * PER_THREAD; i++)
        ck_assert_uint_eq(all[i], i + 1);
    st = status_of("INBOX");
    ck_assert_uint_eq(st.messages, THREADS * PER_THREAD);
    ck_assert_uint_eq(st.uidnext, THREADS * PER_THREAD + 1);
    ck_assert_uint_eq(st.unseen, 0);
    ck_assert_uint_eq(status_of("T3").messages, PER_THREAD);
    h = open_box("INBOX", 1);
    fake_reset();
    ck_assert_int_eq(H.messages(H.userdata, OP, h, THREADS * PER_THREAD),
                     IMAPSRV_OK);
    ck_assert_uint_eq(F.nmsg, 1);
    H.close(H.userdata, h);
    ck_assert_int_eq(count_files(P("cur")), THREADS * PER_THREAD);
    ck_assert_int_eq(count_files(P("tmp")), 0);
}
END_TEST

/* A real second process appending while this one does: this program
 * again (fork then exec: a forked copy of a threaded process may not do
 * much), see child_main. */
#define CHILD_N 30

static char self_path[4096]; /* this program (argv[0], made absolute) */

static int child_main(const char *root, int fd)
{
    struct fake_op f = {0};
    imapsrv_op *op = (imapsrv_op *)&f;
    imapsrv_store_hooks hk;
    maildir *m;
    void *user;
    int bad = 0;

    if (maildir_new(root, &m, NULL, 0) != IMAPSRV_OK)
        return 2;
    maildir_hooks(m, &hk);
    if (hk.user_open(hk.userdata, op, "u", &user) != IMAPSRV_OK)
        return 3;
    for (int i = 0; i < CHILD_N; i++) {
        uint32_t uidv, uid = 0;
        void *a;

        bad |= hk.append_begin(hk.userdata, op, user, "INBOX", 0, NULL, 0, 0, 0,
                               5, &a) ||
               hk.append_data(hk.userdata, op, a, "child", 5) ||
               hk.append_end(hk.userdata, op, a, 1, &uidv, &uid);
        bad |= write(fd, &uid, sizeof uid) != sizeof uid;
    }
    hk.user_close(hk.userdata, user);
    maildir_free(&m);
    return bad ? 4 : 0;
}

START_TEST(test_two_processes)
{
    enum { N = CHILD_N };
    uint32_t got[2 * N];
    int fds[2], status;
    char fdstr[16];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    snprintf(fdstr, sizeof fdstr, "%d", fds[1]);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(self_path, self_path, "--append-child", tmpl, fdstr,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    for (int i = 0; i < N; i++)
        got[i] = append("INBOX", "parent\r\n", 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(read(fds[0], &got[N + i], sizeof *got),
                         (ssize_t)sizeof *got);
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    qsort(got, 2 * N, sizeof *got, u32_cmp);
    for (uint32_t i = 0; i < 2 * N; i++)
        ck_assert_uint_eq(got[i], i + 1);
    ck_assert_uint_eq(status_of("INBOX").messages, 2 * N);
    ck_assert_uint_eq(status_of("INBOX").uidnext, 2 * N + 1);
}
END_TEST

static Suite *maildir_suite(void)
{
    Suite *s = suite_create("maildir");
    TCase *tc = tcase_create("hooks");
    TCase *tm = tcase_create("maildir");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hooks_table);
    tcase_add_test(tc, test_user_open);
    tcase_add_test(tc, test_user_names);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_create_special_use);
    tcase_add_test(tc, test_well_known_special_use);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_create_over_noselect);
    tcase_add_test(tc, test_uidvalidity_on_recreate);
    tcase_add_test(tc, test_rename);
    tcase_add_test(tc, test_rename_inbox);
    tcase_add_test(tc, test_rename_keeps_handle);
    tcase_add_test(tc, test_subscribe);
    tcase_add_test(tc, test_list_emit_error);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_open);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_set_flags);
    tcase_add_test(tc, test_set_flags_many);
    tcase_add_test(tc, test_readonly);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_copy_errors);
    tcase_add_test(tc, test_move);
    tcase_add_test(tc, test_expunge);
    tcase_add_test(tc, test_append);
    tcase_add_test(tc, test_append_size_enforced);
    tcase_add_test(tc, test_append_errors_and_edges);
    tcase_add_test(tc, test_append_large_streamed);
    tcase_add_test(tc, test_deleted_mailbox_handle);
    tcase_add_test(tc, test_handle_after_delete_with_children);
    tcase_add_test(tc, test_deleted_by_other_process);
    tcase_add_test(tc, test_free_with_open_user);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tm, setup, teardown);
    tcase_set_timeout(tm, 120);
    tcase_add_test(tm, test_persistence);
    tcase_add_test(tm, test_delivery_into_new);
    tcase_add_test(tm, test_removed_behind_back);
    tcase_add_test(tm, test_flags_changed_behind_back);
    tcase_add_test(tm, test_bare_lf);
    tcase_add_test(tm, test_crash_leftovers);
    tcase_add_test(tm, test_name_escaping);
    tcase_add_test(tm, test_hostile_names);
    tcase_add_test(tm, test_uidlist_format);
    tcase_add_test(tm, test_keywords);
    tcase_add_test(tm, test_copy_is_hard_link);
    tcase_add_test(tm, test_cache);
    tcase_add_test(tm, test_watch_notify);
    tcase_add_test(tm, test_threads_two_stores);
    tcase_add_test(tm, test_two_processes);
    suite_add_tcase(s, tm);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc == 4 && strcmp(argv[1], "--append-child") == 0)
        return child_main(argv[2], atoi(argv[3]));
    /* argv[0] when it is a path: under valgrind /proc/self/exe is
     * valgrind. */
    if (!strchr(argv[0], '/') || !realpath(argv[0], self_path)) {
        ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);

        self_path[n > 0 ? n : 0] = '\0';
    }
    sr = srunner_create(maildir_suite());

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
