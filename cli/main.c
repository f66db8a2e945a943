/* `wasitls`: subcommand dispatch. Adding a command = one file defining wasitls_cli_<name> plus a
 * row in `commands`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Replaced by cli/run.c when the component and WASI layers are built in. */
__attribute__((weak)) int wasitls_cli_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "error: not implemented yet\n");
    return 1;
}

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", wasitls_cli_run, "run a WASI 0.2 command component"},
    {"compile", wasitls_cli_compile,
     "compile a module or component ahead of time (fills the cache)"},
    {"wast", wasitls_cli_wast, "run a WebAssembly script (.wast) against the engine"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: wasitls <command> [OPTIONS] ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version  print the version\n  --help     show this help\n"
               "\n`wasitls <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        printf("wasitls %s\n", WASITLS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
