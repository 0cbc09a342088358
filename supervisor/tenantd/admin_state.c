/*
 * admin_state.c — <run_dir>/state.db, the admin surface's memory across
 * restarts of tenantd and of the machine (DESIGN.md "Desired state"):
 *
 *   desired(tenant, state, since, who)   an operator's stop or suspend; a
 *                                        tenant without a row is wanted up
 *   audit(id, time, who, action, tenant, result)
 *                                        every admin action, newest last,
 *                                        trimmed to the last AUDIT_KEEP rows
 *
 * SQLite in WAL mode with synchronous=NORMAL: one small commit per operator
 * action costs tens of microseconds, so it runs on the loop thread. The file
 * is 0600: the audit log names who did what.
 *
 * admin_desired_state() (admin.h) opens the file read-only on its own, so the
 * supervisor can ask before the admin surface exists.
 */
#include "admin_state.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "reserve.h"
#include "statedb_kv.h"
#include "status_json.h"

#define AUDIT_KEEP 10000

struct admin_state {
    sqlite3 *db;
    sqlite3_stmt *audit_insert;
    unsigned inserts;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS desired ("
                             "  tenant TEXT PRIMARY KEY,"
                             "  state TEXT NOT NULL CHECK (state IN ('stopped', 'suspended')),"
                             "  since TEXT NOT NULL,"
                             "  who TEXT NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS audit ("
                             "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                             "  time TEXT NOT NULL,"
                             "  who TEXT NOT NULL,"
                             "  action TEXT NOT NULL,"
                             "  tenant TEXT NOT NULL DEFAULT '',"
                             "  result TEXT NOT NULL);";

static int state_path(const char *run_dir, char *buf, size_t n)
{
    if (snprintf(buf, n, "%s/state.db", run_dir) >= (int)n)
        return -ENAMETOOLONG;
    return 0;
}

/* UTC with milliseconds, sortable as text. */
static void now_text(char *buf, size_t n)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    if (snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000)) >= (int)n)
        buf[0] = '\0';
}

int admin_state_open(const char *run_dir, struct admin_state **out, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 16];
    *out = NULL;
    int rr = reserve_create(run_dir);
    if (rr < 0)
        log_warn(NULL,
                 "no disk reserve in %s (%s): a full disk may keep an admin action from "
                 "being recorded",
                 run_dir, strerror(-rr));
    if (state_path(run_dir, path, sizeof path) != 0) {
        snprintf(err, errlen, "%s: path too long", run_dir);
        return -ENAMETOOLONG;
    }
    int crc = statedb_file_create(path, err, errlen);
    if (crc < 0)
        return crc;
    struct admin_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(st->db, 2000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db,
                          "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                          "PRAGMA foreign_keys = ON;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, schema, NULL, NULL, NULL);
    /* Version 1, never lowered: later migrations are statedb_kv.c's. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *v = NULL;
        bool fresh = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK &&
                     sqlite3_step(v) == SQLITE_ROW && sqlite3_column_int(v, 0) < 1;
        sqlite3_finalize(v);
        if (fresh)
            sqlite3_exec(st->db, "PRAGMA user_version = 1", NULL, NULL, NULL);
        rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db,
                                "INSERT INTO audit (time, who, action, tenant, result) "
                                "VALUES (?, ?, ?, ?, ?)",
                                -1, &st->audit_insert, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        admin_state_close(st);
        return -EIO;
    }
    *out = st;
    return 0;
}

sqlite3 *admin_state_db(struct admin_state *st)
{
    return st->db;
}

void admin_state_close(struct admin_state *st)
{
    if (st == NULL)
        return;
    sqlite3_finalize(st->audit_insert);
    sqlite3_close(st->db);
    free(st);
}

int admin_state_set_desired(struct admin_state *st, const char *id, const char *state,
                            const char *who)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (state == NULL) {
        rc = sqlite3_prepare_v2(st->db, "DELETE FROM desired WHERE tenant = ?", -1, &s, NULL);
        if (rc == SQLITE_OK)
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    } else {
        char t[40];
        now_text(t, sizeof t);
        rc = sqlite3_prepare_v2(st->db,
                                "INSERT INTO desired (tenant, state, since, who) VALUES "
                                "(?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET "
                                "state = excluded.state, since = excluded.since, "
                                "who = excluded.who",
                                -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, state, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, t, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 4, who, -1, SQLITE_TRANSIENT);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        /* A full disk: spend tenantd's reserve (reserve.h) and try again. */
        if ((rc & 0xff) == SQLITE_FULL && reserve_release() > 0) {
            sqlite3_reset(s);
            rc = sqlite3_step(s);
        }
        rc = rc == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc != SQLITE_OK)
        log_error(id, "admin: state.db: cannot record the desired state: %s",
                  sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : -EIO;
}

