/*
 * vat.c — invoice arithmetic in integer cents; the rounding rule is written
 * down in vat.h and docs/worker-rules.md.
 */
#include "vat.h"

#include <errno.h>

int vat_line_total(int64_t quantity, int64_t unit_price_cents, int64_t *out)
{
    int64_t r;
    if (quantity <= 0 || unit_price_cents < 0)
        return -EINVAL;
    if (__builtin_mul_overflow(quantity, unit_price_cents, &r) || r > VAT_MAX_CENTS)
        return -EOVERFLOW;
    *out = r;
    return 0;
}

int vat_tax(int64_t ht_cents, int rate_bp, int64_t *out)
{
    if (ht_cents < 0 || rate_bp < 0 || rate_bp > VAT_MAX_RATE_BP)
        return -EINVAL;
    if (ht_cents > VAT_MAX_CENTS)
        return -EOVERFLOW;
    /* 10^15 × 10^4 = 10^19 does not fit in int64_t: split HT into whole
     * units of 10000 cents and a remainder so every product stays small. */
    int64_t q = ht_cents / 10000, r = ht_cents % 10000;
    int64_t tax = q * rate_bp + (r * rate_bp + 5000) / 10000;
    *out = tax;
    return 0;
}

int vat_totals(const int64_t *line_totals, size_t n, int rate_bp, struct vat_totals *out)
{
    int64_t ht = 0, tva;
    int rc;
    for (size_t i = 0; i < n; i++) {
        if (line_totals[i] < 0)
            return -EINVAL;
        if (__builtin_add_overflow(ht, line_totals[i], &ht) || ht > VAT_MAX_CENTS)
            return -EOVERFLOW;
    }
    rc = vat_tax(ht, rate_bp, &tva);
    if (rc < 0)
        return rc;
    if (ht + tva > VAT_MAX_CENTS)
        return -EOVERFLOW;
    out->ht_cents = ht;
    out->tva_cents = tva;
    out->ttc_cents = ht + tva;
    return 0;
}
