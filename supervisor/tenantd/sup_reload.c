/*
 * sup_reload.c — a new configuration applied to the running tenants (SIGHUP,
 * an inotify event in tenants_dir, the admin API): added tenants start,
 * removed ones stop, changed ones restart only when the change matters to the
 * worker, and a file that became invalid leaves its tenant on its last good
 * configuration.
 *
 * What it does not do: parse or validate files (common/config.h).
 */
#include "sup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
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
#include "idle.h"
#include "jail_args.h"
#include "listen.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "status_json.h"
#include "tenant_fsm.h"
#include "uidmap.h"
#include "upgrade.h"
#include "usage_token.h"

/* ---- reload ----------------------------------------------------------------------- */

/* Apply one entry of a freshly loaded config to its tenant (which exists). */
static void apply_entry(struct tenant *t, const struct config_tenant_entry *e)
{
    struct sup *s = t->s;
    if (t->goal == GOAL_REMOVED) {
        /* Its file came back before the old worker was gone. */
        t->goal = GOAL_DOWN;
    }
    if (!e->valid) {
        const char *err = e->error ? e->error : "invalid";
        if (!t->config_error || strcmp(t->config_error, err) != 0) {
            char *copy = strndup(err, 1023);
            if (copy) { /* out of memory: the previous error stays shown */
                free(t->config_error);
                t->config_error = copy;
            }
            if (t->have_cfg)
                log_warn(t->id, "config invalid, keeps running on its last good config: %s", err);
            else
                log_warn(t->id, "config invalid, not started: %s", err);
        }
        return;
    }
    if (t->config_error) {
        log_info(t->id, "config valid again");
        free(t->config_error);
        t->config_error = NULL;
    }
    if (!t->have_cfg) {
        t->cfg = e->t;
        t->have_cfg = true;
        t->park = true; /* new: a uid now; if it may idle, no worker now */
        t->goal = sup_goal_of_status(t->cfg.status);
        if (s->booting && t->goal == GOAL_UP) {
            /* An operator's stop or suspend outlives tenantd's restarts. */
            switch (admin_desired_state(s->cfg->g.run_dir, t->id)) {
            case ADMIN_DESIRED_STOPPED:
                log_info(t->id, "left stopped, as an operator asked");
                t->goal = GOAL_DOWN;
                break;
            case ADMIN_DESIRED_SUSPENDED:
                log_info(t->id, "left suspended, as an operator asked");
                t->goal = GOAL_SUSPENDED;
                break;
            case ADMIN_DESIRED_UP:
                break;
            }
        }
        sup_changed(s);
        return;
    }
    if (config_tenant_equal(&t->cfg, &e->t))
        return;
    bool proxy = t->cfg.port != e->t.port || strcmp(t->cfg.subdomain, e->t.subdomain) != 0 ||
                 t->cfg.status != e->t.status || t->cfg.max_body_bytes != e->t.max_body_bytes;
    bool status_changed = t->cfg.status != e->t.status;
    t->cfg = e->t;
    if (t->logcap) {
        struct logcap_opts lo;
        sup_logcap_opts_for(t, &lo);
        logcap_set_opts(t->logcap, &lo);
    }
    if (proxy)
        sup_changed(s);
    if (status_changed)
        t->goal = sup_goal_of_status(t->cfg.status);
    backoff_reset(&t->bo);
    t->op_pending = true;   /* a changed file is an operator's restart */
    t->notify_error = NULL; /* judged afresh with the new command */
    if (t->goal == GOAL_UP && t->state == TS_IDLE && sup_idle_applies(t)) {
        /* No worker to restart: the next connection starts one with it. */
        log_info(t->id, "config changed: idle, the next worker starts with it");
        return;
    }
    if (t->goal == GOAL_UP) {
        /* sup_can_overlap reads the new configuration: a new port or an own
         * socket cannot share the one tenantd holds. */
        bool overlap = sup_can_overlap(t);
        log_info(t->id, "config changed: %s",
                 overlap                     ? "starting a new worker beside the running one"
                 : fsm_has_process(t->state) ? "restarting"
                                             : "starting");
        sup_tenant_feed(t, overlap ? EV_OVERLAP : EV_CONFIG_CHANGED);
    } else {
        log_info(t->id, "config changed: status %s",
                 t->goal == GOAL_SUSPENDED ? "suspended" : "cancelled");
    }
}

static void log_diag(const struct config_diag *d, enum log_level lvl)
{
    for (size_t i = 0; i < d->n; i++)
        log_msg(lvl, NULL, "%s", d->lines[i]);
}

