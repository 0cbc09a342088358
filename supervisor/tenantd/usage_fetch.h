/*
 * usage_fetch.h — one request to a tenant's worker for its month's usage:
 * "GET /internal/usage" on 127.0.0.1:<port> with "Authorization: Tenantd
 * <token>" (usage_token.h), on a fresh connection closed afterwards. Asked
 * on demand by the admin API only, so an idle tenantd holds nothing open for
 * it and runs no timer. The answer is bounded (USAGE_FETCH_MAX bytes, head
 * and body) and the whole exchange by a timeout.
 */
#ifndef TENANTD_USAGE_FETCH_H
#define TENANTD_USAGE_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define USAGE_FETCH_MAX (16 * 1024)

struct usage_fetch;

/* `result` is the HTTP status or a negative libuv error (UV_ETIMEDOUT,
 * UV_ECONNREFUSED, UV_EPROTO for an answer that is not HTTP or too large);
 * body and len are the response body when result > 0 (valid during the
 * call only). Runs exactly once, on the loop, never inside usage_fetch_start,
 * unless the fetch is cancelled first. */
typedef void (*usage_fetch_cb)(void *arg, int result, const char *body, size_t len);

/* Start a fetch; returns 0 (the callback will run) or a negative libuv error
 * (it will not). *out may be given to usage_fetch_cancel until the callback. */
int usage_fetch_start(uv_loop_t *loop, int port, const char *token, int64_t timeout_ms,
                      usage_fetch_cb cb, void *arg, struct usage_fetch **out);

/* The same for another internal route: method and path (with its query) as
 * given, no body (reminders.c: GET /internal/reminders, POST .../sent). */
int usage_fetch_request(uv_loop_t *loop, int port, const char *token, const char *method,
                        const char *path, int64_t timeout_ms, usage_fetch_cb cb, void *arg,
                        struct usage_fetch **out);

/* Abandon a fetch whose callback has not run: no callback, handles closed. */
void usage_fetch_cancel(struct usage_fetch *f);

#endif
