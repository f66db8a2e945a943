/* A componentize-js component (built by the suite with the pinned npm packages) called from a C
 * host: each answer must equal what jco transpile + Node give for the same inputs
 * (js/expected.mjs prints those, in the same canonical text as fmt() below).
 *   test_component_js COMPONENT.wasm EXPECTED.txt */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls/component.h"
#include "t.h"

typedef struct sb {
    char b[8192];
    size_t n;
} sb;

static void add(sb *s, const char *fmt, ...) WASITLS_PRINTF(2, 3);
static void add(sb *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->b + s->n, sizeof s->b - s->n, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < sizeof s->b - s->n);
    s->n += (size_t)n;
}

static void fmt(sb *s, const wasitls_cval *v)
{
    switch (v->kind) {
    case WASITLS_CV_BOOL:
        add(s, "%s", v->of.b ? "true" : "false");
        break;
    case WASITLS_CV_S8:
    case WASITLS_CV_S16:
    case WASITLS_CV_S32:
    case WASITLS_CV_S64:
        add(s, "%lld", (long long)v->of.s);
        break;
    case WASITLS_CV_U8:
    case WASITLS_CV_U16:
    case WASITLS_CV_U32:
    case WASITLS_CV_U64:
        add(s, "%llu", (unsigned long long)v->of.u);
        break;
    case WASITLS_CV_F32:
    case WASITLS_CV_F64: {
        double d = v->kind == WASITLS_CV_F32 ? v->of.f32 : v->of.f64;
        char tmp[64];
        for (int p = 1; p <= 17; p++) { /* shortest text that reads back the same, as JS prints */
            snprintf(tmp, sizeof tmp, "%.*g", p, d);
            if (strtod(tmp, NULL) == d) break;
        }
        add(s, "%s", tmp);
        break;
    }
    case WASITLS_CV_STRING:
        add(s, "\"");
        for (size_t i = 0; i < v->of.str.len; i++) {
            unsigned char c = (unsigned char)v->of.str.ptr[i];
            if (c == '"' || c == '\\')
                add(s, "\\%c", c);
            else if (c < 0x20)
                add(s, "\\u%04x", c);
            else
                add(s, "%c", c);
        }
        add(s, "\"");
        break;
    case WASITLS_CV_BYTES:
        add(s, "[");
        for (size_t i = 0; i < v->of.bytes.len; i++)
            add(s, "%s%u", i ? "," : "", v->of.bytes.ptr[i]);
        add(s, "]");
        break;
    case WASITLS_CV_LIST:
    case WASITLS_CV_RECORD:
    case WASITLS_CV_TUPLE: {
        const char *o = v->kind == WASITLS_CV_LIST ? "[" : v->kind == WASITLS_CV_RECORD ? "{" : "(";
        const char *c = v->kind == WASITLS_CV_LIST ? "]" : v->kind == WASITLS_CV_RECORD ? "}" : ")";
        add(s, "%s", o);
        for (size_t i = 0; i < v->of.list.len; i++) {
            if (i) add(s, ",");
            fmt(s, &v->of.list.items[i]);
        }
        add(s, "%s", c);
        break;
    }
    case WASITLS_CV_VARIANT:
        add(s, "v%u", v->of.var.tag);
        if (v->of.var.payload) {
            add(s, "(");
            fmt(s, v->of.var.payload);
            add(s, ")");
        }
        break;
    case WASITLS_CV_ENUM:
        add(s, "e%u", v->of.var.tag);
        break;
    case WASITLS_CV_FLAGS:
        add(s, "f%llu", (unsigned long long)v->of.flags);
        break;
    case WASITLS_CV_OPTION:
        if (v->of.var.tag == 0) {
            add(s, "none");
        } else {
            add(s, "some(");
            fmt(s, v->of.var.payload);
            add(s, ")");
        }
        break;
    case WASITLS_CV_RESULT:
        add(s, "%s", v->of.var.tag ? "err" : "ok");
        if (v->of.var.payload) {
            add(s, "(");
            fmt(s, v->of.var.payload);
            add(s, ")");
        }
        break;
    default:
        add(s, "?%u", v->kind);
        break;
    }
}

