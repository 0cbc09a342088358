/*
 * sup_process.c — one tenant's worker process, as the supervisor sees it:
 * the environment and the jail options it is started with, the spawn itself
 * (through spawn.c), readiness (READY=1 on notify.c's socket, or the first
 * /healthz 200), liveness probes, and its exit, classified into an event.
 *
 * What it does not do: decide what follows an event (tenant_fsm.c, fed by
 * sup_exec.c), fork or exec (spawn.c), or speak HTTP (health.c).
 */
#include "sup_internal.h"
#include "argv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "backoff.h"
#include "cgroup.h"
#include "exitcode.h"
#include "health.h"
#include "idle.h"
#include "jail_args.h"
#include "listen.h"
#include "netpolicy.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "pg_admin.h"
#include "spawn.h"
#include "spawn_transient.h"
#include "status_json.h"
#include "tenant_fsm.h"
#include "uidmap.h"
#include "usage_token.h"
#include "util.h"

/* ---- the process ------------------------------------------------------------------ */

static void watch_closed(uv_handle_t *h)
{
    struct exit_watch *w = h->data;
    close(w->pidfd);
    free(w->cg_left);
    free(w);
}

void sup_on_notify(void *arg, pid_t sender, unsigned flags, const char *status)
{
    struct tenant *t = arg;
    /* [worker] notify_access = main (systemd's NotifyAccess=main): only the
     * worker's main process may speak; its helpers and children may not. */
    if (t->have_cfg && t->cfg.notify_access == NOTIFY_ACCESS_MAIN &&
        (sender <= 0 || sender != t->pid)) {
        if (!t->notify_foreign_logged) {
            t->notify_foreign_logged = true;
            log_warn(t->id,
                     "notify message from pid %d ignored: only the main process pid %d may send "
                     "([worker] notify_access = main)",
                     (int)sender, (int)t->pid);
        }
        return;
    }
    if (flags & NOTIFY_STATUS) {
        notify_clean_status(status, t->worker_status, sizeof t->worker_status);
        log_debug(t->id, "worker status: %s", t->worker_status);
    }
    /* The worker is about to go idle: a probe sent now would wait in the
     * backlog once it has stopped accepting, and wake the tenant at once.
     * Probing resumes after the grace period if it does not exit after all. */
    if ((flags & NOTIFY_STATUS) && strncmp(status, "idle", 4) == 0 && t->state == TS_RUNNING &&
        sup_idle_applies(t)) {
        const struct config_global *g = &t->s->cfg->g;
        sup_health_stop(t);
        sup_health_schedule(t, g->stop_grace_ms + g->health_interval_ms);
    }
    if ((flags & NOTIFY_READY) && t->state == TS_STARTING && t->pid > 0) {
        t->ready_by_notify = true;
        sup_tenant_feed(t, EV_READY);
    }
    if (flags & NOTIFY_STOPPING)
        log_debug(t->id, "worker says it is stopping");
    if (flags & NOTIFY_MAINPID) {
        /* Refused: the worker is pid 1 of its pid namespace, and when it exits
         * the kernel ends every process in it, so a daemonizing worker cannot
         * be followed to another main pid. */
        if (!t->notify_error)
            log_error(t->id, "MAINPID= refused: the worker must stay in the foreground");
        t->notify_error = "MAINPID= refused: the worker is pid 1 of its own pid namespace and its "
                          "exit ends every process in it, so it must not daemonize (run it in "
                          "the foreground)";
    }
    if ((flags & NOTIFY_WATCHDOG) && t->pid > 0)
        t->alive_at = sup_now_ms(t->s);
}

static void on_probe_done(void *arg, int result);

static void probe_start(struct tenant *t)
{
    const struct config_global *g = &t->s->cfg->g;
    int rc = 0;
    /* A probe of an idle tenant would wait in the backlog and wake it. */
    if (t->state == TS_IDLE || t->pid <= 0)
        return;
    if (!t->health)
        rc = health_new(t->s->loop, t->cfg.port, on_probe_done, t, &t->health);
    if (rc == 0) {
        health_set_port(t->health, t->cfg.port);
        health_set_interval(t->health, t->state == TS_RUNNING ? sup_health_interval(t->s) : 0);
        rc = health_probe(t->health, g->health_timeout_ms);
    }
    if (rc < 0 && rc != UV_EBUSY)
        on_probe_done(t, rc);
}

