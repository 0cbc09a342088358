/*
 * ctl_main.c — tenantctl's command line: global options, the command table,
 * exit codes (ctl.h), the request helpers every command shares (ctl_cmd.h),
 * and the commands that are one request each (status, the actions, reload,
 * events, plans) or work offline (check, logs). Every command but `check`
 * and `logs` is a request to tenantd's admin API over its unix socket.
 *
 * What it does not hold: onboarding (ctl_onboard.c), waiting for a state
 * (ctl_wait.c), backups (ctl_backup.c), the proxy's file (ctl_proxy.c).
 */
#include "ctl_cmd.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "reach.h"
#include "util.h"
#include "ctl_backup.h"
#include "ctl_export.h"
#include "ctl_proxy.h"

static void usage_global(FILE *f);

/* The config file when -c is not given: $TENANTD_CONFIG, ./tenantd.ini, then
 * the packaged location. */
static const char *default_config(void)
{
    const char *e = getenv("TENANTD_CONFIG");
    if (e && *e)
        return e;
    if (access("tenantd.ini", R_OK) == 0)
        return "tenantd.ini";
    return "/etc/tenantd/tenantd.ini";
}

/* ---- status ---------------------------------------------------------------- */

/*
 * GET /v1/proxy: a new reference to its object, or NULL when there is none
 * to show (an error is already printed when `loud`). A 503 (no proxy: it
 * could not start) becomes {"ok": false, "last_error": <detail>}.
 */
static json_t *fetch_proxy(struct ctl *c, bool loud, int *rc_out)
{
    struct ctl_response r;
    int rc = ctl_request(c, "GET", "/v1/proxy", NULL, CTL_TIMEOUT_MS, &r);
    json_t *j = NULL;
    *rc_out = rc;
    if (rc != 0)
        return NULL;
    if (r.status == 200 || r.status == 503)
        j = json_loadb(r.body, r.len, 0, NULL);
    if (r.status == 503 && json_is_object(j)) {
        const char *d = json_string_value(json_object_get(j, "detail"));
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_false());
        json_object_set_new(o, "last_error", json_string(d ? d : "no proxy"));
        json_decref(j);
        j = o;
    } else if (r.status != 200 && loud) {
        *rc_out = ctl_api_error(&r);
    } else if (!json_is_object(j) && loud) {
        fprintf(stderr, "tenantctl: tenantd sent invalid JSON\n");
        *rc_out = CTL_EXIT_ERROR;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    ctl_response_free(&r);
    return j;
}

/* GET a JSON document and print it raw (--json) or through `show`. */
static int get_and_show(struct ctl *c, const char *path, void (*show)(FILE *, const json_t *))
{
    struct ctl_response r;
    int rc = ctl_request(c, "GET", path, NULL, CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        rc = ctl_api_error(&r);
        ctl_response_free(&r);
        return rc;
    }
    if (c->json) {
        fwrite(r.body, 1, r.len, stdout);
        ctl_response_free(&r);
        return CTL_EXIT_OK;
    }
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    ctl_response_free(&r);
    if (j == NULL) {
        fprintf(stderr, "tenantctl: tenantd sent invalid JSON: %s\n", je.text);
        return CTL_EXIT_ERROR;
    }
    show(stdout, j);
    json_decref(j);
    return CTL_EXIT_OK;
}

/* The status table of one tenant (an object) or of all (an array). */
static void show_status(FILE *out, const json_t *j)
{
    if (json_is_object(j)) {
        json_t *a = json_array();
        json_array_append(a, (json_t *)j);
        ctl_print_status_table(out, a);
        json_decref(a);
    } else {
        ctl_print_status_table(out, j);
    }
}

/* A filter's value: letters, digits, '-' and ',' only, so that it goes into
 * the query string as it is. */
static bool filter_word_ok(const char *v)
{
    if (!v[0] || strlen(v) > 120)
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == ','))
            return false;
    return true;
}

