/*
 * common/http_status.c (unit) — the shared HTTP helpers (common/http_status.c):
 * reason phrases, listed and by class, and the Allow header a route table
 * builds (no duplicates, GET brings HEAD, whole names only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_status.h"

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(202), "Accepted");
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(405), "Method Not Allowed");
    assert_string_equal(http_reason(429), "Too Many Requests");
    assert_string_equal(http_reason(504), "Gateway Timeout");
    assert_string_equal(http_reason(418), "Client Error");
    assert_string_equal(http_reason(599), "Internal Server Error");
}

static void test_allow(void **state)
{
    (void)state;
    char allow[64] = "";
    http_allow_add(allow, sizeof allow, "POST");
    assert_string_equal(allow, "POST");
    http_allow_add(allow, sizeof allow, "GET");
    assert_string_equal(allow, "POST, GET, HEAD");
    http_allow_add(allow, sizeof allow, "POST");
    http_allow_add(allow, sizeof allow, "GET");
    assert_string_equal(allow, "POST, GET, HEAD");
    http_allow_add(allow, sizeof allow, "DELETE");
    assert_string_equal(allow, "POST, GET, HEAD, DELETE");

    /* A name that is part of another is still added. */
    char a2[32] = "";
    http_allow_add(a2, sizeof a2, "PATCHX");
    http_allow_add(a2, sizeof a2, "PATCH");
    assert_string_equal(a2, "PATCHX, PATCH");

    /* Truncated, never overrun. */
    char small[8] = "";
    http_allow_add(small, sizeof small, "DELETE");
    http_allow_add(small, sizeof small, "GET");
    assert_true(strlen(small) < sizeof small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
