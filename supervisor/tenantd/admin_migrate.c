/*
 * admin_migrate.c — POST /v1/tenants/<id>/migration {"step", "to", "reason"}:
 * tenantd's part of `tenantctl migrate` (supervisor/ctl/ctl_migrate.c,
 * docs/database.md "Migration") besides switching the tenant file
 * (admin_database.c).
 *
 *   step "copy": run `tenant-worker --migrate-copy FROM TO`, then
 *     `--db-checksum FROM` and `--db-checksum TO`, each through tenant-jail
 *     with the tenant's isolation (its uid, its own mount namespace with the
 *     same --hide/--expose as its worker, its network rule: a namespace for
 *     `none`, the Landlock port rules of its allow list otherwise, its
 *     seccomp filter and file-size limit), on tenantd's child runner. FROM
 *     is the tenant's current backend, TO the other (`sqlite:<data>/<id>.db`
 *     or its POSTGRESQL_URL, the password from its .pgpass). Answers 200
 *     {"id","from","to","tables"} once both checksums equal what the copy
 *     reported, table by table; 422 {"error":"copy failed","detail"} else.
 *   step "started" | "failed" | "rolled-back": a note of the caller's for
 *     the audit log ("reason" says why), answered 200 {"id","step"}.
 *
 * Every step and outcome is in the audit log as action "migrate".
 *
 * What it does not do: stop, start or put the tenant read-only (the caller
 * does), provision the target database (the caller has), or apply the
 * tenant's cgroup: the copy is not in the tenant's cgroup, so neither its
 * memory limit nor the cgroup-bpf address rules hold for it (the Landlock
 * port rules and the network namespace do).
 */
#include "admin_op.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "jail_args.h"
#include "log.h"
#include "netpolicy.h"
#include "pg_admin.h"
#include "pg_url.h"
#include "spawn.h"
#include "util.h"

#define COPY_TIMEOUT_MS (3600 * 1000)
#define SUM_TIMEOUT_MS (1200 * 1000)

enum { STEP_COPY, STEP_SUM_FROM, STEP_SUM_TO };

static const char *word(enum db_type t)
{
    return t == DB_POSTGRESQL ? "postgresql" : "sqlite";
}

static void audit(struct admin_onboard *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void audit(struct admin_onboard *op, const char *fmt, ...)
{
    char res[1500];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res, sizeof res, fmt, ap);
    va_end(ap);
    admin_audit(op->a, &op->who, "migrate", op->id, res);
}

