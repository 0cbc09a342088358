/*
 * http_internal.h — what the worker's HTTP files share, and what no other file
 * includes. The contract with worker_main.c is http.h.
 *
 * The HTTP layer, by file:
 *   http.c         the server: h2o's configuration, the listening socket
 *                  (passed or bound), accepting, READY=1, a graceful stop on
 *                  SIGTERM, in-flight accounting, giving memory back when idle
 *   http_routes.c  the route table and dispatch: matching, roles,
 *                  authentication, the JSON body, the handlers, password
 *                  hashing on the thread pool
 *   http_idle.c    scale to zero: exit after IDLE_AFTER_MS without a request
 *   http_send.c    answers: status, headers (security headers per kind),
 *                  a model result as JSON, errors, h2o's own errors as JSON
 *
 * A database server (store_offload(): PostgreSQL) can make a query wait on
 * the network, so there every route that may touch the database runs on
 * libuv's thread pool (http_routes.c), each pool thread with its own
 * connection (store_pg.c). What such a route sends is captured in the
 * thread's struct http_reply (http_tls_reply) and sent by the loop thread,
 * the only one that may touch h2o. With SQLite (one local file, one
 * connection) everything runs on the loop thread.
 */
#ifndef TENANT_WORKER_HTTP_INTERNAL_H
#define TENANT_WORKER_HTTP_INTERNAL_H

#include <h2o.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "store.h"
#include "usage_token.h"
#include "worker.h"

struct route;

/* One request, from http_on_req() until h2o clears the request's pool. */
struct call {
    h2o_req_t *req;
    char addr[64]; /* the peer, read on the loop thread for an offloaded login */
    const struct route *route;
    struct wuser user;
    char sid[AUTH_SID_LEN + 1];
    json_t *body;
    const char *arg;
    int probe; /* /healthz or tenantd's /internal/usage: not activity (http_idle.c) */
};

/* What an answer is, for its caching and content security headers. */
enum kind { K_API, K_PAGE, K_ASSET, K_PRINT };

/* The server's state: one per process, only the loop thread touches it. */
struct http_server {
    const struct wenv *env;
    struct store *db;
    uv_loop_t *loop;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    int listener_open;
    uv_signal_t sigterm, sigint;
    int stopping;
    size_t conns, inflight, hashes;
    uv_timer_t idle;
    uv_timer_t watchdog; /* WATCHDOG=1 every WATCHDOG_USEC / 2, when asked */
    int idle_armed;
    uv_timer_t linger; /* after SIGTERM: stop waiting for idle connections */
    int lingered;
    uint64_t served, idle_seen;
    uv_timer_t idle_exit;                  /* scale to zero (http_idle.c) */
    int idle_exit_on;                      /* IDLE_AFTER_MS > 0: the timer is initialised */
    int went_idle;                         /* stopping because of it: exit EXITCODE_IDLE */
    char usage_token[USAGE_TOKEN_LEN + 1]; /* "" when it cannot be derived */
};
extern struct http_server http_srv;

/* An answer made on a pool thread, sent later by the loop thread. */
struct http_reply {
    int status;
    const char *ctype; /* a literal */
    char *data;        /* malloc'd */
    size_t len;
    enum kind kind;
    long long retry_after;
    int www_authenticate;
};
/* Set while a pool thread runs a request: http_send_* fill it instead of
 * touching h2o. NULL on the loop thread. */
extern __thread struct http_reply *http_tls_reply;

/* ---- http.c ----------------------------------------------------------------- */

/* The dispose callback of a request's struct call: the request is over. */
void http_call_dispose(void *p);
/* Stop accepting and finish what is in flight, as on SIGTERM; why is logged. */
void http_stop(const char *why);

/* ---- http_idle.c ----------------------------------------------------------- */

/* Arm the idle timer when IDLE_AFTER_MS is set (after the listener opened). */
void http_idle_start(void);
/* A request that is not a probe ended: the idle period starts again. */
void http_idle_touch(void);
/* Stopping or stopped: disarm (and close, at the end of http_run). */
void http_idle_stop(void);
void http_idle_close(void);

/* ---- http_routes.c ------------------------------------------------------------ */

/* h2o's handler: find the route, authenticate, parse the body, answer. */
int http_on_req(h2o_handler_t *self, h2o_req_t *req);

/* The model context of a request (its user, address, time). */
struct wctx http_make_ctx(struct call *c);

/* ---- http_gdpr.c ---------------------------------------------------------------- */

/* POST /api/me/ical: the feed's full URL, built from the request's host. */
void http_route_ical_create(struct call *c);
/* GET /ical/<token>.ics: the feed, text/calendar, no session. */
void http_route_ical(struct call *c);
/* GET /api/cases/<id>/export?format=json|html. */
void http_route_case_export(struct call *c);

/* ---- http_send.c -------------------------------------------------------------- */

/* Send data (not copied: it must live as long as the request's pool). */
void http_send_bytes(h2o_req_t *req, int status, const char *ctype, const char *data, size_t len,
                     enum kind kind);
/* Send a model result; takes ownership of w.body. */
void http_send_wres(h2o_req_t *req, struct wres w);
void http_send_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The fallback path's filter that turns h2o's own 400/413/417 into JSON. */
void http_json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot);
/* Free the serialiser's buffer (at exit). */
void http_send_free(void);

#endif
