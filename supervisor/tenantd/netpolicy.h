/*
 * netpolicy.h — what a tenant's worker may do on the network, turned into the
 * jail's options ([worker] network and allow; docs/isolation.md "Network").
 *
 *   none      a network namespace of its own (only the passed socket crosses)
 *   local     Landlock: bind only its own port (socket = own) or none at all
 *             (socket = passed); connect only to the allow list's ports
 *   outbound  Landlock: the same bind rule; connections are not restricted
 *
 * On a kernel without Landlock TCP rules (ABI < 4) local and outbound run
 * without port rules: tenantd says so at start, in `tenantd -n` and in each
 * tenant's status ("net_containment": "reduced"), never silently.
 */
#ifndef TENANTD_NETPOLICY_H
#define TENANTD_NETPOLICY_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "jail_args.h"

/* True when this kernel enforces Landlock TCP port rules (probed once). */
bool netpolicy_landlock(void);

/* Add t's network isolation to o (namespace, Landlock rules, and with v2 = a
 * cgroup v2 hierarchy holds the worker, the cgroup-bpf address rules). */
void netpolicy_jail_opts(const struct config_tenant *t, bool v2, struct jail_opts *o);

/* How t's network is contained here: "namespace" (none), "landlock+bpf"
 * (port and address rules), "landlock" (port rules only: no cgroup v2
 * hierarchy), "reduced" (local/outbound without Landlock TCP rules) or "off"
 * (tenantd is not root: no jail). */
const char *netpolicy_containment(const struct config_tenant *t, bool root, bool v2);
const char *netpolicy_name(enum worker_network n);

#endif
