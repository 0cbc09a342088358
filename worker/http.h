/*
 * http.h — the worker's HTTP server: h2o 2.2.5 on libuv, one thread.
 *
 * http_run() takes the listening socket passed by the supervisor (fd 3 when
 * LISTEN_FDS=1 and LISTEN_PID is this process) or binds 127.0.0.1:PORT,
 * reports READY=1 to NOTIFY_SOCKET, and serves until SIGTERM or SIGINT. Then
 * it stops accepting, lets in-flight requests finish (including password
 * hashes on the thread pool), and returns 0. With IDLE_AFTER_MS it also stops
 * that way after that long without a request (GET /healthz and tenantd's
 * /internal/usage do not count) and returns HTTP_RUN_IDLE, which the worker
 * turns into EXITCODE_IDLE (scale to zero, http_idle.c). The routes are a table in
 * http_routes.c; each one either calls a model operation (model.h), an auth step
 * (auth.h) or a page (pages.h), after the caller's role is checked against
 * the route's (docs/worker-api.md "Roles"). Errors are JSON {"error","detail"},
 * h2o's own 413/400/417 included; every response carries Content-Length and
 * the security headers.
 *
 * Not here: business rules, SQL, HTML.
 */
#ifndef TENANT_WORKER_HTTP_H
#define TENANT_WORKER_HTTP_H

#include <sqlite3.h>

#include "worker.h"

/* Largest request body the API reads; larger bodies get 413. */
#define HTTP_BODY_MAX (256 * 1024)

#define HTTP_RUN_IDLE 1

/*
 * Serve until asked to stop. env and db stay owned by the caller and must
 * outlive the call. Returns 0 after a clean stop, HTTP_RUN_IDLE after an idle
 * period without a request, -EINVAL when no socket can
 * be had from the environment (a configuration error), or another negative
 * errno (e.g. the port is taken).
 */
int http_run(const struct wenv *env, sqlite3 *db);

#endif
