/*
 * tenantd/status_json.c (unit) — unit tests of status_json.c: a tenant_view becomes the
 * documented JSON fields, nulls where the contract says so, and text that is
 * hostile to JSON (quotes, newlines, control bytes, invalid UTF-8) always
 * comes out as valid, faithfully escaped JSON. The firm's URL follows the
 * proxy's scheme and ports. The proxy's state says ok or carries nginx's
 * message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy.h"
#include "status_json.h"

static void fill(struct tenant_view *v)
{
    memset(v, 0, sizeof *v);
    strcpy(v->id, "dupont");
    strcpy(v->name, "Cabinet Dupont & Associés");
    strcpy(v->plan, "professional");
    strcpy(v->subdomain, "dupont");
    strcpy(v->url, "http://dupont.localhost:8080/");
    v->port = 5001;
    v->state = TS_RUNNING;
    v->desired_up = true;
    v->pid = 1234;
    v->uptime_s = 42;
    v->restarts = 3;
    strcpy(v->last_exit, "signal 9");
    v->next_start_in_ms = -1;
    v->ready_latency_ms = 4;
    v->rss_bytes = 4096 * 1024;
    v->cpu_seconds = 1.5;
}

/* Dump and parse back, so each test checks what a client would see. */
static json_t *roundtrip(json_t *j)
{
    assert_non_null(j);
    size_t len = 0;
    char *s = status_json_dump(j, &len);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    assert_int_equal(s[len - 1], '\n');
    json_error_t e;
    json_t *back = json_loadb(s, len, 0, &e);
    assert_non_null(back);
    free(s);
    json_decref(j);
    return back;
}

static void test_fields(void **state)
{
    (void)state;
    struct tenant_view v;
    fill(&v);
    json_t *o = roundtrip(status_json_tenant(&v));
    static const char *const keys[] = {"id",
                                       "name",
                                       "plan",
                                       "subdomain",
                                       "url",
                                       "port",
                                       "state",
                                       "desired",
                                       "pid",
                                       "starting_pid",
                                       "draining_pid",
                                       "uptime_s",
                                       "restarts",
                                       "operator_restarts",
                                       "worker_status",
                                       "notify_error",
                                       "wakeups",
                                       "idle_after_ms",
                                       "last_exit",
                                       "config_error",
                                       "state_reason",
                                       "next_start_in_ms",
                                       "ready_latency_ms",
                                       "rss_bytes",
                                       "cpu_seconds",
                                       "log",
                                       "storage",
                                       "network",
                                       "net_containment",
                                       "resources_from"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(o, keys[i]));
    assert_int_equal(json_object_size(o), sizeof keys / sizeof keys[0]);
    /* Never measured in this test: storage is null; the log counters are 0. */
    assert_true(json_is_null(json_object_get(o, "storage")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(o, "log"), "bytes_dropped")), 0);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "dupont");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "Cabinet Dupont & Associés");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(o, "desired")), "up");
    assert_int_equal(json_integer_value(json_object_get(o, "pid")), 1234);
    assert_int_equal(json_integer_value(json_object_get(o, "port")), 5001);
    assert_int_equal(json_integer_value(json_object_get(o, "uptime_s")), 42);
    assert_int_equal(json_integer_value(json_object_get(o, "restarts")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "wakeups")), 0);
    assert_string_equal(json_string_value(json_object_get(o, "last_exit")), "signal 9");
    assert_string_equal(json_string_value(json_object_get(o, "config_error")), "");
    assert_true(json_is_null(json_object_get(o, "next_start_in_ms")));
    assert_int_equal(json_integer_value(json_object_get(o, "ready_latency_ms")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "rss_bytes")), 4096 * 1024);
    assert_true(json_real_value(json_object_get(o, "cpu_seconds")) == 1.5);
    json_decref(o);
}

