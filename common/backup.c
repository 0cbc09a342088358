/*
 * backup.c — see backup.h. SQLite's online backup API for the copy, libsodium
 * for the SHA-256, jansson for the manifest, plain POSIX for the files.
 *
 * The order of every step is chosen so that a crash at any point leaves the
 * tenant's database whole and the backups folder without a half-written file
 * under a backup's name:
 *   create:  copy into "<name>.db.tmp" -> fsync -> manifest "<name>.json.tmp"
 *            -> fsync -> rename .db -> rename .json -> fsync folder
 *   restore: copy into "<db>.restore-tmp.<pid>" -> fsync -> rename the live
 *            files aside -> rename the copy over the database -> fsync folder
 * What this file does not do: decide when to back up, or stop the worker.
 */
#include "backup.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
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
/* Leftover temporary files of a crashed backup are removed by the next prune
 * once they are this old, so a running backup's temp file is never touched. */
#define STALE_TMP_SECONDS 3600
#define SIDE_FILES 3

static const char *const side_suffix[SIDE_FILES] = {"-wal", "-shm", "-journal"};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

static int dir_of(const char *path, char *buf, size_t n)
{
    const char *s = strrchr(path, '/');

    if (s == NULL)
        return util_path_fmt(buf, n, ".");
    if (s == path)
        return util_path_fmt(buf, n, "/");
    return util_path_fmt(buf, n, "%.*s", (int)(s - path), path);
}

/* A rename or an unlink is durable only once its folder is synced. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        ret = -errno;
    close(fd);
    return ret;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int ret = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        ret = -errno;
    close(fd);
    return ret;
}

/* Give a file the tenant's ownership (only root can, and only root needs to:
 * otherwise everything is the current user's already) and an exact mode. */
static int set_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode)
{
    if (geteuid() == 0 && fchown(fd, uid, gid) < 0)
        return -errno;
    if (fchmod(fd, mode) < 0)
        return -errno;
    return 0;
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sha256_file(const char *path, char hex[65], int64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    int64_t total = 0;
    int fd, ret = 0;

    if (sodium_init() < 0)
        return -EIO;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
        total += r;
    }
    crypto_hash_sha256_final(&st, digest);
    hex_of(digest, sizeof(digest), hex);
    if (size != NULL)
        *size = total;
out:
    close(fd);
    return ret;
}

/* Copy src into a new file dst (which must not exist), hashing what was
 * copied, then fsync it. The hash lets the caller prove that the bytes it put
 * in place are the bytes it verified, with no window between check and use. */
static int copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, mode_t mode,
                     char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    int in, out, ret = 0;

    if (sodium_init() < 0)
        return -EIO;
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        ret = -errno;
        close(in);
        return ret;
    }
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
        for (ssize_t done = 0; done < r;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                ret = -errno;
                goto out;
            }
            done += w;
        }
    }
    crypto_hash_sha256_final(&st, digest);
    hex_of(digest, sizeof(digest), hex);
    ret = set_owner_mode(out, uid, gid, mode);
    if (ret == 0 && fsync(out) < 0)
        ret = -errno;
out:
    close(in);
    if (close(out) < 0 && ret == 0)
        ret = -errno;
    if (ret < 0)
        unlink(dst);
    return ret;
}

