/* FETCH and UID FETCH: one job walks the set message by message.  A
 * message's MIME tree is parsed from the store's bytes only when an item
 * needs it; body sections stream from the read hook to the socket in
 * bounded chunks, so no message is ever held whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/mailbox.h"
#include "mail/envelope.h"
#include "mail/section.h"
#include "mail/seqset.h"

#define CHUNK 65536
#define MAX_FILTER_HEADER (1u << 20) /* HEADER.FIELDS reads at most this */

enum phase {
    PH_BEGIN,   /* next message */
    PH_SEEN,    /* setting \Seen */
    PH_PARSE,   /* reading the message through the MIME parser */
    PH_ITEMS,   /* writing items */
    PH_HEADER,  /* reading a header block to filter */
    PH_STREAM,  /* streaming a section */
    PH_BCOUNT,  /* decoding a BINARY section to learn its size */
    PH_BSTREAM, /* streaming a decoded BINARY section */
};

struct fetch_job {
    struct job base;
    struct fetch_att *atts;
    size_t att_count;
    bool uid_cmd, peek_all;
    bool need_struct;   /* ENVELOPE, BODY or BODYSTRUCTURE */
    bool need_sections; /* items that need the tree's offsets */
    bool need_bytes;    /* items that send message bytes */
    /* The structure items of the current message, rendered once (or from
     * the store's cache): ENVELOPE, BODY, BODYSTRUCTURE. */
    char *blob;
    size_t blob_cap;
    const char *piece[3];
    uint32_t piece_len[3];
    bool have_pieces;
    struct seqset_result set;
    size_t span;
    uint32_t idx;
    enum phase ph;
    size_t att;       /* item being written */
    bool add_flags;   /* \Seen was set: FLAGS joins the response */
    bool probed;      /* the message's first bytes were readable */
    bool failed;      /* a message could not be read */
    bool unknown_cte; /* BINARY of an encoding we cannot decode */
    const char *enc;  /* BINARY: the part's encoding */
    struct mime_parser mp;
    bool parsing;
    uint64_t off;           /* read position in the message */
    uint64_t left;          /* bytes of the section still to go */
    uint64_t skip;          /* BINARY: decoded bytes before the partial */
    uint64_t dsize;         /* BINARY: decoded size */
    bool dnul;              /* BINARY: decoded bytes include NUL */
    struct section_loc loc; /* current section */
    struct mime_decoder dec;
    char *buf;  /* CHUNK bytes read from the store */
    char *dbuf; /* CHUNK + MIME_DEC_SLACK decoded bytes */
    struct arena scratch;
};

static void fetch_free(struct job *jb)
{
    struct fetch_job *j = (struct fetch_job *)jb;
    if (j->parsing)
        mime_parser_free(&j->mp);
    seqset_result_free(&j->set);
    arena_free(&j->scratch);
    free(j->buf);
    free(j->dbuf);
    free(j->blob);
    free(j);
}

static struct fetch_job *job_of(struct session *s)
{
    return (struct fetch_job *)s->job;
}

/* ---- what the items need ---- */

static bool att_sets_seen(const struct fetch_att *a)
{
    switch (a->type) {
    case FA_RFC822:
    case FA_RFC822_TEXT: return true;
    case FA_BODY_SECTION:
    case FA_BINARY: return !a->peek;
    default: return false;
    }
}

/* The section an item reads (RFC822* as their BODY[] equivalents). */
static struct fetch_section att_section(const struct fetch_att *a)
{
    struct fetch_section sec = {0};
    if (a->type == FA_RFC822_HEADER)
        sec.spec = SEC_HEADER;
    else if (a->type == FA_RFC822_TEXT)
        sec.spec = SEC_TEXT;
    else if (a->type != FA_RFC822)
        sec = a->section;
    return sec;
}

static bool att_is_struct(const struct fetch_att *a)
{
    return a->type == FA_ENVELOPE || a->type == FA_BODY ||
           a->type == FA_BODYSTRUCTURE;
}

