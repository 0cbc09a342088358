/*
 * logcap.h — capture of one tenant's stdout and stderr into
 * <log_dir>/<id>.log (DESIGN.md "Logs"): each line prefixed with an ISO time
 * and the stream name, lines cut at line_max (and marked), at most rate_lines
 * lines per second (then one "N lines dropped" line), rotated by size into
 * .1 .. .3 at line boundaries: a file exceeds rotate_bytes by one line at most.
 *
 * Writing never blocks tenantd: lines go to an in-memory buffer, and one
 * write at a time per tenant runs on libuv's thread pool. When the disk is
 * slow or failing, the buffer fills, and further lines are dropped and counted
 * instead of stalling anybody.
 *
 * Reading has a byte budget per tenant, applied before any line is looked at:
 * a token bucket of LOGCAP_BYTES_PER_LINE x rate_lines bytes per second (at
 * least LOGCAP_RATE_MIN), holding one second's worth. When it is empty, both
 * pipes stop being read until a timer says it has refilled, so a worker that
 * writes faster than its budget blocks on its own stdout, in its own cgroup,
 * instead of costing tenantd a core to read and drop what it writes. The
 * pauses are counted, and so are the bytes of the lines dropped.
 *
 * Control bytes are escaped as \xNN when written (every C0 byte but tab, DEL,
 * the C1 controls U+0080..U+009F, and bytes that are not valid UTF-8), so a
 * tenant cannot plant terminal escape sequences for an operator who runs
 * `cat` on its log. A backslash is left alone: "\x1b" in a log may be the
 * tenant's own text, but it does nothing to a terminal.
 *
 * What it does not do: read logs back (tenantctl logs reads the files).
 */
#ifndef TENANTD_LOGCAP_H
#define TENANTD_LOGCAP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct logcap;

#define LOGCAP_BYTES_PER_LINE 1024  /* the byte budget per line of rate_lines */
#define LOGCAP_RATE_MIN (64 * 1024) /* bytes per second, whatever rate_lines says */

/* What the capture had to hold back or drop since logcap_open. */
struct logcap_stats {
    uint64_t bytes_read;    /* from the worker's pipes */
    uint64_t lines_dropped; /* over rate_lines, or the buffer was full */
    uint64_t bytes_dropped; /* the text of those lines */
    uint64_t pauses;        /* times reading stopped because the budget was spent */
    uint64_t paused_ms;     /* time spent paused, summed over the streams */
};

struct logcap_opts {
    int line_max;         /* bytes of a line kept; the rest is cut */
    int rate_lines;       /* lines per second kept */
    int64_t rotate_bytes; /* size at which the file rotates */
};

/* `path` is the log file; `tenant` names it in tenantd's own log. */
int logcap_open(uv_loop_t *loop, const char *path, const char *tenant, const struct logcap_opts *o,
                struct logcap **out);
void logcap_set_opts(struct logcap *lc, const struct logcap_opts *o);

/* Start reading a new worker's stdout and stderr (non-blocking read ends);
 * takes ownership of both fds, even on error. */
int logcap_attach(struct logcap *lc, int out_fd, int err_fd);

/* The byte budget per second that `o` gives (see above). Pure. */
int64_t logcap_rate_bytes(const struct logcap_opts *o);

/* Escape one line for the log file into out (see above), which must hold
 * 4 * len bytes; returns the bytes written. Pure. */
size_t logcap_escape(const char *text, size_t len, char *out);

/* The bytes of job[off..len) that go into a file of `size` bytes before it
 * must rotate at rotate_bytes (0: none): whole lines only; 0 means rotate
 * first; an empty file takes at least one line. Pure. */
size_t logcap_take(const char *job, size_t off, size_t len, int64_t size, int64_t rotate_bytes);

void logcap_stats(const struct logcap *lc, struct logcap_stats *st);

/* The read ends of the current worker's pipes, -1 when closed: what an
 * upgrade (upgrade.h) hands to the next image, which logcap_attach()es them. */
void logcap_stream_fds(const struct logcap *lc, int *out_fd, int *err_fd);
/* One of the two ("stdout" or "stderr"), for a pipe handed over that way. */
int logcap_attach_one(struct logcap *lc, int fd, const char *name);

/* Write one line of tenantd's own about this worker ("tenantd" stream). */
void logcap_note(struct logcap *lc, const char *line);

/* Stop capturing; what is buffered is still written, then everything is
 * freed. */
void logcap_close(struct logcap *lc);

/* Bytes of this module's structs that one running worker's capture holds
 * (the capture and its two streams; the line and write buffers come and go
 * with the output), for the per-tenant memory figure (tests/unit/tenantd/footprint.c). */
size_t logcap_footprint(void);

#endif
