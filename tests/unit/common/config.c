/*
 * common/config.c (unit) — unit tests of common/config.h: every error kind with its
 * exact message, hostile values, defaults, the demo files of the repository,
 * cross-tenant clashes, size and duration parsing, the worker environment.
 *
 * Runs from the repository root (like `make unit`): the demo files and the
 * fixtures under tests/unit/fixtures/config/ are opened by relative path.
 * Not covered here: anything that applies a config (supervisor tests do).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define FIX "tests/unit/fixtures/config"
#define TPATH "tenants.d/t.ini"

static const char *const plans_text = "[starter]\n"
                                      "label = Starter\n"
                                      "price_cents = 9900\n"
                                      "max_users = 3\n"
                                      "max_cases = 500\n"
                                      "max_analysis_monthly = 100\n"
                                      "ai_model = ceseda-basic-v1\n"
                                      "advanced_features = false\n"
                                      "overage_cents = 0\n"
                                      "memory = 128M\n"
                                      "pids = 32\n"
                                      "cpu_weight = 50\n"
                                      "log_budget = 16M\n"
                                      "\n"
                                      "[professional]\n"
                                      "label = Professional\n"
                                      "price_cents = 29900\n"
                                      "max_users = 10\n"
                                      "max_cases = 2000\n"
                                      "max_analysis_monthly = 500\n"
                                      "ai_model = ceseda-pro-v1\n"
                                      "advanced_features = true\n"
                                      "overage_cents = 50\n"
                                      "memory = 256M\n"
                                      "pids = 64\n"
                                      "cpu_weight = 100\n"
                                      "log_budget = 64M\n";

/* The global file and plans every tenant test parses against. */
static struct config_global G;
static struct config_plans P;

static int setup(void **state)
{
    struct config_diag d = {0};
    const char *g = "[tenantd]\nport_range = 5001-5999\n";

    assert_int_equal(config_parse_global("/srv/tenantd/tenantd.ini", g, strlen(g), &G, &d), 0);
    assert_int_equal(config_parse_plans(&G, "plans.ini", plans_text, strlen(plans_text), &P, &d),
                     0);
    assert_int_equal(d.n, 0);
    return 0;
}

/* Parse `text` as tenant `id`; return the result and the joined messages. */
static int parse(const char *id, const char *text, struct config_tenant *t, char **msgs)
{
    struct config_diag d = {0};
    int r = config_parse_tenant(&G, &P, id, TPATH, text, strlen(text), t, &d);

    *msgs = config_diag_join(&d);
    config_diag_clear(&d);
    return r;
}

/* Assert that `text` is rejected with exactly the message(s) `want`. */
static void expect_error(const char *id, const char *text, const char *want)
{
    struct config_tenant t;
    char *msgs;
    int r = parse(id, text, &t, &msgs);

    if (strcmp(msgs, want) != 0)
        print_error("input:\n%s\nwant:\n%s\ngot:\n%s\n", text, want, msgs);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(msgs, want);
    free(msgs);
}

#define HEAD "[tenant]\nname = Cabinet Test\nplan = starter\n"
#define WORKER "[worker]\nport = 5001\n"

/* ---- one test per error kind, exact text ---------------------------------------- */

struct error_case {
    const char *what, *id, *text, *want;
};

