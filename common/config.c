/*
 * config.c — parses and validates tenantd.ini, plans.ini and tenants.d/<id>.ini
 * (see config.h for the model and DESIGN.md "Files on disk" for the formats).
 *
 * How a file is read, in order:
 *  1. A pre-scan of the raw bytes finds what Debian's inih hides or gets wrong:
 *     lines longer than inih's 199-byte buffer (silently truncated otherwise),
 *     indented lines (inih joins them to the previous key), `[broken` section
 *     headers (inih attributes the following keys to the previous section), NUL
 *     bytes, unknown sections. Each is an error naming its line, and the lines
 *     concerned are marked so that the next step skips them.
 *  2. inih parses the text through a counting reader, which is how the key
 *     handler learns the true line number of every key.
 *  3. The handler looks the key up in the file kind's table (one row per key:
 *     section, name, type, bounds, default, allowlist, offset of the field) and
 *     stores the value, or reports why not. Duplicates are reported too.
 *  4. Required keys that never came are reported (without a line number),
 *     defaults are stored by parsing their text through the same code, and the
 *     values that depend on others are derived (e.g. `instance` = `<id>-prod`).
 * Any error, including any nonzero ini_parse_stream result, rejects the file.
 *
 * Every value that can reach a path, a uid, a cgroup name, the environment of
 * a worker or the proxy config is checked against an allowlist here, so the
 * rest of tenantd may trust a loaded config_tenant. Only the display name and
 * the firm's identity fields are free text (valid UTF-8, no control chars).
 *
 * What this file does not do: watch files, apply a config, or log. Its only
 * I/O is reading the files it is asked to load.
 */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* inih reads into a 200-byte buffer: 199 bytes of line and the NUL. */
#define LINE_MAX_BYTES 199
/* A tenant file is a few hundred bytes; anything much larger is a mistake. */
#define FILE_MAX_BYTES (64 * 1024)
/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 60

#define KIB ((int64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define SEC ((int64_t)1000)
#define MIN_ (SEC * 60)
#define HOUR (MIN_ * 60)
#define DAY (HOUR * 24)

/* ---- diagnostics --------------------------------------------------------- */

void config_diag_add(struct config_diag *d, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    int r;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    r = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **lines = realloc(d->lines, cap * sizeof(*lines));
        if (lines == NULL) {
            free(line);
            return;
        }
        d->lines = lines;
        d->cap = cap;
    }
    d->lines[d->n++] = line;
}

void config_diag_clear(struct config_diag *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->n = d->cap = 0;
}

char *config_diag_join(const struct config_diag *d)
{
    size_t len = 1, o = 0;
    char *s;

    for (size_t i = 0; d != NULL && i < d->n; i++)
        len += strlen(d->lines[i]) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; d != NULL && i < d->n; i++) {
        size_t l = strlen(d->lines[i]);
        if (i > 0)
            s[o++] = '\n';
        memcpy(s + o, d->lines[i], l);
        o += l;
    }
    s[o] = '\0';
    return s;
}

/* ---- character classes and allowlists ------------------------------------ */

