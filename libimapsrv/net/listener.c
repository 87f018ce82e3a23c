#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ADDR_MAX 16

struct bind_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

static void set_port(struct bind_addr *b, int port)
{
    if (b->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&b->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&b->ss)->sin6_port = htons((uint16_t)port);
}

static int parse_one(const char *tok, struct bind_addr *b)
{
    memset(b, 0, sizeof(*b));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&b->ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&b->ss;
    if (inet_pton(AF_INET, tok, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        b->len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, tok, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        b->len = sizeof(*s6);
        return 0;
    }
    return -1;
}

static size_t iface_addrs(const char *name, struct bind_addr *out, size_t max)
{
    struct ifaddrs *ifs, *i;
    size_t n = 0;
    if (getifaddrs(&ifs) < 0)
        return 0;
    for (i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || strcmp(i->ifa_name, name) != 0)
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        out[n].len = fam == AF_INET ? sizeof(struct sockaddr_in)
                                    : sizeof(struct sockaddr_in6);
        memcpy(&out[n].ss, i->ifa_addr, out[n].len);
        n++;
    }
    freeifaddrs(ifs);
    return n;
}

/* Expand a bind spec into addresses; 0 on a spec that names nothing. */
static size_t parse_spec(const char *spec, struct bind_addr *out, size_t max)
{
    if (!spec || !*spec || strcmp(spec, "*") == 0) {
        parse_one("::", &out[0]);
        return 1;
    }
    if (strncmp(spec, "iface:", 6) == 0)
        return iface_addrs(spec + 6, out, max);
    size_t n = 0;
    char tok[INET6_ADDRSTRLEN + 1];
    const char *p = spec;
    while (*p && n < max) {
        size_t len = strcspn(p, " ,\t");
        if (len && len < sizeof(tok)) {
            memcpy(tok, p, len);
            tok[len] = '\0';
            if (parse_one(tok, &out[n]) == 0)
                n++;
            else
                return 0;
        } else if (len) {
            return 0;
        }
        p += len;
        p += strspn(p, " ,\t");
    }
    return n;
}

static void describe_addr(const struct sockaddr_storage *ss, int port,
                          char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a,
                  sizeof(a));
        snprintf(buf, len, "%s:%d", a, port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
                  sizeof(a));
        snprintf(buf, len, "[%s]:%d", a, port);
    }
}

static int open_socket(struct bind_addr *b, int backlog, bool all, int *fd_r)
{
    int fd =
        socket(b->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (b->ss.ss_family == AF_INET6)
        /* "all addresses" is one dual-stack socket; a listed v6 address
         * means that address only. */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, all ? &zero : &one,
                   sizeof(one));
    if (bind(fd, (struct sockaddr *)&b->ss, b->len) < 0 ||
        listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *fd_r = fd;
    return 0;
}

static void listener_free(struct listener *l)
{
    for (size_t i = 0; i < l->fd_count; i++)
        if (l->fds[i] >= 0)
            close(l->fds[i]);
    free(l->fds);
    free(l->ios);
    free(l->loops);
    free(l->address);
    free(l);
}

int listener_bind(const char *address, int port, int backlog,
                  struct listener **l_r, char *err, size_t errlen)
{
    struct bind_addr addrs[ADDR_MAX];
    bool all = !address || !*address || strcmp(address, "*") == 0;
    size_t n = parse_spec(address, addrs, ADDR_MAX);
    if (n == 0) {
        snprintf(err, errlen, "port %d: address '%s' names no usable address",
                 port, address ? address : "");
        return -1;
    }
    struct listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->fds = calloc(n, sizeof(int))) ||
        (address && !(l->address = strdup(address)))) {
        snprintf(err, errlen, "port %d: out of memory", port);
        if (l)
            listener_free(l);
        return -1;
    }
    atomic_init(&l->refs, 1);
    l->port = port;
    for (size_t i = 0; i < n; i++) {
        set_port(&addrs[i], port);
        int e = open_socket(&addrs[i], backlog, all, &l->fds[i]);
        if (e == EAFNOSUPPORT && all) { /* no IPv6 here: IPv4 only */
            parse_one("0.0.0.0", &addrs[i]);
            set_port(&addrs[i], port);
            e = open_socket(&addrs[i], backlog, all, &l->fds[i]);
        }
        if (e) {
            char where[INET6_ADDRSTRLEN + 16];
            describe_addr(&addrs[i].ss, port, where, sizeof(where));
            snprintf(
                err, errlen, "port %d: cannot listen on %s: %s%s", port, where,
                strerror(e),
                e == EACCES && port < 1024
                    ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                    : "");
            l->fd_count = i;
            listener_free(l);
            return -1;
        }
        l->fd_count = i + 1;
    }
    *l_r = l;
    return 0;
}

