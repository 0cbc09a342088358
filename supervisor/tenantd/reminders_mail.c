/*
 * reminders_mail.c — checking a reminder from a worker's answer and
 * composing its mail (reminders.h). Pure: no loop, no I/O.
 *
 * Everything comes from the worker, so hostile: the id and dates must match
 * their exact shape, addresses a conservative pattern (no space, angle
 * bracket, comma or control character: they go into headers and the SMTP
 * envelope), text has its control characters replaced by spaces. The
 * Subject is RFC 2047 encoded (UTF-8, base64), so a title can never end the
 * header.
 */
#include "reminders.h"
#include "util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_date(const char *s)
{
    return strlen(s) == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2);
}

/* A lead of the worker's: 1..2160 hours, 1..90 days, morning (or "day",
 * its name in older workers). */
static bool is_lead(const char *s)
{
    if (strcmp(s, "morning") == 0 || strcmp(s, "day") == 0)
        return true;
    size_t n = strlen(s);
    if (n < 2 || n > 5 || s[0] == '0' || !digits(s, n - 1))
        return false;
    long v = strtol(s, NULL, 10);
    return (s[n - 1] == 'h' && v >= 1 && v <= 2160) || (s[n - 1] == 'd' && v >= 1 && v <= 90);
}

bool reminder_timezone_ok(const char *tz)
{
    size_t n = tz ? strlen(tz) : 0;
    if (n == 0 || n > 63 || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
            return false;
    return true;
}

/* A string member, or "" when absent or null; -1 when of another type or too long. */
static int text(const json_t *o, const char *k, char *out, size_t n, bool clean)
{
    const json_t *v = json_object_get(o, k);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= n)
        return -1;
    const char *s = json_string_value(v);
    size_t i = 0;
    for (; s[i]; i++)
        out[i] = clean && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    out[i] = '\0';
    return 0;
}

int reminder_parse(const json_t *o, struct reminder *r, char *why, size_t whylen)
{
    char at[32];
    memset(r, 0, sizeof *r);
    if (!json_is_object(o)) {
        snprintf(why, whylen, "a reminder is not an object");
        return -1;
    }
    if (text(o, "id", r->id, sizeof r->id, false) < 0 || r->id[0] == '\0') {
        snprintf(why, whylen, "a reminder has no id");
        return -1;
    }
    const char *dash = strchr(r->id, '-');
    if (dash == NULL || dash == r->id || dash - r->id > 19 ||
        !digits(r->id, (size_t)(dash - r->id)) || !is_lead(dash + 1)) {
        snprintf(why, whylen,
                 "reminder id \"%.47s\" is not <deadline id>-<lead> (<N>h, <N>d, morning)", r->id);
        return -1;
    }
    snprintf(r->lead, sizeof r->lead, "%s", dash + 1);
    if (text(o, "title", r->title, sizeof r->title, true) < 0 || r->title[0] == '\0') {
        snprintf(why, whylen, "reminder %s: title missing or over %zu bytes", r->id,
                 sizeof r->title - 1);
        return -1;
    }
    if (text(o, "deadline_date", r->date, sizeof r->date, false) < 0 || !is_date(r->date)) {
        snprintf(why, whylen, "reminder %s: deadline_date is not YYYY-MM-DD", r->id);
        return -1;
    }
    if (text(o, "deadline_at", at, sizeof at, false) < 0 ||
        (at[0] && !(strlen(at) == 16 && strncmp(at, r->date, 10) == 0 && at[10] == 'T' &&
                    digits(at + 11, 2) && at[13] == ':' && digits(at + 14, 2)))) {
        snprintf(why, whylen, "reminder %s: deadline_at is not <deadline_date>THH:MM", r->id);
        return -1;
    }
    /* The hour is said only when the time is not the end of the day. */
    if (at[0] && strcmp(at + 11, "23:59") != 0) {
        memcpy(r->at, at + 11, 5);
        r->at[5] = '\0';
    }
    if (text(o, "reference", r->reference, sizeof r->reference, true) < 0) {
        snprintf(why, whylen, "reminder %s: reference is not a short string", r->id);
        return -1;
    }
    if (text(o, "to", r->to, sizeof r->to, false) < 0 || !util_mail_address_ok(r->to)) {
        snprintf(why, whylen, "reminder %s: \"to\" is not an e-mail address", r->id);
        return -1;
    }
    /* cc: one address (older workers), or an array of them; duplicates
     * and "to" are dropped, so nobody gets the mail twice. */
    const json_t *cc = json_object_get(o, "cc");
    const json_t *one = json_is_string(cc) ? cc : NULL;
    if (cc != NULL && !json_is_null(cc) && !one &&
        (!json_is_array(cc) || json_array_size(cc) > REMINDER_CC_MAX)) {
        snprintf(why, whylen, "reminder %s: \"cc\" is not a list of at most %d addresses", r->id,
                 REMINDER_CC_MAX);
        return -1;
    }
    size_t n = one ? 1 : json_is_array(cc) ? json_array_size(cc) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = one ? one : json_array_get(cc, i);
        const char *a = json_is_string(v) ? json_string_value(v) : NULL;
        if (a == NULL || json_string_length(v) >= sizeof r->cc[0] || !util_mail_address_ok(a)) {
            snprintf(why, whylen, "reminder %s: \"cc\" holds what is not an e-mail address", r->id);
            return -1;
        }
        bool dup = strcmp(a, r->to) == 0;
        for (size_t k = 0; k < r->ncc; k++)
            dup = dup || strcmp(a, r->cc[k]) == 0;
        if (!dup)
            snprintf(r->cc[r->ncc++], sizeof r->cc[0], "%s", a);
    }
    const json_t *left = json_object_get(o, "seconds_left");
    r->seconds_left = -1;
    if (json_is_integer(left) && json_integer_value(left) >= 0 &&
        json_integer_value(left) <= 400LL * 86400)
        r->seconds_left = json_integer_value(left);
    if (text(o, "responsible", r->responsible, sizeof r->responsible, true) < 0)
        r->responsible[0] = '\0';
    if (text(o, "responsible_status", r->responsible_status, sizeof r->responsible_status, true) <
        0)
        r->responsible_status[0] = '\0';
    return 0;
}

