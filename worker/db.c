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

/*
 * The plan's storage limit as SQLite's max_page_count: past it, a write fails
 * with SQLITE_FULL, which the models answer as 507 plan_limit, and the data
 * already there stays readable. Three quarters of the limit go to the
 * database; the rest is room for its WAL (journal_size_limit above), the
 * secret and backups' temporary files, which tenantd counts too. A database
 * already larger keeps its size (SQLite never lowers max_page_count below
 * the current page count): it cannot grow any more.
 */
static void db_apply_storage_limit(sqlite3 *db, int64_t limit)
{
    sqlite3_stmt *st = NULL;
    int64_t page = 4096;
    char sql[96];

    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (page <= 0)
        page = 4096;
    int64_t pages = limit / 4 * 3 / page;
    if (pages < 16)
        pages = 16;
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    /* The WAL must fit in the rest, and under RLIMIT_FSIZE: checkpoint every
     * eighth of the limit (SQLite's default, 1000 pages, is 4 MiB) and
     * truncate the WAL to that size afterwards. */
    int64_t wal_pages = limit / 8 / page;
    if (wal_pages < 8)
        wal_pages = 8;
    if (wal_pages < 1000) {
        snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %lld", (long long)wal_pages);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
        snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld",
                 (long long)(wal_pages * page));
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
}

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
    int rc = db_open_sqlite(path, DB_CREATE, out, err, errlen);
    if (rc == 0 && e->storage_limit > 0)
        db_apply_storage_limit(store_sqlite_handle(*out), e->storage_limit);
    return rc;
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
