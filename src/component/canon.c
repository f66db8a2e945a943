/* The canonical ABI (CanonicalABI.md): loading and storing values in linear memory, flat
 * lifting and lowering, string transcoding. Values on the host side are wasitls_cval trees with
 * UTF-8 strings. Guest memory is a (base, len) window refreshed after every call into the guest
 * (realloc may grow and move it); every pointer is checked for alignment and bounds first.
 *
 * Flat values are handled as raw 64-bit patterns (i32 zero-extended, f32 as its bit pattern),
 * which makes the variant "join" coercions of the spec identities: only the final conversion
 * to/from wasitls_val looks at the core type. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "internal.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) return rc_;                                                                       \
    } while (0)

void wasitls__canon_refresh(wasitls__canon *cx)
{
    if (cx->mem) {
        cx->base = wasitls_memory_data(cx->mem);
        cx->len = wasitls_memory_size(cx->mem);
    }
}

int wasitls__canon_trap(wasitls__canon *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cx->err) wasitls_error_setv(cx->err, WASITLS_E_TRAP, fmt, ap);
    va_end(ap);
    return WASITLS_E_TRAP;
}

static int nomem(wasitls__canon *cx)
{
    if (cx->err) wasitls_error_set(cx->err, WASITLS_E_NOMEM, "out of memory lifting a value");
    return WASITLS_E_NOMEM;
}

static int need_mem(wasitls__canon *cx)
{
    if (!cx->base && !cx->mem)
        return wasitls__canon_trap(cx, "canonical ABI: this value needs a memory option");
    return 0;
}

static int range(wasitls__canon *cx, uint64_t ptr, uint64_t n, uint32_t align, const char *what)
{
    TRY(need_mem(cx));
    if (align > 1 && ptr % align)
        return wasitls__canon_trap(cx, "misaligned pointer %#llx for %s (alignment %u)",
                                   (unsigned long long)ptr, what, align);
    if (ptr > cx->len || n > cx->len - ptr)
        return wasitls__canon_trap(cx, "%s out of bounds: [%#llx, +%llu) in memory of %llu bytes",
                                   what, (unsigned long long)ptr, (unsigned long long)n,
                                   (unsigned long long)cx->len);
    return 0;
}

static uint64_t ld(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void st(uint8_t *p, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static float f32_of(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static double f64_of(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}
static uint32_t bits32(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static uint64_t bits64(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static int guest_alloc(wasitls__canon *cx, uint32_t old, uint32_t oldsz, uint32_t align,
                       uint32_t size, uint32_t *out, const char *what)
{
    if (!cx->realloc)
        return wasitls__canon_trap(cx, "canonical ABI: %s needs a realloc option", what);
    TRY(cx->realloc(cx, old, oldsz, align, size, out));
    wasitls__canon_refresh(cx);
    return range(cx, *out, size, align, what);
}

/* ---- strings ---- */

static bool valid_char(uint32_t c)
{
    return c < 0xD800 || (c >= 0xE000 && c < 0x110000);
}

