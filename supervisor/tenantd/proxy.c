/*
 * proxy.c — see proxy.h. Staging, test, atomic swap and reload of nginx's
 * configuration, and the managed nginx child.
 *
 * Files under the prefix <run_dir>/nginx (0755, so nginx's workers, which run
 * as nobody when tenantd is root, can read the suspended pages):
 *     staging/            the candidate main.conf + tenants.conf being tested
 *     conf.<n>/           a configuration that passed; the live one and at
 *                         most one older one are kept
 *     live -> conf.<n>    what nginx reads (main.conf includes tenants.conf by
 *                         a relative name, so it follows the link)
 *     suspended/<id>.html the suspended pages, HTML rendered here; once a
 *                         configuration is applied, the pages it does not
 *                         name are deleted (a tenant resumed or removed)
 *     temp/               nginx's five temp paths (nginx makes them, owned by
 *                         its worker user)
 *     nginx.pid           written by the managed master once its signal
 *                         handlers are installed
 *
 * One child command runs at a time (nginx -t, or the external test/reload
 * commands); its stdout and stderr are read through one pipe into a bounded
 * buffer, so nginx's own message can be logged and kept. A change arriving
 * during an apply marks the proxy dirty, and the apply runs again after it.
 *
 * Handles: every libuv handle the proxy owns is counted when initialised and
 * uncounted in its close callback; proxy_stop frees the proxy once the count
 * is zero, which is also when the nginx master has been reaped.
 */
#include "proxy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proxy_render.h"
#include "sup.h"
#include "util.h"

#define DEBOUNCE_MS 50       /* coalesces a burst of changes into one apply */
#define CMD_TIMEOUT_MS 30000 /* a test or reload command that hangs is killed */
#define CMD_OUTPUT_MAX 8192  /* bytes of a command's output kept */
#define STOP_GRACE_MS 5000   /* SIGTERM to SIGKILL for nginx on stop */
#define BACKOFF_MIN_MS 200   /* nginx restart delay, doubled per quick death */
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 10000  /* running this long resets the backoff */
#define READY_POLL_MS 20 /* waiting for nginx's pid file before a SIGHUP */
#define TEMPLATE_MAX (1 << 20)

typedef void (*cmd_done_fn)(struct proxy *p, bool ok, const char *output);

/* The ids of the suspended tenants of one rendering, sorted (strcmp). */
struct page_ids {
    char (*id)[CONFIG_ID_MAX];
    size_t n;
};

struct proxy {
    uv_loop_t *loop;
    struct sup *sup;
    enum proxy_mode mode;

    char prefix[PATH_MAX];  /* <run_dir>/nginx */
    char log_dir[PATH_MAX]; /* where nginx.log goes */

    uv_timer_t debounce; /* change hook -> apply */
    uv_timer_t nginx_tm; /* restart backoff, readiness poll, stop grace */
    uv_timer_t cmd_tm;   /* command timeout */
    int handles;         /* open handles (see the file comment) */

    /* The command running now, if any. */
    bool cmd_busy;
    uv_process_t cmd_proc;
    uv_pipe_t cmd_pipe;
    int cmd_open; /* cmd_proc and cmd_pipe not yet closed */
    bool cmd_exited, cmd_eof, cmd_ok;
    char cmd_out[CMD_OUTPUT_MAX];
    size_t cmd_len;
    cmd_done_fn cmd_done;

    /* The managed nginx. */
    uv_process_t nginx;
    bool nginx_running;
    bool nginx_handle_open; /* from a spawn attempt until its close callback */
    bool nginx_waiting;     /* a restart is scheduled on nginx_tm */
    bool reload_pending;    /* SIGHUP owed once nginx is ready */
    uint64_t nginx_started_ms;
    int64_t backoff_ms;

    /* The apply in progress and what is live. */
    bool applying, dirty;
    char *live_main, *live_tenants;     /* applied text; NULL before the first */
    char *failed_main, *failed_tenants; /* last text refused by the test */
    struct proxy_rendered cand;         /* the candidate under test */
    struct page_ids cand_pages;         /* the candidate's suspended pages */
    struct page_ids live_pages;         /* the live configuration's */
    char *ext_previous;                 /* external: the output file before the candidate */
    bool ext_had_previous;
    unsigned generation;

    uint64_t reloads, failures, nginx_starts;
    char last_error[2048];

    bool stopping;
    void (*done)(void *);
    void *done_arg;
};

static void apply_start(struct proxy *p);
static void nginx_ensure(struct proxy *p);
static void on_debounce(uv_timer_t *t);

/* ---- handles and stop ---------------------------------------------------- */

