/*
 * worker/model.c (unit) — the model layer on an in-memory SQLite database with the
 * schema applied: analyses (create, list, get, limits and overage),
 * invoices (gap-free numbering across cancellations and years, totals, the
 * status lifecycle), deadlines, billing usage, stats, and malformed bodies
 * answered 400 with a detail naming the field.
 * Run from the repository root, where templates/worker/rules/ is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "schema.h"

#define T_2026_03_10 ((time_t)1773136800) /* 10:00 UTC */
#define T_2026_04_10 ((time_t)1775815200)
#define T_2026_12_31 ((time_t)1798758000) /* 23:00 UTC */
#define T_2027_01_01 ((time_t)1798765200)

static char s_id[] = "dupont", s_name[] = "Cabinet Dupont", s_plan[] = "professional",
            s_model[] = "ceseda-pro-v1";

struct fixture {
    sqlite3 *db;
    struct wenv env;
    struct wuser user;
    struct wctx c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (f == NULL || sqlite3_open(":memory:", &f->db) != SQLITE_OK)
        return -1;
    sqlite3_exec(f->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (schema_apply(f->db, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    sqlite3_exec(
        f->db,
        "INSERT INTO users (id, username, password, role, created_at) VALUES "
        "(1, 'marie', 'x', 'admin', '2026-01-01'), (2, 'paul', 'x', 'lawyer', '2026-01-01')",
        NULL, NULL, NULL);
    f->env.client_id = s_id;
    f->env.client_name = s_name;
    f->env.plan = s_plan;
    f->env.ai_model = s_model;
    f->env.max_users = 10;
    f->env.max_cases = 2000;
    f->env.max_analysis_monthly = 500;
    f->env.prediction_threshold = 0.87;
    f->env.plan_price_cents = 29900;
    f->env.plan_overage_cents = 50;
    f->user.id = 1;
    f->user.role = ROLE_ADMIN;
    f->c.db = f->db;
    f->c.env = &f->env;
    f->c.now = T_2026_03_10;
    f->c.user = &f->user;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite3_close(f->db);
    free(f);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    char err[512] = "";
    setenv("TZ", "UTC", 1);
    if (model_init("templates/worker/rules", "ceseda-pro-v1", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    model_shutdown();
    return 0;
}

typedef struct wres (*op_fn)(const struct wctx *, json_t *, const char *);

/* Call op with a JSON text body (NULL: no body); check the status; return
 * the body (the caller releases it). */
static json_t *call(const struct wctx *c, op_fn op, const char *body, const char *arg, int status)
{
    json_error_t je;
    json_t *b = NULL;
    if (body != NULL && (b = json_loads(body, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je)) == NULL)
        fail_msg("bad JSON in test: %s", body);
    struct wres r = op(c, b, arg);
    json_decref(b);
    if (r.status != status) {
        char *s = r.body != NULL ? json_dumps(r.body, 0) : NULL;
        fail_msg("status %d, want %d: %s", r.status, status, s != NULL ? s : "(no body)");
    }
    assert_non_null(r.body);
    if (status >= 400) {
        assert_true(json_is_string(json_object_get(r.body, "error")));
        assert_true(json_is_string(json_object_get(r.body, "detail")));
    }
    return r.body;
}

static void expect_400(const struct wctx *c, op_fn op, const char *body, const char *arg,
                       const char *fragment)
{
    json_t *b = call(c, op, body, arg, 400);
    const char *d = json_string_value(json_object_get(b, "detail"));
    assert_string_equal(json_string_value(json_object_get(b, "error")), "invalid_request");
    if (strstr(d, fragment) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", d, fragment);
    json_decref(b);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL)
        fail_msg("no string \"%s\"", k);
    return s;
}

static json_int_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("no integer \"%s\"", k);
    return json_integer_value(v);
}

/* ---- analyses ----------------------------------------------------------- */

static void test_analysis_create_list_get(void **state)
{
    struct fixture *f = *state;
    json_t *a = call(&f->c, model_analysis_create,
                     "{\"case_text\": \"Mère d'un enfant français, OQTF sans délai notifiée, "
                     "placée en rétention administrative.\"}",
                     NULL, 201);
    double rate = json_real_value(json_object_get(a, "success_rate"));
    assert_true(rate >= 0.0 && rate <= 1.0);
    assert_string_equal(str(a, "urgency"), "critical");
    assert_string_equal(str(a, "model"), "ceseda-pro-v1");
    assert_int_equal(num(a, "positive_factors"), 1);
    assert_true(json_is_boolean(json_object_get(a, "favorable")));
    assert_false(json_is_true(json_object_get(a, "favorable"))); /* 0.55 < 0.87 */
    assert_non_null(json_object_get(a, "created_at"));
    json_t *factors = json_object_get(a, "factors");
    assert_true(json_array_size(factors) >= 3);
    /* The stored explanation still adds up. */
    double sum = json_real_value(json_object_get(a, "base_score"));
    size_t i;
    json_t *fa;
    json_array_foreach(factors, i, fa)
    {
        assert_non_null(json_object_get(fa, "code"));
        assert_non_null(json_object_get(fa, "label"));
        assert_non_null(json_object_get(fa, "reference"));
        sum += json_real_value(json_object_get(fa, "weight"));
    }
    assert_float_equal(sum, json_real_value(json_object_get(a, "raw_score")), 1e-9);
    assert_float_equal(rate, 0.55, 1e-9);
    json_int_t id1 = num(a, "id");
    json_decref(a);

    a = call(&f->c, model_analysis_create, "{\"case_text\": \"Deuxième dossier.\"}", NULL, 201);
    json_int_t id2 = num(a, "id");
    json_decref(a);

    json_t *list = call(&f->c, model_analysis_list, NULL, NULL, 200);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(num(json_array_get(list, 0), "id"), id2); /* newest first */
    assert_int_equal(num(json_array_get(list, 1), "id"), id1);
    json_decref(list);
    list = call(&f->c, model_analysis_list, NULL, "limit=1&offset=1", 200);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(num(json_array_get(list, 0), "id"), id1);
    json_decref(list);

    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)id1);
    a = call(&f->c, model_analysis_get, NULL, arg, 200);
    assert_non_null(strstr(str(a, "case_text"), "enfant français"));
    json_decref(a);
    json_decref(call(&f->c, model_analysis_get, NULL, "999", 404));
    json_decref(call(&f->c, model_analysis_get, NULL, "abc", 404));
    json_decref(call(&f->c, model_analysis_get, NULL, "-1", 404));
    expect_400(&f->c, model_analysis_list, NULL, "limit=0", "limit");
    expect_400(&f->c, model_analysis_list, NULL, "limit=abc", "limit");
    expect_400(&f->c, model_analysis_list, NULL, "sort=id", "\"sort\"");
    expect_400(&f->c, model_analysis_list, NULL, "limit=1&limit=2", "more than once");
}

static void test_analysis_favorable_threshold(void **state)
{
    struct fixture *f = *state;
    f->env.prediction_threshold = 0.55;
    json_t *a = call(&f->c, model_analysis_create,
                     "{\"case_text\": \"Père d'un enfant français.\"}", NULL, 201);
    assert_float_equal(json_real_value(json_object_get(a, "success_rate")), 0.55, 1e-9);
    assert_true(json_is_true(json_object_get(a, "favorable"))); /* >= threshold */
    json_decref(a);
}

static void test_analysis_monthly_limit_blocks(void **state)
{
    struct fixture *f = *state;
    f->env.max_analysis_monthly = 2;
    f->env.plan_overage_cents = 0;
    for (int i = 0; i < 2; i++)
        json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201));
    json_t *e = call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 402);
    assert_string_equal(str(e, "error"), "plan_limit");
    assert_string_equal(str(e, "limit"), "max_analysis_monthly");
    assert_int_equal(num(e, "max"), 2);
    json_decref(e);
    /* Nothing was stored or counted by the refused request. */
    json_t *u = call(&f->c, model_billing_usage, NULL, NULL, 200);
    assert_int_equal(num(u, "analyses_used"), 2);
    json_decref(u);
    /* A new month starts from zero. */
    f->c.now = T_2026_04_10;
    json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201));
}

