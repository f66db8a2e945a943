/* A reactor exporting a resource (constructor, methods, destructor) with hand-written canonical
 * ABI names: a reference for building such components with wasitls_add_guest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IFACE "wasitls-test:res/counters"

/* Resources this component defines are reached through the canonical built-ins imported from
 * the "[export]<interface>" module; borrows of them arrive as the rep (our pointer). */
__attribute__((import_module("[export]" IFACE),
               import_name("[resource-new]counter"))) extern int32_t
counter_new_handle(int32_t rep);

struct counter {
    uint32_t value;
};

static uint32_t live;

__attribute__((export_name(IFACE "#[constructor]counter"))) int32_t counter_ctor(uint32_t start)
{
    struct counter *c = malloc(sizeof *c);
    if (c == NULL) abort();
    c->value = start;
    live++;
    return counter_new_handle((int32_t)(uintptr_t)c);
}

__attribute__((export_name(IFACE "#[method]counter.add"))) uint32_t counter_add(struct counter *c,
                                                                                uint32_t n)
{
    return c->value += n;
}

static struct {
    char *ptr;
    size_t len;
} describe_ret;

__attribute__((export_name(IFACE "#[method]counter.describe"))) void *
counter_describe(struct counter *c)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "counter at %u", (unsigned)c->value);
    describe_ret.ptr = strdup(buf);
    describe_ret.len = (size_t)n;
    return &describe_ret;
}

__attribute__((export_name("cabi_post_" IFACE "#[method]counter.describe"))) void
counter_describe_post(void *ret)
{
    free(describe_ret.ptr);
}

__attribute__((export_name(IFACE "#[dtor]counter"))) void counter_dtor(struct counter *c)
{
    live--;
    free(c);
}

__attribute__((export_name(IFACE "#live"))) uint32_t counters_live(void)
{
    return live;
}

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old, size_t align,
                                                                size_t size)
{
    return realloc(ptr, size);
}
