/*
 * tenantd/admin_metrics.c (unit) — unit tests of admin_metrics.c: every family has HELP
 * and TYPE, values follow the snapshots, and label values are escaped per the
 * Prometheus text format (backslash, double quote, newline). The proxy's
 * families appear only when there is a proxy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin_metrics.h"

static void view(struct tenant_view *v, const char *id, enum tstate st)
{
    memset(v, 0, sizeof *v);
    strcpy(v->id, id);
    v->state = st;
    v->next_start_in_ms = -1;
    v->ready_latency_ms = -1;
}

static void test_escape(void **state)
{
    (void)state;
    char buf[64];
    admin_metrics_escape("a\"b\\c\nd", buf, sizeof buf);
    assert_string_equal(buf, "a\\\"b\\\\c\\nd");
    admin_metrics_escape("plain", buf, sizeof buf);
    assert_string_equal(buf, "plain");
    /* Truncation never splits an escape. */
    admin_metrics_escape("\\\\\\\\", buf, 4);
    assert_string_equal(buf, "\\\\");
}

static void test_render(void **state)
{
    (void)state;
    struct tenant_view v[3];
    view(&v[0], "dupont", TS_RUNNING);
    v[0].restarts = 2;
    v[0].uptime_s = 61;
    v[0].rss_bytes = 4194304;
    v[0].cpu_seconds = 1.25;
    v[0].ready_latency_ms = 4;
    view(&v[1], "martin", TS_IDLE);
    v[1].wakeups = 5;
    view(&v[2], "bad\"id", TS_FAILED);
    strcpy(v[2].config_error, "x");
    struct admin_counters c = {.reloads = 3, .onboardings_ok = 1, .onboardings_failed = 2};
    char *out = NULL;
    size_t len = 0;
    struct admin_proxy_metrics px = {.config_ok = false, .reloads = 7, .failures = 2};
    assert_int_equal(admin_metrics_render(v, 3, &c, &px, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    const char *want[] = {
        "# TYPE tenantd_tenant_up gauge\n",
        "tenantd_tenant_up{tenant=\"dupont\"} 1\n",
        "tenantd_tenant_up{tenant=\"martin\"} 0\n",
        "tenantd_tenant_up{tenant=\"bad\\\"id\"} 0\n",
        "tenantd_tenant_state{tenant=\"dupont\",state=\"running\"} 1\n",
        "tenantd_tenant_state{tenant=\"dupont\",state=\"stopped\"} 0\n",
        "tenantd_tenant_state{tenant=\"martin\",state=\"idle\"} 1\n",
        "tenantd_tenant_state{tenant=\"martin\",state=\"stopped\"} 0\n",
        "# TYPE tenantd_tenant_wakeups_total counter\n",
        "tenantd_tenant_wakeups_total{tenant=\"martin\"} 5\n",
        "tenantd_tenant_wakeups_total{tenant=\"dupont\"} 0\n",
        "# TYPE tenantd_tenant_restarts_total counter\n",
        "tenantd_tenant_restarts_total{tenant=\"dupont\"} 2\n",
        "tenantd_tenant_uptime_seconds{tenant=\"dupont\"} 61\n",
        "tenantd_tenant_resident_memory_bytes{tenant=\"dupont\"} 4194304\n",
        "tenantd_tenant_cpu_seconds_total{tenant=\"dupont\"} 1.250\n",
        "tenantd_tenant_ready_latency_seconds{tenant=\"dupont\"} 0.004\n",
        "tenantd_tenant_config_error{tenant=\"bad\\\"id\"} 1\n",
        "tenantd_tenants{state=\"running\"} 1\n",
        "tenantd_tenants{state=\"stopped\"} 0\n",
        "tenantd_tenants{state=\"idle\"} 1\n",
        "tenantd_tenants{state=\"failed\"} 1\n",
        "tenantd_tenants{state=\"backoff\"} 0\n",
        "tenantd_reloads_total 3\n",
        "tenantd_onboardings_total{result=\"ok\"} 1\n",
        "tenantd_onboardings_total{result=\"failed\"} 2\n",
        "# TYPE tenantd_proxy_config_ok gauge\n",
        "tenantd_proxy_config_ok 0\n",
        "# TYPE tenantd_proxy_reloads_total counter\n",
        "tenantd_proxy_reloads_total 7\n",
        "# TYPE tenantd_proxy_failures_total counter\n",
        "tenantd_proxy_failures_total 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (strstr(out, want[i]) == NULL)
            fail_msg("missing: %s", want[i]);
    }
    /* Unknown latency: no sample at all rather than a fake value. */
    assert_null(strstr(out, "tenantd_tenant_ready_latency_seconds{tenant=\"martin\"}"));
    /* Every sample line's family was declared before it. */
    char *copy = strdup(out);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char name[128];
        size_t k = strcspn(line, "{ ");
        assert_true(k < sizeof name);
        memcpy(name, line, k);
        name[k] = '\0';
        char decl[160];
        snprintf(decl, sizeof decl, "# TYPE %s ", name);
        char *at = strstr(out, decl);
        assert_non_null(at);
        assert_true(at < out + (line - copy));
    }
    free(copy);
    free(out);
}

static void test_empty(void **state)
{
    (void)state;
    struct admin_counters c = {0};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(admin_metrics_render(NULL, 0, &c, NULL, &out, &len), 0);
    assert_non_null(strstr(out, "tenantd_tenants{state=\"running\"} 0\n"));
    /* No proxy: its families are left out rather than reported as zero. */
    assert_null(strstr(out, "tenantd_proxy_"));
    free(out);
    struct admin_proxy_metrics px = {.config_ok = true};
    assert_int_equal(admin_metrics_render(NULL, 0, &c, &px, &out, &len), 0);
    assert_non_null(strstr(out, "\ntenantd_proxy_config_ok 1\n"));
    assert_non_null(strstr(out, "\ntenantd_proxy_failures_total 0\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