static void test_analysis_overage_and_bill(void **state)
{
    struct fixture *f = *state;
    f->env.max_analysis_monthly = 1;
    f->env.plan_overage_cents = 50;
    json_t *a = call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201);
    assert_false(json_is_true(json_object_get(a, "overage")));
    json_decref(a);
    for (int i = 0; i < 3; i++) {
        a = call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201);
        assert_true(json_is_true(json_object_get(a, "overage")));
        json_decref(a);
    }
    json_t *u = call(&f->c, model_billing_usage, NULL, NULL, 200);
    assert_string_equal(str(u, "client_id"), "dupont");
    assert_string_equal(str(u, "month"), "2026-03");
    assert_int_equal(num(u, "analyses_used"), 4);
    assert_int_equal(num(u, "analyses_limit"), 1);
    assert_int_equal(num(u, "users_active"), 2);
    assert_int_equal(num(u, "users_limit"), 10);
    assert_int_equal(num(u, "overage_count"), 3);
    assert_int_equal(num(u, "overage_fees_cents"), 150);
    assert_int_equal(num(u, "total_due_cents"), 30050);
    assert_float_equal(json_number_value(json_object_get(u, "overage_fees")), 1.50, 1e-9);
    assert_float_equal(json_number_value(json_object_get(u, "total_due")), 300.50, 1e-9);
    assert_string_equal(str(u, "plan"), "professional");
    assert_string_equal(str(u, "billing_cycle"), "monthly");
    assert_string_equal(str(u, "next_billing"), "2026-04-01");
    json_decref(u);
}