static bool is_lower_digit(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(int c)
{
    return is_lower_digit(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#define U8_NO_C0 1u /* refuse C0 controls and DEL */
#define U8_NO_C1 2u /* refuse C1 controls and U+2028/U+2029 */

/*
 * Validate UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) and,
 * per `flags`, refuse control characters: C0, DEL, C1 and the Unicode line
 * separators could end a log line where a single line is expected.
 */
static bool utf8_check(const char *s, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            if ((flags & U8_NO_C0) && (*p < 0x20 || *p == 0x7f))
                return false;
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f;
            n = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f;
            n = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07;
            n = 3;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if ((flags & U8_NO_C1) && ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029))
            return false;
        p += n + 1;
    }
    return true;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* ^[a-z][a-z0-9-]{0,30}$ without the reserved-word check. */
static bool id_form(const char *s)
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
    return id != NULL && id_form(id) && !config_reserved_id(id);
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

/* A URL path on the tenant's own site: ^/[A-Za-z0-9._/-]*$ without "..". */
static bool valid_logo(const char *s)
{
    if (s[0] != '/' || strstr(s, "..") != NULL)
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

/* An absolute program path: no arguments, no whitespace, no shell characters. */
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

static bool valid_host(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1 || valid_domain(s);
}

static bool is_loopback(const char *host)
{
    struct in_addr a4;

    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* ---- scalar parsers -------------------------------------------------------- */

/* A decimal integer, optionally negative; no spaces, no '+', no hex. */
static int parse_i64(const char *s, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0, lim;

    if (*s == '-') {
        neg = true;
        s++;
    }
    if (!is_digit(*s))
        return -EINVAL;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; is_digit(*s); s++) {
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (lim - dgt) / 10)
            return -ERANGE;
        v = v * 10 + dgt;
    }
    if (*s != '\0')
        return -EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Digits followed by an optional unit; the unit's multiplier comes from `units`. */
static int parse_scaled(const char *s, const char *const *names, const int64_t *mult, size_t n,
                        bool bare_ok, int64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    if (!is_digit(*p))
        return -EINVAL;
    for (; is_digit(*p); p++) {
        if (v > ((uint64_t)INT64_MAX - (unsigned)(*p - '0')) / 10)
            return -ERANGE;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (*p == '\0') {
        /* A bare zero means "none" in every unit, so it is always accepted. */
        if (!bare_ok && v != 0)
            return -EINVAL;
        *out = (int64_t)v;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p, names[i]) != 0)
            continue;
        if (v > (uint64_t)(INT64_MAX / mult[i]))
            return -ERANGE;
        *out = (int64_t)v * mult[i];
        return 0;
    }
    return -EINVAL;
}

int config_parse_size(const char *s, int64_t *out)
{
    static const char *const names[] = {"K", "M", "G", "T", "k", "m", "g", "t"};
    static const int64_t mult[] = {KIB, MIB, GIB, TIB, KIB, MIB, GIB, TIB};

    if (s == NULL || out == NULL)
        return -EINVAL;
    return parse_scaled(s, names, mult, 8, true, out);
}

int config_parse_duration(const char *s, int64_t *out_ms)
{
    static const char *const names[] = {"ms", "s", "m", "h", "d"};
    static const int64_t mult[] = {1, SEC, MIN_, HOUR, DAY};

    if (s == NULL || out_ms == NULL)
        return -EINVAL;
    return parse_scaled(s, names, mult, 5, false, out_ms);
}

static void fmt_size(char *buf, size_t n, int64_t v)
{
    if (v != 0 && v % TIB == 0)
        snprintf(buf, n, "%lldT", (long long)(v / TIB));
    else if (v != 0 && v % GIB == 0)
        snprintf(buf, n, "%lldG", (long long)(v / GIB));
    else if (v != 0 && v % MIB == 0)
        snprintf(buf, n, "%lldM", (long long)(v / MIB));
    else if (v != 0 && v % KIB == 0)
        snprintf(buf, n, "%lldK", (long long)(v / KIB));
    else
        snprintf(buf, n, "%lld", (long long)v);
}

static void fmt_duration(char *buf, size_t n, int64_t v)
{
    if (v == 0)
        snprintf(buf, n, "0");
    else if (v % DAY == 0)
        snprintf(buf, n, "%lldd", (long long)(v / DAY));
    else if (v % HOUR == 0)
        snprintf(buf, n, "%lldh", (long long)(v / HOUR));
    else if (v % MIN_ == 0)
        snprintf(buf, n, "%lldm", (long long)(v / MIN_));
    else if (v % SEC == 0)
        snprintf(buf, n, "%llds", (long long)(v / SEC));
    else
        snprintf(buf, n, "%lldms", (long long)v);
}

/*
 * Quote a value for a message: cut to QUOTE_MAX bytes (on a character
 * boundary), with control bytes, quotes and backslashes as \xNN, and every
 * byte above 0x7f escaped too when the value is not valid UTF-8. The result is
 * always one printable line, whatever the file held.
 */
static void quote(char *buf, size_t n, const char *v)
{
    bool utf8 = utf8_check(v, U8_NO_C1);
    size_t o = 0, i = 0;

    buf[o++] = '"';
    for (; v[i] && o + 8 < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (i >= QUOTE_MAX && (c & 0xc0) != 0x80)
            break;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || (c >= 0x80 && !utf8))
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (v[i] != '\0')
        o += (size_t)snprintf(buf + o, n - o, "...");
    snprintf(buf + o, n - o, "\"");
}

/* ---- the tables ------------------------------------------------------------ */

enum ktype {
    K_INT,       /* int, decimal, bounds min..max */
    K_I64,       /* int64_t, decimal */
    K_SIZE,      /* int64_t bytes: "256M" */
    K_DURATION,  /* int64_t milliseconds: "5s" */
    K_BOOL,      /* bool: true/false/yes/no/on/off/1/0 */
    K_ENUM,      /* an enum field, from `names` */
    K_STR,       /* ASCII string checked by `check` */
    K_TEXT,      /* free UTF-8 text without control characters */
    K_PATH,      /* a path of the global file, resolved against its folder */
    K_PROGRAM,   /* a bare program name (PATH) or a path, resolved when relative */
    K_CMDLINE,   /* a shell command line of the operator's, stored verbatim */
    K_LISTEN,    /* host:port into a string field and an int field (off2) */
    K_PORTRANGE, /* "low-high" into two int fields */
    K_THRESHOLD, /* a decimal 0..1 into a double and its text (off2) */
};

#define F_REQUIRED 1u /* a missing key is an error */
#define F_EMPTY_OK 2u /* an empty value is stored as "" (else "is empty") */
#define F_OFF_OK 4u   /* K_LISTEN: "off" means no listener (host "", port 0) */

struct check {
    bool (*ok)(const char *s);
    const char *what; /* completes `"v" is not ...` */
};

struct key {
    const char *section; /* NULL: any section (plans.ini: one per plan) */
    const char *name;
    enum ktype type;
    unsigned flags;
    size_t off, size;   /* the field; size bounds strings */
    size_t off2, size2; /* the second field of K_LISTEN, K_PORTRANGE, K_THRESHOLD */
    int64_t min, max;
    const char *def;           /* default, in file syntax; NULL: none or derived */
    const char *const *names;  /* K_ENUM, in enum order */
    const struct check *check; /* K_STR */
};

static const struct check chk_id = {id_form, "a valid id (a lowercase letter, then up to 30 "
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
                                      "a URL path (\"/\" then letters, digits, '.', '_', '-', "
                                      "'/', without \"..\")"};
static const struct check chk_color = {valid_color, "a colour like #2c3e50"};
static const struct check chk_siret = {valid_siret, "a SIRET number (14 digits)"};
static const struct check chk_phone = {valid_phone,
                                       "a phone number (digits, spaces and + ( ) . -)"};
static const struct check chk_email = {valid_email, "a valid e-mail address"};
static const struct check chk_language = {valid_language, "one of fr, en"};
static const struct check chk_timezone = {valid_timezone, "a time zone name like Europe/Paris"};
static const struct check chk_command = {
    valid_command, "an absolute program path (arguments are not supported; letters, digits and "
                   "._/+- only)"};
static const struct check chk_model = {valid_model,
                                       "a model name (lowercase letters, digits and ._-)"};
static const struct check chk_program = {valid_program,
                                         "a program name or path (letters, digits and ._/+-)"};

static const char *const proxy_mode_names[] = {"managed", "external", "off", NULL};
static const char *const status_names[] = {"active", "suspended", "cancelled", NULL};
static const char *const socket_names[] = {"passed", "own", NULL};
static const char *const network_names[] = {"host", "none", NULL};
static const char *const cost_names[] = {"interactive", "moderate", "min", NULL};

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

    {"logs", "line_max", K_INT, 0, G(log_line_max), .min = 256, .max = 1024 * 1024, .def = "4096"},
    {"logs", "rate_lines", K_INT, 0, G(log_rate_lines), .min = 1, .max = 1000000, .def = "1000"},
    {"logs", "rotate_size", K_SIZE, 0, G(log_rotate_bytes), .min = 0, .max = 64 * GIB, .def = "0"},
};

/* A plan's limits and a tenant's [limits] overrides share their bounds. */
#define B_USERS .min = 1, .max = 100000
#define B_CASES .min = 0, .max = 100000000
#define B_ANALYSES .min = 0, .max = 100000000
#define B_MEMORY .min = MIB, .max = 64 * GIB
#define B_PIDS .min = 4, .max = 65536
#define B_CPU .min = 1, .max = 10000
#define B_LOGS .min = MIB, .max = 64 * GIB

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

    {"worker", "port", K_INT, F_REQUIRED, T(port), .min = 1, .max = 65535},
    {"worker", "command", K_STR, F_EMPTY_OK, T(command), .def = "", .check = &chk_command},
    {"worker", "socket", K_ENUM, 0, T(socket), .names = socket_names},
    {"worker", "ai_model", K_STR, 0, T(ai_model), .check = &chk_model},
    {"worker", "prediction_threshold", K_THRESHOLD, 0, T(prediction_threshold),
     T2(prediction_threshold_text), .def = "0.87"},
    {"worker", "advanced_features", K_BOOL, 0, T(advanced_features)},
    {"worker", "network", K_ENUM, 0, T(network), .def = "host", .names = network_names},
    {"worker", "seccomp", K_BOOL, 0, T(seccomp), .def = "true"},
    {"worker", "password_cost", K_STR, 0, T(password_cost), .def = "interactive",
     .names = cost_names},
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- storing one value ------------------------------------------------------ */

/* The parse of one file: its text, where messages go, and what is filled. */
struct pctx {
    const char *display; /* the file as messages name it */
    struct config_diag *d;
    int nerr;
    struct config_diag local; /* this file's messages, sorted by line in flush() */
    int *msg_line;            /* the line of each message of `local` */
    size_t msg_cap;

    const struct key *keys;
    size_t nkeys;
    const char *base; /* folder that relative paths resolve against */

    /* The object a section fills and its per-key "seen on line" array. For
     * single-object files sections are checked against the table; for plans
     * every section is one plan. */
    void *obj;
    int *seen;
    struct config_plans *plans;
    int plan_seen[CONFIG_PLANS_MAX][NKEYS(plan_keys)];
    int plan_line[CONFIG_PLANS_MAX];

    /* The counting reader's state. */
    const char *text;
    size_t len, pos;
    int lineno;
    bool at_line_start;
    unsigned char *skip; /* per line (1-based): the pre-scan reported it */
    int nlines;
};

static void perr(struct pctx *c, int line, const char *section, const char *key, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

/* Report one error of the file, as "file:line: [section] key: message". */
static void perr(struct pctx *c, int line, const char *section, const char *key, const char *fmt,
                 ...)
{
    char msg[512], where[64] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(where, sizeof(where), ":%d", line);
    c->nerr++;
    if (c->local.n == c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap * 2 : 16;
        int *lines = realloc(c->msg_line, cap * sizeof(*lines));
        if (lines == NULL)
            return;
        c->msg_line = lines;
        c->msg_cap = cap;
    }
    if (section != NULL && key != NULL)
        config_diag_add(&c->local, "%s%s: [%s] %s: %s", c->display, where, section, key, msg);
    else if (section != NULL)
        config_diag_add(&c->local, "%s%s: [%s]: %s", c->display, where, section, msg);
    else
        config_diag_add(&c->local, "%s%s: %s", c->display, where, msg);
    if (c->local.n > 0)
        c->msg_line[c->local.n - 1] = line;
}

/*
 * Hand the file's messages to the caller in line order (those without a line,
 * such as missing keys, last), whatever step found them: the reader then sees
 * the file top down.
 * The sort is a stable insertion sort; a file has a handful of messages.
 */
static void flush(struct pctx *c)
{
    for (size_t i = 1; i < c->local.n; i++) {
        char *m = c->local.lines[i];
        int l = c->msg_line[i];
        size_t j = i;
        /* A line of 0 sorts last: compare as unsigned. */
        for (; j > 0 && (unsigned)c->msg_line[j - 1] - 1 > (unsigned)l - 1; j--) {
            c->local.lines[j] = c->local.lines[j - 1];
            c->msg_line[j] = c->msg_line[j - 1];
        }
        c->local.lines[j] = m;
        c->msg_line[j] = l;
    }
    for (size_t i = 0; i < c->local.n; i++)
        config_diag_add(c->d, "%s", c->local.lines[i]);
    config_diag_clear(&c->local);
    free(c->msg_line);
    c->msg_line = NULL;
    c->msg_cap = 0;
}

static void fmt_bound(const struct key *k, char *buf, size_t n, int64_t v)
{
    if (k->type == K_SIZE)
        fmt_size(buf, n, v);
    else if (k->type == K_DURATION)
        fmt_duration(buf, n, v);
    else
        snprintf(buf, n, "%lld", (long long)v);
}

static void put_string(void *obj, const struct key *k, const char *v)
{
    util_strlcpy((char *)obj + k->off, v, k->size);
}

/* Join the names of an enum as "a, b, c" for a message. */
static void join_names(char *buf, size_t n, const char *const *names)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; names[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
}

static int find_name(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

/* host:port, [v6]:port; the host is stored without brackets. */
static bool parse_listen(const char *v, char *host, size_t hn, int *port)
{
    const char *colon, *h = v;
    size_t hl;
    char tmp[CONFIG_HOST_MAX];
    int64_t p;

    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (rb == NULL || rb[1] != ':')
            return false;
        h = v + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL)
            return false;
        hl = (size_t)(colon - v);
    }
    if (hl == 0 || hl >= hn || hl >= sizeof(tmp))
        return false;
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    if (v[0] == '[' && strchr(tmp, ':') == NULL)
        return false;
    if (v[0] != '[' && strchr(tmp, ':') != NULL)
        return false;
    if (!valid_host(tmp) || parse_i64(colon + 1, &p) < 0 || p < 1 || p > 65535)
        return false;
    memcpy(host, tmp, hl + 1);
    *port = (int)p;
    return true;
}

/*
 * Store value v of key k into obj, or explain in `why` (the part after
 * "[section] key: ") why it is refused. Returns 0 or -1.
 */
static int store(struct pctx *c, const struct key *k, void *obj, const char *v, char *why,
                 size_t wn)
{
    char q[QUOTE_MAX * 4 + 16], lo[32], hi[32], names[128];
    char *field = (char *)obj + k->off;
    int64_t n = 0;
    int r;

    quote(q, sizeof(q), v);
    if (v[0] == '\0') {
        if (!(k->flags & F_EMPTY_OK)) {
            snprintf(why, wn, "value is empty");
            return -1;
        }
        if (k->type == K_STR || k->type == K_TEXT || k->type == K_PATH || k->type == K_CMDLINE) {
            field[0] = '\0';
            return 0;
        }
    }
    /* Control characters are refused in every value, whatever its type. */
    if (has_control(v)) {
        snprintf(why, wn, "%s contains a control character", q);
        return -1;
    }
    switch (k->type) {
    case K_INT:
    case K_I64:
    case K_SIZE:
    case K_DURATION:
        if (k->type == K_SIZE)
            r = config_parse_size(v, &n);
        else if (k->type == K_DURATION)
            r = config_parse_duration(v, &n);
        else
            r = parse_i64(v, &n);
        fmt_bound(k, lo, sizeof(lo), k->min);
        fmt_bound(k, hi, sizeof(hi), k->max);
        if (r == -EINVAL) {
            snprintf(why, wn, "%s is not %s", q,
                     k->type == K_SIZE       ? "a size (like 512K, 256M, 1G)"
                     : k->type == K_DURATION ? "a duration (like 100ms, 5s, 2m, 24h, 7d)"
                                             : "an integer");
            return -1;
        }
        if (r == -ERANGE || n < k->min || n > k->max) {
            snprintf(why, wn, "%s is out of range (%s..%s)", q, lo, hi);
            return -1;
        }
        if (k->type == K_INT) {
            int i = (int)n;
            memcpy(field, &i, sizeof(i));
        } else {
            memcpy(field, &n, sizeof(n));
        }
        return 0;
    case K_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "off", "0", NULL};
        bool b;
        if (find_name(yes, v) >= 0) {
            b = true;
        } else if (find_name(no, v) >= 0) {
            b = false;
        } else {
            snprintf(why, wn, "%s is not a boolean (true/false, yes/no, on/off, 1/0)", q);
            return -1;
        }
        memcpy(field, &b, sizeof(b));
        return 0;
    }
    case K_ENUM: {
        int i = find_name(k->names, v);
        if (i < 0) {
            join_names(names, sizeof(names), k->names);
            snprintf(why, wn, "%s is not one of %s", q, names);
            return -1;
        }
        /* Every enum of config.h is int-sized; the table's size is checked in tests. */
        memcpy(field, &i, sizeof(i));
        return 0;
    }
    case K_STR:
        if (k->names != NULL && find_name(k->names, v) < 0) {
            join_names(names, sizeof(names), k->names);
            snprintf(why, wn, "%s is not one of %s", q, names);
            return -1;
        }
        if (k->check != NULL && !k->check->ok(v)) {
            snprintf(why, wn, "%s is not %s", q, k->check->what);
            return -1;
        }
        if (strlen(v) >= k->size) {
            snprintf(why, wn, "%s is too long (at most %zu bytes)", q, k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_TEXT:
        if (!utf8_check(v, 0)) {
            snprintf(why, wn, "%s is not valid UTF-8 text", q);
            return -1;
        }
        if (!utf8_check(v, U8_NO_C1)) {
            snprintf(why, wn, "%s contains a control character", q);
            return -1;
        }
        if (strlen(v) >= k->size) {
            snprintf(why, wn, "%s is too long (at most %zu bytes)", q, k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_CMDLINE:
        if (!utf8_check(v, U8_NO_C0 | U8_NO_C1) || strlen(v) >= k->size) {
            snprintf(why, wn, "%s is not a command line (valid UTF-8, at most %zu bytes)", q,
                     k->size - 1);
            return -1;
        }
        put_string(obj, k, v);
        return 0;
    case K_PROGRAM:
        if (!k->check->ok(v)) {
            snprintf(why, wn, "%s is not %s", q, k->check->what);
            return -1;
        }
        if (strchr(v, '/') == NULL) {
            put_string(obj, k, v);
            return 0;
        }
        /* A program with a slash is a path, so it resolves like the others. */
        __attribute__((fallthrough));
    case K_PATH:
        if (!utf8_check(v, U8_NO_C0 | U8_NO_C1) || util_path_join(field, k->size, c->base, v) < 0) {
            snprintf(why, wn, "%s is not a usable path (valid UTF-8, at most %zu bytes)", q,
                     k->size - 1);
            return -1;
        }
        return 0;
    case K_LISTEN: {
        int port = 0;
        if ((k->flags & F_OFF_OK) && strcmp(v, "off") == 0) {
            field[0] = '\0';
            memcpy((char *)obj + k->off2, &port, sizeof(port));
            return 0;
        }
        if (!parse_listen(v, field, k->size, &port)) {
            snprintf(why, wn, "%s is not a listen address (like 127.0.0.1:7070 or [::1]:7070%s)", q,
                     (k->flags & F_OFF_OK) ? ", or off" : "");
            return -1;
        }
        memcpy((char *)obj + k->off2, &port, sizeof(port));
        return 0;
    }
    case K_PORTRANGE: {
        const char *dash = strchr(v, '-');
        char a[16];
        int64_t p1 = 0, p2 = 0;
        int i1, i2;
        bool ok = dash != NULL && dash != v && (size_t)(dash - v) < sizeof(a);
        if (ok) {
            memcpy(a, v, (size_t)(dash - v));
            a[dash - v] = '\0';
            ok = parse_i64(a, &p1) == 0 && parse_i64(dash + 1, &p2) == 0;
        }
        if (!ok) {
            snprintf(why, wn, "%s is not a port range (like 5001-5999)", q);
            return -1;
        }
        if (p1 < k->min || p2 > k->max || p1 > p2) {
            snprintf(why, wn, "%s is out of range (low-high within %lld..%lld)", q,
                     (long long)k->min, (long long)k->max);
            return -1;
        }
        i1 = (int)p1;
        i2 = (int)p2;
        memcpy(field, &i1, sizeof(i1));
        memcpy((char *)obj + k->off2, &i2, sizeof(i2));
        return 0;
    }
    case K_THRESHOLD: {
        /* Digits, then at most one '.' and up to 6 digits: no exponent, no
         * hex float, nothing strtod would take that a reader would not. */
        size_t i = 0, frac = 0;
        bool dot = false;
        double x;
        for (; v[i]; i++) {
            if (v[i] == '.' && !dot && i > 0)
                dot = true;
            else if (is_digit(v[i]))
                frac += dot;
            else
                break;
        }
        if (v[i] != '\0' || (dot && frac == 0) || frac > 6 || i >= k->size2 || i > 12) {
            snprintf(why, wn, "%s is not a decimal number (like 0.87)", q);
            return -1;
        }
        x = strtod(v, NULL);
        if (x < 0.0 || x > 1.0) {
            snprintf(why, wn, "%s is out of range (0..1)", q);
            return -1;
        }
        memcpy(field, &x, sizeof(x));
        util_strlcpy((char *)obj + k->off2, v, k->size2);
        return 0;
    }
    }
    snprintf(why, wn, "internal error: unknown key type");
    return -1;
}

/* Section and key names are shown as-is when plain, quoted otherwise. */
static bool plain_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 40)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("_-.", *p))
            return false;
    return true;
}

