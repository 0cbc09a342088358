/*
 * ctl_api.c — what every tenantctl command shares to talk to tenantd: finding
 * the admin socket, one request with its transport errors turned into exit
 * codes (ctl.h), an API error answer printed as a sentence, a usage error,
 * checking a tenant id argument.
 *
 * What it does not do: the HTTP itself (ctl_http.c), or any command.
 */
#include "ctl_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tenantctl: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: tenantctl [-c tenantd.ini] %s\n", cmd ? cmd->usage : "<command> ...");
    return CTL_EXIT_USAGE;
}

/* Find the admin socket: $TENANTD_ADMIN_SOCKET wins, else [admin] socket of
 * the global file. */
int ctl_resolve_socket(struct ctl *c)
{
    const char *e = getenv("TENANTD_ADMIN_SOCKET");
    if (e && *e) {
        snprintf(c->socket_path, sizeof c->socket_path, "%s", e);
        return 0;
    }
    struct config_global *g = calloc(1, sizeof *g);
    struct config_diag d = {0};
    if (g == NULL) {
        fprintf(stderr, "tenantctl: out of memory\n");
        return CTL_EXIT_ERROR;
    }
    int rc = config_load_global(c->config_path, g, &d);
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        fprintf(stderr, "tenantctl: %s: cannot read the configuration%s%s\n", c->config_path,
                msg && *msg ? ":\n" : "", msg ? msg : "");
        free(msg);
        config_diag_clear(&d);
        free(g);
        return CTL_EXIT_ERROR;
    }
    snprintf(c->socket_path, sizeof c->socket_path, "%s", g->admin_socket);
    config_diag_clear(&d);
    free(g);
    return 0;
}

bool ctl_unreachable(int rc)
{
    return rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES || rc == -EPERM ||
           rc == -ENOTDIR || rc == -ENAMETOOLONG;
}

/* Perform a request; on a transport failure print why and return exit 3. */
int ctl_request(struct ctl *c, const char *method, const char *path, const char *body,
                int timeout_ms, struct ctl_response *r)
{
    int rc = ctl_resolve_socket(c);
    if (rc != 0)
        return rc;
    char err[512];
    rc = ctl_http(c->socket_path, method, path, body, body ? strlen(body) : 0, timeout_ms, r, err,
                  sizeof err);
    if (rc != 0) {
        fprintf(stderr, "tenantctl: %s\n", err);
        return ctl_unreachable(rc) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    return 0;
}

/* Turn a non-2xx answer into a message and an exit code. */
int ctl_api_error(const struct ctl_response *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, 0, &je);
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
    const char *d = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    char ce[256], cd[2048];
    ctl_sanitize(e ? e : "request failed", ce, sizeof ce);
    ctl_sanitize(d ? d : "", cd, sizeof cd);
    fprintf(stderr, "tenantctl: %s%s%s (HTTP %d)\n", ce, cd[0] ? ": " : "", cd, r->status);
    json_decref(j);
    return r->status == 404 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
}

bool ctl_valid_id_arg(const struct ctl_cmd *cmd, const char *id)
{
    if (config_valid_id(id))
        return true;
    char clean[128];
    ctl_sanitize(id, clean, sizeof clean);
    ctl_usage_error(cmd, "\"%s\" is not a valid tenant id", clean);
    return false;
}

/* POST body (a JSON object, consumed) to path and parse the 2xx answer into
 * *out (the caller decrefs it). An error answer is reported and its exit code
 * returned. */
int ctl_post_json(struct ctl *c, const char *path, json_t *body, int timeout_ms, json_t **out)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(body);
    if (text == NULL) {
        fprintf(stderr, "tenantctl: out of memory\n");
        return CTL_EXIT_ERROR;
    }
    struct ctl_response r;
    int rc = ctl_request(c, "POST", path, text, timeout_ms, &r);
    free(text);
    if (rc != 0)
        return rc;
    if (r.status / 100 != 2) {
        rc = ctl_api_error(&r);
        ctl_response_free(&r);
        return rc;
    }
    json_error_t je;
    *out = json_loadb(r.body, r.len, 0, &je);
    ctl_response_free(&r);
    if (*out == NULL) {
        fprintf(stderr, "tenantctl: tenantd sent invalid JSON: %s\n", je.text);
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}
