/*
 * http_routes.c — the worker's routes (see http.h): the table (method,
 * pattern, flags, roles, handler), matching a path, the caller's role against
 * the route's (docs/worker-api.md "Roles"), the bearer and tenantd
 * credentials, the JSON body, and the handlers, which call a model operation
 * (model.h), an auth step (auth.h) or a page (pages.h).
 *
 * Request life: http_on_req() finds the route, authenticates, parses the body
 * and calls the route's function, which answers at once (http_send_*) or, for
 * the two routes that hash a password, queues the hash on libuv's thread pool
 * and answers from the after-work callback, on the loop thread. Each request's
 * `struct call` is allocated in the request's pool with a dispose callback
 * (http_call_dispose, http.c), so h2o itself tells us when a request is over:
 * that both releases the JSON body and counts in-flight requests for a
 * graceful stop.
 *
 * On a database server (store_offload(): PostgreSQL) the rest of a request
 * after routing (authentication, body, the route's function) runs on libuv's
 * thread pool instead (offload_work), and its captured answer is sent from
 * the after-work callback (offload_done); the password hash then runs on the
 * same pool thread, one at a time (hash_lock), so a plan's memory limit
 * still sees at most one argon2 buffer. Pages and static files never touch
 * the database and stay on the loop.
 *
 * What this file does not do: sockets or the server's life (http.c), headers
 * or serialising (http_send.c), business rules, SQL, HTML.
 */
#include "http.h"
#include "http_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <h2o.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "auth.h"
#include "db.h"
#include "gdpr.h"
#include "http_status.h"
#include "ical.h"
#include "invoice_page.h"
#include "model.h"
#include "pages.h"
#include "proxy_render.h"
#include "reminders.h"
#include "second_factor.h"
#include "usage_token.h"

#define PATH_MAX_LEN 1024
#define ARG_MAX_LEN 64
/* Password hashes waiting for the (one-thread) pool; beyond, 503. */
#define HASH_QUEUE_MAX 64
/* Retry-After while writes are paused (WORKER_READ_ONLY): a copy takes seconds. */
#define READ_ONLY_RETRY_AFTER_S 5

enum {
    R_AUTH = 1 << 0,    /* a valid bearer token is required, of a role in `roles` */
    R_BODY = 1 << 2,    /* the body is a JSON object */
    R_QUERY = 1 << 3,   /* arg is the query string */
    R_PREFIX = 1 << 4,  /* pattern is a prefix, arg is the rest */
    R_TENANTD = 1 << 5, /* only tenantd: Authorization: Tenantd <usage token> */
};

typedef struct wres (*model_fn)(const struct wctx *, json_t *, const char *);

/*
 * Who may call an authenticated route: a set of roles (docs/worker-api.md
 * "Roles"). Admins run the firm's account and may do everything; lawyers do
 * the legal work (analyses, deadlines, invoices) but do not manage users;
 * assistants keep the deadline calendar and read and print invoices, but
 * neither see case assessments (the lawyers' work product, with the client's
 * story in it) nor issue or change invoices (numbered by law, no gaps).
 */
#define ADMIN (1u << ROLE_ADMIN)
#define LAWYER (1u << ROLE_LAWYER)
#define ASSISTANT (1u << ROLE_ASSISTANT)
#define ANYONE (ADMIN | LAWYER | ASSISTANT)

struct route {
    const char *method;
    const char *pattern; /* '*' matches one path segment, given as arg */
    unsigned flags;
    unsigned roles; /* with R_AUTH: the roles allowed */
    void (*fn)(struct call *c);
    model_fn model;
};

/* ---- routes ----------------------------------------------------------------- */

static void peer_address(h2o_req_t *req, char *out, size_t n);

static struct wctx make_ctx(struct call *c)
{
    struct wctx ctx = {.db = http_srv.db, .env = http_srv.env, .now = time(NULL), .user = NULL};
    if (c->user.id > 0)
        ctx.user = &c->user;
    /* The access log's address (gdpr.h); already read on the loop thread
     * for a request that runs on the pool. */
    if (c->addr[0] == '\0' && http_tls_reply == NULL)
        peer_address(c->req, c->addr, sizeof c->addr);
    ctx.address = c->addr[0] != '\0' ? c->addr : NULL;
    return ctx;
}

struct wctx http_make_ctx(struct call *c)
{
    return make_ctx(c);
}

