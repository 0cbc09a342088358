/*
 * exit78.c — a worker that exits 78 (EX_CONFIG) at once: "my configuration is
 * wrong, do not restart me until it changes".
 */
#include <stdio.h>

#include "exitcode.h"

int main(void)
{
    fprintf(stderr, "exit78: configuration error, exiting 78\n");
    return EXITCODE_CONFIG;
}
