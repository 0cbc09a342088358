/*
 * backup_restore.c — verifying a backup and putting it in place of a tenant's
 * database (see backup.h): the manifest, the size and SHA-256 and SQLite's
 * integrity check; whether the database is open by another process; the swap
 * and its undo.
 *
 * The order of a restore is chosen so that a crash at any point leaves the
 * tenant's database whole:
 *   restore: copy into "<db>.restore-tmp.<pid>" -> fsync -> rename the live
 *            files aside -> rename the copy over the database -> fsync folder
 * What this file does not do: stop or start the worker (the caller makes sure
 * it is stopped), create (backup.c) or list (backup_list.c) backups.
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
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
        ret = backup_sqlite_errno(rc);
        util_seterr(err, errlen, "%s is not a readable SQLite database: %s", path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = backup_sqlite_errno(rc);
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
    char mpath[PATH_MAX], hex[65], why[256];
    json_t *m = NULL, *v;
    const char *s;
    int64_t size = 0;
    int ret;

    if (backup_manifest_path(path, mpath, sizeof(mpath)) < 0) {
        util_seterr(err, errlen, "%s is not a backup: its name does not end in .db", path);
        return -EINVAL;
    }
    if (access(path, R_OK) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot read backup %s: %s", path, strerror(-ret));
        return ret;
    }
    m = backup_manifest_load(AT_FDCWD, mpath, why, sizeof(why));
    if (m == NULL) {
        util_seterr(err, errlen, "backup %s has no readable manifest %s: %s", path, mpath, why);
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
    if (s == NULL || strcmp(s, backup_base_name(path)) != 0) {
        util_seterr(err, errlen, "manifest %s describes \"%s\", not %s", mpath, s ? s : "?",
                    backup_base_name(path));
        goto out;
    }
    s = json_string_value(json_object_get(m, "sha256"));
    v = json_object_get(m, "size");
    if (s == NULL || strlen(s) != 64 || !json_is_integer(v)) {
        util_seterr(err, errlen, "manifest %s has no checksum or size", mpath);
        goto out;
    }
    ret = backup_sha256_file(path, hex, &size);
    if (ret < 0) {
        util_seterr(err, errlen, "cannot read backup %s: %s", path, safefile_strerror(ret));
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
    /* Non-blocking: the tenant may have put a FIFO where its database was. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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
        if (util_path_fmt(a, sizeof(a), "%s%s", from, backup_side_suffix[i]) < 0 ||
            util_path_fmt(b, sizeof(b), "%s%s", to, backup_side_suffix[i]) < 0)
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

    backup_utc_stamp(time(NULL), stamp);
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
    if (backup_dir_of(db_path, dir, sizeof(dir)) < 0 ||
        util_path_fmt(tmp, sizeof(tmp), "%s.restore-tmp.%ld", db_path, (long)getpid()) < 0) {
        util_seterr(err, errlen, "database path too long: %s", db_path);
        return -ENAMETOOLONG;
    }
    /* The mode of the database it replaces (a symlink there is not followed),
     * the owner of the data dir: the tenant's, whatever link it put there. */
    have_db = lstat(db_path, &st) == 0 && S_ISREG(st.st_mode);
    mode = have_db ? (st.st_mode & 0777) : 0600;
    if (stat(dir, &st) < 0) {
        ret = -errno;
        util_seterr(err, errlen, "cannot restore into %s: %s", dir, strerror(-ret));
        return ret;
    }
    uid = st.st_uid;
    gid = st.st_gid;

    unlink(tmp); /* a leftover of a crashed restore by this same pid */
    ret = backup_copy_file(backup_path, tmp, uid, gid, mode, copied);
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
    ret = backup_fsync_dir(dir);
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
    if (backup_dir_of(db_path, dir, sizeof(dir)) < 0)
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
    backup_fsync_path(db_path);
    ret = backup_fsync_dir(dir);
    if (ret < 0)
        util_seterr(err, errlen, "cannot sync folder %s: %s", dir, strerror(-ret));
    return ret;
}
