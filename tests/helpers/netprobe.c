/*
 * netprobe.c — a hostile tenant's network moves, for
 * tests/integration/test_netcontain.py. It runs as a tenant's worker (passed
 * socket or its own on 127.0.0.1:$PORT, READY=1, GET /healthz) and tries, on
 * request, what issue 12 says a compromised worker tries. Each answer is one
 * line "<what> <port>: ok" or "<what> <port>: <ERRNO>", also printed on
 * stdout (the tenant's log).
 *
 *   GET /bind/P          bind 127.0.0.1:P and listen, then close
 *   GET /bind-any/P      the same on 0.0.0.0:P
 *   GET /bind-src2/P     the same on 127.0.0.2:P (the proxy's source address)
 *   GET /connect/P       connect to 127.0.0.1:P, then close
 *   GET /hammer/P/MS     bind 127.0.0.1:P in a loop for MS ms (at most 10 s),
 *                        1 ms apart: "hammer P: won=W tries=T last=ERRNO"
 *   GET /squat/LO/HI     bind and keep every port of LO..HI (at most 2000):
 *                        "squat LO-HI: held=H refused=R"; kept until exit
 *   GET /healthz, GET /  200
 *
 * At start, before READY=1, it reads $DATA_DIR/netprobe-boot (if present):
 * ports separated by blanks, each tried with bind and printed as
 * "boot-bind P: ...", so a test can show that a tenant started first cannot
 * take the ports of tenants started later.
 *
 * What it does not do: anything on its own beyond that; every loop is
 * bounded; SIGTERM exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper_worker.h"

static volatile sig_atomic_t stop;
static int held[2001];
static int n_held;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *ename(int e)
{
    switch (e) {
    case 0:
        return "ok";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case EADDRINUSE:
        return "EADDRINUSE";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ENETUNREACH:
        return "ENETUNREACH";
    case EADDRNOTAVAIL:
        return "EADDRNOTAVAIL";
    default:
        return strerror(e);
    }
}

/* bind (and listen) on addr:port; returns the fd (keep) or -errno. */
static int try_bind(uint32_t addr, int port, int keep)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (keep)
        return fd;
    close(fd);
    return 0;
}

static int try_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? errno : 0;
    close(fd);
    return r;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void hammer(int port, int ms, char *out, size_t n)
{
    if (ms > 10000)
        ms = 10000;
    int won = 0, tries = 0, last = 0;
    double end = now_ms() + ms;
    while (!stop && now_ms() < end) {
        int fd = try_bind(INADDR_LOOPBACK, port, 1);
        tries++;
        if (fd >= 0) {
            won++;
            last = 0;
            close(fd);
        } else {
            last = -fd;
        }
        usleep(1000);
    }
    snprintf(out, n, "hammer %d: won=%d tries=%d last=%s", port, won, tries, ename(last));
}

static void squat(int lo, int hi, char *out, size_t n)
{
    int refused = 0, got = 0;
    for (int p = lo; p <= hi && p - lo < 2000; p++) {
        int fd = try_bind(INADDR_LOOPBACK, p, 1);
        if (fd >= 0 && n_held < (int)(sizeof held / sizeof held[0])) {
            held[n_held++] = fd;
            got++;
        } else {
            if (fd >= 0)
                close(fd);
            refused++;
        }
    }
    snprintf(out, n, "squat %d-%d: held=%d refused=%d", lo, hi, got, refused);
}

static void boot_binds(void)
{
    const char *dir = getenv("DATA_DIR");
    char path[4096], buf[1024];
    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/netprobe-boot", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (char *tok = strtok(buf, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        int p = atoi(tok);
        int r = try_bind(INADDR_LOOPBACK, p, 0);
        printf("boot-bind %d: %s\n", p, ename(-r));
    }
    fflush(stdout);
}

static void serve(int c)
{
    char req[4096], line[256];
    int a = 0, b = 0;
    if (hw_read_head(c, req, sizeof req, 2000) < 0)
        return;
    line[0] = '\0';
    if (sscanf(req, "GET /bind/%d ", &a) == 1)
        snprintf(line, sizeof line, "bind %d: %s", a, ename(-try_bind(INADDR_LOOPBACK, a, 0)));
    else if (sscanf(req, "GET /bind-any/%d ", &a) == 1)
        snprintf(line, sizeof line, "bind-any %d: %s", a, ename(-try_bind(INADDR_ANY, a, 0)));
    else if (sscanf(req, "GET /bind-src2/%d ", &a) == 1)
        snprintf(line, sizeof line, "bind-src2 %d: %s", a,
                 ename(-try_bind(INADDR_LOOPBACK + 1, a, 0)));
    else if (sscanf(req, "GET /connect/%d ", &a) == 1)
        snprintf(line, sizeof line, "connect %d: %s", a, ename(try_connect(a)));
    else if (sscanf(req, "GET /hammer/%d/%d ", &a, &b) == 2)
        hammer(a, b, line, sizeof line);
    else if (sscanf(req, "GET /squat/%d/%d ", &a, &b) == 2)
        squat(a, b, line, sizeof line);
    else if (strncmp(req, "GET /healthz ", 13) == 0 || strncmp(req, "GET / ", 6) == 0)
        snprintf(line, sizeof line, "netprobe %d", (int)getpid());
    if (!line[0]) {
        hw_respond(c, 404, "text/plain", "not found\n");
        return;
    }
    printf("%s\n", line);
    fflush(stdout);
    strcat(line, "\n");
    hw_respond(c, 200, "text/plain", line);
}

int main(void)
{
    hw_catch_term(on_term);
    boot_binds();
    int fd = hw_listen_socket(128);
    if (fd < 0) {
        fprintf(stderr, "netprobe: no socket: %s\n", strerror(errno));
        return 1;
    }
    hw_notify("READY=1", "netprobe");
    while (!stop) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        serve(c);
        close(c);
    }
    return 0;
}
