/*
 * sup_internal.h — what the files of the supervisor share: the runtime
 * struct of a tenant and of the supervisor, and the functions one file calls
 * in another. Not a contract for the rest of tenantd, which uses sup.h only.
 *
 *   supervisor.c    the tenant array, start slots (boot-storm limit), start
 *                   and stop of the whole supervisor, small helpers
 *   sup_process.c   one worker process: its environment and jail options,
 *                   spawn, readiness (notify, /healthz), liveness, its exit
 *   sup_exec.c      the executor of tenant_fsm.c's table: feed an event, carry
 *                   out the action, reconcile with the goal, timers
 *   sup_reload.c    a new configuration applied to the running tenants
 *   sup_view.c      sup.h's views and actions (snapshots, /proc, requests)
 *   sup_cgroup.c    tenantd's own cgroup v2 leaf
 *   idle.c          scale to zero: an idle tenant's socket watched (idle.h)
 *
 * Everything runs on tenantd's single libuv loop thread.
 */
#ifndef TENANTD_SUP_INTERNAL_H
#define TENANTD_SUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "backoff.h"
#include "cgroup.h"
#include "config.h"
#include "logcap.h"
#include "sup.h"
#include "tenant_fsm.h"
#include "usage_token.h"

struct notify;
struct health;
struct idle_watch;

#define READY_POLL_FIRST_MS 20 /* first /healthz readiness probe after the spawn */
#define READY_POLL_MAX_MS 500

enum goal { GOAL_UP = 0, GOAL_DOWN, GOAL_SUSPENDED, GOAL_REMOVED };
enum timer_kind { TM_NONE = 0, TM_READY, TM_GRACE, TM_BACKOFF, TM_COOLDOWN };

/* One generation of a tenant's worker: its process and, as root with
 * cgroups, its own child of the tenant's cgroup (limits are on the tenant's;
 * docs/isolation.md "Overlapping restarts"). The cgroup's folders are not
 * stored (2.5 KiB per worker): sup_watch_cgroup() rebuilds them. */
struct exit_watch {
    uv_poll_t poll;
    int pidfd;
    pid_t pid;
    struct tenant *t; /* NULL once the tenant no longer waits for it */
    bool have_cg;     /* it runs in <cg_parent>/<id>/<gen> */
    char gen[32];     /* the generation's name, kept across an upgrade */
    /* Set by sup_watch_detach() only: the folders of a watch its tenant
     * left behind (t NULL), which can no longer be rebuilt from t. Owned. */
    struct cgroup_tenant *cg_left;
};

/* A worker killed because it could not be watched, until it is reaped. */
struct sup_reap {
    int pidfd;
    struct sup_reap *next;
};

struct tenant {
    struct sup *s;
    char id[CONFIG_ID_MAX];
    bool have_cfg;            /* cfg holds a valid configuration */
    struct config_tenant cfg; /* the last good configuration, the one that runs */
    char *config_error;       /* NULL, or why its file is invalid (owned; most tenants have none) */

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
    bool hold_socket; /* sup_tenant_hold_socket: kept while stopped */
    struct notify *notify;
    bool notify_broken; /* said once that readiness falls back to /healthz */
    struct logcap *logcap;
    bool have_uid;
    uid_t uid;
    /* Root with cgroups: the jail puts the worker in <cg_parent>/<id>
     * (sup_tenant_cgroup() rebuilds the folders, they are not stored). */
    bool have_cgroup;

    /* The previous generation during an overlapping restart (passed socket
     * only): it serves while the new one starts (state starting, prev set,
     * prev_draining false); once the new one is ready it gets SIGTERM and
     * drains (prev_draining true, drain_timer = stop_grace, then SIGKILL).
     * Its exit is seen on its own watch and is never a state transition. */
    struct exit_watch *prev;
    bool prev_draining;
    uint64_t prev_ready_at;
    uv_timer_t drain_timer;
    bool ready_by_notify; /* the last start became ready by READY=1 */
    uint64_t gens;        /* generations started, names the cgroup child */

