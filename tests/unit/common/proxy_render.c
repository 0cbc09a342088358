/*
 * common/proxy_render.c (unit) — unit tests of the proxy renderer (common/proxy_render.c)
 * with the repository's templates: byte-exact golden files for a fixed
 * configuration (active, suspended and cancelled tenants; with and without
 * TLS; managed and external), the suspended page's escaping, the {{name}}
 * expander's errors, and the renderer's refusal of hostile values that reach
 * it without going through the config parser.
 *
 * Run from the repository's root (as `make unit` does), or set TENANTD_SRCDIR.
 * UPDATE_GOLDEN=1 rewrites the golden files instead of comparing: review the
 * diff before committing it.
 *
 * `common_proxy_render --emit DIR RUN_DIR LOG_DIR [CERT KEY]` writes the same
 * fixture rendered with real folders into DIR (main.conf, tenants.conf and the
 * suspended pages), so tests/integration/test_proxy.py can run the real
 * `nginx -t` and a real nginx on it without tenantd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "proxy_render.h"
#include "util.h"

static char srcdir[1024] = ".";
static struct proxy_templates tpl;
static char *tpl_owned[PROXY_TPL__COUNT];
static char *page_tpl;

static char *read_src(const char *rel)
{
    char path[2048];
    char *text = NULL;

    snprintf(path, sizeof path, "%s/%s", srcdir, rel);
    if (util_read_file(path, 1 << 20, &text, NULL) < 0)
        return NULL;
    return text;
}

static int load_templates(void)
{
    char rel[256];

    for (int i = 0; i < PROXY_TPL__COUNT; i++) {
        snprintf(rel, sizeof rel, "templates/nginx/%s", proxy_template_file[i]);
        tpl_owned[i] = read_src(rel);
        if (tpl_owned[i] == NULL) {
            fprintf(stderr, "cannot read %s/%s (run from the repository's root)\n", srcdir, rel);
            return -1;
        }
        tpl.text[i] = tpl_owned[i];
    }
    page_tpl = read_src("templates/" PROXY_PAGE_TEMPLATE);
    return page_tpl ? 0 : -1;
}

/* ---- the fixture ------------------------------------------------------------ */

#define N_FIXTURE 4
static struct config_tenant fixture[N_FIXTURE];
static const struct config_tenant *fixture_ptr[N_FIXTURE];

static void set_tenant(struct config_tenant *t, const char *id, const char *sub, int port,
                       enum tenant_status st, const char *name)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->subdomain, sizeof t->subdomain, "%s", sub);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->color, sizeof t->color, "#2c3e50");
    snprintf(t->language, sizeof t->language, "fr");
    t->port = port;
    t->status = st;
    t->max_body_bytes = 1024 * 1024;
}

static void fixture_global(struct config_global *g, const char *run_dir, const char *log_dir,
                           const char *cert, const char *key)
{
    memset(g, 0, sizeof *g);
    snprintf(g->run_dir, sizeof g->run_dir, "%s", run_dir);
    snprintf(g->log_dir, sizeof g->log_dir, "%s", log_dir);
    snprintf(g->domain, sizeof g->domain, "localhost");
    snprintf(g->proxy_host, sizeof g->proxy_host, "127.0.0.1");
    g->proxy_port = 8080;
    g->tls_port = 8443;
    g->proxy_mode = PROXY_MANAGED;
    if (cert) {
        snprintf(g->tls_cert, sizeof g->tls_cert, "%s", cert);
        snprintf(g->tls_key, sizeof g->tls_key, "%s", key);
    }
}

static void fixture_tenants(void)
{
    /* In id order, as tenantd passes them. */
    set_tenant(&fixture[0], "bernard", "bernard", 5003, TENANT_CANCELLED, "Cabinet Bernard");
    set_tenant(&fixture[1], "dupont", "dupont", 5001, TENANT_ACTIVE, "Cabinet Dupont & Associés");
    set_tenant(&fixture[2], "durand-avocats", "durand", 5004, TENANT_ACTIVE, "Durand Avocats");
    fixture[2].max_body_bytes = 8 * 1024 * 1024; /* a plan's or a tenant's max_body */
    set_tenant(&fixture[3], "martin", "cabinet-martin", 5002, TENANT_SUSPENDED,
               "Cabinet d'Avocats Müller & Fils <b>\"Martin\"</b>");
    for (int i = 0; i < N_FIXTURE; i++)
        fixture_ptr[i] = &fixture[i];
}

