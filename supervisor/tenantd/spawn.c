/*
 * spawn.c — see spawn.h. Everything the child needs (argv, environment, the
 * error message) is built before vfork(), because between vfork() and
 * execve() only async-signal-safe calls on the child's own stack are
 * allowed: libuv may run threads, and the child shares tenantd's memory.
 */
#include "spawn.h"

#include "exitcode.h"
#include "jail_args.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Move fd above the fixed child layout so dup2() onto 0..4 never clobbers a
 * source that happens to sit there. Async-signal-safe. */
static int child_high(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 16);
}

__attribute__((noreturn)) static void child_fail(int status_fd, const char *msg, size_t len,
                                                 int err)
{
    char num[16];
    int i = (int)sizeof num;
    unsigned v = (unsigned)err;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    if (status_fd >= 0) {
        ssize_t w = write(status_fd, msg, len);
        w = write(status_fd, num + i, sizeof num - (size_t)i);
        (void)w;
    }
    _exit(EXITCODE_JAIL);
}

/* What the child needs, prepared by the parent: the child reads it only. */
struct child {
    const char *jail;
    const char **argv;
    char *const *env;
    int status_w, out_w, err_w, nul, listen_fd;
    int status_child_fd;
    const char *errmsg;
    size_t errlen;
};

/* The child's side, between vfork() and execve(): system calls only. Not
 * instrumented by ASan: with clone() it runs on spawn_stack, and ASan's stack
 * bookkeeping must not poison that shared memory behind the parent's back. */
__attribute__((noreturn, no_sanitize("address"))) static void child_run(const struct child *c)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int st = child_high(c->status_w);
    int o = child_high(c->out_w);
    int e = child_high(c->err_w);
    int n = child_high(c->nul);
    int l = c->listen_fd >= 0 ? child_high(c->listen_fd) : -1;
    if (st < 0 || o < 0 || e < 0 || n < 0 || (c->listen_fd >= 0 && l < 0))
        child_fail(st >= 0 ? st : c->status_w, c->errmsg, c->errlen, errno);
    if (dup2(n, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || (l >= 0 && dup2(l, 3) < 0) ||
        dup2(st, c->status_child_fd) < 0)
        child_fail(st, c->errmsg, c->errlen, errno);
    close_range((unsigned)c->status_child_fd + 1, ~0U, 0);
    execve(c->jail, (char *const *)c->argv, c->env);
    child_fail(c->status_child_fd, c->errmsg, c->errlen, errno);
}

/* Kept apart so that no variable of spawn_worker lives across vfork(). */
static pid_t vfork_exec(const struct child *c)
{
    pid_t pid = vfork();
    if (pid == 0)
        child_run(c);
    return pid;
}

/* The stack of a clone()d child. It shares tenantd's memory like a vfork
 * child, but starts on a stack of its own (clone() needs one), and the parent
 * is suspended until it execs or exits, so one stack serves every spawn; all
 * spawns happen on the loop thread. */
#define SPAWN_STACK_SIZE (64 * 1024)
static _Alignas(64) unsigned char spawn_stack[SPAWN_STACK_SIZE];

__attribute__((no_sanitize("address"))) static int clone_entry(void *arg)
{
    child_run(arg);
}

/* A new pid namespace whose pid 1 is the child: what vfork() does, plus
 * CLONE_NEWPID, and the pidfd from the same call. */
static pid_t clone_exec(const struct child *c, int *pidfd)
{
    return clone(clone_entry, spawn_stack + sizeof spawn_stack,
                 CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_PIDFD | SIGCHLD, (void *)c, pidfd);
}

