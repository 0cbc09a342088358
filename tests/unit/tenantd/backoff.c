/*
 * tenantd/backoff.c (unit) — the restart schedule (backoff.c): it grows, caps, jitters
 * within bounds, resets after a stable run, and gives up at the start limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static const struct backoff_policy pol = {
    .min_ms = 100, .max_ms = 800, .stable_after_ms = 3000, .start_limit = 10};

static void test_grows_then_caps(void **state)
{
    (void)state;
    const int64_t want[] = {100, 200, 400, 800, 800, 800, 800};
    for (int n = 1; n <= 7; n++)
        assert_int_equal(backoff_delay(&pol, n, 0), want[n - 1]);
    /* A huge attempt number neither overflows nor passes the cap. */
    assert_int_equal(backoff_delay(&pol, 1000000, 0), 800);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    const uint32_t rnds[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (int n = 1; n <= 8; n++) {
        int64_t base = backoff_delay(&pol, n, 0);
        for (size_t i = 0; i < sizeof rnds / sizeof rnds[0]; i++) {
            int64_t d = backoff_delay(&pol, n, rnds[i]);
            assert_true(d <= base);
            assert_true(d >= base - base / 4);
            assert_true(d <= pol.max_ms);
        }
    }
    /* The largest random value takes (almost) the whole quarter off. */
    assert_int_equal(backoff_delay(&pol, 1, 0xffffffffu), 76);
}

static void test_deterministic(void **state)
{
    (void)state;
    assert_int_equal(backoff_delay(&pol, 3, 12345), backoff_delay(&pol, 3, 12345));
}

static void test_crash_schedule_and_limit(void **state)
{
    (void)state;
    struct backoff_policy p = pol;
    p.start_limit = 5;
    struct backoff b;
    backoff_reset(&b);
    assert_int_equal(backoff_on_crash(&b, &p, 0, 0), 100);
    assert_int_equal(backoff_on_crash(&b, &p, 10, 0), 200);
    assert_int_equal(backoff_on_crash(&b, &p, 0, 0), 400);
    assert_int_equal(backoff_on_crash(&b, &p, 2999, 0), 800);
    /* The fifth crash without a stable run reaches the limit. */
    assert_int_equal(backoff_on_crash(&b, &p, 0, 0), -1);
    assert_int_equal(b.crashes, 5);
}

static void test_first_crash_after_a_ready_run_is_immediate(void **state)
{
    (void)state;
    struct backoff b;
    backoff_reset(&b);
    /* Ready for 5 ms, then a crash: restart now; the schedule starts with
     * the next crash and grows from min, not from 2 min. */
    assert_int_equal(backoff_on_crash(&b, &pol, 5, 0), 0);
    assert_int_equal(backoff_on_crash(&b, &pol, 5, 0), 100);
    assert_int_equal(backoff_on_crash(&b, &pol, 5, 0), 200);
    assert_int_equal(backoff_on_crash(&b, &pol, 0, 0), 400);
    /* A worker that never became ready waits from its first crash. */
    backoff_reset(&b);
    assert_int_equal(backoff_on_crash(&b, &pol, 0, 0), 100);
}

static void test_stable_run_resets(void **state)
{
    (void)state;
    struct backoff b;
    backoff_reset(&b);
    for (int i = 0; i < 4; i++)
        backoff_on_crash(&b, &pol, 0, 0);
    assert_int_equal(b.crashes, 4);
    /* This run lasted stable_after: the count starts again at one, and the
     * first crash after a stable run restarts at once. */
    assert_int_equal(backoff_on_crash(&b, &pol, 3000, 0), 0);
    assert_int_equal(b.crashes, 1);
    backoff_reset(&b);
    assert_int_equal(b.crashes, 0);
}

static void test_no_limit(void **state)
{
    (void)state;
    struct backoff_policy p = pol;
    p.start_limit = 0;
    struct backoff b;
    backoff_reset(&b);
    for (int i = 0; i < 100; i++)
        assert_true(backoff_on_crash(&b, &p, 0, 0) > 0);
}

static void test_degenerate_policy(void **state)
{
    (void)state;
    /* min 0 still waits a little; max below min means "min". */
    const struct backoff_policy p = {.min_ms = 0, .max_ms = 0};
    assert_int_equal(backoff_delay(&p, 1, 0), 1);
    const struct backoff_policy q = {.min_ms = 500, .max_ms = 100};
    assert_int_equal(backoff_delay(&q, 4, 0), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_then_caps),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_crash_schedule_and_limit),
        cmocka_unit_test(test_first_crash_after_a_ready_run_is_immediate),
        cmocka_unit_test(test_stable_run_resets),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_degenerate_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
