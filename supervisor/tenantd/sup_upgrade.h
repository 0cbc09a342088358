/*
 * sup_upgrade.h — the supervisor's part of an upgrade of tenantd (upgrade.h):
 * whether one may start now, the tenants' state and fds for the next image,
 * and what the next image does with state it could not give to a tenant.
 * The adoption itself happens inside sup_start (sup_upgrade_adopt, called by
 * sup_reload.c while the first configuration is applied).
 */
#ifndef TENANTD_SUP_UPGRADE_H
#define TENANTD_SUP_UPGRADE_H

#include <stddef.h>

#include <jansson.h>

struct sup;

/* Why an upgrade cannot start now, into why ("" when it can): a tenant in
 * the middle of a start, a stop or an overlapping restart. */
void sup_upgrade_busy(const struct sup *s, char *why, size_t n);
/* state["tenants"] = {id: {...}} with every fd kept (upgrade_keep_fd). */
int sup_upgrade_export(struct sup *s, json_t *state, char *err, size_t n);
/* After sup_start in an adopting image: workers of the state that no tenant
 * took (its file went away meanwhile) are killed and reaped. */
void sup_upgrade_leftovers(struct sup *s);

#endif
