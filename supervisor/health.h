/*
 * health.h — a tiny HTTP/1.1 client for one probe: connect to
 * 127.0.0.1:<port>, send "GET /healthz", read the status line, close. Used for
 * readiness (workers that send no READY=1) and for liveness (every
 * health_interval). The whole probe is bounded by its timeout.
 *
 * What it does not do: keep connections, follow redirects, read bodies, or
 * decide what a failure means (supervisor.c counts them).
 */
#ifndef TENANTD_HEALTH_H
#define TENANTD_HEALTH_H

#include <stdint.h>
#include <uv.h>

struct health_probe;

/* `result` is the HTTP status (200 is healthy) or a negative libuv error
 * (UV_ECONNREFUSED, UV_ETIMEDOUT, UV_EPROTO for garbage). */
typedef void (*health_cb)(void *arg, int result);

/* Start a probe. `cb` is called exactly once, on the loop, unless the probe is
 * cancelled first. The probe frees itself after the callback. */
int health_probe_start(uv_loop_t *loop, int port, int64_t timeout_ms, health_cb cb, void *arg,
                       struct health_probe **out);

/* Abandon a probe in flight: its callback will not be called. */
void health_probe_cancel(struct health_probe *p);

/* Parse "HTTP/1.x NNN ..." at the start of buf; the status, or -1 when the
 * status line is incomplete, or UV_EPROTO when it is not HTTP. Pure. */
int health_parse_status(const char *buf, size_t len);

#endif
