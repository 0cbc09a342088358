/*
 * fuzz_tenant_config.c — libFuzzer target for config_parse_tenant().
 *
 * Feeds arbitrary bytes to the tenant parser against a fixed global file and
 * plans (built in code, no I/O), and checks more than "no crash": whenever a
 * file is accepted, every field that can reach the proxy config, a path or the
 * environment still matches its allowlist, checked here by code independent of
 * config_keys.c. The first bytes also go through config_valid_id and
 * config_valid_subdomain and are compared with reference implementations.
 *
 * Not here: the global file and plans.ini (trusted operator input, covered by
 * the unit tests). Corpus: tests/fuzz/corpus/tenant_config/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config_global G;
static struct config_plans P;
static bool ready;

static const char global_text[] = "[tenantd]\nport_range = 5001-5999\ndomain = example.test\n";
static const char plans_text[] = "[starter]\nlabel = Starter\nprice_cents = 9900\nmax_users = 3\n"
                                 "max_cases = 500\nmax_analysis_monthly = 100\n"
                                 "ai_model = ceseda-basic-v1\nadvanced_features = false\n"
                                 "overage_cents = 0\nmemory = 128M\npids = 32\ncpu_weight = 50\n"
                                 "log_budget = 16M\n"
                                 "[professional]\nprice_cents = 29900\nmax_users = 10\n"
                                 "max_cases = 2000\nmax_analysis_monthly = 500\n"
                                 "ai_model = ceseda-pro-v1\nadvanced_features = true\n"
                                 "overage_cents = 50\nmemory = 256M\npids = 64\n"
                                 "cpu_weight = 100\nlog_budget = 64M\n";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void setup(void)
{
    struct config_diag d = {0};

    if (config_parse_global("/fuzz/tenantd.ini", global_text, strlen(global_text), &G, &d) != 0 ||
        config_parse_plans(&G, "plans.ini", plans_text, strlen(plans_text), &P, &d) != 0)
        abort();
    config_diag_clear(&d);
    ready = true;
}

/* Reference allowlists, written independently of config_keys.c. */
static bool ref_label(const char *s, size_t n)
{
    if (n < 1 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < n - 1);
        if (!ok)
            return false;
    }
    return true;
}

static bool ref_id(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 31 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* Nothing nginx would read as syntax, nothing that ends a line. */
static bool no_nginx_meta(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr(";{}$'\"\\#", *p) != NULL)
            return false;
    return true;
}

static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

#define TERMINATED(f) CHECK(terminated((f), sizeof(f)))

static void check_tenant(const struct config_tenant *t)
{
    TERMINATED(t->id);
    TERMINATED(t->name);
    TERMINATED(t->plan);
    TERMINATED(t->subdomain);
    TERMINATED(t->instance);
    TERMINATED(t->siret);
    TERMINATED(t->address);
    TERMINATED(t->phone);
    TERMINATED(t->email);
    TERMINATED(t->logo);
    TERMINATED(t->color);
    TERMINATED(t->language);
    TERMINATED(t->timezone);
    TERMINATED(t->command);
    TERMINATED(t->ai_model);
    TERMINATED(t->prediction_threshold_text);
    TERMINATED(t->password_cost);

    /* What reaches the proxy config: the id, the subdomain, the port. */
    CHECK(ref_id(t->id) && !config_reserved_id(t->id));
    CHECK(ref_label(t->subdomain, strlen(t->subdomain)));
    CHECK(no_nginx_meta(t->id) && no_nginx_meta(t->subdomain));
    CHECK(t->port >= G.port_min && t->port <= G.port_max);
    /* What reaches paths, cgroups or the worker's environment. */
    CHECK(ref_label(t->instance, strlen(t->instance)));
    CHECK(config_plan_find(&P, t->plan) != NULL);
    CHECK(t->logo[0] == '\0' || (t->logo[0] == '/' && strstr(t->logo, "..") == NULL));
    CHECK(no_nginx_meta(t->logo) && no_nginx_meta(t->timezone));
    CHECK(no_nginx_meta(t->email) && no_nginx_meta(t->ai_model) && no_nginx_meta(t->language));
    CHECK(strlen(t->color) == 7 && t->color[0] == '#' && no_nginx_meta(t->color + 1));
    /* [worker] command is an argv (quoted words, no shell, never in the proxy
     * config): it splits, and its program is an absolute path without "..". */
    if (t->command[0] != '\0') {
        static char buf[sizeof t->command];
        char *words[ARGV_MAX_WORDS + 1];
        CHECK(argv_split(t->command, words, buf, sizeof buf, NULL, 0) > 0);
        CHECK(words[0][0] == '/' && strstr(words[0], "..") == NULL);
    }
    CHECK(strstr(t->timezone, "..") == NULL && t->timezone[0] != '/');
    CHECK(t->prediction_threshold >= 0.0 && t->prediction_threshold <= 1.0);
    CHECK(t->memory_bytes >= 1024 * 1024 && t->pids > 0 && t->cpu_weight > 0);
    CHECK(t->status <= TENANT_CANCELLED && t->socket <= WORKER_SOCKET_OWN);
    for (const unsigned char *p = (const unsigned char *)t->name; *p; p++)
        CHECK(*p >= 0x20 && *p != 0x7f);
    for (const unsigned char *p = (const unsigned char *)t->address; *p; p++)
        CHECK(*p >= 0x20 && *p != 0x7f);

    char **env = config_worker_env(&G, &P, t, "secret");
    CHECK(env != NULL);
    for (char **e = env; *e; e++)
        CHECK(strchr(*e, '\n') == NULL && strchr(*e, '=') != NULL);
    free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_diag d = {0};
    struct config_tenant *t;
    char head[40];
    size_t hn = size < sizeof(head) - 1 ? size : sizeof(head) - 1;

    if (!ready)
        setup();

    /* The identifier checks against the references, on the input's first line. */
    memcpy(head, data, hn);
    head[hn] = '\0';
    head[strcspn(head, "\n")] = '\0';
    CHECK(config_valid_subdomain(head) == ref_label(head, strlen(head)));
    CHECK(config_valid_id(head) == (ref_id(head) && !config_reserved_id(head)));

    t = malloc(sizeof(*t));
    if (t == NULL)
        return 0;
    if (config_parse_tenant(&G, &P, "fuzz", "tenants.d/fuzz.ini", (const char *)data, size, t,
                            &d) == 0) {
        CHECK(d.n == 0);
        check_tenant(t);
    } else {
        CHECK(d.n > 0);
        /* Every message is one printable line naming the file. */
        for (size_t i = 0; i < d.n; i++) {
            CHECK(strncmp(d.lines[i], "tenants.d/fuzz.ini", 18) == 0);
            for (const unsigned char *p = (const unsigned char *)d.lines[i]; *p; p++)
                CHECK(*p >= 0x20 && *p != 0x7f);
        }
    }
    config_diag_clear(&d);
    free(t);
    return 0;
}
