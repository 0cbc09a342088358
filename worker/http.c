/*
 * http.c — see http.h.
 *
 * Request life: on_req() finds the route, authenticates, parses the body and
 * calls the route's function, which answers at once (send_*) or, for the two
 * routes that hash a password, queues the hash on libuv's thread pool and
 * answers from the after-work callback, on the loop thread. Each request's
 * `struct call` is allocated in the request's pool with a dispose callback,
 * so h2o itself tells us when a request is over: that both releases the JSON
 * body and counts in-flight requests for a graceful stop.
 *
 * A database server (store_offload(): PostgreSQL) can make a query wait on
 * the network, so there every route that may touch the database runs on
 * libuv's thread pool (offload_work), each pool thread with its own
 * connection (store_pg.c): authentication, body parsing and the route's
 * function run there, and what they would send is captured in a struct
 * reply (tls_reply) that the after-work callback sends from the loop thread,
 * the only one that may touch h2o. Password hashing then happens on the
 * same pool thread, one hash at a time (hash_lock), so a plan's memory limit
 * still sees at most one argon2 buffer. With SQLite (one local file, one
 * connection) everything runs on the loop thread as before.
 *
 * Stopping (h2o 2.2.5): we set ctx.shutdown_requested ourselves rather than
 * calling h2o_context_request_shutdown(), which would arm HTTP/2's one-second
 * GOAWAY timer (HTTP/2 is not offered here at all). HTTP/1 then answers new
 * requests with "Connection: close". Idle keep-alive connections are not
 * closed by h2o, so once no request is in flight we stop the loop ourselves,
 * and dispose of the context only when no connection is left (disposing with
 * a live connection aborts); otherwise process exit closes them.
 */
#include "http.h"

#include <errno.h>
#include <h2o.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "auth.h"
#include "db.h"
#include "http_status.h"
#include "log.h"
#include "model.h"
#include "pages.h"
#include "sdnotify.h"
#include "usage_token.h"

/* Two caps, one answer. A body over HTTP_BODY_MAX but within this one is
 * read and refused by parse_body(); a larger one is refused by h2o on its
 * announced length (or as its chunks pass this size), before it is buffered,
 * and json_error_setup() turns h2o's plain-text 413 into the same JSON. Why
 * not one cap: h2o closes the connection on its 413 without draining the
 * body, so a client still sending a moderately large body may see a reset
 * instead of the answer; reading up to 1 MiB first lets such a client read
 * its 413, and beyond that the memory is worth more than the courtesy. */
#define H2O_BODY_HARD_MAX (1024 * 1024)
#define PATH_MAX_LEN 1024
#define ARG_MAX_LEN 64
/* Password hashes waiting for the (one-thread) pool; beyond, 503. */
#define HASH_QUEUE_MAX 64

enum {
    R_AUTH = 1 << 0,    /* a valid bearer token is required, of a role in `roles` */
    R_BODY = 1 << 2,    /* the body is a JSON object */
    R_QUERY = 1 << 3,   /* arg is the query string */
    R_PREFIX = 1 << 4,  /* pattern is a prefix, arg is the rest */
    R_TENANTD = 1 << 5, /* only tenantd: Authorization: Tenantd <usage token> */
};

struct call;
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

struct call {
    h2o_req_t *req;
    char addr[64]; /* the peer, read on the loop thread for an offloaded login */
    const struct route *route;
    struct wuser user;
    char sid[AUTH_SID_LEN + 1];
    json_t *body;
    const char *arg;
};

enum kind { K_API, K_PAGE, K_ASSET, K_PRINT };

static struct {
    const struct wenv *env;
    struct store *db;
    uv_loop_t *loop;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    int listener_open;
    uv_signal_t sigterm, sigint;
    int stopping;
    size_t conns, inflight, hashes;
    uv_timer_t idle;
    int idle_armed;
    uint64_t served, idle_seen;
    char usage_token[USAGE_TOKEN_LEN + 1]; /* "" when it cannot be derived */
} srv;

/* ---- responses -------------------------------------------------------------- */

