/*
 * deadline_rules.c — calendar arithmetic, French public holidays and the
 * deadline rules table (see deadline_rules.h for the computation rules).
 *
 * Day counting uses the days-from-civil algorithm (H. Hinnant), exact for
 * the proleptic Gregorian calendar, so adding days never walks month by
 * month and leap years need no special case beyond deadline_is_leap().
 */
#include "deadline_rules.h"
#include "rulefile.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLINE_MAX_RULES 256
#define DEADLINE_MAX_HOLIDAYS 64

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
                     struct deadline_date notified, struct deadline_result *out)
{
    struct deadline_result res = {.has_time = false};
    if (!deadline_date_valid(notified) || rule->duration < 1)
        return -EINVAL;
    switch (rule->unit) {
    case DEADLINE_HOURS:
        res.date = deadline_add_days(notified, rule->duration / 24);
        res.has_time = true;
        res.hour = rule->duration % 24;
        res.minute = 0;
        break;
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

const struct deadline_rule *deadline_rule_find(const struct deadline_rules *r, const char *type)
{
    for (size_t i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].type, type) == 0)
            return &r->rules[i];
    return NULL;
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

/* ---- rule files -------------------------------------------------------- */

/* Bit per key seen in the current section, to catch duplicates and misses. */
enum {
    SEEN_LABEL = 1,
    SEEN_DURATION = 2,
    SEEN_UNIT = 4,
    SEEN_CAL = 8,
    SEEN_REF = 16,
    SEEN_NOTE = 32,
    SEEN_DATE = 64,
    SEEN_EASTER = 128
};

struct parse_state {
    struct deadline_rule *rules;
    size_t nrules;
    struct deadline_holiday *holidays;
    size_t nholidays;
    unsigned seen;
    bool holidays_mode;
};

static int copy_value(char *dst, size_t n, const char *key, const char *value, char *err,
                      size_t errlen)
{
    if (value[0] == '\0') {
        snprintf(err, errlen, "%s must not be empty", key);
        return -EINVAL;
    }
    if (util_strlcpy(dst, value, n) < 0) {
        snprintf(err, errlen, "%s is longer than %zu bytes", key, n - 1);
        return -EINVAL;
    }
    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F) {
            snprintf(err, errlen, "%s must not contain control characters", key);
            return -EINVAL;
        }
    return 0;
}

static int parse_small_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* Check the section that just ended has every key it needs. */
static int finish_section(struct parse_state *st, char *err, size_t errlen)
{
    if (st->holidays_mode) {
        if (st->nholidays == 0)
            return 0;
        struct deadline_holiday *h = &st->holidays[st->nholidays - 1];
        if (!(st->seen & SEEN_LABEL) || !(st->seen & (SEEN_DATE | SEEN_EASTER))) {
            snprintf(err, errlen, "holiday [%s] needs a label and a date or an easter offset",
                     h->name);
            return -EINVAL;
        }
        return 0;
    }
    if (st->nrules == 0)
        return 0;
    struct deadline_rule *r = &st->rules[st->nrules - 1];
    unsigned need = SEEN_LABEL | SEEN_DURATION | SEEN_UNIT | SEEN_CAL | SEEN_REF;
    if ((st->seen & need) != need) {
        snprintf(err, errlen, "rule [%s] needs label, duration, unit, calendar and reference",
                 r->type);
        return -EINVAL;
    }
    if (r->unit == DEADLINE_HOURS && r->extension != DEADLINE_CALENDAR) {
        snprintf(err, errlen, "rule [%s] counts in hours, so its calendar must be \"calendar\"",
                 r->type);
        return -EINVAL;
    }
    return 0;
}

static int seen_once(struct parse_state *st, unsigned bit, const char *key, char *err,
                     size_t errlen)
{
    if (st->seen & bit) {
        snprintf(err, errlen, "%s is given twice in this section", key);
        return -EINVAL;
    }
    st->seen |= bit;
    return 0;
}

