/*
 * uidmap.c — see uidmap.h. The map is small (one line per tenant) and read
 * once at start; the registry is read whole, under its lock, only when
 * something must be claimed (new tenants, or the first sync after start),
 * while the hot path keeps the uid in the tenant itself.
 *
 * Order in uidmap_sync, and why: lock the registry; read it; claim this
 * map's old uids and pick the new ones; append the new lines and fsync; only
 * then write the map; unlock. A crash between the two writes leaves a uid
 * claimed and unused, never one used twice.
 */
#include "uidmap.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SUBID_MAX 4096

/* What uidmap_configure was given; the defaults until then. */
static struct {
    uid_t lo, hi;
    char registry[CONFIG_PATH_MAX];
    char data_dir[CONFIG_PATH_MAX];
} policy = {UIDMAP_DEFAULT_MIN, UIDMAP_DEFAULT_MAX, "", ""};

struct uidmap_entry {
    char id[CONFIG_ID_MAX];
    uid_t uid;       /* 0: not assigned yet (pending) */
    bool registered; /* the registry holds it for this instance */
    bool conflict;   /* the registry gives it to another instance */
};

struct uidmap {
    char path[CONFIG_PATH_MAX];
    char run_dir[CONFIG_PATH_MAX]; /* names this instance in the registry */
    struct uidmap_entry *e;
    size_t n, cap;
    bool dirty;    /* the map file must be rewritten */
    bool unsynced; /* some entry is pending or not registered */
};

/* ---- pure helpers ------------------------------------------------------------ */

size_t uidmap_parse_subid(const char *text, struct uidmap_range *out, size_t max)
{
    size_t n = 0;
    for (const char *line = text; line && *line && n < max;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[256], *c1, *c2, *tail;
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            c1 = strchr(buf, ':');
            c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (buf[0] != '#' && c1 && c2 && isdigit((unsigned char)c1[1]) &&
                isdigit((unsigned char)c2[1])) {
                *c1 = '\0';
                errno = 0;
                unsigned long start = strtoul(c1 + 1, &tail, 10);
                unsigned long count = tail == c2 ? strtoul(c2 + 1, &tail, 10) : 0;
                if (errno == 0 && count > 0 && (*tail == '\0' || isspace((unsigned char)*tail))) {
                    out[n].lo = start;
                    out[n].hi = start + count - 1;
                    snprintf(out[n].name, sizeof out[n].name, "%.63s", buf);
                    n++;
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

static bool in_taken(uid_t u, const uid_t *taken, size_t n)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (taken[mid] == u)
            return true;
        if (taken[mid] < u)
            a = mid + 1;
        else
            b = mid;
    }
    return false;
}

uid_t uidmap_pick(uid_t lo, uid_t hi, const uid_t *taken, size_t ntaken,
                  const struct uidmap_range *ranges, size_t nranges)
{
    for (unsigned long u = lo; u <= hi && u != 0;) {
        bool moved = false;
        for (size_t i = 0; i < nranges; i++)
            if (u >= ranges[i].lo && u <= ranges[i].hi) {
                u = ranges[i].hi + 1; /* skip the whole range at once */
                moved = true;
            }
        if (moved)
            continue;
        if (!in_taken((uid_t)u, taken, ntaken))
            return (uid_t)u;
        u++;
    }
    return 0;
}

const char *uidmap_registry_path(const struct config_global *g)
{
    if (g && g->uid_registry[0])
        return g->uid_registry;
    const char *env = getenv(UIDMAP_REGISTRY_ENV);
    if (env && env[0] == '/')
        return env;
    return UIDMAP_DEFAULT_REGISTRY;
}

static size_t read_subids(const char *path, struct uidmap_range *out, size_t max)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, '\0', f);
    fclose(f);
    size_t n = len > 0 ? uidmap_parse_subid(text, out, max) : 0;
    free(text);
    return n;
}

void uidmap_check_text(const struct config_global *g, const char *file, const char *text,
                       struct config_diag *d)
{
    struct uidmap_range *r = calloc(SUBID_MAX, sizeof *r);
    if (!r)
        return;
    size_t n = uidmap_parse_subid(text, r, SUBID_MAX);
    for (size_t i = 0; i < n; i++)
        if (r[i].lo <= (unsigned long)g->uid_max && r[i].hi >= (unsigned long)g->uid_min)
            config_diag_add(d,
                            "%s: [tenantd] uid_range: %d-%d overlaps %s (%s: %lu-%lu); tenantd "
                            "skips those uids, but choose a range outside them",
                            g->path, g->uid_min, g->uid_max, file, r[i].name, r[i].lo, r[i].hi);
    free(r);
}

