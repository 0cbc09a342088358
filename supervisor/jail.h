/*
 * jail.h — tenant-jail, the chain-loader that applies one tenant's isolation
 * and then execs the worker. This header is the contract between tenantd
 * (which builds the command line with jail_build_argv) and the jail (which
 * parses it with jail_parse_args and applies it with jail_run).
 *
 *   tenant-jail [options] -- COMMAND [ARGS...]
 *
 *   --id ID               required; ^[a-z][a-z0-9-]{0,30}$. Names the tenant in
 *                         messages, the default cgroup name and the hostname.
 *   --data DIR            absolute; the jail chdirs there. Must exist; when the
 *                         jail runs as root it must be owned by --uid and have
 *                         mode 0700 (tenantd creates it, the jail checks it).
 *   --uid N --gid N       drop to these ids (both or neither; never 0). Not
 *                         root: refused unless equal to the current ids.
 *   --parent-pid N        the expected parent (tenantd). After the parent-death
 *                         signal is armed, the jail exits if its parent is not
 *                         N any more. Default: the parent seen at start-up.
 *   --listen-fds N        keep fds 3..3+N-1 (the passed sockets); every fd
 *                         above 2 that is neither one of them nor the status fd
 *                         is closed. When LISTEN_FDS is set in the environment
 *                         it must equal N, and the jail sets LISTEN_PID to its
 *                         own pid (as seen inside its pid namespace) before exec.
 *   --status-fd N         kept open and made close-on-exec. On failure the jail
 *                         writes "<step>: <reason>" (no newline) to it, writes
 *                         "tenant-jail: [id] <step>: <reason>" to stderr and
 *                         exits 111. EOF without data = the exec succeeded.
 *   --rlimit-nofile N     RLIMIT_NOFILE soft = hard = N
 *   --rlimit-fsize BYTES  RLIMIT_FSIZE soft = hard (suffixes K M G)
 *   --rlimit-nproc N      RLIMIT_NPROC soft = hard = N (counts per uid!)
 *   --no-core             RLIMIT_CORE = 0
 *   --cgroup NAME         join <parent>/<NAME> in every usable hierarchy, with
 *   --cgroup-parent SPEC  "self" (the jail's own cgroup, i.e. tenantd's, since
 *                         tenantd forks it), "self/REL" or "/ABS" (from the
 *                         hierarchy's root). Default "self/tenants".
 *   --memory BYTES        memory limit (v2 memory.max; v1 memory.limit_in_bytes
 *                         and memory.memsw.limit_in_bytes when present)
 *   --pids N              pids.max
 *   --cpu-weight N        1..10000 (v2 cpu.weight; v1 cpu.shares = N*1024/100)
 *   --cgroup-optional     when no cgroup hierarchy is usable (or the jail is
 *                         not root), say so on stderr and run without one.
 *   --ns LIST             comma list of mount,pid,ipc,uts,net
 *   --hide DIR            (repeatable, mount ns only) cover DIR with an empty
 *                         read-only tmpfs; the tenant's own data dir is bound
 *                         back inside when it lies below DIR.
 *   --expose PATH         (repeatable, mount ns only) a file or folder the
 *                         worker must reach, read-only: its program, its
 *                         templates and rules. When the tenant's uid could not
 *                         reach PATH in its view (a folder on the way that it
 *                         cannot search, such as a 0700 home, or a folder
 *                         covered by --hide or the private /tmp), the jail
 *                         covers the blocking folder with an empty read-only
 *                         tmpfs and binds PATH back, read-only, at the same
 *                         path. Otherwise nothing is mounted for it. PATH must
 *                         not contain a --hide folder.
 *   --tmp-size BYTES      size of the private /tmp (mount ns only), default 64M
 *   --seccomp             install the deny-list filter (jail_seccomp.c)
 *   --pidns-ready         the jail was created as pid 1 of a new pid namespace
 *                         (tenantd does this with clone(CLONE_NEWPID)): it needs
 *                         pid in --ns and --status-fd, checks getpid() == 1,
 *                         skips its own unshare+fork, still mounts a fresh
 *                         /proc, and execs the worker, which stays pid 1.
 *
 * Pid namespace with --pidns-ready (how tenantd runs it): no forwarder. The
 * jail is already pid 1; the worker it execs keeps that pid, its host pid is
 * the one tenantd created, and its parent is tenantd. The parent check after
 * the parent-death signal cannot use getppid() (a parent outside the
 * namespace reads as 0): it polls the status fd, whose only reader is
 * tenantd, for POLLERR (no reader left).
 *
 * Pid namespace (--ns ...,pid) without it (standalone use): the jail unshares
 * CLONE_NEWPID and forks once.
 * The child becomes pid 1 of the new namespace, goes on with the steps and
 * execs the worker. The parent stays behind as a minimal forwarder, keeping
 * the pid tenantd knows: it closes the passed fds and the status fd, forwards
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the child, reaps
 * it and exits with the child's exit code — or, when the child died of a
 * signal, dies of the same signal itself (an OOM kill shows as SIGKILL to
 * tenantd). The forwarder keeps root and runs no tenant code. Because the
 * worker is pid 1 of its namespace, the kernel only delivers a signal to it
 * when it has installed a handler for it: a worker that does not catch
 * SIGTERM ignores it, and tenantd's SIGKILL after the grace period kills the
 * forwarder, whose death kills the worker (parent-death signal).
 *
 * The order of the steps, and why, is at the top of jail_run.c.
 */
