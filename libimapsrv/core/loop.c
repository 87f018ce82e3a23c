#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 64

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_drain(struct loop *lp, struct loop_io *io, uint32_t events)
{
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) > 0)
        ;
}

int loop_init(struct loop *lp)
{
    *lp = (struct loop){.epfd = -1, .wakefd = -1};
    if (pthread_mutex_init(&lp->lock, NULL) != 0)
        return -1;
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    lp->now_ms = loop_clock_ms();
    lp->wake_io.fd = lp->wakefd;
    lp->wake_io.fn = wake_drain;
    if (lp->epfd < 0 || lp->wakefd < 0 ||
        loop_io_add(lp, &lp->wake_io, EPOLLIN) < 0) {
        loop_free(lp);
        return -1;
    }
    return 0;
}

void loop_free(struct loop *lp)
{
    if (lp->epfd >= 0)
        close(lp->epfd);
    if (lp->wakefd >= 0)
        close(lp->wakefd);
    lp->epfd = lp->wakefd = -1;
    free(lp->heap);
    lp->heap = NULL;
    lp->heap_len = lp->heap_cap = 0;
    pthread_mutex_destroy(&lp->lock);
}

static int io_ctl(struct loop *lp, int op, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(lp->epfd, op, io->fd, &ev) < 0)
        return -1;
    io->events = events;
    return 0;
}

int loop_io_add(struct loop *lp, struct loop_io *io, uint32_t events)
{
    return io_ctl(lp, EPOLL_CTL_ADD, io, events);
}

int loop_io_mod(struct loop *lp, struct loop_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    return io_ctl(lp, EPOLL_CTL_MOD, io, events);
}

void loop_io_del(struct loop *lp, struct loop_io *io)
{
    if (io->fd >= 0)
        epoll_ctl(lp->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
}

uint64_t loop_now(struct loop *lp)
{
    return lp->now_ms;
}

/* ---- timer heap (min-heap on due_ms; slot = index + 1) ---- */

static void heap_place(struct loop *lp, size_t i, struct loop_timer *t)
{
    lp->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(struct loop *lp, size_t i)
{
    struct loop_timer *t = lp->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (lp->heap[parent]->due_ms <= t->due_ms)
            break;
        heap_place(lp, i, lp->heap[parent]);
        i = parent;
    }
    heap_place(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
    struct loop_timer *t = lp->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= lp->heap_len)
            break;
        if (c + 1 < lp->heap_len &&
            lp->heap[c + 1]->due_ms < lp->heap[c]->due_ms)
            c++;
        if (lp->heap[c]->due_ms >= t->due_ms)
            break;
        heap_place(lp, i, lp->heap[c]);
        i = c;
    }
    heap_place(lp, i, t);
}

void loop_timer_cancel(struct loop *lp, struct loop_timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct loop_timer *last = lp->heap[--lp->heap_len];
    if (i == lp->heap_len)
        return;
    heap_place(lp, i, last);
    heap_up(lp, i);
    heap_down(lp, last->slot - 1);
}

void loop_timer_arm(struct loop *lp, struct loop_timer *t, uint64_t due_ms)
{
    loop_timer_cancel(lp, t);
    if (lp->heap_len == lp->heap_cap) {
        size_t cap = lp->heap_cap ? lp->heap_cap * 2 : 64;
        struct loop_timer **h = realloc(lp->heap, cap * sizeof(*h));
        if (!h)
            abort(); /* a few bytes per connection; nothing sane to do */
        lp->heap = h;
        lp->heap_cap = cap;
    }
    t->due_ms = due_ms;
    heap_place(lp, lp->heap_len++, t);
    heap_up(lp, lp->heap_len - 1);
}

int loop_next_timeout(struct loop *lp)
{
    if (!lp->heap_len)
        return -1;
    uint64_t now = loop_clock_ms(), due = lp->heap[0]->due_ms;
    if (due <= now)
        return 0;
    uint64_t d = due - now;
    return d > 86400000u ? 86400000 : (int)d;
}

static void run_timers(struct loop *lp)
{
    while (lp->heap_len && lp->heap[0]->due_ms <= lp->now_ms) {
        struct loop_timer *t = lp->heap[0];
        loop_timer_cancel(lp, t);
        t->fn(lp, t);
    }
}

/* ---- tasks ---- */

void loop_wake(struct loop *lp)
{
    uint64_t one = 1;
    ssize_t r = write(lp->wakefd, &one, sizeof(one));
    (void)r; /* EAGAIN: the counter is already non-zero, a wake is pending */
}

void loop_post(struct loop *lp, struct loop_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&lp->lock);
    if (lp->tasks_tail)
        lp->tasks_tail->next = t;
    else
        lp->tasks_head = t;
    lp->tasks_tail = t;
    pthread_mutex_unlock(&lp->lock);
    loop_wake(lp);
}

static void run_tasks(struct loop *lp)
{
    pthread_mutex_lock(&lp->lock);
    struct loop_task *t = lp->tasks_head;
    lp->tasks_head = lp->tasks_tail = NULL;
    pthread_mutex_unlock(&lp->lock);
    while (t) {
        struct loop_task *next = t->next;
        t->fn(lp, t);
        t = next;
    }
}

int loop_run_once(struct loop *lp, int timeout_ms)
{
    struct epoll_event evs[LOOP_BATCH];
    int next = loop_next_timeout(lp);
    if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
        timeout_ms = next;
    pthread_mutex_lock(&lp->lock);
    if (lp->tasks_head)
        timeout_ms = 0;
    pthread_mutex_unlock(&lp->lock);
    int n = epoll_wait(lp->epfd, evs, LOOP_BATCH, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -1;
    lp->now_ms = loop_clock_ms();
    for (int i = 0; i < n; i++) {
        struct loop_io *io = evs[i].data.ptr;
        io->fn(lp, io, evs[i].events);
    }
    run_timers(lp);
    run_tasks(lp);
    return n < 0 ? 0 : n;
}
