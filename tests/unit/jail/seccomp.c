/*
 * seccomp.c — the worker's seccomp filter, run on paper: the program
 * jail_seccomp_load would install is captured (jail_sys_seccomp is wrapped)
 * and executed by a small classic-BPF interpreter against made-up system
 * calls, so every rule is checked without loading the filter into this
 * process: denied calls get EPERM, io_uring gets EPERM, socket() of
 * AF_NETLINK and AF_VSOCK gets EAFNOSUPPORT while AF_INET and AF_UNIX pass,
 * clone with a namespace flag gets EPERM, clone3 ENOSYS, and another
 * architecture or an x32 number kills.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "jail.h"

static struct sock_filter captured[512];
static size_t captured_len;

int __wrap_jail_sys_seccomp(const struct sock_fprog *prog);
int __wrap_jail_sys_seccomp(const struct sock_fprog *prog)
{
    assert_true(prog->len <= sizeof captured / sizeof captured[0]);
    memcpy(captured, prog->filter, prog->len * sizeof captured[0]);
    captured_len = prog->len;
    return 0;
}

/* The subset of classic BPF a seccomp filter may use that ours uses: absolute
 * word loads, JEQ/JGE/JSET/JA jumps and constant returns. Anything else fails
 * the test, as would a jump out of the program or a missing return. */
static uint32_t run(const struct seccomp_data *d)
{
    uint32_t a = 0;
    size_t pc = 0;
    while (pc < captured_len) {
        const struct sock_filter *i = &captured[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            assert_true(i->k + 4 <= sizeof *d && i->k % 4 == 0);
            memcpy(&a, (const char *)d + i->k, 4);
            pc++;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += 1 + (a == i->k ? i->jt : i->jf);
            break;
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += 1 + (a >= i->k ? i->jt : i->jf);
            break;
        case BPF_JMP | BPF_JSET | BPF_K:
            pc += 1 + ((a & i->k) ? i->jt : i->jf);
            break;
        case BPF_JMP | BPF_JA:
            pc += 1 + i->k;
            break;
        case BPF_RET | BPF_K:
            return i->k;
        default:
            fail_msg("instruction %zu: unexpected opcode 0x%x", pc, i->code);
        }
    }
    fail_msg("the program ran off its end");
    return 0;
}

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

static uint32_t call(int nr, uint64_t arg0)
{
    struct seccomp_data d = {.nr = nr, .arch = ARCH};
    d.args[0] = arg0;
    return run(&d);
}

#define ERRNO(e) (SECCOMP_RET_ERRNO | (uint32_t)(e))

static int load(void **state)
{
    struct jail_err e = {0};
    captured_len = 0;
    assert_int_equal(jail_seccomp_load(&e), 0);
    assert_true(captured_len > 0);
    return 0;
}

static void ordinary_calls_pass(void **state)
{
    assert_int_equal(call(__NR_read, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(__NR_openat, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(__NR_accept4, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(__NR_clone, SIGCHLD), SECCOMP_RET_ALLOW);
}

static void denied_calls_get_eperm(void **state)
{
    assert_int_equal(call(__NR_ptrace, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_mount, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_unshare, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_bpf, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_setns, 0), ERRNO(EPERM));
}

static void io_uring_is_denied(void **state)
{
    assert_int_equal(call(__NR_io_uring_setup, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_io_uring_enter, 0), ERRNO(EPERM));
    assert_int_equal(call(__NR_io_uring_register, 0), ERRNO(EPERM));
}

static void netlink_and_vsock_sockets_are_refused(void **state)
{
    assert_int_equal(call(__NR_socket, AF_NETLINK), ERRNO(EAFNOSUPPORT));
    assert_int_equal(call(__NR_socket, AF_VSOCK), ERRNO(EAFNOSUPPORT));
    /* Only the low 32 bits are the family (an int): garbage above them
     * must not turn a refused family into an allowed one. */
    assert_int_equal(call(__NR_socket, 0xffffffff00000000ull | AF_NETLINK), ERRNO(EAFNOSUPPORT));
    assert_int_equal(call(__NR_socket, AF_INET), SECCOMP_RET_ALLOW);
    assert_int_equal(call(__NR_socket, AF_INET6), SECCOMP_RET_ALLOW);
    assert_int_equal(call(__NR_socket, AF_UNIX), SECCOMP_RET_ALLOW);
    /* The family check reads socket()'s argument, not another call's. */
    assert_int_equal(call(__NR_read, AF_NETLINK), SECCOMP_RET_ALLOW);
}

static void clone_with_namespaces_and_clone3(void **state)
{
    assert_int_equal(call(__NR_clone, CLONE_NEWUSER | SIGCHLD), ERRNO(EPERM));
    assert_int_equal(call(__NR_clone, CLONE_NEWNET), ERRNO(EPERM));
    assert_int_equal(call(__NR_clone3, 0), ERRNO(ENOSYS));
}

static void other_abis_are_killed(void **state)
{
    struct seccomp_data d = {.nr = __NR_read, .arch = AUDIT_ARCH_I386};
    assert_int_equal(run(&d), SECCOMP_RET_KILL_PROCESS);
#if defined(__x86_64__)
    assert_int_equal(call(0x40000000 | __NR_read, 0), SECCOMP_RET_KILL_PROCESS);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(ordinary_calls_pass, load),
        cmocka_unit_test_setup(denied_calls_get_eperm, load),
        cmocka_unit_test_setup(io_uring_is_denied, load),
        cmocka_unit_test_setup(netlink_and_vsock_sockets_are_refused, load),
        cmocka_unit_test_setup(clone_with_namespaces_and_clone3, load),
        cmocka_unit_test_setup(other_abis_are_killed, load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
