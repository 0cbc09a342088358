/*
 * uidmap.c — see uidmap.h. The map is small (one line per tenant) and read
 * once at start; a lookup is a linear scan only when assigning, which happens
 * once per new tenant, while the hot path keeps the uid in the tenant itself.
 */
#include "uidmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

struct uidmap_entry {
    char id[CONFIG_ID_MAX];
    uid_t uid;
};

struct uidmap {
    char path[CONFIG_PATH_MAX];
    struct uidmap_entry *e;
    size_t n, cap;
    uid_t next;
    bool dirty; /* assigned in memory, not stored yet */
};

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
    snprintf(m->e[m->n].id, sizeof m->e[m->n].id, "%s", id);
    m->e[m->n].uid = uid;
    m->n++;
    if (uid >= m->next)
        m->next = uid + 1;
    return 0;
}

int uidmap_open(const char *run_dir, struct uidmap **out)
{
    int rc = 0;
    FILE *f = NULL;
    struct uidmap *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->next = UIDMAP_FIRST;
    if (snprintf(m->path, sizeof m->path, "%s/uids", run_dir) >= (int)sizeof m->path) {
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
        /* A line that does not parse is skipped rather than fatal: the uids
         * already handed out stay reserved by the `next` counter anyway. */
        if (sscanf(line, "%32s %lu", id, &uid) == 2 && config_valid_id(id) && uid >= UIDMAP_FIRST &&
            uid < 0x7fffffffUL) {
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

static const struct uidmap_entry *lookup(const struct uidmap *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].id, id) == 0)
            return &m->e[i];
    return NULL;
}

int uidmap_assign(struct uidmap *m, const char *id)
{
    if (lookup(m, id))
        return 0;
    int rc = add_entry(m, id, m->next);
    if (rc == 0)
        m->dirty = true;
    return rc;
}

int uidmap_sync(struct uidmap *m)
{
    if (!m->dirty)
        return 0;
    int rc = save(m);
    if (rc == 0)
        m->dirty = false;
    return rc;
}

int uidmap_get(struct uidmap *m, const char *id, uid_t *out)
{
    int rc = uidmap_assign(m, id);
    /* Not stored means not stable: refuse rather than hand out a uid that a
     * restart of tenantd could give to someone else. The entry stays in
     * memory (and reserved), and the next call tries to store it again. */
    if (rc == 0)
        rc = uidmap_sync(m);
    if (rc < 0)
        return rc;
    const struct uidmap_entry *e = lookup(m, id);
    if (!e)
        return -ENOENT;
    *out = e->uid;
    return 0;
}
