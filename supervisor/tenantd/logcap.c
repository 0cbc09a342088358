/*
 * logcap.c — see logcap.h.
 *
 * Life cycle: a struct logcap lives as long as the tenant; each worker start
 * attaches two struct stream (its stdout and stderr pipes), which close
 * themselves at EOF. A write job on the thread pool owns the log file's fd
 * while it runs; the loop thread touches the fd only when no job runs. The
 * logcap is freed when it is closed, no stream is left and no job runs.
 */
#include "logcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define PENDING_MAX (256 * 1024) /* buffered bytes before lines are dropped */
#define ROTATE_KEEP 3

struct buf {
    char *p;
    size_t len, cap;
};

struct logcap {
    uv_loop_t *loop;
    char path[CONFIG_PATH_MAX];
    char tenant[CONFIG_ID_MAX];
    struct logcap_opts o;
    int refs;     /* open streams + 1 for the owner until logcap_close */
    bool closing; /* the owner let go */

    struct buf pending; /* lines waiting for the next write job */
    struct buf job;     /* lines the running job writes */
    bool job_running;
    uv_work_t work;
    int fd; /* the log file; owned by the job while one runs */
    int64_t size;
    int job_err; /* errno of the last failed job */
    uint64_t last_err_log_ms;

    uint64_t window_s; /* rate limit: the current second, lines in it, dropped */
    int window_lines;
    uint64_t dropped;
};

struct stream {
    uv_pipe_t pipe;
    struct logcap *lc;
    const char *name;
    bool cutting; /* the current line was cut: skip to its end */
    size_t len, max;
    char *line; /* line_max + 1 bytes */
};

static void kick(struct logcap *lc);

static void maybe_free(struct logcap *lc)
{
    if (lc->refs > 0 || lc->job_running)
        return;
    if (lc->fd >= 0)
        close(lc->fd);
    free(lc->pending.p);
    free(lc->job.p);
    free(lc);
}

static int buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void timestamp(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, n - len, ".%03dZ", (int)(tv.tv_usec / 1000) % 1000);
}

/* Append one formatted line; false when the buffer is full. */
static bool append_line(struct logcap *lc, const char *stream, const char *text, size_t len,
                        const char *suffix)
{
    char ts[32];
    timestamp(ts, sizeof ts);
    size_t slen = strlen(suffix);
    size_t need = strlen(ts) + 1 + strlen(stream) + 1 + len + slen + 1;
    if (lc->pending.len + need > PENDING_MAX || buf_reserve(&lc->pending, need) < 0)
        return false;
    char *p = lc->pending.p + lc->pending.len;
    p += sprintf(p, "%s %s ", ts, stream);
    memcpy(p, text, len);
    p += len;
    memcpy(p, suffix, slen);
    p += slen;
    *p++ = '\n';
    lc->pending.len = (size_t)(p - lc->pending.p);
    return true;
}

static void flush_dropped(struct logcap *lc)
{
    if (lc->dropped == 0)
        return;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%llu lines dropped", (unsigned long long)lc->dropped);
    if (append_line(lc, "tenantd", msg, (size_t)n, ""))
        lc->dropped = 0;
}

static void emit(struct logcap *lc, const char *stream, const char *text, size_t len,
                 const char *suffix)
{
    uint64_t now_s = uv_now(lc->loop) / 1000;
    if (now_s != lc->window_s) {
        lc->window_s = now_s;
        lc->window_lines = 0;
        flush_dropped(lc);
    }
    if (lc->o.rate_lines > 0 && lc->window_lines >= lc->o.rate_lines) {
        lc->dropped++;
        return;
    }
    lc->window_lines++;
    if (!append_line(lc, stream, text, len, suffix))
        lc->dropped++;
    kick(lc);
}

/* ---- the write job (thread pool) ------------------------------------------ */

