/*
 * reach.c — see reach.h. One stat per path; the templates are checked once
 * and the result is reported for every tenant that runs the bundled worker.
 */
#include "reach.h"
#include "argv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY_MAX 768

/* Whether the worker may open path with `need` (R_OK, X_OK or both); when it
 * may not, why in `why`. kind is "file" or "folder" (a folder needs R and X). */
static bool may_open(const char *path, bool as_root, int need, bool folder, char *why, size_t n)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(why, n, "%s", strerror(errno));
        return false;
    }
    if (folder && !S_ISDIR(st.st_mode)) {
        snprintf(why, n, "not a folder");
        return false;
    }
    if (!folder && !S_ISREG(st.st_mode)) {
        snprintf(why, n, "not a regular file");
        return false;
    }
    if (!as_root) {
        if (access(path, need) == 0)
            return true;
        snprintf(why, n, "%s", strerror(errno));
        return false;
    }
    mode_t bits = ((need & R_OK) ? S_IROTH : 0) | ((need & X_OK) ? S_IXOTH : 0);
    if ((st.st_mode & bits) == bits)
        return true;
    const char *verb = folder ? "list" : (need & X_OK) != 0 ? "execute" : "read";
    snprintf(why, n, "the tenant's uid cannot %s it (mode %04o, owner uid %u)", verb,
             (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
    return false;
}

/* Program, then the interpreter its "#!" line names. */
static bool check_program(const char *path, bool as_root, char *bad, size_t nbad, char *why,
                          size_t n)
{
    snprintf(bad, nbad, "%s", path);
    if (!may_open(path, as_root, X_OK, false, why, n))
        return false;
    char head[256];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, head, sizeof head - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (r < 2 || head[0] != '#' || head[1] != '!')
        return true;
    /* A script is read by its interpreter, as the tenant. */
    if (!may_open(path, as_root, R_OK | X_OK, false, why, n))
        return false;
    head[r] = '\0';
    char *p = head + 2 + strspn(head + 2, " \t");
    p[strcspn(p, " \t\r\n")] = '\0';
    if (p[0] != '/')
        return true;
    snprintf(bad, nbad, "%s (the interpreter of %s)", p, path);
    return may_open(p, as_root, X_OK, false, why, n);
}

/* The folder and every file in it, one level (rules/ is checked as its own
 * folder); the first problem found. */
static bool check_folder(const char *dir, bool as_root, char *bad, size_t nbad, char *why, size_t n)
{
    snprintf(bad, nbad, "%s", dir);
    if (!may_open(dir, as_root, R_OK | X_OK, true, why, n))
        return false;
    DIR *dp = opendir(dir);
    if (!dp) {
        snprintf(why, n, "%s", strerror(errno));
        return false;
    }
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[CONFIG_PATH_MAX + 300];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(bad, nbad, "%s", path);
        ok = may_open(path, as_root, R_OK, false, why, n);
    }
    closedir(dp);
    return ok;
}

int reach_worker_program(const struct config_global *g, const struct config_tenant *t,
                         const char *self_dir, char *buf, size_t n)
{
    if (t->command[0]) {
        /* The program is the first word of the argv (checked at parse time). */
        if (argv_program(t->command, buf, n) < 0)
            return snprintf(buf, n, "%s", t->command);
        return (int)strlen(buf);
    }
    if (g->worker_path[0])
        return snprintf(buf, n, "%s", g->worker_path);
    return snprintf(buf, n, "%s/tenant-worker", self_dir);
}

void reach_check_tenants(const struct config *c, const char *self_dir, bool as_root,
                         struct config_diag *d)
{
    char dir[CONFIG_PATH_MAX + 16], bad[2 * CONFIG_PATH_MAX + 32], why[WHY_MAX];
    char tbad[2 * CONFIG_PATH_MAX + 32] = "", twhy[WHY_MAX] = "";
    bool templates_ok = true, templates_checked = false;

    for (size_t i = 0; i < c->n_tenants; i++) {
        const struct config_tenant_entry *e = &c->tenants[i];
        if (!e->valid)
            continue;
        char program[CONFIG_PATH_MAX + 16], file[CONFIG_TENANT_FILE_MAX];
        config_tenant_file(&c->g, e->id, file, sizeof file);
        reach_worker_program(&c->g, &e->t, self_dir, program, sizeof program);
        if (!check_program(program, as_root, bad, sizeof bad, why, sizeof why))
            config_diag_add(d, "%s: [worker] command: %s: %s", file, bad, why);
        if (e->t.command[0])
            continue; /* another application: the templates are not its business */
        if (!templates_checked) {
            templates_checked = true;
            snprintf(dir, sizeof dir, "%s/worker", c->g.templates_dir);
            templates_ok = check_folder(dir, as_root, tbad, sizeof tbad, twhy, sizeof twhy);
            snprintf(dir, sizeof dir, "%s/worker/rules", c->g.templates_dir);
            if (templates_ok)
                templates_ok = check_folder(dir, as_root, tbad, sizeof tbad, twhy, sizeof twhy);
        }
        if (!templates_ok)
            config_diag_add(d, "%s: the worker's templates: %s: %s", file, tbad, twhy);
    }
}

bool reach_others_can_walk_to(const char *path, char *blocked, size_t n)
{
    char buf[CONFIG_PATH_MAX];
    struct stat st;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; (p = strchr(p, '/')) != NULL; p++) {
        char keep = p[1];
        p[1] = '\0';
        /* A folder that does not exist yet blocks nobody: it will be made 0755. */
        bool ok = stat(buf, &st) < 0 || (st.st_mode & S_IXOTH) != 0;
        p[1] = keep;
        if (!ok) {
            snprintf(blocked, n, "%.*s", p == buf ? 1 : (int)(p - buf), buf);
            return false;
        }
    }
    return true;
}
