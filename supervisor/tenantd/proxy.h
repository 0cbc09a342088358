/*
 * proxy.h — tenantd's reverse proxy (DESIGN.md "Reverse proxy"): keeps nginx's
 * configuration in step with the tenants, and in managed mode runs nginx
 * itself as a supervised child.
 *
 * How a change is applied (every step on tenantd's loop, never blocking on a
 * child):
 *   1. The supervisor's change hook fires; a short timer coalesces bursts.
 *   2. The templates are read and proxy_render() turns the config and the
 *      tenants' current state into text; the suspended pages are written into
 *      <run_dir>/nginx/suspended/<id>.html. Identical output stops here.
 *   3. managed: the files go to <run_dir>/nginx/staging/ and
 *      `nginx -t -p <run_dir>/nginx/ -c staging/main.conf` checks them;
 *      external: the file goes to its place ([proxy] output) and the
 *      configured test command checks it (on failure the previous content is
 *      put back).
 *   4. Only if the test passes: managed: staging/ becomes conf.<n>/ and the
 *      symlink <run_dir>/nginx/live is replaced by one to it with rename(2),
 *      then nginx gets SIGHUP; external: the reload command runs. Once the
 *      new configuration is applied, the suspended pages it no longer names
 *      (a tenant resumed or removed) are deleted.
 *      If the test fails, the last good configuration keeps serving, the
 *      error (with nginx's own message) is logged at error level and kept for
 *      proxy_last_error(), and no tenant is touched.
 *
 * Managed nginx: `nginx -e stderr -p <run_dir>/nginx/ -c <run_dir>/nginx/live/main.conf
 * -g 'daemon off; master_process on;'`, spawned with libuv (which reaps it) in
 * its own process group, stdout and stderr appended to <log_dir>/nginx.log,
 * restarted with a capped backoff when it dies (workers a dead master left
 * behind are killed by group first, as they hold the port), SIGTERM (then
 * SIGKILL after a grace) on proxy_stop.
 *
 * Not here: rendering (common/proxy_render.c), what tenants exist (sup.h).
 */
#ifndef TENANTD_PROXY_H
#define TENANTD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "config.h"

struct sup;
struct proxy;

/*
 * Prepare <run_dir>/nginx, subscribe to the supervisor's change hook and
 * start the first apply (in managed mode nginx starts once a configuration
 * passed its test, or at once on the last good one if the first fails). With
 * [proxy] mode = off it only subscribes to nothing and says so once.
 * Returns 0 and *out, or -errno with a message in err when the folders cannot
 * be made. A configuration error is not a start-up failure: it is logged and
 * shown by proxy_last_error(), and fixed by the next change. `s` must outlive
 * the proxy.
 */
int proxy_start(uv_loop_t *loop, struct sup *s, struct proxy **out, char *err, size_t errlen);

/*
 * Unsubscribe, stop nginx (SIGTERM, SIGKILL after 5 s) and any running test
 * command, close every handle, free the proxy, then call done(arg) on the
 * loop (never before proxy_stop returns). `done` may be NULL. The proxy must
 * not be used after this call.
 */
void proxy_stop(struct proxy *p, void (*done)(void *arg), void *arg);

/* Re-render and apply now (as on a change), e.g. after `tenantctl reload`. */
void proxy_request_apply(struct proxy *p);

/* Managed mode: make the running nginx open its log files anew (a reload).
 * 0, or -EAGAIN when no nginx of tenantd's is ready for it (p may be NULL);
 * with check_only, only say whether it would be sent. */
int proxy_reopen_logs(struct proxy *p, bool check_only);

/* The last apply's error, one line; "" when the last apply succeeded. The
 * string lives in the proxy until the next apply. */
const char *proxy_last_error(const struct proxy *p);

/* Figures for GET /v1/proxy, GET /metrics and status. */
struct proxy_stats {
    enum proxy_mode mode;  /* [proxy] mode as it was at proxy_start (fixed until restart) */
    uint64_t reloads;      /* configurations applied (nginx reloaded or started on them) */
    uint64_t failures;     /* applies refused by the renderer or the test command */
    uint64_t nginx_starts; /* managed nginx spawned (first start and restarts) */
    pid_t nginx_pid;       /* managed nginx master, 0 when not running */
    unsigned generation;   /* conf.<n> live now, 0 before the first apply */
};
void proxy_get_stats(const struct proxy *p, struct proxy_stats *out);

/* Upgrade of tenantd (upgrade.h): whether a command (nginx -t, reload) runs
 * now, and state["proxy"] = {"nginx_pid", "nginx_pidfd"} for the next image,
 * whose proxy_start takes the running master instead of starting one. */
bool proxy_upgrade_busy(const struct proxy *p);
int proxy_upgrade_export(struct proxy *p, json_t *state);

#endif
