/* The start of every command guest this project builds, in place of wasi-libc's crt1-command.o
 * (link with -nostartfiles; cmake/guest.cmake does).
 *
 * Debian's wasi-libc (a 2022 snapshot) has a _start that leaves constructors and destructors to
 * the linker: when no object calls __wasm_call_ctors itself, wasm-ld wraps *every* exported
 * function of a command in __wasm_call_ctors / __wasm_call_dtors. cabi_realloc is exported, and
 * the host calls it for every list or string it returns, so each such call re-ran the
 * constructors (the preopen table) and then the destructors: __stdio_exit flushes every FILE
 * and seeks each read FILE back to its logical position, after which a buffered fread
 * delivered up to a buffer of bytes twice (and a write FILE could be flushed mid-line). Calling
 * __wasm_call_ctors here tells wasm-ld that this program runs them itself, so it wraps nothing;
 * _start then does what newer wasi-libc's does. */
#include <stdlib.h>

extern void __wasm_call_ctors(void);
extern void __wasm_call_dtors(void);
/* wasi-libc's name for main: the program's `int main(void)`, or libc's default that calls
 * main(argc, argv). */
extern int __original_main(void);

/* Referenced by the guest SDK, so that linking it without -nostartfiles fails (wasi-libc's
 * _start and this one, "duplicate symbol: _start") instead of building the broken program. */
const char wasitls__start_linked = 1;

void _start(void)
{
    static volatile int started;
    if (started) __builtin_trap(); /* a command runs once per instance */
    started = 1;
    __wasm_call_ctors();
    int r = __original_main();
    __wasm_call_dtors();
    if (r != 0) _Exit(r);
}
