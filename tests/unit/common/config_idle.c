/*
 * common/config_idle.c (unit) — `idle_after` (scale to zero) in plans.ini and
 * in a tenant's [worker]: the plan's value is inherited, a tenant overrides
 * it (0 = never), the bounds and the duration syntax are checked, a worker
 * with its own socket cannot idle (an error in its own file, not applied
 * when inherited), and a change of it is a change of the tenant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define PLAN(name, extra)                                                                          \
    "[" name "]\nprice_cents = 100\nmax_users = 3\nmax_cases = 50\nmax_analysis_monthly = 10\n"    \
    "ai_model = ceseda-basic-v1\nadvanced_features = false\noverage_cents = 0\nmemory = 128M\n"    \
    "pids = 32\ncpu_weight = 50\nlog_budget = 16M\n" extra "\n"

static const char *const plans_text = PLAN("always", "") PLAN("napper", "idle_after = 15m");

static struct config_global G;
static struct config_plans P;

static int setup(void **state)
{
    struct config_diag d = {0};
    const char *g = "[tenantd]\nport_range = 5001-5999\n";
    (void)state;
    assert_int_equal(config_parse_global("/srv/tenantd/tenantd.ini", g, strlen(g), &G, &d), 0);
    assert_int_equal(config_parse_plans(&G, "plans.ini", plans_text, strlen(plans_text), &P, &d),
                     0);
    assert_int_equal(d.n, 0);
    return 0;
}

static int parse(const char *text, struct config_tenant *t, char **msgs)
{
    struct config_diag d = {0};
    int r = config_parse_tenant(&G, &P, "t", "tenants.d/t.ini", text, strlen(text), t, &d);
    *msgs = config_diag_join(&d);
    config_diag_clear(&d);
    return r;
}

#define TENANT(plan, worker)                                                                       \
    "[tenant]\nname = Cabinet T\nplan = " plan "\n[worker]\nport = 5001\n" worker

static void test_plan_value(void **state)
{
    (void)state;
    assert_int_equal(config_plan_find(&P, "always")->idle_after_ms, 0);
    assert_int_equal(config_plan_find(&P, "napper")->idle_after_ms, 15 * 60 * 1000);
}

static void test_inherit_and_override(void **state)
{
    (void)state;
    struct config_tenant t;
    char *m;
    assert_int_equal(parse(TENANT("napper", ""), &t, &m), 0);
    assert_int_equal(t.idle_after_ms, 15 * 60 * 1000);
    free(m);
    assert_int_equal(parse(TENANT("napper", "idle_after = 0\n"), &t, &m), 0);
    assert_int_equal(t.idle_after_ms, 0);
    free(m);
    assert_int_equal(parse(TENANT("always", "idle_after = 90s\n"), &t, &m), 0);
    assert_int_equal(t.idle_after_ms, 90 * 1000);
    free(m);
    assert_int_equal(parse(TENANT("always", ""), &t, &m), 0);
    assert_int_equal(t.idle_after_ms, 0);
    free(m);
}

static void test_bad_values(void **state)
{
    (void)state;
    struct config_tenant t;
    char *m;
    assert_int_equal(parse(TENANT("always", "idle_after = soon\n"), &t, &m), -EINVAL);
    assert_non_null(strstr(m, "[worker] idle_after"));
    free(m);
    assert_int_equal(parse(TENANT("always", "idle_after = 8d\n"), &t, &m), -EINVAL);
    assert_non_null(strstr(m, "[worker] idle_after"));
    assert_non_null(strstr(m, "out of range"));
    free(m);
}

static void test_own_socket(void **state)
{
    (void)state;
    struct config_tenant t;
    char *m;
    /* Asked for in the tenant's file: refused, naming the line and the fix. */
    assert_int_equal(parse(TENANT("always", "socket = own\nidle_after = 15m\n"), &t, &m), -EINVAL);
    assert_string_equal(m, "tenants.d/t.ini:7: [worker] idle_after: needs socket = passed: a "
                           "worker that binds its own port cannot be woken by a connection "
                           "(use 0)");
    free(m);
    /* Inherited from the plan: does not apply. */
    assert_int_equal(parse(TENANT("napper", "socket = own\n"), &t, &m), 0);
    assert_int_equal(t.idle_after_ms, 0);
    free(m);
    assert_int_equal(parse(TENANT("napper", "socket = own\nidle_after = 0\n"), &t, &m), 0);
    free(m);
}

static void test_change_is_a_change(void **state)
{
    (void)state;
    struct config_tenant a, b;
    char *m;
    assert_int_equal(parse(TENANT("napper", ""), &a, &m), 0);
    free(m);
    assert_int_equal(parse(TENANT("napper", "idle_after = 16m\n"), &b, &m), 0);
    free(m);
    assert_false(config_tenant_equal(&a, &b));
    b.idle_after_ms = a.idle_after_ms;
    assert_true(config_tenant_equal(&a, &b));
}

/* A plan's idle_after that cannot apply to an own-socket tenant is a
 * warning for tenantd -n and tenantctl check, not an error. */
static void test_warnings(void **state)
{
    (void)state;
    struct config c;
    struct config_tenant_entry e[3];
    struct config_diag w = {0};
    char *m;
    memset(&c, 0, sizeof c);
    memset(e, 0, sizeof e);
    c.plans = P;
    c.tenants = e;
    c.n_tenants = 3;
    snprintf(e[0].id, sizeof e[0].id, "own-napper");
    e[0].valid = parse(TENANT("napper", "socket = own\n"), &e[0].t, &m) == 0;
    free(m);
    snprintf(e[1].id, sizeof e[1].id, "passed-napper");
    e[1].valid = parse(TENANT("napper", ""), &e[1].t, &m) == 0;
    free(m);
    snprintf(e[2].id, sizeof e[2].id, "own-always");
    e[2].valid = parse(TENANT("always", "socket = own\n"), &e[2].t, &m) == 0;
    free(m);
    assert_int_equal(config_warnings(&c, &w), 1);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.lines[0], "tenants.d/own-napper.ini: warning: the idle_after of plan "
                                    "napper does not apply: its worker binds its own port "
                                    "(socket = own), so nothing would wake it");
    config_diag_clear(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_value),         cmocka_unit_test(test_inherit_and_override),
        cmocka_unit_test(test_bad_values),         cmocka_unit_test(test_own_socket),
        cmocka_unit_test(test_change_is_a_change), cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
