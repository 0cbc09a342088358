/*
 * spawn_transient.h — telling a shortage from a fault when a worker cannot
 * be started. Out of file descriptors (EMFILE, ENFILE), of processes or
 * memory (EAGAIN, ENOMEM) at a pipe, a socket, the fork or the jail's exec:
 * nothing is wrong with the tenant, and the start is retried after a short,
 * growing delay (capped at TRANSIENT_MAX_MS) that never counts as a crash,
 * so a tenant never ends `failed` because the machine ran short for a while.
 *
 * Pure functions, no I/O; the supervisor's glue is in sup_transient.c.
 */
#ifndef TENANTD_SPAWN_TRANSIENT_H
#define TENANTD_SPAWN_TRANSIENT_H

#include <stdbool.h>
#include <stdint.h>

#define TRANSIENT_MIN_MS 250
#define TRANSIENT_MAX_MS 30000

/* True for the errnos of a shortage (positive errno). */
bool transient_errno(int err);

/* The errno of a shortage named in a jail's status message, 0 when the
 * message names none: spawn.c's own "exec <jail>: errno <N>" (a step between
 * fork and exec, or the exec itself) or a jail step's "<step>: ...: <strerror>"
 * ending with the text of a shortage errno. */
int transient_status_errno(const char *msg);

/* The delay before retry number `tries` (0 for the first): 250 ms doubling
 * up to 30 s, minus up to a quarter of jitter from rnd so that tenants short
 * together do not retry together. */
int64_t transient_delay_ms(int tries, uint32_t rnd);

#endif
