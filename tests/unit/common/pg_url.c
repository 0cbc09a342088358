/*
 * common/pg_url.c (unit) — tenantd.ini's [postgresql] url: what is accepted
 * (host, port, IPv6, socket folder, database), what is refused with a
 * sentence (an inline password, other parameters, no server, bad ports,
 * odd characters), and the names and URIs derived for a tenant; plus the
 * [postgresql] and [database] keys through the config loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pg_url.h"

static void test_accepts(void **state)
{
    struct pg_server s;
    char err[256];
    assert_int_equal(
        pg_url_parse("postgresql://postgres@127.0.0.1:5433/admin", &s, err, sizeof err), 0);
    assert_string_equal(s.user, "postgres");
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 5433);
    assert_string_equal(s.dbname, "admin");
    assert_string_equal(s.sockdir, "");
    assert_int_equal(pg_url_parse("postgres://db.example.org", &s, err, sizeof err), 0);
    assert_int_equal(s.port, 5432);
    assert_string_equal(s.dbname, "postgres");
    assert_string_equal(s.user, "");
    assert_int_equal(pg_url_parse("postgresql://[::1]:6000/x", &s, err, sizeof err), 0);
    assert_string_equal(s.host, "::1");
    assert_int_equal(s.port, 6000);
    assert_int_equal(
        pg_url_parse("postgresql://tenantd@/postgres?host=/run/postgresql", &s, err, sizeof err),
        0);
    assert_string_equal(s.sockdir, "/run/postgresql");
    assert_string_equal(s.host, "");
    assert_int_equal(s.port, 5432);
    assert_int_equal(pg_url_parse("postgresql://u@:6000/x?host=/var/run/pg", &s, err, sizeof err),
                     0);
    assert_int_equal(s.port, 6000);
    assert_string_equal(s.sockdir, "/var/run/pg");
}

static void refused(const char *url, const char *why)
{
    struct pg_server s;
    char err[256] = "";
    assert_int_equal(pg_url_parse(url, &s, err, sizeof err), -EINVAL);
    if (strstr(err, why) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", url, err, why);
}

static void test_refuses(void **state)
{
    refused("mysql://x", "postgresql://");
    refused("postgresql://postgres:secret@127.0.0.1/postgres", "password_file");
    refused("postgresql://postgres@127.0.0.1/x?sslmode=disable", "\"sslmode=disable\"");
    refused("postgresql://postgres@/postgres", "names no server");
    refused("postgresql://h:0/x", "port");
    refused("postgresql://h:99999/x", "port");
    refused("postgresql://h:12ab/x", "port");
    refused("postgresql://h/x?host=/run/pg", "pick one");
    refused("postgresql://u@/x?host=relative", "absolute");
    refused("postgresql:///x?host=/a/../b", "absolute");
    refused("postgresql://ho st/x", "host");
    refused("postgresql://h/da'ta", "database name");
    refused("postgresql://us;er@h/x", "user name");
    refused("postgresql://[::1/x", "']'");
}

static void test_tenant_names(void **state)
{
    struct pg_server s;
    char buf[256], err[256];
    assert_int_equal(pg_tenant_name("dupont-avocats", buf, sizeof buf), 21);
    assert_string_equal(buf, "tenant_dupont_avocats");
    assert_true(pg_name_ok(buf));
    assert_false(pg_name_ok("Tenant"));
    assert_false(pg_name_ok("a\"b"));
    assert_false(pg_name_ok("1abc"));
    assert_false(pg_name_ok(""));
    pg_url_parse("postgresql://postgres@127.0.0.1:5433/postgres", &s, err, sizeof err);
    pg_tenant_url(&s, "dupont", buf, sizeof buf);
    assert_string_equal(buf, "postgresql://tenant_dupont@127.0.0.1:5433/tenant_dupont");
    pg_url_parse("postgresql://postgres@/postgres?host=/run/postgresql", &s, err, sizeof err);
    pg_tenant_url(&s, "dupont", buf, sizeof buf);
    assert_string_equal(buf,
                        "postgresql://tenant_dupont@/tenant_dupont?host=/run/postgresql&port=5432");
    pg_pgpass_line("dupont", "00ff", buf, sizeof buf);
    assert_string_equal(buf, "*:*:tenant_dupont:tenant_dupont:00ff\n");
}

static const char plans[] = "[starter]\nprice_cents = 9900\nmax_users = 3\nmax_cases = 500\n"
                            "max_analysis_monthly = 100\nai_model = m\nadvanced_features = false\n"
                            "overage_cents = 0\nmemory = 64M\npids = 64\ncpu_weight = 100\n"
                            "log_budget = 16M\n"
                            "[big]\nprice_cents = 1\nmax_users = 3\nmax_cases = 500\n"
                            "max_analysis_monthly = 100\nai_model = m\nadvanced_features = false\n"
                            "overage_cents = 0\nmemory = 64M\npids = 64\ncpu_weight = 100\n"
                            "log_budget = 16M\ndatabase = postgresql\n";

static void test_config_keys(void **state)
{
    static struct config_global g;
    static struct config_plans p;
    static struct config_tenant t;
    struct config_diag d = {0};
    const char *gtext = "[postgresql]\nurl = postgresql://postgres@127.0.0.1:5433/postgres\n"
                        "password_file = /etc/tenantd/pg.pw\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", gtext, strlen(gtext), &g, &d), 0);
    assert_int_equal(g.pg.port, 5433);
    assert_int_equal(config_parse_plans(&g, "plans.ini", plans, strlen(plans), &p, &d), 0);
    const char *t1 = "[tenant]\nname = A\nplan = starter\n[worker]\nport = 5001\n";
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t1, strlen(t1), &t, &d), 0);
    assert_int_equal(t.database, DB_SQLITE);
    const char *t2 = "[tenant]\nname = A\nplan = big\n[worker]\nport = 5001\n";
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t2, strlen(t2), &t, &d), 0);
    assert_int_equal(t.database, DB_POSTGRESQL);
    /* Its network: local, with the server's port allowed; none is refused. */
    assert_int_equal(t.network, WORKER_NETWORK_LOCAL);
    assert_int_equal(t.n_allow, 1);
    assert_int_equal(t.allow_port[0], 5433);
    const char *t5 = "[tenant]\nname = A\nplan = big\n[worker]\nport = 5001\nnetwork = none\n";
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t5, strlen(t5), &t, &d), -EINVAL);
    char *m5 = config_diag_join(&d);
    assert_non_null(strstr(m5, "none cannot reach the PostgreSQL server 127.0.0.1:5433"));
    free(m5);
    config_diag_clear(&d);
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t2, strlen(t2), &t, &d), 0);
    char **env = config_worker_env(&g, &p, &t, "0123456789abcdef0123");
    int seen = 0;
    for (char **e = env; *e; e++)
        seen += strcmp(*e, "DATABASE_TYPE=postgresql") == 0 ||
                strcmp(*e, "POSTGRESQL_URL=postgresql://tenant_a@127.0.0.1:5433/tenant_a") == 0 ||
                strcmp(*e, "PGPASSFILE=/srv/t/data/clients/a/.pgpass") == 0;
    assert_int_equal(seen, 3);
    free(env);
    const char *t3 = "[tenant]\nname = A\nplan = big\n[worker]\nport = 5001\n"
                     "[database]\ntype = sqlite\n";
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t3, strlen(t3), &t, &d), 0);
    assert_int_equal(t.database, DB_SQLITE);
    const char *t4 = "[tenant]\nname = A\nplan = big\n[worker]\nport = 5001\n"
                     "[database]\ntype = mongodb\n";
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t4, strlen(t4), &t, &d), -EINVAL);
    char *msg = config_diag_join(&d);
    assert_non_null(strstr(msg, "a.ini:7: [database] type: \"mongodb\" is not one of"));
    free(msg);
    config_diag_clear(&d);
    /* Without a server, a PostgreSQL tenant is invalid; url alone is too. */
    const char *g2 = "[postgresql]\nurl = postgresql://postgres@127.0.0.1/postgres\n";
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", g2, strlen(g2), &g, &d), -EINVAL);
    msg = config_diag_join(&d);
    assert_non_null(strstr(msg, "url and password_file must be set together"));
    free(msg);
    config_diag_clear(&d);
    assert_int_equal(config_parse_global("/srv/t/tenantd.ini", "", 0, &g, &d), 0);
    assert_int_equal(config_parse_tenant(&g, &p, "a", "a.ini", t2, strlen(t2), &t, &d), -EINVAL);
    msg = config_diag_join(&d);
    assert_non_null(strstr(msg, "[database] type: postgresql needs a server"));
    free(msg);
    config_diag_clear(&d);
}

