/*
 * ctl_backup.h — tenantctl's backup commands (DESIGN.md "Admin surface"):
 *
 *   tenantctl backup <id>            back up now: through tenantd (POST
 *                                    /v1/tenants/<id>/backup) when it runs,
 *                                    else directly on the files
 *   tenantctl backups <id>           list the tenant's backups, newest first
 *   tenantctl restore <id> <file>    verify, stop, swap, start, roll back if
 *                                    the worker does not come up ready
 *
 * Each function takes the command's own arguments with argv[0] the command
 * name ("backup", "backups", "restore"), and the global file's path. A
 * "--json" anywhere in argv selects machine-readable output, so the
 * dispatcher may pass its global --json on by appending it. The admin socket
 * is $TENANTD_ADMIN_SOCKET when set, else [admin] socket of the global file.
 * They return an exit code of enum ctl_exit (ctl.h) and print their own
 * messages (stdout for results, stderr for errors).
 */
#ifndef TENANTD_CTL_BACKUP_H
#define TENANTD_CTL_BACKUP_H

#include <stddef.h>

int ctl_backup_cmd(int argc, char **argv, const char *config_path);
int ctl_backups_cmd(int argc, char **argv, const char *config_path);
int ctl_restore_cmd(int argc, char **argv, const char *config_path);

/* ---- ctl_offsite.c: `restore <id> --from-offsite [snapshot]` ------------------ */

struct config_global;

/*
 * Fetch a snapshot of tenant id from [offsite] repository with `restic
 * restore` (snapshot: a hex id or NULL for the latest tagged tenant=<id>)
 * into a temporary folder under <run_dir>/offsite/, and import its backup
 * file and manifest into the tenant's backups folder bdir (backup_import,
 * owner from db). file receives the imported backup's path. 0, or -errno
 * with the reason in err.
 */
int ctl_offsite_fetch(const struct config_global *g, const char *id, const char *snapshot,
                      const char *bdir, const char *db, char *file, size_t n, char *err,
                      size_t errlen);

#endif
