/* The mailbox engine's shared parts: see mailbox.h. */
#include "imap/mailbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/seqset.h"
#include "proto/mutf7.h"
#include "proto/writer.h"

#define OUT_HIGH (256 * 1024) /* a job pauses above this much output */

/* ---- names ---- */

unsigned session_wflags(const struct session *s)
{
    return s->utf8 ? WSTR_UTF8 : 0;
}

char *mbox_name_in(const struct session *s, const struct imap_str *name,
                   const char **why_r)
{
    size_t cap = name->len * 4 + 8, len = name->len;
    char *out = malloc(cap);
    *why_r = "Out of memory";
    if (!out)
        return NULL;
    if (s->utf8) {
        *why_r = "Mailbox name is not valid UTF-8";
        if (utf8_valid(name->s, name->len))
            memcpy(out, name->s, name->len + 1);
        else
            len = 0, *out = '\0';
    } else {
        *why_r = "Mailbox name is not valid modified UTF-7";
        if (!mutf7_to_utf8(name->s, name->len, out, cap, &len))
            len = 0, *out = '\0';
    }
    bool ok = len > 0 || name->len == 0;
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
            *why_r = "Mailbox name contains control characters";
            ok = false;
        }
    if (!ok) {
        free(out);
        return NULL;
    }
    if (strncasecmp(out, "INBOX", 5) == 0 &&
        (out[5] == '\0' || out[5] == DELIM))
        memcpy(out, "INBOX", 5);
    return out;
}

void mbox_name_out(const struct session *s, struct wbuf *w, const char *name)
{
    size_t n = strlen(name);
    if (s->utf8) {
        wbuf_string(w, name, n, WSTR_UTF8);
        return;
    }
    size_t cap = n * 3 + 8, len;
    char *enc = malloc(cap);
    if (enc && mutf7_from_utf8(name, n, enc, cap, &len))
        wbuf_string(w, enc, len, 0);
    else
        wbuf_string(w, name, n, 0);
    free(enc);
}

void session_fail(struct session *s, imapsrv_status st, const char *text)
{
    session_reply_later(s, "NO", status_code(st), text, true);
}

void write_flags(struct session *s, const struct view_msg *m)
{
    tracker_write_flags(&s->conn->out, &s->sel->view, m);
}

/* ---- the selected mailbox ---- */

static void selected_free(struct selected *sel)
{
    hub_unwatch(sel->watch);
    view_free(&sel->view);
    tracker_free(&sel->tracker);
    arena_free(&sel->cache_arena);
    free(sel->saved);
    free(sel->name);
    free(sel);
}

void selected_close(struct session *s)
{
    struct selected *sel = s->sel;
    if (!sel)
        return;
    s->sel = NULL;
    if (sel->handle && s->env->store.close)
        s->env->store.close(s->env->store.userdata, sel->handle);
    selected_free(sel);
    if (s->state == SESS_SELECTED)
        s->state = SESS_AUTH;
}

void mailbox_publish(struct session *s, const char *mailbox,
                     struct hub_change *c, bool include_self)
{
    if (!c)
        return; /* out of memory: the others see it at their next resync */
    struct selected *sel = s->sel;
    if (sel && sel->watch && !include_self && mailbox == sel->name)
        /* The selected mailbox, under the name it has now. */
        hub_publish_as(s->env->hub, sel->watch, c);
    else
        hub_publish(s->env->hub, s->user, mailbox, c,
                    sel && !include_self ? sel->watch : NULL);
    hub_change_unref(c);
}

/* Apply one flag operation to a message's flags. */
static void apply_flags(struct view *v, struct view_msg *m,
                        const struct hub_change *c, unsigned *flags_r,
                        uint64_t *kw_r)
{
    uint64_t kw = 0;
    for (size_t i = 0; i < c->keyword_count; i++) {
        int k = view_keyword_intern(v, c->keywords[i], strlen(c->keywords[i]));
        if (k >= 0)
            kw |= 1ull << k;
    }
    unsigned f = m->flags & 0x3fu;
    switch (c->how) {
    case IMAPSRV_FLAGS_SET:
        f = (f & IMAPSRV_FLAG_RECENT) | (c->flags & ~IMAPSRV_FLAG_RECENT);
        break;
    case IMAPSRV_FLAGS_ADD:
        f |= c->flags;
        kw |= m->keywords;
        break;
    case IMAPSRV_FLAGS_REMOVE:
        f &= ~c->flags;
        kw = m->keywords & ~kw;
        break;
    }
    *flags_r = f;
    *kw_r = kw;
}

