/*
 * tenantd_main.c — the tenantd daemon's entry point: parse the command line,
 * load and check the configuration, then run the supervisor (supervisor.c)
 * and the admin API (admin.c) in the foreground on one libuv loop until
 * SIGTERM or SIGINT; SIGHUP reloads; SIGUSR2 upgrades (re-execs tenantd in
 * place, keeping every worker: upgrade.c).
 *
 *   tenantd -c tenantd.ini [-n] [-v] [--help] [--version]
 *
 * -n loads and checks everything, prints "configuration OK" or every error
 * line, and exits 0 or 1, like nginx -t.
 *
 * What it does not do: daemonize (a service manager runs it in the
 * foreground) or log anywhere but stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "acme.h"
#include "admin.h"
#include "backup_sched.h"
#include "capacity.h"
#include "config.h"
#include "log.h"
#include "offsite.h"
#include "statedb_kv.h"
#include "pg_admin.h"
#include "pg_stats.h"
#include "proxy.h"
#include "reach.h"
#include "svcnotify.h"
#include "spawn.h"
#include "storage.h"
#include "sup.h"
#include "alerts.h"
#include "reminders.h"
#include "nginx_logrot.h"
#include "sup_upgrade.h"
#include "uidmap.h"
#include "upgrade.h"
#include "util.h"

#ifndef TENANTD_VERSION
#define TENANTD_VERSION "0"
#endif

struct daemon {
    uv_loop_t *loop;
    struct sup *sup;
    struct admin *admin;
    struct proxy *proxy;          /* NULL when it could not start, and once stopping */
    struct backup_sched *backups; /* NULL when it could not start, and once stopping */
    bool backups_done;            /* the scheduler is gone (or never started) */
    struct pg_stats *pg_stats;    /* PostgreSQL databases' sizes (pg_stats.h) */
    struct svcnotify *sd;         /* NULL without NOTIFY_SOCKET */
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr2;
    bool stopping;
    int open_signals;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tenantd -c tenantd.ini [-n] [-v] [--help] [--version]\n"
               "  -c FILE    the global configuration file\n"
               "  -n         check the configuration, print \"configuration OK\" or the errors,\n"
               "             and exit 0 or 1\n"
               "  -v         verbose: log debug lines too\n");
}

/* Checks that need more than the parser: the programs tenantd will exec. */
static void cross_check(const struct config *c, struct config_diag *d)
{
    char self[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 16];
    if (util_self_dir(self, sizeof self) < 0)
        snprintf(self, sizeof self, ".");
    if (c->g.jail_path[0])
        snprintf(path, sizeof path, "%s", c->g.jail_path);
    else
        snprintf(path, sizeof path, "%s/tenant-jail", self);
    if (access(path, X_OK) < 0)
        config_diag_add(d, "%s: [tenantd] jail: %s is not executable (%s)", c->g.path, path,
                        strerror(errno));
    /* Each tenant's program and templates, as its worker will see them. */
    reach_check_tenants(c, self, geteuid() == 0, d);
    /* Tenant uids must not fall in ranges handed out for user namespaces. */
    uidmap_check(&c->g, d);
}

static void warn_stderr(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "warning: %s\n", line);
}

static void warn_log(void *arg, const char *line)
{
    (void)arg;
    log_warn(NULL, "%s", line);
}

