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
 * failed mail is retried next round; a mail sent but not yet reported is
 * reported again, never mailed twice by this tenantd. Nothing waits on the
 * loop. The worker's answer is hostile input: checked field by field.
 */
#ifndef TENANTD_REMINDERS_H
#define TENANTD_REMINDERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

struct sup;

int reminders_start(uv_loop_t *loop, struct sup *s);
/* Idempotent; mails still queued finish or fail without effect. */
void reminders_stop(void);
/* tenantd_reminders_sent_total, _failed_total, _bad_answers_total. */
void reminders_metrics(FILE *f);

/* ---- reminders_mail.c: pure ------------------------------------------------ */

struct reminder {
    char id[48];         /* "<deadline id>-<lead>" */
    char lead[4];        /* 7d, 48h, day */
    char title[1024];    /* control characters replaced */
    char date[16];       /* YYYY-MM-DD */
    char at[8];          /* HH:MM for deadlines counted in hours, else "" */
    char reference[512]; /* may be "" */
    char to[256], cc[256];
};

/* Check one element of the worker's "reminders" array; 0 or -1 with why. */
int reminder_parse(const json_t *o, struct reminder *r, char *why, size_t whylen);
/* The whole message (headers with CRLF, body), malloc'ed, or NULL. firm is
 * the firm's name, language "en" for English (else French), from the
 * [mail] from address, date the Date: header's time. */
char *reminder_message(const struct reminder *r, const char *firm, const char *language,
                       const char *from, time_t date, size_t *len);

#endif
