/* LIST and LSUB: the store emits its mailboxes, the library matches the
 * patterns, adds the parents a hierarchy implies and the child attributes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/mailbox.h"
#include "imap/op.h"
#include "imap/status.h"
#include "proto/mutf7.h"

/* Pattern match with '*' (anything) and '%' (anything but the delimiter),
 * by dynamic programming: linear memory, no exponential backtracking. */
static bool list_match(const char *pat, const char *name, bool *row, bool *prev)
{
    size_t m = strlen(pat);
    prev[0] = true;
    for (size_t j = 1; j <= m; j++)
        prev[j] = prev[j - 1] && (pat[j - 1] == '*' || pat[j - 1] == '%');
    for (const char *c = name; *c; c++) {
        row[0] = false;
        for (size_t j = 1; j <= m; j++) {
            char p = pat[j - 1];
            if (p == '*')
                row[j] = row[j - 1] || prev[j];
            else if (p == '%')
                row[j] = row[j - 1] || (prev[j] && *c != DELIM);
            else
                row[j] = prev[j - 1] && p == *c;
        }
        bool *t = prev;
        prev = row;
        row = t;
    }
    return prev[m];
}

/* "inbox", "Inbox/x" ... name the one INBOX. */
static void normalize_inbox(char *name)
{
    if (strncasecmp(name, "INBOX", 5) == 0 &&
        (name[5] == '\0' || name[5] == DELIM))
        memcpy(name, "INBOX", 5);
}

static char *to_utf8(const struct session *s, const char *in)
{
    size_t n = strlen(in), cap = n * 4 + 8, len;
    char *out = malloc(cap);
    if (out && (s->utf8 || !mutf7_to_utf8(in, n, out, cap, &len)))
        memcpy(out, in, n + 1); /* UTF-8, or not mUTF-7: as sent */
    return out;
}

static bool has_children(const struct op_mailboxes *m, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->count; i++)
        if (strncmp(m->items[i].name, name, n) == 0 &&
            m->items[i].name[n] == DELIM)
            return true;
    return false;
}

static bool listed(const struct op_mailboxes *m, const char *name, size_t n)
{
    for (size_t i = 0; i < m->count; i++)
        if (strlen(m->items[i].name) == n &&
            strncmp(m->items[i].name, name, n) == 0)
            return true;
    return false;
}

/* Parents that exist only by implication ("a" for "a/b") join the list as
 * \Noselect so that '%' can walk the hierarchy. */
static void add_implied_parents(struct imapsrv_op *op)
{
    size_t count = op->mailboxes.count;
    for (size_t i = 0; i < count; i++) {
        const char *name = op->mailboxes.items[i].name;
        for (const char *d = strchr(name, DELIM); d; d = strchr(d + 1, DELIM)) {
            size_t n = (size_t)(d - name);
            if (n == 0 || listed(&op->mailboxes, name, n))
                continue;
            char *parent = strndup(name, n);
            if (!parent)
                return;
            imapsrv_mailbox_info mi = {parent, IMAPSRV_MBOX_NOSELECT};
            imapsrv_emit_mailbox(op, &mi);
            free(parent);
            name = op->mailboxes.items[i].name; /* items may have moved */
            d = name + n;
        }
    }
}

static const struct {
    unsigned bit;
    const char *name;
} special_uses[] = {
    {IMAPSRV_MBOX_ALL, "\\All"},       {IMAPSRV_MBOX_ARCHIVE, "\\Archive"},
    {IMAPSRV_MBOX_DRAFTS, "\\Drafts"}, {IMAPSRV_MBOX_FLAGGED, "\\Flagged"},
    {IMAPSRV_MBOX_JUNK, "\\Junk"},     {IMAPSRV_MBOX_SENT, "\\Sent"},
    {IMAPSRV_MBOX_TRASH, "\\Trash"},
};
#define SPECIAL_USE_MASK 0x7f00u

/* One LIST/LSUB job: the matched entries, written one by one (a STATUS
 * after each when LIST-STATUS asked, which may wait for the store). */
struct list_job {
    struct job base;
    struct imapsrv_op *op; /* the list, kept past its completion */
    size_t *hits;
    unsigned *childinfo; /* RECURSIVEMATCH: a descendant matched */
    size_t n, next;
    bool lsub, waiting, in_loop;
    unsigned sel, ret, items;
};

static void list_free(struct job *jb)
{
    struct list_job *j = (struct list_job *)jb;
    if (j->op)
        op_free(j->op);
    free(j->hits);
    free(j->childinfo);
    free(j);
}

static void list_job_free(void *j)
{
    list_free(j);
}

