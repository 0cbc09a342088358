/*
 * invoice_fr.h — what a French B2B invoice must say, prepared once for both
 * renderings (the printable HTML, invoice_page.c, and the PDF, invoice_pdf.c):
 * amounts as "1 150,50 €" (U+202F between thousands, U+00A0 before €),
 * dates in French ("3 décembre 2026", the firm's local date), the SIRET as
 * "123 456 789 00012", the VAT number derived from the SIREN, the status in
 * French, the due date, the late-payment penalty and the 40 € recovery
 * indemnity (Code de commerce art. L. 441-9, L. 441-10 and D. 441-5; see
 * docs/worker-rules.md "Invoices"). Pure but for the time zone (TZ), which
 * the worker sets at start.
 */
#ifndef TENANT_WORKER_INVOICE_FR_H
#define TENANT_WORKER_INVOICE_FR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* Days from the issue date to the due date (L. 441-10 I: 30 days unless agreed). */
#define INVOICE_PAYMENT_DAYS 30

/* What the invoice shows in place of a missing identity field. */
#define INVOICE_MISSING "à compléter"

/* "1 150,50 €" (fr) or "€1,150.50" (en) into out (≥ 48 bytes). */
void invoice_amount(int64_t cents, int en, char *out, size_t n);
/* "123 456 789 00012" from 14 digits (spaces allowed in the input);
 * -EINVAL (out = "") otherwise. */
int invoice_siret(const char *siret, char *out, size_t n);
/* The intra-EU VAT number "FR32123456789" from a SIRET's or SIREN's first
 * nine digits; -EINVAL (out = "") when there are not nine digits. */
int invoice_vat_number(const char *siret, char *out, size_t n);
/* "3 décembre 2026" / "1er mai 2026" (fr), "3 December 2026" (en), the local
 * date of a UTC "YYYY-MM-DDTHH:MM:SSZ" plus add_days; -EINVAL when unparsable. */
int invoice_date(const char *iso_utc, int add_days, int en, char *out, size_t n);
/* "brouillon", "envoyée", "payée", "annulée" (fr) or the status as is (en). */
const char *invoice_status(const char *status, int en);

/* One invoice, every text ready to print (UTF-8, not escaped). */
struct invoice_line {
    char description[512];
    long long quantity;
    char unit[48], total[48];
};
struct invoice_view {
    int en;
    char title[96];      /* "Facture n° 2026-0001" */
    char issued[160];    /* "Date d'émission : 3 décembre 2026" */
    char due[160];       /* "Date d'échéance : 2 janvier 2027 (30 jours)" */
    char status[160];    /* "Statut : envoyée" */
    char seller[5][300]; /* name, address, "SIRET …", "N° TVA …", phone · email */
    char client[3][600]; /* "Client :", name, address */
    char head[4][64];    /* column titles */
    struct invoice_line *lines;
    size_t nlines;
    char totals[3][2][96]; /* HT, TVA (rate), TTC: label, amount */
    char terms[4][400];    /* payment term, penalties, indemnity, no discount */
    int missing;           /* identity fields "à compléter" */
};

/* Fill v from the JSON of model_invoice_get and the firm's settings; 0 or
 * -ENOMEM. Free with invoice_view_free(). */
int invoice_view_make(struct invoice_view *v, const json_t *inv, const struct wenv *env);
void invoice_view_free(struct invoice_view *v);

#endif
