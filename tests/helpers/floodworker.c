/*
 * floodworker.c — a worker for the fault tests that floods its stdout and
 * stderr: FLOOD_BYTES (default 8 MiB) of numbered lines written as fast as
 * the pipe takes them, then a last "flood done" line, while it keeps
 * answering GET /healthz with 200, and GET /flood with {"done":..,"bytes":..}
 * so a test can await the end of the flood. tenantd must keep its log within the
 * tenant's budget, never stall on it, and keep serving the other tenants.
 *
 * Worker contract through helper_worker.h: fd 3 when LISTEN_FDS=1, else binds
 * 127.0.0.1:$PORT; READY=1 to $NOTIFY_SOCKET when set. The output is bounded
 * so a broken tenantd fills a test's disk by at most FLOOD_BYTES.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper_worker.h"

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
        if (hw_write_all((line / 512) % 2 ? 2 : 1, chunk, used) < 0)
            return NULL;
        done += (long long)used;
        __atomic_store_n(&flooded, done, __ATOMIC_RELAXED);
    }
    hw_write_all(1, "flood done\n", 11);
    __atomic_store_n(&flood_finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void answer(int lfd)
{
    char buf[4096], body[128];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (c < 0)
        return;
    if (hw_read_head(c, buf, sizeof(buf), 1000) >= 0) {
        if (strncmp(buf, "GET /flood ", 11) == 0)
            snprintf(body, sizeof(body), "{\"done\":%s,\"bytes\":%lld}\n",
                     __atomic_load_n(&flood_finished, __ATOMIC_ACQUIRE) ? "true" : "false",
                     __atomic_load_n(&flooded, __ATOMIC_RELAXED));
        else
            snprintf(body, sizeof(body), "{\"ok\":true}\n");
        hw_respond(c, 200, "application/json", body);
    }
    close(c);
}

int main(void)
{
    pthread_t th;
    int lfd = hw_listen_socket(64);

    if (lfd < 0) {
        fprintf(stderr, "floodworker: no listening socket (LISTEN_FDS or PORT)\n");
        return 78;
    }
    hw_notify("READY=1", NULL);
    if (pthread_create(&th, NULL, flood, NULL) != 0)
        return 1;
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, -1) > 0)
            answer(lfd);
    }
}
