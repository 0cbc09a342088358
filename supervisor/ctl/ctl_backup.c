/*
 * ctl_backup.c — `tenantctl backup`, `backups` and `restore` (see
 * ctl_backup.h). The copies, checks and swaps are common/backup.c; this file
 * is the operator's sequence around them:
 *
 *   backup:  ask tenantd, which runs it off its loop and logs it; when tenantd
 *            is not running, copy directly (the copy is safe under a worker
 *            anyway, so this is never a risk to the data).
 *   restore: verify the file (checksum, integrity, same tenant) before
 *            touching anything -> stop the tenant and wait until its worker
 *            is gone -> swap, keeping the current database aside -> start and
 *            wait until running -> if it does not come up, stop, put the
 *            previous database back, start again, and fail with the reason.
 *
 * Waiting is GET /v1/tenants/<id>?wait=<states> (ctl_wait.c), answered by
 * tenantd on the state change, with a deadline derived from the [supervise]
 * timings: nothing polls.
 */
#include "ctl_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "backup_pg.h"
#include "config.h"
#include "ctl_cmd.h"
#include "safefile.h"

/* A backup of a large database can take a while; tenantd answers when done. */
#define BACKUP_TIMEOUT_MS (10 * 60 * 1000)
#define REQUEST_TIMEOUT_MS 30000

struct bctx {
    const char *cmd;
    const char *config_path;
    bool json;
    struct config_global *g;
    char socket_path[CONFIG_PATH_MAX];
    char id[CONFIG_ID_MAX];
    char data_dir[CONFIG_PATH_MAX];
    char db[CONFIG_PATH_MAX];
    char bdir[CONFIG_PATH_MAX];
};

static void say_error(const struct bctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say_error(const struct bctx *c, const char *fmt, ...)
{
    char raw[2048], clean[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* Messages may quote file contents or API answers: never raw to a tty. */
    ctl_sanitize(raw, clean, sizeof(clean));
    fprintf(stderr, "tenantctl %s: %s\n", c->cmd, clean);
}

/* Split argv into positional arguments and --json; anything else that looks
 * like an option is a usage error. */
static int parse_args(struct bctx *c, int argc, char **argv, const char **pos, int npos,
                      const char *usage)
{
    int n = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            c->json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "tenantctl %s: unknown option %s\nusage: tenantctl %s\n", c->cmd,
                    argv[i], usage);
            return CTL_EXIT_USAGE;
        } else if (n < npos) {
            pos[n++] = argv[i];
        } else {
            fprintf(stderr, "tenantctl %s: too many arguments\nusage: tenantctl %s\n", c->cmd,
                    usage);
            return CTL_EXIT_USAGE;
        }
    }
    if (n != npos) {
        fprintf(stderr, "usage: tenantctl %s\n", usage);
        return CTL_EXIT_USAGE;
    }
    return 0;
}

