/*
 * worker/deadlines.c (unit) — deadline arithmetic (deadline_rules.c): leap years,
 * month ends, day counts, Easter and the holidays derived from it, weekend
 * and holiday extension, worked cases for every rule of
 * templates/worker/rules/deadlines.rules under the regime in force on the
 * notification date (each citing the text it follows), urgency thresholds,
 * and the rule file parser's errors (dated periods that must not overlap).
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

/*
 * The deadline of type for a notification on date notified at time ("HH:MM",
 * or NULL), under the rule in force on that date, as "YYYY-MM-DDTHH:MM"
 * (23:59 for rules in days and months: the end of the last day).
 */
static void expect_at(const char *type, const char *notified, const char *time, const char *want,
                      bool extended)
{
    const struct deadline_rule *r = deadline_rule_find(&R, type, D(notified));
    struct deadline_result res;
    char b[32];
    int minute = -1;
    if (r == NULL)
        fail_msg("no rule %s in force on %s", type, notified);
    if (time != NULL && deadline_parse_time(time, &minute) != 0)
        fail_msg("bad time in test: %s", time);
    assert_int_equal(deadline_compute(&R, r, D(notified), minute, &res), 0);
    deadline_format_date(res.date, b, sizeof b);
    snprintf(b + 10, sizeof b - 10, "T%02d:%02d", res.hour, res.minute);
    if (strcmp(b, want) != 0)
        fail_msg("%s notified %s %s: got %s, want %s", type, notified, time ? time : "", b, want);
    assert_int_equal(res.extended, extended);
}

/* The same for a rule in days or months: want is the last day. */
static void expect(const char *type, const char *notified, const char *want, bool extended)
{
    char w[32];
    snprintf(w, sizeof w, "%sT23:59", want);
    expect_at(type, notified, NULL, w, extended);
}

/*
 * OQTF since 15 July 2024: the measure restricting liberty decides
 * (loi n° 2024-42 du 26 janvier 2024, art. 72; décret n° 2024-799).
 */
static void test_oqtf_new_regime(void **state)
{
    (void)state;
    /* Procédure ordinaire, CESEDA L. 911-1: one month, same day number, the
     * month's last day when it has none, then the next working day (the rule
     * computes the earlier, non-franc date: see its note). */
    expect("oqtf_ordinaire", "2025-01-31", "2025-02-28", false); /* month end, a Friday */
    expect("oqtf_ordinaire", "2026-01-31", "2026-03-02", true);  /* Sat 28 Feb → Monday */
    expect("oqtf_ordinaire", "2026-10-11", "2026-11-12", true);  /* 11 Nov, holiday */
    expect("oqtf_ordinaire", "2024-07-15", "2024-08-16", true);  /* 15 Aug, first day in force */
}

static void test_oqtf_new_regime_liberty(void **state)
{
    (void)state;
    /* Assignation à résidence or detention, CESEDA L. 921-1: seven days, not
     * franc, from the day after notification to the seventh day at midnight
     * (CAA Lyon, 19 décembre 2024, n° 24LY03013): Friday → next Friday. */
    expect("oqtf_assignation_detention", "2026-11-27", "2026-12-04", false);
    /* Not extended either: a Sunday or 14 July stays the last day (same
     * decision: "ne peut être prorogé"). */
    expect("oqtf_assignation_detention", "2026-03-01", "2026-03-08", false);
    expect("oqtf_assignation_detention", "2026-07-07", "2026-07-14", false);
    /* The time of notification changes nothing for a delay in days. */
    expect_at("oqtf_assignation_detention", "2026-11-27", "16:00", "2026-12-04T23:59", false);
    /* Rétention administrative, CESEDA L. 921-2: 48 hours "d'heure à heure"
     * from notification, never extended (CE, avis, 14 novembre 2024,
     * n° 496412): Friday 16:00 → Sunday 16:00. */
    expect_at("oqtf_retention", "2026-11-27", "16:00", "2026-11-29T16:00", false);
    expect_at("oqtf_retention", "2026-12-31", "23:30", "2027-01-02T23:30", false);
    expect_at("oqtf_retention", "2026-12-23", "10:00", "2026-12-25T10:00", false); /* Christmas */
    expect_at("oqtf_retention", "2024-07-15", "00:00", "2024-07-17T00:00", false);
    /* Without the hour there is no answer. */
    struct deadline_result res;
    const struct deadline_rule *r = deadline_rule_find(&R, "oqtf_retention", D("2026-11-27"));
    assert_non_null(r);
    assert_int_equal(deadline_compute(&R, r, D("2026-11-27"), -1, &res), -ENODATA);
    assert_int_equal(deadline_compute(&R, r, D("2026-11-27"), 24 * 60, &res), -EINVAL);
    /* Appeal of the judgment, CESEDA R. 922-27: one month. */
    expect("appel_jugement_oqtf", "2026-06-10", "2026-07-10", false);
    expect("appel_jugement_oqtf", "2026-03-31", "2026-04-30", false);
    expect("appel_jugement_oqtf", "2026-06-14", "2026-07-15", true); /* 14 July */
}

