/*
 * landlock_net.c — see landlock_net.h.
 */
#include "landlock_net.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif

int landlock_net_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    if (abi < 0)
        abi = 0;
    /* A test's stand-in for an older kernel; it can only lower the value. */
    const char *cap = getenv("TENANTD_LANDLOCK_ABI");
    if (cap && *cap >= '0' && *cap <= '9' && !cap[1] && *cap - '0' < abi)
        abi = *cap - '0';
    return (int)abi;
}
