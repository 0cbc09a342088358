/*
 * admin_metrics.h — GET /metrics: the tenants' snapshots rendered in the
 * Prometheus text exposition format 0.0.4. Pure: no I/O, no clock.
 */
#ifndef TENANTD_ADMIN_METRICS_H
#define TENANTD_ADMIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* Counters the admin surface keeps itself. */
struct admin_counters {
    uint64_t reloads;            /* reloads asked through the API */
    uint64_t onboardings_ok;     /* tenants onboarded */
    uint64_t onboardings_failed; /* onboardings rolled back */
    uint64_t offboardings;       /* tenants offboarded */
    uint64_t requests;           /* admin API requests served */
};

/* Render every metric; *out is a new NUL-terminated string (free()), *len its
 * length. Returns 0 or -ENOMEM. */
int admin_metrics_render(const struct tenant_view *v, size_t n, const struct admin_counters *c,
                         char **out, size_t *len);

/* Escape a label value (backslash, double quote, newline) into buf; always
 * NUL-terminates, truncating if needed. */
void admin_metrics_escape(const char *in, char *buf, size_t cap);

#endif
