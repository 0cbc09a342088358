/*
 * supervisor.c — implements sup.h: one runtime struct per configured tenant,
 * driven by the state machine of tenant_fsm.c. This file turns the world into
 * events (an exit seen on a pidfd, READY=1, a probe result, a timer, an
 * operator's request, a reload) and carries out the actions the table asks
 * for (spawn, signal, arm a timer); it never decides a transition itself.
 *
 * Each tenant has a goal besides its state: up, down (an operator's stop or
 * status = cancelled), suspended, or removed (its file is gone). After a stop
 * completes, reconcile() moves the tenant toward its goal; that is how a
 * restart (stop, then start) or a suspend (stop, then suspended) composes out
 * of the plain transitions.
 *
 * Cost model (1000 tenants on 2 cores): no timer runs for an idle tenant but
 * its liveness probe; every per-tenant structure is found by binary search or
 * a pointer; a start slot is a counter and a FIFO queue.
 *
 * What it does not do: the fork/exec details (spawn.c), the readiness
 * protocol (notify.c), HTTP (health.c), log files (logcap.c), the schedule of
 * restarts (backoff.c), or the admin API (admin.c).
 */
#include "sup.h"

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
#include "health.h"
#include "listen.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "status_json.h"
#include "tenant_fsm.h"
#include "uidmap.h"
#include "usage_token.h"
#include "util.h"

#define READY_POLL_FIRST_MS 20 /* first /healthz readiness probe after the spawn */
#define READY_POLL_MAX_MS 500

enum goal { GOAL_UP = 0, GOAL_DOWN, GOAL_SUSPENDED, GOAL_REMOVED };
enum timer_kind { TM_NONE = 0, TM_READY, TM_GRACE, TM_BACKOFF, TM_COOLDOWN };

struct exit_watch {
    uv_poll_t poll;
    int pidfd;
    struct tenant *t; /* NULL once the tenant no longer waits for it */
};

struct tenant {
    struct sup *s;
    char id[CONFIG_ID_MAX];
    bool have_cfg;            /* cfg holds a valid configuration */
    struct config_tenant cfg; /* the last good configuration, the one that runs */
    char config_error[1024];

    enum tstate state;
    enum goal goal;

    /* The process, while one exists. */
    pid_t pid;
    struct exit_watch *watch;
    int status_fd;
    bool aborting;       /* we killed it for a failure: its exit is a crash */
    uint64_t spawned_at; /* uv_now() of the fork */
    uint64_t ready_at;   /* uv_now() of READY, 0 while not ready */
    int64_t ready_latency_ms;
    int64_t last_run_ms; /* how long the last run was ready, for the backoff */

    /* Start slots (boot-storm limit). */
    bool in_slot, queued;
    bool boot_attempt; /* wanted up at start-up, first start attempt still to come */
    struct tenant *q_next;

    /* Resources kept across restarts. */
    int listen_fd;
    int listen_port;
    struct notify *notify;
    bool notify_broken; /* said once that readiness falls back to /healthz */
    struct logcap *logcap;
    bool have_uid;
    uid_t uid;
    bool have_cgroup; /* root with cgroups: where the jail puts the worker */
    struct cgroup_tenant cgroup;
    uint64_t oom_kills; /* the cgroup's OOM-kill counter when the worker started */

    uv_timer_t fsm_timer; /* ready timeout, grace, backoff or cooldown */
    enum timer_kind timer_kind;
    uint64_t timer_due; /* uv_now() when fsm_timer fires */
    uv_timer_t health_timer;
    struct health *health; /* the /healthz prober, created at the first start */
    int health_fails;
    int64_t ready_poll_ms;
    /* Credential for the worker's GET /internal/usage, derived from the
     * secret read at the last spawn ("" before that). */
    char usage_token[USAGE_TOKEN_LEN + 1];

    struct backoff bo;
    int spawns, restarts;
    char last_exit[48];
    char state_reason[256];

    bool closing; /* handles are being closed; freed when both are */
    int open_handles;
};

struct sup {
    uv_loop_t *loop;
    struct config *cfg;
    struct tenant **t; /* sorted by id */
    size_t n, cap;
    bool root;
    struct uidmap *uids;
    struct cgroup_sys cgsys;         /* detected once at start (root only) */
    char cg_parent[CGROUP_PATH_MAX]; /* the jail's --cgroup-parent for our tenants */
    char self_dir[CONFIG_PATH_MAX];
    struct backoff_policy bp;

    int starting; /* tenants holding a start slot */
    struct tenant *q_head, *q_tail;
    bool pumping;

    uv_timer_t change_timer;
    bool change_pending;
    sup_change_fn hook;
    void *hook_arg;

    uv_timer_t state_timer; /* coalesces SUP_EV_STATES */
    bool state_pending;
    sup_event_fn ev_hook;
    void *ev_hook_arg;

    uv_fs_event_t fs_event;
    bool fs_event_on;
    uv_timer_t reload_timer;
    uint64_t reloads; /* sup_reload calls (sup_counts) */

    bool booting; /* the first configuration is being applied */
    bool shutting_down;
    void (*shutdown_done)(void *);
    void *shutdown_arg;
    uv_timer_t shutdown_timer;
    int closing_handles;
    bool handles_closed;
};

static void tenant_feed(struct tenant *t, enum fsm_event ev);
static void reconcile(struct tenant *t);
static void cgroup_v2_setup(struct sup *s);
static void maybe_shutdown_done(struct sup *s);
static void cgroup_parent_cleanup(struct sup *s);

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t now_ms(const struct sup *s)
{
    return uv_now(s->loop);
}

static void set_reason(struct tenant *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct tenant *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->state_reason, sizeof t->state_reason, fmt, ap);
    va_end(ap);
}

static void policy_from(struct backoff_policy *bp, const struct config_global *g)
{
    bp->min_ms = g->backoff_min_ms;
    bp->max_ms = g->backoff_max_ms;
    bp->stable_after_ms = g->stable_after_ms;
    bp->start_limit = g->start_limit;
}

static void logcap_opts_for(const struct tenant *t, struct logcap_opts *o)
{
    const struct config_global *g = &t->s->cfg->g;
    o->line_max = g->log_line_max;
    o->rate_lines = g->log_rate_lines;
    o->rotate_bytes = g->log_rotate_bytes > 0 ? g->log_rotate_bytes : t->cfg.log_budget_bytes / 4;
}

static enum goal goal_of_status(enum tenant_status st)
{
    switch (st) {
    case TENANT_SUSPENDED:
        return GOAL_SUSPENDED;
    case TENANT_CANCELLED:
        return GOAL_DOWN;
    default:
        return GOAL_UP;
    }
}

/* Coalesce proxy-relevant changes into one hook call on the next loop turn. */
static void on_change_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    s->change_pending = false;
    if (s->hook)
        s->hook(s, s->hook_arg);
}

static void sup_changed(struct sup *s)
{
    if (s->change_pending || s->handles_closed || s->closing_handles)
        return;
    s->change_pending = true;
    uv_timer_start(&s->change_timer, on_change_timer, 0, 0);
}

