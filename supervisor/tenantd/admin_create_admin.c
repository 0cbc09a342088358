/*
 * admin_create_admin.c — step 5 of onboarding and POST /v1/tenants/<id>/admins:
 * run `tenant-worker --create-admin <user>` in the tenant's data dir with its
 * environment (through tenant-jail under its uid when root) on tenantd's one
 * command runner (child.h), read "password: <pw>" from its stdout and answer
 * 201 {"id","url",["port",]"admin":{"username","password"}}; 409 when the
 * user exists.
 *
 * What it does not do: onboarding's other steps (admin_onboard.c) or the
 * rollback (admin_op.c).
 */
#include "admin_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "pg_admin.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

/* ---- tenant-worker --create-admin ------------------------------------------------- */

/* The firm's address, as onboarding and adding an admin print it. */
static void op_url(const struct admin_onboard *op, char *buf, size_t n)
{
    status_json_tenant_url(&cfg(op->a)->g, op->t.subdomain, buf, n);
}

static void create_admin_done(struct admin_onboard *op, struct child_result *r)
{
    struct admin *a = op->a;
    int64_t status = r->status;
    int sig = r->sig;
    const char *pw = NULL;
    size_t pwlen = 0;
    for (char *line = r->out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, "password: ", 10) == 0) {
            pw = line + 10;
            pwlen = nl ? (size_t)(nl - pw) : strlen(pw);
            while (pwlen > 0 && (pw[pwlen - 1] == '\r' || pw[pwlen - 1] == ' '))
                pwlen--;
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (op->phase == PH_DONE)
        return;
    if (status != 0 || sig != 0 || pw == NULL || pwlen == 0) {
        char why[64];
        if (sig)
            snprintf(why, sizeof why, "killed by signal %d", sig);
        else if (status)
            snprintf(why, sizeof why, "exit %lld", (long long)status);
        else
            snprintf(why, sizeof why, "no \"password:\" line on its output");
        for (size_t i = 0; i < r->err_len; i++)
            if (r->err[i] == '\n' || (unsigned char)r->err[i] < 0x20)
                r->err[i] = ' ';
        /* tenant-worker exits 1 for every failure; its message tells an
         * existing user apart (worker/auth.c auth_create_admin). */
        if (status == 1 && sig == 0 && strstr(r->err, "exists already") != NULL)
            admin_op_fail(op, 409, "user exists", "the firm %s already has a user \"%s\"", op->id,
                          op->username);
        else
            admin_op_fail(op, 500, "cannot create the admin",
                          "tenant-worker --create-admin: %s%s%s", why, r->err_len ? ": " : "",
                          r->err);
        return;
    }
    json_t *o = json_object();
    json_t *adm = json_object();
    if (o == NULL || adm == NULL) {
        json_decref(o);
        json_decref(adm);
        admin_op_fail(op, 500, "internal", "out of memory");
        return;
    }
    char url[CONFIG_HOST_MAX * 2 + 64];
    op_url(op, url, sizeof url);
    json_object_set_new(o, "id", json_string(op->id));
    json_object_set_new(o, "url", status_json_string(url));
    if (op->kind == OP_ONBOARD)
        json_object_set_new(o, "port", json_integer(op->t.port));
    json_object_set_new(adm, "username", status_json_string(op->username));
    json_object_set_new(adm, "password", json_stringn(pw, pwlen));
    json_object_set_new(o, "admin", adm);
    if (op->kind == OP_ONBOARD) {
        struct tenant_view v;
        if (sup_tenant_find(a->sup, op->id, &v) == 0)
            json_object_set_new(o, "tenant", status_json_tenant(&v));
        admin_audit(a, &op->who, "onboard", op->id, "ok");
        a->counters.onboardings_ok++;
        log_notice(op->id, "admin: onboarded on port %d", op->t.port);
    } else {
        char res[32 + USERNAME_MAX];
        snprintf(res, sizeof res, "ok: user %s", op->username);
        admin_audit(a, &op->who, "create-admin", op->id, res);
    }
    if (op->req) {
        admin_send_json(op->req, 201, o);
        op->req = NULL;
    } else {
        json_decref(o);
    }
    admin_op_finish(op);
}

