/*
 * config.c — the configuration as a whole (see config.h for the model and
 * DESIGN.md "Files on disk" for the formats): the diagnostics every step
 * writes into, config_load() (the global file, the plans, then every tenant
 * file of tenants_dir in id order), the cross-tenant checks (a port or a
 * subdomain used twice), lookup, and the comparison of two tenants that a
 * reload uses. config_internal.h lists the other files of the module.
 *
 * What this file does not do: parse a file (config_files.c, config_ini.c),
 * watch files, apply a config, or log. Its only I/O is listing tenants_dir
 * and reading the files it is asked to load.
 */
#include "config_internal.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics --------------------------------------------------------- */

void config_diag_add(struct config_diag *d, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    int r;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    r = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **lines = realloc(d->lines, cap * sizeof(*lines));
        if (lines == NULL) {
            free(line);
            return;
        }
        d->lines = lines;
        d->cap = cap;
    }
    d->lines[d->n++] = line;
}

void config_diag_clear(struct config_diag *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->n = d->cap = 0;
}

char *config_diag_join(const struct config_diag *d)
{
    size_t len = 1, o = 0;
    char *s;

    for (size_t i = 0; d != NULL && i < d->n; i++)
        len += strlen(d->lines[i]) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; d != NULL && i < d->n; i++) {
        size_t l = strlen(d->lines[i]);
        if (i > 0)
            s[o++] = '\n';
        memcpy(s + o, d->lines[i], l);
        o += l;
    }
    s[o] = '\0';
    return s;
}
/* ---- the whole configuration ---------------------------------------------------- */

/* Editor and tool leftovers that sit beside tenant files and are not tenants. */
static bool ignored_name(const char *name)
{
    static const char *const tails[] = {"~", ".tmp", ".swp", ".bak", ".orig", ".rej"};
    size_t n = strlen(name);

    if (name[0] == '.')
        return true;
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        size_t l = strlen(tails[i]);
        if (n >= l && strcmp(name + n - l, tails[i]) == 0)
            return true;
    }
    return n <= 4 || strcmp(name + n - 4, ".ini") != 0;
}

static int cmp_names(const void *a, const void *b)
{
    /* By id, i.e. without ".ini": "a.ini" sorts before "a-b.ini". */
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t xl = strlen(x) - 4, yl = strlen(y) - 4;
    int r = strncmp(x, y, xl < yl ? xl : yl);

    return r != 0 ? r : (xl > yl) - (xl < yl);
}

