/*
 * config_files.c — the three kinds of config file, one at a time: tenantd.ini
 * (config_parse_global, config_load_global), plans.ini (config_parse_plans,
 * config_load_plans, config_plan_find) and tenants.d/<id>.ini
 * (config_parse_tenant, config_load_tenant). Each is read through config_ini.c
 * with its table, then the values that depend on other keys are derived and
 * the checks across keys of one file are made (a tenant's plan exists, its
 * port is in port_range, the admin listener is on loopback...). Also how a
 * path is shown in messages.
 *
 * What this file does not do: list the tenant files or check tenants against
 * each other (config.c), or apply anything. Its only I/O is reading the file it
 * is asked to load.
 */
#include "config_internal.h"

#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- how paths are shown ------------------------------------------------------ */

/* The path as messages show it: relative to the global file's folder inside it. */
const char *config_display_of(const struct config_global *g, const char *path)
{
    size_t bl = strlen(g->base_dir);

    if (bl > 0 && strncmp(path, g->base_dir, bl) == 0 && path[bl] == '/' && path[bl + 1] != '\0')
        return path + bl + 1;
    if (strcmp(g->base_dir, "/") == 0 && path[0] == '/' && path[1] != '\0')
        return path + 1;
    return path;
}

/*
 * A file name as messages show it: a tenant file's name is whatever landed in
 * the folder, so control bytes (and every byte above 0x7f when the name is
 * not clean UTF-8) become \xNN and a message stays one printable line.
 */
void config_safe_name(char *buf, size_t n, const char *name)
{
    bool utf8 = config_utf8_check(name, U8_NO_C1);
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < n; p++) {
        if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = '\0';
}

/* Make a path absolute against the current directory, without resolving links. */
static int absolute(const char *path, char *buf, size_t n)
{
    char cwd[CONFIG_PATH_MAX];

    if (path[0] == '/')
        return util_strlcpy(buf, path, n);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -errno;
    return util_path_join(buf, n, cwd, path);
}
/* ---- global file --------------------------------------------------------------- */

/* Values whose default depends on other keys, and checks across keys. */
static void global_derive(struct pctx *c, struct config_global *g, const int *seen)
{
    char q[QUOTE_MAX * 4 + 16];
    int line;

    if (config_seen_line(c, seen, "admin", "socket") == 0 &&
        util_path_join(g->admin_socket, sizeof(g->admin_socket), g->run_dir, "admin.sock") < 0)
        config_perr(c, 0, "admin", "socket", "the default path is too long");
    if (config_seen_line(c, seen, "proxy", "templates") == 0 &&
        util_path_join(g->proxy_templates, sizeof(g->proxy_templates), g->templates_dir, "nginx") <
            0)
        config_perr(c, 0, "proxy", "templates", "the default path is too long");
    if (config_seen_line(c, seen, "proxy", "tls_port") == 0)
        g->tls_port = g->proxy_port == 8080 ? 8443 : 443;

    line = config_seen_line(c, seen, "admin", "listen");
    if (g->admin_port != 0 && !g->admin_allow_remote && !config_is_loopback(g->admin_host)) {
        config_quote(q, sizeof(q), g->admin_host);
        config_perr(c, line, "admin", "listen",
                    "%s is not a loopback address (set allow_remote = true to listen on it)", q);
    }
    if (g->backoff_min_ms > g->backoff_max_ms)
        config_perr(c, config_seen_line(c, seen, "supervise", "backoff_min"), "supervise",
                    "backoff_min", "is larger than backoff_max");
    line = config_seen_line(c, seen, "postgresql", "url");
    if (g->pg_url[0] != '\0') {
        char why[256];
        if (pg_url_parse(g->pg_url, &g->pg, why, sizeof(why)) < 0)
            config_perr(c, line, "postgresql", "url", "%s", why);
    }
    if ((g->pg_url[0] == '\0') != (g->pg_password_file[0] == '\0'))
        config_perr(c, line, "postgresql", g->pg_url[0] ? "password_file" : "url",
                    "url and password_file must be set together");
    config_net_global(c, g, seen);
    if ((g->tls_cert[0] == '\0') != (g->tls_key[0] == '\0'))
        config_perr(c, 0, "proxy", g->tls_cert[0] ? "tls_key" : "tls_cert",
                    "tls_cert and tls_key must be set together");
    if (g->alerts_email && (!g->mail_relay[0] || !g->mail_from[0] || !g->mail_to[0]))
        config_perr(c, config_seen_line(c, seen, "alerts", "email"), "alerts", "email",
                    "needs [mail] relay, from and to");
    if (g->alerts_webhook[0] && !g->alerts_webhook_secret_file[0])
        config_perr(c, config_seen_line(c, seen, "alerts", "webhook"), "alerts", "webhook",
                    "needs webhook_secret_file (the shared secret its requests are signed with)");
    if (g->acme_enabled && (g->acme_directory[0] == '\0' || g->acme_email[0] == '\0'))
        config_perr(c, config_seen_line(c, seen, "acme", "enabled"), "acme",
                    g->acme_directory[0] ? "email" : "directory",
                    "is required when [acme] enabled = true");
    if (g->acme_enabled && g->acme_challenge == ACME_DNS01 && g->acme_dns_hook[0] == '\0')
        config_perr(c, config_seen_line(c, seen, "acme", "challenge"), "acme", "dns_hook",
                    "is required with challenge = dns-01");
}

