/*
 * db.c — see db.h.
 *
 * Why synchronous=FULL: the worker holds a law firm's invoices (numbered
 * without gaps by law) and deadlines. With WAL, NORMAL already survives a
 * crash or kill -9 of the process (the WAL is in the page cache), but a power
 * loss can drop the last acknowledged commits. FULL fsyncs the WAL at each
 * commit: about 8 k commits/s on this kind of machine, far above what one
 * firm writes, so the stronger promise costs nothing that matters.
 *
 * PostgreSQL: the durability is the server's (fsync on commit by default);
 * see store_pg.c for the connections and docs/database.md for the choice.
 *
 * Memory: the worker idles most of the time, so the page cache is capped
 * small and memory-mapped I/O is off; SQLite's own allocation statistics are
 * disabled (they take a mutex on every malloc for nothing we read).
 */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "store_pg.h"
#include "store_sqlite.h"

static const char pragmas[] = "PRAGMA journal_mode = WAL;"
                              "PRAGMA synchronous = FULL;"
                              "PRAGMA foreign_keys = ON;"
                              "PRAGMA temp_store = MEMORY;"
                              "PRAGMA cache_size = -512;"
                              "PRAGMA mmap_size = 0;"
                              "PRAGMA journal_size_limit = 4194304;";

int db_open_postgresql(const char *url, struct store **out, char *err, size_t errlen)
{
    struct store *s;
    int rc;

    *out = NULL;
    rc = store_pg_open(url, &s, err, errlen);
    if (rc < 0)
        return rc;
    rc = schema_pg_apply(s, err, errlen);
    if (rc < 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int db_open_sqlite(const char *path, int flags, struct store **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc;

    *out = NULL;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 256, 32);

    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             ((flags & DB_CREATE) ? SQLITE_OPEN_CREATE : 0) |
                             ((flags & DB_NOFOLLOW) ? SQLITE_OPEN_NOFOLLOW : 0),
                         NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: setting pragmas: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    rc = schema_apply(db, err, errlen);
    if (rc < 0) {
        sqlite3_close(db);
        return rc;
    }
    *out = store_sqlite_wrap(db, STORE_SQLITE_OWN | STORE_SQLITE_CACHE);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        sqlite3_close(db);
        return -ENOMEM;
    }
    return 0;
fail:
    sqlite3_close(db);
    return -EIO;
}

int db_open(const struct wenv *e, struct store **out, char *err, size_t errlen)
{
    char path[PATH_MAX];

    *out = NULL;
    if (e->database == WDB_POSTGRESQL)
        return db_open_postgresql(e->postgresql_url, out, err, errlen);
    if (snprintf(path, sizeof path, "%s/%s.db", e->data_dir, e->client_id) >= (int)sizeof path) {
        snprintf(err, errlen, "database path under DATA_DIR is too long");
        return -ENAMETOOLONG;
    }
    /* Temp files must land in the only writable folder under a read-only
     * root; SQLite reads SQLITE_TMPDIR when it first needs one. */
    setenv("SQLITE_TMPDIR", e->data_dir, 1);
    return db_open_sqlite(path, DB_CREATE, out, err, errlen);
}

void db_close(struct store *db)
{
    store_close(db);
}

int db_ping(struct store *db)
{
    return store_ping(db);
}

int db_read_begin(struct store *db)
{
    return store_exec(db, "BEGIN");
}

void db_read_end(struct store *db)
{
    if (!store_in_txn(db))
        return;
    /* A read transaction cannot fail to commit for any reason but a bug;
     * never leave it open, or every later write would block behind it. */
    if (store_exec(db, "COMMIT") < 0)
        store_exec(db, "ROLLBACK");
}