void selected_apply_own(struct session *s, const struct hub_change *c,
                        bool silent, bool with_uid)
{
    struct selected *sel = s->sel;
    struct wbuf *w = &s->conn->out;
    for (size_t k = 0; k < c->count; k++) {
        uint32_t seq = view_uid_to_seq(&sel->view, c->uids[k]);
        if (!seq)
            continue;
        struct view_msg *m = view_msg_at(&sel->view, seq - 1);
        unsigned f;
        uint64_t kw;
        apply_flags(&sel->view, m, c, &f, &kw);
        view_set_flags(&sel->view, seq - 1, f, kw, 0);
        if (silent)
            continue;
        wbuf_printf(w, "* %u FETCH (", (unsigned)seq);
        if (with_uid)
            wbuf_printf(w, "UID %u ", (unsigned)m->uid);
        wbuf_puts(w, "FLAGS ");
        write_flags(s, m);
        wbuf_puts(w, ")\r\n");
    }
}

/* Hub changes into the tracker; those that need the store's list only
 * set a mark. */
static void take_changes(struct session *s)
{
    struct selected *sel = s->sel;
    struct hub_change *cs[32];
    size_t n;
    while (sel->watch && (n = hub_take(sel->watch, cs, 32)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct hub_change *c = cs[i];
            if (c->kind == HUB_RENAMED) {
                char *name = hub_watch_name(sel->watch);
                if (name) {
                    free(sel->name);
                    sel->name = name;
                }
            }
            if (c->kind == HUB_NEW)
                sel->need_new = true;
            else if (c->kind == HUB_RESYNC)
                sel->need_resync = true;
            for (size_t k = 0; k < c->count; k++) {
                uint32_t seq = view_uid_to_seq(&sel->view, c->uids[k]);
                if (c->kind == HUB_EXPUNGE) {
                    tracker_expunge(&sel->tracker, c->uids[k]);
                } else if (c->kind == HUB_FLAGS && seq) {
                    struct view_msg *m = view_msg_at(&sel->view, seq - 1);
                    unsigned f;
                    uint64_t kw;
                    apply_flags(&sel->view, m, c, &f, &kw);
                    if (f == (m->flags & 0x3fu) && kw == m->keywords)
                        continue;
                    view_set_flags(&sel->view, seq - 1, f, kw, 0);
                    tracker_flags(&sel->tracker, c->uids[k], f, kw, 0);
                }
            }
            hub_change_unref(c);
        }
    }
}

/* Keyword bits of list view `from` as bits of `to`. */
static uint64_t remap_keywords(struct view *to, const struct view *from,
                               uint64_t kw)
{
    uint64_t out = 0;
    for (unsigned b = 0; b < from->keyword_count; b++)
        if (kw & (1ull << b)) {
            int k = view_keyword_intern(to, from->keywords[b],
                                        strlen(from->keywords[b]));
            if (k >= 0)
                out |= 1ull << k;
        }
    return out;
}

/* The store's list (from min_uid on) against the view: new messages, and
 * on a resync also the expunged and the changed ones. */
static void apply_list(struct session *s, struct view *list, uint32_t min_uid)
{
    struct selected *sel = s->sel;
    struct view *v = &sel->view;
    uint32_t i = view_lower_bound(v, min_uid), j = 0;
    while (i < v->count || j < list->count) {
        struct view_msg *a = i < v->count ? &v->msgs[i] : NULL;
        struct view_msg *b = j < list->count ? &list->msgs[j] : NULL;
        if (a && (a->flags & VIEW_F_GONE)) {
            i++;
        } else if (a && (!b || a->uid < b->uid)) {
            tracker_expunge(&sel->tracker, a->uid);
            i++;
        } else if (!a || b->uid < a->uid) {
            struct view_msg m = *b;
            m.keywords = remap_keywords(v, list, b->keywords);
            if (!a && hub_recent_claim(s->env->hub, s->user, sel->name,
                                       b->uid + 1, !sel->readonly) <= b->uid)
                m.flags |= IMAPSRV_FLAG_RECENT;
            if (!a)
                tracker_new(&sel->tracker, &m);
            /* else: a UID below ones we have: never shown, never told */
            j++;
        } else {
            uint64_t kw = remap_keywords(v, list, b->keywords);
            /* \Recent is the session's, not the store's. */
            unsigned f = (b->flags & 0x1fu) | (a->flags & IMAPSRV_FLAG_RECENT);
            if (f != (a->flags & 0x3fu) || kw != a->keywords) {
                view_set_flags(v, i, f, kw, b->modseq);
                tracker_flags(&sel->tracker, a->uid, f, kw, b->modseq);
            }
            i++;
            j++;
        }
    }
}

