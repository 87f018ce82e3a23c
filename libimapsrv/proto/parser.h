/* Parser for one complete command as framed by the framer.  Pure: no I/O, no
 * allocation but from the arena it is given. */
#ifndef IMAPSRV_PROTO_PARSER_H
#define IMAPSRV_PROTO_PARSER_H

#include "core/arena.h"
#include "proto/command.h"

enum parse_result {
    PARSE_OK = 0,
    PARSE_BAD,     /* syntax error: answer "<tag> BAD <err>" */
    PARSE_BAD_TAG, /* no valid tag: answer "* BAD <err>" */
    PARSE_UNKNOWN, /* valid tag, unknown command name: "<tag> BAD <err>" */
    PARSE_NOMEM,
    PARSE_MORE, /* parser_parse_append_head: ask again at the next literal */
};

struct parser_limits {
    unsigned max_depth; /* nesting of parentheses (SEARCH, ...): default 16 */
    unsigned max_items; /* list elements in one list: default 10000 */
};

/* Parse buf[0..len) (a command exactly as framed, final CRLF included).
 * On PARSE_BAD/PARSE_UNKNOWN cmd->tag is filled (and, on PARSE_BAD, type and
 * uid as far as the name was recognised); *err_r points to a static or
 * arena string saying what is wrong (one line, no CR/LF, client data cut to
 * 40 printable bytes).  Strings point into the arena, except APPEND's
 * message, which points into buf. */
enum parse_result parser_parse(const char *buf, size_t len,
                               const struct parser_limits *lim, struct arena *a,
                               struct imap_command *cmd_r, const char **err_r);

/* Parse the head of an APPEND whose message is streamed: buf[0..len) is
 * what framer_command_so_far() gives at an FR_LITERAL of an APPEND, so it
 * ends with a literal announcement ("{n}\r\n", {n+}, {n-}, ~{n}).
 *
 * PARSE_OK: that literal is the message.  cmd_r->type is CMD_APPEND and
 * u.append is filled (mailbox, flags, date, binary for ~{n}) except that
 * u.append.message.s is NULL and u.append.message.len is the announced size.
 * PARSE_MORE: that literal is an earlier argument (the mailbox name sent as
 * a literal); accept it as usual and ask again at the next FR_LITERAL.
 * cmd_r->tag is filled.
 * Otherwise as parser_parse(): PARSE_BAD etc. for a syntax error already
 * visible, with the tag and *err_r; a command other than APPEND is
 * PARSE_BAD ("Not an APPEND command").
 *
 * After the streamed message the only valid continuation is an empty line
 * (no MULTIAPPEND, nothing after the literal): the FR_COMMAND buffer must be
 * this buf followed by just a line end, i.e. end with "}\r\n\r\n".  The
 * session checks that (anything else is BAD).  Its length is the surest
 * check: exactly len + 2 ("\r\n"; len + 1 for a bare "\n", which the parser
 * takes as a line end elsewhere), since a later literal ending in "}\r\n"
 * followed by an empty line also ends in "}\r\n\r\n". */
enum parse_result parser_parse_append_head(const char *buf, size_t len,
                                           const struct parser_limits *lim,
                                           struct arena *a,
                                           struct imap_command *cmd_r,
                                           const char **err_r);

/* Parse a date-time as APPEND takes it ("17-Jul-1996 02:44:25 -0700"), and a
 * date as SEARCH does; exposed for tests and for the stores.  Surrounding
 * DQUOTEs are allowed.  parser_datetime() also takes a bare date-text
 * (midnight UTC, tz_min 0); parser_date() takes only a date-text. */
bool parser_datetime(const char *s, size_t len, struct imap_datetime *dt_r);
bool parser_date(const char *s, size_t len, struct imap_date *d_r);

#endif
