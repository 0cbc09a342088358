/*
 * reminder_prefs.c — the firm's and each user's choice of reminder lead
 * times (reminder_prefs.h), and their routes.
 *
 * Stored text is read back through the same parser as requests; a value
 * that does not parse (a database edited by hand) reads as the default,
 * so a reminder is never lost to a bad setting.
 */
#include "reminder_prefs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "second_factor.h"

#define LEADS_TEXT_MAX 256

static const char *const modes[] = {"firm", "custom", "off", NULL};

int reminder_firm_leads(const struct wctx *c, struct reminder_leads *out, bool *enforced)
{
    char v[LEADS_TEXT_MAX];
    int rc = sf_setting_get(c, "reminder_leads", v, sizeof v);
    if (rc == -EIO)
        return -EIO;
    if (rc < 0 || reminder_leads_parse_text(v, out) < 0)
        reminder_leads_default(out);
    rc = sf_setting_get(c, "reminder_leads_enforced", v, sizeof v);
    if (rc == -EIO)
        return -EIO;
    *enforced = rc == 0 && strcmp(v, "1") == 0;
    return 0;
}

void reminder_effective(const struct reminder_leads *firm, bool enforced, const char *mode,
                        const char *leads_text, struct reminder_leads *out, bool *off)
{
    *off = false;
    *out = *firm;
    if (mode == NULL || strcmp(mode, "firm") == 0)
        return;
    if (strcmp(mode, "off") == 0) {
        *off = !enforced;
        return;
    }
    struct reminder_leads own;
    if (reminder_leads_parse_text(leads_text, &own) < 0)
        return;
    if (enforced)
        reminder_leads_union(out, &own);
    else
        *out = own;
}

/* ---- /api/firm/settings -------------------------------------------------------- */

struct wres reminder_settings_get(const struct wctx *c, json_t *body, const char *arg)
{
    struct reminder_leads firm;
    bool enforced;
    struct wres r = sf_settings_get(c, NULL, NULL);
    if (r.status != 200)
        return r;
    if (reminder_firm_leads(c, &firm, &enforced) < 0) {
        json_decref(r.body);
        return model_db_error(c, "reading the firm's settings");
    }
    json_object_set_new(r.body, "reminder_leads", reminder_leads_json(&firm));
    json_object_set_new(r.body, "reminder_leads_enforced", json_boolean(enforced));
    json_object_set_new(r.body, "timezone", json_string(c->env ? c->env->timezone : ""));
    return r;
}

