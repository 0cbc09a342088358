/*
 * pgworker.c — a stand-in for tenant-worker in tenantd's PostgreSQL tests
 * (tests/integration/test_pg_tenants.py), until the bundled worker speaks
 * PostgreSQL: it follows the worker contract like miniworker (fd 3, READY=1,
 * GET /healthz, exit 0 on SIGTERM), and its `--create-admin USER`, which
 * tenantd runs under the tenant's uid inside its jail at onboarding, uses the
 * real psql with the environment tenantd gave it (DATABASE_TYPE,
 * POSTGRESQL_URL, PGPASSFILE): it creates the table firm_users in the
 * tenant's database and inserts USER, then prints "password: <random>".
 * So an onboarding only succeeds when the tenant can reach its own database
 * from its jail with the password tenantd wrote for it.
 *
 * When DATABASE_TYPE=postgresql it also runs `psql -c "SELECT 1"` before
 * READY=1, so a tenant is only running when its worker, inside its whole
 * jail (network rules included), reaches its database.
 *
 * Test knob: a CLIENT_NAME containing "fail-admin" makes --create-admin
 * fail (exit 1), to test the rollback after provisioning.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_worker.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* psql -c sql on POSTGRESQL_URL with the tenant's PGPASSFILE; its exit status. */
static int run_psql(const char *sql)
{
    const char *url = getenv("POSTGRESQL_URL");
    if (!url || !getenv("PGPASSFILE")) {
        fprintf(stderr, "pgworker: POSTGRESQL_URL or PGPASSFILE missing\n");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        execlp("psql", "psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql,
               (char *)NULL);
        fprintf(stderr, "pgworker: psql: %s\n", strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int create_admin(const char *user)
{
    const char *type = getenv("DATABASE_TYPE"), *name = getenv("CLIENT_NAME");
    if (name && strstr(name, "fail-admin")) {
        fprintf(stderr, "pgworker: --create-admin fails on purpose (fail-admin)\n");
        return 1;
    }
    for (const char *p = user; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) {
            fprintf(stderr, "pgworker: bad user name\n");
            return 2;
        }
    if (type && strcmp(type, "postgresql") == 0) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS firm_users (name text PRIMARY KEY);"
                 "INSERT INTO firm_users VALUES ('%s')",
                 user);
        if (run_psql(sql) != 0) {
            fprintf(stderr, "pgworker: psql failed\n");
            return 1;
        }
    }
    printf("password: pgworker-%d\n", (int)getpid());
    return 0;
}

static void serve(int c)
{
    char req[4096], body[128];
    if (hw_read_head(c, req, sizeof req, 2000) < 0)
        return;
    int status = 200;
    if (strncmp(req, "GET /healthz ", 13) == 0)
        snprintf(body, sizeof body, "ok\n");
    else if (strncmp(req, "GET / ", 6) == 0)
        snprintf(body, sizeof body, "pid=%d\n", (int)getpid());
    else
        status = 404, snprintf(body, sizeof body, "not found\n");
    hw_respond(c, status, "text/plain", body);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--create-admin") == 0)
        return create_admin(argv[2]);
    /* A PostgreSQL tenant's worker reaches its database from its jail (its
     * network rules included) before it says it is ready. */
    const char *type = getenv("DATABASE_TYPE");
    if (type && strcmp(type, "postgresql") == 0 && run_psql("SELECT 1") != 0) {
        fprintf(stderr, "pgworker: cannot reach the database\n");
        return 1;
    }
    hw_catch_term(on_term);
    int fd = hw_listen_socket(128);
    if (fd < 0) {
        fprintf(stderr, "pgworker: no socket\n");
        return 1;
    }
    hw_notify("READY=1\nSTATUS=serving", "pgworker");
    while (!stop) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        serve(c);
        close(c);
    }
    return 0;
}
