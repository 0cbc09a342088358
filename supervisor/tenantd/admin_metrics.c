/*
 * admin_metrics.c — see admin_metrics.h. One writer over open_memstream; the
 * families are written in a fixed order, each with HELP and TYPE, and every
 * label value goes through admin_metrics_escape.
 */
#include "admin_metrics.h"
#include "acme.h"
#include "alerts.h"
#include "reminders.h"
#include "offsite.h"
#include "storage.h"

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
    family(f, "tenantd_tenant_operator_restarts_total", "counter",
           "Starts of the tenant's worker an operator caused (start, restart, resume, a changed "
           "file) since tenantd started.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_operator_restarts_total{tenant=\"%s\"} %d\n", t,
                v[i].operator_restarts);
    }
    family(f, "tenantd_tenant_worker_status_info", "gauge",
           "The worker's last sd_notify STATUS= text as a label (absent when it sent none).");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].worker_status[0])
            continue;
        char st[sizeof v[i].worker_status * 2 + 1];
        tlabel(&v[i], t, sizeof t);
        admin_metrics_escape(v[i].worker_status, st, sizeof st);
        fprintf(f, "tenantd_tenant_worker_status_info{tenant=\"%s\",status=\"%s\"} 1\n", t, st);
    }
    family(f, "tenantd_tenant_wakeups_total", "counter",
           "Idle tenant woken by a waiting connection (scale to zero) since tenantd started.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_wakeups_total{tenant=\"%s\"} %" PRIu64 "\n", t, v[i].wakeups);
    }
    family(f, "tenantd_tenant_uptime_seconds", "gauge",
           "Seconds since the tenant's worker became ready; 0 when not running.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_uptime_seconds{tenant=\"%s\"} %" PRId64 "\n", t, v[i].uptime_s);
    }
    family(f, "tenantd_tenant_resident_memory_bytes", "gauge",
           "Memory of the tenant: its cgroup's charge (every process), else the worker's "
           "resident memory; 0 when there is none.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_resident_memory_bytes{tenant=\"%s\"} %" PRIu64 "\n", t,
                v[i].rss_bytes);
    }
    family(f, "tenantd_tenant_cpu_seconds_total", "counter",
           "CPU time of the tenant: its cgroup's (every process, gone ones too), else the "
           "user and system time of its current worker.");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_cpu_seconds_total{tenant=\"%s\"} %.3f\n", t, v[i].cpu_seconds);
    }
    if (acme_enabled()) {
        family(f, "tenantd_tenant_cert_expiry_seconds", "gauge",
               "Seconds until the tenant's ACME certificate expires (absent without one).");
        for (size_t i = 0; i < n; i++) {
            int64_t left;
            if (!acme_cert_expiry(v[i].id, &left))
                continue;
            tlabel(&v[i], t, sizeof t);
            fprintf(f, "tenantd_tenant_cert_expiry_seconds{tenant=\"%s\"} %" PRId64 "\n", t, left);
        }
    }
    family(f, "tenantd_tenant_database_info", "gauge",
           "1, labelled with the tenant's database backend (sqlite or postgresql).");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_database_info{tenant=\"%s\",type=\"%s\"} 1\n", t,
                v[i].database == DB_POSTGRESQL ? "postgresql" : "sqlite");
    }
    family(f, "tenantd_tenant_database_size_bytes", "gauge",
           "Size of a PostgreSQL tenant's database at the last sample (absent when unknown).");
    for (size_t i = 0; i < n; i++) {
        if (v[i].db_size_bytes < 0)
            continue;
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_database_size_bytes{tenant=\"%s\"} %" PRId64 "\n", t,
                v[i].db_size_bytes);
    }
    family(f, "tenantd_tenant_database_connections", "gauge",
           "Sessions on a PostgreSQL tenant's database at the last sample (absent when unknown).");
    for (size_t i = 0; i < n; i++) {
        if (v[i].db_connections < 0)
            continue;
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_database_connections{tenant=\"%s\"} %d\n", t,
                v[i].db_connections);
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
    family(f, "tenantd_tenant_log_dropped_bytes_total", "counter",
           "Bytes of the worker's output dropped by log capture (rate limit or full buffer).");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_log_dropped_bytes_total{tenant=\"%s\"} %" PRIu64 "\n", t,
                v[i].log_bytes_dropped);
    }
    family(f, "tenantd_tenant_log_throttled_seconds_total", "counter",
           "Time log capture stopped reading the worker's output (its log budget was spent).");
    for (size_t i = 0; i < n; i++) {
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_log_throttled_seconds_total{tenant=\"%s\"} %.3f\n", t,
                (double)v[i].log_paused_ms / 1000.0);
    }
    family(f, "tenantd_tenant_storage_bytes", "gauge",
           "Disk space of the tenant's data dir at its last measure (absent before it).");
    for (size_t i = 0; i < n; i++) {
        struct storage_info si;
        if (storage_lookup(v[i].id, &si) < 0 || si.used_bytes < 0)
            continue;
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_storage_bytes{tenant=\"%s\"} %" PRId64 "\n", t, si.used_bytes);
    }
    family(f, "tenantd_tenant_storage_limit_bytes", "gauge",
           "The plan's storage limit of the tenant (absent when it has none).");
    for (size_t i = 0; i < n; i++) {
        struct storage_info si;
        if (storage_lookup(v[i].id, &si) < 0 || si.limit_bytes <= 0)
            continue;
        tlabel(&v[i], t, sizeof t);
        fprintf(f, "tenantd_tenant_storage_limit_bytes{tenant=\"%s\"} %" PRId64 "\n", t,
                si.limit_bytes);
    }
    alerts_metrics(f);
    reminders_metrics(f);
    offsite_metrics(f);
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
