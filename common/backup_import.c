/*
 * backup_import.c — a backup fetched from elsewhere (an off-site copy,
 * `tenantctl restore --from-offsite`) put into a tenant's backups folder
 * the same safe way backup.c writes one: through one fd of the folder, never
 * following a symlink, never opening a FIFO. See backup.h.
 */
#include "backup.h"
#include "backup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"
#include "util.h"

#define CMP_BUF 65536

/* 1 when the regular files at fds a and b hold the same bytes, 0 when not,
 * -errno. Both are read from their start. */
static int same_bytes(int a, int b)
{
    static char x[CMP_BUF], y[CMP_BUF];
    struct stat sa, sb;
    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return -errno;
    if (sa.st_size != sb.st_size)
        return 0;
    for (off_t off = 0; off < sa.st_size;) {
        ssize_t ra = pread(a, x, sizeof x, off), rb = pread(b, y, sizeof y, off);
        if (ra < 0 || rb < 0)
            return -errno;
        if (ra != rb || ra == 0)
            return ra == rb ? 1 : 0;
        if (memcmp(x, y, (size_t)ra) != 0)
            return 0;
        off += ra;
    }
    return 1;
}

/* Copy src into name in dfd. */
static int import_one(const char *src, int dfd, const char *name, uid_t uid, gid_t gid, char *err,
                      size_t errlen)
{
    static char buf[CMP_BUF];
    int in = safefile_open_regular(AT_FDCWD, src, NULL);
    if (in < 0) {
        util_seterr(err, errlen, "%s: %s", src, safefile_strerror(in));
        return in;
    }
    int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0 && errno == EEXIST) {
        int have = safefile_open_regular(dfd, name, NULL);
        int same = have < 0 ? have : same_bytes(in, have);
        if (have >= 0)
            close(have);
        close(in);
        if (same == 1)
            return 0;
        util_seterr(err, errlen,
                    "%s is already in the backups folder with other content: move it away first",
                    name);
        return -EEXIST;
    }
    if (out < 0) {
        int e = -errno;
        close(in);
        util_seterr(err, errlen, "cannot create %s in the backups folder: %s", name, strerror(-e));
        return e;
    }
    int ret = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ret = r < 0 ? -errno : 0;
            break;
        }
        for (ssize_t done = 0; done < r && ret == 0;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno != EINTR)
                ret = -errno;
            else if (w > 0)
                done += w;
        }
        if (ret < 0)
            break;
    }
    if (ret == 0)
        ret = backup_set_owner_mode(out, uid, gid, 0600);
    if (ret == 0 && fsync(out) < 0)
        ret = -errno;
    close(out);
    close(in);
    if (ret < 0) {
        unlinkat(dfd, name, 0);
        util_seterr(err, errlen, "cannot copy %s into the backups folder: %s", name,
                    strerror(-ret));
    }
    return ret;
}

int backup_import(const char *src, const char *backup_dir, const char *owner_path, char *out,
                  size_t n, char *err, size_t errlen)
{
    char manifest[4096], mname[1024];
    const char *name = backup_base_name(src);
    struct stat st;
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (backup_manifest_path(src, manifest, sizeof manifest) < 0) {
        util_seterr(err, errlen, "%s is not a backup file (.db or .pgdump)", src);
        return -EINVAL;
    }
    snprintf(mname, sizeof mname, "%s", backup_base_name(manifest));
    if (lstat(owner_path, &st) == 0 && S_ISREG(st.st_mode)) {
        uid = st.st_uid;
        gid = st.st_gid;
    }
    if (snprintf(out, n, "%s/%s", backup_dir, name) >= (int)n) {
        util_seterr(err, errlen, "path too long");
        return -ENAMETOOLONG;
    }
    int dfd = backup_prepare_dir(backup_dir, uid, gid, err, errlen);
    if (dfd < 0)
        return dfd;
    int ret = import_one(src, dfd, name, uid, gid, err, errlen);
    if (ret == 0)
        ret = import_one(manifest, dfd, mname, uid, gid, err, errlen);
    if (ret == 0 && fsync(dfd) < 0)
        ret = -errno;
    close(dfd);
    return ret;
}
