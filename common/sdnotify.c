/*
 * sdnotify.c — see sdnotify.h: parsing a NOTIFY_SOCKET address and sending
 * one datagram to it. No state, no loop: tenantd's rate limiting and its
 * long-lived socket are in supervisor/tenantd/svcnotify.c.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sdnotify_parse_addr(const char *value, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = value ? strlen(value) : 0;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (n < 2 || (value[0] != '/' && value[0] != '@'))
        return -EINVAL;
    if (n > sizeof sa->sun_path || (value[0] == '/' && n == sizeof sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, value, n);
    if (value[0] == '@') {
        /* An abstract address is exactly its bytes: no terminating NUL. */
        sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int sdnotify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen = 0;
    int fd, ret = 0;

    if (path == NULL || path[0] == '\0')
        return 0;
    ret = sdnotify_parse_addr(path, &sa, &salen);
    if (ret < 0)
        return ret;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
        ret = -errno;
    close(fd);
    return ret;
}
