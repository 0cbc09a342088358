/*
 * idle.h — scale to zero (DESIGN.md `idle_after`, state `idle`): while a
 * tenant is idle, no worker runs and tenantd keeps its listening socket and
 * watches it; the first connection that waits in the backlog wakes the
 * tenant (EV_WAKE), and the new worker accepts that very connection.
 *
 * Who decides that a tenant is idle: the worker itself. It gets the period
 * in IDLE_AFTER_MS, exits EXITCODE_IDLE (exitcode.h) after that long without
 * a request (probes do not count) and tenantd records `idle` instead of a
 * crash. A third-party worker that does not implement it simply never idles
 * (docs/operations.md "Scale to zero"): tenantd cannot tell a request from a
 * kept-alive connection on a socket it does not accept on.
 *
 * Everything runs on tenantd's loop thread.
 */
#ifndef TENANTD_IDLE_H
#define TENANTD_IDLE_H

#include <stdbool.h>

struct tenant;

/* True when t may go idle: a valid configuration with idle_after > 0 and a
 * passed socket that tenantd holds on the port it keeps (an `own` worker
 * binds the port itself, so nothing would be left to wake it). Pure. */
bool sup_idle_applies(const struct tenant *t);

/* Watch t's listening socket for a waiting connection; on one, count a
 * wake-up and feed EV_WAKE. 0, or -errno (t->idle stays NULL). */
int sup_idle_watch(struct tenant *t);

/* ACT_PARK: t was booted or added and idle applies: watch its socket and
 * leave it idle without ever starting a worker (a failure to watch starts
 * one). Clears t's hold on tenantd's own READY=1. */
void sup_idle_park(struct tenant *t);

/* Stop watching (the poll handle is closed and freed on the loop); harmless
 * when not watching. */
void sup_idle_unwatch(struct tenant *t);

#endif
