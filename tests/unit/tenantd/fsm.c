/*
 * tenantd/fsm.c (unit) — every cell of the tenant state machine (tenant_fsm.c): the
 * expected table is written out again here, state by state and event by
 * event, so a change to a transition has to be made twice, on purpose.
 * Then a few properties that must hold whatever the table says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tenant_fsm.h"

#include <stdlib.h>
#include <string.h>

#include "sup_internal.h"

#define X(st, ac)                                                                                  \
    {                                                                                              \
        (st), (ac)                                                                                 \
    }
#define KEEP(st) X(st, ACT_NONE)

/* Columns in enum fsm_event order:
 * START SPAWNED SPAWN_FAILED READY READY_TIMEOUT EXIT_CLEAN EXIT_CRASH EXIT_CONFIG
 * EXIT_JAIL STOP GRACE TIMER START_LIMIT HEALTH_FAILED SUSPEND RESUME CONFIG_CHANGED
 * OVERLAP OVERLAP_FAILED EXIT_IDLE WAKE PARK */
static const struct fsm_step expected[TS__COUNT][EV__COUNT] = {
    [TS_STOPPED] = {X(TS_STARTING, ACT_SPAWN), KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    KEEP(TS_STOPPED),          KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    KEEP(TS_STOPPED),          KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    KEEP(TS_STOPPED),          KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    KEEP(TS_STOPPED),          KEEP(TS_STOPPED), X(TS_SUSPENDED, ACT_NONE),
                    X(TS_STOPPED, ACT_REJECT), KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    KEEP(TS_STOPPED),          KEEP(TS_STOPPED), KEEP(TS_STOPPED),
                    X(TS_IDLE, ACT_PARK)},
    [TS_STARTING] = {KEEP(TS_STARTING),
                     KEEP(TS_STARTING),
                     X(TS_BACKOFF, ACT_BACKOFF),
                     X(TS_RUNNING, ACT_READY),
                     X(TS_STARTING, ACT_ABORT),
                     X(TS_BACKOFF, ACT_BACKOFF),
                     X(TS_BACKOFF, ACT_BACKOFF),
                     X(TS_FAILED, ACT_FAIL_HOLD),
                     X(TS_FAILED, ACT_FAIL),
                     X(TS_STOPPING, ACT_TERM),
                     X(TS_STARTING, ACT_KILL),
                     KEEP(TS_STARTING),
                     KEEP(TS_STARTING),
                     KEEP(TS_STARTING),
                     X(TS_STOPPING, ACT_TERM),
                     X(TS_STARTING, ACT_REJECT),
                     X(TS_STOPPING, ACT_TERM),
                     KEEP(TS_STARTING),
                     X(TS_RUNNING, ACT_KEEP_PREV),
                     X(TS_BACKOFF, ACT_BACKOFF),
                     KEEP(TS_STARTING),
                     KEEP(TS_STARTING)},
    [TS_RUNNING] = {KEEP(TS_RUNNING),           KEEP(TS_RUNNING),
                    KEEP(TS_RUNNING),           KEEP(TS_RUNNING),
                    KEEP(TS_RUNNING),           X(TS_BACKOFF, ACT_BACKOFF),
                    X(TS_BACKOFF, ACT_BACKOFF), X(TS_FAILED, ACT_FAIL_HOLD),
                    X(TS_FAILED, ACT_FAIL),     X(TS_STOPPING, ACT_TERM),
                    X(TS_RUNNING, ACT_KILL),    KEEP(TS_RUNNING),
                    KEEP(TS_RUNNING),           X(TS_RUNNING, ACT_ABORT),
                    X(TS_STOPPING, ACT_TERM),   X(TS_RUNNING, ACT_REJECT),
                    X(TS_STOPPING, ACT_TERM),   X(TS_STARTING, ACT_OVERLAP),
                    KEEP(TS_RUNNING),           X(TS_IDLE, ACT_IDLE),
                    KEEP(TS_RUNNING),           KEEP(TS_RUNNING)},
    [TS_STOPPING] = {KEEP(TS_STOPPING),          KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          X(TS_STOPPED, ACT_STOPPED),
                     X(TS_STOPPED, ACT_STOPPED), X(TS_STOPPED, ACT_STOPPED),
                     X(TS_STOPPED, ACT_STOPPED), KEEP(TS_STOPPING),
                     X(TS_STOPPING, ACT_KILL),   KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          KEEP(TS_STOPPING),
                     KEEP(TS_STOPPING),          X(TS_STOPPED, ACT_STOPPED),
                     KEEP(TS_STOPPING),          KEEP(TS_STOPPING)},
    [TS_BACKOFF] =
        {X(TS_STARTING, ACT_SPAWN), KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),
         KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),
         KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),
         X(TS_STOPPED, ACT_CANCEL), KEEP(TS_BACKOFF),          X(TS_STARTING, ACT_SPAWN),
         X(TS_FAILED, ACT_FAIL),    KEEP(TS_BACKOFF),          X(TS_SUSPENDED, ACT_CANCEL),
         X(TS_BACKOFF, ACT_REJECT), X(TS_STARTING, ACT_SPAWN), KEEP(TS_BACKOFF),
         KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),          KEEP(TS_BACKOFF),
         KEEP(TS_BACKOFF)},
    [TS_FAILED] = {X(TS_STARTING, ACT_SPAWN),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   X(TS_STOPPED, ACT_CANCEL),
                   KEEP(TS_FAILED),
                   X(TS_STARTING, ACT_SPAWN),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   X(TS_SUSPENDED, ACT_CANCEL),
                   X(TS_FAILED, ACT_REJECT),
                   X(TS_STARTING, ACT_SPAWN),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED),
                   KEEP(TS_FAILED)},
    [TS_SUSPENDED] = {X(TS_SUSPENDED, ACT_REJECT), KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      KEEP(TS_SUSPENDED),          KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      KEEP(TS_SUSPENDED),          KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      X(TS_STOPPED, ACT_NONE),     KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      KEEP(TS_SUSPENDED),          KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      X(TS_STARTING, ACT_SPAWN),   KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      KEEP(TS_SUSPENDED),          KEEP(TS_SUSPENDED), KEEP(TS_SUSPENDED),
                      KEEP(TS_SUSPENDED)},
    [TS_IDLE] = {X(TS_STARTING, ACT_SPAWN),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 X(TS_STOPPED, ACT_NONE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 X(TS_SUSPENDED, ACT_NONE),
                 X(TS_IDLE, ACT_REJECT),
                 X(TS_STARTING, ACT_SPAWN),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 KEEP(TS_IDLE),
                 X(TS_STARTING, ACT_SPAWN),
                 KEEP(TS_IDLE)},
};