static void route_health(struct call *c)
{
    struct wres w;

    if (db_ping(http_srv.db) == 0) {
        http_send_bytes(c->req, 200, "application/json", "{\"status\":\"ok\"}", 15, K_API);
        return;
    }
    /* The engine is named, the server's address and error are not: the
     * answer may reach the public through the proxy. */
    w = wres_error(503, "unavailable", "the database (%s) cannot be reached",
                   store_name(http_srv.db));
    if (w.body != NULL) {
        json_object_set_new(w.body, "database", json_string("unreachable"));
        json_object_set_new(w.body, "retry_after", json_integer(STORE_RETRY_AFTER_S));
    }
    http_send_wres(c->req, w);
}

static void route_page(struct call *c)
{
    struct pages_blob b;
    char name[PATH_MAX_LEN];

    snprintf(name, sizeof name, "%.*s", (int)c->req->path_normalized.len,
             c->req->path_normalized.base);
    if (pages_get(name, &b) < 0) {
        http_send_error(c->req, 404, "not_found", "no such page");
        return;
    }
    http_send_bytes(c->req, 200, b.content_type, b.data, b.len,
                    strcmp(name, "/") ? K_ASSET : K_PAGE);
}

static void free_blob(void *p)
{
    free(*(void **)p);
}

static void route_static(struct call *c)
{
    struct pages_blob b;

    if (pages_static(c->arg, &b) < 0) {
        http_send_error(c->req, 404, "not_found", "no such file");
        return;
    }
    /* The buffer is freed with the request's pool, after it was sent. */
    void **holder = h2o_mem_alloc_shared(&c->req->pool, sizeof *holder, free_blob);
    *holder = (void *)b.data;
    http_send_bytes(c->req, 200, b.content_type, b.data, b.len, K_ASSET);
}

static void route_model(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    http_send_wres(c->req, c->route->model(&ctx, c->body, c->arg));
}

static void route_invoice_print(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    struct wres w = model_invoice_get(&ctx, NULL, c->arg);
    size_t len;
    char *html;

    if (w.status != 200) {
        http_send_wres(c->req, w);
        return;
    }
    html = pages_invoice(w.body, &len);
    json_decref(w.body);
    if (html == NULL) {
        http_send_error(c->req, 500, "internal", "out of memory");
        return;
    }
    if (http_tls_reply != NULL) { /* captured as a copy: the pool is the loop's */
        http_send_bytes(c->req, 200, "text/html; charset=utf-8", html, len, K_PRINT);
        free(html);
        return;
    }
    void **holder = h2o_mem_alloc_shared(&c->req->pool, sizeof *holder, free_blob);
    *holder = html;
    http_send_bytes(c->req, 200, "text/html; charset=utf-8", html, len, K_PRINT);
}

/* The invoice as a PDF download (invoice_pdf.c), named facture-<numero>.pdf. */
static void route_invoice_pdf(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    struct wres w = model_invoice_get(&ctx, NULL, c->arg);
    char name[96] = "attachment; filename=\"facture-";
    size_t len, n = strlen(name);

    if (w.status != 200) {
        http_send_wres(c->req, w);
        return;
    }
    for (const char *p = json_string_value(json_object_get(w.body, "numero")); p && *p; p++)
        if (n + 6 < sizeof name && (isalnum((unsigned char)*p) || *p == '-'))
            name[n++] = *p;
    memcpy(name + n, ".pdf\"", 6);
    char *pdf = invoice_pdf(w.body, ctx.env, &len);
    json_decref(w.body);
    if (pdf == NULL) {
        http_send_error(c->req, 500, "internal", "out of memory");
        return;
    }
    void **holder = h2o_mem_alloc_shared(&c->req->pool, sizeof *holder, free_blob);
    *holder = pdf;
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers, H2O_STRLIT("content-disposition"), 0,
                          NULL, h2o_strdup(&c->req->pool, name, SIZE_MAX).base, strlen(name));
    http_send_bytes(c->req, 200, "application/pdf", pdf, len, K_PRINT);
}

static void route_me(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    http_send_wres(c->req, auth_me(&ctx));
}

static void route_logout(struct call *c)
{
    if (auth_logout(c->sid) < 0)
        http_send_error(c->req, 500, "internal", "the session could not be revoked");
    else
        http_send_wres(c->req, wres_ok(204, NULL));
}

