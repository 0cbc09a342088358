/*
 * nginx_logrot.h — rotating the managed nginx's access logs within the same
 * budget rules as the workers' logs (logcap.c): <log_dir>/<id>.access.log is
 * rotated once it exceeds the tenant's share ([logs] rotate_size, else a
 * quarter of its plan's log_budget), <log_dir>/nginx.access.log (the default
 * server) at rotate_size or 4 MiB; .1 to .3 are kept, as for the workers'
 * logs. Rotation is a rename chain, then a reload of nginx (SIGHUP to its
 * master: the new cycle opens the files anew; proxy_reopen_logs says why not
 * SIGUSR1). Measured every [logs] access_check.
 * Only in managed mode: an external nginx's logs are its operator's.
 */
#ifndef TENANTD_NGINX_LOGROT_H
#define TENANTD_NGINX_LOGROT_H

#include <stdint.h>
#include <uv.h>

struct sup;
struct proxy;

#define NGINX_LOGROT_KEEP 3
#define NGINX_LOGROT_DEFAULT_BYTES (4 * 1024 * 1024)

int nginx_logrot_start(uv_loop_t *loop, struct sup *s, struct proxy *p);
void nginx_logrot_stop(void);
/* Rotations done since tenantd started (for the log and tests). */
uint64_t nginx_logrot_count(void);

/* Rename path.2 -> path.3, path.1 -> path.2, path -> path.1 (keep files in
 * all). 0 or -errno. */
int nginx_logrot_rename(const char *path, int keep);

#endif