int config_parse_global(const char *path, const char *text, size_t len, struct config_global *g,
                        struct config_diag *d)
{
    struct pctx c = {0};
    int seen[CONFIG_KEYS_MAX] = {0};
    const char *slash;

    memset(g, 0, sizeof(*g));
    if (util_strlcpy(g->path, path, sizeof(g->path)) < 0) {
        config_diag_add(d, "%s: the path is too long", path);
        return -EINVAL;
    }
    slash = strrchr(g->path, '/');
    if (slash == NULL)
        util_strlcpy(g->base_dir, ".", sizeof(g->base_dir));
    else if (slash == g->path)
        util_strlcpy(g->base_dir, "/", sizeof(g->base_dir));
    else
        snprintf(g->base_dir, sizeof(g->base_dir), "%.*s", (int)(slash - g->path), g->path);

    c.display = slash ? slash + 1 : g->path;
    c.d = d;
    c.keys = config_global_table.keys;
    c.nkeys = config_global_table.n;
    c.base = g->base_dir;
    c.obj = g;
    c.seen = seen;
    c.text = text;
    c.len = len;
    config_parse_text(&c);
    config_finish_keys(&c, g, seen, NULL);
    global_derive(&c, g, seen);
    config_flush(&c);
    return c.nerr ? -EINVAL : 0;
}

int config_load_global(const char *path, struct config_global *g, struct config_diag *d)
{
    char abs[CONFIG_PATH_MAX], *text = NULL;
    size_t len = 0;
    int r;

    memset(g, 0, sizeof(*g));
    r = absolute(path, abs, sizeof(abs));
    if (r == 0)
        r = util_read_file(abs, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", path,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        return -EINVAL;
    }
    r = config_parse_global(abs, text, len, g, d);
    free(text);
    return r;
}

/* ---- plans ------------------------------------------------------------------------ */

int config_parse_plans(const struct config_global *g, const char *display_path, const char *text,
                       size_t len, struct config_plans *p, struct config_diag *d)
{
    struct pctx *c;
    int r;

    memset(p, 0, sizeof(*p));
    /* The per-plan "seen" table is a few KiB: keep it off the stack. */
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        config_diag_add(d, "%s: out of memory", display_path);
        return -ENOMEM;
    }
    c->display = display_path;
    c->d = d;
    c->keys = config_plan_table.keys;
    c->nkeys = config_plan_table.n;
    c->base = g ? g->base_dir : "";
    c->plans = p;
    c->text = text;
    c->len = len;
    config_parse_text(c);
    for (size_t i = 0; i < p->n; i++) {
        struct config_plan *pl = &p->plan[i];
        config_finish_keys(c, pl, c->plan_seen[i], pl->name);
        /* A plan without a label is shown under its name. */
        if (config_seen_line(c, c->plan_seen[i], pl->name, "label") == 0)
            util_strlcpy(pl->label, pl->name, sizeof(pl->label));
    }
    if (p->n == 0 && c->nerr == 0)
        config_perr(c, 0, NULL, NULL, "no plan is defined");
    r = c->nerr ? -EINVAL : 0;
    config_flush(c);
    free(c);
    return r;
}

int config_load_plans(const struct config_global *g, struct config_plans *p, struct config_diag *d)
{
    const char *display = config_display_of(g, g->plans);
    char *text = NULL;
    size_t len = 0;
    int r;

    memset(p, 0, sizeof(*p));
    r = util_read_file(g->plans, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", display,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        return -EINVAL;
    }
    r = config_parse_plans(g, display, text, len, p, d);
    free(text);
    return r;
}

const struct config_plan *config_plan_find(const struct config_plans *p, const char *name)
{
    int i;

    if (p == NULL || name == NULL)
        return NULL;
    i = config_plan_index(p, name);
    return i < 0 ? NULL : &p->plan[i];
}

/* ---- tenant files ------------------------------------------------------------- */

/*
 * A PostgreSQL tenant reaches its server (docs/database.md): over a unix
 * socket with any network setting; over TCP, the server's port joins its
 * allow list, and a network left to the default becomes local (a loopback
 * server) or outbound (another host). A network = none the operator chose
 * cannot reach a TCP server: that is an error naming the way out.
 */
