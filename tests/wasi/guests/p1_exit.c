/* exit codes: `p1_exit N` returns N from main (preview1: only success/failure survive the
 * adapter), `p1_exit code N` uses wasi:cli/exit exit-with-code (any 0..255), `p1_exit trap`
 * traps, `p1_exit err` writes to stderr and fails, `p1_exit drop-parent` drops a stream while a
 * pollable made from it is alive (wasi:io says the host traps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 0;
    if (strcmp(argv[1], "trap") == 0) {
        printf("about to trap\n");
        fflush(stdout);
        __builtin_trap();
    }
    if (strcmp(argv[1], "code") == 0 && argc > 2) {
        printf("exit-with-code %s\n", argv[2]);
        fflush(stdout);
        w2_exit_with_code(atoi(argv[2]));
    }
    if (strcmp(argv[1], "drop-parent") == 0) {
        h32 in = w2_get_stdin();
        h32 p = w2_input_subscribe(in);
        printf("dropping the stream before its pollable\n");
        fflush(stdout);
        w2_input_drop(in);
        w2_pollable_drop(p);
        printf("still running: the host did not trap\n");
        return 0;
    }
    if (strcmp(argv[1], "err") == 0) {
        fprintf(stderr, "failing on purpose\n");
        exit(EXIT_FAILURE);
    }
    return atoi(argv[1]);
}