static const struct error_case error_cases[] = {
    {"unknown section", "t", HEAD "[wat]\nx = 1\n" WORKER, TPATH ":4: [wat]: unknown section"},
    {"odd unknown section", "t", HEAD "[a b]\n" WORKER, TPATH ":4: [\"a b\"]: unknown section"},
    {"unknown key", "t", HEAD "colour = red\n" WORKER, TPATH ":4: [tenant] colour: unknown key"},
    {"unknown key in known section", "t", HEAD WORKER "threads = 4\n",
     TPATH ":6: [worker] threads: unknown key"},
    {"duplicate key", "t", HEAD "plan = professional\n" WORKER,
     TPATH ":4: [tenant] plan: duplicate key (first set on line 3)"},
    {"missing name", "t", "[tenant]\nplan = starter\n" WORKER,
     TPATH ": [tenant] name: required key is missing"},
    {"missing plan and port", "t", "[tenant]\nname = X\n",
     TPATH ": [tenant] plan: required key is missing\n" TPATH
           ": [worker] port: required key is missing"},
    {"empty file", "t", "",
     TPATH ": [tenant] name: required key is missing\n" TPATH
           ": [tenant] plan: required key is missing\n" TPATH
           ": [worker] port: required key is missing"},
    {"not an integer", "t", HEAD "[worker]\nport = 50o1\n",
     TPATH ":5: [worker] port: \"50o1\" is not an integer"},
    {"negative", "t", HEAD "[limits]\nmax_users = -3\n" WORKER,
     TPATH ":5: [limits] max_users: \"-3\" is out of range (1..100000)"},
    {"port out of range", "t", HEAD "[worker]\nport = 99999\n",
     TPATH ":5: [worker] port: \"99999\" is out of range (1..65535)"},
    {"port outside port_range", "t", HEAD "[worker]\nport = 6000\n",
     TPATH ":5: [worker] port: 6000 is outside port_range (5001-5999)"},
    {"memory out of range", "t", HEAD "[limits]\nmemory = 99999T\n" WORKER,
     TPATH ":5: [limits] memory: \"99999T\" is out of range (1M..64G)"},
    {"memory too small", "t", HEAD "[limits]\nmemory = 512K\n" WORKER,
     TPATH ":5: [limits] memory: \"512K\" is out of range (1M..64G)"},
    {"memory overflow", "t", HEAD "[limits]\nmemory = 99999999999999999999\n" WORKER,
     TPATH ":5: [limits] memory: \"99999999999999999999\" is out of range (1M..64G)"},
    {"not a size", "t", HEAD "[limits]\nmemory = 256MB\n" WORKER,
     TPATH ":5: [limits] memory: \"256MB\" is not a size (like 512K, 256M, 1G)"},
    {"not in enum", "t", HEAD "status = paused\n" WORKER,
     TPATH ":4: [tenant] status: \"paused\" is not one of active, suspended, cancelled"},
    {"socket enum", "t", HEAD WORKER "socket = fd\n",
     TPATH ":6: [worker] socket: \"fd\" is not one of passed, own"},
    {"network enum", "t", HEAD WORKER "network = bridge\n",
     TPATH ":6: [worker] network: \"bridge\" is not one of none, local, outbound, host"},
    {"password cost", "t", HEAD WORKER "password_cost = fast\n",
     TPATH ":6: [worker] password_cost: \"fast\" is not one of interactive, moderate, min"},
    {"not a boolean", "t", HEAD WORKER "seccomp = maybe\n",
     TPATH ":6: [worker] seccomp: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)"},
    {"threshold text", "t", HEAD WORKER "prediction_threshold = 0,87\n",
     TPATH ":6: [worker] prediction_threshold: \"0,87\" is not a decimal number (like 0.87)"},
    {"threshold exponent", "t", HEAD WORKER "prediction_threshold = 1e-1\n",
     TPATH ":6: [worker] prediction_threshold: \"1e-1\" is not a decimal number (like 0.87)"},
    {"threshold range", "t", HEAD WORKER "prediction_threshold = 1.5\n",
     TPATH ":6: [worker] prediction_threshold: \"1.5\" is out of range (0..1)"},
    {"empty value", "t", "[tenant]\nname =\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: value is empty"},
    {"empty subdomain", "t", HEAD "subdomain =\n" WORKER,
     TPATH ":4: [tenant] subdomain: value is empty"},
    {"plan not in plans.ini", "t", "[tenant]\nname = X\nplan = gold\n" WORKER,
     TPATH ":3: [tenant] plan: \"gold\" is not a plan of plans.ini (starter, professional)"},
    {"reserved subdomain", "t", HEAD "subdomain = www\n" WORKER,
     TPATH ":4: [tenant] subdomain: \"www\" is reserved"},
    {"over-long line", "t",
     HEAD "address = "
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n" WORKER,
     TPATH ":4: line is 222 bytes long (at most 199)"},
    {"line of 199 bytes is fine but the text is too long", "t",
     "[tenant]\nname = "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxx\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" "
           "is too long (at most 191 bytes)"},
    /* inih reads the 200th byte on as a new line: here a section header. */
    {"over-long line hiding a section", "t",
     HEAD "[firm]\naddress = "
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx[worker]\nport = 9\n" WORKER,
     TPATH ":5: line is 207 bytes long (at most 199)"},
    {"line of 200 bytes", "t",
     "[tenant]\nname = "
     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\nplan = starter\n" WORKER,
     TPATH ":2: line is 200 bytes long (at most 199)\n" TPATH
           ": [tenant] name: required key is missing"},
    {"indented line", "t", HEAD "  subdomain = other\n" WORKER,
     TPATH ":4: indented line (continuation lines are not supported)"},
    {"continuation of a value", "t", "[tenant]\nname = Cabinet\n\tTest\nplan = starter\n" WORKER,
     TPATH ":3: indented line (continuation lines are not supported)"},
    {"broken section header", "t", HEAD "[firm\ncolor = #ffffff\n" WORKER,
     TPATH ":4: broken section header (no closing \"]\")"},
    {"text after a section header", "t", HEAD "[firm] extra\n" WORKER,
     TPATH ":4: unexpected text after the section header"},
    {"no equals sign", "t", HEAD "subdomain\n" WORKER,
     TPATH ":4: syntax error (expected \"key = value\")"},
    {"key outside a section", "t", "name = X\n" HEAD WORKER,
     TPATH ":1: key outside of any section"},
    {"control character", "t",
     "[tenant]\nname = A\x01"
     "B\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"A\\x01B\" contains a control character"},
    {"carriage return inside a value", "t", "[tenant]\nname = A\rB\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"A\\x0dB\" contains a control character"},
    {"invalid UTF-8", "t", "[tenant]\nname = Caf\xc3\x28\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"Caf\\xc3(\" is not valid UTF-8 text"},
    {"overlong UTF-8", "t", "[tenant]\nname = \xc0\xaf\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"\\xc0\\xaf\" is not valid UTF-8 text"},
    {"C1 control in text", "t",
     "[tenant]\nname = A\xc2\x85"
     "B\nplan = starter\n" WORKER,
     TPATH ":2: [tenant] name: \"A\\xc2\\x85B\" contains a control character"},
    {"invalid id", "Dupont", HEAD WORKER,
     TPATH ": \"Dupont\" is not a valid tenant id (a lowercase letter, then up to 30 lowercase "
           "letters, digits or '-')"},
    {"reserved id", "admin", HEAD WORKER, TPATH ": \"admin\" is a reserved tenant id"},
    {"errors come in line order", "t",
     "[tenant]\nname = A\nplan = gold\n[firm]\ncolor = red\n[wat]\n[worker]\nport = x\n",
     TPATH ":3: [tenant] plan: \"gold\" is not a plan of plans.ini (starter, professional)\n" TPATH
           ":5: [firm] color: \"red\" is not a colour like #2c3e50\n" TPATH
           ":6: [wat]: unknown section\n" TPATH ":8: [worker] port: \"x\" is not an integer"},
};

/* NUL bytes need the length: this one case is parsed with an explicit size. */
static void test_nul_byte(void **state)
{
    static const char text[] = HEAD "subdomain = a\0b\n" WORKER;
    struct config_diag d = {0};
    struct config_tenant t;

    assert_int_equal(config_parse_tenant(&G, &P, "t", TPATH, text, sizeof(text) - 1, &t, &d),
                     -EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.lines[0], TPATH ":4: line contains a NUL byte");
    config_diag_clear(&d);
}

static void test_error_cases(void **state)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        print_message("  case: %s\n", c->what);
        expect_error(c->id, c->text, c->want);
    }
}

/* ---- hostile values --------------------------------------------------------------- */

struct hostile {
    const char *section, *key, *value;
};

static const struct hostile hostile[] = {
    {"tenant", "subdomain", "a;b"},
    {"tenant", "subdomain", "a{b"},
    {"tenant", "subdomain", "a}b"},
    {"tenant", "subdomain", "a'b"},
    {"tenant", "subdomain", "a\"b"},
    {"tenant", "subdomain", "a$b"},
    {"tenant", "subdomain", "a b"},
    {"tenant", "subdomain", "a\\b"},
    {"tenant", "subdomain", "a#b"},
    {"tenant", "subdomain", "a.b"},
    {"tenant", "subdomain", ".."},
    {"tenant", "subdomain", "Dupont"},
    {"tenant", "subdomain", "-dupont"},
    {"tenant", "subdomain", "dupont-"},
    {"tenant", "subdomain", "d\xc3\xbcpont"},
    {"tenant", "subdomain",
     "a\x0b"
     "b"},
    {"tenant", "subdomain", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"tenant", "instance", "x;rm -rf /"},
    {"tenant", "instance", "../x"},
    {"tenant", "instance", "X-prod"},
    {"tenant", "plan", "../starter"},
    {"tenant", "plan", "Starter"},
    {"firm", "logo", "/a;b.png"},
    {"firm", "logo", "/a{b}.png"},
    {"firm", "logo", "/../etc/passwd"},
    {"firm", "logo", "/static/../x"},
    {"firm", "logo", "/a b.png"},
    {"firm", "logo", "logo.png"},
    {"firm", "logo", "/a$b"},
    {"firm", "logo", "/a'b"},
    {"firm", "logo", "/a\"b"},
    {"firm", "logo", "/a#b"},
    {"firm", "logo", "/a?b=1"},
    {"firm", "logo", "/\xc3\xa9.png"},
    {"firm", "logo", "http://evil/x.png"},
    {"firm", "color", "red"},
    {"firm", "color", "#12345"},
    {"firm", "color", "#12345g"},
    {"firm", "color", "#123456;"},
    {"firm", "color", "#123456 }"},
    {"firm", "language", "de"},
    {"firm", "language", "FR"},
    {"firm", "timezone", "../etc/passwd"},
    {"firm", "timezone", "Europe/../x"},
    {"firm", "timezone", "Europe/Paris;"},
    {"firm", "timezone", "Europe Paris"},
    {"firm", "timezone", "/Europe/Paris"},
    {"firm", "timezone", "Europe/"},
    {"firm", "siret", "1234567890123"},
    {"firm", "siret", "1234567890123a"},
    {"firm", "email", "a b@c.fr"},
    {"firm", "email", "a@b"},
    {"firm", "email", "<a@b.fr>"},
    {"firm", "email", "a\"x@b.fr"},
    {"firm", "email", "a@b.fr;x"},
    {"firm", "email", "a@@b.fr"},
    {"firm", "email", "a..b@c.fr"},
    {"firm", "phone", "01 23; rm"},
    {"firm", "phone", "call me"},
    {"worker", "command", "/bin/sh -c 'x"}, /* an argv, but its quote is not closed */
    {"worker", "command", "/bin/sh -c x > y"},
    {"worker", "command", "bin/app"},
    {"worker", "command", "/a;b"},
    {"worker", "command", "/a$b"},
    {"worker", "command", "/a/../b"},
    {"worker", "command", "/a{b}"},
    {"worker", "command", "/a'b"},
    {"worker", "command", "/usr/bin/"},
    {"worker", "command", "/\xc3\xa9"},
    {"worker", "command", "/a|b"},
    {"worker", "command", "/a`b`"},
    {"worker", "ai_model", "Model X"},
    {"worker", "ai_model", "../m"},
};