static int rule_cb(void *ud, const char *section, const char *key, const char *value, char *err,
                   size_t errlen)
{
    struct parse_state *st = ud;
    int rc;
    if (key == NULL) {
        rc = finish_section(st, err, errlen);
        if (rc < 0)
            return rc;
        if (strchr(section, '.') != NULL || strchr(section, '-') != NULL ||
            strlen(section) >= sizeof st->rules[0].type) {
            snprintf(err, errlen, "a procedure type may only hold a-z, 0-9 and '_' (47 at most)");
            return -EINVAL;
        }
        for (size_t i = 0; i < st->nrules; i++)
            if (strcmp(st->rules[i].type, section) == 0) {
                snprintf(err, errlen, "the type [%s] is defined twice", section);
                return -EINVAL;
            }
        if (st->nrules >= DEADLINE_MAX_RULES) {
            snprintf(err, errlen, "more than %d rules", DEADLINE_MAX_RULES);
            return -EINVAL;
        }
        struct deadline_rule *n = realloc(st->rules, (st->nrules + 1) * sizeof *n);
        if (n == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        st->rules = n;
        memset(&n[st->nrules], 0, sizeof *n);
        memcpy(n[st->nrules].type, section, strlen(section) + 1);
        st->nrules++;
        st->seen = 0;
        return 0;
    }
    if (section[0] == '\0' || st->nrules == 0) {
        snprintf(err, errlen, "\"%s\" must be inside a [type] section", key);
        return -EINVAL;
    }
    struct deadline_rule *r = &st->rules[st->nrules - 1];
    if (strcmp(key, "label") == 0) {
        if ((rc = seen_once(st, SEEN_LABEL, key, err, errlen)) < 0)
            return rc;
        return copy_value(r->label, sizeof r->label, key, value, err, errlen);
    }
    if (strcmp(key, "reference") == 0) {
        if ((rc = seen_once(st, SEEN_REF, key, err, errlen)) < 0)
            return rc;
        return copy_value(r->reference, sizeof r->reference, key, value, err, errlen);
    }
    if (strcmp(key, "note") == 0) {
        if ((rc = seen_once(st, SEEN_NOTE, key, err, errlen)) < 0)
            return rc;
        return copy_value(r->note, sizeof r->note, key, value, err, errlen);
    }
    if (strcmp(key, "duration") == 0) {
        if ((rc = seen_once(st, SEEN_DURATION, key, err, errlen)) < 0)
            return rc;
        if (parse_small_int(value, 1, 1000, &r->duration) < 0) {
            snprintf(err, errlen, "duration must be an integer from 1 to 1000");
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "unit") == 0) {
        if ((rc = seen_once(st, SEEN_UNIT, key, err, errlen)) < 0)
            return rc;
        if (strcmp(value, "hours") == 0)
            r->unit = DEADLINE_HOURS;
        else if (strcmp(value, "days") == 0)
            r->unit = DEADLINE_DAYS;
        else if (strcmp(value, "months") == 0)
            r->unit = DEADLINE_MONTHS;
        else {
            snprintf(err, errlen, "unit must be hours, days or months");
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "calendar") == 0) {
        if ((rc = seen_once(st, SEEN_CAL, key, err, errlen)) < 0)
            return rc;
        if (strcmp(value, "calendar") == 0)
            r->extension = DEADLINE_CALENDAR;
        else if (strcmp(value, "extend_to_next_working_day") == 0)
            r->extension = DEADLINE_NEXT_WORKING_DAY;
        else if (strcmp(value, "franc") == 0)
            r->extension = DEADLINE_FRANC;
        else {
            snprintf(err, errlen, "calendar must be calendar, extend_to_next_working_day or franc");
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown key \"%s\" (label, duration, unit, calendar, reference, note)",
             key);
    return -EINVAL;
}

static int holiday_cb(void *ud, const char *section, const char *key, const char *value, char *err,
                      size_t errlen)
{
    struct parse_state *st = ud;
    int rc;
    if (key == NULL) {
        rc = finish_section(st, err, errlen);
        if (rc < 0)
            return rc;
        if (st->nholidays >= DEADLINE_MAX_HOLIDAYS) {
            snprintf(err, errlen, "more than %d holidays", DEADLINE_MAX_HOLIDAYS);
            return -EINVAL;
        }
        struct deadline_holiday *n = realloc(st->holidays, (st->nholidays + 1) * sizeof *n);
        if (n == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        st->holidays = n;
        memset(&n[st->nholidays], 0, sizeof *n);
        util_strlcpy(n[st->nholidays].name, section, sizeof n[0].name);
        st->nholidays++;
        st->seen = 0;
        return 0;
    }
    if (section[0] == '\0' || st->nholidays == 0) {
        snprintf(err, errlen, "\"%s\" must be inside a [holiday] section", key);
        return -EINVAL;
    }
    struct deadline_holiday *h = &st->holidays[st->nholidays - 1];
    if (strcmp(key, "label") == 0) {
        if ((rc = seen_once(st, SEEN_LABEL, key, err, errlen)) < 0)
            return rc;
        return copy_value(h->label, sizeof h->label, key, value, err, errlen);
    }
    if (strcmp(key, "date") == 0 || strcmp(key, "easter") == 0) {
        if (st->seen & (SEEN_DATE | SEEN_EASTER)) {
            snprintf(err, errlen, "a holiday has one date or one easter offset");
            return -EINVAL;
        }
        if (key[0] == 'd') {
            st->seen |= SEEN_DATE;
            int m = 0, d = 0;
            bool digits = strlen(value) == 5 && value[2] == '-';
            for (int i = 0; digits && i < 5; i++)
                digits = i == 2 || (value[i] >= '0' && value[i] <= '9');
            if (digits) {
                m = (value[0] - '0') * 10 + (value[1] - '0');
                d = (value[3] - '0') * 10 + (value[4] - '0');
            }
            /* 2000 is a leap year, so 02-29 is accepted as a fixed holiday. */
            if (!digits || m < 1 || m > 12 || d < 1 || d > deadline_days_in_month(2000, m)) {
                snprintf(err, errlen, "date must be MM-DD, e.g. 07-14");
                return -EINVAL;
            }
            h->month = m;
            h->day = d;
            return 0;
        }
        st->seen |= SEEN_EASTER;
        h->movable = true;
        if (parse_small_int(value[0] == '+' ? value + 1 : value, -60, 60, &h->easter_offset) < 0) {
            snprintf(err, errlen, "easter must be a day offset from -60 to +60, e.g. +1");
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown key \"%s\" (label, date, easter)", key);
    return -EINVAL;
}

static int parse_into(struct deadline_rules *r, bool holidays, const char *text, size_t len,
                      char *err, size_t errlen)
{
    struct parse_state st = {.holidays_mode = holidays};
    char msg[256] = "";
    int rc = rulefile_parse(text, len, holidays ? holiday_cb : rule_cb, &st, err, errlen);
    if (rc == 0 && finish_section(&st, msg, sizeof msg) < 0) {
        snprintf(err, errlen, "at the end: %s", msg);
        rc = -EINVAL;
    }
    if (rc == 0 && !holidays && st.nrules == 0) {
        snprintf(err, errlen, "no rule is defined");
        rc = -EINVAL;
    }
    if (rc < 0) {
        free(st.rules);
        free(st.holidays);
        return rc;
    }
    if (holidays) {
        free(r->holidays);
        r->holidays = st.holidays;
        r->nholidays = st.nholidays;
    } else {
        free(r->rules);
        r->rules = st.rules;
        r->nrules = st.nrules;
    }
    return 0;
}

int deadline_rules_parse(struct deadline_rules *r, const char *text, size_t len, char *err,
                         size_t errlen)
{
    return parse_into(r, false, text, len, err, errlen);
}

int deadline_holidays_parse(struct deadline_rules *r, const char *text, size_t len, char *err,
                            size_t errlen)
{
    return parse_into(r, true, text, len, err, errlen);
}

static int load_into(struct deadline_rules *r, bool holidays, const char *path, char *err,
                     size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    char msg[320] = "";
    int rc = util_read_file(path, 1u << 20, &buf, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    rc = parse_into(r, holidays, buf, len, msg, sizeof msg);
    free(buf);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

int deadline_rules_load(struct deadline_rules *r, const char *path, char *err, size_t errlen)
{
    return load_into(r, false, path, err, errlen);
}

int deadline_holidays_load(struct deadline_rules *r, const char *path, char *err, size_t errlen)
{
    return load_into(r, true, path, err, errlen);
}

void deadline_rules_free(struct deadline_rules *r)
{
    free(r->rules);
    free(r->holidays);
    memset(r, 0, sizeof *r);
}
