/*
 * tenant-listen — the container image's entrypoint: bind the worker's port, then exec the
 * worker with the listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID=<this pid>), the same
 * socket-activation contract tenantd keeps on a single host (DESIGN.md "The worker contract").
 *
 *   tenant-listen COMMAND [ARGS...]
 *
 * The address is $LISTEN_ADDRESS (default "::", every address, IPv4 too through a dual-stack
 * socket; "0.0.0.0" when the pod has no IPv6), the port $PORT. A chain-loader in the manner
 * of s6's: it exists because the bundled worker, when no socket is passed, binds 127.0.0.1
 * only (right on a host behind nginx, unreachable from a Kubernetes Service). No option, no
 * config file; exit 111 when the socket cannot be made, 127 when the exec fails.
 *
 * What it does not do: accept, supervise or restart. It is gone once the worker runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exitcode.h"

static int die(const char *what)
{
    fprintf(stderr, "tenant-listen: %s: %s\n", what, strerror(errno));
    return EXITCODE_JAIL;
}

/* A listening TCP socket on addr:port, or -1 with errno set. */
static int listen_on(const char *addr, int port)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr *sa;
    socklen_t len;
    int fd, one = 1, zero = 0;

    if (inet_pton(AF_INET6, addr, &s6.sin6_addr) == 1) {
        sa = (struct sockaddr *)&s6;
        len = sizeof s6;
    } else if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
        sa = (struct sockaddr *)&s4;
        len = sizeof s4;
    } else {
        errno = EINVAL;
        return -1;
    }
    fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    /* Dual stack for "::", whatever the pod's net.ipv6.bindv6only says. */
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(fd, sa, len) < 0 ||
        listen(fd, 1024) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int main(int argc, char **argv)
{
    const char *addr = getenv("LISTEN_ADDRESS"), *p = getenv("PORT");
    char *end, pid[24];
    long port;
    int fd;

    if (argc < 2) {
        fprintf(stderr, "usage: tenant-listen COMMAND [ARGS...]   (binds $LISTEN_ADDRESS:$PORT)\n");
        return EXITCODE_JAIL;
    }
    if (addr == NULL || *addr == '\0')
        addr = "::";
    errno = 0;
    port = p ? strtol(p, &end, 10) : 0;
    if (p == NULL || *p == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "tenant-listen: PORT: \"%.16s\" is not a port number\n", p ? p : "");
        return EXITCODE_JAIL;
    }
    fd = listen_on(addr, (int)port);
    /* A pod without IPv6 cannot make a "::" socket: fall back to every IPv4 address. */
    if (fd < 0 && strcmp(addr, "::") == 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
        fd = listen_on("0.0.0.0", (int)port);
    if (fd < 0)
        return die(addr);
    if (fd != 3) {
        if (dup2(fd, 3) < 0)
            return die("dup2");
        close(fd);
    }
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    if (setenv("LISTEN_FDS", "1", 1) < 0 || setenv("LISTEN_PID", pid, 1) < 0)
        return die("setenv");
    execv(argv[1], argv + 1);
    fprintf(stderr, "tenant-listen: %s: %s\n", argv[1], strerror(errno));
    return 127;
}