static void tenant_pg_net(struct pctx *c, const struct config_global *g,
                          const struct config_plan *pl, struct config_tenant *t, const int *seen)
{
    int tline = config_seen_line(c, seen, "database", "type");
    if (t->database != DB_POSTGRESQL || g == NULL)
        return;
    if (g->pg_url[0] == '\0') {
        config_perr(c, tline, "database", "type",
                    "postgresql needs a server: tenantd.ini has no [postgresql] url");
        return;
    }
    if (g->pg.sockdir[0])
        return;
    bool chosen = config_seen_line(c, seen, "worker", "network") > 0 || (pl && pl->network[0]);
    bool loopback = config_is_loopback(g->pg.host);
    if (!chosen)
        t->network = loopback ? WORKER_NETWORK_LOCAL : WORKER_NETWORK_OUTBOUND;
    if (t->network == WORKER_NETWORK_NONE) {
        config_perr(c, config_seen_line(c, seen, "worker", "network"), "worker", "network",
                    "none cannot reach the PostgreSQL server %s:%d: use network = local (its "
                    "port is allowed by itself) or a unix socket in [postgresql] url",
                    g->pg.host, g->pg.port);
        return;
    }
    if (t->network == WORKER_NETWORK_LOCAL && !loopback) {
        config_perr(c, config_seen_line(c, seen, "worker", "network"), "worker", "network",
                    "local reaches loopback only; the PostgreSQL server %s is another host: "
                    "use network = outbound",
                    g->pg.host);
        return;
    }
    for (size_t i = 0; i < t->n_allow; i++)
        if (t->allow_port[i] == g->pg.port)
            return;
    if (t->n_allow < CONFIG_ALLOW_MAX)
        t->allow_port[t->n_allow++] = (uint16_t)g->pg.port;
}

/* Fill what depends on the id, the plan or other keys, and check across keys. */
static void tenant_derive(struct pctx *c, const struct config_global *g,
                          const struct config_plans *p, struct config_tenant *t, const int *seen)
{
    const struct config_plan *pl = NULL;
    char q[QUOTE_MAX * 4 + 16];
    int line;

    if (config_seen_line(c, seen, "tenant", "subdomain") == 0)
        util_strlcpy(t->subdomain, t->id, sizeof(t->subdomain));
    if (config_seen_line(c, seen, "tenant", "instance") == 0)
        snprintf(t->instance, sizeof(t->instance), "%s-prod", t->id);
    if (config_seen_line(c, seen, "worker", "socket") == 0)
        t->socket = t->command[0] ? WORKER_SOCKET_OWN : WORKER_SOCKET_PASSED;

    /* A subdomain that is a reserved name would take over one of our hosts. */
    line = config_seen_line(c, seen, "tenant", "subdomain");
    if (line > 0 && config_reserved_id(t->subdomain)) {
        config_quote(q, sizeof(q), t->subdomain);
        config_perr(c, line, "tenant", "subdomain", "%s is reserved", q);
    }

    line = config_seen_line(c, seen, "tenant", "plan");
    if (line > 0 && t->plan[0] != '\0') {
        pl = config_plan_find(p, t->plan);
        if (pl == NULL) {
            char names[CONFIG_PLANS_MAX * CONFIG_ID_MAX] = "";
            size_t o = 0;
            for (size_t i = 0; p != NULL && i < p->n && o < sizeof(names); i++)
                o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                      p->plan[i].name);
            config_quote(q, sizeof(q), t->plan);
            config_perr(c, line, "tenant", "plan", "%s is not a plan of %s (%s)", q,
                        g ? config_display_of(g, g->plans) : "plans.ini", names);
        }
    }
    if (pl != NULL) {
        if (!config_seen_line(c, seen, "limits", "max_users"))
            t->max_users = pl->max_users;
        if (!config_seen_line(c, seen, "limits", "max_cases"))
            t->max_cases = pl->max_cases;
        if (!config_seen_line(c, seen, "limits", "max_analysis_monthly"))
            t->max_analysis_monthly = pl->max_analysis_monthly;
        if (!config_seen_line(c, seen, "limits", "memory"))
            t->memory_bytes = pl->memory_bytes;
        if (!config_seen_line(c, seen, "limits", "pids"))
            t->pids = pl->pids;
        if (!config_seen_line(c, seen, "limits", "cpu_weight"))
            t->cpu_weight = pl->cpu_weight;
        if (!config_seen_line(c, seen, "limits", "log_budget"))
            t->log_budget_bytes = pl->log_budget_bytes;
        if (!config_seen_line(c, seen, "limits", "storage"))
            t->storage_bytes = pl->storage_bytes;
        if (!config_seen_line(c, seen, "limits", "max_body"))
            t->max_body_bytes = pl->max_body_bytes;
        t->hsts = pl->hsts;
        if (!config_seen_line(c, seen, "worker", "ai_model"))
            util_strlcpy(t->ai_model, pl->ai_model, sizeof(t->ai_model));
        if (!config_seen_line(c, seen, "worker", "advanced_features"))
            t->advanced_features = pl->advanced_features;
        if (!config_seen_line(c, seen, "database", "type"))
            t->database = pl->database;
        if (!config_seen_line(c, seen, "worker", "idle_after"))
            t->idle_after_ms = pl->idle_after_ms;
    }

    /* Only a socket tenantd holds can wake an idle tenant: a worker that
     * binds its own port leaves nothing to watch. Asked for in the tenant's
     * own file, that is an error; inherited from the plan, it does not apply. */
    line = config_seen_line(c, seen, "worker", "idle_after");
    if (t->socket == WORKER_SOCKET_OWN && t->idle_after_ms > 0) {
        if (line > 0)
            config_perr(c, line, "worker", "idle_after",
                        "needs socket = passed: a worker that binds its own port cannot be "
                        "woken by a connection (use 0)");
        t->idle_after_ms = 0;
    }

    config_net_tenant(c, g, pl, t, seen);
    tenant_pg_net(c, g, pl, t, seen);
    line = config_seen_line(c, seen, "worker", "port");
    if (line > 0 && g != NULL && g->port_max > 0 && t->port > 0 &&
        (t->port < g->port_min || t->port > g->port_max))
        config_perr(c, line, "worker", "port", "%d is outside port_range (%d-%d)", t->port,
                    g->port_min, g->port_max);
}

