/*
 * config_env.c — what a loaded tenant becomes outside the config: its data
 * folder and log file paths, and the worker's environment
 * (config_worker_env: the seed's variables in DESIGN.md's order, then
 * tenantd's additions).
 *
 * What this file does not do: validate (every value it copies was checked when
 * the tenant was loaded), add LISTEN_FDS, LISTEN_PID or NOTIFY_SOCKET (the
 * supervisor does, when it spawns), or any I/O.
 */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_tenant_data_dir(const struct config_global *g, const char *id, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/%s", g->data_dir, id);
}

int config_tenant_flags_dir(const struct config_global *g, const char *id, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/flags/%s", g->run_dir, id);
}

int config_tenant_log_path(const struct config_global *g, const char *id, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/%s.log", g->log_dir, id);
}

int config_tenant_file(const struct config_global *g, const char *id, char *buf, size_t n)
{
    char name[CONFIG_ID_MAX + 8];
    if ((size_t)snprintf(name, sizeof name, "%s.ini", id) >= sizeof name)
        return -ENAMETOOLONG;
    /* The join config_load does, so that both name the same file. */
    return util_path_join(buf, n, g->tenants_dir, name) < 0 ? -ENAMETOOLONG : 0;
}

#define ENV_MAX 48

/* One "K=V" string of the environment under construction. */
struct envb {
    char *v[ENV_MAX];
    size_t n;
    bool oom;
};

static void env_add(struct envb *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void env_add(struct envb *e, const char *key, const char *fmt, ...)
{
    va_list ap;
    char *val = NULL, *kv = NULL;

    if (e->oom || e->n >= ENV_MAX - 1) {
        e->oom = true;
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&val, fmt, ap) < 0)
        val = NULL;
    va_end(ap);
    if (val == NULL || asprintf(&kv, "%s=%s", key, val) < 0) {
        free(val);
        e->oom = true;
        return;
    }
    free(val);
    e->v[e->n++] = kv;
}

