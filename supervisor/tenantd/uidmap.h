/*
 * uidmap.h — the stable uid of each tenant when tenantd runs as root
 * (DESIGN.md "Isolation": its own uid/gid, stable, stored, no passwd entry).
 *
 * The map lives in <run_dir>/uids, one "id uid" line per tenant ever seen,
 * rewritten atomically (temporary file, fsync, rename). New tenants get the
 * next uid from UIDMAP_FIRST upward; a uid is never reused, not even after the
 * tenant is removed, so files left behind by an old tenant never become
 * readable by a new one. The gid equals the uid.
 *
 * What it does not do: create users or chown anything.
 */
#ifndef TENANTD_UIDMAP_H
#define TENANTD_UIDMAP_H

#include <stddef.h>
#include <sys/types.h>

#define UIDMAP_FIRST 200000u

struct uidmap;

/* Load <run_dir>/uids (a missing file is an empty map). */
int uidmap_open(const char *run_dir, struct uidmap **out);
void uidmap_free(struct uidmap *m);

/* The uid of `id`, assigning and storing a new one when unknown. A uid is
 * only returned once it is stored. */
int uidmap_get(struct uidmap *m, const char *id, uid_t *out);

/* Assign uids to many tenants at once (a first boot with a thousand) and
 * store the map once: call uidmap_assign for each, then uidmap_sync. */
int uidmap_assign(struct uidmap *m, const char *id);
int uidmap_sync(struct uidmap *m);

#endif
