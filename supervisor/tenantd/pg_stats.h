/*
 * pg_stats.h — what tenantd knows of its PostgreSQL tenants' databases, for
 * status and metrics: each database's size (pg_database_size) and how many
 * sessions it has (pg_stat_activity), and whether the server answered.
 *
 * Every [postgresql] stats_every (default 60 s; 0 = never), when tenantd.ini
 * has a server, one psql child (child.h, never on the loop) reads them for
 * every tenant_* database in one query. The last answer is kept; lookups are
 * cheap reads of it.
 *
 * What it does not do: measure SQLite files (their size is a stat away).
 */
#ifndef TENANTD_PG_STATS_H
#define TENANTD_PG_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct sup;
struct pg_stats;

int pg_stats_start(uv_loop_t *loop, struct sup *sup, struct pg_stats **out);
/* Close the timer and kill a running query; frees itself once closed. */
void pg_stats_stop(struct pg_stats *ps);

/* The last sample for tenant id: *state is "ok" (size and connections
 * set), "missing" (the server answered without this database),
 * "unreachable" (the last query failed) or "" (no sample yet, or no server).
 * *size and *conns are -1 when unknown. */
void pg_stats_get(const char *id, int64_t *size, int *conns, const char **state);

#endif
