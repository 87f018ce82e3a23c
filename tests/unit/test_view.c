/* Unit tests for mail/view and mail/tracker: seq<->UID mapping against a
 * naive model, counts, keywords, and the exact untagged lines the tracker
 * writes for interleaved changes, with expunges allowed and held back. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/tracker.h"
#include "mail/view.h"

/* Check records every passing ck_assert through a pipe write: far too slow
 * for the model loops, so assert only once a comparison has failed. */
#define EQ(a, b)                                                               \
    do {                                                                       \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                    \
        if (a_ != b_)                                                          \
            ck_assert_msg(a_ == b_, "%s == %s: %ju != %ju", #a, #b, a_, b_);   \
    } while (0)
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            ck_assert_msg(0, "%s", #c);                                        \
    } while (0)

static struct view_msg M(uint32_t uid, unsigned flags) {
    struct view_msg m = {.uid = uid, .flags = (uint16_t)flags};
    return m;
}

/* A view holding UIDs 1..n, no flags. */
static void
mkview(struct view *v, uint32_t n)
{
    view_init(v, 77, 1);
    for (uint32_t i = 1; i <= n; i++) {
        struct view_msg m = M(i, 0);
        EQ(view_append(v, &m), IMAPSRV_OK);
    }
}

/* The pending bytes of w as a string; w is emptied. */
static const char *take(struct wbuf *w)
{
    static char out[65536];
    size_t len;
    const char *p = wbuf_pending(w, &len);

    ck_assert_uint_lt(len, sizeof(out));
    if (len)
        memcpy(out, p, len);
    out[len] = '\0';
    wbuf_consume(w, len);
    return out;
}

static void expect_uids(const struct view *v, const uint32_t *uids, uint32_t n)
{
    EQ(v->count, n);
    for (uint32_t i = 0; i < n; i++)
        EQ(v->msgs[i].uid, uids[i]);
}

/* ---------------------------------------------------------------- view */

START_TEST(append_order_and_status)
{
    struct view v;
    struct view_msg m;

    view_init(&v, 42, 1);
    EQ(view_exists(&v), 0);
    EQ(view_first_unseen(&v), 0);
    m = M(5, IMAPSRV_FLAG_SEEN);
    m.modseq = 9;
    EQ(view_append(&v, &m), IMAPSRV_OK);
    m = M(5, 0);
    EQ(view_append(&v, &m), IMAPSRV_E_INVALID);
    m = M(4, 0);
    EQ(view_append(&v, &m), IMAPSRV_E_INVALID);
    m = M(0, 0);
    EQ(view_append(&v, &m), IMAPSRV_E_INVALID);
    m = M(9, IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_RECENT);
    m.modseq = 3;
    EQ(view_append(&v, &m), IMAPSRV_OK);
    m = M(12, IMAPSRV_FLAG_SEEN | IMAPSRV_FLAG_DELETED);
    EQ(view_append(&v, &m), IMAPSRV_OK);

    EQ(view_exists(&v), 3);
    EQ(v.uidvalidity, 42);
    EQ(v.uidnext, 13);
    EQ(v.highestmodseq, 9);
    EQ(view_unseen(&v), 1);
    EQ(view_first_unseen(&v), 2);
    EQ(view_deleted(&v), 2);
    EQ(view_recent(&v), 1);

    EQ(view_uid_to_seq(&v, 9), 2);
    EQ(view_uid_to_seq(&v, 10), 0);
    EQ(view_uid_to_seq(&v, 13), 0);
    EQ(view_seq_to_uid(&v, 3), 12);
    EQ(view_seq_to_uid(&v, 0), 0);
    EQ(view_seq_to_uid(&v, 4), 0);

    view_set_flags(&v, 1, IMAPSRV_FLAG_SEEN, 0, 20);
    EQ(view_unseen(&v), 0);
    EQ(view_first_unseen(&v), 0);
    EQ(view_deleted(&v), 1);
    EQ(view_recent(&v), 0);
    EQ(v.highestmodseq, 20);

    EQ(view_expunge_uid(&v, 9), 2);
    EQ(view_expunge_uid(&v, 9), 0);
    EQ(view_seq_to_uid(&v, 2), 12);
    EQ(view_deleted(&v), 1);
    EQ(v.uidnext, 13); /* never goes down */
    view_free(&v);
    ck_assert_ptr_null(v.msgs);
}
END_TEST

START_TEST(uidnext_from_store)
{
    struct view v;
    struct view_msg m = M(3, 0);

    view_init(&v, 1, 50); /* the store had UIDs up to 49 once */
    EQ(view_append(&v, &m), IMAPSRV_OK);
    EQ(v.uidnext, 50);
    m = M(UINT32_MAX, 0);
    EQ(view_append(&v, &m), IMAPSRV_OK);
    EQ(v.uidnext, UINT32_MAX);
    view_free(&v);
}
END_TEST

START_TEST(keywords)
{
    struct view v;
    const char *kw[] = {"$Forwarded", "work", "$forwarded"};
    imapsrv_message_info info = {.uid = 7,
                                 .flags = IMAPSRV_FLAG_SEEN,
                                 .keywords = kw,
                                 .keyword_count = 3,
                                 .internaldate = 1700000000,
                                 .tz_offset_min = -300,
                                 .size = 1234,
                                 .modseq = 11};

    view_init(&v, 1, 1);
    EQ(view_append_info(&v, &info), IMAPSRV_OK);
    EQ(v.keyword_count, 2);
    EQ(view_keyword_find(&v, "WORK", 4), 1);
    EQ(view_keyword_find(&v, "wor", 3), -1);
    EQ(v.msgs[0].keywords, 3);
    EQ(v.msgs[0].size, 1234);
    EQ(v.msgs[0].internaldate, 1700000000);
    EQ(v.msgs[0].tz_offset_min, -300);
    EQ(v.highestmodseq, 11);

    struct wbuf w;
    wbuf_init(&w);
    tracker_write_flags(&w, &v, &v.msgs[0]);
    ck_assert_str_eq(take(&w), "(\\Seen $Forwarded work)");
    wbuf_free(&w);

    char name[16];
    for (int i = 2; i < VIEW_MAX_KEYWORDS; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        EQ(view_keyword_intern(&v, name, strlen(name)), i);
    }
    EQ(view_keyword_intern(&v, "one-more", 8), -1);
    EQ(view_keyword_intern(&v, "K63", 3), 63);
    const char *over[] = {"k5", "full"};
    uint64_t mask = 0;
    EQ(view_keyword_mask(&v, over, 2, &mask), IMAPSRV_E_LIMIT);
    EQ(view_keyword_mask(&v, over, 1, &mask), IMAPSRV_OK);
    EQ(mask, UINT64_C(1) << 5);
    info.uid = 8;
    info.keywords = over;
    info.keyword_count = 2;
    EQ(view_append_info(&v, &info), IMAPSRV_E_LIMIT);
    EQ(view_exists(&v), 1);
    view_free(&v);
}
END_TEST

START_TEST(expunge_batch)
{
    static const uint32_t gone[] = {2, 3, 5, 10, 11};
    static const uint32_t left[] = {1, 4, 6, 7, 8, 9};
    uint32_t seqs[6];
    struct view v;

    mkview(&v, 10);
    v.msgs[2].flags = IMAPSRV_FLAG_DELETED;
    v.n_deleted = 1;
    EQ(view_expunge_uids(&v, gone, 5, seqs), 4);
    /* announced in ascending order: 2, then 3 has become 2, ... */
    EQ(seqs[0], 2);
    EQ(seqs[1], 2);
    EQ(seqs[2], 3);
    EQ(seqs[3], 7);
    expect_uids(&v, left, 6);
    EQ(view_deleted(&v), 0);
    EQ(view_unseen(&v), 6);
    EQ(view_expunge_uids(&v, gone, 5, seqs), 0);
    EQ(view_expunge_uids(&v, left, 6, seqs), 6);
    EQ(view_exists(&v), 0);
    for (int i = 0; i < 6; i++)
        EQ(seqs[i], 1);
    view_free(&v);
}
END_TEST

/* Thousands of random appends, expunges and flag changes against a plain
 * array model: every lookup and count must agree. */
START_TEST(random_against_model)
{
    enum { CAP = 4096 };
    static uint32_t mu[CAP];
    static unsigned mf[CAP];
    uint32_t mn = 0, next = 1;
    struct view v;

    srand(4242);
    view_init(&v, 1, 1);
    for (int op = 0; op < 20000; op++) {
        int r = rand() % 10;
        if (r < 4 && mn < CAP) {
            next += 1 + (uint32_t)(rand() % 3);
            unsigned f = (unsigned)(rand() % 64);
            struct view_msg m = M(next, f);
            EQ(view_append(&v, &m), IMAPSRV_OK);
            mu[mn] = next;
            mf[mn++] = f;
        } else if (r < 7) {
            uint32_t uid = 1 + (uint32_t)(rand() % (next + 2));
            uint32_t want = 0;
            for (uint32_t i = 0; i < mn; i++)
                if (mu[i] == uid)
                    want = i + 1;
            EQ(view_expunge_uid(&v, uid), want);
            if (want) {
                memmove(&mu[want - 1], &mu[want], (mn - want) * 4);
                memmove(&mf[want - 1], &mf[want], (mn - want) * sizeof(mf[0]));
                mn--;
            }
        } else if (r == 7 && mn > 0 && rand() % 2) {
            /* a batch of sorted UIDs, some absent */
            uint32_t b[16], seqs[16], k = 0, nb = 1 + (uint32_t)rand() % 16;
            uint32_t u = 0;
            for (uint32_t i = 0; i < nb; i++) {
                u += 1 + (uint32_t)rand() % (next / 8 + 1);
                b[i] = u;
            }
            uint32_t got = (uint32_t)view_expunge_uids(&v, b, nb, seqs);
            for (uint32_t i = 0; i < nb; i++) {
                for (uint32_t j = 0; j < mn; j++) {
                    if (mu[j] != b[i])
                        continue;
                    EQ(seqs[k++], j + 1); /* number after earlier ones */
                    memmove(&mu[j], &mu[j + 1], (mn - j - 1) * 4);
                    memmove(&mf[j], &mf[j + 1], (mn - j - 1) * sizeof(mf[0]));
                    mn--;
                    break;
                }
            }
            EQ(got, k);
        } else if (r < 8 && mn > 0) {
            uint32_t i = (uint32_t)(rand() % mn);
            unsigned f = (unsigned)(rand() % 64);
            view_set_flags(&v, i, f, 0, 0);
            mf[i] = f;
        } else {
            uint32_t uid = 1 + (uint32_t)(rand() % (next + 2));
            uint32_t want = 0;
            for (uint32_t i = 0; i < mn; i++)
                if (mu[i] == uid)
                    want = i + 1;
            EQ(view_uid_to_seq(&v, uid), want);
        }
        EQ(view_exists(&v), mn);
        if (op % 97 == 0) {
            uint32_t unseen = 0, del = 0, rec = 0, first = 0;
            for (uint32_t i = 0; i < mn; i++) {
                EQ(view_seq_to_uid(&v, i + 1), mu[i]);
                EQ(view_uid_to_seq(&v, mu[i]), i + 1);
                EQ(v.msgs[i].flags, mf[i]);
                if (!(mf[i] & IMAPSRV_FLAG_SEEN) && !unseen++)
                    first = i + 1;
                del += !!(mf[i] & IMAPSRV_FLAG_DELETED);
                rec += !!(mf[i] & IMAPSRV_FLAG_RECENT);
            }
            EQ(view_unseen(&v), unseen);
            EQ(view_first_unseen(&v), first);
            EQ(view_deleted(&v), del);
            EQ(view_recent(&v), rec);
        }
    }
    view_free(&v);
}
END_TEST

START_TEST(big_view_fast_and_small)
{
    enum { N = 100000 };
    struct view v;
    static uint32_t keys[1000];
    unsigned bad = 0;
    clock_t t0 = clock();

    ck_assert_uint_le(sizeof(struct view_msg), 40);
    srand(7);
    for (int i = 0; i < 1000; i++)
        keys[i] = 1 + (uint32_t)rand() % N;
    /* timed part: ck_assert only after it (it costs more than a lookup) */
    view_init(&v, 1, 1);
    for (uint32_t i = 1; i <= N; i++) {
        struct view_msg m = M(i * 2, i % 3 ? IMAPSRV_FLAG_SEEN : 0);
        bad += view_append(&v, &m) != IMAPSRV_OK;
    }
    for (int i = 0; i < 1000; i++) {
        uint32_t k = keys[i];
        bad += view_uid_to_seq(&v, k * 2) != k;
        bad += view_uid_to_seq(&v, k * 2 + 1) != 0;
        bad += view_seq_to_uid(&v, k) != k * 2;
    }
    /* spread over the whole view: the costly case for the moves; through
     * the tracker, which removes a flush's expunges in one pass */
    struct tracker t;
    struct wbuf w;
    tracker_init(&t);
    wbuf_init(&w);
    for (int i = 0; i < 1000; i++)
        tracker_expunge(&t, 2 * keys[(i * 7) % 1000]);
    tracker_flush(&t, &v, true, 0, &w);
    uint32_t removed = N - v.count;
    clock_t spent = clock() - t0;
    wbuf_free(&w);
    tracker_free(&t);
    EQ(bad, 0);
    EQ(view_exists(&v), N - removed);
    ck_assert_uint_gt(removed, 990);
    for (uint32_t i = 1; i < v.count; i++)
        ck_assert_uint_lt(v.msgs[i - 1].uid, v.msgs[i].uid);
    CHECK(spent < CLOCKS_PER_SEC);
    /* one array, doubling: at most 2x the messages, ~8 MB worst case */
    ck_assert_uint_le((size_t)v.cap * sizeof(struct view_msg),
                      (size_t)2 * N * 40);
    view_free(&v);
}
END_TEST

/* ------------------------------------------------------------- tracker */

START_TEST(flush_allowed)
{
    struct view v;
    struct tracker t;
    struct wbuf w;
    struct view_msg m;

    mkview(&v, 5);
    tracker_init(&t);
    wbuf_init(&w);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "");
    m = M(6, IMAPSRV_FLAG_RECENT);
    tracker_new(&t, &m);
    m = M(7, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 2);
    tracker_flags(&t, 4, IMAPSRV_FLAG_SEEN, 0, 0);
    tracker_expunge(&t, 7);
    CHECK(tracker_pending(&t));
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 7 EXISTS\r\n"
                               "* 2 EXPUNGE\r\n"
                               "* 3 FETCH (FLAGS (\\Seen))\r\n"
                               "* 6 EXPUNGE\r\n");
    CHECK(!tracker_pending(&t));
    static const uint32_t want[] = {1, 3, 4, 5, 6};
    expect_uids(&v, want, 5);
    EQ(view_recent(&v), 1);
    EQ(view_unseen(&v), 4);
    EQ(v.uidnext, 8);
    wbuf_free(&w);
    tracker_free(&t);
    view_free(&v);
}
END_TEST

