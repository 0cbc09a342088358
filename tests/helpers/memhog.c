/*
 * memhog.c — a worker for the resource-limit tests through tenantd: it
 * follows the worker contract like miniworker.c (passed socket on fd 3 or
 * PORT, READY=1 on $NOTIFY_SOCKET, GET /healthz 200, exit 0 on SIGTERM) and
 * misbehaves only when asked:
 *   GET /hog     allocate 200 MiB, 1 MiB at a time, touching every page;
 *                answers {"hog": "survived"} if it is not killed first.
 *   GET /forks   fork up to 64 children that wait; answers
 *                {"forked": K, "errno": "EAGAIN"}, then releases and reaps them.
 *   GET /read?PATH   try to open PATH and read a byte from it; answers
 *                {"read": true} or {"read": false, "errno": "ENOENT"} (what a
 *                tenant can see of the host's files).
 * As pid 1 of its pid namespace it also reaps whatever else it inherits.
 * What it does not do: keep-alive, request bodies, anything concurrent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_worker.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

#define HOG_MIB 200
#define FORKS_MAX 64

static void hog(char *body, size_t n)
{
    for (int i = 0; i < HOG_MIB; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            snprintf(body, n, "{\"hog\": \"malloc failed\", \"mib\": %d}\n", i);
            return;
        }
        memset(p, 0x5a, 1 << 20);
        /* Never read: keep the compiler from removing the allocation. */
        __asm__ volatile("" : : "r"(p) : "memory");
    }
    snprintf(body, n, "{\"hog\": \"survived\", \"mib\": %d}\n", HOG_MIB);
}

/* Fork until the pids limit refuses, hold the children until the answer is
 * written, then release and reap them. */
static int gate[2] = {-1, -1};
static pid_t kids[FORKS_MAX];
static int nkids;

static void forks(char *body, size_t n)
{
    int err = 0;
    if (pipe(gate) < 0) {
        snprintf(body, n, "{\"forked\": 0, \"errno\": \"pipe\"}\n");
        return;
    }
    for (nkids = 0; nkids < FORKS_MAX; nkids++) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            char c;
            close(gate[1]);
            ssize_t r = read(gate[0], &c, 1);
            (void)r;
            _exit(0);
        }
        kids[nkids] = p;
    }
    snprintf(body, n, "{\"forked\": %d, \"errno\": \"%s\"}\n", nkids,
             err == EAGAIN ? "EAGAIN"
             : err         ? strerror(err)
                           : "none");
}

static void release_forks(void)
{
    if (gate[1] < 0)
        return;
    close(gate[0]);
    close(gate[1]);
    gate[0] = gate[1] = -1;
    for (int i = 0; i < nkids; i++)
        waitpid(kids[i], NULL, 0);
    nkids = 0;
}

static void try_read(const char *req, char *body, size_t n)
{
    char path[1024];
    const char *q = strchr(req, '?');
    size_t len = q ? strcspn(q + 1, " ") : 0;
    if (q == NULL || len == 0 || len >= sizeof path) {
        snprintf(body, n, "{\"read\": false, \"errno\": \"EINVAL\"}\n");
        return;
    }
    memcpy(path, q + 1, len);
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char b;
    if (fd < 0 || read(fd, &b, 1) < 0) {
        int e = errno;
        snprintf(body, n, "{\"read\": false, \"errno\": \"%s\"}\n", strerrorname_np(e));
    } else {
        snprintf(body, n, "{\"read\": true}\n");
    }
    if (fd >= 0)
        close(fd);
}

static void serve(int c)
{
    char req[4096], body[128];
    if (hw_read_head(c, req, sizeof req, 2000) < 0)
        return;
    int status = 200;
    if (strncmp(req, "GET /healthz ", 13) == 0) {
        snprintf(body, sizeof body, "ok\n");
    } else if (strncmp(req, "GET /hog ", 9) == 0) {
        hog(body, sizeof body);
    } else if (strncmp(req, "GET /forks ", 11) == 0) {
        forks(body, sizeof body);
    } else if (strncmp(req, "GET /read?", 10) == 0) {
        try_read(req, body, sizeof body);
    } else if (strncmp(req, "GET / ", 6) == 0) {
        snprintf(body, sizeof body, "pid=%d\n", (int)getpid());
    } else {
        status = 404;
        snprintf(body, sizeof body, "not found\n");
    }
    hw_respond(c, status, "text/plain", body);
    release_forks();
}

int main(void)
{
    hw_catch_term(on_term);
    int fd = hw_listen_socket(128);
    if (fd < 0) {
        fprintf(stderr, "memhog: no socket\n");
        return 1;
    }
    printf("memhog %d serving\n", (int)getpid());
    fflush(stdout);
    hw_notify("READY=1\nSTATUS=serving", "memhog");
    while (!stop) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "memhog: accept: %s\n", strerror(errno));
            return 1;
        }
        serve(c);
        close(c);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    fprintf(stderr, "memhog: SIGTERM, exiting\n");
    return 0;
}
