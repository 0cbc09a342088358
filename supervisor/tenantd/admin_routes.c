/*
 * admin_routes.c — the routes of the admin JSON API (DESIGN.md "Admin
 * surface"). Every request reaches admin_route() after authentication; it
 * answers every request itself, with a JSON error for unknown routes, so no
 * h2o default page is ever served.
 *
 * Paths are matched on the raw request path, segment by segment. A tenant id
 * taken from a path is checked with config_valid_id before anything looks it
 * up, so hostile ids ("..%2f..", "a;b", very long ones) end in 400 and never
 * reach a file name.
 */
#include "admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup_sched.h"
#include "http_status.h"
#include "log.h"
#include "proxy.h"
#include "status_json.h"
#include "sup.h"
#include "usage_fetch.h"
#include "usage_shape.h"
#include "usage_token.h"

/* The request path split into at most a few segments, without the query. */
#define MAX_SEGS 6
struct route {
    h2o_iovec_t seg[MAX_SEGS];
    size_t n;
    bool too_many;
    h2o_iovec_t query;
};

static void split_path(h2o_iovec_t path, struct route *r)
{
    memset(r, 0, sizeof *r);
    size_t end = path.len;
    const char *q = memchr(path.base, '?', path.len);
    if (q != NULL) {
        end = (size_t)(q - path.base);
        r->query = h2o_iovec_init(q + 1, path.len - end - 1);
    }
    size_t i = 0;
    while (i < end) {
        while (i < end && path.base[i] == '/')
            i++;
        if (i >= end)
            break;
        size_t start = i;
        while (i < end && path.base[i] != '/')
            i++;
        if (r->n == MAX_SEGS) {
            r->too_many = true;
            return;
        }
        r->seg[r->n++] = h2o_iovec_init(path.base + start, i - start);
    }
}

static bool seg_is(h2o_iovec_t s, const char *lit)
{
    return h2o_memis(s.base, s.len, lit, strlen(lit));
}

/* Copy a path segment holding a tenant id into buf and validate it. Returns
 * false (after answering 400) when it is not a valid id. */
static bool take_id(h2o_req_t *req, h2o_iovec_t seg, char *buf, size_t cap)
{
    if (seg.len == 0 || seg.len >= cap || memchr(seg.base, '\0', seg.len) != NULL) {
        admin_send_error(req, 400, "invalid tenant id",
                         "an id matches ^[a-z][a-z0-9-]{0,30}$ and is not reserved");
        return false;
    }
    memcpy(buf, seg.base, seg.len);
    buf[seg.len] = '\0';
    if (!config_valid_id(buf)) {
        admin_send_error(req, 400, "invalid tenant id",
                         "an id matches ^[a-z][a-z0-9-]{0,30}$ and is not reserved");
        return false;
    }
    return true;
}

/* A snapshot of every tenant into a new array (*k entries; the caller frees
 * it), or NULL after answering 500 when memory ran out. */
static struct tenant_view *snapshot_tenants(struct admin *a, h2o_req_t *req, size_t *k)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    *k = 0;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view(a->sup, i, &v[*k]) == 0)
            (*k)++;
    return v;
}

static void get_tenant(struct admin *a, h2o_req_t *req, const char *id)
{
    struct tenant_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    if (sup_tenant_find(a->sup, id, v) != 0) {
        admin_send_error(req, 404, "no such tenant", id);
    } else {
        admin_send_json(req, 200, status_json_tenant(v));
    }
    free(v);
}

void admin_audit(struct admin *a, const struct admin_caller *who, const char *action,
                 const char *tenant, const char *result)
{
    log_info(tenant && *tenant ? tenant : NULL, "admin: %s by %s: %s", action, who->who, result);
    if (a->state)
        admin_state_audit(a->state, who->who, action, tenant, result);
}

/* Value of a query parameter (raw, not decoded), or NULL. */
bool admin_query_get(h2o_iovec_t q, const char *key, char *buf, size_t cap)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.base[end] != '&')
            end++;
        if (end - i >= klen && memcmp(q.base + i, key, klen) == 0 &&
            (end - i == klen || q.base[i + klen] == '=')) {
            size_t vs = end - i == klen ? end : i + klen + 1;
            size_t vl = end - vs;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, q.base + vs, vl);
            buf[vl] = '\0';
            return true;
        }
        i = end + 1;
    }
    return false;
}