/* Coalesce state changes into one SUP_EV_STATES per loop turn. */
static void on_state_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    s->state_pending = false;
    if (s->ev_hook)
        s->ev_hook(s, SUP_EV_STATES, s->ev_hook_arg);
}

static void sup_states_changed(struct sup *s)
{
    if (s->state_pending || s->handles_closed || s->closing_handles || !s->ev_hook)
        return;
    s->state_pending = true;
    uv_timer_start(&s->state_timer, on_state_timer, 0, 0);
}

static void sup_event(struct sup *s, enum sup_event ev)
{
    if (s->ev_hook)
        s->ev_hook(s, ev, s->ev_hook_arg);
}

static void timer_arm(struct tenant *t, enum timer_kind k, int64_t ms);
static void timer_disarm(struct tenant *t)
{
    t->timer_kind = TM_NONE;
    t->timer_due = 0;
    if (!t->closing)
        uv_timer_stop(&t->fsm_timer);
}

static void close_listen(struct tenant *t)
{
    if (t->listen_fd >= 0) {
        close(t->listen_fd);
        t->listen_fd = -1;
        t->listen_port = 0;
    }
}

/* ---- the tenant array --------------------------------------------------------- */

static size_t lower_bound(const struct sup *s, const char *id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->t[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct tenant *find(const struct sup *s, const char *id)
{
    size_t i = lower_bound(s, id);
    return i < s->n && strcmp(s->t[i]->id, id) == 0 ? s->t[i] : NULL;
}

static void tenant_handle_closed(uv_handle_t *h)
{
    struct tenant *t = h->data;
    if (--t->open_handles == 0) {
        struct sup *s = t->s;
        free(t);
        if (s->closing_handles > 0 && --s->closing_handles == 0)
            maybe_shutdown_done(s);
    }
}

static void on_fsm_timer(uv_timer_t *h);

static struct tenant *tenant_new(struct sup *s, const char *id)
{
    struct tenant *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->s = s;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->state = TS_STOPPED;
    t->goal = GOAL_DOWN;
    t->listen_fd = -1;
    t->status_fd = -1;
    t->ready_latency_ms = -1;
    uv_timer_init(s->loop, &t->fsm_timer);
    uv_timer_init(s->loop, &t->health_timer);
    t->fsm_timer.data = t;
    t->health_timer.data = t;
    t->open_handles = 2;
    return t;
}

static int tenant_insert(struct sup *s, struct tenant *t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct tenant **n = realloc(s->t, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        s->t = n;
        s->cap = cap;
    }
    size_t i = lower_bound(s, t->id);
    memmove(s->t + i + 1, s->t + i, (s->n - i) * sizeof *s->t);
    s->t[i] = t;
    s->n++;
    return 0;
}

/* Release everything of a tenant that has no process any more. Its memory
 * goes in the close callbacks, so callers up the stack may still read it. */
static void tenant_release(struct tenant *t)
{
    if (t->closing)
        return;
    t->closing = true;
    t->boot_attempt = false;
    close_listen(t);
    notify_close(t->notify);
    t->notify = NULL;
    logcap_close(t->logcap);
    t->logcap = NULL;
    health_free(t->health);
    t->health = NULL;
    uv_close((uv_handle_t *)&t->fsm_timer, tenant_handle_closed);
    uv_close((uv_handle_t *)&t->health_timer, tenant_handle_closed);
}

/* A removed tenant leaves the array once its worker is gone. */
static void tenant_remove(struct tenant *t)
{
    struct sup *s = t->s;
    size_t i = lower_bound(s, t->id);
    if (i < s->n && s->t[i] == t) {
        memmove(s->t + i, s->t + i + 1, (s->n - i - 1) * sizeof *s->t);
        s->n--;
    }
    log_info(t->id, "removed (its data is kept)");
    tenant_release(t);
    sup_changed(s);
}

/* ---- start slots ------------------------------------------------------------------ */

static void start_slot_run(struct tenant *t);

static void queue_remove(struct tenant *t)
{
    struct sup *s = t->s;
    /* Taken off the queue without a start attempt (stopped, removed, or
     * shutting down): it no longer holds tenantd's readiness back. */
    t->boot_attempt = false;
    if (!t->queued)
        return;
    struct tenant **pp = &s->q_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->q_next;
    }
    if (*pp) {
        *pp = t->q_next;
        if (s->q_tail == t)
            s->q_tail = prev;
    }
    t->q_next = NULL;
    t->queued = false;
}

/* Start queued tenants while slots are free. Re-entrant calls (a start that
 * fails at once frees its slot) leave the work to the outer loop. */
static void pump(struct sup *s)
{
    if (s->pumping)
        return;
    s->pumping = true;
    int max = s->cfg->g.max_parallel_starts > 0 ? s->cfg->g.max_parallel_starts : 1;
    while (s->q_head && s->starting < max) {
        struct tenant *t = s->q_head;
        s->q_head = t->q_next;
        if (!s->q_head)
            s->q_tail = NULL;
        t->q_next = NULL;
        t->queued = false;
        start_slot_run(t);
    }
    s->pumping = false;
}

/* ---- the process ------------------------------------------------------------------ */

static void on_exit_readable(uv_poll_t *h, int status, int events);

static void watch_closed(uv_handle_t *h)
{
    struct exit_watch *w = h->data;
    close(w->pidfd);
    free(w);
}

static void on_notify(void *arg, unsigned flags, const char *status)
{
    struct tenant *t = arg;
    if (flags & NOTIFY_STATUS)
        log_debug(t->id, "worker status: %s", status);
    if ((flags & NOTIFY_READY) && t->state == TS_STARTING && t->pid > 0)
        tenant_feed(t, EV_READY);
    if (flags & NOTIFY_STOPPING)
        log_debug(t->id, "worker says it is stopping");
}

static void on_probe_done(void *arg, int result);

static void probe_start(struct tenant *t)
{
    const struct config_global *g = &t->s->cfg->g;
    int rc = 0;
    if (!t->health)
        rc = health_new(t->s->loop, t->cfg.port, on_probe_done, t, &t->health);
    if (rc == 0) {
        health_set_port(t->health, t->cfg.port);
        rc = health_probe(t->health, g->health_timeout_ms);
    }
    if (rc < 0 && rc != UV_EBUSY)
        on_probe_done(t, rc);
}

static void on_health_timer(uv_timer_t *h)
{
    probe_start(h->data);
}

/* Probes due within the same 100 ms slot fire together, so that a thousand
 * tenants wake tenantd a few times per second instead of at every probe. */
#define HEALTH_SLOT_MS 100

static void health_schedule(struct tenant *t, int64_t ms)
{
    if (t->closing)
        return;
    if (ms >= 4 * HEALTH_SLOT_MS) {
        uint64_t due = now_ms(t->s) + (uint64_t)ms;
        ms += (int64_t)(HEALTH_SLOT_MS - due % HEALTH_SLOT_MS);
    }
    uv_timer_start(&t->health_timer, on_health_timer, (uint64_t)(ms > 0 ? ms : 1), 0);
}

static void health_stop(struct tenant *t)
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
        if (result == 200) {
            tenant_feed(t, EV_READY);
            return;
        }
        /* Not up yet: poll again, less and less often, until the ready
         * timeout decides. */
        health_schedule(t, t->ready_poll_ms);
        t->ready_poll_ms =
            t->ready_poll_ms * 2 > READY_POLL_MAX_MS ? READY_POLL_MAX_MS : t->ready_poll_ms * 2;
        return;
    }
    if (t->state != TS_RUNNING)
        return;
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
            set_reason(t, "restarted: GET /healthz failed %d times in a row (last: %s)",
                       t->health_fails, why);
            log_error(t->id, "%s", t->state_reason);
            tenant_feed(t, EV_HEALTH_FAILED);
            return;
        }
    }
    health_schedule(t, g->health_interval_ms);
}