    /* Scale to zero (idle.c): the poll on listen_fd while idle, wake-ups by
     * a waiting connection, and whether the next spawn leaves idle (not a
     * restart). */
    struct idle_watch *idle;
    uint64_t wakeups;
    bool waking;
    bool park; /* got its first valid config in this sup_apply_config: its uid is
                  assigned, and its first reconcile parks it idle (EV_PARK) */

    uv_timer_t fsm_timer; /* ready timeout, grace, backoff or cooldown */
    enum timer_kind timer_kind;
    uint64_t timer_due; /* uv_now() when fsm_timer fires */
    uv_timer_t health_timer;
    struct health *health; /* the /healthz prober, created at the first start */
    int health_fails;
    int64_t ready_poll_ms;
    uint64_t alive_at; /* uv_now() of the worker's last WATCHDOG=1, 0 = none yet */
    /* Credential for the worker's GET /internal/usage, derived from the
     * secret read at the last spawn ("" before that). */
    char usage_token[USAGE_TOKEN_LEN + 1];

    struct backoff bo;
    int transient_err;   /* the last start failed for a shortage (sup_transient.c) */
    int transient_tries; /* retries for a shortage since the last ready */
    int spawns, restarts;
    /* Issue 18: starts an operator caused (start, restart, resume, a changed
     * file) are counted apart from the supervisor's own restarts. */
    int operator_restarts;
    bool op_pending;          /* the next spawn is an operator's */
    char worker_status[128];  /* the last STATUS= of this worker, cleaned; "" at each spawn */
    const char *notify_error; /* the last refused notify message (MAINPID=; a constant), or NULL */
    bool notify_foreign_logged; /* said once per spawn that a non-main sender was ignored */
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
    uint32_t gen_base; /* start time, so generation names differ between runs */

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

    struct sup_watch *watches; /* sup_watch_add; fired by sup_tenant_feed */
    int watch_firing;          /* > 0 while watchers run: cancel only marks */

    uv_fs_event_t fs_event;
    bool fs_event_on;
    uv_timer_t reload_timer;
    uint64_t reloads;            /* sup_reload calls (sup_counts) */
    uint64_t transient_failures; /* starts that failed for a shortage (sup_counts) */
    uint64_t transient_last_ms;  /* sup_now_ms() + 1 of the last one, 0 for never */

    bool booting; /* the first configuration is being applied */
    bool shutting_down;
    void (*shutdown_done)(void *);
    void *shutdown_arg;
    uv_timer_t shutdown_timer;
    /* Workers that could not be watched, killed and reaped on this timer
     * rather than by sleeping on the loop (sup_process.c). */
    uv_timer_t reap_timer;
    struct sup_reap *reaping;
    int closing_handles;
    bool handles_closed;
};

