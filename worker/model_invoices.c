/*
 * model_invoices.c — invoices: creation with gap-free yearly numbering,
 * listing, reading, and the status lifecycle.
 *
 * Lifecycle (any other change, including to the same status, is 409):
 *
 *     draft ──► sent ──► paid
 *       │        │
 *       └────────┴─────► cancelled
 *
 * An invoice is never deleted: a cancelled invoice keeps its number, so the
 * yearly sequence has no gap (French invoicing rules). The number is
 * allocated as max(seq)+1 of the year inside the BEGIN IMMEDIATE transaction
 * that inserts the invoice, so two concurrent requests cannot get the same
 * number; UNIQUE(year, seq) backs this up. Amounts follow vat.h.
 */
#include "invoice_num.h"
#include "model_internal.h"
#include "vat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define INVOICE_MAX_ITEMS 100

static const char *const invoice_statuses[] = {"draft", "sent", "paid", "cancelled", NULL};

static const struct jsonv_field item_spec[] = {
    {"description", JSONV_STRING, JSONV_REQUIRED, 1, 500, NULL, NULL},
    {"quantity", JSONV_INT, JSONV_REQUIRED, 1, 1000000, NULL, NULL},
    {"unit_price_cents", JSONV_INT, JSONV_REQUIRED, 0, VAT_MAX_CENTS, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field create_spec[] = {
    {"client_name", JSONV_STRING, JSONV_REQUIRED, 1, 200, NULL, NULL},
    {"items", JSONV_ARRAY, JSONV_REQUIRED, 1, INVOICE_MAX_ITEMS, NULL, item_spec},
    {"vat_rate_bp", JSONV_INT, 0, 0, VAT_MAX_RATE_BP, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field update_spec[] = {
    {"status", JSONV_STRING, JSONV_REQUIRED, 1, 16, invoice_statuses, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field list_spec[] = {
    {"limit", JSONV_INT, 0, 1, MODEL_LIST_MAX, NULL, NULL},
    {"offset", JSONV_INT, 0, 0, MODEL_OFFSET_MAX, NULL, NULL},
    {"status", JSONV_STRING, 0, 1, 16, invoice_statuses, NULL},
    {"year", JSONV_INT, 0, INVNUM_MIN_YEAR, INVNUM_MAX_YEAR, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static bool transition_allowed(const char *from, const char *to)
{
    if (strcmp(from, "draft") == 0)
        return strcmp(to, "sent") == 0 || strcmp(to, "cancelled") == 0;
    if (strcmp(from, "sent") == 0)
        return strcmp(to, "paid") == 0 || strcmp(to, "cancelled") == 0;
    return false;
}

#define INVOICE_COLUMNS                                                                            \
    "id, numero, year, seq, client_name, vat_rate_bp, montant_ht_cents, tva_cents, "               \
    "montant_ttc_cents, status, created_at, updated_at"

/* One invoice row (INVOICE_COLUMNS) as JSON, without its items. */
static json_t *invoice_row(struct store_stmt *st)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int64_t ht = store_column_int64(st, 6), tva = store_column_int64(st, 7),
            ttc = store_column_int64(st, 8);
    model_set_int(o, "id", store_column_int64(st, 0));
    json_object_set_new(o, "numero", model_col_text(st, 1));
    model_set_int(o, "year", store_column_int64(st, 2));
    model_set_int(o, "seq", store_column_int64(st, 3));
    json_object_set_new(o, "client_name", model_col_text(st, 4));
    model_set_int(o, "vat_rate_bp", store_column_int64(st, 5));
    model_set_int(o, "montant_ht_cents", ht);
    model_set_int(o, "tva_cents", tva);
    model_set_int(o, "montant_ttc_cents", ttc);
    /* The seed's euro amounts, for clients written against it. */
    model_set_real(o, "montant_ht", model_euros(ht));
    model_set_real(o, "montant_ttc", model_euros(ttc));
    json_object_set_new(o, "status", model_col_text(st, 9));
    json_object_set_new(o, "created_at", model_col_text(st, 10));
    json_object_set_new(o, "updated_at", model_col_text(st, 11));
    return o;
}

/* Read the invoice numbered numero with its items: 0 (*out set), -ENOENT, -EIO. */
static int load_invoice(const struct wctx *c, const char *numero, json_t **out)
{
    struct store_stmt *st = NULL;
    json_t *inv = NULL, *items = NULL;
    int rc = -EIO, step;
    int64_t id;

    if (model_prepare(c, "SELECT " INVOICE_COLUMNS " FROM invoices WHERE numero = ?1", &st) < 0)
        return -EIO;
    store_bind_text(st, 1, numero);
    step = store_step(st);
    if (step == STORE_DONE) {
        rc = -ENOENT;
        goto out;
    }
    if (step != STORE_ROW || (inv = invoice_row(st)) == NULL)
        goto out;
    id = store_column_int64(st, 0);
    model_release(st);
    st = NULL;
    if (model_prepare(c,
                      "SELECT description, quantity, unit_price_cents, total_cents "
                      "FROM invoice_items WHERE invoice_id = ?1 ORDER BY position",
                      &st) < 0)
        goto out;
    store_bind_int64(st, 1, id);
    items = json_array();
    if (items == NULL)
        goto out;
    while ((step = store_step(st)) == STORE_ROW) {
        json_t *it = json_object();
        if (it == NULL)
            goto out;
        json_object_set_new(it, "description", model_col_text(st, 0));
        model_set_int(it, "quantity", store_column_int64(st, 1));
        model_set_int(it, "unit_price_cents", store_column_int64(st, 2));
        model_set_int(it, "total_cents", store_column_int64(st, 3));
        json_array_append_new(items, it);
    }
    if (step != STORE_DONE)
        goto out;
    json_object_set_new(inv, "items", items);
    items = NULL;
    *out = inv;
    inv = NULL;
    rc = 0;
out:
    model_release(st);
    json_decref(inv);
    json_decref(items);
    return rc;
}

/* Insert the invoice and its items; the caller holds the transaction. */
static int insert_invoice(const struct wctx *c, json_t *body, int rate_bp,
                          const struct vat_totals *tot, const int64_t *lines, char *numero,
                          size_t numlen)
{
    struct store_stmt *st = NULL;
    int64_t seq = 0, invoice_id;
    int year = invnum_year(c->now), rc = -EIO;
    char now[32];

    model_iso_time(c->now, now, sizeof now);
    /* The next number of the year; the write lock is already held. */
    if (model_prepare(c, "SELECT COALESCE(MAX(seq), 0) + 1 FROM invoices WHERE year = ?1", &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, year);
    if (store_step(st) != STORE_ROW)
        goto out;
    seq = store_column_int64(st, 0);
    model_release(st);
    st = NULL;
    if (invnum_format(year, seq, numero, numlen) < 0) {
        rc = -ERANGE;
        goto out;
    }
    if (model_prepare(c,
                      "INSERT INTO invoices (numero, year, seq, client_name, vat_rate_bp, "
                      "montant_ht_cents, tva_cents, montant_ttc_cents, status, user_id, "
                      "created_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', ?9, ?10, ?10)",
                      &st) < 0)
        goto out;
    store_bind_text(st, 1, numero);
    store_bind_int64(st, 2, year);
    store_bind_int64(st, 3, seq);
    store_bind_text(st, 4, json_string_value(json_object_get(body, "client_name")));
    store_bind_int64(st, 5, rate_bp);
    store_bind_int64(st, 6, tot->ht_cents);
    store_bind_int64(st, 7, tot->tva_cents);
    store_bind_int64(st, 8, tot->ttc_cents);
    if (c->user != NULL)
        store_bind_int64(st, 9, c->user->id);
    else
        store_bind_null(st, 9);
    store_bind_text(st, 10, now);
    if (store_step(st) != STORE_DONE)
        goto out;
    invoice_id = store_last_id(c->db);
    model_release(st);
    st = NULL;
    if (model_prepare(c,
                      "INSERT INTO invoice_items (invoice_id, position, description, quantity, "
                      "unit_price_cents, total_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      &st) < 0)
        goto out;
    json_t *items = json_object_get(body, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        store_reset(st);
        store_bind_int64(st, 1, invoice_id);
        store_bind_int64(st, 2, (int64_t)i + 1);
        store_bind_text(st, 3, json_string_value(json_object_get(it, "description")));
        store_bind_int64(st, 4, json_integer_value(json_object_get(it, "quantity")));
        store_bind_int64(st, 5, json_integer_value(json_object_get(it, "unit_price_cents")));
        store_bind_int64(st, 6, lines[i]);
        if (store_step(st) != STORE_DONE)
            goto out;
    }
    rc = 0;
out:
    model_release(st);
    return rc;
}

struct wres model_invoice_create(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    int64_t lines[INVOICE_MAX_ITEMS];
    struct vat_totals tot;
    char numero[INVNUM_BUF];
    json_t *inv = NULL;
    int rate_bp = VAT_DEFAULT_RATE_BP, rc;

    if (jsonv_reject(body, create_spec, &res))
        return res;
    if (json_object_get(body, "vat_rate_bp") != NULL)
        rate_bp = (int)json_integer_value(json_object_get(body, "vat_rate_bp"));
    json_t *items = json_object_get(body, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        rc = vat_line_total(json_integer_value(json_object_get(it, "quantity")),
                            json_integer_value(json_object_get(it, "unit_price_cents")), &lines[i]);
        if (rc < 0)
            return wres_error(400, "invalid_request",
                              "the field \"items[%zu]\" has a total above the largest amount "
                              "accepted (%" PRId64 " cents)",
                              i, VAT_MAX_CENTS);
    }
    if (vat_totals(lines, json_array_size(items), rate_bp, &tot) < 0)
        return wres_error(400, "invalid_request",
                          "the field \"items\" adds up to more than the largest amount "
                          "accepted (%" PRId64 " cents)",
                          VAT_MAX_CENTS);

    if (model_begin(c) < 0)
        return model_db_error(c, "starting an invoice");
    rc = insert_invoice(c, body, rate_bp, &tot, lines, numero, sizeof numero);
    if (rc == -ERANGE) {
        model_rollback(c);
        return wres_error(409, "conflict", "the invoice numbers of this year are exhausted");
    }
    if (rc < 0) {
        res = model_db_error(c, "creating an invoice");
        model_rollback(c);
        return res;
    }
    if (model_commit(c) < 0) {
        res = model_db_error(c, "committing an invoice");
        model_rollback(c);
        return res;
    }
    if (load_invoice(c, numero, &inv) < 0)
        return model_db_error(c, "reading the new invoice");
    return wres_ok(201, inv);
}

struct wres model_invoice_get(const struct wctx *c, json_t *body, const char *arg)
{
    int year;
    int64_t seq;
    json_t *inv = NULL;
    if (arg == NULL || invnum_parse(arg, &year, &seq) < 0)
        return wres_error(404, "not_found", "no invoice has this number (expected YYYY-NNNN)");
    int rc = load_invoice(c, arg, &inv);
    if (rc == -ENOENT)
        return wres_error(404, "not_found", "no invoice is numbered %s", arg);
    if (rc < 0)
        return model_db_error(c, "reading an invoice");
    return wres_ok(200, inv);
}

struct wres model_invoice_list(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    json_t *q = NULL, *arr = NULL;
    struct store_stmt *st = NULL;
    int step;

    if (jsonv_query_reject(arg, list_spec, &q, &res))
        return res;
    json_t *limit = json_object_get(q, "limit"), *offset = json_object_get(q, "offset");
    json_t *status = json_object_get(q, "status"), *year = json_object_get(q, "year");
    if (model_prepare(c,
                      "SELECT " INVOICE_COLUMNS ", (SELECT COUNT(*) FROM invoice_items i "
                      "WHERE i.invoice_id = invoices.id) FROM invoices "
                      "WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) "
                      "AND (CAST(?2 AS INTEGER) IS NULL OR year = ?2) "
                      "ORDER BY year DESC, seq DESC LIMIT ?3 OFFSET ?4",
                      &st) < 0) {
        json_decref(q);
        return model_db_error(c, "listing invoices");
    }
    if (status != NULL)
        store_bind_text(st, 1, json_string_value(status));
    if (year != NULL)
        store_bind_int64(st, 2, json_integer_value(year));
    store_bind_int64(st, 3, limit != NULL ? json_integer_value(limit) : MODEL_LIST_DEFAULT);
    store_bind_int64(st, 4, offset != NULL ? json_integer_value(offset) : 0);
    json_decref(q);
    arr = json_array();
    while (arr != NULL && (step = store_step(st)) == STORE_ROW) {
        json_t *o = invoice_row(st);
        if (o != NULL)
            model_set_int(o, "item_count", store_column_int64(st, 12));
        json_array_append_new(arr, o);
    }
    if (arr == NULL || step != STORE_DONE) {
        res = model_db_error(c, "listing invoices");
        json_decref(arr);
        model_release(st);
        return res;
    }
    model_release(st);
    return wres_ok(200, arr);
}

struct wres model_invoice_update(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    struct store_stmt *st = NULL;
    char from[16] = "", now[32];
    int year, step;
    int64_t seq;
    json_t *inv = NULL;

    if (arg == NULL || invnum_parse(arg, &year, &seq) < 0)
        return wres_error(404, "not_found", "no invoice has this number (expected YYYY-NNNN)");
    if (jsonv_reject(body, update_spec, &res))
        return res;
    const char *to = json_string_value(json_object_get(body, "status"));
    model_iso_time(c->now, now, sizeof now);

    if (model_begin(c) < 0)
        return model_db_error(c, "starting an invoice update");
    if (model_prepare(c, "SELECT status FROM invoices WHERE numero = ?1", &st) < 0)
        goto dberr;
    store_bind_text(st, 1, arg);
    step = store_step(st);
    if (step == STORE_DONE) {
        model_release(st);
        model_rollback(c);
        return wres_error(404, "not_found", "no invoice is numbered %s", arg);
    }
    if (step != STORE_ROW)
        goto dberr;
    snprintf(from, sizeof from, "%s", (const char *)store_column_text(st, 0));
    model_release(st);
    st = NULL;
    if (!transition_allowed(from, to)) {
        model_rollback(c);
        return wres_error(409, "conflict",
                          "invoice %s is %s and cannot become %s (allowed: draft to sent, sent "
                          "to paid, draft or sent to cancelled)",
                          arg, from, to);
    }
    if (model_prepare(c, "UPDATE invoices SET status = ?1, updated_at = ?2 WHERE numero = ?3",
                      &st) < 0)
        goto dberr;
    store_bind_text(st, 1, to);
    store_bind_text(st, 2, now);
    store_bind_text(st, 3, arg);
    if (store_step(st) != STORE_DONE)
        goto dberr;
    model_release(st);
    st = NULL;
    if (model_commit(c) < 0)
        goto dberr;
    if (load_invoice(c, arg, &inv) < 0)
        return model_db_error(c, "reading the updated invoice");
    return wres_ok(200, inv);
dberr:
    res = model_db_error(c, "updating an invoice");
    model_release(st);
    model_rollback(c);
    return res;
}
