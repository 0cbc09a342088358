/*
 * jail_seccomp.c — the worker's seccomp filter: a deny list, every entry
 * answered with EPERM (clone3 with ENOSYS, see below), everything else
 * allowed. It removes the system calls a web worker never needs and that
 * widen the kernel's attack surface or could undo the jail: debugging other
 * processes, mounting, namespaces, modules, keyrings, bpf, perf, the clock,
 * raw I/O ports, chroot.
 *
 * Installed last, just before execve, with NO_NEW_PRIVS already set, so the
 * jail's own steps are not filtered and /proc/<pid>/status shows Seccomp: 2.
 *
 * Only the native architecture is in the filter: libseccomp's default
 * "bad architecture" action kills a process that makes a system call
 * through another ABI (i386 int 0x80, x32), so those cannot sidestep it.
 *
 * What it does not do: an allow list. The worker may be any HTTP program
 * (DESIGN.md "[worker] command"), so the set of calls it needs is unknown;
 * a deny list of what no such program needs is what can be enforced safely.
 */
#include "jail.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>

static const char *const denied[] = {
    /* Other processes' memory. */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    /* Mounts, old and new API, and changing root. */
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    /* The machine itself. */
    "swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "acct", "quotactl", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "iopl", "ioperm", "vhangup",
    /* Kernel attack surface no worker needs. */
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at",
    /* Namespaces: leaving or making them. */
    "unshare", "setns"};

/* Namespace flags clone() must not carry; each is checked on its own
 * because a seccomp argument test compares against one masked value. */
static const unsigned long clone_ns_flags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                               CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                               CLONE_NEWCGROUP};

int jail_seccomp_load(struct jail_err *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return jail_errf(e, "seccomp", "seccomp_init failed");
    int r = 0;
    const char *what = "";
    for (size_t i = 0; i < sizeof denied / sizeof denied[0] && r == 0; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a system call on this architecture */
        what = denied[i];
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    for (size_t i = 0; i < sizeof clone_ns_flags / sizeof clone_ns_flags[0] && r == 0; i++) {
        what = "clone";
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
    }
    /* clone3 passes its flags in memory, which seccomp cannot read: answer
     * ENOSYS so the C library falls back to clone(), which is checked. */
    if (r == 0) {
        what = "clone3";
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    }
    if (r < 0) {
        seccomp_release(ctx);
        return jail_errf(e, "seccomp", "rule for %s: %s", what, strerror(-r));
    }
    r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0)
        return jail_errf(e, "seccomp", "seccomp_load: %s", strerror(-r));
    return 0;
}
