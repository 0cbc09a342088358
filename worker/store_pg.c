/*
 * store_pg.c — the PostgreSQL backend of the storage interface (store.h).
 *
 * A struct store here is a pool: each thread that touches it gets its own
 * connection (a thread-local pointer), opened on first use. The HTTP layer
 * runs database work on libuv's thread pool, so the pool holds at most one
 * connection per pool thread plus the main thread's (start-up, migrations).
 * A request runs start to end on one thread, so its transaction stays on one
 * connection.
 *
 * Statements are not prepared on the server: store_step() sends the SQL and
 * its parameters in one round trip (PQexecParams, text format, types left to
 * the server to infer from the context) and keeps the whole result, which
 * the caller then reads row by row. "?N" parameters are rewritten to "$N"
 * once, at store_prepare().
 *
 * Failure and recovery: before a connection is used outside a transaction,
 * any input waiting on it is read without blocking (PQconsumeInput); a
 * server that restarted or closed the connection is seen there and the
 * connection is reopened before the query, so a restart of the server costs
 * no request that comes after it. While the server cannot be reached,
 * queries fail at once and store_unavailable() is 1: the HTTP layer answers
 * 503 with Retry-After. A query that fails because the connection broke
 * while it ran is not retried (it may have committed): the caller gets the
 * error, the next request reconnects.
 *
 * The write lock: store_begin_write() takes a transaction-scoped advisory
 * lock after BEGIN. Every writer of the firm's database takes the same lock,
 * so writers are serialised as with SQLite's BEGIN IMMEDIATE and the model's
 * "max(seq) + 1" invoice numbering stays gap- and duplicate-free; readers
 * are never blocked (MVCC).
 */
#include "store_pg.h"

#include "pq_dl.h" /* libpq, loaded on first use: each PQ* call goes through it */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock every writer takes ("tenantdw" in ASCII). */
#define WRITE_LOCK_KEY "8387236816345856887"
#define PG_MAX_PARAMS 32
#define PG_CONNECT_TIMEOUT "3"

struct pgconn {
    PGconn *conn;
    char err[256];
    int down;
    int full; /* the last failure was the server's disk_full (SQLSTATE 53100) */
    struct pgconn *next;
};

struct pg_store {
    struct store base;
    uint64_t id; /* unique in the process: the key of the threads' connections */
    char *url;
    pthread_mutex_t lock; /* guards conns */
    struct pgconn *conns; /* every thread's, for store_close() */
};

struct pstmt {
    struct store_stmt base;
    struct pg_store *s;
    struct pgconn *pc;
    char *sql;
    int nparams;
    char *vals[PG_MAX_PARAMS];
    PGresult *res;
    int row, nrows;
    int oom; /* a parameter could not be copied: never run */
};

static const struct store_ops pg_ops;

static void on_notice(void *arg, const PGresult *res);

/*
 * The calling thread's connection to each store it uses, keyed by the store's
 * id (never reused, so an entry of a closed store never matches again). A
 * worker has one store; the copy tool (dbcopy.c) may have two. An entry
 * pushed out of the table stays on its store's list and is closed with it.
 */
#define TLS_SLOTS 4
static __thread struct {
    uint64_t id;
    struct pgconn *pc;
} tls[TLS_SLOTS];
static __thread unsigned tls_next;
static uint64_t next_store_id = 1; /* guarded by the caller: stores open on one thread */

static struct pgconn *tls_find(const struct pg_store *s)
{
    for (int i = 0; i < TLS_SLOTS; i++)
        if (tls[i].id == s->id)
            return tls[i].pc;
    return NULL;
}

static void tls_set(const struct pg_store *s, struct pgconn *pc)
{
    for (int i = 0; i < TLS_SLOTS; i++) {
        if (tls[i].id == 0) {
            tls[i].id = s->id;
            tls[i].pc = pc;
            return;
        }
    }
    tls[tls_next % TLS_SLOTS].id = s->id;
    tls[tls_next % TLS_SLOTS].pc = pc;
    tls_next++;
}

static void set_err(struct pgconn *pc, const char *what, const char *msg)
{
    size_t n;
    snprintf(pc->err, sizeof pc->err, "%s%s%s", what, what[0] ? ": " : "", msg ? msg : "");
    n = strlen(pc->err);
    while (n > 0 && (pc->err[n - 1] == '\n' || pc->err[n - 1] == ' '))
        pc->err[--n] = '\0';
}

