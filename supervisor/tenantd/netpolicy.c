/*
 * netpolicy.c — see netpolicy.h.
 */
#include "netpolicy.h"

#include "landlock_net.h"

bool netpolicy_landlock(void)
{
    static int abi = -1;
    if (abi < 0)
        abi = landlock_net_abi();
    return abi >= LANDLOCK_NET_MIN_ABI;
}

const char *netpolicy_name(enum worker_network n)
{
    switch (n) {
    case WORKER_NETWORK_NONE:
        return "none";
    case WORKER_NETWORK_LOCAL:
        return "local";
    default:
        return "outbound";
    }
}

void netpolicy_jail_opts(const struct config_tenant *t, bool v2, struct jail_opts *o)
{
    if (t->network == WORKER_NETWORK_NONE)
        o->ns |= JAIL_NS_NET;
    if (t->network != WORKER_NETWORK_NONE && v2 && o->cgroup) {
        /* Addresses: cgroup-bpf on the v2 group (jail_bpf.c). Its loopback
         * allow list is the allow list's ports. */
        o->net_addr =
            t->network == WORKER_NETWORK_LOCAL ? JAIL_NET_ADDR_LOCAL : JAIL_NET_ADDR_OUTBOUND;
        for (size_t i = 0; i < t->n_allow && o->n_net_connect < JAIL_NET_CONNECT_MAX; i++)
            o->net_connect[o->n_net_connect++] = t->allow_port[i];
    }
    if (!netpolicy_landlock())
        return;
    /* Even in its own namespace the worker gets the bind rule: it costs
     * nothing and holds if the namespace step is ever dropped. */
    o->net_rules = JAIL_NET_BIND;
    if (t->network != WORKER_NETWORK_OUTBOUND)
        o->net_rules |= JAIL_NET_CONNECT;
    /* A passed socket is already bound: the worker needs no bind at all,
     * so it cannot listen anywhere else, 0.0.0.0 included. */
    if (t->socket == WORKER_SOCKET_OWN && t->port > 0)
        o->net_bind[o->n_net_bind++] = (uint16_t)t->port;
    if ((o->net_rules & JAIL_NET_CONNECT) && !o->net_addr)
        for (size_t i = 0; i < t->n_allow && o->n_net_connect < JAIL_NET_CONNECT_MAX; i++)
            o->net_connect[o->n_net_connect++] = t->allow_port[i];
}

const char *netpolicy_containment(const struct config_tenant *t, bool root, bool v2)
{
    if (!root)
        return "off"; /* no jail at all: tenantd says so once at start */
    if (t->network == WORKER_NETWORK_NONE)
        return "namespace";
    if (!netpolicy_landlock())
        return "reduced";
    return v2 ? "landlock+bpf" : "landlock";
}
