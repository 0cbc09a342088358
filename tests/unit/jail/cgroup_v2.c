/*
 * jail/cgroup_v2.c (unit) — the pure parts of tenantd's cgroup v2 layout
 * (common/cgroup.c): where tenantd moves itself and where its tenants go,
 * below the unit's own cgroup, and the cgroup.subtree_control line that
 * enables the controllers. cgroup v2 itself cannot be exercised on the
 * development machine (v1 controllers); these check the path logic only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup.h"

static void layout_under_a_unit(void **state)
{
    (void)state;
    struct cgroup_v2_layout l;
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "/system.slice/tenantd.service", &l), 0);
    assert_string_equal(l.own, "/sys/fs/cgroup/system.slice/tenantd.service");
    assert_string_equal(l.supervisor, "/sys/fs/cgroup/system.slice/tenantd.service/supervisor");
    assert_string_equal(l.tenants, "/sys/fs/cgroup/system.slice/tenantd.service/tenants");
    assert_string_equal(l.tenants_spec, "/system.slice/tenantd.service/tenants");
    assert_true(cgroup_spec_valid(l.tenants_spec));

    /* A tenant's folder from that spec is <own>/tenants/<id>. */
    char out[CGROUP_PATH_MAX];
    assert_int_equal(cgroup_join_path(out, sizeof out, "/sys/fs/cgroup", "/system.slice/x",
                                      l.tenants_spec, "dupont"),
                     0);
    assert_string_equal(out, "/sys/fs/cgroup/system.slice/tenantd.service/tenants/dupont");
}

static void layout_is_idempotent(void **state)
{
    (void)state;
    struct cgroup_v2_layout a, b;
    /* Started again from inside its leaf, or with a trailing slash. */
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup/", "/system.slice/tenantd.service/", &a), 0);
    assert_int_equal(
        cgroup_v2_layout("/sys/fs/cgroup", "/system.slice/tenantd.service/supervisor", &b), 0);
    assert_string_equal(a.own, "/sys/fs/cgroup/system.slice/tenantd.service");
    assert_string_equal(a.own, b.own);
    assert_string_equal(a.supervisor, b.supervisor);
    assert_string_equal(a.tenants_spec, b.tenants_spec);
    /* "supervisor" as a whole component only. */
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "/my-supervisor", &a), 0);
    assert_string_equal(a.own, "/sys/fs/cgroup/my-supervisor");
}

static void layout_refusals(void **state)
{
    (void)state;
    struct cgroup_v2_layout l;
    /* The root cgroup may hold processes and still enable controllers. */
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "/", &l), 1);
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "", &l), -EINVAL);
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "relative", &l), -EINVAL);
    /* systemd escapes '-' in slice names; such a name is no parent spec. */
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", "/system.slice/a\\x2db.service", &l),
                     -EINVAL);
    char longp[CGROUP_PATH_MAX + 8];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(cgroup_v2_layout("/sys/fs/cgroup", longp, &l), -ENAMETOOLONG);
}

static void enable_line(void **state)
{
    (void)state;
    char out[128];
    const char *want = "memory pids cpu";
    assert_int_equal(cgroup_enable_line(want, "cpuset cpu io memory pids", "", out, sizeof out),
                     (int)strlen("+memory +pids +cpu"));
    assert_string_equal(out, "+memory +pids +cpu");
    /* Already enabled ones are not written again; missing ones are skipped. */
    assert_int_equal(cgroup_enable_line(want, "memory pids\n", "memory\n", out, sizeof out), 5);
    assert_string_equal(out, "+pids");
    assert_int_equal(
        cgroup_enable_line(want, "cpu memory pids", "cpu memory pids", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* Whole words: "cpuset" is not "cpu". */
    assert_int_equal(cgroup_enable_line("cpu", "cpuset", "", out, sizeof out), 0);
    assert_int_equal(cgroup_enable_line(want, "memory pids cpu", "", out, 6), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_under_a_unit),
        cmocka_unit_test(layout_is_idempotent),
        cmocka_unit_test(layout_refusals),
        cmocka_unit_test(enable_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