/* The runner reports once the worker is reaped and its output read; after
 * an abort (PH_DONE) nobody waits for the answer any more. */
static void on_create_admin_done(void *arg, struct child_result *r)
{
    struct admin_onboard *op = arg;
    op->child = NULL;
    if (op->phase == PH_CREATE_ADMIN)
        create_admin_done(op, r);
    op->handles--;
    admin_op_maybe_free(op);
}

/* Read the tenant's existing secret for --create-admin. The data dir is the
 * tenant's by now (the supervisor chowned it when it started the worker), so
 * whatever is at "secret" was possibly put there by the tenant: open it
 * without following a link and without blocking (a FIFO would stall the
 * whole event loop), accept only a regular file, and never create one here
 * (spawn_secret would, as root, under a running worker). */
static int read_secret(const char *data_dir, char *out, size_t n)
{
    char path[CONFIG_PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/secret", data_dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    ssize_t got = rc == 0 ? read(fd, out, n - 1) : 0;
    if (got < 0)
        rc = -errno;
    close(fd);
    if (rc != 0)
        return rc;
    size_t len = (size_t)got;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    out[len] = '\0';
    /* spawn_secret replaces a secret this short; the worker never ran on it. */
    return len >= 16 ? 0 : -EINVAL;
}

/* Programs installed beside tenantd unless the config names them. */
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

void admin_op_create_admin_start(struct admin_onboard *op)
{
    struct admin *a = op->a;
    const struct config *c = cfg(a);
    op->phase = PH_CREATE_ADMIN;
    if (op->t.command[0]) {
        /* Another application: it has no --create-admin; the operator
         * creates accounts the application's own way. */
        admin_op_fail(op, 422, "cannot create the admin",
                      "[worker] command names another program, which has no --create-admin");
        return;
    }
    char secret[256];
    int rc = read_secret(op->data_dir, secret, sizeof secret);
    if (rc != 0) {
        sodium_memzero(secret, sizeof secret);
        admin_op_fail(op, rc == -EINVAL ? 409 : 500, "cannot create the admin", "%s/secret: %s",
                      op->data_dir,
                      rc == -EINVAL ? "not a regular file holding a secret" : strerror(-rc));
        return;
    }
    char **env = config_worker_env(&c->g, &c->plans, &op->t, secret);
    sodium_memzero(secret, sizeof secret);
    if (env == NULL) {
        admin_op_fail(op, 500, "internal", "out of memory");
        return;
    }
    char worker[CONFIG_PATH_MAX], jail[CONFIG_PATH_MAX];
    program_path(c->g.worker_path, "tenant-worker", worker, sizeof worker);
    program_path(c->g.jail_path, "tenant-jail", jail, sizeof jail);
    char s_uid[16], s_gid[16];
    struct spawn_fs_paths paths;
    const char *args[24 + SPAWN_FS_ARGS];
    size_t k = 0;
    if (geteuid() == 0) {
        /* Root: the worker runs under the tenant's uid, through the jail, like
         * the tenant's own worker. The supervisor chowned the data dir to
         * that uid when it started the worker, so its owner is the uid. */
        struct stat st;
        if (stat(op->data_dir, &st) != 0 || st.st_uid == 0) {
            free(env);
            admin_op_fail(op, 500, "cannot create the admin",
                          "cannot tell the tenant's uid from its data dir");
            return;
        }
        snprintf(s_uid, sizeof s_uid, "%u", (unsigned)st.st_uid);
        snprintf(s_gid, sizeof s_gid, "%u", (unsigned)st.st_gid);
        args[k++] = jail;
        args[k++] = "--id";
        args[k++] = op->id;
        args[k++] = "--data";
        args[k++] = op->data_dir;
        args[k++] = "--uid";
        args[k++] = s_uid;
        args[k++] = "--gid";
        args[k++] = s_gid;
        args[k++] = "--no-core";
        /* Its own view of the files, as its worker has: the data dir the
         * only writable folder, the program and templates reachable from
         * wherever they are installed. */
        args[k++] = "--ns";
        args[k++] = "mount";
        spawn_fs_args(&c->g, worker, &paths, args, &k);
        const char *pg_dir = pg_admin_expose(&c->g, &op->t);
        if (pg_dir != NULL) {
            args[k++] = "--expose";
            args[k++] = pg_dir;
        }
        args[k++] = "--";
    }
    args[k++] = worker;
    args[k++] = "--create-admin";
    args[k++] = op->username;
    args[k] = NULL;

    struct child_opts co = {
        .argv = (char *const *)args,
        .env = env,
        .cwd = op->data_dir,
        .timeout_ms = CREATE_ADMIN_TIMEOUT_MS,
    };
    char err[256];
    rc = child_start(a->loop, &co, on_create_admin_done, op, &op->child, err, sizeof err);
    free(env);
    if (rc != 0) {
        admin_op_fail(op, 500, "cannot create the admin", "%s", err);
        return;
    }
    op->handles++; /* the runner, until it reports */
}

/* ---- adding an admin to an existing tenant ---------------------------------------- */

/* The characters tenant-worker accepts in a username (worker/auth.c). */
static bool username_ok(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > USERNAME_MAX)
        return false;
    for (const char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '@'))
            return false;
    return true;
}

