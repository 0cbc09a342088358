/*
 * admin_billing.c — the vendor's monthly statement per firm.
 *
 * Each time tenantd asks a worker for its month's usage (GET
 * /v1/tenants/<id>/usage, which `tenantctl billing` does for every tenant
 * before asking for the current month's statement), the counts are kept in
 * state.db's `usage_monthly`, one row per (tenant, month), so a statement for
 * a past month still works after restarts of tenantd and of the worker.
 *
 * The worker is a tenant's program and its answer hostile input: only its
 * counts are taken (analyses_used, users_active), for tenantd's own current
 * month (UTC), and a count never goes down within a month (a restored backup
 * does not erase what was used). The plan, its price and its overage price
 * come from tenantd's configuration when the row is written, so changing
 * plans.ini later does not rewrite a past month. Overage per the seed: each
 * analysis over the plan's monthly limit costs overage_cents (0 = the limit
 * blocks, nothing is charged).
 *
 * GET /v1/billing?month=YYYY-MM answers {"month", "statements": [...]}: one
 * statement per tenant known now or recorded that month, in id order.
 */
#include "admin_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "admin_state.h"
#include "log.h"
#include "usage_fetch.h"
#include "usage_shape.h"
#include "usage_token.h"

static const char billing_schema[] = "CREATE TABLE IF NOT EXISTS usage_monthly ("
                                     "  tenant TEXT NOT NULL,"
                                     "  month TEXT NOT NULL,"
                                     "  plan TEXT NOT NULL,"
                                     "  analyses_used INTEGER NOT NULL,"
                                     "  analyses_limit INTEGER NOT NULL,"
                                     "  users_active INTEGER NOT NULL,"
                                     "  plan_price_cents INTEGER NOT NULL,"
                                     "  overage_price_cents INTEGER NOT NULL,"
                                     "  recorded_at TEXT NOT NULL,"
                                     "  PRIMARY KEY (tenant, month));";

