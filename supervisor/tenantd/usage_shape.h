/*
 * usage_shape.h — GET /v1/tenants/<id>/usage passes on what the tenant's worker
 * answered to GET /internal/usage; any worker may run there (a third-party one
 * echoed tenantd's own Authorization header back). So the answer is checked
 * against the seed's shape and rebuilt from the known fields only:
 *
 *   required  client_id (string, the tenant's id), month ("YYYY-MM"),
 *             analyses_used, users_active (integers >= 0),
 *             analyses_limit, users_limit (integers; < 0 or null = no limit)
 *   optional  overage_fees, total_due (numbers >= 0); overage_count,
 *             overage_price_cents, overage_fees_cents, plan_price_cents,
 *             total_due_cents (integers >= 0); plan, billing_cycle,
 *             next_billing (short strings)
 *
 * Anything else is dropped. Pure: no I/O.
 */
#ifndef TENANTD_USAGE_SHAPE_H
#define TENANTD_USAGE_SHAPE_H

#include <jansson.h>
#include <stddef.h>

/* A new object with the checked fields, or NULL with the first problem in why
 * (e.g. "analyses_used is missing or not an integer >= 0"). */
json_t *usage_shape(const json_t *in, const char *id, char *why, size_t n);

#endif
