/*
 * tenant_fsm.c — the state x event table of one tenant's supervision (see
 * tenant_fsm.h). This file is the only place that says which state follows
 * which; it does no I/O and keeps no state of its own.
 *
 *                      EV_START / EV_RESUME / EV_TIMER / EV_CONFIG_CHANGED
 *        +---------+   (from stopped, suspended, backoff, failed)   +----------+
 *        | stopped |----------------------------------------------->| starting |
 *        +---------+                                                +----------+
 *          ^   ^  |EV_SUSPEND                      EV_READY |  |  EV_READY_TIMEOUT:
 *          |   |  v                                         v  |  abort (TERM, then KILL)
 *          |   | +-----------+                       +---------+  |
 *          |   | | suspended |                       | running |  |  EV_HEALTH_FAILED:
 *          |   | +-----------+                       +---------+  |  abort (TERM, then KILL)
 *          |   |        EV_STOP / EV_SUSPEND /             |      |
 *          |   |        EV_CONFIG_CHANGED                  |      |
 *          |   |  +----------+  <--------------------------+------+
 *          |   +--| stopping |  EV_EXIT_*: stopped, then the supervisor reconciles
 *          |      +----------+  with the tenant's goal (up: EV_START; suspended:
 *          |                    EV_SUSPEND; down: stay; removed: free)
 *          |
 *          |  EV_STOP      EV_EXIT_CLEAN / EV_EXIT_CRASH / EV_SPAWN_FAILED
 *          |          (from starting or running)
 *          |      +---------+ <----------------------------------------+
 *          +------| backoff |  EV_TIMER: starting
 *          |      +---------+
 *          |          | EV_START_LIMIT
 *          |          v
 *          |      +--------+   EV_EXIT_CONFIG (78): failed, held until EV_CONFIG_CHANGED
 *          +------| failed |   EV_EXIT_JAIL (111 + message): failed, retried after cooldown
 *                 +--------+   EV_TIMER (cooldown) or EV_START: starting
 *
 * Overlapping restart (passed socket, READY=1 readiness; sup_can_overlap()):
 *
 *        +---------+  EV_OVERLAP: the worker is set aside    +----------+
 *        | running |---------------------------------------->| starting |
 *        +---------+  (t->prev, still serving), a new one    +----------+
 *          ^    ^     is spawned on the same socket            |     |
 *          |    |              EV_READY: SIGTERM to t->prev,    |     |
 *          |    +------------- which drains (stop_grace) ------+     |
 *          |  EV_OVERLAP_FAILED (the new one exited, or was aborted  |
 *          +- for the ready timeout): t->prev is the worker again ---+
 *
 * Scale to zero (passed socket, idle_after > 0; sup_idle_applies()):
 *
 *        +---------+  EV_EXIT_IDLE: exit EXITCODE_IDLE after     +------+
 *        | running |  idle_after without a request; tenantd --->| idle |--+ EV_STOP: stopped
 *        +---------+  keeps the socket and polls it (idle.c)    +------+  | EV_SUSPEND: suspended
 *             ^                                                     |     (sup_reconcile then
 *             | EV_READY  +----------+  EV_WAKE (a connection        |      closes the socket)
 *             +-----------| starting |<-----------------------------+
 *                         +----------+  waits), EV_START (start, restart),
 *                                       EV_CONFIG_CHANGED
 *   A config change that keeps the tenant idle on the same port is applied
 *   without an event (sup_reload.c): the next worker starts with it.
 *
 *   Boot and added tenants start idle, without a worker:
 *
 *        +---------+  EV_PARK (sup_reconcile, only the first reconcile     +------+
 *        | stopped |  after its first valid config: at tenantd's start-up  | idle |
 *        +---------+  or when its file is added): its socket, already ---->+------+
 *                     bound, is watched (sup_idle_park); no worker until
 *                     the first connection (EV_WAKE above)
 *
 * The previous generation's exit is never an event of the table: it is
 * reaped on its own watch (sup_process.c), whatever the state.
 *
 * Which function performs each transition (every event goes through
 * sup_tenant_feed() in sup_exec.c, which also fires the sup_watch callbacks):
 *   stopped   -> starting    sup_tenant_feed(EV_START) from sup_reconcile() (sup_exec.c),
 *                            sup_tenant_action() (sup_view.c)
 *   starting  -> (spawned)   sup_act_spawn() -> sup_start_slot_run() -> do_spawn()
 *                            (sup_process.c) -> spawn_worker() (spawn.c)
 *   starting  -> running     on_notify() (READY=1) or on_probe_done() (first 200), sup_process.c
 *   starting/running -> backoff  on_exit_readable() (sup_process.c) classifies the
 *                            status; act_backoff() (sup_exec.c) arms the timer with
 *                            backoff_on_crash() (backoff.c)
 *   backoff   -> starting    sup_on_fsm_timer() (sup_exec.c)
 *   backoff   -> failed      act_backoff() feeds EV_START_LIMIT
 *   starting/running -> failed   on_exit_readable() (exit 78, or jail exit 111 with a
 *                            message; exitcode.h)
 *   failed    -> starting    sup_on_fsm_timer() (cooldown), sup_tenant_action(), reload
 *   running   -> stopping    sup_tenant_action(), apply_entry() (sup_reload.c), sup_shutdown()
 *   stopping  -> stopped     on_exit_readable(); then sup_reconcile()
 *   any       -> suspended   sup_reconcile() or sup_tenant_action() with the goal suspended
 *   grace expiry (SIGKILL)   sup_on_fsm_timer() in starting, running and stopping
 *   running   -> starting    EV_OVERLAP from sup_tenant_action(SUP_RESTART) (sup_view.c)
 *                            or apply_entry() (sup_reload.c) when sup_can_overlap();
 *                            act_overlap() (sup_exec.c)
 *   starting  -> running     EV_OVERLAP_FAILED from on_exit_readable() or
 *                            sup_start_slot_run() (sup_process.c); act_keep_prev()
 *   running   -> idle        on_exit_readable() (exit EXITCODE_IDLE, sup_idle_applies());
 *                            sup_idle_watch() (idle.c) polls the socket
 *   stopped   -> idle        sup_reconcile() (EV_PARK) for a tenant just booted or
 *                            added (t->park, sup_reload.c); sup_idle_park() (idle.c)
 *   idle      -> starting    on_idle_readable() (idle.c, EV_WAKE), sup_tenant_action()
 *                            (EV_START), sup_tenant_wake() (EV_START, onboarding),
 *                            apply_entry() (EV_CONFIG_CHANGED)
 *   idle      -> stopped/suspended  sup_reconcile(); leaving idle stops the poll
 *                            (sup_tenant_feed), closing the socket follows the goal
 *
 * What must hold in each state once a transition and its action are done
 * (tenant_check_invariants() below; sup_tenant_feed() asserts it after every
 * transition in debug and ASan builds, TENANTD_CHECK_INVARIANTS):
 *   stopped, backoff, failed, suspended, idle   no pid and no exit watch:
 *                            the worker was reaped before the state was left
 *   starting                 a pid and an exit watch, or neither while it
 *                            waits in the start queue (boot-storm limit)
 *   running, stopping        a pid and an exit watch
 *   backoff                  the restart timer armed (TM_BACKOFF)
 *   any state but starting   no start slot held and not in the start queue
 *   a previous generation that still serves (not draining) only in starting
 *   idle                     the listening socket held and watched
 *   any state but idle       the socket not watched (only a worker accepts)
 */
