/*
 * ctl/k8s_render.c (unit) — the pure part of `tenantctl export k8s`: YAML quoting of hostile
 * strings, quantities, and the objects rendered for a tenant parsed from memory (suspended,
 * network rules, refusals). The schema validation and the golden files are in
 * tests/integration/test_k8s_export.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "k8s_render.h"

static void quote_is(const char *in, const char *want)
{
    char buf[256];
    size_t n = k8s_yaml_quote(in, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_quote(void **state)
{
    (void)state;
    quote_is("plain", "\"plain\"");
    quote_is("", "\"\"");
    quote_is("a \"b\" \\ c: #d", "\"a \\\"b\\\" \\\\ c: #d\"");
    quote_is("line\nbreak\ttab\r", "\"line\\nbreak\\ttab\\r\"");
    quote_is("Müller 東京 🙂", "\"Müller 東京 🙂\"");
    quote_is("\x01\x7f", "\"\\u0001\\u007F\"");
    quote_is("nel\xc2\x85"
             "c1\xc2\x9f",
             "\"nel\\u0085c1\\u009F\""); /* C1 controls */
    quote_is("\xef\xbb\xbf"
             "bom",
             "\"\\uFEFFbom\""); /* BOM */
    quote_is("ls\xe2\x80\xa8"
             "ps\xe2\x80\xa9",
             "\"ls\\u2028ps\\u2029\""); /* line separators */
    quote_is("bad\xff"
             "byte\xc3",
             "\"bad\\uFFFDbyte\\uFFFD\"");                 /* malformed UTF-8 */
    quote_is("\xc0\xaf", "\"\\uFFFD\\uFFFD\"");            /* overlong '/' */
    quote_is("\xed\xa0\x80", "\"\\uFFFD\\uFFFD\\uFFFD\""); /* a surrogate */
    /* Too small a buffer: cut and terminated, the full length returned. */
    char small[4];
    assert_int_equal(k8s_yaml_quote("abcdef", small, sizeof small), 8);
    assert_string_equal(small, "\"ab");
}

static void test_quantity(void **state)
{
    (void)state;
    char b[32];
    k8s_quantity(1024LL * 1024 * 1024, b, sizeof b);
    assert_string_equal(b, "1Gi");
    k8s_quantity(256LL << 20, b, sizeof b);
    assert_string_equal(b, "256Mi");
    k8s_quantity(1536LL << 20, b, sizeof b);
    assert_string_equal(b, "1536Mi");
    k8s_quantity(64LL << 10, b, sizeof b);
    assert_string_equal(b, "64Ki");
    k8s_quantity(1000, b, sizeof b);
    assert_string_equal(b, "1000");
    k8s_quantity(2LL << 40, b, sizeof b);
    assert_string_equal(b, "2Ti");
}

struct fixture {
    struct config_global g;
    struct config_plans p;
    struct config_tenant t;
};

static const char PLANS[] = "[starter]\nlabel = Starter\nprice_cents = 9900\nmax_users = 3\n"
                            "max_cases = 500\nmax_analysis_monthly = 100\n"
                            "ai_model = ceseda-basic-v1\nadvanced_features = false\n"
                            "overage_cents = 0\nmemory = 128M\npids = 32\ncpu_weight = 50\n"
                            "log_budget = 16M\n";

static struct fixture *load(const char *tenant)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct config_diag d = {0};
    static const char global[] = "[tenantd]\ndomain = example.test\n";
    assert_non_null(f);
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", global, strlen(global), &f->g, &d),
                     0);
    assert_int_equal(config_parse_plans(&f->g, "plans.ini", PLANS, strlen(PLANS), &f->p, &d), 0);
    int rc = config_parse_tenant(&f->g, &f->p, "acme", "tenants.d/acme.ini", tenant, strlen(tenant),
                                 &f->t, &d);
    if (rc != 0) {
        char *m = config_diag_join(&d);
        fail_msg("%s", m);
    }
    config_diag_clear(&d);
    return f;
}

static const struct k8s_opts OPTS = {.namespace_ = "tenantd",
                                     .image = "tenant-worker:1",
                                     .storage_class = "",
                                     .ingress_class = "",
                                     .ingress_namespace = "ingress-nginx"};