static int cmd_status(struct ctl *c)
{
    const struct ctl_cmd *cmd = ctl_find_cmd("status");
    const char *id = NULL, *state = NULL, *plan = NULL;
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        const char **slot = NULL;
        const char *name = NULL;
        if (strncmp(a, "--state", 7) == 0 && (a[7] == '\0' || a[7] == '=')) {
            slot = &state;
            name = "--state";
        } else if (strncmp(a, "--plan", 6) == 0 && (a[6] == '\0' || a[6] == '=')) {
            slot = &plan;
            name = "--plan";
        }
        if (slot) {
            const char *eq = strchr(a, '=');
            if (eq)
                *slot = eq + 1;
            else if (i + 1 < c->argc)
                *slot = c->argv[++i];
            else
                return ctl_usage_error(cmd, "%s needs a value", name);
            if (!filter_word_ok(*slot))
                return ctl_usage_error(cmd, "%s: \"%s\" is not a %s", name, *slot,
                                       slot == &state ? "list of states" : "plan name");
        } else if (a[0] == '-') {
            return ctl_usage_error(cmd, "unknown option %s", a);
        } else if (id) {
            return ctl_usage_error(cmd, "too many arguments");
        } else {
            id = a;
        }
    }
    if (id && !ctl_valid_id_arg(cmd, id))
        return CTL_EXIT_USAGE;
    if (id && (state || plan))
        return ctl_usage_error(cmd, "--state and --plan filter the list; not with an id");
    char path[512];
    if (id)
        snprintf(path, sizeof path, "/v1/tenants/%s", id);
    else
        snprintf(path, sizeof path, "/v1/tenants%s%s%s%s%s", state || plan ? "?" : "",
                 state ? "state=" : "", state ? state : "", state && plan ? "&" : "",
                 plan ? "plan=" : "");
    if (!id && plan)
        snprintf(path + strlen(path), sizeof path - strlen(path), "%s", plan);
    int rc = get_and_show(c, path, show_status);
    if (rc != CTL_EXIT_OK || c->json)
        return rc;
    /* The proxy's error too: the table alone would say all is well while
     * nginx refuses the new configuration (DESIGN.md "Reverse proxy"). An
     * older tenantd without the route, or one that went away, adds nothing. */
    fflush(stdout);
    json_t *px = fetch_proxy(c, false, &rc);
    ctl_print_proxy_line(stdout, px);
    json_decref(px);
    return CTL_EXIT_OK;
}

/* The proxy's state; exit 1 when its last apply failed, so scripts and
 * monitors can test it like `check`. */
static int cmd_proxy_status(struct ctl *c)
{
    if (c->argc != 1)
        return ctl_usage_error(ctl_find_cmd("proxy-status"), "proxy-status takes no argument");
    int rc = 0;
    json_t *j = fetch_proxy(c, true, &rc);
    if (j == NULL)
        return rc != 0 ? rc : CTL_EXIT_ERROR;
    if (c->json) {
        char *out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
        printf("%s\n", out ? out : "{}");
        free(out);
    } else {
        ctl_print_proxy_status(stdout, j);
    }
    rc = json_is_false(json_object_get(j, "ok")) ? CTL_EXIT_ERROR : CTL_EXIT_OK;
    json_decref(j);
    return rc;
}

/* ---- actions ------------------------------------------------------------------ */

/* Print the JSON answer, or a short confirmation. */
static int print_ok(struct ctl *c, const struct ctl_response *r, const char *msg)
{
    if (c->json)
        fwrite(r->body, 1, r->len, stdout);
    else
        fputs(msg, stdout);
    return CTL_EXIT_OK;
}

static int cmd_action(struct ctl *c)
{
    const char *name = c->argv[0];
    const struct ctl_cmd *cmd = ctl_find_cmd(name);
    if (c->argc != 2)
        return ctl_usage_error(cmd, "%s needs exactly one tenant id", name);
    if (!ctl_valid_id_arg(cmd, c->argv[1]))
        return CTL_EXIT_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/%s", c->argv[1], name);
    struct ctl_response r;
    int rc = ctl_request(c, "POST", path, "{}", CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    if (r.status / 100 != 2)
        rc = ctl_api_error(&r);
    else if (c->json)
        rc = print_ok(c, &r, "");
    else
        printf("%s: %s requested\n", c->argv[1], name);
    ctl_response_free(&r);
    return rc;
}

static int cmd_reload(struct ctl *c)
{
    if (c->argc != 1)
        return ctl_usage_error(ctl_find_cmd("reload"), "reload takes no argument");
    struct ctl_response r;
    int rc = ctl_request(c, "POST", "/v1/reload", "{}", CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    rc = r.status / 100 == 2 ? print_ok(c, &r, "reloaded\n") : ctl_api_error(&r);
    ctl_response_free(&r);
    return rc;
}

static int cmd_events(struct ctl *c)
{
    const struct ctl_cmd *cmd = ctl_find_cmd("events");
    long n = 20;
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "-n") == 0 && i + 1 < c->argc) {
            char *end;
            n = strtol(c->argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000)
                return ctl_usage_error(cmd, "-n takes a number from 1 to 1000");
        } else {
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", c->argv[i]);
        }
    }
    char path[64];
    snprintf(path, sizeof path, "/v1/events?limit=%ld", n);
    return get_and_show(c, path, ctl_print_events);
}

