/*
 * worker/analysis_negation.c (unit) — negation and context in the rule-based
 * assessment (analysis_context.c, docs/worker-rules.md "Negation and
 * context"): a negated or excluded occurrence does not count, a clean record
 * never lowers the score, the window stops at a sentence end, and the rule
 * file keys are checked. Run from the repository root.
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

#include "analysis_rules.h"

static struct analysis_model models[3];
static const char *const files[3] = {
    "templates/worker/rules/ceseda-basic-v1.rules",
    "templates/worker/rules/ceseda-pro-v1.rules",
    "templates/worker/rules/ceseda-enterprise-v1.rules",
};

static int setup(void **state)
{
    (void)state;
    char err[512] = "";
    for (int i = 0; i < 3; i++)
        if (analysis_model_load(&models[i], files[i], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        analysis_model_free(&models[i]);
    return 0;
}

static struct analysis_result run(const struct analysis_model *m, const char *text)
{
    struct analysis_result r;
    assert_int_equal(analysis_run(m, text, strlen(text), &r), 0);
    return r;
}

static bool has(const struct analysis_result *r, const char *code)
{
    for (size_t i = 0; i < r->nfactors; i++)
        if (strcmp(r->factors[i].rule->code, code) == 0)
            return true;
    return false;
}

/* Does the factor hold in text, for model m? */
static bool holds(const struct analysis_model *m, const char *text, const char *code)
{
    struct analysis_result r = run(m, text);
    bool h = has(&r, code);
    analysis_result_free(&r);
    return h;
}

static void test_clean_record_is_not_a_threat(void **state)
{
    (void)state;
    static const char *const clean[] = {
        "Casier judiciaire vierge.",
        "Il n'a jamais été condamné.",
        "Il ne représente pas une menace pour l'ordre public.",
        "Aucune condamnation pénale.",
        "La menace pour l'ordre public a été écartée par le tribunal.",
    };
    for (int m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
            if (holds(&models[m], clean[i], "ordre_public"))
                fail_msg("%s: \"%s\" counts as a threat", models[m].name, clean[i]);
        }
    /* ... and the protective factor says so. */
    struct analysis_result r = run(&models[1], "Casier judiciaire vierge, jamais condamné.");
    assert_true(has(&r, "casier_vierge"));
    assert_false(has(&r, "ordre_public"));
    assert_int_equal(r.raw_bp, models[1].base_bp + 500);
    assert_int_equal(r.positive, 1);
    assert_int_equal(r.negative, 0);
    assert_int_equal(r.nset_aside, 1);
    analysis_result_free(&r);
    /* Unnegated, it still counts. */
    assert_true(holds(&models[1], "Condamné en 2019 à six mois.", "ordre_public"));
    assert_true(holds(&models[1], "Son casier judiciaire n'est pas vierge.", "ordre_public"));
    assert_true(holds(&models[1], "Menace pour l'ordre public.", "ordre_public"));
}

/* Adding "casier judiciaire vierge, jamais condamné" to any case text never lowers its score. */
static void test_adding_a_clean_record_never_lowers_the_score(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "Père d'un enfant français, OQTF notifiée.",
        "Entrée irrégulière sans visa.",
        "Demande de titre de séjour vie privée et familiale.",
        "",
    };
    char buf[512];
    for (int m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            struct analysis_result a = run(&models[m], texts[i]);
            snprintf(buf, sizeof buf, "%s Casier judiciaire vierge, jamais condamné.", texts[i]);
            struct analysis_result b = run(&models[m], buf);
            if (b.raw_bp < a.raw_bp)
                fail_msg("%s: \"%s\" lost %d bp", models[m].name, texts[i], a.raw_bp - b.raw_bp);
            analysis_result_free(&a);
            analysis_result_free(&b);
        }
}

static void test_no_departure_period_is_not_a_departure_period(void **state)
{
    (void)state;
    for (int m = 1; m < 3; m++) {
        struct analysis_result r =
            run(&models[m], "OQTF sans délai de départ volontaire notifiée hier.");
        assert_false(has(&r, "delai_depart_volontaire"));
        assert_true(has(&r, "oqtf_sans_delai"));
        assert_int_equal(r.urgency, ANALYSIS_URGENCY_CRITICAL);
        analysis_result_free(&r);
        assert_false(
            holds(&models[m], "Refus d'un délai de départ volontaire.", "delai_depart_volontaire"));
        assert_true(holds(&models[m], "OQTF avec un délai de départ volontaire de trente jours.",
                          "delai_depart_volontaire"));
    }
}

