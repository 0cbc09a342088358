/*
 * model_analyses.c — rule-based case assessments ("analyse par règles"):
 * creation under the plan's limits, listing and reading.
 *
 * Creation runs the loaded rule model (analysis_rules.c) on the case text,
 * then, inside one BEGIN IMMEDIATE transaction, checks the plan's limits
 * (usage.c), stores the assessment with the factors that explain it and
 * updates this month's monthly_usage row, so the count that enforces the
 * limit and the count that is billed cannot disagree.
 */
#include "model_internal.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANALYSIS_TEXT_MAX 20000

static const struct jsonv_field create_spec[] = {
    {"case_text", JSONV_STRING, JSONV_REQUIRED | JSONV_MULTILINE, 1, ANALYSIS_TEXT_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field list_spec[] = {
    {"limit", JSONV_INT, 0, 1, MODEL_LIST_MAX, NULL, NULL},
    {"offset", JSONV_INT, 0, 0, MODEL_OFFSET_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

#define ANALYSIS_COLUMNS                                                                           \
    "id, success_rate, urgency, positive_factors, negative_factors, factors, base_score, "         \
    "raw_score, model, favorable, overage, created_at"

static double bp(int v)
{
    return (double)v / 10000.0;
}

/* The factors of a result as the JSON array stored and returned. */
static json_t *factors_json(const struct analysis_result *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < r->nfactors; i++) {
        const struct analysis_rule *rule = r->factors[i].rule;
        json_t *o = json_object();
        if (o == NULL)
            continue;
        model_set_str(o, "code", rule->code);
        model_set_str(o, "label", rule->label);
        model_set_real(o, "weight", bp(rule->weight_bp));
        model_set_str(o, "reference", rule->reference);
        model_set_str(o, "matched", r->factors[i].matched);
        if (rule->urgency != ANALYSIS_URGENCY_NONE)
            model_set_str(o, "urgency", analysis_urgency_name(rule->urgency));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* One row (ANALYSIS_COLUMNS, then case_text or an excerpt at column 12). */
static json_t *analysis_row(struct store_stmt *st, const char *text_key)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    model_set_int(o, "id", store_column_int64(st, 0));
    model_set_real(o, "success_rate", store_column_double(st, 1));
    json_object_set_new(o, "urgency", model_col_text(st, 2));
    model_set_int(o, "positive_factors", store_column_int64(st, 3));
    model_set_int(o, "negative_factors", store_column_int64(st, 4));
    const char *f = (const char *)store_column_text(st, 5);
    json_t *factors = f != NULL ? json_loads(f, 0, NULL) : NULL;
    json_object_set_new(o, "factors", json_is_array(factors) ? factors : json_array());
    if (factors != NULL && !json_is_array(factors))
        json_decref(factors);
    model_set_real(o, "base_score", store_column_double(st, 6));
    model_set_real(o, "raw_score", store_column_double(st, 7));
    json_object_set_new(o, "model", model_col_text(st, 8));
    model_set_str(o, "method", "analyse par règles");
    model_set_bool(o, "favorable", (int)store_column_int64(st, 9) != 0);
    model_set_bool(o, "overage", (int)store_column_int64(st, 10) != 0);
    json_object_set_new(o, "created_at", model_col_text(st, 11));
    json_object_set_new(o, text_key, model_col_text(st, 12));
    return o;
}

static int load_analysis(const struct wctx *c, int64_t id, json_t **out)
{
    struct store_stmt *st;
    int rc = -EIO, step;
    if (model_prepare(c,
                      "SELECT " ANALYSIS_COLUMNS ", case_text FROM ceseda_analyses WHERE id = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    step = store_step(st);
    if (step == STORE_DONE)
        rc = -ENOENT;
    else if (step == STORE_ROW && (*out = analysis_row(st, "case_text")) != NULL)
        rc = 0;
    model_release(st);
    return rc;
}

static struct wres plan_limit(const char *which, int64_t limit, int64_t used, const char *detail)
{
    struct wres r = wres_error(402, "plan_limit", "%s", detail);
    if (r.body != NULL) {
        model_set_str(r.body, "limit", which);
        model_set_int(r.body, "max", limit);
        model_set_int(r.body, "used", used);
    }
    return r;
}

/* Store the assessment and count it; the caller holds the transaction. */
static int store_analysis(const struct wctx *c, const struct model_rules *mr, const char *text,
                          const struct analysis_result *ar, const char *month, bool overage,
                          int64_t *id)
{
    struct store_stmt *st = NULL;
    char now[32];
    int rc = -EIO;
    json_t *factors = factors_json(ar);
    char *ftext = factors != NULL ? json_dumps(factors, WRES_JSON_FLAGS) : NULL;
    double rate = bp(ar->score_bp);
    double threshold = c->env != NULL ? c->env->prediction_threshold : 1.0;

    json_decref(factors);
    if (ftext == NULL)
        return -ENOMEM;
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO ceseda_analyses (user_id, case_text, success_rate, urgency, "
                      "positive_factors, negative_factors, factors, base_score, raw_score, model, "
                      "favorable, month, overage, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                      &st) < 0)
        goto out;
    if (c->user != NULL)
        store_bind_int64(st, 1, c->user->id);
    else
        store_bind_null(st, 1);
    store_bind_text(st, 2, text);
    store_bind_double(st, 3, rate);
    store_bind_text(st, 4, analysis_urgency_name(ar->urgency));
    store_bind_int64(st, 5, ar->positive);
    store_bind_int64(st, 6, ar->negative);
    store_bind_text(st, 7, ftext);
    store_bind_double(st, 8, bp(mr->analysis.base_bp));
    store_bind_double(st, 9, bp(ar->raw_bp));
    store_bind_text(st, 10, mr->analysis.name);
    /* Compare in basis points so 0.87 is favorable at a 0.87 threshold. */
    store_bind_int64(st, 11, ar->score_bp >= (int)(threshold * 10000.0 + 0.5));
    store_bind_text(st, 12, month);
    store_bind_int64(st, 13, overage);
    store_bind_text(st, 14, now);
    if (store_step(st) != STORE_DONE)
        goto out;
    *id = store_last_id(c->db);
    model_release(st);
    st = NULL;
    if (model_prepare(c,
                      "INSERT INTO monthly_usage (month, analyses_count, overage_count, "
                      "users_active, created_at, updated_at) "
                      "VALUES (?1, 1, ?2, (SELECT COUNT(*) FROM users WHERE active = 1), ?3, ?3) "
                      "ON CONFLICT (month) DO UPDATE SET "
                      "analyses_count = monthly_usage.analyses_count + 1, "
                      "overage_count = monthly_usage.overage_count + excluded.overage_count, "
                      "users_active = excluded.users_active, updated_at = excluded.updated_at",
                      &st) < 0)
        goto out;
    store_bind_text(st, 1, month);
    store_bind_int64(st, 2, overage);
    store_bind_text(st, 3, now);
    if (store_step(st) != STORE_DONE)
        goto out;
    rc = 0;
out:
    model_release(st);
    free(ftext);
    return rc;
}

struct wres model_analysis_create(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    struct analysis_result ar;
    char month[8];
    int64_t month_count = 0, total = 0, id = 0;
    json_t *out = NULL;

    if (mr == NULL)
        return model_unavailable();
    if (jsonv_reject(body, create_spec, &res))
        return res;
    json_t *jt = json_object_get(body, "case_text");
    const char *text = json_string_value(jt);
    if (analysis_run(&mr->analysis, text, json_string_length(jt), &ar) < 0)
        return wres_error(500, "internal", "out of memory");
    if (usage_month(c->now, month, sizeof month) < 0) {
        analysis_result_free(&ar);
        return wres_error(500, "internal", "the current month cannot be computed");
    }

    if (model_begin(c) < 0) {
        analysis_result_free(&ar);
        return model_db_error(c, "starting an analysis");
    }
    if (model_scalar(c, "SELECT COUNT(*) FROM ceseda_analyses WHERE month = ?1", month,
                     &month_count) < 0 ||
        model_scalar(c, "SELECT COUNT(*) FROM ceseda_analyses", NULL, &total) < 0)
        goto dberr;
    int64_t monthly_limit = c->env != NULL ? c->env->max_analysis_monthly : 0;
    int64_t max_cases = c->env != NULL ? c->env->max_cases : 0;
    int64_t overage_cents = c->env != NULL ? c->env->plan_overage_cents : 0;
    enum usage_decision d =
        usage_decide(month_count, total, monthly_limit, max_cases, overage_cents);
    if (d == USAGE_BLOCK_CASES || d == USAGE_BLOCK_MONTHLY) {
        model_rollback(c);
        analysis_result_free(&ar);
        if (d == USAGE_BLOCK_CASES)
            return plan_limit("max_cases", max_cases, total,
                              "the plan stores at most this many analyses; upgrade the plan to "
                              "add more");
        return plan_limit("max_analysis_monthly", monthly_limit, month_count,
                          "the plan's monthly number of analyses is used up; it resets on the "
                          "first day of next month, or upgrade the plan");
    }
    if (store_analysis(c, mr, text, &ar, month, d == USAGE_OVERAGE, &id) < 0)
        goto dberr;
    if (model_commit(c) < 0)
        goto dberr;
    analysis_result_free(&ar);
    if (load_analysis(c, id, &out) < 0)
        return model_db_error(c, "reading the new analysis");
    return wres_ok(201, out);
dberr:
    res = model_db_error(c, "storing an analysis");
    model_rollback(c);
    analysis_result_free(&ar);
    return res;
}

struct wres model_analysis_list(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    json_t *q = NULL, *arr = NULL;
    struct store_stmt *st = NULL;
    int step = -EIO;

    if (jsonv_query_reject(arg, list_spec, &q, &res))
        return res;
    json_t *limit = json_object_get(q, "limit"), *offset = json_object_get(q, "offset");
    if (model_prepare(c,
                      "SELECT " ANALYSIS_COLUMNS ", substr(case_text, 1, 120) "
                      "FROM ceseda_analyses ORDER BY id DESC LIMIT ?1 OFFSET ?2",
                      &st) < 0) {
        json_decref(q);
        return model_db_error(c, "listing analyses");
    }
    store_bind_int64(st, 1, limit != NULL ? json_integer_value(limit) : MODEL_LIST_DEFAULT);
    store_bind_int64(st, 2, offset != NULL ? json_integer_value(offset) : 0);
    json_decref(q);
    arr = json_array();
    while (arr != NULL && (step = store_step(st)) == STORE_ROW)
        json_array_append_new(arr, analysis_row(st, "case_excerpt"));
    model_release(st);
    if (arr == NULL || step != STORE_DONE) {
        json_decref(arr);
        return model_db_error(c, "listing analyses");
    }
    return wres_ok(200, arr);
}

struct wres model_analysis_get(const struct wctx *c, json_t *body, const char *arg)
{
    int64_t id;
    json_t *out = NULL;
    if (model_parse_id(arg, &id) < 0)
        return wres_error(404, "not_found", "no analysis has this id");
    int rc = load_analysis(c, id, &out);
    if (rc == -ENOENT)
        return wres_error(404, "not_found", "no analysis has id %lld", (long long)id);
    if (rc < 0)
        return model_db_error(c, "reading an analysis");
    return wres_ok(200, out);
}