static void lsock_enable(struct loop *lp, struct loop_timer *t)
{
    struct lsock_io *s =
        (struct lsock_io *)((char *)t - offsetof(struct lsock_io, backoff));
    uint32_t ev = EPOLLIN | (s->l->loop_count > 1 ? EPOLLEXCLUSIVE : 0);
    loop_io_add(lp, &s->io, ev);
}

static void lsock_ready(struct loop *lp, struct loop_io *io, uint32_t events)
{
    struct lsock_io *s = (struct lsock_io *)io;
    struct listener *l = s->l;
    /* Bounded batch: other connections on this loop get their turn. */
    for (int i = 0; i < 32; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->on_accept(l->userdata, l, lp, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            /* Out of descriptors: stop polling this socket briefly instead
             * of spinning on a level-triggered event. */
            l->on_error(l->userdata, l, errno);
            epoll_ctl(lp->epfd, EPOLL_CTL_DEL, io->fd, NULL);
            io->events = 0;
            s->backoff.fn = lsock_enable;
            loop_timer_arm(lp, &s->backoff, loop_now(lp) + 100);
        }
        break;
    }
}

int listener_attach(struct listener *l, struct loop **loops, size_t count,
                    listener_accept_fn on_accept, listener_error_fn on_error,
                    void *userdata)
{
    l->ios = calloc(l->fd_count * count, sizeof(*l->ios));
    l->loops = calloc(count, sizeof(*l->loops));
    if (!l->ios || !l->loops)
        return -1;
    memcpy(l->loops, loops, count * sizeof(*loops));
    l->loop_count = count;
    l->on_accept = on_accept;
    l->on_error = on_error;
    l->userdata = userdata;
    for (size_t li = 0; li < count; li++)
        for (size_t fi = 0; fi < l->fd_count; fi++) {
            struct lsock_io *s = &l->ios[li * l->fd_count + fi];
            s->l = l;
            s->io.fd = l->fds[fi];
            s->io.fn = lsock_ready;
            uint32_t ev = EPOLLIN | (count > 1 ? EPOLLEXCLUSIVE : 0);
            if (loop_io_add(loops[li], &s->io, ev) < 0)
                return -1;
        }
    return 0;
}

void listener_detach(struct listener *l)
{
    for (size_t li = 0; li < l->loop_count; li++)
        for (size_t fi = 0; fi < l->fd_count; fi++) {
            struct lsock_io *s = &l->ios[li * l->fd_count + fi];
            if (s->io.fn)
                epoll_ctl(l->loops[li]->epfd, EPOLL_CTL_DEL, s->io.fd, NULL);
        }
}

void listener_loop_release(struct listener *l, struct loop *lp)
{
    for (size_t li = 0; li < l->loop_count; li++)
        if (l->loops[li] == lp)
            for (size_t fi = 0; fi < l->fd_count; fi++)
                loop_timer_cancel(lp, &l->ios[li * l->fd_count + fi].backoff);
}

void listener_describe(const struct listener *l, size_t i, char *buf,
                       size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (i >= l->fd_count ||
        getsockname(l->fds[i], (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(buf, len, "?:%d", l->port);
        return;
    }
    describe_addr(&ss, l->port, buf, len);
}

void listener_ref(struct listener *l)
{
    atomic_fetch_add(&l->refs, 1);
}

void listener_unref(struct listener *l)
{
    if (l && atomic_fetch_sub(&l->refs, 1) == 1)
        listener_free(l);
}

int listener_same_spec(const char *a1, int p1, const char *a2, int p2)
{
    if (p1 != p2)
        return 0;
    const char *x = a1 && *a1 ? a1 : "*", *y = a2 && *a2 ? a2 : "*";
    return strcmp(x, y) == 0;
}