#ifndef TENANTD_JAIL_H
#define TENANTD_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An AddressSanitizer build (make BUILD=asan). LeakSanitizer checks for leaks
 * at exit through ptrace, which the seccomp filter denies, so it would turn
 * every exit of a jailed program into exit 1: the jail switches it off for
 * itself and for what it execs (jail_main.c, jail_run.c "environment"). */
#if defined(__SANITIZE_ADDRESS__)
#define JAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JAIL_ASAN 1
#endif
#endif

#define JAIL_EXIT_FAILURE 111 /* a step failed; nothing of the worker ran */
#define JAIL_ID_MAX 32
#define JAIL_HIDE_MAX 8
#define JAIL_EXPOSE_MAX 8
#define JAIL_CGROUP_PARENT_DEFAULT "self/tenants"

enum jail_ns {
    JAIL_NS_MOUNT = 1u << 0,
    JAIL_NS_PID = 1u << 1,
    JAIL_NS_IPC = 1u << 2,
    JAIL_NS_UTS = 1u << 3,
    JAIL_NS_NET = 1u << 4,
};

/*
 * One tenant's isolation, as parsed from the command line. The strings are
 * borrowed: they point into the argv given to jail_parse_args (or into the
 * caller's memory when tenantd fills the struct for jail_build_argv). A
 * number that is "not given" is -1 (limits) or 0 (cgroup limits, ns).
 */
struct jail_opts {
    char id[JAIL_ID_MAX];
    const char *data_dir; /* NULL = no chdir and no check */
    bool has_ids;         /* --uid and --gid given */
    uid_t uid;
    gid_t gid;
    pid_t parent_pid; /* 0 = the parent seen at start-up */
    int listen_fds;   /* 0 */
    int status_fd;    /* -1 = none */

    int64_t rlimit_nofile; /* -1 = leave as inherited */
    int64_t rlimit_fsize;
    int64_t rlimit_nproc;
    bool no_core;

    const char *cgroup;        /* NULL = no cgroup step */
    const char *cgroup_parent; /* NULL = "self/tenants" */
    int64_t memory_bytes;      /* 0 = no limit */
    int64_t pids;              /* 0 = no limit */
    int cpu_weight;            /* 0 = default (100) */
    bool cgroup_optional;

    unsigned ns; /* enum jail_ns bits */
    const char *hide[JAIL_HIDE_MAX];
    size_t n_hide;
    const char *expose[JAIL_EXPOSE_MAX];
    size_t n_expose;
    int64_t tmp_size; /* bytes; 0 = default 64 MiB */

    bool seccomp;
    bool pidns_ready; /* already pid 1 of a fresh pid namespace */

