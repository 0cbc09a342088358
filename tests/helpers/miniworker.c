/*
 * miniworker.c — a minimal worker for the supervisor's integration tests, so
 * they do not depend on the real tenant-worker. It follows the worker
 * contract (plumbing in helper_worker.h): it serves on the passed socket
 * (fd 3, LISTEN_FDS=1) or binds 127.0.0.1:$PORT itself, sends READY=1 to
 * $NOTIFY_SOCKET, answers GET /healthz with 200 and GET / with its pid, and
 * exits 0 on SIGTERM. With IDLE_AFTER_MS (scale to zero, the contract of
 * docs/operations.md) it exits 112 after that long without a request other
 * than GET /healthz, having said STATUS=idle: a third-party worker that idles.
 * Its accept() is blocking, as in many simple servers.
 *
 * Test knobs are files in $DATA_DIR, read at each request or at start:
 *   no-ready    do not send READY=1 (readiness must come from /healthz)
 *   unhealthy   answer /healthz with 500
 *   reminders-garbage  answer GET /internal/reminders with 200 and a body
 *               that is not JSON (tests/integration/test_reminders.py)
 * What it does not do: keep-alive, request bodies, anything concurrent.
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

#include "exitcode.h"
#include "helper_worker.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int knob(const char *name)
{
    const char *dir = getenv("DATA_DIR");
    char path[4096];
    if (!dir)
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serve one request; 1 when it was a probe (not activity). */
static int serve(int c)
{
    char req[4096], body[128];
    if (hw_read_head(c, req, sizeof req, 2000) < 0)
        return 0;
    int status = 200, probe = 0;
    if (strncmp(req, "GET /healthz ", 13) == 0) {
        probe = 1;
        status = knob("unhealthy") ? 500 : 200;
        snprintf(body, sizeof body, "%s\n", status == 200 ? "ok" : "unhealthy");
    } else if (strncmp(req, "GET / ", 6) == 0) {
        snprintf(body, sizeof body, "pid=%d\n", (int)getpid());
    } else if (strncmp(req, "GET /internal/reminders?", 24) == 0 && knob("reminders-garbage")) {
        /* A worker gone wrong: 200 with what is not the JSON tenantd expects. */
        probe = 1;
        snprintf(body, sizeof body, "{\"reminders\": [{\"id\": \"1-48h\r\nBcc: x@y\"}], garbage\n");
    } else {
        status = 404;
        snprintf(body, sizeof body, "not found\n");
    }
    hw_respond(c, status, "text/plain", body);
    return probe;
}

int main(void)
{
    hw_catch_term(on_term);
    int fd = hw_listen_socket(128);
    if (fd < 0) {
        fprintf(stderr, "miniworker: no socket\n");
        return 1;
    }
    printf("miniworker %d serving\n", (int)getpid());
    fflush(stdout);
    if (!knob("no-ready"))
        hw_notify("READY=1\nSTATUS=serving", "miniworker");
    const char *idle = getenv("IDLE_AFTER_MS");
    long long idle_ms = idle ? atoll(idle) : 0, last = now_ms();
    while (!stop) {
        if (idle_ms > 0) {
            long long left = last + idle_ms - now_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = left > 0 ? poll(&p, 1, (int)left) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                hw_notify("STATUS=idle", "miniworker");
                fprintf(stderr, "miniworker: idle, exiting %d\n", EXITCODE_IDLE);
                return EXITCODE_IDLE;
            }
        }
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "miniworker: accept: %s\n", strerror(errno));
            return 1;
        }
        if (!serve(c))
            last = now_ms();
        close(c);
    }
    fprintf(stderr, "miniworker: SIGTERM, exiting\n");
    return 0;
}
