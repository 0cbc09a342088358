/*
 * common/config_reload.c (unit) — config_reload() parses only the tenant
 * files that changed since the previous config: an unchanged file's entry is
 * reused (the parse counter does not move), a changed one is parsed again, a
 * file replaced by a rename with the same size and mtime (a new inode) is
 * parsed again, a removed one is gone, a change of plans.ini parses every
 * file, an invalid file stays invalid with its message, and the cross-tenant
 * checks still run on reused entries. Real files in a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
    char p[256], tmp[272];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(tmp, sizeof tmp, "%s.new~", p);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, p), 0);
}

static void tenant(const char *id, const char *name, int port)
{
    char rel[64], text[256];
    snprintf(rel, sizeof rel, "tenants.d/%s.ini", id);
    snprintf(text, sizeof text, "[tenant]\nname = %s\nplan = starter\n[worker]\nport = %d\n", name,
             port);
    put(rel, text);
}

#define PLANS                                                                                      \
    "[starter]\nprice_cents = 100\nmax_users = 3\nmax_cases = 50\nmax_analysis_monthly = 10\n"     \
    "ai_model = ceseda-basic-v1\nadvanced_features = false\noverage_cents = 0\nmemory = 128M\n"    \
    "pids = 32\ncpu_weight = 50\nlog_budget = 16M\n"

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/config-reload-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof p, "%s/tenants.d", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put("tenantd.ini", "[tenantd]\ntenants_dir = tenants.d\nplans = plans.ini\n"
                       "port_range = 5001-5999\n");
    put("plans.ini", PLANS);
    tenant("alpha", "Cabinet Alpha", 5001);
    tenant("bravo", "Cabinet Bravo", 5002);
    tenant("charlie", "Cabinet Charlie", 5003);
    config_stamp_settle(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    config_stamp_settle(CONFIG_STAMP_SETTLE_NS);
    return 0;
}

/* Reload from prev (freed), checking how many files were parsed. */
static struct config *reload(struct config *prev, unsigned long parses)
{
    char g[128];
    struct config *c = NULL;
    struct config_diag d = {0};
    snprintf(g, sizeof g, "%s/tenantd.ini", dir);
    unsigned long before = config_tenant_parses();
    assert_int_equal(config_reload(g, prev, &c, &d), 0);
    config_diag_clear(&d);
    assert_int_equal(config_tenant_parses() - before, parses);
    assert_int_equal(c->reused, c->n_tenants - parses);
    config_free(prev);
    return c;
}

static const struct config_tenant_entry *entry(const struct config *c, const char *id)
{
    const struct config_tenant_entry *e = config_find_tenant(c, id);
    assert_non_null(e);
    return e;
}

static void test_only_changed_files_are_parsed(void **state)
{
    (void)state;
    struct config *c = reload(NULL, 3);
    c = reload(c, 0);
    assert_int_equal(c->n_tenants, 3);
    assert_true(entry(c, "alpha")->valid);
    assert_string_equal(entry(c, "bravo")->t.name, "Cabinet Bravo");
    assert_int_equal(entry(c, "charlie")->t.port, 5003);

    /* A changed file (another size). */
    tenant("bravo", "Cabinet Bravo & Fils", 5002);
    c = reload(c, 1);
    assert_string_equal(entry(c, "bravo")->t.name, "Cabinet Bravo & Fils");
    assert_string_equal(entry(c, "alpha")->t.name, "Cabinet Alpha");

    /* Replaced by a rename: same size, same mtime, a new inode. */
    char p[128];
    struct stat before;
    snprintf(p, sizeof p, "%s/tenants.d/charlie.ini", dir);
    assert_int_equal(stat(p, &before), 0);
    tenant("charlie", "Cabinet Charly!", 5003);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
    struct stat after;
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    assert_int_not_equal(after.st_ino, before.st_ino);
    c = reload(c, 1);
    assert_string_equal(entry(c, "charlie")->t.name, "Cabinet Charly!");

    /* A removed file is removed; an added one parsed. */
    snprintf(p, sizeof p, "%s/tenants.d/alpha.ini", dir);
    assert_int_equal(unlink(p), 0);
    tenant("delta", "Cabinet Delta", 5004);
    c = reload(c, 1);
    assert_int_equal(c->n_tenants, 3);
    assert_null(config_find_tenant(c, "alpha"));
    assert_true(entry(c, "delta")->valid);

    /* plans.ini changed: every file is parsed again. */
    put("plans.ini", PLANS "; a comment\n");
    c = reload(c, 3);
    c = reload(c, 0);
    /* So does the global file. */
    put("tenantd.ini", "[tenantd]\ntenants_dir = tenants.d\nplans = plans.ini\n"
                       "port_range = 5001-5998\n");
    c = reload(c, 3);
    config_free(c);
}

static void test_invalid_and_cross_checks(void **state)
{
    (void)state;
    /* echo clashes with delta's port: the later id is the invalid one. */
    put("tenants.d/broken.ini", "[tenant]\nname = Broken\n");
    tenant("echo", "Cabinet Echo", 5004);
    struct config *c = reload(NULL, 5);
    const struct config_tenant_entry *e = entry(c, "broken");
    assert_false(e->valid);
    char *first = strdup(e->error);
    assert_false(entry(c, "echo")->valid);
    assert_non_null(strstr(entry(c, "echo")->error, "already used by tenant \"delta\""));

    /* Nothing changed: the same verdicts, from reused entries. */
    c = reload(c, 0);
    assert_false(entry(c, "broken")->valid);
    assert_string_equal(entry(c, "broken")->error, first);
    assert_false(entry(c, "echo")->valid);

    /* delta goes: echo, unchanged and reused, is valid now. */
    char p[128];
    snprintf(p, sizeof p, "%s/tenants.d/delta.ini", dir);
    assert_int_equal(unlink(p), 0);
    c = reload(c, 0);
    assert_true(entry(c, "echo")->valid);
    assert_null(entry(c, "echo")->error);
    free(first);
    config_free(c);
}

static void test_a_recent_file_is_not_trusted(void **state)
{
    (void)state;
    /* With the default settle time, files written a moment ago are parsed
     * again: a change within the same clock tick could keep their stamp. */
    config_stamp_settle(CONFIG_STAMP_SETTLE_NS);
    struct config *c = reload(NULL, 4);
    c = reload(c, 4);
    config_free(c);
    config_stamp_settle(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_changed_files_are_parsed),
        cmocka_unit_test(test_invalid_and_cross_checks),
        cmocka_unit_test(test_a_recent_file_is_not_trusted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
