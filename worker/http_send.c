/*
 * http_send.c — the worker's answers: status and reason, Content-Length, the
 * security headers of each kind of answer (API, page, asset, printable
 * invoice), a model result serialised as JSON, errors as JSON
 * {"error","detail"}, and h2o's own 413/400/417 rewritten into the same JSON.
 *
 * On a pool thread (http_tls_reply set, see http_internal.h) the answer is
 * captured instead, and http_routes.c sends it from the loop thread.
 *
 * What this file does not do: decide the answer (http_routes.c), or own the
 * request (h2o does; data sent must live as long as the request's pool).
 */
#include "http.h"
#include "http_internal.h"

#include <h2o.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_status.h"

#define ADD_HEADER(req, tok, v)                                                                    \
    h2o_add_header(&(req)->pool, &(req)->res.headers, (tok), NULL, H2O_STRLIT(v))
#define ADD_HEADER_STR(req, name, v)                                                               \
    h2o_add_header_by_str(&(req)->pool, &(req)->res.headers, H2O_STRLIT(name), 0, NULL,            \
                          H2O_STRLIT(v))

__thread struct http_reply *http_tls_reply;

/* On a pool thread: keep the answer (data taken when owned, else copied). */
static void capture(int status, const char *ctype, const char *data, size_t len, enum kind kind,
                    char *owned)
{
    struct http_reply *r = http_tls_reply;

    free(r->data);
    r->data = owned;
    if (owned == NULL) {
        r->data = malloc(len > 0 ? len : 1);
        if (r->data == NULL) {
            r->status = 500;
            r->ctype = "application/json";
            r->len = 0;
            r->kind = K_API;
            return;
        }
        if (len > 0)
            memcpy(r->data, data, len);
    }
    r->status = status;
    r->ctype = ctype;
    r->len = len;
    r->kind = kind;
}

void http_send_bytes(h2o_req_t *req, int status, const char *ctype, const char *data, size_t len,
                     enum kind kind)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t buf = h2o_iovec_init(data, len);

    if (http_tls_reply != NULL) {
        capture(status, ctype, data, len, kind, NULL);
        return;
    }
    req->res.status = status;
    req->res.reason = http_reason(status);
    req->res.content_length = len;
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    ADD_HEADER_STR(req, "x-content-type-options", "nosniff");
    ADD_HEADER_STR(req, "x-frame-options", "DENY");
    ADD_HEADER_STR(req, "referrer-policy", "no-referrer");
    switch (kind) {
    case K_API:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; frame-ancestors 'none'");
        break;
    case K_PAGE:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
                       "script-src 'self'; object-src 'none'; base-uri 'none'; "
                       "form-action 'self'; frame-ancestors 'none'");
        break;
    case K_ASSET:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "public, max-age=3600");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; frame-ancestors 'none'");
        break;
    case K_PRINT:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; "
                       "frame-ancestors 'none'");
        break;
    }
    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* The serialiser's output buffer, one per thread; a pool thread hands its
 * buffer over with the captured answer, so only the loop thread keeps one. */
#define SCRATCH_KEEP (64 * 1024)
static __thread struct {
    char *data;
    size_t len, cap;
} scratch;

static int scratch_add(const char *p, size_t n, void *unused)
{
    if (scratch.len + n > scratch.cap) {
        size_t cap = scratch.cap ? scratch.cap : 4096;
        while (cap < scratch.len + n)
            cap *= 2;
        char *d = realloc(scratch.data, cap);
        if (d == NULL)
            return -1;
        scratch.data = d;
        scratch.cap = cap;
    }
    memcpy(scratch.data + scratch.len, p, n);
    scratch.len += n;
    return 0;
}

