/*
 * deadline_rules.h — legal deadlines from a procedure type and a notification
 * date: the calendar arithmetic, the French public holidays and the rules
 * table (templates/worker/rules/deadlines.rules and holidays.rules).
 *
 * Rules are dated: each has an effective period (valid_from, and
 * valid_until unless it is still in force), and several rules may share one
 * procedure type as long as their periods do not overlap, so a notification
 * is computed under the rule in force on its date. The set of types is dated
 * too: a type exists only where one of its rules is in force.
 *
 * How a deadline is computed (docs/worker-rules.md says it in plain words):
 *   - hours:  from the hour and minute of the notification, N hours later,
 *             "d'heure à heure" (48 h notified on Friday at 16:00 end on
 *             Sunday at 16:00), on the firm's wall clock. Never extended:
 *             the texts that count in hours exclude any extension. A rule
 *             in hours cannot be computed without the time of notification.
 *   - days:   the notification day does not count; the deadline is the
 *             notification date + N days, until the end of that day.
 *   - months: the same day number N months later; when that month is
 *             shorter, its last day (31 January + 1 month = 28 or 29 February).
 *   Then the rule's extension:
 *   - calendar:                    none.
 *   - extend_to_next_working_day:  a last day falling on a Saturday, a
 *                                  Sunday or a public holiday moves to the
 *                                  next working day (CPC art. 642).
 *   - franc:                       a "délai franc" (administrative courts):
 *                                  one more day, then extended as above.
 * Public holidays are fixed dates (MM-DD) or offsets from Easter Sunday
 * (Gregorian computus), so Easter Monday, Ascension and Whit Monday are
 * computed for any year.
 * Dates are proleptic Gregorian, years 1900..2999. Everything here is pure
 * except deadline_*_load(), which read a file.
 */
#ifndef TENANT_WORKER_DEADLINE_RULES_H
#define TENANT_WORKER_DEADLINE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DEADLINE_MIN_YEAR 1900
#define DEADLINE_MAX_YEAR 2999

struct deadline_date {
    int y, m, d; /* 2026, 1..12, 1..31 */
};

enum deadline_unit { DEADLINE_HOURS = 0, DEADLINE_DAYS, DEADLINE_MONTHS };
enum deadline_extension { DEADLINE_CALENDAR = 0, DEADLINE_NEXT_WORKING_DAY, DEADLINE_FRANC };

struct deadline_rule {
    char type[48];       /* the procedure type the API uses, [a-z0-9_] */
    char label[256];     /* French label shown to the user */
    char reference[256]; /* legal reference, e.g. "CESEDA art. L. 921-1" */
    char note[512];      /* optional remark shown with the type */
    char source[768];    /* optional: what the rule rests on and where it was read */
    int duration;        /* 1..1000 */
    enum deadline_unit unit;
    enum deadline_extension extension;
    struct deadline_date valid_from;  /* first notification date it applies to */
    bool has_until;                   /* false: still in force */
    struct deadline_date valid_until; /* last notification date it applies to */
    bool confirmed;                   /* false: shown "à confirmer", not as certain */
    bool has_checked;
    struct deadline_date checked; /* when it was last checked against the texts */
};

struct deadline_holiday {
    char name[64];   /* the section name in holidays.rules */
    char label[128]; /* "Lundi de Pâques" */
    bool movable;    /* true: easter_offset; false: month/day */
    int month, day;
    int easter_offset; /* days after Easter Sunday, -60..60 */
};

/* The loaded tables. Zero-initialise before the first parse; free with
 * deadline_rules_free(). */
struct deadline_rules {
    struct deadline_rule *rules;
    size_t nrules;
    struct deadline_holiday *holidays;
    size_t nholidays;
};

struct deadline_result {
    struct deadline_date date; /* the last day to act (or the day of the instant) */
    bool has_time;             /* hours rules: the deadline is the instant date hour:minute */
    int hour, minute;          /* days and months: 23:59, the end of the last day */
    bool extended;             /* moved past a weekend or holiday */
};

