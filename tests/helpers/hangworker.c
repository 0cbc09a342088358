/*
 * hangworker.c — a worker for the fault tests that becomes ready, answers
 * GET /healthz with 200 for a while, then hangs: it stops answering but keeps
 * its process and its listening socket, like an application stuck in a
 * deadlock. tenantd's liveness check must notice and restart it.
 *
 * Worker contract (DESIGN.md): the listening socket is fd 3 when LISTEN_FDS=1,
 * else it binds 127.0.0.1:$PORT itself; READY=1 goes to $NOTIFY_SOCKET when
 * set. HANG_AFTER_MS (default 1000) is how long it serves before hanging.
 * It exits on SIGTERM like any worker, so a stop still works.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int listen_socket(void)
{
    const char *fds = getenv("LISTEN_FDS"), *port = getenv("PORT");
    struct sockaddr_in a = {.sin_family = AF_INET};
    int one = 1, fd;

    if (fds != NULL && atoi(fds) >= 1)
        return 3;
    if (port == NULL)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_port = htons((unsigned short)atoi(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0)
        return -1;
    return fd;
}

static void notify_ready(void)
{
    const char *p = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len;
    int fd;

    if (p == NULL || *p == '\0' || strlen(p) >= sizeof(a.sun_path))
        return;
    len = strlen(p);
    memcpy(a.sun_path, p, len);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = '\0'; /* abstract socket */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&a,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answer one request on a fresh connection with 200 and a tiny JSON body. */
static void answer(int lfd)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 12\r\nConnection: close\r\n\r\n{\"ok\":true}\n";
    char buf[4096];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (c < 0)
        return;
    struct pollfd p = {.fd = c, .events = POLLIN};
    if (poll(&p, 1, 1000) > 0 && read(c, buf, sizeof(buf)) > 0 &&
        write(c, resp, sizeof(resp) - 1) < 0)
        perror("hangworker: write");
    close(c);
}

int main(void)
{
    const char *h = getenv("HANG_AFTER_MS");
    long long hang_at, wait;
    int lfd = listen_socket();

    if (lfd < 0) {
        fprintf(stderr, "hangworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    hang_at = now_ms() + (h ? atoll(h) : 1000);
    notify_ready();
    printf("hangworker: ready, hanging in %s ms\n", h ? h : "1000");
    fflush(stdout);
    while ((wait = hang_at - now_ms()) > 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, (int)wait) > 0)
            answer(lfd);
    }
    printf("hangworker: hanging now\n");
    fflush(stdout);
    /* Stuck: connections queue in the backlog and are never answered. */
    for (;;)
        pause();
}