/* Build the worker's environment: the config's, plus what only the supervisor
 * knows (NOTIFY_SOCKET, LISTEN_FDS). One allocation, like config_worker_env. */
static char **worker_env(struct tenant *t, const char *secret, const char *notify_path)
{
    struct sup *s = t->s;
    char **base = config_worker_env(&s->cfg->g, &s->cfg->plans, &t->cfg, secret);
    if (!base)
        return NULL;
    char extra[2][CONFIG_PATH_MAX + 32];
    size_t nextra = 0;
    if (notify_path)
        snprintf(extra[nextra++], sizeof extra[0], "NOTIFY_SOCKET=%s", notify_path);
    if (t->cfg.socket == WORKER_SOCKET_PASSED)
        snprintf(extra[nextra++], sizeof extra[0], "LISTEN_FDS=1");
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
        if (strncmp(base[i], "NOTIFY_SOCKET=", 14) == 0 || strncmp(base[i], "LISTEN_", 7) == 0)
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

/* The jail's isolation options for this tenant (root only). */
static size_t jail_extra(struct tenant *t, const char *worker, struct spawn_fs_paths *paths,
                         char store[][CONFIG_PATH_MAX + 16], const char **argv, size_t max)
{
    const struct config_global *g = &t->s->cfg->g;
    size_t k = 0, sidx = 0;
#define ADD(v) (k < max ? (argv[k++] = (v)) : NULL)
#define ADDF(...)                                                                                  \
    do {                                                                                           \
        snprintf(store[sidx], sizeof store[0], __VA_ARGS__);                                       \
        ADD(store[sidx]);                                                                          \
        sidx++;                                                                                    \
    } while (0)
    ADD("--cgroup");
    ADD(t->id);
    ADD("--cgroup-parent");
    ADD(t->s->cg_parent);
    ADD("--cgroup-optional");
    if (t->cfg.memory_bytes > 0) {
        ADD("--memory");
        ADDF("%lld", (long long)t->cfg.memory_bytes);
    }
    if (t->cfg.pids > 0) {
        ADD("--pids");
        ADDF("%d", t->cfg.pids);
    }
    if (t->cfg.cpu_weight > 0) {
        ADD("--cpu-weight");
        ADDF("%d", t->cfg.cpu_weight);
    }
    ADD("--no-core");
    ADD("--ns");
    ADD(t->cfg.network == WORKER_NETWORK_NONE ? "mount,pid,ipc,uts,net" : "mount,pid,ipc,uts");
    /* The other tenants' folders, the logs and the admin socket are none of
     * this worker's business; its own data dir is bound back by the jail, and
     * so are its program and templates when the tenant could not reach them. */
    if (k + SPAWN_FS_ARGS <= max)
        spawn_fs_args(g, worker, paths, argv, &k);
    if (t->cfg.seccomp)
        ADD("--seccomp");
#undef ADD
#undef ADDF
    argv[k] = NULL;
    return k;
}

static int do_spawn(struct tenant *t)
{
    struct sup *s = t->s;
    const struct config_global *g = &s->cfg->g;
    char dir[CONFIG_PATH_MAX], notify_path[CONFIG_PATH_MAX + 16], log_path[CONFIG_PATH_MAX + 16];
    char secret[128], jail[CONFIG_PATH_MAX + 16], worker[CONFIG_PATH_MAX + 16];
    char **env = NULL;
    int rc = 0;

    if (config_tenant_data_dir(g, t->id, dir, sizeof dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if (s->root && !t->have_uid) {
        rc = uidmap_get(s->uids, t->id, &t->uid);
        if (rc < 0) {
            set_reason(t, "cannot store a uid in %s/uids: %s", g->run_dir, strerror(-rc));
            return rc;
        }
        t->have_uid = true;
    }
    rc = spawn_prepare_dir(dir, s->root, t->uid, t->uid);
    if (rc < 0) {
        set_reason(t, "cannot prepare %s: %s", dir, strerror(-rc));
        return rc;
    }
    rc = spawn_secret(dir, s->root, t->uid, t->uid, secret, sizeof secret);
    if (rc < 0) {
        set_reason(t, "cannot read or create %s/secret: %s", dir, strerror(-rc));
        return rc;
    }
    if (usage_token(t->id, secret, t->usage_token, sizeof t->usage_token) < 0)
        t->usage_token[0] = '\0';

    snprintf(notify_path, sizeof notify_path, "%s/.notify", dir);
    if (!t->notify) {
        rc = notify_open(s->loop, notify_path, s->root, t->uid, t->uid, on_notify, t, &t->notify);
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
            close_listen(t);
        if (t->listen_fd < 0) {
            int fd = listen_tcp("127.0.0.1", t->cfg.port);
            if (fd < 0) {
                set_reason(t, "cannot listen on 127.0.0.1:%d: %s", t->cfg.port, strerror(-fd));
                return fd;
            }
            t->listen_fd = fd;
            t->listen_port = t->cfg.port;
        }
    } else {
        close_listen(t);
    }

    if (!t->logcap) {
        struct logcap_opts lo;
        logcap_opts_for(t, &lo);
        config_tenant_log_path(g, t->id, log_path, sizeof log_path);
        rc = logcap_open(s->loop, log_path, t->id, &lo, &t->logcap);
        if (rc < 0) {
            set_reason(t, "cannot capture its log: %s", strerror(-rc));
            return rc;
        }
    }

    if (g->jail_path[0])
        snprintf(jail, sizeof jail, "%s", g->jail_path);
    else
        snprintf(jail, sizeof jail, "%s/tenant-jail", s->self_dir);
    if (t->cfg.command[0])
        snprintf(worker, sizeof worker, "%s", t->cfg.command);
    else if (g->worker_path[0])
        snprintf(worker, sizeof worker, "%s", g->worker_path);
    else
        snprintf(worker, sizeof worker, "%s/tenant-worker", s->self_dir);

    env = worker_env(t, secret, t->notify ? notify_path : NULL);
    sodium_memzero(secret, sizeof secret);
    if (!env) {
        rc = -ENOMEM;
        goto cleanup;
    }

    if (s->root && s->cgsys.mode != CGROUP_NONE && !t->have_cgroup)
        t->have_cgroup = cgroup_tenant_paths(&s->cgsys, s->cg_parent, t->id, &t->cgroup) == 0;
    t->oom_kills = 0;
    if (t->have_cgroup)
        cgroup_tenant_oom_kills(&t->cgroup, &t->oom_kills);

    char store[8][CONFIG_PATH_MAX + 16];
    struct spawn_fs_paths paths;
    const char *extra[40];
    if (s->root)
        jail_extra(t, worker, &paths, store, extra, sizeof extra / sizeof extra[0] - 1);
    struct spawn_args a = {
        .jail = jail,
        .command = worker,
        .id = t->id,
        .data_dir = dir,
        .set_ids = s->root,
        .uid = t->uid,
        .gid = t->uid,
        .listen_fd = t->cfg.socket == WORKER_SOCKET_PASSED ? t->listen_fd : -1,
        .env = env,
        .jail_extra = s->root ? extra : NULL,
        /* jail_extra always asks for a pid namespace: tenantd creates it, so
         * the jail and then the worker are its pid 1, with no forwarder. */
        .new_pidns = s->root,
    };
    struct spawn_result r;
    rc = spawn_worker(&a, &r);
    if (rc < 0) {
        set_reason(t, "cannot start %s: %s", jail, strerror(-rc));
        goto cleanup;
    }

    struct exit_watch *w = calloc(1, sizeof *w);
    if (!w || uv_poll_init(s->loop, &w->poll, r.pidfd) < 0) {
        /* Unwatchable: take it down at once rather than lose track of it. */
        free(w);
        kill(r.pid, SIGKILL);
        int code, sig;
        for (int i = 0; i < 1000 && spawn_reap(r.pidfd, &code, &sig) == -EAGAIN; i++)
            usleep(1000);
        close(r.pidfd);
        close(r.status_fd);
        close(r.out_fd);
        close(r.err_fd);
        rc = -ENOMEM;
        set_reason(t, "cannot watch the worker process");
        goto cleanup;
    }
    w->pidfd = r.pidfd;
    w->t = t;
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_exit_readable);
    t->watch = w;
    t->pid = r.pid;
    t->status_fd = r.status_fd;
    logcap_attach(t->logcap, r.out_fd, r.err_fd);

    t->spawned_at = now_ms(s);
    t->ready_at = 0;
    t->aborting = false;
    t->health_fails = 0;
    if (t->spawns++ > 0)
        t->restarts++;
    log_info(t->id, "worker started pid=%d", (int)t->pid);
    timer_arm(t, TM_READY, g->ready_timeout_ms);
    t->ready_poll_ms = READY_POLL_FIRST_MS;
    health_schedule(t, t->ready_poll_ms);
cleanup:
    free(env);
    return rc;
}

static void start_slot_run(struct tenant *t)
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
        log_error(t->id, "%s", t->state_reason);
        tenant_feed(t, EV_SPAWN_FAILED);
        return;
    }
    tenant_feed(t, EV_SPAWNED);
}