struct out {
    char *p;
    size_t len;
    FILE *f;
};

/* RFC 2047: encoded words of at most 45 bytes of UTF-8 each (60 of base64),
 * never cutting a character, folded onto continuation lines. */
static void put_encoded(FILE *f, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t k = n - i > 45 ? 45 : n - i;
        while (i + k < n && k > 1 && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--;
        char b64[128];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, k,
                          sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = false;
        i += k;
    }
}

void reminder_message_id(const char *tenant, const struct reminder *r, const char *from, char *out,
                         size_t n)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    char did[24];
    const char *dash = strchr(r->id, '-');
    snprintf(did, sizeof did, "%.*s", dash ? (int)(dash - r->id) : 0, r->id);
    const char *lead = strcmp(r->lead, "day") == 0 ? "morning" : r->lead;
    snprintf(out, n, "<reminder.%s.%s.%.4s%.2s%.2s.%s@%s>", did, lead, r->date, r->date + 5,
             r->date + 8, tenant, at && at[1] ? at + 1 : "tenantd.invalid");
}

/* "dans 72 h", "in 7 days", "today": the lead's words, or the time actually
 * left when the worker says it (rounded to the lead's unit), so a lead
 * mailed late (a deadline entered after it had passed) does not overstate
 * the time left. */
static void lead_words(const struct reminder *r, bool en, char *out, size_t n)
{
    const char *lead = r->lead;
    size_t len = strlen(lead);
    long v = strtol(lead, NULL, 10);
    char unit = len >= 2 ? lead[len - 1] : 'm';
    if (strcmp(lead, "morning") == 0 || strcmp(lead, "day") == 0 || len < 2) {
        snprintf(out, n, "%s", en ? "Deadline today" : "Échéance aujourd'hui");
        return;
    }
    if (r->seconds_left >= 0) {
        long days = (long)((r->seconds_left + 43200) / 86400);
        v = unit == 'd' && days >= 1 ? days : (long)((r->seconds_left + 1800) / 3600);
        unit = unit == 'd' && days >= 1 ? 'd' : 'h';
    }
    if (unit == 'h' && v == 0)
        snprintf(out, n, "%s", en ? "Deadline in under 1 h" : "Échéance dans moins d'1 h");
    else if (unit == 'h')
        snprintf(out, n, en ? "Deadline in %ld h" : "Échéance dans %ld h", v);
    else
        snprintf(out, n, en ? "Deadline in %ld day%s" : "Échéance dans %ld jour%s", v,
                 v > 1 ? "s" : "");
}