#define ADD_HEADER(req, tok, v)                                                                    \
    h2o_add_header(&(req)->pool, &(req)->res.headers, (tok), NULL, H2O_STRLIT(v))
#define ADD_HEADER_STR(req, name, v)                                                               \
    h2o_add_header_by_str(&(req)->pool, &(req)->res.headers, H2O_STRLIT(name), 0, NULL,            \
                          H2O_STRLIT(v))

/* An answer made on a pool thread, sent later by the loop thread. */
struct reply {
    int status;
    const char *ctype; /* a literal */
    char *data;        /* malloc'd */
    size_t len;
    enum kind kind;
    long long retry_after;
    int www_authenticate;
};
static __thread struct reply *tls_reply;

static void send_bytes(h2o_req_t *req, int status, const char *ctype, const char *data, size_t len,
                       enum kind kind)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t buf = h2o_iovec_init(data, len);

    if (tls_reply != NULL) {
        struct reply *r = tls_reply;
        free(r->data);
        r->data = malloc(len > 0 ? len : 1);
        if (r->data == NULL) {
            r->status = 500;
            r->len = 0;
            return;
        }
        memcpy(r->data, data, len);
        r->status = status;
        r->ctype = ctype;
        r->len = len;
        r->kind = kind;
        return;
    }

    req->res.status = status;
    req->res.reason = http_reason(status);
    req->res.content_length = len;
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    ADD_HEADER_STR(req, "x-content-type-options", "nosniff");
    ADD_HEADER_STR(req, "x-frame-options", "DENY");
    ADD_HEADER_STR(req, "referrer-policy", "no-referrer");
    switch (kind) {
    case K_API:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; frame-ancestors 'none'");
        break;
    case K_PAGE:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
                       "script-src 'self'; object-src 'none'; base-uri 'none'; "
                       "form-action 'self'; frame-ancestors 'none'");
        break;
    case K_ASSET:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "public, max-age=3600");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; frame-ancestors 'none'");
        break;
    case K_PRINT:
        ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        ADD_HEADER_STR(req, "content-security-policy",
                       "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; "
                       "frame-ancestors 'none'");
        break;
    }
    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* The serialiser's output buffer, one per thread. */
#define SCRATCH_KEEP (64 * 1024)
static __thread struct {
    char *data;
    size_t len, cap;
} scratch;

static int scratch_add(const char *p, size_t n, void *unused)
{
    if (scratch.len + n > scratch.cap) {
        size_t cap = scratch.cap ? scratch.cap : 4096;
        while (cap < scratch.len + n)
            cap *= 2;
        char *d = realloc(scratch.data, cap);
        if (d == NULL)
            return -1;
        scratch.data = d;
        scratch.cap = cap;
    }
    memcpy(scratch.data + scratch.len, p, n);
    scratch.len += n;
    return 0;
}

/* Send a model result; takes ownership of w.body. */
static void send_wres(h2o_req_t *req, struct wres w)
{
    static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
    char *buf;
    size_t n;

    if (w.status == 204) {
        json_decref(w.body);
        send_bytes(req, 204, NULL, "", 0, K_API);
        return;
    }
    if (w.body == NULL) {
        send_bytes(req, w.status >= 400 ? w.status : 500, "application/json", oom, sizeof oom - 1,
                   K_API);
        return;
    }
    if (w.status == 429 || w.status == 503) {
        json_int_t after = json_integer_value(json_object_get(w.body, "retry_after"));
        if (tls_reply != NULL) {
            tls_reply->retry_after = after > 0 ? after : 1;
        } else {
            char *v = h2o_mem_alloc_pool(&req->pool, 24);
            int len = snprintf(v, 24, "%lld", (long long)(after > 0 ? after : 1));
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v,
                           (size_t)len);
        }
    }
    if (w.status == 401 && tls_reply != NULL)
        tls_reply->www_authenticate = 1;
    else if (w.status == 401)
        ADD_HEADER(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer");
    /* One pass of the serialiser into a scratch buffer kept for the
     * process, then one copy into the request's pool (json_dumpb would need
     * a first pass only to learn the size). */
    scratch.len = 0;
    if (json_dump_callback(w.body, scratch_add, NULL, WRES_JSON_FLAGS) != 0) {
        json_decref(w.body);
        send_bytes(req, 500, "application/json", oom, sizeof oom - 1, K_API);
        return;
    }
    json_decref(w.body);
    n = scratch.len;
    if (tls_reply != NULL) {
        send_bytes(req, w.status, "application/json", scratch.data, n, K_API);
        return;
    }
    buf = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(buf, scratch.data, n);
    if (scratch.cap > SCRATCH_KEEP) {
        /* A rare large answer (a long list) should not stay resident. */
        free(scratch.data);
        scratch.data = NULL;
        scratch.cap = 0;
    }
    send_bytes(req, w.status, "application/json", buf, n, K_API);
}

