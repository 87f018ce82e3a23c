/* tlsload: TLS handshake load generator for IMAP servers (implicit TLS).
 *
 * Each of C threads opens a blocking TCP connection, runs a TLS handshake
 * with GnuTLS, reads the IMAP greeting through TLS (a handshake only
 * counts once the server has actually spoken), optionally logs in and out,
 * and closes.  --mode resumed keeps one session per thread and resumes it;
 * every connection that did not resume is counted as a miss.
 *
 * Bounded twice: by --seconds and by a hard cap on connections (--max).
 * Prints one line of key=value results on stdout; details of the first
 * few errors go to stderr.
 *
 *   gcc -O2 -std=c11 -D_GNU_SOURCE tlsload.c -o tlsload \
 *       $(pkg-config --cflags --libs gnutls) -pthread
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_SECONDS 3600
#define DEFAULT_MAX_CONN 1000000L
#define ERR_PRINT_MAX 10 /* enough to see the pattern, not a flood */

enum mode { MODE_FULL, MODE_RESUMED };

static struct {
    const char *host;
    int port;
    enum mode mode;
    double seconds;
    int conc;
    const char *tls; /* NULL: let the priority string decide (1.3 first) */
    const char *user, *pass;
    long max_conn;
    int timeout_ms;
} opt = {"127.0.0.1", 0, MODE_FULL, 10, 4, NULL, NULL, NULL,
         DEFAULT_MAX_CONN, 5000};

static struct sockaddr_in server_addr;
static gnutls_certificate_credentials_t xcred;
static gnutls_priority_t prio;
static struct timespec deadline;
static atomic_long started;   /* connections begun, against --max */
static atomic_int err_printed;
static pthread_mutex_t desc_lock = PTHREAD_MUTEX_INITIALIZER;
static char session_desc[160];

struct worker {
    pthread_t tid;
    int id;
    long ok, errors, resumed, misses, primes;
    long err_connect, err_handshake, err_greeting, err_login;
    double *lat; /* ms, connect start to greeting read */
    double *slat; /* ms, connect start to LOGOUT done (--login only) */
    size_t nlat, caplat;
    gnutls_datum_t sdata; /* resumed mode: the ticket to offer next */
};

struct conn {
    int fd;
    gnutls_session_t s;
    char buf[4096];
    size_t len;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool past_deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec > deadline.tv_sec ||
           (ts.tv_sec == deadline.tv_sec && ts.tv_nsec >= deadline.tv_nsec);
}

static void report_err(int wid, const char *fmt, ...)
{
    if (atomic_fetch_add(&err_printed, 1) >= ERR_PRINT_MAX)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tlsload: thread %d: %s\n", wid, msg);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: tlsload --port P [--host 127.0.0.1] [--mode full|resumed]\n"
            "               [--seconds S] [--concurrency C] [--tls 1.2|1.3]\n"
            "               [--login USER:PASS] [--max N] [--timeout MS]\n");
    exit(2);
}

static long parse_long(const char *name, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "tlsload: %s: expected %ld..%ld, got \"%s\"\n", name,
                lo, hi, v);
        exit(2);
    }
    return n;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = (int)parse_long(a, v, 1, 65535);
        else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "full"))
                opt.mode = MODE_FULL;
            else if (!strcmp(v, "resumed"))
                opt.mode = MODE_RESUMED;
            else
                usage();
        } else if (!strcmp(a, "--seconds")) {
            char *end;
            opt.seconds = strtod(v, &end);
            if (*end || !(opt.seconds > 0 && opt.seconds <= MAX_SECONDS))
                usage();
        } else if (!strcmp(a, "--concurrency"))
            opt.conc = (int)parse_long(a, v, 1, MAX_THREADS);
        else if (!strcmp(a, "--tls")) {
            if (strcmp(v, "1.2") && strcmp(v, "1.3"))
                usage();
            opt.tls = v;
        } else if (!strcmp(a, "--login")) {
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || strpbrk(v, "\"\\\r\n"))
                usage(); /* sent as quoted strings: keep them simple */
            opt.user = strndup(v, (size_t)(colon - v));
            opt.pass = colon + 1;
        } else if (!strcmp(a, "--max"))
            opt.max_conn = parse_long(a, v, 1, 100000000L);
        else if (!strcmp(a, "--timeout"))
            opt.timeout_ms = (int)parse_long(a, v, 1, 600000);
        else
            usage();
    }
    if (!opt.port)
        usage();
}

