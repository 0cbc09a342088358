/*
 * backup.h — per-tenant backups of a worker's SQLite database: create a
 * consistent online copy with its manifest, list, prune, verify, restore.
 *
 * A backup of tenant <id> is two files in that tenant's own backups folder
 * (DATA_DIR/backups, mode 0700; backups of different tenants never share a
 * folder):
 *     <id>-<yyyymmddThhmmssZ>.db     the copy, a self-contained SQLite file
 *                                    (rollback-journal mode, no -wal beside it)
 *     <id>-<yyyymmddThhmmssZ>.json   its manifest: format, tenant, created,
 *                                    file, size, sha256, schema_version
 *                                    (PRAGMA user_version), sqlite_version,
 *                                    tables {name: row count}
 * Two backups within one second get a "-<n>" suffix after the time
 * (<id>-<time>-2.db). Files are 0600; when running as root, the folder and
 * files are chowned to the owner of the database file, so the tenant's uid
 * owns everything under its data dir.
 *
 * The copy is made with SQLite's online backup API from inside one read
 * transaction on the source: in WAL mode the worker keeps writing while the
 * copy runs, and the copy holds exactly the transactions committed before the
 * backup started. It is written to a temporary name, fsynced, renamed, and the
 * folder fsynced, so a crash leaves either no backup or a whole one; a .db
 * without its .json is an unfinished backup and fails verification.
 *
 * Everything here is blocking file and SQLite I/O with no global state: it is
 * safe to call from a thread pool (tenantd runs it through uv_queue_work) and
 * from tenantctl directly. Nothing here knows about libuv, h2o or the config.
 * Every function returns 0 or a negative errno and, on failure, writes one
 * sentence into err (err may be NULL when errlen is 0).
 */
#ifndef TENANTD_BACKUP_H
#define TENANTD_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BACKUP_FORMAT 1

/* One backup found in a folder, as backup_list reports it. */
struct backup_info {
    char path[4096];       /* the .db file */
    char name[128];        /* its base name */
    time_t created;        /* from the file name (UTC) */
    int seq;               /* 0, or the "-<n>" suffix */
    int64_t size;          /* of the .db file, from stat */
    int has_manifest;      /* 1 when the .json exists and parses */
    int64_t manifest_size; /* what the manifest says, -1 when unknown */
    int schema_version;    /* from the manifest, -1 when unknown */
    char sha256[65];       /* from the manifest, "" when unknown */
};

/*
 * Copy the database db_path of tenant_id into backup_dir (created 0700 when
 * missing) as described above. On success out_path (capacity n) receives the
 * path of the new .db file. Busy and locked answers from SQLite are retried
 * for a bounded time (about 30 s in all), then -EBUSY. -ENOENT when the
 * database does not exist (a tenant that never ran has nothing to back up).
 */
int backup_create(const char *db_path, const char *backup_dir, const char *tenant_id,
                  char *out_path, size_t n, char *err, size_t errlen);

/*
 * List the backups of tenant_id in backup_dir, newest first. Only file names
 * of exactly the form above for this tenant count; anything else in the folder
 * is ignored. *out is a new array the caller frees with free() (NULL when
 * empty); *count its length. A missing folder is an empty list.
 */
int backup_list(const char *backup_dir, const char *tenant_id, struct backup_info **out,
                size_t *count, char *err, size_t errlen);

/*
 * Keep the newest `keep` backups of tenant_id in backup_dir and delete the
 * others (their .db and .json). keep < 1 is treated as 1: pruning never
 * deletes the last backup. *removed (may be NULL) receives how many were
 * deleted.
 */
int backup_prune(const char *backup_dir, const char *tenant_id, int keep, int *removed, char *err,
                 size_t errlen);

/*
 * Check one backup: its manifest (<same name>.json) exists and names this
 * file and tenant_id, the size and the SHA-256 of the file match the
 * manifest, and `PRAGMA integrity_check` answers ok. -EINVAL with the reason
 * ("checksum mismatch ...", "belongs to tenant ...", ...) when it does not.
 */
int backup_verify(const char *backup_path, const char *tenant_id, char *err, size_t errlen);

/*
 * Replace the database db_path of tenant_id with a verified copy of
 * backup_path. The worker must be stopped: when a process still has the
 * database open, -EBUSY and nothing changes. The current database and its
 * -wal/-shm files are renamed to <db_path>.before-restore-<time> (and
 * ...-wal, ...-shm), whose path goes into aside (capacity asidelen; "" when
 * there was no database); then the copy, written to a temporary name and
 * fsynced, is renamed into place owned by the folder's owner (the tenant),
 * with the mode of the regular file it replaces (0600 without one). On any
 * failure the previous files are put back.
 */
int backup_restore(const char *db_path, const char *backup_path, const char *tenant_id, char *aside,
                   size_t asidelen, char *err, size_t errlen);

/*
 * Undo a restore: the database now at db_path (and its -wal/-shm) is moved
 * to <db_path>.failed-restore-<time>, and the files set aside by
 * backup_restore (aside, as it returned it) are renamed back into place.
 * With an empty aside, the restored database is only moved away. The worker
 * must be stopped (-EBUSY otherwise).
 */
int backup_unrestore(const char *db_path, const char *aside, char *err, size_t errlen);

/*
 * Put a backup fetched from elsewhere (an off-site copy) into backup_dir:
 * src is a backup file (<id>-<time>[-n].db or .pgdump) with its manifest
 * beside it. Both are copied under their own names through one fd of the
 * folder (created 0700 when missing; a symlink there is refused), opened
 * O_EXCL|O_NOFOLLOW, fsynced, 0600, owned like lstat(owner_path) when root
 * (the tenant's database; tenantd's user when absent), the manifest last. A
 * file of that name already there with the same bytes is kept; with other
 * bytes, -EEXIST and a sentence. out receives the path in backup_dir. The
 * caller verifies the result (backup_verify) before restoring it.
 */
int backup_import(const char *src, const char *backup_dir, const char *owner_path, char *out,
                  size_t n, char *err, size_t errlen);

/*
 * True (1) when some process holds the SQLite database at db_path open
 * (a POSIX lock on the database or on its -shm file), 0 when not, or a
 * negative errno. Used to refuse a restore under a running worker.
 */
int backup_db_in_use(const char *db_path);

/*
 * Parse a backup file name of tenant_id ("<id>-<time>[-<n>].db"); returns 1
 * and fills *created and *seq when it is one, 0 otherwise. Pure.
 */
int backup_parse_name(const char *name, const char *tenant_id, time_t *created, int *seq);

#endif
