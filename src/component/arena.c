/* Bump allocator and growable vectors for the component layer. Parsed components, elaborated
 * types and per-call values are short-lived graphs freed all at once, so they live in arenas. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct wasitls__achunk {
    wasitls__achunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN (64u * 1024u)

void wasitls__arena_init(wasitls__arena *a)
{
    a->head = NULL;
    a->total = 0;
    a->limit = 0;
}

void *wasitls__arena_alloc(wasitls__arena *a, size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (a->limit && a->total + n > a->limit) return NULL;
    wasitls__achunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        wasitls__achunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && n > CHUNK_MIN) {
            /* a big block: keep the current chunk in front for small allocations */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

void *wasitls__arena_array(wasitls__arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return wasitls__arena_alloc(a, n * size);
}

char *wasitls__arena_strndup(wasitls__arena *a, const char *s, size_t n)
{
    char *p = wasitls__arena_alloc(a, n + 1);
    if (p && n) memcpy(p, s, n);
    return p;
}

char *wasitls__arena_printf(wasitls__arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = wasitls__arena_alloc(a, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void wasitls__arena_reset(wasitls__arena *a)
{
    size_t limit = a->limit;
    wasitls__arena_free(a);
    a->limit = limit;
}

void wasitls__arena_rewind(wasitls__arena *a)
{
    /* keep one chunk: calls that allocate a little reuse it without touching malloc */
    wasitls__achunk *keep = NULL, *c = a->head;
    while (c) {
        wasitls__achunk *n = c->next;
        if (!keep && c->cap == CHUNK_MIN)
            keep = c;
        else
            free(c);
        c = n;
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->total = 0;
}

void wasitls__arena_free(wasitls__arena *a)
{
    wasitls__achunk *c = a->head;
    while (c) {
        wasitls__achunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

void wasitls__vec_init(wasitls__vec *v, size_t isize)
{
    v->items = NULL;
    v->len = v->cap = 0;
    v->isize = isize;
}

void *wasitls__vec_push(wasitls__vec *v)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        if (cap > SIZE_MAX / v->isize) return NULL;
        void *p = realloc(v->items, cap * v->isize);
        if (!p) return NULL;
        v->items = p;
        v->cap = cap;
    }
    void *slot = (unsigned char *)v->items + v->len * v->isize;
    memset(slot, 0, v->isize);
    v->len++;
    return slot;
}

void wasitls__vec_free(wasitls__vec *v)
{
    free(v->items);
    v->items = NULL;
    v->len = v->cap = 0;
}
