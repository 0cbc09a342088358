/*
 * backup_sched.h — tenantd's backups: scheduled per `[backup] every` and
 * `keep` of tenantd.ini, and on demand (the admin API's
 * POST /v1/tenants/<id>/backup, `tenantctl backup <id>`).
 *
 * The copies themselves are common/backup.c; this module decides when, and
 * runs them off the loop: one uv_queue_work at a time, so a backup never
 * blocks the loop and never competes with another backup for the disk. On-
 * demand requests go before scheduled ones. Each backup is logged (info) or
 * its failure (error), and the tenant's backups are pruned to `keep` after
 * each new one.
 *
 * The schedule survives restarts of tenantd: each tenant has a slot in the
 * period, at a fixed offset from a hash of its id (backup_slot_ms), so that
 * thousands of tenants are spread over `every` instead of all due at once; it
 * is due when its newest backup on disk is older than its last slot, and it
 * is skipped when its database has not changed since that backup. A timer checks every min(every,
 * 60 s); `every` and `keep` are re-read from sup_config() at each check, so a reload applies
 * without a restart. every = 0 turns scheduled backups off; on-demand backups still work.
 *
 * Every backup has a deadline (30 s + 1 s per 4 MiB of database, at most
 * 30 min): one stuck in a tenant's files (a
 * FIFO swapped in under SQLite) is abandoned and reported, and the others go
 * on; see backup_sched.c.
 *
 * Everything here runs on tenantd's loop thread, like sup.h.
 */
#ifndef TENANTD_BACKUP_SCHED_H
#define TENANTD_BACKUP_SCHED_H

#include <stdint.h>
#include <uv.h>

struct sup;
struct backup_sched;

/*
 * The result of one on-demand backup, called on the loop thread: rc = 0 and
 * path_or_error = the new backup's .db path, or rc = -errno and a sentence
 * (-ENOENT: the tenant has no database yet; -ECANCELED: tenantd is
 * stopping). The string lives only for the duration of the call.
 */
typedef void (*backup_sched_done_fn)(int rc, const char *path_or_error, void *arg);

/* The start of tenant id's latest slot at or before now_ms (wall clock,
 * ms): now_ms minus how far into its period it is, the period being every_ms
 * and its offset a hash of the id. Pure. */
int64_t backup_slot_ms(const char *id, int64_t every_ms, int64_t now_ms);

/*
 * Start the schedule on loop for the tenants of s. *out is owned by the
 * caller until backup_sched_stop. Returns 0 or -errno (-ENOMEM).
 */
int backup_sched_start(uv_loop_t *loop, struct sup *s, struct backup_sched **out);

/*
 * Back up tenant id now, after any backup already running or asked for.
 * Returns 0 when queued (done is then called exactly once, later, never from
 * inside this call), -ENOENT for an unknown tenant, -ECANCELED once stopping,
 * -ENOMEM. done may be NULL.
 */
int backup_sched_now(struct backup_sched *bs, const char *id, backup_sched_done_fn done, void *arg);

/*
 * Stop: no new backup starts; queued on-demand requests get -ECANCELED. A
 * backup already running is given a few more seconds (SQLite cannot be
 * interrupted safely from outside the thread), then abandoned like a job past
 * its deadline, so the loop must keep running until `done` (may be NULL) is
 * called; bs is freed just before that.
 */
void backup_sched_stop(struct backup_sched *bs, void (*done)(void *arg), void *arg);

/*
 * How many backups were abandoned past their deadline and still hold a pool
 * thread. Their work requests keep a libuv loop alive: a caller that is
 * shutting down stops its loop (uv_stop) when this is not 0 and nothing else
 * is left, instead of waiting for a thread that may never return.
 */
int backup_sched_stuck_jobs(void);

#endif
