/*
 * model_deadlines.c — legal deadlines: the procedure types of the rules
 * table, creation (the deadline is computed by deadline_rules.c and stored
 * with the reference it came from), listing by date, and marking done.
 *
 * Urgency is not stored: it depends on today's date, so every read computes
 * it from the stored deadline date and c->now.
 */
#include "model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const deadline_statuses[] = {"active", "done", NULL};

static const struct jsonv_field create_spec[] = {
    {"type", JSONV_STRING, JSONV_REQUIRED, 1, 47, NULL, NULL},
    {"notification_date", JSONV_STRING, JSONV_REQUIRED, 10, 10, NULL, NULL},
    {"description", JSONV_STRING, JSONV_MULTILINE, 0, 1000, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field update_spec[] = {
    {"status", JSONV_STRING, JSONV_REQUIRED, 1, 16, deadline_statuses, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field list_spec[] = {
    {"status", JSONV_STRING, 0, 1, 16, deadline_statuses, NULL},
    {"limit", JSONV_INT, 0, 1, MODEL_LIST_MAX, NULL, NULL},
    {"offset", JSONV_INT, 0, 0, MODEL_OFFSET_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

#define DEADLINE_COLUMNS                                                                           \
    "id, type, description, notification_date, deadline_date, deadline_at, rule_reference, "       \
    "status, created_at, done_at"

/* One deadline row (DEADLINE_COLUMNS) as JSON, with the label of its type
 * and its urgency as of today. */
static json_t *deadline_row(const struct wctx *c, const struct model_rules *mr, sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    const char *type = (const char *)sqlite3_column_text(st, 1);
    const char *date = (const char *)sqlite3_column_text(st, 4);
    const struct deadline_rule *rule =
        type != NULL ? deadline_rule_find(&mr->deadlines, type) : NULL;
    struct deadline_date d;

    model_set_int(o, "id", sqlite3_column_int64(st, 0));
    json_object_set_new(o, "type", model_col_text(st, 1));
    /* A type removed from the rules file since keeps its stored data. */
    model_set_str(o, "label", rule != NULL ? rule->label : NULL);
    json_object_set_new(o, "description", model_col_text(st, 2));
    json_object_set_new(o, "notification_date", model_col_text(st, 3));
    json_object_set_new(o, "deadline_date", model_col_text(st, 4));
    json_object_set_new(o, "deadline_at", model_col_text(st, 5));
    json_object_set_new(o, "rule_reference", model_col_text(st, 6));
    json_object_set_new(o, "status", model_col_text(st, 7));
    json_object_set_new(o, "created_at", model_col_text(st, 8));
    json_object_set_new(o, "done_at", model_col_text(st, 9));
    if (date != NULL && deadline_parse_date(date, &d) == 0) {
        int64_t left = deadline_to_days(d) - deadline_to_days(deadline_today(c->now));
        model_set_int(o, "days_left", left);
        model_set_str(o, "urgency", deadline_urgency(left));
    } else {
        json_object_set_new(o, "days_left", json_null());
        json_object_set_new(o, "urgency", json_null());
    }
    return o;
}

/* Read deadline id: 0 (*out set), -ENOENT or -EIO. */
static int load_deadline(const struct wctx *c, const struct model_rules *mr, int64_t id,
                         json_t **out)
{
    sqlite3_stmt *st;
    int rc = -EIO, step;
    if (model_prepare(c, "SELECT " DEADLINE_COLUMNS " FROM deadlines WHERE id = ?1", &st) < 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = -ENOENT;
    else if (step == SQLITE_ROW && (*out = deadline_row(c, mr, st)) != NULL)
        rc = 0;
    model_release(st);
    return rc;
}

struct wres model_deadline_types(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    if (mr == NULL)
        return model_unavailable();
    json_t *arr = json_array();
    if (arr == NULL)
        return wres_error(500, "internal", "out of memory");
    for (size_t i = 0; i < mr->deadlines.nrules; i++) {
        const struct deadline_rule *r = &mr->deadlines.rules[i];
        json_t *o = json_object();
        if (o == NULL)
            continue;
        model_set_str(o, "type", r->type);
        model_set_str(o, "label", r->label);
        model_set_int(o, "duration", r->duration);
        model_set_str(o, "unit", deadline_unit_name(r->unit));
        model_set_str(o, "calendar", deadline_extension_name(r->extension));
        model_set_str(o, "reference", r->reference);
        model_set_str(o, "note", r->note[0] != '\0' ? r->note : NULL);
        json_array_append_new(arr, o);
    }
    return wres_ok(200, arr);
}

struct wres model_deadline_create(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    struct deadline_date notified;
    struct deadline_result dr;
    sqlite3_stmt *st = NULL;
    char date[16], at[24], now[32];
    json_t *out = NULL;

    if (mr == NULL)
        return model_unavailable();
    if (jsonv_reject(body, create_spec, &res))
        return res;
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *nd = json_string_value(json_object_get(body, "notification_date"));
    json_t *jdesc = json_object_get(body, "description");
    const struct deadline_rule *rule = deadline_rule_find(&mr->deadlines, type);
    if (rule == NULL)
        return wres_error(400, "invalid_request",
                          "the field \"type\" must be one of the procedure types of GET "
                          "/api/deadlines/types");
    if (deadline_parse_date(nd, &notified) < 0)
        return wres_error(400, "invalid_request",
                          "the field \"notification_date\" must be a real date written "
                          "YYYY-MM-DD, between %d and %d",
                          DEADLINE_MIN_YEAR, DEADLINE_MAX_YEAR);
    if (deadline_compute(&mr->deadlines, rule, notified, &dr) < 0)
        return wres_error(400, "invalid_request",
                          "the field \"notification_date\" gives a deadline after %d",
                          DEADLINE_MAX_YEAR);
    deadline_format_date(dr.date, date, sizeof date);
    if (dr.has_time)
        snprintf(at, sizeof at, "%sT%02d:%02d", date, dr.hour, dr.minute);
    model_iso_time(c->now, now, sizeof now);

    if (model_prepare(c,
                      "INSERT INTO deadlines (type, description, notification_date, "
                      "deadline_date, deadline_at, rule_reference, status, user_id, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8)",
                      &st) < 0)
        return model_db_error(c, "preparing a deadline");
    sqlite3_bind_text(st, 1, rule->type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, jdesc != NULL ? json_string_value(jdesc) : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, nd, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, date, -1, SQLITE_TRANSIENT);
    if (dr.has_time)
        sqlite3_bind_text(st, 5, at, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, rule->reference, -1, SQLITE_TRANSIENT);
    if (c->user != NULL)
        sqlite3_bind_int64(st, 7, c->user->id);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
        res = model_db_error(c, "storing a deadline");
        model_release(st);
        return res;
    }
    model_release(st);
    if (load_deadline(c, mr, sqlite3_last_insert_rowid(c->db), &out) < 0)
        return model_db_error(c, "reading the new deadline");
    model_set_bool(out, "extended", dr.extended);
    return wres_ok(201, out);
}

struct wres model_deadline_list(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    json_t *q = NULL, *arr = NULL;
    sqlite3_stmt *st = NULL;
    int step = SQLITE_ERROR;

    if (mr == NULL)
        return model_unavailable();
    if (jsonv_query_reject(arg, list_spec, &q, &res))
        return res;
    json_t *status = json_object_get(q, "status");
    json_t *limit = json_object_get(q, "limit"), *offset = json_object_get(q, "offset");
    if (model_prepare(c,
                      "SELECT " DEADLINE_COLUMNS " FROM deadlines "
                      "WHERE (?1 IS NULL OR status = ?1) "
                      "ORDER BY deadline_date, deadline_at, id LIMIT ?2 OFFSET ?3",
                      &st) < 0) {
        json_decref(q);
        return model_db_error(c, "listing deadlines");
    }
    if (status != NULL)
        sqlite3_bind_text(st, 1, json_string_value(status), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, limit != NULL ? json_integer_value(limit) : MODEL_LIST_DEFAULT);
    sqlite3_bind_int64(st, 3, offset != NULL ? json_integer_value(offset) : 0);
    json_decref(q);
    arr = json_array();
    while (arr != NULL && (step = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, deadline_row(c, mr, st));
    model_release(st);
    if (arr == NULL || step != SQLITE_DONE) {
        json_decref(arr);
        return model_db_error(c, "listing deadlines");
    }
    return wres_ok(200, arr);
}

struct wres model_deadline_get(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    int64_t id;
    json_t *out = NULL;
    if (mr == NULL)
        return model_unavailable();
    if (model_parse_id(arg, &id) < 0)
        return wres_error(404, "not_found", "no deadline has this id");
    int rc = load_deadline(c, mr, id, &out);
    if (rc == -ENOENT)
        return wres_error(404, "not_found", "no deadline has id %lld", (long long)id);
    if (rc < 0)
        return model_db_error(c, "reading a deadline");
    return wres_ok(200, out);
}

struct wres model_deadline_update(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    sqlite3_stmt *st = NULL;
    int64_t id;
    char now[32];
    json_t *out = NULL;

    if (mr == NULL)
        return model_unavailable();
    if (model_parse_id(arg, &id) < 0)
        return wres_error(404, "not_found", "no deadline has this id");
    if (jsonv_reject(body, update_spec, &res))
        return res;
    const char *to = json_string_value(json_object_get(body, "status"));
    model_iso_time(c->now, now, sizeof now);
    /* One statement reads and changes, so no transaction is needed: it only
     * changes a deadline whose status differs from the requested one. */
    if (model_prepare(c,
                      "UPDATE deadlines SET status = ?1, "
                      "done_at = CASE WHEN ?1 = 'done' THEN ?2 ELSE NULL END "
                      "WHERE id = ?3 AND status <> ?1",
                      &st) < 0)
        return model_db_error(c, "preparing a deadline update");
    sqlite3_bind_text(st, 1, to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        res = model_db_error(c, "updating a deadline");
        model_release(st);
        return res;
    }
    model_release(st);
    bool changed = sqlite3_changes(c->db) > 0;
    int rc = load_deadline(c, mr, id, &out);
    if (rc == -ENOENT)
        return wres_error(404, "not_found", "no deadline has id %lld", (long long)id);
    if (rc < 0)
        return model_db_error(c, "reading a deadline");
    if (!changed) {
        json_decref(out);
        return wres_error(409, "conflict", "deadline %lld is already %s", (long long)id, to);
    }
    return wres_ok(200, out);
}
