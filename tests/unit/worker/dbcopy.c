/*
 * worker/dbcopy.c (unit) — the copy tool's engine on SQLite files: its table list matches the
 * schema's tables and columns (so a new migration cannot be left out of a migration), the
 * checksum is the documented encoding (an independent SHA-256 of the expected bytes), a copy
 * keeps every row and sum, a target with data is refused untouched, and a copy that fails
 * half-way (a row the target refuses, after other tables were written) leaves the target empty.
 * The same code against PostgreSQL: tests/integration/test_dbcopy.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dbcopy.h"
#include "store_sqlite.h"

static char dir[] = "/tmp/worker_dbcopy.XXXXXX";

static struct store *open_file(const char *name)
{
    char path[256], err[256];
    struct store *s = NULL;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(db_open_sqlite(path, DB_CREATE | DB_NOFOLLOW, &s, err, sizeof err), 0);
    return s;
}

static void exec_ok(struct store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(store_sqlite_handle(s), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void test_tables_match_schema(void **state)
{
    struct store *s = open_file("schema.db");
    sqlite3 *h = store_sqlite_handle(s);
    sqlite3_stmt *st;
    int tables = 0;
    (void)state;

    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                                        " AND name NOT LIKE 'sqlite_%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const struct dbcopy_table *t = NULL;
        char sql[128], cols[512] = "", types[32] = "";
        sqlite3_stmt *info;

        for (int i = 0; i < DBCOPY_NTABLES; i++)
            if (strcmp(dbcopy_tables[i].name, name) == 0)
                t = &dbcopy_tables[i];
        if (t == NULL)
            fail_msg("table %s of the schema is not in dbcopy_tables", name);
        snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", name);
        assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &info, NULL), SQLITE_OK);
        while (sqlite3_step(info) == SQLITE_ROW) {
            const char *col = (const char *)sqlite3_column_text(info, 1);
            const char *type = (const char *)sqlite3_column_text(info, 2);
            size_t n = strlen(types);
            snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", n ? ", " : "", col);
            types[n] = strcmp(type, "INTEGER") == 0 ? 'i' : strcmp(type, "REAL") == 0 ? 'r' : 't';
            types[n + 1] = '\0';
        }
        sqlite3_finalize(info);
        assert_string_equal(t->columns, cols);
        assert_string_equal(t->types, types);
        tables++;
    }
    sqlite3_finalize(st);
    assert_int_equal(tables, DBCOPY_NTABLES);
    store_close(s);
}

static void fill(struct store *s)
{
    exec_ok(s, "INSERT INTO users (id, username, password, email, role, active, created_at)"
               " VALUES (1, 'admin', 'h1', NULL, 'admin', 1, '2026-01-02T10:00:00Z'),"
               " (7, 'émile', 'h2', 'e@x.fr', 'lawyer', 0, '2026-01-03T10:00:00Z');"
               "INSERT INTO sessions VALUES ('b0', 7, 10, 20, 0), ('a9', 1, 11, 21, 1);"
               "INSERT INTO ceseda_analyses (id, user_id, case_text, success_rate, urgency,"
               " model, month, created_at, base_score) VALUES (3, 7, 'a\nb \"c\" ''d''', 0.1,"
               " 'high', 'm', '2026-01', 'now', 0.30000000000000004);"
               "INSERT INTO invoices VALUES (5, '2026-0001', 2026, 1, 'C', 2000, 100, 20, 120,"
               " 'draft', 1, 'x', 'y');"
               "INSERT INTO invoice_items VALUES (9, 5, 1, 'd', 1, 100, 100);");
}

static void test_checksum_is_the_documented_encoding(void **state)
{
    struct store *s = open_file("sum.db");
    struct dbcopy_sum sums[DBCOPY_NTABLES];
    static const char users[] = "I1;T5:admin;T2:h1;N;T5:admin;I1;T20:2026-01-02T10:00:00Z;N;\n"
                                "I7;T6:\xc3\xa9mile;T2:h2;T6:e@x.fr;T6:lawyer;I0;"
                                "T20:2026-01-03T10:00:00Z;N;\n";
    unsigned char bin[32];
    char hex[65], err[256];
    (void)state;

    fill(s);
    assert_int_equal(dbcopy_checksum(s, sums, err, sizeof err), 0);
    assert_int_equal(sums[0].rows, 2);
    crypto_hash_sha256(bin, (const unsigned char *)users, sizeof users - 1);
    sodium_bin2hex(hex, sizeof hex, bin, sizeof bin);
    assert_string_equal(sums[0].sha256, hex);
    /* Sessions by the bytes of their text key: "a9" before "b0". */
    static const char sessions[] = "T2:a9;I1;I11;I21;I1;\nT2:b0;I7;I10;I20;I0;\n";
    crypto_hash_sha256(bin, (const unsigned char *)sessions, sizeof sessions - 1);
    sodium_bin2hex(hex, sizeof hex, bin, sizeof bin);
    assert_string_equal(sums[1].sha256, hex);
    /* An empty table is the SHA-256 of nothing. */
    assert_int_equal(sums[7].rows, 0);
    assert_string_equal(sums[7].sha256,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_false(store_in_txn(s));
    store_close(s);
}