static int check_only(const char *path)
{
    struct config *c = NULL;
    struct config_diag d = {0};
    int rc = config_load(path, &c, &d);
    if (rc == 0) {
        cross_check(c, &d);
        pg_admin_check_config(&c->g, &d);
        offsite_check_config(&c->g, &d);
    }
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.lines[i]);
    struct config_diag w = {0};
    config_warnings(c, &w);
    for (size_t i = 0; i < w.n; i++)
        fprintf(stderr, "%s\n", w.lines[i]);
    config_diag_clear(&w);
    if (rc == 0)
        config_net_warnings(c, warn_stderr, NULL); /* do not make it invalid */
    if (rc == 0 && d.n == 0)
        printf("configuration OK\n");
    else if (rc == 0)
        fprintf(stderr, "configuration has %zu error%s\n", d.n, d.n == 1 ? "" : "s");
    int bad = rc < 0 || d.n > 0;
    if (rc == 0) {
        /* Whether the tenants fit: warnings, the configuration is valid. */
        struct config_diag cw = {0};
        struct capacity_in in;
        char msg[256];
        capacity_raise_nofile(msg, sizeof msg);
        capacity_probe(c, &in);
        capacity_check(&in, &cw);
        for (size_t i = 0; i < cw.n; i++)
            fprintf(stderr, "warning: %s\n", cw.lines[i]);
        config_diag_clear(&cw);
    }
    config_diag_clear(&d);
    config_free(c);
    return bad ? 1 : 0;
}

/* Each tenant holds several descriptors (capacity.h): a thousand tenants
 * need far more than the usual soft limit of 1024. */
static void raise_nofile(void)
{
    char msg[256];
    uint64_t lim = capacity_raise_nofile(msg, sizeof msg);
    if (msg[0])
        log_notice(NULL, "%s", msg);
    log_info(NULL, "open file limit %llu", (unsigned long long)lim);
}

/* Once everything is closed, a backup abandoned past its deadline (a pool
 * thread stuck on a tenant's file) must not keep tenantd from exiting. */
static void maybe_stop_loop(struct daemon *dm)
{
    if (dm->open_signals == 0 && dm->backups_done && backup_sched_stuck_jobs() > 0) {
        log_warn(NULL, "%d backup(s) still stuck on a tenant's files: exiting without them",
                 backup_sched_stuck_jobs());
        uv_stop(dm->loop);
    }
}

static void signal_closed(uv_handle_t *h)
{
    struct daemon *dm = h->data;
    dm->open_signals--;
    maybe_stop_loop(dm);
}

static void on_backups_gone(void *arg)
{
    struct daemon *dm = arg;
    dm->backups_done = true;
    maybe_stop_loop(dm);
}

static void on_admin_stopped(void *arg)
{
    struct daemon *dm = arg;
    dm->admin = NULL;
    svcnotify_close(dm->sd);
    dm->sd = NULL;
    uv_close((uv_handle_t *)&dm->sig_term, signal_closed);
    uv_close((uv_handle_t *)&dm->sig_int, signal_closed);
    uv_close((uv_handle_t *)&dm->sig_hup, signal_closed);
    uv_close((uv_handle_t *)&dm->sig_usr2, signal_closed);
}

static void on_sup_stopped(void *arg)
{
    struct daemon *dm = arg;
    log_info(NULL, "every worker is stopped");
    if (dm->admin)
        admin_stop(dm->admin, on_admin_stopped, dm);
    else
        on_admin_stopped(dm);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *dm = h->data;
    if (signum == SIGHUP) {
        log_info(NULL, "SIGHUP: reloading");
        sup_reload(dm->sup, NULL, 0);
        /* proxy: re-render even if no tenant changed (e.g. fixed templates). */
        if (dm->proxy)
            proxy_request_apply(dm->proxy);
        return;
    }
    if (signum == SIGUSR2) {
        char err[512];
        log_info(NULL, "SIGUSR2: upgrading");
        if (upgrade_start(NULL, NULL, NULL, err, sizeof err) < 0)
            log_error(NULL, "upgrade refused: %s", err);
        return;
    }
    if (dm->stopping) {
        log_info(NULL, "%s: already stopping", strsignal(signum));
        return;
    }
    dm->stopping = true;
    log_info(NULL, "%s: stopping", strsignal(signum));
    acme_stop();
    upgrade_close();
    svcnotify_stopping(dm->sd);
    reminders_stop(); /* before alerts_stop: its mails share the queue */
    alerts_stop();    /* before the proxy it reads goes away */
    offsite_stop();
    nginx_logrot_stop();
    /* proxy: nginx stops alongside the workers; the loop runs until its
     * handles are closed, so uv_run returns only once nginx is reaped. */
    if (dm->proxy) {
        admin_set_proxy(dm->admin, NULL);
        proxy_stop(dm->proxy, NULL, NULL);
        dm->proxy = NULL;
    }
    /* The admin API lets go of the scheduler first, so no request can reach
     * it once it is stopping; a request already waiting for its backup is
     * answered by the scheduler (-ECANCELED, or the backup's result when it
     * is already running), or by admin_stop if that comes first. A backup
     * already running gets a few seconds, then is abandoned (a tenant's file
     * may hold it forever): maybe_stop_loop ends the loop without it. */
    admin_set_backup_sched(dm->admin, NULL);
    storage_stop();
    if (dm->backups) {
        backup_sched_stop(dm->backups, on_backups_gone, dm);
        dm->backups = NULL;
    }
    pg_stats_stop(dm->pg_stats);
    dm->pg_stats = NULL;
    sup_shutdown(dm->sup, on_sup_stopped, dm);
}

