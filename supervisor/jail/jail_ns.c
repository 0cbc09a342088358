/*
 * jail_ns.c — the jail's namespaces: unshare them, fork once for a pid
 * namespace (the child becomes pid 1 and goes on; the parent stays as the
 * signal forwarder and reaper described in jail.h), and build the tenant's
 * view of the file system in the new mount namespace:
 *
 *   /                 read-only, recursively (mount_setattr AT_RECURSIVE)
 *   --hide DIR        an empty read-only tmpfs over it (other tenants' data,
 *                     tenantd's run dir with the admin token)
 *   DATA_DIR          the tenant's own data dir, bound back read-write
 *                     (nosuid, nodev), also when it lies below a hidden DIR
 *   /tmp, /dev/shm    private tmpfs, mode 1777, size --tmp-size
 *   /proc             a fresh proc of the new pid namespace (pid ns only)
 *
 * Propagation is made private first so nothing done here reaches the host.
 *
 * What it does not do: user namespaces (the jail is root and drops to a
 * plain uid instead), network setup (a net namespace has only a down
 * loopback: the worker accepts on its passed socket and connects nowhere),
 * pivot_root (the host's root stays the root, read-only).
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_TMP_SIZE (64ll << 20)

/* The signals the forwarder passes on to the worker. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void forward_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(set, forwarded[i]);
    sigaddset(set, SIGCHLD);
}

static void ns_list(unsigned ns, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s%s", ns & JAIL_NS_MOUNT ? "mount " : "",
             ns & JAIL_NS_PID ? "pid " : "", ns & JAIL_NS_IPC ? "ipc " : "",
             ns & JAIL_NS_UTS ? "uts " : "", ns & JAIL_NS_NET ? "net " : "");
    size_t l = strlen(buf);
    if (l)
        buf[l - 1] = '\0';
}

int jail_ns_unshare(const struct jail_opts *o, pid_t *child, int *parent_watch, struct jail_err *e)
{
    int flags = 0;
    if (o->ns & JAIL_NS_MOUNT)
        flags |= CLONE_NEWNS;
    /* --pidns-ready: tenantd created this process in its pid namespace. */
    if ((o->ns & JAIL_NS_PID) && !o->pidns_ready)
        flags |= CLONE_NEWPID;
    if (o->ns & JAIL_NS_IPC)
        flags |= CLONE_NEWIPC;
    if (o->ns & JAIL_NS_UTS)
        flags |= CLONE_NEWUTS;
    if (o->ns & JAIL_NS_NET)
        flags |= CLONE_NEWNET;
    if (unshare(flags) < 0) {
        char list[64];
        ns_list(o->ns, list, sizeof list);
        return jail_errf(e, "namespaces", "unshare(%s): %s", list, strerror(errno));
    }
    if (!(o->ns & JAIL_NS_PID) || o->pidns_ready)
        return 0;

    /* Block the forwarded signals before the fork, so none is lost between
     * the fork and the forwarder's sigwaitinfo(); the child restores them. */
    sigset_t set, old;
    forward_set(&set);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
        return jail_errf(e, "namespaces", "sigprocmask: %s", strerror(errno));
    /* SIGCHLD must not be ignored (inherited), or the child is reaped for
     * us and its status lost. */
    signal(SIGCHLD, SIG_DFL);
    int watch[2];
    if (pipe2(watch, O_CLOEXEC) < 0)
        return jail_errf(e, "namespaces", "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(watch[0]);
        close(watch[1]);
        return jail_errf(e, "fork", "fork into the pid namespace: %s", strerror(saved));
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(watch[1]);
        *parent_watch = watch[0];
        return 0;
    }
    close(watch[0]);
    *child = pid;
    return 1;
}

/* Die the way the child died, so tenantd sees the worker's own end. */
static int die_like(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    int sig = WTERMSIG(status);
    /* A core-dumping signal must not leave a core of the forwarder. */
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    kill(getpid(), sig);
    return 128 + sig; /* not reached for a fatal signal */
}

