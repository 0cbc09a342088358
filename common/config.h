/*
 * config.h — the configuration model of tenantd: the global file (tenantd.ini),
 * the subscription plans (plans.ini) and one file per tenant (tenants.d/<id>.ini).
 *
 * This module parses (with inih) and validates; it does no other I/O than reading
 * the files it is given, and it knows nothing of libuv or h2o. Every key is
 * described once, in a table in config_keys.c (type, bounds, default,
 * allowlist); the parser and the validator are driven by those tables. The
 * module's files are listed in config_internal.h.
 *
 * What it does not do: apply anything. The supervisor compares two loaded
 * configurations (config_tenant_equal) and decides what to restart.
 *
 * Errors: every problem becomes one line in a struct config_diag, in the form
 *     tenants.d/dupont.ini:12: [limits] memory: "99999T" is out of range (1M..64G)
 * with the path as given relative to the global file's folder. A tenant file
 * with any error is invalid as a whole; it never stops the other tenants.
 *
 * Strings in these structs are fixed-size arrays, NUL-terminated, bounded by the
 * validator, so a loaded config can be copied with memcpy and freed in one go.
 */
#ifndef TENANTD_CONFIG_H
#define TENANTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_url.h"

#define CONFIG_ID_MAX 32 /* ^[a-z][a-z0-9-]{0,30}$ plus NUL */
#define CONFIG_PATH_MAX 4096
#define CONFIG_TEXT_MAX 192 /* free text (name, address...) in bytes, inih caps lines at 200 */
#define CONFIG_HOST_MAX 254
#define CONFIG_TENANT_FILE_MAX 1024 /* tenants_dir/<id>.ini, absolute: longer is refused */
#define CONFIG_COMMAND_MAX 256      /* inih caps a line at 200 bytes anyway */

/* ---- diagnostics ------------------------------------------------------- */