/* The copy failed: audit, answer 422, done. */
static void copy_fail(struct admin_onboard *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void copy_fail(struct admin_onboard *op, const char *fmt, ...)
{
    char why[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    for (char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    audit(op, "error: copy failed: %s -> %s: %s", op->mig_from_w, op->mig_to_w, why);
    log_warn(op->id, "admin: migration copy failed: %s", why);
    if (op->req) {
        admin_send_error(op->req, 422, "copy failed", why);
        op->req = NULL;
    }
    admin_op_finish(op);
}

/* {"ok":true,"tables":{...}} → its "tables", or NULL with why. */
static json_t *tables_of(const char *out, char *why, size_t n)
{
    json_error_t je;
    json_t *j = json_loads(out, 0, &je), *t = NULL;
    if (j == NULL)
        snprintf(why, n, "not JSON: %.200s", out);
    else if (!json_is_true(json_object_get(j, "ok")))
        snprintf(why, n, "%.600s",
                 json_string_value(json_object_get(j, "error")) ?: "the copy tool said not ok");
    else if (!json_is_object(t = json_object_get(j, "tables")))
        snprintf(why, n, "no \"tables\" in its answer");
    else
        json_incref(t);
    json_decref(j);
    return json_is_object(t) ? t : NULL;
}

static void program_path(const char *configured, const char *name, char *buf, size_t n)
{
    if (configured[0]) {
        snprintf(buf, n, "%s", configured);
        return;
    }
    char dir[CONFIG_PATH_MAX];
    if (util_self_dir(dir, sizeof dir) != 0)
        snprintf(dir, sizeof dir, ".");
    if (snprintf(buf, n, "%s/%s", dir, name) >= (int)n)
        buf[0] = '\0';
}

static void run_step(struct admin_onboard *op);

static void on_step_done(void *arg, struct child_result *r)
{
    struct admin_onboard *op = arg;
    op->child = NULL;
    op->handles--;
    if (op->phase == PH_DONE) {
        admin_op_maybe_free(op);
        return;
    }
    char why[800] = "";
    json_t *got = r->status == 0 && r->sig == 0 ? tables_of(r->out, why, sizeof why) : NULL;
    if (got == NULL && why[0] == '\0') {
        /* The tool's own sentence on stdout, else its stderr. */
        json_t *t = tables_of(r->out, why, sizeof why);
        json_decref(t);
        if (strncmp(why, "not JSON", 8) == 0)
            snprintf(why, sizeof why, "%.600s", r->err);
    }
    const char *what = op->mig_step == STEP_COPY ? "--migrate-copy" : "--db-checksum";
    if (got == NULL) {
        if (r->timed_out)
            copy_fail(op, "tenant-worker %s took too long (killed)", what);
        else if (r->sig)
            copy_fail(op, "tenant-worker %s: killed by signal %d: %s", what, r->sig, why);
        else
            copy_fail(op, "tenant-worker %s: exit %lld: %s", what, (long long)r->status, why);
        return;
    }
    json_t *copied = op->mig_tables;
    if (op->mig_step == STEP_COPY) {
        op->mig_tables = got;
    } else {
        bool same = json_equal(got, copied);
        json_decref(got);
        if (!same) {
            copy_fail(op, "%s does not hold what was copied (rows or sha256 differ)",
                      op->mig_step == STEP_SUM_FROM ? "the old database" : "the new database");
            return;
        }
    }
    if (op->mig_step < STEP_SUM_TO) {
        op->mig_step++;
        run_step(op);
        return;
    }
    copied = op->mig_tables;
    audit(op, "copied and verified: %s -> %s: %zu tables", op->mig_from_w, op->mig_to_w,
          json_object_size(copied));
    log_notice(op->id, "admin: migration copy %s -> %s verified", op->mig_from_w, op->mig_to_w);
    json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "id", op->id, "from", op->mig_from_w, "to",
                          op->mig_to_w, "tables", copied);
    if (op->req) {
        admin_send_json(op->req, 200, o);
        op->req = NULL;
    } else {
        json_decref(o);
    }
    admin_op_finish(op);
}

/* The jail's options for the copy: the tenant's, without its cgroup. */
static void copy_jail_opts(const struct config_global *g, struct admin_onboard *op, uid_t uid,
                           gid_t gid, char *const *argv, struct spawn_fs_paths *paths,
                           struct jail_opts *o)
{
    jail_opts_init(o);
    snprintf(o->id, sizeof o->id, "%s", op->id);
    o->data_dir = op->data_dir;
    o->argv = argv;
    o->has_ids = true;
    o->uid = uid;
    o->gid = gid;
    if (op->t.storage_bytes > 0)
        o->rlimit_fsize = op->t.storage_bytes;
    o->no_core = true;
    o->ns = JAIL_NS_MOUNT | JAIL_NS_IPC | JAIL_NS_UTS;
    netpolicy_jail_opts(&op->t, false, o);
    spawn_fs_opts(g, argv[0], paths, o);
    const char *pg_dir = pg_admin_expose(g, &op->t);
    if (pg_dir != NULL && o->n_expose < JAIL_EXPOSE_MAX)
        o->expose[o->n_expose++] = pg_dir;
    o->seccomp = op->t.seccomp;
}

static void run_step(struct admin_onboard *op)
{
    const struct config *c = cfg(op->a);
    char worker[CONFIG_PATH_MAX], jail[CONFIG_PATH_MAX];
    program_path(c->g.worker_path, "tenant-worker", worker, sizeof worker);
    program_path(c->g.jail_path, "tenant-jail", jail, sizeof jail);
    char *from = op->mig_from, *to = op->mig_to;
    char *wargv[5] = {worker, NULL, NULL, NULL, NULL};
    if (op->mig_step == STEP_COPY) {
        wargv[1] = "--migrate-copy", wargv[2] = from, wargv[3] = to;
    } else {
        wargv[1] = "--db-checksum", wargv[2] = op->mig_step == STEP_SUM_FROM ? from : to;
    }
    char e_data[CONFIG_PATH_MAX + 16], e_pgpass[CONFIG_PATH_MAX + 32];
    snprintf(e_data, sizeof e_data, "DATA_DIR=%s", op->data_dir);
    snprintf(e_pgpass, sizeof e_pgpass, "PGPASSFILE=%s/.pgpass", op->data_dir);
    char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "LANG=C.UTF-8",
                   e_data,
                   e_pgpass,
                   "SQLITE_TMPDIR=.",
                   NULL};
    char **argv = NULL, err[512] = "";
    int rc = 0;
    if (geteuid() == 0) {
        struct stat st;
        if (stat(op->data_dir, &st) != 0 || st.st_uid == 0) {
            copy_fail(op, "cannot tell the tenant's uid from its data dir");
            return;
        }
        struct spawn_fs_paths *paths = calloc(1, sizeof *paths);
        struct jail_opts *o = calloc(1, sizeof *o);
        rc = paths && o ? 0 : -ENOMEM;
        if (rc == 0) {
            copy_jail_opts(&c->g, op, st.st_uid, st.st_gid, wargv, paths, o);
            rc = jail_build_argv(o, jail, &argv, err, sizeof err);
        }
        free(paths);
        free(o);
    }
    if (rc != 0) {
        copy_fail(op, "cannot build the jail's command line: %s", err[0] ? err : strerror(-rc));
        return;
    }
    struct child_opts co = {
        .argv = argv ? argv : wargv,
        .env = env,
        .cwd = op->data_dir,
        .timeout_ms = op->mig_step == STEP_COPY ? COPY_TIMEOUT_MS : SUM_TIMEOUT_MS,
        .log_label = "tenant-worker --migrate-copy",
    };
    rc = child_start(op->a->loop, &co, on_step_done, op, &op->child, err, sizeof err);
    free(argv);
    if (rc != 0) {
        copy_fail(op, "%s", err);
        return;
    }
    op->handles++;
}

static void refuse(struct admin *a, const struct admin_caller *who, h2o_req_t *req, const char *id,
                   int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %.1000s", error, detail);
    admin_audit(a, who, "migrate", id, res);
    admin_send_error(req, status, error, detail);
}

void admin_migration_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                          const char *id)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    const char *step = json_string_value(json_object_get(body, "step"));
    const char *to_s = json_string_value(json_object_get(body, "to"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    char step_w[16] = "", to_w[16] = "", reason_w[404] = "";
    bool ok = step && to_s && (strcmp(to_s, "sqlite") == 0 || strcmp(to_s, "postgresql") == 0) &&
              (strcmp(step, "copy") == 0 || strcmp(step, "started") == 0 ||
               strcmp(step, "failed") == 0 || strcmp(step, "rolled-back") == 0) &&
              (json_object_get(body, "reason") == NULL ||
               (reason && strlen(reason) <= 400 &&
                strlen(reason) == json_string_length(json_object_get(body, "reason"))));
    if (ok) {
        snprintf(step_w, sizeof step_w, "%s", step);
        snprintf(to_w, sizeof to_w, "%s", to_s);
        snprintf(reason_w, sizeof reason_w, "%s", reason ? reason : "");
        for (char *p = reason_w; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
    }
    json_decref(body);
    if (!ok) {
        refuse(a, who, req, id, 400, "invalid request",
               "the body is {\"step\": \"started\" | \"copy\" | \"failed\" | \"rolled-back\", "
               "\"to\": \"sqlite\" | \"postgresql\", \"reason\": text (optional, at most 400 "
               "bytes)}");
        return;
    }
    const struct config_tenant_entry *e = config_find_tenant(c, id);
    if (e == NULL) {
        refuse(a, who, req, id, 404, "no such tenant", id);
        return;
    }
    enum db_type to = strcmp(to_w, "postgresql") == 0 ? DB_POSTGRESQL : DB_SQLITE;
    const char *from_w = word(e->valid ? e->t.database : DB_SQLITE);
    if (strcmp(step_w, "copy") != 0) {
        char res[600];
        snprintf(res, sizeof res, "%s: %s -> %s%s%s", step_w, from_w, to_w, reason_w[0] ? ": " : "",
                 reason_w);
        admin_audit(a, who, "migrate", id, res);
        admin_send_json(req, 200, json_pack("{s:s, s:s}", "id", id, "step", step_w));
        return;
    }
    const char *no = !e->valid                 ? "the tenant file is invalid: fix it first"
                     : e->t.database == to     ? "the tenant already keeps its data there"
                     : c->g.pg_url[0] == '\0'  ? "tenantd.ini has no [postgresql] url"
                     : e->t.command[0] != '\0' ? "[worker] command names another program: only "
                                                 "the bundled tenant-worker can copy its data"
                     : admin_op_busy(a, id)    ? "another operation on this tenant runs"
                                               : NULL;
    if (no != NULL) {
        refuse(a, who, req, id, 409, "cannot copy", no);
        return;
    }
    /* The copy reaches the server as the tenant's worker on PostgreSQL will
     * (or did): its file read with [database] type = postgresql, so the
     * network rule derived for the server (docs/database.md) is the one
     * applied, and a rule that cannot reach it is refused here. */
    struct config_tenant *pt = calloc(1, sizeof *pt);
    char *old = NULL, *text = malloc(8192), detail[1200] = "", file[CONFIG_TENANT_FILE_MAX];
    config_tenant_file(&c->g, id, file, sizeof file);
    size_t len = 0;
    struct config_diag d = {0};
    int rc = pt && text ? util_read_file(file, 4096, &old, &len) : -ENOMEM;
    if (rc == 0)
        rc = config_set_database_text(old, DB_POSTGRESQL, text, 8192);
    if (rc == 0 &&
        (config_parse_tenant(&c->g, &c->plans, id, file, text, strlen(text), pt, &d) != 0 ||
         pt->database != DB_POSTGRESQL))
        rc = -EINVAL;
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        snprintf(detail, sizeof detail, "%.300s on postgresql: %.800s", file,
                 rc == -EINVAL && msg && *msg ? msg : strerror(-rc));
        free(msg);
    }
    config_diag_clear(&d);
    free(old);
    free(text);
    struct admin_onboard *op = rc == 0 ? admin_op_new(a, who, req, OP_MIGRATE_COPY, id) : NULL;
    if (op == NULL) {
        free(pt);
        if (rc != 0)
            refuse(a, who, req, id, 409, "cannot copy", detail);
        else
            admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    op->t = *pt;
    free(pt);
    config_tenant_data_dir(&c->g, id, op->data_dir, sizeof op->data_dir);
    snprintf(op->mig_from_w, sizeof op->mig_from_w, "%s", from_w);
    snprintf(op->mig_to_w, sizeof op->mig_to_w, "%s", to_w);
    char sqlite[CONFIG_PATH_MAX + 80], pgurl[512];
    snprintf(sqlite, sizeof sqlite, "sqlite:%.4000s/%s.db", op->data_dir, id);
    pg_tenant_url(&c->g.pg, id, pgurl, sizeof pgurl);
    snprintf(op->mig_from, sizeof op->mig_from, "%s", to == DB_POSTGRESQL ? sqlite : pgurl);
    snprintf(op->mig_to, sizeof op->mig_to, "%s", to == DB_POSTGRESQL ? pgurl : sqlite);
    op->mig_step = STEP_COPY;
    op->phase = PH_CREATE_ADMIN; /* a child runs; an abort kills it */
    audit(op, "copy started: %s -> %s", from_w, to_w);
    log_info(id, "admin: migration copy %s -> %s", from_w, to_w);
    run_step(op);
}
