/* Unit tests for mail/seqset: evaluation of every set form against views
 * (checked by hand and against a naive model), and compact formatting. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/seqset.h"

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

/* Parse "1:3,*,5:*" into set (ranges from a static pool): test input only. */
static struct imap_range pool[4096];

static uint32_t num(const char **p)
{
    if (**p == '*') {
        (*p)++;
        return 0;
    }
    return (uint32_t)strtoul(*p, (char **)p, 10);
}

static struct imap_seqset S(const char *s) {
    struct imap_seqset set = {.ranges = pool};

    if (strcmp(s, "$") == 0) {
        set.ranges = NULL;
        set.saved = true;
        return set;
    }
    while (*s) {
        struct imap_range r;
        r.lo = r.hi = num(&s);
        if (*s == ':') {
            s++;
            r.hi = num(&s);
        }
        pool[set.count++] = r;
        if (*s == ',')
            s++;
    }
    return set;
}

/* A view holding the given UIDs. */
static void
mkview(struct view *v, const uint32_t *uids, size_t n)
{
    view_init(v, 1, 1);
    for (size_t i = 0; i < n; i++) {
        struct view_msg m = {.uid = uids[i]};
        EQ(view_append(v, &m), IMAPSRV_OK);
    }
}

/* Evaluate and render the result as index spans "0-2,5". */
static const char *ev(const struct view *v, const char *set, bool uid,
                      imapsrv_status *st_r, uint32_t *bad_r)
{
    static char out[4096];
    struct seqset_result r;
    struct imap_seqset s = S(set);
    size_t len = 0;

    seqset_result_init(&r);
    imapsrv_status st = seqset_eval(&s, v, uid, &r);
    out[0] = '\0';
    for (size_t i = 0; i < r.count; i++) {
        if (r.spans[i].first == r.spans[i].last)
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u",
                                    i ? "," : "", r.spans[i].first);
        else
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u-%u",
                                    i ? "," : "", r.spans[i].first,
                                    r.spans[i].last);
    }
    if (st_r)
        *st_r = st;
    if (bad_r)
        *bad_r = r.bad;
    seqset_result_free(&r);
    return out;
}

#define SEQ_OK(v, set, exp)                                                    \
    do {                                                                       \
        imapsrv_status st_;                                                    \
        ck_assert_str_eq(ev((v), (set), false, &st_, NULL), (exp));            \
        EQ(st_, IMAPSRV_OK);                                                   \
    } while (0)
#define UID_OK(v, set, exp)                                                    \
    do {                                                                       \
        imapsrv_status st_;                                                    \
        ck_assert_str_eq(ev((v), (set), true, &st_, NULL), (exp));             \
        EQ(st_, IMAPSRV_OK);                                                   \
    } while (0)
#define SEQ_BAD(v, set, badnum)                                                \
    do {                                                                       \
        imapsrv_status st_;                                                    \
        uint32_t bad_;                                                         \
        ck_assert_str_eq(ev((v), (set), false, &st_, &bad_), "");              \
        EQ(st_, IMAPSRV_E_INVALID);                                            \
        EQ(bad_, (badnum));                                                    \
    } while (0)

static const uint32_t gaps[] = {3, 5, 6, 7, 10, 20, 21, 100};

START_TEST(seq_forms)
{
    struct view v;

    mkview(&v, gaps, 8);
    SEQ_OK(&v, "1", "0");
    SEQ_OK(&v, "8", "7");
    SEQ_OK(&v, "*", "7");
    SEQ_OK(&v, "2:4", "1-3");
    SEQ_OK(&v, "4:2", "1-3");
    SEQ_OK(&v, "*:6", "5-7");
    SEQ_OK(&v, "6:*", "5-7");
    SEQ_OK(&v, "*:*", "7");
    SEQ_OK(&v, "1,3,5", "0,2,4");
    SEQ_OK(&v, "5,3,1", "0,2,4");
    SEQ_OK(&v, "1,2,3", "0-2");
    SEQ_OK(&v, "1:4,3:6,2", "0-5");
    SEQ_OK(&v, "7:8,1:2,4,3", "0-3,6-7");
    SEQ_OK(&v, "1:*", "0-7");
    SEQ_OK(&v, "2,2,2", "1");
    view_free(&v);
}
END_TEST

