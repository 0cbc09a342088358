/*
 * config_reuse.c — what lets a reload parse only the tenant files that
 * changed (config_reload, config.h): a stamp of each file as it was read
 * (device, inode, size, mtime and ctime in ns), and taking a tenant's parsed
 * entry from the previous config when its file's stamp is unchanged.
 *
 * Why a stamp and not the content: reading 10,000 files is most of what a
 * parse costs; an fstatat of each is a few ms. A rename over the file (the
 * way editors and tenantctl write) gives a new inode, any write a new ctime.
 * A file changed within the same clock tick as it was read, with the same
 * size, would keep its stamp: so a file whose timestamps are less than
 * CONFIG_STAMP_SETTLE_NS old when it is stamped is never reused (its stamp is not
 * "ok"), and is parsed again at the next reload too.
 *
 * What it does not do: decide whether the global file or the plans changed
 * (config.c compares their stamps), or parse anything.
 */
#include "config_internal.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t settle_ns = CONFIG_STAMP_SETTLE_NS;

void config_stamp_settle(int64_t ns)
{
    settle_ns = ns;
}

int64_t config_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void config_stamp_take(const char *path, int64_t now_ns, struct config_stamp *st)
{
    struct stat sb;
    memset(st, 0, sizeof(*st));
    if (path == NULL || stat(path, &sb) < 0)
        return;
    st->dev = (uint64_t)sb.st_dev;
    st->ino = (uint64_t)sb.st_ino;
    st->size = (int64_t)sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    st->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec;
    st->ok =
        settle_ns <= 0 || (st->mtime_ns < now_ns - settle_ns && st->ctime_ns < now_ns - settle_ns);
}

bool config_stamp_same(const struct config_stamp *a, const struct config_stamp *b)
{
    return a->ok && b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static int cmp_entry_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct config_tenant_entry *)elem)->id);
}

bool config_reuse_entry(const struct config *prev, const char *name, const struct config_stamp *st,
                        struct config_tenant_entry *e, struct config_diag *one)
{
    char id[CONFIG_ID_MAX];
    size_t n = strlen(name);
    if (n <= 4 || n - 4 >= sizeof(id) || prev->n_tenants == 0)
        return false;
    memcpy(id, name, n - 4);
    id[n - 4] = '\0';
    const struct config_tenant_entry *pe =
        bsearch(id, prev->tenants, prev->n_tenants, sizeof(*pe), cmp_entry_id);
    if (pe == NULL || !config_stamp_same(&pe->st, st))
        return false;
    e->t = pe->t;
    e->valid = pe->own_valid;
    if (!e->valid) {
        /* The same messages as a parse would give, one line each. */
        const char *p = pe->error ? pe->error : "";
        size_t left = pe->error ? pe->own_error_len : 0;
        while (left > 0) {
            const char *nl = memchr(p, '\n', left);
            size_t l = nl ? (size_t)(nl - p) : left;
            config_diag_add(one, "%.*s", (int)l, p);
            p += l + (nl ? 1 : 0);
            left -= l + (nl ? 1 : 0);
        }
        if (one->n == 0)
            config_diag_add(one, "%s: invalid", id);
    }
    return true;
}