/* Needs the MIME tree's offsets (structure items aside). */
static bool att_needs_tree(const struct fetch_att *a)
{
    switch (a->type) {
    case FA_RFC822_HEADER:
    case FA_RFC822_TEXT: return true;
    case FA_BODY_SECTION:
    case FA_BINARY:
    case FA_BINARY_SIZE:
        /* BODY[] is the message as it is: its size is known already. */
        return a->section.part_count || a->section.spec != SEC_ALL;
    default: return false;
    }
}

/* ---- small writers ---- */

static void write_date(struct wbuf *w, int64_t t, int tz_min)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t local = (time_t)(t + (int64_t)tz_min * 60);
    struct tm tm;
    gmtime_r(&local, &tm);
    int z = tz_min < 0 ? -tz_min : tz_min;
    wbuf_printf(w, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday,
                mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec, tz_min < 0 ? '-' : '+', z / 60, z % 60);
}

static void write_name(struct wbuf *w, const struct fetch_att *a)
{
    section_write_name(w, a);
}

/* ---- reads ---- */

/* Feed the message through the MIME parser into the selected mailbox's
 * cache.  False while waiting. */
static bool parse_step(struct session *s, struct fetch_job *j,
                       const struct view_msg *m)
{
    struct selected *sel = s->sel;
    if (!j->parsing) {
        sel->cache_uid = 0;
        sel->cache_root = NULL;
        arena_reset(&sel->cache_arena);
        struct mime_limits lim;
        mime_limits_init(&lim);
        mime_parser_init(&j->mp, &lim, &sel->cache_arena);
        j->parsing = true;
        j->off = 0;
    }
    for (;;) {
        size_t got;
        imapsrv_status st;
        if (!job_read(s, m->uid, j->off, j->buf, CHUNK, &got, &st))
            return false;
        if (st != IMAPSRV_OK) {
            mime_parser_free(&j->mp);
            j->parsing = false;
            j->failed = true;
            return true;
        }
        mime_feed(&j->mp, j->buf, got);
        j->off += got;
        if (got < CHUNK)
            break;
    }
    j->parsing = false;
    struct mime_part *root;
    if (mime_finish(&j->mp, &root) == IMAPSRV_OK) {
        sel->cache_uid = m->uid;
        sel->cache_root = root;
    } else {
        j->failed = true;
    }
    return true;
}

/* ---- sections ---- */

/* Start the section item j->att: writes its name and, for what is known
 * at once, its value; sets the phase for what streams. */
static void section_begin(struct session *s, struct fetch_job *j,
                          const struct view_msg *m)
{
    struct wbuf *w = &s->conn->out;
    const struct fetch_att *a = &j->atts[j->att];
    struct fetch_section sec = att_section(a);
    if (!att_needs_tree(a) || !s->sel->cache_root) {
        j->loc = (struct section_loc){SECTION_RANGE, 0, m->size, NULL};
    } else {
        section_locate(s->sel->cache_root, &sec, &j->loc);
    }
    if (j->loc.kind == SECTION_NIL) {
        write_name(w, a);
        wbuf_puts(w, a->type == FA_BINARY_SIZE ? " 0" : " NIL");
        j->att++;
        return;
    }
    if (j->loc.end > m->size)
        j->loc.end = m->size;
    if (j->loc.start > j->loc.end)
        j->loc.start = j->loc.end;
    j->off = j->loc.start;
    if (j->loc.kind == SECTION_FILTER) {
        j->ph = PH_HEADER;
        return;
    }
    if (a->type == FA_BINARY || a->type == FA_BINARY_SIZE) {
        /* BINARY[] is the message as it is; a part decodes by its own
         * Content-Transfer-Encoding. */
        j->enc = sec.part_count && j->loc.part ? j->loc.part->encoding : NULL;
        if (!section_binary_ok(j->enc)) {
            write_name(w, a);
            wbuf_puts(w, a->type == FA_BINARY_SIZE ? " 0" : " NIL");
            j->unknown_cte = true;
            j->att++;
            return;
        }
        mime_decoder_init(&j->dec, j->enc);
        j->dsize = 0;
        j->dnul = false;
        j->ph = PH_BCOUNT;
        return;
    }
    uint64_t start, len;
    section_partial(j->loc.end - j->loc.start, a->offset,
                    a->partial ? a->count : UINT64_MAX, &start, &len);
    j->off = j->loc.start + start;
    j->left = len;
    write_name(w, a);
    wbuf_printf(w, " {%llu}\r\n", (unsigned long long)len);
    j->ph = PH_STREAM;
}

