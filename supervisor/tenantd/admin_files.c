/*
 * admin_files.c — the file helpers of onboarding and offboarding: removing a
 * tree the tenant owned without following its links, and moving a file or
 * folder into the archive across filesystems.
 *
 * What it does not do: decide what to remove or where to archive (the
 * operations do).
 */
#include "admin_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

/* ---- small file helpers -------------------------------------------------------- */

/* Remove everything below the directory open as dfd, then close it. Each
 * entry is unlinked or opened relative to its parent with O_NOFOLLOW, never
 * through a path: the tenant owned this tree, may have planted links in it,
 * and may still be swapping a directory for a link while we walk (a worker
 * that did not stop in time), so a name must never be resolved twice. Mount
 * points are not crossed, and the depth is bounded so the fds are. */
static void remove_below(int dfd, dev_t dev, int depth)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), n, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR) {
            log_warn(NULL, "admin: cannot remove %s: %s", n, strerror(errno));
            continue;
        }
        int sub = depth < 64 ? openat(dirfd(d), n,
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                             : -1;
        struct stat st;
        if (sub >= 0 && fstat(sub, &st) == 0 && st.st_dev == dev)
            remove_below(sub, dev, depth + 1);
        else if (sub >= 0)
            close(sub);
        if (unlinkat(dirfd(d), n, AT_REMOVEDIR) != 0 && errno != ENOENT)
            log_warn(NULL, "admin: cannot remove the folder %s: %s", n, strerror(errno));
    }
    closedir(d);
}

/* rm -rf without following symlinks or crossing mounts (see remove_below).
 * The path itself is ours: its parents belong to root, not to the tenant. */
void admin_remove_tree(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        /* A link or a file where the folder was: remove the name only. */
        if ((errno == ENOTDIR || errno == ELOOP) && unlink(path) != 0 && errno != ENOENT)
            log_warn(NULL, "admin: cannot remove %s: %s", path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    remove_below(fd, st.st_dev, 0);
    if (rmdir(path) != 0 && errno != ENOENT)
        log_warn(NULL, "admin: cannot remove %s: %s", path, strerror(errno));
}

/* rename(2), or copy-and-unlink for a regular file on another filesystem. */
int admin_move_path(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno != EXDEV)
        return -errno;
    struct stat st;
    if (lstat(from, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EXDEV;
    int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
    int rc = out < 0 ? -errno : 0;
    char buf[65536];
    ssize_t n;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -EIO;
    close(in);
    if (out >= 0 && (fsync(out) != 0 || close(out) != 0) && rc == 0)
        rc = -EIO;
    if (rc == 0)
        unlink(from);
    else
        unlink(to);
    return rc;
}