static void test_every_cell(void **state)
{
    (void)state;
    int checked = 0;
    for (int s = 0; s < TS__COUNT; s++) {
        for (int e = 0; e < EV__COUNT; e++) {
            struct fsm_step got = fsm_next((enum tstate)s, (enum fsm_event)e);
            const struct fsm_step *want = &expected[s][e];
            if (got.next != want->next || got.action != want->action)
                fail_msg("%s x %s: got %s/%s, want %s/%s", tstate_name((enum tstate)s),
                         fsm_event_name((enum fsm_event)e), tstate_name(got.next),
                         fsm_action_name(got.action), tstate_name(want->next),
                         fsm_action_name(want->action));
            checked++;
        }
    }
    assert_int_equal(checked, TS__COUNT * EV__COUNT);
}

/* An exit can only move a state that has a process; elsewhere it is stale. */
static void test_exits_need_a_process(void **state)
{
    (void)state;
    const enum fsm_event exits[] = {EV_EXIT_CLEAN, EV_EXIT_CRASH, EV_EXIT_CONFIG, EV_EXIT_JAIL,
                                    EV_EXIT_IDLE};
    for (int s = 0; s < TS__COUNT; s++) {
        for (size_t i = 0; i < 5; i++) {
            struct fsm_step st = fsm_next((enum tstate)s, exits[i]);
            if (!fsm_has_process((enum tstate)s)) {
                assert_int_equal(st.next, s);
                assert_int_equal(st.action, ACT_NONE);
            } else {
                /* After an exit there is no process any more. */
                assert_false(fsm_has_process(st.next));
            }
        }
    }
}

