/*
 * admin_internal.h — what the files of the admin surface share: the server
 * object, the per-connection record, and the response helpers. Not a public
 * contract: the rest of tenantd uses admin.h only.
 *
 *   admin.c         lifecycle: token, listeners, peer checks, graceful stop
 *   admin_routes.c  routing and the request handlers of the JSON API
 *   admin_state.c   state.db: desired states and the audit log
 *   admin_metrics.c GET /metrics rendering (pure)
 *   admin_onboard.c onboarding, offboarding, adding an admin account
 *   admin_wait.c    GET /v1/tenants/<id>?wait=<state>: a deferred answer
 *   admin_history.c GET /v1/tenants/<id>/history: the status page's charts
 */
#ifndef TENANTD_ADMIN_INTERNAL_H
#define TENANTD_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include <h2o.h>
#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "admin.h"
#include "admin_metrics.h"
#include "admin_state.h"
#include "config.h"

/* Request bodies larger than this are refused by h2o itself with 413. */
#define ADMIN_MAX_BODY (64 * 1024)

/* One accepted connection. The libuv handle comes first, so the close
 * callback h2o calls with the handle can find the record again. */
struct admin_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct admin *a;
    struct admin_conn *prev, *next;
    h2o_conn_t *h2o; /* the h2o connection served on it, to identify callers */
    bool over_unix;  /* unix socket: authenticated by the file mode */
    uid_t uid;       /* the peer's uid (unix socket only) */
};

/* Who made a request, for the audit log: "uid:N" or "token". */
struct admin_caller {
    bool over_unix;
    char who[32];
};

/* Our handler: one per listener, so the handler knows whether the bearer
 * token is required. */
struct admin_handler {
    h2o_handler_t super;
    struct admin *a;
    bool needs_token;
};

struct admin {
    uv_loop_t *loop;
    struct sup *sup;

    h2o_globalconf_t h2o_config;
    h2o_context_t h2o_ctx;
    bool ctx_ready;
    h2o_hostconf_t *hosts_unix[2], *hosts_tcp[2];
    h2o_accept_ctx_t accept_unix, accept_tcp;

    uv_pipe_t unix_listener;
    uv_tcp_t tcp_listener;
    bool unix_open, tcp_open;
    char socket_path[CONFIG_PATH_MAX];

    struct admin_conn *conns;
    size_t n_conns;

    /* The token is kept only as a keyed hash: comparing two digests of equal
     * length in constant time leaks neither the token nor its length. */
    unsigned char token_key[crypto_generichash_KEYBYTES];
    unsigned char token_digest[crypto_generichash_BYTES];

    struct admin_state *state; /* NULL when state.db cannot be opened */
    struct history *history;   /* NULL: history off or state.db unusable (history.h) */
    struct admin_counters counters;
    struct admin_onboard *onboards;    /* onboardings in progress */
    struct backup_sched *backup;       /* NULL: no backup route */
    struct proxy *proxy;               /* NULL: no proxy (admin_set_proxy) */
    struct admin_backup_wait *backups; /* requests waiting for their backup */
    struct admin_usage_wait *usages;   /* requests waiting for a worker's usage */
    struct billing_recorder *billing;  /* usage recorded periodically (admin_billing.c) */
    struct admin_wait *waits;          /* GET ?wait= requests waiting for a state */

    bool stopping;
    int closing; /* handles whose close callback is still due */
    uv_timer_t finish_timer;
    bool finish_timer_init;
    int finish_step;
    void (*done)(void *arg);
    void *done_arg;
};

/* The single request handler behind both listeners (admin_routes.c).
 * Returns 0: every request gets an answer, never h2o's default 404. */
int admin_route(struct admin *a, const struct admin_caller *who, h2o_req_t *req);

/* ---- the route table (admin_routes.c) ---------------------------------------- */

/* Who may call a route on the TCP listener: everything needs the bearer
 * token there but the dashboard page, which holds no data. The unix socket's
 * file mode authenticates every route. */
enum admin_auth { ADMIN_AUTH_TOKEN = 0, ADMIN_AUTH_NONE };

/* What a handler gets besides the request: its row, the tenant id of a '*'
 * segment (validated; "" when the pattern has none) and the raw query. */
struct admin_route;
struct admin_req {
    const struct admin_route *route;
    char id[CONFIG_ID_MAX];
    h2o_iovec_t query;
};
typedef void (*admin_route_fn)(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                               const struct admin_req *r);

/* One row of the table: a GET row also answers HEAD; '*' in the pattern is a
 * path segment holding a tenant id; arg is the handler's own (an action). */
struct admin_route {
    const char *method;
    const char *pattern;
    enum admin_auth auth;
    admin_route_fn fn;
    long arg;
};

/* GET /v1/tenants/<id>/cert, POST /v1/tenants/<id>/cert/renew (admin_cert.c). */
void admin_cert_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                    const struct admin_req *r);
void admin_cert_renew(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                      const struct admin_req *r);

/* The table, for its unit test and for the listing in the docs. */
size_t admin_route_count(void);
const struct admin_route *admin_route_at(size_t i); /* NULL past the end */

