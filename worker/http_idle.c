/*
 * http_idle.c — scale to zero, the worker's half (DESIGN.md `idle_after`):
 * with IDLE_AFTER_MS set, the worker stops on its own once that long has
 * passed since the last request ended, and no request is in flight. It says
 * why on the notify socket ("STATUS=idle: ..."), stops exactly as on SIGTERM
 * (no new connection accepted, kept-alive ones lingered then closed), and the
 * process exits EXITCODE_IDLE (worker_main.c). The supervisor keeps the
 * listening socket: a connection that arrives meanwhile waits in its backlog
 * and wakes the tenant, so nothing is refused.
 *
 * What counts as a request: every request but the supervisor's probes
 * (GET /healthz, /internal/usage; struct call.probe). A connection alone does
 * not: nginx keeps upstream connections open between requests.
 *
 * The supervisor stops probing once it reads STATUS=idle, so that a probe
 * does not land in the backlog as the worker leaves and wake the tenant at
 * once; a connection already waiting when the period ends keeps the worker.
 *
 * The timer restarts when a counted request ends; a worker that serves
 * nothing after it started (woken by a connection that never sent a request,
 * or started at boot) goes idle one period after it became ready.
 */
#include "http_internal.h"

#include <poll.h>
#include <stdio.h>

#include "log.h"
#include "sdnotify.h"

/* A connection waits in the listening socket's backlog, not accepted yet
 * (it arrived in this loop turn): going idle now would leave it to wake the
 * next worker, for nothing. */
static int connection_waits(void)
{
    uv_os_fd_t fd;
    if (!http_srv.listener_open || uv_fileno(&http_srv.listener.handle, &fd) != 0)
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void on_idle_exit(uv_timer_t *t)
{
    const struct wenv *env = http_srv.env;
    if (http_srv.stopping)
        return;
    if (http_srv.inflight > 0 || http_srv.hashes > 0 || connection_waits()) {
        /* A probe or a long request is in flight, or a connection waits:
         * ask again after it. A counted request re-arms the timer itself
         * when it ends. */
        int64_t again = env->idle_after_ms < 1000 ? env->idle_after_ms : 1000;
        uv_timer_start(t, on_idle_exit, (uint64_t)again, 0);
        return;
    }
    char status[96];
    snprintf(status, sizeof status, "STATUS=idle: no request for %lld ms",
             (long long)env->idle_after_ms);
    sdnotify_send(status);
    http_srv.went_idle = 1;
    http_stop(status + 7);
}

void http_idle_start(void)
{
    if (http_srv.env->idle_after_ms <= 0)
        return;
    uv_timer_init(http_srv.loop, &http_srv.idle_exit);
    http_srv.idle_exit_on = 1;
    uv_timer_start(&http_srv.idle_exit, on_idle_exit, (uint64_t)http_srv.env->idle_after_ms, 0);
}

void http_idle_touch(void)
{
    if (http_srv.idle_exit_on && !http_srv.stopping)
        uv_timer_start(&http_srv.idle_exit, on_idle_exit, (uint64_t)http_srv.env->idle_after_ms, 0);
}

void http_idle_stop(void)
{
    if (http_srv.idle_exit_on)
        uv_timer_stop(&http_srv.idle_exit);
}

void http_idle_close(void)
{
    if (http_srv.idle_exit_on) {
        uv_close((uv_handle_t *)&http_srv.idle_exit, NULL);
        http_srv.idle_exit_on = 0;
    }
}
