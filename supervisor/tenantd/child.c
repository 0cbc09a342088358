/*
 * child.c — see child.h. One struct child per command: a process handle, one
 * or two pipes and a timer, all counted in `open`; the result is delivered
 * from the last close callback, so the owner never sees a handle of the
 * runner still alive after its callback.
 *
 * The order of events is not fixed: the exit may be reported before the
 * output is read, or the output may stay open after the exit (a grandchild
 * holding the pipe). The runner finishes when it has the exit and both EOFs;
 * after a kill it stops waiting for output 2 s after the exit.
 *
 * What it does not do: decide what a status means (the callers do).
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define KILL_GRACE_MS 2000 /* after a kill: how long output may stay open */

struct child;

struct child_stream {
    struct child *c;
    uv_pipe_t pipe;
    bool used, eof;
    char buf[CHILD_OUTPUT_MAX];
    size_t len;
};

struct child {
    child_done_fn done;
    void *arg;
    char label[64];
    uint64_t timeout_ms;

    uv_process_t proc;
    uv_timer_t timer;
    struct child_stream out, err;
    int open; /* handles not yet closed */
    bool exited, killed, timed_out, finishing, spawn_failed;
    int64_t status;
    int sig;
};

static void on_closed(uv_handle_t *h)
{
    struct child *c = h->data;
    if (--c->open > 0)
        return;
    if (!c->spawn_failed) {
        struct child_result r = {
            .status = c->status,
            .sig = c->sig,
            .timed_out = c->timed_out,
            .out = c->out.buf,
            .out_len = c->out.len,
            .err = c->err.buf,
            .err_len = c->err.len,
        };
        c->done(c->arg, &r);
    }
    /* The output may hold a password (--create-admin). */
    explicit_bzero(c->out.buf, sizeof c->out.buf);
    explicit_bzero(c->err.buf, sizeof c->err.buf);
    free(c);
}

static void close_one(struct child *c, uv_handle_t *h)
{
    h->data = c;
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

static void finish_if_done(struct child *c)
{
    if (c->finishing || !c->exited)
        return;
    if ((c->out.used && !c->out.eof) || (c->err.used && !c->err.eof))
        return;
    c->finishing = true;
    uv_timer_stop(&c->timer);
    close_one(c, (uv_handle_t *)&c->timer);
    close_one(c, (uv_handle_t *)&c->proc);
    if (c->out.used)
        close_one(c, (uv_handle_t *)&c->out.pipe);
    if (c->err.used)
        close_one(c, (uv_handle_t *)&c->err.pipe);
}

/* The child is gone but something still holds its output open. */
static void give_up_output(struct child *c)
{
    struct child_stream *sts[] = {&c->out, &c->err};
    for (size_t i = 0; i < 2; i++) {
        if (sts[i]->used && !sts[i]->eof) {
            uv_read_stop((uv_stream_t *)&sts[i]->pipe);
            sts[i]->eof = true;
        }
    }
    finish_if_done(c);
}

static void on_timeout(uv_timer_t *t)
{
    struct child *c = t->data;
    if (c->exited) {
        give_up_output(c);
        return;
    }
    if (!c->killed) {
        c->timed_out = true;
        if (c->label[0])
            log_warn(NULL, "%s: command pid %d ran for %llu s, killing it", c->label, c->proc.pid,
                     (unsigned long long)(c->timeout_ms / 1000));
    }
    c->killed = true;
    uv_process_kill(&c->proc, SIGKILL);
    uv_timer_start(&c->timer, on_timeout, KILL_GRACE_MS, 0);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct child *c = p->data;
    c->exited = true;
    c->status = status;
    c->sig = sig;
    /* After a kill, output still open is held by something else: give it a
     * short grace, not the whole time limit. */
    if (c->killed)
        uv_timer_start(&c->timer, on_timeout, KILL_GRACE_MS, 0);
    finish_if_done(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[4096];
    struct child_stream *st = h->data;
    size_t room = sizeof st->buf - 1 - st->len;

    (void)suggested;
    /* Past the cap the output is read and dropped, so the child never blocks. */
    if (room == 0)
        *buf = uv_buf_init(sink, sizeof sink);
    else
        *buf = uv_buf_init(st->buf + st->len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct child_stream *st = s->data;

    if (n > 0 && buf->base == st->buf + st->len) {
        st->len += (size_t)n;
        st->buf[st->len] = '\0';
    }
    if (n < 0) {
        uv_read_stop(s);
        st->eof = true;
        finish_if_done(st->c);
    }
}

static void stream_open(uv_loop_t *loop, struct child *c, struct child_stream *st, uv_file fd)
{
    st->c = c;
    st->used = true;
    uv_pipe_init(loop, &st->pipe, 0);
    uv_pipe_open(&st->pipe, fd);
    st->pipe.data = st;
    c->open++;
    uv_read_start((uv_stream_t *)&st->pipe, on_alloc, on_read);
}

int child_start(uv_loop_t *loop, const struct child_opts *o, child_done_fn done, void *arg,
                struct child **out, char *err, size_t errlen)
{
    uv_file fo[2] = {-1, -1}, fe[2] = {-1, -1};
    int r;

    *out = NULL;
    struct child *c = calloc(1, sizeof *c);
    if (c == NULL) {
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->done = done;
    c->arg = arg;
    c->timeout_ms = o->timeout_ms;
    if (o->log_label)
        snprintf(c->label, sizeof c->label, "%s", o->log_label);
    r = uv_pipe(fo, 0, 0);
    if (r == 0 && !o->merge_stderr)
        r = uv_pipe(fe, 0, 0);
    if (r < 0) {
        util_seterr(err, errlen, "pipe: %s", uv_strerror(r));
        goto fail;
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fo[1]},
        {.flags = UV_INHERIT_FD, .data.fd = o->merge_stderr ? fo[1] : fe[1]},
    };
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = o->argv[0],
        .args = (char **)o->argv,
        .env = (char **)o->env,
        .cwd = o->cwd,
        .stdio_count = 3,
        .stdio = stdio,
    };
    c->proc.data = c;
    r = uv_spawn(loop, &c->proc, &po);
    close(fo[1]);
    if (fe[1] >= 0)
        close(fe[1]);
    fo[1] = fe[1] = -1;
    if (r < 0) {
        util_seterr(err, errlen, "cannot run %s: %s", o->argv[0], uv_strerror(r));
        /* libuv asks for the handle to be closed even when the spawn failed;
         * the runner is freed in its close callback, without a report. */
        close(fo[0]);
        if (fe[0] >= 0)
            close(fe[0]);
        c->spawn_failed = true;
        c->open = 1;
        uv_close((uv_handle_t *)&c->proc, on_closed);
        return r;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open = 2;
    stream_open(loop, c, &c->out, fo[0]);
    if (fe[0] >= 0)
        stream_open(loop, c, &c->err, fe[0]);
    if (o->timeout_ms > 0)
        uv_timer_start(&c->timer, on_timeout, o->timeout_ms, 0);
    *out = c;
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (fo[i] >= 0)
            close(fo[i]);
        if (fe[i] >= 0)
            close(fe[i]);
    }
    free(c);
    return r;
}

int child_pid(const struct child *c)
{
    return c->exited ? 0 : c->proc.pid;
}

void child_kill(struct child *c)
{
    if (c->finishing)
        return;
    if (c->exited) {
        give_up_output(c);
        return;
    }
    c->killed = true;
    uv_process_kill(&c->proc, SIGKILL);
}
