/*
 * ctl_migrate.c — tenantctl migrate <id> postgresql|sqlite [--cleanup]
 * (docs/database.md "Migration"): move a firm's data between its SQLite
 * file and its PostgreSQL database while the firm stays readable.
 *
 *   1. checks: the tenant file is valid, tenantd.ini has a [postgresql]
 *      server, the worker is the bundled one and lists --migrate-copy;
 *   2. the target exists and is empty: PostgreSQL: the tenant's database and
 *      role are provisioned when missing (.pgpass written for its uid);
 *      SQLite: a file left by an earlier migration is moved aside;
 *   3. read-only: tenantd sets [database] read_only (POST
 *      /v1/tenants/<id>/database, admin_database.c) and reloads; we wait
 *      until the worker started with WORKER_READ_ONLY=true serves alone (the
 *      writable one gone). A tenant that is not running is kept stopped;
 *   4. the copy: tenantd runs `tenant-worker --migrate-copy FROM TO` and both
 *      `--db-checksum`s in the tenant's jail and answers the tables once they
 *      agree (POST /v1/tenants/<id>/migration, admin_migrate.c);
 *   5. switch: tenantd sets [database] type to the new backend, read_only
 *      off, reloads; we wait until the new worker serves alone;
 *   6. the old data stays where it was until `migrate <id> <same> --cleanup`.
 * Any failure before 5 makes the tenant writable again on its old backend
 * (and drops a database this run created); a failure at 5 puts the old
 * backend back the same way. Every step is in the audit log: tenantd's own
 * entries, and our notes (started, failed, rolled-back). Exit 0 done, 1
 * failed (reason on stderr, the firm serving on its old backend), 2 usage,
 * 3 no tenantd.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "ctl.h"
#include "ctl_cmd.h"
#include "pg_client.h"
#include "util.h"

#define OUT_MAX (256 * 1024)

struct mig {
    struct ctl *c;
    struct config_global g;
    struct config_plans plans;
    struct config_tenant t;
    char file[CONFIG_PATH_MAX + 64];
    char data[CONFIG_PATH_MAX];
    char sqlite[CONFIG_PATH_MAX + 64];
    char pgurl[512];
    char worker[CONFIG_PATH_MAX];
    uid_t uid;
    gid_t gid;
    enum db_type to;
};

static bool c_json(const struct mig *m)
{
    return m->c->json;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char raw[4096], clean[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    ctl_sanitize(raw, clean, sizeof clean);
    fprintf(stderr, "tenantctl migrate: %s\n", clean);
}

/* Run the worker with argv[1..] under the tenant's uid in its data dir;
 * stdout into out. Returns the exit status, or -1. */
