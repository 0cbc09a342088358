/*
 * admin_database.c — POST /v1/tenants/<id>/database {"type", "reason"}:
 * switch a tenant between its SQLite file and its PostgreSQL database by
 * setting [database] type in its file (and read_only, which gives the worker
 * WORKER_READ_ONLY=true: the copy's first step), the last step of `tenantctl migrate`
 * (supervisor/ctl/ctl_migrate.c, docs/database.md), and of its rollback.
 * tenantd writes the file (never tenantctl), checks the new text with its
 * own parser first, reloads, and records the switch in the audit log as
 * "migrate" with the caller's reason ("12 tables copied and verified").
 *
 * What it does not do: copy data (the caller has, with the tenant stopped),
 * or start the tenant (the caller does, and waits).
 *
 * Answers: 200 {"id","database","previous","read_only"}; 400 bad body; 404 unknown
 * tenant; 409 an invalid tenant file, no [postgresql] server, or an
 * onboarding or offboarding of it running; 500 the file cannot be written.
 */
#include "admin_op.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status_json.h"
#include "util.h"

#define TEXT_MAX 8192

static void refuse(struct admin *a, const struct admin_caller *who, h2o_req_t *req, const char *id,
                   int status, const char *error, const char *detail)
{
    char res[1200];
    snprintf(res, sizeof res, "error: %s: %.1000s", error, detail);
    admin_audit(a, who, "migrate", id, res);
    admin_send_error(req, status, error, detail);
}

static int write_atomic(const char *path, const char *text)
{
    char tmp[CONFIG_PATH_MAX + 80];
    const char *slash = strrchr(path, '/');
    /* A dot name ending in .tmp: the supervisor's inotify ignores it. */
    snprintf(tmp, sizeof tmp, "%.*s/.%s.%ld.tmp", (int)(slash - path), path, slash + 1,
             (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

void admin_database_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                         const char *id)
{
    const struct config *c = cfg(a);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    json_t *jro = json_object_get(body, "read_only");
    char detail[CONFIG_PATH_MAX + 1200], res[600];
    enum db_type to = DB_SQLITE;
    if (type == NULL || (strcmp(type, "sqlite") != 0 && strcmp(type, "postgresql") != 0) ||
        (json_object_get(body, "reason") && (reason == NULL || strlen(reason) > 400)) ||
        (jro != NULL && !json_is_boolean(jro))) {
        json_decref(body);
        refuse(a, who, req, id, 400, "invalid request",
               "the body is {\"type\": \"sqlite\" | \"postgresql\", \"read_only\": true | false "
               "(optional, default false), \"reason\": text (optional, at most 400 bytes)}");
        return;
    }
    to = strcmp(type, "postgresql") == 0 ? DB_POSTGRESQL : DB_SQLITE;
    bool ro = json_is_true(jro);
    const struct config_tenant_entry *e = config_find_tenant(c, id);
    if (e == NULL) {
        json_decref(body);
        refuse(a, who, req, id, 404, "no such tenant", id);
        return;
    }
    if (!e->valid || admin_op_busy(a, id) || (to == DB_POSTGRESQL && c->g.pg_url[0] == '\0')) {
        snprintf(detail, sizeof detail, "%s",
                 !e->valid              ? "the tenant file is invalid: fix it first"
                 : admin_op_busy(a, id) ? "an onboarding or offboarding of this tenant runs"
                                        : "tenantd.ini has no [postgresql] url");
        json_decref(body);
        refuse(a, who, req, id, 409, "cannot switch the database", detail);
        return;
    }
    enum db_type from = e->t.database;
    char file[CONFIG_TENANT_FILE_MAX];
    config_tenant_file(&c->g, id, file, sizeof file);
    const char *from_word = from == DB_POSTGRESQL ? "postgresql" : "sqlite";
    char *old = NULL, *text = malloc(TEXT_MAX), *text2 = malloc(TEXT_MAX);
    size_t len = 0;
    struct config_tenant *t = calloc(1, sizeof *t);
    struct config_diag d = {0};
    bool changed = false;
    int rc = text && text2 && t ? util_read_file(file, TEXT_MAX / 2, &old, &len) : -ENOMEM;
    if (rc == 0)
        rc = config_set_database_text(old, to, text2, TEXT_MAX);
    if (rc == 0)
        rc = config_set_read_only_text(text2, ro, text, TEXT_MAX);
    if (rc == 0 &&
        (config_parse_tenant(&c->g, &c->plans, id, file, text, strlen(text), t, &d) != 0 ||
         t->database != to || t->db_read_only != ro))
        rc = -EINVAL;
    changed = rc == 0 && (from != to || e->t.db_read_only != ro);
    if (changed)
        rc = write_atomic(file, text);
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        snprintf(detail, sizeof detail, "%s: %s", file,
                 rc == -EINVAL && msg && *msg ? msg : strerror(-rc));
        free(msg);
    }
    config_diag_clear(&d);
    free(old);
    free(text);
    free(text2);
    free(t);
    if (rc != 0) {
        json_decref(body);
        refuse(a, who, req, id, rc == -EINVAL ? 409 : 500, "cannot switch the database", detail);
        return;
    }
    char err[512] = "";
    if (changed)
        sup_reload(a->sup, err, sizeof err);
    snprintf(res, sizeof res, "ok: %s -> %s%s%s%.400s", from_word, type, ro ? ", read-only" : "",
             reason ? ": " : "", reason ? reason : "");
    admin_audit(a, who, "migrate", id, res);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "database", json_string(type));
    json_object_set_new(o, "previous", json_string(from_word));
    json_object_set_new(o, "read_only", json_boolean(ro));
    json_decref(body);
    admin_send_json(req, 200, o);
}
