/* A bound listening endpoint: one port on one or more addresses, registered
 * in every event loop of a server (EPOLLEXCLUSIVE, so one loop wakes per
 * connection).  Knows nothing of IMAP: accepted sockets go up through the
 * callback that server.c installs.  Reference-counted so that a reload can
 * retire it while a loop may still hold an event for it. */
#ifndef IMAPSRV_NET_LISTENER_H
#define IMAPSRV_NET_LISTENER_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/loop.h"

struct listener;

typedef void (*listener_accept_fn)(void *userdata, struct listener *l,
                                   struct loop *lp, int fd);
typedef void (*listener_error_fn)(void *userdata, struct listener *l, int err);

struct lsock_io { /* one socket in one loop */
    struct loop_io io;
    struct loop_timer backoff; /* re-enable after EMFILE */
    struct listener *l;
};

struct listener {
    atomic_int refs;
    char *address; /* bind spec as configured; NULL = all */
    int port;
    int *fds;
    size_t fd_count;
    struct lsock_io *ios; /* fd_count * loop_count */
    struct loop **loops;
    size_t loop_count;
    listener_accept_fn on_accept;
    listener_error_fn on_error;
    void *userdata;
    void *owner; /* server.c's data for this listener */
};

/* Bind and listen.  On failure returns -1 and writes the reason (naming the
 * address, the port and the system's error) into err. */
int listener_bind(const char *address, int port, int backlog,
                  struct listener **l_r, char *err, size_t errlen);
/* Register in each loop.  Only after this may accept callbacks run. */
int listener_attach(struct listener *l, struct loop **loops, size_t count,
                    listener_accept_fn on_accept, listener_error_fn on_error,
                    void *userdata);
/* Remove from every loop's epoll set (the fds stay open). */
void listener_detach(struct listener *l);
/* On loop lp's own thread, after listener_detach: cancel what that loop
 * still holds for the listener (its accept back-off timers). */
void listener_loop_release(struct listener *l, struct loop *lp);
/* "ADDR:PORT" of socket i (IPv6 in brackets). */
void listener_describe(const struct listener *l, size_t i, char *buf,
                       size_t len);
void listener_ref(struct listener *l);
void listener_unref(struct listener *l); /* closes and frees at zero */

/* Whether two bind specs name the same sockets (so a reload can keep them). */
int listener_same_spec(const char *a1, int p1, const char *a2, int p2);

#endif
