/*
 * spawn.h — starting one worker: vfork() and exec of tenant-jail, which applies
 * the tenant's isolation and execs the worker command (docs/HACKING.md, "How
 * the programs talk"), and reaping exactly that process later.
 *
 * The child's file descriptors are fixed: 0 is /dev/null, 1 and 2 are pipes
 * to the log capture (logcap.c), 3 is the tenant's listening socket when it is
 * passed, and the next one is the jail's status fd. Everything else is closed,
 * the signal mask is empty, every disposition is the default, and the child
 * runs in its own session so a ^C at tenantd's terminal reaches tenantd only.
 *
 * Exits are seen through a pidfd (readable when the process ends), which the
 * supervisor polls on its libuv loop; spawn_reap() then reaps that pid only,
 * never waitpid(-1), which would steal libuv's own children.
 *
 * Also here: the per-tenant files a worker needs before it starts (its data
 * dir and its secret). What it does not do: decide when to start or stop.
 */
#ifndef TENANTD_SPAWN_H
#define TENANTD_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct jail_opts;

struct spawn_args {
    const char *jail; /* tenant-jail, absolute */
    /* What the jail must apply (common/jail_args.h): the id, the data dir,
     * the ids, the isolation options and the worker's argv, filled by the
     * caller and borrowed. spawn_worker sets the fd layout itself
     * (--listen-fds, --status-fd), --parent-pid and --pidns-ready, on a copy,
     * and builds the command line with jail_build_argv. */
    const struct jail_opts *jail_opts;
    int listen_fd;    /* -1 with socket = own */
    char *const *env; /* NULL-terminated "K=V", copied by execve */
    /* Root only: create the jail as pid 1 of a new pid namespace and pass it
     * --pidns-ready (jail_opts must then ask for a pid namespace). The worker
     * the jail execs stays pid 1 there: no forwarder process, and the pid
     * tenantd sees is the worker's. */
    bool new_pidns;
};

struct spawn_result {
    pid_t pid;
    int pidfd;       /* readable once the process has exited; CLOEXEC */
    int status_fd;   /* the jail's status pipe, read end; non-blocking, CLOEXEC */
    int out_fd;      /* the worker's stdout, read end; non-blocking, CLOEXEC */
    int err_fd;      /* the worker's stderr, read end; non-blocking, CLOEXEC */
    char error[256]; /* with -EINVAL: why the jail's command line was refused */
};

/* Fork and exec the jail (vfork, or clone(CLONE_VM | CLONE_VFORK |
 * CLONE_NEWPID | CLONE_PIDFD) with new_pidns). Returns 0 with every fd of *r
 * open (the caller owns them), or -errno with none open (-EINVAL with
 * r->error when jail_build_argv refuses the options). */
int spawn_worker(const struct spawn_args *a, struct spawn_result *r);

/* Reap the process behind `pidfd` if it has exited. Returns 0 and sets *code
 * (exit status, or -1) and *sig (terminating signal, or 0), or -EAGAIN when it
 * is still running, or -errno. */
int spawn_reap(int pidfd, int *code, int *sig);

/* Read what the jail wrote on its status fd (non-blocking; "" when nothing).
 * Trailing newlines are removed. Returns the length. */
size_t spawn_read_status(int fd, char *buf, size_t n);

/*
 * The file-system options of a tenant's jail (root only), shared by the
 * worker's start (spawn_fs_opts, into its struct jail_opts) and by
 * --create-admin (spawn_fs_args, as command-line words): --hide for what no worker may see
 * (every tenant's data, the logs, the run dir, tenantd's config files), and --expose for what the
 * worker must reach wherever the operator installed it (the program, the
 * interpreter named on a script's "#!" line, the worker templates and rules),
 * so that a checkout in a 0700 home or under /tmp runs as well as one in
 * /srv. Appends to argv from *k, at most SPAWN_FS_ARGS entries; the strings
 * the options point to live in *p, which must outlive argv.
 */
#define SPAWN_FS_ARGS 18
struct spawn_fs_paths {
    char templates[CONFIG_PATH_MAX + 8];
    char interpreter[CONFIG_PATH_MAX];
    char conf_dir[CONFIG_PATH_MAX];                      /* the folder of tenantd.ini */
    char plans_dir[CONFIG_PATH_MAX];                     /* the folder of plans.ini */
    char flags_dir[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8]; /* <run_dir>/flags/<id> */
};
void spawn_fs_args(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                   const char **argv, size_t *k);
/* The same options added to o's --hide and --expose lists; o borrows g's
 * strings, program and *p. */
/* Part of them (spawn_hide.c): tenantd's own config folders (tenants_dir,
 * the folders of tenantd.ini and plans.ini) added to o's --hide list, unless
 * hiding one would break the system or a non-bundled worker installed there. */
void spawn_hide_config(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                       struct jail_opts *o);
/* And the tenant's flags folder (o->id's), exposed read-only. */
void spawn_expose_flags(const struct config_global *g, struct spawn_fs_paths *p,
                        struct jail_opts *o);
void spawn_fs_opts(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                   struct jail_opts *o);

/* Create <data_dir> mode 0700 (and its parents), owned by uid/gid when
 * `chown_it`. An existing folder is fixed up to the same mode and owner. */
int spawn_prepare_dir(const char *dir, bool chown_it, uid_t uid, gid_t gid);

/* Read <data_dir>/secret, creating it (0600, owned by the tenant, 32 random
 * bytes in base64) when missing or shorter than 16 bytes. `out` receives the
 * base64 text. Never blocks: -EINVAL when the name holds anything but a
 * regular file (a FIFO, a device, a folder), -ELOOP for a symlink. */
int spawn_secret(const char *data_dir, bool chown_it, uid_t uid, gid_t gid, char *out, size_t n);

#endif
