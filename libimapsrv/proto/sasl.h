/* Server side of the SASL mechanisms behind AUTHENTICATE (RFC 9051 6.2.2,
 * SASL-IR RFC 4959): PLAIN (RFC 4616), LOGIN (the common non-standard one)
 * and EXTERNAL (RFC 4422 appendix A).  A pure state machine: it decodes the
 * client's responses and extracts the identities; deciding whether they are
 * good is the host's job. */
#ifndef IMAPSRV_PROTO_SASL_H
#define IMAPSRV_PROTO_SASL_H

#include <stdbool.h>
#include <stddef.h>

#define SASL_ID_MAX 255        /* authzid, authcid: bytes, no NUL */
#define SASL_PASSWORD_MAX 1023 /* password: bytes, no NUL */

enum sasl_mech { SASL_PLAIN, SASL_LOGIN, SASL_EXTERNAL };

/* Case-insensitive; false for an unknown name. */
bool sasl_mech_from_name(const char *name, enum sasl_mech *m_r);
/* "PLAIN", "LOGIN", "EXTERNAL". */
const char *sasl_mech_name(enum sasl_mech m);

struct sasl {
    enum sasl_mech mech;
    int step; /* 0 before the first call, then the number of the
                 response expected next; -1 once finished */
    /* Valid on SASL_COMPLETE; all NUL-terminated UTF-8.  PLAIN fills
     * authzid (may be empty), authcid, password; LOGIN authcid and
     * password; EXTERNAL only authzid (may be empty: the identity then comes
     * from the TLS client certificate). */
    char authzid[SASL_ID_MAX + 1], authcid[SASL_ID_MAX + 1];
    char password[SASL_PASSWORD_MAX + 1];
    size_t password_len;
};

enum sasl_status {
    SASL_CHALLENGE, /* send "+ " *challenge_r CRLF and wait for a line */
    SASL_COMPLETE,  /* identities are ready for the host's auth hook */
    SASL_MALFORMED, /* answer BAD; secrets already cleared */
    SASL_CANCELLED, /* client sent "*": answer BAD; secrets cleared */
};

void sasl_begin(struct sasl *s, enum sasl_mech m);

/* Feed one client response: resp[0..len) is the base64 text exactly as
 * received, without CRLF.  present=false means AUTHENTICATE came without an
 * initial response (allowed on the first step only).  As an initial
 * response "=" is the empty response (SASL-IR); a response "*" cancels.
 * On SASL_CHALLENGE *challenge_r is the base64 challenge to send (static,
 * may be ""); otherwise it is set to NULL.  Any step after the exchange has
 * finished gives SASL_MALFORMED. */
enum sasl_status sasl_step(struct sasl *s, const char *resp, size_t len,
                           bool present, const char **challenge_r);

/* Zero the whole struct, password included, in a way the compiler may not
 * drop.  Call it as soon as the host has seen the credentials. */
void sasl_wipe(struct sasl *s);

#endif
