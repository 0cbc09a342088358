/*
 * worker_main.c — tenant-worker: the firm's application, one process per
 * tenant (DESIGN.md "The worker: the firm's application").
 *
 *   tenant-worker                        serve (environment: env.h)
 *
 * Start-up order: environment, libsodium, database (migrated), pages, then
 * the HTTP server; any failure before serving is a configuration problem of this tenant and exits
 * 78 (EX_CONFIG) so the supervisor does not restart in a loop, except an unusable database file
 * (exit 1: a crash-like failure the supervisor retries with backoff).
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "env.h"
#include "http.h"
#include "log.h"
#include "pages.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tenant-worker\n"
               "Serves one tenant; settings come from the environment (CLIENT_ID, DATA_DIR,\n"
               "SECRET_KEY, PORT or LISTEN_FDS, ...). Exit 78 on a configuration error.\n");
}

int main(int argc, char **argv)
{
    struct wenv env;
    sqlite3 *db = NULL;
    char err[512];
    int r, status = WENV_EXIT_CONFIG;

    log_set_prefix("tenant-worker");
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    } else if (argc != 1) {
        usage(stderr);
        return 64; /* EX_USAGE */
    }
    /* Writes to a closed connection must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* One password hash at a time: at the default cost each takes 64 MiB,
     * and a plan's memory limit may be 128 MiB. libuv reads this once. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);

    if (wenv_load(&env, err, sizeof err) < 0) {
        log_error(NULL, "configuration: %s", err);
        return WENV_EXIT_CONFIG;
    }
    if (sodium_init() < 0) {
        log_error(env.client_id, "libsodium failed to initialise");
        status = 1;
        goto out;
    }
    r = db_open(&env, &db, err, sizeof err);
    if (r < 0) {
        log_error(env.client_id, "database: %s", err);
        status = r == -EINVAL ? WENV_EXIT_CONFIG : 1;
        goto out;
    }
    if (pages_init(&env, err, sizeof err) < 0) {
        log_error(env.client_id, "templates: %s", err);
        goto out;
    }
    r = http_run(&env, db);
    status = r == 0 ? 0 : r == -EINVAL ? WENV_EXIT_CONFIG : 1;

out:
    pages_free();
    db_close(db);
    wenv_free(&env);
    return status;
}