/* ---- the counting reader, the pre-scan and the inih handler ----------------- */

/*
 * inih asks for at most num-1 bytes at a time. Returning one physical line per
 * call (or a piece of one, for an over-long line) lets us count lines exactly;
 * the handler runs right after the reader returned its line, so c->lineno is
 * the line of the key being handled.
 */
static char *count_reader(char *str, int num, void *stream)
{
    struct pctx *c = stream;
    size_t n = 0;

    if (c->pos >= c->len || num < 2)
        return NULL;
    if (c->at_line_start)
        c->lineno++;
    while (n < (size_t)num - 1 && c->pos < c->len) {
        char ch = c->text[c->pos++];
        str[n++] = ch;
        if (ch == '\n')
            break;
    }
    str[n] = '\0';
    c->at_line_start = str[n - 1] == '\n';
    return str;
}

static const struct key *find_key(const struct pctx *c, const char *section, const char *name,
                                  size_t *idx)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        const struct key *k = &c->keys[i];
        if ((k->section == NULL || strcmp(k->section, section) == 0) &&
            strcmp(k->name, name) == 0) {
            *idx = i;
            return k;
        }
    }
    return NULL;
}

static bool section_known(const struct pctx *c, const char *section)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (c->keys[i].section != NULL && strcmp(c->keys[i].section, section) == 0)
            return true;
    return false;
}

