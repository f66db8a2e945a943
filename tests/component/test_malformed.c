/* Malformed and hostile component binaries: each is rejected with an error that says what and
 * where; truncations and random corruptions of valid components never crash the parser (run
 * under ASan/UBSan in the sanitizer build). Parse-only: no engine needed. */
#include <string.h>

#include "../../src/component/internal.h"
#include "t.h"

typedef struct buf {
    uint8_t b[4096];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    CHECK(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void byte(buf *b, uint8_t x)
{
    put(b, &x, 1);
}
static void leb(buf *b, uint64_t v)
{
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        byte(b, (uint8_t)(x | (v ? 0x80 : 0)));
    } while (v);
}
static void str(buf *b, const char *s)
{
    leb(b, strlen(s));
    put(b, s, strlen(s));
}
static void header(buf *b)
{
    put(b, "\0asm\x0d\0\1\0", 8);
}
static void section(buf *b, uint8_t id, const buf *body)
{
    byte(b, id);
    leb(b, body->n);
    put(b, body->b, body->n);
}

static int parse(const uint8_t *p, size_t n, wasitls_error *err)
{
    wasitls__arena a;
    wasitls__arena_init(&a);
    wasitls__component *c = NULL;
    wasitls_error_clear(err);
    int rc = wasitls__component_parse(&a, p, n, &c, err);
    if (rc == 0)
        wasitls__component_release(c);
    else
        CHECK(c == NULL);
    wasitls__arena_free(&a);
    return rc;
}

static void expect(const buf *b, int code, const char *needle, int64_t offset)
{
    wasitls_error err;
    int rc = parse(b->b, b->n, &err);
    if (rc != code || !strstr(err.msg, needle) || (offset >= 0 && err.offset != offset)) {
        fprintf(stderr, "rc=%s msg=`%s` offset=%lld; wanted %s `%s` at %lld\n",
                wasitls_err_name(rc), err.msg, (long long)err.offset, wasitls_err_name(code),
                needle, (long long)offset);
        exit(1);
    }
}

static void crafted(void)
{
    buf b = {0}, s = {0};
    header(&b);
    expect(&b, 0, "", -1);

    memcpy(b.b, "\0wasm", 4);
    expect(&b, WASITLS_E_MALFORMED, "bad magic", 0);
    b.n = 0;
    put(&b, "\0asm\1\0\0\0", 8);
    expect(&b, WASITLS_E_INVALID, "core WebAssembly module", 4);
    b.n = 0;
    put(&b, "\0asm\x0c\0\1\0", 8);
    expect(&b, WASITLS_E_UNSUPPORTED_FEATURE, "version", 4);
    b.n = 3;
    expect(&b, WASITLS_E_MALFORMED, "unexpected end", 0);

    /* unknown section id */
    b.n = 0;
    header(&b);
    s.n = 0;
    section(&b, 13, &s);
    expect(&b, WASITLS_E_MALFORMED, "unknown component section id 13", 8);

    /* section size beyond the end */
    b.n = 0;
    header(&b);
    byte(&b, 10);
    leb(&b, 1000);
    byte(&b, 0);
    expect(&b, WASITLS_E_MALFORMED, "unexpected end", 11);

    /* a huge import count */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 0xffffffffu);
    section(&b, 10, &s);
    expect(&b, WASITLS_E_LIMIT, "import count", -1);

    /* invalid UTF-8 in an import name */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x00);
    leb(&s, 2);
    put(&s, "\xc3\x28", 2);
    byte(&s, 0x01); /* func */
    leb(&s, 0);
    section(&b, 10, &s);
    expect(&b, WASITLS_E_MALFORMED, "UTF-8", 13);

    /* an import whose type index does not exist */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x00);
    str(&s, "f");
    byte(&s, 0x01);
    leb(&s, 7);
    section(&b, 10, &s);
    expect(&b, WASITLS_E_INVALID, "type index 7 out of range (0 defined)", 15);

    /* alias of a core instance that does not exist */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x00);
    byte(&s, 0x00); /* core func */
    byte(&s, 0x01); /* core export */
    leb(&s, 3);
    str(&s, "f");
    section(&b, 6, &s);
    expect(&b, WASITLS_E_INVALID, "core instance index 3 out of range", 14);

    /* async built-ins, streams and values name the construct */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x0e);
    leb(&s, 0);
    section(&b, 8, &s);
    expect(&b, WASITLS_E_UNSUPPORTED_FEATURE, "stream built-ins", 11);
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x66);
    byte(&s, 0x00);
    section(&b, 7, &s);
    expect(&b, WASITLS_E_UNSUPPORTED_FEATURE, "stream type", 11);
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 0);
    section(&b, 12, &s);
    expect(&b, WASITLS_E_UNSUPPORTED_FEATURE, "value section", 8);
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x43);
    section(&b, 7, &s);
    expect(&b, WASITLS_E_UNSUPPORTED_FEATURE, "async function type", 11);

    /* flags with too many labels */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x6e);
    leb(&s, 33);
    for (int i = 0; i < 33; i++) {
        char nm[4] = {'a', (char)('a' + i % 26), (char)('a' + i / 26), 0};
        str(&s, nm);
    }
    section(&b, 7, &s);
    expect(&b, WASITLS_E_MALFORMED, "flags", -1);

    /* outer alias beyond the enclosing scopes */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 1);
    byte(&s, 0x03); /* type */
    byte(&s, 0x02); /* outer */
    leb(&s, 1);
    leb(&s, 0);
    section(&b, 6, &s);
    expect(&b, WASITLS_E_INVALID, "outer alias count 1", -1);

    /* components nested too deeply */
    buf inner = {0};
    header(&inner);
    for (int i = 0; i < 20; i++) {
        buf outer = {0};
        header(&outer);
        section(&outer, 4, &inner);
        inner = outer;
    }
    expect(&inner, WASITLS_E_LIMIT, "nested deeper", -1);

    /* trailing bytes in a section */
    b.n = 0;
    header(&b);
    s.n = 0;
    leb(&s, 0);
    byte(&s, 0xaa);
    section(&b, 7, &s);
    expect(&b, WASITLS_E_MALFORMED, "trailing", -1);

    /* a core module section that is not a module */
    b.n = 0;
    header(&b);
    s.n = 0;
    put(&s, "notawasm", 8);
    section(&b, 1, &s);
    expect(&b, WASITLS_E_MALFORMED, "core module", -1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void corrupt_file(const char *path, size_t iterations)
{
    size_t n;
    uint8_t *orig = t_read(path, &n);
    wasitls_error err;
    CHECK_OK(parse(orig, n, &err), &err);
    /* every truncation is an error, except at a boundary between top-level sections (the
     * prefix is then a valid component itself); all of them for small files, a sample else */
    uint8_t *boundary = calloc(n + 1, 1);
    for (size_t p = 8; p < n;) {
        boundary[p] = 1;
        uint64_t size = 0;
        int shift = 0;
        size_t q = p + 1;
        while (q < n && (orig[q] & 0x80)) {
            size |= (uint64_t)(orig[q] & 0x7f) << shift;
            shift += 7;
            q++;
        }
        size |= (uint64_t)(orig[q] & 0x7f) << shift;
        p = q + 1 + size;
    }
    boundary[8] = 1;
    size_t step = n > 20000 ? n / 5000 : 1;
    for (size_t k = 0; k < n; k += step) {
        uint8_t *t = malloc(k ? k : 1);
        memcpy(t, orig, k);
        int rc = parse(t, k, &err);
        if ((rc == 0 && !boundary[k]) || (rc != 0 && !err.msg[0])) {
            fprintf(stderr, "truncation at %zu accepted\n", k);
            exit(1);
        }
        free(t);
    }
    /* random corruptions: any outcome but a crash */
    uint8_t *m = malloc(n);
    size_t rejected = 0;
    for (size_t it = 0; it < iterations; it++) {
        memcpy(m, orig, n);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = rnd() % n;
            switch (rnd() % 3) {
            case 0:
                m[at] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 1:
                m[at] = (uint8_t)rnd();
                break;
            default:
                m[at] = 0xff;
                break;
            }
        }
        if (parse(m, n, &err)) {
            CHECK(err.msg[0] != 0);
            rejected++;
        }
    }
    printf("%s: %zu bytes, %zu/%zu corruptions rejected\n", path, n, rejected, iterations);
    free(boundary);
    free(m);
    free(orig);
}

static void corrupt(void)
{
    const char *files[] = {TEST_COMPONENTS};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        corrupt_file(files[i], 3000);
}

int main(int argc, char **argv)
{
    static const tcase cases[] = {
        {"crafted", crafted},
        {"corrupt", corrupt},
    };
    return t_main(cases, sizeof cases / sizeof cases[0], argc, argv);
}
