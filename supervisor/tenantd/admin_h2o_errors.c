/*
 * admin_h2o_errors.c — the admin API answers JSON even where h2o answers by
 * itself, before admin.c's handler runs: 413 for a body over ADMIN_MAX_BODY
 * (announced by Content-Length or grown past it), 400 for a broken chunked
 * body, 417 for an unknown Expect. h2o sends those through the host's
 * fallback path; a filter there replaces its plain text with the API's
 * {"error","detail"} (status_json_error) and sets the JSON content type.
 */
#include "admin_internal.h"

#include <stdio.h>
#include <string.h>

#include "status_json.h"

struct json_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static void json_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *inbufs, size_t inbufcnt,
                      h2o_send_state_t state)
{
    struct json_ostream *os = (struct json_ostream *)self;
    (void)inbufs;
    (void)inbufcnt;
    /* h2o's own text is dropped; ours goes out with the final call. */
    if (h2o_send_state_is_in_progress(state))
        h2o_ostream_send_next(self, req, NULL, 0, state);
    else
        h2o_ostream_send_next(self, req, &os->body, 1, state);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const char *error, *detail;
    char buf[96];
    (void)self;
    switch (req->res.status) {
    case 413:
        error = "payload too large";
        snprintf(buf, sizeof buf, "the request body is larger than %d bytes", ADMIN_MAX_BODY);
        detail = buf;
        break;
    case 400:
        error = "bad request";
        detail = "the request is not valid HTTP/1.1 (broken body encoding?)";
        break;
    case 417:
        error = "expectation failed";
        detail = "only Expect: 100-continue is understood";
        break;
    default:
        h2o_setup_next_ostream(req, slot);
        return;
    }
    json_t *j = status_json_error(error, detail);
    size_t len = 0;
    char *text = j ? status_json_dump(j, &len) : NULL;
    json_decref(j);
    if (text == NULL) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    char *copy = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(copy, text, len);
    free(text);
    struct json_ostream *os = (void *)h2o_add_ostream(req, sizeof *os, slot);
    os->body = h2o_iovec_init(copy, len);
    os->super.do_send = json_send;
    req->res.content_length = len;
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0)
        req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
    h2o_setup_next_ostream(req, &os->super.next);
}

void admin_json_errors_install(h2o_hostconf_t *host)
{
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream =
        on_setup_ostream;
}