START_TEST(flush_expunge_orders)
{
    struct view v;
    struct tracker t;
    struct wbuf w;

    mkview(&v, 5);
    tracker_init(&t);
    wbuf_init(&w);
    /* ascending: each removal shifts the next down to the same number */
    tracker_expunge(&t, 2);
    tracker_expunge(&t, 3);
    tracker_expunge(&t, 4);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n"
                               "* 2 EXPUNGE\r\n");
    view_free(&v);
    mkview(&v, 5);
    tracker_expunge(&t, 4);
    tracker_expunge(&t, 3);
    tracker_expunge(&t, 2);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 4 EXPUNGE\r\n* 3 EXPUNGE\r\n"
                               "* 2 EXPUNGE\r\n");
    static const uint32_t want[] = {1, 5};
    expect_uids(&v, want, 2);
    /* unknown and repeated UIDs say nothing */
    tracker_expunge(&t, 3);
    tracker_expunge(&t, 99);
    tracker_flags(&t, 98, IMAPSRV_FLAG_SEEN, 0, 0);
    struct view_msg m = M(5, 0);
    tracker_new(&t, &m);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "");
    expect_uids(&v, want, 2);
    /* a message that comes and goes between two flushes is never told */
    m = M(6, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 6);
    m = M(7, 0);
    tracker_new(&t, &m);
    m = M(8, 0);
    tracker_new(&t, &m);
    tracker_flags(&t, 7, IMAPSRV_FLAG_SEEN, 0, 0);
    tracker_expunge(&t, 7); /* told by EXISTS before the FETCH: EXPUNGE */
    tracker_new(&t, &m);    /* duplicate UID 8: ignored */
    m = M(9, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 9);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 4 EXISTS\r\n"
                               "* 3 FETCH (FLAGS (\\Seen))\r\n"
                               "* 3 EXPUNGE\r\n");
    static const uint32_t want2[] = {1, 5, 8};
    expect_uids(&v, want2, 3);
    wbuf_free(&w);
    tracker_free(&t);
    view_free(&v);
}
END_TEST

