/*
 * backup.c — creating a backup (see backup.h). SQLite's online backup API for
 * the copy, libsodium for the SHA-256, jansson for the manifest, plain POSIX
 * for the files; backup_internal.h lists the module's other files.
 *
 * The order of every step is chosen so that a crash at any point leaves the
 * tenant's database whole and the backups folder without a half-written file
 * under a backup's name:
 *   create:  copy into "<name>.db.tmp" -> fsync -> manifest "<name>.json.tmp"
 *            -> fsync -> rename .db -> rename .json -> fsync folder
 * (the order of a restore is at the top of backup_restore.c).
 * What this file does not do: decide when to back up, stop the worker, list,
 * prune (backup_list.c), verify or restore (backup_restore.c).
 */
#include "backup.h"
#include "backup_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bounded retries for SQLITE_BUSY/LOCKED: a checkpoint or a recovery by the
 * worker can hold a lock briefly; a minute-long lock is a real problem. */
#define BUSY_DEADLINE_MS 30000
#define BUSY_SLEEP_MS 20
#define STEP_PAGES 256
#define MANIFEST_MAX (1024 * 1024)

/* The backups folder: created 0700 when missing, owned like the database.
 * A symlink there is refused: the folder lives inside the tenant's writable
 * data dir, and root must not be led to write elsewhere. */
static int prepare_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct stat st;
    int fd, ret;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        ret = -errno;
        util_seterr(err, errlen, "cannot create backups folder %s: %s", dir, strerror(-ret));
        return ret;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        util_seterr(err, errlen, "backups folder %s is not a plain folder: %s", dir,
                    strerror(-ret));
        return ret;
    }
    ret = 0;
    if (fstat(fd, &st) < 0)
        ret = -errno;
    else if (geteuid() == 0 && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        ret = -errno;
    else if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
        ret = -errno;
    close(fd);
    if (ret < 0)
        util_seterr(err, errlen, "cannot set owner and mode of %s: %s", dir, strerror(-ret));
    return ret;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run one statement that returns nothing useful, retrying while busy. */
static int exec_retry(sqlite3 *db, const char *sql)
{
    int64_t deadline = now_ms() + BUSY_DEADLINE_MS;
    int rc;

    for (;;) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        if (now_ms() > deadline)
            return rc;
        sqlite3_sleep(BUSY_SLEEP_MS);
    }
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Row counts of every table of db, for the manifest: an operator sees at a
 * glance whether a backup is the one with last week's invoices in it. */
static int table_counts(sqlite3 *db, json_t *tables, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                            "LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        char *sql;
        int64_t n = 0;

        if (name == NULL)
            continue;
        /* %w doubles the quotes inside a quoted identifier. */
        sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", name);
        if (sql == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        rc = query_int(db, sql, &n);
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
            break;
        json_object_set_new(tables, name, json_integer(n));
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        util_seterr(err, errlen, "cannot count the rows of the copy: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : backup_sqlite_errno(rc);
}

/*
 * The copy itself. The source is opened read-write (a read-only connection
 * cannot open a WAL database whose -shm is missing) and a read transaction is
 * held for the whole copy: the backup then reads one snapshot, and a write by
 * the worker in the meantime neither restarts the copy nor blocks.
 */
static int copy_db(const char *db_path, const char *tmp, json_t *manifest, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    json_t *tables = NULL;
    int64_t deadline, uv = 0;
    int rc, ret = 0;

    rc = sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot open database %s: %s", db_path,
                    src ? sqlite3_errmsg(src) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_busy_timeout(src, 5000);
    /* Closing the last connection would checkpoint the WAL into the database
     * file: a backup never writes to the tenant's database. */
    sqlite3_db_config(src, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    rc = exec_retry(src, "BEGIN");
    if (rc == SQLITE_OK)
        rc = exec_retry(src, "SELECT count(*) FROM sqlite_schema");
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot read database %s: %s", db_path, sqlite3_errmsg(src));
        goto out;
    }
    rc = sqlite3_open_v2(tmp, &dst,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot create %s: %s", tmp,
                    dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
        goto out;
    }
    /* The temporary copy needs no journal: on failure it is deleted. */
    sqlite3_exec(dst, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL, NULL);
    b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        ret = -EIO;
        util_seterr(err, errlen, "cannot start the backup of %s: %s", db_path, sqlite3_errmsg(dst));
        goto out;
    }
    deadline = now_ms() + BUSY_DEADLINE_MS;
    for (;;) {
        rc = sqlite3_backup_step(b, STEP_PAGES);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK)
            continue;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && now_ms() < deadline) {
            sqlite3_sleep(BUSY_SLEEP_MS);
            continue;
        }
        break;
    }
    if (rc != SQLITE_DONE) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "copying %s failed: %s", db_path, sqlite3_errstr(rc));
        goto out;
    }
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "copying %s failed: %s", db_path, sqlite3_errmsg(dst));
        goto out;
    }
    /* The copy carries the source's WAL flag in its header; a backup is one
     * self-contained file, so it goes back to rollback-journal mode. */
    rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = query_int(dst, "PRAGMA user_version", &uv);
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot finish the copy %s: %s", tmp, sqlite3_errmsg(dst));
        goto out;
    }
    tables = json_object();
    if (tables == NULL) {
        ret = -ENOMEM;
        util_seterr(err, errlen, "out of memory");
        goto out;
    }
    ret = table_counts(dst, tables, err, errlen);
    if (ret < 0)
        goto out;
    json_object_set_new(manifest, "schema_version", json_integer(uv));
    json_object_set(manifest, "tables", tables);
