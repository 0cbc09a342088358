/*
 * config_net.c — [worker] network and allow (plan default, tenant override,
 * the "host" alias), and tenant ports kept off tenantd's own listeners.
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
    "[" name "]\nprice_cents = 1\nmax_users = 3\nmax_cases = 5\nmax_analysis_monthly = 1\n"        \
    "ai_model = m\nadvanced_features = false\noverage_cents = 0\nmemory = 64M\npids = 8\n"         \
    "cpu_weight = 10\nlog_budget = 1M\n" extra "\n"

static const char *const plans_text = PLAN("basic", "") PLAN("open", "network = outbound\n")
    PLAN("db", "network = local\nallow = 127.0.0.1:6432\n") PLAN("old", "network = host\n");

static struct config_global G;
static struct config_plans P;

static int setup(void **state)
{
    struct config_diag d = {0};
    const char *g = "[tenantd]\nport_range = 5001-5999\n[proxy]\nlisten = 127.0.0.1:8080\n"
                    "[admin]\nlisten = 127.0.0.1:7070\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", g, strlen(g), &G, &d), 0);
    assert_int_equal(config_parse_plans(&G, "plans.ini", plans_text, strlen(plans_text), &P, &d),
                     0);
    assert_int_equal(d.n, 0);
    return 0;
}

static int parse(const char *plan, const char *worker, struct config_tenant *t, char **msgs)
{
    char text[1024];
    snprintf(text, sizeof text, "[tenant]\nname = T\nplan = %s\n[worker]\n%s", plan, worker);
    struct config_diag d = {0};
    int r = config_parse_tenant(&G, &P, "t", "tenants.d/t.ini", text, strlen(text), t, &d);
    *msgs = config_diag_join(&d);
    config_diag_clear(&d);
    return r;
}

static void defaults_plans_and_alias(void **state)
{
    struct config_tenant t;
    char *m;
    assert_int_equal(parse("basic", "port = 5001\n", &t, &m), 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_NONE); /* the bundled worker */
    assert_int_equal(parse("basic", "port = 5001\ncommand = /opt/app\n", &t, &m), 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_LOCAL); /* any other program */
    assert_int_equal(parse("open", "port = 5001\n", &t, &m), 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_OUTBOUND); /* the plan's */
    assert_int_equal(parse("open", "port = 5001\nnetwork = none\n", &t, &m), 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_NONE); /* the tenant's wins */
    int r = parse("db", "port = 5001\n", &t, &m);
    if (r != 0)
        print_error("%s\n", m);
    assert_int_equal(r, 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_LOCAL);
    assert_int_equal(t.n_allow, 1);
    assert_int_equal(t.allow_port[0], 6432);
    assert_int_equal(parse("old", "port = 5001\n", &t, &m), 0);
    free(m);
    assert_int_equal(t.network, WORKER_NETWORK_OUTBOUND);
    assert_true(t.network_was_host);
    assert_int_equal(parse("basic", "port = 5001\nnetwork = host\n", &t, &m), 0);
    free(m);
    assert_true(t.network_was_host && t.network == WORKER_NETWORK_OUTBOUND);
    assert_int_equal(parse("basic",
                           "port = 5001\nnetwork = outbound\n"
                           "allow = 127.0.0.1:6379, localhost:11211 db.example.org:5432\n",
                           &t, &m),
                     0);
    free(m);
    assert_int_equal(t.n_allow, 3);
    assert_int_equal(t.allow_port[2], 5432);
}

static void expect(const char *plan, const char *worker, const char *want)
{
    struct config_tenant t;
    char *m;
    int r = parse(plan, worker, &t, &m);
    if (!strstr(m, want))
        print_error("want: %s\ngot: %s\n", want, m);
    assert_int_equal(r, -EINVAL);
    assert_non_null(strstr(m, want));
    free(m);
}

static void errors(void **state)
{
    expect("basic", "port = 5001\nnetwork = everything\n",
           "[worker] network: \"everything\" is not one of none, local, outbound, host");
    expect("basic", "port = 5001\ncommand = /a\nallow = 127.0.0.1\n",
           "[worker] allow: \"127.0.0.1\" is not a list of host:port");
    expect("basic", "port = 5001\ncommand = /a\nallow = 127.0.0.1:0\n", "is not a list");
    expect("basic", "port = 5001\ncommand = /a\nallow = a b:1\n", "is not a list");
    expect("basic", "port = 5001\ncommand = /a\nallow = 192.0.2.1:443\n",
           "entry 1 is not a loopback address: it needs network = outbound");
    expect("basic", "port = 5001\nallow = 127.0.0.1:5432\n",
           "network = none reaches nothing: the allow list needs local or outbound");
    expect("basic", "port = 5001\ncommand = /a\nallow = 127.0.0.1:7070\n",
           "port 7070 is tenantd's admin listener");
    expect("basic", "port = 5001\ncommand = /a\nallow = 127.0.0.1:5002\n",
           "port 5002 is in port_range (5001-5999)");
}

static void own_ports(void **state)
{
    struct config_global g;
    struct config_diag d = {0};
    const char *text = "[tenantd]\nport_range = 7000-8999\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", text, strlen(text), &g, &d),
                     -EINVAL);
    char *m = config_diag_join(&d);
    assert_non_null(
        strstr(m, "[tenantd] port_range: 7000-8999 contains [admin] listen's port 7070"));
    assert_non_null(strstr(m, "contains [proxy] listen's port 8080"));
    free(m);
    config_diag_clear(&d);
    /* external mode: the system's nginx owns the port, tenants still must not get it. */
    text = "[tenantd]\nport_range = 79-81\n[proxy]\nmode = external\nlisten = 0.0.0.0:80\n"
           "output = /etc/nginx/tenants.conf\ntest = nginx -t\nreload = nginx -s reload\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", text, strlen(text), &g, &d),
                     -EINVAL);
    m = config_diag_join(&d);
    assert_non_null(strstr(m, "79-81 contains [proxy] listen's port 80"));
    free(m);
    config_diag_clear(&d);
    /* proxy off: its port is not ours; admin off: neither. */
    text = "[tenantd]\nport_range = 7000-8999\n[proxy]\nmode = off\n[admin]\nlisten = off\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", text, strlen(text), &g, &d), 0);
    config_diag_clear(&d);
    /* TLS on: its port counts too. */
    text = "[tenantd]\nport_range = 8400-8500\n[proxy]\ntls_cert = /c\ntls_key = /k\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", text, strlen(text), &g, &d),
                     -EINVAL);
    m = config_diag_join(&d);
    assert_non_null(strstr(m, "contains [proxy] tls_port's port 8443"));
    free(m);
    config_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_plans_and_alias),
        cmocka_unit_test(errors),
        cmocka_unit_test(own_ports),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