/* Stream j->left bytes from j->off.  A store that gives fewer bytes than
 * it promised gets the literal padded: the length is already sent. */
static bool stream_step(struct session *s, struct fetch_job *j, uint32_t uid)
{
    struct wbuf *w = &s->conn->out;
    while (j->left) {
        if (job_wait_output(s))
            return false;
        size_t want = j->left < CHUNK ? (size_t)j->left : CHUNK, got;
        imapsrv_status st;
        if (!job_read(s, uid, j->off, j->buf, want, &got, &st))
            return false;
        if (st != IMAPSRV_OK || got == 0) {
            j->failed = true;
            while (j->left) {
                size_t n = j->left < CHUNK ? (size_t)j->left : CHUNK;
                memset(j->buf, ' ', n);
                wbuf_put(w, j->buf, n);
                j->left -= n;
            }
            break;
        }
        if (got > want)
            got = want;
        wbuf_put(w, j->buf, got);
        j->off += got;
        j->left -= got;
    }
    j->att++;
    j->ph = PH_ITEMS;
    return true;
}

static bool header_step(struct session *s, struct fetch_job *j, uint32_t uid)
{
    const struct fetch_att *a = &j->atts[j->att];
    uint64_t len = j->loc.end - j->loc.start;
    if (len > MAX_FILTER_HEADER)
        len = MAX_FILTER_HEADER;
    char *hdr = arena_alloc(&j->scratch, (size_t)len + 1);
    char *out = arena_alloc(&j->scratch, (size_t)len + 4);
    if (!hdr || !out) {
        j->failed = true;
        len = 0;
    }
    size_t have = 0;
    /* Header blocks are small: read them whole (one CHUNK at a time). */
    while (have < len) {
        size_t want = len - have < CHUNK ? (size_t)(len - have) : CHUNK, got;
        imapsrv_status st;
        if (!job_read(s, uid, j->loc.start + have, j->buf, want, &got, &st))
            return false;
        if (st != IMAPSRV_OK || got == 0)
            break;
        memcpy(hdr + have, j->buf, got < want ? got : want);
        have += got < want ? got : want;
    }
    size_t n = out ? section_filter_header(
                         hdr, have, a->section.fields, a->section.field_count,
                         a->section.spec == SEC_HEADER_FIELDS_NOT, out)
                   : 0;
    uint64_t start, cnt;
    section_partial(n, a->offset, a->partial ? a->count : UINT64_MAX, &start,
                    &cnt);
    struct wbuf *w = &s->conn->out;
    write_name(w, a);
    wbuf_printf(w, " {%llu}\r\n", (unsigned long long)cnt);
    wbuf_put(w, out + start, (size_t)cnt);
    arena_reset(&j->scratch);
    j->att++;
    j->ph = PH_ITEMS;
    return true;
}

/* Count (first pass) or send (second pass) n decoded bytes of dbuf. */
static void binary_emit(struct session *s, struct fetch_job *j, size_t n)
{
    if (j->ph == PH_BCOUNT) {
        j->dsize += n;
        if (!j->dnul && memchr(j->dbuf, 0, n))
            j->dnul = true;
        return;
    }
    size_t from = j->skip < n ? (size_t)j->skip : n; /* before the partial */
    j->skip -= from;
    size_t take = n - from < j->left ? n - from : (size_t)j->left;
    wbuf_put(&s->conn->out, j->dbuf + from, take);
    j->left -= take;
}

/* BINARY: decode the part once to learn the size (and whether a literal8
 * is needed), then again to send it. */