static int run_as_tenant(struct mig *m, char *const *argv, char *out, size_t outlen)
{
    char e_data[CONFIG_PATH_MAX + 16], e_pgpass[CONFIG_PATH_MAX + 32];
    snprintf(e_data, sizeof e_data, "DATA_DIR=%s", m->data);
    snprintf(e_pgpass, sizeof e_pgpass, "PGPASSFILE=%s/.pgpass", m->data);
    char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "LANG=C.UTF-8",
                   e_data,
                   e_pgpass,
                   "SQLITE_TMPDIR=.",
                   NULL};
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        /* Opened before the uid changes and run through its fd: the program
         * may sit where the tenant's uid cannot walk (a checkout in a 0700
         * /root), as its jail exposes it to its worker (tenant-jail --expose).
         * Not close-on-exec, so a "#!" script can be run as well. */
        int fd = open(m->worker, O_RDONLY);
        if (fd < 0 || chdir(m->data) < 0 ||
            (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(m->gid, m->gid, m->gid) < 0 ||
                                setresuid(m->uid, m->uid, m->uid) < 0)))
            _exit(126);
        fexecve(fd, argv, env);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        char buf[4096];
        ssize_t r = read(p[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r < outlen - 1 - len ? (size_t)r : outlen - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    out[len] = '\0';
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A note for the audit log: started, failed, rolled-back (admin_migrate.c). */
static void note(struct mig *m, const char *step, const char *reason)
{
    char path[128];
    json_t *out = NULL;
    snprintf(path, sizeof path, "/v1/tenants/%s/migration", m->t.id);
    json_t *body = json_pack("{s:s, s:s}", "step", step, "to",
                             m->to == DB_POSTGRESQL ? "postgresql" : "sqlite");
    if (reason)
        json_object_set_new(body, "reason", json_stringn(reason, strnlen(reason, 400)));
    ctl_post_json(m->c, path, body, 30000, &out);
    json_decref(out);
}

/* tenantd runs the copy and both checksums in the tenant's jail and answers
 * the tables once they agree (POST /v1/tenants/<id>/migration, step copy). */
static json_t *copy_in_jail(struct mig *m)
{
    char path[128];
    json_t *out = NULL;
    snprintf(path, sizeof path, "/v1/tenants/%s/migration", m->t.id);
    json_t *body = json_pack("{s:s, s:s}", "step", "copy", "to",
                             m->to == DB_POSTGRESQL ? "postgresql" : "sqlite");
    /* tenantd's own limit on the copy is an hour, on each checksum 20 min. */
    if (ctl_post_json(m->c, path, body, 2 * 3600 * 1000 + 60000, &out) != 0) {
        json_decref(out);
        return NULL;
    }
    json_t *t = json_object_get(out, "tables");
    if (!json_is_object(t)) {
        say("tenantd's answer has no \"tables\"");
        json_decref(out);
        return NULL;
    }
    json_incref(t);
    json_decref(out);
    return t;
}

static int api_action(struct mig *m, const char *what)
{
    char path[128];
    struct ctl_response r;
    if (strcmp(what, "reload") == 0)
        snprintf(path, sizeof path, "/v1/reload");
    else
        snprintf(path, sizeof path, "/v1/tenants/%s/%s", m->t.id, what);
    int rc = ctl_request(m->c, "POST", path, "{}", 30000, &r);
    if (rc != 0)
        return rc;
    rc = r.status >= 200 && r.status < 300 ? 0 : ctl_api_error(&r);
    ctl_response_free(&r);
    return rc;
}

/* 0 when the tenant reached one of `states` (its state in st). */
static int wait_for_state(struct mig *m, const char *states, int64_t ms, char *st, size_t n)
{
    int status = 0;
    json_t *j = NULL;
    char err[512];
    if (ctl_wait_state(m->c->socket_path, m->t.id, states, ms, &status, &j, err, sizeof err) < 0) {
        say("%s", err);
        return -1;
    }
    snprintf(st, n, "%s", json_string_value(json_object_get(j, "state")) ?: "?");
    int ok = status == 200 && json_is_true(json_object_get(j, "reached"));
    json_decref(j);
    return ok ? 0 : -1;
}

/* tenantd sets [database] type and read_only in the tenant's file, reloads
 * and records it in the audit log (POST /v1/tenants/<id>/database,
 * admin_database.c). */
static int set_database(struct mig *m, const char *type, bool ro, const char *reason)
{
    char path[128];
    json_t *out = NULL;
    snprintf(path, sizeof path, "/v1/tenants/%s/database", m->t.id);
    int rc = ctl_post_json(
        m->c, path,
        json_pack("{s:s, s:b, s:s}", "type", type, "read_only", (int)ro, "reason", reason), 30000,
        &out);
    json_decref(out);
    return rc;
}

/* The tenant's worker pid (0: none) and whether one worker serves alone:
 * running or idle, nothing starting, nothing draining. */
static int tenant_now(struct mig *m, long *pid, bool *settled, char *st, size_t n)
{
    char path[128];
    struct ctl_response r;
    snprintf(path, sizeof path, "/v1/tenants/%s", m->t.id);
    if (ctl_request(m->c, "GET", path, NULL, 10000, &r) != 0)
        return -1;
    json_error_t je;
    json_t *j = r.status == 200 ? json_loadb(r.body, r.len, 0, &je) : NULL;
    ctl_response_free(&r);
    if (j == NULL)
        return -1;
    const char *s = json_string_value(json_object_get(j, "state"));
    snprintf(st, n, "%s", s ? s : "?");
    *pid = (long)json_integer_value(json_object_get(j, "pid"));
    *settled = s && (strcmp(s, "running") == 0 || strcmp(s, "idle") == 0) &&
               json_is_null(json_object_get(j, "starting_pid")) &&
               json_is_null(json_object_get(j, "draining_pid"));
    json_decref(j);
    return 0;
}

/* After a change of the tenant file: wait until a worker other than `old`
 * serves alone (the one before it is gone), or the tenant idles. tenantd
 * starts the new worker beside the old one at once (the route reloads before
 * it answers), so `old` serving alone again means that start failed and the
 * old worker was kept: then fail, or with `retry` ask for a restart (at most
 * one a second) until the time is up. */
static int wait_replaced(struct mig *m, long old, int64_t ms, bool retry, long *pid, char *st,
                         size_t n)
{
    int64_t last_restart = 0;
    bool moved = false; /* seen a start in progress */
    for (int64_t waited = 0; waited <= ms; waited += 50) {
        bool settled = false;
        int got = tenant_now(m, pid, &settled, st, n);
        moved = moved || (got == 0 && !settled);
        if (got == 0 && settled && (*pid != old || *pid == 0))
            return 0;
        if (got == 0 && settled && (moved || waited >= 3000)) {
            if (!retry)
                return -1;
            if (waited - last_restart >= 1000) {
                api_action(m, "restart");
                last_restart = waited;
            }
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* ---- the PostgreSQL side ------------------------------------------------------ */

static int pg_exists(struct pg_client *pc, const char *name, bool *exists, char *err, size_t n)
{
    char sql[256], out[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
    int rc = pg_client_sql(pc, pc->srv.dbname, sql, out, sizeof out, err, n);
    *exists = rc == 0 && atoi(out) > 0;
    return rc;
}

static int pg_drop(struct pg_client *pc, const char *name, char *err, size_t n)
{
    char sql[256], out[64];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
    int rc = pg_client_sql(pc, pc->srv.dbname, sql, out, sizeof out, err, n);
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS \"%s\"", name);
    if (rc == 0)
        rc = pg_client_sql(pc, pc->srv.dbname, sql, out, sizeof out, err, n);
    return rc;
}

/* Create the tenant's role and database (pg_url.h's script) and its .pgpass. */
static int pg_provision(struct mig *m, struct pg_client *pc, char *err, size_t n)
{
    char pw[33], script[1024], path[CONFIG_PATH_MAX + 64];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    int len = pg_provision_script(m->t.id, pw, script, sizeof script);
    snprintf(path, sizeof path, "%s/.pg-provision-%s.sql", m->g.run_dir, m->t.id);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (fd >= 0) {
        if (write(fd, script, (size_t)len) != len)
            rc = -EIO;
        close(fd);
    }
    sodium_memzero(script, sizeof script);
    if (rc == 0) {
        char *argv[24] = {"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"};
        size_t k = 5;
        pg_client_conn_args(pc, argv, &k, pc->srv.dbname);
        argv[k++] = "-f";
        argv[k++] = path;
        argv[k] = NULL;
        char out[256];
        rc = pg_client_run(pc, argv, out, sizeof out, NULL, NULL, err, n);
        if (rc < 0 && strstr(out, "step:role")) {
            char e2[256], name[PG_NAME_MAX];
            pg_tenant_name(m->t.id, name, sizeof name);
            pg_drop(pc, name, e2, sizeof e2);
        }
    } else {
        util_seterr(err, n, "%s: %s", path, strerror(-rc));
    }
    unlink(path);
    if (rc == 0 && (rc = pg_pgpass_write(m->data, m->t.id, pw, geteuid() == 0, m->uid, m->gid)) < 0)
        util_seterr(err, n, "%s/.pgpass: %s", m->data, strerror(-rc));
    sodium_memzero(pw, sizeof pw);
    return rc;
}

/* ---- the migration ------------------------------------------------------------ */

static void move_sqlite(const char *db, const char *suffix_to)
{
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char a[CONFIG_PATH_MAX + 80], b[CONFIG_PATH_MAX + 160];
        snprintf(a, sizeof a, "%s%s", db, sfx[i]);
        if (suffix_to == NULL) {
            unlink(a);
            continue;
        }
        snprintf(b, sizeof b, "%s%s%s", db, suffix_to, sfx[i]);
        rename(a, b);
    }
}

static void unmove_sqlite(const char *db, const char *suffix_from)
{
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char a[CONFIG_PATH_MAX + 160], b[CONFIG_PATH_MAX + 80];
        snprintf(a, sizeof a, "%s%s%s", db, suffix_from, sfx[i]);
        snprintf(b, sizeof b, "%s%s", db, sfx[i]);
        rename(a, b);
    }
}

static int migrate_run(struct mig *m)
{
    char err[1024] = "", why[1024] = "", st[32] = "?", name[PG_NAME_MAX];
    char aside[64] = "";
    bool created = false, stopped = false, switched = false, ro_set = false, was_running;
    json_t *copied = NULL;
    struct pg_client pc;
    int rc = CTL_EXIT_ERROR;
    long pid = 0;
    int64_t stop_ms = m->g.stop_grace_ms + 15000;
    int64_t start_ms = m->g.ready_timeout_ms + m->g.backoff_max_ms + 10000;
    const char *to_word = m->to == DB_POSTGRESQL ? "postgresql" : "sqlite";
    const char *old_word = m->to == DB_POSTGRESQL ? "sqlite" : "postgresql";

    if (pg_client_init(&pc, &m->g.pg, m->g.pg_password_file, err, sizeof err) < 0) {
        say("%s", err);
        return CTL_EXIT_ERROR;
    }
    pg_tenant_name(m->t.id, name, sizeof name);
    was_running = wait_for_state(m, "running,idle", 0, st, sizeof st) == 0;
    note(m, "started", NULL);
    if (m->to == DB_POSTGRESQL) {
        bool exists = false;
        if (pg_exists(&pc, name, &exists, err, sizeof err) < 0) {
            say("%s", err);
            snprintf(why, sizeof why, "the server: %.900s", err);
            note(m, "failed", why);
            goto out;
        }
        if (!exists) {
            if (pg_provision(m, &pc, err, sizeof err) < 0) {
                say("cannot provision %s: %s", name, err);
                snprintf(why, sizeof why, "cannot provision %s: %.900s", name, err);
                note(m, "failed", why);
                goto out;
            }
            created = true;
        }
    } else {
        struct stat sb;
        if (lstat(m->sqlite, &sb) == 0) {
            time_t now = time(NULL);
            struct tm tm;
            gmtime_r(&now, &tm);
            strftime(aside, sizeof aside, ".before-migrate-%Y%m%dT%H%M%SZ", &tm);
            move_sqlite(m->sqlite, aside);
        }
    }

    if (was_running) {
        /* The firm stays readable: its worker is replaced by one started with
         * WORKER_READ_ONLY=true (writes answered 503 with Retry-After), and
         * the copy starts once the writable one is gone. */
        bool settled = false;
        tenant_now(m, &pid, &settled, st, sizeof st);
        if (set_database(m, old_word, true, "tenantctl migrate: read-only during the copy") != 0) {
            snprintf(why, sizeof why, "cannot make the firm read-only");
            goto back;
        }
        ro_set = true;
        if (wait_replaced(m, pid, start_ms, false, &pid, st, sizeof st) != 0) {
            say("%s did not come up read-only (state %s)", m->t.id, st);
            snprintf(why, sizeof why, "the firm did not come up read-only (state %s)", st);
            goto back;
        }
    } else {
        /* Not running: it stays down for the copy, its port held. */
        if (api_action(m, "stop?hold_socket=1") != 0 ||
            wait_for_state(m, "stopped,failed", stop_ms, st, sizeof st)) {
            say("%s did not stop (state %s)", m->t.id, st);
            snprintf(why, sizeof why, "the tenant did not stop (state %s)", st);
            goto back;
        }
        stopped = true;
    }
    /* The copy and its verification run in the tenant's jail, by tenantd,
     * which records them in the audit log. */
    copied = copy_in_jail(m);
    if (copied == NULL) {
        snprintf(why, sizeof why, "the copy failed or did not verify (see the copy's entry)");
        goto back;
    }

    /* Switch the tenant file (tenantd writes it, writable again): the
     * read-only worker serves until the one on the new backend is ready. */
    char reason[256];
    snprintf(reason, sizeof reason, "tenantctl migrate: %zu tables copied and verified",
             json_object_size(copied));
    if (set_database(m, to_word, false, reason) != 0) {
        say("cannot switch %s to [database] type = %s", m->t.id, to_word);
        snprintf(why, sizeof why, "cannot switch the tenant file to %s", to_word);
        goto back;
    }
    switched = true;
    if (was_running
            ? wait_replaced(m, pid, start_ms, false, &pid, st, sizeof st) != 0
            : api_action(m, "start") != 0 ||
                  wait_for_state(m, "running,failed,backoff", start_ms, st, sizeof st) != 0 ||
                  strcmp(st, "running") != 0) {
        say("%s did not come up on %s (state %s); rolling back", m->t.id, to_word, st);
        snprintf(why, sizeof why, "the tenant did not come up on %s (state %s)", to_word, st);
        goto back;
    }
    if (!was_running)
        api_action(m, "stop");
    if (c_json(m)) {
        json_t *o = json_pack("{s:s, s:s, s:O, s:s}", "id", m->t.id, "to", to_word, "tables",
                              copied, "kept", m->to == DB_POSTGRESQL ? m->sqlite : name);
        char *d = json_dumps(o, JSON_COMPACT);
        printf("%s\n", d ? d : "{}");
        free(d);
        json_decref(o);
    } else {
        printf("%s: migrated to %s (%zu tables copied and verified)\n", m->t.id, to_word,
               json_object_size(copied));
        printf("%s: the old data stays in %s until `tenantctl migrate %s %s --cleanup`\n", m->t.id,
               m->to == DB_POSTGRESQL ? m->sqlite : name, m->t.id, to_word);
    }
    rc = CTL_EXIT_OK;
    goto out;

back:
    /* The firm serves again, writable, on its old backend. */
    note(m, "failed", why);
    bool back_ok = true;
    if (switched || ro_set) {
        bool settled = false;
        tenant_now(m, &pid, &settled, st, sizeof st);
        back_ok = set_database(m, old_word, false, "tenantctl migrate: rolled back") == 0;
        if (back_ok && was_running)
            back_ok = wait_replaced(m, pid, start_ms, true, &pid, st, sizeof st) == 0;
    }
    if (stopped)
        api_action(m, "stop");
    if (m->to == DB_POSTGRESQL && created) {
        char e2[256];
        pg_drop(&pc, name, e2, sizeof e2);
        char p[CONFIG_PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/.pgpass", m->data);
        unlink(p);
    } else if (m->to == DB_SQLITE) {
        move_sqlite(m->sqlite, NULL);
        if (aside[0])
            unmove_sqlite(m->sqlite, aside);
    }
    if (!back_ok) {
        say("ROLLBACK: %s is not serving again (state %s)", m->t.id, st);
        snprintf(why, sizeof why, "back on %s, but not serving (state %s)", old_word, st);
    } else {
        say("rolled back: %s keeps its data in %s", m->t.id, old_word);
        snprintf(why, sizeof why, "back on %s%s", old_word, was_running ? ", serving" : "");
    }
    note(m, "rolled-back", why);
out:
    json_decref(copied);
    pg_client_clear(&pc);
    return rc;
}

/* ---- the command -------------------------------------------------------------- */

static int load(struct mig *m, const char *id)
{
    struct config_diag d = {0};
    int rc = config_load_global(m->c->config_path, &m->g, &d);
    if (rc == 0)
        rc = config_load_plans(&m->g, &m->plans, &d);
    snprintf(m->file, sizeof m->file, "%s/%s.ini", m->g.tenants_dir, id);
    if (rc == 0)
        rc = config_load_tenant(&m->g, &m->plans, m->file, &m->t, &d);
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        say("%s", msg ? msg : "invalid configuration");
        free(msg);
    }
    config_diag_clear(&d);
    if (rc != 0)
        return CTL_EXIT_ERROR;
    config_tenant_data_dir(&m->g, id, m->data, sizeof m->data);
    snprintf(m->sqlite, sizeof m->sqlite, "%s/%s.db", m->data, id);
    pg_tenant_url(&m->g.pg, id, m->pgurl, sizeof m->pgurl);
    if (m->g.worker_path[0])
        snprintf(m->worker, sizeof m->worker, "%s", m->g.worker_path);
    else {
        char dir[CONFIG_PATH_MAX];
        if (util_self_dir(dir, sizeof dir) < 0)
            snprintf(dir, sizeof dir, ".");
        snprintf(m->worker, sizeof m->worker, "%.4000s/tenant-worker", dir);
    }
    struct stat st;
    if (stat(m->data, &st) < 0) {
        say("%s: %s (the tenant must have run once)", m->data, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    m->uid = st.st_uid;
    m->gid = st.st_gid;
    if (m->g.pg_url[0] == '\0') {
        say("tenantd.ini has no [postgresql] url: there is no server to migrate to or from");
        return CTL_EXIT_ERROR;
    }
    if (m->t.command[0]) {
        say("%s runs another program ([worker] command): only the bundled tenant-worker can "
            "copy its data",
            id);
        return CTL_EXIT_ERROR;
    }
    return 0;
}

/* 0 when the worker lists --migrate-copy; else an exit code, printed. */
static int worker_can_copy(struct mig *m)
{
    char *out = malloc(OUT_MAX);
    char *argv[] = {m->worker, "--help", NULL};
    int ex = out ? run_as_tenant(m, argv, out, OUT_MAX) : -1;
    bool ok = ex >= 0 && ex < 126 && strstr(out, "--migrate-copy") != NULL;
    free(out);
    if (ok)
        return 0;
    if (ex < 0 || ex >= 126)
        say("cannot run %s under the tenant's uid (exit %d)", m->worker, ex);
    else
        say("%s has no --migrate-copy (a tenant-worker that speaks PostgreSQL is needed)",
            m->worker);
    return CTL_EXIT_ERROR;
}

static int cleanup_old(struct mig *m)
{
    char err[1024], name[PG_NAME_MAX];
    if (m->t.database == DB_POSTGRESQL) {
        /* The SQLite file and its side files. */
        const char *sfx[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < 4; i++) {
            char p[CONFIG_PATH_MAX + 80];
            snprintf(p, sizeof p, "%s%s", m->sqlite, sfx[i]);
            if (unlink(p) < 0 && errno != ENOENT) {
                say("cannot remove %s: %s", p, strerror(errno));
                return CTL_EXIT_ERROR;
            }
        }
        printf("%s: removed the old SQLite database %s\n", m->t.id, m->sqlite);
        return CTL_EXIT_OK;
    }
    struct pg_client pc;
    if (pg_client_init(&pc, &m->g.pg, m->g.pg_password_file, err, sizeof err) < 0) {
        say("%s", err);
        return CTL_EXIT_ERROR;
    }
    pg_tenant_name(m->t.id, name, sizeof name);
    int rc = pg_drop(&pc, name, err, sizeof err);
    pg_client_clear(&pc);
    if (rc < 0) {
        say("%s", err);
        return CTL_EXIT_ERROR;
    }
    char p[CONFIG_PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/.pgpass", m->data);
    unlink(p);
    printf("%s: dropped the old PostgreSQL database and role %s\n", m->t.id, name);
    return CTL_EXIT_OK;
}

int ctl_cmd_migrate(struct ctl *c)
{
    const char *pos[2];
    int np = 0;
    bool cleanup = false;
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--cleanup") == 0)
            cleanup = true;
        else if (c->argv[i][0] == '-')
            return ctl_usage_error(c->cmd, "unknown option \"%s\"", c->argv[i]);
        else if (np < 2)
            pos[np++] = c->argv[i];
        else
            return ctl_usage_error(c->cmd, "too many arguments");
    }
    if (np != 2)
        return ctl_usage_error(c->cmd, "migrate needs <id> postgresql|sqlite");
    if (!ctl_valid_id_arg(c->cmd, pos[0]))
        return CTL_EXIT_USAGE;
    if (strcmp(pos[1], "postgresql") != 0 && strcmp(pos[1], "sqlite") != 0)
        return ctl_usage_error(c->cmd, "the target is postgresql or sqlite");
    struct mig *m = calloc(1, sizeof *m);
    if (m == NULL)
        return CTL_EXIT_ERROR;
    m->c = c;
    m->to = strcmp(pos[1], "postgresql") == 0 ? DB_POSTGRESQL : DB_SQLITE;
    int rc = load(m, pos[0]);
    if (rc == 0 && m->t.database == m->to) {
        if (cleanup)
            rc = cleanup_old(m);
        else
            say("%s already keeps its data in %s (--cleanup removes the old copy)", m->t.id,
                pos[1]),
                rc = CTL_EXIT_ERROR;
        free(m);
        return rc;
    }
    if (rc == 0)
        rc = worker_can_copy(m);
    if (rc == 0)
        rc = ctl_resolve_socket(c);
    if (rc != 0) {
        free(m);
        return rc;
    }
    rc = migrate_run(m);
    free(m);
    return rc;
}
