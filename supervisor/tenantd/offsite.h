/*
 * offsite.h — off-site, encrypted copies of the tenants' backups with restic
 * (issue 21, docs/backups.md "Off-site copies"), configured by [offsite] in
 * tenantd.ini and off while `repository` is empty.
 *
 * After each successful local backup (backup_sched.c) the backup's file and
 * its manifest are copied by `restic backup --tag tenant=<id>`; then
 * `restic forget --prune` applies keep_last / keep_daily to that tenant's
 * snapshots. Every verify_every, the latest snapshot of one tenant (each in
 * turn) is restored into a temporary folder under <run_dir>/offsite/ and
 * checked like a local backup (manifest, size, SHA-256, PRAGMA
 * integrity_check), then removed. restic runs as a child process (child.h),
 * one at a time, queued, never on the loop; the repository is created with
 * `restic init` on first use. Results are kept per tenant for the status
 * JSON, /metrics and the alert kind offsite_failed.
 *
 * Everything runs on tenantd's loop thread.
 */
#ifndef TENANTD_OFFSITE_H
#define TENANTD_OFFSITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

struct sup;
struct config_global;
struct config_diag;

/* `tenantd -n`: the password file exists, is a regular file, not readable by
 * group or others, and not empty, when a repository is set. */
void offsite_check_config(const struct config_global *g, struct config_diag *d);

/* Start (the verify timer). 0 or -errno. */
int offsite_start(uv_loop_t *loop, struct sup *s);
/* Kill the running restic, drop the queue. Idempotent. */
void offsite_stop(void);

/* Queue a copy of the backup at path (its manifest beside it) of tenant id;
 * nothing when [offsite] is off. */
void offsite_copy(const struct config_global *g, const char *id, const char *path);
/* Queue a restore test of tenant id's latest snapshot now. -ENOENT when off. */
int offsite_verify_now(const char *id);

/* The tenant's "offsite" object for the status JSON, NULL when off. */
json_t *offsite_json(const char *id);
/* tenantd_tenant_offsite_last_copy_timestamp_seconds and
 * ..._last_verified_timestamp_seconds, one line per tenant with a value. */
void offsite_metrics(FILE *f);
/* True, with the last error in detail, when the tenant's last copy or
 * restore test failed (alert kind offsite_failed). */
bool offsite_failed(const char *id, char *detail, size_t n);

#endif