static void send_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    send_wres(req, wres_error(status, code, "%s", detail));
}

/* ---- routes ----------------------------------------------------------------- */

static struct wctx make_ctx(struct call *c)
{
    struct wctx ctx = {.db = srv.db, .env = srv.env, .now = time(NULL), .user = NULL};
    if (c->user.id > 0)
        ctx.user = &c->user;
    return ctx;
}

static void route_health(struct call *c)
{
    if (db_ping(srv.db) == 0)
        send_bytes(c->req, 200, "application/json", "{\"status\":\"ok\"}", 15, K_API);
    else
        send_error(c->req, 503, "unavailable", "the database does not answer");
}

static void route_page(struct call *c)
{
    struct pages_blob b;
    char name[PATH_MAX_LEN];

    snprintf(name, sizeof name, "%.*s", (int)c->req->path_normalized.len,
             c->req->path_normalized.base);
    if (pages_get(name, &b) < 0) {
        send_error(c->req, 404, "not_found", "no such page");
        return;
    }
    send_bytes(c->req, 200, b.content_type, b.data, b.len, strcmp(name, "/") ? K_ASSET : K_PAGE);
}

static void free_blob(void *p)
{
    free(*(void **)p);
}

static void route_static(struct call *c)
{
    struct pages_blob b;

    if (pages_static(c->arg, &b) < 0) {
        send_error(c->req, 404, "not_found", "no such file");
        return;
    }
    /* The buffer is freed with the request's pool, after it was sent. */
    void **holder = h2o_mem_alloc_shared(&c->req->pool, sizeof *holder, free_blob);
    *holder = (void *)b.data;
    send_bytes(c->req, 200, b.content_type, b.data, b.len, K_ASSET);
}

static void route_model(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    send_wres(c->req, c->route->model(&ctx, c->body, c->arg));
}

static void route_invoice_print(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    struct wres w = model_invoice_get(&ctx, NULL, c->arg);
    size_t len;
    char *html;

    if (w.status != 200) {
        send_wres(c->req, w);
        return;
    }
    html = pages_invoice(w.body, &len);
    json_decref(w.body);
    if (html == NULL) {
        send_error(c->req, 500, "internal", "out of memory");
        return;
    }
    if (tls_reply != NULL) { /* captured as a copy: the pool is the loop's */
        send_bytes(c->req, 200, "text/html; charset=utf-8", html, len, K_PRINT);
        free(html);
        return;
    }
    void **holder = h2o_mem_alloc_shared(&c->req->pool, sizeof *holder, free_blob);
    *holder = html;
    send_bytes(c->req, 200, "text/html; charset=utf-8", html, len, K_PRINT);
}

static void route_me(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    send_wres(c->req, auth_me(&ctx));
}

static void route_logout(struct call *c)
{
    if (auth_logout(c->sid) < 0)
        send_error(c->req, 500, "internal", "the session could not be revoked");
    else
        send_wres(c->req, wres_ok(204, NULL));
}

static void route_user_list(struct call *c)
{
    struct wctx ctx = make_ctx(c);
    send_wres(c->req, auth_user_list(&ctx));
}

/* The client's address for throttling. Behind the supervisor's nginx every
 * peer is loopback, so on a loopback peer the proxy's X-Real-IP is trusted
 * (only local processes can reach a worker bound to 127.0.0.1). */
