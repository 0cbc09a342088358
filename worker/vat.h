/*
 * vat.h — invoice arithmetic in integer euro cents (French TVA).
 *
 * The rounding rule, applied once per invoice and never per line:
 *   line total  = quantity × unit price (exact, in cents)
 *   HT          = Σ line totals (exact)
 *   TVA         = HT × rate / 10000, rounded half up to the cent
 *                 (rate in basis points: 2000 = 20 %, 550 = 5.5 %)
 *   TTC         = HT + TVA
 * Rounding on the total, not per line, means TTC never drifts by the number
 * of lines, and TVA is what the firm declares for the invoice. All amounts
 * are nonnegative and at most VAT_MAX_CENTS, so they stay exact even in a
 * client that reads JSON numbers as doubles (2^53).
 * What this module does not do: currencies other than the euro, discounts,
 * several VAT rates on one invoice.
 */
#ifndef TENANT_WORKER_VAT_H
#define TENANT_WORKER_VAT_H

#include <stddef.h>
#include <stdint.h>

/* 10^15 cents = ten thousand billion euros: far above any invoice, far below 2^53. */
#define VAT_MAX_CENTS INT64_C(1000000000000000)
#define VAT_MAX_RATE_BP 10000
#define VAT_DEFAULT_RATE_BP 2000

struct vat_totals {
    int64_t ht_cents, tva_cents, ttc_cents;
};

/* quantity × unit price into *out. Returns 0, -EINVAL for a negative input
 * (or quantity 0), -EOVERFLOW when the result exceeds VAT_MAX_CENTS. */
int vat_line_total(int64_t quantity, int64_t unit_price_cents, int64_t *out);

/* round-half-up(ht × rate_bp / 10000). Returns 0, -EINVAL (negative HT, rate
 * outside 0..VAT_MAX_RATE_BP), -EOVERFLOW (ht above VAT_MAX_CENTS). */
int vat_tax(int64_t ht_cents, int rate_bp, int64_t *out);

/* The invoice's HT, TVA and TTC from its line totals (n may be 0). Returns 0,
 * -EINVAL or -EOVERFLOW as above (also when a sum exceeds VAT_MAX_CENTS). */
int vat_totals(const int64_t *line_totals, size_t n, int rate_bp, struct vat_totals *out);

#endif