/* Read one CRLF-terminated line into c->buf; returns its length without
 * CRLF, or a negative GnuTLS error (GNUTLS_E_PREMATURE_TERMINATION on EOF). */
static ssize_t read_line(struct conn *c, char **line)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf) + 1;
            *line = c->buf;
            return (ssize_t)n;
        }
        /* No sane IMAP response line is that long. */
        if (c->len == sizeof c->buf)
            return GNUTLS_E_RECORD_OVERFLOW;
        ssize_t r;
        do
            r = gnutls_record_recv(c->s, c->buf + c->len,
                                   sizeof c->buf - c->len);
        while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
        if (r == 0)
            return GNUTLS_E_PREMATURE_TERMINATION;
        if (r < 0)
            return r;
        c->len += (size_t)r;
    }
}

static void consume_line(struct conn *c, ssize_t n)
{
    memmove(c->buf, c->buf + n, c->len - (size_t)n);
    c->len -= (size_t)n;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t r = gnutls_record_send(c->s, p, n);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r < 0)
            return (int)r;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Send "TAG CMD" and skip untagged lines until the tagged reply; true if OK. */
static bool command(struct conn *c, int wid, const char *tag, const char *cmd,
                    const char *what)
{
    char out[512];
    int n = snprintf(out, sizeof out, "%s %s\r\n", tag, cmd);
    int r = send_all(c, out, (size_t)n);
    if (r < 0) {
        report_err(wid, "%s: send: %s", what, gnutls_strerror(r));
        return false;
    }
    size_t tl = strlen(tag);
    for (;;) {
        char *line;
        ssize_t len = read_line(c, &line);
        if (len < 0) {
            report_err(wid, "%s: %s", what, gnutls_strerror((int)len));
            return false;
        }
        if ((size_t)len > tl && !memcmp(line, tag, tl) && line[tl] == ' ') {
            bool ok = (size_t)len >= tl + 3 && !memcmp(line + tl + 1, "OK", 2);
            if (!ok)
                report_err(wid, "%s: %.*s", what, (int)len - 2, line);
            consume_line(c, len);
            return ok;
        }
        consume_line(c, len);
    }
}

static int tcp_connect(int wid)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report_err(wid, "socket: %s", strerror(errno));
        return -1;
    }
    /* The kernel timeouts bound connect(); GnuTLS has its own for records. */
    struct timeval tv = {opt.timeout_ms / 1000, (opt.timeout_ms % 1000) * 1000};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Handshake flights are small writes; Nagle would add delay to each. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0) {
        report_err(wid, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void lat_push(struct worker *w, double ms, double sess_ms)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 4096;
        double *p = realloc(w->lat, cap * sizeof *p);
        double *q = p ? realloc(w->slat, cap * sizeof *q) : NULL;
        if (p)
            w->lat = p;
        if (!q)
            return; /* lose a sample rather than the run */
        w->slat = q;
        w->caplat = cap;
    }
    w->lat[w->nlat] = ms;
    w->slat[w->nlat++] = sess_ms;
}