START_TEST(flush_held_expunges)
{
    struct view v;
    struct tracker t;
    struct wbuf w;
    struct view_msg m;

    mkview(&v, 5);
    tracker_init(&t);
    wbuf_init(&w);
    m = M(6, 0);
    tracker_new(&t, &m);
    m = M(7, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 2);
    tracker_flags(&t, 4, IMAPSRV_FLAG_SEEN, 0, 0);
    tracker_expunge(&t, 7);
    /* during FETCH: EXISTS and FLAGS go, the numbers stay */
    tracker_flush(&t, &v, false, 0, &w);
    ck_assert_str_eq(take(&w), "* 7 EXISTS\r\n"
                               "* 4 FETCH (FLAGS (\\Seen))\r\n");
    CHECK(tracker_pending(&t));
    EQ(view_exists(&v), 7);
    CHECK(v.msgs[1].flags & VIEW_F_GONE);
    CHECK(v.msgs[6].flags & VIEW_F_GONE);
    EQ(v.n_gone, 2);
    /* a gone message's flag changes are not told; new mail still is */
    tracker_flags(&t, 2, IMAPSRV_FLAG_FLAGGED, 0, 0);
    m = M(8, 0);
    tracker_new(&t, &m);
    tracker_flush(&t, &v, false, 0, &w);
    ck_assert_str_eq(take(&w), "* 8 EXISTS\r\n");
    EQ(v.msgs[1].flags, VIEW_F_GONE);
    /* a second held flush repeats nothing */
    tracker_flush(&t, &v, false, 0, &w);
    ck_assert_str_eq(take(&w), "");
    /* at the next allowed point */
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 2 EXPUNGE\r\n* 6 EXPUNGE\r\n");
    CHECK(!tracker_pending(&t));
    EQ(v.n_gone, 0);
    static const uint32_t want[] = {1, 3, 4, 5, 6, 8};
    expect_uids(&v, want, 6);
    wbuf_free(&w);
    tracker_free(&t);
    view_free(&v);
}
END_TEST

