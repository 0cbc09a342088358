/*
 * tenantd/backup_sched.c — unit tests of supervisor/tenantd/backup_sched.c on a real
 * libuv loop, with a fake supervisor (the sup.h functions it calls) and real
 * SQLite files in a temporary folder: on-demand backups, the schedule (due,
 * unchanged tenants skipped, pruning to keep), and stopping with work queued.
 *
 * The module is compiled into this test directly (#include of the .c), so it
 * runs against the fake sup_* below instead of tenantd's supervisor; that is
 * why this binary is in the Makefile's UNIT_ALONE and links only libcommon.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

/* backup_create, seen from the scheduler, goes through test_backup_create,
 * which can hold one tenant's backup on a pipe: a stand-in for a pool thread
 * stuck on a FIFO a tenant swapped in under SQLite. */
#define backup_create test_backup_create
#include "../../../supervisor/tenantd/backup_sched.c"
#undef backup_create

int backup_create(const char *db_path, const char *backup_dir, const char *tenant_id,
                  char *out_path, size_t n, char *err, size_t errlen);

static const char *block_id;
static int block_pipe[2] = {-1, -1};

int test_backup_create(const char *db_path, const char *backup_dir, const char *tenant_id,
                       char *out_path, size_t n, char *err, size_t errlen)
{
    if (block_id != NULL && strcmp(block_id, tenant_id) == 0) {
        char c;
        while (read(block_pipe[0], &c, 1) < 0 && errno == EINTR)
            ;
    }
    return backup_create(db_path, backup_dir, tenant_id, out_path, n, err, errlen);
}

/* pg_stats.c's last sample, faked: the database's size on the server. */
static int64_t fake_pg_size = -1;

void pg_stats_get(const char *id, int64_t *size, int *conns, const char **state)
{
    (void)id;
    *size = fake_pg_size;
    *conns = -1;
    *state = fake_pg_size >= 0 ? "ok" : "";
}

/* ---- the fake supervisor ------------------------------------------------------ */

static const char *fake_ids[] = {"dupont", "martin"};
static struct config fake_config;

size_t sup_tenant_count(const struct sup *s)
{
    (void)s;
    return 2;
}

int sup_tenant_view(const struct sup *s, size_t i, struct tenant_view *out)
{
    (void)s;
    if (i >= 2)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", fake_ids[i]);
    return 0;
}

int sup_tenant_find(const struct sup *s, const char *id, struct tenant_view *out)
{
    for (size_t i = 0; i < 2; i++)
        if (strcmp(fake_ids[i], id) == 0)
            return sup_tenant_view(s, i, out);
    return -ENOENT;
}

int sup_tenant_brief(const struct sup *s, size_t i, struct tenant_brief *out)
{
    (void)s;
    if (i >= 2)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->id = fake_ids[i];
    out->name = out->plan = out->subdomain = "";
    return 0;
}

/* The off-site copy after each backup (offsite.c) is not under test here. */
void offsite_copy(const struct config_global *g, const char *id, const char *path)
{
    (void)g;
    (void)id;
    (void)path;
}

const struct config *sup_config(const struct sup *s)
{
    (void)s;
    return &fake_config;
}

/* ---- helpers ---------------------------------------------------------------- */

static char tmpdir[256];

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void db_path(const char *id, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s.db", tmpdir, id, id);
}

static void bdir_path(const char *id, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/backups", tmpdir, id);
}

static size_t count_backups(const char *id)
{
    struct backup_info *v = NULL;
    size_t n = 0;
    char dir[512];

    bdir_path(id, dir, sizeof(dir));
    assert_int_equal(backup_list(dir, id, &v, &n, NULL, 0), 0);
    free(v);
    return n;
}

static int setup(void **state)
{
    const char *t = getenv("TMPDIR");
    char path[512];

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/backup-sched-XXXXXX", t ? t : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
    memset(&fake_config, 0, sizeof(fake_config));
    snprintf(fake_config.g.data_dir, sizeof(fake_config.g.data_dir), "%s", tmpdir);
    fake_config.g.backup_every_ms = 0;
    fake_config.g.backup_keep = 2;
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, fake_ids[i]);
        assert_int_equal(mkdir(path, 0700), 0);
        db_path(fake_ids[i], path, sizeof(path));
        run_sql(path, "PRAGMA journal_mode = WAL; CREATE TABLE invoices(id INTEGER PRIMARY KEY, "
                      "n TEXT); INSERT INTO invoices(n) VALUES ('2026-1');");
        /* Written "earlier", so a backup made now is newer than the data. */
        struct timeval past[2] = {{time(NULL) - 10, 0}, {time(NULL) - 10, 0}};
        assert_int_equal(utimes(path, past), 0);
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return 0;
}

struct result {
    int calls;
    int rc;
    char text[4096];
};

static void on_done(int rc, const char *path_or_error, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->rc = rc;
    snprintf(r->text, sizeof(r->text), "%s", path_or_error);
}