static void act_spawn(struct tenant *t)
{
    struct sup *s = t->s;
    int max = s->cfg->g.max_parallel_starts > 0 ? s->cfg->g.max_parallel_starts : 1;
    timer_disarm(t);
    if (s->starting < max && !s->q_head) {
        start_slot_run(t);
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
    pump(s);
}

static void on_exit_readable(uv_poll_t *h, int status, int events)
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
    if (!t)
        return;
    struct sup *s = t->s;
    t->watch = NULL;

    char msg[512] = "";
    if (t->status_fd >= 0) {
        spawn_read_status(t->status_fd, msg, sizeof msg);
        close(t->status_fd);
        t->status_fd = -1;
    }
    pid_t pid = t->pid;
    t->pid = 0;
    health_stop(t);
    if (t->timer_kind == TM_READY || t->timer_kind == TM_GRACE)
        timer_disarm(t);
    t->last_run_ms = t->ready_at ? (int64_t)(now_ms(s) - t->ready_at) : 0;
    t->ready_at = 0;

    uint64_t ooms = 0;
    bool oom = sig == SIGKILL && t->have_cgroup &&
               cgroup_tenant_oom_kills(&t->cgroup, &ooms) == 0 && ooms > t->oom_kills;
    if (t->have_cgroup) {
        /* Whatever the worker left behind in its cgroup goes with it, and
         * the empty cgroup is removed (the jail makes a new one each start). */
        if (cgroup_tenant_kill(&t->cgroup) < 0 || cgroup_tenant_remove(&t->cgroup) < 0)
            log_warn(t->id, "its cgroup still holds processes after the worker exited");
    }
    if (rc < 0)
        snprintf(t->last_exit, sizeof t->last_exit, "unknown (%s)", strerror(-rc));
    else if (oom)
        snprintf(t->last_exit, sizeof t->last_exit, "oom-killed");
    else if (sig)
        snprintf(t->last_exit, sizeof t->last_exit, "signal %d", sig);
    else
        snprintf(t->last_exit, sizeof t->last_exit, "exit %d", code);

    enum fsm_event ev;
    if (code == 111 && msg[0]) {
        ev = EV_EXIT_JAIL;
        set_reason(t, "isolation failed: %s", msg);
    } else if (code == 78) {
        ev = EV_EXIT_CONFIG;
        set_reason(t, "the worker exited 78 (EX_CONFIG): not restarted until its config changes");
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
    if (expected)
        log_info(t->id, "worker stopped pid=%d %s", (int)pid, t->last_exit);
    else
        log_warn(t->id, "worker exited pid=%d %s%s%s", (int)pid, t->last_exit, msg[0] ? ": " : "",
                 msg);
    t->aborting = false;
    tenant_feed(t, ev);
}

/* ---- actions ------------------------------------------------------------------- */

static void timer_arm(struct tenant *t, enum timer_kind k, int64_t ms)
{
    if (t->closing)
        return;
    if (ms < 0)
        ms = 0;
    t->timer_kind = k;
    t->timer_due = now_ms(t->s) + (uint64_t)ms;
    uv_timer_start(&t->fsm_timer, on_fsm_timer, (uint64_t)ms, 0);
}

static void on_fsm_timer(uv_timer_t *h)
{
    struct tenant *t = h->data;
    enum timer_kind k = t->timer_kind;
    t->timer_kind = TM_NONE;
    t->timer_due = 0;
    switch (k) {
    case TM_READY:
        set_reason(t, "not ready within %lld ms", (long long)t->s->cfg->g.ready_timeout_ms);
        log_error(t->id, "%s: killing it", t->state_reason);
        tenant_feed(t, EV_READY_TIMEOUT);
        break;
    case TM_GRACE:
        tenant_feed(t, EV_GRACE);
        break;
    case TM_BACKOFF:
    case TM_COOLDOWN:
        tenant_feed(t, EV_TIMER);
        break;
    case TM_NONE:
        break;
    }
}

static void send_signal(struct tenant *t, int sig)
{
    if (t->pid > 0 && kill(t->pid, sig) < 0 && errno != ESRCH)
        log_warn(t->id, "kill(%d, %d): %s", (int)t->pid, sig, strerror(errno));
}

static void act_term(struct tenant *t)
{
    health_stop(t);
    if (t->pid <= 0) {
        /* It was still waiting for a start slot: there is nothing to stop. */
        tenant_feed(t, EV_EXIT_CLEAN);
        return;
    }
    send_signal(t, SIGTERM);
    timer_arm(t, TM_GRACE, t->s->cfg->g.stop_grace_ms);
}

static void act_backoff(struct tenant *t)
{
    struct sup *s = t->s;
    int64_t d = backoff_on_crash(&t->bo, &s->bp, t->last_run_ms, randombytes_random());
    t->last_run_ms = 0;
    if (d < 0) {
        set_reason(t, "start limit reached: %d crashes without a stable run (last: %s)",
                   t->bo.crashes, t->last_exit[0] ? t->last_exit : "none");
        tenant_feed(t, EV_START_LIMIT);
        return;
    }
    log_info(t->id, "restarting in %lld ms (crash %d of %d)", (long long)d, t->bo.crashes,
             s->bp.start_limit);
    timer_arm(t, TM_BACKOFF, d);
}

static void act_fail(struct tenant *t, bool hold)
{
    const struct config_global *g = &t->s->cfg->g;
    if (!hold && g->failed_cooldown_ms > 0) {
        log_error(t->id, "FAILED: %s; retried in %lld s or by hand", t->state_reason,
                  (long long)(g->failed_cooldown_ms / 1000));
        timer_arm(t, TM_COOLDOWN, g->failed_cooldown_ms);
    } else {
        log_error(t->id, "FAILED: %s; retried by hand%s", t->state_reason,
                  hold ? " or when its config changes" : "");
        timer_disarm(t);
    }
    if (t->logcap) {
        char line[320];
        snprintf(line, sizeof line, "failed: %s", t->state_reason);
        logcap_note(t->logcap, line);
    }
}

static void act_ready(struct tenant *t)
{
    struct sup *s = t->s;
    const struct config_global *g = &s->cfg->g;
    timer_disarm(t);
    health_stop(t);
    t->ready_at = now_ms(s);
    if (t->ready_at == t->spawned_at)
        t->ready_at++; /* 0 means "not ready" */
    t->ready_latency_ms = (int64_t)(now_ms(s) - t->spawned_at);
    t->health_fails = 0;
    t->state_reason[0] = '\0';
    log_info(t->id, "worker ready pid=%d latency_ms=%lld", (int)t->pid,
             (long long)t->ready_latency_ms);
    /* The first probe lands anywhere in the first interval, so that tenants
     * started together do not probe together forever after. */
    int64_t iv = g->health_interval_ms > 0 ? g->health_interval_ms : 5000;
    health_schedule(t, iv / 2 + (int64_t)randombytes_uniform((uint32_t)(iv / 2 + 1)));
}

static void perform(struct tenant *t, enum fsm_action a)
{
    switch (a) {
    case ACT_NONE:
    case ACT_REJECT:
        break;
    case ACT_SPAWN:
        act_spawn(t);
        break;
    case ACT_READY:
        act_ready(t);
        break;
    case ACT_ABORT:
        t->aborting = true;
        health_stop(t);
        send_signal(t, SIGTERM);
        timer_arm(t, TM_GRACE, t->s->cfg->g.stop_grace_ms);
        break;
    case ACT_TERM:
        act_term(t);
        break;
    case ACT_KILL:
        log_warn(t->id, "still alive after the grace period: SIGKILL");
        send_signal(t, SIGKILL);
        break;
    case ACT_BACKOFF:
        act_backoff(t);
        break;
    case ACT_FAIL:
        act_fail(t, false);
        break;
    case ACT_FAIL_HOLD:
        act_fail(t, true);
        break;
    case ACT_CANCEL:
        timer_disarm(t);
        break;
    case ACT_STOPPED:
        timer_disarm(t);
        reconcile(t);
        break;
    case ACT__COUNT:
        break;
    }
}

static void tenant_feed(struct tenant *t, enum fsm_event ev)
{
    if (t->closing)
        return;
    struct fsm_step st = fsm_next(t->state, ev);
    enum tstate old = t->state;
    if (st.action == ACT_REJECT)
        return;
    t->state = st.next;
    if (old != st.next)
        log_debug(t->id, "%s -> %s on %s", tstate_name(old), tstate_name(st.next),
                  fsm_event_name(ev));
    /* A start slot is held exactly while the tenant is starting. The next
     * queued tenant starts only after this transition's action, so the log
     * reads in order ("ready", then the next "started"). */
    bool freed = false;
    if (old == TS_STARTING && st.next != TS_STARTING) {
        queue_remove(t);
        freed = t->in_slot;
        if (t->in_slot) {
            t->in_slot = false;
            t->s->starting--;
        }
    }
    if ((old == TS_SUSPENDED) != (st.next == TS_SUSPENDED))
        sup_changed(t->s);
    if (old != st.next)
        sup_states_changed(t->s);
    perform(t, st.action);
    if (freed)
        pump(t->s);
    if (t->s->shutting_down && !fsm_has_process(t->state))
        maybe_shutdown_done(t->s);
}

/* Move a tenant toward its goal. Called after a stop completes and whenever
 * the goal changes; safe to call at any time. */
static void reconcile(struct tenant *t)
{
    if (t->closing)
        return;
    switch (t->goal) {
    case GOAL_UP:
        if (!t->have_cfg)
            break;
        if (t->state == TS_STOPPED)
            tenant_feed(t, EV_START);
        else if (t->state == TS_SUSPENDED)
            tenant_feed(t, EV_RESUME);
        break;
    case GOAL_DOWN:
    case GOAL_REMOVED:
        if (t->state != TS_STOPPED && t->state != TS_STOPPING)
            tenant_feed(t, EV_STOP);
        if (t->state == TS_STOPPED) {
            close_listen(t);
            if (t->goal == GOAL_REMOVED)
                tenant_remove(t);
        }
        break;
    case GOAL_SUSPENDED:
        if (t->state != TS_SUSPENDED && t->state != TS_STOPPING)
            tenant_feed(t, EV_SUSPEND);
        if (t->state == TS_SUSPENDED)
            close_listen(t);
        break;
    }
}

/* ---- reload ----------------------------------------------------------------------- */

/* Apply one entry of a freshly loaded config to its tenant (which exists). */
static void apply_entry(struct tenant *t, const struct config_tenant_entry *e)
{
    struct sup *s = t->s;
    if (t->goal == GOAL_REMOVED) {
        /* Its file came back before the old worker was gone. */
        t->goal = GOAL_DOWN;
    }
    if (!e->valid) {
        const char *err = e->error ? e->error : "invalid";
        if (strcmp(t->config_error, err) != 0) {
            snprintf(t->config_error, sizeof t->config_error, "%s", err);
            if (t->have_cfg)
                log_warn(t->id, "config invalid, keeps running on its last good config: %s", err);
            else
                log_warn(t->id, "config invalid, not started: %s", err);
        }
        return;
    }
    if (t->config_error[0]) {
        log_info(t->id, "config valid again");
        t->config_error[0] = '\0';
    }
    if (!t->have_cfg) {
        t->cfg = e->t;
        t->have_cfg = true;
        t->goal = goal_of_status(t->cfg.status);
        if (s->booting && t->goal == GOAL_UP) {
            /* An operator's stop or suspend outlives tenantd's restarts. */
            switch (admin_desired_state(s->cfg->g.run_dir, t->id)) {
            case ADMIN_DESIRED_STOPPED:
                log_info(t->id, "left stopped, as an operator asked");
                t->goal = GOAL_DOWN;
                break;
            case ADMIN_DESIRED_SUSPENDED:
                log_info(t->id, "left suspended, as an operator asked");
                t->goal = GOAL_SUSPENDED;
                break;
            case ADMIN_DESIRED_UP:
                break;
            }
        }
        sup_changed(s);
        return;
    }
    if (config_tenant_equal(&t->cfg, &e->t))
        return;
    bool proxy = t->cfg.port != e->t.port || strcmp(t->cfg.subdomain, e->t.subdomain) != 0 ||
                 t->cfg.status != e->t.status;
    bool status_changed = t->cfg.status != e->t.status;
    t->cfg = e->t;
    if (t->logcap) {
        struct logcap_opts lo;
        logcap_opts_for(t, &lo);
        logcap_set_opts(t->logcap, &lo);
    }
    if (proxy)
        sup_changed(s);
    if (status_changed)
        t->goal = goal_of_status(t->cfg.status);
    backoff_reset(&t->bo);
    if (t->goal == GOAL_UP) {
        log_info(t->id, "config changed: %s",
                 fsm_has_process(t->state) ? "restarting" : "starting");
        tenant_feed(t, EV_CONFIG_CHANGED);
    } else {
        log_info(t->id, "config changed: status %s",
                 t->goal == GOAL_SUSPENDED ? "suspended" : "cancelled");
    }
}

static void log_diag(const struct config_diag *d, enum log_level lvl)
{
    for (size_t i = 0; i < d->n; i++)
        log_msg(lvl, NULL, "%s", d->lines[i]);
}

static int apply_config(struct sup *s, struct config *nc)
{
    struct tenant **todo = calloc(s->n + nc->n_tenants + 1, sizeof *todo);
    size_t ntodo = 0;
    if (!todo)
        return -ENOMEM;
    struct config *old = s->cfg;
    s->cfg = nc;
    policy_from(&s->bp, &nc->g);

    /* Both lists are sorted by id: one merge pass finds the added, removed
     * and common tenants in O(n). Removed ones are marked first, as the
     * array changes when they leave it. */
    size_t i = 0, j = 0;
    struct tenant **cur = malloc((s->n + 1) * sizeof *cur);
    size_t ncur = s->n;
    if (!cur) {
        free(todo);
        s->cfg = old;
        return -ENOMEM;
    }
    if (s->n > 0)
        memcpy(cur, s->t, s->n * sizeof *cur);
    while (i < ncur || j < nc->n_tenants) {
        int cmp = i == ncur ? 1 : j == nc->n_tenants ? -1 : strcmp(cur[i]->id, nc->tenants[j].id);
        if (cmp < 0) {
            struct tenant *t = cur[i++];
            if (t->goal != GOAL_REMOVED) {
                log_info(t->id, "its file is gone: stopping it");
                t->goal = GOAL_REMOVED;
                sup_changed(s);
            }
            todo[ntodo++] = t;
        } else if (cmp > 0) {
            const struct config_tenant_entry *e = &nc->tenants[j++];
            struct tenant *t = tenant_new(s, e->id);
            if (!t || tenant_insert(s, t) < 0) {
                log_error(e->id, "out of memory: not added");
                if (t)
                    tenant_release(t);
                continue;
            }
            log_info(t->id, "added");
            apply_entry(t, e);
            sup_changed(s);
            todo[ntodo++] = t;
        } else {
            struct tenant *t = cur[i++];
            apply_entry(t, &nc->tenants[j++]);
            todo[ntodo++] = t;
        }
    }
    if (s->root) {
        /* New tenants get their uids in one write of the map, not one each. */
        for (size_t k = 0; k < ntodo; k++)
            if (todo[k]->have_cfg && !todo[k]->have_uid)
                uidmap_assign(s->uids, todo[k]->id);
        int src = uidmap_sync(s->uids);
        if (src < 0)
            log_error(NULL, "cannot store %s/uids: %s", nc->g.run_dir, strerror(-src));
    }
    /* At start-up, every tenant about to be started holds tenantd's own
     * readiness (READY=1) until its first start attempt. */
    if (s->booting)
        for (size_t k = 0; k < ntodo; k++)
            todo[k]->boot_attempt = todo[k]->have_cfg && todo[k]->goal == GOAL_UP;
    for (size_t k = 0; k < ntodo; k++)
        reconcile(todo[k]);
    free(cur);
    free(todo);
    if (old)
        config_free(old);
    return 0;
}

int sup_reload(struct sup *s, char *err, size_t errlen)
{
    struct config *nc = NULL;
    struct config_diag d = {0};
    if (s->shutting_down) {
        if (err)
            snprintf(err, errlen, "tenantd is shutting down");
        return -EINVAL;
    }
    s->reloads++;
    sup_event(s, SUP_EV_RELOADING);
    int rc = config_load(s->cfg->g.path, &nc, &d);
    if (rc < 0) {
        sup_event(s, SUP_EV_RELOADED);
        log_error(NULL, "reload failed: the global configuration is invalid; nothing changes");
        log_diag(&d, LOG_ERROR);
        if (err) {
            char *j = config_diag_join(&d);
            snprintf(err, errlen, "%s", j ? j : "invalid configuration");
            free(j);
        }
        config_diag_clear(&d);
        return -EINVAL;
    }
    config_diag_clear(&d);
    log_info(NULL, "reloading: %zu tenant files", nc->n_tenants);
    rc = apply_config(s, nc);
    if (rc < 0) {
        config_free(nc);
        if (err)
            snprintf(err, errlen, "%s", strerror(-rc));
    }
    sup_event(s, SUP_EV_RELOADED);
    return rc;
}

static void on_reload_timer(uv_timer_t *h)
{
    sup_reload(h->data, NULL, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct sup *s = h->data;
    (void)events;
    if (status < 0 || s->shutting_down)
        return;
    /* Editors and atomic writers create temporary files; only *.ini count. */
    if (name) {
        size_t n = strlen(name);
        if (n < 4 || strcmp(name + n - 4, ".ini") != 0)
            return;
    }
    int64_t ms = s->cfg->g.reload_debounce_ms > 0 ? s->cfg->g.reload_debounce_ms : 1;
    uv_timer_start(&s->reload_timer, on_reload_timer, (uint64_t)ms, 0);
}

/* ---- sup.h: views and actions -------------------------------------------------- */

static void proc_stats(pid_t pid, uint64_t *rss, double *cpu)
{
    char path[64], buf[1024];
    *rss = 0;
    *cpu = 0;
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        unsigned long long size, res;
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "%llu %llu", &size, &res) == 2)
                *rss = res * (uint64_t)sysconf(_SC_PAGESIZE);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            /* The command name may hold spaces and parentheses: skip past the
             * last ')'. utime and stime are fields 14 and 15. */
            char *p = strrchr(buf, ')');
            unsigned long long ut, st;
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) == 2)
                *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
}