static int load(struct bctx *c, const char *id)
{
    struct config_diag d = {0};
    const char *e;
    int r;

    if (!config_valid_id(id)) {
        char clean[128];
        ctl_sanitize(id, clean, sizeof(clean));
        fprintf(stderr, "tenantctl %s: \"%s\" is not a valid tenant id\n", c->cmd, clean);
        return CTL_EXIT_USAGE;
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->g = calloc(1, sizeof(*c->g));
    if (c->g == NULL) {
        say_error(c, "out of memory");
        return CTL_EXIT_ERROR;
    }
    r = config_load_global(c->config_path, c->g, &d);
    if (r != 0) {
        char *msg = config_diag_join(&d);
        say_error(c, "%s: cannot read the configuration: %s", c->config_path, msg ? msg : "");
        free(msg);
        config_diag_clear(&d);
        return CTL_EXIT_ERROR;
    }
    config_diag_clear(&d);
    e = getenv("TENANTD_ADMIN_SOCKET");
    snprintf(c->socket_path, sizeof(c->socket_path), "%s", e && *e ? e : c->g->admin_socket);
    r = config_tenant_data_dir(c->g, id, c->data_dir, sizeof(c->data_dir));
    if (r < 0 || (size_t)r >= sizeof(c->data_dir) ||
        snprintf(c->db, sizeof(c->db), "%s/%s.db", c->data_dir, id) >= (int)sizeof(c->db) ||
        snprintf(c->bdir, sizeof(c->bdir), "%s/backups", c->data_dir) >= (int)sizeof(c->bdir)) {
        say_error(c, "data folder path too long");
        return CTL_EXIT_ERROR;
    }
    return 0;
}

/* The tenant exists on disk: its file in tenants_dir, or its data folder. */
static bool tenant_known_offline(const struct bctx *c)
{
    char f[CONFIG_PATH_MAX + 40];

    snprintf(f, sizeof(f), "%s/%s.ini", c->g->tenants_dir, c->id);
    return access(f, F_OK) == 0 || access(c->data_dir, F_OK) == 0;
}

/* Does the tenant keep its data in PostgreSQL ([database] type)? Read from
 * its file; a tenant whose file cannot be read is taken as SQLite. */
static bool tenant_is_pg(const struct bctx *c)
{
    char f[CONFIG_PATH_MAX + 40];
    struct config_diag d = {0};
    struct config_plans *plans = calloc(1, sizeof(*plans));
    struct config_tenant *t = calloc(1, sizeof(*t));
    bool pg = false;

    snprintf(f, sizeof(f), "%s/%s.ini", c->g->tenants_dir, c->id);
    if (plans != NULL && t != NULL && config_load_plans(c->g, plans, &d) == 0 &&
        config_load_tenant(c->g, plans, f, t, &d) == 0)
        pg = t->database == DB_POSTGRESQL;
    config_diag_clear(&d);
    free(plans);
    free(t);
    return pg;
}

static bool is_pgdump(const char *path)
{
    size_t n = strlen(path);
    return n > 7 && strcmp(path + n - 7, ".pgdump") == 0;
}

static bool unreachable(int rc)
{
    return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR;
}

/* One request; *status receives the HTTP status and *body the parsed JSON
 * (NULL when not JSON). Returns 0 or the transport's -errno. */
static int api(struct bctx *c, const char *method, const char *path, int timeout_ms, int *status,
               json_t **body, char *err, size_t errlen)
{
    struct ctl_response r = {0};
    int rc;

    *body = NULL;
    rc = ctl_http(c->socket_path, method, path, NULL, 0, timeout_ms, &r, err, errlen);
    if (rc < 0)
        return rc;
    *status = r.status;
    *body = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    ctl_response_free(&r);
    return 0;
}

/* "error: detail" of an API error body. */
static void api_message(const json_t *j, int status, char *buf, size_t n)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    const char *d = json_string_value(json_object_get(j, "detail"));

    snprintf(buf, n, "%s%s%s (HTTP %d)", e ? e : "request failed", d ? ": " : "", d ? d : "",
             status);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));

    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

/* The manifest of a backup .db, or NULL. */
static json_t *manifest_of(const char *db)
{
    char m[PATH_MAX];
    size_t len = strlen(db);

    if (len < 3 || len + 3 >= sizeof(m))
        return NULL;
    snprintf(m, sizeof(m), "%.*s.json", (int)(len - 3), db);
    /* The backups folder is the tenant's: no symlink, no FIFO, bounded. */
    char *text = NULL;
    size_t n = 0;
    if (safefile_read(AT_FDCWD, m, 1024 * 1024, &text, &n) < 0)
        return NULL;
    json_t *j = json_loadb(text, n, 0, NULL);
    free(text);
    return j;
}

static int report_backup(struct bctx *c, const char *path, const char *how)
{
    json_t *m = manifest_of(path);
    json_int_t size = json_integer_value(json_object_get(m, "size"));
    const char *sha = json_string_value(json_object_get(m, "sha256"));

    if (c->json) {
        print_json(json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", c->id, "path", path, "size", size,
                             "sha256", sha ? sha : "", "via", how));
    } else {
        printf("%s: backup written to %s (%lld bytes, sha256 %s)\n", c->id, path, (long long)size,
               sha ? sha : "?");
    }
    json_decref(m);
    return CTL_EXIT_OK;
}

static int backup_offline(struct bctx *c)
{
    char path[PATH_MAX], err[1024];
    int r, removed = 0;

    if (!tenant_known_offline(c)) {
        say_error(c, "no such tenant \"%s\"", c->id);
        return CTL_EXIT_NOT_FOUND;
    }
    if (tenant_is_pg(c))
        r = backup_pg_create(&c->g->pg, c->g->pg_password_file, c->id, c->bdir, path, sizeof(path),
                             err, sizeof(err));
    else
        r = backup_create(c->db, c->bdir, c->id, path, sizeof(path), err, sizeof(err));
    if (r < 0) {
        say_error(c, "%s", err);
        return r == -ENOENT ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
    }
    if (backup_prune(c->bdir, c->id, c->g->backup_keep, &removed, err, sizeof(err)) < 0)
        say_error(c, "backup written, but pruning failed: %s", err);
    return report_backup(c, path, "direct");
}

