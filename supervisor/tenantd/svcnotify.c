/*
 * svcnotify.c — see svcnotify.h. One unconnected datagram socket; a message
 * that cannot be sent (the manager is gone, its queue is full) is dropped
 * with a debug line: tenantd's tenants matter more than its status line.
 */
#include "svcnotify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

struct svcnotify {
    uv_loop_t *loop;
    struct sup *sup;
    int fd;
    struct sockaddr_un sa;
    socklen_t salen;
    bool admin_up;
    bool ready_sent;
    bool stopping;
    uv_timer_t timer; /* the trailing STATUS of a burst of changes */
    uint64_t status_at;
    char status[64]; /* the last STATUS= sent */
};

void svcnotify_format_status(char *buf, size_t n, const struct sup_counts *c)
{
    /* Most of 10,000 tenants may be idle: then they are counted too. */
    if (c->idle > 0)
        snprintf(buf, n, "STATUS=%zu running, %zu idle, %zu failed", c->running, c->idle,
                 c->failed);
    else
        snprintf(buf, n, "STATUS=%zu running, %zu failed", c->running, c->failed);
}

static void say(struct svcnotify *n, const char *msg)
{
    if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&n->sa, n->salen) < 0)
        log_debug(NULL, "sd_notify \"%s\": %s", msg, strerror(errno));
}

static void on_timer(uv_timer_t *h);

/* STATUS= when the counts changed, rate-limited: a boot storm of a thousand
 * tenants is a few lines, and the last one always goes out. */
static void send_status(struct svcnotify *n)
{
    struct sup_counts c;
    char line[sizeof n->status];
    if (n->stopping || !n->sup)
        return;
    sup_get_counts(n->sup, &c);
    svcnotify_format_status(line, sizeof line, &c);
    if (strcmp(line, n->status) == 0)
        return;
    uint64_t now = uv_now(n->loop);
    if (n->status[0] && now < n->status_at + SDNOTIFY_STATUS_MIN_MS) {
        if (!uv_is_active((uv_handle_t *)&n->timer))
            uv_timer_start(&n->timer, on_timer, n->status_at + SDNOTIFY_STATUS_MIN_MS - now, 0);
        return;
    }
    snprintf(n->status, sizeof n->status, "%s", line);
    n->status_at = now;
    say(n, line);
}

static void maybe_ready(struct svcnotify *n)
{
    struct sup_counts c;
    if (n->ready_sent || n->stopping || !n->admin_up || !n->sup)
        return;
    sup_get_counts(n->sup, &c);
    if (c.boot_pending > 0)
        return;
    n->ready_sent = true;
    log_info(NULL, "ready: the admin API listens and every tenant had its first start attempt");
    say(n, "READY=1");
}

static void on_event(struct sup *s, enum sup_event ev, void *arg)
{
    struct svcnotify *n = arg;
    (void)s;
    if (n->stopping)
        return;
    switch (ev) {
    case SUP_EV_STATES:
        maybe_ready(n);
        send_status(n);
        break;
    case SUP_EV_RELOADING:
        if (n->ready_sent)
            say(n, "RELOADING=1");
        break;
    case SUP_EV_RELOADED:
        if (n->ready_sent)
            say(n, "READY=1");
        send_status(n);
        break;
    }
}

static void on_timer(uv_timer_t *h)
{
    send_status(h->data);
}

int svcnotify_open(uv_loop_t *loop, struct svcnotify **out)
{
    *out = NULL;
    const char *v = getenv("NOTIFY_SOCKET");
    if (!v)
        return 0;
    struct sockaddr_un sa;
    socklen_t len = 0;
    int rc = sdnotify_parse_addr(v, &sa, &len);
    unsetenv("NOTIFY_SOCKET");
    if (rc < 0)
        return rc;
    struct svcnotify *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        rc = -errno;
        free(n);
        return rc;
    }
    n->loop = loop;
    n->sa = sa;
    n->salen = len;
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    *out = n;
    return 0;
}

void svcnotify_attach(struct svcnotify *n, struct sup *s)
{
    if (!n)
        return;
    n->sup = s;
    sup_set_event_hook(s, on_event, n);
}

void svcnotify_admin_ready(struct svcnotify *n)
{
    if (!n)
        return;
    n->admin_up = true;
    maybe_ready(n);
    send_status(n);
}

void svcnotify_stopping(struct svcnotify *n)
{
    if (!n || n->stopping)
        return;
    n->stopping = true;
    uv_timer_stop(&n->timer);
    say(n, "STOPPING=1");
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void svcnotify_close(struct svcnotify *n)
{
    if (!n)
        return;
    if (n->sup)
        sup_set_event_hook(n->sup, NULL, NULL);
    close(n->fd);
    uv_close((uv_handle_t *)&n->timer, on_closed);
}
