/*
 * statedb_kv.h — small status records that must outlive tenantd, in the
 * `status_kv` table of <run_dir>/state.db: what alerts.c, acme.c and
 * offsite.c would otherwise forget at a restart or an in-place upgrade
 * (docs/operations.md "What survives a restart").
 *
 *   status_kv(kind, tenant, item, value, updated)
 *     kind    "alert" | "acme" | "offsite"
 *     tenant  the tenant id, "" for daemon-wide (the proxy's alert)
 *     item    the alert kind for "alert", "" otherwise
 *     value   a JSON object, the module's own fields
 *
 * One connection per tenantd, opened at start (before the modules load
 * their records) and closed at exit. Writes happen on a change only (an
 * alert fired or recovered, an issuance's outcome, an off-site copy or
 * restore test), never per tick: one small commit on the loop thread (WAL,
 * synchronous=NORMAL, tens of microseconds), as admin_state.c does for
 * operators' actions. Every call is a no-op without an open database: the
 * modules then work from memory, as before.
 *
 * Versions: state.db's PRAGMA user_version counts the migrations of the
 * whole file; admin_state.c makes version 1 (desired, audit), this module
 * adds version 2 (status_kv). A version newer than this image knows (a
 * downgrade) is left alone.
 */
#ifndef TENANTD_STATEDB_KV_H
#define TENANTD_STATEDB_KV_H

#include <stddef.h>

#include <jansson.h>

#define STATEDB_VERSION 2

/* Create the file at path 0600 when it is missing, before SQLite opens it
 * (SQLite would create it with the umask). Never opens an existing one:
 * closing any fd of a database drops every POSIX lock this process holds on
 * it, among them those of tenantd's other connections (admin_state.c,
 * history.c, reminders_ledger.c and this module share state.db). 0, or
 * -errno with err filled. */
int statedb_file_create(const char *path, char *err, size_t errlen);

/* Open <run_dir>/state.db (created 0600 when missing) and migrate it. 0, or
 * -errno with err filled; tenantd goes on without persistence then. */
int statedb_kv_open(const char *run_dir, char *err, size_t errlen);
void statedb_kv_close(void);
/* True when the records are stored (for tests and the log). */
int statedb_kv_is_open(void);

/* Replace (kind, tenant, item) with value (borrowed). 0 or -errno; failures
 * are logged. */
int statedb_kv_put(const char *kind, const char *tenant, const char *item, const json_t *value);
/* Delete (kind, tenant, item); item NULL deletes every item of the tenant. */
int statedb_kv_del(const char *kind, const char *tenant, const char *item);

/* fn for every record of kind whose value is a JSON object, in (tenant,
 * item) order; value is borrowed for the call. 0 or -errno. */
typedef void (*statedb_kv_fn)(void *arg, const char *tenant, const char *item, json_t *value);
int statedb_kv_each(const char *kind, statedb_kv_fn fn, void *arg);

/* Pure: the statement that takes state.db from version v to v + 1, NULL when
 * v is not one this module migrates (v < 1 or v >= STATEDB_VERSION). */
const char *statedb_kv_migration(int v);

#endif
