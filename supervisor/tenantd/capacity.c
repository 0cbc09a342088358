/*
 * capacity.c — do the tenants fit (capacity.h)?
 */
#include "capacity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

uint64_t capacity_fds_needed(size_t tenants, int max_parallel_starts)
{
    uint64_t starts = max_parallel_starts > 0 ? (uint64_t)max_parallel_starts : 1;
    return CAPACITY_FDS_BASE + (uint64_t)tenants * CAPACITY_FDS_PER_TENANT +
           starts * CAPACITY_FDS_PER_START;
}

void capacity_check(const struct capacity_in *in, struct config_diag *w)
{
    uint64_t need = capacity_fds_needed(in->tenants, in->max_parallel_starts);
    if (in->nofile > 0 && need > in->nofile)
        config_diag_add(w,
                        "open files: %zu tenants need about %" PRIu64 " descriptors (%d each), "
                        "tenantd may open %" PRIu64 "; starts beyond that are retried until "
                        "some close: raise LimitNOFILE= (or run tenantd as root, which raises "
                        "its limit to fs.nr_open)",
                        in->tenants, need, CAPACITY_FDS_PER_TENANT, in->nofile);
    uint64_t ngx = CAPACITY_NGINX_BASE + 2 * (uint64_t)in->tenants;
    if (in->managed_nginx && in->nofile > 0 && ngx > in->nofile)
        config_diag_add(w,
                        "open files: the managed nginx holds every tenant's access log open, "
                        "twice while it reloads: %zu tenants need about %" PRIu64 " descriptors "
                        "in its master, which inherits tenantd's %" PRIu64 "; its reloads would "
                        "fail with \"Too many open files\" and keep the previous configuration: "
                        "raise LimitNOFILE= (or run tenantd as root with CAP_SYS_RESOURCE)",
                        in->tenants, ngx, in->nofile);
    if (in->file_max > 0 && need > in->file_max)
        config_diag_add(w,
                        "open files: %zu tenants need about %" PRIu64 " descriptors, more than the "
                        "whole system's fs.file-max (%" PRIu64 ")",
                        in->tenants, need, in->file_max);
    size_t ports = in->port_max >= in->port_min ? (size_t)(in->port_max - in->port_min + 1) : 0;
    if (ports < in->tenants)
        config_diag_add(w, "[tenantd] port_range: %d-%d holds %zu tenants, %zu are configured",
                        in->port_min, in->port_max, ports, in->tenants);
    if (in->eph_min > 0 && in->port_min <= in->eph_max && in->port_max >= in->eph_min)
        config_diag_add(w,
                        "[tenantd] port_range: %d-%d overlaps the kernel's ephemeral ports "
                        "%d-%d (net.ipv4.ip_local_port_range): an outgoing connection may "
                        "take a tenant's port; keep port_range below %d",
                        in->port_min, in->port_max, in->eph_min, in->eph_max, in->eph_min);
    size_t uids = in->uid_max >= in->uid_min ? (size_t)in->uid_max - (size_t)in->uid_min + 1 : 0;
    if (in->root && uids < in->tenants)
        config_diag_add(w, "[tenantd] uid_range: %d-%d holds %zu tenants, %zu are configured",
                        in->uid_min, in->uid_max, uids, in->tenants);
}

static int read_ints(const char *path, long long *a, long long *b)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int n = fscanf(f, "%lld %lld", a, b);
    fclose(f);
    return n;
}

void capacity_probe(const struct config *c, struct capacity_in *in)
{
    memset(in, 0, sizeof *in);
    in->tenants = c->n_tenants;
    in->max_parallel_starts = c->g.max_parallel_starts;
    in->managed_nginx = c->g.proxy_mode == PROXY_MANAGED;
    in->port_min = c->g.port_min;
    in->port_max = c->g.port_max;
    in->uid_min = c->g.uid_min;
    in->uid_max = c->g.uid_max;
    in->root = geteuid() == 0;
    long long a = 0, b = 0;
    if (read_ints("/proc/sys/net/ipv4/ip_local_port_range", &a, &b) == 2 && a > 0 && b >= a) {
        in->eph_min = (int)a;
        in->eph_max = (int)b;
    }
    if (read_ints("/proc/sys/fs/file-max", &a, &b) >= 1 && a > 0)
        in->file_max = (uint64_t)a;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        in->nofile = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
}

uint64_t capacity_raise_nofile(char *msg, size_t n)
{
    struct rlimit rl;
    msg[0] = '\0';
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(msg, n, "getrlimit: %s", strerror(errno));
        return 0;
    }
    long long nr_open = 0, unused = 0;
    if (geteuid() == 0 && read_ints("/proc/sys/fs/nr_open", &nr_open, &unused) >= 1 &&
        nr_open > 0 && rl.rlim_max != RLIM_INFINITY && (rlim_t)nr_open > rl.rlim_max) {
        struct rlimit up = {(rlim_t)nr_open, (rlim_t)nr_open};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return (uint64_t)nr_open;
        snprintf(msg, n, "cannot raise the open file hard limit from %llu to %lld: %s",
                 (unsigned long long)rl.rlim_max, nr_open, strerror(errno));
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            size_t k = strlen(msg);
            snprintf(msg + k, n - k, "%scannot raise the open file limit: %s", k ? "; " : "",
                     strerror(errno));
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}