    char *const *argv; /* COMMAND and its ARGS, NULL-terminated; borrowed */
};

/* Fill o with the defaults above (no options given). */
void jail_opts_init(struct jail_opts *o);

/*
 * Parse argv (argv[0] is the program name) into o. Validation that needs no
 * I/O happens here: id syntax, numbers and ranges, absolute paths without
 * "..", --uid/--gid both or neither, a COMMAND after "--". Returns 0, or
 * -EINVAL with one sentence in err ("--pids: \"x\" is not a number").
 * o borrows strings from argv.
 */
int jail_parse_args(int argc, char *const argv[], struct jail_opts *o, char *err, size_t errlen);

/*
 * Build the command line that makes the jail apply o:
 *   { jail_path, options..., "--", o->argv[0], ... , NULL }.
 * Returns 0 and *out, one allocation holding the array and its strings (the
 * caller frees it with free()), or -EINVAL when o would not parse back
 * (err says why), or -ENOMEM. Does no I/O.
 */
int jail_build_argv(const struct jail_opts *o, const char *jail_path, char ***out, char *err,
                    size_t errlen);

/*
 * Apply o, step by step, then execve o->argv with the current environment
 * (plus LISTEN_PID, and TMPDIR/SQLITE_TMPDIR with a mount namespace).
 * Returns only on failure, with JAIL_EXIT_FAILURE after reporting the step
 * (status fd, then stderr) — or, in the pid-namespace forwarder, with the
 * exit code the forwarder must exit with (see above).
 */
int jail_run(const struct jail_opts *o);

/* ---- internal interface between the jail_*.c modules -------------------- */

/* A failure inside a step: the step's name and one line saying why. */
struct jail_err {
    const char *step;
    char reason[512];
};
/* Record step and a printf-style reason; returns -1 so a step can
 * `return jail_errf(e, "mount", "...")`. */
int jail_errf(struct jail_err *e, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* jail_args.c: true when path is dir or lies below it ("/a/b" is within
 * "/a" and "/a/", not within "/ab"). Both are absolute; no I/O. */
bool jail_path_within(const char *path, const char *dir);

/* jail_cgroup.c: create the tenant's cgroups, write the limits, join them. */
int jail_cgroup_apply(const struct jail_opts *o, struct jail_err *e);

/* jail_ns.c: unshare; for a pid namespace fork (returns 1 in the forwarder,
 * with *child set, and 0 in the child); then the mounts and the hostname. */
int jail_ns_unshare(const struct jail_opts *o, pid_t *child, int *parent_watch, struct jail_err *e);
int jail_ns_mounts(const struct jail_opts *o, struct jail_err *e);
int jail_ns_forward(const struct jail_opts *o, pid_t child, pid_t expected_ppid);

/* jail_priv.c: capabilities, credentials, parent death, no_new_privs. */
int jail_priv_drop_bounding(struct jail_err *e);
int jail_priv_setids(const struct jail_opts *o, struct jail_err *e);
int jail_priv_verify(const struct jail_opts *o, bool root, struct jail_err *e);
/* parent_watch: the read end of a pipe the parent holds open (EOF = gone);
 * status_reader: a write end whose only reader is the parent (POLLERR = gone);
 * both -1: compare getppid() with expected_ppid. */
int jail_priv_parent(pid_t expected_ppid, int parent_watch, int status_reader, struct jail_err *e);
int jail_priv_caps(bool dropped_bounding, struct jail_err *e);

/* jail_seccomp.c: the deny-list filter, loaded last before execve. */
int jail_seccomp_load(struct jail_err *e);

/* jail_sys.c: raw system calls glibc does not wrap, kept in their own object
 * so unit tests can replace them with -Wl,--wrap. */
int jail_sys_capget(uint64_t *eff, uint64_t *prm, uint64_t *inh);
int jail_sys_capset_zero(void);
/* seccomp(SECCOMP_SET_MODE_FILTER) of prog; -1 with errno on failure. */
struct sock_fprog;
int jail_sys_seccomp(const struct sock_fprog *prog);

#endif
