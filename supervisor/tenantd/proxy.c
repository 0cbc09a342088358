/*
 * proxy.c — see proxy.h. Applying a change: staging, test, atomic swap and
 * reload of nginx's configuration (managed and external modes), and the
 * proxy's start and stop. What it does not do: render the candidate or write
 * the suspended pages (proxy_files.c), supervise the managed nginx
 * (proxy_nginx.c), or run a command itself (child.h).
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
 * commands), through tenantd's one command runner (child.h); its stdout and
 * stderr are read together into a bounded buffer, so nginx's own message can be logged and kept. A
 * change arriving during an apply marks the proxy dirty, and the apply runs again after it.
 *
 * Handles: every libuv handle the proxy owns (and a running command) is
 * counted when initialised and uncounted in its close callback (the command's
 * report); proxy_stop frees the proxy once the count
 * is zero, which is also when the nginx master has been reaped.
 */
#include "proxy_internal.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "child.h"
#include "config.h"
#include "log.h"
#include "proxy_render.h"
#include "sup.h"
#include "util.h"

#define DEBOUNCE_MS 50 /* coalesces a burst of changes into one apply */
/* A test or reload command that hangs is killed after 30 s, plus 10 ms per
 * tenant: `nginx -t` on 10,000 server blocks takes seconds on an idle
 * machine, and many more on a loaded one. */
#define CMD_TIMEOUT_MS 30000
#define CMD_TIMEOUT_PER_TENANT_MS 10

static void apply_start(struct proxy *p);
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
    free(p->ext_previous);
    proxy_errlog_close(p);
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

void proxy_close_handle(struct proxy *p, uv_handle_t *h)
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

/* ---- one child command ------------------------------------------------------ */

/* The runner reports once its handles are closed: the output (stdout and
 * stderr together) is kept for nginx's own message. */
static void on_cmd_done(void *arg, struct child_result *r)
{
    struct proxy *p = arg;
    cmd_done_fn done = p->cmd_done;
    size_t len = strlen(r->out);

    p->cmd = NULL;
    p->handles--;
    util_strlcpy(p->cmd_out, r->out, sizeof p->cmd_out);
    len = len < sizeof p->cmd_out ? len : sizeof p->cmd_out - 1;
    if (r->sig != 0 && len + 64 < sizeof p->cmd_out)
        snprintf(p->cmd_out + len, sizeof p->cmd_out - len, "\n[crit] killed by signal %d", r->sig);
    if (done && !p->stopping)
        done(p, r->status == 0 && r->sig == 0, p->cmd_out);
    maybe_finish(p);
}

/*
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null and stdout +
 * stderr captured; `done` is called once the process is reaped and its
 * handles are closed, with ok = exited 0. Returns 0 or a negative errno (then
 * `done` is not called and the message is in p->cmd_out).
 */
static int cmd_run(struct proxy *p, char *const *argv, cmd_done_fn done)
{
    struct child_opts o = {
        .argv = argv,
        .merge_stderr = true,
        .timeout_ms =
            CMD_TIMEOUT_MS + CMD_TIMEOUT_PER_TENANT_MS * (uint64_t)sup_tenant_count(p->sup),
        .log_label = "proxy",
    };
    int r;

    if (p->cmd)
        return -EBUSY;
    p->cmd_out[0] = '\0';
    r = child_start(p->loop, &o, on_cmd_done, p, &p->cmd, p->cmd_out, sizeof p->cmd_out);
    if (r < 0)
        return r;
    p->cmd_done = done;
    p->handles++; /* the runner, until it reports */
    return 0;
}

static int cmd_run_shell(struct proxy *p, const char *cmdline, cmd_done_fn done)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmdline, NULL};
    return cmd_run(p, argv, done);
}

/* ---- applying -------------------------------------------------------------- */

static void apply_end(struct proxy *p)
{
    proxy_rendered_free(&p->cand);
    /* The candidate's text (30 MB at 10,000 tenants) goes back to the
     * system, not only to malloc's free lists. */
    malloc_trim(0);
    proxy_page_ids_clear(&p->cand_pages);
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
    proxy_digest_of(&p->cand, &p->live_d);
    proxy_rendered_free(&p->cand);
    p->failed_d.set = false;
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

    if (util_path_fmt(dir, sizeof dir, "%s/%s", p->prefix, PROXY_SUSPENDED_DIR) < 0)
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
        if (proxy_check_id(id) < 0 || proxy_page_ids_has(&p->live_pages, id))
            continue;
        if (util_path_fmt(path, sizeof path, "%s/%s", dir, e->d_name) < 0)
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
    proxy_digest_of(&p->cand, &p->failed_d);
    proxy_rendered_free(&p->cand);
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
        if (util_path_fmt(path, sizeof path, "%s/%s", p->prefix, e->d_name) == 0)
            proxy_remove_flat_dir(path);
    }
    closedir(d);
}

