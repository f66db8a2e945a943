/* Prints its environment sorted, then "end" (preview1, adapter path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    qsort(environ, n, sizeof *environ, cmp);
    for (size_t i = 0; i < n; i++)
        printf("env[%s]\n", environ[i]);
    printf("count=%zu\nend\n", n);
    return 0;
}
