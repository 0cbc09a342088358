/*
 * pg_admin.h — tenantd's administrative work on the PostgreSQL server of
 * tenantd.ini's [postgresql] (docs/database.md): provisioning a tenant's
 * database and owner role, dropping them, dumping and restoring a database,
 * and measuring one. Every job runs Debian's client programs (psql, pg_dump,
 * pg_restore) as children through child.h, so nothing on tenantd's loop ever
 * waits on the server; each job reports once, on the loop.
 *
 * The admin role's password comes from [postgresql] password_file (first
 * line; the file must be a regular file that only its owner can read) and
 * reaches the children in PGPASSWORD, never on a command line. The tenant's
 * generated password reaches psql in a 0600 script under run_dir, removed as
 * soon as psql is done.
 *
 * Provisioning, in order, each step marked on psql's stdout so that a failure
 * drops exactly what this job created and nothing that existed before:
 *   CREATE ROLE <n> LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
 *        CONNECTION LIMIT 64 PASSWORD '...'
 *   CREATE DATABASE <n> OWNER <n> TEMPLATE template0 ENCODING 'UTF8'
 *   REVOKE ALL ON DATABASE <n> FROM PUBLIC  (only its owner may connect)
 * where <n> = pg_tenant_name(id) (common/pg_url.h).
 *
 * What it does not do: decide when (admin_onboard.c, admin_offboard.c,
 * backup and migration do), or speak libpq itself.
 */
#ifndef TENANTD_PG_ADMIN_H
#define TENANTD_PG_ADMIN_H

#include <stddef.h>

#include <uv.h>

#include "config.h"

/* Called once on the loop: rc 0, or a negative errno with a sentence in
 * `error` (psql's or pg_dump's own message when there is one). */
typedef void (*pg_admin_done_fn)(void *arg, int rc, const char *error);

/* Check [postgresql] password_file for `tenantd -n`: it exists, is a regular
 * file, is not readable by group or others, and is not empty. Adds one line
 * to *d per problem. Does nothing when no server is configured. */
void pg_admin_check_config(const struct config_global *g, struct config_diag *d);

/* A new password for a tenant role: 32 hex digits of getrandom(). */
void pg_admin_new_password(char out[33]);

/* Write <data_dir>/.pgpass (0600, a fresh file; owned by uid:gid when
 * chown_it) with the tenant's line. Returns 0 or -errno. */
int pg_admin_write_pgpass(const char *data_dir, const char *id, const char *password, bool chown_it,
                          uid_t uid, gid_t gid);

/* Give an existing <data_dir>/.pgpass to the tenant (its uid changes only
 * once, when first started as root). Never follows a symlink nor opens
 * anything but a regular file. 0 when there is none. */
int pg_admin_chown_pgpass(const char *data_dir, uid_t uid, gid_t gid);

/* The folder of [postgresql] url's unix socket when tenant t must reach it
 * (a PostgreSQL tenant, a socket folder that exists), else NULL: the jail
 * exposes it (--expose), so a folder under /tmp or behind a 0700 one
 * works. */
const char *pg_admin_expose(const struct config_global *g, const struct config_tenant *t);

/* Create the tenant's role and database (see above). */
int pg_admin_provision(uv_loop_t *loop, const struct config_global *g, const char *id,
                       const char *password, pg_admin_done_fn done, void *arg, char *err,
                       size_t errlen);

/* Drop the tenant's database (terminating its sessions) and its role. */
int pg_admin_drop(uv_loop_t *loop, const struct config_global *g, const char *id,
                  pg_admin_done_fn done, void *arg, char *err, size_t errlen);

/* pg_dump -Fc of the tenant's database into `out` (created 0600). */
int pg_admin_dump(uv_loop_t *loop, const struct config_global *g, const char *id, const char *out,
                  pg_admin_done_fn done, void *arg, char *err, size_t errlen);

#endif
