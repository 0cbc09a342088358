/*
 * landlock_net.h — the kernel's Landlock TCP port rules (ABI 4 and later),
 * defined here because Debian 12's kernel headers predate them. tenantd asks
 * for the ABI (to decide what it asks the jail for, and to say when
 * containment is reduced); the jail applies the rules (jail_net.c).
 */
#ifndef TENANTD_LANDLOCK_NET_H
#define TENANTD_LANDLOCK_NET_H

#include <stdint.h>

/* The first Landlock ABI with LANDLOCK_ACCESS_NET_{BIND,CONNECT}_TCP. */
#define LANDLOCK_NET_MIN_ABI 4

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_NET_PORT 2
#define LL_ACCESS_NET_BIND_TCP (1ull << 0)
#define LL_ACCESS_NET_CONNECT_TCP (1ull << 1)

/* The first two fields of struct landlock_ruleset_attr (ABI 4); the kernel
 * takes the size it is given. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
};

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

/* The running kernel's Landlock ABI version: 0 when Landlock is absent or
 * disabled (ENOSYS, EOPNOTSUPP). TENANTD_LANDLOCK_ABI in the environment
 * overrides it downwards, so tests can show what an older kernel gets. */
int landlock_net_abi(void);

/* True when the kernel can restrict TCP bind and connect by port. */
static inline int landlock_net_available(void)
{
    return landlock_net_abi() >= LANDLOCK_NET_MIN_ABI;
}

#endif