/* supervisor.c: small helpers, the tenant array, start slots, life cycle. */
uint64_t sup_now_ms(const struct sup *s);
void sup_set_reason(struct tenant *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sup_policy_from(struct backoff_policy *bp, const struct config_global *g);
void sup_logcap_opts_for(const struct tenant *t, struct logcap_opts *o);
enum goal sup_goal_of_status(enum tenant_status st);
void sup_changed(struct sup *s);
void sup_states_changed(struct sup *s);
void sup_event(struct sup *s, enum sup_event ev);
void sup_timer_disarm(struct tenant *t);
void sup_close_listen(struct tenant *t);
/* sup_ports.c: bind a passed-socket tenant's port now, if not yet held. */
void sup_reserve_port(struct tenant *t);
struct tenant *sup_find(const struct sup *s, const char *id);
struct tenant *sup_tenant_new(struct sup *s, const char *id);
int sup_tenant_insert(struct sup *s, struct tenant *t);
void sup_tenant_release(struct tenant *t);
void sup_tenant_remove(struct tenant *t);
void sup_queue_remove(struct tenant *t);
void sup_pump(struct sup *s);
/* sup_process.c: close the pidfds still waiting to be reaped (at sup_free). */
void sup_reap_free_all(struct sup *s);
void sup_maybe_shutdown_done(struct sup *s);

/* sup_process.c: the worker process (spawn, readiness, probes, exit). */
void sup_health_schedule(struct tenant *t, int64_t ms);
void sup_health_stop(struct tenant *t);
/* The liveness interval: [supervise] health_interval, stretched with the
 * tenant count so that probes stay a bounded rate in all. */
int64_t sup_health_interval(const struct sup *s);
void sup_start_slot_run(struct tenant *t);
void sup_act_spawn(struct tenant *t);
/* True when a restart of t can start the new worker beside the running one
 * (tenant_fsm.c EV_OVERLAP): running, passed socket held on the port it keeps,
 * readiness by READY=1 (a /healthz probe cannot tell two workers on one
 * socket apart), no previous generation still draining. */
bool sup_can_overlap(const struct tenant *t);
/* SIGTERM the previous generation and let it drain for stop_grace. */
void sup_prev_drain(struct tenant *t);

/* sup_process.c: the callbacks of a worker's notify socket and exit watch,
 * for sup_upgrade.c's adopted workers. */
void sup_on_notify(void *arg, pid_t sender, unsigned flags, const char *status);
void sup_on_exit_readable(uv_poll_t *h, int status, int events);

/* sup_upgrade.c: tenants across an upgrade of tenantd (upgrade.h). */
void sup_upgrade_adopt(struct tenant *t);

/* sup_exec.c: call the watchers of t with its new state. */
void sup_watch_fire(struct tenant *t);
/* sup_exec.c: free every watch (sup_free). */
void sup_watch_free_all(struct sup *s);

/* sup_exec.c: the state machine's executor (timers, actions, feed, reconcile). */
void sup_timer_arm(struct tenant *t, enum timer_kind k, int64_t ms);
void sup_on_fsm_timer(uv_timer_t *h);
void sup_tenant_feed(struct tenant *t, enum fsm_event ev);
void sup_reconcile(struct tenant *t);

/* sup_reload.c: reload (apply a new configuration, inotify). */
int sup_apply_config(struct sup *s, struct config *nc);
void sup_on_fs_event(uv_fs_event_t *h, const char *name, int events, int status);

/* sup_transient.c: when err (positive errno) is a shortage, mark t for a
 * retry that is not a crash, count it, alert once per episode; true then. */
bool sup_transient_note(struct tenant *t, int err);

/* sup_cgroup.c: tenantd's own cgroup v2 leaf and its cleanup. */
void sup_cgroup_v2_setup(struct sup *s);
void sup_cgroup_parent_cleanup(struct sup *s);
/* sup_cgroup.c: cgroup folders rebuilt on demand (they are needed only at
 * spawn, exit, status and cleanup, so a thousand tenants do not keep 5 KiB
 * of paths each). Pure: from s->cgsys, s->cg_parent, the id and the
 * generation. sup_gen_cgroup: <cg_parent>/<id>/<gen>; 0 or -errno. */
int sup_tenant_cgroup(const struct tenant *t, struct cgroup_tenant *buf);
int sup_gen_cgroup(const struct sup *s, const char *id, const char *gen, struct cgroup_tenant *buf);
/* The folders of w's generation: buf filled, or w's own copy when its
 * tenant left it; NULL when it has none. */
const struct cgroup_tenant *sup_watch_cgroup(const struct exit_watch *w, struct cgroup_tenant *buf);
/* The tenant no longer waits for w (shutdown's last resort): w keeps its
 * cgroup's folders (a heap copy) for its exit, and t is cleared. */
void sup_watch_detach(struct exit_watch *w);

#endif