static const struct {
    const char *name;
    enum sup_action act;
    const char *desired; /* what to persist on success; NULL clears */
} actions[] = {
    {"start", SUP_START, NULL},     {"stop", SUP_STOP, "stopped"},
    {"restart", SUP_RESTART, NULL}, {"suspend", SUP_SUSPEND, "suspended"},
    {"resume", SUP_RESUME, NULL},
};

static void post_action(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                        const char *id, size_t k)
{
    char err[512] = "";
    /* The wish is recorded before it is acted on: an action tenantd could not
     * remember across a restart (state.db on a full disk) is refused, never
     * acknowledged. On a refusal below, the previous wish is put back. */
    const char *before = a->state ? admin_state_get_desired(a->state, id) : NULL;
    struct tenant_view *tv = calloc(1, sizeof *tv);
    bool known = tv != NULL && sup_tenant_find(a->sup, id, tv) == 0;
    free(tv);
    if (a->state && known &&
        admin_state_set_desired(a->state, id, actions[k].desired, who->who) < 0) {
        admin_audit(a, who, actions[k].name, id, "error: cannot record the desired state");
        admin_send_error(req, 507, "cannot record the action",
                         "state.db could not record it (is the run dir's disk full?); nothing "
                         "was done");
        return;
    }
    int rc = sup_tenant_action(a->sup, id, actions[k].act, err, sizeof err);
    if (rc != 0 && a->state)
        admin_state_set_desired(a->state, id, before, who->who);
    if (rc == -ENOENT) {
        admin_audit(a, who, actions[k].name, id, "error: no such tenant");
        admin_send_error(req, 404, "no such tenant", id);
        return;
    }
    if (rc != 0) {
        char res[600];
        snprintf(res, sizeof res, "error: %s", err[0] ? err : strerror(-rc));
        admin_audit(a, who, actions[k].name, id, res);
        admin_send_error(req, rc == -EINVAL ? 409 : 500, "action refused",
                         err[0] ? err : strerror(-rc));
        return;
    }
    admin_audit(a, who, actions[k].name, id, "ok");
    struct tenant_view *v = calloc(1, sizeof *v);
    json_t *o = json_object();
    if (v == NULL || o == NULL) {
        free(v);
        json_decref(o);
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "action", json_string(actions[k].name));
    json_object_set_new(o, "accepted", json_true());
    if (sup_tenant_find(a->sup, id, v) == 0)
        json_object_set_new(o, "tenant", status_json_tenant(v));
    free(v);
    admin_send_json(req, 202, o);
}

/* One request waiting for its backup. Once admin_stop has answered it, it is
 * detached: the scheduler's callback then only frees it, since the admin
 * surface may be gone by then. */
struct admin_backup_wait {
    struct admin *a;
    struct admin_backup_wait *next;
    h2o_req_t *req;
    struct admin_caller who;
    char id[CONFIG_ID_MAX];
    bool detached;
};

static void backup_unlink(struct admin_backup_wait *w)
{
    for (struct admin_backup_wait **p = &w->a->backups; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}

static void on_backup_done(int rc, const char *path_or_error, void *arg)
{
    struct admin_backup_wait *w = arg;
    if (w->detached) {
        free(w);
        return;
    }
    struct admin *a = w->a;
    backup_unlink(w);
    if (rc == 0) {
        admin_audit(a, &w->who, "backup", w->id, "ok");
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "id", json_string(w->id));
            json_object_set_new(o, "path", status_json_string(path_or_error));
        }
        admin_send_json(w->req, 200, o);
    } else {
        char res[600];
        snprintf(res, sizeof res, "error: %.500s", path_or_error ? path_or_error : "");
        admin_audit(a, &w->who, "backup", w->id, res);
        int status = rc == -ENOENT ? 409 : rc == -ECANCELED ? 503 : 500;
        admin_send_error(w->req, status, "backup failed",
                         path_or_error ? path_or_error : strerror(-rc));
    }
    free(w);
}

void admin_backup_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const char *id)
{
    if (a->backup == NULL) {
        admin_send_error(req, 404, "not found", "no such route");
        return;
    }
    struct admin_backup_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    w->a = a;
    w->req = req;
    w->who = *who;
    snprintf(w->id, sizeof w->id, "%s", id);
    int rc = backup_sched_now(a->backup, id, on_backup_done, w);
    if (rc != 0) {
        free(w);
        admin_audit(a, who, "backup", id, rc == -ENOENT ? "error: no such tenant" : "error");
        if (rc == -ENOENT)
            admin_send_error(req, 404, "no such tenant", id);
        else
            admin_send_error(req, 503, "backup refused", strerror(-rc));
        return;
    }
    w->next = a->backups;
    a->backups = w;
}