/* ---- golden files ------------------------------------------------------------ */

static void check_golden(const char *name, const char *got)
{
    char rel[256], path[2048];
    char *want;

    snprintf(rel, sizeof rel, "tests/unit/golden/proxy/%s", name);
    if (getenv("UPDATE_GOLDEN") != NULL) {
        snprintf(path, sizeof path, "%s/%s", srcdir, rel);
        assert_int_equal(util_write_file_atomic(path, got, strlen(got), 0644), 0);
        return;
    }
    want = read_src(rel);
    if (want == NULL)
        fail_msg("golden file %s is missing (UPDATE_GOLDEN=1 creates it)", rel);
    if (strcmp(want, got) != 0) {
        size_t i = 0, line = 1;
        while (want[i] && want[i] == got[i])
            line += want[i++] == '\n';
        fail_msg("%s differs from the rendering at line %zu", rel, line);
    }
    free(want);
}

static void render_ok(const struct config_global *g, struct proxy_rendered *out)
{
    char err[512] = "";
    int r = proxy_render(g, fixture_ptr, N_FIXTURE, &tpl, out, err, sizeof err);
    if (r != 0)
        fail_msg("render failed: %d %s", r, err);
}

static void test_golden_managed(void **state)
{
    struct config_global g;
    struct proxy_rendered out;

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    render_ok(&g, &out);
    assert_non_null(out.main_conf);
    check_golden("main.conf", out.main_conf);
    check_golden("tenants.conf", out.tenants_conf);
    /* The cancelled tenant has no server; the suspended one has no upstream. */
    assert_null(strstr(out.tenants_conf, "bernard"));
    assert_null(strstr(out.tenants_conf, "tenant_martin"));
    assert_non_null(strstr(out.tenants_conf, "server_name cabinet-martin.localhost;"));
    /* Free text never reaches nginx's config. */
    assert_null(strstr(out.tenants_conf, "Cabinet"));
    proxy_rendered_free(&out);
}

/* ACME: a tenant with its own certificate gets the TLS templates naming it
 * (one file, chain and key); the others stay on plain HTTP with the
 * http-01 location; an operator's tls_cert wins over every tenant's. */
static void test_acme_certs(void **state)
{
    struct config_global g;
    struct proxy_rendered out;
    char err[512] = "";
    const char *certs[N_FIXTURE] = {NULL};

    (void)state;
    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    certs[1] = "/srv/tenantd/run/acme/live/dupont.1800000000.pem";
    fixture[1].hsts = true; /* dupont's plan asks for HSTS; durand's does not */
    fixture[2].hsts = true; /* durand has no certificate: no HSTS over plain HTTP */
    assert_int_equal(
        proxy_render_certs(&g, fixture_ptr, certs, N_FIXTURE, &tpl, &out, err, sizeof err), 0);
    check_golden("tenants-acme.conf", out.tenants_conf);
    assert_non_null(strstr(out.tenants_conf,
                           "ssl_certificate /srv/tenantd/run/acme/live/dupont.1800000000.pem;"));
    assert_non_null(strstr(
        out.tenants_conf, "ssl_certificate_key /srv/tenantd/run/acme/live/dupont.1800000000.pem;"));
    assert_non_null(
        strstr(out.tenants_conf, "return 301 https://dupont.localhost:8443$request_uri;"));
    assert_null(strstr(out.tenants_conf, "return 301 https://durand.localhost"));
    assert_non_null(strstr(out.tenants_conf, "root /srv/tenantd/run/nginx/acme;"));
    assert_non_null(strstr(out.tenants_conf, "ssl_reject_handshake on;"));
    {
        const char *h = "add_header Strict-Transport-Security \"max-age=31536000\" always;";
        const char *first = strstr(out.tenants_conf, h);
        assert_non_null(first);
        assert_null(strstr(first + 1, h)); /* once: dupont's TLS server only */
        assert_true(first > strstr(out.tenants_conf, "ssl_certificate /srv/tenantd/run/acme"));
    }
    fixture[1].hsts = fixture[2].hsts = false;
    proxy_rendered_free(&out);

    /* A path outside the allowlist is refused, naming the tenant. */
    certs[1] = "/srv/tenantd/run/acme/live/dupont.pem;\n";
    assert_int_equal(
        proxy_render_certs(&g, fixture_ptr, certs, N_FIXTURE, &tpl, &out, err, sizeof err),
        -EINVAL);
    assert_non_null(strstr(err, "tenant dupont: certificate path refused"));

    /* The operator's certificate wins. */
    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", "/srv/tenantd/tls/wild.crt",
                   "/srv/tenantd/tls/wild.key");
    assert_int_equal(
        proxy_render_certs(&g, fixture_ptr, certs, N_FIXTURE, &tpl, &out, err, sizeof err), 0);
    assert_null(strstr(out.tenants_conf, "acme/live"));
    proxy_rendered_free(&out);
}