struct config_diag {
    char **lines; /* each "file:line: [section] key: message", owned */
    size_t n, cap;
};
void config_diag_add(struct config_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void config_diag_clear(struct config_diag *d);
/* Join all lines with "\n" into a new string (caller frees); "" when empty. */
char *config_diag_join(const struct config_diag *d);

/* ---- global file --------------------------------------------------------- */

enum proxy_mode { PROXY_MANAGED = 0, PROXY_EXTERNAL, PROXY_OFF };
enum acme_challenge { ACME_HTTP01 = 0, ACME_DNS01 };

struct config_global {
    char path[CONFIG_PATH_MAX];     /* the global file, absolute */
    char base_dir[CONFIG_PATH_MAX]; /* its folder: relative paths resolve here */

    /* [tenantd]; every path below is absolute after loading */
    char tenants_dir[CONFIG_PATH_MAX];
    char plans[CONFIG_PATH_MAX];
    char data_dir[CONFIG_PATH_MAX];
    char log_dir[CONFIG_PATH_MAX];
    char run_dir[CONFIG_PATH_MAX];
    /* Not a key: nginx's prefix when it is not <run_dir>/nginx, set by whoever
     * renders for a live nginx (proxy_render_prefix); "" in a loaded config. */
    char nginx_prefix[CONFIG_PATH_MAX];
    char templates_dir[CONFIG_PATH_MAX]; /* default: <base>/templates */
    char domain[CONFIG_HOST_MAX];        /* tenants are <subdomain>.<domain> */
    int port_min, port_max;              /* port_range = 5001-5999 */
    int max_parallel_starts;
    char jail_path[CONFIG_PATH_MAX];    /* "" = tenant-jail beside tenantd */
    char worker_path[CONFIG_PATH_MAX];  /* "" = tenant-worker beside tenantd */
    int uid_min, uid_max;               /* uid_range: tenant uids (root only), see uidmap.h */
    char uid_registry[CONFIG_PATH_MAX]; /* "" = $TENANTD_UID_REGISTRY or /var/lib/tenantd/uids */
    int64_t history_every_ms;           /* status history sample period; 0 = off (history.h) */
    int64_t storage_check_ms;           /* one round of storage accounting (storage.h) */
    int64_t usage_record_every_ms;      /* each tenant's usage kept for billing (admin_billing.c) */

    /* [admin] */
    char admin_host[64]; /* listen = 127.0.0.1:7070; port 0 = no TCP listener */
    int admin_port;
    bool admin_allow_remote; /* required to bind a non-loopback address */
    char admin_socket[CONFIG_PATH_MAX];

    /* [proxy] */
    enum proxy_mode proxy_mode;
    char proxy_host[64]; /* listen = 127.0.0.1:8080 */
    int proxy_port;
    char proxy_templates[CONFIG_PATH_MAX];
    char proxy_nginx[CONFIG_PATH_MAX];      /* nginx binary, default "nginx" from PATH */
    char proxy_test_cmd[CONFIG_PATH_MAX];   /* external mode: e.g. "nginx -t" */
    char proxy_reload_cmd[CONFIG_PATH_MAX]; /* external mode: e.g. "nginx -s reload" */
    char proxy_output[CONFIG_PATH_MAX];     /* external mode: where tenants.conf goes; "" = unset */
    char tls_cert[CONFIG_PATH_MAX];         /* "" = no TLS */
    char tls_key[CONFIG_PATH_MAX];
    int tls_port; /* default 8443 when listen is 8080, else 443 */

    /* [acme]: certificates per tenant (supervisor/tenantd/acme.c, docs/proxy.md "ACME") */
    bool acme_enabled;                    /* default false */
    char acme_directory[CONFIG_PATH_MAX]; /* the ACME server's directory URL (https://) */
    char acme_email[CONFIG_TEXT_MAX];     /* the account's contact */
    enum acme_challenge acme_challenge;   /* http-01 (default) | dns-01 */
    char acme_dns_hook[CONFIG_PATH_MAX];  /* dns-01: program lego's "exec" provider runs */
    char acme_ca_bundle[CONFIG_PATH_MAX]; /* "" = the system's CAs (a test CA otherwise) */
    char acme_client[CONFIG_PATH_MAX];    /* the lego binary, default "lego" from PATH */
    double acme_renew_fraction;           /* renew when this share of the lifetime remains */
    char acme_renew_fraction_text[16];
    int acme_weekly_limit;     /* the CA's new certificates per domain and week (-n warns) */
    int64_t acme_retry_min_ms; /* first retry after a failure, doubled up to retry_max */
    int64_t acme_retry_max_ms;
    int64_t acme_timeout_ms; /* one issuance, then the client is killed */

    /* [backup] */
    int64_t backup_every_ms; /* every = 24h; 0 = no scheduled backups */
    int backup_keep;

    /* [supervise]: timings, all with defaults; tests shorten them */
    int64_t backoff_min_ms;     /* 200ms */
    int64_t backoff_max_ms;     /* 30s */
    int64_t stable_after_ms;    /* 60s: running this long resets the backoff */
    int start_limit;            /* 10 crashes in a row (no stable run) -> failed */
    int64_t failed_cooldown_ms; /* 1h: a failed tenant is retried after this; 0 = never */
    int64_t stop_grace_ms;      /* 10s between SIGTERM and SIGKILL */
    int64_t ready_timeout_ms;   /* 30s to become ready, else crash */
    int64_t health_interval_ms; /* 5s */
    int64_t health_timeout_ms;  /* 2s */
    int health_failures;        /* 3 in a row -> restart */
    int64_t reload_debounce_ms; /* 200ms after the last inotify event */

    /* [postgresql]: the server tenantd provisions PostgreSQL tenants on
     * (docs/database.md); url "" = no server, PostgreSQL tenants are invalid */
    char pg_url[CONFIG_PATH_MAX];
    char pg_password_file[CONFIG_PATH_MAX]; /* the admin role's password, one line, 0600 */
    struct pg_server pg;                    /* pg_url, parsed */
    int64_t pg_stats_every_ms;              /* database sizes for status (pg_stats.h) */

    /* [logs] */
    int log_line_max;         /* 4096 bytes, longer lines are cut and marked */
    int log_rate_lines;       /* 1000 lines per second per tenant, the rest dropped and counted */
    int64_t log_rotate_bytes; /* 0 (default): a quarter of the plan's log budget */
    int64_t log_access_check_ms; /* how often nginx's access logs are measured (nginx_logrot.c) */

    /* [alerts] and [mail]: the vendor's alerts (supervisor/tenantd/alerts.h) */
    char alerts_webhook[CONFIG_TEXT_MAX];             /* http(s) URL, "" = none */
    char alerts_webhook_secret_file[CONFIG_PATH_MAX]; /* HMAC key, mode 0600 */
    bool alerts_email;                                /* also mail them through [mail] */
    int64_t alerts_check_ms;                          /* 10s: how often conditions are checked */
    int alerts_restarts;                              /* restart loop: this many restarts ... */
    int64_t alerts_restarts_window_ms;                /* ... within this window (10m) */
    int alerts_storage_percent;                       /* storage near its limit at this % (90) */
    int64_t alerts_backup_late_ms;    /* no backup for this long (0: twice [backup] every) */
    int64_t alerts_cert_expiry_ms;    /* a certificate with less left than this (14d; 0: off) */
    char mail_relay[CONFIG_HOST_MAX]; /* host:port of the SMTP relay, "" = none */
    char mail_from[CONFIG_TEXT_MAX];
    char mail_to[CONFIG_TEXT_MAX];
    int64_t mail_reminders_every_ms; /* polling the workers for deadline reminders */

    /* [offsite]: restic copies of the backups (supervisor/tenantd/offsite.h), off when "" */
    char offsite_repository[CONFIG_TEXT_MAX];    /* a path, sftp:..., s3:... (restic -r) */
    char offsite_password_file[CONFIG_PATH_MAX]; /* restic --password-file, mode 0600 */
    int offsite_keep_last;                       /* restic forget --keep-last (7; 0: unset) */
    int offsite_keep_daily;                      /* restic forget --keep-daily (0: unset) */
    int64_t offsite_verify_every_ms;             /* restore test period (24h; 0: off) */
};

/* ---- plans --------------------------------------------------------------- */

#define CONFIG_PLANS_MAX 32

/* Where a tenant's data lives ([database] type): the worker's DATABASE_TYPE. */
enum db_type { DB_SQLITE = 0, DB_POSTGRESQL };

struct config_plan {
    char name[CONFIG_ID_MAX];
    char label[64];
    int64_t price_cents; /* per month */
    int max_users, max_cases, max_analysis_monthly;
    char ai_model[64];
    bool advanced_features;
    int64_t overage_cents; /* per analysis over the limit; 0 = the limit blocks */
    int64_t memory_bytes;  /* resource profile */
    int pids;
    int cpu_weight; /* 1..10000, cgroup v2 semantics */
    int64_t log_budget_bytes;
    int64_t idle_after_ms;       /* scale to zero after this long without a request; 0 = never */
    int64_t storage_bytes;       /* 0 = no storage limit (the key is optional) */
    char network[16];            /* "" = the default for the tenant's command */
    char allow[CONFIG_TEXT_MAX]; /* host:port ..., "" = none */
    int64_t max_body_bytes;      /* the proxy's client_max_body_size; default 1M */
    enum db_type database;       /* the default of its tenants' [database] type */
    bool hsts;                   /* send Strict-Transport-Security over TLS; default false */
};

struct config_plans {
    struct config_plan plan[CONFIG_PLANS_MAX];
    size_t n;
};
const struct config_plan *config_plan_find(const struct config_plans *p, const char *name);

/* ---- tenant files ------------------------------------------------------- */

enum tenant_status { TENANT_ACTIVE = 0, TENANT_SUSPENDED, TENANT_CANCELLED };
enum worker_socket { WORKER_SOCKET_PASSED = 0, WORKER_SOCKET_OWN };
/* What the worker may do on the network besides its socket (docs/isolation.md):
 * none = an empty network namespace; local = bind only its own port, connect
 * only to the allow list; outbound = local, plus any connection (the host's
 * non-loopback addresses included). HOST is the deprecated spelling of
 * outbound: the parser turns it into OUTBOUND and sets network_was_host. */
enum worker_network {
    WORKER_NETWORK_NONE = 0,
    WORKER_NETWORK_LOCAL,
    WORKER_NETWORK_OUTBOUND,
    WORKER_NETWORK_HOST,
};
#define CONFIG_ALLOW_MAX 16 /* allow = host:port ... entries */
/* [worker] stop_signal: index into config_stop_signal_names / config_stop_signal(). */
enum worker_stop_signal {
    STOP_SIGTERM = 0,
    STOP_SIGINT,
    STOP_SIGQUIT,
    STOP_SIGHUP,
    STOP_SIGUSR1,
    STOP_SIGUSR2,
    STOP_SIGWINCH
};
/* [worker] notify_access, systemd's NotifyAccess=: who may send sd_notify datagrams. */
enum worker_notify_access { NOTIFY_ACCESS_MAIN = 0, NOTIFY_ACCESS_ALL };
/* The signal number of a stop_signal value. */
int config_stop_signal(enum worker_stop_signal s);
extern const char *const config_stop_signal_names[];

struct config_tenant {
    char id[CONFIG_ID_MAX]; /* the file name without .ini */
    /* Its file is not stored (config_tenant_file() names it): a tenant's
     * config is held twice per tenant (the loaded config and the running
     * copy), and a thousand tenants multiply every byte here. For the same
     * reason command is far shorter than CONFIG_PATH_MAX. */

    /* [tenant] */
    char name[CONFIG_TEXT_MAX];
    char plan[CONFIG_ID_MAX];
    char subdomain[64]; /* default: the id */
    enum tenant_status status;
    char instance[64]; /* default: <id>-prod */

    /* [firm] */
    char siret[16]; /* 14 digits or empty */
    char address[CONFIG_TEXT_MAX];
    char phone[32];
    char email[CONFIG_TEXT_MAX];
    char logo[CONFIG_TEXT_MAX]; /* a URL path like /static/logo.png */
    char color[8];              /* #rrggbb */
    char language[8];           /* fr | en */
    char timezone[64];

    /* [limits]: resolved, i.e. the plan's value unless overridden here */
    int max_users, max_cases, max_analysis_monthly;
    int64_t memory_bytes;
    int pids;
    int cpu_weight;
    int64_t log_budget_bytes;
    int64_t storage_bytes;  /* 0 = none */
    int64_t max_body_bytes; /* the proxy's client_max_body_size */
    bool hsts;              /* the plan's hsts: Strict-Transport-Security over TLS */

    /* [worker] */
    int port;
    char command[CONFIG_COMMAND_MAX];   /* "" = the bundled worker */
    enum worker_socket socket;          /* default: passed for the bundled worker, own otherwise */
    char ai_model[64];                  /* default: the plan's */
    double prediction_threshold;        /* 0..1, default 0.87 */
    char prediction_threshold_text[16]; /* as written, for the environment */
    bool advanced_features;             /* default: the plan's */
    enum worker_network network;        /* none | local | outbound (default: plan, command) */
    bool network_was_host;              /* written as the deprecated "host" */
    char allow[CONFIG_TEXT_MAX];        /* allow = host:port ..., as written (or the plan's) */
    uint16_t allow_port[CONFIG_ALLOW_MAX]; /* the ports of allow, parsed */
    size_t n_allow;
    bool seccomp;           /* default true */
    char password_cost[16]; /* argon2id cost: interactive (default) | moderate | min (tests) */
    enum worker_stop_signal stop_signal;     /* default SIGTERM */
    enum worker_notify_access notify_access; /* default main */
    int64_t idle_after_ms; /* default: the plan's; 0 = never; always 0 for socket = own */

    /* [database] */
    enum db_type database; /* default: the plan's */
    /* read_only: the worker gets WORKER_READ_ONLY=true (writes answered 503
     * with Retry-After); tenantctl migrate sets it for the copy. Default false. */
    bool db_read_only;
};

/* ---- whole configuration ------------------------------------------------ */

/* What a file was when it was read (config_reuse.c): a reload re-parses a
 * file only when this changed. ok is false when the stat failed, or when the
 * file had changed too recently for its timestamps to tell a later change
 * within the same clock tick apart. */
struct config_stamp {
    bool ok;
    uint64_t dev, ino;
    int64_t size, mtime_ns, ctime_ns;
};

struct config_tenant_entry {
    char id[CONFIG_ID_MAX];
    bool valid;
    struct config_tenant t; /* meaningful when valid */
    char *error;            /* when !valid: the joined diagnostics, owned */
    /* The file's own verdict, before the cross-tenant checks appended theirs
     * to error: what a reload that reuses this entry starts from. */
    struct config_stamp st;
    bool own_valid;
    size_t own_error_len;
};

struct config {
    struct config_global g;
    struct config_plans plans;
    struct config_tenant_entry *tenants; /* sorted by id */
    size_t n_tenants;
    struct config_stamp global_st, plans_st;
    size_t reused; /* tenant entries taken from the previous config (config_reload) */
};

/*
 * Load the global file, the plans and every tenants_dir/<id>.ini.
 * Returns 0 when the global file and the plans are valid (tenants may still be
 * invalid: see each entry), -EINVAL otherwise. Every problem found, fatal or
 * not, is added to *d. Cross-tenant checks (unique ports and subdomains, ports
 * inside port_range) mark the later of two clashing tenants invalid, in id order.
 * On success *out is a new config the caller frees with config_free.
 */
int config_load(const char *global_path, struct config **out, struct config_diag *d);

/*
 * config_load, reusing prev (the config loaded before from the same global
 * file; NULL = none): when neither the global file nor the plans changed
 * (their config_stamp), every tenant file whose stamp is unchanged gets prev's
 * parsed entry instead of being read and parsed again; the cross-tenant checks
 * run on the whole new list as always. A reload of 10,000 tenants with one
 * changed file parses one file. The result is the same as config_load's.
 */
int config_reload(const char *global_path, const struct config *prev, struct config **out,
                  struct config_diag *d);

/* Tenant files parsed by this process so far (config_load_tenant): for the
 * unit tests and benches of config_reload. */
unsigned long config_tenant_parses(void);
void config_free(struct config *c);

/* The pieces of config_load, for tests, fuzzers and onboarding. */
int config_load_global(const char *path, struct config_global *g, struct config_diag *d);
int config_load_plans(const struct config_global *g, struct config_plans *p, struct config_diag *d);
/* The same two from memory: `path` is the global file's absolute path (its
 * folder becomes base_dir; nothing is read), `display_path` names plans.ini in
 * messages. Both return 0, -EINVAL or -ENOMEM. */
int config_parse_global(const char *path, const char *text, size_t len, struct config_global *g,
                        struct config_diag *d);
int config_parse_plans(const struct config_global *g, const char *display_path, const char *text,
                       size_t len, struct config_plans *p, struct config_diag *d);
/* Parse one tenant file from memory; `display_path` is used in messages and
 * `id` is the file's base name. Returns 0 or -EINVAL. */
int config_parse_tenant(const struct config_global *g, const struct config_plans *p, const char *id,
                        const char *display_path, const char *text, size_t len,
                        struct config_tenant *t, struct config_diag *d);
int config_load_tenant(const struct config_global *g, const struct config_plans *p,
                       const char *path, struct config_tenant *t, struct config_diag *d);

/* tenantd's own listeners, which no tenant port may equal (config_net.c):
 * admin listen, proxy listen, TLS port when TLS is on. Returns how many. */
struct config_own_port {
    const char *section, *key;
    int port;
};
int config_own_ports(const struct config_global *g, struct config_own_port out[3]);

/* Warnings that do not make the configuration invalid (config_net.c): the
 * deprecated "host" spelling of network, containment reduced by a kernel
 * without Landlock TCP rules. Calls warn() once per line; returns how many.
 * Printed by `tenantd -n`, tenantd's start and `tenantctl check`. */
int config_net_warnings(const struct config *c, void (*warn)(void *arg, const char *line),
                        void *arg);

/* Identifier rules shared by every program. */
bool config_valid_id(const char *id); /* ^[a-z][a-z0-9-]{0,30}$, not reserved */
bool config_reserved_id(const char *id);
bool config_valid_subdomain(const char *s);

/* True when two tenant configs would run the same worker the same way. */
bool config_tenant_equal(const struct config_tenant *a, const struct config_tenant *b);

const struct config_tenant_entry *config_find_tenant(const struct config *c, const char *id);

/* Notes that do not make the configuration invalid, one line each into w:
 * a plan's idle_after that does not apply to a tenant with socket = own
 * (nothing would be left to wake it). For tenantd -n and tenantctl check.
 * Returns the number of lines added. */
size_t config_warnings(const struct config *c, struct config_diag *w);
/* The ACME part of config_warnings: more per-subdomain certificates than the
 * CA's weekly limit ([acme] weekly_limit). Returns the number added. */
size_t config_acme_warnings(const struct config *c, struct config_diag *w);

/* Per-tenant paths: <data_dir>/<id>, <log_dir>/<id>.log. Return snprintf-style length. */
int config_tenant_data_dir(const struct config_global *g, const char *id, char *buf, size_t n);
/* <run_dir>/flags/<id>: root's folder of flags about tenant id that its
 * worker may read (exposed read-only in its jail), e.g. "storage-full".
 * Same return as config_tenant_data_dir. */
#define CONFIG_STORAGE_FULL_FLAG "storage-full"
int config_tenant_flags_dir(const struct config_global *g, const char *id, char *buf, size_t n);
int config_tenant_log_path(const struct config_global *g, const char *id, char *buf, size_t n);
/* <tenants_dir>/<id>.ini, the file config_load read tenant id from (absolute
 * in a loaded config). Returns 0, or -ENAMETOOLONG when it does not fit n. */
int config_tenant_file(const struct config_global *g, const char *id, char *buf, size_t n);

/*
 * The worker's environment (DESIGN.md "The worker contract"): CLIENT_ID ...
 * DATABASE_TYPE (and for PostgreSQL POSTGRESQL_URL, PGPASSFILE), DATA_DIR, PORT, SECRET_KEY,
 * TEMPLATES_DIR, LANGUAGE, TIMEZONE, PLAN_* prices. Returns a NULL-terminated array of "K=V"
 * strings (one allocation: free with free()). `secret` may be NULL (then SECRET_KEY is left out).
 * Does no I/O.
 */
char **config_worker_env(const struct config_global *g, const struct config_plans *p,
                         const struct config_tenant *t, const char *secret);

/* The text of a tenant file with [database] type set to `type`: the key is
 * replaced in place, or added to an existing [database] section, or the
 * section is appended. Pure text work (the caller validates the result with
 * config_parse_tenant). Returns 0, or -ENOSPC when out (size n) is too small. */
int config_set_database_text(const char *old, enum db_type type, char *out, size_t n);
/* The same for [database] read_only: "read_only = true" set in place or
 * added when on, the line removed when off. */
int config_set_read_only_text(const char *old, bool on, char *out, size_t n);

/* Parse "256M", "1G", "512K", "1048576" into bytes; "100ms", "5s", "2m", "24h",
 * "7d" into milliseconds. Return 0 or -EINVAL / -ERANGE. */
int config_parse_size(const char *s, int64_t *out);
int config_parse_duration(const char *s, int64_t *out_ms);

#endif
