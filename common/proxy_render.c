/*
 * proxy_render.c — see proxy_render.h. Pure text work: value checks, a tiny
 * {{name}} expander over a growing buffer, and the choice of template per
 * tenant. Nothing here opens a file or knows about nginx processes.
 */
#include "proxy_render.h"
#include "reach.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const proxy_template_file[PROXY_TPL__COUNT] = {
    [PROXY_TPL_MAIN] = "main.conf.in",
    [PROXY_TPL_DEFAULT] = "default.conf.in",
    [PROXY_TPL_DEFAULT_TLS] = "default-tls.conf.in",
    [PROXY_TPL_TENANT] = "tenant.conf.in",
    [PROXY_TPL_TENANT_TLS] = "tenant-tls.conf.in",
    [PROXY_TPL_SUSPENDED] = "suspended.conf.in",
    [PROXY_TPL_SUSPENDED_TLS] = "suspended-tls.conf.in",
    [PROXY_TPL_HTTP] = "http.conf.in",
};

void proxy_rendered_free(struct proxy_rendered *r)
{
    free(r->main_conf);
    free(r->tenants_conf);
    r->main_conf = NULL;
    r->tenants_conf = NULL;
}

/*
 * A refused value is shown in messages with everything but plain printable
 * ASCII escaped, and cut, so the message itself stays one harmless line.
 */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < n; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
        if (o >= 64 && p[1] != '\0') {
            if (o + 4 < n) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* Describe the first byte of s outside the allowlist, for messages. */
static const char *bad_char(unsigned char c, char *why, size_t n)
{
    if (c > 0x20 && c < 0x7f)
        snprintf(why, n, "character '%c' is not allowed", c);
    else
        snprintf(why, n, "byte 0x%02x is not allowed", c);
    return why;
}

/* ---- allowlists ------------------------------------------------------------ */

static const char *bad_id(const char *s, char *why, size_t n)
{
    if (s[0] == '\0')
        return "it is empty";
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return "it must start with a lowercase letter";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return bad_char(*p, why, n);
    }
    if (strlen(s) >= CONFIG_ID_MAX)
        return "it is too long";
    return NULL;
}

static const char *bad_host(const char *s, char *why, size_t n)
{
    size_t label = 0;

    if (s[0] == '\0')
        return "it is empty";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return "it has an empty label";
            label = 0;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return bad_char(*p, why, n);
        if (++label > 63)
            return "a label is longer than 63 characters";
    }
    if (label == 0)
        return "it ends with a dot";
    if (strlen(s) > 253)
        return "it is too long";
    return NULL;
}

static const char *bad_path(const char *s, char *why, size_t n)
{
    if (s[0] != '/')
        return "it is not an absolute path";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '/' || *p == '-'))
            return bad_char(*p, why, n);
    }
    /* A ".." component could step out of the folders tenantd owns. */
    for (const char *p = s; (p = strstr(p, "..")) != NULL; p++) {
        if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
            return "it has a \"..\" component";
    }
    if (strlen(s) >= CONFIG_PATH_MAX - 64)
        return "it is too long";
    return NULL;
}

/* The listen address: an IPv4 address or a name, "*", or an IPv6 address. */
static const char *bad_listen_host(const char *s, char *why, size_t n)
{
    if (s[0] == '\0')
        return "it is empty";
    if (strcmp(s, "*") == 0)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == ':' || *p == '-' || *p == '[' || *p == ']'))
            return bad_char(*p, why, n);
    }
    return NULL;
}

int proxy_check_id(const char *s)
{
    char why[64];
    return bad_id(s, why, sizeof why) ? -EINVAL : 0;
}

int proxy_check_host(const char *s)
{
    char why[64];
    return bad_host(s, why, sizeof why) ? -EINVAL : 0;
}

int proxy_check_path(const char *s)
{
    char why[64];
    return bad_path(s, why, sizeof why) ? -EINVAL : 0;
}

/* ---- the expander ---------------------------------------------------------- */

