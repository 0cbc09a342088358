/*
 * cgroup.h — a tenant's control groups: find which hierarchies this machine
 * offers, compute the tenant's cgroup folders, create them with the plan's
 * limits, move a process in, read the memory usage and the OOM-kill counter,
 * kill everything inside and remove them.
 *
 * Used by tenant-jail (create, limit, join before exec) and by tenantd
 * (usage, OOM counter, kill, remove). Plain file I/O only: no libuv, no
 * logging; every function returns 0 or a negative errno, and those that can
 * fail for a reason worth telling fill `err` with one sentence.
 *
 * Layout: the tenant's cgroup is <mount>/<base>/<name> in each hierarchy,
 * where <base> comes from a parent spec: "self" is the calling process's own
 * cgroup in that hierarchy (read from /proc/self/cgroup — the jail is forked
 * by tenantd, so it is tenantd's), "self/REL" a folder below it, "/ABS" a
 * folder from the hierarchy's root. tenantd's default is "self/tenants".
 *
 * Modes: v2 when a cgroup2 mount offers the memory and pids controllers (its
 * cgroup.controllers); else v1 when the memory and pids v1 hierarchies are
 * mounted (cpu is used when present). In v1 mode a controller-less cgroup2
 * mount (/sys/fs/cgroup/unified on hybrid systems) is also used, for grouping
 * only: it gives tenantd `cgroup.kill`. Neither: CGROUP_NONE, with a reason.
 *
 * What it does not do: io or cpuset limits, delegation to a user, freezing.
 */
#ifndef TENANTD_CGROUP_H
#define TENANTD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Ample for <mount>/<our cgroup>/<tenant>/<generation>; every join is
 * checked (-ENAMETOOLONG). A struct cgroup_tenant is 2.5 KiB: tenantd does
 * not keep one per tenant or worker but fills one on its stack when needed. */
#define CGROUP_PATH_MAX 512

enum cgroup_mode { CGROUP_NONE = 0, CGROUP_V1, CGROUP_V2 };

/* One hierarchy: where it is mounted and the caller's own cgroup in it.
 * mnt[0] == '\0' means the hierarchy is not there. */
struct cgroup_hier {
    char mnt[CGROUP_PATH_MAX];
    char self[CGROUP_PATH_MAX];
};

/* What this machine offers, from cgroup_detect(). */
struct cgroup_sys {
    enum cgroup_mode mode;
    struct cgroup_hier v2; /* v2 mode: the controllers; v1 mode: grouping only, may be absent */
    struct cgroup_hier memory, pids, cpu; /* v1 mode only; cpu may be absent */
    struct cgroup_hier cpuacct;           /* v1 only, optional: CPU usage accounting */
    char why[256];                        /* CGROUP_NONE: why nothing is usable */
};

/* One tenant's cgroup folders, from cgroup_tenant_paths(); "" = not used. */
struct cgroup_tenant {
    enum cgroup_mode mode;
    char v2[CGROUP_PATH_MAX]; /* v2: limits; v1: grouping only */
    char memory[CGROUP_PATH_MAX], pids[CGROUP_PATH_MAX], cpu[CGROUP_PATH_MAX];
    char cpuacct[CGROUP_PATH_MAX]; /* v1: where CPU usage is counted; "" without cpuacct */
};

/* Limits; 0 = none (memory, pids) or the default weight 100 (cpu). */
struct cgroup_limits {
    int64_t memory_bytes;
    int64_t pids;
    int cpu_weight; /* 1..10000, cgroup v2 semantics */
};

/*
 * Look at `fsroot` (NULL = "/sys/fs/cgroup") and at /proc/self/cgroup and
 * fill s. Always returns 0; s->mode == CGROUP_NONE (with s->why) when nothing
 * is usable.
 */
int cgroup_detect(const char *fsroot, struct cgroup_sys *s);

/* Fill t with the tenant's folders for parent spec and leaf name (see above).
 * Pure. Returns 0, -EINVAL (bad spec or name, or mode NONE) or -ENAMETOOLONG. */
int cgroup_tenant_paths(const struct cgroup_sys *s, const char *spec, const char *name,
                        struct cgroup_tenant *t);

/* Create the folders (and missing parents; in v2 enabling the controllers in
 * each parent's cgroup.subtree_control) and write the limits; an existing
 * cgroup is reused and its limits rewritten, unset ones back to unlimited. */
int cgroup_tenant_create(const struct cgroup_tenant *t, const struct cgroup_limits *l, char *err,
                         size_t errlen);

/* Move pid (0 = the caller) into every folder of t. */
int cgroup_tenant_join(const struct cgroup_tenant *t, pid_t pid, char *err, size_t errlen);

/* Number of processes in the tenant's cgroup (from its main hierarchy). */
int cgroup_tenant_nprocs(const struct cgroup_tenant *t, size_t *n);

