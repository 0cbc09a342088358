/*
 * backup_file.c — the file steps every part of the backup module takes: base
 * names and folders, fsync of a file and of a folder (a rename is durable only
 * once its folder is synced), the tenant's ownership and an exact mode, the
 * SHA-256 of a file (libsodium), a copy hashed as it is written, UTC stamps,
 * SQLite result codes as errno, the manifest beside a backup.
 *
 * What this file does not do: decide anything about backups (names, order of
 * steps, what is kept): backup.c, backup_list.c, backup_restore.c do.
 */
#include "backup_internal.h"
#include "safefile.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const backup_side_suffix[SIDE_FILES] = {"-wal", "-shm", "-journal"};

const char *backup_base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

int backup_dir_of(const char *path, char *buf, size_t n)
{
    const char *s = strrchr(path, '/');

    if (s == NULL)
        return util_path_fmt(buf, n, ".");
    if (s == path)
        return util_path_fmt(buf, n, "/");
    return util_path_fmt(buf, n, "%.*s", (int)(s - path), path);
}

/* A rename or an unlink is durable only once its folder is synced. */
int backup_fsync_dir(const char *dir)
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

int backup_fsync_path(const char *path)
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
int backup_set_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode)
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

int backup_sha256_buf(const void *buf, size_t len, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];

    if (sodium_init() < 0)
        return -EIO;
    crypto_hash_sha256(digest, buf, (unsigned long long)len);
    hex_of(digest, sizeof(digest), hex);
    return 0;
}

int backup_sha256_file(const char *path, char hex[65], int64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    int64_t total = 0;
    int fd, ret = 0;

    if (sodium_init() < 0)
        return -EIO;
    fd = safefile_open_regular(AT_FDCWD, path, NULL);
    if (fd < 0)
        return fd;
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
int backup_copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, mode_t mode,
                     char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    int in, out, ret = 0;

    if (sodium_init() < 0)
        return -EIO;
    in = safefile_open_regular(AT_FDCWD, src, NULL);
    if (in < 0)
        return in;
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
    ret = backup_set_owner_mode(out, uid, gid, mode);
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

void backup_utc_stamp(time_t t, char buf[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y%m%dT%H%M%SZ", &tm);
}

void backup_iso_time(time_t t, char buf[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int backup_sqlite_errno(int rc)
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

int backup_manifest_path(const char *db, char *buf, size_t n)
{
    size_t len = strlen(db);

    if (len < 3 || strcmp(db + len - 3, ".db") != 0)
        return -EINVAL;
    return util_path_fmt(buf, n, "%.*s.json", (int)(len - 3), db);
}

json_t *backup_manifest_load(int dfd, const char *name, char *why, size_t n)
{
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;
    json_t *m;
    int r = safefile_read(dfd, name, BACKUP_MANIFEST_MAX, &text, &len);

    if (r < 0) {
        if (why != NULL && n > 0)
            snprintf(why, n, "%s", safefile_strerror(r));
        return NULL;
    }
    m = json_loadb(text, len, 0, &jerr);
    free(text);
    if (m == NULL && why != NULL && n > 0)
        snprintf(why, n, "%s", jerr.text);
    return m;
}