static void route_user_list(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    http_send_wres(c->req, auth_user_list(&ctx));
}

/* The client's address for throttling. Behind tenantd's nginx the peer is
 * PROXY_SOURCE_ADDR (nginx's proxy_bind), and only that peer's X-Real-IP is
 * trusted: any other loopback peer (another tenant, a local process) is
 * throttled under its own address, whatever header it sends. A tenant cannot
 * connect from the proxy's address: the jail lets it bind no address but its
 * own port (docs/isolation.md "Network"). */
static void peer_address(h2o_req_t *req, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    int proxy = 0;

    snprintf(out, n, "local");
    if (len > 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        uv_ip4_name(sin, out, n);
        struct in_addr src;
        proxy =
            inet_pton(AF_INET, PROXY_SOURCE_ADDR, &src) == 1 && sin->sin_addr.s_addr == src.s_addr;
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(sin6, out, n);
    }
    if (proxy) {
        ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-real-ip"), -1);
        if (i >= 0) {
            h2o_iovec_t v = req->headers.entries[i].value;
            size_t k = 0;
            for (; k < v.len && k + 1 < n; k++) {
                char ch = v.base[k];
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                      (ch >= 'A' && ch <= 'F') || ch == '.' || ch == ':'))
                    break;
                out[k] = ch;
            }
            if (k > 0 && k == v.len)
                out[k] = '\0';
        }
    }
}

/* Password work on the thread pool: one job type for both routes. */
struct hash_job {
    uv_work_t work;
    struct call *c;
    int is_login;
    struct auth_login login;
    struct auth_newuser nu;
};

/* One hash at a time whatever the pool's size: each takes the plan's
 * password memory (64 MiB at the default cost). */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;

static void hash_work(uv_work_t *w)
{
    struct hash_job *j = w->data;
    pthread_mutex_lock(&hash_lock);
    if (j->is_login)
        auth_login_verify(&j->login);
    else
        auth_user_hash(&j->nu);
    pthread_mutex_unlock(&hash_lock);
}

static void hash_finish(struct hash_job *j, int status)
{
    struct wctx ctx = make_ctx(j->c);
    struct wres res;

    if (status != 0) {
        sodium_memzero(&j->login, sizeof j->login);
        sodium_memzero(&j->nu, sizeof j->nu);
        res = wres_error(503, "unavailable", "the request was cancelled");
    } else if (j->is_login) {
        res = auth_login_finish(&j->login, &ctx);
    } else {
        res = auth_user_insert(&j->nu, &ctx);
    }
    http_send_wres(j->c->req, res);
}

static void hash_done(uv_work_t *w, int status)
{
    http_srv.hashes--;
    hash_finish(w->data, status);
}

static struct hash_job *hash_job_new(struct call *c, int is_login)
{
    struct hash_job *j;

    if (http_tls_reply != NULL) { /* on a pool thread: the loop's pool is not ours */
        j = calloc(1, sizeof *j);
        if (j == NULL) {
            http_send_error(c->req, 500, "internal", "out of memory");
            return NULL;
        }
        j->c = c;
        j->is_login = is_login;
        j->work.data = j;
        return j;
    }
    if (http_srv.hashes >= HASH_QUEUE_MAX) {
        http_send_wres(c->req,
                       wres_error(503, "busy", "too many logins at once, retry in a second"));
        return NULL;
    }
    j = h2o_mem_alloc_pool(&c->req->pool, sizeof *j);
    memset(j, 0, sizeof *j);
    j->c = c;
    j->is_login = is_login;
    j->work.data = j;
    return j;
}

static void hash_queue(struct hash_job *j)
{
    if (http_tls_reply != NULL) { /* already on a pool thread: hash here */
        hash_work(&j->work);
        hash_finish(j, 0);
        free(j);
        return;
    }
    int r = uv_queue_work(http_srv.loop, &j->work, hash_work, hash_done);
    if (r < 0) {
        http_send_error(j->c->req, 500, "internal", "cannot queue work: %s", uv_strerror(r));
        return;
    }
    http_srv.hashes++;
}