int sup_apply_config(struct sup *s, struct config *nc)
{
    struct tenant **todo = calloc(s->n + nc->n_tenants + 1, sizeof *todo);
    size_t ntodo = 0;
    if (!todo)
        return -ENOMEM;
    struct config *old = s->cfg;
    s->cfg = nc;
    sup_policy_from(&s->bp, &nc->g);

    /* Both lists are sorted by id: one merge pass finds the added, removed
     * and common tenants in O(n). Removed ones are marked first, as the
     * array changes when they leave it. */
    size_t i = 0, j = 0;
    struct tenant **cur = malloc((s->n + 1) * sizeof *cur);
    size_t ncur = s->n;
    if (!cur) {
        free(todo);
        s->cfg = old;
        return -ENOMEM;
    }
    if (s->n > 0)
        memcpy(cur, s->t, s->n * sizeof *cur);
    while (i < ncur || j < nc->n_tenants) {
        int cmp = i == ncur ? 1 : j == nc->n_tenants ? -1 : strcmp(cur[i]->id, nc->tenants[j].id);
        if (cmp < 0) {
            struct tenant *t = cur[i++];
            if (t->goal != GOAL_REMOVED) {
                log_info(t->id, "its file is gone: stopping it");
                t->goal = GOAL_REMOVED;
                sup_changed(s);
            }
            todo[ntodo++] = t;
        } else if (cmp > 0) {
            const struct config_tenant_entry *e = &nc->tenants[j++];
            struct tenant *t = sup_tenant_new(s, e->id);
            if (!t || sup_tenant_insert(s, t) < 0) {
                log_error(e->id, "out of memory: not added");
                if (t)
                    sup_tenant_release(t);
                continue;
            }
            log_info(t->id, "added");
            apply_entry(t, e);
            sup_changed(s);
            todo[ntodo++] = t;
        } else {
            struct tenant *t = cur[i++];
            apply_entry(t, &nc->tenants[j++]);
            todo[ntodo++] = t;
        }
    }
    if (s->root) {
        /* New tenants get their uids in one write of the map, not one each. */
        for (size_t k = 0; k < ntodo; k++)
            if (todo[k]->park && !todo[k]->have_uid) /* its first valid config: new */
                uidmap_assign(s->uids, todo[k]->id);
        int src = uidmap_sync(s->uids);
        if (src < 0)
            log_error(NULL, "cannot store %s/uids: %s", nc->g.run_dir, strerror(-src));
    }
    /* At start-up, every tenant about to be started holds tenantd's own
     * readiness (READY=1) until its first start attempt. */
    if (s->booting)
        for (size_t k = 0; k < ntodo; k++)
            todo[k]->boot_attempt = todo[k]->have_cfg && todo[k]->goal == GOAL_UP;
    /* After an upgrade of tenantd: take over the workers the previous image
     * ran, before reconcile would start new ones (sup_upgrade.c). */
    if (s->booting && upgrade_adopting())
        for (size_t k = 0; k < ntodo; k++)
            sup_upgrade_adopt(todo[k]);
    for (size_t k = 0; k < ntodo; k++)
        sup_reserve_port(todo[k]); /* all ports first, then starts (sup_ports.c) */
    for (size_t k = 0; k < ntodo; k++) {
        sup_reconcile(todo[k]);
        todo[k]->park = false; /* only the first reconcile: not an operator's start */
    }
    free(cur);
    free(todo);
    if (old)
        config_free(old);
    return 0;
}

int sup_reload(struct sup *s, char *err, size_t errlen)
{
    struct config *nc = NULL;
    struct config_diag d = {0};
    if (s->shutting_down) {
        if (err)
            snprintf(err, errlen, "tenantd is shutting down");
        return -EINVAL;
    }
    s->reloads++;
    sup_event(s, SUP_EV_RELOADING);
    uint64_t t0 = uv_hrtime();
    int rc = config_reload(s->cfg->g.path, s->cfg, &nc, &d);
    if (rc < 0) {
        sup_event(s, SUP_EV_RELOADED);
        log_error(NULL, "reload failed: the global configuration is invalid; nothing changes");
        log_diag(&d, LOG_ERROR);
        if (err) {
            char *j = config_diag_join(&d);
            snprintf(err, errlen, "%s", j ? j : "invalid configuration");
            free(j);
        }
        config_diag_clear(&d);
        return -EINVAL;
    }
    config_diag_clear(&d);
    log_info(NULL, "reloading: %zu tenant files (%zu unchanged, not parsed again)", nc->n_tenants,
             nc->reused);
    rc = sup_apply_config(s, nc);
    if (rc < 0) {
        config_free(nc);
        if (err)
            snprintf(err, errlen, "%s", strerror(-rc));
    }
    sup_event(s, SUP_EV_RELOADED);
    malloc_trim(0); /* the previous config (29 MB at 10,000 tenants) back to the system */
    if (rc == 0)
        log_info(NULL, "reloaded in %.1f ms", (double)(uv_hrtime() - t0) / 1e6);
    return rc;
}

static void on_reload_timer(uv_timer_t *h)
{
    sup_reload(h->data, NULL, 0);
}

void sup_on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct sup *s = h->data;
    (void)events;
    if (status < 0 || s->shutting_down)
        return;
    /* Editors and atomic writers create temporary files; only *.ini count. */
    if (name) {
        size_t n = strlen(name);
        if (n < 4 || strcmp(name + n - 4, ".ini") != 0)
            return;
    }
    int64_t ms = s->cfg->g.reload_debounce_ms > 0 ? s->cfg->g.reload_debounce_ms : 1;
    uv_timer_start(&s->reload_timer, on_reload_timer, (uint64_t)ms, 0);
}
