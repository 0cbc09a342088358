/*
 * model_deadlines.c — legal deadlines: the procedure types in force on a
 * date, creation (the deadline is computed by deadline_rules.c under the
 * rule in force on the notification date and stored with the reference it
 * came from), listing by date, and marking done.
 *
 * Urgency is not stored: it depends on today's date, so every read computes
 * it from the stored deadline date and c->now. What the lawyer must know of
 * the rule (délai franc or not, extension, confirmed or "à confirmer",
 * whether the notification fell under a previous regime) is read from the
 * rule in force on the stored notification date, so an answer always says
 * which rule it used.
 */
#include "model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const deadline_statuses[] = {"active", "done", NULL};

static const struct jsonv_field create_spec[] = {
    {"type", JSONV_STRING, JSONV_REQUIRED, 1, 47, NULL, NULL},
    {"notification_date", JSONV_STRING, JSONV_REQUIRED, 10, 10, NULL, NULL},
    {"notification_time", JSONV_STRING, 0, 5, 5, NULL, NULL},
    {"description", JSONV_STRING, JSONV_MULTILINE, 0, 1000, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field types_spec[] = {
    {"date", JSONV_STRING, 0, 10, 10, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct jsonv_field update_spec[] = {
    {"status", JSONV_STRING, 0, 1, 16, deadline_statuses, NULL},
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
    "status, created_at, done_at, responsible_user_id, fallback_user_id, "                         \
    "(SELECT username FROM users WHERE users.id = deadlines.responsible_user_id), "                \
    "(SELECT username FROM users WHERE users.id = deadlines.fallback_user_id)"

/* The people of a deadline (issue 21): who receives its reminders. */
static const char *const people[] = {"responsible_user_id", "fallback_user_id"};

/* Take the people fields out of a request (they may be null, which jsonv
 * cannot say) and check each names an active user of the firm: 0, or -1
 * with the answer in *res (400 for a wrong type, 422 naming the field for
 * an id of no active user here). ids[k] is -1 when absent, 0 for null. */
static int take_people(const struct wctx *c, json_t *body, json_t **rest, int64_t ids[2],
                       struct wres *res)
{
    *rest = json_copy(body);
    if (*rest == NULL) {
        *res = wres_error(500, "internal", "out of memory");
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(body, people[k]);
        json_object_del(*rest, people[k]);
        ids[k] = -1;
        if (v == NULL)
            continue;
        if (json_is_null(v) && k == 1) {
            ids[k] = 0;
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            *res = wres_error(400, "invalid_request", "the field \"%s\" must be a user id%s",
                              people[k], k == 1 ? " or null" : "");
            goto fail;
        }
        ids[k] = json_integer_value(v);
        int64_t n = 0;
        struct store_stmt *st;
        if (model_prepare(c, "SELECT COUNT(*) FROM users WHERE id = ?1 AND active = 1", &st) < 0) {
            *res = model_db_error(c, "reading the firm's users");
            goto fail;
        }
        store_bind_int64(st, 1, ids[k]);
        if (store_step(st) == STORE_ROW)
            n = store_column_int64(st, 0);
        model_release(st);
        if (n == 0) {
            *res = wres_error(422, "invalid_user",
                              "the field \"%s\": %lld is not an active user of this firm",
                              people[k], (long long)ids[k]);
            if (res->body != NULL)
                model_set_str(res->body, "field", people[k]);
            goto fail;
        }
    }
    return 0;
fail:
    json_decref(*rest);
    *rest = NULL;
    return -1;
}

static void set_date(json_t *o, const char *k, bool present, struct deadline_date d)
{
    char b[16];
    if (!present) {
        json_object_set_new(o, k, json_null());
        return;
    }
    deadline_format_date(d, b, sizeof b);
    model_set_str(o, k, b);
}

/* What a lawyer must know of a rule, as the type list and every deadline
 * show it. */
static void describe_rule(json_t *o, const struct deadline_rule *r)
{
    model_set_str(o, "label", r->label);
    model_set_int(o, "duration", r->duration);
    model_set_str(o, "unit", deadline_unit_name(r->unit));
    model_set_str(o, "calendar", deadline_extension_name(r->extension));
    model_set_bool(o, "franc", r->extension == DEADLINE_FRANC);
    /* Hours are never extended (the parser refuses it); days and months are
     * extended past a weekend or holiday unless the rule says "calendar". */
    model_set_bool(o, "extends_to_working_day", r->extension != DEADLINE_CALENDAR);
    model_set_bool(o, "needs_time", r->unit == DEADLINE_HOURS);
    model_set_str(o, "reference", r->reference);
    model_set_str(o, "note", r->note[0] != '\0' ? r->note : NULL);
    model_set_str(o, "source", r->source[0] != '\0' ? r->source : NULL);
    set_date(o, "valid_from", true, r->valid_from);
    set_date(o, "valid_until", r->has_until, r->valid_until);
    model_set_bool(o, "confirmed", r->confirmed);
    set_date(o, "checked", r->has_checked, r->checked);
}

/* Whether the rule used for a notification is no longer the one in force
 * today for its type (a previous regime). */
static bool previous_regime(const struct wctx *c, const struct model_rules *mr,
                            const struct deadline_rule *rule)
{
    return deadline_rule_find(&mr->deadlines, rule->type, deadline_today(c->now)) != rule;
}

/* One deadline row (DEADLINE_COLUMNS) as JSON, with the rule it was computed
 * under and its urgency as of today. */
static json_t *deadline_row(const struct wctx *c, const struct model_rules *mr,
                            struct store_stmt *st)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    const char *type = (const char *)store_column_text(st, 1);
    const char *notified = (const char *)store_column_text(st, 3);
    const char *date = (const char *)store_column_text(st, 4);
    struct deadline_date d, n;
    const struct deadline_rule *rule = NULL;
    if (type != NULL && notified != NULL && deadline_parse_date(notified, &n) == 0)
        rule = deadline_rule_find(&mr->deadlines, type, n);

    model_set_int(o, "id", store_column_int64(st, 0));
    json_object_set_new(o, "type", model_col_text(st, 1));
    /* A rule removed from the rules file since keeps its stored data. */
    model_set_str(o, "label", rule != NULL ? rule->label : NULL);
    json_object_set_new(o, "description", model_col_text(st, 2));
    json_object_set_new(o, "notification_date", model_col_text(st, 3));
    json_object_set_new(o, "deadline_date", model_col_text(st, 4));
    json_object_set_new(o, "deadline_at", model_col_text(st, 5));
    json_object_set_new(o, "rule_reference", model_col_text(st, 6));
    json_object_set_new(o, "status", model_col_text(st, 7));
    json_object_set_new(o, "created_at", model_col_text(st, 8));
    json_object_set_new(o, "done_at", model_col_text(st, 9));
    for (int k = 0; k < 2; k++) {
        const char *name = store_column_text(st, 12 + k);
        json_object_set_new(o, people[k],
                            name != NULL ? json_integer(store_column_int64(st, 10 + k))
                                         : json_null());
        model_set_str(o, k == 0 ? "responsible" : "fallback", name);
    }
    if (rule != NULL) {
        json_t *jr = json_object();
        if (jr != NULL) {
            describe_rule(jr, rule);
            json_object_set_new(o, "rule", jr);
        }
        model_set_bool(o, "franc", rule->extension == DEADLINE_FRANC);
        model_set_bool(o, "confirmed", rule->confirmed);
        model_set_bool(o, "previous_regime", previous_regime(c, mr, rule));
    } else {
        json_object_set_new(o, "rule", json_null());
    }
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
    struct store_stmt *st;
    int rc = -EIO, step;
    if (model_prepare(c, "SELECT " DEADLINE_COLUMNS " FROM deadlines WHERE id = ?1", &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    step = store_step(st);
    if (step == STORE_DONE)
        rc = -ENOENT;
    else if (step == STORE_ROW && (*out = deadline_row(c, mr, st)) != NULL)
        rc = 0;
    model_release(st);
    return rc;
}

/* The types in force on date d, each with its rule, in file order. */
static json_t *types_in_force(const struct model_rules *mr, struct deadline_date d, bool full)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < mr->deadlines.nrules; i++) {
        const struct deadline_rule *r = &mr->deadlines.rules[i];
        if (!deadline_rule_in_force(r, d))
            continue;
        if (!full) {
            json_array_append_new(arr, json_string(r->type));
            continue;
        }
        json_t *o = json_object();
        if (o == NULL)
            continue;
        model_set_str(o, "type", r->type);
        describe_rule(o, r);
        json_array_append_new(arr, o);
    }
    return arr;
}

struct wres model_deadline_types(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    json_t *q = NULL;
    struct deadline_date on = deadline_today(c->now);
    if (mr == NULL)
        return model_unavailable();
    if (jsonv_query_reject(arg, types_spec, &q, &res))
        return res;
    json_t *jd = json_object_get(q, "date");
    int bad = jd != NULL && deadline_parse_date(json_string_value(jd), &on) < 0;
    json_decref(q);
    if (bad)
        return wres_error(400, "invalid_request",
                          "the parameter \"date\" must be a real date written YYYY-MM-DD, "
                          "between %d and %d",
                          DEADLINE_MIN_YEAR, DEADLINE_MAX_YEAR);
    json_t *arr = types_in_force(mr, on, true);
    if (arr == NULL)
        return wres_error(500, "internal", "out of memory");
    return wres_ok(200, arr);
}

/* 422: the type exists in the rules file but has no rule in force on the
 * notification date; the answer names the types that are. */
static struct wres not_in_force(const struct model_rules *mr, const char *type, const char *nd,
                                struct deadline_date notified)
{
    struct wres r = wres_error(422, "type_not_in_force",
                               "the procedure type \"%s\" is not in force for a notification on "
                               "%s; the types in force then are listed in \"types\"",
                               type, nd);
    if (r.body != NULL) {
        json_object_set_new(r.body, "types", types_in_force(mr, notified, false));
        model_set_str(r.body, "notification_date", nd);
    }
    return r;
}

struct wres model_deadline_create(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    struct deadline_date notified;
    struct deadline_result dr;
    struct store_stmt *st = NULL;
    char date[16], at[24], now[32];
    json_t *out = NULL;
    int minute = -1, rc;

    int64_t ids[2];
    json_t *rest = NULL;

    if (mr == NULL)
        return model_unavailable();
    if (take_people(c, body, &rest, ids, &res) < 0)
        return res;
    bool bad = jsonv_reject(rest, create_spec, &res);
    json_decref(rest);
    if (bad)
        return res;
    if (ids[0] < 0)
        ids[0] = c->user != NULL ? c->user->id : 0;
    if (ids[1] > 0 && ids[1] == ids[0])
        return wres_error(422, "invalid_user",
                          "the field \"fallback_user_id\" must name another user than the "
                          "responsible one");
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *nd = json_string_value(json_object_get(body, "notification_date"));
    json_t *jtime = json_object_get(body, "notification_time");
    json_t *jdesc = json_object_get(body, "description");
    if (deadline_parse_date(nd, &notified) < 0)
        return wres_error(400, "invalid_request",
                          "the field \"notification_date\" must be a real date written "
                          "YYYY-MM-DD, between %d and %d",
                          DEADLINE_MIN_YEAR, DEADLINE_MAX_YEAR);
    if (jtime != NULL && deadline_parse_time(json_string_value(jtime), &minute) < 0)
        return wres_error(400, "invalid_request",
                          "the field \"notification_time\" must be a time written HH:MM "
                          "(00:00 to 23:59), in the firm's time zone");
    if (!deadline_type_known(&mr->deadlines, type))
        return not_in_force(mr, type, nd, notified);
    const struct deadline_rule *rule = deadline_rule_find(&mr->deadlines, type, notified);
    if (rule == NULL)
        return not_in_force(mr, type, nd, notified);
    rc = deadline_compute(&mr->deadlines, rule, notified, minute, &dr);
    if (rc == -ENODATA)
        return wres_error(422, "notification_time_required",
                          "the procedure type \"%s\" counts in hours (%d), from the hour of "
                          "notification: give \"notification_time\" as HH:MM",
                          rule->type, rule->duration);
    if (rc < 0)
        return wres_error(400, "invalid_request",
                          "the field \"notification_date\" gives a deadline after %d",
                          DEADLINE_MAX_YEAR);
    deadline_format_date(dr.date, date, sizeof date);
    snprintf(at, sizeof at, "%sT%02d:%02d", date, dr.hour, dr.minute);
    model_iso_time(c->now, now, sizeof now);

    if (model_prepare(c,
                      "INSERT INTO deadlines (type, description, notification_date, "
                      "deadline_date, deadline_at, rule_reference, status, user_id, created_at, "
                      "responsible_user_id, fallback_user_id) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, ?10)",
                      &st) < 0)
        return model_db_error(c, "preparing a deadline");
    store_bind_text(st, 1, rule->type);
    store_bind_text(st, 2, jdesc != NULL ? json_string_value(jdesc) : "");
    store_bind_text(st, 3, nd);
    store_bind_text(st, 4, date);
    store_bind_text(st, 5, at);
    store_bind_text(st, 6, rule->reference);
    if (c->user != NULL)
        store_bind_int64(st, 7, c->user->id);
    else
        store_bind_null(st, 7);
    store_bind_text(st, 8, now);
    for (int k = 0; k < 2; k++)
        if (ids[k] > 0)
            store_bind_int64(st, 9 + k, ids[k]);
        else
            store_bind_null(st, 9 + k);
    if (store_step(st) != STORE_DONE) {
        res = model_db_error(c, "storing a deadline");
        model_release(st);
        return res;
    }
    model_release(st);
    if (load_deadline(c, mr, store_last_id(c->db), &out) < 0)
        return model_db_error(c, "reading the new deadline");
    model_set_bool(out, "extended", dr.extended);
    if (jtime != NULL)
        model_set_str(out, "notification_time", json_string_value(jtime));
    return wres_ok(201, out);
}

struct wres model_deadline_list(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    json_t *q = NULL, *arr = NULL;
    struct store_stmt *st = NULL;
    int step = -EIO;

    if (mr == NULL)
        return model_unavailable();
    if (jsonv_query_reject(arg, list_spec, &q, &res))
        return res;
    json_t *status = json_object_get(q, "status");
    json_t *limit = json_object_get(q, "limit"), *offset = json_object_get(q, "offset");
    if (model_prepare(c,
                      "SELECT " DEADLINE_COLUMNS " FROM deadlines "
                      "WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) "
                      "ORDER BY deadline_date, deadline_at, id LIMIT ?2 OFFSET ?3",
                      &st) < 0) {
        json_decref(q);
        return model_db_error(c, "listing deadlines");
    }
    if (status != NULL)
        store_bind_text(st, 1, json_string_value(status));
    store_bind_int64(st, 2, limit != NULL ? json_integer_value(limit) : MODEL_LIST_DEFAULT);
    store_bind_int64(st, 3, offset != NULL ? json_integer_value(offset) : 0);
    json_decref(q);
    arr = json_array();
    while (arr != NULL && (step = store_step(st)) == STORE_ROW)
        json_array_append_new(arr, deadline_row(c, mr, st));
    model_release(st);
    if (arr == NULL || step != STORE_DONE) {
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

/* Change the people of deadline id inside the caller's transaction: 0 (the
 * deadline's *changed set), -ENOENT, -EINVAL (fallback = responsible) or -EIO. */
static int update_people(const struct wctx *c, int64_t id, const int64_t ids[2], bool *changed)
{
    struct store_stmt *st;
    int64_t cur[2] = {0, 0};
    int step;
    if (model_prepare(c,
                      "SELECT responsible_user_id, fallback_user_id FROM deadlines WHERE id = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, id);
    step = store_step(st);
    if (step == STORE_ROW)
        for (int k = 0; k < 2; k++)
            cur[k] = store_column_text(st, k) != NULL ? store_column_int64(st, k) : 0;
    model_release(st);
    if (step != STORE_ROW)
        return step == STORE_DONE ? -ENOENT : -EIO;
    int64_t next[2];
    for (int k = 0; k < 2; k++)
        next[k] = ids[k] >= 0 ? ids[k] : cur[k];
    if (next[1] > 0 && next[1] == next[0])
        return -EINVAL;
    *changed = next[0] != cur[0] || next[1] != cur[1];
    if (model_prepare(c,
                      "UPDATE deadlines SET responsible_user_id = ?1, fallback_user_id = ?2 "
                      "WHERE id = ?3",
                      &st) < 0)
        return -EIO;
    for (int k = 0; k < 2; k++)
        if (next[k] > 0)
            store_bind_int64(st, 1 + k, next[k]);
        else
            store_bind_null(st, 1 + k);
    store_bind_int64(st, 3, id);
    step = store_step(st);
    model_release(st);
    return step == STORE_DONE ? 0 : -EIO;
}

struct wres model_deadline_update(const struct wctx *c, json_t *body, const char *arg)
{
    const struct model_rules *mr = model_rules_get();
    struct wres res;
    struct store_stmt *st = NULL;
    int64_t id, ids[2];
    char now[32];
    json_t *out = NULL, *rest = NULL;
    bool changed = false, people_changed = false;

    if (mr == NULL)
        return model_unavailable();
    if (model_parse_id(arg, &id) < 0)
        return wres_error(404, "not_found", "no deadline has this id");
    if (take_people(c, body, &rest, ids, &res) < 0)
        return res;
    bool bad = jsonv_reject(rest, update_spec, &res);
    json_decref(rest);
    if (bad)
        return res;
    const char *to = json_string_value(json_object_get(body, "status"));
    bool people_given = ids[0] >= 0 || ids[1] >= 0;
    if (to == NULL && !people_given)
        return wres_error(400, "invalid_request",
                          "give at least one of \"status\", \"responsible_user_id\", "
                          "\"fallback_user_id\"");
    model_iso_time(c->now, now, sizeof now);
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    if (people_given) {
        int rc = update_people(c, id, ids, &people_changed);
        if (rc < 0) {
            model_rollback(c);
            if (rc == -ENOENT)
                return wres_error(404, "not_found", "no deadline has id %lld", (long long)id);
            if (rc == -EINVAL)
                return wres_error(422, "invalid_user",
                                  "the field \"fallback_user_id\" must name another user than "
                                  "the responsible one");
            return model_db_error(c, "updating a deadline");
        }
    }
    /* The status changes only when it differs from the requested one. */
    if (to != NULL) {
        if (model_prepare(c,
                          "UPDATE deadlines SET status = ?1, "
                          "done_at = CASE WHEN ?1 = 'done' THEN ?2 ELSE NULL END "
                          "WHERE id = ?3 AND status <> ?1",
                          &st) < 0) {
            res = model_db_error(c, "preparing a deadline update");
            model_rollback(c);
            return res;
        }
        store_bind_text(st, 1, to);
        store_bind_text(st, 2, now);
        store_bind_int64(st, 3, id);
        if (store_step(st) != STORE_DONE) {
            res = model_db_error(c, "updating a deadline");
            model_release(st);
            model_rollback(c);
            return res;
        }
        changed = store_changes(st) > 0;
        model_release(st);
    }
    if (model_commit(c) < 0) {
        res = model_db_error(c, "updating a deadline");
        model_rollback(c);
        return res;
    }
    int rc = load_deadline(c, mr, id, &out);
    if (rc == -ENOENT)
        return wres_error(404, "not_found", "no deadline has id %lld", (long long)id);
    if (rc < 0)
        return model_db_error(c, "reading a deadline");
    if (to != NULL && !changed && !people_given) {
        json_decref(out);
        return wres_error(409, "conflict", "deadline %lld is already %s", (long long)id, to);
    }
    (void)people_changed;
    return wres_ok(200, out);
}
