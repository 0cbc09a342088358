/*
 * worker/invoice_num.c (unit) — invoice numbers (invoice_num.c): the format, its
 * widening past 9999, strict parsing, and the year of an instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "invoice_num.h"

static void test_format(void **state)
{
    (void)state;
    char b[INVNUM_BUF];
    assert_int_equal(invnum_format(2026, 1, b, sizeof b), 0);
    assert_string_equal(b, "2026-0001");
    assert_int_equal(invnum_format(2026, 42, b, sizeof b), 0);
    assert_string_equal(b, "2026-0042");
    assert_int_equal(invnum_format(2026, 9999, b, sizeof b), 0);
    assert_string_equal(b, "2026-9999");
    assert_int_equal(invnum_format(2026, 10000, b, sizeof b), 0);
    assert_string_equal(b, "2026-10000");
    assert_int_equal(invnum_format(2026, 0, b, sizeof b), -EINVAL);
    assert_int_equal(invnum_format(1999, 1, b, sizeof b), -EINVAL);
    assert_int_equal(invnum_format(10000, 1, b, sizeof b), -EINVAL);
    assert_int_equal(invnum_format(2026, INVNUM_MAX_SEQ + 1, b, sizeof b), -EINVAL);
    char tiny[6];
    assert_int_equal(invnum_format(2026, 1, tiny, sizeof tiny), -ENAMETOOLONG);
}

static void test_parse(void **state)
{
    (void)state;
    int y = 0;
    int64_t s = 0;
    assert_int_equal(invnum_parse("2026-0001", &y, &s), 0);
    assert_int_equal(y, 2026);
    assert_int_equal(s, 1);
    assert_int_equal(invnum_parse("2027-10000", &y, &s), 0);
    assert_int_equal(y, 2027);
    assert_int_equal(s, 10000);
    const char *bad[] = {
        "",           "2026",      "2026-",     "2026-1",         "2026-001",      "2026-0000",
        "2026-00001", "26-0001",   "2026_0001", "2026-0001 ",     " 2026-0001",    "2026-+001",
        "2026-0x01",  "1999-0001", "abcd-0001", "2026-123456789", "2026-0001/../x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(invnum_parse(bad[i], &y, &s), -EINVAL);
}

static void test_round_trip(void **state)
{
    (void)state;
    char b[INVNUM_BUF];
    const int64_t seqs[] = {1, 9, 10, 999, 1000, 9999, 10000, 123456, INVNUM_MAX_SEQ};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        int y;
        int64_t s;
        assert_int_equal(invnum_format(2031, seqs[i], b, sizeof b), 0);
        assert_int_equal(invnum_parse(b, &y, &s), 0);
        assert_int_equal(y, 2031);
        assert_int_equal(s, seqs[i]);
    }
}

static void test_year_rollover(void **state)
{
    (void)state;
    /* The test runs in UTC (main sets TZ). */
    assert_int_equal(invnum_year(1798761599), 2026); /* 2026-12-31T23:59:59Z */
    assert_int_equal(invnum_year(1798761600), 2027); /* 2027-01-01T00:00:00Z */
    assert_int_equal(invnum_year(1767225600), 2026); /* 2026-01-01T00:00:00Z */
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_year_rollover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
