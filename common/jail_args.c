/*
 * jail_args.c — the jail's command line: parsing it into a struct jail_opts
 * (in the jail) and building it from one (in tenantd). See jail_args.h for
 * the options.
 *
 * Everything here is pure: no I/O, no global state, so the unit tests and
 * tenantd can call it freely. Checks that need the file system (the data dir's
 * owner and mode, whether an fd is open) belong to jail_run.c's "validate"
 * step, not here.
 */
#include "jail_args.h"

#include "cgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jail_opts_init(struct jail_opts *o)
{
    memset(o, 0, sizeof *o);
    o->status_fd = -1;
    o->rlimit_nofile = -1;
    o->rlimit_fsize = -1;
    o->rlimit_nproc = -1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The tenant id rule of DESIGN.md, repeated here because the jail must not
 * depend on the config parser: ^[a-z][a-z0-9-]{0,30}$. */
static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 31 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* A cgroup leaf name: a single path component of safe characters. */
static bool valid_cgroup_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool jail_path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* An absolute path with no "." or ".." component and no empty component
 * except a trailing one: mount targets must mean what they say. */
static bool valid_abs_path(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n >= PATH_MAX || s[0] != '/')
        return false;
    const char *p = s;
    while (*p) {
        while (*p == '/')
            p++;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - c);
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        for (const char *q = c; q < p; q++)
            if ((unsigned char)*q < 0x20)
                return false;
    }
    return strstr(s, "//") == NULL;
}

/* Parse a decimal number with an optional K, M, G or T suffix (powers of
 * 1024) when `sized`; reject signs, blanks, overflow and values outside
 * [min, max]. */
static int parse_num(const char *s, bool sized, int64_t min, int64_t max, int64_t *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -ERANGE;
    unsigned long long mul = 1;
    if (sized && *end) {
        switch (*end) {
        case 'K':
        case 'k':
            mul = 1ull << 10;
            break;
        case 'M':
        case 'm':
            mul = 1ull << 20;
            break;
        case 'G':
        case 'g':
            mul = 1ull << 30;
            break;
        case 'T':
        case 't':
            mul = 1ull << 40;
            break;
        default:
            return -EINVAL;
        }
        end++;
    }
    if (*end)
        return -EINVAL;
    if (v > (unsigned long long)INT64_MAX / mul)
        return -ERANGE;
    int64_t r = (int64_t)(v * mul);
    if (r < min || r > max)
        return -ERANGE;
    *out = r;
    return 0;
}

static int num_opt(const char *name, const char *val, bool sized, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen)
{
    int r = parse_num(val, sized, min, max, out);
    if (r == -ERANGE)
        return fail(err, errlen, "%s: \"%s\" is out of range (%" PRId64 "..%" PRId64 ")", name, val,
                    min, max);
    if (r < 0)
        return fail(err, errlen, "%s: \"%s\" is not a %s", name, val,
                    sized ? "size (a number with an optional K, M or G)" : "number");
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
} ns_names[] = {
    {"mount", JAIL_NS_MOUNT}, {"pid", JAIL_NS_PID}, {"ipc", JAIL_NS_IPC},
    {"uts", JAIL_NS_UTS},     {"net", JAIL_NS_NET},
};

static int parse_ns(const char *val, unsigned *out, char *err, size_t errlen)
{
    unsigned bits = 0;
    const char *p = val;
    if (!*p)
        return fail(err, errlen, "--ns: the list is empty");
    while (*p) {
        const char *c = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - c);
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++)
            if (strlen(ns_names[i].name) == len && memcmp(ns_names[i].name, c, len) == 0)
                bit = ns_names[i].bit;
        if (!bit)
            return fail(err, errlen,
                        "--ns: \"%.*s\" is not a namespace (mount, pid, ipc, uts, net)", (int)len,
                        c);
        bits |= bit;
        if (*p == ',' && !*++p)
            return fail(err, errlen, "--ns: the list ends with a comma");
    }
    *out = bits;
    return 0;
}

