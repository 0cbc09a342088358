/*
 * logcap.c — see logcap.h.
 *
 * Life cycle: a struct logcap lives as long as the tenant; each worker start
 * attaches two struct stream (its stdout and stderr pipes), which close
 * themselves at EOF. A write job on the thread pool owns the log file's fd
 * while it runs; the loop thread touches the fd only when no job runs. The
 * logcap is freed when it is closed, no stream is left and no job runs.
 *
 * Back-pressure: the token bucket lives in the logcap (one budget for both
 * streams). on_alloc never offers more buffer than there are tokens, so a
 * read cannot overspend; when the bucket is empty it offers none, libuv
 * answers UV_ENOBUFS, and the stream stops reading and arms its own timer for
 * the moment a chunk's worth has refilled (the timer is allocated at a
 * stream's first pause). A stream owns its pipe and timer and is freed when
 * both are closed.
 */
#include "logcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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
#define CHUNK (64 * 1024)        /* the most one read takes */
#define RESUME_MIN_MS 10         /* the shortest pause: fewer, larger reads */
#define ROTATE_KEEP 3

struct buf {
    char *p;
    size_t len, cap;
};

struct logcap {
    uv_loop_t *loop;
    char *path; /* owned; exact length (a thousand tenants, one each) */
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
    uint64_t dropped, dropped_bytes; /* not reported yet */
    uint64_t pauses_noted;           /* st.pauses when last reported */

    int64_t tokens; /* byte budget: bytes that may be read now */
    uint64_t tokens_ms;
    struct logcap_stats st;
    struct stream *cur[2]; /* the current worker's stdout and stderr (upgrade hand-off) */
};

struct stream {
    uv_pipe_t pipe;
    /* While paused: when the budget has refilled. Allocated at the first
     * pause (most workers never spend their budget), then kept. */
    uv_timer_t *resume;
    int open_handles; /* pipe, and the timer once there is one; freed at 0 */
    bool paused;
    uint64_t paused_at_ms;
    struct logcap *lc;
    const char *name;
    bool cutting; /* the current line was cut: skip to its end */
    size_t len, max;
    size_t cap; /* of line: grown on demand up to max, 0 until the first byte */
    char *line;
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
    free(lc->path);
    free(lc);
}

/* A quiet worker writes a line now and then: between bursts its logcap holds
 * no buffer (memory per tenant is what a thousand tenants multiply). */
