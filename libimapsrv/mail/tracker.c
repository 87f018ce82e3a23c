/* Change tracker: see tracker.h. */
#include "mail/tracker.h"

#include "mail/seqset.h"

#include <stdlib.h>
#include <string.h>

void tracker_init(struct tracker *t)
{
    memset(t, 0, sizeof(*t));
}

void tracker_free(struct tracker *t)
{
    free(t->evs);
    tracker_init(t);
}

static imapsrv_status push(struct tracker *t, enum tracker_ev_type type,
                           const struct view_msg *m)
{
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        struct tracker_ev *p = realloc(t->evs, ncap * sizeof(*p));
        if (p == NULL)
            return IMAPSRV_E_NOMEM;
        t->evs = p;
        t->cap = ncap;
    }
    t->evs[t->count].type = type;
    t->evs[t->count].msg = *m;
    t->count++;
    return IMAPSRV_OK;
}

imapsrv_status tracker_new(struct tracker *t, const struct view_msg *m)
{
    return push(t, TRACKER_NEW, m);
}

imapsrv_status tracker_expunge(struct tracker *t, uint32_t uid)
{
    struct view_msg m = {.uid = uid};

    return push(t, TRACKER_EXPUNGE, &m);
}

imapsrv_status tracker_flags(struct tracker *t, uint32_t uid, unsigned flags,
                             uint64_t keywords, uint64_t modseq)
{
    struct view_msg m = {.uid = uid,
                         .flags = (uint16_t)(flags & 0x3fu),
                         .keywords = keywords,
                         .modseq = modseq};

    return push(t, TRACKER_FLAGS, &m);
}

static const char *const sysflag_names[] = {
    "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent",
};

void tracker_write_flags(struct wbuf *w, const struct view *v,
                         const struct view_msg *m)
{
    bool sp = false;

    wbuf_putc(w, '(');
    for (unsigned i = 0; i < 6; i++) {
        if (m->flags & (1u << i)) {
            if (sp)
                wbuf_putc(w, ' ');
            wbuf_puts(w, sysflag_names[i]);
            sp = true;
        }
    }
    for (unsigned i = 0; i < v->keyword_count; i++) {
        if (m->keywords & (UINT64_C(1) << i)) {
            if (sp)
                wbuf_putc(w, ' ');
            wbuf_puts(w, v->keywords[i]);
            sp = true;
        }
    }
    wbuf_putc(w, ')');
}

/* Messages expunged during one flush stay in the array (their UIDs keep
 * the binary search valid) and are removed together at the end: one pass
 * instead of one memmove of the tail per expunge.  idx is sorted. */
struct dead {
    uint32_t *idx;
    size_t n, cap;
};

/* Number of dead indexes below idx; *hit_r: idx itself is dead. */
static uint32_t dead_below(const struct dead *d, uint32_t idx, bool *hit_r)
{
    size_t lo = 0, hi = d->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->idx[mid] < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hit_r = lo < d->n && d->idx[lo] == idx;
    return (uint32_t)lo;
}

static bool dead_add(struct dead *d, uint32_t idx, uint32_t pos)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        uint32_t *p = realloc(d->idx, ncap * sizeof(*p));
        if (p == NULL)
            return false;
        d->idx = p;
        d->cap = ncap;
    }
    memmove(&d->idx[pos + 1], &d->idx[pos], (d->n - pos) * sizeof(*d->idx));
    d->idx[pos] = idx;
    d->n++;
    return true;
}

static void dead_apply(struct dead *d, struct view *v)
{
    view_remove_sorted(v, d->idx, d->n);
    d->n = 0;
}

/* QRESYNC: consecutive expunges become one "* VANISHED set". */
struct vanish {
    uint32_t *uid;
    size_t n, cap;
};

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void put_vanished(struct wbuf *w, struct vanish *van)
{
    if (van->n == 0)
        return;
    qsort(van->uid, van->n, sizeof(van->uid[0]), u32_cmp);
    wbuf_puts(w, "* VANISHED ");
    seqset_format_wbuf(w, van->uid, van->n);
    wbuf_puts(w, "\r\n");
    van->n = 0;
}

/* Lines held back to be coalesced go out before any other line: first the
 * VANISHED (the EXISTS count already excludes those messages), then one
 * EXISTS for the new messages. */
static void put_pending(struct wbuf *w, const struct view *v,
                        const struct dead *d, struct vanish *van, bool *exists,
                        uint32_t *told)
{
    bool hit;
    /* new entries past what the client knows, less those that came and
     * went unannounced (dead): none left, nothing to tell */
    uint32_t fresh =
        v->count - *told - (uint32_t)(d->n - dead_below(d, *told, &hit));

    put_vanished(w, van);
    if (*exists && fresh > 0) {
        wbuf_puts(w, "* ");
        wbuf_u32(w, v->count - (uint32_t)d->n);
        wbuf_puts(w, " EXISTS\r\n");
    }
    *exists = false;
    *told = v->count;
}