static void maybe_finish(struct proxy *p)
{
    if (!p->stopping || p->handles > 0)
        return;
    void (*done)(void *) = p->done;
    void *arg = p->done_arg;
    proxy_rendered_free(&p->cand);
    free(p->cand_pages.id);
    free(p->live_pages.id);
    free(p->live_main);
    free(p->live_tenants);
    free(p->failed_main);
    free(p->failed_tenants);
    free(p->ext_previous);
    free(p);
    if (done)
        done(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;
    p->handles--;
    maybe_finish(p);
}

static void close_handle(struct proxy *p, uv_handle_t *h)
{
    h->data = p;
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* ---- errors ---------------------------------------------------------------- */

static void set_error(struct proxy *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct proxy *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->last_error, sizeof p->last_error, fmt, ap);
    va_end(ap);
    p->failures++;
    log_error(NULL, "proxy: %s", p->last_error);
}

/* After nginx's level word: " 1234#1234: " (pid and thread id), skipped;
 * anything else is kept, from its first non-blank character. */
static const char *skip_pid(const char *p, const char *end)
{
    const char *q;

    while (p < end && *p == ' ')
        p++;
    q = p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    if (q == p || q >= end || *q != '#')
        return p;
    q++;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    if (q + 1 < end && q[0] == ':' && q[1] == ' ')
        return q + 2;
    return p;
}

/*
 * nginx -t prints "syntax is ok"/"test failed" framing around the real
 * message; keep the [emerg]/[alert]/[crit] lines, joined with " | ", or the
 * whole output when there is none.
 */
static void summarize_output(const char *out, char *buf, size_t n)
{
    static const char *const levels[] = {"[emerg]", "[alert]", "[crit]"};
    size_t o = 0;
    const char *line = out;

    buf[0] = '\0';
    while (*line && o + 4 < n) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *lvl = NULL;
        size_t lvl_len = 0;
        for (size_t i = 0; i < sizeof levels / sizeof levels[0] && lvl == NULL; i++) {
            lvl_len = strlen(levels[i]);
            lvl = memmem(line, len, levels[i], lvl_len);
        }
        if (lvl != NULL) {
            /* From the level word on, without nginx's "<pid>#<tid>: ": the
             * date and the pid of a short-lived `nginx -t` say nothing here,
             * and without them the same refusal reads the same each time. */
            const char *msg = skip_pid(lvl + lvl_len, line + len);
            size_t keep = (size_t)(line + len - msg);
            int w = snprintf(buf + o, n - o, "%s%.*s %.*s", o ? " | " : "", (int)lvl_len, lvl,
                             (int)keep, msg);
            if (w < 0)
                break;
            o = o + (size_t)w >= n ? n - 1 : o + (size_t)w;
        }
        line += len + (end != NULL);
    }
    if (o == 0) {
        snprintf(buf, n, "%s", out);
        for (char *c = buf; *c; c++)
            if (*c == '\n')
                *c = ' ';
    }
}

/* Messages are cut to the caller's buffer on purpose: they are one log line. */
static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- one child command ------------------------------------------------------ */

static void cmd_finish_if_done(struct proxy *p)
{
    if (p->cmd_open > 0 || !p->cmd_busy)
        return;
    p->cmd_busy = false;
    uv_timer_stop(&p->cmd_tm);
    p->cmd_out[p->cmd_len] = '\0';
    if (p->cmd_done && !p->stopping)
        p->cmd_done(p, p->cmd_ok, p->cmd_out);
}

static void on_cmd_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;
    p->cmd_open--;
    p->handles--;
    cmd_finish_if_done(p);
    maybe_finish(p);
}

static void cmd_close_if_done(struct proxy *p)
{
    if (!p->cmd_exited || !p->cmd_eof)
        return;
    if (!uv_is_closing((uv_handle_t *)&p->cmd_proc))
        uv_close((uv_handle_t *)&p->cmd_proc, on_cmd_closed);
    if (!uv_is_closing((uv_handle_t *)&p->cmd_pipe))
        uv_close((uv_handle_t *)&p->cmd_pipe, on_cmd_closed);
}

static void on_cmd_exit(uv_process_t *proc, int64_t status, int sig)
{
    struct proxy *p = proc->data;
    p->cmd_exited = true;
    p->cmd_ok = status == 0 && sig == 0;
    if (sig != 0 && p->cmd_len + 64 < sizeof p->cmd_out)
        p->cmd_len += (size_t)snprintf(p->cmd_out + p->cmd_len, sizeof p->cmd_out - p->cmd_len,
                                       "\n[crit] killed by signal %d", sig);
    cmd_close_if_done(p);
}

static void cmd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[4096];
    struct proxy *p = h->data;
    size_t room = sizeof p->cmd_out - 1 - p->cmd_len;

    /* Past the cap the output is read and dropped, so the child never blocks. */
    if (room == 0)
        *buf = uv_buf_init(sink, sizeof sink);
    else
        *buf = uv_buf_init(p->cmd_out + p->cmd_len, (unsigned)room);
}

static void on_cmd_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct proxy *p = s->data;

    if (nread > 0 && buf->base == p->cmd_out + p->cmd_len)
        p->cmd_len += (size_t)nread;
    if (nread < 0) {
        uv_read_stop(s);
        p->cmd_eof = true;
        cmd_close_if_done(p);
    }
}

static void on_cmd_timeout(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->cmd_busy && !p->cmd_exited) {
        log_warn(NULL, "proxy: command pid %d ran for %d s, killing it", p->cmd_proc.pid,
                 CMD_TIMEOUT_MS / 1000);
        uv_process_kill(&p->cmd_proc, SIGKILL);
    }
}

/*
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null and stdout +
 * stderr captured; `done` is called once the process is reaped and its
 * handles are closed, with ok = exited 0. Returns 0 or a negative errno (then
 * `done` is not called and the message is in p->cmd_out).
 */
static int cmd_run(struct proxy *p, char *const *argv, cmd_done_fn done)
{
    uv_file fds[2];
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    int r;

    if (p->cmd_busy)
        return -EBUSY;
    p->cmd_len = 0;
    p->cmd_out[0] = '\0';
    r = uv_pipe(fds, 0, 0);
    if (r < 0) {
        snprintf(p->cmd_out, sizeof p->cmd_out, "pipe: %s", uv_strerror(r));
        return r;
    }
    memset(&opt, 0, sizeof opt);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fds[1];
    opt.file = argv[0];
    opt.args = (char **)argv;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_cmd_exit;
    p->cmd_proc.data = p;
    r = uv_spawn(p->loop, &p->cmd_proc, &opt);
    close(fds[1]);
    if (r < 0) {
        /* libuv asks for the handle to be closed even when the spawn failed. */
        snprintf(p->cmd_out, sizeof p->cmd_out, "cannot run %s: %s", argv[0], uv_strerror(r));
        close(fds[0]);
        /* Busy until closed, so the handle is not reused while closing. */
        p->handles++;
        p->cmd_busy = true;
        p->cmd_open = 1;
        p->cmd_done = NULL;
        p->cmd_proc.data = p;
        uv_close((uv_handle_t *)&p->cmd_proc, on_cmd_closed);
        return r;
    }
    p->handles += 2;
    p->cmd_open = 2;
    p->cmd_busy = true;
    p->cmd_exited = p->cmd_eof = p->cmd_ok = false;
    p->cmd_done = done;
    uv_pipe_init(p->loop, &p->cmd_pipe, 0);
    p->cmd_pipe.data = p;
    uv_pipe_open(&p->cmd_pipe, fds[0]);
    uv_read_start((uv_stream_t *)&p->cmd_pipe, cmd_alloc, on_cmd_read);
    uv_timer_start(&p->cmd_tm, on_cmd_timeout, CMD_TIMEOUT_MS, 0);
    return 0;
}

