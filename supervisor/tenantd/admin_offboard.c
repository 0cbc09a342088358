/*
 * admin_offboard.c — DELETE /v1/tenants/<id>: move the tenant file into
 * <data_dir>/../archive/<id>-<UTC>/, reload, wait until the worker is gone
 * (admin_op.c), then move the data dir and log there too. Nothing is deleted
 * unless purge is asked for.
 *
 * What it does not do: onboarding (admin_onboard.c).
 */
#include "admin_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "spawn.h"
#include "status_json.h"
#include "sup.h"
#include "util.h"

/* Append to a bounded message; what does not fit is cut. */
static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* ---- offboarding -------------------------------------------------------------- */

void admin_op_offboard_after_gone(struct admin_onboard *op)
{
    struct admin *a = op->a;
    if (op->pg && !op->pg_done) {
        admin_op_pg_offboard(op); /* pg_dump or drop, then here again */
        return;
    }
    char problems[1024] = "";
    struct stat st;
    if (op->purge) {
        admin_remove_tree(op->data_dir);
    } else if (lstat(op->data_dir, &st) == 0) {
        char to[CONFIG_PATH_MAX + 16];
        snprintf(to, sizeof to, "%s/data", op->archive);
        int rc = admin_move_path(op->data_dir, to);
        if (rc != 0)
            appendf(problems, sizeof problems, "data dir left at %s: %s; ", op->data_dir,
                    strerror(-rc));
    }
    if (lstat(op->log_path, &st) == 0) {
        if (op->purge) {
            unlink(op->log_path);
        } else {
            char to[CONFIG_PATH_MAX + 64];
            snprintf(to, sizeof to, "%s/%s.log", op->archive, op->id);
            int rc = admin_move_path(op->log_path, to);
            if (rc != 0)
                appendf(problems, sizeof problems, "log left at %s: %s; ", op->log_path,
                        strerror(-rc));
        }
    }
    if (op->pg && op->fail_detail[0])
        appendf(problems, sizeof problems, "postgresql: %s; ", op->fail_detail);
    if (a->state)
        admin_state_set_desired(a->state, op->id, NULL, op->who.who);
    a->counters.offboardings++;
    char res[1200];
    snprintf(res, sizeof res, "ok%s%s%s", op->purge ? " (purged)" : "", problems[0] ? ": " : "",
             problems);
    admin_audit(a, &op->who, "offboard", op->id, res);
    if (op->req) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "id", json_string(op->id));
            json_object_set_new(o, "purged", json_boolean(op->purge));
            json_object_set_new(o, "archive",
                                op->purge ? json_null() : status_json_string(op->archive));
            if (problems[0])
                json_object_set_new(o, "warning", status_json_string(problems));
            if (op->pg && !op->purge && !op->fail_detail[0]) {
                char dump[CONFIG_PATH_MAX + 64];
                snprintf(dump, sizeof dump, "%s/%s.pgdump", op->archive, op->id);
                json_object_set_new(o, "database_dump", status_json_string(dump));
            }
        }
        admin_send_json(op->req, 200, o);
        op->req = NULL;
    }
    admin_op_finish(op);
}

void admin_offboard(struct admin *a, const struct admin_caller *who, h2o_req_t *req, const char *id,
                    bool purge)
{
    const struct config *c = cfg(a);
    char file[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8];
    snprintf(file, sizeof file, "%s/%s.ini", c->g.tenants_dir, id);
    struct tenant_view v;
    struct stat st;
    bool known = sup_tenant_find(a->sup, id, &v) == 0;
    bool has_file = lstat(file, &st) == 0;
    if (!known && !has_file) {
        admin_audit(a, who, "offboard", id, "error: no such tenant");
        admin_send_error(req, 404, "no such tenant", id);
        return;
    }
    if (admin_op_busy(a, id)) {
        admin_send_error(req, 409, "busy", "an onboarding or offboarding of this tenant runs");
        return;
    }
    struct admin_onboard *op = admin_op_new(a, who, req, OP_OFFBOARD, id);
    if (op == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    op->purge = purge;
    const struct config_tenant_entry *e = config_find_tenant(c, id);
    op->pg = e != NULL && e->valid && e->t.database == DB_POSTGRESQL;
    snprintf(op->file, sizeof op->file, "%s", file);
    config_tenant_data_dir(&c->g, id, op->data_dir, sizeof op->data_dir);
    config_tenant_log_path(&c->g, id, op->log_path, sizeof op->log_path);

    int rc = 0;
    if (!purge) {
        /* <data_dir>/../archive/<id>-<UTC>/ */
        char base[CONFIG_PATH_MAX];
        snprintf(base, sizeof base, "%s", c->g.data_dir);
        char *parent = dirname(base);
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(op->archive, sizeof op->archive, "%s/archive/%s-%s", parent, id, ts);
        for (int i = 2; lstat(op->archive, &st) == 0 && i < 100; i++)
            snprintf(op->archive, sizeof op->archive, "%s/archive/%s-%s-%d", parent, id, ts, i);
        rc = util_mkdir_p_modes(op->archive, 0755, 0700);
        if (rc == 0 && has_file) {
            char to[CONFIG_PATH_MAX + 64];
            snprintf(to, sizeof to, "%s/%s.ini", op->archive, id);
            rc = admin_move_path(file, to);
        }
    } else if (has_file && unlink(file) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        char d[CONFIG_PATH_MAX + 128];
        snprintf(d, sizeof d, "%s: %s", purge ? file : op->archive, strerror(-rc));
        admin_audit(a, who, "offboard", id, "error: cannot archive the tenant file");
        admin_send_error(req, 500, "cannot archive the tenant file", d);
        op->req = NULL;
        admin_op_finish(op);
        return;
    }
    char err[2048] = "";
    sup_reload(a->sup, err, sizeof err);
    log_info(id, "admin: offboarding: file %s, waiting for the worker to stop",
             purge ? "removed" : "archived");
    admin_op_wait_gone(op);
}
