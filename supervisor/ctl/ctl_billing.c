/*
 * ctl_billing.c — `tenantctl billing --month YYYY-MM [--json]`: the vendor's
 * monthly statement per firm (GET /v1/billing, admin_billing.c).
 *
 * For the current month (UTC) it first asks each running tenant's usage
 * (GET /v1/tenants/<id>/usage), which tenantd records in state.db, so the
 * statement holds today's counts; a past month is read from what was
 * recorded. Output: the statements as a JSON array with --json, else CSV
 * (RFC 4180, a header line) for the vendor's accounting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_cmd.h"

/* A CSV field: quoted, quotes doubled; a leading = + - @ gets a ' so a
 * spreadsheet never reads a firm's name as a formula. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        if ((unsigned char)*s >= 0x20 && *s != 0x7f)
            fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_euros(FILE *f, json_int_t cents)
{
    fprintf(f, ",%s%lld.%02lld", cents < 0 ? "-" : "", llabs((long long)cents) / 100,
            llabs((long long)cents) % 100);
}

static void print_csv(FILE *f, const json_t *list)
{
    fputs("id,name,plan,month,analyses_used,analyses_limit,overage_count,plan_price,"
          "overage_fees,total_due,usage_recorded\n",
          f);
    size_t i;
    const json_t *s;
    json_array_foreach(list, i, s)
    {
        const char *keys[] = {"id", "name", "plan", "month"};
        for (size_t k = 0; k < 4; k++) {
            const char *v = json_string_value(json_object_get(s, keys[k]));
            if (k > 0)
                fputc(',', f);
            csv_field(f, v ? v : "");
        }
        fprintf(f, ",%lld,%lld,%lld",
                (long long)json_integer_value(json_object_get(s, "analyses_used")),
                (long long)json_integer_value(json_object_get(s, "analyses_limit")),
                (long long)json_integer_value(json_object_get(s, "overage_count")));
        csv_euros(f, json_integer_value(json_object_get(s, "plan_price_cents")));
        csv_euros(f, json_integer_value(json_object_get(s, "overage_fees_cents")));
        csv_euros(f, json_integer_value(json_object_get(s, "total_due_cents")));
        fprintf(f, ",%s\n", json_is_true(json_object_get(s, "usage_recorded")) ? "yes" : "no");
    }
}

/* Ask every running tenant's usage, so tenantd records this month's counts.
 * A tenant that cannot answer keeps what was recorded before (warned). */
static void refresh_usage(struct ctl *c)
{
    struct ctl_response r = {0};
    if (ctl_request(c, "GET", "/v1/tenants", NULL, CTL_TIMEOUT_MS, &r) != 0)
        return;
    json_t *list = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    ctl_response_free(&r);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *state = json_string_value(json_object_get(t, "state"));
        if (id == NULL || state == NULL || strcmp(state, "running") != 0)
            continue;
        char path[128];
        snprintf(path, sizeof path, "/v1/tenants/%s/usage", id);
        struct ctl_response u = {0};
        if (ctl_request(c, "GET", path, NULL, CTL_TIMEOUT_MS, &u) == 0 && u.status != 200)
            fprintf(stderr,
                    "tenantctl: warning: %s: usage not refreshed (HTTP %d), "
                    "its last recorded counts are used\n",
                    id, u.status);
        ctl_response_free(&u);
    }
    json_decref(list);
}

int ctl_cmd_billing(struct ctl *c)
{
    const char *month = NULL;
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--month") == 0 && i + 1 < c->argc)
            month = c->argv[++i];
        else if (strncmp(c->argv[i], "--month=", 8) == 0)
            month = c->argv[i] + 8;
        else
            return ctl_usage_error(c->cmd, "unexpected argument \"%s\"", c->argv[i]);
    }
    char now[24];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(now, sizeof now, "%04d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100);
    if (month == NULL)
        month = now;
    if (strlen(month) != 7 || month[4] != '-' || strspn(month, "0123456789") != 4 ||
        strspn(month + 5, "0123456789") != 2 || strcmp(month + 5, "01") < 0 ||
        strcmp(month + 5, "12") > 0)
        return ctl_usage_error(c->cmd, "--month: \"%s\" is not YYYY-MM (e.g. 2026-11)", month);
    if (strcmp(month, now) == 0)
        refresh_usage(c);

    char path[64];
    snprintf(path, sizeof path, "/v1/billing?month=%s", month);
    struct ctl_response r = {0};
    int rc = ctl_request(c, "GET", path, NULL, CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        rc = ctl_api_error(&r);
        ctl_response_free(&r);
        return rc;
    }
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    ctl_response_free(&r);
    json_t *list = json_object_get(doc, "statements");
    if (!json_is_array(list)) {
        json_decref(doc);
        fprintf(stderr, "tenantctl: tenantd's answer holds no statements\n");
        return CTL_EXIT_ERROR;
    }
    if (c->json) {
        json_dumpf(list, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        print_csv(stdout, list);
    }
    json_decref(doc);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}
