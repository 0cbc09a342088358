/*
 * auth_throttle.c — the login throttle's rules (auth_throttle): the
 * first failures of a (username, address) pair are free, then the delay
 * grows from AUTH_DELAY_BASE and stops at AUTH_DELAY_MAX; an address that
 * fails on many usernames is held for the window; an account under attack
 * from many addresses takes one attempt per AUTH_ACCOUNT_GAP seconds, from
 * anyone, and never holds anyone longer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "auth.h"

#define NOW 1800000000

static void first_failures_are_free(void **state)
{
    const char *what = "";
    struct auth_failures f = {.pair = AUTH_FAIL_FREE - 1, .pair_last = NOW};
    assert_int_equal(auth_throttle(&f, NOW, &what), 0);
}

static void the_delay_grows_then_stops(void **state)
{
    const char *what = "";
    struct auth_failures f = {.pair = AUTH_FAIL_FREE, .pair_last = NOW - 10};
    assert_int_equal(auth_throttle(&f, NOW, &what), AUTH_DELAY_BASE - 10);
    assert_string_equal(what, "username from this address");
    f.pair++;
    assert_int_equal(auth_throttle(&f, NOW, &what), 2 * AUTH_DELAY_BASE - 10);
    f.pair += 2;
    assert_int_equal(auth_throttle(&f, NOW, &what), 8 * AUTH_DELAY_BASE - 10);
    f.pair = 1000;
    assert_int_equal(auth_throttle(&f, NOW, &what), AUTH_DELAY_MAX - 10);
    /* Once the delay has passed, one more attempt goes through. */
    f.pair_last = NOW - AUTH_DELAY_MAX;
    assert_int_equal(auth_throttle(&f, NOW, &what), 0);
}

static void an_address_guessing_many_usernames_is_held(void **state)
{
    const char *what = "";
    struct auth_failures f = {.addr = AUTH_FAIL_MAX_ADDR, .addr_oldest = NOW - 100};
    assert_int_equal(auth_throttle(&f, NOW, &what), AUTH_FAIL_WINDOW - 100);
    assert_string_equal(what, "address");
    f.addr--;
    assert_int_equal(auth_throttle(&f, NOW, &what), 0);
}

static void an_attacked_account_holds_anyone_for_seconds_only(void **state)
{
    const char *what = "";
    /* Hundreds of failures on "admin" from elsewhere, the last one now: a
     * fresh address waits the gap, never longer. */
    struct auth_failures f = {.account = 500, .account_last = NOW};
    assert_int_equal(auth_throttle(&f, NOW, &what), AUTH_ACCOUNT_GAP);
    assert_string_equal(what, "account");
    assert_true(AUTH_ACCOUNT_GAP <= 5);
    assert_int_equal(auth_throttle(&f, NOW + AUTH_ACCOUNT_GAP, &what), 0);
    /* An address with a failure or two waits the same, no more. */
    f.pair = 2;
    f.pair_last = NOW - 30;
    assert_int_equal(auth_throttle(&f, NOW, &what), AUTH_ACCOUNT_GAP);
    /* Below the ceiling the account rule holds nobody. */
    f.account = AUTH_FAIL_MAX_ACCOUNT - 1;
    assert_int_equal(auth_throttle(&f, NOW, &what), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_failures_are_free),
        cmocka_unit_test(the_delay_grows_then_stops),
        cmocka_unit_test(an_address_guessing_many_usernames_is_held),
        cmocka_unit_test(an_attacked_account_holds_anyone_for_seconds_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
