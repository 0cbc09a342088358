/*
 * ctl_main.c — tenantctl's command line: global options, one function per
 * command, exit codes (ctl.h). Every command but `check` and `logs` is a
 * request to tenantd's admin API over its unix socket; those two work
 * offline, on the files themselves.
 */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Most requests answer at once; onboarding waits for the worker to be ready. */
#define CTL_TIMEOUT_MS 30000

struct ctl {
    const char *config_path;
    char socket_path[CONFIG_PATH_MAX];
    bool json;
    bool help;
    int argc; /* the command and its own arguments, global options removed */
    char **argv;
};

struct ctl_cmd {
    const char *name;
    const char *usage;
    const char *help;
    int (*run)(struct ctl *c);
};

static const struct ctl_cmd *find_cmd(const char *name);
static void usage_global(FILE *f);

static int usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tenantctl: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: tenantctl [-c tenantd.ini] %s\n", cmd ? cmd->usage : "<command> ...");
    return CTL_EXIT_USAGE;
}

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

/* Find the admin socket: $TENANTD_ADMIN_SOCKET wins, else [admin] socket of
 * the global file. */
static int resolve_socket(struct ctl *c)
{
    const char *e = getenv("TENANTD_ADMIN_SOCKET");
    if (e && *e) {
        snprintf(c->socket_path, sizeof c->socket_path, "%s", e);
        return 0;
    }
    struct config_global *g = calloc(1, sizeof *g);
    struct config_diag d = {0};
    if (g == NULL) {
        fprintf(stderr, "tenantctl: out of memory\n");
        return CTL_EXIT_ERROR;
    }
    int rc = config_load_global(c->config_path, g, &d);
    if (rc != 0) {
        char *msg = config_diag_join(&d);
        fprintf(stderr, "tenantctl: %s: cannot read the configuration%s%s\n", c->config_path,
                msg && *msg ? ":\n" : "", msg ? msg : "");
        free(msg);
        config_diag_clear(&d);
        free(g);
        return CTL_EXIT_ERROR;
    }
    snprintf(c->socket_path, sizeof c->socket_path, "%s", g->admin_socket);
    config_diag_clear(&d);
    free(g);
    return 0;
}

/* Perform a request; on a transport failure print why and return exit 3. */
static int request(struct ctl *c, const char *method, const char *path, const char *body,
                   int timeout_ms, struct ctl_response *r)
{
    int rc = resolve_socket(c);
    if (rc != 0)
        return rc;
    char err[512];
    rc = ctl_http(c->socket_path, method, path, body, body ? strlen(body) : 0, timeout_ms, r, err,
                  sizeof err);
    if (rc != 0) {
        fprintf(stderr, "tenantctl: %s\n", err);
        bool unreachable = rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES || rc == -EPERM ||
                           rc == -ENOTDIR || rc == -ENAMETOOLONG;
        return unreachable ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    return 0;
}

/* Turn a non-2xx answer into a message and an exit code. */
static int api_error(const struct ctl_response *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, 0, &je);
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
    const char *d = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    char ce[256], cd[2048];
    ctl_sanitize(e ? e : "request failed", ce, sizeof ce);
    ctl_sanitize(d ? d : "", cd, sizeof cd);
    fprintf(stderr, "tenantctl: %s%s%s (HTTP %d)\n", ce, cd[0] ? ": " : "", cd, r->status);
    json_decref(j);
    return r->status == 404 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_ERROR;
}

static bool valid_id_arg(const struct ctl_cmd *cmd, const char *id)
{
    if (config_valid_id(id))
        return true;
    char clean[128];
    ctl_sanitize(id, clean, sizeof clean);
    usage_error(cmd, "\"%s\" is not a valid tenant id", clean);
    return false;
}

/* ---- status ---------------------------------------------------------------- */

static int cmd_status(struct ctl *c)
{
    const struct ctl_cmd *cmd = find_cmd("status");
    if (c->argc > 2)
        return usage_error(cmd, "too many arguments");
    const char *id = c->argc == 2 ? c->argv[1] : NULL;
    if (id && !valid_id_arg(cmd, id))
        return CTL_EXIT_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants%s%s", id ? "/" : "", id ? id : "");
    struct ctl_response r;
    int rc = request(c, "GET", path, NULL, CTL_TIMEOUT_MS, &r);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        rc = api_error(&r);
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
    if (json_is_object(j)) {
        json_t *a = json_array();
        json_array_append(a, j);
        json_decref(j);
        j = a;
    }
    ctl_print_status_table(stdout, j);
    json_decref(j);
    return CTL_EXIT_OK;
}

/* ---- the command table ------------------------------------------------------- */

static const struct ctl_cmd commands[] = {
    {"status", "status [<id>] [--json]",
     "Show every tenant (or one) as a table: state, pid, port, plan, uptime,\n"
     "restarts and last exit, then any configuration errors. With --json, print\n"
     "the admin API's JSON as it is returned.",
     cmd_status},
};

static const struct ctl_cmd *find_cmd(const char *name)
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
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
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
                return usage_error(NULL, "%s needs a file", a);
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
        const struct ctl_cmd *cmd = find_cmd(rest[0]);
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
            rc = cmd->run(&c);
        }
    }
    free(rest);
    return rc;
}