static size_t utf8_put(uint8_t *d, uint32_t c)
{
    if (c < 0x80) {
        d[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (uint8_t)(0xC0 | (c >> 6));
        d[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (c >> 12));
        d[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (c >> 18));
    d[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* Decodes one code point of valid UTF-8 (already validated). */
static uint32_t utf8_get(const uint8_t *s, size_t *i)
{
    uint8_t b = s[*i];
    if (b < 0x80) {
        (*i)++;
        return b;
    }
    if (b < 0xE0) {
        uint32_t c = ((uint32_t)(b & 0x1F) << 6) | (s[*i + 1] & 0x3F);
        *i += 2;
        return c;
    }
    if (b < 0xF0) {
        uint32_t c =
            ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[*i + 1] & 0x3F) << 6) | (s[*i + 2] & 0x3F);
        *i += 3;
        return c;
    }
    uint32_t c = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[*i + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[*i + 2] & 0x3F) << 6) | (s[*i + 3] & 0x3F);
    *i += 4;
    return c;
}

#define UTF16_TAG 0x80000000u

static int load_string_range(wasitls__canon *cx, uint32_t ptr, uint32_t tagged, wasitls_cval *out)
{
    out->kind = WASITLS_CV_STRING;
    uint8_t enc = cx->enc;
    bool utf16 = enc == 1, latin1 = false;
    uint64_t nbytes;
    uint32_t align = 1;
    if (enc == 0) {
        nbytes = tagged;
    } else if (enc == 1) {
        nbytes = 2ull * tagged;
        align = 2;
    } else {
        align = 2;
        if (tagged & UTF16_TAG) {
            utf16 = true;
            nbytes = 2ull * (tagged ^ UTF16_TAG);
        } else {
            latin1 = true;
            nbytes = tagged;
        }
    }
    if (nbytes > WASITLS__MAX_BYTE_LENGTH)
        return wasitls__canon_trap(cx, "string of %llu bytes exceeds the canonical ABI limit",
                                   (unsigned long long)nbytes);
    TRY(range(cx, ptr, nbytes, align, "string"));
    const uint8_t *src = cx->base + ptr;
    if (!utf16 && !latin1) {
        if (!wasitls_utf8_valid(src, (size_t)nbytes))
            return wasitls__canon_trap(cx, "invalid UTF-8 in a string at %#x", ptr);
        if (!cx->copy) {
            out->of.str.ptr = (const char *)src;
        } else {
            char *d = wasitls__arena_strndup(cx->arena, (const char *)src, (size_t)nbytes);
            if (!d) return nomem(cx);
            out->of.str.ptr = d;
        }
        out->of.str.len = (size_t)nbytes;
        return 0;
    }
    /* transcode to UTF-8: at most 3 bytes per UTF-16 unit, 2 per latin1 byte */
    size_t cap = latin1 ? (size_t)nbytes * 2 : (size_t)(nbytes / 2) * 3;
    uint8_t *d = wasitls__arena_alloc(cx->arena, cap + 1);
    if (!d) return nomem(cx);
    size_t k = 0;
    if (latin1) {
        for (size_t i = 0; i < nbytes; i++)
            k += utf8_put(d + k, src[i]);
    } else {
        size_t units = (size_t)(nbytes / 2);
        for (size_t i = 0; i < units; i++) {
            uint32_t u = (uint32_t)ld(src + 2 * i, 2);
            if (u >= 0xD800 && u < 0xDC00) {
                uint32_t v = i + 1 < units ? (uint32_t)ld(src + 2 * (i + 1), 2) : 0;
                if (v < 0xDC00 || v >= 0xE000)
                    return wasitls__canon_trap(cx,
                                               "invalid UTF-16 (unpaired surrogate) in a string");
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i++;
            } else if (u >= 0xDC00 && u < 0xE000) {
                return wasitls__canon_trap(cx, "invalid UTF-16 (unpaired surrogate) in a string");
            }
            k += utf8_put(d + k, u);
        }
    }
    out->of.str.ptr = (const char *)d;
    out->of.str.len = k;
    return 0;
}

/* Is [p, p+n) a buffer the host got from wasitls_ccall_guest_bytes? Then it is already in
 * guest memory at *addr. */
static bool guest_buffer(wasitls__canon *cx, const uint8_t *p, size_t n, uint32_t *addr)
{
    for (size_t i = 0; i < cx->gb_n; i++)
        if (cx->gb_host[i] == p && cx->gb_len[i] == n) {
            *addr = cx->gb_guest[i];
            return true;
        }
    return false;
}

static int store_string_range(wasitls__canon *cx, const char *s, size_t n, uint32_t *ptr,
                              uint32_t *units)
{
    const uint8_t *src = (const uint8_t *)s;
    if (n > WASITLS__MAX_BYTE_LENGTH)
        return wasitls__canon_trap(cx, "string of %zu bytes exceeds the canonical ABI limit", n);
    uint32_t len = (uint32_t)n;
    uint32_t gaddr;
    if (guest_buffer(cx, src, n, &gaddr)) {
        TRY(range(cx, gaddr, n, 1, "string"));
        if (n && !wasitls_utf8_valid(cx->base + gaddr, n))
            return wasitls__canon_trap(cx, "host produced invalid UTF-8 for a string");
        if (cx->enc == 0) { /* already where it belongs */
            *ptr = gaddr;
            *units = len;
            return 0;
        }
        /* transcoding allocates in guest memory, which may move it: read from a copy */
        uint8_t *copy = wasitls__arena_alloc(cx->arena, n ? n : 1);
        if (!copy) return nomem(cx);
        if (n) memcpy(copy, cx->base + gaddr, n);
        src = copy;
    } else if (n && !wasitls_utf8_valid(src, n)) {
        return wasitls__canon_trap(cx, "host produced invalid UTF-8 for a string");
    }
    if (cx->enc == 0) {
        TRY(guest_alloc(cx, 0, 0, 1, len, ptr, "string"));
        if (len) memcpy(cx->base + *ptr, src, len);
        *units = len;
        return 0;
    }
    if (cx->enc == 1) { /* utf8 -> utf16 */
        uint32_t worst = 2 * len;
        TRY(guest_alloc(cx, 0, 0, 2, worst, ptr, "string"));
        size_t i = 0, k = 0;
        while (i < n) {
            uint32_t c = utf8_get(src, &i);
            uint8_t *d = cx->base + *ptr;
            if (c >= 0x10000) {
                c -= 0x10000;
                st(d + k, 0xD800 + (c >> 10), 2);
                st(d + k + 2, 0xDC00 + (c & 0x3FF), 2);
                k += 4;
            } else {
                st(d + k, c, 2);
                k += 2;
            }
        }
        if (k < worst) TRY(guest_alloc(cx, *ptr, worst, 2, (uint32_t)k, ptr, "string"));
        *units = (uint32_t)(k / 2);
        return 0;
    }
    /* latin1+utf16 */
    TRY(guest_alloc(cx, 0, 0, 2, len, ptr, "string"));
    size_t i = 0, k = 0;
    while (i < n) {
        size_t at = i;
        uint32_t c = utf8_get(src, &i);
        if (c < 0x100) {
            cx->base[*ptr + k++] = (uint8_t)c;
            continue;
        }
        uint32_t worst = 2 * len;
        TRY(guest_alloc(cx, *ptr, len, 2, worst, ptr, "string"));
        uint8_t *d = cx->base + *ptr;
        for (size_t j = k; j-- > 0;) {
            d[2 * j] = d[j];
            d[2 * j + 1] = 0;
        }
        size_t o = 2 * k;
        i = at;
        while (i < n) {
            uint32_t cc = utf8_get(src, &i);
            if (cc >= 0x10000) {
                cc -= 0x10000;
                st(d + o, 0xD800 + (cc >> 10), 2);
                st(d + o + 2, 0xDC00 + (cc & 0x3FF), 2);
                o += 4;
            } else {
                st(d + o, cc, 2);
                o += 2;
            }
        }
        if (o < worst) TRY(guest_alloc(cx, *ptr, worst, 2, (uint32_t)o, ptr, "string"));
        *units = (uint32_t)(o / 2) | UTF16_TAG;
        return 0;
    }
    if (k < len) TRY(guest_alloc(cx, *ptr, len, 2, (uint32_t)k, ptr, "string"));
    *units = (uint32_t)k;
    return 0;
}

/* ---- memory ---- */

static uint32_t max_case_align(wasitls__ctype *const *p, uint32_t n)
{
    uint32_t a = 1;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] && p[i]->align > a) a = p[i]->align;
    return a;
}