static int ensure_table(sqlite3 *db)
{
    return sqlite3_exec(db, billing_schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

bool admin_billing_month_valid(const char *m)
{
    if (strlen(m) != 7 || m[4] != '-')
        return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (m[i] < '0' || m[i] > '9'))
            return false;
    int mon = (m[5] - '0') * 10 + (m[6] - '0');
    return mon >= 1 && mon <= 12 && m[0] != '0';
}

static void current_month(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(buf, n, "%04d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100);
}

void admin_billing_record(struct admin *a, const char *id, const json_t *usage)
{
    if (a->state == NULL)
        return;
    sqlite3 *db = admin_state_db(a->state);
    char month[24];
    current_month(month, sizeof month);
    const char *wm = json_string_value(json_object_get(usage, "month"));
    if (wm == NULL || strcmp(wm, month) != 0) {
        log_info(id, "billing: usage not recorded: the worker's month %s is not tenantd's %s",
                 wm ? wm : "(none)", month);
        return;
    }
    struct tenant_view v;
    if (sup_tenant_find(a->sup, id, &v) < 0)
        return;
    const struct config *cfg = sup_config(a->sup);
    const struct config_plan *p = config_plan_find(&cfg->plans, v.plan);
    if (p == NULL)
        return;
    int64_t limit = p->max_analysis_monthly;
    for (size_t i = 0; i < cfg->n_tenants; i++)
        if (strcmp(cfg->tenants[i].id, id) == 0 && cfg->tenants[i].valid)
            limit = cfg->tenants[i].t.max_analysis_monthly;
    json_int_t used = json_integer_value(json_object_get(usage, "analyses_used"));
    json_int_t users = json_integer_value(json_object_get(usage, "users_active"));
    sqlite3_stmt *st = NULL;
    int rc = ensure_table(db);
    if (rc == 0)
        rc = sqlite3_prepare_v2(
                 db,
                 "INSERT INTO usage_monthly (tenant, month, plan, analyses_used, analyses_limit,"
                 " users_active, plan_price_cents, overage_price_cents, recorded_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                 " ON CONFLICT (tenant, month) DO UPDATE SET plan = excluded.plan,"
                 " analyses_used = max(analyses_used, excluded.analyses_used),"
                 " analyses_limit = excluded.analyses_limit,"
                 " users_active = max(users_active, excluded.users_active),"
                 " plan_price_cents = excluded.plan_price_cents,"
                 " overage_price_cents = excluded.overage_price_cents,"
                 " recorded_at = excluded.recorded_at",
                 -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, used);
        sqlite3_bind_int64(st, 5, limit);
        sqlite3_bind_int64(st, 6, users);
        sqlite3_bind_int64(st, 7, p->price_cents);
        sqlite3_bind_int64(st, 8, p->overage_cents);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    if (rc < 0)
        log_warn(id, "billing: cannot record the month's usage: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static double euros(int64_t cents)
{
    return (double)cents / 100.0;
}

/* One statement; overage per the seed: analyses over the limit, charged only
 * when the plan has an overage price. */
static json_t *statement(const char *id, const char *name, const char *plan, const char *month,
                         int64_t used, int64_t limit, int64_t users, int64_t price,
                         int64_t over_price, bool recorded)
{
    int64_t over = 0;
    if (over_price > 0 && limit >= 0 && used > limit)
        over = used - limit;
    int64_t fees = 0, total = 0;
    if (__builtin_mul_overflow(over, over_price, &fees) ||
        __builtin_add_overflow(price, fees, &total))
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f,"
                     " s:f, s:b}",
                     "id", id, "name", name, "plan", plan, "month", month, "analyses_used",
                     (json_int_t)used, "analyses_limit", (json_int_t)limit, "users_active",
                     (json_int_t)users, "overage_count", (json_int_t)over, "overage_price_cents",
                     (json_int_t)over_price, "plan_price_cents", (json_int_t)price,
                     "overage_fees_cents", (json_int_t)fees, "total_due_cents", (json_int_t)total,
                     "plan_price", euros(price), "overage_fees", euros(fees), "total_due",
                     euros(total), "usage_recorded", recorded);
}

/* The configured tenant's statement when nothing was recorded that month:
 * the plan's price, no overage. */
static json_t *unrecorded(const struct config *cfg, const struct config_tenant_entry *e,
                          const char *month)
{
    if (!e->valid)
        return NULL;
    const struct config_plan *p = config_plan_find(&cfg->plans, e->t.plan);
    if (p == NULL)
        return NULL;
    return statement(e->id, e->t.name, p->name, month, 0, e->t.max_analysis_monthly, 0,
                     p->price_cents, p->overage_cents, false);
}

static const char *name_of(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_tenants; i++)
        if (strcmp(cfg->tenants[i].id, id) == 0 && cfg->tenants[i].valid)
            return cfg->tenants[i].t.name;
    return "";
}

void admin_billing_get(struct admin *a, h2o_req_t *req, h2o_iovec_t query)
{
    char month[24] = "";
    if (!admin_query_get(query, "month", month, sizeof month)) {
        current_month(month, sizeof month);
    } else if (!admin_billing_month_valid(month)) {
        admin_send_error(req, 400, "bad request", "month: expected YYYY-MM (e.g. 2026-11)");
        return;
    }
    if (a->state == NULL) {
        admin_send_error(req, 503, "unavailable", "state.db is not open: no usage is kept");
        return;
    }
    sqlite3 *db = admin_state_db(a->state);
    const struct config *cfg = sup_config(a->sup);
    json_t *list = json_array();
    sqlite3_stmt *st = NULL;
    if (list == NULL || ensure_table(db) < 0 ||
        sqlite3_prepare_v2(db,
                           "SELECT tenant, plan, analyses_used, analyses_limit, users_active,"
                           " plan_price_cents, overage_price_cents FROM usage_monthly"
                           " WHERE month = ?1 ORDER BY tenant",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(list);
        admin_send_error(req, 500, "internal", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, month, -1, SQLITE_STATIC);
    /* Merge the recorded rows (sorted) with the configured tenants (sorted). */
    size_t i = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *tid = (const char *)sqlite3_column_text(st, 0);
        const char *plan = (const char *)sqlite3_column_text(st, 1);
        if (tid == NULL || plan == NULL)
            continue;
        for (; i < cfg->n_tenants && strcmp(cfg->tenants[i].id, tid) < 0; i++)
            json_array_append_new(list, unrecorded(cfg, &cfg->tenants[i], month));
        if (i < cfg->n_tenants && strcmp(cfg->tenants[i].id, tid) == 0)
            i++;
        json_array_append_new(
            list, statement(tid, name_of(cfg, tid), plan, month, sqlite3_column_int64(st, 2),
                            sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                            sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6), true));
    }
    for (; i < cfg->n_tenants; i++)
        json_array_append_new(list, unrecorded(cfg, &cfg->tenants[i], month));
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        admin_send_error(req, 500, "internal", sqlite3_errmsg(db));
        return;
    }
    admin_send_json(req, 200, json_pack("{s:s, s:o}", "month", month, "statements", list));
}

/* ---- the usage recorder ---------------------------------------------------
 * Every [tenantd] usage_record_every (1h) each running tenant's usage is asked
 * and recorded as above, so the last hours of a month are kept even when no
 * one looks at the status page (the month-end statement). Heap-allocated and
 * freed in its own close callback: it outlives neither its fetches nor needs
 * the admin struct once stopped. */

struct rec_fetch {
    struct billing_recorder *r;
    struct rec_fetch *next;
    struct usage_fetch *fetch;
    char id[CONFIG_ID_MAX];
};

struct billing_recorder {
    struct admin *a; /* NULL once stopped */
    uv_timer_t timer;
    struct rec_fetch *fetches;
};

static void rec_unlink(struct rec_fetch *f)
{
    for (struct rec_fetch **p = &f->r->fetches; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            return;
        }
    }
}