static void test_golden_tls(void **state)
{
    struct config_global g;
    struct proxy_rendered out;
    char *plain_main;

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    render_ok(&g, &out);
    plain_main = out.main_conf;
    out.main_conf = NULL;
    proxy_rendered_free(&out);

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", "/srv/tenantd/tls/wild.crt",
                   "/srv/tenantd/tls/wild.key");
    render_ok(&g, &out);
    /* TLS changes the sites only. */
    assert_string_equal(out.main_conf, plain_main);
    check_golden("tenants-tls.conf", out.tenants_conf);
    assert_non_null(strstr(out.tenants_conf, "ssl_reject_handshake on;"));
    assert_non_null(
        strstr(out.tenants_conf, "return 301 https://dupont.localhost:8443$request_uri;"));
    proxy_rendered_free(&out);
    free(plain_main);

    /* On 443 the redirect carries no port. */
    g.tls_port = 443;
    render_ok(&g, &out);
    assert_non_null(strstr(out.tenants_conf, "return 301 https://dupont.localhost$request_uri;"));
    proxy_rendered_free(&out);
}

static void test_golden_external(void **state)
{
    struct config_global g;
    struct proxy_rendered out;

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    g.proxy_mode = PROXY_EXTERNAL;
    g.proxy_port = 80;
    snprintf(g.proxy_host, sizeof g.proxy_host, "*");
    render_ok(&g, &out);
    assert_null(out.main_conf);
    check_golden("tenants-external.conf", out.tenants_conf);
    assert_null(strstr(out.tenants_conf, "default_server"));
    proxy_rendered_free(&out);
}

static void test_no_tenants(void **state)
{
    struct config_global g;
    struct proxy_rendered out;
    char err[256];

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    assert_int_equal(proxy_render(&g, NULL, 0, &tpl, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.tenants_conf, "default_server"));
    proxy_rendered_free(&out);
}

/* The server-name hash grows with the tenants (twice the names, floor
 * 8192), the bucket with the longest name (floor 128), and nginx's fd
 * limit per worker with the tenants (one access log each). */
static void test_names_hash_sized_from_tenants(void **state)
{
    enum { MANY = 10000 };
    struct config_global g;
    struct proxy_rendered out;
    char err[256];
    struct config_tenant *ts = calloc(MANY, sizeof *ts);
    const struct config_tenant **ps = calloc(MANY, sizeof *ps);
    assert_non_null(ts);
    assert_non_null(ps);
    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    for (int i = 0; i < MANY; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%05d", i);
        set_tenant(&ts[i], id, id, 5000 + i % 20000, TENANT_ACTIVE, "Cabinet");
        ps[i] = &ts[i];
    }
    assert_int_equal(proxy_render(&g, ps, 10, &tpl, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.main_conf, "server_names_hash_max_size 8192;"));
    assert_non_null(strstr(out.main_conf, "server_names_hash_bucket_size 128;"));
    assert_non_null(strstr(out.main_conf, "worker_rlimit_nofile 9226;"));
    proxy_rendered_free(&out);
    assert_int_equal(proxy_render(&g, ps, MANY, &tpl, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.main_conf, "server_names_hash_max_size 32768;"));
    /* Every worker holds 10,000 access logs open, and its connections. */
    assert_non_null(strstr(out.main_conf, "worker_rlimit_nofile 19216;"));
    proxy_rendered_free(&out);
    /* A 63-byte subdomain under a 120-byte domain: 184 bytes, bucket 256. */
    memset(g.domain, 0, sizeof g.domain);
    for (int i = 0; i < 120; i++)
        g.domain[i] = i % 10 == 9 ? '.' : 'd';
    g.domain[119] = 'd';
    memset(ts[0].subdomain, 'a', 63);
    ts[0].subdomain[63] = '\0';
    assert_int_equal(proxy_render(&g, ps, 1, &tpl, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.main_conf, "server_names_hash_bucket_size 256;"));
    proxy_rendered_free(&out);
    free(ps);
    free(ts);
}