static wasitls_cval S(const char *s)
{
    wasitls_cval v = {.kind = WASITLS_CV_STRING};
    v.of.str.ptr = s;
    v.of.str.len = strlen(s);
    return v;
}
static wasitls_cval I32(int32_t x)
{
    wasitls_cval v = {.kind = WASITLS_CV_S32};
    v.of.s = x;
    return v;
}
static wasitls_cval U32(uint32_t x)
{
    return wasitls_cv_u64(WASITLS_CV_U32, x);
}
static wasitls_cval LIST(wasitls_cval *items, size_t n)
{
    wasitls_cval v = {.kind = WASITLS_CV_LIST};
    v.of.list.items = items;
    v.of.list.len = n;
    return v;
}
static wasitls_cval REC(wasitls_cval *items, size_t n)
{
    wasitls_cval v = LIST(items, n);
    v.kind = WASITLS_CV_RECORD;
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s COMPONENT.wasm EXPECTED.txt\n", argv[0]);
        return 2;
    }
    size_t n, en;
    unsigned char *bytes = t_read(argv[1], &n);
    char *expected = (char *)t_read(argv[2], &en);
    wasitls_error err;
    wasitls_engine_config cfg;
    wasitls_engine *e;
    wasitls_engine_config_default(&cfg);
    CHECK_OK(wasitls_engine_new(&cfg, &e, &err), &err);
    wasitls_component *c;
    CHECK_OK(wasitls_component_new(e, bytes, n, &c, &err), &err);
    wasitls_linker *l;
    CHECK(wasitls_linker_new(&l) == 0);
    wasitls_cinstance *ci;
    CHECK_OK(wasitls_cinstance_new(c, l, NULL, &ci, &err), &err);

    /* the same inputs as js/expected.mjs, in the same order */
    wasitls_cval xs1[4] = {I32(1), I32(2), I32(3), I32(-10)};
    wasitls_cval xs2[3] = {I32(100000), I32(200000), I32(-5)};
    wasitls_cval pt[3] = {I32(3), I32(-4), S("abc")};
    wasitls_cval rp[3] = {I32(3), I32(-5), S("r")};
    wasitls_cval two = {.kind = WASITLS_CV_F64};
    two.of.f64 = 2;
    wasitls_cval rec = REC(rp, 3);
    wasitls_cval u42 = U32(42);
    wasitls_cval paint1[2] = {wasitls_cv_var(WASITLS_CV_ENUM, 2, NULL), {.kind = WASITLS_CV_FLAGS}};
    paint1[1].of.flags = 1 | 4;
    wasitls_cval paint2[2] = {wasitls_cv_var(WASITLS_CV_ENUM, 0, NULL), {.kind = WASITLS_CV_FLAGS}};
    paint2[1].of.flags = 2;
    wasitls_cval bytes_in = {.kind = WASITLS_CV_BYTES};
    bytes_in.of.bytes.ptr = (const uint8_t *)"\1\2\3\377\0";
    bytes_in.of.bytes.len = 5;
    struct {
        const char *fn;
        wasitls_cval args[2];
        size_t n;
    } calls[] = {
        {"greet", {S("World")}, 1},
        {"greet", {S("h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80")}, 1},
        {"sum", {LIST(xs1, 4)}, 1},
        {"sum", {LIST(xs2, 3)}, 1},
        {"mirror", {REC(pt, 3)}, 1},
        {"area", {wasitls_cv_var(WASITLS_CV_VARIANT, 0, &two)}, 1},
        {"area", {wasitls_cv_var(WASITLS_CV_VARIANT, 1, &rec)}, 1},
        {"area", {wasitls_cv_var(WASITLS_CV_VARIANT, 2, NULL)}, 1},
        {"maybe", {wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL)}, 1},
        {"maybe", {wasitls_cv_var(WASITLS_CV_OPTION, 1, &u42)}, 1},
        {"check", {I32(21)}, 1},
        {"check", {I32(-7)}, 1},
        {"words", {S("  the quick  brown fox ")}, 1},
        {"paint", {paint1[0], paint1[1]}, 2},
        {"paint", {paint2[0], paint2[1]}, 2},
        {"reverse", {bytes_in}, 1},
        {"points", {U32(3)}, 1},
    };
    char *line = expected;
    int failures = 0;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "test:js/api@0.1.0#%s", calls[i].fn);
        wasitls_cval r;
        bool has;
        CHECK_OK(wasitls_cinstance_call(ci, name, calls[i].args, calls[i].n, &r, &has, &err), &err);
        CHECK(has);
        sb s = {.n = 0};
        add(&s, "%s ", calls[i].fn);
        fmt(&s, &r);
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        *nl = 0;
        if (strcmp(line, s.b) != 0) {
            fprintf(stderr, "MISMATCH\n  jco:     %s\n  wasitls: %s\n", line, s.b);
            failures++;
        } else {
            printf("same: %s\n", s.b);
        }
        line = nl + 1;
    }
    CHECK(*line == 0); /* every expected line was compared */
    wasitls_cinstance_free(ci);
    wasitls_linker_free(l);
    wasitls_component_free(c);
    wasitls_engine_free(e);
    free(bytes);
    free(expected);
    return failures ? 1 : 0;
}
