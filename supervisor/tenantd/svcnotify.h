/*
 * svcnotify.h — tenantd's own readiness towards its service manager, over
 * the sd_notify client of common/sdnotify.h (notify.c is the server side, for
 * the workers). Used by tenantd_main.c; nothing happens when tenantd's
 * environment has no NOTIFY_SOCKET.
 *
 * What tenantd says, and when:
 *   READY=1      once the admin surface listens and every tenant wanted up at
 *                start-up has had its first start attempt (sup_counts'
 *                boot_pending is 0). Not once every tenant is ready: a broken
 *                tenant (exit 78, a crash loop, a slow start) must not hold
 *                the unit in "activating" until systemd's start timeout kills
 *                every other tenant with it. Tenants that wait for a start
 *                slot do hold it back, so with max_parallel_starts the last
 *                READY=1 comes when all but the last few are past starting.
 *   RELOADING=1, then READY=1 around every reload (SIGHUP, inotify, the admin
 *                API's POST /v1/reload), once READY=1 was first sent.
 *   STOPPING=1   when tenantd begins to stop.
 *   STATUS=<n> running[, <i> idle], <m> failed   when a count changes, at most once
 *                per SDNOTIFY_STATUS_MIN_MS (the last change is always sent).
 *
 * Everything runs on tenantd's loop thread.
 */
#ifndef TENANTD_SVCNOTIFY_H
#define TENANTD_SVCNOTIFY_H

#include <stddef.h>
#include <uv.h>

#include "sup.h"

#define SDNOTIFY_STATUS_MIN_MS 250

struct svcnotify;

/* Pure: "STATUS=<running> running, <failed> failed" into buf, with ", <idle> idle"
 * after the running count when some tenant is idle. */
void svcnotify_format_status(char *buf, size_t n, const struct sup_counts *c);

/*
 * Read NOTIFY_SOCKET from tenantd's environment and remove it from there, so
 * that nothing tenantd starts (nginx, a reload command) inherits it. Call it
 * first thing in main. *out is NULL when the variable is unset; otherwise the
 * caller owns it until svcnotify_close. Returns 0, or -errno for a value that
 * cannot be used (the caller logs it and runs without).
 */
int svcnotify_open(uv_loop_t *loop, struct svcnotify **out);

/* Follow s's events (sup_set_event_hook). n may be NULL. */
void svcnotify_attach(struct svcnotify *n, struct sup *s);

/* The admin surface listens: READY=1 now, or as soon as boot_pending is 0. */
void svcnotify_admin_ready(struct svcnotify *n);

/* STOPPING=1; nothing more is sent after it. */
void svcnotify_stopping(struct svcnotify *n);

/* Close the socket and the timer; the memory is freed in the timer's close
 * callback. Detaches from the supervisor given to svcnotify_attach. */
void svcnotify_close(struct svcnotify *n);

#endif
