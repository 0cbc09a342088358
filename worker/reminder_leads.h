/*
 * reminder_leads.h — the lead times of deadline reminders (issue 21,
 * docs/worker-api.md "Reminder lead times"). Pure: no I/O, no database.
 *
 * A lead is written "<N>h" (N hours before the deadline's instant, 1..2160),
 * "<N>d" (the same wall-clock time N days before, 1..90, so a week before
 * stays 10:00 across a DST change) or "morning" (08:00 on the deadline's
 * day). Times are local: the process's TZ, which main() sets from the firm's
 * TIMEZONE (Europe/Paris unless the tenant says otherwise). "day", the name
 * of "morning" before lead times could be chosen, is read as "morning".
 */
#ifndef WORKER_REMINDER_LEADS_H
#define WORKER_REMINDER_LEADS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define REMINDER_LEADS_MAX 6 /* in one list a firm or a user chooses */
#define REMINDER_LEAD_HOURS_MAX (90 * 24)
#define REMINDER_LEAD_DAYS_MAX 90
#define REMINDER_MORNING_HOUR 8

struct reminder_lead {
    char unit; /* 'h', 'd', or 'm' (morning) */
    int n;     /* hours or days; 0 for morning */
};

/* A firm's list united with a user's may hold twice the maximum. */
struct reminder_leads {
    size_t n;
    struct reminder_lead l[2 * REMINDER_LEADS_MAX];
};

/* 0, or -EINVAL when s is not a lead within the bounds. */
int reminder_lead_parse(const char *s, struct reminder_lead *out);
/* "72h", "7d", "morning" into out (>= 16 bytes). */
void reminder_lead_format(const struct reminder_lead *l, char *out, size_t n);
bool reminder_lead_equal(const struct reminder_lead *a, const struct reminder_lead *b);

/* The firm's default: 7d, 48h, morning. */
void reminder_leads_default(struct reminder_leads *out);
/* A JSON array of lead strings, 1..REMINDER_LEADS_MAX, no duplicate, as
 * field `field` of a request: 0, or -EINVAL with a sentence naming it. */
int reminder_leads_from_json(const json_t *arr, const char *field, struct reminder_leads *out,
                             char *err, size_t errlen);
/* The stored text (a JSON array written by reminder_leads_text); -EINVAL
 * when it does not parse. */
int reminder_leads_parse_text(const char *text, struct reminder_leads *out);
json_t *reminder_leads_json(const struct reminder_leads *ls);
/* The compact JSON text of the list into out; -ENOSPC when too long. */
int reminder_leads_text(const struct reminder_leads *ls, char *out, size_t n);
/* Add to a the leads of b it does not hold yet. */
void reminder_leads_union(struct reminder_leads *a, const struct reminder_leads *b);

/* When lead l's reminder is due for a deadline whose last instant is at,
 * on local day date ("YYYY-MM-DD"). 0 or -EINVAL. */
int reminder_lead_due(const struct reminder_lead *l, time_t at, const char *date, time_t *due);

/* The deadline's last instant: deadline_at ("YYYY-MM-DDTHH:MM") when
 * given, else 23:59 local on date. 0 or -EINVAL. */
int reminder_deadline_instant(const char *date, const char *at_or_null, time_t *out);

#endif
