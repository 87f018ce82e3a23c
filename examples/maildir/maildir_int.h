/* maildir: what the store's files share (not installed, not an API). */
#ifndef MAILDIR_INT_H
#define MAILDIR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "maildir.h"

#define NKW 26 /* keyword letters a-z */

#define SYSTEM_FLAGS                                                           \
    (IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_ANSWERED | IMAPSRV_FLAG_FLAGGED |        \
     IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_DRAFT)
#define SPECIAL_USE                                                            \
    (IMAPSRV_MBOX_ALL | IMAPSRV_MBOX_ARCHIVE | IMAPSRV_MBOX_DRAFTS |           \
     IMAPSRV_MBOX_FLAGGED | IMAPSRV_MBOX_JUNK | IMAPSRV_MBOX_SENT |            \
     IMAPSRV_MBOX_TRASH)

#define UIDLIST_FILE "imapsrv-uidlist"
#define UIDLIST_LOCK "imapsrv-uidlist.lock"
#define KEYWORDS_FILE "imapsrv-keywords"
#define SPECIAL_USE_FILE "imapsrv-special-use"
#define TOMBSTONE_FILE "imapsrv-deleted"
#define SUBS_FILE "subscriptions"
#define UIDV_FILE "imapsrv-uidvalidity"
#define USER_LOCK "imapsrv-mailboxes.lock"
#define TRASH_PREFIX "..imapsrv-trash."
#define WORK_PREFIX "..imapsrv-new."

struct blob_cache;
struct watcher;

struct maildir {
    char *root; /* template */
    char host[64];
    pthread_mutex_t lock; /* the user list */
    struct mduser *users;
    struct blob_cache *cache;
    struct watcher *watch; /* NULL without inotify */
};

struct mduser {
    maildir *md;
    char *name;
    char *root; /* the user's Maildir */
    int rootfd;
    unsigned refs;        /* under md->lock: sessions and handles */
    pthread_mutex_t lock; /* with the flock on USER_LOCK: the mailbox set */
    int lockfd;           /* >= 0 while held */
    struct mduser *next;
};

struct msg {
    uint32_t uid;
    bool in_new;
    unsigned flags;  /* SYSTEM_FLAGS */
    uint32_t kwbits; /* letters a-z */
    char *base;      /* the key in the UID list */
    char *name;      /* the file's name in new/ or cur/ */
    uint64_t size;
    int64_t mtime; /* -1: not read yet */
};

/* One open mailbox: a session's handle, or a short-lived one of a hook. */
struct box {
    struct mduser *user;
    char *name; /* the name it was opened with */
    int dirfd;  /* follows the directory through renames */
    bool readonly;
    pthread_mutex_t lock; /* with the flock on UIDLIST_LOCK */
    int lockfd;           /* >= 0 while entered */
    bool gone;            /* deleted, or its UIDVALIDITY changed */
    uint32_t uidvalidity; /* 0 until the UID list was read */
    uint32_t uidnext;
    char *kw[NKW];
    struct msg *msgs; /* ascending UIDs, as of the last sync */
    size_t count, cap;
    uint32_t recent; /* files in new/ at the last sync */
    uint32_t rd_uid; /* the message whose file rd_fd is */
    int rd_fd;
    int wd[2]; /* inotify registrations of new/ and cur/, or -1 */
};

/* UID list in memory. */
struct ul_entry {
    uint32_t uid;
    char *base;
};
struct uidlist {
    uint32_t uidvalidity, uidnext;
    struct ul_entry *e;
    size_t n, cap;
};

/* ---- util.c: names, files, formats ---- */

char *md_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
imapsrv_status md_errno(int e);
void *md_reserve(void *arr, size_t *cap, size_t need, size_t size);

imapsrv_status md_canon(const char *name, imapsrv_status bad, char **out);
imapsrv_status md_encode(const char *cn, char **dir_r);
char *md_decode(const char *dir);
bool md_in_subtree(const char *name, const char *parent);

int md_fsync_dir(int dirfd, const char *sub);
int md_write_atomic(int dirfd, const char *name, const char *data, size_t len);
char *md_read_file(int dirfd, const char *name, size_t *len_r);
int md_rm_rf(int dirfd, const char *name);
int md_move_noreplace(int fromfd, const char *from, int tofd, const char *to);
char *md_unique_base(maildir *md, uint64_t size);

