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

static void parse(struct notify *n, char *msg, size_t len)
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
        else if (strncmp(line, "STATUS=", 7) == 0) {
            flags |= NOTIFY_STATUS;
            status = line + 7;
        }
    }
    if (flags && n->cb)
        n->cb(n->arg, flags, status);
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
        ssize_t got = recv(n->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (got < 0)
            break;
        parse(n, buf, (size_t)got);
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
