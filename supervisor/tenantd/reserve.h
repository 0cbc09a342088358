/*
 * reserve.h — a reserve of disk space for tenantd's own run dir (state.db):
 * a file of RESERVE_BYTES allocated in <run_dir> at start. When the disk is
 * full (a tenant filled it, or anything else) and a write to state.db fails
 * with "database or disk is full", the caller releases the reserve and
 * retries once, so the operator's action is still recorded; tenantd says so
 * loudly (crit) and re-creates the reserve at the next start. An action that
 * cannot be recorded even then is refused, never acknowledged.
 */
#ifndef TENANTD_RESERVE_H
#define TENANTD_RESERVE_H

#include <stdint.h>

#define RESERVE_BYTES (8 * 1024 * 1024)
#define RESERVE_NAME "disk-reserve"

/* Allocate <run_dir>/disk-reserve (RESERVE_BYTES, fallocate) if missing.
 * 0 or -errno (the caller warns: tenantd runs without a reserve). */
int reserve_create(const char *run_dir);
/* Remove it; returns the bytes freed (0 when there was none). */
int64_t reserve_release(void);

#endif
