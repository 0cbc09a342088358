/*
 * admin_metrics.c — see admin_metrics.h. One writer over open_memstream; the
 * families are written in a fixed order, each with HELP and TYPE, and every
 * label value goes through admin_metrics_escape.
 */
#include "admin_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void admin_metrics_escape(const char *in, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    for (const char *p = in; *p; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        size_t need = rep ? 2 : 1;
        if (o + need >= cap)
            break;
        if (rep) {
            memcpy(buf + o, rep, 2);
        } else {
            buf[o] = *p;
        }
        o += need;
    }
    buf[o] = '\0';
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The tenant label of one view, escaped. Ids are validated already; escaping
 * anyway keeps the output well-formed whatever the supervisor reports. */
static void tlabel(const struct tenant_view *v, char *buf, size_t cap)
{
    admin_metrics_escape(v->id, buf, cap);
}

int admin_metrics_render(const struct tenant_view *v, size_t n, const struct admin_counters *c,
                         const struct admin_proxy_metrics *px, char **out, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (f == NULL)
        return -ENOMEM;
    char t[CONFIG_ID_MAX * 2 + 1];

    family(f, "tenantd_tenant_up", "gauge", "1 when the tenant's worker is running and ready.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_up{tenant=\"%s\"} %d\n", t, v[i].state == TS_RUNNING);
    }
    family(f, "tenantd_tenant_state", "gauge",
           "The tenant's supervision state: 1 for the current one, 0 for the others.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        for (int s = 0; s < TS__COUNT; s++)
            fprintf(f, "tenantd_tenant_state{tenant=\"%s\",state=\"%s\"} %d\n", t,
                    tstate_name((enum tstate)s), v[i].state == (enum tstate)s);
    }
    family(f, "tenantd_tenant_restarts_total", "counter",
           "Restarts of the tenant's worker by the supervisor since tenantd started.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_restarts_total{tenant=\"%s\"} %d\n", t, v[i].restarts);
    }
    family(f, "tenantd_tenant_uptime_seconds", "gauge",
           "Seconds since the tenant's worker became ready; 0 when not running.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_uptime_seconds{tenant=\"%s\"} %" PRId64 "\n", t, v[i].uptime_s);
    }
    family(f, "tenantd_tenant_resident_memory_bytes", "gauge",
           "Resident memory of the tenant's worker; 0 when there is none.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_resident_memory_bytes{tenant=\"%s\"} %" PRIu64 "\n", t,
                v[i].rss_bytes);
    }
    family(f, "tenantd_tenant_cpu_seconds_total", "counter",
           "User and system CPU time of the tenant's current worker.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_cpu_seconds_total{tenant=\"%s\"} %.3f\n", t, v[i].cpu_seconds);
    }
    family(f, "tenantd_tenant_ready_latency_seconds", "gauge",
           "Time from exec to ready for the tenant's last start (absent when unknown).");
    for (size_t i = 0; i < n; i++) {
        if (v[i].ready_latency_ms < 0)
            continue;
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_ready_latency_seconds{tenant=\"%s\"} %.3f\n", t,
                (double)v[i].ready_latency_ms / 1000.0);
    }
    family(f, "tenantd_tenant_config_error", "gauge",
           "1 when the tenant's file is invalid (it runs on its last good configuration).");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_config_error{tenant=\"%s\"} %d\n", t,
                v[i].config_error[0] != '\0');
    }
    family(f, "tenantd_tenants", "gauge", "Number of tenants in each supervision state.");
    for (int s = 0; s < TS__COUNT; s++) {
        int count = 0;
        for (size_t i = 0; i < n; i++)
            count += v[i].state == (enum tstate)s;
        fprintf(f, "tenantd_tenants{state=\"%s\"} %d\n", tstate_name((enum tstate)s), count);
    }
    family(f, "tenantd_reloads_total", "counter",
           "Reloads of the configuration files (SIGHUP, a change in tenants_dir, the admin API).");
    fprintf(f, "tenantd_reloads_total %" PRIu64 "\n", c->reloads);
    family(f, "tenantd_spawn_transient_failures_total", "counter",
           "Worker starts that failed for a shortage (EMFILE, ENFILE, EAGAIN, ENOMEM) and were "
           "retried without counting as a crash.");
    fprintf(f, "tenantd_spawn_transient_failures_total %" PRIu64 "\n", c->spawn_transient);
    family(f, "tenantd_onboardings_total", "counter",
           "Onboardings through the admin API, by result.");
    fprintf(f, "tenantd_onboardings_total{result=\"ok\"} %" PRIu64 "\n", c->onboardings_ok);
    fprintf(f, "tenantd_onboardings_total{result=\"failed\"} %" PRIu64 "\n", c->onboardings_failed);
    family(f, "tenantd_offboardings_total", "counter", "Tenants offboarded through the admin API.");
    fprintf(f, "tenantd_offboardings_total %" PRIu64 "\n", c->offboardings);
    family(f, "tenantd_admin_requests_total", "counter", "Requests served by the admin API.");
    fprintf(f, "tenantd_admin_requests_total %" PRIu64 "\n", c->requests);
    if (px != NULL) {
        family(f, "tenantd_proxy_config_ok", "gauge",
               "1 when the last proxy configuration was applied, 0 when it was refused (the "
               "previous one keeps serving).");
        fprintf(f, "tenantd_proxy_config_ok %d\n", px->config_ok ? 1 : 0);
        family(f, "tenantd_proxy_reloads_total", "counter",
               "Proxy configurations applied (nginx reloaded or started on them).");
        fprintf(f, "tenantd_proxy_reloads_total %" PRIu64 "\n", px->reloads);
        family(
            f, "tenantd_proxy_failures_total", "counter",
            "Proxy configuration applies that failed (the previous configuration kept serving).");
        fprintf(f, "tenantd_proxy_failures_total %" PRIu64 "\n", px->failures);
    }

    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = size;
    return 0;
}
