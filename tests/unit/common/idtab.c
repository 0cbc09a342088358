/*
 * common/idtab.h (unit) — the sorted per-tenant tables of storage.c and
 * offsite.c: lookups by binary search, insertion in order, zeroed new
 * records, the cap, an id too long, growth keeping the records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "idtab.h"

struct rec {
    char id[16];
    int value;
};

static void test_insert_find_in_order(void **state)
{
    (void)state;
    struct idtab t = {.size = sizeof(struct rec), .idcap = 16};
    const char *ids[] = {"martin", "dupont", "zeta", "durand", "abel"};
    for (size_t i = 0; i < 5; i++) {
        int added = 0;
        struct rec *r = idtab_get(&t, ids[i], 100, &added);
        if (r == NULL)
            fail_msg("%s not added", ids[i]);
        else {
            assert_int_equal(added, 1);
            assert_int_equal(r->value, 0); /* zeroed */
            r->value = (int)i + 1;
        }
    }
    assert_int_equal(t.n, 5);
    const struct rec *all = t.rec;
    for (size_t i = 1; i < t.n; i++)
        assert_true(strcmp(all[i - 1].id, all[i].id) < 0);
    for (size_t i = 0; i < 5; i++) {
        const struct rec *r = idtab_find(&t, ids[i]);
        if (r == NULL)
            fail_msg("%s not found", ids[i]);
        else
            assert_int_equal(r->value, (int)i + 1);
    }
    assert_null(idtab_find(&t, "nobody"));
    assert_null(idtab_find(&t, "dupon"));
    /* Asked again: the same record, not a new one. */
    int added = 1;
    struct rec *r = idtab_get(&t, "zeta", 100, &added);
    assert_int_equal(added, 0);
    assert_int_equal(r ? r->value : -1, 3);
    idtab_free(&t);
    assert_int_equal(t.n, 0);
    assert_null(idtab_find(&t, "zeta"));
}

static void test_limits(void **state)
{
    (void)state;
    struct idtab t = {.size = sizeof(struct rec), .idcap = 16};
    assert_null(idtab_get(&t, "a-very-long-id-x", 100, NULL)); /* 16 chars: no room for NUL */
    assert_non_null(idtab_get(&t, "a-very-long-id-", 100, NULL));
    assert_non_null(idtab_get(&t, "b", 2, NULL));
    assert_null(idtab_get(&t, "c", 2, NULL));     /* the cap */
    assert_non_null(idtab_get(&t, "b", 2, NULL)); /* an existing one is still found */
    idtab_free(&t);
}

static void test_growth_keeps_records(void **state)
{
    (void)state;
    struct idtab t = {.size = sizeof(struct rec), .idcap = 16};
    char id[16];
    for (int i = 999; i >= 0; i--) { /* reverse order: every insertion at the front */
        snprintf(id, sizeof id, "t%04d", i);
        struct rec *r = idtab_get(&t, id, 5000, NULL);
        if (r == NULL)
            fail_msg("%s not added", id);
        else
            r->value = i;
    }
    assert_int_equal(t.n, 1000);
    for (int i = 0; i < 1000; i += 37) {
        snprintf(id, sizeof id, "t%04d", i);
        const struct rec *r = idtab_find(&t, id);
        if (r == NULL)
            fail_msg("%s not found", id);
        else
            assert_int_equal(r->value, i);
    }
    idtab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_in_order),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_growth_keeps_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
