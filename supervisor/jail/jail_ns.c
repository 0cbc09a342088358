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
 *   a blocking folder an empty read-only tmpfs over the topmost folder on the
 *                     way to DATA_DIR or to an --expose path that the
 *                     tenant's uid cannot search (a checkout in a 0700 /root)
 *   --expose PATH     bound back read-only at its own path when the tenant
 *                     could not reach it otherwise (below a blocking folder,
 *                     a hidden one or /tmp); left alone when it can
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
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

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

static int tmpfs(const char *target, const char *mode, int64_t size, unsigned long flags,
                 struct jail_err *e)
{
    char data[96];
    snprintf(data, sizeof data, "mode=%s,size=%lld", mode, (long long)size);
    if (mount("tenant-jail", target, "tmpfs", flags, data) < 0)
        return jail_errf(e, "mounts", "tmpfs on %s: %s", target, strerror(errno));
    return 0;
}

/* Whether the tenant's uid may search a folder. It has no supplementary
 * groups (the jail drops them), so owner, group and other bits decide. */
static bool searchable(const struct stat *st, uid_t uid, gid_t gid)
{
    mode_t bit = st->st_uid == uid ? S_IXUSR : st->st_gid == gid ? S_IXGRP : S_IXOTH;
    return (st->st_mode & bit) != 0;
}

/*
 * The topmost folder above path (path itself excluded) that the tenant's uid
 * cannot search, in the host's view: a 0700 home, a 0750 folder of another
 * group. Copies it into out and returns 1; returns 0 when every folder on the
 * way is searchable, -1 with errno on a failed stat.
 */
static int blocked_ancestor(const char *path, uid_t uid, gid_t gid, char *out, size_t n)
{
    char buf[PATH_MAX];
    struct stat st;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (stat("/", &st) < 0)
        return -1;
    if (!searchable(&st, uid, gid)) {
        errno = EACCES; /* nothing can be reached; never cover / */
        return -1;
    }
    for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (stat(buf, &st) < 0)
            return -1;
        if (!searchable(&st, uid, gid)) {
            snprintf(out, n, "%s", buf);
            return 1;
        }
        *p = '/';
    }
    return 0;
}

/* A path the worker must reach in its view, taken as a detached copy of the
 * host's mount before anything covers it, and bound back at the same path. */
struct bindback {
    char path[PATH_MAX];
    int fd;
    bool dir;
};

/* The jail's own tmpfs mounts (hidden folders, /tmp, /dev/shm, covers): the
 * only places where it may create a mount point. */
struct covers {
    const char *dir[JAIL_HIDE_MAX + JAIL_EXPOSE_MAX + 3];
    char own[JAIL_EXPOSE_MAX + 1][PATH_MAX];
    size_t n, n_own;
};

static bool covered(const struct covers *c, const char *path)
{
    for (size_t i = 0; i < c->n; i++)
        if (jail_path_within(path, c->dir[i]))
            return true;
    return false;
}

