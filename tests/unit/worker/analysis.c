/*
 * worker/analysis.c (unit) — the rule-based assessment (analysis_rules.c): it is
 * deterministic, its factors add up to its score, each model finds what it
 * should (basic < pro < enterprise), urgency triggers, normalisation (case,
 * accents, whole words), and the rule file parser's errors.
 * Run from the repository root, where templates/worker/rules/ is.
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

static struct analysis_model basic, pro, ent;

static int setup(void **state)
{
    (void)state;
    char err[512] = "";
    if (analysis_model_load(&basic, "templates/worker/rules/ceseda-basic-v1.rules", err,
                            sizeof err) != 0 ||
        analysis_model_load(&pro, "templates/worker/rules/ceseda-pro-v1.rules", err, sizeof err) !=
            0 ||
        analysis_model_load(&ent, "templates/worker/rules/ceseda-enterprise-v1.rules", err,
                            sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    analysis_model_free(&basic);
    analysis_model_free(&pro);
    analysis_model_free(&ent);
    return 0;
}

/* Multi-line literals are parenthesised so clang does not take them for a
 * missing comma. */
static const char *const cases[] = {
    ("Monsieur X, père d'un enfant français scolarisé au collège, marié avec une Française, vit "
     "en France depuis plus de dix ans. Il a reçu une OQTF sans délai de départ volontaire et a "
     "été placé en rétention administrative ; transfert Dublin envisagé. Condamnation en 2019."),
    "Demande de titre de séjour vie privée et familiale, contrat de travail en CDI.",
    ("Fraude documentaire, faux passeport, condamnations multiples, casier judiciaire chargé, "
     "entrée irrégulière sans visa, précédente OQTF, recours tardif, irtf."),
    "Rien de particulier.",
    "",
};

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

static void test_deterministic(void **state)
{
    (void)state;
    const struct analysis_model *models[] = {&basic, &pro, &ent};
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct analysis_result a = run(models[m], cases[i]), b = run(models[m], cases[i]);
            assert_int_equal(a.raw_bp, b.raw_bp);
            assert_int_equal(a.score_bp, b.score_bp);
            assert_int_equal(a.urgency, b.urgency);
            assert_int_equal(a.nfactors, b.nfactors);
            for (size_t k = 0; k < a.nfactors; k++) {
                assert_ptr_equal(a.factors[k].rule, b.factors[k].rule);
                assert_string_equal(a.factors[k].matched, b.factors[k].matched);
            }
            analysis_result_free(&a);
            analysis_result_free(&b);
        }
}

static void test_factors_explain_score(void **state)
{
    (void)state;
    const struct analysis_model *models[] = {&basic, &pro, &ent};
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct analysis_result r = run(models[m], cases[i]);
            int sum = models[m]->base_bp, pos = 0, neg = 0;
            for (size_t k = 0; k < r.nfactors; k++) {
                sum += r.factors[k].rule->weight_bp;
                pos += r.factors[k].rule->weight_bp > 0;
                neg += r.factors[k].rule->weight_bp < 0;
            }
            assert_int_equal(sum, r.raw_bp);
            assert_int_equal(pos, r.positive);
            assert_int_equal(neg, r.negative);
            int want = sum < models[m]->floor_bp     ? models[m]->floor_bp
                       : sum > models[m]->ceiling_bp ? models[m]->ceiling_bp
                                                     : sum;
            assert_int_equal(r.score_bp, want);
            assert_true(r.score_bp >= 0 && r.score_bp <= 10000);
            analysis_result_free(&r);
        }
    /* The all-negative case is clamped to the floor, not below. */
    struct analysis_result r = run(&ent, cases[2]);
    assert_true(r.raw_bp < ent.floor_bp);
    assert_int_equal(r.score_bp, ent.floor_bp);
    analysis_result_free(&r);
    /* No factor at all: the base. */
    r = run(&pro, "Rien de particulier.");
    assert_int_equal(r.nfactors, 0);
    assert_int_equal(r.score_bp, pro.base_bp);
    analysis_result_free(&r);
}

static void test_tiers(void **state)
{
    (void)state;
    assert_true(basic.nrules < pro.nrules);
    assert_true(pro.nrules < ent.nrules);
    struct analysis_result b = run(&basic, cases[0]), p = run(&pro, cases[0]),
                           e = run(&ent, cases[0]);
    assert_true(has(&b, "enfant_francais") && has(&p, "enfant_francais") &&
                has(&e, "enfant_francais"));
    assert_true(has(&b, "conjoint_francais"));
    assert_true(has(&b, "ordre_public"));
    assert_false(has(&b, "enfants_scolarises"));
    assert_true(has(&p, "enfants_scolarises"));
    assert_true(has(&p, "retention"));
    assert_false(has(&b, "retention"));
    assert_false(has(&p, "dublin"));
    assert_true(has(&e, "dublin"));
    assert_true(b.nfactors < p.nfactors && p.nfactors < e.nfactors);
    analysis_result_free(&b);
    analysis_result_free(&p);
    analysis_result_free(&e);
}

static enum analysis_urgency urgency_of(const struct analysis_model *m, const char *text)
{
    struct analysis_result r = run(m, text);
    enum analysis_urgency u = r.urgency;
    analysis_result_free(&r);
    return u;
}

