/*
 * jail.h — tenant-jail, the chain-loader that applies one tenant's isolation
 * and then execs the worker. This header is the contract between tenantd
 * (which builds the command line with jail_build_argv) and the jail (which
 * parses it with jail_parse_args and applies it with jail_run).
 *
 *   tenant-jail [options] -- COMMAND [ARGS...]
 *
 * The options, their checks and the struct they fill are in common/jail_args.h:
 * tenantd builds the command line with the same module the jail parses it with.
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

#include "exitcode.h"  /* EXITCODE_JAIL: a step failed; nothing of the worker ran */
#include "jail_args.h" /* struct jail_opts, the command line */

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

/*
 * Apply o, step by step, then execve o->argv with the current environment
 * (plus LISTEN_PID, and TMPDIR/SQLITE_TMPDIR with a mount namespace).
 * Returns only on failure, with EXITCODE_JAIL after reporting the step
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

/* jail_bpf.c: cgroup-bpf address rules on the jail's v2 cgroup (--net-addr). */
int jail_bpf_apply(const struct jail_opts *o, struct jail_err *e);

/* jail_net.c: Landlock TCP bind/connect rules (--net-rules); a no-op without. */
int jail_net_apply(const struct jail_opts *o, struct jail_err *e);

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