static int buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < *len + n + 1)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (nb == NULL)
            return -ENOMEM;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int proxy_expand(const char *what, const char *tpl, const char *const *keys,
                 const char *const *values, size_t n, char **buf, size_t *len, size_t *cap,
                 char *err, size_t errlen)
{
    const char *p = tpl;
    int r;

    for (;;) {
        const char *open = strstr(p, "{{");
        if (open == NULL)
            return buf_append(buf, len, cap, p, strlen(p));
        r = buf_append(buf, len, cap, p, (size_t)(open - p));
        if (r < 0)
            return r;
        const char *name = open + 2;
        const char *close = strstr(name, "}}");
        size_t line = 1;
        for (const char *q = tpl; q < open; q++)
            line += *q == '\n';
        if (close == NULL || memchr(name, '\n', (size_t)(close - name)) != NULL) {
            util_seterr(err, errlen, "%s:%zu: \"{{\" without \"}}\" on the same line", what, line);
            return -EINVAL;
        }
        size_t nlen = (size_t)(close - name);
        size_t i;
        for (i = 0; i < n; i++) {
            if (strlen(keys[i]) == nlen && memcmp(keys[i], name, nlen) == 0)
                break;
        }
        if (i == n) {
            char shownbuf[96], raw[80];
            snprintf(raw, sizeof raw, "%.*s", (int)(nlen < 64 ? nlen : 64), name);
            util_seterr(err, errlen, "%s:%zu: unknown placeholder {{%s}}", what, line,
                        shown(raw, shownbuf, sizeof shownbuf));
            return -EINVAL;
        }
        r = buf_append(buf, len, cap, values[i], strlen(values[i]));
        if (r < 0)
            return r;
        p = close + 2;
    }
}

/* ---- the configuration ----------------------------------------------------- */

/* Placeholder values shared by every template; per-tenant ones are appended. */
enum {
    K_PREFIX,
    K_LOG_DIR,
    K_TENANTS_CONF,
    K_LISTEN,
    K_LISTEN_TLS,
    K_DOMAIN,
    K_TLS_CERT,
    K_TLS_KEY,
    K_TLS_PORT,
    K_TLS_PORT_SUFFIX,
    K_ACME_WEBROOT,
    K_HASH_MAX,
    K_HASH_BUCKET,
    K_RLIMIT_NOFILE,
    K_ID,
    K_SUBDOMAIN,
    K_HOST,
    K_PORT,
    K_SUSPENDED_PAGE,
    K_PROXY_SOURCE,
    K_MAX_BODY,
    K_HSTS,
    K__COUNT
};
static const char *const key_names[K__COUNT] = {
    [K_PREFIX] = "prefix",
    [K_LOG_DIR] = "log_dir",
    [K_TENANTS_CONF] = "tenants_conf",
    [K_LISTEN] = "listen",
    [K_LISTEN_TLS] = "listen_tls",
    [K_DOMAIN] = "domain",
    [K_TLS_CERT] = "tls_cert",
    [K_TLS_KEY] = "tls_key",
    [K_TLS_PORT] = "tls_port",
    [K_TLS_PORT_SUFFIX] = "tls_port_suffix",
    [K_ACME_WEBROOT] = "acme_webroot",
    [K_HASH_MAX] = "server_names_hash_max_size",
    [K_HASH_BUCKET] = "server_names_hash_bucket_size",
    [K_RLIMIT_NOFILE] = "worker_rlimit_nofile",
    [K_ID] = "id",
    [K_SUBDOMAIN] = "subdomain",
    [K_HOST] = "host",
    [K_PORT] = "port",
    [K_SUSPENDED_PAGE] = "suspended_page",
    [K_PROXY_SOURCE] = "proxy_source",
    [K_MAX_BODY] = "max_body",
    [K_HSTS] = "hsts",
};
/* The first K_ID keys are global; the main and default templates see only those. */
#define K_GLOBAL_COUNT K_ID

struct render_ctx {
    char prefix[CONFIG_PATH_MAX];
    char acme_webroot[CONFIG_PATH_MAX + 16];
    char listen[96], listen_tls[96];
    char tls_port[8], tls_port_suffix[8];
    char hash_max[24], hash_bucket[24], rlimit_nofile[24];
    char id[CONFIG_ID_MAX], subdomain[64], host[CONFIG_HOST_MAX + 64], port[8];
    char suspended_page[CONFIG_PATH_MAX + 64];
    char max_body[24];
    const char *values[K__COUNT];
};