START_TEST(flush_fetch_options)
{
    struct view v;
    struct tracker t;
    struct wbuf w;
    uint64_t kw;
    const char *kws[] = {"$Junk", "todo"};

    view_init(&v, 1, 1);
    for (uint32_t i = 1; i <= 3; i++) {
        struct view_msg m = M(i * 10, IMAPSRV_FLAG_RECENT);
        m.modseq = i;
        view_append(&v, &m);
    }
    tracker_init(&t);
    wbuf_init(&w);
    EQ(view_keyword_mask(&v, kws, 2, &kw), IMAPSRV_OK);
    /* \Recent is the session's: kept on, and never set by others */
    tracker_flags(&t, 20, IMAPSRV_FLAG_DELETED | IMAPSRV_FLAG_ANSWERED, kw, 55);
    tracker_flags(&t, 30, IMAPSRV_FLAG_DRAFT | IMAPSRV_FLAG_FLAGGED, 0, 0);
    tracker_flush(&t, &v, true, TRACKER_FETCH_UID | TRACKER_FETCH_MODSEQ, &w);
    ck_assert_str_eq(take(&w),
                     "* 2 FETCH (FLAGS (\\Answered \\Deleted \\Recent $Junk "
                     "todo) UID 20 MODSEQ (55))\r\n"
                     "* 3 FETCH (FLAGS (\\Flagged \\Draft \\Recent) UID 30 "
                     "MODSEQ (3))\r\n");
    EQ(v.highestmodseq, 55);
    EQ(view_deleted(&v), 1);
    tracker_flags(&t, 10, 0, 0, 0);
    tracker_flush(&t, &v, false, TRACKER_FETCH_UID, &w);
    ck_assert_str_eq(take(&w), "* 1 FETCH (FLAGS (\\Recent) UID 10)\r\n");
    view_free(&v);
    view_init(&v, 1, 1);
    struct view_msg m = M(1, 0);
    view_append(&v, &m);
    tracker_flags(&t, 1, IMAPSRV_FLAG_RECENT, 0, 0);
    tracker_flush(&t, &v, true, 0, &w);
    ck_assert_str_eq(take(&w), "* 1 FETCH (FLAGS ())\r\n");
    wbuf_free(&w);
    tracker_free(&t);
    view_free(&v);
}
END_TEST

