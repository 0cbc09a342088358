/*
 * backup_pg.h — backups of a PostgreSQL tenant's database (docs/backups.md,
 * docs/database.md): the same folder, names, manifest and checks as the
 * SQLite backups of backup.h, with pg_dump's custom format as the copy:
 *     DATA_DIR/backups/<id>-<yyyymmddThhmmssZ>[-n].pgdump   pg_dump -Fc, 0600
 *     DATA_DIR/backups/<id>-<yyyymmddThhmmssZ>[-n].json     its manifest
 * The manifest has format, tenant, created, created_unix, file, size,
 * sha256, "engine": "postgresql", "database", and "tables" {name: rows}.
 * The row counts are read from the dump itself (pg_restore --data-only
 * counts the rows of each table's COPY block), so they describe exactly
 * the snapshot pg_dump took, even while the worker writes.
 *
 * backup_list, backup_prune and backup_parse_name (backup.h) see both kinds.
 *
 * Restore (the worker stopped): pg_restore into a fresh database owned by the
 * tenant's role (as that role, in one transaction), compare every table's
 * row count with the manifest, then swap names: the current database becomes
 * <name>_b<yyyymmddhhmmss> (kept; `aside`), the fresh one takes the tenant's
 * name. backup_pg_unrestore undoes the swap.
 *
 * Blocking (it waits on client programs, pg_client.h): for tenantd's thread
 * pool and for tenantctl. 0 or a negative errno with a sentence in err.
 */
#ifndef TENANTD_BACKUP_PG_H
#define TENANTD_BACKUP_PG_H

#include <stddef.h>

#include "config.h"

int backup_pg_create(const struct pg_server *srv, const char *password_file, const char *tenant_id,
                     const char *backup_dir, char *out_path, size_t n, char *err, size_t errlen);

/* The manifest names this file and tenant, size and SHA-256 match, and
 * pg_restore --list reads the archive. Needs no server. */
int backup_pg_verify(const char *backup_path, const char *tenant_id, char *err, size_t errlen);

int backup_pg_restore(const struct pg_server *srv, const char *password_file, const char *tenant_id,
                      const char *backup_path, char *aside, size_t asidelen, char *err,
                      size_t errlen);

int backup_pg_unrestore(const struct pg_server *srv, const char *password_file,
                        const char *tenant_id, const char *aside, char *err, size_t errlen);

#endif