static void test_set_database_text(void **state)
{
    char out[512];
    assert_int_equal(
        config_set_database_text("[tenant]\nname = A\n", DB_POSTGRESQL, out, sizeof out), 0);
    assert_string_equal(out, "[tenant]\nname = A\n\n[database]\ntype = postgresql\n");
    assert_int_equal(config_set_database_text("[tenant]\nname = A", DB_SQLITE, out, sizeof out), 0);
    assert_string_equal(out, "[tenant]\nname = A\n\n[database]\ntype = sqlite\n");
    /* Replaced in place, the rest kept. */
    assert_int_equal(config_set_database_text("[tenant]\n[database]\ntype = sqlite ; c\n[worker]\n"
                                              "port = 1\n",
                                              DB_POSTGRESQL, out, sizeof out),
                     0);
    assert_string_equal(out, "[tenant]\n[database]\ntype = postgresql\n[worker]\nport = 1\n");
    /* A [database] section without the key, first in the file. */
    assert_int_equal(
        config_set_database_text("[database]\n[worker]\ntype_x = 1\n", DB_SQLITE, out, sizeof out),
        0);
    assert_string_equal(out, "[database]\ntype = sqlite\n[worker]\ntype_x = 1\n");
    /* A type key of another section is not touched. */
    assert_int_equal(
        config_set_database_text("[database]\n[x]\ntype = 1\n", DB_SQLITE, out, sizeof out), 0);
    assert_string_equal(out, "[database]\ntype = sqlite\n[x]\ntype = 1\n");
    assert_int_equal(config_set_database_text("[tenant]\n", DB_SQLITE, out, 8), -ENOSPC);
}

