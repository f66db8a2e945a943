/* A small WIT parser for host declarations: packages, interfaces, `use` (within the text, or of
 * interfaces added to the linker earlier, matched semver-compatibly), type/record/variant/enum/
 * flags/resource (constructor, methods, static functions), functions, and the type
 * constructors list/option/result/tuple/borrow/own. Worlds are skipped (the host serves
 * interfaces, not worlds); feature gates (@since/@unstable/@deprecated) are accepted and
 * ignored, so gated items are declared like any other. Names may be forward references within
 * a package: everything is parsed first and resolved afterwards. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum { TK_EOF, TK_ID, TK_VER, TK_NUM, TK_PUNCT, TK_ARROW };

typedef struct lexer {
    const char *s;
    size_t pos, len;
    int tk;
    const char *tp; /* token text */
    size_t tl;
    size_t tpos;
    bool esc; /* the identifier was written with a leading % */
    wasitls_error *err;
    wasitls__arena *a;
    int rc;
} lexer;

static void where(lexer *x, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && i < x->len; i++) {
        if (x->s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int lerr(lexer *x, const char *msg, const char *arg)
{
    if (x->rc) return x->rc;
    int line, col;
    where(x, x->tpos, &line, &col);
    x->rc = wasitls_error_set(x->err, WASITLS_E_INVALID, "WIT %d:%d: %s%s%s%s", line, col, msg,
                              arg ? " `" : "", arg ? arg : "", arg ? "`" : "");
    return x->rc;
}

static bool idch(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int skip_ws(lexer *x)
{
    for (;;) {
        while (x->pos < x->len && (x->s[x->pos] == ' ' || x->s[x->pos] == '\t' ||
                                   x->s[x->pos] == '\n' || x->s[x->pos] == '\r'))
            x->pos++;
        if (x->pos + 1 < x->len && x->s[x->pos] == '/' && x->s[x->pos + 1] == '/') {
            while (x->pos < x->len && x->s[x->pos] != '\n')
                x->pos++;
            continue;
        }
        if (x->pos + 1 < x->len && x->s[x->pos] == '/' && x->s[x->pos + 1] == '*') {
            int depth = 0;
            size_t start = x->pos;
            while (x->pos + 1 < x->len) {
                if (x->s[x->pos] == '/' && x->s[x->pos + 1] == '*') {
                    depth++;
                    x->pos += 2;
                } else if (x->s[x->pos] == '*' && x->s[x->pos + 1] == '/') {
                    depth--;
                    x->pos += 2;
                    if (!depth) break;
                } else {
                    x->pos++;
                }
            }
            if (depth) {
                x->tpos = start;
                return lerr(x, "unterminated comment", NULL);
            }
            continue;
        }
        return 0;
    }
}

/* Reads the next token. After '@', a version is lexed when a digit follows. */
static int next(lexer *x)
{
    if (x->rc) return x->rc;
    bool after_at = x->tk == TK_PUNCT && x->tl == 1 && x->tp[0] == '@';
    if (skip_ws(x)) return x->rc;
    x->tpos = x->pos;
    x->tp = x->s + x->pos;
    if (x->pos >= x->len) {
        x->tk = TK_EOF;
        x->tl = 0;
        return 0;
    }
    char c = x->s[x->pos];
    if (after_at && c >= '0' && c <= '9') {
        size_t e = x->pos;
        while (e < x->len && (idch(x->s[e]) || x->s[e] == '.' || x->s[e] == '+'))
            e++;
        while (e > x->pos && x->s[e - 1] == '.')
            e--; /* `@0.2.12.{a}`: the dot belongs to the use path */
        x->tk = TK_VER;
        x->tl = e - x->pos;
        x->pos = e;
        return 0;
    }
    if (c == '%' || (idch(c) && c != '-' && c != '_')) {
        size_t e = x->pos + (c == '%');
        bool digits = true;
        while (e < x->len && idch(x->s[e])) {
            if (x->s[e] < '0' || x->s[e] > '9') digits = false;
            e++;
        }
        x->esc = c == '%';
        if (c == '%') {
            x->tp++;
            x->tl = e - x->pos - 1;
            x->tk = TK_ID;
            if (!x->tl) return lerr(x, "empty identifier after %", NULL);
        } else {
            x->tl = e - x->pos;
            x->tk = digits ? TK_NUM : TK_ID;
        }
        x->pos = e;
        return 0;
    }
    if (c == '-' && x->pos + 1 < x->len && x->s[x->pos + 1] == '>') {
        x->tk = TK_ARROW;
        x->tl = 2;
        x->pos += 2;
        return 0;
    }
    if (strchr("{}()<>,:;.=/@*_", c)) {
        x->tk = TK_PUNCT;
        x->tl = 1;
        x->pos++;
        return 0;
    }
    char tmp[2] = {c, 0};
    return lerr(x, "unexpected character", tmp);
}

static bool is_p(lexer *x, char c)
{
    return x->tk == TK_PUNCT && x->tp[0] == c;
}

static bool is_kw(lexer *x, const char *kw)
{
    return x->tk == TK_ID && !x->esc && x->tl == strlen(kw) && memcmp(x->tp, kw, x->tl) == 0;
}

static int expect_p(lexer *x, char c)
{
    if (!is_p(x, c)) {
        char tmp[2] = {c, 0};
        return lerr(x, "expected", tmp);
    }
    return next(x);
}

static int ident(lexer *x, const char **out)
{
    if (x->tk != TK_ID) return lerr(x, "expected an identifier", NULL);
    *out = wasitls__arena_strndup(x->a, x->tp, x->tl);
    if (!*out) return x->rc = WASITLS_E_NOMEM;
    return next(x);
}

/* Skips `@name(...)` feature gates. */
static int gates_x(lexer *x)
{
    while (is_p(x, '@')) {
        if (next(x) || x->tk != TK_ID) return lerr(x, "expected a feature gate name after @", NULL);
        if (next(x)) return x->rc;
        if (is_p(x, '(')) {
            /* raw skip: gate arguments hold versions like 0.2.0 */
            size_t e = x->pos;
            while (e < x->len && x->s[e] != ')')
                e++;
            if (e >= x->len) return lerr(x, "unterminated feature gate", NULL);
            x->pos = e + 1;
            x->tk = TK_EOF;
            if (next(x)) return x->rc;
        }
    }
    return 0;
}

/* ---- AST ---- */

enum { WT_PRIM, WT_NAMED, WT_LIST, WT_OPTION, WT_RESULT, WT_TUPLE, WT_OWN, WT_BORROW };
typedef struct wty wty;
struct wty {
    uint8_t kind;
    uint8_t prim;
    const char *name;
    wty *a, *b;
    uint32_t n;
    wty **items;
    size_t pos;
};

enum { WD_ALIAS, WD_RECORD, WD_VARIANT, WD_ENUM, WD_FLAGS, WD_RESOURCE, WD_USE };
typedef struct witf witf;
typedef struct wdecl {
    const char *name;
    uint8_t kind;
    wty *alias;
    uint32_t n;
    const char **names;
    wty **types;
    /* WD_USE */
    const char *use_path; /* "iface" (local) or "ns:pkg/iface@ver" */
    const char *use_name;
    size_t pos;
    int state; /* 0 unresolved, 1 resolving, 2 done */
    wasitls__ctype *ct;
} wdecl;

enum { WF_PLAIN, WF_CTOR, WF_METHOD, WF_STATIC };
typedef struct wfn {
    const char *name;
    uint8_t kind;
    const char *res;
    uint32_t n;
    const char **pnames;
    wty **ptypes;
    wty *result;
    size_t pos;
} wfn;

struct witf {
    const char *name;
    const char *pkg;     /* "ns:pkg" */
    const char *version; /* or NULL */
    wasitls__vec decls;  /* wdecl */
    wasitls__vec fns;    /* wfn */
    wasitls__iface *out;
    bool duplicate; /* already registered in the linker: its definition is kept */
};

typedef struct wparser {
    lexer x;
    wasitls_linker *l;
    wasitls__vec itfs; /* witf* */
    const char *pkg, *version;
    uint32_t depth;
} wparser;

static int gates(wparser *p)
{
    return gates_x(&p->x);
}

static const struct {
    const char *n;
    uint8_t k;
} prim_names[] = {
    {"bool", CT_BOOL},   {"s8", CT_S8},     {"u8", CT_U8},         {"s16", CT_S16},
    {"u16", CT_U16},     {"s32", CT_S32},   {"u32", CT_U32},       {"s64", CT_S64},
    {"u64", CT_U64},     {"f32", CT_F32},   {"f64", CT_F64},       {"float32", CT_F32},
    {"float64", CT_F64}, {"char", CT_CHAR}, {"string", CT_STRING},
};

static int parse_ty(wparser *p, wty **out);

static wty *newty(wparser *p, uint8_t kind)
{
    wty *t = wasitls__arena_alloc(p->x.a, sizeof(*t));
    if (t) {
        t->kind = kind;
        t->pos = p->x.tpos;
    }
    return t;
}

static int ty_args(wparser *p, wty *t, uint32_t min, uint32_t max)
{
    lexer *x = &p->x;
    wasitls__vec items;
    wasitls__vec_init(&items, sizeof(wty *));
    int rc = 0;
    if ((rc = expect_p(x, '<'))) goto Exit;
    while (!is_p(x, '>')) {
        wty **slot = wasitls__vec_push(&items);
        if (!slot) {
            rc = x->rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        if (is_p(x, '_')) {
            *slot = NULL;
            if ((rc = next(x))) goto Exit;
        } else if ((rc = parse_ty(p, slot))) {
            goto Exit;
        }
        if (items.len > WASITLS__MAX_FIELDS) {
            rc = lerr(x, "too many type arguments", NULL);
            goto Exit;
        }
        if (is_p(x, ','))
            if ((rc = next(x)))
                goto Exit;
            else
                continue;
        else if (!is_p(x, '>')) {
            rc = lerr(x, "expected , or >", NULL);
            goto Exit;
        }
    }
    if ((rc = next(x))) goto Exit;
    if (items.len < min || items.len > max) {
        rc = lerr(x, "wrong number of type arguments", NULL);
        goto Exit;
    }
    t->n = (uint32_t)items.len;
    t->items = wasitls__arena_array(x->a, items.len ? items.len : 1, sizeof(wty *));
    if (!t->items) {
        rc = x->rc = WASITLS_E_NOMEM;
        goto Exit;
    }
    if (items.len) memcpy(t->items, items.items, items.len * sizeof(wty *));
Exit:
    wasitls__vec_free(&items);
    return rc;
}

static int parse_ty(wparser *p, wty **out)
{
    lexer *x = &p->x;
    if (++p->depth > WASITLS__MAX_TYPE_DEPTH) return lerr(x, "type nested too deeply", NULL);
    if (x->tk != TK_ID) return lerr(x, "expected a type", NULL);
    wty *t = NULL;
    for (size_t i = 0; i < sizeof(prim_names) / sizeof(prim_names[0]); i++) {
        if (is_kw(x, prim_names[i].n)) {
            if (!(t = newty(p, WT_PRIM))) return x->rc = WASITLS_E_NOMEM;
            t->prim = prim_names[i].k;
            *out = t;
            p->depth--;
            return next(x);
        }
    }
    if (is_kw(x, "list") || is_kw(x, "option") || is_kw(x, "tuple") || is_kw(x, "result") ||
        is_kw(x, "own") || is_kw(x, "borrow")) {
        uint8_t k = is_kw(x, "list")     ? WT_LIST
                    : is_kw(x, "option") ? WT_OPTION
                    : is_kw(x, "tuple")  ? WT_TUPLE
                    : is_kw(x, "result") ? WT_RESULT
                    : is_kw(x, "own")    ? WT_OWN
                                         : WT_BORROW;
        if (!(t = newty(p, k))) return x->rc = WASITLS_E_NOMEM;
        if (next(x)) return x->rc;
        if (k == WT_RESULT && !is_p(x, '<')) {
            /* bare `result` */
        } else if (k == WT_OWN || k == WT_BORROW) {
            if (expect_p(x, '<') || ident(x, &t->name) || expect_p(x, '>')) return x->rc;
        } else {
            if (ty_args(p, t, 1, k == WT_TUPLE ? WASITLS__MAX_FIELDS : k == WT_RESULT ? 2 : 1))
                return x->rc;
            if (k == WT_LIST || k == WT_OPTION) {
                t->a = t->items[0];
                if (!t->a) return lerr(x, "`_` is only allowed in result<_, E>", NULL);
            } else if (k == WT_RESULT) {
                t->a = t->items[0];
                t->b = t->n > 1 ? t->items[1] : NULL;
                if (t->n > 1 && !t->b) return lerr(x, "`_` is only allowed for the ok type", NULL);
            } else {
                for (uint32_t i = 0; i < t->n; i++)
                    if (!t->items[i]) return lerr(x, "`_` is only allowed in result<_, E>", NULL);
            }
        }
        *out = t;
        p->depth--;
        return 0;
    }
    if (is_kw(x, "future") || is_kw(x, "stream") || is_kw(x, "error-context"))
        return lerr(x, "async types are not supported:", "future/stream/error-context");
    if (!(t = newty(p, WT_NAMED))) return x->rc = WASITLS_E_NOMEM;
    if (ident(x, &t->name)) return x->rc;
    *out = t;
    p->depth--;
    return 0;
}

static int params(wparser *p, wfn *f, bool self)
{
    lexer *x = &p->x;
    wasitls__vec names, types;
    wasitls__vec_init(&names, sizeof(const char *));
    wasitls__vec_init(&types, sizeof(wty *));
    int rc = 0;
    if (self) {
        const char **n = wasitls__vec_push(&names);
        wty **t = wasitls__vec_push(&types);
        wty *b = newty(p, WT_BORROW);
        if (!n || !t || !b) {
            rc = x->rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        b->name = f->res;
        *n = "self";
        *t = b;
    }
    if ((rc = expect_p(x, '('))) goto Exit;
    while (!is_p(x, ')')) {
        const char **n = wasitls__vec_push(&names);
        wty **t = wasitls__vec_push(&types);
        if (!n || !t) {
            rc = x->rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        if ((rc = ident(x, n)) || (rc = expect_p(x, ':')) || (rc = parse_ty(p, t))) goto Exit;
        if (names.len > WASITLS__MAX_FIELDS) {
            rc = lerr(x, "too many parameters", NULL);
            goto Exit;
        }
        if (is_p(x, ',')) {
            if ((rc = next(x))) goto Exit;
        } else if (!is_p(x, ')')) {
            rc = lerr(x, "expected , or )", NULL);
            goto Exit;
        }
    }
    if ((rc = next(x))) goto Exit;
    f->n = (uint32_t)names.len;
    f->pnames = wasitls__arena_array(x->a, names.len + 1, sizeof(char *));
    f->ptypes = wasitls__arena_array(x->a, names.len + 1, sizeof(wty *));
    if (!f->pnames || !f->ptypes) {
        rc = x->rc = WASITLS_E_NOMEM;
        goto Exit;
    }
    if (names.len) {
        memcpy(f->pnames, names.items, names.len * sizeof(char *));
        memcpy(f->ptypes, types.items, names.len * sizeof(wty *));
    }
    if (x->tk == TK_ARROW) {
        if ((rc = next(x))) goto Exit;
        if (is_p(x, '('))
            rc = lerr(x, "named results are not supported", NULL);
        else
            rc = parse_ty(p, &f->result);
    }
Exit:
    wasitls__vec_free(&names);
    wasitls__vec_free(&types);
    return rc;
}

static int functype(wparser *p, wfn *f, bool self)
{
    lexer *x = &p->x;
    if (is_kw(x, "async")) return lerr(x, "async functions are not supported", NULL);
    if (!is_kw(x, "func")) return lerr(x, "expected func", NULL);
    if (next(x)) return x->rc;
    return params(p, f, self);
}

static wfn *push_fn(wparser *p, witf *it)
{
    wfn *f = wasitls__vec_push(&it->fns);
    if (!f)
        p->x.rc = WASITLS_E_NOMEM;
    else
        f->pos = p->x.tpos;
    return f;
}

static wdecl *push_decl(wparser *p, witf *it, const char *name, uint8_t kind)
{
    for (size_t i = 0; i < it->decls.len; i++)
        if (strcmp(WASITLS__VEC_AT(&it->decls, wdecl, i).name, name) == 0) {
            lerr(&p->x, "duplicate type name", name);
            return NULL;
        }
    wdecl *d = wasitls__vec_push(&it->decls);
    if (!d) {
        p->x.rc = WASITLS_E_NOMEM;
        return NULL;
    }
    d->name = name;
    d->kind = kind;
    d->pos = p->x.tpos;
    return d;
}

/* { a, b: t, c(t), ... } bodies */
static int body(wparser *p, wdecl *d, bool typed, bool optional_payload)
{
    lexer *x = &p->x;
    wasitls__vec names, types;
    wasitls__vec_init(&names, sizeof(const char *));
    wasitls__vec_init(&types, sizeof(wty *));
    int rc = 0;
    if ((rc = expect_p(x, '{'))) goto Exit;
    while (!is_p(x, '}')) {
        const char **n = wasitls__vec_push(&names);
        wty **t = wasitls__vec_push(&types);
        if (!n || !t) {
            rc = x->rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        if ((rc = gates_x(x)) || (rc = ident(x, n))) goto Exit;
        if (typed) {
            if ((rc = expect_p(x, ':')) || (rc = parse_ty(p, t))) goto Exit;
        } else if (optional_payload && is_p(x, '(')) {
            if ((rc = next(x)) || (rc = parse_ty(p, t)) || (rc = expect_p(x, ')'))) goto Exit;
        }
        if (names.len > WASITLS__MAX_FIELDS) {
            rc = lerr(x, "too many members", NULL);
            goto Exit;
        }
        if (is_p(x, ',')) {
            if ((rc = next(x))) goto Exit;
        } else if (!is_p(x, '}')) {
            rc = lerr(x, "expected , or }", NULL);
            goto Exit;
        }
    }
    if ((rc = next(x))) goto Exit;
    d->n = (uint32_t)names.len;
    d->names = wasitls__arena_array(x->a, names.len + 1, sizeof(char *));
    d->types = wasitls__arena_array(x->a, names.len + 1, sizeof(wty *));
    if (!d->names || !d->types) {
        rc = x->rc = WASITLS_E_NOMEM;
        goto Exit;
    }
    if (names.len) {
        memcpy(d->names, names.items, names.len * sizeof(char *));
        memcpy(d->types, types.items, names.len * sizeof(wty *));
    }
    for (uint32_t i = 0; i < d->n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(d->names[i], d->names[j]) == 0) {
                rc = lerr(x, "duplicate member name", d->names[i]);
                goto Exit;
            }
Exit:
    wasitls__vec_free(&names);
    wasitls__vec_free(&types);
    return rc;
}

/* use path: `iface` | `ns:pkg/iface` | `ns:pkg/iface@ver` -> text */
static int use_path(wparser *p, const char **out)
{
    lexer *x = &p->x;
    size_t start = x->tpos;
    const char *first;
    if (ident(x, &first)) return x->rc;
    if (is_p(x, ':')) {
        const char *pkg, *iface;
        if (next(x) || ident(x, &pkg) || expect_p(x, '/') || ident(x, &iface)) return x->rc;
        if (is_p(x, '@')) {
            if (next(x)) return x->rc;
            if (x->tk != TK_VER) return lerr(x, "expected a version", NULL);
            if (next(x)) return x->rc;
        }
    }
    /* the text from start up to the end of the last token */
    size_t end = x->tpos;
    while (end > start && (x->s[end - 1] == ' ' || x->s[end - 1] == '\n' || x->s[end - 1] == '\t' ||
                           x->s[end - 1] == '\r'))
        end--;
    char *s = wasitls__arena_alloc(x->a, end - start + 1);
    if (!s) return x->rc = WASITLS_E_NOMEM;
    size_t k = 0;
    for (size_t i = start; i < end; i++)
        if (x->s[i] != ' ' && x->s[i] != '%' && x->s[i] != '\t' && x->s[i] != '\n' &&
            x->s[i] != '\r')
            s[k++] = x->s[i];
    *out = s;
    return 0;
}

static int interface_items(wparser *p, witf *it)
{
    lexer *x = &p->x;
    if (expect_p(x, '{')) return x->rc;
    while (!is_p(x, '}')) {
        if (gates(p)) return x->rc;
        if (x->tk == TK_EOF) return lerr(x, "unexpected end of text in interface", it->name);
        if (is_kw(x, "use")) {
            const char *path;
            if (next(x) || use_path(p, &path) || expect_p(x, '.') || expect_p(x, '{')) return x->rc;
            while (!is_p(x, '}')) {
                const char *orig, *as;
                if (ident(x, &orig)) return x->rc;
                as = orig;
                if (is_kw(x, "as") && (next(x) || ident(x, &as))) return x->rc;
                wdecl *d = push_decl(p, it, as, WD_USE);
                if (!d) return x->rc;
                d->use_path = path;
                d->use_name = orig;
                if (is_p(x, ',')) {
                    if (next(x)) return x->rc;
                } else if (!is_p(x, '}')) {
                    return lerr(x, "expected , or }", NULL);
                }
            }
            if (next(x) || expect_p(x, ';')) return x->rc;
        } else if (is_kw(x, "type")) {
            const char *n;
            if (next(x) || ident(x, &n) || expect_p(x, '=')) return x->rc;
            wdecl *d = push_decl(p, it, n, WD_ALIAS);
            if (!d || parse_ty(p, &d->alias) || expect_p(x, ';')) return x->rc;
        } else if (is_kw(x, "record") || is_kw(x, "variant") || is_kw(x, "enum") ||
                   is_kw(x, "flags")) {
            uint8_t k = is_kw(x, "record")    ? WD_RECORD
                        : is_kw(x, "variant") ? WD_VARIANT
                        : is_kw(x, "enum")    ? WD_ENUM
                                              : WD_FLAGS;
            const char *n;
            if (next(x) || ident(x, &n)) return x->rc;
            wdecl *d = push_decl(p, it, n, k);
            if (!d || body(p, d, k == WD_RECORD, k == WD_VARIANT)) return x->rc;
        } else if (is_kw(x, "resource")) {
            const char *n;
            if (next(x) || ident(x, &n)) return x->rc;
            if (!push_decl(p, it, n, WD_RESOURCE)) return x->rc;
            if (is_p(x, ';')) {
                if (next(x)) return x->rc;
                continue;
            }
            if (expect_p(x, '{')) return x->rc;
            while (!is_p(x, '}')) {
                if (gates(p)) return x->rc;
                wfn *f = push_fn(p, it);
                if (!f) return x->rc;
                f->res = n;
                if (is_kw(x, "constructor")) {
                    f->kind = WF_CTOR;
                    f->name = wasitls__arena_printf(x->a, "[constructor]%s", n);
                    if (!f->name) return x->rc = WASITLS_E_NOMEM;
                    if (next(x) || params(p, f, false)) return x->rc;
                    if (!f->result) {
                        wty *o = newty(p, WT_OWN);
                        if (!o) return x->rc = WASITLS_E_NOMEM;
                        o->name = n;
                        f->result = o;
                    }
                } else {
                    const char *m;
                    if (ident(x, &m) || expect_p(x, ':')) return x->rc;
                    bool st = is_kw(x, "static");
                    if (st && next(x)) return x->rc;
                    f->kind = st ? WF_STATIC : WF_METHOD;
                    f->name =
                        wasitls__arena_printf(x->a, "[%s]%s.%s", st ? "static" : "method", n, m);
                    if (!f->name) return x->rc = WASITLS_E_NOMEM;
                    if (functype(p, f, !st)) return x->rc;
                }
                if (expect_p(x, ';')) return x->rc;
            }
            if (next(x)) return x->rc;
            if (is_p(x, ';') && next(x)) return x->rc;
        } else if (x->tk == TK_ID) {
            wfn *f = push_fn(p, it);
            if (!f || ident(x, &f->name) || expect_p(x, ':') || functype(p, f, false) ||
                expect_p(x, ';'))
                return x->rc;
        } else {
            return lerr(x, "unexpected token in interface", it->name);
        }
    }
    return next(x);
}

static int skip_braces(lexer *x)
{
    if (!is_p(x, '{')) return lerr(x, "expected {", NULL);
    int depth = 0;
    do {
        if (x->tk == TK_EOF) return lerr(x, "unexpected end of text in world", NULL);
        if (is_p(x, '{'))
            depth++;
        else if (is_p(x, '}'))
            depth--;
        if (next(x)) return x->rc;
    } while (depth > 0);
    return 0;
}

static int package_items(wparser *p, bool nested);

static int package_decl(wparser *p, bool *braced)
{
    lexer *x = &p->x;
    const char *ns, *name;
    if (next(x) || ident(x, &ns) || expect_p(x, ':') || ident(x, &name)) return x->rc;
    while (is_p(x, ':') || is_p(x, '/')) { /* nested namespaces: keep the last two parts */
        ns = name;
        if (next(x) || ident(x, &name)) return x->rc;
    }
    const char *ver = NULL;
    if (is_p(x, '@')) {
        if (next(x)) return x->rc;
        if (x->tk != TK_VER) return lerr(x, "expected a package version", NULL);
        ver = wasitls__arena_strndup(x->a, x->tp, x->tl);
        wasitls__semver sv;
        if (!ver || !wasitls__semver_parse(x->tp, x->tl, &sv))
            return lerr(x, "bad package version", ver);
        if (next(x)) return x->rc;
    }
    p->pkg = wasitls__arena_printf(x->a, "%s:%s", ns, name);
    p->version = ver;
    if (!p->pkg) return x->rc = WASITLS_E_NOMEM;
    if (is_p(x, '{')) {
        *braced = true;
        return 0;
    }
    *braced = false;
    return expect_p(x, ';');
}

static int package_items(wparser *p, bool nested)
{
    lexer *x = &p->x;
    for (;;) {
        if (gates(p)) return x->rc;
        if (x->tk == TK_EOF) {
            if (nested) return lerr(x, "unexpected end of text in package", NULL);
            return 0;
        }
        if (nested && is_p(x, '}')) return next(x);
        if (is_kw(x, "package")) {
            const char *opkg = p->pkg, *over = p->version;
            bool braced = false;
            if (package_decl(p, &braced)) return x->rc;
            if (braced) {
                if (p->depth >= 4) return lerr(x, "packages nested too deeply", NULL);
                p->depth++;
                if (next(x) || package_items(p, true)) return x->rc;
                p->depth--;
                p->pkg = opkg;
                p->version = over;
            }
        } else if (is_kw(x, "interface")) {
            const char *n;
            if (next(x) || ident(x, &n)) return x->rc;
            witf *it = wasitls__arena_alloc(x->a, sizeof(*it));
            witf **slot = wasitls__vec_push(&p->itfs);
            if (!it || !slot) return x->rc = WASITLS_E_NOMEM;
            *slot = it;
            it->name = n;
            it->pkg = p->pkg;
            it->version = p->version;
            wasitls__vec_init(&it->decls, sizeof(wdecl));
            wasitls__vec_init(&it->fns, sizeof(wfn));
            if (interface_items(p, it)) return x->rc;
        } else if (is_kw(x, "world")) {
            if (next(x)) return x->rc;
            if (x->tk != TK_ID) return lerr(x, "expected a world name", NULL);
            if (next(x) || skip_braces(x)) return x->rc;
        } else if (is_kw(x, "use")) {
            const char *path, *as;
            if (next(x) || use_path(p, &path)) return x->rc;
            if (is_kw(x, "as") && (next(x) || ident(x, &as))) return x->rc;
            if (expect_p(x, ';')) return x->rc;
        } else {
            return lerr(x, "expected package, interface, world or use", NULL);
        }
    }
}

/* ---- resolution ---- */

static const char *full_name(wparser *p, witf *it)
{
    if (it->version)
        return wasitls__arena_printf(&p->l->arena, "%s/%s@%s", it->pkg, it->name, it->version);
    return wasitls__arena_printf(&p->l->arena, "%s/%s", it->pkg, it->name);
}

static int resolve_named(wparser *p, witf *it, const char *name, size_t pos, wasitls__ctype **out);

static int rerr(wparser *p, size_t pos, const char *msg, const char *arg)
{
    char copy[WASITLS_ERROR_MSG_MAX];
    if (p->x.err && msg == p->x.err->msg) { /* a message from a callee: keep it */
        snprintf(copy, sizeof copy, "%s", msg);
        msg = copy;
    }
    p->x.tpos = pos;
    return lerr(&p->x, msg, arg);
}

static int resolve_ty(wparser *p, witf *it, wty *t, wasitls__ctype **out)
{
    wasitls__arena *a = &p->l->arena;
    wasitls__ctype *ct = NULL;
    wasitls_error *err = p->x.err;
    switch (t->kind) {
    case WT_PRIM:
        *out = wasitls__ct_prim(t->prim);
        return 0;
    case WT_NAMED:
        if (resolve_named(p, it, t->name, t->pos, &ct)) return p->x.rc;
        if (ct->kind == CT_RESOURCE) { /* a bare resource name means own<R> */
            wasitls__ctype *o = wasitls__ct_new(a, CT_OWN, 0);
            if (!o) return p->x.rc = WASITLS_E_NOMEM;
            o->t = ct;
            if (wasitls__ct_finish(o, err)) return p->x.rc = err ? err->code : WASITLS_E_INVALID;
            ct = o;
        }
        *out = ct;
        return 0;
    case WT_OWN:
    case WT_BORROW: {
        wasitls__ctype *r;
        if (resolve_named(p, it, t->name, t->pos, &r)) return p->x.rc;
        if (r->kind != CT_RESOURCE)
            return rerr(p, t->pos, "own/borrow of a type that is not a resource:", t->name);
        ct = wasitls__ct_new(a, t->kind == WT_OWN ? CT_OWN : CT_BORROW, 0);
        if (!ct) return p->x.rc = WASITLS_E_NOMEM;
        ct->t = r;
        break;
    }
    case WT_LIST:
    case WT_OPTION:
        ct = wasitls__ct_new(a, t->kind == WT_LIST ? CT_LIST : CT_OPTION, 0);
        if (!ct || resolve_ty(p, it, t->a, &ct->t))
            return p->x.rc ? p->x.rc : (p->x.rc = WASITLS_E_NOMEM);
        break;
    case WT_RESULT:
        ct = wasitls__ct_new(a, CT_RESULT, 0);
        if (!ct) return p->x.rc = WASITLS_E_NOMEM;
        if ((t->a && resolve_ty(p, it, t->a, &ct->t)) || (t->b && resolve_ty(p, it, t->b, &ct->e)))
            return p->x.rc;
        break;
    case WT_TUPLE:
        ct = wasitls__ct_new(a, CT_TUPLE, t->n);
        if (!ct) return p->x.rc = WASITLS_E_NOMEM;
        for (uint32_t i = 0; i < t->n; i++)
            if (resolve_ty(p, it, t->items[i], &ct->elems[i])) return p->x.rc;
        break;
    }
    if (wasitls__ct_finish(ct, err)) return rerr(p, t->pos, err ? err->msg : "bad type", NULL);
    *out = ct;
    return 0;
}

static witf *local_iface(wparser *p, const char *pkg, const char *ver, const char *name)
{
    for (size_t i = 0; i < p->itfs.len; i++) {
        witf *o = WASITLS__VEC_AT(&p->itfs, witf *, i);
        if (strcmp(o->name, name) == 0 && strcmp(o->pkg, pkg) == 0 &&
            ((!o->version && !ver) || (o->version && ver && strcmp(o->version, ver) == 0)))
            return o;
    }
    return NULL;
}

static int resolve_decl(wparser *p, witf *it, wdecl *d)
{
    if (d->state == 2) return 0;
    if (d->state == 1) return rerr(p, d->pos, "type refers to itself:", d->name);
    d->state = 1;
    wasitls__arena *a = &p->l->arena;
    wasitls_error *err = p->x.err;
    wasitls__ctype *ct = NULL;
    switch (d->kind) {
    case WD_ALIAS:
        if (resolve_ty(p, it, d->alias, &ct)) return p->x.rc;
        break;
    case WD_USE: {
        const char *path = d->use_path;
        if (!strchr(path, ':')) {
            witf *o = local_iface(p, it->pkg, it->version, path);
            if (!o) return rerr(p, d->pos, "use of an unknown interface:", path);
            if (resolve_named(p, o, d->use_name, d->pos, &ct)) return p->x.rc;
        } else {
            /* another package: prefer what the linker already has (exact, then
             * semver-compatible: one host implementation serves every 0.2.x), then an
             * interface of this text */
            wasitls__iface *li = NULL;
            for (size_t i = 0; i < p->l->ifaces.len && !li; i++) {
                wasitls__iface *c = WASITLS__VEC_AT(&p->l->ifaces, wasitls__iface *, i);
                if (strcmp(c->full, path) == 0) li = c;
            }
            if (!li) /* a compatible version already served by the host wins over a copy here */
                li = wasitls__linker_find(p->l, path, strlen(path));
            witf *o = NULL;
            if (!li) {
                const char *slash = strchr(path, '/');
                const char *at = strchr(path, '@');
                char pkg[256], nm[256];
                size_t pl = (size_t)(slash - path);
                size_t nl = at ? (size_t)(at - slash - 1) : strlen(slash + 1);
                if (slash && pl < sizeof(pkg) && nl < sizeof(nm)) {
                    memcpy(pkg, path, pl);
                    pkg[pl] = 0;
                    memcpy(nm, slash + 1, nl);
                    nm[nl] = 0;
                    o = local_iface(p, pkg, at ? at + 1 : NULL, nm);
                }
            }
            if (li) {
                for (uint32_t i = 0; i < li->ntypes && !ct; i++)
                    if (strcmp(li->type_names[i], d->use_name) == 0) ct = li->types[i];
                if (!ct) return rerr(p, d->pos, "used interface has no such type:", d->use_name);
            } else if (o) {
                if (resolve_named(p, o, d->use_name, d->pos, &ct)) return p->x.rc;
            } else {
                return rerr(p, d->pos,
                            "use of an interface that is not declared (add its WIT first):", path);
            }
        }
        break;
    }
    case WD_RESOURCE:
        ct = wasitls__ct_new(a, CT_RESOURCE, 0);
        if (!ct) return p->x.rc = WASITLS_E_NOMEM;
        ct->res->origin = RES_HOST;
        ct->res->name = wasitls__arena_strndup(a, d->name, strlen(d->name));
        ct->res->iface = it->out ? it->out->full : NULL;
        ct->res->id = ++p->l->next_res_id;
        break;
    default: {
        uint8_t k = d->kind == WD_RECORD    ? CT_RECORD
                    : d->kind == WD_VARIANT ? CT_VARIANT
                    : d->kind == WD_ENUM    ? CT_ENUM
                                            : CT_FLAGS;
        ct = wasitls__ct_new(a, k, d->n);
        if (!ct) return p->x.rc = WASITLS_E_NOMEM;
        for (uint32_t i = 0; i < d->n; i++) {
            ct->names[i] = wasitls__arena_strndup(a, d->names[i], strlen(d->names[i]));
            if (!ct->names[i]) return p->x.rc = WASITLS_E_NOMEM;
            if (d->types[i] && resolve_ty(p, it, d->types[i], &ct->elems[i])) return p->x.rc;
        }
        if (wasitls__ct_finish(ct, err)) return rerr(p, d->pos, err ? err->msg : "bad type", NULL);
    }
    }
    d->ct = ct;
    d->state = 2;
    return 0;
}

static int resolve_named(wparser *p, witf *it, const char *name, size_t pos, wasitls__ctype **out)
{
    for (size_t i = 0; i < it->decls.len; i++) {
        wdecl *d = &WASITLS__VEC_AT(&it->decls, wdecl, i);
        if (strcmp(d->name, name) == 0) {
            if (resolve_decl(p, it, d)) return p->x.rc;
            *out = d->ct;
            return 0;
        }
    }
    return rerr(p, pos, "unknown type name", name);
}

static int build_iface(wparser *p, witf *it)
{
    wasitls__arena *a = &p->l->arena;
    wasitls__iface *o = it->out;
    for (size_t i = 0; i < it->decls.len; i++)
        if (resolve_decl(p, it, &WASITLS__VEC_AT(&it->decls, wdecl, i))) return p->x.rc;
    o->ntypes = (uint32_t)it->decls.len;
    o->type_names = wasitls__arena_array(a, o->ntypes + 1, sizeof(char *));
    o->types = wasitls__arena_array(a, o->ntypes + 1, sizeof(wasitls__ctype *));
    o->nfuncs = (uint32_t)it->fns.len;
    o->funcs = wasitls__arena_array(a, o->nfuncs + 1, sizeof(wasitls__hfunc));
    if (!o->type_names || !o->types || !o->funcs) return p->x.rc = WASITLS_E_NOMEM;
    for (uint32_t i = 0; i < o->ntypes; i++) {
        wdecl *d = &WASITLS__VEC_AT(&it->decls, wdecl, i);
        o->type_names[i] = wasitls__arena_strndup(a, d->name, strlen(d->name));
        o->types[i] = d->ct;
        if (!o->type_names[i]) return p->x.rc = WASITLS_E_NOMEM;
    }
    for (uint32_t i = 0; i < o->nfuncs; i++) {
        wfn *f = &WASITLS__VEC_AT(&it->fns, wfn, i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(o->funcs[j].name, f->name) == 0)
                return rerr(p, f->pos, "duplicate function", f->name);
        wasitls__ctype *ft = wasitls__ct_new(a, CT_FUNC, f->n);
        if (!ft) return p->x.rc = WASITLS_E_NOMEM;
        for (uint32_t j = 0; j < f->n; j++) {
            ft->names[j] = wasitls__arena_strndup(a, f->pnames[j], strlen(f->pnames[j]));
            if (!ft->names[j]) return p->x.rc = WASITLS_E_NOMEM;
            if (resolve_ty(p, it, f->ptypes[j], &ft->elems[j])) return p->x.rc;
        }
        if (f->result) {
            if (resolve_ty(p, it, f->result, &ft->t)) return p->x.rc;
            if (ft->t->has_borrow) return rerr(p, f->pos, "borrow in a function result:", f->name);
        }
        ft->has_result = ft->t != NULL;
        o->funcs[i].name = wasitls__arena_strndup(a, f->name, strlen(f->name));
        o->funcs[i].type = ft;
        if (!o->funcs[i].name) return p->x.rc = WASITLS_E_NOMEM;
    }
    return 0;
}

int wasitls__wit_parse(wasitls_linker *l, const char *text, size_t len, wasitls_error *err)
{
    wparser p;
    memset(&p, 0, sizeof(p));
    p.l = l;
    p.x.s = text;
    p.x.len = len;
    p.x.err = err;
    wasitls__arena scratch;
    wasitls__arena_init(&scratch);
    p.x.a = &scratch;
    wasitls__vec_init(&p.itfs, sizeof(witf *));
    size_t nold = l->ifaces.len;
    int rc = 0;
    if (len > (64u << 20)) {
        rc = wasitls_error_set(err, WASITLS_E_LIMIT, "WIT text too large");
        goto Exit;
    }
    if ((rc = next(&p.x)) || (rc = package_items(&p, false))) goto Exit;
    /* several files of one package may be concatenated in any order: interfaces that came
     * before the `package` line belong to it */
    for (size_t i = 0; i < p.itfs.len; i++) {
        witf *it = WASITLS__VEC_AT(&p.itfs, witf *, i);
        if (!it->pkg) {
            if (!p.pkg) {
                rc = wasitls_error_set(err, WASITLS_E_INVALID,
                                       "WIT: interface `%s` but no package declaration", it->name);
                goto Exit;
            }
            it->pkg = p.pkg;
            it->version = p.version;
        }
    }
    /* create the linker interfaces first so resources know their interface name */
    for (size_t i = 0; i < p.itfs.len; i++) {
        witf *it = WASITLS__VEC_AT(&p.itfs, witf *, i);
        const char *full = full_name(&p, it);
        if (!full) {
            rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        /* already served (same or a semver-compatible version): the first definition is kept,
         * so that a bundled copy of a dependency (wasi:io@0.2.6 next to the host's 0.2.12)
         * does not bring a second, incompatible set of resource types */
        for (size_t j = 0; j < nold; j++)
            if (strcmp(WASITLS__VEC_AT(&l->ifaces, wasitls__iface *, j)->full, full) == 0)
                it->duplicate = true;
        if (wasitls__linker_find(l, full, strlen(full))) it->duplicate = true;
        for (size_t j = 0; j < i; j++) {
            witf *o = WASITLS__VEC_AT(&p.itfs, witf *, j);
            if (strcmp(o->out->full, full) == 0) {
                rc = rerr(&p, 0, "interface declared twice:", full);
                goto Exit;
            }
        }
        wasitls__iface *o = wasitls__arena_alloc(&l->arena, sizeof(*o));
        if (!o) {
            rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        o->full = full;
        o->base = wasitls__arena_printf(&l->arena, "%s/%s", it->pkg, it->name);
        if (!o->base) {
            rc = WASITLS_E_NOMEM;
            goto Exit;
        }
        if (it->version) {
            const char *v = strchr(full, '@') + 1;
            wasitls__semver_parse(v, strlen(v), &o->ver);
        }
        it->out = o;
    }
    for (size_t i = 0; i < p.itfs.len; i++) {
        witf *it = WASITLS__VEC_AT(&p.itfs, witf *, i);
        if ((rc = build_iface(&p, it))) goto Exit;
    }
    for (size_t i = 0; i < p.itfs.len; i++) {
        witf *it = WASITLS__VEC_AT(&p.itfs, witf *, i);
        if (!it->duplicate && (rc = wasitls__linker_add_iface(l, it->out, err))) goto Exit;
    }
Exit:
    if (rc) {
        l->ifaces.len = nold; /* nothing of a failed text is visible */
        if (err && !err->code) wasitls_error_set(err, rc, "%s", wasitls_strerror(rc));
    }
    for (size_t i = 0; i < p.itfs.len; i++) {
        witf *it = WASITLS__VEC_AT(&p.itfs, witf *, i);
        wasitls__vec_free(&it->decls);
        wasitls__vec_free(&it->fns);
    }
    wasitls__vec_free(&p.itfs);
    wasitls__arena_free(&scratch);
    return rc;
}
