/*
 * jail_run.c — the jail's step sequence: one tenant's isolation, applied in a
 * fixed, short, linear order that fails closed, then execve of the worker.
 *
 * The order, and why:
 *   1. status fd     made close-on-exec first, so every later failure can be
 *                    reported and a successful exec shows as EOF.
 *   2. validate      everything that can be checked before changing anything:
 *                    root needs --uid/--gid (a worker never runs as root); not
 *                    root, --uid/--gid must be the current ids and namespaces
 *                    are refused; the data dir exists (root: owned by --uid,
 *                    mode 0700); the passed fds are open; LISTEN_FDS agrees.
 *   3. fds           close every inherited fd but 0-2, the passed sockets and
 *                    the status fd, before anything else opens files, so no
 *                    stray descriptor of tenantd survives into the worker;
 *                    signal dispositions and the mask are reset to defaults.
 *   4. cgroup        create the tenant's cgroup, write the limits and move the
 *                    jail in: from here on everything (including the forked
 *                    pid-1 child and the worker) is accounted and limited.
 *   4b. net-addr     cgroup-bpf address rules on that cgroup (--net-addr,
 *                    jail_bpf.c), attached while still root.
 *   5. rlimits       while still root, so a hard limit can be raised or lowered.
 *   6. namespaces    unshare; with a pid namespace, fork: the child goes on,
 *                    the parent becomes the forwarder (jail_ns.c) — unless
 *                    --pidns-ready says tenantd already made the jail pid 1
 *                    of a new pid namespace.
 *   7. mounts        private propagation, read-only root, tmpfs over the
 *                    hidden folders, private /tmp and /dev/shm, the data dir
 *                    bound back read-write, a fresh /proc. Needs root.
 *   8. hostname      the tenant id, in the new uts namespace.
 *   9. chdir         into the data dir as seen in the new mount namespace
 *                    (never through an fd opened before: that would reach the
 *                    old, writable mount).
 *  10. capabilities  the bounding set is emptied now, because that needs
 *                    CAP_SETPCAP, which the uid change takes away.
 *  11. setgroups, setresgid, setresuid  in that order: groups and gid can only
 *                    be changed while the uid is still 0.
 *  12. verify        real, effective and saved ids are the tenant's, no
 *                    supplementary groups, and setuid(0) fails.
 *  13. pdeathsig     after the uid change, which clears it; then check the
 *                    parent is still the expected one (it may have died
 *                    before the signal was armed).
 *  14. no_new_privs  so exec can never gain privileges (setuid files, file
 *                    capabilities), and so seccomp can be loaded unprivileged.
 *  15. capabilities  clear the ambient set, zero the rest, verify all are 0.
 *  16. landlock      the TCP port rules (--net-rules, jail_net.c): needs
 *                    no_new_privs; irrevocable for the worker and its children.
 *  17. seccomp       last, so the jail's own steps are not filtered.
 *  18. environment   LISTEN_PID (own pid, in the pid namespace), TMPDIR.
 *  19. exec          execve of the command.
 * Any failure: "<step>: <reason>" to the status fd and stderr, exit 111.
 * Nothing is logged and carried on.
 *
 * What it does not do: create the data dir or the cgroup parent's policy
 * (tenantd does), choose uids (tenantd stores them), or supervise the worker.
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int jail_errf(struct jail_err *e, const char *step, const char *fmt, ...)
{
    va_list ap;
    e->step = step;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* Write all of buf, retrying on EINTR and short writes; errors are ignored
 * because there is nobody left to tell. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static void report(const struct jail_opts *o, const struct jail_err *e)
{
    char line[700];
    int n = snprintf(line, sizeof line, "%s: %s", e->step ? e->step : "jail", e->reason);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (o->status_fd >= 0)
        write_all(o->status_fd, line, (size_t)n);
    char err[800];
    int m = snprintf(err, sizeof err, "tenant-jail: [%s] %s\n", o->id[0] ? o->id : "?", line);
    if (m > 0)
        write_all(STDERR_FILENO, err, (size_t)m < sizeof err ? (size_t)m : sizeof err - 1);
}

static int step_status_fd(const struct jail_opts *o, struct jail_err *e)
{
    if (o->status_fd < 0)
        return 0;
    int fl = fcntl(o->status_fd, F_GETFD);
    if (fl < 0 || fcntl(o->status_fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return jail_errf(e, "status-fd", "fd %d is not open: %s", o->status_fd, strerror(errno));
    return 0;
}

static int check_data_dir(const struct jail_opts *o, bool root, struct jail_err *e)
{
    int fd = open(o->data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return jail_errf(e, "data-dir", "%s: %s", o->data_dir, strerror(errno));
    struct stat st;
    int r = fstat(fd, &st);
    int saved = errno;
    close(fd);
    if (r < 0)
        return jail_errf(e, "data-dir", "%s: %s", o->data_dir, strerror(saved));
    if (!root)
        return 0;
    if (st.st_uid != o->uid)
        return jail_errf(e, "data-dir", "%s is owned by uid %u, not by the tenant's uid %u",
                         o->data_dir, (unsigned)st.st_uid, (unsigned)o->uid);
    if ((st.st_mode & 07777) != 0700)
        return jail_errf(e, "data-dir", "%s has mode %04o, not 0700", o->data_dir,
                         (unsigned)(st.st_mode & 07777));
    return 0;
}

static int step_validate(const struct jail_opts *o, bool root, struct jail_err *e)
{
    if (root && !o->has_ids)
        return jail_errf(e, "validate",
                         "running as root needs --uid and --gid: a worker never "
                         "runs as root");
    if (!root && o->has_ids && (o->uid != getuid() || o->gid != getgid()))
        return jail_errf(
            e, "validate", "not root: --uid %u --gid %u cannot be applied (running as %u:%u)",
            (unsigned)o->uid, (unsigned)o->gid, (unsigned)getuid(), (unsigned)getgid());
    if (!root && o->ns)
        return jail_errf(e, "validate", "not root: namespaces (--ns) cannot be created");
    if (o->pidns_ready && getpid() != 1)
        return jail_errf(e, "validate",
                         "--pidns-ready but the jail is pid %d, not pid 1 of a new pid namespace",
                         (int)getpid());
    if (o->data_dir && check_data_dir(o, root, e) < 0)
        return -1;
    for (int fd = 3; fd < 3 + o->listen_fds; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            return jail_errf(e, "validate", "listening fd %d is not open", fd);
    const char *lf = getenv("LISTEN_FDS");
    if (lf) {
        char want[16];
        snprintf(want, sizeof want, "%d", o->listen_fds);
        if (strcmp(lf, want) != 0)
            return jail_errf(e, "validate", "LISTEN_FDS=%s but --listen-fds %d", lf, o->listen_fds);
    }
    return 0;
}

static int step_fds(const struct jail_opts *o, struct jail_err *e)
{
    unsigned first = 3u + (unsigned)o->listen_fds;
    int r;
    if (o->status_fd >= 0 && (unsigned)o->status_fd >= first) {
        unsigned s = (unsigned)o->status_fd;
        r = s > first ? close_range(first, s - 1, 0) : 0;
        if (r == 0)
            r = close_range(s + 1, ~0u, 0);
    } else {
        r = close_range(first, ~0u, 0);
    }
    if (r < 0)
        return jail_errf(e, "fds", "close_range: %s", strerror(errno));
    return 0;
}

/* Start the worker with default signal dispositions and an empty mask: an
 * ignored SIGPIPE or a blocked SIGTERM inherited from tenantd is not the
 * worker's to keep. */