static void on_health_timer(uv_timer_t *h)
{
    struct tenant *t = h->data;
    /* A running worker that said WATCHDOG=1 within the interval is alive:
     * its datagram cost tenantd one recv, a probe costs a TCP connection.
     * Only silent workers are probed. */
    int64_t iv = sup_health_interval(t->s);
    if (t->state == TS_RUNNING && t->alive_at > 0 &&
        sup_now_ms(t->s) - t->alive_at < (uint64_t)iv) {
        t->health_fails = 0;
        sup_health_schedule(t, iv);
        return;
    }
    probe_start(t);
}

/* Probes due within the same 100 ms slot fire together, so that a thousand
 * tenants wake tenantd a few times per second instead of at every probe. */
#define HEALTH_SLOT_MS 100

void sup_health_schedule(struct tenant *t, int64_t ms)
{
    if (t->closing)
        return;
    if (ms >= 4 * HEALTH_SLOT_MS) {
        uint64_t due = sup_now_ms(t->s) + (uint64_t)ms;
        ms += (int64_t)(HEALTH_SLOT_MS - due % HEALTH_SLOT_MS);
    }
    uv_timer_start(&t->health_timer, on_health_timer, (uint64_t)(ms > 0 ? ms : 1), 0);
}

/* Liveness probes only catch a worker that hangs: an exit is seen at once on
 * its pidfd. So with many tenants the probes are spread to at most
 * HEALTH_MAX_PER_S in all, which keeps an idle tenantd's CPU flat in the
 * tenant count (a probe costs tenantd ~100 us: a reconnect, since the
 * worker's keep-alive is shorter than the interval): up to 64 tenants the
 * interval is health_interval, at 1000 each is probed every 125 s. */
#define HEALTH_MAX_PER_S 8

int64_t sup_health_interval(const struct sup *s)
{
    int64_t iv = s->cfg->g.health_interval_ms > 0 ? s->cfg->g.health_interval_ms : 8000;
    int64_t spread = (int64_t)s->n * 1000 / HEALTH_MAX_PER_S;
    return iv > spread ? iv : spread;
}

void sup_health_stop(struct tenant *t)
{
    health_reset(t->health);
    if (!t->closing)
        uv_timer_stop(&t->health_timer);
}

static void on_probe_done(void *arg, int result)
{
    struct tenant *t = arg;
    const struct config_global *g = &t->s->cfg->g;
    if (t->pid <= 0 || t->aborting)
        return;
    if (t->state == TS_STARTING) {
        /* During an overlap the previous worker answers on the same socket:
         * only READY=1 tells that the new one is ready. */
        if (t->prev && !t->prev_draining)
            return;
        if (result == 200) {
            t->ready_by_notify = false;
            sup_tenant_feed(t, EV_READY);
            return;
        }
        /* Not up yet: poll again, less and less often, until the ready
         * timeout decides. */
        sup_health_schedule(t, t->ready_poll_ms);
        t->ready_poll_ms =
            t->ready_poll_ms * 2 > READY_POLL_MAX_MS ? READY_POLL_MAX_MS : t->ready_poll_ms * 2;
        return;
    }
    if (t->state != TS_RUNNING)
        return;
    if (result == UV_EMFILE || result == UV_ENFILE || result == UV_ENOMEM || result == UV_EAGAIN) {
        /* tenantd could not open the probe's connection: says nothing about
         * the worker, so it is not a failed check. */
        sup_health_schedule(t, g->health_interval_ms);
        return;
    }
    if (result == 200) {
        t->health_fails = 0;
    } else {
        char why[64];
        if (result > 0)
            snprintf(why, sizeof why, "HTTP %d", result);
        else
            snprintf(why, sizeof why, "%s", uv_strerror(result));
        t->health_fails++;
        log_warn(t->id, "health check failed (%d/%d): %s", t->health_fails, g->health_failures,
                 why);
        if (t->health_fails >= g->health_failures) {
            sup_set_reason(t, "restarted: GET /healthz failed %d times in a row (last: %s)",
                           t->health_fails, why);
            log_error(t->id, "%s", t->state_reason);
            sup_tenant_feed(t, EV_HEALTH_FAILED);
            return;
        }
    }
    sup_health_schedule(t, sup_health_interval(t->s));
}