/*
 * Pure: the row for method and path (query ignored). Returns 0 and *out;
 * -EPERM when the path exists with other methods only, with allow holding
 * the Allow header's value ("GET, HEAD, POST"); -ENOENT when no row has
 * this path.
 */
int admin_route_find(const char *method, size_t mlen, const char *path, size_t plen,
                     const struct admin_route **out, char *allow, size_t allowlen);

/* Does this request go to a route served without the token (the page)? */
bool admin_route_public(h2o_req_t *req);

/* GET /v1/tenants/<id>?wait=<state>&timeout=<ms> (admin_wait.c): answered
 * once the tenant is in that state, or at the timeout; 400 for an unknown
 * state or a bad timeout. At stop, the ones still waiting are answered 503. */
void admin_wait_get(struct admin *a, h2o_req_t *req, const char *id, h2o_iovec_t query);
void admin_wait_abort_all(struct admin *a);

/* Send a complete response with Content-Length, Content-Type and
 * Cache-Control: no-store. The body is copied. */
void admin_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);
/* Send a JSON value and drop the reference (j may be NULL: then 500). */
void admin_send_json(h2o_req_t *req, int status, json_t *j);
/* Send {"error": error, "detail": detail}. */
void admin_send_error(h2o_req_t *req, int status, const char *error, const char *detail);

/* Record an action in the audit log (no-op without state.db). */
void admin_audit(struct admin *a, const struct admin_caller *who, const char *action,
                 const char *tenant, const char *result);

/* Onboarding and offboarding (admin_onboard.c). The POST handler may answer
 * later, once the new tenant is ready: it keeps the request until then. */
void admin_onboard_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req);
void admin_offboard(struct admin *a, const struct admin_caller *who, h2o_req_t *req, const char *id,
                    bool purge);
/* POST /v1/tenants/<id>/admins {"username"}: a new admin account in an
 * existing tenant, answered later like onboarding (admin_onboard.c). */
void admin_create_admin_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                             const char *id);
/* At stop: answer every pending onboarding with 503 and roll it back.
 * Returns the number still busy (child processes being waited for). */
size_t admin_onboard_abort_all(struct admin *a);

/* GET /v1/tenants/<id>/history?since= (admin_history.c). */
void admin_history_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r);

/* GET and POST /v1/upgrade (admin_upgrade.c): tenantd re-execs itself. */
void admin_upgrade_get(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const struct admin_req *r);
void admin_upgrade_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                        const struct admin_req *r);

/* During a stop: finish once every listener, connection and operation is
 * gone. Called by whatever closes the last of them. */
void admin_maybe_finish(struct admin *a);

/* POST /v1/tenants/<id>/backup (admin_routes.c), and answering the ones
 * still waiting when admin_stop runs. */
void admin_backup_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                       const char *id);
void admin_backup_abort_all(struct admin *a);

/* POST /v1/tenants/<id>/database {"type","reason"}: set [database] type in
 * the tenant's file, reload, audit as "migrate" (admin_database.c). */
void admin_database_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                         const char *id);
/* POST /v1/tenants/<id>/migration {"step","to","reason"}: a migration's copy
 * run in the tenant's jail and verified, or a note for the audit log
 * (admin_migrate.c). */
void admin_migration_post(struct admin *a, const struct admin_caller *who, h2o_req_t *req,
                          const char *id);

/* GET /v1/tenants/<id>/usage (admin_routes.c): the month's usage, asked from
 * the running worker (usage_fetch.h) and answered later; 409 when the tenant
 * is not running, 504 when the worker does not answer in time. At stop, the
 * ones still waiting are answered 503. */
void admin_usage_get(struct admin *a, h2o_req_t *req, const char *id);
void admin_usage_abort_all(struct admin *a);

/* admin_billing.c: the monthly statement per firm. admin_billing_record keeps
 * a worker's shape-checked usage in state.db; GET /v1/billing?month=YYYY-MM. */
void admin_billing_record(struct admin *a, const char *id, const json_t *usage);
void admin_billing_get(struct admin *a, h2o_req_t *req, h2o_iovec_t query);
bool admin_billing_month_valid(const char *month); /* "YYYY-MM", pure */
/* The periodic usage recorder ([tenantd] usage_record_every); start after
 * state.db is open, stop with the admin surface. */
int admin_billing_start(struct admin *a);
void admin_billing_stop(struct admin *a);

/* admin_alerts.c: GET /v1/alerts (alerts.h). */
void admin_alerts_get(struct admin *a, h2o_req_t *req);

/* The value of a query parameter, raw (not percent-decoded), into buf
 * (truncated to cap - 1); false when the key is absent (admin_routes.c). */
bool admin_query_get(h2o_iovec_t q, const char *key, char *buf, size_t cap);

/* admin_list.c: GET /v1/tenants, filtered and paged by the query string. */
void admin_list_tenants(struct admin *a, h2o_req_t *req, h2o_iovec_t query);

/* Is the Authorization header a valid bearer token? Constant time. */
bool admin_token_ok(const struct admin *a, h2o_req_t *req);

/* admin_openapi.c: the route table as an OpenAPI 3.1 document (new reference). */
json_t *admin_openapi(void);

/* admin_h2o_errors.c: h2o's own 413/400/417 answered as the API's JSON errors. */
void admin_json_errors_install(h2o_hostconf_t *host);

#endif