void md_split_name(const char *name, char **base_r, const char **info_r);
bool md_base_size(const char *base, uint64_t *size_r);
char *md_base_resize(const char *base, uint64_t size);
unsigned md_info_flags(const char *info, uint32_t *kwbits_r);
char *md_info_build(const char *old, unsigned flags, uint32_t kwbits);

void ul_clear(struct uidlist *ul);
int ul_read(int dirfd, struct uidlist *ul, bool header_only);
int ul_write(int dirfd, const struct uidlist *ul);
imapsrv_status ul_add(struct uidlist *ul, uint32_t uid, const char *base);

int kw_read(int dirfd, char *kw[NKW]);
int kw_write(int dirfd, char *const kw[NKW]);
void kw_clear(char *kw[NKW]);
int kw_index(char *const kw[NKW], const char *name);
bool kw_valid(const char *k);

uint32_t md_next_uidvalidity(struct mduser *u);
unsigned md_special_use_read(int rootfd, const char *dir, const char *name);
char *md_special_use_text(unsigned use);

/* ---- mbox.c: one mailbox ---- */

imapsrv_status box_open(struct mduser *u, const char *cn, bool readonly,
                        struct box **b_r);
void box_close(struct box *b);
imapsrv_status box_enter(struct box *b);
void box_leave(struct box *b);
imapsrv_status box_load_list(struct box *b, struct uidlist *ul,
                             bool header_only);
char *box_msg_path(const struct msg *m);
void box_msgs_free(struct msg *m, size_t n);

/* ---- sync.c: a mailbox's list against its directory ---- */

imapsrv_status box_sync(struct box *b, bool movenew, bool dates);
void box_status(const struct box *b, imapsrv_mailbox_status *st);
void box_clean_tmp(struct box *b);
struct msg *box_find(struct box *b, uint32_t uid);
size_t box_lower(const struct box *b, uint32_t uid);

/* A message to add to a mailbox: its file is tmp/<base> there. */
struct newmsg {
    char *base;
    unsigned flags;
    char **kw;
    size_t nkw;
    uint32_t uid; /* out */
};
imapsrv_status box_add(struct box *b, struct newmsg *m, size_t n);
imapsrv_status box_keyword_bits(struct box *b, const char *const *kw, size_t n,
                                uint32_t *bits_r);

imapsrv_status mbox_set_flags(struct box *b, const uint32_t *uids, size_t count,
                              imapsrv_flag_op how, unsigned flags,
                              const char *const *kw, size_t nkw);
imapsrv_status mbox_expunge(struct box *b, const uint32_t *uids, size_t n);
imapsrv_status mbox_read(struct box *b, uint32_t uid, uint64_t off, void *buf,
                         size_t len, size_t *got_r);
imapsrv_status mbox_copy(struct box *src, const uint32_t *uids, size_t count,
                         const char *dest, imapsrv_copy_result *res, bool move);
imapsrv_status mbox_move_all(struct box *from, int todirfd);

/* ---- maildir.c: users ---- */

imapsrv_status user_mailbox_dir(struct mduser *u, const char *cn, int *dirfd_r);
void user_ref(struct mduser *u);
void user_unref(struct mduser *u);

/* ---- mailboxes.c: the mailbox set (changes under the user's lock) ---- */

imapsrv_status set_list(struct mduser *u, imapsrv_op *op);
imapsrv_status set_create(struct mduser *u, const char *cn, unsigned use);
imapsrv_status set_delete(struct mduser *u, const char *cn);
imapsrv_status set_rename(struct mduser *u, const char *from, const char *to);
imapsrv_status set_subscribe(struct mduser *u, const char *name, bool on);
void set_cleanup(struct mduser *u);

/* ---- watch.c: inotify and the parsed-message cache ---- */

struct watcher *watch_new(void);
void watch_free(struct watcher *w);
void watch_set_server(struct watcher *w, imapsrv *srv);
void watch_add(struct watcher *w, struct box *b);
void watch_remove(struct watcher *w, struct box *b);

struct blob_cache *cache_new(size_t limit);
void cache_free(struct blob_cache *c);
void cache_put(struct blob_cache *c, const char *root, const char *base,
               const void *blob, size_t len);
size_t cache_get(struct blob_cache *c, const char *root, const char *base,
                 void *buf, size_t cap);

#endif
