/*
 * db.h — opening the tenant's database, on the engine DATABASE_TYPE names.
 *
 *   - sqlite (the default): DATA_DIR/<CLIENT_ID>.db. db_open() configures
 *     SQLite for a small, single-threaded process (one connection, used only
 *     on the event-loop thread), sets the pragmas the worker relies on and
 *     brings the schema up to date (schema.h). Durability: WAL with
 *     synchronous=FULL, so a write answered with 2xx survives a kill -9 of
 *     the worker and also a power loss; see db.c for why FULL and not NORMAL.
 *   - postgresql: the server at POSTGRESQL_URL, through store_pg.h; the
 *     schema is brought up to date by schema_pg.c.
 * Either way the caller gets a struct store (store.h), the only way the rest
 * of the worker reaches its data. Not here: any query of the application
 * (auth.c and the model layer).
 */
#ifndef TENANT_WORKER_DB_H
#define TENANT_WORKER_DB_H

#include <stddef.h>

#include "store.h"
#include "worker.h"

/*
 * Open (creating if needed) and migrate the database of e. On success *out is
 * owned by the caller, closed with db_close(). On failure err receives a
 * sentence and a negative errno is returned (-EINVAL when the database is
 * newer than this program, -EIO otherwise).
 */
int db_open(const struct wenv *e, struct store **out, char *err, size_t errlen);
void db_close(struct store *db);

/* The same on one engine, by name: the SQLite file at path, or the
 * PostgreSQL database at the libpq URI url (a password not in it comes from
 * PGPASSFILE, as libpq reads it). Both bring the schema up to date. flags:
 * DB_CREATE (else the file must exist), DB_NOFOLLOW (refuse a path that is a
 * symbolic link: the copy tool may run with more rights than the tenant who
 * can write the data dir). */
enum { DB_CREATE = 1 << 0, DB_NOFOLLOW = 1 << 1 };
int db_open_sqlite(const char *path, int flags, struct store **out, char *err, size_t errlen);
int db_open_postgresql(const char *url, struct store **out, char *err, size_t errlen);

/*
 * Group the statements of one read-only request in a single read transaction:
 * one snapshot, and one round of file locking instead of one per statement
 * (the cost that dominates a small authenticated GET). db_read_end() ends it
 * whatever happened in between. Returns 0 or -EIO (then nothing to end).
 */
int db_read_begin(struct store *db);
void db_read_end(struct store *db);

/* A cheap query proving the connection works, for /healthz. 0 or -EIO. */
int db_ping(struct store *db);

#endif
