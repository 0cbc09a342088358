/*
 * common/sdnotify.c (unit) — the sd_notify client (common/sdnotify.c):
 * NOTIFY_SOCKET addresses (path and abstract, lengths, refused values) and
 * one datagram sent to a real socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A datagram reaches the socket NOTIFY_SOCKET names; without it nothing is
 * sent and 0 is returned. */
static void test_send(void **state)
{
    (void)state;
    char dir[] = "/tmp/sdnotify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/notify", dir);
    struct sockaddr_un sa;
    socklen_t len = 0;
    assert_int_equal(sdnotify_parse_addr(path, &sa, &len), 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(sdnotify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(sdnotify_send("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(sdnotify_send("READY=1\nSTATUS=serving"), 0);
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_int_equal(n, (ssize_t)strlen("READY=1\nSTATUS=serving"));
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=serving");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_address),
        cmocka_unit_test(test_abstract_address),
        cmocka_unit_test(test_refused_addresses),
        cmocka_unit_test(test_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