static bool binary_step(struct session *s, struct fetch_job *j, uint32_t uid)
{
    struct wbuf *w = &s->conn->out;
    const struct fetch_att *a = &j->atts[j->att];
    while (j->off < j->loc.end) {
        if (j->ph == PH_BSTREAM && job_wait_output(s))
            return false;
        uint64_t rest = j->loc.end - j->off;
        size_t want = rest < CHUNK ? (size_t)rest : CHUNK, got;
        imapsrv_status st;
        if (!job_read(s, uid, j->off, j->buf, want, &got, &st))
            return false;
        if (st != IMAPSRV_OK || got == 0) {
            j->failed = true;
            break;
        }
        if (got > want)
            got = want;
        j->off += got;
        binary_emit(s, j, mime_decode(&j->dec, j->buf, got, j->dbuf));
    }
    binary_emit(s, j, mime_decode_finish(&j->dec, j->dbuf));
    if (j->ph == PH_BCOUNT && a->type == FA_BINARY_SIZE) {
        write_name(w, a);
        wbuf_printf(w, " %llu", (unsigned long long)j->dsize);
    } else if (j->ph == PH_BCOUNT) {
        uint64_t start, len;
        section_partial(j->dsize, a->offset, a->partial ? a->count : UINT64_MAX,
                        &start, &len);
        write_name(w, a);
        wbuf_printf(w, " %s{%llu}\r\n", j->dnul ? "~" : "",
                    (unsigned long long)len);
        j->skip = start;
        j->left = len;
        j->off = j->loc.start;
        mime_decoder_init(&j->dec, j->enc);
        j->ph = PH_BSTREAM;
        return binary_step(s, j, uid);
    }
    while (j->left) { /* the source was shorter the second time */
        size_t n = j->left < CHUNK ? (size_t)j->left : CHUNK;
        memset(j->buf, ' ', n);
        wbuf_put(w, j->buf, n);
        j->left -= n;
    }
    j->att++;
    j->ph = PH_ITEMS;
    return true;
}

/* ---- structure items and the store's cache ---- */

/* Blob: "S1", the writer flags, then ENVELOPE, BODY and BODYSTRUCTURE,
 * each as a 4-byte length and its bytes. */
#define BLOB_HEAD 3

static bool blob_room(struct fetch_job *j, size_t n)
{
    if (n <= j->blob_cap)
        return true;
    char *b = realloc(j->blob, n);
    if (!b)
        return false;
    j->blob = b;
    j->blob_cap = n;
    return true;
}

/* Point the pieces into a blob of n bytes; false when it is not ours. */
static bool pieces_from_blob(struct session *s, struct fetch_job *j, size_t n)
{
    const unsigned char *b = (const unsigned char *)j->blob;
    if (n < BLOB_HEAD || b[0] != 'S' || b[1] != '1' ||
        b[2] != (unsigned char)session_wflags(s))
        return false;
    size_t off = BLOB_HEAD;
    for (int k = 0; k < 3; k++) {
        uint32_t len;
        if (n - off < 4)
            return false;
        memcpy(&len, b + off, 4);
        off += 4;
        if (n - off < len)
            return false;
        j->piece[k] = j->blob + off;
        j->piece_len[k] = len;
        off += len;
    }
    return off == n;
}

static bool pieces_cached(struct session *s, struct fetch_job *j, uint32_t uid)
{
    const imapsrv_store_hooks *h = &s->env->store;
    if (!h->cache_get || !blob_room(j, 4096))
        return false;
    size_t n =
        h->cache_get(h->userdata, s->sel->handle, uid, j->blob, j->blob_cap);
    if (n > j->blob_cap) {
        if (!blob_room(j, n))
            return false;
        n = h->cache_get(h->userdata, s->sel->handle, uid, j->blob,
                         j->blob_cap);
        if (n > j->blob_cap)
            return false;
    }
    return n && pieces_from_blob(s, j, n);
}

/* Render the structure items from the parsed tree, and hand them to the
 * store's cache.  False when out of memory. */