static void cleanup(struct bctx *c)
{
    free(c->g);
    c->g = NULL;
}

int ctl_backup_cmd(int argc, char **argv, const char *config_path)
{
    struct bctx c = {.cmd = "backup", .config_path = config_path};
    const char *pos[1];
    char path[256], err[1024], msg[1200];
    json_t *j = NULL;
    int rc, status = 0;

    rc = parse_args(&c, argc, argv, pos, 1, "backup <id> [--json]");
    if (rc == 0)
        rc = load(&c, pos[0]);
    if (rc != 0)
        goto out;
    snprintf(path, sizeof(path), "/v1/tenants/%s/backup", c.id);
    rc = api(&c, "POST", path, BACKUP_TIMEOUT_MS, &status, &j, err, sizeof(err));
    if (rc < 0 && unreachable(rc)) {
        /* tenantd is not running: nothing else will copy this file now. */
        rc = backup_offline(&c);
        goto out;
    }
    if (rc < 0) {
        say_error(&c, "%s", err);
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    if (status == 404 && json_is_string(json_object_get(j, "detail")) &&
        strcmp(json_string_value(json_object_get(j, "detail")), "no such route") == 0) {
        /* A tenantd without the backup route: the copy is safe beside a
         * running worker, so do it here rather than fail. */
        rc = backup_offline(&c);
        goto out;
    }
    if (status < 200 || status > 299) {
        api_message(j, status, msg, sizeof(msg));
        say_error(&c, "%s", msg);
        rc = status == 404 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
        goto out;
    }
    if (!json_is_string(json_object_get(j, "path"))) {
        say_error(&c, "tenantd answered %d without a backup path", status);
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    rc = report_backup(&c, json_string_value(json_object_get(j, "path")), "tenantd");
out:
    json_decref(j);
    cleanup(&c);
    return rc;
}

int ctl_backups_cmd(int argc, char **argv, const char *config_path)
{
    struct bctx c = {.cmd = "backups", .config_path = config_path};
    struct backup_info *v = NULL;
    const char *pos[1];
    char err[1024], when[32];
    size_t n = 0;
    int rc;

    rc = parse_args(&c, argc, argv, pos, 1, "backups <id> [--json]");
    if (rc == 0)
        rc = load(&c, pos[0]);
    if (rc != 0)
        goto out;
    if (!tenant_known_offline(&c)) {
        say_error(&c, "no such tenant \"%s\"", c.id);
        rc = CTL_EXIT_NOT_FOUND;
        goto out;
    }
    if (backup_list(c.bdir, c.id, &v, &n, err, sizeof(err)) < 0) {
        say_error(&c, "%s", err);
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    if (c.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            struct tm tm;
            gmtime_r(&v[i].created, &tm);
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:I, s:b, s:o, s:o}", "file", v[i].name, "path",
                             v[i].path, "created", when, "size", (json_int_t)v[i].size, "manifest",
                             v[i].has_manifest, "schema_version",
                             v[i].schema_version >= 0 ? json_integer(v[i].schema_version)
                                                      : json_null(),
                             "sha256", v[i].sha256[0] ? json_string(v[i].sha256) : json_null()));
        }
        print_json(a);
        goto out;
    }
    if (n == 0) {
        printf("%s: no backups in %s\n", c.id, c.bdir);
        goto out;
    }
    printf("%-40s  %-20s  %10s  %6s  %s\n", "FILE", "CREATED (UTC)", "SIZE", "SCHEMA", "SHA256");
    for (size_t i = 0; i < n; i++) {
        struct tm tm;
        char size[32], schema[16];
        gmtime_r(&v[i].created, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        ctl_format_bytes((uint64_t)v[i].size, size, sizeof(size));
        if (v[i].schema_version >= 0)
            snprintf(schema, sizeof(schema), "%d", v[i].schema_version);
        else
            snprintf(schema, sizeof(schema), "-");
        printf("%-40s  %-20s  %10s  %6s  %s\n", v[i].name, when, size, schema,
               v[i].has_manifest ? v[i].sha256 : "(no manifest: unfinished or damaged)");
    }
out:
    free(v);
    cleanup(&c);
    return rc;
}