static int plan_index(const struct config_plans *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->plan[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* A section header seen by the pre-scan: false when its keys must be skipped. */
static bool section_open(struct pctx *c, const char *name, int line)
{
    char q[QUOTE_MAX * 4 + 16];

    if (c->plans == NULL) {
        if (section_known(c, name))
            return true;
        if (plain_name(name)) {
            perr(c, line, name, NULL, "unknown section");
        } else {
            quote(q, sizeof(q), name);
            perr(c, line, NULL, NULL, "[%s]: unknown section", q);
        }
        return false;
    }
    if (!id_form(name)) {
        quote(q, sizeof(q), name);
        perr(c, line, NULL, NULL,
             "%s is not a valid plan name (a lowercase letter, then up to 30 "
             "lowercase letters, digits or '-')",
             q);
        return false;
    }
    int i = plan_index(c->plans, name);
    if (i >= 0) {
        perr(c, line, name, NULL, "plan defined twice (first on line %d)", c->plan_line[i]);
        return false;
    }
    if (c->plans->n >= CONFIG_PLANS_MAX) {
        perr(c, line, name, NULL, "too many plans (at most %d)", CONFIG_PLANS_MAX);
        return false;
    }
    i = (int)c->plans->n++;
    util_strlcpy(c->plans->plan[i].name, name, sizeof(c->plans->plan[i].name));
    c->plan_line[i] = line;
    return true;
}

static bool is_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r';
}

/*
 * Read the raw text line by line the way inih will, and report what inih would
 * hide. Lines reported here are marked in c->skip; so are the keys of unknown
 * or broken sections, which would otherwise be misattributed.
 */
static void prescan(struct pctx *c)
{
    enum { NONE, OPEN, CLOSED } state = NONE;
    const char *p = c->text, *end = c->text + c->len;
    int line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *s = p, *e = p + n, *next = nl ? nl + 1 : end;

        line++;
        p = next;
        if (n > LINE_MAX_BYTES) {
            perr(c, line, NULL, NULL, "line is %zu bytes long (at most %d)", n, LINE_MAX_BYTES);
            c->skip[line] = 1;
            /* inih reads the rest of the line as new lines, and one of them may
             * open a section: then which one is in force is unknown until the
             * next header. */
            if (memchr(s + 1, '[', n - 1) != NULL)
                state = CLOSED;
            continue;
        }
        if (memchr(s, '\0', n) != NULL) {
            perr(c, line, NULL, NULL, "line contains a NUL byte");
            c->skip[line] = 1;
            /* inih stops at the NUL, so it may see a section header we do not. */
            if (memchr(s, '[', n) != NULL)
                state = CLOSED;
            continue;
        }
        if (line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3;
        while (e > s && is_blank(e[-1]))
            e--;
        const char *t = s;
        while (t < e && is_blank(*t))
            t++;
        if (t == e || *t == ';' || *t == '#')
            continue;
        if (t > s) {
            perr(c, line, NULL, NULL, "indented line (continuation lines are not supported)");
            c->skip[line] = 1;
            continue;
        }
        if (*t == '[') {
            const char *rb = memchr(t, ']', (size_t)(e - t));
            char name[LINE_MAX_BYTES + 1];
            /* inih stops looking for ']' at an inline comment (" ;"). */
            for (const char *x = t + 1; rb != NULL && x < rb; x++)
                if (*x == ';' && is_blank(x[-1]))
                    rb = NULL;
            if (rb == NULL) {
                perr(c, line, NULL, NULL, "broken section header (no closing \"]\")");
                c->skip[line] = 1;
                state = CLOSED;
                continue;
            }
            const char *after = rb + 1;
            while (after < e && is_blank(*after))
                after++;
            if (after < e && *after != ';' && *after != '#') {
                perr(c, line, NULL, NULL, "unexpected text after the section header");
                c->skip[line] = 1;
                state = CLOSED;
                continue;
            }
            memcpy(name, t + 1, (size_t)(rb - t - 1));
            name[rb - t - 1] = '\0';
            state = section_open(c, name, line) ? OPEN : CLOSED;
            continue;
        }
        /* A key line: inih needs '=' or ':' before any inline comment. */
        const char *sep = NULL;
        for (const char *x = t; x < e && sep == NULL; x++) {
            if (*x == ';' && x > t && is_blank(x[-1]))
                break;
            if (*x == '=' || *x == ':')
                sep = x;
        }
        if (sep == NULL) {
            perr(c, line, NULL, NULL, "syntax error (expected \"key = value\")");
            c->skip[line] = 1;
        } else if (state == NONE) {
            perr(c, line, NULL, NULL, "key outside of any section");
            c->skip[line] = 1;
        } else if (state == CLOSED) {
            c->skip[line] = 1;
        }
    }
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct pctx *c = user;
    const struct key *k;
    void *obj = c->obj;
    int *seen = c->seen;
    size_t idx;
    char why[512];

    if (c->lineno < 1 || c->lineno > c->nlines || c->skip[c->lineno])
        return 1;
    /*
     * The pre-scan skips the keys of every section it did not open, so inih
     * and the pre-scan disagreeing about the section is a bug of ours; the
     * file is refused rather than read under the wrong section.
     */
    if (c->plans != NULL) {
        int i = plan_index(c->plans, section);
        if (i < 0)
            goto lost;
        obj = &c->plans->plan[i];
        seen = c->plan_seen[i];
    } else if (!section_known(c, section)) {
        goto lost;
    }
    k = find_key(c, section, name, &idx);
    if (k == NULL) {
        char q[QUOTE_MAX * 4 + 16];
        /* A plain name reads better than a quoted one; odd ones stay quoted. */
        quote(q, sizeof(q), name);
        perr(c, c->lineno, section, plain_name(name) ? name : q, "unknown key");
        return 1;
    }
    if (seen[idx] != 0) {
        perr(c, c->lineno, section, name, "duplicate key (first set on line %d)", seen[idx]);
        return 1;
    }
    seen[idx] = c->lineno;
    if (store(c, k, obj, value, why, sizeof(why)) < 0)
        perr(c, c->lineno, section, name, "%s", why);
    return 1;
lost:
    perr(c, c->lineno, NULL, NULL, "key in a section that could not be read");
    return 1;
}

/* Run the pre-scan and inih over c->text, filling c->obj (or c->plans). */
static void parse_text(struct pctx *c)
{
    int r;

    c->nlines = 1;
    for (size_t i = 0; i < c->len; i++)
        c->nlines += c->text[i] == '\n';
    c->skip = calloc((size_t)c->nlines + 2, 1);
    if (c->skip == NULL) {
        perr(c, 0, NULL, NULL, "out of memory");
        return;
    }
    prescan(c);
    c->pos = 0;
    c->lineno = 0;
    c->at_line_start = true;
    r = ini_parse_stream(count_reader, c, on_key, c);
    if (r == -2)
        perr(c, 0, NULL, NULL, "out of memory");
    else if (r != 0 && c->nerr == 0)
        perr(c, r > 0 ? r : 0, NULL, NULL, "syntax error");
    free(c->skip);
    c->skip = NULL;
}

/* Report missing required keys and store the defaults of the others. */
static void finish_keys(struct pctx *c, void *obj, const int *seen, const char *section)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        const struct key *k = &c->keys[i];
        const char *sec = k->section ? k->section : section;
        char why[512];
        if (seen[i] != 0)
            continue;
        if (k->flags & F_REQUIRED) {
            perr(c, 0, sec, k->name, "required key is missing");
        } else if (k->def != NULL && store(c, k, obj, k->def, why, sizeof(why)) < 0) {
            perr(c, 0, sec, k->name, "internal error: bad default: %s", why);
        }
    }
}

