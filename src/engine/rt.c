/* The engine's implementation of the wasm-rt API (see prelude.h) and of guest calls.
 *
 * Traps. Every entry into guest code goes through wasitls__guest_call, which pushes a frame
 * (a jmp_buf) on a per-thread stack. wasm_rt_trap, a host function that fails, and the fault
 * handler all jump to the innermost frame only, so host -> guest -> host -> guest nesting
 * unwinds one level at a time. A frame is in GUEST mode while generated code runs and in
 * HOST mode while a host function called by the guest runs; only a fault taken in GUEST mode
 * can be a trap, and only if its address lies in a linear-memory reservation (out of bounds)
 * or just below the stack pointer of the call (stack exhaustion). Every other fault is passed
 * on to whatever handler was installed before us (or the default action), so host bugs crash
 * as they would without wasitls.
 *
 * Memory. Each linear memory reserves 8 GiB + 64 KiB of PROT_NONE address space: a wasm2c
 * access is base + u32 address + u32 offset, so it can never leave the reservation, and
 * everything past the accessible pages faults. Growing mprotects more pages; freeing unmaps
 * the whole reservation.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define PAGE (65536ull)
#define RESERVATION ((8ull << 30) + PAGE)
#define MAX_PAGES 65536u
/* How far below the stack pointer of a guest call a fault still counts as stack exhaustion
 * (the stack limit is typically 8 MiB; huge generated frames can jump further). */
#define STACK_WINDOW ((uintptr_t)1 << 30)

enum { MODE_HOST = 0, MODE_GUEST = 1 };

typedef struct frame {
    sigjmp_buf jb;
    struct frame *prev;
    volatile int mode;
    int code; /* WASITLS_E_* reported by the call */
    uintptr_t sp;
    char msg[WASITLS_ERROR_MSG_MAX];
} frame;

static _Thread_local frame *top;
static _Thread_local bool altstack_ready;

/* ---- reservations, looked up by the fault handler ---- */

typedef struct reservation {
    uintptr_t start, end;
    struct reservation *next;
} reservation;

static pthread_mutex_t res_lock = PTHREAD_MUTEX_INITIALIZER;
static reservation *volatile res_head;

static void res_add(reservation *r)
{
    pthread_mutex_lock(&res_lock);
    r->next = res_head;
    __atomic_store_n(&res_head, r, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&res_lock);
}

static void res_remove(uintptr_t start)
{
    pthread_mutex_lock(&res_lock);
    reservation *volatile *pp = &res_head;
    while (*pp && (*pp)->start != start)
        pp = &(*pp)->next;
    reservation *r = *pp;
    if (r) __atomic_store_n(pp, r->next, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&res_lock);
    free(r);
}

static bool res_contains(uintptr_t a)
{
    for (reservation *r = __atomic_load_n(&res_head, __ATOMIC_ACQUIRE); r; r = r->next)
        if (a >= r->start && a < r->end) return true;
    return false;
}

/* ---- traps ---- */

static const char *trap_text(wasm_rt_trap_t t)
{
    switch (t) {
    case WASM_RT_TRAP_OOB:
        return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW:
        return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO:
        return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION:
        return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE:
        return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT:
        return "indirect call to a null or mismatched table entry";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
        return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION:
        return "call stack exhausted";
    default:
        return "trap";
    }
}

static WASM_RT_NO_RETURN void trap_with(int code, const char *msg)
{
    frame *f = top;
    if (!f) {
        fprintf(stderr, "wasitls: guest trap outside of a guest call: %s\n", msg);
        abort();
    }
    f->code = code;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    f->mode = MODE_HOST;
    siglongjmp(f->jb, 1);
}

static WASM_RT_NO_RETURN void rt_trap(wasm_rt_trap_t t)
{
    trap_with(t == WASM_RT_TRAP_EXHAUSTION ? WASITLS_E_EXHAUSTION : WASITLS_E_TRAP, trap_text(t));
}

/* ---- fault handling ---- */

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    frame *f = top;
    if (f && f->mode == MODE_GUEST) {
        uintptr_t a = (uintptr_t)si->si_addr;
        if (res_contains(a)) {
            f->code = WASITLS_E_TRAP;
            snprintf(f->msg, sizeof f->msg, "%s", trap_text(WASM_RT_TRAP_OOB));
            f->mode = MODE_HOST;
            siglongjmp(f->jb, 1);
        }
        if (a < f->sp && f->sp - a < STACK_WINDOW) {
            f->code = WASITLS_E_EXHAUSTION;
            snprintf(f->msg, sizeof f->msg, "%s", trap_text(WASM_RT_TRAP_EXHAUSTION));
            f->mode = MODE_HOST;
            siglongjmp(f->jb, 1);
        }
    }
    /* Not a guest trap: behave as if we had never been installed. */
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
        signal(sig, SIG_DFL); /* returning re-executes the access, which now kills us */
        return;
    }
    old->sa_handler(sig);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    /* NODEFER: we leave the handler by siglongjmp without restoring a signal mask */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

