/*
 * deadline_parse.c — the deadline rules file (deadlines.rules) and the
 * public holidays file (holidays.rules): keys, values and the checks a file
 * must pass before the worker trusts it (see docs/worker-rules.md).
 *
 * The input is hostile as far as this code knows (a firm edits these files
 * by hand; the fuzzer feeds it anything): every value is bounded and
 * checked, and a file is taken whole or not at all.
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

/* Bit per key seen in the current section, to catch duplicates and misses. */
enum {
    SEEN_LABEL = 1,
    SEEN_DURATION = 2,
    SEEN_UNIT = 4,
    SEEN_CAL = 8,
    SEEN_REF = 16,
    SEEN_NOTE = 32,
    SEEN_DATE = 64,
    SEEN_EASTER = 128,
    SEEN_FROM = 256,
    SEEN_UNTIL = 512,
    SEEN_CONFIRMED = 1024,
    SEEN_CHECKED = 2048,
    SEEN_SOURCE = 4096
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
    unsigned need =
        SEEN_LABEL | SEEN_DURATION | SEEN_UNIT | SEEN_CAL | SEEN_REF | SEEN_FROM | SEEN_CONFIRMED;
    if ((st->seen & need) != need) {
        snprintf(err, errlen,
                 "rule [%s] needs label, duration, unit, calendar, reference, valid_from and "
                 "confirmed",
                 r->type);
        return -EINVAL;
    }
    if (r->has_until && deadline_to_days(r->valid_until) < deadline_to_days(r->valid_from)) {
        snprintf(err, errlen, "rule [%s] ends (valid_until) before it starts (valid_from)",
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
        /* A type may come back with another period; overlaps are refused
         * once the whole file is read (check_periods). */
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
    if (strcmp(key, "source") == 0) {
        if ((rc = seen_once(st, SEEN_SOURCE, key, err, errlen)) < 0)
            return rc;
        return copy_value(r->source, sizeof r->source, key, value, err, errlen);
    }
    if (strcmp(key, "valid_from") == 0 || strcmp(key, "valid_until") == 0 ||
        strcmp(key, "checked") == 0) {
        bool from = key[6] == 'f', until = key[6] == 'u';
        if ((rc = seen_once(st,
                            from    ? SEEN_FROM
                            : until ? SEEN_UNTIL
                                    : SEEN_CHECKED,
                            key, err, errlen)) < 0)
            return rc;
        struct deadline_date *d = from ? &r->valid_from : until ? &r->valid_until : &r->checked;
        if (deadline_parse_date(value, d) < 0) {
            snprintf(err, errlen, "%s must be a real date written YYYY-MM-DD", key);
            return -EINVAL;
        }
        if (until)
            r->has_until = true;
        else if (!from)
            r->has_checked = true;
        return 0;
    }
    if (strcmp(key, "confirmed") == 0) {
        if ((rc = seen_once(st, SEEN_CONFIRMED, key, err, errlen)) < 0)
            return rc;
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            snprintf(err, errlen, "confirmed must be yes or no");
            return -EINVAL;
        }
        r->confirmed = value[0] == 'y';
        return 0;
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
    snprintf(err, errlen,
             "unknown key \"%s\" (label, duration, unit, calendar, reference, note, source, "
             "valid_from, valid_until, confirmed, checked)",
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

/* Two rules of one type whose periods overlap would give a notification
 * date two answers: refuse the file, naming both periods. */
static int check_periods(const struct parse_state *st, char *err, size_t errlen)
{
    for (size_t i = 0; i < st->nrules; i++)
        for (size_t k = i + 1; k < st->nrules; k++) {
            const struct deadline_rule *a = &st->rules[i], *b = &st->rules[k];
            if (strcmp(a->type, b->type) != 0)
                continue;
            int64_t a0 = deadline_to_days(a->valid_from), b0 = deadline_to_days(b->valid_from);
            int64_t a1 = a->has_until ? deadline_to_days(a->valid_until) : INT64_MAX;
            int64_t b1 = b->has_until ? deadline_to_days(b->valid_until) : INT64_MAX;
            if (a0 <= b1 && b0 <= a1) {
                char af[16], bf[16];
                deadline_format_date(a->valid_from, af, sizeof af);
                deadline_format_date(b->valid_from, bf, sizeof bf);
                snprintf(err, errlen,
                         "the periods of two rules [%s] overlap (from %s and from %s): one "
                         "must end (valid_until) before the other starts",
                         a->type, af, bf);
                return -EINVAL;
            }
        }
    return 0;
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
    if (rc == 0 && !holidays && check_periods(&st, msg, sizeof msg) < 0) {
        snprintf(err, errlen, "at the end: %s", msg);
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