static void create_admin_refuse(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                                const char *id, int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %.1000s", error, detail);
    admin_audit(a, who, "create-admin", id, res);
    admin_send_error(req, status, error, detail);
}

void admin_create_admin_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                             const char *id)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    json_t *ju = json_is_object(body) ? json_object_get(body, "username") : NULL;
    char user[USERNAME_MAX + 1] = "";
    bool have_user = json_is_string(ju) && json_string_length(ju) < sizeof user;
    if (have_user)
        snprintf(user, sizeof user, "%s", json_string_value(ju));
    /* "a\u0000b" would otherwise become the user "a". */
    have_user = have_user && strlen(user) == json_string_length(ju);
    json_decref(body);
    if (!have_user) {
        create_admin_refuse(a, who, req, id, 400, "invalid request",
                            "the body must be a JSON object with a \"username\" string");
        return;
    }
    if (!username_ok(user)) {
        create_admin_refuse(a, who, req, id, 400, "invalid username",
                            "a username is 1 to 63 of A-Z a-z 0-9 . _ - @");
        return;
    }
    struct tenant_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    bool known = sup_tenant_find(a->sup, id, v) == 0;
    free(v);
    if (!known) {
        create_admin_refuse(a, who, req, id, 404, "no such tenant", id);
        return;
    }
    const struct config_tenant *t = NULL;
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].id, id) == 0 && c->tenants[i].valid)
            t = &c->tenants[i].t;
    char dir[CONFIG_PATH_MAX], secret[CONFIG_PATH_MAX + 16], detail[CONFIG_PATH_MAX + 128];
    config_tenant_data_dir(&c->g, id, dir, sizeof dir);
    snprintf(secret, sizeof secret, "%s/secret", dir);
    struct stat st, sst;
    if (t == NULL) {
        create_admin_refuse(a, who, req, id, 409, "invalid tenant",
                            "the tenant's file is invalid; see `tenantctl status`");
        return;
    }
    if (t->command[0]) {
        create_admin_refuse(a, who, req, id, 422, "cannot create the admin",
                            "[worker] command names another program, which has no "
                            "--create-admin");
        return;
    }
    /* The worker made its data dir its own and the secret exists only once
     * the tenant was started; before that there is no firm to add to, and
     * creating the secret here would leave it owned by root. */
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(secret, &sst) != 0 ||
        (geteuid() == 0 && st.st_uid == 0)) {
        snprintf(detail, sizeof detail,
                 "%.1024s is missing or not yet the tenant's: start the tenant once first", dir);
        create_admin_refuse(a, who, req, id, 409, "no data dir", detail);
        return;
    }
    if (admin_op_busy(a, id)) {
        create_admin_refuse(a, who, req, id, 409, "busy",
                            "an onboarding, offboarding or admin creation of this tenant runs");
        return;
    }
    struct admin_onboard *op = admin_op_new(a, who, req, OP_CREATE_ADMIN, id);
    if (op == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    op->t = *t;
    snprintf(op->username, sizeof op->username, "%s", user);
    snprintf(op->data_dir, sizeof op->data_dir, "%s", dir);
    log_info(id, "admin: creating the admin account %s", user);
    admin_op_create_admin_start(op);
}
