/*
 * worker.h — the shared vocabulary of tenant-worker, the firm's application.
 *
 * The worker is split in two layers so the business logic can be tested and
 * fuzzed without a network:
 *   - the HTTP layer (http*.c, worker_main.c, pages.c): h2o on the inherited
 *     socket, routing, authentication, static pages. It owns no business rule.
 *   - the model layer (model_*.c): one function per API operation, taking the
 *     parsed JSON body and the database, returning an HTTP status and a JSON
 *     value. No h2o, no sockets; a fuzzer drives it with an in-memory database.
 * Pure domain logic (VAT, invoice numbers, deadline rules, the analysis rule
 * model, usage and overage) lives below the model layer, with no I/O at all.
 */
#ifndef TENANT_WORKER_H
#define TENANT_WORKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The tenant's settings, read once from the environment (DESIGN.md "The worker
 * contract") by wenv_load() in env.c. Strings are owned by the struct. */
struct wenv {
    char *client_id, *client_name, *instance_name;
    char *siret, *address, *phone, *email, *logo, *color;
    char *plan, *plan_label;
    int max_users, max_cases, max_analysis_monthly;
    char *ai_model;
    double prediction_threshold;
    bool advanced_features;
    bool read_only; /* WORKER_READ_ONLY: writes are refused with 503 */
    char *data_dir, *secret_key, *templates_dir;
    char *language, *timezone;
    int port;
    int64_t plan_price_cents, plan_overage_cents;
    int password_cost;       /* 0 interactive, 1 moderate, 2 min */
    int64_t idle_after_ms;   /* IDLE_AFTER_MS: exit EXITCODE_IDLE after this long without a
                                request (scale to zero); 0 = never */
    int64_t storage_limit;   /* STORAGE_LIMIT_BYTES, 0 = none: caps the database */
    char *storage_full_file; /* STORAGE_FULL_FILE: present while over the limit, or NULL */
    enum { WDB_SQLITE = 0, WDB_POSTGRESQL } database; /* DATABASE_TYPE */
    char *postgresql_url;                             /* POSTGRESQL_URL, "" for sqlite */
};

/* The authenticated caller of a request, as the HTTP layer established it. */
enum wrole { ROLE_ADMIN = 0, ROLE_LAWYER, ROLE_ASSISTANT };
struct wuser {
    int64_t id;
    char username[64];
    enum wrole role;
};

/* What a model operation needs: the database (owned by the caller), the
 * tenant's settings and the current time (injected so tests are deterministic). */
struct store;
struct wctx {
    struct store *db; /* store.h */
    const struct wenv *env;
    time_t now;
    const struct wuser *user; /* NULL for unauthenticated operations */
    const char *address;      /* the client's address for the access log, or NULL */
};

/*
 * The result of a model operation: an HTTP status and a JSON body (owned,
 * may be NULL for 204). Errors are {"error": "<code>", "detail": "<sentence>"}
 * plus optional fields (e.g. "limit" for plan_limit); build them with
 * wres_error().
 */
struct wres {
    int status;
    json_t *body;
};
struct wres wres_ok(int status, json_t *body);

/*
 * How the worker writes JSON, in answers and in stored columns alike. jansson
 * prints a real with 17 significant digits by default, so 0.55 came out as
 * 0.55000000000000004; 15 digits is the most a double always round-trips in
 * decimal, which prints success rates (basis points / 10000) and euros
 * (cents / 100) exactly as computed: 0.55, 299.0. Amounts that must be exact
 * are integers in cents anyway (the *_cents fields).
 */
#define WRES_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
struct wres wres_error(int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
