/*
 * reserve.c — see reserve.h. One reserve per process: tenantd has one run dir.
 */
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char reserve_path[PATH_MAX];

int reserve_create(const char *run_dir)
{
    struct stat st;
    int fd, r;

    if (snprintf(reserve_path, sizeof reserve_path, "%s/%s", run_dir, RESERVE_NAME) >=
        (int)sizeof reserve_path) {
        reserve_path[0] = '\0';
        return -ENAMETOOLONG;
    }
    if (lstat(reserve_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_blocks * 512 >= RESERVE_BYTES)
        return 0;
    fd = open(reserve_path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    r = posix_fallocate(fd, 0, RESERVE_BYTES);
    close(fd);
    if (r != 0) {
        unlink(reserve_path);
        return -r;
    }
    return 0;
}

int64_t reserve_release(void)
{
    struct stat st;

    if (reserve_path[0] == '\0' || lstat(reserve_path, &st) < 0)
        return 0;
    if (unlink(reserve_path) < 0)
        return 0;
    log_crit(NULL,
             "the disk of the run dir is full: released the %lld-byte reserve to record "
             "an operator's action; free space, then restart tenantd to restore it",
             (long long)st.st_blocks * 512);
    return (int64_t)st.st_blocks * 512;
}
