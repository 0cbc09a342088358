/*
 * idle.c — see idle.h. One uv_poll_t on the tenant's listening socket, only
 * while the tenant is idle. The poll never accepts: the connection stays in
 * the backlog for the worker that the wake-up starts, so nothing is refused
 * and nothing is proxied through tenantd.
 *
 * A tenant that may idle also starts idle: at tenantd's start-up or when its
 * file is added, it is parked (EV_PARK, sup_idle_park) with its socket bound
 * and watched, so booting 10,000 such tenants binds 10,000 sockets and
 * starts no worker.
 *
 * What it does not do: decide when a tenant is idle (the worker does, see
 * idle.h), or start the worker (sup_exec.c performs EV_WAKE's spawn).
 */
#include "idle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <uv.h>

#include "log.h"
#include "sup_internal.h"

struct idle_watch {
    uv_poll_t poll;
    struct tenant *t; /* NULL once unwatched, while the handle closes */
};

bool sup_idle_applies(const struct tenant *t)
{
    return t->have_cfg && t->cfg.idle_after_ms > 0 && t->cfg.socket == WORKER_SOCKET_PASSED &&
           t->listen_fd >= 0 && t->listen_port == t->cfg.port;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_idle_readable(uv_poll_t *h, int status, int events)
{
    struct idle_watch *w = h->data;
    struct tenant *t = w->t;
    (void)events;
    if (t == NULL)
        return;
    sup_idle_unwatch(t);
    if (status < 0)
        log_warn(t->id, "idle: polling the socket failed (%s): starting the worker",
                 uv_strerror(status));
    t->wakeups++;
    log_info(t->id, "idle: a connection waits: starting the worker (wake-up %llu)",
             (unsigned long long)t->wakeups);
    sup_tenant_feed(t, EV_WAKE);
}

int sup_idle_watch(struct tenant *t)
{
    if (t->idle)
        return 0;
    if (t->listen_fd < 0 || t->closing)
        return -EBADF;
    struct idle_watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    /* uv_poll_init makes the fd non-blocking, and the flag belongs to the
     * open socket the worker shares: a third-party worker may rely on a
     * blocking accept(), so the flags are put back as they were. */
    int flags = fcntl(t->listen_fd, F_GETFL);
    int rc = uv_poll_init(t->s->loop, &w->poll, t->listen_fd);
    if (flags >= 0)
        (void)fcntl(t->listen_fd, F_SETFL, flags);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->t = t;
    w->poll.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, on_idle_readable);
    if (rc < 0) {
        uv_close((uv_handle_t *)&w->poll, on_closed);
        return rc;
    }
    t->idle = w;
    return 0;
}

void sup_idle_unwatch(struct tenant *t)
{
    struct idle_watch *w = t->idle;
    if (!w)
        return;
    t->idle = NULL;
    w->t = NULL;
    uv_close((uv_handle_t *)&w->poll, on_closed);
}

void sup_idle_park(struct tenant *t)
{
    int rc = sup_idle_watch(t);
    if (rc < 0) {
        /* Cannot watch the socket: a worker must accept, so start one now. */
        log_error(t->id, "idle: cannot watch 127.0.0.1:%d (%s): starting the worker",
                  t->listen_port, strerror(-rc));
        sup_tenant_feed(t, EV_START);
        return;
    }
    /* Parked is its first start attempt, as far as tenantd's READY=1 goes. */
    if (t->boot_attempt) {
        t->boot_attempt = false;
        sup_states_changed(t->s);
    }
    log_info(t->id, "idle: no worker until the first connection on 127.0.0.1:%d", t->listen_port);
}

int sup_tenant_wake(struct sup *s, const char *id)
{
    struct tenant *t = sup_find(s, id);
    if (t == NULL)
        return -ENOENT;
    if (t->state != TS_IDLE)
        return -EINVAL;
    log_info(t->id, "idle: woken by tenantd to finish its onboarding");
    sup_tenant_feed(t, EV_START);
    return 0;
}
