/*
 * sup_cgroup.c — tenantd's own place in a cgroup v2 hierarchy: a leaf for
 * itself, so the tenants' cgroups below its own can get controllers, and the
 * cleanup of the tenants' parent at stop; the folders of a tenant's cgroup
 * and of its worker generations, rebuilt when needed rather than stored.
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

int sup_tenant_cgroup(const struct tenant *t, struct cgroup_tenant *buf)
{
    const struct sup *s = t->s;
    if (!s->root || s->cgsys.mode == CGROUP_NONE)
        return -ENOENT;
    return cgroup_tenant_paths(&s->cgsys, s->cg_parent, t->id, buf);
}

int sup_gen_cgroup(const struct sup *s, const char *id, const char *gen, struct cgroup_tenant *buf)
{
    char spec[CGROUP_PATH_MAX];
    if (!s->root || s->cgsys.mode == CGROUP_NONE || !gen[0])
        return -ENOENT;
    if ((size_t)snprintf(spec, sizeof spec, "%s/%s", s->cg_parent, id) >= sizeof spec)
        return -ENAMETOOLONG;
    return cgroup_tenant_paths(&s->cgsys, spec, gen, buf);
}

const struct cgroup_tenant *sup_watch_cgroup(const struct exit_watch *w, struct cgroup_tenant *buf)
{
    if (!w->have_cg)
        return NULL;
    if (w->cg_left)
        return w->cg_left;
    if (!w->t || sup_gen_cgroup(w->t->s, w->t->id, w->gen, buf) < 0)
        return NULL;
    return buf;
}

void sup_watch_detach(struct exit_watch *w)
{
    if (w->t && w->have_cg && !w->cg_left) {
        w->cg_left = malloc(sizeof *w->cg_left);
        if (!w->cg_left || sup_gen_cgroup(w->t->s, w->t->id, w->gen, w->cg_left) < 0) {
            free(w->cg_left);
            w->cg_left = NULL;
            w->have_cg = false;
        }
    }
    w->t = NULL;
}