static void utc_stamp(time_t t, char buf[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y%m%dT%H%M%SZ", &tm);
}

static void iso_time(time_t t, char buf[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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

static int sqlite_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
        return -EACCES;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EINVAL;
    default:
        return -EIO;
    }
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
    return rc == SQLITE_OK ? 0 : sqlite_errno(rc);
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
        ret = sqlite_errno(rc);
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
        ret = sqlite_errno(rc);
        util_seterr(err, errlen, "cannot read database %s: %s", db_path, sqlite3_errmsg(src));
        goto out;
    }
    rc = sqlite3_open_v2(tmp, &dst,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        ret = sqlite_errno(rc);
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
        ret = sqlite_errno(rc);
        util_seterr(err, errlen, "copying %s failed: %s", db_path, sqlite3_errstr(rc));
        goto out;
    }
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_OK) {
        ret = sqlite_errno(rc);
        util_seterr(err, errlen, "copying %s failed: %s", db_path, sqlite3_errmsg(dst));
        goto out;
    }
    /* The copy carries the source's WAL flag in its header; a backup is one
     * self-contained file, so it goes back to rollback-journal mode. */
    rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = query_int(dst, "PRAGMA user_version", &uv);
    if (rc != SQLITE_OK) {
        ret = sqlite_errno(rc);
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
        if (util_path_fmt(side, sizeof(side), "%s%s", path, side_suffix[i]) == 0)
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
        ret = set_owner_mode(fd, uid, gid, 0600);
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
    utc_stamp(now, stamp);
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
        ret = set_owner_mode(fd, st.st_uid, st.st_gid, 0600);
        if (ret == 0 && fsync(fd) < 0)
            ret = -errno;
        close(fd);
    }
    if (ret == 0)
        ret = sha256_file(tmp, hex, &size);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot finish %s: %s", tmp, strerror(-ret));
        goto fail;
    }
    iso_time(now, iso);
    json_object_set_new(m, "format", json_integer(BACKUP_FORMAT));
    json_object_set_new(m, "tenant", json_string(tenant_id));
    json_object_set_new(m, "created", json_string(iso));
    json_object_set_new(m, "created_unix", json_integer((json_int_t)now));
    json_object_set_new(m, "file", json_string(base_name(final)));
    json_object_set_new(m, "size", json_integer(size));
    json_object_set_new(m, "sha256", json_string(hex));
    json_object_set_new(m, "sqlite_version", json_string(sqlite3_libversion()));
    json_object_set_new(m, "source", json_string(base_name(db_path)));
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
    ret = fsync_dir(backup_dir);
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

/* ---- names, list, prune ---------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int backup_parse_name(const char *name, const char *tenant_id, time_t *created, int *seq)
{
    size_t idlen = strlen(tenant_id), len = strlen(name);
    const char *p, *end;
    struct tm tm = {0};
    int s = 0;

    /* <id>-yyyymmddThhmmssZ[-n].db */
    if (len < idlen + 1 + 16 + 3 || strncmp(name, tenant_id, idlen) != 0 || name[idlen] != '-')
        return 0;
    if (strcmp(name + len - 3, ".db") != 0)
        return 0;
    p = name + idlen + 1;
    end = name + len - 3;
    if (!all_digits(p, 8) || p[8] != 'T' || !all_digits(p + 9, 6) || p[15] != 'Z')
        return 0;
    tm.tm_year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') - 1900;
    tm.tm_mon = (p[4] - '0') * 10 + (p[5] - '0') - 1;
    tm.tm_mday = (p[6] - '0') * 10 + (p[7] - '0');
    tm.tm_hour = (p[9] - '0') * 10 + (p[10] - '0');
    tm.tm_min = (p[11] - '0') * 10 + (p[12] - '0');
    tm.tm_sec = (p[13] - '0') * 10 + (p[14] - '0');
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return 0;
    p += 16;
    if (p != end) {
        size_t dn = (size_t)(end - p) - 1;
        if (*p != '-' || dn < 1 || dn > 2 || !all_digits(p + 1, dn) || p[1] == '0')
            return 0;
        s = atoi(p + 1);
    }
    if (created != NULL)
        *created = timegm(&tm);
    if (seq != NULL)
        *seq = s;
    return 1;
}

static int manifest_path(const char *db, char *buf, size_t n)
{
    size_t len = strlen(db);

    if (len < 3 || strcmp(db + len - 3, ".db") != 0)
        return -EINVAL;
    return util_path_fmt(buf, n, "%.*s.json", (int)(len - 3), db);
}

static int newest_first(const void *a, const void *b)
{
    const struct backup_info *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return y->seq - x->seq;
}

