/*
 * sdnotify.h — the client side of systemd's sd_notify protocol, shared by
 * the worker (READY=1 and STATUS= towards tenantd) and by tenantd (towards
 * its own service manager, svcnotify.c). The receiving side, one socket per
 * tenant, is tenantd's notify.c.
 *
 * The socket is named by NOTIFY_SOCKET: a path, or an abstract address when
 * it starts with '@'. Not here: the watchdog protocol, fd passing, or when
 * to say what (that is each program's business).
 */
#ifndef TENANTD_SDNOTIFY_H
#define TENANTD_SDNOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

/*
 * Pure: the address of a NOTIFY_SOCKET value. An absolute path, or "@name"
 * for an abstract socket (the '@' becomes a NUL byte). Fills *sa and *len
 * (the exact length to pass to sendto). Returns 0, or -EINVAL (empty,
 * relative) or -ENAMETOOLONG.
 */
int sdnotify_parse_addr(const char *value, struct sockaddr_un *sa, socklen_t *len);

/*
 * Send one datagram (e.g. "READY=1\nSTATUS=serving") to the NOTIFY_SOCKET of
 * the process environment, on a socket opened for it and closed again: a
 * worker sends a handful in its life, and keeping none open leaves no fd to
 * leak. Without NOTIFY_SOCKET nothing is sent and 0 returned, so a program
 * started by hand behaves the same. Returns 0 or -errno.
 */
int sdnotify_send(const char *state);

#endif