static void route_login(struct call *c)
{
    struct hash_job *j = hash_job_new(c, 1);
    struct wctx ctx = make_ctx(c);
    struct wres res;
    char addr[64];

    if (j == NULL)
        return;
    if (c->addr[0] != '\0')
        snprintf(addr, sizeof addr, "%s", c->addr);
    else
        peer_address(c->req, addr, sizeof addr);
    if (auth_login_begin(&j->login, &ctx, c->body, addr, &res) < 0) {
        http_send_wres(c->req, res);
        if (http_tls_reply != NULL)
            free(j);
        return;
    }
    hash_queue(j);
}

static void route_user_create(struct call *c)
{
    struct hash_job *j = hash_job_new(c, 0);
    struct wctx ctx = make_ctx(c);
    struct wres res;

    if (j == NULL)
        return;
    if (auth_user_prepare(&j->nu, &ctx, c->body, &res) < 0) {
        http_send_wres(c->req, res);
        if (http_tls_reply != NULL)
            free(j);
        return;
    }
    hash_queue(j);
}

static const struct route routes[] = {
    {"GET", "/healthz", 0, 0, route_health, NULL},
    {"GET", "/", 0, 0, route_page, NULL},
    {"GET", "/app.css", 0, 0, route_page, NULL},
    {"GET", "/app.js", 0, 0, route_page, NULL},
    {"GET", "/brand.css", 0, 0, route_page, NULL},
    {"GET", "/static/", R_PREFIX, 0, route_static, NULL},

    {"POST", "/api/auth/login", R_BODY, 0, route_login, NULL},
    {"POST", "/api/auth/logout", R_AUTH, ANYONE, route_logout, NULL},
    {"GET", "/api/me", R_AUTH, ANYONE, route_me, NULL},
    {"GET", "/api/users", R_AUTH, ADMIN, route_user_list, NULL},
    {"POST", "/api/users", R_AUTH | R_BODY, ADMIN, route_user_create, NULL},

    {"GET", "/api/me/totp", R_AUTH, ANYONE, route_model, sf_status},
    {"POST", "/api/me/totp", R_AUTH, ANYONE, route_model, sf_enrol},
    {"DELETE", "/api/me/totp", R_AUTH | R_BODY, ANYONE, route_model, sf_disable},
    {"POST", "/api/me/totp/confirm", R_AUTH | R_BODY, ANYONE, route_model, sf_confirm},
    {"POST", "/api/me/ical", R_AUTH, ANYONE, http_route_ical_create, NULL},
    {"DELETE", "/api/me/ical", R_AUTH, ANYONE, route_model, ical_feed_delete},
    {"GET", "/ical/", R_PREFIX, 0, http_route_ical, NULL},
    {"GET", "/api/me/reminders", R_AUTH, ANYONE, route_model, reminder_me_get},
    {"PUT", "/api/me/reminders", R_AUTH | R_BODY, ANYONE, route_model, reminder_me_put},
    {"GET", "/api/firm/settings", R_AUTH, ADMIN, route_model, reminder_settings_get},
    {"PUT", "/api/firm/settings", R_AUTH | R_BODY, ADMIN, route_model, reminder_settings_put},
    {"GET", "/api/firm/retention", R_AUTH, ADMIN, route_model, gdpr_retention_get},
    {"PUT", "/api/firm/retention", R_AUTH | R_BODY, ADMIN, route_model, gdpr_retention_put},
    {"POST", "/api/firm/retention/purge", R_AUTH, ADMIN, route_model, gdpr_retention_purge},
    {"GET", "/api/audit", R_AUTH | R_QUERY, ADMIN, route_model, gdpr_audit_list},
    {"GET", "/api/cases/*/export", R_AUTH, ADMIN | LAWYER, http_route_case_export, NULL},
    {"DELETE", "/api/cases/*", R_AUTH | R_BODY, ADMIN, route_model, gdpr_case_erase},
    {"POST", "/api/analyses", R_AUTH | R_BODY, ADMIN | LAWYER, route_model, gdpr_case_create},
    {"GET", "/api/analyses", R_AUTH | R_QUERY, ADMIN | LAWYER, route_model, model_analysis_list},
    {"GET", "/api/analyses/*", R_AUTH, ADMIN | LAWYER, route_model, gdpr_case_open},
    {"POST", "/api/invoices", R_AUTH | R_BODY, ADMIN | LAWYER, route_model, model_invoice_create},
    {"GET", "/api/invoices", R_AUTH | R_QUERY, ANYONE, route_model, model_invoice_list},
    {"GET", "/api/invoices/*", R_AUTH, ANYONE, route_model, model_invoice_get},
    {"PATCH", "/api/invoices/*", R_AUTH | R_BODY, ADMIN | LAWYER, route_model,
     model_invoice_update},
    {"GET", "/api/invoices/*/print", R_AUTH, ANYONE, route_invoice_print, NULL},
    {"GET", "/api/invoices/*/pdf", R_AUTH, ANYONE, route_invoice_pdf, NULL},
    {"GET", "/api/deadlines/types", R_AUTH | R_QUERY, ANYONE, route_model, model_deadline_types},
    {"POST", "/api/deadlines", R_AUTH | R_BODY, ANYONE, route_model, model_deadline_create},
    {"GET", "/api/deadlines", R_AUTH | R_QUERY, ANYONE, route_model, model_deadline_list},
    {"GET", "/api/deadlines/*", R_AUTH, ANYONE, route_model, model_deadline_get},
    {"PATCH", "/api/deadlines/*", R_AUTH | R_BODY, ANYONE, route_model, model_deadline_update},
    {"GET", "/api/billing/usage", R_AUTH, ANYONE, route_model, model_billing_usage},
    {"GET", "/api/stats", R_AUTH, ADMIN, route_model, model_stats},

    /* For tenantd's status page, not for users: a session token is refused. */
    {"GET", "/internal/usage", R_TENANTD, 0, route_model, model_billing_usage},
    {"GET", "/internal/reminders", R_TENANTD | R_QUERY, 0, route_model, reminders_due},
    {"POST", "/internal/reminders/*/sent", R_TENANTD, 0, route_model, reminders_mark_sent},
};

