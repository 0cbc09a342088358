/*
 * proxy_nginx.c — the managed nginx (proxy.h "Managed nginx"): started on the
 * live configuration once one has passed its test, reloaded with SIGHUP once
 * its pid file shows its signal handlers are installed, restarted on the
 * shared backoff (backoff.h) when it dies, stopped with SIGTERM then SIGKILL.
 * libuv spawns and reaps it, in its own process group.
 *
 * What it does not do: decide what configuration is live (proxy.c), or run
 * the short test commands (child.h through proxy.c).
 */
#include "proxy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sup.h"
#include "upgrade.h"
#include "util.h"

/* nginx's restart delay (backoff.h): 200 ms, doubled per quick death up to
 * 10 s; a run of 10 s resets it. No start limit: the proxy is never given up
 * on. No jitter either: there is one nginx, nothing to spread. */
static const struct backoff_policy nginx_backoff = {
    .min_ms = 200,
    .max_ms = 10000,
    .stable_after_ms = 10000,
    .start_limit = 0,
};

pid_t proxy_nginx_pid(const struct proxy *p)
{
    return p->adopted ? p->adopted_pid : p->nginx.pid;
}

static int nginx_kill(struct proxy *p, int sig)
{
    if (!p->adopted)
        return uv_process_kill(&p->nginx, sig);
    return syscall(SYS_pidfd_send_signal, p->adopted_pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static bool nginx_ready(struct proxy *p)
{
    char path[PATH_MAX], *text = NULL;
    bool ready = false;

    if (util_path_fmt(path, sizeof path, "%s/nginx.pid", p->prefix) < 0)
        return false;
    if (util_read_file(path, 64, &text, NULL) == 0) {
        ready = atoi(text) == proxy_nginx_pid(p);
        free(text);
    }
    return ready;
}

/* The managed nginx opens its log files anew (nginx_logrot.c renamed them
 * first). By a reload (SIGHUP), not SIGUSR1: after SIGUSR1 the master reopens
 * them, but then its workers reopen them by path too, as nobody, which the
 * 0750 log dir refuses (EACCES) and they keep the renamed file; a reload's new
 * cycle opens them in the master, as root, and its new workers inherit them.
 * -EAGAIN while it is not running or not ready for signals. */
int proxy_reopen_logs(struct proxy *p, bool check_only)
{
    if (p == NULL || p->mode != PROXY_MANAGED || !p->nginx_running || p->stopping ||
        !nginx_ready(p))
        return -EAGAIN;
    if (check_only)
        return 0;
    proxy_nginx_reload(p);
    return 0;
}

static void on_ready_poll(uv_timer_t *t);

/*
 * Make the running nginx read the live configuration. Its master installs
 * its signal handlers only after reading the first configuration, and a
 * SIGHUP before that would kill it; the pid file appears after the handlers,
 * so until it names this master the reload waits.
 */
void proxy_nginx_reload(struct proxy *p)
{
    if (!p->nginx_running) {
        proxy_nginx_ensure(p);
        return;
    }
    if (!nginx_ready(p)) {
        p->reload_pending = true;
        if (!uv_is_active((uv_handle_t *)&p->nginx_tm))
            uv_timer_start(&p->nginx_tm, on_ready_poll, READY_POLL_MS, 0);
        return;
    }
    p->reload_pending = false;
    int r = nginx_kill(p, SIGHUP);
    if (r < 0)
        log_warn(NULL, "proxy: SIGHUP to nginx pid %d: %s", proxy_nginx_pid(p), uv_strerror(r));
}

static void on_ready_poll(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->reload_pending && p->nginx_running && !p->stopping)
        proxy_nginx_reload(p);
}

static void on_nginx_exit(uv_process_t *proc, int64_t status, int sig);
static void on_nginx_closed(uv_handle_t *h);

static void on_restart_timer(uv_timer_t *t)
{
    struct proxy *p = t->data;
    p->nginx_waiting = false;
    proxy_nginx_ensure(p);
}

static void nginx_schedule_restart(struct proxy *p)
{
    p->nginx_waiting = true;
    uv_timer_start(&p->nginx_tm, on_restart_timer, (uint64_t)p->backoff_ms, 0);
}

/* Start nginx on the live configuration if it should run and does not. */
void proxy_nginx_ensure(struct proxy *p)
{
    const struct config *c = sup_config(p->sup);
    char live[PATH_MAX], logp[PATH_MAX], pfx[PATH_MAX];
    struct stat st;
    int fd, r;

    if (p->mode != PROXY_MANAGED || p->stopping || p->nginx_running || p->nginx_waiting)
        return;
    if (util_path_fmt(live, sizeof live, "%s/live/%s", p->prefix, PROXY_MAIN_FILE) < 0 ||
        proxy_errlog_path(p, logp, sizeof logp) < 0 ||
        util_path_fmt(pfx, sizeof pfx, "%s/", p->prefix) < 0)
        return;
    if (stat(live, &st) < 0)
        return; /* no configuration has passed yet */
    /* Its stdout and stderr: a pipe tenantd reads into nginx.log (proxy_errlog.c). */
    fd = proxy_errlog_pipe(p);
    if (fd < 0) {
        log_error(NULL, "proxy: cannot capture nginx's error log %s: %s", logp, strerror(-fd));
        p->backoff_ms = backoff_on_crash(&p->bo, &nginx_backoff, 0, 0);
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
    if (r == 0)
        proxy_errlog_spawned(fd);
    close(fd);
    p->handles++;
    p->nginx_handle_open = true;
    if (r < 0) {
        /* The restart is scheduled by the close callback, like after a death. */
        p->backoff_ms = backoff_on_crash(&p->bo, &nginx_backoff, 0, 0);
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
             proxy_live_generation(p), logp);
}

static void on_nginx_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;
    p->handles--;
    p->nginx_handle_open = false;
    if (p->stopping) {
        proxy_close_handle(p, (uv_handle_t *)&p->nginx_tm);
        return; /* the timer's close finishes the stop */
    }
    /* Only now may the handle be reused for the next spawn. */
    nginx_schedule_restart(p);
}

static void nginx_exited(struct proxy *p, pid_t pid, int64_t status, int sig);

static void on_nginx_exit(uv_process_t *proc, int64_t status, int sig)
{
    struct proxy *p = proc->data;
    nginx_exited(p, proc->pid, status, sig);
    proc->data = p;
    uv_close((uv_handle_t *)proc, on_nginx_closed);
}

static void on_adopted_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;
    close(p->adopted_pidfd);
    p->adopted_pidfd = -1;
    p->adopted = false;
    on_nginx_closed(h);
}

