/* A plain preview1 command: the adapter turns it into a wasi:cli/command component. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("hello from a component\n");
    for (int i = 0; i < argc; i++)
        printf("arg %d: %s\n", i, argv[i]);
    fprintf(stderr, "to stderr\n");
    fflush(stdout);
    return argc > 2 ? 0 : 3;
}
