/*
 * sup.h — the supervisor's face to the rest of tenantd (admin API, proxy,
 * backups): a read-only view of every tenant, and the actions an operator can
 * ask for. Implemented in supervisor.c, which owns the tenants, their state
 * machines (tenant_fsm.c) and their processes (spawn.c).
 *
 * Everything here runs on tenantd's single libuv loop thread.
 */
#ifndef TENANTD_SUP_H
#define TENANTD_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct sup;

/* The supervision states (DESIGN.md "Supervision"); the diagram is in tenant_fsm.h. */
enum tstate {
    TS_STOPPED = 0,
    TS_STARTING,
    TS_RUNNING,
    TS_STOPPING,
    TS_BACKOFF,
    TS_FAILED,
    TS_SUSPENDED,
    TS_IDLE, /* scaled to zero: no worker, tenantd holds the socket and watches it (idle.c) */
    TS__COUNT
};
const char *tstate_name(enum tstate s); /* "stopped", "starting", ... */
/* The state named name; -EINVAL when no state has that name. Pure. */
int tstate_parse(const char *name, enum tstate *out);

/* A snapshot of one tenant, copied out so the caller may keep it. */
struct tenant_view {
    char id[CONFIG_ID_MAX];
    char name[CONFIG_TEXT_MAX];
    char plan[CONFIG_ID_MAX];
    char subdomain[64];
    char url[CONFIG_HOST_MAX + 32];
    int port;
    enum tstate state;
    bool desired_up;          /* false after an operator's stop (persisted) */
    pid_t pid;                /* the serving worker; 0 when none */
    pid_t starting_pid;       /* overlapping restart: the new worker, not ready yet */
    pid_t draining_pid;       /* overlapping restart: the old worker, finishing its requests */
    int64_t uptime_s;         /* since it became ready; 0 when not running */
    int restarts;             /* restarts by the supervisor since tenantd started */
    int operator_restarts;    /* starts an operator caused (start, restart, resume, file) */
    char worker_status[128];  /* the worker's last STATUS= (sd_notify), cleaned */
    char notify_error[256];   /* a refused notify message (MAINPID=), "" when none */
    uint64_t wakeups;         /* idle -> starting on a waiting connection, since tenantd started */
    int64_t idle_after_ms;    /* the idle period that applies (0 = never idles) */
    char last_exit[48];       /* "", "exit 1", "signal 9", "oom-killed", ... */
    char config_error[1024];  /* "" when the tenant's file is valid */
    char state_reason[256];   /* why failed / which isolation step failed */
    int64_t next_start_in_ms; /* in backoff: ms until the next attempt, else -1 */
    int64_t ready_latency_ms; /* exec to ready for the last start, -1 unknown */
    uint64_t rss_bytes;       /* the tenant's cgroup memory, else the worker's RSS; 0 when none */
    double cpu_seconds;       /* the tenant's cgroup CPU, else the worker's user+system */
    bool from_cgroup;         /* the two above come from the tenant's cgroup */
    /* Log capture (logcap_stats), since tenantd started; 0 without capture. */
    uint64_t log_bytes_read, log_lines_dropped, log_bytes_dropped, log_pauses, log_paused_ms;
    const char *network;         /* none | local | outbound (static string) */
    const char *net_containment; /* namespace | landlock | reduced | off (netpolicy.h) */
    /* [database] type, and for PostgreSQL the last sample of pg_stats.h */
    enum db_type database;
    int64_t db_size_bytes; /* -1 unknown */
    int db_connections;    /* sessions on its database, -1 unknown */
    const char *db_state;  /* "", "ok", "missing", "unreachable" (static) */
};

/* Number of tenants known (valid or not), and a snapshot of the i-th, in id order. */
size_t sup_tenant_count(const struct sup *s);
int sup_tenant_view(const struct sup *s, size_t i, struct tenant_view *out);
/* The same without the figures read from /proc, the cgroup and PostgreSQL
 * (rss_bytes, cpu_seconds and from_cgroup left zero, db_size_bytes and
 * db_connections -1): four file reads fewer per tenant, for the periodic
 * rounds over every tenant (alerts, reminders, storage, the proxy render). */
int sup_tenant_view_nostats(const struct sup *s, size_t i, struct tenant_view *out);
/* What a list filters on, for the i-th tenant in id order, without the
 * /proc reads of a snapshot: borrowed strings, valid until the loop runs
 * again. unhealthy: failed, in backoff, its file invalid or its last health
 * check failed. -ENOENT past the end. */
struct tenant_brief {
    const char *id, *name, *plan, *subdomain;
    enum tstate state;
    bool unhealthy;
};
int sup_tenant_brief(const struct sup *s, size_t i, struct tenant_brief *out);
/* Snapshot by id; -ENOENT when unknown. */
int sup_tenant_find(const struct sup *s, const char *id, struct tenant_view *out);

/* Where and how to ask a running tenant's worker for its usage
 * (GET /internal/usage): its port and the token from usage_token.h. -ENOENT
 * for an unknown tenant, -EAGAIN when it is not running. */
