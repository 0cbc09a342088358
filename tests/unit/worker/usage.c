/*
 * worker/usage.c (unit) — plan limits and the monthly bill (usage.c): the limit
 * decision with and without an overage price, the overage arithmetic, and
 * the billing month and next billing date.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "usage.h"

static void test_decide(void **state)
{
    (void)state;
    /* Starter: 100 a month, 500 stored, no overage price. */
    assert_int_equal(usage_decide(0, 0, 100, 500, 0), USAGE_ALLOW);
    assert_int_equal(usage_decide(99, 99, 100, 500, 0), USAGE_ALLOW);
    assert_int_equal(usage_decide(100, 100, 100, 500, 0), USAGE_BLOCK_MONTHLY);
    assert_int_equal(usage_decide(10, 500, 100, 500, 0), USAGE_BLOCK_CASES);
    /* Professional: 50 cents per analysis over 500. */
    assert_int_equal(usage_decide(499, 499, 500, 2000, 50), USAGE_ALLOW);
    assert_int_equal(usage_decide(500, 500, 500, 2000, 50), USAGE_OVERAGE);
    assert_int_equal(usage_decide(900, 1999, 500, 2000, 50), USAGE_OVERAGE);
    /* Storage is never bought by overage. */
    assert_int_equal(usage_decide(900, 2000, 500, 2000, 50), USAGE_BLOCK_CASES);
    /* Negative: no limit; 0: none allowed (a missing setting fails closed). */
    assert_int_equal(usage_decide(1000000, 1000000, -1, -1, 0), USAGE_ALLOW);
    assert_int_equal(usage_decide(0, 0, 0, 500, 0), USAGE_BLOCK_MONTHLY);
    assert_int_equal(usage_decide(0, 0, 100, 0, 0), USAGE_BLOCK_CASES);
}

static void test_limit_reached(void **state)
{
    (void)state;
    assert_false(usage_limit_reached(9, 10));
    assert_true(usage_limit_reached(10, 10));
    assert_true(usage_limit_reached(11, 10));
    assert_false(usage_limit_reached(1000, -1));
    assert_true(usage_limit_reached(0, 0));
}

static void test_bill(void **state)
{
    (void)state;
    struct usage_bill b;
    assert_int_equal(usage_bill(0, 29900, 50, &b), 0);
    assert_int_equal(b.overage_fees_cents, 0);
    assert_int_equal(b.total_due_cents, 29900); /* the seed's 299.00 */
    assert_int_equal(usage_bill(37, 29900, 50, &b), 0);
    assert_int_equal(b.overage_count, 37);
    assert_int_equal(b.overage_fees_cents, 1850);
    assert_int_equal(b.total_due_cents, 31750);
    assert_int_equal(usage_bill(1000, 59900, 30, &b), 0);
    assert_int_equal(b.total_due_cents, 89900);
    assert_int_equal(usage_bill(5, 9900, 0, &b), 0);
    assert_int_equal(b.total_due_cents, 9900);
    assert_int_equal(usage_bill(-1, 9900, 50, &b), -EINVAL);
    assert_int_equal(usage_bill(1, -1, 50, &b), -EINVAL);
    assert_int_equal(usage_bill(INT64_MAX, 9900, 50, &b), -EOVERFLOW);
    assert_int_equal(usage_bill(1, INT64_MAX, 1, &b), -EOVERFLOW);
}

static void test_month_and_next_billing(void **state)
{
    (void)state;
    char m[8], n[16];
    assert_int_equal(usage_month(1737000000, m, sizeof m), 0); /* 2025-01-16 */
    assert_string_equal(m, "2025-01");
    assert_int_equal(usage_next_billing(1737000000, n, sizeof n), 0);
    assert_string_equal(n, "2025-02-01");                             /* the seed's example */
    assert_int_equal(usage_next_billing(1798761599, n, sizeof n), 0); /* 2026-12-31 */
    assert_string_equal(n, "2027-01-01");
    assert_int_equal(usage_month(1798761600, m, sizeof m), 0);
    assert_string_equal(m, "2027-01");
    char tiny[4];
    assert_int_equal(usage_month(0, tiny, sizeof tiny), -EINVAL);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_limit_reached),
        cmocka_unit_test(test_bill),
        cmocka_unit_test(test_month_and_next_billing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