static void fill_view(const struct sup *s, const struct tenant *t, struct tenant_view *v)
{
    const struct config_global *g = &s->cfg->g;
    uint64_t now = uv_now(s->loop);
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "%s", t->id);
    if (t->have_cfg) {
        snprintf(v->name, sizeof v->name, "%s", t->cfg.name);
        snprintf(v->plan, sizeof v->plan, "%s", t->cfg.plan);
        snprintf(v->subdomain, sizeof v->subdomain, "%s", t->cfg.subdomain);
        v->port = t->cfg.port;
        status_json_tenant_url(g, t->cfg.subdomain, v->url, sizeof v->url);
    }
    v->state = t->state;
    v->desired_up = t->goal == GOAL_UP;
    v->pid = t->pid;
    v->uptime_s = t->state == TS_RUNNING && t->ready_at ? (int64_t)(now - t->ready_at) / 1000 : 0;
    v->restarts = t->restarts;
    snprintf(v->last_exit, sizeof v->last_exit, "%s", t->last_exit);
    snprintf(v->config_error, sizeof v->config_error, "%s", t->config_error);
    snprintf(v->state_reason, sizeof v->state_reason, "%s", t->state_reason);
    v->next_start_in_ms = -1;
    if ((t->state == TS_BACKOFF || t->state == TS_FAILED) &&
        (t->timer_kind == TM_BACKOFF || t->timer_kind == TM_COOLDOWN))
        v->next_start_in_ms = t->timer_due > now ? (int64_t)(t->timer_due - now) : 0;
    v->ready_latency_ms = t->ready_latency_ms;
    if (t->pid > 0)
        proc_stats(t->pid, &v->rss_bytes, &v->cpu_seconds);
}

