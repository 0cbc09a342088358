/*
 * dbcopy_cli.c — the two commands tenantd's migration runs (dbcopy.h):
 *
 *   tenant-worker --migrate-copy FROM TO
 *   tenant-worker --db-checksum SRC
 *
 * FROM, TO and SRC are each "sqlite:PATH" or a libpq URI
 * ("postgresql://role@host:port/db"; a password not in it comes from the
 * file PGPASSFILE names, as libpq reads it). Both open their databases as the
 * worker does, so the schema migrations are applied first (a database newer
 * than this program is refused); an SQLite FROM or SRC must exist, an SQLite
 * TO is created; an SQLite path that is a symbolic link is refused. One JSON object goes to stdout:
 *   {"ok":true,"tables":{"<name>":{"rows":N,"sha256":"<hex>"},...}}
 *   {"ok":false,"error":"<sentence>"}
 * Exit status: 0 done; 2 the target holds firm data (nothing written);
 * 1 any other failure (the target rolled back); 64 a usage error. No
 * environment of the worker is needed (CLIENT_ID and the rest are not read).
 */
#include "dbcopy_cli.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbcopy.h"

#define EXIT_NOT_EMPTY 2
#define EXIT_USAGE 64

static int print_result(int ok, const char *error, const struct dbcopy_sum *sums)
{
    json_t *o = ok ? json_pack("{s:b,s:o*}", "ok", 1, "tables", dbcopy_sums_json(sums))
                   : json_pack("{s:b,s:s}", "ok", 0, "error", error);
    char *text = o != NULL ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;

    if (text == NULL) {
        printf("{\"ok\":false,\"error\":\"out of memory\"}\n");
        json_decref(o);
        return -ENOMEM;
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(o);
    return ok ? 0 : -EIO;
}

/* Open "sqlite:PATH" or a postgresql:// URI; what names the argument in err.
 * The text itself is never echoed: a URI may carry a password. */
static int open_spec(const char *what, const char *spec, int create, struct store **out, char *err,
                     size_t errlen)
{
    char sub[400];
    int rc;

    *out = NULL;
    if (strncmp(spec, "sqlite:", 7) == 0) {
        if (spec[7] == '\0') {
            snprintf(err, errlen, "%s: sqlite: needs a path", what);
            return -EINVAL;
        }
        rc = db_open_sqlite(spec + 7, DB_NOFOLLOW | (create ? DB_CREATE : 0), out, sub, sizeof sub);
    } else if (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0) {
        rc = db_open_postgresql(spec, out, sub, sizeof sub);
    } else {
        snprintf(err, errlen, "%s is neither sqlite:PATH nor a postgresql:// URI", what);
        return -EINVAL;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", what, sub);
    return rc;
}

static int usage_error(const char *msg)
{
    print_result(0, msg, NULL);
    fprintf(stderr, "usage: tenant-worker --migrate-copy FROM TO\n"
                    "       tenant-worker --db-checksum SRC\n"
                    "FROM, TO, SRC: sqlite:PATH or postgresql://ROLE@HOST:PORT/DB "
                    "(password from PGPASSFILE)\n");
    return EXIT_USAGE;
}

static int migrate_copy(const char *from_spec, const char *to_spec)
{
    struct store *from = NULL, *to = NULL;
    struct dbcopy_sum sums[DBCOPY_NTABLES];
    char err[768];
    int rc;

    rc = open_spec("FROM", from_spec, 0, &from, err, sizeof err);
    if (rc == 0)
        rc = open_spec("TO", to_spec, 1, &to, err, sizeof err);
    if (rc == 0)
        rc = dbcopy_copy(from, to, sums, err, sizeof err);
    store_close(from);
    store_close(to);
    print_result(rc == 0, err, sums);
    return rc == 0 ? 0 : rc == -ENOTEMPTY ? EXIT_NOT_EMPTY : 1;
}

static int checksum(const char *spec)
{
    struct store *s = NULL;
    struct dbcopy_sum sums[DBCOPY_NTABLES];
    char err[768];
    int rc = open_spec("SRC", spec, 0, &s, err, sizeof err);

    if (rc == 0)
        rc = dbcopy_checksum(s, sums, err, sizeof err);
    store_close(s);
    print_result(rc == 0, err, sums);
    return rc == 0 ? 0 : 1;
}

int dbcopy_cli(int argc, char **argv)
{
    /* A server that goes away mid-copy must fail a write, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        print_result(0, "libsodium failed to initialise", NULL);
        return 1;
    }
    if (strcmp(argv[1], "--migrate-copy") == 0) {
        if (argc != 4)
            return usage_error("--migrate-copy takes FROM and TO");
        return migrate_copy(argv[2], argv[3]);
    }
    if (argc != 3)
        return usage_error("--db-checksum takes SRC");
    return checksum(argv[2]);
}
