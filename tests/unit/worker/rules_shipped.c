/*
 * worker_rules_shipped.c — checks on the rule files as shipped
 * (templates/worker/rules), beyond what the parsers refuse:
 *   - every deadline rule has a reference, a valid_from, a checked date and
 *     a source, and no two rules of one type overlap (the parser refuses it;
 *     this checks the file the worker really reads);
 *   - the OQTF types in force today key on the measure restricting liberty;
 *   - every analysis rule whose text states a deadline names its deadline
 *     type, and that text says the duration of the deadline rule in force
 *     today, so the analysis never tells a lawyer "48 heures" when the
 *     deadline rules say one month.
 * Run from the repository root (make test does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis_rules.h"
#include "deadline_rules.h"

#define RULES_DIR "templates/worker/rules/"

static struct deadline_rules R;

static int setup(void **state)
{
    (void)state;
    char err[512] = "";
    if (deadline_rules_load(&R, RULES_DIR "deadlines.rules", err, sizeof err) != 0 ||
        deadline_holidays_load(&R, RULES_DIR "holidays.rules", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    deadline_rules_free(&R);
    return 0;
}

static void test_every_rule_is_sourced_and_dated(void **state)
{
    (void)state;
    for (size_t i = 0; i < R.nrules; i++) {
        const struct deadline_rule *r = &R.rules[i];
        if (r->reference[0] == '\0' || r->source[0] == '\0' || !r->has_checked)
            fail_msg("rule [%s] lacks a reference, a source or a checked date", r->type);
        assert_true(deadline_date_valid(r->valid_from));
        /* A rule not confirmed must say why in its note. */
        if (!r->confirmed && r->note[0] == '\0')
            fail_msg("rule [%s] is not confirmed and has no note saying why", r->type);
        for (size_t k = i + 1; k < R.nrules; k++) {
            const struct deadline_rule *o = &R.rules[k];
            if (strcmp(r->type, o->type) != 0)
                continue;
            /* One of the two must end before the other starts. */
            bool before =
                r->has_until && deadline_to_days(r->valid_until) < deadline_to_days(o->valid_from);
            bool after =
                o->has_until && deadline_to_days(o->valid_until) < deadline_to_days(r->valid_from);
            if (!before && !after)
                fail_msg("two rules [%s] overlap", r->type);
        }
    }
}

/* Since 15 July 2024 the OQTF types key on the measure restricting liberty
 * (loi n° 2024-42, art. 72); the old ones keyed on the departure period. */
static void test_oqtf_types_follow_the_law_in_force(void **state)
{
    (void)state;
    struct deadline_date d = {2026, 12, 3};
    const char *now[] = {"oqtf_ordinaire", "oqtf_assignation_detention", "oqtf_retention"};
    const char *gone[] = {"oqtf_avec_delai", "oqtf_avec_delai_15j", "oqtf_sans_delai"};
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(deadline_rule_find(&R, now[i], d));
        assert_null(deadline_rule_find(&R, gone[i], d));
    }
    /* No OQTF type in force today may cite the repealed articles. */
    for (size_t i = 0; i < R.nrules; i++) {
        const struct deadline_rule *r = &R.rules[i];
        if (!deadline_rule_in_force(r, d))
            continue;
        const char *old[] = {"L. 614-4", "L. 614-5", "L. 614-6", "L. 614-8", "R. 776-2"};
        for (size_t k = 0; k < sizeof old / sizeof old[0]; k++)
            if (strstr(r->reference, old[k]) != NULL)
                fail_msg("rule [%s] in force cites %s", r->type, old[k]);
    }
}

/* Whether text states a duration: a number (or "un") followed by heure(s),
 * jour(s) or mois. */
static bool states_a_duration(const char *text)
{
    const char *units[] = {" heure", " jour", " mois"};
    for (size_t u = 0; u < 3; u++)
        for (const char *p = strstr(text, units[u]); p != NULL; p = strstr(p + 1, units[u]))
            if ((p > text && isdigit((unsigned char)p[-1])) ||
                (p - text >= 2 && strncmp(p - 2, "un", 2) == 0))
                return true;
    return false;
}

static void check_model(const char *name, struct deadline_date today)
{
    char path[256], err[512] = "", want[32];
    struct analysis_model m;
    snprintf(path, sizeof path, RULES_DIR "%s.rules", name);
    if (analysis_model_load(&m, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < m.nrules; i++) {
        const struct analysis_rule *ar = &m.rules[i];
        if (ar->deadline[0] == '\0') {
            if (states_a_duration(ar->label))
                fail_msg("%s [%s] states a deadline but names no deadline type: \"%s\"", name,
                         ar->code, ar->label);
            continue;
        }
        const struct deadline_rule *dr = deadline_rule_find(&R, ar->deadline, today);
        if (dr == NULL)
            fail_msg("%s [%s]: deadline type %s is not in force", name, ar->code, ar->deadline);
        deadline_duration_text(dr, want, sizeof want);
        if (strstr(ar->label, want) == NULL)
            fail_msg("%s [%s] says \"%s\" but the deadline rule %s in force says %s", name,
                     ar->code, ar->label, dr->type, want);
    }
    analysis_model_free(&m);
}

static void test_analysis_texts_match_deadline_rules(void **state)
{
    (void)state;
    /* The date of the last review, and the real today (the test must fail
     * once a rule stated by an analysis text expires). */
    struct deadline_date review = {2026, 12, 3};
    struct deadline_date today = deadline_today(time(NULL));
    const char *models[] = {"ceseda-basic-v1", "ceseda-pro-v1", "ceseda-enterprise-v1"};
    for (size_t i = 0; i < 3; i++) {
        check_model(models[i], review);
        check_model(models[i], today);
    }
}

static void test_duration_text(void **state)
{
    (void)state;
    struct deadline_rule r = {.duration = 48, .unit = DEADLINE_HOURS};
    char b[32];
    deadline_duration_text(&r, b, sizeof b);
    assert_string_equal(b, "48 heures");
    r.duration = 1;
    r.unit = DEADLINE_MONTHS;
    deadline_duration_text(&r, b, sizeof b);
    assert_string_equal(b, "un mois");
    r.duration = 7;
    r.unit = DEADLINE_DAYS;
    deadline_duration_text(&r, b, sizeof b);
    assert_string_equal(b, "7 jours");
    assert_true(states_a_duration("recours en 48 heures"));
    assert_true(states_a_duration("recours en un mois"));
    assert_false(states_a_duration("Délai de départ volontaire en cours"));
}

int main(void)
{
    setenv("TZ", "Europe/Paris", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule_is_sourced_and_dated),
        cmocka_unit_test(test_oqtf_types_follow_the_law_in_force),
        cmocka_unit_test(test_analysis_texts_match_deadline_rules),
        cmocka_unit_test(test_duration_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