static void on_adopted_exit(uv_poll_t *h, int status, int events)
{
    struct proxy *p = h->data;
    siginfo_t si;
    (void)status;
    (void)events;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)p->adopted_pidfd, &si, WEXITED | WNOHANG) < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
    } else if (si.si_pid == 0) {
        return;
    }
    bool exited = si.si_code == CLD_EXITED;
    nginx_exited(p, p->adopted_pid, exited ? si.si_status : 0, exited ? 0 : si.si_status);
    uv_close((uv_handle_t *)h, on_adopted_closed);
}

bool proxy_nginx_adopt(struct proxy *p)
{
    json_t *o = json_object_get(upgrade_state(), "proxy");
    int fd = upgrade_take_fd(o, "nginx_pidfd");
    pid_t pid = (pid_t)json_integer_value(json_object_get(o, "nginx_pid"));
    if (fd < 0 || pid <= 0)
        return false;
    if (uv_poll_init(p->loop, &p->adopted_poll, fd) < 0) {
        close(fd);
        return false;
    }
    p->adopted_poll.data = p;
    p->adopted = true;
    p->adopted_pid = pid;
    p->adopted_pidfd = fd;
    p->handles++;
    p->nginx_handle_open = true;
    p->nginx_running = true;
    p->nginx_started_ms = uv_now(p->loop);
    uv_poll_start(&p->adopted_poll, UV_READABLE, on_adopted_exit);
    proxy_errlog_adopt(p, o);
    log_info(NULL, "proxy: nginx pid=%d taken over from the previous image", (int)pid);
    return true;
}

