/*
 * jail/steps.c (unit) — jail_run() fails closed: every privileged call it makes is
 * replaced (-Wl,--wrap, see jail_steps.wrap) by a fake that records the call
 * and can be told to fail. For each step we make its call fail and check that
 * the jail reports "<step>: <reason>" on the status fd, returns 111, and never
 * reaches execve nor any later step. One run with nothing failing checks the
 * order of the steps and that execve is reached last.
 *
 * Nothing real happens to the test process: no uid change, no namespace, no
 * mount, no seccomp filter, no fd closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jail.h"

/* ---- the fakes ---------------------------------------------------------- */

static const char *fail_on; /* name of the call that fails, or NULL */
static char calls[8192];    /* "name name ..." in call order */
static uid_t fake_euid;
static uid_t cur_uid;
static gid_t cur_gid;
static int n_groups;
static bool leftover_root, setuid0_works, caps_left, parent_changes, groups_stick;
static int capbset[64];

static void note(const char *name)
{
    size_t l = strlen(calls);
    snprintf(calls + l, sizeof calls - l, "%s ", name);
}

/* Record the call; when it is the one to fail, set errno and say so. */
static bool call(const char *name)
{
    note(name);
    if (fail_on && strcmp(fail_on, name) == 0) {
        errno = EPERM;
        return true;
    }
    return false;
}

uid_t __wrap_geteuid(void);
uid_t __wrap_geteuid(void)
{
    return fake_euid;
}

int __wrap_close_range(unsigned a, unsigned b, int f);
int __wrap_close_range(unsigned a, unsigned b, int f)
{
    return call("close_range") ? -1 : 0;
}

int __wrap_setrlimit(int res, const struct rlimit *rl);
int __wrap_setrlimit(int res, const struct rlimit *rl)
{
    return call("setrlimit") ? -1 : 0;
}

int __wrap_unshare(int flags);
int __wrap_unshare(int flags)
{
    return call("unshare") ? -1 : 0;
}

pid_t __wrap_fork(void);
pid_t __wrap_fork(void)
{
    return call("fork") ? -1 : 0; /* always the child's side */
}

struct pollfd;
int __wrap_poll(struct pollfd *p, unsigned long n, int t);
int __wrap_poll(struct pollfd *p, unsigned long n, int t)
{
    return call("poll") ? 1 : 0; /* 1: the parent's end closed */
}

int __wrap_mount(const char *s, const char *t, const char *fs, unsigned long fl, const void *d);
int __wrap_mount(const char *s, const char *t, const char *fs, unsigned long fl, const void *d)
{
    return call("mount") ? -1 : 0;
}

struct mount_attr;
int __wrap_mount_setattr(int dfd, const char *p, unsigned fl, struct mount_attr *a, size_t n);
int __wrap_mount_setattr(int dfd, const char *p, unsigned fl, struct mount_attr *a, size_t n)
{
    return call("mount_setattr") ? -1 : 0;
}

int __wrap_open_tree(int dfd, const char *p, unsigned fl);
int __wrap_open_tree(int dfd, const char *p, unsigned fl)
{
    if (call("open_tree"))
        return -1;
    return open("/dev/null", O_RDONLY | O_CLOEXEC); /* the jail closes it */
}

int __wrap_move_mount(int a, const char *b, int c, const char *d, unsigned fl);
int __wrap_move_mount(int a, const char *b, int c, const char *d, unsigned fl)
{
    return call("move_mount") ? -1 : 0;
}

int __wrap_sethostname(const char *n, size_t l);
int __wrap_sethostname(const char *n, size_t l)
{
    return call("sethostname") ? -1 : 0;
}

int __wrap_prctl(int option, ...);
int __wrap_prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long);
    va_end(ap);
    switch (option) {
    case PR_CAPBSET_READ:
        if (a2 >= 41) {
            errno = EINVAL;
            return -1;
        }
        return capbset[a2];
    case PR_CAPBSET_DROP:
        if (call("capbset_drop"))
            return -1;
        capbset[a2] = 0;
        return 0;
    case PR_SET_PDEATHSIG:
        return call("pdeathsig") ? -1 : 0;
    case PR_SET_NO_NEW_PRIVS:
        return call("no_new_privs") ? -1 : 0;
    case PR_GET_NO_NEW_PRIVS:
        return 1;
    case PR_CAP_AMBIENT:
        return call("ambient") ? -1 : 0;
    default:
        errno = EINVAL;
        return -1;
    }
}

int __wrap_setgroups(size_t n, const gid_t *g);
int __wrap_setgroups(size_t n, const gid_t *g)
{
    if (call("setgroups"))
        return -1;
    if (!groups_stick)
        n_groups = 0;
    return 0;
}

