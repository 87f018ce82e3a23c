/* users: the example daemon's passwd-like user table.
 *
 * One user a line:
 *     name:{PLAIN}secret
 *     name:{CRYPT}$6$salt$hash        (any crypt(3) hash: $y$, $6$, $2b$...)
 * Lines starting with '#' (after optional whitespace) and blank lines are
 * ignored; a trailing CR is dropped.  The secret is the rest of the line,
 * spaces included.  Error messages name the file, the line and at most the
 * user name: never a password or hash.
 */
#ifndef IMAPSRVD_USERS_H
#define IMAPSRVD_USERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct users users;

/* One problem of a users file; `message` has no file:line prefix. */
typedef void (*users_error_fn)(void *ctx, const char *file, unsigned line,
                               const char *message);

/* NULL when out of memory. */
users *users_new(void);
void users_free(users **u);

/* Add the users of `len` bytes of text named `file`.  Bad lines are
 * reported and skipped; a duplicate name keeps the first entry.  Returns
 * the number of errors. */
size_t users_parse(users *u, const char *file, const char *text, size_t len,
                   users_error_fn err, void *ctx);
/* The same for a file; a file that cannot be read is one error (line 0). */
size_t users_load_file(users *u, const char *path, users_error_fn err,
                       void *ctx);

size_t users_count(const users *u);

bool users_exists(const users *u, const char *name);

/* Does `password` (len bytes) belong to `name`?  {PLAIN} compares in
 * constant time; {CRYPT} hashes with crypt_r and compares the result in
 * constant time.  Thread-safe on a table no longer being changed. */
bool users_verify(const users *u, const char *name, const char *password,
                  size_t len);

/* Equal contents and lengths, in a time that depends only on the longer
 * length (no early exit). */
bool users_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
