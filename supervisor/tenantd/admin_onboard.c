/*
 * admin_onboard.c — onboarding (POST /v1/tenants): the one command that
 * turns a client into a running, reachable tenant with a first admin
 * account. Its reverse is admin_offboard.c; adding an admin account to an
 * existing tenant (POST /v1/tenants/<id>/admins) is step 5 below on its own
 * (admin_create_admin.c); the life cycle they share is admin_op.c.
 *
 * Onboarding, all or nothing:
 *   1. validate every field first (id, reserved, plan, name, subdomain and
 *      port free; a port is allocated from port_range when none is given);
 *   2. render the tenant file and parse it back with config_parse_tenant, the
 *      same validator tenantd uses, requiring the values to come back equal
 *      (inih silently cuts long lines and " ;" comments);
 *   3. write it with link(2) from a temporary name, which never replaces an
 *      existing file; create the data dir (0700) and the secret;
 *   4. sup_reload, then wait on the loop for the tenant's state changes
 *      (sup_watch_add) until the tenant is running and ready;
 *   5. run `tenant-worker --create-admin admin` in its data dir with its
 *      environment (through tenant-jail under its uid when root) and read
 *      "password: <pw>" from its stdout;
 *   6. answer 201 {"id","url","port","admin":{"username","password"}}.
 * The HTTP response is deferred: the handler returns 0 and the answer is sent
 * from a timer or process callback. Any failure after step 3 rolls back:
 * remove the file, reload (the supervisor stops the worker), wait until the
 * worker is gone, remove the data dir and the log it wrote, then answer the
 * error with the reason.
 *
 * Adding an admin: the tenant must be known with a valid file, and its data
 * dir and secret must exist (the worker has been started at least once, so
 * the dir belongs to the tenant's uid when root); then step 5 with the given
 * username, answering 201 {"id","url","admin":{"username","password"}}, 409
 * when the user exists. Nothing to roll back: the worker either adds the
 * user in one transaction or does not.
 *
 * Offboarding: move the tenant file into <data_dir>/../archive/<id>-<UTC>/,
 * reload, wait until the worker is gone, then move the data dir and log there
 * too. Nothing is deleted unless purge is asked for.
 *
 * Every operation is one struct admin_onboard on a list in struct admin; its
 * libuv handles (a timer, maybe a process and two pipes) are counted, and it
 * is freed when the last one is closed. admin_stop answers pending ones with
 * 503 and rolls onboardings back without waiting for the worker (tenantd is
 * stopping every worker anyway).
 */
#include "admin_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

/* ---- validation ----------------------------------------------------------------- */

struct onboard_req {
    const char *id, *name, *plan, *subdomain, *email, *database;
    int port;
};

/* Is 127.0.0.1:port free to bind right now? tenantd will bind it for the
 * worker, so a port held by another program is no good. */
static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(fd);
    return ok;
}

static bool port_used_by_tenant(const struct admin *a, int port)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view v;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view_nostats(a->sup, i, &v) == 0 && v.port == port)
            return true;
    const struct config *c = cfg(a);
    for (size_t i = 0; i < c->n_tenants; i++)
        if (c->tenants[i].valid && c->tenants[i].t.port == port)
            return true;
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (op->kind == OP_ONBOARD && op->t.port == port)
            return true;
    return false;
}

static bool subdomain_used(const struct admin *a, const char *sub)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view v;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view_nostats(a->sup, i, &v) == 0 && strcmp(v.subdomain, sub) == 0)
            return true;
    for (const struct admin_onboard *op = a->onboards; op; op = op->next)
        if (op->kind == OP_ONBOARD && strcmp(op->t.subdomain, sub) == 0)
            return true;
    return false;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static const char *json_str(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* Render the tenant file. Only validated values reach it. */
static int render_tenant(char *buf, size_t n, const struct onboard_req *r, int port,
                         const char *who)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int k = snprintf(buf, n,
                     "; tenants.d/%s.ini: onboarded %s by %s through the admin API.\n"
                     "[tenant]\nname = %s\nplan = %s\nsubdomain = %s\nstatus = active\n\n",
                     r->id, date, who, r->name, r->plan, r->subdomain ? r->subdomain : r->id);
    if (r->email && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "[firm]\nemail = %s\n\n", r->email);
    if (k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "[worker]\nport = %d\n", port);
    if (r->database && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "\n[database]\ntype = %s\n", r->database);
    return (k < 0 || (size_t)k >= n) ? -ENOSPC : k;
}

/* Write `text` as `path`, never replacing an existing file. */
static int write_new_file(const char *path, const char *text, size_t len)
{
    char tmp[CONFIG_PATH_MAX + 64];
    char *dup = strdup(path);
    if (dup == NULL)
        return -ENOMEM;
    /* A dot name ending in .tmp: the supervisor's inotify ignores it. */
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dirname(dup), basename((char *)path),
             (long)getpid());
    free(dup);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && link(tmp, path) != 0)
        rc = -errno;
    unlink(tmp);
    return rc;
}

