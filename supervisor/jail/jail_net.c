/*
 * jail_net.c — the Landlock network step: restrict the worker's TCP bind and
 * connect to the ports tenantd allows (--net-rules, --net-bind,
 * --net-connect; common/jail_args.h).
 *
 * Why Landlock: it is unprivileged, applies to the process and everything it
 * execs or forks, cannot be undone, and does not depend on the cgroup
 * version of the host. Its limit: rules are per port, not per address, so
 * "bind only 127.0.0.1" is not expressible here (a worker that binds no port
 * at all, the passed-socket case, cannot listen anywhere; see
 * docs/isolation.md for the own-socket case).
 *
 * Fail-closed: asked for a rule the kernel cannot enforce (Landlock ABI < 4),
 * the jail refuses to start the worker. tenantd only asks when the kernel
 * can (landlock_net_available), and says so loudly when it cannot.
 *
 * Applied after no_new_privs (Landlock requires it without CAP_SYS_ADMIN)
 * and before seccomp (whose filter does not need to allow these calls).
 */
#include "jail.h"
#include "landlock_net.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

static int add_port(int rs, uint64_t access, uint16_t port, const char *what, struct jail_err *e)
{
    struct ll_net_port_attr a = {.allowed_access = access, .port = port};
    if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &a, 0) < 0)
        return jail_errf(e, "landlock", "allow %s on port %u: %s", what, (unsigned)port,
                         strerror(errno));
    return 0;
}

int jail_net_apply(const struct jail_opts *o, struct jail_err *e)
{
    if (!o->net_rules)
        return 0;
    int abi = landlock_net_abi();
    if (abi < LANDLOCK_NET_MIN_ABI)
        return jail_errf(e, "landlock",
                         "the kernel's Landlock ABI is %d; TCP port rules need %d (Linux 6.7)", abi,
                         LANDLOCK_NET_MIN_ABI);
    struct ll_ruleset_attr attr = {0};
    if (o->net_rules & JAIL_NET_BIND)
        attr.handled_access_net |= LL_ACCESS_NET_BIND_TCP;
    if (o->net_rules & JAIL_NET_CONNECT)
        attr.handled_access_net |= LL_ACCESS_NET_CONNECT_TCP;
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0)
        return jail_errf(e, "landlock", "landlock_create_ruleset: %s", strerror(errno));
    int r = 0;
    for (size_t i = 0; r == 0 && i < o->n_net_bind; i++)
        r = add_port(rs, LL_ACCESS_NET_BIND_TCP, o->net_bind[i], "bind", e);
    /* Without connect in the rules, the ports are --net-addr's (jail_bpf.c). */
    for (size_t i = 0; r == 0 && (o->net_rules & JAIL_NET_CONNECT) && i < o->n_net_connect; i++)
        r = add_port(rs, LL_ACCESS_NET_CONNECT_TCP, o->net_connect[i], "connect", e);
    if (r == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        r = jail_errf(e, "landlock", "landlock_restrict_self: %s", strerror(errno));
    close(rs);
    return r;
}
