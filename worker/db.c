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
#include <stdio.h>
#include <stdlib.h>

#include "schema.h"

/* Prepared once: BEGIN and COMMIT run on every authenticated GET. */
static sqlite3_stmt *begin_st, *commit_st;

static const char pragmas[] = "PRAGMA journal_mode = WAL;"
                              "PRAGMA synchronous = FULL;"
                              "PRAGMA foreign_keys = ON;"
                              "PRAGMA temp_store = MEMORY;"
                              "PRAGMA cache_size = -512;"
                              "PRAGMA mmap_size = 0;"
                              "PRAGMA journal_size_limit = 4194304;";

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
    rc = schema_apply(db, err, errlen);
    if (rc < 0) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return -EIO;
}

void db_close(sqlite3 *db)
{
    if (db == NULL)
        return;
    sqlite3_finalize(begin_st);
    sqlite3_finalize(commit_st);
    begin_st = commit_st = NULL;
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
    ok = sqlite3_prepare_v2(db, "SELECT 1", -1, &st, NULL) == SQLITE_OK &&
         sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return ok ? 0 : -EIO;
}

int db_read_begin(sqlite3 *db)
{
    if (begin_st == NULL && (sqlite3_prepare_v3(db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT,
                                                &begin_st, NULL) != SQLITE_OK ||
                             sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
                                                &commit_st, NULL) != SQLITE_OK))
        return -EIO;
    int rc = sqlite3_step(begin_st);
    sqlite3_reset(begin_st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

void db_read_end(sqlite3 *db)
{
    if (sqlite3_get_autocommit(db))
        return;
    int rc = sqlite3_step(commit_st);
    sqlite3_reset(commit_st);
    /* A read transaction cannot fail to commit for any reason but a bug;
     * never leave it open, or every later write would block behind it. */
    if (rc != SQLITE_DONE)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
