/*
 * pingworker.c — a worker for the liveness tests that sends WATCHDOG=1 to
 * $NOTIFY_SOCKET every quarter of $WATCHDOG_USEC (systemd's convention is
 * "at least every half"; a quarter leaves room on a loaded machine), and
 * says on stdout (captured in the tenant's log) each ping it sent and each
 * GET /healthz it was asked, so a test can see that tenantd does not probe a
 * worker that pings. SIGUSR1 stops the pings for good: tenantd must then
 * probe it again.
 *
 * Worker contract (DESIGN.md; plumbing in helper_worker.h): the listening
 * socket is fd 3 when LISTEN_FDS=1, else it binds 127.0.0.1:$PORT itself;
 * READY=1 goes to $NOTIFY_SOCKET. It answers every request with 200 and
 * exits on SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper_worker.h"

static volatile sig_atomic_t quiet;

static void on_usr1(int sig)
{
    (void)sig;
    quiet = 1;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(int lfd)
{
    char buf[4096];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (c < 0)
        return;
    if (hw_read_head(c, buf, sizeof(buf), 1000) >= 0) {
        if (strncmp(buf, "GET /healthz ", 13) == 0)
            printf("pingworker: asked GET /healthz\n");
        fflush(stdout);
        if (hw_respond(c, 200, "application/json", "{\"ok\":true}\n") < 0)
            perror("pingworker: write");
    }
    close(c);
}

int main(void)
{
    const char *wd = getenv("WATCHDOG_USEC");
    long long every = wd ? atoll(wd) / 4000 : 0, next, pings = 0;
    int lfd = hw_listen_socket(64);

    if (lfd < 0) {
        fprintf(stderr, "pingworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    if (every <= 0) {
        fprintf(stderr, "pingworker: no WATCHDOG_USEC in the environment\n");
        return 78;
    }
    signal(SIGUSR1, on_usr1);
    /* The first ping rides with READY=1, so tenantd never sees it ready and
     * silent at once. */
    hw_notify("READY=1\nWATCHDOG=1", NULL);
    printf("pingworker: ping %lld\n", ++pings);
    fflush(stdout);
    next = now_ms() + every;
    for (;;) {
        long long wait = next - now_ms();
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int r = poll(&p, 1, quiet ? -1 : (int)(wait > 0 ? wait : 0));

        if (r > 0)
            answer(lfd);
        else if (r < 0 && errno != EINTR)
            return 1;
        if (!quiet && now_ms() >= next) {
            hw_notify("WATCHDOG=1", NULL);
            printf("pingworker: ping %lld\n", ++pings);
            fflush(stdout);
            next = now_ms() + every;
        }
    }
}
