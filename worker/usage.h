/*
 * usage.h — plan limits and the monthly bill, as pure arithmetic.
 *
 * The monthly bill of a tenant is
 *   overage fees = analyses accepted over the monthly limit × overage price
 *   total due    = plan price + overage fees
 * in integer cents. An analysis over MAX_ANALYSIS_MONTHLY is accepted as
 * overage only when the plan has an overage price (> 0); with price 0 the
 * limit blocks. MAX_CASES (analyses stored in total) always blocks.
 * A negative limit means "no limit"; 0 means "none allowed" (so a missing
 * setting fails closed).
 * What this module does not do: read the database or the clock; callers
 * pass counts and instants.
 */
#ifndef TENANT_WORKER_USAGE_H
#define TENANT_WORKER_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum usage_decision {
    USAGE_ALLOW = 0,     /* within the plan */
    USAGE_OVERAGE,       /* over the monthly limit, billed per analysis */
    USAGE_BLOCK_MONTHLY, /* over the monthly limit, no overage price */
    USAGE_BLOCK_CASES,   /* MAX_CASES analyses already stored */
};

/*
 * May one more analysis be made, given the analyses made this month and
 * stored in total, and the plan's limits and overage price?
 */
enum usage_decision usage_decide(int64_t month_count, int64_t total_count, int64_t monthly_limit,
                                 int64_t max_cases, int64_t overage_cents);

/* True when `count` has reached `limit` (limit < 0: never). */
bool usage_limit_reached(int64_t count, int64_t limit);

struct usage_bill {
    int64_t overage_count;
    int64_t overage_fees_cents;
    int64_t total_due_cents;
};

/* Fill *out from the month's overage count and the plan's prices. Returns 0,
 * -EINVAL for a negative input, -EOVERFLOW when a product or sum overflows. */
int usage_bill(int64_t overage_count, int64_t plan_price_cents, int64_t overage_cents,
               struct usage_bill *out);

/* "YYYY-MM" of now in local time into buf (>= 8 bytes). Returns 0 or -EINVAL. */
int usage_month(time_t now, char *buf, size_t n);

/* "YYYY-MM-DD" of the first day of the month after now's (local time) into
 * buf (>= 11 bytes): the next billing date. Returns 0 or -EINVAL. */
int usage_next_billing(time_t now, char *buf, size_t n);

#endif
