/*
 * jail/args.c (unit) — the jail's command line (jail_parse_args, jail_build_argv)
 * and the pure cgroup helpers it relies on (common/cgroup.h): bad ids, bad
 * numbers, missing values and required options are refused with a sentence;
 * what tenantd builds parses back to the same options; cgroup paths and the
 * weight-to-shares mapping are what the kernel expects.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup.h"
#include "jail.h"

/* Parse a NULL-terminated list of arguments (the program name is added). */
static int parse(struct jail_opts *o, char *err, size_t n, ...)
{
    static char *argv[64];
    va_list ap;
    va_start(ap, n);
    int argc = 0;
    argv[argc++] = "tenant-jail";
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 63;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return jail_parse_args(argc, argv, o, err, n);
}

#define P(...) parse(&o, err, sizeof err, __VA_ARGS__, (char *)NULL)

static void full_command_line(void **state)
{
    struct jail_opts o;
    char err[256];
    assert_int_equal(
        P("--id", "dupont", "--data", "/srv/data/dupont", "--uid", "61001", "--gid", "61002",
          "--parent-pid", "77", "--listen-fds", "1", "--status-fd", "4", "--rlimit-nofile", "1024",
          "--rlimit-fsize", "1G", "--rlimit-nproc", "64", "--no-core", "--cgroup", "dupont",
          "--cgroup-parent", "self/tenants", "--memory", "256M", "--pids", "64", "--cpu-weight",
          "200", "--cgroup-optional", "--ns", "mount,pid,ipc,uts,net", "--hide", "/srv/data",
          "--hide", "/srv/run", "--tmp-size", "32M", "--seccomp", "--", "/usr/bin/worker", "-v"),
        0);
    assert_string_equal(o.id, "dupont");
    assert_string_equal(o.data_dir, "/srv/data/dupont");
    assert_true(o.has_ids);
    assert_int_equal(o.uid, 61001);
    assert_int_equal(o.gid, 61002);
    assert_int_equal(o.parent_pid, 77);
    assert_int_equal(o.listen_fds, 1);
    assert_int_equal(o.status_fd, 4);
    assert_int_equal(o.rlimit_nofile, 1024);
    assert_int_equal(o.rlimit_fsize, 1ll << 30);
    assert_int_equal(o.rlimit_nproc, 64);
    assert_true(o.no_core);
    assert_string_equal(o.cgroup, "dupont");
    assert_int_equal(o.memory_bytes, 256ll << 20);
    assert_int_equal(o.pids, 64);
    assert_int_equal(o.cpu_weight, 200);
    assert_true(o.cgroup_optional);
    assert_int_equal(o.ns, JAIL_NS_MOUNT | JAIL_NS_PID | JAIL_NS_IPC | JAIL_NS_UTS | JAIL_NS_NET);
    assert_int_equal(o.n_hide, 2);
    assert_string_equal(o.hide[1], "/srv/run");
    assert_int_equal(o.tmp_size, 32ll << 20);
    assert_true(o.seccomp);
    assert_string_equal(o.argv[0], "/usr/bin/worker");
    assert_string_equal(o.argv[1], "-v");
    assert_null(o.argv[2]);
}

static void minimal_command_line(void **state)
{
    struct jail_opts o;
    char err[256];
    assert_int_equal(P("--id", "a", "--", "/bin/true"), 0);
    assert_false(o.has_ids);
    assert_int_equal(o.status_fd, -1);
    assert_int_equal(o.rlimit_nofile, -1);
    assert_null(o.cgroup);
    assert_int_equal(o.ns, 0);
}

/* A refused command line and a phrase its message must contain. */
#define REFUSE(want, ...)                                                                          \
    do {                                                                                           \
        int r_ = P(__VA_ARGS__);                                                                   \
        if (r_ != -EINVAL || !strstr(err, want))                                                   \
            fail_msg("line %d: r=%d err=\"%s\", want \"%s\"", __LINE__, r_, err, want);            \
    } while (0)