static void peer_address(h2o_req_t *req, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    int loopback = 1;

    snprintf(out, n, "local");
    if (len > 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        uv_ip4_name(sin, out, n);
        loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(sin6, out, n);
        loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
    }
    if (loopback) {
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
    send_wres(j->c->req, res);
}

static void hash_done(uv_work_t *w, int status)
{
    srv.hashes--;
    hash_finish(w->data, status);
}

static struct hash_job *hash_job_new(struct call *c, int is_login)
{
    struct hash_job *j;

    if (tls_reply != NULL) { /* on a pool thread: the loop's pool is not ours */
        j = calloc(1, sizeof *j);
        if (j == NULL) {
            send_error(c->req, 500, "internal", "out of memory");
            return NULL;
        }
        j->c = c;
        j->is_login = is_login;
        j->work.data = j;
        return j;
    }
    if (srv.hashes >= HASH_QUEUE_MAX) {
        send_wres(c->req, wres_error(503, "busy", "too many logins at once, retry in a second"));
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
    if (tls_reply != NULL) { /* already on a pool thread: hash here */
        hash_work(&j->work);
        hash_finish(j, 0);
        free(j);
        return;
    }
    int r = uv_queue_work(srv.loop, &j->work, hash_work, hash_done);
    if (r < 0) {
        send_error(j->c->req, 500, "internal", "cannot queue work: %s", uv_strerror(r));
        return;
    }
    srv.hashes++;
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
        send_wres(c->req, res);
        if (tls_reply != NULL)
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
        send_wres(c->req, res);
        if (tls_reply != NULL)
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

    {"POST", "/api/analyses", R_AUTH | R_BODY, ADMIN | LAWYER, route_model, model_analysis_create},
    {"GET", "/api/analyses", R_AUTH | R_QUERY, ADMIN | LAWYER, route_model, model_analysis_list},
    {"GET", "/api/analyses/*", R_AUTH, ADMIN | LAWYER, route_model, model_analysis_get},
    {"POST", "/api/invoices", R_AUTH | R_BODY, ADMIN | LAWYER, route_model, model_invoice_create},
    {"GET", "/api/invoices", R_AUTH | R_QUERY, ANYONE, route_model, model_invoice_list},
    {"GET", "/api/invoices/*", R_AUTH, ANYONE, route_model, model_invoice_get},
    {"PATCH", "/api/invoices/*", R_AUTH | R_BODY, ADMIN | LAWYER, route_model,
     model_invoice_update},
    {"GET", "/api/invoices/*/print", R_AUTH, ANYONE, route_invoice_print, NULL},
    {"GET", "/api/deadlines/types", R_AUTH | R_QUERY, ANYONE, route_model, model_deadline_types},
    {"POST", "/api/deadlines", R_AUTH | R_BODY, ANYONE, route_model, model_deadline_create},
    {"GET", "/api/deadlines", R_AUTH | R_QUERY, ANYONE, route_model, model_deadline_list},
    {"GET", "/api/deadlines/*", R_AUTH, ANYONE, route_model, model_deadline_get},
    {"PATCH", "/api/deadlines/*", R_AUTH | R_BODY, ANYONE, route_model, model_deadline_update},
    {"GET", "/api/billing/usage", R_AUTH, ANYONE, route_model, model_billing_usage},
    {"GET", "/api/stats", R_AUTH, ADMIN, route_model, model_stats},

    /* For tenantd's status page, not for users: a session token is refused. */
    {"GET", "/internal/usage", R_TENANTD, 0, route_model, model_billing_usage},
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
        send_error(req, 401, "unauthorized", "an Authorization: Bearer token is required");
        return -1;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        send_error(req, 401, "unauthorized", "the Authorization header must be Bearer <token>");
        return -1;
    }
    r = auth_verify(v.base + 7, v.len - 7, time(NULL), &c->user, c->sid);
    if (r == -EACCES) {
        send_error(req, 401, "unauthorized", "the token is invalid, expired or revoked");
        return -1;
    }
    if (r < 0) {
        send_error(req, 500, "internal", "the session could not be checked");
        return -1;
    }
    if ((c->route->roles & (1u << c->user.role)) == 0) {
        send_error(req, 403, "forbidden", "the %s role may not %s %s; allowed: %s",
                   auth_role_name(c->user.role), c->route->method, c->route->pattern,
                   roles_text(c->route->roles));
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

    if (i >= 0 && srv.usage_token[0] != '\0') {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len == 8 + USAGE_TOKEN_LEN && strncasecmp(v.base, "Tenantd ", 8) == 0 &&
            sodium_memcmp(v.base + 8, srv.usage_token, USAGE_TOKEN_LEN) == 0)
            return 0;
    }
    send_error(req, 401, "unauthorized", "this route is for tenantd only");
    return -1;
}

static int parse_body(struct call *c)
{
    h2o_req_t *req = c->req;
    json_error_t jerr;
    ssize_t i;

    if (req->entity.len > HTTP_BODY_MAX) {
        send_error(req, 413, "too_large", "the body is larger than %d bytes", HTTP_BODY_MAX);
        return -1;
    }
    i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len < 16 || strncasecmp(v.base, "application/json", 16) != 0 ||
            (v.len > 16 && v.base[16] != ';' && v.base[16] != ' ')) {
            send_error(req, 415, "unsupported_media_type", "the body must be application/json");
            return -1;
        }
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        send_error(req, 400, "invalid_request", "a JSON object body is required");
        return -1;
    }
    c->body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (c->body == NULL) {
        send_error(req, 400, "bad_json", "line %d column %d: %s", jerr.line, jerr.column,
                   jerr.text);
        return -1;
    }
    if (!json_is_object(c->body)) {
        send_error(req, 400, "invalid_request", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

static void maybe_finish(void)
{
    if (srv.stopping && srv.inflight == 0 && srv.hashes == 0)
        uv_stop(srv.loop);
}

/*
 * Giving memory back when idle. A burst of requests leaves the heap grown
 * (connection buffers, SQLite's page cache, jansson's objects), and glibc
 * keeps freed memory for reuse; a tenant is idle most of the day, so once no
 * request has ended for IDLE_TRIM_MS the page cache is released and the heap
 * trimmed. The timer runs only while requests come in, plus one period
 * after the last one: an idle worker is never woken by it.
 */
#define IDLE_TRIM_MS 1000

static void on_idle(uv_timer_t *t)
{
    if (srv.served != srv.idle_seen || srv.inflight > 0) {
        srv.idle_seen = srv.served;
        uv_timer_start(t, on_idle, IDLE_TRIM_MS, 0);
        return;
    }
    srv.idle_armed = 0;
    store_trim(srv.db);
    malloc_trim(0);
}

/* Runs when h2o clears the request's pool: the request is over. */
static void call_dispose(void *p)
{
    struct call *c = p;
    json_decref(c->body);
    srv.inflight--;
    srv.served++;
    if (!srv.idle_armed && !srv.stopping) {
        srv.idle_armed = 1;
        srv.idle_seen = srv.served;
        uv_timer_start(&srv.idle, on_idle, IDLE_TRIM_MS, 0);
    }
    maybe_finish();
}

/* ---- requests on the thread pool ------------------------------------------ */

struct offload {
    uv_work_t work;
    struct call *c;
    struct reply reply;
};

/* The request's checks and route, as on_req() runs them, on a pool thread. */
static void offload_work(uv_work_t *w)
{
    struct offload *o = w->data;
    struct call *c = o->c;
    unsigned flags = c->route->flags;

    tls_reply = &o->reply;
    if ((!(flags & R_AUTH) || authenticate(c) == 0) &&
        (!(flags & R_TENANTD) || authenticate_tenantd(c) == 0) &&
        (!(flags & R_BODY) || parse_body(c) == 0))
        c->route->fn(c);
    /* A failure because the server is away is a 503 the client may retry,
     * whichever layer noticed it. */
    if (o->reply.status == 500 && store_unavailable(srv.db)) {
        struct wres u = wres_error(503, "unavailable", "the database cannot be reached; retry");
        if (u.body != NULL)
            json_object_set_new(u.body, "retry_after", json_integer(2));
        send_wres(c->req, u);
    }
    tls_reply = NULL;
}

static void offload_done(uv_work_t *w, int status)
{
    struct offload *o = w->data;
    struct reply *r = &o->reply;
    h2o_req_t *req = o->c->req;
    char *buf;

    if (status != 0 || r->status == 0) {
        free(r->data);
        send_error(req, 503, "unavailable", "the request was cancelled");
        return;
    }
    if (r->retry_after > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 24);
        int len = snprintf(v, 24, "%lld", r->retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)len);
    }
    if (r->www_authenticate)
        ADD_HEADER(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer");
    buf = h2o_mem_alloc_pool(&req->pool, r->len + 1);
    memcpy(buf, r->data, r->len);
    free(r->data);
    send_bytes(req, r->status, r->ctype, buf, r->len, r->kind);
}

/* Queue the rest of on_req() for the pool; 0, or -1 when it was answered. */
static void offload(struct call *c)
{
    struct offload *o = h2o_mem_alloc_pool(&c->req->pool, sizeof *o);
    int r;

    memset(o, 0, sizeof *o);
    o->c = c;
    o->work.data = o;
    peer_address(c->req, c->addr, sizeof c->addr);
    r = uv_queue_work(srv.loop, &o->work, offload_work, offload_done);
    if (r < 0)
        send_error(c->req, 503, "unavailable", "cannot queue the request: %s", uv_strerror(r));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct call *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, call_dispose);
    char path[PATH_MAX_LEN], method[8], allow[64];
    char *arg;
    const struct route *rt = NULL;
    int r;

    memset(c, 0, sizeof *c);
    c->req = req;
    srv.inflight++;

    if (req->path_normalized.len >= sizeof path) {
        send_error(req, 414, "uri_too_long", "the path is longer than %d bytes", PATH_MAX_LEN - 1);
        return 0;
    }
    memcpy(path, req->path_normalized.base, req->path_normalized.len);
    path[req->path_normalized.len] = '\0';
    snprintf(method, sizeof method, "%.*s", (int)req->method.len, req->method.base);
    /* HEAD is GET without the body; send_bytes drops it. */
    if (strcmp(method, "HEAD") == 0)
        strcpy(method, "GET");

    arg = h2o_mem_alloc_pool(&req->pool, PATH_MAX_LEN);
    r = route_find(method, path, arg, &rt, allow, sizeof allow);
    if (r == -ENOENT) {
        send_error(req, 404, "not_found", "no route for this path");
        return 0;
    }
    if (r == -EPERM) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
        send_error(req, 405, "method_not_allowed", "allowed here: %s", allow);
        return 0;
    }
    c->route = rt;
    c->arg = strchr(rt->pattern, '*') || (rt->flags & R_PREFIX) ? arg : NULL;
    if ((rt->flags & R_QUERY) && req->query_at != SIZE_MAX) {
        h2o_iovec_t q = h2o_strdup(&req->pool, req->path.base + req->query_at + 1,
                                   req->path.len - req->query_at - 1);
        c->arg = q.base;
    }
    if (store_offload(srv.db) && rt->fn != route_page && rt->fn != route_static) {
        offload(c);
        return 0;
    }
    /* An authenticated GET is read-only and answered at once: its session
     * check and its queries share one read transaction. */
    int read_txn = (rt->flags & (R_AUTH | R_TENANTD)) && strcmp(rt->method, "GET") == 0 &&
                   db_read_begin(srv.db) == 0;
    if ((rt->flags & R_AUTH) && authenticate(c) < 0)
        goto out;
    if ((rt->flags & R_TENANTD) && authenticate_tenantd(c) < 0)
        goto out;
    if ((rt->flags & R_BODY) && parse_body(c) < 0)
        goto out;
    rt->fn(c);
