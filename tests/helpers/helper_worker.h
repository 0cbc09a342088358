/*
 * helper_worker.h — the worker-contract plumbing the test workers share
 * (miniworker.c, memhog.c, hangworker.c, floodworker.c, echoworker.c). Each
 * helper is compiled alone, so this is a header of static inline functions,
 * included with quotes:
 *
 *   hw_listen_socket  the passed socket (fd 3 when LISTEN_FDS=1) or our own
 *                     on 127.0.0.1:$PORT
 *   hw_catch_term     a handler for SIGTERM and SIGINT, SIGPIPE ignored
 *   hw_notify         one datagram such as READY=1 to $NOTIFY_SOCKET
 *   hw_write_all      write(2) until all is written
 *   hw_read_head      read one HTTP/1.1 request head, with a timeout
 *   hw_respond        write a whole HTTP/1.1 response with Connection: close
 *
 * Test code only. The reader and responder serve one request per connection
 * (no keep-alive, no request bodies, small responses).
 */
#ifndef TENANTD_TESTS_HELPER_WORKER_H
#define TENANTD_TESTS_HELPER_WORKER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/* The listening socket: fd 3 when LISTEN_FDS is 1 or more (tenantd passed
 * it), else a new socket bound to 127.0.0.1:$PORT (SO_REUSEADDR) listening
 * with `backlog`. -1 with errno set when there is neither. */
static inline int hw_listen_socket(int backlog)
{
    const char *fds = getenv("LISTEN_FDS"), *port = getenv("PORT");
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int one = 1, fd, err;

    if (fds != NULL && atoi(fds) >= 1)
        return 3;
    if (port == NULL) {
        errno = EINVAL;
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sa.sin_port = htons((unsigned short)atoi(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Call `on_term` on SIGTERM and SIGINT, without SA_RESTART so that a blocking
 * accept(2) returns EINTR and the loop around it sees its flag; ignore
 * SIGPIPE, so a write to a closed connection fails with EPIPE instead. */
static inline void hw_catch_term(void (*on_term)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Send `msg` (e.g. "READY=1") as one datagram to $NOTIFY_SOCKET, a path or an
 * abstract "@name"; nothing when it is unset, empty or too long. When the send
 * fails and `who` is not NULL, says so on stderr as "<who>: notify: ...". */
static inline void hw_notify(const char *msg, const char *who)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    int fd;

    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof sa.sun_path)
        return;
    len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract socket */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0 &&
        who != NULL)
        fprintf(stderr, "%s: notify: %s\n", who, strerror(errno));
    close(fd);
}

/* Write all `n` bytes of `p` to `fd`, retrying on EINTR and short writes.
 * 0, or -1 with errno set. */
static inline int hw_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read a request head from connection `c` into `buf` (NUL-terminated): until
 * the blank line that ends it or `buf` is full, each read waiting at most
 * `timeout_ms`. Its length, or -1 when the peer closed, a read failed or timed
 * out before the head was complete. */
static inline ssize_t hw_read_head(int c, char *buf, size_t size, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    size_t len = 0;

    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    buf[0] = '\0';
    while (len < size - 1) {
        ssize_t n = read(c, buf + len, size - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    return (ssize_t)len;
}

/* Write a whole HTTP/1.1 response on `c`: `status` (reason "OK" for 200,
 * "Error" otherwise), Content-Type `ctype`, `body` with its Content-Length,
 * Connection: close. 0, or -1 with errno set (EMSGSIZE: body too large). */
static inline int hw_respond(int c, int status, const char *ctype, const char *body)
{
    char resp[1024];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Error", ctype, strlen(body), body);

    if (n < 0 || (size_t)n >= sizeof resp) {
        errno = EMSGSIZE;
        return -1;
    }
    return hw_write_all(c, resp, (size_t)n);
}

#endif