/* Reals come out as written, without binary float noise (0.23, not 0.23000000000000001). */
static void test_reals_without_noise(void **state)
{
    (void)state;
    struct tenant_view v;
    fill(&v);
    v.cpu_seconds = 0.23;
    snprintf(v.worker_status, sizeof v.worker_status, "serving");
    json_t *o = status_json_tenant(&v);
    size_t len = 0;
    char *s = status_json_dump(o, &len);
    const char *c = strstr(s, "\"cpu_seconds\":0.23");
    assert_non_null(c);
    assert_false(c[strlen("\"cpu_seconds\":0.23")] >= '0' &&
                 c[strlen("\"cpu_seconds\":0.23")] <= '9');
    assert_non_null(strstr(s, "\"worker_status\":\"serving\""));
    free(s);
    json_decref(o);
}

static void test_nulls(void **state)
{
    (void)state;
    struct tenant_view v;
    fill(&v);
    v.state = TS_BACKOFF;
    v.desired_up = false;
    v.pid = 0;
    v.next_start_in_ms = 750;
    v.ready_latency_ms = -1;
    json_t *o = roundtrip(status_json_tenant(&v));
    assert_true(json_is_null(json_object_get(o, "pid")));
    assert_true(json_is_null(json_object_get(o, "ready_latency_ms")));
    assert_int_equal(json_integer_value(json_object_get(o, "next_start_in_ms")), 750);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "backoff");
    assert_string_equal(json_string_value(json_object_get(o, "desired")), "down");
    json_decref(o);
}

static void test_escaping(void **state)
{
    (void)state;
    struct tenant_view v;
    fill(&v);
    strcpy(v.name, "Cabinet \"Müller\" & Fils\n<script>\\ \x01");
    strcpy(v.config_error, "tenants.d/x.ini:3: [tenant] name: \"a\tb\"");
    struct tenant_view vs[2] = {v, v};
    json_t *a = status_json_tenants(vs, 2);
    assert_non_null(a);
    size_t len;
    char *s = status_json_dump(a, &len);
    /* Control bytes never appear raw in the output: the body is one line. */
    assert_null(memchr(s, '\n', len - 1));
    assert_null(memchr(s, '\x01', len));
    assert_non_null(strstr(s, "\\\"M\xc3\xbcller\\\""));
    assert_non_null(strstr(s, "\\u0001"));
    free(s);
    json_t *back = roundtrip(a);
    assert_int_equal(json_array_size(back), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(back, 1), "name")),
                        v.name);
    assert_string_equal(json_string_value(json_object_get(json_array_get(back, 0), "config_error")),
                        v.config_error);
    json_decref(back);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* Truncated sequence, lone continuation byte, overlong '/', surrogate. */
    const char *in = "a\xc3"
                     "b\x80"
                     "c\xc0\xaf"
                     "d\xed\xa0\x80"
                     "e\xf0\x9f\x98\x80";
    json_t *j = status_json_string(in);
    assert_non_null(j);
    const char *out = json_string_value(j);
    assert_string_equal(out, "a\xef\xbf\xbd"
                             "b\xef\xbf\xbd"
                             "c\xef\xbf\xbd\xef\xbf\xbd"
                             "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "e\xf0\x9f\x98\x80");
    json_decref(j);

    struct tenant_view v;
    fill(&v);
    strcpy(v.config_error, "bad \xff\xfe value");
    json_t *o = roundtrip(status_json_tenant(&v));
    assert_string_equal(json_string_value(json_object_get(o, "config_error")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd value");
    json_decref(o);
}

static void test_empty_list_and_error(void **state)
{
    (void)state;
    json_t *a = roundtrip(status_json_tenants(NULL, 0));
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);

    json_t *e = roundtrip(status_json_error("no such tenant", "x\"y"));
    assert_string_equal(json_string_value(json_object_get(e, "error")), "no such tenant");
    assert_string_equal(json_string_value(json_object_get(e, "detail")), "x\"y");
    json_decref(e);
    e = roundtrip(status_json_error("internal", NULL));
    assert_string_equal(json_string_value(json_object_get(e, "detail")), "");
    json_decref(e);
}

static void test_plans(void **state)
{
    (void)state;
    struct config_plans p;
    memset(&p, 0, sizeof p);
    p.n = 2;
    strcpy(p.plan[0].name, "starter");
    strcpy(p.plan[0].label, "Starter");
    p.plan[0].price_cents = 9900;
    p.plan[0].max_users = 3;
    strcpy(p.plan[1].name, "enterprise");
    p.plan[1].advanced_features = true;
    p.plan[1].memory_bytes = 512LL << 20;
    json_t *a = roundtrip(status_json_plans(&p));
    assert_int_equal(json_array_size(a), 2);
    json_t *s = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(s, "name")), "starter");
    assert_int_equal(json_integer_value(json_object_get(s, "price_cents")), 9900);
    assert_int_equal(json_integer_value(json_object_get(s, "max_users")), 3);
    assert_true(json_is_false(json_object_get(s, "advanced_features")));
    json_t *e = json_array_get(a, 1);
    assert_true(json_is_true(json_object_get(e, "advanced_features")));
    assert_int_equal(json_integer_value(json_object_get(e, "memory_bytes")), 512LL << 20);
    json_decref(a);
}