static int key_index(const struct key *keys, size_t n, const char *section, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if ((keys[i].section == NULL || strcmp(keys[i].section, section) == 0) &&
            strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The line a key was set on, 0 when it was not. */
static int seen_line(const struct pctx *c, const int *seen, const char *section, const char *name)
{
    int i = key_index(c->keys, c->nkeys, section, name);
    return i < 0 ? 0 : seen[i];
}

/* The path as messages show it: relative to the global file's folder inside it. */
static const char *display_of(const struct config_global *g, const char *path)
{
    size_t bl = strlen(g->base_dir);

    if (bl > 0 && strncmp(path, g->base_dir, bl) == 0 && path[bl] == '/' && path[bl + 1] != '\0')
        return path + bl + 1;
    if (strcmp(g->base_dir, "/") == 0 && path[0] == '/' && path[1] != '\0')
        return path + 1;
    return path;
}

/*
 * A file name as messages show it: a tenant file's name is whatever landed in
 * the folder, so control bytes (and every byte above 0x7f when the name is
 * not clean UTF-8) become \xNN and a message stays one printable line.
 */
static void safe_name(char *buf, size_t n, const char *name)
{
    bool utf8 = utf8_check(name, U8_NO_C1);
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < n; p++) {
        if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = '\0';
}

/* Make a path absolute against the current directory, without resolving links. */
static int absolute(const char *path, char *buf, size_t n)
{
    char cwd[CONFIG_PATH_MAX];

    if (path[0] == '/')
        return util_strlcpy(buf, path, n);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -errno;
    return util_path_join(buf, n, cwd, path);
}

/* ---- global file --------------------------------------------------------------- */

/* Values whose default depends on other keys, and checks across keys. */
static void global_derive(struct pctx *c, struct config_global *g, const int *seen)
{
    char q[QUOTE_MAX * 4 + 16];
    int line;

    if (seen_line(c, seen, "admin", "socket") == 0 &&
        util_path_join(g->admin_socket, sizeof(g->admin_socket), g->run_dir, "admin.sock") < 0)
        perr(c, 0, "admin", "socket", "the default path is too long");
    if (seen_line(c, seen, "proxy", "templates") == 0 &&
        util_path_join(g->proxy_templates, sizeof(g->proxy_templates), g->templates_dir, "nginx") <
            0)
        perr(c, 0, "proxy", "templates", "the default path is too long");
    if (seen_line(c, seen, "proxy", "tls_port") == 0)
        g->tls_port = g->proxy_port == 8080 ? 8443 : 443;

    line = seen_line(c, seen, "admin", "listen");
    if (g->admin_port != 0 && !g->admin_allow_remote && !is_loopback(g->admin_host)) {
        quote(q, sizeof(q), g->admin_host);
        perr(c, line, "admin", "listen",
             "%s is not a loopback address (set allow_remote = true to listen on it)", q);
    }
    if (g->backoff_min_ms > g->backoff_max_ms)
        perr(c, seen_line(c, seen, "supervise", "backoff_min"), "supervise", "backoff_min",
             "is larger than backoff_max");
    if ((g->tls_cert[0] == '\0') != (g->tls_key[0] == '\0'))
        perr(c, 0, "proxy", g->tls_cert[0] ? "tls_key" : "tls_cert",
             "tls_cert and tls_key must be set together");
}

int config_parse_global(const char *path, const char *text, size_t len, struct config_global *g,
                        struct config_diag *d)
{
    struct pctx c = {0};
    int seen[NKEYS(global_keys)] = {0};
    const char *slash;

    memset(g, 0, sizeof(*g));
    if (util_strlcpy(g->path, path, sizeof(g->path)) < 0) {
        config_diag_add(d, "%s: the path is too long", path);
        return -EINVAL;
    }
    slash = strrchr(g->path, '/');
    if (slash == NULL)
        util_strlcpy(g->base_dir, ".", sizeof(g->base_dir));
    else if (slash == g->path)
        util_strlcpy(g->base_dir, "/", sizeof(g->base_dir));
    else
        snprintf(g->base_dir, sizeof(g->base_dir), "%.*s", (int)(slash - g->path), g->path);

    c.display = slash ? slash + 1 : g->path;
    c.d = d;
    c.keys = global_keys;
    c.nkeys = NKEYS(global_keys);
    c.base = g->base_dir;
    c.obj = g;
    c.seen = seen;
    c.text = text;
    c.len = len;
    parse_text(&c);
    finish_keys(&c, g, seen, NULL);
    global_derive(&c, g, seen);
    flush(&c);
    return c.nerr ? -EINVAL : 0;
}

int config_load_global(const char *path, struct config_global *g, struct config_diag *d)
{
    char abs[CONFIG_PATH_MAX], *text = NULL;
    size_t len = 0;
    int r;

    memset(g, 0, sizeof(*g));
    r = absolute(path, abs, sizeof(abs));
    if (r == 0)
        r = util_read_file(abs, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", path,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        return -EINVAL;
    }
    r = config_parse_global(abs, text, len, g, d);
    free(text);
    return r;
}

/* ---- plans ------------------------------------------------------------------------ */

int config_parse_plans(const struct config_global *g, const char *display_path, const char *text,
                       size_t len, struct config_plans *p, struct config_diag *d)
{
    struct pctx *c;
    int r;

    memset(p, 0, sizeof(*p));
    /* The per-plan "seen" table is a few KiB: keep it off the stack. */
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        config_diag_add(d, "%s: out of memory", display_path);
        return -ENOMEM;
    }
    c->display = display_path;
    c->d = d;
    c->keys = plan_keys;
    c->nkeys = NKEYS(plan_keys);
    c->base = g ? g->base_dir : "";
    c->plans = p;
    c->text = text;
    c->len = len;
    parse_text(c);
    for (size_t i = 0; i < p->n; i++) {
        struct config_plan *pl = &p->plan[i];
        finish_keys(c, pl, c->plan_seen[i], pl->name);
        /* A plan without a label is shown under its name. */
        if (seen_line(c, c->plan_seen[i], pl->name, "label") == 0)
            util_strlcpy(pl->label, pl->name, sizeof(pl->label));
    }
    if (p->n == 0 && c->nerr == 0)
        perr(c, 0, NULL, NULL, "no plan is defined");
    r = c->nerr ? -EINVAL : 0;
    flush(c);
    free(c);
    return r;
}

int config_load_plans(const struct config_global *g, struct config_plans *p, struct config_diag *d)
{
    const char *display = display_of(g, g->plans);
    char *text = NULL;
    size_t len = 0;
    int r;

    memset(p, 0, sizeof(*p));
    r = util_read_file(g->plans, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", display,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        return -EINVAL;
    }
    r = config_parse_plans(g, display, text, len, p, d);
    free(text);
    return r;
}

const struct config_plan *config_plan_find(const struct config_plans *p, const char *name)
{
    int i;

    if (p == NULL || name == NULL)
        return NULL;
    i = plan_index(p, name);
    return i < 0 ? NULL : &p->plan[i];
}

/* ---- tenant files ------------------------------------------------------------- */

/* Fill what depends on the id, the plan or other keys, and check across keys. */
static void tenant_derive(struct pctx *c, const struct config_global *g,
                          const struct config_plans *p, struct config_tenant *t, const int *seen)
{
    const struct config_plan *pl = NULL;
    char q[QUOTE_MAX * 4 + 16];
    int line;

    if (seen_line(c, seen, "tenant", "subdomain") == 0)
        util_strlcpy(t->subdomain, t->id, sizeof(t->subdomain));
    if (seen_line(c, seen, "tenant", "instance") == 0)
        snprintf(t->instance, sizeof(t->instance), "%s-prod", t->id);
    if (seen_line(c, seen, "worker", "socket") == 0)
        t->socket = t->command[0] ? WORKER_SOCKET_OWN : WORKER_SOCKET_PASSED;

    /* A subdomain that is a reserved name would take over one of our hosts. */
    line = seen_line(c, seen, "tenant", "subdomain");
    if (line > 0 && config_reserved_id(t->subdomain)) {
        quote(q, sizeof(q), t->subdomain);
        perr(c, line, "tenant", "subdomain", "%s is reserved", q);
    }

    line = seen_line(c, seen, "tenant", "plan");
    if (line > 0 && t->plan[0] != '\0') {
        pl = config_plan_find(p, t->plan);
        if (pl == NULL) {
            char names[CONFIG_PLANS_MAX * CONFIG_ID_MAX] = "";
            size_t o = 0;
            for (size_t i = 0; p != NULL && i < p->n && o < sizeof(names); i++)
                o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                      p->plan[i].name);
            quote(q, sizeof(q), t->plan);
            perr(c, line, "tenant", "plan", "%s is not a plan of %s (%s)", q,
                 g ? display_of(g, g->plans) : "plans.ini", names);
        }
    }
    if (pl != NULL) {
        if (!seen_line(c, seen, "limits", "max_users"))
            t->max_users = pl->max_users;
        if (!seen_line(c, seen, "limits", "max_cases"))
            t->max_cases = pl->max_cases;
        if (!seen_line(c, seen, "limits", "max_analysis_monthly"))
            t->max_analysis_monthly = pl->max_analysis_monthly;
        if (!seen_line(c, seen, "limits", "memory"))
            t->memory_bytes = pl->memory_bytes;
        if (!seen_line(c, seen, "limits", "pids"))
            t->pids = pl->pids;
        if (!seen_line(c, seen, "limits", "cpu_weight"))
            t->cpu_weight = pl->cpu_weight;
        if (!seen_line(c, seen, "limits", "log_budget"))
            t->log_budget_bytes = pl->log_budget_bytes;
        if (!seen_line(c, seen, "worker", "ai_model"))
            util_strlcpy(t->ai_model, pl->ai_model, sizeof(t->ai_model));
        if (!seen_line(c, seen, "worker", "advanced_features"))
            t->advanced_features = pl->advanced_features;
    }

    line = seen_line(c, seen, "worker", "port");
    if (line > 0 && g != NULL && g->port_max > 0 && t->port > 0 &&
        (t->port < g->port_min || t->port > g->port_max))
        perr(c, line, "worker", "port", "%d is outside port_range (%d-%d)", t->port, g->port_min,
             g->port_max);
}