/*
 * Messages that arrive while a connection is idle. Notices (a table that
 * exists already...) are not errors; a FATAL one is the server's goodbye
 * (a shutdown or a terminated backend) sent just before it closes the
 * connection, which libpq hands here rather than failing the connection:
 * note it, so the next use reconnects instead of failing once.
 */
static void on_notice(void *arg, const PGresult *res)
{
    struct pgconn *pc = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        pc->down = 1;
}

static void pg_connect(struct pg_store *s, struct pgconn *pc)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {s->url, PG_CONNECT_TIMEOUT, "tenant-worker", NULL};

    if (pc->conn != NULL)
        PQfinish(pc->conn);
    pc->conn = PQconnectdbParams(keys, vals, 1);
    if (pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK) {
        set_err(pc, "cannot connect", pc->conn ? PQerrorMessage(pc->conn) : "out of memory");
        pc->down = 1;
        return;
    }
    PQsetNoticeReceiver(pc->conn, on_notice, pc);
    /* The worker's own text formats: ISO dates, UTF-8, and no surprise from
     * a server whose defaults differ. */
    PQclear(PQexec(pc->conn, "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO'"));
    pc->down = 0;
    pc->err[0] = '\0';
}

/* This thread's connection, reopened when the server went away. */
static struct pgconn *conn_get(struct pg_store *s)
{
    struct pgconn *pc = tls_find(s);

    if (pc == NULL) {
        pc = calloc(1, sizeof *pc);
        if (pc == NULL)
            return NULL;
        pthread_mutex_lock(&s->lock);
        pc->next = s->conns;
        s->conns = pc;
        pthread_mutex_unlock(&s->lock);
        tls_set(s, pc);
        pg_connect(s, pc);
        return pc;
    }
    if (pc->conn != NULL && PQstatus(pc->conn) == CONNECTION_OK &&
        PQtransactionStatus(pc->conn) == PQTRANS_IDLE) {
        /* Notices and a server's goodbye wait here unread: read them without
         * blocking, and let libpq parse them (PQisBusy), which calls
         * on_notice(). */
        if (!PQconsumeInput(pc->conn))
            pc->down = 1;
        else
            (void)PQisBusy(pc->conn);
        if (PQstatus(pc->conn) != CONNECTION_OK)
            pc->down = 1;
    }
    if (pc->conn == NULL || pc->down || PQstatus(pc->conn) != CONNECTION_OK)
        pg_connect(s, pc);
    return pc;
}

/* After a failed call (res: its result, or NULL): note a broken connection so
 * the next one reconnects, and a full disk. */
static void note_failure(struct pgconn *pc, const char *what, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    pc->full = state != NULL && strcmp(state, "53100") == 0;
    set_err(pc, what, PQerrorMessage(pc->conn));
    if (PQstatus(pc->conn) != CONNECTION_OK)
        pc->down = 1;
}

/* "?N" to "$N" outside quotes; the number of parameters in *n. */
static char *translate(const char *sql, int *n)
{
    size_t len = strlen(sql);
    char *out = malloc(len + 1), *o = out;
    char quote = 0;

    *n = 0;
    if (out == NULL)
        return NULL;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?' && p[1] >= '1' && p[1] <= '9') {
            int v = (int)strtol(p + 1, NULL, 10);
            if (v > *n)
                *n = v;
            *o++ = '$';
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int p_prepare(struct store *base, const char *sql, struct store_stmt **out)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pgconn *pc = conn_get(s);
    struct pstmt *st;

    if (pc == NULL)
        return -ENOMEM;
    if (pc->down)
        return -EIO;
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->sql = translate(sql, &st->nparams);
    if (st->sql == NULL || st->nparams > PG_MAX_PARAMS) {
        set_err(pc, "", st->sql == NULL ? "out of memory" : "too many parameters");
        free(st->sql);
        free(st);
        return -EIO;
    }
    st->base.ops = &pg_ops;
    st->s = s;
    st->pc = pc;
    st->row = -1;
    *out = &st->base;
    return 0;
}

static void p_reset(struct store_stmt *b)
{
    struct pstmt *st = (struct pstmt *)b;
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
    st->nrows = 0;
}

static void p_release(struct store_stmt *b)
{
    struct pstmt *st = (struct pstmt *)b;
    p_reset(b);
    for (int i = 0; i < PG_MAX_PARAMS; i++)
        free(st->vals[i]);
    free(st->sql);
    free(st);
}