/* One connection; 0 if it completed, -1 on any error (already counted). */
static int one_connection(struct worker *w, bool prime)
{
    struct conn c = {.fd = -1};
    double t0 = now_ms();
    int ret;

    c.fd = tcp_connect(w->id);
    if (c.fd < 0) {
        w->err_connect++;
        return -1;
    }
    if (gnutls_init(&c.s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) < 0) {
        close(c.fd);
        w->err_handshake++;
        return -1;
    }
    gnutls_priority_set(c.s, prio);
    gnutls_credentials_set(c.s, GNUTLS_CRD_CERTIFICATE, xcred);
    gnutls_transport_set_int(c.s, c.fd);
    gnutls_handshake_set_timeout(c.s, (unsigned)opt.timeout_ms);
    gnutls_record_set_timeout(c.s, (unsigned)opt.timeout_ms);
    if (opt.mode == MODE_RESUMED && w->sdata.data)
        gnutls_session_set_data(c.s, w->sdata.data, w->sdata.size);

    do
        ret = gnutls_handshake(c.s);
    while (ret < 0 && !gnutls_error_is_fatal(ret));
    if (ret < 0) {
        report_err(w->id, "handshake: %s", gnutls_strerror(ret));
        w->err_handshake++;
        goto fail;
    }

    char *line;
    ssize_t len = read_line(&c, &line);
    if (len < 0 || len < 4 || memcmp(line, "* OK", 4)) {
        if (len < 0)
            report_err(w->id, "greeting: %s", gnutls_strerror((int)len));
        else
            report_err(w->id, "greeting: unexpected \"%.*s\"", (int)len - 2,
                       line);
        w->err_greeting++;
        goto fail;
    }
    consume_line(&c, len);
    double t1 = now_ms();

    if (!session_desc[0]) {
        char *d = gnutls_session_get_desc(c.s);
        pthread_mutex_lock(&desc_lock);
        if (d && !session_desc[0])
            snprintf(session_desc, sizeof session_desc, "%s", d);
        pthread_mutex_unlock(&desc_lock);
        gnutls_free(d);
    }

    if (opt.mode == MODE_RESUMED) {
        bool resumed = gnutls_session_is_resumed(c.s) != 0;
        if (!prime) {
            if (resumed)
                w->resumed++;
            else
                w->misses++;
        }
        /* Keep the newest ticket, as a real client does (RFC 8446 C.4: do
         * not reuse a ticket).  In TLS 1.3 the ticket arrives after the
         * handshake; the greeting read above has processed it, and without
         * one the session data would not resume. */
        bool have_ticket =
            gnutls_protocol_get_version(c.s) != GNUTLS_TLS1_3 ||
            (gnutls_session_get_flags(c.s) & GNUTLS_SFLAGS_SESSION_TICKET);
        if (have_ticket) {
            gnutls_datum_t d;
            if (gnutls_session_get_data2(c.s, &d) == 0) {
                gnutls_free(w->sdata.data);
                w->sdata = d;
            }
        } else if (prime || !resumed) {
            report_err(w->id, "no TLS 1.3 session ticket from the server");
        }
    }

    if (opt.user) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "LOGIN \"%s\" \"%s\"", opt.user, opt.pass);
        if (!command(&c, w->id, "a", cmd, "LOGIN") ||
            !command(&c, w->id, "b", "LOGOUT", "LOGOUT")) {
            w->err_login++;
            goto fail;
        }
    } else {
        /* close_notify, then close: the server sees an orderly end. */
        gnutls_bye(c.s, GNUTLS_SHUT_WR);
    }

    gnutls_deinit(c.s);
    close(c.fd);
    if (!prime) {
        w->ok++;
        lat_push(w, t1 - t0, now_ms() - t0);
    } else {
        w->primes++;
    }
    return 0;