static void assert_sums_equal(const struct dbcopy_sum *a, const struct dbcopy_sum *b)
{
    for (int i = 0; i < DBCOPY_NTABLES; i++) {
        assert_int_equal(a[i].rows, b[i].rows);
        assert_string_equal(a[i].sha256, b[i].sha256);
    }
}

static void test_copy_keeps_every_row(void **state)
{
    struct store *from = open_file("from.db"), *to = open_file("to.db");
    struct dbcopy_sum sums[DBCOPY_NTABLES], after[DBCOPY_NTABLES], again[DBCOPY_NTABLES];
    char err[256];
    (void)state;

    fill(from);
    assert_int_equal(dbcopy_copy(from, to, sums, err, sizeof err), 0);
    assert_int_equal(dbcopy_checksum(to, after, err, sizeof err), 0);
    assert_sums_equal(sums, after);
    assert_int_equal(sums[3].rows, 1);
    assert_false(store_in_txn(from));
    assert_false(store_in_txn(to));

    /* Again into the same target: refused, nothing written. */
    assert_int_equal(dbcopy_copy(from, to, again, err, sizeof err), -ENOTEMPTY);
    assert_non_null(strstr(err, "target not empty"));
    assert_int_equal(dbcopy_checksum(to, again, err, sizeof err), 0);
    assert_sums_equal(after, again);

    json_t *j = dbcopy_sums_json(sums);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "users"), "rows")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "invoice_items"), "sha256")),
        sums[5].sha256);
    json_decref(j);
    store_close(from);
    store_close(to);
}

static void test_failure_half_way_rolls_back(void **state)
{
    struct store *from = open_file("bad.db"), *to = open_file("empty.db");
    struct dbcopy_sum sums[DBCOPY_NTABLES], after[DBCOPY_NTABLES];
    char err[256];
    (void)state;

    fill(from);
    /* A tampered file: a session of a user that does not exist. users is
     * copied first, then sessions fails on the target's foreign key. */
    exec_ok(from, "PRAGMA foreign_keys = OFF; INSERT INTO sessions VALUES ('zz', 99, 1, 2, 0);"
                  "PRAGMA foreign_keys = ON");
    assert_int_equal(dbcopy_copy(from, to, sums, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "sessions"));
    assert_false(store_in_txn(to));
    assert_int_equal(dbcopy_checksum(to, after, err, sizeof err), 0);
    for (int i = 0; i < DBCOPY_NTABLES; i++)
        assert_int_equal(after[i].rows, 0);
    store_close(from);
    store_close(to);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || mkdtemp(dir) == NULL)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_match_schema),
        cmocka_unit_test(test_checksum_is_the_documented_encoding),
        cmocka_unit_test(test_copy_keeps_every_row),
        cmocka_unit_test(test_failure_half_way_rolls_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