static void sync_flush(struct session *s, bool allow_expunge)
{
    struct selected *sel = s->sel;
    uint32_t before = view_exists(&sel->view);
    tracker_flush(&sel->tracker, &sel->view, allow_expunge, 0, &s->conn->out);
    if (!s->rev2 && view_exists(&sel->view) > before)
        wbuf_printf(&s->conn->out, "* %u RECENT\r\n",
                    (unsigned)view_recent(&sel->view));
}

static void sync_done(struct session *s, bool allow_expunge)
{
    s->syncing = false;
    if (s->sel)
        sync_flush(s, allow_expunge);
    if (s->reply_status[0]) {
        char status[4];
        memcpy(status, s->reply_status, sizeof(status));
        s->reply_status[0] = '\0';
        char *code = s->reply_code, *text = s->reply_text;
        s->reply_code = s->reply_text = NULL;
        session_finish(s, status, code, text ? text : "Completed");
        free(code);
        free(text);
    } else if (!s->gone) {
        conn_flush(s->conn);
    }
}

static void list_listed(struct session *s, struct imapsrv_op *op)
{
    /* A failed list leaves the view as it was: the next sync tries again. */
    if (s->sel && op->status == IMAPSRV_OK) {
        struct view empty;
        view_init(&empty, 0, 0);
        apply_list(s, op->list ? op->list : &empty, op->min_uid);
    } else if (s->sel) {
        s->sel->need_resync = true;
    }
    sync_done(s, op->ctx != NULL);
}

/* Gather the updates: true when they are written now, false when the
 * store's list is being read (sync_done follows). */
static bool sync_start(struct session *s, bool allow_expunge)
{
    struct selected *sel = s->sel;
    if (!sel)
        return true;
    if (s->syncing)
        return false; /* one under way (IDLE's): the reply follows it */
    take_changes(s);
    if (!sel->need_new && !sel->need_resync) {
        sync_flush(s, allow_expunge);
        return true;
    }
    uint32_t min_uid = 1;
    if (!sel->need_resync && view_exists(&sel->view))
        min_uid = sel->view.msgs[sel->view.count - 1].uid + 1;
    sel->need_new = sel->need_resync = false;
    struct imapsrv_op *op = op_new(s, list_listed);
    if (!op) {
        sync_flush(s, allow_expunge);
        return true;
    }
    op->min_uid = min_uid;
    op->ctx = allow_expunge ? (void *)1 : NULL;
    s->syncing = true;
    imapsrv_status st = s->env->store.messages(s->env->store.userdata, op,
                                               sel->handle, min_uid);
    if (st == IMAPSRV_PENDING)
        return false;
    op->status = st;
    s->syncing = false;
    if (st == IMAPSRV_OK) {
        struct view empty;
        view_init(&empty, 0, 0);
        apply_list(s, op->list ? op->list : &empty, min_uid);
    } else {
        sel->need_resync = true;
    }
    op_cancel(op);
    sync_flush(s, allow_expunge);
    return true;
}

static void save_reply(struct session *s, const char *status, const char *code,
                       const char *text)
{
    snprintf(s->reply_status, sizeof(s->reply_status), "%s", status);
    free(s->reply_code);
    free(s->reply_text);
    s->reply_code = code ? strdup(code) : NULL;
    s->reply_text = strdup(text);
}

enum cmd_result session_reply(struct session *s, const char *status,
                              const char *code, const char *text,
                              bool allow_expunge)
{
    /* A store that answers later completes through the loop, after this
     * returns: saving the reply only then is in time. */
    if (s->sel && !s->gone && !sync_start(s, allow_expunge)) {
        save_reply(s, status, code, text);
        return CMD_ASYNC;
    }
    session_tagged(s, s->tag, status, code, text);
    return CMD_DONE;
}