static void refused_with_reason(void **state)
{
    struct jail_opts o;
    char err[256];
    REFUSE("--id is required", "--", "/bin/true");
    REFUSE("not a tenant id", "--id", "Dupont", "--", "/bin/true");
    REFUSE("not a tenant id", "--id", "1abc", "--", "/bin/true");
    REFUSE("not a tenant id", "--id", "a_b", "--", "/bin/true");
    REFUSE("not a tenant id", "--id", "abcdefghijabcdefghijabcdefghijab", "--", "/bin/true");
    REFUSE("not a tenant id", "--id", "", "--", "/bin/true");
    REFUSE("no command", "--id", "a");
    REFUSE("no command", "--id", "a", "--");
    REFUSE("must be a path", "--id", "a", "--", "true");
    REFUSE("a value is missing", "--id");
    REFUSE("unknown option", "--id", "a", "--bogus", "1", "--", "/bin/true");
    REFUSE("expected an option", "--id", "a", "/bin/true");
    REFUSE("go together", "--id", "a", "--uid", "61001", "--", "/bin/true");
    REFUSE("out of range", "--id", "a", "--uid", "0", "--gid", "1", "--", "/bin/true");
    REFUSE("not a number", "--id", "a", "--uid", "-5", "--gid", "1", "--", "/bin/true");
    REFUSE("not a number", "--id", "a", "--uid", "12x", "--gid", "1", "--", "/bin/true");
    REFUSE("out of range", "--id", "a", "--uid", "99999999999999999999", "--gid", "1", "--",
           "/bin/true");
    REFUSE("not a number", "--id", "a", "--pids", "", "--cgroup", "a", "--", "/bin/true");
    REFUSE("not a size", "--id", "a", "--memory", "12Q", "--cgroup", "a", "--", "/bin/true");
    REFUSE("out of range", "--id", "a", "--memory", "1K", "--cgroup", "a", "--", "/bin/true");
    REFUSE("out of range", "--id", "a", "--memory", "99999999999T", "--cgroup", "a", "--",
           "/bin/true");
    REFUSE("out of range", "--id", "a", "--cpu-weight", "10001", "--cgroup", "a", "--",
           "/bin/true");
    REFUSE("out of range", "--id", "a", "--cpu-weight", "0", "--cgroup", "a", "--", "/bin/true");
    REFUSE("need --cgroup", "--id", "a", "--memory", "64M", "--", "/bin/true");
    REFUSE("not a cgroup name", "--id", "a", "--cgroup", "../x", "--", "/bin/true");
    REFUSE("not a cgroup name", "--id", "a", "--cgroup", "a/b", "--", "/bin/true");
    REFUSE("--cgroup-parent", "--id", "a", "--cgroup", "a", "--cgroup-parent", "self/../..", "--",
           "/bin/true");
    REFUSE("--cgroup-parent", "--id", "a", "--cgroup", "a", "--cgroup-parent", "tenants", "--",
           "/bin/true");
    REFUSE("absolute path", "--id", "a", "--data", "relative/dir", "--", "/bin/true");
    REFUSE("absolute path", "--id", "a", "--data", "/srv/../etc", "--", "/bin/true");
    REFUSE("absolute path", "--id", "a", "--data", "/", "--", "/bin/true");
    REFUSE("not a namespace", "--id", "a", "--ns", "mount,bogus", "--data", "/x", "--",
           "/bin/true");
    REFUSE("empty", "--id", "a", "--ns", "", "--", "/bin/true");
    REFUSE("is not bind or connect", "--id", "a", "--net-rules", "bind,listen", "--", "/bin/true");
    REFUSE("ends with a comma", "--id", "a", "--net-rules", "bind,", "--", "/bin/true");
    REFUSE("--net-bind needs bind", "--id", "a", "--net-bind", "5001", "--", "/bin/true");
    REFUSE("--net-connect needs connect", "--id", "a", "--net-rules", "bind", "--net-connect",
           "5432", "--", "/bin/true");
    REFUSE("out of range", "--id", "a", "--net-rules", "bind", "--net-bind", "65536", "--",
           "/bin/true");
    REFUSE("out of range", "--id", "a", "--net-rules", "bind", "--net-bind", "0", "--",
           "/bin/true");
    REFUSE("is not local or outbound", "--id", "a", "--cgroup", "a", "--net-addr", "host", "--",
           "/bin/true");
    REFUSE("--net-addr needs --cgroup", "--id", "a", "--net-addr", "local", "--", "/bin/true");
    REFUSE("at most 4 ports", "--id", "a", "--net-rules", "bind", "--net-bind", "1", "--net-bind",
           "2", "--net-bind", "3", "--net-bind", "4", "--net-bind", "5", "--", "/bin/true");
    REFUSE("comma", "--id", "a", "--ns", "pid,", "--", "/bin/true");
    REFUSE("needs --data", "--id", "a", "--ns", "mount", "--", "/bin/true");
    REFUSE("mount namespace", "--id", "a", "--hide", "/srv", "--", "/bin/true");
    REFUSE("--hide", "--id", "a", "--ns", "mount", "--data", "/x", "--hide", "/", "--",
           "/bin/true");
    REFUSE("mount namespace", "--id", "a", "--expose", "/opt/app", "--", "/bin/true");
    REFUSE("--expose", "--id", "a", "--ns", "mount", "--data", "/x", "--expose", "/", "--",
           "/bin/true");
    REFUSE("--expose", "--id", "a", "--ns", "mount", "--data", "/x", "--expose", "/opt/../etc",
           "--", "/bin/true");
    /* A folder bound back would show what --hide covers below it. */
    REFUSE("contains the hidden folder \"/srv/t/run\"", "--id", "a", "--ns", "mount", "--data",
           "/x", "--hide", "/srv/t/run", "--expose", "/srv/t", "--", "/bin/true");
    REFUSE("one of the listening fds", "--id", "a", "--listen-fds", "2", "--status-fd", "4", "--",
           "/bin/true");
    REFUSE("out of range", "--id", "a", "--status-fd", "2", "--", "/bin/true");
    REFUSE("not a number", "--id", "a", "--listen-fds", "x", "--", "/bin/true");
    REFUSE("--pidns-ready needs", "--id", "a", "--pidns-ready", "--status-fd", "4", "--",
           "/bin/true");
    REFUSE("--pidns-ready needs", "--id", "a", "--pidns-ready", "--ns", "pid", "--", "/bin/true");
}

