/*
 * ctl_wait.c — waiting for a tenant's state without polling: one
 * GET /v1/tenants/<id>?wait=<states>&timeout=<ms> is answered by tenantd as
 * soon as it records one of the states (admin_wait.c), or at the timeout.
 * ctl_wait_state() is what `tenantctl wait` and `tenantctl restore` use; a
 * wait longer than tenantd's cap on one request (300 s) is asked again for
 * the rest.
 *
 * What it does not do: wait for tenantd itself to come up (a refused
 * connection is an error, exit 3), or act on the tenant.
 */
#include "ctl_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

#define SERVER_CAP_MS 300000 /* admin_wait.c ADMIN_WAIT_MAX_MS */
#define SLACK_MS 10000       /* the answer's way back, beyond the wait itself */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_wait_state(const char *socket_path, const char *id, const char *states, int64_t timeout_ms,
                   int *http_status, json_t **body, char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    *body = NULL;
    for (;;) {
        int64_t left = deadline - mono_ms();
        int64_t chunk = left < 0 ? 0 : left > SERVER_CAP_MS ? SERVER_CAP_MS : left;
        char path[256];
        struct ctl_response r = {0};
        snprintf(path, sizeof path, "/v1/tenants/%s?wait=%s&timeout=%lld", id, states,
                 (long long)chunk);
        int rc =
            ctl_http(socket_path, "GET", path, NULL, 0, (int)(chunk + SLACK_MS), &r, err, errlen);
        if (rc < 0)
            return rc;
        *http_status = r.status;
        *body = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        ctl_response_free(&r);
        if (r.status != 200 || json_is_true(json_object_get(*body, "reached")) || chunk >= left)
            return 0;
        json_decref(*body);
        *body = NULL;
    }
}

/* "<id>: <state>", and the reason when it failed or backs off. */
static void print_outcome(const json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *st = json_string_value(json_object_get(j, "state"));
    const char *why = json_string_value(json_object_get(j, "state_reason"));
    const char *last = json_string_value(json_object_get(j, "last_exit"));
    char cid[64], cst[32], cwhy[1024];

    if (!why || !*why)
        why = last;
    if (st && strcmp(st, "failed") == 0 && (!why || !*why))
        why = "no reason given";
    ctl_sanitize(id ? id : "?", cid, sizeof cid);
    ctl_sanitize(st ? st : "?", cst, sizeof cst);
    bool gave_up = st && (strcmp(st, "failed") == 0 || strcmp(st, "backoff") == 0);
    ctl_sanitize(why && gave_up ? why : "", cwhy, sizeof cwhy);
    printf("%s: %s%s%s\n", cid, cst, cwhy[0] ? ": " : "", cwhy);
}

int ctl_cmd_wait(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    double secs = 30;
    const char *pos[2];
    int n = 0;

    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--timeout") == 0 && i + 1 < c->argc) {
            char *end;
            secs = strtod(c->argv[++i], &end);
            if (end == c->argv[i] || *end != '\0' || secs < 0 || secs > 86400)
                return ctl_usage_error(cmd, "--timeout takes a number of seconds (0 to 86400)");
        } else if (c->argv[i][0] == '-' || n == 2) {
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", c->argv[i]);
        } else {
            pos[n++] = c->argv[i];
        }
    }
    if (n != 2)
        return ctl_usage_error(cmd, "wait takes a tenant id and a state");
    if (!ctl_valid_id_arg(cmd, pos[0]))
        return CTL_EXIT_USAGE;
    for (const char *s = pos[1]; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == ','))
            return ctl_usage_error(cmd, "states are words separated by commas (running,failed)");
    int rc = ctl_resolve_socket(c);
    if (rc != 0)
        return rc;

    char err[512];
    int status = 0;
    json_t *j = NULL;
    rc = ctl_wait_state(c->socket_path, pos[0], pos[1], (int64_t)(secs * 1000), &status, &j, err,
                        sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tenantctl: %s\n", err);
        return ctl_unreachable(rc) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    if (status != 200 || !json_is_object(j)) {
        struct ctl_response r = {.status = status};
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
        r.body = text ? text : (char *)"";
        r.len = strlen(r.body);
        rc = ctl_api_error(&r);
        free(text);
        json_decref(j);
        return rc;
    }
    bool reached = json_is_true(json_object_get(j, "reached"));
    if (c->json) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        print_outcome(j);
    }
    if (!reached) {
        char cst[64];
        ctl_sanitize(json_string_value(json_object_get(j, "state")) ?: "?", cst, sizeof cst);
        fprintf(stderr, "tenantctl: %s is %s, not %s, after %g s\n", pos[0], cst, pos[1], secs);
    }
    json_decref(j);
    return reached ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}
