/*
 * status_json.c — see status_json.h. Builds jansson values from snapshots;
 * nothing here performs I/O or reads the clock.
 */
#include "status_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "offsite.h"
#include "proxy.h"
#include "storage.h"

/* Length of the valid UTF-8 sequence starting at p (at most `left` bytes),
 * or 0 when it is invalid (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

json_t *status_json_string(const char *s)
{
    if (s == NULL)
        s = "";
    size_t len = strlen(s);
    /* Each invalid byte grows into three (U+FFFD), so this bound always fits. */
    char *buf = malloc(len * 3 + 1);
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, p + i, n);
            o += n;
            i += n;
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

/* json_object_set_new that tolerates a NULL value (out of memory) by
 * reporting failure instead of crashing later. */
static int set(json_t *o, const char *key, json_t *v)
{
    if (v == NULL)
        return -1;
    return json_object_set_new(o, key, v);
}

json_t *status_json_tenant(const struct tenant_view *v)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= set(o, "id", status_json_string(v->id));
    rc |= set(o, "name", status_json_string(v->name));
    rc |= set(o, "plan", status_json_string(v->plan));
    rc |= set(o, "subdomain", status_json_string(v->subdomain));
    rc |= set(o, "url", status_json_string(v->url));
    rc |= set(o, "port", json_integer(v->port));
    rc |= set(o, "state", json_string(tstate_name(v->state)));
    rc |= set(o, "desired", json_string(v->desired_up ? "up" : "down"));
    rc |= set(o, "pid", v->pid > 0 ? json_integer(v->pid) : json_null());
    rc |= set(o, "starting_pid", v->starting_pid > 0 ? json_integer(v->starting_pid) : json_null());
    rc |= set(o, "draining_pid", v->draining_pid > 0 ? json_integer(v->draining_pid) : json_null());
    rc |= set(o, "uptime_s", json_integer(v->uptime_s));
    rc |= set(o, "restarts", json_integer(v->restarts));
    rc |= set(o, "operator_restarts", json_integer(v->operator_restarts));
    /* The worker's own words (sd_notify STATUS=), cleaned by notify.c; null when none. */
    rc |= set(o, "worker_status",
              v->worker_status[0] ? status_json_string(v->worker_status) : json_null());
    rc |= set(o, "notify_error", status_json_string(v->notify_error));
    rc |= set(o, "wakeups", json_integer((json_int_t)v->wakeups));
    rc |= set(o, "idle_after_ms", json_integer(v->idle_after_ms));
    rc |= set(o, "last_exit", status_json_string(v->last_exit));
    rc |= set(o, "config_error", status_json_string(v->config_error));
    rc |= set(o, "network", v->network ? json_string(v->network) : json_null());
    rc |= set(o, "net_containment",
              v->net_containment ? json_string(v->net_containment) : json_null());
    rc |= set(o, "state_reason", status_json_string(v->state_reason));
    rc |= set(o, "next_start_in_ms",
              v->next_start_in_ms >= 0 ? json_integer(v->next_start_in_ms) : json_null());
    rc |= set(o, "ready_latency_ms",
              v->ready_latency_ms >= 0 ? json_integer(v->ready_latency_ms) : json_null());
    /* JSON integers are signed; a worker's RSS never comes near 2^63. */
    rc |= set(o, "rss_bytes", json_integer((json_int_t)v->rss_bytes));
    /* jansson refuses NaN and infinities; a broken /proc read must not fail the whole response. */
    rc |= set(o, "cpu_seconds", json_real(isfinite(v->cpu_seconds) ? v->cpu_seconds : 0.0));
    /* The log budget at work: what was read, dropped, and how long reading
     * was paused (the worker then blocks on its own stdout). */
    rc |= set(o, "log",
              json_pack("{s:I, s:I, s:I, s:I, s:I}", "bytes_read", (json_int_t)v->log_bytes_read,
                        "lines_dropped", (json_int_t)v->log_lines_dropped, "bytes_dropped",
                        (json_int_t)v->log_bytes_dropped, "pauses", (json_int_t)v->log_pauses,
                        "throttled_ms", (json_int_t)v->log_paused_ms));
    /* [acme]: the tenant's certificate (acme.h); absent when ACME is off. */
    json_t *cert = acme_cert_json(v->id);
    if (cert != NULL)
        rc |= set(o, "cert", cert);
    /* Storage against the plan's limit (storage.h); null before the first
     * measure. */
    struct storage_info si;
    if (storage_lookup(v->id, &si) == 0)
        rc |= set(o, "storage",
                  json_pack("{s:I, s:o, s:b, s:I}", "used_bytes", (json_int_t)si.used_bytes,
                            "limit_bytes",
                            si.limit_bytes > 0 ? json_integer(si.limit_bytes) : json_null(), "over",
                            si.over, "checked_at", (json_int_t)si.checked_at));
    else
        rc |= set(o, "storage", json_null());
    /* "cgroup": rss_bytes and cpu_seconds count every process of the tenant;
     * "process": only the worker's main process (no cgroup, tenantd not root). */
    rc |= set(o, "resources_from", json_string(v->from_cgroup ? "cgroup" : "process"));
    rc |= set(o, "database", json_string(v->database == DB_POSTGRESQL ? "postgresql" : "sqlite"));
    if (v->database == DB_POSTGRESQL) {
        rc |= set(o, "database_state", json_string(v->db_state ? v->db_state : ""));
        rc |= set(o, "database_size_bytes",
                  v->db_size_bytes >= 0 ? json_integer(v->db_size_bytes) : json_null());
        rc |= set(o, "database_connections",
                  v->db_connections >= 0 ? json_integer(v->db_connections) : json_null());
    }
    json_t *off = offsite_json(v->id); /* [offsite] set: the last restic copy and test */
    if (off != NULL)
        rc |= set(o, "offsite", off);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *status_json_tenants(const struct tenant_view *v, size_t n)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *o = status_json_tenant(&v[i]);
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *status_json_plans(const struct config_plans *p)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        const struct config_plan *pl = &p->plan[i];
        json_t *o = json_object();
        int rc = o == NULL ? -1 : 0;
        if (rc == 0) {
            rc |= set(o, "name", status_json_string(pl->name));
            rc |= set(o, "label", status_json_string(pl->label));
            rc |= set(o, "price_cents", json_integer(pl->price_cents));
            rc |= set(o, "max_users", json_integer(pl->max_users));
            rc |= set(o, "max_cases", json_integer(pl->max_cases));
            rc |= set(o, "max_analysis_monthly", json_integer(pl->max_analysis_monthly));
            rc |= set(o, "ai_model", status_json_string(pl->ai_model));
            rc |= set(o, "advanced_features", json_boolean(pl->advanced_features));
            rc |= set(o, "overage_cents", json_integer(pl->overage_cents));
            rc |= set(o, "memory_bytes", json_integer(pl->memory_bytes));
            rc |= set(o, "pids", json_integer(pl->pids));
            rc |= set(o, "cpu_weight", json_integer(pl->cpu_weight));
            rc |= set(o, "log_budget_bytes", json_integer(pl->log_budget_bytes));
            rc |= set(o, "storage_bytes",
                      pl->storage_bytes > 0 ? json_integer(pl->storage_bytes) : json_null());
        }
        if (rc != 0 || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *status_json_tenant_url(const struct config_global *g, const char *subdomain, char *buf,
                             size_t n)
{
    bool tls = g->tls_cert[0] != '\0';
    const char *scheme = tls ? "https" : "http";
    int port = tls ? g->tls_port : g->proxy_port;
    if (n == 0)
        return buf;
    if (port <= 0 || port == (tls ? 443 : 80))
        snprintf(buf, n, "%s://%s.%s/", scheme, subdomain, g->domain);
    else
        snprintf(buf, n, "%s://%s.%s:%d/", scheme, subdomain, g->domain, port);
    return buf;
}

json_t *status_json_proxy(const struct proxy_stats *st, const char *last_error)
{
    static const char *const modes[] = {
        [PROXY_MANAGED] = "managed", [PROXY_EXTERNAL] = "external", [PROXY_OFF] = "off"};
    const char *mode = (unsigned)st->mode < sizeof modes / sizeof modes[0] ? modes[st->mode] : NULL;
    json_t *o = json_object();
    int rc = 0;

    if (last_error == NULL)
        last_error = "";
    if (o == NULL)
        return NULL;
    rc |= set(o, "mode", status_json_string(mode ? mode : "unknown"));
    rc |= set(o, "ok", json_boolean(last_error[0] == '\0'));
    rc |= set(o, "last_error", status_json_string(last_error));
    rc |= set(o, "reloads", json_integer((json_int_t)st->reloads));
    rc |= set(o, "failures", json_integer((json_int_t)st->failures));
    rc |= set(o, "nginx_starts", json_integer((json_int_t)st->nginx_starts));
    rc |= set(o, "nginx_pid", st->nginx_pid > 0 ? json_integer(st->nginx_pid) : json_null());
    rc |= set(o, "generation", json_integer(st->generation));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *status_json_error(const char *error, const char *detail)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set(o, "error", status_json_string(error)) != 0 ||
        set(o, "detail", status_json_string(detail ? detail : "")) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *status_json_dump(const json_t *j, size_t *len)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (out == NULL) {
        free(s);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
    return out;
}