/* Build the worker's environment: the config's, plus what only the supervisor
 * knows (NOTIFY_SOCKET, LISTEN_FDS). One allocation, like config_worker_env. */
static char **worker_env(struct tenant *t, const char *secret, const char *notify_path)
{
    struct sup *s = t->s;
    char **base = config_worker_env(&s->cfg->g, &s->cfg->plans, &t->cfg, secret);
    if (!base)
        return NULL;
    char extra[4][CONFIG_PATH_MAX + 32];
    size_t nextra = 0;
    if (notify_path)
        snprintf(extra[nextra++], sizeof extra[0], "NOTIFY_SOCKET=%s", notify_path);
    if (t->cfg.socket == WORKER_SOCKET_PASSED)
        snprintf(extra[nextra++], sizeof extra[0], "LISTEN_FDS=1");
    /* Scale to zero: the worker exits EXITCODE_IDLE after this long without
     * a request (idle.h); only a passed socket can wake it again. */
    if (t->cfg.socket == WORKER_SOCKET_PASSED && t->cfg.idle_after_ms > 0)
        snprintf(extra[nextra++], sizeof extra[0], "IDLE_AFTER_MS=%lld",
                 (long long)t->cfg.idle_after_ms);
    /* systemd's convention: a worker that can sends WATCHDOG=1 every half of
     * this; then tenantd does not probe it (on_health_timer). */
    if (notify_path)
        snprintf(extra[nextra++], sizeof extra[0], "WATCHDOG_USEC=%lld",
                 (long long)sup_health_interval(s) * 1000);
    size_t n = 0, bytes = 0;
    for (; base[n]; n++)
        bytes += strlen(base[n]) + 1;
    for (size_t i = 0; i < nextra; i++)
        bytes += strlen(extra[i]) + 1;
    size_t slots = n + nextra + 1;
    char **env = malloc(slots * sizeof *env + bytes);
    if (!env) {
        free(base);
        return NULL;
    }
    char *p = (char *)(env + slots);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Ours win over anything of the same name in the base. */
        if (strncmp(base[i], "NOTIFY_SOCKET=", 14) == 0 || strncmp(base[i], "LISTEN_", 7) == 0 ||
            strncmp(base[i], "IDLE_AFTER_MS=", 14) == 0 || strncmp(base[i], "WATCHDOG_", 9) == 0)
            continue;
        env[k++] = strcpy(p, base[i]);
        p += strlen(p) + 1;
    }
    for (size_t i = 0; i < nextra; i++) {
        env[k++] = strcpy(p, extra[i]);
        p += strlen(p) + 1;
    }
    env[k] = NULL;
    free(base);
    return env;
}

/* What the jail must apply for this tenant: who it is, its data dir and, as
 * root, its ids and isolation (the fd layout is spawn.c's). o borrows t's
 * strings and argv, and paths (which must outlive o). */
