/*
 * tenantd/footprint.c (unit) — what one tenant costs tenantd in memory, by
 * struct (sizeof): the tenant (with its running config), its entry in the
 * loaded config, the current worker's exit watch, the log capture, the
 * notify socket and the prober. Prints the figures the README's
 * "Performance" section quotes, and fails when their sum passes the target
 * of 8 KiB per tenant or when a worker generation stores cgroup paths again.
 * malloc's headers, libuv's and the kernel's own share are not in it:
 * tests/bench/bench_peers.py measures the RSS slope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "health.h"
#include "logcap.h"
#include "notify.h"
#include "sup_internal.h"

#define TARGET_BYTES 8192

static void test_per_tenant_bytes(void **state)
{
    (void)state;
    const struct {
        const char *what;
        size_t bytes;
    } parts[] = {
        {"struct tenant (of which its running config)", sizeof(struct tenant)},
        {"  struct config_tenant, the running copy", sizeof(struct config_tenant)},
        {"struct config_tenant_entry (the loaded config)", sizeof(struct config_tenant_entry)},
        {"struct exit_watch (the current worker)", sizeof(struct exit_watch)},
        {"log capture and its two streams", logcap_footprint()},
        {"notify socket", notify_footprint()},
        {"prober (no probe on its way)", health_footprint(false)},
    };
    size_t sum = 0;
    printf("per-tenant structs of tenantd (sizeof, bytes):\n");
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        printf("  %-50s %6zu\n", parts[i].what, parts[i].bytes);
        if (parts[i].what[0] != ' ')
            sum += parts[i].bytes;
    }
    printf("  %-50s %6zu (%.1f KiB; a probe on its way adds %zu)\n", "sum, one running tenant", sum,
           sum / 1024.0, health_footprint(true) - health_footprint(false));
    assert_true(sum <= TARGET_BYTES);
    /* The cgroup folders are rebuilt on demand (sup_cgroup.c), not stored
     * per worker generation: one set is 2.5 KiB. */
    assert_true(sizeof(struct exit_watch) < sizeof(struct cgroup_tenant) / 4);
    assert_true(sizeof(struct tenant) <
                sizeof(struct config_tenant) + sizeof(struct cgroup_tenant));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_tenant_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
