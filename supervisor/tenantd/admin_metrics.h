/*
 * admin_metrics.h — GET /metrics: the tenants' snapshots rendered in the
 * Prometheus text exposition format 0.0.4. Pure: no I/O, no clock.
 */
#ifndef TENANTD_ADMIN_METRICS_H
#define TENANTD_ADMIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* Counters the admin surface keeps itself, and the supervisor's reloads. */
struct admin_counters {
    uint64_t reloads;            /* every reload: SIGHUP, inotify, the API (sup_counts) */
    uint64_t onboardings_ok;     /* tenants onboarded */
    uint64_t onboardings_failed; /* onboardings rolled back */
    uint64_t offboardings;       /* tenants offboarded */
    uint64_t requests;           /* admin API requests served */
    uint64_t spawn_transient;    /* starts retried for a shortage (sup_counts) */
};

/* The reverse proxy's figures (proxy.h's proxy_stats and proxy_last_error). */
struct admin_proxy_metrics {
    bool config_ok;    /* the last apply succeeded: proxy_last_error() is "" */
    uint64_t reloads;  /* configurations applied */
    uint64_t failures; /* applies refused */
};

/* Render every metric; *out is a new NUL-terminated string (free()), *len its
 * length. `px` NULL (no proxy) leaves the proxy's families out. Returns 0 or
 * -ENOMEM. */
int admin_metrics_render(const struct tenant_view *v, size_t n, const struct admin_counters *c,
                         const struct admin_proxy_metrics *px, char **out, size_t *len);

/* Escape a label value (backslash, double quote, newline) into buf; always
 * NUL-terminates, truncating if needed. */
void admin_metrics_escape(const char *in, char *buf, size_t cap);

#endif