static void test_analysis_max_cases(void **state)
{
    struct fixture *f = *state;
    f->env.max_cases = 2;
    f->env.plan_overage_cents = 50; /* overage never buys storage */
    json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201));
    f->c.now = T_2026_04_10;
    json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 201));
    json_t *e = call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 402);
    assert_string_equal(str(e, "limit"), "max_cases");
    json_decref(e);
}

static void test_analysis_bad_bodies(void **state)
{
    struct fixture *f = *state;
    expect_400(&f->c, model_analysis_create, NULL, NULL, "JSON object");
    expect_400(&f->c, model_analysis_create, "[1]", NULL, "JSON object");
    expect_400(&f->c, model_analysis_create, "{}", NULL, "\"case_text\" is required");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": 5}", NULL,
               "\"case_text\" must be a string");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": \"\"}", NULL,
               "\"case_text\" must not be empty");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": null}", NULL,
               "\"case_text\" is required");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": \"a\", \"user_id\": 2}", NULL,
               "\"user_id\" is not allowed");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": \"a\\u0000b\"}", NULL, "NUL");
    expect_400(&f->c, model_analysis_create, "{\"case_text\": \"a\\u0001b\"}", NULL,
               "control characters");
    char *big = malloc(20100);
    memset(big, 'x', 20100);
    memcpy(big, "{\"case_text\": \"", 15);
    memcpy(big + 20096, "\"}", 3);
    expect_400(&f->c, model_analysis_create, big, NULL, "between 1 and 20000");
    free(big);
    /* Multi-line text is fine. */
    json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"ligne 1\\nligne 2\\t.\"}",
                     NULL, 201));
}

static void test_rules_not_loaded(void **state)
{
    struct fixture *f = *state;
    char err[512];
    model_shutdown();
    json_decref(call(&f->c, model_analysis_create, "{\"case_text\": \"a\"}", NULL, 503));
    json_decref(call(&f->c, model_deadline_types, NULL, NULL, 503));
    assert_int_equal(model_init("templates/worker/rules", "no-such-model", err, sizeof err),
                     -ENOENT);
    assert_int_equal(model_init("templates/worker/rules", "../etc", err, sizeof err), -EINVAL);
    assert_int_equal(model_init("templates/worker/rules", "ceseda-pro-v1", err, sizeof err), 0);
}

/* ---- invoices ----------------------------------------------------------- */

static const char *inv_body = "{\"client_name\": \"M. Diallo\", \"items\": ["
                              "{\"description\": \"Consultation\", \"quantity\": 2, "
                              "\"unit_price_cents\": 15000},"
                              "{\"description\": \"Frais de dossier\", \"quantity\": 1, "
                              "\"unit_price_cents\": 5050}]}";