static void test_hostile_values(void **state)
{
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        const struct hostile *h = &hostile[i];
        char text[1024], prefix[256];
        struct config_tenant t;
        char *msgs;
        int r, line;

        /* The hostile key goes on its own line, 2 past its section header. */
        if (strcmp(h->section, "tenant") == 0 && strcmp(h->key, "plan") == 0) {
            snprintf(text, sizeof(text), "[tenant]\nname = X\nplan = %s\n" WORKER, h->value);
            line = 3;
        } else if (strcmp(h->section, "worker") == 0) {
            snprintf(text, sizeof(text), HEAD "[worker]\nport = 5001\n%s = %s\n", h->key, h->value);
            line = 6;
        } else if (strcmp(h->section, "tenant") == 0) {
            snprintf(text, sizeof(text), HEAD "%s = %s\n" WORKER, h->key, h->value);
            line = 4;
        } else {
            snprintf(text, sizeof(text), HEAD "[%s]\n%s = %s\n" WORKER, h->section, h->key,
                     h->value);
            line = 5;
        }
        snprintf(prefix, sizeof(prefix), TPATH ":%d: [%s] %s: \"", line, h->section, h->key);
        r = parse("t", text, &t, &msgs);
        if (r != -EINVAL || strncmp(msgs, prefix, strlen(prefix)) != 0)
            print_error("hostile [%s] %s = %s: got r=%d\n%s\n", h->section, h->key, h->value, r,
                        msgs);
        assert_int_equal(r, -EINVAL);
        assert_true(strncmp(msgs, prefix, strlen(prefix)) == 0);
        /* One line, printable: the hostile bytes are escaped in the message. */
        for (const unsigned char *p = (const unsigned char *)msgs; *p; p++)
            assert_true(*p >= 0x20 && *p != 0x7f);
        assert_true(strstr(msgs, " is not ") != NULL || strstr(msgs, "control character") ||
                    strstr(msgs, "too long") || strstr(msgs, "quote"));
        free(msgs);
    }
}

static void test_hostile_ids(void **state)
{
    static const char *const bad[] = {"Dupont",
                                      "du pont",
                                      "a;b",
                                      "1abc",
                                      "-a",
                                      "a_b",
                                      "\xc3\xa9",
                                      "a{b}",
                                      "a$b",
                                      "a/b",
                                      "..",
                                      "a.b",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 32 */
                                      "",
                                      "a\nb",
                                      "a'b",
                                      "a\"b"};
    static const char *const reserved[] = {"admin",     "www",     "api",    "mail",   "ftp",
                                           "root",      "tenantd", "nginx",  "static", "default",
                                           "localhost", "status",  "metrics"};
    static const char *const good[] = {"a",  "dupont", "cabinet-2",
                                       "a-", "a--b",   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 31 */};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config_tenant t;
        char *msgs;
        assert_false(config_valid_id(bad[i]));
        assert_int_equal(parse(bad[i], HEAD WORKER, &t, &msgs), -EINVAL);
        assert_non_null(strstr(msgs, "is not a valid tenant id"));
        assert_null(strchr(msgs, '\n'));
        free(msgs);
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        assert_true(config_reserved_id(reserved[i]));
        assert_false(config_valid_id(reserved[i]));
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(config_valid_id(good[i]));
    assert_false(config_valid_subdomain("a-"));
    assert_true(config_valid_subdomain("0day"));
    assert_false(config_valid_subdomain(""));
}

/* ---- good files --------------------------------------------------------------------- */

static const char *const dupont_text =
    "[tenant]\n"
    "name = Cabinet Dupont & Associés   ; required\n"
    "plan = professional                ; required, a section of plans.ini\n"
    "subdomain = dupont                 ; default: the id\n"
    "status = active                    ; active | suspended | cancelled\n"
    "instance = dupont-prod\n"
    "\n"
    "[firm]                             ; branding and identity, passed to the worker\n"
    "siret = 12345678901234\n"
    "address = 123 Rue de la Justice, 75001 Paris\n"
    "phone = 01.23.45.67.89\n"
    "email = contact@cabinet-dupont.fr\n"
    "logo = /static/logo-dupont.png\n"
    "color = #2c3e50\n"
    "language = fr\n"
    "timezone = Europe/Paris\n"
    "\n"
    "[limits]                           ; optional overrides of the plan\n"
    "max_users = 12\n"
    "max_cases = 5000\n"
    "max_analysis_monthly = 1000\n"
    "memory = 256M\n"
    "pids = 64\n"
    "cpu_weight = 100\n"
    "\n"
    "[worker]\n"
    "port = 5001                        ; assigned once at onboarding, then stable\n"
    "command = /usr/local/bin/tenant-worker   ; default: the bundled worker\n"
    "socket = passed                    ; passed (fd 3, LISTEN_FDS) | own\n"
    "ai_model = ceseda-pro-v1\n"
    "prediction_threshold = 0.87\n"
    "advanced_features = true\n";

static void test_design_example(void **state)
{
    struct config_tenant t;
    char *msgs;

    assert_int_equal(parse("dupont", dupont_text, &t, &msgs), 0);
    assert_string_equal(msgs, "");
    free(msgs);
    assert_string_equal(t.id, "dupont");
    assert_string_equal(t.name, "Cabinet Dupont & Associés");
    assert_string_equal(t.plan, "professional");
    assert_string_equal(t.subdomain, "dupont");
    assert_int_equal(t.status, TENANT_ACTIVE);
    assert_string_equal(t.instance, "dupont-prod");
    assert_string_equal(t.siret, "12345678901234");
    assert_string_equal(t.address, "123 Rue de la Justice, 75001 Paris");
    assert_string_equal(t.phone, "01.23.45.67.89");
    assert_string_equal(t.email, "contact@cabinet-dupont.fr");
    assert_string_equal(t.logo, "/static/logo-dupont.png");
    assert_string_equal(t.color, "#2c3e50");
    assert_string_equal(t.language, "fr");
    assert_string_equal(t.timezone, "Europe/Paris");
    assert_int_equal(t.max_users, 12);
    assert_int_equal(t.max_cases, 5000);
    assert_int_equal(t.max_analysis_monthly, 1000);
    assert_int_equal(t.memory_bytes, 256 * 1024 * 1024);
    assert_int_equal(t.pids, 64);
    assert_int_equal(t.cpu_weight, 100);
    assert_int_equal(t.log_budget_bytes, 64 * 1024 * 1024); /* from the plan */
    assert_int_equal(t.port, 5001);
    assert_string_equal(t.command, "/usr/local/bin/tenant-worker");
    assert_int_equal(t.socket, WORKER_SOCKET_PASSED);
    assert_string_equal(t.ai_model, "ceseda-pro-v1");
    assert_true(t.prediction_threshold > 0.869 && t.prediction_threshold < 0.871);
    assert_string_equal(t.prediction_threshold_text, "0.87");
    assert_true(t.advanced_features);
    assert_int_equal(t.network, WORKER_NETWORK_LOCAL);
    assert_true(t.seccomp);
    assert_string_equal(t.password_cost, "interactive");
}

