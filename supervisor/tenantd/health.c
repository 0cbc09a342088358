/*
 * health.c — see health.h.
 *
 * A struct health lives as long as its tenant and owns one timer (the
 * probe's timeout). Each TCP connection is a struct link of its own, because
 * a closed uv_tcp_t cannot be reused: a link is freed in its close callback,
 * and a late callback of a dropped link finds link->h == NULL and does
 * nothing, so the struct health may go (once its timer is closed) while old
 * links are still closing.
 */
#include "health.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINK_BUF 1024

struct link {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    struct health *h; /* NULL once dropped */
    int connected;
    size_t len;
    char buf[LINK_BUF];
};

struct health {
    uv_loop_t *loop;
    int port;
    health_cb cb;
    void *arg;
    uv_timer_t timer;
    struct link *link; /* the current connection, or NULL */
    int in_flight;
    int reused;  /* the probe in flight went out on a reused connection */
    int handles; /* the timer, until closed (links are freed on their own) */
    int freeing;
    int64_t timeout_ms;
    int oneshot; /* probes too far apart to keep the connection: close it */
};

static const char request[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                              "User-Agent: tenantd-health\r\n\r\n";
static const char request_close[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                                    "User-Agent: tenantd-health\r\nConnection: close\r\n\r\n";

int health_parse_response(const char *buf, size_t len, size_t *total, int *keep)
{
    *total = 0;
    *keep = 0;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
        return UV_EPROTO;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    }
    if (!end)
        return len >= LINK_BUF - 1 ? UV_EPROTO : -1;
    const char *eol = memchr(buf, '\n', (size_t)(end - buf));
    const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp || eol - sp < 4)
        return UV_EPROTO;
    int code = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return UV_EPROTO;
        code = code * 10 + (sp[i] - '0');
    }
    /* HTTP/1.1 keeps the connection unless told otherwise; reuse also needs
     * a known body length, or the next reply could not be found. */
    int http11 = memcmp(buf, "HTTP/1.1", 8) == 0;
    int close_hdr = 0;
    long long cl = -1;
    for (const char *p = eol + 1; p < end - 2;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            break;
        size_t n = (size_t)(e - p);
        if (n > 15 && strncasecmp(p, "content-length:", 15) == 0)
            cl = strtoll(p + 15, NULL, 10);
        else if (n > 11 && strncasecmp(p, "connection:", 11) == 0) {
            const char *v = p + 11;
            while (*v == ' ')
                v++;
            close_hdr = strncasecmp(v, "close", 5) == 0;
        }
        p = e + 1;
    }
    if (cl >= 0 && cl < LINK_BUF) {
        *total = (size_t)(end - buf) + (size_t)cl;
        *keep = http11 && !close_hdr;
    }
    return code;
}

static void maybe_free(struct health *h)
{
    if (h->freeing && h->handles == 0)
        free(h);
}

static void link_closed(uv_handle_t *hd)
{
    free(hd->data);
}

/* Forget the current connection; its memory goes in its close callback. */
static void link_drop(struct health *h)
{
    struct link *l = h->link;
    if (!l)
        return;
    h->link = NULL;
    l->h = NULL;
    uv_close((uv_handle_t *)&l->tcp, link_closed);
}

static void finish(struct health *h, int result, int keep)
{
    if (!h->in_flight)
        return;
    h->in_flight = 0;
    uv_timer_stop(&h->timer);
    if (!keep)
        link_drop(h);
    else
        h->link->len = 0;
    h->cb(h->arg, result);
}

void health_set_interval(struct health *h, int64_t interval_ms)
{
    h->oneshot = interval_ms >= HEALTH_KEEP_MAX_MS;
}

static void send_request(struct health *h);
static void open_link(struct health *h);

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    struct link *l = hd->data;
    (void)suggested;
    b->base = l->buf + l->len;
    b->len = sizeof l->buf - 1 - l->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct link *l = s->data;
    struct health *h = l->h;
    (void)b;
    if (!h)
        return;
    if (nread < 0) {
        if (!h->in_flight) {
            /* The worker closed an idle connection: fine, reconnect later. */
            link_drop(h);
        } else if (h->reused && l->len == 0) {
            /* It closed the kept connection just as we reused it: retry once
             * on a fresh connection before calling it a failure. */
            link_drop(h);
            h->reused = 0;
            open_link(h);
        } else {
            finish(h, nread == UV_EOF ? UV_EPROTO : (int)nread, 0);
        }
        return;
    }
    if (!h->in_flight) {
        /* Bytes nobody asked for: the stream is out of step, drop it. */
        link_drop(h);
        return;
    }
    l->len += (size_t)nread;
    size_t total;
    int keep;
    int code = health_parse_response(l->buf, l->len, &total, &keep);
    if (code == -1)
        return;
    if (code < 0) {
        finish(h, code, 0);
        return;
    }
    if (total == 0) {
        /* No length: the status is enough, the connection is not reusable. */
        finish(h, code, 0);
        return;
    }
    if (l->len < total)
        return;
    finish(h, code, keep && l->len == total && !h->oneshot);
}

