/* SEARCH and UID SEARCH, with ESEARCH (RFC 4731) and SEARCHRES (RFC 5182)
 * answers.  Each message is judged on what the view knows; only when a key
 * needs it is the header read, and only then the body (parsed, then fed
 * through the text matcher). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mailbox.h"
#include "mail/search.h"
#include "mail/seqset.h"

#define CHUNK 65536
#define MAX_HEADER (256u * 1024) /* header keys look at no more than this */

enum sphase { SP_EVAL, SP_HEADER, SP_PARSE, SP_TEXT };

struct search_job {
    struct job base;
    struct search_prog *prog;
    struct search_text *text;
    unsigned uses, ret;
    bool uid_cmd, esearch, failed;
    size_t native_k;          /* body needles asked of the store's index */
    imapsrv_status native_st; /* its failure, if any */
    uint32_t idx;
    enum sphase ph;
    uint64_t off;
    char *buf;
    char *hdr; /* the header read so far */
    size_t hdr_len;
    bool have_header, have_text;
    struct mime_parser mp;
    bool parsing;
    struct mime_part *root;
    struct arena parse_arena, scratch;
    uint32_t *hits; /* UIDs, ascending */
    size_t n_hits, cap_hits;
};

static void search_free(struct job *jb)
{
    struct search_job *j = (struct search_job *)jb;
    if (j->parsing)
        mime_parser_free(&j->mp);
    arena_free(&j->parse_arena);
    arena_free(&j->scratch);
    free(j->buf);
    free(j->hdr);
    free(j->hits);
    free(j);
}

static bool header_complete(const char *h, size_t n)
{
    return (n >= 4 && memmem(h, n, "\r\n\r\n", 4)) ||
           (n >= 2 && memmem(h, n, "\n\n", 2)) || n >= MAX_HEADER;
}

/* Read the header block; false while waiting. */
static bool header_step(struct session *s, struct search_job *j, uint32_t uid)
{
    while (!header_complete(j->hdr, j->hdr_len)) {
        size_t got;
        imapsrv_status st;
        if (!job_read(s, uid, j->off, j->buf, CHUNK, &got, &st))
            return false;
        if (st != IMAPSRV_OK) {
            j->failed = true;
            break;
        }
        size_t room = MAX_HEADER - j->hdr_len;
        memcpy(j->hdr + j->hdr_len, j->buf, got < room ? got : room);
        j->hdr_len += got < room ? got : room;
        j->off += got;
        if (got < CHUNK)
            break;
    }
    /* Only the header block: keys must not match in the body. */
    const char *e =
        j->hdr_len >= 4 ? memmem(j->hdr, j->hdr_len, "\r\n\r\n", 4) : NULL;
    if (e)
        j->hdr_len = (size_t)(e - j->hdr) + 4;
    else if ((e = j->hdr_len >= 2 ? memmem(j->hdr, j->hdr_len, "\n\n", 2)
                                  : NULL))
        j->hdr_len = (size_t)(e - j->hdr) + 2;
    j->have_header = true;
    return true;
}

/* Pass 1 parses the tree, pass 2 feeds the bytes to the matcher; false
 * while waiting. */
static bool body_step(struct session *s, struct search_job *j, uint32_t uid)
{
    if (j->ph == SP_PARSE) {
        if (!j->parsing) {
            arena_reset(&j->parse_arena);
            struct mime_limits lim;
            mime_limits_init(&lim);
            mime_parser_init(&j->mp, &lim, &j->parse_arena);
            j->parsing = true;
            j->off = 0;
        }
        for (;;) {
            size_t got;
            imapsrv_status st;
            if (!job_read(s, uid, j->off, j->buf, CHUNK, &got, &st))
                return false;
            if (st != IMAPSRV_OK)
                got = 0, j->failed = true;
            mime_feed(&j->mp, j->buf, got);
            j->off += got;
            if (got < CHUNK)
                break;
        }
        j->parsing = false;
        if (mime_finish(&j->mp, &j->root) != IMAPSRV_OK)
            j->root = NULL;
        j->ph = SP_TEXT;
        j->off = 0;
        if (j->root)
            search_text_begin(j->text, j->root);
    }
    while (j->root) {
        size_t got;
        imapsrv_status st;
        if (!job_read(s, uid, j->off, j->buf, CHUNK, &got, &st))
            return false;
        if (st != IMAPSRV_OK)
            got = 0;
        search_text_feed(j->text, j->buf, got);
        j->off += got;
        if (got < CHUNK)
            break;
    }
    if (j->root)
        search_text_end(j->text);
    j->have_text = j->root != NULL;
    return true;
}