static void path_within(void **state)
{
    (void)state;
    assert_true(jail_path_within("/a/b", "/a"));
    assert_true(jail_path_within("/a/b", "/a/"));
    assert_true(jail_path_within("/a", "/a"));
    assert_true(jail_path_within("/tmp/x", "/"));
    assert_false(jail_path_within("/ab", "/a"));
    assert_false(jail_path_within("/a", "/a/b"));
}

static void build_round_trips(void **state)
{
    struct jail_opts o;
    jail_opts_init(&o);
    strcpy(o.id, "martin");
    o.data_dir = "/srv/data/clients/martin";
    o.has_ids = true;
    o.uid = 61005;
    o.gid = 61005;
    o.parent_pid = 1234;
    o.listen_fds = 1;
    o.status_fd = 4;
    o.rlimit_nofile = 4096;
    o.no_core = true;
    o.cgroup = "martin";
    o.memory_bytes = 128ll << 20;
    o.pids = 32;
    o.cpu_weight = 50;
    o.ns = JAIL_NS_MOUNT | JAIL_NS_PID | JAIL_NS_NET;
    o.hide[o.n_hide++] = "/srv/data/clients";
    o.hide[o.n_hide++] = "/srv/run";
    o.expose[o.n_expose++] = "/root/tenantd/build/tenant-worker";
    o.expose[o.n_expose++] = "/root/my app/templates/worker";
    o.seccomp = true;
    o.pidns_ready = true;
    o.net_rules = JAIL_NET_BIND | JAIL_NET_CONNECT;
    o.net_bind[o.n_net_bind++] = 5001;
    o.net_connect[o.n_net_connect++] = 5432;
    o.net_connect[o.n_net_connect++] = 6379;
    char *cmd[] = {"/usr/lib/tenantd/tenant-worker", "--flag", NULL};
    o.argv = cmd;

    char **argv = NULL;
    char err[256];
    assert_int_equal(jail_build_argv(&o, "/usr/lib/tenantd/tenant-jail", &argv, err, sizeof err),
                     0);
    int argc = 0;
    while (argv[argc])
        argc++;
    assert_string_equal(argv[0], "/usr/lib/tenantd/tenant-jail");
    assert_string_equal(argv[argc - 2], "/usr/lib/tenantd/tenant-worker");
    struct jail_opts back;
    assert_int_equal(jail_parse_args(argc, argv, &back, err, sizeof err), 0);
    assert_string_equal(back.id, "martin");
    assert_string_equal(back.data_dir, o.data_dir);
    assert_int_equal(back.uid, 61005);
    assert_int_equal(back.parent_pid, 1234);
    assert_int_equal(back.memory_bytes, o.memory_bytes);
    assert_int_equal(back.pids, 32);
    assert_int_equal(back.cpu_weight, 50);
    assert_int_equal(back.ns, o.ns);
    assert_int_equal(back.n_hide, 2);
    assert_int_equal(back.n_expose, 2);
    assert_string_equal(back.expose[1], "/root/my app/templates/worker");
    assert_true(back.seccomp && back.no_core && back.pidns_ready);
    assert_int_equal(back.net_rules, JAIL_NET_BIND | JAIL_NET_CONNECT);
    assert_int_equal(back.n_net_bind, 1);
    assert_int_equal(back.net_bind[0], 5001);
    assert_int_equal(back.n_net_connect, 2);
    assert_int_equal(back.net_connect[1], 6379);
    assert_string_equal(back.argv[1], "--flag");
    free(argv);

    /* bind alone (network = outbound): no connect rule is written. */
    o.net_rules = JAIL_NET_BIND;
    o.n_net_connect = 0;
    assert_int_equal(jail_build_argv(&o, "/j", &argv, err, sizeof err), 0);
    for (argc = 0; argv[argc]; argc++)
        if (strcmp(argv[argc], "--net-rules") == 0)
            assert_string_equal(argv[argc + 1], "bind");
    assert_int_equal(jail_parse_args(argc, argv, &back, err, sizeof err), 0);
    assert_int_equal(back.net_rules, JAIL_NET_BIND);
    free(argv);

    /* outbound with the address rules: the loopback ports ride on --net-addr. */
    o.net_addr = JAIL_NET_ADDR_OUTBOUND;
    o.net_connect[o.n_net_connect++] = 6432;
    assert_int_equal(jail_build_argv(&o, "/j", &argv, err, sizeof err), 0);
    for (argc = 0; argv[argc]; argc++)
        ;
    assert_int_equal(jail_parse_args(argc, argv, &back, err, sizeof err), 0);
    assert_int_equal(back.net_addr, JAIL_NET_ADDR_OUTBOUND);
    assert_int_equal(back.n_net_connect, 1);
    assert_int_equal(back.net_connect[0], 6432);
    free(argv);

    /* What the jail would refuse is refused when building, too. */
    strcpy(o.id, "Bad");
    assert_int_equal(jail_build_argv(&o, "/j", &argv, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "tenant id"));
}

