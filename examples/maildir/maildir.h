/* maildir: a Maildir++ mail store behind imapsrv_store_hooks.
 *
 * Every hook answers at once (never IMAPSRV_PENDING) and is thread-safe;
 * one user's Maildir may be used by several sessions of this process and
 * by other processes (another server, an MDA, a second maildir object) at
 * the same time.  Linux only (inotify, renameat2, /proc/self/fd).
 *
 * On-disk layout (Maildir++, as Dovecot and Courier use it):
 * - The user's root (the template with "%u" replaced) is INBOX itself:
 *   tmp/ new/ cur/.  Mailbox "a/b" is the directory ".a.b" in the root:
 *   '/' of the library is '.' on disk.  Inside one component the bytes
 *   '.', '%', control characters and DEL are written as %XX (upper-case
 *   hex), so no name can contain '/', start a ".." traversal or be
 *   confused with a hierarchy level; other bytes (UTF-8 included) are
 *   kept.  Directories whose name does not decode and encode back to
 *   itself (hand-made ones such as ".50%off") are not listed.  Names
 *   starting with ".." are the store's own work directories.
 * - Names with control characters, LIST wildcards ('*', '%'), empty
 *   components or "." / ".." components are refused (CREATE:
 *   IMAPSRV_E_CANNOT, other commands: IMAPSRV_E_NONEXISTENT); a directory
 *   name longer than 255 bytes is IMAPSRV_E_LIMIT.
 * - A selectable mailbox has cur/; a directory without cur/ is a \Noselect
 *   placeholder (what DELETE of a mailbox with children leaves), and so
 *   is a missing parent of an existing directory.
 * - Messages: tmp/ (being written, ignored; files untouched for 36 hours,
 *   by their ctime, are removed), new/ (delivered, not yet seen by a
 *   read-write session: STATUS RECENT counts them), cur/
 *   "<base>:2,<flags>".  Bases made here are
 *   "<time>.<pid>_<counter>.<host>,S=<size>", S= being the exact size.
 *   Flag letters: D \Draft, F \Flagged, R \Answered, S \Seen, T \Deleted
 *   (P and other letters are kept untouched), a-z keywords.
 * - imapsrv-keywords in each mailbox: "<index> <keyword>" lines; index 0
 *   is letter 'a' ... 25 is 'z' (Dovecot's dovecot-keywords format).  At
 *   most 26 keywords per mailbox: the 27th is IMAPSRV_E_LIMIT.
 * - imapsrv-uidlist: "V<uidvalidity> N<uidnext>", then "<uid> <base>" in
 *   UID order.  imapsrv-uidlist.lock is the flock(2) target that
 *   serializes every change of the list and of the files in cur/.
 * - imapsrv-special-use: the RFC 6154 attributes CREATE ... USE gave,
 *   e.g. "\Sent"; without it the top-level names Sent, Drafts, Trash,
 *   Junk, Spam, Archive (and a few usual variants) get theirs.
 * - In the user's root: subscriptions (one name a line),
 *   imapsrv-uidvalidity (the last UIDVALIDITY given out: they only grow,
 *   so a recreated mailbox never repeats one), imapsrv-mailboxes.lock
 *   (serializes CREATE, DELETE, RENAME, SUBSCRIBE).
 *
 * Messages are stored as the library gives them (CRLF).  A file that
 * arrives without a UID (an MDA's delivery into new/, files copied in by
 * hand) is read once: if it has bare LF line ends it is rewritten with
 * CRLF ones (same internal date) before it gets its UID, so that sizes and
 * offsets are those of the CRLF form the library needs; every file with a
 * UID carries its exact size as ",S=<size>" in its name.  The internal
 * date is the file's mtime (shown in UTC: Maildir keeps no zone).  Files
 * in new/ move to cur/ when a read-write session first lists them.  No
 * mod-sequences (modseq and highestmodseq are 0).
 *
 * Durability: APPEND, COPY and MOVE fsync the message file (COPY makes a
 * hard link, or a copy where links are refused), move it from tmp/ into
 * cur/, fsync cur/, then replace the UID list (temporary file, fsync,
 * rename, fsync of the directory) before they answer OK; EXPUNGE unlinks
 * and fsyncs cur/ before the list.  A crash leaves no partial message
 * visible and loses no acknowledged one (MOVE may leave a duplicate).
 * Flag changes are renames that are not fsynced: a crash may undo the
 * last ones.
 *
 * Resources: each open mailbox holds a directory descriptor and, while a
 * message is being read, that message's; the parsed-message cache (the
 * library's cache_put blobs) is shared by all sessions, at most 32 MiB.
 *
 * Semantics are memstore's (see memstore.h): CREATE makes parents, DELETE
 * of a mailbox with children leaves a \Noselect name, RENAME moves the
 * children, RENAME of INBOX moves its messages and leaves it empty, UIDs
 * are never reused, handles of a deleted mailbox answer
 * IMAPSRV_E_NONEXISTENT, EXAMINE handles answer IMAPSRV_E_NOPERM to
 * set_flags, expunge and move, subscriptions are independent of
 * existence.  A handle follows its mailbox through renames, also ones
 * made by another process.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

#include "imapsrv.h"

typedef struct maildir maildir;

/* root: a directory path in which "%u" stands for the user name
 * ("%%" for a '%'), e.g. "/var/mail/%u/Maildir".  User names are
 * validated (not empty, no '/', no leading '.', no control characters)
 * before they are substituted; user_open refuses others with
 * IMAPSRV_E_AUTHZFAILED.  A user's Maildir is created (INBOX with tmp/
 * new/ cur/, mode 0700) on the first user_open.  On failure `err` (if
 * not NULL) says why. */
imapsrv_status maildir_new(const char *root, maildir **md_r, char *err,
                           size_t errlen);
/* Free the store; no session may still use it.  Stops the watcher. */
void maildir_free(maildir **md);
/* Fill `hooks_r` (size, userdata and every hook but search_body). */
void maildir_hooks(maildir *md, imapsrv_store_hooks *hooks_r);
/* Changes found on disk (another process, an MDA dropping into new/) are
 * reported with imapsrv_notify_mailbox(srv, user, mailbox) once the server
 * exists; NULL stops reporting (no call is in progress once this
 * returns).  A watcher thread owned by the store watches, with inotify,
 * new/ and cur/ of every mailbox some session has open.  Where inotify
 * is not available nothing is reported: the library then sees outside
 * changes only when the mailbox is selected again, or when the host calls
 * imapsrv_notify_mailbox() itself (from its delivery agent, or on a
 * timer).  The store's own changes are reported too (one extra rescan of
 * the sessions that have the mailbox selected). */
void maildir_set_server(maildir *md, imapsrv *srv);

#endif
