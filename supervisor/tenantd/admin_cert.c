/*
 * admin_cert.c — a tenant's ACME certificate through the admin API
 * (`tenantctl cert <id> [--renew]`):
 *   GET  /v1/tenants/<id>/cert        -> {"id", "cert": {state, not_after, ...}}
 *   POST /v1/tenants/<id>/cert/renew  -> the same, after queueing an issuance
 * and the audit hook acme.c calls once per issuance.
 */
#include "admin_internal.h"

#include <errno.h>
#include <string.h>

#include "acme.h"
#include "log.h"
#include "sup.h"

void admin_cert_audit(void *arg, const char *tenant, const char *result)
{
    struct admin_caller who = {.over_unix = false};
    if (arg == NULL)
        return;
    snprintf(who.who, sizeof who.who, "acme");
    admin_audit((struct admin *)arg, &who, "cert", tenant, result);
}

static void send_cert(h2o_req_t *req, const char *id)
{
    json_t *c = acme_cert_json(id);
    if (c == NULL) {
        admin_send_error(req, 409, "acme_disabled",
                         "ACME is off: set [acme] enabled = true in tenantd.ini");
        return;
    }
    admin_send_json(req, 200, json_pack("{s:s,s:o}", "id", id, "cert", c));
}

void admin_cert_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r)
{
    struct tenant_view v;
    (void)who;
    if (sup_tenant_find(a->sup, r->id, &v) < 0) {
        admin_send_error(req, 404, "not_found", "no such tenant");
        return;
    }
    send_cert(req, r->id);
}

void admin_cert_renew(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    struct tenant_view v;
    int rc;

    if (sup_tenant_find(a->sup, r->id, &v) < 0) {
        admin_send_error(req, 404, "not_found", "no such tenant");
        return;
    }
    rc = acme_renew_now(r->id);
    if (rc == -ENOENT) {
        admin_send_error(req, 409, "not_served",
                         "the tenant is not served by the proxy (cancelled or not yet rendered)");
        return;
    }
    if (rc == 0)
        admin_audit(a, who, "cert-renew", r->id, "issuance queued");
    send_cert(req, r->id);
}