/* ---- upgrade (upgrade.h) ------------------------------------------------ */

static void up_busy(void *arg, char *why, size_t n)
{
    struct daemon *dm = arg;
    why[0] = '\0';
    if (dm->stopping || !dm->admin)
        snprintf(why, n, "tenantd is stopping");
    else if (dm->proxy && proxy_upgrade_busy(dm->proxy))
        snprintf(why, n, "the proxy is applying a configuration; try again");
    else if (acme_busy())
        snprintf(why, n, "an ACME issuance is running; try again");
    else
        sup_upgrade_busy(dm->sup, why, n);
    if (!why[0] && dm->admin)
        admin_upgrade_busy(dm->admin, why, n);
}

static void (*up_quiesced)(void *);

static void on_backups_stopped(void *arg)
{
    ((struct daemon *)arg)->backups_done = true;
    log_info(NULL, "upgrade: backups stopped");
    up_quiesced(arg);
}

static void up_quiesce(void *arg, void (*done)(void *))
{
    struct daemon *dm = arg;
    /* A backup running now is let finish (the stop waits for it, at most
     * backup_sched.h's few seconds, then abandons it); one waiting in the
     * queue is cancelled, its requester told so. */
    admin_set_backup_sched(dm->admin, NULL);
    /* A size query of pg_stats.h is killed; the new image starts its own. */
    pg_stats_stop(dm->pg_stats);
    dm->pg_stats = NULL;
    up_quiesced = done;
    if (dm->backups) {
        struct backup_sched *b = dm->backups;
        dm->backups = NULL;
        backup_sched_stop(b, on_backups_stopped, dm);
    } else {
        done(dm);
    }
}

static void start_backups(struct daemon *dm)
{
    int prc = backup_sched_start(dm->loop, dm->sup, &dm->backups);
    if (prc < 0) {
        log_error(NULL, "cannot start the backup schedule: %s", strerror(-prc));
    } else {
        admin_set_backup_sched(dm->admin, dm->backups);
        dm->backups_done = false;
    }
}

static void up_resume(void *arg)
{
    struct daemon *dm = arg;
    if (!dm->stopping && !dm->backups)
        start_backups(dm);
    if (!dm->stopping && !dm->pg_stats && pg_stats_start(dm->loop, dm->sup, &dm->pg_stats) < 0)
        log_error(NULL, "cannot start the PostgreSQL statistics");
}

static int up_export(void *arg, json_t *state, char *err, size_t n)
{
    struct daemon *dm = arg;
    int rc = sup_upgrade_export(dm->sup, state, err, n);
    if (rc == 0 && dm->admin && admin_upgrade_export(dm->admin, state) < 0)
        rc = -ENOMEM;
    if (rc == 0 && dm->proxy && proxy_upgrade_export(dm->proxy, state) < 0)
        rc = -ENOMEM;
    if (rc < 0 && !err[0])
        snprintf(err, n, "cannot record the state: %s", strerror(-rc));
    return rc;
}

