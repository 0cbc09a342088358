/*
 * worker/env.c (unit) — the firm's time zone (env.c): TIMEZONE is checked against
 * the zone database, and once applied, the calendar the worker derives from
 * the clock (billing month, next billing date, invoice year, "today" for
 * deadlines) follows that zone. Kiritimati (UTC+14) and Pago Pago (UTC-11)
 * are 25 hours apart, so at one instant they can be in different months and
 * even different years. Also IDLE_AFTER_MS, the worker's scale-to-zero period.
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

#include "deadline_rules.h"
#include "env.h"
#include "invoice_num.h"
#include "usage.h"

/* 2026-12-31T12:00:00Z: already 2027-01-01 02:00 in Kiritimati, still
 * 2026-12-31 01:00 in Pago Pago. */
#define NEW_YEAR_NOON_UTC ((time_t)1798718400)

static void apply(const char *zone)
{
    struct wenv e;
    char err[256];

    memset(&e, 0, sizeof e);
    assert_int_equal(wenv_timezone_check(zone, err, sizeof err), 0);
    e.timezone = (char *)zone;
    assert_int_equal(wenv_apply_timezone(&e), 0);
}

static void test_check(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(wenv_timezone_check("Europe/Paris", err, sizeof err), 0);
    assert_int_equal(wenv_timezone_check("UTC", err, sizeof err), 0);
    assert_int_equal(wenv_timezone_check("America/Argentina/Buenos_Aires", err, sizeof err), 0);
    assert_int_equal(wenv_timezone_check("Etc/GMT+10", err, sizeof err), 0);
    static const char *const bad[] = {"",
                                      "/etc/passwd",
                                      "../../etc/passwd",
                                      "Europe/..",
                                      "Europe//Paris",
                                      "Europe/Paris/",
                                      "Mars/Olympus_Mons",
                                      "Europe/Paris\n",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(wenv_timezone_check(bad[i], err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "TIMEZONE"));
    }
}

static void test_calendar_follows_the_zone(void **state)
{
    char m[8], n[16];
    struct deadline_date d;
    (void)state;

    apply("Pacific/Kiritimati");
    assert_int_equal(usage_month(NEW_YEAR_NOON_UTC, m, sizeof m), 0);
    assert_string_equal(m, "2027-01");
    assert_int_equal(usage_next_billing(NEW_YEAR_NOON_UTC, n, sizeof n), 0);
    assert_string_equal(n, "2027-02-01");
    assert_int_equal(invnum_year(NEW_YEAR_NOON_UTC), 2027);
    d = deadline_today(NEW_YEAR_NOON_UTC);
    assert_true(d.y == 2027 && d.m == 1 && d.d == 1);

    apply("Pacific/Pago_Pago");
    assert_int_equal(usage_month(NEW_YEAR_NOON_UTC, m, sizeof m), 0);
    assert_string_equal(m, "2026-12");
    assert_int_equal(usage_next_billing(NEW_YEAR_NOON_UTC, n, sizeof n), 0);
    assert_string_equal(n, "2027-01-01");
    assert_int_equal(invnum_year(NEW_YEAR_NOON_UTC), 2026);
    d = deadline_today(NEW_YEAR_NOON_UTC);
    assert_true(d.y == 2026 && d.m == 12 && d.d == 31);

    /* Paris in winter is UTC+1: 23:30 UTC on Jan 31 is already February. */
    apply("Europe/Paris");
    assert_int_equal(usage_month(1801437000, m, sizeof m), 0); /* 2027-01-31T23:30:00Z */
    assert_string_equal(m, "2027-02");
}

static void test_load_rejects_an_unknown_zone(void **state)
{
    struct wenv e;
    char err[256];
    (void)state;

    setenv("CLIENT_ID", "dupont", 1);
    setenv("CLIENT_NAME", "Cabinet Dupont", 1);
    setenv("DATA_DIR", "/", 1);
    setenv("SECRET_KEY", "a-secret-of-enough-length-0123", 1);
    setenv("TEMPLATES_DIR", "/", 1);
    setenv("PORT", "5001", 1);
    setenv("TIMEZONE", "Pacific/Kiritimati", 1);
    assert_int_equal(wenv_load(&e, err, sizeof err), 0);
    assert_string_equal(e.timezone, "Pacific/Kiritimati");
    wenv_free(&e);
    setenv("TIMEZONE", "Nowhere/Atlantis", 1);
    assert_int_equal(wenv_load(&e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "TIMEZONE: \"Nowhere/Atlantis\""));
    unsetenv("TIMEZONE"); /* the default, Europe/Paris */
    assert_int_equal(wenv_load(&e, err, sizeof err), 0);
    assert_string_equal(e.timezone, "Europe/Paris");
    wenv_free(&e);
}

/* IDLE_AFTER_MS (scale to zero): absent or empty is 0 (never), a number of
 * ms within a week is taken, anything else names the variable. */
static void test_idle_after(void **state)
{
    struct wenv e;
    char err[256];
    (void)state;

    setenv("CLIENT_ID", "dupont", 1);
    setenv("CLIENT_NAME", "Cabinet Dupont", 1);
    setenv("DATA_DIR", "/", 1);
    setenv("SECRET_KEY", "a-secret-of-enough-length-0123", 1);
    setenv("TEMPLATES_DIR", "/", 1);
    setenv("PORT", "5001", 1);
    unsetenv("IDLE_AFTER_MS");
    assert_int_equal(wenv_load(&e, err, sizeof err), 0);
    assert_int_equal(e.idle_after_ms, 0);
    wenv_free(&e);
    setenv("IDLE_AFTER_MS", "900000", 1);
    assert_int_equal(wenv_load(&e, err, sizeof err), 0);
    assert_int_equal(e.idle_after_ms, 900000);
    wenv_free(&e);
    const char *bad[] = {"15m", "-1", "604800001", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("IDLE_AFTER_MS", bad[i], 1);
        assert_int_equal(wenv_load(&e, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "IDLE_AFTER_MS: "));
    }
    unsetenv("IDLE_AFTER_MS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_calendar_follows_the_zone),
        cmocka_unit_test(test_load_rejects_an_unknown_zone),
        cmocka_unit_test(test_idle_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
