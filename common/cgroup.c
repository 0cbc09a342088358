/*
 * cgroup.c — see cgroup.h. A tenant's cgroups on v1, v2 or hybrid machines,
 * with plain open/read/write/mkdir/rmdir. The path helpers at the end are
 * pure and unit-tested (tests/unit/jail/cgroup_v2.c).
 *
 * What it does not do: decide anything. Whether a missing hierarchy is fatal
 * is the caller's business (the jail fails closed unless told otherwise).
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ---- small file helpers ------------------------------------------------- */

/* Read at most n-1 bytes of a small (pseudo-)file; st_size is 0 for those,
 * so read until EOF. */
static int read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    return 0;
}

/* Write a short value in one write(2), as cgroup files require. */
static int write_str(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(val);
    ssize_t w = write(fd, val, len);
    int e = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
    if (close(fd) < 0 && e == 0)
        e = -errno;
    return e;
}

static int write_in(const char *dir, const char *file, const char *val, char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int r = write_str(path, val);
    if (r < 0 && errlen)
        snprintf(err, errlen, "cannot write \"%s\" to %s: %s", val, path, strerror(-r));
    return r;
}

static bool exists(const char *dir, const char *file)
{
    char path[CGROUP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

static long fs_type(const char *path)
{
    struct statfs sf;
    if (statfs(path, &sf) < 0)
        return 0;
    return (long)sf.f_type;
}

/* True when the space-separated list `list` holds word `w`. */
static bool has_word(const char *list, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p += wl) {
        bool start = p == list || p[-1] == ' ' || p[-1] == '\n';
        bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n';
        if (start && end)
            return true;
    }
    return false;
}

/* ---- detection ---------------------------------------------------------- */

static void set_hier(struct cgroup_hier *h, const char *mnt, const char *procself,
                     const char *controller)
{
    if (snprintf(h->mnt, sizeof h->mnt, "%s", mnt) >= (int)sizeof h->mnt ||
        cgroup_parse_self(procself, controller, h->self, sizeof h->self) < 0)
        h->mnt[0] = h->self[0] = '\0';
}

int cgroup_detect(const char *fsroot, struct cgroup_sys *s)
{
    memset(s, 0, sizeof *s);
    if (!fsroot)
        fsroot = "/sys/fs/cgroup";
    char procself[4096];
    if (read_small("/proc/self/cgroup", procself, sizeof procself) < 0) {
        snprintf(s->why, sizeof s->why, "/proc/self/cgroup cannot be read");
        return 0;
    }
    char path[CGROUP_PATH_MAX], ctl[512];

    /* A cgroup2 mount with the controllers wins: on a pure v2 machine it is
     * fsroot itself, on a hybrid one it may be fsroot/unified. */
    const char *v2_cands[2] = {fsroot, NULL};
    snprintf(path, sizeof path, "%s/unified", fsroot);
    v2_cands[1] = path;
    char v2_mnt[CGROUP_PATH_MAX] = "";
    for (int i = 0; i < 2; i++) {
        if (fs_type(v2_cands[i]) != CGROUP2_SUPER_MAGIC)
            continue;
        snprintf(v2_mnt, sizeof v2_mnt, "%s", v2_cands[i]);
        char f[CGROUP_PATH_MAX + 32];
        snprintf(f, sizeof f, "%s/cgroup.controllers", v2_mnt);
        if (read_small(f, ctl, sizeof ctl) == 0 && has_word(ctl, "memory") &&
            has_word(ctl, "pids")) {
            set_hier(&s->v2, v2_mnt, procself, NULL);
            if (s->v2.mnt[0]) {
                s->mode = CGROUP_V2;
                return 0;
            }
        }
        break;
    }

    /* v1: memory and pids are required, cpu is used when it is there. */
    static const char *const names[3] = {"memory", "pids", "cpu"};
    struct cgroup_hier *hs[3] = {&s->memory, &s->pids, &s->cpu};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", fsroot, names[i]);
        if (fs_type(path) == CGROUP_SUPER_MAGIC)
            set_hier(hs[i], path, procself, names[i]);
    }
    /* cpuacct counts CPU time; on most systems it shares a mount with cpu. */
    snprintf(path, sizeof path, "%s/cpuacct", fsroot);
    if (fs_type(path) == CGROUP_SUPER_MAGIC)
        set_hier(&s->cpuacct, path, procself, "cpuacct");
    if (s->memory.mnt[0] && s->pids.mnt[0]) {
        s->mode = CGROUP_V1;
        if (v2_mnt[0])
            set_hier(&s->v2, v2_mnt, procself, NULL);
        return 0;
    }
    memset(&s->memory, 0, sizeof s->memory);
    memset(&s->pids, 0, sizeof s->pids);
    memset(&s->cpu, 0, sizeof s->cpu);
    memset(&s->cpuacct, 0, sizeof s->cpuacct);
    snprintf(s->why, sizeof s->why,
             "no cgroup v2 mount with the memory and pids controllers, and no v1 memory and "
             "pids hierarchies under %s",
             fsroot);
    return 0;
}

