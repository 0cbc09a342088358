/*
 * admin_list.c — GET /v1/tenants: every tenant, or a page of those that
 * match filters, so that a list stays cheap at ten thousand tenants. The
 * body stays one JSON array (what tenantctl status --json prints); the
 * paging goes in headers:
 *
 *   ?state=running,backoff   only these states (names of tstate_name)
 *   ?plan=starter            only this plan
 *   ?q=dupont                id, name or subdomain contains this (ASCII
 *                            case-blind; URL-encoded)
 *   ?sort=unhealthy          failed, backoff, invalid file or failing health
 *                            first, then by id (default: by id)
 *   ?limit=N                 at most N tenants (1..10000; default: all)
 *   ?after=ID                those after ID in id order (default sort only)
 *   ?offset=N                skip the first N matches
 *
 *   X-Total-Count: how many match the filters (all pages)
 *   X-Next-After:  the id to pass as after= for the next page, when one is left
 *
 * Filters read sup_tenant_brief (no /proc); only the page is snapshotted.
 */
#include "admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status_json.h"
#include "sup.h"

#define LIST_LIMIT_MAX 10000
#define LIST_STATES_MAX 128

struct list_query {
    bool state[TS__COUNT];
    bool any_state;
    char plan[CONFIG_ID_MAX];
    char q[CONFIG_TEXT_MAX];
    char after[CONFIG_ID_MAX];
    bool unhealthy_first;
    size_t limit, offset;
};

static bool parse_count(const char *s, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || v > max)
        return false;
    *out = (size_t)v;
    return true;
}

/* Decode a query value in place: '+' is a space, %XX a byte. False when a
 * %XX is malformed or decodes to a NUL or a control character. */
static bool url_decode(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            unsigned v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = p[k];
                if (h >= '0' && h <= '9')
                    v = v * 16 + (unsigned)(h - '0');
                else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
                    v = v * 16 + (unsigned)((h | 0x20) - 'a' + 10);
                else
                    return false;
            }
            p += 2;
            c = (unsigned char)v;
        }
        if (c < 0x20 || c == 0x7f)
            return false;
        *o++ = (char)c;
    }
    *o = '\0';
    return true;
}

/* Fill lq from the query string; false after answering 400 naming what is wrong. */
static bool parse_query(h2o_req_t *req, h2o_iovec_t query, struct list_query *lq)
{
    char buf[LIST_STATES_MAX];
    memset(lq, 0, sizeof *lq);
    lq->limit = LIST_LIMIT_MAX;
    if (admin_query_get(query, "state", buf, sizeof buf)) {
        char *save = NULL;
        for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            enum tstate st;
            if (tstate_parse(w, &st) < 0) {
                admin_send_error(req, 400, "invalid state",
                                 "state: one or more of stopped starting running stopping "
                                 "backoff failed suspended idle, comma-separated");
                return false;
            }
            lq->state[st] = true;
            lq->any_state = true;
        }
    }
    if (admin_query_get(query, "plan", lq->plan, sizeof lq->plan) && !config_valid_id(lq->plan) &&
        strcmp(lq->plan, "") != 0) {
        admin_send_error(req, 400, "invalid plan", "plan: a plan name ([a-z][a-z0-9-]*)");
        return false;
    }
    if (admin_query_get(query, "q", lq->q, sizeof lq->q) && !url_decode(lq->q)) {
        admin_send_error(req, 400, "invalid q", "q: text to search, URL-encoded");
        return false;
    }
    if (admin_query_get(query, "after", lq->after, sizeof lq->after) &&
        !config_valid_id(lq->after)) {
        admin_send_error(req, 400, "invalid after", "after: a tenant id");
        return false;
    }
    if (admin_query_get(query, "sort", buf, sizeof buf)) {
        if (strcmp(buf, "unhealthy") == 0) {
            lq->unhealthy_first = true;
        } else if (strcmp(buf, "id") != 0) {
            admin_send_error(req, 400, "invalid sort", "sort: id or unhealthy");
            return false;
        }
    }
    if (lq->unhealthy_first && lq->after[0]) {
        admin_send_error(req, 400, "invalid after",
                         "after: pages by id; with sort=unhealthy use offset");
        return false;
    }
    if (admin_query_get(query, "limit", buf, sizeof buf) &&
        (!parse_count(buf, LIST_LIMIT_MAX, &lq->limit) || lq->limit == 0)) {
        admin_send_error(req, 400, "invalid limit", "limit: an integer from 1 to 10000");
        return false;
    }
    if (admin_query_get(query, "offset", buf, sizeof buf) &&
        !parse_count(buf, (size_t)1 << 30, &lq->offset)) {
        admin_send_error(req, 400, "invalid offset", "offset: an integer from 0");
        return false;
    }
    return true;
}

static bool matches(const struct list_query *lq, const struct tenant_brief *b)
{
    if (lq->any_state && !lq->state[b->state])
        return false;
    if (lq->plan[0] && strcmp(lq->plan, b->plan) != 0)
        return false;
    if (lq->after[0] && strcmp(b->id, lq->after) <= 0)
        return false;
    if (lq->q[0] && !strcasestr(b->id, lq->q) && !strcasestr(b->name, lq->q) &&
        !strcasestr(b->subdomain, lq->q))
        return false;
    return true;
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *v = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(v, value, n + 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v, n);
}

void admin_list_tenants(struct admin *a, h2o_req_t *req, h2o_iovec_t query)
{
    struct list_query lq;
    if (!parse_query(req, query, &lq))
        return;
    size_t n = sup_tenant_count(a->sup);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (idx == NULL) {
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    /* The matches in id order; with sort=unhealthy, the unhealthy ones first
     * (two passes keep each group in id order). */
    size_t m = 0;
    for (int pass = 0; pass < (lq.unhealthy_first ? 2 : 1); pass++) {
        for (size_t i = 0; i < n; i++) {
            struct tenant_brief b;
            if (sup_tenant_brief(a->sup, i, &b) < 0 || !matches(&lq, &b))
                continue;
            if (lq.unhealthy_first && b.unhealthy != (pass == 0))
                continue;
            idx[m++] = i;
        }
    }
    size_t first = lq.offset < m ? lq.offset : m;
    size_t k = m - first < lq.limit ? m - first : lq.limit;
    struct tenant_view *v = calloc(k ? k : 1, sizeof *v);
    if (v == NULL) {
        free(idx);
        admin_send_error(req, 500, "internal", "out of memory");
        return;
    }
    size_t got = 0;
    for (size_t j = 0; j < k; j++)
        if (sup_tenant_view(a->sup, idx[first + j], &v[got]) == 0)
            got++;
    char num[32];
    snprintf(num, sizeof num, "%zu", m);
    add_header(req, "x-total-count", num);
    if (first + k < m && got > 0 && !lq.unhealthy_first)
        add_header(req, "x-next-after", v[got - 1].id);
    free(idx);
    admin_send_json(req, 200, status_json_tenants(v, got));
    free(v);
}
