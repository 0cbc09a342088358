/*
 * storage.c — see storage.h.
 *
 *   timer (round_ms / number of tenants) ──> next tenant, round robin
 *        └─> uv_queue_work: storage_walk(data dir)  (pool thread)
 *              └─> after: store, compare with the limit, log a crossing
 *
 * One walk at a time: a tenant with a huge tree slows its own measure, not
 * tenantd's loop. The walk goes through directory fds (openat, fdopendir,
 * fstatat without following symlinks) and never opens a non-directory, so
 * nothing a tenant puts in its data dir (a FIFO, a symlink to /) can stall
 * or redirect it.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "idtab.h"
#include "log.h"
#include "sup.h"
#include "util.h"

#define WALK_DEPTH_MAX 64
#define WALK_ENTRIES_MAX 1000000
#define TICK_MIN_MS 100
#define TABLE_MAX (1u << 20) /* tenants measured; past it, not */

struct entry {
    char id[CONFIG_ID_MAX];
    struct storage_info info;
};

struct job {
    uv_work_t req;
    char id[CONFIG_ID_MAX];
    char dir[PATH_MAX];
    int64_t limit;
    int64_t used;
};

static struct {
    uv_loop_t *loop;
    struct sup *sup;
    uv_timer_t timer;
    bool started, timer_open;
    uint64_t round_ms;
    size_t next;
    struct job *running;
    struct idtab tab; /* struct entry, sorted by id */
} S = {.tab = {.size = sizeof(struct entry), .idcap = CONFIG_ID_MAX}};

/* Sorted by id (idtab.h): the alerts' round looks every tenant up. */
static struct entry *find(const char *id, bool add)
{
    if (!add)
        return idtab_find(&S.tab, id);
    int added;
    struct entry *e = idtab_get(&S.tab, id, TABLE_MAX, &added);
    if (added)
        e->info.used_bytes = -1; /* not measured yet */
    return e;
}

static int64_t walk_fd(int dfd, int depth, long *entries)
{
    int64_t sum = 0;
    DIR *d = fdopendir(dfd);
    struct dirent *de;

    if (d == NULL) {
        close(dfd);
        return 0;
    }
    while ((de = readdir(d)) != NULL && *entries < WALK_ENTRIES_MAX) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        (*entries)++;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        sum += (int64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH_MAX) {
            int sub = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (sub >= 0)
                sum += walk_fd(sub, depth + 1, entries);
        }
    }
    closedir(d);
    return sum;
}

int64_t storage_walk(const char *dir)
{
    struct stat st;
    long entries = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -errno;
    }
    return (int64_t)st.st_blocks * 512 + walk_fd(fd, 1, &entries);
}

/* The flag the tenant's worker reads (config_tenant_flags_dir, exposed
 * read-only in its jail): present while the tenant is over its limit. */
static void set_flag(const char *id, bool over, int64_t used, int64_t limit)
{
    const struct config *c = S.sup ? sup_config(S.sup) : NULL;
    char dir[PATH_MAX], path[PATH_MAX + 32], text[64];

    if (c == NULL || config_tenant_flags_dir(&c->g, id, dir, sizeof dir) >= (int)sizeof dir)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, CONFIG_STORAGE_FULL_FLAG);
    if (!over) {
        unlink(path);
        return;
    }
    if (util_mkdir_p(dir, 0755) < 0)
        return;
    int n = snprintf(text, sizeof text, "%lld %lld\n", (long long)used, (long long)limit);
    if (util_write_file_atomic(path, text, (size_t)n, 0644) < 0)
        log_error(id, "cannot write the storage-full flag %s", path);
}

static void work_cb(uv_work_t *req)
{
    struct job *j = req->data;
    j->used = storage_walk(j->dir);
}

static void after_cb(uv_work_t *req, int status)
{
    struct job *j = req->data;

    if (S.running == j)
        S.running = NULL;
    if (S.started && status == 0 && j->used >= 0) {
        struct entry *e = find(j->id, true);
        if (e != NULL) {
            bool over = j->limit > 0 && j->used >= j->limit;
            if (over && !e->info.over)
                log_warn(j->id, "storage over the plan's limit: %lld of %lld bytes used",
                         (long long)j->used, (long long)j->limit);
            else if (!over && e->info.over)
                log_info(j->id, "storage back under the plan's limit: %lld of %lld bytes",
                         (long long)j->used, (long long)j->limit);
            if (over != e->info.over || e->info.checked_at == 0)
                set_flag(j->id, over, j->used, j->limit);
            e->info.used_bytes = j->used;
            e->info.limit_bytes = j->limit;
            e->info.over = over;
            e->info.checked_at = time(NULL);
        }
    }
    free(j);
}

static uint64_t tick_ms(void)
{
    size_t n = S.sup ? sup_tenant_count(S.sup) : 0;
    uint64_t t = n > 0 ? S.round_ms / n : S.round_ms;
    return t < TICK_MIN_MS ? TICK_MIN_MS : t;
}

static void tick(uv_timer_t *t)
{
    struct tenant_view *v;
    const struct config *c;
    size_t n;

    uv_timer_start(t, tick, tick_ms(), 0);
    if (S.running != NULL || (n = sup_tenant_count(S.sup)) == 0)
        return;
    if (S.next >= n)
        S.next = 0;
    v = calloc(1, sizeof *v);
    struct job *j = calloc(1, sizeof *j);
    if (v == NULL || j == NULL || sup_tenant_view_nostats(S.sup, S.next++, v) < 0) {
        free(v);
        free(j);
        return;
    }
    c = sup_config(S.sup);
    snprintf(j->id, sizeof j->id, "%s", v->id);
    free(v);
    if (config_tenant_data_dir(&c->g, j->id, j->dir, sizeof j->dir) >= (int)sizeof j->dir) {
        free(j);
        return;
    }
    const struct config_tenant_entry *te = config_find_tenant(c, j->id);
    j->limit = te != NULL && te->valid ? te->t.storage_bytes : 0;
    j->req.data = j;
    if (uv_queue_work(S.loop, &j->req, work_cb, after_cb) == 0)
        S.running = j;
    else
        free(j);
}

int storage_start(uv_loop_t *loop, struct sup *s, uint64_t round_ms)
{
    int r;

    S.loop = loop;
    S.sup = s;
    S.round_ms = round_ms > 0 ? round_ms : STORAGE_ROUND_MS;
    r = uv_timer_init(loop, &S.timer);
    if (r < 0)
        return r;
    S.timer_open = true;
    S.started = true;
    /* The first round starts at once: status shows usage soon after boot. */
    r = uv_timer_start(&S.timer, tick, TICK_MIN_MS, 0);
    uv_unref((uv_handle_t *)&S.timer);
    return r;
}

void storage_stop(void)
{
    S.started = false;
    S.sup = NULL;
    if (S.timer_open) {
        uv_timer_stop(&S.timer);
        uv_close((uv_handle_t *)&S.timer, NULL);
        S.timer_open = false;
    }
}

int storage_lookup(const char *id, struct storage_info *out)
{
    struct entry *e = find(id, false);

    if (e == NULL)
        return -ENOENT;
    *out = e->info;
    return 0;
}