static void test_invoice_totals(void **state)
{
    struct fixture *f = *state;
    json_t *i = call(&f->c, model_invoice_create, inv_body, NULL, 201);
    assert_string_equal(str(i, "numero"), "2026-0001");
    assert_int_equal(num(i, "montant_ht_cents"), 35050);
    assert_int_equal(num(i, "tva_cents"), 7010);
    assert_int_equal(num(i, "montant_ttc_cents"), 42060);
    assert_int_equal(num(i, "vat_rate_bp"), 2000);
    assert_string_equal(str(i, "status"), "draft");
    json_t *items = json_object_get(i, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(num(json_array_get(items, 0), "total_cents"), 30000);
    assert_string_equal(str(json_array_get(items, 1), "description"), "Frais de dossier");
    json_decref(i);
    /* 5.5 %: 199 × 0.055 = 10.945 → 11 (half up on the total). */
    i = call(&f->c, model_invoice_create,
             "{\"client_name\": \"X\", \"vat_rate_bp\": 550, \"items\": [{\"description\": "
             "\"d\", \"quantity\": 1, \"unit_price_cents\": 199}]}",
             NULL, 201);
    assert_int_equal(num(i, "tva_cents"), 11);
    assert_int_equal(num(i, "montant_ttc_cents"), 210);
    json_decref(i);
    i = call(&f->c, model_invoice_get, NULL, "2026-0001", 200);
    assert_int_equal(num(i, "montant_ttc_cents"), 42060);
    json_decref(i);
}

static void test_invoice_numbering(void **state)
{
    struct fixture *f = *state;
    char want[16];
    for (int n = 1; n <= 5; n++) {
        json_t *i = call(&f->c, model_invoice_create, inv_body, NULL, 201);
        snprintf(want, sizeof want, "2026-%04d", n);
        assert_string_equal(str(i, "numero"), want);
        json_decref(i);
    }
    /* A cancelled invoice keeps its number: no reuse, no gap. */
    json_decref(call(&f->c, model_invoice_update, "{\"status\": \"cancelled\"}", "2026-0005", 200));
    json_t *i = call(&f->c, model_invoice_create, inv_body, NULL, 201);
    assert_string_equal(str(i, "numero"), "2026-0006");
    json_decref(i);
    /* A refused request consumes no number. */
    json_decref(
        call(&f->c, model_invoice_create, "{\"client_name\": \"x\", \"items\": []}", NULL, 400));
    f->c.now = T_2026_12_31;
    i = call(&f->c, model_invoice_create, inv_body, NULL, 201);
    assert_string_equal(str(i, "numero"), "2026-0007");
    json_decref(i);
    /* The year rolls over, the sequence restarts. */
    f->c.now = T_2027_01_01;
    i = call(&f->c, model_invoice_create, inv_body, NULL, 201);
    assert_string_equal(str(i, "numero"), "2027-0001");
    json_decref(i);
    json_t *list = call(&f->c, model_invoice_list, NULL, NULL, 200);
    assert_int_equal(json_array_size(list), 8);
    assert_string_equal(str(json_array_get(list, 0), "numero"), "2027-0001");
    assert_string_equal(str(json_array_get(list, 7), "numero"), "2026-0001");
    json_decref(list);
    list = call(&f->c, model_invoice_list, NULL, "year=2026&status=cancelled", 200);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(str(json_array_get(list, 0), "numero"), "2026-0005");
    json_decref(list);
    /* The numbers in the table are exactly 1..7 for 2026. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(f->db, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM invoices WHERE year=2026",
                       -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 7);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_int_equal(sqlite3_column_int(st, 2), 7);
    sqlite3_finalize(st);
}

static void transition(struct fixture *f, const char *numero, const char *to, int status)
{
    char body[64];
    snprintf(body, sizeof body, "{\"status\": \"%s\"}", to);
    json_t *b = call(&f->c, model_invoice_update, body, numero, status);
    if (status == 200)
        assert_string_equal(str(b, "status"), to);
    else if (status == 409)
        assert_string_equal(str(b, "error"), "conflict");
    json_decref(b);
}

static void test_invoice_lifecycle(void **state)
{
    struct fixture *f = *state;
    for (int n = 0; n < 3; n++)
        json_decref(call(&f->c, model_invoice_create, inv_body, NULL, 201));
    transition(f, "2026-0001", "paid", 409); /* draft → paid skips sent */
    transition(f, "2026-0001", "draft", 409);
    transition(f, "2026-0001", "sent", 200);
    transition(f, "2026-0001", "sent", 409);
    transition(f, "2026-0001", "draft", 409);
    transition(f, "2026-0001", "paid", 200);
    transition(f, "2026-0001", "cancelled", 409);
    transition(f, "2026-0001", "sent", 409);
    transition(f, "2026-0002", "cancelled", 200); /* draft → cancelled */
    transition(f, "2026-0002", "draft", 409);
    transition(f, "2026-0002", "sent", 409);
    transition(f, "2026-0003", "sent", 200);
    transition(f, "2026-0003", "cancelled", 200); /* sent → cancelled */
    transition(f, "2026-0099", "sent", 404);
    transition(f, "2026-1", "sent", 404);
    transition(f, "../etc", "sent", 404);
    expect_400(&f->c, model_invoice_update, "{\"status\": \"archived\"}", "2026-0003",
               "\"status\" must be one of: draft, sent, paid, cancelled");
    expect_400(&f->c, model_invoice_update, "{}", "2026-0003", "\"status\" is required");
    expect_400(&f->c, model_invoice_update, "{\"status\": \"paid\", \"montant_ht_cents\": 1}",
               "2026-0003", "\"montant_ht_cents\" is not allowed");
    json_decref(call(&f->c, model_invoice_get, NULL, "2026-0042", 404));
}

static void test_invoice_bad_bodies(void **state)
{
    struct fixture *f = *state;
    expect_400(&f->c, model_invoice_create, "{\"items\": []}", NULL, "\"client_name\" is required");
    expect_400(&f->c, model_invoice_create, "{\"client_name\": \"x\"}", NULL,
               "\"items\" is required");
    expect_400(&f->c, model_invoice_create, "{\"client_name\": \"x\", \"items\": []}", NULL,
               "\"items\" must hold between 1 and 100");
    expect_400(&f->c, model_invoice_create, "{\"client_name\": \"x\", \"items\": {}}", NULL,
               "\"items\" must be an array");
    expect_400(&f->c, model_invoice_create, "{\"client_name\": \"x\", \"items\": [3]}", NULL,
               "\"items[0]\" must be an object");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 1, "
               "\"unit_price_cents\": 1}, {\"description\": \"d\", \"quantity\": \"2\", "
               "\"unit_price_cents\": 1}]}",
               NULL, "\"items[1].quantity\" must be an integer");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 0, "
               "\"unit_price_cents\": 1}]}",
               NULL, "\"items[0].quantity\" must be an integer between 1 and 1000000");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 1.5, "
               "\"unit_price_cents\": 1}]}",
               NULL, "\"items[0].quantity\" must be an integer");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 1, "
               "\"unit_price_cents\": -5}]}",
               NULL, "\"items[0].unit_price_cents\"");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 1, "
               "\"unit_price_cents\": 1, \"discount\": 5}]}",
               NULL, "\"items[0].discount\" is not allowed");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"vat_rate_bp\": 10001, \"items\": [{\"description\": "
               "\"d\", \"quantity\": 1, \"unit_price_cents\": 1}]}",
               NULL, "\"vat_rate_bp\"");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\\ny\", \"items\": [{\"description\": \"d\", \"quantity\": "
               "1, \"unit_price_cents\": 1}]}",
               NULL, "\"client_name\" must not contain control characters");
    /* A right-to-left override in a one-line field (a name shown to users). */
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"Cabinet \\u202efdp.exe\", \"items\": [{\"description\": "
               "\"d\", \"quantity\": 1, \"unit_price_cents\": 1}]}",
               NULL, "\"client_name\" must not contain bidirectional control characters");
    /* Overflow: a line, then the sum of lines, above the largest amount. */
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": "
               "1000000, \"unit_price_cents\": 1000000000000000}]}",
               NULL, "\"items[0]\" has a total above");
    expect_400(&f->c, model_invoice_create,
               "{\"client_name\": \"x\", \"items\": [{\"description\": \"d\", \"quantity\": 1, "
               "\"unit_price_cents\": 900000000000000}, {\"description\": \"d\", \"quantity\": "
               "1, \"unit_price_cents\": 900000000000000}]}",
               NULL, "\"items\" adds up to more");
    /* A 200-character UTF-8 name is accepted: lengths count characters. */
    char body[1200] = "{\"client_name\": \"";
    for (int i = 0; i < 200; i++)
        strcat(body, "é");
    strcat(body, "\", \"items\": [{\"description\": \"d\", \"quantity\": 1, "
                 "\"unit_price_cents\": 1}]}");
    json_decref(call(&f->c, model_invoice_create, body, NULL, 201));
    expect_400(&f->c, model_invoice_list, NULL, "status=lost", "\"status\" must be one of");
}

