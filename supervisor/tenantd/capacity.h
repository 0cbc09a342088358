/*
 * capacity.h — whether N tenants fit this machine and this configuration:
 * tenantd's open file budget, the port range (which must hold N tenants and
 * stay clear of the kernel's ephemeral range, where outgoing connections take
 * their local port and would steal a tenant's), and the uid range. `tenantd
 * -n` prints the answers as warnings; tenantd itself raises its open file
 * limit at start.
 */
#ifndef TENANTD_CAPACITY_H
#define TENANTD_CAPACITY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Descriptors tenantd holds for one running tenant: its listening socket,
 * notify socket, pidfd, stdout and stderr pipes, log file and a /healthz
 * probe connection. */
#define CAPACITY_FDS_PER_TENANT 7
/* Per start in flight: the jail's status pipe, and the pipes, /dev/null and
 * the child's copies while it forks. */
#define CAPACITY_FDS_PER_START 10
/* tenantd's own: the loop, the admin listeners and connections, state.db,
 * inotify, nginx's pipes, the log. */
#define CAPACITY_FDS_BASE 128

struct capacity_in {
    size_t tenants;          /* configured tenants */
    int max_parallel_starts; /* [tenantd] max_parallel_starts */
    int port_min, port_max;  /* [tenantd] port_range */
    int eph_min, eph_max;    /* net.ipv4.ip_local_port_range, 0 0 when unknown */
    int uid_min, uid_max;    /* [tenantd] uid_range */
    int root;                /* tenantd runs as root (uids are used) */
    uint64_t nofile;         /* the open file limit tenantd gets (after raising it) */
    uint64_t file_max;       /* fs.file-max, 0 when unknown */
    int managed_nginx;       /* [proxy] mode = managed: nginx inherits tenantd's limit */
};

/* The managed nginx's master holds every tenant's access log open, and while
 * it reloads both the old and the new generation's: 2 per tenant, plus this. */
#define CAPACITY_NGINX_BASE 1024

/* The descriptors N tenants need at most. Pure. */
uint64_t capacity_fds_needed(size_t tenants, int max_parallel_starts);

/* One warning line per budget the tenants do not fit, into w. Pure. */
void capacity_check(const struct capacity_in *in, struct config_diag *w);

/* Fill in from c and this machine: /proc/sys/net/ipv4/ip_local_port_range,
 * /proc/sys/fs/file-max, the open file limit (call capacity_raise_nofile
 * first for the one tenantd would run with). */
void capacity_probe(const struct config *c, struct capacity_in *in);

/* Raise RLIMIT_NOFILE: as root, the hard limit up to fs.nr_open where the
 * kernel allows (it does not without CAP_SYS_RESOURCE), then the soft limit
 * to the hard one. Returns the soft limit it ends with; msg gets what could
 * not be done ("" when everything could). */
uint64_t capacity_raise_nofile(char *msg, size_t n);

#endif