/* List the tenant files of tenants_dir, sorted by id. */
static int list_tenant_files(const char *dir, char ***out, size_t *n_out)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;

    *out = NULL;
    *n_out = 0;
    if (dp == NULL)
        return -errno;
    errno = 0;
    while ((de = readdir(dp)) != NULL) {
        if (ignored_name(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (nn == NULL) {
                ret = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = nc;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            ret = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (errno != 0)
        ret = -errno;
out:
    closedir(dp);
    if (ret < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return ret;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *n_out = n;
    return 0;
}

/* Mark e invalid with one more message, keeping its earlier ones. */
static void entry_fail(struct config_tenant_entry *e, struct config_diag *d, const char *msg)
{
    size_t old = e->error ? strlen(e->error) : 0;
    char *s = realloc(e->error, old + strlen(msg) + 2);

    config_diag_add(d, "%s", msg);
    e->valid = false;
    if (s == NULL)
        return;
    if (old > 0)
        s[old++] = '\n';
    strcpy(s + old, msg);
    e->error = s;
}

/* FNV-1a of a subdomain, for cross_check's table. */
static uint64_t sub_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The earliest valid tenant before `i` with e's port or subdomain, or -1;
 * *port_clash says which (the port when both, like a pairwise scan would). */
static long first_clash(const long *port_owner, const long *sub_slot, size_t mask,
                        const struct config *cfg, const struct config_tenant_entry *e,
                        bool *port_clash)
{
    long p = e->t.port > 0 && e->t.port < 65536 ? port_owner[e->t.port] : -1;
    long q = -1;
    for (size_t k = sub_hash(e->t.subdomain) & mask; sub_slot[k] >= 0; k = (k + 1) & mask) {
        if (strcmp(cfg->tenants[sub_slot[k]].t.subdomain, e->t.subdomain) == 0) {
            q = sub_slot[k];
            break;
        }
    }
    *port_clash = p >= 0 && (q < 0 || p <= q);
    return *port_clash ? p : q;
}

/*
 * Ports and subdomains must be unique. Tenants are in id order, so the later of
 * two clashing tenants is the one marked invalid, and the earlier keeps running.
 * Linear: the first valid owner of each port and subdomain is kept in a table
 * (a pairwise scan took seconds at 10,000 tenants, on every reload).
 */
static void cross_check(struct config *cfg, struct config_diag *d)
{
    size_t cap = 16;
    while (cap < 2 * cfg->n_tenants + 2)
        cap *= 2;
    long *port_owner = malloc(65536 * sizeof(*port_owner));
    long *sub_slot = malloc(cap * sizeof(*sub_slot));
    if (port_owner == NULL || sub_slot == NULL) {
        free(port_owner);
        free(sub_slot);
        for (size_t i = 0; i < cfg->n_tenants; i++)
            if (cfg->tenants[i].valid)
                entry_fail(&cfg->tenants[i], d, "out of memory while checking ports");
        return;
    }
    for (size_t k = 0; k < 65536; k++)
        port_owner[k] = -1;
    for (size_t k = 0; k < cap; k++)
        sub_slot[k] = -1;
    for (size_t i = 0; i < cfg->n_tenants; i++) {
        struct config_tenant_entry *e = &cfg->tenants[i];
        char file[CONFIG_TENANT_FILE_MAX];
        config_tenant_file(&cfg->g, e->id, file, sizeof file);
        const char *disp = config_display_of(&cfg->g, file);
        char msg[512];
        bool by_port;
        if (!e->valid)
            continue;
        long o = first_clash(port_owner, sub_slot, cap - 1, cfg, e, &by_port);
        if (o >= 0 && by_port) {
            snprintf(msg, sizeof(msg), "%s: [worker] port: %d is already used by tenant \"%s\"",
                     disp, e->t.port, cfg->tenants[o].id);
            entry_fail(e, d, msg);
            continue;
        }
        if (o >= 0) {
            snprintf(msg, sizeof(msg),
                     "%s: [tenant] subdomain: \"%s\" is already used by tenant \"%s\"", disp,
                     e->t.subdomain, cfg->tenants[o].id);
            entry_fail(e, d, msg);
            continue;
        }
        if (e->t.port > 0 && e->t.port < 65536)
            port_owner[e->t.port] = (long)i;
        size_t k = sub_hash(e->t.subdomain) & (cap - 1);
        while (sub_slot[k] >= 0)
            k = (k + 1) & (cap - 1);
        sub_slot[k] = (long)i;
    }
    free(port_owner);
    free(sub_slot);
}

int config_load(const char *global_path, struct config **out, struct config_diag *d)
{
    return config_reload(global_path, NULL, out, d);
}

int config_reload(const char *global_path, const struct config *prev, struct config **out,
                  struct config_diag *d)
{
    struct config *cfg;
    char **names = NULL;
    size_t n = 0;
    int r, ret = 0;

    *out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return -ENOMEM;
    /* Each stamp is taken before its file is read: a change in between is
     * seen as a change at the next reload. */
    int64_t now = config_now_ns();
    config_stamp_take(global_path, now, &cfg->global_st);
    if (config_load_global(global_path, &cfg->g, d) < 0) {
        ret = -EINVAL;
        goto out;
    }
    config_stamp_take(cfg->g.plans, now, &cfg->plans_st);
    if (config_load_plans(&cfg->g, &cfg->plans, d) < 0) {
        ret = -EINVAL;
        goto out;
    }
    /* A tenant's entry depends on its file, the global file and the plans. */
    bool reuse = prev != NULL && strcmp(prev->g.path, cfg->g.path) == 0 &&
                 config_stamp_same(&prev->global_st, &cfg->global_st) &&
                 config_stamp_same(&prev->plans_st, &cfg->plans_st);
    /*
     * A tenants folder that cannot be listed is fatal, even when missing: read
     * as "no tenants", it would stop every running worker on a reload.
     */
    r = list_tenant_files(cfg->g.tenants_dir, &names, &n);
    if (r < 0) {
        config_diag_add(d, "%s: cannot list the tenant files: %s",
                        config_display_of(&cfg->g, cfg->g.tenants_dir), strerror(-r));
        ret = r == -ENOMEM ? -ENOMEM : -EINVAL;
        goto out;
    }
    if (n > 0) {
        cfg->tenants = calloc(n, sizeof(*cfg->tenants));
        if (cfg->tenants == NULL) {
            ret = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct config_tenant_entry *e = &cfg->tenants[i];
        struct config_diag one = {0};
        char path[CONFIG_PATH_MAX];
        cfg->n_tenants++;
        if (util_path_join(path, sizeof(path), cfg->g.tenants_dir, names[i]) < 0) {
            config_safe_name(path, sizeof(path), names[i]);
            config_diag_add(&one, "%s: the path is too long", path);
        } else {
            config_stamp_take(path, now, &e->st);
            if (reuse && config_reuse_entry(prev, names[i], &e->st, e, &one))
                cfg->reused++;
            else if (config_load_tenant(&cfg->g, &cfg->plans, path, &e->t, &one) == 0)
                e->valid = true;
        }
        util_strlcpy(e->id, e->t.id, sizeof(e->id));
        if (!e->valid) {
            e->error = config_diag_join(&one);
            for (size_t k = 0; k < one.n; k++)
                config_diag_add(d, "%s", one.lines[k]);
        }
        e->own_valid = e->valid;
        e->own_error_len = e->error ? strlen(e->error) : 0;
        config_diag_clear(&one);
    }
    cross_check(cfg, d);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (ret < 0) {
        config_free(cfg);
        return ret;
    }
    *out = cfg;
    return 0;
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_tenants; i++)
        free(c->tenants[i].error);
    free(c->tenants);
    free(c);
}

static int cmp_entry(const void *key, const void *elem)
{
    return strcmp(key, ((const struct config_tenant_entry *)elem)->id);
}

const struct config_tenant_entry *config_find_tenant(const struct config *c, const char *id)
{
    if (c == NULL || id == NULL || c->n_tenants == 0)
        return NULL;
    /* Sorted by id (list_tenant_files): the proxy looks up every tenant at
     * each render, so a scan would cost N^2 at 10,000 tenants. */
    const struct config_tenant_entry *e =
        bsearch(id, c->tenants, c->n_tenants, sizeof(*c->tenants), cmp_entry);
    if (e != NULL)
        return e;
    /* An entry whose path was too long has no id, which breaks the order. */
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].id, id) == 0)
            return &c->tenants[i];
    return NULL;
}

/* ---- comparisons, paths and the environment --------------------------------------- */

bool config_tenant_equal(const struct config_tenant *a, const struct config_tenant *b)
{
#define SAME_S(f) (strcmp(a->f, b->f) == 0)
#define SAME(f) (a->f == b->f)
    return SAME_S(id) && SAME_S(name) && SAME_S(plan) && SAME_S(subdomain) && SAME(status) &&
           SAME_S(instance) && SAME_S(siret) && SAME_S(address) && SAME_S(phone) && SAME_S(email) &&
           SAME_S(logo) && SAME_S(color) && SAME_S(language) && SAME_S(timezone) &&
           SAME(max_users) && SAME(max_cases) && SAME(max_analysis_monthly) && SAME(memory_bytes) &&
           SAME(pids) && SAME(cpu_weight) && SAME(log_budget_bytes) && SAME(storage_bytes) &&
           SAME(max_body_bytes) && SAME(port) && SAME_S(command) && SAME(socket) &&
           SAME_S(ai_model) && SAME_S(prediction_threshold_text) && SAME(prediction_threshold) &&
           SAME(advanced_features) && SAME(network) && SAME_S(allow) && SAME(seccomp) &&
           SAME_S(password_cost) && SAME(stop_signal) && SAME(notify_access) &&
           SAME(idle_after_ms) && SAME(database) && SAME(db_read_only);
#undef SAME_S
#undef SAME
}

size_t config_warnings(const struct config *c, struct config_diag *w)
{
    size_t n = 0;
    for (size_t i = 0; c != NULL && i < c->n_tenants; i++) {
        const struct config_tenant_entry *e = &c->tenants[i];
        if (!e->valid || e->t.socket != WORKER_SOCKET_OWN)
            continue;
        const struct config_plan *pl = config_plan_find(&c->plans, e->t.plan);
        if (pl != NULL && pl->idle_after_ms > 0) {
            config_diag_add(w,
                            "tenants.d/%s.ini: warning: the idle_after of plan %s does not "
                            "apply: its worker binds its own port (socket = own), so nothing "
                            "would wake it",
                            e->id, pl->name);
            n++;
        }
    }
    n += config_acme_warnings(c, w);
    return n;
}

size_t config_acme_warnings(const struct config *c, struct config_diag *w)
{
    size_t served = 0;
    if (c == NULL || !c->g.acme_enabled || c->g.tls_cert[0] != '\0')
        return 0; /* an operator's certificate wins: nothing is issued */
    for (size_t i = 0; i < c->n_tenants; i++)
        served += c->tenants[i].valid && c->tenants[i].t.status != TENANT_CANCELLED;
    if (served <= (size_t)c->g.acme_weekly_limit)
        return 0;
    config_diag_add(w,
                    "tenantd.ini: warning: [acme] %zu tenants need %zu certificates for %s, "
                    "more than the CA issues per domain and week ([acme] weekly_limit = %d): "
                    "onboarding them at once will hit the CA's rate limit; beyond a few dozen "
                    "firms use one wildcard certificate *.%s through dns-01, set as [proxy] "
                    "tls_cert/tls_key",
                    served, served, c->g.domain, c->g.acme_weekly_limit, c->g.domain);
    return 1;
}
