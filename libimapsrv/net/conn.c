#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define OUT_HIGH_WATER (1u << 20) /* stop reading while this much is queued */
#define OUT_LOW_WATER (64u << 10) /* on_drain: room for the next batch */

static void numeric_addr(const struct sockaddr_storage *ss, char *buf,
                         size_t len, int *port_r)
{
    buf[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
        *port_r = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        /* Show v4-mapped peers of a dual-stack socket as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)len);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
        *port_r = ntohs(s6->sin6_port);
    }
}

static void tls_begin(struct conn *c);

static void conn_update_events(struct conn *c)
{
    if (c->closed || c->tls_state == CONN_TLS_HANDSHAKE)
        return; /* the handshake sets its own interest */
    uint32_t ev = 0;
    if (!c->paused && !c->closing && c->tls_state != CONN_TLS_AFTER_FLUSH &&
        conn_out_pending(c) < OUT_HIGH_WATER)
        ev |= EPOLLIN;
    if (conn_out_pending(c) || (c->tls && tls_wants_write(c->tls)))
        ev |= EPOLLOUT;
    loop_io_mod(c->loop, &c->io, ev);
}

static void conn_free_task(struct loop *lp, struct loop_task *t)
{
    struct conn *c =
        (struct conn *)((char *)t - offsetof(struct conn, free_task));
    wbuf_free(&c->out);
    free(c->in);
    if (c->tls)
        tls_conn_free(c->tls);
    if (c->tls_ctx)
        tls_ctx_unref(c->tls_ctx);
    free(c);
}

/* Tear down now; memory goes at the end of the turn, after any event of this
 * turn's batch that still names the conn. */
static void conn_finish(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    loop_io_del(c->loop, &c->io);
    if (c->tls_state == CONN_TLS_ON)
        tls_shutdown(c->tls); /* close_notify, best effort, never waits */
    close(c->io.fd);
    c->io.fd = -1;
    if (c->h && c->h->on_close)
        c->h->on_close(c->owner);
    c->free_task.fn = conn_free_task;
    loop_post(c->loop, &c->free_task);
}

size_t conn_out_pending(const struct conn *c)
{
    size_t n = 0;
    wbuf_pending(&c->out, &n);
    return n;
}

void conn_flush(struct conn *c)
{
    if (c->closed)
        return;
    if (c->out.oom) {
        conn_finish(c);
        return;
    }
    if (c->tls_state == CONN_TLS_HANDSHAKE)
        return; /* queued output waits for the handshake */
    size_t len;
    const char *p = wbuf_pending(&c->out, &len);
    while (len) {
        ssize_t w = c->tls ? tls_send(c->tls, p, len)
                           : send(c->io.fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_finish(c);
            return;
        }
        wbuf_consume(&c->out, (size_t)w);
        p = wbuf_pending(&c->out, &len);
    }
    if (!len && c->closing) {
        conn_finish(c);
        return;
    }
    if (!len && c->tls_state == CONN_TLS_AFTER_FLUSH) {
        tls_begin(c);
        return;
    }
    conn_update_events(c);
}

static void conn_deliver(struct conn *c)
{
    if (c->delivering)
        return; /* resumed from within on_data: the outer loop goes on */
    c->delivering = true;
    while (c->in_len && !c->paused && !c->closing && !c->closed) {
        size_t used = c->h->on_data(c->owner, c->in, c->in_len);
        if (c->closed)
            break;
        if (used == 0)
            break;
        if (used > c->in_len)
            used = c->in_len;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
    c->delivering = false;
    if (!c->closed && !c->in_len) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static bool conn_read(struct conn *c)
{
    if (c->in_cap - c->in_len < READ_CHUNK / 4) {
        /* The owner consumes what it is offered (the framer buffers
         * commands itself), so this stays small; paused, nothing is read. */
        size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
        char *n = realloc(c->in, cap);
        if (!n)
            return false;
        c->in = n;
        c->in_cap = cap;
    }
    size_t room = c->in_cap - c->in_len;
    ssize_t r = c->tls ? tls_recv(c->tls, c->in + c->in_len, room)
                       : recv(c->io.fd, c->in + c->in_len, room, 0);
    if (r > 0) {
        c->in_len += (size_t)r;
        return true;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    return false; /* EOF or error */
}

/* GnuTLS may hold decrypted bytes the socket no longer signals: take them
 * while the owner wants input. */
static void conn_pump(struct conn *c)
{
    while (c->tls && !c->closed && !c->paused && !c->closing &&
           tls_pending(c->tls)) {
        if (!conn_read(c)) {
            conn_finish(c);
            return;
        }
        conn_deliver(c);
    }
}

static void tls_step(struct conn *c)
{
    enum tls_result r = tls_handshake(c->tls);
    if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
        loop_io_mod(c->loop, &c->io, r == TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }
    bool ok = r == TLS_DONE;
    c->tls_state = ok ? CONN_TLS_ON : c->tls_state;
    if (c->h && c->h->on_secure)
        c->h->on_secure(c->owner, ok, ok ? NULL : tls_error(c->tls));
    if (!ok) {
        conn_finish(c);
        return;
    }
    if (c->closed)
        return;
    conn_flush(c);
    conn_pump(c);
    if (!c->closed)
        conn_flush(c);
}

static void tls_begin(struct conn *c)
{
    c->in_len = 0;
    c->tls = tls_conn_new(c->tls_ctx, c->io.fd, c->tls_request_cert);
    if (!c->tls) {
        if (c->h && c->h->on_secure)
            c->h->on_secure(c->owner, false, "out of memory");
        conn_finish(c);
        return;
    }
    c->tls_state = CONN_TLS_HANDSHAKE;
    tls_step(c);
}

void conn_start_tls(struct conn *c, struct tls_ctx *ctx, bool request_cert,
                    bool after_flush)
{
    if (c->closed || c->tls_state != CONN_PLAIN)
        return;
    tls_ctx_ref(ctx);
    c->tls_ctx = ctx;
    c->tls_request_cert = request_cert;
    c->in_len = 0;
    if (after_flush) {
        c->tls_state = CONN_TLS_AFTER_FLUSH;
        conn_flush(c); /* begins the handshake once the OK is out */
    } else {
        tls_begin(c);
    }
}

bool conn_secure(const struct conn *c)
{
    return c->tls_state == CONN_TLS_ON;
}

static void conn_ready(struct loop *lp, struct loop_io *io, uint32_t events)
{
    struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, io));
    if (c->closed)
        return;
    if (c->tls_state == CONN_TLS_HANDSHAKE) {
        tls_step(c);
        return;
    }
    if (events & EPOLLOUT) {
        conn_flush(c);
        if (!c->closed && c->want_drain &&
            conn_out_pending(c) < OUT_LOW_WATER) {
            c->want_drain = false;
            if (c->h->on_drain)
                c->h->on_drain(c->owner);
        }
    }
    if (c->closed)
        return;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->paused &&
        !c->closing) {
        if (!conn_read(c)) {
            conn_finish(c);
            return;
        }
        conn_deliver(c);
        conn_pump(c);
        if (!c->closed)
            conn_flush(c);
    } else if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLOUT)) {
        conn_finish(c);
    }
}

