/*
 * reminders.c — deadline reminders due, and the record of those tenantd sent
 * (reminders.h; docs/worker-api.md "Reminders").
 *
 * A reminder's id is "<deadline id>-<lead>" (lead 7d, 48h or day): stable, so
 * tenantd may retry a failed mail with the same id, and its row in
 * reminders_sent makes it be sent once. Of the leads already due for one
 * deadline only the latest is listed: a deadline created two days ahead gets
 * the 48 h reminder, not a belated "7 days" one as well; once a lead is sent,
 * the earlier ones are never listed.
 *
 * Recipients: the responsible lawyer's e-mail (users.email; else the
 * username when it is an address; else the firm's CLIENT_EMAIL), and as a
 * fallback (Cc) the first active admin's address, else CLIENT_EMAIL.
 */
#include "reminders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define REMINDERS_MAX 500

static const char *const lead_names[LEAD__COUNT] = {"7d", "48h", "day"};

const char *reminder_lead_name(enum reminder_lead l)
{
    return (unsigned)l < LEAD__COUNT ? lead_names[l] : "?";
}

static int parse_local(const char *s, int hour, int min, time_t *out)
{
    int y, m, d;
    char tail;
    if (s == NULL || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = m - 1,
                    .tm_mday = d,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_isdst = -1};
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = t;
    return 0;
}

int reminder_deadline_instant(const char *date, const char *at, time_t *out)
{
    if (at == NULL || at[0] == '\0')
        return parse_local(date, 23, 59, out);
    int y, m, d, hh, mm;
    char tail;
    if (sscanf(at, "%4d-%2d-%2dT%2d:%2d%c", &y, &m, &d, &hh, &mm, &tail) != 5 || hh > 23 ||
        mm > 59 || hh < 0 || mm < 0)
        return -EINVAL;
    char day[16];
    snprintf(day, sizeof day, "%04d-%02d-%02d", y, m, d);
    return parse_local(day, hh, mm, out);
}

int reminder_due(enum reminder_lead l, time_t at, const char *date, time_t *due)
{
    struct tm tm;
    switch (l) {
    case LEAD_7D:
        if (localtime_r(&at, &tm) == NULL)
            return -EINVAL;
        tm.tm_mday -= 7; /* the same wall-clock time a week before, across DST */
        tm.tm_isdst = -1;
        *due = mktime(&tm);
        return *due == (time_t)-1 ? -EINVAL : 0;
    case LEAD_48H:
        *due = at - 48 * 3600;
        return 0;
    case LEAD_DAY:
        return parse_local(date, 8, 0, due);
    default:
        return -EINVAL;
    }
}

/* A conservative address: one '@', no space, quote, angle bracket, comma or
 * control character (it goes into mail headers and an SMTP envelope). */
static bool is_address(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 200 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>,;:\"()[]\\", *p))
            return false;
    return true;
}

static const char *pick_address(const char *email, const char *username, const char *firm)
{
    if (is_address(email))
        return email;
    if (is_address(username))
        return username;
    return is_address(firm) ? firm : NULL;
}

static int admin_address(const struct wctx *c, char *out, size_t n)
{
    struct store_stmt *st = NULL;
    out[0] = '\0';
    if (model_prepare(c,
                      "SELECT email, username FROM users WHERE role = 'admin' AND active = 1 "
                      "ORDER BY id",
                      &st) < 0)
        return -EIO;
    int step;
    while ((step = store_step(st)) == STORE_ROW) {
        const char *a = pick_address((const char *)store_column_text(st, 0),
                                     (const char *)store_column_text(st, 1), NULL);
        if (a != NULL) {
            snprintf(out, n, "%s", a);
            break;
        }
    }
    model_release(st);
    return step == STORE_ROW || step == STORE_DONE ? 0 : -EIO;
}