int cgroup_tenant_paths(const struct cgroup_sys *s, const char *spec, const char *name,
                        struct cgroup_tenant *t)
{
    memset(t, 0, sizeof *t);
    if (s->mode == CGROUP_NONE || !cgroup_spec_valid(spec))
        return -EINVAL;
    t->mode = s->mode;
    const struct cgroup_hier *hs[5] = {&s->v2, &s->memory, &s->pids, &s->cpu, &s->cpuacct};
    char *outs[5] = {t->v2, t->memory, t->pids, t->cpu, t->cpuacct};
    for (int i = 0; i < 5; i++) {
        if (!hs[i]->mnt[0])
            continue;
        int r = cgroup_join_path(outs[i], CGROUP_PATH_MAX, hs[i]->mnt, hs[i]->self, spec, name);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- creating and joining ----------------------------------------------- */

/* mkdir -p. With ctls (v2), first enable them in the cgroup.subtree_control
 * of each existing cgroup folder above the one being created (folders above
 * the mount point have no such file and are skipped), so the leaf gets the
 * controllers' files. */
static int make_dirs(const char *dir, const char *const *ctls, char *err, size_t errlen)
{
    char buf[CGROUP_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (ctls && access(buf, F_OK) < 0) {
            char parent[CGROUP_PATH_MAX];
            snprintf(parent, sizeof parent, "%.*s", (int)(p - 1 - buf), buf);
            char sc[512];
            char scpath[CGROUP_PATH_MAX + 32];
            snprintf(scpath, sizeof scpath, "%s/cgroup.subtree_control", parent);
            if (read_small(scpath, sc, sizeof sc) < 0)
                sc[0] = '\0';
            /* Only what the parent has can be enabled; cpu is optional. */
            char avail[512];
            snprintf(scpath, sizeof scpath, "%s/cgroup.controllers", parent);
            if (read_small(scpath, avail, sizeof avail) < 0)
                avail[0] = '\0';
            for (const char *const *c = ctls; *c && exists(parent, "cgroup.subtree_control"); c++) {
                if (has_word(sc, *c) || !has_word(avail, *c))
                    continue;
                char plus[32];
                snprintf(plus, sizeof plus, "+%s", *c);
                int r = write_in(parent, "cgroup.subtree_control", plus, err, errlen);
                if (r == -EBUSY && errlen)
                    snprintf(err, errlen,
                             "cannot enable %s in %s: it holds processes itself (cgroup v2 "
                             "\"no internal processes\"); use --cgroup-parent /ABS or run "
                             "tenantd in a delegated cgroup",
                             *c, parent);
                if (r < 0)
                    return r;
            }
        }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            int e = -errno;
            if (errlen)
                snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
            return e;
        }
        if (!slash)
            break;
        *slash = '/';
        p = slash + 1;
    }
    return 0;
}

static void num_or(char *buf, size_t n, int64_t v, const char *none)
{
    if (v > 0)
        snprintf(buf, n, "%" PRId64, v);
    else
        snprintf(buf, n, "%s", none);
}

int cgroup_tenant_create(const struct cgroup_tenant *t, const struct cgroup_limits *l, char *err,
                         size_t errlen)
{
    char v[32];
    int r;
    if (t->mode == CGROUP_NONE)
        return -EINVAL;
    if (t->mode == CGROUP_V2) {
        static const char *const ctls[] = {"memory", "pids", "cpu", NULL};
        if ((r = make_dirs(t->v2, ctls, err, errlen)) < 0)
            return r;
        /* No swap beyond a memory limit, as memsw does in v1. */
        if (exists(t->v2, "memory.swap.max") &&
            (r = write_in(t->v2, "memory.swap.max", l->memory_bytes > 0 ? "0" : "max", err,
                          errlen)) < 0)
            return r;
        num_or(v, sizeof v, l->memory_bytes, "max");
        if ((r = write_in(t->v2, "memory.max", v, err, errlen)) < 0)
            return r;
        num_or(v, sizeof v, l->pids, "max");
        if ((r = write_in(t->v2, "pids.max", v, err, errlen)) < 0)
            return r;
        if (exists(t->v2, "cpu.weight")) {
            snprintf(v, sizeof v, "%d", l->cpu_weight > 0 ? l->cpu_weight : 100);
            if ((r = write_in(t->v2, "cpu.weight", v, err, errlen)) < 0)
                return r;
        } else if (l->cpu_weight > 0) {
            snprintf(err, errlen, "%s has no cpu.weight (the cpu controller is not enabled)",
                     t->v2);
            return -ENOENT;
        }
        return 0;
    }

    /* v1: one folder per hierarchy. */
    const char *dirs[5] = {t->memory, t->pids, t->cpu, t->cpuacct, t->v2};
    for (int i = 0; i < 5; i++) {
        if (!dirs[i][0])
            continue;
        if ((r = make_dirs(dirs[i], NULL, err, errlen)) < 0)
            return r;
    }
    /* memsw must stay >= memory at every moment: open it up, set memory, then
     * bring memsw down to the same value so the limit cannot spill to swap. */
    bool memsw = exists(t->memory, "memory.memsw.limit_in_bytes");
    if (memsw && (r = write_in(t->memory, "memory.memsw.limit_in_bytes", "-1", err, errlen)) < 0)
        return r;
    num_or(v, sizeof v, l->memory_bytes, "-1");
    if ((r = write_in(t->memory, "memory.limit_in_bytes", v, err, errlen)) < 0)
        return r;
    if (memsw && (r = write_in(t->memory, "memory.memsw.limit_in_bytes", v, err, errlen)) < 0)
        return r;
    num_or(v, sizeof v, l->pids, "max");
    if ((r = write_in(t->pids, "pids.max", v, err, errlen)) < 0)
        return r;
    if (t->cpu[0]) {
        snprintf(v, sizeof v, "%" PRId64,
                 cgroup_weight_to_shares(l->cpu_weight > 0 ? l->cpu_weight : 100));
        if ((r = write_in(t->cpu, "cpu.shares", v, err, errlen)) < 0)
            return r;
    } else if (l->cpu_weight > 0) {
        snprintf(err, errlen, "no v1 cpu hierarchy for --cpu-weight");
        return -ENOENT;
    }
    return 0;
}

static int for_each_dir(const struct cgroup_tenant *t, const char **out)
{
    int n = 0;
    const char *dirs[5] = {t->v2, t->memory, t->pids, t->cpu, t->cpuacct};
    for (int i = 0; i < 5; i++) {
        if (!dirs[i][0])
            continue;
        /* cpuacct mounted with cpu: the same folder, once. */
        bool dup = false;
        for (int k = 0; k < n; k++)
            dup = dup || strcmp(out[k], dirs[i]) == 0;
        if (!dup)
            out[n++] = dirs[i];
    }
    return n;
}

int cgroup_tenant_join(const struct cgroup_tenant *t, pid_t pid, char *err, size_t errlen)
{
    const char *dirs[5];
    int n = for_each_dir(t, dirs);
    char v[24];
    snprintf(v, sizeof v, "%d", (int)pid);
    for (int i = 0; i < n; i++) {
        int r = write_in(dirs[i], "cgroup.procs", v, err, errlen);
        if (r < 0)
            return r;
    }
    return n ? 0 : -EINVAL;
}

/* The folder that holds the processes we count and kill: pids covers every
 * task in v1, the single folder in v2. */
static const char *main_dir(const struct cgroup_tenant *t)
{
    return t->mode == CGROUP_V1 ? t->pids : t->v2;
}

int cgroup_tenant_nprocs(const struct cgroup_tenant *t, size_t *n)
{
    char path[CGROUP_PATH_MAX + 32], buf[8192];
    snprintf(path, sizeof path, "%s/cgroup.procs", main_dir(t));
    int r = read_small(path, buf, sizeof buf);
    if (r < 0)
        return r;
    size_t c = 0;
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            c++;
    *n = c;
    return 0;
}

int cgroup_tenant_kill(const struct cgroup_tenant *t)
{
    if (t->v2[0] && exists(t->v2, "cgroup.kill"))
        write_in(t->v2, "cgroup.kill", "1", NULL, 0);
    /* Bounded rounds: a process may fork between reading and killing, but
     * not forever, since each round kills every pid it sees. */
    for (int round = 0; round < 100; round++) {
        char path[CGROUP_PATH_MAX + 32], buf[8192];
        snprintf(path, sizeof path, "%s/cgroup.procs", main_dir(t));
        int r = read_small(path, buf, sizeof buf);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        if (!buf[0])
            return 0;
        for (char *p = buf; *p;) {
            char *end;
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            if (pid > 0)
                kill((pid_t)pid, SIGKILL);
            p = end;
            while (*p == '\n')
                p++;
        }
        usleep(1000 * (round < 10 ? 1 : 10));
    }
    return -EBUSY;
}

int cgroup_tenant_remove(const struct cgroup_tenant *t)
{
    const char *dirs[5];
    int n = for_each_dir(t, dirs), res = 0;
    for (int i = 0; i < n; i++)
        if (rmdir(dirs[i]) < 0 && errno != ENOENT && res == 0)
            res = -errno;
    return res;
}

static int read_u64(const char *path, const char *key, uint64_t *out)
{
    char buf[4096];
    int r = read_small(path, buf, sizeof buf);
    if (r < 0)
        return r;
    const char *p = buf;
    if (key) {
        size_t kl = strlen(key);
        for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
                break;
        if (!p)
            return -ENOENT;
        p += strlen(key) + 1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno)
        return -EINVAL;
    *out = v;
    return 0;
}

int cgroup_tenant_memory(const struct cgroup_tenant *t, uint64_t *bytes)
{
    char path[CGROUP_PATH_MAX + 32];
    if (t->mode == CGROUP_V1)
        snprintf(path, sizeof path, "%s/memory.usage_in_bytes", t->memory);
    else
        snprintf(path, sizeof path, "%s/memory.current", t->v2);
    return read_u64(path, NULL, bytes);
}

int cgroup_tenant_cpu_usec(const struct cgroup_tenant *t, uint64_t *usec)
{
    char path[CGROUP_PATH_MAX + 32];
    uint64_t v = 0;
    int r;
    if (t->mode == CGROUP_V1) {
        if (!t->cpuacct[0])
            return -ENOENT;
        snprintf(path, sizeof path, "%s/cpuacct.usage", t->cpuacct);
        if ((r = read_u64(path, NULL, &v)) < 0)
            return r;
        *usec = v / 1000; /* nanoseconds */
        return 0;
    }
    snprintf(path, sizeof path, "%s/cpu.stat", t->v2);
    if ((r = read_u64(path, "usage_usec", &v)) < 0)
        return r;
    *usec = v;
    return 0;
}

int cgroup_tenant_oom_kills(const struct cgroup_tenant *t, uint64_t *count)
{
    char path[CGROUP_PATH_MAX + 32];
    if (t->mode == CGROUP_V1)
        snprintf(path, sizeof path, "%s/memory.oom_control", t->memory);
    else
        snprintf(path, sizeof path, "%s/memory.events", t->v2);
    return read_u64(path, "oom_kill", count);
}

/* ---- cgroup v2: tenantd out of the way of its tenants ------------------- */

#define V2_LEAF "/supervisor"
#define V2_CONTROLLERS "memory pids cpu"

int cgroup_v2_layout(const char *mnt, const char *self, struct cgroup_v2_layout *l)
{
    memset(l, 0, sizeof *l);
    if (!self || self[0] != '/')
        return -EINVAL;
    char own[CGROUP_PATH_MAX];
    size_t len = strlen(self);
    if (len >= sizeof own)
        return -ENAMETOOLONG;
    memcpy(own, self, len + 1);
    while (len > 1 && own[len - 1] == '/')
        own[--len] = '\0';
    size_t leaf = strlen(V2_LEAF);
    if (len > leaf && strcmp(own + len - leaf, V2_LEAF) == 0)
        own[len - leaf] = '\0';
    if (strcmp(own, "/") == 0)
        return 1;
    const char *base = own;
    int w = snprintf(l->tenants_spec, sizeof l->tenants_spec, "%s/tenants", base);
    if (w < 0 || (size_t)w >= sizeof l->tenants_spec)
        return -ENAMETOOLONG;
    if (!cgroup_spec_valid(l->tenants_spec))
        return -EINVAL;
    const char *m = mnt ? mnt : "";
    size_t ml = strlen(m);
    while (ml > 0 && m[ml - 1] == '/')
        ml--;
    if ((size_t)snprintf(l->own, sizeof l->own, "%.*s%s", (int)ml, m, base) >= sizeof l->own ||
        (size_t)snprintf(l->supervisor, sizeof l->supervisor, "%s" V2_LEAF, l->own) >=
            sizeof l->supervisor ||
        (size_t)snprintf(l->tenants, sizeof l->tenants, "%s/tenants", l->own) >= sizeof l->tenants)
        return -ENAMETOOLONG;
    return 0;
}

int cgroup_enable_line(const char *want, const char *available, const char *enabled, char *out,
                       size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = want; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        char c[32];
        size_t cl = (size_t)(e - p);
        if (cl > 0 && cl < sizeof c) {
            memcpy(c, p, cl);
            c[cl] = '\0';
            if (has_word(available, c) && !has_word(enabled, c)) {
                int w = snprintf(out + len, n - len, "%s+%s", len ? " " : "", c);
                if (w < 0 || (size_t)w >= n - len) {
                    out[0] = '\0';
                    return -ENAMETOOLONG;
                }
                len += (size_t)w;
            }
        }
        p = e;
    }
    return (int)len;
}

