/*
 * http_gdpr.c — the routes of the calendar feed and of a client file's
 * export that need more of the request than a model operation gets: the
 * host name (the feed's URL), the query beside a path argument (the
 * export's format), a body that is not JSON (text/calendar, HTML).
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdpr.h"
#include "ical.h"

/* Send a malloc'd buffer and free it: copied into the request's pool on the
 * loop thread, captured as a copy on a pool thread. */
static void send_owned(struct call *c, const char *ctype, char *data, size_t len, enum kind kind)
{
    if (http_tls_reply != NULL) {
        http_send_bytes(c->req, 200, ctype, data, len, kind);
        free(data);
        return;
    }
    char *copy = h2o_mem_alloc_pool(&c->req->pool, len + 1);
    memcpy(copy, data, len);
    free(data);
    http_send_bytes(c->req, 200, ctype, copy, len, kind);
}

/* The host the client used, if it is a plain host[:port]; else "". */
static void request_host(h2o_req_t *req, char *out, size_t n)
{
    size_t k = 0;
    out[0] = '\0';
    if (req->authority.len == 0 || req->authority.len >= n)
        return;
    for (size_t i = 0; i < req->authority.len; i++) {
        char ch = req->authority.base[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == ':' || ch == '[' || ch == ']'))
            return;
        out[k++] = ch;
    }
    out[k] = '\0';
}

void http_route_ical_create(struct call *c)
{
    struct wctx ctx = http_make_ctx(c);
    struct wres w = ical_feed_create(&ctx, NULL, NULL);
    char host[256], url[400];
    const char *scheme = "http";
    ssize_t i;

    if (w.status == 201 && w.body != NULL) {
        request_host(c->req, host, sizeof host);
        i = h2o_find_header_by_str(&c->req->headers, H2O_STRLIT("x-forwarded-proto"), -1);
        if (i >= 0 && h2o_lcstris(c->req->headers.entries[i].value.base,
                                  c->req->headers.entries[i].value.len, H2O_STRLIT("https")))
            scheme = "https";
        if (host[0] != '\0') {
            snprintf(url, sizeof url, "%s://%s%s", scheme, host,
                     json_string_value(json_object_get(w.body, "path")));
            json_object_set_new(w.body, "url", json_string(url));
        }
    }
    http_send_wres(c->req, w);
}

void http_route_ical(struct call *c)
{
    struct wctx ctx = http_make_ctx(c);
    char *out = NULL;
    size_t len = 0;
    int status = ical_feed_get(&ctx, c->arg, &out, &len);

    if (status == 404) {
        http_send_error(c->req, 404, "not_found", "no calendar feed at this address");
        return;
    }
    if (status != 200 || out == NULL) {
        free(out);
        http_send_error(c->req, 500, "internal", "the calendar could not be made");
        return;
    }
    send_owned(c, "text/calendar; charset=utf-8", out, len, K_API);
}

void http_route_case_export(struct call *c)
{
    struct wctx ctx = http_make_ctx(c);
    h2o_req_t *req = c->req;
    int html = 0;

    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1;
        size_t n = req->path.len - req->query_at - 1;
        if (n == 11 && memcmp(q, "format=html", 11) == 0) {
            html = 1;
        } else if (!(n == 11 && memcmp(q, "format=json", 11) == 0) && n != 0) {
            http_send_error(req, 400, "invalid_request",
                            "format: \"json\" or \"html\" (the only query parameter here)");
            return;
        }
    }
    struct wres w = gdpr_case_export(&ctx, NULL, c->arg);
    if (w.status != 200 || !html) {
        http_send_wres(req, w);
        return;
    }
    size_t len = 0;
    char *page = gdpr_export_html(w.body, ctx.env, &len);
    json_decref(w.body);
    if (page == NULL) {
        http_send_error(req, 500, "internal", "out of memory");
        return;
    }
    send_owned(c, "text/html; charset=utf-8", page, len, K_PRINT);
}