static bool add_hit(struct search_job *j, uint32_t uid)
{
    if (j->n_hits == j->cap_hits) {
        size_t cap = j->cap_hits ? j->cap_hits * 2 : 64;
        uint32_t *h = realloc(j->hits, cap * sizeof(*h));
        if (!h)
            return false;
        j->hits = h;
        j->cap_hits = cap;
    }
    j->hits[j->n_hits++] = uid;
    return true;
}

static void write_results(struct session *s, struct search_job *j)
{
    struct selected *sel = s->sel;
    struct wbuf *w = &s->conn->out;
    /* Numbers to report: UIDs, or sequence numbers now. */
    uint32_t *nums = j->hits;
    if (!j->uid_cmd)
        for (size_t i = 0; i < j->n_hits; i++)
            nums[i] = view_uid_to_seq(&sel->view, nums[i]);
    if (!j->esearch) {
        wbuf_puts(w, "* SEARCH");
        for (size_t i = 0; i < j->n_hits; i++)
            wbuf_printf(w, " %u", (unsigned)nums[i]);
        wbuf_puts(w, "\r\n");
        return;
    }
    unsigned ret = j->ret;
    if (ret == SRET_SAVE)
        return; /* RFC 5182: SAVE alone gives no ESEARCH */
    wbuf_puts(w, "* ESEARCH (TAG ");
    wbuf_string(w, s->tag, strlen(s->tag), 0);
    wbuf_putc(w, ')');
    if (j->uid_cmd)
        wbuf_puts(w, " UID");
    if (j->n_hits && (ret & SRET_MIN))
        wbuf_printf(w, " MIN %u", (unsigned)nums[0]);
    if (j->n_hits && (ret & SRET_MAX))
        wbuf_printf(w, " MAX %u", (unsigned)nums[j->n_hits - 1]);
    if (ret & SRET_COUNT)
        wbuf_printf(w, " COUNT %u", (unsigned)j->n_hits);
    if (j->n_hits && (ret & SRET_ALL)) {
        wbuf_puts(w, " ALL ");
        seqset_format_wbuf(w, nums, j->n_hits);
    }
    wbuf_puts(w, "\r\n");
}

/* ---- the store's own index ---- */

static void search_step(struct session *s);

static void native_answer(struct session *s, struct search_job *j,
                          const struct imapsrv_op *op)
{
    if (op->status == IMAPSRV_OK) {
        if (search_set_body_result(j->prog, j->native_k, op->uids, op->n_uids,
                                   &s->arena) != IMAPSRV_OK)
            j->native_st = IMAPSRV_E_NOMEM;
    } else if (op->status != IMAPSRV_E_UNSUPPORTED) {
        j->native_st = op->status;
    }
    j->native_k++;
}

static void native_done(struct session *s, struct imapsrv_op *op)
{
    struct search_job *j = (struct search_job *)s->job;
    j->base.waiting = NULL;
    native_answer(s, j, op);
    search_step(s);
}

/* Ask search_body for each body needle; false while it works. */
static bool native_step(struct session *s, struct search_job *j)
{
    const imapsrv_store_hooks *h = &s->env->store;
    size_t n = search_body_count(j->prog);
    while (h->search_body && j->native_k < n && j->native_st == IMAPSRV_OK) {
        struct imapsrv_op *op = op_new(s, native_done);
        if (!op) {
            j->native_st = IMAPSRV_E_NOMEM;
            break;
        }
        op->status = h->search_body(h->userdata, op, s->sel->handle,
                                    search_body_needle(j->prog, j->native_k));
        if (op->status == IMAPSRV_PENDING) {
            j->base.waiting = op;
            return false;
        }
        native_answer(s, j, op);
        op_cancel(op);
    }
    j->uses = search_uses(j->prog);
    return true;
}

/* SEARCHRES (RFC 5182 2.1): with MIN and/or MAX and neither ALL nor
 * COUNT, only those are saved; otherwise the whole result. */
static void save_result(struct selected *sel, const struct search_job *j)
{
    free(sel->saved);
    sel->saved = NULL;
    sel->n_saved = 0;
    if (!j->n_hits || !(sel->saved = malloc(j->n_hits * sizeof(uint32_t))))
        return;
    if ((j->ret & (SRET_MIN | SRET_MAX)) &&
        !(j->ret & (SRET_ALL | SRET_COUNT))) {
        if (j->ret & SRET_MIN)
            sel->saved[sel->n_saved++] = j->hits[0];
        if ((j->ret & SRET_MAX) && (j->n_hits > 1 || !(j->ret & SRET_MIN)))
            sel->saved[sel->n_saved++] = j->hits[j->n_hits - 1];
        return;
    }
    memcpy(sel->saved, j->hits, j->n_hits * sizeof(uint32_t));
    sel->n_saved = j->n_hits;
}

