/*
 * store_sqlite.h — the SQLite backend of store.h.
 */
#ifndef TENANT_WORKER_STORE_SQLITE_H
#define TENANT_WORKER_STORE_SQLITE_H

#include <sqlite3.h>

#include "store.h"

enum {
    STORE_SQLITE_OWN = 1 << 0,   /* store_close() closes the connection too */
    STORE_SQLITE_CACHE = 1 << 1, /* keep prepared statements for reuse */
};

/*
 * A store over an open connection. With STORE_SQLITE_OWN the store owns db;
 * without it the caller closes db after store_close() (tests and fuzzers
 * open plain in-memory connections this way). NULL when out of memory.
 */
struct store *store_sqlite_wrap(sqlite3 *db, int flags);

/* The connection under s, or NULL when s is not an SQLite store. */
sqlite3 *store_sqlite_handle(struct store *s);

#endif
