/*
 * worker/deadlines.c (unit) — deadline arithmetic (deadline_rules.c): leap years,
 * month ends, day counts, Easter and the holidays derived from it, weekend
 * and holiday extension, every rule of templates/worker/rules/deadlines.rules,
 * urgency thresholds, and the rule file parser's errors.
 * Run from the repository root (make test does), where the rule files are.
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

#include "deadline_rules.h"

static struct deadline_rules R;

static struct deadline_date D(const char *s) {
    struct deadline_date d = {0, 0, 0};
    if (deadline_parse_date(s, &d) != 0)
        fail_msg("bad date in test: %s", s);
    return d;
}

static void
assert_date(struct deadline_date d, const char *want)
{
    char b[16];
    deadline_format_date(d, b, sizeof b);
    assert_string_equal(b, want);
}

static int setup(void **state)
{
    (void)state;
    char err[512] = "";
    if (deadline_rules_load(&R, "templates/worker/rules/deadlines.rules", err, sizeof err) != 0 ||
        deadline_holidays_load(&R, "templates/worker/rules/holidays.rules", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    deadline_rules_free(&R);
    return 0;
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_true(deadline_is_leap(2024));
    assert_true(deadline_is_leap(2028));
    assert_true(deadline_is_leap(2000));
    assert_false(deadline_is_leap(2100));
    assert_false(deadline_is_leap(2026));
    assert_int_equal(deadline_days_in_month(2024, 2), 29);
    assert_int_equal(deadline_days_in_month(2028, 2), 29);
    assert_int_equal(deadline_days_in_month(2100, 2), 28);
    assert_int_equal(deadline_days_in_month(2026, 2), 28);
    assert_int_equal(deadline_days_in_month(2026, 4), 30);
    assert_int_equal(deadline_days_in_month(2026, 12), 31);
}

static void test_parse_date(void **state)
{
    (void)state;
    struct deadline_date d;
    assert_int_equal(deadline_parse_date("2024-02-29", &d), 0);
    assert_int_equal(deadline_parse_date("2028-02-29", &d), 0);
    const char *bad[] = {"2026-02-29", "2100-02-29", "2026-1-01",  "2026-13-01",  "2026-00-10",
                         "2026-04-31", "1899-12-31", "3000-01-01", "2026-01-01x", "",
                         "2026/01/01", "+026-01-01", "2026-01-1",  " 2026-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(deadline_parse_date(bad[i], &d), -EINVAL);
}

static void test_days_and_weekdays(void **state)
{
    (void)state;
    assert_int_equal(deadline_to_days(D("1970-01-01")), 0);
    assert_date(deadline_from_days(0), "1970-01-01");
    assert_date(deadline_add_days(D("2026-12-31"), 1), "2027-01-01");
    assert_date(deadline_add_days(D("2024-02-28"), 1), "2024-02-29");
    assert_date(deadline_add_days(D("2100-02-28"), 1), "2100-03-01");
    assert_date(deadline_add_days(D("2026-03-01"), -1), "2026-02-28");
    assert_date(deadline_add_days(D("2026-01-01"), 365), "2027-01-01");
    assert_date(deadline_add_days(D("2028-01-01"), 365), "2028-12-31");
    assert_int_equal(deadline_weekday(D("2026-11-21")), 5); /* Saturday */
    assert_int_equal(deadline_weekday(D("2026-03-08")), 6); /* Sunday */
    assert_int_equal(deadline_weekday(D("2026-03-02")), 0); /* Monday */
    assert_int_equal(deadline_weekday(D("1900-01-01")), 0); /* Monday */
    /* Round trip over several centuries. */
    for (int64_t z = -25567; z < 400000; z += 997)
        assert_int_equal(deadline_to_days(deadline_from_days(z)), z);
}

static void test_month_ends(void **state)
{
    (void)state;
    assert_date(deadline_add_months(D("2026-01-31"), 1), "2026-02-28");
    assert_date(deadline_add_months(D("2024-01-31"), 1), "2024-02-29");
    assert_date(deadline_add_months(D("2028-01-30"), 1), "2028-02-29");
    assert_date(deadline_add_months(D("2100-01-31"), 1), "2100-02-28");
    assert_date(deadline_add_months(D("2026-03-31"), 1), "2026-04-30");
    assert_date(deadline_add_months(D("2026-12-15"), 2), "2027-02-15");
    assert_date(deadline_add_months(D("2026-11-30"), 3), "2027-02-28");
    assert_date(deadline_add_months(D("2026-08-31"), 6), "2027-02-28");
    assert_date(deadline_add_months(D("2024-02-29"), 12), "2025-02-28");
    assert_date(deadline_add_months(D("2026-05-15"), 0), "2026-05-15");
}

