/*
 * supervisor.c — implements sup.h with the files listed in sup_internal.h:
 * one runtime struct per configured tenant,
 * driven by the state machine of tenant_fsm.c. This file turns the world into
 * events (an exit seen on a pidfd, READY=1, a probe result, a timer, an
 * operator's request, a reload) and carries out the actions the table asks
 * for (spawn, signal, arm a timer); it never decides a transition itself.
 *
 * Each tenant has a goal besides its state: up, down (an operator's stop or
 * status = cancelled), suspended, or removed (its file is gone). After a stop
 * completes, reconcile() moves the tenant toward its goal; that is how a
 * restart (stop, then start) or a suspend (stop, then suspended) composes out
 * of the plain transitions.
 *
 * Cost model (1000 tenants on 2 cores): no timer runs for an idle tenant but
 * its liveness probe; every per-tenant structure is found by binary search or
 * a pointer; a start slot is a counter and a FIFO queue.
 *
 * This file holds the tenant array (sorted by id), the start slots, the
 * start and the stop of the whole supervisor, and the small helpers the
 * other sup_*.c files share.
 *
 * What it does not do: the worker process (sup_process.c), the transitions
 * (sup_exec.c), reload (sup_reload.c), the views (sup_view.c), the fork/exec
 * details (spawn.c), the readiness protocol (notify.c), HTTP (health.c), log
 * files (logcap.c), the schedule of restarts (backoff.c), or the admin API
 * (admin.c).
 */
#include "sup.h"
#include "sup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#include "usage_token.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------------- */

uint64_t sup_now_ms(const struct sup *s)
{
    return uv_now(s->loop);
}

void sup_set_reason(struct tenant *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->state_reason, sizeof t->state_reason, fmt, ap);
    va_end(ap);
}

void sup_policy_from(struct backoff_policy *bp, const struct config_global *g)
{
    bp->min_ms = g->backoff_min_ms;
    bp->max_ms = g->backoff_max_ms;
    bp->stable_after_ms = g->stable_after_ms;
    bp->start_limit = g->start_limit;
}

void sup_logcap_opts_for(const struct tenant *t, struct logcap_opts *o)
{
    const struct config_global *g = &t->s->cfg->g;
    o->line_max = g->log_line_max;
    o->rate_lines = g->log_rate_lines;
    o->rotate_bytes = g->log_rotate_bytes > 0 ? g->log_rotate_bytes : t->cfg.log_budget_bytes / 4;
}

enum goal sup_goal_of_status(enum tenant_status st)
{
    switch (st) {
    case TENANT_SUSPENDED:
        return GOAL_SUSPENDED;
    case TENANT_CANCELLED:
        return GOAL_DOWN;
    default:
        return GOAL_UP;
    }
}

/* Coalesce proxy-relevant changes into one hook call on the next loop turn. */
static void on_change_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    s->change_pending = false;
    if (s->hook)
        s->hook(s, s->hook_arg);
}

void sup_changed(struct sup *s)
{
    if (s->change_pending || s->handles_closed || s->closing_handles)
        return;
    s->change_pending = true;
    uv_timer_start(&s->change_timer, on_change_timer, 0, 0);
}

/* Coalesce state changes into one SUP_EV_STATES per loop turn. */
static void on_state_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    s->state_pending = false;
    if (s->ev_hook)
        s->ev_hook(s, SUP_EV_STATES, s->ev_hook_arg);
}

void sup_states_changed(struct sup *s)
{
    if (s->state_pending || s->handles_closed || s->closing_handles || !s->ev_hook)
        return;
    s->state_pending = true;
    uv_timer_start(&s->state_timer, on_state_timer, 0, 0);
}

void sup_event(struct sup *s, enum sup_event ev)
{
    if (s->ev_hook)
        s->ev_hook(s, ev, s->ev_hook_arg);
}

void sup_timer_disarm(struct tenant *t)
{
    t->timer_kind = TM_NONE;
    t->timer_due = 0;
    if (!t->closing)
        uv_timer_stop(&t->fsm_timer);
}

void sup_close_listen(struct tenant *t)
{
    sup_idle_unwatch(t);
    if (t->listen_fd >= 0) {
        close(t->listen_fd);
        t->listen_fd = -1;
        t->listen_port = 0;
    }
}

/* ---- the tenant array --------------------------------------------------------- */