static void test_defaults(void **state)
{
    struct config_tenant t;
    char *msgs;

    assert_int_equal(parse("martin", HEAD WORKER, &t, &msgs), 0);
    free(msgs);
    assert_string_equal(t.subdomain, "martin");
    assert_string_equal(t.instance, "martin-prod");
    assert_int_equal(t.status, TENANT_ACTIVE);
    assert_string_equal(t.siret, "");
    assert_string_equal(t.logo, "");
    assert_string_equal(t.color, "#2c3e50");
    assert_string_equal(t.language, "fr");
    assert_string_equal(t.timezone, "Europe/Paris");
    /* Everything the plan decides comes from "starter". */
    assert_int_equal(t.max_users, 3);
    assert_int_equal(t.max_cases, 500);
    assert_int_equal(t.max_analysis_monthly, 100);
    assert_int_equal(t.memory_bytes, 128 * 1024 * 1024);
    assert_int_equal(t.pids, 32);
    assert_int_equal(t.cpu_weight, 50);
    assert_int_equal(t.log_budget_bytes, 16 * 1024 * 1024);
    assert_string_equal(t.ai_model, "ceseda-basic-v1");
    assert_false(t.advanced_features);
    assert_string_equal(t.command, "");
    assert_int_equal(t.socket, WORKER_SOCKET_PASSED);
    assert_string_equal(t.prediction_threshold_text, "0.87");
    assert_true(t.seccomp);
    assert_int_equal(t.network, WORKER_NETWORK_NONE);
    assert_string_equal(t.password_cost, "interactive");

    /* Another program runs with its own socket unless told otherwise. */
    assert_int_equal(parse("martin", HEAD WORKER "command = /opt/app/bin/server\n", &t, &msgs), 0);
    free(msgs);
    assert_int_equal(t.socket, WORKER_SOCKET_OWN);
    assert_int_equal(
        parse("martin", HEAD WORKER "command = /opt/app/bin/server\nsocket = passed\n", &t, &msgs),
        0);
    free(msgs);
    assert_int_equal(t.socket, WORKER_SOCKET_PASSED);
}

static void test_free_text_and_options(void **state)
{
    struct config_tenant t;
    char *msgs;
    const char *text = "\xef\xbb\xbf[tenant]\r\n"
                       "name = Cabinet d'Avocats Müller & Fils\r\n"
                       "plan = professional\r\n"
                       "status = suspended\r\n"
                       "# a comment; with = signs\r\n"
                       "[firm]\r\n"
                       "address = \"Quai\" {3}; $HOME <b>\r\n"
                       "email = jean.dupont+cabinet@mail.example.fr\r\n"
                       "phone = +33 (0)1 23-45-67-89\r\n"
                       "timezone = America/Argentina/Buenos_Aires\r\n"
                       "language = en\r\n"
                       "[worker]\r\n"
                       "port = 5999\r\n"
                       "network = none\r\n"
                       "seccomp = off\r\n"
                       "password_cost = min\r\n"
                       "prediction_threshold = 1\r\n"
                       "advanced_features = no\r\n"
                       "[limits]\r\n"
                       "log_budget = 1G\r\n";

    assert_int_equal(parse("mueller", text, &t, &msgs), 0);
    assert_string_equal(msgs, "");
    free(msgs);
    assert_string_equal(t.name, "Cabinet d'Avocats Müller & Fils");
    assert_int_equal(t.status, TENANT_SUSPENDED);
    assert_string_equal(t.address, "\"Quai\" {3}; $HOME <b>");
    assert_string_equal(t.timezone, "America/Argentina/Buenos_Aires");
    assert_int_equal(t.port, 5999);
    assert_int_equal(t.network, WORKER_NETWORK_NONE);
    assert_false(t.seccomp);
    assert_string_equal(t.password_cost, "min");
    assert_true(t.prediction_threshold == 1.0);
    assert_false(t.advanced_features);
    assert_int_equal(t.log_budget_bytes, 1024LL * 1024 * 1024);

    /* ';' right after a character is part of the value; after a space it starts an
     * inline comment, as in inih. */
    assert_int_equal(parse("ab", "[tenant]\nname = A; B {c}\nplan = starter\n" WORKER, &t, &msgs),
                     0);
    free(msgs);
    assert_string_equal(t.name, "A; B {c}");
    assert_int_equal(parse("ab", "[tenant]\nname = A ; B {c}\nplan = starter\n" WORKER, &t, &msgs),
                     0);
    free(msgs);
    assert_string_equal(t.name, "A");
}

/* ---- global file and plans ------------------------------------------------------------ */

