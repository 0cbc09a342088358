/*
 * reminders.c — deadline reminders due, and the record of those tenantd sent
 * (reminders.h; docs/worker-api.md "Reminders").
 *
 * A reminder's id is "<deadline id>-<lead>" (a lead of reminder_leads.h:
 * "72h", "7d", "morning"): stable, so tenantd may retry a failed mail with
 * the same id, and its row in reminders_sent makes it be sent once. The
 * leads of a deadline are its responsible lawyer's (reminder_prefs.h), or
 * the firm's when that lawyer cannot receive mail. Of the leads already due
 * only the latest is listed: a deadline created two days ahead gets the
 * 48 h reminder, not a belated "7 days" one as well; once a lead is sent,
 * no lead due at or before it is listed (leads sent under an earlier list
 * count too).
 *
 * Recipients: To the responsible lawyer (users.email; else the username
 * when it is an address); Cc the fallback user and the firm's admin (the
 * first active admin with an address, else CLIENT_EMAIL), each once. A
 * responsible lawyer deleted, disabled, opted out or without an address is
 * replaced as To by the fallback, else the admin, and the reminder says why
 * ("responsible_status"). A user who opted out receives nothing.
 */
#include "reminders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "reminder_prefs.h"
#include "util.h"

#define REMINDERS_MAX 500
#define CC_MAX 3

/* A user as a recipient: their address, or NULL when they cannot or will
 * not receive reminders (*status says which). */
static const char *user_address(const char *username, const char *email, int64_t active,
                                const char *mode, bool enforced, const char **status)
{
    if (username == NULL) {
        *status = "deleted";
        return NULL;
    }
    if (active == 0) {
        *status = "disabled";
        return NULL;
    }
    if (mode != NULL && strcmp(mode, "off") == 0 && !enforced) {
        *status = "opted_out";
        return NULL;
    }
    const char *a = util_mail_address_ok(email)      ? email
                    : util_mail_address_ok(username) ? username
                                                     : NULL;
    *status = a != NULL ? "ok" : "no_address";
    return a;
}