static void managed_swap(struct proxy *p)
{
    char staging[PATH_MAX], conf[PATH_MAX], target[64], tmp[PATH_MAX], live[PATH_MAX];
    unsigned old = p->generation, gen = proxy_live_generation(p);

    gen = (gen > old ? gen : old) + 1;
    snprintf(target, sizeof target, "conf.%u", gen);
    if (util_path_fmt(staging, sizeof staging, "%s/staging", p->prefix) < 0 ||
        util_path_fmt(conf, sizeof conf, "%s/%s", p->prefix, target) < 0 ||
        util_path_fmt(tmp, sizeof tmp, "%s/live.tmp", p->prefix) < 0 ||
        util_path_fmt(live, sizeof live, "%s/live", p->prefix) < 0) {
        set_error(p, "prefix %s is too long", p->prefix);
        return;
    }
    proxy_remove_flat_dir(conf);
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
    proxy_nginx_reload(p);
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
        if (util_path_fmt(staging, sizeof staging, "%s/staging", p->prefix) == 0)
            proxy_remove_flat_dir(staging);
        /* With no nginx yet, the last good configuration (if any) still serves. */
        proxy_nginx_ensure(p);
    }
    apply_end(p);
}

static int managed_stage_and_test(struct proxy *p, char *err, size_t errlen)
{
    const struct config *c = sup_config(p->sup);
    char staging[PATH_MAX], main_path[PATH_MAX], ten_path[PATH_MAX], pfx[PATH_MAX];
    int r;

    if (util_path_fmt(staging, sizeof staging, "%s/staging", p->prefix) < 0 ||
        util_path_fmt(main_path, sizeof main_path, "%s/%s", staging, PROXY_MAIN_FILE) < 0 ||
        util_path_fmt(ten_path, sizeof ten_path, "%s/%s", staging, PROXY_TENANTS_FILE) < 0 ||
        util_path_fmt(pfx, sizeof pfx, "%s/", p->prefix) < 0)
        return -ENAMETOOLONG;
    proxy_remove_flat_dir(staging);
    if (mkdir(staging, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        util_seterr(err, errlen, "cannot make %s: %s", staging, strerror(errno));
        return r;
    }
    r = util_write_file_atomic(main_path, p->cand.main_conf, strlen(p->cand.main_conf), 0644);
    if (r == 0)
        r = util_write_file_atomic(ten_path, p->cand.tenants_conf, strlen(p->cand.tenants_conf),
                                   0644);
    if (r < 0) {
        util_seterr(err, errlen, "cannot write into %s: %s", staging, strerror(-r));
        return r;
    }
    const char *nginx = c->g.proxy_nginx[0] ? c->g.proxy_nginx : "nginx";
    char *argv[] = {(char *)nginx, "-t", "-q", "-e", "stderr", "-p", pfx, "-c", main_path, NULL};
    r = cmd_run(p, argv, on_managed_test);
    if (r < 0)
        util_seterr(err, errlen, "%s", p->cmd_out);
    return r;
}

/* ---- external mode ------------------------------------------------------------- */

static void external_output_path(struct proxy *p, char *buf, size_t n)
{
    const struct config *c = sup_config(p->sup);
    if (c->g.proxy_output[0] != '\0')
        util_strlcpy(buf, c->g.proxy_output, n);
    else
        util_path_fmt(buf, n, "%s/%s", p->prefix, PROXY_TENANTS_FILE);
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
        util_seterr(err, errlen, "cannot read %s: %s", path, strerror(-r));
        return r;
    }
    r = util_write_file_atomic(path, p->cand.tenants_conf, strlen(p->cand.tenants_conf), 0644);
    if (r < 0) {
        util_seterr(err, errlen, "cannot write %s: %s", path, strerror(-r));
        return r;
    }
    if (c->g.proxy_test_cmd[0] == '\0') {
        external_reload(p);
        return 0;
    }
    r = cmd_run_shell(p, c->g.proxy_test_cmd, on_external_test);
    if (r < 0)
        util_seterr(err, errlen, "%s", p->cmd_out);
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
    r = proxy_render_candidate(p, err, sizeof err);
    if (r < 0) {
        set_error(p, "cannot render the proxy configuration, the previous one keeps serving: %s",
                  err);
        proxy_rendered_free(&p->cand);
        proxy_nginx_ensure(p);
        apply_end(p);
        return;
    }
    struct proxy_digest cand_d;
    proxy_digest_of(&p->cand, &cand_d);
    if (proxy_digest_same(&cand_d, &p->live_d)) {
        /* Nothing changed for nginx: a state change that does not show. */
        p->last_error[0] = '\0';
        proxy_nginx_ensure(p);
        apply_end(p);
        return;
    }
    if (proxy_digest_same(&cand_d, &p->failed_d)) {
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
        proxy_nginx_ensure(p);
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

/* ---- start and stop ------------------------------------------------------------ */

static int prepare_dirs(struct proxy *p, const struct config_global *g, char *err, size_t errlen)
{
    static const char *const sub[] = {"", ("/" PROXY_SUSPENDED_DIR), "/temp", ("/" PROXY_ACME_DIR)};
    char path[PATH_MAX];
    struct stat st;
    int r;

    r = util_mkdir_p(g->run_dir, 0711);
    if (r < 0) {
        util_seterr(err, errlen, "cannot make %s: %s", g->run_dir, strerror(-r));
        return r;
    }
    /* nginx's workers run as nobody when tenantd is root: they must traverse
     * run_dir to read the suspended pages, but not list it. */
    if (geteuid() == 0 && stat(g->run_dir, &st) == 0 && (st.st_mode & 0011) != 0011 &&
        chmod(g->run_dir, (st.st_mode & 07777) | 0011) == 0)
        log_info(NULL, "proxy: %s made traversable (mode %o) for nginx's workers", g->run_dir,
                 (unsigned)((st.st_mode & 07777) | 0011));
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        if (util_path_fmt(path, sizeof path, "%s%s", p->prefix, sub[i]) < 0)
            return -ENAMETOOLONG;
        r = util_mkdir_p(path, 0755);
        if (r == 0)
            r = chmod(path, 0755) < 0 ? -errno : 0;
        if (r < 0) {
            util_seterr(err, errlen, "cannot make %s: %s", path, strerror(-r));
            return r;
        }
    }
    r = util_mkdir_p(g->log_dir, 0755);
    if (r < 0) {
        util_seterr(err, errlen, "cannot make %s: %s", g->log_dir, strerror(-r));
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
    if (util_path_fmt(link, sizeof link, "%s/%s", g->run_dir, PROXY_PREFIX_DIR) < 0)
        return -ENAMETOOLONG;
    if (strcmp(link, p->prefix) == 0)
        return 0;
    int r = util_mkdir_p(p->prefix, 0755);
    if (r < 0) {
        util_seterr(err, errlen, "cannot make %s: %s", p->prefix, strerror(-r));
        return r;
    }
    if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
        unlink(link);
    if (symlink(p->prefix, link) < 0 && errno != EEXIST) {
        r = -errno;
        util_seterr(err, errlen, "cannot link %s to %s: %s", link, p->prefix, strerror(errno));
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
        util_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->loop = loop;
    p->sup = s;
    p->mode = c->g.proxy_mode;
    if (proxy_render_prefix(&c->g, p->prefix, sizeof p->prefix) < 0 ||
        util_strlcpy(p->log_dir, c->g.log_dir, sizeof p->log_dir) < 0) {
        util_seterr(err, errlen, "run_dir or log_dir is too long");
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
    p->debounce.data = p->nginx_tm.data = p;
    p->handles = 2;
    *out = p;

    if (p->mode == PROXY_OFF) {
        log_info(NULL, "proxy: mode off, no proxy configuration is written");
        return 0;
    }
    p->generation = proxy_live_generation(p);
    if (p->mode == PROXY_MANAGED && !proxy_nginx_adopt(p))
        proxy_nginx_stop_stale(p);
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
    proxy_close_handle(p, (uv_handle_t *)&p->debounce);
    if (p->cmd)
        child_kill(p->cmd);
    proxy_nginx_stop(p);
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
    out->nginx_pid = p->nginx_running ? proxy_nginx_pid(p) : 0;
    out->generation = p->generation;
}