static void on_stopped(void *arg)
{
    *(int *)arg = 1;
}

static void nothing(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until *flag becomes nonzero, for at most ms milliseconds. */
static void run_until(uv_loop_t *loop, volatile int *flag, int ms)
{
    uint64_t deadline = uv_now(loop) + (uint64_t)ms;
    uv_timer_t guard;

    /* A referenced timer keeps uv_run from returning early while a job runs. */
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, nothing, 50, 50);
    while (!*flag && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void stop_and_drain(uv_loop_t *loop, struct backup_sched *bs)
{
    int stopped = 0;

    backup_sched_stop(bs, on_stopped, &stopped);
    run_until(loop, &stopped, 10000);
    assert_int_equal(stopped, 1);
    assert_int_equal(uv_run(loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_on_demand(void **state)
{
    uv_loop_t loop;
    struct backup_sched *bs = NULL;
    struct result r = {0}, bad = {0};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(backup_sched_start(&loop, NULL, &bs), 0);
    assert_int_equal(backup_sched_now(bs, "nobody", on_done, &bad), -ENOENT);
    assert_int_equal(backup_sched_now(bs, "dupont", on_done, &r), 0);
    /* Never called from inside backup_sched_now. */
    assert_int_equal(r.calls, 0);
    run_until(&loop, &r.calls, 10000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.text, "/dupont/backups/dupont-"));
    assert_int_equal(backup_verify(r.text, "dupont", NULL, 0), 0);
    assert_int_equal(count_backups("martin"), 0);
    assert_int_equal(bad.calls, 0);
    stop_and_drain(&loop, bs);
}

/* Slots: stable, within the period, the latest one at or before now, and
 * spread: 10,000 ids fill every tenth of a day about evenly. */
static void test_slots_spread_over_the_period(void **state)
{
    const int64_t day = 24 * 3600 * 1000LL, now = 1700000000000LL;
    int tenth[10] = {0};
    (void)state;
    for (int i = 0; i < 10000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%05d", i);
        int64_t s = backup_slot_ms(id, day, now);
        assert_true(s <= now && s > now - day);
        assert_int_equal(backup_slot_ms(id, day, s), s);
        assert_int_equal(backup_slot_ms(id, day, s + day - 1), s);
        assert_int_equal(backup_slot_ms(id, day, s + day), s + day);
        tenth[(now - s) * 10 / day]++;
    }
    for (int k = 0; k < 10; k++)
        assert_true(tenth[k] > 850 && tenth[k] < 1150);
}

static void test_schedule_skips_unchanged_and_prunes(void **state)
{
    uv_loop_t loop;
    struct backup_sched *bs = NULL;
    char path[512], dir[512];
    int never = 0;

    (void)state;
    fake_config.g.backup_every_ms = 100;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(backup_sched_start(&loop, NULL, &bs), 0);
    /* The first round backs up both tenants. */
    for (int i = 0; i < 100 && (count_backups("dupont") < 1 || count_backups("martin") < 1); i++)
        run_until(&loop, &never, 100);
    assert_int_equal(count_backups("dupont"), 1);
    assert_int_equal(count_backups("martin"), 1);

    /* Only the tenant whose database changed is backed up again; keep = 2. */
    db_path("dupont", path, sizeof(path));
    bdir_path("dupont", dir, sizeof(dir));
    for (int round = 0; round < 3; round++) {
        struct backup_info *v = NULL;
        size_t n = 0;
        char before[128];

        assert_int_equal(backup_list(dir, "dupont", &v, &n, NULL, 0), 0);
        assert_true(n > 0);
        snprintf(before, sizeof(before), "%s", v[0].name);
        free(v);
        /* Names and the scheduler's "changed since" test have one-second
         * resolution. Two seconds after the previous backup, write, then date
         * the write one second back: it is newer than the previous backup and
         * older than the next, so exactly one new backup is due, whatever
         * second the scheduler happens to run in. */
        sleep(2);
        run_sql(path, "INSERT INTO invoices(n) VALUES ('next')");
        struct timeval just_before[2] = {{time(NULL) - 1, 0}, {time(NULL) - 1, 0}};
        assert_int_equal(utimes(path, just_before), 0);
        char wal[600];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        if (utimes(wal, just_before) < 0)
            assert_int_equal(errno, ENOENT); /* the last close checkpointed it away */
        for (int i = 0; i < 100; i++) {
            int fresh;
            backup_list(dir, "dupont", &v, &n, NULL, 0);
            fresh = n > 0 && strcmp(v[0].name, before) != 0 && v[0].has_manifest;
            free(v);
            if (fresh)
                break;
            run_until(&loop, &never, 100);
        }
        assert_int_equal(count_backups("dupont"), 2);
    }
    assert_int_equal(count_backups("martin"), 1);
    fake_config.g.backup_every_ms = 0;
    stop_and_drain(&loop, bs);
}

static void test_stop_cancels_queued(void **state)
{
    uv_loop_t loop;
    struct backup_sched *bs = NULL;
    struct result r[3] = {{0}};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(backup_sched_start(&loop, NULL, &bs), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(backup_sched_now(bs, i == 1 ? "martin" : "dupont", on_done, &r[i]), 0);
    stop_and_drain(&loop, bs);
    /* The first was running and finished; the others were cancelled. */
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[0].rc, 0);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].rc, -ECANCELED);
        assert_non_null(strstr(r[i].text, "stopping"));
    }
}

static void release_stuck(uv_loop_t *loop)
{
    int never = 0;

    assert_int_equal(write(block_pipe[1], "x", 1), 1);
    for (int i = 0; i < 100 && stuck_jobs > 0; i++)
        run_until(loop, &never, 50);
    assert_int_equal(stuck_jobs, 0);
    close(block_pipe[0]);
    close(block_pipe[1]);
    block_id = NULL;
}

/* One tenant's backup hangs: it fails with -ETIMEDOUT at its deadline, the
 * next tenant's backup runs, and the stuck one is freed when it returns. */
static void test_stuck_job_is_abandoned(void **state)
{
    uv_loop_t loop;
    struct backup_sched *bs = NULL;
    struct result r[2] = {{0}};

    (void)state;
    assert_int_equal(pipe(block_pipe), 0);
    block_id = "dupont";
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(backup_sched_start(&loop, NULL, &bs), 0);
    bs->timeout_ms = 300;
    assert_int_equal(backup_sched_now(bs, "dupont", on_done, &r[0]), 0);
    assert_int_equal(backup_sched_now(bs, "martin", on_done, &r[1]), 0);
    run_until(&loop, &r[1].calls, 10000);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[0].rc, -ETIMEDOUT);
    assert_non_null(strstr(r[0].text, "did not finish within"));
    assert_int_equal(r[1].rc, 0);
    assert_int_equal(count_backups("martin"), 1);
    assert_int_equal(backup_sched_stuck_jobs(), 1);
    release_stuck(&loop);
    assert_int_equal(r[0].calls, 1);
    stop_and_drain(&loop, bs);
}

