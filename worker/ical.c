/*
 * ical.c — the calendar feed: rendering (RFC 5545) and the feed's token
 * (see ical.h).
 */
#include "ical.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "second_factor.h"
#include "wbuf.h"

/* ---- rendering ------------------------------------------------------------- */

/* One content line: name, then value (escaped when text), folded at 75
 * octets: CRLF and a space, never between the bytes of one character. */
static void line(struct wbuf *b, const char *name, const char *value, int text)
{
    char tmp[8192];
    size_t n = 0, col = 0;

    n = (size_t)snprintf(tmp, sizeof tmp, "%s", name);
    for (const char *s = value ? value : ""; *s && n + 3 < sizeof tmp; s++) {
        unsigned char ch = (unsigned char)*s;
        if (text && (ch == '\\' || ch == ';' || ch == ',')) {
            tmp[n++] = '\\';
            tmp[n++] = (char)ch;
        } else if (text && ch == '\n') {
            tmp[n++] = '\\';
            tmp[n++] = 'n';
        } else if (ch == '\r' || (ch < 0x20 && ch != '\t') || ch == 0x7f) {
            continue; /* no control character reaches a line */
        } else {
            tmp[n++] = (char)ch;
        }
    }
    /* Do not leave a cut UTF-8 sequence at the end of a truncated value. */
    size_t start = n;
    while (start > 0 && ((unsigned char)tmp[start - 1] & 0xc0) == 0x80)
        start--;
    if (start > 0 && (unsigned char)tmp[start - 1] >= 0xc0) {
        unsigned char lead = (unsigned char)tmp[start - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (n - (start - 1) < want)
            n = start - 1;
    }
    for (size_t i = 0; i < n;) {
        size_t clen = 1;
        unsigned char ch = (unsigned char)tmp[i];
        if (ch >= 0xf0)
            clen = 4;
        else if (ch >= 0xe0)
            clen = 3;
        else if (ch >= 0xc0)
            clen = 2;
        if (i + clen > n)
            clen = n - i;
        if (col + clen > 75) {
            wbuf_put(b, "\r\n ", 3);
            col = 1;
        }
        wbuf_put(b, tmp + i, clen);
        col += clen;
        i += clen;
    }
    wbuf_put(b, "\r\n", 2);
}

static const char paris_tz[] = "BEGIN:VTIMEZONE\r\n"
                               "TZID:Europe/Paris\r\n"
                               "BEGIN:DAYLIGHT\r\n"
                               "TZOFFSETFROM:+0100\r\n"
                               "TZOFFSETTO:+0200\r\n"
                               "TZNAME:CEST\r\n"
                               "DTSTART:19700329T020000\r\n"
                               "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
                               "END:DAYLIGHT\r\n"
                               "BEGIN:STANDARD\r\n"
                               "TZOFFSETFROM:+0200\r\n"
                               "TZOFFSETTO:+0100\r\n"
                               "TZNAME:CET\r\n"
                               "DTSTART:19701025T030000\r\n"
                               "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
                               "END:STANDARD\r\n"
                               "END:VTIMEZONE\r\n";

/* "YYYY-MM-DD" -> "YYYYMMDD"; "YYYY-MM-DDTHH:MM" -> "YYYYMMDDTHHMM00". */
static void compact(const char *in, char *out, size_t n)
{
    size_t k = 0;
    if (in == NULL)
        in = "";
    for (; *in && k + 1 < n; in++)
        if (*in != '-' && *in != ':')
            out[k++] = *in;
    out[k] = '\0';
    if (strchr(out, 'T') != NULL && k + 2 < n) {
        strcat(out, "00");
    }
}

static void alarm(struct wbuf *b, const char *trigger, const char *what)
{
    line(b, "BEGIN:", "VALARM", 0);
    line(b, "ACTION:", "DISPLAY", 0);
    line(b, "TRIGGER:", trigger, 0);
    line(b, "DESCRIPTION:", what, 1);
    line(b, "END:", "VALARM", 0);
}

char *ical_render(const struct ical_event *ev, size_t n, const char *calname, const char *tz,
                  const char *host, size_t *len)
{
    struct wbuf b = {0};
    char v[512];
    int paris = tz != NULL && strcmp(tz, "Europe/Paris") == 0;

    line(&b, "BEGIN:", "VCALENDAR", 0);
    line(&b, "VERSION:", "2.0", 0);
    line(&b, "PRODID:", "-//tenantd//tenant-worker//EN", 0);
    line(&b, "CALSCALE:", "GREGORIAN", 0);
    line(&b, "METHOD:", "PUBLISH", 0);
    line(&b, "X-WR-CALNAME:", calname, 1);
    if (paris)
        wbuf_put(&b, paris_tz, sizeof paris_tz - 1);
    for (size_t i = 0; i < n; i++) {
        const struct ical_event *e = &ev[i];
        line(&b, "BEGIN:", "VEVENT", 0);
        snprintf(v, sizeof v, "deadline-%lld@%s", e->id, host ? host : "tenant-worker");
        line(&b, "UID:", v, 0);
        line(&b, "DTSTAMP:", e->stamp, 0);
        /* deadline_at is 23:59 for rules in days or months: an all-day
         * entry on that day; an exact hour only for rules in hours. */
        size_t atlen = e->at != NULL ? strlen(e->at) : 0;
        int timed = atlen > 6 && strcmp(e->at + atlen - 6, "T23:59") != 0;
        if (timed && tz != NULL && tz[0] != '\0') {
            char name[160], when[32];
            snprintf(name, sizeof name, "DTSTART;TZID=%s:", tz);
            compact(e->at, when, sizeof when);
            line(&b, name, when, 0);
            line(&b, "DURATION:", "PT30M", 0);
        } else {
            char day[16];
            compact(e->date, day, sizeof day);
            line(&b, "DTSTART;VALUE=DATE:", day, 0);
            line(&b, "DURATION:", "P1D", 0);
        }
        line(&b, "SUMMARY:", e->summary, 1);
        snprintf(v, sizeof v, "%s%s%s", e->reference ? e->reference : "",
                 e->description && e->description[0] ? "\n" : "",
                 e->description ? e->description : "");
        line(&b, "DESCRIPTION:", v, 1);
        line(&b, "TRANSP:", "TRANSPARENT", 0);
        snprintf(v, sizeof v, "Échéance dans 7 jours : %s", e->summary ? e->summary : "");
        alarm(&b, "-P7D", v);
        snprintf(v, sizeof v, "Échéance dans 48 heures : %s", e->summary ? e->summary : "");
        alarm(&b, "-PT48H", v);
        if (!timed) {
            snprintf(v, sizeof v, "Échéance aujourd'hui : %s", e->summary ? e->summary : "");
            alarm(&b, "PT8H", v); /* 08:00 on the day of an all-day entry */
        }
        line(&b, "END:", "VEVENT", 0);
    }
    line(&b, "END:", "VCALENDAR", 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- the feed's token ------------------------------------------------------- */

struct wres ical_feed_create(const struct wctx *c, json_t *body, const char *arg)
{
    unsigned char raw[16];
    char token[ICAL_TOKEN_LEN + 1], h[65], now[32], path[64];
    struct store_stmt *st;
    int rc;

    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sf_keyed_hash(c, "ical", token, h);
    model_iso_time(c->now, now, sizeof now);
    if (model_prepare(c,
                      "INSERT INTO ical_feeds (user_id, token_hash, created_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash,"
                      " created_at = excluded.created_at",
                      &st) < 0)
        return model_db_error(c, "storing the calendar feed");
    store_bind_int64(st, 1, c->user->id);
    store_bind_text(st, 2, h);
    store_bind_text(st, 3, now);
    rc = store_step(st);
    model_release(st);
    if (rc != STORE_DONE)
        return model_db_error(c, "storing the calendar feed");
    snprintf(path, sizeof path, "/ical/%s.ics", token);
    return wres_ok(201,
                   json_pack("{s:s, s:s, s:s}", "token", token, "path", path, "created_at", now));
}

struct wres ical_feed_delete(const struct wctx *c, json_t *body, const char *arg)
{
    struct store_stmt *st;
    int rc;
    int64_t n = 0;
    if (model_prepare(c, "DELETE FROM ical_feeds WHERE user_id = ?1", &st) < 0)
        return model_db_error(c, "revoking the calendar feed");
    store_bind_int64(st, 1, c->user->id);
    rc = store_step(st);
    if (rc == STORE_DONE)
        n = store_changes(st);
    model_release(st);
    if (rc != STORE_DONE)
        return model_db_error(c, "revoking the calendar feed");
    if (n == 0)
        return wres_error(404, "not_found", "there is no calendar feed to revoke");
    return wres_ok(204, NULL);
}

int ical_feed_get(const struct wctx *c, const char *arg, char **out, size_t *len)
{
    char token[ICAL_TOKEN_LEN + 1], h[65], stamp[32];
    struct store_stmt *st;
    int64_t user_id = 0;
    size_t n = 0, cap = 0;
    struct ical_event *ev = NULL;
    int rc, status = 404;

    *out = NULL;
    if (arg == NULL || strlen(arg) != ICAL_TOKEN_LEN + 4 || strcmp(arg + ICAL_TOKEN_LEN, ".ics"))
        return 404;
    memcpy(token, arg, ICAL_TOKEN_LEN);
    token[ICAL_TOKEN_LEN] = '\0';
    for (int i = 0; i < ICAL_TOKEN_LEN; i++) {
        char ch = token[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 404;
    }
    sf_keyed_hash(c, "ical", token, h);
    if (model_prepare(c,
                      "SELECT f.user_id FROM ical_feeds f JOIN users u ON u.id = f.user_id"
                      " WHERE f.token_hash = ?1 AND u.active = 1",
                      &st) < 0)
        return 500;
    store_bind_text(st, 1, h);
    rc = store_step(st);
    if (rc == STORE_ROW)
        user_id = store_column_int64(st, 0);
    model_release(st);
    if (rc != STORE_ROW)
        return rc == STORE_DONE ? 404 : 500;

    /* Strings are copied: the statement's text lives until the next step. */
    if (model_prepare(c,
                      "SELECT id, deadline_date, deadline_at, type, rule_reference, description"
                      " FROM deadlines WHERE (responsible_user_id = ?1 OR fallback_user_id = ?1)"
                      " AND status = 'active'"
                      " ORDER BY deadline_date, id LIMIT 1000",
                      &st) < 0)
        return 500;
    store_bind_int64(st, 1, user_id);
    {
        time_t t = c->now;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    }
    while ((rc = store_step(st)) == STORE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct ical_event *q = realloc(ev, cap * sizeof *ev);
            if (q == NULL)
                break;
            ev = q;
        }
        const char *at = store_column_text(st, 2);
        const char *ty = store_column_text(st, 3), *ref = store_column_text(st, 4);
        const char *de = store_column_text(st, 5), *da = store_column_text(st, 1);
        ev[n] = (struct ical_event){
            .id = (long long)store_column_int64(st, 0),
            .date = strdup(da ? da : ""),
            .at = at ? strdup(at) : NULL,
            .summary = strdup(de && de[0] ? de : (ty ? ty : "")),
            .reference = strdup(ref ? ref : ""),
            .description = strdup(ty ? ty : ""),
            .stamp = stamp,
        };
        n++;
    }
    model_release(st);
    if (rc == STORE_DONE) {
        char name[300];
        snprintf(name, sizeof name, "Échéances — %s",
                 c->env && c->env->client_name ? c->env->client_name : "");
        *out = ical_render(ev, n, name, c->env ? c->env->timezone : NULL,
                           c->env ? c->env->client_id : NULL, len);
        status = *out != NULL ? 200 : 500;
    } else {
        status = 500;
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)ev[i].date);
        free((char *)ev[i].at);
        free((char *)ev[i].summary);
        free((char *)ev[i].reference);
        free((char *)ev[i].description);
    }
    free(ev);
    return status;
}