static void write_attr(struct wbuf *w, const char **sep, const char *name)
{
    wbuf_puts(w, *sep);
    wbuf_puts(w, name);
    *sep = " ";
}

static void write_entry(struct session *s, struct list_job *j, size_t k)
{
    const struct op_mailboxes *m = &j->op->mailboxes;
    const imapsrv_mailbox_info *mb = &m->items[j->hits[k]];
    struct wbuf *w = &s->conn->out;
    const char *sep = "";
    wbuf_puts(w, j->lsub ? "* LSUB (" : "* LIST (");
    if (mb->attrs & IMAPSRV_MBOX_NONEXISTENT)
        /* RFC 5258 / 9051: \NonExistent implies \Noselect. */
        write_attr(w, &sep,
                   s->rev2 || !j->lsub ? "\\NonExistent" : "\\Noselect");
    else if (mb->attrs & IMAPSRV_MBOX_NOSELECT)
        write_attr(w, &sep, "\\Noselect");
    if (mb->attrs & IMAPSRV_MBOX_NOINFERIORS)
        write_attr(w, &sep, "\\Noinferiors");
    else if (!j->lsub && !(mb->attrs & IMAPSRV_MBOX_NONEXISTENT))
        write_attr(w, &sep,
                   has_children(m, mb->name) ? "\\HasChildren"
                                             : "\\HasNoChildren");
    if ((mb->attrs & IMAPSRV_MBOX_SUBSCRIBED) && !j->lsub &&
        (j->ret & LRET_SUBSCRIBED || j->sel & LSEL_SUBSCRIBED))
        write_attr(w, &sep, "\\Subscribed");
    if (mb->attrs & IMAPSRV_MBOX_MARKED)
        write_attr(w, &sep, "\\Marked");
    else if (mb->attrs & IMAPSRV_MBOX_UNMARKED)
        write_attr(w, &sep, "\\Unmarked");
    /* RFC 6154: special uses go with every LIST (not LSUB). */
    for (size_t i = 0;
         !j->lsub && i < sizeof(special_uses) / sizeof(*special_uses); i++)
        if (mb->attrs & special_uses[i].bit)
            write_attr(w, &sep, special_uses[i].name);
    wbuf_puts(w, ") \"/\" ");
    mbox_name_out(s, w, mb->name);
    if (j->childinfo && j->childinfo[k])
        wbuf_puts(w, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
    wbuf_puts(w, "\r\n");
}

static void list_step(struct session *s);

static void list_status_got(struct session *s, const char *name, unsigned items,
                            imapsrv_status st, const imapsrv_mailbox_status *ms,
                            void *ctx)
{
    struct list_job *j = (struct list_job *)s->job;
    /* RFC 5819: a mailbox whose status cannot be read just has none. */
    if (st == IMAPSRV_OK)
        status_write(s, name, items, ms);
    j->waiting = false;
    if (!j->in_loop)
        list_step(s);
}

static void list_step(struct session *s)
{
    struct list_job *j = (struct list_job *)s->job;
    j->in_loop = true;
    while (j->next < j->n && !j->waiting) {
        size_t k = j->next++;
        write_entry(s, j, k);
        const imapsrv_mailbox_info *mb = &j->op->mailboxes.items[j->hits[k]];
        if ((j->ret & LRET_STATUS) && !(mb->attrs & IMAPSRV_MBOX_NOSELECT)) {
            char *name = strdup(mb->name);
            if (!name)
                continue;
            j->waiting = true;
            status_start(s, name, j->items, list_status_got, NULL);
        }
    }
    j->in_loop = false;
    if (j->waiting)
        return;
    bool lsub = j->lsub;
    job_end(s);
    session_reply_later(s, "OK", NULL,
                        lsub ? "LSUB completed" : "LIST completed", true);
}

/* Does the entry pass the selection options (RFC 5258 3.1)? */
static bool selected_by(const struct list_job *j,
                        const imapsrv_mailbox_info *mb)
{
    if ((j->lsub || (j->sel & LSEL_SUBSCRIBED)) &&
        !(mb->attrs & IMAPSRV_MBOX_SUBSCRIBED))
        return false;
    if ((j->sel & LSEL_SPECIAL_USE) && !(mb->attrs & SPECIAL_USE_MASK))
        return false;
    if (!(j->lsub || (j->sel & LSEL_SUBSCRIBED)) &&
        (mb->attrs & IMAPSRV_MBOX_NONEXISTENT))
        return false; /* only subscriptions keep a vanished name alive */
    return true;
}

static bool subscribed_below(const struct op_mailboxes *m, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->count; i++)
        if ((m->items[i].attrs & IMAPSRV_MBOX_SUBSCRIBED) &&
            strncmp(m->items[i].name, name, n) == 0 &&
            m->items[i].name[n] == DELIM)
            return true;
    return false;
}