/* Stopping with a stuck backup: done comes within STOP_WAIT_MS. */
static void test_stop_does_not_wait_for_a_stuck_job(void **state)
{
    uv_loop_t loop;
    struct backup_sched *bs = NULL;
    struct result r = {0};
    int stopped = 0;

    (void)state;
    assert_int_equal(pipe(block_pipe), 0);
    block_id = "dupont";
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(backup_sched_start(&loop, NULL, &bs), 0);
    assert_int_equal(backup_sched_now(bs, "dupont", on_done, &r), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    uint64_t t0 = uv_now(&loop);
    backup_sched_stop(bs, on_stopped, &stopped);
    run_until(&loop, &stopped, 10000);
    assert_int_equal(stopped, 1);
    assert_true(uv_now(&loop) - t0 < STOP_WAIT_MS + 1000);
    assert_int_equal(r.rc, -ETIMEDOUT);
    assert_int_equal(backup_sched_stuck_jobs(), 1);
    release_stuck(&loop);
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A PostgreSQL tenant's deadline follows pg_database_size, not an SQLite
 * file left in its data dir (by a migration). */
static void test_pg_deadline_from_database_size(void **state)
{
    (void)state;
    struct backup_sched bs = {0};
    struct job j = {0};
    char dir[] = "/tmp/bsched-pg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(j.id, sizeof j.id, "dupont");
    snprintf(j.db, sizeof j.db, "%s/dupont.db", dir);
    int fd = open(j.db, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 400LL * 1024 * 1024), 0); /* sparse: 100 s as SQLite */
    close(fd);
    assert_int_equal(job_deadline_ms(&bs, &j), JOB_BASE_MS + 100 * 1000);
    j.pg = true;
    fake_pg_size = -1; /* no sample yet */
    assert_int_equal(job_deadline_ms(&bs, &j), JOB_PG_UNKNOWN_MS);
    fake_pg_size = 0;
    assert_int_equal(job_deadline_ms(&bs, &j), JOB_BASE_MS);
    fake_pg_size = 200LL * 1024 * 1024;
    assert_int_equal(job_deadline_ms(&bs, &j), JOB_BASE_MS + 100 * 1000);
    fake_pg_size = 100LL * 1024 * 1024 * 1024;
    assert_int_equal(job_deadline_ms(&bs, &j), JOB_MAX_MS);
    fake_pg_size = -1;
    unlink(j.db);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_deadline_from_database_size),
        cmocka_unit_test_setup_teardown(test_on_demand, setup, teardown),
        cmocka_unit_test(test_slots_spread_over_the_period),
        cmocka_unit_test_setup_teardown(test_schedule_skips_unchanged_and_prunes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_cancels_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_job_is_abandoned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_does_not_wait_for_a_stuck_job, setup, teardown),
    };
    return cmocka_run_group_tests_name("common_backup_sched", tests, NULL, NULL);
}
