/*
 * sup_exec.c — the executor of the state machine: sup_tenant_feed() looks an
 * event up in tenant_fsm.c's table, records the new state and carries out
 * the one action the table names (spawn, signal, arm a timer, fail);
 * sup_reconcile() moves a tenant toward its goal after a stop.
 *
 * What it does not do: decide a transition (tenant_fsm.c), start a process
 * (sup_process.c), or know why an event happened.
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
#include "idle.h"
#include "jail_args.h"
#include "listen.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "spawn_transient.h"
#include "status_json.h"
#include "tenant_fsm.h"
#include "uidmap.h"
#include "usage_token.h"

/* ---- actions ------------------------------------------------------------------- */

void sup_timer_arm(struct tenant *t, enum timer_kind k, int64_t ms)
{
    if (t->closing)
        return;
    if (ms < 0)
        ms = 0;
    t->timer_kind = k;
    t->timer_due = sup_now_ms(t->s) + (uint64_t)ms;
    uv_timer_start(&t->fsm_timer, sup_on_fsm_timer, (uint64_t)ms, 0);
}

void sup_on_fsm_timer(uv_timer_t *h)
{
    struct tenant *t = h->data;
    enum timer_kind k = t->timer_kind;
    t->timer_kind = TM_NONE;
    t->timer_due = 0;
    switch (k) {
    case TM_READY:
        sup_set_reason(t, "not ready within %lld ms", (long long)t->s->cfg->g.ready_timeout_ms);
        log_error(t->id, "%s: killing it", t->state_reason);
        sup_tenant_feed(t, EV_READY_TIMEOUT);
        break;
    case TM_GRACE:
        sup_tenant_feed(t, EV_GRACE);
        break;
    case TM_BACKOFF:
    case TM_COOLDOWN:
        sup_tenant_feed(t, EV_TIMER);
        break;
    case TM_NONE:
        break;
    }
}

static void send_signal(struct tenant *t, int sig)
{
    if (t->pid > 0 && kill(t->pid, sig) < 0 && errno != ESRCH)
        log_warn(t->id, "kill(%d, %d): %s", (int)t->pid, sig, strerror(errno));
}

/* [worker] stop_signal: what a worker is asked to stop with (SIGKILL follows
 * after the grace period). */
static int stop_sig(const struct tenant *t)
{
    return t->have_cfg ? config_stop_signal(t->cfg.stop_signal) : SIGTERM;
}

static void on_drain_timer(uv_timer_t *h)
{
    struct tenant *t = h->data;
    if (t->prev && kill(t->prev->pid, SIGKILL) == 0)
        log_warn(t->id, "previous worker pid=%d still draining after the grace period: SIGKILL",
                 (int)t->prev->pid);
}

void sup_prev_drain(struct tenant *t)
{
    if (!t->prev || t->prev_draining)
        return;
    t->prev_draining = true;
    if (kill(t->prev->pid, stop_sig(t)) < 0 && errno != ESRCH)
        log_warn(t->id, "kill(%d, %d): %s", (int)t->prev->pid, stop_sig(t), strerror(errno));
    if (!t->closing)
        uv_timer_start(&t->drain_timer, on_drain_timer, (uint64_t)t->s->cfg->g.stop_grace_ms, 0);
}

/* Set the running worker aside, still serving on the shared socket, and
 * start the next generation beside it (EV_OVERLAP). */
static void act_overlap(struct tenant *t)
{
    sup_health_stop(t);
    sup_timer_disarm(t);
    t->prev = t->watch;
    t->prev_draining = false;
    t->prev_ready_at = t->ready_at;
    t->watch = NULL;
    t->pid = 0;
    t->ready_at = 0;
    if (t->status_fd >= 0) {
        close(t->status_fd);
        t->status_fd = -1;
    }
    log_info(t->id, "starting a new worker beside pid=%d, which serves until it is ready",
             (int)t->prev->pid);
    sup_act_spawn(t);
}