static void on_written(uv_write_t *w, int status)
{
    struct link *l = w->data;
    if (status < 0 && l->h && l->h->link == l)
        finish(l->h, status, 0);
}

static void send_request(struct health *h)
{
    struct link *l = h->link;
    uv_buf_t b = h->oneshot ? uv_buf_init((char *)request_close, sizeof request_close - 1)
                            : uv_buf_init((char *)request, sizeof request - 1);
    l->len = 0;
    l->wr.data = l;
    /* The request is small and the kept connection idle, so it goes out in
     * one write(2). uv_write would also arm and disarm write interest,
     * which costs an epoll_ctl per probe: a third of the system calls of an
     * idle tenantd. The queue is only a fallback. */
    int rc = uv_try_write((uv_stream_t *)&l->tcp, &b, 1);
    if (rc == (int)b.len)
        return;
    if (rc > 0) {
        b.base += rc;
        b.len -= (size_t)rc;
    } else if (rc != UV_EAGAIN) {
        finish(h, rc, 0);
        return;
    }
    rc = uv_write(&l->wr, (uv_stream_t *)&l->tcp, &b, 1, on_written);
    if (rc < 0)
        finish(h, rc, 0);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct link *l = c->data;
    struct health *h = l->h;
    if (!h)
        return;
    if (status < 0) {
        finish(h, status, 0);
        return;
    }
    l->connected = 1;
    int rc = uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read);
    if (rc < 0) {
        finish(h, rc, 0);
        return;
    }
    send_request(h);
}

static void open_link(struct health *h)
{
    struct sockaddr_in sa;
    int rc = uv_ip4_addr("127.0.0.1", h->port, &sa);
    struct link *l = rc == 0 ? calloc(1, sizeof *l) : NULL;
    if (!l) {
        finish(h, rc < 0 ? rc : UV_ENOMEM, 0);
        return;
    }
    rc = uv_tcp_init(h->loop, &l->tcp);
    if (rc < 0) {
        free(l);
        finish(h, rc, 0);
        return;
    }
    l->tcp.data = l;
    l->conn.data = l;
    l->h = h;
    h->link = l;
    rc = uv_tcp_connect(&l->conn, &l->tcp, (const struct sockaddr *)&sa, on_connect);
    if (rc < 0)
        finish(h, rc, 0);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, UV_ETIMEDOUT, 0);
}

static void timer_closed(uv_handle_t *hd)
{
    struct health *h = hd->data;
    h->handles--;
    maybe_free(h);
}

int health_new(uv_loop_t *loop, int port, health_cb cb, void *arg, struct health **out)
{
    struct health *h = calloc(1, sizeof *h);
    if (!h)
        return UV_ENOMEM;
    h->loop = loop;
    h->port = port;
    h->cb = cb;
    h->arg = arg;
    int rc = uv_timer_init(loop, &h->timer);
    if (rc < 0) {
        free(h);
        return rc;
    }
    h->timer.data = h;
    h->handles = 1;
    *out = h;
    return 0;
}

int health_probe(struct health *h, int64_t timeout_ms)
{
    if (h->in_flight)
        return UV_EBUSY;
    h->in_flight = 1;
    h->timeout_ms = timeout_ms;
    uv_timer_start(&h->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    if (h->link && h->link->connected) {
        h->reused = 1;
        send_request(h);
    } else {
        h->reused = 0;
        link_drop(h);
        open_link(h);
    }
    return 0;
}

void health_reset(struct health *h)
{
    if (!h)
        return;
    h->in_flight = 0;
    uv_timer_stop(&h->timer);
    link_drop(h);
}

void health_set_port(struct health *h, int port)
{
    if (h->port != port) {
        health_reset(h);
        h->port = port;
    }
}

void health_free(struct health *h)
{
    if (!h)
        return;
    health_reset(h);
    h->freeing = 1;
    uv_close((uv_handle_t *)&h->timer, timer_closed);
}

size_t health_footprint(bool probing)
{
    return sizeof(struct health) + (probing ? sizeof(struct link) : 0);
}