static void jail_opts_for(struct tenant *t, const char *dir, char *const *argv,
                          struct spawn_fs_paths *paths, struct jail_opts *o)
{
    const struct config_global *g = &t->s->cfg->g;
    jail_opts_init(o);
    snprintf(o->id, sizeof o->id, "%s", t->id);
    o->data_dir = dir;
    o->argv = argv;
    if (!t->s->root)
        return;
    o->has_ids = true;
    o->uid = t->uid;
    o->gid = t->uid;
    o->cgroup = t->id;
    o->cgroup_parent = t->s->cg_parent;
    o->cgroup_optional = true;
    o->memory_bytes = t->cfg.memory_bytes > 0 ? t->cfg.memory_bytes : 0;
    o->pids = t->cfg.pids > 0 ? t->cfg.pids : 0;
    o->cpu_weight = t->cfg.cpu_weight > 0 ? t->cfg.cpu_weight : 0;
    /* The plan's storage limit, first layer: no single file grows past it
     * (storage.c counts the whole data dir). */
    if (t->cfg.storage_bytes > 0)
        o->rlimit_fsize = t->cfg.storage_bytes;
    o->no_core = true;
    /* Always a pid namespace: tenantd creates it (spawn_args.new_pidns), so
     * the jail and then the worker are its pid 1, with no forwarder. */
    o->ns = JAIL_NS_MOUNT | JAIL_NS_PID | JAIL_NS_IPC | JAIL_NS_UTS;
    /* network namespace, Landlock port rules, cgroup-bpf address rules */
    netpolicy_jail_opts(&t->cfg, t->s->cgsys.v2.mnt[0] != '\0', o);
    /* The other tenants' folders, the logs and the admin socket are none of
     * this worker's business; its own data dir is bound back by the jail, and
     * so are its program and templates when the tenant could not reach them. */
    spawn_arg_paths((const char *const *)argv + 1, paths);
    spawn_fs_opts(g, argv[0], paths, o);
    const char *pg_dir = pg_admin_expose(g, &t->cfg);
    if (pg_dir != NULL && o->n_expose < JAIL_EXPOSE_MAX)
        o->expose[o->n_expose++] = pg_dir;
    o->seccomp = t->cfg.seccomp;
}

/* ---- workers that could not be watched -------------------------------- */

#define REAP_POLL_MS 10 /* a SIGKILLed worker is usually gone within a tick */

static void on_reap_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    for (struct sup_reap **pp = &s->reaping; *pp;) {
        struct sup_reap *r = *pp;
        int code, sig;
        if (spawn_reap(r->pidfd, &code, &sig) == -EAGAIN) {
            pp = &r->next;
            continue;
        }
        close(r->pidfd);
        *pp = r->next;
        free(r);
    }
    if (s->reaping == NULL)
        uv_timer_stop(h);
}

/* The worker was SIGKILLed: reap it from a timer, never by sleeping on the
 * loop. The pidfd cannot be polled (that is why we are here), so the timer
 * asks again every few ms until it is gone. */
static void reap_later(struct sup *s, int pidfd)
{
    struct sup_reap *r = malloc(sizeof *r);
    if (r == NULL) {
        /* Out of memory: one zombie until tenantd exits, not a stalled loop. */
        close(pidfd);
        return;
    }
    r->pidfd = pidfd;
    r->next = s->reaping;
    s->reaping = r;
    if (!uv_is_active((uv_handle_t *)&s->reap_timer) &&
        !uv_is_closing((uv_handle_t *)&s->reap_timer))
        uv_timer_start(&s->reap_timer, on_reap_timer, REAP_POLL_MS, REAP_POLL_MS);
}

void sup_reap_free_all(struct sup *s)
{
    while (s->reaping) {
        struct sup_reap *r = s->reaping;
        s->reaping = r->next;
        close(r->pidfd);
        free(r);
    }
}

