/*
 * hangworker.c — a worker for the fault tests that becomes ready, answers
 * GET /healthz with 200 for a while, then hangs: it stops answering but keeps
 * its process and its listening socket, like an application stuck in a
 * deadlock. tenantd's liveness check must notice and restart it.
 *
 * Worker contract (DESIGN.md; plumbing in helper_worker.h): the listening
 * socket is fd 3 when LISTEN_FDS=1, else it binds 127.0.0.1:$PORT itself;
 * READY=1 goes to $NOTIFY_SOCKET when set. HANG_AFTER_MS (default 1000) is
 * how long it serves before hanging. It exits on SIGTERM like any worker, so
 * a stop still works.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper_worker.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answer one request on a fresh connection with 200 and a tiny JSON body. */
static void answer(int lfd)
{
    char buf[4096];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (c < 0)
        return;
    if (hw_read_head(c, buf, sizeof(buf), 1000) >= 0 &&
        hw_respond(c, 200, "application/json", "{\"ok\":true}\n") < 0)
        perror("hangworker: write");
    close(c);
}

int main(void)
{
    const char *h = getenv("HANG_AFTER_MS");
    long long hang_at, wait;
    int lfd = hw_listen_socket(64);

    if (lfd < 0) {
        fprintf(stderr, "hangworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    hang_at = now_ms() + (h ? atoll(h) : 1000);
    hw_notify("READY=1", NULL);
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
