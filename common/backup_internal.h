/*
 * backup_internal.h — what the files of the backup module share, and what no
 * other file includes. The contract with the rest of tenantd is backup.h.
 *
 * The module, by file:
 *   backup.c          creating a backup: the SQLite online copy, the manifest
 *                     (row counts, schema version, SHA-256), the renames
 *   backup_list.c     backup names, listing a folder, pruning
 *   backup_restore.c  verifying a backup, restoring it, undoing a restore
 *   backup_file.c     the file steps they share: names, fsync, ownership and
 *                     mode, SHA-256 of a file, a hashed copy, time stamps,
 *                     SQLite result codes as errno
 */
#ifndef TENANTD_BACKUP_INTERNAL_H
#define TENANTD_BACKUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

/* A database's side files, which move and go with it. */
#define SIDE_FILES 3
extern const char *const backup_side_suffix[SIDE_FILES];

/* The last component of a path. */
const char *backup_base_name(const char *path);
/* The folder of a path ("." or "/" at the ends). */
int backup_dir_of(const char *path, char *buf, size_t n);
/* A rename or an unlink is durable only once its folder is synced. */
int backup_fsync_dir(const char *dir);
int backup_fsync_path(const char *path);
/* The tenant's ownership (when root) and an exact mode. */
int backup_set_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode);
/* The SHA-256 of a buffer as 64 hex digits. */
int backup_sha256_buf(const void *buf, size_t len, char hex[65]);
/* The SHA-256 of a file as 64 hex digits, and its size. */
int backup_sha256_file(const char *path, char hex[65], int64_t *size);
/* Copy src into a new file dst (which must not exist), hashing what was
 * copied, then fsync it; dst is removed on failure. */
int backup_copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, mode_t mode,
                     char hex[65]);
/* yyyymmddThhmmssZ (file names) and yyyy-mm-ddThh:mm:ssZ (manifests), UTC. */
void backup_utc_stamp(time_t t, char buf[32]);
void backup_iso_time(time_t t, char buf[32]);
/* An SQLite result code as a negative errno. */
int backup_sqlite_errno(int rc);
/* The manifest of a backup: "<name>.db" or "<name>.pgdump" -> "<name>.json". */
int backup_manifest_path(const char *db, char *buf, size_t n);

/* The backups folder dir: created 0700 when missing, owned uid:gid, a
 * symlink or another file there refused; an open fd of it or -errno (err
 * says why). backup.c. */
int backup_prepare_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Manifests are a few hundred bytes; anything past this is not one. */
#define BACKUP_MANIFEST_MAX (1024 * 1024)
/* Parse the manifest name (relative to folder fd dfd, or AT_FDCWD and a
 * path) without following a symlink or blocking on a FIFO, at most
 * BACKUP_MANIFEST_MAX bytes. NULL with the reason in why when it cannot. */
json_t *backup_manifest_load(int dfd, const char *name, char *why, size_t n);

#endif
