/*
 * jail_seccomp.c — the worker's seccomp filter: a deny list, every entry
 * answered with EPERM (clone3 with ENOSYS, see below), everything else
 * allowed. It removes the system calls a web worker never needs and that
 * widen the kernel's attack surface or could undo the jail: debugging other
 * processes, mounting, namespaces, modules, keyrings, bpf, perf, the clock,
 * raw I/O ports, chroot, io_uring.
 *
 * socket() of two address families answers EAFNOSUPPORT, as a kernel built
 * without them would: AF_NETLINK (the kernel's configuration interfaces: a
 * web worker has no use for routing tables or audit) and AF_VSOCK (the way
 * out of a virtual machine to its host). Not EPERM and not a kill: glibc's
 * getaddrinfo opens a NETLINK_ROUTE socket for AI_ADDRCONFIG and, when that
 * fails, carries on as if both IPv4 and IPv6 were configured.
 *
 * Installed last, just before execve, with NO_NEW_PRIVS already set, so the
 * jail's own steps are not filtered and /proc/<pid>/status shows Seccomp: 2.
 *
 * Only the native architecture is allowed: a system call made through
 * another ABI (i386 int 0x80, and on x86_64 the x32 numbers) kills the
 * process, so those cannot sidestep the list.
 *
 * Why a fixed BPF program rather than libseccomp: the filter never changes,
 * and compiling it with libseccomp at every start (plus loading the library)
 * cost about half a millisecond of each tenant's start. The program below
 * applies the same rules libseccomp was given: check the architecture, then
 * compare the system call number against the list; for clone, test the
 * flags argument against the namespace flags. A wrong architecture or an
 * x32 number kills the whole process (libseccomp's default killed the
 * thread).
 *
 * What it does not do: an allow list. The worker may be any HTTP program
 * (DESIGN.md "[worker] command"), so the set of calls it needs is unknown;
 * a deny list of what no such program needs is what can be enforced safely.
 */
#include "jail.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define JAIL_AUDIT_ARCH AUDIT_ARCH_X86_64
#define JAIL_X32_BIT 0x40000000u /* __X32_SYSCALL_BIT: x32 numbers, same arch */
#elif defined(__aarch64__)
#define JAIL_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "jail_seccomp.c: add this architecture's AUDIT_ARCH_* value"
#endif

/* The low 32 bits of clone()'s first argument (the flags): every namespace
 * flag lives there. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#endif

/* Denied with EPERM. A call this architecture does not have is left out. */
static const int denied[] = {
/* Other processes' memory. */
#ifdef __NR_ptrace
    __NR_ptrace,
#endif
#ifdef __NR_process_vm_readv
    __NR_process_vm_readv,
#endif
#ifdef __NR_process_vm_writev
    __NR_process_vm_writev,
#endif
#ifdef __NR_kcmp
    __NR_kcmp,
#endif
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd,
#endif
/* Mounts, old and new API, and changing root. */
#ifdef __NR_mount
    __NR_mount,
#endif
#ifdef __NR_umount2
    __NR_umount2,
#endif
#ifdef __NR_pivot_root
    __NR_pivot_root,
#endif
#ifdef __NR_chroot
    __NR_chroot,
#endif
#ifdef __NR_open_tree
    __NR_open_tree,
#endif
#ifdef __NR_move_mount
    __NR_move_mount,
#endif
#ifdef __NR_fsopen
    __NR_fsopen,
#endif
#ifdef __NR_fsconfig
    __NR_fsconfig,
#endif
#ifdef __NR_fsmount
    __NR_fsmount,
#endif
#ifdef __NR_fspick
    __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
/* The machine itself. */
#ifdef __NR_swapon
    __NR_swapon,
#endif
#ifdef __NR_swapoff
    __NR_swapoff,
#endif
#ifdef __NR_reboot
    __NR_reboot,
#endif
#ifdef __NR_kexec_load
    __NR_kexec_load,
#endif
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
#ifdef __NR_init_module
    __NR_init_module,
#endif
#ifdef __NR_finit_module
    __NR_finit_module,
#endif
#ifdef __NR_delete_module
    __NR_delete_module,
#endif
#ifdef __NR_acct
    __NR_acct,
#endif
#ifdef __NR_quotactl
    __NR_quotactl,
#endif
#ifdef __NR_settimeofday
    __NR_settimeofday,
#endif
#ifdef __NR_clock_settime
    __NR_clock_settime,
#endif
#ifdef __NR_clock_adjtime
    __NR_clock_adjtime,
#endif
#ifdef __NR_adjtimex
    __NR_adjtimex,
#endif
#ifdef __NR_iopl
    __NR_iopl,
#endif
#ifdef __NR_ioperm
    __NR_ioperm,
#endif
#ifdef __NR_vhangup
    __NR_vhangup,
#endif
/* Kernel attack surface no worker needs. */
#ifdef __NR_keyctl
    __NR_keyctl,
#endif
#ifdef __NR_add_key
    __NR_add_key,
#endif
#ifdef __NR_request_key
    __NR_request_key,
#endif
#ifdef __NR_bpf
    __NR_bpf,
#endif
#ifdef __NR_perf_event_open
    __NR_perf_event_open,
#endif
#ifdef __NR_userfaultfd
    __NR_userfaultfd,
#endif
#ifdef __NR_open_by_handle_at
    __NR_open_by_handle_at,
#endif
#ifdef __NR_name_to_handle_at
    __NR_name_to_handle_at,
#endif
/* Namespaces: leaving or making them. */
#ifdef __NR_unshare
    __NR_unshare,
#endif
#ifdef __NR_setns
    __NR_setns,
#endif
/* io_uring: a second way into most of the kernel, one that seccomp cannot
 * see into (the operations travel in shared memory), and a frequent source of
 * kernel bugs. libuv and other libraries fall back to plain calls when its
 * setup fails. */
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup,
#endif
#ifdef __NR_io_uring_enter
    __NR_io_uring_enter,
#endif
#ifdef __NR_io_uring_register
    __NR_io_uring_register,
#endif
};
#define N_DENIED (sizeof denied / sizeof denied[0])