fail:
    gnutls_deinit(c.s);
    close(c.fd);
    return -1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    /* Resumed mode: one untimed full handshake to obtain a ticket.  Retried
     * a few times so a single failure does not turn the run into misses. */
    if (opt.mode == MODE_RESUMED) {
        for (int i = 0; i < 3 && !w->sdata.data && !past_deadline(); i++)
            if (one_connection(w, true) < 0)
                w->errors++;
    }
    while (!past_deadline()) {
        if (atomic_fetch_add(&started, 1) >= opt.max_conn)
            break;
        if (one_connection(w, false) < 0)
            w->errors++;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1) {
        fprintf(stderr, "tlsload: --host must be an IPv4 address\n");
        return 2;
    }

    if (gnutls_global_init() < 0 ||
        gnutls_certificate_allocate_credentials(&xcred) < 0)
        return 1;
    /* No certificate verification: the benchmark talks to its own
     * self-signed servers, and both servers are treated alike.  The
     * handshake signature itself is still checked by GnuTLS. */
    const char *ps = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
    if (opt.tls)
        ps = !strcmp(opt.tls, "1.3") ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                                     : "NORMAL:-VERS-ALL:+VERS-TLS1.2";
    const char *errpos;
    if (gnutls_priority_init(&prio, ps, &errpos) < 0) {
        fprintf(stderr, "tlsload: bad priority at %s\n", errpos);
        return 1;
    }

    struct worker *w = calloc((size_t)opt.conc, sizeof *w);
    if (!w)
        return 1;

    double start = now_ms();
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)opt.seconds;
    double frac = opt.seconds - (double)(time_t)opt.seconds;
    deadline.tv_nsec += (long)(frac * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    int nthreads = 0;
    for (int i = 0; i < opt.conc; i++) {
        w[i].id = i;
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "tlsload: pthread_create failed\n");
            break;
        }
        nthreads++;
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(w[i].tid, NULL);
    double elapsed = (now_ms() - start) / 1e3;

    long ok = 0, errors = 0, resumed = 0, misses = 0, primes = 0;
    long ec = 0, eh = 0, eg = 0, el = 0;
    size_t n = 0;
    for (int i = 0; i < nthreads; i++) {
        ok += w[i].ok;
        errors += w[i].errors;
        resumed += w[i].resumed;
        misses += w[i].misses;
        primes += w[i].primes;
        ec += w[i].err_connect;
        eh += w[i].err_handshake;
        eg += w[i].err_greeting;
        el += w[i].err_login;
        n += w[i].nlat;
    }
    /* Merged and sorted copies of both latency series. */
    double *all = malloc((n ? n : 1) * sizeof *all);
    double *sall = malloc((n ? n : 1) * sizeof *sall);
    size_t k = 0;
    for (int i = 0; i < nthreads && all && sall; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        memcpy(sall + k, w[i].slat, w[i].nlat * sizeof *sall);
        k += w[i].nlat;
    }
    if (!all || !sall)
        k = 0;
    qsort(all, k, sizeof *all, cmp_double);
    qsort(sall, k, sizeof *sall, cmp_double);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;

    printf("tlsload server=%s:%d mode=%s tls=%s conc=%d secs=%.2f "
           "rate=%.1f handshakes=%ld errors=%ld",
           opt.host, opt.port, opt.mode == MODE_FULL ? "full" : "resumed",
           opt.tls ? opt.tls : "any", nthreads, elapsed,
           elapsed > 0 ? ok / elapsed : 0.0, ok, errors);
    if (errors)
        printf(" (connect=%ld handshake=%ld greeting=%ld login=%ld)", ec, eh,
               eg, el);
    if (opt.mode == MODE_RESUMED)
        printf(" resumed=%ld misses=%ld primes=%ld", resumed, misses, primes);
    printf(" p50=%.3fms p99=%.3fms", percentile(all, k, 0.50),
           percentile(all, k, 0.99));
    if (opt.user)
        printf(" login=yes session_p50=%.3fms session_p99=%.3fms",
               percentile(sall, k, 0.50), percentile(sall, k, 0.99));
    printf(" client_cpu=%.2fs desc=%s\n", cpu,
           session_desc[0] ? session_desc : "-");

    for (int i = 0; i < nthreads; i++) {
        free(w[i].lat);
        free(w[i].slat);
        gnutls_free(w[i].sdata.data);
    }
    free(all);
    free(sall);
    free(w);
    gnutls_priority_deinit(prio);
    gnutls_certificate_free_credentials(xcred);
    gnutls_global_deinit();
    return ok > 0 && errors == 0 ? 0 : 1;
}