static const char *const custom =
    "name = t\nlabel = T\nbase = 0.5\n"
    "unless_preceded_by = pas | sans\nunless_followed_by = vierge\nwindow = 2\n"
    "[enfant]\nlabel = E\nreference = R\nweight = +0.1\nkeywords = enfant\n"
    "[casier]\nlabel = C\nreference = R\nweight = -0.1\nkeywords = casier\nunless_followed_by = -\n"
    "[delai]\nlabel = D\nreference = R\nweight = 0\nkeywords = delai\nnot = sans delai | delai "
    "expire\n"
    "[large]\nlabel = L\nreference = R\nweight = 0\nkeywords = titre\nwindow = 5\n";

static void test_window_and_sentences(void **state)
{
    (void)state;
    struct analysis_model m;
    char err[256] = "";
    assert_int_equal(analysis_model_parse(&m, custom, strlen(custom), err, sizeof err), 0);
    assert_int_equal(m.rules[0].window, 2);
    assert_int_equal(m.rules[3].window, 5);
    assert_int_equal(m.rules[1].unless_after.n, 0);
    assert_int_equal(m.rules[1].unless_before.n, 2);
    /* Within the window, before or after. */
    assert_false(holds(&m, "pas d'enfant", "enfant"));
    assert_false(holds(&m, "pas un enfant", "enfant"));
    assert_false(holds(&m, "enfant vierge", "enfant"));
    /* Beyond it. */
    assert_true(holds(&m, "pas de quoi dire enfant", "enfant"));
    assert_true(holds(&m, "pas a b c titre", "large") == false);
    assert_true(holds(&m, "pas a b c d e titre", "large"));
    /* A sentence end (. ! ? ; , line break) stops the window. */
    assert_true(holds(&m, "Pas de visa. Enfant", "enfant"));
    assert_true(holds(&m, "Pas de visa, enfant", "enfant"));
    assert_true(holds(&m, "Pas\nenfant", "enfant"));
    assert_true(holds(&m, "enfant ; vierge", "enfant"));
    /* One occurrence negated, another not: the rule counts. */
    assert_true(holds(&m, "pas d'enfant ici mais un enfant là", "enfant"));
    /* "-" drops an inherited list. */
    assert_true(holds(&m, "casier vierge", "casier"));
    assert_false(holds(&m, "pas de casier", "casier"));
    /* not: an occurrence inside an excluded phrase does not count. */
    assert_false(holds(&m, "Sans délai.", "delai"));
    assert_false(holds(&m, "Le délai expiré.", "delai"));
    assert_true(holds(&m, "Un délai court.", "delai"));
    analysis_model_free(&m);
}

static void expect_error(const char *text, const char *fragment)
{
    struct analysis_model m;
    char err[256] = "";
    assert_int_equal(analysis_model_parse(&m, text, strlen(text), err, sizeof err), -EINVAL);
    if (strstr(err, fragment) == NULL)
        fail_msg("\"%s\" does not name \"%s\"", err, fragment);
    assert_null(m.rules);
}

static void test_rule_file_errors(void **state)
{
    (void)state;
    const char *head = "name = t\nlabel = T\nbase = 0.5\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%swindow = 0\n[r]\nkeywords = a\n", head);
    expect_error(buf, "line 4: window must be a number of words from 1 to 12");
    snprintf(buf, sizeof buf, "%swindow = 13\n", head);
    expect_error(buf, "window must be");
    snprintf(buf, sizeof buf, "%s[r]\nwindow = 2\nwindow = 3\n", head);
    expect_error(buf, "line 6: window is given twice");
    snprintf(buf, sizeof buf, "%sunless_preceded_by = pa*s\n", head);
    expect_error(buf, "a '*' may only end a unless_preceded_by phrase");
    snprintf(buf, sizeof buf, "%s[r]\nnot = !!\n", head);
    expect_error(buf, "not phrase must hold letters");
    snprintf(buf, sizeof buf, "%s[r]\nkeywords = -\n", head);
    expect_error(buf, "keywords must not be \"-\"");
    snprintf(buf, sizeof buf, "%s[r]\nunless = pas\n", head);
    expect_error(buf, "unknown key \"unless\"");
    /* Partial lists are freed with the model on a later error. */
    snprintf(buf, sizeof buf,
             "%sunless_preceded_by = pas\n[r]\nlabel = R\nreference = X\nweight = 0\n"
             "keywords = a\nnot = b\n[s]\n",
             head);
    expect_error(buf, "rule [s] needs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_record_is_not_a_threat),
        cmocka_unit_test(test_adding_a_clean_record_never_lowers_the_score),
        cmocka_unit_test(test_no_departure_period_is_not_a_departure_period),
        cmocka_unit_test(test_window_and_sentences),
        cmocka_unit_test(test_rule_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
