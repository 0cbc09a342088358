/*
 * util.c — see util.h. Plain POSIX; every failure is returned as -errno.
 * Not here: anything with policy (modes, owners and paths are the caller's).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int util_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);

    if (n == 0)
        return -ENAMETOOLONG;
    if (len >= n) {
        memcpy(dst, src, n - 1);
        dst[n - 1] = '\0';
        return -ENAMETOOLONG;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

int util_path_join(char *buf, size_t n, const char *base, const char *rel)
{
    size_t blen = strlen(base);
    int r;

    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    if (rel[0] == '/' || blen == 0)
        return util_strlcpy(buf, rel, n);
    /* Dropping the base's trailing slashes keeps "/" itself as "/". */
    while (blen > 1 && base[blen - 1] == '/')
        blen--;
    if (rel[0] == '\0' || strcmp(rel, ".") == 0)
        r = snprintf(buf, n, "%.*s", (int)blen, base);
    else if (blen == 1 && base[0] == '/')
        r = snprintf(buf, n, "/%s", rel);
    else
        r = snprintf(buf, n, "%.*s/%s", (int)blen, base, rel);
    if (r < 0 || (size_t)r >= n)
        return -ENAMETOOLONG;
    return 0;
}

int util_read_file(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t used = 0;
    int fd, ret = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = -EINVAL;
        goto out;
    }
    /* The size is checked while reading too: the file may grow meanwhile. */
    buf = malloc(max + 2);
    if (buf == NULL) {
        ret = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, max + 1 - used);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max) {
            ret = -EFBIG;
            goto out;
        }
    }
    buf[used] = '\0';
    *out = buf;
    buf = NULL;
    if (len != NULL)
        *len = used;
out:
    free(buf);
    close(fd);
    return ret;
}

int util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const char *p = data;
    int fd = -1, dfd, ret = 0;
    int r;

    r = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (r < 0 || (size_t)r >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    /* open() applies the umask; the caller asked for this exact mode. */
    if (fchmod(fd, mode) < 0)
        goto fail;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    /* The rename is durable only once the folder itself is synced. */
    if (util_strlcpy(dir, path, sizeof(dir)) == 0) {
        dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) < 0)
                ret = -errno;
            close(dfd);
        }
    }
    return ret;
fail:
    ret = -errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return ret;
}

int util_mkdir_p(const char *path, mode_t mode)
{
    return util_mkdir_p_modes(path, mode, mode);
}

int util_mkdir_p_modes(const char *path, mode_t parent_mode, mode_t mode)
{
    char buf[PATH_MAX];
    struct stat st;
    int r;

    if (path[0] == '\0')
        return -EINVAL;
    r = util_strlcpy(buf, path, sizeof(buf));
    if (r < 0)
        return r;
    /* Trailing slashes would give the last folder its parents' mode. */
    for (size_t len = strlen(buf); len > 1 && buf[len - 1] == '/'; len--)
        buf[len - 1] = '\0';
    /* Walk the components left to right, creating each missing one. */
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(buf, saved == '\0' ? mode : parent_mode) < 0 && errno != EEXIST)
            return -errno;
        *s = saved;
        if (saved == '\0')
            break;
    }
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int util_path_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return (r < 0 || (size_t)r >= n) ? -ENAMETOOLONG : 0;
}

void util_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int util_self_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len < 0)
        return -errno;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -EINVAL;
    *slash = '\0';
    return 0;
}

bool util_mail_address_ok(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 200 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>,;:\"()[]\\", *p))
            return false;
    return true;
}
