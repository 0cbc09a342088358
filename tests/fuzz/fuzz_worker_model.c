/*
 * fuzz_worker_model.c — libFuzzer target for the worker's model layer and
 * its rule-file parsers.
 *
 * Input: byte 0 picks the operation, byte 1 holds flags (overage price on or
 * off, how far the clock moves, whether a user is logged in); the rest is
 * "<path arg or query string>\n<JSON body>", or only a JSON body when there
 * is no newline. Operations 14..16 feed the rest to the rule-file parsers
 * instead. The database is in memory, migrated once, and emptied now and
 * then so it stays small.
 * Oracles: no crash or sanitizer report; every answer is 2xx or 4xx (a 5xx
 * means an unvalidated input reached SQLite or the arithmetic); the body is
 * an object or an array; a 4xx carries "error" and "detail"; a new invoice
 * has TTC = HT + TVA.
 * Run from the repository root (the rule files are read from
 * templates/worker/rules, or from $TENANTD_RULES_DIR).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_rules.h"
#include "deadline_rules.h"
#include "model.h"
#include "schema.h"
#include "store_sqlite.h"

typedef struct wres (*op_fn)(const struct wctx *, json_t *, const char *);

static const op_fn ops[] = {
    model_analysis_create, model_analysis_list, model_analysis_get,   model_invoice_create,
    model_invoice_list,    model_invoice_get,   model_invoice_update, model_deadline_types,
    model_deadline_create, model_deadline_list, model_deadline_get,   model_deadline_update,
    model_billing_usage,   model_stats,
};
#define NOPS (sizeof ops / sizeof ops[0])
#define NPARSERS 3

static sqlite3 *db;
static struct store *store;
static char s_id[] = "fuzz", s_plan[] = "professional", s_model[] = "ceseda-enterprise-v1";
static struct wenv env;
static struct wuser user = {.id = 1, .username = "fuzz", .role = ROLE_ADMIN};
static unsigned runs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    const char *dir = getenv("TENANTD_RULES_DIR");
    (void)argc;
    (void)argv;
    setenv("TZ", "UTC", 1);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || schema_apply(db, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: cannot set up the database\n");
        abort();
    }
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    store = store_sqlite_wrap(db, STORE_SQLITE_CACHE);
    if (store == NULL)
        abort();
    if (model_init(dir != NULL ? dir : "templates/worker/rules", s_model, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: %s (run from the repository root)\n", err);
        abort();
    }
    env.client_id = s_id;
    env.plan = s_plan;
    env.ai_model = s_model;
    env.max_users = 10;
    env.max_cases = 40;
    env.max_analysis_monthly = 5;
    env.prediction_threshold = 0.87;
    env.plan_price_cents = 29900;
    return 0;
}

static void reset_db(void)
{
    sqlite3_exec(db,
                 "DELETE FROM invoice_items; DELETE FROM invoices; DELETE FROM deadlines; "
                 "DELETE FROM ceseda_analyses; DELETE FROM monthly_usage; DELETE FROM sessions; "
                 "DELETE FROM users; INSERT INTO users (id, username, password, role, created_at) "
                 "VALUES (1, 'fuzz', 'x', 'admin', '2026-01-01')",
                 NULL, NULL, NULL);
}

static void parse_rules(unsigned which, const uint8_t *p, size_t n)
{
    char err[256];
    if (which == 0 || which == 1) {
        struct deadline_rules r = {0};
        int rc = which == 0 ? deadline_rules_parse(&r, (const char *)p, n, err, sizeof err)
                            : deadline_holidays_parse(&r, (const char *)p, n, err, sizeof err);
        if (rc == 0 && r.nrules > 0) {
            /* Whatever parsed must compute without going out of range. */
            struct deadline_date d = {2026, 2, 28};
            struct deadline_result res;
            for (size_t i = 0; i < r.nrules; i++) {
                deadline_compute(&r, &r.rules[i], d, 23 * 60 + 59, &res);
                /* Whatever parsed has no two rules of one type in force on
                 * one day (the parser refuses overlapping periods). */
                const struct deadline_rule *f =
                    deadline_rule_find(&r, r.rules[i].type, r.rules[i].valid_from);
                if (f != &r.rules[i])
                    abort();
            }
        }
        deadline_rules_free(&r);
        return;
    }
    struct analysis_model m;
    if (analysis_model_parse(&m, (const char *)p, n, err, sizeof err) == 0) {
        struct analysis_result res;
        if (analysis_run(&m, (const char *)p, n, &res) == 0) {
            if (res.score_bp < m.floor_bp || res.score_bp > m.ceiling_bp)
                abort();
            analysis_result_free(&res);
        }
        analysis_model_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char arg[256];
    const char *argp = NULL;
    json_t *body = NULL;

    if (size < 2)
        return 0;
    if (runs++ % 512 == 0)
        reset_db();
    unsigned op = data[0] % (NOPS + NPARSERS), flags = data[1];
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    if (op >= NOPS) {
        parse_rules(op - NOPS, rest, n);
        return 0;
    }
    const uint8_t *nl = memchr(rest, '\n', n);
    if (nl != NULL) {
        size_t al = (size_t)(nl - rest);
        if (al >= sizeof arg)
            al = sizeof arg - 1;
        memcpy(arg, rest, al);
        arg[al] = '\0';
        argp = arg;
        n -= (size_t)(nl - rest) + 1;
        rest = nl + 1;
    }
    body = json_loadb((const char *)rest, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    env.plan_overage_cents = (flags & 1) ? 50 : 0;
    struct wctx c = {
        .db = store,
        .env = &env,
        /* 2026-03-10 plus 0..7 steps of 40 days: crosses months and a year. */
        .now = (time_t)1773136800 + (time_t)((flags >> 1) & 7) * 40 * 86400,
        .user = (flags & 16) ? NULL : &user,
    };
    struct wres r = ops[op](&c, body, argp);
    json_decref(body);

    if (!((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500))) {
        fprintf(stderr, "fuzz: op %u answered %d\n", op, r.status);
        abort();
    }
    if (!json_is_object(r.body) && !json_is_array(r.body))
        abort();
    if (r.status >= 400 && (!json_is_string(json_object_get(r.body, "error")) ||
                            !json_is_string(json_object_get(r.body, "detail"))))
        abort();
    if (ops[op] == model_invoice_create && r.status == 201) {
        json_int_t ht = json_integer_value(json_object_get(r.body, "montant_ht_cents"));
        json_int_t tva = json_integer_value(json_object_get(r.body, "tva_cents"));
        json_int_t ttc = json_integer_value(json_object_get(r.body, "montant_ttc_cents"));
        if (ht < 0 || tva < 0 || ttc != ht + tva)
            abort();
    }
    json_decref(r.body);
    return 0;
}