/* payloads of a variant-like type */
static uint32_t cases_of(const wasitls__ctype *t, wasitls__ctype *const **p, wasitls__ctype *tmp[2])
{
    switch (t->kind) {
    case CT_VARIANT:
        *p = t->elems;
        return t->n;
    case CT_OPTION:
        tmp[0] = NULL;
        tmp[1] = t->t;
        *p = tmp;
        return 2;
    case CT_RESULT:
        tmp[0] = t->t;
        tmp[1] = t->e;
        *p = tmp;
        return 2;
    default: /* enum */
        *p = NULL;
        return t->n;
    }
}

static uint8_t var_kind(uint8_t k)
{
    switch (k) {
    case CT_VARIANT:
        return WASITLS_CV_VARIANT;
    case CT_OPTION:
        return WASITLS_CV_OPTION;
    case CT_RESULT:
        return WASITLS_CV_RESULT;
    default:
        return WASITLS_CV_ENUM;
    }
}

static int load_list_range(wasitls__canon *cx, uint32_t ptr, uint32_t len, const wasitls__ctype *et,
                           wasitls_cval *out);

int wasitls__canon_load(wasitls__canon *cx, uint64_t ptr, const wasitls__ctype *t,
                        wasitls_cval *out)
{
    TRY(range(cx, ptr, t->size, t->align, wasitls__ct_kind_name(t->kind)));
    const uint8_t *p = cx->base + ptr;
    memset(out, 0, sizeof(*out));
    switch (t->kind) {
    case CT_BOOL:
        out->kind = WASITLS_CV_BOOL;
        out->of.b = p[0] != 0;
        return 0;
    case CT_S8:
        out->kind = WASITLS_CV_S8;
        out->of.s = (int8_t)p[0];
        return 0;
    case CT_U8:
        out->kind = WASITLS_CV_U8;
        out->of.u = p[0];
        return 0;
    case CT_S16:
        out->kind = WASITLS_CV_S16;
        out->of.s = (int16_t)ld(p, 2);
        return 0;
    case CT_U16:
        out->kind = WASITLS_CV_U16;
        out->of.u = ld(p, 2);
        return 0;
    case CT_S32:
        out->kind = WASITLS_CV_S32;
        out->of.s = (int32_t)ld(p, 4);
        return 0;
    case CT_U32:
        out->kind = WASITLS_CV_U32;
        out->of.u = ld(p, 4);
        return 0;
    case CT_S64:
        out->kind = WASITLS_CV_S64;
        out->of.s = (int64_t)ld(p, 8);
        return 0;
    case CT_U64:
        out->kind = WASITLS_CV_U64;
        out->of.u = ld(p, 8);
        return 0;
    case CT_F32: {
        float f = f32_of((uint32_t)ld(p, 4));
        out->kind = WASITLS_CV_F32;
        out->of.f32 = isnan(f) ? NAN : f;
        return 0;
    }
    case CT_F64: {
        double d = f64_of(ld(p, 8));
        out->kind = WASITLS_CV_F64;
        out->of.f64 = isnan(d) ? (double)NAN : d;
        return 0;
    }
    case CT_CHAR: {
        uint32_t c = (uint32_t)ld(p, 4);
        if (!valid_char(c)) return wasitls__canon_trap(cx, "invalid char value %#x", c);
        out->kind = WASITLS_CV_CHAR;
        out->of.ch = c;
        return 0;
    }
    case CT_STRING:
        return load_string_range(cx, (uint32_t)ld(p, 4), (uint32_t)ld(p + 4, 4), out);
    case CT_LIST:
        return load_list_range(cx, (uint32_t)ld(p, 4), (uint32_t)ld(p + 4, 4), t->t, out);
    case CT_RECORD:
    case CT_TUPLE: {
        wasitls_cval *items = wasitls__arena_array(cx->arena, t->n, sizeof(*items));
        if (!items) return nomem(cx);
        uint64_t off = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            const wasitls__ctype *f = t->elems[i];
            off = (off + f->align - 1) / f->align * f->align;
            TRY(wasitls__canon_load(cx, ptr + off, f, &items[i]));
            off += f->size;
        }
        out->kind = t->kind == CT_RECORD ? WASITLS_CV_RECORD : WASITLS_CV_TUPLE;
        out->of.list.items = items;
        out->of.list.len = t->n;
        return 0;
    }
    case CT_VARIANT:
    case CT_ENUM:
    case CT_OPTION:
    case CT_RESULT: {
        wasitls__ctype *tmp[2];
        wasitls__ctype *const *cases;
        uint32_t n = cases_of(t, &cases, tmp);
        uint32_t ds = wasitls__disc_size(n);
        uint32_t tag = (uint32_t)ld(p, ds);
        if (tag >= n)
            return wasitls__canon_trap(cx, "invalid %s discriminant %u (%u cases)",
                                       wasitls__ct_kind_name(t->kind), tag, n);
        out->kind = var_kind(t->kind);
        out->of.var.tag = tag;
        if (cases && cases[tag]) {
            wasitls_cval *pl = wasitls__arena_alloc(cx->arena, sizeof(*pl));
            if (!pl) return nomem(cx);
            uint32_t off = wasitls__align_to(ds, max_case_align(cases, n));
            TRY(wasitls__canon_load(cx, ptr + off, cases[tag], pl));
            out->of.var.payload = pl;
        }
        return 0;
    }
    case CT_FLAGS: {
        uint64_t v = ld(p, t->size);
        out->kind = WASITLS_CV_FLAGS;
        out->of.flags = t->n >= 64 ? v : v & ((1ull << t->n) - 1);
        return 0;
    }
    case CT_OWN:
    case CT_BORROW:
        if (!cx->lift_handle) return wasitls__canon_trap(cx, "handles cannot be passed here");
        return cx->lift_handle(cx, t, (uint32_t)ld(p, 4), out);
    default:
        return wasitls__canon_trap(cx, "internal: cannot load a %s",
                                   wasitls__ct_kind_name(t->kind));
    }
}

