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

#include "status_json.h"
#include "sup.h"

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

static bool method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* GET routes also answer HEAD, with the same headers and no body. */
static bool is_get(h2o_req_t *req)
{
    return method_is(req, "GET") || method_is(req, "HEAD");
}

static void send_method_not_allowed(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    admin_send_error(req, 405, "method not allowed", allow);
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

static void get_tenants(struct admin *a, h2o_req_t *req)
{
    size_t n = sup_tenant_count(a->sup);
    struct tenant_view *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (sup_tenant_view(a->sup, i, &v[k]) == 0)
            k++;
    admin_send_json(req, 200, status_json_tenants(v, k));
    free(v);
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

int admin_route(struct admin *a, const struct admin_caller *who, h2o_req_t *req)
{
    (void)who;
    struct route r;
    split_path(req->path, &r);
    if (r.too_many)
        goto not_found;

    /* /v1/tenants[/<id>] */
    if (r.n >= 2 && seg_is(r.seg[0], "v1") && seg_is(r.seg[1], "tenants")) {
        if (r.n == 2) {
            if (!is_get(req)) {
                send_method_not_allowed(req, "GET, HEAD");
                return 0;
            }
            get_tenants(a, req);
            return 0;
        }
        char id[CONFIG_ID_MAX];
        if (!take_id(req, r.seg[2], id, sizeof id))
            return 0;
        if (r.n == 3) {
            if (!is_get(req)) {
                send_method_not_allowed(req, "GET, HEAD");
                return 0;
            }
            get_tenant(a, req, id);
            return 0;
        }
        goto not_found;
    }

not_found:
    admin_send_error(req, 404, "not found", "no such route");
    return 0;
}