/* Clone path (recursively) as a detached mount with attr set on it. */
static int clone_tree(struct bindback *b, const char *path, uint64_t attr, struct jail_err *e)
{
    struct stat st;
    snprintf(b->path, sizeof b->path, "%s", path);
    b->fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (b->fd < 0)
        return jail_errf(e, "mounts", "open_tree %s: %s", path, strerror(errno));
    if (fstat(b->fd, &st) < 0)
        return jail_errf(e, "mounts", "%s: %s", path, strerror(errno));
    b->dir = S_ISDIR(st.st_mode);
    struct mount_attr a = {.attr_set = attr};
    if (mount_setattr(b->fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
        return jail_errf(e, "mounts", "mount attributes on %s: %s", path, strerror(errno));
    return 0;
}

/* Make the mount point of b when the covers hid it: folders 0755 on the way,
 * then an empty folder or file. Never creates anything outside a cover. */
static int mount_point(const struct covers *c, const struct bindback *b, struct jail_err *e)
{
    if (access(b->path, F_OK) == 0)
        return 0;
    if (!covered(c, b->path))
        return jail_errf(e, "mounts", "mount point %s: %s", b->path, strerror(errno));
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", b->path);
    *strrchr(parent, '/') = '\0';
    /* Folders are 0755 so the tenant can walk down to its data dir. */
    int r = parent[0] ? util_mkdir_p(parent, 0755) : 0;
    if (r == 0 && b->dir && mkdir(b->path, 0755) < 0 && errno != EEXIST)
        r = -errno;
    if (r < 0)
        return jail_errf(e, "mounts", "mount point %s: %s", b->path, strerror(-r));
    if (!b->dir) {
        int fd = open(b->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return jail_errf(e, "mounts", "mount point %s: %s", b->path, strerror(errno));
        close(fd);
    }
    return 0;
}

static int by_length(const void *a, const void *b)
{
    size_t la = strlen(((const struct bindback *)a)->path);
    size_t lb = strlen(((const struct bindback *)b)->path);
    return la < lb ? -1 : la > lb;
}

/*
 * Plan what must be bound back: the data dir always (read-write), and each
 * --expose path the tenant could not reach otherwise (read-only), with the
 * folders that block it. Paths are resolved first, so a symlink in the way
 * counts by where it leads.
 */
static int plan_bindbacks(const struct jail_opts *o, struct covers *c, struct bindback *bb,
                          size_t *nbb, struct jail_err *e)
{
    char blocked[PATH_MAX];
    int r;

    if ((r = blocked_ancestor(o->data_dir, o->uid, o->gid, blocked, sizeof blocked)) < 0)
        return jail_errf(e, "mounts", "%s: %s", o->data_dir, strerror(errno));
    if (r == 1)
        snprintf(c->own[c->n_own++], PATH_MAX, "%s", blocked);
    if (clone_tree(&bb[(*nbb)++], o->data_dir, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, e) < 0)
        return -1;

    for (size_t i = 0; i < o->n_expose; i++) {
        char real[PATH_MAX];
        if (!realpath(o->expose[i], real))
            return jail_errf(e, "mounts", "%s: %s", o->expose[i], strerror(errno));
        if ((r = blocked_ancestor(real, o->uid, o->gid, blocked, sizeof blocked)) < 0)
            return jail_errf(e, "mounts", "%s: %s", real, strerror(errno));
        bool hidden =
            r == 1 || jail_path_within(real, "/tmp") || jail_path_within(real, "/dev/shm");
        for (size_t h = 0; h < o->n_hide; h++)
            hidden = hidden || jail_path_within(real, o->hide[h]);
        if (!hidden)
            continue;
        for (size_t h = 0; h < o->n_hide; h++)
            if (jail_path_within(o->hide[h], real))
                return jail_errf(e, "mounts", "%s contains the hidden folder %s", real, o->hide[h]);
        if (r == 1)
            snprintf(c->own[c->n_own++], PATH_MAX, "%s", blocked);
        if (clone_tree(&bb[(*nbb)++], real,
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, e) < 0)
            return -1;
    }
    /* Shallow paths first, so a path bound inside another lands on top. */
    qsort(bb, *nbb, sizeof bb[0], by_length);
    return 0;
}

int jail_ns_mounts(const struct jail_opts *o, struct jail_err *e)
{
    int64_t tmp_size = o->tmp_size > 0 ? o->tmp_size : DEFAULT_TMP_SIZE;
    static struct covers c;
    static struct bindback bb[JAIL_EXPOSE_MAX + 1];
    size_t nbb = 0;
    int rc = -1;

    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < sizeof bb / sizeof bb[0]; i++)
        bb[i].fd = -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return jail_errf(e, "mounts", "making / private: %s", strerror(errno));

    /* Take detached copies of what must stay reachable now: the tmpfs mounts
     * below may cover their paths, and the read-only remount must not reach
     * the data dir. */
    if (plan_bindbacks(o, &c, bb, &nbb, e) < 0)
        goto out;

    for (size_t i = 0; i < o->n_hide; i++) {
        if (tmpfs(o->hide[i], "0755", 64 << 10, MS_NOSUID | MS_NODEV | MS_NOEXEC, e) < 0)
            goto out;
        c.dir[c.n++] = o->hide[i];
    }
    if (tmpfs("/tmp", "1777", tmp_size, MS_NOSUID | MS_NODEV, e) < 0)
        goto out;
    c.dir[c.n++] = "/tmp";
    bool shm = access("/dev/shm", F_OK) == 0;
    if (shm && tmpfs("/dev/shm", "1777", tmp_size, MS_NOSUID | MS_NODEV | MS_NOEXEC, e) < 0)
        goto out;
    if (shm)
        c.dir[c.n++] = "/dev/shm";
    /* A folder the tenant cannot search gets an empty cover, through which
     * only what is bound back below can be reached. */
    for (size_t i = 0; i < c.n_own; i++) {
        if (covered(&c, c.own[i]))
            continue;
        if (tmpfs(c.own[i], "0755", 64 << 10, MS_NOSUID | MS_NODEV | MS_NOEXEC, e) < 0)
            goto out;
        c.dir[c.n++] = c.own[i];
    }
    /* The covers are still writable: make the mount points they hid. */
    for (size_t i = 0; i < nbb; i++)
        if (mount_point(&c, &bb[i], e) < 0)
            goto out;

    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0) {
        jail_errf(e, "mounts", "read-only /: %s", strerror(errno));
        goto out;
    }
    struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/tmp", 0, &rw, sizeof rw) < 0 ||
        (shm && mount_setattr(AT_FDCWD, "/dev/shm", 0, &rw, sizeof rw) < 0)) {
        jail_errf(e, "mounts", "writable /tmp: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < nbb; i++) {
        if (move_mount(bb[i].fd, "", AT_FDCWD, bb[i].path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
            jail_errf(e, "mounts", "binding %s back: %s", bb[i].path, strerror(errno));
            goto out;
        }
    }
    if ((o->ns & JAIL_NS_PID) &&
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        jail_errf(e, "mounts", "/proc for the pid namespace: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nbb; i++)
        if (bb[i].fd >= 0)
            close(bb[i].fd);
    return rc;
}
