/*
 * health.c — see health.h. One probe owns two handles (the TCP stream and its
 * timeout timer); its memory is freed when both close callbacks have run.
 */
#include "health.h"

#include <stdlib.h>
#include <string.h>

struct health_probe {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t conn;
    uv_write_t wr;
    health_cb cb;
    void *arg;
    int open_handles;
    int done;
    size_t len;
    char buf[128];
};

static const char request[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                              "User-Agent: tenantd-health\r\nConnection: close\r\n\r\n";

int health_parse_status(const char *buf, size_t len)
{
    const char *eol = memchr(buf, '\n', len);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
        return UV_EPROTO;
    if (!eol)
        return len > 64 ? UV_EPROTO : -1;
    /* "HTTP/1.1 200 OK": the code is the three digits after the first space. */
    const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp || eol - sp < 4)
        return UV_EPROTO;
    int code = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return UV_EPROTO;
        code = code * 10 + (sp[i] - '0');
    }
    return code;
}

static void on_closed(uv_handle_t *h)
{
    struct health_probe *p = h->data;
    if (--p->open_handles == 0)
        free(p);
}

static void finish(struct health_probe *p, int result)
{
    if (p->done)
        return;
    p->done = 1;
    health_cb cb = p->cb;
    p->cb = NULL;
    uv_close((uv_handle_t *)&p->tcp, on_closed);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    if (cb)
        cb(p->arg, result);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, UV_ETIMEDOUT);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct health_probe *p = h->data;
    (void)suggested;
    b->base = p->buf + p->len;
    b->len = sizeof p->buf - 1 - p->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct health_probe *p = s->data;
    (void)b;
    if (p->done)
        return;
    if (nread < 0) {
        finish(p, nread == UV_EOF ? UV_EPROTO : (int)nread);
        return;
    }
    p->len += (size_t)nread;
    int code = health_parse_status(p->buf, p->len);
    if (code >= 0 || code == UV_EPROTO)
        finish(p, code);
    else if (p->len >= sizeof p->buf - 1)
        finish(p, UV_EPROTO);
}

static void on_written(uv_write_t *w, int status)
{
    struct health_probe *p = w->data;
    if (status < 0)
        finish(p, status);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct health_probe *p = c->data;
    if (p->done)
        return;
    if (status < 0) {
        finish(p, status);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)request, sizeof request - 1);
    p->wr.data = p;
    int rc = uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc < 0)
        finish(p, rc);
}

int health_probe_start(uv_loop_t *loop, int port, int64_t timeout_ms, health_cb cb, void *arg,
                       struct health_probe **out)
{
    struct sockaddr_in sa;
    int rc = uv_ip4_addr("127.0.0.1", port, &sa);
    if (rc < 0)
        return rc;
    struct health_probe *p = calloc(1, sizeof *p);
    if (!p)
        return UV_ENOMEM;
    p->cb = cb;
    p->arg = arg;
    rc = uv_tcp_init(loop, &p->tcp);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->open_handles = 1;
    p->tcp.data = p;
    rc = uv_timer_init(loop, &p->timer);
    if (rc < 0) {
        p->done = 1;
        uv_close((uv_handle_t *)&p->tcp, on_closed);
        return rc;
    }
    p->open_handles = 2;
    p->timer.data = p;
    p->conn.data = p;
    rc = uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&sa, on_connect);
    if (rc == 0)
        rc = uv_timer_start(&p->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    if (rc < 0) {
        p->cb = NULL;
        finish(p, rc);
        return rc;
    }
    *out = p;
    return 0;
}

void health_probe_cancel(struct health_probe *p)
{
    if (!p)
        return;
    p->cb = NULL;
    finish(p, UV_ECANCELED);
}