static void test_tenant_url(void **state)
{
    (void)state;
    struct config_global g;
    char buf[256];
    memset(&g, 0, sizeof g);
    strcpy(g.domain, "avocats.example");
    g.proxy_port = 8080;
    g.tls_port = 8443;
    assert_string_equal(status_json_tenant_url(&g, "dupont", buf, sizeof buf),
                        "http://dupont.avocats.example:8080/");
    g.proxy_port = 80;
    assert_string_equal(status_json_tenant_url(&g, "dupont", buf, sizeof buf),
                        "http://dupont.avocats.example/");
    /* A certificate makes the https address the one to hand out. */
    strcpy(g.tls_cert, "/etc/tenantd/cert.pem");
    assert_string_equal(status_json_tenant_url(&g, "dupont", buf, sizeof buf),
                        "https://dupont.avocats.example:8443/");
    g.tls_port = 443;
    assert_string_equal(status_json_tenant_url(&g, "petit-avocats", buf, sizeof buf),
                        "https://petit-avocats.avocats.example/");
    /* Too small a buffer is cut, never overrun. */
    char small[12];
    assert_string_equal(status_json_tenant_url(&g, "dupont", small, sizeof small), "https://dup");
}

static void test_proxy(void **state)
{
    (void)state;
    struct proxy_stats st = {.mode = PROXY_MANAGED,
                             .reloads = 4,
                             .failures = 1,
                             .nginx_starts = 2,
                             .nginx_pid = 4321,
                             .generation = 5};
    json_t *o = roundtrip(status_json_proxy(&st, ""));
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "managed");
    assert_true(json_is_true(json_object_get(o, "ok")));
    assert_string_equal(json_string_value(json_object_get(o, "last_error")), "");
    assert_int_equal(json_integer_value(json_object_get(o, "reloads")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "failures")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "nginx_starts")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "nginx_pid")), 4321);
    assert_int_equal(json_integer_value(json_object_get(o, "generation")), 5);
    json_decref(o);

    /* A refused configuration: not ok, nginx's message as it was (escaped). */
    st.mode = PROXY_EXTERNAL;
    st.nginx_pid = 0;
    o = roundtrip(status_json_proxy(&st, "nginx -t refused: [emerg] unknown directive \"x\"\xff"));
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "external");
    assert_true(json_is_false(json_object_get(o, "ok")));
    assert_string_equal(json_string_value(json_object_get(o, "last_error")),
                        "nginx -t refused: [emerg] unknown directive \"x\"\xef\xbf\xbd");
    assert_true(json_is_null(json_object_get(o, "nginx_pid")));
    json_decref(o);

    st.mode = PROXY_OFF;
    o = roundtrip(status_json_proxy(&st, NULL));
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "off");
    assert_true(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_reals_without_noise),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_empty_list_and_error),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_tenant_url),
        cmocka_unit_test(test_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
