/*
 * uidmap.h — the stable uid of each tenant when tenantd runs as root
 * (DESIGN.md "Isolation": its own uid/gid, stable, stored, no passwd entry),
 * unique on the host.
 *
 * Two files:
 *  - <run_dir>/uids, this instance's map, one "id uid" line per tenant ever
 *    seen, rewritten atomically (temporary file, fsync, rename), as before;
 *  - the host-wide registry ([tenantd] uid_registry, else the environment's
 *    TENANTD_UID_REGISTRY, else /var/lib/tenantd/uids), one
 *    "uid id instance" line per uid any tenantd on the host ever handed out,
 *    where the instance is that tenantd's run dir. It is only read and
 *    appended under flock(LOCK_EX), so two instances started at once, even
 *    with overlapping uid_range, never hand out the same uid.
 *
 * A new tenant gets the lowest uid of [tenantd] uid_range that is not in
 * the registry or the map, not in a range of /etc/subuid or /etc/subgid, not
 * the uid of a running process (/proc), not the owner of anything in the
 * data dir, and has no passwd or group entry. A uid is never reused, not even
 * after the tenant is removed (the registry keeps it), so files left behind
 * by an old tenant never become readable by a new one. The gid equals the
 * uid.
 *
 * An existing map (from before the registry) is kept: its uids are claimed in
 * the registry for this instance at the first sync. A uid the registry
 * already gives to another instance is a conflict, which is the very hole the
 * registry closes: that tenant is refused (uidmap_get answers -EADDRINUSE)
 * and the log says which instance holds the uid; an operator resolves it by
 * moving one tenant to a new uid.
 *
 * The range and the registry's path are read once at start
 * (uidmap_configure); changing them needs a restart. The instance is known
 * by its run dir: moving it makes its registry lines look foreign.
 *
 * What it does not do: create users, chown anything, or ever remove a line
 * from the registry.
 */
#ifndef TENANTD_UIDMAP_H
#define TENANTD_UIDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* The default range: above what Debian's useradd hands out in /etc/subuid
 * (100000 + k * 65536, up to SUB_UID_MAX 600100000) and above systemd's
 * container range (524288..1879048191), below 2^31. */
#define UIDMAP_DEFAULT_MIN 1900000000u
#define UIDMAP_DEFAULT_MAX 1999999999u
#define UIDMAP_DEFAULT_REGISTRY "/var/lib/tenantd/uids"
#define UIDMAP_REGISTRY_ENV "TENANTD_UID_REGISTRY"
#define UIDMAP_FIRST 65536u /* the lowest uid a map line may hold */

struct uidmap;

/* Take the range, the registry's path and the data dir from g (once, before
 * uidmap_open). Without it: the default range and registry, no data dir. */
void uidmap_configure(const struct config_global *g);

/* Load <run_dir>/uids (a missing file is an empty map). */
int uidmap_open(const char *run_dir, struct uidmap **out);
void uidmap_free(struct uidmap *m);

/* The uid of `id`, assigning and storing a new one when unknown. A uid is
 * only returned once it is stored in the registry and the map. -EADDRINUSE:
 * another instance holds this tenant's uid (see above). */
int uidmap_get(struct uidmap *m, const char *id, uid_t *out);

/* Assign uids to many tenants at once (a first boot with a thousand) and
 * lock and store the registry and the map once: call uidmap_assign for each,
 * then uidmap_sync. */
int uidmap_assign(struct uidmap *m, const char *id);
int uidmap_sync(struct uidmap *m);

/* ---- pure helpers (tests, tenantd -n) ------------------------------------- */

struct uidmap_range {
    unsigned long lo, hi; /* inclusive */
    char name[64];        /* the owner, from /etc/subuid */
};

/* Parse /etc/subuid or /etc/subgid text ("name:start:count" lines; others
 * are skipped) into at most max ranges; returns how many. */
size_t uidmap_parse_subid(const char *text, struct uidmap_range *out, size_t max);

/* The lowest uid in [lo, hi] that is in no sorted `taken` entry and no
 * range; 0 when there is none. */
uid_t uidmap_pick(uid_t lo, uid_t hi, const uid_t *taken, size_t ntaken,
                  const struct uidmap_range *ranges, size_t nranges);

/* The registry's path for g: the key, else the environment, else the
 * default. */
const char *uidmap_registry_path(const struct config_global *g);

/* tenantd -n: a line in d for each /etc/subuid or /etc/subgid range that
 * overlaps [tenantd] uid_range. */
void uidmap_check(const struct config_global *g, struct config_diag *d);
/* The same for one file's text, named `file` in the lines. Pure. */
void uidmap_check_text(const struct config_global *g, const char *file, const char *text,
                       struct config_diag *d);

#endif
