/*
 * reminders_ledger.c — the reminders tenantd has mailed, in <run_dir>/state.db
 * (reminders.h "ledger"), so a restart of tenantd between the relay's 250 and
 * the worker's acknowledgement does not mail the reminder again.
 *
 *   reminders_mailed(tenant, message_id, sent_at)
 *
 * keyed by the reminder's Message-ID (reminders_mail.c), which names the
 * deadline, its lead and its date. Its own connection, like history.c's;
 * synchronous = FULL on it, so a row written is on disk before the worker is
 * told (one fsync per reminder mailed: a handful a day per firm). Rows older
 * than LEDGER_KEEP_DAYS (beyond the longest lead) are pruned at open. Every
 * call runs on the loop thread and blocks briefly on SQLite; a failure is
 * logged by the caller and the reminder goes on as before (at least once).
 */
#include "reminders.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "statedb_kv.h"

#define LEDGER_KEEP_DAYS 200

static sqlite3 *db;

static const char schema[] = "CREATE TABLE IF NOT EXISTS reminders_mailed ("
                             "  tenant TEXT NOT NULL,"
                             "  message_id TEXT NOT NULL,"
                             "  sent_at INTEGER NOT NULL,"
                             "  PRIMARY KEY (tenant, message_id));";

int reminders_ledger_open(const char *run_dir, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 16];
    if (db != NULL)
        return 0;
    if (snprintf(path, sizeof path, "%s/state.db", run_dir) >= (int)sizeof path) {
        snprintf(err, errlen, "%s: path too long", run_dir);
        return -ENAMETOOLONG;
    }
    int rc = statedb_file_create(path, err, errlen);
    if (rc < 0)
        return rc;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 2000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL,
                          NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM reminders_mailed WHERE sent_at < %lld",
                 (long long)time(NULL) - (long long)LEDGER_KEEP_DAYS * 86400);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        reminders_ledger_close();
        return -EIO;
    }
    return 0;
}

void reminders_ledger_close(void)
{
    sqlite3_close(db);
    db = NULL;
}

int reminders_ledger_has(const char *tenant, const char *message_id)
{
    sqlite3_stmt *st = NULL;
    if (db == NULL)
        return 0;
    int rc = sqlite3_prepare_v2(
        db, "SELECT 1 FROM reminders_mailed WHERE tenant = ?1 AND message_id = ?2", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, message_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int reminders_ledger_put(const char *tenant, const char *message_id)
{
    sqlite3_stmt *st = NULL;
    if (db == NULL)
        return -ENOTCONN;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO reminders_mailed (tenant, message_id, sent_at) "
                                "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

const char *reminders_ledger_error(void)
{
    return db ? sqlite3_errmsg(db) : "state.db is not open";
}
