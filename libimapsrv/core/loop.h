/* One event loop: an epoll set, a timer heap and a queue of tasks posted from
 * other threads.  Each loop is driven by exactly one thread at a time; only
 * loop_post() and loop_wake() may be called from elsewhere.
 *
 * A turn is: wait for events, dispatch them, run due timers, run posted
 * tasks.  Tasks run after the events of their turn, so an object can be
 * retired by posting its release: no event of an earlier epoll_wait can
 * still refer to it (see server.c's listener retirement). */
#ifndef IMAPSRV_CORE_LOOP_H
#define IMAPSRV_CORE_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;
struct loop_task;

typedef void (*loop_io_fn)(struct loop *lp, struct loop_io *io,
                           uint32_t events);
typedef void (*loop_timer_fn)(struct loop *lp, struct loop_timer *t);
typedef void (*loop_task_fn)(struct loop *lp, struct loop_task *t);

struct loop_io { /* embedded in its owner */
    int fd;
    uint32_t events; /* EPOLLIN / EPOLLOUT as registered */
    loop_io_fn fn;
};

struct loop_timer { /* embedded in its owner */
    uint64_t due_ms;
    size_t slot; /* index in the heap + 1; 0 = not armed */
    loop_timer_fn fn;
};

struct loop_task { /* embedded; posted at most once at a time */
    struct loop_task *next;
    loop_task_fn fn;
};

struct loop {
    int epfd;
    int wakefd; /* eventfd: posted tasks and stop requests */
    struct loop_io wake_io;
    uint64_t now_ms;
    struct loop_timer **heap;
    size_t heap_len, heap_cap;
    pthread_mutex_t lock; /* guards the task queue */
    struct loop_task *tasks_head, *tasks_tail;
    bool stop;
    void *owner; /* the server's per-loop data */
};

int loop_init(struct loop *lp);
void loop_free(struct loop *lp);

int loop_io_add(struct loop *lp, struct loop_io *io, uint32_t events);
int loop_io_mod(struct loop *lp, struct loop_io *io, uint32_t events);
void loop_io_del(struct loop *lp, struct loop_io *io);

uint64_t loop_now(struct loop *lp); /* cached monotonic ms */
uint64_t loop_clock_ms(void);       /* fresh monotonic ms */
void loop_timer_arm(struct loop *lp, struct loop_timer *t, uint64_t due_ms);
void loop_timer_cancel(struct loop *lp, struct loop_timer *t);

/* Thread-safe: queue a task for the loop's thread and wake it. */
void loop_post(struct loop *lp, struct loop_task *t);
void loop_wake(struct loop *lp);

/* -1 when no timer is armed. */
int loop_next_timeout(struct loop *lp);
/* One turn; timeout_ms < 0 waits until something happens.  Returns the
 * number of events dispatched, or -1 on a failing epoll_wait. */
int loop_run_once(struct loop *lp, int timeout_ms);

#endif