static void on_rec_usage(void *arg, int result, const char *body, size_t len)
{
    struct rec_fetch *f = arg;
    rec_unlink(f);
    if (result == 200 && f->r->a != NULL) {
        char why[128];
        json_t *j = json_loadb(body, len, 0, NULL);
        json_t *u = usage_shape(j, f->id, why, sizeof why);
        json_decref(j);
        if (u != NULL)
            admin_billing_record(f->r->a, f->id, u);
        else
            log_warn(f->id, "billing: the worker's usage is refused: %s", why);
        json_decref(u);
    }
    free(f);
}

static void rec_round(uv_timer_t *t)
{
    struct billing_recorder *r = t->data;
    struct admin *a = r->a;
    size_t n = sup_tenant_count(a->sup);
    for (size_t i = 0; i < n; i++) {
        struct tenant_view v;
        char token[USAGE_TOKEN_LEN + 1];
        int port = 0;
        if (sup_tenant_view_nostats(a->sup, i, &v) < 0 || v.state != TS_RUNNING ||
            sup_tenant_usage_target(a->sup, v.id, &port, token, sizeof token) < 0)
            continue;
        struct rec_fetch *f = calloc(1, sizeof *f);
        if (f == NULL) {
            sodium_memzero(token, sizeof token);
            break;
        }
        f->r = r;
        snprintf(f->id, sizeof f->id, "%s", v.id);
        int rc = usage_fetch_start(a->loop, port, token, 2000, on_rec_usage, f, &f->fetch);
        sodium_memzero(token, sizeof token);
        if (rc < 0) {
            free(f);
            continue;
        }
        f->next = r->fetches;
        r->fetches = f;
    }
    uv_timer_start(&r->timer, rec_round, (uint64_t)sup_config(a->sup)->g.usage_record_every_ms, 0);
}

int admin_billing_start(struct admin *a)
{
    if (a->state == NULL)
        return 0;
    struct billing_recorder *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    int rc = uv_timer_init(a->loop, &r->timer);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->a = a;
    r->timer.data = r;
    uv_timer_start(&r->timer, rec_round, (uint64_t)sup_config(a->sup)->g.usage_record_every_ms, 0);
    a->billing = r;
    return 0;
}

static void on_rec_closed(uv_handle_t *h)
{
    free(h->data);
}

void admin_billing_stop(struct admin *a)
{
    struct billing_recorder *r = a->billing;
    if (r == NULL)
        return;
    a->billing = NULL;
    r->a = NULL;
    while (r->fetches) {
        struct rec_fetch *f = r->fetches;
        r->fetches = f->next;
        usage_fetch_cancel(f->fetch);
        free(f);
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_rec_closed);
}
