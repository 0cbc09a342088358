/*
 * upgrade.h — tenantd re-execs itself in place (SIGUSR2, POST /v1/upgrade,
 * `tenantctl upgrade`) and hands itself its state, so that no worker notices.
 *
 * The hand-off, as the new image sees it:
 *   TENANTD_UPGRADE_STATE=<fd>  a sealed memfd holding one JSON document (the
 *                               state: format, exec_count, tenants, fds...)
 *   TENANTD_UPGRADE_PREV=<fd>   the previous image, opened O_PATH before the
 *                               exec: the way back
 *   TENANTD_UPGRADE_ROLLBACK=<why>  set by an image that gives the state back
 *                               to the previous one (exec of PREV with the
 *                               same STATE): that image adopts it again and
 *                               reports the upgrade as rolled back
 * Every fd the state names has FD_CLOEXEC cleared for the exec and set again
 * once the new image has taken it (upgrade_commit). Fds are named by their
 * number, which an exec keeps.
 *
 * Until upgrade_commit, the new image rolls back on its own: a fatal signal
 * (SEGV, BUS, ILL, FPE, ABRT), an exit, or a state it cannot read re-execs
 * PREV with the state untouched. Limits: a new image killed by SIGKILL, or one
 * that crashes after it committed, takes the workers with it (their
 * parent-death signal), as a crash of tenantd always did; systemd then starts
 * tenantd afresh.
 *
 * Everything runs on tenantd's loop thread; the crash handler only calls
 * execveat.
 */
#ifndef TENANTD_UPGRADE_H
#define TENANTD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#define UPGRADE_STATE_FORMAT 1
#define UPGRADE_ENV_STATE "TENANTD_UPGRADE_STATE"
#define UPGRADE_ENV_PREV "TENANTD_UPGRADE_PREV"
#define UPGRADE_ENV_ROLLBACK "TENANTD_UPGRADE_ROLLBACK"
/* How long the new binary may take for its `-n` check. */
#define UPGRADE_CHECK_TIMEOUT_MS 30000

/* ---- boot side ------------------------------------------------------------ */

/* First thing in main: remember argv and NOTIFY_SOCKET, and read a state
 * handed over by a previous image. Returns 1 when adopting a state, 0 for a
 * fresh start; rolls back (does not return) when the state is unreadable. */
int upgrade_boot(int argc, char **argv);
bool upgrade_adopting(void);
/* The adopted state's root (borrowed), NULL for a fresh start. */
json_t *upgrade_state(void);
/* Take the fd named obj[key]: it must be one the state lists and be open.
 * Returns it, or -1. */
int upgrade_take_fd(const json_t *obj, const char *key);
/* The new image serves: FD_CLOEXEC back on the taken fds, the others closed,
 * the crash handlers removed, the hand-off variables unset. */
void upgrade_commit(void);
/* Give the state back to the previous image (or, without one, exit 1). */
void upgrade_rollback(const char *why) __attribute__((noreturn));

/* ---- export side ---------------------------------------------------------- */

/* Record fd as obj[key] and keep it across the exec. 0, or -errno. */
int upgrade_keep_fd(json_t *obj, const char *key, int fd);

/* What tenantd_main.c does for an upgrade; all on the loop. */
struct upgrade_hooks {
    /* Why an upgrade cannot start now ("" when it can). */
    void (*busy)(void *arg, char *why, size_t n);
    /* Finish or cancel what must not run across the exec (backups), then done(). */
    void (*quiesce)(void *arg, void (*done)(void *arg));
    /* The exec failed after quiesce: start that again. */
    void (*resume)(void *arg);
    /* Add every module's state and fds (upgrade_keep_fd) to state. */
    int (*export_state)(void *arg, json_t *state, char *err, size_t n);
    void *arg;
};
void upgrade_init(uv_loop_t *loop, const char *config_path, const struct upgrade_hooks *h);

/* tenantd stops: no upgrade starts or goes on (an exec due is dropped). */
void upgrade_close(void);

/* Called with the check's result: status 0 = the exec follows; else the
 * upgrade was refused and msg says why. */
typedef void (*upgrade_reply_fn)(void *arg, int status, const char *msg);
/* Check `binary` (NULL: the one tenantd was started from) with -n, then
 * quiesce, export and exec. Returns 0 when started (reply follows), or
 * -errno with err filled (-EBUSY: one is under way or a tenant is busy). */
int upgrade_start(const char *binary, upgrade_reply_fn reply, void *arg, char *err, size_t n);

/* GET /v1/upgrade: pid, exec_count, started, binary, in_progress, last. */
json_t *upgrade_status_json(void);

#endif
