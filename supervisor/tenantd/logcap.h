/*
 * logcap.h — capture of one tenant's stdout and stderr into
 * <log_dir>/<id>.log (DESIGN.md "Logs"): each line prefixed with an ISO time
 * and the stream name, lines cut at line_max (and marked), at most rate_lines
 * lines per second (then one "N lines dropped" line), rotated by size into
 * .1 .. .3.
 *
 * Writing never blocks the worker or tenantd: lines go to an in-memory
 * buffer, and one write at a time per tenant runs on libuv's thread pool. When
 * the disk is slow or failing, the buffer fills, and further lines are dropped
 * and counted instead of stalling anybody; the worker's pipe is always drained.
 *
 * What it does not do: read logs back (tenantctl logs reads the files).
 */
#ifndef TENANTD_LOGCAP_H
#define TENANTD_LOGCAP_H

#include <stdint.h>
#include <uv.h>

struct logcap;

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

/* Write one line of tenantd's own about this worker ("tenantd" stream). */
void logcap_note(struct logcap *lc, const char *line);

/* Stop capturing; what is buffered is still written, then everything is
 * freed. */
void logcap_close(struct logcap *lc);

#endif