static void fail_now(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const char *id, int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %s", error, detail);
    admin_audit(a, who, "onboard", id ? id : "", res);
    a->counters.onboardings_failed++;
    admin_send_error(req, status, error, detail);
}

void admin_onboard_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    char detail[2048];
    if (body == NULL || !json_is_object(body)) {
        snprintf(detail, sizeof detail, "the body must be a JSON object: %s",
                 body ? "not an object" : je.text);
        json_decref(body);
        fail_now(a, who, req, NULL, 400, "invalid request", detail);
        return;
    }
    bool bad = false;
    struct onboard_req r = {
        .id = json_str(body, "id", &bad),
        .name = json_str(body, "name", &bad),
        .plan = json_str(body, "plan", &bad),
        .subdomain = json_str(body, "subdomain", &bad),
        .email = json_str(body, "email", &bad),
        .database = json_str(body, "database", &bad),
    };
    json_t *jp = json_object_get(body, "port");
    if (jp && !json_is_null(jp)) {
        if (!json_is_integer(jp) || json_integer_value(jp) < 1 || json_integer_value(jp) > 65535)
            bad = true;
        else
            r.port = (int)json_integer_value(jp);
    }
    const char *id = r.id && config_valid_id(r.id) ? r.id : NULL;
    int status = 400;
    const char *error = "invalid request";
    detail[0] = '\0';
    if (bad)
        snprintf(detail, sizeof detail,
                 "id, name, plan, subdomain, email and database are strings; "
                 "port is an integer");
    else if (r.id == NULL || r.name == NULL || r.plan == NULL)
        snprintf(detail, sizeof detail, "id, name and plan are required");
    else if (!config_valid_id(r.id))
        error = "invalid tenant id",
        snprintf(detail, sizeof detail,
                 "an id matches ^[a-z][a-z0-9-]{0,30}$ and is not reserved (admin, www, ...)");
    else if (!text_ok(r.name, CONFIG_TEXT_MAX))
        error = "invalid name",
        snprintf(detail, sizeof detail, "the name is 1 to %d bytes without control characters",
                 CONFIG_TEXT_MAX - 1);
    else if (config_plan_find(&c->plans, r.plan) == NULL) {
        error = "no such plan";
        int k = snprintf(detail, sizeof detail, "\"%.64s\" is not in plans.ini; plans:", r.plan);
        for (size_t i = 0; i < c->plans.n && k > 0 && (size_t)k < sizeof detail; i++)
            k += snprintf(detail + k, sizeof detail - (size_t)k, " %s", c->plans.plan[i].name);
    } else if (r.subdomain && !config_valid_subdomain(r.subdomain))
        error = "invalid subdomain",
        snprintf(detail, sizeof detail, "a subdomain is one DNS label: [a-z0-9-], 1 to 63");
    else if (r.email && !text_ok(r.email, CONFIG_TEXT_MAX))
        error = "invalid email", snprintf(detail, sizeof detail, "bad email address");
    else if (r.database && strcmp(r.database, "sqlite") != 0 &&
             strcmp(r.database, "postgresql") != 0)
        error = "invalid database",
        snprintf(detail, sizeof detail, "database is sqlite or postgresql");
    else if (r.database && strcmp(r.database, "postgresql") == 0 && c->g.pg_url[0] == '\0')
        error = "no postgresql server",
        snprintf(detail, sizeof detail,
                 "tenantd.ini has no [postgresql] url: tenantd cannot provision a database");
    if (detail[0]) {
        fail_now(a, who, req, id, status, error, detail);
        json_decref(body);
        return;
    }

    /* Conflicts with what exists. */
    char file[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8], dir[CONFIG_PATH_MAX];
    snprintf(file, sizeof file, "%s/%s.ini", c->g.tenants_dir, r.id);
    config_tenant_data_dir(&c->g, r.id, dir, sizeof dir);
    struct tenant_view v;
    struct stat st;
    const char *sub = r.subdomain ? r.subdomain : r.id;
    status = 409;
    if (sup_tenant_find(a->sup, r.id, &v) == 0 || lstat(file, &st) == 0 || admin_op_busy(a, r.id))
        error = "tenant exists", snprintf(detail, sizeof detail, "%s already exists", r.id);
    else if (lstat(dir, &st) == 0)
        error = "data dir exists",
        snprintf(detail, sizeof detail,
                 "%.1024s exists (left by an earlier tenant?); archive or remove it first", dir);
    else if (subdomain_used(a, sub))
        error = "subdomain taken",
        snprintf(detail, sizeof detail, "another tenant uses the subdomain %s", sub);
    else if (r.port && (r.port < c->g.port_min || r.port > c->g.port_max))
        error = "invalid port", status = 400,
        snprintf(detail, sizeof detail, "port %d is outside port_range %d-%d", r.port,
                 c->g.port_min, c->g.port_max);
    else if (r.port && (port_used_by_tenant(a, r.port) || !port_bindable(r.port)))
        error = "port taken", snprintf(detail, sizeof detail, "port %d is in use", r.port);
    if (detail[0]) {
        fail_now(a, who, req, r.id, status, error, detail);
        json_decref(body);
        return;
    }
    int port = r.port;
    for (int p = c->g.port_min; port == 0 && p <= c->g.port_max; p++)
        if (!port_used_by_tenant(a, p) && port_bindable(p))
            port = p;
    if (port == 0) {
        fail_now(a, who, req, r.id, 503, "no free port", "every port of port_range is taken");
        json_decref(body);
        return;
    }

    /* Render, then parse back with tenantd's own validator. */
    char text[2048];
    struct config_tenant *t = calloc(1, sizeof *t);
    struct config_diag d = {0};
    if (t == NULL || render_tenant(text, sizeof text, &r, port, who->who) < 0) {
        free(t);
        fail_now(a, who, req, r.id, 400, "invalid request", "the values are too long");
        json_decref(body);
        return;
    }
    char display[CONFIG_ID_MAX + 16];
    snprintf(display, sizeof display, "tenants.d/%s.ini", r.id);
    int rc = config_parse_tenant(&c->g, &c->plans, r.id, display, text, strlen(text), t, &d);
    if (rc == 0 && (strcmp(t->name, r.name) != 0 || (r.email && strcmp(t->email, r.email) != 0) ||
                    t->port != port || strcmp(t->subdomain, sub) != 0)) {
        config_diag_add(&d,
                        "%s: a value would not read back as written (inih cuts lines at "
                        "200 bytes and treats \" ;\" as a comment)",
                        display);
        rc = -EINVAL;
    }
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        fail_now(a, who, req, r.id, 400, "invalid tenant", msg ? msg : "invalid");
        free(msg);
        config_diag_clear(&d);
        free(t);
        json_decref(body);
        return;
    }
    config_diag_clear(&d);

    struct admin_onboard *op = admin_op_new(a, who, req, OP_ONBOARD, r.id);
    json_decref(body);
    if (op == NULL) {
        free(t);
        fail_now(a, who, req, NULL, 500, "internal", "out of memory");
        return;
    }
    op->t = *t;
    free(t);
    snprintf(op->username, sizeof op->username, "%s", ADMIN_USERNAME);
    snprintf(op->file, sizeof op->file, "%s", file);
    snprintf(op->data_dir, sizeof op->data_dir, "%s", dir);
    config_tenant_log_path(&c->g, op->id, op->log_path, sizeof op->log_path);
    op->log_existed = lstat(op->log_path, &st) == 0;
    op->deadline = uv_now(a->loop) + (uint64_t)c->g.ready_timeout_ms + 5000;

    /* From here on every failure rolls back. The data dir comes first, so
     * the worker finds it when the reload starts it. */
    rc = spawn_prepare_dir(dir, false, 0, 0);
    if (rc == 0) {
        op->dir_created = true;
        char secret[256];
        rc = spawn_secret(dir, false, 0, 0, secret, sizeof secret);
        sodium_memzero(secret, sizeof secret);
    }
    if (rc != 0) {
        admin_op_rollback_begin(op, 500, "cannot create the data dir", "%s: %s", dir,
                                strerror(-rc));
        return;
    }
    snprintf(op->text, sizeof op->text, "%s", text);
    if (op->t.database == DB_POSTGRESQL) {
        admin_op_pg_provision(op); /* then admin_onboard_write_file */
        return;
    }
    admin_onboard_write_file(op);
}

void admin_onboard_write_file(struct admin_onboard *op)
{
    struct admin *a = op->a;
    const char *file = op->file;
    int rc = write_new_file(file, op->text, strlen(op->text));
    if (rc != 0) {
        admin_op_rollback_begin(op, rc == -EEXIST ? 409 : 500, "cannot write the tenant file",
                                "%s: %s", file, strerror(-rc));
        return;
    }
    op->file_created = true;
    char err[2048] = "";
    rc = sup_reload(a->sup, err, sizeof err);
    if (rc != 0) {
        admin_op_rollback_begin(op, 500, "reload failed", "%s", err[0] ? err : strerror(-rc));
        return;
    }
    log_info(op->id, "admin: onboarding: file written, waiting for the worker");
    op->phase = PH_WAIT_READY;
    admin_op_wait(op);
}
