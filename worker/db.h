/*
 * db.h — the tenant's SQLite database: DATA_DIR/<CLIENT_ID>.db.
 *
 * db_open() configures SQLite for a small, single-threaded process (one
 * connection, used only on the event-loop thread), sets the pragmas the worker
 * relies on and brings the schema up to date (schema.h). Durability: WAL with
 * synchronous=FULL, so a write answered with 2xx survives a kill -9 of the
 * worker and also a power loss; see db.c for why FULL and not NORMAL.
 * Not here: any query of the application (auth.c and the model layer).
 */
#ifndef TENANT_WORKER_DB_H
#define TENANT_WORKER_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "worker.h"

/*
 * Open (creating if needed) and migrate the database of e. On success *out is
 * the connection, owned by the caller, closed with db_close(). On failure err
 * receives a sentence and a negative errno is returned (-EINVAL when the file
 * is newer than this program, -EIO otherwise).
 */
int db_open(const struct wenv *e, sqlite3 **out, char *err, size_t errlen);
void db_close(sqlite3 *db);

/*
 * Group the statements of one read-only request in a single read transaction:
 * one snapshot, and one round of file locking instead of one per statement
 * (the cost that dominates a small authenticated GET). db_read_end() ends it
 * whatever happened in between. Returns 0 or -EIO (then nothing to end).
 */
int db_read_begin(sqlite3 *db);
void db_read_end(sqlite3 *db);

/*
 * Prepared statements, cached per connection. db_prepare() returns the
 * statement for sql on db: prepared once (SQLITE_PREPARE_PERSISTENT) and kept
 * when db is the connection db_open() made, a fresh one otherwise (the model
 * layer's tests and fuzzers open plain connections and close them with
 * sqlite3_close, which must find nothing left over). Hand every statement
 * back with db_release(), never sqlite3_finalize(): it resets and clears the
 * bindings of a cached statement and finalises any other. A statement that
 * is still in use (the same SQL asked for twice before a release) is never
 * shared: the second caller gets a fresh, uncached one. db_close() finalises
 * the cache. Returns 0 or -EIO (*out is then NULL).
 */
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
void db_release(sqlite3_stmt *st);

/* Run one statement of sql through the cache (BEGIN IMMEDIATE, COMMIT...).
 * 0 or -EIO. */
int db_exec(sqlite3 *db, const char *sql);

/* A cheap query proving the connection works, for /healthz. 0 or -EIO. */
int db_ping(sqlite3 *db);

#endif
