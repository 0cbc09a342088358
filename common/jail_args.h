/*
 * jail_args.h — the command line of tenant-jail, shared by the two programs
 * that use it: tenantd builds it (jail_build_argv, in spawn.c) and the jail
 * parses it (jail_parse_args, in jail_main.c). One module, linked by both, so
 * what tenantd writes is by construction what the jail reads; the round trip
 * is unit-tested (tests/unit/jail/args.c).
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
 *                         exits EXITCODE_JAIL (111, exitcode.h). EOF without
 *                         data = the exec succeeded.
 *   --rlimit-nofile N     RLIMIT_NOFILE soft = hard = N
 *   --rlimit-fsize BYTES  RLIMIT_FSIZE soft = hard (suffixes K M G)
 *   --rlimit-nproc N      RLIMIT_NPROC soft = hard = N (counts per uid!)
 *   --no-core             RLIMIT_CORE = 0
 *   --cgroup NAME         join <parent>/<NAME> in every usable hierarchy, with
 *   --cgroup-parent SPEC  "self" (the jail's own cgroup, i.e. tenantd's, since
 *                         tenantd forks it), "self/REL" or "/ABS" (from the
 *                         hierarchy's root). Default "self/tenants".
 *   --cgroup-gen NAME     the worker joins <parent>/<cgroup>/<NAME>, a child of
 *                         the tenant's cgroup that holds no limit of its own:
 *                         the limits below are on <parent>/<cgroup>, shared by
 *                         every generation of the worker (two during an
 *                         overlapping restart). Only the child must be empty.
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
 *   --net-rules LIST      comma list of bind,connect: the TCP operations the
 *                         jail restricts with Landlock (ABI 4 or later; the
 *                         jail fails closed on an older kernel). A restricted
 *                         operation is allowed only on the ports given below;
 *                         with no port given, it is denied on every port.
 *   --net-bind PORT       (repeatable, needs bind in --net-rules) a TCP port
 *                         the worker may bind (its own, for socket = own).
 *   --net-connect PORT    (repeatable, needs connect in --net-rules) a TCP
 *                         port the worker may connect to, on any address.
 *   --net-addr MODE       local or outbound: cgroup-bpf address rules on the
 *                         worker's cgroup v2 group (jail_bpf.c; needs --cgroup
 *                         and a v2 hierarchy, fails closed without): bind only
 *                         127.0.0.1 (IPv6: ::1); TCP connect to 127.0.0.0/8
 *                         only to the --net-connect ports; elsewhere: allowed
 *                         for outbound, refused for local.
 *   --pidns-ready         the jail was created as pid 1 of a new pid namespace
 *                         (tenantd does this with clone(CLONE_NEWPID)): it needs
 *                         pid in --ns and --status-fd, checks getpid() == 1,
 *                         skips its own unshare+fork, still mounts a fresh
 *                         /proc, and execs the worker, which stays pid 1.
 *
 * What the jail does with the options, and in which order, is in
 * supervisor/jail/jail.h and jail_run.c. Everything here is pure: no I/O.
 */
#ifndef TENANTD_JAIL_ARGS_H
#define TENANTD_JAIL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_ID_MAX 32
#define JAIL_HIDE_MAX 8
#define JAIL_EXPOSE_MAX 8
#define JAIL_NET_BIND_MAX 4
#define JAIL_NET_CONNECT_MAX 32
#define JAIL_CGROUP_PARENT_DEFAULT "self/tenants"

enum jail_ns {
    JAIL_NS_MOUNT = 1u << 0,
    JAIL_NS_PID = 1u << 1,
    JAIL_NS_IPC = 1u << 2,
    JAIL_NS_UTS = 1u << 3,
    JAIL_NS_NET = 1u << 4,
};

/* --net-rules bits: the TCP operations Landlock restricts. */
enum jail_net_rule {
    JAIL_NET_BIND = 1u << 0,
    JAIL_NET_CONNECT = 1u << 1,
};

/* --net-addr values. */
enum jail_net_addr { JAIL_NET_ADDR_NONE = 0, JAIL_NET_ADDR_LOCAL, JAIL_NET_ADDR_OUTBOUND };

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
    const char *cgroup_gen;    /* NULL = join <parent>/<cgroup> itself */
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

    unsigned net_rules; /* enum jail_net_rule bits; 0 = no Landlock network step */
    uint16_t net_bind[JAIL_NET_BIND_MAX];
    size_t n_net_bind;
    uint16_t net_connect[JAIL_NET_CONNECT_MAX];
    size_t n_net_connect;
    enum jail_net_addr net_addr; /* NONE = no cgroup-bpf address rules */

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

/* True when path is dir or lies below it ("/a/b" is within "/a" and "/a/",
 * not within "/ab"). Both are absolute; no I/O. Used by the parser (an
 * --expose must not contain a --hide folder) and by the jail's mount step. */
bool jail_path_within(const char *path, const char *dir);

#endif