/* ---- restore ------------------------------------------------------------------ */

struct tstat {
    char state[32];
    char reason[512];
    bool has_pid;
};

static void tstat_from(const json_t *j, struct tstat *t);

static int wait_state(struct bctx *c, const char *states, int64_t timeout_ms, struct tstat *t,
                      bool *reached);

/* The tenant's status now (a wait of 0 ms): 0, or an exit code (printed). */
static int get_state(struct bctx *c, struct tstat *t)
{
    bool reached;

    return wait_state(c, "stopped", 0, t, &reached);
}

/* The fields of a tenant's status JSON that restore looks at. */
static void tstat_from(const json_t *j, struct tstat *t)
{
    snprintf(t->state, sizeof(t->state), "%s",
             json_string_value(json_object_get(j, "state")) ?: "");
    snprintf(t->reason, sizeof(t->reason), "%s%s%s",
             json_string_value(json_object_get(j, "state_reason")) ?: "",
             json_string_value(json_object_get(j, "last_exit")) &&
                     *json_string_value(json_object_get(j, "last_exit"))
                 ? "; last exit: "
                 : "",
             json_string_value(json_object_get(j, "last_exit")) ?: "");
    t->has_pid = json_is_integer(json_object_get(j, "pid")) &&
                 json_integer_value(json_object_get(j, "pid")) > 0;
}

