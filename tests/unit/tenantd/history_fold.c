/*
 * tenantd/history_fold.c (unit) — folding stored history samples into chart
 * points (history_fold.c): CPU % from the counter's growth, requests per
 * second over the time they cover, a peak of memory kept inside a bucket, a
 * counter that went back (a new cgroup) counted from zero, "no log" as null,
 * and never more than HISTORY_MAX_POINTS points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"

static struct history_row row(int64_t t_ms, uint64_t rss, double cpu, int64_t restarts, int64_t req)
{
    struct history_row r;
    memset(&r, 0, sizeof r);
    r.t_ms = t_ms;
    strcpy(r.state, "running");
    r.rss_bytes = rss;
    r.cpu_seconds = cpu;
    r.restarts = restarts;
    r.requests = req;
    return r;
}

static json_t *point(json_t *o, size_t i)
{
    return json_array_get(json_object_get(o, "points"), i);
}

static double num(json_t *p, const char *k)
{
    return json_number_value(json_object_get(p, k));
}

static void test_rates_per_sample(void **state)
{
    (void)state;
    struct history_fold *f = malloc(sizeof *f);
    /* 3 samples a minute apart over a short window: one point each. */
    history_fold_init(f, 1000000, 1000000 + 120000);
    struct history_row a = row(1000000, 100, 10.0, 0, -1);
    struct history_row b = row(1060000, 300, 16.0, 1, 120);
    struct history_row c = row(1120000, 200, 1.5, 1, 0);
    history_fold_add(f, &a);
    history_fold_add(f, &b);
    history_fold_add(f, &c);
    json_t *o = history_fold_json(f);
    assert_int_equal(json_array_size(json_object_get(o, "points")), 3);
    /* The first sample has nothing before it: no rate yet. */
    assert_true(json_is_null(json_object_get(point(o, 0), "requests_per_s")));
    assert_true(num(point(o, 0), "cpu_percent") == 0);
    /* 6 CPU seconds in 60 s = 10 %; 120 lines in 60 s = 2/s. */
    assert_true(num(point(o, 1), "cpu_percent") == 10.0);
    assert_true(num(point(o, 1), "requests_per_s") == 2.0);
    assert_int_equal(json_integer_value(json_object_get(point(o, 1), "restarts")), 1);
    /* The counter went back (new cgroup): its 1.5 s count from zero, 2.5 %. */
    assert_true(num(point(o, 2), "cpu_percent") == 2.5);
    assert_true(num(point(o, 2), "requests_per_s") == 0.0);
    assert_int_equal(json_integer_value(json_object_get(point(o, 0), "t")), 1000);
    json_decref(o);
    free(f);
}

static void test_folded_keeps_peak_and_bound(void **state)
{
    (void)state;
    struct history_fold *f = malloc(sizeof *f);
    int64_t day = 24LL * 3600 * 1000;
    history_fold_init(f, 0, day);
    /* A sample every second for a day: folded to the bound. */
    for (int64_t t = 1000; t <= day; t += 1000) {
        struct history_row r = row(t, t == 5000 ? 999999 : 10, (double)t / 1000 * 0.5, 0, 3);
        history_fold_add(f, &r);
    }
    json_t *o = history_fold_json(f);
    size_t n = json_array_size(json_object_get(o, "points"));
    assert_true(n >= HISTORY_MAX_POINTS - 1 && n <= HISTORY_MAX_POINTS);
    /* The one-second peak survives the folding. */
    assert_int_equal(json_integer_value(json_object_get(point(o, 0), "rss_bytes")), 999999);
    /* Half a core and 3 requests a second, whatever the bucket size. */
    assert_true(num(point(o, 10), "cpu_percent") == 50.0);
    assert_true(num(point(o, 10), "requests_per_s") == 3.0);
    /* Rows before the window are ignored. */
    struct history_fold *g = malloc(sizeof *g);
    history_fold_init(g, 5000, 6000);
    struct history_row early = row(100, 1, 0, 0, 0);
    history_fold_add(g, &early);
    json_t *e = history_fold_json(g);
    assert_int_equal(json_array_size(json_object_get(e, "points")), 0);
    json_decref(e);
    free(g);
    json_decref(o);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_per_sample),
        cmocka_unit_test(test_folded_keeps_peak_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
