/*
 * nginx_logrot.c — see nginx_logrot.h.
 *
 * Each round stats one file per tenant (lstat, so a symlink is never
 * followed; only regular files are rotated) on the loop: a few syscalls per
 * tenant every access_check. The files are renamed only when nginx is ready
 * to be told, so a rotated file is never left as the one nginx writes to.
 */
#include "nginx_logrot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "proxy.h"
#include "sup.h"

static struct {
    uv_loop_t *loop;
    struct sup *sup;
    struct proxy *proxy;
    uv_timer_t timer;
    bool running;
    uint64_t rotations;
} R;

int nginx_logrot_rename(const char *path, int keep)
{
    char from[CONFIG_PATH_MAX + 16], to[CONFIG_PATH_MAX + 16];
    if (keep < 1)
        keep = 1;
    for (int i = keep - 1; i >= 1; i--) {
        snprintf(from, sizeof from, "%s.%d", path, i);
        snprintf(to, sizeof to, "%s.%d", path, i + 1);
        if (rename(from, to) < 0 && errno != ENOENT)
            return -errno;
    }
    snprintf(to, sizeof to, "%s.1", path);
    if (rename(path, to) < 0)
        return -errno;
    return 0;
}

/* Rotate path when it is a regular file over limit; true when it was. */
static bool maybe_rotate(const char *path, int64_t limit, const char *id)
{
    struct stat st;
    if (limit <= 0 || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= limit)
        return false;
    int rc = nginx_logrot_rename(path, NGINX_LOGROT_KEEP);
    if (rc < 0) {
        log_warn(id, "proxy: cannot rotate %s: %s", path, strerror(-rc));
        return false;
    }
    log_info(id, "proxy: rotated %s at %lld bytes (limit %lld)", path, (long long)st.st_size,
             (long long)limit);
    return true;
}

static void round_once(void)
{
    const struct config *cfg = sup_config(R.sup);
    const struct config_global *g = &cfg->g;
    if (proxy_reopen_logs(R.proxy, true) < 0)
        return; /* not now: nginx could not be told */
    char path[CONFIG_PATH_MAX + CONFIG_ID_MAX + 32];
    int n = 0;
    for (size_t i = 0; i < cfg->n_tenants; i++) {
        const struct config_tenant_entry *e = &cfg->tenants[i];
        if (!e->valid)
            continue;
        int64_t limit = g->log_rotate_bytes > 0 ? g->log_rotate_bytes : e->t.log_budget_bytes / 4;
        if (snprintf(path, sizeof path, "%s/%s.access.log", g->log_dir, e->id) < (int)sizeof path &&
            maybe_rotate(path, limit, e->id))
            n++;
    }
    if (snprintf(path, sizeof path, "%s/nginx.access.log", g->log_dir) < (int)sizeof path &&
        maybe_rotate(
            path, g->log_rotate_bytes > 0 ? g->log_rotate_bytes : NGINX_LOGROT_DEFAULT_BYTES, NULL))
        n++;
    if (n == 0)
        return;
    R.rotations += (uint64_t)n;
    int rc = proxy_reopen_logs(R.proxy, false);
    if (rc < 0)
        log_warn(NULL, "proxy: cannot make nginx reopen its logs: %s", strerror(-rc));
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
    round_once();
    uv_timer_start(&R.timer, on_timer, (uint64_t)sup_config(R.sup)->g.log_access_check_ms, 0);
}

int nginx_logrot_start(uv_loop_t *loop, struct sup *s, struct proxy *p)
{
    if (R.running || p == NULL || sup_config(s)->g.proxy_mode != PROXY_MANAGED)
        return 0;
    R.loop = loop;
    R.sup = s;
    R.proxy = p;
    int rc = uv_timer_init(loop, &R.timer);
    if (rc < 0)
        return rc;
    R.running = true;
    uv_timer_start(&R.timer, on_timer, (uint64_t)sup_config(s)->g.log_access_check_ms, 0);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void nginx_logrot_stop(void)
{
    if (!R.running)
        return;
    R.running = false;
    uv_timer_stop(&R.timer);
    uv_close((uv_handle_t *)&R.timer, on_closed);
    R.proxy = NULL;
}

uint64_t nginx_logrot_count(void)
{
    return R.rotations;
}