/* OQTF before 15 July 2024: the voluntary-departure period decided
 * (CESEDA L. 614-4 to L. 614-8 and CJA R. 776-2 and R. 776-9 as then worded). */
static void test_oqtf_old_regime(void **state)
{
    (void)state;
    /* 30 days with a departure period (L. 614-4, R. 776-2): 31 March 2024 is
     * Easter Sunday and 1 April Easter Monday → Tuesday 2 April. */
    expect("oqtf_avec_delai", "2024-03-01", "2024-04-02", true);
    expect("oqtf_avec_delai", "2023-01-31", "2023-03-02", false); /* across February */
    /* 15 days, délai franc (CE, avis, 30 juillet 2021, n° 452878): 29 Feb
     * 2024 (leap year) + 1 day. */
    expect("oqtf_avec_delai_15j", "2024-02-14", "2024-03-01", false);
    /* 48 hours without a departure period (L. 614-6): onto Sunday 14 July,
     * a holiday, not extended. */
    expect_at("oqtf_sans_delai", "2024-07-12", "16:00", "2024-07-14T16:00", false);
    /* The same type name under both regimes: notified the day before the
     * reform, it computes under L. 614-8. */
    const struct deadline_rule *old = deadline_rule_find(&R, "oqtf_retention", D("2024-07-14"));
    const struct deadline_rule *now = deadline_rule_find(&R, "oqtf_retention", D("2024-07-15"));
    assert_non_null(old);
    assert_non_null(now);
    assert_ptr_not_equal(old, now);
    assert_non_null(strstr(old->reference, "L. 614-8"));
    assert_non_null(strstr(now->reference, "L. 921-2"));
    expect_at("oqtf_retention", "2024-07-13", "09:15", "2024-07-15T09:15", false);
    /* Appeal, R. 776-9 CJA: one month, franc (CAA Nantes, 30 septembre 2022,
     * n° 22NT01036). */
    expect("appel_jugement_oqtf", "2024-06-10", "2024-07-11", false);
}

/* Which types exist on a date: the set itself is dated. */
static void test_types_by_date(void **state)
{
    (void)state;
    struct deadline_date before = D("2024-07-14"), after = D("2024-07-15");
    assert_non_null(deadline_rule_find(&R, "oqtf_avec_delai", before));
    assert_null(deadline_rule_find(&R, "oqtf_avec_delai", after));
    assert_null(deadline_rule_find(&R, "oqtf_sans_delai", after));
    assert_null(deadline_rule_find(&R, "oqtf_ordinaire", before));
    assert_non_null(deadline_rule_find(&R, "oqtf_ordinaire", after));
    assert_null(deadline_rule_find(&R, "oqtf_assignation_detention", before));
    assert_true(deadline_type_known(&R, "oqtf_avec_delai"));
    assert_false(deadline_type_known(&R, "nope"));
    /* Nothing before the file's first date (1 May 2021). */
    assert_null(deadline_rule_find(&R, "pourvoi_cassation_ce", D("2021-04-30")));
    assert_non_null(deadline_rule_find(&R, "pourvoi_cassation_ce", D("2021-05-01")));
    /* refus_visa_crrv: two months until 2022, thirty days since 2023. */
    assert_int_equal(deadline_rule_find(&R, "refus_visa_crrv", D("2022-12-31"))->unit,
                     DEADLINE_MONTHS);
    assert_int_equal(deadline_rule_find(&R, "refus_visa_crrv", D("2023-01-01"))->duration, 30);
}

static void test_other_rules(void **state)
{
    (void)state;
    expect_at("appel_ordonnance_jld", "2026-03-06", "10:30", "2026-03-07T10:30", false);
    /* 30 days: Christmas, then the weekend. */
    expect("refus_visa_crrv", "2026-11-25", "2026-12-28", true);
    /* Two months before 2023: Saturday 31 December, Sunday 1 January (a
     * holiday) → Monday 2 January 2023. */
    expect("refus_visa_crrv", "2022-10-31", "2023-01-02", true);
    /* Calendar only: a Saturday end stays a Saturday. */
    expect("delai_depart_volontaire", "2026-04-02", "2026-05-02", false);
    /* Months with month-end clamping, then extension. */
    expect("refus_titre_recours_gracieux", "2025-12-31", "2026-03-02", true);
    expect("recours_cnda", "2024-01-31", "2024-02-29", false);
    expect("recours_cnda", "2026-03-06", "2026-04-07", true); /* Easter Monday */
    expect("recours_cnda", "2026-12-01", "2027-01-04", true); /* New Year's Day, weekend */
    /* Délai franc (R. 421-1, CE, 29 décembre 2006, n° 289818): one more day,
     * then extended (1 May → 2 May Sat → 4 May). */
    expect("refus_titre_recours_contentieux", "2026-03-01", "2026-05-04", true);
    /* R. 821-1, franc (CE, 20 mars 2024, n° 472750). */
    expect("pourvoi_cassation_ce", "2026-01-05", "2026-03-06", false);
    /* L. 523-1 CJA: fifteen days. */
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
            assert_int_equal(deadline_compute(&R, r, n, 9 * 60, &res), 0);
            assert_true(deadline_date_valid(res.date));
            assert_true(deadline_to_days(res.date) > deadline_to_days(n));
            if (!res.has_time && r->extension != DEADLINE_CALENDAR)
                assert_true(deadline_is_working_day(&R, res.date));
        }
    }
    /* The last representable years do not compute past the range. */
    struct deadline_result res;
    assert_int_equal(deadline_compute(&R, deadline_rule_find(&R, "recours_cnda", D("2026-01-01")),
                                      D("2999-12-15"), -1, &res),
                     -EINVAL);
}