static int load_list_range(wasitls__canon *cx, uint32_t ptr, uint32_t len, const wasitls__ctype *et,
                           wasitls_cval *out)
{
    uint64_t nbytes = (uint64_t)len * et->size;
    if (nbytes > WASITLS__MAX_BYTE_LENGTH)
        return wasitls__canon_trap(cx, "list of %u elements exceeds the canonical ABI limit", len);
    TRY(range(cx, ptr, nbytes, et->align, "list"));
    if (et->kind == CT_U8) {
        out->kind = WASITLS_CV_BYTES;
        out->of.bytes.len = len;
        if (!cx->copy) {
            out->of.bytes.ptr = cx->base + ptr;
        } else {
            uint8_t *d = wasitls__arena_alloc(cx->arena, len);
            if (!d) return nomem(cx);
            if (len) memcpy(d, cx->base + ptr, len);
            out->of.bytes.ptr = d;
        }
        return 0;
    }
    wasitls_cval *items = wasitls__arena_array(cx->arena, len ? len : 1, sizeof(*items));
    if (!items) return nomem(cx);
    for (uint32_t i = 0; i < len; i++)
        TRY(wasitls__canon_load(cx, (uint64_t)ptr + (uint64_t)i * et->size, et, &items[i]));
    out->kind = WASITLS_CV_LIST;
    out->of.list.items = items;
    out->of.list.len = len;
    return 0;
}

static int bad_value(wasitls__canon *cx, const wasitls__ctype *t, const wasitls_cval *v)
{
    /* a host bug, but the guest is the one that cannot continue */
    return wasitls__canon_trap(cx, "host value of kind %u does not fit type %s", v ? v->kind : 255,
                               wasitls__ct_kind_name(t->kind));
}

static bool kind_ok(const wasitls__ctype *t, const wasitls_cval *v)
{
    static const uint8_t want[] = {
        [CT_BOOL] = WASITLS_CV_BOOL,       [CT_S8] = WASITLS_CV_S8,
        [CT_U8] = WASITLS_CV_U8,           [CT_S16] = WASITLS_CV_S16,
        [CT_U16] = WASITLS_CV_U16,         [CT_S32] = WASITLS_CV_S32,
        [CT_U32] = WASITLS_CV_U32,         [CT_S64] = WASITLS_CV_S64,
        [CT_U64] = WASITLS_CV_U64,         [CT_F32] = WASITLS_CV_F32,
        [CT_F64] = WASITLS_CV_F64,         [CT_CHAR] = WASITLS_CV_CHAR,
        [CT_STRING] = WASITLS_CV_STRING,   [CT_LIST] = WASITLS_CV_LIST,
        [CT_RECORD] = WASITLS_CV_RECORD,   [CT_TUPLE] = WASITLS_CV_TUPLE,
        [CT_VARIANT] = WASITLS_CV_VARIANT, [CT_ENUM] = WASITLS_CV_ENUM,
        [CT_OPTION] = WASITLS_CV_OPTION,   [CT_RESULT] = WASITLS_CV_RESULT,
        [CT_FLAGS] = WASITLS_CV_FLAGS,     [CT_OWN] = WASITLS_CV_OWN,
        [CT_BORROW] = WASITLS_CV_BORROW,
    };
    if (!v || t->kind > CT_BORROW) return false;
    if (t->kind == CT_LIST && v->kind == WASITLS_CV_BYTES) return t->t->kind == CT_U8;
    if (t->kind == CT_STRING && v->kind == WASITLS_CV_BYTES) return false;
    if (t->kind == CT_OWN && v->kind == WASITLS_CV_BORROW) return false;
    /* integers of another width/sign are accepted when the value fits below */
    if (t->kind >= CT_S8 && t->kind <= CT_U64)
        return v->kind >= WASITLS_CV_S8 && v->kind <= WASITLS_CV_U64;
    return v->kind == want[t->kind];
}

static int int_fits(wasitls__canon *cx, const wasitls__ctype *t, const wasitls_cval *v,
                    uint64_t *out);

