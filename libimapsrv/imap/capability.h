#ifndef IMAPSRV_IMAP_CAPABILITY_H
#define IMAPSRV_IMAP_CAPABILITY_H

#include "imap/session.h"
#include "proto/writer.h"

/* The capability list for this connection in its current state and under
 * its listener's policy, space-separated, without a prefix. */
void capability_write(const struct session *s, struct wbuf *w);

#endif
