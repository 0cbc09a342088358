/*
 * admin_state.h — the admin surface's persistent state in <run_dir>/state.db:
 * operators' desired states and the audit log (see admin_state.c). Internal to
 * the admin files; the supervisor uses admin_desired_state() from admin.h.
 * Every function runs on the loop thread and blocks briefly on SQLite.
 */
#ifndef TENANTD_ADMIN_STATE_H
#define TENANTD_ADMIN_STATE_H

#include <jansson.h>
#include <sqlite3.h>

#include "admin.h"
#include "config.h"

struct admin_state;

/* Open (creating, mode 0600) <run_dir>/state.db. */
int admin_state_open(const char *run_dir, struct admin_state **out, char *err, size_t errlen);
void admin_state_close(struct admin_state *st);

/* Record "stopped" or "suspended" for a tenant, or clear it (state NULL). */
int admin_state_set_desired(struct admin_state *st, const char *id, const char *state,
                            const char *who);
/* "stopped", "suspended" or NULL (wanted up). The string is static. */
const char *admin_state_get_desired(struct admin_state *st, const char *id);
/* Call fn for every recorded desired state, in tenant order. */
int admin_state_each_desired(struct admin_state *st,
                             void (*fn)(const char *id, const char *state, void *arg), void *arg);

/* Append one line to the audit log: who ("uid:N" or "token"), action
 * ("stop", "onboard"...), tenant ("" for daemon-wide), result ("ok" or the
 * error). Failures are logged, never fatal. */
int admin_state_audit(struct admin_state *st, const char *who, const char *action,
                      const char *tenant, const char *result);

/* The newest `limit` audit rows, newest first, as a JSON array of
 * {id, time, who, action, tenant, result}. */
json_t *admin_state_events(struct admin_state *st, int limit);

/* The database itself, for the tables other admin files keep there
 * (admin_billing.c's usage_monthly). */
sqlite3 *admin_state_db(struct admin_state *st);

#endif