/* Namespace flags clone() must not carry. */
#define CLONE_NS_FLAGS                                                                             \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)

#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

/* The program's fixed head and tail around the list; the returns are the
 * tail's last three instructions, and every jump is written as "to that
 * instruction" (TO) so no offset is counted by hand. */
enum { HEAD = 5, TAIL = 15 };
_Static_assert(HEAD + N_DENIED + TAIL < 256, "jump offsets must fit in 8 bits");

int jail_seccomp_load(struct jail_err *e)
{
    struct sock_filter f[HEAD + N_DENIED + TAIL];
    /* The tail's landmarks: where the clone check starts, and the four
     * returns that close the program. */
    const size_t l_clone = HEAD + N_DENIED + 6;
    const size_t r_eperm = HEAD + N_DENIED + 11, r_enosys = r_eperm + 1,
                 r_eafnosupport = r_eperm + 2, r_kill = r_eperm + 3;
    size_t k = 0;
    /* TO is relative to the instruction being emitted, so EMIT must not
     * advance k before its argument is evaluated. */
#define TO(target) ((unsigned char)((target)-k - 1))
#define EMIT(ins)                                                                                  \
    do {                                                                                           \
        f[k] = (struct sock_filter)ins;                                                            \
        k++;                                                                                       \
    } while (0)

    /* Head: the architecture, then the number (x32 numbers killed). */
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    EMIT(JEQ(JAIL_AUDIT_ARCH, 1, 0));
    EMIT(RET(SECCOMP_RET_KILL_PROCESS));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef JAIL_X32_BIT
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, JAIL_X32_BIT, TO(r_kill), 0));
#else
    EMIT(BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0)); /* no other ABI shares the arch */
#endif
    /* The list. */
    for (size_t i = 0; i < N_DENIED; i++)
        EMIT(JEQ((unsigned)denied[i], TO(r_eperm), 0));
    /* Tail. clone3 passes its flags in memory, which seccomp cannot read:
     * answer ENOSYS so the C library falls back to clone(), which is checked. */
    EMIT(JEQ(__NR_clone3, TO(r_enosys), 0));
    /* socket(): the family is the first argument. Loading it replaces the
     * number in the accumulator, so this branch ends in a return. */
    EMIT(JEQ(__NR_socket, 0, TO(l_clone)));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO));
    EMIT(JEQ(AF_NETLINK, TO(r_eafnosupport), 0));
    EMIT(JEQ(AF_VSOCK, TO(r_eafnosupport), 0));
    EMIT(RET(SECCOMP_RET_ALLOW));
    EMIT(JEQ(__NR_clone, 1, 0));
    EMIT(RET(SECCOMP_RET_ALLOW));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NS_FLAGS, TO(r_eperm), 0));
    EMIT(RET(SECCOMP_RET_ALLOW));
    EMIT(RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
    EMIT(RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)));
    EMIT(RET(SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)));
    EMIT(RET(SECCOMP_RET_KILL_PROCESS));
#undef TO
#undef EMIT

    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    if (jail_sys_seccomp(&prog) < 0)
        return jail_errf(e, "seccomp", "seccomp(SECCOMP_SET_MODE_FILTER): %s", strerror(errno));
    return 0;
}