static int cmd_run_shell(struct proxy *p, const char *cmdline, cmd_done_fn done)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmdline, NULL};
    return cmd_run(p, argv, done);
}

/* ---- files ----------------------------------------------------------------- */

static int path_fmt(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int path_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return (r < 0 || (size_t)r >= n) ? -ENAMETOOLONG : 0;
}

/* Remove a folder of plain files (staging/, conf.<n>/): they hold no subfolders. */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (path_fmt(path, sizeof path, "%s/%s", dir, e->d_name) == 0)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static bool same_text(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The number of the conf.<n> the live link points to, 0 when there is none. */
static unsigned live_generation(const struct proxy *p)
{
    char link[PATH_MAX], target[64];
    ssize_t n;
    unsigned g = 0;

    if (path_fmt(link, sizeof link, "%s/live", p->prefix) < 0)
        return 0;
    n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    if (sscanf(target, "conf.%u", &g) != 1)
        return 0;
    return g;
}

/* ---- collecting and rendering --------------------------------------------- */

static int load_templates(const struct config_global *g, struct proxy_templates *tpl, char **owned,
                          char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];

    memset(tpl, 0, sizeof *tpl);
    if (g->proxy_templates[0] != '\0')
        util_strlcpy(dir, g->proxy_templates, sizeof dir);
    else if (path_fmt(dir, sizeof dir, "%s/nginx", g->templates_dir) < 0)
        return -ENAMETOOLONG;
    for (int i = 0; i < PROXY_TPL__COUNT; i++) {
        int r = path_fmt(path, sizeof path, "%s/%s", dir, proxy_template_file[i]);
        if (r == 0)
            r = util_read_file(path, TEMPLATE_MAX, &owned[i], NULL);
        if (r < 0) {
            errf(err, errlen, "cannot read template %s: %s", path, strerror(-r));
            return r;
        }
        tpl->text[i] = owned[i];
    }
    return 0;
}

/*
 * The tenants to render, from the supervisor's view (what runs now) joined
 * with the configuration (status from the file). A tenant whose file became
 * invalid keeps its last good port and subdomain from the view; one that was
 * never valid has none and is left out. An operator's suspend shows the
 * suspended page whatever the file says.
 */
