/*
 * miniworker.c — a minimal worker for the supervisor's integration tests, so
 * they do not depend on the real tenant-worker. It follows the worker
 * contract: it serves on the passed socket (fd 3, LISTEN_FDS=1) or binds
 * 127.0.0.1:$PORT itself, sends READY=1 to $NOTIFY_SOCKET, answers
 * GET /healthz with 200 and GET / with its pid, and exits 0 on SIGTERM.
 *
 * Test knobs are files in $DATA_DIR, read at each request or at start:
 *   no-ready    do not send READY=1 (readiness must come from /healthz)
 *   unhealthy   answer /healthz with 500
 * What it does not do: keep-alive, request bodies, anything concurrent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int knob(const char *name)
{
    const char *dir = getenv("DATA_DIR");
    char path[4096];
    if (!dir)
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    if (!path || !*path || strlen(path) >= sizeof sa.sun_path)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    const char msg[] = "READY=1\nSTATUS=serving";
    if (sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
        fprintf(stderr, "miniworker: notify: %s\n", strerror(errno));
    close(fd);
}

static int own_socket(void)
{
    const char *port = getenv("PORT");
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || !port)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve(int c)
{
    char req[4096], body[128], resp[512];
    size_t len = 0;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (len < sizeof req - 1) {
        ssize_t n = read(c, req + len, sizeof req - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    int status = 200;
    if (strncmp(req, "GET /healthz ", 13) == 0) {
        status = knob("unhealthy") ? 500 : 200;
        snprintf(body, sizeof body, "%s\n", status == 200 ? "ok" : "unhealthy");
    } else if (strncmp(req, "GET / ", 6) == 0) {
        snprintf(body, sizeof body, "pid=%d\n", (int)getpid());
    } else {
        status = 404;
        snprintf(body, sizeof body, "not found\n");
    }
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Error", strlen(body), body);
    ssize_t w = write(c, resp, (size_t)n);
    (void)w;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *lfds = getenv("LISTEN_FDS");
    int fd = lfds && atoi(lfds) >= 1 ? 3 : own_socket();
    if (fd < 0) {
        fprintf(stderr, "miniworker: no socket\n");
        return 1;
    }
    printf("miniworker %d serving\n", (int)getpid());
    fflush(stdout);
    if (!knob("no-ready"))
        notify_ready();
    while (!stop) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "miniworker: accept: %s\n", strerror(errno));
            return 1;
        }
        serve(c);
        close(c);
    }
    fprintf(stderr, "miniworker: SIGTERM, exiting\n");
    return 0;
}
