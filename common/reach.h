/*
 * reach.h — can a tenant's worker open the files it needs? The checks behind
 * `tenantd -n` and `tenantctl check` for the program each tenant runs (and the
 * interpreter a script names on its "#!" line) and, for the bundled worker,
 * its templates and rule files.
 *
 * Run as root, tenantd starts every worker under a uid of its own, with no
 * supplementary groups, so what counts is the "other" permission bits: a
 * program that only its owner may execute, or a rules file a umask of 077
 * left at 0600, will fail inside the jail however the folders on the way are
 * set, and says so here, before any start. The folders on the way do not
 * count: the jail binds what the worker needs back into its view when a
 * folder blocks it (tenant-jail --expose). Not root, the worker runs as the
 * current user, and access(2) decides.
 *
 * What it does not do: change any mode, or check what the worker will find
 * at run time (its data dir is tenantd's to create).
 */
#ifndef TENANTD_REACH_H
#define TENANTD_REACH_H

#include <stdbool.h>

#include "config.h"

/*
 * Add one line to d per tenant and per path its worker could not open:
 *   tenants.d/dupont.ini: [worker] command: /opt/app/run: the tenant's uid
 *   cannot execute it (mode 0700, owner uid 0)
 * self_dir is where the bundled programs are installed (tenantd's folder);
 * as_root says whether workers run under their own uids.
 */
void reach_check_tenants(const struct config *c, const char *self_dir, bool as_root,
                         struct config_diag *d);

/* The program a tenant runs: [worker] command, else [tenantd] worker, else
 * <self_dir>/tenant-worker. Returns snprintf-style length. */
int reach_worker_program(const struct config_global *g, const struct config_tenant *t,
                         const char *self_dir, char *buf, size_t n);

/* Whether a user with no rights of its own (nginx's workers run as nobody)
 * may search every existing folder above path. When not, the first folder
 * that stops it is copied into blocked. */
bool reach_others_can_walk_to(const char *path, char *blocked, size_t n);

#endif