/* SIGKILL every process inside: cgroup.kill where the kernel has it, else
 * repeated rounds over cgroup.procs (bounded: it may sleep up to about one
 * second in all, so tenantd calls it when stopping a tenant, not per
 * request). Returns 0 when it is empty, -EBUSY when processes remain. */
int cgroup_tenant_kill(const struct cgroup_tenant *t);

/* Remove the folders (not the parents). -EBUSY while processes remain;
 * folders already gone are fine. */
int cgroup_tenant_remove(const struct cgroup_tenant *t);

/* CPU time used by every process of the cgroup and its children, living or
 * gone, in microseconds (v1 cpuacct.usage, v2 cpu.stat usage_usec).
 * -ENOENT without an accounting hierarchy. */
int cgroup_tenant_cpu_usec(const struct cgroup_tenant *t, uint64_t *usec);

/* Current memory charge in bytes (v1 memory.usage_in_bytes, v2 memory.current). */
int cgroup_tenant_memory(const struct cgroup_tenant *t, uint64_t *bytes);

/* How many times the kernel's OOM killer killed a process in this cgroup
 * (v1 memory.oom_control "oom_kill", v2 memory.events "oom_kill"). An exit by
 * SIGKILL with this counter increased is an OOM kill. */
int cgroup_tenant_oom_kills(const struct cgroup_tenant *t, uint64_t *count);

/*
 * cgroup v2 and "no internal processes": a v2 cgroup that holds processes
 * cannot enable controllers for its children (except the root). Under
 * systemd, tenantd runs in its unit's cgroup <own> (Delegate=yes), so the
 * tenants' cgroups cannot get memory, pids and cpu below it while tenantd is
 * in there. The layout that works: tenantd moves itself into the leaf
 * <own>/supervisor, enables the controllers in <own>/cgroup.subtree_control
 * and in <own>/tenants/cgroup.subtree_control, and each tenant's cgroup is
 * <own>/tenants/<id> (the jail gets --cgroup-parent "<own>/tenants").
 * v1 (and hybrid) machines need none of this.
 */
struct cgroup_v2_layout {
    char own[CGROUP_PATH_MAX];          /* <mnt><own> */
    char supervisor[CGROUP_PATH_MAX];   /* <mnt><own>/supervisor: tenantd moves here */
    char tenants[CGROUP_PATH_MAX];      /* <mnt><own>/tenants */
    char tenants_spec[CGROUP_PATH_MAX]; /* "<own>/tenants", a "/ABS" parent spec */
};

/*
 * Pure: the layout for a process whose v2 cgroup is `self` (from
 * /proc/self/cgroup) on a cgroup2 mount `mnt`. When self already is such a
 * leaf (".../supervisor": tenantd started again from inside it), <own> is its
 * parent. Returns 0; 1 when self is the root cgroup (it may hold processes
 * and enable controllers: nothing to move); -EINVAL when self is not an
 * absolute path or <own>/tenants cannot be a parent spec (cgroup_spec_valid:
 * e.g. systemd's "\x2d" escapes); -ENAMETOOLONG.
 */
int cgroup_v2_layout(const char *mnt, const char *self, struct cgroup_v2_layout *l);

/*
 * Pure: the line to write to a cgroup.subtree_control that enables each
 * controller of `want` (space-separated) that `available` (the folder's
 * cgroup.controllers) offers and `enabled` (its cgroup.subtree_control)
 * lacks, e.g. "+memory +pids". Returns its length (0: nothing to write) or
 * -ENAMETOOLONG.
 */
int cgroup_enable_line(const char *want, const char *available, const char *enabled, char *out,
                       size_t n);

/*
 * Apply a layout: create <own>/supervisor and move pid (0 = the caller) into
 * it, enable memory, pids and cpu (those available) in <own> and, after
 * creating it, in <own>/tenants. Returns 0, or -errno with one sentence in
 * err (-EBUSY: <own> still holds other processes).
 */
int cgroup_v2_move_self(const struct cgroup_v2_layout *l, pid_t pid, char *err, size_t errlen);

/* ---- pure helpers (unit-tested) ----------------------------------------- */

/* "self", "self/REL" or "/ABS"; components of [A-Za-z0-9._-], not . or .. */
bool cgroup_spec_valid(const char *spec);

/* Find the caller's cgroup for a v1 controller ("memory"; matched inside
 * comma lists like "cpu,cpuacct"), or the v2 line "0::" when controller is
 * NULL, in the text of /proc/self/cgroup. Returns 0, -ENOENT or -ENAMETOOLONG. */
int cgroup_parse_self(const char *text, const char *controller, char *out, size_t n);

/* out = mnt + base(spec, self) + "/" + name, without doubled slashes. */
int cgroup_join_path(char *out, size_t n, const char *mnt, const char *self, const char *spec,
                     const char *name);

/* cgroup v2 cpu.weight (1..10000, default 100) to v1 cpu.shares (default
 * 1024): weight * 1024 / 100, at least 2 (the kernel's minimum). */
int64_t cgroup_weight_to_shares(int weight);

#endif