/* [database] read_only, set for a migration's copy and removed after it. */
static void test_set_read_only_text(void **state)
{
    char out[512], out2[512];
    assert_int_equal(config_set_read_only_text("[tenant]\nname = A\n", true, out, sizeof out), 0);
    assert_string_equal(out, "[tenant]\nname = A\n\n[database]\nread_only = true\n");
    /* Added beside type, then removed: the file is as before. */
    const char *old = "[tenant]\n[database]\ntype = sqlite\n[worker]\nread_only = 1\n";
    assert_int_equal(config_set_read_only_text(old, true, out, sizeof out), 0);
    assert_string_equal(
        out, "[tenant]\n[database]\nread_only = true\ntype = sqlite\n[worker]\nread_only = 1\n");
    assert_int_equal(config_set_read_only_text(out, true, out2, sizeof out2), 0);
    assert_string_equal(out2, out); /* set in place, not twice */
    assert_int_equal(config_set_read_only_text(out, false, out2, sizeof out2), 0);
    assert_string_equal(out2, old);
    /* Off where it is not set: nothing changes. */
    assert_int_equal(config_set_read_only_text(old, false, out, sizeof out), 0);
    assert_string_equal(out, old);
    assert_int_equal(config_set_read_only_text("[tenant]\n", true, out, 8), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),           cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_tenant_names),      cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_set_database_text), cmocka_unit_test(test_set_read_only_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
