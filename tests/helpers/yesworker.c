/*
 * yesworker.c — a worker for tests/integration/test_containment.py that
 * behaves like `yes` on its stdout: 64 KiB writes of "y\n" lines, forever, as
 * fast as the pipe takes them. Before that it prints one line laden with
 * terminal escape sequences (clear screen, a window title, a bell, CSI as the
 * C1 control U+009B), which tenantd must write to the log escaped. It answers
 * GET /flood with {"bytes": N}, the bytes written so far, so a test can see
 * the rate tenantd lets through, and anything else (GET /healthz) with 200.
 *
 * Worker contract through helper_worker.h: fd 3 when LISTEN_FDS=1, else binds
 * 127.0.0.1:$PORT; READY=1 to $NOTIFY_SOCKET when set; SIGTERM exits 0.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper_worker.h"

static long long written;

static void *flood(void *arg)
{
    static const char planted[] = "planted \x1b[2J\x1b]0;owned\x07 \xc2\x9b"
                                  "31m red \x1b[0m end\n";
    char chunk[65536];
    (void)arg;
    for (size_t i = 0; i + 1 < sizeof chunk; i += 2)
        memcpy(chunk + i, "y\n", 2);
    if (hw_write_all(1, planted, sizeof planted - 1) < 0)
        return NULL;
    for (;;) {
        if (hw_write_all(1, chunk, sizeof chunk) < 0)
            return NULL;
        __atomic_add_fetch(&written, (long long)sizeof chunk, __ATOMIC_RELAXED);
    }
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static void answer(int lfd)
{
    char buf[4096], body[64];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    if (hw_read_head(c, buf, sizeof buf, 1000) >= 0) {
        if (strncmp(buf, "GET /flood ", 11) == 0)
            snprintf(body, sizeof body, "{\"bytes\":%lld}\n",
                     __atomic_load_n(&written, __ATOMIC_RELAXED));
        else
            snprintf(body, sizeof body, "{\"ok\":true}\n");
        hw_respond(c, 200, "application/json", body);
    }
    close(c);
}

int main(void)
{
    pthread_t th;
    int lfd = hw_listen_socket(64);
    if (lfd < 0) {
        fprintf(stderr, "yesworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    hw_catch_term(on_term);
    hw_notify("READY=1", NULL);
    if (pthread_create(&th, NULL, flood, NULL) != 0)
        return 1;
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, -1) > 0)
            answer(lfd);
    }
}