/* A stop request always ends without a worker, or on the way there. */
static void test_stop_always_stops(void **state)
{
    (void)state;
    for (int s = 0; s < TS__COUNT; s++) {
        struct fsm_step st = fsm_next((enum tstate)s, EV_STOP);
        assert_true(st.next == TS_STOPPED || st.next == TS_STOPPING);
        if (fsm_has_process((enum tstate)s) && s != TS_STOPPING)
            assert_int_equal(st.action, ACT_TERM);
    }
}

/* Every transition into starting spawns (ACT_OVERLAP spawns too, beside the
 * worker it sets aside), and nothing else spawns. */
static void test_spawn_iff_entering_starting(void **state)
{
    (void)state;
    for (int s = 0; s < TS__COUNT; s++) {
        for (int e = 0; e < EV__COUNT; e++) {
            struct fsm_step st = fsm_next((enum tstate)s, (enum fsm_event)e);
            bool entering = st.next == TS_STARTING && s != TS_STARTING;
            assert_int_equal(entering, st.action == ACT_SPAWN || st.action == ACT_OVERLAP);
        }
    }
}

/* Out-of-range input keeps the state and does nothing. */
static void test_out_of_range(void **state)
{
    (void)state;
    struct fsm_step st = fsm_next(TS_RUNNING, EV__COUNT);
    assert_int_equal(st.next, TS_RUNNING);
    assert_int_equal(st.action, ACT_NONE);
    st = fsm_next(TS__COUNT, EV_START);
    assert_int_equal(st.action, ACT_NONE);
    assert_string_equal(fsm_event_name(EV__COUNT), "?");
    assert_string_equal(tstate_name(TS__COUNT), "?");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tstate_name(TS_STOPPED), "stopped");
    assert_string_equal(tstate_name(TS_SUSPENDED), "suspended");
    for (int e = 0; e < EV__COUNT; e++)
        assert_string_not_equal(fsm_event_name((enum fsm_event)e), "?");
    for (int a = 0; a < ACT__COUNT; a++)
        assert_string_not_equal(fsm_action_name((enum fsm_action)a), "?");
}

/* The per-state invariants: a consistent tenant passes, and each broken rule
 * is named. */
static void test_invariants(void **state)
{
    struct tenant *t = calloc(1, sizeof *t);
    struct exit_watch w;
    assert_non_null(t);
    memset(&w, 0, sizeof w);

    t->state = TS_STOPPED;
    assert_null(tenant_check_invariants(t));
    t->pid = 42;
    assert_string_equal(tenant_check_invariants(t),
                        "stopped, backoff, failed, suspended, idle: no pid and no exit watch");

    t->state = TS_RUNNING;
    t->watch = &w;
    assert_null(tenant_check_invariants(t));
    t->watch = NULL;
    assert_string_equal(tenant_check_invariants(t), "running, stopping: a pid and an exit watch");

    t->state = TS_STARTING;
    t->pid = 0;
    assert_string_equal(tenant_check_invariants(t),
                        "starting without a pid: waiting in the start queue");
    t->queued = true;
    assert_null(tenant_check_invariants(t));
    t->pid = 42;
    assert_string_equal(tenant_check_invariants(t),
                        "starting: a pid and an exit watch, or neither");

    t->state = TS_BACKOFF;
    t->pid = 0;
    t->queued = false;
    t->timer_kind = TM_BACKOFF;
    assert_null(tenant_check_invariants(t));
    t->timer_kind = TM_NONE;
    assert_string_equal(tenant_check_invariants(t), "backoff: the restart timer armed");

    t->state = TS_FAILED;
    t->in_slot = true;
    assert_string_equal(tenant_check_invariants(t),
                        "not starting: no start slot and not in the start queue");

    /* An overlap: the previous generation serves only while the next one
     * starts; once it drains, any state may still see it go. */
    t->in_slot = false;
    t->state = TS_RUNNING;
    t->pid = 42;
    t->watch = &w;
    t->prev = &w;
    assert_string_equal(tenant_check_invariants(t),
                        "a previous generation that still serves only in starting");
    t->prev_draining = true;
    assert_null(tenant_check_invariants(t));
    t->state = TS_STARTING;
    t->prev_draining = false;
    assert_null(tenant_check_invariants(t));
    free(t);
}

