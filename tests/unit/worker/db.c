/*
 * worker/db.c (unit) — the statement cache of db.c: a statement released is the one
 * handed out next time for the same SQL text (whatever buffer holds the
 * text), a statement still in use is never shared, releasing resets it (no
 * read lock left behind, no stale binding), plain connections are not
 * cached, and db_close() leaves nothing behind (ASan's leak check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

static char dir[] = "/tmp/worker_db.XXXXXX";

static void test_cache(void **state)
{
    struct wenv e;
    sqlite3 *db = NULL;
    sqlite3_stmt *a, *b, *c;
    char err[256], sql[64];
    (void)state;

    memset(&e, 0, sizeof e);
    e.data_dir = dir;
    e.client_id = "dupont";
    assert_int_equal(db_open(&e, &db, err, sizeof err), 0);

    assert_int_equal(db_prepare(db, "SELECT ?1 + 1", &a), 0);
    sqlite3_bind_int(a, 1, 41);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(a, 0), 42);
    /* In use: the same SQL gets another statement. */
    assert_int_equal(db_prepare(db, "SELECT ?1 + 1", &b), 0);
    assert_ptr_not_equal(a, b);
    db_release(b); /* not cached: finalised */
    db_release(a);
    assert_false(sqlite3_stmt_busy(a));

    /* The same text from a stack buffer finds the cached statement, reset
     * and with its bindings cleared (NULL + 1 is NULL). */
    snprintf(sql, sizeof sql, "SELECT ?%d + 1", 1);
    assert_int_equal(db_prepare(db, sql, &c), 0);
    assert_ptr_equal(c, a);
    assert_int_equal(sqlite3_step(c), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(c, 0), SQLITE_NULL);
    db_release(c);

    assert_int_equal(db_exec(db, "BEGIN IMMEDIATE"), 0);
    assert_int_equal(db_exec(db, "COMMIT"), 0);
    assert_int_equal(db_read_begin(db), 0);
    db_read_end(db);
    assert_true(sqlite3_get_autocommit(db));
    assert_int_equal(db_ping(db), 0);
    assert_int_equal(db_prepare(db, "SELECT nope FROM nowhere", &a), -EIO);
    assert_null(a);
    db_close(db);

    /* A plain connection: statements are finalised on release, so
     * sqlite3_close() finds none left. */
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(db_prepare(db, "SELECT 1", &a), 0);
    db_release(a);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void)
{
    char path[64];
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    static const char *const suffixes[] = {".db", ".db-wal", ".db-shm", NULL};
    for (int i = 0; suffixes[i]; i++) {
        snprintf(path, sizeof path, "%s/dupont%s", dir, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
