/* A reactor exporting a resource through the canonical ABI by hand (no bindings generator):
 * constructor, methods (one returning a string with post-return), a static function taking
 * own and borrow handles, and a destructor that the host's drop runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IFACE "test:counter/counter@0.1.0"

struct counter {
    int32_t value;
};

static uint32_t live;

__attribute__((import_module("[export]" IFACE), import_name("[resource-new]counter")))
extern int32_t counter_new_handle(struct counter *rep);
__attribute__((import_module("[export]" IFACE), import_name("[resource-rep]counter")))
extern struct counter *counter_rep(int32_t handle);
__attribute__((import_module("[export]" IFACE), import_name("[resource-drop]counter")))
extern void counter_drop_handle(int32_t handle);

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align,
                                                               size_t newsz)
{
    (void)oldsz;
    (void)align;
    return realloc(old, newsz ? newsz : 1);
}

__attribute__((export_name(IFACE "#[constructor]counter"))) int32_t counter_ctor(int32_t start)
{
    struct counter *c = malloc(sizeof *c);
    c->value = start;
    live++;
    return counter_new_handle(c);
}

/* borrow<counter> of our own resource arrives as the rep */
__attribute__((export_name(IFACE "#[method]counter.add"))) int32_t counter_add(struct counter *c,
                                                                              int32_t n)
{
    c->value += n;
    return c->value;
}

static char *ret_area[2];

__attribute__((export_name(IFACE "#[method]counter.describe"))) char **counter_describe(
    struct counter *c, char *prefix, size_t len)
{
    char *s = malloc(len + 32);
    int n = snprintf(s, len + 32, "%.*s=%d", (int)len, prefix, (int)c->value);
    free(prefix);
    ret_area[0] = s;
    ret_area[1] = (char *)(uintptr_t)n;
    return ret_area;
}

__attribute__((export_name("cabi_post_" IFACE "#[method]counter.describe"))) void counter_describe_post(
    char **ret)
{
    free(ret[0]);
}

/* own<counter> arrives as a handle, which we consume; borrow as the rep */
__attribute__((export_name(IFACE "#[static]counter.merge"))) int32_t counter_merge(int32_t a,
                                                                                  struct counter *b)
{
    struct counter *ca = counter_rep(a);
    int32_t sum = ca->value + b->value;
    counter_drop_handle(a); /* runs the destructor */
    return counter_ctor(sum);
}

__attribute__((export_name(IFACE "#[dtor]counter"))) void counter_dtor(struct counter *c)
{
    live--;
    free(c);
}

__attribute__((export_name(IFACE "#live"))) uint32_t counter_live(void)
{
    return live;
}
