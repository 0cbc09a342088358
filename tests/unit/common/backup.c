/*
 * common/backup.c (unit) — unit tests of common/backup.c on real SQLite files in a
 * temporary folder: create and verify, tampering, wrong tenant, names and
 * pruning, restore (with a -wal left by a killed writer) and its undo, the
 * refusal to restore under an open database, and a backup taken while another
 * connection writes in a loop.
 *
 * Processes that must hold the database open are forked children: POSIX
 * locks are per process, so a connection in this process would be invisible
 * to backup_db_in_use (and closing its fd would drop that connection's locks).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "backup.h"

struct fixture {
    char dir[256];
    char db[300];
    char bdir[300];
};

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sql failed: %s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static int64_t query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void insert_rows(const char *path, int n)
{
    char sql[256];

    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO invoices(numero, amount) VALUES "
                 "('2026-' || (SELECT count(*) + 1 FROM invoices), %d)",
                 i * 100);
        run_sql(path, sql);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/backup-test-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/dupont.db", f->dir);
    snprintf(f->bdir, sizeof(f->bdir), "%s/backups", f->dir);
    run_sql(f->db, "PRAGMA journal_mode = WAL;"
                   "CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT UNIQUE);"
                   "CREATE TABLE invoices(id INTEGER PRIMARY KEY, numero TEXT UNIQUE, amount INT);"
                   "CREATE TABLE \"odd\"\"name\"(x);"
                   "INSERT INTO users(username) VALUES ('admin'), ('lawyer');"
                   "PRAGMA user_version = 3;");
    insert_rows(f->db, 10);
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

static void manifest_of(const char *db, char *out, size_t n)
{
    size_t len = strlen(db);

    assert_true(len > 3);
    snprintf(out, n, "%.*s.json", (int)(len - 3), db);
}

static void test_create_verify(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512], mpath[4200];
    struct stat st;
    json_t *m;

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)),
                     0);
    assert_non_null(strstr(path, "/backups/dupont-"));
    assert_int_equal(stat(f->bdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), 0);

    manifest_of(path, mpath, sizeof(mpath));
    m = json_load_file(mpath, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "tenant")), "dupont");
    assert_int_equal(json_integer_value(json_object_get(m, "schema_version")), 3);
    assert_int_equal(json_integer_value(json_object_get(m, "size")), st.st_size);
    assert_int_equal(strlen(json_string_value(json_object_get(m, "sha256"))), 64);
    assert_string_equal(json_string_value(json_object_get(m, "sqlite_version")),
                        sqlite3_libversion());
    json_t *tables = json_object_get(m, "tables");
    assert_int_equal(json_integer_value(json_object_get(tables, "invoices")), 10);
    assert_int_equal(json_integer_value(json_object_get(tables, "users")), 2);
    assert_int_equal(json_integer_value(json_object_get(tables, "odd\"name")), 0);
    json_decref(m);

    /* The copy is self-contained: no WAL flag, so nothing appears beside it. */
    unsigned char hdr[20];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
    fclose(fp);
    assert_int_equal(hdr[18], 1);
    assert_int_equal(hdr[19], 1);
    assert_int_equal(query(path, "SELECT count(*) FROM invoices"), 10);
    char side[4200];
    snprintf(side, sizeof(side), "%s-wal", path);
    assert_int_equal(access(side, F_OK), -1);
    /* Reading it did not change a byte. */
    assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), 0);
}

static void test_missing_db(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512], nodb[400];

    snprintf(nodb, sizeof(nodb), "%s/nobody.db", f->dir);
    assert_int_equal(backup_create(nodb, f->bdir, "nobody", path, sizeof(path), err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "nobody.db"));
}

static void test_tamper(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512];
    FILE *fp;
    int c;

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)),
                     0);
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 3000, SEEK_SET), 0);
    c = fgetc(fp);
    assert_int_equal(fseek(fp, 3000, SEEK_SET), 0);
    fputc(c ^ 0x5a, fp);
    fclose(fp);
    assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "checksum mismatch"));
}