static void put_expunge(struct wbuf *w, struct vanish *van, bool vanished,
                        uint32_t seq, uint32_t uid)
{
    if (vanished && van->n == van->cap) {
        size_t ncap = van->cap ? van->cap * 2 : 16;
        uint32_t *p = realloc(van->uid, ncap * sizeof(*p));
        if (p == NULL) {
            /* no room to coalesce: one line for this one */
            put_vanished(w, van);
            wbuf_puts(w, "* VANISHED ");
            wbuf_u32(w, uid);
            wbuf_puts(w, "\r\n");
            return;
        }
        van->uid = p;
        van->cap = ncap;
    }
    if (vanished) {
        van->uid[van->n++] = uid;
        return;
    }
    wbuf_puts(w, "* ");
    wbuf_u32(w, seq);
    wbuf_puts(w, " EXPUNGE\r\n");
}

static void put_fetch(struct wbuf *w, const struct view *v,
                      const struct view_msg *m, uint32_t seq,
                      unsigned fetch_opts)
{
    wbuf_puts(w, "* ");
    wbuf_u32(w, seq);
    wbuf_puts(w, " FETCH (FLAGS ");
    tracker_write_flags(w, v, m);
    if (fetch_opts & TRACKER_FETCH_UID) {
        wbuf_puts(w, " UID ");
        wbuf_u32(w, m->uid);
    }
    if (fetch_opts & TRACKER_FETCH_MODSEQ) {
        wbuf_puts(w, " MODSEQ (");
        wbuf_u64(w, m->modseq);
        wbuf_putc(w, ')');
    }
    wbuf_puts(w, ")\r\n");
}

void tracker_flush(struct tracker *t, struct view *v, bool allow_expunge,
                   unsigned fetch_opts, struct wbuf *w)
{
    bool exists = false, hit;
    size_t keep = 0; /* events left queued are compacted to the front */
    struct dead d = {NULL, 0, 0};
    struct vanish van = {NULL, 0, 0};
    bool vanished = fetch_opts & TRACKER_VANISHED;
    uint32_t told = v->count; /* view entries the client knows of */

    for (size_t i = 0; i < t->count; i++) {
        struct tracker_ev *ev = &t->evs[i];
        uint32_t seq, below;
        struct view_msg *m;
        unsigned f;

        switch (ev->type) {
        case TRACKER_NEW:
            if (view_append(v, &ev->msg) == IMAPSRV_OK)
                exists = true;
            /* a UID at or below the last is a duplicate: nothing new.
             * Out of memory loses the message until the next SELECT. */
            break;
        case TRACKER_EXPUNGE:
            seq = view_uid_to_seq(v, ev->msg.uid);
            if (seq == 0)
                break;
            if (!allow_expunge) {
                view_mark_gone(v, seq - 1);
                t->evs[keep++] = *ev;
                break;
            }
            below = dead_below(&d, seq - 1, &hit);
            if (hit)
                break;
            if (seq - 1 >= told) {
                /* new in this flush and not announced yet: it goes
                 * without a word (no EXISTS counts it, no EXPUNGE) */
            } else {
                if (exists)
                    put_pending(w, v, &d, &van, &exists, &told);
                put_expunge(w, &van, vanished, seq - below, ev->msg.uid);
            }
            if (!dead_add(&d, seq - 1, below)) {
                /* no memory for the batch: remove the slow way, and
                 * keep told in step with the shifted indexes */
                told -= dead_below(&d, told, &hit);
                dead_apply(&d, v);
                view_remove(v, seq - 1 - below);
                if (seq - 1 - below < told)
                    told--;
            }
            break;
        case TRACKER_FLAGS:
            seq = view_uid_to_seq(v, ev->msg.uid);
            if (seq == 0 || (v->msgs[seq - 1].flags & VIEW_F_GONE))
                break;
            below = dead_below(&d, seq - 1, &hit);
            if (hit)
                break;
            m = &v->msgs[seq - 1];
            /* \Recent is this session's, never another's to change */
            f = ev->msg.flags & ~(unsigned)IMAPSRV_FLAG_RECENT;
            f |= m->flags & IMAPSRV_FLAG_RECENT;
            view_set_flags(v, seq - 1, f, ev->msg.keywords, ev->msg.modseq);
            put_pending(w, v, &d, &van, &exists, &told);
            put_fetch(w, v, m, seq - below, fetch_opts);
            break;
        }
    }
    put_pending(w, v, &d, &van, &exists, &told);
    dead_apply(&d, v);
    free(d.idx);
    free(van.uid);
    t->count = keep;
}