int sup_tenant_usage_target(const struct sup *s, const char *id, int *port, char *token, size_t n);

enum sup_action { SUP_START, SUP_STOP, SUP_RESTART, SUP_SUSPEND, SUP_RESUME };
/* Ask for an action; returns 0 when accepted (it completes asynchronously),
 * -ENOENT for an unknown tenant, -EINVAL when not possible in its state (err
 * says why). */
int sup_tenant_action(struct sup *s, const char *id, enum sup_action a, char *err, size_t errlen);

/* Start the worker of an idle tenant now (not counted as a wake-up or a
 * restart): onboarding checks a new tenant's worker even when its plan idles
 * (idle.c). 0, -ENOENT for an unknown tenant, -EINVAL when it is not idle. */
int sup_tenant_wake(struct sup *s, const char *id);

/* Keep (hold) or not the listening socket of a tenant that an operator
 * stops: held, the port stays bound while no worker runs (tenantctl restore
 * stops, swaps the database and starts again, and clients wait in the
 * backlog meanwhile). A plain stop clears it and closes the socket. */
int sup_tenant_hold_socket(struct sup *s, const char *id, bool hold);

/* Re-read every file now (as on SIGHUP). Returns 0, or -EINVAL with the global
 * file's errors in err (tenants keep running on the last good config). */
int sup_reload(struct sup *s, char *err, size_t errlen);

/* The current configuration (never NULL once tenantd runs). */
const struct config *sup_config(const struct sup *s);

/*
 * Called (on the loop, coalesced: at most once per loop turn) whenever what the
 * proxy renders may have changed: a tenant added or removed, its port,
 * subdomain or status changed, suspended or resumed. The proxy module
 * subscribes here. One hook; setting it again replaces it.
 */
typedef void (*sup_change_fn)(struct sup *s, void *arg);
void sup_set_change_hook(struct sup *s, sup_change_fn fn, void *arg);

/*
 * Counts for tenantd's own status towards its service manager (sdnotify.c)
 * and for GET /metrics. boot_pending: tenants wanted up when tenantd started
 * whose first start attempt (the fork and exec of the jail, successful or
 * not) has not happened yet, e.g. because they still wait for a start slot.
 * reloads: reloads run by sup_reload since tenantd started, whatever asked for them
 * (SIGHUP, inotify, the admin API), failed ones included; not the first load.
 * O(tenants).
 */
struct sup_counts {
    size_t running;
    size_t failed;
    size_t idle; /* scaled to zero (no worker, socket held) */
    size_t boot_pending;
    uint64_t reloads;
    uint64_t spawn_transient_failures; /* starts that failed for a shortage (EMFILE, ...) */
};
void sup_get_counts(const struct sup *s, struct sup_counts *out);

/*
 * Events for tenantd's own status: SUP_EV_STATES when some tenant's state
 * changed (coalesced: at most once per loop turn), SUP_EV_RELOADING and
 * SUP_EV_RELOADED around every reload whatever asked for it (SIGHUP, inotify,
 * the admin API), called synchronously from sup_reload. One hook; setting it
 * again replaces it.
 */
enum sup_event { SUP_EV_STATES = 0, SUP_EV_RELOADING, SUP_EV_RELOADED };
typedef void (*sup_event_fn)(struct sup *s, enum sup_event ev, void *arg);
void sup_set_event_hook(struct sup *s, sup_event_fn fn, void *arg);

/*
 * Per-tenant state-change notifications, so that nobody has to poll: fn is
 * called on the loop at every transition of tenant `id` into another state,
 * with that state, as soon as the state is recorded (before the transition's
 * action runs, so a watcher sees every state in order, even those a tenant
 * passes through within one loop turn). fn may call sup_tenant_find and
 * sup_watch_cancel (its own watch or another), but must not feed the
 * supervisor (no sup_tenant_action, no sup_reload) from inside the callback.
 * A watch names its tenant by id: it outlives the tenant's removal and fires
 * again if the id comes back. Returns 0 and *out, or -ENOMEM.
 */
struct sup_watch;
typedef void (*sup_watch_fn)(void *arg, const char *id, enum tstate state);
int sup_watch_add(struct sup *s, const char *id, sup_watch_fn fn, void *arg,
                  struct sup_watch **out);
/* Stop and free a watch; fn is not called again. w may be NULL. */
void sup_watch_cancel(struct sup *s, struct sup_watch *w);

/* ---- life cycle, for tenantd_main.c ------------------------------------ */

struct uv_loop_s;

/*
 * Take ownership of `cfg`, create one tenant per configured tenant, start the
 * valid and active ones (at most max_parallel_starts at once) and watch
 * tenants_dir for changes. Returns 0 or -errno.
 */
int sup_start(struct uv_loop_s *loop, struct config *cfg, struct sup **out);

/* Stop every worker (SIGTERM, SIGKILL after stop_grace), then close every
 * handle; `done` is called on the loop once all of that is over. */
void sup_shutdown(struct sup *s, void (*done)(void *arg), void *arg);

/* Free what is left after sup_shutdown's `done` (the config included, and
 * any watch still registered). */
void sup_free(struct sup *s);

#endif
