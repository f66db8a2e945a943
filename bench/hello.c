/* Start-up benchmark guest: prints one line and exits. */
#include <stdio.h>

int main(void)
{
    puts("hello");
    return 0;
}
