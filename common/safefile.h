/*
 * safefile.h — reading and opening files in space another uid can write (a
 * tenant's data dir, its backups folder), without being led elsewhere or
 * stalled: the last component is never followed (O_NOFOLLOW), the open never
 * blocks (O_NONBLOCK: a FIFO or a device put where a file belongs would
 * otherwise hang the reader until someone writes), the result must be a
 * regular file (fstat), and a read is capped. Callers work relative to a
 * folder fd they opened the same way, so a folder swapped for a symlink
 * after the open cannot redirect them.
 *
 * Every function returns 0 (or an fd) or a negative errno: -ELOOP for a
 * symlink, -EINVAL for something that is not a regular file (or not a
 * folder), -EFBIG over the cap.
 */
#ifndef TENANTD_SAFEFILE_H
#define TENANTD_SAFEFILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Open name (relative to dirfd, or AT_FDCWD with a path) read-only as a
 * regular file; st (may be NULL) receives its fstat. The fd is blocking
 * again on return (O_NONBLOCK means nothing for a regular file anyway). */
int safefile_open_regular(int dirfd, const char *name, struct stat *st);

/* Open a folder without following a symlink at its last component. */
int safefile_open_dir(int dirfd, const char *name);

/* Read a whole regular file of at most max bytes into a new NUL-terminated
 * buffer (*out, freed with free()); *len (may be NULL) its size. */
int safefile_read(int dirfd, const char *name, size_t max, char **out, size_t *len);

/* A short English reason for the errors above ("it is a symlink", ...). */
const char *safefile_strerror(int err);

#endif
