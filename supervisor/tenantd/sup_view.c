/*
 * sup_view.c — sup.h's face to the rest of tenantd: snapshots of tenants
 * (with the worker's memory and CPU from /proc), counts, hooks, and the
 * actions an operator may ask for.
 *
 * What it does not do: carry out an action beyond feeding its event
 * (sup_exec.c), or format anything (status_json.c).
 */
#include "sup_internal.h"
#include "netpolicy.h"

#include "pg_stats.h"

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

/* ---- sup.h: views and actions -------------------------------------------------- */

static void proc_stats(pid_t pid, uint64_t *rss, double *cpu)
{
    char path[64], buf[1024];
    *rss = 0;
    *cpu = 0;
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        unsigned long long size, res;
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "%llu %llu", &size, &res) == 2)
                *rss = res * (uint64_t)sysconf(_SC_PAGESIZE);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            /* The command name may hold spaces and parentheses: skip past the
             * last ')'. utime and stime are fields 14 and 15. */
            char *p = strrchr(buf, ')');
            unsigned long long ut, st;
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) == 2)
                *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
}

static void fill_view(const struct sup *s, const struct tenant *t, struct tenant_view *v,
                      bool stats)
{
    const struct config_global *g = &s->cfg->g;
    uint64_t now = uv_now(s->loop);
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "%s", t->id);
    if (t->have_cfg) {
        snprintf(v->name, sizeof v->name, "%s", t->cfg.name);
        snprintf(v->plan, sizeof v->plan, "%s", t->cfg.plan);
        snprintf(v->subdomain, sizeof v->subdomain, "%s", t->cfg.subdomain);
        v->port = t->cfg.port;
        v->network = netpolicy_name(t->cfg.network);
        v->net_containment = netpolicy_containment(&t->cfg, s->root, s->cgsys.v2.mnt[0] != '\0');
        status_json_tenant_url(g, t->cfg.subdomain, v->url, sizeof v->url);
    }
    v->state = t->state;
    v->desired_up = t->goal == GOAL_UP;
    v->pid = t->pid;
    if (t->prev && !t->prev_draining) {
        /* The new worker starts beside the old one, which still serves. */
        v->pid = t->prev->pid;
        v->starting_pid = t->pid;
        v->uptime_s = t->prev_ready_at ? (int64_t)(now - t->prev_ready_at) / 1000 : 0;
    } else {
        v->draining_pid = t->prev ? t->prev->pid : 0;
        v->uptime_s =
            t->state == TS_RUNNING && t->ready_at ? (int64_t)(now - t->ready_at) / 1000 : 0;
    }
    v->restarts = t->restarts;
    v->operator_restarts = t->operator_restarts;
    snprintf(v->worker_status, sizeof v->worker_status, "%s", t->worker_status);
    snprintf(v->notify_error, sizeof v->notify_error, "%s", t->notify_error ? t->notify_error : "");
    v->wakeups = t->wakeups;
    v->idle_after_ms = t->have_cfg ? t->cfg.idle_after_ms : 0;
    snprintf(v->last_exit, sizeof v->last_exit, "%s", t->last_exit);
    snprintf(v->config_error, sizeof v->config_error, "%s", t->config_error ? t->config_error : "");
    snprintf(v->state_reason, sizeof v->state_reason, "%s", t->state_reason);
    v->next_start_in_ms = -1;
    if ((t->state == TS_BACKOFF || t->state == TS_FAILED) &&
        (t->timer_kind == TM_BACKOFF || t->timer_kind == TM_COOLDOWN))
        v->next_start_in_ms = t->timer_due > now ? (int64_t)(t->timer_due - now) : 0;
    v->ready_latency_ms = t->ready_latency_ms;
    v->database = t->have_cfg ? t->cfg.database : DB_SQLITE;
    v->db_size_bytes = -1;
    v->db_connections = -1;
    v->db_state = "";
    if (t->logcap != NULL) {
        struct logcap_stats ls;
        logcap_stats(t->logcap, &ls);
        v->log_bytes_read = ls.bytes_read;
        v->log_lines_dropped = ls.lines_dropped;
        v->log_bytes_dropped = ls.bytes_dropped;
        v->log_pauses = ls.pauses;
        v->log_paused_ms = ls.paused_ms;
    }
    if (!stats)
        return;
    /* With a cgroup, every process of the tenant counts (a prefork server's
     * workers too), and the CPU of those gone since its creation; /proc is
     * read only without one (two file reads fewer per tenant and sample). */
    uint64_t mem = 0, usec = 0;
    struct cgroup_tenant cg;
    if (v->pid > 0 && t->have_cgroup && sup_tenant_cgroup(t, &cg) == 0 &&
        cgroup_tenant_memory(&cg, &mem) == 0 && cgroup_tenant_cpu_usec(&cg, &usec) == 0) {
        v->rss_bytes = mem;
        v->cpu_seconds = (double)usec / 1e6;
        v->from_cgroup = true;
    } else if (v->pid > 0) {
        proc_stats(v->pid, &v->rss_bytes, &v->cpu_seconds);
    }
    if (v->database == DB_POSTGRESQL)
        pg_stats_get(t->id, &v->db_size_bytes, &v->db_connections, &v->db_state);
}

size_t sup_tenant_count(const struct sup *s)
{
    return s->n;
}

int sup_tenant_view(const struct sup *s, size_t i, struct tenant_view *out)
{
    if (i >= s->n)
        return -ENOENT;
    fill_view(s, s->t[i], out, true);
    return 0;
}