#include "tenant_fsm.h"

#include "sup_internal.h"

#include <errno.h>
#include <string.h>

/* A cell of the table; `set` tells a listed cell from an unlisted (zero) one. */
struct cell {
    bool set;
    enum tstate next;
    enum fsm_action action;
};
#define S(st, ac)                                                                                  \
    {                                                                                              \
        .set = true, .next = (st), .action = (ac)                                                  \
    }

/*
 * The table. A row per state; every event not listed in a row keeps the state
 * and does nothing (a stale timer, a READY from a worker already ready, an exit
 * when no process exists): fsm_next() fills those in, so every cell is defined.
 */
static const struct cell table[TS__COUNT][EV__COUNT] =
    {
        [TS_STOPPED] =
            {
                [EV_START] = S(TS_STARTING, ACT_SPAWN),
                [EV_SUSPEND] = S(TS_SUSPENDED, ACT_NONE),
                [EV_RESUME] = S(TS_STOPPED, ACT_REJECT),
                /* Boot or added: no worker until the first connection. */
                [EV_PARK] = S(TS_IDLE, ACT_PARK),
            },
        [TS_STARTING] =
            {
                [EV_SPAWN_FAILED] = S(TS_BACKOFF, ACT_BACKOFF),
                [EV_READY] = S(TS_RUNNING, ACT_READY),
                [EV_READY_TIMEOUT] = S(TS_STARTING, ACT_ABORT),
                [EV_EXIT_CLEAN] = S(TS_BACKOFF, ACT_BACKOFF),
                [EV_EXIT_CRASH] = S(TS_BACKOFF, ACT_BACKOFF),
                [EV_EXIT_CONFIG] = S(TS_FAILED, ACT_FAIL_HOLD),
                [EV_EXIT_JAIL] = S(TS_FAILED, ACT_FAIL),
                [EV_STOP] = S(TS_STOPPING, ACT_TERM),
                [EV_GRACE] = S(TS_STARTING, ACT_KILL),
                [EV_SUSPEND] = S(TS_STOPPING, ACT_TERM),
                [EV_RESUME] = S(TS_STARTING, ACT_REJECT),
                [EV_CONFIG_CHANGED] = S(TS_STOPPING, ACT_TERM),
                /* The previous worker never stopped serving: it is the worker
                 * again, running, and the error is reported. */
                [EV_OVERLAP_FAILED] = S(TS_RUNNING, ACT_KEEP_PREV),
                /* Not ready yet, so not idle: an exit like any other. */
                [EV_EXIT_IDLE] = S(TS_BACKOFF, ACT_BACKOFF),
            },
        [TS_RUNNING] =
            {
                /* A clean exit nobody asked for is still an outage: restart it. */
                [EV_EXIT_CLEAN] = S(TS_BACKOFF, ACT_BACKOFF),
                [EV_EXIT_CRASH] = S(TS_BACKOFF, ACT_BACKOFF),
                [EV_EXIT_CONFIG] = S(TS_FAILED, ACT_FAIL_HOLD),
                [EV_EXIT_JAIL] = S(TS_FAILED, ACT_FAIL),
                [EV_STOP] = S(TS_STOPPING, ACT_TERM),
                [EV_GRACE] = S(TS_RUNNING, ACT_KILL),
                [EV_HEALTH_FAILED] = S(TS_RUNNING, ACT_ABORT),
                [EV_SUSPEND] = S(TS_STOPPING, ACT_TERM),
                [EV_RESUME] = S(TS_RUNNING, ACT_REJECT),
                [EV_CONFIG_CHANGED] = S(TS_STOPPING, ACT_TERM),
                [EV_OVERLAP] = S(TS_STARTING, ACT_OVERLAP),
                /* Gone on its own after idle_after without a request: not a crash. */
                [EV_EXIT_IDLE] = S(TS_IDLE, ACT_IDLE),
            },
        [TS_STOPPING] =
            {
                /* Whatever the status, we asked for it: the goal decides what follows. */
                [EV_EXIT_CLEAN] = S(TS_STOPPED, ACT_STOPPED),
                [EV_EXIT_CRASH] = S(TS_STOPPED, ACT_STOPPED),
                [EV_EXIT_CONFIG] = S(TS_STOPPED, ACT_STOPPED),
                [EV_EXIT_JAIL] = S(TS_STOPPED, ACT_STOPPED),
                [EV_EXIT_IDLE] = S(TS_STOPPED, ACT_STOPPED),
                [EV_GRACE] = S(TS_STOPPING, ACT_KILL),
            },
        [TS_BACKOFF] =
            {
                [EV_START] = S(TS_STARTING, ACT_SPAWN),
                [EV_STOP] = S(TS_STOPPED, ACT_CANCEL),
                [EV_TIMER] = S(TS_STARTING, ACT_SPAWN),
                [EV_START_LIMIT] = S(TS_FAILED, ACT_FAIL),
                [EV_SUSPEND] = S(TS_SUSPENDED, ACT_CANCEL),
                [EV_RESUME] = S(TS_BACKOFF, ACT_REJECT),
                [EV_CONFIG_CHANGED] = S(TS_STARTING, ACT_SPAWN),
            },
        [TS_FAILED] =
            {
                [EV_START] = S(TS_STARTING, ACT_SPAWN),
                [EV_STOP] = S(TS_STOPPED, ACT_CANCEL),
                [EV_TIMER] = S(TS_STARTING, ACT_SPAWN),
                [EV_SUSPEND] = S(TS_SUSPENDED, ACT_CANCEL),
                [EV_RESUME] = S(TS_FAILED, ACT_REJECT),
                [EV_CONFIG_CHANGED] = S(TS_STARTING, ACT_SPAWN),
            },
        [TS_SUSPENDED] =
            {
                /* A suspended tenant starts only through a resume. */
                [EV_START] = S(TS_SUSPENDED, ACT_REJECT),
                [EV_STOP] = S(TS_STOPPED, ACT_NONE),
                [EV_RESUME] = S(TS_STARTING, ACT_SPAWN),
            },
        [TS_IDLE] =
            {
                /* The waiting connection is accepted by the new worker. */
                [EV_WAKE] = S(TS_STARTING, ACT_SPAWN),
                /* An operator's start or restart wants a worker now. */
                [EV_START] = S(TS_STARTING, ACT_SPAWN),
                /* Only when the change needs a worker now (sup_reload.c). */
                [EV_CONFIG_CHANGED] = S(TS_STARTING, ACT_SPAWN),
                [EV_STOP] = S(TS_STOPPED, ACT_NONE),
                [EV_SUSPEND] = S(TS_SUSPENDED, ACT_NONE),
                [EV_RESUME] = S(TS_IDLE, ACT_REJECT),
            },
};