START_TEST(seq_out_of_range)
{
    struct view v;

    mkview(&v, gaps, 8);
    SEQ_BAD(&v, "9", 9);
    SEQ_BAD(&v, "1,9", 9);
    SEQ_BAD(&v, "3:12", 12);
    SEQ_BAD(&v, "12:3", 12);
    SEQ_BAD(&v, "*:4294967295", 4294967295u);
    view_free(&v);
    view_init(&v, 1, 1); /* empty: any number is beyond EXISTS */
    SEQ_BAD(&v, "1", 1);
    SEQ_BAD(&v, "*", 1);
    SEQ_BAD(&v, "1:*", 1);
    view_free(&v);
}
END_TEST

START_TEST(uid_forms)
{
    struct view v;

    mkview(&v, gaps, 8); /* 3 5 6 7 10 20 21 100 */
    UID_OK(&v, "3", "0");
    UID_OK(&v, "4", ""); /* absent UID: nothing, no error */
    UID_OK(&v, "1:2", "");
    UID_OK(&v, "1:5", "0-1");
    UID_OK(&v, "5:1", "0-1");
    UID_OK(&v, "8:9", "");
    UID_OK(&v, "8:19", "4");
    UID_OK(&v, "*", "7");
    UID_OK(&v, "200:*", "7"); /* n:* always includes the last message */
    UID_OK(&v, "*:200", "7");
    UID_OK(&v, "21:*", "6-7");
    UID_OK(&v, "101:4294967295", "");
    UID_OK(&v, "1:4294967295", "0-7");
    UID_OK(&v, "4294967295", "");
    UID_OK(&v, "4294967295:4294967295", "");
    UID_OK(&v, "6,10,5,3", "0-2,4");
    UID_OK(&v, "20,7,11:19,4", "3,5");
    view_free(&v);
    view_init(&v, 1, 1);
    UID_OK(&v, "*", "");
    UID_OK(&v, "1:*", "");
    UID_OK(&v, "1:4294967295", "");
    view_free(&v);
}
END_TEST

START_TEST(saved_is_callers)
{
    struct view v;
    imapsrv_status st;

    mkview(&v, gaps, 8);
    ev(&v, "$", false, &st, NULL);
    EQ(st, IMAPSRV_E_STATE);
    ev(&v, "$", true, &st, NULL);
    EQ(st, IMAPSRV_E_STATE);
    view_free(&v);
}
END_TEST

START_TEST(huge_ranges_instant)
{
    static const uint32_t three[] = {1, 2, 4000000000u};
    struct view v;
    struct seqset_result r;
    struct imap_seqset s = S("1:4294967295,4294967295:1,*:1");
    clock_t t0 = clock();

    mkview(&v, three, 3);
    seqset_result_init(&r);
    for (int i = 0; i < 10000; i++) {
        EQ(seqset_eval(&s, &v, true, &r), IMAPSRV_OK);
        EQ(r.total, 3);
        EQ(r.count, 1);
    }
    CHECK(seqset_result_has(&r, 2));
    CHECK(!seqset_result_has(&r, 3));
    CHECK(clock() - t0 < CLOCKS_PER_SEC / 2);
    seqset_result_free(&r);
    view_free(&v);
}
END_TEST

static int collect(void *ctx, uint32_t idx)
{
    uint32_t **p = ctx;

    *(*p)++ = idx;
    return 0;
}

static int stop_at_3(void *ctx, uint32_t idx)
{
    (void)ctx;
    return idx == 3 ? 42 : 0;
}

START_TEST(each_and_has)
{
    struct view v;
    struct seqset_result r;
    struct imap_seqset s = S("2:3,6:7");
    uint32_t got[16], *p = got;

    mkview(&v, gaps, 8);
    seqset_result_init(&r);
    EQ(seqset_eval(&s, &v, false, &r), IMAPSRV_OK);
    EQ(seqset_result_each(&r, collect, &p), 0);
    EQ(p - got, 4);
    EQ(got[0], 1);
    EQ(got[1], 2);
    EQ(got[2], 5);
    EQ(got[3], 6);
    EQ(seqset_result_each(&r, stop_at_3, NULL), 0);
    s = S("1:8");
    EQ(seqset_eval(&s, &v, false, &r), IMAPSRV_OK);
    EQ(seqset_result_each(&r, stop_at_3, NULL), 42);
    for (uint32_t i = 0; i < 8; i++)
        CHECK(seqset_result_has(&r, i));
    CHECK(!seqset_result_has(&r, 8));
    seqset_result_free(&r);
    view_free(&v);
}
END_TEST