static int collect_tenants(struct proxy *p, const struct config *c, struct config_tenant **arr_out,
                           const struct config_tenant ***ptr_out, size_t *n_out)
{
    size_t n = sup_tenant_count(p->sup), k = 0;
    struct config_tenant *arr = calloc(n ? n : 1, sizeof *arr);
    const struct config_tenant **ptr = calloc(n ? n : 1, sizeof *ptr);
    struct tenant_view v;

    if (arr == NULL || ptr == NULL) {
        free(arr);
        free(ptr);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (sup_tenant_view(p->sup, i, &v) < 0)
            continue;
        const struct config_tenant_entry *e = config_find_tenant(c, v.id);
        struct config_tenant *t = &arr[k];
        if (e != NULL && e->valid) {
            *t = e->t;
        } else {
            if (v.port <= 0 || proxy_check_id(v.id) < 0 || proxy_check_host(v.subdomain) < 0)
                continue;
            util_strlcpy(t->id, v.id, sizeof t->id);
            util_strlcpy(t->subdomain, v.subdomain, sizeof t->subdomain);
            util_strlcpy(t->name, v.name, sizeof t->name);
            t->port = v.port;
            t->status = TENANT_ACTIVE;
        }
        if (v.state == TS_SUSPENDED && t->status == TENANT_ACTIVE)
            t->status = TENANT_SUSPENDED;
        ptr[k] = t;
        k++;
    }
    *arr_out = arr;
    *ptr_out = ptr;
    *n_out = k;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool page_ids_has(const struct page_ids *s, const char *id)
{
    return s->n > 0 && bsearch(id, s->id, s->n, sizeof s->id[0], cmp_id) != NULL;
}

static void page_ids_clear(struct page_ids *s)
{
    free(s->id);
    s->id = NULL;
    s->n = 0;
}

static const char fallback_page[] =
    "<!DOCTYPE html>\n<html lang=\"{{language}}\"><head><meta charset=\"utf-8\"><title>{{name}}"
    "</title></head>\n<body><h1>{{name}}</h1><p>This service is suspended.</p></body></html>\n";

/* Write the suspended page of every suspended tenant (they are content, not
 * config: writing one early is harmless, and nginx reads it per request), and
 * note their ids in p->cand_pages. */
static int write_pages(struct proxy *p, const struct config_global *g,
                       const struct config_tenant *const *t, size_t n, char *err, size_t errlen)
{
    char path[PATH_MAX], *tpl = NULL, *page = NULL;
    int r = 0;

    page_ids_clear(&p->cand_pages);
    p->cand_pages.id = calloc(n ? n : 1, sizeof p->cand_pages.id[0]);
    if (p->cand_pages.id == NULL) {
        errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (path_fmt(path, sizeof path, "%s/%s", g->templates_dir, PROXY_PAGE_TEMPLATE) == 0 &&
        util_read_file(path, TEMPLATE_MAX, &tpl, NULL) < 0) {
        tpl = NULL;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        if (t[i]->status != TENANT_SUSPENDED)
            continue;
        r = proxy_render_page(tpl ? tpl : fallback_page, t[i], &page, err, errlen);
        if (r < 0)
            break;
        util_strlcpy(p->cand_pages.id[p->cand_pages.n++], t[i]->id, sizeof p->cand_pages.id[0]);
        r = path_fmt(path, sizeof path, "%s/%s/%s.html", p->prefix, PROXY_SUSPENDED_DIR, t[i]->id);
        if (r == 0)
            r = util_write_file_atomic(path, page, strlen(page), 0644);
        if (r < 0)
            errf(err, errlen, "cannot write %s: %s", path, strerror(-r));
        free(page);
        page = NULL;
    }
    free(tpl);
    qsort(p->cand_pages.id, p->cand_pages.n, sizeof p->cand_pages.id[0], cmp_id);
    return r;
}

/* Render the candidate into p->cand (and the pages to disk). */
static int render_candidate(struct proxy *p, char *err, size_t errlen)
{
    const struct config *c = sup_config(p->sup);
    struct proxy_templates tpl;
    char *owned[PROXY_TPL__COUNT] = {0};
    struct config_tenant *arr = NULL;
    const struct config_tenant **ptr = NULL;
    size_t n = 0;
    int r;

    r = load_templates(&c->g, &tpl, owned, err, errlen);
    if (r == 0) {
        r = collect_tenants(p, c, &arr, &ptr, &n);
        if (r < 0)
            errf(err, errlen, "out of memory");
    }
    if (r == 0) {
        struct config_global g = c->g;
        /* The mode is fixed at start; the prefix was made for it. */
        g.proxy_mode = p->mode;
        snprintf(g.nginx_prefix, sizeof g.nginx_prefix, "%s", p->prefix);
        r = proxy_render(&g, ptr, n, &tpl, &p->cand, err, errlen);
    }
    if (r == 0)
        r = write_pages(p, &c->g, ptr, n, err, errlen);
    for (int i = 0; i < PROXY_TPL__COUNT; i++)
        free(owned[i]);
    free(arr);
    free(ptr);
    return r;
}

/* ---- applying -------------------------------------------------------------- */

static void apply_end(struct proxy *p)
{
    proxy_rendered_free(&p->cand);
    page_ids_clear(&p->cand_pages);
    free(p->ext_previous);
    p->ext_previous = NULL;
    p->applying = false;
    /* The next apply starts from the loop, once this one's handles are closed. */
    if (p->dirty && !p->stopping) {
        p->dirty = false;
        uv_timer_start(&p->debounce, on_debounce, 0, 0);
    }
}

/* The candidate passed: remember it as live, and as not failed. */
static void mark_live(struct proxy *p)
{
    free(p->live_main);
    free(p->live_tenants);
    p->live_main = p->cand.main_conf;
    p->live_tenants = p->cand.tenants_conf;
    p->cand.main_conf = p->cand.tenants_conf = NULL;
    free(p->failed_main);
    free(p->failed_tenants);
    p->failed_main = p->failed_tenants = NULL;
    p->last_error[0] = '\0';
    free(p->live_pages.id);
    p->live_pages = p->cand_pages;
    p->cand_pages.id = NULL;
    p->cand_pages.n = 0;
}

/*
 * The configuration is applied (nginx told to reload, or the external reload
 * command passed): delete the suspended pages it does not name, left by
 * tenants since resumed or removed (or by an earlier run of tenantd). Only
 * <id>.html files are touched; anything else in the folder is not ours.
 */
static void prune_pages(struct proxy *p)
{
    char dir[PATH_MAX], path[PATH_MAX], id[CONFIG_ID_MAX];
    DIR *d;
    struct dirent *e;

    if (path_fmt(dir, sizeof dir, "%s/%s", p->prefix, PROXY_SUSPENDED_DIR) < 0)
        return;
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || len - 5 >= sizeof id || strcmp(e->d_name + len - 5, ".html") != 0)
            continue;
        memcpy(id, e->d_name, len - 5);
        id[len - 5] = '\0';
        if (proxy_check_id(id) < 0 || page_ids_has(&p->live_pages, id))
            continue;
        if (path_fmt(path, sizeof path, "%s/%s", dir, e->d_name) < 0)
            continue;
        if (unlink(path) == 0)
            log_debug(NULL, "proxy: removed %s, no tenant is suspended under that id", path);
        else if (errno != ENOENT)
            log_warn(NULL, "proxy: cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
}

static void mark_failed(struct proxy *p)
{
    free(p->failed_main);
    free(p->failed_tenants);
    p->failed_main = p->cand.main_conf;
    p->failed_tenants = p->cand.tenants_conf;
    p->cand.main_conf = p->cand.tenants_conf = NULL;
}

static bool nginx_ready(struct proxy *p)
{
    char path[PATH_MAX], *text = NULL;
    bool ready = false;

    if (path_fmt(path, sizeof path, "%s/nginx.pid", p->prefix) < 0)
        return false;
    if (util_read_file(path, 64, &text, NULL) == 0) {
        ready = atoi(text) == p->nginx.pid;
        free(text);
    }
    return ready;
}

static void on_ready_poll(uv_timer_t *t);

/*
 * Make the running nginx read the live configuration. Its master installs
 * its signal handlers only after reading the first configuration, and a
 * SIGHUP before that would kill it; the pid file appears after the handlers,
 * so until it names this master the reload waits.
 */
static void nginx_reload(struct proxy *p)
{
    if (!p->nginx_running) {
        nginx_ensure(p);
        return;
    }
    if (!nginx_ready(p)) {
        p->reload_pending = true;
        if (!uv_is_active((uv_handle_t *)&p->nginx_tm))
            uv_timer_start(&p->nginx_tm, on_ready_poll, READY_POLL_MS, 0);
        return;
    }
    p->reload_pending = false;
    int r = uv_process_kill(&p->nginx, SIGHUP);
    if (r < 0)
        log_warn(NULL, "proxy: SIGHUP to nginx pid %d: %s", p->nginx.pid, uv_strerror(r));
}

static void on_ready_poll(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->reload_pending && p->nginx_running && !p->stopping)
        nginx_reload(p);
}

/* Keep the live generation and the one before it (for a look after the fact). */
static void remove_old_generations(struct proxy *p, unsigned live, unsigned previous)
{
    DIR *d = opendir(p->prefix);
    struct dirent *e;
    char path[PATH_MAX];
    unsigned g;
    char extra;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (sscanf(e->d_name, "conf.%u%c", &g, &extra) != 1 || g == live || g == previous)
            continue;
        if (path_fmt(path, sizeof path, "%s/%s", p->prefix, e->d_name) == 0)
            remove_flat_dir(path);
    }
    closedir(d);
}

