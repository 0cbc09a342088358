/*
 * common/util.c (unit) — unit tests of common/util.c: bounded copy, path joining,
 * whole-file reads with a size cap, atomic writes, mkdir -p and path formatting. File tests run
 * in a fresh folder under $TMPDIR (default /tmp), removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static char dir[256];

static int make_dir(void **state)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/common_util.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_strlcpy(void **state)
{
    char buf[6];

    assert_int_equal(util_strlcpy(buf, "hello", sizeof(buf)), 0);
    assert_string_equal(buf, "hello");
    assert_int_equal(util_strlcpy(buf, "hello!", sizeof(buf)), -ENAMETOOLONG);
    assert_string_equal(buf, "hello");
    assert_int_equal(util_strlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(util_strlcpy(buf, "x", 0), -ENAMETOOLONG);
}

static void test_path_join(void **state)
{
    static const struct {
        const char *base, *rel, *want;
    } cases[] = {
        {"/srv/td", "tenants.d", "/srv/td/tenants.d"},
        {"/srv/td/", "tenants.d", "/srv/td/tenants.d"},
        {"/srv/td", "./run", "/srv/td/run"},
        {"/srv/td", "././run", "/srv/td/run"},
        {"/srv/td", "/var/lib/x", "/var/lib/x"},
        {"/srv/td", ".", "/srv/td"},
        {"/srv/td", "", "/srv/td"},
        {"/", "etc", "/etc"},
        {"", "rel", "rel"},
        {"/srv/td", "../up", "/srv/td/../up"},
    };
    char buf[64], tiny[8];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(util_path_join(buf, sizeof(buf), cases[i].base, cases[i].rel), 0);
        assert_string_equal(buf, cases[i].want);
    }
    assert_int_equal(util_path_join(tiny, sizeof(tiny), "/srv/td", "tenants.d"), -ENAMETOOLONG);
}

static void test_write_and_read(void **state)
{
    char path[512], *text = NULL;
    size_t len = 0;
    struct stat st;

    snprintf(path, sizeof(path), "%s/file.txt", dir);
    assert_int_equal(util_write_file_atomic(path, "first\n", 6, 0600), 0);
    assert_int_equal(util_write_file_atomic(path, "second\n", 7, 0640), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(util_read_file(path, 100, &text, &len), 0);
    assert_int_equal(len, 7);
    assert_string_equal(text, "second\n");
    free(text);

    /* Exactly at the cap is fine, one byte over is not. */
    assert_int_equal(util_read_file(path, 7, &text, NULL), 0);
    free(text);
    assert_int_equal(util_read_file(path, 6, &text, &len), -EFBIG);
    assert_null(text);

    /* No temporary file is left beside it. */
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);

    assert_int_equal(util_read_file(dir, 100, &text, &len), -EINVAL);
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(util_read_file(path, 100, &text, &len), -ENOENT);
    snprintf(path, sizeof(path), "%s/no/such/dir/file", dir);
    assert_int_equal(util_write_file_atomic(path, "x", 1, 0600), -ENOENT);
}

static void test_mkdir_p(void **state)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/a/b//c/", dir);
    assert_int_equal(util_mkdir_p(path, 0700), 0);
    assert_int_equal(util_mkdir_p(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    snprintf(path, sizeof(path), "%s/file", dir);
    assert_int_equal(util_write_file_atomic(path, "x", 1, 0600), 0);
    assert_int_equal(util_mkdir_p(path, 0700), -ENOTDIR);
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    assert_int_equal(util_mkdir_p(path, 0700), -ENOTDIR);
    assert_int_equal(util_mkdir_p("", 0700), -EINVAL);
}

/* The parents get one mode and the last folder another, even with a trailing
 * slash (umask 0 for the test, so the modes are exact). */
static void test_mkdir_p_modes(void **state)
{
    char path[512];
    struct stat st;
    mode_t old = umask(0);

    snprintf(path, sizeof(path), "%s/m/n/leaf/", dir);
    assert_int_equal(util_mkdir_p_modes(path, 0755, 0700), 0);
    snprintf(path, sizeof(path), "%s/m/n", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    snprintf(path, sizeof(path), "%s/m/n/leaf", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    umask(old);
}

static void test_path_fmt(void **state)
{
    char buf[8];

    assert_int_equal(util_path_fmt(buf, sizeof(buf), "%s/%s", "ab", "cd"), 0);
    assert_string_equal(buf, "ab/cd");
    assert_int_equal(util_path_fmt(buf, sizeof(buf), "%s/%s", "abcd", "efgh"), -ENAMETOOLONG);
}

static void test_mail_address_ok(void **state)
{
    (void)state;
    assert_true(util_mail_address_ok("avocat@cabinet-dupont.fr"));
    assert_true(util_mail_address_ok("a@b"));
    assert_false(util_mail_address_ok(NULL));
    assert_false(util_mail_address_ok("ab"));
    assert_false(util_mail_address_ok("no-at.example"));
    assert_false(util_mail_address_ok("@example.fr"));
    assert_false(util_mail_address_ok("a@"));
    assert_false(util_mail_address_ok("a@b@c"));
    assert_false(util_mail_address_ok("a b@example.fr"));
    assert_false(util_mail_address_ok("a@example.fr\r\nBcc: x@y"));
    assert_false(util_mail_address_ok("<a@example.fr>"));
    assert_false(util_mail_address_ok("a,b@example.fr"));
    assert_false(util_mail_address_ok("\"a\"@example.fr"));
    assert_false(util_mail_address_ok("\xc3\xa9@example.fr"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strlcpy),         cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_write_and_read),  cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_mkdir_p_modes),   cmocka_unit_test(test_path_fmt),
        cmocka_unit_test(test_mail_address_ok),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
