/*
 * sdnotify.h — readiness and status datagrams to the supervisor (the
 * sd_notify protocol: "READY=1", "STATUS=...", "STOPPING=1").
 *
 * The socket is named by NOTIFY_SOCKET: a path, or an abstract address when
 * it starts with '@'. Without NOTIFY_SOCKET nothing is sent and 0 returned,
 * so a worker started by hand behaves the same. Not here: the watchdog
 * protocol, fd passing.
 */
#ifndef TENANT_WORKER_SDNOTIFY_H
#define TENANT_WORKER_SDNOTIFY_H

/* Send one datagram (e.g. "READY=1\nSTATUS=serving"). Returns 0 or -errno. */
int sdnotify_send(const char *state);

#endif