static bool pieces_render(struct session *s, struct fetch_job *j,
                          const struct view_msg *m)
{
    const struct mime_part *root = s->sel->cache_root;
    unsigned wf = session_wflags(s);
    struct wbuf t;
    wbuf_init(&t);
    size_t len[3];
    env_write_envelope(&t, root->header ? root->header : "", root->header_len,
                       &j->scratch, wf);
    len[0] = t.len;
    env_write_body(&t, root, false, &j->scratch, wf);
    len[1] = t.len - len[0];
    env_write_body(&t, root, true, &j->scratch, wf);
    len[2] = t.len - len[0] - len[1];
    arena_reset(&j->scratch);
    size_t n = BLOB_HEAD + 12 + t.len;
    bool ok = !t.oom && blob_room(j, n);
    if (ok) {
        j->blob[0] = 'S';
        j->blob[1] = '1';
        j->blob[2] = (char)wf;
        size_t off = BLOB_HEAD, from = 0;
        for (int k = 0; k < 3; k++) {
            uint32_t l = (uint32_t)len[k];
            memcpy(j->blob + off, &l, 4);
            memcpy(j->blob + off + 4, t.data + from, len[k]);
            off += 4 + len[k];
            from += len[k];
        }
        pieces_from_blob(s, j, n);
        const imapsrv_store_hooks *h = &s->env->store;
        if (h->cache_put)
            h->cache_put(h->userdata, s->sel->handle, m->uid, j->blob, n);
    }
    wbuf_free(&t);
    if (!ok)
        j->failed = true;
    return ok;
}

/* ---- items ---- */

/* Write simple items from j->att on; stops at a section (phase set). */
static void items_step(struct session *s, struct fetch_job *j,
                       struct view_msg *m)
{
    struct wbuf *w = &s->conn->out;
    while (j->att < j->att_count && j->ph == PH_ITEMS) {
        const struct fetch_att *a = &j->atts[j->att];
        if (j->att)
            wbuf_putc(w, ' ');
        switch (a->type) {
        case FA_FLAGS:
            wbuf_puts(w, "FLAGS ");
            write_flags(s, m);
            break;
        case FA_UID: wbuf_printf(w, "UID %u", (unsigned)m->uid); break;
        case FA_INTERNALDATE:
            wbuf_puts(w, "INTERNALDATE ");
            write_date(w, m->internaldate, m->tz_offset_min);
            break;
        case FA_RFC822_SIZE:
            wbuf_printf(w, "RFC822.SIZE %llu", (unsigned long long)m->size);
            break;
        case FA_MODSEQ:
            wbuf_printf(w, "MODSEQ (%llu)", (unsigned long long)m->modseq);
            break;
        case FA_ENVELOPE:
        case FA_BODY:
        case FA_BODYSTRUCTURE: {
            int k = a->type == FA_ENVELOPE ? 0 : a->type == FA_BODY ? 1 : 2;
            wbuf_puts(w, k == 0   ? "ENVELOPE "
                         : k == 1 ? "BODY "
                                  : "BODYSTRUCTURE ");
            wbuf_put(w, j->piece[k], j->piece_len[k]);
            break;
        }
        default: section_begin(s, j, m); continue;
        }
        arena_reset(&j->scratch);
        j->att++;
    }
}

/* ---- the walk ---- */

static bool next_message(struct fetch_job *j)
{
    const struct seqset_span *sp = &j->set.spans[j->span];
    if (j->idx < sp->last) {
        j->idx++;
        return true;
    }
    if (++j->span >= j->set.count)
        return false;
    j->idx = j->set.spans[j->span].first;
    return true;
}

static void seen_done(struct session *s, struct imapsrv_op *op)
{
    struct fetch_job *j = job_of(s);
    j->base.waiting = NULL;
    j->base.read_status = op->status;
    j->base.read_ready = true;
    j->base.step(s);
}

