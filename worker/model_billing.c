/*
 * model_billing.c — the tenant's usage and bill for the current month (the
 * seed's GET /api/billing/usage JSON), database statistics, and the helpers
 * the HTTP layer uses for the users limit.
 *
 * Amounts are computed in cents by usage.c; the seed's euro fields
 * (overage_fees, total_due) are derived from the cents for display only.
 */
#include "model_internal.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>

static const struct jsonv_field no_params[] = {
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static int active_users(const struct wctx *c, int64_t *out)
{
    return model_scalar(c, "SELECT COUNT(*) FROM users WHERE active = 1", NULL, out);
}

struct wres model_billing_usage(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    json_t *q = NULL;
    struct store_stmt *st = NULL;
    char month[8], next[16];
    int64_t used = 0, overage = 0, users = 0;
    struct usage_bill bill;
    const struct wenv *e = c->env;

    if (jsonv_query_reject(arg, no_params, &q, &res))
        return res;
    json_decref(q);
    if (e == NULL)
        return wres_error(500, "internal", "the tenant's settings are not loaded");
    if (usage_month(c->now, month, sizeof month) < 0 ||
        usage_next_billing(c->now, next, sizeof next) < 0)
        return wres_error(500, "internal", "the current month cannot be computed");
    if (model_prepare(c, "SELECT analyses_count, overage_count FROM monthly_usage WHERE month = ?1",
                      &st) < 0)
        return model_db_error(c, "reading the monthly usage");
    store_bind_text(st, 1, month);
    int step = store_step(st);
    if (step == STORE_ROW) {
        used = store_column_int64(st, 0);
        overage = store_column_int64(st, 1);
    }
    model_release(st);
    if ((step != STORE_ROW && step != STORE_DONE) || active_users(c, &users) < 0)
        return model_db_error(c, "reading the monthly usage");
    if (usage_bill(overage, e->plan_price_cents, e->plan_overage_cents, &bill) < 0)
        return wres_error(500, "internal", "the bill of this month cannot be computed");

    json_t *o = json_object();
    if (o == NULL)
        return wres_error(500, "internal", "out of memory");
    model_set_str(o, "client_id", e->client_id);
    model_set_str(o, "month", month);
    model_set_int(o, "analyses_used", used);
    model_set_int(o, "analyses_limit", e->max_analysis_monthly);
    model_set_int(o, "users_active", users);
    model_set_int(o, "users_limit", e->max_users);
    model_set_real(o, "overage_fees", model_euros(bill.overage_fees_cents));
    model_set_real(o, "total_due", model_euros(bill.total_due_cents));
    model_set_int(o, "overage_count", bill.overage_count);
    model_set_int(o, "overage_price_cents", e->plan_overage_cents);
    model_set_int(o, "overage_fees_cents", bill.overage_fees_cents);
    model_set_int(o, "plan_price_cents", e->plan_price_cents);
    model_set_int(o, "total_due_cents", bill.total_due_cents);
    model_set_str(o, "plan", e->plan);
    model_set_str(o, "billing_cycle", "monthly");
    model_set_str(o, "next_billing", next);
    return wres_ok(200, o);
}

struct wres model_stats(const struct wctx *c, json_t *body, const char *arg)
{
    static const struct {
        const char *key, *sql;
    } counts[] = {
        {"users", "SELECT COUNT(*) FROM users"},
        {"users_active", "SELECT COUNT(*) FROM users WHERE active = 1"},
        {"analyses", "SELECT COUNT(*) FROM ceseda_analyses"},
        {"invoices", "SELECT COUNT(*) FROM invoices"},
        {"invoice_items", "SELECT COUNT(*) FROM invoice_items"},
        {"deadlines", "SELECT COUNT(*) FROM deadlines"},
        {"deadlines_active", "SELECT COUNT(*) FROM deadlines WHERE status = 'active'"},
        {"monthly_usage", "SELECT COUNT(*) FROM monthly_usage"},
    };
    struct wres res;
    json_t *q = NULL;

    if (jsonv_query_reject(arg, no_params, &q, &res))
        return res;
    json_decref(q);
    json_t *o = json_object();
    if (o == NULL)
        return wres_error(500, "internal", "out of memory");
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int64_t n = 0;
        if (model_scalar(c, counts[i].sql, NULL, &n) < 0) {
            json_decref(o);
            return model_db_error(c, "counting rows");
        }
        model_set_int(o, counts[i].key, n);
    }
    model_set_str(o, "database_type", store_name(c->db));
    if (c->env != NULL) {
        model_set_str(o, "client_id", c->env->client_id);
        model_set_str(o, "plan", c->env->plan);
    }
    const struct model_rules *mr = model_rules_get();
    model_set_str(o, "model", mr != NULL ? mr->analysis.name : NULL);
    return wres_ok(200, o);
}

int model_users_limit_reached(const struct wctx *c)
{
    int64_t users = 0;
    if (active_users(c, &users) < 0)
        return -EIO;
    return usage_limit_reached(users, c->env != NULL ? c->env->max_users : 0) ? 1 : 0;
}

int model_usage_refresh_users(const struct wctx *c)
{
    struct store_stmt *st = NULL;
    char month[8], now[32];
    int rc = -EIO;
    if (usage_month(c->now, month, sizeof month) < 0)
        return -EINVAL;
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO monthly_usage (month, users_active, created_at, updated_at) "
                      "VALUES (?1, (SELECT COUNT(*) FROM users WHERE active = 1), ?2, ?2) "
                      "ON CONFLICT (month) DO UPDATE SET users_active = excluded.users_active, "
                      "updated_at = excluded.updated_at",
                      &st) < 0)
        return -EIO;
    store_bind_text(st, 1, month);
    store_bind_text(st, 2, now);
    if (store_step(st) == STORE_DONE)
        rc = 0;
    model_release(st);
    return rc;
}
