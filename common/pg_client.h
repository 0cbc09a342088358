/*
 * pg_client.h — running PostgreSQL's client programs (psql, pg_dump,
 * pg_restore) against tenantd.ini's [postgresql] server, blocking: for
 * tenantd's thread pool (scheduled backups) and for tenantctl (backup,
 * restore). tenantd's loop never calls these; it uses pg_admin.h.
 *
 * The admin role's password is read from [postgresql] password_file (its
 * first line; the file must be a regular file that group and others cannot
 * read) and passed in PGPASSWORD, never on a command line.
 */
#ifndef TENANTD_PG_CLIENT_H
#define TENANTD_PG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define PG_PASSWORD_MAX 256

/* Read the password file. 0, or -errno with a sentence naming the file. */
int pg_password_read(const char *path, char *out, size_t n, char *err, size_t errlen);

/* What a client needs: the connection options and the environment. */
struct pg_client {
    struct pg_server srv;
    char port[16];
    char pw_env[PG_PASSWORD_MAX + 16];
    char *env[8];
    /* > 0: pg_client_run gives this fd to the child as its stdin (instead of
     * /dev/null) or its stdout (instead of the pipe it reads): a dump
     * written into, or read from, a file the caller opened safely. */
    int stdin_fd, stdout_fd;
};

/* Fill *c for the server srv (tenantd.ini's g->pg; reads password_file,
 * g->pg_password_file). srv->host and srv->sockdir both "" = no server. */
int pg_client_init(struct pg_client *c, const struct pg_server *srv, const char *password_file,
                   char *err, size_t errlen);
/* Wipe the password. */
void pg_client_clear(struct pg_client *c);

/* Append "-h H -p P [-U U] -d DB" to argv at *k. */
void pg_client_conn_args(struct pg_client *c, char **argv, size_t *k, const char *db);

/*
 * Run argv (argv[0] looked up in PATH) with the client's environment, stdin
 * /dev/null, and wait. stdout goes to `out` (capacity outlen, NUL-terminated;
 * the rest is dropped) or, with on_line, line by line to on_line(arg, line)
 * (lines longer than 64 KiB are cut). stderr's last bytes go into the error.
 * Returns 0 when it exited 0; else -EIO with "<argv[0]> failed: <stderr>".
 */
int pg_client_run(struct pg_client *c, char *const *argv, char *out, size_t outlen,
                  void (*on_line)(void *arg, const char *line), void *arg, char *err,
                  size_t errlen);

/* Run one SQL command with psql as the admin role on database db (unaligned,
 * tuples only); its output goes into out. */
int pg_client_sql(struct pg_client *c, const char *db, const char *sql, char *out, size_t outlen,
                  char *err, size_t errlen);

/* Write <data_dir>/.pgpass (0600, a fresh file replacing any; owned by
 * uid:gid when chown_it) with the tenant's line. Returns 0 or -errno. */
int pg_pgpass_write(const char *data_dir, const char *id, const char *password, bool chown_it,
                    uid_t uid, gid_t gid);

#endif