static int valid_arg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Match path against pattern; a '*' takes one segment of [A-Za-z0-9_-] into arg. */
static int match(const struct route *rt, const char *path, char *arg)
{
    const char *p = rt->pattern;

    if (rt->flags & R_PREFIX) {
        size_t n = strlen(p);
        if (strncmp(path, p, n) != 0 || path[n] == '\0' || strlen(path + n) >= PATH_MAX_LEN)
            return 0;
        strcpy(arg, path + n);
        return 1;
    }
    while (*p) {
        if (*p == '*') {
            size_t n = 0;
            while (path[n] && path[n] != '/' && valid_arg_char(path[n]))
                n++;
            if (n == 0 || n > ARG_MAX_LEN || (path[n] != '/' && path[n] != '\0'))
                return 0;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += n;
            p++;
        } else if (*p++ != *path++) {
            return 0;
        }
    }
    return *path == '\0';
}

/* Find the route; -ENOENT when no path matches, -EPERM when only the method
 * differs (allow then lists the methods that would). */
static int route_find(const char *method, const char *path, char *arg, const struct route **out,
                      char *allow, size_t allowlen)
{
    int path_seen = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!match(&routes[i], path, arg))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            *out = &routes[i];
            return 0;
        }
        path_seen = 1;
        http_allow_add(allow, allowlen, routes[i].method);
    }
    return path_seen ? -EPERM : -ENOENT;
}

static const char *roles_text(unsigned roles)
{
    switch (roles) {
    case ADMIN:
        return "admin";
    case ADMIN | LAWYER:
        return "admin, lawyer";
    default:
        return "admin, lawyer, assistant";
    }
}

static int authenticate(struct call *c)
{
    h2o_req_t *req = c->req;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    int r;

    if (i < 0) {
        http_send_error(req, 401, "unauthorized", "an Authorization: Bearer token is required");
        return -1;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        http_send_error(req, 401, "unauthorized",
                        "the Authorization header must be Bearer <token>");
        return -1;
    }
    r = auth_verify(v.base + 7, v.len - 7, time(NULL), &c->user, c->sid);
    if (r == -EACCES) {
        http_send_error(req, 401, "unauthorized", "the token is invalid, expired or revoked");
        return -1;
    }
    if (r < 0) {
        http_send_error(req, 500, "internal", "the session could not be checked");
        return -1;
    }
    if ((c->route->roles & (1u << c->user.role)) == 0) {
        http_send_error(req, 403, "forbidden", "the %s role may not %s %s; allowed: %s",
                        auth_role_name(c->user.role), c->route->method, c->route->pattern,
                        roles_text(c->route->roles));
        return -1;
    }
    /* A firm that requires a second factor: a user without one may only
     * set it up (second_factor.h). */
    struct wctx ctx = make_ctx(c);
    if (sf_gate(&ctx, c->route->pattern)) {
        http_send_error(req, 403, "totp_enrolment_required",
                        "the firm requires a second factor: set it up first (POST /api/me/totp)");
        return -1;
    }
    return 0;
}