/* Keep parameter i's text (NULL: SQL NULL). A copy that failed (v NULL
 * where a value was given: out of memory) must not become a NULL: the
 * parameter is then poisoned and the statement refuses to run. */
static int set_val(struct store_stmt *b, int i, char *v)
{
    struct pstmt *st = (struct pstmt *)b;
    if (i < 1 || i > st->nparams) {
        free(v);
        return -ERANGE;
    }
    free(st->vals[i - 1]);
    st->vals[i - 1] = v;
    return 0;
}

static int set_copy(struct store_stmt *b, int i, char *copy)
{
    if (copy == NULL) {
        ((struct pstmt *)b)->oom = 1;
        return -ENOMEM;
    }
    return set_val(b, i, copy);
}

static int p_bind_int64(struct store_stmt *b, int i, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return set_copy(b, i, strdup(buf));
}

static int p_bind_double(struct store_stmt *b, int i, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return set_copy(b, i, strdup(buf));
}

static int p_bind_text(struct store_stmt *b, int i, const char *v, int len)
{
    return set_copy(b, i, len < 0 ? strdup(v) : strndup(v, (size_t)len));
}

static int p_bind_null(struct store_stmt *b, int i)
{
    return set_val(b, i, NULL);
}

static int p_step(struct store_stmt *b)
{
    struct pstmt *st = (struct pstmt *)b;

    if (st->res == NULL) {
        if (st->oom) {
            set_err(st->pc, "", "out of memory");
            return -ENOMEM;
        }
        if (st->pc->down || PQstatus(st->pc->conn) != CONNECTION_OK) {
            st->pc->down = 1;
            return -EIO;
        }
        st->res = PQexecParams(st->pc->conn, st->sql, st->nparams, NULL,
                               (const char *const *)st->vals, NULL, NULL, 0);
        switch (PQresultStatus(st->res)) {
        case PGRES_TUPLES_OK:
            st->nrows = PQntuples(st->res);
            break;
        case PGRES_COMMAND_OK:
            st->nrows = 0;
            break;
        default: {
            const char *state = PQresultErrorField(st->res, PG_DIAG_SQLSTATE);
            int unique = state != NULL && strcmp(state, "23505") == 0;
            note_failure(st->pc, "", st->res);
            PQclear(st->res);
            st->res = NULL;
            return unique ? -EEXIST : -EIO;
        }
        }
    }
    st->row++;
    return st->row < st->nrows ? STORE_ROW : STORE_DONE;
}

static int64_t p_changes(struct store_stmt *b)
{
    struct pstmt *st = (struct pstmt *)b;
    return st->res != NULL ? strtoll(PQcmdTuples(st->res), NULL, 10) : 0;
}