/* Scale to zero: only a running worker goes idle, only on its own idle exit;
 * an idle tenant leaves on a waiting connection (spawn), an operator's start,
 * or a config change that needs a worker, and a stop or suspend ends it
 * without a process to stop. Nothing but a resume is refused. */
static void test_idle_paths(void **state)
{
    (void)state;
    for (int s = 0; s < TS__COUNT; s++) {
        for (int e = 0; e < EV__COUNT; e++) {
            struct fsm_step st = fsm_next((enum tstate)s, (enum fsm_event)e);
            /* Idle is entered only by a worker's idle exit, or by parking
             * a stopped tenant that was just booted or added. */
            if (st.next == TS_IDLE && s != TS_IDLE) {
                if (s == TS_STOPPED) {
                    assert_int_equal(e, EV_PARK);
                    assert_int_equal(st.action, ACT_PARK);
                } else {
                    assert_int_equal(s, TS_RUNNING);
                    assert_int_equal(e, EV_EXIT_IDLE);
                    assert_int_equal(st.action, ACT_IDLE);
                }
            }
            /* Parking means something only to a stopped tenant. */
            if (e == EV_PARK && s != TS_STOPPED) {
                assert_int_equal(st.next, s);
                assert_int_equal(st.action, ACT_NONE);
            }
            /* A wake-up means something only to an idle tenant. */
            if (e == EV_WAKE && s != TS_IDLE) {
                assert_int_equal(st.next, s);
                assert_int_equal(st.action, ACT_NONE);
            }
        }
    }
    assert_int_equal(fsm_next(TS_IDLE, EV_WAKE).next, TS_STARTING);
    assert_int_equal(fsm_next(TS_STOPPED, EV_PARK).next, TS_IDLE);
    assert_false(fsm_has_process(fsm_next(TS_STOPPED, EV_PARK).next));
    assert_int_equal(fsm_next(TS_IDLE, EV_STOP).action, ACT_NONE);
    assert_false(fsm_has_process(TS_IDLE));
    assert_string_equal(tstate_name(TS_IDLE), "idle");
    enum tstate parsed = TS_STOPPED;
    assert_int_equal(tstate_parse("idle", &parsed), 0);
    assert_int_equal(parsed, TS_IDLE);
}

/* Idle holds the socket and watches it; nothing else watches it. */
static void test_idle_invariants(void **state)
{
    (void)state;
    struct tenant *t = calloc(1, sizeof *t);
    assert_non_null(t);
    struct idle_watch *fake = (struct idle_watch *)t; /* only compared with NULL */
    t->state = TS_IDLE;
    t->listen_fd = -1;
    assert_string_equal(tenant_check_invariants(t), "idle: the listening socket held and watched");
    t->listen_fd = 7;
    assert_string_equal(tenant_check_invariants(t), "idle: the listening socket held and watched");
    t->idle = fake;
    assert_null(tenant_check_invariants(t));
    t->pid = 42;
    assert_string_equal(tenant_check_invariants(t),
                        "stopped, backoff, failed, suspended, idle: no pid and no exit watch");
    t->pid = 0;
    t->state = TS_STOPPED;
    assert_string_equal(tenant_check_invariants(t), "not idle: the socket not watched");
    t->idle = NULL;
    assert_null(tenant_check_invariants(t));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cell),
        cmocka_unit_test(test_exits_need_a_process),
        cmocka_unit_test(test_stop_always_stops),
        cmocka_unit_test(test_spawn_iff_entering_starting),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_invariants),
        cmocka_unit_test(test_idle_paths),
        cmocka_unit_test(test_idle_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