int config_parse_tenant(const struct config_global *g, const struct config_plans *p, const char *id,
                        const char *display_path, const char *text, size_t len,
                        struct config_tenant *t, struct config_diag *d)
{
    struct pctx c = {0};
    int seen[NKEYS(tenant_keys)] = {0};
    char q[QUOTE_MAX * 4 + 16];

    memset(t, 0, sizeof(*t));
    c.display = display_path;
    c.d = d;
    c.keys = tenant_keys;
    c.nkeys = NKEYS(tenant_keys);
    c.base = g ? g->base_dir : "";
    c.obj = t;
    c.seen = seen;
    c.text = text;
    c.len = len;

    util_strlcpy(t->id, id, sizeof(t->id));
    if (!id_form(id)) {
        quote(q, sizeof(q), id);
        perr(&c, 0, NULL, NULL,
             "%s is not a valid tenant id (a lowercase letter, then up to 30 "
             "lowercase letters, digits or '-')",
             q);
    } else if (config_reserved_id(id)) {
        perr(&c, 0, NULL, NULL, "\"%s\" is a reserved tenant id", id);
    }
    parse_text(&c);
    finish_keys(&c, t, seen, NULL);
    tenant_derive(&c, g, p, t, seen);
    flush(&c);
    return c.nerr ? -EINVAL : 0;
}

