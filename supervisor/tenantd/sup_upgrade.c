/*
 * sup_upgrade.c — the tenants across an upgrade of tenantd (upgrade.h): what
 * the old image writes about each tenant, and how the new image takes a
 * tenant back: its listening socket, notify socket and log pipes, and its
 * worker (pidfd, pid, generation) with its counters, without a restart.
 *
 * Carried states: running (the worker is adopted as it is), backoff and
 * failed (their timer continues where it was), stopped and suspended (only
 * the counters). starting and stopping are not carried: sup_upgrade_busy
 * refuses an upgrade while any tenant is in them, or has a draining
 * generation. `idle` (scale to zero, idle.c) is carried like running without
 * a process: its listening socket is kept ("listen_fd") and the new image
 * watches it again (sup_upgrade_adopt), so a connection that arrives during
 * the exec waits in the backlog and wakes the tenant right after.
 *
 * What it does not do: exec, or read and write the state file (upgrade.c).
 */
#include "sup_upgrade.h"
#include "sup_internal.h"

#include "idle.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "uidmap.h"
#include "upgrade.h"
#include "usage_token.h"

void sup_upgrade_busy(const struct sup *s, char *why, size_t n)
{
    why[0] = '\0';
    if (s->shutting_down) {
        snprintf(why, n, "tenantd is stopping");
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct tenant *t = s->t[i];
        if (t->state == TS_STARTING || t->state == TS_STOPPING || t->prev || t->queued) {
            snprintf(why, n, "tenant %s is %s%s; try again once it settles", t->id,
                     tstate_name(t->state), t->prev ? " (overlapping restart)" : "");
            return;
        }
    }
}

static int export_one(struct sup *s, struct tenant *t, json_t *o)
{
    uint64_t now = sup_now_ms(s);
    int rc = 0;
    json_object_set_new(o, "state", json_string(tstate_name(t->state)));
    json_object_set_new(o, "restarts", json_integer(t->restarts));
    json_object_set_new(o, "wakeups", json_integer((json_int_t)t->wakeups));
    json_object_set_new(o, "spawns", json_integer(t->spawns));
    json_object_set_new(o, "gens", json_integer((json_int_t)t->gens));
    json_object_set_new(o, "last_exit", json_string(t->last_exit));
    json_object_set_new(o, "reason", json_string(t->state_reason));
    json_object_set_new(o, "ready_latency_ms", json_integer(t->ready_latency_ms));
    json_object_set_new(o, "crashes", json_integer(t->bo.crashes));
    json_object_set_new(o, "immediate", json_boolean(t->bo.immediate));
    json_object_set_new(o, "health_fails", json_integer(t->health_fails));
    json_object_set_new(o, "hold_socket", json_boolean(t->hold_socket));
    if (t->timer_kind == TM_BACKOFF || t->timer_kind == TM_COOLDOWN)
        json_object_set_new(
            o, "timer_ms", json_integer(t->timer_due > now ? (json_int_t)(t->timer_due - now) : 0));
    if (t->listen_fd >= 0) {
        rc |= upgrade_keep_fd(o, "listen_fd", t->listen_fd);
        json_object_set_new(o, "listen_port", json_integer(t->listen_port));
    }
    if (t->notify)
        rc |= upgrade_keep_fd(o, "notify_fd", notify_fd(t->notify));
    if (t->logcap) {
        int out = -1, err = -1;
        logcap_stream_fds(t->logcap, &out, &err);
        if (out >= 0)
            rc |= upgrade_keep_fd(o, "log_out", out);
        if (err >= 0)
            rc |= upgrade_keep_fd(o, "log_err", err);
    }
    if (t->state == TS_RUNNING && t->watch) {
        json_object_set_new(o, "pid", json_integer(t->pid));
        rc |= upgrade_keep_fd(o, "pidfd", t->watch->pidfd);
        json_object_set_new(o, "gen", json_string(t->watch->gen));
        json_object_set_new(o, "uptime_ms", json_integer((json_int_t)(now - t->ready_at)));
        json_object_set_new(o, "ready_by_notify", json_boolean(t->ready_by_notify));
    }
    /* idle (idle.c): the state name and listen_fd above are all it needs. */
    return rc;
}

