/*
 * util.h — small helpers every program of tenantd uses: bounded string copy,
 * path joining and formatting, reading a whole file, writing a file atomically, mkdir -p,
 * and filling a caller's error buffer.
 *
 * Each function returns 0 or a negative errno and never aborts. None of them
 * logs: the caller knows what the file is for and says so in its own message.
 * What this module does not do: anything that needs libuv, h2o or a config.
 */
#ifndef TENANTD_UTIL_H
#define TENANTD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Copy src into dst (capacity n > 0), always NUL-terminated. Returns 0, or
 * -ENAMETOOLONG when src did not fit (dst then holds the truncated prefix).
 */
int util_strlcpy(char *dst, const char *src, size_t n);

/*
 * Write `base/rel` into buf (capacity n), or `rel` alone when it is absolute
 * or base is empty. A leading "./" of rel and a trailing "/" of base are
 * dropped; "." as rel gives base. Returns 0 or -ENAMETOOLONG.
 */
int util_path_join(char *buf, size_t n, const char *base, const char *rel);

/*
 * Read a whole regular file into a new NUL-terminated buffer (*out, freed by
 * the caller with free()); *len (may be NULL) receives its size without the
 * NUL. Returns 0, -EFBIG when the file is larger than max bytes, -EINVAL when
 * it is not a regular file, or the errno of open/read.
 */
int util_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Replace path with data atomically: write "<path>.tmp.<pid>" in the same
 * folder with the given mode, fsync it, rename it over path, fsync the folder.
 * A crash at any point leaves either the old file or the new one, never a
 * mix. Returns 0 or a negative errno (the temporary file is removed).
 */
int util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Create a folder and its missing parents with the given mode (like mkdir -p);
 * folders that exist already are fine. Returns 0 or a negative errno. */
int util_mkdir_p(const char *path, mode_t mode);

/* The same, the missing parents made with parent_mode and the last folder
 * with mode (e.g. 0755 parents others must traverse, a 0700 leaf). This is
 * the one mkdir -p of the tree. Returns 0 or a negative errno (-ENOTDIR when
 * path exists and is not a folder). */
int util_mkdir_p_modes(const char *path, mode_t parent_mode, mode_t mode);

/* snprintf into a fixed buffer for a path: -ENAMETOOLONG instead of a silent
 * cut, else 0. The one path formatter of the tree. */
int util_path_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The folder of the running program (from /proc/self/exe), where the programs
 * installed beside it live. Returns 0 or -errno. */
int util_self_dir(char *buf, size_t n);

/* Format a one-sentence error into err (capacity errlen). Does nothing when
 * err is NULL or errlen is 0, so optional error buffers need no checks. */
void util_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A mail address safe to put into a header and an SMTP envelope as it is:
 * one '@' with text on both sides, 3 to 200 bytes, no space, control or
 * non-ASCII byte, no quote, angle bracket, comma, colon, semicolon,
 * parenthesis, bracket or backslash. NULL is not one. (Addresses the
 * configuration takes are checked more strictly, config_keys.c.) */
bool util_mail_address_ok(const char *s);

#endif
