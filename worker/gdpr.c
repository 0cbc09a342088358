/*
 * gdpr.c — access log, export, erasure and retention of client files (see
 * gdpr.h).
 */
#include "gdpr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_internal.h"
#include "pages.h"
#include "second_factor.h"

#define BASIS_MAX 200

int gdpr_audit(const struct wctx *c, const char *table, int64_t record_id, const char *action,
               const json_t *old_values, const json_t *new_values, const char *basis)
{
    struct store_stmt *st;
    char now[32];
    char *o = old_values ? json_dumps(old_values, WRES_JSON_FLAGS) : NULL;
    char *n = new_values ? json_dumps(new_values, WRES_JSON_FLAGS) : NULL;
    int rc = -EIO;

    /* While tenantd moves the firm's data (WORKER_READ_ONLY) a line written
     * to the old database would be lost with it: the worker's log keeps it. */
    if (c->env != NULL && c->env->read_only) {
        log_warn(c->env->client_id,
                 "access log (data read-only, not stored): %s %s %lld by %s from %s, basis %s",
                 action, table, (long long)record_id, c->user ? c->user->username : "-",
                 c->address ? c->address : "-", basis ? basis : "-");
        free(o);
        free(n);
        return 0;
    }
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO audit_logs (user_id, username, table_name, record_id, action,"
                      " old_values, new_values, ip_address, gdpr_basis, created_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                      &st) == 0) {
        if (c->user != NULL) {
            store_bind_int64(st, 1, c->user->id);
            store_bind_text(st, 2, c->user->username);
        } else {
            store_bind_null(st, 1);
            store_bind_null(st, 2);
        }
        store_bind_text(st, 3, table);
        store_bind_int64(st, 4, record_id);
        store_bind_text(st, 5, action);
        o ? store_bind_text(st, 6, o) : store_bind_null(st, 6);
        n ? store_bind_text(st, 7, n) : store_bind_null(st, 7);
        c->address ? store_bind_text(st, 8, c->address) : store_bind_null(st, 8);
        basis ? store_bind_text(st, 9, basis) : store_bind_null(st, 9);
        store_bind_text(st, 10, now);
        rc = store_step(st) == STORE_DONE ? 0 : -EIO;
        model_release(st);
    }
    if (rc < 0)
        log_error(c->env ? c->env->client_id : NULL, "access log: cannot record %s of %s %lld: %s",
                  action, table, (long long)record_id, store_errmsg(c->db));
    free(o);
    free(n);
    return rc;
}

/* ---- open, create ----------------------------------------------------------- */

/* The basis of ordinary work on a file: the client's contract with the firm. */
#define BASIS_CONTRACT "contract (GDPR art. 6(1)(b))"

struct wres gdpr_case_open(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres w = model_analysis_get(c, body, arg);
    if (w.status == 200)
        gdpr_audit(c, "ceseda_analyses", json_integer_value(json_object_get(w.body, "id")), "open",
                   NULL, NULL, BASIS_CONTRACT);
    return w;
}

struct wres gdpr_case_create(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres w = model_analysis_create(c, body, arg);
    if (w.status == 201) {
        json_t *nv =
            json_pack("{s:O*, s:O*}", "success_rate", json_object_get(w.body, "success_rate"),
                      "urgency", json_object_get(w.body, "urgency"));
        gdpr_audit(c, "ceseda_analyses", json_integer_value(json_object_get(w.body, "id")),
                   "create", NULL, nv, BASIS_CONTRACT);
        json_decref(nv);
    }
    return w;
}

/* ---- the record of an erasure ----------------------------------------------- */

