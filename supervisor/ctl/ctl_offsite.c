/*
 * ctl_offsite.c — `tenantctl restore <id> --from-offsite [snapshot]`: the
 * snapshot is read back from the [offsite] restic repository into a
 * temporary folder under <run_dir>/offsite/, its backup file and manifest are
 * put into the tenant's backups folder by backup_import (backup.h), and the
 * temporary folder is removed. ctl_backup.c then restores that file like any
 * other backup (verify, stop, swap, start, roll back).
 *
 * restic runs as a child (no shell), its output on tenantctl's stderr so
 * that --json output stays one JSON document.
 */
#include "ctl_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup.h"
#include "config.h"
#include "safefile.h"
#include "util.h"

extern char **environ;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static char found[4096];
static int nfound;

static int find_backup(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)f;
    size_t n = strlen(p);
    if (flag == FTW_F && S_ISREG(sb->st_mode) &&
        ((n > 3 && strcmp(p + n - 3, ".db") == 0) ||
         (n > 7 && strcmp(p + n - 7, ".pgdump") == 0))) {
        nfound++;
        snprintf(found, sizeof found, "%s", p);
    }
    return 0;
}

static bool valid_snapshot(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

/* Run restic once, its stdout and stderr into the file log. 0 when it exited 0,
 * 1 when it failed, -errno when it could not run. */
static int run_once(char *const *argv, const char *log, char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    int r = posix_spawnp(&pid, "restic", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
        util_seterr(err, errlen, "cannot run restic: %s (apt-get install restic)", strerror(r));
        return -r;
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* restic 0.14 has no --retry-lock: while tenantd's own restic holds the
 * repository (a copy, a prune), wait and try again, up to about a minute.
 * On failure restic's last message is copied to stderr. */
static int run_restic(char *const *argv, const char *log, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = 1;

    for (int tries = 0; tries < 60; tries++) {
        r = run_once(argv, log, err, errlen);
        if (r <= 0)
            break;
        free(text);
        text = NULL;
        if (safefile_read(AT_FDCWD, log, 65536, &text, &len) < 0 ||
            strstr(text, "repository is already locked") == NULL)
            break;
        sleep(1);
    }
    if (r > 0) {
        if (text == NULL)
            safefile_read(AT_FDCWD, log, 65536, &text, &len);
        if (text != NULL)
            fwrite(text, 1, len, stderr);
        util_seterr(err, errlen, "restic restore failed (its message is above)");
    }
    free(text);
    unlink(log);
    return r > 0 ? -EIO : r;
}

int ctl_offsite_fetch(const struct config_global *g, const char *id, const char *snapshot,
                      const char *bdir, const char *db, char *file, size_t n, char *err,
                      size_t errlen)
{
    char dir[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 64], tag[CONFIG_ID_MAX + 8];
    char log[CONFIG_PATH_MAX + 80];

    if (g->offsite_repository[0] == '\0') {
        util_seterr(err, errlen, "[offsite] repository is not set in %s", g->path);
        return -EINVAL;
    }
    if (snapshot != NULL && !valid_snapshot(snapshot)) {
        util_seterr(err, errlen, "\"%.80s\" is not a snapshot id (hex digits, as restic prints)",
                    snapshot);
        return -EINVAL;
    }
    snprintf(dir, sizeof dir, "%s/offsite", g->run_dir);
    snprintf(tmp, sizeof tmp, "%s/fetch-%s-XXXXXX", dir, id);
    if (util_mkdir_p(dir, 0700) < 0 || mkdtemp(tmp) == NULL) {
        util_seterr(err, errlen, "cannot create a folder in %s: %s", dir, strerror(errno));
        return -errno;
    }
    snprintf(tag, sizeof tag, "tenant=%s", id);
    char *argv[] = {"restic",
                    "-r",
                    (char *)g->offsite_repository,
                    "--password-file",
                    (char *)g->offsite_password_file,
                    "--no-cache",
                    "restore",
                    snapshot ? (char *)snapshot : "latest",
                    "--target",
                    tmp,
                    "--host",
                    "tenantd",
                    "--tag",
                    tag,
                    NULL};
    snprintf(log, sizeof log, "%s.log", tmp);
    int ret = run_restic(argv, log, err, errlen);
    if (ret == 0) {
        nfound = 0;
        found[0] = '\0';
        nftw(tmp, find_backup, 16, FTW_PHYS | FTW_MOUNT);
        if (nfound != 1) {
            util_seterr(err, errlen, "the snapshot holds %d backup files of %s, expected one",
                        nfound, id);
            ret = -ENOENT;
        } else {
            ret = backup_import(found, bdir, db, file, n, err, errlen);
        }
    }
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return ret;
}