static void test_empty_global(void **state)
{
    struct config_global g;
    struct config_diag d = {0};

    assert_int_equal(config_parse_global("/srv/td/tenantd.ini", "", 0, &g, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(g.path, "/srv/td/tenantd.ini");
    assert_string_equal(g.base_dir, "/srv/td");
    assert_string_equal(g.tenants_dir, "/srv/td/tenants.d");
    assert_string_equal(g.plans, "/srv/td/plans.ini");
    assert_string_equal(g.data_dir, "/srv/td/data/clients");
    assert_string_equal(g.log_dir, "/srv/td/logs");
    assert_string_equal(g.run_dir, "/srv/td/run");
    assert_string_equal(g.templates_dir, "/srv/td/templates");
    assert_string_equal(g.domain, "localhost");
    assert_int_equal(g.port_min, 5001);
    assert_int_equal(g.port_max, 5999);
    assert_int_equal(g.max_parallel_starts, 16);
    assert_string_equal(g.jail_path, "");
    assert_string_equal(g.worker_path, "");
    assert_string_equal(g.admin_host, "127.0.0.1");
    assert_int_equal(g.admin_port, 7070);
    assert_false(g.admin_allow_remote);
    assert_string_equal(g.admin_socket, "/srv/td/run/admin.sock");
    assert_int_equal(g.proxy_mode, PROXY_MANAGED);
    assert_string_equal(g.proxy_host, "127.0.0.1");
    assert_int_equal(g.proxy_port, 8080);
    assert_string_equal(g.proxy_templates, "/srv/td/templates/nginx");
    assert_string_equal(g.proxy_nginx, "nginx");
    assert_string_equal(g.tls_cert, "");
    assert_int_equal(g.tls_port, 8443);
    assert_int_equal(g.backup_every_ms, 24LL * 3600 * 1000);
    assert_int_equal(g.backup_keep, 7);
    assert_int_equal(g.backoff_min_ms, 200);
    assert_int_equal(g.backoff_max_ms, 30000);
    assert_int_equal(g.stable_after_ms, 60000);
    assert_int_equal(g.start_limit, 10);
    assert_int_equal(g.failed_cooldown_ms, 3600000);
    assert_int_equal(g.stop_grace_ms, 10000);
    assert_int_equal(g.ready_timeout_ms, 30000);
    assert_int_equal(g.health_interval_ms, 8000);
    assert_int_equal(g.health_timeout_ms, 2000);
    assert_int_equal(g.health_failures, 3);
    assert_int_equal(g.reload_debounce_ms, 200);
    assert_int_equal(g.log_line_max, 4096);
    assert_int_equal(g.log_rate_lines, 1000);
    assert_int_equal(g.log_rotate_bytes, 0);
}

/* What tests/integration/conftest.py writes. */
static void test_harness_global(void **state)
{
    const char *text = "[tenantd]\nmax_parallel_starts = 16\nport_range = 40000-40039\n"
                       "templates = /opt/src/templates\n\n"
                       "[admin]\nlisten = 127.0.0.1:40040\n\n"
                       "[proxy]\nmode = off\nlisten = 127.0.0.1:40041\n"
                       "templates = /opt/src/templates/nginx\n\n"
                       "[backup]\nevery = 0\n\n"
                       "[supervise]\nbackoff_min = 100ms\nbackoff_max = 800ms\nstable_after = 3s\n"
                       "start_limit = 5\nstop_grace = 2s\nready_timeout = 10s\n"
                       "health_interval = 500ms\nhealth_timeout = 500ms\nhealth_failures = 3\n"
                       "reload_debounce = 100ms\nfailed_cooldown = 0\n\n"
                       "[logs]\nline_max = 1024\nrate_lines = 50\nrotate_size = 1M\n";
    struct config_global g;
    struct config_diag d = {0};

    assert_int_equal(config_parse_global("/tmp/root/tenantd.ini", text, strlen(text), &g, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(g.templates_dir, "/opt/src/templates");
    assert_string_equal(g.proxy_templates, "/opt/src/templates/nginx");
    assert_int_equal(g.port_min, 40000);
    assert_int_equal(g.port_max, 40039);
    assert_int_equal(g.admin_port, 40040);
    assert_int_equal(g.proxy_mode, PROXY_OFF);
    assert_int_equal(g.proxy_port, 40041);
    assert_int_equal(g.tls_port, 443);
    assert_int_equal(g.backup_every_ms, 0);
    assert_int_equal(g.backoff_min_ms, 100);
    assert_int_equal(g.backoff_max_ms, 800);
    assert_int_equal(g.stable_after_ms, 3000);
    assert_int_equal(g.start_limit, 5);
    assert_int_equal(g.stop_grace_ms, 2000);
    assert_int_equal(g.ready_timeout_ms, 10000);
    assert_int_equal(g.health_interval_ms, 500);
    assert_int_equal(g.health_timeout_ms, 500);
    assert_int_equal(g.reload_debounce_ms, 100);
    assert_int_equal(g.failed_cooldown_ms, 0);
    assert_int_equal(g.log_line_max, 1024);
    assert_int_equal(g.log_rate_lines, 50);
    assert_int_equal(g.log_rotate_bytes, 1024 * 1024);
    assert_string_equal(g.admin_socket, "/tmp/root/run/admin.sock");
}

static void test_global_values(void **state)
{
    const char *text = "[tenantd]\nrun_dir = /var/run/td/\ndata_dir = ./data\n"
                       "jail = bin/tenant-jail\ndomain = clients.example.fr\n"
                       "[admin]\nlisten = off\nsocket = ctl.sock\n"
                       "[proxy]\nmode = external\nlisten = [::1]:80\nnginx = /usr/sbin/nginx\n"
                       "test_command = nginx -t -q\nreload_command = systemctl reload nginx\n"
                       "output = /etc/nginx/conf.d/tenants.conf\n"
                       "tls_cert = certs/c.pem\ntls_key = certs/k.pem\n";
    struct config_global g;
    struct config_diag d = {0};

    assert_int_equal(config_parse_global("/srv/td/tenantd.ini", text, strlen(text), &g, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(g.run_dir, "/var/run/td/");
    assert_string_equal(g.data_dir, "/srv/td/data");
    assert_string_equal(g.jail_path, "/srv/td/bin/tenant-jail");
    assert_string_equal(g.domain, "clients.example.fr");
    assert_string_equal(g.admin_host, "");
    assert_int_equal(g.admin_port, 0);
    assert_string_equal(g.admin_socket, "/srv/td/ctl.sock");
    assert_int_equal(g.proxy_mode, PROXY_EXTERNAL);
    assert_string_equal(g.proxy_host, "::1");
    assert_int_equal(g.proxy_port, 80);
    assert_string_equal(g.proxy_nginx, "/usr/sbin/nginx");
    assert_string_equal(g.proxy_test_cmd, "nginx -t -q");
    assert_string_equal(g.proxy_reload_cmd, "systemctl reload nginx");
    assert_string_equal(g.proxy_output, "/etc/nginx/conf.d/tenants.conf");
    assert_string_equal(g.tls_cert, "/srv/td/certs/c.pem");
    assert_string_equal(g.tls_key, "/srv/td/certs/k.pem");
    assert_int_equal(g.tls_port, 443);
}

struct global_case {
    const char *text, *want;
};

static const struct global_case global_cases[] = {
    {"[tenantd]\nport_range = 5999-5001\n",
     "tenantd.ini:2: [tenantd] port_range: \"5999-5001\" is out of range (low-high within "
     "1..65535)"},
    {"[tenantd]\nport_range = 5001\n",
     "tenantd.ini:2: [tenantd] port_range: \"5001\" is not a port range (like 5001-5999)"},
    {"[tenantd]\ndomain = Example.COM\n",
     "tenantd.ini:2: [tenantd] domain: \"Example.COM\" is not a valid domain (dot-separated "
     "labels of lowercase letters, digits and '-')"},
    {"[tenantd]\ndomain = a..b\n",
     "tenantd.ini:2: [tenantd] domain: \"a..b\" is not a valid domain (dot-separated labels of "
     "lowercase letters, digits and '-')"},
    {"[admin]\nlisten = 0.0.0.0:7070\n",
     "tenantd.ini:2: [admin] listen: \"0.0.0.0\" is not a loopback address (set allow_remote = "
     "true to listen on it)"},
    {"[admin]\nlisten = 127.0.0.1\n",
     "tenantd.ini:2: [admin] listen: \"127.0.0.1\" is not a listen address (like "
     "127.0.0.1:7070 or [::1]:7070, or off)"},
    {"[proxy]\nlisten = off\n",
     "tenantd.ini:2: [proxy] listen: \"off\" is not a listen address (like 127.0.0.1:7070 or "
     "[::1]:7070)"},
    {"[proxy]\nmode = sometimes\n",
     "tenantd.ini:2: [proxy] mode: \"sometimes\" is not one of managed, external, off"},
    {"[proxy]\nnginx = nginx -g x\n",
     "tenantd.ini:2: [proxy] nginx: \"nginx -g x\" is not a program name or path (letters, "
     "digits and ._/+-)"},
    {"[proxy]\ntls_cert = c.pem\n",
     "tenantd.ini: [proxy] tls_key: tls_cert and tls_key must be set together"},
    {"[acme]\nenabled = true\nemail = ops@example.org\n",
     "tenantd.ini:2: [acme] directory: is required when [acme] enabled = true"},
    {"[acme]\ndirectory = http://ca.example/dir\n",
     "tenantd.ini:2: [acme] directory: \"http://ca.example/dir\" is not an https:// URL"},
    {"[acme]\nchallenge = tls-alpn-01\n",
     "tenantd.ini:2: [acme] challenge: \"tls-alpn-01\" is not one of http-01, dns-01"},
    {"[acme]\nenabled = true\ndirectory = https://ca.example/dir\nemail = a@b.org\n"
     "challenge = dns-01\n",
     "tenantd.ini:5: [acme] dns_hook: is required with challenge = dns-01"},
    {"[acme]\nrenew_fraction = 2\n",
     "tenantd.ini:2: [acme] renew_fraction: \"2\" is out of range (0..1)"},
    {"[backup]\nevery = 5\n",
     "tenantd.ini:2: [backup] every: \"5\" is not a duration (like 100ms, 5s, 2m, 24h, 7d)"},
    {"[backup]\nevery = 31d\n", "tenantd.ini:2: [backup] every: \"31d\" is out of range (0..30d)"},
    {"[supervise]\nbackoff_min = 1m\nbackoff_max = 10s\n",
     "tenantd.ini:2: [supervise] backoff_min: is larger than backoff_max"},
    {"[supervise]\nhealth_failures = 0\n",
     "tenantd.ini:2: [supervise] health_failures: \"0\" is out of range (1..100)"},
    {"[supervise]\nready_timeout = 10ms\n",
     "tenantd.ini:2: [supervise] ready_timeout: \"10ms\" is out of range (100ms..1h)"},
    {"[logs]\nrotate_size = 65G\n",
     "tenantd.ini:2: [logs] rotate_size: \"65G\" is out of range (0..64G)"},
    {"[tenantd]\ncolour = blue\n[extra]\n",
     "tenantd.ini:2: [tenantd] colour: unknown key\ntenantd.ini:3: [extra]: unknown section"},
    {"[tenantd]\ndata_dir = a\x7f"
     "b\n",
     "tenantd.ini:2: [tenantd] data_dir: \"a\\x7fb\" contains a control character"},
};

static void test_global_errors(void **state)
{
    for (size_t i = 0; i < sizeof(global_cases) / sizeof(global_cases[0]); i++) {
        struct config_global g;
        struct config_diag d = {0};
        const char *text = global_cases[i].text;
        int r = config_parse_global("/srv/td/tenantd.ini", text, strlen(text), &g, &d);
        char *msgs = config_diag_join(&d);
        if (strcmp(msgs, global_cases[i].want) != 0)
            print_error("input:\n%s\nwant:\n%s\ngot:\n%s\n", text, global_cases[i].want, msgs);
        assert_int_equal(r, -EINVAL);
        assert_string_equal(msgs, global_cases[i].want);
        free(msgs);
        config_diag_clear(&d);
    }
}

static void test_plans_errors(void **state)
{
    static const struct global_case cases[] = {
        {"[gold]\nlabel = Gold\n",
         "plans.ini: [gold] price_cents: required key is missing\n"
         "plans.ini: [gold] max_users: required key is missing\n"
         "plans.ini: [gold] max_cases: required key is missing\n"
         "plans.ini: [gold] max_analysis_monthly: required key is missing\n"
         "plans.ini: [gold] ai_model: required key is missing\n"
         "plans.ini: [gold] advanced_features: required key is missing\n"
         "plans.ini: [gold] overage_cents: required key is missing\n"
         "plans.ini: [gold] memory: required key is missing\n"
         "plans.ini: [gold] pids: required key is missing\n"
         "plans.ini: [gold] cpu_weight: required key is missing\n"
         "plans.ini: [gold] log_budget: required key is missing"},
        {"[Gold Plan]\nlabel = x\n",
         "plans.ini:1: \"Gold Plan\" is not a valid plan name (a lowercase letter, then up to 30 "
         "lowercase letters, digits or '-')"},
        {"", "plans.ini: no plan is defined"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_plans p;
        struct config_diag d = {0};
        int r = config_parse_plans(&G, "plans.ini", cases[i].text, strlen(cases[i].text), &p, &d);
        char *msgs = config_diag_join(&d);
        if (strcmp(msgs, cases[i].want) != 0)
            print_error("want:\n%s\ngot:\n%s\n", cases[i].want, msgs);
        assert_int_equal(r, -EINVAL);
        assert_string_equal(msgs, cases[i].want);
        free(msgs);
        config_diag_clear(&d);
    }

    /* A plan defined twice, and one key out of range in an otherwise good file. */
    char *text = NULL;
    struct config_plans p;
    struct config_diag d = {0};
    assert_true(asprintf(&text, "%s\n%s", plans_text, "[starter]\nlabel = again\n") > 0);
    assert_int_equal(config_parse_plans(&G, "plans.ini", text, strlen(text), &p, &d), -EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.lines[0],
                        "plans.ini:29: [starter]: plan defined twice (first on line 1)");
    config_diag_clear(&d);
    free(text);
    assert_true(asprintf(&text, "%s", plans_text) > 0);
    memcpy(strstr(text, "pids = 32"), "pids = 02", 9);
    assert_int_equal(config_parse_plans(&G, "plans.ini", text, strlen(text), &p, &d), -EINVAL);
    assert_string_equal(d.lines[0],
                        "plans.ini:11: [starter] pids: \"02\" is out of range (4..65536)");
    config_diag_clear(&d);
    free(text);
}

static void test_plans_values(void **state)
{
    const struct config_plan *pl = config_plan_find(&P, "professional");

    assert_int_equal(P.n, 2);
    assert_non_null(pl);
    assert_string_equal(pl->label, "Professional");
    assert_int_equal(pl->price_cents, 29900);
    assert_int_equal(pl->max_users, 10);
    assert_string_equal(pl->ai_model, "ceseda-pro-v1");
    assert_true(pl->advanced_features);
    assert_int_equal(pl->overage_cents, 50);
    assert_int_equal(pl->memory_bytes, 256 * 1024 * 1024);
    assert_int_equal(pl->pids, 64);
    assert_int_equal(pl->cpu_weight, 100);
    assert_int_equal(pl->log_budget_bytes, 64 * 1024 * 1024);
    assert_null(config_plan_find(&P, "gold"));

    /* Without a label a plan is shown under its name. */
    const char *text = strstr(plans_text, "[professional]");
    struct config_plans p;
    struct config_diag d = {0};
    char *copy = strdup(text);
    char *label = strstr(copy, "label = Professional\n");
    memmove(label, label + 21, strlen(label + 21) + 1);
    assert_int_equal(config_parse_plans(&G, "plans.ini", copy, strlen(copy), &p, &d), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.plan[0].label, "professional");
    free(copy);
}

/* ---- whole configurations ------------------------------------------------------------- */

static void test_demo_config(void **state)
{
    struct config *c = NULL;
    struct config_diag d = {0};
    char *msgs;

    assert_int_equal(config_load("tenantd.ini", &c, &d), 0);
    msgs = config_diag_join(&d);
    assert_string_equal(msgs, "");
    free(msgs);
    assert_non_null(c);
    assert_int_equal(c->plans.n, 3);
    assert_int_equal(c->n_tenants, 3);
    assert_string_equal(c->tenants[0].id, "bernard");
    assert_string_equal(c->tenants[1].id, "dupont");
    assert_string_equal(c->tenants[2].id, "martin");
    for (size_t i = 0; i < c->n_tenants; i++) {
        assert_true(c->tenants[i].valid);
        assert_null(c->tenants[i].error);
        /* The file it came from, named again from tenants_dir and the id. */
        char file[CONFIG_TENANT_FILE_MAX];
        assert_int_equal(config_tenant_file(&c->g, c->tenants[i].id, file, sizeof file), 0);
        assert_true(file[0] == '/');
        assert_int_equal(access(file, R_OK), 0);
    }
    const struct config_tenant_entry *e = config_find_tenant(c, "dupont");
    assert_non_null(e);
    assert_int_equal(e->t.port, 5001);
    assert_string_equal(e->t.name, "Cabinet Dupont & Associés");
    assert_string_equal(e->t.ai_model, "ceseda-pro-v1");
    assert_null(config_find_tenant(c, "nobody"));
    assert_true(c->g.path[0] == '/');
    assert_int_equal(c->g.admin_port, 7070);
    config_free(c);
    config_diag_clear(&d);
}

static void test_clashes(void **state)
{
    struct config *c = NULL;
    struct config_diag d = {0};
    /* ca: a's port (b, which also wanted it, is invalid); cb: the subdomain
     * of b, which is free because b is invalid. */
    static const char *const ids[] = {"Bad", "a", "a-b", "b", "c", "ca", "cb", "d", "out"};
    static const bool valid[] = {false, true, true, false, false, false, true, true, false};

    assert_int_equal(config_load(FIX "/clash/tenantd.ini", &c, &d), 0);
    assert_int_equal(c->n_tenants, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(c->tenants[i].id, ids[i]);
        assert_int_equal(c->tenants[i].valid, valid[i]);
        assert_true(valid[i] == (c->tenants[i].error == NULL));
    }
    assert_string_equal(c->tenants[0].error,
                        "tenants.d/Bad.ini: \"Bad\" is not a valid tenant id (a lowercase "
                        "letter, then up to 30 lowercase letters, digits or '-')");
    assert_string_equal(c->tenants[3].error,
                        "tenants.d/b.ini: [worker] port: 5001 is already used by tenant \"a\"");
    assert_string_equal(c->tenants[4].error, "tenants.d/c.ini: [tenant] subdomain: \"a\" is "
                                             "already used by tenant \"a\"");
    assert_string_equal(c->tenants[5].error,
                        "tenants.d/ca.ini: [worker] port: 5001 is already used by tenant \"a\"");
    assert_string_equal(c->tenants[8].error,
                        "tenants.d/out.ini:6: [worker] port: 5011 is outside port_range "
                        "(5001-5010)");
    assert_int_equal(d.n, 5);
    config_free(c);
    config_diag_clear(&d);
}

static void test_load_failures(void **state)
{
    struct config *c = (struct config *)1;
    struct config_diag d = {0};
    char *msgs;

    assert_int_equal(config_load(FIX "/nonexistent.ini", &c, &d), -EINVAL);
    assert_null(c);
    assert_string_equal(d.lines[0], FIX "/nonexistent.ini: cannot read: No such file or directory");
    config_diag_clear(&d);

    assert_int_equal(config_load(FIX "/badglobal/tenantd.ini", &c, &d), -EINVAL);
    assert_null(c);
    msgs = config_diag_join(&d);
    assert_string_equal(msgs,
                        "tenantd.ini:2: [tenantd] port_range: \"5999-5001\" is out of range "
                        "(low-high within 1..65535)\n"
                        "tenantd.ini:3: [tenantd] colour: unknown key\n"
                        "tenantd.ini:6: [admin] listen: \"0.0.0.0\" is not a loopback address "
                        "(set allow_remote = true to listen on it)\n"
                        "tenantd.ini:9: [proxy] mode: \"sometimes\" is not one of managed, "
                        "external, off");
    free(msgs);
    config_diag_clear(&d);

    /* The global file is fine but has no plans.ini beside it. */
    struct config_global g;
    struct config_plans p;
    assert_int_equal(config_load_global(FIX "/badglobal/../clash/tenantd.ini", &g, &d), 0);
    *strrchr(g.plans, '/') = '\0';
    strcat(g.plans, "/missing-plans.ini");
    assert_int_equal(config_load_plans(&g, &p, &d), -EINVAL);
    assert_string_equal(d.lines[0], "missing-plans.ini: cannot read: No such file or directory");
    config_diag_clear(&d);
}

static void test_load_tenant_file(void **state)
{
    struct config_global g;
    struct config_plans p;
    struct config_tenant t;
    struct config_diag d = {0};

    assert_int_equal(config_load_global(FIX "/clash/tenantd.ini", &g, &d), 0);
    assert_int_equal(config_load_plans(&g, &p, &d), 0);
    assert_int_equal(config_load_tenant(&g, &p, FIX "/clash/tenants.d/d.ini", &t, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(t.id, "d");
    char file[CONFIG_TENANT_FILE_MAX];
    assert_int_equal(config_tenant_file(&g, "d", file, sizeof file), 0);
    assert_true(file[0] == '/');
    assert_non_null(strstr(file, "/clash/tenants.d/d.ini"));
    /* Too small a buffer is an error, never a cut path. */
    assert_int_equal(config_tenant_file(&g, "d", file, strlen(file)), -ENAMETOOLONG);
    assert_int_equal(config_load_tenant(&g, &p, FIX "/clash/tenants.d/zz.ini", &t, &d), -EINVAL);
    assert_string_equal(d.lines[0], "tenants.d/zz.ini: cannot read: No such file or directory");
    config_diag_clear(&d);
}

/* A file name with a newline in it still gives one-line messages. */
static void test_hostile_file_name(void **state)
{
    char root[] = "/tmp/common_config.XXXXXX", path[256];
    struct config *c = NULL;
    struct config_diag d = {0};

    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof(path), "%s/tenants.d", root);
    assert_int_equal(util_mkdir_p(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/tenantd.ini", root);
    assert_int_equal(util_write_file_atomic(path, "", 0, 0600), 0);
    snprintf(path, sizeof(path), "%s/plans.ini", root);
    assert_int_equal(util_write_file_atomic(path, plans_text, strlen(plans_text), 0600), 0);
    snprintf(path, sizeof(path), "%s/tenants.d/a\nb.ini", root);
    assert_int_equal(util_write_file_atomic(path, HEAD WORKER, strlen(HEAD WORKER), 0600), 0);

    snprintf(path, sizeof(path), "%s/tenantd.ini", root);
    assert_int_equal(config_load(path, &c, &d), 0);
    assert_int_equal(c->n_tenants, 1);
    assert_false(c->tenants[0].valid);
    assert_string_equal(c->tenants[0].error,
                        "tenants.d/a\\x0ab.ini: \"a\\x0ab\" is not a valid tenant id (a "
                        "lowercase letter, then up to 30 lowercase letters, digits or '-')");
    assert_int_equal(d.n, 1);
    config_free(c);
    config_diag_clear(&d);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- equality, paths, environment -------------------------------------------------------- */

static void test_equal(void **state)
{
    struct config_tenant a, b;
    char *msgs;

    assert_int_equal(parse("dupont", dupont_text, &a, &msgs), 0);
    free(msgs);
    assert_int_equal(parse("dupont", dupont_text, &b, &msgs), 0);
    free(msgs);
    assert_true(config_tenant_equal(&a, &b));
    b.pids = 65;
    assert_false(config_tenant_equal(&a, &b));
    b = a;
    snprintf(b.name, sizeof(b.name), "Cabinet Dupont");
    assert_false(config_tenant_equal(&a, &b));
    b = a;
    b.seccomp = false;
    assert_false(config_tenant_equal(&a, &b));
    b = a;
    snprintf(b.password_cost, sizeof(b.password_cost), "min");
    assert_false(config_tenant_equal(&a, &b));
}

static void test_paths(void **state)
{
    char buf[64];

    assert_int_equal(config_tenant_data_dir(&G, "dupont", buf, sizeof(buf)),
                     (int)strlen("/srv/tenantd/data/clients/dupont"));
    assert_string_equal(buf, "/srv/tenantd/data/clients/dupont");
    config_tenant_log_path(&G, "dupont", buf, sizeof(buf));
    assert_string_equal(buf, "/srv/tenantd/logs/dupont.log");
}

static void test_worker_env(void **state)
{
    static const char *const want[] = {
        "CLIENT_ID=dupont",
        "CLIENT_NAME=Cabinet Dupont & Associés",
        "INSTANCE_NAME=dupont-prod",
        "CLIENT_SIRET=12345678901234",
        "CLIENT_ADDRESS=123 Rue de la Justice, 75001 Paris",
        "CLIENT_PHONE=01.23.45.67.89",
        "CLIENT_EMAIL=contact@cabinet-dupont.fr",
        "CLIENT_LOGO=/static/logo-dupont.png",
        "CLIENT_COLOR=#2c3e50",
        "SUBSCRIPTION_PLAN=professional",
        "MAX_USERS=12",
        "MAX_CASES=5000",
        "MAX_ANALYSIS_MONTHLY=1000",
        "AI_MODEL=ceseda-pro-v1",
        "PREDICTION_THRESHOLD=0.87",
        "ADVANCED_FEATURES=true",
        "DATA_DIR=/srv/tenantd/data/clients/dupont",
        "PORT=5001",
        "SECRET_KEY=s3cr3t",
        "DATABASE_TYPE=sqlite",
        "TEMPLATES_DIR=/srv/tenantd/templates/worker",
        "LANGUAGE=fr",
        "TIMEZONE=Europe/Paris",
        "PASSWORD_COST=interactive",
        "PLAN_LABEL=Professional",
        "PLAN_PRICE_CENTS=29900",
        "PLAN_OVERAGE_CENTS=50",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG=C.UTF-8",
        "TZ=Europe/Paris",
    };
    struct config_tenant t;
    char *msgs, **env;
    size_t n = 0;

    assert_int_equal(parse("dupont", dupont_text, &t, &msgs), 0);
    free(msgs);
    env = config_worker_env(&G, &P, &t, "s3cr3t");
    assert_non_null(env);
    for (; env[n] != NULL; n++) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_string_equal(env[n], want[n]);
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    free(env); /* one allocation: ASan would report anything else as a leak */

    env = config_worker_env(&G, &P, &t, NULL);
    for (n = 0; env[n] != NULL; n++)
        assert_true(strncmp(env[n], "SECRET_KEY=", 11) != 0);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]) - 1);
    free(env);
}

/* ---- sizes and durations ------------------------------------------------------------------ */

static void test_sizes(void **state)
{
    static const struct {
        const char *s;
        int r;
        int64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"1048576", 0, 1048576},
        {"1K", 0, 1024},
        {"512k", 0, 512 * 1024},
        {"256M", 0, 256LL << 20},
        {"1G", 0, 1LL << 30},
        {"64G", 0, 64LL << 30},
        {"2T", 0, 2LL << 40},
        {"8388607T", 0, 8388607LL << 40},
        {"8388608T", -ERANGE, 0},
        {"9223372036854775807", 0, INT64_MAX},
        {"9223372036854775808", -ERANGE, 0},
        {"99999999999999999999", -ERANGE, 0},
        {"", -EINVAL, 0},
        {"K", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"1.5G", -EINVAL, 0},
        {"1KB", -EINVAL, 0},
        {"1 K", -EINVAL, 0},
        {" 1K", -EINVAL, 0},
        {"1P", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -7;
        int r = config_parse_size(cases[i].s, &v);
        if (r != cases[i].r)
            print_error("size \"%s\": got %d\n", cases[i].s, r);
        assert_int_equal(r, cases[i].r);
        if (r == 0)
            assert_int_equal(v, cases[i].v);
    }
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        int r;
        int64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"0s", 0, 0},
        {"100ms", 0, 100},
        {"5s", 0, 5000},
        {"2m", 0, 120000},
        {"24h", 0, 86400000},
        {"7d", 0, 604800000},
        {"9223372036854775807ms", 0, INT64_MAX},
        {"106751991167d", 0, 106751991167LL * 86400000},
        {"106751991168d", -ERANGE, 0},
        {"5", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"s", -EINVAL, 0},
        {"1h30m", -EINVAL, 0},
        {"5S", -EINVAL, 0},
        {"1.5s", -EINVAL, 0},
        {"-5s", -EINVAL, 0},
        {"5 s", -EINVAL, 0},
        {"5us", -EINVAL, 0},
        {"1w", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -7;
        int r = config_parse_duration(cases[i].s, &v);
        if (r != cases[i].r)
            print_error("duration \"%s\": got %d\n", cases[i].s, r);
        assert_int_equal(r, cases[i].r);
        if (r == 0)
            assert_int_equal(v, cases[i].v);
    }
}

static void test_diag(void **state)
{
    struct config_diag d = {0};
    char *s = config_diag_join(&d);

    assert_string_equal(s, "");
    free(s);
    for (int i = 0; i < 20; i++)
        config_diag_add(&d, "line %d", i);
    assert_int_equal(d.n, 20);
    s = config_diag_join(&d);
    assert_non_null(strstr(s, "line 0\nline 1\n"));
    assert_non_null(strstr(s, "\nline 19"));
    free(s);
    config_diag_clear(&d);
    assert_int_equal(d.n, 0);
    config_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_cases),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_hostile_ids),
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_free_text_and_options),
        cmocka_unit_test(test_empty_global),
        cmocka_unit_test(test_harness_global),
        cmocka_unit_test(test_global_values),
        cmocka_unit_test(test_global_errors),
        cmocka_unit_test(test_plans_errors),
        cmocka_unit_test(test_plans_values),
        cmocka_unit_test(test_demo_config),
        cmocka_unit_test(test_clashes),
        cmocka_unit_test(test_load_failures),
        cmocka_unit_test(test_load_tenant_file),
        cmocka_unit_test(test_hostile_file_name),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_worker_env),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_diag),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
