#include "core/arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t off;
    alignas(max_align_t) unsigned char data[];
};

static struct arena_block *block_new(size_t size)
{
    struct arena_block *b = malloc(sizeof(*b) + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->off = 0;
    }
    return b;
}

void arena_init(struct arena *a, size_t first_size, size_t limit)
{
    a->head = NULL;
    a->first_size = first_size ? first_size : 1024;
    a->limit = limit;
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    size_t need = (n + align - 1) & ~(align - 1);
    if (need < n)
        return NULL;
    if (a->limit && (a->used + need > a->limit || a->used + need < a->used))
        return NULL;
    struct arena_block *b = a->head;
    if (!b || b->size - b->off < need) {
        size_t size = b ? b->size * 2 : a->first_size;
        while (size < need)
            size *= 2;
        struct arena_block *nb = block_new(size);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->off;
    b->off += need;
    a->used += need;
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (n + 1 == 0)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void arena_reset(struct arena *a)
{
    struct arena_block *b = a->head;
    /* Keep only the oldest (first, smallest) block. */
    while (b && b->next) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = b;
    if (b)
        b->off = 0;
    a->used = 0;
}

void arena_free(struct arena *a)
{
    arena_reset(a);
    free(a->head);
    a->head = NULL;
}
