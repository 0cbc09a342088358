/*
 * backup_hostile.c — the backup module against what a tenant can put in its
 * own data dir (it owns DATA_DIR and DATA_DIR/backups): FIFOs and symlinks
 * where manifests, backups, the backups folder or the database's side files
 * belong. Each call must answer at once (a FIFO never blocks it), refuse or
 * skip the thing, and never write through a symlink.
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
#include "safefile.h"

struct fixture {
    char dir[256];
    char db[300];
    char bdir[300];
    char elsewhere[300];
};

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/backup-hostile-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/dupont.db", f->dir);
    snprintf(f->bdir, sizeof(f->bdir), "%s/backups", f->dir);
    snprintf(f->elsewhere, sizeof(f->elsewhere), "%s/elsewhere", f->dir);
    assert_int_equal(mkdir(f->elsewhere, 0700), 0);
    run_sql(f->db, "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);");
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

static int count_entries(const char *dir)
{
    char cmd[400];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* The reported attack: a FIFO under a manifest's name, with a matching .db.
 * Listing and pruning answer at once; the fake backup has no manifest. */
static void test_fifo_manifest_does_not_block(void **state)
{
    struct fixture *f = *state;
    char path[600], out[600], err[512];
    struct backup_info *v = NULL;
    size_t n = 0;
    int removed = -1;

    assert_int_equal(mkdir(f->bdir, 0700), 0);
    snprintf(path, sizeof(path), "%s/dupont-20200102T000000Z.json", f->bdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/dupont-20200102T000000Z.db", f->bdir);
    run_sql(path, "CREATE TABLE t(x)");

    assert_int_equal(backup_list(f->bdir, "dupont", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].has_manifest, 0);
    free(v);
    assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", out, sizeof(out), err, sizeof(err)),
                     0);
    assert_int_equal(backup_verify(out, "dupont", err, sizeof(err)), 0);
    assert_int_equal(backup_prune(f->bdir, "dupont", 1, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 1);
}

/* A FIFO under a backup's own name is skipped, not opened. */
static void test_fifo_backup_is_skipped(void **state)
{
    struct fixture *f = *state;
    char path[600], err[512];
    struct backup_info *v = NULL;
    size_t n = 9;

    assert_int_equal(mkdir(f->bdir, 0700), 0);
    snprintf(path, sizeof(path), "%s/dupont-20200102T000000Z.db", f->bdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(backup_list(f->bdir, "dupont", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_not_equal(backup_verify(path, "dupont", err, sizeof(err)), 0);
}

/* backups/ swapped for a symlink to another folder: nothing is written
 * there, and the error says why. */
static void test_backups_symlink_is_refused(void **state)
{
    struct fixture *f = *state;
    char out[600], err[512];
    struct backup_info *v = NULL;
    size_t n = 0;

    assert_int_equal(symlink(f->elsewhere, f->bdir), 0);
    assert_int_equal(backup_create(f->db, f->bdir, "dupont", out, sizeof(out), err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not a plain folder"));
    assert_int_equal(count_entries(f->elsewhere), 0);
    assert_int_not_equal(backup_list(f->bdir, "dupont", &v, &n, err, sizeof(err)), 0);
    assert_int_not_equal(backup_prune(f->bdir, "dupont", 1, NULL, err, sizeof(err)), 0);
}

/* A symlink or a FIFO in place of the database or its side files: refused
 * before SQLite opens anything. */
static void test_db_side_files(void **state)
{
    struct fixture *f = *state;
    char side[600], out[600], err[512];

    snprintf(side, sizeof(side), "%s-shm", f->db);
    unlink(side);
    assert_int_equal(symlink("/etc/passwd", side), 0);
    assert_int_equal(backup_create(f->db, f->bdir, "dupont", out, sizeof(out), err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "-shm is not a regular file"));
    unlink(side);
    snprintf(side, sizeof(side), "%s-wal", f->db);
    unlink(side);
    assert_int_equal(mkfifo(side, 0600), 0);
    assert_int_equal(backup_create(f->db, f->bdir, "dupont", out, sizeof(out), err, sizeof(err)),
                     -EINVAL);
    unlink(side);
    assert_int_equal(rename(f->db, side), 0);
    assert_int_equal(symlink(side, f->db), 0);
    assert_int_equal(backup_create(f->db, f->bdir, "dupont", out, sizeof(out), err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
}

/* safefile itself: symlink, FIFO, size cap. */
static void test_safefile(void **state)
{
    struct fixture *f = *state;
    char path[600], link[600], *buf = NULL;
    size_t len = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/f", f->dir);
    snprintf(link, sizeof(link), "%s/l", f->dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    assert_int_equal(safefile_read(AT_FDCWD, path, 5, &buf, &len), 0);
    assert_string_equal(buf, "hello");
    free(buf);
    assert_int_equal(safefile_read(AT_FDCWD, path, 4, &buf, &len), -EFBIG);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(safefile_read(AT_FDCWD, link, 100, &buf, &len), -ELOOP);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(mkfifo(link, 0600), 0);
    assert_int_equal(safefile_read(AT_FDCWD, link, 100, &buf, &len), -EINVAL);
    assert_int_equal(safefile_open_dir(AT_FDCWD, link), -EINVAL);
    assert_string_equal(safefile_strerror(-ELOOP), "it is a symlink");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo_manifest_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_backup_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backups_symlink_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_side_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safefile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
