/*
 * backoff.c — see backoff.h. Jitter spreads the restarts of tenants that
 * crashed together (a shared dependency, a bad deploy) so they do not all hit
 * the start slots in the same loop turn; it only ever shortens a delay, so the
 * cap holds and the schedule still visibly grows.
 */
#include "backoff.h"

void backoff_reset(struct backoff *b)
{
    b->crashes = 0;
    b->immediate = false;
}

int64_t backoff_delay(const struct backoff_policy *p, int n, uint32_t rnd)
{
    int64_t d = p->min_ms > 0 ? p->min_ms : 1;
    int64_t cap = p->max_ms > d ? p->max_ms : d;
    /* Doubling stops at the cap, so a long crash loop never overflows. */
    for (int i = 1; i < n && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    int64_t jitter = (int64_t)(((uint64_t)(d / 4) * rnd) >> 32);
    return d - jitter;
}

int64_t backoff_on_crash(struct backoff *b, const struct backoff_policy *p, int64_t run_ms,
                         uint32_t rnd)
{
    if (p->stable_after_ms > 0 && run_ms >= p->stable_after_ms)
        backoff_reset(b);
    bool first = b->crashes == 0;
    b->crashes++;
    if (p->start_limit > 0 && b->crashes >= p->start_limit)
        return -1;
    /* The first crash of a worker that had become ready is most likely a
     * one-off (a bug hit by one request, an OOM kill): waiting would only
     * lengthen the outage. The schedule starts with the next crash. */
    if (first && run_ms > 0) {
        b->immediate = true;
        return 0;
    }
    return backoff_delay(p, b->crashes - (b->immediate ? 1 : 0), rnd);
}
