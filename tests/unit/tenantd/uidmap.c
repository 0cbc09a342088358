/*
 * uidmap.c — tenant uids: parsing /etc/subuid, picking the lowest free
 * uid around taken ones and subid ranges, the -n overlap report, and the
 * registry for real in a temporary folder: two instances sharing one
 * registry (one after the other, and in two processes at once) never get
 * the same uid; a map from before the registry is claimed, and a uid that
 * another instance already holds is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "uidmap.h"

static void parse_subid(void **state)
{
    struct uidmap_range r[8];
    size_t n = uidmap_parse_subid("alice:100000:65536\n# comment\nbroken line\n"
                                  "bob:165536:65536\nzero:5:0\ncarol:x:1\n",
                                  r, 8);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].name, "alice");
    assert_int_equal(r[0].lo, 100000);
    assert_int_equal(r[0].hi, 165535);
    assert_string_equal(r[1].name, "bob");
    assert_int_equal(r[1].hi, 231071);
    assert_int_equal(uidmap_parse_subid("", r, 8), 0);
}

static void pick(void **state)
{
    const uid_t taken[] = {1000, 1001, 1003};
    struct uidmap_range r[] = {{1004, 1009, "x"}};
    assert_int_equal(uidmap_pick(1000, 2000, taken, 3, NULL, 0), 1002);
    assert_int_equal(uidmap_pick(1003, 2000, taken, 3, r, 1), 1010);
    assert_int_equal(uidmap_pick(1000, 1001, taken, 3, NULL, 0), 0);
    assert_int_equal(uidmap_pick(1003, 1009, taken, 3, r, 1), 0);
}

static void check_reports_overlaps(void **state)
{
    struct config_global g = {
        .path = "/etc/tenantd/tenantd.ini", .uid_min = 150000, .uid_max = 159999};
    struct config_diag d = {0};
    uidmap_check_text(&g, "/etc/subuid", "alice:100000:65536\nbob:165536:65536\n", &d);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.lines[0], "/etc/tenantd/tenantd.ini: [tenantd] uid_range: "
                                    "150000-159999 overlaps /etc/subuid (alice: 100000-165535); "
                                    "tenantd skips those uids, but choose a range outside them");
    config_diag_clear(&d);
    g.uid_min = UIDMAP_DEFAULT_MIN;
    g.uid_max = UIDMAP_DEFAULT_MAX;
    uidmap_check_text(&g, "/etc/subuid", "alice:100000:65536\nbob:165536:65536\n", &d);
    assert_int_equal(d.n, 0);
}

/* ---- the registry, for real --------------------------------------------------- */

