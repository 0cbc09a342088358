/*
 * usage.c — plan-limit decisions and the monthly bill (see usage.h).
 */
#include "usage.h"

#include <errno.h>
#include <stdio.h>

bool usage_limit_reached(int64_t count, int64_t limit)
{
    return limit >= 0 && count >= limit;
}

enum usage_decision usage_decide(int64_t month_count, int64_t total_count, int64_t monthly_limit,
                                 int64_t max_cases, int64_t overage_cents)
{
    /* Stored cases first: overage pays for analyses, not for storage. */
    if (usage_limit_reached(total_count, max_cases))
        return USAGE_BLOCK_CASES;
    if (!usage_limit_reached(month_count, monthly_limit))
        return USAGE_ALLOW;
    return overage_cents > 0 ? USAGE_OVERAGE : USAGE_BLOCK_MONTHLY;
}

int usage_bill(int64_t overage_count, int64_t plan_price_cents, int64_t overage_cents,
               struct usage_bill *out)
{
    int64_t fees, total;
    if (overage_count < 0 || plan_price_cents < 0 || overage_cents < 0)
        return -EINVAL;
    if (__builtin_mul_overflow(overage_count, overage_cents, &fees) ||
        __builtin_add_overflow(plan_price_cents, fees, &total))
        return -EOVERFLOW;
    out->overage_count = overage_count;
    out->overage_fees_cents = fees;
    out->total_due_cents = total;
    return 0;
}

int usage_month(time_t now, char *buf, size_t n)
{
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL || n < 8)
        return -EINVAL;
    snprintf(buf, n, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    return 0;
}

int usage_next_billing(time_t now, char *buf, size_t n)
{
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL || n < 11)
        return -EINVAL;
    int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
    if (m > 12) {
        m = 1;
        y++;
    }
    snprintf(buf, n, "%04d-%02d-01", y, m);
    return 0;
}