/* Authorization: Tenantd <token>, the token from usage_token(): only tenantd
 * (which reads the tenant's secret) can compute it. Constant time. */
static int authenticate_tenantd(struct call *c)
{
    h2o_req_t *req = c->req;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);

    if (i >= 0 && http_srv.usage_token[0] != '\0') {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len == 8 + USAGE_TOKEN_LEN && strncasecmp(v.base, "Tenantd ", 8) == 0 &&
            sodium_memcmp(v.base + 8, http_srv.usage_token, USAGE_TOKEN_LEN) == 0)
            return 0;
    }
    http_send_error(req, 401, "unauthorized", "this route is for tenantd only");
    return -1;
}

static int parse_body(struct call *c)
{
    h2o_req_t *req = c->req;
    json_error_t jerr;
    ssize_t i;

    if (req->entity.len > HTTP_BODY_MAX) {
        http_send_error(req, 413, "too_large", "the body is larger than %d bytes", HTTP_BODY_MAX);
        return -1;
    }
    i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len < 16 || strncasecmp(v.base, "application/json", 16) != 0 ||
            (v.len > 16 && v.base[16] != ';' && v.base[16] != ' ')) {
            http_send_error(req, 415, "unsupported_media_type",
                            "the body must be application/json");
            return -1;
        }
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        http_send_error(req, 400, "invalid_request", "a JSON object body is required");
        return -1;
    }
    c->body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (c->body == NULL) {
        http_send_error(req, 400, "bad_json", "line %d column %d: %s", jerr.line, jerr.column,
                        jerr.text);
        return -1;
    }
    if (!json_is_object(c->body)) {
        http_send_error(req, 400, "invalid_request", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

/* Over the plan's storage limit (tenantd's flag, storage.h): the data stays
 * readable, and every write but logging out is refused. 1 when answered. */
static int storage_full_refuses(struct call *c)
{
    const struct route *rt = c->route;

    if ((rt->flags & R_AUTH) && strcmp(rt->method, "GET") != 0 &&
        strcmp(rt->pattern, "/api/auth/logout") != 0 && http_srv.env != NULL &&
        http_srv.env->storage_full_file != NULL &&
        access(http_srv.env->storage_full_file, F_OK) == 0) {
        struct wctx ctx = make_ctx(c);
        http_send_wres(c->req,
                       model_storage_full(&ctx, "over the limit, the firm's data is read-only"));
        return 1;
    }
    return 0;
}

/* ---- requests on the thread pool ---------------------------------------------- */

struct offload {
    uv_work_t work;
    struct call *c;
    struct http_reply reply;
};

/* The request's checks and route, as http_on_req() runs them, on a pool thread. */
static void offload_work(uv_work_t *w)
{
    struct offload *o = w->data;
    struct call *c = o->c;
    unsigned flags = c->route->flags;

    http_tls_reply = &o->reply;
    if ((!(flags & R_AUTH) || authenticate(c) == 0) &&
        (!(flags & R_TENANTD) || authenticate_tenantd(c) == 0) && !storage_full_refuses(c) &&
        (!(flags & R_BODY) || parse_body(c) == 0))
        c->route->fn(c);
    /* A failure because the server is away is a 503 the client may retry,
     * whichever layer noticed it. */
    if (o->reply.status == 500 && store_unavailable(http_srv.db)) {
        struct wres u = wres_error(503, "unavailable", "the database cannot be reached; retry");
        if (u.body != NULL)
            json_object_set_new(u.body, "retry_after", json_integer(STORE_RETRY_AFTER_S));
        http_send_wres(c->req, u);
    }
    http_tls_reply = NULL;
}

static void offload_done(uv_work_t *w, int status)
{
    struct offload *o = w->data;
    struct http_reply *r = &o->reply;
    h2o_req_t *req = o->c->req;
    char *buf;

    if (status != 0 || r->status == 0) {
        free(r->data);
        http_send_error(req, 503, "unavailable", "the request was cancelled");
        return;
    }
    if (r->retry_after > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 24);
        int len = snprintf(v, 24, "%lld", r->retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)len);
    }
    if (r->www_authenticate)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer"));
    buf = h2o_mem_alloc_pool(&req->pool, r->len + 1);
    if (r->len > 0)
        memcpy(buf, r->data, r->len);
    free(r->data);
    http_send_bytes(req, r->status, r->ctype, buf, r->len, r->kind);
}