static size_t lower_bound(const struct sup *s, const char *id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->t[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct tenant *sup_find(const struct sup *s, const char *id)
{
    size_t i = lower_bound(s, id);
    return i < s->n && strcmp(s->t[i]->id, id) == 0 ? s->t[i] : NULL;
}

static void tenant_handle_closed(uv_handle_t *h)
{
    struct tenant *t = h->data;
    if (--t->open_handles == 0) {
        struct sup *s = t->s;
        free(t);
        if (s->closing_handles > 0 && --s->closing_handles == 0)
            sup_maybe_shutdown_done(s);
    }
}

struct tenant *sup_tenant_new(struct sup *s, const char *id)
{
    struct tenant *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->s = s;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->state = TS_STOPPED;
    t->goal = GOAL_DOWN;
    t->listen_fd = -1;
    t->status_fd = -1;
    t->ready_latency_ms = -1;
    uv_timer_init(s->loop, &t->fsm_timer);
    uv_timer_init(s->loop, &t->health_timer);
    uv_timer_init(s->loop, &t->drain_timer);
    t->fsm_timer.data = t;
    t->health_timer.data = t;
    t->drain_timer.data = t;
    t->open_handles = 3;
    return t;
}

int sup_tenant_insert(struct sup *s, struct tenant *t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct tenant **n = realloc(s->t, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        s->t = n;
        s->cap = cap;
    }
    size_t i = lower_bound(s, t->id);
    memmove(s->t + i + 1, s->t + i, (s->n - i) * sizeof *s->t);
    s->t[i] = t;
    s->n++;
    return 0;
}

/* Release everything of a tenant that has no process any more. Its memory
 * goes in the close callbacks, so callers up the stack may still read it. */
void sup_tenant_release(struct tenant *t)
{
    if (t->closing)
        return;
    t->closing = true;
    t->boot_attempt = false;
    sup_close_listen(t);
    notify_close(t->notify);
    t->notify = NULL;
    logcap_close(t->logcap);
    t->logcap = NULL;
    health_free(t->health);
    free(t->config_error);
    t->config_error = NULL;
    t->health = NULL;
    if (t->prev) {
        /* Only at shutdown's last resort: its exit is reaped, not awaited. */
        sup_watch_detach(t->prev);
        t->prev = NULL;
    }
    uv_close((uv_handle_t *)&t->fsm_timer, tenant_handle_closed);
    uv_close((uv_handle_t *)&t->health_timer, tenant_handle_closed);
    uv_close((uv_handle_t *)&t->drain_timer, tenant_handle_closed);
}

/* A removed tenant leaves the array once its worker is gone. */
void sup_tenant_remove(struct tenant *t)
{
    struct sup *s = t->s;
    size_t i = lower_bound(s, t->id);
    if (i < s->n && s->t[i] == t) {
        memmove(s->t + i, s->t + i + 1, (s->n - i - 1) * sizeof *s->t);
        s->n--;
    }
    log_info(t->id, "removed (its data is kept)");
    sup_tenant_release(t);
    sup_changed(s);
}

/* ---- start slots ------------------------------------------------------------------ */

void sup_queue_remove(struct tenant *t)
{
    struct sup *s = t->s;
    /* Taken off the queue without a start attempt (stopped, removed, or
     * shutting down): it no longer holds tenantd's readiness back. */
    t->boot_attempt = false;
    if (!t->queued)
        return;
    struct tenant **pp = &s->q_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->q_next;
    }
    if (*pp) {
        *pp = t->q_next;
        if (s->q_tail == t)
            s->q_tail = prev;
    }
    t->q_next = NULL;
    t->queued = false;
}

/* Start queued tenants while slots are free. Re-entrant calls (a start that
 * fails at once frees its slot) leave the work to the outer loop. */
void sup_pump(struct sup *s)
{
    if (s->pumping)
        return;
    s->pumping = true;
    int max = s->cfg->g.max_parallel_starts > 0 ? s->cfg->g.max_parallel_starts : 1;
    while (s->q_head && s->starting < max) {
        struct tenant *t = s->q_head;
        s->q_head = t->q_next;
        if (!s->q_head)
            s->q_tail = NULL;
        t->q_next = NULL;
        t->queued = false;
        sup_start_slot_run(t);
    }
    s->pumping = false;
}

/* ---- life cycle ------------------------------------------------------------------- */

int sup_start(uv_loop_t *loop, struct config *cfg, struct sup **out)
{
    int rc = 0;
    struct sup *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->root = geteuid() == 0;
    s->gen_base = (uint32_t)time(NULL);
    rc = util_self_dir(s->self_dir, sizeof s->self_dir);
    if (rc < 0)
        goto cleanup;
    if (s->root) {
        /* Tenants' cgroups live under a folder named after this tenantd's
         * run dir: stable across restarts (so leftovers of an earlier run are
         * found), distinct between two tenantd on one machine. */
        uint32_t h = 2166136261u;
        for (const char *p = cfg->g.run_dir; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        snprintf(s->cg_parent, sizeof s->cg_parent, "self/tenantd-%08x", h);
        cgroup_detect(NULL, &s->cgsys);
        if (s->cgsys.mode == CGROUP_NONE)
            log_warn(NULL, "no usable cgroups (%s): workers run without resource limits",
                     s->cgsys.why);
        if (s->cgsys.mode == CGROUP_V2)
            sup_cgroup_v2_setup(s);
        rc = uidmap_open(cfg->g.run_dir, &s->uids);
        if (rc < 0) {
            log_crit(NULL, "cannot read %s/uids: %s", cfg->g.run_dir, strerror(-rc));
            goto cleanup;
        }
    }
    uv_timer_init(loop, &s->change_timer);
    uv_timer_init(loop, &s->reload_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    uv_timer_init(loop, &s->state_timer);
    uv_timer_init(loop, &s->reap_timer);
    s->change_timer.data = s->reload_timer.data = s->shutdown_timer.data = s;
    s->state_timer.data = s->reap_timer.data = s;
    uv_fs_event_init(loop, &s->fs_event);
    s->fs_event.data = s;
    rc = uv_fs_event_start(&s->fs_event, sup_on_fs_event, cfg->g.tenants_dir, 0);
    if (rc < 0)
        log_warn(NULL, "cannot watch %s (%s): reload with SIGHUP", cfg->g.tenants_dir,
                 uv_strerror(rc));
    s->fs_event_on = rc == 0;
    *out = s;
    s->booting = true;
    rc = sup_apply_config(s, cfg);
    s->booting = false;
    return rc;
cleanup:
    uidmap_free(s->uids);
    free(s);
    return rc;
}

static void sup_handle_closed(uv_handle_t *h)
{
    struct sup *s = h->data;
    if (--s->closing_handles == 0)
        sup_maybe_shutdown_done(s);
}

void sup_maybe_shutdown_done(struct sup *s)
{
    if (!s->shutting_down)
        return;
    if (!s->handles_closed) {
        for (size_t i = 0; i < s->n; i++)
            if (fsm_has_process(s->t[i]->state) || s->t[i]->prev)
                return;
        /* Every worker is gone: close every handle, then report. */
        s->handles_closed = true;
        sup_cgroup_parent_cleanup(s);
        s->closing_handles = 1; /* held until the loop below is done */
        for (size_t i = 0; i < s->n; i++) {
            s->closing_handles++;
            sup_tenant_release(s->t[i]);
        }
        s->n = 0;
        uv_handle_t *hs[] = {(uv_handle_t *)&s->change_timer,   (uv_handle_t *)&s->reload_timer,
                             (uv_handle_t *)&s->shutdown_timer, (uv_handle_t *)&s->state_timer,
                             (uv_handle_t *)&s->reap_timer,     (uv_handle_t *)&s->fs_event};
        for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
            s->closing_handles++;
            uv_close(hs[i], sup_handle_closed);
        }
        s->closing_handles--;
    }
    if (s->closing_handles == 0 && s->shutdown_done) {
        void (*done)(void *) = s->shutdown_done;
        s->shutdown_done = NULL;
        done(s->shutdown_arg);
    }
}

static void on_shutdown_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    /* SIGKILL went out at the end of every grace period; a worker still
     * here is stuck in the kernel. Say so and stop waiting for it. */
    for (size_t i = 0; i < s->n; i++) {
        struct tenant *t = s->t[i];
        if (fsm_has_process(t->state)) {
            log_error(t->id, "worker pid=%d did not exit: leaving it behind", (int)t->pid);
            if (t->watch)
                sup_watch_detach(t->watch);
            t->watch = NULL;
            t->pid = 0;
            t->state = TS_STOPPED;
        }
        if (t->prev) {
            log_error(t->id, "previous worker pid=%d did not exit: leaving it behind",
                      (int)t->prev->pid);
            sup_watch_detach(t->prev);
            t->prev = NULL;
        }
    }
    sup_maybe_shutdown_done(s);
}

void sup_shutdown(struct sup *s, void (*done)(void *arg), void *arg)
{
    s->shutting_down = true;
    s->shutdown_done = done;
    s->shutdown_arg = arg;
    log_info(NULL, "stopping %zu tenants", s->n);
    uv_timer_start(&s->shutdown_timer, on_shutdown_timer,
                   (uint64_t)(s->cfg->g.stop_grace_ms + 5000), 0);
    /* Drop the start queue first, so no worker starts while others stop. */
    for (size_t i = 0; i < s->n; i++) {
        struct tenant *t = s->t[i];
        t->goal = GOAL_DOWN;
        sup_queue_remove(t);
    }
    for (size_t i = 0; i < s->n; i++)
        sup_reconcile(s->t[i]);
    sup_maybe_shutdown_done(s);
}

void sup_free(struct sup *s)
{
    if (!s)
        return;
    sup_watch_free_all(s);
    sup_reap_free_all(s);
    config_free(s->cfg);
    uidmap_free(s->uids);
    free(s->t);
    free(s);
}
