/*
 * sdnotify.h — tenantd's own readiness towards its service manager: the
 * client side of systemd's sd_notify protocol (notify.c is the server side,
 * for the workers). Used by tenantd_main.c; nothing happens when tenantd's
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
 *   STATUS=<n> running, <m> failed   when either count changes, at most once
 *                per SDNOTIFY_STATUS_MIN_MS (the last change is always sent).
 *
 * Everything runs on tenantd's loop thread.
 */
#ifndef TENANTD_SDNOTIFY_H
#define TENANTD_SDNOTIFY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

#include "sup.h"

#define SDNOTIFY_STATUS_MIN_MS 250

struct sdnotify;

/*
 * Pure: the address of a NOTIFY_SOCKET value. An absolute path, or "@name"
 * for an abstract socket (the '@' becomes a NUL byte). Fills *sa and *len
 * (the exact length to pass to sendto). Returns 0, or -EINVAL (empty,
 * relative) or -ENAMETOOLONG.
 */
int sdnotify_parse_addr(const char *value, struct sockaddr_un *sa, socklen_t *len);

/* Pure: "STATUS=<running> running, <failed> failed" into buf. */
void sdnotify_format_status(char *buf, size_t n, const struct sup_counts *c);

/*
 * Read NOTIFY_SOCKET from tenantd's environment and remove it from there, so
 * that nothing tenantd starts (nginx, a reload command) inherits it. Call it
 * first thing in main. *out is NULL when the variable is unset; otherwise the
 * caller owns it until sdnotify_close. Returns 0, or -errno for a value that
 * cannot be used (the caller logs it and runs without).
 */
int sdnotify_open(uv_loop_t *loop, struct sdnotify **out);

/* Follow s's events (sup_set_event_hook). n may be NULL. */
void sdnotify_attach(struct sdnotify *n, struct sup *s);

/* The admin surface listens: READY=1 now, or as soon as boot_pending is 0. */
void sdnotify_admin_ready(struct sdnotify *n);

/* STOPPING=1; nothing more is sent after it. */
void sdnotify_stopping(struct sdnotify *n);

/* Close the socket and the timer; the memory is freed in the timer's close
 * callback. Detaches from the supervisor given to sdnotify_attach. */
void sdnotify_close(struct sdnotify *n);

#endif
