/*
 * notify.h — the sd_notify readiness protocol (DESIGN.md "The worker
 * contract"): one unix datagram socket per tenant at <data dir>/.notify, the
 * NOTIFY_SOCKET of its worker. The data dir is the one folder a jailed worker
 * sees of the host, so the socket lives there, owned by the tenant (it must
 * be able to send) and mode 0600.
 *
 * The socket outlives worker restarts; notify_drain() discards what an old
 * instance left behind before a new one is started. Datagrams are parsed as
 * newline-separated KEY=VALUE lines; READY=1, STOPPING=1, STATUS=... and
 * MAINPID=... are reported, everything else is ignored. Each datagram comes
 * with its sender's pid (SO_PASSCRED / SCM_CREDENTIALS, which the kernel
 * translates into tenantd's pid namespace), so the caller can apply
 * [worker] notify_access.
 *
 * What it does not do: decide what READY means (supervisor.c does).
 */
#ifndef TENANTD_NOTIFY_H
#define TENANTD_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#define NOTIFY_READY 0x1u
#define NOTIFY_STOPPING 0x2u
#define NOTIFY_STATUS 0x4u
#define NOTIFY_MAINPID 0x8u
#define NOTIFY_WATCHDOG 0x10u /* WATCHDOG=1: the worker's loop is alive */

struct notify;

/* Called on the loop for each datagram with at least one known key; `status`
 * is the STATUS= text (NUL-terminated, as sent: the caller cleans it) when
 * NOTIFY_STATUS is set. `sender` is the sending process as tenantd sees it,
 * 0 when the kernel gave no credentials. */
typedef void (*notify_cb)(void *arg, pid_t sender, unsigned flags, const char *status);

/* Bind `path` (replacing a stale socket file), give it to uid/gid when
 * `chown_it`, and start reading. Returns 0 or -errno (-ENAMETOOLONG when the
 * path does not fit a sockaddr_un). */
int notify_open(uv_loop_t *loop, const char *path, bool chown_it, uid_t uid, gid_t gid,
                notify_cb cb, void *arg, struct notify **out);

/* Upgrade hand-off (upgrade.h): the socket's fd, and a socket already bound
 * at path taken over from the previous image (fd is the notify's after
 * this, closed on failure only when the handle was made). */
int notify_fd(const struct notify *n);
int notify_adopt(uv_loop_t *loop, int fd, const char *path, notify_cb cb, void *arg,
                 struct notify **out);

/* Discard every datagram queued so far. */
void notify_drain(struct notify *n);

/* Stop reading and close; the memory is freed in the close callback, and the
 * callback is never called again. The socket file is removed. */
void notify_close(struct notify *n);

/* sizeof the struct one tenant's notify socket holds (the per-tenant memory figure). */
size_t notify_footprint(void);

/* A STATUS= text made safe to show: control characters become spaces,
 * invalid UTF-8 bytes '?', cut at n - 1 bytes on a character boundary. */
void notify_clean_status(const char *in, char *out, size_t n);

#endif
