/*
 * usage_fetch.c — see usage_fetch.h.
 *
 * One struct per fetch owns a TCP handle and a timer; it is freed in the
 * close callback of the second of them. The request says "Connection:
 * close", so the answer ends at EOF (or at its Content-Length, whichever
 * comes first); the head is read with health_parse_response.
 */
#include "usage_fetch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

struct usage_fetch {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    uv_timer_t timer;
    usage_fetch_cb cb;
    void *arg;
    int handles; /* open handles; freed at 0 */
    bool done;   /* the callback ran or the fetch was cancelled */
    size_t reqlen, len;
    char req[512];
    char buf[USAGE_FETCH_MAX + 1];
};

static void on_closed(uv_handle_t *h)
{
    struct usage_fetch *f = h->data;
    if (--f->handles == 0)
        free(f);
}

static void close_all(struct usage_fetch *f)
{
    f->done = true;
    uv_timer_stop(&f->timer);
    if (!uv_is_closing((uv_handle_t *)&f->tcp))
        uv_close((uv_handle_t *)&f->tcp, on_closed);
    if (!uv_is_closing((uv_handle_t *)&f->timer))
        uv_close((uv_handle_t *)&f->timer, on_closed);
}

static void finish(struct usage_fetch *f, int result)
{
    if (f->done)
        return;
    const char *body = NULL;
    size_t blen = 0;
    if (result > 0) {
        const char *end = memmem(f->buf, f->len, "\r\n\r\n", 4);
        if (end == NULL) {
            result = UV_EPROTO;
        } else {
            body = end + 4;
            blen = f->len - (size_t)(body - f->buf);
        }
    }
    f->done = true;
    f->cb(f->arg, result, body, blen);
    close_all(f);
}

/* The status when the whole answer is in, -1 when more is needed. */
static int parse(struct usage_fetch *f, bool eof)
{
    size_t total;
    int keep;
    /* health_parse_response wants the head within its own small buffer
     * size, which a worker's head is; it only knows Content-Length when the
     * body is small too, so the end of a larger body is the EOF. */
    int code = health_parse_response(f->buf, f->len, &total, &keep);
    if (code == -1)
        return eof ? UV_EPROTO : -1;
    if (code < 0)
        return code;
    if (total > 0 && f->len >= total) {
        f->len = total;
        return code;
    }
    return eof ? code : -1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct usage_fetch *f = h->data;
    (void)suggested;
    b->base = f->buf + f->len;
    b->len = USAGE_FETCH_MAX - f->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct usage_fetch *f = s->data;
    (void)b;
    if (f->done || nread == 0)
        return;
    if (nread < 0) {
        finish(f, nread == UV_EOF ? parse(f, true) : (int)nread);
        return;
    }
    f->len += (size_t)nread;
    int r = parse(f, false);
    if (r != -1)
        finish(f, r);
    else if (f->len >= USAGE_FETCH_MAX)
        finish(f, UV_EPROTO);
}

static void on_written(uv_write_t *w, int status)
{
    struct usage_fetch *f = w->data;
    if (status < 0)
        finish(f, status);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct usage_fetch *f = c->data;
    if (f->done)
        return;
    if (status < 0) {
        finish(f, status);
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read);
    if (rc == 0) {
        uv_buf_t b = uv_buf_init(f->req, (unsigned)f->reqlen);
        rc = uv_write(&f->wr, (uv_stream_t *)&f->tcp, &b, 1, on_written);
    }
    if (rc < 0)
        finish(f, rc);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, UV_ETIMEDOUT);
}

int usage_fetch_start(uv_loop_t *loop, int port, const char *token, int64_t timeout_ms,
                      usage_fetch_cb cb, void *arg, struct usage_fetch **out)
{
    return usage_fetch_request(loop, port, token, "GET", "/internal/usage", timeout_ms, cb, arg,
                               out);
}

int usage_fetch_request(uv_loop_t *loop, int port, const char *token, const char *method,
                        const char *path, int64_t timeout_ms, usage_fetch_cb cb, void *arg,
                        struct usage_fetch **out)
{
    struct sockaddr_in sa;
    int rc = uv_ip4_addr("127.0.0.1", port, &sa);
    if (rc < 0)
        return rc;
    struct usage_fetch *f = calloc(1, sizeof *f);
    if (!f)
        return UV_ENOMEM;
    int n = snprintf(f->req, sizeof f->req,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
                     "User-Agent: tenantd\r\nAuthorization: Tenantd %s\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     method, path, token);
    if (n < 0 || (size_t)n >= sizeof f->req) {
        free(f);
        return UV_EINVAL;
    }
    f->reqlen = (size_t)n;
    f->cb = cb;
    f->arg = arg;
    rc = uv_timer_init(loop, &f->timer);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->timer.data = f;
    f->handles = 1;
    rc = uv_tcp_init(loop, &f->tcp);
    if (rc < 0) {
        f->done = true;
        uv_close((uv_handle_t *)&f->timer, on_closed);
        return rc;
    }
    f->tcp.data = f;
    f->handles = 2;
    f->conn.data = f;
    f->wr.data = f;
    rc = uv_tcp_connect(&f->conn, &f->tcp, (const struct sockaddr *)&sa, on_connect);
    if (rc < 0) {
        close_all(f);
        return rc;
    }
    uv_timer_start(&f->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    *out = f;
    return 0;
}

void usage_fetch_cancel(struct usage_fetch *f)
{
    if (f && !f->done)
        close_all(f);
}
