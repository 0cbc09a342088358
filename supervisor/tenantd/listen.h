/*
 * listen.h — the listening sockets tenantd holds for its tenants
 * (DESIGN.md "Socket activation"). tenantd binds 127.0.0.1:<port> once and
 * keeps the socket across restarts of the worker, so a client that connects
 * while the worker is down waits in the backlog instead of being refused.
 *
 * The socket is close-on-exec in tenantd, so no other child inherits it;
 * spawn.c dup2()s it to fd 3 in the one child that should have it. It stays
 * blocking: O_NONBLOCK lives on the shared open file description and would
 * surprise a worker that expects a plain blocking socket.
 *
 * What it does not do: accept. tenantd never accepts on a tenant's socket.
 */
#ifndef TENANTD_LISTEN_H
#define TENANTD_LISTEN_H

#define LISTEN_BACKLOG 1024

/* Bind and listen on host:port (IPv4). Returns the fd, or -errno. */
int listen_tcp(const char *host, int port);

#endif
