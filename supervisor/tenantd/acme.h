/*
 * acme.h — a certificate per tenant from an ACME server ([acme] in
 * tenantd.ini, docs/proxy.md "ACME"). tenantd drives lego (Debian's `lego`)
 * as a short-lived child through child.h: one issuance at a time, queued,
 * never blocking the loop. http-01 tokens go to the managed nginx's webroot
 * (<nginx prefix>/acme, proxy_render.h); dns-01 runs the operator's hook
 * through lego's "exec" provider.
 *
 * Files, all under <run_dir>/acme (0700, root): lego/ (lego's --path: the
 * account key and its own copies), live/<id>.<not_after>.pem (0600: the
 * chain then the key, the one file nginx's ssl_certificate and
 * ssl_certificate_key name; a new name per issuance, written with rename(2),
 * so the rendered config changes, passes nginx -t and is swapped like any
 * other change; the previous file is kept until the next issuance). The run
 * dir is not visible from a tenant's jail.
 *
 * The proxy asks acme_cert_for() while it renders: that call also tells this
 * module which tenants exist, so a tenant new to it gets an issuance queued
 * (onboarding, start) and a tenant gone (offboarding) stops being renewed.
 * Once a certificate is issued, the proxy re-renders (proxy_request_apply),
 * tests with nginx -t and reloads: the swap is the proxy's usual one.
 */
#ifndef TENANTD_ACME_H
#define TENANTD_ACME_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

struct sup;
struct proxy;

/* Called once per issuance (success or failure), for the audit log. */
typedef void (*acme_audit_fn)(void *arg, const char *tenant, const char *result);

/* Start when [acme] enabled; a no-op returning 0 otherwise. One per tenantd. */
int acme_start(uv_loop_t *loop, struct sup *s, struct proxy *p, acme_audit_fn audit,
               void *audit_arg, char *err, size_t errlen);
/* Kill a running client, close the timer; safe when not started. */
void acme_stop(void);
bool acme_enabled(void);
/* An issuance runs now (tenantd's upgrade waits: the client is not handed over). */
bool acme_busy(void);

/*
 * The proxy's question while rendering tenant `id` (subdomain `sub`,
 * served = active or suspended): the path of its valid certificate, or NULL.
 * `generation` is the same for every call of one rendering; a tenant not
 * asked about in a rendering is forgotten at the next one (no more renewals).
 */
const char *acme_cert_for(const char *id, const char *sub, bool served, unsigned generation);
/* After a rendering: forget tenants that were not asked about. */
void acme_render_done(unsigned generation);

/* {"state": none|pending|valid|error, "not_after", "expires_in_s", "last_error",
 * "next_attempt_in_s", "issued"}, or NULL when ACME is off. New reference. */
json_t *acme_cert_json(const char *id);
/* Seconds until the tenant's certificate expires; false when it has none. */
bool acme_cert_expiry(const char *id, int64_t *seconds);

/* tenantctl cert --renew: queue an issuance now. -ENOENT unknown tenant,
 * -ENOTSUP ACME off. */
int acme_renew_now(const char *id);

#endif