/* Set \Seen on the message (non-PEEK body items); false while waiting. */
static bool seen_step(struct session *s, struct fetch_job *j,
                      struct view_msg *m)
{
    imapsrv_status st;
    if (j->base.read_ready) {
        j->base.read_ready = false;
        st = j->base.read_status;
    } else {
        struct imapsrv_op *op = op_new(s, seen_done);
        if (!op)
            return true;
        uint32_t uid = m->uid;
        st = s->env->store.set_flags(s->env->store.userdata, op, s->sel->handle,
                                     &uid, 1, IMAPSRV_FLAGS_ADD,
                                     IMAPSRV_FLAG_SEEN, NULL, 0);
        if (st == IMAPSRV_PENDING) {
            j->base.waiting = op;
            return false;
        }
        op_cancel(op);
    }
    if (st == IMAPSRV_OK) {
        view_set_flags(&s->sel->view, j->idx, m->flags | IMAPSRV_FLAG_SEEN,
                       m->keywords, 0);
        j->add_flags = true;
        mailbox_publish(s, s->sel->name,
                        hub_change_new(HUB_FLAGS, &m->uid, 1, IMAPSRV_FLAGS_ADD,
                                       IMAPSRV_FLAG_SEEN, NULL, 0),
                        false);
    }
    return true;
}

static void fetch_step(struct session *s)
{
    struct fetch_job *j = job_of(s);
    struct wbuf *w = &s->conn->out;
    while (j->span < j->set.count) {
        struct view_msg *m = view_msg_at(&s->sel->view, j->idx);
        switch (j->ph) {
        case PH_BEGIN:
            if (job_wait_output(s))
                return;
            if (m->flags & VIEW_F_GONE) {
                j->failed = true;
                goto next;
            }
            j->att = 0;
            j->add_flags = false;
            j->probed = false;
            j->ph = PH_SEEN;
            /* fall through */
        case PH_SEEN:
            if (!j->peek_all && !s->sel->readonly &&
                !(m->flags & IMAPSRV_FLAG_SEEN) && s->env->store.set_flags &&
                !seen_step(s, j, m))
                return;
            j->ph = PH_PARSE;
            /* fall through */
        case PH_PARSE:
            j->have_pieces = j->need_struct && !j->need_sections &&
                             s->sel->cache_uid != m->uid &&
                             pieces_cached(s, j, m->uid);
            if ((j->need_sections || (j->need_struct && !j->have_pieces)) &&
                s->sel->cache_uid != m->uid) {
                if (!parse_step(s, j, m))
                    return;
                if (s->sel->cache_uid != m->uid)
                    goto next; /* unreadable (expunged meanwhile) */
            }
            if (j->need_struct && !j->have_pieces && !pieces_render(s, j, m))
                goto next;
            /* Bytes a literal will promise: make sure the message is still
             * there before its response starts (never made-up octets). */
            if (j->need_bytes && !j->need_sections && !j->probed) {
                size_t got;
                imapsrv_status st;
                size_t want = m->size < CHUNK ? (size_t)m->size : CHUNK;
                if (want && !job_read(s, m->uid, 0, j->buf, want, &got, &st))
                    return;
                if (want && (st != IMAPSRV_OK || got == 0)) {
                    j->failed = true;
                    goto next;
                }
                j->probed = true;
            }
            wbuf_printf(w, "* %u FETCH (", (unsigned)(j->idx + 1));
            j->ph = PH_ITEMS;
            /* fall through */
        case PH_ITEMS: items_step(s, j, m); break;
        case PH_HEADER:
            if (!header_step(s, j, m->uid))
                return;
            break;
        case PH_STREAM:
            if (!stream_step(s, j, m->uid))
                return;
            break;
        case PH_BCOUNT:
        case PH_BSTREAM:
            if (!binary_step(s, j, m->uid))
                return;
            break;
        }
        if (j->ph != PH_ITEMS || j->att < j->att_count)
            continue;
        if (j->add_flags) {
            wbuf_puts(w, " FLAGS ");
            write_flags(s, m);
        }
        wbuf_puts(w, ")\r\n");
    next:
        j->ph = PH_BEGIN;
        if (!next_message(j))
            break;
    }
    bool failed = j->failed, uid = j->uid_cmd, cte = j->unknown_cte;
    job_end(s);
    if (cte)
        session_reply_later(s, "NO", "UNKNOWN-CTE",
                            "Cannot decode a part's transfer encoding", uid);
    else if (failed)
        session_reply_later(s, "NO", "EXPUNGEISSUED",
                            "Some messages could not be fetched", uid);
    else
        session_reply_later(s, "OK", NULL, "FETCH completed", uid);
}