static const char *value(struct store_stmt *b, int col)
{
    struct pstmt *st = (struct pstmt *)b;
    if (st->res == NULL || st->row < 0 || st->row >= st->nrows || col < 0 ||
        col >= PQnfields(st->res) || PQgetisnull(st->res, st->row, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

static int64_t p_column_int64(struct store_stmt *b, int col)
{
    const char *v = value(b, col);
    if (v == NULL)
        return 0;
    /* A boolean or a real read as an integer, as SQLite would. */
    if (v[0] == 't' || v[0] == 'f')
        return v[0] == 't';
    if (strpbrk(v, ".eE") != NULL)
        return (int64_t)strtod(v, NULL);
    return strtoll(v, NULL, 10);
}

static double p_column_double(struct store_stmt *b, int col)
{
    const char *v = value(b, col);
    return v != NULL ? strtod(v, NULL) : 0.0;
}

static const char *p_column_text(struct store_stmt *b, int col)
{
    return value(b, col);
}

static int p_column_bytes(struct store_stmt *b, int col)
{
    struct pstmt *st = (struct pstmt *)b;
    return value(b, col) != NULL ? PQgetlength(st->res, st->row, col) : 0;
}

static int p_exec(struct store *base, const char *sql)
{
    struct pgconn *pc = conn_get((struct pg_store *)base);
    PGresult *r;
    int ok;

    if (pc == NULL || pc->down)
        return -EIO;
    r = PQexec(pc->conn, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        note_failure(pc, "", r);
    PQclear(r);
    return ok ? 0 : -EIO;
}

static int64_t p_last_id(struct store *base)
{
    struct pgconn *pc = conn_get((struct pg_store *)base);
    PGresult *r;
    int64_t id = 0;

    if (pc == NULL || pc->down)
        return 0;
    r = PQexec(pc->conn, "SELECT lastval()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        note_failure(pc, "", r);
    PQclear(r);
    return id;
}

static int p_begin_write(struct store *base)
{
    return p_exec(base, "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")");
}

static int p_begin_snapshot(struct store *base)
{
    return p_exec(base, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

/* After rows were inserted with their ids: the identity's next value comes
 * after the largest id, as SQLite's rowid does by itself. */
static int p_ids_follow(struct store *base, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('%s', 'id'), coalesce(max(id), 0) + 1, false)"
             " FROM %s",
             table, table);
    return p_exec(base, sql);
}

static int p_in_txn(struct store *base)
{
    struct pgconn *pc = tls_find((struct pg_store *)base);
    return pc != NULL && pc->conn != NULL && PQtransactionStatus(pc->conn) != PQTRANS_IDLE &&
           PQtransactionStatus(pc->conn) != PQTRANS_UNKNOWN;
}

static const char *p_errmsg(struct store *base)
{
    struct pgconn *pc = tls_find((struct pg_store *)base);
    return pc != NULL && pc->err[0] ? pc->err : "no error";
}

static int p_full(struct store *base)
{
    struct pgconn *pc = tls_find((struct pg_store *)base);
    return pc != NULL && pc->full;
}

static int p_unavailable(struct store *base)
{
    struct pgconn *pc = tls_find((struct pg_store *)base);
    return pc == NULL || pc->down || pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK;
}

/*
 * Idle (the HTTP layer calls this on the loop thread once requests stop):
 * close the calling thread's connection. The loop thread opened one for the
 * migrations and never queries again (requests run on the pool), so this
 * gives the server back one connection per worker; a later use reconnects.
 */
static void p_trim(struct store *base)
{
    struct pgconn *pc = tls_find((struct pg_store *)base);

    if (pc == NULL || pc->conn == NULL || PQtransactionStatus(pc->conn) != PQTRANS_IDLE)
        return;
    PQfinish(pc->conn);
    pc->conn = NULL;
}

static void p_close(struct store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pgconn *pc = s->conns, *next;

    for (; pc != NULL; pc = next) {
        next = pc->next;
        PQfinish(pc->conn);
        free(pc);
    }
    for (int i = 0; i < TLS_SLOTS; i++)
        if (tls[i].id == s->id)
            tls[i].id = 0;
    pthread_mutex_destroy(&s->lock);
    free(s->url);
    free(s);
}

static const struct store_ops pg_ops = {
    .kind = STORE_POSTGRESQL,
    .name = "postgresql",
    .prepare = p_prepare,
    .release = p_release,
    .reset = p_reset,
    .bind_int64 = p_bind_int64,
    .bind_double = p_bind_double,
    .bind_text = p_bind_text,
    .bind_null = p_bind_null,
    .step = p_step,
    .changes = p_changes,
    .column_int64 = p_column_int64,
    .column_double = p_column_double,
    .column_text = p_column_text,
    .column_bytes = p_column_bytes,
    .last_id = p_last_id,
    .exec = p_exec,
    .begin_write = p_begin_write,
    .begin_snapshot = p_begin_snapshot,
    .ids_follow = p_ids_follow,
    .text_order = " COLLATE \"C\"",
    .in_txn = p_in_txn,
    .errmsg = p_errmsg,
    .unavailable = p_unavailable,
    .full = p_full,
    .trim = p_trim,
    .close = p_close,
};

int store_pg_open(const char *url, struct store **out, char *err, size_t errlen)
{
    struct pg_store *s = calloc(1, sizeof *s);
    struct pgconn *pc;

    *out = NULL;
    if (pq_dl_load(err, errlen) != 0) {
        free(s);
        return -EIO;
    }
    if (s == NULL || (s->url = strdup(url)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->base.ops = &pg_ops;
    s->id = __atomic_fetch_add(&next_store_id, 1, __ATOMIC_RELAXED);
    pthread_mutex_init(&s->lock, NULL);
    pc = conn_get(s);
    if (pc == NULL || pc->down) {
        snprintf(err, errlen, "%s", pc != NULL ? pc->err : "out of memory");
        p_close(&s->base);
        return pc != NULL ? -EIO : -ENOMEM;
    }
    *out = &s->base;
    return 0;
}