static void test_urgency(void **state)
{
    (void)state;
    /* Basic knows one trigger: any OQTF is critical. */
    assert_int_equal(urgency_of(&basic, "Une OQTF a été notifiée."), ANALYSIS_URGENCY_CRITICAL);
    assert_int_equal(urgency_of(&basic, "Placement en rétention."), ANALYSIS_URGENCY_NORMAL);
    /* Pro and enterprise tell the cases apart. */
    assert_int_equal(urgency_of(&pro, "OQTF avec un délai de départ volontaire de trente jours."),
                     ANALYSIS_URGENCY_HIGH);
    assert_int_equal(urgency_of(&pro, "OQTF notifiée hier, recours sous 48 h."),
                     ANALYSIS_URGENCY_CRITICAL);
    assert_int_equal(urgency_of(&pro, "recours sous 48h"), ANALYSIS_URGENCY_CRITICAL);
    assert_int_equal(urgency_of(&pro, "Placé en RÉTENTION ADMINISTRATIVE au CRA."),
                     ANALYSIS_URGENCY_CRITICAL);
    assert_int_equal(urgency_of(&pro, "Audience fixée au 12 mars."), ANALYSIS_URGENCY_HIGH);
    assert_int_equal(urgency_of(&pro, "Demande de titre, rien d'urgent."), ANALYSIS_URGENCY_NORMAL);
    assert_int_equal(urgency_of(&ent, "Assigné à résidence."), ANALYSIS_URGENCY_CRITICAL);
    assert_int_equal(urgency_of(&ent, "Dossier de naturalisation."), ANALYSIS_URGENCY_LOW);
    assert_int_equal(urgency_of(&ent, "Naturalisation, mais une OQTF est notifiée."),
                     ANALYSIS_URGENCY_HIGH);
}

static void test_normalisation(void **state)
{
    (void)state;
    char *n = analysis_normalize("L'OQTF — Placé en RÉTENTION, œuvre Æ ß 48h", 49);
    assert_string_equal(n, " l oqtf place en retention oeuvre ae ss 48h ");
    free(n);
    n = analysis_normalize("", 0);
    assert_string_equal(n, " ");
    free(n);
    /* Invalid UTF-8 and cut sequences separate words and never overrun. */
    n = analysis_normalize("a\xff"
                           "b\xc3",
                           4);
    assert_string_equal(n, " a b ");
    free(n);
    n = analysis_normalize("x\xe2\x80", 3);
    assert_string_equal(n, " x ");
    free(n);
    /* Whole words: "ase" is not found in "phase" or "base". */
    struct analysis_result r = run(&pro, "La phase de base.");
    assert_false(has(&r, "jeune_majeur_ase"));
    analysis_result_free(&r);
    r = run(&pro, "Confié à l'ASE à 15 ans.");
    assert_true(has(&r, "jeune_majeur_ase"));
    analysis_result_free(&r);
    /* Prefix phrases: "condamn*" matches "condamnations". */
    r = run(&pro, "Deux condamnations.");
    assert_true(has(&r, "ordre_public"));
    assert_string_equal(r.factors[0].matched, "condamn");
    analysis_result_free(&r);
}

static void expect_model_error(const char *text, const char *fragment)
{
    struct analysis_model m;
    char err[256] = "";
    assert_int_not_equal(analysis_model_parse(&m, text, strlen(text), err, sizeof err), 0);
    if (strstr(err, fragment) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
    assert_null(m.rules);
}

static void test_model_file_errors(void **state)
{
    (void)state;
    const char *head = "name = t\nlabel = T\nbase = 0.5\n";
    char buf[512];
    struct analysis_model m;
    char err[256];
    snprintf(buf, sizeof buf,
             "%s[r]\nlabel = R\nreference = X\nweight = -0.0625\nkeywords = a b*\n", head);
    assert_int_equal(analysis_model_parse(&m, buf, strlen(buf), err, sizeof err), 0);
    assert_int_equal(m.rules[0].weight_bp, -625);
    assert_int_equal(m.ceiling_bp, 10000);
    analysis_model_free(&m);

    expect_model_error("", "needs name");
    expect_model_error("name = ../x\n", "name must match");
    expect_model_error("name = t\nlabel = T\nbase = 1.5\n", "base must be");
    expect_model_error("name = t\nlabel = T\nbase = 0.12345\n", "base must be");
    expect_model_error("name = t\nlabel = T\nbase = 0.5\n", "no rule");
    expect_model_error("name = t\nlabel = T\nbase = 0.5\nfloor = 0.9\nceiling = 0.1\n[r]\nlabel = "
                       "R\nreference = X\nweight = 0\nkeywords = a\n",
                       "floor is above");
    expect_model_error("name = t\nlabel = T\nbase = 0.5\n[r]\nlabel = R\n", "needs label");
    expect_model_error("name = t\n[r]\nweight = 2\n", "weight must be");
    expect_model_error("name = t\n[r]\nweight = +\n", "weight must be");
    expect_model_error("name = t\n[r]\nurgency = soon\n", "urgency must be");
    expect_model_error("name = t\n[r]\nkeywords = a | ''\n", "keyword phrase");
    expect_model_error("name = t\n[r]\nkeywords = mar*ie\n", "may only end");
    expect_model_error("name = t\n[r]\nlabel = R\nreference = X\nweight = 0\nkeywords = a\n[r]\n",
                       "defined twice");
    expect_model_error("name = t\ncolour = red\n", "unknown key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_factors_explain_score),
        cmocka_unit_test(test_tiers),         cmocka_unit_test(test_urgency),
        cmocka_unit_test(test_normalisation), cmocka_unit_test(test_model_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