bool wasitls__canon_fits(const wasitls__ctype *t, const wasitls_cval *v, uint32_t depth)
{
    if (depth > WASITLS__MAX_TYPE_DEPTH || !kind_ok(t, v)) return false;
    switch (t->kind) {
    case CT_S8:
    case CT_U8:
    case CT_S16:
    case CT_U16:
    case CT_S32:
    case CT_U32:
    case CT_S64:
    case CT_U64: {
        wasitls__canon dummy;
        uint64_t x;
        memset(&dummy, 0, sizeof dummy);
        return int_fits(&dummy, t, v, &x) == 0;
    }
    case CT_CHAR:
        return valid_char(v->of.ch);
    case CT_STRING:
        return !v->of.str.len || (v->of.str.ptr && v->of.str.len <= WASITLS__MAX_BYTE_LENGTH);
    case CT_LIST:
        if (v->kind == WASITLS_CV_BYTES) return !v->of.bytes.len || v->of.bytes.ptr;
        if (v->of.list.len && !v->of.list.items) return false;
        for (size_t i = 0; i < v->of.list.len; i++)
            if (!wasitls__canon_fits(t->t, &v->of.list.items[i], depth + 1)) return false;
        return true;
    case CT_RECORD:
    case CT_TUPLE:
        if (v->of.list.len != t->n || !v->of.list.items) return false;
        for (uint32_t i = 0; i < t->n; i++)
            if (!wasitls__canon_fits(t->elems[i], &v->of.list.items[i], depth + 1)) return false;
        return true;
    case CT_VARIANT:
    case CT_ENUM:
    case CT_OPTION:
    case CT_RESULT: {
        wasitls__ctype *tmp[2];
        wasitls__ctype *const *cases;
        uint32_t n = cases_of(t, &cases, tmp);
        if (v->of.var.tag >= n) return false;
        if (!cases || !cases[v->of.var.tag]) return true;
        return v->of.var.payload &&
               wasitls__canon_fits(cases[v->of.var.tag], v->of.var.payload, depth + 1);
    }
    case CT_FLAGS:
        return t->n >= 64 || (v->of.flags >> t->n) == 0;
    default:
        return true;
    }
}

static int store_list(wasitls__canon *cx, const wasitls_cval *v, const wasitls__ctype *et,
                      uint32_t *ptr, uint32_t *len)
{
    if (v->kind == WASITLS_CV_BYTES) {
        size_t n = v->of.bytes.len;
        if (n > WASITLS__MAX_BYTE_LENGTH)
            return wasitls__canon_trap(cx, "list of %zu bytes exceeds the canonical ABI limit", n);
        if (guest_buffer(cx, v->of.bytes.ptr, n, ptr)) {
            *len = (uint32_t)n;
            return 0;
        }
        TRY(guest_alloc(cx, 0, 0, 1, (uint32_t)n, ptr, "list"));
        if (n) memcpy(cx->base + *ptr, v->of.bytes.ptr, n);
        *len = (uint32_t)n;
        return 0;
    }
    uint64_t nbytes = (uint64_t)v->of.list.len * et->size;
    if (nbytes > WASITLS__MAX_BYTE_LENGTH)
        return wasitls__canon_trap(cx, "list of %zu elements exceeds the canonical ABI limit",
                                   v->of.list.len);
    TRY(guest_alloc(cx, 0, 0, et->align, (uint32_t)nbytes, ptr, "list"));
    for (size_t i = 0; i < v->of.list.len; i++)
        TRY(wasitls__canon_store(cx, &v->of.list.items[i], et, (uint64_t)*ptr + i * et->size));
    *len = (uint32_t)v->of.list.len;
    return 0;
}

static int int_fits(wasitls__canon *cx, const wasitls__ctype *t, const wasitls_cval *v,
                    uint64_t *out)
{
    bool sv = v->kind == WASITLS_CV_S8 || v->kind == WASITLS_CV_S16 || v->kind == WASITLS_CV_S32 ||
              v->kind == WASITLS_CV_S64;
    int64_t s = sv ? v->of.s : (int64_t)v->of.u;
    uint64_t u = v->of.u;
    bool ok;
    switch (t->kind) {
    case CT_S8:
        ok = sv ? s >= INT8_MIN && s <= INT8_MAX : u <= INT8_MAX;
        break;
    case CT_S16:
        ok = sv ? s >= INT16_MIN && s <= INT16_MAX : u <= INT16_MAX;
        break;
    case CT_S32:
        ok = sv ? s >= INT32_MIN && s <= INT32_MAX : u <= INT32_MAX;
        break;
    case CT_S64:
        ok = sv || u <= INT64_MAX;
        break;
    case CT_U8:
        ok = sv ? s >= 0 && s <= UINT8_MAX : u <= UINT8_MAX;
        break;
    case CT_U16:
        ok = sv ? s >= 0 && s <= UINT16_MAX : u <= UINT16_MAX;
        break;
    case CT_U32:
        ok = sv ? s >= 0 && s <= UINT32_MAX : u <= UINT32_MAX;
        break;
    default:
        ok = sv ? s >= 0 : true;
        break;
    }
    if (!ok)
        return wasitls__canon_trap(cx, "host value out of range for %s",
                                   wasitls__ct_kind_name(t->kind));
    *out = sv ? (uint64_t)s : u;
    return 0;
}