const char *admin_state_get_desired(struct admin_state *st, const char *id)
{
    sqlite3_stmt *s = NULL;
    const char *out = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT state FROM desired WHERE tenant = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(s, 0);
            /* Return a static string, not SQLite's buffer, which dies with s. */
            if (v && strcmp(v, "stopped") == 0)
                out = "stopped";
            else if (v && strcmp(v, "suspended") == 0)
                out = "suspended";
        }
    }
    sqlite3_finalize(s);
    return out;
}

int admin_state_each_desired(struct admin_state *st,
                             void (*fn)(const char *id, const char *state, void *arg), void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT tenant, state FROM desired ORDER BY tenant", -1, &s,
                           NULL) != SQLITE_OK)
        return -EIO;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *state = (const char *)sqlite3_column_text(s, 1);
        if (id && state)
            fn(id, state, arg);
    }
    sqlite3_finalize(s);
    return 0;
}

int admin_state_audit(struct admin_state *st, const char *who, const char *action,
                      const char *tenant, const char *result)
{
    if (st == NULL)
        return -EINVAL;
    char t[40];
    now_text(t, sizeof t);
    sqlite3_stmt *s = st->audit_insert;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, t, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, who, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, tenant ? tenant : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, result, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_error(tenant, "admin: state.db: cannot record \"%s\" in the audit log: %s", action,
                  sqlite3_errmsg(st->db));
        return -EIO;
    }
    /* Trim now and then rather than on every insert. */
    if (++st->inserts % 100 == 0)
        sqlite3_exec(st->db, "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - 10000",
                     NULL, NULL, NULL);
    return 0;
}

json_t *admin_state_events(struct admin_state *st, int limit)
{
    json_t *a = json_array();
    sqlite3_stmt *s = NULL;
    if (a == NULL)
        return NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, time, who, action, tenant, result FROM audit "
                           "ORDER BY id DESC LIMIT ?",
                           -1, &s, NULL) != SQLITE_OK) {
        json_decref(a);
        return NULL;
    }
    sqlite3_bind_int(s, 1, limit);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = json_object();
        if (o == NULL)
            break;
        json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
        static const char *const keys[] = {"time", "who", "action", "tenant", "result"};
        for (int k = 0; k < 5; k++) {
            json_t *v = status_json_string((const char *)sqlite3_column_text(s, k + 1));
            if (v)
                json_object_set_new(o, keys[k], v);
        }
        json_array_append_new(a, o);
    }
    sqlite3_finalize(s);
    return a;
}

enum admin_desired admin_desired_state(const char *run_dir, const char *id)
{
    char path[CONFIG_PATH_MAX + 16];
    if (state_path(run_dir, path, sizeof path) != 0 || access(path, F_OK) != 0)
        return ADMIN_DESIRED_UP;
    sqlite3 *db = NULL;
    enum admin_desired out = ADMIN_DESIRED_UP;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) ==
        SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        struct admin_state tmp = {.db = db};
        const char *v = admin_state_get_desired(&tmp, id);
        if (v && strcmp(v, "stopped") == 0)
            out = ADMIN_DESIRED_STOPPED;
        else if (v && strcmp(v, "suspended") == 0)
            out = ADMIN_DESIRED_SUSPENDED;
    }
    sqlite3_close(db);
    return out;
}
