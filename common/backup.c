/*
 * backup.c — creating a backup (see backup.h). SQLite's online backup API for
 * the copy, libsodium for the SHA-256, jansson for the manifest, plain POSIX
 * for the files; backup_internal.h lists the module's other files.
 *
 * The order of every step is chosen so that a crash at any point leaves the
 * tenant's database whole and the backups folder without a half-written file
 * under a backup's name:
 *   create:  copy into memory -> write "<name>.db.tmp" -> fsync -> manifest
 *            "<name>.json.tmp" -> fsync -> rename .db -> rename .json -> fsync
 *            folder
 * The backups folder is inside the tenant's writable data dir: every step in
 * it goes through one fd of the folder opened without following a symlink
 * (openat, renameat, unlinkat with O_NOFOLLOW and O_EXCL), and SQLite never
 * writes there by path.
 * (the order of a restore is at the top of backup_restore.c).
 * What this file does not do: decide when to back up, stop the worker, list,
 * prune (backup_list.c), verify or restore (backup_restore.c).
 */
#include "backup.h"
#include "backup_internal.h"
#include "safefile.h"
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

/* The backups folder: created 0700 when missing, owned like the database,
 * and returned as an open fd that every later step works relative to. A
 * symlink there is refused: the folder lives inside the tenant's writable
 * data dir, and root must not be led to write elsewhere (the data dir itself
 * cannot be swapped: its parent is root's). */
int backup_prepare_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct stat st;
    int fd, ret;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        ret = -errno;
        util_seterr(err, errlen, "cannot create backups folder %s: %s", dir, strerror(-ret));
        return ret;
    }
    fd = safefile_open_dir(AT_FDCWD, dir);
    if (fd < 0) {
        util_seterr(err, errlen, "backups folder %s is not a plain folder: %s", dir,
                    fd == -EINVAL || fd == -ELOOP ? "a symlink or another file is there"
                                                  : strerror(-fd));
        return fd;
    }
    ret = 0;
    if (fstat(fd, &st) < 0)
        ret = -errno;
    else if (geteuid() == 0 && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        ret = -errno;
    else if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
        ret = -errno;
    if (ret < 0) {
        close(fd);
        util_seterr(err, errlen, "cannot set owner and mode of %s: %s", dir, strerror(-ret));
        return ret;
    }
    return fd;
}

/* The database and its side files are the tenant's: each must be a regular
 * file (or absent, for the side files), so SQLite is not led through a
 * symlink or stalled on a FIFO. A swap after this check is still possible;
 * tenantd bounds every backup job in time for that (backup_sched.c). */
