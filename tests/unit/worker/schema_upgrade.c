/*
 * worker/schema.c (unit) — migration 4 on a firm's database of version 3:
 * every deadline gets its creator as responsible lawyer, and the reminders
 * recorded sent "on the day" (-day) are renamed -morning, so none is mailed
 * again under its new name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "schema.h"

static void test_version_3_to_4(void **state)
{
    (void)state;
    sqlite3 *db;
    char err[256] = "";
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int v = 0; v < 3; v++)
        assert_int_equal(sqlite3_exec(db, schema_migrations[v], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA user_version = 3;"
                     "INSERT INTO users (id, username, password, role, created_at) VALUES "
                     "(7, 'durand', 'x', 'lawyer', '2026-01-01');"
                     "INSERT INTO deadlines (id, type, notification_date, deadline_date, "
                     "rule_reference, user_id, created_at) VALUES "
                     "(3, 'oqtf_retention', '2026-12-01', '2026-12-03', 'L. 921-2', 7, "
                     "'2026-12-01'), (4, 'oqtf_retention', '2026-12-01', '2026-12-03', "
                     "'L. 921-2', NULL, '2026-12-01');"
                     "INSERT INTO reminders_sent (reminder_id, sent_at) VALUES "
                     "('3-day', 'x'), ('3-48h', 'x'), ('12-day', 'x');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(schema_apply(db, err, sizeof err), 0);
    assert_true(schema_version >= 4);

    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, responsible_user_id, fallback_user_id FROM "
                                        "deadlines ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 1), 7);
    assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 1), SQLITE_NULL);
    sqlite3_finalize(st);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(reminder_id, ' ') FROM (SELECT "
                                        "reminder_id FROM reminders_sent ORDER BY reminder_id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "12-morning 3-48h 3-morning");
    sqlite3_finalize(st);

    /* Each user's choice: one row per user, a known mode. */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO user_reminders (user_id, mode, updated_at) "
                                  "VALUES (7, 'off', 'x')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO user_reminders (user_id, mode, updated_at) "
                                      "VALUES (7, 'firm', 'x')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE user_reminders SET mode = 'sometimes'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_3_to_4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
