/*
 * proxy_render.h — the reverse proxy's configuration as text: the global
 * config, a list of tenants and the templates in, nginx configuration out
 * (DESIGN.md "Reverse proxy"). Used by tenantd (supervisor/tenantd/proxy.c, which
 * writes, tests and applies the result) and by `tenantctl proxy-config`
 * (which prints it).
 *
 * This module is pure: no file, process or clock. The callers read the
 * templates (the file names are in proxy_template_file[]) and write the output.
 *
 * Templates hold nginx text with {{name}} placeholders and no logic; choices
 * (TLS or not, active or suspended) pick a template file instead. An unknown
 * placeholder or an unterminated "{{" is an error, so a typo in a custom
 * template is reported instead of reaching nginx.
 *
 * Second line of defence: the config parser already checks every value
 * against an allowlist, but the renderer checks again before a value reaches
 * nginx's syntax, and refuses the whole rendering (-EINVAL, with a message
 * naming the tenant and the field) on anything outside
 *     ids             [a-z][a-z0-9-]*
 *     host names      [a-z0-9.-], no empty label
 *     ports           1..65535
 *     paths           absolute, [A-Za-z0-9._/-], no ".." component
 * Free text (a firm's name) never goes into the nginx config; it only reaches
 * the suspended page, HTML-escaped, through proxy_render_page().
 */
#ifndef TENANTD_PROXY_RENDER_H
#define TENANTD_PROXY_RENDER_H

/*
 * The address the proxy connects to the workers from ({{proxy_source}},
 * nginx's proxy_bind). A worker trusts X-Real-IP / X-Forwarded-For only from
 * this peer address (worker/http_routes.c): tenants cannot take it, since
 * the jail lets a worker bind nothing but its own port (docs/isolation.md
 * "Network"), and tenantd's own requests come from 127.0.0.1.
 */
#define PROXY_SOURCE_ADDR "127.0.0.2"

#include <stddef.h>

#include "config.h"

/* The template files, in the proxy templates folder ([proxy] templates). */
enum proxy_tpl {
    PROXY_TPL_MAIN = 0,      /* main.conf.in: managed mode's nginx.conf */
    PROXY_TPL_DEFAULT,       /* default.conf.in: 404 for unknown hosts */
    PROXY_TPL_DEFAULT_TLS,   /* default-tls.conf.in */
    PROXY_TPL_TENANT,        /* tenant.conf.in: one active tenant */
    PROXY_TPL_TENANT_TLS,    /* tenant-tls.conf.in */
    PROXY_TPL_SUSPENDED,     /* suspended.conf.in: one suspended tenant */
    PROXY_TPL_SUSPENDED_TLS, /* suspended-tls.conf.in */
    PROXY_TPL_HTTP,          /* http.conf.in: maps shared by every server, first in tenants.conf */
    PROXY_TPL__COUNT
};
extern const char *const proxy_template_file[PROXY_TPL__COUNT];

/* The suspended page's template, in [tenantd] templates (the folder above). */
#define PROXY_PAGE_TEMPLATE "suspended.html"

/* Template texts, NUL-terminated; borrowed by the renderer, never freed by it. */
struct proxy_templates {
    const char *text[PROXY_TPL__COUNT];
};

/*
 * What nginx will be given. In managed mode (and for previews when the mode is
 * off) main_conf is nginx's main file, which includes tenants_conf by the
 * relative name PROXY_TENANTS_FILE, so both must sit in the same folder. In
 * external mode main_conf is NULL: tenants_conf is meant to be included in the
 * http{} block of the system's nginx, and holds no default server (the
 * operator's nginx has its own).
 */
struct proxy_rendered {
    char *main_conf;
    char *tenants_conf;
};
#define PROXY_MAIN_FILE "main.conf"
#define PROXY_TENANTS_FILE "tenants.conf"
void proxy_rendered_free(struct proxy_rendered *r);

/* Folders under <run_dir>/nginx (nginx's prefix), named once for every user. */
#define PROXY_PREFIX_DIR "nginx"
#define PROXY_SUSPENDED_DIR "suspended"
/* The http-01 webroot under the prefix ({{acme_webroot}}): files appear in
 * <it>/.well-known/acme-challenge/ while an ACME client waits for validation. */
#define PROXY_ACME_DIR "acme"

/*
 * Render the configuration for tenants[0..n) (in the order given; tenantd
 * passes id order so the output is stable). Active tenants get a proxied
 * server, suspended ones the 503 page, cancelled ones nothing (unknown host).
 * TLS is on when g->tls_cert is set. On success fills *out (the caller frees
 * it with proxy_rendered_free) and returns 0. Returns -EINVAL with a one-line
 * message in err when a value or a template is refused, -ENOMEM when out of
 * memory; *out is then empty.
 */
/*
 * nginx's prefix: <run_dir>/nginx, unless tenantd runs as root and a folder
 * above the run dir stops nobody (nginx's workers, which read the suspended
 * pages and write temp files there), as a checkout in root's 0700 home does:
 * then /run/tenantd/nginx-<hash of run_dir>, which tenantd links from
 * <run_dir>/nginx. Stats the folders above the run dir (the one function of
 * this module that looks at the disk; proxy_render itself takes the prefix
 * from g->nginx_prefix, or <run_dir>/nginx when it is empty); returns 0 or
 * -ENAMETOOLONG.
 */
int proxy_render_prefix(const struct config_global *g, char *buf, size_t n);

int proxy_render(const struct config_global *g, const struct config_tenant *const *tenants,
                 size_t n, const struct proxy_templates *tpl, struct proxy_rendered *out, char *err,
                 size_t errlen);

/*
 * proxy_render with a certificate per tenant: certs[i] (NULL = none) is an
 * absolute path of a PEM file holding tenants[i]'s chain and key (ACME,
 * supervisor/tenantd/acme.c); such a tenant gets the TLS templates. The
 * operator's [proxy] tls_cert wins: when it is set, certs is ignored.
 * certs may be NULL.
 */
int proxy_render_certs(const struct config_global *g, const struct config_tenant *const *tenants,
                       const char *const *certs, size_t n, const struct proxy_templates *tpl,
                       struct proxy_rendered *out, char *err, size_t errlen);

/*
 * Render the suspended page of one tenant from the HTML template `tpl`
 * (placeholders: name, id, color, language; all HTML-escaped). On success
 * *out is a new string the caller frees. Returns 0, -EINVAL (bad template,
 * message in err) or -ENOMEM.
 */
int proxy_render_page(const char *tpl, const struct config_tenant *t, char **out, char *err,
                      size_t errlen);

/*
 * Expand {{name}} placeholders of `tpl` from the pairs keys[i] -> values[i]
 * (i < n), appending to *buf (length *len, capacity *cap, grown with
 * realloc; *buf may start NULL). Values are inserted as they are: the caller
 * has checked them. Returns 0, -EINVAL (unknown placeholder or unterminated
 * "{{", message in err, naming `what`) or -ENOMEM. Exposed for the tests.
 */
int proxy_expand(const char *what, const char *tpl, const char *const *keys,
                 const char *const *values, size_t n, char **buf, size_t *len, size_t *cap,
                 char *err, size_t errlen);

/* The allowlists above, for callers that check a value before rendering. */
int proxy_check_id(const char *s);
int proxy_check_host(const char *s);
int proxy_check_path(const char *s);

#endif
