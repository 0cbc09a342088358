/*
 * schema.h — the worker database's schema, as an ordered list of migrations.
 *
 * Entry i of schema_migrations takes a database from `PRAGMA user_version` i
 * to i+1. Migrations are forward-only: a released entry is never edited, a
 * change is a new entry appended at the end. Each entry is one SQL script
 * (several statements) meant to run inside one transaction together with the
 * `PRAGMA user_version = i+1` that the caller (db.c) issues; the statements
 * use IF NOT EXISTS so a retried or half-known database does not fail.
 *
 * Money is stored in integer euro cents, dates as ISO 8601 text
 * ("YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ"), booleans as 0/1.
 *
 * What this module does not do: open the database, set pragmas (WAL, busy
 * timeout, foreign_keys) or decide when to migrate; db.c does.
 */
#ifndef TENANT_WORKER_SCHEMA_H
#define TENANT_WORKER_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

/* schema_version entries, followed by a NULL for callers that prefer to loop. */
extern const char *const schema_migrations[];
/* The user_version of a fully migrated database (= number of migrations). */
extern const int schema_version;

/*
 * Bring db from its current user_version to schema_version, each step in its
 * own BEGIN IMMEDIATE transaction that also sets user_version. For tests,
 * fuzzers and any caller without its own loop. On failure err (may be NULL)
 * receives a sentence. Returns 0, -EINVAL when the database is newer than this
 * program, or -EIO on an SQLite error.
 */
int schema_apply(sqlite3 *db, char *err, size_t errlen);

#endif
