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

/* The statement cache of the connection db_open() made. SQL texts are
 * looked up by hash and length, then compared in full against the text the
 * statement itself keeps (sqlite3_sql), so SQL built in a stack buffer is as
 * safe a key as a literal. The worker has a few dozen distinct statements;
 * beyond the table's size, statements are simply not cached. */
#define STMT_CACHE_SIZE 64
struct cached {
    sqlite3_stmt *st;
    uint32_t hash;
    uint32_t len;
    int busy;
};
static sqlite3 *cache_db;
static struct cached cache[STMT_CACHE_SIZE];
static size_t cache_used;

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

int db_open(const struct wenv *e, sqlite3 **out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    int rc;

    *out = NULL;
    if (snprintf(path, sizeof path, "%s/%s.db", e->data_dir, e->client_id) >= (int)sizeof path) {
        snprintf(err, errlen, "database path under DATA_DIR is too long");
        return -ENAMETOOLONG;
    }
    /* Temp files must land in the only writable folder under a read-only
     * root; SQLite reads SQLITE_TMPDIR when it first needs one. */
    setenv("SQLITE_TMPDIR", e->data_dir, 1);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 256, 32);

    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
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
    if (e->storage_limit > 0)
        db_apply_storage_limit(db, e->storage_limit);
    rc = schema_apply(db, err, errlen);
    if (rc < 0) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    cache_db = db;
    return 0;
fail:
    sqlite3_close(db);
    return -EIO;
}

void db_close(sqlite3 *db)
{
    if (db == NULL)
        return;
    if (db == cache_db) {
        for (size_t i = 0; i < cache_used; i++)
            sqlite3_finalize(cache[i].st);
        memset(cache, 0, sizeof cache);
        cache_used = 0;
        cache_db = NULL;
    }
    /* Lets SQLite refresh its statistics for the next start; cheap. */
    sqlite3_exec(db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close_v2(db);
}

int db_ping(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int ok;

    if (db == NULL)
        return -EIO;
    ok = db_prepare(db, "SELECT 1", &st) == 0 && st != NULL && sqlite3_step(st) == SQLITE_ROW;
    db_release(st);
    return ok ? 0 : -EIO;
}

static uint32_t sql_hash(const char *sql, size_t *len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    const char *p = sql;

    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    *len = (size_t)(p - sql);
    return h;
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    struct cached *e;
    uint32_t h;
    size_t len;

    *out = NULL;
    if (db != cache_db || db == NULL)
        return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK ? 0 : -EIO;
    h = sql_hash(sql, &len);
    for (size_t i = 0; i < cache_used; i++) {
        e = &cache[i];
        if (e->hash == h && e->len == len && memcmp(sqlite3_sql(e->st), sql, len) == 0) {
            if (e->busy)
                return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK ? 0 : -EIO;
            e->busy = 1;
            *out = e->st;
            return 0;
        }
    }
    if (cache_used == STMT_CACHE_SIZE)
        return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK ? 0 : -EIO;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
        return -EIO;
    }
    if (*out == NULL) /* only a comment or white space: nothing to cache */
        return 0;
    e = &cache[cache_used++];
    e->st = *out;
    e->hash = h;
    e->len = (uint32_t)len;
    e->busy = 1;
    return 0;
}

void db_release(sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    if (sqlite3_db_handle(st) == cache_db) {
        for (size_t i = 0; i < cache_used; i++) {
            if (cache[i].st == st) {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
                cache[i].busy = 0;
                return;
            }
        }
    }
    sqlite3_finalize(st);
}

int db_exec(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int rc;

    if (db_prepare(db, sql, &st) < 0)
        return -EIO;
    rc = st != NULL ? sqlite3_step(st) : SQLITE_DONE;
    db_release(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int db_read_begin(sqlite3 *db)
{
    return db_exec(db, "BEGIN");
}

void db_read_end(sqlite3 *db)
{
    if (sqlite3_get_autocommit(db))
        return;
    /* A read transaction cannot fail to commit for any reason but a bug;
     * never leave it open, or every later write would block behind it. */
    if (db_exec(db, "COMMIT") < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
