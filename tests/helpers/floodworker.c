/*
 * floodworker.c — a worker for the fault tests that floods its stdout and
 * stderr: FLOOD_BYTES (default 8 MiB) of numbered lines written as fast as
 * the pipe takes them, then a last "flood done" line, while it keeps
 * answering GET /healthz with 200, and GET /flood with {"done":..,"bytes":..}
 * so a test can await the end of the flood. tenantd must keep its log within the
 * tenant's budget, never stall on it, and keep serving the other tenants.
 *
 * Worker contract as in hangworker.c: fd 3 when LISTEN_FDS=1, else binds
 * 127.0.0.1:$PORT; READY=1 to $NOTIFY_SOCKET when set. The output is bounded
 * so a broken tenantd fills a test's disk by at most FLOOD_BYTES.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

static int write_all(int fd, const char *p, size_t n)
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

static long long flooded;
static int flood_finished;

static void *flood(void *arg)
{
    const char *b = getenv("FLOOD_BYTES");
    long long total = b ? atoll(b) : 8LL << 20, done = 0;
    char chunk[65536];
    unsigned long line = 0;

    (void)arg;
    while (done < total) {
        size_t used = 0;
        while (used + 128 < sizeof(chunk)) {
            int r = snprintf(chunk + used, sizeof(chunk) - used,
                             "flood line %lu xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxx\n",
                             line++);
            used += (size_t)r;
        }
        /* Alternate the streams: both pipes must be drained by tenantd. */
        if (write_all((line / 512) % 2 ? 2 : 1, chunk, used) < 0)
            return NULL;
        done += (long long)used;
        __atomic_store_n(&flooded, done, __ATOMIC_RELAXED);
    }
    write_all(1, "flood done\n", 11);
    __atomic_store_n(&flood_finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void answer(int lfd)
{
    char buf[4096], body[128], resp[512];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), n;
    ssize_t r = 0;

    if (c < 0)
        return;
    struct pollfd p = {.fd = c, .events = POLLIN};
    if (poll(&p, 1, 1000) > 0)
        r = read(c, buf, sizeof(buf) - 1);
    if (r > 0) {
        buf[r] = '\0';
        if (strncmp(buf, "GET /flood ", 11) == 0)
            snprintf(body, sizeof(body), "{\"done\":%s,\"bytes\":%lld}\n",
                     __atomic_load_n(&flood_finished, __ATOMIC_ACQUIRE) ? "true" : "false",
                     __atomic_load_n(&flooded, __ATOMIC_RELAXED));
        else
            snprintf(body, sizeof(body), "{\"ok\":true}\n");
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
        write_all(c, resp, (size_t)n);
    }
    close(c);
}

int main(void)
{
    pthread_t th;
    int lfd = listen_socket();

    if (lfd < 0) {
        fprintf(stderr, "floodworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    notify_ready();
    if (pthread_create(&th, NULL, flood, NULL) != 0)
        return 1;
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, -1) > 0)
            answer(lfd);
    }
}