/* Calendar arithmetic. */
bool deadline_is_leap(int y);
int deadline_days_in_month(int y, int m);
bool deadline_date_valid(struct deadline_date d);
/* Days since 1970-01-01 (negative before), and back. */
int64_t deadline_to_days(struct deadline_date d);
struct deadline_date deadline_from_days(int64_t days);
struct deadline_date deadline_add_days(struct deadline_date d, int64_t n);
/* Same day number n months later (n >= 0), clamped to the month's last day. */
struct deadline_date deadline_add_months(struct deadline_date d, int n);
/* 0 = Monday ... 6 = Sunday. */
int deadline_weekday(struct deadline_date d);
/* Easter Sunday of year y (Gregorian, anonymous computus). */
struct deadline_date deadline_easter(int y);

/* Strict "YYYY-MM-DD" with a real date in range. Returns 0 or -EINVAL. */
int deadline_parse_date(const char *s, struct deadline_date *out);
/* "YYYY-MM-DD" into buf (>= 11 bytes). */
void deadline_format_date(struct deadline_date d, char *buf, size_t n);
/* The local calendar date of the instant now. */
struct deadline_date deadline_today(time_t now);

/* Holidays and working days. */
bool deadline_is_holiday(const struct deadline_rules *r, struct deadline_date d);
bool deadline_is_working_day(const struct deadline_rules *r, struct deadline_date d);

/*
 * The deadline of rule for a notification on date notified at minute_of_day
 * (0..1439, the firm's local time; -1 when unknown). Returns 0, -ENODATA (a
 * rule in hours and no time), or -EINVAL (date or time out of range, or the
 * result would be). The rule need not be in force on that date: the caller
 * picks it with deadline_rule_find().
 */
int deadline_compute(const struct deadline_rules *r, const struct deadline_rule *rule,
                     struct deadline_date notified, int minute_of_day, struct deadline_result *out);

/* Strict "HH:MM" (00:00..23:59) into minutes since midnight. 0 or -EINVAL. */
int deadline_parse_time(const char *s, int *minute_of_day);

/*
 * Urgency of a deadline from the days left (deadline date minus today):
 * "overdue" (< 0), "critical" (<= 2), "high" (<= 7), "normal" (<= 30), "low".
 */
const char *deadline_urgency(int64_t days_left);

/* Whether rule applies to a notification on date d (valid_from <= d <=
 * valid_until). */
bool deadline_rule_in_force(const struct deadline_rule *rule, struct deadline_date d);
/* The rule of type in force on date d; NULL when the type is unknown or has
 * no rule in force then. */
const struct deadline_rule *deadline_rule_find(const struct deadline_rules *r, const char *type,
                                               struct deadline_date d);
/* Whether any rule, in force or not, has this type. */
bool deadline_type_known(const struct deadline_rules *r, const char *type);

/* The duration as the analysis rules' texts write it: "48 heures",
 * "7 jours", "un mois", "2 mois". */
void deadline_duration_text(const struct deadline_rule *rule, char *buf, size_t n);

/* Words of the enums as the rule files and the API spell them. */
const char *deadline_unit_name(enum deadline_unit u);
const char *deadline_extension_name(enum deadline_extension e);

/*
 * Parse deadlines.rules / holidays.rules text into r (replacing what that
 * part held); deadline_parse.c. Returns 0, or -EINVAL / -ENOMEM with
 * "line N: ..." in err; on failure r is unchanged. Besides each rule's own
 * keys, a deadlines file is refused when two rules of one type have
 * overlapping periods, so a notification date never has two answers.
 */
int deadline_rules_parse(struct deadline_rules *r, const char *text, size_t len, char *err,
                         size_t errlen);
int deadline_holidays_parse(struct deadline_rules *r, const char *text, size_t len, char *err,
                            size_t errlen);
/* The same from files; err names the file. */
int deadline_rules_load(struct deadline_rules *r, const char *path, char *err, size_t errlen);
int deadline_holidays_load(struct deadline_rules *r, const char *path, char *err, size_t errlen);
void deadline_rules_free(struct deadline_rules *r);

#endif