static void test_easter(void **state)
{
    (void)state;
    static const struct {
        int y;
        const char *d;
    } e[] = {{2019, "2019-04-21"}, {2024, "2024-03-31"}, {2025, "2025-04-20"},
             {2026, "2026-04-05"}, {2027, "2027-03-28"}, {2028, "2028-04-16"},
             {2038, "2038-04-25"}, {2285, "2285-03-22"}, {2100, "2100-03-28"}};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        assert_date(deadline_easter(e[i].y), e[i].d);
}

static void test_holidays(void **state)
{
    (void)state;
    const char *hol[] = {"2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14",
                         "2026-05-25", "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11",
                         "2026-12-25", "2024-04-01", "2024-05-09", "2024-05-20", "2028-04-17",
                         "2028-05-25", "2028-06-05"};
    for (size_t i = 0; i < sizeof hol / sizeof hol[0]; i++)
        assert_true(deadline_is_holiday(&R, D(hol[i])));
    assert_false(deadline_is_holiday(&R, D("2026-04-05"))); /* Easter Sunday is a Sunday */
    assert_false(deadline_is_holiday(&R, D("2026-04-07")));
    assert_false(deadline_is_holiday(&R, D("2026-12-26")));
    assert_false(deadline_is_working_day(&R, D("2026-11-21"))); /* Saturday */
    assert_false(deadline_is_working_day(&R, D("2026-07-14")));
    assert_true(deadline_is_working_day(&R, D("2026-07-15")));
}

/* The deadline of type for a notification date, as "YYYY-MM-DD" or
 * "YYYY-MM-DDTHH:MM". */
static void expect(const char *type, const char *notified, const char *want, bool extended)
{
    const struct deadline_rule *r = deadline_rule_find(&R, type);
    struct deadline_result res;
    char b[32];
    if (r == NULL)
        fail_msg("no rule %s", type);
    assert_int_equal(deadline_compute(&R, r, D(notified), &res), 0);
    deadline_format_date(res.date, b, sizeof b);
    if (res.has_time)
        snprintf(b + 10, sizeof b - 10, "T%02d:%02d", res.hour, res.minute);
    if (strcmp(b, want) != 0)
        fail_msg("%s notified %s: got %s, want %s", type, notified, b, want);
    assert_int_equal(res.extended, extended);
}

static void test_rules(void **state)
{
    (void)state;
    /* 48 hours from 00:00, never extended, even onto a Sunday. */
    expect("oqtf_sans_delai", "2026-03-06", "2026-03-08T00:00", false);
    expect("oqtf_retention", "2026-12-31", "2027-01-02T00:00", false);
    expect("appel_ordonnance_jld", "2026-03-06", "2026-03-07T00:00", false);
    /* 30 days: a Tuesday stays, a Saturday moves to Monday, 14 July to 15. */
    expect("oqtf_avec_delai", "2026-03-01", "2026-03-31", false);
    expect("oqtf_avec_delai", "2026-04-02", "2026-05-04", true);
    expect("oqtf_avec_delai", "2026-06-14", "2026-07-15", true);
    expect("oqtf_avec_delai", "2026-04-14", "2026-05-15", true); /* Ascension */
    expect("refus_visa_crrv", "2026-11-25", "2026-12-28", true); /* Christmas, then weekend */
    /* Calendar only: a Saturday end stays a Saturday. */
    expect("delai_depart_volontaire", "2026-04-02", "2026-05-02", false);
    /* Months with month-end clamping, then extension. */
    expect("refus_titre_recours_gracieux", "2025-12-31", "2026-03-02", true);
    expect("recours_cnda", "2024-01-31", "2024-02-29", false);
    expect("recours_cnda", "2026-03-06", "2026-04-07", true); /* Easter Monday */
    expect("recours_cnda", "2026-12-01", "2027-01-04", true); /* New Year's Day, weekend */
    /* Délai franc: one more day, then extended (1 May → 2 May Sat → 4 May). */
    expect("refus_titre_recours_contentieux", "2026-03-01", "2026-05-04", true);
    expect("appel_jugement_oqtf", "2026-06-10", "2026-07-13", true);
    expect("pourvoi_cassation_ce", "2026-01-05", "2026-03-06", false);
    expect("appel_refere_liberte", "2026-04-21", "2026-05-06", false);
}