/* POST /v1/tenants/<id>/<action>; 0, or an exit code (printed when loud). */
static int action(struct bctx *c, const char *what, bool loud)
{
    char path[256], err[1024], msg[1200];
    json_t *j = NULL;
    int rc, status = 0;

    snprintf(path, sizeof(path), "/v1/tenants/%s/%s", c->id, what);
    rc = api(c, "POST", path, REQUEST_TIMEOUT_MS, &status, &j, err, sizeof(err));
    if (rc < 0) {
        if (loud)
            say_error(c, "%.*s %s: %s", (int)strcspn(what, "?"), what, c->id, err);
        return unreachable(rc) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    if (status < 200 || status > 299) {
        api_message(j, status, msg, sizeof(msg));
        if (loud)
            say_error(c, "%.*s %s: %s", (int)strcspn(what, "?"), what, c->id, msg);
        json_decref(j);
        return status == 404 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
    }
    json_decref(j);
    return 0;
}

/* Wait on tenantd (GET ?wait=, no polling) until the tenant is in one of
 * `states`; fills t from the answer. 0 with *reached, or an exit code
 * (printed). */
static int wait_state(struct bctx *c, const char *states, int64_t timeout_ms, struct tstat *t,
                      bool *reached)
{
    char err[1024], msg[1200];
    json_t *j = NULL;
    int rc, status = 0;

    rc = ctl_wait_state(c->socket_path, c->id, states, timeout_ms, &status, &j, err, sizeof(err));
    if (rc < 0) {
        say_error(c, "%s", err);
        return unreachable(rc) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    if (status != 200 || !json_is_object(j)) {
        api_message(j, status, msg, sizeof(msg));
        say_error(c, "%s", msg);
        json_decref(j);
        return status == 404 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
    }
    tstat_from(j, t);
    *reached = json_is_true(json_object_get(j, "reached"));
    json_decref(j);
    return 0;
}

/* Wait until the worker is gone and its database closed. */
static int wait_stopped(struct bctx *c, int64_t timeout_ms, struct tstat *t)
{
    bool reached = false;
    int rc = wait_state(c, "stopped,failed", timeout_ms, t, &reached);

    if (rc != 0)
        return rc;
    if (!reached || t->has_pid) {
        say_error(c, "%s did not stop within %lld ms (state %s)", c->id, (long long)timeout_ms,
                  t->state);
        return CTL_EXIT_ERROR;
    }
    /* Stopped means the worker was reaped: nothing of it holds the file. */
    if (backup_db_in_use(c->db) != 0) {
        say_error(c, "%s stopped, but another process still has %s open", c->id, c->db);
        return CTL_EXIT_ERROR;
    }
    return 0;
}

/* Wait until running (0), or until it is clearly not coming up: failed, or
 * back-off after a crash, or the deadline (-1). Other exit codes as printed. */
static int wait_running(struct bctx *c, int64_t timeout_ms, struct tstat *t)
{
    bool reached = false;
    int rc = wait_state(c, "running,failed,backoff", timeout_ms, t, &reached);

    if (rc != 0)
        return rc;
    if (reached && strcmp(t->state, "running") == 0)
        return 0;
    if (!reached)
        snprintf(t->reason, sizeof(t->reason), "not running after %lld ms", (long long)timeout_ms);
    return -1;
}

/* A bare file name is looked up in the tenant's backups folder first. */
static void resolve_backup(const struct bctx *c, const char *arg, char *out, size_t n)
{
    if (strchr(arg, '/') == NULL) {
        int r = snprintf(out, n, "%s/%s", c->bdir, arg);
        if (r > 0 && (size_t)r < n && access(out, F_OK) == 0)
            return;
    }
    snprintf(out, n, "%s", arg);
}

static int report_restore(struct bctx *c, const char *file, const char *aside, const char *state)
{
    if (c->json) {
        print_json(json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "restored_from", file, "previous",
                             aside, "state", state));
    } else {
        printf("%s: restored from %s\n", c->id, file);
        if (aside[0])
            printf("%s: the previous database is kept at %s\n", c->id, aside);
        printf("%s: %s\n", c->id, state);
    }
    return CTL_EXIT_OK;
}

static int restore_offline(struct bctx *c, const char *file)
{
    char aside[PATH_MAX], err[1024];
    int r;

    if (!tenant_known_offline(c)) {
        say_error(c, "no such tenant \"%s\"", c->id);
        return CTL_EXIT_NOT_FOUND;
    }
    if (is_pgdump(file))
        r = backup_pg_restore(&c->g->pg, c->g->pg_password_file, c->id, file, aside, sizeof(aside),
                              err, sizeof(err));
    else
        r = backup_restore(c->db, file, c->id, aside, sizeof(aside), err, sizeof(err));
    if (r < 0) {
        say_error(c, "%s", err);
        return CTL_EXIT_ERROR;
    }
    return report_restore(c, file, aside, "tenantd is not running: start it to serve the tenant");
}

int ctl_restore_cmd(int argc, char **argv, const char *config_path)
{
    struct bctx c = {.cmd = "restore", .config_path = config_path};
    const char *pos[2];
    char file[PATH_MAX], aside[PATH_MAX] = "", err[1024] = "";
    struct tstat t, t2;
    char initial[32];
    int64_t stop_ms, start_ms;
    bool suspended, stopped_by_us = false, pg;
    int rc, r;

    memset(&t, 0, sizeof(t));
    memset(&t2, 0, sizeof(t2));
    /* --from-offsite [snapshot]: fetched by ctl_offsite.c into the backups
     * folder first, then restored like any backup. */
    char *args[16];
    int na = 0, npos = 2;
    bool offsite = false;
    for (int i = 0; i < argc && na < 15; i++) {
        if (strcmp(argv[i], "--from-offsite") == 0)
            offsite = true;
        else
            args[na++] = argv[i];
    }
    args[na] = NULL;
    if (offsite) {
        int n = 0;
        for (int i = 1; i < na; i++)
            n += args[i][0] != '-';
        npos = n == 1 ? 1 : 2;
    }
    rc = argc >= 16 ? CTL_EXIT_USAGE
                    : parse_args(&c, na, args, pos, npos,
                                 offsite ? "restore <id> --from-offsite [snapshot] [--json]"
                                         : "restore <id> <backup-file> [--json]");
    if (rc == 0)
        rc = load(&c, pos[0]);
    if (rc != 0)
        goto out;
    if (offsite) {
        if (ctl_offsite_fetch(c.g, c.id, npos == 2 ? pos[1] : NULL, c.bdir, c.db, file,
                              sizeof(file), err, sizeof(err)) < 0) {
            say_error(&c, "cannot fetch the off-site copy: %s", err);
            rc = CTL_EXIT_ERROR;
            goto out;
        }
        if (!c.json)
            printf("%s: fetched %s from the off-site repository\n", c.id, file);
    } else {
        resolve_backup(&c, pos[1], file, sizeof(file));
    }
    /* Refuse a bad file before the tenant is touched at all. A PostgreSQL
     * tenant's backups are pg_dump archives (backup_pg.h). */
    pg = is_pgdump(file);
    if (pg != tenant_is_pg(&c)) {
        say_error(&c, "refusing to restore: %s is a %s backup and %s keeps its data in %s", file,
                  pg ? "PostgreSQL" : "SQLite", c.id, pg ? "SQLite" : "PostgreSQL");
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    if ((pg ? backup_pg_verify(file, c.id, err, sizeof(err))
            : backup_verify(file, c.id, err, sizeof(err))) < 0) {
        say_error(&c, "refusing to restore: %s", err);
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    stop_ms = c.g->stop_grace_ms + 15000;
    start_ms = c.g->ready_timeout_ms + c.g->backoff_max_ms + 10000;

    rc = get_state(&c, &t);
    if (rc == CTL_EXIT_UNREACHABLE) {
        /* No tenantd, so no worker: swap directly (refused if the database
         * is still open by some process). */
        rc = restore_offline(&c, file);
        goto out;
    }
    if (rc != 0)
        goto out;
    snprintf(initial, sizeof(initial), "%s", t.state);
    suspended = strcmp(t.state, "suspended") == 0;
    if (!suspended && (t.has_pid || strcmp(t.state, "stopped") != 0)) {
        /* A failed or backing-off tenant is stopped too, so that no start
         * is scheduled while its database is being swapped. */
        /* No overlap for a restore: the old worker stops (and is reaped)
         * before the swap, so it cannot acknowledge a write into the
         * database being replaced; tenantd keeps the port bound meanwhile. */
        r = action(&c, "stop?hold_socket=1", strcmp(t.state, "failed") != 0);
        if (r != 0 && strcmp(t.state, "failed") != 0) {
            rc = r;
            goto out;
        }
        stopped_by_us = true;
    }
    rc = wait_stopped(&c, stop_ms, &t);
    if (rc == 0 && suspended && (t.has_pid || (!pg && backup_db_in_use(c.db) != 0)))
        rc = CTL_EXIT_ERROR;
    if (rc != 0)
        goto restart;
    if (pg)
        r = backup_pg_restore(&c.g->pg, c.g->pg_password_file, c.id, file, aside, sizeof(aside),
                              err, sizeof(err));
    else
        r = backup_restore(c.db, file, c.id, aside, sizeof(aside), err, sizeof(err));
    if (r < 0) {
        say_error(&c, "%s", err);
        rc = CTL_EXIT_ERROR;
        goto restart;
    }
    if (suspended) {
        rc = report_restore(&c, file, aside, "suspended: resume it to serve the restored data");
        goto out;
    }
    if (action(&c, "start", true) == 0) {
        r = wait_running(&c, start_ms, &t);
        if (r == 0) {
            rc = report_restore(&c, file, aside, "running");
            goto out;
        }
        if (r > 0) {
            /* tenantd went away while we waited: nothing to roll back with. */
            say_error(&c,
                      "restored, but lost tenantd while waiting for %s to start; the "
                      "previous database is at %s",
                      c.id, aside[0] ? aside : "(none)");
            rc = r;
            goto out;
        }
    } else {
        snprintf(t.state, sizeof(t.state), "stopped");
        snprintf(t.reason, sizeof(t.reason), "tenantd refused to start it");
    }

    /* The restored database did not come up: put the previous one back. */
    say_error(&c, "the restored database did not come up ready (state %s%s%s); rolling back",
              t.state, t.reason[0] ? ": " : "", t.reason);
    action(&c, "stop", false);
    if (wait_stopped(&c, stop_ms, &t2) != 0) {
        snprintf(err, sizeof(err), "%s did not stop", c.id);
        say_error(&c, "ROLLBACK FAILED: %s; the previous database is at %s", err,
                  aside[0] ? aside : "(none)");
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    if ((pg ? backup_pg_unrestore(&c.g->pg, c.g->pg_password_file, c.id, aside, err, sizeof(err))
            : backup_unrestore(c.db, aside, err, sizeof(err))) < 0) {
        say_error(&c, "ROLLBACK FAILED: %s; the previous database is at %s", err,
                  aside[0] ? aside : "(none)");
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    if (action(&c, "start", true) == 0 && wait_running(&c, start_ms, &t2) == 0)
        say_error(&c, "rolled back: %s runs on its previous database again", c.id);
    else
        say_error(&c, "rolled back the database, but %s is not running (state %s)", c.id, t2.state);
    rc = CTL_EXIT_ERROR;
    goto out;

restart:
    /* Nothing was swapped: leave the tenant as it was found. */
    if (stopped_by_us && strcmp(initial, "failed") != 0)
        action(&c, "start", true);
out:
    cleanup(&c);
    return rc;
}
