#include "imap/capability.h"

#include "imap/session.h"

/* Only what this build serves is advertised: clients act on every word. */
void capability_write(const struct session *s, struct wbuf *w)
{
    wbuf_puts(w, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE");
    if (s->env->have_store) {
        wbuf_puts(w, " IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN"
                     " LIST-EXTENDED LIST-STATUS SPECIAL-USE"
                     " CREATE-SPECIAL-USE ESEARCH SEARCHRES STATUS=SIZE"
                     " BINARY");
        wbuf_printf(w, " APPENDLIMIT=%llu",
                    (unsigned long long)s->lim->max_append);
    }
    if (s->state != SESS_NOTAUTH)
        return;
    if (s->pol->tls && !s->tls && s->lst->tls == IMAPSRV_TLS_STARTTLS)
        wbuf_puts(w, " STARTTLS");
    if (session_password_allowed(s))
        wbuf_puts(w, " AUTH=PLAIN AUTH=LOGIN");
    if (s->lst->auth_client_cert && s->cert_status == TLS_CERT_VALID)
        wbuf_puts(w, " AUTH=EXTERNAL");
    if (!session_password_allowed(s))
        wbuf_puts(w, " LOGINDISABLED");
}
