/*
 * invoice_num.h — invoice numbers "YYYY-NNNN": the year the invoice was
 * issued (in the firm's local time) and its rank in that year, from 1,
 * zero-padded to four digits and wider past 9999 ("2026-10000").
 *
 * French invoicing rules ask for a unique, chronological, gap-free sequence;
 * this module only formats and parses. Allocation (max(seq)+1 for the year,
 * inside the inserting BEGIN IMMEDIATE transaction, never reusing the number
 * of a cancelled invoice) is model_invoices.c's job.
 */
#ifndef TENANT_WORKER_INVOICE_NUM_H
#define TENANT_WORKER_INVOICE_NUM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define INVNUM_MIN_YEAR 2000
#define INVNUM_MAX_YEAR 9999
#define INVNUM_MAX_SEQ INT64_C(99999999)
#define INVNUM_BUF 24 /* enough for any valid number and its NUL */

/* Write "YYYY-NNNN" into buf. Returns 0, -EINVAL (year or seq out of range),
 * -ENAMETOOLONG (buf too small). */
int invnum_format(int year, int64_t seq, char *buf, size_t n);

/*
 * Parse a number in its canonical form only: four-digit year in range, '-',
 * at least four digits, no leading zero beyond the padding ("2026-00001" is
 * refused), seq >= 1. Returns 0 or -EINVAL.
 */
int invnum_parse(const char *s, int *year, int64_t *seq);

/* The invoicing year of the instant now, in the process's local time (the
 * worker sets TZ from the tenant's TIMEZONE). */
int invnum_year(time_t now);

#endif