/* ---- cgroup helpers ------------------------------------------------------ */

static const char *const hybrid = "9:name=systemd:/\n"
                                  "8:pids:/tenantd.service\n"
                                  "4:memory:/process_api/abc\n"
                                  "2:cpu,cpuacct:/tenantd.service\n"
                                  "0::/\n";

static void parse_self(void **state)
{
    char out[256];
    assert_int_equal(cgroup_parse_self(hybrid, "memory", out, sizeof out), 0);
    assert_string_equal(out, "/process_api/abc");
    assert_int_equal(cgroup_parse_self(hybrid, "cpu", out, sizeof out), 0);
    assert_string_equal(out, "/tenantd.service");
    assert_int_equal(cgroup_parse_self(hybrid, "cpuacct", out, sizeof out), 0);
    assert_int_equal(cgroup_parse_self(hybrid, NULL, out, sizeof out), 0);
    assert_string_equal(out, "/");
    assert_int_equal(cgroup_parse_self(hybrid, "cpuset", out, sizeof out), -ENOENT);
    assert_int_equal(cgroup_parse_self(hybrid, "mem", out, sizeof out), -ENOENT);
    assert_int_equal(cgroup_parse_self("0::/system.slice/tenantd.service", NULL, out, sizeof out),
                     0);
    assert_string_equal(out, "/system.slice/tenantd.service");
    assert_int_equal(cgroup_parse_self(hybrid, "memory", out, 4), -ENAMETOOLONG);
}