out:
    if (read_txn)
        db_read_end(srv.db);
    return 0;
}

/* ---- h2o's own errors ------------------------------------------------------------ */

/*
 * A few answers never reach on_req(): h2o writes them itself, in plain text,
 * before the handler runs. The one a client meets in practice is 413, for a
 * body over max_request_entity_size (announced by Content-Length, or grown
 * past it in chunks); 400 for broken chunked encoding and 417 for an unknown
 * Expect are the others. h2o sends them through the host's fallback path,
 * whose filters the handler's own answers never pass, so a filter there
 * rewrites each into the API's JSON error with the same headers as ours.
 * (A request line h2o cannot parse at all gets a fixed "400 Bad Request"
 * written straight to the socket: no filter sees it, and no client that
 * speaks HTTP sends one.)
 */
struct json_error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *inbufs,
                            size_t inbufcnt, h2o_send_state_t state)
{
    struct json_error_ostream *os = (struct json_error_ostream *)self;

    /* h2o's text is dropped; our body goes out with the final call. */
    if (h2o_send_state_is_in_progress(state))
        h2o_ostream_send_next(self, req, NULL, 0, state);
    else
        h2o_ostream_send_next(self, req, &os->body, 1, state);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const char *code, *detail;
    char buf[160];
    ssize_t i;

    switch (req->res.status) {
    case 413:
        code = "too_large";
        snprintf(buf, sizeof buf, "the body is larger than %d bytes", HTTP_BODY_MAX);
        detail = buf;
        break;
    case 400:
        code = "bad_request";
        detail = "the request is not valid HTTP/1.1 (broken body encoding?)";
        break;
    case 417:
        code = "expectation_failed";
        detail = "only Expect: 100-continue is understood";
        break;
    default:
        h2o_setup_next_ostream(req, slot);
        return;
    }
    struct json_error_ostream *os = (void *)h2o_add_ostream(req, sizeof *os, slot);
    char *text = h2o_mem_alloc_pool(&req->pool, 256);
    int n = snprintf(text, 256, "{\"error\":\"%s\",\"detail\":\"%s\"}", code, detail);
    os->body = h2o_iovec_init(text, (size_t)n);
    os->super.do_send = json_error_send;
    req->res.content_length = (size_t)n;
    i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0)
        req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
    else
        ADD_HEADER(req, H2O_TOKEN_CONTENT_TYPE, "application/json");
    ADD_HEADER(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    ADD_HEADER_STR(req, "x-content-type-options", "nosniff");
    ADD_HEADER_STR(req, "content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    h2o_setup_next_ostream(req, &os->super.next);
}

/* ---- connections and lifecycle --------------------------------------------- */

static void on_conn_close(uv_handle_t *h)
{
    free(h);
    srv.conns--;
}

static void on_accept(uv_stream_t *listener, int status)
{
    uv_stream_t *conn;
    int r;

    if (status != 0 || srv.stopping)
        return;
    if (listener->type == UV_NAMED_PIPE) {
        conn = malloc(sizeof(uv_pipe_t));
        if (conn == NULL)
            return;
        uv_pipe_init(srv.loop, (uv_pipe_t *)conn, 0);
    } else {
        conn = malloc(sizeof(uv_tcp_t));
        if (conn == NULL)
            return;
        uv_tcp_init(srv.loop, (uv_tcp_t *)conn);
    }
    r = uv_accept(listener, conn);
    if (r != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    if (listener->type == UV_TCP)
        uv_tcp_nodelay((uv_tcp_t *)conn, 1);
    srv.conns++;
    h2o_accept(&srv.accept_ctx, h2o_uv_socket_create(conn, on_conn_close));
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (srv.stopping)
        return;
    srv.stopping = 1;
    log_info(srv.env->client_id, "signal %d: stopping (%zu requests in flight)", signum,
             srv.inflight);
    sdnotify_send("STOPPING=1");
    if (srv.listener_open) {
        uv_close(&srv.listener.handle, NULL);
        srv.listener_open = 0;
    }
    srv.ctx.shutdown_requested = 1;
    uv_timer_stop(&srv.idle);
    srv.idle_armed = 1; /* no more trimming: the process is about to exit */
    maybe_finish();
}

/* The passed socket (LISTEN_FDS=1 for this pid) or our own on 127.0.0.1:PORT. */
static int open_listener(char *desc, size_t desclen)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    int r;

    if (fds != NULL && pid != NULL && strcmp(fds, "1") == 0 && atol(pid) == (long)getpid()) {
        int domain = 0;
        socklen_t dl = sizeof domain;
        /* The variables are for us only: children must not inherit them. */
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        if (getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) {
            log_error(srv.env->client_id, "LISTEN_FDS=1 but fd 3 is not a socket: %s",
                      strerror(errno));
            return -EINVAL;
        }
        if (domain == AF_UNIX) {
            uv_pipe_init(srv.loop, &srv.listener.pipe, 0);
            r = uv_pipe_open(&srv.listener.pipe, 3);
        } else {
            uv_tcp_init(srv.loop, &srv.listener.tcp);
            r = uv_tcp_open(&srv.listener.tcp, 3);
        }
        snprintf(desc, desclen, "the passed socket (fd 3)");
    } else {
        struct sockaddr_in sa;
        if (srv.env->port <= 0) {
            log_error(srv.env->client_id, "PORT: no port to bind and no socket passed");
            return -EINVAL;
        }
        uv_ip4_addr("127.0.0.1", srv.env->port, &sa);
        uv_tcp_init(srv.loop, &srv.listener.tcp);
        r = uv_tcp_bind(&srv.listener.tcp, (struct sockaddr *)&sa, 0);
        snprintf(desc, desclen, "127.0.0.1:%d", srv.env->port);
    }
    srv.listener_open = 1;
    if (r == 0)
        r = uv_listen(&srv.listener.stream, 1024, on_accept);
    if (r != 0) {
        log_error(srv.env->client_id, "cannot listen on %s: %s", desc, uv_strerror(r));
        return r;
    }
    return 0;
}

int http_run(const struct wenv *env, struct store *db)
{
    h2o_hostconf_t *host;
    h2o_handler_t *handler;
    char desc[64], status[128];
    int r;

    srv.env = env;
    if (usage_token(env->client_id, env->secret_key, srv.usage_token, sizeof srv.usage_token) < 0)
        srv.usage_token[0] = '\0';
    srv.db = db;
    srv.loop = uv_default_loop();

    /* h2o keeps up to 16 freed socket buffers (8-16 KiB each) for reuse; a
     * burst of connections would leave them all resident in an idle worker.
     * Two cover the keep-alive connection or two of a tenant's nginx. */
    if (h2o_socket_buffer_prototype.allocator.max > 2)
        h2o_socket_buffer_prototype.allocator.max = 2;
    h2o_config_init(&srv.config);
    srv.config.server_name = h2o_iovec_init(H2O_STRLIT("tenant-worker"));
    srv.config.max_request_entity_size = H2O_BODY_HARD_MAX;
    srv.config.http1.upgrade_to_http2 = 0;
    host = h2o_config_register_host(&srv.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    handler = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof *handler);
    handler->on_req = on_req;
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream =
        json_error_setup;
    h2o_context_init(&srv.ctx, srv.loop, &srv.config);
    srv.accept_ctx.ctx = &srv.ctx;
    srv.accept_ctx.hosts = srv.config.hosts;

    r = open_listener(desc, sizeof desc);
    if (r < 0)
        goto out;
    uv_timer_init(srv.loop, &srv.idle);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);

    log_info(env->client_id, "serving on %s", desc);
    snprintf(status, sizeof status, "READY=1\nSTATUS=serving on %s", desc);
    r = sdnotify_send(status);
    if (r < 0)
        log_warn(env->client_id, "NOTIFY_SOCKET: cannot send READY: %s", strerror(-r));

    uv_run(srv.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&srv.idle, NULL);
    uv_close((uv_handle_t *)&srv.sigterm, NULL);
    uv_close((uv_handle_t *)&srv.sigint, NULL);
    r = 0;
out:
    if (srv.listener_open)
        uv_close(&srv.listener.handle, NULL);
    uv_run(srv.loop, UV_RUN_NOWAIT);
    if (srv.conns == 0) {
        h2o_context_dispose(&srv.ctx);
        h2o_config_dispose(&srv.config);
    }
    free(scratch.data);
    scratch.data = NULL;
    scratch.cap = 0;
    log_info(env->client_id, "stopped (%zu idle connections closed)", srv.conns);
    return r;
}