void uidmap_check(const struct config_global *g, struct config_diag *d)
{
    static const char *const files[] = {"/etc/subuid", "/etc/subgid"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        char *text = NULL;
        size_t cap = 0;
        if (getdelim(&text, &cap, '\0', f) > 0)
            uidmap_check_text(g, files[i], text, d);
        free(text);
        fclose(f);
    }
}

/* ---- the map ------------------------------------------------------------------ */

void uidmap_configure(const struct config_global *g)
{
    policy.lo = (uid_t)g->uid_min;
    policy.hi = (uid_t)g->uid_max;
    snprintf(policy.registry, sizeof policy.registry, "%s", uidmap_registry_path(g));
    snprintf(policy.data_dir, sizeof policy.data_dir, "%s", g->data_dir);
}

static struct uidmap_entry *lookup(const struct uidmap *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].id, id) == 0)
            return &m->e[i];
    return NULL;
}

static int add_entry(struct uidmap *m, const char *id, uid_t uid)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct uidmap_entry *e = realloc(m->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        m->e = e;
        m->cap = cap;
    }
    memset(&m->e[m->n], 0, sizeof m->e[m->n]);
    snprintf(m->e[m->n].id, sizeof m->e[m->n].id, "%s", id);
    m->e[m->n].uid = uid;
    m->n++;
    m->unsynced = true;
    return 0;
}

int uidmap_open(const char *run_dir, struct uidmap **out)
{
    int rc = 0;
    FILE *f = NULL;
    struct uidmap *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    if (!policy.registry[0])
        snprintf(policy.registry, sizeof policy.registry, "%s", uidmap_registry_path(NULL));
    snprintf(m->run_dir, sizeof m->run_dir, "%s", run_dir);
    if (snprintf(m->path, sizeof m->path, "%s/uids", run_dir) >= (int)sizeof m->path ||
        strchr(run_dir, '\n')) {
        rc = -ENAMETOOLONG;
        goto cleanup;
    }
    f = fopen(m->path, "re");
    if (!f) {
        if (errno != ENOENT) {
            rc = -errno;
            goto cleanup;
        }
        *out = m;
        return 0;
    }
    char line[128], id[CONFIG_ID_MAX + 1];
    unsigned long uid;
    while (fgets(line, sizeof line, f)) {
        /* A line that does not parse is skipped rather than fatal: a uid that
         * was handed out stays reserved in the registry anyway. */
        if (sscanf(line, "%32s %lu", id, &uid) == 2 && config_valid_id(id) && uid >= UIDMAP_FIRST &&
            uid < 0x7fffffffUL && !lookup(m, id)) {
            rc = add_entry(m, id, (uid_t)uid);
            if (rc < 0)
                goto cleanup;
        }
    }
    fclose(f);
    *out = m;
    return 0;
cleanup:
    if (f)
        fclose(f);
    uidmap_free(m);
    return rc;
}

void uidmap_free(struct uidmap *m)
{
    if (!m)
        return;
    free(m->e);
    free(m);
}

static int save(const struct uidmap *m)
{
    char tmp[CONFIG_PATH_MAX + 8];
    int rc = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", m->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        goto cleanup;
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].uid != 0)
            fprintf(f, "%s %lu\n", m->e[i].id, (unsigned long)m->e[i].uid);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, m->path) < 0)
        rc = -errno;
cleanup:
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* ---- the registry ----------------------------------------------------------- */

struct uidlist {
    uid_t *v;
    size_t n, cap;
};

static int uidlist_add(struct uidlist *l, uid_t u)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        uid_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = u;
    return 0;
}

static int cmp_uid(const void *a, const void *b)
{
    uid_t x = *(const uid_t *)a, y = *(const uid_t *)b;
    return x < y ? -1 : x > y;
}

