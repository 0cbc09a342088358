/*
 * notify.c — see notify.h.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct notify {
    uv_poll_t poll;
    int fd;
    notify_cb cb;
    void *arg;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void parse(struct notify *n, pid_t sender, char *msg, size_t len)
{
    unsigned flags = 0;
    const char *status = "";
    msg[len] = '\0';
    for (char *line = msg, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strcmp(line, "READY=1") == 0)
            flags |= NOTIFY_READY;
        else if (strcmp(line, "STOPPING=1") == 0)
            flags |= NOTIFY_STOPPING;
        else if (strcmp(line, "WATCHDOG=1") == 0)
            flags |= NOTIFY_WATCHDOG;
        else if (strncmp(line, "STATUS=", 7) == 0) {
            flags |= NOTIFY_STATUS;
            status = line + 7;
        } else if (strncmp(line, "MAINPID=", 8) == 0) {
            flags |= NOTIFY_MAINPID;
        }
    }
    if (flags && n->cb)
        n->cb(n->arg, sender, flags, status);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct notify *n = h->data;
    char buf[4097];
    (void)events;
    if (status < 0)
        return;
    /* A bounded number of datagrams per turn, so a chatty worker cannot hold
     * the loop; the rest stay queued and the poll fires again. */
    for (int i = 0; i < 64 && n->cb; i++) {
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl};
        ssize_t got = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (got < 0)
            break;
        pid_t sender = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                struct ucred uc;
                memcpy(&uc, CMSG_DATA(c), sizeof uc);
                sender = uc.pid;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                /* A worker may pass fds along (FDSTORE=1): never kept. */
                size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t k = 0; k < nfd; k++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    close(fd);
                }
            }
        }
        parse(n, sender, buf, (size_t)got);
    }
}

int notify_open(uv_loop_t *loop, const char *path, bool chown_it, uid_t uid, gid_t gid,
                notify_cb cb, void *arg, struct notify **out)
{
    int rc = 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);

    struct notify *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        rc = -errno;
        free(n);
        return rc;
    }
    /* The sender's credentials with each datagram ([worker] notify_access). */
    int one = 1;
    if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
        rc = -errno;
        close(n->fd);
        free(n);
        return rc;
    }
    snprintf(n->path, sizeof n->path, "%s", path);
    n->cb = cb;
    n->arg = arg;
    /* A socket file left by an earlier tenantd would make bind fail. */
    unlink(path);
    if (bind(n->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = -errno;
        goto cleanup;
    }
    /* The folder is the tenant's: lchown and a no-follow chmod, so a symlink
     * swapped in after bind can only ever change the link itself. */
    if (chown_it && lchown(path, uid, gid) < 0) {
        rc = -errno;
        goto cleanup;
    }
    if (fchmodat(AT_FDCWD, path, 0600, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOTSUP) {
        rc = -errno;
        goto cleanup;
    }
    rc = uv_poll_init(loop, &n->poll, n->fd);
    if (rc < 0)
        goto cleanup;
    n->poll.data = n;
    rc = uv_poll_start(&n->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        /* The handle exists now: it must go through uv_close. */
        notify_close(n);
        return rc;
    }
    *out = n;
    return 0;
cleanup:
    unlink(path);
    close(n->fd);
    free(n);
    return rc;
}

int notify_adopt(uv_loop_t *loop, int fd, const char *path, notify_cb cb, void *arg,
                 struct notify **out)
{
    struct notify *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->fd = fd;
    n->cb = cb;
    n->arg = arg;
    snprintf(n->path, sizeof n->path, "%s", path);
    /* A socket handed over by a tenantd that did not ask for credentials:
     * ask now ([worker] notify_access). */
    int one = 1;
    if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
        int e = -errno;
        free(n);
        return e;
    }
    int rc = uv_poll_init(loop, &n->poll, n->fd);
    if (rc < 0) {
        free(n);
        return rc;
    }
    n->poll.data = n;
    rc = uv_poll_start(&n->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        notify_close(n);
        return rc;
    }
    *out = n;
    return 0;
}

int notify_fd(const struct notify *n)
{
    return n ? n->fd : -1;
}

void notify_drain(struct notify *n)
{
    char buf[64];
    for (int i = 0; i < 1024; i++) {
        if (recv(n->fd, buf, sizeof buf, MSG_DONTWAIT) < 0)
            break;
    }
}

static void on_closed(uv_handle_t *h)
{
    struct notify *n = h->data;
    close(n->fd);
    free(n);
}

void notify_close(struct notify *n)
{
    if (!n)
        return;
    n->cb = NULL;
    unlink(n->path);
    uv_close((uv_handle_t *)&n->poll, on_closed);
}

/* Length of the UTF-8 sequence at p (1..4), 0 when it is not a valid one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu, min = 0x80;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu, min = 0x800;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void notify_clean_status(const char *in, char *out, size_t n)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    if (n == 0)
        return;
    while (*p) {
        size_t l = utf8_len(p);
        if (l <= 1) {
            char c = l == 0 ? '?' : (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
            if (o + 1 >= n)
                break;
            out[o++] = c;
            p++;
            continue;
        }
        if (o + l >= n)
            break;
        memcpy(out + o, p, l);
        o += l;
        p += l;
    }
    out[o] = '\0';
}

size_t notify_footprint(void)
{
    return sizeof(struct notify);
}