static void list_listed(struct session *s, struct imapsrv_op *op)
{
    struct list_job *j = op->ctx;
    op->ctx = NULL; /* ours now */
    if (op->status != IMAPSRV_OK) {
        list_free(&j->base);
        session_fail(s, op->status, "Mailbox list not available");
        return;
    }
    add_implied_parents(op);
    size_t longest = 0, count = op->mailboxes.count;
    for (size_t p = 0; p < op->pattern_count; p++)
        if (strlen(op->patterns[p]) > longest)
            longest = strlen(op->patterns[p]);
    bool *rows = malloc(2 * (longest + 1) * sizeof(bool));
    j->hits = malloc((count ? count : 1) * sizeof(size_t));
    if ((j->sel & LSEL_RECURSIVEMATCH) && count)
        j->childinfo = calloc(count, sizeof(unsigned));
    if (!rows || !j->hits ||
        ((j->sel & LSEL_RECURSIVEMATCH) && count && !j->childinfo)) {
        free(rows);
        list_free(&j->base);
        session_fail(s, IMAPSRV_E_NOMEM, "Out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const imapsrv_mailbox_info *mb = &op->mailboxes.items[i];
        bool child = (j->sel & LSEL_RECURSIVEMATCH) &&
                     subscribed_below(&op->mailboxes, mb->name);
        if (!selected_by(j, mb) && !child)
            continue;
        for (size_t p = 0; p < op->pattern_count; p++)
            if (list_match(op->patterns[p], mb->name, rows,
                           rows + longest + 1)) {
                if (j->childinfo)
                    j->childinfo[j->n] = child;
                j->hits[j->n++] = i;
                break;
            }
    }
    free(rows);
    /* The job keeps the list: the op is freed when this returns. */
    struct imapsrv_op *keep = calloc(1, sizeof(*keep));
    if (!keep) {
        list_free(&j->base);
        session_fail(s, IMAPSRV_E_NOMEM, "Out of memory");
        return;
    }
    keep->mailboxes = op->mailboxes;
    memset(&op->mailboxes, 0, sizeof(op->mailboxes));
    j->op = keep;
    job_start(s, &j->base);
    list_step(s);
}

/* reference + pattern, in UTF-8, INBOX normalised; NULL when out of
 * memory. */
static char *full_pattern(const struct session *s, const char *ref,
                          const char *pat)
{
    char *r = to_utf8(s, ref), *p = to_utf8(s, pat), *full = NULL;
    if (r && p && (full = malloc(strlen(r) + strlen(p) + 1))) {
        strcpy(full, r);
        strcat(full, p);
        normalize_inbox(full);
    }
    free(r);
    free(p);
    return full;
}

enum cmd_result cmd_list(struct session *s, struct imap_command *cmd)
{
    const struct cmd_list *cl = &cmd->u.list;
    bool lsub = cmd->type == CMD_LSUB;
    if (!lsub && !cl->extended && cl->pattern_count == 1 &&
        cl->patterns[0].len == 0) {
        /* LIST "" "": the hierarchy delimiter and root. */
        session_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
        return session_reply(s, "OK", NULL, "LIST completed", true);
    }
    if (!s->env->have_store || !s->env->store.list) {
        session_tagged(s, cmd->tag.s, "NO", "UNAVAILABLE",
                       "No mail storage is configured");
        return CMD_DONE;
    }
    struct list_job *j = calloc(1, sizeof(*j));
    struct imapsrv_op *op = j ? op_new(s, list_listed) : NULL;
    if (op && (op->patterns = calloc(cl->pattern_count, sizeof(char *))))
        for (; op->pattern_count < cl->pattern_count; op->pattern_count++) {
            size_t i = op->pattern_count;
            op->patterns[i] =
                full_pattern(s, cl->reference.s, cl->patterns[i].s);
            if (!op->patterns[i])
                break;
        }
    if (!op || op->pattern_count < cl->pattern_count) {
        if (op)
            op_cancel(op);
        free(j);
        session_tagged(s, cmd->tag.s, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    j->base.step = list_step;
    j->base.free = list_free;
    j->lsub = lsub;
    j->sel = cl->select_opts;
    j->ret = cl->return_opts;
    j->items = cl->status_items;
    op->ctx = j;
    op->ctx_free = list_job_free;
    op_started(op, s->env->store.list(s->env->store.userdata, op, s->store_user,
                                      op->patterns[0]));
    return CMD_ASYNC;
}
