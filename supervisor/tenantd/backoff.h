/*
 * backoff.h — the restart schedule of one tenant, pure: a capped exponential
 * delay with jitter, a reset after a stable run, and a start limit after which
 * the tenant is failed. The caller passes the random value, so the schedule is
 * deterministic in tests.
 *
 * What it does not do: timers, clocks or randomness (supervisor.c brings them).
 */
#ifndef TENANTD_BACKOFF_H
#define TENANTD_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct backoff_policy {
    int64_t min_ms;          /* the first delay */
    int64_t max_ms;          /* the cap */
    int64_t stable_after_ms; /* a run at least this long resets the count */
    int start_limit;         /* this many crashes without a stable run: give up */
};

struct backoff {
    int crashes;    /* crashes since the last stable run */
    bool immediate; /* the first of them was restarted at once */
};

void backoff_reset(struct backoff *b);

/*
 * The delay before attempt `n` (1 = after the first crash): min * 2^(n-1),
 * capped at max, minus a jitter of up to a quarter of it chosen by `rnd`
 * (uniform over 0..UINT32_MAX). Never below 0 nor above max.
 */
int64_t backoff_delay(const struct backoff_policy *p, int n, uint32_t rnd);

/*
 * Record a crash of a run that lasted `run_ms` (0 when it never became
 * ready) and return the delay before the next start, or -1 when the start
 * limit is reached (the tenant should be failed). The first crash after a
 * stable run (or after a reset) of a worker that had become ready restarts
 * at once (0); the schedule (min, 2 min, ...) applies from the next crash
 * on. A worker that never becomes ready waits min from its first crash.
 */
int64_t backoff_on_crash(struct backoff *b, const struct backoff_policy *p, int64_t run_ms,
                         uint32_t rnd);

#endif
