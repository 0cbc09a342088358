/*
 * reminders.h — deadline reminders for tenantd to mail (issue 21,
 * docs/worker-api.md "Reminders"). The worker cannot reach a mail relay
 * (network containment), so it only lists what is due and records what
 * tenantd reports sent; tenantd composes and sends the mail.
 */
#ifndef WORKER_REMINDERS_H
#define WORKER_REMINDERS_H

#include <stdint.h>
#include <time.h>

#include "reminder_leads.h"
#include "reminder_prefs.h" /* the lead-time routes, for http_routes.c */
#include "worker.h"

/* GET /internal/reminders?due_before=<unix> */
struct wres reminders_due(const struct wctx *c, json_t *body, const char *arg);
/* POST /internal/reminders/<id>/sent */
struct wres reminders_mark_sent(const struct wctx *c, json_t *body, const char *arg);

#endif