int wasitls__canon_store(wasitls__canon *cx, const wasitls_cval *v, const wasitls__ctype *t,
                         uint64_t ptr)
{
    if (!kind_ok(t, v)) return bad_value(cx, t, v);
    TRY(range(cx, ptr, t->size, t->align, wasitls__ct_kind_name(t->kind)));
    uint64_t x;
    switch (t->kind) {
    case CT_BOOL:
        cx->base[ptr] = v->of.b ? 1 : 0;
        return 0;
    case CT_S8:
    case CT_U8:
    case CT_S16:
    case CT_U16:
    case CT_S32:
    case CT_U32:
    case CT_S64:
    case CT_U64:
        TRY(int_fits(cx, t, v, &x));
        st(cx->base + ptr, x, t->size);
        return 0;
    case CT_F32:
        st(cx->base + ptr, bits32(isnan(v->of.f32) ? NAN : v->of.f32), 4);
        return 0;
    case CT_F64:
        st(cx->base + ptr, bits64(isnan(v->of.f64) ? (double)NAN : v->of.f64), 8);
        return 0;
    case CT_CHAR:
        if (!valid_char(v->of.ch))
            return wasitls__canon_trap(cx, "host produced an invalid char %#x", v->of.ch);
        st(cx->base + ptr, v->of.ch, 4);
        return 0;
    case CT_STRING: {
        uint32_t p, n;
        TRY(store_string_range(cx, v->of.str.ptr, v->of.str.len, &p, &n));
        TRY(range(cx, ptr, 8, 4, "string")); /* memory may have moved */
        st(cx->base + ptr, p, 4);
        st(cx->base + ptr + 4, n, 4);
        return 0;
    }
    case CT_LIST: {
        uint32_t p, n;
        TRY(store_list(cx, v, t->t, &p, &n));
        TRY(range(cx, ptr, 8, 4, "list"));
        st(cx->base + ptr, p, 4);
        st(cx->base + ptr + 4, n, 4);
        return 0;
    }
    case CT_RECORD:
    case CT_TUPLE: {
        if (v->of.list.len != t->n || (t->n && !v->of.list.items)) return bad_value(cx, t, v);
        uint64_t off = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            const wasitls__ctype *f = t->elems[i];
            off = (off + f->align - 1) / f->align * f->align;
            TRY(wasitls__canon_store(cx, &v->of.list.items[i], f, ptr + off));
            off += f->size;
        }
        return 0;
    }
    case CT_VARIANT:
    case CT_ENUM:
    case CT_OPTION:
    case CT_RESULT: {
        wasitls__ctype *tmp[2];
        wasitls__ctype *const *cases;
        uint32_t n = cases_of(t, &cases, tmp);
        uint32_t tag = v->of.var.tag;
        if (tag >= n)
            return wasitls__canon_trap(cx, "host produced %s case %u of %u",
                                       wasitls__ct_kind_name(t->kind), tag, n);
        uint32_t ds = wasitls__disc_size(n);
        st(cx->base + ptr, tag, ds);
        if (cases && cases[tag]) {
            if (!v->of.var.payload) return bad_value(cx, t, v);
            uint32_t off = wasitls__align_to(ds, max_case_align(cases, n));
            TRY(wasitls__canon_store(cx, v->of.var.payload, cases[tag], ptr + off));
        }
        return 0;
    }
    case CT_FLAGS:
        st(cx->base + ptr, v->of.flags & (t->n >= 64 ? ~0ull : (1ull << t->n) - 1), t->size);
        return 0;
    case CT_OWN:
    case CT_BORROW: {
        uint32_t h;
        if (!cx->lower_handle) return wasitls__canon_trap(cx, "handles cannot be passed here");
        TRY(cx->lower_handle(cx, t, v, &h));
        TRY(range(cx, ptr, 4, 4, "handle"));
        st(cx->base + ptr, h, 4);
        return 0;
    }
    default:
        return bad_value(cx, t, v);
    }
}

/* ---- flat ---- */

typedef struct flat {
    uint64_t *v;
    size_t i, n;
} flat;

static int next(wasitls__canon *cx, flat *f, uint64_t *out)
{
    if (f->i >= f->n) return wasitls__canon_trap(cx, "internal: too few core values");
    *out = f->v[f->i++];
    return 0;
}