struct fsm_step fsm_next(enum tstate state, enum fsm_event ev)
{
    struct fsm_step step = {.next = state, .action = ACT_NONE};
    if ((unsigned)state >= TS__COUNT || (unsigned)ev >= EV__COUNT)
        return step;
    const struct cell *c = &table[state][ev];
    if (c->set) {
        step.next = c->next;
        step.action = c->action;
    }
    return step;
}

bool fsm_has_process(enum tstate s)
{
    return s == TS_STARTING || s == TS_RUNNING || s == TS_STOPPING;
}

const char *fsm_event_name(enum fsm_event ev)
{
    static const char *const names[EV__COUNT] = {
        [EV_START] = "start",
        [EV_SPAWNED] = "spawned",
        [EV_SPAWN_FAILED] = "spawn-failed",
        [EV_READY] = "ready",
        [EV_READY_TIMEOUT] = "ready-timeout",
        [EV_EXIT_CLEAN] = "exit-clean",
        [EV_EXIT_CRASH] = "exit-crash",
        [EV_EXIT_CONFIG] = "exit-config",
        [EV_EXIT_JAIL] = "exit-jail",
        [EV_STOP] = "stop",
        [EV_GRACE] = "grace-expired",
        [EV_TIMER] = "timer",
        [EV_START_LIMIT] = "start-limit",
        [EV_HEALTH_FAILED] = "health-failed",
        [EV_SUSPEND] = "suspend",
        [EV_RESUME] = "resume",
        [EV_CONFIG_CHANGED] = "config-changed",
        [EV_OVERLAP] = "overlap",
        [EV_OVERLAP_FAILED] = "overlap-failed",
        [EV_EXIT_IDLE] = "exit-idle",
        [EV_WAKE] = "wake",
        [EV_PARK] = "park",
    };
    return (unsigned)ev < EV__COUNT ? names[ev] : "?";
}

