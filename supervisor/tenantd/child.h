/*
 * child.h — tenantd's one runner of a short-lived child command on the loop:
 * spawn it (libuv reaps it), read its stdout and stderr into bounded buffers
 * without ever blocking, kill it past a time limit, and report once, after
 * every handle it used is closed. The proxy runs `nginx -t` and the external
 * test and reload commands with it; onboarding runs
 * `tenant-worker --create-admin` with it.
 *
 * What it does not do: long-running children (the workers are spawn.c's, the
 * managed nginx is proxy_nginx.c's), a shell (the caller passes /bin/sh -c
 * when it wants one), or interpreting the output.
 */
#ifndef TENANTD_CHILD_H
#define TENANTD_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Bytes kept of each stream; the rest is read and dropped, so the child never
 * blocks on a full pipe. */
#define CHILD_OUTPUT_MAX 8192

struct child;

struct child_opts {
    char *const *argv;     /* argv[0] is looked up in PATH when it has no slash */
    char *const *env;      /* NULL: tenantd's own environment */
    const char *cwd;       /* NULL: tenantd's */
    bool merge_stderr;     /* stderr goes into out too (err stays "") */
    uint64_t timeout_ms;   /* 0: no limit; else SIGKILL past it */
    const char *log_label; /* names the command in the time-limit warning; NULL: silent */
};

/* What the callback gets. The buffers are NUL-terminated, belong to the runner
 * and are wiped and freed when the callback returns; the callback may edit
 * them in place. */
struct child_result {
    int64_t status; /* exit status (0 when killed) */
    int sig;        /* the signal that ended it, 0 when it exited */
    bool timed_out; /* the runner killed it past timeout_ms */
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
};

typedef void (*child_done_fn)(void *arg, struct child_result *r);

/*
 * Start the command. stdin is /dev/null. `done(arg, result)` is called exactly
 * once on the loop, after the child was reaped, its output read to EOF (or
 * given up on, 2 s after a kill) and every handle closed; the runner frees
 * itself after the callback. Returns 0 and *out (valid until `done` runs), or
 * a negative errno with a message in err; then `done` is never called and
 * nothing is left to free.
 */
int child_start(uv_loop_t *loop, const struct child_opts *o, child_done_fn done, void *arg,
                struct child **out, char *err, size_t errlen);

/* The child's pid while it runs, else 0. */
int child_pid(const struct child *c);

/* SIGKILL the child if it still runs, and stop waiting for its output once it
 * has exited. `done` is still called. */
void child_kill(struct child *c);

#endif
