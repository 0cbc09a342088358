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

static bool is_address(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 200 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>,;:\"()[]\\", *p))
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
        !digits(r->id, (size_t)(dash - r->id)) ||
        (strcmp(dash + 1, "7d") != 0 && strcmp(dash + 1, "48h") != 0 &&
         strcmp(dash + 1, "day") != 0)) {
        snprintf(why, whylen, "reminder id \"%.47s\" is not <deadline id>-7d, -48h or -day", r->id);
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
    if (text(o, "to", r->to, sizeof r->to, false) < 0 || !is_address(r->to)) {
        snprintf(why, whylen, "reminder %s: \"to\" is not an e-mail address", r->id);
        return -1;
    }
    if (text(o, "cc", r->cc, sizeof r->cc, false) < 0 || (r->cc[0] && !is_address(r->cc))) {
        snprintf(why, whylen, "reminder %s: \"cc\" is not an e-mail address", r->id);
        return -1;
    }
    if (strcmp(r->cc, r->to) == 0)
        r->cc[0] = '\0';
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

char *reminder_message(const struct reminder *r, const char *firm, const char *language,
                       const char *from, time_t date, size_t *len)
{
    bool en = language != NULL && strcmp(language, "en") == 0;
    char when[32], subject[1400], hdate[64], cleanfirm[256];
    size_t o = 0;
    for (const char *p = firm ? firm : ""; *p && o + 1 < sizeof cleanfirm; p++)
        cleanfirm[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    cleanfirm[o] = '\0';
    if (en)
        snprintf(when, sizeof when, "%s%s%s", r->date, r->at[0] ? " " : "", r->at);
    else
        snprintf(when, sizeof when, "%.2s/%.2s/%.4s%s%s", r->date + 8, r->date + 5, r->date,
                 r->at[0] ? " à " : "", r->at);
    const char *lead;
    if (strcmp(r->lead, "7d") == 0)
        lead = en ? "Deadline in 7 days" : "Échéance dans 7 jours";
    else if (strcmp(r->lead, "48h") == 0)
        lead = en ? "Deadline in 48 h" : "Échéance dans 48 h";
    else
        lead = en ? "Deadline today" : "Échéance aujourd'hui";
    snprintf(subject, sizeof subject, "[%s] %s%s %s (%s)", cleanfirm, lead, en ? ":" : " :",
             r->title, when);
    struct tm tm;
    gmtime_r(&date, &tm);
    strftime(hdate, sizeof hdate, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    struct out b = {0};
    b.f = open_memstream(&b.p, &b.len);
    if (b.f == NULL)
        return NULL;
    fprintf(b.f, "From: %s\r\nTo: %s\r\n", from, r->to);
    if (r->cc[0])
        fprintf(b.f, "Cc: %s\r\n", r->cc);
    fprintf(b.f, "Date: %s\r\nSubject: ", hdate);
    put_encoded(b.f, subject);
    fprintf(b.f,
            "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\nX-Tenantd-Reminder: %s\r\n\r\n",
            r->id);
    if (en)
        fprintf(b.f,
                "Hello,\r\n\r\nReminder: the deadline \"%s\" falls on %s.\r\n"
                "Legal reference: %s\r\n\r\n-- \r\n%s\r\n",
                r->title, when, r->reference[0] ? r->reference : "(none)", cleanfirm);
    else
        fprintf(b.f,
                "Bonjour,\r\n\r\nRappel : l'échéance « %s » tombe le %s.\r\n"
                "Référence : %s\r\n\r\n-- \r\n%s\r\n",
                r->title, when, r->reference[0] ? r->reference : "(aucune)", cleanfirm);
    if (fclose(b.f) != 0) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