/*
 * Two connections to one database file, each in its own thread, create
 * invoices at the same time: every number is used exactly once, 1..N.
 */
struct racer {
    const char *path;
    struct wenv *env;
    int created, failed;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    sqlite3 *db;
    if (sqlite3_open(r->path, &db) != SQLITE_OK)
        return NULL;
    sqlite3_busy_timeout(db, 10000);
    struct wctx c = {.db = db, .env = r->env, .now = T_2026_03_10, .user = NULL};
    for (int i = 0; i < 25; i++) {
        json_t *b = json_loads(inv_body, 0, NULL);
        struct wres w = model_invoice_create(&c, b, NULL);
        json_decref(b);
        if (w.status == 201)
            r->created++;
        else
            r->failed++;
        json_decref(w.body);
    }
    sqlite3_close(db);
    return NULL;
}

static void test_invoice_numbering_concurrent(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/worker_model_XXXXXX";
    int fd = mkstemp(path);
    sqlite3 *db;
    char err[256];
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    assert_int_equal(schema_apply(db, err, sizeof err), 0);
    struct racer r[3] = {{path, &f->env, 0, 0}, {path, &f->env, 0, 0}, {path, &f->env, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    int created = r[0].created + r[1].created + r[2].created;
    assert_int_equal(r[0].failed + r[1].failed + r[2].failed, 0);
    assert_int_equal(created, 75);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT COUNT(*), COUNT(DISTINCT numero), MIN(seq), MAX(seq) FROM invoices",
                       -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 75);
    assert_int_equal(sqlite3_column_int(st, 1), 75);
    assert_int_equal(sqlite3_column_int(st, 2), 1);
    assert_int_equal(sqlite3_column_int(st, 3), 75);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* ---- deadlines ---------------------------------------------------------- */

static void test_deadlines(void **state)
{
    struct fixture *f = *state;
    json_t *types = call(&f->c, model_deadline_types, NULL, NULL, 200);
    assert_true(json_array_size(types) >= 10);
    json_t *t0 = json_array_get(types, 0);
    assert_non_null(json_object_get(t0, "type"));
    assert_non_null(json_object_get(t0, "label"));
    assert_non_null(json_object_get(t0, "duration"));
    assert_non_null(json_object_get(t0, "unit"));
    assert_non_null(json_object_get(t0, "reference"));
    assert_non_null(json_object_get(t0, "valid_from"));
    assert_true(json_is_boolean(json_object_get(t0, "franc")));
    assert_true(json_is_boolean(json_object_get(t0, "confirmed")));
    json_decref(types);

    /* The set of types is dated: the day before the 2024 reform has the
     * voluntary-departure types, the day of it the measure-of-liberty ones. */
    types = call(&f->c, model_deadline_types, NULL, "date=2024-07-14", 200);
    char *dump = json_dumps(types, 0);
    assert_non_null(strstr(dump, "\"oqtf_sans_delai\""));
    assert_null(strstr(dump, "\"oqtf_ordinaire\""));
    free(dump);
    json_decref(types);
    types = call(&f->c, model_deadline_types, NULL, "date=2024-07-15", 200);
    dump = json_dumps(types, 0);
    assert_null(strstr(dump, "\"oqtf_sans_delai\""));
    assert_non_null(strstr(dump, "\"oqtf_ordinaire\""));
    free(dump);
    json_decref(types);
    expect_400(&f->c, model_deadline_types, NULL, "date=2024-02-30", "\"date\"");
    expect_400(&f->c, model_deadline_types, NULL, "day=2024-02-03", "day");

    /* Today is 2026-03-10. */
    json_t *d = call(&f->c, model_deadline_create,
                     "{\"type\": \"oqtf_ordinaire\", \"notification_date\": \"2026-03-01\", "
                     "\"description\": \"Dossier Diallo\"}",
                     NULL, 201);
    assert_string_equal(str(d, "deadline_date"), "2026-04-01");
    assert_string_equal(str(d, "deadline_at"), "2026-04-01T23:59");
    assert_int_equal(num(d, "days_left"), 22);
    assert_string_equal(str(d, "urgency"), "normal");
    assert_non_null(strstr(str(d, "rule_reference"), "L. 911-1"));
    assert_true(json_is_false(json_object_get(d, "previous_regime")));
    assert_true(json_is_false(json_object_get(d, "franc")));
    json_int_t id1 = num(d, "id");
    json_decref(d);
    d = call(&f->c, model_deadline_create,
             "{\"type\": \"oqtf_retention\", \"notification_date\": \"2026-03-10\", "
             "\"notification_time\": \"09:30\"}",
             NULL, 201);
    assert_string_equal(str(d, "deadline_date"), "2026-03-12");
    assert_string_equal(str(d, "deadline_at"), "2026-03-12T09:30");
    assert_string_equal(str(d, "urgency"), "critical");
    json_decref(d);
    /* Hours need the hour of notification. */
    json_t *e =
        call(&f->c, model_deadline_create,
             "{\"type\": \"oqtf_retention\", \"notification_date\": \"2026-03-10\"}", NULL, 422);
    assert_string_equal(str(e, "error"), "notification_time_required");
    json_decref(e);
    expect_400(&f->c, model_deadline_create,
               "{\"type\": \"oqtf_retention\", \"notification_date\": \"2026-03-10\", "
               "\"notification_time\": \"9h30\"}",
               NULL, "\"notification_time\"");
    /* A type of the previous regime, for a notification after the reform. */
    e = call(&f->c, model_deadline_create,
             "{\"type\": \"oqtf_sans_delai\", \"notification_date\": \"2026-03-10\", "
             "\"notification_time\": \"09:30\"}",
             NULL, 422);
    assert_string_equal(str(e, "error"), "type_not_in_force");
    dump = json_dumps(json_object_get(e, "types"), 0);
    assert_non_null(strstr(dump, "\"oqtf_retention\""));
    assert_null(strstr(dump, "\"oqtf_sans_delai\""));
    free(dump);
    json_decref(e);
    d = call(&f->c, model_deadline_create,
             "{\"type\": \"recours_cnda\", \"notification_date\": \"2026-01-31\"}", NULL, 201);
    assert_string_equal(str(d, "deadline_date"), "2026-03-02"); /* 28 Feb is a Saturday */
    assert_string_equal(str(d, "urgency"), "overdue");
    assert_true(json_is_true(json_object_get(d, "extended")));
    json_decref(d);

    json_t *list = call(&f->c, model_deadline_list, NULL, NULL, 200);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(str(json_array_get(list, 0), "deadline_date"), "2026-03-02");
    assert_string_equal(str(json_array_get(list, 1), "deadline_date"), "2026-03-12");
    assert_string_equal(str(json_array_get(list, 2), "deadline_date"), "2026-04-01");
    json_decref(list);

    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)id1);
    d = call(&f->c, model_deadline_update, "{\"status\": \"done\"}", arg, 200);
    assert_string_equal(str(d, "status"), "done");
    json_decref(d);
    json_decref(call(&f->c, model_deadline_update, "{\"status\": \"done\"}", arg, 409));
    json_decref(call(&f->c, model_deadline_update, "{\"status\": \"done\"}", "999", 404));
    list = call(&f->c, model_deadline_list, NULL, "status=active", 200);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    list = call(&f->c, model_deadline_list, NULL, "status=done", 200);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    d = call(&f->c, model_deadline_get, NULL, arg, 200);
    assert_string_equal(str(d, "type"), "oqtf_ordinaire");
    json_decref(d);

    /* Notified before the reform: computed under the rule then in force
     * (L. 614-6, 48 hours) and marked as a previous regime. */
    d = call(&f->c, model_deadline_create,
             "{\"type\": \"oqtf_sans_delai\", \"notification_date\": \"2024-07-12\", "
             "\"notification_time\": \"16:00\"}",
             NULL, 201);
    assert_string_equal(str(d, "deadline_at"), "2024-07-14T16:00");
    assert_true(json_is_true(json_object_get(d, "previous_regime")));
    assert_non_null(strstr(str(d, "rule_reference"), "L. 614-6"));
    json_decref(d);

    e = call(&f->c, model_deadline_create,
             "{\"type\": \"oqtf\", \"notification_date\": \"2026-03-01\"}", NULL, 422);
    assert_string_equal(str(e, "error"), "type_not_in_force");
    json_decref(e);
    expect_400(&f->c, model_deadline_create,
               "{\"type\": \"recours_cnda\", \"notification_date\": \"2026-02-30\"}", NULL,
               "\"notification_date\" must be a real date");
    expect_400(&f->c, model_deadline_create,
               "{\"type\": \"recours_cnda\", \"notification_date\": \"01/03/2026\"}", NULL,
               "\"notification_date\"");
    expect_400(&f->c, model_deadline_create, "{\"type\": \"recours_cnda\"}", NULL,
               "\"notification_date\" is required");
    expect_400(&f->c, model_deadline_update, "{\"status\": \"late\"}", arg, "\"status\"");
    expect_400(&f->c, model_deadline_list, NULL, "status=all", "\"status\"");
}