static void join_path(void **state)
{
    char out[256];
    assert_int_equal(cgroup_join_path(out, sizeof out, "/sys/fs/cgroup/memory", "/process_api/abc",
                                      "self/tenants", "dupont"),
                     0);
    assert_string_equal(out, "/sys/fs/cgroup/memory/process_api/abc/tenants/dupont");
    assert_int_equal(
        cgroup_join_path(out, sizeof out, "/sys/fs/cgroup/unified", "/", "self/tenants", "dupont"),
        0);
    assert_string_equal(out, "/sys/fs/cgroup/unified/tenants/dupont");
    assert_int_equal(cgroup_join_path(out, sizeof out, "/sys/fs/cgroup", "/a", "self", "x"), 0);
    assert_string_equal(out, "/sys/fs/cgroup/a/x");
    assert_int_equal(
        cgroup_join_path(out, sizeof out, "/sys/fs/cgroup/pids", "/a/b", "/tenantd/tenants", "x"),
        0);
    assert_string_equal(out, "/sys/fs/cgroup/pids/tenantd/tenants/x");
    assert_int_equal(cgroup_join_path(out, sizeof out, "/m", "/a", "self/..", "x"), -EINVAL);
    assert_int_equal(cgroup_join_path(out, sizeof out, "/m", "/a", "self", ".."), -EINVAL);
    assert_int_equal(cgroup_join_path(out, sizeof out, "/m", "/a", "self", "a/b"), -EINVAL);
    assert_int_equal(cgroup_join_path(out, 10, "/sys/fs/cgroup", "/a", "self", "x"), -ENAMETOOLONG);
}

static void spec_valid(void **state)
{
    assert_true(cgroup_spec_valid("self"));
    assert_true(cgroup_spec_valid("self/tenants"));
    assert_true(cgroup_spec_valid("self/a/b_c.d-e"));
    assert_true(cgroup_spec_valid("/tenantd"));
    assert_false(cgroup_spec_valid(""));
    assert_false(cgroup_spec_valid("/"));
    assert_false(cgroup_spec_valid("self/"));
    assert_false(cgroup_spec_valid("selfish"));
    assert_false(cgroup_spec_valid("self//a"));
    assert_false(cgroup_spec_valid("self/a/../b"));
    assert_false(cgroup_spec_valid("/a b"));
    assert_false(cgroup_spec_valid("tenants"));
    assert_false(cgroup_spec_valid(NULL));
}

static void weight_to_shares(void **state)
{
    assert_int_equal(cgroup_weight_to_shares(100), 1024);
    assert_int_equal(cgroup_weight_to_shares(1), 10);
    assert_int_equal(cgroup_weight_to_shares(50), 512);
    assert_int_equal(cgroup_weight_to_shares(200), 2048);
    assert_int_equal(cgroup_weight_to_shares(10000), 102400);
    assert_int_equal(cgroup_weight_to_shares(0), 1024);       /* unset: the default */
    assert_int_equal(cgroup_weight_to_shares(20000), 102400); /* clamped */
}

static void tenant_paths_follow_the_mode(void **state)
{
    struct cgroup_sys s;
    memset(&s, 0, sizeof s);
    s.mode = CGROUP_V1;
    strcpy(s.memory.mnt, "/sys/fs/cgroup/memory");
    strcpy(s.memory.self, "/process_api/abc");
    strcpy(s.pids.mnt, "/sys/fs/cgroup/pids");
    strcpy(s.pids.self, "/");
    strcpy(s.v2.mnt, "/sys/fs/cgroup/unified");
    strcpy(s.v2.self, "/");
    struct cgroup_tenant t;
    assert_int_equal(cgroup_tenant_paths(&s, "self/tenants", "dupont", &t), 0);
    assert_int_equal(t.mode, CGROUP_V1);
    assert_string_equal(t.memory, "/sys/fs/cgroup/memory/process_api/abc/tenants/dupont");
    assert_string_equal(t.pids, "/sys/fs/cgroup/pids/tenants/dupont");
    assert_string_equal(t.cpu, "");
    assert_string_equal(t.v2, "/sys/fs/cgroup/unified/tenants/dupont");
    s.mode = CGROUP_NONE;
    assert_int_equal(cgroup_tenant_paths(&s, "self/tenants", "dupont", &t), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_command_line),   cmocka_unit_test(minimal_command_line),
        cmocka_unit_test(refused_with_reason), cmocka_unit_test(build_round_trips),
        cmocka_unit_test(parse_self),          cmocka_unit_test(join_path),
        cmocka_unit_test(path_within),         cmocka_unit_test(spec_valid),
        cmocka_unit_test(weight_to_shares),    cmocka_unit_test(tenant_paths_follow_the_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
