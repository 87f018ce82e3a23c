/* SASL server mechanisms: see sasl.h. */
#include "proto/sasl.h"

#include <string.h>

#include "proto/base64.h"
#include "proto/mutf7.h"

/* Largest decoded PLAIN message: authzid NUL authcid NUL passwd. */
#define SASL_MSG_MAX (SASL_ID_MAX + 1 + SASL_ID_MAX + 1 + SASL_PASSWORD_MAX)

#define SASL_DONE (-1)

/* base64 of "Username:" and "Password:" */
static const char sasl_login_user[] = "VXNlcm5hbWU6";
static const char sasl_login_pass[] = "UGFzc3dvcmQ6";

#if defined(HAVE_EXPLICIT_BZERO) ||                                            \
    (defined(__GLIBC__) && defined(_DEFAULT_SOURCE) &&                         \
     (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))) ||          \
    defined(__OpenBSD__) || defined(__FreeBSD__)
#define sasl_bzero explicit_bzero
#else
/* A volatile function pointer: the compiler cannot prove the call is a
 * plain memset of a dead object, so it cannot drop it. */
static void *(*const volatile sasl_memset)(void *, int, size_t) = memset;

static void sasl_bzero(void *p, size_t n)
{
    sasl_memset(p, 0, n);
}
#endif

static const char *const sasl_names[] = {
    [SASL_PLAIN] = "PLAIN",
    [SASL_LOGIN] = "LOGIN",
    [SASL_EXTERNAL] = "EXTERNAL",
};

static bool sasl_name_eq(const char *a, const char *upper)
{
    for (; *a != '\0' && *upper != '\0'; a++, upper++) {
        char c = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
        if (c != *upper)
            return false;
    }
    return *a == *upper;
}

bool sasl_mech_from_name(const char *name, enum sasl_mech *m_r)
{
    for (size_t i = 0; i < sizeof(sasl_names) / sizeof(sasl_names[0]); i++) {
        if (sasl_name_eq(name, sasl_names[i])) {
            *m_r = (enum sasl_mech)i;
            return true;
        }
    }
    return false;
}

const char *sasl_mech_name(enum sasl_mech m)
{
    if ((unsigned)m >= sizeof(sasl_names) / sizeof(sasl_names[0]))
        return NULL;
    return sasl_names[m];
}

void sasl_begin(struct sasl *s, enum sasl_mech m)
{
    memset(s, 0, sizeof(*s));
    s->mech = m;
}

void sasl_wipe(struct sasl *s)
{
    sasl_bzero(s, sizeof(*s));
}

static enum sasl_status sasl_finish(struct sasl *s, enum sasl_status st)
{
    if (st != SASL_COMPLETE) {
        sasl_bzero(s->authzid, sizeof(s->authzid));
        sasl_bzero(s->authcid, sizeof(s->authcid));
        sasl_bzero(s->password, sizeof(s->password));
        s->password_len = 0;
    }
    s->step = SASL_DONE;
    return st;
}

/* One identity or password field: min..max bytes of UTF-8 without NUL. */
static bool sasl_field(const char *p, size_t n, size_t min, size_t max)
{
    return n >= min && n <= max && memchr(p, '\0', n) == NULL &&
           utf8_valid(p, n);
}

static void sasl_copy(char *dst, const char *p, size_t n)
{
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* RFC 4616: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
static enum sasl_status sasl_plain(struct sasl *s, const char *msg, size_t n)
{
    const char *nul1 = memchr(msg, '\0', n);
    if (nul1 == NULL)
        return SASL_MALFORMED;
    const char *cid = nul1 + 1;
    const char *nul2 = memchr(cid, '\0', n - (size_t)(cid - msg));
    if (nul2 == NULL)
        return SASL_MALFORMED;
    const char *pw = nul2 + 1;
    size_t zlen = (size_t)(nul1 - msg), clen = (size_t)(nul2 - cid);
    size_t plen = n - (size_t)(pw - msg);

    /* sasl_field() also refuses a third NUL inside the password. */
    if (!sasl_field(msg, zlen, 0, SASL_ID_MAX) ||
        !sasl_field(cid, clen, 1, SASL_ID_MAX) ||
        !sasl_field(pw, plen, 1, SASL_PASSWORD_MAX))
        return SASL_MALFORMED;
    sasl_copy(s->authzid, msg, zlen);
    sasl_copy(s->authcid, cid, clen);
    sasl_copy(s->password, pw, plen);
    s->password_len = plen;
    return SASL_COMPLETE;
}

enum sasl_status sasl_step(struct sasl *s, const char *resp, size_t len,
                           bool present, const char **challenge_r)
{
    char msg[SASL_MSG_MAX + 1];
    size_t n = 0;
    enum sasl_status st;
    bool initial = s->step == 0;

    *challenge_r = NULL;
    if (s->step == SASL_DONE)
        return SASL_MALFORMED;
    if (!present) {
        if (!initial)
            return sasl_finish(s, SASL_MALFORMED);
        /* No initial response: ask for the first one. */
        s->step = 1;
        *challenge_r = s->mech == SASL_LOGIN ? sasl_login_user : "";
        return SASL_CHALLENGE;
    }
    if (len == 1 && resp[0] == '*')
        return sasl_finish(s, SASL_CANCELLED);
    /* "=" is the empty initial response; later an empty line is. */
    if (!(initial && len == 1 && resp[0] == '=') &&
        !base64_decode(resp, len, msg, sizeof(msg), &n)) {
        sasl_bzero(msg, sizeof(msg)); /* may hold a partial decode */
        return sasl_finish(s, SASL_MALFORMED);
    }
    if (initial)
        s->step = 1; /* the initial response stands for the first one */

    switch (s->mech) {
    case SASL_PLAIN: st = sasl_plain(s, msg, n); break;
    case SASL_LOGIN:
        if (s->step == 1) {
            if (!sasl_field(msg, n, 1, SASL_ID_MAX)) {
                st = SASL_MALFORMED;
                break;
            }
            sasl_copy(s->authcid, msg, n);
            s->step = 2;
            *challenge_r = sasl_login_pass;
            return SASL_CHALLENGE; /* msg holds no secret */
        }
        if (!sasl_field(msg, n, 1, SASL_PASSWORD_MAX)) {
            st = SASL_MALFORMED;
            break;
        }
        sasl_copy(s->password, msg, n);
        s->password_len = n;
        st = SASL_COMPLETE;
        break;
    case SASL_EXTERNAL:
        st =
            sasl_field(msg, n, 0, SASL_ID_MAX) ? SASL_COMPLETE : SASL_MALFORMED;
        if (st == SASL_COMPLETE)
            sasl_copy(s->authzid, msg, n);
        break;
    default: st = SASL_MALFORMED; break;
    }
    sasl_bzero(msg, sizeof(msg));
    return sasl_finish(s, st);
}