int sup_upgrade_export(struct sup *s, json_t *state, char *err, size_t n)
{
    json_t *all = json_object();
    if (!all || json_object_set_new(state, "tenants", all) < 0) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        json_t *o = json_object();
        if (!o || json_object_set_new(all, s->t[i]->id, o) < 0 || export_one(s, s->t[i], o) < 0) {
            snprintf(err, n, "%s: cannot record its state", s->t[i]->id);
            return -ENOMEM;
        }
    }
    return 0;
}

/* ---- the new image ----------------------------------------------------------- */

static int adopt_worker(struct tenant *t, json_t *o)
{
    struct sup *s = t->s;
    const struct config_global *g = &s->cfg->g;
    int pidfd = upgrade_take_fd(o, "pidfd");
    pid_t pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    if (pidfd < 0 || pid <= 0)
        return -EBADF;
    struct exit_watch *w = calloc(1, sizeof *w);
    if (!w || uv_poll_init(s->loop, &w->poll, pidfd) < 0) {
        free(w);
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
        close(pidfd);
        return -ENOMEM;
    }
    w->pidfd = pidfd;
    w->pid = pid;
    w->t = t;
    w->poll.data = w;
    snprintf(w->gen, sizeof w->gen, "%s", json_string_value(json_object_get(o, "gen")) ?: "");
    char dir[CONFIG_PATH_MAX], secret[128];
    struct cgroup_tenant cgbuf;
    t->have_cgroup = sup_tenant_cgroup(t, &cgbuf) == 0;
    w->have_cg = t->have_cgroup && sup_gen_cgroup(s, t->id, w->gen, &cgbuf) == 0;
    /* An exit during the exec is seen at once: the poll is readable. */
    uv_poll_start(&w->poll, UV_READABLE, sup_on_exit_readable);
    t->watch = w;
    t->pid = pid;
    t->status_fd = -1;
    uint64_t now = sup_now_ms(s);
    uint64_t up = (uint64_t)json_integer_value(json_object_get(o, "uptime_ms"));
    t->ready_at = now > up + 1 ? now - up : 1;
    t->spawned_at = t->ready_at;
    t->ready_by_notify = json_is_true(json_object_get(o, "ready_by_notify"));
    t->state = TS_RUNNING;
    /* The usage endpoint's credential, as at the spawn. */
    config_tenant_data_dir(g, t->id, dir, sizeof dir);
    if (spawn_secret(dir, s->root, t->uid, t->uid, secret, sizeof secret) == 0 &&
        usage_token(t->id, secret, t->usage_token, sizeof t->usage_token) < 0)
        t->usage_token[0] = '\0';
    sodium_memzero(secret, sizeof secret);
    int64_t iv = g->health_interval_ms > 0 ? g->health_interval_ms : 5000;
    sup_health_schedule(t, iv / 2 + (int64_t)randombytes_uniform((uint32_t)(iv / 2 + 1)));
    return 0;
}

static void adopt_resources(struct tenant *t, json_t *o)
{
    struct sup *s = t->s;
    const struct config_global *g = &s->cfg->g;
    char dir[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 16];
    int fd = upgrade_take_fd(o, "listen_fd");
    if (fd >= 0) {
        t->listen_fd = fd;
        t->listen_port = (int)json_integer_value(json_object_get(o, "listen_port"));
    }
    config_tenant_data_dir(g, t->id, dir, sizeof dir);
    fd = upgrade_take_fd(o, "notify_fd");
    if (fd >= 0) {
        snprintf(path, sizeof path, "%s/.notify", dir);
        if (notify_adopt(s->loop, fd, path, sup_on_notify, t, &t->notify) < 0) {
            close(fd);
            t->notify = NULL;
        }
    }
    int out = upgrade_take_fd(o, "log_out"), err = upgrade_take_fd(o, "log_err");
    if (out >= 0 || err >= 0) {
        struct logcap_opts lo;
        sup_logcap_opts_for(t, &lo);
        config_tenant_log_path(g, t->id, path, sizeof path);
        if (logcap_open(s->loop, path, t->id, &lo, &t->logcap) == 0) {
            if (out >= 0)
                logcap_attach_one(t->logcap, out, "stdout");
            if (err >= 0)
                logcap_attach_one(t->logcap, err, "stderr");
        } else {
            t->logcap = NULL;
            if (out >= 0)
                close(out);
            if (err >= 0)
                close(err);
        }
    }
}