static void managed_swap(struct proxy *p)
{
    char staging[PATH_MAX], conf[PATH_MAX], target[64], tmp[PATH_MAX], live[PATH_MAX];
    unsigned old = p->generation, gen = live_generation(p);

    gen = (gen > old ? gen : old) + 1;
    snprintf(target, sizeof target, "conf.%u", gen);
    if (path_fmt(staging, sizeof staging, "%s/staging", p->prefix) < 0 ||
        path_fmt(conf, sizeof conf, "%s/%s", p->prefix, target) < 0 ||
        path_fmt(tmp, sizeof tmp, "%s/live.tmp", p->prefix) < 0 ||
        path_fmt(live, sizeof live, "%s/live", p->prefix) < 0) {
        set_error(p, "prefix %s is too long", p->prefix);
        return;
    }
    remove_flat_dir(conf);
    unlink(tmp);
    /* A relative link, so the whole run folder may move. rename(2) of the
     * link over the old one is the atomic step: nginx sees one or the other. */
    if (rename(staging, conf) < 0 || symlink(target, tmp) < 0 || rename(tmp, live) < 0) {
        set_error(p, "cannot install %s as %s: %s", staging, live, strerror(errno));
        return;
    }
    remove_old_generations(p, gen, old);
    p->generation = gen;
    mark_live(p);
    p->reloads++;
    log_info(NULL, "proxy: configuration conf.%u is live", gen);
    nginx_reload(p);
    prune_pages(p);
}

static void on_managed_test(struct proxy *p, bool ok, const char *output)
{
    char staging[PATH_MAX], msg[1536];

    if (ok) {
        managed_swap(p);
    } else {
        summarize_output(output, msg, sizeof msg);
        set_error(p, "nginx -t refused the new configuration, the previous one keeps serving: %s",
                  msg);
        mark_failed(p);
        if (path_fmt(staging, sizeof staging, "%s/staging", p->prefix) == 0)
            remove_flat_dir(staging);
        /* With no nginx yet, the last good configuration (if any) still serves. */
        nginx_ensure(p);
    }
    apply_end(p);
}

