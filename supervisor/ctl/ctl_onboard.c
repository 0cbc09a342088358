/*
 * ctl_onboard.c — `tenantctl onboard`, `offboard` and `create-admin`: one
 * request each to the admin API, which does the work all or nothing
 * (tenantd's admin_onboard.c, admin_offboard.c, admin_create_admin.c) and
 * answers once the worker is up (or gone); the new password is printed once.
 *
 * What it does not do: any of the work itself, or wait by polling.
 */
#include "ctl_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_cmd_onboard(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    const char *pos[3];
    int np = 0;
    const char *sub = NULL, *email = NULL, *port = NULL, *database = NULL;
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        const char **dst = strcmp(a, "--subdomain") == 0  ? &sub
                           : strcmp(a, "--port") == 0     ? &port
                           : strcmp(a, "--email") == 0    ? &email
                           : strcmp(a, "--database") == 0 ? &database
                                                          : NULL;
        if (dst) {
            if (i + 1 >= c->argc)
                return ctl_usage_error(cmd, "%s needs a value", a);
            *dst = c->argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            return ctl_usage_error(cmd, "unknown option \"%s\"", a);
        } else if (np < 3) {
            pos[np++] = a;
        } else {
            return ctl_usage_error(cmd, "too many arguments");
        }
    }
    if (np != 3)
        return ctl_usage_error(cmd, "onboard needs <id> \"<name>\" <plan>");
    if (!ctl_valid_id_arg(cmd, pos[0]))
        return CTL_EXIT_USAGE;
    json_t *body = json_object();
    json_object_set_new(body, "id", json_string(pos[0]));
    json_t *name = json_string(pos[1]);
    if (name == NULL) {
        json_decref(body);
        return ctl_usage_error(cmd, "the name must be valid UTF-8");
    }
    json_object_set_new(body, "name", name);
    json_object_set_new(body, "plan", json_string(pos[2]));
    if (sub)
        json_object_set_new(body, "subdomain", json_string(sub));
    if (email)
        json_object_set_new(body, "email", json_string(email));
    if (database) {
        if (strcmp(database, "sqlite") != 0 && strcmp(database, "postgresql") != 0) {
            json_decref(body);
            return ctl_usage_error(cmd, "--database takes sqlite or postgresql");
        }
        json_object_set_new(body, "database", json_string(database));
    }
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 1 || p > 65535) {
            json_decref(body);
            return ctl_usage_error(cmd, "--port takes a port number");
        }
        json_object_set_new(body, "port", json_integer(p));
    }
    json_t *j = NULL;
    /* tenantd answers once the worker is ready and the admin exists. */
    int rc = ctl_post_json(c, "/v1/tenants", body, 120000, &j);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (c->json) {
        /* Exactly the documented shape, whatever else the API adds. */
        json_object_del(j, "tenant");
        char *out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
        printf("%s\n", out ? out : "{}");
        free(out);
    } else {
        json_t *adm = json_object_get(j, "admin");
        char id[64], url[512], user[128], pw[256];
        ctl_sanitize(json_string_value(json_object_get(j, "id")), id, sizeof id);
        ctl_sanitize(json_string_value(json_object_get(j, "url")), url, sizeof url);
        ctl_sanitize(json_string_value(json_object_get(adm, "username")), user, sizeof user);
        ctl_sanitize(json_string_value(json_object_get(adm, "password")), pw, sizeof pw);
        printf("onboarded %s\n  url:      %s\n  port:     %lld\n  admin:    %s\n  password: %s\n"
               "(the password is shown once; the firm should change it)\n",
               id, url, (long long)json_integer_value(json_object_get(j, "port")), user, pw);
        /* [acme]: onboarding does not wait for the certificate. */
        const char *cs = json_string_value(
            json_object_get(json_object_get(json_object_get(j, "tenant"), "cert"), "state"));
        if (cs != NULL && strcmp(cs, "valid") != 0)
            printf(
                "  https:    certificate %s; plain HTTP until it is issued (tenantctl cert %s)\n",
                strcmp(cs, "error") == 0 ? "refused for now" : "pending", id);
    }
    json_decref(j);
    return CTL_EXIT_OK;
}

int ctl_cmd_offboard(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    const char *id = NULL;
    bool purge = false;
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--purge") == 0)
            purge = true;
        else if (id == NULL && c->argv[i][0] != '-')
            id = c->argv[i];
        else
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", c->argv[i]);
    }
    if (id == NULL)
        return ctl_usage_error(cmd, "offboard needs a tenant id");
    if (!ctl_valid_id_arg(cmd, id))
        return CTL_EXIT_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s%s", id, purge ? "?purge=1" : "");
    struct ctl_response r;
    int rc = ctl_request(c, "DELETE", path, NULL, 120000, &r);
    if (rc != 0)
        return rc;
    if (r.status / 100 != 2) {
        rc = ctl_api_error(&r);
    } else if (c->json) {
        fwrite(r.body, 1, r.len, stdout);
    } else {
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        const char *arch = json_string_value(json_object_get(j, "archive"));
        const char *warn = json_string_value(json_object_get(j, "warning"));
        char clean[CONFIG_PATH_MAX];
        ctl_sanitize(arch ? arch : "", clean, sizeof clean);
        if (purge)
            printf("offboarded %s; its data is deleted\n", id);
        else
            printf("offboarded %s; archived in %s\n", id, clean);
        if (warn) {
            ctl_sanitize(warn, clean, sizeof clean);
            fprintf(stderr, "tenantctl: warning: %s\n", clean);
        }
        json_decref(j);
    }
    ctl_response_free(&r);
    return rc;
}

int ctl_cmd_create_admin(struct ctl *c)
{
    const struct ctl_cmd *cmd = c->cmd;
    if (c->argc != 3)
        return ctl_usage_error(cmd, "create-admin needs <id> <username>");
    if (!ctl_valid_id_arg(cmd, c->argv[1]))
        return CTL_EXIT_USAGE;
    json_t *body = json_object();
    json_t *user = json_string(c->argv[2]);
    if (body == NULL || user == NULL) {
        json_decref(body);
        json_decref(user);
        return ctl_usage_error(cmd, "the username must be valid UTF-8");
    }
    json_object_set_new(body, "username", user);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/admins", c->argv[1]);
    json_t *j = NULL;
    /* Hashing the password at the tenant's cost may take a few seconds. */
    int rc = ctl_post_json(c, path, body, 120000, &j);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (c->json) {
        char *out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
        printf("%s\n", out ? out : "{}");
        free(out);
    } else {
        /* One "key: value" per line, so scripts can pick the password with
         * sed -n 's/^password: //p'. */
        json_t *adm = json_object_get(j, "admin");
        char url[512], name[128], pw[256];
        ctl_sanitize(json_string_value(json_object_get(j, "url")), url, sizeof url);
        ctl_sanitize(json_string_value(json_object_get(adm, "username")), name, sizeof name);
        ctl_sanitize(json_string_value(json_object_get(adm, "password")), pw, sizeof pw);
        printf("url: %s\nusername: %s\npassword: %s\n", url, name, pw);
    }
    json_decref(j);
    return CTL_EXIT_OK;
}