int sup_tenant_view_nostats(const struct sup *s, size_t i, struct tenant_view *out)
{
    if (i >= s->n)
        return -ENOENT;
    fill_view(s, s->t[i], out, false);
    return 0;
}

int sup_tenant_brief(const struct sup *s, size_t i, struct tenant_brief *out)
{
    if (i >= s->n)
        return -ENOENT;
    const struct tenant *t = s->t[i];
    out->id = t->id;
    out->name = t->have_cfg ? t->cfg.name : "";
    out->plan = t->have_cfg ? t->cfg.plan : "";
    out->subdomain = t->have_cfg ? t->cfg.subdomain : "";
    out->state = t->state;
    out->unhealthy = t->state == TS_FAILED || t->state == TS_BACKOFF ||
                     (t->config_error != NULL && t->config_error[0] != '\0') || t->health_fails > 0;
    return 0;
}

int sup_tenant_find(const struct sup *s, const char *id, struct tenant_view *out)
{
    const struct tenant *t = sup_find(s, id);
    if (!t)
        return -ENOENT;
    fill_view(s, t, out, true);
    return 0;
}

int sup_tenant_usage_target(const struct sup *s, const char *id, int *port, char *token, size_t n)
{
    const struct tenant *t = sup_find(s, id);
    if (!t)
        return -ENOENT;
    if (t->state != TS_RUNNING || !t->have_cfg || t->usage_token[0] == '\0')
        return -EAGAIN;
    if (snprintf(token, n, "%s", t->usage_token) >= (int)n)
        return -ENAMETOOLONG;
    *port = t->cfg.port;
    return 0;
}

const struct config *sup_config(const struct sup *s)
{
    return s->cfg;
}

void sup_set_change_hook(struct sup *s, sup_change_fn fn, void *arg)
{
    s->hook = fn;
    s->hook_arg = arg;
}

void sup_set_event_hook(struct sup *s, sup_event_fn fn, void *arg)
{
    s->ev_hook = fn;
    s->ev_hook_arg = arg;
}

void sup_get_counts(const struct sup *s, struct sup_counts *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->n; i++) {
        const struct tenant *t = s->t[i];
        out->running += t->state == TS_RUNNING;
        out->failed += t->state == TS_FAILED;
        out->idle += t->state == TS_IDLE;
        out->boot_pending += t->boot_attempt;
    }
    out->reloads = s->reloads;
    out->spawn_transient_failures = s->transient_failures;
}

int sup_tenant_hold_socket(struct sup *s, const char *id, bool hold)
{
    struct tenant *t = sup_find(s, id);
    if (!t)
        return -ENOENT;
    t->hold_socket = hold;
    if (hold && t->listen_fd >= 0)
        log_info(t->id, "socket kept while it is stopped: clients wait for the next worker");
    if (!hold && t->state == TS_STOPPED && t->goal != GOAL_UP)
        sup_close_listen(t);
    return 0;
}

int sup_tenant_action(struct sup *s, const char *id, enum sup_action a, char *err, size_t errlen)
{
    struct tenant *t = sup_find(s, id);
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!t || t->goal == GOAL_REMOVED) {
        snprintf(err, errlen, "no tenant %s", id);
        return -ENOENT;
    }
    if (s->shutting_down) {
        snprintf(err, errlen, "tenantd is shutting down");
        return -EINVAL;
    }
    if (!t->have_cfg && a != SUP_STOP) {
        snprintf(err, errlen, "its file is invalid and it never had a valid one: %s",
                 t->config_error ? t->config_error : "invalid");
        return -EINVAL;
    }
    switch (a) {
    case SUP_START:
        if (t->state == TS_SUSPENDED || t->goal == GOAL_SUSPENDED) {
            snprintf(err, errlen, "it is suspended: resume it");
            return -EINVAL;
        }
        log_info(t->id, "start requested");
        t->op_pending = true;
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        /* From idle too: an operator's start wants a worker now. */
        if (t->state == TS_BACKOFF || t->state == TS_FAILED || t->state == TS_IDLE)
            sup_tenant_feed(t, EV_START);
        sup_reconcile(t);
        break;
    case SUP_STOP:
        log_info(t->id, "stop requested");
        t->goal = GOAL_DOWN;
        t->hold_socket = false;
        sup_reconcile(t);
        break;
    case SUP_RESTART:
        if (t->state == TS_SUSPENDED || t->goal == GOAL_SUSPENDED) {
            snprintf(err, errlen, "it is suspended: resume it");
            return -EINVAL;
        }
        log_info(t->id, "restart requested");
        t->op_pending = true;
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        if (sup_can_overlap(t))
            sup_tenant_feed(t, EV_OVERLAP);
        else if (t->state == TS_STARTING || t->state == TS_RUNNING)
            sup_tenant_feed(t, EV_STOP);
        else if (t->state != TS_STOPPING)
            sup_tenant_feed(t, EV_START);
        sup_reconcile(t);
        break;
    case SUP_SUSPEND:
        log_info(t->id, "suspend requested");
        t->goal = GOAL_SUSPENDED;
        sup_reconcile(t);
        sup_changed(s);
        break;
    case SUP_RESUME:
        if (t->goal != GOAL_SUSPENDED && t->state != TS_SUSPENDED) {
            snprintf(err, errlen, "it is not suspended");
            return -EINVAL;
        }
        log_info(t->id, "resume requested");
        t->op_pending = true;
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        sup_reconcile(t);
        sup_changed(s);
        break;
    default:
        snprintf(err, errlen, "unknown action");
        return -EINVAL;
    }
    return 0;
}
