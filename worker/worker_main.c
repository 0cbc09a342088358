/*
 * worker_main.c — tenant-worker: the firm's application, one process per
 * tenant (DESIGN.md "The worker: the firm's application").
 *
 *   tenant-worker                        serve (environment: env.h)
 *   tenant-worker --create-admin <user>  create the firm's first admin, print
 *                                        "username: <u>" and "password: <pw>"
 *   tenant-worker --check-rules <dir> <model>...
 *                                        parse the rule files of <dir> (deadlines,
 *                                        holidays, each analysis model) as the
 *                                        worker would at start-up, print every
 *                                        problem, exit 0 or 1; no environment,
 *                                        no database (tenantctl check runs it)
 *
 * Start-up order: environment, libsodium, database (migrated), rules and
 * pages, then the HTTP server; any failure before serving is a configuration
 * problem of this tenant and exits 78 (EX_CONFIG) so the supervisor does not
 * restart in a loop, except an unusable database file (exit 1: a crash-like
 * failure the supervisor retries with backoff). After IDLE_AFTER_MS without a
 * request it stops like on SIGTERM and exits 112 (EXITCODE_IDLE): scaled to
 * zero, the supervisor starts it again on the next connection.
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "db.h"
#include "env.h"
#include "exitcode.h"
#include "http.h"
#include "log.h"
#include "model.h"
#include "pages.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tenant-worker [--create-admin USERNAME]\n"
               "       tenant-worker --check-rules RULES_DIR MODEL...\n"
               "Serves one tenant; settings come from the environment (CLIENT_ID, DATA_DIR,\n"
               "SECRET_KEY, PORT or LISTEN_FDS, ...). Exit 78 on a configuration error.\n"
               "With IDLE_AFTER_MS=<ms>, exit 112 after that long without a request\n"
               "(GET /healthz does not count).\n");
}

static int create_admin(const struct wenv *env, sqlite3 *db, const char *username)
{
    struct wctx ctx = {.db = db, .env = env, .now = time(NULL), .user = NULL};
    char pw[32], err[256];
    int r = auth_create_admin(&ctx, username, pw, sizeof pw, err, sizeof err);

    if (r < 0) {
        fprintf(stderr, "tenant-worker: --create-admin: %s\n", err);
        return 1;
    }
    printf("username: %s\npassword: %s\n", username, pw);
    sodium_memzero(pw, sizeof pw);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The rule files are the worker's format, so the worker checks them for
 * tenantctl check: the same parsers, the same cross-checks (an analysis
 * rule's deadline type exists; one type's periods never overlap). */
static int check_rules(const char *dir, char **models, int n)
{
    char err[1024];
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (model_init(dir, models[i], err, sizeof err) < 0) {
            fprintf(stderr, "tenant-worker: rules: %s\n", err);
            bad = 1;
        }
    }
    model_shutdown();
    if (!bad)
        printf("%s: the worker's rule files are valid (%d model%s)\n", dir, n, n > 1 ? "s" : "");
    return bad;
}

int main(int argc, char **argv)
{
    const char *admin = NULL;
    struct wenv env;
    sqlite3 *db = NULL;
    char err[512];
    int r, status = EXITCODE_CONFIG;

    log_set_prefix("tenant-worker");
    if (argc >= 4 && strcmp(argv[1], "--check-rules") == 0)
        return check_rules(argv[2], argv + 3, argc - 3);
    if (argc == 3 && strcmp(argv[1], "--create-admin") == 0) {
        admin = argv[2];
    } else if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    } else if (argc != 1) {
        usage(stderr);
        return 64; /* EX_USAGE */
    }
    /* Writes to a closed connection must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* Past RLIMIT_FSIZE (the plan's storage), a write fails with EFBIG instead
     * of killing the worker. */
    signal(SIGXFSZ, SIG_IGN);
    /* One password hash at a time: at the default cost each takes 64 MiB,
     * and a plan's memory limit may be 128 MiB. libuv reads this once. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);

    if (wenv_load(&env, err, sizeof err) < 0) {
        log_error(NULL, "configuration: %s", err);
        return EXITCODE_CONFIG;
    }
    /* Before anything reads the clock: invoice years, billing months and
     * deadlines follow the firm's zone, whatever TZ the launcher passed. */
    if (wenv_apply_timezone(&env) < 0) {
        log_error(env.client_id, "TIMEZONE: cannot set TZ");
        status = 1;
        goto out;
    }
    if (sodium_init() < 0) {
        log_error(env.client_id, "libsodium failed to initialise");
        status = 1;
        goto out;
    }
    r = db_open(&env, &db, err, sizeof err);
    if (r < 0) {
        log_error(env.client_id, "database: %s", err);
        status = r == -EINVAL ? EXITCODE_CONFIG : 1;
        goto out;
    }
    if (auth_init(&env, db) < 0) {
        status = 1;
        goto out;
    }
    if (admin != NULL) {
        status = create_admin(&env, db, admin);
        goto out;
    }
    if (model_init_env(&env, err, sizeof err) < 0) {
        log_error(env.client_id, "rules: %s", err);
        goto out;
    }
    if (pages_init(&env, err, sizeof err) < 0) {
        log_error(env.client_id, "templates: %s", err);
        goto out;
    }
    r = http_run(&env, db);
    status = r == 0 ? 0 : r == HTTP_RUN_IDLE ? EXITCODE_IDLE : r == -EINVAL ? EXITCODE_CONFIG : 1;

out:
    pages_free();
    model_shutdown();
    auth_close();
    db_close(db);
    wenv_free(&env);
    return status;
}