/* {"erased_at","erased_by","basis","record"} or JSON null; -ENOENT, -EIO. */
static int load_erasure(const struct wctx *c, int64_t id, json_t **out)
{
    struct store_stmt *st;
    int rc;
    *out = NULL;
    if (model_prepare(c,
                      "SELECT erased_at, erased_by, erasure_basis FROM ceseda_analyses"
                      " WHERE id = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    rc = store_step(st);
    if (rc == STORE_ROW) {
        const char *at = store_column_text(st, 0);
        if (at == NULL) {
            *out = json_null();
        } else {
            const char *by = store_column_text(st, 1), *basis = store_column_text(st, 2);
            char rec[400];
            snprintf(rec, sizeof rec, "erased on %s by %s, basis %s", at, by ? by : "?",
                     basis ? basis : "?");
            *out = json_pack("{s:s, s:s?, s:s?, s:s}", "erased_at", at, "erased_by", by, "basis",
                             basis, "record", rec);
        }
        rc = 0;
    } else {
        rc = rc == STORE_DONE ? -ENOENT : -EIO;
    }
    model_release(st);
    return rc;
}

/* ---- access log ------------------------------------------------------------- */

static json_t *audit_rows(const struct wctx *c, int64_t case_id, int64_t limit, int64_t offset,
                          int *err)
{
    struct store_stmt *st;
    json_t *arr = json_array();
    int rc;
    const char *sql =
        case_id > 0 ? "SELECT id, user_id, username, table_name, record_id, action, old_values,"
                      " new_values, ip_address, gdpr_basis, created_at FROM audit_logs"
                      " WHERE table_name = 'ceseda_analyses' AND record_id = ?1"
                      " ORDER BY id LIMIT ?2 OFFSET ?3"
                    : "SELECT id, user_id, username, table_name, record_id, action, old_values,"
                      " new_values, ip_address, gdpr_basis, created_at FROM audit_logs"
                      " WHERE ?1 = 0 ORDER BY id DESC LIMIT ?2 OFFSET ?3";
    *err = 0;
    if (model_prepare(c, sql, &st) < 0) {
        *err = 1;
        return arr;
    }
    store_bind_int64(st, 1, case_id);
    store_bind_int64(st, 2, limit);
    store_bind_int64(st, 3, offset);
    while ((rc = store_step(st)) == STORE_ROW) {
        json_t *o = json_object();
        model_set_int(o, "id", store_column_int64(st, 0));
        if (store_column_text(st, 1) != NULL)
            model_set_int(o, "user_id", store_column_int64(st, 1));
        else
            json_object_set_new(o, "user_id", json_null());
        json_object_set_new(o, "username", model_col_text(st, 2));
        json_object_set_new(o, "table_name", model_col_text(st, 3));
        model_set_int(o, "record_id", store_column_int64(st, 4));
        json_object_set_new(o, "action", model_col_text(st, 5));
        for (int k = 6; k <= 7; k++) {
            const char *v = store_column_text(st, k);
            json_t *j = v ? json_loads(v, 0, NULL) : NULL;
            json_object_set_new(o, k == 6 ? "old_values" : "new_values", j ? j : json_null());
        }
        json_object_set_new(o, "ip_address", model_col_text(st, 8));
        json_object_set_new(o, "gdpr_basis", model_col_text(st, 9));
        json_object_set_new(o, "created_at", model_col_text(st, 10));
        json_array_append_new(arr, o);
    }
    if (rc != STORE_DONE)
        *err = 1;
    model_release(st);
    return arr;
}

static const struct jsonv_field audit_spec[] = {
    {"case", JSONV_INT, 0, 1, INT64_MAX, NULL, NULL},
    {"limit", JSONV_INT, 0, 1, 1000, NULL, NULL},
    {"offset", JSONV_INT, 0, 0, MODEL_OFFSET_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

struct wres gdpr_audit_list(const struct wctx *c, json_t *body, const char *arg)
{
    json_t *q = NULL;
    struct wres res;
    int err;
    if (jsonv_query_reject(arg, audit_spec, &q, &res))
        return res;
    json_t *v = json_object_get(q, "case"), *l = json_object_get(q, "limit"),
           *o = json_object_get(q, "offset");
    json_t *arr = audit_rows(c, v ? json_integer_value(v) : 0, l ? json_integer_value(l) : 200,
                             o ? json_integer_value(o) : 0, &err);
    json_decref(q);
    if (err) {
        json_decref(arr);
        return model_db_error(c, "reading the access log");
    }
    return wres_ok(200, arr);
}

/* ---- export ----------------------------------------------------------------- */

struct wres gdpr_case_export(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres w = model_analysis_get(c, NULL, arg);
    json_t *erasure = NULL, *log, *out;
    char now[32];
    int err;

    if (w.status != 200)
        return w;
    int64_t id = json_integer_value(json_object_get(w.body, "id"));
    if (load_erasure(c, id, &erasure) < 0) {
        json_decref(w.body);
        return model_db_error(c, "reading a client file");
    }
    /* The export is logged first, so the file it gives holds its own line. */
    gdpr_audit(c, "ceseda_analyses", id, "export", NULL, NULL, "access request (GDPR art. 15)");
    log = audit_rows(c, id, 1000, 0, &err);
    model_iso_time(c->now, now, sizeof now);
    out = json_pack("{s:o, s:o, s:o, s:s, s:s?, s:{s:s?, s:s?, s:s?}}", "case", w.body, "erasure",
                    erasure, "access_log", log, "exported_at", now, "exported_by",
                    c->user ? c->user->username : NULL, "firm", "name",
                    c->env ? c->env->client_name : NULL, "siret", c->env ? c->env->siret : NULL,
                    "address", c->env ? c->env->address : NULL);
    if (err) {
        json_decref(out);
        return model_db_error(c, "reading the access log");
    }
    return wres_ok(200, out);
}

static void esc(struct pages_buf *b, const char *s)
{
    pages_buf_escape(b, s ? s : "");
}
static void add(struct pages_buf *b, const char *s)
{
    pages_buf_add(b, s, strlen(s));
}

char *gdpr_export_html(const json_t *exp, const struct wenv *env, size_t *len)
{
    struct pages_buf b = {0};
    const json_t *cs = json_object_get(exp, "case"), *er = json_object_get(exp, "erasure");
    const json_t *log = json_object_get(exp, "access_log"), *f;
    char num[64];
    size_t i;

    add(&b, "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
            "<title>Dossier client — export</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
            "pre{white-space:pre-wrap}</style></head><body>\n<h1>");
    esc(&b, json_string_value(json_object_get(json_object_get(exp, "firm"), "name")));
    add(&b, "</h1>\n<h2>Dossier n° ");
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_object_get(cs, "id")));
    add(&b, num);
    add(&b, "</h2>\n<p>Exporté le ");
    esc(&b, json_string_value(json_object_get(exp, "exported_at")));
    add(&b, " par ");
    esc(&b, json_string_value(json_object_get(exp, "exported_by")));
    add(&b, "</p>\n<table>\n<tr><th>Créé le</th><td>");
    esc(&b, json_string_value(json_object_get(cs, "created_at")));
    add(&b, "</td></tr>\n<tr><th>Urgence</th><td>");
    esc(&b, json_string_value(json_object_get(cs, "urgency")));
    snprintf(num, sizeof num, "%.0f %%",
             json_real_value(json_object_get(cs, "success_rate")) * 100.0);
    add(&b, "</td></tr>\n<tr><th>Taux de succès estimé</th><td>");
    add(&b, num);
    add(&b, "</td></tr>\n<tr><th>Modèle</th><td>");
    esc(&b, json_string_value(json_object_get(cs, "model")));
    add(&b, "</td></tr>\n</table>\n");
    if (json_is_object(er)) {
        add(&b, "<p class=\"erased\"><strong>");
        esc(&b, json_string_value(json_object_get(er, "record")));
        add(&b, "</strong></p>\n");
    } else {
        add(&b, "<h3>Exposé du dossier</h3>\n<pre>");
        esc(&b, json_string_value(json_object_get(cs, "case_text")));
        add(&b, "</pre>\n<h3>Facteurs</h3>\n<ul>\n");
        json_array_foreach(json_object_get(cs, "factors"), i, f)
        {
            add(&b, "<li>");
            esc(&b, json_string_value(json_object_get(f, "label")));
            add(&b, "</li>\n");
        }
        add(&b, "</ul>\n");
    }
    add(&b, "<h3>Journal des accès</h3>\n<table>\n<tr><th>Date</th><th>Utilisateur</th>"
            "<th>Action</th><th>Adresse</th><th>Base légale</th></tr>\n");
    json_array_foreach(log, i, f)
    {
        add(&b, "<tr><td>");
        esc(&b, json_string_value(json_object_get(f, "created_at")));
        add(&b, "</td><td>");
        esc(&b, json_string_value(json_object_get(f, "username")));
        add(&b, "</td><td>");
        esc(&b, json_string_value(json_object_get(f, "action")));
        add(&b, "</td><td>");
        esc(&b, json_string_value(json_object_get(f, "ip_address")));
        add(&b, "</td><td>");
        esc(&b, json_string_value(json_object_get(f, "gdpr_basis")));
        add(&b, "</td></tr>\n");
    }
    if (pages_buf_add(&b, "</table>\n</body></html>\n", 24) < 0) {
        free(b.p);
        return NULL;
    }
    (void)env;
    *len = b.len;
    return b.p;
}

/* ---- erasure ---------------------------------------------------------------- */

static const struct jsonv_field erase_spec[] = {
    {"basis", JSONV_STRING, JSONV_REQUIRED, 3, BASIS_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Erase one file inside the caller's transaction: 1 done, 0 already erased,
 * -ENOENT, -EIO. */
static int erase_one(const struct wctx *c, int64_t id, const char *by, const char *basis)
{
    struct store_stmt *st;
    char now[32];
    int64_t text_len = 0, nfactors = 0;
    int rc;

    if (model_prepare(c,
                      "SELECT length(case_text), positive_factors + negative_factors, erased_at"
                      " FROM ceseda_analyses WHERE id = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    rc = store_step(st);
    if (rc == STORE_ROW) {
        text_len = store_column_int64(st, 0);
        nfactors = store_column_int64(st, 1);
        rc = store_column_text(st, 2) != NULL ? 0 : 1;
    } else {
        rc = rc == STORE_DONE ? -ENOENT : -EIO;
    }
    model_release(st);
    if (rc <= 0)
        return rc;
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "UPDATE ceseda_analyses SET case_text = '', factors = '[]', erased_at = ?2,"
                      " erased_by = ?3, erasure_basis = ?4 WHERE id = ?1 AND erased_at IS NULL",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    store_bind_text(st, 2, now);
    store_bind_text(st, 3, by);
    store_bind_text(st, 4, basis);
    rc = store_step(st) == STORE_DONE ? 1 : -EIO;
    model_release(st);
    if (rc < 0)
        return rc;
    json_t *ov = json_pack("{s:I, s:I}", "case_text_chars", (json_int_t)text_len, "factors",
                           (json_int_t)nfactors);
    json_t *nv = json_pack("{s:s, s:s, s:s}", "erased_at", now, "erased_by", by, "basis", basis);
    rc = gdpr_audit(c, "ceseda_analyses", id, "erase", ov, nv, basis) < 0 ? -EIO : 1;
    json_decref(ov);
    json_decref(nv);
    return rc;
}

struct wres gdpr_case_erase(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    int64_t id;
    json_t *er = NULL;
    int rc;

    if (model_parse_id(arg, &id) < 0)
        return wres_error(404, "not_found", "no client file has this id");
    if (jsonv_reject(body, erase_spec, &res))
        return res;
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    rc = erase_one(c, id, c->user->username, json_string_value(json_object_get(body, "basis")));
    if (rc == -ENOENT) {
        model_rollback(c);
        return wres_error(404, "not_found", "no client file has id %lld", (long long)id);
    }
    if (rc == 0) {
        model_rollback(c);
        return wres_error(409, "conflict", "client file %lld is already erased", (long long)id);
    }
    if (rc < 0 || model_commit(c) < 0) {
        res = model_db_error(c, "erasing a client file");
        model_rollback(c);
        return res;
    }
    if (load_erasure(c, id, &er) < 0)
        return model_db_error(c, "reading a client file");
    return wres_ok(200, json_pack("{s:I, s:o}", "id", (json_int_t)id, "erasure", er));
}

/* ---- retention -------------------------------------------------------------- */

/* Data kinds and their defaults in days (0 = kept until erased by hand). */
static const struct {
    const char *key, *setting;
    int64_t def;
} kinds[] = {
    {"client_files_days", "retention.client_files", 0},
    {"deadlines_days", "retention.deadlines", 0},
    {"access_log_days", "retention.access_log", 0},
    {"invoices_days", "retention.invoices", 3653}, /* 10 years: French commercial law */
};
#define NKINDS (sizeof kinds / sizeof kinds[0])
#define RETENTION_MAX_DAYS 36500

static int64_t kind_days(const struct wctx *c, size_t k)
{
    char v[32];
    if (sf_setting_get(c, kinds[k].setting, v, sizeof v) == 0)
        return strtoll(v, NULL, 10);
    return kinds[k].def;
}

struct wres gdpr_retention_get(const struct wctx *c, json_t *body, const char *arg)
{
    json_t *o = json_object();
    for (size_t k = 0; k < NKINDS; k++)
        model_set_int(o, kinds[k].key, kind_days(c, k));
    return wres_ok(200, o);
}

static const struct jsonv_field retention_spec[] = {
    {"client_files_days", JSONV_INT, 0, 0, RETENTION_MAX_DAYS, NULL, NULL},
    {"deadlines_days", JSONV_INT, 0, 0, RETENTION_MAX_DAYS, NULL, NULL},
    {"access_log_days", JSONV_INT, 0, 0, RETENTION_MAX_DAYS, NULL, NULL},
    {"invoices_days", JSONV_INT, 0, 3653, RETENTION_MAX_DAYS, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

struct wres gdpr_retention_put(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    if (jsonv_reject(body, retention_spec, &res))
        return res;
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    for (size_t k = 0; k < NKINDS; k++) {
        json_t *v = json_object_get(body, kinds[k].key);
        char s[32];
        if (v == NULL)
            continue;
        snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v));
        if (sf_setting_put(c, kinds[k].setting, s) < 0) {
            res = model_db_error(c, "storing the retention periods");
            model_rollback(c);
            return res;
        }
    }
    gdpr_audit(c, "firm_settings", 0, "update", NULL, body, "legal obligation (GDPR art. 5(1)(e))");
    if (model_commit(c) < 0) {
        res = model_db_error(c, "storing the retention periods");
        model_rollback(c);
        return res;
    }
    return gdpr_retention_get(c, NULL, NULL);
}

struct wres gdpr_retention_purge(const struct wctx *c, json_t *body, const char *arg)
{
    int64_t days[NKINDS], erased = 0, deadlines = 0, logs = 0;
    char cutoff[32];
    struct store_stmt *st;
    struct wres res;
    const char *basis = "retention period ended (GDPR art. 5(1)(e))";

    for (size_t k = 0; k < NKINDS; k++)
        days[k] = kind_days(c, k);
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    if (days[0] > 0) {
        int64_t ids[256];
        size_t n = 0;
        model_iso_time(c->now - (time_t)days[0] * 86400, cutoff, sizeof cutoff);
        if (model_prepare(c,
                          "SELECT id FROM ceseda_analyses WHERE erased_at IS NULL AND"
                          " created_at < ?1 ORDER BY id LIMIT 256",
                          &st) < 0)
            goto dberr;
        store_bind_text(st, 1, cutoff);
        while (n < 256 && store_step(st) == STORE_ROW)
            ids[n++] = store_column_int64(st, 0);
        model_release(st);
        for (size_t i = 0; i < n; i++) {
            int rc = erase_one(c, ids[i], "retention", basis);
            if (rc < 0)
                goto dberr;
            erased += rc;
        }
    }
    if (days[1] > 0 || days[2] > 0) {
        for (int k = 1; k <= 2; k++) {
            if (days[k] <= 0)
                continue;
            model_iso_time(c->now - (time_t)days[k] * 86400, cutoff, sizeof cutoff);
            if (model_prepare(c,
                              k == 1 ? "DELETE FROM deadlines WHERE status = 'done' AND"
                                       " created_at < ?1"
                                     : "DELETE FROM audit_logs WHERE created_at < ?1",
                              &st) < 0)
                goto dberr;
            store_bind_text(st, 1, cutoff);
            if (store_step(st) != STORE_DONE) {
                model_release(st);
                goto dberr;
            }
            *(k == 1 ? &deadlines : &logs) = store_changes(st);
            model_release(st);
        }
    }
    if (model_commit(c) < 0)
        goto dberr;
    return wres_ok(200, json_pack("{s:I, s:I, s:I}", "client_files_erased", (json_int_t)erased,
                                  "deadlines_deleted", (json_int_t)deadlines, "access_log_deleted",
                                  (json_int_t)logs));
dberr:
    res = model_db_error(c, "purging by the retention periods");
    model_rollback(c);
    return res;
}