static void show_plans(FILE *f, const json_t *plans)
{
    fprintf(f, "%-14s %10s %6s %7s %9s  %s\n", "PLAN", "EUR/MONTH", "USERS", "CASES", "ANALYSES",
            "MODEL");
    for (size_t i = 0; i < json_array_size(plans); i++) {
        const json_t *p = json_array_get(plans, i);
        char name[64], model[64];
        ctl_sanitize(json_string_value(json_object_get(p, "name")), name, sizeof name);
        ctl_sanitize(json_string_value(json_object_get(p, "ai_model")), model, sizeof model);
        long long cents = (long long)json_integer_value(json_object_get(p, "price_cents"));
        fprintf(f, "%-14s %7lld.%02lld %6lld %7lld %9lld  %s\n", name, cents / 100, cents % 100,
                (long long)json_integer_value(json_object_get(p, "max_users")),
                (long long)json_integer_value(json_object_get(p, "max_cases")),
                (long long)json_integer_value(json_object_get(p, "max_analysis_monthly")), model);
    }
}

static int cmd_plans(struct ctl *c)
{
    if (c->argc != 1)
        return ctl_usage_error(ctl_find_cmd("plans"), "plans takes no argument");
    return get_and_show(c, "/v1/plans", show_plans);
}

/* ---- offline commands --------------------------------------------------------------- */

/*
 * The worker's rule files (deadlines, holidays, the analysis models the plans
 * and tenants name) are in the worker's format, so the worker checks them:
 * tenant-worker --check-rules <templates>/worker/rules MODEL... Returns 0
 * when valid or when the worker cannot be found (said on stderr: tenantd -n
 * reports a missing worker), 1 when the worker found a problem.
 */
