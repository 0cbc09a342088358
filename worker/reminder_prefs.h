/*
 * reminder_prefs.h — who chooses the lead times of deadline reminders
 * (issue 21; docs/worker-api.md "Reminder lead times").
 *
 * The firm (its admin) sets a list, default 7d, 48h, morning, in the firm's
 * settings (firm_settings "reminder_leads"), and whether that list is
 * enforced ("reminder_leads_enforced"). Each user chooses a mode in
 * user_reminders: "firm" (the default: the firm's list), "custom" (a list of
 * their own) or "off" (no reminder mail at all). When the firm enforces its
 * list, a custom list is added to the firm's (never instead of it) and "off"
 * is refused (and an earlier "off" reads as "firm").
 */
#ifndef WORKER_REMINDER_PREFS_H
#define WORKER_REMINDER_PREFS_H

#include <stdbool.h>

#include "reminder_leads.h"
#include "worker.h"

/* The firm's list and whether it is enforced. 0 or -EIO. */
int reminder_firm_leads(const struct wctx *c, struct reminder_leads *out, bool *enforced);

/* A user's effective choice: *off when they receive no reminder mail, else
 * the leads. mode and leads_text as stored (NULL = no row: "firm"). */
void reminder_effective(const struct reminder_leads *firm, bool enforced, const char *mode,
                        const char *leads_text, struct reminder_leads *out, bool *off);

/* GET and PUT /api/firm/settings (admin): the TOTP setting
 * (second_factor.h) plus "reminder_leads" and "reminder_leads_enforced". */
struct wres reminder_settings_get(const struct wctx *c, json_t *body, const char *arg);
struct wres reminder_settings_put(const struct wctx *c, json_t *body, const char *arg);

/* GET and PUT /api/me/reminders {"mode", "leads"} (anyone, for themself). */
struct wres reminder_me_get(const struct wctx *c, json_t *body, const char *arg);
struct wres reminder_me_put(const struct wctx *c, json_t *body, const char *arg);

#endif
