/* The mailbox engine's shared parts: the selected mailbox, mailbox names on
 * the wire, replies that carry the untagged updates before them, and jobs
 * (commands that work in steps because a hook may answer later or the
 * output must drain). */
#ifndef IMAPSRV_IMAP_MAILBOX_H
#define IMAPSRV_IMAP_MAILBOX_H

#include "imap/commands.h"
#include "imap/hub.h"
#include "imap/op.h"
#include "mail/mime.h"
#include "mail/tracker.h"
#include "mail/view.h"

#define DELIM '/'

struct selected {
    char *name; /* UTF-8, "INBOX" normalised */
    void *handle;
    bool readonly;
    struct view view;
    struct tracker tracker;
    struct hub_watch *watch;
    bool need_new, need_resync; /* the store's list must be read again */
    uint32_t *saved;            /* SEARCHRES: UIDs of the saved result */
    size_t n_saved;
    /* The last message parsed, kept for the next command (clients fetch
     * BODYSTRUCTURE, then parts). */
    struct arena cache_arena;
    uint32_t cache_uid;
    struct mime_part *cache_root;
};

/* ---- names ---- */

/* The client's mailbox name as UTF-8 (mUTF-7 decoded unless UTF8=ACCEPT),
 * INBOX normalised, malloc'd; NULL when it is not a valid name (*why_r
 * says why) or memory ran out. */
char *mbox_name_in(const struct session *s, const struct imap_str *name,
                   const char **why_r);
/* Write a UTF-8 name as the client expects it (mUTF-7 or UTF-8). */
void mbox_name_out(const struct session *s, struct wbuf *w, const char *name);
unsigned session_wflags(const struct session *s);

/* ---- replies ---- */

/* End a command in any state: in the selected state the pending untagged
 * updates go first (expunges only when allow_expunge), which may need the
 * store's message list.  CMD_DONE when the tagged line is written,
 * CMD_ASYNC when it follows later (the caller returns that). */
enum cmd_result session_reply(struct session *s, const char *status,
                              const char *code, const char *text,
                              bool allow_expunge);
/* The same from a completion (the command already returned CMD_ASYNC). */
void session_reply_later(struct session *s, const char *status,
                         const char *code, const char *text,
                         bool allow_expunge);
/* Status of a failed hook as NO [code] text. */
void session_fail(struct session *s, imapsrv_status st, const char *text);

/* ---- the selected mailbox ---- */

/* Leave the selected state (no expunge): close the store handle, stop
 * watching; the view goes. */
void selected_close(struct session *s);
/* Publish a change to the other sessions watching `mailbox` of this user
 * (`self` too when include_self). */
void mailbox_publish(struct session *s, const char *mailbox,
                     struct hub_change *c, bool include_self);
/* Apply this session's own flag change to its view and, unless silent,
 * write the FETCH FLAGS responses. */
void selected_apply_own(struct session *s, const struct hub_change *c,
                        bool silent, bool with_uid);
/* The messages of a parsed set ("$" included) that are still there, as
 * ascending UIDs (malloc'd, *n_r of them).  IMAPSRV_E_INVALID for a
 * sequence number beyond EXISTS. */
imapsrv_status selected_uids(struct session *s, const struct imap_seqset *set,
                             bool uid, uint32_t **uids_r, size_t *n_r);
/* Hub notification: changes were queued for this session. */
void selected_changes(void *session);
/* Write "(\Seen kw ...)" for a view message. */
void write_flags(struct session *s, const struct view_msg *m);

/* ---- jobs ---- */

struct job {
    /* Run until done or waiting (a hook's PENDING, output to drain).
     * Called again on completion / drain. */
    void (*step)(struct session *s);
    void (*free)(struct job *j);
    struct imapsrv_op *waiting; /* the op a step waits for, if any */
    bool drain;                 /* waits for output to drain */
    bool read_ready;            /* a pending read completed */
    imapsrv_status read_status;
    size_t read_got;
};

/* Install j as the session's job (the previous one freed). */
void job_start(struct session *s, struct job *j);
/* End the job (freed now unless a hook still holds its buffers: then with
 * the session, after the last op). */
void job_end(struct session *s);
/* Output is over the high-water mark: flush and, if still over, wait for
 * it to drain (true: the step must return now). */
bool job_wait_output(struct session *s);
/* Read message bytes through the store's read hook into buf (which must
 * stay valid until the read completes).  True with *got_r and *st_r set;
 * false while the hook works: the step returns and, run again, repeats the
 * same call, which then gives the result. */
bool job_read(struct session *s, uint32_t uid, uint64_t off, void *buf,
              size_t len, size_t *got_r, imapsrv_status *st_r);

/* ---- command handlers ---- */
enum cmd_result cmd_select(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_close(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_check(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_idle(struct session *s, struct imap_command *cmd);
void idle_line(struct session *s, const char *line, size_t len);
enum cmd_result cmd_fetch(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_store(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_expunge(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_copy(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_search(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_create(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_delete(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_rename(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_subscribe(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_namespace(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_status(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_append(struct session *s, struct imap_command *cmd);
/* APPEND's streaming, driven by the session's framer events: at a
 * literal of an APPEND (false: not the message literal, treat it as any
 * other), for each piece of the message, at the end of the command, and
 * when the connection goes. */
bool append_literal(struct session *s);
void append_data(struct session *s, const char *data, size_t len);
void append_command(struct session *s, const char *buf, size_t len);
void append_abort(struct session *s);

#endif