void admin_backup_abort_all(struct admin *a)
{
    while (a->backups) {
        struct admin_backup_wait *w = a->backups;
        a->backups = w->next;
        admin_send_error(w->req, 503, "shutting down", "tenantd is stopping");
        w->detached = true;
    }
}

/* One request waiting for a worker's usage; freed by its fetch's callback,
 * or at stop after answering (the fetch is then cancelled). */
#define USAGE_TIMEOUT_MS 2000

struct admin_usage_wait {
    struct admin *a;
    struct admin_usage_wait *next;
    h2o_req_t *req;
    struct usage_fetch *fetch;
    char id[CONFIG_ID_MAX];
};

static void usage_unlink(struct admin_usage_wait *w)
{
    for (struct admin_usage_wait **p = &w->a->usages; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}

static void on_usage(void *arg, int result, const char *body, size_t len)
{
    struct admin_usage_wait *w = arg;
    usage_unlink(w);
    if (result == 200) {
        /* Any worker may run there: only the seed's fields, checked, go on. */
        char why[128];
        json_t *j = json_loadb(body, len, 0, NULL);
        json_t *u = usage_shape(j, w->id, why, sizeof why);
        json_decref(j);
        if (u != NULL) {
            admin_billing_record(w->a, w->id, u);
            admin_send_json(w->req, 200, u);
        } else {
            log_warn(w->id, "usage: the worker's answer is refused: %s", why);
            admin_send_error(w->req, 502, "bad gateway", why);
        }
    } else if (result == UV_ETIMEDOUT) {
        admin_send_error(w->req, 504, "gateway timeout", "the worker did not answer in time");
    } else {
        char d[128];
        if (result > 0)
            snprintf(d, sizeof d, "the worker answered %d", result);
        else
            snprintf(d, sizeof d, "cannot ask the worker: %s", uv_strerror(result));
        log_warn(w->id, "usage: %s", d);
        admin_send_error(w->req, 502, "bad gateway", d);
    }
    free(w);
}

void admin_usage_get(struct admin *a, h2o_req_t *req, const char *id)
{
    char token[USAGE_TOKEN_LEN + 1];
    int port = 0;
    int rc = sup_tenant_usage_target(a->sup, id, &port, token, sizeof token);
    if (rc == -ENOENT) {
        admin_send_error(req, 404, "no such tenant", id);
        return;
    }
    if (rc < 0) {
        admin_send_error(req, 409, "not running", "the tenant's worker is not running");
        return;
    }
    struct admin_usage_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        sodium_memzero(token, sizeof token);
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    w->a = a;
    w->req = req;
    snprintf(w->id, sizeof w->id, "%s", id);
    rc = usage_fetch_start(a->loop, port, token, USAGE_TIMEOUT_MS, on_usage, w, &w->fetch);
    sodium_memzero(token, sizeof token);
    if (rc < 0) {
        free(w);
        admin_send_error(req, 502, "bad gateway", uv_strerror(rc));
        return;
    }
    w->next = a->usages;
    a->usages = w;
}

void admin_usage_abort_all(struct admin *a)
{
    while (a->usages) {
        struct admin_usage_wait *w = a->usages;
        a->usages = w->next;
        usage_fetch_cancel(w->fetch);
        admin_send_error(w->req, 503, "shutting down", "tenantd is stopping");
        free(w);
    }
}

void admin_set_backup_sched(struct admin *a, struct backup_sched *bs)
{
    if (a != NULL)
        a->backup = bs;
}

void admin_set_proxy(struct admin *a, struct proxy *p)
{
    if (a != NULL)
        a->proxy = p;
}

static void post_reload(struct admin *a, const struct admin_caller *who, h2o_req_t *req)
{
    char err[4096] = "";
    int rc = sup_reload(a->sup, err, sizeof err);
    /* As on SIGHUP: re-render even if no tenant changed (e.g. a fixed
     * template); the proxy's state then shows in GET /v1/proxy. */
    if (a->proxy != NULL)
        proxy_request_apply(a->proxy);
    if (rc != 0) {
        char res[600];
        snprintf(res, sizeof res, "error: %.500s", err);
        admin_audit(a, who, "reload", "", res);
        admin_send_error(req, 422, "configuration invalid", err[0] ? err : strerror(-rc));
        return;
    }
    admin_audit(a, who, "reload", "", "ok");
    json_t *o = json_object();
    if (o)
        json_object_set_new(o, "reloaded", json_true());
    admin_send_json(req, 200, o);
}

static void get_events(struct admin *a, h2o_req_t *req, h2o_iovec_t query)
{
    char buf[16];
    long limit = 50;
    if (admin_query_get(query, "limit", buf, sizeof buf)) {
        char *end;
        limit = strtol(buf, &end, 10);
        if (*end != '\0' || end == buf || limit < 1 || limit > 1000) {
            admin_send_error(req, 400, "invalid limit", "limit is an integer from 1 to 1000");
            return;
        }
    }
    if (a->state == NULL) {
        admin_send_error(req, 503, "no audit log", "state.db could not be opened; see the log");
        return;
    }
    admin_send_json(req, 200, admin_state_events(a->state, (int)limit));
}

/* The reverse proxy's state: whether the last configuration was applied,
 * and nginx's own message when it was refused (issue 4). */
static void get_proxy(struct admin *a, h2o_req_t *req)
{
    if (a->proxy == NULL) {
        admin_send_error(req, 503, "no proxy",
                         "the proxy is not running: it could not start (see tenantd's log) or "
                         "tenantd is stopping");
        return;
    }
    struct proxy_stats st;
    proxy_get_stats(a->proxy, &st);
    admin_send_json(req, 200, status_json_proxy(&st, proxy_last_error(a->proxy)));
}

static void get_metrics(struct admin *a, h2o_req_t *req)
{
    size_t k;
    struct tenant_view *v = snapshot_tenants(a, req, &k);
    if (v == NULL)
        return;
    /* Reloads are counted by the supervisor, whatever asked for them. */
    struct admin_counters c = a->counters;
    struct sup_counts sc;
    sup_get_counts(a->sup, &sc);
    c.reloads = sc.reloads;
    c.spawn_transient = sc.spawn_transient_failures;
    struct admin_proxy_metrics pm, *px = NULL;
    if (a->proxy != NULL) {
        struct proxy_stats st;
        proxy_get_stats(a->proxy, &st);
        pm.config_ok = proxy_last_error(a->proxy)[0] == '\0';
        pm.reloads = st.reloads;
        pm.failures = st.failures;
        px = &pm;
    }
    char *text = NULL;
    size_t len = 0;
    if (admin_metrics_render(v, k, &c, px, &text, &len) != 0) {
        free(v);
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    admin_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    free(v);
}

/* The dashboard page: static HTML with its script inline. It holds no data;
 * every call it makes needs the token, like any other client. */
static void get_index(struct admin *a, h2o_req_t *req)
{
    char path[CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/admin/index.html", sup_config(a->sup)->g.templates_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        admin_send_error(req, 404, "no dashboard", "templates/admin/index.html is missing");
        return;
    }
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = ncap <= (4u << 20) ? realloc(buf, ncap) : NULL;
            if (nb == NULL) {
                free(buf);
                fclose(f);
                admin_send_error(req, 500, "internal", "dashboard page too large");
                return;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    static const char csp[] =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'";
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0,
                          NULL, csp, sizeof csp - 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL,
                          H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    admin_send(req, 200, "text/html; charset=utf-8", buf, len);
    free(buf);
}

/* ---- the route table ------------------------------------------------------- */

/* The adapters between the table's one handler type and the handlers above. */
static void h_index(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r)
{
    get_index(a, req);
}
static void h_metrics(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    get_metrics(a, req);
}
static void h_reload(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    post_reload(a, who, req);
}
static void h_plans(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r)
{
    admin_send_json(req, 200, status_json_plans(&sup_config(a->sup)->plans));
}
static void h_proxy(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r)
{
    get_proxy(a, req);
}
static void h_events(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    get_events(a, req, r->query);
}
static void h_tenants(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    admin_list_tenants(a, req, r->query);
}
static void h_onboard(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    admin_onboard_post(a, who, req);
}
static void h_tenant(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    char wait[32];
    if (admin_query_get(r->query, "wait", wait, sizeof wait)) {
        admin_wait_get(a, req, r->id, r->query);
        return;
    }
    get_tenant(a, req, r->id);
}
static void h_offboard(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r)
{
    char purge[8] = "";
    admin_query_get(r->query, "purge", purge, sizeof purge);
    admin_offboard(a, who, req, r->id, strcmp(purge, "1") == 0 || strcmp(purge, "true") == 0);
}
static void h_admins(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    admin_create_admin_post(a, who, req, r->id);
}
static void h_usage(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r)
{
    admin_usage_get(a, req, r->id);
}
static void h_billing(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    admin_billing_get(a, req, r->query);
}
static void h_alerts(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    admin_alerts_get(a, req);
}
static void h_backup(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    admin_backup_post(a, who, req, r->id);
}
static void h_database(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r)
{
    admin_database_post(a, who, req, r->id);
}
static void h_migration(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                        const struct admin_req *r)
{
    admin_migration_post(a, who, req, r->id);
}
static void h_action(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                     const struct admin_req *r)
{
    char hold[8];
    /* stop?hold_socket=1 (tenantctl restore): the port stays bound, so
     * clients wait in the backlog for the next worker instead of being
     * refused. */
    if (r->route->arg == 1 && admin_query_get(r->query, "hold_socket", hold, sizeof hold) &&
        strcmp(hold, "1") == 0) {
        post_action(a, who, req, r->id, (size_t)r->route->arg);
        sup_tenant_hold_socket(a->sup, r->id, true);
        return;
    }
    post_action(a, who, req, r->id, (size_t)r->route->arg);
}

/* GET /v1/openapi.json: this table described (admin_openapi.c). */
static void h_openapi(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r)
{
    (void)a;
    (void)who;
    (void)r;
    json_t *doc = admin_openapi();
    if (doc == NULL)
        admin_send_error(req, 500, "internal", "out of memory");
    else
        admin_send_json(req, 200, doc);
}

/*
 * Every route of the admin API. A GET route also answers HEAD. For a path
 * that some route matches with another method, the answer is 405 with Allow
 * listing, in this order, the methods of the rows whose pattern matches: keep
 * a path's GET row before its others. '*' in a pattern is one path segment,
 * a tenant id, validated before anything else (admin_route).
 */
static const struct admin_route routes[] = {
    {"GET", "/", ADMIN_AUTH_NONE, h_index, 0}, /* the page holds no data */
    {"GET", "/metrics", ADMIN_AUTH_TOKEN, h_metrics, 0},
    {"POST", "/v1/reload", ADMIN_AUTH_TOKEN, h_reload, 0},
    {"GET", "/v1/upgrade", ADMIN_AUTH_TOKEN, admin_upgrade_get, 0},
    {"POST", "/v1/upgrade", ADMIN_AUTH_TOKEN, admin_upgrade_post, 0},
    {"GET", "/v1/plans", ADMIN_AUTH_TOKEN, h_plans, 0},
    {"GET", "/v1/proxy", ADMIN_AUTH_TOKEN, h_proxy, 0},
    {"GET", "/v1/events", ADMIN_AUTH_TOKEN, h_events, 0},
    {"GET", "/v1/billing", ADMIN_AUTH_TOKEN, h_billing, 0},
    {"GET", "/v1/alerts", ADMIN_AUTH_TOKEN, h_alerts, 0},
    {"GET", "/v1/openapi.json", ADMIN_AUTH_TOKEN, h_openapi, 0},
    {"GET", "/v1/tenants", ADMIN_AUTH_TOKEN, h_tenants, 0},
    {"POST", "/v1/tenants", ADMIN_AUTH_TOKEN, h_onboard, 0},
    {"GET", "/v1/tenants/*", ADMIN_AUTH_TOKEN, h_tenant, 0},
    {"DELETE", "/v1/tenants/*", ADMIN_AUTH_TOKEN, h_offboard, 0},
    {"POST", "/v1/tenants/*/admins", ADMIN_AUTH_TOKEN, h_admins, 0},
    {"GET", "/v1/tenants/*/usage", ADMIN_AUTH_TOKEN, h_usage, 0},
    {"GET", "/v1/tenants/*/history", ADMIN_AUTH_TOKEN, admin_history_get, 0},
    {"POST", "/v1/tenants/*/backup", ADMIN_AUTH_TOKEN, h_backup, 0},
    {"GET", "/v1/tenants/*/cert", ADMIN_AUTH_TOKEN, admin_cert_get, 0},
    {"POST", "/v1/tenants/*/cert/renew", ADMIN_AUTH_TOKEN, admin_cert_renew, 0},
    {"POST", "/v1/tenants/*/database", ADMIN_AUTH_TOKEN, h_database, 0},
    {"POST", "/v1/tenants/*/migration", ADMIN_AUTH_TOKEN, h_migration, 0},
    {"POST", "/v1/tenants/*/start", ADMIN_AUTH_TOKEN, h_action, 0},
    {"POST", "/v1/tenants/*/stop", ADMIN_AUTH_TOKEN, h_action, 1},
    {"POST", "/v1/tenants/*/restart", ADMIN_AUTH_TOKEN, h_action, 2},
    {"POST", "/v1/tenants/*/suspend", ADMIN_AUTH_TOKEN, h_action, 3},
    {"POST", "/v1/tenants/*/resume", ADMIN_AUTH_TOKEN, h_action, 4},
};

size_t admin_route_count(void)
{
    return sizeof routes / sizeof routes[0];
}

const struct admin_route *admin_route_at(size_t i)
{
    return i < admin_route_count() ? &routes[i] : NULL;
}

/* Does the split path r match pattern? '*' takes one segment, any bytes. */
static bool pattern_matches(const char *pattern, const struct route *r, h2o_iovec_t *star)
{
    size_t k = 0;
    const char *p = pattern;
    while (*p == '/')
        p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k >= r->n)
            return false;
        if (len == 1 && *p == '*')
            *star = r->seg[k];
        else if (!h2o_memis(r->seg[k].base, r->seg[k].len, p, len))
            return false;
        k++;
        p += len;
        while (*p == '/')
            p++;
    }
    return k == r->n;
}

static int route_lookup(const struct route *r, const char *method, size_t mlen,
                        const struct admin_route **out, h2o_iovec_t *star, char *allow,
                        size_t allowlen)
{
    bool path_seen = false;
    if (allowlen > 0)
        allow[0] = '\0';
    if (r->too_many)
        return -ENOENT;
    /* HEAD is GET without the body; admin_send drops it. */
    bool head = h2o_memis(method, mlen, H2O_STRLIT("HEAD"));
    for (size_t i = 0; i < admin_route_count(); i++) {
        if (!pattern_matches(routes[i].pattern, r, star))
            continue;
        if (h2o_memis(method, mlen, routes[i].method, strlen(routes[i].method)) ||
            (head && strcmp(routes[i].method, "GET") == 0)) {
            *out = &routes[i];
            return 0;
        }
        path_seen = true;
        http_allow_add(allow, allowlen, routes[i].method);
    }
    return path_seen ? -EPERM : -ENOENT;
}

int admin_route_find(const char *method, size_t mlen, const char *path, size_t plen,
                     const struct admin_route **out, char *allow, size_t allowlen)
{
    struct route r;
    h2o_iovec_t star = {NULL, 0};
    split_path(h2o_iovec_init(path, plen), &r);
    return route_lookup(&r, method, mlen, out, &star, allow, allowlen);
}

bool admin_route_public(h2o_req_t *req)
{
    const struct admin_route *rt = NULL;
    char allow[8];
    return admin_route_find(req->method.base, req->method.len, req->path.base, req->path.len, &rt,
                            allow, sizeof allow) == 0 &&
           rt->auth == ADMIN_AUTH_NONE;
}

int admin_route(struct admin *a, const struct admin_caller *who, h2o_req_t *req)
{
    struct route r;
    split_path(req->path, &r);
    a->counters.requests++;

    /* A tenant id in the path is checked before anything else looks at the
     * request, so a hostile one ends in 400 whatever follows it. */
    struct admin_req ar = {.query = r.query};
    if (!r.too_many && r.n >= 3 && seg_is(r.seg[0], "v1") && seg_is(r.seg[1], "tenants") &&
        !take_id(req, r.seg[2], ar.id, sizeof ar.id))
        return 0;

    char allow[64];
    h2o_iovec_t star = {NULL, 0};
    int rc =
        route_lookup(&r, req->method.base, req->method.len, &ar.route, &star, allow, sizeof allow);
    if (rc == -EPERM) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
        admin_send_error(req, 405, "method not allowed", allow);
        return 0;
    }
    if (rc < 0) {
        admin_send_error(req, 404, "not found", "no such route");
        return 0;
    }
    ar.route->fn(a, who, req, &ar);
    return 0;
}
