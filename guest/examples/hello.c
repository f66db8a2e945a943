/* The smallest command guest: proves the toolchain's output is a runnable component. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("hello from a wasitls guest");
    for (int i = 1; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    return 0;
}