static int check_db_files(const char *db_path, struct stat *st, char *err, size_t errlen)
{
    char side[PATH_MAX];

    if (lstat(db_path, st) < 0) {
        int ret = -errno;
        util_seterr(err, errlen, "cannot back up %s: %s", db_path, strerror(-ret));
        return ret;
    }
    if (!S_ISREG(st->st_mode)) {
        util_seterr(err, errlen, "cannot back up %s: it is not a regular file", db_path);
        return -EINVAL;
    }
    for (int i = 0; i < SIDE_FILES; i++) {
        struct stat sst;
        if (util_path_fmt(side, sizeof(side), "%s%s", db_path, backup_side_suffix[i]) < 0)
            return -ENAMETOOLONG;
        if (lstat(side, &sst) == 0 && !S_ISREG(sst.st_mode)) {
            util_seterr(err, errlen, "cannot back up %s: %s is not a regular file", db_path, side);
            return -EINVAL;
        }
    }
    return 0;
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
 * The copy itself, into memory. The source is opened read-write (a read-only
 * connection cannot open a WAL database whose -shm is missing) and a read
 * transaction is held for the whole copy: the backup then reads one snapshot,
 * and a write by the worker in the meantime neither restarts the copy nor
 * blocks. The copy goes to an in-memory database and comes back as one
 * buffer (*image, freed with sqlite3_free): SQLite never writes by path into
 * the tenant's backups folder, where a swapped symlink could redirect it; the
 * caller writes the bytes through the folder's fd.
 */
static int copy_db(const char *db_path, json_t *manifest, unsigned char **image,
                   sqlite3_int64 *image_len, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    json_t *tables = NULL;
    int64_t deadline, uv = 0;
    int rc, ret = 0;

    *image = NULL;
    *image_len = 0;
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
    rc = sqlite3_open_v2(":memory:", &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot create the in-memory copy: %s", sqlite3_errstr(rc));
        goto out;
    }
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
    rc = query_int(dst, "PRAGMA user_version", &uv);
    if (rc != SQLITE_OK) {
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "cannot read the copy of %s: %s", db_path, sqlite3_errmsg(dst));
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
    *image = sqlite3_serialize(dst, "main", image_len, 0);
    if (*image == NULL || *image_len < 100) {
        ret = -ENOMEM;
        util_seterr(err, errlen, "cannot serialise the copy of %s", db_path);
        goto out;
    }
    /* The copy carries the source's WAL flag in its header (bytes 18 and 19,
     * the file format read and write versions: 2 = WAL). A backup is one
     * self-contained file, so it goes back to rollback-journal mode (1), as
     * PRAGMA journal_mode = DELETE would write it. */
    (*image)[18] = 1;
    (*image)[19] = 1;
    json_object_set_new(manifest, "schema_version", json_integer(uv));
    json_object_set(manifest, "tables", tables);
out:
    if (b != NULL)
        sqlite3_backup_finish(b);
    json_decref(tables);
    if (ret < 0 && *image != NULL) {
        sqlite3_free(*image);
        *image = NULL;
    }
    if (dst != NULL)
        sqlite3_close(dst);
    if (src != NULL) {
        sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(src);
    }
    return ret;
}

/* Write len bytes of buf to fd, whole. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t off = 0;

    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Write the manifest next to the copy, to a temporary name in folder dfd. */
static int write_manifest(int dfd, const char *name, json_t *m, uid_t uid, gid_t gid, char *err,
                          size_t errlen)
{
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    int fd, ret = 0;

    if (text == NULL) {
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    ret = write_all(fd, text, strlen(text));
    if (ret == 0)
        ret = write_all(fd, "\n", 1);
    if (ret == 0)
        ret = backup_set_owner_mode(fd, uid, gid, 0600);
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret < 0)
        unlinkat(dfd, name, 0);
out:
    if (ret < 0)
        util_seterr(err, errlen, "cannot write manifest %s: %s", name, strerror(-ret));
    free(text);
    return ret;
}

int backup_create(const char *db_path, const char *backup_dir, const char *tenant_id,
                  char *out_path, size_t n, char *err, size_t errlen)
{
    char stamp[32], iso[32], name[128], final[160], tmp[170], mfinal[160], mtmp[170], hex[65];
    struct stat st;
    json_t *m = NULL;
    unsigned char *image = NULL;
    sqlite3_int64 image_len = 0;
    time_t now = time(NULL);
    int dfd, fd = -1, ret, seq;

    if (out_path != NULL && n > 0)
        out_path[0] = '\0';
    ret = check_db_files(db_path, &st, err, errlen);
    if (ret < 0)
        return ret;
    dfd = backup_prepare_dir(backup_dir, st.st_uid, st.st_gid, err, errlen);
    if (dfd < 0)
        return dfd;

    /* Reserve a name: the temporary file is created exclusively, so two
     * backups started in the same second never write to the same file. */
    backup_utc_stamp(now, stamp);
    for (seq = 0; seq < 100; seq++) {
        if (seq == 0)
            ret = util_path_fmt(name, sizeof(name), "%s-%s", tenant_id, stamp);
        else
            ret = util_path_fmt(name, sizeof(name), "%s-%s-%d", tenant_id, stamp, seq);
        if (ret == 0)
            ret = util_path_fmt(final, sizeof(final), "%s.db", name);
        if (ret == 0)
            ret = util_path_fmt(tmp, sizeof(tmp), "%s.tmp", final);
        if (ret == 0)
            ret = util_path_fmt(mfinal, sizeof(mfinal), "%s.json", name);
        if (ret == 0)
            ret = util_path_fmt(mtmp, sizeof(mtmp), "%s.tmp", mfinal);
        if (ret < 0) {
            util_seterr(err, errlen, "backup name too long for tenant %s", tenant_id);
            goto out;
        }
        if (faccessat(dfd, final, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
            faccessat(dfd, mfinal, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            continue;
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        ret = seq >= 100 ? -EEXIST : -errno;
        util_seterr(err, errlen, "cannot create a backup file in %s: %s", backup_dir,
                    strerror(-ret));
        goto out;
    }

    m = json_object();
    if (m == NULL) {
        ret = -ENOMEM;
        util_seterr(err, errlen, "out of memory");
        goto fail;
    }
    ret = copy_db(db_path, m, &image, &image_len, err, errlen);
    if (ret < 0)
        goto fail;
    ret = backup_sha256_buf(image, (size_t)image_len, hex);
    if (ret == 0)
        ret = write_all(fd, image, (size_t)image_len);
    if (ret == 0)
        ret = backup_set_owner_mode(fd, st.st_uid, st.st_gid, 0600);
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    fd = -1;
    if (ret < 0) {
        util_seterr(err, errlen, "cannot write %s/%s: %s", backup_dir, tmp, strerror(-ret));
        goto fail;
    }
    backup_iso_time(now, iso);
    json_object_set_new(m, "format", json_integer(BACKUP_FORMAT));
    json_object_set_new(m, "tenant", json_string(tenant_id));
    json_object_set_new(m, "created", json_string(iso));
    json_object_set_new(m, "created_unix", json_integer((json_int_t)now));
    json_object_set_new(m, "file", json_string(final));
    json_object_set_new(m, "size", json_integer(image_len));
    json_object_set_new(m, "sha256", json_string(hex));
    json_object_set_new(m, "sqlite_version", json_string(sqlite3_libversion()));
    json_object_set_new(m, "source", json_string(backup_base_name(db_path)));
    ret = write_manifest(dfd, mtmp, m, st.st_uid, st.st_gid, err, errlen);
    if (ret < 0)
        goto fail;
    if (renameat(dfd, tmp, dfd, final) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot rename %s/%s: %s", backup_dir, tmp, strerror(-ret));
        unlinkat(dfd, mtmp, 0);
        goto fail;
    }
    if (renameat(dfd, mtmp, dfd, mfinal) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot rename %s/%s: %s", backup_dir, mtmp, strerror(-ret));
        unlinkat(dfd, mtmp, 0);
        unlinkat(dfd, final, 0);
        goto out;
    }
    if (fsync(dfd) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot sync folder %s: %s", backup_dir, strerror(-ret));
        goto out;
    }
    if (out_path != NULL && n > 0 && util_path_fmt(out_path, n, "%s/%s", backup_dir, final) < 0) {
        util_seterr(err, errlen, "backup path does not fit the caller's buffer");
        ret = -ENAMETOOLONG;
    }
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, tmp, 0);
out:
    sqlite3_free(image);
    json_decref(m);
    close(dfd);
    return ret;
}