static void test_wrong_tenant_and_no_manifest(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512], mpath[4200], db2[400];

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)),
                     0);
    assert_int_equal(backup_verify(path, "martin", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "belongs to tenant \"dupont\""));
    /* A restore of another firm's backup is refused before anything moves. */
    snprintf(db2, sizeof(db2), "%s/martin.db", f->dir);
    assert_int_equal(backup_restore(db2, path, "martin", NULL, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(access(db2, F_OK), -1);

    manifest_of(path, mpath, sizeof(mpath));
    assert_int_equal(unlink(mpath), 0);
    assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "manifest"));
}

static void test_parse_name(void **state)
{
    time_t t = 0;
    int seq = -1;

    (void)state;
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z.db", "dupont", &t, &seq), 1);
    assert_int_equal(t, 1767323045);
    assert_int_equal(seq, 0);
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z-7.db", "dupont", &t, &seq), 1);
    assert_int_equal(seq, 7);
    /* Another tenant whose id starts with this one's is not this one's. */
    assert_int_equal(backup_parse_name("dupont-fils-20260102T030405Z.db", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z.json", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z.db.tmp", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont-20261302T030405Z.db", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z-0.db", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont-20260102T030405Z-.db", "dupont", &t, &seq), 0);
    assert_int_equal(backup_parse_name("dupont.db", "dupont", &t, &seq), 0);
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fclose(fp);
}

static void test_prune(void **state)
{
    struct fixture *f = *state;
    char path[5][4096], err[512], other[400];
    struct backup_info *v = NULL;
    size_t n = 0;
    int removed = -1;

    for (int i = 0; i < 5; i++)
        assert_int_equal(
            backup_create(f->db, f->bdir, "dupont", path[i], sizeof(path[i]), err, sizeof(err)), 0);
    /* Files of another tenant and foreign files in the same folder are left alone. */
    snprintf(other, sizeof(other), "%s/dupont-fils-20200101T000000Z.db", f->bdir);
    touch(other);
    snprintf(other, sizeof(other), "%s/notes.txt", f->bdir);
    touch(other);

    assert_int_equal(backup_list(f->bdir, "dupont", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 5);
    assert_string_equal(v[0].path, path[4]);
    assert_int_equal(v[0].has_manifest, 1);
    assert_int_equal(v[0].schema_version, 3);
    free(v);

    assert_int_equal(backup_prune(f->bdir, "dupont", 2, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(backup_list(f->bdir, "dupont", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].path, path[4]);
    assert_string_equal(v[1].path, path[3]);
    free(v);
    for (int i = 0; i < 3; i++) {
        char mpath[4200];
        assert_int_equal(access(path[i], F_OK), -1);
        manifest_of(path[i], mpath, sizeof(mpath));
        assert_int_equal(access(mpath, F_OK), -1);
    }
    snprintf(other, sizeof(other), "%s/dupont-fils-20200101T000000Z.db", f->bdir);
    assert_int_equal(access(other, F_OK), 0);

    /* keep 0 still keeps the newest one. */
    assert_int_equal(backup_prune(f->bdir, "dupont", 0, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(access(path[4], F_OK), 0);
}

/* A child that writes rows and dies without closing: its committed rows
 * stay in the -wal file only, as after a kill -9 of the worker. */
static void write_then_die(const char *db_path, int rows)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        if (sqlite3_open(db_path, &db) != SQLITE_OK)
            _exit(1);
        sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
        for (int i = 0; i < rows; i++)
            if (sqlite3_exec(db,
                             "INSERT INTO invoices(numero, amount) VALUES "
                             "('2026-' || (SELECT count(*) + 1 FROM invoices), 1)",
                             NULL, NULL, NULL) != SQLITE_OK)
                _exit(2);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_restore_and_undo(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512], aside[4096], side[4200];
    struct stat st;

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)),
                     0);
    assert_int_equal(chmod(f->db, 0640), 0);
    write_then_die(f->db, 7);
    snprintf(side, sizeof(side), "%s-wal", f->db);
    assert_int_equal(access(side, F_OK), 0);

    assert_int_equal(backup_restore(f->db, path, "dupont", aside, sizeof(aside), err, sizeof(err)),
                     0);
    assert_non_null(strstr(aside, "dupont.db.before-restore-"));
    /* The -wal of the old database went aside with it, not onto the copy. */
    assert_int_equal(access(side, F_OK), -1);
    snprintf(side, sizeof(side), "%s-wal", aside);
    assert_int_equal(access(side, F_OK), 0);
    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(query(f->db, "SELECT count(*) FROM invoices"), 10);
    assert_int_equal(query(f->db, "PRAGMA user_version"), 3);
    /* Nothing acknowledged before the restore is lost: it is aside, whole. */
    assert_int_equal(query(aside, "SELECT count(*) FROM invoices"), 17);

    assert_int_equal(backup_unrestore(f->db, aside, err, sizeof(err)), 0);
    assert_int_equal(query(f->db, "SELECT count(*) FROM invoices"), 17);
    assert_int_equal(query(f->db, "PRAGMA integrity_check") != -1, 1);
    assert_int_equal(access(aside, F_OK), -1);
}

static void test_restore_refused_while_open(void **state)
{
    struct fixture *f = *state;
    char path[4096], err[512];
    int to_child[2], from_child[2], status;
    char c;
    pid_t pid;

    assert_int_equal(backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)),
                     0);
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        close(to_child[1]);
        close(from_child[0]);
        if (sqlite3_open(f->db, &db) != SQLITE_OK ||
            sqlite3_exec(db, "SELECT count(*) FROM invoices", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(from_child[1], "r", 1) != 1 || read(to_child[0], &c, 1) < 0)
            _exit(2);
        sqlite3_close(db);
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    assert_int_equal(read(from_child[0], &c, 1), 1);
    assert_int_equal(backup_db_in_use(f->db), 1);
    assert_int_equal(backup_restore(f->db, path, "dupont", NULL, 0, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "worker"));
    assert_int_equal(write(to_child[1], "q", 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(to_child[1]);
    close(from_child[0]);
    assert_int_equal(backup_db_in_use(f->db), 0);
}

/* ---- a backup while another connection writes in a loop ----------------------- */

struct writer {
    const char *db;
    volatile int stop;
    volatile int64_t committed; /* highest id known committed */
    int failed;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    if (sqlite3_open(w->db, &db) != SQLITE_OK) {
        w->failed = 1;
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db, "INSERT INTO invoices(numero, amount) VALUES (?, 1)", -1, &st,
                           NULL) != SQLITE_OK) {
        w->failed = 1;
        sqlite3_close(db);
        return NULL;
    }
    for (int64_t i = 0; !w->stop && i < 2000000; i++) {
        char num[32];
        snprintf(num, sizeof(num), "w-%lld", (long long)i);
        sqlite3_bind_text(st, 1, num, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) {
            w->failed = 1;
            break;
        }
        sqlite3_reset(st);
        __atomic_store_n(&w->committed, sqlite3_last_insert_rowid(db), __ATOMIC_SEQ_CST);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

static void test_backup_while_writing(void **state)
{
    struct fixture *f = *state;
    struct writer w = {.db = f->db};
    char path[4096], err[512], sql[128];
    pthread_t th;

    /* Make the database big enough that the copy takes many steps. */
    run_sql(f->db, "CREATE TABLE blobs(b); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT "
                   "i + 1 FROM c WHERE i < 3000) INSERT INTO blobs SELECT randomblob(2000) FROM c");
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    for (int i = 0; i < 3; i++) {
        int64_t before;
        /* Let the writer get going, then note what is surely committed. */
        while (__atomic_load_n(&w.committed, __ATOMIC_SEQ_CST) < 50 * (i + 1) && !w.failed)
            sched_yield();
        before = __atomic_load_n(&w.committed, __ATOMIC_SEQ_CST);
        assert_int_equal(
            backup_create(f->db, f->bdir, "dupont", path, sizeof(path), err, sizeof(err)), 0);
        assert_int_equal(backup_verify(path, "dupont", err, sizeof(err)), 0);
        /* Every row committed before the backup started is in it, and the
         * copy is one snapshot: ids are contiguous, no torn transaction. */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM invoices WHERE id <= %lld",
                 (long long)before);
        assert_int_equal(query(path, sql), before);
        assert_int_equal(query(path, "SELECT max(id) - count(*) FROM invoices"), 0);
        assert_int_equal(query(path, "SELECT count(*) FROM blobs"), 3000);
    }
    w.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_tenant_and_no_manifest, setup, teardown),
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_and_undo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_refused_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_while_writing, setup, teardown),
    };
    return cmocka_run_group_tests_name("common_backup", tests, NULL, NULL);
}