static void test_every_rule_computes(void **state)
{
    (void)state;
    assert_true(R.nrules >= 10);
    const char *dates[] = {"2024-02-29", "2026-01-31", "2026-12-31", "2100-02-28"};
    for (size_t i = 0; i < R.nrules; i++) {
        const struct deadline_rule *r = &R.rules[i];
        assert_true(r->label[0] != '\0' && r->reference[0] != '\0');
        for (size_t k = 0; k < sizeof dates / sizeof dates[0]; k++) {
            struct deadline_result res;
            struct deadline_date n = D(dates[k]);
            assert_int_equal(deadline_compute(&R, r, n, &res), 0);
            assert_true(deadline_date_valid(res.date));
            assert_true(deadline_to_days(res.date) > deadline_to_days(n));
            if (!res.has_time && r->extension != DEADLINE_CALENDAR)
                assert_true(deadline_is_working_day(&R, res.date));
        }
    }
    /* The last representable years do not compute past the range. */
    struct deadline_result res;
    assert_int_equal(
        deadline_compute(&R, deadline_rule_find(&R, "recours_cnda"), D("2999-12-15"), &res),
        -EINVAL);
}

static void test_urgency(void **state)
{
    (void)state;
    assert_string_equal(deadline_urgency(-1), "overdue");
    assert_string_equal(deadline_urgency(0), "critical");
    assert_string_equal(deadline_urgency(2), "critical");
    assert_string_equal(deadline_urgency(3), "high");
    assert_string_equal(deadline_urgency(7), "high");
    assert_string_equal(deadline_urgency(8), "normal");
    assert_string_equal(deadline_urgency(30), "normal");
    assert_string_equal(deadline_urgency(31), "low");
}

static void expect_rules_error(const char *text, const char *fragment)
{
    struct deadline_rules r = {0};
    char err[256] = "";
    assert_int_not_equal(deadline_rules_parse(&r, text, strlen(text), err, sizeof err), 0);
    if (strstr(err, fragment) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
    assert_null(r.rules);
}

static void test_rules_file_errors(void **state)
{
    (void)state;
    const char *ok = "[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                     "reference = X\n";
    struct deadline_rules r = {0};
    char err[256];
    assert_int_equal(deadline_rules_parse(&r, ok, strlen(ok), err, sizeof err), 0);
    assert_int_equal(r.nrules, 1);
    deadline_rules_free(&r);

    expect_rules_error("", "no rule");
    expect_rules_error("label = x\n", "line 1");
    expect_rules_error("[a]\nlabel = A\n", "needs label, duration");
    expect_rules_error("[a]\nlabel = A\nlabel = B\n", "line 3: label is given twice");
    expect_rules_error("[a]\ncolour = red\n", "unknown key");
    expect_rules_error("[a]\nunit = weeks\n", "hours, days or months");
    expect_rules_error("[a]\nduration = 0\n", "from 1 to 1000");
    expect_rules_error("[a]\nduration = 12abc\n", "from 1 to 1000");
    expect_rules_error("[a]\nlabel = A\nduration = 48\nunit = hours\n"
                       "calendar = extend_to_next_working_day\nreference = X\n",
                       "counts in hours");
    expect_rules_error("[a-b]\n", "a procedure type");
    expect_rules_error("[broken\n", "line 1");
    expect_rules_error("[a]\njust words\n", "line 2: expected");
    char big[2100];
    memset(big, 'x', sizeof big);
    memcpy(big, "[a]\nlabel = ", 12);
    big[sizeof big - 1] = '\0';
    expect_rules_error(big, "longer than");
    const char nul[] = "[a]\nlabel = A\0B\n";
    struct deadline_rules r2 = {0};
    assert_int_equal(deadline_rules_parse(&r2, nul, sizeof nul - 1, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "NUL"));
}

static void test_holidays_file_errors(void **state)
{
    (void)state;
    struct deadline_rules r = {0};
    char err[256];
    const char *ok = "[x]\nlabel = X\ndate = 02-29\n[y]\nlabel = Y\neaster = -2\n";
    assert_int_equal(deadline_holidays_parse(&r, ok, strlen(ok), err, sizeof err), 0);
    assert_int_equal(r.nholidays, 2);
    assert_true(deadline_is_holiday(&r, D("2026-04-03"))); /* Good Friday 2026 */
    deadline_rules_free(&r);
    const char *bad[] = {"[x]\nlabel = X\n",
                         "[x]\nlabel = X\ndate = 13-01\n",
                         "[x]\nlabel = X\ndate = +1-01\n",
                         "[x]\nlabel = X\ndate = 1-1\n",
                         "[x]\nlabel = X\neaster = 61\n",
                         "[x]\nlabel = X\ndate = 01-01\neaster = 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(deadline_holidays_parse(&r, bad[i], strlen(bad[i]), err, sizeof err),
                             0);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_days_and_weekdays),
        cmocka_unit_test(test_month_ends),
        cmocka_unit_test(test_easter),
        cmocka_unit_test(test_holidays),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_every_rule_computes),
        cmocka_unit_test(test_urgency),
        cmocka_unit_test(test_rules_file_errors),
        cmocka_unit_test(test_holidays_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
