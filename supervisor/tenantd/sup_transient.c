/*
 * sup_transient.c — the supervisor's side of a shortage at a worker's start
 * (spawn_transient.h): the tenant is marked for a retry that is not a crash,
 * the shortage is counted (tenantd_spawn_transient_failures_total) and
 * said once in tenantd's log, at the alert level, per episode: a shortage
 * that lasts is one line, not one per tenant and retry.
 */
#include "sup_internal.h"

#include <string.h>

#include "log.h"
#include "spawn_transient.h"

/* An episode ends after this long without a shortage. Longer than the
 * retry cap, so that retries of a shortage that lasts stay one episode. */
#define TRANSIENT_EPISODE_MS (2 * TRANSIENT_MAX_MS)

bool sup_transient_note(struct tenant *t, int err)
{
    if (!transient_errno(err))
        return false;
    struct sup *s = t->s;
    uint64_t now = sup_now_ms(s) + 1; /* 0 means "never" */
    t->transient_err = err;
    s->transient_failures++;
    if (s->transient_last_ms == 0 || now - s->transient_last_ms > TRANSIENT_EPISODE_MS)
        log_msg(LOG_ALERT, NULL,
                "cannot start workers: %s (first: %s); starts are retried within %d s and "
                "never marked failed for this; raise tenantd's open file limit (LimitNOFILE=), "
                "fs.file-max or memory (counted in tenantd_spawn_transient_failures_total)",
                strerror(err), t->id, TRANSIENT_MAX_MS / 1000);
    s->transient_last_ms = now;
    return true;
}
