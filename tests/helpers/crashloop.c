/*
 * crashloop.c — a worker that fails at once, for the restart policy tests:
 * it prints one line and exits 1, every time.
 */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "crashloop: failing on purpose\n");
    return 1;
}
