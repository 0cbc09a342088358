/*
 * status_json.h — the admin API's JSON shapes, built from the supervisor's
 * snapshots (struct tenant_view) with jansson. Pure: no I/O, no clock, no
 * globals, so unit tests and fuzzers call it directly.
 *
 * Text that reaches JSON here (names, error messages quoting a file's bytes)
 * is not trusted to be valid UTF-8: invalid sequences become U+FFFD, so a
 * response is always valid JSON.
 */
#ifndef TENANTD_STATUS_JSON_H
#define TENANTD_STATUS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "sup.h"

/* A new JSON string from arbitrary bytes, invalid UTF-8 replaced by U+FFFD.
 * Returns a new reference, or NULL on out-of-memory. */
json_t *status_json_string(const char *s);

/* One tenant: id name plan subdomain url port state desired pid uptime_s
 * restarts last_exit config_error state_reason next_start_in_ms
 * ready_latency_ms rss_bytes cpu_seconds. `pid` is null when there is no
 * worker, `next_start_in_ms` null when no start is scheduled,
 * `ready_latency_ms` null when unknown; `desired` is "up" or "down" (after an
 * operator's stop). Text fields are "" when empty, never null, so clients can
 * test them without a type check. Returns a new reference. */
json_t *status_json_tenant(const struct tenant_view *v);

/* An array of status_json_tenant objects, in the order given. */
json_t *status_json_tenants(const struct tenant_view *v, size_t n);

/* The plans of plans.ini as an array of objects (name label price_cents
 * max_users max_cases max_analysis_monthly ai_model advanced_features
 * overage_cents memory_bytes pids cpu_weight log_budget_bytes). */
json_t *status_json_plans(const struct config_plans *p);

/*
 * The address a firm's users open, into buf (n bytes; cut when too small):
 *   [proxy] tls_cert set   https://<subdomain>.<domain>[:<tls_port>]/
 *   otherwise              http://<subdomain>.<domain>[:<listen port>]/
 * The scheme's default port (443, 80) is left out. With TLS the proxy
 * redirects plain http to https, so the https address is the one to hand out.
 * Returns buf.
 */
char *status_json_tenant_url(const struct config_global *g, const char *subdomain, char *buf,
                             size_t n);

/*
 * The reverse proxy (GET /v1/proxy): mode ("managed", "external", "off"), ok
 * (the last apply succeeded), last_error ("" when ok; else one line with
 * nginx's own message), reloads, failures, nginx_starts, nginx_pid (null when
 * no managed nginx runs), generation (the live conf.<n>, 0 before the first).
 * last_error may be NULL (taken as ""). Returns a new reference.
 */
struct proxy_stats;
json_t *status_json_proxy(const struct proxy_stats *st, const char *last_error);

/* An error body {"error": error, "detail": detail}; detail may be NULL. */
json_t *status_json_error(const char *error, const char *detail);

/* Serialise compactly with a trailing newline; the caller frees the result
 * with free(). *len receives the length. NULL on out-of-memory. */
char *status_json_dump(const json_t *j, size_t *len);

#endif