void sup_upgrade_adopt(struct tenant *t)
{
    struct sup *s = t->s;
    json_t *o = json_object_get(json_object_get(upgrade_state(), "tenants"), t->id);
    if (!o || !t->have_cfg)
        return; /* a new tenant, or one whose file is invalid: as at a boot */
    json_object_set_new(o, "taken", json_true());
    t->restarts = (int)json_integer_value(json_object_get(o, "restarts"));
    t->wakeups = (uint64_t)json_integer_value(json_object_get(o, "wakeups"));
    t->spawns = (int)json_integer_value(json_object_get(o, "spawns"));
    t->gens = (uint64_t)json_integer_value(json_object_get(o, "gens"));
    snprintf(t->last_exit, sizeof t->last_exit, "%s",
             json_string_value(json_object_get(o, "last_exit")) ?: "");
    snprintf(t->state_reason, sizeof t->state_reason, "%s",
             json_string_value(json_object_get(o, "reason")) ?: "");
    t->ready_latency_ms = json_integer_value(json_object_get(o, "ready_latency_ms"));
    t->bo.crashes = (int)json_integer_value(json_object_get(o, "crashes"));
    t->bo.immediate = json_is_true(json_object_get(o, "immediate"));
    t->health_fails = (int)json_integer_value(json_object_get(o, "health_fails"));
    t->hold_socket = json_is_true(json_object_get(o, "hold_socket"));
    if (s->root && !t->have_uid)
        t->have_uid = uidmap_get(s->uids, t->id, &t->uid) == 0;
    adopt_resources(t, o);

    const char *st = json_string_value(json_object_get(o, "state")) ?: "";
    int64_t timer_ms = json_integer_value(json_object_get(o, "timer_ms"));
    t->boot_attempt = false;
    if (strcmp(st, "running") == 0) {
        if (adopt_worker(t, o) < 0) {
            log_error(t->id, "upgrade: cannot take over its worker: starting a new one");
            t->boot_attempt = t->goal == GOAL_UP;
            return;
        }
        log_info(t->id, "upgrade: worker pid=%d taken over", (int)t->pid);
    } else if (strcmp(st, "backoff") == 0 && json_object_get(o, "timer_ms")) {
        t->state = TS_BACKOFF;
        sup_timer_arm(t, TM_BACKOFF, timer_ms);
    } else if (strcmp(st, "failed") == 0) {
        t->state = TS_FAILED;
        if (json_object_get(o, "timer_ms"))
            sup_timer_arm(t, TM_COOLDOWN, timer_ms);
    } else if (strcmp(st, "idle") == 0 && t->goal == GOAL_UP) {
        /* No process: the socket taken above is watched again. If the new
         * configuration no longer idles (or the socket could not be taken),
         * the tenant starts as at a boot. */
        if (sup_idle_applies(t)) {
            t->state = TS_IDLE;
            if (sup_idle_watch(t) == 0) {
                log_info(t->id, "upgrade: idle, its socket watched again");
            } else {
                t->state = TS_STOPPED;
                t->boot_attempt = true;
            }
        } else {
            t->boot_attempt = true;
        }
    }
    sup_states_changed(s);
}

void sup_upgrade_leftovers(struct sup *s)
{
    json_t *all = json_object_get(upgrade_state(), "tenants");
    const char *id;
    json_t *o;
    (void)s;
    json_object_foreach(all, id, o)
    {
        if (json_is_true(json_object_get(o, "taken")))
            continue;
        int pidfd = upgrade_take_fd(o, "pidfd");
        if (pidfd < 0)
            continue;
        /* Its file went away between the old image's last reload and now. */
        log_warn(id, "upgrade: no tenant takes worker pid=%lld: stopping it",
                 (long long)json_integer_value(json_object_get(o, "pid")));
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
        close(pidfd);
    }
}
