/*
 * ical.h — a user's deadlines as an iCalendar feed (RFC 5545) at a secret
 * URL, /ical/<token>.ics (docs/worker-api.md "Calendar feed").
 *
 * The token is 128 random bits (base64url, 22 characters), shown once when
 * made; only its keyed hash is stored (ical_feeds), so the database does not
 * hold a working URL. POST rotates it (the old URL answers 404 at once),
 * DELETE revokes it. The feed needs no session: the token is the
 * credential, and it reads the deadlines of its user only.
 */
#ifndef TENANT_WORKER_ICAL_H
#define TENANT_WORKER_ICAL_H

#include <stddef.h>

#include "worker.h"

#define ICAL_TOKEN_LEN 22

/* One calendar entry, for ical_render(). */
struct ical_event {
    long long id;
    const char *date;      /* "YYYY-MM-DD": the last day to act */
    const char *at;        /* "YYYY-MM-DDTHH:MM" (local time in tz) or NULL */
    const char *summary;   /* free text */
    const char *reference; /* the legal reference */
    const char *description;
    const char *stamp; /* "YYYYMMDDTHHMMSSZ" */
};

/*
 * Pure: the VCALENDAR of n events, CRLF lines folded at 75 octets (never
 * inside a UTF-8 sequence), text escaped (\\ \; \, \n). Timed entries carry
 * TZID=tz (with a VTIMEZONE for Europe/Paris), all-day ones VALUE=DATE;
 * each has a VALARM per lead time (7 days, 48 hours, and the morning of
 * the day for all-day entries). host names the UID's domain. Returns a
 * malloc'd string (length in *len) or NULL on allocation failure.
 */
char *ical_render(const struct ical_event *ev, size_t n, const char *calname, const char *tz,
                  const char *host, size_t *len);

/* POST /api/me/ical: make or rotate the feed: {"token","path"}. */
struct wres ical_feed_create(const struct wctx *c, json_t *body, const char *arg);
/* DELETE /api/me/ical: revoke. 204, or 404 when there is none. */
struct wres ical_feed_delete(const struct wctx *c, json_t *body, const char *arg);
/* GET /ical/<token>.ics (arg = "<token>.ics"): the feed, as text in *out
 * (malloc'd, *len bytes), status 200; or 404 with *out NULL. */
int ical_feed_get(const struct wctx *c, const char *arg, char **out, size_t *len);

#endif
