/*
 * worker/db.c (unit) — the SQLite store (store_sqlite.c) as db_open() makes it: a statement
 * released is the one handed out next time for the same SQL text (whatever buffer holds the text),
 * a statement still in use is never shared, releasing resets it (no read lock left behind, no stale
 * binding), plain connections are not cached, and db_close() leaves nothing behind (ASan's leak
 * check).
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
#include "store_sqlite.h"

static char dir[] = "/tmp/worker_db.XXXXXX";

static void test_cache(void **state)
{
    struct wenv e;
    struct store *db = NULL, *plain;
    sqlite3 *h;
    struct store_stmt *a, *b, *c;
    char err[256], sql[64];
    (void)state;

    memset(&e, 0, sizeof e);
    e.data_dir = dir;
    e.client_id = "dupont";
    assert_int_equal(db_open(&e, &db, err, sizeof err), 0);
    assert_int_equal(store_kind(db), STORE_SQLITE);
    assert_false(store_offload(db));

    assert_int_equal(store_prepare(db, "SELECT ?1 + 1", &a), 0);
    store_bind_int64(a, 1, 41);
    assert_int_equal(store_step(a), STORE_ROW);
    assert_int_equal(store_column_int64(a, 0), 42);
    /* In use: the same SQL gets another statement. */
    assert_int_equal(store_prepare(db, "SELECT ?1 + 1", &b), 0);
    assert_ptr_not_equal(a, b);
    store_release(b); /* not cached: finalised */
    store_release(a);

    /* The same text from a stack buffer finds the cached statement, reset
     * and with its bindings cleared (NULL + 1 is NULL). */
    snprintf(sql, sizeof sql, "SELECT ?%d + 1", 1);
    assert_int_equal(store_prepare(db, sql, &c), 0);
    assert_ptr_equal(c, a);
    assert_int_equal(store_step(c), STORE_ROW);
    assert_null(store_column_text(c, 0));
    store_release(c);

    /* A UNIQUE refusal is told apart from other errors. */
    assert_int_equal(store_exec(db, "CREATE TABLE t (k TEXT UNIQUE)"), 0);
    assert_int_equal(store_prepare(db, "INSERT INTO t VALUES (?1)", &a), 0);
    store_bind_text(a, 1, "x");
    assert_int_equal(store_step(a), STORE_DONE);
    assert_int_equal(store_changes(a), 1);
    store_reset(a);
    assert_int_equal(store_step(a), -EEXIST);
    store_release(a);

    assert_int_equal(store_begin_write(db), 0);
    assert_true(store_in_txn(db));
    assert_int_equal(store_exec(db, "COMMIT"), 0);
    assert_int_equal(db_read_begin(db), 0);
    db_read_end(db);
    assert_false(store_in_txn(db));
    assert_int_equal(db_ping(db), 0);
    assert_int_equal(store_prepare(db, "SELECT nope FROM nowhere", &a), -EIO);
    assert_null(a);
    db_close(db);

    /* A plain connection: statements are finalised on release, so
     * sqlite3_close() finds none left. */
    assert_int_equal(sqlite3_open(":memory:", &h), SQLITE_OK);
    plain = store_sqlite_wrap(h, 0);
    assert_non_null(plain);
    assert_int_equal(store_prepare(plain, "SELECT 1", &a), 0);
    store_release(a);
    store_close(plain);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
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