struct fx {
    char dir[64], reg[96], run_a[96], run_b[96], data[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/var/tmp/sup_uidmap.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->reg, sizeof f->reg, "%s/lib/uids", f->dir);
    snprintf(f->run_a, sizeof f->run_a, "%s/a", f->dir);
    snprintf(f->run_b, sizeof f->run_b, "%s/b", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    mkdir(f->run_a, 0700);
    mkdir(f->run_b, 0700);
    mkdir(f->data, 0700);
    /* A range no process of this machine uses, small enough to fill. */
    struct config_global g = {.uid_min = 1990000000, .uid_max = 1990000009};
    snprintf(g.uid_registry, sizeof g.uid_registry, "%s", f->reg);
    snprintf(g.data_dir, sizeof g.data_dir, "%s", f->data);
    uidmap_configure(&g);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static uid_t get(struct uidmap *m, const char *id)
{
    uid_t u = 0;
    assert_int_equal(uidmap_get(m, id, &u), 0);
    return u;
}

static void two_instances_share_one_registry(void **state)
{
    struct fx *f = *state;
    struct uidmap *a = NULL, *b = NULL;
    assert_int_equal(uidmap_open(f->run_a, &a), 0);
    assert_int_equal(uidmap_open(f->run_b, &b), 0);
    uid_t a1 = get(a, "dupont"), b1 = get(b, "dupont"), a2 = get(a, "martin");
    assert_int_equal(a1, 1990000000);
    assert_int_equal(b1, 1990000001);
    assert_int_equal(a2, 1990000002);
    assert_int_equal(get(a, "dupont"), a1); /* stable */
    uidmap_free(a);
    uidmap_free(b);

    /* Restarted, each instance finds its own uids again. */
    assert_int_equal(uidmap_open(f->run_a, &a), 0);
    assert_int_equal(get(a, "martin"), a2);
    uidmap_free(a);

    /* The registry names each uid's instance. */
    char path[128], line[256];
    FILE *r = fopen(f->reg, "r");
    assert_non_null(r);
    snprintf(path, sizeof path, "1990000001 dupont %s\n", f->run_b);
    int found = 0, lines = 0;
    while (fgets(line, sizeof line, r)) {
        lines++;
        found += strcmp(line, path) == 0;
    }
    fclose(r);
    assert_int_equal(lines, 3);
    assert_int_equal(found, 1);
}

static void data_dir_owners_are_skipped(void **state)
{
    struct fx *f = *state;
    char p[128];
    snprintf(p, sizeof p, "%s/leftover", f->data);
    assert_int_equal(mkdir(p, 0700), 0);
    if (chown(p, 1990000000, 1990000000) < 0)
        skip(); /* not root */
    struct uidmap *a = NULL;
    assert_int_equal(uidmap_open(f->run_a, &a), 0);
    assert_int_equal(get(a, "dupont"), 1990000001);
    uidmap_free(a);
}

static void an_old_map_is_claimed_and_conflicts_refused(void **state)
{
    struct fx *f = *state;
    char p[128];
    /* Two instances from before the registry, both starting at the same uid. */
    snprintf(p, sizeof p, "%s/uids", f->run_a);
    FILE *w = fopen(p, "w");
    fprintf(w, "dupont 200000\n");
    fclose(w);
    snprintf(p, sizeof p, "%s/uids", f->run_b);
    w = fopen(p, "w");
    fprintf(w, "martin 200000\nother 200001\n");
    fclose(w);

    struct uidmap *a = NULL, *b = NULL;
    uid_t u = 0;
    assert_int_equal(uidmap_open(f->run_a, &a), 0);
    assert_int_equal(uidmap_open(f->run_b, &b), 0);
    assert_int_equal(get(a, "dupont"), 200000); /* first come */
    assert_int_equal(uidmap_get(b, "martin", &u), -EADDRINUSE);
    assert_int_equal(get(b, "other"), 200001);
    /* New tenants of either never get 200000 or 200001. */
    assert_int_equal(get(b, "new"), 1990000000);
    uidmap_free(a);
    uidmap_free(b);
}

static void concurrent_instances_get_disjoint_uids(void **state)
{
    struct fx *f = *state;
    enum { N = 5 };
    const char *runs[2] = {f->run_a, f->run_b};
    int pipes[2][2];
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(pipes[k]), 0);
        pids[k] = fork();
        if (pids[k] == 0) {
            struct uidmap *m = NULL;
            char id[16];
            uid_t u[N];
            if (uidmap_open(runs[k], &m) < 0)
                _exit(1);
            for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "t%d", i);
                if (uidmap_get(m, id, &u[i]) < 0)
                    _exit(2);
            }
            _exit(write(pipes[k][1], u, sizeof u) == sizeof u ? 0 : 3);
        }
        close(pipes[k][1]);
    }
    uid_t all[2 * N];
    for (int k = 0; k < 2; k++) {
        int st = 0;
        assert_int_equal(read(pipes[k][0], all + k * N, N * sizeof(uid_t)), N * sizeof(uid_t));
        close(pipes[k][0]);
        waitpid(pids[k], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int i = 0; i < 2 * N; i++) {
        assert_true(all[i] >= 1990000000 && all[i] <= 1990000009);
        for (int j = i + 1; j < 2 * N; j++)
            assert_int_not_equal(all[i], all[j]);
    }
    /* The range is full now: an eleventh tenant gets none. */
    struct uidmap *m = NULL;
    uid_t u = 0;
    assert_int_equal(uidmap_open(f->run_a, &m), 0);
    assert_int_equal(uidmap_get(m, "eleventh", &u), -ENOSPC);
    uidmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_subid),
        cmocka_unit_test(pick),
        cmocka_unit_test(check_reports_overlaps),
        cmocka_unit_test_setup_teardown(two_instances_share_one_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(data_dir_owners_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(an_old_map_is_claimed_and_conflicts_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_instances_get_disjoint_uids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
