/*
 * ctl_cert.c — `tenantctl cert <id> [--renew] [--json]`: a tenant's ACME
 * certificate (GET /v1/tenants/<id>/cert), or queue an issuance now
 * (POST /v1/tenants/<id>/cert/renew). Prints one line:
 *   dupont: valid, expires 2027-03-01T12:00:00Z (in 89 d), next attempt in 59 d
 *   refused: error: <the CA's words>, next attempt in 118 s
 */
#include "ctl_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void span(char *buf, size_t n, json_int_t s)
{
    if (s >= 2 * 86400)
        snprintf(buf, n, "%lld d", (long long)(s / 86400));
    else if (s >= 2 * 3600)
        snprintf(buf, n, "%lld h", (long long)(s / 3600));
    else
        snprintf(buf, n, "%lld s", (long long)s);
}

static void print_cert(const json_t *j)
{
    const json_t *c = json_object_get(j, "cert");
    const char *st = json_string_value(json_object_get(c, "state"));
    const char *err = json_string_value(json_object_get(c, "last_error"));
    const json_t *na = json_object_get(c, "not_after");
    const json_t *next = json_object_get(c, "next_attempt_in_s");
    char id[64], cst[32], cerr[512], when[32] = "", in[32], nx[32];

    ctl_sanitize(json_string_value(json_object_get(j, "id")) ?: "?", id, sizeof id);
    ctl_sanitize(st ? st : "?", cst, sizeof cst);
    ctl_sanitize(err ? err : "", cerr, sizeof cerr);
    printf("%s: %s", id, cst);
    if (cerr[0])
        printf(": %s", cerr);
    if (json_is_integer(na)) {
        time_t t = (time_t)json_integer_value(na);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        span(in, sizeof in, json_integer_value(json_object_get(c, "expires_in_s")));
        printf(", expires %s (in %s)", when, in);
    }
    if (json_is_integer(next)) {
        span(nx, sizeof nx, json_integer_value(next));
        printf(", next attempt in %s", nx);
    }
    printf("\n");
}

int ctl_cmd_cert(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    const char *id = NULL;
    bool renew = false;
    char path[128];
    struct ctl_response r = {0};
    json_t *j;
    int rc;

    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--renew") == 0)
            renew = true;
        else if (c->argv[i][0] == '-' || id != NULL)
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", c->argv[i]);
        else
            id = c->argv[i];
    }
    if (id == NULL)
        return ctl_usage_error(cmd, "cert takes a tenant id");
    if (!ctl_valid_id_arg(cmd, id))
        return CTL_EXIT_USAGE;
    if ((rc = ctl_resolve_socket(c)) != 0)
        return rc;
    snprintf(path, sizeof path, "/v1/tenants/%s/cert%s", id, renew ? "/renew" : "");
    rc = ctl_request(c, renew ? "POST" : "GET", path, NULL, CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        rc = ctl_api_error(&r);
        ctl_response_free(&r);
        return rc;
    }
    j = json_loads(r.body, 0, NULL);
    ctl_response_free(&r);
    if (!json_is_object(j)) {
        json_decref(j);
        fprintf(stderr, "tenantctl: tenantd's answer is not a JSON object\n");
        return CTL_EXIT_ERROR;
    }
    if (c->json) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        print_cert(j);
    }
    json_decref(j);
    return CTL_EXIT_OK;
}