static void buf_release(struct buf *b)
{
    free(b->p);
    *b = (struct buf){0};
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

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0. Strict:
 * no overlong forms, no surrogates, nothing above U+10FFFF, since a lenient
 * terminal could decode an overlong form into a control character. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (len > n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

size_t logcap_escape(const char *text, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    char *o = out;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = 1;
        bool esc;
        if (c < 0x80) {
            esc = (c < 0x20 && c != '\t') || c == 0x7f;
        } else {
            n = utf8_seq(p + i, len - i);
            /* U+0080..U+009F, the C1 controls, are C2 80..C2 9F. */
            esc = n == 0 || (n == 2 && c == 0xc2 && p[i + 1] <= 0x9f);
            if (n == 0)
                n = 1;
        }
        for (size_t k = 0; k < n; k++) {
            if (esc) {
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[p[i + k] >> 4];
                *o++ = hex[p[i + k] & 15];
            } else {
                *o++ = (char)p[i + k];
            }
        }
        i += n;
    }
    return (size_t)(o - out);
}

/* Append one formatted line; false when the buffer is full. */
static bool append_line(struct logcap *lc, const char *stream, const char *text, size_t len,
                        const char *suffix)
{
    char ts[32];
    timestamp(ts, sizeof ts);
    size_t slen = strlen(suffix);
    /* Room for the worst case, four bytes per byte escaped; the limit is
     * checked against the same worst case, so a full buffer is never
     * overrun. */
    size_t need = strlen(ts) + 1 + strlen(stream) + 1 + 4 * len + slen + 1;
    if (lc->pending.len + need > PENDING_MAX || buf_reserve(&lc->pending, need) < 0)
        return false;
    char *p = lc->pending.p + lc->pending.len;
    p += sprintf(p, "%s %s ", ts, stream);
    p += logcap_escape(text, len, p);
    memcpy(p, suffix, slen);
    p += slen;
    *p++ = '\n';
    lc->pending.len = (size_t)(p - lc->pending.p);
    return true;
}

static void flush_dropped(struct logcap *lc)
{
    if (lc->dropped == 0 && lc->st.pauses == lc->pauses_noted)
        return;
    char msg[192];
    int n;
    if (lc->st.pauses == lc->pauses_noted)
        n = snprintf(msg, sizeof msg, "%llu lines dropped (%llu bytes)",
                     (unsigned long long)lc->dropped, (unsigned long long)lc->dropped_bytes);
    else
        n = snprintf(msg, sizeof msg,
                     "%llu lines dropped (%llu bytes); output over %lld bytes/s: reading paused "
                     "%llu times",
                     (unsigned long long)lc->dropped, (unsigned long long)lc->dropped_bytes,
                     (long long)logcap_rate_bytes(&lc->o),
                     (unsigned long long)(lc->st.pauses - lc->pauses_noted));
    if (append_line(lc, "tenantd", msg, (size_t)n, "")) {
        lc->dropped = 0;
        lc->dropped_bytes = 0;
        lc->pauses_noted = lc->st.pauses;
    }
}

static void drop(struct logcap *lc, size_t len)
{
    lc->dropped++;
    lc->dropped_bytes += len;
    lc->st.lines_dropped++;
    lc->st.bytes_dropped += len;
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
        drop(lc, len);
        return;
    }
    lc->window_lines++;
    if (!append_line(lc, stream, text, len, suffix))
        drop(lc, len);
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

/* How much of job[off..len) goes into the current file: all of it when it
 * fits under rotate_bytes, else the whole lines that fit; 0 = rotate first.
 * An empty file takes at least one line, however long, so a file never
 * exceeds rotate_bytes but by a single line. */
size_t logcap_take(const char *job, size_t off, size_t len, int64_t size, int64_t rotate_bytes)
{
    size_t left = len - off;
    if (rotate_bytes <= 0 || size + (int64_t)left <= rotate_bytes)
        return left;
    int64_t room = rotate_bytes - size;
    if (room > 0) {
        const char *nl = memrchr(job + off, '\n', (size_t)room < left ? (size_t)room : left);
        if (nl != NULL)
            return (size_t)(nl - (job + off)) + 1;
    }
    if (size > 0)
        return 0;
    const char *nl = memchr(job + off, '\n', left);
    return nl != NULL ? (size_t)(nl - (job + off)) + 1 : left;
}

static void job_run(uv_work_t *w)
{
    struct logcap *lc = w->data;
    int rc = 0;
    if (lc->fd < 0 && (rc = open_log(lc)) < 0)
        goto cleanup;
    /* Rotation at line boundaries inside the job too: a burst read at once
     * is spread over the files instead of overfilling one. */
    for (size_t off = 0; off < lc->job.len;) {
        size_t end = off + logcap_take(lc->job.p, off, lc->job.len, lc->size, lc->o.rotate_bytes);
        if (end == off) {
            close(lc->fd);
            lc->fd = -1;
            if ((rc = rotate(lc)) < 0 || (rc = open_log(lc)) < 0)
                goto cleanup;
            continue;
        }
        while (off < end) {
            ssize_t n = write(lc->fd, lc->job.p + off, end - off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                goto cleanup;
            }
            off += (size_t)n;
            lc->size += n;
        }
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
    if (lc->pending.len == 0) {
        buf_release(&lc->job);
        buf_release(&lc->pending);
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

int64_t logcap_rate_bytes(const struct logcap_opts *o)
{
    int64_t r = (int64_t)(o->rate_lines > 0 ? o->rate_lines : 0) * LOGCAP_BYTES_PER_LINE;
    return r < LOGCAP_RATE_MIN ? LOGCAP_RATE_MIN : r;
}

/* Add what has accrued since the last refill; the bucket holds one second. */
static void refill(struct logcap *lc)
{
    uint64_t now = uv_now(lc->loop);
    int64_t rate = logcap_rate_bytes(&lc->o);
    if (lc->tokens_ms == 0) {
        lc->tokens = rate;
    } else if (now > lc->tokens_ms) {
        uint64_t dt = now - lc->tokens_ms;
        lc->tokens = dt >= 1000 ? rate : lc->tokens + (int64_t)(dt * (uint64_t)rate / 1000);
    }
    if (lc->tokens > rate)
        lc->tokens = rate;
    lc->tokens_ms = now;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char chunk[CHUNK];
    struct stream *s = h->data;
    struct logcap *lc = s->lc;
    (void)suggested;
    refill(lc);
    /* One static chunk is enough: the loop is single-threaded and every read
     * is consumed before the next one starts. Never more than the budget:
     * zero bytes make libuv answer UV_ENOBUFS, and on_read pauses. */
    b->base = chunk;
    b->len = lc->tokens <= 0 ? 0 : lc->tokens < CHUNK ? (size_t)lc->tokens : CHUNK;
}

static void stream_handle_closed(uv_handle_t *h)
{
    struct stream *s = h->data;
    if (h != (uv_handle_t *)&s->pipe)
        free(h); /* the resume timer */
    if (--s->open_handles > 0)
        return;
    struct logcap *lc = s->lc;
    if (s->paused)
        lc->st.paused_ms += uv_now(lc->loop) - s->paused_at_ms;
    for (int i = 0; i < 2; i++)
        if (lc->cur[i] == s)
            lc->cur[i] = NULL;
    free(s->line);
    free(s);
    lc->refs--;
    if (lc->closing && lc->refs == 0 && !lc->job_running && lc->pending.len == 0)
        maybe_free(lc);
}

static void stream_close(struct stream *s)
{
    uv_close((uv_handle_t *)&s->pipe, stream_handle_closed);
    if (s->resume)
        uv_close((uv_handle_t *)s->resume, stream_handle_closed);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b);

static void on_resume(uv_timer_t *t)
{
    struct stream *s = t->data;
    struct logcap *lc = s->lc;
    s->paused = false;
    lc->st.paused_ms += uv_now(lc->loop) - s->paused_at_ms;
    int rc = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
    if (rc < 0)
        stream_close(s);
}

/* The budget is spent: stop reading this pipe, so the worker blocks on it,
 * until a chunk's worth (or a second's, if less) has refilled. */
static void pause_stream(struct stream *s)
{
    struct logcap *lc = s->lc;
    int64_t rate = logcap_rate_bytes(&lc->o);
    int64_t want = rate < CHUNK ? rate : CHUNK;
    int64_t missing = want - (lc->tokens > 0 ? lc->tokens : 0);
    uint64_t ms = missing > 0 ? (uint64_t)((missing * 1000 + rate - 1) / rate) : 0;
    if (ms < RESUME_MIN_MS)
        ms = RESUME_MIN_MS;
    if (!s->resume) {
        if (!(s->resume = malloc(sizeof *s->resume))) {
            /* Without a timer it would never read again: stop capturing
             * this stream rather than leave the worker blocked on it. */
            log_error(lc->tenant, "out of memory: no longer capturing the worker's %s", s->name);
            stream_close(s);
            return;
        }
        uv_timer_init(lc->loop, s->resume); /* cannot fail */
        s->resume->data = s;
        s->open_handles++;
    }
    uv_read_stop((uv_stream_t *)&s->pipe);
    s->paused = true;
    s->paused_at_ms = uv_now(lc->loop);
    lc->st.pauses++;
    uv_timer_start(s->resume, on_resume, ms, 0);
}

/* The line buffer grows by doubling from 128 bytes up to line_max: most
 * workers never write a long line, many write none. */
static int line_grow(struct stream *s)
{
    size_t cap = s->cap ? s->cap * 2 : 128;
    if (cap > s->max)
        cap = s->max;
    char *p = realloc(s->line, cap);
    if (!p)
        return -ENOMEM;
    s->line = p;
    s->cap = cap;
    return 0;
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b)
{
    struct stream *s = h->data;
    struct logcap *lc = s->lc;
    if (nread == UV_ENOBUFS) {
        pause_stream(s);
        return;
    }
    if (nread < 0) {
        if (s->len > 0)
            emit(lc, s->name, s->line, s->len, "");
        s->len = 0;
        flush_dropped(lc);
        kick(lc);
        stream_close(s);
        return;
    }
    lc->tokens -= nread;
    lc->st.bytes_read += (uint64_t)nread;
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
            } else if (s->len < s->cap || line_grow(s) == 0) {
                s->line[s->len++] = c;
            } else {
                /* No memory for a longer line: cut it here, as at line_max. */
                emit(lc, s->name, s->line, s->len, " [cut]");
                s->cutting = true;
                s->len = 0;
            }
        }
    }
    /* Spent: pause now rather than wait for the next read's UV_ENOBUFS,
     * which would cost one more wake-up. */
    if (lc->tokens <= 0)
        pause_stream(s);
}

static int attach_one(struct logcap *lc, int fd, const char *name)
{
    struct stream *s = calloc(1, sizeof *s);
    size_t max = (size_t)(lc->o.line_max > 0 ? lc->o.line_max : 4096);
    if (!s)
        goto nomem;
    s->lc = lc;
    s->name = name;
    s->max = max;
    int rc = uv_pipe_init(lc->loop, &s->pipe, 0);
    if (rc < 0) {
        free(s);
        close(fd);
        return rc;
    }
    s->pipe.data = s;
    s->open_handles = 1;
    lc->refs++;
    lc->cur[strcmp(name, "stdout") == 0 ? 0 : 1] = s;
    rc = uv_pipe_open(&s->pipe, fd);
    if (rc < 0)
        close(fd); /* not the handle's yet */
    else
        rc = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
    if (rc < 0)
        stream_close(s);
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

int logcap_attach_one(struct logcap *lc, int fd, const char *name)
{
    return attach_one(lc, fd, strcmp(name, "stdout") == 0 ? "stdout" : "stderr");
}

void logcap_stream_fds(const struct logcap *lc, int *out_fd, int *err_fd)
{
    int *fds[2] = {out_fd, err_fd};
    for (int i = 0; i < 2; i++) {
        uv_os_fd_t fd = -1;
        const struct stream *s = lc->cur[i];
        if (!s || uv_is_closing((const uv_handle_t *)&s->pipe) ||
            uv_fileno((const uv_handle_t *)&s->pipe, &fd) < 0)
            fd = -1;
        *fds[i] = fd;
    }
}

void logcap_stats(const struct logcap *lc, struct logcap_stats *st)
{
    *st = lc->st;
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
    if (strlen(path) >= CONFIG_PATH_MAX) {
        free(lc);
        return -ENAMETOOLONG;
    }
    lc->path = strdup(path);
    if (!lc->path) {
        free(lc);
        return -ENOMEM;
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

size_t logcap_footprint(void)
{
    return sizeof(struct logcap) + 2 * sizeof(struct stream);
}