START_TEST(flush_vanished)
{
    struct view v;
    struct tracker t;
    struct wbuf w;
    struct view_msg m = M(11, 0);

    mkview(&v, 10);
    tracker_init(&t);
    wbuf_init(&w);
    tracker_expunge(&t, 3);
    tracker_expunge(&t, 2);
    tracker_expunge(&t, 7);
    tracker_flags(&t, 8, IMAPSRV_FLAG_SEEN, 0, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 5);
    /* held: nothing vanishes */
    tracker_flush(&t, &v, false, TRACKER_VANISHED | TRACKER_FETCH_UID, &w);
    ck_assert_str_eq(take(&w), "* 8 FETCH (FLAGS (\\Seen) UID 8)\r\n"
                               "* 11 EXISTS\r\n");
    tracker_flush(&t, &v, true, TRACKER_VANISHED | TRACKER_FETCH_UID, &w);
    ck_assert_str_eq(take(&w), "* VANISHED 2:3,5,7\r\n");
    view_free(&v);

    mkview(&v, 10);
    tracker_expunge(&t, 3);
    tracker_expunge(&t, 2);
    tracker_expunge(&t, 7);
    tracker_flags(&t, 8, IMAPSRV_FLAG_SEEN, 0, 0);
    tracker_new(&t, &m);
    tracker_expunge(&t, 5);
    tracker_flush(&t, &v, true, TRACKER_VANISHED | TRACKER_FETCH_UID, &w);
    ck_assert_str_eq(take(&w), "* VANISHED 2:3,7\r\n"
                               "* 5 FETCH (FLAGS (\\Seen) UID 8)\r\n"
                               "* 8 EXISTS\r\n"
                               "* VANISHED 5\r\n");
    static const uint32_t want[] = {1, 4, 6, 8, 9, 10, 11};
    expect_uids(&v, want, 7);
    wbuf_free(&w);
    tracker_free(&t);
    view_free(&v);
}
END_TEST

