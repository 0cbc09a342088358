/*
 * tenantd/capacity.c (unit) — whether the tenants fit (capacity.c) and what a
 * shortage at a start looks like (spawn_transient.c): which errnos and jail
 * messages are a shortage, the retry schedule, and the -n warnings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capacity.h"
#include "spawn_transient.h"

static void test_shortage_errnos(void **state)
{
    (void)state;
    assert_true(transient_errno(EMFILE));
    assert_true(transient_errno(ENFILE));
    assert_true(transient_errno(EAGAIN));
    assert_true(transient_errno(ENOMEM));
    assert_false(transient_errno(EACCES));
    assert_false(transient_errno(ENOENT));
    assert_false(transient_errno(0));
}

static void test_status_messages(void **state)
{
    (void)state;
    /* spawn.c's own child, before or at the exec. */
    assert_int_equal(transient_status_errno("exec /usr/lib/tenantd/tenant-jail: errno 24"), EMFILE);
    assert_int_equal(transient_status_errno("exec /x/tenant-jail: errno 23\n"), ENFILE);
    assert_int_equal(transient_status_errno("exec /x/tenant-jail: errno 2"), 0);
    assert_int_equal(transient_status_errno("exec /x/tenant-jail: errno 13"), 0);
    /* A jail step, with strerror's text. */
    char msg[160];
    snprintf(msg, sizeof msg, "fork: fork into the pid namespace: %s", strerror(EAGAIN));
    assert_int_equal(transient_status_errno(msg), EAGAIN);
    snprintf(msg, sizeof msg, "namespaces: pipe: %s", strerror(EMFILE));
    assert_int_equal(transient_status_errno(msg), EMFILE);
    snprintf(msg, sizeof msg, "mounts: /srv/x: %s", strerror(ENOENT));
    assert_int_equal(transient_status_errno(msg), 0);
    /* A tenant's worker can write to nothing here, but a message is still
     * text: a number alone, or nothing, is no shortage. */
    assert_int_equal(transient_status_errno("24"), 0);
    assert_int_equal(transient_status_errno(""), 0);
    assert_int_equal(transient_status_errno(NULL), 0);
    assert_int_equal(transient_status_errno("errno 99999999999999"), 0);
}

static void test_delays_grow_and_cap(void **state)
{
    (void)state;
    assert_int_equal(transient_delay_ms(0, 0), 250);
    assert_int_equal(transient_delay_ms(1, 0), 500);
    assert_int_equal(transient_delay_ms(2, 0), 1000);
    assert_int_equal(transient_delay_ms(7, 0), TRANSIENT_MAX_MS);
    assert_int_equal(transient_delay_ms(1000000, 0), TRANSIENT_MAX_MS);
    for (uint32_t r = 0; r < 100000; r += 997) {
        int64_t d = transient_delay_ms(20, r);
        assert_true(d <= TRANSIENT_MAX_MS && d >= TRANSIENT_MAX_MS * 3 / 4);
        d = transient_delay_ms(0, r);
        assert_true(d <= 250 && d >= 250 * 3 / 4);
    }
}

static struct capacity_in fits(void)
{
    struct capacity_in in = {
        .tenants = 1000,
        .max_parallel_starts = 16,
        .port_min = 5001,
        .port_max = 15000,
        .eph_min = 32768,
        .eph_max = 60999,
        .uid_min = 200000,
        .uid_max = 299999,
        .root = 1,
        .nofile = 1048576,
        .file_max = 9000000,
    };
    return in;
}

static size_t warnings(const struct capacity_in *in, const char *want)
{
    struct config_diag w = {0};
    capacity_check(in, &w);
    size_t n = w.n;
    if (want) {
        bool found = false;
        for (size_t i = 0; i < w.n; i++)
            found |= strstr(w.lines[i], want) != NULL;
        if (!found)
            fail_msg("no warning with \"%s\" (%zu lines)", want, w.n);
    }
    config_diag_clear(&w);
    return n;
}

static void test_capacity_warnings(void **state)
{
    (void)state;
    struct capacity_in in = fits();
    assert_int_equal(warnings(&in, NULL), 0);

    in = fits();
    in.nofile = 1024;
    assert_int_equal(warnings(&in, "tenantd may open 1024"), 1);
    in = fits();
    in.file_max = 5000;
    assert_int_equal(warnings(&in, "fs.file-max (5000)"), 1);
    in = fits();
    in.port_max = 5999;
    assert_int_equal(warnings(&in, "5001-5999 holds 999 tenants, 1000 are configured"), 1);
    in = fits();
    in.port_max = 40000;
    assert_int_equal(warnings(&in, "overlaps the kernel's ephemeral ports 32768-60999"), 1);
    in = fits();
    in.port_min = 61000;
    in.port_max = 65000;
    assert_int_equal(warnings(&in, NULL), 0); /* above the ephemeral range is fine */
    in = fits();
    in.eph_min = in.eph_max = 0; /* unknown: no claim */
    in.port_max = 40000;
    assert_int_equal(warnings(&in, NULL), 0);
    in = fits();
    in.uid_max = 200499;
    assert_int_equal(warnings(&in, "uid_range: 200000-200499 holds 500 tenants"), 1);
    in.root = 0; /* uids are not used */
    assert_int_equal(warnings(&in, NULL), 0);
    assert_true(capacity_fds_needed(10000, 16) < (uint64_t)10000 * (CAPACITY_FDS_PER_TENANT + 1));
    /* 10,000 idle tenants fit tenantd's 20,000, not the managed nginx's reload. */
    in = fits();
    in.tenants = 10000;
    in.port_max = 15000;
    in.uid_max = 299999;
    in.nofile = 20000;
    in.managed_nginx = 1;
    size_t with = warnings(&in, "need about 21024 descriptors in its master");
    in.managed_nginx = 0; /* external or off: nginx is not tenantd's child */
    assert_int_equal(warnings(&in, NULL), with - 1);
    in.managed_nginx = 1;
    in.tenants = 9000;
    in.nofile = 1048576;
    assert_int_equal(warnings(&in, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shortage_errnos),
        cmocka_unit_test(test_status_messages),
        cmocka_unit_test(test_delays_grow_and_cap),
        cmocka_unit_test(test_capacity_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
