/* Sequence-set evaluation and formatting: see seqset.h. */
#include "mail/seqset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void seqset_result_init(struct seqset_result *r)
{
    memset(r, 0, sizeof(*r));
}

void seqset_result_free(struct seqset_result *r)
{
    free(r->spans);
    seqset_result_init(r);
}

static int span_cmp(const void *a, const void *b)
{
    const struct seqset_span *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

imapsrv_status seqset_eval(const struct imap_seqset *set, const struct view *v,
                           bool uid, struct seqset_result *r)
{
    r->count = 0;
    r->total = 0;
    r->bad = 0;
    if (set->saved)
        return IMAPSRV_E_STATE;
    if (set->count > r->cap) {
        /* one span per range at most: no materialising of numbers */
        struct seqset_span *p = realloc(r->spans, set->count * sizeof(*p));
        if (p == NULL)
            return IMAPSRV_E_NOMEM;
        r->spans = p;
        r->cap = set->count;
    }
    uint32_t n = v->count;
    uint32_t star = uid ? (n ? v->msgs[n - 1].uid : 0) : n;

    for (size_t i = 0; i < set->count; i++) {
        uint32_t lo = set->ranges[i].lo ? set->ranges[i].lo : star;
        uint32_t hi = set->ranges[i].hi ? set->ranges[i].hi : star;
        if (lo > hi) {
            uint32_t t = lo;
            lo = hi;
            hi = t;
        }
        if (!uid) {
            if (hi > n || lo == 0) {
                /* report the number the client sent (a '*' in an empty
                 * mailbox has none: say 1, the first missing) */
                r->bad = hi > n ? hi : 1;
                r->count = 0;
                return IMAPSRV_E_INVALID;
            }
            r->spans[r->count++] = (struct seqset_span){lo - 1, hi - 1};
            continue;
        }
        if (n == 0)
            continue;
        uint32_t a = view_lower_bound(v, lo);
        /* one past the last UID <= hi */
        uint32_t b = hi == UINT32_MAX ? n : view_lower_bound(v, hi + 1);
        if (a < b)
            r->spans[r->count++] = (struct seqset_span){a, b - 1};
    }
    if (r->count > 1) {
        /* clients send sorted sets nearly always: sort only when needed */
        bool sorted = true;
        for (size_t i = 1; i < r->count && sorted; i++)
            sorted = r->spans[i - 1].first <= r->spans[i].first;
        if (!sorted)
            qsort(r->spans, r->count, sizeof(r->spans[0]), span_cmp);
        size_t k = 0;
        for (size_t i = 1; i < r->count; i++) {
            struct seqset_span *cur = &r->spans[k];
            if (r->spans[i].first <= (uint64_t)cur->last + 1) {
                if (r->spans[i].last > cur->last)
                    cur->last = r->spans[i].last;
            } else {
                r->spans[++k] = r->spans[i];
            }
        }
        r->count = k + 1;
    }
    for (size_t i = 0; i < r->count; i++)
        r->total += r->spans[i].last - r->spans[i].first + 1;
    return IMAPSRV_OK;
}

bool seqset_result_has(const struct seqset_result *r, uint32_t idx)
{
    size_t lo = 0, hi = r->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->spans[mid].last < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->count && r->spans[lo].first <= idx;
}

int seqset_result_each(const struct seqset_result *r,
                       int (*fn)(void *ctx, uint32_t idx), void *ctx)
{
    for (size_t i = 0; i < r->count; i++) {
        for (uint32_t j = r->spans[i].first;; j++) {
            int rc = fn(ctx, j);
            if (rc != 0)
                return rc;
            if (j == r->spans[i].last)
                break;
        }
    }
    return 0;
}

/* A writer that either appends to a wbuf or fills a char buffer while
 * counting what the whole string needs. */
struct sink {
    struct wbuf *w;
    char *buf;
    size_t size, len;
};

static void sink_run(struct sink *s, uint32_t a, uint32_t b)
{
    char tmp[24];
    int k =
        a == b ? snprintf(tmp, sizeof(tmp), "%s%u", s->len ? "," : "", a)
               : snprintf(tmp, sizeof(tmp), "%s%u:%u", s->len ? "," : "", a, b);

    if (s->w != NULL) {
        wbuf_put(s->w, tmp, (size_t)k);
    } else if (s->len < s->size) {
        size_t room = s->size - s->len - 1;
        size_t c = (size_t)k < room ? (size_t)k : room;
        memcpy(s->buf + s->len, tmp, c);
        s->buf[s->len + c] = '\0';
    }
    s->len += (size_t)k;
}

static void format_uids(struct sink *s, const uint32_t *uids, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        while (j + 1 < n && uids[j] != UINT32_MAX && uids[j + 1] == uids[j] + 1)
            j++;
        sink_run(s, uids[i], uids[j]);
        i = j + 1;
    }
}

void seqset_format_wbuf(struct wbuf *w, const uint32_t *uids, size_t n)
{
    struct sink s = {.w = w};

    format_uids(&s, uids, n);
}

size_t seqset_format_buf(char *buf, size_t size, const uint32_t *uids, size_t n)
{
    struct sink s = {.buf = buf, .size = size};

    if (size > 0)
        buf[0] = '\0';
    format_uids(&s, uids, n);
    return s.len;
}

void seqset_format_result_uids(struct wbuf *w, const struct seqset_result *r,
                               const struct view *v)
{
    struct sink s = {.w = w};
    bool open = false;
    uint32_t a = 0, b = 0;

    for (size_t i = 0; i < r->count; i++) {
        for (uint32_t j = r->spans[i].first;; j++) {
            uint32_t u = v->msgs[j].uid;
            if (open && b != UINT32_MAX && u == b + 1) {
                b = u;
            } else {
                if (open)
                    sink_run(&s, a, b);
                a = b = u;
                open = true;
            }
            if (j == r->spans[i].last)
                break;
        }
    }
    if (open)
        sink_run(&s, a, b);
}
