/*
 * admin.h — tenantd's admin surface: an HTTP/1.1 JSON API served by h2o on the
 * daemon's libuv loop, on the unix socket <run_dir>/admin.sock (mode 0600: the
 * file mode is the authentication) and on the TCP listener [admin] listen
 * (bearer token from <run_dir>/admin.token, mode 0600, compared in constant time).
 *
 * Routes (DESIGN.md "Admin surface"): GET /v1/tenants[/<id>], POST
 * /v1/tenants/<id>/{start,stop,restart,suspend,resume}, POST /v1/reload,
 * GET /v1/plans, GET /v1/events, POST /v1/tenants (onboard), DELETE
 * /v1/tenants/<id> (offboard), POST /v1/tenants/<id>/admins (an admin
 * account), POST /v1/tenants/<id>/backup, GET /v1/proxy (the reverse proxy's
 * state), GET /metrics, GET / (dashboard page).
 * Reads and acts on tenants through sup.h only, on the proxy through proxy.h.
 */
#ifndef TENANTD_ADMIN_H
#define TENANTD_ADMIN_H

#include <jansson.h>
#include <uv.h>

struct sup;
struct admin;

/* Create the token file if missing, bind both listeners and start serving.
 * Returns 0, or -errno with a message in err (tenantd then exits: the admin
 * surface is required). */
int admin_start(uv_loop_t *loop, struct sup *s, struct admin **out, char *err, size_t errlen);

/* Stop accepting, close connections, release everything; `done` is called on
 * the loop once every handle is closed (it may be NULL). */
void admin_stop(struct admin *a, void (*done)(void *arg), void *arg);

/*
 * Let POST /v1/tenants/<id>/backup queue an on-demand backup with tenantd's
 * backup scheduler (backup_sched.h); tenantd_main calls it once both are
 * started. Until then the route answers 404 "no such route", on which
 * `tenantctl backup` copies the database itself. `bs` may be NULL (detach, e.g.
 * before backup_sched_stop).
 */
/* Upgrade (upgrade.h): state["admin"] = {"unix": fd, "tcp": fd}, both kept
 * across the exec; admin_start takes them back in the next image. */
int admin_upgrade_export(struct admin *a, json_t *state);
/* Why an upgrade cannot start now (why untouched when it can): an operation
 * with a child process or a pending answer (admin_upgrade.c). */
void admin_upgrade_busy(const struct admin *a, char *why, size_t n);

struct backup_sched;
void admin_set_backup_sched(struct admin *a, struct backup_sched *bs);

/*
 * Let the admin surface read tenantd's reverse proxy (proxy.h): GET /v1/proxy
 * and the proxy's families of GET /metrics report it, and POST /v1/reload
 * re-applies its configuration as SIGHUP does. tenantd_main calls it once
 * proxy_start succeeded, and with p = NULL before proxy_stop (the admin
 * surface never holds a stopped proxy). Without a proxy GET /v1/proxy answers
 * 503 and /metrics leaves the proxy's families out. `a` may be NULL.
 */
struct proxy;
void admin_set_proxy(struct admin *a, struct proxy *p);

/* acme.h's audit hook: one audit entry per issuance, by "acme". `arg` is the
 * struct admin (NULL: logged only). */
void admin_cert_audit(void *arg, const char *tenant, const char *result);

/*
 * An operator's persisted wish for a tenant, from <run_dir>/state.db (written
 * by the admin API's stop/suspend/start/resume, surviving restarts). The
 * supervisor calls admin_desired_state() for each tenant when it loads the
 * configuration at start-up, before starting anything, and leaves a tenant
 * that answers STOPPED stopped (desired_up = false) and one that answers
 * SUSPENDED suspended. It opens the database read-only by itself, so it works
 * before admin_start(); no database means every tenant is wanted up.
 *
 * As a safety net admin_start() also applies the recorded wishes through
 * sup_tenant_action() to any tenant whose view still says desired_up (or is
 * not suspended), so they hold even if the supervisor did not ask.
 */
enum admin_desired { ADMIN_DESIRED_UP = 0, ADMIN_DESIRED_STOPPED, ADMIN_DESIRED_SUSPENDED };
enum admin_desired admin_desired_state(const char *run_dir, const char *id);

#endif
