/*
 * statedb_kv.c — see statedb_kv.h.
 */
#include "statedb_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "reserve.h"

static struct {
    sqlite3 *db;
    sqlite3_stmt *put, *del_one, *del_all, *each;
} K;

/* Index v - 1 takes the file from version v to v + 1. Version 1 is
 * admin_state.c's tables. */
static const char *const migrations[] = {
    /* 1 -> 2 */
    "CREATE TABLE IF NOT EXISTS status_kv ("
    "  kind TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  item TEXT NOT NULL DEFAULT '',"
    "  value TEXT NOT NULL,"
    "  updated TEXT NOT NULL,"
    "  PRIMARY KEY (kind, tenant, item)) WITHOUT ROWID;",
};

const char *statedb_kv_migration(int v)
{
    if (v < 1 || v >= STATEDB_VERSION || (size_t)(v - 1) >= sizeof migrations / sizeof *migrations)
        return NULL;
    return migrations[v - 1];
}

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *v = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* In one transaction, so two images starting at once cannot both migrate. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int v = 0;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = user_version(db, &v);
    if (rc == SQLITE_OK && v > STATEDB_VERSION)
        log_warn(NULL,
                 "state.db: schema version %d is newer than this tenantd's (%d); "
                 "using it as it is",
                 v, STATEDB_VERSION);
    for (int from = v < 1 ? 1 : v; rc == SQLITE_OK && from < STATEDB_VERSION; from++) {
        char set[48];
        rc = sqlite3_exec(db, statedb_kv_migration(from), NULL, NULL, NULL);
        snprintf(set, sizeof set, "PRAGMA user_version = %d", from + 1);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, set, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            log_info(NULL, "state.db: migrated to schema version %d", from + 1);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "state.db: cannot migrate: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return 0;
}

/* Only when it is new: a client of state.db that closes its own connection
 * while another's SHARED lock was dropped believes it is the last and
 * deletes the WAL under the others. */
int statedb_file_create(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

int statedb_kv_open(const char *run_dir, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 16];
    if (K.db != NULL)
        return 0;
    if (snprintf(path, sizeof path, "%s/state.db", run_dir) >= (int)sizeof path) {
        snprintf(err, errlen, "%s: path too long", run_dir);
        return -ENAMETOOLONG;
    }
    int rc = statedb_file_create(path, err, errlen);
    if (rc < 0)
        return rc;
    rc = sqlite3_open_v2(path, &K.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(K.db, 2000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(K.db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
                          NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, K.db ? sqlite3_errmsg(K.db) : sqlite3_errstr(rc));
        statedb_kv_close();
        return -EIO;
    }
    if (migrate(K.db, err, errlen) < 0) {
        statedb_kv_close();
        return -EIO;
    }
    rc = sqlite3_prepare_v2(K.db,
                            "INSERT INTO status_kv (kind, tenant, item, value, updated) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, tenant, item) DO UPDATE "
                            "SET value = excluded.value, updated = excluded.updated",
                            -1, &K.put, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(K.db,
                                "DELETE FROM status_kv WHERE kind = ? AND tenant = ? AND item = ?",
                                -1, &K.del_one, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(K.db, "DELETE FROM status_kv WHERE kind = ? AND tenant = ?", -1,
                                &K.del_all, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(K.db,
                                "SELECT tenant, item, value FROM status_kv WHERE kind = ? "
                                "ORDER BY tenant, item",
                                -1, &K.each, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(K.db));
        statedb_kv_close();
        return -EIO;
    }
    return 0;
}

void statedb_kv_close(void)
{
    sqlite3_finalize(K.put);
    sqlite3_finalize(K.del_one);
    sqlite3_finalize(K.del_all);
    sqlite3_finalize(K.each);
    sqlite3_close(K.db);
    memset(&K, 0, sizeof K);
}

int statedb_kv_is_open(void)
{
    return K.db != NULL;
}

/* Step a write; on a full disk spend tenantd's reserve (reserve.h) and try once more. */
static int step_write(sqlite3_stmt *s, const char *what, const char *kind, const char *tenant)
{
    int rc = sqlite3_step(s);
    if ((rc & 0xff) == SQLITE_FULL && reserve_release() > 0) {
        sqlite3_reset(s);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        log_error(tenant && tenant[0] ? tenant : NULL, "state.db: cannot %s the %s status: %s",
                  what, kind, sqlite3_errmsg(K.db));
        return -EIO;
    }
    return 0;
}

static void now_text(char *buf, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    if (strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
}

int statedb_kv_put(const char *kind, const char *tenant, const char *item, const json_t *value)
{
    if (K.db == NULL)
        return 0;
    char *text = json_dumps(value, JSON_COMPACT);
    char t[32];
    if (text == NULL)
        return -ENOMEM;
    now_text(t, sizeof t);
    sqlite3_bind_text(K.put, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(K.put, 2, tenant ? tenant : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(K.put, 3, item ? item : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(K.put, 4, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(K.put, 5, t, -1, SQLITE_STATIC);
    int rc = step_write(K.put, "record", kind, tenant);
    free(text);
    return rc;
}

int statedb_kv_del(const char *kind, const char *tenant, const char *item)
{
    if (K.db == NULL)
        return 0;
    sqlite3_stmt *s = item ? K.del_one : K.del_all;
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, tenant ? tenant : "", -1, SQLITE_STATIC);
    if (item)
        sqlite3_bind_text(s, 3, item, -1, SQLITE_STATIC);
    return step_write(s, "clear", kind, tenant);
}

int statedb_kv_each(const char *kind, statedb_kv_fn fn, void *arg)
{
    if (K.db == NULL)
        return 0;
    sqlite3_bind_text(K.each, 1, kind, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(K.each)) == SQLITE_ROW) {
        const char *tenant = (const char *)sqlite3_column_text(K.each, 0);
        const char *item = (const char *)sqlite3_column_text(K.each, 1);
        const char *text = (const char *)sqlite3_column_text(K.each, 2);
        json_t *v = text ? json_loads(text, 0, NULL) : NULL;
        /* A record this image cannot read is skipped, not fatal. */
        if (tenant && item && json_is_object(v))
            fn(arg, tenant, item, v);
        else
            log_warn(NULL, "state.db: an unreadable %s status record is ignored", kind);
        json_decref(v);
    }
    sqlite3_reset(K.each);
    sqlite3_clear_bindings(K.each);
    if (rc != SQLITE_DONE) {
        log_error(NULL, "state.db: cannot read the %s status: %s", kind, sqlite3_errmsg(K.db));
        return -EIO;
    }
    return 0;
}
