/*
 * tenant_fsm.h — the supervision state machine of one tenant, as a pure
 * state x event table: fsm_next(state, event) gives the next state and the one
 * action the supervisor must perform. No I/O, no clock, no libuv: the
 * supervisor (sup_exec.c) feeds events and carries out the actions, and the
 * unit test (tests/unit/tenantd/fsm.c) checks every cell.
 *
 * The states are sup.h's enum tstate. The diagram and the list of which
 * function performs each transition are at the top of tenant_fsm.c.
 *
 * What it does not do: decide how long to wait (backoff.c), classify an exit
 * status into an event (sup_process.c), or remember anything between calls.
 */
#ifndef TENANTD_TENANT_FSM_H
#define TENANTD_TENANT_FSM_H

#include <stdbool.h>

#include "sup.h"

enum fsm_event {
    EV_START = 0,      /* start requested: boot, added, operator, config fixed */
    EV_SPAWNED,        /* the jail was forked and exec'd (pid known) */
    EV_SPAWN_FAILED,   /* could not bind, fork or prepare the data dir */
    EV_READY,          /* READY=1 on the notify socket, or the first /healthz 200 */
    EV_READY_TIMEOUT,  /* not ready within ready_timeout */
    EV_EXIT_CLEAN,     /* the worker exited 0 */
    EV_EXIT_CRASH,     /* any other exit status, a signal, or an exit after an abort */
    EV_EXIT_CONFIG,    /* exit 78 (EX_CONFIG): do not restart until the config changes */
    EV_EXIT_JAIL,      /* the jail exited 111 after writing a failed step to the status fd */
    EV_STOP,           /* stop requested: operator, removal, cancelled, shutdown, restart */
    EV_GRACE,          /* stop_grace expired after SIGTERM */
    EV_TIMER,          /* the backoff delay or the failed cooldown expired */
    EV_START_LIMIT,    /* start_limit crashes without a stable run */
    EV_HEALTH_FAILED,  /* health_failures failed probes in a row */
    EV_SUSPEND,        /* suspended by the operator or by status = suspended */
    EV_RESUME,         /* resumed */
    EV_CONFIG_CHANGED, /* the tenant's file changed in a way that matters to the worker */
    EV_OVERLAP,        /* restart or config change of a worker that can be replaced beside
                          itself (sup_can_overlap): the new one starts, the old one serves */
    EV_OVERLAP_FAILED, /* the new worker of an overlap died or failed before it was ready,
                          while the previous one still serves */
    EV_EXIT_IDLE,      /* a worker that idles (sup_idle_applies) exited EXITCODE_IDLE after
                          its idle_after without a request */
    EV_WAKE,           /* a connection waits on an idle tenant's socket */
    EV_PARK,           /* booted or added, and idle applies (sup_idle_applies): hold the
                          socket, no worker until the first connection */
    EV__COUNT
};

enum fsm_action {
    ACT_NONE = 0,  /* nothing to do (bookkeeping only, or a stale event) */
    ACT_REJECT,    /* the request makes no sense in this state: say so to the caller */
    ACT_SPAWN,     /* take a start slot (or queue for one), fork+exec the jail */
    ACT_READY,     /* release the start slot, begin liveness probes */
    ACT_ABORT,     /* SIGTERM now, SIGKILL after stop_grace; the exit counts as a crash */
    ACT_TERM,      /* SIGTERM now, SIGKILL after stop_grace; the exit is a stop */
    ACT_KILL,      /* SIGKILL now */
    ACT_BACKOFF,   /* count a crash, arm the backoff timer (or EV_START_LIMIT) */
    ACT_FAIL,      /* failed: log loudly, arm the failed_cooldown timer */
    ACT_FAIL_HOLD, /* failed until the config changes: log loudly, no timer */
    ACT_CANCEL,    /* disarm the pending backoff or cooldown timer */
    ACT_STOPPED,   /* the worker is gone after a stop: reconcile with the goal */
    ACT_OVERLAP,   /* set the running worker aside (still serving), spawn the next one */
    ACT_KEEP_PREV, /* the next one is gone: the one set aside is the worker again */
    ACT_IDLE,      /* keep the socket, watch it for the next connection (idle.c) */
    ACT_PARK,      /* the same for a tenant that never ran a worker (sup_idle_park) */
    ACT__COUNT
};

struct fsm_step {
    enum tstate next;
    enum fsm_action action;
};

/* The transition for (state, event); total over TS__COUNT x EV__COUNT. */
struct fsm_step fsm_next(enum tstate state, enum fsm_event ev);

const char *fsm_event_name(enum fsm_event ev);
const char *fsm_action_name(enum fsm_action a);

/* True in the states where a worker process may exist. */
bool fsm_has_process(enum tstate s);

/*
 * The per-state invariants written at the top of tenant_fsm.c, checked on a
 * tenant's fields: NULL when they hold, else the broken rule, as written
 * there. Pure (no I/O); cheap, but walked after every transition only when
 * TENANTD_CHECK_INVARIANTS is defined (make BUILD=debug or BUILD=asan).
 */
struct tenant;
const char *tenant_check_invariants(const struct tenant *t);

#ifdef TENANTD_CHECK_INVARIANTS
#include <stdio.h>
#include <stdlib.h>
#define TENANT_ASSERT_INVARIANTS(t)                                                                \
    do {                                                                                           \
        const char *broken_ = tenant_check_invariants(t);                                          \
        if (broken_ != NULL) {                                                                     \
            fprintf(stderr, "tenantd: %s: state %s breaks \"%s\"\n", (t)->id,                      \
                    tstate_name((t)->state), broken_);                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define TENANT_ASSERT_INVARIANTS(t) ((void)0)
#endif

#endif