static char *render(struct fixture *f, const struct k8s_opts *o)
{
    struct k8s_tenant kt = {.t = &f->t, .uid = 200007, .uid_assigned = true};
    return k8s_render_tenant(o, &f->g, &f->p, &kt);
}

static void test_render_hostile_name(void **state)
{
    (void)state;
    struct fixture *f =
        load("[tenant]\nname = Cabinet \"O'Brien\": #1 & Fils\nplan = starter\n[worker]\n"
             "port = 5001\nnetwork = outbound\n");
    char *y = render(f, &OPTS);
    assert_non_null(y);
    assert_non_null(strstr(y, "tenantd/name: \"Cabinet \\\"O'Brien\\\": #1 & Fils\"\n"));
    assert_non_null(strstr(y, "value: \"Cabinet \\\"O'Brien\\\": #1 & Fils\"\n"));
    assert_non_null(strstr(y, "replicas: 1\n"));
    assert_non_null(strstr(y, "runAsUser: 200007\n"));
    assert_non_null(strstr(y, "memory: \"128Mi\"\n"));
    assert_non_null(strstr(y, "cpu: \"50m\"\n"));
    assert_non_null(strstr(y, "host: \"acme.example.test\"\n"));
    assert_non_null(strstr(y, "# pids: the plan's limit (32)"));
    assert_null(strstr(y, "kind: \"Secret\""));
    /* network = outbound: egress open to everything. */
    assert_non_null(strstr(y, "  egress:\n    - {}\n"));
    free(y);
    free(f);
}

static void test_render_suspended_no_network(void **state)
{
    (void)state;
    struct fixture *f = load("[tenant]\nname = Acme\nplan = starter\nstatus = suspended\n"
                             "[worker]\nport = 5001\nnetwork = none\n");
    char *y = render(f, &OPTS);
    assert_non_null(y);
    assert_non_null(strstr(y, "replicas: 0\n"));
    assert_non_null(strstr(y, "  egress: []\n"));
    free(y);
    free(f);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[512];
    struct fixture *f = load("[tenant]\nname = Acme\nplan = starter\n[worker]\nport = 5001\n"
                             "command = /opt/app/run\nsocket = own\n");
    struct k8s_tenant kt = {.t = &f->t, .uid = 200007};
    assert_int_equal(k8s_check_tenant(&OPTS, &kt, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[worker] command"));
    errno = 0;
    assert_null(render(f, &OPTS));
    assert_int_equal(errno, EINVAL);
    struct k8s_opts with_image = OPTS;
    with_image.image = "registry.example/app:2";
    with_image.image_given = true;
    char *y = render(f, &with_image);
    assert_non_null(y);
    assert_non_null(strstr(y, "image: \"registry.example/app:2\"\n"));
    free(y);
    /* --include-secrets with no secret: refused. */
    struct k8s_opts secrets = with_image;
    secrets.include_secrets = true;
    assert_int_equal(k8s_check_tenant(&secrets, &kt, err, sizeof err), -EINVAL);
    kt.secret = "s3cr3t-value-0123456789";
    y = k8s_render_tenant(&secrets, &f->g, &f->p, &kt);
    assert_non_null(y);
    assert_non_null(strstr(y, "SECRET_KEY: \"s3cr3t-value-0123456789\"\n"));
    free(y);
    /* An id with a trailing '-' is valid for tenantd, not as a Kubernetes name. */
    snprintf(f->t.id, sizeof f->t.id, "acme-");
    assert_int_equal(k8s_check_tenant(&with_image, &kt, err, sizeof err), -EINVAL);
    free(f);
}

static void test_opts(void **state)
{
    (void)state;
    char err[256];
    struct k8s_opts o = OPTS;
    assert_int_equal(k8s_check_opts(&o, err, sizeof err), 0);
    o.namespace_ = "Bad_NS";
    assert_int_equal(k8s_check_opts(&o, err, sizeof err), -EINVAL);
    o = OPTS;
    o.image = "a b";
    assert_int_equal(k8s_check_opts(&o, err, sizeof err), -EINVAL);
    o = OPTS;
    o.storage_class = "x\ny";
    assert_int_equal(k8s_check_opts(&o, err, sizeof err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quantity),
        cmocka_unit_test(test_render_hostile_name),
        cmocka_unit_test(test_render_suspended_no_network),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