struct conn *conn_new(struct loop *lp, int fd, const struct conn_handler *h,
                      void *owner)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->loop = lp;
    c->io.fd = fd;
    c->io.fn = conn_ready;
    c->h = h;
    c->owner = owner;
    wbuf_init(&c->out);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        numeric_addr(&ss, c->peer, sizeof(c->peer), &port);
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        numeric_addr(&ss, c->local, sizeof(c->local), &c->local_port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (loop_io_add(lp, &c->io, EPOLLIN) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    return c;
}

void conn_set_owner(struct conn *c, const struct conn_handler *h, void *owner)
{
    c->h = h;
    c->owner = owner;
}

void conn_pause(struct conn *c)
{
    c->paused = true;
    conn_update_events(c);
}

void conn_resume(struct conn *c)
{
    if (c->closed)
        return;
    c->paused = false;
    if (c->delivering)
        return; /* from within on_data: its loop goes on, reads nothing */
    conn_deliver(c);
    conn_pump(c);
    if (!c->closed)
        conn_flush(c);
}

void conn_want_drain(struct conn *c)
{
    c->want_drain = true;
}

void conn_discard_input(struct conn *c)
{
    c->in_len = 0;
}

void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closing = true;
    c->paused = true;
    conn_flush(c);
}

void conn_abort(struct conn *c)
{
    conn_finish(c);
}
