/*
 * admin_openapi.c — GET /v1/openapi.json: the admin API described as OpenAPI
 * 3.1, generated from the route table (admin_route_at), so a route added there
 * is described at once. The answer shapes are the components below (JSON
 * Schema 2020-12, as OpenAPI 3.1 uses), one per kind of answer; what each route
 * answers on success is the table `answers`; every error is an Error.
 * Objects allow more properties than they list: fields may be added, never
 * removed or retyped. tests/openapi/ validates the document with a real
 * OpenAPI validator, and the integration harness checks every admin answer of
 * the suite against it.
 */
#include "admin_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "status_json.h"

/* The components, as JSON text. */
static const char components[] =
    "{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\","
    "\"description\":\"The token in <run_dir>/admin.token; none on the unix socket, whose "
    "file mode is the authentication.\"}},"
    "\"schemas\":{"
    "\"Error\":{\"type\":\"object\",\"required\":[\"error\",\"detail\"],\"properties\":{"
    "\"error\":{\"type\":\"string\"},\"detail\":{\"type\":\"string\"}}},"
    "\"Tenant\":{\"type\":\"object\",\"required\":[\"id\",\"name\",\"plan\",\"subdomain\","
    "\"port\",\"state\",\"pid\",\"uptime_s\",\"restarts\",\"last_exit\",\"config_error\"],"
    "\"properties\":{\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"plan\":{\"type\":\"string\"},\"subdomain\":{\"type\":\"string\"},"
    "\"url\":{\"type\":\"string\"},\"port\":{\"type\":\"integer\"},"
    "\"state\":{\"type\":\"string\",\"enum\":[\"stopped\",\"starting\",\"running\","
    "\"stopping\",\"backoff\",\"failed\",\"suspended\",\"idle\"]},"
    "\"desired\":{\"type\":\"string\",\"enum\":[\"up\",\"down\"]},"
    "\"pid\":{\"type\":[\"integer\",\"null\"]},"
    "\"starting_pid\":{\"type\":[\"integer\",\"null\"]},"
    "\"draining_pid\":{\"type\":[\"integer\",\"null\"]},"
    "\"uptime_s\":{\"type\":\"integer\",\"minimum\":0},"
    "\"restarts\":{\"type\":\"integer\",\"minimum\":0,"
    "\"description\":\"restarts by the supervisor\"},"
    "\"operator_restarts\":{\"type\":\"integer\",\"minimum\":0,"
    "\"description\":\"starts an operator caused: start, restart, resume, a changed file\"},"
    "\"worker_status\":{\"type\":[\"string\",\"null\"],"
    "\"description\":\"the worker's last sd_notify STATUS=\"},"
    "\"notify_error\":{\"type\":\"string\"},"
    "\"last_exit\":{\"type\":\"string\"},\"config_error\":{\"type\":\"string\"},"
    "\"state_reason\":{\"type\":\"string\"},"
    "\"next_start_in_ms\":{\"type\":[\"integer\",\"null\"]},"
    "\"ready_latency_ms\":{\"type\":[\"integer\",\"null\"]},"
    "\"rss_bytes\":{\"type\":\"integer\",\"minimum\":0},"
    "\"cpu_seconds\":{\"type\":\"number\",\"minimum\":0},"
    "\"resources_from\":{\"type\":\"string\",\"enum\":[\"cgroup\",\"process\"]},"
    "\"offsite\":{\"type\":\"object\",\"description\":\"[offsite] on: the last restic copy "
    "and restore test (docs/backups.md)\",\"properties\":{"
    "\"last_copy\":{\"type\":[\"string\",\"null\"]},\"last_snapshot\":{\"type\":[\"string\","
    "\"null\"]},"
    "\"last_verified\":{\"type\":[\"string\",\"null\"]},"
    "\"last_verified_ok\":{\"type\":[\"boolean\",\"null\"]},"
    "\"last_error\":{\"type\":[\"string\",\"null\"]}}},"
    "\"wakeups\":{\"type\":\"integer\",\"minimum\":0},"
    "\"idle_after_ms\":{\"type\":\"integer\",\"minimum\":0},"
    "\"reached\":{\"type\":\"boolean\",\"description\":\"with ?wait=\"}}},"
    "\"TenantList\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Tenant\"}},"
    "\"Plan\":{\"type\":\"object\",\"required\":[\"name\",\"price_cents\",\"max_users\","
    "\"max_cases\",\"max_analysis_monthly\"],\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"label\":{\"type\":\"string\"},\"price_cents\":{\"type\":\"integer\"},"
    "\"max_users\":{\"type\":\"integer\"},\"max_cases\":{\"type\":\"integer\"},"
    "\"max_analysis_monthly\":{\"type\":\"integer\"}}},"
    "\"PlanList\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Plan\"}},"
    "\"Proxy\":{\"type\":\"object\",\"required\":[\"mode\",\"ok\",\"last_error\"],"
    "\"properties\":{\"mode\":{\"type\":\"string\"},\"ok\":{\"type\":\"boolean\"},"
    "\"last_error\":{\"type\":\"string\"},\"reloads\":{\"type\":\"integer\"},"
    "\"failures\":{\"type\":\"integer\"},\"nginx_starts\":{\"type\":\"integer\"},"
    "\"nginx_pid\":{\"type\":[\"integer\",\"null\"]},\"generation\":{\"type\":\"integer\"}}},"
    "\"EventList\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"Usage\":{\"type\":\"object\",\"required\":[\"client_id\",\"month\",\"analyses_used\","
    "\"analyses_limit\",\"users_active\",\"users_limit\"],\"properties\":{"
    "\"client_id\":{\"type\":\"string\"},"
    "\"month\":{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-(0[1-9]|1[0-2])$\"},"
    "\"analyses_used\":{\"type\":\"integer\",\"minimum\":0},"
    "\"analyses_limit\":{\"type\":[\"integer\",\"null\"]},"
    "\"users_active\":{\"type\":\"integer\",\"minimum\":0},"
    "\"users_limit\":{\"type\":[\"integer\",\"null\"]},"
    "\"overage_fees\":{\"type\":\"number\",\"minimum\":0},"
    "\"total_due\":{\"type\":\"number\",\"minimum\":0},"
    "\"overage_count\":{\"type\":\"integer\",\"minimum\":0},"
    "\"overage_price_cents\":{\"type\":\"integer\",\"minimum\":0},"
    "\"overage_fees_cents\":{\"type\":\"integer\",\"minimum\":0},"
    "\"plan_price_cents\":{\"type\":\"integer\",\"minimum\":0},"
    "\"total_due_cents\":{\"type\":\"integer\",\"minimum\":0},"
    "\"plan\":{\"type\":\"string\"},\"billing_cycle\":{\"type\":\"string\"},"
    "\"next_billing\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false},"
    "\"Onboarded\":{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"url\":{\"type\":\"string\"},\"port\":{\"type\":\"integer\"},"
    "\"admin\":{\"type\":\"object\",\"required\":[\"username\",\"password\"],"
    "\"properties\":{\"username\":{\"type\":\"string\"},\"password\":{\"type\":\"string\"}}},"
    "\"tenant\":{\"$ref\":\"#/components/schemas/Tenant\"}}},"
    "\"Offboarded\":{\"type\":\"object\",\"required\":[\"id\",\"purged\",\"archive\"],"
    "\"properties\":{\"id\":{\"type\":\"string\"},\"purged\":{\"type\":\"boolean\"},"
    "\"archive\":{\"type\":[\"string\",\"null\"]},\"warning\":{\"type\":\"string\"}}},"
    "\"Action\":{\"type\":\"object\",\"required\":[\"id\",\"action\",\"accepted\"],"
    "\"properties\":{\"id\":{\"type\":\"string\"},\"action\":{\"type\":\"string\"},"
    "\"accepted\":{\"type\":\"boolean\"},"
    "\"tenant\":{\"$ref\":\"#/components/schemas/Tenant\"}}},"
    "\"Backup\":{\"type\":\"object\",\"required\":[\"id\",\"path\"],\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"path\":{\"type\":\"string\"}}},"
    "\"Reloaded\":{\"type\":\"object\",\"required\":[\"reloaded\"],"
    "\"properties\":{\"reloaded\":{\"type\":\"boolean\"}}},"
    "\"Cert\":{\"type\":\"object\",\"required\":[\"id\",\"cert\"],\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"cert\":{\"type\":\"object\",\"required\":[\"state\"],"
    "\"properties\":{\"state\":{\"type\":\"string\",\"enum\":[\"none\",\"pending\","
    "\"valid\",\"error\"]},\"not_after\":{\"type\":[\"integer\",\"null\"]},"
    "\"expires_in_s\":{\"type\":[\"integer\",\"null\"]},"
    "\"last_error\":{\"type\":\"string\"},"
    "\"next_attempt_in_s\":{\"type\":[\"integer\",\"null\"]},"
    "\"issued\":{\"type\":\"integer\",\"minimum\":0}}}}},"
    "\"History\":{\"type\":\"object\",\"required\":[\"tenant\",\"every_s\",\"since\",\"until\","
    "\"points\"],\"properties\":{\"tenant\":{\"type\":\"string\"},"
    "\"every_s\":{\"type\":\"integer\",\"minimum\":1},\"since\":{\"type\":\"integer\"},"
    "\"until\":{\"type\":\"integer\"},\"points\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\",\"required\":[\"t\",\"state\",\"rss_bytes\",\"cpu_percent\","
    "\"restarts\",\"requests_per_s\"],\"properties\":{\"t\":{\"type\":\"integer\"},"
    "\"state\":{\"type\":\"string\"},\"rss_bytes\":{\"type\":\"integer\",\"minimum\":0},"
    "\"cpu_percent\":{\"type\":\"number\",\"minimum\":0},"
    "\"restarts\":{\"type\":\"integer\",\"minimum\":0},"
    "\"requests_per_s\":{\"type\":[\"number\",\"null\"],\"minimum\":0,"
    "\"description\":\"from the tenant's nginx access log; null without one\"}}}}}},"
    "\"DatabaseSwitch\":{\"type\":\"object\",\"required\":[\"id\",\"database\",\"previous\"],"
    "\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"database\":{\"enum\":[\"sqlite\",\"postgresql\"]},"
    "\"previous\":{\"enum\":[\"sqlite\",\"postgresql\"]},"
    "\"read_only\":{\"type\":\"boolean\"}}},"
    "\"AnyObject\":{\"type\":\"object\"}}}";

