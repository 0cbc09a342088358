/*
 * alerts.h — the vendor's alerts (issue 21, docs/operations.md "Alerts").
 *
 * Every [alerts] check_every, alerts.c looks at each tenant and at the proxy
 * for a condition of the kinds below. A condition that starts holding fires
 * one alert per (tenant, kind); nothing more is sent while it holds; when it
 * clears, one recovery notice. Each message is delivered by alerts_send.c:
 * a webhook (HTTP POST of JSON, X-Tenantd-Signature: sha256=<hex HMAC-SHA256
 * of the body with the shared secret of [alerts] webhook_secret_file>) and/or
 * an e-mail through the [mail] relay, both by a `curl` child process
 * (child.h), never on the loop itself.
 *
 * One instance per tenantd (like storage.h): the admin API reads it for
 * GET /v1/alerts and /metrics.
 */
#ifndef TENANTD_ALERTS_H
#define TENANTD_ALERTS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct sup;
struct proxy;

enum alert_kind {
    ALERT_TENANT_FAILED = 0, /* the tenant's state is failed */
    ALERT_RESTART_LOOP,      /* [alerts] restarts within restarts_window */
    ALERT_STORAGE,           /* data dir at storage_percent of its limit or more */
    ALERT_BACKUP_MISSED,     /* no backup for backup_late ([backup] every > 0) */
    ALERT_PROXY_REFUSED,     /* the proxy's last configuration was refused */
    ALERT_CERT_EXPIRY,       /* an ACME certificate with less than cert_expiry left (acme.h) */
    ALERT_OFFSITE_FAILED,    /* the last off-site copy or restore test failed (offsite.h) */
    ALERT__COUNT
};
const char *alert_kind_name(enum alert_kind k);

/* Start checking on loop (the [alerts] of s's configuration, re-read each
 * round, so a reload applies). proxy may be NULL. 0 or -errno. */
int alerts_start(uv_loop_t *loop, struct sup *s, struct proxy *proxy);
/* Stop checking; deliveries still running are killed. Idempotent. */
void alerts_stop(void);

/* {"active": [...], "deliveries": [...newest first], "delivered": {"ok", "error"}}. */
json_t *alerts_json(void);
/* The Prometheus families tenantd_alerts_active and tenantd_alert_deliveries_total. */
void alerts_metrics(FILE *f);

/* The loop alerts_start was given, for alerts_send.c. */
uv_loop_t *alerts_loop(void);

/* ---- alerts_send.c -------------------------------------------------------- */

struct config_global;

/* Queue one message for every channel configured in g: event "fired" or
 * "recovered". Results are counted with alerts_delivered(). */
void alerts_send(const struct config_global *g, const char *tenant, enum alert_kind k,
                 const char *event, const char *detail, time_t since);
/* A mail of another module (reminders.c) through the same curl queue and
 * [mail] relay: message is the whole RFC 5322 text (headers, CRLF lines);
 * the envelope goes to `to` and to each non-empty cc[i] (at most
 * ALERTS_MAIL_CC_MAX; the headers are the message's business). done runs
 * once on the loop with NULL or the error (also when tenantd stops), never
 * inside this call. -1 with err set when it cannot be queued (done will not
 * run). */
typedef void (*alerts_mail_cb)(void *arg, const char *error);
#define ALERTS_MAIL_CC_MAX 3
int alerts_mail(uv_loop_t *loop, const struct config_global *g, const char *to,
                const char *const *cc, size_t ncc, const char *message, size_t len,
                alerts_mail_cb done, void *arg, char *err, size_t errlen);
/* Kill what runs, drop what waits. */
void alerts_send_stop(void);
/* For alerts_send.c: record a delivery's outcome (error NULL when ok). */
void alerts_delivered(const char *channel, const char *tenant, enum alert_kind k, const char *event,
                      const char *error);

/* Pure: the hex HMAC-SHA256 of body under key, into hex (65 bytes). */
void alerts_sign(const unsigned char *key, size_t keylen, const char *body, size_t len,
                 char hex[65]);

#endif