bool proxy_upgrade_busy(const struct proxy *p)
{
    return p->cmd != NULL || p->applying;
}

int proxy_upgrade_export(struct proxy *p, json_t *state)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(state, "proxy", o) < 0)
        return -ENOMEM;
    if (!p->nginx_running)
        return 0;
    pid_t pid = proxy_nginx_pid(p);
    int fd = p->adopted ? p->adopted_pidfd : (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return 0; /* the next image starts its own */
    json_object_set_new(o, "nginx_pid", json_integer(pid));
    int r = upgrade_keep_fd(o, "nginx_pidfd", fd);
    return r < 0 ? r : proxy_errlog_export(p, o);
}

static void nginx_exited(struct proxy *p, pid_t pid, int64_t status, int sig)
{
    uint64_t ran = uv_now(p->loop) - p->nginx_started_ms;

    p->nginx_running = false;
    p->reload_pending = false;
    uv_timer_stop(&p->nginx_tm);
    /* A master that dies abnormally leaves its workers serving the old
     * configuration and holding the port; they are in its process group. A
     * master that stopped cleanly waited for them, so this finds nobody. */
    if (kill(-pid, SIGKILL) == 0)
        log_warn(NULL, "proxy: killed the workers left by nginx pid %d", pid);
    if (p->stopping) {
        log_info(NULL, "proxy: nginx stopped (%s %d)", sig ? "signal" : "exit",
                 sig ? sig : (int)status);
    } else {
        p->backoff_ms = backoff_on_crash(&p->bo, &nginx_backoff, (int64_t)ran, 0);
        /* Not an apply failure: the configuration is fine, the process is not. */
        log_error(NULL,
                  "proxy: nginx pid %d died (%s %d) after %llu ms; restarting in %lld ms "
                  "(see %s/nginx.log)",
                  pid, sig ? "signal" : "exit", sig ? sig : (int)status, (unsigned long long)ran,
                  (long long)p->backoff_ms, p->log_dir);
    }
}

static void on_stop_grace(uv_timer_t *t)
{
    struct proxy *p = t->data;
    if (p->nginx_running) {
        log_warn(NULL, "proxy: nginx pid %d ignored SIGTERM for %d s, killing it",
                 proxy_nginx_pid(p), STOP_GRACE_MS / 1000);
        nginx_kill(p, SIGKILL);
    }
}

/*
 * An nginx left by a tenantd that was killed holds the port, and a new one
 * could never bind it. Its pid file says who it is; it is ours only if its
 * command line names our prefix.
 */
void proxy_nginx_stop_stale(struct proxy *p)
{
    char path[PATH_MAX], *text = NULL, *cmd = NULL;
    size_t len = 0;
    pid_t pid;

    if (util_path_fmt(path, sizeof path, "%s/nginx.pid", p->prefix) < 0 ||
        util_read_file(path, 64, &text, NULL) < 0)
        return;
    pid = (pid_t)atoi(text);
    free(text);
    if (pid <= 1 || util_path_fmt(path, sizeof path, "/proc/%d/cmdline", (int)pid) < 0 ||
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

void proxy_nginx_stop(struct proxy *p)
{
    if (p->nginx_running) {
        /* nginx_tm is closed once the master is reaped (on_nginx_closed). */
        nginx_kill(p, SIGTERM);
        uv_timer_start(&p->nginx_tm, on_stop_grace, STOP_GRACE_MS, 0);
    } else if (!p->nginx_handle_open) {
        proxy_close_handle(p, (uv_handle_t *)&p->nginx_tm);
    }
}