static int check_worker_rules(const struct config *cfg, bool out_to_stderr)
{
    char self[CONFIG_PATH_MAX] = "", worker[CONFIG_PATH_MAX + 16], dir[CONFIG_PATH_MAX + 16];
    const char *argv[4 + CONFIG_PLANS_MAX + 64];
    size_t n = 0;
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    if (cfg->g.worker_path[0])
        snprintf(worker, sizeof worker, "%s", cfg->g.worker_path);
    else
        snprintf(worker, sizeof worker, "%s/tenant-worker", dirname(self));
    if (access(worker, X_OK) < 0) {
        fprintf(stderr, "note: %s is not executable: the worker's rule files were not checked\n",
                worker);
        return 0;
    }
    snprintf(dir, sizeof dir, "%s/worker/rules", cfg->g.templates_dir);
    argv[n++] = worker;
    argv[n++] = "--check-rules";
    argv[n++] = dir;
    /* Each model once: the plans' and the tenants' own (64 at most). */
    for (size_t i = 0; i < cfg->plans.n + cfg->n_tenants && n < sizeof argv / sizeof *argv - 1;
         i++) {
        const char *m = i < cfg->plans.n ? cfg->plans.plan[i].ai_model
                                         : cfg->tenants[i - cfg->plans.n].t.ai_model;
        bool seen = m[0] == '\0';
        for (size_t k = 3; k < n && !seen; k++)
            seen = strcmp(argv[k], m) == 0;
        if (!seen)
            argv[n++] = m;
    }
    argv[n] = NULL;
    if (n == 3)
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* With --json, stdout holds the one JSON document. */
        if (out_to_stderr)
            dup2(STDERR_FILENO, STDOUT_FILENO);
        execv(worker, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* Validate everything the way tenantd would, without tenantd (like nginx -t). */
static void check_warn(void *arg, const char *line)
{
    char clean[4096];
    (void)arg;
    ctl_sanitize(line, clean, sizeof clean);
    fprintf(stderr, "warning: %s\n", clean);
}

static int cmd_check(struct ctl *c)
{
    if (c->argc != 1)
        return ctl_usage_error(ctl_find_cmd("check"), "check takes no argument");
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int rc = config_load(c->config_path, &cfg, &d);
    size_t invalid = 0;
    if (cfg)
        for (size_t i = 0; i < cfg->n_tenants; i++)
            invalid += !cfg->tenants[i].valid;
    if (rc == 0) {
        /* What each worker must open, as tenantd (installed beside tenantctl)
         * would start it. */
        char self[CONFIG_PATH_MAX];
        if (util_self_dir(self, sizeof self) < 0)
            snprintf(self, sizeof self, ".");
        reach_check_tenants(cfg, self, geteuid() == 0, &d);
    }
    json_t *problems = c->json ? json_array() : NULL;
    for (size_t i = 0; i < d.n; i++) {
        char clean[4096];
        ctl_sanitize(d.lines[i], clean, sizeof clean);
        if (problems)
            json_array_append_new(problems, json_string(clean));
        else
            fprintf(stderr, "%s\n", clean);
    }
    if (c->json) {
        /* {"ok", "config", "tenants", "invalid_tenants", "plans", "problems": [...]} */
        bool rules_ok = cfg == NULL || check_worker_rules(cfg, true) == 0;
        bool ok = rc == 0 && invalid == 0 && d.n == 0 && rules_ok;
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(ok));
        json_object_set_new(o, "config", json_string(c->config_path));
        json_object_set_new(o, "tenants", json_integer(cfg ? (json_int_t)cfg->n_tenants : 0));
        json_object_set_new(o, "invalid_tenants", json_integer((json_int_t)invalid));
        json_object_set_new(o, "plans", json_integer(cfg ? (json_int_t)cfg->plans.n : 0));
        json_object_set_new(o, "problems", problems);
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
        config_diag_clear(&d);
        config_free(cfg);
        return ok ? CTL_EXIT_OK : CTL_EXIT_ERROR;
    }
    struct config_diag w = {0};
    config_warnings(cfg, &w);
    for (size_t i = 0; i < w.n; i++)
        fprintf(stderr, "%s\n", w.lines[i]);
    config_diag_clear(&w);
    if (cfg)
        config_net_warnings(cfg, check_warn, NULL); /* do not make it invalid */
    int out = CTL_EXIT_OK;
    if (rc != 0) {
        fprintf(stderr, "%s: the configuration is invalid\n", c->config_path);
        out = CTL_EXIT_ERROR;
    } else if (invalid > 0 || d.n > 0) {
        fprintf(stderr, "%s: %zu of %zu tenant files are invalid, %zu problems in all\n",
                c->config_path, invalid, cfg->n_tenants, d.n);
        out = CTL_EXIT_ERROR;
    } else {
        printf("%s: the configuration is valid: %zu tenants, %zu plans\n", c->config_path,
               cfg->n_tenants, cfg->plans.n);
    }
    if (cfg && check_worker_rules(cfg, false) != 0)
        out = CTL_EXIT_ERROR;
    config_diag_clear(&d);
    config_free(cfg);
    return out;
}

static int cmd_logs(struct ctl *c)
{
    const struct ctl_cmd *cmd = ctl_find_cmd("logs");
    const char *id = NULL;
    long lines = 50;
    bool follow = false;
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
            follow = true;
        } else if (strcmp(a, "-n") == 0 && i + 1 < c->argc) {
            char *end;
            lines = strtol(c->argv[++i], &end, 10);
            if (*end || lines < 0 || lines > 1000000)
                return ctl_usage_error(cmd, "-n takes a number of lines");
        } else if (id == NULL && a[0] != '-') {
            id = a;
        } else {
            return ctl_usage_error(cmd, "unexpected argument \"%s\"", a);
        }
    }
    if (c->json)
        return ctl_usage_error(cmd, "logs prints the log's lines as they were written: it has "
                                    "no --json output");
    if (id == NULL)
        return ctl_usage_error(cmd, "logs needs a tenant id");
    if (!ctl_valid_id_arg(cmd, id))
        return CTL_EXIT_USAGE;
    struct config_global *g = calloc(1, sizeof *g);
    struct config_diag d = {0};
    if (g == NULL || config_load_global(c->config_path, g, &d) != 0) {
        char *msg = config_diag_join(&d);
        fprintf(stderr, "tenantctl: %s: cannot read the configuration%s%s\n", c->config_path,
                msg && *msg ? ":\n" : "", msg ? msg : "");
        free(msg);
        config_diag_clear(&d);
        free(g);
        return CTL_EXIT_ERROR;
    }
    config_diag_clear(&d);
    char path[CONFIG_PATH_MAX];
    config_tenant_log_path(g, id, path, sizeof path);
    free(g);
    return ctl_logs(path, id, lines, follow);
}

