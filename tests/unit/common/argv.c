/*
 * common/argv.c (unit) — [worker] command split into words without a shell
 * (common/argv.c): quoting, refused shell syntax with its column, limits; and
 * the config's K_ARGV key, whose message names the tenant file's line.
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

#include "argv.h"
#include "config.h"

static char buf[4096], err[256], *w[ARGV_MAX_WORDS + 1];

static int split(const char *line)
{
    return argv_split(line, w, buf, sizeof buf, err, sizeof err);
}

static void test_words_and_quotes(void **state)
{
    (void)state;
    assert_int_equal(split("/usr/bin/python3 app.py"), 2);
    assert_string_equal(w[0], "/usr/bin/python3");
    assert_string_equal(w[1], "app.py");
    assert_null(w[2]);

    assert_int_equal(split("  /bin/x\t'a b'  \"c \\\"d\\\" $e\"  f\\ g 'h'\"i\"j ''  "), 6);
    assert_string_equal(w[1], "a b");
    assert_string_equal(w[2], "c \"d\" $e");
    assert_string_equal(w[3], "f g");
    assert_string_equal(w[4], "hij");
    assert_string_equal(w[5], ""); /* an empty quoted word is a word */

    /* In single quotes nothing is special; in double quotes a backslash before
     * another character stays. */
    assert_int_equal(split("/bin/x 'it''s' \"a\\nb\" '|;$'"), 4);
    assert_string_equal(w[1], "its");
    assert_string_equal(w[2], "a\\nb");
    assert_string_equal(w[3], "|;$");

    assert_int_equal(split("   "), 0);
    assert_null(w[0]);
}

static void test_refused(void **state)
{
    (void)state;
    assert_int_equal(split("/bin/x 'unterminated"), -EINVAL);
    assert_string_equal(err, "unbalanced ' quote opened at column 8");
    assert_int_equal(split("/bin/x \"a\" \"b"), -EINVAL);
    assert_string_equal(err, "unbalanced \" quote opened at column 12");
    assert_int_equal(split("/bin/x trailing\\"), -EINVAL);
    assert_non_null(strstr(err, "ends the line"));
    assert_int_equal(split("/bin/x > /tmp/log"), -EINVAL);
    assert_non_null(strstr(err, "'>' at column 8"));
    assert_non_null(strstr(err, "quote it"));
    assert_int_equal(split("/bin/x $HOME"), -EINVAL);
    assert_int_equal(split("/bin/x a|b"), -EINVAL);
    assert_int_equal(split("/bin/x *.py"), -EINVAL);
    assert_int_equal(split("/bin/x #comment"), -EINVAL);
    assert_int_equal(split("/bin/x a#b"), 2); /* as in a shell: not at a word's start */

    char line[1024] = "/bin/x";
    for (int i = 0; i < ARGV_MAX_WORDS; i++)
        strcat(line, " a");
    assert_int_equal(split(line), -EINVAL);
    assert_non_null(strstr(err, "more than 64 words"));

    char small[4];
    assert_int_equal(argv_split("/bin/long", w, small, sizeof small, err, sizeof err), -ENOSPC);

    char prog[64];
    assert_int_equal(argv_program("'/usr/bin/my app' --x", prog, sizeof prog), 0);
    assert_string_equal(prog, "/usr/bin/my app");
    assert_int_equal(argv_program(" ", prog, sizeof prog), -ENOENT);
}

static void test_config_key(void **state)
{
    (void)state;
    static const char head[] = "[tenant]\nname = A\nplan = starter\n[worker]\nport = 5001\n";
    struct config_plans plans;
    memset(&plans, 0, sizeof plans);
    plans.n = 1;
    snprintf(plans.plan[0].name, sizeof plans.plan[0].name, "starter");
    plans.plan[0].max_body_bytes = 1024 * 1024;
    struct config_tenant *t = calloc(1, sizeof *t);
    struct config_diag d = {0};
    char text[512];

    snprintf(text, sizeof text, "%scommand = /usr/bin/gunicorn --workers 2 'app:create()'\n", head);
    assert_int_equal(
        config_parse_tenant(NULL, &plans, "a", "tenants.d/a.ini", text, strlen(text), t, &d), 0);
    assert_string_equal(t->command, "/usr/bin/gunicorn --workers 2 'app:create()'");
    assert_int_equal(t->socket, WORKER_SOCKET_OWN);
    config_diag_clear(&d);

    snprintf(text, sizeof text, "%scommand = /usr/bin/python3 'app.py\n", head);
    assert_int_equal(
        config_parse_tenant(NULL, &plans, "a", "tenants.d/a.ini", text, strlen(text), t, &d),
        -EINVAL);
    assert_true(d.n >= 1);
    assert_non_null(strstr(d.lines[0], "tenants.d/a.ini:6: [worker] command:"));
    assert_non_null(strstr(d.lines[0], "unbalanced ' quote opened at column 18"));
    config_diag_clear(&d);

    snprintf(text, sizeof text, "%scommand = python3 app.py\n", head);
    assert_int_equal(
        config_parse_tenant(NULL, &plans, "a", "tenants.d/a.ini", text, strlen(text), t, &d),
        -EINVAL);
    assert_non_null(strstr(
        d.lines[0], "\"python3 app.py\": its program \"python3\" is not an absolute program path"));
    config_diag_clear(&d);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_and_quotes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_config_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