/* ---- billing, stats, users ---------------------------------------------- */

static void test_billing_shape_and_stats(void **state)
{
    struct fixture *f = *state;
    json_t *u = call(&f->c, model_billing_usage, NULL, NULL, 200);
    const char *keys[] = {"client_id",      "month",         "analyses_used", "analyses_limit",
                          "users_active",   "users_limit",   "overage_fees",  "total_due",
                          "plan",           "billing_cycle", "next_billing",  "overage_fees_cents",
                          "total_due_cents"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_get(u, keys[i]) == NULL)
            fail_msg("usage lacks %s", keys[i]);
    assert_int_equal(num(u, "analyses_used"), 0);
    assert_int_equal(num(u, "total_due_cents"), 29900);
    assert_float_equal(json_number_value(json_object_get(u, "total_due")), 299.0, 1e-9);
    json_decref(u);
    json_decref(call(&f->c, model_invoice_create, inv_body, NULL, 201));
    json_t *s = call(&f->c, model_stats, NULL, NULL, 200);
    assert_string_equal(str(s, "database_type"), "sqlite");
    assert_int_equal(num(s, "users"), 2);
    assert_int_equal(num(s, "invoices"), 1);
    assert_int_equal(num(s, "invoice_items"), 2);
    assert_int_equal(num(s, "analyses"), 0);
    json_decref(s);
    expect_400(&f->c, model_stats, NULL, "x=1", "\"x\"");
}