static void test_parse_time(void **state)
{
    (void)state;
    int m = -1;
    assert_int_equal(deadline_parse_time("00:00", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(deadline_parse_time("23:59", &m), 0);
    assert_int_equal(m, 23 * 60 + 59);
    const char *bad[] = {"24:00", "12:60",    "9:30",  "09:3", "09-30",
                         "",      "09:30:00", " 9:30", "ab:cd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(deadline_parse_time(bad[i], &m), -EINVAL);
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
                     "reference = X\nvalid_from = 2024-07-15\nconfirmed = no\n";
    struct deadline_rules r = {0};
    char err[256];
    assert_int_equal(deadline_rules_parse(&r, ok, strlen(ok), err, sizeof err), 0);
    assert_int_equal(r.nrules, 1);
    deadline_rules_free(&r);

    expect_rules_error("", "no rule");
    expect_rules_error("label = x\n", "line 1");
    expect_rules_error("[a]\nlabel = A\n", "needs label, duration");
    expect_rules_error("[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                       "reference = X\nconfirmed = yes\n",
                       "valid_from");
    expect_rules_error("[a]\nvalid_from = 2024-02-30\n", "real date");
    expect_rules_error("[a]\nconfirmed = maybe\n", "yes or no");
    expect_rules_error("[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                       "reference = X\nconfirmed = yes\nvalid_from = 2024-07-15\n"
                       "valid_until = 2024-07-14\n",
                       "ends (valid_until) before");
    /* Two periods of one type may follow each other, never overlap. */
    const char *two = "[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                      "reference = X\nconfirmed = yes\nvalid_from = 2021-05-01\n"
                      "valid_until = 2024-07-14\n"
                      "[a]\nlabel = A\nduration = 1\nunit = months\ncalendar = franc\n"
                      "reference = Y\nconfirmed = no\nvalid_from = 2024-07-15\n";
    assert_int_equal(deadline_rules_parse(&r, two, strlen(two), err, sizeof err), 0);
    assert_int_equal(r.nrules, 2);
    assert_int_equal(deadline_rule_find(&r, "a", D("2024-07-14"))->duration, 2);
    assert_int_equal(deadline_rule_find(&r, "a", D("2024-07-15"))->duration, 1);
    deadline_rules_free(&r);
    const char *overlap = "[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                          "reference = X\nconfirmed = yes\nvalid_from = 2021-05-01\n"
                          "valid_until = 2024-07-15\n"
                          "[a]\nlabel = A\nduration = 1\nunit = months\ncalendar = franc\n"
                          "reference = Y\nconfirmed = no\nvalid_from = 2024-07-15\n";
    expect_rules_error(overlap, "overlap");
    const char *open2 = "[a]\nlabel = A\nduration = 2\nunit = days\ncalendar = calendar\n"
                        "reference = X\nconfirmed = yes\nvalid_from = 2021-05-01\n"
                        "[a]\nlabel = A\nduration = 1\nunit = months\ncalendar = franc\n"
                        "reference = Y\nconfirmed = no\nvalid_from = 2030-01-01\n";
    expect_rules_error(open2, "overlap");
    expect_rules_error("[a]\nlabel = A\nlabel = B\n", "line 3: label is given twice");
    expect_rules_error("[a]\ncolour = red\n", "unknown key");
    expect_rules_error("[a]\nunit = weeks\n", "hours, days or months");
    expect_rules_error("[a]\nduration = 0\n", "from 1 to 1000");
    expect_rules_error("[a]\nduration = 12abc\n", "from 1 to 1000");
    expect_rules_error("[a]\nlabel = A\nduration = 48\nunit = hours\n"
                       "calendar = extend_to_next_working_day\nreference = X\n"
                       "valid_from = 2024-07-15\nconfirmed = yes\n",
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
        cmocka_unit_test(test_oqtf_new_regime),
        cmocka_unit_test(test_oqtf_new_regime_liberty),
        cmocka_unit_test(test_oqtf_old_regime),
        cmocka_unit_test(test_types_by_date),
        cmocka_unit_test(test_other_rules),
        cmocka_unit_test(test_every_rule_computes),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_urgency),
        cmocka_unit_test(test_rules_file_errors),
        cmocka_unit_test(test_holidays_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
