/* conffile: a small parser for "key = value" configuration files.
 *
 * Syntax, one setting a line:
 *     # a comment (at the start of a line, or after whitespace)
 *     key = value          whitespace around key and value is trimmed
 *     key = "a # value"    double quotes keep spaces and '#'; inside them
 *                          \" and \\ stand for " and \
 * Blank lines are ignored; CRLF line ends and a UTF-8 BOM are accepted.
 * Keys are [A-Za-z0-9._-]+.  The parser knows no keys: it hands each one to
 * the caller, and goes on after a syntax error so that every problem of a
 * file can be reported in one run.  An error message quotes the offending
 * text, except what follows '=' on a line that mentions a password or
 * secret.
 */
#ifndef IMAPSRVD_CONFFILE_H
#define IMAPSRVD_CONFFILE_H

#include <stddef.h>

typedef struct conffile_handler {
    /* One setting, in file order. */
    void (*entry)(void *ctx, const char *file, unsigned line, const char *key,
                  const char *value);
    /* One syntax problem; `message` quotes the text, without file:line. */
    void (*error)(void *ctx, const char *file, unsigned line,
                  const char *message);
    void *ctx;
} conffile_handler;

/* Parse `len` bytes of text named `file` (for messages).  Returns the number
 * of syntax errors reported. */
size_t conffile_parse(const char *file, const char *text, size_t len,
                      const conffile_handler *h);

/* Read and parse a file.  A file that cannot be read is one error, with
 * line 0. */
size_t conffile_parse_file(const char *path, const conffile_handler *h);

/* Split one "key = value" (as a file line, or a -o argument) in place with
 * the rules above.  Returns NULL on success, with *key_r and *value_r
 * pointing into `buf`; else a static description of the problem. */
const char *conffile_split(char *buf, char **key_r, char **value_r);

#endif
