/*
 * store.h — the worker's storage interface: the one place that knows which
 * database engine holds the firm's data.
 *
 * The model layer and auth.c speak SQL through this interface only; each
 * backend implements the same small statement API (prepare, bind, step, read
 * columns) plus transactions:
 *   - store_sqlite.c: the embedded default, DATA_DIR/<CLIENT_ID>.db, one
 *     connection used on the event-loop thread (db.c sets it up).
 *   - store_pg.c: PostgreSQL through libpq. A struct store is then a pool of
 *     connections, one per thread that uses it, opened on first use and
 *     reopened after a failure; the HTTP layer runs requests that touch the
 *     database on libuv's thread pool (store_offload()), so a slow query never
 *     stalls the event loop.
 * SQL is written once, in the dialect both engines share: parameters are
 * "?1".."?N" (translated to "$1".."$N" for PostgreSQL), types are INTEGER,
 * REAL and TEXT, upserts use ON CONFLICT. What differs lives in the backend:
 * the schema's column types (schema.c, schema_pg.c), the write lock
 * (store_begin_write), the last inserted id.
 *
 * Threads: a statement belongs to the thread that prepared it and must be
 * released on that thread before the thread uses the store for anything
 * that would need the same connection state across requests.
 */
#ifndef TENANT_WORKER_STORE_H
#define TENANT_WORKER_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_stmt;

/* store_step() results; any other result is a negative errno. */
enum { STORE_ROW = 100, STORE_DONE = 101 };

enum store_kind { STORE_SQLITE = 0, STORE_POSTGRESQL = 1 };

/* Retry-After, in seconds, of a 503 while the database cannot be reached. */
#define STORE_RETRY_AFTER_S 2

struct store_ops {
    enum store_kind kind;
    const char *name;
    int (*prepare)(struct store *s, const char *sql, struct store_stmt **out);
    void (*release)(struct store_stmt *st);
    void (*reset)(struct store_stmt *st);
    int (*bind_int64)(struct store_stmt *st, int i, int64_t v);
    int (*bind_double)(struct store_stmt *st, int i, double v);
    int (*bind_text)(struct store_stmt *st, int i, const char *v, int len);
    int (*bind_null)(struct store_stmt *st, int i);
    int (*step)(struct store_stmt *st);
    int64_t (*changes)(struct store_stmt *st);
    int64_t (*column_int64)(struct store_stmt *st, int col);
    double (*column_double)(struct store_stmt *st, int col);
    const char *(*column_text)(struct store_stmt *st, int col);
    int (*column_bytes)(struct store_stmt *st, int col);
    int64_t (*last_id)(struct store *s);
    int (*exec)(struct store *s, const char *sql);
    int (*begin_write)(struct store *s);
    int (*begin_snapshot)(struct store *s);
    int (*ids_follow)(struct store *s, const char *table); /* NULL: nothing to do */
    const char *text_order; /* appended to ORDER BY a text column for byte order */
    int (*in_txn)(struct store *s);
    const char *(*errmsg)(struct store *s);
    int (*unavailable)(struct store *s);
    int (*full)(struct store *s);
    void (*trim)(struct store *s);
    void (*close)(struct store *s);
};

/* Every backend's struct store and struct store_stmt start with this. */
struct store {
    const struct store_ops *ops;
};
struct store_stmt {
    const struct store_ops *ops;
};

/*
 * A statement for sql on s. Hand it back with store_release() whatever
 * happened. 0, or -EIO (*out is then NULL and store_errmsg() says why).
 */
int store_prepare(struct store *s, const char *sql, struct store_stmt **out);
void store_release(struct store_stmt *st);
/* Ready the statement to run again with new bindings. */
void store_reset(struct store_stmt *st);

/* Parameters count from 1, as "?1". Text is copied (len < 0: up to NUL). */
int store_bind_int64(struct store_stmt *st, int i, int64_t v);
int store_bind_double(struct store_stmt *st, int i, double v);
int store_bind_text(struct store_stmt *st, int i, const char *v);
int store_bind_textn(struct store_stmt *st, int i, const char *v, int len);
int store_bind_null(struct store_stmt *st, int i);

/* STORE_ROW (a row is readable), STORE_DONE, -EEXIST (a UNIQUE or PRIMARY
 * KEY constraint refused the row), or another negative errno. */
int store_step(struct store_stmt *st);
/* Rows the statement's last run inserted, updated or deleted. */
int64_t store_changes(struct store_stmt *st);

/* Columns count from 0. Text stays valid until the next step or release;
 * NULL when the value is SQL NULL. */
int64_t store_column_int64(struct store_stmt *st, int col);
double store_column_double(struct store_stmt *st, int col);
const char *store_column_text(struct store_stmt *st, int col);
int store_column_bytes(struct store_stmt *st, int col);

/* The id of the row the last INSERT of this thread's connection created. */
int64_t store_last_id(struct store *s);
/* Run sql (one or more statements, no parameters). 0 or -EIO. */
int store_exec(struct store *s, const char *sql);
/*
 * Start a write transaction that excludes every other writer of the firm's
 * database until it ends, as SQLite's BEGIN IMMEDIATE does: a read of
 * max(seq) inside it is still the max when the insert commits, so invoice
 * numbers have neither gaps nor duplicates on either backend.
 */
int store_begin_write(struct store *s);
/*
 * Start a read-only transaction that sees one snapshot of the whole database
 * until it ends (SQLite: a deferred BEGIN in WAL mode; PostgreSQL:
 * REPEATABLE READ), for reading every table consistently (dbcopy.c).
 */
int store_begin_snapshot(struct store *s);
/* After rows were inserted with explicit ids into table (a constant name):
 * make the next generated id larger than every id in it. 0 or -EIO. */
int store_ids_follow(struct store *s, const char *table);
/* What to append to "ORDER BY <text column>" so both engines order by the
 * bytes (PostgreSQL's default collation may be a locale's). */
const char *store_text_order(const struct store *s);
/* 1 inside a transaction, 0 outside. */
int store_in_txn(struct store *s);
/* The last error of this thread's connection, a sentence (never NULL). */
const char *store_errmsg(struct store *s);
/* 1 when the last failure of this thread's connection was a full database
 * (SQLite: SQLITE_FULL at max_page_count, the plan's storage limit, or a full
 * disk; PostgreSQL: the server's disk_full): the firm's 507, not a 500. */
int store_full(struct store *s);
/* 1 when the database server cannot be reached right now (answer 503). */
int store_unavailable(struct store *s);
/* 1 when queries may wait on a network round trip: run them off the loop. */
int store_offload(const struct store *s);
enum store_kind store_kind(const struct store *s);
const char *store_name(const struct store *s);
/* Give back cache memory while idle. */
void store_trim(struct store *s);
/* Close every connection; no statement may be in use. NULL is fine. */
void store_close(struct store *s);

/* A cheap query proving the database answers, for /healthz. 0 or -EIO. */
int store_ping(struct store *s);

#endif