int config_parse_tenant(const struct config_global *g, const struct config_plans *p, const char *id,
                        const char *display_path, const char *text, size_t len,
                        struct config_tenant *t, struct config_diag *d)
{
    struct pctx c = {0};
    int seen[CONFIG_KEYS_MAX] = {0};
    char q[QUOTE_MAX * 4 + 16];

    memset(t, 0, sizeof(*t));
    c.display = display_path;
    c.d = d;
    c.keys = config_tenant_table.keys;
    c.nkeys = config_tenant_table.n;
    c.base = g ? g->base_dir : "";
    c.obj = t;
    c.seen = seen;
    c.text = text;
    c.len = len;

    util_strlcpy(t->id, id, sizeof(t->id));
    if (!config_id_form(id)) {
        config_quote(q, sizeof(q), id);
        config_perr(&c, 0, NULL, NULL,
                    "%s is not a valid tenant id (a lowercase letter, then up to 30 "
                    "lowercase letters, digits or '-')",
                    q);
    } else if (config_reserved_id(id)) {
        config_perr(&c, 0, NULL, NULL, "\"%s\" is a reserved tenant id", id);
    }
    config_parse_text(&c);
    config_finish_keys(&c, t, seen, NULL);
    tenant_derive(&c, g, p, t, seen);
    config_flush(&c);
    return c.nerr ? -EINVAL : 0;
}

static unsigned long tenant_parses;

unsigned long config_tenant_parses(void)
{
    return tenant_parses;
}

int config_load_tenant(const struct config_global *g, const struct config_plans *p,
                       const char *path, struct config_tenant *t, struct config_diag *d)
{
    tenant_parses++;
    char abs[CONFIG_PATH_MAX], id[NAME_MAX + 1], *text = NULL;
    const char *base = strrchr(path, '/');
    char *display = NULL;
    size_t len = 0, bl, dn;
    int r;

    memset(t, 0, sizeof(*t));
    base = base ? base + 1 : path;
    bl = strlen(base);
    if (bl > 4 && strcmp(base + bl - 4, ".ini") == 0)
        bl -= 4;
    snprintf(id, sizeof(id), "%.*s", (int)bl, base);
    util_strlcpy(t->id, id, sizeof(t->id));
    dn = strlen(path) * 4 + 1;
    display = malloc(dn);
    if (display == NULL) {
        config_diag_add(d, "out of memory");
        return -ENOMEM;
    }
    if (absolute(path, abs, sizeof(abs)) < 0 || strlen(abs) >= CONFIG_TENANT_FILE_MAX) {
        config_safe_name(display, dn, path);
        config_diag_add(d, "%s: the path is too long", display);
        r = -EINVAL;
        goto out;
    }
    config_safe_name(display, dn, g ? config_display_of(g, abs) : path);
    r = util_read_file(abs, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", display,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        r = -EINVAL;
        goto out;
    }
    r = config_parse_tenant(g, p, id, display, text, len, t, d);
out:
    free(display);
    free(text);
    return r;
}
