#include "imap/capability.h"

/* Only what this build serves is advertised: clients act on every word. */
void capability_write(const struct session *s, struct wbuf *w)
{
    wbuf_puts(w, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE");
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
