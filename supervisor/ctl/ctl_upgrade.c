/*
 * ctl_upgrade.c — `tenantctl upgrade [--binary PATH] [--timeout S] [--json]`:
 * ask tenantd to re-exec itself (POST /v1/upgrade), then follow
 * GET /v1/upgrade until the attempt it was given has an outcome: "ok" (the
 * new image serves: exit 0), "failed" (the check refused the binary, or the
 * exec failed: the old image serves) or "rolled back" (the new image could
 * not take the state and gave it back): exit 1 with the reason.
 *
 * This is the one place tenantctl asks again rather than waiting on an event:
 * the process image that would answer a waiting request is the one being
 * replaced, so the outcome is read from whichever image serves next.
 */
#include "ctl_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPGRADE_POLL_MS 20

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The outcome of `attempt`, or NULL while there is none yet (a new ref). */
static json_t *outcome(struct ctl *c, json_int_t attempt, int timeout_ms)
{
    struct ctl_response r = {0};
    char err[256];
    if (ctl_http(c->socket_path, "GET", "/v1/upgrade", NULL, 0, timeout_ms, &r, err, sizeof err) !=
        0)
        return NULL; /* between two images, or busy: ask again */
    json_t *st = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    ctl_response_free(&r);
    json_t *last = json_object_get(st, "last");
    if (st && !json_is_true(json_object_get(st, "in_progress")) && json_is_object(last) &&
        json_integer_value(json_object_get(last, "attempt")) >= attempt)
        return st;
    json_decref(st);
    return NULL;
}

int ctl_cmd_upgrade(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    const char *binary = NULL;
    long timeout_s = 60;
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--binary") == 0 && i + 1 < c->argc) {
            binary = c->argv[++i];
        } else if (strcmp(c->argv[i], "--timeout") == 0 && i + 1 < c->argc) {
            char *end;
            timeout_s = strtol(c->argv[++i], &end, 10);
            if (*end || timeout_s < 1 || timeout_s > 3600)
                return ctl_usage_error(cmd, "--timeout: \"%s\" is not 1..3600 seconds", c->argv[i]);
        } else {
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", c->argv[i]);
        }
    }
    if (binary && binary[0] != '/')
        return ctl_usage_error(cmd, "--binary: \"%s\" is not an absolute path", binary);
    json_t *body = json_object();
    if (binary)
        json_object_set_new(body, "binary", json_string(binary));
    json_t *started = NULL;
    int rc = ctl_post_json(c, "/v1/upgrade", body, CTL_TIMEOUT_MS, &started);
    if (rc != 0)
        return rc;
    json_int_t attempt = json_integer_value(json_object_get(started, "attempt"));
    json_decref(started);

    int64_t deadline = now_ms() + timeout_s * 1000;
    json_t *st = NULL;
    while (!(st = outcome(c, attempt, 2000))) {
        if (now_ms() >= deadline) {
            fprintf(stderr, "tenantctl: upgrade: no outcome within %ld s (see tenantd's log)\n",
                    timeout_s);
            return CTL_EXIT_ERROR;
        }
        pause_ms(UPGRADE_POLL_MS);
    }
    json_t *last = json_object_get(st, "last");
    const char *result = json_string_value(json_object_get(last, "result")) ?: "?";
    char reason[1024];
    ctl_sanitize(json_string_value(json_object_get(last, "reason")) ?: "", reason, sizeof reason);
    bool ok = strcmp(result, "ok") == 0;
    if (c->json) {
        char *text = json_dumps(st, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (ok) {
        printf("upgraded: tenantd pid %lld runs %s (version %s, exec %lld)\n",
               (long long)json_integer_value(json_object_get(st, "pid")),
               binary ? binary : json_string_value(json_object_get(st, "binary")) ?: "?",
               json_string_value(json_object_get(st, "version")) ?: "?",
               (long long)json_integer_value(json_object_get(st, "exec_count")));
    }
    if (!ok)
        fprintf(stderr, "tenantctl: upgrade %s: %s\n", result, reason);
    json_decref(st);
    return ok ? 0 : CTL_EXIT_ERROR;
}
