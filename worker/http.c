/*
 * http.c — the worker's HTTP server (see http.h): h2o's configuration, the
 * listening socket (the one passed on fd 3, or 127.0.0.1:PORT), accepting
 * connections, READY=1, and a graceful stop; the count of requests in flight
 * and giving memory back when idle. http_internal.h lists the other files.
 *
 * Stopping (h2o 2.2.5): we set ctx.shutdown_requested ourselves rather than
 * calling h2o_context_request_shutdown(), which would arm HTTP/2's one-second
 * GOAWAY timer (HTTP/2 is not offered here at all). HTTP/1 then answers new
 * requests with "Connection: close". Idle keep-alive connections are not
 * closed by h2o, so we stop the loop ourselves once no request is in flight
 * and either no connection is left or DRAIN_LINGER_MS have passed since the
 * signal, and dispose of the context only when no connection is left
 * (disposing with a live connection aborts); otherwise process exit closes
 * them. The linger matters during an overlapping restart: a connection
 * accepted just before the signal may not have delivered its request yet
 * (inflight is still 0), and must be answered, not reset.
 *
 * What this file does not do: routes, authentication (http_routes.c), or the
 * shape of an answer (http_send.c).
 */
#include "http.h"
#include "http_internal.h"

#include <errno.h>
#include <h2o.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "sdnotify.h"
#include "usage_token.h"

/* Two caps, one answer. A body over HTTP_BODY_MAX but within this one is
 * read and refused by parse_body(); a larger one is refused by h2o on its
 * announced length (or as its chunks pass this size), before it is buffered,
 * and http_json_error_setup() turns h2o's plain-text 413 into the same JSON. Why
 * not one cap: h2o closes the connection on its 413 without draining the
 * body, so a client still sending a moderately large body may see a reset
 * instead of the answer; reading up to 1 MiB first lets such a client read
 * its 413, and beyond that the memory is worth more than the courtesy. */
#define H2O_BODY_HARD_MAX (1024 * 1024)

struct http_server http_srv;

#define DRAIN_LINGER_MS 500

static void maybe_finish(void)
{
    if (http_srv.stopping && http_srv.inflight == 0 && http_srv.hashes == 0 &&
        (http_srv.conns == 0 || http_srv.lingered))
        uv_stop(http_srv.loop);
}

static void on_linger(uv_timer_t *t)
{
    http_srv.lingered = 1;
    maybe_finish();
}

/*
 * Giving memory back when idle. A burst of requests leaves the heap grown
 * (connection buffers, SQLite's page cache, jansson's objects), and glibc
 * keeps freed memory for reuse; a tenant is idle most of the day, so once no
 * request has ended for IDLE_TRIM_MS the page cache is released and the heap
 * trimmed. The timer runs only while requests come in, plus one period
 * after the last one: an idle worker is never woken by it.
 */
#define IDLE_TRIM_MS 1000

static void on_idle(uv_timer_t *t)
{
    if (http_srv.served != http_srv.idle_seen || http_srv.inflight > 0) {
        http_srv.idle_seen = http_srv.served;
        uv_timer_start(t, on_idle, IDLE_TRIM_MS, 0);
        return;
    }
    http_srv.idle_armed = 0;
    sqlite3_db_release_memory(http_srv.db);
    malloc_trim(0);
}

/* Runs when h2o clears the request's pool: the request is over. */
void http_call_dispose(void *p)
{
    struct call *c = p;
    json_decref(c->body);
    http_srv.inflight--;
    http_srv.served++;
    if (!c->probe)
        http_idle_touch();
    if (!http_srv.idle_armed && !http_srv.stopping) {
        http_srv.idle_armed = 1;
        http_srv.idle_seen = http_srv.served;
        uv_timer_start(&http_srv.idle, on_idle, IDLE_TRIM_MS, 0);
    }
    maybe_finish();
}

/* ---- connections and lifecycle --------------------------------------------- */

static void on_conn_close(uv_handle_t *h)
{
    free(h);
    http_srv.conns--;
    maybe_finish();
}