/* What a route answers on success: status, media type, schema (NULL: text). */
static const struct answer {
    const char *method, *pattern;
    int status;
    const char *type, *schema, *summary;
} answers[] = {
    {"GET", "/", 200, "text/html", NULL, "the dashboard page"},
    {"GET", "/metrics", 200, "text/plain", NULL, "Prometheus metrics (text format 0.0.4)"},
    {"POST", "/v1/reload", 200, "application/json", "Reloaded", "re-read every file"},
    {"GET", "/v1/plans", 200, "application/json", "PlanList", "the subscription plans"},
    {"GET", "/v1/proxy", 200, "application/json", "Proxy", "the proxy's state"},
    {"GET", "/v1/events", 200, "application/json", "EventList", "the audit log, newest first"},
    {"GET", "/v1/alerts", 200, "application/json", "AnyObject",
     "active alerts, the last deliveries and their errors"},
    {"GET", "/v1/billing", 200, "application/json", "AnyObject",
     "?month=YYYY-MM: the monthly statement per firm, from the usage kept in state.db"},
    {"GET", "/v1/tenants", 200, "application/json", "TenantList",
     "every tenant's status, or a page of those matching the filters (X-Total-Count, "
     "X-Next-After)"},
    {"GET", "/v1/tenants/*/history", 200, "application/json", "History",
     "the tenant's samples over the last 24 h (?since=<unix seconds>)"},
    {"POST", "/v1/tenants", 201, "application/json", "Onboarded", "onboard a tenant"},
    {"GET", "/v1/tenants/*", 200, "application/json", "Tenant",
     "one tenant's status; ?wait=<state>[,...]&timeout=<ms> waits for a state"},
    {"DELETE", "/v1/tenants/*", 200, "application/json", "Offboarded", "offboard a tenant"},
    {"POST", "/v1/tenants/*/admins", 201, "application/json", "AnyObject",
     "create the firm's first admin account"},
    {"GET", "/v1/tenants/*/usage", 200, "application/json", "Usage",
     "the month's usage, from the worker, shape-checked"},
    {"POST", "/v1/tenants/*/backup", 200, "application/json", "Backup", "back up now"},
    {"GET", "/v1/tenants/*/cert", 200, "application/json", "Cert",
     "the tenant's ACME certificate ([acme])"},
    {"POST", "/v1/tenants/*/cert/renew", 200, "application/json", "Cert",
     "queue an ACME issuance for the tenant now"},
    {"POST", "/v1/tenants/*/database", 200, "application/json", "DatabaseSwitch",
     "switch the tenant's storage backend (tenantctl migrate's last step)"},
    {"POST", "/v1/tenants/*/migration", 200, "application/json", "AnyObject",
     "tenantctl migrate: the copy, run and verified in the tenant's jail, or a note for the "
     "audit log"},
    {"GET", "/v1/openapi.json", 200, "application/json", "AnyObject", "this document"},
    {"GET", "/v1/upgrade", 200, "application/json", "AnyObject",
     "the state of a re-exec of tenantd (upgrade)"},
    {"POST", "/v1/upgrade", 202, "application/json", "AnyObject",
     "re-exec tenantd in place, keeping every worker"},
};

