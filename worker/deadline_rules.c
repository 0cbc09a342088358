/*
 * deadline_rules.c — calendar arithmetic, French public holidays, the
 * computation of one deadline and the choice of the rule in force (see
 * deadline_rules.h for the computation rules; the rule files are parsed by
 * deadline_parse.c).
 *
 * Day counting uses the days-from-civil algorithm (H. Hinnant), exact for
 * the proleptic Gregorian calendar, so adding days never walks month by
 * month and leap years need no special case beyond deadline_is_leap().
 */
#include "deadline_rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool deadline_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int deadline_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    return m == 2 && deadline_is_leap(y) ? 29 : days[m - 1];
}

bool deadline_date_valid(struct deadline_date d)
{
    return d.y >= DEADLINE_MIN_YEAR && d.y <= DEADLINE_MAX_YEAR && d.m >= 1 && d.m <= 12 &&
           d.d >= 1 && d.d <= deadline_days_in_month(d.y, d.m);
}

int64_t deadline_to_days(struct deadline_date d)
{
    int64_t y = d.y - (d.m <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (d.m + (d.m > 2 ? -3 : 9)) + 2) / 5 + d.d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct deadline_date deadline_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    struct deadline_date d;
    d.d = (int)(doy - (153 * mp + 2) / 5 + 1);
    d.m = (int)(mp < 10 ? mp + 3 : mp - 9);
    d.y = (int)(yoe + era * 400 + (d.m <= 2));
    return d;
}

struct deadline_date deadline_add_days(struct deadline_date d, int64_t n)
{
    return deadline_from_days(deadline_to_days(d) + n);
}

struct deadline_date deadline_add_months(struct deadline_date d, int n)
{
    int total = d.y * 12 + (d.m - 1) + n;
    struct deadline_date r = {.y = total / 12, .m = total % 12 + 1, .d = d.d};
    int last = deadline_days_in_month(r.y, r.m);
    if (r.d > last)
        r.d = last;
    return r;
}