int spawn_worker(const struct spawn_args *a, struct spawn_result *r)
{
    int rc = 0;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, stp[2] = {-1, -1};
    int nul = -1;
    char **argv = NULL;
    char errmsg[512];
    int nlisten = a->listen_fd >= 0 ? 1 : 0;
    int status_child_fd = 3 + nlisten;

    memset(r, 0, sizeof *r);
    r->pidfd = r->status_fd = r->out_fd = r->err_fd = -1;

    /* The fd layout is this module's business, so it fills those options. */
    struct jail_opts o = *a->jail_opts;
    o.listen_fds = nlisten;
    o.status_fd = status_child_fd;
    o.parent_pid = getpid();
    o.pidns_ready = a->new_pidns;
    rc = jail_build_argv(&o, a->jail, &argv, r->error, sizeof r->error);
    if (rc < 0)
        return rc;
    int elen = snprintf(errmsg, sizeof errmsg, "exec %s: errno ", a->jail);
    if (elen < 0 || elen >= (int)sizeof errmsg)
        elen = (int)strlen(errmsg);

    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(stp, O_CLOEXEC) < 0) {
        rc = -errno;
        goto cleanup;
    }
    nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0) {
        rc = -errno;
        goto cleanup;
    }
    /* Buffered stdio would otherwise be flushed twice, once by each process. */
    fflush(stdout);
    fflush(stderr);

    /* vfork: the child borrows tenantd's memory until it execs, so the cost
     * does not grow with tenantd's size (a thousand tenants make it tens of
     * MiB, and fork would copy its page tables for every start). The child
     * only makes system calls on its own stack and never returns. Signals
     * stay blocked until the child has reset every handler, so none of
     * tenantd's handlers (libuv's signal pipe) can run in the child. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    struct child c = {
        .jail = a->jail,
        .argv = (const char **)argv,
        .env = a->env,
        .status_w = stp[1],
        .out_w = outp[1],
        .err_w = errp[1],
        .nul = nul,
        .listen_fd = nlisten ? a->listen_fd : -1,
        .status_child_fd = status_child_fd,
        .errmsg = errmsg,
        .errlen = (size_t)elen,
    };
    int pidfd = -1;
    pid_t pid = a->new_pidns ? clone_exec(&c, &pidfd) : vfork_exec(&c);
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        rc = -fork_errno;
        goto cleanup;
    }

    if (pidfd < 0)
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        rc = -errno;
        /* Without a pidfd we cannot watch it: take it down and reap it now. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto cleanup;
    }
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    r->pid = pid;
    r->pidfd = pidfd;
    r->status_fd = stp[0];
    r->out_fd = outp[0];
    r->err_fd = errp[0];
    stp[0] = outp[0] = errp[0] = -1;
    fcntl(r->status_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
cleanup:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (stp[i] >= 0)
            close(stp[i]);
    }
    if (nul >= 0)
        close(nul);
    free(argv);
    return rc;
}

int spawn_reap(int pidfd, int *code, int *sig)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
        return -errno;
    if (si.si_pid == 0)
        return -EAGAIN;
    *code = -1;
    *sig = 0;
    if (si.si_code == CLD_EXITED)
        *code = si.si_status;
    else
        *sig = si.si_status;
    return 0;
}

size_t spawn_read_status(int fd, char *buf, size_t n)
{
    size_t len = 0;
    while (len + 1 < n) {
        ssize_t got = read(fd, buf + len, n - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    return len;
}

int spawn_prepare_dir(const char *dir, bool chown_it, uid_t uid, gid_t gid)
{
    /* The parents 0755: the tenants must traverse them. */
    int rc = util_mkdir_p_modes(dir, 0755, 0700);
    if (rc < 0)
        return rc;
    /* O_NOFOLLOW: a symlink planted in place of the folder must not make us
     * chown or chmod whatever it points to. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0700) < 0 || (chown_it && fchown(fd, uid, gid) < 0))
        rc = -errno;
    close(fd);
    return rc;
}

int spawn_secret(const char *data_dir, bool chown_it, uid_t uid, gid_t gid, char *out, size_t n)
{
    char path[PATH_MAX];
    int rc = 0;
    if (snprintf(path, sizeof path, "%s/secret", data_dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    /* The tenant owns its data dir and could put a FIFO or a device where the
     * secret belongs: open without blocking and read regular files only, so
     * nothing a tenant does can stall tenantd's loop. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        ssize_t got = -1;
        if (fstat(fd, &st) < 0)
            rc = -errno;
        else if (!S_ISREG(st.st_mode))
            rc = -EINVAL;
        else if ((got = read(fd, out, n - 1)) < 0)
            rc = -errno;
        close(fd);
        if (rc < 0)
            return rc;
        size_t len = (size_t)got;
        while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
            len--;
        out[len] = '\0';
        if (len >= 16)
            return 0;
        /* An empty or truncated secret is replaced, as if it were missing. */
    } else if (errno != ENOENT) {
        return -errno;
    }

    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    if (n < sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL))
        return -ENOSPC;
    sodium_bin2base64(out, n, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof raw);

    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* A fresh file only: whatever the tenant left under this name goes first,
     * and O_EXCL refuses anything that appears in between. */
    if (unlink(tmp) < 0 && errno != ENOENT)
        return -errno;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(out);
    if (write(fd, out, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        (chown_it && fchown(fd, uid, gid) < 0) || fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* The interpreter a script names on its "#!" line, when it is an absolute
 * path; "" otherwise (a binary, an unreadable file, "#!python"). */
static void shebang_interpreter(const char *program, char *out, size_t n)
{
    char buf[256];
    out[0] = '\0';
    int fd = open(program, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    ssize_t r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf - 1) : -1;
    close(fd);
    if (r < 3 || buf[0] != '#' || buf[1] != '!')
        return;
    buf[r] = '\0';
    char *p = buf + 2;
    p += strspn(p, " \t");
    size_t len = strcspn(p, " \t\r\n");
    if (p[0] == '/' && len < n && p[len] != '\0') {
        memcpy(out, p, len);
        out[len] = '\0';
    }
}

void spawn_fs_opts(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                   struct jail_opts *o)
{
    o->hide[o->n_hide++] = g->data_dir;
    o->hide[o->n_hide++] = g->log_dir;
    o->hide[o->n_hide++] = g->run_dir;
    spawn_hide_config(g, program, p, o);
    spawn_expose_flags(g, p, o);
    o->expose[o->n_expose++] = program;
    shebang_interpreter(program, p->interpreter, sizeof p->interpreter);
    if (p->interpreter[0])
        o->expose[o->n_expose++] = p->interpreter;
    snprintf(p->templates, sizeof p->templates, "%s/worker", g->templates_dir);
    if (access(p->templates, F_OK) == 0)
        o->expose[o->n_expose++] = p->templates;
}

void spawn_fs_args(const struct config_global *g, const char *program, struct spawn_fs_paths *p,
                   const char **argv, size_t *k)
{
    struct jail_opts o;
    jail_opts_init(&o);
    spawn_fs_opts(g, program, p, &o);
    for (size_t i = 0; i < o.n_hide; i++) {
        argv[(*k)++] = "--hide";
        argv[(*k)++] = o.hide[i];
    }
    for (size_t i = 0; i < o.n_expose; i++) {
        argv[(*k)++] = "--expose";
        argv[(*k)++] = o.expose[i];
    }
}
