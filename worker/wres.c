/*
 * wres.c — constructors for struct wres, the result of a model operation
 * (see worker.h). They never fail: when the JSON body cannot be built (out of
 * memory) the result still carries the status, with a NULL body, and the HTTP
 * layer answers with a fixed error text instead.
 */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>

struct wres wres_ok(int status, json_t *body)
{
    struct wres r = {.status = status, .body = body};
    return r;
}

struct wres wres_error(int status, const char *code, const char *fmt, ...)
{
    struct wres r = {.status = status, .body = NULL};
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* jansson rejects invalid UTF-8; a detail quoting raw client input may
     * not be valid, and the error code alone must still reach the client. */
    r.body = json_pack("{s:s, s:s}", "error", code, "detail", detail);
    if (r.body == NULL)
        r.body = json_pack("{s:s, s:s}", "error", code, "detail", "(detail not representable)");
    return r;
}
