/*
 * proxy_errlog.c — the managed nginx's error log, <log_dir>/nginx.log, owned
 * by tenantd (proxy_internal.h "error log").
 *
 * nginx runs with `error_log stderr` (main.conf.in) and `-e stderr`, and its
 * stdout and stderr are the write end of a pipe whose read end tenantd feeds
 * into the same capture the workers' logs use (logcap.h): lines cut at [logs]
 * line_max, at most rate_lines a second, control bytes escaped, rotated by
 * size into .1 .. .3 at [logs] rotate_size, else 4 MiB (the size of
 * nginx.access.log's share, nginx_logrot.h). Whatever a client makes nginx
 * log, the file cannot outgrow that budget.
 *
 * The write end is non-blocking once nginx has it: when tenantd reads more
 * slowly than nginx writes (the rate limit, a slow disk, tenantd busy), the
 * pipe fills and nginx loses lines instead of blocking its workers, so a
 * flood of errors never stalls the proxy. libuv makes a child's stdio fds
 * blocking, and the flag belongs to the open file description nginx shares
 * with tenantd's copy, so it is set after the spawn.
 *
 * The read end survives an upgrade (upgrade.h): proxy_upgrade_export hands it
 * to the next image with nginx's pidfd, which attaches it to its own capture.
 */
#include "proxy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "logcap.h"
#include "nginx_logrot.h"
#include "sup.h"
#include "upgrade.h"
#include "util.h"

/* The name in tenantd's own log: "nginx" is a reserved tenant id. */
#define ERRLOG_LABEL "nginx"

void proxy_errlog_opts(const struct config_global *g, struct logcap_opts *o)
{
    o->line_max = g->log_line_max;
    o->rate_lines = g->log_rate_lines;
    o->rotate_bytes = g->log_rotate_bytes > 0 ? g->log_rotate_bytes : NGINX_LOGROT_DEFAULT_BYTES;
}

int proxy_errlog_path(const struct proxy *p, char *buf, size_t n)
{
    return util_path_fmt(buf, n, "%s/nginx.log", p->log_dir);
}

/* The capture, opened on first use; its options follow a reload. */
static int errlog_get(struct proxy *p)
{
    struct logcap_opts o;
    char path[PATH_MAX];

    proxy_errlog_opts(&sup_config(p->sup)->g, &o);
    if (p->errlog != NULL) {
        logcap_set_opts(p->errlog, &o);
        return 0;
    }
    if (proxy_errlog_path(p, path, sizeof path) < 0)
        return -ENAMETOOLONG;
    return logcap_open(p->loop, path, ERRLOG_LABEL, &o, &p->errlog);
}

int proxy_errlog_pipe(struct proxy *p)
{
    int fds[2];
    int r = errlog_get(p);

    if (r < 0)
        return r;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    r = logcap_attach_one(p->errlog, fds[0], "stderr"); /* owns fds[0] now */
    if (r < 0) {
        close(fds[1]);
        return r;
    }
    return fds[1];
}

void proxy_errlog_spawned(int wfd)
{
    int fl = fcntl(wfd, F_GETFL);
    if (fl < 0 || fcntl(wfd, F_SETFL, fl | O_NONBLOCK) < 0)
        log_warn(ERRLOG_LABEL, "cannot make nginx's stderr non-blocking: %s", strerror(errno));
}

int proxy_errlog_export(struct proxy *p, json_t *o)
{
    int out = -1, err = -1;

    if (p->errlog == NULL)
        return 0;
    logcap_stream_fds(p->errlog, &out, &err);
    if (err < 0)
        return 0; /* nothing to hand over: the next image's nginx gets a new pipe */
    return upgrade_keep_fd(o, "nginx_log_fd", err);
}

void proxy_errlog_adopt(struct proxy *p, const json_t *o)
{
    int fd = upgrade_take_fd(o, "nginx_log_fd");
    int r;

    if (fd < 0) {
        log_warn(ERRLOG_LABEL, "no error log pipe handed over: nginx's messages are lost until "
                               "it restarts");
        return;
    }
    r = errlog_get(p);
    if (r < 0) {
        close(fd);
        log_warn(ERRLOG_LABEL, "cannot capture nginx's error log: %s", strerror(-r));
        return;
    }
    r = logcap_attach_one(p->errlog, fd, "stderr");
    if (r < 0)
        log_warn(ERRLOG_LABEL, "cannot read nginx's error log pipe: %s", strerror(-r));
}

void proxy_errlog_close(struct proxy *p)
{
    /* What is buffered is still written; the capture frees itself once
     * nginx's last process has closed the pipe. */
    logcap_close(p->errlog);
    p->errlog = NULL;
}
