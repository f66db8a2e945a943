/* Prints its arguments, one per line, so the test can compare them (preview1, adapter path). */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("arg%d=[%s]\n", i, argv[i]);
    return 0;
}
