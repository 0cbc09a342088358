/*
 * sup_ports.c — every passed-socket tenant's port is bound by tenantd when
 * its configuration is applied (at start-up: before any worker starts; at a
 * reload: before the added tenants start), not only at its first spawn, and
 * kept for the tenant's lifetime (a port change or its removal closes it;
 * sup_close_listen). So a tenant started in an earlier batch finds the later
 * tenants' ports already taken, even on a kernel without Landlock TCP rules.
 *
 * Own-socket tenants bind their port themselves and cannot share it with
 * tenantd (SO_REUSEPORT only joins sockets of one uid): their port, like
 * every free port of the range and tenantd's own listeners, is kept from the
 * other tenants by the jail's Landlock bind rule (netpolicy.c).
 */
#include "sup_internal.h"

#include <string.h>

#include "listen.h"
#include "log.h"

void sup_reserve_port(struct tenant *t)
{
    if (!t->have_cfg || t->goal == GOAL_REMOVED || t->cfg.socket != WORKER_SOCKET_PASSED)
        return;
    if (t->listen_fd >= 0 && t->listen_port == t->cfg.port)
        return;
    sup_close_listen(t);
    int fd = listen_tcp("127.0.0.1", t->cfg.port);
    if (fd < 0) {
        /* The start reports it (and retries); this only says it early. */
        log_warn(t->id, "cannot reserve 127.0.0.1:%d: %s", t->cfg.port, strerror(-fd));
        return;
    }
    t->listen_fd = fd;
    t->listen_port = t->cfg.port;
}
