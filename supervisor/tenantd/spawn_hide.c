/*
 * spawn_hide.c — which of tenantd's own configuration folders a jailed worker
 * must not see (see spawn.h): tenants_dir (every tenant's file: its port,
 * plan, identity, and hand-written files are often 0644), and the folders of
 * tenantd.ini and plans.ini. The jail covers each with an empty read-only
 * tmpfs; what the worker needs below (its data dir, program, templates) is
 * bound back by the jail's --expose handling.
 *
 * A folder is left visible when hiding it would break the worker or the
 * system: "/" and the system's own folders (/etc, /usr, ...), and a folder
 * holding a command other than the bundled worker (an app installed beside
 * the config may need its neighbours: its modules, its virtualenv). Folders
 * nested in another hidden one are dropped, as the jail mounts each cover on
 * a path that must still exist.
 */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jail_args.h"
#include "spawn.h"

static bool system_folder(const char *dir)
{
    static const char *const sys[] = {"/",
                                      "/bin",
                                      "/boot",
                                      "/dev",
                                      "/etc",
                                      "/home",
                                      "/lib",
                                      "/lib32",
                                      "/lib64",
                                      "/libx32",
                                      "/media",
                                      "/mnt",
                                      "/opt",
                                      "/proc",
                                      "/root",
                                      "/run",
                                      "/sbin",
                                      "/srv",
                                      "/sys",
                                      "/tmp",
                                      "/usr",
                                      "/var",
                                      "/var/lib",
                                      "/var/tmp",
                                      "/usr/local",
                                      "/usr/local/bin",
                                      "/usr/local/sbin",
                                      "/usr/local/lib",
                                      "/usr/local/share"};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (strcmp(dir, sys[i]) == 0)
            return true;
    return false;
}

static void folder_of(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    if (s == NULL || s == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(s - path), path);
}

static bool bundled_worker(const char *program)
{
    const char *b = strrchr(program, '/');
    return strcmp(b ? b + 1 : program, "tenant-worker") == 0;
}

/* Add dir to o's --hide list unless it must stay visible or is already
 * covered; drop the entries it covers. */
static void hide_one(struct jail_opts *o, const char *dir, const char *program_real)
{
    if (dir[0] != '/' || system_folder(dir))
        return;
    if (program_real[0] && jail_path_within(program_real, dir) && !bundled_worker(program_real))
        return;
    for (size_t i = 0; i < o->n_hide; i++)
        if (jail_path_within(dir, o->hide[i]))
            return;
    size_t w = 0;
    for (size_t i = 0; i < o->n_hide; i++)
        if (!jail_path_within(o->hide[i], dir))
            o->hide[w++] = o->hide[i];
    o->n_hide = w;
    if (o->n_hide < JAIL_HIDE_MAX)
        o->hide[o->n_hide++] = dir;
}

void spawn_hide_config(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                       struct jail_opts *o)
{
    char real[PATH_MAX];

    if (program == NULL || realpath(program, real) == NULL)
        real[0] = '\0';
    folder_of(g->path, p->conf_dir, sizeof p->conf_dir);
    folder_of(g->plans, p->plans_dir, sizeof p->plans_dir);
    hide_one(o, g->tenants_dir, real);
    hide_one(o, p->conf_dir, real);
    hide_one(o, p->plans_dir, real);
}

/* The tenant's flags folder (config_tenant_flags_dir), created root's 0755
 * and shown read-only to its worker: tenantd writes there, the tenant only
 * reads (storage.c's "storage-full"). Not for --create-admin (no id). */
void spawn_expose_flags(const struct config_global *g, struct spawn_fs_paths *p,
                        struct jail_opts *o)
{
    char parent[CONFIG_PATH_MAX + 8];

    if (o->id[0] == '\0' || o->n_expose >= JAIL_EXPOSE_MAX)
        return;
    if (config_tenant_flags_dir(g, o->id, p->flags_dir, sizeof p->flags_dir) >=
            (int)sizeof p->flags_dir ||
        snprintf(parent, sizeof parent, "%s/flags", g->run_dir) >= (int)sizeof parent)
        return;
    if ((mkdir(parent, 0755) < 0 && errno != EEXIST) ||
        (mkdir(p->flags_dir, 0755) < 0 && errno != EEXIST))
        return;
    o->expose[o->n_expose++] = p->flags_dir;
}
