/*
 * tenantd/sdnotify.c (unit) — the pure parts of tenantd's own sd_notify client
 * (sdnotify.c): NOTIFY_SOCKET addresses (path and abstract, lengths, refused
 * values) and the STATUS= line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sdnotify.h"

static void test_path_address(void **state)
{
    (void)state;
    struct sockaddr_un sa;
    socklen_t len = 0;
    assert_int_equal(sdnotify_parse_addr("/run/systemd/notify", &sa, &len), 0);
    assert_int_equal(sa.sun_family, AF_UNIX);
    assert_string_equal(sa.sun_path, "/run/systemd/notify");
    /* A path address is passed with its terminating NUL. */
    assert_int_equal(len,
                     offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
}

static void test_abstract_address(void **state)
{
    (void)state;
    struct sockaddr_un sa;
    socklen_t len = 0;
    assert_int_equal(sdnotify_parse_addr("@tenantd/test", &sa, &len), 0);
    assert_int_equal(sa.sun_path[0], '\0');
    assert_memory_equal(sa.sun_path + 1, "tenantd/test", 12);
    /* Exactly the name's bytes: a trailing NUL would be another name. */
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 13);
}

static void test_refused_addresses(void **state)
{
    (void)state;
    struct sockaddr_un sa;
    socklen_t len = 0;
    char longpath[sizeof sa.sun_path + 2];
    assert_int_equal(sdnotify_parse_addr(NULL, &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_parse_addr("", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_parse_addr("/", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_parse_addr("@", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_parse_addr("run/notify", &sa, &len), -EINVAL);
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(sdnotify_parse_addr(longpath, &sa, &len), -ENAMETOOLONG);
    /* A path of exactly sizeof sun_path bytes leaves no room for its NUL. */
    longpath[sizeof sa.sun_path] = '\0';
    assert_int_equal(sdnotify_parse_addr(longpath, &sa, &len), -ENAMETOOLONG);
    /* An abstract name may use every byte. */
    longpath[0] = '@';
    assert_int_equal(sdnotify_parse_addr(longpath, &sa, &len), 0);
    assert_int_equal(len, sizeof sa);
}

static void test_status_line(void **state)
{
    (void)state;
    char buf[64];
    struct sup_counts c = {.running = 998, .failed = 2, .boot_pending = 5};
    sdnotify_format_status(buf, sizeof buf, &c);
    assert_string_equal(buf, "STATUS=998 running, 2 failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_address),
        cmocka_unit_test(test_abstract_address),
        cmocka_unit_test(test_refused_addresses),
        cmocka_unit_test(test_status_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
