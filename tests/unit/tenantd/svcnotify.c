/*
 * tenantd/svcnotify.c (unit) — the pure part of tenantd's own readiness
 * towards its service manager (svcnotify.c): the STATUS= line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svcnotify.h"

static void test_status_line(void **state)
{
    (void)state;
    char buf[64];
    struct sup_counts c = {.running = 998, .failed = 2, .boot_pending = 5};
    svcnotify_format_status(buf, sizeof buf, &c);
    assert_string_equal(buf, "STATUS=998 running, 2 failed");
    c.idle = 9000;
    svcnotify_format_status(buf, sizeof buf, &c);
    assert_string_equal(buf, "STATUS=998 running, 9000 idle, 2 failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
