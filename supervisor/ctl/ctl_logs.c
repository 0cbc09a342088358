/*
 * ctl_logs.c — `tenantctl logs <id> [-n N] [-f]`: the tail of a tenant's log
 * file (logs/<id>.log, written by tenantd's log capture), read directly so it
 * works when tenantd is down.
 *
 * Following uses inotify on the log folder rather than polling: a write to
 * the file, or a rotation (the file renamed away and a new one created), wakes
 * us. The wait is ppoll with the stop signals blocked outside it, so a signal
 * that arrives between two checks is never lost and -f always ends cleanly.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/*
 * Write bytes to stdout; on a terminal, escape what a terminal would act on,
 * since the tenant wrote these bytes: C0 controls but tab and newline, DEL,
 * and the C1 controls as UTF-8 encodes them (C2 80..C2 9F; some terminals
 * take C2 9B as ESC [). *held carries a trailing C2 byte over to the next call;
 * emit(NULL, 0, ...) writes out a C2 still held.
 */
static int emit(const char *p, size_t n, bool tty, bool *held)
{
    if (p == NULL) {
        if (*held)
            putchar(0xc2);
        *held = false;
        return ferror(stdout) ? -EIO : 0;
    }
    if (!tty)
        return fwrite(p, 1, n, stdout) == n ? 0 : -EIO;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (*held) {
            *held = false;
            if (ch >= 0x80 && ch <= 0x9f) {
                printf("\\xc2\\x%02x", ch);
                continue;
            }
            putchar(0xc2);
        }
        if (ch == 0xc2)
            *held = true;
        else if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    return ferror(stdout) ? -EIO : 0;
}

/* Offset where the last `lines` lines of fd begin. */
static off_t tail_offset(int fd, long lines)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        return 0;
    if (lines == 0)
        return st.st_size;
    char buf[8192];
    off_t pos = st.st_size;
    long seen = 0;
    bool last_byte = true;
    while (pos > 0) {
        size_t chunk = pos > (off_t)sizeof buf ? sizeof buf : (size_t)pos;
        pos -= (off_t)chunk;
        if (pread(fd, buf, chunk, pos) != (ssize_t)chunk)
            return 0;
        for (size_t i = chunk; i-- > 0;) {
            if (buf[i] != '\n')
                continue;
            /* A newline that ends the file closes the last line, it does not
             * start another. */
            if (last_byte && pos + (off_t)i == st.st_size - 1)
                continue;
            if (++seen == lines)
                return pos + (off_t)i + 1;
        }
        last_byte = false;
    }
    return 0;
}

/* Copy fd from *off to its end. */
static int copy_new(int fd, off_t *off, bool tty)
{
    char buf[65536];
    bool held = false;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, *off);
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        *off += n;
        if (emit(buf, (size_t)n, tty, &held) != 0)
            return -EIO;
    }
    /* The file ends here for now: a C2 still held is not followed by a C1. */
    if (emit(NULL, 0, tty, &held) != 0)
        return -EIO;
    fflush(stdout);
    return 0;
}

int ctl_logs(const char *path, const char *id, long lines, bool follow)
{
    bool tty = isatty(STDOUT_FILENO);
    /* Watch before the first read, so nothing appended in between is missed. */
    int in = -1;
    const char *name = NULL;
    char dirbuf[PATH_MAX], namebuf[PATH_MAX];
    if (follow) {
        snprintf(dirbuf, sizeof dirbuf, "%s", path);
        snprintf(namebuf, sizeof namebuf, "%s", path);
        const char *dir = dirname(dirbuf);
        name = basename(namebuf);
        in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (in < 0 || inotify_add_watch(in, dir,
                                        IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                            IN_DELETE | IN_CLOSE_WRITE) < 0) {
            fprintf(stderr, "tenantctl: inotify on %s: %s\n", dir, strerror(errno));
            if (in >= 0)
                close(in);
            return CTL_EXIT_ERROR;
        }
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && !(follow && errno == ENOENT)) {
        int e = errno;
        fprintf(stderr, "tenantctl: %s: %s\n", path, strerror(e));
        if (in >= 0)
            close(in);
        errno = e;
        return errno == ENOENT ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
    }
    off_t off = fd >= 0 ? tail_offset(fd, lines) : 0;
    if (fd >= 0 && copy_new(fd, &off, tty) != 0) {
        close(fd);
        if (in >= 0)
            close(in);
        return CTL_EXIT_ERROR;
    }
    if (!follow) {
        close(fd);
        return CTL_EXIT_OK;
    }

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    (void)id;

    int rc = CTL_EXIT_OK;
    while (!stop_signal) {
        struct pollfd p = {.fd = in, .events = POLLIN};
        int r = ppoll(&p, 1, NULL, &old);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = CTL_EXIT_ERROR;
            break;
        }
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool ours = false;
        ssize_t n;
        while ((n = read(in, ev, sizeof ev)) > 0) {
            for (char *q = ev; q + sizeof(struct inotify_event) <= ev + n;) {
                struct inotify_event e;
                memcpy(&e, q, sizeof e);
                const char *ename = q + sizeof e;
                if (e.len && strncmp(ename, name, e.len) == 0 && strlen(name) < e.len)
                    ours = true;
                q += sizeof e + e.len;
            }
        }
        if (!ours)
            continue;
        /* The name may point to a new file now (rotation): drain the old one,
         * then switch. A shrunken file was truncated: start over. */
        struct stat cur, now;
        bool replaced = stat(path, &now) != 0 || fd < 0 || fstat(fd, &cur) != 0 ||
                        cur.st_ino != now.st_ino || cur.st_dev != now.st_dev;
        if (fd >= 0 && copy_new(fd, &off, tty) != 0) {
            rc = CTL_EXIT_ERROR;
            break;
        }
        if (replaced) {
            int nfd = open(path, O_RDONLY | O_CLOEXEC);
            if (nfd >= 0) {
                if (fd >= 0)
                    close(fd);
                fd = nfd;
                off = 0;
            }
        } else if (fstat(fd, &cur) == 0 && cur.st_size < off) {
            off = 0;
        }
        if (fd >= 0 && copy_new(fd, &off, tty) != 0) {
            rc = CTL_EXIT_ERROR;
            break;
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(in);
    if (fd >= 0)
        close(fd);
    return rc;
}