/* The client's picture, rebuilt only from the lines the tracker writes. */
struct client {
    uint32_t uid[4096];
    unsigned flags[4096];
    uint32_t n;
};

/* The system flags of a "* N FETCH (FLAGS (...) ...)" line. */
static unsigned parse_flags(const char *line)
{
    static const char *const names[] = {"\\Seen",    "\\Answered", "\\Flagged",
                                        "\\Deleted", "\\Draft",    "\\Recent"};
    const char *a = strstr(line, "(FLAGS (");
    const char *b = a ? strchr(a + 8, ')') : NULL;
    unsigned f = 0;

    ck_assert_ptr_nonnull(b);
    for (unsigned i = 0; i < 6; i++) {
        const char *p = strstr(a, names[i]);
        if (p != NULL && p < b)
            f |= 1u << i;
    }
    return f;
}

/* After a flush the client asks for what it does not know (UID FETCH of
 * new messages): take it from the view. */
static void client_learn(struct client *c, const struct view *v)
{
    EQ(c->n, v->count);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->uid[i] == 0) {
            c->uid[i] = v->msgs[i].uid;
            c->flags[i] = v->msgs[i].flags & 0x3fu;
        }
    }
}

static void client_apply(struct client *c, const struct view *v, const char *s)
{
    while (*s) {
        unsigned long num;
        char word[16];
        int used;
        EQ(sscanf(s, "* %lu %15s%n", &num, word, &used), 2);
        if (strcmp(word, "EXISTS") == 0) {
            ck_assert_uint_ge(num, c->n);
            /* UID 0: not known yet; client_learn() fills it in */
            for (uint32_t i = c->n; i < num; i++) {
                c->uid[i] = 0;
                c->flags[i] = 0;
            }
            c->n = (uint32_t)num;
        } else if (strcmp(word, "EXPUNGE") == 0) {
            CHECK(num >= 1 && num <= c->n);
            memmove(&c->uid[num - 1], &c->uid[num],
                    (c->n - num) * sizeof(c->uid[0]));
            memmove(&c->flags[num - 1], &c->flags[num],
                    (c->n - num) * sizeof(c->flags[0]));
            c->n--;
        } else {
            ck_assert_str_eq(word, "FETCH");
            CHECK(num >= 1 && num <= c->n);
            const char *u = strstr(s, " UID ");
            ck_assert_ptr_nonnull(u);
            if (c->uid[num - 1] != 0)
                EQ(strtoul(u + 5, NULL, 10), c->uid[num - 1]);
            c->flags[num - 1] = parse_flags(s);
        }
        s = strstr(s, "\r\n");
        ck_assert_ptr_nonnull(s);
        s += 2;
    }
}