static int do_spawn(struct tenant *t)
{
    struct sup *s = t->s;
    const struct config_global *g = &s->cfg->g;
    char dir[CONFIG_PATH_MAX], notify_path[CONFIG_PATH_MAX + 16], log_path[CONFIG_PATH_MAX + 16];
    char secret[128], jail[CONFIG_PATH_MAX + 16], worker[CONFIG_PATH_MAX + 16];
    char **env = NULL;
    int rc = 0;

    t->transient_err = 0;
    if (config_tenant_data_dir(g, t->id, dir, sizeof dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if (s->root && !t->have_uid) {
        rc = uidmap_get(s->uids, t->id, &t->uid);
        if (rc < 0) {
            sup_set_reason(t, "cannot store a uid in %s/uids: %s", g->run_dir, strerror(-rc));
            return rc;
        }
        t->have_uid = true;
    }
    rc = spawn_prepare_dir(dir, s->root, t->uid, t->uid);
    if (rc < 0) {
        sup_set_reason(t, "cannot prepare %s: %s", dir, strerror(-rc));
        return rc;
    }
    rc = spawn_secret(dir, s->root, t->uid, t->uid, secret, sizeof secret);
    if (rc < 0) {
        sup_set_reason(t, "cannot read or create %s/secret: %s", dir, strerror(-rc));
        return rc;
    }
    /* A PostgreSQL tenant's password file, written by onboarding as root
     * before the tenant had a uid (pg_admin.h). */
    if (s->root && t->cfg.database == DB_POSTGRESQL &&
        (rc = pg_admin_chown_pgpass(dir, t->uid, t->uid)) < 0) {
        sup_set_reason(t, "cannot give %s/.pgpass to the tenant: %s", dir, strerror(-rc));
        return rc;
    }
    if (usage_token(t->id, secret, t->usage_token, sizeof t->usage_token) < 0)
        t->usage_token[0] = '\0';

    snprintf(notify_path, sizeof notify_path, "%s/.notify", dir);
    if (!t->notify) {
        rc = notify_open(s->loop, notify_path, s->root, t->uid, t->uid, sup_on_notify, t,
                         &t->notify);
        if (rc < 0 && transient_errno(-rc)) {
            /* Out of fds: retry the start rather than run without it. */
            t->notify = NULL;
            sup_set_reason(t, "cannot open its notify socket: %s", strerror(-rc));
            return rc;
        }
        if (rc < 0 && !t->notify_broken) {
            t->notify_broken = true;
            log_warn(t->id, "no notify socket at %s (%s): readiness comes from /healthz",
                     notify_path, strerror(-rc));
        }
        if (rc < 0)
            t->notify = NULL;
    } else {
        notify_drain(t->notify);
    }

    if (t->cfg.socket == WORKER_SOCKET_PASSED) {
        if (t->listen_fd >= 0 && t->listen_port != t->cfg.port)
            sup_close_listen(t);
        if (t->listen_fd < 0) {
            int fd = listen_tcp("127.0.0.1", t->cfg.port);
            if (fd < 0) {
                sup_set_reason(t, "cannot listen on 127.0.0.1:%d: %s", t->cfg.port, strerror(-fd));
                return fd;
            }
            t->listen_fd = fd;
            t->listen_port = t->cfg.port;
        }
    } else {
        sup_close_listen(t);
    }

    if (!t->logcap) {
        struct logcap_opts lo;
        sup_logcap_opts_for(t, &lo);
        config_tenant_log_path(g, t->id, log_path, sizeof log_path);
        rc = logcap_open(s->loop, log_path, t->id, &lo, &t->logcap);
        if (rc < 0) {
            sup_set_reason(t, "cannot capture its log: %s", strerror(-rc));
            return rc;
        }
    }

    if (g->jail_path[0])
        snprintf(jail, sizeof jail, "%s", g->jail_path);
    else
        snprintf(jail, sizeof jail, "%s/tenant-jail", s->self_dir);
    if (g->worker_path[0])
        snprintf(worker, sizeof worker, "%s", g->worker_path);
    else
        snprintf(worker, sizeof worker, "%s/tenant-worker", s->self_dir);

    env = worker_env(t, secret, t->notify ? notify_path : NULL);
    sodium_memzero(secret, sizeof secret);
    if (!env) {
        rc = -ENOMEM;
        goto cleanup;
    }

    /* Only whether the folders can be named is kept; they are rebuilt where
     * needed (sup_cgroup.c). */
    struct cgroup_tenant cgbuf;
    if (!t->have_cgroup)
        t->have_cgroup = sup_tenant_cgroup(t, &cgbuf) == 0;
    /* Each generation runs in its own child of the tenant's cgroup, so that
     * two of them can overlap under the tenant's one set of limits. */
    char gen[32];
    bool have_gcg = false;
    snprintf(gen, sizeof gen, "g%08x-%llu", s->gen_base, (unsigned long long)++t->gens);
    if (t->have_cgroup)
        have_gcg = sup_gen_cgroup(s, t->id, gen, &cgbuf) == 0;

    /* [worker] command is an argv (quoted words, no shell; checked at parse time). */
    char argbuf[CONFIG_PATH_MAX], *worker_argv[ARGV_MAX_WORDS + 1] = {worker, NULL};
    if (t->cfg.command[0] &&
        argv_split(t->cfg.command, worker_argv, argbuf, sizeof argbuf, NULL, 0) <= 0) {
        rc = -EINVAL;
        sup_set_reason(t, "[worker] command cannot be split into words");
        goto cleanup;
    }
    struct jail_opts jo;
    struct spawn_fs_paths paths;
    jail_opts_for(t, dir, worker_argv, &paths, &jo);
    if (have_gcg)
        jo.cgroup_gen = gen;
    struct spawn_args a = {
        .jail = jail,
        .jail_opts = &jo,
        .listen_fd = t->cfg.socket == WORKER_SOCKET_PASSED ? t->listen_fd : -1,
        .env = env,
        .new_pidns = s->root,
    };
    struct spawn_result r;
    rc = spawn_worker(&a, &r);
    if (rc < 0) {
        sup_set_reason(t, "cannot start %s: %s", jail, r.error[0] ? r.error : strerror(-rc));
        goto cleanup;
    }

    struct exit_watch *w = calloc(1, sizeof *w);
    if (!w || uv_poll_init(s->loop, &w->poll, r.pidfd) < 0) {
        /* Unwatchable: take it down at once rather than lose track of it. */
        free(w);
        kill(r.pid, SIGKILL);
        reap_later(s, r.pidfd);
        close(r.status_fd);
        close(r.out_fd);
        close(r.err_fd);
        rc = -ENOMEM;
        sup_set_reason(t, "cannot watch the worker process");
        goto cleanup;
    }
    w->pidfd = r.pidfd;
    w->pid = r.pid;
    w->have_cg = have_gcg;
    snprintf(w->gen, sizeof w->gen, "%s", gen);
    w->t = t;
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, sup_on_exit_readable);
    t->watch = w;
    t->pid = r.pid;
    t->status_fd = r.status_fd;
    logcap_attach(t->logcap, r.out_fd, r.err_fd);

    t->spawned_at = sup_now_ms(s);
    t->alive_at = 0;
    t->ready_at = 0;
    t->aborting = false;
    t->health_fails = 0;
    /* restarts: the supervisor's own; an operator's start, restart, resume or
     * changed file counts in operator_restarts; a wake-up from idle in wakeups. */
    if (t->spawns++ > 0 && !t->waking) {
        if (t->op_pending)
            t->operator_restarts++;
        else
            t->restarts++;
    }
    t->waking = false;
    t->op_pending = false;
    t->worker_status[0] = '\0';
    t->notify_foreign_logged = false;
    log_info(t->id, "worker started pid=%d", (int)t->pid);
    sup_timer_arm(t, TM_READY, g->ready_timeout_ms);
    t->ready_poll_ms = READY_POLL_FIRST_MS;
    if (!t->prev || t->prev_draining)
        sup_health_schedule(t, t->ready_poll_ms);
cleanup:
    free(env);
    return rc;
}

void sup_start_slot_run(struct tenant *t)
{
    struct sup *s = t->s;
    if (t->boot_attempt) {
        t->boot_attempt = false;
        sup_states_changed(s);
    }
    if (t->state != TS_STARTING || t->closing)
        return;
    s->starting++;
    t->in_slot = true;
    int rc = do_spawn(t);
    if (rc < 0) {
        if (sup_transient_note(t, -rc))
            log_debug(t->id, "%s", t->state_reason);
        else
            log_error(t->id, "%s", t->state_reason);
        sup_tenant_feed(t, t->prev && !t->prev_draining ? EV_OVERLAP_FAILED : EV_SPAWN_FAILED);
        return;
    }
    sup_tenant_feed(t, EV_SPAWNED);
}

void sup_act_spawn(struct tenant *t)
{
    struct sup *s = t->s;
    int max = s->cfg->g.max_parallel_starts > 0 ? s->cfg->g.max_parallel_starts : 1;
    sup_timer_disarm(t);
    if (s->starting < max && !s->q_head) {
        sup_start_slot_run(t);
        return;
    }
    /* Boot storm: wait for a free slot, in arrival order. */
    t->queued = true;
    t->q_next = NULL;
    if (s->q_tail)
        s->q_tail->q_next = t;
    else
        s->q_head = t;
    s->q_tail = t;
    sup_pump(s);
}

/* The previous generation of an overlap is gone: drained after its SIGTERM,
 * or dead while its successor was starting. Not an event of the table. */
static void prev_exited(struct tenant *t, pid_t pid, int rc, int code, int sig, bool oom)
{
    char how[48];
    if (rc < 0)
        snprintf(how, sizeof how, "unknown (%s)", strerror(-rc));
    else if (oom)
        snprintf(how, sizeof how, "oom-killed");
    else if (sig)
        snprintf(how, sizeof how, "signal %d", sig);
    else
        snprintf(how, sizeof how, "exit %d", code);
    bool drained = t->prev_draining;
    t->prev = NULL;
    t->prev_draining = false;
    t->prev_ready_at = 0;
    if (!t->closing)
        uv_timer_stop(&t->drain_timer);
    if (drained) {
        log_info(t->id, "previous worker pid=%d drained (%s)", (int)pid, how);
    } else {
        /* It was serving while its successor started: that is an outage
         * until the successor is ready (the backlog holds the connections). */
        snprintf(t->last_exit, sizeof t->last_exit, "%s", how);
        log_warn(t->id, "previous worker pid=%d exited %s while its successor starts", (int)pid,
                 how);
    }
    struct cgroup_tenant cg;
    if (t->have_cgroup && !t->watch && sup_tenant_cgroup(t, &cg) == 0)
        cgroup_tenant_remove(&cg);
    sup_states_changed(t->s);
    if (t->s->shutting_down)
        sup_maybe_shutdown_done(t->s);
    else
        sup_reconcile(t);
}

bool sup_can_overlap(const struct tenant *t)
{
    return t->state == TS_RUNNING && t->have_cfg && !t->s->shutting_down &&
           t->cfg.socket == WORKER_SOCKET_PASSED && t->listen_fd >= 0 &&
           t->listen_port == t->cfg.port && t->ready_by_notify && t->notify && !t->prev;
}

void sup_on_exit_readable(uv_poll_t *h, int status, int events)
{
    struct exit_watch *w = h->data;
    struct tenant *t = w->t;
    int code = -1, sig = 0;
    (void)status;
    (void)events;
    int rc = spawn_reap(w->pidfd, &code, &sig);
    if (rc == -EAGAIN)
        return;
    uv_close((uv_handle_t *)&w->poll, watch_closed);
    uint64_t ooms = 0;
    struct cgroup_tenant cgbuf;
    const struct cgroup_tenant *gcg = sup_watch_cgroup(w, &cgbuf);
    bool gen_oom = sig == SIGKILL && gcg && cgroup_tenant_oom_kills(gcg, &ooms) == 0 && ooms > 0;
    if (gcg) {
        /* Whatever the worker left behind in its generation's cgroup goes
         * with it, and the empty cgroup is removed. */
        if (cgroup_tenant_kill(gcg) < 0 || cgroup_tenant_remove(gcg) < 0)
            log_warn(t ? t->id : NULL, "cgroup of pid %d still holds processes after it exited",
                     (int)w->pid);
    }
    if (!t)
        return;
    struct sup *s = t->s;
    if (w == t->prev) {
        prev_exited(t, w->pid, rc, code, sig, gen_oom);
        return;
    }
    t->watch = NULL;

    char msg[512] = "";
    if (t->status_fd >= 0) {
        spawn_read_status(t->status_fd, msg, sizeof msg);
        close(t->status_fd);
        t->status_fd = -1;
    }
    pid_t pid = t->pid;
    t->pid = 0;
    sup_health_stop(t);
    if (t->timer_kind == TM_READY || t->timer_kind == TM_GRACE)
        sup_timer_disarm(t);
    /* At least 1 once it was ready: 0 means it never became ready. */
    t->last_run_ms = t->ready_at ? (int64_t)(sup_now_ms(s) - t->ready_at) + 1 : 0;
    t->ready_at = 0;

    bool oom = gen_oom;
    /* The tenant's cgroup goes when no generation is left in it (the jail
     * makes it again, with the current limits, at each start). */
    if (t->have_cgroup && !t->prev && sup_tenant_cgroup(t, &cgbuf) == 0)
        cgroup_tenant_remove(&cgbuf);
    if (rc < 0)
        snprintf(t->last_exit, sizeof t->last_exit, "unknown (%s)", strerror(-rc));
    else if (oom)
        snprintf(t->last_exit, sizeof t->last_exit, "oom-killed");
    else if (sig)
        snprintf(t->last_exit, sizeof t->last_exit, "signal %d", sig);
    else
        snprintf(t->last_exit, sizeof t->last_exit, "exit %d", code);

    enum fsm_event ev;
    if (t->prev && !t->prev_draining && t->state == TS_STARTING) {
        /* The new worker of an overlap: the previous one still serves. */
        ev = EV_OVERLAP_FAILED;
        sup_set_reason(t, "the new worker pid=%d exited (%s%s%s) before it was ready", (int)pid,
                       t->last_exit, msg[0] ? ": " : "", msg);
    } else if (code == EXITCODE_JAIL && msg[0] && t->state == TS_STARTING &&
               sup_transient_note(t, transient_status_errno(msg))) {
        /* Out of fds or processes before the worker ran: retried soon. */
        ev = EV_EXIT_CRASH;
        sup_set_reason(t, "cannot start yet: %s", msg);
    } else if (code == EXITCODE_IDLE && !sig && t->state == TS_RUNNING && !t->aborting &&
               sup_idle_applies(t)) {
        ev = EV_EXIT_IDLE;
    } else if (code == EXITCODE_JAIL && msg[0]) {
        ev = EV_EXIT_JAIL;
        sup_set_reason(t, "isolation failed: %s", msg);
    } else if (code == EXITCODE_CONFIG) {
        ev = EV_EXIT_CONFIG;
        sup_set_reason(t,
                       "the worker exited 78 (EX_CONFIG): not restarted until its config changes");
    } else if (code == 0 && !t->aborting) {
        ev = EV_EXIT_CLEAN;
    } else {
        ev = EV_EXIT_CRASH;
    }
    if (oom) {
        /* Said on its own line, in tenantd's log and in the tenant's, so an
         * operator looking for "OOM" finds it. */
        char line[200];
        snprintf(line, sizeof line,
                 "OOM: the worker was killed by the kernel at its memory limit "
                 "([limits] memory = %lld bytes)",
                 (long long)t->cfg.memory_bytes);
        log_error(t->id, "%s", line);
        if (t->logcap)
            logcap_note(t->logcap, line);
    }
    bool expected = t->state == TS_STOPPING;
    if (ev == EV_EXIT_IDLE)
        snprintf(t->last_exit, sizeof t->last_exit, "idle (exit %d)", EXITCODE_IDLE);
    if (ev == EV_EXIT_IDLE)
        log_info(t->id, "worker pid=%d exited after %lld ms without a request: idle", (int)pid,
                 (long long)t->cfg.idle_after_ms);
    else if (expected)
        log_info(t->id, "worker stopped pid=%d %s", (int)pid, t->last_exit);
    else if (t->transient_err)
        log_debug(t->id, "worker exited pid=%d %s: %s", (int)pid, t->last_exit, msg);
    else
        log_warn(t->id, "worker exited pid=%d %s%s%s", (int)pid, t->last_exit, msg[0] ? ": " : "",
                 msg);
    t->aborting = false;
    sup_tenant_feed(t, ev);
}
