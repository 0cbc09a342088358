/*
 * jail_sys.c — the raw system calls the jail needs and glibc does not wrap
 * (capget, capset, seccomp). They live in their own object file so the unit tests can
 * replace them with -Wl,--wrap: a call inside one object file cannot be
 * wrapped.
 *
 * What it does not do: anything else. No libcap: two calls are not worth a
 * library in the privileged path.
 */
#include "jail.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_sys_capget(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    *eff = (uint64_t)d[1].effective << 32 | d[0].effective;
    *prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    *inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    return 0;
}

int jail_sys_capset_zero(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    return syscall(SYS_capset, &h, d) < 0 ? -1 : 0;
}

int jail_sys_seccomp(const struct sock_fprog *prog)
{
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0 ? -1 : 0;
}