int __wrap_setresgid(gid_t r, gid_t e, gid_t s);
int __wrap_setresgid(gid_t r, gid_t e, gid_t s)
{
    if (call("setresgid"))
        return -1;
    cur_gid = r;
    return 0;
}

int __wrap_setresuid(uid_t r, uid_t e, uid_t s);
int __wrap_setresuid(uid_t r, uid_t e, uid_t s)
{
    if (call("setresuid"))
        return -1;
    cur_uid = r;
    return 0;
}

int __wrap_getresuid(uid_t *r, uid_t *e, uid_t *s);
int __wrap_getresuid(uid_t *r, uid_t *e, uid_t *s)
{
    *r = *e = cur_uid;
    *s = leftover_root ? 0 : cur_uid;
    return 0;
}

int __wrap_getresgid(gid_t *r, gid_t *e, gid_t *s);
int __wrap_getresgid(gid_t *r, gid_t *e, gid_t *s)
{
    *r = *e = *s = cur_gid;
    return 0;
}

int __wrap_getgroups(int n, gid_t *g);
int __wrap_getgroups(int n, gid_t *g)
{
    return n_groups;
}

int __wrap_setuid(uid_t u);
int __wrap_setuid(uid_t u)
{
    note("setuid");
    if (setuid0_works)
        return 0;
    errno = EPERM;
    return -1;
}

pid_t __wrap_getppid(void);
pid_t __wrap_getppid(void)
{
    static int n;
    return parent_changes && n++ > 0 ? 1 : 4242;
}

int __wrap_jail_sys_capget(uint64_t *eff, uint64_t *prm, uint64_t *inh);
int __wrap_jail_sys_capget(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
    *eff = caps_left ? 1u << 21 : 0;
    *prm = *inh = 0;
    return 0;
}

int __wrap_jail_sys_capset_zero(void);
int __wrap_jail_sys_capset_zero(void)
{
    return call("capset") ? -1 : 0;
}

