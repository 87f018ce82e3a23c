/* Selected-mailbox view: see view.h. */
#include "mail/view.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void view_init(struct view *v, uint32_t uidvalidity, uint32_t uidnext)
{
    memset(v, 0, sizeof(*v));
    v->uidvalidity = uidvalidity;
    v->uidnext = uidnext ? uidnext : 1;
}

void view_free(struct view *v)
{
    free(v->msgs);
    for (unsigned i = 0; i < v->keyword_count; i++)
        free(v->keywords[i]);
    view_init(v, 0, 0);
}

imapsrv_status view_reserve(struct view *v, uint32_t n)
{
    if (n <= v->cap)
        return IMAPSRV_OK;
    struct view_msg *p = realloc(v->msgs, (size_t)n * sizeof(*p));
    if (p == NULL)
        return IMAPSRV_E_NOMEM;
    v->msgs = p;
    v->cap = n;
    return IMAPSRV_OK;
}

int view_keyword_find(const struct view *v, const char *kw, size_t len)
{
    for (unsigned i = 0; i < v->keyword_count; i++)
        if (strncasecmp(v->keywords[i], kw, len) == 0 &&
            v->keywords[i][len] == '\0')
            return (int)i;
    return -1;
}

int view_keyword_intern(struct view *v, const char *kw, size_t len)
{
    int i = view_keyword_find(v, kw, len);

    if (i >= 0)
        return i;
    if (v->keyword_count >= VIEW_MAX_KEYWORDS)
        return -1;
    char *s = malloc(len + 1);
    if (s == NULL)
        return -1;
    memcpy(s, kw, len);
    s[len] = '\0';
    v->keywords[v->keyword_count] = s;
    return (int)v->keyword_count++;
}

imapsrv_status view_keyword_mask(struct view *v, const char *const *kws,
                                 size_t n, uint64_t *mask_r)
{
    uint64_t mask = 0;

    for (size_t i = 0; i < n; i++) {
        int k = view_keyword_intern(v, kws[i], strlen(kws[i]));
        if (k < 0)
            return IMAPSRV_E_LIMIT;
        mask |= UINT64_C(1) << k;
    }
    *mask_r = mask;
    return IMAPSRV_OK;
}

/* Counters follow one message entering (+1) or leaving (-1) the view. */
static void count_msg(struct view *v, unsigned flags, int d)
{
    if (!(flags & IMAPSRV_FLAG_SEEN))
        v->n_unseen += (uint32_t)d;
    if (flags & IMAPSRV_FLAG_DELETED)
        v->n_deleted += (uint32_t)d;
    if (flags & IMAPSRV_FLAG_RECENT)
        v->n_recent += (uint32_t)d;
    if (flags & VIEW_F_GONE)
        v->n_gone += (uint32_t)d;
}

imapsrv_status view_append(struct view *v, const struct view_msg *m)
{
    if (m->uid == 0 || (v->count > 0 && m->uid <= v->msgs[v->count - 1].uid))
        return IMAPSRV_E_INVALID;
    if (v->count == UINT32_MAX)
        return IMAPSRV_E_LIMIT;
    if (v->count == v->cap) {
        /* geometric growth: loading 100k messages costs ~20 reallocs */
        uint32_t ncap = v->cap < 64               ? 64
                        : v->cap > UINT32_MAX / 2 ? UINT32_MAX
                                                  : v->cap * 2;
        imapsrv_status st = view_reserve(v, ncap);
        if (st != IMAPSRV_OK)
            return st;
    }
    v->msgs[v->count++] = *m;
    count_msg(v, m->flags, 1);
    if (m->uid >= v->uidnext)
        v->uidnext = m->uid == UINT32_MAX ? UINT32_MAX : m->uid + 1;
    if (m->modseq > v->highestmodseq)
        v->highestmodseq = m->modseq;
    return IMAPSRV_OK;
}