int config_load_tenant(const struct config_global *g, const struct config_plans *p,
                       const char *path, struct config_tenant *t, struct config_diag *d)
{
    char abs[CONFIG_PATH_MAX], id[NAME_MAX + 1], *text = NULL;
    const char *base = strrchr(path, '/');
    char *display = NULL;
    size_t len = 0, bl, dn;
    int r;

    memset(t, 0, sizeof(*t));
    base = base ? base + 1 : path;
    bl = strlen(base);
    if (bl > 4 && strcmp(base + bl - 4, ".ini") == 0)
        bl -= 4;
    snprintf(id, sizeof(id), "%.*s", (int)bl, base);
    util_strlcpy(t->id, id, sizeof(t->id));
    dn = strlen(path) * 4 + 1;
    display = malloc(dn);
    if (display == NULL) {
        config_diag_add(d, "out of memory");
        return -ENOMEM;
    }
    if (absolute(path, abs, sizeof(abs)) < 0) {
        safe_name(display, dn, path);
        config_diag_add(d, "%s: the path is too long", display);
        r = -EINVAL;
        goto out;
    }
    safe_name(display, dn, g ? display_of(g, abs) : path);
    r = util_read_file(abs, FILE_MAX_BYTES, &text, &len);
    if (r < 0) {
        config_diag_add(d, "%s: cannot read: %s", display,
                        r == -EFBIG ? "the file is larger than 64K" : strerror(-r));
        r = -EINVAL;
        goto out;
    }
    r = config_parse_tenant(g, p, id, display, text, len, t, d);
    util_strlcpy(t->file, abs, sizeof(t->file));
out:
    free(display);
    free(text);
    return r;
}

/* ---- the whole configuration ---------------------------------------------------- */

/* Editor and tool leftovers that sit beside tenant files and are not tenants. */
static bool ignored_name(const char *name)
{
    static const char *const tails[] = {"~", ".tmp", ".swp", ".bak", ".orig", ".rej"};
    size_t n = strlen(name);

    if (name[0] == '.')
        return true;
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        size_t l = strlen(tails[i]);
        if (n >= l && strcmp(name + n - l, tails[i]) == 0)
            return true;
    }
    return n <= 4 || strcmp(name + n - 4, ".ini") != 0;
}

static int cmp_names(const void *a, const void *b)
{
    /* By id, i.e. without ".ini": "a.ini" sorts before "a-b.ini". */
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t xl = strlen(x) - 4, yl = strlen(y) - 4;
    int r = strncmp(x, y, xl < yl ? xl : yl);

    return r != 0 ? r : (xl > yl) - (xl < yl);
}