int jail_ns_forward(const struct jail_opts *o, pid_t child, pid_t expected_ppid)
{
    /* The forwarder holds nothing of the worker's: the status fd must reach
     * EOF when the child execs, and the sockets belong to the worker. */
    if (o->status_fd >= 0)
        close(o->status_fd);
    for (int fd = 3; fd < 3 + o->listen_fds; fd++)
        close(fd);
    /* The forwarder dies with tenantd, and the worker with the forwarder. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != expected_ppid) {
        kill(child, SIGKILL);
        fprintf(stderr, "tenant-jail: [%s] parent: tenantd (pid %d) is gone\n", o->id,
                (int)expected_ppid);
    }
    sigset_t set;
    forward_set(&set);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0)
            continue; /* EINTR from a stop/continue */
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t w;
        while ((w = waitpid(child, &status, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (w == child && (WIFEXITED(status) || WIFSIGNALED(status)))
            return die_like(status);
        if (w < 0)
            return EXITCODE_JAIL; /* ECHILD: cannot happen, fail closed */
    }
}

/* mkdir -p for a mount point inside a fresh tmpfs; folders are 0755 so the
 * tenant can walk down to its data dir. */
static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int tmpfs(const char *target, const char *mode, int64_t size, unsigned long flags,
                 struct jail_err *e)
{
    char data[96];
    snprintf(data, sizeof data, "mode=%s,size=%lld", mode, (long long)size);
    if (mount("tenant-jail", target, "tmpfs", flags, data) < 0)
        return jail_errf(e, "mounts", "tmpfs on %s: %s", target, strerror(errno));
    return 0;
}

int jail_ns_mounts(const struct jail_opts *o, struct jail_err *e)
{
    int64_t tmp_size = o->tmp_size > 0 ? o->tmp_size : DEFAULT_TMP_SIZE;
    int dfd = -1;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return jail_errf(e, "mounts", "making / private: %s", strerror(errno));

    /* Take a detached copy of the data dir now: the --hide tmpfs may cover
     * its path, and the read-only remount below must not reach it. */
    dfd = open_tree(AT_FDCWD, o->data_dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (dfd < 0)
        return jail_errf(e, "mounts", "open_tree %s: %s", o->data_dir, strerror(errno));
    struct mount_attr dattr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (mount_setattr(dfd, "", AT_EMPTY_PATH, &dattr, sizeof dattr) < 0) {
        jail_errf(e, "mounts", "nosuid,nodev on %s: %s", o->data_dir, strerror(errno));
        goto fail;
    }

    for (size_t i = 0; i < o->n_hide; i++)
        if (tmpfs(o->hide[i], "0755", 64 << 10, MS_NOSUID | MS_NODEV | MS_NOEXEC, e) < 0)
            goto fail;
    if (tmpfs("/tmp", "1777", tmp_size, MS_NOSUID | MS_NODEV, e) < 0)
        goto fail;
    bool shm = access("/dev/shm", F_OK) == 0;
    if (shm && tmpfs("/dev/shm", "1777", tmp_size, MS_NOSUID | MS_NODEV | MS_NOEXEC, e) < 0)
        goto fail;
    /* A hidden parent leaves no folder to mount the data dir on: make one in
     * the fresh tmpfs while it is still writable. */
    if (access(o->data_dir, F_OK) < 0 && mkdir_p(o->data_dir) < 0) {
        jail_errf(e, "mounts", "mount point %s: %s", o->data_dir, strerror(errno));
        goto fail;
    }

    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0) {
        jail_errf(e, "mounts", "read-only /: %s", strerror(errno));
        goto fail;
    }
    struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/tmp", 0, &rw, sizeof rw) < 0 ||
        (shm && mount_setattr(AT_FDCWD, "/dev/shm", 0, &rw, sizeof rw) < 0)) {
        jail_errf(e, "mounts", "writable /tmp: %s", strerror(errno));
        goto fail;
    }
    if (move_mount(dfd, "", AT_FDCWD, o->data_dir, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
        jail_errf(e, "mounts", "binding %s back: %s", o->data_dir, strerror(errno));
        goto fail;
    }
    close(dfd);
    dfd = -1;
    if ((o->ns & JAIL_NS_PID) &&
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return jail_errf(e, "mounts", "/proc for the pid namespace: %s", strerror(errno));
    return 0;
fail:
    if (dfd >= 0)
        close(dfd);
    return -1;
}
