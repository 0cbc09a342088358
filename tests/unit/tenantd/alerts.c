/*
 * tenantd/alerts.c (unit) — the webhook signature (alerts_sign) against the
 * HMAC-SHA256 vectors of RFC 4231, and the billing month check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admin_internal.h"
#include "alerts.h"

static void test_rfc4231_case2(void **state)
{
    (void)state;
    char hex[65];
    const char *data = "what do ya want for nothing?";
    alerts_sign((const unsigned char *)"Jefe", 4, data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_rfc4231_case1(void **state)
{
    (void)state;
    unsigned char key[20];
    char hex[65];
    memset(key, 0x0b, sizeof key);
    alerts_sign(key, sizeof key, "Hi There", 8, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(alert_kind_name(ALERT_TENANT_FAILED), "tenant_failed");
    assert_string_equal(alert_kind_name(ALERT_CERT_EXPIRY), "cert_expiry");
    assert_string_equal(alert_kind_name(ALERT__COUNT), "unknown");
}

static void test_billing_month(void **state)
{
    (void)state;
    assert_true(admin_billing_month_valid("2026-11"));
    assert_true(admin_billing_month_valid("2026-01"));
    assert_false(admin_billing_month_valid("2026-13"));
    assert_false(admin_billing_month_valid("2026-00"));
    assert_false(admin_billing_month_valid("2026-1"));
    assert_false(admin_billing_month_valid("0999-01"));
    assert_false(admin_billing_month_valid("2026-01x"));
    assert_false(admin_billing_month_valid("abcd-ef"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231_case1),
        cmocka_unit_test(test_rfc4231_case2),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_billing_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