char **config_worker_env(const struct config_global *g, const struct config_plans *p,
                         const struct config_tenant *t, const char *secret)
{
    const struct config_plan *pl = config_plan_find(p, t->plan);
    struct envb e = {.n = 0};
    char data[CONFIG_PATH_MAX + CONFIG_ID_MAX + 2], tpl[CONFIG_PATH_MAX + 8];
    char **env = NULL;
    size_t total = 0;
    char *s;

    config_tenant_data_dir(g, t->id, data, sizeof(data));
    snprintf(tpl, sizeof(tpl), "%s/worker", g->templates_dir);

    /* The seed's variables first, in DESIGN.md's order. */
    env_add(&e, "CLIENT_ID", "%s", t->id);
    env_add(&e, "CLIENT_NAME", "%s", t->name);
    env_add(&e, "INSTANCE_NAME", "%s", t->instance);
    env_add(&e, "CLIENT_SIRET", "%s", t->siret);
    env_add(&e, "CLIENT_ADDRESS", "%s", t->address);
    env_add(&e, "CLIENT_PHONE", "%s", t->phone);
    env_add(&e, "CLIENT_EMAIL", "%s", t->email);
    env_add(&e, "CLIENT_LOGO", "%s", t->logo);
    env_add(&e, "CLIENT_COLOR", "%s", t->color);
    env_add(&e, "SUBSCRIPTION_PLAN", "%s", t->plan);
    env_add(&e, "MAX_USERS", "%d", t->max_users);
    env_add(&e, "MAX_CASES", "%d", t->max_cases);
    env_add(&e, "MAX_ANALYSIS_MONTHLY", "%d", t->max_analysis_monthly);
    env_add(&e, "AI_MODEL", "%s", t->ai_model);
    env_add(&e, "PREDICTION_THRESHOLD", "%s", t->prediction_threshold_text);
    env_add(&e, "ADVANCED_FEATURES", "%s", t->advanced_features ? "true" : "false");
    env_add(&e, "DATA_DIR", "%s", data);
    env_add(&e, "PORT", "%d", t->port);
    if (secret != NULL)
        env_add(&e, "SECRET_KEY", "%s", secret);
    if (t->database == DB_POSTGRESQL && g->pg_url[0] != '\0') {
        char url[512];
        pg_tenant_url(&g->pg, t->id, url, sizeof url);
        env_add(&e, "DATABASE_TYPE", "postgresql");
        env_add(&e, "POSTGRESQL_URL", "%s", url);
        /* libpq's password file, written by tenantd at provisioning (pg_admin.c). */
        env_add(&e, "PGPASSFILE", "%s/.pgpass", data);
    } else {
        env_add(&e, "DATABASE_TYPE", "sqlite");
    }
    /* A migration's copy runs: reads served, writes 503 (docs/database.md). */
    if (t->db_read_only)
        env_add(&e, "WORKER_READ_ONLY", "true");
    /* Then tenantd's additions. */
    env_add(&e, "TEMPLATES_DIR", "%s", tpl);
    env_add(&e, "LANGUAGE", "%s", t->language);
    env_add(&e, "TIMEZONE", "%s", t->timezone);
    env_add(&e, "PASSWORD_COST", "%s", t->password_cost);
    if (t->storage_bytes > 0) {
        char flags[CONFIG_PATH_MAX + CONFIG_ID_MAX + 8];
        env_add(&e, "STORAGE_LIMIT_BYTES", "%lld", (long long)t->storage_bytes);
        if (config_tenant_flags_dir(g, t->id, flags, sizeof flags) < (int)sizeof flags)
            env_add(&e, "STORAGE_FULL_FILE", "%s/%s", flags, CONFIG_STORAGE_FULL_FLAG);
    }
    if (pl != NULL) {
        env_add(&e, "PLAN_LABEL", "%s", pl->label);
        env_add(&e, "PLAN_PRICE_CENTS", "%lld", (long long)pl->price_cents);
        env_add(&e, "PLAN_OVERAGE_CENTS", "%lld", (long long)pl->overage_cents);
    }
    env_add(&e, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    env_add(&e, "LANG", "C.UTF-8");
    env_add(&e, "TZ", "%s", t->timezone);
    if (e.oom)
        goto out;

    /* One block: the pointer array, then the strings it points into. */
    for (size_t i = 0; i < e.n; i++)
        total += strlen(e.v[i]) + 1;
    env = malloc((e.n + 1) * sizeof(char *) + total);
    if (env == NULL)
        goto out;
    s = (char *)(env + e.n + 1);
    for (size_t i = 0; i < e.n; i++) {
        size_t l = strlen(e.v[i]) + 1;
        memcpy(s, e.v[i], l);
        env[i] = s;
        s += l;
    }
    env[e.n] = NULL;
out:
    for (size_t i = 0; i < e.n; i++)
        free(e.v[i]);
    if (env == NULL)
        errno = ENOMEM;
    return env;
}

/* Set `key = value` in [database] (value NULL: remove the key's line). */
static int set_database_key(const char *old, const char *key, const char *value, char *out,
                            size_t n)
{
    const char *sec = strncmp(old, "[database]", 10) == 0 ? old : strstr(old, "\n[database]");
    size_t klen = strlen(key);
    int k;
    if (sec == NULL) {
        size_t len = strlen(old);
        if (value == NULL)
            k = snprintf(out, n, "%s", old);
        else
            k = snprintf(out, n, "%s%s\n[database]\n%s = %s\n", old,
                         len && old[len - 1] != '\n' ? "\n" : "", key, value);
        return k < 0 || (size_t)k >= n ? -ENOSPC : 0;
    }
    const char *body = sec + (sec == old ? 10 : 11), *end = strstr(body, "\n["), *line = NULL;
    for (const char *p = strchr(body, '\n'); p && (!end || p < end); p = strchr(p + 1, '\n')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, key, klen) == 0 && (q[klen] == ' ' || q[klen] == '\t' || q[klen] == '=')) {
            line = p;
            break;
        }
    }
    if (line) {
        const char *eol = strchr(line + 1, '\n');
        if (value == NULL)
            k = snprintf(out, n, "%.*s%s", (int)(line - old), old, eol ? eol : "\n");
        else
            k = snprintf(out, n, "%.*s\n%s = %s%s", (int)(line - old), old, key, value,
                         eol ? eol : "\n");
    } else if (value == NULL) {
        k = snprintf(out, n, "%s", old);
    } else {
        k = snprintf(out, n, "%.*s\n%s = %s%s", (int)(body - old), old, key, value, body);
    }
    return k < 0 || (size_t)k >= n ? -ENOSPC : 0;
}

int config_set_database_text(const char *old, enum db_type type, char *out, size_t n)
{
    return set_database_key(old, "type", type == DB_POSTGRESQL ? "postgresql" : "sqlite", out, n);
}

int config_set_read_only_text(const char *old, bool on, char *out, size_t n)
{
    return set_database_key(old, "read_only", on ? "true" : NULL, out, n);
}