/* The uids of every process (real, effective, saved, fs). */
static int proc_uids(struct uidlist *l)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* gone meanwhile */
        while (fgets(line, sizeof line, f)) {
            unsigned long u[4];
            if (strncmp(line, "Uid:", 4) == 0 &&
                sscanf(line + 4, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) == 4) {
                for (int i = 0; i < 4 && rc == 0; i++)
                    rc = uidlist_add(l, (uid_t)u[i]);
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return rc;
}

/* The owners of the data dir's entries: a uid that owns files there is not
 * free, whoever left them. */
static int data_dir_owners(struct uidlist *l)
{
    if (!policy.data_dir[0])
        return 0;
    DIR *d = opendir(policy.data_dir);
    if (!d)
        return 0; /* not created yet: nobody owns anything in it */
    int rc = 0;
    struct stat st;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            rc = uidlist_add(l, st.st_uid);
    closedir(d);
    return rc;
}

static int make_parent(const char *path)
{
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    /* The folder may be the parent of run dirs that nginx's workers must
     * traverse: 0755. The file itself, which lists every tenant of every
     * instance, is 0600. */
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

struct reg_line {
    uid_t uid;
    const char *id, *instance; /* point into the registry's text */
};

/* Parse the registry's text in place; every uid also goes into taken. */
static int parse_registry(char *text, struct reg_line **out, size_t *n, struct uidlist *taken)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL, *tail;
        errno = 0;
        unsigned long u = strtoul(line, &tail, 10);
        /* A line that does not parse is skipped: it cannot be honoured, and
         * refusing to start would punish every instance for one bad line. */
        if (sp1 && sp2 && tail == sp1 && errno == 0 && u > 0 && u < 0x7fffffffUL) {
            *sp1 = *sp2 = '\0';
            if (*n == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                struct reg_line *r = realloc(*out, ncap * sizeof *r);
                if (!r)
                    return -ENOMEM;
                *out = r;
                cap = ncap;
            }
            (*out)[(*n)++] = (struct reg_line){(uid_t)u, sp1 + 1, sp2 + 1};
            if (uidlist_add(taken, (uid_t)u) < 0)
                return -ENOMEM;
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static const struct reg_line *reg_find(const struct reg_line *r, size_t n, uid_t u)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].uid == u)
            return &r[i];
    return NULL;
}

/* Under the lock: claim the registered-to-nobody uids of the map, detect
 * conflicts, pick uids for pending entries; append what is new to fd. */