size_t sup_tenant_count(const struct sup *s)
{
    return s->n;
}

int sup_tenant_view(const struct sup *s, size_t i, struct tenant_view *out)
{
    if (i >= s->n)
        return -ENOENT;
    fill_view(s, s->t[i], out);
    return 0;
}

int sup_tenant_find(const struct sup *s, const char *id, struct tenant_view *out)
{
    const struct tenant *t = find(s, id);
    if (!t)
        return -ENOENT;
    fill_view(s, t, out);
    return 0;
}

int sup_tenant_usage_target(const struct sup *s, const char *id, int *port, char *token, size_t n)
{
    const struct tenant *t = find(s, id);
    if (!t)
        return -ENOENT;
    if (t->state != TS_RUNNING || !t->have_cfg || t->usage_token[0] == '\0')
        return -EAGAIN;
    if (snprintf(token, n, "%s", t->usage_token) >= (int)n)
        return -ENAMETOOLONG;
    *port = t->cfg.port;
    return 0;
}

const struct config *sup_config(const struct sup *s)
{
    return s->cfg;
}

void sup_set_change_hook(struct sup *s, sup_change_fn fn, void *arg)
{
    s->hook = fn;
    s->hook_arg = arg;
}

void sup_set_event_hook(struct sup *s, sup_event_fn fn, void *arg)
{
    s->ev_hook = fn;
    s->ev_hook_arg = arg;
}

