/*
 * tenantd/admin_routes.c (unit) — the admin API's route table
 * (admin_routes.c): every route is found with its own method (and HEAD for
 * a GET route), every other method on its path is 405 with an Allow that
 * lists exactly the methods the table has for that path, and unknown paths
 * are 404.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "admin_internal.h"
#include "http_status.h"

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

/* A concrete path for a pattern: '*' becomes a tenant id. */
static void concrete(const char *pattern, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = pattern; *p && k + 8 < n; p++) {
        if (*p == '*') {
            memcpy(out + k, "dupont", 6);
            k += 6;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

/* The Allow a pattern must get, computed from the table independently of
 * the lookup: its rows' methods in table order, GET bringing HEAD. */
static void expected_allow(const char *pattern, char *allow, size_t n)
{
    allow[0] = '\0';
    for (size_t i = 0; i < admin_route_count(); i++)
        if (strcmp(admin_route_at(i)->pattern, pattern) == 0)
            http_allow_add(allow, n, admin_route_at(i)->method);
}

static bool allowed(const char *allow, const char *m)
{
    char list[80];
    snprintf(list, sizeof list, ", %s,", allow);
    char word[16];
    snprintf(word, sizeof word, " %s,", m);
    return strstr(list, word) != NULL;
}

static void test_every_route_and_method(void **state)
{
    (void)state;
    assert_true(admin_route_count() >= 18);
    for (size_t i = 0; i < admin_route_count(); i++) {
        const struct admin_route *row = admin_route_at(i);
        char path[128], want_allow[80], allow[80];
        concrete(row->pattern, path, sizeof path);
        expected_allow(row->pattern, want_allow, sizeof want_allow);
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            const struct admin_route *got = NULL;
            int rc = admin_route_find(methods[m], strlen(methods[m]), path, strlen(path), &got,
                                      allow, sizeof allow);
            if (allowed(want_allow, methods[m])) {
                assert_int_equal(rc, 0);
                const char *gm = strcmp(methods[m], "HEAD") == 0 ? "GET" : methods[m];
                assert_string_equal(got->method, gm);
                assert_string_equal(got->pattern, row->pattern);
            } else {
                if (rc != -EPERM)
                    fail_msg("%s %s: %d, want 405", methods[m], path, rc);
                assert_string_equal(allow, want_allow);
            }
        }
    }
}

static void test_known_allow_values(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"DELETE", "/", "GET, HEAD"},
        {"POST", "/metrics", "GET, HEAD"},
        {"GET", "/v1/reload", "POST"},
        {"PUT", "/v1/tenants", "GET, HEAD, POST"},
        {"POST", "/v1/tenants/dupont", "GET, HEAD, DELETE"},
        {"GET", "/v1/tenants/dupont/stop", "POST"},
        {"GET", "/v1/tenants/dupont/admins", "POST"},
        {"POST", "/v1/tenants/dupont/usage", "GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct admin_route *got = NULL;
        char allow[80];
        assert_int_equal(admin_route_find(cases[i].method, strlen(cases[i].method), cases[i].path,
                                          strlen(cases[i].path), &got, allow, sizeof allow),
                         -EPERM);
        assert_string_equal(allow, cases[i].allow);
    }
}

static void test_not_found_and_query(void **state)
{
    (void)state;
    static const char *const missing[] = {"/v1",
                                          "/v2/tenants",
                                          "/v1/tenants/dupont/nosuch",
                                          "/v1/tenants/dupont/stop/now",
                                          "/metricsx",
                                          "/v1/a/b/c/d/e/f/g/h"};
    const struct admin_route *got = NULL;
    char allow[80];
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        assert_int_equal(
            admin_route_find("GET", 3, missing[i], strlen(missing[i]), &got, allow, sizeof allow),
            -ENOENT);
    /* The query is not part of the path; doubled slashes are one. */
    const char *p = "/v1/tenants/dupont?wait=running&timeout=100";
    assert_int_equal(admin_route_find("GET", 3, p, strlen(p), &got, allow, sizeof allow), 0);
    assert_string_equal(got->pattern, "/v1/tenants/*");
    p = "//v1//tenants";
    assert_int_equal(admin_route_find("POST", 4, p, strlen(p), &got, allow, sizeof allow), 0);
    assert_string_equal(got->pattern, "/v1/tenants");
    /* Only the page is served without the token. */
    for (size_t i = 0; i < admin_route_count(); i++)
        assert_int_equal(admin_route_at(i)->auth, strcmp(admin_route_at(i)->pattern, "/") == 0
                                                      ? ADMIN_AUTH_NONE
                                                      : ADMIN_AUTH_TOKEN);
    assert_null(admin_route_at(admin_route_count()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_and_method),
        cmocka_unit_test(test_known_allow_values),
        cmocka_unit_test(test_not_found_and_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
