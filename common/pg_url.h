/*
 * pg_url.h — the PostgreSQL side of a tenant's configuration, as pure logic:
 * parsing tenantd.ini's [postgresql] url (a libpq URI naming the server and
 * the administrative role), the names of a tenant's database and role, its
 * POSTGRESQL_URL, and the line of its .pgpass file.
 *
 * A tenant's database and its owner role share one name, "tenant_<id>" with
 * every '-' of the id turned into '_' (ids never hold '_', so two ids never
 * share a name). Being equal, pg_hba.conf's `sameuser` keyword can also pin
 * each role to its own database.
 *
 * What it does not do: any I/O, or talk to a server (supervisor/tenantd/pg_admin.c).
 */
#ifndef TENANTD_PG_URL_H
#define TENANTD_PG_URL_H

#include <stdbool.h>
#include <stddef.h>

#define PG_NAME_MAX 64 /* PostgreSQL's NAMEDATALEN */
#define PG_HOST_MAX 254
#define PG_SOCKDIR_MAX 256

struct pg_server {
    char user[PG_NAME_MAX];       /* the administrative role ("" = libpq's default) */
    char host[PG_HOST_MAX];       /* a TCP host; "" when sockdir is set */
    char sockdir[PG_SOCKDIR_MAX]; /* ?host=/dir: the server's unix socket folder */
    int port;                     /* 5432 by default */
    char dbname[PG_NAME_MAX];     /* the database the admin role connects to */
};

/*
 * Parse `postgresql://[user@]host[:port][/dbname]` or
 * `postgresql://[user@][:port]/dbname?host=/socket/dir` (also `postgres://`).
 * A password in the URI is refused (it belongs in password_file), as is any
 * query parameter but `host`. Returns 0, or -EINVAL with a sentence in err
 * that names what is wrong.
 */
int pg_url_parse(const char *url, struct pg_server *out, char *err, size_t errlen);

/* "tenant_<id>", '-' as '_'. Returns snprintf-style length. */
int pg_tenant_name(const char *id, char *buf, size_t n);

/* The worker's POSTGRESQL_URL: postgresql://<role>@<host>:<port>/<db>, or
 * postgresql://<role>@/<db>?host=<dir>&port=<port> for a socket folder. */
int pg_tenant_url(const struct pg_server *s, const char *id, char *buf, size_t n);

/* The tenant's .pgpass line (libpq's format), for any host and port:
 * "*:*:<db>:<role>:<password>\n". The password is tenantd's hex. */
int pg_pgpass_line(const char *id, const char *password, char *buf, size_t n);

/* The psql script that provisions a tenant (pg_admin.h has the why): its
 * role (with `password`, hex), the admin role's membership in it, its
 * database, and no CONNECT for PUBLIC, each step followed by an "\echo
 * step:<what>" marker, so that a failure can undo exactly what was done.
 * Returns snprintf-style length. */
int pg_provision_script(const char *id, const char *password, char *buf, size_t n);

/* Is `s` a safe identifier to put between double quotes in SQL: [a-z0-9_]+,
 * at most 63 bytes, not starting with a digit. */
bool pg_name_ok(const char *s);

#endif
