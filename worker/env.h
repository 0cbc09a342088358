/*
 * env.h — the tenant's settings from the environment (DESIGN.md "The worker
 * contract"): the seed's variables plus TEMPLATES_DIR, LANGUAGE, TIMEZONE,
 * PASSWORD_COST, the PLAN_* prices and IDLE_AFTER_MS (scale to zero).
 *
 * wenv_load() parses and validates, nothing else: it opens no file beyond a
 * stat() of DATA_DIR, TEMPLATES_DIR and the TIMEZONE's zone file, and it
 * never exits. The caller turns
 * a failure into EXITCODE_CONFIG (exitcode.h), so the supervisor does not
 * restart a worker whose configuration cannot work.
 */
#ifndef TENANT_WORKER_ENV_H
#define TENANT_WORKER_ENV_H

#include <stddef.h>

#include "worker.h"

/*
 * Fill *e from the process environment. Returns 0, or -EINVAL with a sentence
 * naming the variable in err (e.g. "CLIENT_COLOR: \"red\" is not #rrggbb").
 * On failure *e holds nothing to free. On success free it with wenv_free().
 */
int wenv_load(struct wenv *e, char *err, size_t errlen);
void wenv_free(struct wenv *e);

/*
 * Is name a time zone of this system's zone database ($TZDIR or
 * /usr/share/zoneinfo)? 0, or -EINVAL with a sentence in err. The name must
 * look like "Europe/Paris" (no "..", no absolute path).
 */
int wenv_timezone_check(const char *name, char *err, size_t errlen);

/* Make e->timezone the process's local time (TZ + tzset), so localtime_r()
 * gives the firm's calendar. Call once at start-up, before the event loop.
 * 0 or -ENOMEM. */
int wenv_apply_timezone(const struct wenv *e);

/* The argon2id cost named by e->password_cost, for crypto_pwhash_str(). */
void wenv_pwhash_cost(const struct wenv *e, unsigned long long *opslimit, size_t *memlimit);

#endif