static const struct jsonv_field settings_spec[] = {
    {"totp_required", JSONV_BOOL, 0, 0, 0, NULL, NULL},
    {"reminder_leads_enforced", JSONV_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

struct wres reminder_settings_put(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    struct reminder_leads leads;
    char err[256], text[LEADS_TEXT_MAX];
    json_t *rest = json_copy(body);
    if (rest == NULL)
        return wres_error(500, "internal", "out of memory");
    json_t *jl = json_object_get(body, "reminder_leads");
    json_object_del(rest, "reminder_leads");
    bool bad = jsonv_reject(rest, settings_spec, &res);
    json_decref(rest);
    if (bad)
        return res;
    if (json_object_size(body) == 0)
        return wres_error(400, "invalid_request",
                          "give at least one of \"totp_required\", \"reminder_leads\", "
                          "\"reminder_leads_enforced\"");
    if (jl != NULL) {
        if (reminder_leads_from_json(jl, "reminder_leads", &leads, err, sizeof err) < 0)
            return wres_error(400, "invalid_request", "%s", err);
        if (reminder_leads_text(&leads, text, sizeof text) < 0)
            return wres_error(400, "invalid_request", "the field \"reminder_leads\" is too long");
    }
    json_t *totp = json_object_get(body, "totp_required");
    json_t *enf = json_object_get(body, "reminder_leads_enforced");
    if (model_begin(c) < 0)
        return model_db_error(c, "starting a transaction");
    if ((totp != NULL && sf_setting_put(c, "totp_required", json_is_true(totp) ? "1" : "0") < 0) ||
        (jl != NULL && sf_setting_put(c, "reminder_leads", text) < 0) ||
        (enf != NULL &&
         sf_setting_put(c, "reminder_leads_enforced", json_is_true(enf) ? "1" : "0") < 0) ||
        model_commit(c) < 0) {
        res = model_db_error(c, "storing the firm's settings");
        model_rollback(c);
        return res;
    }
    return reminder_settings_get(c, NULL, NULL);
}

/* ---- /api/me/reminders ---------------------------------------------------------- */

/* The user's stored mode and list (NULL when no row); 0 or -EIO. */
static int load_user(const struct wctx *c, int64_t uid, char *mode, size_t mn, char *leads,
                     size_t ln, bool *found)
{
    struct store_stmt *st;
    *found = false;
    mode[0] = leads[0] = '\0';
    if (model_prepare(c, "SELECT mode, leads FROM user_reminders WHERE user_id = ?1", &st) < 0)
        return -EIO;
    store_bind_int64(st, 1, uid);
    int step = store_step(st);
    if (step == STORE_ROW) {
        const char *m = store_column_text(st, 0), *l = store_column_text(st, 1);
        snprintf(mode, mn, "%s", m ? m : "firm");
        snprintf(leads, ln, "%s", l ? l : "");
        *found = true;
    }
    model_release(st);
    return step == STORE_ROW || step == STORE_DONE ? 0 : -EIO;
}

struct wres reminder_me_get(const struct wctx *c, json_t *body, const char *arg)
{
    struct reminder_leads firm, eff, own;
    bool enforced, found, off;
    char mode[16], leads[LEADS_TEXT_MAX];
    if (reminder_firm_leads(c, &firm, &enforced) < 0 ||
        load_user(c, c->user->id, mode, sizeof mode, leads, sizeof leads, &found) < 0)
        return model_db_error(c, "reading the reminder settings");
    if (!found)
        snprintf(mode, sizeof mode, "firm");
    reminder_effective(&firm, enforced, mode, leads, &eff, &off);
    json_t *o = json_object();
    if (o == NULL)
        return wres_error(500, "internal", "out of memory");
    /* An "off" the firm overrides reads as what applies. */
    model_set_str(o, "mode", strcmp(mode, "off") == 0 && enforced ? "firm" : mode);
    json_object_set_new(o, "leads",
                        strcmp(mode, "custom") == 0 && reminder_leads_parse_text(leads, &own) == 0
                            ? reminder_leads_json(&own)
                            : json_null());
    json_object_set_new(o, "effective_leads", off ? json_array() : reminder_leads_json(&eff));
    json_object_set_new(o, "firm_leads", reminder_leads_json(&firm));
    model_set_bool(o, "firm_enforced", enforced);
    model_set_str(o, "timezone", c->env ? c->env->timezone : NULL);
    return wres_ok(200, o);
}

static const struct jsonv_field me_spec[] = {
    {"mode", JSONV_STRING, JSONV_REQUIRED, 1, 8, modes, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

struct wres reminder_me_put(const struct wctx *c, json_t *body, const char *arg)
{
    struct wres res;
    struct reminder_leads own, firm;
    bool enforced;
    char err[256], text[LEADS_TEXT_MAX] = "", now[32];
    struct store_stmt *st;
    json_t *rest = json_copy(body);
    if (rest == NULL)
        return wres_error(500, "internal", "out of memory");
    json_t *jl = json_object_get(body, "leads");
    json_object_del(rest, "leads");
    bool bad = jsonv_reject(rest, me_spec, &res);
    json_decref(rest);
    if (bad)
        return res;
    const char *mode = json_string_value(json_object_get(body, "mode"));
    bool custom = strcmp(mode, "custom") == 0;
    if (custom != (jl != NULL && !json_is_null(jl)))
        return wres_error(400, "invalid_request",
                          custom ? "the mode \"custom\" needs the field \"leads\""
                                 : "the field \"leads\" goes with the mode \"custom\" only");
    if (custom && (reminder_leads_from_json(jl, "leads", &own, err, sizeof err) < 0 ||
                   reminder_leads_text(&own, text, sizeof text) < 0))
        return wres_error(400, "invalid_request", "%s", err);
    if (reminder_firm_leads(c, &firm, &enforced) < 0)
        return model_db_error(c, "reading the firm's settings");
    if (enforced && strcmp(mode, "off") == 0)
        return wres_error(409, "reminders_enforced",
                          "the firm requires its reminder lead times for everyone: they cannot "
                          "be turned off (a custom list is added to the firm's)");
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO user_reminders (user_id, mode, leads, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE SET "
                      "mode = excluded.mode, leads = excluded.leads, "
                      "updated_at = excluded.updated_at",
                      &st) < 0)
        return model_db_error(c, "storing the reminder settings");
    store_bind_int64(st, 1, c->user->id);
    store_bind_text(st, 2, mode);
    if (custom)
        store_bind_text(st, 3, text);
    else
        store_bind_null(st, 3);
    store_bind_text(st, 4, now);
    int step = store_step(st);
    model_release(st);
    if (step != STORE_DONE)
        return model_db_error(c, "storing the reminder settings");
    return reminder_me_get(c, NULL, NULL);
}
