/*
 * model_internal.h — what the model_*.c files share and nothing else uses:
 * the loaded rules, transactions, error results, time formatting and the
 * list parameters. Not part of the HTTP layer's contract (that is model.h).
 */
#ifndef TENANT_WORKER_MODEL_INTERNAL_H
#define TENANT_WORKER_MODEL_INTERNAL_H

#include "analysis_rules.h"
#include "deadline_rules.h"
#include "jsonv.h"
#include "model.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

/* The rules loaded by model_init(); NULL before (operations answer 503). */
struct model_rules {
    struct analysis_model analysis;
    struct deadline_rules deadlines;
};
const struct model_rules *model_rules_get(void);

/* 503 "unavailable" when model_init() did not succeed. */
struct wres model_unavailable(void);

/* Log the SQLite error of c->db with what was being done, and return a 500
 * whose detail does not leak it. */
struct wres model_db_error(const struct wctx *c, const char *what);

/* Transactions. model_begin takes the write lock at once (BEGIN IMMEDIATE)
 * so a read-then-write sequence cannot interleave with another writer. */
int model_begin(const struct wctx *c);
int model_commit(const struct wctx *c);
void model_rollback(const struct wctx *c);

/* A prepared statement for sql on c->db, from the connection's statement
 * cache (db.h); 0 or -EIO. Hand it back with model_release(), which resets a
 * cached statement and finalises any other; never store_release(). */
int model_prepare(const struct wctx *c, const char *sql, struct store_stmt **st);
void model_release(struct store_stmt *st);

/* Run a query that yields one integer (bound to an optional text parameter
 * ?1). 0 or -EIO. */
int model_scalar(const struct wctx *c, const char *sql, const char *text1, int64_t *out);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf (>= 21 bytes). */
void model_iso_time(time_t t, char *buf, size_t n);

/* A positive decimal database id from a path argument; -EINVAL otherwise. */
int model_parse_id(const char *arg, int64_t *id);

/* The limit/offset of a list: defaults 50 and 0, limit 1..200. */
#define MODEL_LIST_DEFAULT 50
#define MODEL_LIST_MAX 200
#define MODEL_OFFSET_MAX 1000000

/* json_t setters that ignore allocation failure of one field: the response
 * is then incomplete but well-formed, and the process is out of memory anyway. */
void model_set_str(json_t *o, const char *k, const char *v);
void model_set_int(json_t *o, const char *k, int64_t v);
void model_set_real(json_t *o, const char *k, double v);
void model_set_bool(json_t *o, const char *k, bool v);

/* A text column as a JSON string (NULL becomes null, invalid UTF-8 is
 * replaced by the empty string rather than failing the response). */
json_t *model_col_text(struct store_stmt *st, int col);

/* Euros from cents for the seed's JSON shapes (299.00). */
double model_euros(int64_t cents);

#endif
