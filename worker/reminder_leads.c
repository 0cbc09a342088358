/*
 * reminder_leads.c — parsing, printing and timing the lead times of
 * deadline reminders (reminder_leads.h). Pure.
 */
#include "reminder_leads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int reminder_lead_parse(const char *s, struct reminder_lead *out)
{
    if (s == NULL)
        return -EINVAL;
    if (strcmp(s, "morning") == 0 || strcmp(s, "day") == 0) {
        *out = (struct reminder_lead){'m', 0};
        return 0;
    }
    size_t len = strlen(s);
    if (len < 2 || len > 5 || s[0] == '0')
        return -EINVAL;
    int n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        n = n * 10 + (s[i] - '0');
    }
    char unit = s[len - 1];
    if ((unit == 'h' && n >= 1 && n <= REMINDER_LEAD_HOURS_MAX) ||
        (unit == 'd' && n >= 1 && n <= REMINDER_LEAD_DAYS_MAX)) {
        *out = (struct reminder_lead){unit, n};
        return 0;
    }
    return -EINVAL;
}

void reminder_lead_format(const struct reminder_lead *l, char *out, size_t n)
{
    if (l->unit == 'm')
        snprintf(out, n, "morning");
    else
        snprintf(out, n, "%d%c", l->n, l->unit);
}

bool reminder_lead_equal(const struct reminder_lead *a, const struct reminder_lead *b)
{
    return a->unit == b->unit && a->n == b->n;
}

void reminder_leads_default(struct reminder_leads *out)
{
    memset(out, 0, sizeof *out);
    out->l[0] = (struct reminder_lead){'d', 7};
    out->l[1] = (struct reminder_lead){'h', 48};
    out->l[2] = (struct reminder_lead){'m', 0};
    out->n = 3;
}

static bool holds(const struct reminder_leads *ls, const struct reminder_lead *l)
{
    for (size_t i = 0; i < ls->n; i++)
        if (reminder_lead_equal(&ls->l[i], l))
            return true;
    return false;
}

int reminder_leads_from_json(const json_t *arr, const char *field, struct reminder_leads *out,
                             char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(arr) || json_array_size(arr) < 1 ||
        json_array_size(arr) > REMINDER_LEADS_MAX) {
        snprintf(err, errlen,
                 "the field \"%s\" must be an array of 1 to %d lead times such as \"7d\", "
                 "\"48h\" or \"morning\"",
                 field, REMINDER_LEADS_MAX);
        return -EINVAL;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        struct reminder_lead l;
        if (!json_is_string(v) || reminder_lead_parse(json_string_value(v), &l) < 0 ||
            strcmp(json_string_value(v), "day") == 0) {
            snprintf(err, errlen,
                     "%s[%zu] must be \"<N>h\" (1 to %d hours), \"<N>d\" (1 to %d days) or "
                     "\"morning\" (%02d:00 on the day, the firm's time zone)",
                     field, i, REMINDER_LEAD_HOURS_MAX, REMINDER_LEAD_DAYS_MAX,
                     REMINDER_MORNING_HOUR);
            return -EINVAL;
        }
        if (holds(out, &l)) {
            snprintf(err, errlen, "%s[%zu]: \"%s\" is already in the list", field, i,
                     json_string_value(v));
            return -EINVAL;
        }
        out->l[out->n++] = l;
    }
    return 0;
}

int reminder_leads_parse_text(const char *text, struct reminder_leads *out)
{
    char err[160];
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    int rc = reminder_leads_from_json(j, "leads", out, err, sizeof err);
    json_decref(j);
    return rc;
}

json_t *reminder_leads_json(const struct reminder_leads *ls)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < ls->n; i++) {
        char b[16];
        reminder_lead_format(&ls->l[i], b, sizeof b);
        json_array_append_new(a, json_string(b));
    }
    return a;
}

int reminder_leads_text(const struct reminder_leads *ls, char *out, size_t n)
{
    json_t *a = reminder_leads_json(ls);
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    int rc = s != NULL && strlen(s) < n ? 0 : -ENOSPC;
    if (rc == 0)
        memcpy(out, s, strlen(s) + 1);
    free(s);
    return rc;
}

void reminder_leads_union(struct reminder_leads *a, const struct reminder_leads *b)
{
    for (size_t i = 0; i < b->n && a->n < sizeof a->l / sizeof a->l[0]; i++)
        if (!holds(a, &b->l[i]))
            a->l[a->n++] = b->l[i];
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

int reminder_lead_due(const struct reminder_lead *l, time_t at, const char *date, time_t *due)
{
    struct tm tm;
    switch (l->unit) {
    case 'd':
        if (localtime_r(&at, &tm) == NULL)
            return -EINVAL;
        tm.tm_mday -= l->n; /* the same wall-clock time, across DST */
        tm.tm_isdst = -1;
        *due = mktime(&tm);
        return *due == (time_t)-1 ? -EINVAL : 0;
    case 'h':
        *due = at - (time_t)l->n * 3600;
        return 0;
    case 'm':
        return parse_local(date, REMINDER_MORNING_HOUR, 0, due);
    default:
        return -EINVAL;
    }
}