static void test_page(void **state)
{
    char err[256];
    char *page;

    assert_int_equal(proxy_render_page(page_tpl, &fixture[3], &page, err, sizeof err), 0);
    check_golden("suspended-martin.html", page);
    assert_null(strstr(page, "<b>"));
    assert_non_null(strstr(page, "Cabinet d&#39;Avocats Müller &amp; Fils &lt;b&gt;&quot;Martin"));
    free(page);

    assert_int_equal(proxy_render_page("<p>{{nom}}</p>", &fixture[3], &page, err, sizeof err),
                     -EINVAL);
    assert_null(page);
    assert_non_null(strstr(err, "{{nom}}"));
}

/* ---- the expander --------------------------------------------------------------- */

static void test_expand(void **state)
{
    const char *keys[] = {"a", "bb"};
    const char *vals[] = {"1", "two"};
    char *buf = NULL, err[256];
    size_t len = 0, cap = 0;

    assert_int_equal(
        proxy_expand("t", "x{{a}}y{{bb}}{{a}}", keys, vals, 2, &buf, &len, &cap, err, sizeof err),
        0);
    assert_string_equal(buf, "x1ytwo1");
    assert_int_equal(len, 7);
    free(buf);

    buf = NULL, len = 0, cap = 0;
    assert_int_equal(
        proxy_expand("t.in", "ok\n{{c}}", keys, vals, 2, &buf, &len, &cap, err, sizeof err),
        -EINVAL);
    assert_string_equal(err, "t.in:2: unknown placeholder {{c}}");
    free(buf);

    buf = NULL, len = 0, cap = 0;
    assert_int_equal(
        proxy_expand("t.in", "{{a\n}}", keys, vals, 2, &buf, &len, &cap, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "without \"}}\""));
    free(buf);

    buf = NULL, len = 0, cap = 0;
    assert_int_equal(proxy_expand("t.in", "{{a", keys, vals, 2, &buf, &len, &cap, err, sizeof err),
                     -EINVAL);
    free(buf);
}

