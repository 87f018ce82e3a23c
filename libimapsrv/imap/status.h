/* STATUS data of a mailbox, for STATUS and LIST-STATUS: from the store's
 * status hook, or counted from its message list when it has none. */
#ifndef IMAPSRV_IMAP_STATUS_H
#define IMAPSRV_IMAP_STATUS_H

#include "imap/session.h"

typedef void (*status_cb)(struct session *s, const char *name, unsigned items,
                          imapsrv_status st, const imapsrv_mailbox_status *ms,
                          void *ctx);

/* Ask for name's status (name is taken over); cb runs once, perhaps before
 * this returns. */
void status_start(struct session *s, char *name, unsigned items, status_cb cb,
                  void *ctx);
/* "* STATUS name (ITEM n ...)" for the items asked (enum status_item). */
void status_write(struct session *s, const char *name, unsigned items,
                  const imapsrv_mailbox_status *ms);

#endif