/* List the tenant files of tenants_dir, sorted by id. */
static int list_tenant_files(const char *dir, char ***out, size_t *n_out)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;

    *out = NULL;
    *n_out = 0;
    if (dp == NULL)
        return -errno;
    errno = 0;
    while ((de = readdir(dp)) != NULL) {
        if (ignored_name(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (nn == NULL) {
                ret = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = nc;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            ret = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (errno != 0)
        ret = -errno;
out:
    closedir(dp);
    if (ret < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return ret;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *n_out = n;
    return 0;
}

/* Mark e invalid with one more message, keeping its earlier ones. */
static void entry_fail(struct config_tenant_entry *e, struct config_diag *d, const char *msg)
{
    size_t old = e->error ? strlen(e->error) : 0;
    char *s = realloc(e->error, old + strlen(msg) + 2);

    config_diag_add(d, "%s", msg);
    e->valid = false;
    if (s == NULL)
        return;
    if (old > 0)
        s[old++] = '\n';
    strcpy(s + old, msg);
    e->error = s;
}

/*
 * Ports and subdomains must be unique. Tenants are in id order, so the later of
 * two clashing tenants is the one marked invalid, and the earlier keeps running.
 */
static void cross_check(struct config *cfg, struct config_diag *d)
{
    for (size_t i = 0; i < cfg->n_tenants; i++) {
        struct config_tenant_entry *e = &cfg->tenants[i];
        const char *disp = display_of(&cfg->g, e->t.file);
        char msg[512];
        if (!e->valid)
            continue;
        for (size_t j = 0; j < i && e->valid; j++) {
            const struct config_tenant_entry *o = &cfg->tenants[j];
            if (!o->valid)
                continue;
            if (o->t.port == e->t.port) {
                snprintf(msg, sizeof(msg), "%s: [worker] port: %d is already used by tenant \"%s\"",
                         disp, e->t.port, o->id);
                entry_fail(e, d, msg);
            } else if (strcmp(o->t.subdomain, e->t.subdomain) == 0) {
                snprintf(msg, sizeof(msg),
                         "%s: [tenant] subdomain: \"%s\" is already used by tenant \"%s\"", disp,
                         e->t.subdomain, o->id);
                entry_fail(e, d, msg);
            }
        }
    }
}

int config_load(const char *global_path, struct config **out, struct config_diag *d)
{
    struct config *cfg;
    char **names = NULL;
    size_t n = 0;
    int r, ret = 0;

    *out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return -ENOMEM;
    if (config_load_global(global_path, &cfg->g, d) < 0 ||
        config_load_plans(&cfg->g, &cfg->plans, d) < 0) {
        ret = -EINVAL;
        goto out;
    }
    /*
     * A tenants folder that cannot be listed is fatal, even when missing: read
     * as "no tenants", it would stop every running worker on a reload.
     */
    r = list_tenant_files(cfg->g.tenants_dir, &names, &n);
    if (r < 0) {
        config_diag_add(d, "%s: cannot list the tenant files: %s",
                        display_of(&cfg->g, cfg->g.tenants_dir), strerror(-r));
        ret = r == -ENOMEM ? -ENOMEM : -EINVAL;
        goto out;
    }
    if (n > 0) {
        cfg->tenants = calloc(n, sizeof(*cfg->tenants));
        if (cfg->tenants == NULL) {
            ret = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct config_tenant_entry *e = &cfg->tenants[i];
        struct config_diag one = {0};
        char path[CONFIG_PATH_MAX];
        cfg->n_tenants++;
        if (util_path_join(path, sizeof(path), cfg->g.tenants_dir, names[i]) < 0) {
            safe_name(path, sizeof(path), names[i]);
            config_diag_add(&one, "%s: the path is too long", path);
        } else if (config_load_tenant(&cfg->g, &cfg->plans, path, &e->t, &one) == 0) {
            e->valid = true;
        }
        util_strlcpy(e->id, e->t.id, sizeof(e->id));
        if (!e->valid) {
            e->error = config_diag_join(&one);
            for (size_t k = 0; k < one.n; k++)
                config_diag_add(d, "%s", one.lines[k]);
        }
        config_diag_clear(&one);
    }
    cross_check(cfg, d);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (ret < 0) {
        config_free(cfg);
        return ret;
    }
    *out = cfg;
    return 0;
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_tenants; i++)
        free(c->tenants[i].error);
    free(c->tenants);
    free(c);
}

const struct config_tenant_entry *config_find_tenant(const struct config *c, const char *id)
{
    for (size_t i = 0; c != NULL && id != NULL && i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].id, id) == 0)
            return &c->tenants[i];
    return NULL;
}

/* ---- comparisons, paths and the environment --------------------------------------- */

bool config_tenant_equal(const struct config_tenant *a, const struct config_tenant *b)
{
#define SAME_S(f) (strcmp(a->f, b->f) == 0)
#define SAME(f) (a->f == b->f)
    return SAME_S(id) && SAME_S(name) && SAME_S(plan) && SAME_S(subdomain) && SAME(status) &&
           SAME_S(instance) && SAME_S(siret) && SAME_S(address) && SAME_S(phone) && SAME_S(email) &&
           SAME_S(logo) && SAME_S(color) && SAME_S(language) && SAME_S(timezone) &&
           SAME(max_users) && SAME(max_cases) && SAME(max_analysis_monthly) && SAME(memory_bytes) &&
           SAME(pids) && SAME(cpu_weight) && SAME(log_budget_bytes) && SAME(port) &&
           SAME_S(command) && SAME(socket) && SAME_S(ai_model) &&
           SAME_S(prediction_threshold_text) && SAME(prediction_threshold) &&
           SAME(advanced_features) && SAME(network) && SAME(seccomp) && SAME_S(password_cost);
#undef SAME_S
#undef SAME
}

int config_tenant_data_dir(const struct config_global *g, const char *id, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/%s", g->data_dir, id);
}

int config_tenant_log_path(const struct config_global *g, const char *id, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/%s.log", g->log_dir, id);
}

#define ENV_MAX 48

/* One "K=V" string of the environment under construction. */
struct envb {
    char *v[ENV_MAX];
    size_t n;
    bool oom;
};

static void env_add(struct envb *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void env_add(struct envb *e, const char *key, const char *fmt, ...)
{
    va_list ap;
    char *val = NULL, *kv = NULL;

    if (e->oom || e->n >= ENV_MAX - 1) {
        e->oom = true;
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&val, fmt, ap) < 0)
        val = NULL;
    va_end(ap);
    if (val == NULL || asprintf(&kv, "%s=%s", key, val) < 0) {
        free(val);
        e->oom = true;
        return;
    }
    free(val);
    e->v[e->n++] = kv;
}

char **config_worker_env(const struct config_global *g, const struct config_plans *p,
                         const struct config_tenant *t, const char *secret)
{
    const struct config_plan *pl = config_plan_find(p, t->plan);
    struct envb e = {.n = 0};
    char data[CONFIG_PATH_MAX + CONFIG_ID_MAX + 2], tpl[CONFIG_PATH_MAX + 8];
    char **env = NULL;
    size_t total = 0;
    char *s;

    config_tenant_data_dir(g, t->id, data, sizeof(data));
    snprintf(tpl, sizeof(tpl), "%s/worker", g->templates_dir);

    /* The seed's variables first, in DESIGN.md's order. */
    env_add(&e, "CLIENT_ID", "%s", t->id);
    env_add(&e, "CLIENT_NAME", "%s", t->name);
    env_add(&e, "INSTANCE_NAME", "%s", t->instance);
    env_add(&e, "CLIENT_SIRET", "%s", t->siret);
    env_add(&e, "CLIENT_ADDRESS", "%s", t->address);
    env_add(&e, "CLIENT_PHONE", "%s", t->phone);
    env_add(&e, "CLIENT_EMAIL", "%s", t->email);
    env_add(&e, "CLIENT_LOGO", "%s", t->logo);
    env_add(&e, "CLIENT_COLOR", "%s", t->color);
    env_add(&e, "SUBSCRIPTION_PLAN", "%s", t->plan);
    env_add(&e, "MAX_USERS", "%d", t->max_users);
    env_add(&e, "MAX_CASES", "%d", t->max_cases);
    env_add(&e, "MAX_ANALYSIS_MONTHLY", "%d", t->max_analysis_monthly);
    env_add(&e, "AI_MODEL", "%s", t->ai_model);
    env_add(&e, "PREDICTION_THRESHOLD", "%s", t->prediction_threshold_text);
    env_add(&e, "ADVANCED_FEATURES", "%s", t->advanced_features ? "true" : "false");
    env_add(&e, "DATA_DIR", "%s", data);
    env_add(&e, "PORT", "%d", t->port);
    if (secret != NULL)
        env_add(&e, "SECRET_KEY", "%s", secret);
    env_add(&e, "DATABASE_TYPE", "sqlite");
    /* Then tenantd's additions. */
    env_add(&e, "TEMPLATES_DIR", "%s", tpl);
    env_add(&e, "LANGUAGE", "%s", t->language);
    env_add(&e, "TIMEZONE", "%s", t->timezone);
    env_add(&e, "PASSWORD_COST", "%s", t->password_cost);
    if (pl != NULL) {
        env_add(&e, "PLAN_LABEL", "%s", pl->label);
        env_add(&e, "PLAN_PRICE_CENTS", "%lld", (long long)pl->price_cents);
        env_add(&e, "PLAN_OVERAGE_CENTS", "%lld", (long long)pl->overage_cents);
    }
    env_add(&e, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    env_add(&e, "LANG", "C.UTF-8");
    env_add(&e, "TZ", "%s", t->timezone);
    if (e.oom)
        goto out;

    /* One block: the pointer array, then the strings it points into. */
    for (size_t i = 0; i < e.n; i++)
        total += strlen(e.v[i]) + 1;
    env = malloc((e.n + 1) * sizeof(char *) + total);
    if (env == NULL)
        goto out;
    s = (char *)(env + e.n + 1);
    for (size_t i = 0; i < e.n; i++) {
        size_t l = strlen(e.v[i]) + 1;
        memcpy(s, e.v[i], l);
        env[i] = s;
        s += l;
    }
    env[e.n] = NULL;
out:
    for (size_t i = 0; i < e.n; i++)
        free(e.v[i]);
    if (env == NULL)
        errno = ENOMEM;
    return env;
}
