/* Event loop: timers in order, cancellation, cross-thread tasks, io. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/loop.h"

struct rec {
    struct loop_timer t;
    int id;
    int *log;
    int *n;
};

static void rec_fire(struct loop *lp, struct loop_timer *t)
{
    struct rec *r = (struct rec *)t;
    r->log[(*r->n)++] = r->id;
}

START_TEST(timers_fire_in_order)
{
    struct loop lp;
    ck_assert_int_eq(loop_init(&lp), 0);
    int log[64], n = 0;
    struct rec r[40];
    uint64_t now = loop_clock_ms();
    /* Armed in a scrambled order; must fire by due time. */
    for (int i = 0; i < 40; i++) {
        int id = (i * 17) % 40;
        r[i] = (struct rec){.t.fn = rec_fire, .id = id, .log = log, .n = &n};
        loop_timer_arm(&lp, &r[i].t, now + (uint64_t)id);
    }
    /* Cancel ids 5 and 30, re-arm 7 late. */
    for (int i = 0; i < 40; i++) {
        if (r[i].id == 5 || r[i].id == 30)
            loop_timer_cancel(&lp, &r[i].t);
        if (r[i].id == 7)
            loop_timer_arm(&lp, &r[i].t, now + 100);
    }
    while (n < 38)
        ck_assert_int_ge(loop_run_once(&lp, -1), 0);
    ck_assert_int_eq(n, 38);
    for (int i = 1; i < n - 1; i++)
        ck_assert_int_lt(log[i - 1], log[i]);
    ck_assert_int_eq(log[n - 1], 7);
    ck_assert_int_eq(loop_next_timeout(&lp), -1);
    loop_free(&lp);
}
END_TEST

START_TEST(timer_wait_is_bounded)
{
    struct loop lp;
    ck_assert_int_eq(loop_init(&lp), 0);
    int log[2], n = 0;
    struct rec r = {.t.fn = rec_fire, .id = 1, .log = log, .n = &n};
    uint64_t start = loop_clock_ms();
    loop_timer_arm(&lp, &r.t, start + 50);
    ck_assert_int_gt(loop_next_timeout(&lp), 0);
    ck_assert_int_le(loop_next_timeout(&lp), 50);
    while (!n)
        loop_run_once(&lp, -1);
    ck_assert_uint_ge(loop_clock_ms() - start, 50);
    ck_assert_uint_lt(loop_clock_ms() - start, 1000);
    loop_free(&lp);
}
END_TEST

struct ptask {
    struct loop_task t;
    int *count;
};

static void ptask_run(struct loop *lp, struct loop_task *t)
{
    struct ptask *p = (struct ptask *)t;
    (*p->count)++;
}

struct poster {
    struct loop *lp;
    struct ptask tasks[500];
    int count;
};

static void *post_many(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < 500; i++) {
        p->tasks[i] = (struct ptask){.t.fn = ptask_run, .count = &p->count};
        loop_post(p->lp, &p->tasks[i].t);
    }
    return NULL;
}

START_TEST(tasks_from_other_threads)
{
    struct loop lp;
    ck_assert_int_eq(loop_init(&lp), 0);
    struct poster *p = calloc(2, sizeof(*p));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        p[i].lp = &lp;
        pthread_create(&th[i], NULL, post_many, &p[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* A blocking wait must wake for the queued tasks. */
    for (int guard = 0; guard < 100 && p[0].count + p[1].count < 1000; guard++)
        loop_run_once(&lp, 1000);
    ck_assert_int_eq(p[0].count + p[1].count, 1000);
    free(p);
    loop_free(&lp);
}
END_TEST

struct pipe_io {
    struct loop_io io;
    int reads;
};

static void pipe_ready(struct loop *lp, struct loop_io *io, uint32_t ev)
{
    char buf[16];
    struct pipe_io *p = (struct pipe_io *)io;
    if (read(io->fd, buf, sizeof(buf)) > 0)
        p->reads++;
}

START_TEST(io_events_dispatch)
{
    struct loop lp;
    ck_assert_int_eq(loop_init(&lp), 0);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    struct pipe_io p = {.io = {.fd = fds[0], .fn = pipe_ready}};
    ck_assert_int_eq(loop_io_add(&lp, &p.io, EPOLLIN), 0);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(&lp, 1000), 1);
    ck_assert_int_eq(p.reads, 1);
    /* Deleted: nothing dispatched any more. */
    loop_io_del(&lp, &p.io);
    ck_assert_int_eq(write(fds[1], "y", 1), 1);
    ck_assert_int_eq(loop_run_once(&lp, 10), 0);
    ck_assert_int_eq(p.reads, 1);
    close(fds[0]);
    close(fds[1]);
    loop_free(&lp);
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, timers_fire_in_order);
    tcase_add_test(tc, timer_wait_is_bounded);
    tcase_add_test(tc, tasks_from_other_threads);
    tcase_add_test(tc, io_events_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loop_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