static int managed_stage_and_test(struct proxy *p, char *err, size_t errlen)
{
    const struct config *c = sup_config(p->sup);
    char staging[PATH_MAX], main_path[PATH_MAX], ten_path[PATH_MAX], pfx[PATH_MAX];
    int r;

    if (path_fmt(staging, sizeof staging, "%s/staging", p->prefix) < 0 ||
        path_fmt(main_path, sizeof main_path, "%s/%s", staging, PROXY_MAIN_FILE) < 0 ||
        path_fmt(ten_path, sizeof ten_path, "%s/%s", staging, PROXY_TENANTS_FILE) < 0 ||
        path_fmt(pfx, sizeof pfx, "%s/", p->prefix) < 0)
        return -ENAMETOOLONG;
    remove_flat_dir(staging);
    if (mkdir(staging, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        errf(err, errlen, "cannot make %s: %s", staging, strerror(errno));
        return r;
    }
    r = util_write_file_atomic(main_path, p->cand.main_conf, strlen(p->cand.main_conf), 0644);
    if (r == 0)
        r = util_write_file_atomic(ten_path, p->cand.tenants_conf, strlen(p->cand.tenants_conf),
                                   0644);
    if (r < 0) {
        errf(err, errlen, "cannot write into %s: %s", staging, strerror(-r));
        return r;
    }
    const char *nginx = c->g.proxy_nginx[0] ? c->g.proxy_nginx : "nginx";
    char *argv[] = {(char *)nginx, "-t", "-q", "-e", "stderr", "-p", pfx, "-c", main_path, NULL};
    r = cmd_run(p, argv, on_managed_test);
    if (r < 0)
        errf(err, errlen, "%s", p->cmd_out);
    return r;
}

/* ---- external mode ------------------------------------------------------------- */

static void external_output_path(struct proxy *p, char *buf, size_t n)
{
    const struct config *c = sup_config(p->sup);
    if (c->g.proxy_output[0] != '\0')
        util_strlcpy(buf, c->g.proxy_output, n);
    else
        path_fmt(buf, n, "%s/%s", p->prefix, PROXY_TENANTS_FILE);
}

static void on_external_reload(struct proxy *p, bool ok, const char *output)
{
    char msg[1536];

    if (ok) {
        p->reloads++;
        log_info(NULL, "proxy: external configuration applied and reloaded");
        prune_pages(p);
    } else {
        summarize_output(output, msg, sizeof msg);
        set_error(p, "the reload command failed: %s", msg);
    }
    apply_end(p);
}

static void external_reload(struct proxy *p)
{
    const struct config *c = sup_config(p->sup);

    mark_live(p);
    if (c->g.proxy_reload_cmd[0] == '\0') {
        p->reloads++;
        log_info(NULL, "proxy: external configuration written (no reload command)");
        prune_pages(p);
        apply_end(p);
        return;
    }
    /* cmd_run refuses only when busy, which cannot be: this runs after the test. */
    if (cmd_run_shell(p, c->g.proxy_reload_cmd, on_external_reload) < 0) {
        set_error(p, "%s", p->cmd_out);
        apply_end(p);
    }
}

static void on_external_test(struct proxy *p, bool ok, const char *output)
{
    char path[PATH_MAX], msg[1536];
    int r = 0;

    if (ok) {
        external_reload(p);
        return;
    }
    summarize_output(output, msg, sizeof msg);
    /* Put the previous file back, so the system's nginx keeps a valid config. */
    external_output_path(p, path, sizeof path);
    if (p->ext_had_previous)
        r = util_write_file_atomic(path, p->ext_previous, strlen(p->ext_previous), 0644);
    else if (unlink(path) < 0 && errno != ENOENT)
        r = -errno;
    set_error(p,
              "the test command refused the new configuration, the previous one was put "
              "back%s: %s",
              r < 0 ? " (FAILED to restore it)" : "", msg);
    mark_failed(p);
    apply_end(p);
}

static int external_write_and_test(struct proxy *p, char *err, size_t errlen)
{
    const struct config *c = sup_config(p->sup);
    char path[PATH_MAX];
    int r;

    external_output_path(p, path, sizeof path);
    free(p->ext_previous);
    p->ext_previous = NULL;
    r = util_read_file(path, 64u << 20, &p->ext_previous, NULL);
    p->ext_had_previous = r == 0;
    if (r < 0 && r != -ENOENT) {
        errf(err, errlen, "cannot read %s: %s", path, strerror(-r));
        return r;
    }
    r = util_write_file_atomic(path, p->cand.tenants_conf, strlen(p->cand.tenants_conf), 0644);
    if (r < 0) {
        errf(err, errlen, "cannot write %s: %s", path, strerror(-r));
        return r;
    }
    if (c->g.proxy_test_cmd[0] == '\0') {
        external_reload(p);
        return 0;
    }
    r = cmd_run_shell(p, c->g.proxy_test_cmd, on_external_test);
    if (r < 0)
        errf(err, errlen, "%s", p->cmd_out);
    return r;
}

/* ---- the apply ------------------------------------------------------------------ */

static void apply_start(struct proxy *p)
{
    char err[1536] = "";
    int r;

    if (p->stopping)
        return;
    if (p->applying) {
        p->dirty = true;
        return;
    }
    p->applying = true;
    p->dirty = false;
    r = render_candidate(p, err, sizeof err);
    if (r < 0) {
        set_error(p, "cannot render the proxy configuration, the previous one keeps serving: %s",
                  err);
        proxy_rendered_free(&p->cand);
        nginx_ensure(p);
        apply_end(p);
        return;
    }
    if (same_text(p->cand.main_conf, p->live_main) &&
        same_text(p->cand.tenants_conf, p->live_tenants)) {
        /* Nothing changed for nginx: a state change that does not show. */
        p->last_error[0] = '\0';
        nginx_ensure(p);
        apply_end(p);
        return;
    }
    if (p->failed_tenants != NULL && same_text(p->cand.main_conf, p->failed_main) &&
        same_text(p->cand.tenants_conf, p->failed_tenants)) {
        /* Refused already; the error stands until something changes. */
        apply_end(p);
        return;
    }
    if (p->mode == PROXY_MANAGED)
        r = managed_stage_and_test(p, err, sizeof err);
    else
        r = external_write_and_test(p, err, sizeof err);
    if (r < 0) {
        set_error(p, "cannot apply the proxy configuration: %s", err);
        nginx_ensure(p);
        apply_end(p);
    }
}

static void on_debounce(uv_timer_t *t)
{
    apply_start(t->data);
}

static void on_change(struct sup *s, void *arg)
{
    struct proxy *p = arg;
    if (!p->stopping)
        uv_timer_start(&p->debounce, on_debounce, DEBOUNCE_MS, 0);
}

void proxy_request_apply(struct proxy *p)
{
    if (p->mode != PROXY_OFF && !p->stopping)
        uv_timer_start(&p->debounce, on_debounce, 0, 0);
}

/* ---- the managed nginx ------------------------------------------------------------ */

static void on_nginx_exit(uv_process_t *proc, int64_t status, int sig);
static void on_nginx_closed(uv_handle_t *h);

static void on_restart_timer(uv_timer_t *t)
{
    struct proxy *p = t->data;
    p->nginx_waiting = false;
    nginx_ensure(p);
}

static void nginx_schedule_restart(struct proxy *p)
{
    p->nginx_waiting = true;
    uv_timer_start(&p->nginx_tm, on_restart_timer, (uint64_t)p->backoff_ms, 0);
    p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* Start nginx on the live configuration if it should run and does not. */
static void nginx_ensure(struct proxy *p)
{
    const struct config *c = sup_config(p->sup);
    char live[PATH_MAX], logp[PATH_MAX], pfx[PATH_MAX];
    struct stat st;
    int fd, r;

    if (p->mode != PROXY_MANAGED || p->stopping || p->nginx_running || p->nginx_waiting)
        return;
    if (path_fmt(live, sizeof live, "%s/live/%s", p->prefix, PROXY_MAIN_FILE) < 0 ||
        path_fmt(logp, sizeof logp, "%s/nginx.log", p->log_dir) < 0 ||
        path_fmt(pfx, sizeof pfx, "%s/", p->prefix) < 0)
        return;
    if (stat(live, &st) < 0)
        return; /* no configuration has passed yet */
    fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error(NULL, "proxy: cannot open %s: %s", logp, strerror(errno));
        nginx_schedule_restart(p);
        return;
    }
    const char *nginx = c->g.proxy_nginx[0] ? c->g.proxy_nginx : "nginx";
    char *argv[] = {(char *)nginx, "-e", "stderr",
                    "-p",          pfx,  "-c",
                    live,          "-g", "daemon off; master_process on;",
                    NULL};
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    memset(&opt, 0, sizeof opt);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd;
    opt.file = nginx;
    opt.args = argv;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_nginx_exit;
    /* Its own process group (setsid): a terminal's ^C does not reach it past
     * tenantd, and workers orphaned by a dead master can be swept by group. */
    opt.flags = UV_PROCESS_DETACHED;
    p->nginx.data = p;
    r = uv_spawn(p->loop, &p->nginx, &opt);
    close(fd);
    p->handles++;
    p->nginx_handle_open = true;
    if (r < 0) {
        /* The restart is scheduled by the close callback, like after a death. */
        log_error(NULL, "proxy: cannot start %s: %s; retrying in %lld ms", nginx, uv_strerror(r),
                  (long long)p->backoff_ms);
        p->nginx.data = p;
        uv_close((uv_handle_t *)&p->nginx, on_nginx_closed);
        return;
    }
    p->nginx_running = true;
    p->nginx_starts++;
    p->nginx_started_ms = uv_now(p->loop);
    log_info(NULL, "proxy: nginx started pid=%d on conf.%u, log %s", p->nginx.pid,
             live_generation(p), logp);
}

static void on_nginx_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;
    p->handles--;
    p->nginx_handle_open = false;
    if (p->stopping) {
        close_handle(p, (uv_handle_t *)&p->nginx_tm);
        return; /* the timer's close finishes the stop */
    }
    /* Only now may the handle be reused for the next spawn. */
    nginx_schedule_restart(p);
}