static int lift_flat(wasitls__canon *cx, const wasitls__ctype *t, flat *f, wasitls_cval *out)
{
    uint64_t x = 0;
    memset(out, 0, sizeof(*out));
    switch (t->kind) {
    case CT_BOOL:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_BOOL;
        out->of.b = (uint32_t)x != 0;
        return 0;
    case CT_S8:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_S8;
        out->of.s = (int8_t)x;
        return 0;
    case CT_U8:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_U8;
        out->of.u = (uint8_t)x;
        return 0;
    case CT_S16:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_S16;
        out->of.s = (int16_t)x;
        return 0;
    case CT_U16:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_U16;
        out->of.u = (uint16_t)x;
        return 0;
    case CT_S32:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_S32;
        out->of.s = (int32_t)x;
        return 0;
    case CT_U32:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_U32;
        out->of.u = (uint32_t)x;
        return 0;
    case CT_S64:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_S64;
        out->of.s = (int64_t)x;
        return 0;
    case CT_U64:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_U64;
        out->of.u = x;
        return 0;
    case CT_F32: {
        TRY(next(cx, f, &x));
        float v = f32_of((uint32_t)x);
        out->kind = WASITLS_CV_F32;
        out->of.f32 = isnan(v) ? NAN : v;
        return 0;
    }
    case CT_F64: {
        TRY(next(cx, f, &x));
        double v = f64_of(x);
        out->kind = WASITLS_CV_F64;
        out->of.f64 = isnan(v) ? (double)NAN : v;
        return 0;
    }
    case CT_CHAR:
        TRY(next(cx, f, &x));
        if (!valid_char((uint32_t)x))
            return wasitls__canon_trap(cx, "invalid char value %#x", (uint32_t)x);
        out->kind = WASITLS_CV_CHAR;
        out->of.ch = (uint32_t)x;
        return 0;
    case CT_STRING: {
        uint64_t p = 0, n = 0;
        TRY(next(cx, f, &p));
        TRY(next(cx, f, &n));
        return load_string_range(cx, (uint32_t)p, (uint32_t)n, out);
    }
    case CT_LIST: {
        uint64_t p = 0, n = 0;
        TRY(next(cx, f, &p));
        TRY(next(cx, f, &n));
        return load_list_range(cx, (uint32_t)p, (uint32_t)n, t->t, out);
    }
    case CT_RECORD:
    case CT_TUPLE: {
        wasitls_cval *items = wasitls__arena_array(cx->arena, t->n, sizeof(*items));
        if (!items) return nomem(cx);
        for (uint32_t i = 0; i < t->n; i++)
            TRY(lift_flat(cx, t->elems[i], f, &items[i]));
        out->kind = t->kind == CT_RECORD ? WASITLS_CV_RECORD : WASITLS_CV_TUPLE;
        out->of.list.items = items;
        out->of.list.len = t->n;
        return 0;
    }
    case CT_VARIANT:
    case CT_ENUM:
    case CT_OPTION:
    case CT_RESULT: {
        wasitls__ctype *tmp[2];
        wasitls__ctype *const *cases;
        uint32_t n = cases_of(t, &cases, tmp);
        TRY(next(cx, f, &x));
        uint32_t tag = (uint32_t)x;
        if (tag >= n)
            return wasitls__canon_trap(cx, "invalid %s discriminant %u (%u cases)",
                                       wasitls__ct_kind_name(t->kind), tag, n);
        out->kind = var_kind(t->kind);
        out->of.var.tag = tag;
        size_t end = f->i + (t->nflat - 1);
        if (cases && cases[tag]) {
            wasitls_cval *pl = wasitls__arena_alloc(cx->arena, sizeof(*pl));
            if (!pl) return nomem(cx);
            TRY(lift_flat(cx, cases[tag], f, pl));
            out->of.var.payload = pl;
        }
        if (end > f->n) return wasitls__canon_trap(cx, "internal: too few core values");
        f->i = end;
        return 0;
    }
    case CT_FLAGS:
        TRY(next(cx, f, &x));
        out->kind = WASITLS_CV_FLAGS;
        out->of.flags = (uint32_t)x & (t->n >= 32 ? 0xffffffffu : (1u << t->n) - 1);
        return 0;
    case CT_OWN:
    case CT_BORROW:
        TRY(next(cx, f, &x));
        if (!cx->lift_handle) return wasitls__canon_trap(cx, "handles cannot be passed here");
        return cx->lift_handle(cx, t, (uint32_t)x, out);
    default:
        return wasitls__canon_trap(cx, "internal: cannot lift a %s",
                                   wasitls__ct_kind_name(t->kind));
    }
}

static int put(wasitls__canon *cx, flat *f, uint64_t x)
{
    if (f->i >= f->n) return wasitls__canon_trap(cx, "internal: too many core values");
    f->v[f->i++] = x;
    return 0;
}

static int lower_flat(wasitls__canon *cx, const wasitls_cval *v, const wasitls__ctype *t, flat *f)
{
    uint64_t x = 0;
    if (!kind_ok(t, v)) return bad_value(cx, t, v);
    switch (t->kind) {
    case CT_BOOL:
        return put(cx, f, v->of.b ? 1 : 0);
    case CT_S8:
    case CT_U8:
    case CT_S16:
    case CT_U16:
    case CT_S32:
    case CT_U32:
        TRY(int_fits(cx, t, v, &x));
        return put(cx, f, (uint32_t)x);
    case CT_S64:
    case CT_U64:
        TRY(int_fits(cx, t, v, &x));
        return put(cx, f, x);
    case CT_F32:
        return put(cx, f, bits32(isnan(v->of.f32) ? NAN : v->of.f32));
    case CT_F64:
        return put(cx, f, bits64(isnan(v->of.f64) ? (double)NAN : v->of.f64));
    case CT_CHAR:
        if (!valid_char(v->of.ch))
            return wasitls__canon_trap(cx, "host produced an invalid char %#x", v->of.ch);
        return put(cx, f, v->of.ch);
    case CT_STRING: {
        uint32_t p, n;
        TRY(store_string_range(cx, v->of.str.ptr, v->of.str.len, &p, &n));
        TRY(put(cx, f, p));
        return put(cx, f, n);
    }
    case CT_LIST: {
        uint32_t p, n;
        TRY(store_list(cx, v, t->t, &p, &n));
        TRY(put(cx, f, p));
        return put(cx, f, n);
    }
    case CT_RECORD:
    case CT_TUPLE:
        if (v->of.list.len != t->n || (t->n && !v->of.list.items)) return bad_value(cx, t, v);
        for (uint32_t i = 0; i < t->n; i++)
            TRY(lower_flat(cx, &v->of.list.items[i], t->elems[i], f));
        return 0;
    case CT_VARIANT:
    case CT_ENUM:
    case CT_OPTION:
    case CT_RESULT: {
        wasitls__ctype *tmp[2];
        wasitls__ctype *const *cases;
        uint32_t n = cases_of(t, &cases, tmp);
        uint32_t tag = v->of.var.tag;
        if (tag >= n)
            return wasitls__canon_trap(cx, "host produced %s case %u of %u",
                                       wasitls__ct_kind_name(t->kind), tag, n);
        TRY(put(cx, f, tag));
        size_t end = f->i + (t->nflat - 1);
        if (cases && cases[tag]) {
            if (!v->of.var.payload) return bad_value(cx, t, v);
            TRY(lower_flat(cx, v->of.var.payload, cases[tag], f));
        }
        while (f->i < end)
            TRY(put(cx, f, 0));
        return 0;
    }
    case CT_FLAGS:
        return put(cx, f, (uint32_t)v->of.flags & (t->n >= 32 ? 0xffffffffu : (1u << t->n) - 1));
    case CT_OWN:
    case CT_BORROW: {
        uint32_t h;
        if (!cx->lower_handle) return wasitls__canon_trap(cx, "handles cannot be passed here");
        TRY(cx->lower_handle(cx, t, v, &h));
        return put(cx, f, h);
    }
    default:
        return bad_value(cx, t, v);
    }
}