static int format_listen(char *buf, size_t n, const char *host, int port)
{
    int r;

    if (strchr(host, ':') != NULL && host[0] != '[')
        r = snprintf(buf, n, "[%s]:%d", host, port);
    else
        r = snprintf(buf, n, "%s:%d", host, port);
    return (r < 0 || (size_t)r >= n) ? -EINVAL : 0;
}

/* Check the global values and fill the shared part of the context. */
static int global_ctx(const struct config_global *g, bool tls, struct render_ctx *c, char *err,
                      size_t errlen)
{
    char why[64], sb[96];
    const char *bad;

#define CHECK_G(fn, section, key, val)                                                             \
    do {                                                                                           \
        if ((bad = fn((val), why, sizeof why)) != NULL) {                                          \
            util_seterr(err, errlen, "[%s] %s \"%s\" refused for the proxy config: %s", section,   \
                        key, shown((val), sb, sizeof sb), bad);                                    \
            return -EINVAL;                                                                        \
        }                                                                                          \
    } while (0)

    CHECK_G(bad_host, "tenantd", "domain", g->domain);
    CHECK_G(bad_path, "tenantd", "run_dir", g->run_dir);
    CHECK_G(bad_path, "tenantd", "log_dir", g->log_dir);
    CHECK_G(bad_listen_host, "proxy", "listen", g->proxy_host);
    if (g->proxy_port < 1 || g->proxy_port > 65535) {
        util_seterr(err, errlen,
                    "[proxy] listen: port %d refused for the proxy config: not in 1..65535",
                    g->proxy_port);
        return -EINVAL;
    }
    if (tls && g->tls_cert[0] != '\0') { /* else ACME certificates only */
        CHECK_G(bad_path, "proxy", "tls_cert", g->tls_cert);
        CHECK_G(bad_path, "proxy", "tls_key", g->tls_key);
    }
    if (tls) {
        if (g->tls_port < 1 || g->tls_port > 65535 || g->tls_port == g->proxy_port) {
            util_seterr(
                err, errlen,
                "[proxy] tls_port: %d refused for the proxy config: not in 1..65535 or equal "
                "to the plain port",
                g->tls_port);
            return -EINVAL;
        }
    }
#undef CHECK_G

    if ((g->nginx_prefix[0] ? snprintf(c->prefix, sizeof c->prefix, "%s", g->nginx_prefix)
                            : snprintf(c->prefix, sizeof c->prefix, "%s/%s", g->run_dir,
                                       PROXY_PREFIX_DIR)) >= (int)sizeof c->prefix ||
        format_listen(c->listen, sizeof c->listen, g->proxy_host, g->proxy_port) < 0 ||
        format_listen(c->listen_tls, sizeof c->listen_tls, g->proxy_host, g->tls_port) < 0) {
        util_seterr(err, errlen, "[tenantd] run_dir or [proxy] listen is too long");
        return -EINVAL;
    }
    snprintf(c->acme_webroot, sizeof c->acme_webroot, "%s/%s", c->prefix, PROXY_ACME_DIR);
    snprintf(c->tls_port, sizeof c->tls_port, "%d", g->tls_port);
    if (g->tls_port == 443)
        c->tls_port_suffix[0] = '\0';
    else
        snprintf(c->tls_port_suffix, sizeof c->tls_port_suffix, ":%d", g->tls_port);

    c->values[K_PREFIX] = c->prefix;
    c->values[K_LOG_DIR] = g->log_dir;
    c->values[K_TENANTS_CONF] = PROXY_TENANTS_FILE;
    c->values[K_LISTEN] = c->listen;
    c->values[K_LISTEN_TLS] = c->listen_tls;
    c->values[K_DOMAIN] = g->domain;
    /* Without TLS these are empty, and only the TLS templates use them. */
    c->values[K_TLS_CERT] = g->tls_cert;
    c->values[K_TLS_KEY] = g->tls_key;
    c->values[K_TLS_PORT] = c->tls_port;
    c->values[K_TLS_PORT_SUFFIX] = c->tls_port_suffix;
    c->values[K_ACME_WEBROOT] = c->acme_webroot;
    c->values[K_PROXY_SOURCE] = PROXY_SOURCE_ADDR;
    return 0;
}

