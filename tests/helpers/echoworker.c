/*
 * echoworker.c — a tiny HTTP/1.1 worker for the proxy's integration tests and
 * benchmark: any worker tenantd can run (DESIGN.md "The worker contract"),
 * small enough that what is measured is the proxy, not the application.
 *
 *   GET /         200, an HTML page naming CLIENT_ID and CLIENT_NAME (escaped)
 *   GET /healthz  200 "ok"
 *   anything else 404
 *
 * It takes the passed socket (LISTEN_FDS=1, fd 3) or binds 127.0.0.1:PORT,
 * sends READY=1 to NOTIFY_SOCKET when set (both through helper_worker.h),
 * keeps connections alive, and stops on SIGTERM with exit 0. Request bodies
 * are not expected and are refused (the connection is closed). Not for
 * production: no timeouts, no limits but the request head size.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "helper_worker.h"

#define HEAD_MAX 8192

struct conn {
    uv_tcp_t tcp;
    char buf[HEAD_MAX];
    size_t len;
    bool closing;
};

static char page[4096];
static size_t page_len;
static uv_tcp_t server;
static uv_signal_t sigterm;

static const char resp_ok_fmt[] = "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                  "Connection: keep-alive\r\n\r\n";
static const char resp_404[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 10\r\nConnection: keep-alive\r\n\r\nnot found\n";
static char resp_page[8192];
static size_t resp_page_len;
static char resp_health[256];
static size_t resp_health_len;

static void html_escape(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 7 < n; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep) {
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct conn *c)
{
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

static void on_write(uv_write_t *w, int status)
{
    free(w);
}

static void respond(struct conn *c, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    /* The responses are static buffers, so they outlive the write. */
    if (w == NULL || uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(w);
        conn_close(c);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

/* Answer every complete request head in the buffer (pipelining included). */
static void serve(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end == NULL)
            break;
        size_t head = (size_t)(end - c->buf) + 4;
        if (memmem(c->buf, head, "Content-Length:", 15) != NULL ||
            memmem(c->buf, head, "Transfer-Encoding:", 18) != NULL) {
            conn_close(c);
            return;
        }
        if (strncmp(c->buf, "GET /healthz ", 13) == 0)
            respond(c, resp_health, resp_health_len);
        else if (strncmp(c->buf, "GET / ", 6) == 0 || strncmp(c->buf, "HEAD / ", 7) == 0)
            respond(c, resp_page, resp_page_len);
        else
            respond(c, resp_404, sizeof resp_404 - 1);
        memmove(c->buf, c->buf + head, c->len - head);
        c->len -= head;
    }
    if (c->len == sizeof c->buf)
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    serve(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct conn *c;
    if (status < 0)
        return;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void on_sigterm(uv_signal_t *h, int sig)
{
    uv_stop(h->loop);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    const char *id = getenv("CLIENT_ID"), *name = getenv("CLIENT_NAME");
    char ename[1024], eid[256];
    int fd, r;

    html_escape(name ? name : "", ename, sizeof ename);
    html_escape(id ? id : "", eid, sizeof eid);
    page_len =
        (size_t)snprintf(page, sizeof page,
                         "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s"
                         "</title></head>\n<body><h1>%s</h1><p>tenant=%s</p></body></html>\n",
                         ename, ename, eid);
    resp_page_len = (size_t)snprintf(resp_page, sizeof resp_page, resp_ok_fmt,
                                     "text/html; charset=utf-8", page_len);
    memcpy(resp_page + resp_page_len, page, page_len);
    resp_page_len += page_len;
    resp_health_len =
        (size_t)snprintf(resp_health, sizeof resp_health, resp_ok_fmt, "text/plain", (size_t)3);
    memcpy(resp_health + resp_health_len, "ok\n", 3);
    resp_health_len += 3;

    signal(SIGPIPE, SIG_IGN);
    fd = hw_listen_socket(1024);
    if (fd < 0) {
        fprintf(stderr, "echoworker: listen: %s\n", strerror(errno));
        return 1;
    }
    uv_tcp_init(loop, &server);
    r = uv_tcp_open(&server, fd);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (r < 0) {
        fprintf(stderr, "echoworker: listen: %s\n", uv_strerror(r));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_sigterm, SIGTERM);
    hw_notify("READY=1", "echoworker");
    fprintf(stderr, "echoworker: %s ready\n", id ? id : "?");
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