static void read_manifest_info(struct backup_info *bi)
{
    char mpath[PATH_MAX];
    json_t *m, *v;

    bi->manifest_size = -1;
    bi->schema_version = -1;
    if (manifest_path(bi->path, mpath, sizeof(mpath)) < 0)
        return;
    m = json_load_file(mpath, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    bi->has_manifest = 1;
    if (json_is_integer(v = json_object_get(m, "size")))
        bi->manifest_size = json_integer_value(v);
    if (json_is_integer(v = json_object_get(m, "schema_version")))
        bi->schema_version = (int)json_integer_value(v);
    if (json_is_string(v = json_object_get(m, "sha256")))
        snprintf(bi->sha256, sizeof(bi->sha256), "%s", json_string_value(v));
    json_decref(m);
}

int backup_list(const char *backup_dir, const char *tenant_id, struct backup_info **out,
                size_t *count, char *err, size_t errlen)
{
    struct backup_info *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int ret = 0;

    *out = NULL;
    *count = 0;
    d = opendir(backup_dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        ret = -errno;
        util_seterr(err, errlen, "cannot read backups folder %s: %s", backup_dir, strerror(-ret));
        return ret;
    }
    while ((de = readdir(d)) != NULL) {
        struct backup_info *bi;
        struct stat st;
        time_t created;
        int seq;

        if (!backup_parse_name(de->d_name, tenant_id, &created, &seq))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct backup_info *nv = realloc(v, ncap * sizeof(*v));
            if (nv == NULL) {
                ret = -ENOMEM;
                util_seterr(err, errlen, "out of memory");
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        bi = &v[n];
        memset(bi, 0, sizeof(*bi));
        if (util_path_fmt(bi->path, sizeof(bi->path), "%s/%s", backup_dir, de->d_name) < 0 ||
            util_path_fmt(bi->name, sizeof(bi->name), "%s", de->d_name) < 0)
            continue;
        if (lstat(bi->path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        bi->created = created;
        bi->seq = seq;
        bi->size = st.st_size;
        read_manifest_info(bi);
        n++;
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), newest_first);
    *out = v;
    *count = n;
    v = NULL;
out:
    free(v);
    closedir(d);
    return ret;
}

/* A crashed backup leaves "<id>-<time>.db.tmp" or ".json.tmp" behind. */
static void prune_stale_tmp(const char *backup_dir, const char *tenant_id)
{
    size_t idlen = strlen(tenant_id);
    char path[PATH_MAX];
    struct dirent *de;
    struct stat st;
    time_t now = time(NULL);
    DIR *d = opendir(backup_dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < idlen + 5 || strncmp(de->d_name, tenant_id, idlen) != 0 ||
            de->d_name[idlen] != '-' || strcmp(de->d_name + len - 4, ".tmp") != 0)
            continue;
        if (util_path_fmt(path, sizeof(path), "%s/%s", backup_dir, de->d_name) < 0)
            continue;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > STALE_TMP_SECONDS)
            unlink(path);
    }
    closedir(d);
}

int backup_prune(const char *backup_dir, const char *tenant_id, int keep, int *removed, char *err,
                 size_t errlen)
{
    struct backup_info *v = NULL;
    char mpath[PATH_MAX];
    size_t n = 0;
    int ret, gone = 0;

    if (removed != NULL)
        *removed = 0;
    if (keep < 1)
        keep = 1;
    ret = backup_list(backup_dir, tenant_id, &v, &n, err, errlen);
    if (ret < 0)
        return ret;
    for (size_t i = (size_t)keep; i < n; i++) {
        /* The manifest goes first: a .db without one is "unfinished", never
         * mistaken for a good backup if the second unlink is lost. */
        if (manifest_path(v[i].path, mpath, sizeof(mpath)) == 0 && unlink(mpath) < 0 &&
            errno != ENOENT) {
            ret = -errno;
            util_seterr(err, errlen, "cannot remove %s: %s", mpath, strerror(-ret));
            break;
        }
        if (unlink(v[i].path) < 0 && errno != ENOENT) {
            ret = -errno;
            util_seterr(err, errlen, "cannot remove %s: %s", v[i].path, strerror(-ret));
            break;
        }
        gone++;
    }
    free(v);
    prune_stale_tmp(backup_dir, tenant_id);
    if (gone > 0)
        fsync_dir(backup_dir);
    if (removed != NULL)
        *removed = gone;
    return ret;
}

/* ---- verify ---------------------------------------------------------------- */

static int integrity_check(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(5)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ret = sqlite_errno(rc);
        util_seterr(err, errlen, "%s is not a readable SQLite database: %s", path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = sqlite_errno(rc);
        util_seterr(err, errlen, "integrity check of %s failed: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        ret = -EINVAL;
        util_seterr(err, errlen, "integrity check of %s failed: %s", path,
                    (const char *)sqlite3_column_text(st, 0));
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}

/* Verify and hand back the manifest's checksum, so a restore can prove that
 * what it copied is what was verified. */
static int verify(const char *path, const char *tenant_id, char sha[65], char *err, size_t errlen)
{
    char mpath[PATH_MAX], hex[65];
    json_error_t jerr;
    json_t *m = NULL, *v;
    const char *s;
    int64_t size = 0;
    int ret;

    if (manifest_path(path, mpath, sizeof(mpath)) < 0) {
        util_seterr(err, errlen, "%s is not a backup: its name does not end in .db", path);
        return -EINVAL;
    }
    if (access(path, R_OK) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot read backup %s: %s", path, strerror(-ret));
        return ret;
    }
    m = json_load_file(mpath, 0, &jerr);
    if (m == NULL) {
        util_seterr(err, errlen, "backup %s has no readable manifest %s: %s", path, mpath,
                    jerr.text);
        return -EINVAL;
    }
    ret = -EINVAL;
    if (!json_is_object(m) || !json_is_integer(json_object_get(m, "format")) ||
        json_integer_value(json_object_get(m, "format")) != BACKUP_FORMAT) {
        util_seterr(err, errlen, "manifest %s is not a tenantd backup manifest of format %d", mpath,
                    BACKUP_FORMAT);
        goto out;
    }
    s = json_string_value(json_object_get(m, "tenant"));
    if (s == NULL || strcmp(s, tenant_id) != 0) {
        util_seterr(err, errlen, "backup %s belongs to tenant \"%s\", not \"%s\"", path,
                    s ? s : "?", tenant_id);
        goto out;
    }
    s = json_string_value(json_object_get(m, "file"));
    if (s == NULL || strcmp(s, base_name(path)) != 0) {
        util_seterr(err, errlen, "manifest %s describes \"%s\", not %s", mpath, s ? s : "?",
                    base_name(path));
        goto out;
    }
    s = json_string_value(json_object_get(m, "sha256"));
    v = json_object_get(m, "size");
    if (s == NULL || strlen(s) != 64 || !json_is_integer(v)) {
        util_seterr(err, errlen, "manifest %s has no checksum or size", mpath);
        goto out;
    }
    ret = sha256_file(path, hex, &size);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot read backup %s: %s", path, strerror(-ret));
        goto out;
    }
    ret = -EINVAL;
    if (size != json_integer_value(v)) {
        util_seterr(err, errlen, "checksum mismatch: %s is %lld bytes, its manifest says %lld",
                    path, (long long)size, (long long)json_integer_value(v));
        goto out;
    }
    if (strcmp(hex, s) != 0) {
        util_seterr(err, errlen, "checksum mismatch: %s has sha256 %s, its manifest says %s", path,
                    hex, s);
        goto out;
    }
    ret = integrity_check(path, err, errlen);
    if (ret == 0 && sha != NULL)
        memcpy(sha, hex, 65);
out:
    json_decref(m);
    return ret;
}

int backup_verify(const char *backup_path, const char *tenant_id, char *err, size_t errlen)
{
    return verify(backup_path, tenant_id, NULL, err, errlen);
}

/* ---- restore ----------------------------------------------------------------- */

static int locked_by_other(const char *path)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int ret;

    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    ret = fcntl(fd, F_GETLK, &fl) < 0 ? -errno : fl.l_type != F_UNLCK;
    /* Closing drops this process's POSIX locks on the file: callers never
     * hold the database open themselves (see backup.h). */
    close(fd);
    return ret;
}

int backup_db_in_use(const char *db_path)
{
    char shm[PATH_MAX];
    int r = locked_by_other(db_path);

    if (r != 0)
        return r;
    if (util_path_fmt(shm, sizeof(shm), "%s-shm", db_path) < 0)
        return -ENAMETOOLONG;
    return locked_by_other(shm);
}

/* Rename base (+ its side files) to newbase (+ the same suffixes). The main
 * file moves last when going away and first when coming back is not needed:
 * the worker is stopped, and a partial move is undone by the caller. */
static int move_set(const char *from, const char *to, int *moved_main)
{
    char a[PATH_MAX], b[PATH_MAX];

    *moved_main = 0;
    if (rename(from, to) < 0) {
        if (errno != ENOENT)
            return -errno;
    } else {
        *moved_main = 1;
    }
    for (int i = 0; i < SIDE_FILES; i++) {
        if (util_path_fmt(a, sizeof(a), "%s%s", from, side_suffix[i]) < 0 ||
            util_path_fmt(b, sizeof(b), "%s%s", to, side_suffix[i]) < 0)
            return -ENAMETOOLONG;
        if (rename(a, b) < 0 && errno != ENOENT)
            return -errno;
    }
    return 0;
}

static int unique_aside(const char *db_path, const char *what, char *buf, size_t n)
{
    char stamp[32];
    int ret;

    utc_stamp(time(NULL), stamp);
    for (int i = 0; i < 100; i++) {
        if (i == 0)
            ret = util_path_fmt(buf, n, "%s.%s-%s", db_path, what, stamp);
        else
            ret = util_path_fmt(buf, n, "%s.%s-%s-%d", db_path, what, stamp, i);
        if (ret < 0)
            return ret;
        if (access(buf, F_OK) < 0 && errno == ENOENT)
            return 0;
    }
    return -EEXIST;
}

int backup_restore(const char *db_path, const char *backup_path, const char *tenant_id, char *aside,
                   size_t asidelen, char *err, size_t errlen)
{
    char dir[PATH_MAX], tmp[PATH_MAX], put[PATH_MAX], sha[65], copied[65];
    struct stat st;
    uid_t uid;
    gid_t gid;
    mode_t mode;
    int ret, have_db, moved = 0;

    if (aside != NULL && asidelen > 0)
        aside[0] = '\0';
    ret = verify(backup_path, tenant_id, sha, err, errlen);
    if (ret < 0)
        return ret;
    ret = backup_db_in_use(db_path);
    if (ret != 0) {
        if (ret > 0)
            ret = -EBUSY;
        util_seterr(err, errlen, "database %s is open by another process (is the worker stopped?)",
                    db_path);
        return ret;
    }
    if (dir_of(db_path, dir, sizeof(dir)) < 0 ||
        util_path_fmt(tmp, sizeof(tmp), "%s.restore-tmp.%ld", db_path, (long)getpid()) < 0) {
        util_seterr(err, errlen, "database path too long: %s", db_path);
        return -ENAMETOOLONG;
    }
    have_db = stat(db_path, &st) == 0;
    if (!have_db && stat(dir, &st) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot restore into %s: %s", dir, strerror(-ret));
        return ret;
    }
    uid = st.st_uid;
    gid = st.st_gid;
    mode = have_db ? (st.st_mode & 0777) : 0600;

    unlink(tmp); /* a leftover of a crashed restore by this same pid */
    ret = copy_file(backup_path, tmp, uid, gid, mode, copied);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot copy %s to %s: %s", backup_path, tmp, strerror(-ret));
        return ret;
    }
    if (strcmp(copied, sha) != 0) {
        unlink(tmp);
        util_seterr(err, errlen, "backup %s changed while it was being restored", backup_path);
        return -EAGAIN;
    }

    /* Every side file goes aside with the database: a stale -wal or hot
     * -journal left beside the restored file would be replayed into it. */
    ret = unique_aside(db_path, "before-restore", put, sizeof(put));
    if (ret == 0)
        ret = move_set(db_path, put, &moved);
    if (ret < 0) {
        int ignored;
        move_set(put, db_path, &ignored);
        unlink(tmp);
        util_seterr(err, errlen, "cannot move %s aside: %s", db_path, strerror(-ret));
        return ret;
    }
    if (rename(tmp, db_path) < 0) {
        int ignored;
        ret = -errno;
        move_set(put, db_path, &ignored);
        unlink(tmp);
        util_seterr(err, errlen, "cannot put the restored database in place: %s", strerror(-ret));
        return ret;
    }
    ret = fsync_dir(dir);
    if (ret < 0) {
        util_seterr(err, errlen, "restored, but cannot sync folder %s: %s", dir, strerror(-ret));
        return ret;
    }
    if (aside != NULL && asidelen > 0 && moved && util_path_fmt(aside, asidelen, "%s", put) < 0) {
        util_seterr(err, errlen, "restored; the previous database is at %s", put);
        return -ENAMETOOLONG;
    }
    return 0;
}