/* Enable V2_CONTROLLERS (those available) for the children of dir. */
static int v2_enable(const char *dir, char *err, size_t errlen)
{
    char avail[512], enabled[512], line[128], path[CGROUP_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cgroup.controllers", dir);
    if (read_small(path, avail, sizeof avail) < 0)
        avail[0] = '\0';
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    if (read_small(path, enabled, sizeof enabled) < 0)
        enabled[0] = '\0';
    int r = cgroup_enable_line(V2_CONTROLLERS, avail, enabled, line, sizeof line);
    if (r <= 0)
        return r;
    r = write_in(dir, "cgroup.subtree_control", line, err, errlen);
    if (r == -EBUSY && errlen)
        snprintf(err, errlen,
                 "cannot enable \"%s\" in %s: it still holds processes other than tenantd "
                 "(cgroup v2 \"no internal processes\")",
                 line, dir);
    return r;
}

int cgroup_v2_move_self(const struct cgroup_v2_layout *l, pid_t pid, char *err, size_t errlen)
{
    char v[24];
    int r;
    if (mkdir(l->supervisor, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        snprintf(err, errlen, "cannot create %s: %s", l->supervisor, strerror(errno));
        return r;
    }
    snprintf(v, sizeof v, "%d", (int)(pid > 0 ? pid : getpid()));
    if ((r = write_in(l->supervisor, "cgroup.procs", v, err, errlen)) < 0)
        return r;
    if ((r = v2_enable(l->own, err, errlen)) < 0)
        return r;
    if (mkdir(l->tenants, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        snprintf(err, errlen, "cannot create %s: %s", l->tenants, strerror(errno));
        return r;
    }
    return v2_enable(l->tenants, err, errlen);
}

/* ---- pure helpers ------------------------------------------------------- */

static bool valid_components(const char *p)
{
    if (!*p)
        return false;
    while (*p) {
        const char *c = p;
        while (*p && *p != '/') {
            char ch = *p;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
                return false;
            p++;
        }
        size_t len = (size_t)(p - c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (*p == '/' && !*++p)
            return false;
    }
    return true;
}

bool cgroup_spec_valid(const char *spec)
{
    if (!spec || strlen(spec) >= 256)
        return false;
    if (strcmp(spec, "self") == 0)
        return true;
    if (strncmp(spec, "self/", 5) == 0)
        return valid_components(spec + 5);
    if (spec[0] == '/')
        return valid_components(spec + 1);
    return false;
}

int cgroup_parse_self(const char *text, const char *controller, char *out, size_t n)
{
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        /* hierarchy-id:controller-list:path */
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            const char *list = c1 + 1;
            size_t ll = (size_t)(c2 - list);
            bool match = false;
            if (!controller) {
                match = ll == 0 && c1 - line == 1 && line[0] == '0';
            } else {
                size_t cl = strlen(controller);
                for (const char *p = list; p < c2;) {
                    const char *comma = memchr(p, ',', (size_t)(c2 - p));
                    const char *e = comma ? comma : c2;
                    if ((size_t)(e - p) == cl && memcmp(p, controller, cl) == 0)
                        match = true;
                    p = e + 1;
                }
            }
            if (match) {
                size_t pl = len - (size_t)(c2 + 1 - line);
                if (pl + 1 > n)
                    return -ENAMETOOLONG;
                memcpy(out, c2 + 1, pl);
                out[pl] = '\0';
                return 0;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return -ENOENT;
}

int cgroup_join_path(char *out, size_t n, const char *mnt, const char *self, const char *spec,
                     const char *name)
{
    if (!cgroup_spec_valid(spec) || !valid_components(name) || strchr(name, '/') || self[0] != '/')
        return -EINVAL;
    const char *base1, *base2;
    if (strncmp(spec, "self", 4) == 0) {
        base1 = strcmp(self, "/") == 0 ? "" : self;
        base2 = spec + 4; /* "" or "/REL" */
    } else {
        base1 = "";
        base2 = spec; /* "/ABS" */
    }
    int w = snprintf(out, n, "%s%s%s/%s", mnt, base1, base2, name);
    if (w < 0 || (size_t)w >= n)
        return -ENAMETOOLONG;
    return 0;
}

int64_t cgroup_weight_to_shares(int weight)
{
    if (weight <= 0)
        weight = 100;
    if (weight > 10000)
        weight = 10000;
    int64_t s = (int64_t)weight * 1024 / 100;
    return s < 2 ? 2 : s;
}