static const struct jsonv_field due_spec[] = {
    {"due_before", JSONV_INT, JSONV_REQUIRED, 0, (int64_t)1 << 40, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* The row's title: its description, else its rule's label, else its type. */
static void title_of(const struct model_rules *mr, struct store_stmt *st, char *out, size_t n)
{
    const char *desc = (const char *)store_column_text(st, 2);
    const char *type = (const char *)store_column_text(st, 1);
    const char *notified = (const char *)store_column_text(st, 3);
    const struct deadline_rule *rule = NULL;
    struct deadline_date nd;
    if (mr != NULL && type != NULL && notified != NULL && deadline_parse_date(notified, &nd) == 0)
        rule = deadline_rule_find(&mr->deadlines, type, nd);
    snprintf(out, n, "%s",
             desc != NULL && desc[0] ? desc
             : rule != NULL          ? rule->label
             : type                  ? type
                                     : "");
}

static json_t *reminder_row(const struct wctx *c, const struct model_rules *mr,
                            struct store_stmt *st, enum reminder_lead l, const char *fallback)
{
    char id[48], title[1024];
    const char *to = pick_address((const char *)store_column_text(st, 7),
                                  (const char *)store_column_text(st, 8), c->env->email);
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    snprintf(id, sizeof id, "%lld-%s", (long long)store_column_int64(st, 0), reminder_lead_name(l));
    title_of(mr, st, title, sizeof title);
    model_set_str(o, "id", id);
    model_set_int(o, "deadline_id", store_column_int64(st, 0));
    model_set_str(o, "lead", reminder_lead_name(l));
    model_set_str(o, "title", title);
    json_object_set_new(o, "deadline_date", model_col_text(st, 4));
    json_object_set_new(o, "deadline_at", model_col_text(st, 5));
    json_object_set_new(o, "reference", model_col_text(st, 6));
    model_set_str(o, "to", to);
    model_set_str(o, "cc",
                  fallback[0] && (to == NULL || strcmp(fallback, to) != 0) ? fallback : NULL);
    return o;
}

struct wres reminders_due(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    json_t *q = NULL;
    struct store_stmt *st = NULL;
    char fallback[256], today[16];
    (void)body;
    if (jsonv_query_reject(arg, due_spec, &q, &res))
        return res;
    time_t before = (time_t)json_integer_value(json_object_get(q, "due_before"));
    json_decref(q);
    if (c->env == NULL)
        return wres_error(500, "internal", "the tenant's settings are not loaded");
    if (admin_address(c, fallback, sizeof fallback) < 0)
        return model_db_error(c, "reading the firm's admins");
    if (fallback[0] == '\0' && is_address(c->env->email))
        snprintf(fallback, sizeof fallback, "%s", c->env->email);
    struct tm tm;
    time_t yesterday = c->now - 86400;
    localtime_r(&yesterday, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (model_prepare(
            c,
            "SELECT d.id, d.type, d.description, d.notification_date, d.deadline_date, "
            "d.deadline_at, d.rule_reference, u.email, u.username, "
            "CASE WHEN s0.id IS NULL THEN 0 ELSE 1 END, "
            "CASE WHEN s1.id IS NULL THEN 0 ELSE 1 END, "
            "CASE WHEN s2.id IS NULL THEN 0 ELSE 1 END FROM deadlines d "
            "LEFT JOIN users u ON u.id = d.user_id "
            "LEFT JOIN reminders_sent s0 ON s0.reminder_id = CAST(d.id AS TEXT) || '-7d' "
            "LEFT JOIN reminders_sent s1 ON s1.reminder_id = CAST(d.id AS TEXT) || '-48h' "
            "LEFT JOIN reminders_sent s2 ON s2.reminder_id = CAST(d.id AS TEXT) || '-day' "
            "WHERE d.status = 'active' AND d.deadline_date >= ?1 "
            "ORDER BY d.deadline_date, d.id LIMIT ?2",
            &st) < 0)
        return model_db_error(c, "listing reminders");
    store_bind_text(st, 1, today);
    store_bind_int64(st, 2, REMINDERS_MAX);
    const struct model_rules *mr = model_rules_get();
    json_t *arr = json_array();
    int step = -EIO;
    while (arr != NULL && (step = store_step(st)) == STORE_ROW) {
        const char *date = (const char *)store_column_text(st, 4);
        time_t at, due;
        if (reminder_deadline_instant(date, (const char *)store_column_text(st, 5), &at) < 0 ||
            at <= c->now)
            continue;
        /* The latest lead already due (and before the deadline itself). */
        int l = LEAD__COUNT - 1;
        for (; l >= 0; l--)
            if (reminder_due((enum reminder_lead)l, at, date, &due) == 0 && due <= before &&
                due < at)
                break;
        if (l < 0 || store_column_int64(st, 9 + l) != 0)
            continue;
        json_array_append_new(arr, reminder_row(c, mr, st, (enum reminder_lead)l, fallback));
    }
    model_release(st);
    if (arr == NULL || step != STORE_DONE) {
        json_decref(arr);
        return model_db_error(c, "listing reminders");
    }
    json_t *o = json_object();
    if (o == NULL) {
        json_decref(arr);
        return wres_error(500, "internal", "out of memory");
    }
    model_set_str(o, "firm", c->env->client_name);
    model_set_str(o, "language", c->env->language);
    model_set_str(o, "timezone", c->env->timezone);
    json_object_set_new(o, "reminders", arr);
    return wres_ok(200, o);
}

struct wres reminders_mark_sent(const struct wctx *c, json_t *body, const char *arg)
{
    struct store_stmt *st = NULL;
    char idpart[32], now[32];
    int64_t id = 0, found = 0;
    (void)body;
    const char *dash = arg ? strrchr(arg, '-') : NULL;
    int lead = -1;
    for (int l = 0; dash != NULL && l < LEAD__COUNT; l++)
        if (strcmp(dash + 1, lead_names[l]) == 0)
            lead = l;
    if (dash == NULL || lead < 0 || (size_t)(dash - arg) >= sizeof idpart)
        return wres_error(404, "not_found", "a reminder id is <deadline id>-7d, -48h or -day");
    memcpy(idpart, arg, (size_t)(dash - arg));
    idpart[dash - arg] = '\0';
    if (model_parse_id(idpart, &id) < 0)
        return wres_error(404, "not_found", "a reminder id is <deadline id>-7d, -48h or -day");
    char key[64];
    snprintf(key, sizeof key, "%lld-%s", (long long)id, lead_names[lead]);
    if (model_prepare(c, "SELECT COUNT(*) FROM deadlines WHERE id = ?1", &st) < 0)
        return model_db_error(c, "reading a deadline");
    store_bind_int64(st, 1, id);
    if (store_step(st) == STORE_ROW)
        found = store_column_int64(st, 0);
    model_release(st);
    if (!found)
        return wres_error(404, "not_found", "no deadline has id %lld", (long long)id);
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO reminders_sent (reminder_id, sent_at) VALUES (?1, ?2) "
                      "ON CONFLICT (reminder_id) DO NOTHING",
                      &st) < 0)
        return model_db_error(c, "recording a reminder");
    store_bind_text(st, 1, key);
    store_bind_text(st, 2, now);
    int step = store_step(st);
    model_release(st);
    if (step != STORE_DONE)
        return model_db_error(c, "recording a reminder");
    json_t *o = json_object();
    model_set_str(o, "id", key);
    model_set_bool(o, "sent", true);
    return wres_ok(200, o);
}