static int claim(struct uidmap *m, int fd)
{
    struct uidlist taken = {0};
    struct reg_line *reg = NULL;
    size_t nreg = 0;
    struct uidmap_range *ranges = NULL;
    char *text = NULL, *add = NULL;
    size_t add_len = 0, add_cap = 0;
    int rc = 0;

    /* The registry, whole. */
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    text = malloc((size_t)st.st_size + 1);
    if (!text)
        return -ENOMEM;
    ssize_t got = pread(fd, text, (size_t)st.st_size, 0);
    if (got < 0) {
        rc = -errno;
        goto cleanup;
    }
    text[got] = '\0';
    if ((rc = parse_registry(text, &reg, &nreg, &taken)) < 0)
        goto cleanup;

    /* Old entries: ours, foreign, or not there yet. */
    for (size_t i = 0; i < m->n; i++) {
        struct uidmap_entry *e = &m->e[i];
        if (e->uid == 0 || e->registered)
            continue;
        const struct reg_line *r = reg_find(reg, nreg, e->uid);
        if (r && strcmp(r->instance, m->run_dir) != 0) {
            if (!e->conflict)
                log_error(e->id,
                          "uid %lu is also given to tenant %s of the tenantd in %s (registry %s): "
                          "this tenant is not started until one of them gets a new uid",
                          (unsigned long)e->uid, r->id, r->instance, policy.registry);
            e->conflict = true;
            continue;
        }
        e->registered = r != NULL;
        e->conflict = false;
        rc = uidlist_add(&taken, e->uid);
        if (rc < 0)
            goto cleanup;
    }

    /* What else is not free: processes, files in the data dir. */
    if ((rc = proc_uids(&taken)) < 0 || (rc = data_dir_owners(&taken)) < 0)
        goto cleanup;
    qsort(taken.v, taken.n, sizeof *taken.v, cmp_uid);
    ranges = calloc(2 * SUBID_MAX, sizeof *ranges);
    if (!ranges) {
        rc = -ENOMEM;
        goto cleanup;
    }
    size_t nranges = read_subids("/etc/subuid", ranges, SUBID_MAX);
    nranges += read_subids("/etc/subgid", ranges + nranges, SUBID_MAX);

    /* Each pick is the lowest free uid from `next`: everything below the
     * last one picked is taken or unusable, so the next search starts past
     * it (from policy.lo each time, 10,000 new tenants took seconds). */
    uid_t next = policy.lo;
    for (size_t i = 0; i < m->n; i++) {
        struct uidmap_entry *e = &m->e[i];
        if (e->uid != 0)
            continue;
        uid_t lo = next;
        for (;;) {
            uid_t u = uidmap_pick(lo, policy.hi, taken.v, taken.n, ranges, nranges);
            if (u == 0) {
                log_error(e->id, "no free uid left in [tenantd] uid_range %lu-%lu",
                          (unsigned long)policy.lo, (unsigned long)policy.hi);
                rc = -ENOSPC;
                goto cleanup;
            }
            /* A name in passwd or group means someone else's account. */
            if (!getpwuid(u) && !getgrgid((gid_t)u)) {
                e->uid = u;
                break;
            }
            if (u == policy.hi)
                break;
            lo = u + 1;
        }
        if (e->uid == 0) {
            rc = -ENOSPC;
            goto cleanup;
        }
        next = e->uid + 1; /* past policy.hi: the next pick finds none */
        m->dirty = true;
    }

    /* Append one line per uid not registered yet, then fsync. */
    for (size_t i = 0; i < m->n; i++) {
        struct uidmap_entry *e = &m->e[i];
        if (e->uid == 0 || e->registered || e->conflict)
            continue;
        size_t need = 16 + strlen(e->id) + strlen(m->run_dir) + 3;
        if (add_len + need > add_cap) {
            size_t cap = add_cap ? add_cap * 2 : 4096;
            while (cap < add_len + need)
                cap *= 2;
            char *p = realloc(add, cap);
            if (!p) {
                rc = -ENOMEM;
                goto cleanup;
            }
            add = p;
            add_cap = cap;
        }
        add_len += (size_t)snprintf(add + add_len, add_cap - add_len, "%lu %s %s\n",
                                    (unsigned long)e->uid, e->id, m->run_dir);
    }
    if (add_len > 0) {
        for (size_t off = 0; off < add_len;) {
            ssize_t w = pwrite(fd, add + off, add_len - off, got + (off_t)off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                goto cleanup;
            }
            off += (size_t)w;
        }
        if (fsync(fd) < 0) {
            rc = -errno;
            goto cleanup;
        }
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].uid != 0 && !m->e[i].conflict)
            m->e[i].registered = true;
cleanup:
    free(add);
    free(ranges);
    free(reg);
    free(taken.v);
    free(text);
    return rc;
}

int uidmap_assign(struct uidmap *m, const char *id)
{
    if (lookup(m, id))
        return 0;
    return add_entry(m, id, 0);
}

int uidmap_sync(struct uidmap *m)
{
    int rc = 0;
    if (m->unsynced) {
        rc = make_parent(policy.registry);
        if (rc < 0)
            return rc;
        int fd = open(policy.registry, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -errno;
        while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
            ;
        if (rc < 0)
            rc = -errno;
        else
            rc = claim(m, fd);
        /* The map is written while the lock is still held, so no instance
         * sees the registry's new lines before they are in use. */
        if (rc == 0 && m->dirty && (rc = save(m)) == 0)
            m->dirty = false;
        close(fd); /* releases the lock */
        if (rc < 0)
            return rc;
        m->unsynced = false;
        for (size_t i = 0; i < m->n; i++)
            if (m->e[i].conflict)
                m->unsynced = true; /* look again next time: it may be resolved */
        return 0;
    }
    if (m->dirty && (rc = save(m)) == 0)
        m->dirty = false;
    return rc;
}

int uidmap_get(struct uidmap *m, const char *id, uid_t *out)
{
    int rc = uidmap_assign(m, id);
    /* Not stored means not stable: refuse rather than hand out a uid that a
     * restart of tenantd could give to someone else. The entry stays in
     * memory, and the next call tries to store it again. */
    if (rc == 0)
        rc = uidmap_sync(m);
    if (rc < 0)
        return rc;
    const struct uidmap_entry *e = lookup(m, id);
    if (!e || e->uid == 0)
        return -ENOENT;
    if (e->conflict)
        return -EADDRINUSE;
    *out = e->uid;
    return 0;
}