static int admin_address(const struct wctx *c, bool enforced, char *out, size_t n)
{
    struct store_stmt *st = NULL;
    out[0] = '\0';
    if (model_prepare(c,
                      "SELECT u.email, u.username, p.mode FROM users u "
                      "LEFT JOIN user_reminders p ON p.user_id = u.id "
                      "WHERE u.role = 'admin' AND u.active = 1 ORDER BY u.id",
                      &st) < 0)
        return -EIO;
    int step;
    while ((step = store_step(st)) == STORE_ROW) {
        const char *why;
        const char *a = user_address(store_column_text(st, 1), store_column_text(st, 0), 1,
                                     store_column_text(st, 2), enforced, &why);
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

/* A deadline with a lead due: its reminder, whose id is set once the
 * reminders already sent are known. */
struct cand {
    json_t *o;
    int64_t id;
    time_t at, due;
    char date[16];
    struct reminder_lead lead;
};

#define SELECT_DUE                                                                                 \
    "SELECT d.id, d.type, d.description, d.notification_date, d.deadline_date, "                   \
    "d.deadline_at, d.rule_reference, d.responsible_user_id, r.username, r.email, r.active, "      \
    "rp.mode, rp.leads, f.username, f.email, f.active, fp.mode, d.fallback_user_id "               \
    "FROM deadlines d "                                                                            \
    "LEFT JOIN users r ON r.id = d.responsible_user_id "                                           \
    "LEFT JOIN user_reminders rp ON rp.user_id = r.id "                                            \
    "LEFT JOIN users f ON f.id = d.fallback_user_id "                                              \
    "LEFT JOIN user_reminders fp ON fp.user_id = f.id "                                            \
    "WHERE d.status = 'active' AND d.deadline_date >= ?1 "                                         \
    "ORDER BY d.deadline_date, d.id LIMIT ?2"

struct firm_ctx {
    struct reminder_leads leads;
    bool enforced;
    char admin[256];
};

static void add_cc(json_t *cc, const char *to, const char *a)
{
    if (a == NULL || a[0] == '\0' || (to != NULL && strcmp(a, to) == 0))
        return;
    size_t i;
    json_t *v;
    json_array_foreach(cc, i, v) if (strcmp(json_string_value(v), a) == 0) return;
    if (json_array_size(cc) < CC_MAX)
        json_array_append_new(cc, json_string(a));
}

/* The reminder of the current row when one of its leads is due by
 * `before`: 1 (*cd filled), 0 (nothing due), -ENOMEM. */
static int candidate(const struct wctx *c, const struct model_rules *mr, const struct firm_ctx *f,
                     struct store_stmt *st, time_t before, struct cand *cd)
{
    const char *date = store_column_text(st, 4);
    time_t at;
    if (reminder_deadline_instant(date, store_column_text(st, 5), &at) < 0 || at <= c->now)
        return 0;
    const char *rstatus, *fstatus;
    const char *rmode = store_column_text(st, 11);
    const char *raddr = user_address(store_column_text(st, 8), store_column_text(st, 9),
                                     store_column_int64(st, 10), rmode, f->enforced, &rstatus);
    const char *faddr = NULL;
    if (store_column_text(st, 17) != NULL)
        faddr = user_address(store_column_text(st, 13), store_column_text(st, 14),
                             store_column_int64(st, 15), store_column_text(st, 16), f->enforced,
                             &fstatus);
    /* Whose leads: the lawyer's while they receive mail, else the firm's. */
    struct reminder_leads leads;
    bool off;
    if (raddr != NULL)
        reminder_effective(&f->leads, f->enforced, rmode, store_column_text(st, 12), &leads, &off);
    else
        leads = f->leads;
    int best = -1;
    time_t best_due = 0;
    for (size_t i = 0; i < leads.n; i++) {
        time_t due;
        if (reminder_lead_due(&leads.l[i], at, date, &due) == 0 && due <= before && due < at &&
            (best < 0 || due > best_due)) {
            best = (int)i;
            best_due = due;
        }
    }
    if (best < 0)
        return 0;

    const char *firm = util_mail_address_ok(c->env->email) ? c->env->email : NULL;
    const char *admin = f->admin[0] ? f->admin : firm;
    const char *to = raddr, *to_role = "responsible";
    if (to == NULL) {
        to = faddr;
        to_role = "fallback";
    }
    if (to == NULL) {
        to = admin;
        to_role = f->admin[0] ? "admin" : "firm";
    }
    char title[1024];
    json_t *o = json_object(), *cc = json_array();
    if (o == NULL || cc == NULL) {
        json_decref(o);
        json_decref(cc);
        return -ENOMEM;
    }
    add_cc(cc, to, faddr);
    add_cc(cc, to, admin);
    title_of(mr, st, title, sizeof title);
    model_set_int(o, "deadline_id", store_column_int64(st, 0));
    model_set_str(o, "title", title);
    json_object_set_new(o, "deadline_date", model_col_text(st, 4));
    json_object_set_new(o, "deadline_at", model_col_text(st, 5));
    json_object_set_new(o, "reference", model_col_text(st, 6));
    /* For the mail to say how long is left, also when a lead is sent late
     * (a deadline entered after the lead had passed). */
    model_set_int(o, "seconds_left", (int64_t)(at - c->now));
    model_set_str(o, "to", to);
    model_set_str(o, "to_role", to != NULL ? to_role : NULL);
    json_object_set_new(o, "cc", cc);
    model_set_str(o, "responsible", store_column_text(st, 8));
    model_set_str(o, "responsible_status", rstatus);
    cd->o = o;
    cd->id = store_column_int64(st, 0);
    cd->at = at;
    cd->due = best_due;
    cd->lead = leads.l[best];
    snprintf(cd->date, sizeof cd->date, "%s", date);
    return 1;
}

/* Whether a lead of cd's deadline due at or after cd's is recorded sent:
 * 1, 0 or -EIO. */
static int overtaken(const struct wctx *c, const struct cand *cd)
{
    struct store_stmt *st;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%lld-", (long long)cd->id);
    if (model_prepare(c,
                      "SELECT reminder_id FROM reminders_sent "
                      "WHERE substr(reminder_id, 1, length(?1)) = ?1",
                      &st) < 0)
        return -EIO;
    store_bind_text(st, 1, prefix);
    int step, found = 0;
    while ((step = store_step(st)) == STORE_ROW && !found) {
        const char *rid = store_column_text(st, 0);
        struct reminder_lead l;
        time_t due;
        if (rid != NULL && reminder_lead_parse(rid + strlen(prefix), &l) == 0 &&
            reminder_lead_due(&l, cd->at, cd->date, &due) == 0 && due >= cd->due)
            found = 1;
    }
    model_release(st);
    return found || step == STORE_DONE ? found : -EIO;
}

struct wres reminders_due(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    json_t *q = NULL;
    struct store_stmt *st = NULL;
    struct firm_ctx f;
    char today[16];
    (void)body;
    if (jsonv_query_reject(arg, due_spec, &q, &res))
        return res;
    time_t before = (time_t)json_integer_value(json_object_get(q, "due_before"));
    json_decref(q);
    if (c->env == NULL)
        return wres_error(500, "internal", "the tenant's settings are not loaded");
    if (reminder_firm_leads(c, &f.leads, &f.enforced) < 0 ||
        admin_address(c, f.enforced, f.admin, sizeof f.admin) < 0)
        return model_db_error(c, "reading the firm's reminder settings");
    struct tm tm;
    time_t yesterday = c->now - 86400;
    localtime_r(&yesterday, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    struct cand *cands = calloc(REMINDERS_MAX, sizeof *cands);
    if (cands == NULL)
        return wres_error(500, "internal", "out of memory");
    size_t n = 0;
    int step = -EIO;
    if (model_prepare(c, SELECT_DUE, &st) < 0) {
        free(cands);
        return model_db_error(c, "listing reminders");
    }
    store_bind_text(st, 1, today);
    store_bind_int64(st, 2, REMINDERS_MAX);
    const struct model_rules *mr = model_rules_get();
    while ((step = store_step(st)) == STORE_ROW && n < REMINDERS_MAX) {
        int rc = candidate(c, mr, &f, st, before, &cands[n]);
        if (rc < 0) {
            step = rc;
            break;
        }
        n += (size_t)rc;
    }
    model_release(st);
    /* Second pass, once the listing's statement is done (one statement at
     * a time on every engine): drop what was sent already. */
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        int sent = step == STORE_DONE && arr != NULL ? overtaken(c, &cands[i]) : -EIO;
        if (sent < 0)
            step = -EIO;
        if (sent == 0) {
            char id[48], lead[16];
            reminder_lead_format(&cands[i].lead, lead, sizeof lead);
            snprintf(id, sizeof id, "%lld-%s", (long long)cands[i].id, lead);
            model_set_str(cands[i].o, "id", id);
            model_set_str(cands[i].o, "lead", lead);
            json_array_append(arr, cands[i].o);
        }
        json_decref(cands[i].o);
    }
    free(cands);
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
    char idpart[32], now[32], lead[16];
    int64_t id = 0, found = 0;
    struct reminder_lead l;
    (void)body;
    const char *dash = arg ? strchr(arg, '-') : NULL;
    if (dash == NULL || reminder_lead_parse(dash + 1, &l) < 0 ||
        (size_t)(dash - arg) >= sizeof idpart)
        return wres_error(404, "not_found",
                          "a reminder id is <deadline id>-<lead>, the lead \"<N>h\", \"<N>d\" "
                          "or \"morning\"");
    memcpy(idpart, arg, (size_t)(dash - arg));
    idpart[dash - arg] = '\0';
    if (model_parse_id(idpart, &id) < 0)
        return wres_error(404, "not_found", "a reminder id is <deadline id>-<lead>");
    reminder_lead_format(&l, lead, sizeof lead);
    char key[64];
    snprintf(key, sizeof key, "%lld-%s", (long long)id, lead);
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
