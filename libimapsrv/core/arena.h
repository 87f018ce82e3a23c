/* Per-command arena: many small allocations, one release.  Blocks grow
 * geometrically; arena_reset() keeps the first block for the next command so
 * a steady stream of small commands allocates nothing. */
#ifndef IMAPSRV_CORE_ARENA_H
#define IMAPSRV_CORE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head; /* current block; older ones chained behind */
    size_t first_size;        /* size of the block kept across resets */
    size_t limit;             /* total bytes allowed, 0 = unlimited */
    size_t used;              /* bytes handed out since the last reset */
};

void arena_init(struct arena *a, size_t first_size, size_t limit);
/* NULL when out of memory or over the limit. Aligned for any type. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
/* Copy n bytes and add a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
