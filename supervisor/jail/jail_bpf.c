/*
 * jail_bpf.c — the address layer of the network rules (--net-addr): small
 * cgroup-bpf sock_addr programs, assembled here and attached to the worker's
 * cgroup on the v2 hierarchy (on a hybrid host the controller-less
 * /sys/fs/cgroup/unified mount), so they apply to the worker and everything
 * it starts. Landlock (jail_net.c) decides by port; these decide by address:
 *
 *   bind4     only 127.0.0.1 (no 0.0.0.0, no other address, not the proxy's
 *             source 127.0.0.2); bind6 only ::1
 *   connect4  TCP to 127.0.0.0/8 only to the --net-connect ports; TCP to any
 *             other address: allowed for outbound, refused for local
 *   connect6  TCP to ::1 or a v4-mapped address refused; any other address:
 *             allowed for outbound, refused for local
 * UDP is not filtered here (a resolver on 127.0.0.53 keeps working).
 * A refused call fails with EPERM.
 *
 * Attached by the jail while still root, right after it joined its cgroup
 * and before any worker code runs; the worker cannot detach them (no
 * capabilities, and seccomp denies bpf()). The programs go away with the
 * generation's cgroup. Fails closed: no v2 hierarchy or a refused load stops
 * the jail; tenantd only asks where a v2 hierarchy exists.
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"

#define MAXI (16 + JAIL_NET_CONNECT_MAX)

struct prog {
    struct bpf_insn i[MAXI];
    int n;
};

static void ins(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    struct bpf_insn x;
    memset(&x, 0, sizeof x);
    x.code = code;
    x.dst_reg = dst & 0xf;
    x.src_reg = src & 0xf;
    x.off = off;
    x.imm = imm;
    p->i[p->n++] = x;
}

/* r<dst> = *(u32 *)(ctx + field) */
#define LDX(p, dst, field)                                                                         \
    ins(p, BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1,                                              \
        (int16_t)offsetof(struct bpf_sock_addr, field), 0)
#define JEQ(p, reg, k, off) ins(p, BPF_JMP | BPF_JEQ | BPF_K, reg, 0, (int16_t)(off), (int32_t)(k))
#define JNE(p, reg, k, off) ins(p, BPF_JMP | BPF_JNE | BPF_K, reg, 0, (int16_t)(off), (int32_t)(k))
#define RET(p, v)                                                                                  \
    do {                                                                                           \
        ins(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, (v));                                 \
        ins(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);                                                    \
    } while (0)

/* A u32 read from the context as the CPU sees network-order bytes. */
static int32_t net32(uint32_t host)
{
    uint32_t be = htonl(host);
    int32_t v;
    memcpy(&v, &be, sizeof v);
    return v;
}

static int32_t net16(uint16_t host)
{
    return (int32_t)htons(host);
}

static void prog_bind4(struct prog *p)
{
    LDX(p, BPF_REG_2, user_ip4);
    JEQ(p, BPF_REG_2, net32(INADDR_LOOPBACK), 2);
    RET(p, 0);
    RET(p, 1);
}

/* Point the jump at index `at` to index `to`. */
static void patch(struct prog *p, int at, int to)
{
    p->i[at].off = (int16_t)(to - at - 1);
}

static void prog_bind6(struct prog *p)
{
    int deny[4];
    for (int k = 0; k < 4; k++) {
        ins(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1,
            (int16_t)(offsetof(struct bpf_sock_addr, user_ip6) + 4 * k), 0);
        deny[k] = p->n;
        JNE(p, BPF_REG_2, k == 3 ? net32(1) : 0, 0);
    }
    RET(p, 1); /* ::1 */
    for (int k = 0; k < 4; k++)
        patch(p, deny[k], p->n);
    RET(p, 0);
}

static void prog_connect4(struct prog *p, const struct jail_opts *o, bool outbound)
{
    /* 0 */ LDX(p, BPF_REG_2, protocol);
    int jproto = p->n;
    /* 1 */ JNE(p, BPF_REG_2, IPPROTO_TCP, 0); /* patched: -> allow */
    /* 2 */ LDX(p, BPF_REG_2, user_ip4);
    /* 3 */ LDX(p, BPF_REG_3, user_port);
    /* 4 */ ins(p, BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, net32(0xff000000u));
    /* 5 */ JEQ(p, BPF_REG_2, net32(0x7f000000u), 2);
    /* 6,7 */ RET(p, outbound ? 1 : 0);
    int first = p->n;
    for (size_t k = 0; k < o->n_net_connect; k++)
        JEQ(p, BPF_REG_3, net16(o->net_connect[k]), 0); /* patched: -> allow */
    RET(p, 0);
    int allow = p->n;
    RET(p, 1);
    patch(p, jproto, allow);
    for (int k = first; k < first + (int)o->n_net_connect; k++)
        patch(p, k, allow);
}

