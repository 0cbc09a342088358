/*
 * common/usage_token.c (unit) — unit tests of common/usage_token.c: a fixed vector
 * (computed independently with Python's hashlib and hmac), the length
 * prefixes that keep (id, secret) pairs apart, and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "usage_token.h"

static void test_vector(void **state)
{
    char out[USAGE_TOKEN_LEN + 1];
    assert_int_equal(usage_token("dupont", "s3cret", out, sizeof out), 0);
    assert_string_equal(out, "vixfIAbnQUdm2VCdlULBf1Z9wrv0zVm3bqrZtoXwG7o");
    assert_int_equal(strlen(out), USAGE_TOKEN_LEN);
}

static void test_parts_do_not_run_together(void **state)
{
    char out[USAGE_TOKEN_LEN + 1];
    assert_int_equal(usage_token("dupon", "ts3cret", out, sizeof out), 0);
    assert_string_equal(out, "eQ3RRfLXPOsQytm3CCN-hRegaWrkeHvaeYqbhxNRLlw");
}

static void test_bad_input(void **state)
{
    char out[USAGE_TOKEN_LEN + 1];
    assert_int_equal(usage_token("", "s", out, sizeof out), -EINVAL);
    assert_int_equal(usage_token("d", "", out, sizeof out), -EINVAL);
    assert_int_equal(usage_token(NULL, "s", out, sizeof out), -EINVAL);
    assert_int_equal(usage_token("d", NULL, out, sizeof out), -EINVAL);
    assert_int_equal(usage_token("d", "s", out, USAGE_TOKEN_LEN), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_parts_do_not_run_together),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
