/*
 * worker/reminders.c (unit) — when each reminder of a deadline is due, in
 * the firm's time zone (Europe/Paris here), across a DST change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reminders.h"

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
    assert_int_equal(reminder_due(LEAD_48H, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 48 * 3600);
    assert_int_equal(reminder_due(LEAD_DAY, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 8 * 3600); /* 08:00 local */
    assert_int_equal(reminder_due(LEAD_7D, at, "2026-12-05", &due), 0);
    assert_int_equal((long long)due, 1796482800LL - 7 * 86400);
    /* Without an hour: until 23:59 local. */
    assert_int_equal((long long)local("2026-12-05", NULL), 1796482800LL + 7 * 3600 + 59 * 60);
    assert_int_not_equal(reminder_deadline_instant("2026-13-05", NULL, &due), 0);
    assert_int_not_equal(reminder_deadline_instant("2026-12-05", "2026-12-05 16:00", &due), 0);
    assert_string_equal(reminder_lead_name(LEAD_DAY), "day");
}

static void test_seven_days_across_dst(void **state)
{
    (void)state;
    /* Summer time starts on 29 March 2026: a week before 2 April 10:00 is
     * 26 March 10:00 local, 7 days minus one hour of real time. */
    time_t at = local("2026-04-02", "2026-04-02T10:00"), due;
    assert_int_equal(reminder_due(LEAD_7D, at, "2026-04-02", &due), 0);
    assert_int_equal((long long)(at - due), 7 * 86400 - 3600);
}

int main(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instant_and_leads),
        cmocka_unit_test(test_seven_days_across_dst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
