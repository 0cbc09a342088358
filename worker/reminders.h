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

#include "worker.h"

/* The lead times, earliest first. */
enum reminder_lead { LEAD_7D = 0, LEAD_48H, LEAD_DAY, LEAD__COUNT };
const char *reminder_lead_name(enum reminder_lead l); /* "7d", "48h", "day" */

/* Pure (in the process's TZ): when the reminder of lead l is due for a
 * deadline whose last instant is `at`, on local day `date` ("YYYY-MM-DD").
 * 7d and 48h count back from the instant; "day" is 08:00 local on the date.
 * 0 or -EINVAL for a date that does not parse. */
int reminder_due(enum reminder_lead l, time_t at, const char *date, time_t *due);

/* Pure: the deadline's last instant: deadline_at ("YYYY-MM-DDTHH:MM") when
 * given, else 23:59 local on date. 0 or -EINVAL. */
int reminder_deadline_instant(const char *date, const char *at_or_null, time_t *out);

/* GET /internal/reminders?due_before=<unix> */
struct wres reminders_due(const struct wctx *c, json_t *body, const char *arg);
/* POST /internal/reminders/<id>/sent */
struct wres reminders_mark_sent(const struct wctx *c, json_t *body, const char *arg);

#endif
