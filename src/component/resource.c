/* Handle tables (CanonicalABI.md "Handle State"): index 0 is never a valid handle; freed slots
 * are reused through a free list, as the spec's table does, so a stale handle may name a new
 * resource of another type — which is why every use checks the entry's resource type. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void wasitls__htable_init(wasitls__htable *t)
{
    memset(t, 0, sizeof(*t));
}

void wasitls__htable_free(wasitls__htable *t)
{
    free(t->h);
    memset(t, 0, sizeof(*t));
}

uint32_t wasitls__htable_add(wasitls__htable *t, const wasitls__handle *h)
{
    uint32_t i;
    if (t->free_head) {
        i = t->free_head;
        t->free_head = t->h[i].next_free;
    } else {
        if (t->len == 0) t->len = 1; /* slot 0 reserved */
        if (t->len >= WASITLS__MAX_HANDLES) return 0;
        if (t->len >= t->cap) {
            uint32_t cap = t->cap ? t->cap * 2 : 16;
            wasitls__handle *n = realloc(t->h, (size_t)cap * sizeof(*n));
            if (!n) return 0;
            memset(n + t->cap, 0, (size_t)(cap - t->cap) * sizeof(*n));
            t->h = n;
            t->cap = cap;
        }
        i = t->len++;
    }
    t->h[i] = *h;
    t->h[i].next_free = 0;
    return i;
}

wasitls__handle *wasitls__htable_get(wasitls__htable *t, uint32_t i)
{
    if (i == 0 || i >= t->len || !t->h[i].rt) return NULL;
    return &t->h[i];
}

void wasitls__htable_remove(wasitls__htable *t, uint32_t i)
{
    if (i == 0 || i >= t->len || !t->h[i].rt) return;
    memset(&t->h[i], 0, sizeof(t->h[i]));
    if (t->no_reuse) return;
    t->h[i].next_free = t->free_head;
    t->free_head = i;
}