/* The new generation of an overlap is gone before it was ready: the one set
 * aside, which never stopped serving, is the worker again. */
static void act_keep_prev(struct tenant *t)
{
    if (!t->prev)
        return;
    t->watch = t->prev;
    t->pid = t->prev->pid;
    t->ready_at = t->prev_ready_at;
    t->prev = NULL;
    t->prev_draining = false;
    log_error(t->id, "restart failed: %s; pid=%d keeps serving", t->state_reason, (int)t->pid);
    if (t->logcap) {
        char line[320];
        snprintf(line, sizeof line, "restart failed: %s", t->state_reason);
        logcap_note(t->logcap, line);
    }
    sup_health_schedule(t, sup_health_interval(t->s));
}

static void act_term(struct tenant *t)
{
    /* A stop stops both generations of an overlap. */
    sup_prev_drain(t);
    sup_health_stop(t);
    if (t->pid <= 0) {
        /* It was still waiting for a start slot: there is nothing to stop. */
        sup_tenant_feed(t, EV_EXIT_CLEAN);
        return;
    }
    send_signal(t, stop_sig(t));
    sup_timer_arm(t, TM_GRACE, t->s->cfg->g.stop_grace_ms);
}

static void act_backoff(struct tenant *t)
{
    struct sup *s = t->s;
    if (t->transient_err) {
        /* A shortage, not the tenant's fault: retry soon, not a crash. */
        int64_t td = transient_delay_ms(t->transient_tries++, randombytes_random());
        log_debug(t->id, "%s: retrying in %lld ms", t->state_reason, (long long)td);
        t->transient_err = 0;
        t->last_run_ms = 0;
        sup_timer_arm(t, TM_BACKOFF, td);
        return;
    }
    int64_t d = backoff_on_crash(&t->bo, &s->bp, t->last_run_ms, randombytes_random());
    t->last_run_ms = 0;
    if (d < 0) {
        sup_set_reason(t, "start limit reached: %d crashes without a stable run (last: %s)",
                       t->bo.crashes, t->last_exit[0] ? t->last_exit : "none");
        sup_tenant_feed(t, EV_START_LIMIT);
        return;
    }
    log_info(t->id, "restarting in %lld ms (crash %d of %d)", (long long)d, t->bo.crashes,
             s->bp.start_limit);
    sup_timer_arm(t, TM_BACKOFF, d);
}

static void act_fail(struct tenant *t, bool hold)
{
    const struct config_global *g = &t->s->cfg->g;
    if (!hold && g->failed_cooldown_ms > 0) {
        log_error(t->id, "FAILED: %s; retried in %lld s or by hand", t->state_reason,
                  (long long)(g->failed_cooldown_ms / 1000));
        sup_timer_arm(t, TM_COOLDOWN, g->failed_cooldown_ms);
    } else {
        log_error(t->id, "FAILED: %s; retried by hand%s", t->state_reason,
                  hold ? " or when its config changes" : "");
        sup_timer_disarm(t);
    }
    if (t->logcap) {
        char line[320];
        snprintf(line, sizeof line, "failed: %s", t->state_reason);
        logcap_note(t->logcap, line);
    }
}

static void act_ready(struct tenant *t)
{
    struct sup *s = t->s;
    sup_timer_disarm(t);
    sup_health_stop(t);
    t->ready_at = sup_now_ms(s);
    if (t->ready_at == t->spawned_at)
        t->ready_at++; /* 0 means "not ready" */
    t->ready_latency_ms = (int64_t)(sup_now_ms(s) - t->spawned_at);
    t->health_fails = 0;
    t->state_reason[0] = '\0';
    /* Ready means the jail has exec'd the worker: its status pipe has
     * nothing more to say, and a thousand tenants need not hold one each. */
    if (t->status_fd >= 0) {
        close(t->status_fd);
        t->status_fd = -1;
    }
    log_info(t->id, "worker ready pid=%d latency_ms=%lld", (int)t->pid,
             (long long)t->ready_latency_ms);
    if (t->transient_tries > 0)
        log_info(t->id, "started after %d retries for a shortage", t->transient_tries);
    t->transient_tries = 0;
    if (t->prev) {
        log_info(t->id, "pid=%d takes over: pid=%d drains", (int)t->pid, (int)t->prev->pid);
        sup_prev_drain(t);
    }
    /* The first probe lands anywhere in the first interval, so that tenants
     * started together do not probe together, then or ever after. */
    int64_t iv = sup_health_interval(t->s);
    sup_health_schedule(t, 1 + (int64_t)randombytes_uniform((uint32_t)iv));
}