static void on_accept(uv_stream_t *listener, int status)
{
    uv_stream_t *conn;
    int r;

    if (status != 0 || http_srv.stopping)
        return;
    if (listener->type == UV_NAMED_PIPE) {
        conn = malloc(sizeof(uv_pipe_t));
        if (conn == NULL)
            return;
        uv_pipe_init(http_srv.loop, (uv_pipe_t *)conn, 0);
    } else {
        conn = malloc(sizeof(uv_tcp_t));
        if (conn == NULL)
            return;
        uv_tcp_init(http_srv.loop, (uv_tcp_t *)conn);
    }
    r = uv_accept(listener, conn);
    if (r != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    if (listener->type == UV_TCP)
        uv_tcp_nodelay((uv_tcp_t *)conn, 1);
    http_srv.conns++;
    h2o_accept(&http_srv.accept_ctx, h2o_uv_socket_create(conn, on_conn_close));
}

void http_stop(const char *why)
{
    if (http_srv.stopping)
        return;
    http_srv.stopping = 1;
    log_info(http_srv.env->client_id, "%s: stopping (%zu requests in flight)", why,
             http_srv.inflight);
    http_idle_stop();
    sdnotify_send("STOPPING=1");
    if (http_srv.listener_open) {
        uv_close(&http_srv.listener.handle, NULL);
        http_srv.listener_open = 0;
    }
    http_srv.ctx.shutdown_requested = 1;
    uv_timer_stop(&http_srv.idle);
    http_srv.idle_armed = 1; /* no more trimming: the process is about to exit */
    uv_timer_start(&http_srv.linger, on_linger, DRAIN_LINGER_MS, 0);
    maybe_finish();
}

static void on_signal(uv_signal_t *s, int signum)
{
    char why[32];
    snprintf(why, sizeof why, "signal %d", signum);
    http_stop(why);
}

/* The passed socket (LISTEN_FDS=1 for this pid) or our own on 127.0.0.1:PORT. */
static int open_listener(char *desc, size_t desclen)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    int r;

    if (fds != NULL && pid != NULL && strcmp(fds, "1") == 0 && atol(pid) == (long)getpid()) {
        int domain = 0;
        socklen_t dl = sizeof domain;
        /* The variables are for us only: children must not inherit them. */
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        if (getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) {
            log_error(http_srv.env->client_id, "LISTEN_FDS=1 but fd 3 is not a socket: %s",
                      strerror(errno));
            return -EINVAL;
        }
        if (domain == AF_UNIX) {
            uv_pipe_init(http_srv.loop, &http_srv.listener.pipe, 0);
            r = uv_pipe_open(&http_srv.listener.pipe, 3);
        } else {
            uv_tcp_init(http_srv.loop, &http_srv.listener.tcp);
            r = uv_tcp_open(&http_srv.listener.tcp, 3);
        }
        snprintf(desc, desclen, "the passed socket (fd 3)");
    } else {
        struct sockaddr_in sa;
        if (http_srv.env->port <= 0) {
            log_error(http_srv.env->client_id, "PORT: no port to bind and no socket passed");
            return -EINVAL;
        }
        uv_ip4_addr("127.0.0.1", http_srv.env->port, &sa);
        uv_tcp_init(http_srv.loop, &http_srv.listener.tcp);
        r = uv_tcp_bind(&http_srv.listener.tcp, (struct sockaddr *)&sa, 0);
        snprintf(desc, desclen, "127.0.0.1:%d", http_srv.env->port);
    }
    http_srv.listener_open = 1;
    if (r == 0)
        r = uv_listen(&http_srv.listener.stream, 1024, on_accept);
    if (r != 0) {
        log_error(http_srv.env->client_id, "cannot listen on %s: %s", desc, uv_strerror(r));
        return r;
    }
    return 0;
}

int http_run(const struct wenv *env, sqlite3 *db)
{
    h2o_hostconf_t *host;
    h2o_handler_t *handler;
    char desc[64], status[128];
    int r;

    http_srv.env = env;
    if (usage_token(env->client_id, env->secret_key, http_srv.usage_token,
                    sizeof http_srv.usage_token) < 0)
        http_srv.usage_token[0] = '\0';
    http_srv.db = db;
    http_srv.loop = uv_default_loop();

    /* h2o keeps up to 16 freed socket buffers (8-16 KiB each) for reuse; a
     * burst of connections would leave them all resident in an idle worker.
     * Two cover the keep-alive connection or two of a tenant's nginx. */
    if (h2o_socket_buffer_prototype.allocator.max > 2)
        h2o_socket_buffer_prototype.allocator.max = 2;
    h2o_config_init(&http_srv.config);
    http_srv.config.server_name = h2o_iovec_init(H2O_STRLIT("tenant-worker"));
    http_srv.config.max_request_entity_size = H2O_BODY_HARD_MAX;
    http_srv.config.http1.upgrade_to_http2 = 0;
    host = h2o_config_register_host(&http_srv.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    handler = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof *handler);
    handler->on_req = http_on_req;
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream =
        http_json_error_setup;
    h2o_context_init(&http_srv.ctx, http_srv.loop, &http_srv.config);
    http_srv.accept_ctx.ctx = &http_srv.ctx;
    http_srv.accept_ctx.hosts = http_srv.config.hosts;

    r = open_listener(desc, sizeof desc);
    if (r < 0)
        goto out;
    uv_timer_init(http_srv.loop, &http_srv.idle);
    uv_timer_init(http_srv.loop, &http_srv.linger);
    uv_signal_init(http_srv.loop, &http_srv.sigterm);
    uv_signal_start(&http_srv.sigterm, on_signal, SIGTERM);
    uv_signal_init(http_srv.loop, &http_srv.sigint);
    uv_signal_start(&http_srv.sigint, on_signal, SIGINT);
    http_idle_start();

    log_info(env->client_id, "serving on %s", desc);
    snprintf(status, sizeof status, "READY=1\nSTATUS=serving on %s", desc);
    r = sdnotify_send(status);
    if (r < 0)
        log_warn(env->client_id, "NOTIFY_SOCKET: cannot send READY: %s", strerror(-r));

    uv_run(http_srv.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&http_srv.idle, NULL);
    uv_close((uv_handle_t *)&http_srv.linger, NULL);
    uv_close((uv_handle_t *)&http_srv.sigterm, NULL);
    uv_close((uv_handle_t *)&http_srv.sigint, NULL);
    http_idle_close();
    r = http_srv.went_idle ? HTTP_RUN_IDLE : 0;
out:
    if (http_srv.listener_open)
        uv_close(&http_srv.listener.handle, NULL);
    uv_run(http_srv.loop, UV_RUN_NOWAIT);
    if (http_srv.conns == 0) {
        h2o_context_dispose(&http_srv.ctx);
        h2o_config_dispose(&http_srv.config);
    }
    http_send_free();
    log_info(env->client_id, "stopped (%zu idle connections closed)", http_srv.conns);
    return r;
}