/*
 * nginx's server-name hash, sized from the tenants: a max_size below the
 * number of names makes nginx refuse to start ("could not build
 * server_names_hash"), and a bucket must hold the longest name. Twice the
 * names leaves nginx room to find a size without collisions; 8192 and 128
 * are the floor (what the template said before). Pure.
 */
static void names_hash(const struct config_global *g, const struct config_tenant *const *tenants,
                       size_t n, struct render_ctx *c)
{
    size_t names = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (tenants[i]->status == TENANT_CANCELLED)
            continue;
        names++;
        size_t len = strlen(tenants[i]->subdomain) + 1 + strlen(g->domain);
        if (len > longest)
            longest = len;
    }
    size_t max = 8192, bucket = 128;
    while (max < 2 * names)
        max *= 2;
    while (bucket < longest + 16)
        bucket *= 2;
    snprintf(c->hash_max, sizeof c->hash_max, "%zu", max);
    snprintf(c->hash_bucket, sizeof c->hash_bucket, "%zu", bucket);
    c->values[K_HASH_MAX] = c->hash_max;
    c->values[K_HASH_BUCKET] = c->hash_bucket;
    /* Each nginx worker holds every tenant's access log open, besides a
     * client and an upstream connection for each of its 4096 connections:
     * 8192 alone stops nginx's workers near 8,000 tenants. */
    snprintf(c->rlimit_nofile, sizeof c->rlimit_nofile, "%zu", (size_t)8192 + 1024 + names);
    c->values[K_RLIMIT_NOFILE] = c->rlimit_nofile;
}

/* Check one tenant's values and fill the per-tenant part of the context. */
static int tenant_ctx(const struct config_global *g, const struct config_tenant *t,
                      struct render_ctx *c, char *err, size_t errlen)
{
    char why[64], sb[96], idb[96];
    const char *bad;

    if ((bad = bad_id(t->id, why, sizeof why)) != NULL) {
        util_seterr(err, errlen, "tenant \"%s\": id refused for the proxy config: %s",
                    shown(t->id, idb, sizeof idb), bad);
        return -EINVAL;
    }
    if ((bad = bad_host(t->subdomain, why, sizeof why)) != NULL) {
        util_seterr(err, errlen, "tenant %s: subdomain \"%s\" refused for the proxy config: %s",
                    t->id, shown(t->subdomain, sb, sizeof sb), bad);
        return -EINVAL;
    }
    if (t->port < 1 || t->port > 65535) {
        util_seterr(err, errlen, "tenant %s: port %d refused for the proxy config: not in 1..65535",
                    t->id, t->port);
        return -EINVAL;
    }
    snprintf(c->id, sizeof c->id, "%s", t->id);
    snprintf(c->subdomain, sizeof c->subdomain, "%s", t->subdomain);
    snprintf(c->host, sizeof c->host, "%s.%s", t->subdomain, g->domain);
    if (strlen(c->host) > 253) {
        util_seterr(err, errlen, "tenant %s: host name %s.<domain> is longer than 253 characters",
                    t->id, t->subdomain);
        return -EINVAL;
    }
    snprintf(c->port, sizeof c->port, "%d", t->port);
    /* nginx takes a plain byte count; 0 would mean "no limit", which a
     * tenant's file cannot ask for (the key's range starts at 1K). */
    if (t->max_body_bytes < 1) {
        util_seterr(err, errlen, "tenant %s: max_body %lld refused for the proxy config: not >= 1",
                    t->id, (long long)t->max_body_bytes);
        return -EINVAL;
    }
    snprintf(c->max_body, sizeof c->max_body, "%lld", (long long)t->max_body_bytes);
    snprintf(c->suspended_page, sizeof c->suspended_page, "%s/%s/%s.html", c->prefix,
             PROXY_SUSPENDED_DIR, t->id);
    c->values[K_ID] = c->id;
    c->values[K_SUBDOMAIN] = c->subdomain;
    c->values[K_HOST] = c->host;
    c->values[K_PORT] = c->port;
    c->values[K_SUSPENDED_PAGE] = c->suspended_page;
    c->values[K_MAX_BODY] = c->max_body;
    /* The plan's hsts: a fixed directive, only in the TLS templates. */
    c->values[K_HSTS] =
        t->hsts ? "add_header Strict-Transport-Security \"max-age=31536000\" always;" : "";
    return 0;
}