static uint64_t flat_count(wasitls__ctype *const *ts, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += ts[i]->nflat;
    return total;
}

static void flat_types(wasitls__ctype *const *ts, uint32_t n, uint8_t *out)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < ts[i]->nflat; j++)
            out[k++] = ts[i]->flat[j];
}

int wasitls__lift_flat_values(wasitls__canon *cx, wasitls__ctype *const *ts, uint32_t n,
                              uint32_t max_flat, const wasitls_val *vals, size_t nvals,
                              wasitls_cval *out)
{
    uint64_t total = flat_count(ts, n);
    if (total > max_flat) {
        if (nvals < 1) return wasitls__canon_trap(cx, "internal: missing argument pointer");
        uint32_t ptr = vals[0].of.i32, size, align;
        wasitls__tuple_layout(ts, n, &size, &align);
        TRY(range(cx, ptr, size, align, "argument tuple"));
        uint64_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            off = (off + ts[i]->align - 1) / ts[i]->align * ts[i]->align;
            TRY(wasitls__canon_load(cx, ptr + off, ts[i], &out[i]));
            off += ts[i]->size;
        }
        return 0;
    }
    uint8_t types[16];
    uint64_t bits[16];
    flat_types(ts, n, types);
    if (nvals < total) return wasitls__canon_trap(cx, "internal: too few core values");
    for (uint32_t i = 0; i < total; i++) {
        switch (types[i]) {
        case WASITLS_I32:
            bits[i] = vals[i].of.i32;
            break;
        case WASITLS_I64:
            bits[i] = vals[i].of.i64;
            break;
        case WASITLS_F32:
            bits[i] = bits32(vals[i].of.f32);
            break;
        default:
            bits[i] = bits64(vals[i].of.f64);
            break;
        }
    }
    flat f = {bits, 0, (size_t)total};
    for (uint32_t i = 0; i < n; i++)
        TRY(lift_flat(cx, ts[i], &f, &out[i]));
    return 0;
}

int wasitls__lower_flat_values(wasitls__canon *cx, wasitls__ctype *const *ts, uint32_t n,
                               uint32_t max_flat, const wasitls_cval *vs, wasitls_val *out,
                               size_t *nout, const uint32_t *retptr)
{
    uint64_t total = flat_count(ts, n);
    *nout = 0;
    if (total > max_flat) {
        uint32_t size, align, ptr;
        wasitls__tuple_layout(ts, n, &size, &align);
        if (retptr) {
            ptr = *retptr;
            TRY(range(cx, ptr, size, align, "result pointer"));
        } else {
            TRY(guest_alloc(cx, 0, 0, align, size, &ptr, "argument tuple"));
            out[0].kind = WASITLS_I32;
            out[0].of.i32 = ptr;
            *nout = 1;
        }
        uint64_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            off = (off + ts[i]->align - 1) / ts[i]->align * ts[i]->align;
            TRY(wasitls__canon_store(cx, &vs[i], ts[i], ptr + off));
            off += ts[i]->size;
        }
        return 0;
    }
    uint8_t types[16];
    uint64_t bits[16];
    flat_types(ts, n, types);
    flat f = {bits, 0, (size_t)total};
    for (uint32_t i = 0; i < n; i++)
        TRY(lower_flat(cx, &vs[i], ts[i], &f));
    for (uint32_t i = 0; i < total; i++) {
        out[i].kind = types[i];
        switch (types[i]) {
        case WASITLS_I32:
            out[i].of.i32 = (uint32_t)bits[i];
            break;
        case WASITLS_I64:
            out[i].of.i64 = bits[i];
            break;
        case WASITLS_F32:
            out[i].of.f32 = f32_of((uint32_t)bits[i]);
            break;
        default:
            out[i].of.f64 = f64_of(bits[i]);
            break;
        }
    }
    *nout = (size_t)total;
    return 0;
}