void session_reply_later(struct session *s, const char *status,
                         const char *code, const char *text, bool allow_expunge)
{
    if (s->sel && !s->gone && !sync_start(s, allow_expunge)) {
        save_reply(s, status, code, text);
        return;
    }
    session_finish(s, status, code, text);
}

void selected_changes(void *owner)
{
    struct session *s = owner;
    /* Between commands the updates wait for the next one (no EXPUNGE may
     * be sent then); in IDLE they go out at once. */
    if (s->gone || !s->sel || !s->idling || s->syncing)
        return;
    if (sync_start(s, true))
        conn_flush(s->conn);
}

/* ---- jobs ---- */

void job_start(struct session *s, struct job *j)
{
    job_end(s);
    s->job = j;
}

void job_end(struct session *s)
{
    struct job *j = s->job;
    /* A hook may still write into the job's buffers: the session frees
     * the job after its last op (session_unref). */
    if (!j || j->waiting)
        return;
    s->job = NULL;
    j->free(j);
}

bool job_wait_output(struct session *s)
{
    if (conn_out_pending(s->conn) < OUT_HIGH)
        return false;
    conn_flush(s->conn);
    if (conn_out_pending(s->conn) < OUT_HIGH)
        return false;
    s->job->drain = true;
    conn_want_drain(s->conn);
    return true;
}

static void read_done(struct session *s, struct imapsrv_op *op)
{
    struct job *j = op->ctx;
    j->waiting = NULL;
    j->read_status = op->status;
    j->read_got = op->got;
    j->read_ready = true;
    j->step(s);
}

bool job_read(struct session *s, uint32_t uid, uint64_t off, void *buf,
              size_t len, size_t *got_r, imapsrv_status *st_r)
{
    struct job *j = s->job;
    if (j->read_ready) { /* the read that was waiting */
        j->read_ready = false;
        *got_r = j->read_got;
        *st_r = j->read_status;
        return true;
    }
    struct imapsrv_op *op = op_new(s, read_done);
    if (!op) {
        *st_r = IMAPSRV_E_NOMEM;
        return true;
    }
    op->ctx = j;
    imapsrv_status st =
        s->env->store.read(s->env->store.userdata, op, s->sel->handle, uid, off,
                           buf, len, &op->got);
    if (st == IMAPSRV_PENDING) {
        j->waiting = op;
        return false;
    }
    *got_r = op->got;
    *st_r = st;
    op_cancel(op);
    return true;
}

/* ---- sets ---- */

struct collect {
    const struct view *v;
    uint32_t *uids;
    size_t n;
};

static int collect_uid(void *ctx, uint32_t idx)
{
    struct collect *c = ctx;
    if (!(c->v->msgs[idx].flags & VIEW_F_GONE))
        c->uids[c->n++] = c->v->msgs[idx].uid;
    return 0;
}

imapsrv_status selected_uids(struct session *s, const struct imap_seqset *set,
                             bool uid, uint32_t **uids_r, size_t *n_r)
{
    struct selected *sel = s->sel;
    struct imap_seqset saved;
    struct imap_range *r = NULL;
    *uids_r = NULL;
    *n_r = 0;
    if (set->saved) {
        /* "$" (RFC 5182): the saved result, which holds UIDs. */
        r = malloc((sel->n_saved ? sel->n_saved : 1) * sizeof(*r));
        if (!r)
            return IMAPSRV_E_NOMEM;
        for (size_t i = 0; i < sel->n_saved; i++)
            r[i].lo = r[i].hi = sel->saved[i];
        saved = (struct imap_seqset){r, sel->n_saved, false};
        set = &saved;
        uid = true;
    }
    struct seqset_result res;
    seqset_result_init(&res);
    imapsrv_status st = seqset_eval(set, &sel->view, uid, &res);
    free(r);
    if (st == IMAPSRV_OK && res.total) {
        struct collect c = {&sel->view, malloc(res.total * sizeof(uint32_t)),
                            0};
        if (!c.uids) {
            st = IMAPSRV_E_NOMEM;
        } else {
            seqset_result_each(&res, collect_uid, &c);
            *uids_r = c.uids;
            *n_r = c.n;
        }
    }
    seqset_result_free(&res);
    return st;
}
