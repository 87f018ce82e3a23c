/* The command table and the handlers, one file per command family. */
#ifndef IMAPSRV_IMAP_COMMANDS_H
#define IMAPSRV_IMAP_COMMANDS_H

#include "imap/session.h"

enum { /* states in which a command is valid */
       IN_NOTAUTH = 1u << SESS_NOTAUTH,
       IN_AUTH = 1u << SESS_AUTH,
       IN_SELECTED = 1u << SESS_SELECTED,
       IN_ANY = IN_NOTAUTH | IN_AUTH | IN_SELECTED,
       IN_LOGGED_IN = IN_AUTH | IN_SELECTED,
};

typedef enum cmd_result (*cmd_fn)(struct session *s, struct imap_command *cmd);

struct cmd_def {
    const char *name;
    unsigned states;
    cmd_fn fn; /* NULL: parsed, but not served by this build */
};

const struct cmd_def *command_def(enum imap_cmd_type type);

/* cmd_any.c */
enum cmd_result cmd_capability(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_logout(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_id(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_enable(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_starttls(struct session *s, struct imap_command *cmd);
/* cmd_auth.c */
enum cmd_result cmd_login(struct session *s, struct imap_command *cmd);
enum cmd_result cmd_authenticate(struct session *s, struct imap_command *cmd);
void auth_sasl_line(struct session *s, const char *line, size_t len);
void auth_sasl_abort(struct session *s, const char *why);
/* cmd_list.c */
enum cmd_result cmd_list(struct session *s, struct imap_command *cmd);

#endif
