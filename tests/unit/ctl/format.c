/*
 * ctl/format.c (unit) — tenantctl's pure formatting: durations, sizes,
 * sanitising text for a terminal, and the status table (aligned columns,
 * problems listed below, hostile bytes escaped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

static void test_duration(void **state)
{
    (void)state;
    char b[32];
    ctl_format_duration(0, b, sizeof b);
    assert_string_equal(b, "-");
    ctl_format_duration(-5, b, sizeof b);
    assert_string_equal(b, "-");
    ctl_format_duration(59, b, sizeof b);
    assert_string_equal(b, "59s");
    ctl_format_duration(65, b, sizeof b);
    assert_string_equal(b, "1m05s");
    ctl_format_duration(3600 + 120, b, sizeof b);
    assert_string_equal(b, "1h02m");
    ctl_format_duration(86400 * 3 + 3600 * 4, b, sizeof b);
    assert_string_equal(b, "3d04h");
}

static void test_bytes(void **state)
{
    (void)state;
    char b[32];
    ctl_format_bytes(512, b, sizeof b);
    assert_string_equal(b, "512");
    ctl_format_bytes(1536, b, sizeof b);
    assert_string_equal(b, "1.5K");
    ctl_format_bytes(256u << 20, b, sizeof b);
    assert_string_equal(b, "256M");
}

static void test_sanitize(void **state)
{
    (void)state;
    char b[64];
    ctl_sanitize("ok \x1b[31mred\x07", b, sizeof b);
    assert_string_equal(b, "ok \\x1b[31mred\\x07");
    ctl_sanitize("Müller", b, sizeof b);
    assert_string_equal(b, "Müller");
    /* Never cuts an escape in half. */
    ctl_sanitize("\x1b\x1b", b, 7);
    assert_string_equal(b, "\\x1b");
    ctl_sanitize(NULL, b, sizeof b);
    assert_string_equal(b, "");
}

static char *render(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    /* Static: GCC's dangling-pointer check misreads open_memstream's out
     * parameters as pointing into this frame. */
    static char *buf;
    static size_t len;
    buf = NULL;
    len = 0;
    FILE *f = open_memstream(&buf, &len);
    ctl_print_status_table(f, j);
    fclose(f);
    json_decref(j);
    return buf;
}

static char *render_with(void (*fn)(FILE *, const json_t *), const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    static char *buf;
    static size_t len;
    buf = NULL;
    len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, j);
    fclose(f);
    json_decref(j);
    return buf;
}

static void test_proxy(void **state)
{
    (void)state;
    /* Fine: nothing below the table. */
    char *out = render_with(ctl_print_proxy_line, "{\"mode\":\"managed\",\"ok\":true,"
                                                  "\"last_error\":\"\"}");
    assert_string_equal(out, "");
    free(out);
    /* Not an object (an older tenantd): nothing either. */
    out = render_with(ctl_print_proxy_line, "[]");
    assert_string_equal(out, "");
    free(out);
    /* Refused: nginx's message, sanitised for the terminal. */
    out = render_with(ctl_print_proxy_line,
                      "{\"ok\":false,\"last_error\":\"nginx -t refused: [emerg] unknown "
                      "directive \\\"x\\\" \\u001b[2J\"}");
    assert_string_equal(
        out, "\nproxy: ERROR: nginx -t refused: [emerg] unknown directive \"x\" \\x1b[2J\n");
    free(out);

    out = render_with(ctl_print_proxy_status,
                      "{\"mode\":\"managed\",\"ok\":false,\"last_error\":\"bad\","
                      "\"reloads\":3,\"failures\":1,\"nginx_starts\":1,\"nginx_pid\":77,"
                      "\"generation\":4}");
    assert_non_null(strstr(out, "mode:         managed\n"));
    assert_non_null(strstr(out, "config:       ERROR: bad\n"));
    assert_non_null(strstr(out, "nginx:        pid 77\n"));
    assert_non_null(strstr(out, "generation:   conf.4\n"));
    assert_non_null(strstr(out, "reloads:      3\n"));
    assert_non_null(strstr(out, "failures:     1\n"));
    free(out);
    out = render_with(ctl_print_proxy_status,
                      "{\"mode\":\"off\",\"ok\":true,\"last_error\":\"\",\"nginx_pid\":null,"
                      "\"generation\":0}");
    assert_non_null(strstr(out, "config:       ok\n"));
    assert_null(strstr(out, "nginx: "));
    assert_non_null(strstr(out, "generation:   -\n"));
    free(out);
}

static void test_table(void **state)
{
    (void)state;
    char *out = render(
        "[{\"id\":\"dupont\",\"state\":\"running\",\"pid\":1234,\"port\":5001,"
        "\"plan\":\"professional\",\"uptime_s\":3700,\"restarts\":2,\"last_exit\":\"\","
        "\"config_error\":\"\",\"state_reason\":\"\"},"
        "{\"id\":\"a-much-longer-tenant-id\",\"state\":\"failed\",\"pid\":null,\"port\":5002,"
        "\"plan\":\"starter\",\"uptime_s\":0,\"restarts\":10,\"last_exit\":\"exit 78\","
        "\"config_error\":\"tenants.d/x.ini:3: bad\\n\\u001b[2Jsecond\","
        "\"state_reason\":\"start limit\"}]");
    char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    assert_int_equal(strncmp(l1, "ID  ", 4), 0);
    /* The PID column is right-aligned: it ends at the same offset in every row. */
    size_t end = (size_t)(strstr(l1, "PID") - l1) + 3;
    assert_memory_equal(l2 + end - 4, "1234", 4);
    assert_int_equal(l3[end - 1], '-');
    assert_non_null(strstr(l3, "exit 78"));
    assert_non_null(strstr(out, "a-much-longer-tenant-id: config error: tenants.d/x.ini:3: bad\n"));
    assert_non_null(strstr(out, "a-much-longer-tenant-id: config error: \\x1b[2Jsecond\n"));
    assert_non_null(strstr(out, "a-much-longer-tenant-id: reason: start limit\n"));
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(l2, "1h01m"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration), cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_sanitize), cmocka_unit_test(test_table),
        cmocka_unit_test(test_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
