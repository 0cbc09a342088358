/*
 * sup_cgroup.c — tenantd's own place in a cgroup v2 hierarchy: a leaf for
 * itself, so the tenants' cgroups below its own can get controllers, and the
 * cleanup of the tenants' parent at stop.
 *
 * What it does not do: a tenant's cgroup (the jail creates and joins it).
 */
#include "sup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "backoff.h"
#include "cgroup.h"
#include "exitcode.h"
#include "health.h"
#include "jail_args.h"
#include "listen.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "status_json.h"
#include "tenant_fsm.h"
#include "uidmap.h"
#include "usage_token.h"

/* cgroup v2 (cgroup.h): tenantd moves out of its own cgroup into a leaf, so
 * that the tenants' cgroups below it can get the memory, pids and cpu
 * controllers. Without this, under systemd (tenantd in its unit's cgroup),
 * every jail would fail on "no internal processes". */
void sup_cgroup_v2_setup(struct sup *s)
{
    struct cgroup_v2_layout l;
    int r = cgroup_v2_layout(s->cgsys.v2.mnt, s->cgsys.v2.self, &l);
    if (r == 1)
        return; /* the root cgroup: its children get controllers anyway */
    if (r < 0) {
        log_warn(NULL,
                 "cgroup v2: tenants' cgroups stay below %s (%s): the memory and pids "
                 "controllers may be refused there",
                 s->cgsys.v2.self, r == -EINVAL ? "a name tenantd cannot use" : strerror(-r));
        return;
    }
    char err[512] = "";
    r = cgroup_v2_move_self(&l, 0, err, sizeof err);
    /* Tenants go below <own>/tenants either way: if tenantd could not leave
     * <own>, no folder below it gets the controllers, and each jail then
     * fails closed at its cgroup step with the reason. */
    if (r < 0)
        log_warn(NULL, "cgroup v2: %s: starting a tenant may fail at its cgroup step",
                 err[0] ? err : strerror(-r));
    else
        log_info(NULL, "cgroup v2: tenantd runs in %s, tenants below %s", l.supervisor, l.tenants);
    snprintf(s->cg_parent, sizeof s->cg_parent, "%s", l.tenants_spec);
}

/* Remove this tenantd's cgroup folder once every tenant is gone (it is
 * empty then; rmdir refuses otherwise, which is the right answer). */
void sup_cgroup_parent_cleanup(struct sup *s)
{
    struct cgroup_tenant probe;
    if (!s->root || s->cgsys.mode == CGROUP_NONE ||
        cgroup_tenant_paths(&s->cgsys, s->cg_parent, "x", &probe) < 0)
        return;
    char *dirs[] = {probe.v2, probe.memory, probe.pids, probe.cpu, probe.cpuacct};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *slash = strrchr(dirs[i], '/');
        if (dirs[i][0] && slash) {
            *slash = '\0';
            rmdir(dirs[i]);
        }
    }
}