static void test_broken_template(void **state)
{
    struct config_global g;
    struct proxy_rendered out;
    struct proxy_templates bad = tpl;
    char err[256];

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    bad.text[PROXY_TPL_TENANT] = "server { listen {{listen}}; server_name {{hots}}; }\n";
    assert_int_equal(proxy_render(&g, fixture_ptr, N_FIXTURE, &bad, &out, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "tenant.conf.in:1: unknown placeholder {{hots}}");
    assert_null(out.main_conf);
    assert_null(out.tenants_conf);

    /* The main and default templates see only the global placeholders. */
    bad = tpl;
    bad.text[PROXY_TPL_DEFAULT] = "# {{id}}\n";
    assert_int_equal(proxy_render(&g, fixture_ptr, N_FIXTURE, &bad, &out, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "{{id}}"));

    bad = tpl;
    bad.text[PROXY_TPL_SUSPENDED] = NULL;
    assert_int_equal(proxy_render(&g, fixture_ptr, N_FIXTURE, &bad, &out, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "suspended.conf.in is missing"));
}

/* ---- hostile values ----------------------------------------------------------- */

struct hostile {
    const char *field; /* id | subdomain | port */
    const char *value;
    int port;
};

static const struct hostile hostile_tenant[] = {
    {"id", "evil;", 0},        {"id", "evil{", 0},        {"id", "ev\"il", 0},
    {"id", "ev'il", 0},        {"id", "evil\nserver", 0}, {"id", "ev$il", 0},
    {"id", "ev#il", 0},        {"id", "ev il", 0},        {"id", "..", 0},
    {"id", "ev/il", 0},        {"id", "Evil", 0},         {"id", "", 0},
    {"subdomain", "evil;", 0}, {"subdomain", "evil}", 0}, {"subdomain", "evil{ }", 0},
    {"subdomain", "a\"b", 0},  {"subdomain", "a\nb", 0},  {"subdomain", "a$host", 0},
    {"subdomain", "a#b", 0},   {"subdomain", "a b", 0},   {"subdomain", "a..b", 0},
    {"subdomain", ".a", 0},    {"subdomain", "a.", 0},    {"subdomain", "*", 0},
    {"subdomain", "A", 0},     {"subdomain", "", 0},      {"subdomain", "a\tb", 0},
    {"subdomain", "a\\b", 0},  {"port", NULL, 0},         {"port", NULL, -1},
    {"port", NULL, 65536},
};

static void test_hostile_tenant(void **state)
{
    struct config_global g;
    struct config_tenant evil;
    const struct config_tenant *list[N_FIXTURE + 1];
    struct proxy_rendered out;
    char err[512];

    fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", NULL, NULL);
    for (size_t k = 0; k < sizeof hostile_tenant / sizeof hostile_tenant[0]; k++) {
        const struct hostile *h = &hostile_tenant[k];
        set_tenant(&evil, "zed", "zed", 5009, TENANT_ACTIVE, "Zed");
        if (strcmp(h->field, "id") == 0)
            snprintf(evil.id, sizeof evil.id, "%s", h->value);
        else if (strcmp(h->field, "subdomain") == 0)
            snprintf(evil.subdomain, sizeof evil.subdomain, "%s", h->value);
        else
            evil.port = h->port;
        /* Suspended and cancelled tenants are checked too. */
        evil.status = (enum tenant_status)(k % 3);
        for (int i = 0; i < N_FIXTURE; i++)
            list[i] = fixture_ptr[i];
        list[N_FIXTURE] = &evil;
        err[0] = '\0';
        out.main_conf = out.tenants_conf = (char *)"sentinel";
        int r = proxy_render(&g, list, N_FIXTURE + 1, &tpl, &out, err, sizeof err);
        if (r != -EINVAL)
            fail_msg("case %zu (%s): rendered (%d)", k, h->field, r);
        assert_null(out.main_conf);
        assert_null(out.tenants_conf);
        /* The message names the tenant and the field, and stays one line. */
        if (strcmp(h->field, "id") != 0 && strstr(err, "tenant zed:") == NULL)
            fail_msg("case %zu: message does not name the tenant: %s", k, err);
        if (strstr(err, h->field) == NULL)
            fail_msg("case %zu: message does not name the field %s: %s", k, h->field, err);
        assert_null(strchr(err, '\n'));
    }
}

static void test_hostile_global(void **state)
{
    struct config_global g;
    struct proxy_rendered out;
    char err[512];

    static const struct {
        const char *key, *value;
    } cases[] = {
        {"domain", "localhost;"},
        {"domain", "local host"},
        {"domain", "a{b"},
        {"domain", "a\"b"},
        {"domain", "a\nb"},
        {"domain", "$host"},
        {"domain", "a#b"},
        {"domain", ""},
        {"run_dir", "/srv/run dir"},
        {"run_dir", "/srv/../etc"},
        {"run_dir", "/srv/run;"},
        {"run_dir", "relative/run"},
        {"run_dir", "/srv/$run"},
        {"log_dir", "/srv/logs/.."},
        {"log_dir", "/srv/'logs'"},
        {"log_dir", "/srv/logs\n"},
        {"tls_cert", "/srv/tls/../../etc/shadow"},
        {"tls_cert", "/srv/tls/a b.crt"},
        {"tls_key", "/srv/tls/k{ey"},
        {"listen", "127.0.0.1;"},
        {"listen", "127.0.0.1 default_server"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fixture_global(&g, "/srv/tenantd/run", "/srv/tenantd/logs", "/srv/tls/c.crt",
                       "/srv/tls/c.key");
        if (strcmp(cases[k].key, "domain") == 0)
            snprintf(g.domain, sizeof g.domain, "%s", cases[k].value);
        else if (strcmp(cases[k].key, "run_dir") == 0)
            snprintf(g.run_dir, sizeof g.run_dir, "%s", cases[k].value);
        else if (strcmp(cases[k].key, "log_dir") == 0)
            snprintf(g.log_dir, sizeof g.log_dir, "%s", cases[k].value);
        else if (strcmp(cases[k].key, "tls_cert") == 0)
            snprintf(g.tls_cert, sizeof g.tls_cert, "%s", cases[k].value);
        else if (strcmp(cases[k].key, "tls_key") == 0)
            snprintf(g.tls_key, sizeof g.tls_key, "%s", cases[k].value);
        else
            snprintf(g.proxy_host, sizeof g.proxy_host, "%s", cases[k].value);
        int r = proxy_render(&g, fixture_ptr, N_FIXTURE, &tpl, &out, err, sizeof err);
        if (r != -EINVAL)
            fail_msg("case %zu (%s): rendered (%d)", k, cases[k].key, r);
        if (strstr(err, cases[k].key) == NULL)
            fail_msg("case %zu: message does not name %s: %s", k, cases[k].key, err);
        assert_null(strchr(err, '\n'));
    }
    /* Paths may hold dots that are not "..": "a..b" is one name. */
    fixture_global(&g, "/srv/ten.antd/run..1", "/srv/tenantd/logs", NULL, NULL);
    assert_int_equal(proxy_render(&g, fixture_ptr, N_FIXTURE, &tpl, &out, err, sizeof err), 0);
    proxy_rendered_free(&out);
}

static void test_checks(void **state)
{
    assert_int_equal(proxy_check_id("dupont"), 0);
    assert_int_equal(proxy_check_id("a-1"), 0);
    assert_int_equal(proxy_check_id("1a"), -EINVAL);
    assert_int_equal(proxy_check_host("a.b-c.d"), 0);
    assert_int_equal(proxy_check_host("a..b"), -EINVAL);
    assert_int_equal(proxy_check_path("/a/b.c_d-e"), 0);
    assert_int_equal(proxy_check_path("/a/../b"), -EINVAL);
    assert_int_equal(proxy_check_path("/a/.."), -EINVAL);
    assert_int_equal(proxy_check_path("a/b"), -EINVAL);
}

/* ---- --emit ---------------------------------------------------------------------- */

static int write_out(const char *dir, const char *name, const char *text)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    int r = util_write_file_atomic(path, text, strlen(text), 0644);
    if (r < 0)
        fprintf(stderr, "%s: %s\n", path, strerror(-r));
    return r;
}

static int emit(int argc, char **argv)
{
    struct config_global g;
    struct proxy_rendered out;
    char err[512], pages[4096];

    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: %s --emit DIR RUN_DIR LOG_DIR [CERT KEY]\n", argv[0]);
        return 2;
    }
    fixture_global(&g, argv[3], argv[4], argc == 7 ? argv[5] : NULL, argc == 7 ? argv[6] : NULL);
    if (proxy_render(&g, fixture_ptr, N_FIXTURE, &tpl, &out, err, sizeof err) < 0) {
        fprintf(stderr, "render: %s\n", err);
        return 1;
    }
    if (write_out(argv[2], PROXY_MAIN_FILE, out.main_conf) < 0 ||
        write_out(argv[2], PROXY_TENANTS_FILE, out.tenants_conf) < 0)
        return 1;
    proxy_rendered_free(&out);
    snprintf(pages, sizeof pages, "%s/%s/%s", argv[3], PROXY_PREFIX_DIR, PROXY_SUSPENDED_DIR);
    if (util_mkdir_p(pages, 0755) < 0)
        return 1;
    for (int i = 0; i < N_FIXTURE; i++) {
        char *page, name[64];
        if (fixture[i].status != TENANT_SUSPENDED)
            continue;
        if (proxy_render_page(page_tpl, &fixture[i], &page, err, sizeof err) < 0)
            return 1;
        snprintf(name, sizeof name, "%.40s.html", fixture[i].id);
        if (write_out(pages, name, page) < 0)
            return 1;
        free(page);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_managed),
        cmocka_unit_test(test_names_hash_sized_from_tenants),
        cmocka_unit_test(test_golden_tls),
        cmocka_unit_test(test_golden_external),
        cmocka_unit_test(test_acme_certs),
        cmocka_unit_test(test_no_tenants),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_broken_template),
        cmocka_unit_test(test_hostile_tenant),
        cmocka_unit_test(test_hostile_global),
        cmocka_unit_test(test_checks),
    };
    int r;

    if (getenv("TENANTD_SRCDIR") != NULL)
        snprintf(srcdir, sizeof srcdir, "%s", getenv("TENANTD_SRCDIR"));
    if (load_templates() < 0)
        return 1;
    fixture_tenants();
    if (argc > 1 && strcmp(argv[1], "--emit") == 0)
        r = emit(argc, argv);
    else
        r = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < PROXY_TPL__COUNT; i++)
        free(tpl_owned[i]);
    free(page_tpl);
    return r;
}