/* The worker went away on its own after idle_after without a request
 * (EV_EXIT_IDLE): keep the socket and wait for the next connection. */
static void act_idle(struct tenant *t)
{
    sup_timer_disarm(t);
    t->state_reason[0] = '\0';
    int rc = sup_idle_watch(t);
    if (rc < 0) {
        /* Cannot watch the socket: a worker must accept, so start one now. */
        log_error(t->id, "idle: cannot watch 127.0.0.1:%d (%s): starting the worker",
                  t->listen_port, strerror(-rc));
        sup_tenant_feed(t, EV_START);
        return;
    }
    log_info(t->id, "idle: no worker; the next connection on 127.0.0.1:%d starts one",
             t->listen_port);
    if (t->logcap)
        logcap_note(t->logcap, "idle: the worker exited after its idle period");
}

static void perform(struct tenant *t, enum fsm_action a)
{
    switch (a) {
    case ACT_NONE:
    case ACT_REJECT:
        break;
    case ACT_SPAWN:
        sup_act_spawn(t);
        break;
    case ACT_READY:
        act_ready(t);
        break;
    case ACT_ABORT:
        t->aborting = true;
        sup_health_stop(t);
        send_signal(t, stop_sig(t));
        sup_timer_arm(t, TM_GRACE, t->s->cfg->g.stop_grace_ms);
        break;
    case ACT_TERM:
        act_term(t);
        break;
    case ACT_KILL:
        log_warn(t->id, "still alive after the grace period: SIGKILL");
        send_signal(t, SIGKILL);
        break;
    case ACT_BACKOFF:
        act_backoff(t);
        break;
    case ACT_FAIL:
        act_fail(t, false);
        break;
    case ACT_FAIL_HOLD:
        act_fail(t, true);
        break;
    case ACT_CANCEL:
        sup_timer_disarm(t);
        break;
    case ACT_STOPPED:
        sup_timer_disarm(t);
        sup_reconcile(t);
        break;
    case ACT_OVERLAP:
        act_overlap(t);
        break;
    case ACT_KEEP_PREV:
        act_keep_prev(t);
        break;
    case ACT_IDLE:
        act_idle(t);
        break;
    case ACT_PARK:
        sup_idle_park(t);
        break;
    case ACT__COUNT:
        break;
    }
}

void sup_tenant_feed(struct tenant *t, enum fsm_event ev)
{
    if (t->closing)
        return;
    struct fsm_step st = fsm_next(t->state, ev);
    enum tstate old = t->state;
    if (st.action == ACT_REJECT)
        return;
    t->state = st.next;
    if (old != st.next)
        log_debug(t->id, "%s -> %s on %s", tstate_name(old), tstate_name(st.next),
                  fsm_event_name(ev));
    /* A start slot is held exactly while the tenant is starting. The next
     * queued tenant starts only after this transition's action, so the log
     * reads in order ("ready", then the next "started"). */
    bool freed = false;
    if (old == TS_STARTING && st.next != TS_STARTING) {
        sup_queue_remove(t);
        freed = t->in_slot;
        if (t->in_slot) {
            t->in_slot = false;
            t->s->starting--;
        }
    }
    if ((old == TS_SUSPENDED) != (st.next == TS_SUSPENDED))
        sup_changed(t->s);
    /* Only a worker accepts: the socket is watched exactly while idle. */
    if (old == TS_IDLE && st.next != TS_IDLE) {
        sup_idle_unwatch(t);
        t->waking = st.next == TS_STARTING;
    }
    if (old != st.next) {
        sup_states_changed(t->s);
        sup_watch_fire(t);
    }
    perform(t, st.action);
    if (!t->closing)
        TENANT_ASSERT_INVARIANTS(t);
    if (freed)
        sup_pump(t->s);
    if (t->s->shutting_down && !fsm_has_process(t->state))
        sup_maybe_shutdown_done(t->s);
}