imapsrv_status view_append_info(struct view *v,
                                const imapsrv_message_info *info)
{
    struct view_msg m = {
        .modseq = info->modseq,
        .size = info->size,
        .internaldate = info->internaldate,
        .uid = info->uid,
        .flags = (uint16_t)(info->flags & 0x3fu),
        .tz_offset_min = (int16_t)info->tz_offset_min,
    };
    imapsrv_status st =
        view_keyword_mask(v, info->keywords, info->keyword_count, &m.keywords);
    if (st != IMAPSRV_OK)
        return st;
    return view_append(v, &m);
}

/* First index in [lo, hi) whose UID is >= uid. */
static uint32_t lower_bound(const struct view *v, uint32_t lo, uint32_t hi,
                            uint32_t uid)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->msgs[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t view_lower_bound(const struct view *v, uint32_t uid)
{
    return lower_bound(v, 0, v->count, uid);
}

uint32_t view_uid_to_seq(const struct view *v, uint32_t uid)
{
    uint32_t i = view_lower_bound(v, uid);

    return i < v->count && v->msgs[i].uid == uid ? i + 1 : 0;
}

uint32_t view_seq_to_uid(const struct view *v, uint32_t seq)
{
    return seq >= 1 && seq <= v->count ? v->msgs[seq - 1].uid : 0;
}

void view_set_flags(struct view *v, uint32_t idx, unsigned flags,
                    uint64_t keywords, uint64_t modseq)
{
    struct view_msg *m = &v->msgs[idx];
    unsigned nf = (flags & 0x3fu) | (m->flags & VIEW_F_GONE);

    count_msg(v, m->flags, -1);
    m->flags = (uint16_t)nf;
    m->keywords = keywords;
    count_msg(v, nf, 1);
    if (modseq != 0) {
        m->modseq = modseq;
        if (modseq > v->highestmodseq)
            v->highestmodseq = modseq;
    }
}

void view_remove(struct view *v, uint32_t idx)
{
    count_msg(v, v->msgs[idx].flags, -1);
    memmove(&v->msgs[idx], &v->msgs[idx + 1],
            (size_t)(v->count - idx - 1) * sizeof(v->msgs[0]));
    v->count--;
}

uint32_t view_expunge_uid(struct view *v, uint32_t uid)
{
    uint32_t seq = view_uid_to_seq(v, uid);

    if (seq != 0)
        view_remove(v, seq - 1);
    return seq;
}

void view_remove_sorted(struct view *v, const uint32_t *idx, size_t n)
{
    uint32_t dst, src;

    if (n == 0)
        return;
    dst = idx[0];
    for (size_t i = 0; i < n; i++) {
        count_msg(v, v->msgs[idx[i]].flags, -1);
        /* move the run between this removal and the next one down */
        src = idx[i] + 1;
        uint32_t end = i + 1 < n ? idx[i + 1] : v->count;
        memmove(&v->msgs[dst], &v->msgs[src],
                (size_t)(end - src) * sizeof(v->msgs[0]));
        dst += end - src;
    }
    v->count = dst;
}

size_t view_expunge_uids(struct view *v, const uint32_t *uids, size_t n,
                         uint32_t *seqs_r)
{
    size_t k = 0;
    uint32_t from = 0;

    /* seqs_r holds the indexes first, then becomes the numbers */
    for (size_t i = 0; i < n; i++) {
        uint32_t j = lower_bound(v, from, v->count, uids[i]);
        if (j < v->count && v->msgs[j].uid == uids[i]) {
            seqs_r[k++] = j;
            from = j + 1;
        } else {
            from = j;
        }
    }
    view_remove_sorted(v, seqs_r, k);
    for (size_t i = 0; i < k; i++)
        seqs_r[i] = seqs_r[i] + 1 - (uint32_t)i;
    return k;
}

void view_mark_gone(struct view *v, uint32_t idx)
{
    struct view_msg *m = &v->msgs[idx];

    if (!(m->flags & VIEW_F_GONE)) {
        m->flags |= VIEW_F_GONE;
        v->n_gone++;
    }
}

uint32_t view_first_unseen(const struct view *v)
{
    if (v->n_unseen == 0)
        return 0;
    for (uint32_t i = 0; i < v->count; i++)
        if (!(v->msgs[i].flags & IMAPSRV_FLAG_SEEN))
            return i + 1;
    return 0;
}