const char *fsm_action_name(enum fsm_action a)
{
    static const char *const names[ACT__COUNT] = {
        [ACT_NONE] = "none",           [ACT_REJECT] = "reject",       [ACT_SPAWN] = "spawn",
        [ACT_READY] = "ready",         [ACT_ABORT] = "abort",         [ACT_TERM] = "term",
        [ACT_KILL] = "kill",           [ACT_BACKOFF] = "backoff",     [ACT_FAIL] = "fail",
        [ACT_FAIL_HOLD] = "fail-hold", [ACT_CANCEL] = "cancel",       [ACT_STOPPED] = "stopped",
        [ACT_OVERLAP] = "overlap",     [ACT_KEEP_PREV] = "keep-prev", [ACT_IDLE] = "idle",
        [ACT_PARK] = "park",
    };
    return (unsigned)a < ACT__COUNT ? names[a] : "?";
}

const char *tstate_name(enum tstate s)
{
    static const char *const names[TS__COUNT] = {
        [TS_STOPPED] = "stopped",     [TS_STARTING] = "starting", [TS_RUNNING] = "running",
        [TS_STOPPING] = "stopping",   [TS_BACKOFF] = "backoff",   [TS_FAILED] = "failed",
        [TS_SUSPENDED] = "suspended", [TS_IDLE] = "idle",
    };
    return (unsigned)s < TS__COUNT ? names[s] : "?";
}

int tstate_parse(const char *name, enum tstate *out)
{
    for (int s = 0; s < TS__COUNT; s++) {
        if (strcmp(name, tstate_name((enum tstate)s)) == 0) {
            *out = (enum tstate)s;
            return 0;
        }
    }
    return -EINVAL;
}

const char *tenant_check_invariants(const struct tenant *t)
{
    bool proc = fsm_has_process(t->state);
    bool has_pid = t->pid > 0, has_watch = t->watch != NULL;

    if (!proc && (has_pid || has_watch))
        return "stopped, backoff, failed, suspended, idle: no pid and no exit watch";
    if (t->state == TS_STARTING && has_pid != has_watch)
        return "starting: a pid and an exit watch, or neither";
    if (t->state == TS_STARTING && !has_pid && !t->queued)
        return "starting without a pid: waiting in the start queue";
    if ((t->state == TS_RUNNING || t->state == TS_STOPPING) && !(has_pid && has_watch))
        return "running, stopping: a pid and an exit watch";
    if (t->state == TS_BACKOFF && t->timer_kind != TM_BACKOFF)
        return "backoff: the restart timer armed";
    if (t->state != TS_STARTING && (t->in_slot || t->queued))
        return "not starting: no start slot and not in the start queue";
    if (t->prev != NULL && !t->prev_draining && t->state != TS_STARTING)
        return "a previous generation that still serves only in starting";
    if (t->state == TS_IDLE && (t->listen_fd < 0 || t->idle == NULL))
        return "idle: the listening socket held and watched";
    if (t->state != TS_IDLE && t->idle != NULL)
        return "not idle: the socket not watched";
    return NULL;
}
