/* external-loop: libimapsrv inside the host's own poll() loop.
 *
 *     external-loop PORT
 *
 * Serves IMAP on 127.0.0.1:PORT from the in-memory demo store (user demo,
 * password demo).  In IMAPSRV_RUN_EXTERNAL mode the library makes no
 * threads: the host polls one file descriptor, with the timeout the library
 * asks for, and calls imapsrv_process() after each wake-up.  The same three
 * calls fit a glib, libuv or firmware main loop.  SIGTERM and SIGINT reach
 * the loop through a self-pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imapsrv.h"
#include "memstore/memstore.h"

/* The write end of the self-pipe, for the signal handler. */
static int signal_fd = -1;

static void on_signal(int sig)
{
    int saved = errno;

    if (write(signal_fd, "", 1) < 0) {
        /* Full pipe: a wake-up is pending anyway. */
    }
    errno = saved;
}

/* Compare over the longer length without an early exit, so that the time
 * taken says nothing about where the first difference is. */
static bool equal_ct(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen > blen ? alen : blen;
    volatile unsigned char diff = alen != blen;

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < alen ? a[i] : 0) ^ (i < blen ? b[i] : 0));
    return diff == 0;
}

static imapsrv_status check_password(void *ud, imapsrv_op *op,
                                     const imapsrv_auth_request *req)
{
    /* Both compares always run, so a wrong name costs what a wrong
     * password does. */
    bool user_ok = equal_ct(req->authcid, strlen(req->authcid), "demo", 4);
    bool pass_ok = equal_ct(req->password, req->password_len, "demo", 4);

    return user_ok && pass_ok ? IMAPSRV_OK : IMAPSRV_E_AUTHFAILED;
}

static void log_line(void *ud, imapsrv_log_level level, const char *event,
                     const char *line)
{
    fprintf(stderr, "%s: %s\n", event, line);
}

static int serve(imapsrv *srv, int sig_rd)
{
    for (;;) {
        struct pollfd fds[2] = {
            {.fd = imapsrv_get_fd(srv), .events = POLLIN},
            {.fd = sig_rd, .events = POLLIN},
        };
        imapsrv_status st;

        if (poll(fds, 2, imapsrv_next_timeout_ms(srv)) < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        if (fds[1].revents)
            return 0; /* SIGTERM or SIGINT */
        /* Readable fd, due timer or spurious wake-up: all the same. */
        if ((st = imapsrv_process(srv)) != IMAPSRV_OK) {
            fprintf(stderr, "imapsrv_process: %s\n", imapsrv_strerror(st));
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    imapsrv_auth_hooks auth = {.size = sizeof auth, .password = check_password};
    imapsrv_store_hooks store;
    imapsrv_options opts;
    imapsrv_config *cfg = NULL;
    imapsrv *srv = NULL;
    memstore *ms = NULL;
    struct sigaction sa = {.sa_handler = on_signal};
    imapsrv_status st = IMAPSRV_E_NOMEM;
    int pipefd[2], port = 0, rc = 1;
    char *end;
    long p = argc == 2 ? strtol(argv[1], &end, 10) : 0;

    if (argc != 2 || *end || p < 1 || p > 65535) {
        fprintf(stderr, "usage: external-loop PORT\n");
        return 2;
    }
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror("pipe2");
        return 1;
    }
    signal_fd = pipefd[1];
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((ms = memstore_new()) && memstore_load_demo(ms, "demo") == IMAPSRV_OK &&
        imapsrv_config_new(&cfg) == IMAPSRV_OK &&
        (st = imapsrv_config_set(cfg, "imap.port", argv[1])) == IMAPSRV_OK &&
        (st = imapsrv_config_set(cfg, "imap.address", "127.0.0.1")) ==
            IMAPSRV_OK) {
        memstore_hooks(ms, &store);
        imapsrv_options_init(&opts);
        opts.run_mode = IMAPSRV_RUN_EXTERNAL;
        opts.log = log_line;
        opts.auth = &auth;
        opts.store = &store;
        if ((st = imapsrv_create(cfg, &opts, &srv)) == IMAPSRV_OK)
            st = imapsrv_start(srv);
    }
    if (st == IMAPSRV_OK) {
        imapsrv_listener_port(srv, "imap", &port);
        printf("listening on 127.0.0.1:%d\n", port);
        fflush(stdout);
        rc = serve(srv, pipefd[0]);
        /* In this mode shutdown drives the loop itself until the BYEs
         * are out (or the grace time is over). */
        imapsrv_shutdown(srv, 2000, "Server shutting down");
    } else {
        const char *why = cfg ? imapsrv_config_last_error(cfg) : NULL;

        fprintf(stderr, "external-loop: %s\n",
                why && *why ? why : imapsrv_strerror(st));
    }
    imapsrv_destroy(&srv);
    imapsrv_config_destroy(&cfg);
    memstore_free(&ms);
    close(pipefd[0]);
    close(pipefd[1]);
    return rc;
}