static void on_nginx_exit(uv_process_t *proc, int64_t status, int sig)
{
    struct proxy *p = proc->data;
    uint64_t ran = uv_now(p->loop) - p->nginx_started_ms;

    p->nginx_running = false;
    p->reload_pending = false;
    uv_timer_stop(&p->nginx_tm);
    /* A master that dies abnormally leaves its workers serving the old
     * configuration and holding the port; they are in its process group. A
     * master that stopped cleanly waited for them, so this finds nobody. */
    if (kill(-proc->pid, SIGKILL) == 0)
        log_warn(NULL, "proxy: killed the workers left by nginx pid %d", proc->pid);
    if (p->stopping) {
        log_info(NULL, "proxy: nginx stopped (%s %d)", sig ? "signal" : "exit",
                 sig ? sig : (int)status);
    } else {
        if (ran >= STABLE_MS)
            p->backoff_ms = BACKOFF_MIN_MS;
        /* Not an apply failure: the configuration is fine, the process is not. */
        log_error(NULL,
                  "proxy: nginx pid %d died (%s %d) after %llu ms; restarting in %lld ms "
                  "(see %s/nginx.log)",
                  proc->pid, sig ? "signal" : "exit", sig ? sig : (int)status,
                  (unsigned long long)ran, (long long)p->backoff_ms, p->log_dir);
    }
    proc->data = p;
    uv_close((uv_handle_t *)proc, on_nginx_closed);
}

static void on_stop_grace(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->nginx_running) {
        log_warn(NULL, "proxy: nginx pid %d ignored SIGTERM for %d s, killing it", p->nginx.pid,
                 STOP_GRACE_MS / 1000);
        uv_process_kill(&p->nginx, SIGKILL);
    }
}

/*
 * An nginx left by a tenantd that was killed holds the port, and a new one
 * could never bind it. Its pid file says who it is; it is ours only if its
 * command line names our prefix.
 */
static void stop_stale_nginx(struct proxy *p)
{
    char path[PATH_MAX], *text = NULL, *cmd = NULL;
    size_t len = 0;
    pid_t pid;

    if (path_fmt(path, sizeof path, "%s/nginx.pid", p->prefix) < 0 ||
        util_read_file(path, 64, &text, NULL) < 0)
        return;
    pid = (pid_t)atoi(text);
    free(text);
    if (pid <= 1 || path_fmt(path, sizeof path, "/proc/%d/cmdline", (int)pid) < 0 ||
        util_read_file(path, 8192, &cmd, &len) < 0)
        return;
    for (size_t i = 0; i + 1 < len; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    if (strstr(cmd, "nginx") != NULL && strstr(cmd, p->prefix) != NULL) {
        log_notice(NULL, "proxy: stopping nginx pid %d left by a previous tenantd", (int)pid);
        if (kill(-pid, SIGTERM) < 0)
            kill(pid, SIGTERM);
    }
    free(cmd);
}

/* ---- start and stop ------------------------------------------------------------ */

static int prepare_dirs(struct proxy *p, const struct config_global *g, char *err, size_t errlen)
{
    static const char *const sub[] = {"", ("/" PROXY_SUSPENDED_DIR), "/temp"};
    char path[PATH_MAX];
    struct stat st;
    int r;

    r = util_mkdir_p(g->run_dir, 0711);
    if (r < 0) {
        errf(err, errlen, "cannot make %s: %s", g->run_dir, strerror(-r));
        return r;
    }
    /* nginx's workers run as nobody when tenantd is root: they must traverse
     * run_dir to read the suspended pages, but not list it. */
    if (geteuid() == 0 && stat(g->run_dir, &st) == 0 && (st.st_mode & 0011) != 0011 &&
        chmod(g->run_dir, (st.st_mode & 07777) | 0011) == 0)
        log_info(NULL, "proxy: %s made traversable (mode %o) for nginx's workers", g->run_dir,
                 (unsigned)((st.st_mode & 07777) | 0011));
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        if (path_fmt(path, sizeof path, "%s%s", p->prefix, sub[i]) < 0)
            return -ENAMETOOLONG;
        r = util_mkdir_p(path, 0755);
        if (r == 0)
            r = chmod(path, 0755) < 0 ? -errno : 0;
        if (r < 0) {
            errf(err, errlen, "cannot make %s: %s", path, strerror(-r));
            return r;
        }
    }
    r = util_mkdir_p(g->log_dir, 0755);
    if (r < 0) {
        errf(err, errlen, "cannot make %s: %s", g->log_dir, strerror(-r));
        return r;
    }
    return 0;
}

