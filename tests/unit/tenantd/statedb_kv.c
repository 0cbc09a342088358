/*
 * statedb_kv.c — the status records of state.db, for real in a temporary
 * folder: a record written is read back after a close and a reopen (a
 * restart), replaced in place, deleted one item or a whole tenant at once;
 * the migration takes a file made by admin_state.c (version 1) to version 2
 * and a newer file is left at its version; unreadable records are skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "admin_state.h"
#include "statedb_kv.h"

struct seen {
    int n;
    char text[512];
};

static void collect(void *arg, const char *tenant, const char *item, json_t *v)
{
    struct seen *s = arg;
    char *j = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used, "%s/%s=%s;", tenant, item, j ? j : "?");
    free(j);
    s->n++;
}

static int version_of(const char *dir)
{
    char path[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    snprintf(path, sizeof path, "%s/state.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *dir, const char *sql)
{
    char path[512];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/state.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void cleanup(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void migrations_are_numbered(void **state)
{
    (void)state;
    assert_null(statedb_kv_migration(0));
    assert_non_null(statedb_kv_migration(1));
    assert_non_null(strstr(statedb_kv_migration(1), "status_kv"));
    assert_null(statedb_kv_migration(STATEDB_VERSION));
}

static void records_survive_a_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/statedb-kv-XXXXXX", err[256] = "";
    assert_non_null(mkdtemp(dir));
    /* admin_state.c makes the file first, as tenantd does: version 1. */
    struct admin_state *st = NULL;
    assert_int_equal(admin_state_open(dir, &st, err, sizeof err), 0);
    assert_int_equal(version_of(dir), 1);
    assert_int_equal(statedb_kv_open(dir, err, sizeof err), 0);
    assert_true(statedb_kv_is_open());
    assert_int_equal(version_of(dir), STATEDB_VERSION);

    json_t *v = json_pack("{s:I, s:s}", "since", (json_int_t)1700000000, "detail", "down");
    assert_int_equal(statedb_kv_put("alert", "dupont", "tenant_failed", v), 0);
    assert_int_equal(statedb_kv_put("alert", "", "proxy_config_refused", v), 0);
    json_object_set_new(v, "detail", json_string("still down"));
    assert_int_equal(statedb_kv_put("alert", "dupont", "tenant_failed", v), 0); /* replaced */
    assert_int_equal(statedb_kv_put("alert", "dupont", "storage_near_limit", v), 0);
    assert_int_equal(statedb_kv_put("acme", "dupont", "", v), 0);
    json_decref(v);
    statedb_kv_close();
    assert_false(statedb_kv_is_open());
    admin_state_close(st);

    /* A restart: admin_state does not lower the version, the records are back. */
    assert_int_equal(admin_state_open(dir, &st, err, sizeof err), 0);
    assert_int_equal(version_of(dir), STATEDB_VERSION);
    assert_int_equal(statedb_kv_open(dir, err, sizeof err), 0);
    struct seen s = {0};
    assert_int_equal(statedb_kv_each("alert", collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text, "/proxy_config_refused={\"detail\":\"down\",\"since\":1700000000};"
                                "dupont/storage_near_limit={\"detail\":\"still down\",\"since\":"
                                "1700000000};"
                                "dupont/tenant_failed={\"detail\":\"still down\",\"since\":"
                                "1700000000};");

    /* One item, then every item of a tenant; other kinds are untouched. */
    assert_int_equal(statedb_kv_del("alert", "dupont", "tenant_failed"), 0);
    memset(&s, 0, sizeof s);
    statedb_kv_each("alert", collect, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(statedb_kv_del("alert", "dupont", NULL), 0);
    memset(&s, 0, sizeof s);
    statedb_kv_each("alert", collect, &s);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof s);
    statedb_kv_each("acme", collect, &s);
    assert_int_equal(s.n, 1);

    /* A record that is not a JSON object is skipped, not fatal. */
    statedb_kv_close();
    exec_sql(dir, "INSERT INTO status_kv VALUES ('acme', 'martin', '', 'not json', 'x');"
                  "INSERT INTO status_kv VALUES ('acme', 'zola', '', '[1]', 'x');");
    assert_int_equal(statedb_kv_open(dir, err, sizeof err), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(statedb_kv_each("acme", collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_non_null(strstr(s.text, "dupont/="));
    statedb_kv_close();
    admin_state_close(st);

    /* A newer file (a downgrade) keeps its version. */
    exec_sql(dir, "PRAGMA user_version = 7");
    assert_int_equal(statedb_kv_open(dir, err, sizeof err), 0);
    assert_int_equal(version_of(dir), 7);
    statedb_kv_close();
    cleanup(dir);
}

static void closed_is_a_no_op(void **state)
{
    (void)state;
    json_t *v = json_object();
    assert_false(statedb_kv_is_open());
    assert_int_equal(statedb_kv_put("alert", "x", "y", v), 0);
    assert_int_equal(statedb_kv_del("alert", "x", NULL), 0);
    struct seen s = {0};
    assert_int_equal(statedb_kv_each("alert", collect, &s), 0);
    assert_int_equal(s.n, 0);
    json_decref(v);
    char err[256] = "";
    assert_int_equal(statedb_kv_open("/nonexistent/dir", err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/dir/state.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_are_numbered),
        cmocka_unit_test(records_survive_a_reopen),
        cmocka_unit_test(closed_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