int deadline_weekday(struct deadline_date d)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int64_t w = (deadline_to_days(d) + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

struct deadline_date deadline_easter(int y)
{
    int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
    int f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    struct deadline_date r = {
        .y = y, .m = (h + l - 7 * m + 114) / 31, .d = (h + l - 7 * m + 114) % 31 + 1};
    return r;
}

int deadline_parse_date(const char *s, struct deadline_date *out)
{
    int v[3] = {0, 0, 0};
    static const int width[3] = {4, 2, 2};
    size_t pos = 0;
    for (int part = 0; part < 3; part++) {
        for (int i = 0; i < width[part]; i++, pos++) {
            if (s[pos] < '0' || s[pos] > '9')
                return -EINVAL;
            v[part] = v[part] * 10 + (s[pos] - '0');
        }
        if (part < 2 && s[pos++] != '-')
            return -EINVAL;
    }
    if (s[pos] != '\0')
        return -EINVAL;
    struct deadline_date d = {.y = v[0], .m = v[1], .d = v[2]};
    if (!deadline_date_valid(d))
        return -EINVAL;
    *out = d;
    return 0;
}

void deadline_format_date(struct deadline_date d, char *buf, size_t n)
{
    snprintf(buf, n, "%04d-%02d-%02d", d.y, d.m, d.d);
}

struct deadline_date deadline_today(time_t now)
{
    struct tm tm;
    struct deadline_date d = {.y = 1970, .m = 1, .d = 1};
    if (localtime_r(&now, &tm) != NULL) {
        d.y = tm.tm_year + 1900;
        d.m = tm.tm_mon + 1;
        d.d = tm.tm_mday;
    }
    return d;
}

bool deadline_is_holiday(const struct deadline_rules *r, struct deadline_date d)
{
    int64_t easter = -1;
    for (size_t i = 0; i < r->nholidays; i++) {
        const struct deadline_holiday *h = &r->holidays[i];
        if (!h->movable) {
            if (h->month == d.m && h->day == d.d)
                return true;
            continue;
        }
        if (easter < 0)
            easter = deadline_to_days(deadline_easter(d.y));
        if (easter + h->easter_offset == deadline_to_days(d))
            return true;
    }
    return false;
}

bool deadline_is_working_day(const struct deadline_rules *r, struct deadline_date d)
{
    return deadline_weekday(d) < 5 && !deadline_is_holiday(r, d);
}

int deadline_compute(const struct deadline_rules *r, const struct deadline_rule *rule,
                     struct deadline_date notified, int minute_of_day, struct deadline_result *out)
{
    struct deadline_result res = {.has_time = false, .hour = 23, .minute = 59};
    if (!deadline_date_valid(notified) || rule->duration < 1 || minute_of_day >= 24 * 60)
        return -EINVAL;
    switch (rule->unit) {
    case DEADLINE_HOURS: {
        /* "D'heure à heure": from the minute of notification, on the wall
         * clock. Without that minute there is no honest answer. */
        if (minute_of_day < 0)
            return -ENODATA;
        int64_t end = (int64_t)minute_of_day + (int64_t)rule->duration * 60;
        res.date = deadline_add_days(notified, end / (24 * 60));
        res.has_time = true;
        res.hour = (int)(end % (24 * 60) / 60);
        res.minute = (int)(end % 60);
        break;
    }
    case DEADLINE_DAYS:
        res.date = deadline_add_days(notified, rule->duration);
        break;
    case DEADLINE_MONTHS:
        res.date = deadline_add_months(notified, rule->duration);
        break;
    default:
        return -EINVAL;
    }
    if (!res.has_time && rule->extension == DEADLINE_FRANC)
        res.date = deadline_add_days(res.date, 1);
    if (!res.has_time && rule->extension != DEADLINE_CALENDAR) {
        /* A year has at most a handful of consecutive non-working days. */
        for (int i = 0; i < 14 && !deadline_is_working_day(r, res.date); i++) {
            res.date = deadline_add_days(res.date, 1);
            res.extended = true;
        }
    }
    if (!deadline_date_valid(res.date))
        return -EINVAL;
    *out = res;
    return 0;
}

int deadline_parse_time(const char *s, int *minute_of_day)
{
    for (int i = 0; i < 5; i++)
        if (i == 2 ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
            return -EINVAL;
    if (s[5] != '\0')
        return -EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -EINVAL;
    *minute_of_day = h * 60 + m;
    return 0;
}

const char *deadline_urgency(int64_t days_left)
{
    if (days_left < 0)
        return "overdue";
    if (days_left <= 2)
        return "critical";
    if (days_left <= 7)
        return "high";
    if (days_left <= 30)
        return "normal";
    return "low";
}

bool deadline_rule_in_force(const struct deadline_rule *rule, struct deadline_date d)
{
    int64_t day = deadline_to_days(d);
    if (day < deadline_to_days(rule->valid_from))
        return false;
    return !rule->has_until || day <= deadline_to_days(rule->valid_until);
}

const struct deadline_rule *deadline_rule_find(const struct deadline_rules *r, const char *type,
                                               struct deadline_date d)
{
    /* The parser refused overlapping periods, so at most one matches. */
    for (size_t i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].type, type) == 0 && deadline_rule_in_force(&r->rules[i], d))
            return &r->rules[i];
    return NULL;
}

bool deadline_type_known(const struct deadline_rules *r, const char *type)
{
    for (size_t i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].type, type) == 0)
            return true;
    return false;
}

void deadline_duration_text(const struct deadline_rule *rule, char *buf, size_t n)
{
    switch (rule->unit) {
    case DEADLINE_HOURS:
        snprintf(buf, n, "%d heure%s", rule->duration, rule->duration > 1 ? "s" : "");
        return;
    case DEADLINE_DAYS:
        snprintf(buf, n, "%d jour%s", rule->duration, rule->duration > 1 ? "s" : "");
        return;
    case DEADLINE_MONTHS:
        if (rule->duration == 1)
            snprintf(buf, n, "un mois");
        else
            snprintf(buf, n, "%d mois", rule->duration);
        return;
    }
    snprintf(buf, n, "?");
}

const char *deadline_unit_name(enum deadline_unit u)
{
    switch (u) {
    case DEADLINE_HOURS:
        return "hours";
    case DEADLINE_DAYS:
        return "days";
    case DEADLINE_MONTHS:
        return "months";
    }
    return "?";
}

const char *deadline_extension_name(enum deadline_extension e)
{
    switch (e) {
    case DEADLINE_CALENDAR:
        return "calendar";
    case DEADLINE_NEXT_WORKING_DAY:
        return "extend_to_next_working_day";
    case DEADLINE_FRANC:
        return "franc";
    }
    return "?";
}
