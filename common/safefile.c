/*
 * safefile.c — see safefile.h. Plain POSIX, no allocation but the read
 * buffer, safe from any thread.
 */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int safefile_open_regular(int dirfd, const char *name, struct stat *st)
{
    struct stat sb;
    int fd, flags;

    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) < 0) {
        int ret = -errno;
        close(fd);
        return ret;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (st != NULL)
        *st = sb;
    return fd;
}

int safefile_open_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd >= 0)
        return fd;
    /* ENOTDIR also comes for a symlink to a folder with O_NOFOLLOW. */
    return errno == ENOTDIR ? -EINVAL : -errno;
}

int safefile_read(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf;
    size_t used = 0;
    int fd, ret = 0;

    *out = NULL;
    if (len != NULL)
        *len = 0;
    fd = safefile_open_regular(dirfd, name, &st);
    if (fd < 0)
        return fd;
    if (st.st_size < 0 || (size_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    buf = malloc(max + 2);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    /* The size is checked while reading too: the file may grow meanwhile. */
    for (;;) {
        ssize_t r = read(fd, buf + used, max + 1 - used);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max) {
            ret = -EFBIG;
            break;
        }
    }
    close(fd);
    if (ret < 0) {
        free(buf);
        return ret;
    }
    buf[used] = '\0';
    *out = buf;
    if (len != NULL)
        *len = used;
    return 0;
}

const char *safefile_strerror(int err)
{
    switch (err) {
    case -ELOOP:
        return "it is a symlink";
    case -EINVAL:
        return "it is not a regular file";
    case -EFBIG:
        return "it is too large";
    default:
        return strerror(-err);
    }
}
