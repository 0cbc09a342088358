/*
 * storage.h — tenantd's accounting of each tenant's storage (issue 12): the
 * disk space its data dir takes (the sum of st_blocks of everything in it,
 * symlinks not followed), measured off the loop, one tenant at a time,
 * spread over STORAGE_ROUND_MS so that a thousand tenants cost a walk every
 * few tens of milliseconds, never a burst.
 *
 * A tenant whose plan has a storage limit ([limits] storage, plan profile
 * `storage`) and that is found over it is "over": logged once (warn) when
 * it crosses, shown in status, the status page and /metrics, and put in a
 * read-only state: tenantd writes <run_dir>/flags/<id>/storage-full, which
 * its worker sees read-only (STORAGE_FULL_FILE in its environment; the
 * bundled worker then refuses every write with 507), and removes it once the
 * tenant is back under the limit. The other
 * layers are the worker's RLIMIT_FSIZE and, for the bundled worker, SQLite's
 * max_page_count (507 plan_limit on a write).
 *
 * Everything here runs on tenantd's loop thread. The results live in a table
 * of this module, read by status_json.c and admin_metrics.c through
 * storage_lookup().
 */
#ifndef TENANTD_STORAGE_H
#define TENANTD_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

struct sup;

#define STORAGE_ROUND_MS (60 * 1000)

struct storage_info {
    int64_t used_bytes;  /* -1 until measured */
    int64_t limit_bytes; /* 0 = no limit */
    bool over;           /* used >= limit */
    time_t checked_at;   /* when used_bytes was measured, 0 never */
};

/* Start measuring the tenants of s on loop, one round every round_ms
 * (STORAGE_ROUND_MS when 0). 0 or -errno. */
int storage_start(uv_loop_t *loop, struct sup *s, uint64_t round_ms);
/* Stop; a walk in the thread pool finishes on its own, its result dropped. */
void storage_stop(void);
/* The last measure of tenant id; -ENOENT when never measured. */
int storage_lookup(const char *id, struct storage_info *out);

/* The space taken by the folder tree at dir, in bytes (st_blocks * 512 of
 * every entry, symlinks not followed, at most 64 levels and 1,000,000
 * entries, the rest not counted). Blocking; for the thread pool and tests. */
int64_t storage_walk(const char *dir);

#endif