static int rotate(struct logcap *lc)
{
    char from[CONFIG_PATH_MAX + 8], to[CONFIG_PATH_MAX + 8];
    for (int i = ROTATE_KEEP - 1; i >= 1; i--) {
        snprintf(from, sizeof from, "%s.%d", lc->path, i);
        snprintf(to, sizeof to, "%s.%d", lc->path, i + 1);
        if (rename(from, to) < 0 && errno != ENOENT)
            return -errno;
    }
    snprintf(to, sizeof to, "%s.1", lc->path);
    if (rename(lc->path, to) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int open_log(struct logcap *lc)
{
    lc->fd = open(lc->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (lc->fd < 0)
        return -errno;
    struct stat st;
    lc->size = fstat(lc->fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

static void job_run(uv_work_t *w)
{
    struct logcap *lc = w->data;
    int rc = 0;
    if (lc->fd < 0 && (rc = open_log(lc)) < 0)
        goto cleanup;
    if (lc->o.rotate_bytes > 0 && lc->size > 0 &&
        lc->size + (int64_t)lc->job.len > lc->o.rotate_bytes) {
        close(lc->fd);
        lc->fd = -1;
        if ((rc = rotate(lc)) < 0 || (rc = open_log(lc)) < 0)
            goto cleanup;
    }
    for (size_t off = 0; off < lc->job.len;) {
        ssize_t n = write(lc->fd, lc->job.p + off, lc->job.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto cleanup;
        }
        off += (size_t)n;
        lc->size += n;
    }
cleanup:
    if (rc < 0 && lc->fd >= 0) {
        /* Reopen next time: the file may have been removed or the disk fixed. */
        close(lc->fd);
        lc->fd = -1;
    }
    lc->job_err = -rc;
    lc->job.len = 0;
}

static void job_done(uv_work_t *w, int status)
{
    struct logcap *lc = w->data;
    lc->job_running = false;
    if (lc->job_err) {
        uint64_t now = uv_now(lc->loop);
        /* Once a minute at most: a full disk must not flood tenantd's log. */
        if (lc->last_err_log_ms == 0 || now - lc->last_err_log_ms > 60000) {
            lc->last_err_log_ms = now;
            log_warn(lc->tenant, "cannot write %s: %s (lines are being lost)", lc->path,
                     strerror(lc->job_err));
        }
    }
    (void)status;
    if (lc->closing && lc->refs == 0 && lc->pending.len == 0) {
        maybe_free(lc);
        return;
    }
    kick(lc);
}

static void kick(struct logcap *lc)
{
    if (lc->job_running || lc->pending.len == 0)
        return;
    struct buf t = lc->job;
    lc->job = lc->pending;
    lc->pending = t;
    lc->pending.len = 0;
    lc->work.data = lc;
    if (uv_queue_work(lc->loop, &lc->work, job_run, job_done) == 0)
        lc->job_running = true;
    else
        lc->job.len = 0;
}

/* ---- the pipes --------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char chunk[65536];
    (void)h;
    (void)suggested;
    /* One static chunk is enough: the loop is single-threaded and every read
     * is consumed before the next one starts. */
    b->base = chunk;
    b->len = sizeof chunk;
}

static void stream_closed(uv_handle_t *h)
{
    struct stream *s = h->data;
    struct logcap *lc = s->lc;
    free(s->line);
    free(s);
    lc->refs--;
    if (lc->closing && lc->refs == 0 && !lc->job_running && lc->pending.len == 0)
        maybe_free(lc);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b)
{
    struct stream *s = h->data;
    struct logcap *lc = s->lc;
    if (nread < 0) {
        if (s->len > 0)
            emit(lc, s->name, s->line, s->len, "");
        s->len = 0;
        flush_dropped(lc);
        kick(lc);
        uv_close((uv_handle_t *)h, stream_closed);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        char c = b->base[i];
        if (c == '\n') {
            if (!s->cutting)
                emit(lc, s->name, s->line, s->len, "");
            s->cutting = false;
            s->len = 0;
        } else if (!s->cutting) {
            if (s->len == s->max) {
                emit(lc, s->name, s->line, s->len, " [cut]");
                s->cutting = true;
                s->len = 0;
            } else {
                s->line[s->len++] = c;
            }
        }
    }
}

static int attach_one(struct logcap *lc, int fd, const char *name)
{
    struct stream *s = calloc(1, sizeof *s);
    size_t max = (size_t)(lc->o.line_max > 0 ? lc->o.line_max : 4096);
    if (!s)
        goto nomem;
    s->line = malloc(max + 1);
    if (!s->line) {
        free(s);
        goto nomem;
    }
    s->lc = lc;
    s->name = name;
    s->max = max;
    int rc = uv_pipe_init(lc->loop, &s->pipe, 0);
    if (rc < 0) {
        free(s->line);
        free(s);
        close(fd);
        return rc;
    }
    s->pipe.data = s;
    lc->refs++;
    rc = uv_pipe_open(&s->pipe, fd);
    if (rc < 0)
        close(fd); /* not the handle's yet */
    else
        rc = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
    if (rc < 0)
        uv_close((uv_handle_t *)&s->pipe, stream_closed);
    return rc;
nomem:
    close(fd);
    return -ENOMEM;
}

int logcap_attach(struct logcap *lc, int out_fd, int err_fd)
{
    int rc1 = attach_one(lc, out_fd, "stdout");
    int rc2 = attach_one(lc, err_fd, "stderr");
    return rc1 < 0 ? rc1 : rc2;
}

void logcap_note(struct logcap *lc, const char *line)
{
    if (append_line(lc, "tenantd", line, strlen(line), ""))
        kick(lc);
}

int logcap_open(uv_loop_t *loop, const char *path, const char *tenant, const struct logcap_opts *o,
                struct logcap **out)
{
    struct logcap *lc = calloc(1, sizeof *lc);
    if (!lc)
        return -ENOMEM;
    if (snprintf(lc->path, sizeof lc->path, "%s", path) >= (int)sizeof lc->path) {
        free(lc);
        return -ENAMETOOLONG;
    }
    snprintf(lc->tenant, sizeof lc->tenant, "%s", tenant);
    lc->loop = loop;
    lc->o = *o;
    lc->fd = -1;
    lc->refs = 1;
    *out = lc;
    return 0;
}

void logcap_set_opts(struct logcap *lc, const struct logcap_opts *o)
{
    /* line_max is fixed per stream buffer; a new value applies to the next
     * worker's streams, which are allocated with it. */
    lc->o = *o;
}

void logcap_close(struct logcap *lc)
{
    if (!lc)
        return;
    lc->closing = true;
    lc->refs--;
    flush_dropped(lc);
    kick(lc);
    if (lc->refs == 0 && !lc->job_running && lc->pending.len == 0)
        maybe_free(lc);
}