/* Random views with gaps and random sets, against a per-number model. */
START_TEST(random_against_model)
{
    srand(1234);
    for (int round = 0; round < 2000; round++) {
        struct view v;
        uint32_t n = (uint32_t)(rand() % 40);
        uint32_t uids[64], u = 0;
        for (uint32_t i = 0; i < n; i++) {
            u += 1 + (uint32_t)(rand() % 4);
            uids[i] = u;
        }
        mkview(&v, uids, n);
        bool uid = rand() % 2;
        uint32_t maxnum = uid ? u + 5 : n + 2;
        struct imap_seqset s = {.ranges = pool,
                                .count = 1 + (size_t)(rand() % 6)};
        for (size_t i = 0; i < s.count; i++) {
            pool[i].lo = (uint32_t)(rand() % (maxnum + 1));
            pool[i].hi =
                rand() % 2 ? pool[i].lo : (uint32_t)(rand() % (maxnum + 1));
        }
        /* model */
        bool want[64] = {false};
        uint32_t star = uid ? (n ? uids[n - 1] : 0) : n, bad = 0;
        for (size_t i = 0; i < s.count; i++) {
            uint32_t lo = pool[i].lo ? pool[i].lo : star;
            uint32_t hi = pool[i].hi ? pool[i].hi : star;
            if (lo > hi) {
                uint32_t t = lo;
                lo = hi;
                hi = t;
            }
            for (uint32_t k = 0; k < n; k++) {
                uint32_t key = uid ? uids[k] : k + 1;
                if (key >= lo && key <= hi)
                    want[k] = true;
            }
            if (!uid && !bad && (hi > n || lo == 0))
                bad = hi > n ? hi : 1;
        }
        struct seqset_result r;
        seqset_result_init(&r);
        imapsrv_status st = seqset_eval(&s, &v, uid, &r);
        if (bad) {
            EQ(st, IMAPSRV_E_INVALID);
            EQ(r.bad, bad);
        } else {
            uint32_t total = 0;
            EQ(st, IMAPSRV_OK);
            for (uint32_t k = 0; k < n; k++) {
                EQ(seqset_result_has(&r, k), want[k]);
                total += want[k];
            }
            EQ(r.total, total);
            for (size_t i = 0; i < r.count; i++) {
                ck_assert_uint_le(r.spans[i].first, r.spans[i].last);
                if (i > 0) /* disjoint and not adjacent: merged */
                    ck_assert_uint_gt(r.spans[i].first,
                                      r.spans[i - 1].last + 1);
            }
        }
        seqset_result_free(&r);
        view_free(&v);
    }
}
END_TEST

static const char *fmt(const uint32_t *uids, size_t n)
{
    static char buf[4096];
    size_t need = seqset_format_buf(buf, sizeof(buf), uids, n);

    EQ(need, strlen(buf));
    return buf;
}

START_TEST(format_forms)
{
    static const uint32_t a[] = {1, 2, 3, 7, 9, 10, 11, 12};
    static const uint32_t b[] = {5};
    static const uint32_t c[] = {4294967294u, 4294967295u};
    static const uint32_t d[] = {4294967295u, 1, 2};
    static const uint32_t e[] = {9, 8, 7}; /* order kept: no runs downward */

    ck_assert_str_eq(fmt(a, 8), "1:3,7,9:12");
    ck_assert_str_eq(fmt(b, 1), "5");
    ck_assert_str_eq(fmt(a, 0), "");
    ck_assert_str_eq(fmt(c, 2), "4294967294:4294967295");
    ck_assert_str_eq(fmt(d, 3), "4294967295,1:2");
    ck_assert_str_eq(fmt(e, 3), "9,8,7");

    struct wbuf w;
    size_t len;
    wbuf_init(&w);
    wbuf_puts(&w, "[COPYUID 7 ");
    seqset_format_wbuf(&w, a, 8);
    wbuf_putc(&w, ']');
    const char *p = wbuf_pending(&w, &len);
    EQ(len, strlen("[COPYUID 7 1:3,7,9:12]"));
    ck_assert_mem_eq(p, "[COPYUID 7 1:3,7,9:12]", len);
    wbuf_free(&w);
}
END_TEST