void sup_get_counts(const struct sup *s, struct sup_counts *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->n; i++) {
        const struct tenant *t = s->t[i];
        out->running += t->state == TS_RUNNING;
        out->failed += t->state == TS_FAILED;
        out->boot_pending += t->boot_attempt;
    }
    out->reloads = s->reloads;
}

int sup_tenant_action(struct sup *s, const char *id, enum sup_action a, char *err, size_t errlen)
{
    struct tenant *t = find(s, id);
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!t || t->goal == GOAL_REMOVED) {
        snprintf(err, errlen, "no tenant %s", id);
        return -ENOENT;
    }
    if (s->shutting_down) {
        snprintf(err, errlen, "tenantd is shutting down");
        return -EINVAL;
    }
    if (!t->have_cfg && a != SUP_STOP) {
        snprintf(err, errlen, "its file is invalid and it never had a valid one: %s",
                 t->config_error);
        return -EINVAL;
    }
    switch (a) {
    case SUP_START:
        if (t->state == TS_SUSPENDED || t->goal == GOAL_SUSPENDED) {
            snprintf(err, errlen, "it is suspended: resume it");
            return -EINVAL;
        }
        log_info(t->id, "start requested");
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        if (t->state == TS_BACKOFF || t->state == TS_FAILED)
            tenant_feed(t, EV_START);
        reconcile(t);
        break;
    case SUP_STOP:
        log_info(t->id, "stop requested");
        t->goal = GOAL_DOWN;
        reconcile(t);
        break;
    case SUP_RESTART:
        if (t->state == TS_SUSPENDED || t->goal == GOAL_SUSPENDED) {
            snprintf(err, errlen, "it is suspended: resume it");
            return -EINVAL;
        }
        log_info(t->id, "restart requested");
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        if (t->state == TS_STARTING || t->state == TS_RUNNING)
            tenant_feed(t, EV_STOP);
        else if (t->state != TS_STOPPING)
            tenant_feed(t, EV_START);
        reconcile(t);
        break;
    case SUP_SUSPEND:
        log_info(t->id, "suspend requested");
        t->goal = GOAL_SUSPENDED;
        reconcile(t);
        sup_changed(s);
        break;
    case SUP_RESUME:
        if (t->goal != GOAL_SUSPENDED && t->state != TS_SUSPENDED) {
            snprintf(err, errlen, "it is not suspended");
            return -EINVAL;
        }
        log_info(t->id, "resume requested");
        t->goal = GOAL_UP;
        backoff_reset(&t->bo);
        reconcile(t);
        sup_changed(s);
        break;
    default:
        snprintf(err, errlen, "unknown action");
        return -EINVAL;
    }
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------- */