static const struct answer *answer_for(const struct admin_route *r)
{
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++)
        if (strcmp(answers[i].method, r->method) == 0 &&
            strcmp(answers[i].pattern, r->pattern) == 0)
            return &answers[i];
    return NULL;
}

/* A route pattern as an OpenAPI path: each '*' segment (a tenant id) becomes {id}. */
static void openapi_path(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 5 < n; p++) {
        if (*p == '*') {
            memcpy(out + o, "{id}", 4);
            o += 4;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static json_t *content(const char *type, const char *schema)
{
    char ref[96];
    json_t *media = json_object();
    if (schema != NULL) {
        snprintf(ref, sizeof ref, "#/components/schemas/%s", schema);
        json_object_set_new(media, "schema", json_pack("{s:s}", "$ref", ref));
    } else {
        json_object_set_new(media, "schema", json_pack("{s:s}", "type", "string"));
    }
    json_t *c = json_object();
    json_object_set_new(c, type, media);
    return c;
}

static json_t *operation(const struct admin_route *r)
{
    const struct answer *a = answer_for(r);
    char code[8];
    json_t *op = json_object(), *responses = json_object();
    bool action = strcmp(r->method, "POST") == 0 && strncmp(r->pattern, "/v1/tenants/*/", 14) == 0;
    if (a != NULL || action) {
        snprintf(code, sizeof code, "%d", a ? a->status : 202);
        json_t *ok = json_object();
        json_object_set_new(ok, "description", json_string(a ? a->summary : "accepted"));
        json_object_set_new(
            ok, "content", a ? content(a->type, a->schema) : content("application/json", "Action"));
        json_object_set_new(responses, code, ok);
    } else {
        /* A route not in `answers` yet: described loosely rather than wrongly. */
        for (int c = 200; c <= 202; c++) {
            snprintf(code, sizeof code, "%d", c);
            json_t *ok = json_object();
            json_object_set_new(ok, "description", json_string("an answer"));
            json_object_set_new(ok, "content", content("application/json", "AnyObject"));
            json_object_set_new(responses, code, ok);
        }
    }
    json_t *err = json_object();
    json_object_set_new(err, "description", json_string("an error"));
    json_object_set_new(err, "content", content("application/json", "Error"));
    json_object_set_new(responses, "default", err);
    json_object_set_new(op, "summary",
                        json_string(a        ? a->summary
                                    : action ? "an action on the tenant's worker"
                                             : "an answer"));
    json_object_set_new(op, "responses", responses);
    if (r->auth == ADMIN_AUTH_NONE)
        json_object_set_new(op, "security", json_array());
    if (strchr(r->pattern, '*') != NULL)
        json_object_set_new(op, "parameters",
                            json_pack("[{s:s,s:s,s:b,s:{s:s,s:s}}]", "name", "id", "in", "path",
                                      "required", 1, "schema", "type", "string", "pattern",
                                      "^[a-z][a-z0-9-]{0,30}$"));
    if (strcmp(r->method, "GET") == 0 && strcmp(r->pattern, "/v1/tenants") == 0) {
        /* admin_list.c's filters and paging. */
        static const char *const q[][2] = {
            {"state", "those states, comma-separated"},
            {"plan", "this plan"},
            {"q", "id, name or subdomain contains this (case-blind)"},
            {"sort", "id (default) or unhealthy (failed, backoff, invalid file, failing health "
                     "first)"},
            {"limit", "at most this many (1..10000)"},
            {"after", "the tenants after this id (the previous page's X-Next-After)"},
            {"offset", "skip this many matches"},
        };
        json_t *ps = json_array();
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
            json_array_append_new(ps, json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", q[i][0], "in",
                                                "query", "required", 0, "description", q[i][1],
                                                "schema", "type", "string"));
        json_object_set_new(op, "parameters", ps);
    }
    if (strcmp(r->method, "POST") == 0)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 0, "content",
                                      "application/json", "schema", "type", "object"));
    return op;
}

