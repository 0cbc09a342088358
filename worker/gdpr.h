/*
 * gdpr.h — the firm's duties over its client files (the case analyses,
 * ceseda_analyses): an access log, export, erasure and retention periods
 * (docs/worker-api.md "Client files and GDPR").
 *
 * Access log (audit_logs, seed 004's AUDIT_LOGS fields): who (user_id,
 * username) did what (action: create, open, export, erase) to which record
 * (table_name, record_id), from which address (ip_address), on which legal
 * basis (gdpr_basis), when (created_at), with old_values/new_values as JSON.
 * The log never holds the personal data itself: an erasure records what was
 * removed (sizes), not the text. Only the firm's admin reads it.
 *
 * Erasure keeps the row (its number, the score, the dates, for the firm's
 * accounts and statistics) and removes the client's story (case_text and
 * the matched factors); the row then carries "erased on <date> by <user>,
 * basis <...>" (erased_at, erased_by, erasure_basis).
 */
#ifndef TENANT_WORKER_GDPR_H
#define TENANT_WORKER_GDPR_H

#include <stddef.h>

#include "worker.h"

/* Append one line to the access log; old/new may be NULL (not stolen).
 * Failures are logged, never shown to the caller: 0 or -EIO. */
int gdpr_audit(const struct wctx *c, const char *table, int64_t record_id, const char *action,
               const json_t *old_values, const json_t *new_values, const char *basis);

/* POST /api/analyses and GET /api/analyses/<id>, logged. */
struct wres gdpr_case_create(const struct wctx *c, json_t *body, const char *arg);
struct wres gdpr_case_open(const struct wctx *c, json_t *body, const char *arg);
/* GET /api/cases/<id>/export: the file as JSON ({"case","erasure","access_log",
 * "exported_at","exported_by","firm"}), logged as an export. */
struct wres gdpr_case_export(const struct wctx *c, json_t *body, const char *arg);
/* The same as a readable HTML page (malloc'd in *html) from the export's JSON. */
char *gdpr_export_html(const json_t *exp, const struct wenv *env, size_t *len);
/* DELETE /api/cases/<id> {"basis"}: erase (admin). */
struct wres gdpr_case_erase(const struct wctx *c, json_t *body, const char *arg);
/* GET /api/audit?case=<id>&limit=&offset= (admin). */
struct wres gdpr_audit_list(const struct wctx *c, json_t *body, const char *arg);
/* GET and PUT /api/firm/retention: days per data kind (admin). */
struct wres gdpr_retention_get(const struct wctx *c, json_t *body, const char *arg);
struct wres gdpr_retention_put(const struct wctx *c, json_t *body, const char *arg);
/* POST /api/firm/retention/purge: erase the client files and delete the done
 * deadlines and access-log lines older than their periods (admin). */
struct wres gdpr_retention_purge(const struct wctx *c, json_t *body, const char *arg);

#endif
