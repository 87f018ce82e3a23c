/* A client connection: a non-blocking socket with an input buffer and an
 * output buffer, driven by its loop.  The owner (the IMAP session) gets the
 * input through on_data and may pause it while a hook works; it writes into
 * `out`, which is flushed once per loop turn, so a pipelined batch costs one
 * read and one write.  Knows nothing of IMAP.
 *
 * Idle connections hold no buffers: both are released when empty. */
#ifndef IMAPSRV_NET_CONN_H
#define IMAPSRV_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/loop.h"
#include "net/tls.h"
#include "proto/writer.h"

struct conn;

struct conn_handler {
    /* Input arrived; return how many bytes were consumed (the rest is kept
     * and offered again when more arrives or on conn_resume). */
    size_t (*on_data)(void *owner, const char *data, size_t len);
    /* The connection is gone (peer closed, error, or conn_close finished).
     * The owner must not touch the conn after this. */
    void (*on_close)(void *owner);
    /* The TLS handshake finished: ok, or failed (err says why; the
     * connection closes right after). */
    void (*on_secure)(void *owner, bool ok, const char *err);
    /* After conn_want_drain(): the queued output went below the low-water
     * mark (called from the loop, never from within the owner's calls). */
    void (*on_drain)(void *owner);
};

enum conn_tls_state {
    CONN_PLAIN,
    CONN_TLS_AFTER_FLUSH, /* STARTTLS: handshake once the OK is sent */
    CONN_TLS_HANDSHAKE,
    CONN_TLS_ON,
};

struct conn {
    struct loop *loop;
    struct loop_io io;
    struct wbuf out;
    char *in;
    size_t in_len, in_cap;
    const struct conn_handler *h;
    void *owner;
    bool paused;  /* owner wants no input now */
    bool closing; /* flush what is queued, then close */
    bool closed;
    bool delivering;
    bool want_drain;
    struct loop_task free_task;
    enum conn_tls_state tls_state;
    struct tls_conn *tls;
    struct tls_ctx *tls_ctx; /* referenced while the connection lives */
    bool tls_request_cert;
    char peer[64];  /* numeric address of the client */
    char local[64]; /* numeric local address */
    int local_port;
};

/* Wrap an accepted socket; registers it in the loop. NULL on failure (the
 * fd is closed then). */
struct conn *conn_new(struct loop *lp, int fd, const struct conn_handler *h,
                      void *owner);
void conn_set_owner(struct conn *c, const struct conn_handler *h, void *owner);

void conn_pause(struct conn *c);
/* Offer buffered input again (from a timer or task, never from on_data). */
void conn_resume(struct conn *c);
/* Send what is queued now if the socket takes it. */
void conn_flush(struct conn *c);
/* Drop unread input (nothing a client pipelined may survive STARTTLS). */
void conn_discard_input(struct conn *c);
/* Switch to TLS.  after_flush: first send what is queued in plaintext
 * (STARTTLS's OK); otherwise queued output waits for the handshake (the
 * greeting of an implicit-TLS port).  Unread input is dropped either way:
 * nothing sent before the handshake may be read as a command. */
void conn_start_tls(struct conn *c, struct tls_ctx *ctx, bool request_cert,
                    bool after_flush);
bool conn_secure(const struct conn *c);

/* Close after the queued output is sent (bounded by the owner's timers). */
void conn_close(struct conn *c);
/* Close at once, dropping queued output. */
void conn_abort(struct conn *c);

size_t conn_out_pending(const struct conn *c);
/* Call on_drain once the queued output is small again. */
void conn_want_drain(struct conn *c);

#endif
