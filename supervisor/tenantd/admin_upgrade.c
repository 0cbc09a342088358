/*
 * admin_upgrade.c — the admin API's face of an upgrade of tenantd
 * (upgrade.h): POST /v1/upgrade {"binary": PATH?} starts one and answers 202
 * at once with GET /v1/upgrade's object; the check (-n), the exec and the
 * outcome follow, and GET /v1/upgrade tells them apart: while in_progress
 * the old image works; then "last" holds {"result": "ok" | "failed" |
 * "rolled back", "reason", "attempt", "exec_count"} for the attempt number
 * POST answered. The request cannot be answered by the image that comes out
 * of the exec, hence the two calls (tenantctl upgrade makes both).
 */
#include "admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "upgrade.h"

int admin_upgrade_export(struct admin *a, json_t *state)
{
    json_t *o = json_object();
    uv_os_fd_t fd;
    int rc = json_object_set_new(state, "admin", o) < 0 ? -ENOMEM : 0;
    if (rc == 0 && a->unix_open && uv_fileno((uv_handle_t *)&a->unix_listener, &fd) == 0)
        rc = upgrade_keep_fd(o, "unix", fd);
    if (rc == 0 && a->tcp_open && uv_fileno((uv_handle_t *)&a->tcp_listener, &fd) == 0)
        rc = upgrade_keep_fd(o, "tcp", fd);
    return rc;
}

void admin_upgrade_busy(const struct admin *a, char *why, size_t n)
{
    /* Their children (tenant-worker --create-admin) and their answers would
     * not survive the exec. A GET ?wait= does not hold one back: the exec
     * drops it, and tenantctl wait reports a lost connection. */
    if (a->onboards)
        snprintf(why, n, "an onboarding, offboarding or create-admin is under way");
    else if (a->backups)
        snprintf(why, n, "a backup request is waiting for its answer");
    else if (a->usages)
        snprintf(why, n, "a usage request is waiting for a worker");
}

void admin_upgrade_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r)
{
    (void)a;
    (void)who;
    (void)r;
    admin_send_json(req, 200, upgrade_status_json());
}

void admin_upgrade_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                        const struct admin_req *r)
{
    (void)r;
    char binary[1024] = "", err[1024] = "";
    if (req->entity.len > 0) {
        json_error_t je;
        json_t *body = json_loadb(req->entity.base, req->entity.len, 0, &je);
        json_t *b = json_object_get(body, "binary");
        if (!json_is_object(body) || (b && !json_is_string(b))) {
            json_decref(body);
            admin_send_error(req, 400, "invalid body",
                             "expected {\"binary\": \"/absolute/path/to/tenantd\"} or {}");
            return;
        }
        if (b && strlen(json_string_value(b)) >= sizeof binary) {
            json_decref(body);
            admin_send_error(req, 400, "invalid binary", "the path is too long");
            return;
        }
        if (b)
            snprintf(binary, sizeof binary, "%s", json_string_value(b));
        json_decref(body);
    }
    int rc = upgrade_start(binary[0] ? binary : NULL, NULL, NULL, err, sizeof err);
    if (rc < 0) {
        char res[1100];
        snprintf(res, sizeof res, "refused: %s", err);
        admin_audit(a, who, "upgrade", "", res);
        admin_send_error(req,
                         rc == -EBUSY    ? 409
                         : rc == -EINVAL ? 400
                                         : 500,
                         "upgrade refused", err);
        return;
    }
    admin_audit(a, who, "upgrade", "", binary[0] ? binary : "started");
    admin_send_json(req, 202, upgrade_status_json());
}