/* UID FETCH answers with UID in every response: put it first when the
 * client did not ask. */
static struct fetch_att *with_uid(struct session *s, struct cmd_fetch *f,
                                  size_t *count_r)
{
    for (size_t i = 0; i < f->att_count; i++)
        if (f->atts[i].type == FA_UID) {
            *count_r = f->att_count;
            return f->atts;
        }
    struct fetch_att *a =
        arena_alloc(&s->arena, (f->att_count + 1) * sizeof(*a));
    if (!a)
        return NULL;
    memset(a, 0, sizeof(*a));
    a[0].type = FA_UID;
    memcpy(a + 1, f->atts, f->att_count * sizeof(*a));
    *count_r = f->att_count + 1;
    return a;
}

enum cmd_result cmd_fetch(struct session *s, struct imap_command *cmd)
{
    struct cmd_fetch *f = &cmd->u.fetch;
    if (!s->env->store.read) {
        session_tagged(s, s->tag, "NO", "UNAVAILABLE",
                       "The store cannot read messages");
        return CMD_DONE;
    }
    struct fetch_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->buf = malloc(CHUNK)) ||
        !(j->dbuf = malloc(CHUNK + MIME_DEC_SLACK))) {
        if (j)
            free(j->buf);
        free(j);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    j->base.step = fetch_step;
    j->base.free = fetch_free;
    arena_init(&j->scratch, 4096, 0);
    seqset_result_init(&j->set);
    j->uid_cmd = cmd->uid;
    j->atts = f->atts;
    j->att_count = f->att_count;
    if (cmd->uid && !(j->atts = with_uid(s, f, &j->att_count))) {
        fetch_free(&j->base);
        session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        return CMD_DONE;
    }
    j->peek_all = true;
    for (size_t i = 0; i < j->att_count; i++) {
        if (att_sets_seen(&j->atts[i]))
            j->peek_all = false;
        j->need_struct |= att_is_struct(&j->atts[i]);
        j->need_sections |= att_needs_tree(&j->atts[i]);
        j->need_bytes |=
            j->atts[i].type >= FA_BODY_SECTION || j->atts[i].type == FA_RFC822;
    }
    struct imap_seqset set = f->set;
    if (set.saved) {
        /* "$": the saved SEARCH result, as UIDs. */
        struct imap_range *r = arena_alloc(
            &s->arena, (s->sel->n_saved ? s->sel->n_saved : 1) * sizeof(*r));
        for (size_t i = 0; r && i < s->sel->n_saved; i++)
            r[i].lo = r[i].hi = s->sel->saved[i];
        set = (struct imap_seqset){r, s->sel->n_saved, false};
    }
    imapsrv_status st =
        seqset_eval(&set, &s->sel->view, cmd->uid || f->set.saved, &j->set);
    if (st != IMAPSRV_OK) {
        fetch_free(&j->base);
        if (st == IMAPSRV_E_NOMEM) {
            session_tagged(s, s->tag, "NO", "UNAVAILABLE", "Out of memory");
        } else {
            session_tagged(s, s->tag, "BAD", NULL,
                           "Message sequence number out of range");
        }
        return CMD_DONE;
    }
    if (j->set.count == 0) {
        fetch_free(&j->base);
        return session_reply(s, "OK", NULL, "FETCH completed", cmd->uid);
    }
    j->idx = j->set.spans[0].first;
    job_start(s, &j->base);
    fetch_step(s);
    return CMD_ASYNC;
}