/* Why the mail goes to someone other than the responsible lawyer. */
static const char *stand_in(const struct reminder *r, bool en)
{
    const char *s = r->responsible_status;
    if (s[0] == '\0' || strcmp(s, "ok") == 0)
        return NULL;
    if (strcmp(s, "deleted") == 0)
        return en ? "its responsible lawyer's account no longer exists"
                  : "le compte de l'avocat responsable n'existe plus";
    if (strcmp(s, "disabled") == 0)
        return en ? "its responsible lawyer's account is disabled"
                  : "le compte de l'avocat responsable est désactivé";
    if (strcmp(s, "opted_out") == 0)
        return en ? "its responsible lawyer does not receive reminder e-mails"
                  : "l'avocat responsable ne reçoit pas les rappels par e-mail";
    return en ? "its responsible lawyer has no e-mail address"
              : "l'avocat responsable n'a pas d'adresse e-mail";
}

char *reminder_message(const struct reminder *r, const struct reminder_firm *f, time_t date,
                       size_t *len)
{
    bool en = f->language != NULL && strcmp(f->language, "en") == 0;
    char when[32], subject[1400], hdate[64], cleanfirm[256], lead[64], zone[96] = "", msgid[256];
    size_t o = 0;
    for (const char *p = f->name ? f->name : ""; *p && o + 1 < sizeof cleanfirm; p++)
        cleanfirm[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    cleanfirm[o] = '\0';
    if (en)
        snprintf(when, sizeof when, "%s%s%s", r->date, r->at[0] ? " " : "", r->at);
    else
        snprintf(when, sizeof when, "%.2s/%.2s/%.4s%s%s", r->date + 8, r->date + 5, r->date,
                 r->at[0] ? " à " : "", r->at);
    if (reminder_timezone_ok(f->timezone))
        snprintf(zone, sizeof zone, en ? " (%s time)" : " (heure locale, fuseau %s)", f->timezone);
    lead_words(r, en, lead, sizeof lead);
    snprintf(subject, sizeof subject, "[%s] %s%s %s (%s)", cleanfirm, lead, en ? ":" : " :",
             r->title, when);
    struct tm tm;
    gmtime_r(&date, &tm);
    strftime(hdate, sizeof hdate, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    reminder_message_id(f->tenant ? f->tenant : "tenant", r, f->from, msgid, sizeof msgid);

    struct out b = {0};
    b.f = open_memstream(&b.p, &b.len);
    if (b.f == NULL)
        return NULL;
    fprintf(b.f, "From: %s\r\nTo: %s\r\n", f->from, r->to);
    for (size_t i = 0; i < r->ncc; i++)
        fprintf(b.f, "%s%s", i == 0 ? "Cc: " : ",\r\n ", r->cc[i]);
    fprintf(b.f, "%sDate: %s\r\nMessage-ID: %s\r\nSubject: ", r->ncc ? "\r\n" : "", hdate, msgid);
    put_encoded(b.f, subject);
    fprintf(b.f,
            "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\nX-Tenantd-Reminder: %s\r\n\r\n",
            r->id);
    const char *why = stand_in(r, en);
    if (en) {
        fprintf(b.f, "Hello,\r\n\r\n");
        if (why)
            fprintf(b.f, "You receive this reminder in place of %s: %s.\r\n\r\n",
                    r->responsible[0] ? r->responsible : "the responsible lawyer", why);
        fprintf(b.f,
                "Reminder: the deadline \"%s\" falls on %s%s.\r\n"
                "Legal reference: %s\r\n\r\n-- \r\n%s\r\n",
                r->title, when, zone, r->reference[0] ? r->reference : "(none)", cleanfirm);
    } else {
        fprintf(b.f, "Bonjour,\r\n\r\n");
        if (why)
            fprintf(b.f, "Vous recevez ce rappel à la place de %s : %s.\r\n\r\n",
                    r->responsible[0] ? r->responsible : "l'avocat responsable", why);
        fprintf(b.f,
                "Rappel : l'échéance « %s » tombe le %s%s.\r\n"
                "Référence : %s\r\n\r\n-- \r\n%s\r\n",
                r->title, when, zone, r->reference[0] ? r->reference : "(aucune)", cleanfirm);
    }
    if (fclose(b.f) != 0) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