json_t *admin_openapi(void)
{
    json_t *doc = json_object(), *paths = json_object();
    json_t *comp = json_loads(components, 0, NULL);
    if (doc == NULL || paths == NULL || comp == NULL) {
        json_decref(doc);
        json_decref(paths);
        json_decref(comp);
        return NULL;
    }
    json_object_set_new(doc, "openapi", json_string("3.1.0"));
    json_object_set_new(doc, "info",
                        json_pack("{s:s,s:s,s:s}", "title", "tenantd admin API", "version",
                                  TENANTD_VERSION, "description",
                                  "Generated by tenantd from its route table; see tenantd(8)."));
    json_object_set_new(doc, "security", json_pack("[{s:[]}]", "bearer"));
    for (size_t i = 0; i < admin_route_count(); i++) {
        const struct admin_route *r = admin_route_at(i);
        char path[128], method[16];
        openapi_path(r->pattern, path, sizeof path);
        size_t k = 0;
        for (; r->method[k] && k + 1 < sizeof method; k++)
            method[k] = (char)(r->method[k] - 'A' + 'a');
        method[k] = '\0';
        json_t *item = json_object_get(paths, path);
        if (item == NULL) {
            item = json_object();
            json_object_set_new(paths, path, item);
        }
        json_object_set_new(item, method, operation(r));
    }
    json_object_set_new(doc, "paths", paths);
    json_object_set_new(doc, "components", comp);
    return doc;
}
