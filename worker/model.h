/*
 * model.h — the model layer of tenant-worker: one function per API operation.
 *
 * Every operation has the same shape:
 *     struct wres model_<op>(const struct wctx *c, json_t *body, const char *arg);
 *   - c: the database, the tenant's settings, the current time and the caller
 *     (c->user may be NULL; the HTTP layer decides who may call what).
 *   - body: the parsed JSON request body, borrowed (the caller keeps its
 *     reference), or NULL when the request had none. It is never trusted: each
 *     operation validates it with jsonv (types, lengths, required and unknown
 *     fields) and answers 400 {"error":"invalid_request","detail":"<sentence
 *     naming the field>"} when it does not fit.
 *   - arg: the path argument (the <id> or <numero> of the route) for
 *     operations on one object; for list operations, the raw query string
 *     without the '?' ("limit=20&offset=40", "status=active"), or NULL.
 * The result's body is a new reference the caller sends and then releases.
 *
 * Statuses: 200/201 success; 400 invalid_request; 402 plan_limit (with
 * "limit" naming the exceeded limit — "max_analysis_monthly" or "max_cases" —
 * and "max", "used"); 404 not_found; 409 conflict (an
 * invoice/deadline status change the lifecycle forbids); 422 for a deadline
 * whose type has no rule in force on the notification date
 * ("type_not_in_force", with "types") or whose rule counts in hours without a
 * notification time ("notification_time_required"); 500 internal (an
 * SQLite error, logged with detail, answered without it); 503 unavailable
 * (model_init was not called or failed).
 *
 * Routes (the HTTP layer owns authentication and routing; these are the
 * mapping it is expected to use):
 *   POST  /api/analyses               model_analysis_create   body
 *   GET   /api/analyses               model_analysis_list     arg = query (limit, offset)
 *   GET   /api/analyses/<id>          model_analysis_get      arg = id
 *   POST  /api/invoices               model_invoice_create    body
 *   GET   /api/invoices               model_invoice_list      arg = query (limit, offset,
 *                                                             status, year)
 *   GET   /api/invoices/<numero>      model_invoice_get       arg = numero ("2026-0001")
 *   PATCH /api/invoices/<numero>      model_invoice_update    body {"status"}, arg = numero
 *   GET   /api/deadlines/types        model_deadline_types    arg = query (date)
 *   POST  /api/deadlines              model_deadline_create   body
 *   GET   /api/deadlines              model_deadline_list     arg = query (status, limit, offset)
 *   GET   /api/deadlines/<id>         model_deadline_get      arg = id
 *   PATCH /api/deadlines/<id>         model_deadline_update   body {"status"}, arg = id
 *   GET   /api/billing/usage          model_billing_usage
 *   GET   /api/stats                  model_stats
 *
 * The rules (analysis rule models, deadline rules, public holidays) are data
 * files read once by model_init(); the operations only read them afterwards.
 * The worker is single-threaded around the model layer: operations are not
 * meant to run concurrently on one connection (SQLite serialises writers
 * between processes; invoice numbers are allocated inside BEGIN IMMEDIATE).
 */
#ifndef TENANT_WORKER_MODEL_H
#define TENANT_WORKER_MODEL_H

#include "worker.h"

#include <stddef.h>

/*
 * Load the rule files from rules_dir: "<ai_model>.rules" (the analysis rule
 * model named by AI_MODEL), "deadlines.rules" and "holidays.rules". Call once
 * at start-up, before any operation; calling it again replaces the rules.
 * On failure err receives a sentence naming the file and line, and the
 * previous rules (if any) stay. Returns 0, -ENOENT (a file is missing),
 * -EINVAL (a file is malformed) or -ENOMEM.
 */
int model_init(const char *rules_dir, const char *ai_model, char *err, size_t errlen);

/*
 * model_init() for the worker's environment: the rules folder is
 * "<templates_dir>/worker/rules", or "<templates_dir>/rules" when
 * TEMPLATES_DIR already names the worker's templates folder.
 */
int model_init_env(const struct wenv *env, char *err, size_t errlen);

/* Free the loaded rules (for leak-clean tests and shutdown). */
void model_shutdown(void);

/* Analyses (model_analyses.c). */
struct wres model_analysis_create(const struct wctx *c, json_t *body, const char *arg);
struct wres model_analysis_list(const struct wctx *c, json_t *body, const char *arg);
struct wres model_analysis_get(const struct wctx *c, json_t *body, const char *arg);

/* Invoices (model_invoices.c). */
struct wres model_invoice_create(const struct wctx *c, json_t *body, const char *arg);
struct wres model_invoice_list(const struct wctx *c, json_t *body, const char *arg);
struct wres model_invoice_get(const struct wctx *c, json_t *body, const char *arg);
struct wres model_invoice_update(const struct wctx *c, json_t *body, const char *arg);

/* Deadlines (model_deadlines.c). */
struct wres model_deadline_types(const struct wctx *c, json_t *body, const char *arg);
struct wres model_deadline_create(const struct wctx *c, json_t *body, const char *arg);
struct wres model_deadline_list(const struct wctx *c, json_t *body, const char *arg);
struct wres model_deadline_get(const struct wctx *c, json_t *body, const char *arg);
struct wres model_deadline_update(const struct wctx *c, json_t *body, const char *arg);

/* Billing and statistics (model_billing.c). */
struct wres model_billing_usage(const struct wctx *c, json_t *body, const char *arg);
struct wres model_stats(const struct wctx *c, json_t *body, const char *arg);

/*
 * Helpers for the HTTP layer's own limits (model_billing.c). Both return 1
 * when the limit is reached, 0 when not, or a negative errno on a database
 * error.
 *   model_users_limit_reached: active users >= MAX_USERS (call before
 *     creating or re-activating a user; a negative MAX_USERS means no
 *     limit, 0 means none allowed, as for every limit in usage.h).
 *   model_usage_refresh_users: recompute monthly_usage.users_active for the
 *     current month after a user is created, (de)activated or deleted.
 */
int model_users_limit_reached(const struct wctx *c);
int model_usage_refresh_users(const struct wctx *c);

/* 507 plan_limit {"limit": "storage", "limit_bytes"}: the plan's storage is
 * full (SQLITE_FULL at max_page_count, or tenantd's storage-full flag). */
struct wres model_storage_full(const struct wctx *c, const char *what);

#endif