/* Move a tenant toward its goal. Called after a stop completes and whenever
 * the goal changes; safe to call at any time. */
void sup_reconcile(struct tenant *t)
{
    if (t->closing)
        return;
    switch (t->goal) {
    case GOAL_UP:
        if (!t->have_cfg)
            break;
        if (t->state == TS_STOPPED)
            /* Just booted or added, and it may idle: no worker yet (idle.c). */
            sup_tenant_feed(t, t->park && sup_idle_applies(t) ? EV_PARK : EV_START);
        else if (t->state == TS_SUSPENDED)
            sup_tenant_feed(t, EV_RESUME);
        break;
    case GOAL_DOWN:
    case GOAL_REMOVED:
        if (t->state != TS_STOPPED && t->state != TS_STOPPING)
            sup_tenant_feed(t, EV_STOP);
        /* A removed tenant leaves once its draining generation is gone too
         * (sup_process.c reconciles again when it is). */
        if (t->state == TS_STOPPED) {
            if (!t->hold_socket || t->goal == GOAL_REMOVED)
                sup_close_listen(t);
            if (t->goal == GOAL_REMOVED && !t->prev)
                sup_tenant_remove(t);
        }
        break;
    case GOAL_SUSPENDED:
        if (t->state != TS_SUSPENDED && t->state != TS_STOPPING)
            sup_tenant_feed(t, EV_SUSPEND);
        if (t->state == TS_SUSPENDED)
            sup_close_listen(t);
        break;
    }
}

/* ---- watches ---------------------------------------------------------------- */

struct sup_watch {
    struct sup_watch *next;
    char id[CONFIG_ID_MAX];
    sup_watch_fn fn;
    void *arg;
    bool dead; /* cancelled while watchers were running; freed after */
};

int sup_watch_add(struct sup *s, const char *id, sup_watch_fn fn, void *arg, struct sup_watch **out)
{
    struct sup_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    snprintf(w->id, sizeof w->id, "%s", id);
    w->fn = fn;
    w->arg = arg;
    w->next = s->watches;
    s->watches = w;
    *out = w;
    return 0;
}

static void watch_unlink(struct sup *s, struct sup_watch *w)
{
    for (struct sup_watch **p = &s->watches; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}

void sup_watch_cancel(struct sup *s, struct sup_watch *w)
{
    if (w == NULL)
        return;
    /* The list is being walked: unlinking now would break the walk. */
    if (s->watch_firing > 0) {
        w->dead = true;
        return;
    }
    watch_unlink(s, w);
    free(w);
}

void sup_watch_fire(struct tenant *t)
{
    struct sup *s = t->s;
    s->watch_firing++;
    for (struct sup_watch *w = s->watches; w; w = w->next)
        if (!w->dead && strcmp(w->id, t->id) == 0)
            w->fn(w->arg, t->id, t->state);
    if (--s->watch_firing > 0)
        return;
    for (struct sup_watch **p = &s->watches; *p;) {
        struct sup_watch *w = *p;
        if (w->dead) {
            *p = w->next;
            free(w);
        } else {
            p = &w->next;
        }
    }
}

void sup_watch_free_all(struct sup *s)
{
    while (s->watches) {
        struct sup_watch *w = s->watches;
        s->watches = w->next;
        free(w);
    }
}
