/*
 * backup_import.c — backup_import (backup.h): a backup fetched from an
 * off-site copy put into a tenant's backups folder. It lands verified and
 * 0600; the same bytes already there are kept; other bytes under that name,
 * a symlink as the folder or a symlink as the source are refused.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sqlite3.h>

#include "backup.h"

struct fixture {
    char dir[256];
    char db[300];      /* the tenant's database */
    char fetched[300]; /* where the off-site copy was restored */
    char bdir[300];    /* the tenant's backups folder */
    char src[600];     /* the fetched backup */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    sqlite3 *db = NULL;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/backup-import-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/dupont.db", f->dir);
    snprintf(f->fetched, sizeof(f->fetched), "%s/fetched", f->dir);
    snprintf(f->bdir, sizeof(f->bdir), "%s/backups", f->dir);
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    assert_int_equal(
        backup_create(f->db, f->fetched, "dupont", f->src, sizeof(f->src), err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void test_import_then_verify(void **state)
{
    struct fixture *f = *state;
    char out[700], err[256] = "";
    struct stat st;

    assert_int_equal(backup_import(f->src, f->bdir, f->db, out, sizeof(out), err, sizeof(err)), 0);
    assert_int_equal(backup_verify(out, "dupont", err, sizeof(err)), 0);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->bdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* Again: the same bytes are there, kept. */
    assert_int_equal(backup_import(f->src, f->bdir, f->db, out, sizeof(out), err, sizeof(err)), 0);

    /* Other bytes under that name: refused, and left as they are. */
    int fd = open(out, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_int_equal(backup_import(f->src, f->bdir, f->db, out, sizeof(out), err, sizeof(err)),
                     -EEXIST);
    assert_non_null(strstr(err, "other content"));
}

static void test_symlinks_are_refused(void **state)
{
    struct fixture *f = *state;
    char out[700], err[256] = "", link[400];

    /* The backups folder swapped for a symlink to another folder. */
    assert_int_equal(symlink(f->fetched, f->bdir), 0);
    assert_true(backup_import(f->src, f->bdir, f->db, out, sizeof(out), err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "not a plain folder"));
    assert_int_equal(unlink(f->bdir), 0);

    /* A symlink as the fetched file. */
    snprintf(link, sizeof(link), "%s/dupont-20260101T000000Z.db", f->dir);
    assert_int_equal(symlink(f->src, link), 0);
    assert_true(backup_import(link, f->bdir, f->db, out, sizeof(out), err, sizeof(err)) < 0);
    assert_int_equal(access(out, F_OK), -1);

    /* Not a backup name at all. */
    assert_int_equal(backup_import(f->dir, f->bdir, f->db, out, sizeof(out), err, sizeof(err)),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_then_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