static void ensure_thread_ready(void)
{
    pthread_once(&handler_once, install_handler);
    if (altstack_ready) return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= 65536) {
        altstack_ready = true; /* someone (e.g. a sanitizer) already gave this thread one */
        return;
    }
    /* Intentionally never freed: the thread may take a fault until it exits. */
    size_t sz = 256 * 1024;
    void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t ss = {.ss_sp = p, .ss_size = sz, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0) altstack_ready = true;
}

int wasitls__guest_call(void (*fn)(void *), void *arg, wasitls_error *err)
{
    ensure_thread_ready();
    frame f;
    f.prev = top;
    f.code = 0;
    f.msg[0] = 0;
    f.sp = (uintptr_t)__builtin_frame_address(0);
    f.mode = MODE_GUEST;
    top = &f;
    if (sigsetjmp(f.jb, 0) == 0) {
        fn(arg);
        top = f.prev;
        return 0;
    }
    top = f.prev;
    return wasitls_error_set(err, f.code, "%s", f.msg[0] ? f.msg : wasitls_strerror(f.code));
}

/* ---- host functions called by the guest ---- */

struct wasitls_caller {
    wasitls_instance *inst;
    char msg[WASITLS_ERROR_MSG_MAX];
};

int wasitls_caller_trap(wasitls_caller *caller, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(caller->msg, sizeof caller->msg, fmt, ap);
    va_end(ap);
    return WASITLS_E_TRAP;
}

wasitls_instance *wasitls_caller_instance(wasitls_caller *caller)
{
    return caller->inst;
}

static void rt_host_call(void *ctx, const wasitls__val *args, wasitls__val *results)
{
    wasitls__host_binding *hb = ctx;
    frame *f = top;
    wasitls_caller caller;
    caller.inst = hb->inst;
    caller.msg[0] = 0;
    for (uint32_t i = 0; i < hb->type->nresults; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].kind = hb->type->results[i];
    }
    f->mode = MODE_HOST;
    int rc = hb->fn(&caller, hb->env, (const wasitls_val *)args, (wasitls_val *)results);
    f->mode = MODE_GUEST;
    if (rc)
        trap_with(rc < 0 ? rc : WASITLS_E_TRAP, caller.msg[0] ? caller.msg : wasitls_strerror(rc));
}

/* ---- function types: one process-wide structural registry ---- */

typedef struct ftype {
    uint32_t np, nr;
    uint8_t *t;
} ftype;

static pthread_mutex_t ft_lock = PTHREAD_MUTEX_INITIALIZER;
static ftype *ft_tab;
static uint32_t ft_n, ft_cap;

static uint32_t ft_intern(uint32_t np, uint32_t nr, const uint8_t *t)
{
    uint32_t id = 0;
    pthread_mutex_lock(&ft_lock);
    for (uint32_t i = 0; i < ft_n; i++)
        if (ft_tab[i].np == np && ft_tab[i].nr == nr && !memcmp(ft_tab[i].t, t, np + nr)) {
            id = i + 1;
            goto out;
        }
    if (ft_n == ft_cap) {
        uint32_t cap = ft_cap ? ft_cap * 2 : 64;
        ftype *p = realloc(ft_tab, cap * sizeof *p);
        if (!p) goto out;
        ft_tab = p;
        ft_cap = cap;
    }
    uint8_t *copy = malloc(np + nr + 1);
    if (!copy) goto out;
    memcpy(copy, t, np + nr);
    ft_tab[ft_n] = (ftype){np, nr, copy};
    id = ++ft_n;
out:
    pthread_mutex_unlock(&ft_lock);
    return id;
}

static uint8_t rt_to_kind(wasm_rt_type_t t)
{
    switch (t) {
    case WASM_RT_I32:
        return WASITLS_I32;
    case WASM_RT_I64:
        return WASITLS_I64;
    case WASM_RT_F32:
        return WASITLS_F32;
    case WASM_RT_F64:
        return WASITLS_F64;
    case WASM_RT_FUNCREF:
        return WASITLS_FUNCREF;
    case WASM_RT_EXTERNREF:
        return WASITLS_EXTERNREF;
    }
    return 0;
}