int proxy_render_prefix(const struct config_global *g, char *buf, size_t n)
{
    char blocked[CONFIG_PATH_MAX];
    int r;
    if (geteuid() != 0 || reach_others_can_walk_to(g->run_dir, blocked, sizeof blocked)) {
        r = snprintf(buf, n, "%s/%s", g->run_dir, PROXY_PREFIX_DIR);
    } else {
        uint64_t h = 1469598103934665603ull; /* FNV-1a: a stable name per run dir */
        for (const char *c = g->run_dir; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        r = snprintf(buf, n, "/run/tenantd/nginx-%016llx", (unsigned long long)h);
    }
    return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static int missing_template(enum proxy_tpl which, char *err, size_t errlen)
{
    util_seterr(err, errlen, "template %s is missing", proxy_template_file[which]);
    return -EINVAL;
}

int proxy_render(const struct config_global *g, const struct config_tenant *const *tenants,
                 size_t n, const struct proxy_templates *tpl, struct proxy_rendered *out, char *err,
                 size_t errlen)
{
    return proxy_render_certs(g, tenants, NULL, n, tpl, out, err, errlen);
}

int proxy_render_certs(const struct config_global *g, const struct config_tenant *const *tenants,
                       const char *const *certs, size_t n, const struct proxy_templates *tpl,
                       struct proxy_rendered *out, char *err, size_t errlen)
{
    static const char header[] =
        "# Generated by tenantd from the proxy templates; edits are overwritten.\n";
    bool tls = g->tls_cert[0] != '\0';
    bool any_tls = tls;
    bool external = g->proxy_mode == PROXY_EXTERNAL;
    struct render_ctx *c;
    char *buf = NULL, *mbuf = NULL;
    size_t len = 0, cap = 0, mlen = 0, mcap = 0;
    enum proxy_tpl which;
    int r;

    out->main_conf = NULL;
    out->tenants_conf = NULL;
    if (err && errlen)
        err[0] = '\0';
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    /* An operator's certificate wins for every tenant; without one, a
     * tenant with its own (ACME) certificate gets the TLS templates. */
    for (size_t i = 0; certs != NULL && !tls && i < n; i++) {
        if (certs[i] == NULL)
            continue;
        if (proxy_check_path(certs[i]) < 0) {
            util_seterr(err, errlen, "tenant %s: certificate path refused for the proxy config",
                        tenants[i]->id);
            r = -EINVAL;
            goto fail;
        }
        any_tls = true;
    }
    r = global_ctx(g, any_tls, c, err, errlen);
    if (r < 0)
        goto fail;
    names_hash(g, tenants, n, c);

    /* Every tenant is checked before anything is rendered: one refusal names
     * the tenant and the field, and nothing half-made comes out. */
    for (size_t i = 0; i < n; i++) {
        r = tenant_ctx(g, tenants[i], c, err, errlen);
        if (r < 0)
            goto fail;
    }

    if (!external) {
        if (tpl->text[PROXY_TPL_MAIN] == NULL) {
            r = missing_template(PROXY_TPL_MAIN, err, errlen);
            goto fail;
        }
        r = proxy_expand(proxy_template_file[PROXY_TPL_MAIN], tpl->text[PROXY_TPL_MAIN], key_names,
                         c->values, K_GLOBAL_COUNT, &mbuf, &mlen, &mcap, err, errlen);
        if (r < 0)
            goto fail;
    }

    r = buf_append(&buf, &len, &cap, header, sizeof header - 1);
    if (r < 0)
        goto fail;
    /* The maps every server uses come first, in every mode: in external mode
     * this file is included in the operator's http{} block, which has them
     * nowhere else. */
    if (tpl->text[PROXY_TPL_HTTP] == NULL) {
        r = missing_template(PROXY_TPL_HTTP, err, errlen);
        goto fail;
    }
    r = proxy_expand(proxy_template_file[PROXY_TPL_HTTP], tpl->text[PROXY_TPL_HTTP], key_names,
                     c->values, K_GLOBAL_COUNT, &buf, &len, &cap, err, errlen);
    if (r < 0)
        goto fail;
    if (!external) {
        which = any_tls ? PROXY_TPL_DEFAULT_TLS : PROXY_TPL_DEFAULT;
        if (tpl->text[which] == NULL) {
            r = missing_template(which, err, errlen);
            goto fail;
        }
        r = proxy_expand(proxy_template_file[which], tpl->text[which], key_names, c->values,
                         K_GLOBAL_COUNT, &buf, &len, &cap, err, errlen);
        if (r < 0)
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const struct config_tenant *t = tenants[i];
        const char *own = (!tls && certs != NULL) ? certs[i] : NULL;
        bool ttls = tls || own != NULL;
        if (t->status == TENANT_ACTIVE)
            which = ttls ? PROXY_TPL_TENANT_TLS : PROXY_TPL_TENANT;
        else if (t->status == TENANT_SUSPENDED)
            which = ttls ? PROXY_TPL_SUSPENDED_TLS : PROXY_TPL_SUSPENDED;
        else
            continue; /* cancelled: no server, the host is unknown */
        if (tpl->text[which] == NULL) {
            r = missing_template(which, err, errlen);
            goto fail;
        }
        r = tenant_ctx(g, t, c, err, errlen);
        if (r < 0)
            goto fail;
        if (len > 0 && (r = buf_append(&buf, &len, &cap, "\n", 1)) < 0)
            goto fail;
        /* The certificate file holds the chain and the key (acme.c). */
        c->values[K_TLS_CERT] = own ? own : g->tls_cert;
        c->values[K_TLS_KEY] = own ? own : g->tls_key;
        r = proxy_expand(proxy_template_file[which], tpl->text[which], key_names, c->values,
                         K__COUNT, &buf, &len, &cap, err, errlen);
        if (r < 0)
            goto fail;
    }
    free(c);
    out->main_conf = mbuf;
    out->tenants_conf = buf;
    return 0;
fail:
    if (r == -ENOMEM)
        util_seterr(err, errlen, "out of memory while rendering the proxy config");
    free(c);
    free(buf);
    free(mbuf);
    return r;
}

/* ---- the suspended page ---------------------------------------------------- */

static char *html_escape(const char *s)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = s; *p; p++)
        n += (*p == '&' || *p == '\'') ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '"') ? 6 : 1;
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    o = out;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            memcpy(o, "&amp;", 5), o += 5;
            break;
        case '<':
            memcpy(o, "&lt;", 4), o += 4;
            break;
        case '>':
            memcpy(o, "&gt;", 4), o += 4;
            break;
        case '"':
            memcpy(o, "&quot;", 6), o += 6;
            break;
        case '\'':
            memcpy(o, "&#39;", 5), o += 5;
            break;
        default:
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* The color lands inside CSS, where HTML escaping is not enough: #rrggbb only. */
static bool valid_color(const char *s)
{
    if (s[0] != '#' || strlen(s) != 7)
        return false;
    for (int i = 1; i < 7; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

int proxy_render_page(const char *tpl, const struct config_tenant *t, char **out, char *err,
                      size_t errlen)
{
    static const char *const keys[] = {"name", "id", "color", "language"};
    const char *raw[] = {t->name, t->id, valid_color(t->color) ? t->color : "#2c3e50",
                         proxy_check_id(t->language) == 0 ? t->language : "fr"};
    char *vals[4] = {NULL, NULL, NULL, NULL};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int r = 0;

    *out = NULL;
    for (size_t i = 0; i < 4; i++) {
        vals[i] = html_escape(raw[i]);
        if (vals[i] == NULL) {
            r = -ENOMEM;
            goto done;
        }
    }
    r = proxy_expand(PROXY_PAGE_TEMPLATE, tpl, keys, (const char *const *)vals, 4, &buf, &len, &cap,
                     err, errlen);
    if (r == 0) {
        *out = buf;
        buf = NULL;
    }
done:
    for (size_t i = 0; i < 4; i++)
        free(vals[i]);
    free(buf);
    return r;
}