START_TEST(format_truncates)
{
    static const uint32_t a[] = {1, 2, 3, 7, 9, 10, 11, 12};
    char buf[8];

    memset(buf, 'x', sizeof(buf));
    EQ(seqset_format_buf(buf, sizeof(buf), a, 8), 10);
    ck_assert_str_eq(buf, "1:3,7,9");
    EQ(seqset_format_buf(buf, 1, a, 8), 10);
    ck_assert_str_eq(buf, "");
    EQ(seqset_format_buf(NULL, 0, a, 8), 10);
}
END_TEST

/* format -> parse -> evaluate on a view of all UIDs gives the list back,
 * and the form is canonical (no two runs could be merged). */
START_TEST(format_round_trip)
{
    static uint32_t uids[3000], all[3000];
    static char buf[65536];

    srand(99);
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % 3000), m = 0;
        uint32_t u = (uint32_t)(rand() % 3);
        for (size_t i = 0; i < n; i++) {
            u += 1 + (rand() % 3 ? 0 : (uint32_t)(rand() % 5));
            uids[i] = u;
        }
        seqset_format_buf(buf, sizeof(buf), uids, n);
        CHECK(strlen(buf) < sizeof(buf) - 1);
        /* the view holds every UID up to the last */
        struct view v;
        view_init(&v, 1, 1);
        for (uint32_t k = 1; n > 0 && k <= uids[n - 1]; k++) {
            struct view_msg msg = {.uid = k};
            EQ(view_append(&v, &msg), IMAPSRV_OK);
        }
        struct seqset_result r;
        seqset_result_init(&r);
        if (n > 0) {
            struct imap_seqset s = S(buf);
            EQ(seqset_eval(&s, &v, true, &r), IMAPSRV_OK);
            EQ(s.count, r.count); /* canonical */
            for (size_t i = 0; i < r.count; i++)
                for (uint32_t j = r.spans[i].first; j <= r.spans[i].last; j++)
                    all[m++] = v.msgs[j].uid;
        }
        EQ(m, n);
        CHECK(n == 0 || memcmp(all, uids, n * sizeof(uids[0])) == 0);
        /* the result writer gives the same string */
        struct wbuf w;
        size_t len;
        wbuf_init(&w);
        seqset_format_result_uids(&w, &r, &v);
        const char *p = wbuf_pending(&w, &len);
        EQ(len, strlen(buf));
        CHECK(len == 0 || memcmp(p, buf, len) == 0);
        wbuf_free(&w);
        seqset_result_free(&r);
        view_free(&v);
    }
}
END_TEST

START_TEST(format_result_over_gaps)
{
    struct view v;
    struct seqset_result r;
    struct imap_seqset s = S("1:*");
    struct wbuf w;
    size_t len;

    mkview(&v, gaps, 8); /* 3 5 6 7 10 20 21 100 */
    seqset_result_init(&r);
    EQ(seqset_eval(&s, &v, false, &r), IMAPSRV_OK);
    wbuf_init(&w);
    seqset_format_result_uids(&w, &r, &v);
    const char *p = wbuf_pending(&w, &len);
    EQ(len, strlen("3,5:7,10,20:21,100"));
    ck_assert_mem_eq(p, "3,5:7,10,20:21,100", len);
    wbuf_free(&w);
    seqset_result_free(&r);
    view_free(&v);
}
END_TEST

static Suite *seqset_suite(void)
{
    Suite *s = suite_create("seqset");
    TCase *tc = tcase_create("eval");

    tcase_add_test(tc, seq_forms);
    tcase_add_test(tc, seq_out_of_range);
    tcase_add_test(tc, uid_forms);
    tcase_add_test(tc, saved_is_callers);
    tcase_add_test(tc, huge_ranges_instant);
    tcase_add_test(tc, each_and_has);
    tcase_add_test(tc, random_against_model);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, format_forms);
    tcase_add_test(tc, format_truncates);
    tcase_add_test(tc, format_round_trip);
    tcase_add_test(tc, format_result_over_gaps);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seqset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
