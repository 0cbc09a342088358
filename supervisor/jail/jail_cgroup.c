/*
 * jail_cgroup.c — the jail's cgroup step: find the usable hierarchies, create
 * <parent>/<name> in each with the plan's limits, check that no process of a
 * previous run is still inside, and move the jail itself in, before anything
 * of the worker runs. The mechanics (detection, paths, limit files) are in
 * common/cgroup.c, shared with tenantd.
 *
 * Fails closed: a cgroup that cannot be created, limited or joined stops the
 * jail. Only with --cgroup-optional, and only when no hierarchy is usable at
 * all or the jail is not root, does it say so on stderr and go on without.
 */
#include "jail.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

static int skip(const struct jail_opts *o, const char *why)
{
    fprintf(stderr,
            "tenant-jail: [%s] cgroup: %s; running without resource limits "
            "(--cgroup-optional)\n",
            o->id, why);
    return 0;
}

int jail_cgroup_apply(const struct jail_opts *o, struct jail_err *e)
{
    if (geteuid() != 0) {
        if (o->cgroup_optional)
            return skip(o, "not root");
        return jail_errf(e, "cgroup", "not root: cannot create cgroup %s", o->cgroup);
    }
    struct cgroup_sys sys;
    cgroup_detect(NULL, &sys);
    if (sys.mode == CGROUP_NONE) {
        if (o->cgroup_optional)
            return skip(o, sys.why);
        return jail_errf(e, "cgroup", "%s", sys.why);
    }
    const char *spec = o->cgroup_parent ? o->cgroup_parent : JAIL_CGROUP_PARENT_DEFAULT;
    struct cgroup_tenant t;
    int r = cgroup_tenant_paths(&sys, spec, o->cgroup, &t);
    if (r < 0)
        return jail_errf(e, "cgroup", "paths for %s/%s: %s", spec, o->cgroup, strerror(-r));
    struct cgroup_limits lim = {
        .memory_bytes = o->memory_bytes, .pids = o->pids, .cpu_weight = o->cpu_weight};
    char err[400] = "";
    if ((r = cgroup_tenant_create(&t, &lim, err, sizeof err)) < 0)
        return jail_errf(e, "cgroup", "%s", err[0] ? err : strerror(-r));
    if (o->cgroup_gen) {
        /* The worker's generation gets a child without limits of its own:
         * the tenant's limits above cover it and, during an overlapping
         * restart, the previous generation's child as well. */
        char gspec[CGROUP_PATH_MAX];
        if ((size_t)snprintf(gspec, sizeof gspec, "%s/%s", spec, o->cgroup) >= sizeof gspec)
            return jail_errf(e, "cgroup", "%s/%s: name too long", spec, o->cgroup);
        struct cgroup_limits none = {0};
        r = cgroup_tenant_paths(&sys, gspec, o->cgroup_gen, &t);
        if (r < 0)
            return jail_errf(e, "cgroup", "paths for %s/%s: %s", gspec, o->cgroup_gen,
                             strerror(-r));
        if ((r = cgroup_tenant_create(&t, &none, err, sizeof err)) < 0)
            return jail_errf(e, "cgroup", "%s", err[0] ? err : strerror(-r));
    }
    /* A process still inside belongs to an earlier run of this tenant; two
     * workers must never share one budget. tenantd kills it first. */
    size_t n = 0;
    if ((r = cgroup_tenant_nprocs(&t, &n)) < 0)
        return jail_errf(e, "cgroup", "reading the processes of %s: %s",
                         t.mode == CGROUP_V1 ? t.pids : t.v2, strerror(-r));
    if (n > 0)
        return jail_errf(e, "cgroup", "%s still holds %zu process(es) of an earlier run",
                         t.mode == CGROUP_V1 ? t.pids : t.v2, n);
    if ((r = cgroup_tenant_join(&t, getpid(), err, sizeof err)) < 0)
        return jail_errf(e, "cgroup", "%s", err[0] ? err : strerror(-r));
    return 0;
}
