/*
 * ctl_proxy.h — `tenantctl proxy-config`: load the configuration offline (no
 * tenantd needed) and print the nginx configuration tenantd would write for
 * it, like `nginx -T` prints nginx's. Dispatched from ctl_main.c.
 */
#ifndef TENANTD_CTL_PROXY_H
#define TENANTD_CTL_PROXY_H

#include <stdio.h>

/*
 * Print to `out` each file tenantd would write (managed mode: main.conf and
 * tenants.conf; external mode: the included file), each after a
 * "# ==> <path> <==" line. Tenants whose file is invalid are left out, with
 * their errors on stderr, as tenantd leaves a never-valid tenant out.
 * Returns the exit code: 0, or 1 when the global config, the templates or the
 * rendering fail (the errors are on stderr).
 */
int ctl_proxy_config(const char *config_path, FILE *out);

#endif