int __wrap_jail_sys_seccomp(const void *prog);
int __wrap_jail_sys_seccomp(const void *prog)
{
    if (call("seccomp_load")) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int __wrap_execve(const char *p, char *const a[], char *const e[]);
int __wrap_execve(const char *p, char *const a[], char *const e[])
{
    note("execve");
    errno = ENOENT;
    return -1;
}

/* ---- fixture ------------------------------------------------------------ */

struct fx {
    char dir[64];
    int pipe[2];
    struct jail_opts o;
    char *argv[2];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/var/tmp/jail-steps-XXXXXX");
    if (!mkdtemp(f->dir))
        snprintf(f->dir, sizeof f->dir, "%s", "/nonexistent");
    assert_int_equal(pipe2(f->pipe, O_CLOEXEC), 0);
    /* The jail checks the data dir's owner when "root": make it the
     * tenant's for real when the test runs as root, else use our own uid. */
    uid_t uid = getuid() == 0 ? 61001 : getuid();
    gid_t gid = getgid() == 0 ? 61001 : getgid();
    if (getuid() == 0)
        assert_int_equal(chown(f->dir, uid, gid), 0);
    chmod(f->dir, 0700);

    jail_opts_init(&f->o);
    snprintf(f->o.id, sizeof f->o.id, "dupont");
    f->o.data_dir = f->dir;
    f->o.has_ids = true;
    f->o.uid = uid;
    f->o.gid = gid;
    f->o.status_fd = f->pipe[1];
    f->o.rlimit_nofile = 1024;
    f->o.no_core = true;
    f->o.ns = JAIL_NS_MOUNT | JAIL_NS_PID | JAIL_NS_IPC | JAIL_NS_UTS | JAIL_NS_NET;
    f->o.seccomp = true;
    f->argv[0] = "/nonexistent/worker";
    f->argv[1] = NULL;
    f->o.argv = f->argv;

    fail_on = NULL;
    calls[0] = '\0';
    fake_euid = 0;
    cur_uid = 0;
    cur_gid = 0;
    n_groups = 3;
    leftover_root = setuid0_works = caps_left = parent_changes = groups_stick = false;
    for (int i = 0; i < 64; i++)
        capbset[i] = i < 41;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rmdir(f->dir);
    close(f->pipe[0]);
    close(f->pipe[1]);
    free(f);
    return 0;
}

/* Run the jail; return what it wrote on the status fd. */
static const char *run(struct fx *f, int *rc)
{
    static char msg[1024];
    *rc = jail_run(&f->o);
    int fl = fcntl(f->pipe[0], F_GETFL);
    fcntl(f->pipe[0], F_SETFL, fl | O_NONBLOCK);
    ssize_t n = read(f->pipe[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    return msg;
}

static bool called(const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s ", name);
    for (const char *p = calls; (p = strstr(p, pat)) != NULL; p++)
        if (p == calls || p[-1] == ' ')
            return true;
    return false;
}

static size_t pos(const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s ", name);
    for (const char *p = calls; (p = strstr(p, pat)) != NULL; p++)
        if (p == calls || p[-1] == ' ')
            return (size_t)(p - calls);
    fail_msg("%s was not called: %s", name, calls);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void all_steps_in_order(void **state)
{
    struct fx *f = *state;
    int rc;
    const char *msg = run(f, &rc);
    /* execve is faked to fail, so the last report is about exec. */
    assert_int_equal(rc, EXITCODE_JAIL);
    assert_true(strncmp(msg, "exec: /nonexistent/worker", 25) == 0);
    const char *order[] = {
        "close_range",   "setrlimit",    "unshare",     "fork",         "mount",        "open_tree",
        "mount_setattr", "move_mount",   "sethostname", "capbset_drop", "setgroups",    "setresgid",
        "setresuid",     "setuid",       "pdeathsig",   "poll",         "no_new_privs", "ambient",
        "capset",        "seccomp_load", "execve"};
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++)
        if (pos(order[i - 1]) >= pos(order[i]))
            fail_msg("%s does not come before %s: %s", order[i - 1], order[i], calls);
    assert_int_equal(cur_uid, f->o.uid);
    assert_int_equal(cur_gid, f->o.gid);
    for (int i = 0; i < 41; i++)
        assert_int_equal(capbset[i], 0);
    assert_string_equal(getenv("TMPDIR"), "/tmp");
}

/* One failing call per step: the step named, 111, and nothing after it. */
static const struct {
    const char *call;
    const char *step;
    const char *next; /* a call that must not have happened */
} cases[] = {
    {"close_range", "fds", "setrlimit"},
    {"setrlimit", "rlimit", "unshare"},
    {"unshare", "namespaces", "mount"},
    {"fork", "fork", "mount"},
    {"mount", "mounts", "setresuid"},
    {"open_tree", "mounts", "setresuid"},
    {"mount_setattr", "mounts", "setresuid"},
    {"move_mount", "mounts", "setresuid"},
    {"sethostname", "hostname", "setresuid"},
    {"capbset_drop", "capabilities", "setgroups"},
    {"setgroups", "setgroups", "setresgid"},
    {"setresgid", "setresgid", "setresuid"},
    {"setresuid", "setresuid", "pdeathsig"},
    {"pdeathsig", "pdeathsig", "no_new_privs"},
    {"poll", "parent", "no_new_privs"},
    {"no_new_privs", "no_new_privs", "seccomp_load"},
    {"ambient", "capabilities", "seccomp_load"},
    {"capset", "capabilities", "seccomp_load"},
    {"seccomp_load", "seccomp", "execve"},
};

static void each_step_fails_closed(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        teardown(state);
        setup(state);
        struct fx *f = *state;
        fail_on = cases[i].call;
        int rc;
        const char *msg = run(f, &rc);
        char want[64];
        snprintf(want, sizeof want, "%s: ", cases[i].step);
        if (rc != EXITCODE_JAIL || strncmp(msg, want, strlen(want)) != 0)
            fail_msg("failing %s: rc %d, message \"%s\", want \"%s...\"", cases[i].call, rc, msg,
                     want);
        if (called("execve") || called(cases[i].next))
            fail_msg("failing %s: the jail went on: %s", cases[i].call, calls);
    }
}

static void expect_fail(struct fx *f, const char *step, const char *next)
{
    int rc;
    const char *msg = run(f, &rc);
    char want[64];
    snprintf(want, sizeof want, "%s: ", step);
    if (rc != EXITCODE_JAIL || strncmp(msg, want, strlen(want)) != 0)
        fail_msg("rc %d, message \"%s\", want \"%s...\"", rc, msg, want);
    if (called("execve") || (next && called(next)))
        fail_msg("the jail went on: %s", calls);
}

static void verify_catches_a_saved_root_uid(void **state)
{
    leftover_root = true;
    expect_fail(*state, "verify", "pdeathsig");
}

static void verify_catches_regained_root(void **state)
{
    setuid0_works = true;
    expect_fail(*state, "verify", "pdeathsig");
}

static void verify_catches_leftover_groups(void **state)
{
    groups_stick = true;
    expect_fail(*state, "verify", "pdeathsig");
}

static void capabilities_left_are_fatal(void **state)
{
    caps_left = true;
    expect_fail(*state, "capabilities", "seccomp_load");
}

static void parent_gone_is_fatal(void **state)
{
    struct fx *f = *state;
    f->o.ns &= ~(unsigned)JAIL_NS_PID; /* the getppid() check, not the pipe */
    parent_changes = true;
    expect_fail(f, "parent", "no_new_privs");
}

/* --pidns-ready in a process that is not pid 1 (this test): refused before
 * anything changes, rather than run without the pid namespace it promised. */
static void pidns_ready_needs_pid_1(void **state)
{
    struct fx *f = *state;
    f->o.pidns_ready = true;
    expect_fail(f, "validate", "close_range");
}

static void data_dir_wrong_mode_fails_before_anything(void **state)
{
    struct fx *f = *state;
    chmod(f->dir, 0755);
    expect_fail(f, "data-dir", "close_range");
}

static void data_dir_wrong_owner(void **state)
{
    struct fx *f = *state;
    f->o.uid += 1;
    expect_fail(f, "data-dir", "close_range");
}

static void data_dir_missing(void **state)
{
    struct fx *f = *state;
    f->o.data_dir = "/nonexistent/tenant";
    expect_fail(f, "data-dir", "close_range");
}

static void root_without_ids_is_refused(void **state)
{
    struct fx *f = *state;
    f->o.has_ids = false;
    expect_fail(f, "validate", "close_range");
}

static void not_root_refuses_other_ids_and_namespaces(void **state)
{
    struct fx *f = *state;
    fake_euid = 1000;
    f->o.uid = getuid() + 1;
    expect_fail(f, "validate", "close_range");
    calls[0] = '\0';
    f->o.uid = getuid();
    f->o.gid = getgid();
    expect_fail(f, "validate", "close_range");
}

static void not_root_applies_what_it_can(void **state)
{
    struct fx *f = *state;
    fake_euid = 1000;
    cur_uid = 1000;
    cur_gid = 1000;
    f->o.has_ids = false;
    f->o.ns = 0;
    int rc;
    const char *msg = run(f, &rc);
    assert_true(strncmp(msg, "exec: ", 6) == 0);
    assert_false(called("setresuid"));
    assert_false(called("capbset_drop"));
    assert_false(called("unshare"));
    assert_true(called("close_range"));
    assert_true(called("setrlimit"));
    assert_true(called("pdeathsig"));
    assert_true(called("no_new_privs"));
    assert_true(called("seccomp_load"));
}

static void status_fd_not_open(void **state)
{
    struct fx *f = *state;
    f->o.status_fd = 1000;
    int rc = jail_run(&f->o);
    assert_int_equal(rc, EXITCODE_JAIL);
    assert_false(called("close_range"));
    f->o.status_fd = f->pipe[1];
}

static void listen_fds_must_be_open_and_agree(void **state)
{
    struct fx *f = *state;
    f->o.listen_fds = 60;
    f->o.status_fd = 100;
    assert_int_equal(dup2(f->pipe[1], 100), 100);
    expect_fail(f, "validate", "close_range");
    close(100);
    f->o.status_fd = f->pipe[1];
    /* LISTEN_FDS in the environment must say the same as --listen-fds. */
    f->o.listen_fds = 0;
    calls[0] = '\0';
    setenv("LISTEN_FDS", "2", 1);
    expect_fail(f, "validate", "close_range");
    unsetenv("LISTEN_FDS");
}

static void listen_pid_is_set(void **state)
{
    struct fx *f = *state;
    f->o.ns = 0;
    setenv("LISTEN_FDS", "0", 1);
    int rc;
    run(f, &rc);
    char want[16];
    snprintf(want, sizeof want, "%d", (int)getpid());
    assert_non_null(getenv("LISTEN_PID"));
    assert_string_equal(getenv("LISTEN_PID"), want);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(all_steps_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(each_step_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_catches_a_saved_root_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_catches_regained_root, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_catches_leftover_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(capabilities_left_are_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(parent_gone_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(pidns_ready_needs_pid_1, setup, teardown),
        cmocka_unit_test_setup_teardown(data_dir_wrong_mode_fails_before_anything, setup, teardown),
        cmocka_unit_test_setup_teardown(data_dir_wrong_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(data_dir_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(root_without_ids_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(not_root_refuses_other_ids_and_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(not_root_applies_what_it_can, setup, teardown),
        cmocka_unit_test_setup_teardown(status_fd_not_open, setup, teardown),
        cmocka_unit_test_setup_teardown(listen_fds_must_be_open_and_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(listen_pid_is_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
