/*
 * proxy_internal.h — what the files of tenantd's proxy share: struct proxy
 * and the functions one file calls in another. proxy.c applies a change
 * (render, stage, test, swap, reload) and owns start and stop;
 * proxy_files.c renders the candidate and writes the suspended pages;
 * proxy_nginx.c supervises the managed nginx; proxy_errlog.c captures its
 * error log. Nothing outside these files
 * includes it: the rest of tenantd sees proxy.h.
 */
#ifndef TENANTD_PROXY_INTERNAL_H
#define TENANTD_PROXY_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "backoff.h"
#include "child.h"
#include "config.h"
#include "proxy.h"
#include "proxy_render.h"

#define STOP_GRACE_MS 5000 /* SIGTERM to SIGKILL for nginx on stop */
#define READY_POLL_MS 20   /* waiting for nginx's pid file before a SIGHUP */
#define TEMPLATE_MAX (1 << 20)

typedef void (*cmd_done_fn)(struct proxy *p, bool ok, const char *output);

/* The ids of the suspended tenants of one rendering, sorted (strcmp). */
struct page_ids {
    char (*id)[CONFIG_ID_MAX];
    size_t n;
};

struct proxy_digest {
    bool set;
    unsigned char h[32];
};

struct proxy {
    uv_loop_t *loop;
    struct sup *sup;
    enum proxy_mode mode;

    char prefix[PATH_MAX];  /* <run_dir>/nginx */
    char log_dir[PATH_MAX]; /* where nginx.log goes */

    uv_timer_t debounce; /* change hook -> apply */
    uv_timer_t nginx_tm; /* restart backoff, readiness poll, stop grace */
    int handles;         /* open handles and the runner (see the file comment) */

    /* The command running now, if any (child.h). */
    struct child *cmd;
    char cmd_out[CHILD_OUTPUT_MAX];
    cmd_done_fn cmd_done;

    /* The managed nginx. */
    uv_process_t nginx;
    bool nginx_running;
    bool nginx_handle_open; /* from a spawn attempt until its close callback */
    bool nginx_waiting;     /* a restart is scheduled on nginx_tm */
    bool reload_pending;    /* SIGHUP owed once nginx is ready */
    uint64_t nginx_started_ms;
    /* A master handed over by the previous image (upgrade.h) is no
     * uv_process_t: it is watched by its pidfd instead. */
    bool adopted;
    pid_t adopted_pid;
    int adopted_pidfd;
    uv_poll_t adopted_poll;
    struct logcap *errlog; /* nginx's stderr into <log_dir>/nginx.log (proxy_errlog.c) */
    struct backoff bo;     /* nginx's deaths since its last stable run */
    int64_t backoff_ms;    /* the delay before the next restart */

    /* The apply in progress and what is live. */
    bool applying, dirty;
    /* Digests of the applied text and of the last text refused by the test
     * (not the text: 30 MB at 10,000 tenants). */
    struct proxy_digest live_d, failed_d;
    struct proxy_rendered cand; /* the candidate under test */
    struct page_ids cand_pages; /* the candidate's suspended pages */
    struct page_ids live_pages; /* the live configuration's */
    char *ext_previous;         /* external: the output file before the candidate */
    bool ext_had_previous;
    unsigned generation;

    uint64_t reloads, failures, nginx_starts;
    char last_error[2048];

    bool stopping;
    void (*done)(void *);
    void *done_arg;
};

/* proxy.c */
void proxy_close_handle(struct proxy *p, uv_handle_t *h);

/* proxy_files.c: files under the prefix, and the candidate. */
void proxy_remove_flat_dir(const char *dir);
/* BLAKE2b of a candidate's main and tenants text; equal digests, equal text. */
void proxy_digest_of(const struct proxy_rendered *r, struct proxy_digest *d);
bool proxy_digest_same(const struct proxy_digest *a, const struct proxy_digest *b);
/* The number of the conf.<n> the live link points to, 0 when there is none. */
unsigned proxy_live_generation(const struct proxy *p);
bool proxy_page_ids_has(const struct page_ids *s, const char *id);
void proxy_page_ids_clear(struct page_ids *s);
/* Render p->cand (and p->cand_pages) from the supervisor's config and the
 * tenants' state, writing the suspended pages. Returns 0 or -errno with err. */
int proxy_render_candidate(struct proxy *p, char *err, size_t errlen);

/* proxy_nginx.c: the managed nginx. */
/* Start nginx on the live configuration if it should run and does not. */
void proxy_nginx_ensure(struct proxy *p);
/* Make the running nginx read the live configuration (or start it). */
void proxy_nginx_reload(struct proxy *p);
/* Stop an nginx a killed tenantd left holding the port. */
void proxy_nginx_stop_stale(struct proxy *p);
/* At proxy_start after an upgrade: take the nginx master the previous image
 * ran. Returns true when taken (then it is running, as after a spawn). */
bool proxy_nginx_adopt(struct proxy *p);
/* The managed master's pid (spawned or adopted). */
pid_t proxy_nginx_pid(const struct proxy *p);
/* On proxy_stop: SIGTERM, then SIGKILL after STOP_GRACE_MS; nginx_tm is
 * closed once the master is reaped. */
void proxy_nginx_stop(struct proxy *p);

/* proxy_errlog.c: nginx's stderr on a pipe, captured into <log_dir>/nginx.log
 * within the log budget (logcap.h). */
struct logcap_opts;
void proxy_errlog_opts(const struct config_global *g, struct logcap_opts *o);
int proxy_errlog_path(const struct proxy *p, char *buf, size_t n);
/* A new pipe for the next nginx: its read end captured; returns the write end
 * (close-on-exec, to hand to the spawn) or -errno. */
int proxy_errlog_pipe(struct proxy *p);
/* After the spawn, before closing wfd: make nginx's end non-blocking. */
void proxy_errlog_spawned(int wfd);
/* Upgrade: hand the read end over as o["nginx_log_fd"]; take it back. */
int proxy_errlog_export(struct proxy *p, json_t *o);
void proxy_errlog_adopt(struct proxy *p, const json_t *o);
/* At the proxy's end: the capture finishes writing and frees itself. */
void proxy_errlog_close(struct proxy *p);

#endif