static int make_dirs(const struct config_global *g)
{
    struct {
        const char *path;
        mode_t mode;
    } dirs[] = {
        /* The run dir holds the admin socket and token: operators only. */
        {g->run_dir, 0700},
        {g->log_dir, 0750},
        /* Tenants must traverse the data dir to reach their own folder,
         * but not list it. */
        {g->data_dir, 0711},
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int r = util_mkdir_p_modes(dirs[i].path, 0755, dirs[i].mode);
        if (r < 0) {
            log_crit(NULL, "cannot create %s: %s", dirs[i].path, strerror(-r));
            return r;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    bool check = false;
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:nvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("tenantd %s\n", TENANTD_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!conf || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "tenantd: libsodium cannot initialise\n");
        return 1;
    }
    if (check)
        return check_only(conf);
    /* Before anything opens an fd or reads NOTIFY_SOCKET: a state handed
     * over by the previous image (upgrade.h) is read here. */
    bool adopting = upgrade_boot(argc, argv) == 1;

    /* First, so that nothing tenantd starts inherits NOTIFY_SOCKET: the
     * workers get their own, anything else none. */
    struct daemon dm = {.backups_done = true};
    dm.loop = uv_default_loop();
    int rc = svcnotify_open(dm.loop, &dm.sd);
    if (rc < 0)
        log_warn(NULL, "NOTIFY_SOCKET is unusable (%s): no readiness notification", strerror(-rc));

    struct config *cfg = NULL;
    struct config_diag d = {0};
    rc = config_load(conf, &cfg, &d);
    for (size_t i = 0; i < d.n; i++)
        log_msg(rc < 0 ? LOG_CRIT : LOG_WARN, NULL, "%s", d.lines[i]);
    config_diag_clear(&d);
    if (rc < 0) {
        log_crit(NULL, "%s: the configuration is invalid", conf);
        if (adopting)
            upgrade_rollback("the configuration is invalid for the new image");
        return 1;
    }

    /* A dead reader of a log pipe or a health socket must not kill tenantd. */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (geteuid() != 0)
        log_warn(NULL, "not running as root: every worker runs as the current user, "
                       "without isolation");
    config_net_warnings(cfg, warn_log, NULL);
    if (make_dirs(&cfg->g) < 0) {
        config_free(cfg);
        return 1;
    }

    log_info(NULL, "tenantd %s starting: %zu tenant files", TENANTD_VERSION, cfg->n_tenants);
    uidmap_configure(&cfg->g);
    rc = sup_start(dm.loop, cfg, &dm.sup);
    if (rc < 0) {
        log_crit(NULL, "cannot start the supervisor: %s", strerror(-rc));
        if (adopting)
            upgrade_rollback("the new image cannot start the supervisor");
        return 1;
    }
    svcnotify_attach(dm.sd, dm.sup);
    char err[512] = "";
    rc = admin_start(dm.loop, dm.sup, &dm.admin, err, sizeof err);
    if (rc < 0 && adopting) {
        char why[600];
        snprintf(why, sizeof why, "the new image cannot start the admin API: %s",
                 err[0] ? err : strerror(-rc));
        upgrade_rollback(why);
    }
    if (rc < 0) {
        log_crit(NULL, "cannot start the admin API: %s", err[0] ? err : strerror(-rc));
        /* Without its admin surface tenantd cannot be operated: stop the
         * workers it may already have started, then exit non-zero. */
        dm.admin = NULL;
    }
    /* proxy: a proxy that cannot start (its folders) leaves the tenants
     * running; configuration errors are reported by the proxy itself. */
    if (rc == 0) {
        char perr[512] = "";
        /* Before the modules that load their status from it (statedb_kv.h). */
        if (statedb_kv_open(sup_config(dm.sup)->g.run_dir, perr, sizeof perr) < 0)
            log_error(NULL, "alert, certificate and off-site status will not survive a restart: %s",
                      perr);
        perr[0] = '\0';
        int prc = proxy_start(dm.loop, dm.sup, &dm.proxy, perr, sizeof perr);
        if (prc < 0)
            log_error(NULL, "cannot start the proxy: %s", perr[0] ? perr : strerror(-prc));
        else
            /* GET /v1/proxy, the proxy's metrics, and POST /v1/reload re-applying. */
            admin_set_proxy(dm.admin, dm.proxy);
        /* [acme]: certificates per tenant, rendered by the proxy. */
        perr[0] = '\0';
        prc = acme_start(dm.loop, dm.sup, dm.proxy, admin_cert_audit, dm.admin, perr, sizeof perr);
        if (prc < 0)
            log_error(NULL, "cannot start ACME: %s", perr[0] ? perr : strerror(-prc));
        /* POST /v1/tenants/<id>/backup queues with the scheduler; without
         * it, tenantctl backup copies the database itself. */
        start_backups(&dm);
        prc = storage_start(dm.loop, dm.sup, (uint64_t)sup_config(dm.sup)->g.storage_check_ms);
        if (prc < 0)
            log_error(NULL, "cannot start storage accounting: %s", strerror(-prc));
        if (dm.proxy != NULL && nginx_logrot_start(dm.loop, dm.sup, dm.proxy) < 0)
            log_error(NULL, "cannot start rotating nginx's access logs");
        prc = alerts_start(dm.loop, dm.sup, dm.proxy);
        if (prc < 0)
            log_error(NULL, "cannot start the alerts: %s", strerror(-prc));
        prc = reminders_start(dm.loop, dm.sup);
        if (prc < 0)
            log_error(NULL, "cannot start the deadline reminders: %s", strerror(-prc));
        if (offsite_start(dm.loop, dm.sup) < 0)
            log_error(NULL, "cannot start the off-site restore tests");
        if (pg_stats_start(dm.loop, dm.sup, &dm.pg_stats) < 0)
            log_error(NULL, "cannot start the PostgreSQL statistics");
    }
    if (adopting) {
        /* Everything handed over is taken: this image serves. */
        sup_upgrade_leftovers(dm.sup);
        upgrade_commit();
    }
    struct upgrade_hooks uh = {
        .busy = up_busy,
        .quiesce = up_quiesce,
        .resume = up_resume,
        .export_state = up_export,
        .arg = &dm,
    };
    upgrade_init(dm.loop, conf, &uh);
    uv_signal_init(dm.loop, &dm.sig_term);
    uv_signal_init(dm.loop, &dm.sig_int);
    uv_signal_init(dm.loop, &dm.sig_hup);
    uv_signal_init(dm.loop, &dm.sig_usr2);
    dm.sig_term.data = dm.sig_int.data = dm.sig_hup.data = dm.sig_usr2.data = &dm;
    dm.open_signals = 4;
    uv_signal_start(&dm.sig_term, on_signal, SIGTERM);
    uv_signal_start(&dm.sig_int, on_signal, SIGINT);
    uv_signal_start(&dm.sig_hup, on_signal, SIGHUP);
    uv_signal_start(&dm.sig_usr2, on_signal, SIGUSR2);
    int exit_code = 0;
    if (rc == 0)
        /* READY=1 now, or once every tenant had its first start attempt
         * (sdnotify.h says why not once every tenant is ready). */
        svcnotify_admin_ready(dm.sd);
    if (rc < 0) {
        exit_code = 1;
        dm.stopping = true;
        svcnotify_stopping(dm.sd);
        sup_shutdown(dm.sup, on_sup_stopped, &dm);
    }

    uv_run(dm.loop, UV_RUN_DEFAULT);
    statedb_kv_close();
    sup_free(dm.sup);
    if (uv_loop_close(dm.loop) != 0)
        log_debug(NULL, "the loop still had handles at exit");
    log_info(NULL, "tenantd stopped");
    return exit_code;
}
