/*
 * backup_list.c — the backups of a tenant as a list (see backup.h): parsing a
 * backup's file name, listing a folder newest first with what each manifest
 * says, and pruning all but the newest few (and the leftovers of a crashed
 * backup, once they are old).
 *
 * What this file does not do: create (backup.c), verify or restore
 * (backup_restore.c) a backup, or decide how many to keep.
 */
#include "backup.h"
#include "backup_internal.h"
#include "safefile.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Leftover temporary files of a crashed backup are removed by the next prune
 * once they are this old, so a running backup's temp file is never touched. */
#define STALE_TMP_SECONDS 3600

/* ---- names, list, prune ---------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int backup_parse_name(const char *name, const char *tenant_id, time_t *created, int *seq)
{
    size_t idlen = strlen(tenant_id), len = strlen(name);
    const char *p, *end;
    struct tm tm = {0};
    int s = 0;

    /* <id>-yyyymmddThhmmssZ[-n].db */
    if (len < idlen + 1 + 16 + 3 || strncmp(name, tenant_id, idlen) != 0 || name[idlen] != '-')
        return 0;
    if (strcmp(name + len - 3, ".db") != 0)
        return 0;
    p = name + idlen + 1;
    end = name + len - 3;
    if (!all_digits(p, 8) || p[8] != 'T' || !all_digits(p + 9, 6) || p[15] != 'Z')
        return 0;
    tm.tm_year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') - 1900;
    tm.tm_mon = (p[4] - '0') * 10 + (p[5] - '0') - 1;
    tm.tm_mday = (p[6] - '0') * 10 + (p[7] - '0');
    tm.tm_hour = (p[9] - '0') * 10 + (p[10] - '0');
    tm.tm_min = (p[11] - '0') * 10 + (p[12] - '0');
    tm.tm_sec = (p[13] - '0') * 10 + (p[14] - '0');
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return 0;
    p += 16;
    if (p != end) {
        size_t dn = (size_t)(end - p) - 1;
        if (*p != '-' || dn < 1 || dn > 2 || !all_digits(p + 1, dn) || p[1] == '0')
            return 0;
        s = atoi(p + 1);
    }
    if (created != NULL)
        *created = timegm(&tm);
    if (seq != NULL)
        *seq = s;
    return 1;
}

static int newest_first(const void *a, const void *b)
{
    const struct backup_info *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return y->seq - x->seq;
}

/* The manifest beside a backup, read through the folder's fd: the folder is
 * the tenant's, so it may hold a FIFO, a symlink or a huge file there. */
static void read_manifest_info(int dfd, struct backup_info *bi)
{
    char mname[PATH_MAX];
    json_t *m, *v;

    bi->manifest_size = -1;
    bi->schema_version = -1;
    if (backup_manifest_path(bi->name, mname, sizeof(mname)) < 0)
        return;
    m = backup_manifest_load(dfd, mname, NULL, 0);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    bi->has_manifest = 1;
    if (json_is_integer(v = json_object_get(m, "size")))
        bi->manifest_size = json_integer_value(v);
    if (json_is_integer(v = json_object_get(m, "schema_version")))
        bi->schema_version = (int)json_integer_value(v);
    if (json_is_string(v = json_object_get(m, "sha256")))
        snprintf(bi->sha256, sizeof(bi->sha256), "%s", json_string_value(v));
    json_decref(m);
}

int backup_list(const char *backup_dir, const char *tenant_id, struct backup_info **out,
                size_t *count, char *err, size_t errlen)
{
    struct backup_info *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int dfd, ret = 0;

    *out = NULL;
    *count = 0;
    dfd = safefile_open_dir(AT_FDCWD, backup_dir);
    if (dfd == -ENOENT)
        return 0;
    if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
        ret = dfd < 0 ? dfd : -errno;
        if (dfd >= 0)
            close(dfd);
        util_seterr(err, errlen, "cannot read backups folder %s: %s", backup_dir,
                    ret == -EINVAL || ret == -ELOOP ? "not a plain folder" : strerror(-ret));
        return ret;
    }
    while ((de = readdir(d)) != NULL) {
        struct backup_info *bi;
        struct stat st;
        time_t created;
        int seq;

        if (!backup_parse_name(de->d_name, tenant_id, &created, &seq))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct backup_info *nv = realloc(v, ncap * sizeof(*v));
            if (nv == NULL) {
                ret = -ENOMEM;
                util_seterr(err, errlen, "out of memory");
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        bi = &v[n];
        memset(bi, 0, sizeof(*bi));
        if (util_path_fmt(bi->path, sizeof(bi->path), "%s/%s", backup_dir, de->d_name) < 0 ||
            util_path_fmt(bi->name, sizeof(bi->name), "%s", de->d_name) < 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        bi->created = created;
        bi->seq = seq;
        bi->size = st.st_size;
        read_manifest_info(dirfd(d), bi);
        n++;
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), newest_first);
    *out = v;
    *count = n;
    v = NULL;
out:
    free(v);
    closedir(d);
    return ret;
}

/* A crashed backup leaves "<id>-<time>.db.tmp" or ".json.tmp" behind. */
static void prune_stale_tmp(int dfd, const char *tenant_id)
{
    size_t idlen = strlen(tenant_id);
    struct dirent *de;
    struct stat st;
    time_t now = time(NULL);
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < idlen + 5 || strncmp(de->d_name, tenant_id, idlen) != 0 ||
            de->d_name[idlen] != '-' || strcmp(de->d_name + len - 4, ".tmp") != 0)
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > STALE_TMP_SECONDS)
            unlinkat(dfd, de->d_name, 0);
    }
    closedir(d);
}

int backup_prune(const char *backup_dir, const char *tenant_id, int keep, int *removed, char *err,
                 size_t errlen)
{
    struct backup_info *v = NULL;
    char mname[PATH_MAX];
    size_t n = 0;
    int dfd, ret, gone = 0;

    if (removed != NULL)
        *removed = 0;
    if (keep < 1)
        keep = 1;
    ret = backup_list(backup_dir, tenant_id, &v, &n, err, errlen);
    if (ret < 0)
        return ret;
    /* Every unlink goes through the folder's fd: a folder swapped for a
     * symlink after the listing cannot lead the deletes elsewhere. */
    dfd = safefile_open_dir(AT_FDCWD, backup_dir);
    if (dfd < 0) {
        free(v);
        if (dfd == -ENOENT)
            return 0;
        util_seterr(err, errlen, "cannot open backups folder %s: %s", backup_dir,
                    safefile_strerror(dfd));
        return dfd;
    }
    for (size_t i = (size_t)keep; i < n; i++) {
        /* The manifest goes first: a .db without one is "unfinished", never
         * mistaken for a good backup if the second unlink is lost. */
        if (backup_manifest_path(v[i].name, mname, sizeof(mname)) == 0 &&
            unlinkat(dfd, mname, 0) < 0 && errno != ENOENT) {
            ret = -errno;
            util_seterr(err, errlen, "cannot remove %s/%s: %s", backup_dir, mname, strerror(-ret));
            break;
        }
        if (unlinkat(dfd, v[i].name, 0) < 0 && errno != ENOENT) {
            ret = -errno;
            util_seterr(err, errlen, "cannot remove %s: %s", v[i].path, strerror(-ret));
            break;
        }
        gone++;
    }
    free(v);
    prune_stale_tmp(dfd, tenant_id);
    if (gone > 0)
        fsync(dfd);
    close(dfd);
    if (removed != NULL)
        *removed = gone;
    return ret;
}
