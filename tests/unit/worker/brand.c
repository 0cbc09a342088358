/*
 * worker/brand.c (unit) — the firm's monogram from its name (legal forms,
 * titles and articles skipped) and the plan's label in French (brand.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "brand.h"

static void check(const char *name, const char *want)
{
    char out[16];
    brand_monogram(name, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\" gives \"%s\", not \"%s\"", name, out, want);
}

static void test_monogram(void **state)
{
    (void)state;
    check("Cabinet Dupont & Associés", "D");
    check("Cabinet Dupont & Martin", "DM");
    check("Cabinet d'Avocats Müller & Fils", "MF");
    check("SCP Lefèvre et Roux", "LR");
    check("SELARL de la Fontaine", "F");
    check("Maître Élise Roux", "ÉR");
    check("cabinet martin-durand", "MD");
    check("Me Karim Benali, avocat", "KB");
    check("Cabinet", "C"); /* nothing but skipped words: its first letter */
    check("", "");
    check("Ordre & Loi Avocats", "OL");
    /* A small buffer never overflows: the second initial is left out. */
    char small[2];
    brand_monogram("Dupont Martin", small, sizeof small);
    assert_string_equal(small, "D");
}

static void test_plan_label(void **state)
{
    (void)state;
    assert_string_equal(brand_plan_label("Professional", "fr"), "Professionnelle");
    assert_string_equal(brand_plan_label("Starter", "fr"), "Essentielle");
    assert_string_equal(brand_plan_label("Enterprise", "fr"), "Entreprise");
    assert_string_equal(brand_plan_label("Professional", "en"), "Professional");
    assert_string_equal(brand_plan_label("Formule Or", "fr"), "Formule Or");
    assert_string_equal(brand_plan_label(NULL, "fr"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monogram),
        cmocka_unit_test(test_plan_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