/*
 * When nginx's prefix is not under the run dir (proxy_render_prefix: a run dir
 * nginx's workers cannot reach), make it, and link <run_dir>/nginx to it so an
 * operator finds the configuration where the documentation says.
 */
static int link_prefix(struct proxy *p, const struct config_global *g, char *err, size_t errlen)
{
    char link[PATH_MAX];
    struct stat st;
    if (path_fmt(link, sizeof link, "%s/%s", g->run_dir, PROXY_PREFIX_DIR) < 0)
        return -ENAMETOOLONG;
    if (strcmp(link, p->prefix) == 0)
        return 0;
    int r = util_mkdir_p(p->prefix, 0755);
    if (r < 0) {
        errf(err, errlen, "cannot make %s: %s", p->prefix, strerror(-r));
        return r;
    }
    if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
        unlink(link);
    if (symlink(p->prefix, link) < 0 && errno != EEXIST) {
        r = -errno;
        errf(err, errlen, "cannot link %s to %s: %s", link, p->prefix, strerror(errno));
        return r;
    }
    log_info(NULL, "proxy: nginx's workers cannot reach %s: its files go to %s (linked from %s)",
             g->run_dir, p->prefix, link);
    return 0;
}

int proxy_start(uv_loop_t *loop, struct sup *s, struct proxy **out, char *err, size_t errlen)
{
    const struct config *c = sup_config(s);
    struct proxy *p;
    int r;

    *out = NULL;
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->loop = loop;
    p->sup = s;
    p->mode = c->g.proxy_mode;
    p->backoff_ms = BACKOFF_MIN_MS;
    if (proxy_render_prefix(&c->g, p->prefix, sizeof p->prefix) < 0 ||
        util_strlcpy(p->log_dir, c->g.log_dir, sizeof p->log_dir) < 0) {
        errf(err, errlen, "run_dir or log_dir is too long");
        free(p);
        return -ENAMETOOLONG;
    }
    if (p->mode != PROXY_OFF) {
        r = link_prefix(p, &c->g, err, errlen);
        if (r < 0) {
            free(p);
            return r;
        }
    }
    if (p->mode != PROXY_OFF) {
        r = prepare_dirs(p, &c->g, err, errlen);
        if (r < 0) {
            free(p);
            return r;
        }
    }
    /* Every timer exists in every mode, so proxy_stop always finishes on the loop. */
    uv_timer_init(loop, &p->debounce);
    uv_timer_init(loop, &p->nginx_tm);
    uv_timer_init(loop, &p->cmd_tm);
    p->debounce.data = p->nginx_tm.data = p->cmd_tm.data = p;
    p->handles = 3;
    *out = p;

    if (p->mode == PROXY_OFF) {
        log_info(NULL, "proxy: mode off, no proxy configuration is written");
        return 0;
    }
    p->generation = live_generation(p);
    if (p->mode == PROXY_MANAGED)
        stop_stale_nginx(p);
    log_info(NULL, "proxy: %s mode, nginx prefix %s",
             p->mode == PROXY_MANAGED ? "managed" : "external", p->prefix);
    sup_set_change_hook(s, on_change, p);
    apply_start(p);
    return 0;
}

void proxy_stop(struct proxy *p, void (*done)(void *), void *arg)
{
    if (p->stopping)
        return;
    p->stopping = true;
    p->done = done;
    p->done_arg = arg;
    if (p->mode != PROXY_OFF)
        sup_set_change_hook(p->sup, NULL, NULL);
    close_handle(p, (uv_handle_t *)&p->debounce);
    close_handle(p, (uv_handle_t *)&p->cmd_tm);
    if (p->cmd_busy && !p->cmd_exited)
        uv_process_kill(&p->cmd_proc, SIGKILL);
    if (p->nginx_running) {
        /* nginx_tm is closed once the master is reaped (on_nginx_closed). */
        uv_process_kill(&p->nginx, SIGTERM);
        uv_timer_start(&p->nginx_tm, on_stop_grace, STOP_GRACE_MS, 0);
    } else if (!p->nginx_handle_open) {
        close_handle(p, (uv_handle_t *)&p->nginx_tm);
    }
}

const char *proxy_last_error(const struct proxy *p)
{
    return p->last_error;
}

void proxy_get_stats(const struct proxy *p, struct proxy_stats *out)
{
    out->mode = p->mode;
    out->reloads = p->reloads;
    out->failures = p->failures;
    out->nginx_starts = p->nginx_starts;
    out->nginx_pid = p->nginx_running ? p->nginx.pid : 0;
    out->generation = p->generation;
}