static void test_users_limit(void **state)
{
    struct fixture *f = *state;
    f->env.max_users = 3;
    assert_int_equal(model_users_limit_reached(&f->c), 0);
    sqlite3_exec(f->db,
                 "INSERT INTO users (username, password, role, created_at) VALUES "
                 "('z', 'x', 'assistant', '2026-01-01')",
                 NULL, NULL, NULL);
    assert_int_equal(model_users_limit_reached(&f->c), 1);
    sqlite3_exec(f->db, "UPDATE users SET active = 0 WHERE username = 'z'", NULL, NULL, NULL);
    assert_int_equal(model_users_limit_reached(&f->c), 0);
    assert_int_equal(model_usage_refresh_users(&f->c), 0);
    json_t *u = call(&f->c, model_billing_usage, NULL, NULL, 200);
    assert_int_equal(num(u, "users_active"), 2);
    json_decref(u);
    f->env.max_users = -1;
    assert_int_equal(model_users_limit_reached(&f->c), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_analysis_create_list_get),
        T(test_analysis_favorable_threshold),
        T(test_analysis_monthly_limit_blocks),
        T(test_analysis_overage_and_bill),
        T(test_analysis_max_cases),
        T(test_analysis_bad_bodies),
        T(test_rules_not_loaded),
        T(test_invoice_totals),
        T(test_invoice_numbering),
        T(test_invoice_numbering_concurrent),
        T(test_invoice_lifecycle),
        T(test_invoice_bad_bodies),
        T(test_deadlines),
        T(test_billing_shape_and_stats),
        T(test_users_limit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
