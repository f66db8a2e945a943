/* The `wasitls` command: one subcommand per file, each an entry point
 *     int wasitls_cli_<name>(int argc, char **argv)   (argv[0] is the subcommand's name)
 * returning the process exit status. main.c dispatches through the table there. */
#ifndef WASITLS_CLI_H
#define WASITLS_CLI_H

int wasitls_cli_run(int argc, char **argv);
int wasitls_cli_compile(int argc, char **argv);
int wasitls_cli_wast(int argc, char **argv);

#endif
