/*
 * worker/reminder_leads.c (unit) — lead times parsed and bounded, and when
 * each reminder of a deadline is due, in the firm's time zone (Europe/Paris
 * here), across a DST change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "reminder_leads.h"

static time_t local(const char *date, const char *at)
{
    time_t t;
    assert_int_equal(reminder_deadline_instant(date, at, &t), 0);
    return t;
}

static void test_instant_and_leads(void **state)
{
    (void)state;
    /* 2026-12-05 16:00 Paris is 15:00 UTC. */
    time_t at = local("2026-12-05", "2026-12-05T16:00");
    assert_int_equal((long long)at, 1796482800LL);
    time_t due;
    struct reminder_lead h48 = {'h', 48}, morning = {'m', 0}, d7 = {'d', 7};
    assert_int_equal(reminder_lead_due(&h48, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 48 * 3600);
    assert_int_equal(reminder_lead_due(&morning, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 8 * 3600); /* 08:00 local */
    assert_int_equal(reminder_lead_due(&d7, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 7 * 86400);
    /* Without an hour: until 23:59 local. */
    assert_int_equal((long long)local("2026-12-05", NULL), 1796482800LL + 7 * 3600 + 59 * 60);
    assert_int_not_equal(reminder_deadline_instant("2026-13-05", NULL, &due), 0);
    assert_int_not_equal(reminder_deadline_instant("2026-12-05", "2026-12-05 16:00", &due), 0);
}

static void test_lead_parse(void **state)
{
    (void)state;
    struct reminder_lead l;
    char b[16];
    static const char *const good[] = {"1h", "72h", "2160h", "1d", "90d", "morning"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(reminder_lead_parse(good[i], &l), 0);
        reminder_lead_format(&l, b, sizeof b);
        assert_string_equal(b, good[i]);
    }
    /* The old name of "morning" is still read. */
    assert_int_equal(reminder_lead_parse("day", &l), 0);
    reminder_lead_format(&l, b, sizeof b);
    assert_string_equal(b, "morning");
    static const char *const bad[] = {"0h", "2161h", "91d",  "0d", "07d",     "h",     "3",
                                      "3w", "-3h",   "1.5h", "",   "Morning", "99999h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(reminder_lead_parse(bad[i], &l), -EINVAL);
}

static void test_lead_lists(void **state)
{
    (void)state;
    struct reminder_leads a, b;
    char err[256], text[128];
    json_t *j = json_loads("[\"72h\", \"morning\"]", 0, NULL);
    assert_int_equal(reminder_leads_from_json(j, "reminder_leads", &a, err, sizeof err), 0);
    json_decref(j);
    assert_int_equal(a.n, 2);
    assert_int_equal(reminder_leads_text(&a, text, sizeof text), 0);
    assert_string_equal(text, "[\"72h\",\"morning\"]");
    assert_int_equal(reminder_leads_parse_text(text, &b), 0);
    assert_int_equal(b.n, 2);
    /* The union keeps a's order and adds what b has more. */
    reminder_leads_default(&b);
    reminder_leads_union(&a, &b);
    assert_int_equal(a.n, 4);
    assert_int_equal(reminder_leads_text(&a, text, sizeof text), 0);
    assert_string_equal(text, "[\"72h\",\"morning\",\"7d\",\"48h\"]");
    static const char *const bad[] = {
        "[]",       "[\"7d\", \"7d\"]", "[\"7d\", 3]",
        "{}",       "[\"day\"]",        "[\"1h\", \"2h\", \"3h\", \"4h\", \"5h\", \"6h\", \"7h\"]",
        "[\"91d\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads(bad[i], 0, NULL);
        err[0] = '\0';
        assert_int_equal(reminder_leads_from_json(j, "reminder_leads", &a, err, sizeof err),
                         -EINVAL);
        assert_non_null(strstr(err, "reminder_leads"));
        json_decref(j);
    }
}

static void test_seven_days_across_dst(void **state)
{
    (void)state;
    /* Summer time starts on 29 March 2026: a week before 2 April 10:00 is
     * 26 March 10:00 local, 7 days minus one hour of real time. */
    time_t at = local("2026-04-02", "2026-04-02T10:00"), due;
    struct reminder_lead d7 = {'d', 7};
    assert_int_equal(reminder_lead_due(&d7, at, "2026-04-02", &due), 0);
    assert_int_equal((long long)(at - due), 7 * 86400 - 3600);
}

int main(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instant_and_leads),
        cmocka_unit_test(test_seven_days_across_dst),
        cmocka_unit_test(test_lead_parse),
        cmocka_unit_test(test_lead_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