static int parse_net_rules(const char *val, unsigned *out, char *err, size_t errlen)
{
    unsigned bits = 0;
    const char *p = val;
    if (!*p)
        return fail(err, errlen, "--net-rules: the list is empty");
    while (*p) {
        const char *c = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - c);
        if (len == 4 && memcmp(c, "bind", 4) == 0)
            bits |= JAIL_NET_BIND;
        else if (len == 7 && memcmp(c, "connect", 7) == 0)
            bits |= JAIL_NET_CONNECT;
        else
            return fail(err, errlen, "--net-rules: \"%.*s\" is not bind or connect", (int)len, c);
        if (*p == ',' && !*++p)
            return fail(err, errlen, "--net-rules: the list ends with a comma");
    }
    *out = bits;
    return 0;
}

static int net_port_opt(const char *name, const char *val, uint16_t *ports, size_t *n, size_t max,
                        char *err, size_t errlen)
{
    int64_t v;
    int r = num_opt(name, val, false, 1, 65535, &v, err, errlen);
    if (r < 0)
        return r;
    if (*n >= max)
        return fail(err, errlen, "%s: at most %zu ports", name, max);
    ports[(*n)++] = (uint16_t)v;
    return 0;
}

int jail_parse_args(int argc, char *const argv[], struct jail_opts *o, char *err, size_t errlen)
{
    jail_opts_init(o);
    bool has_uid = false, has_gid = false, has_id = false;
    int64_t v;
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        /* Flags without a value. */
        if (strcmp(a, "--no-core") == 0) {
            o->no_core = true;
            continue;
        }
        if (strcmp(a, "--cgroup-optional") == 0) {
            o->cgroup_optional = true;
            continue;
        }
        if (strcmp(a, "--seccomp") == 0) {
            o->seccomp = true;
            continue;
        }
        if (strcmp(a, "--pidns-ready") == 0) {
            o->pidns_ready = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return fail(err, errlen, "\"%s\": expected an option or \"--\" before the command", a);
        if (i + 1 >= argc)
            return fail(err, errlen, "%s: a value is missing", a);
        const char *val = argv[++i];
        int r = 0;
        if (strcmp(a, "--id") == 0) {
            if (!valid_id(val))
                return fail(err, errlen, "--id: \"%s\" is not a tenant id ([a-z][a-z0-9-]{0,30})",
                            val);
            memcpy(o->id, val, strlen(val) + 1);
            has_id = true;
        } else if (strcmp(a, "--data") == 0) {
            if (!valid_abs_path(val) || strcmp(val, "/") == 0)
                return fail(err, errlen, "--data: \"%s\" is not an absolute path below /", val);
            o->data_dir = val;
        } else if (strcmp(a, "--uid") == 0) {
            if ((r = num_opt(a, val, false, 1, 0x7ffffffe, &v, err, errlen)) < 0)
                return r;
            o->uid = (uid_t)v;
            has_uid = true;
        } else if (strcmp(a, "--gid") == 0) {
            if ((r = num_opt(a, val, false, 1, 0x7ffffffe, &v, err, errlen)) < 0)
                return r;
            o->gid = (gid_t)v;
            has_gid = true;
        } else if (strcmp(a, "--parent-pid") == 0) {
            if ((r = num_opt(a, val, false, 1, INT32_MAX, &v, err, errlen)) < 0)
                return r;
            o->parent_pid = (pid_t)v;
        } else if (strcmp(a, "--listen-fds") == 0) {
            if ((r = num_opt(a, val, false, 0, 64, &v, err, errlen)) < 0)
                return r;
            o->listen_fds = (int)v;
        } else if (strcmp(a, "--status-fd") == 0) {
            if ((r = num_opt(a, val, false, 3, 1023, &v, err, errlen)) < 0)
                return r;
            o->status_fd = (int)v;
        } else if (strcmp(a, "--rlimit-nofile") == 0) {
            if ((r = num_opt(a, val, false, 16, 1 << 20, &o->rlimit_nofile, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--rlimit-fsize") == 0) {
            if ((r = num_opt(a, val, true, 4096, INT64_MAX, &o->rlimit_fsize, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--rlimit-nproc") == 0) {
            if ((r = num_opt(a, val, false, 1, 1 << 22, &o->rlimit_nproc, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--cgroup") == 0) {
            if (!valid_cgroup_name(val))
                return fail(err, errlen, "--cgroup: \"%s\" is not a cgroup name", val);
            o->cgroup = val;
        } else if (strcmp(a, "--cgroup-gen") == 0) {
            if (!valid_cgroup_name(val))
                return fail(err, errlen, "--cgroup-gen: \"%s\" is not a cgroup name", val);
            o->cgroup_gen = val;
        } else if (strcmp(a, "--cgroup-parent") == 0) {
            o->cgroup_parent = val; /* checked with the cgroup name below */
        } else if (strcmp(a, "--memory") == 0) {
            if ((r = num_opt(a, val, true, 4 << 20, INT64_MAX, &o->memory_bytes, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--pids") == 0) {
            if ((r = num_opt(a, val, false, 1, 1 << 22, &o->pids, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--cpu-weight") == 0) {
            if ((r = num_opt(a, val, false, 1, 10000, &v, err, errlen)) < 0)
                return r;
            o->cpu_weight = (int)v;
        } else if (strcmp(a, "--ns") == 0) {
            if ((r = parse_ns(val, &o->ns, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--hide") == 0) {
            if (!valid_abs_path(val) || strcmp(val, "/") == 0)
                return fail(err, errlen, "--hide: \"%s\" is not an absolute path below /", val);
            if (o->n_hide >= JAIL_HIDE_MAX)
                return fail(err, errlen, "--hide: at most %d folders", JAIL_HIDE_MAX);
            o->hide[o->n_hide++] = val;
        } else if (strcmp(a, "--expose") == 0) {
            if (!valid_abs_path(val) || strcmp(val, "/") == 0)
                return fail(err, errlen, "--expose: \"%s\" is not an absolute path below /", val);
            if (o->n_expose >= JAIL_EXPOSE_MAX)
                return fail(err, errlen, "--expose: at most %d paths", JAIL_EXPOSE_MAX);
            o->expose[o->n_expose++] = val;
        } else if (strcmp(a, "--net-rules") == 0) {
            if ((r = parse_net_rules(val, &o->net_rules, err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--net-bind") == 0) {
            if ((r = net_port_opt(a, val, o->net_bind, &o->n_net_bind, JAIL_NET_BIND_MAX, err,
                                  errlen)) < 0)
                return r;
        } else if (strcmp(a, "--net-connect") == 0) {
            if ((r = net_port_opt(a, val, o->net_connect, &o->n_net_connect, JAIL_NET_CONNECT_MAX,
                                  err, errlen)) < 0)
                return r;
        } else if (strcmp(a, "--net-addr") == 0) {
            if (strcmp(val, "local") == 0)
                o->net_addr = JAIL_NET_ADDR_LOCAL;
            else if (strcmp(val, "outbound") == 0)
                o->net_addr = JAIL_NET_ADDR_OUTBOUND;
            else
                return fail(err, errlen, "--net-addr: \"%s\" is not local or outbound", val);
        } else if (strcmp(a, "--tmp-size") == 0) {
            if ((r = num_opt(a, val, true, 64 << 10, 16ll << 30, &o->tmp_size, err, errlen)) < 0)
                return r;
        } else {
            return fail(err, errlen, "%s: unknown option", a);
        }
    }

    if (!has_id)
        return fail(err, errlen, "--id is required");
    if (has_uid != has_gid)
        return fail(err, errlen, "--uid and --gid go together");
    o->has_ids = has_uid;
    if (o->status_fd >= 0 && o->status_fd < 3 + o->listen_fds)
        return fail(err, errlen, "--status-fd: %d is one of the listening fds 3..%d", o->status_fd,
                    2 + o->listen_fds);
    if (o->cgroup_parent) {
        if (!o->cgroup)
            return fail(err, errlen, "--cgroup-parent needs --cgroup");
        if (!cgroup_spec_valid(o->cgroup_parent))
            return fail(err, errlen,
                        "--cgroup-parent: \"%s\" is not \"self\", \"self/REL\" or \"/ABS\"",
                        o->cgroup_parent);
    }
    if (o->cgroup_gen && !o->cgroup)
        return fail(err, errlen, "--cgroup-gen needs --cgroup");
    if ((o->memory_bytes || o->pids || o->cpu_weight || o->cgroup_optional) && !o->cgroup)
        return fail(err, errlen,
                    "--memory, --pids, --cpu-weight and --cgroup-optional need "
                    "--cgroup");
    if ((o->n_hide || o->n_expose || o->tmp_size) && !(o->ns & JAIL_NS_MOUNT))
        return fail(err, errlen,
                    "--hide, --expose and --tmp-size need a mount namespace (--ns mount)");
    /* Binding a folder back read-only would show what --hide covers below it. */
    for (size_t x = 0; x < o->n_expose; x++)
        for (size_t h = 0; h < o->n_hide; h++)
            if (jail_path_within(o->hide[h], o->expose[x]))
                return fail(err, errlen, "--expose: \"%s\" contains the hidden folder \"%s\"",
                            o->expose[x], o->hide[h]);
    if ((o->ns & JAIL_NS_MOUNT) && !o->data_dir)
        return fail(err, errlen, "--ns mount needs --data (the one writable folder)");
    if (o->n_net_bind && !(o->net_rules & JAIL_NET_BIND))
        return fail(err, errlen, "--net-bind needs bind in --net-rules");
    if (o->n_net_connect && !(o->net_rules & JAIL_NET_CONNECT) && !o->net_addr)
        return fail(err, errlen, "--net-connect needs connect in --net-rules or --net-addr");
    if (o->net_addr && !o->cgroup)
        return fail(err, errlen, "--net-addr needs --cgroup");
    if (o->pidns_ready && (!(o->ns & JAIL_NS_PID) || o->status_fd < 0))
        return fail(err, errlen, "--pidns-ready needs --ns with pid and --status-fd");
    if (i >= argc || !argv[i] || !*argv[i])
        return fail(err, errlen, "no command after \"--\"");
    if (!strchr(argv[i], '/'))
        return fail(err, errlen, "the command \"%s\" must be a path (no PATH search)", argv[i]);
    o->argv = &argv[i];
    return 0;
}

/* ---- building ----------------------------------------------------------- */

/* Two passes over the same list: the first counts, the second copies. */
struct builder {
    char **vec;   /* NULL in the counting pass */
    char *strs;   /* where the next string goes */
    size_t n;     /* entries so far */
    size_t bytes; /* string bytes so far */
};

static void put(struct builder *b, const char *s)
{
    size_t len = strlen(s) + 1;
    if (b->vec) {
        memcpy(b->strs, s, len);
        b->vec[b->n] = b->strs;
        b->strs += len;
    }
    b->n++;
    b->bytes += len;
}

static void put_num(struct builder *b, const char *opt, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, v);
    put(b, opt);
    put(b, num);
}

static void emit(const struct jail_opts *o, const char *jail_path, struct builder *b)
{
    put(b, jail_path);
    put(b, "--id");
    put(b, o->id);
    if (o->data_dir) {
        put(b, "--data");
        put(b, o->data_dir);
    }
    if (o->has_ids) {
        put_num(b, "--uid", o->uid);
        put_num(b, "--gid", o->gid);
    }
    if (o->parent_pid > 0)
        put_num(b, "--parent-pid", o->parent_pid);
    if (o->listen_fds > 0)
        put_num(b, "--listen-fds", o->listen_fds);
    if (o->status_fd >= 0)
        put_num(b, "--status-fd", o->status_fd);
    if (o->rlimit_nofile >= 0)
        put_num(b, "--rlimit-nofile", o->rlimit_nofile);
    if (o->rlimit_fsize >= 0)
        put_num(b, "--rlimit-fsize", o->rlimit_fsize);
    if (o->rlimit_nproc >= 0)
        put_num(b, "--rlimit-nproc", o->rlimit_nproc);
    if (o->no_core)
        put(b, "--no-core");
    if (o->cgroup) {
        put(b, "--cgroup");
        put(b, o->cgroup);
        if (o->cgroup_parent) {
            put(b, "--cgroup-parent");
            put(b, o->cgroup_parent);
        }
        if (o->cgroup_gen) {
            put(b, "--cgroup-gen");
            put(b, o->cgroup_gen);
        }
        if (o->memory_bytes > 0)
            put_num(b, "--memory", o->memory_bytes);
        if (o->pids > 0)
            put_num(b, "--pids", o->pids);
        if (o->cpu_weight > 0)
            put_num(b, "--cpu-weight", o->cpu_weight);
        if (o->cgroup_optional)
            put(b, "--cgroup-optional");
    }
    if (o->ns) {
        char list[64] = "";
        for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++) {
            if (o->ns & ns_names[i].bit) {
                if (list[0])
                    strcat(list, ",");
                strcat(list, ns_names[i].name);
            }
        }
        put(b, "--ns");
        put(b, list);
    }
    for (size_t i = 0; i < o->n_hide; i++) {
        put(b, "--hide");
        put(b, o->hide[i]);
    }
    for (size_t i = 0; i < o->n_expose; i++) {
        put(b, "--expose");
        put(b, o->expose[i]);
    }
    if (o->tmp_size > 0)
        put_num(b, "--tmp-size", o->tmp_size);
    if (o->net_rules) {
        put(b, "--net-rules");
        put(b, (o->net_rules & (JAIL_NET_BIND | JAIL_NET_CONNECT)) ==
                       (JAIL_NET_BIND | JAIL_NET_CONNECT)
                   ? "bind,connect"
               : o->net_rules & JAIL_NET_BIND ? "bind"
                                              : "connect");
    }
    for (size_t i = 0; i < o->n_net_bind; i++)
        put_num(b, "--net-bind", o->net_bind[i]);
    for (size_t i = 0; i < o->n_net_connect; i++)
        put_num(b, "--net-connect", o->net_connect[i]);
    if (o->net_addr) {
        put(b, "--net-addr");
        put(b, o->net_addr == JAIL_NET_ADDR_LOCAL ? "local" : "outbound");
    }
    if (o->seccomp)
        put(b, "--seccomp");
    if (o->pidns_ready)
        put(b, "--pidns-ready");
    put(b, "--");
    for (char *const *a = o->argv; a && *a; a++)
        put(b, *a);
}

int jail_build_argv(const struct jail_opts *o, const char *jail_path, char ***out, char *err,
                    size_t errlen)
{
    if (!o->argv || !o->argv[0])
        return fail(err, errlen, "no command to run");
    struct builder b = {0};
    emit(o, jail_path, &b);
    size_t vec_bytes = (b.n + 1) * sizeof(char *);
    char **vec = malloc(vec_bytes + b.bytes);
    if (!vec)
        return -ENOMEM;
    struct builder w = {.vec = vec, .strs = (char *)vec + vec_bytes};
    emit(o, jail_path, &w);
    vec[w.n] = NULL;

    /* Whatever tenantd builds must be what the jail accepts: parse it back. */
    struct jail_opts check;
    int r = jail_parse_args((int)w.n, vec, &check, err, errlen);
    if (r < 0) {
        free(vec);
        return r;
    }
    *out = vec;
    return 0;
}