static void search_step(struct session *s)
{
    struct search_job *j = (struct search_job *)s->job;
    struct view *v = &s->sel->view;
    if (!native_step(s, j))
        return;
    if (j->native_st != IMAPSRV_OK) {
        imapsrv_status st = j->native_st;
        job_end(s);
        session_fail(s, st, "SEARCH failed");
        return;
    }
    while (j->idx < v->count) {
        struct view_msg *m = &v->msgs[j->idx];
        if (m->flags & VIEW_F_GONE) {
            j->idx++;
            continue;
        }
        struct search_msg msg = {v, j->idx, NULL, 0, NULL};
        enum search_truth t = SEARCH_UNKNOWN;
        switch (j->ph) {
        case SP_EVAL:
            t = search_eval(j->prog, &msg, &j->scratch);
            if (t != SEARCH_UNKNOWN)
                break;
            j->ph = (j->uses & SEARCH_USES_HEADER) ? SP_HEADER : SP_PARSE;
            j->off = 0;
            j->hdr_len = 0;
            continue;
        case SP_HEADER:
            if (!header_step(s, j, m->uid))
                return;
            msg.header = j->hdr;
            msg.header_len = j->hdr_len;
            t = search_eval(j->prog, &msg, &j->scratch);
            if (t != SEARCH_UNKNOWN)
                break;
            j->ph = SP_PARSE;
            j->off = 0;
            continue;
        case SP_PARSE:
        case SP_TEXT:
            if (!body_step(s, j, m->uid))
                return;
            if (j->have_header) {
                msg.header = j->hdr;
                msg.header_len = j->hdr_len;
            } else {
                /* The tree knows the header now. */
                msg.header = j->root ? j->root->header : "";
                msg.header_len = j->root ? j->root->header_len : 0;
            }
            msg.text = j->have_text ? j->text : NULL;
            t = search_eval(j->prog, &msg, &j->scratch);
            break;
        }
        arena_reset(&j->scratch);
        if (t == SEARCH_TRUE && !add_hit(j, m->uid))
            j->failed = true;
        j->ph = SP_EVAL;
        j->have_header = j->have_text = false;
        j->idx++;
    }
    struct selected *sel = s->sel;
    if (j->ret & SRET_SAVE)
        save_result(sel, j);
    write_results(s, j);
    bool uid = j->uid_cmd;
    job_end(s);
    session_reply_later(s, "OK", NULL, "SEARCH completed", uid);
}

enum cmd_result cmd_search(struct session *s, struct imap_command *cmd)
{
    const struct cmd_search *cs = &cmd->u.search;
    struct selected *sel = s->sel;
    struct search_job *j = calloc(1, sizeof(*j));
    if (!j) {
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    j->base.step = search_step;
    j->base.free = search_free;
    arena_init(&j->parse_arena, 4096, 0);
    arena_init(&j->scratch, 4096, 0);
    const char *err = "Invalid search";
    imapsrv_status st =
        search_compile(&cs->root, cs->charset.s, &sel->view, sel->saved,
                       sel->n_saved, &s->arena, &j->prog, &err);
    if (st == IMAPSRV_E_UNSUPPORTED) {
        search_free(&j->base);
        session_tagged(s, s->tag, "NO", "BADCHARSET (UTF-8 US-ASCII)",
                       "Unsupported charset");
        return CMD_DONE;
    }
    if (st != IMAPSRV_OK) {
        search_free(&j->base);
        if (st == IMAPSRV_E_NOMEM)
            session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        else
            session_tagged(s, s->tag, "BAD", NULL, err);
        return CMD_DONE;
    }
    j->uses = search_uses(j->prog);
    j->uid_cmd = cmd->uid;
    j->esearch = cs->has_return || s->rev2;
    j->ret = cs->has_return ? cs->ret : SRET_ALL;
    if (j->ret == 0)
        j->ret = SRET_ALL; /* RETURN () */
    if (j->uses) {
        j->buf = malloc(CHUNK);
        j->hdr = malloc(MAX_HEADER);
        j->text = search_text_new(j->prog, &s->arena);
        if (!j->buf || !j->hdr || !j->text) {
            search_free(&j->base);
            session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
            return CMD_DONE;
        }
    }
    job_start(s, &j->base);
    search_step(s);
    return CMD_ASYNC;
}
