/*
 * worker/vat.c (unit) — invoice arithmetic (vat.c): line totals, TVA rounded half
 * up once on the HT total, TTC, and the overflow and range checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "vat.h"

static void test_line_total(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_int_equal(vat_line_total(3, 15000, &t), 0);
    assert_int_equal(t, 45000);
    assert_int_equal(vat_line_total(1, 0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(vat_line_total(0, 100, &t), -EINVAL);
    assert_int_equal(vat_line_total(-1, 100, &t), -EINVAL);
    assert_int_equal(vat_line_total(1, -100, &t), -EINVAL);
}

static void test_line_overflow(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(vat_line_total(INT64_MAX, 2, &t), -EOVERFLOW);
    assert_int_equal(vat_line_total(1000000, INT64_MAX / 1000, &t), -EOVERFLOW);
    /* Exactly the cap is accepted, one cent more is not. */
    assert_int_equal(vat_line_total(1, VAT_MAX_CENTS, &t), 0);
    assert_int_equal(vat_line_total(1, VAT_MAX_CENTS + 1, &t), -EOVERFLOW);
    assert_int_equal(vat_line_total(2, VAT_MAX_CENTS / 2 + 1, &t), -EOVERFLOW);
}

static void test_tax_rounding(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_int_equal(vat_tax(0, 2000, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(vat_tax(10000, 2000, &v), 0); /* 100 € at 20 % */
    assert_int_equal(v, 2000);
    /* 0.025 € of tax (2.5 cents) rounds half up to 3 cents. */
    assert_int_equal(vat_tax(1250, 200, &v), 0);
    assert_int_equal(v, 25);
    assert_int_equal(vat_tax(125, 2000, &v), 0); /* 25.0 cents exactly */
    assert_int_equal(v, 25);
    assert_int_equal(vat_tax(1, 5000, &v), 0); /* 0.5 cent → 1 */
    assert_int_equal(v, 1);
    assert_int_equal(vat_tax(1, 4999, &v), 0); /* 0.4999 cent → 0 */
    assert_int_equal(v, 0);
    assert_int_equal(vat_tax(3, 2000, &v), 0); /* 0.6 → 1 */
    assert_int_equal(v, 1);
    assert_int_equal(vat_tax(2, 2000, &v), 0); /* 0.4 → 0 */
    assert_int_equal(v, 0);
    assert_int_equal(vat_tax(199, 550, &v), 0); /* 5.5 %: 10.945 → 11 */
    assert_int_equal(v, 11);
    assert_int_equal(vat_tax(1000, 0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(vat_tax(1000, 10000, &v), 0);
    assert_int_equal(v, 1000);
}

static void test_tax_large_and_invalid(void **state)
{
    (void)state;
    int64_t v = 0;
    /* The largest HT: no intermediate overflow. */
    assert_int_equal(vat_tax(VAT_MAX_CENTS, 2000, &v), 0);
    assert_int_equal(v, VAT_MAX_CENTS / 5);
    assert_int_equal(vat_tax(VAT_MAX_CENTS - 1, 2000, &v), 0);
    assert_int_equal(v, VAT_MAX_CENTS / 5); /* ...199.8 rounds up to ...200 */
    assert_int_equal(vat_tax(VAT_MAX_CENTS - 3, 2000, &v), 0);
    assert_int_equal(v, VAT_MAX_CENTS / 5 - 1); /* ...199.4 rounds down */
    assert_int_equal(vat_tax(VAT_MAX_CENTS - 3, 10000, &v), 0);
    assert_int_equal(v, VAT_MAX_CENTS - 3);
    assert_int_equal(vat_tax(VAT_MAX_CENTS + 1, 2000, &v), -EOVERFLOW);
    assert_int_equal(vat_tax(-1, 2000, &v), -EINVAL);
    assert_int_equal(vat_tax(100, -1, &v), -EINVAL);
    assert_int_equal(vat_tax(100, 10001, &v), -EINVAL);
}

static void test_totals(void **state)
{
    (void)state;
    struct vat_totals t;
    const int64_t lines[] = {45000, 12050, 1};
    assert_int_equal(vat_totals(lines, 3, 2000, &t), 0);
    assert_int_equal(t.ht_cents, 57051);
    assert_int_equal(t.tva_cents, 11410); /* 11410.2 */
    assert_int_equal(t.ttc_cents, 68461);

    /* Rounding on the total, not per line: three lines of 0.5 cent tax
     * would give 3 cents rounded per line, 2 cents (1.5 → 2) on the total. */
    const int64_t small[] = {1, 1, 1};
    assert_int_equal(vat_totals(small, 3, 5000, &t), 0);
    assert_int_equal(t.tva_cents, 2);
    assert_int_equal(t.ttc_cents, 5);

    assert_int_equal(vat_totals(NULL, 0, 2000, &t), 0);
    assert_int_equal(t.ht_cents, 0);
    assert_int_equal(t.ttc_cents, 0);
}

static void test_totals_overflow(void **state)
{
    (void)state;
    struct vat_totals t;
    const int64_t big[] = {VAT_MAX_CENTS, 1};
    assert_int_equal(vat_totals(big, 2, 0, &t), -EOVERFLOW);
    const int64_t huge[] = {INT64_MAX, INT64_MAX};
    assert_int_equal(vat_totals(huge, 2, 2000, &t), -EOVERFLOW);
    /* HT at the cap, but TTC = HT + TVA would pass it. */
    const int64_t cap[] = {VAT_MAX_CENTS};
    assert_int_equal(vat_totals(cap, 1, 2000, &t), -EOVERFLOW);
    assert_int_equal(vat_totals(cap, 1, 0, &t), 0);
    const int64_t neg[] = {5, -1};
    assert_int_equal(vat_totals(neg, 2, 2000, &t), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_total),   cmocka_unit_test(test_line_overflow),
        cmocka_unit_test(test_tax_rounding), cmocka_unit_test(test_tax_large_and_invalid),
        cmocka_unit_test(test_totals),       cmocka_unit_test(test_totals_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