static int step_signals(struct jail_err *e)
{
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || (sig > 31 && sig < SIGRTMIN))
            continue;
        if (signal(sig, SIG_DFL) == SIG_ERR && sig <= 31)
            return jail_errf(e, "signals", "signal %d: %s", sig, strerror(errno));
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return jail_errf(e, "signals", "sigprocmask: %s", strerror(errno));
    return 0;
}

static int set_limit(int res, const char *name, int64_t v, struct jail_err *e)
{
    struct rlimit rl = {.rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v};
    if (setrlimit(res, &rl) < 0)
        return jail_errf(e, "rlimit", "%s %lld: %s", name, (long long)v, strerror(errno));
    return 0;
}

static int step_rlimits(const struct jail_opts *o, struct jail_err *e)
{
    if (o->rlimit_nofile >= 0 && set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", o->rlimit_nofile, e))
        return -1;
    if (o->rlimit_fsize >= 0 && set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", o->rlimit_fsize, e))
        return -1;
    if (o->rlimit_nproc >= 0 && set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", o->rlimit_nproc, e))
        return -1;
    if (o->no_core && set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, e))
        return -1;
    return 0;
}

static int step_environment(const struct jail_opts *o, struct jail_err *e)
{
    if (getenv("LISTEN_FDS")) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if (setenv("LISTEN_PID", pid, 1) < 0)
            return jail_errf(e, "environment", "LISTEN_PID: %s", strerror(errno));
    }
    if (o->ns & JAIL_NS_MOUNT) {
        if (setenv("TMPDIR", "/tmp", 1) < 0 || setenv("SQLITE_TMPDIR", "/tmp", 1) < 0)
            return jail_errf(e, "environment", "TMPDIR: %s", strerror(errno));
    }
#ifdef JAIL_ASAN
    /* An ASan-built worker under seccomp cannot run LeakSanitizer (ptrace is
     * denied) and would exit 1 instead of its own code. The last occurrence
     * of an option wins, so appending keeps the operator's other options. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    int n = snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "",
                     asan && asan[0] ? ":" : "");
    if (n < 0 || (size_t)n >= sizeof opts || setenv("ASAN_OPTIONS", opts, 1) < 0)
        return jail_errf(e, "environment", "ASAN_OPTIONS: too long or %s", strerror(errno));
#endif
    return 0;
}

int jail_run(const struct jail_opts *o)
{
    struct jail_err e = {0};
    bool root = geteuid() == 0;
    pid_t expected_ppid = o->parent_pid > 0 ? o->parent_pid : getppid();
    int watch = -1;
    pid_t child = 0;

    if (step_status_fd(o, &e) < 0 || step_validate(o, root, &e) < 0 || step_fds(o, &e) < 0 ||
        step_signals(&e) < 0)
        goto fail;
    if (o->cgroup && jail_cgroup_apply(o, &e) < 0)
        goto fail;
    if (jail_bpf_apply(o, &e) < 0) /* needs root and the cgroup just joined */
        goto fail;
    if (step_rlimits(o, &e) < 0)
        goto fail;
    if (o->ns) {
        int r = jail_ns_unshare(o, &child, &watch, &e);
        if (r < 0)
            goto fail;
        if (r == 1)
            return jail_ns_forward(o, child, expected_ppid);
    }
    if ((o->ns & JAIL_NS_MOUNT) && jail_ns_mounts(o, &e) < 0)
        goto fail;
    if ((o->ns & JAIL_NS_UTS) && sethostname(o->id, strlen(o->id)) < 0) {
        jail_errf(&e, "hostname", "sethostname: %s", strerror(errno));
        goto fail;
    }
    if (o->data_dir && chdir(o->data_dir) < 0) {
        jail_errf(&e, "chdir", "%s: %s", o->data_dir, strerror(errno));
        goto fail;
    }
    bool dropped_bounding = root && o->has_ids;
    if (dropped_bounding && (jail_priv_drop_bounding(&e) < 0 || jail_priv_setids(o, &e) < 0))
        goto fail;
    if (jail_priv_verify(o, root, &e) < 0 ||
        jail_priv_parent(expected_ppid, watch, o->pidns_ready ? o->status_fd : -1, &e) < 0)
        goto fail;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        jail_errf(&e, "no_new_privs", "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto fail;
    }
    if (jail_priv_caps(dropped_bounding, &e) < 0 || jail_net_apply(o, &e) < 0 ||
        step_environment(o, &e) < 0)
        goto fail;
    if (o->seccomp && jail_seccomp_load(&e) < 0)
        goto fail;
    execve(o->argv[0], o->argv, environ);
    jail_errf(&e, "exec", "%s: %s", o->argv[0], strerror(errno));
fail:
    report(o, &e);
    return EXITCODE_JAIL;
}