/* ---- commands of other modules ------------------------------------------------------ */

/* Their functions take the command's argv and look for --json there. */
static int pass_json(struct ctl *c, int (*fn)(int, char **, const char *))
{
    if (c->json)
        c->argv[c->argc++] = "--json";
    c->argv[c->argc] = NULL;
    return fn(c->argc, c->argv, c->config_path);
}

static int cmd_backup(struct ctl *c)
{
    return pass_json(c, ctl_backup_cmd);
}

static int cmd_backups(struct ctl *c)
{
    return pass_json(c, ctl_backups_cmd);
}

static int cmd_restore(struct ctl *c)
{
    return pass_json(c, ctl_restore_cmd);
}

static int cmd_export(struct ctl *c)
{
    return pass_json(c, ctl_export_cmd);
}

static int cmd_proxy_config(struct ctl *c)
{
    if (c->argc != 1)
        return ctl_usage_error(ctl_find_cmd("proxy-config"), "proxy-config takes no argument");
    if (!c->json)
        return ctl_proxy_config(c->config_path, stdout);
    /* {"ok", "config": "<the nginx text>"}; the problems still go to stderr. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return CTL_EXIT_ERROR;
    int rc = ctl_proxy_config(c->config_path, mem);
    fclose(mem);
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "config", json_stringn(text ? text : "", len));
    char *out = json_dumps(o, JSON_COMPACT);
    printf("%s\n", out ? out : "{}");
    free(out);
    free(text);
    json_decref(o);
    return rc;
}

/* ---- the command table ------------------------------------------------------- */

static const struct ctl_cmd commands[] = {
    {"status", "status [<id>] [--state S[,S...]] [--plan P] [--json]",
     "Show every tenant (or one) as a table: state, pid, port, plan, uptime,\n"
     "restarts by the supervisor, wake-ups from idle and last exit, then any\n"
     "configuration errors, refused notify messages and the workers' own STATUS=\n"
     "lines, then\n"
     "\"proxy: ERROR: <message>\" when the proxy's last configuration was refused\n"
     "(the previous one keeps serving). With --json, print the admin API's JSON\n"
     "as it is returned (the tenants only; see proxy-status): one array.\n"
     "--state running,backoff and --plan starter list only those tenants\n"
     "(tenantd filters them: GET /v1/tenants?state=&plan=).",
     cmd_status},
    {"wait", "wait <id> <state>[,<state>...] [--timeout S] [--json]",
     "Wait until the tenant is in one of the states (stopped, starting, running,\n"
     "stopping, backoff, failed, suspended, idle), at most S seconds (default 30);\n"
     "tenantd answers on the state change, nothing polls. Prints \"<id>: <state>\"\n"
     "(and the reason when failed or in backoff); exit 0 when reached, 1 at the timeout.\n"
     "Example: wait dupont running,failed",
     ctl_cmd_wait},
    {"cert", "cert <id> [--renew] [--json]",
     "Show the tenant's ACME certificate ([acme] in tenantd.ini): none, pending,\n"
     "valid or error, its expiry, the last error and when the next attempt runs.\n"
     "--renew queues an issuance now (one runs at a time); the certificate is\n"
     "swapped once nginx -t accepts it.",
     ctl_cmd_cert},
    {"start", "start <id>", "Start a stopped tenant; clears an operator's recorded stop.",
     cmd_action},
    {"stop", "stop <id>",
     "Stop a tenant's worker. The stop is recorded in state.db: the tenant stays\n"
     "stopped across restarts of tenantd until `start`.",
     cmd_action},
    {"restart", "restart <id>", "Restart a tenant's worker (a new process).", cmd_action},
    {"suspend", "suspend <id>",
     "Suspend a tenant: no worker, the proxy shows the suspended page. Recorded\n"
     "in state.db until `resume`.",
     cmd_action},
    {"resume", "resume <id>", "Resume a suspended tenant.", cmd_action},
    {"reload", "reload",
     "Re-read every configuration file now (as on SIGHUP): start added tenants,\n"
     "stop removed ones, restart changed ones.",
     cmd_reload},
    {"upgrade", "upgrade [--binary PATH] [--timeout S] [--json]",
     "Re-exec tenantd in place (as on SIGUSR2), keeping every worker, socket and\n"
     "counter. PATH (default: the binary tenantd was started from) must pass\n"
     "`PATH -n` on the current configuration first. Exit 0 once the new binary\n"
     "serves; 1 with the reason if the check failed or the new image gave the\n"
     "state back to the old one (rolled back), which then keeps serving.",
     ctl_cmd_upgrade},
    {"onboard",
     "onboard <id> \"<name>\" <plan> [--subdomain S] [--port P] [--email E]\n"
     "          [--database sqlite|postgresql] [--json]",
     "Onboard a client in one step: check everything, allocate a port, write\n"
     "tenants.d/<id>.ini, create the data dir and secret (with --database\n"
     "postgresql, or a plan whose database is postgresql: the firm's database\n"
     "and login role on tenantd.ini's [postgresql] server, its password in the\n"
     "data dir's .pgpass), start the worker, wait\n"
     "until it is ready, create the firm's first admin account, then print the\n"
     "URL and the credentials. All or nothing: on any failure everything is\n"
     "rolled back and the reason is printed. With --json: {\"id\", \"url\",\n"
     "\"port\", \"admin\": {\"username\", \"password\"}}.",
     ctl_cmd_onboard},
    {"create-admin", "create-admin <id> <username> [--json]",
     "Add an admin account to an existing firm: tenantd runs tenant-worker\n"
     "--create-admin under the tenant's uid and prints the firm's URL, the\n"
     "username and a generated password (shown once). The tenant must have been\n"
     "started once (its data dir and secret exist). Fails (exit 1) when the\n"
     "username is taken, exit 4 for an unknown tenant. With --json: {\"id\",\n"
     "\"url\", \"admin\": {\"username\", \"password\"}}.",
     ctl_cmd_create_admin},
    {"offboard", "offboard <id> [--purge]",
     "Stop a tenant and move its file, data dir and log into\n"
     "<data_dir>/../archive/<id>-<UTC time>/ (a PostgreSQL tenant's database is\n"
     "dumped there with pg_dump -Fc as <id>.pgdump, and kept on the server).\n"
     "With --purge, delete them instead (and drop the database and its role).",
     ctl_cmd_offboard},
    {"migrate", "migrate <id> postgresql|sqlite [--cleanup] [--json]",
     "Move a firm's data to the other database backend: the tenant is stopped,\n"
     "`tenant-worker --migrate-copy` copies every table (under the tenant's uid),\n"
     "both sides are checked table by table (rows and SHA-256), [database] type\n"
     "is switched in its file and it is started on the new backend. Any failure\n"
     "leaves it serving on the old one. The old data is kept; run the same\n"
     "command with --cleanup afterwards to remove it. Needs tenantd.ini's\n"
     "[postgresql] and a tenant-worker that speaks PostgreSQL.",
     ctl_cmd_migrate},
    {"billing", "billing [--month YYYY-MM] [--json]",
     "The vendor's monthly statement per firm (default: this month, UTC): plan,\n"
     "analyses used over the plan's monthly limit, plan price + overage (each\n"
     "analysis over the limit at the plan's overage_cents; 0 = the limit blocks)\n"
     "= total due, in euros. For the current month each running worker is asked\n"
     "its usage first; tenantd keeps the counts in state.db, so a past month's\n"
     "statement survives restarts. CSV with a header line, or with --json an\n"
     "array of {id, name, plan, month, plan_price, overage_fees, total_due, ...}.",
     ctl_cmd_billing},
    {"events", "events [-n N] [--json]", "Show the last N admin actions (audit log).", cmd_events},
    {"plans", "plans [--json]", "Show the subscription plans.", cmd_plans},
    {"logs", "logs <id> [-n N] [-f]",
     "Print the last N lines (default 50) of the tenant's log file; with -f keep\n"
     "printing what is appended (follows rotations) until interrupted. Reads the\n"
     "file directly: works without tenantd. No --json: the lines are printed as\n"
     "they were written.",
     cmd_logs},
    {"check", "check [--json]",
     "Validate the global file, the plans and every tenant file offline, and the\n"
     "files each worker must open (its program, templates and rules, as the\n"
     "tenant's own uid) and the worker's rule files (tenant-worker --check-rules:\n"
     "deadlines, holidays, analysis models), print every problem, exit 0 when\n"
     "everything is valid and 1 otherwise. --json prints {\"ok\", \"config\",\n"
     "\"tenants\", \"invalid_tenants\", \"plans\", \"problems\": [...]}.",
     cmd_check},
    {"backup", "backup <id> [--json]", "Back up a tenant's database now.", cmd_backup},
    {"backups", "backups <id> [--json]", "List a tenant's backups, newest first.", cmd_backups},
    {"restore", "restore <id> <file> | restore <id> --from-offsite [snapshot]",
     "Restore a tenant's database from a backup (verified first; rolled back if\n"
     "the worker does not come up). --from-offsite fetches the latest (or the\n"
     "given) restic snapshot of the tenant from [offsite] repository into its\n"
     "backups folder first.",
     cmd_restore},
    {"proxy-config", "proxy-config [--json]",
     "Print the nginx configuration tenantd would write for the current files;\n"
     "--json prints {\"ok\", \"config\": \"<the text>\"}.",
     cmd_proxy_config},
    {"proxy-status", "proxy-status [--json]",
     "Show the reverse proxy's state (GET /v1/proxy): mode, whether the last\n"
     "configuration was applied or nginx's own message when it was refused, the\n"
     "nginx pid, the live generation and the counts. Exit 1 when the last apply\n"
     "failed. With --json: {\"mode\", \"ok\", \"last_error\", \"reloads\",\n"
     "\"failures\", \"nginx_starts\", \"nginx_pid\", \"generation\"}.",
     cmd_proxy_status},
    {"export", "export k8s [--namespace N] [--image IMAGE] [-o DIR] [--include-secrets] [id...]",
     "Print the Kubernetes manifests that run the tenants (see tenantctl(8)).", cmd_export},
};

const struct ctl_cmd *ctl_find_cmd(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage_global(FILE *f)
{
    fprintf(f, "usage: tenantctl [-c tenantd.ini] [--json] <command> [args]\n\n"
               "Talks to tenantd's admin API over its unix socket ([admin] socket in\n"
               "tenantd.ini, or $TENANTD_ADMIN_SOCKET).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\noptions:\n"
               "  -c, --config FILE  the global configuration (default: $TENANTD_CONFIG,\n"
               "                     ./tenantd.ini, /etc/tenantd/tenantd.ini)\n"
               "  --json             machine-readable output\n"
               "  -h, --help         this help; `tenantctl <command> --help` for one command\n"
               "  --version          print the version\n\n"
               "exit codes: 0 ok, 1 error, 2 usage, 3 cannot reach tenantd, 4 not found\n");
}

int main(int argc, char **argv)
{
    struct ctl c = {0};
    char **rest = calloc((size_t)argc + 2, sizeof *rest);
    if (rest == NULL)
        return CTL_EXIT_ERROR;
    int n = 0;
    bool only_positional = false;
    /* Global options may appear anywhere; what is left is the command and its
     * own arguments, in order. "--" ends option processing. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            rest[n++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_positional = true;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return ctl_usage_error(NULL, "%s needs a file", a);
            }
            c.config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            c.config_path = a + 9;
        } else if (strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            c.help = true;
        } else if (strcmp(a, "--version") == 0) {
            printf("tenantctl %s\n", TENANTD_VERSION);
            free(rest);
            return CTL_EXIT_OK;
        } else {
            rest[n++] = argv[i]; /* a command's own option */
        }
    }
    c.argc = n;
    c.argv = rest;
    if (c.config_path == NULL)
        c.config_path = default_config();
    int rc;
    if (n == 0) {
        usage_global(c.help ? stdout : stderr);
        rc = c.help ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    } else {
        const struct ctl_cmd *cmd = ctl_find_cmd(rest[0]);
        if (cmd == NULL) {
            char clean[128];
            ctl_sanitize(rest[0], clean, sizeof clean);
            fprintf(stderr, "tenantctl: unknown command \"%s\"\n", clean);
            usage_global(stderr);
            rc = CTL_EXIT_USAGE;
        } else if (c.help) {
            printf("usage: tenantctl [-c tenantd.ini] %s\n\n%s\n", cmd->usage, cmd->help);
            rc = CTL_EXIT_OK;
        } else {
            c.cmd = cmd;
            rc = cmd->run(&c);
        }
    }
    free(rest);
    return rc;
}