int backup_unrestore(const char *db_path, const char *aside, char *err, size_t errlen)
{
    char dir[PATH_MAX], failed[PATH_MAX];
    int ret, moved;

    ret = backup_db_in_use(db_path);
    if (ret != 0) {
        if (ret > 0)
            ret = -EBUSY;
        util_seterr(err, errlen, "database %s is open by another process (is the worker stopped?)",
                    db_path);
        return ret;
    }
    if (dir_of(db_path, dir, sizeof(dir)) < 0)
        return -ENAMETOOLONG;
    ret = unique_aside(db_path, "failed-restore", failed, sizeof(failed));
    if (ret == 0)
        ret = move_set(db_path, failed, &moved);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot move the restored %s away: %s", db_path, strerror(-ret));
        return ret;
    }
    if (aside != NULL && aside[0] != '\0') {
        ret = move_set(aside, db_path, &moved);
        if (ret == 0 && !moved)
            ret = -ENOENT;
        if (ret < 0) {
            util_seterr(err, errlen, "cannot put the previous database %s back: %s", aside,
                        strerror(-ret));
            return ret;
        }
    }
    fsync_path(db_path);
    ret = fsync_dir(dir);
    if (ret < 0)
        util_seterr(err, errlen, "cannot sync folder %s: %s", dir, strerror(-ret));
    return ret;
}
