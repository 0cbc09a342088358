/*
 * health.h — the /healthz prober of one tenant: a tiny HTTP/1.1 client on
 * libuv that sends "GET /healthz" to 127.0.0.1:<port> and reports the status
 * code. Used for readiness (workers that send no READY=1) and for liveness
 * (every health_interval).
 *
 * The connection is kept alive between probes when the worker allows it
 * (Content-Length and no "Connection: close"): with a thousand tenants
 * probed every few seconds, a TCP handshake and teardown per probe would cost
 * tenantd more CPU than everything else it does while idle. A probe on a
 * reused connection that finds it closed by the worker is retried once on a
 * fresh one. Every probe is bounded by its timeout.
 *
 * What it does not do: follow redirects, read large bodies, pipeline, or
 * decide what a failure means (supervisor.c counts them).
 */
#ifndef TENANTD_HEALTH_H
#define TENANTD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct health;

/* `result` is the HTTP status (200 is healthy) or a negative libuv error
 * (UV_ECONNREFUSED, UV_ETIMEDOUT, UV_EPROTO for a reply that is not HTTP). */
typedef void (*health_cb)(void *arg, int result);

/* A prober for 127.0.0.1:port; nothing is connected yet. */
int health_new(uv_loop_t *loop, int port, health_cb cb, void *arg, struct health **out);

/* Start one probe; UV_EBUSY when one is in flight. The callback runs exactly
 * once per probe, on the loop, unless the probe is reset first; when the
 * probe fails at once (no memory, no socket) it runs inside this call. */
int health_probe(struct health *h, int64_t timeout_ms);

/* Abandon the probe in flight (no callback) and drop the connection, e.g.
 * because the worker is being replaced. Harmless when idle. */
void health_reset(struct health *h);

/* Point the prober at another port (drops the connection when it changes). */
void health_set_port(struct health *h, int port);

/* Probes at least this far apart do not keep their connection: the worker
 * would close it idle in between (h2o's keep-alive is 10 s), which costs a
 * wake-up and a reconnect anyway. They ask "Connection: close" instead, so the
 * worker holds no idle connection and no timer for it. */
#define HEALTH_KEEP_MAX_MS 9000
void health_set_interval(struct health *h, int64_t interval_ms);

/* Reset, then free once every handle is closed. */
void health_free(struct health *h);

/* Bytes one tenant's prober holds: the prober, and a connection only while
 * a probe is on its way (the per-tenant memory figure). */
size_t health_footprint(bool probing);

/*
 * Parse one HTTP/1.x response head at the start of buf. Returns -1 when more
 * bytes are needed, UV_EPROTO when it is not HTTP, else the status code, with
 * *total set to the head plus body length when a Content-Length is given
 * (else 0) and *keep set to 1 when the connection may be reused. Pure.
 */
int health_parse_response(const char *buf, size_t len, size_t *total, int *keep);

#endif
