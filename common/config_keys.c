/*
 * config_keys.c — every key of the three files, in one place: the tables of
 * tenantd.ini, plans.ini and tenants.d/<id>.ini (one row per key: section,
 * name, type, bounds, default, allowlist, the field it fills) and the
 * allowlists the rows name (ids, subdomains, domains, e-mail addresses, colours,
 * time zones, program paths...).
 *
 * Every value that can reach a path, a uid, a cgroup name, the environment of
 * a worker or the proxy config is checked against an allowlist here, so the
 * rest of tenantd may trust a loaded config_tenant. Only the display name and
 * the firm's identity fields are free text (valid UTF-8, no control chars).
 * A new key is one row of its table (and its field in config.h).
 *
 * What this file does not do: read a file, parse a value's syntax or store it
 * (config_value.c), or report anything: it is data and pure predicates.
 */
#include "config_internal.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

/* ^[a-z][a-z0-9-]{0,30}$ without the reserved-word check. */
bool config_id_form(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > CONFIG_ID_MAX - 1 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_lower_digit(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* The names a tenant may not take: they are, or could become, tenantd's own
 * hostnames, or would be confusing as a uid, a cgroup or a log file name. */
static const char *const reserved_ids[] = {
    "admin",   "api",         "assets",        "autoconfig", "autodiscover", "cdn",     "dashboard",
    "default", "dns",         "ftp",           "health",     "healthz",      "imap",    "localhost",
    "login",   "mail",        "metrics",       "nginx",      "nobody",       "ns",      "ns1",
    "ns2",     "pop",         "pop3",          "root",       "smtp",         "static",  "status",
    "tenant",  "tenant-jail", "tenant-worker", "tenantctl",  "tenantd",      "webmail", "www",
};

bool config_reserved_id(const char *id)
{
    for (size_t i = 0; i < sizeof(reserved_ids) / sizeof(reserved_ids[0]); i++)
        if (strcmp(id, reserved_ids[i]) == 0)
            return true;
    return false;
}

bool config_valid_id(const char *id)
{
    return id != NULL && config_id_form(id) && !config_reserved_id(id);
}

/* One DNS label: ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ */
static bool label_n(const char *s, size_t n)
{
    if (n < 1 || n > 63 || !is_lower_digit(s[0]) || !is_lower_digit(s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_lower_digit(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool config_valid_subdomain(const char *s)
{
    return s != NULL && label_n(s, strlen(s));
}

static bool valid_domain(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 253)
        return false;
    for (const char *p = s;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (!label_n(p, l))
            return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

/* A URL path on the tenant's own site: ^/[A-Za-z0-9._/-]*$ without "..".
 * "//host/x.png" is a protocol-relative URL: another host's image, which
 * would learn every visitor of the firm's pages. */
static bool valid_logo(const char *s)
{
    if (s[0] != '/' || s[1] == '/' || strstr(s, "..") != NULL)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("._/-", *p))
            return false;
    return true;
}

static bool valid_color(const char *s)
{
    if (strlen(s) != 7 || s[0] != '#')
        return false;
    for (int i = 1; i < 7; i++)
        if (!is_hex(s[i]))
            return false;
    return true;
}

static bool valid_siret(const char *s)
{
    if (strlen(s) != 14)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_digit(*p))
            return false;
    return true;
}

static bool valid_phone(const char *s)
{
    bool digit = false;

    for (const char *p = s; *p; p++) {
        if (is_digit(*p))
            digit = true;
        else if (!strchr("+ ().-", *p))
            return false;
    }
    return digit;
}

/*
 * A deliberately conservative e-mail address: local part of letters, digits and
 * ._%+- (no leading, trailing or double dot), then a domain of at least two
 * labels of letters, digits and '-'. Real addresses outside this set are rare;
 * what it keeps out (quotes, spaces, angle brackets, newlines) matters more.
 */
static bool valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    size_t local;

    if (at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    local = (size_t)(at - s);
    if (local < 1 || local > 64 || s[0] == '.' || at[-1] == '.')
        return false;
    for (const char *p = s; p < at; p++) {
        if (!is_alnum(*p) && !strchr("._%+-", *p))
            return false;
        if (p[0] == '.' && p[1] == '.')
            return false;
    }
    if (strchr(at + 1, '.') == NULL)
        return false;
    for (const char *p = at + 1;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l < 1 || l > 63 || p[0] == '-' || p[l - 1] == '-')
            return false;
        for (size_t i = 0; i < l; i++)
            if (!is_alnum(p[i]) && p[i] != '-')
                return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

static bool valid_language(const char *s)
{
    return strcmp(s, "fr") == 0 || strcmp(s, "en") == 0;
}

/* ^[A-Za-z_+-]+(/[A-Za-z0-9_+-]+)*$: an IANA zone name, never a path with "..". */
static bool valid_timezone(const char *s)
{
    bool first = true;
    const char *p = s;

    for (;;) {
        size_t n = 0;
        for (; p[n] && p[n] != '/'; n++) {
            bool ok = (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
                      strchr("_+-", p[n]) != NULL || (!first && is_digit(p[n]));
            if (!ok)
                return false;
        }
        if (n == 0)
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
        first = false;
    }
}

/* An absolute program path (the first word of [worker] command): no whitespace, no shell
 * characters. */
static bool valid_command(const char *s)
{
    size_t n = strlen(s);

    if (s[0] != '/' || s[n - 1] == '/' || strstr(s, "..") != NULL)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("._/+-", *p))
            return false;
    return true;
}

/* A model name: it reaches the worker's environment and its model table. */
static bool valid_model(const char *s)
{
    if (!is_lower_digit(s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!is_lower_digit(*p) && !strchr("._-", *p))
            return false;
    return true;
}

/* A program for the proxy: a bare name looked up in PATH, or a path. */
static bool valid_program(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("._/+-", *p))
            return false;
    return true;
}

bool config_valid_host(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1 || valid_domain(s);
}

bool config_is_loopback(const char *host)
{
    struct in_addr a4;

    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}
/* ---- the tables ------------------------------------------------------------ */

static const struct check chk_id = {config_id_form, "a valid id (a lowercase letter, then up to 30 "
                                                    "lowercase letters, digits or '-')"};
static const struct check chk_subdomain = {config_valid_subdomain,
                                           "a valid subdomain (lowercase letters, digits and '-', "
                                           "at most 63, no '-' at either end)"};
static const struct check chk_instance = {config_valid_subdomain,
                                          "a valid instance name (lowercase letters, digits and "
                                          "'-', at most 63, no '-' at either end)"};
static const struct check chk_domain = {valid_domain,
                                        "a valid domain (dot-separated labels of lowercase "
                                        "letters, digits and '-')"};
static const struct check chk_logo = {valid_logo,
                                      "a local URL path (\"/\" then letters, digits, '.', '_', "
                                      "'-', '/', without \"..\"; not \"//host/...\" nor "
                                      "\"http://...\", which name another host)"};
static const struct check chk_color = {valid_color, "a colour like #2c3e50"};
static const struct check chk_siret = {valid_siret, "a SIRET number (14 digits)"};
static const struct check chk_phone = {valid_phone,
                                       "a phone number (digits, spaces and + ( ) . -)"};
static const struct check chk_email = {valid_email, "a valid e-mail address"};
/* An ACME directory: https:// and nothing that could split lego's argument. */
static bool valid_https_url(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || s[8] == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr(":/._-~%?=&+", *p))
            return false;
    return true;
}
static const struct check chk_https_url = {valid_https_url, "an https:// URL"};
static const struct check chk_language = {valid_language, "one of fr, en"};
static const struct check chk_timezone = {valid_timezone, "a time zone name like Europe/Paris"};
static const struct check chk_command = {
    valid_command, "an absolute program path (letters, digits and ._/+- only)"};
static const struct check chk_model = {valid_model,
                                       "a model name (lowercase letters, digits and ._-)"};
static const struct check chk_program = {valid_program,
                                         "a program name or path (letters, digits and ._/+-)"};

/* [alerts] webhook: an http(s) URL of printable characters, no spaces or quotes
 * (it reaches curl's argv, never a shell). */
static bool valid_webhook(const char *s)
{
    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return false;
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '`')
            return false;
    return strlen(s) > (s[4] == 's' ? 8u : 7u);
}
/* [mail] relay: one host:port. */
static bool valid_relay(const char *s)
{
    return strchr(s, ' ') == NULL && strchr(s, ':') != NULL && config_valid_allow(s);
}
static const struct check chk_webhook = {valid_webhook,
                                         "an http:// or https:// URL (no spaces or quotes)"};
static const struct check chk_relay = {valid_relay, "host:port (e.g. 127.0.0.1:25)"};
/* [offsite] repository: what restic -r takes, printable, no spaces, not an option. */
static bool valid_repository(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    return s[0] != '-';
}
static const struct check chk_repository = {
    valid_repository, "a restic repository (a path, sftp:..., s3:...; no spaces, no leading -)"};

static const char *const proxy_mode_names[] = {"managed", "external", "off", NULL};
static const char *const status_names[] = {"active", "suspended", "cancelled", NULL};
static const char *const socket_names[] = {"passed", "own", NULL};
/* In enum worker_network order; "host" is the deprecated alias of outbound. */
static const char *const network_names[] = {"none", "local", "outbound", "host", NULL};
static const struct check chk_allow = {config_valid_allow,
                                       "a list of host:port (e.g. 127.0.0.1:5432 db.example:5432)"};
static const char *const cost_names[] = {"interactive", "moderate", "min", NULL};
static const char *const notify_access_names[] = {"main", "all", NULL};
const char *const config_stop_signal_names[] = {"SIGTERM", "SIGINT",  "SIGQUIT",  "SIGHUP",
                                                "SIGUSR1", "SIGUSR2", "SIGWINCH", NULL};

int config_stop_signal(enum worker_stop_signal s)
{
    static const int nums[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
    return (unsigned)s < sizeof nums / sizeof nums[0] ? nums[s] : SIGTERM;
}
static const char *const db_names[] = {"sqlite", "postgresql", NULL};
static const char *const acme_challenge_names[] = {"http-01", "dns-01", NULL};

#define FIELD(type, f) .off = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define FIELD2(type, f) .off2 = offsetof(type, f), .size2 = sizeof(((type *)0)->f)
#define G(f) FIELD(struct config_global, f)
#define G2(f) FIELD2(struct config_global, f)
#define P(f) FIELD(struct config_plan, f)
#define T(f) FIELD(struct config_tenant, f)
#define T2(f) FIELD2(struct config_tenant, f)

/*
 * tenantd.ini. Every key has a default (DESIGN.md), so an empty file is valid.
 * Keys whose default depends on another key (admin socket, proxy templates,
 * tls_port) have none here and are derived in global_derive().
 */
static const struct key global_keys[] = {
    {"tenantd", "tenants_dir", K_PATH, 0, G(tenants_dir), .def = "tenants.d"},
    {"tenantd", "plans", K_PATH, 0, G(plans), .def = "plans.ini"},
    {"tenantd", "data_dir", K_PATH, 0, G(data_dir), .def = "data/clients"},
    {"tenantd", "log_dir", K_PATH, 0, G(log_dir), .def = "logs"},
    {"tenantd", "run_dir", K_PATH, 0, G(run_dir), .def = "run"},
    {"tenantd", "templates", K_PATH, 0, G(templates_dir), .def = "templates"},
    {"tenantd", "domain", K_STR, 0, G(domain), .def = "localhost", .check = &chk_domain},
    {"tenantd", "port_range", K_PORTRANGE, 0, G(port_min), G2(port_max), .min = 1, .max = 65535,
     .def = "5001-5999"},
    {"tenantd", "max_parallel_starts", K_INT, 0, G(max_parallel_starts), .min = 1, .max = 1024,
     .def = "16"},
    {"tenantd", "jail", K_PATH, F_EMPTY_OK, G(jail_path), .def = ""},
    {"tenantd", "worker", K_PATH, F_EMPTY_OK, G(worker_path), .def = ""},
    /* Above Debian's /etc/subuid allocations and systemd's container range,
     * below 2^31 (supervisor/tenantd/uidmap.h). */
    {"tenantd", "uid_range", K_PORTRANGE, 0, G(uid_min), G2(uid_max), .min = 65536,
     .max = 2147483646, .def = "1900000000-1999999999"},
    {"tenantd", "uid_registry", K_PATH, F_EMPTY_OK, G(uid_registry), .def = ""},
    /* One sample of every tenant into state.db's history (history.h); 0 = off. */
    {"tenantd", "history_every", K_DURATION, 0, G(history_every_ms), .min = 0, .max = HOUR,
     .def = "60s"},
    /* How long one round of storage accounting takes (storage.h). */
    {"tenantd", "storage_check", K_DURATION, 0, G(storage_check_ms), .min = 1000, .max = DAY,
     .def = "60s"},
    {"tenantd", "usage_record_every", K_DURATION, 0, G(usage_record_every_ms), .min = 100,
     .max = DAY, .def = "1h"},

    {"admin", "listen", K_LISTEN, F_OFF_OK, G(admin_host), G2(admin_port), .def = "127.0.0.1:7070"},
    {"admin", "socket", K_PATH, 0, G(admin_socket)},
    {"admin", "allow_remote", K_BOOL, 0, G(admin_allow_remote), .def = "false"},

    {"proxy", "mode", K_ENUM, 0, G(proxy_mode), .def = "managed", .names = proxy_mode_names},
    {"proxy", "listen", K_LISTEN, 0, G(proxy_host), G2(proxy_port), .def = "127.0.0.1:8080"},
    {"proxy", "templates", K_PATH, 0, G(proxy_templates)},
    {"proxy", "nginx", K_PROGRAM, 0, G(proxy_nginx), .def = "nginx", .check = &chk_program},
    {"proxy", "test_command", K_CMDLINE, F_EMPTY_OK, G(proxy_test_cmd), .def = ""},
    {"proxy", "reload_command", K_CMDLINE, F_EMPTY_OK, G(proxy_reload_cmd), .def = ""},
    {"proxy", "output", K_PATH, F_EMPTY_OK, G(proxy_output), .def = ""},
    {"proxy", "tls_cert", K_PATH, F_EMPTY_OK, G(tls_cert), .def = ""},
    {"proxy", "tls_key", K_PATH, F_EMPTY_OK, G(tls_key), .def = ""},
    {"proxy", "tls_port", K_INT, 0, G(tls_port), .min = 1, .max = 65535},

    {"acme", "enabled", K_BOOL, 0, G(acme_enabled), .def = "false"},
    {"acme", "directory", K_STR, F_EMPTY_OK, G(acme_directory), .def = "", .check = &chk_https_url},
    {"acme", "email", K_STR, F_EMPTY_OK, G(acme_email), .def = "", .check = &chk_email},
    {"acme", "challenge", K_ENUM, 0, G(acme_challenge), .def = "http-01",
     .names = acme_challenge_names},
    {"acme", "dns_hook", K_PATH, F_EMPTY_OK, G(acme_dns_hook), .def = ""},
    {"acme", "ca_bundle", K_PATH, F_EMPTY_OK, G(acme_ca_bundle), .def = ""},
    {"acme", "client", K_PROGRAM, 0, G(acme_client), .def = "lego", .check = &chk_program},
    {"acme", "renew_fraction", K_THRESHOLD, 0, G(acme_renew_fraction), G2(acme_renew_fraction_text),
     .def = "0.33"},
    {"acme", "weekly_limit", K_INT, 0, G(acme_weekly_limit), .min = 1, .max = 1000000, .def = "50"},
    {"acme", "retry_min", K_DURATION, 0, G(acme_retry_min_ms), .min = 100, .max = DAY, .def = "1m"},
    {"acme", "retry_max", K_DURATION, 0, G(acme_retry_max_ms), .min = 100, .max = 7 * DAY,
     .def = "6h"},
    {"acme", "timeout", K_DURATION, 0, G(acme_timeout_ms), .min = 1000, .max = HOUR, .def = "5m"},

    {"backup", "every", K_DURATION, 0, G(backup_every_ms), .min = 0, .max = 30 * DAY, .def = "24h"},
    {"backup", "keep", K_INT, 0, G(backup_keep), .min = 1, .max = 1000, .def = "7"},

    {"supervise", "backoff_min", K_DURATION, 0, G(backoff_min_ms), .min = 1, .max = HOUR,
     .def = "200ms"},
    {"supervise", "backoff_max", K_DURATION, 0, G(backoff_max_ms), .min = 1, .max = DAY,
     .def = "30s"},
    {"supervise", "stable_after", K_DURATION, 0, G(stable_after_ms), .min = 0, .max = DAY,
     .def = "60s"},
    {"supervise", "start_limit", K_INT, 0, G(start_limit), .min = 1, .max = 1000, .def = "10"},
    {"supervise", "failed_cooldown", K_DURATION, 0, G(failed_cooldown_ms), .min = 0, .max = 7 * DAY,
     .def = "1h"},
    {"supervise", "stop_grace", K_DURATION, 0, G(stop_grace_ms), .min = 0, .max = 10 * MIN_,
     .def = "10s"},
    {"supervise", "ready_timeout", K_DURATION, 0, G(ready_timeout_ms), .min = 100, .max = HOUR,
     .def = "30s"},
    /* 8 s: "every few seconds" (DESIGN.md), and below h2o's 10 s keep-alive
     * timeout, so tenantd's probe connection to the bundled worker stays open
     * (a reconnect per probe costs several times more than the probe). */
    {"supervise", "health_interval", K_DURATION, 0, G(health_interval_ms), .min = 100, .max = HOUR,
     .def = "8s"},
    {"supervise", "health_timeout", K_DURATION, 0, G(health_timeout_ms), .min = 10, .max = MIN_,
     .def = "2s"},
    {"supervise", "health_failures", K_INT, 0, G(health_failures), .min = 1, .max = 100,
     .def = "3"},
    {"supervise", "reload_debounce", K_DURATION, 0, G(reload_debounce_ms), .min = 0, .max = MIN_,
     .def = "200ms"},

    /* Parsed and checked in global_derive (pg_url_parse names what is wrong). */
    {"postgresql", "url", K_STR, F_EMPTY_OK, G(pg_url), .def = ""},
    {"postgresql", "password_file", K_PATH, F_EMPTY_OK, G(pg_password_file), .def = ""},
    {"postgresql", "stats_every", K_DURATION, 0, G(pg_stats_every_ms), .min = 0, .max = DAY,
     .def = "60s"},

    {"logs", "line_max", K_INT, 0, G(log_line_max), .min = 256, .max = 1024 * 1024, .def = "4096"},
    {"logs", "rate_lines", K_INT, 0, G(log_rate_lines), .min = 1, .max = 1000000, .def = "1000"},
    {"logs", "rotate_size", K_SIZE, 0, G(log_rotate_bytes), .min = 0, .max = 64 * GIB, .def = "0"},
    {"logs", "access_check", K_DURATION, 0, G(log_access_check_ms), .min = 100, .max = DAY,
     .def = "30s"},

    /* The vendor's alerts (supervisor/tenantd/alerts.h, docs/operations.md "Alerts"). */
    {"alerts", "webhook", K_STR, F_EMPTY_OK, G(alerts_webhook), .def = "", .check = &chk_webhook},
    {"alerts", "webhook_secret_file", K_PATH, F_EMPTY_OK, G(alerts_webhook_secret_file), .def = ""},
    {"alerts", "email", K_BOOL, 0, G(alerts_email), .def = "false"},
    {"alerts", "check_every", K_DURATION, 0, G(alerts_check_ms), .min = 100, .max = HOUR,
     .def = "10s"},
    {"alerts", "restarts", K_INT, 0, G(alerts_restarts), .min = 1, .max = 64, .def = "5"},
    {"alerts", "restarts_window", K_DURATION, 0, G(alerts_restarts_window_ms), .min = 1000,
     .max = DAY, .def = "10m"},
    {"alerts", "storage_percent", K_INT, 0, G(alerts_storage_percent), .min = 1, .max = 100,
     .def = "90"},
    {"alerts", "backup_late", K_DURATION, 0, G(alerts_backup_late_ms), .min = 0, .max = 60 * DAY,
     .def = "0"},
    {"alerts", "cert_expiry", K_DURATION, 0, G(alerts_cert_expiry_ms), .min = 0, .max = 365 * DAY,
     .def = "14d"},
    {"mail", "relay", K_STR, F_EMPTY_OK, G(mail_relay), .def = "", .check = &chk_relay},
    {"mail", "from", K_STR, F_EMPTY_OK, G(mail_from), .def = "", .check = &chk_email},
    {"mail", "to", K_STR, F_EMPTY_OK, G(mail_to), .def = "", .check = &chk_email},
    /* Deadline reminders (supervisor/tenantd/reminders.h), with relay and from. */
    {"mail", "reminders_every", K_DURATION, 0, G(mail_reminders_every_ms), .min = 100, .max = DAY,
     .def = "5m"},
    /* Off-site copies with restic (supervisor/tenantd/offsite.h, docs/backups.md). */
    {"offsite", "repository", K_STR, F_EMPTY_OK, G(offsite_repository), .def = "",
     .check = &chk_repository},
    {"offsite", "password_file", K_PATH, F_EMPTY_OK, G(offsite_password_file), .def = ""},
    {"offsite", "keep_last", K_INT, 0, G(offsite_keep_last), .min = 0, .max = 100000, .def = "7"},
    {"offsite", "keep_daily", K_INT, 0, G(offsite_keep_daily), .min = 0, .max = 100000, .def = "0"},
    {"offsite", "verify_every", K_DURATION, 0, G(offsite_verify_every_ms), .min = 0,
     .max = 365 * DAY, .def = "24h"},
};

/* A plan's limits and a tenant's [limits] overrides share their bounds. */
#define B_USERS .min = 1, .max = 100000
#define B_CASES .min = 0, .max = 100000000
#define B_ANALYSES .min = 0, .max = 100000000
#define B_MEMORY .min = MIB, .max = 64 * GIB
#define B_PIDS .min = 4, .max = 65536
#define B_CPU .min = 1, .max = 10000
#define B_LOGS .min = MIB, .max = 64 * GIB
#define B_BODY .min = KIB, .max = 16 * GIB
#define B_IDLE .min = 0, .max = 7 * DAY
#define B_STORAGE .min = MIB, .max = 16384 * GIB

/* plans.ini: every section is a plan, named by a valid id. */
static const struct key plan_keys[] = {
    {NULL, "label", K_TEXT, 0, P(label)},
    {NULL, "price_cents", K_I64, F_REQUIRED, P(price_cents), .min = 0, .max = 1000000000},
    {NULL, "max_users", K_INT, F_REQUIRED, P(max_users), B_USERS},
    {NULL, "max_cases", K_INT, F_REQUIRED, P(max_cases), B_CASES},
    {NULL, "max_analysis_monthly", K_INT, F_REQUIRED, P(max_analysis_monthly), B_ANALYSES},
    {NULL, "ai_model", K_STR, F_REQUIRED, P(ai_model), .check = &chk_model},
    {NULL, "advanced_features", K_BOOL, F_REQUIRED, P(advanced_features)},
    {NULL, "overage_cents", K_I64, F_REQUIRED, P(overage_cents), .min = 0, .max = 10000000},
    {NULL, "memory", K_SIZE, F_REQUIRED, P(memory_bytes), B_MEMORY},
    {NULL, "pids", K_INT, F_REQUIRED, P(pids), B_PIDS},
    {NULL, "cpu_weight", K_INT, F_REQUIRED, P(cpu_weight), B_CPU},
    {NULL, "log_budget", K_SIZE, F_REQUIRED, P(log_budget_bytes), B_LOGS},
    {NULL, "max_body", K_SIZE, 0, P(max_body_bytes), B_BODY, .def = "1M"},
    {NULL, "hsts", K_BOOL, 0, P(hsts), .def = "false"},
    {NULL, "idle_after", K_DURATION, 0, P(idle_after_ms), B_IDLE, .def = "0"},
    {NULL, "storage", K_SIZE, 0, P(storage_bytes), B_STORAGE},
    {NULL, "network", K_STR, F_EMPTY_OK, P(network), .def = "", .names = network_names},
    {NULL, "allow", K_STR, F_EMPTY_OK, P(allow), .def = "", .check = &chk_allow},
    {NULL, "database", K_ENUM, 0, P(database), .def = "sqlite", .names = db_names},
};

/*
 * tenants.d/<id>.ini. Keys without a default here are either required or
 * derived in tenant_derive() (subdomain, instance, the plan's values, socket).
 */
static const struct key tenant_keys[] = {
    {"tenant", "name", K_TEXT, F_REQUIRED, T(name)},
    {"tenant", "plan", K_STR, F_REQUIRED, T(plan), .check = &chk_id},
    {"tenant", "subdomain", K_STR, 0, T(subdomain), .check = &chk_subdomain},
    {"tenant", "status", K_ENUM, 0, T(status), .def = "active", .names = status_names},
    {"tenant", "instance", K_STR, 0, T(instance), .check = &chk_instance},

    {"firm", "siret", K_STR, F_EMPTY_OK, T(siret), .def = "", .check = &chk_siret},
    {"firm", "address", K_TEXT, F_EMPTY_OK, T(address), .def = ""},
    {"firm", "phone", K_STR, F_EMPTY_OK, T(phone), .def = "", .check = &chk_phone},
    {"firm", "email", K_STR, F_EMPTY_OK, T(email), .def = "", .check = &chk_email},
    {"firm", "logo", K_STR, F_EMPTY_OK, T(logo), .def = "", .check = &chk_logo},
    {"firm", "color", K_STR, 0, T(color), .def = "#2c3e50", .check = &chk_color},
    {"firm", "language", K_STR, 0, T(language), .def = "fr", .check = &chk_language},
    {"firm", "timezone", K_STR, 0, T(timezone), .def = "Europe/Paris", .check = &chk_timezone},

    {"limits", "max_users", K_INT, 0, T(max_users), B_USERS},
    {"limits", "max_cases", K_INT, 0, T(max_cases), B_CASES},
    {"limits", "max_analysis_monthly", K_INT, 0, T(max_analysis_monthly), B_ANALYSES},
    {"limits", "memory", K_SIZE, 0, T(memory_bytes), B_MEMORY},
    {"limits", "pids", K_INT, 0, T(pids), B_PIDS},
    {"limits", "cpu_weight", K_INT, 0, T(cpu_weight), B_CPU},
    {"limits", "log_budget", K_SIZE, 0, T(log_budget_bytes), B_LOGS},
    {"limits", "storage", K_SIZE, 0, T(storage_bytes), B_STORAGE},
    {"limits", "max_body", K_SIZE, 0, T(max_body_bytes), B_BODY},

    {"worker", "port", K_INT, F_REQUIRED, T(port), .min = 1, .max = 65535},
    {"worker", "command", K_ARGV, F_EMPTY_OK, T(command), .def = "", .check = &chk_command},
    {"worker", "socket", K_ENUM, 0, T(socket), .names = socket_names},
    {"worker", "ai_model", K_STR, 0, T(ai_model), .check = &chk_model},
    {"worker", "prediction_threshold", K_THRESHOLD, 0, T(prediction_threshold),
     T2(prediction_threshold_text), .def = "0.87"},
    {"worker", "advanced_features", K_BOOL, 0, T(advanced_features)},
    {"worker", "network", K_ENUM, 0, T(network), .names = network_names},
    {"worker", "allow", K_STR, F_EMPTY_OK, T(allow), .def = "", .check = &chk_allow},
    {"worker", "seccomp", K_BOOL, 0, T(seccomp), .def = "true"},
    {"worker", "password_cost", K_STR, 0, T(password_cost), .def = "interactive",
     .names = cost_names},
    {"worker", "stop_signal", K_ENUM, 0, T(stop_signal), .def = "SIGTERM",
     .names = config_stop_signal_names},
    {"worker", "notify_access", K_ENUM, 0, T(notify_access), .def = "main",
     .names = notify_access_names},
    {"worker", "idle_after", K_DURATION, 0, T(idle_after_ms), B_IDLE},

    {"database", "type", K_ENUM, 0, T(database), .names = db_names},
    {"database", "read_only", K_BOOL, 0, T(db_read_only), .def = "false"},
};

_Static_assert(NKEYS(global_keys) <= CONFIG_KEYS_MAX, "global_keys: raise CONFIG_KEYS_MAX");
_Static_assert(NKEYS(plan_keys) <= CONFIG_KEYS_MAX, "plan_keys: raise CONFIG_KEYS_MAX");
_Static_assert(NKEYS(tenant_keys) <= CONFIG_KEYS_MAX, "tenant_keys: raise CONFIG_KEYS_MAX");

const struct key_table config_global_table = {global_keys, NKEYS(global_keys)};
const struct key_table config_plan_table = {plan_keys, NKEYS(plan_keys)};
const struct key_table config_tenant_table = {tenant_keys, NKEYS(tenant_keys)};