static void prog_connect6(struct prog *p, bool outbound)
{
    /* Not TCP, or (outbound and neither ::/96 nor ::ffff:0:0/96): allowed. */
    int to_allow[4], n_allow = 0, to_deny = -1;
    LDX(p, BPF_REG_2, protocol);
    to_allow[n_allow++] = p->n;
    JNE(p, BPF_REG_2, IPPROTO_TCP, 0);
    if (outbound) {
        LDX(p, BPF_REG_2, user_ip6[0]);
        to_allow[n_allow++] = p->n;
        JNE(p, BPF_REG_2, 0, 0);
        LDX(p, BPF_REG_2, user_ip6[1]);
        to_allow[n_allow++] = p->n;
        JNE(p, BPF_REG_2, 0, 0);
        LDX(p, BPF_REG_2, user_ip6[2]);
        to_deny = p->n;
        JEQ(p, BPF_REG_2, net32(0xffff), 0); /* v4-mapped: refused */
        to_allow[n_allow++] = p->n;
        JNE(p, BPF_REG_2, 0, 0);
    }
    int deny = p->n;
    RET(p, 0); /* ::1, ::, v4-compatible or v4-mapped; or any TCP for local */
    int allow = p->n;
    RET(p, 1);
    for (int k = 0; k < n_allow; k++)
        patch(p, to_allow[k], allow);
    if (to_deny >= 0)
        patch(p, to_deny, deny);
}

static int load_attach(const struct prog *p, enum bpf_attach_type type, int cg, const char *what,
                       struct jail_err *e)
{
    char log[2048] = "";
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
    a.expected_attach_type = type;
    a.insns = (uint64_t)(uintptr_t)p->i;
    a.insn_cnt = (uint32_t)p->n;
    a.license = (uint64_t)(uintptr_t) "GPL";
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (fd < 0) {
        int err = errno;
        char *nl = strrchr(log, '\n');
        while (nl && nl > log && nl[1] == '\0') {
            *nl = '\0';
            nl = strrchr(log, '\n');
        }
        return jail_errf(e, "net-addr", "loading the %s program: %s%s%s", what, strerror(err),
                         log[0] ? ": " : "", nl ? nl + 1 : log);
    }
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cg;
    a.attach_bpf_fd = (uint32_t)fd;
    a.attach_type = type;
    int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a);
    int err = errno;
    close(fd); /* the cgroup holds it now */
    if (r < 0)
        return jail_errf(e, "net-addr", "attaching the %s program: %s", what, strerror(err));
    return 0;
}

/* The jail's own cgroup on the v2 hierarchy (it joined the worker's there),
 * and only if it is that one: attached anywhere above, the rules would bind
 * every process below, tenantd or the whole host included. */
static int own_v2_cgroup(const struct jail_opts *o, char *out, size_t n, struct jail_err *e)
{
    struct cgroup_sys sys;
    cgroup_detect(NULL, &sys);
    if (sys.v2.mnt[0] == '\0')
        return jail_errf(e, "net-addr", "no cgroup v2 hierarchy to attach the address rules to");
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return jail_errf(e, "net-addr", "/proc/self/cgroup: %s", strerror(errno));
    char line[CGROUP_PATH_MAX + 16];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            found = snprintf(out, n, "%s%s", sys.v2.mnt, line + 3) < (int)n;
        }
    fclose(f);
    if (!found)
        return jail_errf(e, "net-addr", "the jail is in no cgroup v2 group");
    const char *leaf = o->cgroup_gen ? o->cgroup_gen : o->cgroup;
    const char *slash = strrchr(out, '/');
    if (!leaf || !slash || strcmp(slash + 1, leaf) != 0)
        return jail_errf(e, "net-addr", "%s is not the worker's own cgroup (%s)", out,
                         leaf ? leaf : "none");
    return 0;
}

int jail_bpf_apply(const struct jail_opts *o, struct jail_err *e)
{
    if (!o->net_addr)
        return 0;
    char path[CGROUP_PATH_MAX + 16];
    if (own_v2_cgroup(o, path, sizeof path, e) < 0)
        return -1;
    int cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0)
        return jail_errf(e, "net-addr", "%s: %s", path, strerror(errno));
    bool outbound = o->net_addr == JAIL_NET_ADDR_OUTBOUND;
    struct prog b4 = {.n = 0}, b6 = {.n = 0}, c4 = {.n = 0}, c6 = {.n = 0};
    prog_bind4(&b4);
    prog_bind6(&b6);
    prog_connect4(&c4, o, outbound);
    prog_connect6(&c6, outbound);
    int r = load_attach(&b4, BPF_CGROUP_INET4_BIND, cg, "bind4", e);
    if (r == 0)
        r = load_attach(&b6, BPF_CGROUP_INET6_BIND, cg, "bind6", e);
    if (r == 0)
        r = load_attach(&c4, BPF_CGROUP_INET4_CONNECT, cg, "connect4", e);
    if (r == 0)
        r = load_attach(&c6, BPF_CGROUP_INET6_CONNECT, cg, "connect6", e);
    close(cg);
    return r;
}
