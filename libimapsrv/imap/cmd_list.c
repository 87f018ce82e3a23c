/* LIST and LSUB: the store emits its mailboxes, the library matches the
 * patterns, adds the parents a hierarchy implies and the child attributes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/op.h"
#include "proto/mutf7.h"

#define DELIM '/'

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

static char *to_utf8(const char *in)
{
    size_t n = strlen(in), cap = n * 4 + 8, len;
    char *out = malloc(cap);
    if (out && !mutf7_to_utf8(in, n, out, cap, &len))
        memcpy(out, in, n + 1); /* not mUTF-7: match it as sent */
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

static void write_entry(struct session *s, bool lsub,
                        const struct op_mailboxes *m,
                        const imapsrv_mailbox_info *mb)
{
    struct wbuf *w = &s->conn->out;
    wbuf_puts(w, lsub ? "* LSUB (" : "* LIST (");
    const char *sep = "";
    if (mb->attrs & IMAPSRV_MBOX_NOSELECT) {
        wbuf_puts(w, "\\Noselect");
        sep = " ";
    }
    if (mb->attrs & IMAPSRV_MBOX_NOINFERIORS) {
        wbuf_puts(w, sep);
        wbuf_puts(w, "\\Noinferiors");
        sep = " ";
    } else if (!lsub) {
        wbuf_puts(w, sep);
        wbuf_puts(w, has_children(m, mb->name) ? "\\HasChildren"
                                               : "\\HasNoChildren");
    }
    wbuf_puts(w, ") \"/\" ");
    size_t n = strlen(mb->name), cap = n * 3 + 8, len;
    char *enc = malloc(cap);
    if (enc && mutf7_from_utf8(mb->name, n, enc, cap, &len))
        wbuf_string(w, enc, len, 0);
    else
        wbuf_string(w, mb->name, n, 0);
    free(enc);
    wbuf_puts(w, "\r\n");
}

static void list_listed(struct session *s, struct imapsrv_op *op)
{
    if (op->status != IMAPSRV_OK) {
        session_finish(s, "NO", status_code(op->status),
                       "Mailbox list not available");
        return;
    }
    add_implied_parents(op);
    size_t longest = 0;
    for (size_t p = 0; p < op->pattern_count; p++)
        if (strlen(op->patterns[p]) > longest)
            longest = strlen(op->patterns[p]);
    bool *rows = malloc(2 * (longest + 1) * sizeof(bool));
    if (!rows) {
        session_finish(s, "NO", "UNAVAILABLE", "Out of memory");
        return;
    }
    for (size_t i = 0; i < op->mailboxes.count; i++) {
        const imapsrv_mailbox_info *mb = &op->mailboxes.items[i];
        if (op->lsub && !(mb->attrs & IMAPSRV_MBOX_SUBSCRIBED))
            continue;
        for (size_t p = 0; p < op->pattern_count; p++)
            if (list_match(op->patterns[p], mb->name, rows,
                           rows + longest + 1)) {
                write_entry(s, op->lsub, &op->mailboxes, mb);
                break;
            }
    }
    free(rows);
    session_finish(s, "OK", NULL,
                   op->lsub ? "LSUB completed" : "LIST completed");
}

/* reference + pattern, in UTF-8, INBOX normalised; NULL when out of
 * memory. */
static char *full_pattern(const char *ref, const char *pat)
{
    char *r = to_utf8(ref), *p = to_utf8(pat), *full = NULL;
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
    if (!lsub && cl->pattern_count == 1 && cl->patterns[0].len == 0) {
        /* LIST "" "": the hierarchy delimiter and root. */
        session_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
        session_tagged(s, cmd->tag.s, "OK", NULL, "LIST completed");
        return CMD_DONE;
    }
    if (!s->env->have_store || !s->env->store.list) {
        session_tagged(s, cmd->tag.s, "NO", "UNAVAILABLE",
                       "No mail storage is configured");
        return CMD_DONE;
    }
    struct imapsrv_op *op = op_new(s, list_listed);
    if (op && (op->patterns = calloc(cl->pattern_count, sizeof(char *))))
        for (; op->pattern_count < cl->pattern_count; op->pattern_count++) {
            size_t i = op->pattern_count;
            op->patterns[i] = full_pattern(cl->reference.s, cl->patterns[i].s);
            if (!op->patterns[i])
                break;
        }
    if (!op || op->pattern_count < cl->pattern_count) {
        if (op)
            op_cancel(op);
        session_tagged(s, cmd->tag.s, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    op->lsub = lsub;
    op_started(op, s->env->store.list(s->env->store.userdata, op, s->store_user,
                                      op->patterns[0]));
    return CMD_ASYNC;
}