/* Queue the rest of http_on_req() for the pool. */
static void offload(struct call *c)
{
    struct offload *o = h2o_mem_alloc_pool(&c->req->pool, sizeof *o);
    int r;

    memset(o, 0, sizeof *o);
    o->c = c;
    o->work.data = o;
    peer_address(c->req, c->addr, sizeof c->addr);
    r = uv_queue_work(http_srv.loop, &o->work, offload_work, offload_done);
    if (r < 0)
        http_send_error(c->req, 503, "unavailable", "cannot queue the request: %s", uv_strerror(r));
}

int http_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct call *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, http_call_dispose);
    char path[PATH_MAX_LEN], method[8], allow[64];
    char *arg;
    const struct route *rt = NULL;
    int r;

    memset(c, 0, sizeof *c);
    c->req = req;
    http_srv.inflight++;

    if (req->path_normalized.len >= sizeof path) {
        http_send_error(req, 414, "uri_too_long", "the path is longer than %d bytes",
                        PATH_MAX_LEN - 1);
        return 0;
    }
    memcpy(path, req->path_normalized.base, req->path_normalized.len);
    path[req->path_normalized.len] = '\0';
    snprintf(method, sizeof method, "%.*s", (int)req->method.len, req->method.base);
    /* HEAD is GET without the body; http_send_bytes drops it. */
    if (strcmp(method, "HEAD") == 0)
        strcpy(method, "GET");

    arg = h2o_mem_alloc_pool(&req->pool, PATH_MAX_LEN);
    r = route_find(method, path, arg, &rt, allow, sizeof allow);
    if (r == -ENOENT) {
        http_send_error(req, 404, "not_found", "no route for this path");
        return 0;
    }
    if (r == -EPERM) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
        http_send_error(req, 405, "method_not_allowed", "allowed here: %s", allow);
        return 0;
    }
    /* While tenantd moves the firm's data (WORKER_READ_ONLY), anything but a
     * read is refused before it reaches the database: a login too, since it
     * records the attempt. */
    if (http_srv.env->read_only && strcmp(rt->method, "GET") != 0) {
        struct wres w = wres_error(503, "read_only",
                                   "the firm's data is being moved; writes are paused, retry");
        if (w.body != NULL)
            json_object_set_new(w.body, "retry_after", json_integer(READ_ONLY_RETRY_AFTER_S));
        http_send_wres(req, w);
        return 0;
    }
    c->route = rt;
    /* The supervisor's probes are not activity: they must not keep an
     * otherwise idle tenant's worker alive (scale to zero). */
    c->probe = rt->fn == route_health || (rt->flags & R_TENANTD) != 0;
    c->arg = strchr(rt->pattern, '*') || (rt->flags & R_PREFIX) ? arg : NULL;
    if ((rt->flags & R_QUERY) && req->query_at != SIZE_MAX) {
        h2o_iovec_t q = h2o_strdup(&req->pool, req->path.base + req->query_at + 1,
                                   req->path.len - req->query_at - 1);
        c->arg = q.base;
    }
    if (store_offload(http_srv.db) && rt->fn != route_page && rt->fn != route_static) {
        offload(c);
        return 0;
    }
    /* An authenticated GET is read-only and answered at once: its session
     * check and its queries share one read transaction. */
    int read_txn = (rt->flags & (R_AUTH | R_TENANTD)) && strcmp(rt->method, "GET") == 0 &&
                   db_read_begin(http_srv.db) == 0;
    if ((rt->flags & R_AUTH) && authenticate(c) < 0)
        goto out;
    if ((rt->flags & R_TENANTD) && authenticate_tenantd(c) < 0)
        goto out;
    if (storage_full_refuses(c))
        goto out;
    if ((rt->flags & R_BODY) && parse_body(c) < 0)
        goto out;
    rt->fn(c);
out:
    if (read_txn)
        db_read_end(http_srv.db);
    return 0;
}