static uint32_t rt_register_func_type(uint32_t np, uint32_t nr, const wasm_rt_type_t *types)
{
    uint8_t buf[2048];
    if (np + nr > sizeof buf) trap_with(WASITLS_E_LIMIT, "function type too large");
    for (uint32_t i = 0; i < np + nr; i++)
        buf[i] = rt_to_kind(types[i]);
    uint32_t id = ft_intern(np, nr, buf);
    if (!id) trap_with(WASITLS_E_NOMEM, "out of memory registering a function type");
    return id;
}

uint32_t wasitls__functype_id(const wasitls_functype *ft)
{
    uint8_t buf[2048];
    if (ft->nparams + ft->nresults > sizeof buf) return 0;
    memcpy(buf, ft->params, ft->nparams);
    memcpy(buf + ft->nparams, ft->results, ft->nresults);
    return ft_intern(ft->nparams, ft->nresults, buf);
}

/* ---- memories ---- */

static void rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max)
{
    memset(m, 0, sizeof *m);
    if (initial > MAX_PAGES) trap_with(WASITLS_E_TRAP, "memory too large");
    void *p =
        mmap(NULL, RESERVATION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        trap_with(WASITLS_E_NOMEM, "cannot reserve address space for a linear memory");
    if (initial && mprotect(p, initial * PAGE, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, RESERVATION);
        trap_with(WASITLS_E_NOMEM, "cannot allocate linear memory");
    }
    reservation *r = malloc(sizeof *r);
    if (!r) {
        munmap(p, RESERVATION);
        trap_with(WASITLS_E_NOMEM, "out of memory");
    }
    r->start = (uintptr_t)p;
    r->end = (uintptr_t)p + RESERVATION;
    res_add(r);
    m->data = p;
    m->pages = initial;
    m->max_pages = max > MAX_PAGES ? MAX_PAGES : max;
    m->size = (uint32_t)(initial * PAGE); /* 65536 pages wrap to 0 - wasm2c's own convention */
}

static uint32_t rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta)
{
    uint32_t old = m->pages;
    if (delta == 0) return old;
    if (delta > m->max_pages - old) return UINT32_MAX;
    if (mprotect(m->data + old * PAGE, delta * PAGE, PROT_READ | PROT_WRITE) != 0)
        return UINT32_MAX;
    m->pages = old + delta;
    m->size = (uint32_t)(m->pages * PAGE);
    return old;
}

static void rt_free_memory(wasm_rt_memory_t *m)
{
    if (!m->data) return;
    res_remove((uintptr_t)m->data);
    munmap(m->data, RESERVATION);
    memset(m, 0, sizeof *m);
}

/* ---- tables ---- */

#define DEFINE_TABLE(kind, T, NULLV)                                                               \
    static void rt_allocate_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t n, uint32_t max)  \
    {                                                                                              \
        memset(t, 0, sizeof *t);                                                                   \
        t->data = calloc(n ? n : 1, sizeof(T));                                                    \
        if (!t->data) trap_with(WASITLS_E_NOMEM, "cannot allocate a table");                       \
        t->size = n;                                                                               \
        t->max_size = max;                                                                         \
    }                                                                                              \
    static void rt_free_##kind##_table(wasm_rt_##kind##_table_t *t)                                \
    {                                                                                              \
        free(t->data);                                                                             \
        memset(t, 0, sizeof *t);                                                                   \
    }                                                                                              \
    static uint32_t rt_grow_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t delta, T init)    \
    {                                                                                              \
        uint32_t old = t->size;                                                                    \
        if (delta == 0) return old;                                                                \
        if (delta > t->max_size - old || (uint64_t)old + delta > 10000000u) return UINT32_MAX;     \
        T *p = realloc(t->data, (size_t)(old + delta) * sizeof(T));                                \
        if (!p) return UINT32_MAX;                                                                 \
        for (uint32_t i = old; i < old + delta; i++)                                               \
            p[i] = init;                                                                           \
        t->data = p;                                                                               \
        t->size = old + delta;                                                                     \
        return old;                                                                                \
    }

DEFINE_TABLE(funcref, wasm_rt_funcref_t, wasm_rt_funcref_null_value)
DEFINE_TABLE(externref, wasm_rt_externref_t, NULL)

const wasitls__rt_api wasitls__rt_impl = {
    .version = WASITLS__RT_API_VERSION,
    .trap = rt_trap,
    .register_func_type = rt_register_func_type,
    .allocate_memory = rt_allocate_memory,
    .grow_memory = rt_grow_memory,
    .free_memory = rt_free_memory,
    .allocate_funcref_table = rt_allocate_funcref_table,
    .free_funcref_table = rt_free_funcref_table,
    .grow_funcref_table = rt_grow_funcref_table,
    .allocate_externref_table = rt_allocate_externref_table,
    .free_externref_table = rt_free_externref_table,
    .grow_externref_table = rt_grow_externref_table,
    .host_call = rt_host_call,
};