out:
    if (b != NULL)
        sqlite3_backup_finish(b);
    json_decref(tables);
    if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && ret == 0) {
        ret = -EIO;
        util_seterr(err, errlen, "cannot close the copy %s", tmp);
    }
    if (src != NULL) {
        sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(src);
    }
    return ret;
}

static void remove_quiet(const char *path)
{
    char side[PATH_MAX];

    unlink(path);
    for (int i = 0; i < SIDE_FILES; i++)
        if (util_path_fmt(side, sizeof(side), "%s%s", path, backup_side_suffix[i]) == 0)
            unlink(side);
}

/* Write the manifest next to the copy, to a temporary name. */
static int write_manifest(const char *path, json_t *m, uid_t uid, gid_t gid, char *err,
                          size_t errlen)
{
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    size_t len, off = 0;
    int fd, ret = 0;

    if (text == NULL) {
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    len = strlen(text);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (ret == 0 && write(fd, "\n", 1) != 1)
        ret = errno ? -errno : -EIO;
    if (ret == 0)
        ret = backup_set_owner_mode(fd, uid, gid, 0600);
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret < 0)
        unlink(path);
out:
    if (ret < 0)
        util_seterr(err, errlen, "cannot write manifest %s: %s", path, strerror(-ret));
    free(text);
    return ret;
}

int backup_create(const char *db_path, const char *backup_dir, const char *tenant_id,
                  char *out_path, size_t n, char *err, size_t errlen)
{
    char stamp[32], iso[32], name[128], final[PATH_MAX], tmp[PATH_MAX];
    char mfinal[PATH_MAX], mtmp[PATH_MAX], hex[65];
    struct stat st;
    json_t *m = NULL;
    time_t now = time(NULL);
    int64_t size = 0;
    int fd = -1, ret, seq;

    if (out_path != NULL && n > 0)
        out_path[0] = '\0';
    if (stat(db_path, &st) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot back up %s: %s", db_path, strerror(-ret));
        return ret;
    }
    ret = prepare_dir(backup_dir, st.st_uid, st.st_gid, err, errlen);
    if (ret < 0)
        return ret;

    /* Reserve a name: the temporary file is created exclusively, so two
     * backups started in the same second never write to the same file. */
    backup_utc_stamp(now, stamp);
    for (seq = 0; seq < 100; seq++) {
        if (seq == 0)
            ret = util_path_fmt(name, sizeof(name), "%s-%s", tenant_id, stamp);
        else
            ret = util_path_fmt(name, sizeof(name), "%s-%s-%d", tenant_id, stamp, seq);
        if (ret == 0)
            ret = util_path_fmt(final, sizeof(final), "%s/%s.db", backup_dir, name);
        if (ret == 0)
            ret = util_path_fmt(tmp, sizeof(tmp), "%s.tmp", final);
        if (ret == 0)
            ret = util_path_fmt(mfinal, sizeof(mfinal), "%s/%s.json", backup_dir, name);
        if (ret == 0)
            ret = util_path_fmt(mtmp, sizeof(mtmp), "%s.tmp", mfinal);
        if (ret < 0) {
            util_seterr(err, errlen, "backup path too long in %s", backup_dir);
            return ret;
        }
        if (access(final, F_OK) == 0 || access(mfinal, F_OK) == 0)
            continue;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        ret = seq >= 100 ? -EEXIST : -errno;
        util_seterr(err, errlen, "cannot create a backup file in %s: %s", backup_dir,
                    strerror(-ret));
        return ret;
    }
    close(fd);

    m = json_object();
    if (m == NULL) {
        ret = -ENOMEM;
        util_seterr(err, errlen, "out of memory");
        goto fail;
    }
    ret = copy_db(db_path, tmp, m, err, errlen);
    if (ret < 0)
        goto fail;
    fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        ret = -errno;
    } else {
        ret = backup_set_owner_mode(fd, st.st_uid, st.st_gid, 0600);
        if (ret == 0 && fsync(fd) < 0)
            ret = -errno;
        close(fd);
    }
    if (ret == 0)
        ret = backup_sha256_file(tmp, hex, &size);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot finish %s: %s", tmp, strerror(-ret));
        goto fail;
    }
    backup_iso_time(now, iso);
    json_object_set_new(m, "format", json_integer(BACKUP_FORMAT));
    json_object_set_new(m, "tenant", json_string(tenant_id));
    json_object_set_new(m, "created", json_string(iso));
    json_object_set_new(m, "created_unix", json_integer((json_int_t)now));
    json_object_set_new(m, "file", json_string(backup_base_name(final)));
    json_object_set_new(m, "size", json_integer(size));
    json_object_set_new(m, "sha256", json_string(hex));
    json_object_set_new(m, "sqlite_version", json_string(sqlite3_libversion()));
    json_object_set_new(m, "source", json_string(backup_base_name(db_path)));
    ret = write_manifest(mtmp, m, st.st_uid, st.st_gid, err, errlen);
    if (ret < 0)
        goto fail;
    if (rename(tmp, final) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot rename %s: %s", tmp, strerror(-ret));
        unlink(mtmp);
        goto fail;
    }
    if (rename(mtmp, mfinal) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot rename %s: %s", mtmp, strerror(-ret));
        unlink(mtmp);
        unlink(final);
        goto fail_m;
    }
    ret = backup_fsync_dir(backup_dir);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot sync folder %s: %s", backup_dir, strerror(-ret));
        goto fail_m;
    }
    json_decref(m);
    if (out_path != NULL && n > 0 && util_path_fmt(out_path, n, "%s", final) < 0) {
        util_seterr(err, errlen, "backup path does not fit the caller's buffer");
        return -ENAMETOOLONG;
    }
    return 0;
fail:
    remove_quiet(tmp);
fail_m:
    json_decref(m);
    return ret;
}
