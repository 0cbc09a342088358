/*
 * reminders.h — deadline reminders by e-mail (issue 21; docs/operations.md
 * "Deadline reminders").
 *
 * Workers cannot reach a mail relay (network containment), so tenantd sends
 * the mail: every [mail] reminders_every (only when [mail] relay and from are
 * set), it asks each running worker for the reminders due
 * (GET /internal/reminders?due_before=<now>, the usage token), composes a
 * plain-text mail in the firm's language (French unless "en") branded with
 * the firm's name, sends it through the [mail] relay with alerts_mail()
 * (alerts.h: the same curl queue as the alerts), then reports it sent
 * (POST /internal/reminders/<id>/sent), so the worker lists it no more. A
 * failed mail is retried next round. Delivery is at least once, duplicates
 * rare and visible: each mail has a stable Message-ID (the deadline, its
 * lead and date, the tenant), recorded in state.db's reminders_mailed right
 * after the relay's 250 and before the worker is told, and looked up before
 * any mail; a reminder found there is only reported again, across restarts
 * of tenantd too. What remains is a crash between the relay's 250 and that
 * record: the mail then goes again, with the same Message-ID. Nothing waits
 * on the loop. The worker's answer is hostile input: checked field by field.
 */
#ifndef TENANTD_REMINDERS_H
#define TENANTD_REMINDERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

struct sup;

int reminders_start(uv_loop_t *loop, struct sup *s);
/* Idempotent; mails still queued finish or fail without effect. */
void reminders_stop(void);
/* tenantd_reminders_sent_total, _failed_total, _bad_answers_total. */
void reminders_metrics(FILE *f);

/* ---- reminders_ledger.c: what was mailed, in <run_dir>/state.db ------------- */

/* Open (creating the table); idempotent. 0 or -errno with err filled. */
int reminders_ledger_open(const char *run_dir, char *err, size_t errlen);
void reminders_ledger_close(void);
/* 1 when tenant's reminder message_id is recorded mailed, 0 when not (or
 * the ledger is not open), -EIO. */
int reminders_ledger_has(const char *tenant, const char *message_id);
/* Record it (synchronously on disk); 0, -ENOTCONN (not open) or -EIO. */
int reminders_ledger_put(const char *tenant, const char *message_id);
const char *reminders_ledger_error(void);

/* ---- reminders_mail.c: pure ------------------------------------------------ */

#define REMINDER_CC_MAX 3

struct reminder {
    char id[48];         /* "<deadline id>-<lead>" */
    char lead[8];        /* "<N>h", "<N>d", "morning" ("day" from older workers) */
    char title[1024];    /* control characters replaced */
    char date[16];       /* YYYY-MM-DD */
    char at[8];          /* HH:MM for deadlines counted in hours, else "" */
    char reference[512]; /* may be "" */
    char to[256];
    char cc[REMINDER_CC_MAX][256]; /* "" when unused; never "to" or each other */
    size_t ncc;
    char responsible[128];       /* the responsible lawyer's username, or "" */
    char responsible_status[16]; /* ok, deleted, disabled, opted_out, no_address, or "" */
    long long seconds_left;      /* until the deadline when listed, or -1 (not said) */
};

/* What the mail says of the firm: its name, language ("en" for English,
 * else French), time zone (the worker's TIMEZONE; "" = not said), tenant
 * id (for the Message-ID), and the [mail] from address. */
struct reminder_firm {
    const char *tenant, *name, *language, *timezone, *from;
};

/* Check one element of the worker's "reminders" array; 0 or -1 with why. */
int reminder_parse(const json_t *o, struct reminder *r, char *why, size_t whylen);
/* A time zone name as the worker says it ("Europe/Paris"): true when safe
 * to print. */
bool reminder_timezone_ok(const char *tz);
/* The reminder's stable Message-ID, "<reminder.<deadline id>.<lead>.
 * <YYYYMMDD>.<tenant>@<the from address's domain>>": the same for every
 * attempt, so a mail client shows a duplicate as one. */
void reminder_message_id(const char *tenant, const struct reminder *r, const char *from, char *out,
                         size_t n);
/* The whole message (headers with CRLF, body), malloc'ed, or NULL; date is
 * the Date: header's time. */
char *reminder_message(const struct reminder *r, const struct reminder_firm *f, time_t date,
                       size_t *len);

#endif