/* Send a model result; takes ownership of w.body. */
void http_send_wres(h2o_req_t *req, struct wres w)
{
    static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
    char *buf;
    size_t n;

    if (w.status == 204) {
        json_decref(w.body);
        http_send_bytes(req, 204, NULL, "", 0, K_API);
        return;
    }
    if (w.body == NULL) {
        http_send_bytes(req, w.status >= 400 ? w.status : 500, "application/json", oom,
                        sizeof oom - 1, K_API);
        return;
    }
    if (w.status == 429 || w.status == 503) {
        json_int_t after = json_integer_value(json_object_get(w.body, "retry_after"));
        if (http_tls_reply != NULL) {
            http_tls_reply->retry_after = after > 0 ? after : 1;
        } else {
            char *v = h2o_mem_alloc_pool(&req->pool, 24);
            int len = snprintf(v, 24, "%lld", (long long)(after > 0 ? after : 1));
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v,
                           (size_t)len);
        }
    }
    if (w.status == 401 && http_tls_reply != NULL)
        http_tls_reply->www_authenticate = 1;
    else if (w.status == 401)
        ADD_HEADER(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer");
    /* One pass of the serialiser into a scratch buffer kept for the
     * process, then one copy into the request's pool (json_dumpb would need
     * a first pass only to learn the size). */
    scratch.len = 0;
    if (json_dump_callback(w.body, scratch_add, NULL, WRES_JSON_FLAGS) != 0) {
        json_decref(w.body);
        if (http_tls_reply != NULL)
            http_send_free();
        http_send_bytes(req, 500, "application/json", oom, sizeof oom - 1, K_API);
        return;
    }
    json_decref(w.body);
    n = scratch.len;
    if (http_tls_reply != NULL) {
        capture(w.status, "application/json", NULL, n, K_API, scratch.data);
        scratch.data = NULL;
        scratch.cap = 0;
        return;
    }
    buf = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(buf, scratch.data, n);
    if (scratch.cap > SCRATCH_KEEP) {
        /* A rare large answer (a long list) should not stay resident. */
        free(scratch.data);
        scratch.data = NULL;
        scratch.cap = 0;
    }
    http_send_bytes(req, w.status, "application/json", buf, n, K_API);
}

void http_send_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    http_send_wres(req, wres_error(status, code, "%s", detail));
}

/* ---- h2o's own errors ------------------------------------------------------------ */

/*
 * A few answers never reach on_req(): h2o writes them itself, in plain text,
 * before the handler runs. The one a client meets in practice is 413, for a
 * body over max_request_entity_size (announced by Content-Length, or grown
 * past it in chunks); 400 for broken chunked encoding and 417 for an unknown
 * Expect are the others. h2o sends them through the host's fallback path,
 * whose filters the handler's own answers never pass, so a filter there
 * rewrites each into the API's JSON error with the same headers as ours.
 * (A request line h2o cannot parse at all gets a fixed "400 Bad Request"
 * written straight to the socket: no filter sees it, and no client that
 * speaks HTTP sends one.)
 */
struct json_error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *inbufs,
                            size_t inbufcnt, h2o_send_state_t state)
{
    struct json_error_ostream *os = (struct json_error_ostream *)self;

    /* h2o's text is dropped; our body goes out with the final call. */
    if (h2o_send_state_is_in_progress(state))
        h2o_ostream_send_next(self, req, NULL, 0, state);
    else
        h2o_ostream_send_next(self, req, &os->body, 1, state);
}

void http_json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const char *code, *detail;
    char buf[160];
    ssize_t i;

    switch (req->res.status) {
    case 413:
        code = "too_large";
        snprintf(buf, sizeof buf, "the body is larger than %d bytes", HTTP_BODY_MAX);
        detail = buf;
        break;
    case 400:
        code = "bad_request";
        detail = "the request is not valid HTTP/1.1 (broken body encoding?)";
        break;
    case 417:
        code = "expectation_failed";
        detail = "only Expect: 100-continue is understood";
        break;
    default:
        h2o_setup_next_ostream(req, slot);
        return;
    }
    struct json_error_ostream *os = (void *)h2o_add_ostream(req, sizeof *os, slot);
    char *text = h2o_mem_alloc_pool(&req->pool, 256);
    int n = snprintf(text, 256, "{\"error\":\"%s\",\"detail\":\"%s\"}", code, detail);
    os->body = h2o_iovec_init(text, (size_t)n);
    os->super.do_send = json_error_send;
    req->res.content_length = (size_t)n;
    i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0)
        req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
    else
        ADD_HEADER(req, H2O_TOKEN_CONTENT_TYPE, "application/json");
    ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    ADD_HEADER_STR(req, "x-content-type-options", "nosniff");
    ADD_HEADER_STR(req, "content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    h2o_setup_next_ostream(req, &os->super.next);
}

void http_send_free(void)
{
    free(scratch.data);
    scratch.data = NULL;
    scratch.cap = 0;
}