int sup_start(uv_loop_t *loop, struct config *cfg, struct sup **out)
{
    int rc = 0;
    struct sup *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->root = geteuid() == 0;
    rc = util_self_dir(s->self_dir, sizeof s->self_dir);
    if (rc < 0)
        goto cleanup;
    if (s->root) {
        /* Tenants' cgroups live under a folder named after this tenantd's
         * run dir: stable across restarts (so leftovers of an earlier run are
         * found), distinct between two tenantd on one machine. */
        uint32_t h = 2166136261u;
        for (const char *p = cfg->g.run_dir; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        snprintf(s->cg_parent, sizeof s->cg_parent, "self/tenantd-%08x", h);
        cgroup_detect(NULL, &s->cgsys);
        if (s->cgsys.mode == CGROUP_NONE)
            log_warn(NULL, "no usable cgroups (%s): workers run without resource limits",
                     s->cgsys.why);
        if (s->cgsys.mode == CGROUP_V2)
            cgroup_v2_setup(s);
        rc = uidmap_open(cfg->g.run_dir, &s->uids);
        if (rc < 0) {
            log_crit(NULL, "cannot read %s/uids: %s", cfg->g.run_dir, strerror(-rc));
            goto cleanup;
        }
    }
    uv_timer_init(loop, &s->change_timer);
    uv_timer_init(loop, &s->reload_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    uv_timer_init(loop, &s->state_timer);
    s->change_timer.data = s->reload_timer.data = s->shutdown_timer.data = s;
    s->state_timer.data = s;
    uv_fs_event_init(loop, &s->fs_event);
    s->fs_event.data = s;
    rc = uv_fs_event_start(&s->fs_event, on_fs_event, cfg->g.tenants_dir, 0);
    if (rc < 0)
        log_warn(NULL, "cannot watch %s (%s): reload with SIGHUP", cfg->g.tenants_dir,
                 uv_strerror(rc));
    s->fs_event_on = rc == 0;
    *out = s;
    s->booting = true;
    rc = apply_config(s, cfg);
    s->booting = false;
    return rc;
cleanup:
    uidmap_free(s->uids);
    free(s);
    return rc;
}

static void sup_handle_closed(uv_handle_t *h)
{
    struct sup *s = h->data;
    if (--s->closing_handles == 0)
        maybe_shutdown_done(s);
}

static void maybe_shutdown_done(struct sup *s)
{
    if (!s->shutting_down)
        return;
    if (!s->handles_closed) {
        for (size_t i = 0; i < s->n; i++)
            if (fsm_has_process(s->t[i]->state))
                return;
        /* Every worker is gone: close every handle, then report. */
        s->handles_closed = true;
        cgroup_parent_cleanup(s);
        s->closing_handles = 1; /* held until the loop below is done */
        for (size_t i = 0; i < s->n; i++) {
            s->closing_handles++;
            tenant_release(s->t[i]);
        }
        s->n = 0;
        uv_handle_t *hs[] = {(uv_handle_t *)&s->change_timer, (uv_handle_t *)&s->reload_timer,
                             (uv_handle_t *)&s->shutdown_timer, (uv_handle_t *)&s->state_timer,
                             (uv_handle_t *)&s->fs_event};
        for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
            s->closing_handles++;
            uv_close(hs[i], sup_handle_closed);
        }
        s->closing_handles--;
    }
    if (s->closing_handles == 0 && s->shutdown_done) {
        void (*done)(void *) = s->shutdown_done;
        s->shutdown_done = NULL;
        done(s->shutdown_arg);
    }
}

/* cgroup v2 (cgroup.h): tenantd moves out of its own cgroup into a leaf, so
 * that the tenants' cgroups below it can get the memory, pids and cpu
 * controllers. Without this, under systemd (tenantd in its unit's cgroup),
 * every jail would fail on "no internal processes". */
static void cgroup_v2_setup(struct sup *s)
{
    struct cgroup_v2_layout l;
    int r = cgroup_v2_layout(s->cgsys.v2.mnt, s->cgsys.v2.self, &l);
    if (r == 1)
        return; /* the root cgroup: its children get controllers anyway */
    if (r < 0) {
        log_warn(NULL,
                 "cgroup v2: tenants' cgroups stay below %s (%s): the memory and pids "
                 "controllers may be refused there",
                 s->cgsys.v2.self, r == -EINVAL ? "a name tenantd cannot use" : strerror(-r));
        return;
    }
    char err[512] = "";
    r = cgroup_v2_move_self(&l, 0, err, sizeof err);
    /* Tenants go below <own>/tenants either way: if tenantd could not leave
     * <own>, no folder below it gets the controllers, and each jail then
     * fails closed at its cgroup step with the reason. */
    if (r < 0)
        log_warn(NULL, "cgroup v2: %s: starting a tenant may fail at its cgroup step",
                 err[0] ? err : strerror(-r));
    else
        log_info(NULL, "cgroup v2: tenantd runs in %s, tenants below %s", l.supervisor, l.tenants);
    snprintf(s->cg_parent, sizeof s->cg_parent, "%s", l.tenants_spec);
}

/* Remove this tenantd's cgroup folder once every tenant is gone (it is
 * empty then; rmdir refuses otherwise, which is the right answer). */
static void cgroup_parent_cleanup(struct sup *s)
{
    struct cgroup_tenant probe;
    if (!s->root || s->cgsys.mode == CGROUP_NONE ||
        cgroup_tenant_paths(&s->cgsys, s->cg_parent, "x", &probe) < 0)
        return;
    char *dirs[] = {probe.v2, probe.memory, probe.pids, probe.cpu};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *slash = strrchr(dirs[i], '/');
        if (dirs[i][0] && slash) {
            *slash = '\0';
            rmdir(dirs[i]);
        }
    }
}

static void on_shutdown_timer(uv_timer_t *h)
{
    struct sup *s = h->data;
    /* SIGKILL went out at the end of every grace period; a worker still
     * here is stuck in the kernel. Say so and stop waiting for it. */
    for (size_t i = 0; i < s->n; i++) {
        struct tenant *t = s->t[i];
        if (fsm_has_process(t->state)) {
            log_error(t->id, "worker pid=%d did not exit: leaving it behind", (int)t->pid);
            if (t->watch)
                t->watch->t = NULL;
            t->watch = NULL;
            t->pid = 0;
            t->state = TS_STOPPED;
        }
    }
    maybe_shutdown_done(s);
}

void sup_shutdown(struct sup *s, void (*done)(void *arg), void *arg)
{
    s->shutting_down = true;
    s->shutdown_done = done;
    s->shutdown_arg = arg;
    log_info(NULL, "stopping %zu tenants", s->n);
    uv_timer_start(&s->shutdown_timer, on_shutdown_timer,
                   (uint64_t)(s->cfg->g.stop_grace_ms + 5000), 0);
    /* Drop the start queue first, so no worker starts while others stop. */
    for (size_t i = 0; i < s->n; i++) {
        struct tenant *t = s->t[i];
        t->goal = GOAL_DOWN;
        queue_remove(t);
    }
    for (size_t i = 0; i < s->n; i++)
        reconcile(s->t[i]);
    maybe_shutdown_done(s);
}

void sup_free(struct sup *s)
{
    if (!s)
        return;
    config_free(s->cfg);
    uidmap_free(s->uids);
    free(s->t);
    free(s);
}