/* Random interleavings of changes and flushes, allowed or not: the client
 * picture always matches the view, and after an allowed flush the view
 * matches the mailbox. */
START_TEST(random_interleavings)
{
    static uint32_t store[4096];
    static struct client c;
    uint32_t sn, next;
    struct view v;
    struct tracker t;
    struct wbuf w;

    srand(777);
    tracker_init(&t);
    wbuf_init(&w);
    for (int round = 0; round < 200; round++) {
        mkview(&v, 20);
        sn = 20;
        next = 21;
        c.n = 20;
        for (uint32_t i = 0; i < 20; i++) {
            store[i] = c.uid[i] = i + 1;
            c.flags[i] = 0;
        }
        for (int op = 0; op < 200; op++) {
            int r = rand() % 10;
            if (r < 3 && sn < 4000) {
                struct view_msg m = M(next, 0);
                store[sn++] = next++;
                tracker_new(&t, &m);
            } else if (r < 5 && sn > 0) {
                uint32_t i = (uint32_t)rand() % sn;
                tracker_expunge(&t, store[i]);
                memmove(&store[i], &store[i + 1], (sn - i - 1) * 4);
                sn--;
            } else if (r < 8) {
                uint32_t uid = 1 + (uint32_t)rand() % next;
                tracker_flags(&t, uid, (unsigned)rand() % 64, 0, 0);
            } else {
                bool allow = rand() % 2;
                tracker_flush(&t, &v, allow, TRACKER_FETCH_UID, &w);
                client_apply(&c, &v, take(&w));
                client_learn(&c, &v);
                for (uint32_t i = 0; i < c.n; i++) {
                    EQ(c.uid[i], v.msgs[i].uid);
                    EQ(c.flags[i], v.msgs[i].flags & 0x3fu);
                }
                if (allow) {
                    CHECK(!tracker_pending(&t));
                    EQ(v.n_gone, 0);
                    expect_uids(&v, store, sn);
                }
            }
        }
        tracker_flush(&t, &v, true, TRACKER_FETCH_UID, &w);
        client_apply(&c, &v, take(&w));
        client_learn(&c, &v);
        for (uint32_t i = 0; i < c.n; i++)
            EQ(c.uid[i], v.msgs[i].uid);
        expect_uids(&v, store, sn);
        EQ(c.n, sn);
        view_free(&v);
    }
    wbuf_free(&w);
    tracker_free(&t);
}
END_TEST

static Suite *view_suite(void)
{
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("view");

    tcase_add_test(tc, append_order_and_status);
    tcase_add_test(tc, uidnext_from_store);
    tcase_add_test(tc, keywords);
    tcase_add_test(tc, expunge_batch);
    tcase_add_test(tc, random_against_model);
    tcase_add_test(tc, big_view_fast_and_small);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("tracker");
    tcase_add_test(tc, flush_allowed);
    tcase_add_test(tc, flush_expunge_orders);
    tcase_add_test(tc, flush_held_expunges);
    tcase_add_test(tc, flush_fetch_options);
    tcase_add_test(tc, flush_vanished);
    tcase_add_test(tc, random_interleavings);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(view_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
